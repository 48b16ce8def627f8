/* train.c: the forward and backward passes over a packed batch.
 *
 * Shapes: N = B*T positions (the passes run over the N' <= N live ones:
 * padding, a position alone in its segment with no loss, is skipped), D
 * model width, H query heads and Hkv key/value heads of hd values,
 * q | k | v rows of width W = Q + 2K
 * (Q = H hd, K = Hkv hd), F MLP width, V vocab, M = positions whose target
 * is scored (mask != 0).  The output head and the loss are computed only
 * on those M rows: positions with mask 0 add nothing to the loss or its
 * gradient, so skipping them is exact, and in agent data (loss on actions
 * only) it saves most of the head's cost.
 *
 * The layers' forward pass is nn/layer.c's, shared with inference; the
 * backward pass is here.  Frozen weights (no trainable buffer) have no
 * gradients: without adapters the backward refuses them; with adapters
 * attached (m->lora) the base is frozen whatever its dtype, no weight
 * gradient of it is computed, and only what flows through it (dx) is.
 *
 * Activation checkpointing (m->checkpoint): only the residual stream
 * entering each layer is kept; the backward pass recomputes a layer's
 * intermediates from it just before that layer's backward.  The
 * recomputation is the forward's own code on the same threads, so the
 * gradients are the same bits as without it.
 */
#include "nn_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

void eef_acts_free(eef_acts *a)
{
    if (!a) return;
    eef_free_aligned(a->res);
    eef_free_aligned(a->logits);
    free(a->rows);
    free(a->src);
    free(a->live_tok);
    free(a->live_pos);
    rope_table_free(&a->rope);
    free(a);
}

/* All activations but the logits live in one aligned buffer; returns its
 * size in floats and, when base is not NULL, points the views into it.
 * The per-layer tensors hold Lk = L layers, or one with checkpointing. */
static size_t acts_layout(eef_acts *a, const eef_model_config *c, float *base)
{
    const nn_heads s = nn_heads_of(c);
    size_t N = (size_t)a->N, D = (size_t)c->d_model, L = (size_t)c->n_layers,
           H = (size_t)c->n_heads, F = (size_t)c->d_ff, W = (size_t)heads_w(&s),
           Q = (size_t)heads_q(&s), NH = H + (size_t)s.Hkv;
    size_t Lk = a->ckpt ? 1 : L;
    size_t QD = Q > D ? Q : D; /* datt doubles as [M, D] scratch */
    size_t qn = c->qk_norm ? 1 : 0, R = (size_t)a->lora_rank, U = (size_t)a->lora_slots * R;
    struct {
        float **p;
        size_t n;
    } t[] = {
        { &a->res, (L + 1) * N * D }, { &a->xn1, Lk * N * D },  { &a->rstd1, Lk * N },
        { &a->qkv, Lk * N * W },      { &a->lse, Lk * N * H },  { &a->att, Lk * N * Q },
        { &a->x2, Lk * N * D },       { &a->xn2, Lk * N * D },  { &a->rstd2, Lk * N },
        { &a->h13, Lk * N * 2 * F },  { &a->hact, Lk * N * F }, { &a->rstdf, N },
        { &a->xf, N * D },            { &a->dres, N * D },
        { &a->dxn, N * D },           { &a->dqkv, N * W },      { &a->datt, N * QD },
        { &a->dh13, N * 2 * F },      { &a->dhact, N * F },     { &a->dxf, N * D },
        { &a->qkv_pre, qn * Lk * N * W }, { &a->qk_rstd, qn * Lk * N * NH },
        { &a->dqkv_pre, qn * N * W }, { &a->lora_u, Lk * N * U }, { &a->dlora, N * U },
    };
    size_t off = 0;
    for (size_t i = 0; i < EEF_ARRAY_LEN(t); i++) {
        if (base) *t[i].p = t[i].n ? base + off : NULL;
        off += (t[i].n + 15) & ~(size_t)15; /* keep every view 64-byte aligned */
    }
    return off;
}

size_t nn_acts_floats(const eef_model_config *c, int N, int ckpt, int lora_slots, int lora_rank)
{
    eef_acts a = { .N = N, .ckpt = ckpt, .lora_slots = lora_slots, .lora_rank = lora_rank };
    return acts_layout(&a, c, NULL);
}

static eef_err acts_ensure(eef_model *m, int B, int T)
{
    eef_acts *a = m->acts;
    const int ckpt = m->checkpoint != 0;
    const int slots = m->lora ? __builtin_popcount(m->lora->cfg.targets) : 0;
    const int rank = m->lora ? m->lora->cfg.rank : 0;
    if (a && a->N >= B * T && a->T >= T && a->ckpt == ckpt && a->lora_slots == slots &&
        a->lora_rank == rank) {
        a->B = B, a->T = T;
        return EEF_OK;
    }
    eef_acts_free(a);
    m->acts = a = eef_calloc(1, sizeof *a);
    if (!a) return EEF_ENOMEM;
    a->B = B, a->T = T, a->N = B * T;
    a->ckpt = ckpt, a->lora_slots = slots, a->lora_rank = rank;
    size_t n = acts_layout(a, &m->cfg, NULL);
    float *base = eef_alloc_aligned(n * sizeof(float));
    acts_layout(a, &m->cfg, base);
    a->rows = eef_malloc((size_t)a->N * sizeof(int));
    a->src = eef_malloc((size_t)a->N * sizeof(int));
    a->live_tok = eef_malloc((size_t)a->N * sizeof(int));
    a->live_pos = eef_malloc((size_t)a->N * sizeof(int));
    if (!base || !a->rows || !a->src || !a->live_tok || !a->live_pos) {
        a->res = base; /* what eef_acts_free releases */
        eef_acts_free(a);
        m->acts = NULL;
        return EEF_ENOMEM;
    }
    /* positions count from 0 inside a row of T */
    const eef_model_config *c = &m->cfg;
    eef_err e = rope_table_init(&a->rope, T < c->max_ctx ? T : c->max_ctx, c);
    if (e) {
        eef_acts_free(a);
        m->acts = NULL;
        return e;
    }
    return EEF_OK;
}

/* The logits buffer holds the scored rows only: it grows to the largest
 * number of them a batch has had. */
static eef_err logits_ensure(eef_acts *a, int M, int V)
{
    if (M <= a->logits_rows) return EEF_OK;
    eef_free_aligned(a->logits);
    a->logits = eef_alloc_aligned((size_t)M * V * sizeof(float));
    a->logits_rows = a->logits ? M : 0;
    return a->logits ? EEF_OK : EEF_ENOMEM;
}

static eef_err check_batch(const eef_model *m, const eef_batch *b)
{
    size_t N = (size_t)b->B * b->T;
    for (size_t i = 0; i < N; i++) {
        if (b->tokens[i] < 0 || b->tokens[i] >= m->cfg.vocab || b->targets[i] < 0 ||
            b->targets[i] >= m->cfg.vocab)
            return eef_fail(EEF_EINVAL, "batch position %zu: token id out of range [0, %d)", i,
                            m->cfg.vocab);
        if (b->pos[i] < 0 || b->pos[i] >= m->cfg.max_ctx)
            return eef_fail(EEF_EINVAL, "batch position %zu: position %d beyond context %d", i,
                            b->pos[i], m->cfg.max_ctx);
        if (b->pos[i] > 0 && (i % (size_t)b->T == 0 || b->pos[i] != b->pos[i - 1] + 1))
            return eef_fail(EEF_EINVAL, "batch position %zu: positions must count up from 0 "
                            "inside a segment", i);
        if (!(b->mask[i] >= 0.0f) || !isfinite(b->mask[i]))
            return eef_fail(EEF_EINVAL, "batch position %zu: bad mask value", i);
    }
    return EEF_OK;
}

/* The training attention: inside the batch's segments, keeping the
 * log-sum-exps of layer l for the backward pass. */
typedef struct {
    nn_attn base;
    eef_acts *a;
    nn_heads s;
} train_attn;

static eef_err train_attention(const nn_attn *att, int l, const float *qkv, float *out)
{
    const train_attn *t = (const train_attn *)att;
    const eef_acts *a = t->a;
    float *lse = a->lse + (size_t)(a->ckpt ? 0 : l) * a->n_live * t->s.H;
    return attention_forward(out, lse, qkv, a->live_pos, 1, a->n_live, &t->s);
}

/* Layer l's slices of the activations, for a batch of n positions (the
 * buffers may have been sized for a larger one: layers are n apart); with
 * checkpointing every layer uses the one slot. */
static nn_layer_buf layer_buf(const eef_acts *a, const eef_model_config *c, int l, int n)
{
    const nn_heads s = nn_heads_of(c);
    if (a->ckpt) l = 0;
    const size_t U = (size_t)a->lora_slots * a->lora_rank;
    const size_t N = (size_t)n, D = (size_t)c->d_model, F = (size_t)c->d_ff,
                 W = (size_t)heads_w(&s), Q = (size_t)heads_q(&s), NH = (size_t)(s.H + s.Hkv);
    nn_layer_buf b = {
        .xn1 = a->xn1 + l * N * D,     .rstd1 = a->rstd1 + l * N, .qkv = a->qkv + l * N * W,
        .att = a->att + l * N * Q,     .x2 = a->x2 + l * N * D,   .xn2 = a->xn2 + l * N * D,
        .rstd2 = a->rstd2 + l * N,     .h13 = a->h13 + l * N * 2 * F,
        .hact = a->hact + l * N * F,
        .qkv_pre = a->qkv_pre ? a->qkv_pre + l * N * W : NULL,
        .qk_rstd = a->qk_rstd ? a->qk_rstd + l * N * NH : NULL,
        .lora_u = a->lora_u ? a->lora_u + l * N * U : NULL,
    };
    return b;
}

/* Padding: position i alone in its segment (the next one starts a row or a
 * segment) and scored with weight 0.  Its output reaches nothing. */
static int is_padding(const eef_batch *b, int i)
{
    return b->pos[i] == 0 && b->mask[i] == 0.0f &&
           (i % b->T == b->T - 1 || b->pos[i + 1] == 0);
}

/* The live positions of batch b (every one when all are wanted), at least
 * one so that the passes have a shape. */
static void gather_live(eef_acts *a, const eef_batch *b, int all)
{
    int n = 0;
    for (int i = 0; i < b->B * b->T; i++) {
        if (!all && is_padding(b, i) && !(n == 0 && i == b->B * b->T - 1)) continue;
        a->src[n] = i, a->live_tok[n] = b->tokens[i], a->live_pos[n] = b->pos[i];
        n++;
    }
    a->n_live = n;
}

eef_err eef_model_forward(eef_model *m, const eef_batch *b, float *logits_out, double *loss)
{
    EEF_TRY(check_batch(m, b));
    EEF_TRY(acts_ensure(m, b->B, b->T));
    eef_acts *a = m->acts;
    const eef_model_config *c = &m->cfg;
    const int D = c->d_model, V = c->vocab, L = c->n_layers;
    a->batch = b;
    a->have_forward = 0;
    gather_live(a, b, logits_out != NULL);
    const int N = a->n_live;

    nn_embed(m, a->live_tok, N, a->res);
    train_attn att = { { train_attention }, a, nn_heads_of(c) };
    for (int l = 0; l < L; l++) {
        size_t ND = (size_t)N * D;
        nn_layer_buf lb = layer_buf(a, c, l, N);
        EEF_TRY(nn_layer_forward(m, l, N, a->res + l * ND, a->res + (l + 1) * ND, a->live_pos,
                                 &a->rope, &lb, &att.base));
    }

    /* rows whose output is needed, gathered: xg = final residual rows */
    a->M = 0;
    for (int n = 0; n < N; n++)
        if (logits_out || b->mask[a->src[n]] != 0.0f) a->rows[a->M++] = n;
    const int M = a->M;
    EEF_TRY(logits_ensure(a, M, V));
    float *xfin = a->res + (size_t)L * N * D;
    float *xg = a->dxn; /* scratch until backward: gathered final residual rows */
#pragma omp parallel for schedule(static)
    for (int r = 0; r < M; r++)
        memcpy(xg + (size_t)r * D, xfin + (size_t)a->rows[r] * D, D * sizeof(float));
    EEF_TRY(nn_head_forward(m, xg, M, a->xf, a->rstdf, a->logits));

    /* per-row losses, then summed in row order: an OpenMP reduction would
     * add the threads' partial sums in arrival order, and the loss that
     * is logged must not depend on scheduling */
    float *nll = a->dxf; /* scratch until backward */
#pragma omp parallel for schedule(static)
    for (int r = 0; r < M; r++) {
        int n = a->src[a->rows[r]];
        const float *lg = a->logits + (size_t)r * V;
        nll[r] = b->mask[n] == 0.0f ? 0.0f : nn_logsumexp(lg, V) - lg[b->targets[n]];
    }
    double lsum = 0.0, msum = 0.0;
    for (int r = 0; r < M; r++) {
        float w = b->mask[a->src[a->rows[r]]];
        lsum += (double)w * nll[r];
        msum += w;
    }
    a->mask_sum = msum;
    if (loss) *loss = msum > 0 ? lsum / msum : 0.0;
    if (logits_out) memcpy(logits_out, a->logits, (size_t)N * V * sizeof(float));
    a->have_forward = 1;
    return EEF_OK;
}

/* The backward of a projection x [w0 | w1 | ...]^T: dx (overwritten) and,
 * for weights that are one block of the trainable buffer, their gradient
 * block dw.  Frozen weights (dw NULL) may lie anywhere. */
static eef_err project_backward(float *dx, float *dw, const float *dy, int ldy, const float *x,
                                int ldx, const eef_tensor *const *w, int n, int N)
{
    eef_tensor joined;
    if (nn_tensor_join(w, n, &joined))
        return nn_matmul_backward(dx, ldx, dw, dy, ldy, x, ldx, &joined, N, 0);
    if (dw) return eef_fail(EEF_ESTATE, "backward: projection weights are not one trainable block");
    for (int i = 0, col = 0; i < n; col += w[i]->rows, i++)
        EEF_TRY(nn_matmul_backward(dx, ldx, NULL, dy + col, ldy, x, ldx, w[i], N, i > 0));
    return EEF_OK;
}

/* The adapters of targets t0..t1 (columns cols[t - t0] of dy): their
 * gradients, and their share of dx (added). */
static eef_err adapt_backward(eef_lora *ad, eef_acts *a, const nn_layer_buf *lb, int l, int t0,
                              int t1, const int *cols, float *dx, int ldx, const float *dy,
                              int ldy, const float *x, int N)
{
    if (!ad) return EEF_OK;
    return nn_lora_backward(ad, l, t0, t1, cols, dx, ldx, dy, ldy, x, ldx, lb->lora_u, a->dlora, N);
}

/* A gradient view, or NULL when the base is not trained. */
static float *gv(int full, float *base, size_t off)
{
    return full && base ? base + off : NULL;
}

/* After a forward pass: out[n] = log p(targets[n]) at every position n of
 * the batch with mask != 0, 0 elsewhere ([B*T]).  Call before the backward
 * pass, which reuses the buffer these are kept in. */
eef_err eef_model_token_logprobs(const eef_model *m, float *out)
{
    const eef_acts *a = m->acts;
    if (!a || !a->have_forward) return eef_fail(EEF_ESTATE, "log-probs without a forward pass");
    const eef_batch *b = a->batch;
    memset(out, 0, (size_t)b->B * b->T * sizeof(float));
    for (int r = 0; r < a->M; r++) {
        int n = a->src[a->rows[r]];
        if (b->mask[n] != 0.0f) out[n] = -a->dxf[r];
    }
    return EEF_OK;
}

static eef_err backward(eef_model *m, float scale, const float *coef);

eef_err eef_model_backward(eef_model *m, float scale) { return backward(m, scale, NULL); }

/* ADDS d(sum_n coef[n] log p(targets[n]))/d(params), over the positions
 * with mask != 0 (objectives on sequence log-probs: nn/dpo.c). */
eef_err eef_model_backward_weighted(eef_model *m, const float *coef)
{
    return backward(m, 1.0f, coef);
}

static eef_err backward(eef_model *m, float scale, const float *coef)
{
    eef_acts *a = m->acts;
    if (!a || !a->have_forward) return eef_fail(EEF_ESTATE, "backward without a forward pass");
    eef_lora *ad = m->lora;
    const int full = ad == NULL; /* else the base is frozen: only the adapters learn */
    if (full) EEF_TRY(eef_model_ensure_grads(m));
    const eef_batch *b = a->batch;
    const eef_model_config *c = &m->cfg;
    const nn_heads s = nn_heads_of(c);
    const int N = a->n_live, D = c->d_model, F = c->d_ff, V = c->vocab, hd = c->head_dim;
    const int L = c->n_layers, M = a->M, W = heads_w(&s), Q = heads_q(&s), K = heads_k(&s);
    const size_t ND = (size_t)N * D;
    const eef_weights *g = &m->g;
    const int qkv_cols[3] = { 0, Q, Q + K }, mlp_cols[2] = { 0, F }, none[1] = { 0 };
    a->have_forward = 0; /* logits are overwritten by their gradient below */

    /* d loss / d logits = w (softmax - onehot) * scale / sum(w); with
     * coefficients c on log p, w = -c */
    float norm = a->mask_sum > 0 ? (float)(scale / a->mask_sum) : 0.0f;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < M; r++) {
        int n = a->src[a->rows[r]];
        float w = coef ? (b->mask[n] != 0.0f ? -coef[n] : 0.0f) : b->mask[n] * norm;
        float *lg = a->logits + (size_t)r * V;
        if (w == 0.0f) {
            memset(lg, 0, (size_t)V * sizeof(float));
            continue;
        }
        nn_vec.exp_shift_scale(lg, V, nn_logsumexp(lg, V), w);
        lg[b->targets[n]] -= w;
    }
    /* head and final norm, on the gathered rows */
    float *xg = a->dxn;
    float *xfin = a->res + (size_t)L * ND;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < M; r++)
        memcpy(xg + (size_t)r * D, xfin + (size_t)a->rows[r] * D, D * sizeof(float));
    EEF_TRY(nn_matmul_backward(a->dxf, D, gv(full, g->head, 0), a->logits, V, a->xf, D, &m->head,
                               M, 0));
    memset(a->dres, 0, ND * sizeof(float));
    float *dxg = a->datt; /* scratch: [M, D] */
    memset(dxg, 0, (size_t)M * D * sizeof(float));
    rmsnorm_backward(dxg, gv(full, g->out_norm, 0), a->dxf, xg, a->rstdf, m->out_norm, M, D);
#pragma omp parallel for schedule(static)
    for (int r = 0; r < M; r++)
        memcpy(a->dres + (size_t)a->rows[r] * D, dxg + (size_t)r * D, D * sizeof(float));

    train_attn att = { { train_attention }, a, s };
    for (int l = L - 1; l >= 0; l--) {
        const eef_layer_weights *w = &m->layer[l];
        nn_layer_buf lb = layer_buf(a, c, l, N);
        const float *x = a->res + l * ND;
        /* checkpointing: the layer's intermediates again, from its input
         * (the same code and threads: the same bits); the last layer's
         * are still there from the forward pass */
        if (a->ckpt && l < L - 1)
            EEF_TRY(nn_layer_forward(m, l, N, x, a->dxn, a->live_pos, &a->rope, &lb, &att.base));
        /* MLP: dres is d/dx3 and, through the residual, part of d/dx2 */
        EEF_TRY(nn_matmul_backward(a->dhact, F, gv(full, g->w2, (size_t)l * D * F), a->dres, D,
                                   lb.hact, F, &w->w2, N, 0));
        EEF_TRY(adapt_backward(ad, a, &lb, l, EEF_LORA_DOWN, EEF_LORA_DOWN, none, a->dhact, F,
                               a->dres, D, lb.hact, N));
        swiglu_backward(a->dh13, a->dhact, lb.h13, N, F);
        const eef_tensor *mlp_w[2] = { &w->w1, &w->w3 };
        EEF_TRY(project_backward(a->dxn, gv(full, g->w13, (size_t)l * 2 * F * D), a->dh13, 2 * F,
                                 lb.xn2, D, mlp_w, 2, N));
        EEF_TRY(adapt_backward(ad, a, &lb, l, EEF_LORA_GATE, EEF_LORA_UP, mlp_cols, a->dxn, D,
                               a->dh13, 2 * F, lb.xn2, N));
        rmsnorm_backward(a->dres, gv(full, g->mlp_norm, (size_t)l * D), a->dxn, lb.x2, lb.rstd2,
                         w->mlp_norm, N, D);
        /* attention: dres is now d/dx2 */
        EEF_TRY(nn_matmul_backward(a->datt, Q, gv(full, g->wo, (size_t)l * D * Q), a->dres, D,
                                   lb.att, Q, &w->wo, N, 0));
        EEF_TRY(adapt_backward(ad, a, &lb, l, EEF_LORA_O, EEF_LORA_O, none, a->datt, Q, a->dres,
                               D, lb.att, N));
        EEF_TRY(attention_backward(a->dqkv, a->datt, lb.qkv, lb.att,
                                   a->lse + (size_t)(a->ckpt ? 0 : l) * N * s.H, a->live_pos, 1,
                                   N, &s));
        rope_apply(a->dqkv, a->live_pos, N, &s, &a->rope, -1);
        float *dproj = a->dqkv;
        if (c->qk_norm) {
            head_norm_backward(a->dqkv_pre, gv(full, g->q_norm, (size_t)l * hd),
                               gv(full, g->k_norm, (size_t)l * hd), a->dqkv, lb.qkv_pre,
                               lb.qk_rstd, w->q_norm, w->k_norm, N, &s);
            dproj = a->dqkv_pre;
        }
        if (c->qkv_bias && full) bias_backward(g->bqkv + (size_t)l * W, dproj, N, W);
        const eef_tensor *qkv_w[3] = { &w->wq, &w->wk, &w->wv };
        EEF_TRY(project_backward(a->dxn, gv(full, g->wqkv, (size_t)l * W * D), dproj, W, lb.xn1,
                                 D, qkv_w, 3, N));
        EEF_TRY(adapt_backward(ad, a, &lb, l, EEF_LORA_Q, EEF_LORA_V, qkv_cols, a->dxn, D, dproj,
                               W, lb.xn1, N));
        rmsnorm_backward(a->dres, gv(full, g->attn_norm, (size_t)l * D), a->dxn, x, lb.rstd1,
                         w->attn_norm, N, D);
    }
    if (!full) return EEF_OK; /* the embedding is frozen */

    /* embedding: scatter-add rows; columns split over threads so that each
     * gradient element is summed by one thread in position order */
#pragma omp parallel
    {
        int lo, hi;
        nn_my_cols(D, &lo, &hi);
        for (int n = 0; n < N; n++) {
            float *gw = g->wte + (size_t)a->live_tok[n] * D;
            const float *d = a->dres + (size_t)n * D;
            for (int i = lo; i < hi; i++) gw[i] += d[i];
        }
    }
    return EEF_OK;
}

/* train.c: the forward and backward passes over a packed batch.
 *
 * Shapes: N = B*T positions, D model width, H heads, F MLP width, V vocab,
 * M = positions whose target is scored (mask != 0).  The output head and
 * the loss are computed only on those M rows: positions with mask 0 add
 * nothing to the loss or its gradient, so skipping them is exact, and in
 * agent data (loss on actions only) it saves most of the head's cost.
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
    free(a->rows);
    rope_table_free(&a->rope);
    free(a);
}

/* All activations live in one aligned buffer; returns its size in floats
 * and, when base is not NULL, points the views into it. */
static size_t acts_layout(eef_acts *a, const eef_model_config *c, float *base)
{
    size_t N = (size_t)a->N, D = (size_t)c->d_model, L = (size_t)c->n_layers,
           H = (size_t)c->n_heads, F = (size_t)c->d_ff, V = (size_t)c->vocab;
    struct {
        float **p;
        size_t n;
    } t[] = {
        { &a->res, (L + 1) * N * D }, { &a->xn1, L * N * D },   { &a->rstd1, L * N },
        { &a->qkv, L * N * 3 * D },   { &a->lse, L * N * H },   { &a->att, L * N * D },
        { &a->x2, L * N * D },        { &a->xn2, L * N * D },   { &a->rstd2, L * N },
        { &a->h13, L * N * 2 * F },   { &a->hact, L * N * F },  { &a->rstdf, N },
        { &a->xf, N * D },            { &a->logits, N * V },    { &a->dres, N * D },
        { &a->dxn, N * D },           { &a->dqkv, N * 3 * D },  { &a->datt, N * D },
        { &a->dh13, N * 2 * F },      { &a->dhact, N * F },     { &a->dxf, N * D },
    };
    size_t off = 0;
    for (size_t i = 0; i < EEF_ARRAY_LEN(t); i++) {
        if (base) *t[i].p = base + off;
        off += (t[i].n + 15) & ~(size_t)15; /* keep every view 64-byte aligned */
    }
    return off;
}

static eef_err acts_ensure(eef_model *m, int B, int T)
{
    eef_acts *a = m->acts;
    if (a && a->N >= B * T && a->T >= T) {
        a->B = B, a->T = T;
        return EEF_OK;
    }
    eef_acts_free(a);
    m->acts = a = eef_calloc(1, sizeof *a);
    if (!a) return EEF_ENOMEM;
    a->B = B, a->T = T, a->N = B * T;
    size_t n = acts_layout(a, &m->cfg, NULL);
    float *base = eef_alloc_aligned(n * sizeof(float));
    a->rows = eef_malloc((size_t)a->N * sizeof(int));
    if (!base || !a->rows) {
        eef_free_aligned(base);
        m->acts = NULL;
        free(a->rows);
        free(a);
        return EEF_ENOMEM;
    }
    acts_layout(a, &m->cfg, base);
    const eef_model_config *c = &m->cfg;
    eef_err e = rope_table_init(&a->rope, c->max_ctx, c->d_model / c->n_heads, c->rope_theta);
    if (e) {
        eef_acts_free(a);
        m->acts = NULL;
        return e;
    }
    return EEF_OK;
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

eef_err eef_model_forward(eef_model *m, const eef_batch *b, float *logits_out, double *loss)
{
    EEF_TRY(check_batch(m, b));
    EEF_TRY(acts_ensure(m, b->B, b->T));
    eef_acts *a = m->acts;
    const eef_model_config *c = &m->cfg;
    const int N = b->B * b->T, D = c->d_model, H = c->n_heads, F = c->d_ff, V = c->vocab;
    const int L = c->n_layers;
    a->batch = b;
    a->have_forward = 0;

    /* embedding */
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        memcpy(a->res + (size_t)n * D, m->w.wte + (size_t)b->tokens[n] * D, D * sizeof(float));

    for (int l = 0; l < L; l++) {
        size_t ND = (size_t)N * D;
        float *x = a->res + l * ND, *xn1 = a->xn1 + l * ND, *qkv = a->qkv + l * ND * 3;
        float *att = a->att + l * ND, *x2 = a->x2 + l * ND, *xn2 = a->xn2 + l * ND;
        float *h13 = a->h13 + (size_t)l * N * 2 * F, *hact = a->hact + (size_t)l * N * F;
        float *xo = a->res + (l + 1) * ND;
        rmsnorm_forward(xn1, a->rstd1 + (size_t)l * N, x, m->w.attn_norm + (size_t)l * D, N, D,
                        c->norm_eps);
        mm_forward(qkv, xn1, m->w.wqkv + (size_t)l * 3 * D * D, N, D, 3 * D);
        rope_apply(qkv, b->pos, N, D, H, &a->rope, +1);
        EEF_TRY(attention_forward(att, a->lse + (size_t)l * N * H, qkv, b->pos, b->B, b->T, D, H));
        mm_forward(x2, att, m->w.wo + (size_t)l * D * D, N, D, D);
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < ND; i++) x2[i] += x[i];
        rmsnorm_forward(xn2, a->rstd2 + (size_t)l * N, x2, m->w.mlp_norm + (size_t)l * D, N, D,
                        c->norm_eps);
        mm_forward(h13, xn2, m->w.w13 + (size_t)l * 2 * F * D, N, D, 2 * F);
        swiglu_forward(hact, h13, N, F);
        mm_forward(xo, hact, m->w.w2 + (size_t)l * D * F, N, F, D);
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < ND; i++) xo[i] += x2[i];
    }

    /* rows whose output is needed, gathered: xg = final residual rows */
    a->M = 0;
    for (int n = 0; n < N; n++)
        if (logits_out || b->mask[n] != 0.0f) a->rows[a->M++] = n;
    const int M = a->M;
    float *xfin = a->res + (size_t)L * N * D;
    float *xg = a->dxn; /* scratch until backward: gathered final residual rows */
#pragma omp parallel for schedule(static)
    for (int r = 0; r < M; r++)
        memcpy(xg + (size_t)r * D, xfin + (size_t)a->rows[r] * D, D * sizeof(float));
    rmsnorm_forward(a->xf, a->rstdf, xg, m->w.out_norm, M, D, c->norm_eps);
    mm_forward(a->logits, a->xf, m->w.head, M, D, V);

    /* per-row losses, then summed in row order: an OpenMP reduction would
     * add the threads' partial sums in arrival order, and the loss that
     * is logged must not depend on scheduling */
    float *nll = a->dxf; /* scratch until backward */
#pragma omp parallel for schedule(static)
    for (int r = 0; r < M; r++) {
        int n = a->rows[r];
        const float *lg = a->logits + (size_t)r * V;
        nll[r] = b->mask[n] == 0.0f ? 0.0f : nn_logsumexp(lg, V) - lg[b->targets[n]];
    }
    double lsum = 0.0, msum = 0.0;
    for (int r = 0; r < M; r++) {
        float w = b->mask[a->rows[r]];
        lsum += (double)w * nll[r];
        msum += w;
    }
    a->mask_sum = msum;
    if (loss) *loss = msum > 0 ? lsum / msum : 0.0;
    if (logits_out) memcpy(logits_out, a->logits, (size_t)N * V * sizeof(float));
    a->have_forward = 1;
    return EEF_OK;
}

eef_err eef_model_backward(eef_model *m, float scale)
{
    eef_acts *a = m->acts;
    if (!a || !a->have_forward) return eef_fail(EEF_ESTATE, "backward without a forward pass");
    EEF_TRY(eef_model_ensure_grads(m));
    const eef_batch *b = a->batch;
    const eef_model_config *c = &m->cfg;
    const int N = b->B * b->T, D = c->d_model, H = c->n_heads, F = c->d_ff, V = c->vocab;
    const int L = c->n_layers, M = a->M;
    const size_t ND = (size_t)N * D;
    a->have_forward = 0; /* logits are overwritten by their gradient below */

    /* d loss / d logits = w (softmax - onehot) * scale / sum(w) */
    float norm = a->mask_sum > 0 ? (float)(scale / a->mask_sum) : 0.0f;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < M; r++) {
        int n = a->rows[r];
        float w = b->mask[n] * norm;
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
    mm_backward(a->dxf, m->g.head, a->logits, a->xf, m->w.head, M, D, V);
    memset(a->dres, 0, ND * sizeof(float));
    float *dxg = a->datt; /* scratch: [M, D] */
    memset(dxg, 0, (size_t)M * D * sizeof(float));
    rmsnorm_backward(dxg, m->g.out_norm, a->dxf, xg, a->rstdf, m->w.out_norm, M, D);
#pragma omp parallel for schedule(static)
    for (int r = 0; r < M; r++)
        memcpy(a->dres + (size_t)a->rows[r] * D, dxg + (size_t)r * D, D * sizeof(float));

    for (int l = L - 1; l >= 0; l--) {
        float *x = a->res + l * ND, *xn1 = a->xn1 + l * ND, *qkv = a->qkv + l * ND * 3;
        float *att = a->att + l * ND, *x2 = a->x2 + l * ND, *xn2 = a->xn2 + l * ND;
        float *h13 = a->h13 + (size_t)l * N * 2 * F, *hact = a->hact + (size_t)l * N * F;
        /* MLP: dres is d/dx3 and, through the residual, part of d/dx2 */
        mm_backward(a->dhact, m->g.w2 + (size_t)l * D * F, a->dres, hact,
                    m->w.w2 + (size_t)l * D * F, N, F, D);
        swiglu_backward(a->dh13, a->dhact, h13, N, F);
        mm_backward(a->dxn, m->g.w13 + (size_t)l * 2 * F * D, a->dh13, xn2,
                    m->w.w13 + (size_t)l * 2 * F * D, N, D, 2 * F);
        rmsnorm_backward(a->dres, m->g.mlp_norm + (size_t)l * D, a->dxn, x2, a->rstd2 + (size_t)l * N,
                         m->w.mlp_norm + (size_t)l * D, N, D);
        /* attention: dres is now d/dx2 */
        mm_backward(a->datt, m->g.wo + (size_t)l * D * D, a->dres, att, m->w.wo + (size_t)l * D * D,
                    N, D, D);
        EEF_TRY(attention_backward(a->dqkv, a->datt, qkv, att, a->lse + (size_t)l * N * H, b->pos,
                                   b->B, b->T, D, H));
        rope_apply(a->dqkv, b->pos, N, D, H, &a->rope, -1);
        mm_backward(a->dxn, m->g.wqkv + (size_t)l * 3 * D * D, a->dqkv, xn1,
                    m->w.wqkv + (size_t)l * 3 * D * D, N, D, 3 * D);
        rmsnorm_backward(a->dres, m->g.attn_norm + (size_t)l * D, a->dxn, x, a->rstd1 + (size_t)l * N,
                         m->w.attn_norm + (size_t)l * D, N, D);
    }

    /* embedding: scatter-add rows; columns split over threads so that each
     * gradient element is summed by one thread in position order */
#pragma omp parallel
    {
#ifdef _OPENMP
        int nth = omp_get_num_threads(), tid = omp_get_thread_num();
#else
        int nth = 1, tid = 0;
#endif
        int lo = (int)((long)D * tid / nth), hi = (int)((long)D * (tid + 1) / nth);
        for (int n = 0; n < N; n++) {
            float *gw = m->g.wte + (size_t)b->tokens[n] * D;
            const float *d = a->dres + (size_t)n * D;
            for (int i = lo; i < hi; i++) gw[i] += d[i];
        }
    }
    return EEF_OK;
}

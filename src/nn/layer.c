/* layer.c: the transformer's forward pass, one layer at a time, shared by
 * training (nn/train.c, which keeps every intermediate for the backward
 * pass) and inference with a KV cache (nn/infer.c, which reuses one set of
 * buffers).  What differs between the two is the attention, passed in as
 * a callback; everything around it is here, once.
 *
 * Shapes: N rows, D model width, F MLP width, q | k | v rows of width
 * W = Q + 2K (nn_internal.h). */
#include "nn_internal.h"

#include <stdlib.h>
#include <string.h>

/* y [N, rows of w0..wn] = x w^T, one product when the weights lie one
 * after the other (eef's fused q|k|v and gate|up), else one each into
 * their columns of y. */
static eef_err project(float *y, int ldy, const float *x, int ldx, const eef_tensor *const *w,
                       int n, int N)
{
    eef_tensor joined;
    if (nn_tensor_join(w, n, &joined)) return nn_matmul(y, ldy, x, ldx, &joined, N);
    for (int i = 0, col = 0; i < n; col += w[i]->rows, i++)
        EEF_TRY(nn_matmul(y + col, ldy, x, ldx, w[i], N));
    return EEF_OK;
}

/* Adds the attached adapters of targets t0..t1 (columns cols[t - t0] of
 * y) to a projection of x. */
static eef_err adapt(const eef_lora *a, int l, int t0, int t1, const int *cols, float *y, int ldy,
                     const float *x, int ldx, int N, float *u)
{
    return a ? nn_lora_forward(a, l, t0, t1, cols, y, ldy, x, ldx, N, u) : EEF_OK;
}

static eef_err layer_forward(const eef_model *m, int l, int N, const float *x, float *out,
                             const int *pos, const rope_table *rope, const nn_layer_buf *b,
                             const nn_attn *att, float *u)
{
    const eef_model_config *c = &m->cfg;
    const eef_layer_weights *w = &m->layer[l];
    const eef_lora *ad = m->lora;
    const nn_heads s = nn_heads_of(c);
    const int D = c->d_model, F = c->d_ff, W = heads_w(&s), Q = heads_q(&s), K = heads_k(&s);
    const size_t ND = (size_t)N * D;
    const int qkv_cols[3] = { 0, Q, Q + K }, mlp_cols[2] = { 0, F }, none[1] = { 0 };
    /* attention block */
    rmsnorm_forward(b->xn1, b->rstd1, x, w->attn_norm, N, D, c->norm_eps);
    float *proj = c->qk_norm ? b->qkv_pre : b->qkv;
    const eef_tensor *qkv_w[3] = { &w->wq, &w->wk, &w->wv };
    EEF_TRY(project(proj, W, b->xn1, D, qkv_w, 3, N));
    EEF_TRY(adapt(ad, l, EEF_LORA_Q, EEF_LORA_V, qkv_cols, proj, W, b->xn1, D, N, u));
    if (w->bqkv) bias_forward(proj, w->bqkv, N, W);
    if (c->qk_norm) head_norm_forward(b->qkv, b->qk_rstd, proj, w->q_norm, w->k_norm, N, &s, c->norm_eps);
    rope_apply(b->qkv, pos, N, &s, rope, +1);
    EEF_TRY(att->run(att, l, b->qkv, b->att));
    EEF_TRY(nn_matmul(b->x2, D, b->att, Q, &w->wo, N));
    EEF_TRY(adapt(ad, l, EEF_LORA_O, EEF_LORA_O, none, b->x2, D, b->att, Q, N, u));
    float *x2 = b->x2;
#pragma omp parallel for schedule(static) if (N >= 8)
    for (size_t i = 0; i < ND; i++) x2[i] += x[i];
    /* MLP block */
    rmsnorm_forward(b->xn2, b->rstd2, x2, w->mlp_norm, N, D, c->norm_eps);
    const eef_tensor *mlp_w[2] = { &w->w1, &w->w3 };
    EEF_TRY(project(b->h13, 2 * F, b->xn2, D, mlp_w, 2, N));
    EEF_TRY(adapt(ad, l, EEF_LORA_GATE, EEF_LORA_UP, mlp_cols, b->h13, 2 * F, b->xn2, D, N, u));
    swiglu_forward(b->hact, b->h13, N, F);
    EEF_TRY(nn_matmul(out, D, b->hact, F, &w->w2, N));
    EEF_TRY(adapt(ad, l, EEF_LORA_DOWN, EEF_LORA_DOWN, none, out, D, b->hact, F, N, u));
#pragma omp parallel for schedule(static) if (N >= 8)
    for (size_t i = 0; i < ND; i++) out[i] += x2[i];
    return EEF_OK;
}

eef_err nn_layer_forward(const eef_model *m, int l, int N, const float *x, float *out,
                         const int *pos, const rope_table *rope, const nn_layer_buf *b,
                         const nn_attn *att)
{
    const eef_lora *ad = m->lora;
    if (!ad || b->lora_u) return layer_forward(m, l, N, x, out, pos, rope, b, att, b->lora_u);
    /* adapters outside training (the KV cache): their x A^T in a scratch */
    int slots = __builtin_popcount(ad->cfg.targets);
    float *u = eef_malloc((size_t)slots * N * ad->cfg.rank * sizeof(float));
    if (!u) return EEF_ENOMEM;
    eef_err e = layer_forward(m, l, N, x, out, pos, rope, b, att, u);
    free(u);
    return e;
}

void nn_embed(const eef_model *m, const int *tokens, int N, float *x)
{
    const int D = m->cfg.d_model;
#pragma omp parallel for schedule(static) if (N >= 8)
    for (int n = 0; n < N; n++) nn_tensor_rows_f32(&m->embed, tokens[n], tokens[n] + 1, x + (size_t)n * D);
}

eef_err nn_head_forward(const eef_model *m, const float *xg, int M, float *xf, float *rstd,
                        float *logits)
{
    const eef_model_config *c = &m->cfg;
    rmsnorm_forward(xf, rstd, xg, m->out_norm, M, c->d_model, c->norm_eps);
    return nn_matmul(logits, c->vocab, xf, c->d_model, &m->head, M);
}

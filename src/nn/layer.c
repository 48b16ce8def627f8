/* layer.c: the transformer's forward pass, one layer at a time, shared by
 * training (nn/train.c, which keeps every intermediate for the backward
 * pass) and inference with a KV cache (nn/infer.c, which reuses one set of
 * buffers).  What differs between the two is the attention, passed in as
 * a callback; everything around it is here, once.
 *
 * Shapes: N rows, D model width, F MLP width, q | k | v rows of width
 * W = Q + 2K (nn_internal.h). */
#include "nn_internal.h"

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

eef_err nn_layer_forward(const eef_model *m, int l, int N, const float *x, float *out,
                         const int *pos, const rope_table *rope, const nn_layer_buf *b,
                         const nn_attn *att)
{
    const eef_model_config *c = &m->cfg;
    const eef_layer_weights *w = &m->layer[l];
    const nn_heads s = nn_heads_of(c);
    const int D = c->d_model, F = c->d_ff, W = heads_w(&s), Q = heads_q(&s);
    const size_t ND = (size_t)N * D;
    /* attention block */
    rmsnorm_forward(b->xn1, b->rstd1, x, w->attn_norm, N, D, c->norm_eps);
    float *proj = c->qk_norm ? b->qkv_pre : b->qkv;
    const eef_tensor *qkv_w[3] = { &w->wq, &w->wk, &w->wv };
    EEF_TRY(project(proj, W, b->xn1, D, qkv_w, 3, N));
    if (w->bqkv) bias_forward(proj, w->bqkv, N, W);
    if (c->qk_norm) head_norm_forward(b->qkv, b->qk_rstd, proj, w->q_norm, w->k_norm, N, &s, c->norm_eps);
    rope_apply(b->qkv, pos, N, &s, rope, +1);
    EEF_TRY(att->run(att, l, b->qkv, b->att));
    EEF_TRY(nn_matmul(b->x2, D, b->att, Q, &w->wo, N));
    float *x2 = b->x2;
#pragma omp parallel for schedule(static) if (N >= 8)
    for (size_t i = 0; i < ND; i++) x2[i] += x[i];
    /* MLP block */
    rmsnorm_forward(b->xn2, b->rstd2, x2, w->mlp_norm, N, D, c->norm_eps);
    const eef_tensor *mlp_w[2] = { &w->w1, &w->w3 };
    EEF_TRY(project(b->h13, 2 * F, b->xn2, D, mlp_w, 2, N));
    swiglu_forward(b->hact, b->h13, N, F);
    EEF_TRY(nn_matmul(out, D, b->hact, F, &w->w2, N));
#pragma omp parallel for schedule(static) if (N >= 8)
    for (size_t i = 0; i < ND; i++) out[i] += x2[i];
    return EEF_OK;
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

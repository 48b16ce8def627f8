/* nn_internal.h: kernels and helpers shared inside src/nn only. */
#ifndef EEF_NN_INTERNAL_H
#define EEF_NN_INTERNAL_H

#include "nn.h"

/* Row-major C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, where
 * op(X) = X or X^T.  Single-threaded: callers split the work. */
void nn_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
             int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* out[N,O] = inp[N,I] W[O,I]^T, rows split over the OpenMP threads. */
void mm_forward(float *out, const float *inp, const float *w, int N, int I, int O);
/* dinp[N,I] = dout[N,O] W[O,I] (overwritten; skipped if NULL) and
 * dw[O,I] += dout^T inp. */
void mm_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                 int N, int I, int O);

/* y[N,D] = x / rms(x) * g; rstd[N] saved for the backward pass. */
void rmsnorm_forward(float *y, float *rstd, const float *x, const float *g, int N, int D,
                     float eps);
/* dx[N,D] += d/dx, dg[D] += d/dg, given dy. */
void rmsnorm_backward(float *dx, float *dg, const float *dy, const float *x, const float *rstd,
                      const float *g, int N, int D);

/* Rotary tables: cos/sin [max_ctx, hd/2]. */
typedef struct {
    int max_ctx, half;
    float *cos, *sin;
} rope_table;
eef_err rope_table_init(rope_table *t, int max_ctx, int head_dim, float theta);
void rope_table_free(rope_table *t);
/* Rotates the q and k parts of qkv [N, 3D] in place (inverse: dir = -1). */
void rope_apply(float *qkv, const int *pos, int N, int D, int H, const rope_table *t, int dir);

/* act[N,F] = silu(h[:, :F]) * h[:, F:] for h [N, 2F]. */
void swiglu_forward(float *act, const float *h, int N, int F);
/* dh[N,2F] from dact and h. */
void swiglu_backward(float *dh, const float *dact, const float *h, int N, int F);

/* Causal self-attention within segments.  qkv [N, 3D] (q | k | v, heads
 * contiguous inside each), out [N, D], lse [N, H] (log-sum-exp of each
 * softmax row, saved for the backward pass).  The batch is B rows of T;
 * a segment starts wherever pos == 0. */
eef_err attention_forward(float *out, float *lse, const float *qkv, const int *pos, int B, int T,
                          int D, int H);
/* dqkv [N, 3D] (overwritten) from dout [N, D]. */
eef_err attention_backward(float *dqkv, const float *dout, const float *qkv, const float *out,
                           const float *lse, const int *pos, int B, int T, int D, int H);

/* Training activations (sized for B*T positions). */
struct eef_acts {
    int B, T, N;
    float *res;    /* [L+1, N, D] residual stream entering each layer, then the final one */
    float *xn1;    /* [L, N, D] */
    float *rstd1;  /* [L, N] */
    float *qkv;    /* [L, N, 3D] after rotary */
    float *lse;    /* [L, N, H] */
    float *att;    /* [L, N, D] attention output before Wo */
    float *x2;     /* [L, N, D] residual after attention */
    float *xn2;    /* [L, N, D] */
    float *rstd2;  /* [L, N] */
    float *h13;    /* [L, N, 2F] */
    float *hact;   /* [L, N, F] */
    float *rstdf;  /* [N] final norm */
    float *xf;     /* [N, D] final normed rows of the scored positions */
    float *logits; /* [N, V] logits of the scored positions */
    int *rows;     /* [N] positions scored (mask != 0), M of them */
    int M;
    /* backward scratch */
    float *dres, *dxn, *dqkv, *datt, *dh13, *dhact, *dxf;
    /* the batch of the last forward */
    const eef_batch *batch;
    double mask_sum;
    rope_table rope;
    int have_forward;
};
void eef_acts_free(eef_acts *a);

eef_err eef_model_alloc(const eef_model_config *cfg, eef_tokenizer *tok, eef_model **out);
eef_err eef_model_ensure_grads(eef_model *m);

/* log-softmax helpers */
float nn_logsumexp(const float *x, int n);

/* SIMD row kernels (vec.c), chosen at run time for the CPU. */
typedef struct {
    const char *name;
    float (*max)(const float *x, int n);
    float (*exp_shift_sum)(float *x, int n, float shift);  /* x = e^(x-shift); returns the sum */
    float (*sum_exp_shift)(const float *x, int n, float shift); /* sum e^(x-shift) */
    void (*exp_shift)(float *x, int n, float shift);        /* x = e^(x-shift) */
    void (*exp_shift_scale)(float *x, int n, float shift, float scale); /* x = scale e^(x-shift) */
    float (*dot)(const float *a, const float *b, int n);
    void (*scale)(float *x, int n, float s);
    void (*add)(float *y, const float *x, int n);           /* y += x */
    void (*softmax_grad)(float *ds, const float *p, int n, float di); /* ds = p (ds - di) */
    float (*rms_row)(float *y, const float *x, const float *g, int n, float eps); /* returns 1/rms */
    void (*rms_bwd_row)(float *dx, const float *dy, const float *x, const float *g, float r, int n);
    void (*swiglu_row)(float *o, const float *a, const float *b, int n);
    void (*swiglu_bwd_row)(float *da, float *db, const float *d, const float *a, const float *b,
                           int n);
} nn_vec_ops;
extern nn_vec_ops nn_vec;
void nn_vec_select(void);

#endif

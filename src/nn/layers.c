/* layers.c: the elementwise layers — RMSNorm, rotary embedding, SwiGLU —
 * each forward next to its backward.  Shapes: N positions, D model width. */
#include "nn_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* ------------------------------------------------------------ RMSNorm
 * y = g * x * r,  r = 1 / sqrt(mean(x^2) + eps)
 * dx_j = r g_j dy_j - r^3 x_j / D * sum_i dy_i g_i x_i
 * dg_i = sum_n dy_i x_i r
 */
void rmsnorm_forward(float *y, float *rstd, const float *x, const float *g, int N, int D,
                     float eps)
{
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        rstd[n] = nn_vec.rms_row(y + (size_t)n * D, x + (size_t)n * D, g, D, eps);
    }
}

void rmsnorm_backward(float *dx, float *dg, const float *dy, const float *x, const float *rstd,
                      const float *g, int N, int D)
{
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        nn_vec.rms_bwd_row(dx + (size_t)n * D, dy + (size_t)n * D, x + (size_t)n * D, g, rstd[n],
                           D);
    }
    /* dg: split the D columns over threads; each sums all N rows in order */
#pragma omp parallel
    {
#ifdef _OPENMP
        int nth = omp_get_num_threads(), tid = omp_get_thread_num();
#else
        int nth = 1, tid = 0;
#endif
        int lo = (int)((long)D * tid / nth), hi = (int)((long)D * (tid + 1) / nth);
        for (int n = 0; n < N; n++) {
            const float *xr = x + (size_t)n * D, *dyr = dy + (size_t)n * D;
            float r = rstd[n];
            for (int i = lo; i < hi; i++) dg[i] += dyr[i] * xr[i] * r;
        }
    }
}

/* ------------------------------------------------------------ rotary
 * Pairs (2i, 2i+1) of each head are rotated by angle pos * theta^(-2i/hd)
 * (the original Llama layout).  The inverse rotation is the backward. */
eef_err rope_table_init(rope_table *t, int max_ctx, int head_dim, float theta)
{
    t->max_ctx = max_ctx;
    t->half = head_dim / 2;
    size_t n = (size_t)max_ctx * t->half;
    t->cos = eef_malloc(n * sizeof(float));
    t->sin = eef_malloc(n * sizeof(float));
    if (!t->cos || !t->sin) {
        rope_table_free(t);
        return EEF_ENOMEM;
    }
    for (int p = 0; p < max_ctx; p++)
        for (int i = 0; i < t->half; i++) {
            double freq = pow((double)theta, -2.0 * i / head_dim);
            double a = p * freq;
            t->cos[(size_t)p * t->half + i] = (float)cos(a);
            t->sin[(size_t)p * t->half + i] = (float)sin(a);
        }
    return EEF_OK;
}

void rope_table_free(rope_table *t)
{
    free(t->cos);
    free(t->sin);
    t->cos = t->sin = NULL;
}

void rope_apply(float *qkv, const int *pos, int N, int D, int H, const rope_table *t, int dir)
{
    int hd = D / H, half = hd / 2;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *c = t->cos + (size_t)pos[n] * half, *s = t->sin + (size_t)pos[n] * half;
        float *row = qkv + (size_t)n * 3 * D;
        for (int part = 0; part < 2; part++) /* q then k */
            for (int h = 0; h < H; h++) {
                float *x = row + part * D + h * hd;
                for (int i = 0; i < half; i++) {
                    float x0 = x[2 * i], x1 = x[2 * i + 1];
                    float si = dir > 0 ? s[i] : -s[i];
                    x[2 * i] = x0 * c[i] - x1 * si;
                    x[2 * i + 1] = x0 * si + x1 * c[i];
                }
            }
    }
}

/* ------------------------------------------------------------ SwiGLU
 * act = silu(a) * b with silu(a) = a * sigmoid(a);
 * d silu / da = s (1 + a (1 - s)). */
void swiglu_forward(float *act, const float *h, int N, int F)
{
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *a = h + (size_t)n * 2 * F;
        nn_vec.swiglu_row(act + (size_t)n * F, a, a + F, F);
    }
}

void swiglu_backward(float *dh, const float *dact, const float *h, int N, int F)
{
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *a = h + (size_t)n * 2 * F;
        float *da = dh + (size_t)n * 2 * F;
        nn_vec.swiglu_bwd_row(da, da + F, dact + (size_t)n * F, a, a + F, F);
    }
}

float nn_logsumexp(const float *x, int n)
{
    float mx = nn_vec.max(x, n);
    if (mx == -INFINITY) return mx;
    return mx + logf(nn_vec.sum_exp_shift(x, n, mx));
}

/* layers.c: the elementwise layers — RMSNorm, per-head norms, biases,
 * rotary embedding, SwiGLU — each forward next to its backward.  Shapes:
 * N positions, D model width, W = the width of a q | k | v row. */
#include "nn_internal.h"

/* Row-wise layers run on the threads from this many rows on: decoding one
 * token is not worth a parallel region (and each is a barrier that, on a
 * busy machine, waits for a descheduled thread). */
#define ROWS_PAR 8

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
#pragma omp parallel for schedule(static) if (N >= ROWS_PAR)
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
    if (!dg) return;
    /* dg: split the D columns over threads; each sums all N rows in order */
#pragma omp parallel
    {
        int lo, hi;
        nn_my_cols(D, &lo, &hi);
        for (int n = 0; n < N; n++) {
            const float *xr = x + (size_t)n * D, *dyr = dy + (size_t)n * D;
            float r = rstd[n];
            for (int i = lo; i < hi; i++) dg[i] += dyr[i] * xr[i] * r;
        }
    }
}

/* ------------------------------------------------------------ head norms
 * Qwen3 normalizes each q and k head over its hd values (gains shared by
 * the heads of a kind) before the rotary embedding. */
void head_norm_forward(float *y, float *rstd, const float *x, const float *gq, const float *gk,
                       int N, const nn_heads *s, float eps)
{
    const int hd = s->hd, W = heads_w(s), Q = heads_q(s), nh = s->H + s->Hkv;
#pragma omp parallel for schedule(static) if (N >= ROWS_PAR)
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * W;
        float *yr = y + (size_t)n * W, *r = rstd + (size_t)n * nh;
        for (int h = 0; h < nh; h++) /* q heads, then k heads (right after them) */
            r[h] = nn_vec.rms_row(yr + h * hd, xr + h * hd, h < s->H ? gq : gk, hd, eps);
        memcpy(yr + Q + heads_k(s), xr + Q + heads_k(s), (size_t)heads_k(s) * sizeof(float));
    }
}

void head_norm_backward(float *dx, float *dgq, float *dgk, const float *dy, const float *x,
                        const float *rstd, const float *gq, const float *gk, int N,
                        const nn_heads *s)
{
    const int hd = s->hd, W = heads_w(s), Q = heads_q(s), K = heads_k(s), nh = s->H + s->Hkv;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        float *dxr = dx + (size_t)n * W;
        const float *dyr = dy + (size_t)n * W, *xr = x + (size_t)n * W, *r = rstd + (size_t)n * nh;
        memset(dxr, 0, (size_t)(Q + K) * sizeof(float));
        for (int h = 0; h < nh; h++)
            nn_vec.rms_bwd_row(dxr + h * hd, dyr + h * hd, xr + h * hd, h < s->H ? gq : gk, r[h], hd);
        memcpy(dxr + Q + K, dyr + Q + K, (size_t)K * sizeof(float));
    }
    if (!dgq || !dgk) return;
    /* gains: the hd columns split over threads, each summing every row and
     * head in order */
#pragma omp parallel
    {
        int lo, hi;
        nn_my_cols(hd, &lo, &hi);
        for (int n = 0; n < N; n++)
            for (int h = 0; h < nh; h++) {
                const float *xr = x + (size_t)n * W + h * hd, *dyr = dy + (size_t)n * W + h * hd;
                float r = rstd[(size_t)n * nh + h], *dg = h < s->H ? dgq : dgk;
                for (int i = lo; i < hi; i++) dg[i] += dyr[i] * xr[i] * r;
            }
    }
}

/* ------------------------------------------------------------ biases */
void bias_forward(float *y, const float *b, int N, int W)
{
#pragma omp parallel for schedule(static) if (N >= ROWS_PAR)
    for (int n = 0; n < N; n++) nn_vec.add(y + (size_t)n * W, b, W);
}

void bias_backward(float *db, const float *dy, int N, int W)
{
#pragma omp parallel
    {
        int lo, hi;
        nn_my_cols(W, &lo, &hi);
        for (int n = 0; n < N; n++) {
            const float *d = dy + (size_t)n * W;
            for (int i = lo; i < hi; i++) db[i] += d[i];
        }
    }
}

/* ------------------------------------------------------------ rotary
 * Each head's values are rotated in pairs, pair i by the angle
 * pos * theta^(-2i/hd): the pairs (2i, 2i+1) in eef's layout (Meta's
 * original Llama), (i, i + hd/2) in Hugging Face's rotate_half layout.
 * The two are the same rotation of differently ordered values, so a
 * model's q and k rows can be kept in the order its file has.  Llama 3.1
 * scales the frequencies (below).  The inverse rotation is the backward. */

/* Llama 3.1: frequencies whose wavelength exceeds the original context /
 * low_freq_factor are divided by `factor`, those below original /
 * high_freq_factor kept, and those between interpolated. */
static double llama3_freq(double f, const eef_rope_scaling *sc)
{
    const double pi = 3.14159265358979323846, orig = sc->original_ctx;
    double wavelen = 2 * pi / f;
    if (wavelen < orig / sc->high_freq_factor) return f;
    if (wavelen > orig / sc->low_freq_factor) return f / sc->factor;
    double smooth = (orig / wavelen - sc->low_freq_factor) /
                    (sc->high_freq_factor - sc->low_freq_factor);
    return (1 - smooth) * f / sc->factor + smooth * f;
}

eef_err rope_table_init(rope_table *t, int n_pos, const eef_model_config *c)
{
    const int head_dim = c->head_dim ? c->head_dim : c->d_model / c->n_heads;
    const float theta = c->rope_theta;
    t->n_pos = n_pos;
    t->half = head_dim / 2;
    t->layout = c->rope_layout;
    size_t n = (size_t)n_pos * t->half;
    t->cos = eef_malloc(n * sizeof(float));
    t->sin = eef_malloc(n * sizeof(float));
    if (!t->cos || !t->sin) {
        rope_table_free(t);
        return EEF_ENOMEM;
    }
    for (int p = 0; p < n_pos; p++)
        for (int i = 0; i < t->half; i++) {
            double freq = pow((double)theta, -2.0 * i / head_dim);
            if (c->rope_scaling.factor != 0) freq = llama3_freq(freq, &c->rope_scaling);
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

void rope_apply(float *qkv, const int *pos, int N, const nn_heads *s, const rope_table *t, int dir)
{
    const int hd = s->hd, half = hd / 2, W = heads_w(s), Q = heads_q(s), nh = s->H + s->Hkv;
    /* element j of pair i: j0 = 2i, j1 = 2i+1 (pairs) or i, i + half */
    const int step = t->layout == EEF_ROPE_HALF ? 1 : 2, other = t->layout == EEF_ROPE_HALF ? half : 1;
#pragma omp parallel for schedule(static) if (N >= ROWS_PAR)
    for (int n = 0; n < N; n++) {
        const float *c = t->cos + (size_t)pos[n] * half, *sn = t->sin + (size_t)pos[n] * half;
        float *row = qkv + (size_t)n * W;
        for (int h = 0; h < nh; h++) { /* q heads then k heads: contiguous from row start */
            float *x = row + (h < s->H ? h * hd : Q + (h - s->H) * hd);
            for (int i = 0; i < half; i++) {
                float x0 = x[step * i], x1 = x[step * i + other];
                float si = dir > 0 ? sn[i] : -sn[i];
                x[step * i] = x0 * c[i] - x1 * si;
                x[step * i + other] = x0 * si + x1 * c[i];
            }
        }
    }
}

/* ------------------------------------------------------------ SwiGLU
 * act = silu(a) * b with silu(a) = a * sigmoid(a);
 * d silu / da = s (1 + a (1 - s)). */
void swiglu_forward(float *act, const float *h, int N, int F)
{
#pragma omp parallel for schedule(static) if (N >= ROWS_PAR)
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

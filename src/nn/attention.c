/* attention.c: causal self-attention inside packed segments.
 *
 * Work is cut into units (segment, head), spread over the OpenMP threads;
 * inside a unit, queries are processed in blocks of QB rows against the
 * keys they may see, with single-threaded sgemm for Q K^T and P V, so the
 * causal mask wastes at most one block.  The backward pass recomputes the
 * softmax from the saved log-sum-exp (as FlashAttention does) instead of
 * storing the T x T probabilities.
 *
 * Grouped-query attention: query head h reads key/value head h / G
 * (G = H / Hkv).  The backward pass works on units (segment, kv head) and
 * runs the G query heads of a group in order, so the gradients of a
 * shared key/value head are summed by one thread in a fixed order.
 */
#include "nn_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define QB 64


typedef struct {
    int start, len, head;
} att_unit;

/* Lists (segment, head) units, largest segments first so the dynamic
 * schedule balances well.  A segment starts wherever pos == 0. */
static att_unit *make_units(const int *pos, int B, int T, int H, int *n_units)
{
    int n_seg = 0;
    for (int i = 0; i < B * T; i++) n_seg += pos[i] == 0 || i % T == 0;
    att_unit *u = eef_malloc((size_t)n_seg * H * sizeof *u);
    if (!u) return NULL;
    int k = 0;
    for (int b = 0; b < B; b++) {
        int t = 0;
        while (t < T) {
            int s = t++;
            while (t < T && pos[b * T + t] != 0) t++;
            for (int h = 0; h < H; h++) u[k++] = (att_unit){ b * T + s, t - s, h };
        }
    }
    /* insertion sort by decreasing length keeps equal lengths in order */
    for (int i = 1; i < k; i++) {
        att_unit x = u[i];
        int j = i - 1;
        while (j >= 0 && u[j].len < x.len) {
            u[j + 1] = u[j];
            j--;
        }
        u[j + 1] = x;
    }
    *n_units = k;
    return u;
}

/* Turns row r of the score block (query i = s + q0 + r, keys s..) into
 * probabilities; returns the log-sum-exp. */
static float softmax_causal_row(float *row, int n_valid, int n_cols)
{
    float mx = nn_vec.max(row, n_valid);
    float sum = nn_vec.exp_shift_sum(row, n_valid, mx);
    nn_vec.scale(row, n_valid, 1.0f / sum);
    if (n_cols > n_valid) memset(row + n_valid, 0, (size_t)(n_cols - n_valid) * sizeof(float));
    return mx + logf(sum);
}

eef_err attention_forward(float *out, float *lse, const float *qkv, const int *pos, int B, int T,
                          const nn_heads *sh)
{
    const int H = sh->H, G = sh->H / sh->Hkv, hd = sh->hd, ld = heads_w(sh), Q = heads_q(sh),
              K = heads_k(sh);
    int n_units;
    att_unit *units = make_units(pos, B, T, H, &n_units);
    float *scratch = eef_malloc((size_t)nn_max_threads() * QB * T * sizeof(float));
    if (!units || !scratch) {
        free(units);
        free(scratch);
        return EEF_ENOMEM;
    }
    const float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel
    {
        float *S = scratch + (size_t)nn_thread_id() * QB * T;
#pragma omp for schedule(dynamic, 1)
        for (int u = 0; u < n_units; u++) {
            const int s = units[u].start, L = units[u].len, h = units[u].head, g = h / G;
            const float *Kh = qkv + (size_t)s * ld + Q + g * hd;
            const float *Vh = qkv + (size_t)s * ld + Q + K + g * hd;
            for (int q0 = 0; q0 < L; q0 += QB) {
                int bl = L - q0 < QB ? L - q0 : QB, Lk = q0 + bl;
                const float *Qh = qkv + (size_t)(s + q0) * ld + h * hd;
                nn_gemm(0, 1, bl, Lk, hd, scale, Qh, ld, Kh, ld, 0.0f, S, Lk);
                for (int r = 0; r < bl; r++)
                    lse[(size_t)(s + q0 + r) * H + h] =
                        softmax_causal_row(S + (size_t)r * Lk, q0 + r + 1, Lk);
                nn_gemm(0, 0, bl, hd, Lk, 1.0f, S, Lk, Vh, ld, 0.0f,
                        out + (size_t)(s + q0) * Q + h * hd, Q);
            }
        }
    }
    free(scratch);
    free(units);
    return EEF_OK;
}

eef_err attention_backward(float *dqkv, const float *dout, const float *qkv, const float *out,
                           const float *lse, const int *pos, int B, int T, const nn_heads *sh)
{
    const int H = sh->H, G = sh->H / sh->Hkv, hd = sh->hd, ld = heads_w(sh), Q = heads_q(sh),
              K = heads_k(sh);
    int n_units;
    att_unit *units = make_units(pos, B, T, sh->Hkv, &n_units);
    float *scratch = eef_malloc((size_t)nn_max_threads() * 2 * QB * T * sizeof(float));
    if (!units || !scratch) {
        free(units);
        free(scratch);
        return EEF_ENOMEM;
    }
    const float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel
    {
        float *P = scratch + (size_t)nn_thread_id() * 2 * QB * T;
        float *dS = P + (size_t)QB * T;
#pragma omp for schedule(dynamic, 1)
        for (int u = 0; u < n_units; u++) {
            const int s = units[u].start, L = units[u].len, g = units[u].head;
            const float *Kh = qkv + (size_t)s * ld + Q + g * hd;
            const float *Vh = qkv + (size_t)s * ld + Q + K + g * hd;
            float *dK = dqkv + (size_t)s * ld + Q + g * hd;
            float *dV = dqkv + (size_t)s * ld + Q + K + g * hd;
            for (int r = 0; r < L; r++) {
                memset(dK + (size_t)r * ld, 0, (size_t)hd * sizeof(float));
                memset(dV + (size_t)r * ld, 0, (size_t)hd * sizeof(float));
            }
            for (int h = g * G; h < (g + 1) * G; h++)
                for (int q0 = 0; q0 < L; q0 += QB) {
                    int bl = L - q0 < QB ? L - q0 : QB, Lk = q0 + bl;
                    const float *Qh = qkv + (size_t)(s + q0) * ld + h * hd;
                    const float *dO = dout + (size_t)(s + q0) * Q + h * hd;
                    const float *O = out + (size_t)(s + q0) * Q + h * hd;
                    /* P = exp(S - lse) on the causal part, 0 elsewhere */
                    nn_gemm(0, 1, bl, Lk, hd, scale, Qh, ld, Kh, ld, 0.0f, P, Lk);
                    for (int r = 0; r < bl; r++) {
                        float *p = P + (size_t)r * Lk;
                        float l = lse[(size_t)(s + q0 + r) * H + h];
                        int nv = q0 + r + 1;
                        nn_vec.exp_shift(p, nv, l);
                        if (Lk > nv) memset(p + nv, 0, (size_t)(Lk - nv) * sizeof(float));
                    }
                    /* dP = dO V^T;  dS = P * (dP - rowsum(dO * O)) */
                    nn_gemm(0, 1, bl, Lk, hd, 1.0f, dO, Q, Vh, ld, 0.0f, dS, Lk);
                    for (int r = 0; r < bl; r++) {
                        float di = nn_vec.dot(dO + (size_t)r * Q, O + (size_t)r * Q, hd);
                        nn_vec.softmax_grad(dS + (size_t)r * Lk, P + (size_t)r * Lk, q0 + r + 1, di);
                        if (Lk > q0 + r + 1)
                            memset(dS + (size_t)r * Lk + q0 + r + 1, 0,
                                   (size_t)(Lk - q0 - r - 1) * sizeof(float));
                    }
                    /* dQ = scale dS K;  dK += scale dS^T Q;  dV += P^T dO */
                    nn_gemm(0, 0, bl, hd, Lk, scale, dS, Lk, Kh, ld, 0.0f,
                            dqkv + (size_t)(s + q0) * ld + h * hd, ld);
                    nn_gemm(1, 0, Lk, hd, bl, scale, dS, Lk, Qh, ld, 1.0f, dK, ld);
                    nn_gemm(1, 0, Lk, hd, bl, 1.0f, P, Lk, dO, Q, 1.0f, dV, ld);
                }
        }
    }
    free(scratch);
    free(units);
    return EEF_OK;
}

/* bf16mm.c: products in bf16 arithmetic (AVX-512 BF16), as PyTorch
 * computes a bf16 layer or an autocast region: both operands rounded to
 * bf16 (to nearest, ties to even; a bf16 weight is exact), pairs of
 * products summed in f32 by vdpbf16ps, twice the f32 FMA's multiply-adds
 * per instruction.  Used for the matrices whose eef_tensor.bf16_products
 * is set (eef_model_bf16_products): the frozen bf16 base of LoRA tuning,
 * and full fine-tuning's weights and gradients on request (mixed
 * precision: the weights, optimizer and everything else stay f32).
 *
 * Operands in the instruction's layout: A (x) as rows of bf16 pairs along
 * k (a 32-bit word per pair), B (W or W^T) as rows of pairs [k / 2][n];
 * a tile of 8 rows by 32 columns keeps 16 accumulators, each broadcast
 * pair of A meeting two vectors of B.  Every output is one sum over k in
 * order in one lane: the bits do not depend on the threads or the rows
 * computed with it. */
#include "nn_internal.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

int nn_bf16mm_ok(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512bf16");
}

#define BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

enum { TR = 8, TC = 32 }; /* rows of x and columns of y per tile */

/* A row of K floats as kp pairs (the odd tail paired with 0). */
BF16 static void pack_x(const float *x, int K, uint32_t *o)
{
    int k = 0;
    for (; k + 32 <= K; k += 32, o += 16)
        _mm512_storeu_si512(o, (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + k + 16), _mm512_loadu_ps(x + k)));
    if (k < K) {
        const int n = K - k;
        const __mmask16 lo = (__mmask16)(n >= 16 ? 0xffff : (1u << n) - 1u);
        const __mmask16 hi = (__mmask16)(n <= 16 ? 0 : (1u << (n - 16)) - 1u);
        const __m512i v = (__m512i)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi, x + k + 16),
                                                        _mm512_maskz_loadu_ps(lo, x + k));
        memcpy(o, &v, (size_t)(n + 1) / 2 * sizeof *o);
    }
}

/* B = W^T (W [NO, K] bf16): word (p, n) = W[n][2p], W[n][2p + 1] */
static void pack_wt(const uint16_t *w, int NO, int K, uint32_t *b, int ldb, int p0, int p1)
{
    for (int n0 = 0; n0 < NO; n0 += 16)
        for (int p = p0; p < p1; p++)
            for (int n = n0; n < n0 + 16 && n < NO; n++) {
                const uint16_t *r = w + (size_t)n * K + 2 * p;
                b[(size_t)p * ldb + n] = (uint32_t)r[0] | (2 * p + 1 < K ? (uint32_t)r[1] << 16 : 0);
            }
}

/* B = W (W [K, NO] bf16): word (p, n) = W[2p][n], W[2p + 1][n] */
BF16 static void pack_w(const uint16_t *w, int K, int NO, uint32_t *b, int ldb, int p0, int p1)
{
    for (int p = p0; p < p1; p++) {
        const uint16_t *r0 = w + (size_t)(2 * p) * NO, *r1 = 2 * p + 1 < K ? r0 + NO : NULL;
        uint32_t *o = b + (size_t)p * ldb;
        int n = 0;
        for (; n + 16 <= NO; n += 16) {
            const __m512i a = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(r0 + n)));
            const __m512i c = r1 ? _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(r1 + n)))
                                 : _mm512_setzero_si512();
            _mm512_storeu_si512(o + n, _mm512_or_si512(a, _mm512_slli_epi32(c, 16)));
        }
        for (; n < NO; n++) o[n] = (uint32_t)r0[n] | (r1 ? (uint32_t)r1[n] << 16 : 0);
    }
}

/* B = W^T (W [NO, K] f32, rows ldw apart): word (p, n) = W[n][2p], W[n][2p + 1] */
BF16 static void pack_wt_f32(const float *w, size_t ldw, int NO, int K, uint32_t *b, int ldb, int p0, int p1)
{
    uint32_t row[16 * 64];
    for (int n0 = 0; n0 < NO; n0 += 16)
        for (int q0 = p0; q0 < p1; q0 += 64) { /* 16 rows x 64 pairs through a buffer */
            const int nn = NO - n0 < 16 ? NO - n0 : 16, qn = p1 - q0 < 64 ? p1 - q0 : 64;
            for (int i = 0; i < nn; i++) {
                uint32_t *o = row + 64 * i;
                const float *r = w + (size_t)(n0 + i) * ldw + 2 * q0;
                const int k = K - 2 * q0 < 2 * qn ? K - 2 * q0 : 2 * qn;
                pack_x(r, k, o);
            }
            for (int q = 0; q < qn; q++)
                for (int i = 0; i < nn; i++) b[(size_t)(q0 + q) * ldb + n0 + i] = row[64 * i + q];
        }
}

/* B = X (X [K, N] f32, rows ldx apart): word (p, n) = X[2p][n], X[2p + 1][n] */
BF16 static void pack_w_f32(const float *x, size_t ldx, int K, int N, uint32_t *b, int ldb, int p0, int p1)
{
    for (int p = p0; p < p1; p++) {
        const float *r0 = x + (size_t)(2 * p) * ldx, *r1 = 2 * p + 1 < K ? r0 + ldx : NULL;
        uint32_t *o = b + (size_t)p * ldb;
        for (int n = 0; n < N; n += 16) {
            const __mmask16 m = (__mmask16)(N - n >= 16 ? 0xffff : (1u << (N - n)) - 1u);
            const __m256i lo = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, r0 + n));
            const __m256i hi = r1 ? (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, r1 + n)) : _mm256_setzero_si256();
            _mm512_mask_storeu_epi32(o + n, m, _mm512_or_si512(_mm512_cvtepu16_epi32(lo),
                                                               _mm512_slli_epi32(_mm512_cvtepu16_epi32(hi), 16)));
        }
    }
}

/* y [R, C] (R <= 8, C <= 32) = beta y + <A rows, B columns> over kp pairs;
 * A's word (m, p) at a + m am + p ap */
BF16 static void tile(float *y, int ldy, const uint32_t *a, size_t am, size_t ap, const uint32_t *b, int ldb,
                      int kp, int R, int C, float beta)
{
    __m512 c0[TR], c1[TR];
    const uint32_t *ar[TR];
    for (int i = 0; i < TR; i++) {
        c0[i] = c1[i] = _mm512_setzero_ps();
        ar[i] = a + (size_t)(i < R ? i : R - 1) * am;
    }
    for (int p = 0; p < kp; p++) {
        const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + (size_t)p * ldb);
        const __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + (size_t)p * ldb + 16);
#pragma GCC unroll 8
        for (int i = 0; i < TR; i++) {
            const __m512bh v = (__m512bh)_mm512_set1_epi32((int)ar[i][(size_t)p * ap]);
            c0[i] = _mm512_dpbf16_ps(c0[i], v, b0);
            c1[i] = _mm512_dpbf16_ps(c1[i], v, b1);
        }
    }
    const __mmask16 m0 = (__mmask16)(C >= 16 ? 0xffff : (1u << C) - 1u);
    const __mmask16 m1 = (__mmask16)(C >= 32 ? 0xffff : C <= 16 ? 0 : (1u << (C - 16)) - 1u);
    for (int i = 0; i < R; i++) {
        float *o = y + (size_t)i * ldy;
        if (beta != 0.0f) {
            c0[i] = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(m0, o), c0[i]);
            c1[i] = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(m1, o + 16), c1[i]);
        }
        _mm512_mask_storeu_ps(o, m0, c0[i]);
        _mm512_mask_storeu_ps(o + 16, m1, c1[i]);
    }
}

/* y [M, NO] = beta y + A B over kp pairs, the columns in panels of 32
 * split over the team's threads (call inside a parallel region) */
static void product(float *y, int ldy, const uint32_t *a, size_t am, size_t ap, const uint32_t *b, int ldb,
                    int M, int NO, int kp, float beta)
{
    int lo, hi;
    nn_my_cols((NO + TC - 1) / TC, &lo, &hi);
    for (int c = lo * TC; c < hi * TC && c < NO; c += TC)
        for (int r = 0; r < M; r += TR)
            tile(y + (size_t)r * ldy + c, ldy, a + (size_t)r * am, am, ap, b + c, ldb, kp, M - r < TR ? M - r : TR,
                 NO - c < TC ? NO - c : TC, beta);
}

/* The packed operands: A's na words, B's nb (zeroed: its padding columns) */
static eef_err operands(size_t na, size_t nb, uint32_t **a, uint32_t **b, int m, int k, int n)
{
    *a = malloc(na * sizeof **a), *b = calloc(nb, sizeof **b);
    if (*a && *b) return EEF_OK;
    free(*a), free(*b);
    return eef_fail(EEF_ENOMEM, "out of memory for a %d x %d x %d bf16 product", m, k, n);
}

eef_err nn_bf16mm(float *y, int ldy, const float *x, int ldx, const void *w, eef_dtype dt, int trans, int K,
                  int NO, int N, float beta)
{
    if (N <= 0 || NO <= 0) return EEF_OK;
    if (K <= 0) { /* an empty sum: y = beta y */
        for (int n = 0; n < N; n++)
            for (int o = 0; o < NO; o++) y[(size_t)n * ldy + o] = beta != 0.0f ? beta * y[(size_t)n * ldy + o] : 0.0f;
        return EEF_OK;
    }
    const int kp = (K + 1) / 2, ldb = (NO + TC - 1) / TC * TC;
    uint32_t *a, *b;
    EEF_TRY(operands((size_t)N * kp, (size_t)kp * ldb, &a, &b, N, K, NO));
#pragma omp parallel
    {
        int lo, hi;
        nn_my_cols(kp, &lo, &hi);
        if (dt == EEF_DT_BF16 && trans) pack_wt(w, NO, K, b, ldb, lo, hi);
        else if (dt == EEF_DT_BF16) pack_w(w, K, NO, b, ldb, lo, hi);
        else if (trans) pack_wt_f32(w, (size_t)K, NO, K, b, ldb, lo, hi);
        else pack_w_f32(w, (size_t)NO, K, NO, b, ldb, lo, hi);
#pragma omp for schedule(static)
        for (int n = 0; n < N; n++) pack_x(x + (size_t)n * ldx, K, a + (size_t)n * kp);
        product(y, ldy, a, (size_t)kp, 1, b, ldb, N, NO, kp, beta);
    }
    free(a), free(b);
    return EEF_OK;
}

eef_err nn_bf16mm_grad(float *dw, const float *dy, int ldy, const float *x, int ldx, int N, int NO, int NI)
{
    if (N <= 0 || NO <= 0 || NI <= 0) return EEF_OK;
    const int kp = (N + 1) / 2, lda = (NO + 15) / 16 * 16, ldb = (NI + TC - 1) / TC * TC;
    uint32_t *a, *b;
    EEF_TRY(operands((size_t)kp * lda, (size_t)kp * ldb, &a, &b, NO, N, NI));
#pragma omp parallel
    {
        int lo, hi;
        nn_my_cols(kp, &lo, &hi);
        pack_w_f32(dy, (size_t)ldy, N, NO, a, lda, lo, hi);
        pack_w_f32(x, (size_t)ldx, N, NI, b, ldb, lo, hi);
#pragma omp barrier
        /* A^T's rows: dw row o reads word p at a + o + p lda */
        product(dw, NI, a, 1, (size_t)lda, b, ldb, NO, NI, kp, 1.0f);
    }
    free(a), free(b);
    return EEF_OK;
}

#else

int nn_bf16mm_ok(void) { return 0; }

eef_err nn_bf16mm(float *y, int ldy, const float *x, int ldx, const void *w, eef_dtype dt, int trans, int K,
                  int NO, int N, float beta)
{
    (void)y, (void)ldy, (void)x, (void)ldx, (void)w, (void)dt, (void)trans, (void)K, (void)NO, (void)N, (void)beta;
    return eef_fail(EEF_EINVAL, "bf16 products need AVX-512 BF16");
}

eef_err nn_bf16mm_grad(float *dw, const float *dy, int ldy, const float *x, int ldx, int N, int NO, int NI)
{
    (void)dw, (void)dy, (void)ldy, (void)x, (void)ldx, (void)N, (void)NO, (void)NI;
    return eef_fail(EEF_EINVAL, "bf16 products need AVX-512 BF16");
}
#endif

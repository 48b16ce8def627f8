/* tile.c: f32 products on AVX-512 register tiles, for the shapes where
 * sgemm spends more on packing its operands and on short loops than on
 * multiply-adds: the products inside an attention unit (nn/attention.c).
 * (Not the projections: there OpenBLAS's packed panels win, measured one
 * thread at 4096 x 128 x 384 to 1024 x 576 x 3072: sgemm 55-100 GFLOP/s,
 * these tiles on unpacked rows of W 18-65.)
 *
 * A tile is 8 rows by 32 (or 16) columns: 16 accumulators, each loaded
 * value used 8 times; the last tile of fewer rows (keys for nn_tile_tn)
 * is a kernel of its own (for nn_tile_nt one row spans 128 columns, two
 * 64, so that enough sums are in flight).  Every element is one sum in
 * a fixed order, so the bits do not depend on how callers split the work
 * over threads nor on how many rows are computed together.  Column counts
 * (NJ, hd) are multiples of 16.  Without AVX-512 (or with nn_tiles_avx512
 * 0) nn_tiles_ok() is 0 and nn_tile_nt is plain loops that sum each
 * element in the same order for one row or many, so the KV cache's scores
 * (nn/infer.c) call it on any CPU; on x86, nn_tile_nn and nn_tile_tn need
 * nn_tiles_ok() (callers use sgemm or the vector kernels instead). */
#include "nn_internal.h"

int nn_tiles_avx512 = 1;

/* S [R, NJ] = alpha X Yt, each element summed over d in order, the rows
 * independent (vectorised over j). */
static void nt_plain(float *S, int lds, const float *X, int ldx, const float *Yt, int ldy, int R,
                     int NJ, int hd, float alpha)
{
    for (int r = 0; r < R; r++) {
        float *s = S + (size_t)r * lds;
        const float *x = X + (size_t)r * ldx;
        for (int j = 0; j < NJ; j++) s[j] = 0.0f;
        for (int d = 0; d < hd; d++) {
            const float xd = x[d], *y = Yt + (size_t)d * ldy;
#pragma omp simd
            for (int j = 0; j < NJ; j++) s[j] += xd * y[j];
        }
        for (int j = 0; j < NJ; j++) s[j] *= alpha;
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

int nn_tiles_ok(void)
{
    __builtin_cpu_init();
    return nn_tiles_avx512 && __builtin_cpu_supports("avx512f");
}

#pragma GCC push_options
#pragma GCC target("avx512f,fma")

/* The three products are one kernel: R (1-8) rows of O, columns [c,
 * c + 16 U), O[i][c..] = alpha sum_k a(i, k) Y[k][c..], summed over k < n
 * in order, where a(i, k) = A[i ia + k ka]; stored, or with acc added to
 * O.  R x U accumulators (at most 16). */
static inline __attribute__((always_inline)) void
    tile_block(float *O, int ldo, const float *A, size_t ia, size_t ka, const float *Y, int ldy, int c,
               int n, __m512 va, int acc, const int R, const int U)
{
    __m512 a[8][8];
    for (int i = 0; i < R; i++)
        for (int u = 0; u < U; u++) a[i][u] = _mm512_setzero_ps();
    for (int k = 0; k < n; k++) {
        const float *y = Y + (size_t)k * ldy + c, *ak = A + (size_t)k * ka;
        __m512 yv[8];
        for (int u = 0; u < U; u++) yv[u] = _mm512_loadu_ps(y + 16 * u);
        for (int i = 0; i < R; i++) {
            const __m512 b = _mm512_set1_ps(ak[i * ia]);
            for (int u = 0; u < U; u++) a[i][u] = _mm512_fmadd_ps(b, yv[u], a[i][u]);
        }
    }
    for (int i = 0; i < R; i++)
        for (int u = 0; u < U; u++) {
            float *o = O + (size_t)i * ldo + c + 16 * u;
            _mm512_storeu_ps(o, acc ? _mm512_fmadd_ps(va, a[i][u], _mm512_loadu_ps(o))
                                    : _mm512_mul_ps(va, a[i][u]));
        }
}

/* R rows over NC columns: the widest blocks that keep enough sums in
 * flight (one row: 8 vectors, two: 4, more: 2), then 2 vectors, then 1 */
static inline __attribute__((always_inline)) void
    tile_rows(float *O, int ldo, const float *A, size_t ia, size_t ka, const float *Y, int ldy, int NC,
              int n, __m512 va, int acc, const int R)
{
    const int U = R == 1 ? 8 : R == 2 ? 4 : 2;
    int c = 0;
    for (; c + 16 * U <= NC; c += 16 * U) tile_block(O, ldo, A, ia, ka, Y, ldy, c, n, va, acc, R, U);
    for (; c + 32 <= NC; c += 32) tile_block(O, ldo, A, ia, ka, Y, ldy, c, n, va, acc, R, 2);
    if (c < NC) tile_block(O, ldo, A, ia, ka, Y, ldy, c, n, va, acc, R, 1);
}

/* What a causal product (diag >= 0) skips in a tile of rows r0..r0+7:
 * the columns past the last row's key (nt), the terms past it (nn), the
 * terms before the first row's key (tn: rows of O are keys, terms query
 * rows). */
enum { FULL, CAUSAL_COLS, CAUSAL_END, CAUSAL_START };

/* Rows of O in tiles of 8 (fewer at the end, never computed twice); row
 * r's a(r, k) at A[r ia + k ka]. */
static void tiles(float *O, int ldo, const float *A, size_t ia, size_t ka, const float *Y, int ldy,
                  int R, int NC, int n, float alpha, int acc, int causal, int diag)
{
    const __m512 va = _mm512_set1_ps(alpha);
    if (diag < 0) causal = FULL;
    for (int r0 = 0; r0 < R; r0 += 8) {
        const float *a = A + (size_t)r0 * ia, *y = Y;
        float *o = O + (size_t)r0 * ldo;
        int nc = NC, k0 = 0, k1 = n, last = diag + r0 + 8;
        if (causal == CAUSAL_COLS && round16(last) < nc) nc = round16(last);
        if (causal == CAUSAL_END && last < k1) k1 = last;
        if (causal == CAUSAL_START && r0 > diag) k0 = r0 - diag < n ? r0 - diag : n;
        a += (size_t)k0 * ka, y += (size_t)k0 * ldy;
        const int m = k1 - k0;
        switch (R - r0 < 8 ? R - r0 : 8) {
        case 1: tile_rows(o, ldo, a, ia, ka, y, ldy, nc, m, va, acc, 1); break;
        case 2: tile_rows(o, ldo, a, ia, ka, y, ldy, nc, m, va, acc, 2); break;
        case 3: tile_rows(o, ldo, a, ia, ka, y, ldy, nc, m, va, acc, 3); break;
        case 4: tile_rows(o, ldo, a, ia, ka, y, ldy, nc, m, va, acc, 4); break;
        case 5: tile_rows(o, ldo, a, ia, ka, y, ldy, nc, m, va, acc, 5); break;
        case 6: tile_rows(o, ldo, a, ia, ka, y, ldy, nc, m, va, acc, 6); break;
        case 7: tile_rows(o, ldo, a, ia, ka, y, ldy, nc, m, va, acc, 7); break;
        default: tile_rows(o, ldo, a, ia, ka, y, ldy, nc, m, va, acc, 8); break;
        }
    }
}

/* O [R, hd] = alpha P Y over keys k < nk (P [R, ldp], Y [nk, ldy]). */
void nn_tile_nn(float *O, int ldo, const float *P, int ldp, const float *Y, int ldy, int R,
                int nk, int hd, float alpha, int diag)
{
    tiles(O, ldo, P, (size_t)ldp, 1, Y, ldy, R, hd, nk, alpha, 0, CAUSAL_END, diag);
}

/* C [NK, hd] += alpha P^T X over rows r < nr (P [nr, ldp], X [nr, ldx]):
 * key k's a(k, r) is P[r][k]. */
void nn_tile_tn(float *C, int ldc, const float *P, int ldp, const float *X, int ldx, int nr,
                int NK, int hd, float alpha, int diag)
{
    tiles(C, ldc, P, 1, (size_t)ldp, X, ldx, NK, hd, nr, alpha, 1, CAUSAL_START, diag);
}

#pragma GCC pop_options

void nn_tile_nt(float *S, int lds, const float *X, int ldx, const float *Yt, int ldy, int R,
                int NJ, int hd, float alpha, int diag)
{
    /* S = alpha X Yt: the rows of X against Yt's hd rows */
    if (nn_tiles_ok()) tiles(S, lds, X, (size_t)ldx, 1, Yt, ldy, R, NJ, hd, alpha, 0, CAUSAL_COLS, diag);
    else nt_plain(S, lds, X, ldx, Yt, ldy, R, NJ, hd, alpha);
}
#else

int nn_tiles_ok(void) { return 0; }

void nn_tile_nt(float *S, int lds, const float *X, int ldx, const float *Yt, int ldy, int R,
                int NJ, int hd, float alpha, int diag)
{
    (void)diag; /* the whole product: the same sums */
    nt_plain(S, lds, X, ldx, Yt, ldy, R, NJ, hd, alpha);
}

void nn_tile_nn(float *O, int ldo, const float *P, int ldp, const float *Y, int ldy, int R,
                int nk, int hd, float alpha, int diag)
{
    (void)diag;
    for (int r = 0; r < R; r++)
        for (int c = 0; c < hd; c++) {
            float s = 0.0f;
            for (int k = 0; k < nk; k++) s += P[(size_t)r * ldp + k] * Y[(size_t)k * ldy + c];
            O[(size_t)r * ldo + c] = alpha * s;
        }
}

void nn_tile_tn(float *C, int ldc, const float *P, int ldp, const float *X, int ldx, int nr,
                int NK, int hd, float alpha, int diag)
{
    (void)diag;
    for (int k = 0; k < NK; k++)
        for (int c = 0; c < hd; c++) {
            float s = 0.0f;
            for (int r = 0; r < nr; r++) s += P[(size_t)r * ldp + k] * X[(size_t)r * ldx + c];
            C[(size_t)k * ldc + c] += alpha * s;
        }
}
#endif

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

/* R (1-8) rows of S from column j on: U vectors of 16 columns each, R x U
 * accumulators (at most 16), every element summed over d in order. */
static inline __attribute__((always_inline)) void
    nt_block(float *S, int lds, const float *const *x, const float *Yt, int ldy, int j, int hd,
             __m512 va, const int R, const int U)
{
    __m512 a[8][8];
    for (int i = 0; i < R; i++)
        for (int u = 0; u < U; u++) a[i][u] = _mm512_setzero_ps();
    for (int d = 0; d < hd; d++) {
        const float *y = Yt + (size_t)d * ldy + j;
        __m512 yv[8];
        for (int u = 0; u < U; u++) yv[u] = _mm512_loadu_ps(y + 16 * u);
        for (int i = 0; i < R; i++) {
            const __m512 b = _mm512_set1_ps(x[i][d]);
            for (int u = 0; u < U; u++) a[i][u] = _mm512_fmadd_ps(b, yv[u], a[i][u]);
        }
    }
    for (int i = 0; i < R; i++)
        for (int u = 0; u < U; u++) _mm512_storeu_ps(S + (size_t)i * lds + j + 16 * u, _mm512_mul_ps(va, a[i][u]));
}

/* R rows: the widest blocks that keep enough sums in flight (one row: 8
 * vectors, two: 4, more: 2), then single vectors */
static inline __attribute__((always_inline)) void nt_rows(float *S, int lds, const float *const *x,
                                                          const float *Yt, int ldy, int NJ, int hd,
                                                          __m512 va, const int R)
{
    const int U = R == 1 ? 8 : R == 2 ? 4 : 2;
    int j = 0;
    for (; j + 16 * U <= NJ; j += 16 * U) nt_block(S, lds, x, Yt, ldy, j, hd, va, R, U);
    for (; j < NJ; j += 16) nt_block(S, lds, x, Yt, ldy, j, hd, va, R, 1);
}

/* S [R, NJ] = alpha X Y^T, Y given transposed: Yt [hd, ldy], j < NJ
 * (a multiple of 16, Yt's columns readable up to it).  Tiles of 8 rows
 * (fewer at the end, never computed twice). */
static void nt_avx512(float *S, int lds, const float *X, int ldx, const float *Yt, int ldy, int R,
                      int NJ, int hd, float alpha)
{
    const __m512 va = _mm512_set1_ps(alpha);
    for (int r0 = 0; r0 < R; r0 += 8) {
        const int rr = R - r0 < 8 ? R - r0 : 8;
        const float *x[8];
        for (int i = 0; i < rr; i++) x[i] = X + (size_t)(r0 + i) * ldx;
        float *s = S + (size_t)r0 * lds;
        switch (rr) {
        case 1: nt_rows(s, lds, x, Yt, ldy, NJ, hd, va, 1); break;
        case 2: nt_rows(s, lds, x, Yt, ldy, NJ, hd, va, 2); break;
        case 3: nt_rows(s, lds, x, Yt, ldy, NJ, hd, va, 3); break;
        case 4: nt_rows(s, lds, x, Yt, ldy, NJ, hd, va, 4); break;
        case 5: nt_rows(s, lds, x, Yt, ldy, NJ, hd, va, 5); break;
        case 6: nt_rows(s, lds, x, Yt, ldy, NJ, hd, va, 6); break;
        case 7: nt_rows(s, lds, x, Yt, ldy, NJ, hd, va, 7); break;
        default: nt_rows(s, lds, x, Yt, ldy, NJ, hd, va, 8); break;
        }
    }
}

/* R (1-8) rows of O, columns [c, c + 16 U): each a sum over k in order */
static inline __attribute__((always_inline)) void
    nn_block(float *O, int ldo, const float *const *p, const float *Y, int ldy, int c, int nk,
             __m512 va, const int R, const int U)
{
    __m512 a[8][2];
    for (int i = 0; i < R; i++)
        for (int u = 0; u < U; u++) a[i][u] = _mm512_setzero_ps();
    for (int k = 0; k < nk; k++) {
        const float *y = Y + (size_t)k * ldy + c;
        __m512 yv[2];
        for (int u = 0; u < U; u++) yv[u] = _mm512_loadu_ps(y + 16 * u);
        for (int i = 0; i < R; i++) {
            const __m512 b = _mm512_set1_ps(p[i][k]);
            for (int u = 0; u < U; u++) a[i][u] = _mm512_fmadd_ps(b, yv[u], a[i][u]);
        }
    }
    for (int i = 0; i < R; i++)
        for (int u = 0; u < U; u++) _mm512_storeu_ps(O + (size_t)i * ldo + c + 16 * u, _mm512_mul_ps(va, a[i][u]));
}

static inline __attribute__((always_inline)) void nn_rows(float *O, int ldo, const float *const *p,
                                                          const float *Y, int ldy, int nk, int hd,
                                                          __m512 va, const int R)
{
    int c = 0;
    for (; c + 32 <= hd; c += 32) nn_block(O, ldo, p, Y, ldy, c, nk, va, R, 2);
    if (c < hd) nn_block(O, ldo, p, Y, ldy, c, nk, va, R, 1);
}

/* O [R, hd] = alpha P Y over keys k < nk (P [R, ldp], Y [nk, ldy]). */
void nn_tile_nn(float *O, int ldo, const float *P, int ldp, const float *Y, int ldy, int R,
                int nk, int hd, float alpha)
{
    const __m512 va = _mm512_set1_ps(alpha);
    for (int r0 = 0; r0 < R; r0 += 8) {
        const int rr = R - r0 < 8 ? R - r0 : 8;
        const float *p[8];
        for (int i = 0; i < rr; i++) p[i] = P + (size_t)(r0 + i) * ldp;
        float *o = O + (size_t)r0 * ldo;
        switch (rr) {
        case 1: nn_rows(o, ldo, p, Y, ldy, nk, hd, va, 1); break;
        case 2: nn_rows(o, ldo, p, Y, ldy, nk, hd, va, 2); break;
        case 3: nn_rows(o, ldo, p, Y, ldy, nk, hd, va, 3); break;
        case 4: nn_rows(o, ldo, p, Y, ldy, nk, hd, va, 4); break;
        case 5: nn_rows(o, ldo, p, Y, ldy, nk, hd, va, 5); break;
        case 6: nn_rows(o, ldo, p, Y, ldy, nk, hd, va, 6); break;
        case 7: nn_rows(o, ldo, p, Y, ldy, nk, hd, va, 7); break;
        default: nn_rows(o, ldo, p, Y, ldy, nk, hd, va, 8); break;
        }
    }
}

/* KK (1-8) keys of C from key k0, columns [c, c + 16 U): each a sum over
 * the rows in order, added to C */
static inline __attribute__((always_inline)) void
    tn_block(float *C, int ldc, const float *P, int ldp, const float *X, int ldx, int nr, int k0,
             int c, __m512 va, const int KK, const int U)
{
    __m512 a[8][2];
    for (int i = 0; i < KK; i++)
        for (int u = 0; u < U; u++) a[i][u] = _mm512_setzero_ps();
    for (int r = 0; r < nr; r++) {
        const float *x = X + (size_t)r * ldx + c, *p = P + (size_t)r * ldp + k0;
        __m512 xv[2];
        for (int u = 0; u < U; u++) xv[u] = _mm512_loadu_ps(x + 16 * u);
        for (int i = 0; i < KK; i++) {
            const __m512 b = _mm512_set1_ps(p[i]);
            for (int u = 0; u < U; u++) a[i][u] = _mm512_fmadd_ps(b, xv[u], a[i][u]);
        }
    }
    for (int i = 0; i < KK; i++)
        for (int u = 0; u < U; u++) {
            float *o = C + (size_t)(k0 + i) * ldc + c + 16 * u;
            _mm512_storeu_ps(o, _mm512_fmadd_ps(va, a[i][u], _mm512_loadu_ps(o)));
        }
}

static inline __attribute__((always_inline)) void tn_keys(float *C, int ldc, const float *P, int ldp,
                                                          const float *X, int ldx, int nr, int k0,
                                                          int hd, __m512 va, const int KK)
{
    int c = 0;
    for (; c + 32 <= hd; c += 32) tn_block(C, ldc, P, ldp, X, ldx, nr, k0, c, va, KK, 2);
    if (c < hd) tn_block(C, ldc, P, ldp, X, ldx, nr, k0, c, va, KK, 1);
}

/* C [NK, hd] += alpha P^T X over rows r < nr (P [nr, ldp], X [nr, ldx]). */
void nn_tile_tn(float *C, int ldc, const float *P, int ldp, const float *X, int ldx, int nr,
                int NK, int hd, float alpha)
{
    const __m512 va = _mm512_set1_ps(alpha);
    for (int k0 = 0; k0 < NK; k0 += 8) {
        switch (NK - k0 < 8 ? NK - k0 : 8) {
        case 1: tn_keys(C, ldc, P, ldp, X, ldx, nr, k0, hd, va, 1); break;
        case 2: tn_keys(C, ldc, P, ldp, X, ldx, nr, k0, hd, va, 2); break;
        case 3: tn_keys(C, ldc, P, ldp, X, ldx, nr, k0, hd, va, 3); break;
        case 4: tn_keys(C, ldc, P, ldp, X, ldx, nr, k0, hd, va, 4); break;
        case 5: tn_keys(C, ldc, P, ldp, X, ldx, nr, k0, hd, va, 5); break;
        case 6: tn_keys(C, ldc, P, ldp, X, ldx, nr, k0, hd, va, 6); break;
        case 7: tn_keys(C, ldc, P, ldp, X, ldx, nr, k0, hd, va, 7); break;
        default: tn_keys(C, ldc, P, ldp, X, ldx, nr, k0, hd, va, 8); break;
        }
    }
}

#pragma GCC pop_options

void nn_tile_nt(float *S, int lds, const float *X, int ldx, const float *Yt, int ldy, int R,
                int NJ, int hd, float alpha)
{
    if (nn_tiles_ok()) nt_avx512(S, lds, X, ldx, Yt, ldy, R, NJ, hd, alpha);
    else nt_plain(S, lds, X, ldx, Yt, ldy, R, NJ, hd, alpha);
}
#else

int nn_tiles_ok(void) { return 0; }

void nn_tile_nt(float *S, int lds, const float *X, int ldx, const float *Yt, int ldy, int R,
                int NJ, int hd, float alpha)
{
    nt_plain(S, lds, X, ldx, Yt, ldy, R, NJ, hd, alpha);
}

void nn_tile_nn(float *O, int ldo, const float *P, int ldp, const float *Y, int ldy, int R,
                int nk, int hd, float alpha)
{
    for (int r = 0; r < R; r++)
        for (int c = 0; c < hd; c++) {
            float s = 0.0f;
            for (int k = 0; k < nk; k++) s += P[(size_t)r * ldp + k] * Y[(size_t)k * ldy + c];
            O[(size_t)r * ldo + c] = alpha * s;
        }
}

void nn_tile_tn(float *C, int ldc, const float *P, int ldp, const float *X, int ldx, int nr,
                int NK, int hd, float alpha)
{
    for (int k = 0; k < NK; k++)
        for (int c = 0; c < hd; c++) {
            float s = 0.0f;
            for (int r = 0; r < nr; r++) s += P[(size_t)r * ldp + k] * X[(size_t)r * ldx + c];
            C[(size_t)k * ldc + c] += alpha * s;
        }
}
#endif

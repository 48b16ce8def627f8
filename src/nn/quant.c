/* quant.c: GGUF block types (Q8_0, Q4_K, Q5_K, Q6_K): dequantization,
 * quantization (for export) and products with f32 vectors (decoding).
 * quant.h describes the layouts.
 *
 * dot_rows quantizes x once per chunk of XCH columns, then each weight
 * row's product is a sum over blocks of (integer block sum) x scales.
 * The integer sums are exact, so the portable and the AVX-512 kernels of
 * the K types give the same bits; Q8_0's AVX-512 kernel adds two blocks
 * per f32 vector, a different summation order (tests allow 1e-6). */
#include "quant.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

typedef struct {
    uint16_t d;
    int8_t qs[32];
} blk_q8_0;

typedef struct {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qs[128];
} blk_q4_k;

typedef struct {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qh[32];
    uint8_t qs[128];
} blk_q5_k;

typedef struct {
    uint8_t ql[128];
    uint8_t qh[64];
    int8_t scales[16];
    uint16_t d;
} blk_q6_k;

_Static_assert(sizeof(blk_q8_0) == 34, "Q8_0 block");
_Static_assert(sizeof(blk_q4_k) == 144, "Q4_K block");
_Static_assert(sizeof(blk_q5_k) == 176, "Q5_K block");
_Static_assert(sizeof(blk_q6_k) == 210, "Q6_K block");

/* ------------------------------------------------------------ scalars */
float nn_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, man = h & 0x3ffu, u;
    if (e == 0x1f) u = sign | 0x7f800000u | (man << 13);
    else if (e) u = sign | ((e + 112) << 23) | (man << 13);
    else {
        float f = (float)man * 5.9604644775390625e-8f; /* man * 2^-24 */
        memcpy(&u, &f, 4);
        u |= sign;
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

#define F16(h) nn_f16_to_f32(h)

/* round(v) clamped to [lo, hi]; NaN gives 0 (never an undefined conversion) */
static int nearest(float v, int lo, int hi)
{
    if (!(v == v)) return 0;
    if (v <= (float)lo) return lo;
    if (v >= (float)hi) return hi;
    return (int)lrintf(v);
}

/* The 6-bit scale and min of sub-block j of a K block (quant.h). */
static void k_scales(const uint8_t *b, uint8_t *sc, uint8_t *mn)
{
    for (int j = 0; j < 4; j++) {
        sc[j] = b[j] & 63;
        mn[j] = b[j + 4] & 63;
    }
    for (int j = 4; j < 8; j++) {
        sc[j] = (uint8_t)((b[j + 4] & 15) | (b[j - 4] >> 6) << 4);
        mn[j] = (uint8_t)((b[j + 4] >> 4) | (b[j] >> 6) << 4);
    }
}

static void k_pack_scales(const int *sc, const int *mn, uint8_t *b)
{
    memset(b, 0, 12);
    for (int j = 0; j < 4; j++) {
        b[j] = (uint8_t)sc[j];
        b[j + 4] = (uint8_t)mn[j];
    }
    for (int j = 4; j < 8; j++) {
        b[j + 4] = (uint8_t)((sc[j] & 15) | (mn[j] & 15) << 4);
        b[j - 4] |= (uint8_t)((sc[j] >> 4) << 6);
        b[j] |= (uint8_t)((mn[j] >> 4) << 6);
    }
}

/* ------------------------------------------------------------ dequantization */
static void q8_0_to_f32(const void *src, float *dst, int n)
{
    const blk_q8_0 *b = src;
    for (int k = 0; k < n / 32; k++, b++) {
        float d = F16(b->d);
        for (int i = 0; i < 32; i++) dst[32 * k + i] = d * (float)b->qs[i];
    }
}

static void q4_k_to_f32(const void *src, float *dst, int n)
{
    const blk_q4_k *b = src;
    for (int k = 0; k < n / 256; k++, b++) {
        float d = F16(b->d), dmin = F16(b->dmin);
        uint8_t sc[8], mn[8];
        k_scales(b->scales, sc, mn);
        float *y = dst + 256 * k;
        for (int j = 0; j < 8; j++) {
            const uint8_t *q = b->qs + 32 * (j / 2);
            int shift = 4 * (j & 1);
            float dj = d * (float)sc[j], mj = dmin * (float)mn[j];
            for (int l = 0; l < 32; l++) y[32 * j + l] = dj * (float)((q[l] >> shift) & 15) - mj;
        }
    }
}

static void q5_k_to_f32(const void *src, float *dst, int n)
{
    const blk_q5_k *b = src;
    for (int k = 0; k < n / 256; k++, b++) {
        float d = F16(b->d), dmin = F16(b->dmin);
        uint8_t sc[8], mn[8];
        k_scales(b->scales, sc, mn);
        float *y = dst + 256 * k;
        for (int j = 0; j < 8; j++) {
            const uint8_t *q = b->qs + 32 * (j / 2);
            int shift = 4 * (j & 1);
            float dj = d * (float)sc[j], mj = dmin * (float)mn[j];
            for (int l = 0; l < 32; l++) {
                int v = ((q[l] >> shift) & 15) | ((b->qh[l] >> j) & 1) << 4;
                y[32 * j + l] = dj * (float)v - mj;
            }
        }
    }
}

/* Q6_K weight e of a block (0..63, before the -32). */
static int q6_code(const blk_q6_k *b, int e)
{
    int n = e / 128, r = e % 128, quarter = r / 32, l = r % 32;
    uint8_t ql = b->ql[64 * n + l + 32 * (quarter & 1)];
    int lo = quarter < 2 ? ql & 15 : ql >> 4;
    int hi = (b->qh[32 * n + l] >> (2 * quarter)) & 3;
    return lo | hi << 4;
}

static void q6_k_to_f32(const void *src, float *dst, int n)
{
    const blk_q6_k *b = src;
    for (int k = 0; k < n / 256; k++, b++) {
        float d = F16(b->d);
        for (int e = 0; e < 256; e++)
            dst[256 * k + e] = d * (float)b->scales[e / 16] * (float)(q6_code(b, e) - 32);
    }
}

/* ------------------------------------------------------------ quantization
 * Plain rules (the scale that maps each group's range onto the codes, no
 * search): eef writes these types for export and tests; the published
 * files' own quantization is whatever wrote them. */
static void q8_0_from_f32(const float *src, void *dst, int n)
{
    blk_q8_0 *b = dst;
    for (int k = 0; k < n / 32; k++, b++) {
        const float *x = src + 32 * k;
        float amax = 0.0f;
        for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[i]));
        b->d = nn_f32_to_f16(amax / 127.0f);
        float d = F16(b->d), id = d > 0.0f ? 1.0f / d : 0.0f;
        for (int i = 0; i < 32; i++) b->qs[i] = (int8_t)nearest(x[i] * id, -127, 127);
    }
}

/* The K types' scales and mins of one block of 256: codes q in 0..levels
 * with x ~ d sc_j q - dmin m_j; *d and *dmin get the f16 values. */
static void k_quantize(const float *x, int levels, uint16_t *dh, uint16_t *dminh, int *sc, int *mn,
                       uint8_t *q)
{
    float scale[8], mins[8], maxs = 0.0f, maxm = 0.0f;
    for (int j = 0; j < 8; j++) {
        float lo = 0.0f, hi = 0.0f;
        for (int l = 0; l < 32; l++) lo = fminf(lo, x[32 * j + l]), hi = fmaxf(hi, x[32 * j + l]);
        scale[j] = (hi - lo) / (float)levels;
        mins[j] = -lo;
        maxs = fmaxf(maxs, scale[j]);
        maxm = fmaxf(maxm, mins[j]);
    }
    *dh = nn_f32_to_f16(maxs / 63.0f);
    *dminh = nn_f32_to_f16(maxm / 63.0f);
    float d = F16(*dh), dmin = F16(*dminh);
    for (int j = 0; j < 8; j++) {
        sc[j] = d > 0.0f ? nearest(scale[j] / d, 0, 63) : 0;
        mn[j] = dmin > 0.0f ? nearest(mins[j] / dmin, 0, 63) : 0;
        float dj = d * (float)sc[j], mj = dmin * (float)mn[j];
        for (int l = 0; l < 32; l++)
            q[32 * j + l] = (uint8_t)(dj > 0.0f ? nearest((x[32 * j + l] + mj) / dj, 0, levels) : 0);
    }
}

static void q4_k_from_f32(const float *src, void *dst, int n)
{
    blk_q4_k *b = dst;
    for (int k = 0; k < n / 256; k++, b++) {
        int sc[8], mn[8];
        uint8_t q[256];
        k_quantize(src + 256 * k, 15, &b->d, &b->dmin, sc, mn, q);
        k_pack_scales(sc, mn, b->scales);
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++)
                b->qs[32 * c + l] = (uint8_t)(q[64 * c + l] | q[64 * c + 32 + l] << 4);
    }
}

static void q5_k_from_f32(const float *src, void *dst, int n)
{
    blk_q5_k *b = dst;
    for (int k = 0; k < n / 256; k++, b++) {
        int sc[8], mn[8];
        uint8_t q[256];
        k_quantize(src + 256 * k, 31, &b->d, &b->dmin, sc, mn, q);
        k_pack_scales(sc, mn, b->scales);
        memset(b->qh, 0, sizeof b->qh);
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++)
                b->qs[32 * c + l] = (uint8_t)((q[64 * c + l] & 15) | (q[64 * c + 32 + l] & 15) << 4);
        for (int j = 0; j < 8; j++)
            for (int l = 0; l < 32; l++) b->qh[l] |= (uint8_t)((q[32 * j + l] >> 4) << j);
    }
}

static void q6_k_from_f32(const float *src, void *dst, int n)
{
    blk_q6_k *b = dst;
    for (int k = 0; k < n / 256; k++, b++) {
        const float *x = src + 256 * k;
        float scale[16], maxs = 0.0f;
        for (int g = 0; g < 16; g++) {
            float amax = 0.0f;
            for (int i = 0; i < 16; i++) amax = fmaxf(amax, fabsf(x[16 * g + i]));
            scale[g] = amax / 31.0f;
            maxs = fmaxf(maxs, scale[g]);
        }
        b->d = nn_f32_to_f16(maxs / 127.0f);
        float d = F16(b->d);
        uint8_t q[256];
        for (int g = 0; g < 16; g++) {
            int s = d > 0.0f ? nearest(scale[g] / d, 0, 127) : 0;
            b->scales[g] = (int8_t)s;
            float dg = d * (float)s;
            for (int i = 0; i < 16; i++)
                q[16 * g + i] = (uint8_t)(32 + (dg > 0.0f ? nearest(x[16 * g + i] / dg, -32, 31) : 0));
        }
        for (int h = 0; h < 2; h++)
            for (int l = 0; l < 32; l++) {
                const uint8_t *e = q + 128 * h + l;
                b->ql[64 * h + l] = (uint8_t)((e[0] & 15) | (e[64] & 15) << 4);
                b->ql[64 * h + l + 32] = (uint8_t)((e[32] & 15) | (e[96] & 15) << 4);
                b->qh[32 * h + l] = (uint8_t)((e[0] >> 4) | (e[32] >> 4) << 2 | (e[64] >> 4) << 4 |
                                              (e[96] >> 4) << 6);
            }
    }
}

/* ------------------------------------------------------------ x, quantized
 * A chunk of at most XCH columns of x: 8-bit codes, one f32 scale per
 * block (32 for Q8_0, 256 for the K types) and, per 16, the codes' sums. */
#define XCH 4096

typedef struct {
    int8_t q[XCH] __attribute__((aligned(64)));
    float d[XCH / 32];
    int16_t bs[XCH / 16];
} xq;

/* Rounding as llama.cpp rounds activations for these dots, so both
 * runtimes multiply the same integers: per 32 (Q8_0's dot type), d =
 * amax / 127 kept in f16, codes x * (127 / amax) rounded to nearest
 * (ties to even); per 256 (Q8_K), the element of largest magnitude maps
 * to -127: d = -max / 127, codes nearest of x / d, at most 127. */
static void quant_x(const float *x, int n, int block, xq *o)
{
    for (int b = 0; b < n / block; b++) {
        const float *v = x + block * b;
        int8_t *q = o->q + block * b;
        float amax = 0.0f, max = 0.0f;
        for (int i = 0; i < block; i++)
            if (fabsf(v[i]) > amax) amax = fabsf(v[i]), max = v[i];
        if (!(amax > 0.0f) || !(amax < INFINITY)) { /* 0, or not finite: nothing to keep */
            o->d[b] = 0.0f;
            memset(q, 0, (size_t)block);
            continue;
        }
        if (block == 32) {
            float id = 127.0f / amax;
            o->d[b] = nn_f16_to_f32(nn_f32_to_f16(amax / 127.0f));
            for (int i = 0; i < 32; i++) q[i] = (int8_t)nearest(v[i] * id, -127, 127);
        } else {
            float is = -127.0f / max;
            o->d[b] = 1.0f / is;
            for (int i = 0; i < block; i++) q[i] = (int8_t)nearest(is * v[i], -128, 127);
        }
    }
    if (block == 256)
        for (int g = 0; g < n / 16; g++) {
            int s = 0;
            for (int i = 0; i < 16; i++) s += o->q[16 * g + i];
            o->bs[g] = (int16_t)s;
        }
}

/* ------------------------------------------------------------ portable dots
 * Each: the product of nb blocks of one weight row with x's chunk. */
static float dot_q8_0_c(const void *wv, const xq *x, int nb)
{
    const blk_q8_0 *w = wv;
    float acc = 0.0f;
    for (int b = 0; b < nb; b++) {
        int s = 0;
        for (int i = 0; i < 32; i++) s += w[b].qs[i] * x->q[32 * b + i];
        acc += F16(w[b].d) * x->d[b] * (float)s;
    }
    return acc;
}

static int k_mins(const uint8_t *mn, const int16_t *bs)
{
    int s = 0;
    for (int j = 0; j < 8; j++) s += mn[j] * (bs[2 * j] + bs[2 * j + 1]);
    return s;
}

static float dot_q4_k_c(const void *wv, const xq *x, int nb)
{
    const blk_q4_k *w = wv;
    float acc = 0.0f;
    for (int b = 0; b < nb; b++, w++) {
        uint8_t sc[8], mn[8];
        k_scales(w->scales, sc, mn);
        const int8_t *q8 = x->q + 256 * b;
        int sumi = 0;
        for (int j = 0; j < 8; j++) {
            const uint8_t *q = w->qs + 32 * (j / 2);
            int shift = 4 * (j & 1), s = 0;
            for (int l = 0; l < 32; l++) s += ((q[l] >> shift) & 15) * q8[32 * j + l];
            sumi += sc[j] * s;
        }
        int summ = k_mins(mn, x->bs + 16 * b);
        acc += x->d[b] * (F16(w->d) * (float)sumi - F16(w->dmin) * (float)summ);
    }
    return acc;
}

static float dot_q5_k_c(const void *wv, const xq *x, int nb)
{
    const blk_q5_k *w = wv;
    float acc = 0.0f;
    for (int b = 0; b < nb; b++, w++) {
        uint8_t sc[8], mn[8];
        k_scales(w->scales, sc, mn);
        const int8_t *q8 = x->q + 256 * b;
        int sumi = 0;
        for (int j = 0; j < 8; j++) {
            const uint8_t *q = w->qs + 32 * (j / 2);
            int shift = 4 * (j & 1), s = 0;
            for (int l = 0; l < 32; l++)
                s += (((q[l] >> shift) & 15) | ((w->qh[l] >> j) & 1) << 4) * q8[32 * j + l];
            sumi += sc[j] * s;
        }
        int summ = k_mins(mn, x->bs + 16 * b);
        acc += x->d[b] * (F16(w->d) * (float)sumi - F16(w->dmin) * (float)summ);
    }
    return acc;
}

static int q6_offset(const int8_t *sc, const int16_t *bs)
{
    int s = 0;
    for (int g = 0; g < 16; g++) s += sc[g] * bs[g];
    return 32 * s;
}

static float dot_q6_k_c(const void *wv, const xq *x, int nb)
{
    const blk_q6_k *w = wv;
    float acc = 0.0f;
    for (int b = 0; b < nb; b++, w++) {
        const int8_t *q8 = x->q + 256 * b;
        int sumi = 0;
        for (int g = 0; g < 16; g++) {
            int s = 0;
            for (int i = 0; i < 16; i++) s += q6_code(w, 16 * g + i) * q8[16 * g + i];
            sumi += w->scales[g] * s;
        }
        sumi -= q6_offset(w->scales, x->bs + 16 * b);
        acc += x->d[b] * F16(w->d) * (float)sumi;
    }
    return acc;
}

/* ------------------------------------------------------------ AVX-512 VNNI dots
 * vpdpbusd multiplies unsigned by signed bytes and adds groups of four
 * into 32-bit lanes: the K types' codes are unsigned already; Q8_0's
 * signed weights go in as |w| with their signs moved onto x. */
#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))

AVX512 static inline __m512i two_halves(const int8_t *a, const int8_t *b)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)a)),
                              _mm256_loadu_si256((const __m256i *)b), 1);
}

AVX512 static inline __m512i halves32(int a, int b)
{
    return _mm512_inserti64x4(_mm512_set1_epi32(a), _mm256_set1_epi32(b), 1);
}

AVX512 static float dot_q8_0_avx(const void *wv, const xq *x, int nb)
{
    const blk_q8_0 *w = wv;
    const __m512i zero = _mm512_setzero_si512();
    __m512 acc = _mm512_setzero_ps();
    int b = 0;
    for (; b + 2 <= nb; b += 2) {
        __m512i wq = two_halves(w[b].qs, w[b + 1].qs);
        __m512i xv = _mm512_loadu_si512(x->q + 32 * b);
        __m512i sx = _mm512_mask_sub_epi8(xv, _mm512_movepi8_mask(wq), zero, xv);
        __m512i s = _mm512_dpbusd_epi32(zero, _mm512_abs_epi8(wq), sx);
        __m512 d = _mm512_insertf32x8(_mm512_set1_ps(_cvtsh_ss(w[b].d) * x->d[b]),
                                      _mm256_set1_ps(_cvtsh_ss(w[b + 1].d) * x->d[b + 1]), 1);
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), d, acc);
    }
    float r = _mm512_reduce_add_ps(acc);
    for (; b < nb; b++) {
        int s = 0;
        for (int i = 0; i < 32; i++) s += w[b].qs[i] * x->q[32 * b + i];
        r += _cvtsh_ss(w[b].d) * x->d[b] * (float)s;
    }
    return r;
}

AVX512 static float dot_q4_k_avx(const void *wv, const xq *x, int nb)
{
    const blk_q4_k *w = wv;
    const __m512i m4 = _mm512_set1_epi8(15), zero = _mm512_setzero_si512();
    float acc = 0.0f;
    for (int b = 0; b < nb; b++, w++) {
        uint8_t sc[8], mn[8];
        k_scales(w->scales, sc, mn);
        const int8_t *q8 = x->q + 256 * b;
        __m512i isum = zero;
        for (int p = 0; p < 2; p++) {
            /* bytes 64p..64p+63: low nibbles are sub-blocks 4p, 4p+2; high 4p+1, 4p+3 */
            __m512i v = _mm512_loadu_si512(w->qs + 64 * p);
            __m512i lo = _mm512_and_si512(v, m4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
            const int8_t *xs = q8 + 128 * p;
            __m512i slo = _mm512_dpbusd_epi32(zero, lo, two_halves(xs, xs + 64));
            __m512i shi = _mm512_dpbusd_epi32(zero, hi, two_halves(xs + 32, xs + 96));
            isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(slo, halves32(sc[4 * p], sc[4 * p + 2])));
            isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(shi, halves32(sc[4 * p + 1], sc[4 * p + 3])));
        }
        int sumi = _mm512_reduce_add_epi32(isum);
        int summ = k_mins(mn, x->bs + 16 * b);
        acc += x->d[b] * (_cvtsh_ss(w->d) * (float)sumi - _cvtsh_ss(w->dmin) * (float)summ);
    }
    return acc;
}

AVX512 static inline __m512i halves8(int a, int b)
{
    return _mm512_inserti64x4(_mm512_set1_epi8((char)a), _mm256_set1_epi8((char)b), 1);
}

AVX512 static float dot_q5_k_avx(const void *wv, const xq *x, int nb)
{
    const blk_q5_k *w = wv;
    const __m512i m4 = _mm512_set1_epi8(15), b4 = _mm512_set1_epi8(16), zero = _mm512_setzero_si512();
    float acc = 0.0f;
    for (int b = 0; b < nb; b++, w++) {
        uint8_t sc[8], mn[8];
        k_scales(w->scales, sc, mn);
        const int8_t *q8 = x->q + 256 * b;
        const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)w->qh));
        __m512i isum = zero;
        for (int p = 0; p < 2; p++) {
            __m512i v = _mm512_loadu_si512(w->qs + 64 * p);
            __m512i lo = _mm512_and_si512(v, m4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
            int j = 4 * p; /* sub-blocks j, j+2 (lo) and j+1, j+3 (hi) */
            lo = _mm512_mask_add_epi8(lo, _mm512_test_epi8_mask(qh, halves8(1 << j, 1 << (j + 2))), lo, b4);
            hi = _mm512_mask_add_epi8(hi, _mm512_test_epi8_mask(qh, halves8(1 << (j + 1), 1 << (j + 3))),
                                      hi, b4);
            const int8_t *xs = q8 + 128 * p;
            __m512i slo = _mm512_dpbusd_epi32(zero, lo, two_halves(xs, xs + 64));
            __m512i shi = _mm512_dpbusd_epi32(zero, hi, two_halves(xs + 32, xs + 96));
            isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(slo, halves32(sc[j], sc[j + 2])));
            isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(shi, halves32(sc[j + 1], sc[j + 3])));
        }
        int sumi = _mm512_reduce_add_epi32(isum);
        int summ = k_mins(mn, x->bs + 16 * b);
        acc += x->d[b] * (_cvtsh_ss(w->d) * (float)sumi - _cvtsh_ss(w->dmin) * (float)summ);
    }
    return acc;
}

AVX512 static float dot_q6_k_avx(const void *wv, const xq *x, int nb)
{
    const blk_q6_k *w = wv;
    const __m512i m4 = _mm512_set1_epi8(15), m2 = _mm512_set1_epi8(3), zero = _mm512_setzero_si512();
    /* scale g repeated over the 4 lanes of its 16 codes, for groups 4k..4k+3 */
    const __m128i rep[4] = {
        _mm_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3),
        _mm_setr_epi8(4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7),
        _mm_setr_epi8(8, 8, 8, 8, 9, 9, 9, 9, 10, 10, 10, 10, 11, 11, 11, 11),
        _mm_setr_epi8(12, 12, 12, 12, 13, 13, 13, 13, 14, 14, 14, 14, 15, 15, 15, 15),
    };
    float acc = 0.0f;
    for (int b = 0; b < nb; b++, w++) {
        const int8_t *q8 = x->q + 256 * b;
        const __m128i scv = _mm_loadu_si128((const __m128i *)w->scales);
        __m512i isum = zero;
        for (int h = 0; h < 2; h++) {
            __m512i ql = _mm512_loadu_si512(w->ql + 64 * h);
            __m256i qh32 = _mm256_loadu_si256((const __m256i *)(w->qh + 32 * h));
            /* low half: qh bits 0-1 (codes l), high half: bits 2-3 (codes l + 32) */
            __m512i qh = _mm512_inserti64x4(_mm512_castsi256_si512(qh32), _mm256_srli_epi16(qh32, 2), 1);
            __m512i qa = _mm512_or_si512(_mm512_and_si512(ql, m4),
                                         _mm512_slli_epi16(_mm512_and_si512(qh, m2), 4));
            __m512i qb = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                         _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(qh, 4), m2), 4));
            __m512i sa = _mm512_dpbusd_epi32(zero, qa, _mm512_loadu_si512(q8 + 128 * h));
            __m512i sb = _mm512_dpbusd_epi32(zero, qb, _mm512_loadu_si512(q8 + 128 * h + 64));
            __m512i ga = _mm512_cvtepi8_epi32(_mm_shuffle_epi8(scv, rep[2 * h]));
            __m512i gb = _mm512_cvtepi8_epi32(_mm_shuffle_epi8(scv, rep[2 * h + 1]));
            isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(sa, ga));
            isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(sb, gb));
        }
        int sumi = _mm512_reduce_add_epi32(isum) - q6_offset(w->scales, x->bs + 16 * b);
        acc += x->d[b] * _cvtsh_ss(w->d) * (float)sumi;
    }
    return acc;
}

/* ------------------------------------------------------------ dispatch */
typedef float (*dot_fn)(const void *w, const xq *x, int nb);

enum { K_Q8_0, K_Q4_K, K_Q5_K, K_Q6_K, K_N };
static const dot_fn dots_c[K_N] = { dot_q8_0_c, dot_q4_k_c, dot_q5_k_c, dot_q6_k_c };
static const dot_fn dots_avx[K_N] = { dot_q8_0_avx, dot_q4_k_avx, dot_q5_k_avx, dot_q6_k_avx };
static const dot_fn *dots = dots_c;
static int have_avx;

void nn_quant_select(void)
{
    __builtin_cpu_init();
    have_avx = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vnni");
    dots = have_avx ? dots_avx : dots_c;
}

int nn_quant_simd(int on)
{
    int was = dots == dots_avx;
    dots = on && have_avx ? dots_avx : dots_c;
    return was;
}

const char *nn_quant_kernels(void) { return dots == dots_avx ? "avx512vnni" : "c"; }

static void dot_rows(int kind, int block, int block_bytes, int xblock, float *y, const void *w,
                     size_t rb, const float *x, int I, int r0, int r1)
{
    xq q;
    const dot_fn f = dots[kind];
    for (int c0 = 0; c0 < I; c0 += XCH) {
        int n = I - c0 < XCH ? I - c0 : XCH;
        quant_x(x + c0, n, xblock, &q);
        size_t off = (size_t)(c0 / block) * (size_t)block_bytes;
        for (int r = r0; r < r1; r++) {
            float s = f((const char *)w + (size_t)r * rb + off, &q, n / block);
            y[r - r0] = c0 ? y[r - r0] + s : s;
        }
    }
}

#define DOT_ROWS(fn, kind, block, bytes, xblock)                                                   \
    static void fn(float *y, const void *w, size_t rb, const float *x, int I, int r0, int r1)      \
    {                                                                                              \
        dot_rows(kind, block, bytes, xblock, y, w, rb, x, I, r0, r1);                              \
    }
DOT_ROWS(q8_0_dot_rows, K_Q8_0, 32, 34, 32)
DOT_ROWS(q4_k_dot_rows, K_Q4_K, 256, 144, 256)
DOT_ROWS(q5_k_dot_rows, K_Q5_K, 256, 176, 256)
DOT_ROWS(q6_k_dot_rows, K_Q6_K, 256, 210, 256)

const nn_dtype_ops nn_ops_q8_0 = { "Q8_0", 32, 34, q8_0_to_f32, q8_0_from_f32, q8_0_dot_rows };
const nn_dtype_ops nn_ops_q4_k = { "Q4_K", 256, 144, q4_k_to_f32, q4_k_from_f32, q4_k_dot_rows };
const nn_dtype_ops nn_ops_q5_k = { "Q5_K", 256, 176, q5_k_to_f32, q5_k_from_f32, q5_k_dot_rows };
const nn_dtype_ops nn_ops_q6_k = { "Q6_K", 256, 210, q6_k_to_f32, q6_k_from_f32, q6_k_dot_rows };

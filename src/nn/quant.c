/* quant.c: GGUF block types (Q8_0, Q4_K, Q5_K, Q6_K): dequantization,
 * quantization (for export) and products with f32 rows (inference and
 * the frozen base of tuning), on the packed blocks with x rounded to 8
 * bits; quant.h describes the layouts, "products" below the kernels. */
#include "quant.h"

#include <cpuid.h>
#include <immintrin.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

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
static inline void k_scales(const uint8_t *b, uint8_t *sc, uint8_t *mn)
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

/* ------------------------------------------------------------ products
 * y = x W^T for any number of rows of x, on the packed blocks.  Every
 * type is read as sub-blocks: S weights (32; Q6_K 16) that share one
 * scale, as unsigned 8-bit codes q with w = dw (q - o) + mw (o: 128 for
 * Q8_0, 32 for Q6_K, else 0; dw = d sc and mw = -dmin m, exact in f32:
 * an f16 times a 6- or 8-bit integer).  16 sub-blocks make a group, one
 * per 32-bit lane of a 512-bit vector: a weight row becomes lane rows
 * (wgroup: lane j holds one sub-block's codes, 4 a step), and so does
 * each row of x (xgroup), rounded to 8 bits as llama.cpp rounds it (Q8_0:
 * per 32, f16 scale; Q8_K: per 256), so vpdpbusd (unsigned by signed
 * bytes, 4 products a lane) gives each lane the exact integer sum over its
 * sub-block; corr = -o sum x starts it.  Then, per lane,
 *     acc = fma(isum, dw dx, acc)  [and fma(sum x, mw dx, acc) for mins]
 * runs over the groups in order, and y = the 16 lanes added in a fixed
 * tree (lanes_sum).  The portable C and the AVX-512 kernels do exactly
 * these operations (fmaf, f32 products), so they give the same bits, and
 * an output's bits depend only on its own row of x and of W, never on
 * the other rows computed with it (batched decoding == alone; prefill ==
 * decoding one token at a time).
 *
 * Which lane a sub-block takes is the type's lane[] table: the one its
 * AVX-512 packing (a 16 x 8 transpose of 32-bit words) produces. */
enum { LANES = 16, MAXT = 8, AT = 16 /* AMX: rows of W and of x per tile */ };

typedef struct {
    uint8_t q[MAXT][LANES][4]; /* step t, lane j: codes 4t..4t+3 of the lane's sub-block */
    float dw[LANES], mw[LANES];
} wgroup;

typedef struct {
    int8_t q[MAXT][LANES][4]; /* x's codes, laid out as wgroup's */
    int32_t corr[LANES];      /* -o (sum of the sub-block's codes) */
    float d[LANES];           /* the scale of the x block holding the sub-block */
    float s[LANES];           /* the sum of the sub-block's codes (the mins' term) */
} xgroup;

/* How a type reads. */
typedef struct qkind {
    int S, xblock, offset, mins, block, block_bytes;
    uint8_t lane[LANES]; /* sub-block j of a group goes to lane[j] */
    /* the sub-blocks of nb blocks: S codes each into q, scales into dw, mw */
    void (*unpack)(const void *row, int nb, uint8_t *q, float *dw, float *mw);
    /* AVX-512: the nb blocks of a row straight into lane rows (NULL: unpack) */
    void (*pack)(const void *row, int nb, wgroup *o);
    /* AVX-512, for AMX: the sub-blocks of a row as unpack gives them, sub-block
     * sb's codes at q + sb 16 S, scales at dw[16 sb], mw[16 sb] (NULL: unpack) */
    void (*amx_row)(const void *row, int nb, uint8_t *q, float *dw, float *mw);
    /* AVX-512, one row of x: <W row, x> from the row's nb blocks, x's
     * groups and xregs */
    float (*dot1)(const void *row, int nb, const xgroup *x, const uint32_t *xr);
} qkind;

static void q8_0_unpack(const void *row, int nb, uint8_t *q, float *dw, float *mw)
{
    const blk_q8_0 *b = row;
    for (int k = 0; k < nb; k++, b++) {
        for (int i = 0; i < 32; i++) q[32 * k + i] = (uint8_t)(b->qs[i] + 128);
        dw[k] = F16(b->d), mw[k] = 0.0f;
    }
}

/* Q4_K and Q5_K: codes 0..15 (0..31 with qh), 8 sub-blocks of 32 a block */
static void k45_unpack(const uint8_t *hd, const uint8_t *qs, const uint8_t *qh, uint8_t *q, float *dw,
                       float *mw)
{
    uint16_t d16, m16;
    memcpy(&d16, hd, 2), memcpy(&m16, hd + 2, 2);
    float d = F16(d16), dmin = F16(m16);
    uint8_t sc[8], mn[8];
    k_scales(hd + 4, sc, mn);
    for (int j = 0; j < 8; j++) {
        const uint8_t *s = qs + 32 * (j / 2);
        const int shift = 4 * (j & 1);
        for (int l = 0; l < 32; l++)
            q[32 * j + l] = (uint8_t)(((s[l] >> shift) & 15) | (qh ? ((qh[l] >> j) & 1) << 4 : 0));
        dw[j] = d * (float)sc[j], mw[j] = -(dmin * (float)mn[j]);
    }
}

static void q4_k_unpack(const void *row, int nb, uint8_t *q, float *dw, float *mw)
{
    const blk_q4_k *b = row;
    for (int k = 0; k < nb; k++, b++)
        k45_unpack((const uint8_t *)b, b->qs, NULL, q + 256 * k, dw + 8 * k, mw + 8 * k);
}

static void q5_k_unpack(const void *row, int nb, uint8_t *q, float *dw, float *mw)
{
    const blk_q5_k *b = row;
    for (int k = 0; k < nb; k++, b++)
        k45_unpack((const uint8_t *)b, b->qs, b->qh, q + 256 * k, dw + 8 * k, mw + 8 * k);
}

static void q6_k_unpack(const void *row, int nb, uint8_t *q, float *dw, float *mw)
{
    const blk_q6_k *b = row;
    for (int k = 0; k < nb; k++, b++) {
        float d = F16(b->d);
        for (int e = 0; e < 256; e++) q[256 * k + e] = (uint8_t)q6_code(b, e);
        for (int g = 0; g < 16; g++) dw[16 * k + g] = d * (float)b->scales[g], mw[16 * k + g] = 0.0f;
    }
}

/* Sub-blocks of a row of I and its groups. */
static int n_sub(const qkind *k, int I) { return I / k->S; }
static int n_groups(const qkind *k, int I) { return (n_sub(k, I) + LANES - 1) / LANES; }

/* One group of n <= 16 sub-blocks (codes q [n S], dw, mw) into lane rows;
 * lanes without a sub-block are zero (they add 0 to every lane). */
static void lanes_w(const qkind *k, int n, const uint8_t *q, const float *dw, const float *mw,
                    wgroup *o)
{
    const int S = k->S, T = S / 4;
    memset(o, 0, sizeof *o);
    for (int j = 0; j < n; j++) {
        const int l = k->lane[j];
        for (int t = 0; t < T; t++) memcpy(o->q[t][l], q + (size_t)S * j + 4 * t, 4);
        o->dw[l] = dw[j], o->mw[l] = mw[j];
    }
}

/* Rounding as llama.cpp rounds activations for these dots, so both
 * runtimes multiply the same integers: per 32 (Q8_0's dot type), d =
 * amax / 127 kept in f16, codes x * (127 / amax) rounded to nearest
 * (ties to even); per 256 (Q8_K), the element of largest magnitude maps
 * to -127: d = -max / 127, codes nearest of x / d, at most 127.  A block
 * that is all 0 or not finite is kept as 0.  q: I codes, bd: I / xblock scales. */
static void round_x_c(const qkind *k, const float *x, int I, int8_t *q, float *bd)
{
    const int block = k->xblock;
    for (int b = 0; b < I / block; b++) {
        const float *v = x + block * b;
        int8_t *c = q + block * b;
        float amax = 0.0f, max = 0.0f;
        for (int i = 0; i < block; i++)
            if (fabsf(v[i]) > amax) amax = fabsf(v[i]), max = v[i];
        if (!(amax > 0.0f) || !(amax < INFINITY)) {
            bd[b] = 0.0f;
            memset(c, 0, (size_t)block);
        } else if (block == 32) {
            float id = 127.0f / amax;
            bd[b] = nn_f16_to_f32(nn_f32_to_f16(amax / 127.0f));
            for (int i = 0; i < 32; i++) c[i] = (int8_t)nearest(v[i] * id, -127, 127);
        } else {
            float is = -127.0f / max;
            bd[b] = 1.0f / is;
            for (int i = 0; i < block; i++) c[i] = (int8_t)nearest(is * v[i], -128, 127);
        }
    }
}

typedef void (*round_fn)(const qkind *k, const float *x, int I, int8_t *q, float *bd);
static round_fn round_x = round_x_c;

/* The sum of sub-block sb's codes. */
static int sub_sum(const qkind *k, const int8_t *q, int sb)
{
    int sum = 0;
    for (int i = 0; i < k->S; i++) sum += q[(size_t)k->S * sb + i];
    return sum;
}

/* A row of x rounded and laid out in groups (padding lanes: codes 0,
 * scale 0); q: scratch of I codes, bd of I / 32. */
static void lanes_x(const qkind *k, const float *x, int I, int8_t *q, float *bd, xgroup *o)
{
    const int S = k->S, T = S / 4, nsub = n_sub(k, I);
    round_x(k, x, I, q, bd);
    for (int g = 0; g < (nsub + LANES - 1) / LANES; g++, o++) {
        memset(o, 0, sizeof *o);
        for (int j = 0; j < LANES && LANES * g + j < nsub; j++) {
            const int sb = LANES * g + j, l = k->lane[j], sum = sub_sum(k, q, sb);
            for (int t = 0; t < T; t++) memcpy(o->q[t][l], q + (size_t)S * sb + 4 * t, 4);
            o->corr[l] = -k->offset * sum;
            o->d[l] = bd[S * sb / k->xblock];
            o->s[l] = (float)sum;
        }
    }
}

/* The fixed order the 16 lanes of an output are added in (lanes_sum_avx
 * is the same tree). */
static float lanes_sum(float *a)
{
    for (int h = LANES / 2; h; h /= 2)
        for (int i = 0; i < h; i++) a[i] += a[i + h];
    return a[0];
}

/* y[c ldy + r] = <W lane row r, x lane row c>, r < R, c < C, over ng groups
 * (w rows ng groups apart, x rows too). */
static void tile_c(float *y, int ldy, const wgroup *w, const xgroup *x, int ng, int T, int mins, int R,
                   int C)
{
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) {
            float acc[LANES] = { 0 };
            for (int g = 0; g < ng; g++) {
                const wgroup *wg = w + (size_t)r * ng + g;
                const xgroup *xg = x + (size_t)c * ng + g;
                for (int j = 0; j < LANES; j++) {
                    int32_t s = xg->corr[j];
                    for (int t = 0; t < T; t++)
                        for (int i = 0; i < 4; i++) s += wg->q[t][j][i] * xg->q[t][j][i];
                    acc[j] = fmaf((float)s, wg->dw[j] * xg->d[j], acc[j]);
                    if (mins) acc[j] = fmaf(xg->s[j], wg->mw[j] * xg->d[j], acc[j]);
                }
            }
            y[(size_t)c * ldy + r] = lanes_sum(acc);
        }
}

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))

AVX512 static inline float lanes_sum_avx(__m512 v)
{
    __m256 h8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 h4 = _mm_add_ps(_mm256_castps256_ps128(h8), _mm256_extractf128_ps(h8, 1));
    __m128 h2 = _mm_add_ps(h4, _mm_movehl_ps(h4, h4));
    return _mm_cvtss_f32(_mm_add_ss(h2, _mm_shuffle_ps(h2, h2, 1)));
}

/* round_x_c on 16 values a vector: the same f32 products, clamps and
 * round-to-nearest-even conversion (NaN: 0), so the same codes. */
AVX512 static inline __m128i codes16(__m512 t, float lo, float hi)
{
    const __mmask16 ord = _mm512_cmp_ps_mask(t, t, _CMP_ORD_Q);
    t = _mm512_min_ps(_mm512_max_ps(t, _mm512_set1_ps(lo)), _mm512_set1_ps(hi));
    return _mm512_cvtepi32_epi8(_mm512_maskz_mov_epi32(ord, _mm512_cvtps_epi32(t)));
}

AVX512 static void round_x_avx(const qkind *k, const float *x, int I, int8_t *q, float *bd)
{
    const int block = k->xblock;
    const __m512 sign = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
    for (int b = 0; b < I / block; b++) {
        const float *v = x + block * b;
        int8_t *c = q + block * b;
        /* max_ps returns its second operand where the first is NaN: NaNs are skipped, as there */
        __m512 m = _mm512_setzero_ps();
        for (int i = 0; i < block; i += 16) m = _mm512_max_ps(_mm512_and_ps(_mm512_loadu_ps(v + i), sign), m);
        const float amax = _mm512_reduce_max_ps(m);
        if (!(amax > 0.0f) || !(amax < INFINITY)) {
            bd[b] = 0.0f;
            memset(c, 0, (size_t)block);
        } else if (block == 32) {
            const __m512 id = _mm512_set1_ps(127.0f / amax);
            bd[b] = nn_f16_to_f32(nn_f32_to_f16(amax / 127.0f));
            for (int i = 0; i < 32; i += 16)
                _mm_storeu_si128((__m128i *)(c + i), codes16(_mm512_mul_ps(_mm512_loadu_ps(v + i), id), -127.0f, 127.0f));
        } else {
            /* the first element of largest magnitude */
            const __m512 am = _mm512_set1_ps(amax);
            int at = 0;
            for (int i = 0; i < block; i += 16) {
                const __mmask16 e = _mm512_cmp_ps_mask(_mm512_and_ps(_mm512_loadu_ps(v + i), sign), am, _CMP_EQ_OQ);
                if (e) {
                    at = i + __builtin_ctz(e);
                    break;
                }
            }
            const float is = -127.0f / v[at];
            bd[b] = 1.0f / is;
            const __m512 vis = _mm512_set1_ps(is);
            for (int i = 0; i < block; i += 16)
                _mm_storeu_si128((__m128i *)(c + i), codes16(_mm512_mul_ps(vis, _mm512_loadu_ps(v + i)), -128.0f, 127.0f));
        }
    }
}

/* Packing streams W from memory once (decoding); the lines 4 KB ahead are
 * prefetched, as vec_impl.h's widening does (the hardware prefetcher
 * alone keeps too few in flight). */
#ifndef PREFETCH
#define PREFETCH prefetch_ahead
#endif
static inline void prefetch_ahead(const void *p, size_t n)
{
    for (size_t o = 0; o < n; o += 64) __builtin_prefetch((const char *)p + 4096 + o);
}

/* tile_c with vpdpbusd: the R x C integer sums of a group in registers,
 * W's steps loaded once for the C rows of x. */
AVX512 static inline __attribute__((always_inline)) void
    tile_avx_rc(float *y, int ldy, const wgroup *w, const xgroup *x, int ng, const int T, const int mins,
                const int R, const int C)
{
    __m512 f[4][4];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) f[r][c] = _mm512_setzero_ps();
    for (int g = 0; g < ng; g++) {
        __m512i s[4][4];
        /* the next tile's rows of x (prefill: they come from L2) */
        for (int c = 0; c < C; c++) prefetch_ahead((const char *)(x + (size_t)(c + C) * ng + g) - 4096, sizeof *x);
        for (int c = 0; c < C; c++) {
            const __m512i corr = _mm512_loadu_si512(x[(size_t)c * ng + g].corr);
            for (int r = 0; r < R; r++) s[r][c] = corr;
        }
        for (int t = 0; t < T; t++) {
            __m512i wv[4];
            for (int r = 0; r < R; r++) wv[r] = _mm512_loadu_si512(w[(size_t)r * ng + g].q[t]);
            for (int c = 0; c < C; c++) {
                const __m512i xv = _mm512_loadu_si512(x[(size_t)c * ng + g].q[t]);
                for (int r = 0; r < R; r++) s[r][c] = _mm512_dpbusd_epi32(s[r][c], wv[r], xv);
            }
        }
        for (int c = 0; c < C; c++) {
            const xgroup *xg = x + (size_t)c * ng + g;
            const __m512 xd = _mm512_loadu_ps(xg->d);
            for (int r = 0; r < R; r++) {
                const wgroup *wg = w + (size_t)r * ng + g;
                f[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[r][c]),
                                          _mm512_mul_ps(_mm512_loadu_ps(wg->dw), xd), f[r][c]);
                if (mins)
                    f[r][c] = _mm512_fmadd_ps(_mm512_loadu_ps(xg->s),
                                              _mm512_mul_ps(_mm512_loadu_ps(wg->mw), xd), f[r][c]);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) y[(size_t)c * ldy + r] = lanes_sum_avx(f[r][c]);
}

AVX512 static void tile_avx(float *y, int ldy, const wgroup *w, const xgroup *x, int ng, int T, int mins,
                            int R, int C)
{
#define TILE_RC(r_, c_)                                                                            \
    case (r_) * 4 + (c_) - 5:                                                                      \
        if (T == 4) tile_avx_rc(y, ldy, w, x, ng, 4, 0, r_, c_);                                   \
        else if (mins) tile_avx_rc(y, ldy, w, x, ng, 8, 1, r_, c_);                                \
        else tile_avx_rc(y, ldy, w, x, ng, 8, 0, r_, c_);                                          \
        break
    switch (R * 4 + C - 5) {
        TILE_RC(1, 1); TILE_RC(1, 2); TILE_RC(1, 3); TILE_RC(1, 4);
        TILE_RC(2, 1); TILE_RC(2, 2); TILE_RC(2, 3); TILE_RC(2, 4);
        TILE_RC(3, 1); TILE_RC(3, 2); TILE_RC(3, 3); TILE_RC(3, 4);
        TILE_RC(4, 1); TILE_RC(4, 2); TILE_RC(4, 3); TILE_RC(4, 4);
    }
#undef TILE_RC
}

/* vpermt2d indices of round k: the first and second register of a pair */
static const int32_t perm_idx[3][2][16] = {
    { { 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30 },
      { 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31 } },
    { { 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29 },
      { 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31 } },
    { { 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27 },
      { 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31 } },
};

/* nr = 8: z[p] holds two sub-blocks of 8 words (halves h), stored as step
 * t, lane 8 h + p; nr = 4 (Q6_K): four sub-blocks of 4 words, lane 4 h + p. */
AVX512 static inline void transpose_store(__m512i z[8], wgroup *o, const int nr)
{
    /* the inner loops unrolled, so that z stays in registers (the outer
     * one's bound is a constant where this is inlined) */
    for (int k = 0; (1 << k) < nr; k++) {
        const int b = 1 << k;
        const __m512i va = _mm512_loadu_si512(perm_idx[k][0]), vb = _mm512_loadu_si512(perm_idx[k][1]);
#pragma GCC unroll 8
        for (int p = 0; p < nr; p++)
            if (!(p & b)) {
                __m512i a = z[p], c = z[p | b];
                z[p] = _mm512_permutex2var_epi32(a, va, c);
                z[p | b] = _mm512_permutex2var_epi32(a, vb, c);
            }
    }
#pragma GCC unroll 8
    for (int t = 0; t < nr; t++) _mm512_storeu_si512(o->q[t], z[t]);
}

AVX512 static inline __m512i two_halves(const void *a, const void *b)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)a)),
                              _mm256_loadu_si256((const __m256i *)b), 1);
}

/* Q8_0: blocks 2p and 2p + 1 in register p (lane 8 (b & 1) + b / 2);
 * past the row's n blocks, zeros; dw: the blocks' scales in their lanes */
AVX512 static inline void q8_0_regs(const blk_q8_0 *b, int n, __m512i z[8], __m512 *dw)
{
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    /* where lane l's scale lies: block 2 l (l < 8), 2 (l - 8) + 1 */
    const __m512i at = _mm512_setr_epi32(0, 68, 136, 204, 272, 340, 408, 476, 34, 102, 170, 238, 306, 374, 442, 510);
    if (n == 16) {
        for (int p = 0; p < 8; p++) z[p] = _mm512_xor_si512(two_halves(b[2 * p].qs, b[2 * p + 1].qs), flip);
        /* each d with the two codes after it, kept: the low 16 bits */
        *dw = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_i32gather_epi32(at, (const void *)b, 1)));
        return;
    }
    for (int p = 0; p < 8; p++) {
        const __m256i lo = 2 * p < n ? _mm256_loadu_si256((const __m256i *)b[2 * p].qs) : _mm256_setzero_si256();
        const __m256i hi = 2 * p + 1 < n ? _mm256_loadu_si256((const __m256i *)b[2 * p + 1].qs) : _mm256_setzero_si256();
        z[p] = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1), flip);
    }
    float d[LANES] = { 0 };
    for (int j = 0; j < n; j++) d[8 * (j & 1) + j / 2] = _cvtsh_ss(b[j].d);
    *dw = _mm512_loadu_ps(d);
}

AVX512 static void q8_0_pack(const void *row, int nb, wgroup *o)
{
    const blk_q8_0 *b = row;
    for (int b0 = 0; b0 < nb; b0 += 16, b += 16, o++) {
        PREFETCH(b, 16 * sizeof *b);
        __m512i z[8];
        __m512 dw;
        q8_0_regs(b, nb - b0 < 16 ? nb - b0 : 16, z, &dw);
        transpose_store(z, o, 8);
        _mm512_storeu_ps(o->dw, dw);
        _mm512_storeu_ps(o->mw, _mm512_setzero_ps());
    }
}

/* Q4_K and Q5_K: a group is two blocks; the 64 bytes 64 c .. of block A's
 * qs hold sub-blocks 4c, 4c + 2 (low nibbles) and 4c + 1, 4c + 3 (high):
 * registers A: (0,2) (1,3) (4,6) (5,7), then B's. */
#define K45_LANES { 0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15 }

/* The 6-bit scales (sc) and mins (mn) of sub-blocks 0..7 of a K block, a
 * byte each (k_scales on the three 32-bit words of the 12 bytes). */
static inline void k_scales64(const uint8_t *b, uint64_t *sc, uint64_t *mn)
{
    uint32_t u[3];
    memcpy(u, b, 12);
    const uint32_t lo6 = 0x3f3f3f3fu, lo4 = 0x0f0f0f0fu, lo2 = 0x03030303u;
    *sc = (uint64_t)(u[0] & lo6) | (uint64_t)((u[2] & lo4) | ((u[0] >> 6) & lo2) << 4) << 32;
    *mn = (uint64_t)(u[1] & lo6) | (uint64_t)(((u[2] >> 4) & lo4) | ((u[1] >> 6) & lo2) << 4) << 32;
}

AVX512 static inline void k45_regs(const uint8_t *const hd[2], const uint8_t *const qs[2],
                                   const uint8_t *const qh[2], __m512i z[8], __m512 *dw, __m512 *mw)
{
    const __m512i m4 = _mm512_set1_epi8(15), b4 = _mm512_set1_epi8(16);
    uint64_t sc[2] = { 0, 0 }, mn[2] = { 0, 0 };
    uint32_t dd[2] = { 0, 0 }; /* a block's d and dmin */
    for (int h = 0; h < 2; h++) {
        if (!hd[h]) { /* past the row's end */
            for (int i = 0; i < 4; i++) z[4 * h + i] = _mm512_setzero_si512();
            continue;
        }
        const __m512i hb = qh[h] ? _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)qh[h]))
                                 : _mm512_setzero_si512();
        for (int c = 0; c < 2; c++) {
            __m512i v = _mm512_loadu_si512(qs[h] + 64 * c);
            __m512i lo = _mm512_and_si512(v, m4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
            if (qh[h]) { /* bit j of qh[l]: sub-blocks 4c, 4c + 2 (lo); 4c + 1, 4c + 3 (hi) */
                const int j = 4 * c;
                const __m512i blo = _mm512_inserti64x4(_mm512_set1_epi8((char)(1 << j)),
                                                       _mm256_set1_epi8((char)(1 << (j + 2))), 1);
                const __m512i bhi = _mm512_slli_epi16(blo, 1);
                lo = _mm512_or_si512(lo, _mm512_maskz_mov_epi8(_mm512_test_epi8_mask(hb, blo), b4));
                hi = _mm512_or_si512(hi, _mm512_maskz_mov_epi8(_mm512_test_epi8_mask(hb, bhi), b4));
            }
            z[4 * h + 2 * c] = lo, z[4 * h + 2 * c + 1] = hi;
        }
        memcpy(&dd[h], hd[h], 4);
        k_scales64(hd[h] + 4, &sc[h], &mn[h]);
    }
    /* sub-block 8 h + j's scales (d sc_j, -(dmin m_j): the f32 products of
     * the portable unpack) into its lane, K45_LANES[8 h + j] (inv: the
     * sub-block of each lane) */
    const __m512i inv = _mm512_setr_epi32(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15);
    /* the vectors built in registers: through memory (set_epi16, set_epi64x)
     * the wider loads of narrower stores stall store forwarding */
    const __m256 hd8 = _mm256_cvtph_ps(_mm_insert_epi32(_mm_cvtsi32_si128((int)dd[0]), (int)dd[1], 1));
    const __m512 d = _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2),
                                           _mm512_castps256_ps512(hd8));
    const __m512 dmin = _mm512_permutexvar_ps(_mm512_setr_epi32(1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3),
                                              _mm512_castps256_ps512(hd8));
    const __m512 vs = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_insert_epi64(_mm_cvtsi64_si128((long long)sc[0]), (long long)sc[1], 1)));
    const __m512 vm = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_insert_epi64(_mm_cvtsi64_si128((long long)mn[0]), (long long)mn[1], 1)));
    const __m512 neg = _mm512_castsi512_ps(_mm512_set1_epi32((int)0x80000000u));
    *dw = _mm512_permutexvar_ps(inv, _mm512_mul_ps(d, vs));
    /* a missing second block's lanes (4-7, 12-15) stay +0 */
    const __mmask16 have = hd[1] ? 0xffff : 0x0f0f;
    *mw = _mm512_maskz_mov_ps(have, _mm512_permutexvar_ps(inv, _mm512_xor_ps(_mm512_mul_ps(dmin, vm), neg)));
}

AVX512 static inline void k45_pack(const uint8_t *const hd[2], const uint8_t *const qs[2],
                                   const uint8_t *const qh[2], wgroup *o)
{
    __m512i z[8];
    __m512 dw, mw;
    k45_regs(hd, qs, qh, z, &dw, &mw);
    _mm512_storeu_ps(o->dw, dw);
    _mm512_storeu_ps(o->mw, mw);
    transpose_store(z, o, 8);
}

/* The group of blocks k, k + 1 of a Q4_K (q5 = 0) or Q5_K row: each
 * block's header, codes and (Q5_K) fifth bits, NULL past the row's nb */
static inline void k45_group(const uint8_t *row, int k, int nb, int q5, const uint8_t *hd[2],
                             const uint8_t *qs[2], const uint8_t *qh[2])
{
    const size_t bytes = q5 ? sizeof(blk_q5_k) : sizeof(blk_q4_k);
    for (int h = 0; h < 2; h++) {
        const uint8_t *b = k + h < nb ? row + (size_t)(k + h) * bytes : NULL;
        hd[h] = b;
        qs[h] = b ? b + (q5 ? offsetof(blk_q5_k, qs) : offsetof(blk_q4_k, qs)) : NULL;
        qh[h] = b && q5 ? b + offsetof(blk_q5_k, qh) : NULL;
    }
    prefetch_ahead(hd[0], 2 * bytes);
}

AVX512 static inline void k45_pack_row(const void *row, int nb, int q5, wgroup *o)
{
    for (int k = 0; k < nb; k += 2, o++) {
        const uint8_t *hd[2], *qs[2], *qh[2];
        k45_group(row, k, nb, q5, hd, qs, qh);
        k45_pack(hd, qs, qh, o);
    }
}

AVX512 static void q4_k_pack(const void *row, int nb, wgroup *o) { k45_pack_row(row, nb, 0, o); }
AVX512 static void q5_k_pack(const void *row, int nb, wgroup *o) { k45_pack_row(row, nb, 1, o); }

/* Q6_K: a group is one block; ql's 64 bytes of half n give codes 128 n ..
 * + 63 (low nibbles) and + 64 .. + 127 (high), qh's 32 bytes their top two
 * bits (bits 2 q of quarter q): register p holds sub-blocks 4 p .. 4 p + 3
 * (lane 4 (j % 4) + j / 4). */
AVX512 static inline void q6_k_regs(const blk_q6_k *b, __m512i z[4], __m512 *dw)
{
    const __m512i m4 = _mm512_set1_epi8(15), m2 = _mm512_set1_epi8(3);
    const __m512i inv = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    for (int n = 0; n < 2; n++) {
        const __m512i ql = _mm512_loadu_si512(b->ql + 64 * n);
        const __m256i h32 = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * n));
        const __m512i qh = _mm512_inserti64x4(_mm512_castsi256_si512(h32), _mm256_srli_epi16(h32, 2), 1);
        z[2 * n] = _mm512_or_si512(_mm512_and_si512(ql, m4), _mm512_slli_epi16(_mm512_and_si512(qh, m2), 4));
        z[2 * n + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                       _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(qh, 4), m2), 4));
    }
    /* lane l: sub-block 4 (l % 4) + l / 4, d s_j as the portable unpack's f32 product */
    const __m512 sj = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)b->scales)));
    *dw = _mm512_mul_ps(_mm512_set1_ps(_cvtsh_ss(b->d)), _mm512_permutexvar_ps(inv, sj));
}

AVX512 static void q6_k_pack(const void *row, int nb, wgroup *o)
{
    const blk_q6_k *b = row;
    for (int k = 0; k < nb; k++, b++, o++) {
        prefetch_ahead(b, sizeof *b);
        __m512i z[8];
        __m512 dw;
        q6_k_regs(b, z, &dw);
        transpose_store(z, o, 4);
        _mm512_storeu_ps(o->dw, dw);
        _mm512_storeu_ps(o->mw, _mm512_setzero_ps());
    }
}

/* ------------------------------------------------------------ one row of x
 * Decoding multiplies each row of W by a single row of x, and there the
 * transpose into lane rows costs more than the product.  dot1 takes W's
 * registers as the *_regs above load them and x laid out the same way
 * (xregs: the transpose's inverse), and folds the eight registers of
 * partial sums into one whose lane l holds the whole sum of the
 * sub-block in lane l: integers, exact, so with corr, the same fmas in
 * the same order and the same tree of lanes, each output has tile_avx's
 * bits (tests/test_quant.c compares them). */

/* x's lane rows as W's registers (T of them a group, T steps): register
 * p of group g holds, in word T h + t, the codes of step t of lane T h + p */
static void xregs(const xgroup *x, int ng, int T, uint32_t *xr)
{
    for (int g = 0; g < ng; g++)
        for (int p = 0; p < T; p++)
            for (int h = 0; h < LANES / T; h++)
                for (int t = 0; t < T; t++)
                    memcpy(xr + (size_t)LANES * (T * g + p) + T * h + t, x[g].q[t][T * h + p], 4);
}

/* R (8 or 4) registers of partial sums into one: each round adds
 * neighbouring words of a pair of registers, so after three (R = 8),
 * lane 8 h + p holds the sum of half h of register p, the lane the
 * transpose gives that half (R = 4: q6_k_dot1). */
AVX512 static inline __m512i fold(__m512i *s, const int R)
{
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 16, 18, 20, 22, 8, 10, 12, 14, 24, 26, 28, 30);
    const __m512i od = _mm512_add_epi32(ev, _mm512_set1_epi32(1));
#pragma GCC unroll 4
    for (int n = R / 2; n >= 1; n /= 2)
#pragma GCC unroll 4
        for (int p = 0; p < n; p++)
            s[p] = _mm512_add_epi32(_mm512_permutex2var_epi32(s[2 * p], ev, s[2 * p + 1]),
                                    _mm512_permutex2var_epi32(s[2 * p], od, s[2 * p + 1]));
    return s[0];
}

/* One group of one row: tile_avx_rc's sums and fmas with R = C = 1 */
AVX512 static inline __m512 dot1_scale(__m512 f, __m512i sum, const xgroup *xg, __m512 dw, __m512 mw,
                                       const int mins)
{
    sum = _mm512_add_epi32(sum, _mm512_loadu_si512(xg->corr));
    const __m512 xd = _mm512_loadu_ps(xg->d);
    f = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_mul_ps(dw, xd), f);
    if (mins) f = _mm512_fmadd_ps(_mm512_loadu_ps(xg->s), _mm512_mul_ps(mw, xd), f);
    return f;
}

AVX512 static inline __m512 dot1_group(__m512 f, const __m512i z[8], const uint32_t *xr, const xgroup *xg,
                                       __m512 dw, __m512 mw, const int mins)
{
    __m512i s[8];
    for (int p = 0; p < 8; p++)
        s[p] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), z[p], _mm512_loadu_si512(xr + 16 * p));
    return dot1_scale(f, fold(s, 8), xg, dw, mw, mins);
}

AVX512 static float q8_0_dot1(const void *row, int nb, const xgroup *x, const uint32_t *xr)
{
    const blk_q8_0 *b = row;
    __m512 f = _mm512_setzero_ps();
    for (int b0 = 0; b0 < nb; b0 += 16, b += 16, x++, xr += 8 * 16) {
        PREFETCH(b, 16 * sizeof *b);
        __m512i z[8];
        __m512 dw;
        q8_0_regs(b, nb - b0 < 16 ? nb - b0 : 16, z, &dw);
        f = dot1_group(f, z, xr, x, dw, dw, 0);
    }
    return lanes_sum_avx(f);
}

AVX512 static inline float k45_dot1(const void *row, int nb, int q5, const xgroup *x, const uint32_t *xr)
{
    __m512 f = _mm512_setzero_ps();
    for (int k = 0; k < nb; k += 2, x++, xr += 8 * 16) {
        const uint8_t *hd[2], *qs[2], *qh[2];
        k45_group(row, k, nb, q5, hd, qs, qh);
        __m512i z[8];
        __m512 dw, mw;
        k45_regs(hd, qs, qh, z, &dw, &mw);
        f = dot1_group(f, z, xr, x, dw, mw, 1);
    }
    return lanes_sum_avx(f);
}

AVX512 static float q4_k_dot1(const void *row, int nb, const xgroup *x, const uint32_t *xr)
{
    return k45_dot1(row, nb, 0, x, xr);
}

AVX512 static float q5_k_dot1(const void *row, int nb, const xgroup *x, const uint32_t *xr)
{
    return k45_dot1(row, nb, 1, x, xr);
}

/* Q6_K: four registers of four sub-blocks (quarters of 4 words); two
 * rounds of fold's leave lane i with register i / 2 % 4, quarter
 * i % 2 + 2 (i / 8): moved to lane 4 quarter + register, the transpose's */
AVX512 static float q6_k_dot1(const void *row, int nb, const xgroup *x, const uint32_t *xr)
{
    const blk_q6_k *b = row;
    const __m512i to = _mm512_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15);
    __m512 f = _mm512_setzero_ps();
    for (int k = 0; k < nb; k++, b++, x++, xr += 4 * 16) {
        prefetch_ahead(b, sizeof *b);
        __m512i z[4], s[4];
        __m512 dw;
        q6_k_regs(b, z, &dw);
        for (int p = 0; p < 4; p++)
            s[p] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), z[p], _mm512_loadu_si512(xr + 16 * p));
        f = dot1_scale(f, _mm512_permutexvar_epi32(to, fold(s, 4)), x, dw, dw, 0);
    }
    return lanes_sum_avx(f);
}

/* Q4_K and Q5_K for AMX: qs's 32 bytes 32 c hold sub-blocks 2 c (low
 * nibbles) and 2 c + 1 (high); Q5_K's fifth bit j of qh[l]. */
AVX512 static inline void k45_amx_row(const uint8_t *b, size_t bytes, int nb, int has_qh, uint8_t *q, float *dw,
                                      float *mw)
{
    const __m256i m4 = _mm256_set1_epi8(15), one = _mm256_set1_epi8(1);
    const size_t step = (size_t)AT * 32; /* bytes from one sub-block to the next */
    for (int k = 0; k < nb; k++, b += bytes) {
        const uint8_t *qh = b + 16, *qs = b + 16 + (has_qh ? 32 : 0);
        const __m256i h = has_qh ? _mm256_loadu_si256((const __m256i *)qh) : _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
            __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
            if (has_qh) {
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2 * c), one), 4));
                hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2 * c + 1), one), 4));
            }
            _mm256_storeu_si256((__m256i *)(q + step * (8 * (size_t)k + 2 * c)), lo);
            _mm256_storeu_si256((__m256i *)(q + step * (8 * (size_t)k + 2 * c + 1)), hi);
        }
        uint16_t dd[2];
        uint64_t sc, mn;
        memcpy(dd, b, 4);
        k_scales64(b + 4, &sc, &mn);
        float vs[8], vm[8];
        const __m256 d = _mm256_set1_ps(_cvtsh_ss(dd[0])), dmin = _mm256_set1_ps(_cvtsh_ss(dd[1]));
        _mm256_storeu_ps(vs, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)sc)))));
        _mm256_storeu_ps(vm, _mm256_xor_ps(_mm256_mul_ps(dmin, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(
                                                                  _mm_cvtsi64_si128((long long)mn)))),
                                           _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u))));
        for (int j = 0; j < 8; j++) dw[AT * (8 * k + j)] = vs[j], mw[AT * (8 * k + j)] = vm[j];
    }
}

AVX512 static void q4_k_amx_row(const void *row, int nb, uint8_t *q, float *dw, float *mw)
{
    k45_amx_row(row, sizeof(blk_q4_k), nb, 0, q, dw, mw);
}

AVX512 static void q5_k_amx_row(const void *row, int nb, uint8_t *q, float *dw, float *mw)
{
    k45_amx_row(row, sizeof(blk_q5_k), nb, 1, q, dw, mw);
}

/* Q6_K for AMX: q6_k_pack's registers hold codes 64 p .. 64 p + 63 in
 * order, sub-blocks 4 p .. 4 p + 3 (16 codes each). */
AVX512 static void q6_k_amx_row(const void *row, int nb, uint8_t *q, float *dw, float *mw)
{
    (void)mw;
    const blk_q6_k *b = row;
    const __m512i m4 = _mm512_set1_epi8(15), m2 = _mm512_set1_epi8(3);
    const size_t step = (size_t)AT * 16;
    for (int k = 0; k < nb; k++, b++) {
        for (int n = 0; n < 2; n++) {
            const __m512i ql = _mm512_loadu_si512(b->ql + 64 * n);
            const __m256i h32 = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * n));
            const __m512i qh = _mm512_inserti64x4(_mm512_castsi256_si512(h32), _mm256_srli_epi16(h32, 2), 1);
            const __m512i z[2] = {
                _mm512_or_si512(_mm512_and_si512(ql, m4), _mm512_slli_epi16(_mm512_and_si512(qh, m2), 4)),
                _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(qh, 4), m2), 4))
            };
            uint8_t *o = q + step * (16 * (size_t)k + 8 * n);
            for (int p = 0; p < 2; p++) {
                _mm_storeu_si128((__m128i *)(o + step * (4 * p)), _mm512_castsi512_si128(z[p]));
                _mm_storeu_si128((__m128i *)(o + step * (4 * p + 1)), _mm512_extracti32x4_epi32(z[p], 1));
                _mm_storeu_si128((__m128i *)(o + step * (4 * p + 2)), _mm512_extracti32x4_epi32(z[p], 2));
                _mm_storeu_si128((__m128i *)(o + step * (4 * p + 3)), _mm512_extracti32x4_epi32(z[p], 3));
            }
        }
        float v[16];
        _mm512_storeu_ps(v, _mm512_mul_ps(_mm512_set1_ps(_cvtsh_ss(b->d)),
                                          _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)b->scales)))));
        for (int g = 0; g < 16; g++) dw[AT * (16 * k + g)] = v[g];
    }
}

static const qkind kind_q8_0 = { 32, 32, 128, 0, 32, 34,
                                 { 0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15 },
                                 q8_0_unpack, q8_0_pack, NULL, q8_0_dot1 };
static const qkind kind_q4_k = { 32, 256, 0, 1, 256, 144,
                                 K45_LANES,
                                 q4_k_unpack, q4_k_pack, q4_k_amx_row, q4_k_dot1 };
static const qkind kind_q5_k = { 32, 256, 0, 1, 256, 176,
                                 K45_LANES,
                                 q5_k_unpack, q5_k_pack, q5_k_amx_row, q5_k_dot1 };
static const qkind kind_q6_k = { 16, 256, 32, 0, 256, 210,
                                 { 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15 },
                                 q6_k_unpack, q6_k_pack, q6_k_amx_row, q6_k_dot1 };

/* ------------------------------------------------------------ AMX
 * Many rows of x (prefill, batches) on the tile unit: one TDPBUSD gives
 * the integer sums of one sub-block for 16 rows of W (tile A: 16 x S
 * codes, unsigned) by 16 rows of x (tile B: S / 4 steps of 16 x 4
 * codes, signed), exact; they are then scaled as tile_avx scales them,
 * with vectors over the 16 rows of x instead of over lanes: for each
 * output and lane the same fmas in the same order (group by group), and
 * the lanes added in lanes_sum's tree, so every output has the VNNI
 * kernels' bits.  Sub-blocks of padding lanes are skipped (they add 0). */
/* AT (16): rows of W and of x per tile */

/* The rows of x for AMX: per block tb of 16 rows and sub-block sb,
 * q: S / 4 steps of 16 rows x 4 codes ([tb][sb] at (tb nsub + sb) 16 S),
 * corr, d, s as xgroup's ([tb][sb][16]); rows past N are zero. */
typedef struct {
    int8_t *q;
    int32_t *corr;
    float *d, *s;
} xtiles;

static void tiles_x(const qkind *k, const float *x, int I, int n, int offset, int8_t *q, float *bd,
                    xtiles *o)
{
    const int S = k->S, nsub = n_sub(k, I), tb = n / AT, i = n % AT;
    round_x(k, x, I, q, bd);
    for (int sb = 0; sb < nsub; sb++) {
        const size_t at = (size_t)tb * nsub + sb, v = AT * at + i;
        const int sum = sub_sum(k, q, sb);
        for (int t = 0; t < S / 4; t++) memcpy(o->q + AT * S * at + 4 * (AT * t + i), q + (size_t)S * sb + 4 * t, 4);
        o->corr[v] = -offset * sum;
        o->d[v] = bd[S * sb / k->xblock];
        o->s[v] = (float)sum;
    }
}

#define AMX __attribute__((target("amx-tile,amx-int8,avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))

/* ldtilecfg's 64 bytes (palette 1) */
typedef struct {
    uint8_t palette, start;
    uint8_t zero[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tilecfg;

/* GCC 12's _tile_loadconfig and _tile_loadd tell the compiler they read
 * 8 bytes and nothing, so it drops the stores that fill the config:
 * these say they read memory. */
#define TILE_CONFIG(c) __asm__ volatile("ldtilecfg %0" ::"m"(*(const tilecfg *)(c)))
#define TILE_LOAD(t, base, stride)                                                                 \
    __asm__ volatile("tileloadd (%0,%1,1), %%tmm" #t ::"r"(base), "r"((long)(stride)) : "memory")
#define TILE_STORE(t, base, stride)                                                                \
    __asm__ volatile("tilestored %%tmm" #t ", (%0,%1,1)" ::"r"(base), "r"((long)(stride)) : "memory")

/* Two sets, so that one sub-block's tiles are computed while the last
 * one's sums are scaled (stored only after that): W's 16 rows of S codes (tmm0, tmm3), x's S / 4
 * steps (tmm1, tmm4), the sums (tmm2, tmm5). */
AMX static void amx_config(int S)
{
    tilecfg c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int t = 0; t < 6; t += 3) {
        c.rows[t] = AT, c.colsb[t] = (uint16_t)S;
        c.rows[t + 1] = (uint8_t)(S / 4), c.colsb[t + 1] = 64;
        c.rows[t + 2] = AT, c.colsb[t + 2] = 64;
    }
    TILE_CONFIG(&c);
}

/* The sums of sub-block sb in tmm c (set a: tmm a .. a + 2): W's codes
 * unsigned (tdpbusd, from corr) or, Q8_0 as stored, signed (tdpbssd, from 0). */
#define TILE_SUMS(a, b, c, sb)                                                                     \
    do {                                                                                           \
        TILE_LOAD(a, wa + (size_t)(sb) * wsub, wrow);                                              \
        TILE_LOAD(b, x->q + (size_t)(sb) * AT * S, 64);                                            \
        if (sgn) {                                                                                 \
            _tile_zero(c);                                                                         \
            _tile_dpbssd(c, a, b);                                                                 \
        } else {                                                                                   \
            TILE_LOAD(c, x->corr + AT * (sb), 0); /* every row: corr */                            \
            _tile_dpbusd(c, a, b);                                                                 \
        }                                                                                          \
    } while (0)

/* y[c ldy + r] for r < R, c < C: W's 16 rows (sub-block sb of row i: S
 * codes at wa + sb wsub + i wrow, unsigned, or signed if sgn; dw, mw:
 * scales [nsub][16]) by x's block of 16 rows (x: xtiles at the block's
 * first sub-block).  Sub-blocks lane by lane (j, j + 16, ..., then
 * j + 1, ...), each lane's accumulators in registers. */
AMX static inline __attribute__((always_inline)) void
    tile_amx_m(float *y, int ldy, int R, int C, const uint8_t *wa, size_t wsub, long wrow, const float *dw,
               const float *mw, const xtiles *x, int nsub, const int S, const int mins, const int sgn,
               const uint8_t *lane)
{
    float lanes[AT][LANES][AT] __attribute__((aligned(64))); /* [row of W][lane][row of x] */
    int32_t cb[2][AT][AT] __attribute__((aligned(64)));
    /* the 16 accumulators as variables, not an array: the tile
     * instructions' memory clobbers would keep an array in memory */
#define R16(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#define ACC_DECL(r) __m512 acc##r = _mm512_setzero_ps();
#define ACC_SUMS(r) acc##r = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(sums[r])),           \
                                             _mm512_mul_ps(_mm512_set1_ps(dw[AT * sb + r]), xd), acc##r);
#define ACC_MINS(r) acc##r = _mm512_fmadd_ps(xs, _mm512_mul_ps(_mm512_set1_ps(mw[AT * sb + r]), xd), acc##r);
#define ACC_OUT(r)                                                                                 \
    _mm512_store_ps(lanes[r][lane[sb % LANES]], acc##r);                                           \
    acc##r = _mm512_setzero_ps();
    R16(ACC_DECL)
    for (int j = nsub; j < LANES; j++)
        for (int r = 0; r < AT; r++) _mm512_store_ps(lanes[r][lane[j]], _mm512_setzero_ps());
    /* one sub-block: the next one's sums started (set a, into cb[nb]),
     * then this one's scaled (in cb[b]) */
#define AMX_STEP(a, b_, c, nb, b)                                                                  \
    do {                                                                                           \
        const int next = sb + LANES < nsub                                ? sb + LANES              \
                         : sb % LANES + 1 < LANES && sb % LANES + 1 < nsub ? sb % LANES + 1         \
                                                                           : -1;                    \
        if (next >= 0) TILE_SUMS(a, b_, c, next);                                                  \
        const __m512 xd = _mm512_loadu_ps(x->d + AT * sb);                                         \
        int32_t(*sums)[AT] = cb[b];                                                                \
        R16(ACC_SUMS)                                                                              \
        if (mins) {                                                                                \
            const __m512 xs = _mm512_loadu_ps(x->s + AT * sb);                                     \
            R16(ACC_MINS)                                                                          \
        }                                                                                          \
        if (next >= 0) TILE_STORE(c, cb[nb], 64);                                                  \
        if (next < 0 || next % LANES != sb % LANES) {                                              \
            R16(ACC_OUT)                                                                           \
        }                                                                                          \
        sb = next;                                                                                 \
    } while (0)
    int sb = 0;
    TILE_SUMS(0, 1, 2, 0);
    TILE_STORE(2, cb[0], 64);
    for (;;) {
        AMX_STEP(3, 4, 5, 1, 0);
        if (sb < 0) break;
        AMX_STEP(0, 1, 2, 0, 1);
        if (sb < 0) break;
    }
#undef AMX_STEP
#undef R16
#undef ACC_DECL
#undef ACC_SUMS
#undef ACC_MINS
#undef ACC_OUT
    for (int r = 0; r < R; r++) {
        __m512 a[LANES];
        for (int l = 0; l < LANES; l++) a[l] = _mm512_load_ps(lanes[r][l]);
        for (int h = LANES / 2; h; h /= 2)
            for (int i = 0; i < h; i++) a[i] = _mm512_add_ps(a[i], a[i + h]);
        float v[AT];
        _mm512_storeu_ps(v, a[0]);
        for (int c = 0; c < C; c++) y[(size_t)c * ldy + r] = v[c];
    }
}

AMX static void tile_amx(const qkind *k, float *y, int ldy, int R, int C, const uint8_t *wa, size_t wsub,
                         long wrow, const float *dw, const float *mw, const xtiles *x, int nsub)
{
    if (k->S == 16) tile_amx_m(y, ldy, R, C, wa, wsub, wrow, dw, mw, x, nsub, 16, 0, 0, k->lane);
    else if (k->mins) tile_amx_m(y, ldy, R, C, wa, wsub, wrow, dw, mw, x, nsub, 32, 1, 0, k->lane);
    else tile_amx_m(y, ldy, R, C, wa, wsub, wrow, dw, mw, x, nsub, 32, 0, 1, k->lane);
}

/* Q8_0's 16 rows as stored (w: rows rb bytes apart; the codes are read in
 * place, signed): their scales dw [nb][16]. */
AMX static void q8_0_amx_scales(const uint8_t *w, size_t rb, int nb, float *dw)
{
    const __m512i at = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                          _mm512_set1_epi32((int)rb));
    for (int k = 0; k < nb; k++) /* d and the two codes after it: the low 16 bits */
        _mm512_storeu_ps(dw + AT * k, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(
                                          _mm512_i32gather_epi32(at, (const void *)(w + 34 * (size_t)k), 1))));
}

AMX static void amx_release(void) { _tile_release(); }

/* Whether this CPU has AMX int8 and Linux lets the process use its tile
 * data (arch_prctl ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA: the
 * permission is the process's, for all its threads). */
static int amx_available(void)
{
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    if (!(d & (1u << 24)) || !(d & (1u << 25))) return 0; /* AMX-TILE, AMX-INT8 */
    return syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */) == 0;
}

/* ------------------------------------------------------------ dispatch */
typedef void (*tile_fn)(float *y, int ldy, const wgroup *w, const xgroup *x, int ng, int T, int mins,
                        int R, int C);
static tile_fn tile = tile_c;
static int have_avx, have_amx, use_amx;

void nn_quant_select(void)
{
    __builtin_cpu_init();
    have_avx = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vnni");
    have_amx = have_avx && amx_available();
    tile = have_avx ? tile_avx : tile_c;
    round_x = have_avx ? round_x_avx : round_x_c;
    use_amx = have_amx;
}

int nn_quant_simd(int level)
{
    const int was = use_amx ? 2 : tile == tile_avx;
    tile = level >= 1 && have_avx ? tile_avx : tile_c;
    round_x = tile == tile_avx ? round_x_avx : round_x_c;
    use_amx = level >= 2 && have_amx;
    return was;
}

const char *nn_quant_kernels(void) { return use_amx ? "amx" : tile == tile_avx ? "avx512vnni" : "c"; }

enum { RT = 4, CT = 2 }; /* rows of W and of x per tile */

/* Whether a product is worth a thread team (a wake-up per product). */
#define SPLIT_MIN ((size_t)1 << 16)

/* A row of W as lane rows: by the type's AVX-512 packing when those
 * kernels are in use, else read block by block. */
static void pack_row(const qkind *k, const void *row, int I, int avx, wgroup *o)
{
    const int nsub = n_sub(k, I), ng = n_groups(k, I), per = k->block / k->S; /* sub-blocks a block */
    if (avx && k->pack) {
        k->pack(row, I / k->block, o);
        return;
    }
    for (int g = 0; g < ng; g++) {
        uint8_t q[LANES * 32];
        float dw[LANES], mw[LANES];
        const int s0 = LANES * g, n = nsub - s0 < LANES ? nsub - s0 : LANES;
        k->unpack((const char *)row + (size_t)(s0 / per) * k->block_bytes, (n + per - 1) / per, q, dw, mw);
        lanes_w(k, n, q, dw, mw, o + g);
    }
}

/* Rows of x from which the tile unit is used (below, VNNI: a tile of
 * 16 rows of x mostly padding costs more than it saves). */
enum { AMX_MIN_N = 8 };

static eef_err qmatmul_amx(const qkind *k, float *y, int ldy, const float *x, int ldx, const void *w,
                           int NO, int I, int N)
{
    const int S = k->S, nsub = n_sub(k, I), nb = I / k->block;
    const size_t rb = (size_t)nb * (size_t)k->block_bytes, nt = (size_t)(N + AT - 1) / AT;
    const int nth = nn_max_threads() > 1 && (size_t)NO * I * N >= SPLIT_MIN ? nn_max_threads() : 1;
    /* per thread: 16 rows of W's codes and scales, a row of them as unpacked,
     * x's codes (I) and block scales (I / 32) */
    const int q8 = k == &kind_q8_0; /* W's codes read in place (a copy for a part tile of rows) */
    const size_t per = (size_t)AT * I + 2 * (size_t)AT * nsub * sizeof(float) + (size_t)I +
                       2 * (size_t)nsub * sizeof(float) + ((size_t)I / 32 + 1) * sizeof(float) + (size_t)I +
                       (q8 ? (size_t)AT * rb : 0);
    xtiles xt;
    xt.q = calloc(nt * AT * (size_t)I, 1);
    xt.corr = calloc(nt * AT * (size_t)nsub, sizeof *xt.corr);
    xt.d = calloc(nt * AT * (size_t)nsub, sizeof *xt.d);
    xt.s = calloc(nt * AT * (size_t)nsub, sizeof *xt.s);
    char *mem = malloc((size_t)nth * per);
    if (!xt.q || !xt.corr || !xt.d || !xt.s || !mem) {
        free(xt.q), free(xt.corr), free(xt.d), free(xt.s), free(mem);
        return eef_fail(EEF_ENOMEM, "out of memory for a %d x %d product's scratch", NO, I);
    }
#pragma omp parallel num_threads(nth)
    {
        char *m = mem + per * (size_t)nn_thread_id();
        uint8_t *wa = (uint8_t *)m;
        float *dw = (float *)(m + (size_t)AT * I), *mw = dw + (size_t)AT * nsub, *rdw = mw + (size_t)AT * nsub;
        float *rmw = rdw + nsub, *bd = rmw + nsub;
        int8_t *q = (int8_t *)(bd + I / 32 + 1);
        uint8_t *rq = (uint8_t *)(q + I), *part = rq + I;
#pragma omp for schedule(static)
        for (int n = 0; n < N; n++) tiles_x(k, x + (size_t)n * ldx, I, n, q8 ? 0 : k->offset, q, bd, &xt);
        int lo, hi;
        nn_my_cols((NO + AT - 1) / AT, &lo, &hi);
        lo *= AT, hi = hi * AT < NO ? hi * AT : NO;
        if (lo < hi) amx_config(S);
        for (int r = lo; r < hi; r += AT) {
            const int R = hi - r < AT ? hi - r : AT;
            const uint8_t *wr = (const uint8_t *)w + (size_t)r * rb, *wt = wa;
            size_t wsub = (size_t)AT * S;
            long wrow = S;
            if (q8) {
                if (R < AT) { /* rows past W: codes and scales 0 */
                    memset(part, 0, (size_t)AT * rb);
                    memcpy(part, wr, (size_t)R * rb);
                    wr = part;
                }
                q8_0_amx_scales(wr, rb, nb, dw);
                wt = wr + 2, wsub = 34, wrow = (long)rb;
            }
            for (int i = 0; i < AT && !q8; i++) {
                if (i < R && k->amx_row) {
                    k->amx_row((const char *)w + (size_t)(r + i) * rb, nb, wa + (size_t)i * S, dw + i, mw + i);
                    continue;
                }
                if (i < R) k->unpack((const char *)w + (size_t)(r + i) * rb, nb, rq, rdw, rmw);
                else {
                    memset(rq, 0, (size_t)I);
                    memset(rdw, 0, (size_t)nsub * sizeof *rdw);
                    memset(rmw, 0, (size_t)nsub * sizeof *rmw);
                }
                for (int sb = 0; sb < nsub; sb++) {
                    memcpy(wa + ((size_t)AT * sb + i) * S, rq + (size_t)S * sb, (size_t)S);
                    dw[AT * sb + i] = rdw[sb], mw[AT * sb + i] = rmw[sb];
                }
            }
            for (size_t t = 0; t < nt; t++) {
                const xtiles xb = { xt.q + t * AT * (size_t)I, xt.corr + t * AT * (size_t)nsub,
                                    xt.d + t * AT * (size_t)nsub, xt.s + t * AT * (size_t)nsub };
                const int n = (int)t * AT;
                tile_amx(k, y + (size_t)n * ldy + r, ldy, R, N - n < AT ? N - n : AT, wt, wsub, wrow, dw, mw,
                         &xb, nsub);
            }
        }
        if (lo < hi) amx_release();
    }
    free(mem);
    free(xt.q), free(xt.corr), free(xt.d), free(xt.s);
    return EEF_OK;
}

/* One row of x (decoding) with the AVX-512 kernels: each row of W
 * straight from its blocks (dot1). */
static eef_err qmatvec(const qkind *k, float *y, const float *x, const void *w, int NO, int I)
{
    const int ng = n_groups(k, I), nb = I / k->block;
    const size_t rb = (size_t)nb * (size_t)k->block_bytes;
    const int nth = nn_max_threads() > 1 && (size_t)NO * I >= SPLIT_MIN ? nn_max_threads() : 1;
    /* one block: x's groups, their registers, the block scales, the codes */
    const size_t nxs = (size_t)ng * sizeof(xgroup), nxr = (size_t)ng * LANES * LANES * sizeof(uint32_t);
    char *mem = malloc(nxs + nxr + ((size_t)I / 32 + 1) * sizeof(float) + (size_t)I);
    if (!mem) return eef_fail(EEF_ENOMEM, "out of memory for a %d x %d product's scratch", NO, I);
    xgroup *xs = (xgroup *)mem;
    uint32_t *xr = (uint32_t *)(mem + nxs);
    float *bd = (float *)(mem + nxs + nxr);
    int8_t *q = (int8_t *)(bd + I / 32 + 1);
    lanes_x(k, x, I, q, bd, xs);
    xregs(xs, ng, k->S / 4, xr);
#pragma omp parallel num_threads(nth)
    {
        int lo, hi;
        nn_my_cols(NO, &lo, &hi);
        for (int r = lo; r < hi; r++) y[r] = k->dot1((const char *)w + (size_t)r * rb, nb, xs, xr);
    }
    free(mem);
    return EEF_OK;
}

static eef_err qmatmul(const qkind *k, float *y, int ldy, const float *x, int ldx, const void *w,
                       int NO, int I, int N)
{
    if (use_amx && N >= AMX_MIN_N) return qmatmul_amx(k, y, ldy, x, ldx, w, NO, I, N);
    if (N == 1 && k->dot1 && tile == tile_avx) return qmatvec(k, y, x, w, NO, I);
    const int ng = n_groups(k, I), T = k->S / 4, avx = tile == tile_avx;
    const size_t rb = (size_t)(I / k->block) * (size_t)k->block_bytes;
    const int nth = nn_max_threads() > 1 && (size_t)NO * I * N >= SPLIT_MIN ? nn_max_threads() : 1;
    /* per thread: RT lane rows of W, x's codes (I) and block scales (I / 32) */
    const size_t per = (size_t)RT * ng * sizeof(wgroup) + ((size_t)I / 32 + 1) * sizeof(float) + (size_t)I;
    xgroup *xs = malloc((size_t)N * ng * sizeof *xs);
    char *mem = malloc((size_t)nth * per);
    if (!xs || !mem) {
        free(xs), free(mem);
        return eef_fail(EEF_ENOMEM, "out of memory for a %d x %d product's scratch", NO, I);
    }
#pragma omp parallel num_threads(nth)
    {
        char *m = mem + per * (size_t)nn_thread_id();
        wgroup *wl = (wgroup *)m;
        float *bd = (float *)(m + (size_t)RT * ng * sizeof(wgroup));
        int8_t *q = (int8_t *)(bd + I / 32 + 1);
#pragma omp for schedule(static)
        for (int n = 0; n < N; n++) lanes_x(k, x + (size_t)n * ldx, I, q, bd, xs + (size_t)n * ng);
        int lo, hi;
        nn_my_cols((NO + RT - 1) / RT, &lo, &hi);
        lo *= RT, hi = hi * RT < NO ? hi * RT : NO;
        for (int r = lo; r < hi; r += RT) {
            const int R = hi - r < RT ? hi - r : RT;
            for (int i = 0; i < R; i++) pack_row(k, (const char *)w + (size_t)(r + i) * rb, I, avx, wl + (size_t)i * ng);
            for (int n = 0; n < N; n += CT)
                tile(y + (size_t)n * ldy + r, ldy, wl, xs + (size_t)n * ng, ng, T, k->mins, R,
                     N - n < CT ? N - n : CT);
        }
    }
    free(mem);
    free(xs);
    return EEF_OK;
}

#define QMATMUL(fn, kind)                                                                          \
    static eef_err fn(float *y, int ldy, const float *x, int ldx, const void *w, int NO, int I, int N) \
    {                                                                                              \
        return qmatmul(&kind, y, ldy, x, ldx, w, NO, I, N);                                        \
    }
QMATMUL(q8_0_matmul, kind_q8_0)
QMATMUL(q4_k_matmul, kind_q4_k)
QMATMUL(q5_k_matmul, kind_q5_k)
QMATMUL(q6_k_matmul, kind_q6_k)

const nn_dtype_ops nn_ops_q8_0 = { "Q8_0", 32, 34, q8_0_to_f32, q8_0_from_f32, q8_0_matmul };
const nn_dtype_ops nn_ops_q4_k = { "Q4_K", 256, 144, q4_k_to_f32, q4_k_from_f32, q4_k_matmul };
const nn_dtype_ops nn_ops_q5_k = { "Q5_K", 256, 176, q5_k_to_f32, q5_k_from_f32, q5_k_matmul };
const nn_dtype_ops nn_ops_q6_k = { "Q6_K", 256, 210, q6_k_to_f32, q6_k_from_f32, q6_k_matmul };

/* dtype.c: element types of weights and their kernel table.
 *
 * F32, F16 and BF16 are here; the GGUF block types (Q8_0, Q4_K, Q5_K,
 * Q6_K) are in nn/quant.c.  See nn_internal.h for what an entry holds. */
#include "quant.h"

#include <math.h>
#include <string.h>

static const char *const names[EEF_DT_COUNT] = { "F32", "F16", "BF16", "Q8_0",
                                                 "Q4_K", "Q5_K", "Q6_K" };

const char *eef_dtype_name(eef_dtype t)
{
    return (unsigned)t < EEF_DT_COUNT ? names[t] : "unknown";
}

/* ------------------------------------------------------------ rounding */
uint16_t nn_f32_to_bf16(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1); /* round to nearest, ties to even */
    return (uint16_t)(u >> 16);
}

uint16_t nn_f32_to_f16(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    uint32_t sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);           /* NaN */
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);          /* overflow: inf */
    if (a < 0x38800000u) {                                            /* subnormal or 0 */
        /* the value in units of 2^-24, rounded to nearest even */
        float f;
        memcpy(&f, &a, 4);
        float v = f * 16777216.0f; /* exact: a power-of-two scale */
        uint32_t q = (uint32_t)v;
        float rem = v - (float)q;
        if (rem > 0.5f || (rem == 0.5f && (q & 1))) q++;
        return (uint16_t)(sign | q);
    }
    uint32_t exp = (a >> 23) - 127 + 15, man = a & 0x7fffffu;
    uint32_t h = (exp << 10) | (man >> 13);
    uint32_t rest = man & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1))) h++; /* may carry into the exponent: right */
    return (uint16_t)(sign | h);
}

/* ------------------------------------------------------------ F32 */
static void f32_to_f32(const void *src, float *dst, int n) { memcpy(dst, src, (size_t)n * 4); }
static void f32_from_f32(const float *src, void *dst, int n) { memcpy(dst, src, (size_t)n * 4); }

/* ------------------------------------------------------------ F16, BF16 */
static void bf16_to_f32(const void *src, float *dst, int n) { nn_vec.bf16_to_f32(src, dst, n); }
static void f16_to_f32(const void *src, float *dst, int n) { nn_vec.f16_to_f32(src, dst, n); }

static void bf16_from_f32(const float *src, void *dst, int n)
{
    uint16_t *d = dst;
    for (int i = 0; i < n; i++) d[i] = nn_f32_to_bf16(src[i]);
}

static void f16_from_f32(const float *src, void *dst, int n)
{
    uint16_t *d = dst;
    for (int i = 0; i < n; i++) d[i] = nn_f32_to_f16(src[i]);
}

static const nn_dtype_ops ops_f32 = { "F32", 1, 4, f32_to_f32, f32_from_f32, NULL };
static const nn_dtype_ops ops_f16 = { "F16", 1, 2, f16_to_f32, f16_from_f32, NULL };
static const nn_dtype_ops ops_bf16 = { "BF16", 1, 2, bf16_to_f32, bf16_from_f32, NULL };

/* One slot per eef_dtype. */
static const nn_dtype_ops *const table[EEF_DT_COUNT] = {
    [EEF_DT_F32] = &ops_f32,
    [EEF_DT_F16] = &ops_f16,
    [EEF_DT_BF16] = &ops_bf16,
    [EEF_DT_Q8_0] = &nn_ops_q8_0,
    [EEF_DT_Q4_K] = &nn_ops_q4_k,
    [EEF_DT_Q5_K] = &nn_ops_q5_k,
    [EEF_DT_Q6_K] = &nn_ops_q6_k,
};

const nn_dtype_ops *nn_dtype_ops_of(eef_dtype t)
{
    return (unsigned)t < EEF_DT_COUNT ? table[t] : NULL;
}

int eef_dtype_supported(eef_dtype t) { return nn_dtype_ops_of(t) != NULL; }

size_t eef_dtype_row_bytes(eef_dtype t, int cols)
{
    const nn_dtype_ops *o = nn_dtype_ops_of(t);
    if (!o || cols < 0 || cols % o->block) return 0;
    return (size_t)(cols / o->block) * (size_t)o->block_bytes;
}

void nn_tensor_rows_f32(const eef_tensor *w, int r0, int r1, float *dst)
{
    const nn_dtype_ops *o = nn_dtype_ops_of(w->dtype);
    size_t rb = eef_dtype_row_bytes(w->dtype, w->cols);
    const char *src = (const char *)w->data + (size_t)r0 * rb;
    if (r1 > r0) o->to_f32(src, dst, (r1 - r0) * w->cols);
}

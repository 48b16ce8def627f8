/* vec_impl.h: the bodies of the SIMD row kernels, compiled several times by
 * vec.c under different target options (baseline, AVX2, AVX-512) with the
 * name suffix VSUF.  Plain loops with `omp simd`: the compiler vectorises
 * them at the width of each target.  Not a public header. */

#define VCAT2(a, b) a##b
#define VCAT(a, b) VCAT2(a, b)
#define VFN(name) VCAT(name, VSUF)

/* e^x for x in [-87, 88] (clamped), relative error < 1e-7: x = n ln2 + r
 * with |r| <= ln2/2, a degree-6 polynomial for e^r, 2^n from the
 * exponent bits.  Rounding to the nearest n uses the 1.5 * 2^23 trick,
 * which vectorises where floorf() does not. */
static inline float VFN(vexp)(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int bits = ((int)n + 127) << 23;
    float scale;
    __builtin_memcpy(&scale, &bits, 4);
    return p * scale;
}

static float VFN(vmax)(const float *restrict x, int n)
{
    float m = -__builtin_inff();
#pragma omp simd reduction(max : m)
    for (int i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

static float VFN(vexp_shift_sum)(float *restrict x, int n, float shift)
{
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < n; i++) {
        float e = VFN(vexp)(x[i] - shift);
        x[i] = e;
        s += e;
    }
    return s;
}

static float VFN(vsum_exp_shift)(const float *restrict x, int n, float shift)
{
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < n; i++) s += VFN(vexp)(x[i] - shift);
    return s;
}

static void VFN(vexp_shift)(float *restrict x, int n, float shift)
{
#pragma omp simd
    for (int i = 0; i < n; i++) x[i] = VFN(vexp)(x[i] - shift);
}

static void VFN(vexp_shift_scale)(float *restrict x, int n, float shift, float scale)
{
#pragma omp simd
    for (int i = 0; i < n; i++) x[i] = scale * VFN(vexp)(x[i] - shift);
}

static float VFN(vdot)(const float *restrict a, const float *restrict b, int n)
{
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static void VFN(vscale)(float *restrict x, int n, float s)
{
#pragma omp simd
    for (int i = 0; i < n; i++) x[i] *= s;
}

static void VFN(vadd)(float *restrict y, const float *restrict x, int n)
{
#pragma omp simd
    for (int i = 0; i < n; i++) y[i] += x[i];
}

static void VFN(vsoftmax_grad)(float *restrict ds, const float *restrict p, int n, float di)
{
#pragma omp simd
    for (int i = 0; i < n; i++) ds[i] = p[i] * (ds[i] - di);
}

static float VFN(vrms_row)(float *restrict y, const float *restrict x, const float *restrict g,
                           int n, float eps)
{
    float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    float r = 1.0f / __builtin_sqrtf(ss / (float)n + eps);
#pragma omp simd
    for (int i = 0; i < n; i++) y[i] = g[i] * x[i] * r;
    return r;
}

static void VFN(vrms_bwd_row)(float *restrict dx, const float *restrict dy,
                              const float *restrict x, const float *restrict g, float r, int n)
{
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int i = 0; i < n; i++) dot += dy[i] * g[i] * x[i];
    float c = r * r * r * dot / (float)n;
#pragma omp simd
    for (int i = 0; i < n; i++) dx[i] += r * g[i] * dy[i] - c * x[i];
}

static void VFN(vswiglu_row)(float *restrict o, const float *restrict a, const float *restrict b,
                             int n)
{
#pragma omp simd
    for (int i = 0; i < n; i++) o[i] = a[i] / (1.0f + VFN(vexp)(-a[i])) * b[i];
}

static void VFN(vswiglu_bwd_row)(float *restrict da, float *restrict db, const float *restrict d,
                                 const float *restrict a, const float *restrict b, int n)
{
#pragma omp simd
    for (int i = 0; i < n; i++) {
        float s = 1.0f / (1.0f + VFN(vexp)(-a[i]));
        da[i] = d[i] * b[i] * s * (1.0f + a[i] * (1.0f - s));
        db[i] = d[i] * a[i] * s;
    }
}

/* 16-bit weights.  bf16 is the top half of an f32: widening is a shift.
 * f16 is widened by the F16C instruction where the target has it, else
 * bit by bit (normal, subnormal, inf and NaN). */
static inline float VFN(bf16f)(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    __builtin_memcpy(&f, &u, 4);
    return f;
}

static inline float VFN(f16f)(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, man = h & 0x3ffu, u;
    if (e == 0x1f) u = sign | 0x7f800000u | (man << 13);   /* inf, NaN */
    else if (e) u = sign | ((e + 112) << 23) | (man << 13); /* normal */
    else {                                                   /* subnormal: man * 2^-24 */
        float f = (float)man * 5.9604644775390625e-8f;
        __builtin_memcpy(&u, &f, 4);
        u |= sign;
    }
    float f;
    __builtin_memcpy(&f, &u, 4);
    return f;
}

static void VFN(vbf16_to_f32)(const uint16_t *restrict src, float *restrict dst, int n)
{
#pragma omp simd
    for (int i = 0; i < n; i++) dst[i] = VFN(bf16f)(src[i]);
}

static float VFN(vdot_bf16)(const uint16_t *restrict w, const float *restrict x, int n)
{
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < n; i++) s += VFN(bf16f)(w[i]) * x[i];
    return s;
}

#ifdef __F16C__
static void VFN(vf16_to_f32)(const uint16_t *restrict src, float *restrict dst, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++) dst[i] = VFN(f16f)(src[i]);
}

static float VFN(vdot_f16)(const uint16_t *restrict w, const float *restrict x, int n)
{
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i)));
        __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i + 8)));
        acc0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + i), acc0);
        acc1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + i + 8), acc1);
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, _mm256_add_ps(acc0, acc1));
    float s = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
              ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
    for (; i < n; i++) s += VFN(f16f)(w[i]) * x[i];
    return s;
}
#else
static void VFN(vf16_to_f32)(const uint16_t *restrict src, float *restrict dst, int n)
{
    for (int i = 0; i < n; i++) dst[i] = VFN(f16f)(src[i]);
}

static float VFN(vdot_f16)(const uint16_t *restrict w, const float *restrict x, int n)
{
    float s = 0.0f;
    for (int i = 0; i < n; i++) s += VFN(f16f)(w[i]) * x[i];
    return s;
}
#endif

static const nn_vec_ops VFN(nn_vec_ops) = {
    .name = VNAME,
    .max = VFN(vmax),
    .exp_shift_sum = VFN(vexp_shift_sum),
    .sum_exp_shift = VFN(vsum_exp_shift),
    .exp_shift = VFN(vexp_shift),
    .exp_shift_scale = VFN(vexp_shift_scale),
    .dot = VFN(vdot),
    .scale = VFN(vscale),
    .add = VFN(vadd),
    .softmax_grad = VFN(vsoftmax_grad),
    .rms_row = VFN(vrms_row),
    .rms_bwd_row = VFN(vrms_bwd_row),
    .swiglu_row = VFN(vswiglu_row),
    .swiglu_bwd_row = VFN(vswiglu_bwd_row),
    .bf16_to_f32 = VFN(vbf16_to_f32),
    .f16_to_f32 = VFN(vf16_to_f32),
    .dot_bf16 = VFN(vdot_bf16),
    .dot_f16 = VFN(vdot_f16),
};

#undef VFN
#undef VCAT
#undef VCAT2

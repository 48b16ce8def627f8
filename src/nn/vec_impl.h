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

/* The lines 4 KB ahead are prefetched: widening weights for decoding
 * streams them from memory once, and the hardware prefetcher alone keeps
 * too few lines in flight (135M shape, one thread: 6.2 -> 9 GB/s). */
static void VFN(vbf16_to_f32)(const uint16_t *restrict src, float *restrict dst, int n)
{
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        __builtin_prefetch(src + i + 2048);
#pragma omp simd
        for (int j = i; j < i + 32; j++) dst[j] = VFN(bf16f)(src[j]);
    }
    for (; i < n; i++) dst[i] = VFN(bf16f)(src[i]);
}

#ifdef __F16C__
static void VFN(vf16_to_f32)(const uint16_t *restrict src, float *restrict dst, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++) dst[i] = VFN(f16f)(src[i]);
}
#else
static void VFN(vf16_to_f32)(const uint16_t *restrict src, float *restrict dst, int n)
{
    for (int i = 0; i < n; i++) dst[i] = VFN(f16f)(src[i]);
}
#endif

/* Dots of R rows of w (R <= 4, ldw floats apart) with N rows of x:
 * y[n ldy + r] = <w_r, x_n>.  Each dot is summed the same way whatever N
 * and R (and so whatever the other rows of a batch): decoding a sequence
 * alone or among others gives the same bits. */
#ifdef __AVX512F__
/* An R x C block: 16 lanes per dot, a masked tail, then the lanes summed
 * by _mm512_reduce_add_ps; the w rows are loaded once per C rows of x. */
static inline __attribute__((always_inline)) void
    VFN(dot_rc)(float *y, int ldy, const float *x, int ldx, const float *w, size_t ldw, int I,
                const int R, const int C)
{
    __m512 acc[4][4];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) acc[r][c] = _mm512_setzero_ps();
    int k = 0;
    for (; k + 16 <= I; k += 16) {
        __m512 wv[4];
        for (int r = 0; r < R; r++) wv[r] = _mm512_loadu_ps(w + r * ldw + k);
        for (int c = 0; c < C; c++) {
            __m512 xv = _mm512_loadu_ps(x + (size_t)c * ldx + k);
            for (int r = 0; r < R; r++) acc[r][c] = _mm512_fmadd_ps(wv[r], xv, acc[r][c]);
        }
    }
    if (k < I) {
        __mmask16 m = (__mmask16)((1u << (I - k)) - 1u);
        __m512 wv[4];
        for (int r = 0; r < R; r++) wv[r] = _mm512_maskz_loadu_ps(m, w + r * ldw + k);
        for (int c = 0; c < C; c++) {
            __m512 xv = _mm512_maskz_loadu_ps(m, x + (size_t)c * ldx + k);
            for (int r = 0; r < R; r++) acc[r][c] = _mm512_fmadd_ps(wv[r], xv, acc[r][c]);
        }
    }
    if (R * C <= 4) {
        for (int r = 0; r < R; r++)
            for (int c = 0; c < C; c++) y[(size_t)c * ldy + r] = _mm512_reduce_add_ps(acc[r][c]);
        return;
    }
    /* the 16 sums at once: v[4r + c] = acc[r][c] (zero where absent),
     * halved four times, each round adding lane j to lane j + 8, + 4,
     * + 2, + 1 of the same sum: _mm512_reduce_add_ps's pairs in its
     * order, so the same bits, with a quarter of its shuffles */
    __m512 v[16];
    for (int i = 0; i < 16; i++) v[i] = _mm512_setzero_ps();
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) v[4 * r + c] = acc[r][c];
    for (int i = 0; i < 8; i++) /* lanes 0-7: v[2i]'s, 8-15: v[2i + 1]'s */
        v[i] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0x44),
                             _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0xee));
    for (int i = 0; i < 4; i++) /* quarter k: sum 4i + k's four lanes */
        v[i] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0x88),
                             _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0xdd));
    for (int i = 0; i < 2; i++)
        v[i] = _mm512_add_ps(_mm512_shuffle_ps(v[2 * i], v[2 * i + 1], 0x44),
                             _mm512_shuffle_ps(v[2 * i], v[2 * i + 1], 0xee));
    /* quarter c: the sums of acc[0..3][c] */
    const __m512 t = _mm512_add_ps(_mm512_shuffle_ps(v[0], v[1], 0x88), _mm512_shuffle_ps(v[0], v[1], 0xdd));
    float out[16];
    _mm512_storeu_ps(out, t);
    for (int c = 0; c < C; c++)
        for (int r = 0; r < R; r++) y[(size_t)c * ldy + r] = out[4 * c + r];
}

static void VFN(vdot_block)(float *y, int ldy, const float *x, int ldx, int N, const float *w,
                            size_t ldw, int R, int I)
{
    for (int n = 0; n < N; n += 4) {
        const int C = N - n < 4 ? N - n : 4;
        float *yn = y + (size_t)n * ldy;
        const float *xn = x + (size_t)n * ldx;
#define DOT_RC(r_, c_)                                                                             \
    case (r_) * 4 + (c_) - 5: VFN(dot_rc)(yn, ldy, xn, ldx, w, ldw, I, r_, c_); break
        switch (R * 4 + C - 5) {
            DOT_RC(1, 1); DOT_RC(1, 2); DOT_RC(1, 3); DOT_RC(1, 4);
            DOT_RC(2, 1); DOT_RC(2, 2); DOT_RC(2, 3); DOT_RC(2, 4);
            DOT_RC(3, 1); DOT_RC(3, 2); DOT_RC(3, 3); DOT_RC(3, 4);
            DOT_RC(4, 1); DOT_RC(4, 2); DOT_RC(4, 3); DOT_RC(4, 4);
        }
#undef DOT_RC
    }
}
#else
static void VFN(vdot_block)(float *y, int ldy, const float *x, int ldx, int N, const float *w,
                            size_t ldw, int R, int I)
{
    for (int n = 0; n < N; n++)
        for (int r = 0; r < R; r++)
            y[(size_t)n * ldy + r] = VFN(vdot)(w + r * ldw, x + (size_t)n * ldx, I);
}
#endif

/* out = sum_j p_j v_j over nk cached values (decoding), rows ldv floats
 * apart: each element one sum over j in order (nn_tile_nn sums the same
 * way, so a prompt's rows as tiles match a token alone). */
#ifdef __AVX512F__
/* out in registers, NV (1-4) vectors of 16 values at a time */
static inline __attribute__((always_inline)) void
    VFN(values_nv)(float *out, const float *p, const float *v, size_t ldv, int nk, int w, const int NV)
{
    __mmask16 m[4];
    __m512 acc[4];
    for (int u = 0; u < NV; u++) {
        int left = w - 16 * u;
        m[u] = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
        acc[u] = _mm512_setzero_ps();
    }
    for (int j = 0; j < nk; j++) {
        const __m512 pj = _mm512_set1_ps(p[j]);
        const float *vj = v + (size_t)j * ldv;
        for (int u = 0; u < NV; u++)
            acc[u] = _mm512_fmadd_ps(pj, _mm512_maskz_loadu_ps(m[u], vj + 16 * u), acc[u]);
    }
    for (int u = 0; u < NV; u++) _mm512_mask_storeu_ps(out + 16 * u, m[u], acc[u]);
}

static void VFN(vattn_values)(float *restrict out, const float *restrict p,
                              const float *restrict v, size_t ldv, int nk, int hd)
{
    for (int c = 0; c < hd; c += 64) {
        const int w = hd - c < 64 ? hd - c : 64;
        switch ((w + 15) / 16) {
        case 1: VFN(values_nv)(out + c, p, v + c, ldv, nk, w, 1); break;
        case 2: VFN(values_nv)(out + c, p, v + c, ldv, nk, w, 2); break;
        case 3: VFN(values_nv)(out + c, p, v + c, ldv, nk, w, 3); break;
        default: VFN(values_nv)(out + c, p, v + c, ldv, nk, w, 4); break;
        }
    }
}

/* NB heads' mixes at once, NV vectors each (NB NV <= 8 sums in flight
 * where one head of hd = 32 has two): head h0 + b's weights at p + b ldp,
 * its values those of kv head (h0 + b) / G. */
static inline __attribute__((always_inline)) void
    VFN(values_heads_nb)(float *out, const float *p, size_t ldp, const float *v, size_t ldv, int G,
                         int nk, int hd, int h0, const int NB, const int NV)
{
    __m512 acc[8][4];
    const float *vb[8], *pb[8];
    for (int b = 0; b < NB; b++) {
        vb[b] = v + (size_t)((h0 + b) / G) * hd, pb[b] = p + (size_t)b * ldp;
        for (int u = 0; u < NV; u++) acc[b][u] = _mm512_setzero_ps();
    }
    for (int j = 0; j < nk; j++)
        for (int b = 0; b < NB; b++) {
            const __m512 pj = _mm512_set1_ps(pb[b][j]);
            const float *vj = vb[b] + (size_t)j * ldv;
            for (int u = 0; u < NV; u++) acc[b][u] = _mm512_fmadd_ps(pj, _mm512_loadu_ps(vj + 16 * u), acc[b][u]);
        }
    for (int b = 0; b < NB; b++)
        for (int u = 0; u < NV; u++) _mm512_storeu_ps(out + (size_t)(h0 + b) * hd + 16 * u, acc[b][u]);
}

static void VFN(vattn_values_heads)(float *restrict out, const float *restrict p, size_t ldp,
                                    const float *restrict v, size_t ldv, int G, int nk, int hd, int H)
{
    if (hd % 16 || hd > 64) {
        for (int h = 0; h < H; h++)
            VFN(vattn_values)(out + (size_t)h * hd, p + (size_t)h * ldp, v + (size_t)(h / G) * hd, ldv, nk, hd);
        return;
    }
    const int NV = hd / 16, HB = 8 / NV;
    for (int h0 = 0; h0 < H; h0 += HB) {
        const int nb = H - h0 < HB ? H - h0 : HB;
        const float *ph = p + (size_t)h0 * ldp;
#define VH(nb_, nv_)                                                                               \
    case (nb_) * 8 + (nv_): VFN(values_heads_nb)(out, ph, ldp, v, ldv, G, nk, hd, h0, nb_, nv_); break
        switch (nb * 8 + NV) {
            VH(1, 1); VH(2, 1); VH(3, 1); VH(4, 1); VH(5, 1); VH(6, 1); VH(7, 1); VH(8, 1);
            VH(1, 2); VH(2, 2); VH(3, 2); VH(4, 2);
            VH(1, 3); VH(2, 3);
            VH(1, 4); VH(2, 4);
        }
#undef VH
    }
}
#else
static void VFN(vattn_values)(float *restrict out, const float *restrict p,
                              const float *restrict v, size_t ldv, int nk, int hd)
{
    for (int i = 0; i < hd; i++) out[i] = 0.0f;
    for (int j = 0; j < nk; j++) {
        const float pj = p[j], *restrict vj = v + (size_t)j * ldv;
#pragma omp simd
        for (int i = 0; i < hd; i++) out[i] += pj * vj[i];
    }
}

static void VFN(vattn_values_heads)(float *restrict out, const float *restrict p, size_t ldp,
                                    const float *restrict v, size_t ldv, int G, int nk, int hd, int H)
{
    for (int h = 0; h < H; h++)
        VFN(vattn_values)(out + (size_t)h * hd, p + (size_t)h * ldp, v + (size_t)(h / G) * hd, ldv, nk, hd);
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
    .dot_block = VFN(vdot_block),
    .attn_values = VFN(vattn_values),
    .attn_values_heads = VFN(vattn_values_heads),
};

#undef VFN
#undef VCAT
#undef VCAT2

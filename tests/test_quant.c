/* GGUF block types (src/nn/quant.c).
 *
 *   dequantization of random blocks (extreme f16 scales included) against
 *   tests/ref/make_quant_ref.py, written from the format's definition:
 *       |eef - ref| <= 1e-6 |ref| (measured: bit-identical)
 *   products with x (the types' matmul, portable and AVX-512 kernels) against the
 *   double-precision product of the dequantized row with x: x is rounded
 *   to 8 bits per block of 32 (Q8_0) or 256 (K types), so the bound is
 *       sum_i |w_i| step_i + 1e-5 sum_i |w_i x_i|
 *   (step_i: amax / 127 of x's block, at least x's step; its rounding
 *   errs by half a step, a clamped code by one); the two kernels agree bit
 *   for bit, and so do a row of x alone and among others
 *   quantization (export): rms error over rms of gaussian rows below a
 *   per-type bound, and for Q8_0 quantize(dequantize(q)) == q
 *   nn_matmul on these types: decoding one row gives the bits prefill gives it
 */
#include "ref_fixture.h"

#include "nn/quant.h"

#define FIX "tests/fixtures/quant/ref.bin"

static const eef_dtype types[] = { EEF_DT_Q8_0, EEF_DT_Q4_K, EEF_DT_Q5_K, EEF_DT_Q6_K };

static void test_dequant_ref(void **state)
{
    (void)state;
    eef_nn_init();
    ref_set r;
    ref_load(FIX, &r);
    for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
        const nn_dtype_ops *o = nn_dtype_ops_of(types[k]);
        assert_non_null(o);
        char name[64];
        snprintf(name, sizeof name, "%s.blocks", o->name);
        const ref_tensor *b = ref_get(&r, name);
        snprintf(name, sizeof name, "%s.values", o->name);
        const ref_tensor *v = ref_get(&r, name);
        assert_int_equal(b->dims[1], o->block_bytes);
        assert_int_equal(v->dims[1], o->block);
        int n = b->dims[0];
        unsigned char *raw = malloc(b->n);
        for (size_t i = 0; i < b->n; i++) raw[i] = (unsigned char)b->data[i];
        float *out = malloc(v->n * sizeof(float));
        o->to_f32(raw, out, n * o->block);
        size_t exact = 0;
        for (size_t i = 0; i < v->n; i++) {
            double want = v->data[i], got = out[i];
            if (memcmp(&out[i], &v->data[i], 4) == 0) exact++;
            if (fabs(got - want) > 1e-6 * fabs(want))
                fail_msg("%s element %zu: %.9g, reference %.9g", o->name, i, got, want);
        }
        print_message("%s: %zu of %zu dequantized values bit-identical (max |diff| %g, max |ref| %g)\n",
                      o->name, exact, v->n, ref_max_diff(out, v->data, v->n), ref_max_abs(v->data, v->n));
        free(raw);
        free(out);
    }
    ref_free(&r);
}

/* Gaussian rows with a few outliers, quantized by eef. */
static unsigned char *random_rows(eef_dtype t, int rows, int cols, uint64_t seed, float *f32)
{
    eef_rng g = eef_rng_make(seed);
    const nn_dtype_ops *o = nn_dtype_ops_of(t);
    size_t rb = eef_dtype_row_bytes(t, cols);
    unsigned char *w = malloc((size_t)rows * rb);
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) {
            float x = eef_rng_normal(&g) * 0.02f;
            if (eef_rng_below(&g, 97) == 0) x *= 30.0f;
            f32[(size_t)r * cols + c] = x;
        }
        o->from_f32(f32 + (size_t)r * cols, w + (size_t)r * rb, cols);
    }
    return w;
}

static void test_quantize(void **state)
{
    (void)state;
    eef_nn_init();
    const double bound[] = { 0.02, 0.15, 0.08, 0.05 }; /* measured 0.012, 0.116, 0.052, 0.033 */ /* rms error / rms, per type */
    const int rows = 8, cols = 1024;
    float *x = malloc(sizeof(float) * rows * cols), *y = malloc(sizeof(float) * rows * cols);
    for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
        const nn_dtype_ops *o = nn_dtype_ops_of(types[k]);
        unsigned char *w = random_rows(types[k], rows, cols, 7 + k, x);
        size_t rb = eef_dtype_row_bytes(types[k], cols);
        o->to_f32(w, y, rows * cols);
        double se = 0, ss = 0;
        for (int i = 0; i < rows * cols; i++) se += (x[i] - y[i]) * (double)(x[i] - y[i]), ss += x[i] * (double)x[i];
        double rel = sqrt(se / ss);
        print_message("%s: rms error %.4f of rms\n", o->name, rel);
        if (rel >= bound[k]) fail_msg("%s: rms error %.4f of rms, bound %.2f", o->name, rel, bound[k]);
        /* Q8_0: a dequantized row quantizes to the same values (the K
         * types' plain min/max rule is not idempotent) */
        if (types[k] != EEF_DT_Q8_0) {
            free(w);
            continue;
        }
        unsigned char *w2 = malloc((size_t)rows * rb);
        o->from_f32(y, w2, rows * cols);
        float *y2 = malloc(sizeof(float) * rows * cols);
        o->to_f32(w2, y2, rows * cols);
        assert_memory_equal(y, y2, sizeof(float) * rows * cols);
        free(y2);
        free(w2);
        free(w);
    }
    free(x);
    free(y);
}

/* The type's product against the double product of the dequantized rows
 * with x, both kernels, and bit for bit: the portable kernel against
 * AVX-512, and each row of x computed among N = 7 against alone. */
static void test_dot(void **state)
{
    (void)state;
    eef_nn_init();
    enum { N = 7 };
    const int rows = 13, colsv[] = { 256, 768, 4096 + 512, 4864 }; /* 4864: 19 blocks, a part group */
    for (size_t k = 0; k < sizeof types / sizeof *types; k++)
        for (size_t ci = 0; ci < 4; ci++) {
            const int cols = colsv[ci];
            const nn_dtype_ops *o = nn_dtype_ops_of(types[k]);
            float *wf = malloc(sizeof(float) * rows * cols), *wd = malloc(sizeof(float) * rows * cols);
            unsigned char *w = random_rows(types[k], rows, cols, 100 + k, wf);
            o->to_f32(w, wd, rows * cols);
            float *x = malloc(sizeof(float) * N * cols);
            eef_rng g = eef_rng_make(55 + ci);
            for (int i = 0; i < N * cols; i++) x[i] = eef_rng_normal(&g) * (i % 97 == 3 ? 40.0f : 1.0f);
            for (int i = 0; i < cols; i++) x[2 * cols + i] = 0.0f; /* a row of zeros */
            x[3 * cols + 5] = INFINITY;                           /* a block not finite: kept as 0 */
            const int xb = o->block == 32 ? 32 : 256;
            float *step = malloc(sizeof(float) * cols);
            float yc[N * 13], ys[N * 13], y1[13];
            nn_quant_simd(0);
            assert_ok(o->matmul(yc, rows, x, cols, w, rows, cols, N));
            nn_quant_simd(2);
            assert_ok(o->matmul(ys, rows, x, cols, w, rows, cols, N));
            if (memcmp(yc, ys, sizeof yc))
                fail_msg("%s cols %d: portable and %s kernels differ", o->name, cols, nn_quant_kernels());
            for (int n = 0; n < N; n++) {
                assert_ok(o->matmul(y1, rows, x + (size_t)n * cols, cols, w, rows, cols, 1));
                if (memcmp(y1, ys + (size_t)n * rows, sizeof y1))
                    fail_msg("%s cols %d row %d of x: alone differs from among %d", o->name, cols, n, N);
                if (n == 3) continue;
                /* the step of x's rounding at each column */
                const float *xn = x + (size_t)n * cols;
                for (int b = 0; b < cols / xb; b++) {
                    float amax = 0;
                    for (int i = 0; i < xb; i++) amax = fmaxf(amax, fabsf(xn[b * xb + i]));
                    for (int i = 0; i < xb; i++) step[b * xb + i] = amax / 127.0f;
                }
                for (int r = 0; r < rows; r++) {
                    double ref = 0, bnd = 0, mag = 0;
                    for (int i = 0; i < cols; i++) {
                        double wi = wd[(size_t)r * cols + i];
                        ref += wi * xn[i];
                        bnd += fabs(wi) * step[i];
                        mag += fabs(wi * xn[i]);
                    }
                    bnd += 1e-5 * mag;
                    if (fabs(ys[n * rows + r] - ref) > bnd)
                        fail_msg("%s cols %d row %d: %.7g ref %.7g bound %.3g", o->name, cols, r,
                                 ys[n * rows + r], ref, bnd);
                }
            }
            free(step);
            free(x);
            free(w);
            free(wf);
            free(wd);
        }
    print_message("kernels: %s\n", nn_quant_kernels());
}

/* The AMX tiles (8 or more rows of x) against the VNNI kernels, bit for
 * bit: every type, row counts of W and x that leave part tiles. */
static void test_amx(void **state)
{
    (void)state;
    eef_nn_init();
    nn_quant_simd(2);
    if (strcmp(nn_quant_kernels(), "amx")) {
        print_message("no AMX on this CPU (kernels %s): not compared\n", nn_quant_kernels());
        return;
    }
    const int rowsv[] = { 13, 37 }, colsv[] = { 256, 768, 4864 }, Nv[] = { 8, 17, 40 };
    for (size_t k = 0; k < sizeof types / sizeof *types; k++)
        for (int ri = 0; ri < 2; ri++)
            for (int ci = 0; ci < 3; ci++) {
                const int rows = rowsv[ri], cols = colsv[ci], Nmax = 40;
                const nn_dtype_ops *o = nn_dtype_ops_of(types[k]);
                float *wf = malloc(sizeof(float) * rows * cols);
                unsigned char *w = random_rows(types[k], rows, cols, 700 + k, wf);
                float *x = malloc(sizeof(float) * Nmax * cols), *ya = malloc(sizeof(float) * Nmax * rows),
                      *yv = malloc(sizeof(float) * Nmax * rows);
                eef_rng g = eef_rng_make(77 + ci);
                for (int i = 0; i < Nmax * cols; i++) x[i] = eef_rng_normal(&g) * (i % 89 == 5 ? 30.0f : 1.0f);
                x[9 * cols + 3] = NAN; /* a code of 0 in a finite block */
                for (int ni = 0; ni < 3; ni++) {
                    const int N = Nv[ni];
                    nn_quant_simd(1);
                    assert_ok(o->matmul(yv, rows, x, cols, w, rows, cols, N));
                    nn_quant_simd(2);
                    assert_ok(o->matmul(ya, rows, x, cols, w, rows, cols, N));
                    if (memcmp(ya, yv, sizeof(float) * N * rows))
                        fail_msg("%s %d x %d, %d rows of x: AMX and VNNI differ", o->name, rows, cols, N);
                }
                free(x), free(ya), free(yv), free(w), free(wf);
            }
}

/* nn_matmul on these types, 40 rows (threads split W's rows) and one
 * row: within test_dot's bound of the double product, and the one row's
 * bits those it has among the 40 (decoding a token == prefill). */
static void test_matmul(void **state)
{
    (void)state;
    eef_nn_init();
    const int O = 300, I = 512, N = 40;
    for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
        float *wf = malloc(sizeof(float) * O * I), *wd = malloc(sizeof(float) * O * I);
        unsigned char *w = random_rows(types[k], O, I, 300 + k, wf);
        nn_dtype_ops_of(types[k])->to_f32(w, wd, O * I);
        eef_tensor t = { .dtype = types[k], .rows = O, .cols = I, .data = w };
        float *x = malloc(sizeof(float) * N * I), *y = malloc(sizeof(float) * N * O);
        eef_rng g = eef_rng_make(9);
        for (int i = 0; i < N * I; i++) x[i] = eef_rng_normal(&g);
        assert_ok(nn_matmul(y, O, x, I, &t, N));
        const int xb = t.dtype == EEF_DT_Q8_0 ? 32 : 256;
        for (int n = 0; n < N; n++) {
            float amax[512];
            const float *xn = x + (size_t)n * I;
            for (int i = 0; i < I; i++) amax[i / xb] = fmaxf(i % xb ? amax[i / xb] : 0.0f, fabsf(xn[i]));
            for (int o = 0; o < O; o++) {
                double ref = 0, bnd = 0;
                for (int i = 0; i < I; i++) {
                    double wi = wd[(size_t)o * I + i];
                    ref += wi * xn[i];
                    bnd += fabs(wi) * (amax[i / xb] / 127.0 + 1e-5 * fabs(xn[i]));
                }
                assert_true(fabs(y[n * O + o] - ref) <= bnd);
            }
        }
        float y1[300];
        assert_ok(nn_matmul(y1, O, x + 17 * I, I, &t, 1));
        assert_memory_equal(y1, y + 17 * O, sizeof y1);
        free(x), free(y), free(w), free(wf), free(wd);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dequant_ref),
        cmocka_unit_test(test_quantize),
        cmocka_unit_test(test_dot),
        cmocka_unit_test(test_amx),
        cmocka_unit_test(test_matmul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

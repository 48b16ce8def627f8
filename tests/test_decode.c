/* Decoding: the row kernel of nn_matmul (a row's result does not depend
 * on the rows decoded with it) and batched decoding (src/nn/decode.c). */
#include "testutil.h"

#include "nn/nn_internal.h"

static eef_rng rng;

static void fill(float *p, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++) p[i] = scale * eef_rng_normal(&rng);
}

/* Every row of a product of up to 64 rows has the bits it has alone, for
 * f32, bf16 and f16 weights, shapes with tails (rows not a multiple of 4,
 * columns not a multiple of 16), with 1 and 2 threads; and agrees with a
 * double-precision sum to float rounding (|error| <= 1e-5 sum |w x|). */
static void test_rows_independent(void **state)
{
    (void)state;
    eef_nn_init();
    rng = eef_rng_make(41);
    const int shapes[][2] = { { 37, 53 }, { 64, 128 }, { 300, 576 }, { 1031, 24 } };
    const eef_dtype types[] = { EEF_DT_F32, EEF_DT_BF16, EEF_DT_F16 };
    enum { N = 64 };
    const int max_threads = omp_get_max_threads();
    for (size_t s = 0; s < EEF_ARRAY_LEN(shapes); s++)
        for (size_t t = 0; t < EEF_ARRAY_LEN(types); t++) {
            const int O = shapes[s][0], I = shapes[s][1];
            float *wf = malloc((size_t)O * I * sizeof(float));
            float *x = malloc((size_t)N * I * sizeof(float));
            float *y = malloc((size_t)N * O * sizeof(float)), *y1 = malloc((size_t)O * sizeof(float));
            uint16_t *w16 = malloc((size_t)O * I * sizeof(uint16_t));
            fill(wf, (size_t)O * I, 1.0f);
            fill(x, (size_t)N * I, 1.0f);
            eef_tensor w = { .dtype = types[t], .rows = O, .cols = I, .data = wf };
            if (types[t] != EEF_DT_F32) {
                for (size_t i = 0; i < (size_t)O * I; i++) {
                    w16[i] = types[t] == EEF_DT_BF16 ? nn_f32_to_bf16(wf[i]) : nn_f32_to_f16(wf[i]);
                }
                nn_tensor_rows_f32(&(eef_tensor){ .dtype = types[t], .rows = O, .cols = I, .data = w16 },
                                   0, O, wf); /* the exact values the kernel sees */
                w.data = w16;
            }
            for (int threads = 1; threads <= 2; threads++) {
                omp_set_num_threads(threads);
                const int counts[] = { 1, 2, 3, 5, 8, 17, 32, N };
                for (size_t c = 0; c < EEF_ARRAY_LEN(counts); c++) {
                    const int n = counts[c];
                    assert_ok(nn_matmul(y, O, x, I, &w, n));
                    for (int r = 0; r < n; r += n > 8 ? 7 : 1) {
                        assert_ok(nn_matmul(y1, O, x + (size_t)r * I, I, &w, 1));
                        if (memcmp(y1, y + (size_t)r * O, (size_t)O * sizeof(float)))
                            fail_msg("%s %dx%d: row %d of %d differs from the row alone (%d threads)",
                                     eef_dtype_name(types[t]), O, I, r, n, threads);
                    }
                }
                assert_ok(nn_matmul(y1, O, x, I, &w, 1)); /* row 0 against double sums */
                for (int o = 0; o < O; o++) {
                    double ref = 0, mag = 0;
                    for (int i = 0; i < I; i++) {
                        ref += (double)wf[(size_t)o * I + i] * x[i];
                        mag += fabs((double)wf[(size_t)o * I + i] * x[i]);
                    }
                    if (fabs(y1[o] - ref) > 1e-5 * mag)
                        fail_msg("%s %dx%d: y[%d] = %.9g, double sum %.9g", eef_dtype_name(types[t]),
                                 O, I, o, y1[o], ref);
                }
            }
            omp_set_num_threads(max_threads);
            free(wf), free(x), free(y), free(y1), free(w16);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_independent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

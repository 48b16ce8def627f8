/* The random streams' distributions (core.h), against the exact ones:
 * a shuffle of 3 or 4 items is one of the 3! / 4! permutations each with
 * probability 1/n!, eef_rng_below(n) uniform on 0..n-1, eef_rng_uniform
 * uniform on [0, 1), eef_rng_normal N(0, 1); and keys whose arguments are
 * permuted are different streams.  Chi-square statistics are compared
 * with the 99.99% quantile of their distribution (fixed seeds: a pass is
 * a pass forever, the quantile says how unlikely a false failure was). */
#include "testutil.h"

#include <math.h>
#include <string.h>

/* chi-square 99.99% quantiles by degrees of freedom (scipy.stats.chi2.ppf) */
static double chi2_q9999(int df)
{
    static const double q[] = { 0, 15.137, 18.421, 21.108, 23.513, 25.745, 27.856, 29.878,
                                31.828, 33.720, 35.564, 37.367, 39.134, 40.871, 42.579, 44.263,
                                45.925, 47.566, 49.189, 50.795, 52.386, 53.962, 55.525, 57.075 };
    assert_true(df >= 1 && df < (int)EEF_ARRAY_LEN(q));
    return q[df];
}

static double chi2(const long *count, int k, double expect)
{
    double s = 0;
    for (int i = 0; i < k; i++) s += (count[i] - expect) * (count[i] - expect) / expect;
    return s;
}

static int perm_index(const int *p, int n)
{
    /* Lehmer code: a bijection of the n! permutations onto 0..n!-1 */
    int idx = 0;
    for (int i = 0; i < n; i++) {
        int smaller = 0;
        for (int j = i + 1; j < n; j++) smaller += p[j] < p[i];
        idx = idx * (n - i) + smaller;
    }
    return idx;
}

static void test_shuffle_uniform(void **state)
{
    (void)state;
    for (int n = 3; n <= 4; n++) {
        int fact = n == 3 ? 6 : 24;
        long count[24] = { 0 };
        const long draws = 24000;
        eef_rng r = eef_rng_make(eef_rng_key(42, (uint64_t)n, 0, 0));
        for (long d = 0; d < draws; d++) {
            int p[4] = { 0, 1, 2, 3 };
            eef_rng_shuffle(&r, p, (size_t)n, sizeof p[0]);
            count[perm_index(p, n)]++;
        }
        for (int i = 0; i < fact; i++)
            if (count[i] == 0) fail_msg("shuffle of %d: permutation %d never drawn", n, i);
        double s = chi2(count, fact, (double)draws / fact);
        if (s > chi2_q9999(fact - 1)) fail_msg("shuffle of %d: chi2 %.1f over %d permutations", n, s, fact);
    }
}

static void test_below_uniform(void **state)
{
    (void)state;
    const int ns[] = { 2, 3, 5, 7, 10, 23 };
    for (size_t t = 0; t < EEF_ARRAY_LEN(ns); t++) {
        int n = ns[t];
        long count[23] = { 0 };
        const long draws = 2300 * n;
        eef_rng r = eef_rng_make(eef_rng_key(9, (uint64_t)n, 1, 0));
        for (long d = 0; d < draws; d++) {
            uint64_t v = eef_rng_below(&r, (uint64_t)n);
            assert_true(v < (uint64_t)n);
            count[v]++;
        }
        double s = chi2(count, n, (double)draws / n);
        if (s > chi2_q9999(n - 1)) fail_msg("below(%d): chi2 %.1f", n, s);
    }
}

static void test_uniform_and_normal(void **state)
{
    (void)state;
    eef_rng r = eef_rng_make(eef_rng_key(5, 2, 0, 0));
    const int n = 200000;
    long bins[20] = { 0 };
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++) {
        double u = eef_rng_uniform(&r);
        assert_true(u >= 0 && u < 1);
        bins[(int)(u * 20)]++;
    }
    double s = chi2(bins, 20, n / 20.0);
    if (s > chi2_q9999(19)) fail_msg("uniform: chi2 %.1f over 20 bins", s);
    for (int i = 0; i < n; i++) {
        double z = eef_rng_normal(&r);
        sum += z, sq += z * z;
    }
    double mean = sum / n, var = sq / n - mean * mean;
    /* 4.5 standard errors: sd(mean) = 1/sqrt(n), sd(var) = sqrt(2/n) */
    assert_true(fabs(mean) < 4.5 / sqrt(n));
    assert_true(fabs(var - 1) < 4.5 * sqrt(2.0 / n));
}

static void test_keys_by_position(void **state)
{
    (void)state;
    /* the arguments of a key are positions, not a set: (seed, a, b, c)
     * with a, b, c permuted are six different streams, and the seed is
     * not one of them */
    const uint64_t v[3] = { 1, 2, 3 };
    const int perms[6][3] = { { 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 }, { 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 } };
    uint64_t k[7];
    for (int i = 0; i < 6; i++) k[i] = eef_rng_key(7, v[perms[i][0]], v[perms[i][1]], v[perms[i][2]]);
    k[6] = eef_rng_key(1, 7, 2, 3);
    for (int i = 0; i < 7; i++)
        for (int j = 0; j < i; j++)
            if (k[i] == k[j]) fail_msg("keys %d and %d coincide", i, j);
    /* neighbouring values of each argument give unrelated first draws */
    for (int arg = 0; arg < 4; arg++) {
        uint64_t a[4] = { 7, 1, 2, 3 }, b[4] = { 7, 1, 2, 3 };
        b[arg]++;
        eef_rng ra = eef_rng_make(eef_rng_key(a[0], a[1], a[2], a[3]));
        eef_rng rb = eef_rng_make(eef_rng_key(b[0], b[1], b[2], b[3]));
        uint64_t x = eef_rng_u64(&ra) ^ eef_rng_u64(&rb);
        int bits = __builtin_popcountll(x);
        if (bits < 12 || bits > 52) fail_msg("argument %d + 1: %d bits differ", arg, bits);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shuffle_uniform),
        cmocka_unit_test(test_below_uniform),
        cmocka_unit_test(test_uniform_and_normal),
        cmocka_unit_test(test_keys_by_position),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

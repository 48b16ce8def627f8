/* Sampling a token (nn.h eef_sample_token) against the exact
 * distributions: softmax(logits / T) at several temperatures, greedy at
 * T = 0, and the nucleus (Holtzman et al. 2020): the smallest set of the
 * most likely tokens whose mass reaches top_p, renormalised.  40,000 draws
 * each, chi-square against the 99.99% quantile (scipy.stats.chi2.ppf). */
#include "testutil.h"

#include "nn/nn.h"

#include <math.h>
#include <string.h>

#define N 5
static const float LOGITS[N] = { 2.0f, 1.0f, 0.0f, -1.0f, 0.5f };

static void draw(double T, double top_p, uint64_t seed, long count[N])
{
    memset(count, 0, N * sizeof *count);
    eef_rng r = eef_rng_make(eef_rng_key(seed, 0, 0, 0));
    eef_sampling s = { T, top_p };
    for (int i = 0; i < 40000; i++) {
        float l[N];
        memcpy(l, LOGITS, sizeof l);
        int k = eef_sample_token(l, N, &s, &r);
        assert_true(k >= 0 && k < N);
        count[k]++;
    }
}

/* chi-square of counts against probabilities p (zeros must be zero) */
static void expect(const long count[N], const double p[N], const char *what)
{
    double chi = 0;
    int df = -1;
    for (int k = 0; k < N; k++) {
        if (p[k] == 0) {
            if (count[k]) fail_msg("%s: token %d drawn %ld times, probability 0", what, k, count[k]);
            continue;
        }
        double e = 40000 * p[k];
        chi += (count[k] - e) * (count[k] - e) / e;
        df++;
    }
    static const double q9999[] = { 15.137, 18.421, 21.108, 23.513 }; /* df 1..4 */
    if (df >= 1 && chi > q9999[df - 1]) fail_msg("%s: chi2 %.1f with %d degrees of freedom", what, chi, df);
}

static void softmax(double T, double p[N])
{
    double z = 0;
    for (int k = 0; k < N; k++) z += exp(LOGITS[k] / T);
    for (int k = 0; k < N; k++) p[k] = exp(LOGITS[k] / T) / z;
}

static void test_temperature(void **state)
{
    (void)state;
    const double Ts[] = { 0.5, 1.0, 2.0 };
    long c[N];
    double p[N];
    for (size_t i = 0; i < EEF_ARRAY_LEN(Ts); i++) {
        softmax(Ts[i], p);
        draw(Ts[i], 1.0, 10 + i, c);
        char what[32];
        snprintf(what, sizeof what, "T = %g", Ts[i]);
        expect(c, p, what);
    }
    draw(0.0, 1.0, 3, c); /* greedy */
    assert_int_equal(c[0], 40000);
}

static void test_nucleus(void **state)
{
    (void)state;
    /* T = 1: p = 0.563 0.207 0.076 0.028 0.126 (tokens 0, 1, 4, 2, 3 by
     * probability); top_p 0.7: {0, 1}; 0.8: {0, 1, 4}; 0.5: {0} */
    double p[N], q[N];
    softmax(1.0, p);
    const struct {
        double top_p;
        int keep[N];
    } cases[] = { { 0.7, { 1, 1, 0, 0, 0 } }, { 0.8, { 1, 1, 0, 0, 1 } }, { 0.5, { 1, 0, 0, 0, 0 } } };
    for (size_t i = 0; i < EEF_ARRAY_LEN(cases); i++) {
        double mass = 0;
        for (int k = 0; k < N; k++) mass += cases[i].keep[k] ? p[k] : 0;
        for (int k = 0; k < N; k++) q[k] = cases[i].keep[k] ? p[k] / mass : 0;
        long c[N];
        draw(1.0, cases[i].top_p, 20 + i, c);
        char what[32];
        snprintf(what, sizeof what, "top_p = %g", cases[i].top_p);
        expect(c, q, what);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_temperature),
        cmocka_unit_test(test_nucleus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

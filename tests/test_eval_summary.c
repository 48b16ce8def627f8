/* An evaluation's summary (eval.h eef_eval_summarize) on hand-made
 * outcomes: a win is reward 1 only (partial rewards count in the score,
 * not the win rate), each tier is summarised from its own tasks, the
 * Wilson intervals are statsmodels' (proportion_confint(k, n,
 * method='wilson'), values below), the score is the mean reward x 100 and
 * its bootstrap interval holds it. */
#include "testutil.h"

#include "eval/eval.h"

#include <math.h>

/* tier, reward */
static const struct {
    int tier;
    double reward;
} OUT[] = {
    /* easy: 12 tasks, 7 wins, partial rewards 0.5 0.75 0.25 */
    { 0, 1 }, { 0, 1 }, { 0, 0.5 }, { 0, 1 }, { 0, 0.75 }, { 0, 1 }, { 0, 1 }, { 0, 0 },
    { 0, 1 }, { 0, 0.25 }, { 0, 1 }, { 0, 0 },
    /* medium: 10 tasks, 3 wins */
    { 1, 0.5 }, { 1, 1 }, { 1, 0.5 }, { 1, 0.5 }, { 1, 1 }, { 1, 0 }, { 1, 0.2 }, { 1, 1 },
    { 1, 0 }, { 1, 0.8 },
    /* hard: 8 tasks, no win, every reward 0.5 */
    { 2, 0.5 }, { 2, 0.5 }, { 2, 0.5 }, { 2, 0.5 }, { 2, 0.5 }, { 2, 0.5 }, { 2, 0.5 }, { 2, 0.5 },
};

static void check(const eef_rate *r, size_t n, size_t k, double lo, double hi, double score,
                  const char *what)
{
    if (r->n != n) fail_msg("%s: n %zu, want %zu", what, r->n, n);
    if (fabs(r->win - (double)k / (double)n) > 1e-15) fail_msg("%s: win %.17g, want %zu/%zu", what, r->win, k, n);
    if (fabs(r->win_lo - lo) > 1e-12 || fabs(r->win_hi - hi) > 1e-12)
        fail_msg("%s: Wilson [%.17g, %.17g], want [%.17g, %.17g]", what, r->win_lo, r->win_hi, lo, hi);
    if (fabs(r->score - score) > 1e-12) fail_msg("%s: score %.17g, want %.17g", what, r->score, score);
    assert_true(r->score_lo <= r->score && r->score <= r->score_hi);
}

static void test_summary(void **state)
{
    (void)state;
    size_t n = EEF_ARRAY_LEN(OUT);
    eef_traj t[EEF_ARRAY_LEN(OUT)];
    for (size_t i = 0; i < n; i++) {
        eef_traj_init(&t[i]);
        t[i].tier = OUT[i].tier;
        t[i].reward = OUT[i].reward;
        t[i].win = OUT[i].reward == 1.0;
    }
    eef_eval_summary s;
    eef_eval_summarize(t, n, 3, &s);
    /* scores: easy (7 + 1.5) / 12, medium (3 + 2.5) / 10, hard 4 / 8, all 18 / 30 */
    check(&s.all, 30, 10, 0.19230498083676129, 0.5121994835545616, 100.0 * 18.0 / 30.0, "all");
    check(&s.tier[0], 12, 7, 0.31951131254954973, 0.8067396863412435, 100.0 * 8.5 / 12.0, "easy");
    check(&s.tier[1], 10, 3, 0.10779126740630104, 0.6032218525388546, 100.0 * 5.5 / 10.0, "medium");
    check(&s.tier[2], 8, 0, 0.0, 0.32440756488388034, 50.0, "hard");
    /* the same rewards everywhere: a bootstrap interval of one point */
    assert_true(s.tier[2].score_lo == 50.0 && s.tier[2].score_hi == 50.0);
    assert_true(s.all.score_lo < s.all.score && s.all.score < s.all.score_hi);
    /* the order of the tasks does not matter to the rates */
    eef_traj r[EEF_ARRAY_LEN(OUT)];
    for (size_t i = 0; i < n; i++) r[i] = t[n - 1 - i];
    eef_eval_summary b;
    eef_eval_summarize(r, n, 3, &b);
    assert_true(b.all.win == s.all.win && b.tier[1].win_hi == s.tier[1].win_hi);
    /* an empty tier is n = 0 */
    eef_eval_summarize(t, 12, 3, &b);
    assert_int_equal(b.tier[1].n, 0);
    assert_int_equal(b.tier[2].n, 0);
    assert_int_equal(b.all.n, 12);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The score interval is defined (eval.h, docs/statistics.md) as the order
 * statistics 0.025 B and 0.975 B - 1 (from 0) of B resample means, each
 * resample n draws of eef_rng_below(n) from the stream of `key`: rebuilt
 * here from that definition, for several B and n. */
static void test_score_interval_definition(void **state)
{
    (void)state;
    double rewards[17];
    for (int i = 0; i < 17; i++) rewards[i] = (double)((i * 7) % 11) / 10.0;
    const size_t reps[] = { 40, 100, 1000, 1001 };
    for (size_t t = 0; t < EEF_ARRAY_LEN(reps); t++)
        for (size_t n = 3; n <= 17; n += 7) {
            size_t B = reps[t];
            uint64_t key = eef_rng_key(5, B, n, 0);
            double *m = malloc(B * sizeof *m);
            assert_non_null(m);
            eef_rng r = eef_rng_make(key);
            for (size_t b = 0; b < B; b++) {
                double sum = 0;
                for (size_t i = 0; i < n; i++) sum += rewards[eef_rng_below(&r, n)];
                m[b] = 100.0 * sum / (double)n;
            }
            qsort(m, B, sizeof *m, cmp_d);
            double lo, hi;
            eef_score_interval(rewards, n, B, key, &lo, &hi);
            if (lo != m[(size_t)(0.025 * (double)B)] || hi != m[(size_t)(0.975 * (double)B) - 1])
                fail_msg("B %zu, n %zu: [%.17g, %.17g], want [%.17g, %.17g]", B, n, lo, hi,
                         m[(size_t)(0.025 * (double)B)], m[(size_t)(0.975 * (double)B) - 1]);
            free(m);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_score_interval_definition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

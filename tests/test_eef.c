/* Unit tests of EEF's state selection, important-state rule and loss mask
 * on hand-made trajectories. */
#include "testutil.h"

#include "tune/tune.h"

static void test_candidates(void **state)
{
    (void)state;
    size_t t[EEF_MAX_CANDIDATES];
    /* every state but the terminal one */
    size_t n = eef_candidates(5, 1, 10, t);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++) assert_int_equal(t[i], i + 1);
    /* every 2nd */
    n = eef_candidates(7, 2, 10, t);
    assert_int_equal(n, 3);
    assert_int_equal(t[0], 2), assert_int_equal(t[1], 4), assert_int_equal(t[2], 6);
    /* at most M, evenly thinned, the latest kept, ascending */
    n = eef_candidates(11, 1, 3, t);
    assert_int_equal(n, 3);
    assert_int_equal(t[2], 10);
    assert_true(t[0] < t[1] && t[1] < t[2]);
    assert_int_equal(t[0], 1);
    n = eef_candidates(11, 1, 1, t);
    assert_int_equal(n, 1);
    assert_int_equal(t[0], 10);
    /* nothing to explore in a one-action trajectory */
    assert_int_equal(eef_candidates(1, 1, 5, t), 0);
    assert_int_equal(eef_candidates(0, 1, 5, t), 0);
}

/* The paper's rule: l = floor(n / (M + 1)), states s_l, s_2l, ..., s_Ml. */
static void test_candidates_even(void **state)
{
    (void)state;
    size_t t[EEF_MAX_CANDIDATES];
    /* n = 15, M = 5: l = 2, states 2, 4, 6, 8, 10 */
    size_t n = eef_candidates_even(15, 5, t);
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++) assert_int_equal(t[i], 2 * (i + 1));
    /* n = 12, M = 5: l = 2 (12 / 6), up to 10; n = 17: l = 2 too, still up to 10 */
    assert_int_equal(eef_candidates_even(12, 5, t), 5);
    assert_int_equal(t[4], 10);
    assert_int_equal(eef_candidates_even(17, 5, t), 5);
    assert_int_equal(t[4], 10);
    /* n = 18: l = 3, states 3 .. 15 */
    assert_int_equal(eef_candidates_even(18, 5, t), 5);
    assert_int_equal(t[0], 3), assert_int_equal(t[4], 15);
    /* every state of a short failure (n < M + 1) */
    n = eef_candidates_even(4, 5, t);
    assert_int_equal(n, 3);
    assert_int_equal(t[0], 1), assert_int_equal(t[2], 3);
    /* always before the end, never the start */
    for (size_t len = 2; len < 200; len++) {
        n = eef_candidates_even(len, 5, t);
        assert_true(n >= 1 && n <= 5);
        for (size_t i = 0; i < n; i++) assert_true(t[i] >= 1 && t[i] < len && (i == 0 || t[i] > t[i - 1]));
    }
    assert_int_equal(eef_candidates_even(1, 5, t), 0);
    assert_int_equal(eef_candidates_even(30, 0, t), 0);
    /* over a trajectory: among the states whose observation changed */
    eef_traj tr;
    eef_traj_init(&tr);
    const char *obs[8] = { "a", "b", "b", "c", "d", "e", "e", "f" };
    for (int i = 0; i < 8; i++) assert_ok(eef_traj_push(&tr, obs[i], "act", 1));
    size_t c[EEF_MAX_CANDIDATES];
    /* changed states after 1, 3, 4, 5, 7 actions: 5 of them, n' = 6; M = 2: l = 2 -> the 2nd and 4th */
    n = eef_candidates_of(&tr, EEF_SEARCH_EVEN, 1, 2, c);
    assert_int_equal(n, 2);
    assert_int_equal(c[0], 3), assert_int_equal(c[1], 5);
    eef_traj_free(&tr);
}

static void test_candidates_skip_unchanged(void **state)
{
    (void)state;
    /* obs a, b, b, c, c, c: actions 2, 4, 5 changed nothing visible, so the
     * states after 1 and 3 actions are the only ones worth exploring */
    eef_traj t;
    eef_traj_init(&t);
    const char *obs[6] = { "a", "b", "b", "c", "c", "c" };
    for (int i = 0; i < 6; i++) assert_ok(eef_traj_push(&t, obs[i], "act", 1));
    size_t c[EEF_MAX_CANDIDATES];
    size_t n = eef_candidates_traj(&t, 1, 10, c);
    assert_int_equal(n, 2);
    assert_int_equal(c[0], 1);
    assert_int_equal(c[1], 3);
    n = eef_candidates_traj(&t, 1, 1, c);
    assert_int_equal(n, 1);
    assert_int_equal(c[0], 3);
    eef_traj_free(&t);
}

static void test_important_state(void **state)
{
    (void)state;
    size_t t[4] = { 1, 2, 3, 4 }, j = 99;
    /* solved from the start: no EEF data */
    int s1[4] = { 1, 1, 1, 1 };
    assert_int_equal(eef_important_state(t, s1, 4, 1, &j), -1);
    /* never solved: none */
    int s2[4] = { 0, 0, 0, 0 };
    assert_int_equal(eef_important_state(t, s2, 4, 0, &j), -1);
    /* solved only late: s_3 is important, the preceding candidate s_2 */
    int s3[4] = { 0, 0, 1, 1 };
    assert_int_equal(eef_important_state(t, s3, 4, 0, &j), 2);
    assert_int_equal(j, 2);
    /* solved from the first candidate: preceding is the start */
    int s4[4] = { 1, 1, 1, 1 };
    assert_int_equal(eef_important_state(t, s4, 4, 0, &j), 0);
    assert_int_equal(j, 0);
    /* non-monotone: the earliest solved counts */
    int s5[4] = { 0, 1, 0, 1 };
    assert_int_equal(eef_important_state(t, s5, 4, 0, &j), 1);
    assert_int_equal(j, 1);
    /* an untried predecessor is not evidence of "unsolved" */
    int s6[4] = { -1, 1, 1, 1 };
    assert_int_equal(eef_important_state(t, s6, 4, 0, &j), -1);
}

static void make_rollout(eef_traj *t, size_t n_prefix, size_t n_agent)
{
    eef_traj_init(t);
    assert_ok(eef_traj_set(&t->id, "r1"));
    assert_ok(eef_traj_set(&t->env, "shop"));
    assert_ok(eef_traj_set(&t->task, "shop-train-3"));
    assert_ok(eef_traj_set(&t->source, "agent"));
    for (size_t i = 0; i < n_prefix + n_agent; i++) {
        char obs[32], act[32];
        snprintf(obs, sizeof obs, "obs %zu", i);
        snprintf(act, sizeof act, i < n_prefix ? "expert %zu" : "agent %zu", i);
        assert_ok(eef_traj_push(t, obs, act, i >= n_prefix));
    }
    t->reward = 1.0, t->win = 1;
}

static void test_solution_mask(void **state)
{
    (void)state;
    /* expert prefix a_1..a_5 (k = 5), preceding unsolved candidate j = 3:
     * masks 0 0 0 1 1 on the prefix, 1 on the agent's continuation */
    eef_traj r, s;
    make_rollout(&r, 5, 3);
    assert_ok(eef_solution(&r, 3, 5, &s));
    assert_int_equal(s.n_steps, 8);
    int want[8] = { 0, 0, 0, 1, 1, 1, 1, 1 };
    for (size_t i = 0; i < 8; i++) assert_int_equal(s.steps[i].mask, want[i]);
    assert_string_equal(s.source, "eef");
    assert_string_equal(s.steps[4].action, "expert 4");
    assert_string_equal(s.steps[5].action, "agent 5");
    assert_true(s.win);
    eef_traj_free(&s);
    /* j = 0: every expert action of the prefix is beneficial */
    assert_ok(eef_solution(&r, 0, 5, &s));
    for (size_t i = 0; i < 8; i++) assert_int_equal(s.steps[i].mask, 1);
    eef_traj_free(&s);
    /* inconsistent states are refused */
    assert_int_equal(eef_solution(&r, 4, 3, &s), EEF_EINVAL);
    assert_int_equal(eef_solution(&r, 0, 9, &s), EEF_EINVAL);
    eef_traj_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_candidates), cmocka_unit_test(test_candidates_even),
        cmocka_unit_test(test_candidates_skip_unchanged),
        cmocka_unit_test(test_important_state),
        cmocka_unit_test(test_solution_mask),
    };
    return cmocka_run_group_tests_name("eef", tests, NULL, NULL);
}

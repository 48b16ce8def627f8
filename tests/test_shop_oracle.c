/* Tests of the shop's oracle and key actions, the tier mix of the default
 * catalogue, and how rarely a random valid-action policy wins. */
#include "testutil.h"

#include "env/env.h"
#include "env/shop/shop_internal.h"

static eef_env *default_env(void)
{
    static eef_env *env;
    if (!env) assert_ok(eef_env_open("shop", NULL, 1, &env));
    return env;
}

static eef_step replay(eef_episode *ep, eef_split split, size_t i, const eef_strlist *a)
{
    eef_step st;
    assert_ok(eef_env_restore(ep, split, i, (const char *const *)a->items, a->n, &st));
    return st;
}

static void test_oracle_wins_every_task(void **state)
{
    (void)state;
    eef_env *env = default_env();
    shop_env *e = (shop_env *)env;
    eef_episode *ep;
    assert_ok(env->ops->episode_open(env, &ep));
    eef_strlist acts = { 0 };
    size_t n_tasks = 0, steps = 0;
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < env->ops->n_tasks(env, (eef_split)s); i++) {
            const shop_task *t = &e->tasks[s][i];
            assert_ok(eef_shop_oracle(env, (eef_split)s, i, &acts));
            eef_step st = replay(ep, (eef_split)s, i, &acts);
            if (!(st.done && st.reward == 1.0)) fail_msg("%s: oracle reward %g", t->id, st.reward);
            assert_true(acts.n <= (size_t)env->max_steps);
            /* tiers are facts about the solution the oracle found */
            size_t nexts = 0;
            for (size_t k = 0; k < acts.n; k++) nexts += strcmp(acts.items[k], "click[Next >]") == 0;
            assert_int_equal(nexts, (size_t)t->first_win / SHOP_PER_PAGE);
            if (t->tier != EEF_TIER_HARD) assert_int_equal(nexts, 0);
            if (t->tier == EEF_TIER_EASY) assert_true(t->goal.n_opts <= 1);
            if (t->tier == EEF_TIER_MEDIUM) assert_true(t->goal.n_opts >= 2);
            if (t->tier == EEF_TIER_HARD) assert_true(nexts > 0 || t->deceptive);
            n_tasks++;
            steps += acts.n;
        }
    printf("oracle: %zu of %zu tasks won, %.2f steps on average\n", n_tasks, n_tasks,
           (double)steps / (double)n_tasks);
    eef_strlist_free(&acts);
    env->ops->episode_close(ep);
}

static void test_tier_mix(void **state)
{
    (void)state;
    eef_env *env = default_env();
    for (int s = 0; s < 2; s++) {
        size_t n = env->ops->n_tasks(env, (eef_split)s), count[3] = { 0 };
        assert_int_equal(n, s ? 500 : 1500);
        for (size_t i = 0; i < n; i++) {
            eef_task t;
            assert_ok(env->ops->task(env, (eef_split)s, i, &t));
            count[t.tier]++;
        }
        printf("%s tiers: easy %.1f%%, medium %.1f%%, hard %.1f%%\n", eef_split_name((eef_split)s),
               100.0 * count[0] / n, 100.0 * count[1] / n, 100.0 * count[2] / n);
        /* the aim is roughly 35-45 / 25-35 / 25-35 */
        assert_true(count[0] > n * 30 / 100 && count[0] < n * 52 / 100);
        assert_true(count[1] > n * 18 / 100 && count[1] < n * 38 / 100);
        assert_true(count[2] > n * 20 / 100 && count[2] < n * 38 / 100);
    }
}

static void test_key_actions(void **state)
{
    (void)state;
    eef_env *env = default_env();
    shop_env *e = (shop_env *)env;
    eef_strlist acts = { 0 };
    unsigned char key[32];
    int crafted = 0;
    for (size_t i = 0; i < 300; i++) {
        assert_ok(eef_shop_oracle(env, EEF_SPLIT_TRAIN, i, &acts));
        assert_ok(eef_shop_key_actions(env, EEF_SPLIT_TRAIN, i, (const char *const *)acts.items, acts.n, key));
        /* every step of the oracle's solution but the search is key */
        assert_false(key[0]);
        for (size_t k = 1; k < acts.n; k++)
            if (!key[k]) fail_msg("task %zu: '%s' is not key", i, acts.items[k]);
        /* a failure after the key steps: open the winner, pick a value that
         * does not count, buy.  Opening is key; the wrong value and the
         * losing Buy Now are not. */
        const shop_task *t = &e->tasks[0][i];
        size_t open_at = 1 + (size_t)t->first_win / SHOP_PER_PAGE;
        char asin[16];
        snprintf(asin, sizeof asin, "%.10s", acts.items[open_at] + 6 /* after "click[" */);
        long item = shop_catalog_find(&e->cat, asin);
        assert_true(item >= 0);
        const shop_product *p = &e->cat.items[item];
        int wrong = -1;
        for (uint32_t v = 0; p->n_dims && v < p->dims[0].n_values && wrong < 0; v++)
            if (!shop_option_matches(p, &t->goal, 0, v)) wrong = (int)v;
        if (wrong < 0 || t->goal.n_opts == 0) continue;
        const char *seq[32];
        char wrong_click[256];
        snprintf(wrong_click, sizeof wrong_click, "click[%s]", p->dims[0].values[wrong]);
        size_t n = 0;
        for (size_t k = 0; k <= open_at; k++) seq[n++] = acts.items[k];
        seq[n++] = wrong_click;
        seq[n++] = "click[Buy Now]";
        assert_ok(eef_shop_key_actions(env, EEF_SPLIT_TRAIN, i, seq, n, key));
        for (size_t k = 1; k <= open_at; k++) assert_true(key[k]);
        assert_false(key[n - 2]);
        assert_false(key[n - 1]);
        crafted++;
    }
    assert_true(crafted > 100);
    /* Next > past the first winning page is not key; nor are sub-pages */
    for (size_t i = 0; i < 300; i++) {
        const shop_task *t = &e->tasks[0][i];
        if (t->first_win < 0 || t->first_win >= SHOP_PER_PAGE) continue;
        char q[1024];
        snprintf(q, sizeof q, "search[%s]", t->query);
        const char *seq[] = { q, "click[Next >]", "click[< Prev]" };
        assert_ok(eef_shop_key_actions(env, EEF_SPLIT_TRAIN, i, seq, 3, key));
        assert_false(key[0] || key[1] || key[2]);
        break;
    }
    /* errors */
    assert_int_equal(eef_shop_oracle(NULL, EEF_SPLIT_TRAIN, 0, &acts), EEF_EINVAL);
    assert_int_equal(eef_shop_oracle(env, EEF_SPLIT_TEST, 500, &acts), EEF_EINVAL);
    eef_strlist_free(&acts);
}

/* A random valid-action policy (random instruction words as the search,
 * then uniform valid clicks) rarely wins. */
static void test_random_policy_rarely_wins(void **state)
{
    (void)state;
    eef_env *env = default_env();
    eef_episode *ep;
    assert_ok(env->ops->episode_open(env, &ep));
    eef_actions acts = { 0 };
    int wins = 0, buys = 0;
    double score = 0;
    const int N = 3000;
    for (int k = 0; k < N; k++) {
        eef_rng r = eef_rng_make(eef_rng_key(4, (uint64_t)k, 0, 0));
        size_t ti = (size_t)k % 1500;
        eef_task task;
        eef_step st;
        assert_ok(env->ops->task(env, EEF_SPLIT_TRAIN, ti, &task));
        assert_ok(env->ops->reset(ep, EEF_SPLIT_TRAIN, ti, &st));
        while (!st.done) {
            assert_ok(env->ops->actions(ep, &acts));
            char buf[1024];
            if (acts.free_prefix) {
                /* a few random words of the instruction */
                char words[64][48];
                int n = 0;
                for (const char *s = task.instruction; *s && n < 64;) {
                    while (*s == ' ') s++;
                    int c = 0;
                    while (*s && *s != ' ') {
                        if (c < 47) words[n][c++] = *s;
                        s++;
                    }
                    words[n][c] = 0;
                    if (c) n++;
                }
                size_t len = (size_t)snprintf(buf, sizeof buf, "search[");
                for (int w = 0, m = 1 + (int)eef_rng_below(&r, 6); w < m; w++)
                    len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", w ? " " : "",
                                            words[eef_rng_below(&r, (uint64_t)n)]);
                snprintf(buf + len, sizeof buf - len, "]");
            } else {
                snprintf(buf, sizeof buf, "%s", acts.items.items[eef_rng_below(&r, acts.items.n)]);
            }
            assert_ok(env->ops->step(ep, buf, &st));
            assert_true(st.valid);
        }
        buys += ((shop_episode *)ep)->st.page == PG_DONE;
        wins += st.reward == 1.0;
        score += st.reward;
    }
    printf("random valid-action policy: win %.2f%%, score %.1f, bought in %.1f%% of %d episodes\n",
           100.0 * wins / N, 100.0 * score / N, 100.0 * buys / N, N);
    assert_true(buys > N / 5);      /* it does buy things */
    assert_true(wins < N * 3 / 100); /* but rarely the right one */
    eef_actions_free(&acts);
    env->ops->episode_close(ep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oracle_wins_every_task),
        cmocka_unit_test(test_tier_mix),
        cmocka_unit_test(test_key_actions),
        cmocka_unit_test(test_random_policy_rarely_wins),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    eef_env_close(default_env());
    return rc;
}

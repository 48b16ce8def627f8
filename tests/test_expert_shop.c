/* Tests of the built-in shop expert: options, determinism per rollout
 * stream, its calibration on the default train split (win rate, wins by
 * tier, key actions in its failures), its knobs, and taking over a state
 * mid-episode. */
#include "testutil.h"

#include "agent/policy.h"
#include "env/env.h"
#include "env/shop/shop.h"

typedef struct {
    char *obs[64];
    char *acts[64];
    size_t n;
    double reward;
    int invalid;
} episode;

static void episode_free(episode *e)
{
    for (size_t i = 0; i <= e->n && e->obs[i]; i++) free(e->obs[i]);
    for (size_t i = 0; i < e->n; i++) free(e->acts[i]);
    memset(e, 0, sizeof *e);
}

/* reset (or restore `prefix`), then act/step until done: a plain rollout */
static void play(eef_env *env, eef_actor *actor, eef_episode *ep, eef_split split, size_t index,
                 uint64_t seed, const char *const *prefix, size_t n_prefix, episode *out)
{
    eef_task task;
    eef_step st;
    assert_ok(env->ops->task(env, split, index, &task));
    memset(out, 0, sizeof *out);
    assert_ok(env->ops->reset(ep, split, index, &st));
    out->obs[0] = strdup(st.obs);
    for (size_t i = 0; i < n_prefix; i++) {
        assert_ok(env->ops->step(ep, prefix[i], &st));
        out->acts[out->n++] = strdup(prefix[i]);
        out->obs[out->n] = strdup(st.obs);
    }
    eef_actions valid = { 0 };
    eef_buf action;
    eef_buf_init(&action);
    eef_rng rng = eef_rng_make(eef_rng_key(seed, 11, (uint64_t)split, index));
    while (!st.done) {
        assert_ok(env->ops->actions(ep, &valid));
        eef_context ctx = { &task, seed * 100003u + index, (const char *const *)out->obs,
                            (const char *const *)out->acts, out->n, &valid,
                            &eef_shop_text };
        assert_ok(actor->policy->ops->act(actor, &ctx, &rng, &action));
        assert_ok(env->ops->step(ep, action.data, &st));
        out->invalid += !st.valid;
        out->acts[out->n++] = strdup(action.data);
        out->obs[out->n] = strdup(st.obs);
        assert_true(out->n < 63);
    }
    out->reward = st.reward;
    eef_actions_free(&valid);
    eef_buf_free(&action);
}

static eef_env *default_env(void)
{
    static eef_env *env;
    if (!env) assert_ok(eef_env_open("shop", NULL, 1, &env));
    return env;
}

static void test_options(void **state)
{
    (void)state;
    eef_policy *p;
    assert_ok(eef_expert_shop_open(NULL, &p));
    assert_string_equal(p->ops->name, "expert-shop");
    p->ops->close(p);
    assert_ok(eef_expert_shop_open("wrong_option=0.2,attr_check=1,per_page=3,step_budget=20", &p));
    p->ops->close(p);
    assert_int_equal(eef_expert_shop_open("wrong_colour=0.2", &p), EEF_EINVAL);
    assert_non_null(strstr(eef_errmsg(), "unknown option 'wrong_colour'"));
    assert_int_equal(eef_expert_shop_open("attr_check=2", &p), EEF_EINVAL);
    assert_int_equal(eef_expert_shop_open("per_page=0", &p), EEF_EINVAL);
    assert_int_equal(eef_expert_shop_open("misclick", &p), EEF_EINVAL);
}

/* The same rollout stream gives the same actions, whatever actor plays
 * it and whatever it played before. */
static void check_deterministic(const char *options)
{
    eef_env *env = default_env();
    eef_policy *p;
    assert_ok(eef_expert_shop_open(options, &p));
    eef_actor *a1, *a2;
    assert_ok(p->ops->actor_open(p, &a1));
    assert_ok(p->ops->actor_open(p, &a2));
    eef_episode *ep;
    assert_ok(env->ops->episode_open(env, &ep));
    int differ = 0;
    for (size_t i = 0; i < 120; i++) {
        episode x, y, z;
        play(env, a1, ep, EEF_SPLIT_TRAIN, i, 5, NULL, 0, &x);
        play(env, a2, ep, EEF_SPLIT_TRAIN, 119 - i, 5, NULL, 0, &z); /* a2 plays something else first */
        episode_free(&z);
        play(env, a2, ep, EEF_SPLIT_TRAIN, i, 5, NULL, 0, &y);
        assert_int_equal(x.n, y.n);
        for (size_t k = 0; k < x.n; k++) assert_string_equal(x.acts[k], y.acts[k]);
        assert_true(x.reward == y.reward);
        episode_free(&y);
        play(env, a2, ep, EEF_SPLIT_TRAIN, i, 6, NULL, 0, &y); /* another stream */
        int same = x.n == y.n;
        for (size_t k = 0; same && k < x.n; k++) same = strcmp(x.acts[k], y.acts[k]) == 0;
        differ += !same;
        episode_free(&x);
        episode_free(&y);
    }
    printf("%s: another rollout stream changed %d of 120 episodes\n", options ? options : "defaults", differ);
    assert_true(differ >= 10);
    env->ops->episode_close(ep);
    p->ops->actor_close(a1);
    p->ops->actor_close(a2);
    p->ops->close(p);
}

static void test_deterministic(void **state)
{
    (void)state;
    check_deterministic(NULL);
    check_deterministic("profile=weak");
}

typedef struct {
    int n[EEF_N_TIERS], win[EEF_N_TIERS], fail[EEF_N_TIERS], fail_key[EEF_N_TIERS];
    double score[EEF_N_TIERS];
    int wins_with_next, invalid;
} tally;

static void run_split(const char *options, size_t limit, tally *t)
{
    eef_env *env = default_env();
    eef_policy *p;
    assert_ok(eef_expert_shop_open(options, &p));
    eef_actor *a;
    assert_ok(p->ops->actor_open(p, &a));
    eef_episode *ep;
    assert_ok(env->ops->episode_open(env, &ep));
    memset(t, 0, sizeof *t);
    size_t n = env->ops->n_tasks(env, EEF_SPLIT_TRAIN);
    if (limit && limit < n) n = limit;
    for (size_t i = 0; i < n; i++) {
        eef_task task;
        assert_ok(env->ops->task(env, EEF_SPLIT_TRAIN, i, &task));
        episode e;
        play(env, a, ep, EEF_SPLIT_TRAIN, i, 1, NULL, 0, &e);
        unsigned char key[64];
        assert_ok(eef_shop_key_actions(env, EEF_SPLIT_TRAIN, i, (const char *const *)e.acts, e.n, key));
        int has_key = 0, next_key = 0;
        for (size_t k = 0; k < e.n; k++) {
            has_key |= key[k];
            next_key |= key[k] && strcmp(e.acts[k], "click[Next >]") == 0;
        }
        int tier = task.tier;
        t->n[tier]++;
        t->score[tier] += e.reward;
        t->invalid += e.invalid;
        if (e.reward == 1.0) {
            t->win[tier]++;
            t->wins_with_next += next_key;
        } else {
            t->fail[tier]++;
            t->fail_key[tier] += has_key;
        }
        episode_free(&e);
    }
    env->ops->episode_close(ep);
    p->ops->actor_close(a);
    p->ops->close(p);
}

static int total(const int *v) { return v[0] + v[1] + v[2]; }

static void print_tally(const char *label, const tally *t)
{
    int n = total(t->n), w = total(t->win);
    printf("%s: win %.1f%%, score %.1f over %d tasks\n", label, 100.0 * w / n,
           100.0 * (t->score[0] + t->score[1] + t->score[2]) / n, n);
    for (int k = 0; k < EEF_N_TIERS; k++)
        printf("  %-6s %4d tasks: win %5.1f%%  score %5.1f  failures with a key action %5.1f%%\n",
               eef_tier_name((eef_tier)k), t->n[k], 100.0 * t->win[k] / t->n[k],
               100.0 * t->score[k] / t->n[k], t->fail[k] ? 100.0 * t->fail_key[k] / t->fail[k] : 0.0);
    printf("  wins by tier: easy %.0f%%, medium %.0f%%, hard %.0f%%; wins using a key Next >: %d of %d\n",
           100.0 * t->win[0] / w, 100.0 * t->win[1] / w, 100.0 * t->win[2] / w, t->wins_with_next, w);
}

/* The calibrated defaults on the default train split (1,500 tasks). */
static void test_calibration(void **state)
{
    (void)state;
    tally t;
    run_split(NULL, 0, &t);
    print_tally("expert-shop defaults, train split", &t);
    int n = total(t.n), w = total(t.win);
    assert_int_equal(n, 1500);
    assert_int_equal(t.invalid, 0);
    /* about GPT-4's 36% */
    assert_true(w > n * 30 / 100 && w < n * 41 / 100);
    /* mostly easy wins */
    assert_true(t.win[0] * 100 / t.n[0] > t.win[1] * 100 / t.n[1]);
    assert_true(t.win[0] * 100 / t.n[0] > t.win[2] * 100 / t.n[2]);
    assert_true(t.win[0] > w * 6 / 10);
    /* its hard failures mostly contain a key action of a correct solution */
    assert_true(t.fail_key[2] * 2 > t.fail[2]);
    /* and its wins rarely show the key Next > */
    assert_true(t.wins_with_next * 20 < w);
}

/* The weak profile (`--expert weak`, the paper's GPT-3.5): about half the
 * default's wins on the 1,500 train tasks, no invalid action, and each of
 * its habits costs wins on its own: misread and stop_early never win a
 * task that needs two option values (medium), trusting the ranking wins
 * fewer. */
static void test_weak_profile(void **state)
{
    (void)state;
    eef_policy *p;
    assert_ok(eef_expert_open("shop", "weak", "misclick=0.02", &p)); /* options after the profile */
    eef_policy_close(p);
    assert_int_equal(eef_expert_shop_open("profile=clumsy", &p), EEF_EINVAL);
    tally d, w, first, misread, stop;
    run_split(NULL, 0, &d);
    run_split("profile=weak", 0, &w);
    print_tally("expert-shop profile=weak, train split", &w);
    int nd = total(d.win), nw = total(w.win);
    printf("weak / default wins: %d / %d = %.2f\n", nw, nd, (double)nw / nd);
    assert_int_equal(w.invalid, 0);
    assert_true(nw >= 0.40 * nd && nw <= 0.65 * nd);
    run_split("first_result=1", 600, &first);
    run_split("misread=1", 600, &misread);
    run_split("stop_early=1", 600, &stop);
    tally d600;
    run_split(NULL, 600, &d600);
    printf("first 600 tasks: default %d, first_result=1 %d, misread=1 %d, stop_early=1 %d wins\n",
           total(d600.win), total(first.win), total(misread.win), total(stop.win));
    assert_true(total(first.win) < total(d600.win));
    assert_int_equal(misread.win[1], 0);
    assert_int_equal(stop.win[1], 0);
    assert_true(total(misread.win) < total(d600.win) / 2);
}

/* Each weakness is a knob: without them the plan wins far more; with
 * certain option slips, tasks with two options are never won. */
static void test_knobs(void **state)
{
    (void)state;
    tally careful, sloppy;
    run_split("wrong_option=0,wrong_option_growth=0,fatigue=0,attr_check=1,attr_miss=0,impatience=0,misclick=0",
              600, &careful);
    print_tally("expert-shop without weaknesses, first 600 tasks", &careful);
    assert_true(total(careful.win) > total(careful.n) / 2);
    run_split("wrong_option=1", 600, &sloppy);
    print_tally("expert-shop wrong_option=1, first 600 tasks", &sloppy);
    assert_int_equal(sloppy.win[1], 0); /* medium tasks need two options */
    assert_true(total(sloppy.win) < total(careful.win) / 2);
}

/* The expert takes over any state: from the oracle's prefix up to opening
 * the winning product, it finishes the task. */
static void test_takes_over(void **state)
{
    (void)state;
    eef_env *env = default_env();
    eef_policy *p;
    assert_ok(eef_expert_shop_open("wrong_option=0,wrong_option_growth=0,fatigue=0,misclick=0", &p));
    eef_actor *a;
    assert_ok(p->ops->actor_open(p, &a));
    eef_episode *ep;
    assert_ok(env->ops->episode_open(env, &ep));
    int wins = 0, n = 0;
    eef_strlist oracle = { 0 };
    for (size_t i = 0; i < 200; i++) {
        assert_ok(eef_shop_oracle(env, EEF_SPLIT_TRAIN, i, &oracle));
        size_t upto = 0; /* through the click on the winning product */
        while (upto < oracle.n && !(strncmp(oracle.items[upto], "click[B0", 8) == 0)) upto++;
        episode e;
        play(env, a, ep, EEF_SPLIT_TRAIN, i, 3, (const char *const *)oracle.items, upto + 1, &e);
        assert_int_equal(e.invalid, 0);
        wins += e.reward == 1.0;
        n++;
        episode_free(&e);
    }
    printf("expert from the oracle's opened winner: %d of %d won\n", wins, n);
    assert_true(wins > n * 8 / 10);
    eef_strlist_free(&oracle);
    env->ops->episode_close(ep);
    p->ops->actor_close(a);
    p->ops->close(p);
}

/* It reads pages, not a catalogue: it also plays the real-data loader's
 * shop (the WebShop-schema fixture). */
static void test_plays_loaded_shop(void **state)
{
    (void)state;
    eef_env *env;
    assert_ok(eef_env_open("shop",
                           "products_file=tests/fixtures/shop/items_shuffle_fixture.json,"
                           "attrs_file=tests/fixtures/shop/items_ins_v2_fixture.json,"
                           "instructions_file=tests/fixtures/shop/items_human_ins_fixture.json,train=2,test=1",
                           1, &env));
    eef_policy *p;
    assert_ok(eef_expert_shop_open("wrong_option=0,wrong_option_growth=0,fatigue=0,misclick=0", &p));
    eef_actor *a;
    assert_ok(p->ops->actor_open(p, &a));
    eef_episode *ep;
    assert_ok(env->ops->episode_open(env, &ep));
    int wins = 0;
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < env->ops->n_tasks(env, (eef_split)s); i++) {
            episode e;
            play(env, a, ep, (eef_split)s, i, 1, NULL, 0, &e);
            assert_int_equal(e.invalid, 0);
            wins += e.reward == 1.0;
            episode_free(&e);
        }
    assert_true(wins >= 2);
    env->ops->episode_close(ep);
    p->ops->actor_close(a);
    p->ops->close(p);
    eef_env_close(env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options),      cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_calibration),  cmocka_unit_test(test_knobs), cmocka_unit_test(test_weak_profile),
        cmocka_unit_test(test_takes_over),   cmocka_unit_test(test_plays_loaded_shop),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    eef_env_close(default_env());
    return rc;
}

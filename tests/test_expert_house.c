/* Tests of the household expert (src/agent/expert_house.c): it reads only
 * text, is deterministic per rollout rng, never takes an invalid action,
 * wins nearly everything without its weaknesses, and with its calibrated
 * defaults wins in a stated band, failing mostly on the harder types while
 * its failures keep key actions. */
#include "testutil.h"

#include "agent/policy.h"
#include "env/env.h"
#include "env/house/house.h"

typedef struct {
    eef_strlist obs, acts;
    double reward;
    int invalid; /* actions not in the valid list */
} rollout;

static void rollout_free(rollout *r)
{
    eef_strlist_free(&r->obs);
    eef_strlist_free(&r->acts);
}

/* The simplest runner: reset, then act and step until done. */
static void run(eef_env *env, eef_episode *ep, eef_policy *p, eef_actor *actor, eef_split split,
                size_t index, uint64_t rng_key, rollout *out)
{
    memset(out, 0, sizeof *out);
    eef_task task;
    eef_step st;
    eef_actions valid = { 0 };
    eef_buf action;
    eef_buf_init(&action);
    eef_rng rng = eef_rng_make(rng_key);
    assert_ok(env->ops->task(env, split, index, &task));
    assert_ok(env->ops->reset(ep, split, index, &st));
    eef_strlist_push(&out->obs, st.obs);
    while (!st.done) {
        assert_ok(env->ops->actions(ep, &valid));
        eef_context ctx = { &task, rng_key, (const char *const *)out->obs.items,
                            (const char *const *)out->acts.items, out->acts.n, &valid,
                            eef_env_text_of("house") };
        assert_ok(p->ops->act(actor, &ctx, &rng, &action));
        out->invalid += !eef_actions_allows(&valid, action.data);
        eef_strlist_push(&out->acts, action.data);
        assert_ok(env->ops->step(ep, action.data, &st));
        eef_strlist_push(&out->obs, st.obs);
    }
    out->reward = st.reward;
    eef_actions_free(&valid);
    eef_buf_free(&action);
    (void)p;
}

static void test_options(void **state)
{
    (void)state;
    eef_policy *p = NULL;
    assert_ok(eef_expert_house_open(NULL, &p));
    assert_string_equal(p->ops->name, "expert-house");
    p->ops->close(p);
    assert_ok(eef_expert_house_open("p_no_open=0,p_skip_transform=1,budget=10", &p));
    p->ops->close(p);
    const char *bad[] = { "p_wrong=0.1", "p_no_open=1.5", "budget=-1", "p_stop_two=x" };
    for (size_t i = 0; i < EEF_ARRAY_LEN(bad); i++) {
        p = (eef_policy *)1;
        assert_int_equal(eef_expert_house_open(bad[i], &p), EEF_EINVAL);
        assert_null(p);
    }
}

/* Hand-written observations, not produced by any environment: the expert
 * works from the text alone. */
static void test_reads_only_text(void **state)
{
    (void)state;
    eef_policy *p;
    eef_actor *a;
    assert_ok(eef_expert_house_open(
        "p_no_open=0,p_skip_transform=0,p_stop_two=0,p_wrong_recep=0", &p));
    assert_ok(p->ops->actor_open(p, &a));
    const char *obs[8] = {
        "You are in the middle of a room. Looking quickly around you, you see a cabinet 1, a "
        "countertop 1, a fridge 1, a microwave 1, and a sinkbasin 1.\n\nYour task is to: put "
        "a hot egg in fridge.",
        "You arrive at fridge 1. The fridge 1 is closed.",
    };
    const char *want[] = { "go to countertop 1", "take egg 2 from countertop 1",
                           "go to microwave 1", "heat egg 2 with microwave 1",
                           "go to fridge 1", "open fridge 1", "put egg 2 in/on fridge 1",
                           "look" };
    const char *replies[] = {
        "You arrive at countertop 1. On the countertop 1, you see a bread 1, a egg 2, and a "
        "knife 1.",
        "You pick up the egg 2 from the countertop 1.",
        "You arrive at microwave 1. The microwave 1 is closed.",
        "You heat the egg 2 using the microwave 1.",
        "You arrive at fridge 1. The fridge 1 is closed.",
        "You open the fridge 1. The fridge 1 is open. In it, you see a lettuce 1.",
        "You put the egg 2 in/on the fridge 1.",
    };
    const char *acts[8];
    eef_task task = { "hand-0", EEF_SPLIT_TRAIN, 0, EEF_TIER_EASY, "put a hot egg in fridge" };
    eef_actions none = { 0 };
    eef_buf out;
    eef_buf_init(&out);
    eef_rng rng = eef_rng_make(1);
    for (size_t n = 0; n < EEF_ARRAY_LEN(want); n++) {
        eef_context ctx = { &task, 42, obs, acts, n, &none, eef_env_text_of("house") };
        assert_ok(p->ops->act(a, &ctx, &rng, &out));
        assert_string_equal(out.data, want[n]);
        acts[n] = want[n];
        if (n < EEF_ARRAY_LEN(replies)) obs[n + 1] = replies[n];
    }
    eef_buf_free(&out);
    p->ops->actor_close(a);
    p->ops->close(p);
}

static void test_determinism(void **state)
{
    (void)state;
    eef_env *env;
    assert_ok(eef_house_open("train=60,test=0", 3, &env));
    eef_episode *ep;
    assert_ok(env->ops->episode_open(env, &ep));
    eef_policy *p;
    assert_ok(eef_expert_house_open(NULL, &p));
    eef_actor *a1, *a2;
    assert_ok(p->ops->actor_open(p, &a1));
    assert_ok(p->ops->actor_open(p, &a2));
    int differ = 0;
    for (size_t i = 0; i < 60; i++) {
        rollout r1, r2, r3;
        uint64_t key = eef_rng_key(3, 1, i, 0);
        run(env, ep, p, a1, EEF_SPLIT_TRAIN, i, key, &r1);
        run(env, ep, p, a2, EEF_SPLIT_TRAIN, i, key, &r2); /* another actor, same rng */
        assert_int_equal(r1.acts.n, r2.acts.n);
        for (size_t k = 0; k < r1.acts.n; k++)
            assert_string_equal(r1.acts.items[k], r2.acts.items[k]);
        run(env, ep, p, a1, EEF_SPLIT_TRAIN, i, eef_rng_key(3, 2, i, 0), &r3);
        differ += r3.acts.n != r1.acts.n || r3.reward != r1.reward;
        rollout_free(&r1);
        rollout_free(&r2);
        rollout_free(&r3);
    }
    assert_true(differ > 5); /* another rollout rng, another character */

    /* two rollouts interleaved step by step on one actor act exactly as
     * when run alone (a runner may batch rollouts on a thread) */
    eef_episode *ep2;
    assert_ok(env->ops->episode_open(env, &ep2));
    eef_actions va = { 0 };
    eef_buf act;
    eef_buf_init(&act);
    for (size_t i = 0; i + 1 < 60; i += 2) {
        rollout alone[2], mixed[2];
        eef_episode *eps[2] = { ep, ep2 };
        eef_rng rngs[2];
        eef_task tasks[2];
        eef_step st[2];
        for (int j = 0; j < 2; j++) {
            uint64_t key = eef_rng_key(3, 3, i + (size_t)j, 0);
            run(env, ep, p, a2, EEF_SPLIT_TRAIN, i + (size_t)j, key, &alone[j]);
            memset(&mixed[j], 0, sizeof mixed[j]);
            rngs[j] = eef_rng_make(key);
            assert_ok(env->ops->task(env, EEF_SPLIT_TRAIN, i + (size_t)j, &tasks[j]));
        }
        for (int j = 0; j < 2; j++) {
            assert_ok(env->ops->reset(eps[j], EEF_SPLIT_TRAIN, i + (size_t)j, &st[j]));
            eef_strlist_push(&mixed[j].obs, st[j].obs);
        }
        while (!st[0].done || !st[1].done) {
            for (int j = 0; j < 2; j++) {
                if (st[j].done) continue;
                assert_ok(env->ops->actions(eps[j], &va));
                eef_context ctx = { &tasks[j], 500 + i + (size_t)j,
                                    (const char *const *)mixed[j].obs.items,
                                    (const char *const *)mixed[j].acts.items, mixed[j].acts.n,
                                    &va, eef_env_text_of("house") };
                assert_ok(p->ops->act(a1, &ctx, &rngs[j], &act));
                eef_strlist_push(&mixed[j].acts, act.data);
                assert_ok(env->ops->step(eps[j], act.data, &st[j]));
                eef_strlist_push(&mixed[j].obs, st[j].obs);
            }
        }
        for (int j = 0; j < 2; j++) {
            assert_int_equal(alone[j].acts.n, mixed[j].acts.n);
            for (size_t k = 0; k < alone[j].acts.n; k++)
                assert_string_equal(alone[j].acts.items[k], mixed[j].acts.items[k]);
            rollout_free(&alone[j]);
            rollout_free(&mixed[j]);
        }
    }
    eef_actions_free(&va);
    eef_buf_free(&act);
    env->ops->episode_close(ep2);
    p->ops->actor_close(a1);
    p->ops->actor_close(a2);
    p->ops->close(p);
    env->ops->episode_close(ep);
    eef_env_close(env);
}

/* Without weaknesses the plan is sound: (nearly) every task won. */
static void test_plan_without_weaknesses(void **state)
{
    (void)state;
    eef_env *env;
    assert_ok(eef_house_open(NULL, 1, &env));
    eef_episode *ep;
    assert_ok(env->ops->episode_open(env, &ep));
    eef_policy *p;
    assert_ok(eef_expert_house_open(
        "p_no_open=0,p_skip_transform=0,p_stop_two=0,p_wrong_recep=0", &p));
    eef_actor *a;
    assert_ok(p->ops->actor_open(p, &a));
    int wins = 0, invalid = 0;
    for (size_t i = 0; i < 1000; i++) {
        rollout r;
        run(env, ep, p, a, EEF_SPLIT_TRAIN, i, eef_rng_key(1, 5, i, 0), &r);
        wins += r.reward == 1.0;
        invalid += r.invalid;
        rollout_free(&r);
    }
    print_message("expert without weaknesses: %d/1000 train tasks won\n", wins);
    assert_true(wins >= 980);
    assert_int_equal(invalid, 0);
    p->ops->actor_close(a);
    p->ops->close(p);
    env->ops->episode_close(ep);
    eef_env_close(env);
}

/* Picking up from the middle of someone else's episode (as EEF does with
 * restored states): the expert rebuilds its view from the history. */
static void test_continues_from_a_prefix(void **state)
{
    (void)state;
    eef_env *env;
    assert_ok(eef_house_open("train=100,test=0", 1, &env));
    eef_episode *ep;
    assert_ok(env->ops->episode_open(env, &ep));
    eef_policy *p;
    assert_ok(eef_expert_house_open(
        "p_no_open=0,p_skip_transform=0,p_stop_two=0,p_wrong_recep=0", &p));
    eef_actor *a;
    assert_ok(p->ops->actor_open(p, &a));
    eef_actions valid = { 0 };
    eef_buf action;
    eef_buf_init(&action);
    int wins = 0;
    for (size_t i = 0; i < 100; i++) {
        /* a prefix of random valid actions, then the expert */
        eef_rng r = eef_rng_make(eef_rng_key(1, 6, i, 0));
        eef_strlist obs = { 0 }, acts = { 0 };
        eef_task task;
        eef_step st;
        assert_ok(env->ops->task(env, EEF_SPLIT_TRAIN, i, &task));
        assert_ok(env->ops->reset(ep, EEF_SPLIT_TRAIN, i, &st));
        eef_strlist_push(&obs, st.obs);
        for (int k = 0; k < 6 && !st.done; k++) {
            assert_ok(env->ops->actions(ep, &valid));
            eef_strlist_push(&acts, valid.items.items[eef_rng_below(&r, valid.items.n)]);
            assert_ok(env->ops->step(ep, acts.items[acts.n - 1], &st));
            eef_strlist_push(&obs, st.obs);
        }
        while (!st.done) {
            assert_ok(env->ops->actions(ep, &valid));
            eef_context ctx = { &task, 1000 + i, (const char *const *)obs.items,
                                (const char *const *)acts.items, acts.n, &valid,
                                eef_env_text_of("house") };
            assert_ok(p->ops->act(a, &ctx, &r, &action));
            assert_true(eef_actions_allows(&valid, action.data));
            eef_strlist_push(&acts, action.data);
            assert_ok(env->ops->step(ep, action.data, &st));
            eef_strlist_push(&obs, st.obs);
        }
        wins += st.reward == 1.0;
        eef_strlist_free(&obs);
        eef_strlist_free(&acts);
    }
    print_message("expert after 6 random actions: %d/100 won\n", wins);
    assert_true(wins >= 85);
    eef_actions_free(&valid);
    eef_buf_free(&action);
    p->ops->actor_close(a);
    p->ops->close(p);
    env->ops->episode_close(ep);
    eef_env_close(env);
}

typedef struct {
    int n_type[6], w_type[6], n_tier[3], w_tier[3];
    int n, wins, fails, fails_key, invalid;
    size_t steps;
} tally;

/* Runs the expert once on every task of `split` and prints what it won. */
static void measure(eef_env *env, eef_policy *p, eef_split split, tally *m)
{
    static const char *const types[] = { "pick", "clean", "heat", "cool", "look", "pick_two" };
    memset(m, 0, sizeof *m);
    eef_episode *ep;
    assert_ok(env->ops->episode_open(env, &ep));
    eef_actor *a;
    assert_ok(p->ops->actor_open(p, &a));
    size_t n = env->ops->n_tasks(env, split);
    for (size_t i = 0; i < n; i++) {
        rollout r;
        run(env, ep, p, a, split, i, eef_rng_key(1, 7 + (uint64_t)split, i, 0), &r);
        eef_task t;
        assert_ok(env->ops->task(env, split, i, &t));
        const char *ty = eef_house_task_type(env, split, i);
        int k = 0;
        while (strcmp(types[k], ty) != 0) k++;
        int win = r.reward == 1.0;
        m->n_type[k]++, m->w_type[k] += win, m->n_tier[t.tier]++, m->w_tier[t.tier] += win;
        m->n++, m->wins += win, m->invalid += r.invalid, m->steps += r.acts.n;
        if (!win) {
            unsigned char key[64];
            assert_ok(eef_house_key_actions(env, split, i, (const char *const *)r.acts.items,
                                            r.acts.n, key));
            int any = 0;
            for (size_t j = 0; j < r.acts.n; j++) any |= key[j];
            m->fails++;
            m->fails_key += any;
        }
        rollout_free(&r);
    }
    print_message("expert defaults, %s (%d tasks): won %d (%.3f), mean %.1f steps\n",
                  eef_split_name(split), m->n, m->wins, (double)m->wins / m->n,
                  (double)m->steps / m->n);
    for (int k = 0; k < 6; k++)
        print_message("  %-9s %3d/%3d = %.3f\n", types[k], m->w_type[k], m->n_type[k],
                      (double)m->w_type[k] / m->n_type[k]);
    for (int k = 0; k < 3; k++)
        print_message("  %-9s %3d/%3d = %.3f\n", eef_tier_name((eef_tier)k), m->w_tier[k],
                      m->n_tier[k], (double)m->w_tier[k] / m->n_tier[k]);
    print_message("  failures with a key action: %d/%d = %.3f\n", m->fails_key, m->fails,
                  (double)m->fails_key / m->fails);
    p->ops->actor_close(a);
    env->ops->episode_close(ep);
}

/* The calibrated defaults on the default splits (seed 1): on the 1,000
 * train tasks a win rate in [0.33, 0.50], the simple types (pick, look)
 * won more often than the transform and pick-two types, easy more often
 * than hard, and most failures keep a key action. */
static void test_calibrated_win_rate(void **state)
{
    (void)state;
    eef_env *env;
    assert_ok(eef_house_open(NULL, 1, &env));
    eef_policy *p;
    assert_ok(eef_expert_house_open(NULL, &p));
    tally m;
    measure(env, p, EEF_SPLIT_TRAIN, &m);
    assert_int_equal(m.invalid, 0);
    assert_true(m.wins >= 330 && m.wins <= 500);
    double simple = (double)(m.w_type[0] + m.w_type[4]) / (m.n_type[0] + m.n_type[4]);
    double harder = (double)(m.w_type[1] + m.w_type[2] + m.w_type[3] + m.w_type[5]) /
                    (m.n_type[1] + m.n_type[2] + m.n_type[3] + m.n_type[5]);
    assert_true(simple > harder + 0.25);
    assert_true((double)m.w_tier[EEF_TIER_EASY] / m.n_tier[EEF_TIER_EASY] >
                (double)m.w_tier[EEF_TIER_HARD] / m.n_tier[EEF_TIER_HARD] + 0.25);
    assert_true(m.fails_key >= 0.75 * m.fails);
    /* the 200 test tasks: the same expert, a wider band for the smaller sample */
    measure(env, p, EEF_SPLIT_TEST, &m);
    assert_int_equal(m.invalid, 0);
    assert_true(m.wins >= 55 && m.wins <= 110);
    p->ops->close(p);
    eef_env_close(env);
}

/* The step budget: after `budget` steps the expert only looks. */
static void test_budget(void **state)
{
    (void)state;
    eef_env *env;
    assert_ok(eef_house_open("train=30,test=0", 1, &env));
    eef_episode *ep;
    assert_ok(env->ops->episode_open(env, &ep));
    eef_policy *p;
    assert_ok(eef_expert_house_open("budget=3", &p));
    eef_actor *a;
    assert_ok(p->ops->actor_open(p, &a));
    for (size_t i = 0; i < 30; i++) {
        rollout r;
        run(env, ep, p, a, EEF_SPLIT_TRAIN, i, eef_rng_key(1, 8, i, 0), &r);
        for (size_t k = 3; k < r.acts.n; k++) assert_string_equal(r.acts.items[k], "look");
        rollout_free(&r);
    }
    p->ops->actor_close(a);
    p->ops->close(p);
    env->ops->episode_close(ep);
    eef_env_close(env);
}

/* The weak profile (`--expert weak`, the paper's GPT-3.5): deterministic
 * per rollout stream, about half the default's wins on the 1,000 train
 * tasks, and each of its habits costs wins on its own. */
static void test_weak_profile(void **state)
{
    (void)state;
    eef_env *env;
    assert_ok(eef_house_open(NULL, 1, &env));
    eef_policy *def, *weak, *confuse, *give_up, *bad;
    assert_int_equal(eef_expert_house_open("profile=clumsy", &bad), EEF_EINVAL);
    assert_null(bad);
    assert_int_equal(eef_expert_open("house", "weaker", NULL, &bad), EEF_EINVAL);
    assert_null(bad);
    assert_ok(eef_expert_open("house", "builtin", NULL, &def));
    assert_ok(eef_expert_open("house", "weak", NULL, &weak));
    assert_ok(eef_expert_house_open("p_confuse=1", &confuse));
    assert_ok(eef_expert_house_open("p_give_up=1", &give_up));

    eef_episode *ep;
    assert_ok(env->ops->episode_open(env, &ep));
    eef_actor *a1, *a2;
    assert_ok(weak->ops->actor_open(weak, &a1));
    assert_ok(weak->ops->actor_open(weak, &a2));
    for (size_t i = 0; i < 60; i++) {
        rollout r1, r2, r3;
        run(env, ep, weak, a1, EEF_SPLIT_TRAIN, 59 - i, eef_rng_key(4, 1, 59 - i, 0), &r3);
        run(env, ep, weak, a1, EEF_SPLIT_TRAIN, i, eef_rng_key(4, 1, i, 0), &r1);
        run(env, ep, weak, a2, EEF_SPLIT_TRAIN, i, eef_rng_key(4, 1, i, 0), &r2);
        assert_int_equal(r1.acts.n, r2.acts.n);
        for (size_t k = 0; k < r1.acts.n; k++) assert_string_equal(r1.acts.items[k], r2.acts.items[k]);
        rollout_free(&r1), rollout_free(&r2), rollout_free(&r3);
    }
    weak->ops->actor_close(a1);
    weak->ops->actor_close(a2);

    tally d, w, c, g;
    measure(env, def, EEF_SPLIT_TRAIN, &d);
    measure(env, weak, EEF_SPLIT_TRAIN, &w);
    measure(env, confuse, EEF_SPLIT_TRAIN, &c);
    measure(env, give_up, EEF_SPLIT_TRAIN, &g);
    print_message("weak / default wins: %d / %d = %.2f; p_confuse=1 %d, p_give_up=1 %d\n", w.wins,
                  d.wins, (double)w.wins / d.wins, c.wins, g.wins);
    assert_int_equal(w.invalid, 0);
    assert_true(w.wins >= 0.40 * d.wins && w.wins <= 0.65 * d.wins);
    assert_true(c.wins < d.wins - 20 && g.wins < d.wins - 50);

    /* a player who gives up only looks after searching two receptacles */
    eef_actor *a;
    assert_ok(give_up->ops->actor_open(give_up, &a));
    int gave_up = 0;
    for (size_t i = 0; i < 100; i++) {
        rollout r;
        run(env, ep, give_up, a, EEF_SPLIT_TRAIN, i, eef_rng_key(1, 7, i, 0), &r);
        size_t gos = 0, k = 0, took = 0;
        for (; k < r.acts.n && gos < 2; k++) {
            gos += strncmp(r.acts.items[k], "go to ", 6) == 0;
            took |= strncmp(r.acts.items[k], "take ", 5) == 0;
        }
        int only_look = r.reward < 1.0 && !took && r.acts.n > k + 2;
        for (size_t j = k + 1; only_look && j < r.acts.n; j++)
            only_look = strcmp(r.acts.items[j], "look") == 0;
        gave_up += only_look;
        rollout_free(&r);
    }
    print_message("p_give_up=1: %d of 100 rollouts only look after two receptacles\n", gave_up);
    assert_true(gave_up >= 10);
    give_up->ops->actor_close(a);

    env->ops->episode_close(ep);
    eef_policy_close(def), eef_policy_close(weak), eef_policy_close(confuse), eef_policy_close(give_up);
    eef_env_close(env);
}

int main(void)
{
    eef_log_set_level(EEF_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_reads_only_text),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_plan_without_weaknesses),
        cmocka_unit_test(test_continues_from_a_prefix),
        cmocka_unit_test(test_calibrated_win_rate),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_weak_profile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

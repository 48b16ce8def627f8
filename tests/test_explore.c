/* The exploration loops of RFT and EEF end to end, on a stub environment
 * and stub policies whose outcomes are known, so that the candidates, the
 * states tried and solved, the important state, j, the solution's masks,
 * the rollout and step counts, and RFT's keep rule (wins only, no two
 * kept with the same actions, at most `keep` per task) are checked against
 * values worked out by hand, through the public tune.h / env.h /
 * policy.h interfaces only.
 *
 * The world "line": task i starts at t = 0; "step" moves to t + 1 ("task
 * i at t"); "a" and "b" are valid and change nothing but the observation;
 * "win" ends the episode with reward 1, "lose" with reward 0.5 (a partial
 * reward: not a win).  The explore policy says "win" from a state after p
 * expert steps exactly when solvable[i][p] is set, so which candidate
 * states are solved is known in advance. */
#include "testutil.h"

#include "tune/tune.h"

#include <string.h>

/* ------------------------------------------------------------ the world */
#define N_TASKS 16

typedef struct {
    eef_env base;
} line_env;

typedef struct {
    eef_episode base;
    size_t task;
    int t, done;
    double reward;
    char obs[96];
} line_ep;

static size_t line_n_tasks(const eef_env *env, eef_split split)
{
    (void)env;
    return split == EEF_SPLIT_TRAIN ? N_TASKS : 2;
}

static char task_ids[2][N_TASKS][32];

static eef_err line_task(const eef_env *env, eef_split split, size_t index, eef_task *out)
{
    (void)env;
    if (index >= N_TASKS) return eef_fail(EEF_EINVAL, "line: no task %zu", index);
    *out = (eef_task){ .id = task_ids[split][index], .split = split, .index = index,
                       .tier = EEF_TIER_EASY, .instruction = "reach the end" };
    return EEF_OK;
}

static eef_err line_episode_open(eef_env *env, eef_episode **out)
{
    line_ep *ep = calloc(1, sizeof *ep);
    if (!ep) return EEF_ENOMEM;
    ep->base.env = env;
    *out = &ep->base;
    return EEF_OK;
}

static void fill(line_ep *ep, int valid, eef_step *out)
{
    *out = (eef_step){ .obs = ep->obs, .reward = ep->done ? ep->reward : 0.0, .done = ep->done,
                       .valid = valid };
}

static eef_err line_reset(eef_episode *e, eef_split split, size_t index, eef_step *out)
{
    (void)split;
    line_ep *ep = (line_ep *)e;
    ep->task = index, ep->t = 0, ep->done = 0, ep->reward = 0;
    snprintf(ep->obs, sizeof ep->obs, "task %zu at 0", index);
    fill(ep, 1, out);
    return EEF_OK;
}

static eef_err line_step(eef_episode *e, const char *action, eef_step *out)
{
    line_ep *ep = (line_ep *)e;
    if (ep->done) return eef_fail(EEF_ESTATE, "line: step after the end");
    int valid = 1;
    if (strcmp(action, "step") == 0) {
        ep->t++;
        snprintf(ep->obs, sizeof ep->obs, "task %zu at %d", ep->task, ep->t);
    } else if (strcmp(action, "a") == 0 || strcmp(action, "b") == 0) {
        snprintf(ep->obs, sizeof ep->obs, "task %zu at %d after %s", ep->task, ep->t, action);
    } else if (strcmp(action, "win") == 0) {
        ep->done = 1, ep->reward = 1.0;
    } else if (strcmp(action, "lose") == 0) {
        ep->done = 1, ep->reward = 0.5;
    } else {
        valid = 0;
    }
    fill(ep, valid, out);
    return EEF_OK;
}

static eef_err line_actions(eef_episode *e, eef_actions *out)
{
    (void)e;
    eef_actions_free(out);
    const char *all[] = { "step", "a", "b", "win", "lose" };
    for (size_t i = 0; i < EEF_ARRAY_LEN(all); i++)
        if (eef_strlist_push(&out->items, all[i])) return EEF_ENOMEM;
    return EEF_OK;
}

static void line_episode_close(eef_episode *e) { free(e); }
static void line_close(eef_env *env) { (void)env; }

static const eef_env_ops line_ops = {
    .version = EEF_ENV_OPS_VERSION, .name = "line", .n_tasks = line_n_tasks,
    .task = line_task, .episode_open = line_episode_open, .reset = line_reset,
    .step = line_step, .actions = line_actions, .copy = NULL, .key_actions = NULL,
    .episode_close = line_episode_close, .close = line_close,
};

static line_env the_env = { { &line_ops, 100 } };

/* ------------------------------------------------------------ policies */
#define MAX_P 64

typedef struct {
    eef_policy base;
    int rft;                        /* 0: explore policy, 1: RFT policy */
    unsigned char solvable[N_TASKS][MAX_P];
    /* RFT: every finished rollout, recorded when its last action is chosen */
    struct rec {
        size_t task;
        uint64_t episode;
        char seq[16];
        int win;
    } recs[N_TASKS * 64];
    size_t n_recs;
} stub_policy;

static eef_err stub_actor_open(eef_policy *p, eef_actor **out)
{
    eef_actor *a = calloc(1, sizeof *a);
    if (!a) return EEF_ENOMEM;
    a->policy = p;
    *out = a;
    return EEF_OK;
}

static eef_err stub_act(eef_actor *a, const eef_context *ctx, eef_rng *rng, eef_buf *action)
{
    stub_policy *p = (stub_policy *)a->policy;
    eef_buf_clear(action);
    size_t task = ctx->task->index;
    if (!p->rft) {
        /* every action so far is the expert prefix: p = its length */
        for (size_t i = 0; i < ctx->n; i++) assert_string_equal(ctx->acts[i], "step");
        assert_true(ctx->n < MAX_P);
        return eef_buf_puts(action, p->solvable[task][ctx->n] ? "win" : "lose") ? EEF_ENOMEM
                                                                                 : EEF_OK;
    }
    /* RFT: "a" or "b", then "a" always wins, "b" sometimes: on even tasks
     * "a" half the time and "b" wins half the time; on odd tasks a quarter
     * each (so that a task's first rollouts often lose and a later wins) */
    uint64_t odds = task % 2 ? 4 : 2;
    if (ctx->n == 0)
        return eef_buf_puts(action, eef_rng_below(rng, odds) ? "b" : "a") ? EEF_ENOMEM : EEF_OK;
    int win = strcmp(ctx->acts[0], "a") == 0 || eef_rng_below(rng, odds) == 0;
    const char *last = win ? "win" : "lose";
#pragma omp critical(stub_rec)
    {
        assert_true(p->n_recs < EEF_ARRAY_LEN(p->recs));
        struct rec *r = &p->recs[p->n_recs++];
        r->task = task, r->episode = ctx->episode, r->win = win;
        snprintf(r->seq, sizeof r->seq, "%s %s", ctx->acts[0], last);
    }
    return eef_buf_puts(action, last) ? EEF_ENOMEM : EEF_OK;
}

static void stub_actor_close(eef_actor *a) { free(a); }
static void stub_close(eef_policy *p) { (void)p; }

static const eef_policy_ops stub_ops = {
    .version = EEF_POLICY_OPS_VERSION, .name = "stub", .actor_open = stub_actor_open,
    .act = stub_act, .actor_close = stub_actor_close, .close = stub_close,
};

/* ------------------------------------------------------------ EEF */
/* A failed expert trajectory of n "step" actions on train task `task`. */
static void failed_traj(eef_traj *t, size_t task, size_t n)
{
    eef_traj_init(t);
    char obs[64], id[32];
    for (size_t k = 0; k < n; k++) {
        snprintf(obs, sizeof obs, "task %zu at %zu", task, k);
        assert_ok(eef_traj_push(t, obs, "step", 1));
    }
    snprintf(id, sizeof id, "line-train-%zu", task);
    assert_ok(eef_traj_set(&t->id, id));
    assert_ok(eef_traj_set(&t->env, "line"));
    assert_ok(eef_traj_set(&t->task, id));
    assert_ok(eef_traj_set(&t->source, "expert"));
    t->split = EEF_SPLIT_TRAIN;
    t->index = (long)task;
    t->reward = 0.5;
    t->win = 0;
}

static stub_policy *new_policy(int rft)
{
    stub_policy *p = calloc(1, sizeof *p);
    assert_non_null(p);
    p->base.ops = &stub_ops;
    p->rft = rft;
    return p;
}

/* solvable[task][p] = 1 for p listed in `from` (terminated by -1) */
static void set_solvable(stub_policy *p, size_t task, const int *ps)
{
    memset(p->solvable[task], 0, MAX_P);
    for (; *ps >= 0; ps++) p->solvable[task][*ps] = 1;
}

/* The expected outcome of one trajectory. */
typedef struct {
    size_t n_cand;
    size_t t[8];
    int tried[8];   /* in units of K */
    int solved[8];
    int important;
    size_t j;
    int masks[16];  /* of the solution; -1 ends */
} expect;

static void check(const eef_explore_result *r, const expect *x, int K, const char *what)
{
    if (r->n_cand != x->n_cand) fail_msg("%s: %zu candidates, want %zu", what, r->n_cand, x->n_cand);
    long want_rollouts = 0;
    for (size_t c = 0; c < x->n_cand; c++) {
        if (r->cand_len[c] != x->t[c]) fail_msg("%s: candidate %zu is t = %zu, want %zu", what, c, r->cand_len[c], x->t[c]);
        if (r->tried[c] != x->tried[c] * K)
            fail_msg("%s: candidate %zu tried %d times, want %d", what, c, r->tried[c], x->tried[c] * K);
        if (r->solved[c] != x->solved[c])
            fail_msg("%s: candidate %zu solved %d, want %d", what, c, r->solved[c], x->solved[c]);
        want_rollouts += x->tried[c] * K;
    }
    if (r->rollouts != want_rollouts) fail_msg("%s: %ld rollouts, want %ld", what, r->rollouts, want_rollouts);
    /* each rollout takes exactly one agent step ("win" or "lose") */
    if (r->steps != want_rollouts) fail_msg("%s: %ld agent steps, want %ld", what, r->steps, want_rollouts);
    if (r->important != x->important) fail_msg("%s: important state %d, want %d", what, r->important, x->important);
    if (x->important < 0) {
        assert_false(r->has_solution);
        assert_int_equal(r->masked_len, 0);
        return;
    }
    if (r->masked_len != x->j) fail_msg("%s: j = %zu, want %zu", what, r->masked_len, x->j);
    assert_true(r->has_solution);
    const eef_traj *s = &r->solution;
    size_t k = x->t[x->important];
    assert_string_equal(s->source, "eef");
    assert_true(s->win && s->reward == 1.0);
    assert_int_equal(s->n_steps, k + 1); /* a_1..a_k, then the agent's "win" */
    for (size_t i = 0; i < k; i++) assert_string_equal(s->steps[i].action, "step");
    assert_string_equal(s->steps[k].action, "win");
    for (size_t i = 0; i <= k; i++) {
        assert_true(x->masks[i] >= 0);
        if (s->steps[i].mask != x->masks[i])
            fail_msg("%s: solution step %zu mask %d, want %d", what, i, s->steps[i].mask, x->masks[i]);
    }
    assert_int_equal(x->masks[k + 1], -1);
    assert_ok(eef_traj_check(s, what));
}

static void run_explore(stub_policy *p, eef_search_mode mode, int stride, int max_states, int K,
                        const size_t *task, const size_t *n_act, const int *start, size_t n,
                        eef_explore_result *res)
{
    eef_traj failed[8];
    for (size_t i = 0; i < n; i++) failed_traj(&failed[i], task[i], n_act[i]);
    eef_explore_config c = { .stride = stride, .max_states = max_states, .k = K, .mode = mode,
                             .temperature = 1.0, .seed = 7, .iteration = 1 };
    assert_ok(eef_explore_failures(&the_env.base, &p->base, failed, start, n, &c, res));
    for (size_t i = 0; i < n; i++) eef_traj_free(&failed[i]);
}

static void test_stride(void **state)
{
    (void)state;
    stub_policy *p = new_policy(0);
    /* task 0: solvable after 3, 4, 5 expert steps: s_3 is important, j = 2 */
    set_solvable(p, 0, (int[]){ 3, 4, 5, -1 });
    /* task 1: solvable from the first candidate on: j = 0, nothing masked */
    set_solvable(p, 1, (int[]){ 1, 2, 3, 4, 5, -1 });
    /* task 2: never */
    set_solvable(p, 2, (int[]){ -1 });
    /* task 3: not monotone: solvable at 2 and 4 only: the earliest counts */
    set_solvable(p, 3, (int[]){ 2, 4, -1 });
    /* task 4: won from its start this iteration: not explored */
    set_solvable(p, 4, (int[]){ 1, 2, 3, 4, 5, -1 });
    size_t task[5] = { 0, 1, 2, 3, 4 }, n_act[5] = { 6, 6, 6, 6, 6 };
    int start[5] = { 0, 0, 0, 0, 1 };
    eef_explore_result res[5];
    const int K = 3;
    run_explore(p, EEF_SEARCH_STRIDE, 1, 10, K, task, n_act, start, 5, res);
    expect x0 = { 5, { 1, 2, 3, 4, 5 }, { 1, 1, 1, 1, 1 }, { 0, 0, 1, 1, 1 }, 2, 2,
                  { 0, 0, 1, 1, -1 } };
    expect x1 = { 5, { 1, 2, 3, 4, 5 }, { 1, 1, 1, 1, 1 }, { 1, 1, 1, 1, 1 }, 0, 0, { 1, 1, -1 } };
    expect x2 = { 5, { 1, 2, 3, 4, 5 }, { 1, 1, 1, 1, 1 }, { 0, 0, 0, 0, 0 }, -1, 0, { -1 } };
    expect x3 = { 5, { 1, 2, 3, 4, 5 }, { 1, 1, 1, 1, 1 }, { 0, 1, 0, 1, 0 }, 1, 1,
                  { 0, 1, 1, -1 } };
    expect x4 = { 0, { 0 }, { 0 }, { 0 }, -1, 0, { -1 } };
    check(&res[0], &x0, K, "stride, solvable from 3");
    check(&res[1], &x1, K, "stride, solvable from 1");
    check(&res[2], &x2, K, "stride, never solvable");
    check(&res[3], &x3, K, "stride, not monotone");
    check(&res[4], &x4, K, "stride, start solved");
    for (int i = 0; i < 5; i++) eef_explore_result_free(&res[i]);
    free(p);
}

static void test_stride_l_and_m(void **state)
{
    (void)state;
    stub_policy *p = new_policy(0);
    /* L = 2 on 7 actions: candidates 2, 4, 6; solvable from 4: k = 4, j = 2 */
    set_solvable(p, 0, (int[]){ 4, 5, 6, -1 });
    /* L = 1, M = 3 on 11 actions: 1..10 thinned to 1, 6, 10 (the latest
     * kept); solvable from 7: s_10 is important, j = 6 */
    set_solvable(p, 1, (int[]){ 7, 8, 9, 10, -1 });
    size_t task[1] = { 0 }, n7[1] = { 7 };
    int start[1] = { 0 };
    eef_explore_result res[1];
    run_explore(p, EEF_SEARCH_STRIDE, 2, 10, 2, task, n7, start, 1, res);
    expect x0 = { 3, { 2, 4, 6 }, { 1, 1, 1 }, { 0, 1, 1 }, 1, 2, { 0, 0, 1, 1, 1, -1 } };
    check(&res[0], &x0, 2, "stride 2");
    eef_explore_result_free(&res[0]);
    size_t task1[1] = { 1 }, n11[1] = { 11 };
    run_explore(p, EEF_SEARCH_STRIDE, 1, 3, 2, task1, n11, start, 1, res);
    expect x1 = { 3, { 1, 6, 10 }, { 1, 1, 1 }, { 0, 0, 1 }, 2, 6,
                  { 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, -1 } };
    check(&res[0], &x1, 2, "at most 3 states");
    eef_explore_result_free(&res[0]);
    free(p);
}

static void test_bisect(void **state)
{
    (void)state;
    stub_policy *p = new_policy(0);
    /* 8 actions: candidates t = 1..7 (indices 0..6).
     * task 0, solvable from t = 5: round 0 probes index 6 (solved, hi = 6),
     * then (-1 + 6) / 2 = 2 (t 3, unsolved, lo = 2), (2 + 6) / 2 = 4 (t 5,
     * solved, hi = 4), 3 (t 4, unsolved, lo = 3): k = index 4, j = t[3] = 4 */
    set_solvable(p, 0, (int[]){ 5, 6, 7, -1 });
    /* task 1, never: the latest is unsolved, the trajectory is given up */
    set_solvable(p, 1, (int[]){ -1 });
    /* task 2, from the first: 6 solved, 2 solved, 0 solved: k = 0, j = 0 */
    set_solvable(p, 2, (int[]){ 1, 2, 3, 4, 5, 6, 7, -1 });
    /* task 3, start solved: nothing */
    set_solvable(p, 3, (int[]){ 1, 2, 3, 4, 5, 6, 7, -1 });
    /* task 5, solvable from t = 2: 6 solved, 2 solved (hi 2), 0 unsolved
     * (lo 0), 1 solved (hi 1): k = index 1, j = 1 */
    set_solvable(p, 5, (int[]){ 2, 3, 4, 5, 6, 7, -1 });
    size_t task[5] = { 0, 1, 2, 3, 5 }, n_act[5] = { 8, 8, 8, 8, 8 };
    int start[5] = { 0, 0, 0, 1, 0 };
    eef_explore_result res[5];
    const int K = 2;
    run_explore(p, EEF_SEARCH_BISECT, 1, 10, K, task, n_act, start, 5, res);
    expect x0 = { 7, { 1, 2, 3, 4, 5, 6, 7 }, { 0, 0, 1, 1, 1, 0, 1 }, { -1, -1, 0, 0, 1, -1, 1 },
                  4, 4, { 0, 0, 0, 0, 1, 1, -1 } };
    expect x1 = { 7, { 1, 2, 3, 4, 5, 6, 7 }, { 0, 0, 0, 0, 0, 0, 1 }, { -1, -1, -1, -1, -1, -1, 0 },
                  -1, 0, { -1 } };
    expect x2 = { 7, { 1, 2, 3, 4, 5, 6, 7 }, { 1, 0, 1, 0, 0, 0, 1 }, { 1, -1, 1, -1, -1, -1, 1 },
                  0, 0, { 1, 1, -1 } };
    expect x3 = { 0, { 0 }, { 0 }, { 0 }, -1, 0, { -1 } };
    expect x5 = { 7, { 1, 2, 3, 4, 5, 6, 7 }, { 1, 1, 1, 0, 0, 0, 1 }, { 0, 1, 1, -1, -1, -1, 1 },
                  1, 1, { 0, 1, 1, -1 } };
    check(&res[0], &x0, K, "bisect, solvable from 5");
    check(&res[1], &x1, K, "bisect, never");
    check(&res[2], &x2, K, "bisect, from the first");
    check(&res[3], &x3, K, "bisect, start solved");
    check(&res[4], &x5, K, "bisect, solvable from 2");
    for (int i = 0; i < 5; i++) eef_explore_result_free(&res[i]);
    free(p);
}

/* Of a state's winning rollouts the first (lowest rollout number) gives
 * the solution: with rollouts keyed by their number, K = 2 and K = 5
 * keep the same one. */
static void test_first_winner(void **state)
{
    (void)state;
    stub_policy *p = new_policy(0);
    set_solvable(p, 0, (int[]){ 2, 3, -1 });
    size_t task[1] = { 0 }, n_act[1] = { 4 };
    int start[1] = { 0 };
    eef_explore_result a[1], b[1];
    run_explore(p, EEF_SEARCH_STRIDE, 1, 10, 2, task, n_act, start, 1, a);
    run_explore(p, EEF_SEARCH_STRIDE, 1, 10, 5, task, n_act, start, 1, b);
    assert_true(a[0].has_solution && b[0].has_solution);
    assert_string_equal(a[0].solution.id, b[0].solution.id);
    assert_int_equal(a[0].rollouts, 3 * 2);
    assert_int_equal(b[0].rollouts, 3 * 5);
    eef_explore_result_free(&a[0]);
    eef_explore_result_free(&b[0]);
    free(p);
}

static void test_explore_refuses(void **state)
{
    (void)state;
    stub_policy *p = new_policy(0);
    eef_traj f;
    failed_traj(&f, 0, 4);
    int start = 0;
    eef_explore_result res;
    eef_explore_config c = { .stride = 1, .max_states = 4, .k = 0, .mode = EEF_SEARCH_STRIDE };
    assert_int_equal(eef_explore_failures(&the_env.base, &p->base, &f, &start, 1, &c, &res),
                     EEF_EINVAL);
    eef_traj_free(&f);
    free(p);
}

/* ------------------------------------------------------------ RFT */
static void rft_case(int K, int keep)
{
    stub_policy *p = new_policy(1);
    eef_rft_config c = { .k = K, .keep = keep, .temperature = 1.0, .seed = 11, .iteration = 1 };
    eef_rft_result r;
    assert_ok(eef_rft_explore(&the_env.base, &p->base, EEF_SPLIT_TRAIN, N_TASKS, &c, &r));
    assert_int_equal(p->n_recs, (size_t)(N_TASKS * K));
    assert_int_equal(r.n_tasks, N_TASKS);
    assert_int_equal(r.rollouts, N_TASKS * K);
    assert_int_equal(r.steps, 2 * N_TASKS * K); /* "a"/"b", then "win"/"lose" */
    int saw_dup = 0, saw_loss = 0;
    for (size_t task = 0; task < N_TASKS; task++) {
        /* the distinct winning action sequences of this task's K rollouts */
        char wins[2][16];
        int n_win = 0, n_win_rollouts = 0, any = 0;
        for (size_t i = 0; i < p->n_recs; i++) {
            const struct rec *x = &p->recs[i];
            if (x->task != task) continue;
            if (!x->win) {
                saw_loss = 1;
                continue;
            }
            any = 1, n_win_rollouts++;
            int seen = 0;
            for (int w = 0; w < n_win; w++) seen |= strcmp(wins[w], x->seq) == 0;
            if (!seen) snprintf(wins[n_win++], sizeof wins[0], "%s", x->seq);
        }
        saw_dup |= n_win_rollouts > n_win;
        if (r.won_from_start[task] != any) fail_msg("task %zu: won %d, want %d", task, r.won_from_start[task], any);
        int want = n_win < keep ? n_win : keep, got = 0;
        char kept[8][40];
        for (size_t q = 0; q < r.kept.n; q++) {
            const eef_traj *t = &r.kept.items[q];
            if ((size_t)t->index != task) continue;
            assert_string_equal(t->source, "agent");
            assert_true(t->win && t->reward == 1.0);
            assert_int_equal(t->n_steps, 2);
            assert_true(t->steps[0].mask == 1 && t->steps[1].mask == 1);
            char seq[40];
            snprintf(seq, sizeof seq, "%s %s", t->steps[0].action, t->steps[1].action);
            int among = 0;
            for (int w = 0; w < n_win; w++) among |= strcmp(wins[w], seq) == 0;
            if (!among) fail_msg("task %zu: kept '%s', not a winning rollout", task, seq);
            for (int g = 0; g < got; g++)
                if (strcmp(kept[g], seq) == 0) fail_msg("task %zu: '%s' kept twice", task, seq);
            assert_true(got < 8);
            snprintf(kept[got++], sizeof kept[0], "%s", seq);
            /* its id names its rollout: that rollout won with these actions */
            int found = 0;
            for (size_t i = 0; i < p->n_recs; i++) {
                char id[64];
                snprintf(id, sizeof id, "line-train-%zu/%016llx", task,
                         (unsigned long long)p->recs[i].episode);
                if (strcmp(id, t->id) == 0) {
                    found = 1;
                    assert_true(p->recs[i].win);
                    assert_string_equal(p->recs[i].seq, seq);
                }
            }
            assert_true(found);
        }
        if (got != want)
            fail_msg("K %d keep %d, task %zu: %d kept, want %d (%d distinct wins)", K, keep, task,
                     got, want, n_win);
    }
    /* the case is only a test if it has duplicates and partial rewards */
    assert_true(saw_dup && saw_loss);
    eef_rft_result_free(&r);
    free(p);
}

static void test_rft_keep(void **state)
{
    (void)state;
    rft_case(8, 1);
    rft_case(8, 2);
    rft_case(8, 8);
    rft_case(16, 3);
}

/* The kept wins are the lowest-numbered ones: with keep = 1, K = 8 and
 * K = 16 keep the same rollout of each task (the first 8 are the same). */
static void test_rft_first_wins(void **state)
{
    (void)state;
    eef_rft_result r8, r16;
    for (int pass = 0; pass < 2; pass++) {
        stub_policy *p = new_policy(1);
        eef_rft_config c = { .k = pass ? 16 : 8, .keep = 1, .temperature = 1.0, .seed = 11,
                             .iteration = 1 };
        assert_ok(eef_rft_explore(&the_env.base, &p->base, EEF_SPLIT_TRAIN, N_TASKS, &c,
                                  pass ? &r16 : &r8));
        free(p);
    }
    size_t same = 0;
    for (size_t q = 0; q < r8.kept.n; q++)
        for (size_t w = 0; w < r16.kept.n; w++)
            if (r8.kept.items[q].index == r16.kept.items[w].index) {
                assert_string_equal(r8.kept.items[q].id, r16.kept.items[w].id);
                same++;
            }
    assert_int_equal(same, r8.kept.n);
    eef_rft_result_free(&r8);
    eef_rft_result_free(&r16);
}

static void test_rft_refuses(void **state)
{
    (void)state;
    stub_policy *p = new_policy(1);
    eef_rft_result r;
    eef_rft_config c = { .k = 2, .keep = 0 };
    assert_int_equal(eef_rft_explore(&the_env.base, &p->base, EEF_SPLIT_TRAIN, N_TASKS, &c, &r),
                     EEF_EINVAL);
    c = (eef_rft_config){ .k = 0, .keep = 1 };
    assert_int_equal(eef_rft_explore(&the_env.base, &p->base, EEF_SPLIT_TRAIN, N_TASKS, &c, &r),
                     EEF_EINVAL);
    free(p);
}

int main(void)
{
    for (int s = 0; s < 2; s++) /* before any thread reads them */
        for (size_t i = 0; i < N_TASKS; i++)
            snprintf(task_ids[s][i], sizeof task_ids[0][0], "line-%s-%zu",
                     eef_split_name((eef_split)s), i);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stride),       cmocka_unit_test(test_stride_l_and_m),
        cmocka_unit_test(test_bisect),       cmocka_unit_test(test_explore_refuses),
        cmocka_unit_test(test_first_winner), cmocka_unit_test(test_rft_keep),
        cmocka_unit_test(test_rft_first_wins), cmocka_unit_test(test_rft_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

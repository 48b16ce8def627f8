/* Tests of the shop environment through the eef_env vtable: page texts and
 * clickables, transitions, invalid and malformed actions (with a fuzzer),
 * the step limit, restore-by-replay and copy, determinism and threads. */
#include "testutil.h"

#include <ctype.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "env/env.h"
#include "env/shop/shop_internal.h"

#define OPTS "products=400,train=60,test=20"

static eef_env *open_env(const char *opts, uint64_t seed)
{
    eef_env *env;
    assert_ok(eef_env_open("shop", opts, seed, &env));
    return env;
}

static int starts(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

static eef_step step(eef_env *env, eef_episode *ep, const char *a)
{
    eef_step st;
    assert_ok(env->ops->step(ep, a, &st));
    return st;
}

static int allowed(eef_env *env, eef_episode *ep, const char *a)
{
    eef_actions acts = { 0 };
    assert_ok(env->ops->actions(ep, &acts));
    int ok = eef_actions_allows(&acts, a);
    eef_actions_free(&acts);
    return ok;
}

/* A task whose natural query has more than one results page. */
static size_t task_with_pages(eef_env *env, size_t *n_results)
{
    shop_env *e = (shop_env *)env;
    shop_scratch s;
    assert_ok(shop_scratch_init(&s, &e->index));
    uint32_t res[SHOP_SEARCH_N];
    for (size_t i = 0; i < e->n_tasks[0]; i++) {
        size_t n = shop_search(&e->index, &s, e->tasks[0][i].query, res);
        if (n > 20 && e->cat.items[res[0]].n_dims > 0) {
            *n_results = n;
            shop_scratch_free(&s);
            return i;
        }
    }
    fail_msg("no task with several pages");
    return 0;
}

static void test_pages_and_clicks(void **state)
{
    (void)state;
    eef_env *env = open_env(OPTS, 1);
    shop_env *e = (shop_env *)env;
    size_t total = 0;
    size_t ti = task_with_pages(env, &total);
    const shop_task *task = &e->tasks[0][ti];
    eef_episode *epb;
    assert_ok(env->ops->episode_open(env, &epb));
    shop_episode *ep = (shop_episode *)epb;
    eef_step st;
    assert_ok(env->ops->reset(epb, EEF_SPLIT_TRAIN, ti, &st));
    /* search page */
    char want[4096];
    snprintf(want, sizeof want, "WebShop [SEP] Instruction: [SEP] %s [SEP] Search", task->goal.instruction);
    assert_string_equal(st.obs, want);
    assert_true(st.valid && !st.done && st.reward == 0.0);
    eef_actions acts = { 0 };
    assert_ok(env->ops->actions(epb, &acts));
    assert_int_equal(acts.items.n, 0);
    assert_string_equal(acts.free_prefix, "search[");
    assert_string_equal(acts.free_suffix, "]");
    /* results page 1 */
    char q[1024];
    snprintf(q, sizeof q, "search[%s]", task->query);
    st = step(env, epb, q);
    assert_true(st.valid);
    snprintf(want, sizeof want, "Instruction: [SEP] %s [SEP] Back to Search [SEP] Page 1 (Total results: %zu) [SEP] Next > [SEP] B0",
             task->goal.instruction, total);
    assert_true(starts(st.obs, want));
    const shop_product *first = &e->cat.items[ep->st.results[0]];
    snprintf(want, sizeof want, " [SEP] %s [SEP] %s [SEP] %s [SEP] ", first->asin, first->title, first->price_tag);
    assert_non_null(strstr(st.obs, want));
    assert_ok(env->ops->actions(epb, &acts));
    assert_null(acts.free_prefix);
    assert_int_equal(acts.items.n, 2 + SHOP_PER_PAGE);
    assert_string_equal(acts.items.items[0], "click[Back to Search]");
    assert_string_equal(acts.items.items[1], "click[Next >]");
    assert_false(allowed(env, epb, "click[< Prev]"));
    /* page 2, then back */
    st = step(env, epb, "click[next >]"); /* clicks are case-insensitive, as in WebShop */
    assert_true(st.valid);
    assert_non_null(strstr(st.obs, "[SEP] Page 2 (Total results: "));
    assert_non_null(strstr(st.obs, ") [SEP] < Prev [SEP] Next > [SEP] B0"));
    st = step(env, epb, "click[< Prev]");
    assert_non_null(strstr(st.obs, "[SEP] Page 1 (Total results: "));
    /* item page */
    char click[64];
    snprintf(click, sizeof click, "click[%s]", first->asin);
    for (char *c = click + 6; *c; c++) *c = (char)tolower((unsigned char)*c);
    st = step(env, epb, click);
    assert_true(st.valid);
    assert_int_equal(ep->st.page, PG_ITEM);
    eef_buf w;
    eef_buf_init(&w);
    eef_buf_printf(&w, "Instruction: [SEP] %s [SEP] Back to Search [SEP] < Prev", task->goal.instruction);
    for (uint32_t d = 0; d < first->n_dims; d++) {
        eef_buf_printf(&w, " [SEP] %s", first->dims[d].name);
        for (uint32_t v = 0; v < first->dims[d].n_values; v++) eef_buf_printf(&w, " [SEP] %s", first->dims[d].values[v]);
    }
    eef_buf_printf(&w, " [SEP] %s [SEP] Price: %s [SEP] Rating: N.A. [SEP] Description [SEP] Features [SEP] "
                       "Reviews [SEP] Attributes [SEP] Buy Now",
                   first->title, first->price_tag);
    assert_string_equal(st.obs, w.data);
    char item_obs[8192];
    snprintf(item_obs, sizeof item_obs, "%s", st.obs);
    assert_true(allowed(env, epb, "click[Buy Now]"));
    assert_true(allowed(env, epb, "click[Attributes]"));
    /* choose an option, visit a sub-page, come back: the choice is kept */
    char opt[256];
    snprintf(opt, sizeof opt, "click[%s]", first->dims[0].values[first->dims[0].n_values - 1]);
    st = step(env, epb, opt);
    assert_true(st.valid);
    assert_string_equal(st.obs, item_obs); /* simple mode does not mark choices */
    assert_int_equal(ep->st.sel[0], (int)first->dims[0].n_values - 1);
    st = step(env, epb, "click[Attributes]");
    eef_buf_clear(&w);
    eef_buf_printf(&w, "Instruction: [SEP] %s [SEP] Back to Search [SEP] < Prev", task->goal.instruction);
    for (uint32_t k = 0; k < first->n_attrs; k++) eef_buf_printf(&w, " [SEP] %s", first->attrs[k]);
    assert_string_equal(st.obs, w.data);
    assert_ok(env->ops->actions(epb, &acts));
    assert_int_equal(acts.items.n, 2);
    st = step(env, epb, "click[< Prev]");
    assert_string_equal(st.obs, item_obs);
    assert_int_equal(ep->st.sel[0], (int)first->dims[0].n_values - 1);
    st = step(env, epb, "click[Features]");
    assert_non_null(strstr(st.obs, first->bullets[0]));
    st = step(env, epb, "click[< Prev]");
    st = step(env, epb, "click[Description]");
    assert_non_null(strstr(st.obs, first->description));
    st = step(env, epb, "click[< Prev]");
    /* < Prev from the item page: the results page, choices reset */
    st = step(env, epb, "click[< Prev]");
    assert_int_equal(ep->st.page, PG_RESULTS);
    assert_int_equal(ep->st.sel[0], -1);
    /* buy */
    st = step(env, epb, click);
    st = step(env, epb, "click[Buy Now]");
    assert_true(st.valid && st.done);
    assert_true(st.reward >= 0.0 && st.reward <= 1.0);
    assert_true(starts(st.obs, "Thank you for shopping with us! [SEP] Purchased [SEP] B0"));
    assert_ok(env->ops->actions(epb, &acts));
    assert_int_equal(acts.items.n, 0);
    assert_int_equal(env->ops->step(epb, "click[Buy Now]", &st), EEF_ESTATE);
    /* Back to Search from a results page */
    assert_ok(env->ops->reset(epb, EEF_SPLIT_TRAIN, ti, &st));
    step(env, epb, q);
    st = step(env, epb, "click[Back to Search]");
    assert_true(starts(st.obs, "WebShop [SEP] Instruction: "));
    eef_buf_free(&w);
    eef_actions_free(&acts);
    env->ops->episode_close(epb);
    eef_env_close(env);
}

static void test_invalid_actions(void **state)
{
    (void)state;
    eef_env *env = open_env(OPTS, 1);
    eef_episode *epb;
    assert_ok(env->ops->episode_open(env, &epb));
    shop_episode *ep = (shop_episode *)epb;
    eef_step st;
    assert_ok(env->ops->reset(epb, EEF_SPLIT_TRAIN, 0, &st));
    char *garbage = malloc(10241);
    for (int i = 0; i < 10240; i++) garbage[i] = (char)('a' + i % 26);
    garbage[10240] = 0;
    const char *on_search[] = {
        "", "click[", "click[]", "search[]", "search[   ]", "search", "search[shoes", "Search[shoes]",
        "CLICK[Next >]", "click[Buy Now]", "click[Next >]", "\xff\xfe", "search[caf\xc3]", garbage,
        "hello world", "click[Search]",
    };
    for (size_t i = 0; i < EEF_ARRAY_LEN(on_search); i++) {
        shop_state before = ep->st;
        st = step(env, epb, on_search[i]);
        if (st.valid) fail_msg("'%.40s' was accepted", on_search[i]);
        assert_true(starts(st.obs, "Invalid action: "));
        assert_true(strlen(st.obs) < 120);
        assert_true(eef_utf8_valid(st.obs, strlen(st.obs)));
        before.steps = ep->st.steps;
        before.done = ep->st.done;
        assert_memory_equal(&before, &ep->st, sizeof before); /* nothing else changed */
        if (st.done) break;
    }
    /* the step limit counts invalid actions too */
    assert_true(st.done);
    assert_int_equal(ep->st.steps, 15);
    assert_true(st.reward == 0.0);
    /* on a results page: no search, no unknown buttons */
    assert_ok(env->ops->reset(epb, EEF_SPLIT_TRAIN, 0, &st));
    st = step(env, epb, "search[shoes]");
    assert_true(st.valid);
    const char *on_results[] = { "search[socks]", "click[Buy Now]", "click[B0ZZZZZZZZ]", "click[Next > ]",
                                 " click[Next >]", "click[Next >]x" };
    for (size_t i = 0; i < EEF_ARRAY_LEN(on_results); i++) {
        st = step(env, epb, on_results[i]);
        assert_false(st.valid);
    }
    st = step(env, epb, "click[B0ZZZZZZZZ]");
    assert_string_equal(st.obs, "Invalid action: there is no 'B0ZZZZZZZZ' to click on this page.");
    free(garbage);
    env->ops->episode_close(epb);
    eef_env_close(env);
}

/* Random bytes and mutated actions: no crash, invalid unless allowed, and
 * an invalid action never changes the state. */
static void test_fuzz_actions(void **state)
{
    (void)state;
    eef_env *env = open_env("products=300,train=20,test=5,max_steps=1000", 2);
    eef_episode *epb;
    assert_ok(env->ops->episode_open(env, &epb));
    shop_episode *ep = (shop_episode *)epb;
    eef_step st;
    eef_rng r = eef_rng_make(eef_rng_key(9, 1, 2, 3));
    eef_actions acts = { 0 };
    char buf[300];
    int valid = 0, invalid = 0;
    assert_ok(env->ops->reset(epb, EEF_SPLIT_TRAIN, 0, &st));
    for (int i = 0; i < 20000; i++) {
        if (st.done) assert_ok(env->ops->reset(epb, EEF_SPLIT_TRAIN, (size_t)eef_rng_below(&r, 20), &st));
        assert_ok(env->ops->actions(epb, &acts));
        size_t n;
        int kind = (int)eef_rng_below(&r, 4);
        if (kind == 3 && acts.free_prefix) { /* a search, maybe mangled */
            static const char *const q[] = { "search[shoes]", "search[black tea]", "search[x]", "search[ ]" };
            snprintf(buf, sizeof buf, "%s", q[eef_rng_below(&r, 4)]);
            n = strlen(buf);
        } else if (kind == 0 || acts.items.n == 0) { /* random bytes */
            n = (size_t)eef_rng_below(&r, sizeof buf - 1);
            for (size_t k = 0; k < n; k++) buf[k] = (char)(1 + eef_rng_below(&r, 255));
        } else { /* a valid action, mutated */
            snprintf(buf, sizeof buf, "%s", acts.items.items[eef_rng_below(&r, acts.items.n)]);
            n = strlen(buf);
            if (kind == 1 && n) buf[eef_rng_below(&r, n)] = (char)(1 + eef_rng_below(&r, 255));
            if (kind == 2 && n) n = (size_t)eef_rng_below(&r, n);
        }
        buf[n] = 0;
        int should = eef_actions_allows(&acts, buf) && eef_utf8_valid(buf, n) && strcmp(buf, "search[ ]") != 0;
        shop_state before = ep->st;
        st = step(env, epb, buf);
        if (!st.valid) {
            invalid++;
            before.steps = ep->st.steps;
            before.done = ep->st.done; /* the step limit may end it */
            assert_memory_equal(&before, &ep->st, sizeof before);
            assert_true(starts(st.obs, "Invalid action: "));
        } else valid++;
        /* valid exactly when the action is listed (or case differs only) */
        if (should) assert_true(st.valid);
    }
    printf("fuzz: %d valid, %d invalid actions\n", valid, invalid);
    assert_true(valid > 1000 && invalid > 5000);
    eef_actions_free(&acts);
    env->ops->episode_close(epb);
    eef_env_close(env);
}

/* ------------------------------------------------------------------ restore, copy */
typedef struct {
    char *acts[16];
    char *obs[16];
    double reward[16];
    int done[16];
    int n;
} run;

static void run_free(run *r)
{
    for (int i = 0; i < r->n; i++) {
        free(r->acts[i]);
        free(r->obs[i]);
    }
}

/* A random valid-action policy: on the search page, a search made of
 * random words of the instruction; elsewhere a uniform valid click. */
static void random_action(const eef_actions *acts, const char *instruction, eef_rng *r, char *out, size_t cap)
{
    if (acts->free_prefix) {
        char words[64][48];
        int n = 0;
        const char *s = instruction;
        while (*s && n < 64) {
            while (*s == ' ') s++;
            int k = 0;
            while (*s && *s != ' ') {
                if (k < 47) words[n][k++] = *s;
                s++;
            }
            words[n][k] = 0;
            if (k) n++;
        }
        size_t len = (size_t)snprintf(out, cap, "search[");
        int m = 1 + (int)eef_rng_below(r, 6);
        for (int i = 0; i < m && n; i++)
            len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? " " : "", words[eef_rng_below(r, (uint64_t)n)]);
        snprintf(out + len, cap - len, "]");
        return;
    }
    snprintf(out, cap, "%s", acts->items.items[eef_rng_below(r, acts->items.n)]);
}

static void test_restore_and_copy_equal_replay(void **state)
{
    (void)state;
    eef_env *env = open_env(OPTS, 3);
    shop_env *e = (shop_env *)env;
    eef_episode *a, *b, *snap;
    assert_ok(env->ops->episode_open(env, &a));
    assert_ok(env->ops->episode_open(env, &b));
    assert_ok(env->ops->episode_open(env, &snap));
    eef_actions acts = { 0 };
    char buf[1024];
    int checked = 0, bought = 0;
    for (int trial = 0; trial < 1200; trial++) {
        eef_rng r = eef_rng_make(eef_rng_key(77, (uint64_t)trial, 0, 0));
        eef_split split = (eef_split)eef_rng_below(&r, 2);
        size_t ti = (size_t)eef_rng_below(&r, env->ops->n_tasks(env, split));
        eef_step st;
        assert_ok(env->ops->reset(a, split, ti, &st));
        run orig = { 0 };
        int snap_at = 1 + (int)eef_rng_below(&r, 12); /* copy taken after this many actions */
        while (!st.done && orig.n < 15) {
            assert_ok(env->ops->actions(a, &acts));
            random_action(&acts, e->tasks[split][ti].goal.instruction, &r, buf, sizeof buf);
            st = step(env, a, buf);
            assert_true(st.valid);
            orig.acts[orig.n] = strdup(buf);
            orig.obs[orig.n] = strdup(st.obs);
            orig.reward[orig.n] = st.reward;
            orig.done[orig.n] = st.done;
            orig.n++;
            if (orig.n == snap_at) assert_ok(env->ops->copy(snap, a));
        }
        bought += st.done && strcmp(orig.acts[orig.n - 1], "click[Buy Now]") == 0;
        /* restore(prefix) then the rest == the uninterrupted run */
        int cut = (int)eef_rng_below(&r, (uint64_t)orig.n); /* a live state: before the last action */
        eef_step rs;
        assert_ok(eef_env_restore(b, split, ti, (const char *const *)orig.acts, (size_t)cut, &rs));
        if (cut > 0) assert_string_equal(rs.obs, orig.obs[cut - 1]);
        for (int i = cut; i < orig.n; i++) {
            rs = step(env, b, orig.acts[i]);
            assert_string_equal(rs.obs, orig.obs[i]);
            assert_true(rs.reward == orig.reward[i]);
            assert_int_equal(rs.done, orig.done[i]);
        }
        /* copy == replay: a copy taken mid-run has the replayed state's bytes
         * and continues identically */
        if (snap_at < orig.n) {
            assert_ok(eef_env_restore(b, split, ti, (const char *const *)orig.acts, (size_t)snap_at, NULL));
            assert_memory_equal(&((shop_episode *)snap)->st, &((shop_episode *)b)->st, sizeof(shop_state));
            for (int i = snap_at; i < orig.n; i++) {
                rs = step(env, snap, orig.acts[i]);
                assert_string_equal(rs.obs, orig.obs[i]);
                assert_true(rs.reward == orig.reward[i]);
                assert_int_equal(rs.done, orig.done[i]);
            }
        }
        run_free(&orig);
        checked++;
    }
    printf("restore/copy checked on %d random runs (%d ended in a purchase)\n", checked, bought);
    assert_true(checked >= 1000 && bought > 50);
    /* copy refuses episodes of another environment */
    eef_env *other = open_env("products=50,train=5,test=1", 1);
    eef_episode *o;
    assert_ok(other->ops->episode_open(other, &o));
    assert_int_equal(env->ops->copy(a, o), EEF_EINVAL);
    other->ops->episode_close(o);
    eef_env_close(other);
    eef_actions_free(&acts);
    env->ops->episode_close(a);
    env->ops->episode_close(b);
    env->ops->episode_close(snap);
    eef_env_close(env);
}

/* Same seed: same tasks and observations; episodes on threads agree with
 * one thread (the env is shared read-only). */
static void test_determinism_and_threads(void **state)
{
    (void)state;
    eef_env *x = open_env(OPTS, 5), *y = open_env(OPTS, 5), *z = open_env(OPTS, 6);
    int differ = 0;
    for (size_t i = 0; i < 20; i++) {
        eef_task tx, ty, tz;
        assert_ok(x->ops->task(x, EEF_SPLIT_TEST, i, &tx));
        assert_ok(y->ops->task(y, EEF_SPLIT_TEST, i, &ty));
        assert_ok(z->ops->task(z, EEF_SPLIT_TEST, i, &tz));
        assert_string_equal(tx.instruction, ty.instruction);
        assert_int_equal(tx.tier, ty.tier);
        char id[32];
        snprintf(id, sizeof id, "shop-test-%zu", i);
        assert_string_equal(tx.id, id);
        differ += strcmp(tx.instruction, tz.instruction) != 0;
    }
    assert_true(differ > 15);
    /* 200 oracle episodes, in parallel and one by one */
    enum { N = 200 };
    static double par[N], seq[N];
    eef_env *env = x;
    for (int pass = 0; pass < 2; pass++) {
        double *out = pass ? par : seq;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic) num_threads(pass ? 4 : 1)
#endif
        for (int i = 0; i < N; i++) {
            eef_episode *ep;
            eef_strlist acts = { 0 };
            eef_step st = { 0 };
            eef_split split = i % 2 ? EEF_SPLIT_TEST : EEF_SPLIT_TRAIN;
            size_t ti = (size_t)i % env->ops->n_tasks(env, split);
            out[i] = -1;
            if (env->ops->episode_open(env, &ep) == EEF_OK) {
                if (eef_shop_oracle(env, split, ti, &acts) == EEF_OK &&
                    eef_env_restore(ep, split, ti, (const char *const *)acts.items, acts.n, &st) == EEF_OK)
                    out[i] = st.reward + (double)strlen(st.obs);
                env->ops->episode_close(ep);
            }
            eef_strlist_free(&acts);
        }
    }
    for (int i = 0; i < N; i++) assert_true(seq[i] > 0 && seq[i] == par[i]);
    eef_env_close(x);
    eef_env_close(y);
    eef_env_close(z);
}

static void test_task_errors(void **state)
{
    (void)state;
    eef_env *env = open_env("products=100,train=10,test=3,max_steps=4", 1);
    assert_int_equal(env->max_steps, 4);
    assert_int_equal(env->ops->n_tasks(env, EEF_SPLIT_TRAIN), 10);
    assert_int_equal(env->ops->n_tasks(env, EEF_SPLIT_TEST), 3);
    eef_task t;
    assert_ok(env->ops->task(env, EEF_SPLIT_TEST, 2, &t));
    assert_string_equal(t.id, "shop-test-2");
    assert_int_equal(t.index, 2);
    assert_int_equal(env->ops->task(env, EEF_SPLIT_TEST, 3, &t), EEF_EINVAL);
    eef_episode *ep;
    eef_step st;
    assert_ok(env->ops->episode_open(env, &ep));
    assert_int_equal(env->ops->step(ep, "search[x]", &st), EEF_ESTATE); /* before reset */
    assert_int_equal(env->ops->reset(ep, EEF_SPLIT_TRAIN, 10, &st), EEF_EINVAL);
    assert_ok(env->ops->reset(ep, EEF_SPLIT_TRAIN, 9, &st));
    for (int i = 0; i < 4; i++) st = step(env, ep, "click[nothing]");
    assert_true(st.done); /* max_steps=4 */
    env->ops->episode_close(ep);
    eef_env_close(env);
}


/* ------------------------------------------------------------------ CLI */
static char *run_cmd(const char *cmd, int *status)
{
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    eef_buf b;
    eef_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) eef_buf_append(&b, chunk, n);
    int rc = pclose(f);
    *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    return b.data ? b.data : strdup("");
}

static void test_cli_tasks_and_play(void **state)
{
    (void)state;
    char cmd[2048];
    int rc;
    /* tasks: one JSON object per task, then the tier mix */
    snprintf(cmd, sizeof cmd, "%s tasks shop --split test --json --env-opt products=300,train=10,test=6 --seed 2",
             tu_eef());
    char *out = run_cmd(cmd, &rc);
    assert_int_equal(rc, 0);
    int lines = 0;
    for (char *p = out; (p = strchr(p, '\n')); p++) lines++;
    assert_int_equal(lines, 7);
    assert_true(starts(out, "{\"id\":\"shop-test-0\",\"split\":\"test\",\"index\":0,\"tier\":\""));
    assert_non_null(strstr(out, "{\"summary\":true,\"split\":\"test\",\"tasks\":6,"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s tasks shop --env-opt products=300,train=10,test=6", tu_eef());
    out = run_cmd(cmd, &rc);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "shop-train-9\t"));
    assert_non_null(strstr(out, "tiers (train, 10 tasks): easy "));
    free(out);
    /* play, scripted: the oracle's actions on stdin, the reward at the end */
    eef_env *env = open_env("products=300,train=10,test=6", 2);
    eef_strlist acts = { 0 };
    assert_ok(eef_shop_oracle(env, EEF_SPLIT_TRAIN, 3, &acts));
    char *dir = tu_tmpdir();
    char path[512];
    eef_path_join(path, sizeof path, dir, "in.txt");
    eef_buf in;
    eef_buf_init(&in);
    eef_buf_puts(&in, "click[nothing here]\n"); /* an invalid action is reported, not fatal */
    for (size_t i = 0; i < acts.n; i++) eef_buf_printf(&in, "%s\n", acts.items[i]);
    assert_ok(eef_write_file_atomic(path, in.data, in.len));
    snprintf(cmd, sizeof cmd, "%s play shop --task 3 --seed 2 --env-opt products=300,train=10,test=6 < %s",
             tu_eef(), path);
    out = run_cmd(cmd, &rc);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "== observation\nWebShop [SEP] Instruction: [SEP] "));
    assert_non_null(strstr(out, "== invalid action"));
    assert_non_null(strstr(out, "reward: 1.0000\nwin: yes"));
    free(out);
    /* a number picks a listed action; end of input ends the game */
    eef_buf_clear(&in);
    eef_buf_printf(&in, "search[shoes]\n1\n");
    assert_ok(eef_write_file_atomic(path, in.data, in.len));
    out = run_cmd(cmd, &rc);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "> click[Back to Search]"));
    assert_non_null(strstr(out, "end of input"));
    free(out);
    /* usage and runtime errors */
    snprintf(cmd, sizeof cmd, "%s play 2>/dev/null", tu_eef());
    free(run_cmd(cmd, &rc));
    assert_int_equal(rc, 2);
    snprintf(cmd, sizeof cmd, "%s play shop --task 99 --env-opt products=300,train=10,test=6 2>&1", tu_eef());
    out = run_cmd(cmd, &rc);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "does not exist"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s tasks shop --split dev 2>&1", tu_eef());
    free(run_cmd(cmd, &rc));
    assert_int_equal(rc, 1);
    eef_buf_free(&in);
    tu_rmtree(dir);
    eef_strlist_free(&acts);
    eef_env_close(env);
}

int main(void)
{
    eef_progress_set_quiet(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pages_and_clicks),
        cmocka_unit_test(test_invalid_actions),
        cmocka_unit_test(test_fuzz_actions),
        cmocka_unit_test(test_restore_and_copy_equal_replay),
        cmocka_unit_test(test_determinism_and_threads),
        cmocka_unit_test(test_task_errors),
        cmocka_unit_test(test_cli_tasks_and_play),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

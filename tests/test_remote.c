/* Tests of `eef env-serve` (src/serve env server) and of the remote
 * environment client (src/env/remote) against it on loopback: episodes
 * through the remote client equal the local environment step for step
 * (a fake environment, the shop, the house; both AgentGym dialects, with
 * and without eef's routes), many concurrent sessions, session limit and
 * expiry, the raw HTTP API, and a server killed or hung mid-episode. */
#include "test_serve_util.h"

#include <pthread.h>

#include "agent/policy.h"
#include "env/house/house.h"
#include "env/shop/shop.h"
#include "serve/serve.h"

static eef_server *serve(eef_env *env, eef_env_api api, int max_sessions, double idle, char *base,
                         size_t cap)
{
    eef_env_server_config c;
    eef_env_server_defaults(&c);
    c.port = 0;
    c.api = api;
    c.env_name = env->ops->name;
    c.max_sessions = max_sessions;
    c.idle_timeout = idle;
    eef_server *s = NULL;
    assert_ok(eef_env_server_start(env, &c, &s));
    snprintf(base, cap, "http://127.0.0.1:%d", eef_server_port(s));
    return s;
}

static eef_env *remote(const char *base, const char *opts)
{
    char name[128];
    snprintf(name, sizeof name, "remote:%s", base);
    eef_env *env = NULL;
    assert_ok(eef_env_open(name, opts, 0, &env));
    return env;
}

static void same_actions(eef_episode *a, eef_episode *b)
{
    eef_actions x = { 0 }, y = { 0 };
    assert_ok(a->env->ops->actions(a, &x));
    assert_ok(b->env->ops->actions(b, &y));
    assert_int_equal(x.items.n, y.items.n);
    for (size_t i = 0; i < x.items.n; i++) assert_string_equal(x.items.items[i], y.items.items[i]);
    assert_int_equal(x.free_prefix == NULL, y.free_prefix == NULL);
    if (x.free_prefix) {
        assert_string_equal(x.free_prefix, y.free_prefix);
        assert_string_equal(x.free_suffix, y.free_suffix);
    }
    eef_actions_free(&x);
    eef_actions_free(&y);
}

static void same_step(const eef_step *a, const eef_step *b)
{
    assert_string_equal(a->obs, b->obs);
    assert_true(a->reward == b->reward);
    assert_int_equal(a->done, b->done);
    assert_int_equal(a->valid, b->valid);
}

/* Runs the same actions in a local and a remote episode and compares
 * every step and every action list. */
static void lockstep(eef_episode *loc, eef_episode *rem, eef_split split, size_t task,
                     const char *const *acts, size_t n)
{
    eef_step a, b;
    assert_ok(loc->env->ops->reset(loc, split, task, &a));
    assert_ok(rem->env->ops->reset(rem, split, task, &b));
    same_step(&a, &b);
    for (size_t i = 0; i < n && !a.done; i++) {
        same_actions(loc, rem);
        assert_ok(loc->env->ops->step(loc, acts[i], &a));
        assert_ok(rem->env->ops->step(rem, acts[i], &b));
        same_step(&a, &b);
    }
    same_actions(loc, rem);
}

static void same_task(eef_env *loc, eef_env *rem, eef_split s, size_t i, int exact_meta)
{
    eef_task a, b;
    assert_ok(loc->ops->task(loc, s, i, &a));
    assert_ok(rem->ops->task(rem, s, i, &b));
    assert_string_equal(a.instruction, b.instruction);
    assert_int_equal(b.split, s);
    assert_int_equal(b.index, i);
    if (exact_meta) {
        assert_string_equal(a.id, b.id);
        assert_int_equal(a.tier, b.tier);
    }
}

/* Random actions for the fake environment: valid and invalid ones. */
static void random_fake_actions(uint64_t seed, eef_strlist *out)
{
    static const char *pool[] = { "click[inc]", "click[inc]", "click[dec]", "click[done]",
                                  "search[abc]", "search[]", "click[nope]", "jump", "" };
    eef_rng r = eef_rng_make(eef_rng_key(seed, 1, 2, 3));
    eef_strlist_clear(out);
    for (int i = 0; i < 12; i++) eef_strlist_push(out, pool[eef_rng_below(&r, EEF_ARRAY_LEN(pool))]);
}

/* ------------------------------------------------------------ equality */
static void test_fake_equal_all_dialects(void **state)
{
    (void)state;
    eef_env *loc = fake_env_open();
    for (int api = 0; api < 2; api++)
        for (int ext = 0; ext < 2; ext++) {
            /* ALFWorld's action lists cannot carry a free-text slot (the
             * fake's search[...]): that pair needs eef's routes */
            if (api == EEF_API_ALFWORLD && !ext) continue;
            char base[64];
            eef_server *s = serve(loc, (eef_env_api)api, 64, 60, base, sizeof base);
            eef_env *rem = remote(base, ext ? NULL : "eef=0,train=0-19,test=20-25,max_steps=10");
            assert_int_equal(rem->ops->n_tasks(rem, EEF_SPLIT_TRAIN), 20);
            assert_int_equal(rem->ops->n_tasks(rem, EEF_SPLIT_TEST), 6);
            assert_int_equal(rem->max_steps, 10);
            eef_episode *a, *b;
            assert_ok(loc->ops->episode_open(loc, &a));
            assert_ok(rem->ops->episode_open(rem, &b));
            eef_strlist acts = { 0 };
            for (int t = 0; t < 8; t++) {
                eef_split split = t % 3 == 2 ? EEF_SPLIT_TEST : EEF_SPLIT_TRAIN;
                random_fake_actions((uint64_t)(t + 10 * api + 100 * ext), &acts);
                lockstep(a, b, split, (size_t)t, (const char *const *)acts.items, acts.n);
                same_task(loc, rem, split, (size_t)t, ext);
            }
            /* the same episode object goes on across resets; restore is replay */
            const char *prefix[] = { "click[inc]", "click[inc]", "click[nope]" };
            eef_step x, y;
            assert_ok(eef_env_restore(a, EEF_SPLIT_TRAIN, 4, prefix, 2, &x));
            assert_ok(eef_env_restore(b, EEF_SPLIT_TRAIN, 4, prefix, 2, &y));
            same_step(&x, &y);
            assert_int_equal(eef_env_restore(b, EEF_SPLIT_TRAIN, 4, prefix, 3, &y), EEF_ESTATE);
            /* stepping after the end is refused like locally */
            const char *finish[] = { "click[done]" };
            lockstep(a, b, EEF_SPLIT_TRAIN, 1, finish, 1);
            assert_int_equal(rem->ops->step(b, "click[inc]", &y), EEF_ESTATE);
            eef_strlist_free(&acts);
            loc->ops->episode_close(a);
            rem->ops->episode_close(b);
            eef_env_close(rem);
            eef_server_stop(s);
        }
    eef_env_close(loc);
}

static void real_env_equal(const char *name, eef_env_api api)
{
    eef_env *loc = NULL;
    assert_ok(eef_env_open(name, NULL, 7, &loc));
    char base[64];
    eef_server *s = serve(loc, api, 16, 60, base, sizeof base);
    size_t ntr = loc->ops->n_tasks(loc, EEF_SPLIT_TRAIN), nte = loc->ops->n_tasks(loc, EEF_SPLIT_TEST);
    char opts[160];
    snprintf(opts, sizeof opts, "eef=0,train=0-%zu,test=%zu-%zu,max_steps=%d", ntr - 1, ntr,
             ntr + nte - 1, loc->max_steps);
    for (int ext = 0; ext < 2; ext++) {
        eef_env *rem = remote(base, ext ? NULL : opts);
        eef_episode *a, *b;
        assert_ok(loc->ops->episode_open(loc, &a));
        assert_ok(rem->ops->episode_open(rem, &b));
        for (int t = 0; t < 4; t++) {
            eef_split split = t == 3 ? EEF_SPLIT_TEST : EEF_SPLIT_TRAIN;
            eef_strlist acts = { 0 };
            if (strcmp(name, "shop") == 0) assert_ok(eef_shop_oracle(loc, split, (size_t)t, &acts));
            else assert_ok(eef_house_oracle(loc, split, (size_t)t, &acts));
            /* an invalid action first: it must be invalid on both sides */
            eef_strlist all = { 0 };
            eef_strlist_push(&all, strcmp(name, "shop") == 0 ? "click[No Such Button]" : "fly to moon");
            for (size_t i = 0; i < acts.n; i++) eef_strlist_push(&all, acts.items[i]);
            lockstep(a, b, split, (size_t)t, (const char *const *)all.items, all.n);
            same_task(loc, rem, split, (size_t)t, ext);
            eef_strlist_free(&acts);
            eef_strlist_free(&all);
        }
        loc->ops->episode_close(a);
        rem->ops->episode_close(b);
        eef_env_close(rem);
    }
    eef_server_stop(s);
    eef_env_close(loc);
}

static void test_shop_equal(void **state)
{
    (void)state;
    real_env_equal("shop", EEF_API_WEBSHOP);
}

static void test_house_equal(void **state)
{
    (void)state;
    real_env_equal("house", EEF_API_ALFWORLD);
}

/* The built-in expert's rollouts (many threads, so many sessions at once)
 * are the same through the remote environment as locally. */
static void test_expert_rollouts_equal(void **state)
{
    (void)state;
    eef_env *loc = NULL;
    assert_ok(eef_env_open("shop", NULL, 3, &loc));
    char base[64];
    eef_server *s = serve(loc, EEF_API_WEBSHOP, 64, 60, base, sizeof base);
    eef_env *rem = remote(base, NULL);
    eef_policy *p;
    assert_ok(eef_expert_shop_open(NULL, &p));
    enum { N = 8 };
    eef_rollout_spec specs[N];
    for (int i = 0; i < N; i++)
        specs[i] = (eef_rollout_spec){ .split = EEF_SPLIT_TRAIN, .index = (size_t)i * 3,
                                       .key = eef_rng_key(9, 1, 0, (uint64_t)i) };
    eef_traj a[N], b[N];
    assert_ok(eef_rollout_batch(loc, p, specs, N, NULL, a));
    assert_ok(eef_rollout_batch(rem, p, specs, N, NULL, b));
    for (int i = 0; i < N; i++) {
        assert_string_equal(a[i].task, b[i].task);
        assert_string_equal(a[i].instruction, b[i].instruction);
        assert_int_equal(a[i].n_steps, b[i].n_steps);
        for (size_t k = 0; k < a[i].n_steps; k++) {
            assert_string_equal(a[i].steps[k].obs, b[i].steps[k].obs);
            assert_string_equal(a[i].steps[k].action, b[i].steps[k].action);
        }
        assert_true(a[i].reward == b[i].reward);
        assert_string_equal(a[i].final_obs, b[i].final_obs);
        eef_traj_free(&a[i]);
        eef_traj_free(&b[i]);
    }
    eef_policy_close(p);
    eef_env_close(rem);
    eef_server_stop(s);
    eef_env_close(loc);
}

/* ------------------------------------------------------------ many sessions */
typedef struct {
    eef_env *loc, *rem;
    int id;
    int ok;
} sess_job;

static void *sess_main(void *arg)
{
    sess_job *j = arg;
    eef_episode *a, *b;
    if (j->loc->ops->episode_open(j->loc, &a) || j->rem->ops->episode_open(j->rem, &b)) return NULL;
    eef_strlist acts = { 0 };
    int ok = 1;
    for (int k = 0; k < 3 && ok; k++) {
        random_fake_actions((uint64_t)(j->id * 7 + k), &acts);
        eef_step x, y;
        size_t task = (size_t)(j->id + k) % 20;
        ok = !j->loc->ops->reset(a, EEF_SPLIT_TRAIN, task, &x) &&
             !j->rem->ops->reset(b, EEF_SPLIT_TRAIN, task, &y) && strcmp(x.obs, y.obs) == 0;
        for (size_t i = 0; ok && i < acts.n && !x.done; i++) {
            ok = !j->loc->ops->step(a, acts.items[i], &x) && !j->rem->ops->step(b, acts.items[i], &y) &&
                 strcmp(x.obs, y.obs) == 0 && x.done == y.done && x.valid == y.valid &&
                 x.reward == y.reward;
        }
    }
    eef_strlist_free(&acts);
    j->loc->ops->episode_close(a);
    j->rem->ops->episode_close(b);
    j->ok = ok;
    return NULL;
}

static long count_sessions(const char *base)
{
    char u[128];
    snprintf(u, sizeof u, "%s/list_envs", base);
    su_resp r;
    assert_int_equal(su_http("GET", u, NULL, NULL, 10, &r), 0);
    cJSON *j = su_json(&r);
    long n = cJSON_GetArraySize(j);
    cJSON_Delete(j);
    eef_buf_free(&r.body);
    return n;
}

static void test_many_concurrent_sessions(void **state)
{
    (void)state;
    eef_env *loc = fake_env_open();
    char base[64];
    eef_server *s = serve(loc, EEF_API_ALFWORLD, 64, 60, base, sizeof base);
    eef_env *rem = remote(base, NULL);
    enum { N = 32 };
    sess_job jobs[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (sess_job){ loc, rem, i, 0 };
        assert_int_equal(pthread_create(&th[i], NULL, sess_main, &jobs[i]), 0);
    }
    for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++) assert_true(jobs[i].ok);
    assert_int_equal(count_sessions(base), 0); /* every episode closed its session */
    eef_env_close(rem);
    eef_server_stop(s);
    eef_env_close(loc);
}

static void test_session_limit_and_expiry(void **state)
{
    (void)state;
    eef_env *loc = fake_env_open();
    char base[64];
    eef_server *s = serve(loc, EEF_API_WEBSHOP, 3, 0.4, base, sizeof base);
    eef_env *rem = remote(base, "retries=0");
    eef_episode *ep[4];
    eef_step st;
    for (int i = 0; i < 4; i++) assert_ok(rem->ops->episode_open(rem, &ep[i]));
    for (int i = 0; i < 3; i++) assert_ok(rem->ops->reset(ep[i], EEF_SPLIT_TRAIN, 0, &st));
    assert_int_equal(rem->ops->reset(ep[3], EEF_SPLIT_TRAIN, 0, &st), EEF_ENET);
    assert_non_null(strstr(eef_errmsg(), "too many sessions"));
    rem->ops->episode_close(ep[0]); /* frees a place */
    assert_ok(rem->ops->reset(ep[3], EEF_SPLIT_TRAIN, 1, &st));
    /* idle sessions expire: a step then fails clearly, a reset starts afresh */
    usleep(700000);
    assert_int_equal(rem->ops->step(ep[1], "click[inc]", &st), EEF_ENOTFOUND);
    assert_non_null(strstr(eef_errmsg(), "unknown session"));
    assert_ok(rem->ops->reset(ep[1], EEF_SPLIT_TRAIN, 2, &st));
    assert_ok(rem->ops->step(ep[1], "click[inc]", &st));
    assert_non_null(strstr(st.obs, "Value: 1"));
    for (int i = 1; i < 4; i++) rem->ops->episode_close(ep[i]);
    eef_env_close(rem);
    eef_server_stop(s);
    eef_env_close(loc);
}

/* ------------------------------------------------------------ the raw API */
static cJSON *call(const char *base, const char *method, const char *path, const char *body,
                   long want_status)
{
    char u[256];
    snprintf(u, sizeof u, "%s%s", base, path);
    su_resp r;
    assert_int_equal(su_http(method, u, body, NULL, 10, &r), 0);
    if (r.status != want_status)
        fail_msg("%s %s: HTTP %ld, expected %ld: %s", method, path, r.status, want_status, r.body.data);
    cJSON *j = su_json(&r);
    if (want_status >= 400) {
        const cJSON *e = cJSON_GetObjectItem(j, "error");
        assert_true(cJSON_IsString(e) && strlen(e->valuestring) > 0);
    }
    eef_buf_free(&r.body);
    return j;
}

static void test_http_api(void **state)
{
    (void)state;
    eef_env *loc = NULL;
    assert_ok(eef_env_open("shop", NULL, 1, &loc));
    char base[64];
    eef_server *s = serve(loc, EEF_API_WEBSHOP, 8, 60, base, sizeof base);
    cJSON *j = call(base, "GET", "/", NULL, 200);
    assert_string_equal(j->valuestring, "ok");
    cJSON_Delete(j);
    j = call(base, "POST", "/create", NULL, 200);
    assert_true(cJSON_IsNumber(j)); /* WebShop's server answers a bare id */
    long id = (long)j->valuedouble;
    cJSON_Delete(j);
    char b[256];
    snprintf(b, sizeof b, "{\"env_idx\":%ld,\"action\":\"search[x]\"}", id);
    cJSON_Delete(call(base, "POST", "/step", b, 400)); /* no task yet */
    snprintf(b, sizeof b, "{\"env_idx\":%ld,\"session_id\":2}", id);
    j = call(base, "POST", "/reset", b, 200);
    assert_true(cJSON_IsArray(j) && cJSON_IsString(cJSON_GetArrayItem(j, 0)) &&
                cJSON_IsNull(cJSON_GetArrayItem(j, 1)));
    cJSON_Delete(j);
    snprintf(b, sizeof b, "/available_actions?env_idx=%ld", id);
    j = call(base, "GET", b, NULL, 200);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "has_search_bar")));
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "clickables"), 0)->valuestring, "search");
    cJSON_Delete(j);
    snprintf(b, sizeof b, "{\"env_idx\":%ld,\"action\":\"search[blue shirt]\"}", id);
    j = call(base, "POST", "/step", b, 200);
    assert_true(cJSON_IsString(cJSON_GetObjectItem(j, "state")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(j, "reward")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "done")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "info")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "valid")));
    cJSON_Delete(j);
    snprintf(b, sizeof b, "/instruction_text?env_idx=%ld", id);
    j = call(base, "GET", b, NULL, 200);
    assert_true(strncmp(j->valuestring, "Instruction: ", 13) == 0);
    cJSON_Delete(j);
    /* errors: {"error": ...} with a status */
    cJSON_Delete(call(base, "POST", "/step", "{\"env_idx\": 9999, \"action\": \"x\"}", 404));
    cJSON_Delete(call(base, "POST", "/step", "{\"env_idx\": 0, \"action\": 5}", 400));
    cJSON_Delete(call(base, "POST", "/step", "{not json", 400));
    cJSON_Delete(call(base, "POST", "/step", "[1]", 400));
    cJSON_Delete(call(base, "POST", "/reset", "{\"env_idx\": 0}", 400));
    snprintf(b, sizeof b, "{\"env_idx\":%ld,\"session_id\":999999}", id);
    cJSON_Delete(call(base, "POST", "/reset", b, 400));
    cJSON_Delete(call(base, "POST", "/reset", "{\"env_idx\": \"zero\", \"session_id\": 1}", 400));
    cJSON_Delete(call(base, "GET", "/observation", NULL, 400));
    cJSON_Delete(call(base, "GET", "/nowhere", NULL, 404));
    cJSON_Delete(call(base, "GET", "/step", NULL, 405));
    cJSON_Delete(call(base, "GET", "/eef/task?data_idx=-1", NULL, 404));
    j = call(base, "GET", "/eef/info", NULL, 200);
    assert_string_equal(cJSON_GetObjectItem(j, "api")->valuestring, "webshop");
    assert_int_equal(cJSON_GetObjectItem(j, "sessions")->valueint, 1);
    cJSON_Delete(j);
    snprintf(b, sizeof b, "{\"env_idx\":%ld}", id);
    j = call(base, "POST", "/close", b, 200);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "closed")));
    cJSON_Delete(j);
    j = call(base, "POST", "/close", b, 200);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "closed")));
    cJSON_Delete(j);
    eef_server_stop(s);

    /* ALFWorld's dialect */
    eef_env *house = NULL;
    assert_ok(eef_env_open("house", NULL, 1, &house));
    s = serve(house, EEF_API_ALFWORLD, 8, 60, base, sizeof base);
    j = call(base, "POST", "/create", NULL, 200);
    id = (long)cJSON_GetObjectItem(j, "id")->valuedouble;
    cJSON_Delete(j);
    snprintf(b, sizeof b, "{\"id\":%ld,\"game\":3,\"world_type\":\"Text\"}", id);
    j = call(base, "POST", "/reset", b, 200);
    assert_true(cJSON_IsString(cJSON_GetObjectItem(j, "observation")));
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(j, "available_actions")) > 0);
    assert_true(cJSON_IsString(cJSON_GetObjectItem(j, "task_type")));
    char first[256];
    snprintf(first, sizeof first, "%s",
             cJSON_GetArrayItem(cJSON_GetObjectItem(j, "available_actions"), 0)->valuestring);
    cJSON_Delete(j);
    cJSON *st = cJSON_CreateObject();
    cJSON_AddNumberToObject(st, "id", (double)id);
    cJSON_AddStringToObject(st, "action", first);
    char *sb = cJSON_PrintUnformatted(st);
    cJSON_Delete(st);
    j = call(base, "POST", "/step", sb, 200);
    free(sb);
    assert_true(cJSON_IsString(cJSON_GetObjectItem(j, "observation")));
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(j, "available_actions")));
    assert_true(cJSON_IsBool(cJSON_GetObjectItem(j, "done")));
    cJSON_Delete(j);
    snprintf(b, sizeof b, "/available_actions?id=%ld", id);
    j = call(base, "GET", b, NULL, 200);
    assert_true(cJSON_IsArray(j));
    cJSON_Delete(j);
    snprintf(b, sizeof b, "/detail?id=%ld", id);
    j = call(base, "GET", b, NULL, 200);
    assert_int_equal(cJSON_GetObjectItem(j, "steps")->valueint, 1);
    cJSON_Delete(j);
    eef_server_stop(s);
    eef_env_close(house);
    eef_env_close(loc);
}

/* ------------------------------------------------------------ options and failures */
static void test_remote_options(void **state)
{
    (void)state;
    eef_env *env = NULL;
    assert_int_equal(eef_env_open("remote:ftp://x", NULL, 0, &env), EEF_EINVAL);
    eef_env *loc = fake_env_open();
    char base[64], name[96];
    eef_server *s = serve(loc, EEF_API_WEBSHOP, 8, 60, base, sizeof base);
    snprintf(name, sizeof name, "remote:%s/", base); /* a trailing slash is fine */
    assert_ok(eef_env_open(name, NULL, 0, &env));
    eef_env_close(env);
    const char *bad[] = { "colour=blue", "train=5", "train=9-3", "timeout=0", "api=soap",
                          "eef=0", "eef=0,train=0-3" };
    for (size_t i = 0; i < EEF_ARRAY_LEN(bad); i++) {
        assert_int_equal(eef_env_open(name, bad[i], 0, &env), EEF_EINVAL);
        assert_null(env);
    }
    assert_int_equal(eef_env_open(name, "eef=0", 0, &env), EEF_EINVAL);
    assert_non_null(strstr(eef_errmsg(), "train=0-1499,test=1500-1999"));
    /* an explicit range overrides the server's */
    assert_ok(eef_env_open(name, "train=5-9,test=20-21", 0, &env));
    assert_int_equal(env->ops->n_tasks(env, EEF_SPLIT_TRAIN), 5);
    eef_task t;
    assert_ok(env->ops->task(env, EEF_SPLIT_TRAIN, 0, &t));
    assert_string_equal(t.id, "fake-train-5");
    assert_ok(env->ops->task(env, EEF_SPLIT_TEST, 1, &t));
    assert_string_equal(t.id, "fake-test-1"); /* data index 21 = test task 1 */
    assert_int_equal(env->ops->task(env, EEF_SPLIT_TRAIN, 5, &t), EEF_EINVAL);
    eef_env_close(env);
    eef_server_stop(s);
    /* nobody listening: a quick, clear error */
    double t0 = eef_now();
    assert_int_equal(eef_env_open(name, "retries=2,backoff=0.01", 0, &env), EEF_ENET);
    assert_true(eef_now() - t0 < 5);
    assert_non_null(strstr(eef_errmsg(), base));
    assert_non_null(strstr(eef_errmsg(), "3 attempts"));
    eef_env_close(loc);
}

static void test_server_killed_mid_episode(void **state)
{
    (void)state;
    char *argv[] = { (char *)tu_eef(), "env-serve", "--env", "shop", "--port", "0", NULL };
    for (int hang = 0; hang < 2; hang++) {
        su_child c;
        su_child_start(&c, argv);
        char base[64];
        snprintf(base, sizeof base, "http://127.0.0.1:%d", c.port);
        eef_env *rem = remote(base, "timeout=1,retries=2,backoff=0.05");
        eef_episode *ep;
        eef_step st;
        assert_ok(rem->ops->episode_open(rem, &ep));
        assert_ok(rem->ops->reset(ep, EEF_SPLIT_TRAIN, 0, &st));
        assert_ok(rem->ops->step(ep, "search[outdoor speaker]", &st));
        assert_false(st.done);
        if (hang) { /* alive but silent */
            int ws;
            kill(c.pid, SIGSTOP);
            waitpid(c.pid, &ws, WUNTRACED); /* until it has stopped */
        } else {
            su_child_stop(&c, SIGKILL);
        }
        /* the results are checked after the child is gone (an assertion
         * must not leave a stopped server behind) */
        double t0 = eef_now();
        eef_err e_step = rem->ops->step(ep, "click[Next >]", &st);
        double dt_step = eef_now() - t0;
        char msg[512];
        snprintf(msg, sizeof msg, "%s", eef_errmsg());
        eef_actions a = { 0 };
        t0 = eef_now();
        eef_err e_act = rem->ops->actions(ep, &a);
        double dt_act = eef_now() - t0;
        eef_actions_free(&a);
        if (hang) {
            kill(c.pid, SIGCONT);
            su_child_stop(&c, SIGKILL);
        }
        rem->ops->episode_close(ep);
        eef_env_close(rem);
        if (e_step != EEF_ENET) fail_msg("hang=%d: step gave %d: %s", hang, e_step, msg);
        assert_non_null(strstr(msg, base));
        assert_non_null(strstr(msg, "/step"));
        /* a step is never repeated once it may have arrived: one timeout */
        assert_true(dt_step < (hang ? 2.5 : 1.5));
        assert_int_equal(e_act, EEF_ENET);
        assert_true(dt_act < (hang ? 4.5 : 1.5)); /* 3 attempts of at most 1 s */
    }
}

static void test_cli_env_serve(void **state)
{
    (void)state;
    char *argv[] = { (char *)tu_eef(), "env-serve", "--env", "house", "--port", "0",
                     "--max-sessions", "4", NULL };
    su_child c;
    su_child_start(&c, argv);
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", c.port);
    eef_env *rem = remote(base, NULL);
    eef_env *loc = NULL;
    assert_ok(eef_env_open("house", NULL, 1, &loc));
    assert_int_equal(rem->ops->n_tasks(rem, EEF_SPLIT_TEST), loc->ops->n_tasks(loc, EEF_SPLIT_TEST));
    eef_episode *a, *b;
    assert_ok(loc->ops->episode_open(loc, &a));
    assert_ok(rem->ops->episode_open(rem, &b));
    eef_strlist acts = { 0 };
    assert_ok(eef_house_oracle(loc, EEF_SPLIT_TEST, 2, &acts));
    lockstep(a, b, EEF_SPLIT_TEST, 2, (const char *const *)acts.items, acts.n);
    eef_strlist_free(&acts);
    loc->ops->episode_close(a);
    rem->ops->episode_close(b);
    eef_env_close(rem);
    eef_env_close(loc);
    int st = su_child_stop(&c, SIGTERM);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s env-serve --env nowhere --port 0 2>/dev/null", tu_eef());
    assert_int_equal(WEXITSTATUS(system(cmd)), 1);
    snprintf(cmd, sizeof cmd, "%s env-serve --api soap --port 0 2>/dev/null", tu_eef());
    assert_int_equal(WEXITSTATUS(system(cmd)), 1);
    snprintf(cmd, sizeof cmd, "%s env-serve --port 70000 2>/dev/null", tu_eef());
    assert_int_equal(WEXITSTATUS(system(cmd)), 2);
}

int main(void)
{
    eef_log_set_level(EEF_LOG_WARN);
    eef_progress_set_quiet(1);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fake_equal_all_dialects),
        cmocka_unit_test(test_shop_equal),
        cmocka_unit_test(test_house_equal),
        cmocka_unit_test(test_expert_rollouts_equal),
        cmocka_unit_test(test_many_concurrent_sessions),
        cmocka_unit_test(test_session_limit_and_expiry),
        cmocka_unit_test(test_http_api),
        cmocka_unit_test(test_remote_options),
        cmocka_unit_test(test_server_killed_mid_episode),
        cmocka_unit_test(test_cli_env_serve),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}

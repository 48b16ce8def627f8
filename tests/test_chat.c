/* Tests of the chat-endpoint expert (src/agent/chat.c): against a
 * scripted fake OpenAI server (request layout, reading the action out of
 * ReAct replies, retries with backoff, timeouts, unreachable servers) and
 * against `eef serve` over real HTTP, where every action must be the
 * server model's greedy reply to eef's own prompt. */
#include "test_serve_util.h"

#include <microhttpd.h>
#include <pthread.h>
#include <strings.h>

#include "serve/serve.h"

/* ------------------------------------------------------------ a scripted server */
typedef struct {
    unsigned status;
    const char *content; /* the reply's message content (status 200), or an error body */
    int delay_ms;
} scripted;

typedef struct {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t mu;
    const scripted *script;
    int n_script, next;
    int requests;
    char last_body[16384];
    char last_auth[128];
} fake_server;

typedef struct {
    eef_buf body;
} fake_conn;

static enum MHD_Result fake_handler(void *cls, struct MHD_Connection *c, const char *url,
                                    const char *method, const char *version, const char *up,
                                    size_t *up_size, void **con_cls)
{
    (void)url, (void)method, (void)version;
    fake_server *f = cls;
    fake_conn *fc = *con_cls;
    if (!fc) {
        fc = calloc(1, sizeof *fc);
        eef_buf_init(&fc->body);
        *con_cls = fc;
        return MHD_YES;
    }
    if (*up_size) {
        eef_buf_append(&fc->body, up, *up_size);
        *up_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&f->mu);
    int k = f->next < f->n_script ? f->next : f->n_script - 1;
    f->next++;
    f->requests++;
    snprintf(f->last_body, sizeof f->last_body, "%s", fc->body.data ? fc->body.data : "");
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    snprintf(f->last_auth, sizeof f->last_auth, "%s", auth ? auth : "");
    scripted s = f->script[k];
    pthread_mutex_unlock(&f->mu);
    if (s.delay_ms) usleep((useconds_t)s.delay_ms * 1000);
    char *text;
    if (s.status == 200) {
        cJSON *r = cJSON_CreateObject(), *ch = cJSON_AddArrayToObject(r, "choices");
        cJSON *c0 = cJSON_CreateObject(), *m = cJSON_AddObjectToObject(c0, "message");
        cJSON_AddStringToObject(m, "role", "assistant");
        cJSON_AddStringToObject(m, "content", s.content);
        cJSON_AddItemToArray(ch, c0);
        text = cJSON_PrintUnformatted(r);
        cJSON_Delete(r);
    } else {
        text = strdup(s.content);
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result ok = MHD_queue_response(c, s.status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static void fake_done(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode why)
{
    (void)cls, (void)c, (void)why;
    fake_conn *fc = *con_cls;
    if (fc) eef_buf_free(&fc->body);
    free(fc);
    *con_cls = NULL;
}

static void fake_start(fake_server *f, const scripted *script, int n)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    f->script = script;
    f->n_script = n;
    f->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                            NULL, NULL, fake_handler, f, MHD_OPTION_NOTIFY_COMPLETED, fake_done,
                            NULL, MHD_OPTION_END);
    assert_non_null(f->d);
    f->port = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT)->port;
}

static void fake_stop(fake_server *f)
{
    MHD_stop_daemon(f->d);
    pthread_mutex_destroy(&f->mu);
}

/* ------------------------------------------------------------ one act */
typedef struct {
    eef_task task;
    const char *obs[3];
    const char *acts[2];
    size_t n;
    eef_actions valid;
} ctx_fixture;

static void fixture(ctx_fixture *x)
{
    memset(x, 0, sizeof *x);
    x->task = (eef_task){ .id = "t-0", .instruction = "reach 4" };
    x->obs[0] = "Task: reach 4. Value: 0. Step 0.";
    x->obs[1] = "Task: reach 4. Value: 1. Step 1.";
    x->obs[2] = "Task: reach 4. Value: 2. Step 2.";
    x->acts[0] = "click[inc]";
    x->acts[1] = "click[inc]";
    x->n = 2;
    eef_strlist_push(&x->valid.items, "click[inc]");
    eef_strlist_push(&x->valid.items, "click[dec]");
    eef_strlist_push(&x->valid.items, "click[B0BLUE]");
    x->valid.free_prefix = "search[";
    x->valid.free_suffix = "]";
}

/* Opens the expert on `url` with options, acts once on the fixture. */
static eef_err act_once(const char *url, const char *opts, const char *key_env, ctx_fixture *x,
                        eef_buf *action)
{
    eef_policy *p;
    eef_err e = eef_chat_expert_open(url, "test-model", key_env, opts, &p);
    if (e) return e;
    eef_actor *a;
    assert_ok(p->ops->actor_open(p, &a));
    eef_context ctx = { .task = &x->task, .episode = 1, .obs = x->obs, .acts = x->acts, .n = x->n,
                        .valid = &x->valid };
    eef_rng rng = eef_rng_make(5);
    e = p->ops->act(a, &ctx, &rng, action);
    p->ops->actor_close(a);
    eef_policy_close(p);
    return e;
}

/* The action the expert takes when the server replies `reply`, on the
 * fixture; with on_page, the current observation is a results page of two
 * products whose clicks are valid too. */
static void expect_action(const char *reply, int on_page, const char *want)
{
    scripted s[] = { { 200, reply, 0 } };
    fake_server f;
    fake_start(&f, s, 1);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", f.port);
    ctx_fixture x;
    fixture(&x);
    if (on_page) {
        x.obs[2] = "Page 1 [SEP] B0BLUE1234 [SEP] Blue Mug [SEP] B0REDD5678 [SEP] Red Mug";
        eef_strlist_push(&x.valid.items, "click[B0BLUE1234]");
        eef_strlist_push(&x.valid.items, "click[B0REDD5678]");
    }
    eef_buf action;
    eef_buf_init(&action);
    assert_ok(act_once(url, NULL, NULL, &x, &action));
    assert_string_equal(action.data, want);
    eef_buf_free(&action);
    eef_actions_free(&x.valid);
    fake_stop(&f);
}

static void test_action_parsing(void **state)
{
    (void)state;
    struct {
        const char *reply, *want;
    } cases[] = {
        { "Thought: the value is low.\nAction: click[inc]", "click[inc]" },
        { "Thought:\nI need more.\n\nAction:\nsearch[blue shirt]\n", "search[blue shirt]" },
        { "Action: click[dec]\nThought: no wait\nAction: click[inc]", "click[inc]" },
        { "I will search.\naction: `search[red mug]`", "search[red mug]" },
        { "  click[b0blue]  ", "click[B0BLUE]" }, /* letter case mapped to the valid action */
        { "Action: click[inc]</s>", "click[inc]" },
        { "\"click[dec]\"", "click[dec]" },
        { "Action: click inc", "click[inc]" },      /* eef's rendering of actions */
        { "click b0blue", "click[B0BLUE]" },
        { "search  red mug ", "search[red mug]" }, /* the free slot, rendered */
        { "search", "search" },                    /* an empty slot: left as it is */
        { "go north", "go north" }, /* not valid: passed on as it is */
    };
    for (size_t i = 0; i < EEF_ARRAY_LEN(cases); i++)
        expect_action(cases[i].reply, 0, cases[i].want);
    /* a product named by its rank on the current page, as an eef agent
     * writes it: the page's second id; there is no third */
    expect_action("click #2", 1, "click[B0REDD5678]");
    expect_action("click #3", 1, "click #3");
}

static const cJSON *msg_at(const cJSON *req, int i)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItem(req, "messages"), i);
}

static const char *msg_field(const cJSON *req, int i, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(msg_at(req, i), key);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

static void test_request_layout(void **state)
{
    (void)state;
    scripted s[] = { { 200, "Action: click[inc]", 0 } };
    fake_server f;
    fake_start(&f, s, 1);
    char url[80];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", f.port); /* ".../v1" works too */
    ctx_fixture x;
    fixture(&x);
    eef_buf action;
    eef_buf_init(&action);
    setenv("EEF_CHAT_TEST_KEY", "abc", 1);
    assert_ok(act_once(url, "temperature=0.5,max_tokens=77", "EEF_CHAT_TEST_KEY", &x, &action));
    cJSON *req = cJSON_Parse(f.last_body);
    assert_non_null(req);
    assert_string_equal(f.last_auth, "Bearer abc");
    assert_string_equal(cJSON_GetObjectItem(req, "model")->valuestring, "test-model");
    assert_true(cJSON_GetObjectItem(req, "temperature")->valuedouble == 0.5);
    assert_int_equal(cJSON_GetObjectItem(req, "max_tokens")->valueint, 77);
    const cJSON *seed = cJSON_GetObjectItem(req, "seed");
    assert_true(cJSON_IsNumber(seed) && seed->valuedouble >= 0 && seed->valuedouble < 2147483648.0);
    /* react: rules, then instruction + first observation, actions as "Action: ..." */
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(req, "messages")), 6);
    const char *roles[] = { "system", "user", "assistant", "user", "assistant", "user" };
    for (int i = 0; i < 6; i++) assert_string_equal(msg_field(req, i, "role"), roles[i]);
    assert_non_null(strstr(msg_field(req, 0, "content"), "Action:"));
    assert_string_equal(msg_field(req, 1, "content"),
                        "Instruction: reach 4\n\nObservation: Task: reach 4. Value: 0. Step 0.");
    assert_string_equal(msg_field(req, 2, "content"), "Action: click[inc]");
    assert_string_equal(msg_field(req, 5, "content"),
                        "Observation: Task: reach 4. Value: 2. Step 2.\n\nValid actions: "
                        "click[inc], click[dec], click[B0BLUE], or search[...]");
    cJSON_Delete(req);
    /* plain: the instruction as system, observations and actions as they are;
     * history=1 keeps the last step's observation only */
    assert_ok(act_once(url, "prompt=plain,history=1,seed=0", NULL, &x, &action));
    req = cJSON_Parse(f.last_body);
    assert_null(cJSON_GetObjectItem(req, "seed"));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(req, "messages")), 6);
    assert_string_equal(msg_field(req, 0, "content"), "reach 4");
    assert_string_equal(msg_field(req, 1, "content"), "...");
    assert_string_equal(msg_field(req, 2, "content"), "click[inc]");
    assert_string_equal(msg_field(req, 3, "content"), "Task: reach 4. Value: 1. Step 1.");
    assert_string_equal(msg_field(req, 5, "content"), "Task: reach 4. Value: 2. Step 2.");
    cJSON_Delete(req);
    eef_buf_free(&action);
    eef_actions_free(&x.valid);
    fake_stop(&f);
    /* bad options and URLs */
    eef_policy *p;
    assert_int_equal(eef_chat_expert_open(url, "m", NULL, "prompt=poem", &p), EEF_EINVAL);
    assert_int_equal(eef_chat_expert_open(url, "m", NULL, "colour=1", &p), EEF_EINVAL);
    assert_int_equal(eef_chat_expert_open("localhost:80", "m", NULL, NULL, &p), EEF_EINVAL);
    unsetenv("EEF_CHAT_NO_SUCH_KEY");
    assert_int_equal(eef_chat_expert_open(url, "m", "EEF_CHAT_NO_SUCH_KEY", NULL, &p), EEF_EINVAL);
}

static void test_retries_and_failures(void **state)
{
    (void)state;
    ctx_fixture x;
    fixture(&x);
    eef_buf action;
    eef_buf_init(&action);
    char url[64];
    /* 503, 429, 500 then a reply: retried with backoff 0.05, 0.1, 0.2 */
    scripted flaky[] = { { 503, "{\"error\":{\"message\":\"busy\"}}", 0 },
                         { 429, "{\"error\":{\"message\":\"slow down\"}}", 0 },
                         { 500, "oops", 0 },
                         { 200, "Action: click[dec]", 0 } };
    fake_server f;
    fake_start(&f, flaky, 4);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", f.port);
    double t0 = eef_now();
    assert_ok(act_once(url, "backoff=0.05,retries=4", NULL, &x, &action));
    assert_true(eef_now() - t0 >= 0.33);
    assert_string_equal(action.data, "click[dec]");
    assert_int_equal(f.requests, 4);
    fake_stop(&f);
    /* too few retries: the last error is reported */
    fake_start(&f, flaky, 4);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", f.port);
    assert_int_equal(act_once(url, "backoff=0.01,retries=1", NULL, &x, &action), EEF_ENET);
    assert_non_null(strstr(eef_errmsg(), "HTTP 429: slow down"));
    assert_non_null(strstr(eef_errmsg(), "2 attempts"));
    fake_stop(&f);
    /* a client error is not retried */
    scripted refused[] = { { 400, "{\"error\":{\"message\":\"bad messages\"}}", 0 } };
    fake_start(&f, refused, 1);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", f.port);
    assert_int_equal(act_once(url, "backoff=0.01", NULL, &x, &action), EEF_ENET);
    assert_non_null(strstr(eef_errmsg(), "bad messages"));
    assert_int_equal(f.requests, 1);
    fake_stop(&f);
    /* a server too slow: each attempt times out */
    scripted slow[] = { { 200, "Action: click[inc]", 1500 } };
    fake_start(&f, slow, 1);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", f.port);
    t0 = eef_now();
    assert_int_equal(act_once(url, "timeout=0.2,retries=1,backoff=0.01", NULL, &x, &action), EEF_ENET);
    assert_true(eef_now() - t0 < 1.2);
    assert_non_null(strstr(eef_errmsg(), url));
    fake_stop(&f);
    /* nobody listening (the port just freed) */
    t0 = eef_now();
    assert_int_equal(act_once(url, "retries=2,backoff=0.01", NULL, &x, &action), EEF_ENET);
    assert_true(eef_now() - t0 < 2);
    assert_non_null(strstr(eef_errmsg(), "3 attempts"));
    eef_buf_free(&action);
    eef_actions_free(&x.valid);
}

/* ------------------------------------------------------------ against eef serve */
static void test_against_eef_serve(void **state)
{
    (void)state;
    eef_progress_set_quiet(1);
    eef_model *m = su_model("tiny", 8);
    eef_chat_server_config c;
    eef_chat_server_defaults(&c);
    c.port = 0;
    c.workers = 2;
    c.api_key = "k9";
    eef_server *s;
    assert_ok(eef_chat_server_start(m, &c, &s));
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", eef_server_port(s));
    setenv("EEF_CHAT_TEST_KEY2", "k9", 1);
    eef_env *env = fake_env_open();
    eef_policy *p;
    assert_ok(eef_chat_expert_open(url, "eef", "EEF_CHAT_TEST_KEY2",
                                   "prompt=plain,temperature=0,max_tokens=12", &p));
    /* each action is the server model's greedy reply to eef's prompt of
     * the episode so far: client and server agree on the format */
    eef_episode *ep;
    eef_actor *actor;
    assert_ok(env->ops->episode_open(env, &ep));
    assert_ok(p->ops->actor_open(p, &actor));
    eef_rollout_spec spec = { .split = EEF_SPLIT_TRAIN, .index = 2, .key = 77 };
    eef_traj t;
    assert_ok(eef_rollout(ep, actor, &spec, &t));
    assert_int_equal(t.n_steps, (size_t)env->max_steps); /* random replies never finish */
    const char *obs[16], *acts[16];
    int checked = 0;
    for (size_t i = 0; i < t.n_steps; i++) {
        obs[i] = t.steps[i].obs;
        eef_buf want;
        eef_buf_init(&want);
        su_ref_greedy(m, t.instruction, obs, i + 1, acts, i, 12, &want);
        const char *w = want.data;
        size_t n = want.len;
        while (n && strchr(" \t\r\n", *w)) w++, n--;
        while (n && strchr(" \t\r\n", w[n - 1])) n--;
        /* replies that the action reader would reshape are not compared */
        int plain = !memchr(w, '\n', n) && !strstr(w, "ction:") && !(n && strchr("`\"'", w[0])) &&
                    !(n >= 6 && (strncasecmp(w, "search", 6) == 0 || strncasecmp(w, "click ", 6) == 0));
        if (plain) {
            assert_int_equal(strlen(t.steps[i].action), n);
            assert_memory_equal(t.steps[i].action, w, n);
            checked++;
        }
        acts[i] = t.steps[i].action;
        eef_buf_free(&want);
    }
    assert_true(checked >= 5);
    eef_traj_free(&t);
    p->ops->actor_close(actor);
    env->ops->episode_close(ep);
    eef_policy_close(p);

    /* sampled, with the rollout's seeds: a batch over threads equals the same
     * rollouts one by one */
    assert_ok(eef_chat_expert_open(url, "eef", "EEF_CHAT_TEST_KEY2",
                                   "prompt=react,temperature=0.8,max_tokens=12", &p));
    enum { N = 6 };
    eef_rollout_spec specs[N];
    eef_traj a[N], b[N];
    for (int i = 0; i < N; i++)
        specs[i] = (eef_rollout_spec){ .split = EEF_SPLIT_TRAIN, .index = (size_t)i, .key = 100 + (uint64_t)i };
    assert_ok(eef_rollout_batch(env, p, specs, N, NULL, a));
    for (int i = 0; i < N; i++) assert_ok(eef_rollout_batch(env, p, &specs[i], 1, NULL, &b[i]));
    for (int i = 0; i < N; i++) {
        assert_int_equal(a[i].n_steps, b[i].n_steps);
        for (size_t k = 0; k < a[i].n_steps; k++)
            assert_string_equal(a[i].steps[k].action, b[i].steps[k].action);
        eef_traj_free(&a[i]);
        eef_traj_free(&b[i]);
    }
    eef_policy_close(p);
    /* a wrong key: 401, reported at once (not retried) */
    setenv("EEF_CHAT_TEST_KEY3", "wrong", 1);
    assert_ok(eef_chat_expert_open(url, "eef", "EEF_CHAT_TEST_KEY3", "backoff=1", &p));
    eef_traj bad;
    double t0 = eef_now();
    assert_int_equal(eef_rollout_batch(env, p, specs, 1, NULL, &bad), EEF_ENET);
    assert_true(eef_now() - t0 < 0.9);
    assert_non_null(strstr(eef_errmsg(), "HTTP 401"));
    eef_policy_close(p);
    eef_env_close(env);
    eef_server_stop(s);
    eef_model_free(m);
}

int main(void)
{
    eef_log_set_level(EEF_LOG_WARN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_action_parsing),
        cmocka_unit_test(test_request_layout),
        cmocka_unit_test(test_retries_and_failures),
        cmocka_unit_test(test_against_eef_serve),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}

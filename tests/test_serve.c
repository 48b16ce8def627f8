/* Tests of `eef serve` (src/serve chat server) over real HTTP on loopback:
 * replies equal to a local generation from eef's prompt, streaming equal
 * to plain, stop strings, malformed requests, API keys, concurrency,
 * overload, cancellation, shutdown, and the CLI as a child process. */
#include "test_serve_util.h"

#include <pthread.h>
#include <stdatomic.h>

#include "agent/policy.h"
#include "serve/serve.h"

static eef_model *g_model;   /* tiny random model */
static eef_server *g_server; /* 2 workers */
static char g_base[64];

static int setup(void **state)
{
    (void)state;
    eef_log_set_level(EEF_LOG_WARN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    g_model = su_model("tiny", 3);
    eef_chat_server_config c;
    eef_chat_server_defaults(&c);
    c.port = 0;
    c.workers = 2;
    c.model_name = "tiny-eef";
    c.max_body = 64 << 10;
    if (eef_chat_server_start(g_model, &c, &g_server)) return -1;
    snprintf(g_base, sizeof g_base, "http://127.0.0.1:%d", eef_server_port(g_server));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    eef_server_stop(g_server);
    eef_model_free(g_model);
    curl_global_cleanup();
    return 0;
}

static char *url(const char *base, const char *path)
{
    static __thread char u[256];
    snprintf(u, sizeof u, "%s%s", base, path);
    return u;
}

/* ------------------------------------------------------------ request helpers */
static const char *k_instr = "find a blue shirt, and price lower than 30.00 dollars";
static const char *k_obs[] = {
    "WebShop [SEP] Instruction: [SEP] find a blue shirt, and price lower than 30.00 dollars [SEP] Search",
    "Instruction: [SEP] find a blue shirt, and price lower than 30.00 dollars [SEP] Back to Search "
    "[SEP] Page 1 (Total results: 50) [SEP] Next > [SEP] B0BLUE [SEP] Blue Shirt [SEP] $12.99",
};
static const char *k_acts[] = { "search[blue shirt]" };

/* A request body: the standard conversation plus extra fields (a JSON
 * object text merged in, or NULL). */
static char *body_with(const char *extra)
{
    cJSON *r = extra ? cJSON_Parse(extra) : cJSON_CreateObject();
    assert_non_null(r);
    cJSON *msgs = cJSON_AddArrayToObject(r, "messages");
    const char *roles[] = { "system", "user", "assistant", "user" };
    const char *texts[] = { k_instr, k_obs[0], k_acts[0], k_obs[1] };
    for (int i = 0; i < 4; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "role", roles[i]);
        cJSON_AddStringToObject(m, "content", texts[i]);
        cJSON_AddItemToArray(msgs, m);
    }
    if (!cJSON_GetObjectItem(r, "model")) cJSON_AddStringToObject(r, "model", "tiny-eef");
    char *s = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    return s;
}

/* POSTs a plain request; returns the reply text (malloc'd) and its finish reason. */
static char *complete(const char *base, const char *body, char *finish, size_t cap,
                      const char *header)
{
    su_resp r;
    assert_int_equal(su_http("POST", url(base, "/v1/chat/completions"), body, header, 60, &r), 0);
    if (r.status != 200) fail_msg("HTTP %ld: %s", r.status, r.body.data);
    assert_non_null(strstr(r.content_type, "application/json"));
    cJSON *j = su_json(&r);
    assert_string_equal(cJSON_GetObjectItem(j, "object")->valuestring, "chat.completion");
    assert_true(strncmp(cJSON_GetObjectItem(j, "id")->valuestring, "chatcmpl-", 9) == 0);
    const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
    assert_int_equal(cJSON_GetObjectItem(ch, "index")->valueint, 0);
    const cJSON *msg = cJSON_GetObjectItem(ch, "message");
    assert_string_equal(cJSON_GetObjectItem(msg, "role")->valuestring, "assistant");
    const cJSON *content = cJSON_GetObjectItem(msg, "content");
    assert_true(cJSON_IsString(content));
    const cJSON *fr = cJSON_GetObjectItem(ch, "finish_reason");
    assert_true(cJSON_IsString(fr));
    if (finish) snprintf(finish, cap, "%s", fr->valuestring);
    const cJSON *u = cJSON_GetObjectItem(j, "usage");
    assert_int_equal(cJSON_GetObjectItem(u, "total_tokens")->valueint,
                     cJSON_GetObjectItem(u, "prompt_tokens")->valueint +
                         cJSON_GetObjectItem(u, "completion_tokens")->valueint);
    char *out = strdup(content->valuestring);
    cJSON_Delete(j);
    eef_buf_free(&r.body);
    return out;
}

/* ------------------------------------------------------------ tests */
static void test_models(void **state)
{
    (void)state;
    su_resp r;
    assert_int_equal(su_http("GET", url(g_base, "/v1/models"), NULL, NULL, 10, &r), 0);
    assert_int_equal(r.status, 200);
    cJSON *j = su_json(&r);
    assert_string_equal(cJSON_GetObjectItem(j, "object")->valuestring, "list");
    const cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "data"), 0);
    assert_string_equal(cJSON_GetObjectItem(m, "id")->valuestring, "tiny-eef");
    assert_string_equal(cJSON_GetObjectItem(m, "object")->valuestring, "model");
    cJSON_Delete(j);
    eef_buf_free(&r.body);
    assert_int_equal(su_http("GET", url(g_base, "/v1/models/tiny-eef"), NULL, NULL, 10, &r), 0);
    assert_int_equal(r.status, 200);
    eef_buf_free(&r.body);
    assert_int_equal(su_http("GET", url(g_base, "/v1/models/gpt-9"), NULL, NULL, 10, &r), 0);
    su_expect_openai_error(&r, 404, "invalid_request_error");
    eef_buf_free(&r.body);
}

static void test_plain_matches_local_prompt(void **state)
{
    (void)state;
    char *body = body_with("{\"temperature\": 0, \"max_tokens\": 40}");
    char finish[16];
    char *got = complete(g_base, body, finish, sizeof finish, NULL);
    eef_buf want;
    eef_buf_init(&want);
    su_ref_greedy(g_model, k_instr, k_obs, 2, k_acts, 1, 40, &want);
    assert_string_equal(got, want.data);
    assert_true(strcmp(finish, "stop") == 0 || strcmp(finish, "length") == 0);
    free(got);
    free(body);
    /* a single user message is the instruction; the reply follows an empty observation */
    const char *one = "{\"messages\":[{\"role\":\"user\",\"content\":\"find a blue shirt\"}],"
                      "\"temperature\":0,\"max_tokens\":12}";
    got = complete(g_base, one, NULL, 0, NULL);
    const char *empty[] = { "" };
    su_ref_greedy(g_model, "find a blue shirt", empty, 1, NULL, 0, 12, &want);
    assert_string_equal(got, want.data);
    free(got);
    eef_buf_free(&want);
}

static void test_seeded_sampling_is_deterministic(void **state)
{
    (void)state;
    char *b1 = body_with("{\"temperature\": 1.0, \"top_p\": 0.9, \"seed\": 42, \"max_tokens\": 30}");
    char *a = complete(g_base, b1, NULL, 0, NULL);
    char *b = complete(g_base, b1, NULL, 0, NULL);
    assert_string_equal(a, b);
    int differs = 0;
    for (int s = 1; s <= 4 && !differs; s++) {
        char extra[128];
        snprintf(extra, sizeof extra, "{\"temperature\": 1.0, \"seed\": %d, \"max_tokens\": 30}", 100 + s);
        char *bs = body_with(extra);
        char *c = complete(g_base, bs, NULL, 0, NULL);
        differs = strcmp(a, c) != 0;
        free(c);
        free(bs);
    }
    assert_true(differs);
    free(a);
    free(b);
    free(b1);
}

/* Parses an SSE body: the concatenated delta contents, the finish reason,
 * whether a usage chunk came, and checks the framing. */
static char *parse_stream(const su_resp *r, char *finish, size_t cap, int *usage)
{
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->content_type, "text/event-stream"));
    eef_buf text;
    eef_buf_init(&text);
    eef_buf_puts(&text, "");
    int events = 0, done = 0, saw_role = 0;
    *usage = 0;
    finish[0] = 0;
    char *copy = strndup(r->body.data, r->body.len);
    char *save = NULL;
    for (char *ev = strtok_r(copy, "\n", &save); ev; ev = strtok_r(NULL, "\n", &save)) {
        assert_true(strncmp(ev, "data: ", 6) == 0);
        assert_false(done); /* nothing after [DONE] */
        if (strcmp(ev + 6, "[DONE]") == 0) {
            done = 1;
            continue;
        }
        cJSON *j = cJSON_Parse(ev + 6);
        assert_non_null(j);
        assert_string_equal(cJSON_GetObjectItem(j, "object")->valuestring, "chat.completion.chunk");
        const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
        if (!ch) {
            assert_non_null(cJSON_GetObjectItem(j, "usage"));
            *usage = 1;
        } else {
            const cJSON *d = cJSON_GetObjectItem(ch, "delta");
            const cJSON *role = cJSON_GetObjectItem(d, "role");
            if (events == 0) {
                assert_true(cJSON_IsString(role));
                saw_role = 1;
            }
            const cJSON *c = cJSON_GetObjectItem(d, "content");
            if (cJSON_IsString(c)) eef_buf_puts(&text, c->valuestring);
            const cJSON *fr = cJSON_GetObjectItem(ch, "finish_reason");
            if (cJSON_IsString(fr)) snprintf(finish, cap, "%s", fr->valuestring);
        }
        cJSON_Delete(j);
        events++;
    }
    free(copy);
    assert_true(done);
    assert_true(saw_role);
    assert_true(finish[0]);
    return text.data;
}

static void test_stream_equals_plain(void **state)
{
    (void)state;
    const char *extras[] = { "{\"temperature\": 0.8, \"seed\": 7, \"max_tokens\": 30}",
                             "{\"temperature\": 0, \"max_tokens\": 25}" };
    for (int k = 0; k < 2; k++) {
        char *plain_body = body_with(extras[k]);
        char fin_plain[16], fin_stream[16];
        char *plain = complete(g_base, plain_body, fin_plain, sizeof fin_plain, NULL);
        cJSON *o = cJSON_Parse(plain_body);
        cJSON_AddBoolToObject(o, "stream", 1);
        cJSON *so = cJSON_AddObjectToObject(o, "stream_options");
        cJSON_AddBoolToObject(so, "include_usage", 1);
        char *sb = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        su_resp r;
        assert_int_equal(su_http("POST", url(g_base, "/v1/chat/completions"), sb, NULL, 60, &r), 0);
        int usage;
        char *streamed = parse_stream(&r, fin_stream, sizeof fin_stream, &usage);
        assert_string_equal(streamed, plain);
        assert_string_equal(fin_stream, fin_plain);
        assert_true(usage);
        free(streamed);
        free(plain);
        free(plain_body);
        free(sb);
        eef_buf_free(&r.body);
    }
}

static void test_stop_strings(void **state)
{
    (void)state;
    char *b0 = body_with("{\"temperature\": 0, \"max_tokens\": 40}");
    char *full = complete(g_base, b0, NULL, 0, NULL);
    size_t n = strlen(full);
    if (n < 8) skip(); /* the random model ended at once: nothing to cut */
    /* stop at a 3-byte ASCII piece from the middle: the reply is what
     * precedes its first occurrence, also when streamed (held back) */
    size_t from = n / 3;
    while (from + 3 <= n && !((unsigned char)full[from] - 32u < 95u &&
                              (unsigned char)full[from + 1] - 32u < 95u &&
                              (unsigned char)full[from + 2] - 32u < 95u))
        from++;
    if (from + 3 > n) skip();
    char stop[4];
    memcpy(stop, full + from, 3);
    stop[3] = 0;
    const char *at = strstr(full, stop);
    size_t want = (size_t)(at - full);
    cJSON *o = cJSON_Parse(b0);
    cJSON_AddStringToObject(o, "stop", stop);
    char *sb = cJSON_PrintUnformatted(o);
    char fin[16];
    char *cut = complete(g_base, sb, fin, sizeof fin, NULL);
    assert_int_equal(strlen(cut), want);
    assert_memory_equal(cut, full, want);
    assert_string_equal(fin, "stop");
    cJSON_AddBoolToObject(o, "stream", 1);
    char *sb2 = cJSON_PrintUnformatted(o);
    su_resp r;
    assert_int_equal(su_http("POST", url(g_base, "/v1/chat/completions"), sb2, NULL, 60, &r), 0);
    int usage;
    char *streamed = parse_stream(&r, fin, sizeof fin, &usage);
    assert_string_equal(streamed, cut);
    assert_string_equal(fin, "stop");
    assert_false(usage);
    cJSON_Delete(o);
    free(streamed);
    free(cut);
    free(sb);
    free(sb2);
    free(full);
    free(b0);
    eef_buf_free(&r.body);
}

static void expect_400(const char *body, const char *param)
{
    su_resp r;
    assert_int_equal(su_http("POST", url(g_base, "/v1/chat/completions"), body, NULL, 10, &r), 0);
    su_expect_openai_error(&r, 400, "invalid_request_error");
    if (param) {
        cJSON *j = su_json(&r);
        const cJSON *p = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "param");
        if (!cJSON_IsString(p) || strcmp(p->valuestring, param) != 0)
            fail_msg("param for %s: %s", body, r.body.data);
        cJSON_Delete(j);
    }
    eef_buf_free(&r.body);
}

static void test_malformed_requests(void **state)
{
    (void)state;
    const char *msg = "[{\"role\":\"user\",\"content\":\"hi\"}]";
    char b[512];
    expect_400("{\"messages\": [", NULL);
    expect_400("[1, 2]", NULL);
    expect_400("", NULL);
    expect_400("{\"model\":\"x\"}", "messages");
    expect_400("{\"messages\": []}", "messages");
    expect_400("{\"messages\": \"hi\"}", "messages");
    expect_400("{\"messages\": [{\"role\":\"wizard\",\"content\":\"x\"}]}", "messages");
    expect_400("{\"messages\": [{\"content\":\"x\"}]}", "messages");
    expect_400("{\"messages\": [{\"role\":\"user\",\"content\":5}]}", "messages");
    expect_400("{\"messages\": [{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}", "messages");
    expect_400("{\"messages\": [7]}", "messages");
    struct {
        const char *field, *param;
    } bad[] = {
        { "\"temperature\": \"hot\"", "temperature" }, { "\"temperature\": 2.5", "temperature" },
        { "\"top_p\": 0", "top_p" },                   { "\"top_p\": 1.5", "top_p" },
        { "\"max_tokens\": 0", "max_tokens" },         { "\"max_tokens\": 2.5", "max_tokens" },
        { "\"max_tokens\": \"10\"", "max_tokens" },    { "\"n\": 2", "n" },
        { "\"seed\": \"s\"", "seed" },                 { "\"stop\": 3", "stop" },
        { "\"stop\": [\"a\",\"b\",\"c\",\"d\",\"e\"]", "stop" }, { "\"stop\": \"\"", "stop" },
        { "\"stream\": \"yes\"", "stream" },           { "\"logprobs\": true", "logprobs" },
        { "\"model\": 3", "model" },                   { "\"tools\": [{\"type\":\"function\"}]", "tools" },
        { "\"max_tokens\": 100000", "max_tokens" },
    };
    for (size_t i = 0; i < EEF_ARRAY_LEN(bad); i++) {
        snprintf(b, sizeof b, "{\"messages\": %s, %s}", msg, bad[i].field);
        expect_400(b, bad[i].param);
    }
    /* invalid UTF-8 */
    expect_400("{\"messages\": [{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}", NULL);
    /* fields OpenAI clients send by default are accepted */
    snprintf(b, sizeof b, "{\"messages\": %s, \"max_tokens\": 3, \"presence_penalty\": 0, "
             "\"frequency_penalty\": 0, \"user\": \"u\", \"n\": 1, \"stop\": null, "
             "\"content\": [] }", msg);
    free(complete(g_base, b, NULL, 0, NULL));
    /* content as text parts */
    free(complete(g_base, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
                          "\"text\":\"hi\"}]}],\"max_tokens\":3}", NULL, 0, NULL));
}

static void test_size_routes_methods(void **state)
{
    (void)state;
    /* 64 KiB limit: a larger body is 413 (Content-Length known) */
    size_t n = 100 << 10;
    char *big = malloc(n + 64);
    strcpy(big, "{\"messages\":[{\"role\":\"user\",\"content\":\"");
    size_t at = strlen(big);
    memset(big + at, 'a', n);
    strcpy(big + at + n, "\"}]}");
    su_resp r;
    assert_int_equal(su_http("POST", url(g_base, "/v1/chat/completions"), big, NULL, 10, &r), 0);
    su_expect_openai_error(&r, 413, NULL);
    eef_buf_free(&r.body);
    free(big);
    assert_int_equal(su_http("GET", url(g_base, "/v2/nothing"), NULL, NULL, 10, &r), 0);
    su_expect_openai_error(&r, 404, "invalid_request_error");
    eef_buf_free(&r.body);
    assert_int_equal(su_http("GET", url(g_base, "/v1/chat/completions"), NULL, NULL, 10, &r), 0);
    su_expect_openai_error(&r, 405, NULL);
    eef_buf_free(&r.body);
    assert_int_equal(su_http("POST", url(g_base, "/v1/models"), "{}", NULL, 10, &r), 0);
    su_expect_openai_error(&r, 405, NULL);
    eef_buf_free(&r.body);
    /* a prompt that cannot fit beside max_tokens */
    expect_400("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":1020}", "max_tokens");
    eef_buf huge;
    eef_buf_init(&huge);
    eef_buf_puts(&huge, "{\"messages\":[{\"role\":\"system\",\"content\":\"");
    for (int i = 0; i < 1200; i++) eef_buf_puts(&huge, "zq xv ");
    eef_buf_puts(&huge, "\"}],\"max_tokens\":8}");
    assert_int_equal(su_http("POST", url(g_base, "/v1/chat/completions"), huge.data, NULL, 10, &r), 0);
    su_expect_openai_error(&r, 400, "invalid_request_error");
    assert_non_null(strstr(r.body.data, "context_length_exceeded"));
    eef_buf_free(&r.body);
    eef_buf_free(&huge);
}

static void test_api_key(void **state)
{
    (void)state;
    eef_chat_server_config c;
    eef_chat_server_defaults(&c);
    c.port = 0;
    c.workers = 1;
    c.api_key = "s3cret-key";
    eef_server *s;
    assert_ok(eef_chat_server_start(g_model, &c, &s));
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", eef_server_port(s));
    const char *body = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":3}";
    const char *bad[] = { NULL, "Authorization: Bearer wrong", "Authorization: Basic s3cret-key",
                          "Authorization: Bearer s3cret-ke", "Authorization: Bearer s3cret-keyy" };
    for (size_t i = 0; i < EEF_ARRAY_LEN(bad); i++) {
        su_resp r;
        assert_int_equal(su_http("POST", url(base, "/v1/chat/completions"), body, bad[i], 10, &r), 0);
        su_expect_openai_error(&r, 401, "invalid_request_error");
        eef_buf_free(&r.body);
        assert_int_equal(su_http("GET", url(base, "/v1/models"), NULL, bad[i], 10, &r), 0);
        su_expect_openai_error(&r, 401, NULL);
        eef_buf_free(&r.body);
    }
    free(complete(base, body, NULL, 0, "Authorization: Bearer s3cret-key"));
    su_resp r;
    assert_int_equal(su_http("GET", url(base, "/health"), NULL, NULL, 10, &r), 0);
    assert_int_equal(r.status, 200);
    eef_buf_free(&r.body);
    eef_server_stop(s);
}

/* ------------------------------------------------------------ concurrency */
typedef struct {
    int client;
    char *replies[3];
} client_job;

static void *client_main(void *arg)
{
    client_job *j = arg;
    for (int k = 0; k < 3; k++) {
        char extra[160];
        snprintf(extra, sizeof extra, "{\"temperature\": 0.9, \"seed\": %d, \"max_tokens\": 24%s}",
                 j->client * 10 + k, k == 1 ? ", \"stream\": true" : "");
        char *b = body_with(extra);
        if (k == 1) {
            su_resp r;
            su_http("POST", url(g_base, "/v1/chat/completions"), b, NULL, 60, &r);
            char fin[16];
            int usage;
            j->replies[k] = parse_stream(&r, fin, sizeof fin, &usage);
            eef_buf_free(&r.body);
        } else {
            j->replies[k] = complete(g_base, b, NULL, 0, NULL);
        }
        free(b);
    }
    return NULL;
}

static void test_concurrent_clients(void **state)
{
    (void)state;
    enum { N = 8 };
    client_job seq[N], par[N];
    /* one by one, then all at once: every reply is the same */
    for (int i = 0; i < N; i++) {
        seq[i].client = i;
        client_main(&seq[i]);
    }
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        par[i].client = i;
        assert_int_equal(pthread_create(&th[i], NULL, client_main, &par[i]), 0);
    }
    for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++)
        for (int k = 0; k < 3; k++) {
            assert_string_equal(seq[i].replies[k], par[i].replies[k]);
            free(seq[i].replies[k]);
            free(par[i].replies[k]);
        }
}

/* ------------------------------------------------------------ overload, cancel, stop */
/* A model big enough that a generation takes a while, whose final norm
 * gains are 0: every logit is 0, greedy decoding emits token 0 forever, so
 * a generation lasts exactly max_tokens tokens. */
static eef_model *endless_model(void)
{
    eef_tokenizer *t = su_tokenizer(400);
    eef_model_config c = { .vocab = eef_tok_vocab_size(t), .d_model = 320, .n_layers = 6,
                           .n_heads = 5, .d_ff = 896, .max_ctx = 512, .tied = 1,
                           .rope_theta = 10000.0f, .norm_eps = 1e-5f };
    eef_model *m = NULL;
    assert_ok(eef_model_new(&c, t, 5, &m));
    memset(m->w.out_norm, 0, (size_t)m->cfg.d_model * sizeof(float));
    return m;
}

typedef struct {
    const char *base, *body;
    long status;
    double seconds;
} timed_req;

static void *timed_main(void *arg)
{
    timed_req *t = arg;
    su_resp r;
    double t0 = eef_now();
    su_http("POST", url(t->base, "/v1/chat/completions"), t->body, NULL, 120, &r);
    t->seconds = eef_now() - t0;
    t->status = r.status;
    eef_buf_free(&r.body);
    return NULL;
}

/* A streaming request that says when its first bytes arrived: the
 * generation is running on the worker from then on (a fixed sleep is not
 * enough on a loaded machine, where the request may still be queued). */
typedef struct {
    const char *base, *body;
    long status;
    atomic_int started;
} stream_req;

static size_t stream_on_data(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    atomic_store(&((stream_req *)ud)->started, 1);
    return size * n;
}

static void *stream_main(void *arg)
{
    stream_req *t = arg;
    CURL *cu = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(cu, CURLOPT_URL, url(t->base, "/v1/chat/completions"));
    curl_easy_setopt(cu, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(cu, CURLOPT_POSTFIELDS, t->body);
    curl_easy_setopt(cu, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, stream_on_data);
    curl_easy_setopt(cu, CURLOPT_WRITEDATA, t);
    if (curl_easy_perform(cu) == CURLE_OK) curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &t->status);
    atomic_store(&t->started, 1); /* never leave the waiter waiting */
    curl_easy_cleanup(cu);
    curl_slist_free_all(h);
    return NULL;
}

static void test_overload_and_cancel(void **state)
{
    (void)state;
    eef_model *m = endless_model();
    eef_chat_server_config c;
    eef_chat_server_defaults(&c);
    c.port = 0;
    c.workers = 1;
    c.max_queue = 1;
    c.queue_timeout = 0.1;
    eef_server *s;
    assert_ok(eef_chat_server_start(m, &c, &s));
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", eef_server_port(s));
    const char *longb = "{\"messages\":[{\"role\":\"user\",\"content\":\"go\"}],\"temperature\":0,"
                        "\"max_tokens\":400}";
    /* how long one long generation takes alone */
    timed_req alone = { base, longb, 0, 0 };
    timed_main(&alone);
    assert_int_equal(alone.status, 200);
    fprintf(stderr, "one long generation: %.3f s\n", alone.seconds);
    if (alone.seconds < 0.5) {
        eef_server_stop(s);
        eef_model_free(m);
        skip(); /* too fast a machine to provoke a queue */
    }
    /* one runs (streaming: started once its first bytes arrive), one waits
     * past its 0.1 s deadline (503), one finds the queue full (503) */
    const char *longs = "{\"messages\":[{\"role\":\"user\",\"content\":\"go\"}],\"temperature\":0,"
                        "\"max_tokens\":400,\"stream\":true}";
    stream_req running = { base, longs, 0, 0 };
    timed_req reqs[2] = { { base, longb, 0, 0 }, { base, longb, 0, 0 } };
    pthread_t th[3];
    pthread_create(&th[2], NULL, stream_main, &running);
    while (!atomic_load(&running.started)) usleep(1000);
    pthread_create(&th[0], NULL, timed_main, &reqs[0]);
    pthread_create(&th[1], NULL, timed_main, &reqs[1]);
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    assert_int_equal(running.status, 200);
    assert_int_equal(reqs[0].status, 503);
    assert_int_equal(reqs[1].status, 503);
    assert_true(reqs[0].seconds < alone.seconds * 0.8 && reqs[1].seconds < alone.seconds * 0.8);

    /* a streaming client that leaves: its generation stops, the worker is free */
    CURL *cu = curl_easy_init();
    const char *sbody = "{\"messages\":[{\"role\":\"user\",\"content\":\"go\"}],\"temperature\":0,"
                        "\"max_tokens\":400,\"stream\":true}";
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(cu, CURLOPT_URL, url(base, "/v1/chat/completions"));
    curl_easy_setopt(cu, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(cu, CURLOPT_POSTFIELDS, sbody);
    curl_easy_setopt(cu, CURLOPT_CONNECT_ONLY, 0L);
    curl_easy_setopt(cu, CURLOPT_TIMEOUT_MS, 150L); /* leave after 0.15 s */
    curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
    eef_buf sink;
    eef_buf_init(&sink);
    curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, su_on_data);
    curl_easy_setopt(cu, CURLOPT_WRITEDATA, &sink);
    CURLcode crc = curl_easy_perform(cu);
    if (crc != CURLE_OPERATION_TIMEDOUT) fail_msg("stream ended (%d): %.300s", (int)crc, sink.data);
    curl_easy_cleanup(cu);
    curl_slist_free_all(h);
    assert_non_null(strstr(sink.data, "data: "));
    eef_buf_free(&sink);
    timed_req after = { base, "{\"messages\":[{\"role\":\"user\",\"content\":\"go\"}],"
                              "\"max_tokens\":5}", 0, 0 };
    timed_main(&after);
    assert_int_equal(after.status, 200);
    assert_true(after.seconds < alone.seconds * 0.7);

    /* stopping with a stream in flight ends it and returns */
    timed_req inflight = { base, sbody, 0, 0 };
    pthread_t t;
    pthread_create(&t, NULL, timed_main, &inflight);
    usleep(150000);
    double t0 = eef_now();
    eef_server_stop(s);
    pthread_join(t, NULL);
    assert_true(eef_now() - t0 < alone.seconds);
    eef_model_free(m);
}

/* ------------------------------------------------------------ the CLI */
static void test_cli_serve(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/m.eefm", dir);
    assert_ok(eef_model_save(g_model, path));
    setenv("EEF_TEST_KEY", "k-123", 1);
    char *argv[] = { (char *)tu_eef(), "serve", "--model", path, "--port", "0", "--threads", "1",
                     "--api-key-env", "EEF_TEST_KEY", NULL };
    su_child c;
    su_child_start(&c, argv);
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", c.port);
    su_resp r;
    assert_int_equal(su_http("GET", url(base, "/v1/models"), NULL, "Authorization: Bearer k-123", 10, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.data, "\"id\":\"m\""));
    eef_buf_free(&r.body);
    char *reply = complete(base, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                                 "\"max_tokens\":4}", NULL, 0, "Authorization: Bearer k-123");
    free(reply);
    int st = su_child_stop(&c, SIGTERM);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    /* usage and runtime errors */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s serve --port 0 2>/dev/null", tu_eef());
    assert_int_equal(WEXITSTATUS(system(cmd)), 2);
    snprintf(cmd, sizeof cmd, "%s serve --model %s/none.eefm --port 0 2>/dev/null", tu_eef(), dir);
    assert_int_equal(WEXITSTATUS(system(cmd)), 1);
    snprintf(cmd, sizeof cmd, "EEF_UNSET_KEY= %s serve --model %s --port 0 --api-key-env EEF_UNSET_KEY 2>/dev/null",
             tu_eef(), path);
    assert_int_equal(WEXITSTATUS(system(cmd)), 1);
    snprintf(cmd, sizeof cmd, "%s serve --model %s --host 10.x.y.z --port 0 2>/dev/null", tu_eef(), path);
    assert_int_equal(WEXITSTATUS(system(cmd)), 1);
    tu_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_models),
        cmocka_unit_test(test_plain_matches_local_prompt),
        cmocka_unit_test(test_seeded_sampling_is_deterministic),
        cmocka_unit_test(test_stream_equals_plain),
        cmocka_unit_test(test_stop_strings),
        cmocka_unit_test(test_malformed_requests),
        cmocka_unit_test(test_size_routes_methods),
        cmocka_unit_test(test_api_key),
        cmocka_unit_test(test_concurrent_clients),
        cmocka_unit_test(test_overload_and_cancel),
        cmocka_unit_test(test_cli_serve),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* test_serve_util.h: helpers for the serving tests (test_serve*.c,
 * test_chat*.c, test_remote*.c): small models, a blocking HTTP client on
 * libcurl, and a child `eef` server process whose port is read from its
 * "listening on" line. */
#ifndef EEF_TEST_SERVE_UTIL_H
#define EEF_TEST_SERVE_UTIL_H

#include "testutil.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>

#include "agent/policy.h"
#include "env/env.h"
#include "nn/nn.h"

/* A tokenizer learned on agent-like text, so encodings are short. */
static inline eef_tokenizer *su_tokenizer(int vocab)
{
    static const char *words[] = { "click", "search", "Next", "Buy", "Now", "the", "blue",
                                   "shirt", "[SEP]", "Action:", "price", "and", "go", "to",
                                   "drawer", "take", "mug", "Observation:", "Instruction:" };
    eef_buf b;
    eef_buf_init(&b);
    eef_rng r = eef_rng_make(eef_rng_key(11, 0, 0, 0));
    for (int i = 0; i < 20000; i++) {
        eef_buf_puts(&b, words[eef_rng_below(&r, EEF_ARRAY_LEN(words))]);
        eef_buf_puts(&b, eef_rng_below(&r, 8) ? " " : "\n");
    }
    eef_tokenizer *t = NULL;
    assert_ok(eef_tok_train(b.data, b.len, vocab, &t));
    eef_buf_free(&b);
    return t;
}

/* A random-weight model of a preset ("tiny": fast; "small": slower). */
static inline eef_model *su_model(const char *preset, uint64_t seed)
{
    eef_tokenizer *t = su_tokenizer(400);
    eef_model_config c;
    assert_ok(eef_model_preset(preset, eef_tok_vocab_size(t), &c));
    eef_model *m = NULL;
    assert_ok(eef_model_new(&c, t, seed, &m));
    return m;
}

/* ------------------------------------------------------------ local reference
 * What `eef serve` must answer at temperature 0: eef's prompt for the
 * messages (fed in the server's 64-token prefill chunks, so the logits
 * agree to the bit), then greedy tokens until a special token or max_new,
 * decoded, invalid UTF-8 replaced by U+FFFD. */
static inline void su_utf8_fix(const char *s, size_t n, eef_buf *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        int k = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
        int ok = c != 0 && k >= 0 && i + (size_t)k < n;
        unsigned cp = k == 1 ? c & 0x1F : k == 2 ? c & 0x0F : c & 0x07;
        for (int j = 1; ok && j <= k; j++) {
            ok = (p[i + j] & 0xC0) == 0x80;
            cp = (cp << 6) | (p[i + j] & 0x3F);
        }
        if (ok && k > 0) {
            unsigned min = k == 1 ? 0x80 : k == 2 ? 0x800 : 0x10000;
            ok = cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
        }
        if (ok) {
            eef_buf_append(out, s + i, (size_t)k + 1);
            i += (size_t)k + 1;
        } else {
            eef_buf_append(out, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
}

static inline void su_ref_greedy(const eef_model *m, const char *instr, const char *const *obs,
                                 size_t n_obs, const char *const *acts, size_t n_acts,
                                 int max_tokens, eef_buf *out)
{
    eef_prompt p = { 0 };
    assert_ok(eef_prompt_build(m->tok, eef_env_text_of(NULL), instr, obs, n_obs, acts, NULL,
                               n_acts, m->cfg.max_ctx - max_tokens, &p));
    int max_new = EEF_MIN(max_tokens, m->cfg.max_ctx - p.n);
    eef_kv *kv;
    assert_ok(eef_kv_new(m, 0, &kv));
    float *logits = malloc((size_t)m->cfg.vocab * sizeof(float));
    for (int at = 0; at < p.n; at += 64)
        assert_ok(eef_kv_feed(kv, p.tokens + at, EEF_MIN(64, p.n - at), logits));
    eef_buf raw;
    eef_buf_init(&raw);
    for (int t = 0; t < max_new; t++) {
        int tok = eef_sample_token(logits, m->cfg.vocab, NULL, NULL);
        if (tok >= 256 && tok < EEF_TOK_FIRST_MERGE) break;
        size_t len;
        const char *piece = eef_tok_piece(m->tok, tok, &len);
        eef_buf_append(&raw, piece, len);
        if (t + 1 < max_new) assert_ok(eef_kv_feed(kv, &tok, 1, logits));
    }
    eef_buf_clear(out);
    eef_buf_puts(out, "");
    su_utf8_fix(raw.data ? raw.data : "", raw.len, out);
    eef_buf_free(&raw);
    free(logits);
    eef_kv_free(kv);
    eef_prompt_free(&p);
}

/* ------------------------------------------------------------ HTTP client */
typedef struct {
    long status;
    eef_buf body;
    char content_type[128];
} su_resp;

static size_t su_on_data(char *p, size_t size, size_t n, void *ud)
{
    eef_buf_append((eef_buf *)ud, p, size * n);
    return size * n;
}

/* One request (body NULL: GET); extra_header may be NULL.  Returns the
 * curl code (0 ok). */
static inline int su_http(const char *method, const char *url, const char *body,
                          const char *extra_header, double timeout, su_resp *out)
{
    eef_buf_init(&out->body);
    out->status = 0;
    out->content_type[0] = 0;
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (extra_header) h = curl_slist_append(h, extra_header);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, su_on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000));
    if (strcmp(method, "GET") != 0) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    int rc = (int)curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    if (ct) snprintf(out->content_type, sizeof out->content_type, "%s", ct);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return rc;
}

static inline cJSON *su_json(const su_resp *r)
{
    cJSON *j = cJSON_ParseWithLength(r->body.data ? r->body.data : "", r->body.len);
    if (!j) fail_msg("not JSON (HTTP %ld): %.300s", r->status, r->body.data ? r->body.data : "");
    return j;
}

/* Checks an OpenAI-style error body and returns error.param (or NULL). */
static inline void su_expect_openai_error(const su_resp *r, long status, const char *type)
{
    if (r->status != status)
        fail_msg("HTTP %ld, expected %ld: %.300s", r->status, status, r->body.data ? r->body.data : "");
    cJSON *j = su_json(r);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    assert_true(cJSON_IsObject(e));
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(e, "type");
    assert_true(cJSON_IsString(msg) && strlen(msg->valuestring) > 0);
    assert_true(cJSON_IsString(ty));
    if (type) assert_string_equal(ty->valuestring, type);
    assert_non_null(cJSON_GetObjectItemCaseSensitive(e, "param"));
    assert_non_null(cJSON_GetObjectItemCaseSensitive(e, "code"));
    cJSON_Delete(j);
}

/* ------------------------------------------------------------ child servers */
typedef struct {
    pid_t pid;
    int port;
    int err_fd; /* the child's stderr */
} su_child;

/* Starts `$EEF args...` and waits for its "listening on http://...:PORT". */
static inline void su_child_start(su_child *c, char *const argv[])
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    c->pid = pid;
    c->err_fd = fds[0];
    c->port = 0;
    char buf[4096];
    size_t n = 0;
    double t0 = eef_now();
    while (eef_now() - t0 < 20 && n + 1 < sizeof buf) {
        struct pollfd p = { fds[0], POLLIN, 0 };
        if (poll(&p, 1, 200) <= 0) continue;
        ssize_t k = read(fds[0], buf + n, sizeof buf - 1 - n);
        if (k <= 0) break;
        n += (size_t)k;
        buf[n] = 0;
        const char *at = strstr(buf, "listening on http://");
        const char *nl = at ? strchr(at, '\n') : NULL;
        if (at && nl) {
            const char *colon = NULL;
            for (const char *q = at + 20; q < nl; q++)
                if (*q == ':') colon = q;
            if (colon) c->port = atoi(colon + 1);
            break;
        }
    }
    if (!c->port) fail_msg("the child server did not start: %s", buf);
}

static inline int su_child_stop(su_child *c, int sig)
{
    int status = 0;
    kill(c->pid, sig);
    waitpid(c->pid, &status, 0);
    close(c->err_fd);
    return status;
}

/* ------------------------------------------------------------ a fake environment
 * "counter": task i asks to bring a value from 0 to its target 3 + i % 5,
 * then click[done] (reward 1 on target, else value / target).  Actions:
 * click[inc], click[dec] (only above 0), click[done], and at value 0 a
 * search[TEXT] slot (TEXT not empty) that sets the value to strlen(TEXT) % 4.  Anything
 * else is invalid (state unchanged, still a step).  10 steps at most. */
typedef struct {
    eef_env base;
    char instr[2][32][48];
    char ids[2][32][32];
} fake_env;

typedef struct {
    eef_episode base;
    int task, target, value, steps, done;
    double reward;
    char obs[160];
} fake_episode;

static size_t fake_n_tasks(const eef_env *env, eef_split s)
{
    (void)env;
    return s == EEF_SPLIT_TRAIN ? 20 : 6;
}

static eef_err fake_task(const eef_env *env, eef_split s, size_t i, eef_task *out)
{
    const fake_env *f = (const fake_env *)env;
    if (i >= fake_n_tasks(env, s)) return eef_fail(EEF_EINVAL, "fake: no task %zu", i);
    *out = (eef_task){ .id = f->ids[s][i], .split = s, .index = i, .tier = (eef_tier)(i % 3),
                       .instruction = f->instr[s][i] };
    return EEF_OK;
}

static eef_err fake_episode_open(eef_env *env, eef_episode **out)
{
    fake_episode *ep = calloc(1, sizeof *ep);
    if (!ep) return EEF_ENOMEM;
    ep->base.env = env;
    *out = &ep->base;
    return EEF_OK;
}

static void fake_render(fake_episode *ep, const char *note)
{
    snprintf(ep->obs, sizeof ep->obs, "%sTask: reach %d. Value: %d. Step %d.", note, ep->target,
             ep->value, ep->steps);
}

static eef_err fake_reset(eef_episode *e, eef_split s, size_t i, eef_step *out)
{
    fake_episode *ep = (fake_episode *)e;
    if (i >= fake_n_tasks(e->env, s)) return eef_fail(EEF_EINVAL, "fake: no task %zu", i);
    ep->task = (int)i + (s == EEF_SPLIT_TEST ? 100 : 0);
    ep->target = 3 + (int)i % 5;
    ep->value = ep->steps = ep->done = 0;
    ep->reward = 0;
    fake_render(ep, "");
    *out = (eef_step){ ep->obs, 0, 0, 1 };
    return EEF_OK;
}

static eef_err fake_step(eef_episode *e, const char *a, eef_step *out)
{
    fake_episode *ep = (fake_episode *)e;
    if (ep->done) return eef_fail(EEF_ESTATE, "fake: step after the end");
    ep->steps++;
    int valid = 1;
    size_t n = strlen(a);
    if (strcmp(a, "click[inc]") == 0) ep->value++;
    else if (strcmp(a, "click[dec]") == 0 && ep->value > 0) ep->value--;
    else if (strcmp(a, "click[done]") == 0) {
        ep->done = 1;
        ep->reward = ep->value == ep->target ? 1.0 : (double)ep->value / (ep->target + 1);
    } else if (ep->value == 0 && n > 8 && strncmp(a, "search[", 7) == 0 && a[n - 1] == ']')
        ep->value = (int)((n - 8) % 4); /* a search needs text (env.h) */
    else valid = 0;
    if (!ep->done && ep->steps >= e->env->max_steps) ep->done = 1;
    fake_render(ep, valid ? "" : "Invalid action. ");
    *out = (eef_step){ ep->obs, ep->done ? ep->reward : 0, ep->done, valid };
    return EEF_OK;
}

static eef_err fake_actions(eef_episode *e, eef_actions *out)
{
    fake_episode *ep = (fake_episode *)e;
    eef_strlist_clear(&out->items);
    out->free_prefix = out->free_suffix = NULL;
    if (ep->done) return EEF_OK;
    eef_strlist_push(&out->items, "click[inc]");
    if (ep->value > 0) eef_strlist_push(&out->items, "click[dec]");
    eef_strlist_push(&out->items, "click[done]");
    if (ep->value == 0) out->free_prefix = "search[", out->free_suffix = "]";
    return EEF_OK;
}

static void fake_episode_close(eef_episode *e) { free(e); }
static void fake_close(eef_env *e) { free(e); }

static const eef_env_ops fake_ops = { .version = EEF_ENV_OPS_VERSION,
                                      .name = "fake",
                                      .n_tasks = fake_n_tasks,
                                      .task = fake_task,
                                      .episode_open = fake_episode_open,
                                      .reset = fake_reset,
                                      .step = fake_step,
                                      .actions = fake_actions,
                                      .episode_close = fake_episode_close,
                                      .close = fake_close };

static inline eef_env *fake_env_open(void)
{
    fake_env *f = calloc(1, sizeof *f);
    f->base.ops = &fake_ops;
    f->base.max_steps = 10;
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < 32; i++) {
            snprintf(f->instr[s][i], sizeof f->instr[s][i], "reach %d", 3 + i % 5);
            snprintf(f->ids[s][i], sizeof f->ids[s][i], "fake-%s-%d", eef_split_name((eef_split)s), i);
        }
    return &f->base;
}

#endif

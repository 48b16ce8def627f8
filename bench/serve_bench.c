/* serve_bench: the HTTP servers under load from clients on loopback.
 *
 *   eef serve (in this process, a small random-weight model): 8 clients
 *   send 48 chat completions in all (an agent-sized prompt of ~300
 *   tokens, 32 new tokens each, sampled), for two worker layouts: one
 *   single-threaded worker (requests one at a time, as under a lock) and
 *   one single-threaded worker per thread (the default).  (One worker
 *   with an OpenMP team per request is slower still on small models:
 *   docs/serving.md.)  Requests/s, tokens/s, p50/p99
 *   latency; then 8 agents of 6 growing turns each (~100-token
 *   observations, 8-token actions: the prompt grows, its prefix is reused).
 *
 *   eef env-serve on the shop: 8 clients drive episodes through the
 *   remote environment (eef's loop: actions, then step), steps/s, next to
 *   the same loop on the local shop.
 *
 * Prints `name: value` lines. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "env/env.h"
#include "nn/nn.h"
#include "serve/serve.h"

#define CLIENTS 8

static void die(const char *what)
{
    fprintf(stderr, "serve_bench: %s: %s\n", what, eef_errmsg());
    exit(1);
}

static eef_model *bench_model(void)
{
    static const char *words[] = { "click", "search", "Next", "Buy", "Now", "the", "blue",
                                   "shirt", "[SEP]", "price", "and", "size", "color", "$12.99" };
    eef_buf b;
    eef_buf_init(&b);
    eef_rng r = eef_rng_make(1);
    for (int i = 0; i < 40000; i++) {
        eef_buf_puts(&b, words[eef_rng_below(&r, EEF_ARRAY_LEN(words))]);
        eef_buf_puts(&b, " ");
    }
    eef_tokenizer *t;
    eef_model_config c;
    eef_model *m;
    if (eef_tok_train(b.data, b.len, 512, &t) ||
        eef_model_preset("small", eef_tok_vocab_size(t), &c) || eef_model_new(&c, t, 7, &m))
        die("model");
    eef_buf_free(&b);
    return m;
}

/* ------------------------------------------------------------ chat load */
typedef struct {
    const char *url;
    int client, n_requests, turns;
    double *lat; /* [n_requests * turns] seconds */
    long tokens;
    int failed;
} chat_client;

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    eef_buf_append((eef_buf *)ud, p, s * n);
    return s * n;
}

static void observation(eef_rng *r, int words_n, eef_buf *out)
{
    static const char *words[] = { "Blue", "Shirt", "[SEP]", "$12.99", "B0X1", "Next >",
                                   "cotton", "size", "large", "and" };
    eef_buf_clear(out);
    for (int i = 0; i < words_n; i++) {
        eef_buf_puts(out, words[eef_rng_below(r, EEF_ARRAY_LEN(words))]);
        eef_buf_puts(out, " ");
    }
}

static void *chat_main(void *arg)
{
    chat_client *c = arg;
    CURL *cu = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    eef_buf resp, obs;
    eef_buf_init(&resp);
    eef_buf_init(&obs);
    eef_rng r = eef_rng_make(eef_rng_key(3, (uint64_t)c->client, 0, 0));
    int k = 0;
    for (int q = 0; q < c->n_requests; q++) {
        cJSON *req = cJSON_CreateObject(), *msgs = cJSON_AddArrayToObject(req, "messages");
        cJSON *sys = cJSON_CreateObject();
        cJSON_AddStringToObject(sys, "role", "system");
        cJSON_AddStringToObject(sys, "content", "find a blue cotton shirt in size large");
        cJSON_AddItemToArray(msgs, sys);
        for (int t = 0; t < c->turns; t++, k++) {
            observation(&r, c->turns > 1 ? 60 : 160, &obs);
            cJSON *u = cJSON_CreateObject();
            cJSON_AddStringToObject(u, "role", "user");
            cJSON_AddStringToObject(u, "content", obs.data);
            cJSON_AddItemToArray(msgs, u);
            cJSON_DeleteItemFromObject(req, "temperature");
            cJSON_DeleteItemFromObject(req, "max_tokens");
            cJSON_DeleteItemFromObject(req, "seed");
            cJSON_AddNumberToObject(req, "temperature", 0.7);
            cJSON_AddNumberToObject(req, "max_tokens", c->turns > 1 ? 8 : 32);
            cJSON_AddNumberToObject(req, "seed", k + 1000 * c->client);
            char *body = cJSON_PrintUnformatted(req);
            eef_buf_clear(&resp);
            curl_easy_setopt(cu, CURLOPT_URL, c->url);
            curl_easy_setopt(cu, CURLOPT_HTTPHEADER, h);
            curl_easy_setopt(cu, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, sink);
            curl_easy_setopt(cu, CURLOPT_WRITEDATA, &resp);
            curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
            double t0 = eef_now();
            long status = 0;
            if (curl_easy_perform(cu) != CURLE_OK) c->failed++;
            curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &status);
            c->lat[k] = eef_now() - t0;
            free(body);
            cJSON *j = status == 200 ? cJSON_ParseWithLength(resp.data, resp.len) : NULL;
            const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
            const cJSON *content = cJSON_GetObjectItem(cJSON_GetObjectItem(ch, "message"), "content");
            const cJSON *u2 = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "usage"), "completion_tokens");
            if (!cJSON_IsString(content) || !cJSON_IsNumber(u2)) {
                c->failed++;
            } else {
                c->tokens += u2->valueint;
                cJSON *a = cJSON_CreateObject();
                cJSON_AddStringToObject(a, "role", "assistant");
                cJSON_AddStringToObject(a, "content", content->valuestring);
                cJSON_AddItemToArray(msgs, a);
            }
            cJSON_Delete(j);
        }
        cJSON_Delete(req);
    }
    eef_buf_free(&resp);
    eef_buf_free(&obs);
    curl_slist_free_all(h);
    curl_easy_cleanup(cu);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void chat_load(const eef_model *m, int workers, int tpw, int per_client, int turns,
                      const char *tag)
{
    eef_chat_server_config c;
    eef_chat_server_defaults(&c);
    c.port = 0;
    c.workers = workers;
    c.threads_per_worker = tpw;
    eef_server *s;
    if (eef_chat_server_start(m, &c, &s)) die("eef serve");
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/chat/completions", eef_server_port(s));
    chat_client cl[CLIENTS];
    pthread_t th[CLIENTS];
    int n = per_client * turns;
    double *lat = calloc((size_t)CLIENTS * n, sizeof(double));
    double t0 = eef_now();
    for (int i = 0; i < CLIENTS; i++) {
        cl[i] = (chat_client){ url, i, per_client, turns, lat + (size_t)i * n, 0, 0 };
        pthread_create(&th[i], NULL, chat_main, &cl[i]);
    }
    long tokens = 0;
    int failed = 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(th[i], NULL);
        tokens += cl[i].tokens;
        failed += cl[i].failed;
    }
    double dt = eef_now() - t0;
    eef_server_stop(s);
    if (failed) {
        fprintf(stderr, "serve_bench: %d requests failed\n", failed);
        exit(1);
    }
    int total = CLIENTS * n;
    qsort(lat, (size_t)total, sizeof *lat, cmp_double);
    printf("serve_%s_requests_per_s: %.1f\n", tag, total / dt);
    printf("serve_%s_tokens_per_s: %.0f\n", tag, tokens / dt);
    printf("serve_%s_p50_ms: %.1f\n", tag, 1000 * lat[total / 2]);
    printf("serve_%s_p99_ms: %.1f\n", tag, 1000 * lat[(int)(0.99 * (total - 1))]);
    fflush(stdout);
    free(lat);
}

/* ------------------------------------------------------------ env load */
typedef struct {
    eef_env *env;
    int client, episodes;
    long steps;
    int failed;
} env_client;

static void *env_main(void *arg)
{
    env_client *c = arg;
    const eef_env_ops *ops = c->env->ops;
    eef_episode *ep;
    if (ops->episode_open(c->env, &ep)) {
        c->failed = 1;
        return NULL;
    }
    eef_actions a = { 0 };
    eef_rng r = eef_rng_make(eef_rng_key(5, (uint64_t)c->client, 0, 0));
    for (int e = 0; e < c->episodes && !c->failed; e++) {
        eef_step st;
        if (ops->reset(ep, EEF_SPLIT_TRAIN, (size_t)(c->client * 31 + e) % 1500, &st)) c->failed = 1;
        while (!c->failed && !st.done) {
            if (ops->actions(ep, &a)) {
                c->failed = 1;
                break;
            }
            const char *act = "search[blue cotton shirt]";
            if (a.items.n && (!a.free_prefix || eef_rng_below(&r, 2)))
                act = a.items.items[eef_rng_below(&r, a.items.n)];
            if (ops->step(ep, act, &st)) c->failed = 1;
            c->steps++;
        }
    }
    if (c->failed) fprintf(stderr, "serve_bench: env client: %s\n", eef_errmsg());
    eef_actions_free(&a);
    ops->episode_close(ep);
    return NULL;
}

static double env_load(eef_env *env, int episodes)
{
    env_client cl[CLIENTS];
    pthread_t th[CLIENTS];
    double t0 = eef_now();
    for (int i = 0; i < CLIENTS; i++) {
        cl[i] = (env_client){ env, i, episodes, 0, 0 };
        pthread_create(&th[i], NULL, env_main, &cl[i]);
    }
    long steps = 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(th[i], NULL);
        if (cl[i].failed) exit(1);
        steps += cl[i].steps;
    }
    return steps / (eef_now() - t0);
}

int main(void)
{
    eef_log_set_level(EEF_LOG_WARN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int threads = eef_threads();
    eef_model *m = bench_model();
    printf("serve_clients: %d\n", CLIENTS);
    char tag[64];
    chat_load(m, 1, 1, 6, 1, "w1x1"); /* one request at a time: a lock */
    if (threads > 1) {
        snprintf(tag, sizeof tag, "w%dx1", threads);
        chat_load(m, threads, 1, 6, 1, tag);
    }
    snprintf(tag, sizeof tag, "agent_w%dx1", threads);
    chat_load(m, threads, 1, 1, 6, tag);
    eef_model_free(m);

    eef_env *shop;
    if (eef_env_open("shop", NULL, 1, &shop)) die("shop");
    printf("env_local_shop_steps_per_s: %.0f\n", env_load(shop, 40));
    eef_env_server_config c;
    eef_env_server_defaults(&c);
    c.port = 0;
    eef_server *s;
    if (eef_env_server_start(shop, &c, &s)) die("env-serve");
    char name[96];
    snprintf(name, sizeof name, "remote:http://127.0.0.1:%d", eef_server_port(s));
    eef_env *rem;
    if (eef_env_open(name, NULL, 0, &rem)) die("remote");
    printf("env_serve_shop_steps_per_s: %.0f\n", env_load(rem, 40));
    eef_env_close(rem);
    eef_server_stop(s);
    eef_env_close(shop);
    curl_global_cleanup();
    return 0;
}

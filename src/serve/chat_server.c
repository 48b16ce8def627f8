/* chat_server.c: a model on the OpenAI-compatible HTTP API.
 *
 *   POST /v1/chat/completions   plain JSON, or server-sent events with
 *                               "stream": true (chunks, then [DONE])
 *   GET  /v1/models             the one model served
 *   GET  /v1/models/{id}
 *   GET  /health                {"status": "ok"} (no key needed)
 *
 * Errors have OpenAI's shape {"error": {"message", "type", "param",
 * "code"}}: 400 bad request, 401 missing or wrong API key, 404 unknown
 * route or model, 405 wrong method, 413 body too large, 503 queue full or
 * waited too long.
 */
#include "serve_internal.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const eef_model *m;
    eef_chat_server_config cfg;
    char *api_key, *model_name;
    gen_pool *pool;
    long created; /* unix time the server started */
    uint64_t requests;
} chat_server;

void eef_chat_server_defaults(eef_chat_server_config *c)
{
    *c = (eef_chat_server_config){ .host = "127.0.0.1",
                                   .port = 8080,
                                   .api_key = NULL,
                                   .model_name = "eef",
                                   .workers = 2,
                                   .threads_per_worker = 1,
                                   .max_queue = 64,
                                   .queue_timeout = 60.0,
                                   .max_body = (size_t)1 << 20,
                                   .max_connections = 256 };
}

/* ------------------------------------------------------------ errors */
static enum MHD_Result openai_error(struct MHD_Connection *c, unsigned status, const char *type,
                                    const char *code, const char *param, const char *msg)
{
    cJSON *root = cJSON_CreateObject(), *err = cJSON_AddObjectToObject(root, "error");
    if (err) {
        cJSON_AddStringToObject(err, "message", msg);
        cJSON_AddStringToObject(err, "type", type);
        if (param) cJSON_AddStringToObject(err, "param", param);
        else cJSON_AddNullToObject(err, "param");
        if (code) cJSON_AddStringToObject(err, "code", code);
        else cJSON_AddNullToObject(err, "code");
    }
    return http_send_json(c, status, root);
}

static enum MHD_Result kind_error(eef_server *s, struct MHD_Connection *c, unsigned status,
                                  const char *type, const char *msg)
{
    (void)s;
    return openai_error(c, status, type, NULL, NULL, msg);
}

/* ------------------------------------------------------------ responses */
static void make_id(chat_server *cs, uint64_t n, char *out, size_t cap)
{
    snprintf(out, cap, "chatcmpl-%016llx",
             (unsigned long long)eef_hash64(n ^ ((uint64_t)cs->created << 24)));
}

static cJSON *usage_json(int prompt, int completion)
{
    cJSON *u = cJSON_CreateObject();
    cJSON_AddNumberToObject(u, "prompt_tokens", prompt);
    cJSON_AddNumberToObject(u, "completion_tokens", completion);
    cJSON_AddNumberToObject(u, "total_tokens", prompt + completion);
    return u;
}

static cJSON *envelope(chat_server *cs, const char *id, const char *object)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "id", id);
    cJSON_AddStringToObject(r, "object", object);
    cJSON_AddNumberToObject(r, "created", (double)time(NULL));
    cJSON_AddStringToObject(r, "model", cs->model_name);
    cJSON_AddStringToObject(r, "system_fingerprint", "eef-" EEF_VERSION);
    return r;
}

static enum MHD_Result plain_reply(chat_server *cs, struct MHD_Connection *c, chat_job *j,
                                   const char *id)
{
    chat_job_wait_end(j);
    pthread_mutex_lock(&j->mu);
    if (j->state == JOB_FAILED) {
        char msg[sizeof j->err];
        unsigned status = j->err_status;
        memcpy(msg, j->err, sizeof msg);
        pthread_mutex_unlock(&j->mu);
        return openai_error(c, status, "server_error", NULL, NULL, msg);
    }
    cJSON *r = envelope(cs, id, "chat.completion");
    cJSON *choices = cJSON_AddArrayToObject(r, "choices");
    cJSON *ch = cJSON_CreateObject();
    cJSON_AddItemToArray(choices, ch);
    cJSON_AddNumberToObject(ch, "index", 0);
    cJSON *msg = cJSON_AddObjectToObject(ch, "message");
    cJSON_AddStringToObject(msg, "role", "assistant");
    cJSON_AddStringToObject(msg, "content", j->text.data ? j->text.data : "");
    cJSON_AddNullToObject(ch, "logprobs");
    cJSON_AddStringToObject(ch, "finish_reason", j->finish ? j->finish : "length");
    cJSON_AddItemToObject(r, "usage", usage_json(j->n_prompt, j->completion_tokens));
    pthread_mutex_unlock(&j->mu);
    return http_send_json(c, MHD_HTTP_OK, r);
}

/* ------------------------------------------------------------ streaming
 * Server-sent events in OpenAI's chunk format: a first chunk with the
 * role, one chunk per new piece of text, a last chunk with the finish
 * reason (then one with usage when asked), then "data: [DONE]". */
typedef enum { ST_ROLE, ST_TEXT, ST_FINISH, ST_USAGE, ST_DONE, ST_END } stream_phase;

typedef struct {
    chat_server *cs;
    chat_job *job;
    char id[40];
    int include_usage;
    stream_phase phase;
    size_t text_sent; /* bytes of job->text already sent */
    eef_buf out;      /* bytes ready for the socket */
    size_t off;
} stream_state;

static int sse(stream_state *st, cJSON *chunk)
{
    char *text = chunk ? cJSON_PrintUnformatted(chunk) : NULL;
    cJSON_Delete(chunk);
    if (!text) return -1;
    int bad = eef_buf_puts(&st->out, "data: ") || eef_buf_puts(&st->out, text) ||
              eef_buf_puts(&st->out, "\n\n");
    free(text);
    return bad ? -1 : 0;
}

/* A chunk with one choice whose delta holds `role` and/or `content`. */
static cJSON *delta_chunk(stream_state *st, const char *role, const char *content,
                          const char *finish)
{
    cJSON *r = envelope(st->cs, st->id, "chat.completion.chunk");
    cJSON *choices = cJSON_AddArrayToObject(r, "choices");
    cJSON *ch = cJSON_CreateObject();
    cJSON_AddItemToArray(choices, ch);
    cJSON_AddNumberToObject(ch, "index", 0);
    cJSON *d = cJSON_AddObjectToObject(ch, "delta");
    if (role) cJSON_AddStringToObject(d, "role", role);
    if (content) cJSON_AddStringToObject(d, "content", content);
    cJSON_AddNullToObject(ch, "logprobs");
    if (finish) cJSON_AddStringToObject(ch, "finish_reason", finish);
    else cJSON_AddNullToObject(ch, "finish_reason");
    return r;
}

/* Fills st->out with the next event(s); 0 ok, -1 error, 1 end of stream. */
static int next_events(stream_state *st)
{
    chat_job *j = st->job;
    eef_buf_clear(&st->out);
    st->off = 0;
    switch (st->phase) {
    case ST_ROLE:
        st->phase = ST_TEXT;
        return sse(st, delta_chunk(st, "assistant", "", NULL));
    case ST_TEXT: {
        chat_job_wait_progress(j, st->text_sent);
        pthread_mutex_lock(&j->mu);
        int rc = 0;
        if (j->text.len > st->text_sent) {
            char *piece = eef_strndup(j->text.data + st->text_sent, j->text.len - st->text_sent);
            st->text_sent = j->text.len;
            pthread_mutex_unlock(&j->mu);
            if (!piece) return -1;
            rc = sse(st, delta_chunk(st, NULL, piece, NULL));
            free(piece);
            return rc;
        }
        if (j->state == JOB_FAILED) {
            cJSON *r = cJSON_CreateObject(), *err = cJSON_AddObjectToObject(r, "error");
            cJSON_AddStringToObject(err, "message", j->err);
            cJSON_AddStringToObject(err, "type", "server_error");
            pthread_mutex_unlock(&j->mu);
            st->phase = ST_DONE;
            return sse(st, r);
        }
        pthread_mutex_unlock(&j->mu);
        st->phase = ST_FINISH;
        return next_events(st);
    }
    case ST_FINISH:
        st->phase = st->include_usage ? ST_USAGE : ST_DONE;
        return sse(st, delta_chunk(st, NULL, NULL, j->finish ? j->finish : "length"));
    case ST_USAGE: {
        st->phase = ST_DONE;
        cJSON *r = envelope(st->cs, st->id, "chat.completion.chunk");
        cJSON_AddArrayToObject(r, "choices");
        cJSON_AddItemToObject(r, "usage", usage_json(j->n_prompt, j->completion_tokens));
        return sse(st, r);
    }
    case ST_DONE:
        st->phase = ST_END;
        return eef_buf_puts(&st->out, "data: [DONE]\n\n") ? -1 : 0;
    case ST_END: break;
    }
    return 1;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream_state *st = cls;
    while (st->off >= st->out.len) {
        int rc = next_events(st);
        if (rc > 0) return MHD_CONTENT_READER_END_OF_STREAM;
        if (rc < 0) return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = EEF_MIN(max, st->out.len - st->off);
    memcpy(buf, st->out.data + st->off, n);
    st->off += n;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    stream_state *st = cls;
    /* the client may have left: stop generating for it */
    __atomic_store_n(&st->job->cancelled, 1, __ATOMIC_RELAXED);
    chat_job_release(st->job);
    eef_buf_free(&st->out);
    free(st);
}

static enum MHD_Result stream_reply(chat_server *cs, struct MHD_Connection *c, chat_job *j,
                                    const char *id, int include_usage)
{
    stream_state *st = eef_calloc(1, sizeof *st);
    if (!st) return openai_error(c, 503, "server_error", NULL, NULL, "out of memory");
    st->cs = cs;
    st->job = j;
    snprintf(st->id, sizeof st->id, "%s", id);
    st->include_usage = include_usage;
    eef_buf_init(&st->out);
    pthread_mutex_lock(&j->mu);
    j->refs++;
    pthread_mutex_unlock(&j->mu);
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, st, stream_free);
    if (!r) {
        stream_free(st);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ok;
}

/* ------------------------------------------------------------ completions */
static enum MHD_Result completions(chat_server *cs, const http_req *r)
{
    const eef_model *m = cs->m;
    chat_req req;
    const char *param = NULL;
    if (chat_req_parse(r->body, r->body_len, &req, &param))
        return openai_error(r->conn, MHD_HTTP_BAD_REQUEST, "invalid_request_error", NULL, param,
                            eef_errmsg());
    const int ctx = m->cfg.max_ctx;
    char msg[256];
    /* the prompt's budget leaves room for the reply: max_tokens when given,
     * else a quarter of the context (at most 256 tokens); elided
     * observations make it fit (see eef_prompt_build) */
    long reserve = req.max_tokens > 0 ? req.max_tokens : EEF_MIN(256, ctx / 4);
    if (ctx - reserve < 16) {
        snprintf(msg, sizeof msg, "max_tokens %ld leaves no room for a prompt in the model's "
                 "context of %d tokens", req.max_tokens, ctx);
        chat_req_free(&req);
        return openai_error(r->conn, MHD_HTTP_BAD_REQUEST, "invalid_request_error",
                            "context_length_exceeded", "max_tokens", msg);
    }
    eef_prompt p = { 0 };
    eef_err e = chat_req_prompt(&req, m->tok, (int)(ctx - reserve), &p);
    if (e) {
        chat_req_free(&req);
        eef_prompt_free(&p);
        if (e == EEF_ENOMEM) return openai_error(r->conn, 503, "server_error", NULL, NULL, "out of memory");
        return openai_error(r->conn, MHD_HTTP_BAD_REQUEST, "invalid_request_error",
                            "context_length_exceeded", "messages", eef_errmsg());
    }
    long max_new = req.max_tokens > 0 ? req.max_tokens : ctx;
    max_new = EEF_MIN(max_new, (long)ctx - p.n);
    uint64_t n = __atomic_fetch_add(&cs->requests, 1, __ATOMIC_RELAXED);
    uint64_t key = req.has_seed ? eef_rng_key(req.seed, EEF_STREAM_SERVE, 0, 0)
                                : eef_rng_key(0, EEF_STREAM_SERVE, 1, n);
    eef_sampling s = { .temperature = req.temperature, .top_p = req.top_p };
    free(p.mask);
    chat_job *j = chat_job_new(p.tokens, p.n, (int)max_new, &s, key, &req.stop,
                               eef_now() + cs->cfg.queue_timeout);
    int stream = req.stream, include_usage = req.include_usage;
    chat_req_free(&req);
    if (!j) {
        free(p.tokens);
        return openai_error(r->conn, 503, "server_error", NULL, NULL, "out of memory");
    }
    if (gen_pool_submit(cs->pool, j)) {
        chat_job_release(j);
        return openai_error(r->conn, MHD_HTTP_SERVICE_UNAVAILABLE, "server_error", "overloaded",
                            NULL, eef_errmsg());
    }
    /* answer errors with a status while we still can: wait for a worker */
    chat_job_wait_start(j);
    pthread_mutex_lock(&j->mu);
    int failed = j->state == JOB_FAILED;
    unsigned status = j->err_status;
    snprintf(msg, sizeof msg, "%s", j->err);
    pthread_mutex_unlock(&j->mu);
    char id[40];
    make_id(cs, n, id, sizeof id);
    enum MHD_Result ok;
    if (failed) ok = openai_error(r->conn, status, "server_error", status == 503 ? "overloaded" : NULL, NULL, msg);
    else if (stream) ok = stream_reply(cs, r->conn, j, id, include_usage);
    else ok = plain_reply(cs, r->conn, j, id);
    if (failed || !stream) __atomic_store_n(&j->cancelled, 1, __ATOMIC_RELAXED);
    chat_job_release(j);
    return ok;
}

/* ------------------------------------------------------------ routes */
static cJSON *model_json(chat_server *cs)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", cs->model_name);
    cJSON_AddStringToObject(o, "object", "model");
    cJSON_AddNumberToObject(o, "created", (double)cs->created);
    cJSON_AddStringToObject(o, "owned_by", "eef");
    return o;
}

static int authorized(chat_server *cs, const http_req *r)
{
    if (!cs->api_key) return 1;
    const char *auth = http_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0) return 0;
    auth += 7;
    while (*auth == ' ') auth++;
    return http_secure_equal(auth, cs->api_key);
}

static enum MHD_Result method_not_allowed(const http_req *r, const char *allowed)
{
    char msg[160];
    snprintf(msg, sizeof msg, "%s is not allowed on %.80s (use %s)", r->method, r->path, allowed);
    return openai_error(r->conn, MHD_HTTP_METHOD_NOT_ALLOWED, "invalid_request_error",
                        "method_not_allowed", NULL, msg);
}

static enum MHD_Result chat_handle(eef_server *s, const http_req *r)
{
    chat_server *cs = s->impl;
    int get = strcmp(r->method, "GET") == 0, post = strcmp(r->method, "POST") == 0;
    if (strcmp(r->path, "/health") == 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "status", "ok");
        return http_send_json(r->conn, MHD_HTTP_OK, o);
    }
    if (strncmp(r->path, "/v1/", 4) == 0 && !authorized(cs, r))
        return openai_error(r->conn, MHD_HTTP_UNAUTHORIZED, "invalid_request_error",
                            "invalid_api_key",
                            NULL, "missing or incorrect API key: send the header "
                                  "'Authorization: Bearer KEY'");
    if (strcmp(r->path, "/v1/chat/completions") == 0)
        return post ? completions(cs, r) : method_not_allowed(r, "POST");
    if (strcmp(r->path, "/v1/models") == 0) {
        if (!get) return method_not_allowed(r, "GET");
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "object", "list");
        cJSON *data = cJSON_AddArrayToObject(o, "data");
        cJSON_AddItemToArray(data, model_json(cs));
        return http_send_json(r->conn, MHD_HTTP_OK, o);
    }
    if (strncmp(r->path, "/v1/models/", 11) == 0) {
        if (!get) return method_not_allowed(r, "GET");
        if (strcmp(r->path + 11, cs->model_name) == 0)
            return http_send_json(r->conn, MHD_HTTP_OK, model_json(cs));
        char msg[200];
        snprintf(msg, sizeof msg, "the model '%.100s' does not exist", r->path + 11);
        return openai_error(r->conn, MHD_HTTP_NOT_FOUND, "invalid_request_error",
                            "model_not_found", "model", msg);
    }
    char msg[200];
    snprintf(msg, sizeof msg, "unknown request URL: %s %.120s", r->method, r->path);
    return openai_error(r->conn, MHD_HTTP_NOT_FOUND, "invalid_request_error", "unknown_url",
                        NULL, msg);
}

static void chat_shutdown(eef_server *s)
{
    chat_server *cs = s->impl;
    gen_pool_stop(cs->pool);
}

static void chat_destroy(eef_server *s)
{
    chat_server *cs = s->impl;
    if (!cs) return;
    gen_pool_free(cs->pool);
    free(cs->api_key);
    free(cs->model_name);
    free(cs);
    s->impl = NULL;
}

static const http_kind chat_kind = {
    .handle = chat_handle,
    .error = kind_error,
    .shutdown = chat_shutdown,
    .destroy = chat_destroy,
};

eef_err eef_chat_server_start(const eef_model *m, const eef_chat_server_config *c,
                              eef_server **out)
{
    *out = NULL;
    if (!m->tok) return eef_fail(EEF_EINVAL, "serve: the model has no tokenizer");
    /* the prompt is the chat template, or eef's agent format, which needs
     * eef's delimiters (a base model without a template has neither) */
    if (!eef_tok_chat_name(m->tok) && eef_tok_roles_of(m->tok)->instr < 0)
        return eef_fail(EEF_EINVAL, "the model's tokenizer has no chat template (and is not "
                        "eef's own); serve an instruct model, or use eef generate");
    if (c->queue_timeout <= 0 || c->max_body < 64 || c->max_connections < 1)
        return eef_fail(EEF_EINVAL, "serve: invalid configuration");
    if (c->api_key && !*c->api_key) return eef_fail(EEF_EINVAL, "serve: the API key is empty");
    eef_server *s = eef_calloc(1, sizeof *s);
    chat_server *cs = eef_calloc(1, sizeof *cs);
    if (!s || !cs) {
        free(s);
        free(cs);
        return EEF_ENOMEM;
    }
    s->kind = &chat_kind;
    s->impl = cs;
    s->max_body = c->max_body;
    cs->m = m;
    cs->cfg = *c;
    cs->created = (long)time(NULL);
    cs->model_name = eef_strdup(c->model_name && *c->model_name ? c->model_name : "eef");
    eef_err e = cs->model_name ? EEF_OK : EEF_ENOMEM;
    if (!e && c->api_key && !(cs->api_key = eef_strdup(c->api_key))) e = EEF_ENOMEM;
    if (!e) e = gen_pool_start(m, c->workers, c->threads_per_worker, c->max_queue, &cs->pool);
    if (!e) e = http_start(s, c->host, c->port, (unsigned)c->max_connections, 120);
    if (e) {
        eef_server_stop(s);
        return e;
    }
    *out = s;
    return EEF_OK;
}

/* ------------------------------------------------------------ both kinds */
int eef_server_port(const eef_server *s) { return s->port; }

void eef_server_stop(eef_server *s)
{
    if (!s) return;
    if (s->daemon) { /* no new connections */
        MHD_socket fd = MHD_quiesce_daemon(s->daemon);
        if (fd != MHD_INVALID_SOCKET) close(fd);
    }
    if (s->kind->shutdown && s->impl) s->kind->shutdown(s);
    http_stop(s);
    if (s->kind->destroy) s->kind->destroy(s);
    free(s);
}

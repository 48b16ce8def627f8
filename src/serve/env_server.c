/* env_server.c: an environment on the HTTP API of AgentGym's environment
 * servers (agentenv-webshop, agentenv-alfworld).
 *
 * A session is one eef_episode on the shared environment.  Sessions are
 * numbered from 0 like AgentGym's; each request locks its session, so
 * different sessions step in parallel.  At most max_sessions exist; one
 * unused for idle_timeout seconds is closed (checked on every request).
 *
 * Tasks are addressed by AgentGym's data index (WebShop's session_id,
 * ALFWorld's game, or data_idx): indices [0, n_train) are eef's train
 * tasks in order, [n_train, n_train + n_test) its test tasks.
 *
 * The two dialects differ where AgentGym's servers differ: WebShop's
 * /create answers a bare id, /reset [observation, null], /step
 * {state, reward, done, info}, /available_actions {has_search_bar,
 * clickables}; ALFWorld's /create answers {id}, /reset and /step carry
 * "observation" and "available_actions" (a list).  Both accept the
 * session as "env_idx" or "id" and the task as "session_id", "game" or
 * "data_idx".  Step answers also carry "valid" (eef's flag), and the
 * /eef/... routes give eef's clients exact task and action data.
 * Errors are {"error": MESSAGE} with a 4xx/5xx status.
 */
#include "serve_internal.h"
#include "env/house/house.h" /* the task type an ALFWorld client reads */

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct session {
    long id;
    eef_episode *ep;
    pthread_mutex_t mu; /* one request at a time on a session */
    int refs;           /* requests holding it (under the server's mu) */
    double last_used;
    /* under mu */
    int has_task;
    long data_idx;
    eef_split split;
    size_t index;
    char *obs;
    double reward;
    int done, steps;
} session;

typedef struct {
    eef_env *env;
    eef_env_server_config cfg;
    char *env_name;
    size_t n_train, n_test;
    pthread_mutex_t mu;
    session **slots; /* [max_sessions]; NULL = free */
    int n_open;
    long next_id;
} env_server;

void eef_env_server_defaults(eef_env_server_config *c)
{
    *c = (eef_env_server_config){ .host = "127.0.0.1",
                                  .port = 36001,
                                  .api = EEF_API_WEBSHOP,
                                  .env_name = "env",
                                  .max_sessions = 1024,
                                  .idle_timeout = 600.0,
                                  .max_body = (size_t)1 << 20,
                                  .max_connections = 1024 };
}

eef_env_api eef_env_api_for(const char *env_name)
{
    return env_name && strcmp(env_name, "shop") == 0 ? EEF_API_WEBSHOP : EEF_API_ALFWORLD;
}

eef_err eef_env_api_parse(const char *s, eef_env_api *out)
{
    if (strcmp(s, "webshop") == 0) *out = EEF_API_WEBSHOP;
    else if (strcmp(s, "alfworld") == 0) *out = EEF_API_ALFWORLD;
    else return eef_fail(EEF_EINVAL, "unknown API '%s' (webshop or alfworld)", s);
    return EEF_OK;
}

static const char *api_name(eef_env_api a) { return a == EEF_API_WEBSHOP ? "webshop" : "alfworld"; }

/* ------------------------------------------------------------ replies */
static enum MHD_Result env_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum MHD_Result env_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    return http_send_json(c, status, o);
}

static enum MHD_Result kind_error(eef_server *s, struct MHD_Connection *c, unsigned status,
                                  const char *type, const char *msg)
{
    (void)s, (void)type;
    return env_error(c, status, "%s", msg);
}

/* ------------------------------------------------------------ sessions */
static void session_free(env_server *es, session *s)
{
    if (s->ep) es->env->ops->episode_close(s->ep);
    free(s->obs);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* Closes sessions idle too long and not in use.  Caller holds es->mu. */
static void reap_locked(env_server *es, double now)
{
    for (int i = 0; i < es->cfg.max_sessions; i++) {
        session *s = es->slots[i];
        if (s && s->refs == 0 && now - s->last_used > es->cfg.idle_timeout) {
            eef_debug("env-serve: session %ld idle for %.0f s: closed", s->id, now - s->last_used);
            es->slots[i] = NULL;
            es->n_open--;
            session_free(es, s);
        }
    }
}

/* The session `id`, locked and referenced; NULL when there is none. */
static session *acquire(env_server *es, long id)
{
    double now = eef_now();
    session *s = NULL;
    pthread_mutex_lock(&es->mu);
    reap_locked(es, now);
    for (int i = 0; i < es->cfg.max_sessions && !s; i++)
        if (es->slots[i] && es->slots[i]->id == id) s = es->slots[i];
    if (s) {
        s->refs++;
        s->last_used = now;
    }
    pthread_mutex_unlock(&es->mu);
    if (s) pthread_mutex_lock(&s->mu);
    return s;
}

static void release(env_server *es, session *s)
{
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_lock(&es->mu);
    s->refs--;
    s->last_used = eef_now();
    pthread_mutex_unlock(&es->mu);
}

/* ------------------------------------------------------------ request fields */
typedef struct {
    cJSON *body; /* parsed POST body, or NULL */
} args;

/* An integer argument: the first of `names` present in the body or the
 * query string.  0 found, 1 absent, -1 malformed (message in err). */
static int int_arg(const http_req *r, const args *a, const char *const *names, long *out,
                   char *err, size_t cap)
{
    for (const char *const *n = names; *n; n++) {
        const cJSON *v = a->body ? cJSON_GetObjectItemCaseSensitive(a->body, *n) : NULL;
        if (v && !cJSON_IsNull(v)) {
            if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
                fabs(v->valuedouble) > 9e15) {
                snprintf(err, cap, "'%s' must be an integer", *n);
                return -1;
            }
            *out = (long)v->valuedouble;
            return 0;
        }
        const char *q = http_query(r, *n);
        if (q) {
            char *end;
            long x = strtol(q, &end, 10);
            if (!*q || *end) {
                snprintf(err, cap, "'%s' must be an integer", *n);
                return -1;
            }
            *out = x;
            return 0;
        }
    }
    return 1;
}

static const char *const session_keys[] = { "env_idx", "id", NULL };
static const char *const task_keys[] = { "data_idx", "session_id", "game", NULL };

/* ------------------------------------------------------------ encoding state */
static cJSON *actions_list(const eef_actions *a)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < a->items.n; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(a->items.items[i]));
    return arr;
}

/* WebShop's form: the search bar, then what may be clicked ("search" is
 * the search button, listed when the bar is there, as WebShop does). */
static cJSON *actions_webshop(const eef_actions *a)
{
    cJSON *o = cJSON_CreateObject();
    int bar = a->free_prefix && strcmp(a->free_prefix, "search[") == 0;
    cJSON_AddBoolToObject(o, "has_search_bar", bar);
    cJSON *cl = cJSON_AddArrayToObject(o, "clickables");
    if (bar) cJSON_AddItemToArray(cl, cJSON_CreateString("search"));
    for (size_t i = 0; i < a->items.n; i++) {
        const char *s = a->items.items[i];
        size_t n = strlen(s);
        if (n >= 7 && strncmp(s, "click[", 6) == 0 && s[n - 1] == ']') {
            char *inner = eef_strndup(s + 6, n - 7);
            if (inner) cJSON_AddItemToArray(cl, cJSON_CreateString(inner));
            free(inner);
        } else {
            cJSON_AddItemToArray(cl, cJSON_CreateString(s));
        }
    }
    return o;
}

/* eef's exact form (GET /eef/actions). */
static cJSON *actions_eef(const eef_actions *a)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "items", actions_list(a));
    if (a->free_prefix) {
        cJSON_AddStringToObject(o, "free_prefix", a->free_prefix);
        cJSON_AddStringToObject(o, "free_suffix", a->free_suffix ? a->free_suffix : "");
    } else {
        cJSON_AddNullToObject(o, "free_prefix");
        cJSON_AddNullToObject(o, "free_suffix");
    }
    return o;
}

static eef_err session_actions(env_server *es, session *s, eef_actions *out)
{
    if (!s->has_task) return eef_fail(EEF_ESTATE, "session %ld has no task yet: POST /reset first", s->id);
    return es->env->ops->actions(s->ep, out);
}

static eef_err set_obs(session *s, const char *obs)
{
    char *o = eef_strdup(obs ? obs : "");
    if (!o) return EEF_ENOMEM;
    free(s->obs);
    s->obs = o;
    return EEF_OK;
}

/* ------------------------------------------------------------ routes */
static enum MHD_Result route_create(env_server *es, const http_req *r)
{
    double now = eef_now();
    pthread_mutex_lock(&es->mu);
    reap_locked(es, now);
    int slot = -1;
    for (int i = 0; i < es->cfg.max_sessions && slot < 0; i++)
        if (!es->slots[i]) slot = i;
    if (slot < 0) {
        pthread_mutex_unlock(&es->mu);
        return env_error(r->conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                         "too many sessions (the limit is %d): close some, or wait for idle "
                         "ones to expire after %g s", es->cfg.max_sessions, es->cfg.idle_timeout);
    }
    session *s = eef_calloc(1, sizeof *s);
    eef_err e = s ? es->env->ops->episode_open(es->env, &s->ep) : EEF_ENOMEM;
    if (e) {
        pthread_mutex_unlock(&es->mu);
        free(s);
        return env_error(r->conn, MHD_HTTP_SERVICE_UNAVAILABLE, "cannot open an episode: %s",
                         eef_errmsg());
    }
    pthread_mutex_init(&s->mu, NULL);
    s->id = es->next_id++;
    s->last_used = now;
    es->slots[slot] = s;
    es->n_open++;
    long id = s->id;
    pthread_mutex_unlock(&es->mu);
    if (es->cfg.api == EEF_API_WEBSHOP) return http_send_json(r->conn, MHD_HTTP_OK, cJSON_CreateNumber((double)id));
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)id);
    return http_send_json(r->conn, MHD_HTTP_OK, o);
}

static enum MHD_Result route_close(env_server *es, const http_req *r, long id)
{
    int closed = 0;
    pthread_mutex_lock(&es->mu);
    for (int i = 0; i < es->cfg.max_sessions; i++) {
        session *s = es->slots[i];
        if (s && s->id == id) {
            if (s->refs > 0) {
                pthread_mutex_unlock(&es->mu);
                return env_error(r->conn, MHD_HTTP_CONFLICT, "session %ld is in use", id);
            }
            es->slots[i] = NULL;
            es->n_open--;
            session_free(es, s);
            closed = 1;
            break;
        }
    }
    pthread_mutex_unlock(&es->mu);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "closed", closed);
    return http_send_json(r->conn, MHD_HTTP_OK, o);
}

static enum MHD_Result route_reset(env_server *es, const http_req *r, session *s, long data_idx)
{
    size_t total = es->n_train + es->n_test;
    if (data_idx < 0 || (size_t)data_idx >= total)
        return env_error(r->conn, MHD_HTTP_BAD_REQUEST,
                         "data index %ld out of range [0, %zu): train tasks are 0..%zu, test "
                         "tasks %zu..%zu", data_idx, total, es->n_train ? es->n_train - 1 : 0,
                         es->n_train, total ? total - 1 : 0);
    eef_split split = (size_t)data_idx < es->n_train ? EEF_SPLIT_TRAIN : EEF_SPLIT_TEST;
    size_t index = split == EEF_SPLIT_TRAIN ? (size_t)data_idx : (size_t)data_idx - es->n_train;
    eef_step st;
    eef_err e = es->env->ops->reset(s->ep, split, index, &st);
    if (!e) e = set_obs(s, st.obs);
    if (e) {
        s->has_task = 0;
        return env_error(r->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "reset failed: %s", eef_errmsg());
    }
    s->has_task = 1;
    s->data_idx = data_idx;
    s->split = split;
    s->index = index;
    s->reward = st.reward;
    s->done = st.done;
    s->steps = 0;
    if (es->cfg.api == EEF_API_WEBSHOP) {
        cJSON *arr = cJSON_CreateArray();
        cJSON_AddItemToArray(arr, cJSON_CreateString(s->obs));
        cJSON_AddItemToArray(arr, cJSON_CreateNull());
        return http_send_json(r->conn, MHD_HTTP_OK, arr);
    }
    eef_actions acts = { 0 };
    e = session_actions(es, s, &acts);
    if (e) {
        eef_actions_free(&acts);
        return env_error(r->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", eef_errmsg());
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)s->id);
    cJSON_AddStringToObject(o, "observation", s->obs);
    cJSON_AddItemToObject(o, "available_actions", actions_list(&acts));
    const char *type = eef_house_task_type(es->env, split, index);
    cJSON_AddStringToObject(o, "task_type", type ? type : es->env->ops->name);
    eef_actions_free(&acts);
    return http_send_json(r->conn, MHD_HTTP_OK, o);
}

static enum MHD_Result route_step(env_server *es, const http_req *r, session *s, const char *action)
{
    if (!s->has_task)
        return env_error(r->conn, MHD_HTTP_BAD_REQUEST, "session %ld has no task yet: POST /reset first", s->id);
    if (s->done)
        return env_error(r->conn, MHD_HTTP_BAD_REQUEST, "the task of session %ld has finished: POST /reset to start another", s->id);
    eef_step st;
    eef_err e = es->env->ops->step(s->ep, action, &st);
    if (!e) e = set_obs(s, st.obs);
    if (e) return env_error(r->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "step failed: %s", eef_errmsg());
    s->steps++;
    s->reward = st.reward;
    s->done = st.done;
    cJSON *o = cJSON_CreateObject();
    if (es->cfg.api == EEF_API_WEBSHOP) {
        cJSON_AddStringToObject(o, "state", s->obs);
        cJSON_AddNumberToObject(o, "reward", st.reward);
        cJSON_AddBoolToObject(o, "done", st.done);
        cJSON_AddNullToObject(o, "info");
    } else {
        eef_actions acts = { 0 };
        if (session_actions(es, s, &acts)) {
            eef_actions_free(&acts);
            cJSON_Delete(o);
            return env_error(r->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", eef_errmsg());
        }
        cJSON_AddStringToObject(o, "observation", s->obs);
        cJSON_AddNumberToObject(o, "reward", st.reward);
        cJSON_AddItemToObject(o, "available_actions", actions_list(&acts));
        cJSON_AddBoolToObject(o, "done", st.done);
        eef_actions_free(&acts);
    }
    cJSON_AddBoolToObject(o, "valid", st.valid);
    return http_send_json(r->conn, MHD_HTTP_OK, o);
}

static enum MHD_Result route_actions(env_server *es, const http_req *r, session *s, int eef_form)
{
    eef_actions acts = { 0 };
    if (session_actions(es, s, &acts)) {
        eef_actions_free(&acts);
        return env_error(r->conn, MHD_HTTP_BAD_REQUEST, "%s", eef_errmsg());
    }
    cJSON *o = eef_form ? actions_eef(&acts)
               : es->cfg.api == EEF_API_WEBSHOP ? actions_webshop(&acts) : actions_list(&acts);
    eef_actions_free(&acts);
    return http_send_json(r->conn, MHD_HTTP_OK, o);
}

static enum MHD_Result route_detail(env_server *es, const http_req *r, session *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)s->id);
    if (s->has_task) {
        eef_actions acts = { 0 };
        if (!session_actions(es, s, &acts)) cJSON_AddItemToObject(o, "available_actions", actions_list(&acts));
        eef_actions_free(&acts);
        cJSON_AddNumberToObject(o, "data_idx", (double)s->data_idx);
        cJSON_AddStringToObject(o, "observation", s->obs);
    }
    cJSON_AddNumberToObject(o, "reward", s->reward);
    cJSON_AddBoolToObject(o, "done", s->done);
    cJSON_AddNumberToObject(o, "steps", s->steps);
    cJSON_AddBoolToObject(o, "deleted", 0);
    return http_send_json(r->conn, MHD_HTTP_OK, o);
}

static enum MHD_Result route_info(env_server *es, const http_req *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "eef", "env-serve");
    cJSON_AddNumberToObject(o, "version", 1);
    cJSON_AddStringToObject(o, "env", es->env_name);
    cJSON_AddStringToObject(o, "api", api_name(es->cfg.api));
    cJSON_AddNumberToObject(o, "train", (double)es->n_train);
    cJSON_AddNumberToObject(o, "test", (double)es->n_test);
    cJSON_AddNumberToObject(o, "max_steps", es->env->max_steps);
    cJSON_AddNumberToObject(o, "max_sessions", es->cfg.max_sessions);
    cJSON_AddNumberToObject(o, "idle_timeout", es->cfg.idle_timeout);
    pthread_mutex_lock(&es->mu);
    cJSON_AddNumberToObject(o, "sessions", es->n_open);
    pthread_mutex_unlock(&es->mu);
    return http_send_json(r->conn, MHD_HTTP_OK, o);
}

static enum MHD_Result route_task(env_server *es, const http_req *r, long data_idx)
{
    size_t total = es->n_train + es->n_test;
    if (data_idx < 0 || (size_t)data_idx >= total)
        return env_error(r->conn, MHD_HTTP_NOT_FOUND, "data index %ld out of range [0, %zu)", data_idx, total);
    eef_split split = (size_t)data_idx < es->n_train ? EEF_SPLIT_TRAIN : EEF_SPLIT_TEST;
    size_t index = split == EEF_SPLIT_TRAIN ? (size_t)data_idx : (size_t)data_idx - es->n_train;
    eef_task t;
    if (es->env->ops->task(es->env, split, index, &t))
        return env_error(r->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", eef_errmsg());
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "data_idx", (double)data_idx);
    cJSON_AddStringToObject(o, "id", t.id);
    cJSON_AddStringToObject(o, "split", eef_split_name(t.split));
    cJSON_AddNumberToObject(o, "index", (double)t.index);
    cJSON_AddStringToObject(o, "tier", eef_tier_name(t.tier));
    cJSON_AddStringToObject(o, "instruction", t.instruction ? t.instruction : "");
    return http_send_json(r->conn, MHD_HTTP_OK, o);
}

static enum MHD_Result route_list(env_server *es, const http_req *r)
{
    cJSON *arr = cJSON_CreateArray();
    pthread_mutex_lock(&es->mu);
    reap_locked(es, eef_now());
    for (int i = 0; i < es->cfg.max_sessions; i++)
        if (es->slots[i]) cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)es->slots[i]->id));
    pthread_mutex_unlock(&es->mu);
    return http_send_json(r->conn, MHD_HTTP_OK, arr);
}

/* Routes that act on one session: find it, lock it, run, release. */
static enum MHD_Result session_route(env_server *es, const http_req *r, const args *a)
{
    char err[128];
    long id = 0;
    int rc = int_arg(r, a, session_keys, &id, err, sizeof err);
    if (rc < 0) return env_error(r->conn, MHD_HTTP_BAD_REQUEST, "%s", err);
    if (rc > 0) return env_error(r->conn, MHD_HTTP_BAD_REQUEST, "the session id is missing (\"env_idx\" or \"id\")");
    if (strcmp(r->path, "/close") == 0) return route_close(es, r, id);
    long data_idx = -1;
    const char *action = NULL;
    if (strcmp(r->path, "/reset") == 0) {
        rc = int_arg(r, a, task_keys, &data_idx, err, sizeof err);
        if (rc < 0) return env_error(r->conn, MHD_HTTP_BAD_REQUEST, "%s", err);
        if (rc > 0)
            return env_error(r->conn, MHD_HTTP_BAD_REQUEST,
                             "the task index is missing (\"data_idx\", \"session_id\" or \"game\")");
    } else if (strcmp(r->path, "/step") == 0) {
        const cJSON *v = a->body ? cJSON_GetObjectItemCaseSensitive(a->body, "action") : NULL;
        if (!cJSON_IsString(v)) return env_error(r->conn, MHD_HTTP_BAD_REQUEST, "\"action\" must be a string");
        action = v->valuestring;
    }
    session *s = acquire(es, id);
    if (!s)
        return env_error(r->conn, MHD_HTTP_NOT_FOUND,
                         "unknown session %ld (never created, closed, or idle for more than %g s)",
                         id, es->cfg.idle_timeout);
    enum MHD_Result ok;
    const char *p = r->path;
    if (strcmp(p, "/reset") == 0) ok = route_reset(es, r, s, data_idx);
    else if (strcmp(p, "/step") == 0) ok = route_step(es, r, s, action);
    else if (strcmp(p, "/available_actions") == 0) ok = route_actions(es, r, s, 0);
    else if (strcmp(p, "/eef/actions") == 0) ok = route_actions(es, r, s, 1);
    else if (strcmp(p, "/detail") == 0) ok = route_detail(es, r, s);
    else if (!s->has_task) ok = env_error(r->conn, MHD_HTTP_BAD_REQUEST, "session %ld has no task yet: POST /reset first", id);
    else if (strcmp(p, "/observation") == 0) ok = http_send_json(r->conn, MHD_HTTP_OK, cJSON_CreateString(s->obs));
    else { /* /instruction_text */
        eef_task t;
        eef_buf b;
        eef_buf_init(&b);
        if (es->env->ops->task(es->env, s->split, s->index, &t) ||
            eef_buf_printf(&b, "Instruction: %s", t.instruction ? t.instruction : ""))
            ok = env_error(r->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", eef_errmsg());
        else ok = http_send_json(r->conn, MHD_HTTP_OK, cJSON_CreateString(b.data));
        eef_buf_free(&b);
    }
    release(es, s);
    return ok;
}

typedef struct {
    const char *path;
    int post;    /* 1 POST, 0 GET */
    int session; /* acts on one session */
} route;

static const route routes[] = {
    { "/create", 1, 0 },           { "/reset", 1, 1 },       { "/step", 1, 1 },
    { "/close", 1, 1 },            { "/observation", 0, 1 }, { "/available_actions", 0, 1 },
    { "/instruction_text", 0, 1 }, { "/detail", 0, 1 },      { "/eef/actions", 0, 1 },
    { "/list_envs", 0, 0 },        { "/eef/info", 0, 0 },    { "/eef/task", 0, 0 },
    { "/", 0, 0 },
};

static enum MHD_Result env_handle(eef_server *srv, const http_req *r)
{
    env_server *es = srv->impl;
    const route *rt = NULL;
    for (size_t i = 0; i < EEF_ARRAY_LEN(routes) && !rt; i++)
        if (strcmp(routes[i].path, r->path) == 0) rt = &routes[i];
    if (!rt) return env_error(r->conn, MHD_HTTP_NOT_FOUND, "unknown route %s %.120s", r->method, r->path);
    if (strcmp(r->method, rt->post ? "POST" : "GET") != 0)
        return env_error(r->conn, MHD_HTTP_METHOD_NOT_ALLOWED, "%s %s: use %s", r->method, r->path,
                         rt->post ? "POST" : "GET");
    args a = { 0 };
    if (rt->post && r->body_len) {
        if (!eef_utf8_valid(r->body, r->body_len) ||
            !(a.body = cJSON_ParseWithLength(r->body, r->body_len)) || !cJSON_IsObject(a.body)) {
            cJSON_Delete(a.body);
            return env_error(r->conn, MHD_HTTP_BAD_REQUEST, "the body must be a JSON object");
        }
    }
    enum MHD_Result ok;
    if (rt->session) ok = session_route(es, r, &a);
    else if (strcmp(r->path, "/create") == 0) ok = route_create(es, r);
    else if (strcmp(r->path, "/list_envs") == 0) ok = route_list(es, r);
    else if (strcmp(r->path, "/eef/info") == 0) ok = route_info(es, r);
    else if (strcmp(r->path, "/eef/task") == 0) {
        char err[128];
        long idx = 0;
        int rc = int_arg(r, &a, task_keys, &idx, err, sizeof err);
        if (rc) ok = env_error(r->conn, MHD_HTTP_BAD_REQUEST, "%s", rc < 0 ? err : "data_idx is missing");
        else ok = route_task(es, r, idx);
    } else {
        ok = http_send_json(r->conn, MHD_HTTP_OK,
                            cJSON_CreateString(es->cfg.api == EEF_API_WEBSHOP
                                                   ? "ok"
                                                   : "This is environment AlfWorld (eef env-serve)."));
    }
    cJSON_Delete(a.body);
    return ok;
}

static void env_destroy(eef_server *srv)
{
    env_server *es = srv->impl;
    if (!es) return;
    for (int i = 0; es->slots && i < es->cfg.max_sessions; i++)
        if (es->slots[i]) session_free(es, es->slots[i]);
    free(es->slots);
    free(es->env_name);
    pthread_mutex_destroy(&es->mu);
    free(es);
    srv->impl = NULL;
}

static const http_kind env_kind = {
    .handle = env_handle,
    .error = kind_error,
    .shutdown = NULL,
    .destroy = env_destroy,
};

eef_err eef_env_server_start(eef_env *env, const eef_env_server_config *c, eef_server **out)
{
    *out = NULL;
    if (c->max_sessions < 1 || c->max_sessions > 1000000 || !(c->idle_timeout > 0) ||
        c->max_body < 64 || c->max_connections < 1)
        return eef_fail(EEF_EINVAL, "env-serve: invalid configuration");
    eef_server *s = eef_calloc(1, sizeof *s);
    env_server *es = eef_calloc(1, sizeof *es);
    if (!s || !es) {
        free(s);
        free(es);
        return EEF_ENOMEM;
    }
    s->kind = &env_kind;
    s->impl = es;
    s->max_body = c->max_body;
    es->env = env;
    es->cfg = *c;
    pthread_mutex_init(&es->mu, NULL);
    es->n_train = env->ops->n_tasks(env, EEF_SPLIT_TRAIN);
    es->n_test = env->ops->n_tasks(env, EEF_SPLIT_TEST);
    es->slots = eef_calloc((size_t)c->max_sessions, sizeof *es->slots);
    es->env_name = eef_strdup(c->env_name ? c->env_name : env->ops->name);
    eef_err e = es->slots && es->env_name ? EEF_OK : EEF_ENOMEM;
    if (!e) e = http_start(s, c->host, c->port, (unsigned)c->max_connections, 300);
    if (e) {
        eef_server_stop(s);
        return e;
    }
    *out = s;
    return EEF_OK;
}

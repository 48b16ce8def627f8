/* remote_env.c: "remote:URL" — an environment served over HTTP with the
 * API of AgentGym's environment servers (agentenv-webshop,
 * agentenv-alfworld, or eef env-serve), as an eef_env.
 *
 * Each episode is one server session (created at its first reset, closed
 * with the episode).  AgentGym servers index tasks by a data index; the
 * options map eef's splits onto index ranges:
 *
 *   train=A-B,test=C-D  data indices A..B (inclusive) are the train tasks
 *                       0..B-A, C..D the test tasks (required unless the
 *                       server is eef env-serve, which says its own)
 *   api=auto|webshop|alfworld   the server's dialect (auto: ask it)
 *   timeout=S    seconds one request may take (default 30)
 *   retries=N    further attempts of a failed request (default 3)
 *   backoff=S    wait before the first retry, doubled each time (0.1)
 *   max_steps=N  step limit (default: the server's, else webshop 15,
 *                alfworld 50)
 *   world_type=Text   ALFWorld's reset field
 *   eef=0        ignore eef env-serve's /eef routes (exact task and action
 *                data) and speak only AgentGym's API
 *
 * Validity: eef env-serve says whether an action was valid; with an
 * AgentGym server an action is valid when it is one of the available
 * actions (or fits the search bar).
 */
#include "remote_internal.h"

#include "env/shop/shop.h" /* WebShop's page text */

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_TIMEOUT 30.0
#define DEFAULT_RETRIES 3
#define DEFAULT_BACKOFF 0.1

/* ------------------------------------------------------------ options */
typedef struct {
    remote_env *re;
    int api_set, ranges_set[2], steps_set;
} opt_ctx;

static eef_err parse_range(const char *key, const char *v, long *lo, long *n)
{
    char *end;
    long a = strtol(v, &end, 10);
    if (end == v || *end != '-')
        return eef_fail(EEF_EINVAL, "remote: %s=%s is not a range A-B of data indices", key, v);
    const char *p = end + 1;
    long b = strtol(p, &end, 10);
    if (end == p || *end || a < 0 || b < a)
        return eef_fail(EEF_EINVAL, "remote: %s=%s is not a range A-B with 0 <= A <= B", key, v);
    *lo = a;
    *n = b - a + 1;
    return EEF_OK;
}

static eef_err on_option(const char *key, const char *v, void *ctx)
{
    opt_ctx *o = ctx;
    remote_env *re = o->re;
    long x;
    if (strcmp(key, "train") == 0 || strcmp(key, "test") == 0) {
        int s = strcmp(key, "test") == 0;
        o->ranges_set[s] = 1;
        return parse_range(key, v, &re->lo[s], &re->n[s]);
    }
    if (strcmp(key, "api") == 0) {
        if (strcmp(v, "auto") == 0) return EEF_OK;
        if (strcmp(v, "webshop") == 0) re->api = API_WEBSHOP;
        else if (strcmp(v, "alfworld") == 0) re->api = API_ALFWORLD;
        else return eef_fail(EEF_EINVAL, "remote: api=%s (auto, webshop or alfworld)", v);
        o->api_set = 1;
        return EEF_OK;
    }
    if (strcmp(key, "timeout") == 0) return eef_parse_double(v, 0.01, 86400, "remote timeout", &re->pol.timeout);
    if (strcmp(key, "backoff") == 0) return eef_parse_double(v, 0, 60, "remote backoff", &re->pol.backoff);
    if (strcmp(key, "retries") == 0) {
        EEF_TRY(eef_parse_long(v, 0, 20, "remote retries", &x));
        re->pol.retries = (int)x;
        return EEF_OK;
    }
    if (strcmp(key, "max_steps") == 0) {
        EEF_TRY(eef_parse_long(v, 1, 100000, "remote max_steps", &x));
        re->base.max_steps = (int)x;
        o->steps_set = 1;
        return EEF_OK;
    }
    if (strcmp(key, "world_type") == 0) {
        if (strcmp(v, "Text") && strcmp(v, "Embody") && strcmp(v, "Hybrid"))
            return eef_fail(EEF_EINVAL, "remote: world_type=%s (Text, Embody or Hybrid)", v);
        snprintf(re->world_type, sizeof re->world_type, "%s", v);
        return EEF_OK;
    }
    if (strcmp(key, "eef") == 0) {
        EEF_TRY(eef_parse_long(v, 0, 1, "remote eef", &x));
        re->eef = (int)x;
        return EEF_OK;
    }
    return eef_fail(EEF_EINVAL, "remote: unknown option '%s' (train, test, api, timeout, retries, "
                    "backoff, max_steps, world_type, eef)", key);
}

/* ------------------------------------------------------------ actions */
static eef_err strings_to_items(const cJSON *arr, eef_strlist *items, const char *what)
{
    if (!cJSON_IsArray(arr)) return eef_fail(EEF_ENET, "remote: %s is not a list", what);
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsString(it)) return eef_fail(EEF_ENET, "remote: %s holds a non-string", what);
        if (eef_strlist_push(items, it->valuestring)) return EEF_ENOMEM;
    }
    return EEF_OK;
}

/* The answer of GET /available_actions (or the list in an ALFWorld
 * reset/step answer) as eef actions. */
static eef_err parse_actions(remote_env *re, const cJSON *j, eef_actions *out)
{
    eef_strlist_clear(&out->items);
    out->free_prefix = out->free_suffix = NULL;
    if (re->api == API_ALFWORLD) return strings_to_items(j, &out->items, "available_actions");
    const cJSON *bar = cJSON_GetObjectItemCaseSensitive(j, "has_search_bar");
    const cJSON *cl = cJSON_GetObjectItemCaseSensitive(j, "clickables");
    if (!cJSON_IsBool(bar) || !cJSON_IsArray(cl))
        return eef_fail(EEF_ENET, "remote %s: available_actions: expected {has_search_bar, "
                        "clickables}", re->url);
    int has_bar = cJSON_IsTrue(bar);
    if (has_bar) out->free_prefix = "search[", out->free_suffix = "]";
    const cJSON *it;
    eef_buf b;
    eef_buf_init(&b);
    cJSON_ArrayForEach(it, cl)
    {
        if (!cJSON_IsString(it)) continue;
        if (has_bar && strcmp(it->valuestring, "search") == 0) continue; /* the search button */
        eef_buf_clear(&b);
        if (eef_buf_printf(&b, "click[%s]", it->valuestring) || eef_strlist_push(&out->items, b.data)) {
            eef_buf_free(&b);
            return EEF_ENOMEM;
        }
    }
    eef_buf_free(&b);
    return EEF_OK;
}

static eef_err parse_eef_actions(remote_env *re, const cJSON *j, eef_actions *out)
{
    eef_strlist_clear(&out->items);
    out->free_prefix = out->free_suffix = NULL;
    EEF_TRY(strings_to_items(cJSON_GetObjectItemCaseSensitive(j, "items"), &out->items, "items"));
    const cJSON *fp = cJSON_GetObjectItemCaseSensitive(j, "free_prefix");
    const cJSON *fs = cJSON_GetObjectItemCaseSensitive(j, "free_suffix");
    if (cJSON_IsString(fp)) {
        /* eef's environments have one free slot, the search bar; the
         * strings must outlive the answer, so they are matched to ours */
        if (strcmp(fp->valuestring, "search[") != 0 || !cJSON_IsString(fs) ||
            strcmp(fs->valuestring, "]") != 0)
            return eef_fail(EEF_ENET, "remote %s: unsupported free-text slot '%s...'", re->url,
                            fp->valuestring);
        out->free_prefix = "search[", out->free_suffix = "]";
    }
    return EEF_OK;
}

static eef_err fetch_actions(remote_episode *ep)
{
    remote_env *re = (remote_env *)ep->base.env;
    char query[64];
    snprintf(query, sizeof query, "%s=%ld", remote_id_key(re), ep->id);
    cJSON *j;
    EEF_TRY(remote_http_call(&ep->http, re->url, &re->pol, REQ_REPEATABLE, "GET",
                             re->eef ? "/eef/actions" : "/available_actions", query, NULL, &j,
                             NULL));
    eef_err e = re->eef ? parse_eef_actions(re, j, &ep->acts) : parse_actions(re, j, &ep->acts);
    cJSON_Delete(j);
    if (!e) ep->acts_fresh = 1;
    return e;
}

/* ------------------------------------------------------------ episodes */
static size_t remote_n_tasks(const eef_env *env, eef_split split)
{
    const remote_env *re = (const remote_env *)env;
    return (size_t)re->n[split == EEF_SPLIT_TEST];
}

static eef_err remote_task_info(const eef_env *env, eef_split split, size_t index, eef_task *out)
{
    return remote_task_get((remote_env *)env, split, index, out);
}

static eef_err remote_episode_open(eef_env *env, eef_episode **out)
{
    remote_episode *ep = eef_calloc(1, sizeof *ep);
    if (!ep) return EEF_ENOMEM;
    ep->base.env = env;
    ep->id = -1;
    eef_buf_init(&ep->obs);
    eef_err e = remote_http_init(&ep->http);
    if (e) {
        free(ep);
        return e;
    }
    *out = &ep->base;
    return EEF_OK;
}

static void remote_episode_close(eef_episode *epb)
{
    remote_episode *ep = (remote_episode *)epb;
    if (!ep) return;
    if (ep->id >= 0) remote_close_session((remote_env *)ep->base.env, &ep->http, ep->id);
    remote_http_free(&ep->http);
    eef_buf_free(&ep->obs);
    eef_actions_free(&ep->acts);
    free(ep);
}

static eef_err set_obs(remote_episode *ep, const char *s)
{
    eef_buf_clear(&ep->obs);
    return eef_buf_puts(&ep->obs, s) ? EEF_ENOMEM : EEF_OK;
}

static eef_err remote_reset(eef_episode *epb, eef_split split, size_t index, eef_step *out)
{
    remote_episode *ep = (remote_episode *)epb;
    remote_env *re = (remote_env *)ep->base.env;
    int s = split == EEF_SPLIT_TEST;
    if (index >= (size_t)re->n[s])
        return eef_fail(EEF_EINVAL, "remote: %s task %zu out of range (%ld tasks)",
                        eef_split_name(split), index, re->n[s]);
    long data_idx = re->lo[s] + (long)index;
    ep->has_task = 0;
    ep->acts_fresh = 0;
    cJSON *j = NULL;
    eef_err e = remote_reset_session(re, &ep->http, &ep->id, data_idx, &j);
    if (e) return e;
    const cJSON *obs = NULL;
    if (re->api == API_WEBSHOP) {
        obs = cJSON_IsArray(j) ? cJSON_GetArrayItem(j, 0) : j;
    } else {
        obs = cJSON_GetObjectItemCaseSensitive(j, "observation");
        const cJSON *acts = cJSON_GetObjectItemCaseSensitive(j, "available_actions");
        if (!re->eef && acts && !(e = parse_actions(re, acts, &ep->acts))) ep->acts_fresh = 1;
    }
    if (!e && !cJSON_IsString(obs))
        e = eef_fail(EEF_ENET, "remote %s: POST /reset: the answer has no observation", re->url);
    if (!e) e = set_obs(ep, obs->valuestring);
    cJSON_Delete(j);
    if (e) return e;
    ep->has_task = 1;
    ep->done = 0;
    ep->steps = 0;
    ep->reward = 0;
    *out = (eef_step){ .obs = ep->obs.data, .reward = 0, .done = 0, .valid = 1 };
    return EEF_OK;
}

static eef_err remote_step(eef_episode *epb, const char *action, eef_step *out)
{
    remote_episode *ep = (remote_episode *)epb;
    remote_env *re = (remote_env *)ep->base.env;
    if (!ep->has_task) return eef_fail(EEF_ESTATE, "remote: step before reset");
    if (ep->done) return eef_fail(EEF_ESTATE, "remote: step after the episode ended (reset first)");
    if (!action) return eef_fail(EEF_EINVAL, "remote: step with a NULL action");
    int valid = 1;
    if (!re->eef) { /* AgentGym servers do not say: judge by the available actions */
        if (!ep->acts_fresh) EEF_TRY(fetch_actions(ep));
        valid = eef_actions_allows(&ep->acts, action);
        /* WebShop lowercases what is clicked and its clickables */
        for (size_t i = 0; !valid && re->api == API_WEBSHOP && i < ep->acts.items.n; i++)
            valid = strcasecmp(ep->acts.items.items[i], action) == 0;
    }
    cJSON *body = cJSON_CreateObject();
    char *text = NULL;
    if (body && cJSON_AddNumberToObject(body, remote_id_key(re), (double)ep->id) &&
        cJSON_AddStringToObject(body, "action", action))
        text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    if (!text) return eef_fail(EEF_ENOMEM, "out of memory building a step");
    cJSON *j = NULL;
    eef_err e = remote_http_call(&ep->http, re->url, &re->pol, REQ_ONCE, "POST", "/step", NULL,
                                 text, &j, NULL);
    free(text);
    if (e) return e;
    ep->acts_fresh = 0;
    const cJSON *obs = cJSON_GetObjectItemCaseSensitive(j, re->api == API_WEBSHOP ? "state" : "observation");
    const cJSON *rw = cJSON_GetObjectItemCaseSensitive(j, "reward");
    const cJSON *dn = cJSON_GetObjectItemCaseSensitive(j, "done");
    const cJSON *vd = cJSON_GetObjectItemCaseSensitive(j, "valid");
    if (!cJSON_IsString(obs) || !cJSON_IsNumber(rw) || !cJSON_IsBool(dn))
        e = eef_fail(EEF_ENET, "remote %s: POST /step: the answer lacks %s, reward or done",
                     re->url, re->api == API_WEBSHOP ? "state" : "observation");
    if (!e) e = set_obs(ep, obs->valuestring);
    if (!e && re->api == API_ALFWORLD && !re->eef) {
        const cJSON *acts = cJSON_GetObjectItemCaseSensitive(j, "available_actions");
        if (acts && !(e = parse_actions(re, acts, &ep->acts))) ep->acts_fresh = 1;
    }
    if (!e) {
        if (re->eef && cJSON_IsBool(vd)) valid = cJSON_IsTrue(vd);
        ep->steps++;
        ep->done = cJSON_IsTrue(dn);
        ep->reward = ep->done ? rw->valuedouble : 0.0;
        if (!ep->done && ep->steps >= re->base.max_steps) ep->done = 1; /* out of steps: reward 0 */
    }
    cJSON_Delete(j);
    if (e) return e;
    *out = (eef_step){ .obs = ep->obs.data, .reward = ep->reward, .done = ep->done, .valid = valid };
    return EEF_OK;
}

static eef_err remote_actions(eef_episode *epb, eef_actions *out)
{
    remote_episode *ep = (remote_episode *)epb;
    eef_strlist_clear(&out->items);
    out->free_prefix = out->free_suffix = NULL;
    if (!ep->has_task) return eef_fail(EEF_ESTATE, "remote: actions before reset");
    if (ep->done) return EEF_OK; /* nothing may be done after the end */
    if (!ep->acts_fresh) EEF_TRY(fetch_actions(ep));
    for (size_t i = 0; i < ep->acts.items.n; i++)
        if (eef_strlist_push(&out->items, ep->acts.items.items[i])) return EEF_ENOMEM;
    out->free_prefix = ep->acts.free_prefix;
    out->free_suffix = ep->acts.free_suffix;
    return EEF_OK;
}

static void remote_close(eef_env *env)
{
    remote_env *re = (remote_env *)env;
    if (!re) return;
    if (re->probe >= 0) remote_close_session(re, &re->meta, re->probe);
    remote_http_free(&re->meta);
    remote_tasks_free(re);
    pthread_mutex_destroy(&re->mu);
    free(re->url);
    free(re);
}

static const eef_env_ops remote_ops = {
    .version = EEF_ENV_OPS_VERSION,
    .name = "remote",
    .n_tasks = remote_n_tasks,
    .task = remote_task_info,
    .episode_open = remote_episode_open,
    .reset = remote_reset,
    .step = remote_step,
    .actions = remote_actions,
    .copy = NULL, /* restore is replay */
    .episode_close = remote_episode_close,
    .close = remote_close,
};

/* ------------------------------------------------------------ opening */
/* Asks the server what it is: eef env-serve describes itself at /eef/info;
 * AgentGym's ALFWorld server greets with "This is environment AlfWorld." at
 * /, its WebShop server with "ok". */
static eef_err discover(remote_env *re, opt_ctx *o)
{
    cJSON *j = NULL;
    long status = 0;
    eef_err e = EEF_ENOTFOUND;
    if (re->eef) {
        e = remote_http_call(&re->meta, re->url, &re->pol, REQ_REPEATABLE, "GET", "/eef/info",
                             NULL, NULL, &j, &status);
        if (e && status == 0) return e; /* unreachable */
    }
    const cJSON *who = cJSON_GetObjectItemCaseSensitive(j, "eef");
    if (!e && cJSON_IsString(who) && strcmp(who->valuestring, "env-serve") == 0) {
        const cJSON *api = cJSON_GetObjectItemCaseSensitive(j, "api");
        const cJSON *tr = cJSON_GetObjectItemCaseSensitive(j, "train");
        const cJSON *te = cJSON_GetObjectItemCaseSensitive(j, "test");
        const cJSON *ms = cJSON_GetObjectItemCaseSensitive(j, "max_steps");
        if (!cJSON_IsString(api) || !cJSON_IsNumber(tr) || !cJSON_IsNumber(te) || !cJSON_IsNumber(ms)) {
            cJSON_Delete(j);
            return eef_fail(EEF_ENET, "remote %s: GET /eef/info: incomplete answer", re->url);
        }
        remote_api server_api = strcmp(api->valuestring, "webshop") == 0 ? API_WEBSHOP : API_ALFWORLD;
        if (o->api_set && server_api != re->api) {
            cJSON_Delete(j);
            return eef_fail(EEF_EINVAL, "remote %s: the server speaks the %s API, not the one "
                            "given with api=", re->url, api->valuestring);
        }
        re->api = server_api;
        if (!o->ranges_set[0] && !o->ranges_set[1]) {
            re->lo[0] = 0, re->n[0] = (long)tr->valuedouble;
            re->lo[1] = re->n[0], re->n[1] = (long)te->valuedouble;
            o->ranges_set[0] = o->ranges_set[1] = 1;
        }
        if (!o->steps_set) re->base.max_steps = (int)ms->valuedouble, o->steps_set = 1;
        cJSON_Delete(j);
        return EEF_OK;
    }
    cJSON_Delete(j);
    re->eef = 0;
    if (!o->api_set) {
        EEF_TRY(remote_http_call(&re->meta, re->url, &re->pol, REQ_REPEATABLE, "GET", "/", NULL,
                                 NULL, &j, NULL));
        re->api = cJSON_IsString(j) && strstr(j->valuestring, "AlfWorld") ? API_ALFWORLD : API_WEBSHOP;
        cJSON_Delete(j);
    }
    return EEF_OK;
}

static eef_err open_kind(const char *arg, const char *options, uint64_t seed, eef_env **out)
{
    (void)seed; /* the server's world is its own */
    return eef_remote_open(arg, options, out);
}

/* Registered by name (env.c).  Its trajectories are named "remote" whatever
 * the server is, so one text serves all: WebShop's pages (AgentGym's
 * WebShop), which leaves ALFWorld's text as it is but for the instruction. */
const eef_env_kind eef_env_kind_remote = { "remote:", "remote:URL", open_kind, &eef_shop_text };

eef_err eef_remote_open(const char *url, const char *options, eef_env **out)
{
    *out = NULL;
    if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return eef_fail(EEF_EINVAL, "remote: '%s' is not an http:// or https:// URL", url ? url : "");
    remote_env *re = eef_calloc(1, sizeof *re);
    if (!re) return EEF_ENOMEM;
    re->base.ops = &remote_ops;
    re->base.max_steps = 0;
    re->probe = -1;
    re->eef = 1;
    re->api = API_WEBSHOP;
    re->pol = (remote_policy){ DEFAULT_TIMEOUT, DEFAULT_RETRIES, DEFAULT_BACKOFF };
    snprintf(re->world_type, sizeof re->world_type, "Text");
    pthread_mutex_init(&re->mu, NULL);
    re->url = eef_strdup(url);
    eef_err e = re->url ? EEF_OK : EEF_ENOMEM;
    if (!e) {
        size_t n = strlen(re->url);
        while (n > 0 && re->url[n - 1] == '/') re->url[--n] = 0;
    }
    opt_ctx o = { .re = re };
    if (!e) e = eef_env_options(options, on_option, &o);
    if (!e) e = remote_http_init(&re->meta);
    if (!e) e = discover(re, &o);
    if (!e && (!o.ranges_set[0] || !o.ranges_set[1]))
        e = eef_fail(EEF_EINVAL, "remote %s: give the task ranges, e.g. "
                     "--env-opt train=0-1499,test=1500-1999 (AgentGym servers do not list their "
                     "tasks)", re->url);
    if (!e && !o.steps_set) re->base.max_steps = re->api == API_WEBSHOP ? 15 : 50;
    for (int s = 0; !e && s < 2; s++) {
        re->tasks[s] = eef_calloc((size_t)EEF_MAX(re->n[s], 1), sizeof(remote_task));
        if (!re->tasks[s]) e = EEF_ENOMEM;
    }
    if (e) {
        remote_close(&re->base);
        return e;
    }
    *out = &re->base;
    return EEF_OK;
}

/* chat.c: an expert behind an OpenAI-compatible /v1/chat/completions
 * endpoint (a hosted model, a local llama.cpp or vLLM server, `eef serve`).
 *
 * Each call sends the whole episode as chat messages and reads one action
 * from the reply.  Two prompt forms:
 *
 *   react (default)  a system message with the rules, then
 *                    user "Instruction: ...\n\nObservation: OBS_0",
 *                    assistant "Action: ACT_0", user "Observation: OBS_1",
 *                    ...; the last user message lists the valid actions.
 *                    The action is the last "Action:" line of the reply
 *                    (or the line after a bare "Action:"), else the whole
 *                    reply (ReAct, as AgentGym's prompts).
 *   plain            system = the instruction, user = each observation,
 *                    assistant = each action, reply = the action: what
 *                    `eef serve` maps onto eef's own prompt format, so an
 *                    eef agent served over HTTP sees its training prompt.
 *
 * A reply that names a valid action in another letter case, or in the
 * form eef's prompt renders actions ("click Buy Now"), is mapped to it.  Requests time out, and failures (no connection, timeout, 429,
 * 5xx) are retried with exponential backoff; other errors and a server
 * that stays unreachable end the rollout with a message naming it.
 * Each actor (thread) has its own curl handle.
 */
#include "policy.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef enum { PROMPT_REACT, PROMPT_PLAIN } prompt_form;

typedef struct {
    eef_policy base;
    char *url, *model, *auth; /* auth: the "Authorization: Bearer ..." header or NULL */
    prompt_form form;
    double temperature, top_p;
    long max_tokens, history, retries, seed;
    double timeout, backoff;
} chat_policy;

typedef struct {
    eef_actor base;
    CURL *curl;
    struct curl_slist *headers;
    char errbuf[CURL_ERROR_SIZE];
} chat_actor;

static const char react_rules[] =
    "You are an agent acting in a text environment to complete a task.\n"
    "Each turn you see an observation and the valid actions. Answer with at most one line "
    "of reasoning starting with \"Thought:\", then one line \"Action: <action>\" where "
    "<action> is exactly one of the valid actions (or fills in the search[...] slot when it "
    "is offered). Invalid actions change nothing.";

/* ------------------------------------------------------------ options */
static eef_err on_option(const char *key, const char *v, void *ctx)
{
    chat_policy *p = ctx;
    if (strcmp(key, "prompt") == 0) {
        if (strcmp(v, "react") == 0) p->form = PROMPT_REACT;
        else if (strcmp(v, "plain") == 0) p->form = PROMPT_PLAIN;
        else return eef_fail(EEF_EINVAL, "chat: prompt=%s (react or plain)", v);
        return EEF_OK;
    }
    if (strcmp(key, "temperature") == 0) return eef_parse_double(v, 0, 2, "chat temperature", &p->temperature);
    if (strcmp(key, "top_p") == 0) return eef_parse_double(v, 1e-6, 1, "chat top_p", &p->top_p);
    if (strcmp(key, "max_tokens") == 0) return eef_parse_long(v, 1, 1 << 20, "chat max_tokens", &p->max_tokens);
    if (strcmp(key, "history") == 0) return eef_parse_long(v, 0, 1 << 20, "chat history", &p->history);
    if (strcmp(key, "timeout") == 0) return eef_parse_double(v, 0.01, 86400, "chat timeout", &p->timeout);
    if (strcmp(key, "retries") == 0) return eef_parse_long(v, 0, 20, "chat retries", &p->retries);
    if (strcmp(key, "backoff") == 0) return eef_parse_double(v, 0, 60, "chat backoff", &p->backoff);
    if (strcmp(key, "seed") == 0) return eef_parse_long(v, 0, 1, "chat seed", &p->seed);
    return eef_fail(EEF_EINVAL, "chat: unknown option '%s' (prompt, temperature, top_p, "
                    "max_tokens, history, timeout, retries, backoff, seed)", key);
}

/* ------------------------------------------------------------ messages */
static int add_msg(cJSON *msgs, const char *role, const char *content)
{
    cJSON *m = cJSON_CreateObject();
    if (!m || !cJSON_AddStringToObject(m, "role", role) ||
        !cJSON_AddStringToObject(m, "content", content)) {
        cJSON_Delete(m);
        return -1;
    }
    cJSON_AddItemToArray(msgs, m);
    return 0;
}

static int list_valid(eef_buf *b, const eef_actions *valid)
{
    int bad = eef_buf_puts(b, "\n\nValid actions: ");
    for (size_t i = 0; !bad && i < valid->items.n; i++)
        bad = (i && eef_buf_puts(b, ", ")) || eef_buf_puts(b, valid->items.items[i]);
    if (!bad && valid->free_prefix)
        bad = eef_buf_printf(b, "%s%s...%s", valid->items.n ? ", or " : "", valid->free_prefix,
                             valid->free_suffix ? valid->free_suffix : "");
    return bad;
}

/* The messages for this step.  With history = K only the last K steps
 * keep their observations (earlier ones become "..."; actions stay). */
static cJSON *build_messages(const chat_policy *p, const eef_context *ctx)
{
    cJSON *msgs = cJSON_CreateArray();
    eef_buf b;
    eef_buf_init(&b);
    int bad = !msgs;
    const char *instr = ctx->task->instruction ? ctx->task->instruction : "";
    size_t keep_from = p->history > 0 && ctx->n > (size_t)p->history ? ctx->n - (size_t)p->history : 0;
    if (p->form == PROMPT_PLAIN) {
        bad = bad || add_msg(msgs, "system", instr);
        for (size_t i = 0; !bad && i <= ctx->n; i++) {
            bad = add_msg(msgs, "user", i < keep_from ? "..." : ctx->obs[i]);
            if (!bad && i < ctx->n) bad = add_msg(msgs, "assistant", ctx->acts[i]);
        }
    } else {
        bad = bad || add_msg(msgs, "system", react_rules);
        for (size_t i = 0; !bad && i <= ctx->n; i++) {
            eef_buf_clear(&b);
            if (i == 0) bad = eef_buf_printf(&b, "Instruction: %s\n\n", instr);
            if (!bad) bad = eef_buf_printf(&b, "Observation: %s", i < keep_from ? "..." : ctx->obs[i]);
            if (!bad && i == ctx->n) bad = list_valid(&b, ctx->valid);
            if (!bad) bad = add_msg(msgs, "user", b.data);
            if (!bad && i < ctx->n) {
                eef_buf_clear(&b);
                bad = eef_buf_printf(&b, "Action: %s", ctx->acts[i]) || add_msg(msgs, "assistant", b.data);
            }
        }
    }
    eef_buf_free(&b);
    if (bad) {
        cJSON_Delete(msgs);
        return NULL;
    }
    return msgs;
}

/* ------------------------------------------------------------ the reply */
static void trim(const char **s, size_t *n)
{
    while (*n && isspace((unsigned char)**s)) (*s)++, (*n)--;
    while (*n && isspace((unsigned char)(*s)[*n - 1])) (*n)--;
}

/* Makes a reply that names a valid action in another spelling that action:
 * the same letters in another case, or the form eef's prompt renders it
 * in ("click Buy Now" for "click[Buy Now]", "search red mug" for the slot
 * "search[" ... "]": what an eef agent served by `eef serve` writes).
 * Anything else is left as it is (the environment will call it invalid). */
static eef_err map_to_valid(const eef_env_text *text, const eef_actions *valid, const char *obs,
                            eef_buf *action)
{
    if (eef_actions_allows(valid, action->data)) return EEF_OK;
    const char *hit = NULL;
    eef_err e = EEF_OK;
    for (size_t i = 0; !hit && !e && i < valid->items.n; i++) {
        const char *item = valid->items.items[i];
        char *r = text->render_action(item, obs);
        if (!r) e = EEF_ENOMEM;
        else if (strcasecmp(item, action->data) == 0 || strcasecmp(r, action->data) == 0) hit = item;
        free(r);
    }
    if (!e && hit) {
        eef_buf_clear(action);
        return eef_buf_puts(action, hit) ? EEF_ENOMEM : EEF_OK;
    }
    if (!e && valid->free_prefix) {
        char *r = text->render_action(valid->free_prefix, NULL); /* "search[" -> "search" */
        size_t n = r ? strlen(r) : 0;
        if (!r) e = EEF_ENOMEM;
        else if (n && strncasecmp(action->data, r, n) == 0 && action->data[n] == ' ') {
            const char *text = action->data + n;
            size_t len = strlen(text);
            trim(&text, &len);
            if (len) {
                eef_buf b;
                eef_buf_init(&b);
                if (eef_buf_puts(&b, valid->free_prefix) || eef_buf_append(&b, text, len) ||
                    eef_buf_puts(&b, valid->free_suffix ? valid->free_suffix : ""))
                    e = EEF_ENOMEM;
                else {
                    eef_buf_free(action);
                    *action = b;
                    b.data = NULL;
                }
                eef_buf_free(&b);
            }
        }
        free(r);
    }
    return e;
}

/* The action in a reply: after the last line starting with "Action:"
 * (or the next non-empty line when that one is bare), else the whole
 * reply; surrounding quotes and backticks removed. */
static eef_err extract_action(const char *reply, const eef_env_text *text,
                              const eef_actions *valid, const char *obs, eef_buf *action)
{
    const char *best = NULL;
    size_t best_n = 0;
    for (const char *line = reply; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        const char *s = line;
        size_t k = n;
        trim(&s, &k);
        if (k >= 7 && strncasecmp(s, "action:", 7) == 0) {
            s += 7, k -= 7;
            trim(&s, &k);
            const char *next = end ? end + 1 : NULL;
            while (k == 0 && next && *next) { /* "Action:\nclick[...]" */
                const char *e2 = strchr(next, '\n');
                s = next;
                k = e2 ? (size_t)(e2 - next) : strlen(next);
                trim(&s, &k);
                next = e2 ? e2 + 1 : NULL;
            }
            if (k) best = s, best_n = k;
        }
        line = end ? end + 1 : NULL;
    }
    if (!best) {
        best = reply;
        best_n = strlen(reply);
        trim(&best, &best_n);
    }
    while (best_n >= 2 && (best[0] == '`' || best[0] == '"' || best[0] == '\'') &&
           best[best_n - 1] == best[0])
        best++, best_n -= 2;
    if (best_n >= 4 && memcmp(best + best_n - 4, "</s>", 4) == 0) best_n -= 4;
    eef_buf_clear(action);
    if (eef_buf_append(action, best, best_n)) return EEF_ENOMEM;
    return map_to_valid(text, valid, obs, action);
}

/* ------------------------------------------------------------ HTTP */
static size_t on_data(char *ptr, size_t size, size_t n, void *ud)
{
    eef_buf *b = ud;
    size_t len = size * n;
    if (b->len + len > ((size_t)16 << 20) || eef_buf_append(b, ptr, len)) return 0;
    return len;
}

static void sleep_s(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static void error_text(const eef_buf *b, char *out, size_t cap)
{
    cJSON *j = b->len ? cJSON_ParseWithLength(b->data, b->len) : NULL;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    if (cJSON_IsObject(e)) e = cJSON_GetObjectItemCaseSensitive(e, "message");
    if (cJSON_IsString(e)) snprintf(out, cap, "%s", e->valuestring);
    else snprintf(out, cap, "%.*s", (int)EEF_MIN(b->len, 200), b->data ? b->data : "");
    cJSON_Delete(j);
}

/* POSTs `body`; on success *reply gets the first choice's content. */
static eef_err post(chat_actor *a, const chat_policy *p, const char *body, char **reply)
{
    eef_buf ans;
    eef_buf_init(&ans);
    char why[320] = "";
    eef_err e = EEF_ENET;
    long attempt = 0;
    for (;; attempt++) {
        eef_buf_clear(&ans);
        CURL *c = a->curl;
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, p->url);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, a->headers);
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &ans);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, a->errbuf);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(p->timeout * 1000));
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(EEF_MIN(p->timeout, 10.0) * 1000));
        a->errbuf[0] = 0;
        CURLcode rc = curl_easy_perform(c);
        int retry;
        if (rc != CURLE_OK) {
            snprintf(why, sizeof why, "%s", a->errbuf[0] ? a->errbuf : curl_easy_strerror(rc));
            retry = 1; /* no connection, timeout, reset: a chat request may be repeated */
        } else {
            long code = 0;
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
            if (code == 200) {
                cJSON *j = cJSON_ParseWithLength(ans.data ? ans.data : "", ans.len);
                const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
                const cJSON *msg = cJSON_GetObjectItemCaseSensitive(ch, "message");
                const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
                if (cJSON_IsString(content)) {
                    *reply = eef_strdup(content->valuestring);
                    cJSON_Delete(j);
                    e = *reply ? EEF_OK : EEF_ENOMEM;
                    break;
                }
                cJSON_Delete(j);
                snprintf(why, sizeof why, "the answer has no choices[0].message.content: %.120s",
                         ans.data ? ans.data : "");
                retry = 0;
            } else {
                char msg[240];
                error_text(&ans, msg, sizeof msg);
                snprintf(why, sizeof why, "HTTP %ld: %s", code, msg);
                retry = code == 429 || code >= 500;
            }
        }
        if (!retry || attempt >= p->retries) break;
        eef_debug("chat %s: %s; retrying", p->url, why);
        sleep_s(p->backoff * (double)(1L << EEF_MIN(attempt, 20)));
    }
    eef_buf_free(&ans);
    if (e == EEF_ENET)
        return eef_fail(EEF_ENET, "chat %s: %s (%ld attempt%s)", p->url, why, attempt + 1,
                        attempt ? "s" : "");
    return e;
}

/* ------------------------------------------------------------ the policy */
static eef_err act(eef_actor *actor, const eef_context *ctx, eef_rng *rng, eef_buf *action)
{
    chat_actor *a = (chat_actor *)actor;
    const chat_policy *p = (const chat_policy *)actor->policy;
    eef_buf_clear(action);
    /* drawn whether or not it is sent, so the stream is the same either way */
    uint64_t seed = eef_rng_u64(rng) & 0x7FFFFFFF;
    cJSON *req = cJSON_CreateObject();
    cJSON *msgs = build_messages(p, ctx);
    char *body = NULL;
    if (req && msgs) {
        cJSON_AddStringToObject(req, "model", p->model);
        cJSON_AddItemToObject(req, "messages", msgs);
        msgs = NULL;
        cJSON_AddNumberToObject(req, "temperature", p->temperature);
        cJSON_AddNumberToObject(req, "top_p", p->top_p);
        cJSON_AddNumberToObject(req, "max_tokens", (double)p->max_tokens);
        if (p->seed) cJSON_AddNumberToObject(req, "seed", (double)seed);
        body = cJSON_PrintUnformatted(req);
    }
    cJSON_Delete(req);
    cJSON_Delete(msgs);
    if (!body) return eef_fail(EEF_ENOMEM, "chat: out of memory building a request");
    char *reply = NULL;
    eef_err e = post(a, p, body, &reply);
    free(body);
    const eef_env_text *text = ctx->text ? ctx->text : eef_env_text_of(NULL);
    if (!e) e = extract_action(reply, text, ctx->valid, ctx->obs[ctx->n], action);
    free(reply);
    return e;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static void actor_close(eef_actor *actor)
{
    chat_actor *a = (chat_actor *)actor;
    if (!a) return;
    if (a->curl) curl_easy_cleanup(a->curl);
    curl_slist_free_all(a->headers);
    free(a);
}

static eef_err actor_open(eef_policy *pol, eef_actor **out)
{
    chat_policy *p = (chat_policy *)pol;
    chat_actor *a = eef_calloc(1, sizeof *a);
    if (!a) return EEF_ENOMEM;
    a->base.policy = pol;
    a->curl = curl_easy_init();
    a->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (a->headers && p->auth) {
        struct curl_slist *h = curl_slist_append(a->headers, p->auth);
        if (h) a->headers = h;
        else curl_slist_free_all(a->headers), a->headers = NULL;
    }
    if (!a->curl || !a->headers) {
        actor_close(&a->base);
        return eef_fail(EEF_ENOMEM, "chat: out of memory starting an HTTP client");
    }
    *out = &a->base;
    return EEF_OK;
}

static void policy_close(eef_policy *pol)
{
    chat_policy *p = (chat_policy *)pol;
    if (!p) return;
    free(p->url);
    free(p->model);
    free(p->auth);
    free(p);
}

static const eef_policy_ops chat_ops = {
    .version = EEF_POLICY_OPS_VERSION,
    .name = "chat",
    .actor_open = actor_open,
    .act = act,
    .actor_close = actor_close,
    .close = policy_close,
};

/* "http://h:p" -> "http://h:p/v1/chat/completions"; ".../v1" -> + "/chat/completions" */
static char *endpoint_of(const char *url)
{
    size_t n = strlen(url);
    while (n && url[n - 1] == '/') n--;
    eef_buf b;
    eef_buf_init(&b);
    static const char full[] = "/chat/completions";
    int bad = eef_buf_append(&b, url, n);
    if (!bad && !(n >= sizeof full - 1 && memcmp(url + n - (sizeof full - 1), full, sizeof full - 1) == 0))
        bad = eef_buf_puts(&b, n >= 3 && memcmp(url + n - 3, "/v1", 3) == 0 ? full : "/v1/chat/completions");
    if (bad) {
        eef_buf_free(&b);
        return NULL;
    }
    return b.data;
}

eef_err eef_chat_expert_open(const char *url, const char *model, const char *api_key_env,
                             const char *options, eef_policy **out)
{
    *out = NULL;
    if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return eef_fail(EEF_EINVAL, "chat: '%s' is not an http:// or https:// URL", url ? url : "");
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return eef_fail(EEF_ENET, "libcurl cannot start: %s", curl_easy_strerror(curl_init_rc));
    chat_policy *p = eef_calloc(1, sizeof *p);
    if (!p) return EEF_ENOMEM;
    p->base.ops = &chat_ops;
    p->form = PROMPT_REACT;
    p->temperature = 0.0;
    p->top_p = 1.0;
    p->max_tokens = 256;
    p->history = 0;
    p->timeout = 60.0;
    p->retries = 4;
    p->backoff = 0.5;
    p->seed = 1;
    eef_err e = eef_env_options(options, on_option, p);
    if (!e && (!(p->url = endpoint_of(url)) || !(p->model = eef_strdup(model ? model : "eef"))))
        e = EEF_ENOMEM;
    if (!e && api_key_env) {
        const char *key = getenv(api_key_env);
        if (!key || !*key)
            e = eef_fail(EEF_EINVAL, "chat: the environment variable %s (the API key) is not set",
                         api_key_env);
        else {
            eef_buf b;
            eef_buf_init(&b);
            if (eef_buf_printf(&b, "Authorization: Bearer %s", key)) e = EEF_ENOMEM;
            p->auth = b.data;
        }
    }
    if (e) {
        policy_close(&p->base);
        return e;
    }
    *out = &p->base;
    return EEF_OK;
}

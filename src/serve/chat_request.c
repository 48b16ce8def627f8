/* chat_request.c: a POST /v1/chat/completions body -> chat_req, checked
 * field by field (a wrong type or value is a 400 that names the field),
 * and the prompt: the messages in the model's chat template when it has
 * one, else mapped onto eef's prompt format.
 *
 * Fields that change what is generated and that we cannot honour (n > 1,
 * logprobs, tools) are refused; the penalties and other sampling knobs
 * OpenAI clients send by default are accepted and ignored
 * (docs/serving.md lists them). */
#include "serve_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MESSAGES 4096
#define MAX_STOP 4

void chat_req_free(chat_req *r)
{
    free(r->model);
    free(r->instruction);
    eef_strlist_free(&r->obs);
    eef_strlist_free(&r->acts);
    eef_strlist_free(&r->msg_role);
    eef_strlist_free(&r->msg_text);
    eef_strlist_free(&r->stop);
    memset(r, 0, sizeof *r);
}

static eef_err bad(const char **param, const char *name, const char *msg)
{
    *param = name;
    return eef_fail(EEF_EINVAL, "%s", msg);
}

/* A number field within [lo, hi] (absent or null: *out unchanged). */
static eef_err num_field(const cJSON *root, const char *name, double lo, double hi,
                         const char **param, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!v || cJSON_IsNull(v)) return EEF_OK;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
        *param = name;
        return eef_fail(EEF_EINVAL, "'%s' must be a number", name);
    }
    if (v->valuedouble < lo || v->valuedouble > hi) {
        *param = name;
        return eef_fail(EEF_EINVAL, "'%s' is %g; it must be in [%g, %g]", name, v->valuedouble,
                        lo, hi);
    }
    *out = v->valuedouble;
    return EEF_OK;
}

static eef_err int_field(const cJSON *root, const char *name, double lo, double hi,
                         const char **param, double *out)
{
    double d = NAN;
    EEF_TRY(num_field(root, name, lo, hi, param, &d));
    if (isnan(d)) return EEF_OK;
    if (d != floor(d)) {
        *param = name;
        return eef_fail(EEF_EINVAL, "'%s' must be an integer", name);
    }
    *out = d;
    return EEF_OK;
}

static eef_err bool_field(const cJSON *root, const char *name, const char **param, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!v || cJSON_IsNull(v)) return EEF_OK;
    if (!cJSON_IsBool(v)) {
        *param = name;
        return eef_fail(EEF_EINVAL, "'%s' must be true or false", name);
    }
    *out = cJSON_IsTrue(v);
    return EEF_OK;
}

/* A message's text: a string, null (an assistant turn with only tool
 * calls) or an array of {"type": "text", "text": ...} parts, joined. */
static eef_err content_text(const cJSON *msg, size_t i, eef_buf *out, const char **param)
{
    eef_buf_clear(out);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(msg, "content");
    if (!c || cJSON_IsNull(c)) return EEF_OK;
    if (cJSON_IsString(c)) return eef_buf_puts(out, c->valuestring) ? EEF_ENOMEM : EEF_OK;
    if (!cJSON_IsArray(c)) {
        *param = "messages";
        return eef_fail(EEF_EINVAL, "messages[%zu].content must be a string or an array of "
                        "text parts", i);
    }
    const cJSON *part;
    cJSON_ArrayForEach(part, c)
    {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "text") != 0 ||
            !cJSON_IsString(text)) {
            *param = "messages";
            return eef_fail(EEF_EINVAL, "messages[%zu].content: only parts of type \"text\" "
                            "are supported", i);
        }
        if (eef_buf_puts(out, text->valuestring)) return EEF_ENOMEM;
    }
    return EEF_OK;
}

typedef enum { R_SYSTEM, R_USER, R_ASSISTANT } role_kind;

static eef_err role_of(const cJSON *msg, size_t i, role_kind *out, const char **param)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(msg, "role");
    if (!cJSON_IsString(r)) {
        *param = "messages";
        return eef_fail(EEF_EINVAL, "messages[%zu].role must be a string", i);
    }
    const char *s = r->valuestring;
    if (strcmp(s, "system") == 0 || strcmp(s, "developer") == 0) *out = R_SYSTEM;
    else if (strcmp(s, "user") == 0 || strcmp(s, "tool") == 0) *out = R_USER;
    else if (strcmp(s, "assistant") == 0) *out = R_ASSISTANT;
    else {
        *param = "messages";
        return eef_fail(EEF_EINVAL, "messages[%zu].role '%.40s' is not one of system, "
                        "developer, user, assistant, tool", i, s);
    }
    return EEF_OK;
}

/* Appends `text` to `acc`, with `sep` between pieces. */
static int join(eef_buf *acc, int *have, const char *text, const char *sep)
{
    if (*have && eef_buf_puts(acc, sep)) return -1;
    *have = 1;
    return eef_buf_puts(acc, text);
}

/* Checks every message, then maps them: the leading system messages (else
 * the first user message) make the instruction; then user turns are
 * observations (consecutive ones joined) and assistant turns actions (an
 * assistant turn with no user turn before it gets an empty observation). */
static eef_err map_messages(const cJSON *msgs, chat_req *r, const char **param)
{
    size_t n = (size_t)cJSON_GetArraySize(msgs);
    if (n == 0) return bad(param, "messages", "'messages' must not be empty");
    if (n > MAX_MESSAGES) return bad(param, "messages", "too many messages (the limit is 4096)");
    role_kind *roles = eef_malloc(n * sizeof *roles);
    eef_strlist texts = { 0 };
    eef_buf text, instr, pending;
    eef_buf_init(&text);
    eef_buf_init(&instr);
    eef_buf_init(&pending);
    eef_err e = roles ? EEF_OK : EEF_ENOMEM;
    int oom = 0;
    size_t i = 0;
    for (const cJSON *m = msgs->child; m && !e; m = m->next, i++) {
        if (!cJSON_IsObject(m)) {
            *param = "messages";
            e = eef_fail(EEF_EINVAL, "messages[%zu] must be an object", i);
        } else if (!(e = role_of(m, i, &roles[i], param)) &&
                   !(e = content_text(m, i, &text, param))) {
            static const char *const names[] = { [R_SYSTEM] = "system", [R_USER] = "user",
                                                 [R_ASSISTANT] = "assistant" };
            oom |= eef_strlist_push(&texts, text.data ? text.data : "");
            oom |= eef_strlist_push(&r->msg_role, names[roles[i]]);
            oom |= eef_strlist_push(&r->msg_text, text.data ? text.data : "");
        }
    }
    int have_instr = 0, have_pending = 0;
    i = 0;
    if (!e && !oom) {
        while (i < n && roles[i] == R_SYSTEM) oom |= join(&instr, &have_instr, texts.items[i++], "\n\n");
        if (!have_instr && i < n && roles[i] == R_USER)
            oom |= join(&instr, &have_instr, texts.items[i++], "\n\n");
        for (; i < n && !oom; i++) {
            if (roles[i] == R_ASSISTANT) {
                oom |= eef_strlist_push(&r->obs, pending.data ? pending.data : "");
                oom |= eef_strlist_push(&r->acts, texts.items[i]);
                eef_buf_clear(&pending);
                have_pending = 0;
            } else { /* users, tools and later system messages: what the agent observes */
                oom |= join(&pending, &have_pending, texts.items[i], "\n");
            }
        }
        oom |= eef_strlist_push(&r->obs, pending.data ? pending.data : "");
        if (!oom && !(r->instruction = eef_strdup(instr.data ? instr.data : ""))) oom = 1;
    }
    free(roles);
    eef_strlist_free(&texts);
    eef_buf_free(&text);
    eef_buf_free(&instr);
    eef_buf_free(&pending);
    if (!e && oom) e = eef_fail(EEF_ENOMEM, "out of memory reading the messages");
    return e;
}

static eef_err parse_stop(const cJSON *root, chat_req *r, const char **param)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "stop");
    if (!v || cJSON_IsNull(v)) return EEF_OK;
    if (cJSON_IsString(v)) {
        if (!*v->valuestring) return bad(param, "stop", "'stop' must not be empty");
        return eef_strlist_push(&r->stop, v->valuestring) ? EEF_ENOMEM : EEF_OK;
    }
    if (!cJSON_IsArray(v)) return bad(param, "stop", "'stop' must be a string or an array of strings");
    if (cJSON_GetArraySize(v) > MAX_STOP) return bad(param, "stop", "'stop' holds at most 4 strings");
    const cJSON *s;
    cJSON_ArrayForEach(s, v)
    {
        if (!cJSON_IsString(s) || !*s->valuestring)
            return bad(param, "stop", "'stop' must hold non-empty strings");
        if (eef_strlist_push(&r->stop, s->valuestring)) return EEF_ENOMEM;
    }
    return EEF_OK;
}

static eef_err parse_fields(const cJSON *root, chat_req *r, const char **param)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsString(v)) return bad(param, "model", "'model' must be a string");
        if (!(r->model = eef_strdup(v->valuestring))) return EEF_ENOMEM;
    }
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
    if (!msgs) return bad(param, "messages", "'messages' is required");
    if (!cJSON_IsArray(msgs)) return bad(param, "messages", "'messages' must be an array");
    EEF_TRY(map_messages(msgs, r, param));
    EEF_TRY(num_field(root, "temperature", 0, 2, param, &r->temperature));
    EEF_TRY(num_field(root, "top_p", 0, 1, param, &r->top_p));
    if (r->top_p <= 0) return bad(param, "top_p", "'top_p' must be greater than 0");
    double d = -1;
    EEF_TRY(int_field(root, "max_completion_tokens", 1, 1 << 20, param, &d));
    EEF_TRY(int_field(root, "max_tokens", 1, 1 << 20, param, &d));
    r->max_tokens = (long)d;
    d = 1;
    EEF_TRY(int_field(root, "n", 1, 128, param, &d));
    if (d != 1) return bad(param, "n", "only n = 1 is supported");
    d = NAN;
    EEF_TRY(int_field(root, "seed", -9007199254740991.0, 9007199254740991.0, param, &d));
    if (!isnan(d)) r->has_seed = 1, r->seed = (uint64_t)(int64_t)d;
    EEF_TRY(parse_stop(root, r, param));
    EEF_TRY(bool_field(root, "stream", param, &r->stream));
    v = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsObject(v)) return bad(param, "stream_options", "'stream_options' must be an object");
        EEF_TRY(bool_field(v, "include_usage", param, &r->include_usage));
    }
    int logprobs = 0;
    EEF_TRY(bool_field(root, "logprobs", param, &logprobs));
    if (logprobs) return bad(param, "logprobs", "logprobs are not supported");
    v = cJSON_GetObjectItemCaseSensitive(root, "tools");
    if (v && !cJSON_IsNull(v) && (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > 0))
        return bad(param, "tools", "tools are not supported");
    return EEF_OK;
}

eef_err chat_req_parse(const char *body, size_t len, chat_req *out, const char **param)
{
    memset(out, 0, sizeof *out);
    *param = NULL;
    out->temperature = 1.0;
    out->top_p = 1.0;
    out->max_tokens = -1;
    cJSON *root = NULL;
    if (!eef_utf8_valid(body, len)) return eef_fail(EEF_EINVAL, "the body is not valid UTF-8");
    const char *end = NULL;
    root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!root) {
        size_t off = end && end >= body ? (size_t)(end - body) : 0;
        return eef_fail(EEF_EINVAL, "the body is not valid JSON (error near byte %zu)", off);
    }
    eef_err e = EEF_OK;
    if (!cJSON_IsObject(root)) e = eef_fail(EEF_EINVAL, "the body must be a JSON object");
    else e = parse_fields(root, out, param);
    if (e == EEF_ENOMEM) e = eef_fail(EEF_ENOMEM, "out of memory reading the request");
    cJSON_Delete(root);
    if (e) chat_req_free(out);
    return e;
}

/* The conversation in the chat template, ending with the assistant's
 * header; while it is over budget the oldest message after the leading
 * system messages is left out (the last one always stays). */
static eef_err chat_prompt(const chat_req *r, const eef_tokenizer *tok, int max_tokens,
                           eef_prompt *out)
{
    size_t n = r->msg_role.n, n_sys = 0;
    eef_chat_msg *msgs = eef_malloc((n + 1) * sizeof *msgs);
    if (!msgs) return EEF_ENOMEM;
    while (n_sys < n && strcmp(r->msg_role.items[n_sys], "system") == 0) n_sys++;
    eef_err e = EEF_OK;
    for (size_t from = n_sys; !e; from++) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (i < n_sys || i >= from)
                msgs[k++] = (eef_chat_msg){ r->msg_role.items[i], r->msg_text.items[i] };
        size_t n_ids = 0, cap = 0;
        int *ids = NULL;
        e = eef_tok_chat_encode(tok, msgs, k, EEF_CHAT_GEN_PROMPT, &ids, &n_ids, &cap, NULL);
        if (!e && n_ids <= (size_t)max_tokens) {
            out->tokens = ids, out->n = (int)n_ids, out->cap = (int)cap, out->mask = NULL;
            break;
        }
        free(ids);
        if (!e && from + 1 >= n)
            e = eef_fail(EEF_EINVAL, "the conversation needs %zu tokens; the model's context "
                         "leaves %d for the prompt", n_ids, max_tokens);
    }
    free(msgs);
    return e;
}

eef_err chat_req_prompt(const chat_req *r, const eef_tokenizer *tok, int max_tokens,
                        eef_prompt *out)
{
    if (eef_tok_chat_name(tok)) return chat_prompt(r, tok, max_tokens, out);
    /* a served model does not know its environment: the default text */
    return eef_prompt_build(tok, eef_env_text_of(NULL), r->instruction,
                            (const char *const *)r->obs.items, r->obs.n,
                            (const char *const *)r->acts.items, NULL, r->acts.n, max_tokens, out);
}

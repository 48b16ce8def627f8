/* eto.c: import and export of ETO / AgentGym conversation data, the form
 * public agent-tuning sets are distributed in:
 *
 *   ETO (webshop_sft.json, alfworld_sft.json): a JSON array of
 *     {"id", "conversations": [{"from": "human"|"gpt", "value"}...],
 *      "reward" (webshop), "game_file" (alfworld)}
 *   AgentGym (AgentTraj, inference output): {"item_id": "webshop_17",
 *     "conversations": [{"from", "loss": null|true|false, "value"}...],
 *     "reward", "success"}, as a JSON array or JSONL.
 *
 * Both open with an instruction turn answered by "OK" / "Ok.", then the
 * task's first observation; gpt turns are ReAct text "Thought: ...\n
 * Action: ..." and later human turns "Observation: ...".  What we keep is
 * the observation and the action; the thought text is not part of an
 * eef trajectory.
 *
 * Our export writes the world the trajectories were made in (eef_world)
 * into each record as "context" (a JSON array has no header line, and a
 * field per record survives tools that filter or shuffle records); import
 * takes it from the first record and requires the same of every other. */
#include "traj_internal.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static int present(const cJSON *v) { return v && !cJSON_IsNull(v); }

/* "OK", "Ok.", "ok!" and the like: the acknowledgement of a preamble. */
static int is_ack(const char *s)
{
    while (isspace((unsigned char)*s)) s++;
    if (tolower((unsigned char)s[0]) != 'o' || tolower((unsigned char)s[1]) != 'k') return 0;
    s += 2;
    if (*s == '.' || *s == '!') s++;
    while (isspace((unsigned char)*s)) s++;
    return *s == 0;
}

static const char OBS_PREFIX[] = "Observation:";
static const char ACTION_TAG[] = "Action:";

/* The observation in a human turn: without "Observation:" and the one
 * blank (space or newline) that follows it. */
static const char *obs_text(const char *v)
{
    if (strncmp(v, OBS_PREFIX, sizeof OBS_PREFIX - 1) != 0) return v;
    v += sizeof OBS_PREFIX - 1;
    if (*v == ' ' || *v == '\n') v++;
    return v;
}

/* The action in a gpt turn: after the first "Action:", trimmed (ETO's
 * parser takes the first; AgentGym writes one); the whole turn, trimmed,
 * when there is no "Action:" (act-only data). */
static eef_err action_text(const char *v, char **out)
{
    const char *a = strstr(v, ACTION_TAG);
    a = a ? a + sizeof ACTION_TAG - 1 : v;
    while (isspace((unsigned char)*a)) a++;
    size_t n = strlen(a);
    while (n && isspace((unsigned char)a[n - 1])) n--;
    *out = eef_strndup(a, n);
    return *out ? EEF_OK : EEF_ENOMEM;
}

/* A turn's loss as a mask: true/1 or absent/null = 1, false/0 = 0. */
static eef_err turn_mask(const cJSON *loss, const char *where, size_t k, int *mask)
{
    if (!present(loss)) *mask = 1;
    else if (cJSON_IsBool(loss)) *mask = cJSON_IsTrue(loss);
    else if (cJSON_IsNumber(loss) && (loss->valuedouble == 0.0 || loss->valuedouble == 1.0))
        *mask = loss->valuedouble == 1.0;
    else
        return eef_fail(EEF_EFORMAT, "%s: conversations[%zu]: field 'loss' must be true, false, 0 or 1",
                        where, k);
    return EEF_OK;
}

static eef_err import_turns(const cJSON *conv, const char *where, eef_traj *t)
{
    size_t n = (size_t)cJSON_GetArraySize(conv);
    for (size_t k = 0; k < n; k++) {
        const cJSON *turn = cJSON_GetArrayItem(conv, (int)k);
        if (!cJSON_IsObject(turn))
            return eef_fail(EEF_EFORMAT, "%s: conversations[%zu] is not an object", where, k);
        const cJSON *from = get(turn, "from"), *value = get(turn, "value");
        if (!cJSON_IsString(from) ||
            (strcmp(from->valuestring, "human") != 0 && strcmp(from->valuestring, "gpt") != 0))
            return eef_fail(EEF_EFORMAT,
                            "%s: conversations[%zu]: field 'from' must be \"human\" or \"gpt\"", where, k);
        if (!cJSON_IsString(value))
            return eef_fail(EEF_EFORMAT, "%s: conversations[%zu]: field 'value' is not a string",
                            where, k);
    }
    size_t k0 = 0;
    if (n >= 2 && get(cJSON_GetArrayItem(conv, 0), "from")->valuestring[0] == 'h' &&
        get(cJSON_GetArrayItem(conv, 1), "from")->valuestring[0] == 'g' &&
        is_ack(get(cJSON_GetArrayItem(conv, 1), "value")->valuestring))
        k0 = 2; /* the instruction preamble and its "OK" */
    if (k0 == n) return eef_fail(EEF_EFORMAT, "%s: no turns after the instruction preamble", where);
    const char *pending = NULL;
    for (size_t k = k0; k < n; k++) {
        const cJSON *turn = cJSON_GetArrayItem(conv, (int)k);
        const char *from = get(turn, "from")->valuestring;
        const char *value = get(turn, "value")->valuestring;
        int want_gpt = (int)((k - k0) % 2);
        if ((from[0] == 'g') != want_gpt)
            return eef_fail(EEF_EFORMAT, "%s: conversations[%zu]: expected a %s turn, got %s", where,
                            k, want_gpt ? "gpt" : "human", from);
        if (!want_gpt) {
            pending = obs_text(value);
            continue;
        }
        int mask = 1;
        char *action;
        EEF_TRY(turn_mask(get(turn, "loss"), where, k, &mask));
        EEF_TRY(action_text(value, &action));
        eef_err e = eef_traj_push(t, pending, action, mask);
        free(action);
        EEF_TRY(e);
        pending = NULL;
    }
    if (pending) EEF_TRY(eef_traj_set(&t->final_obs, pending));
    return EEF_OK;
}

/* A 0/1 outcome flag ("success", "win"): bool or number 0/1; -1 absent. */
static eef_err outcome_flag(const cJSON *rec, const char *key, const char *where, int *out)
{
    const cJSON *v = get(rec, key);
    *out = -1;
    if (!present(v)) return EEF_OK;
    if (cJSON_IsBool(v)) *out = cJSON_IsTrue(v);
    else if (cJSON_IsNumber(v) && (v->valuedouble == 0.0 || v->valuedouble == 1.0))
        *out = v->valuedouble == 1.0;
    else return eef_fail(EEF_EFORMAT, "%s: field '%s' must be true, false, 0 or 1", where, key);
    return EEF_OK;
}

static eef_err opt_nonempty(const cJSON *rec, const char *key, const char *where, const char **out)
{
    const char *s = NULL;
    EEF_TRY(eef_json_opt_str(rec, key, where, &s));
    if (s && !*s) return eef_fail(EEF_EFORMAT, "%s: field '%s' is empty", where, key);
    if (s) *out = s;
    return EEF_OK;
}

/* Fields this importer reads; everything else goes to extra. */
static int consumed(const char *k)
{
    static const char *const keys[] = { "id",     "env",         "task",    "split",
                                        "index",  "tier",        "source",  "instruction",
                                        "reward", "success",     "win",     "conversations",
                                        "expert", "context" };
    for (size_t i = 0; i < EEF_ARRAY_LEN(keys); i++)
        if (strcmp(k, keys[i]) == 0) return 1;
    return 0;
}

/* The world of an import: that of the first record, which every other
 * must repeat. */
typedef struct {
    eef_world world;
    size_t n_seen;        /* records whose context was read */
    char first[4200];     /* where the first one was */
} import_ctx;

static eef_err import_context(const cJSON *rec, const char *env, const char *where, import_ctx *ic)
{
    eef_world w;
    eef_world_init(&w);
    const cJSON *c = get(rec, "context");
    if (c) EEF_TRY(eef_world_from_json(c, where, &w));
    if (ic->n_seen++ == 0) {
        ic->world = w;
        snprintf(ic->first, sizeof ic->first, "%s", where);
        /* a given environment that contradicts the record: refused, not skipped */
        if (env && !eef_world_env_is(&w, env))
            return eef_fail(EEF_EINVAL, "%s was made in environment %s; %s was given (leave it out "
                            "to use the file's)", where, w.env, env);
        return EEF_OK;
    }
    if (memcmp(&w, &ic->world, sizeof w) != 0) {
        char a[1600], b[1600];
        eef_world_describe(&w, a, sizeof a);
        eef_world_describe(&ic->world, b, sizeof b);
        return eef_fail(EEF_EFORMAT, "%s: its context (%s) differs from that of %s (%s): records of "
                        "different worlds were joined", where, a, ic->first, b);
    }
    return EEF_OK;
}

static eef_err import_record(const cJSON *rec, const char *env, const char *where, eef_traj *t,
                             import_ctx *ic)
{
    if (!cJSON_IsObject(rec)) return eef_fail(EEF_EFORMAT, "%s: not a JSON object", where);
    EEF_TRY(import_context(rec, env, where, ic));
    /* id: "id" (string or integer), else AgentGym's "item_id" */
    const cJSON *id = get(rec, "id"), *item = get(rec, "item_id");
    if (present(id)) {
        if (cJSON_IsString(id) && id->valuestring[0]) EEF_TRY(eef_traj_set(&t->id, id->valuestring));
        else if (cJSON_IsNumber(id) && (t->id = traj_int_text(id->valuedouble))) {}
        else return eef_fail(EEF_EFORMAT, "%s: field 'id' must be a non-empty string or an integer", where);
    } else if (cJSON_IsString(item) && item->valuestring[0]) {
        EEF_TRY(eef_traj_set(&t->id, item->valuestring));
    } else {
        return eef_fail(EEF_EFORMAT, "%s: no 'id' or 'item_id'", where);
    }
    const cJSON *conv;
    EEF_TRY(eef_json_arr(rec, "conversations", where, &conv));
    EEF_TRY(import_turns(conv, where, t));

    /* outcome: reward, else the success flag, else unknown (0) */
    int success, win, reward_missing = 0;
    EEF_TRY(outcome_flag(rec, "success", where, &success));
    EEF_TRY(outcome_flag(rec, "win", where, &win));
    if (success < 0) success = win;
    if (present(get(rec, "reward"))) {
        if (!cJSON_IsNumber(get(rec, "reward")))
            return eef_fail(EEF_EFORMAT, "%s: field 'reward' is not a number", where);
        EEF_TRY(eef_json_num(rec, "reward", where, &t->reward));
        if (success >= 0 && success != (t->reward == 1.0))
            return eef_fail(EEF_EFORMAT, "%s: success is %d but reward is %.17g (success means reward == 1)",
                            where, success, t->reward);
    } else if (success >= 0) {
        t->reward = success;
    } else {
        t->reward = 0;
        reward_missing = !get(rec, "reward_missing");
    }
    t->win = t->reward == 1.0;

    /* our own fields, when the record came from our export */
    /* without a given env, the recorded world's ("remote" for "remote:URL") */
    char ctx_env[sizeof ic->world.env];
    snprintf(ctx_env, sizeof ctx_env, "%.*s", (int)strcspn(ic->world.env, ":"), ic->world.env);
    const char *s = env ? env : ctx_env[0] ? ctx_env : NULL, *task = t->id, *source = "expert";
    EEF_TRY(opt_nonempty(rec, "env", where, &s));
    if (!s || !*s) return eef_fail(EEF_EFORMAT, "%s: no 'env' in the record and none given", where);
    EEF_TRY(eef_traj_set(&t->env, s));
    EEF_TRY(opt_nonempty(rec, "task", where, &task));
    EEF_TRY(eef_traj_set(&t->task, task));
    EEF_TRY(opt_nonempty(rec, "source", where, &source));
    EEF_TRY(eef_traj_set(&t->source, source));
    const char *expert = NULL;
    EEF_TRY(opt_nonempty(rec, "expert", where, &expert));
    if (expert) EEF_TRY(eef_traj_set(&t->expert, expert));
    const char *instr = NULL;
    EEF_TRY(eef_json_opt_str(rec, "instruction", where, &instr));
    if (instr) EEF_TRY(eef_traj_set(&t->instruction, instr));
    const char *split = NULL, *tier = NULL;
    EEF_TRY(eef_json_opt_str(rec, "split", where, &split));
    if (split) {
        eef_split sp;
        if (eef_split_parse(split, &sp) != EEF_OK)
            return eef_fail(EEF_EFORMAT, "%s: field 'split' must be \"train\" or \"test\"", where);
        t->split = (int)sp;
    }
    if (present(get(rec, "index"))) {
        EEF_TRY(eef_json_int(rec, "index", where, &t->index));
        if (t->index < 0) return eef_fail(EEF_EFORMAT, "%s: field 'index' is negative", where);
    }
    EEF_TRY(eef_json_opt_str(rec, "tier", where, &tier));
    for (int i = 0; tier && i < EEF_N_TIERS; i++)
        if (strcmp(tier, eef_tier_name((eef_tier)i)) == 0) t->tier = i;
    if (tier && t->tier < 0)
        return eef_fail(EEF_EFORMAT, "%s: field 'tier' must be \"easy\", \"medium\" or \"hard\"", where);

    /* the rest is kept, in the record's order */
    eef_buf extra;
    eef_buf_init(&extra);
    int bad = 0;
    for (const cJSON *m = rec->child; m && !bad; m = m->next) {
        if (consumed(m->string)) continue;
        if (traj_known_key(m->string)) { /* "eef": reserved for our header line */
            eef_buf_free(&extra);
            return eef_fail(EEF_EFORMAT, "%s: field '%s' is reserved", where, m->string);
        }
        for (const cJSON *o = rec->child; o != m; o = o->next)
            if (strcmp(o->string, m->string) == 0) {
                eef_buf_free(&extra);
                return eef_fail(EEF_EFORMAT, "%s: duplicate field '%s'", where, m->string);
            }
        bad = eef_buf_append(&extra, extra.len ? "," : "{", 1) ||
              traj_put_member(&extra, m->string, m);
    }
    if (!bad && reward_missing)
        bad = eef_buf_append(&extra, extra.len ? "," : "{", 1) ||
              eef_buf_puts(&extra, "\"reward_missing\":true");
    if (!bad && extra.len) bad = eef_buf_append(&extra, "}", 1);
    if (bad) {
        eef_buf_free(&extra);
        return EEF_ENOMEM;
    }
    t->extra = extra.data; /* NULL when there was nothing */
    return eef_traj_check(t, where) ? EEF_EFORMAT : EEF_OK;
}

/* Records one import outcome: an error stops unless bad records are skipped. */
static eef_err take(eef_err e, eef_traj *t, eef_trajset *out, size_t *n_bad)
{
    if (!e) return eef_trajset_push(out, t);
    eef_traj_free(t);
    if (e != EEF_EFORMAT || !n_bad) return e;
    fprintf(stderr, "%s\n", eef_errmsg());
    (*n_bad)++;
    return EEF_OK;
}

static long line_of(const char *text, size_t off)
{
    long line = 1;
    for (size_t i = 0; i < off; i++) line += text[i] == '\n';
    return line;
}

static eef_err import_array(const char *path, const char *text, size_t len, const char *env,
                            eef_trajset *out, size_t *n_bad, import_ctx *ic)
{
    char where[4200];
    /* byte-level problems, located by line */
    for (size_t i = 0, line = 1; i < len; line++) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) : len;
        snprintf(where, sizeof where, "%s:%zu", path, line);
        EEF_TRY(traj_scan_line(text + i, end - i, where));
        i = end + 1;
    }
    const char *stop = NULL;
    cJSON *arr = cJSON_ParseWithLengthOpts(text, len, &stop, 0);
    if (!arr) {
        size_t off = stop ? (size_t)(stop - text) : 0;
        return eef_fail(EEF_EFORMAT, "%s:%ld: malformed JSON", path, line_of(text, off));
    }
    for (const char *p = stop; p < text + len; p++)
        if (!isspace((unsigned char)*p)) {
            cJSON_Delete(arr);
            return eef_fail(EEF_EFORMAT, "%s:%ld: trailing characters after the JSON array", path,
                            line_of(text, (size_t)(p - text)));
        }
    eef_err e = EEF_OK;
    size_t k = 0;
    for (const cJSON *rec = arr->child; rec && !e; rec = rec->next) {
        snprintf(where, sizeof where, "%s:record %zu", path, ++k);
        eef_traj t;
        eef_traj_init(&t);
        e = take(import_record(rec, env, where, &t, ic), &t, out, n_bad);
    }
    cJSON_Delete(arr);
    return e;
}

static eef_err import_lines(const char *path, const char *env, eef_trajset *out, size_t *n_bad,
                            import_ctx *ic)
{
    eef_lines lr;
    EEF_TRY(eef_lines_open(&lr, path));
    lr.max_line = EEF_TRAJ_MAX_LINE;
    char where[4200];
    eef_err e = EEF_OK;
    for (;;) {
        char *line;
        size_t len;
        eef_traj t;
        eef_traj_init(&t);
        e = eef_lines_next(&lr, &line, &len);
        if (!e && !line) break;
        snprintf(where, sizeof where, "%s:%ld", path, lr.line);
        if (!e) {
            size_t i = 0;
            while (i < len && isspace((unsigned char)line[i])) i++;
            if (i == len) continue; /* blank lines are tolerated here */
            cJSON *j = NULL;
            if (!(e = traj_scan_line(line, len, where)) && !(e = eef_json_parse(line, len, where, &j)))
                e = import_record(j, env, where, &t, ic);
            cJSON_Delete(j);
        }
        if ((e = take(e, &t, out, n_bad))) break;
    }
    eef_lines_close(&lr);
    return e;
}

static eef_err import_file(const char *path, const char *env, eef_trajset *out, size_t *n_bad,
                           import_ctx *ic);

eef_err eef_traj_import_eto(const char *path, const char *env, eef_trajset *out, size_t *n_bad,
                            eef_world *world)
{
    import_ctx *ic = eef_calloc(1, sizeof *ic);
    if (!ic) return EEF_ENOMEM;
    eef_err e = import_file(path, env, out, n_bad, ic);
    if (world) *world = ic->world;
    free(ic);
    return e;
}

static eef_err import_file(const char *path, const char *env, eef_trajset *out, size_t *n_bad,
                           import_ctx *ic)
{
    if (n_bad) *n_bad = 0;
    size_t n0 = out->n;
    char *text;
    size_t len;
    EEF_TRY(eef_read_file(path, &text, &len));
    size_t i = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) i = 3; /* byte-order mark */
    while (i < len && isspace((unsigned char)text[i])) i++;
    eef_err e;
    if (i < len && text[i] == '[') {
        /* the BOM, if any, is blanked so line-by-line checks pass */
        if (i >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) memset(text, ' ', 3);
        e = import_array(path, text, len, env, out, n_bad, ic);
        free(text);
    } else {
        free(text);
        e = import_lines(path, env, out, n_bad, ic);
    }
    if (e) { /* leave `out` as it was */
        while (out->n > n0) eef_traj_free(&out->items[--out->n]);
        if (n0 == 0) eef_trajset_free(out);
    }
    return e;
}

/* ------------------------------------------------------------------ export */
static const char *preamble(const char *env)
{
    if (strcmp(env, "shop") == 0)
        return "You are shopping on a website for a customer. Each turn shows the page you are on; "
               "answer with one action. Type search[keywords] where there is a search box, or "
               "click[name] on a button, a product or an option shown on the page. When the "
               "product matches the request, choose its options and click[Buy Now].\n"
               "Answer in this form:\nThought: your reasoning\nAction: your action";
    if (strcmp(env, "house") == 0)
        return "You are a robot in a house with a household task. Each turn tells you what you "
               "see; answer with one action: go to X, open X, close X, take X from Y, put X "
               "in/on Y, toggle X, clean X with Y, heat X with Y, cool X with Y, use X, "
               "examine X, look or inventory. If nothing happens, the action was not possible.\n"
               "Answer in this form:\nThought: your reasoning\nAction: your action";
    return "Solve the task by acting in the environment. Each turn gives an observation; answer "
           "with one action.\nAnswer in this form:\nThought: your reasoning\nAction: your action";
}

/* The thought we write: ours are not recorded, so a fixed short text. */
static const char THOUGHT[] = "Thought: I take the next step.\nAction: ";

static int put_turn(eef_buf *b, int gpt, const char *loss, const char *prefix, const char *value)
{
    if (eef_buf_puts(b, gpt ? ",{\"from\":\"gpt\",\"loss\":" : ",{\"from\":\"human\",\"loss\":") ||
        eef_buf_puts(b, loss) || eef_buf_puts(b, ",\"value\":"))
        return -1;
    if (!*prefix) return traj_put_str(b, value) || eef_buf_puts(b, "}");
    eef_buf v;
    eef_buf_init(&v);
    int rc = eef_buf_puts(&v, prefix) || eef_buf_puts(&v, value) || traj_put_str(b, v.data) ||
             eef_buf_puts(b, "}");
    eef_buf_free(&v);
    return rc;
}

static eef_err export_record(const eef_traj *t, const char *context, eef_buf *b)
{
    char where[160];
    snprintf(where, sizeof where, "trajectory '%.100s'", t->id ? t->id : "(no id)");
    EEF_TRY(eef_traj_check(t, where));
    int bad = eef_buf_puts(b, "{\"id\":") || traj_put_str(b, t->id) ||
              eef_buf_puts(b, ",\"env\":") || traj_put_str(b, t->env) ||
              eef_buf_puts(b, ",\"task\":") || traj_put_str(b, t->task);
    if (!bad && t->split >= 0)
        bad = eef_buf_printf(b, ",\"split\":\"%s\"", eef_split_name((eef_split)t->split));
    if (!bad && t->index >= 0) bad = eef_buf_printf(b, ",\"index\":%ld", t->index);
    if (!bad && t->tier >= 0)
        bad = eef_buf_printf(b, ",\"tier\":\"%s\"", eef_tier_name((eef_tier)t->tier));
    bad = bad || eef_buf_puts(b, ",\"source\":") || traj_put_str(b, t->source);
    if (!bad && t->expert) bad = eef_buf_puts(b, ",\"expert\":") || traj_put_str(b, t->expert);
    if (!bad && t->instruction)
        bad = eef_buf_puts(b, ",\"instruction\":") || traj_put_str(b, t->instruction);
    bad = bad || eef_buf_puts(b, ",\"reward\":") || traj_put_num(b, t->reward) ||
          eef_buf_printf(b, ",\"success\":%d", t->win);
    if (bad) return EEF_ENOMEM;
    /* extra, except a "success" of its own (ours was just written) */
    if (t->extra) {
        cJSON *j = cJSON_Parse(t->extra); /* valid: eef_traj_check passed */
        if (!j) return EEF_ENOMEM;
        for (const cJSON *m = j->child; m && !bad; m = m->next)
            if (strcmp(m->string, "success") != 0)
                bad = eef_buf_puts(b, ",") || traj_put_member(b, m->string, m);
        cJSON_Delete(j);
        if (bad) return EEF_ENOMEM;
    }
    if (context && (eef_buf_puts(b, ",\"context\":") || eef_buf_puts(b, context))) return EEF_ENOMEM;
    bad = eef_buf_puts(b, ",\"conversations\":[") ||
          eef_buf_puts(b, "{\"from\":\"human\",\"loss\":null,\"value\":") ||
          traj_put_str(b, preamble(t->env)) || eef_buf_puts(b, "}") ||
          put_turn(b, 1, "false", "", "OK");
    for (size_t i = 0; i < t->n_steps && !bad; i++)
        bad = put_turn(b, 0, "null", "Observation: ", t->steps[i].obs) ||
              put_turn(b, 1, t->steps[i].mask ? "true" : "false", THOUGHT, t->steps[i].action);
    if (!bad && t->final_obs) bad = put_turn(b, 0, "null", "Observation: ", t->final_obs);
    if (!bad) bad = eef_buf_puts(b, "]}");
    return bad ? EEF_ENOMEM : EEF_OK;
}

eef_err eef_traj_export_eto(const char *path, const eef_world *world, const eef_traj *t, size_t n)
{
    eef_buf ctx;
    eef_buf_init(&ctx);
    if (world && world->have) EEF_TRY(eef_world_put(&ctx, world));
    eef_afile af;
    eef_err e = eef_afile_open(&af, path);
    if (e) {
        eef_buf_free(&ctx);
        return e;
    }
    eef_buf b;
    eef_buf_init(&b);
    e = eef_afile_write(&af, n ? "[\n" : "[", n ? 2 : 1);
    for (size_t i = 0; i < n && !e; i++) {
        eef_buf_clear(&b);
        if (i && eef_buf_puts(&b, ",\n")) e = EEF_ENOMEM;
        if (!e) e = export_record(&t[i], ctx.data, &b);
        if (!e) e = eef_afile_write(&af, b.data, b.len);
    }
    if (!e) e = eef_afile_write(&af, n ? "\n]\n" : "]\n", n ? 3 : 2);
    eef_buf_free(&b);
    eef_buf_free(&ctx);
    if (e) {
        eef_afile_abort(&af);
        return eef_fail_ctx(e, "%s", path);
    }
    return eef_afile_commit(&af);
}

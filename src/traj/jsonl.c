/* jsonl.c: one trajectory <-> one JSON line, with every check the format
 * makes, and the header line {"eef": "trajectories", "version": 1}. */
#include "traj_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* indexes into traj_keys (json_text.c) */
enum { K_ID, K_ENV, K_TASK, K_SPLIT, K_INDEX, K_TIER, K_SOURCE, K_INSTR, K_REWARD, K_WIN, K_CONV,
       K_EEF, K_EXPERT, K_N };

static int key_of(const char *k)
{
    for (int i = 0; i < K_N; i++)
        if (strcmp(k, traj_keys[i]) == 0) return i;
    return -1;
}

/* The header line: {"eef": "trajectories", "version": N, "context": {...}}
 * ("context" absent in files of earlier versions: context unknown). */
static eef_err parse_header(const cJSON *j, const char *where, eef_world *ctx)
{
    eef_world_init(ctx);
    const cJSON *magic = cJSON_GetObjectItemCaseSensitive(j, "eef");
    if (!cJSON_IsString(magic) || strcmp(magic->valuestring, "trajectories") != 0)
        return eef_fail(EEF_EFORMAT, "%s: field 'eef' must be \"trajectories\"", where);
    long version;
    EEF_TRY(eef_json_int(j, "version", where, &version));
    if (version != EEF_TRAJ_VERSION)
        return eef_fail(EEF_EFORMAT, "%s: trajectory file version %ld is not supported (this eef reads %d)",
                        where, version, EEF_TRAJ_VERSION);
    const cJSON *context = NULL;
    for (const cJSON *m = j->child; m; m = m->next) {
        if (strcmp(m->string, "context") == 0 && !context) context = m;
        else if (strcmp(m->string, "eef") != 0 && strcmp(m->string, "version") != 0)
            return eef_fail(EEF_EFORMAT, "%s: %s field '%s' in the header line", where,
                            context && strcmp(m->string, "context") == 0 ? "duplicate" : "unknown",
                            m->string);
    }
    return context ? eef_world_from_json(context, where, ctx) : EEF_OK;
}

static eef_err nonempty_str(const cJSON *j, const char *key, const char *where, const char **out)
{
    EEF_TRY(eef_json_str(j, key, where, out));
    if (!**out) return eef_fail(EEF_EFORMAT, "%s: field '%s' is empty", where, key);
    return EEF_OK;
}

static eef_err parse_turns(const cJSON *conv, const char *where, eef_traj *t)
{
    size_t n = (size_t)cJSON_GetArraySize(conv);
    if (n == 0) return eef_fail(EEF_EFORMAT, "%s: field 'conversations' is empty", where);
    size_t k = 0;
    const char *pending_obs = NULL; /* human turn waiting for its gpt turn */
    for (const cJSON *turn = conv->child; turn; turn = turn->next, k++) {
        if (!cJSON_IsObject(turn))
            return eef_fail(EEF_EFORMAT, "%s: conversations[%zu] is not an object", where, k);
        const cJSON *from = cJSON_GetObjectItemCaseSensitive(turn, "from");
        const cJSON *value = cJSON_GetObjectItemCaseSensitive(turn, "value");
        const cJSON *loss = cJSON_GetObjectItemCaseSensitive(turn, "loss");
        if (!from) return eef_fail(EEF_EFORMAT, "%s: conversations[%zu]: field 'from' missing", where, k);
        if (!cJSON_IsString(from) ||
            (strcmp(from->valuestring, "human") != 0 && strcmp(from->valuestring, "gpt") != 0))
            return eef_fail(EEF_EFORMAT,
                            "%s: conversations[%zu]: field 'from' must be \"human\" or \"gpt\"", where, k);
        int is_gpt = from->valuestring[0] == 'g';
        if (is_gpt != (int)(k % 2))
            return eef_fail(EEF_EFORMAT,
                            "%s: conversations[%zu]: expected a %s turn, got %s (turns alternate human/gpt, human first)",
                            where, k, k % 2 ? "gpt" : "human", from->valuestring);
        if (!value)
            return eef_fail(EEF_EFORMAT, "%s: conversations[%zu]: field 'value' missing", where, k);
        if (!cJSON_IsString(value))
            return eef_fail(EEF_EFORMAT, "%s: conversations[%zu]: field 'value' is not a string", where, k);
        int mask = 0;
        if (is_gpt) {
            if (!loss)
                return eef_fail(EEF_EFORMAT, "%s: conversations[%zu]: field 'loss' missing", where, k);
            if (!cJSON_IsNumber(loss) || (loss->valuedouble != 0.0 && loss->valuedouble != 1.0))
                return eef_fail(EEF_EFORMAT, "%s: conversations[%zu]: field 'loss' must be 0 or 1",
                                where, k);
            mask = loss->valuedouble == 1.0;
            EEF_TRY(eef_traj_push(t, pending_obs, value->valuestring, mask));
            pending_obs = NULL;
        } else {
            if (loss && !cJSON_IsNull(loss) && !(cJSON_IsNumber(loss) && loss->valuedouble == 0.0))
                return eef_fail(EEF_EFORMAT,
                                "%s: conversations[%zu]: field 'loss' of a human turn must be 0", where, k);
            pending_obs = value->valuestring;
        }
    }
    if (pending_obs) EEF_TRY(eef_traj_set(&t->final_obs, pending_obs));
    return EEF_OK;
}

static eef_err parse_object(const cJSON *j, const char *where, eef_traj *t, int *is_header,
                            eef_world *ctx)
{
    if (!cJSON_IsObject(j)) return eef_fail(EEF_EFORMAT, "%s: not a JSON object", where);
    const cJSON *field[K_N] = { 0 };
    eef_buf extra;
    eef_buf_init(&extra);
    eef_err e = EEF_OK;
    for (const cJSON *m = j->child; m; m = m->next) {
        int k = key_of(m->string);
        if (k >= 0) {
            if (field[k]) {
                e = eef_fail(EEF_EFORMAT, "%s: duplicate field '%s'", where, m->string);
                goto out;
            }
            field[k] = m;
            continue;
        }
        for (const cJSON *o = j->child; o != m; o = o->next)
            if (strcmp(o->string, m->string) == 0) {
                e = eef_fail(EEF_EFORMAT, "%s: duplicate field '%s'", where, m->string);
                goto out;
            }
        if (eef_buf_append(&extra, extra.len ? "," : "{", 1) ||
            traj_put_member(&extra, m->string, m)) {
            e = EEF_ENOMEM;
            goto out;
        }
    }
    if (field[K_EEF]) {
        if (!is_header) {
            e = eef_fail(EEF_EFORMAT, "%s: a header line, not a trajectory", where);
            goto out;
        }
        *is_header = 1;
        e = parse_header(j, where, ctx);
        goto out;
    }
    const char *s;
    if ((e = nonempty_str(j, "id", where, &s)) || (e = eef_traj_set(&t->id, s))) goto out;
    if ((e = nonempty_str(j, "env", where, &s)) || (e = eef_traj_set(&t->env, s))) goto out;
    if ((e = nonempty_str(j, "task", where, &s)) || (e = eef_traj_set(&t->task, s))) goto out;
    if ((e = nonempty_str(j, "source", where, &s)) || (e = eef_traj_set(&t->source, s))) goto out;
    if (field[K_INSTR] && !cJSON_IsNull(field[K_INSTR])) {
        if (!cJSON_IsString(field[K_INSTR])) {
            e = eef_fail(EEF_EFORMAT, "%s: field 'instruction' is not a string", where);
            goto out;
        }
        if ((e = eef_traj_set(&t->instruction, field[K_INSTR]->valuestring))) goto out;
    }
    if (field[K_EXPERT] && !cJSON_IsNull(field[K_EXPERT])) {
        if (!cJSON_IsString(field[K_EXPERT]) || !field[K_EXPERT]->valuestring[0]) {
            e = eef_fail(EEF_EFORMAT, "%s: field 'expert' is not a non-empty string", where);
            goto out;
        }
        if ((e = eef_traj_set(&t->expert, field[K_EXPERT]->valuestring))) goto out;
    }
    if (field[K_SPLIT] && !cJSON_IsNull(field[K_SPLIT])) {
        const cJSON *v = field[K_SPLIT];
        if (cJSON_IsString(v) && strcmp(v->valuestring, "train") == 0) t->split = EEF_SPLIT_TRAIN;
        else if (cJSON_IsString(v) && strcmp(v->valuestring, "test") == 0) t->split = EEF_SPLIT_TEST;
        else {
            e = eef_fail(EEF_EFORMAT, "%s: field 'split' must be \"train\" or \"test\"", where);
            goto out;
        }
    }
    if (field[K_INDEX] && !cJSON_IsNull(field[K_INDEX])) {
        if (!cJSON_IsNumber(field[K_INDEX])) {
            e = eef_fail(EEF_EFORMAT, "%s: field 'index' is not a number", where);
            goto out;
        }
        if ((e = eef_json_int(j, "index", where, &t->index))) goto out;
        if (t->index < 0) {
            e = eef_fail(EEF_EFORMAT, "%s: field 'index' is negative", where);
            goto out;
        }
    }
    if (field[K_TIER] && !cJSON_IsNull(field[K_TIER])) {
        const cJSON *v = field[K_TIER];
        t->tier = -1;
        for (int i = 0; i < EEF_N_TIERS && cJSON_IsString(v); i++)
            if (strcmp(v->valuestring, eef_tier_name((eef_tier)i)) == 0) t->tier = i;
        if (t->tier < 0) {
            e = eef_fail(EEF_EFORMAT, "%s: field 'tier' must be \"easy\", \"medium\" or \"hard\"", where);
            goto out;
        }
    }
    if (field[K_REWARD] && !cJSON_IsNumber(field[K_REWARD])) {
        e = eef_fail(EEF_EFORMAT, "%s: field 'reward' is not a number", where);
        goto out;
    }
    if ((e = eef_json_num(j, "reward", where, &t->reward))) goto out;
    if (!field[K_WIN]) {
        e = eef_fail(EEF_EFORMAT, "%s: field 'win' missing", where);
        goto out;
    }
    if (!cJSON_IsBool(field[K_WIN])) {
        e = eef_fail(EEF_EFORMAT, "%s: field 'win' is not a boolean", where);
        goto out;
    }
    t->win = cJSON_IsTrue(field[K_WIN]);
    if (t->win != (t->reward == 1.0)) {
        e = eef_fail(EEF_EFORMAT, "%s: win is %s but reward is %.17g (win must equal reward == 1)",
                     where, t->win ? "true" : "false", t->reward);
        goto out;
    }
    const cJSON *conv;
    if ((e = eef_json_arr(j, "conversations", where, &conv))) goto out;
    if ((e = parse_turns(conv, where, t))) goto out;
    if (extra.len) {
        if (eef_buf_append(&extra, "}", 1)) {
            e = EEF_ENOMEM;
            goto out;
        }
        t->extra = extra.data;
        eef_buf_init(&extra);
    }
out:
    eef_buf_free(&extra);
    return e;
}

/* Parses one line; *is_header (when not NULL) is set for the header line. */
static eef_err parse_line(const char *line, size_t len, const char *where, eef_traj *out,
                          int *is_header, eef_world *ctx)
{
    eef_traj_init(out);
    if (is_header) *is_header = 0;
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) i++;
    if (i == len) return eef_fail(EEF_EFORMAT, "%s: empty line", where);
    EEF_TRY(traj_scan_line(line, len, where));
    cJSON *j;
    EEF_TRY(eef_json_parse(line, len, where, &j));
    eef_err e = parse_object(j, where, out, is_header, ctx);
    cJSON_Delete(j);
    if (e || (is_header && *is_header)) eef_traj_free(out);
    return e;
}

eef_err eef_traj_from_json(const char *line, size_t len, const char *where, eef_traj *out)
{
    return parse_line(line, len, where, out, NULL, NULL);
}

eef_err eef_traj_to_json(const eef_traj *t, eef_buf *out)
{
    char where[160];
    snprintf(where, sizeof where, "trajectory '%.100s'", t->id ? t->id : "(no id)");
    EEF_TRY(eef_traj_check(t, where));
    size_t start = out->len;
    eef_err e = EEF_OK;
    int bad = eef_buf_puts(out, "{\"id\":") || traj_put_str(out, t->id) ||
              eef_buf_puts(out, ",\"env\":") || traj_put_str(out, t->env) ||
              eef_buf_puts(out, ",\"task\":") || traj_put_str(out, t->task);
    if (!bad && t->split >= 0)
        bad = eef_buf_printf(out, ",\"split\":\"%s\"", eef_split_name((eef_split)t->split));
    if (!bad && t->index >= 0) bad = eef_buf_printf(out, ",\"index\":%ld", t->index);
    if (!bad && t->tier >= 0)
        bad = eef_buf_printf(out, ",\"tier\":\"%s\"", eef_tier_name((eef_tier)t->tier));
    bad = bad || eef_buf_puts(out, ",\"source\":") || traj_put_str(out, t->source);
    if (!bad && t->expert) bad = eef_buf_puts(out, ",\"expert\":") || traj_put_str(out, t->expert);
    if (!bad && t->instruction)
        bad = eef_buf_puts(out, ",\"instruction\":") || traj_put_str(out, t->instruction);
    bad = bad || eef_buf_puts(out, ",\"reward\":") || traj_put_num(out, t->reward) ||
          eef_buf_puts(out, t->win ? ",\"win\":true" : ",\"win\":false");
    if (bad) goto nomem;
    if ((e = traj_put_extra(out, t->extra, where))) goto fail;
    if (eef_buf_puts(out, ",\"conversations\":[")) goto nomem;
    for (size_t i = 0; i < t->n_steps; i++) {
        if (eef_buf_puts(out, i ? ",{\"from\":\"human\",\"value\":" : "{\"from\":\"human\",\"value\":") ||
            traj_put_str(out, t->steps[i].obs) ||
            eef_buf_puts(out, ",\"loss\":0},{\"from\":\"gpt\",\"value\":") ||
            traj_put_str(out, t->steps[i].action) ||
            eef_buf_printf(out, ",\"loss\":%d}", t->steps[i].mask))
            goto nomem;
    }
    if (t->final_obs && (eef_buf_puts(out, t->n_steps ? ",{\"from\":\"human\",\"value\":"
                                                      : "{\"from\":\"human\",\"value\":") ||
                         traj_put_str(out, t->final_obs) || eef_buf_puts(out, ",\"loss\":0}")))
        goto nomem;
    if (eef_buf_puts(out, "]}")) goto nomem;
    return EEF_OK;
nomem:
    e = EEF_ENOMEM;
fail:
    out->len = start;
    if (out->data) out->data[start] = 0;
    return e;
}

/* ---------------------------------------------------------------- reading */
eef_err eef_traj_reader_open(eef_traj_reader *r, const char *path, int skip_bad)
{
    memset(r, 0, sizeof *r);
    r->where = eef_malloc(strlen(path) + 32);
    if (!r->where) return EEF_ENOMEM;
    snprintf(r->where, strlen(path) + 32, "%s", path);
    eef_err e = eef_lines_open(&r->lines, path);
    if (e) {
        free(r->where);
        r->where = NULL;
        return e;
    }
    r->lines.max_line = EEF_TRAJ_MAX_LINE;
    r->skip_bad = skip_bad;
    return EEF_OK;
}

eef_err eef_traj_reader_next(eef_traj_reader *r, eef_traj *out, int *got)
{
    eef_traj_free(out);
    *got = 0;
    for (;;) {
        char *line;
        size_t len;
        eef_err e = eef_lines_next(&r->lines, &line, &len);
        snprintf(r->where, strlen(r->lines.path) + 32, "%s:%ld", r->lines.path, r->lines.line);
        if (!e && !line) return EEF_OK;
        int is_header = 0;
        eef_world ctx;
        if (!e) e = parse_line(line, len, r->where, out, &is_header, &ctx);
        if (e == EEF_EFORMAT && r->skip_bad) {
            fprintf(stderr, "%s\n", eef_errmsg());
            r->n_bad++;
            continue;
        }
        if (e) return e;
        if (is_header) {
            /* files joined with cat: each part must come from the same world */
            if (r->seen_header && (memcmp(&ctx, &r->ctx, sizeof ctx) != 0)) {
                char a[600], b[600];
                eef_world_describe(&r->ctx, a, sizeof a);
                eef_world_describe(&ctx, b, sizeof b);
                return eef_fail(EEF_EFORMAT, "%s: a second header line with another context (%s; "
                                "the first: %s): files of different worlds were joined", r->where, b, a);
            }
            r->ctx = ctx;
            r->seen_header = 1;
            continue;
        }
        *got = 1;
        return EEF_OK;
    }
}

void eef_traj_reader_close(eef_traj_reader *r)
{
    eef_lines_close(&r->lines);
    free(r->where);
    r->where = NULL;
}

eef_err eef_traj_read(const char *path, int skip_bad, eef_trajset *out, size_t *n_bad)
{
    return eef_traj_read_ctx(path, skip_bad, out, n_bad, NULL);
}

eef_err eef_traj_read_ctx(const char *path, int skip_bad, eef_trajset *out, size_t *n_bad,
                          eef_world *ctx)
{
    if (ctx) eef_world_init(ctx);
    eef_traj_reader r;
    EEF_TRY(eef_traj_reader_open(&r, path, skip_bad));
    size_t n0 = out->n;
    eef_traj t;
    eef_traj_init(&t);
    eef_err e;
    int got;
    while (!(e = eef_traj_reader_next(&r, &t, &got)) && got)
        if ((e = eef_trajset_push(out, &t))) break;
    eef_traj_free(&t);
    if (n_bad) *n_bad = r.n_bad;
    if (ctx && !e) *ctx = r.ctx;
    eef_traj_reader_close(&r);
    if (e) { /* leave `out` as it was */
        while (out->n > n0) eef_traj_free(&out->items[--out->n]);
        if (n0 == 0) eef_trajset_free(out);
    }
    return e;
}

/* ---------------------------------------------------------------- writing */
eef_err eef_traj_writer_open(eef_traj_writer *w, const char *path)
{
    return eef_traj_writer_open_ctx(w, path, NULL);
}

eef_err eef_traj_writer_open_ctx(eef_traj_writer *w, const char *path, const eef_world *ctx)
{
    eef_buf_init(&w->line);
    EEF_TRY(eef_afile_open(&w->af, path));
    int bad = eef_buf_printf(&w->line, "{\"eef\":\"trajectories\",\"version\":%d", EEF_TRAJ_VERSION);
    if (!bad && ctx && ctx->have)
        bad = eef_buf_puts(&w->line, ",\"context\":") || eef_world_put(&w->line, ctx);
    if (bad || eef_buf_puts(&w->line, "}\n")) {
        eef_traj_writer_abort(w);
        return EEF_ENOMEM;
    }
    eef_err e = eef_afile_write(&w->af, w->line.data, w->line.len);
    if (e) eef_traj_writer_abort(w);
    return e;
}

eef_err eef_traj_writer_add(eef_traj_writer *w, const eef_traj *t)
{
    eef_buf_clear(&w->line);
    EEF_TRY(eef_traj_to_json(t, &w->line));
    if (eef_buf_append(&w->line, "\n", 1)) return EEF_ENOMEM;
    return eef_afile_write(&w->af, w->line.data, w->line.len);
}

eef_err eef_traj_writer_commit(eef_traj_writer *w)
{
    eef_buf_free(&w->line);
    return eef_afile_commit(&w->af);
}

void eef_traj_writer_abort(eef_traj_writer *w)
{
    eef_buf_free(&w->line);
    eef_afile_abort(&w->af);
}

eef_err eef_traj_write(const char *path, const eef_traj *t, size_t n)
{
    return eef_traj_write_ctx(path, NULL, t, n);
}

eef_err eef_traj_write_ctx(const char *path, const eef_world *ctx, const eef_traj *t, size_t n)
{
    eef_traj_writer w;
    EEF_TRY(eef_traj_writer_open_ctx(&w, path, ctx));
    for (size_t i = 0; i < n; i++) {
        eef_err e = eef_traj_writer_add(&w, &t[i]);
        if (e) {
            eef_traj_writer_abort(&w);
            return eef_fail_ctx(e, "%s", path);
        }
    }
    return eef_traj_writer_commit(&w);
}

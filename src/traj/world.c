/* world.c: the record of the world a file was made in (traj.h,
 * eef_world): building it, JSON both ways, the one check, and rebuilding
 * the world it names. */
#include "traj_internal.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* Seeds up to 2^53 are exact in a JSON number (a double). */
#define MAX_SEED 9007199254740992.0

void eef_world_init(eef_world *c) { memset(c, 0, sizeof *c); }

static eef_err set_field(char *dst, size_t cap, const char *value, const char *what)
{
    if (!value) value = "";
    if (strlen(value) >= cap)
        return eef_fail(EEF_EINVAL, "%s '%.40s...' is longer than a context records (%zu bytes)",
                        what, value, cap - 1);
    memcpy(dst, value, strlen(value) + 1);
    return EEF_OK;
}

eef_err eef_world_set_env(eef_world *c, const char *env, const char *options,
                              uint64_t seed, const eef_env *opened)
{
    EEF_TRY(set_field(c->env, sizeof c->env, env, "environment"));
    EEF_TRY(set_field(c->env_options, sizeof c->env_options, options, "environment options"));
    if ((double)seed > MAX_SEED)
        return eef_fail(EEF_EINVAL, "seed %llu is larger than a context records (2^53)",
                        (unsigned long long)seed);
    c->seed = seed;
    c->have |= EEF_CTX_ENV | EEF_CTX_ENV_OPT | EEF_CTX_SEED;
    c->have &= ~(unsigned)EEF_CTX_WORLD;
    c->world[0] = 0;
    if (opened) {
        eef_err e = eef_env_fingerprint(opened, c->world);
        if (e == EEF_OK) c->have |= EEF_CTX_WORLD;
        else if (e != EEF_ENOTFOUND) return e;
        eef_errclear();
    }
    return EEF_OK;
}

/* The built-in experts' profile: the "weak" expert's, else the last
 * profile= of its options (later knobs override earlier ones), else "". */
static void profile_of(const char *expert, const char *options, char *out, size_t cap)
{
    snprintf(out, cap, "%s", expert && strcmp(expert, "weak") == 0 ? "weak" : "");
    for (const char *p = options; p && *p;) {
        size_t n = strcspn(p, ",");
        if (n > 8 && strncmp(p, "profile=", 8) == 0) snprintf(out, cap, "%.*s", (int)(n - 8), p + 8);
        p += n + (p[n] == ',');
    }
}

eef_err eef_world_set_expert(eef_world *c, const char *expert, const char *profile,
                               const char *options)
{
    char derived[sizeof c->expert_profile + 1];
    if (!profile) {
        profile_of(expert, options, derived, sizeof derived);
        profile = derived;
    }
    EEF_TRY(set_field(c->expert, sizeof c->expert, expert ? expert : "builtin", "expert"));
    EEF_TRY(set_field(c->expert_profile, sizeof c->expert_profile, profile, "expert profile"));
    EEF_TRY(set_field(c->expert_options, sizeof c->expert_options, options, "expert options"));
    c->have |= EEF_CTX_EXPERT;
    return EEF_OK;
}

int eef_world_env_is(const eef_world *c, const char *name)
{
    if (!(c->have & EEF_CTX_ENV)) return 1;
    size_t n = strlen(name);
    return strcmp(c->env, name) == 0 || (strncmp(c->env, name, n) == 0 && c->env[n] == ':');
}

/* ------------------------------------------------------------------ JSON */
cJSON *eef_world_to_json(const eef_world *c)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    int bad = 0;
    if (c->have & EEF_CTX_ENV) bad |= !cJSON_AddStringToObject(o, "env", c->env);
    if (c->have & EEF_CTX_ENV_OPT) bad |= !cJSON_AddStringToObject(o, "env_options", c->env_options);
    if (c->have & EEF_CTX_SEED) {
        /* as digits: cJSON prints numbers with 15 significant digits when
         * that reads back within its tolerance, which 2^52 + 1 does not */
        char seed[24];
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)c->seed);
        bad |= !cJSON_AddRawToObject(o, "seed", seed);
    }
    if (c->have & EEF_CTX_PROMPT) bad |= !cJSON_AddStringToObject(o, "prompt", c->prompt);
    if (c->have & EEF_CTX_EXPERT) {
        cJSON *x = cJSON_AddObjectToObject(o, "expert");
        bad |= !x || !cJSON_AddStringToObject(x, "name", c->expert) ||
               !cJSON_AddStringToObject(x, "profile", c->expert_profile) ||
               !cJSON_AddStringToObject(x, "options", c->expert_options);
    }
    if (c->have & EEF_CTX_WORLD) bad |= !cJSON_AddStringToObject(o, "world", c->world);
    if (bad) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

eef_err eef_world_put(eef_buf *b, const eef_world *c)
{
    cJSON *o = eef_world_to_json(c);
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    int bad = !text || eef_buf_puts(b, text);
    cJSON_free(text);
    return bad ? eef_fail(EEF_ENOMEM, "out of memory writing a context") : EEF_OK;
}

static eef_err get_str(const cJSON *o, const char *key, const char *where, char *dst, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(v))
        return eef_fail(EEF_EFORMAT, "%s: context field '%s' %s", where, key,
                        v ? "is not a string" : "missing");
    size_t n = strlen(v->valuestring);
    if (n >= cap)
        return eef_fail(EEF_EFORMAT, "%s: context field '%s' is longer than %zu bytes", where, key,
                        cap - 1);
    if (!eef_utf8_valid(v->valuestring, n))
        return eef_fail(EEF_EFORMAT, "%s: context field '%s' is not valid UTF-8", where, key);
    memcpy(dst, v->valuestring, n + 1);
    return EEF_OK;
}

static int is_world(const char *s)
{
    for (int i = 0; i < EEF_FINGERPRINT_LEN - 1; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return s[EEF_FINGERPRINT_LEN - 1] == 0;
}

/* The keys of the record and of its "expert" object, each at most once. */
static eef_err check_keys(const cJSON *o, const char *const *keys, size_t n, const char *where,
                          const char *what)
{
    for (const cJSON *m = o->child; m; m = m->next) {
        size_t k = 0;
        while (k < n && strcmp(m->string, keys[k]) != 0) k++;
        if (k == n) return eef_fail(EEF_EFORMAT, "%s: unknown field '%s' in the %s", where, m->string, what);
        for (const cJSON *p = o->child; p != m; p = p->next)
            if (strcmp(p->string, m->string) == 0)
                return eef_fail(EEF_EFORMAT, "%s: duplicate field '%s' in the %s", where, m->string, what);
    }
    return EEF_OK;
}

eef_err eef_world_from_json(const cJSON *j, const char *where, eef_world *c)
{
    static const char *const keys[] = { "env", "env_options", "seed", "prompt", "expert", "world" };
    static const char *const xkeys[] = { "name", "profile", "options" };
    eef_world_init(c);
    if (!cJSON_IsObject(j)) return eef_fail(EEF_EFORMAT, "%s: the context is not an object", where);
    EEF_TRY(check_keys(j, keys, EEF_ARRAY_LEN(keys), where, "context"));
    eef_world r;
    eef_world_init(&r);
    if (cJSON_GetObjectItemCaseSensitive(j, "env")) {
        EEF_TRY(get_str(j, "env", where, r.env, sizeof r.env));
        if (!r.env[0]) return eef_fail(EEF_EFORMAT, "%s: context field 'env' is empty", where);
        r.have |= EEF_CTX_ENV;
    }
    if (cJSON_GetObjectItemCaseSensitive(j, "env_options")) {
        EEF_TRY(get_str(j, "env_options", where, r.env_options, sizeof r.env_options));
        r.have |= EEF_CTX_ENV_OPT;
    }
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(j, "seed");
    if (seed) {
        if (!cJSON_IsNumber(seed) || !(seed->valuedouble >= 0) || seed->valuedouble > MAX_SEED ||
            seed->valuedouble != (double)(uint64_t)seed->valuedouble)
            return eef_fail(EEF_EFORMAT, "%s: context field 'seed' must be an integer from 0 to 2^53",
                            where);
        r.seed = (uint64_t)seed->valuedouble;
        r.have |= EEF_CTX_SEED;
    }
    if (cJSON_GetObjectItemCaseSensitive(j, "prompt")) {
        EEF_TRY(get_str(j, "prompt", where, r.prompt, sizeof r.prompt));
        r.have |= EEF_CTX_PROMPT;
    }
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, "expert");
    if (x) {
        if (!cJSON_IsObject(x))
            return eef_fail(EEF_EFORMAT, "%s: context field 'expert' is not an object", where);
        EEF_TRY(check_keys(x, xkeys, EEF_ARRAY_LEN(xkeys), where, "context's expert"));
        EEF_TRY(get_str(x, "name", where, r.expert, sizeof r.expert));
        EEF_TRY(get_str(x, "profile", where, r.expert_profile, sizeof r.expert_profile));
        EEF_TRY(get_str(x, "options", where, r.expert_options, sizeof r.expert_options));
        r.have |= EEF_CTX_EXPERT;
    }
    if (cJSON_GetObjectItemCaseSensitive(j, "world")) {
        EEF_TRY(get_str(j, "world", where, r.world, sizeof r.world));
        if (!is_world(r.world))
            return eef_fail(EEF_EFORMAT, "%s: context field 'world' must be 16 lowercase hex digits",
                            where);
        r.have |= EEF_CTX_WORLD;
    }
    *c = r;
    return EEF_OK;
}

void eef_world_describe(const eef_world *c, char *out, size_t cap)
{
    if (!c->have) {
        snprintf(out, cap, "context unknown (the file records no world: written by an earlier "
                           "eef or another tool)");
        return;
    }
    size_t n = 0;
#define PUT(...)                                                                   \
    do {                                                                           \
        if (n < cap) n += (size_t)snprintf(out + n, cap - n, __VA_ARGS__);         \
    } while (0)
    out[0] = 0;
    PUT("%s", c->have & EEF_CTX_ENV ? c->env : "env unknown");
    if (c->have & EEF_CTX_SEED) PUT(", seed %llu", (unsigned long long)c->seed);
    if ((c->have & EEF_CTX_ENV_OPT) && c->env_options[0]) PUT(", options %s", c->env_options);
    if (c->have & EEF_CTX_WORLD) PUT(", world %s", c->world);
    if (c->have & EEF_CTX_EXPERT) {
        PUT(", expert %s", c->expert);
        if (c->expert_profile[0]) PUT(" profile %s", c->expert_profile);
        if (c->expert_options[0]) PUT(" (%s)", c->expert_options);
    }
    if (c->have & EEF_CTX_PROMPT) PUT(", prompt %s", c->prompt);
#undef PUT
}

/* ------------------------------------------------------------------ check */
static const char *shown(const char *s) { return *s ? s : "(none: the defaults)"; }

eef_err eef_world_check(const eef_world *file, const eef_world *given, const char *where,
                          const char *given_by)
{
    unsigned both = file->have & given->have;
    if (!given_by) given_by = "was given";
    if ((both & EEF_CTX_ENV) && strcmp(file->env, given->env) != 0)
        return eef_fail(EEF_EINVAL, "%s was made in environment %s; %s %s (leave it out to use the file's)",
                        where, file->env, given->env, given_by);
    if ((both & EEF_CTX_SEED) && file->seed != given->seed)
        return eef_fail(EEF_EINVAL,
                        "%s was made in the world of seed %llu; seed %llu %s (leave it out to use the file's)",
                        where, (unsigned long long)file->seed, (unsigned long long)given->seed, given_by);
    if ((both & EEF_CTX_ENV_OPT) && strcmp(file->env_options, given->env_options) != 0)
        return eef_fail(EEF_EINVAL,
                        "%s was made with environment options %s; %s %s (leave them out to use the file's)",
                        where, shown(file->env_options), shown(given->env_options), given_by);
    if ((both & EEF_CTX_PROMPT) && strcmp(file->prompt, given->prompt) != 0)
        return eef_fail(EEF_EINVAL, "%s was made with prompt format %s; %s %s", where, file->prompt,
                        given->prompt, given_by);
    if ((both & EEF_CTX_EXPERT) && (strcmp(file->expert, given->expert) != 0 ||
                                    strcmp(file->expert_profile, given->expert_profile) != 0 ||
                                    strcmp(file->expert_options, given->expert_options) != 0))
        return eef_fail(EEF_EINVAL, "%s was made with expert %s profile %s options %s; expert %s profile %s options %s %s",
                        where, file->expert, shown(file->expert_profile), shown(file->expert_options),
                        given->expert, shown(given->expert_profile), shown(given->expert_options),
                        given_by);
    if ((both & EEF_CTX_WORLD) && strcmp(file->world, given->world) != 0)
        return eef_fail(EEF_EINVAL, "%s was made in the world of fingerprint %s (%s%s%s, seed %llu); "
                        "fingerprint %s %s",
                        where, file->world, file->env, file->env_options[0] ? " " : "",
                        file->env_options, (unsigned long long)file->seed, given->world, given_by);
    return EEF_OK;
}

eef_err eef_world_open_env(const eef_world *c, const char *where, eef_env **out)
{
    *out = NULL;
    if (!(c->have & EEF_CTX_ENV))
        return eef_fail(EEF_EINVAL, "%s records no environment", where);
    eef_env *env;
    eef_err e = eef_env_open(c->env, c->env_options[0] ? c->env_options : NULL, c->seed, &env);
    if (e) return eef_fail_ctx(e, "%s: rebuilding its world", where);
    eef_world now = *c;
    if ((e = eef_world_set_env(&now, c->env, c->env_options, c->seed, env)) ||
        (e = eef_world_check(c, &now, where, "is that of the world its record builds now: the data "
                             "files or eef's world generator changed"))) {
        eef_env_close(env);
        return e;
    }
    *out = env;
    return EEF_OK;
}

/* run_world.c: the world of a run directory.
 *
 * A run records the world it is made in (traj.h, eef_world) in world.json:
 *
 *   {"eef": "world", "version": 1, "context": {"env": "shop", ...}}
 *
 * written once, when the run starts; a resumed run, and a run taken --from
 * it, must rebuild the same world (the same fingerprint).  Runs of earlier
 * versions have no world.json: their config.json names env, options, seed
 * and expert, which is their world without a fingerprint. */
#include "tune.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

eef_err eef_run_world_of(const eef_run_config *c, const eef_env *env, eef_world *out)
{
    eef_world_init(out);
    EEF_TRY(eef_world_set_env(out, c->env, c->env_options, c->seed, env));
    EEF_TRY(eef_world_set_expert(out, c->expert, NULL, c->expert_options));
    snprintf(out->prompt, sizeof out->prompt, "eef-%d", EEF_PROMPT_VERSION);
    out->have |= EEF_CTX_PROMPT;
    return EEF_OK;
}

eef_err eef_run_world_write(const char *path, const eef_world *w)
{
    eef_buf b;
    eef_buf_init(&b);
    eef_err e = eef_buf_puts(&b, "{\"eef\":\"world\",\"version\":1,\"context\":") ? EEF_ENOMEM : EEF_OK;
    if (!e) e = eef_world_put(&b, w);
    if (!e && eef_buf_puts(&b, "}\n")) e = EEF_ENOMEM;
    if (!e) e = eef_write_file_atomic(path, b.data, b.len);
    eef_buf_free(&b);
    return e;
}

static eef_err read_json(const char *path, cJSON **out)
{
    char *data;
    size_t len;
    EEF_TRY(eef_read_file(path, &data, &len));
    eef_err e = eef_json_parse(data, len, path, out);
    free(data);
    return e;
}

static eef_err world_json(const char *path, eef_world *out)
{
    cJSON *j;
    EEF_TRY(read_json(path, &j));
    const cJSON *magic = cJSON_GetObjectItemCaseSensitive(j, "eef");
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(j, "version");
    eef_err e = EEF_OK;
    if (!cJSON_IsString(magic) || strcmp(magic->valuestring, "world") != 0)
        e = eef_fail(EEF_EFORMAT, "%s: field 'eef' must be \"world\"", path);
    else if (!cJSON_IsNumber(version) || version->valuedouble != 1)
        e = eef_fail(EEF_EFORMAT, "%s: world file version is not 1", path);
    for (const cJSON *m = j->child; !e && m; m = m->next)
        if (strcmp(m->string, "eef") && strcmp(m->string, "version") && strcmp(m->string, "context"))
            e = eef_fail(EEF_EFORMAT, "%s: unknown field '%s'", path, m->string);
    if (!e) e = eef_world_from_json(cJSON_GetObjectItemCaseSensitive(j, "context"), path, out);
    cJSON_Delete(j);
    return e;
}

eef_err eef_run_world_read(const char *dir, eef_world *out, char *where, size_t cap)
{
    char p[1100];
    eef_world_init(out);
    snprintf(where, cap, "%s", eef_path_join(p, sizeof p, dir, "world.json"));
    if (eef_file_exists(p)) return world_json(p, out);
    /* an earlier eef's run: its configuration names the world */
    snprintf(where, cap, "%s", eef_path_join(p, sizeof p, dir, "config.json"));
    cJSON *j;
    EEF_TRY(read_json(p, &j));
    eef_run_config c;
    eef_err e = eef_run_config_from_json(j, p, &c);
    cJSON_Delete(j);
    return e ? e : eef_run_world_of(&c, NULL, out);
}

/* expert.c: opening an expert by name (built-in or a chat endpoint). */
#include "policy.h"

#include <stdlib.h>
#include <string.h>

/* Splits "model=M" and "key_env=V" out of a chat expert's options; the
 * rest goes to eef_chat_expert_open. */
static eef_err chat_open(const char *url, const char *options, eef_policy **out)
{
    char model[256] = "eef", key_env[256] = "";
    eef_buf rest;
    eef_buf_init(&rest);
    char *copy = eef_strdup(options ? options : "");
    if (!copy) return EEF_ENOMEM;
    char *save = NULL;
    for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        if (strncmp(kv, "model=", 6) == 0) snprintf(model, sizeof model, "%s", kv + 6);
        else if (strncmp(kv, "key_env=", 8) == 0) snprintf(key_env, sizeof key_env, "%s", kv + 8);
        else eef_buf_printf(&rest, "%s%s", rest.len ? "," : "", kv);
    }
    free(copy);
    eef_err e = eef_chat_expert_open(url, model, key_env[0] ? key_env : NULL,
                                     rest.len ? rest.data : NULL, out);
    eef_buf_free(&rest);
    return e;
}

eef_err eef_expert_open(const char *env, const char *expert, const char *options,
                        eef_policy **out)
{
    *out = NULL;
    if (expert && strncmp(expert, "chat:", 5) == 0) return chat_open(expert + 5, options, out);
    int weak = expert && strcmp(expert, "weak") == 0;
    if (expert && *expert && strcmp(expert, "builtin") != 0 && !weak)
        return eef_fail(EEF_EINVAL, "unknown expert '%s' (builtin, weak or chat:URL)", expert);
    /* the weak expert is the built-in one with its weak profile; the
     * caller's options come after it and override single knobs */
    char opts[1024];
    if (weak) {
        int n = snprintf(opts, sizeof opts, "profile=weak%s%s", options && *options ? "," : "",
                         options ? options : "");
        if (n < 0 || (size_t)n >= sizeof opts) return eef_fail(EEF_EINVAL, "expert options too long");
        options = opts;
    }
    if (strcmp(env, "shop") == 0) return eef_expert_shop_open(options, out);
    if (strcmp(env, "house") == 0) return eef_expert_house_open(options, out);
    return eef_fail(EEF_EINVAL, "no built-in expert for environment '%s' (use --expert chat:URL)",
                    env);
}

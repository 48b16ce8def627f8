/* env.c: what all environments share: the registry (opening by name, the
 * text by name), restore by replay, option strings, names of splits and
 * tiers. */
#include "env.h"

#include <stdlib.h>
#include <string.h>

/* The registry: the Makefile passes EEF_ENV_KINDS, X(folder) for each
 * folder of src/env/, and each folder defines eef_env_kind_<folder>. */
#ifndef EEF_ENV_KINDS
#error "EEF_ENV_KINDS (X(shop) X(house) ...) is set by the Makefile"
#endif
#define X(k) extern const eef_env_kind eef_env_kind_##k;
EEF_ENV_KINDS
#undef X
static const eef_env_kind *const kinds[] = {
#define X(k) &eef_env_kind_##k,
    EEF_ENV_KINDS
#undef X
};

/* The kind `name` opens ("remote:URL" is the kind "remote:" with its
 * argument) or NULL; a trajectory's env name, "remote", is its kind's too. */
static const eef_env_kind *find_kind(const char *name, const char **arg)
{
    for (size_t i = 0; name && i < EEF_ARRAY_LEN(kinds); i++) {
        const char *k = kinds[i]->name;
        size_t n = strlen(k);
        if (n && k[n - 1] == ':') {
            if (strncmp(name, k, n) == 0) return *arg = name + n, kinds[i];
            if (strncmp(name, k, n - 1) == 0 && !name[n - 1]) return *arg = NULL, kinds[i];
        } else if (strcmp(name, k) == 0) {
            return *arg = NULL, kinds[i];
        }
    }
    return NULL;
}

/* Text of no registered environment reads as WebShop's pages: the format
 * of AgentGym's WebShop, and it leaves other text as it is (but for the
 * instruction it cuts). */
#define DEFAULT_TEXT_KIND "shop"

const eef_env_text *eef_env_text_of(const char *env_name)
{
    const char *arg;
    const eef_env_kind *k = find_kind(env_name, &arg);
    if (!k) k = find_kind(DEFAULT_TEXT_KIND, &arg);
    return k ? k->text : kinds[0]->text;
}

const char *eef_split_name(eef_split s) { return s == EEF_SPLIT_TEST ? "test" : "train"; }

const char *eef_tier_name(eef_tier t)
{
    switch (t) {
    case EEF_TIER_EASY: return "easy";
    case EEF_TIER_MEDIUM: return "medium";
    case EEF_TIER_HARD: return "hard";
    }
    return "?";
}

eef_err eef_split_parse(const char *s, eef_split *out)
{
    if (strcmp(s, "train") == 0) *out = EEF_SPLIT_TRAIN;
    else if (strcmp(s, "test") == 0) *out = EEF_SPLIT_TEST;
    else return eef_fail(EEF_EINVAL, "unknown split '%s' (train or test)", s);
    return EEF_OK;
}

void eef_actions_free(eef_actions *a)
{
    eef_strlist_free(&a->items);
    a->free_prefix = a->free_suffix = NULL;
}

int eef_actions_allows(const eef_actions *a, const char *action)
{
    for (size_t i = 0; i < a->items.n; i++)
        if (strcmp(a->items.items[i], action) == 0) return 1;
    if (a->free_prefix) {
        size_t lp = strlen(a->free_prefix), ls = strlen(a->free_suffix ? a->free_suffix : "");
        size_t la = strlen(action);
        if (la > lp + ls && memcmp(action, a->free_prefix, lp) == 0 &&
            memcmp(action + la - ls, a->free_suffix, ls) == 0)
            return 1; /* with some text inside */
    }
    return 0;
}

eef_err eef_env_open(const char *name, const char *options, uint64_t seed, eef_env **out)
{
    *out = NULL;
    const char *arg;
    const eef_env_kind *k = find_kind(name, &arg);
    if (k && (arg || k->name[strlen(k->name) - 1] != ':')) return k->open(arg, options, seed, out);
    char known[256] = "";
    for (size_t i = 0, n = 0; i < EEF_ARRAY_LEN(kinds); i++)
        n += (size_t)snprintf(known + n, n < sizeof known ? sizeof known - n : 0, "%s%s",
                              i == 0 ? "" : i + 1 < EEF_ARRAY_LEN(kinds) ? ", " : " or ",
                              kinds[i]->usage);
    return eef_fail(EEF_EINVAL, "unknown environment '%s' (%s)", name, known);
}

void eef_env_close(eef_env *env)
{
    if (env) env->ops->close(env);
}

eef_err eef_env_restore_watch(eef_episode *ep, eef_split split, size_t index,
                              const char *const *actions, size_t n, eef_restore_watch *w,
                              eef_step *out)
{
    const eef_env_ops *ops = ep->env->ops;
    eef_step st;
    if (w) w->taken = 0;
    EEF_TRY(ops->reset(ep, split, index, &st));
    for (size_t i = 0; i < n; i++) {
        if (w && w->before) EEF_TRY(w->before(w->ctx, i, &st));
        if (st.done) {
            if (w && w->as_recorded) break;
            return eef_fail(EEF_ESTATE, "restore: episode ended after %zu of %zu actions", i, n);
        }
        EEF_TRY(ops->step(ep, actions[i], &st));
        if (w) w->taken = i + 1;
        if (!st.valid && !(w && w->as_recorded))
            return eef_fail(EEF_ESTATE, "restore: action %zu '%s' is invalid: %s", i + 1,
                            actions[i], st.obs);
    }
    if (out) *out = st;
    return EEF_OK;
}

eef_err eef_env_restore(eef_episode *ep, eef_split split, size_t index,
                        const char *const *actions, size_t n, eef_step *out)
{
    return eef_env_restore_watch(ep, split, index, actions, n, NULL, out);
}

eef_err eef_env_options(const char *options, eef_option_fn fn, void *ctx)
{
    if (!options || !*options) return EEF_OK;
    char *copy = eef_strdup(options);
    if (!copy) return EEF_ENOMEM;
    eef_err err = EEF_OK;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok) {
            err = eef_fail(EEF_EINVAL, "environment option '%s' is not key=value", tok);
            break;
        }
        *eq = 0;
        err = fn(tok, eq + 1, ctx);
    }
    free(copy);
    return err;
}

eef_err eef_env_fingerprint(const eef_env *env, char out[EEF_FINGERPRINT_LEN])
{
    out[0] = 0;
    if (!env->ops->digest)
        return eef_fail(EEF_ENOTFOUND, "environment '%s' has no world fingerprint", env->ops->name);
    uint64_t h = eef_hash_bytes(env->ops->digest(env), env->ops->name, strlen(env->ops->name));
    int32_t steps = env->max_steps; /* the step limit is part of the world's rules */
    h = eef_hash_bytes(h, &steps, sizeof steps);
    snprintf(out, EEF_FINGERPRINT_LEN, "%016llx", (unsigned long long)eef_hash64(h));
    return EEF_OK;
}

eef_err eef_env_key_actions(eef_env *env, eef_split split, size_t index,
                            const char *const *actions, size_t n, unsigned char *is_key)
{
    if (!env->ops->key_actions)
        return eef_fail(EEF_ENOTFOUND, "environment '%s' does not tell key actions", env->ops->name);
    return env->ops->key_actions(env, split, index, actions, n, is_key);
}

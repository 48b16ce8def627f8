/* house_env.c: the household world behind the env vtable (env/env.h).
 *
 * Options: "train=N,test=N,steps=N" (defaults 1000, 200, 40).  Every task
 * is generated at open (a few microseconds each, ~200 bytes of layout);
 * an episode holds only the small house_state, so `copy` is a memcpy.
 */
#include "house_internal.h"

#include <stdlib.h>
#include <string.h>

#define HOUSE_MAX_TASKS 200000
#define HOUSE_GOAL_CAP 96

static size_t h_n_tasks(const eef_env *env, eef_split split)
{
    const house_env *h = (const house_env *)env;
    return split == EEF_SPLIT_TEST ? h->n[1] : h->n[0];
}

static eef_err check_task(const house_env *h, eef_split split, size_t index)
{
    if (split != EEF_SPLIT_TRAIN && split != EEF_SPLIT_TEST)
        return eef_fail(EEF_EINVAL, "house: unknown split %d", (int)split);
    if (index >= h->n[split])
        return eef_fail(EEF_EINVAL, "house: task %zu is out of range (%s has %zu)", index,
                        eef_split_name(split), h->n[split]);
    return EEF_OK;
}

static eef_err h_task(const eef_env *env, eef_split split, size_t index, eef_task *out)
{
    const house_env *h = (const house_env *)env;
    EEF_TRY(check_task(h, split, index));
    out->id = h->id[split][index];
    out->split = split;
    out->index = index;
    out->tier = (eef_tier)h->lay[split][index].tier;
    out->instruction = h->goal[split][index];
    return EEF_OK;
}

static eef_err h_episode_open(eef_env *env, eef_episode **out)
{
    house_episode *ep = eef_calloc(1, sizeof *ep);
    if (!ep) return EEF_ENOMEM;
    ep->base.env = env;
    eef_buf_init(&ep->obs);
    *out = &ep->base;
    return EEF_OK;
}

static void fill_step(house_episode *ep, eef_step *out)
{
    out->obs = ep->obs.data ? ep->obs.data : "";
    out->done = ep->st.done;
    out->reward = ep->st.won ? 1.0 : 0.0;
}

static eef_err h_reset(eef_episode *e, eef_split split, size_t index, eef_step *out)
{
    house_episode *ep = (house_episode *)e;
    const house_env *h = (const house_env *)e->env;
    EEF_TRY(check_task(h, split, index));
    const house_layout *L = &h->lay[split][index];
    if (ep->lay != L) house_names_build(L, &ep->names);
    ep->lay = L;
    house_state_init(L, split, index, &ep->st);
    eef_buf_clear(&ep->obs);
    house_text_intro(L, &ep->names, h->goal[split][index], &ep->obs);
    if (!ep->obs.data) return eef_fail(EEF_ENOMEM, "house: out of memory");
    fill_step(ep, out);
    out->valid = 1;
    return EEF_OK;
}

void house_step_act(house_episode *ep, int parsed, const house_act *a, eef_step *out)
{
    const house_layout *L = ep->lay;
    int valid = parsed && house_valid(L, &ep->st, a);
    if (valid) {
        house_apply(L, &ep->names, &ep->st, a, &ep->obs);
        if (house_goal_met(L, &ep->st)) ep->st.won = ep->st.done = 1;
    } else {
        eef_buf_clear(&ep->obs);
        eef_buf_puts(&ep->obs, "Nothing happens.");
    }
    ep->st.steps++;
    if (ep->st.steps >= ep->base.env->max_steps) ep->st.done = 1;
    fill_step(ep, out);
    out->valid = valid;
}

static eef_err h_step(eef_episode *e, const char *action, eef_step *out)
{
    house_episode *ep = (house_episode *)e;
    if (!ep->lay) return eef_fail(EEF_ESTATE, "house: step before reset");
    if (ep->st.done) return eef_fail(EEF_ESTATE, "house: step after the episode ended");
    house_act a;
    int parsed = action && house_parse(ep->lay, action, &a);
    house_step_act(ep, parsed, &a, out);
    if (!ep->obs.data) return eef_fail(EEF_ENOMEM, "house: out of memory");
    return EEF_OK;
}

static eef_err h_actions(eef_episode *e, eef_actions *out)
{
    house_episode *ep = (house_episode *)e;
    eef_strlist_clear(&out->items);
    out->free_prefix = out->free_suffix = NULL;
    if (!ep->lay) return eef_fail(EEF_ESTATE, "house: actions before reset");
    if (ep->st.done) return EEF_OK; /* nothing may be done after the end */
    house_act acts[HOUSE_MAX_RECEP + HOUSE_MAX_OBJ * 2 + 16];
    size_t n = house_list_acts(ep->lay, &ep->st, acts, EEF_ARRAY_LEN(acts));
    char text[3 * HOUSE_NAME_CAP + 16];
    for (size_t i = 0; i < n; i++) {
        size_t len = house_format(&ep->names, &acts[i], text, sizeof text);
        if (eef_strlist_pushn(&out->items, text, len)) return EEF_ENOMEM;
    }
    return EEF_OK;
}

static eef_err h_copy(eef_episode *d, const eef_episode *s)
{
    house_episode *dst = (house_episode *)d;
    const house_episode *src = (const house_episode *)s;
    if (d->env != s->env) return eef_fail(EEF_EINVAL, "house: copy between environments");
    if (dst == src) return EEF_OK;
    if (src->lay && dst->lay != src->lay) memcpy(&dst->names, &src->names, sizeof dst->names);
    dst->lay = src->lay;
    dst->st = src->st;
    eef_buf_clear(&dst->obs);
    if (src->obs.len && eef_buf_append(&dst->obs, src->obs.data, src->obs.len))
        return EEF_ENOMEM;
    return EEF_OK;
}

static void h_episode_close(eef_episode *e)
{
    house_episode *ep = (house_episode *)e;
    if (!ep) return;
    eef_buf_free(&ep->obs);
    free(ep);
}

static void h_close(eef_env *env)
{
    house_env *h = (house_env *)env;
    if (!h) return;
    for (int s = 0; s < 2; s++) {
        free(h->lay[s]);
        free(h->id[s]);
        free(h->goal[s]);
    }
    eef_arena_free(&h->strings);
    free(h);
}

/* Every task's layout (bytes: all uint8, no padding), id and goal text. */
static uint64_t h_digest(const eef_env *env)
{
    const house_env *h = (const house_env *)env;
    uint64_t d = EEF_HASH_START;
    for (int s = 0; s < 2; s++) {
        uint64_t n = h->n[s];
        d = eef_hash_bytes(d, &n, sizeof n);
        for (size_t i = 0; i < h->n[s]; i++) {
            d = eef_hash_bytes(d, &h->lay[s][i], sizeof h->lay[s][i]);
            d = eef_hash_bytes(d, h->id[s][i], strlen(h->id[s][i]) + 1);
            d = eef_hash_bytes(d, h->goal[s][i], strlen(h->goal[s][i]) + 1);
        }
    }
    return d;
}

static const eef_env_ops house_ops = {
    .version = EEF_ENV_OPS_VERSION,
    .name = "house",
    .n_tasks = h_n_tasks,
    .task = h_task,
    .episode_open = h_episode_open,
    .reset = h_reset,
    .step = h_step,
    .actions = h_actions,
    .copy = h_copy,
    .key_actions = eef_house_key_actions,
    .digest = h_digest,
    .episode_close = h_episode_close,
    .close = h_close,
};

typedef struct {
    long train, test, steps;
} house_opts;

static eef_err house_option(const char *key, const char *value, void *ctx)
{
    house_opts *o = ctx;
    if (strcmp(key, "train") == 0)
        return eef_parse_long(value, 0, HOUSE_MAX_TASKS, "house option train", &o->train);
    if (strcmp(key, "test") == 0)
        return eef_parse_long(value, 0, HOUSE_MAX_TASKS, "house option test", &o->test);
    if (strcmp(key, "steps") == 0)
        return eef_parse_long(value, 1, 10000, "house option steps", &o->steps);
    return eef_fail(EEF_EINVAL, "house: unknown option '%s' (train, test, steps)", key);
}

static eef_err generate_split(house_env *h, eef_split split, size_t n)
{
    h->n[split] = n;
    h->lay[split] = eef_calloc(n ? n : 1, sizeof(house_layout));
    h->id[split] = eef_calloc(n ? n : 1, sizeof(char *));
    h->goal[split] = eef_calloc(n ? n : 1, sizeof(char *));
    if (!h->lay[split] || !h->id[split] || !h->goal[split]) return EEF_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        char goal[HOUSE_GOAL_CAP], id[64];
        EEF_TRY(house_generate(h->seed, split, i, &h->lay[split][i], goal, sizeof goal));
        snprintf(id, sizeof id, "house-%s-%zu", eef_split_name(split), i);
        h->id[split][i] = eef_arena_strdup(&h->strings, id);
        h->goal[split][i] = eef_arena_strdup(&h->strings, goal);
        if (!h->id[split][i] || !h->goal[split][i]) return EEF_ENOMEM;
    }
    return EEF_OK;
}

/* The house's text reads as it is, less the instruction the prompt states
 * once ("Your task is to: ..." ends the first observation). */
static char *render_action(const char *action, const char *obs)
{
    (void)obs; /* an action names its objects itself */
    return eef_text_render_verb(action);
}

static const eef_env_text house_text = { eef_text_cut_instruction, render_action,
                                         eef_text_verb_kind };

static eef_err open_kind(const char *arg, const char *options, uint64_t seed, eef_env **out)
{
    (void)arg;
    return eef_house_open(options, seed, out);
}

/* registered by name (env.c) */
const eef_env_kind eef_env_kind_house = { "house", "house", open_kind, &house_text };

eef_err eef_house_open(const char *options, uint64_t seed, eef_env **out)
{
    *out = NULL;
    house_opts o = { 1000, 200, 40 };
    EEF_TRY(eef_env_options(options, house_option, &o));
    house_env *h = eef_calloc(1, sizeof *h);
    if (!h) return EEF_ENOMEM;
    h->base.ops = &house_ops;
    h->base.max_steps = (int)o.steps;
    h->seed = seed;
    eef_arena_init(&h->strings, 64 * 1024);
    eef_err err = generate_split(h, EEF_SPLIT_TRAIN, (size_t)o.train);
    if (!err) err = generate_split(h, EEF_SPLIT_TEST, (size_t)o.test);
    if (err) {
        h_close(&h->base);
        return err;
    }
    *out = &h->base;
    return EEF_OK;
}

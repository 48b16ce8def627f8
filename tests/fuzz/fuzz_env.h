/* fuzz_env.h: steps an environment's episode with actions taken from the
 * fuzzer's bytes (fuzz_shop_actions.c, fuzz_house_actions.c).
 *
 * Input: byte 0 picks the task (train split); then lines ('\n'): a line
 * "\x01k" steps the (k mod n)-th listed valid action (so the fuzzer
 * reaches deep states), any other line is stepped as the raw action text.
 * An episode that ends is reset to the next task.
 * Properties (env.h's contract): step never fails on any action; the
 * observation is valid UTF-8; every listed action is valid; a valid action
 * is listed (ignoring case: both environments match case-insensitively
 * where WebShop does) or fits the free-text slot; an invalid action
 * changes nothing (same valid actions before and after); the state
 * reached equals the one restored by replaying the valid actions
 * (eef_env_restore) and, when the environment has one, its copy.
 *
 * Speed: the world is built once per process and so are the three
 * episodes (stepped, restored, copied); each input resets them, which is
 * what the contract says a reset does (a state left over from an earlier
 * input would show as a difference between the stepped episode and the
 * restored one).  Before, each input opened its episodes (the shop's
 * search scratch each time) and could run up to 4096 bytes of steps; the
 * harnesses now take inputs up to 512 bytes (scripts/fuzz), which is
 * more than ten episodes of the 40-step limit with listed actions. */
#ifndef EEF_FUZZ_ENV_H
#define EEF_FUZZ_ENV_H

#include "fuzz_util.h"

#include "env/env.h"

#include <strings.h>

static int same_actions(const eef_actions *a, const eef_actions *b)
{
    if (a->items.n != b->items.n) return 0;
    for (size_t i = 0; i < a->items.n; i++)
        if (strcmp(a->items.items[i], b->items.items[i]) != 0) return 0;
    if (!a->free_prefix || !b->free_prefix) return a->free_prefix == b->free_prefix;
    return strcmp(a->free_prefix, b->free_prefix) == 0;
}

static int listed(const eef_actions *a, const char *action)
{
    for (size_t i = 0; i < a->items.n; i++)
        if (strcasecmp(a->items.items[i], action) == 0) return 1;
    return eef_actions_allows(a, action);
}

/* The episodes of one harness, opened on its first input. */
typedef struct {
    eef_episode *ep, *r, *c;
} fuzz_episodes;

/* The state reached from the task's start by `acts` equals ep's. */
static void check_restore(eef_env *env, fuzz_episodes *e, size_t task, const eef_strlist *acts)
{
    eef_episode *ep = e->ep, *r = e->r;
    FUZZ_CHECK(eef_env_restore(r, EEF_SPLIT_TRAIN, task, (const char *const *)acts->items, acts->n,
                               NULL) == EEF_OK);
    eef_actions x = { 0 }, y = { 0 };
    FUZZ_CHECK(env->ops->actions(ep, &x) == EEF_OK);
    FUZZ_CHECK(env->ops->actions(r, &y) == EEF_OK);
    FUZZ_CHECK(same_actions(&x, &y));
    eef_actions_free(&y);
    if (env->ops->copy) {
        eef_episode *c = e->c;
        FUZZ_CHECK(env->ops->copy(c, ep) == EEF_OK);
        eef_actions z = { 0 };
        FUZZ_CHECK(env->ops->actions(c, &z) == EEF_OK);
        FUZZ_CHECK(same_actions(&x, &z));
        eef_actions_free(&z);
    }
    eef_actions_free(&x);
}

static void fuzz_env(eef_env *env, fuzz_episodes *e, const uint8_t *data, size_t size)
{
    if (size < 1) return;
    if (!e->ep) {
        FUZZ_CHECK(env->ops->episode_open(env, &e->ep) == EEF_OK);
        FUZZ_CHECK(env->ops->episode_open(env, &e->r) == EEF_OK);
        FUZZ_CHECK(env->ops->episode_open(env, &e->c) == EEF_OK);
    }
    size_t n_tasks = env->ops->n_tasks(env, EEF_SPLIT_TRAIN);
    FUZZ_CHECK(n_tasks > 0);
    size_t task = data[0] % n_tasks;
    eef_episode *ep = e->ep;
    eef_step st;
    FUZZ_CHECK(env->ops->reset(ep, EEF_SPLIT_TRAIN, task, &st) == EEF_OK);
    eef_strlist done_acts = { 0 }; /* valid actions since the reset */
    eef_actions before = { 0 }, after = { 0 };
    FUZZ_CHECK(env->ops->actions(ep, &before) == EEF_OK);
    size_t i = 1;
    char action[2048];
    while (i < size) {
        const uint8_t *nl = memchr(data + i, '\n', size - i);
        size_t end = nl ? (size_t)(nl - data) : size, len = end - i;
        if (len >= 2 && data[i] == 1 && before.items.n > 0) {
            snprintf(action, sizeof action, "%s", before.items.items[data[i + 1] % before.items.n]);
        } else {
            if (len >= sizeof action) len = sizeof action - 1;
            memcpy(action, data + i, len);
            action[len] = 0; /* a NUL inside ends the action early, as a C string does */
        }
        i = end + 1;
        int was_listed_item = 0;
        for (size_t k = 0; k < before.items.n; k++)
            was_listed_item |= strcmp(before.items.items[k], action) == 0;
        FUZZ_CHECK(env->ops->step(ep, action, &st) == EEF_OK);
        FUZZ_CHECK(st.obs != NULL && eef_utf8_valid(st.obs, strlen(st.obs)));
        if (was_listed_item) FUZZ_CHECK(st.valid);
        if (st.valid) {
            FUZZ_CHECK(listed(&before, action));
            FUZZ_CHECK(eef_strlist_push(&done_acts, action) == 0);
        }
        if (st.done) {
            /* the next task, from its start */
            task = (task + 1) % n_tasks;
            FUZZ_CHECK(env->ops->reset(ep, EEF_SPLIT_TRAIN, task, &st) == EEF_OK);
            eef_strlist_clear(&done_acts);
            eef_actions_free(&before);
            FUZZ_CHECK(env->ops->actions(ep, &before) == EEF_OK);
            continue;
        }
        FUZZ_CHECK(env->ops->actions(ep, &after) == EEF_OK);
        if (!st.valid) FUZZ_CHECK(same_actions(&before, &after));
        eef_actions_free(&before);
        before = after;
        memset(&after, 0, sizeof after);
    }
    check_restore(env, e, task, &done_acts);
    eef_actions_free(&before);
    eef_strlist_free(&done_acts);
}

#endif

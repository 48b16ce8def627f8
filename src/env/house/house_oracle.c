/* house_oracle.c: a perfect player that reads the hidden world, and the
 * key-action classifier used to analyse trajectories.
 *
 * The oracle plans from any state, one act at a time: put away a wrong
 * object; find the cheapest X (go, open, take); transform it at the
 * appliance; then put it in the goal's receptacle (twice for pick-two), or
 * carry it to the desk lamp and turn the lamp on.  A task needs at most
 * 2 x (go, open, take, go, go, open, put) = 14 steps, well under 40.
 */
#include "house_internal.h"

#include <stdlib.h>
#include <string.h>

static unsigned needed_state(const house_layout *L)
{
    switch (L->type) {
    case HT_CLEAN: return OS_CLEAN;
    case HT_HEAT: return OS_HOT;
    case HT_COOL: return OS_COOL;
    default: return 0;
    }
}

static int first_recep(const house_layout *L, int rtype)
{
    for (int r = 0; r < L->n_recep; r++)
        if (L->rtype[r] == rtype) return r;
    return -1;
}

/* The receptacle the oracle fills: for pick-two the Y already holding the
 * most good X; otherwise the first Y. */
static int goal_recep(const house_layout *L, const house_state *s)
{
    int best = -1, best_n = -1;
    unsigned need = needed_state(L);
    for (int r = 0; r < L->n_recep; r++) {
        if (L->rtype[r] != L->target_r) continue;
        int n = 0;
        for (int i = 0; i < L->n_obj; i++)
            n += s->oloc[i] == r && L->otype[i] == L->target_o && (s->oflag[i] & need) == need;
        if (n > best_n) best = r, best_n = n;
    }
    return best;
}

/* Go to r, open it when closed, then do `then`. */
static void reach(const house_layout *L, const house_state *s, int r, house_act then,
                  house_act *a)
{
    if (s->at != r) *a = (house_act){ HV_GOTO, HOUSE_NONE, (uint8_t)r };
    else if (!house_accessible(L, s, r)) *a = (house_act){ HV_OPEN, HOUSE_NONE, (uint8_t)r };
    else *a = then;
}

static int oracle_next(const house_layout *L, const house_state *s, house_act *a)
{
    int x = L->target_o;
    unsigned need = needed_state(L);
    if (s->held != HOUSE_NONE) {
        int o = s->held;
        if (L->otype[o] != x) {
            /* put the wrong thing down: here if possible, else on a surface */
            int r = s->at;
            if (r == HOUSE_NONE) {
                for (r = 0; r < L->n_recep && house_rtypes[L->rtype[r]].openable; r++) {}
                if (r == L->n_recep) r = 0;
            }
            reach(L, s, r, (house_act){ HV_PUT, (uint8_t)o, (uint8_t)r }, a);
            return 1;
        }
        if ((s->oflag[o] & need) != need) {
            int v = L->type == HT_CLEAN ? HV_CLEAN : L->type == HT_HEAT ? HV_HEAT : HV_COOL;
            int rt = L->type == HT_CLEAN ? R_SINKBASIN : L->type == HT_HEAT ? R_MICROWAVE : R_FRIDGE;
            int r = first_recep(L, rt);
            if (r < 0 && L->type == HT_CLEAN) r = first_recep(L, R_BATHTUBBASIN);
            if (r < 0) return 0;
            if (s->at != r) *a = (house_act){ HV_GOTO, HOUSE_NONE, (uint8_t)r };
            else *a = (house_act){ (uint8_t)v, (uint8_t)o, (uint8_t)r };
            return 1;
        }
        if (L->type == HT_LOOK) {
            for (int i = 0; i < L->n_obj; i++) {
                if (!(house_otypes[L->otype[i]].flags & OF_LAMP) || s->oloc[i] >= L->n_recep)
                    continue;
                reach(L, s, s->oloc[i], (house_act){ HV_USE, (uint8_t)i, HOUSE_NONE }, a);
                return 1;
            }
            return 0;
        }
        int r = goal_recep(L, s);
        if (r < 0) return 0;
        reach(L, s, r, (house_act){ HV_PUT, (uint8_t)o, (uint8_t)r }, a);
        return 1;
    }
    /* hands empty: the cheapest X not already where the goal wants it */
    int keep = L->type == HT_TWO ? goal_recep(L, s) : -1;
    int best = -1, best_cost = 1 << 30;
    for (int i = 0; i < L->n_obj; i++) {
        int r = s->oloc[i];
        if (L->otype[i] != x || r >= L->n_recep) continue;
        if (r == keep && (s->oflag[i] & need) == need) continue;
        int cost = (s->at != r) + !house_accessible(L, s, r);
        if (cost < best_cost) best = i, best_cost = cost;
    }
    if (best < 0) return 0;
    int r = s->oloc[best];
    reach(L, s, r, (house_act){ HV_TAKE, (uint8_t)best, (uint8_t)r }, a);
    return 1;
}

static house_env *as_house(const eef_env *env)
{
    if (!env || !env->ops || strcmp(env->ops->name, "house") != 0) return NULL;
    return (house_env *)env;
}

const char *eef_house_task_type(const eef_env *env, eef_split split, size_t index)
{
    house_env *h = as_house(env);
    if (!h || (split != EEF_SPLIT_TRAIN && split != EEF_SPLIT_TEST) || index >= h->n[split])
        return NULL;
    return house_task_short[h->lay[split][index].type];
}

eef_err eef_house_oracle(eef_env *env, eef_split split, size_t index, eef_strlist *actions)
{
    if (!as_house(env)) return eef_fail(EEF_EINVAL, "house oracle: not a house environment");
    eef_episode *e;
    EEF_TRY(env->ops->episode_open(env, &e));
    house_episode *ep = (house_episode *)e;
    eef_step st;
    eef_err err = env->ops->reset(e, split, index, &st);
    char text[3 * HOUSE_NAME_CAP + 16];
    while (!err && !st.done) {
        house_act a;
        if (!oracle_next(ep->lay, &ep->st, &a)) {
            err = eef_fail(EEF_ESTATE, "house oracle: no plan for %s %zu", eef_split_name(split),
                           index);
            break;
        }
        size_t len = house_format(&ep->names, &a, text, sizeof text);
        if (eef_strlist_pushn(actions, text, len)) err = EEF_ENOMEM;
        else house_step_act(ep, 1, &a, &st);
        if (!err && !st.valid)
            err = eef_fail(EEF_ESTATE, "house oracle: chose invalid '%s'", text);
    }
    if (!err && st.reward != 1.0)
        err = eef_fail(EEF_ESTATE, "house oracle: did not win %s %zu", eef_split_name(split),
                       index);
    env->ops->episode_close(e);
    return err;
}

/* Is act `a`, about to be taken in state s, one a correct solution needs? */
static int is_key(const house_layout *L, const house_state *s, const house_act *a)
{
    int x = L->target_o;
    switch ((house_verb)a->verb) {
    case HV_TAKE: return L->otype[a->obj] == x;
    case HV_OPEN:
        /* opening what hides an X, or the closed receptacle it must go in */
        if (L->type != HT_LOOK && L->rtype[a->recep] == L->target_r) return 1;
        for (int i = 0; i < L->n_obj; i++)
            if (s->oloc[i] == a->recep && L->otype[i] == x) return 1;
        return 0;
    case HV_CLEAN: return L->type == HT_CLEAN && L->otype[a->obj] == x;
    case HV_HEAT: return L->type == HT_HEAT && L->otype[a->obj] == x;
    case HV_COOL: return L->type == HT_COOL && L->otype[a->obj] == x;
    case HV_PUT: {
        unsigned need = needed_state(L);
        return L->type != HT_LOOK && L->otype[a->obj] == x && L->rtype[a->recep] == L->target_r &&
               (s->oflag[a->obj] & need) == need;
    }
    case HV_USE: return L->type == HT_LOOK && !(s->oflag[a->obj] & OS_ON);
    default: return 0;
    }
}

eef_err eef_house_key_actions(eef_env *env, eef_split split, size_t index,
                              const char *const *actions, size_t n, unsigned char *key)
{
    if (!as_house(env)) return eef_fail(EEF_EINVAL, "house key actions: not a house environment");
    eef_episode *e;
    EEF_TRY(env->ops->episode_open(env, &e));
    house_episode *ep = (house_episode *)e;
    eef_step st;
    eef_err err = env->ops->reset(e, split, index, &st);
    for (size_t i = 0; i < n && !err; i++) {
        if (st.done) {
            err = eef_fail(EEF_ESTATE, "house key actions: episode ended after %zu of %zu actions",
                           i, n);
            break;
        }
        house_act a;
        int parsed = house_parse(ep->lay, actions[i], &a);
        int valid = parsed && house_valid(ep->lay, &ep->st, &a);
        key[i] = (unsigned char)(valid && is_key(ep->lay, &ep->st, &a));
        house_step_act(ep, parsed, &a, &st);
    }
    env->ops->episode_close(e);
    return err;
}

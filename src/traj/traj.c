/* traj.c: the trajectory value: life cycle, copies, comparison, and the
 * checks every trajectory must pass before it is written. */
#include "traj_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void eef_traj_init(eef_traj *t)
{
    memset(t, 0, sizeof *t);
    t->split = -1;
    t->index = -1;
    t->tier = -1;
}

void eef_traj_free(eef_traj *t)
{
    free(t->id);
    free(t->env);
    free(t->task);
    free(t->source);
    free(t->expert);
    free(t->instruction);
    for (size_t i = 0; i < t->n_steps; i++) {
        free(t->steps[i].obs);
        free(t->steps[i].action);
    }
    free(t->steps);
    free(t->final_obs);
    free(t->extra);
    eef_traj_init(t);
}

eef_err eef_traj_set(char **field, const char *value)
{
    char *copy = NULL;
    if (value && !(copy = eef_strdup(value))) return EEF_ENOMEM;
    free(*field);
    *field = copy;
    return EEF_OK;
}

eef_err traj_setn(char **field, const char *s, size_t n)
{
    char *copy = eef_strndup(s, n);
    if (!copy) return EEF_ENOMEM;
    free(*field);
    *field = copy;
    return EEF_OK;
}

eef_err eef_traj_push(eef_traj *t, const char *obs, const char *action, int mask)
{
    if (t->n_steps == t->cap_steps) {
        size_t cap = t->cap_steps ? 2 * t->cap_steps : 8;
        eef_traj_step *s = eef_realloc(t->steps, cap * sizeof *s);
        if (!s) return EEF_ENOMEM;
        t->steps = s;
        t->cap_steps = cap;
    }
    eef_traj_step *st = &t->steps[t->n_steps];
    st->obs = eef_strdup(obs ? obs : "");
    st->action = eef_strdup(action ? action : "");
    st->mask = mask;
    if (!st->obs || !st->action) {
        free(st->obs);
        free(st->action);
        return EEF_ENOMEM;
    }
    t->n_steps++;
    return EEF_OK;
}

eef_err eef_traj_copy(eef_traj *dst, const eef_traj *src)
{
    eef_traj_init(dst);
    eef_err e = EEF_OK;
    if ((e = eef_traj_set(&dst->id, src->id)) || (e = eef_traj_set(&dst->env, src->env)) ||
        (e = eef_traj_set(&dst->task, src->task)) ||
        (e = eef_traj_set(&dst->source, src->source)) ||
        (e = eef_traj_set(&dst->expert, src->expert)) ||
        (e = eef_traj_set(&dst->instruction, src->instruction)) ||
        (e = eef_traj_set(&dst->final_obs, src->final_obs)) ||
        (e = eef_traj_set(&dst->extra, src->extra)))
        goto fail;
    dst->split = src->split;
    dst->index = src->index;
    dst->tier = src->tier;
    dst->reward = src->reward;
    dst->win = src->win;
    for (size_t i = 0; i < src->n_steps; i++)
        if ((e = eef_traj_push(dst, src->steps[i].obs, src->steps[i].action, src->steps[i].mask)))
            goto fail;
    return EEF_OK;
fail:
    eef_traj_free(dst);
    return e;
}

static int str_eq(const char *a, const char *b)
{
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

/* Extra texts are equal when they hold the same JSON (key order kept). */
static int extra_eq(const char *a, const char *b)
{
    int empty_a = !a || strcmp(a, "{}") == 0, empty_b = !b || strcmp(b, "{}") == 0;
    if (empty_a || empty_b) return empty_a && empty_b;
    if (strcmp(a, b) == 0) return 1;
    cJSON *ja = cJSON_Parse(a), *jb = cJSON_Parse(b);
    int eq = ja && jb && cJSON_Compare(ja, jb, 1);
    cJSON_Delete(ja);
    cJSON_Delete(jb);
    return eq;
}

int eef_traj_equal(const eef_traj *a, const eef_traj *b)
{
    if (!str_eq(a->id, b->id) || !str_eq(a->env, b->env) || !str_eq(a->task, b->task) ||
        !str_eq(a->source, b->source) || !str_eq(a->expert, b->expert) ||
        !str_eq(a->instruction, b->instruction) ||
        !str_eq(a->final_obs, b->final_obs))
        return 0;
    if (a->split != b->split || a->index != b->index || a->tier != b->tier ||
        a->win != b->win || a->n_steps != b->n_steps)
        return 0;
    /* bitwise, so -0.0 and 0.0 differ as they do in the file */
    if (memcmp(&a->reward, &b->reward, sizeof a->reward) != 0) return 0;
    for (size_t i = 0; i < a->n_steps; i++)
        if (!str_eq(a->steps[i].obs, b->steps[i].obs) ||
            !str_eq(a->steps[i].action, b->steps[i].action) ||
            a->steps[i].mask != b->steps[i].mask)
            return 0;
    return extra_eq(a->extra, b->extra);
}

static eef_err check_text(const char *s, const char *where, const char *what, int need_nonempty)
{
    if (!s) return eef_fail(EEF_EINVAL, "%s: %s is missing", where, what);
    if (need_nonempty && !*s) return eef_fail(EEF_EINVAL, "%s: %s is empty", where, what);
    if (!eef_utf8_valid(s, strlen(s)))
        return eef_fail(EEF_EINVAL, "%s: %s is not valid UTF-8", where, what);
    return EEF_OK;
}

eef_err eef_traj_check(const eef_traj *t, const char *where)
{
    EEF_TRY(check_text(t->id, where, "id", 1));
    EEF_TRY(check_text(t->env, where, "env", 1));
    EEF_TRY(check_text(t->task, where, "task", 1));
    EEF_TRY(check_text(t->source, where, "source", 1));
    if (t->instruction) EEF_TRY(check_text(t->instruction, where, "instruction", 0));
    if (t->expert) EEF_TRY(check_text(t->expert, where, "expert", 1));
    if (t->split < -1 || t->split > EEF_SPLIT_TEST)
        return eef_fail(EEF_EINVAL, "%s: split %d is out of range", where, t->split);
    if (t->tier < -1 || t->tier >= EEF_N_TIERS)
        return eef_fail(EEF_EINVAL, "%s: tier %d is out of range", where, t->tier);
    if (t->index < -1) return eef_fail(EEF_EINVAL, "%s: index %ld is negative", where, t->index);
    if (!isfinite(t->reward)) return eef_fail(EEF_EINVAL, "%s: reward is not finite", where);
    if (t->win != (t->reward == 1.0))
        return eef_fail(EEF_EINVAL, "%s: win is %s but reward is %.17g (win must equal reward == 1)",
                        where, t->win ? "true" : "false", t->reward);
    if (t->n_steps == 0 && !t->final_obs)
        return eef_fail(EEF_EINVAL, "%s: no observation (no steps and no final observation)", where);
    char what[64];
    for (size_t i = 0; i < t->n_steps; i++) {
        snprintf(what, sizeof what, "observation of step %zu", i);
        EEF_TRY(check_text(t->steps[i].obs, where, what, 0));
        snprintf(what, sizeof what, "action of step %zu", i);
        EEF_TRY(check_text(t->steps[i].action, where, what, 0));
        if (t->steps[i].mask != 0 && t->steps[i].mask != 1)
            return eef_fail(EEF_EINVAL, "%s: mask of step %zu is %d (must be 0 or 1)", where, i,
                            t->steps[i].mask);
    }
    if (t->final_obs) EEF_TRY(check_text(t->final_obs, where, "final observation", 0));
    if (t->extra) {
        eef_buf scratch;
        eef_buf_init(&scratch);
        eef_err e = traj_put_extra(&scratch, t->extra, where);
        eef_buf_free(&scratch);
        if (e) return e;
    }
    return EEF_OK;
}

eef_err eef_trajset_push(eef_trajset *s, eef_traj *t)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        eef_traj *it = eef_realloc(s->items, cap * sizeof *it);
        if (!it) return EEF_ENOMEM;
        s->items = it;
        s->cap = cap;
    }
    s->items[s->n++] = *t;
    eef_traj_init(t);
    return EEF_OK;
}

void eef_trajset_free(eef_trajset *s)
{
    for (size_t i = 0; i < s->n; i++) eef_traj_free(&s->items[i]);
    free(s->items);
    s->items = NULL;
    s->n = s->cap = 0;
}

/* stats.c: what `eef stats` reports of a trajectory file: outcome by tier
 * and source, lengths, masks, and which kinds of action winners and
 * losers take (an action-type histogram, by the environment's names). */
#include "traj_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Distinct action types kept before the rest are pooled as "(other)":
 * free-text actions could otherwise make the table unbounded. */
#define MAX_ACTION_TYPES 1000

/* The number after the first `key` in `text` (case-insensitive; "1,299.99"
 * reads as 1299.99), or -1. */
static double number_after(const char *text, const char *key)
{
    size_t k = strlen(key);
    for (const char *p = text; *p; p++)
        if (strncasecmp(p, key, k) == 0) {
            const char *q = p + k;
            if (!isdigit((unsigned char)*q)) return -1;
            char num[32];
            size_t n = 0;
            for (; (isdigit((unsigned char)*q) || *q == '.' || *q == ',') && n + 1 < sizeof num; q++)
                if (*q != ',') num[n++] = *q;
            num[n] = 0;
            return strtod(num, NULL);
        }
    return -1;
}

/* The instruction's price bound, or -1 when it states none. */
static double price_bound(const eef_traj *t)
{
    return t->instruction ? number_after(t->instruction, "price lower than ") : -1;
}

/* The step of the final Buy Now, or NULL when the episode ended otherwise. */
static const eef_traj_step *final_buy(const eef_traj *t)
{
    const eef_traj_step *last = t->n_steps ? &t->steps[t->n_steps - 1] : NULL;
    return last && strcasecmp(last->action, "click[Buy Now]") == 0 ? last : NULL;
}

int eef_traj_price_paid(const eef_traj *t, double *bound, double *paid)
{
    double b = price_bound(t);
    const eef_traj_step *buy = final_buy(t);
    double p = buy ? number_after(buy->obs, "Price: $") : -1;
    if (b < 0 || p < 0) return 0;
    *bound = b, *paid = p;
    return 1;
}

void eef_traj_stats_init(eef_traj_stats *s)
{
    memset(s, 0, sizeof *s);
    s->steps_min = (size_t)-1;
}

void eef_traj_stats_free(eef_traj_stats *s)
{
    for (size_t i = 0; i < s->n_sources; i++) free(s->sources[i].name);
    for (size_t i = 0; i < s->n_actions; i++) free(s->actions[i].type);
    free(s->sources);
    free(s->actions);
    eef_traj_stats_init(s);
}

static void tally(eef_traj_tally *t, const eef_traj *tr)
{
    t->n++;
    t->n_win += tr->win != 0;
    t->reward_sum += tr->reward;
}

static eef_err count_source(eef_traj_stats *s, const char *name)
{
    for (size_t i = 0; i < s->n_sources; i++)
        if (strcmp(s->sources[i].name, name) == 0) {
            s->sources[i].n++;
            return EEF_OK;
        }
    eef_traj_named_count *it = eef_realloc(s->sources, (s->n_sources + 1) * sizeof *it);
    if (!it) return EEF_ENOMEM;
    s->sources = it;
    it[s->n_sources].name = eef_strdup(name);
    if (!it[s->n_sources].name) return EEF_ENOMEM;
    it[s->n_sources++].n = 1;
    return EEF_OK;
}

static eef_err count_action(eef_traj_stats *s, const char *type, int win)
{
    eef_traj_action_count *c = NULL;
    for (size_t i = 0; i < s->n_actions && !c; i++)
        if (strcmp(s->actions[i].type, type) == 0) c = &s->actions[i];
    if (!c && s->n_actions >= MAX_ACTION_TYPES) return count_action(s, "(other)", win);
    if (!c) {
        eef_traj_action_count *it = eef_realloc(s->actions, (s->n_actions + 1) * sizeof *it);
        if (!it) return EEF_ENOMEM;
        s->actions = it;
        c = &it[s->n_actions];
        c->type = eef_strdup(type);
        if (!c->type) return EEF_ENOMEM;
        c->in_wins = c->in_fails = 0;
        s->n_actions++;
    }
    if (win) c->in_wins++;
    else c->in_fails++;
    return EEF_OK;
}

eef_err eef_traj_stats_add(eef_traj_stats *s, const eef_traj *t)
{
    tally(&s->all, t);
    tally(&s->tier[t->tier >= 0 && t->tier < EEF_N_TIERS ? t->tier : EEF_N_TIERS], t);
    s->steps_sum += t->n_steps;
    s->steps_min = EEF_MIN(s->steps_min, t->n_steps);
    s->steps_max = EEF_MAX(s->steps_max, t->n_steps);
    EEF_TRY(count_source(s, t->source ? t->source : "?"));
    if (price_bound(t) >= 0) {
        double bound, paid;
        s->price_stated++;
        if (!final_buy(t)) s->price_unbought++;
        else if (eef_traj_price_paid(t, &bound, &paid)) s->price_over += paid > bound;
    }
    /* action types are the kinds the trajectory's environment names */
    const eef_env_text *text = eef_env_text_of(t->env);
    char type[64];
    for (size_t i = 0; i < t->n_steps; i++) {
        if (t->steps[i].mask) s->n_unmasked++;
        else s->n_masked++;
        if (t->win) s->actions_in_wins++;
        else s->actions_in_fails++;
        text->action_kind(t->steps[i].action, type, sizeof type);
        EEF_TRY(count_action(s, type, t->win));
    }
    return EEF_OK;
}

static int by_count(const void *pa, const void *pb)
{
    const eef_traj_action_count *a = pa, *b = pb;
    size_t na = a->in_wins + a->in_fails, nb = b->in_wins + b->in_fails;
    if (na != nb) return na > nb ? -1 : 1;
    return strcmp(a->type, b->type);
}

void eef_traj_stats_sort(eef_traj_stats *s)
{
    if (s->n_actions) qsort(s->actions, s->n_actions, sizeof *s->actions, by_count);
}

/* eval.c: win rate and score with confidence intervals. */
#include "eval.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void eef_score_interval(const double *rewards, size_t n, size_t reps, uint64_t key, double *lo,
                        double *hi)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += rewards[i];
    *lo = *hi = n ? 100.0 * sum / (double)n : 0;
    double *means = n && reps ? malloc(reps * sizeof(double)) : NULL;
    if (!means) return; /* out of memory: the point, no interval */
    eef_rng rng = eef_rng_make(key);
    for (size_t b = 0; b < reps; b++) {
        double s = 0;
        for (size_t i = 0; i < n; i++) s += rewards[eef_rng_below(&rng, n)];
        means[b] = 100.0 * s / (double)n;
    }
    qsort(means, reps, sizeof(double), cmp_double);
    /* order statistics 0.025 reps and 0.975 reps - 1 (counted from 0):
     * what metrics.jsonl has always held, kept so runs stay the same bytes */
    *lo = means[(size_t)(0.025 * (double)reps)];
    *hi = means[(size_t)(0.975 * (double)reps) - 1];
    free(means);
}

/* rate of a subset (tier < 0: all) */
static void rate_of(const eef_traj *t, size_t n, int tier, uint64_t seed, eef_rate *r)
{
    memset(r, 0, sizeof *r);
    size_t wins = 0;
    double sum = 0;
    double *rewards = malloc((n ? n : 1) * sizeof(double));
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (tier >= 0 && t[i].tier != tier) continue;
        wins += t[i].win != 0;
        sum += t[i].reward;
        if (rewards) rewards[m] = t[i].reward;
        m++;
    }
    r->n = m;
    if (m == 0) {
        free(rewards);
        return;
    }
    r->win = (double)wins / (double)m;
    eef_wilson(wins, m, &r->win_lo, &r->win_hi);
    r->score = 100.0 * sum / (double)m;
    r->score_lo = r->score_hi = r->score;
    if (rewards)
        eef_score_interval(rewards, m, 1000,
                           eef_rng_key(seed, EEF_STREAM_SCORE_CI, (uint64_t)(tier + 1), m),
                           &r->score_lo, &r->score_hi);
    free(rewards);
}

void eef_eval_summarize(const eef_traj *t, size_t n, uint64_t seed, eef_eval_summary *out)
{
    rate_of(t, n, -1, seed, &out->all);
    for (int k = 0; k < 3; k++) rate_of(t, n, k, seed, &out->tier[k]);
}

eef_err eef_evaluate(eef_env *env, eef_policy *policy, eef_split split, size_t n,
                     uint64_t seed, const char *label, eef_traj **trajs, size_t *n_out,
                     eef_eval_summary *sum)
{
    return eef_evaluate_with(eef_rollout_batch, env, policy, split, n, seed, label, trajs, n_out,
                             sum);
}

eef_err eef_evaluate_with(eef_rollouts_fn rollouts, eef_env *env, eef_policy *policy,
                          eef_split split, size_t n, uint64_t seed, const char *label,
                          eef_traj **trajs, size_t *n_out, eef_eval_summary *sum)
{
    size_t total = env->ops->n_tasks(env, split);
    if (n == 0 || n > total) n = total;
    eef_rollout_spec *specs = eef_calloc(n ? n : 1, sizeof *specs);
    eef_traj *t = eef_calloc(n ? n : 1, sizeof *t);
    if (!specs || !t) {
        free(specs);
        free(t);
        return EEF_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        specs[i] = (eef_rollout_spec){ .split = split, .index = i,
                                       .key = eef_rng_key(seed, EEF_STREAM_EVAL, (uint64_t)split, i) };
    eef_err e = rollouts(env, policy, specs, n, label, t);
    free(specs);
    if (e) {
        free(t);
        return e;
    }
    if (sum) eef_eval_summarize(t, n, seed, sum);
    *trajs = t;
    *n_out = n;
    return EEF_OK;
}

static cJSON *rate_json(const eef_rate *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n", (double)r->n);
    cJSON_AddNumberToObject(o, "win", r->win);
    cJSON_AddNumberToObject(o, "win_lo", r->win_lo);
    cJSON_AddNumberToObject(o, "win_hi", r->win_hi);
    cJSON_AddNumberToObject(o, "score", r->score);
    cJSON_AddNumberToObject(o, "score_lo", r->score_lo);
    cJSON_AddNumberToObject(o, "score_hi", r->score_hi);
    return o;
}

static const char *tier_names[3] = { "easy", "medium", "hard" };

cJSON *eef_eval_to_json(const eef_eval_summary *s)
{
    cJSON *o = rate_json(&s->all);
    cJSON *tiers = cJSON_AddObjectToObject(o, "tiers");
    for (int k = 0; k < 3; k++) cJSON_AddItemToObject(tiers, tier_names[k], rate_json(&s->tier[k]));
    return o;
}

static eef_err rate_from_json(const cJSON *j, const char *where, eef_rate *r)
{
    double n;
    EEF_TRY(eef_json_num(j, "n", where, &n));
    r->n = (size_t)n;
    EEF_TRY(eef_json_num(j, "win", where, &r->win));
    EEF_TRY(eef_json_num(j, "win_lo", where, &r->win_lo));
    EEF_TRY(eef_json_num(j, "win_hi", where, &r->win_hi));
    EEF_TRY(eef_json_num(j, "score", where, &r->score));
    EEF_TRY(eef_json_num(j, "score_lo", where, &r->score_lo));
    EEF_TRY(eef_json_num(j, "score_hi", where, &r->score_hi));
    return EEF_OK;
}

eef_err eef_eval_from_json(const cJSON *j, const char *where, eef_eval_summary *s)
{
    memset(s, 0, sizeof *s);
    EEF_TRY(rate_from_json(j, where, &s->all));
    const cJSON *tiers = cJSON_GetObjectItemCaseSensitive(j, "tiers");
    if (!cJSON_IsObject(tiers)) return eef_fail(EEF_EFORMAT, "%s: field 'tiers' missing", where);
    for (int k = 0; k < 3; k++) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(tiers, tier_names[k]);
        if (t) EEF_TRY(rate_from_json(t, where, &s->tier[k]));
    }
    return EEF_OK;
}

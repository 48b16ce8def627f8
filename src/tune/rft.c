/* rft.c: rejection sampling from the task starts (the exploration of RFT,
 * and of EEF's first half): K rollouts per task, its wins kept. */
#include "run_internal.h"

#include <stdlib.h>
#include <string.h>

void eef_rft_result_free(eef_rft_result *r)
{
    eef_trajset_free(&r->kept);
    free(r->won_from_start);
    memset(r, 0, sizeof *r);
}

static int same_actions(const eef_traj *a, const eef_traj *b)
{
    if (a->n_steps != b->n_steps) return 0;
    for (size_t i = 0; i < a->n_steps; i++)
        if (strcmp(a->steps[i].action, b->steps[i].action) != 0) return 0;
    return 1;
}

eef_err eef_rft_explore(eef_env *env, eef_policy *agent, eef_split split, size_t n_tasks,
                        const eef_rft_config *c, eef_rft_result *out)
{
    memset(out, 0, sizeof *out);
    if (c->k < 1 || c->keep < 1) return eef_fail(EEF_EINVAL, "rft: k and keep must be >= 1");
    size_t n = n_tasks * (size_t)c->k;
    eef_rollout_spec *specs = eef_calloc(n ? n : 1, sizeof *specs);
    eef_traj *t = eef_calloc(n ? n : 1, sizeof *t);
    out->won_from_start = eef_calloc(n_tasks ? n_tasks : 1, sizeof *out->won_from_start);
    out->n_tasks = n_tasks;
    eef_err e = (!specs || !t || !out->won_from_start) ? EEF_ENOMEM : EEF_OK;
    for (size_t i = 0; !e && i < n_tasks; i++)
        for (int r = 0; r < c->k; r++)
            specs[i * (size_t)c->k + (size_t)r] = (eef_rollout_spec){
                .split = split, .index = i,
                .key = eef_rng_key(c->seed, EEF_STREAM_RFT + (uint64_t)c->iteration, i, (uint64_t)r)
            };
    if (!e) e = run_rollouts(env, agent, specs, n, "explore from task starts", t);
    for (size_t i = 0; !e && i < n_tasks; i++) {
        size_t first = out->kept.n;
        for (int r = 0; !e && r < c->k; r++) {
            eef_traj *x = &t[i * (size_t)c->k + (size_t)r];
            out->rollouts++;
            out->steps += (long)x->n_steps;
            if (!x->win) continue;
            out->won_from_start[i] = 1;
            if (out->kept.n - first >= (size_t)c->keep) continue;
            int dup = 0;
            for (size_t q = first; q < out->kept.n && !dup; q++) dup = same_actions(&out->kept.items[q], x);
            if (dup) continue;
            e = eef_traj_set(&x->source, "agent");
            if (!e) e = eef_trajset_push(&out->kept, x); /* takes ownership */
            if (!e) memset(x, 0, sizeof *x);
        }
    }
    for (size_t i = 0; t && i < n; i++) eef_traj_free(&t[i]);
    free(t);
    free(specs);
    if (e) eef_rft_result_free(out);
    return e;
}

/* ------------------------------------------------------------ in a run */
/* Iteration 1 samples from the task starts with the SFT model.  When this
 * run is taken --from an RFT run with the same RFT settings that finished
 * its iteration 1 exploration, those rollouts are the ones this run would
 * sample (each is keyed by seed, iteration, task and rollout number), so
 * its kept wins can be read instead of sampled again: as eef_rft_explore
 * would return them; *seconds is what they cost there. */
static eef_err rft_from_base(const run_ctx *r, eef_rft_result *rr, double *seconds)
{
    run_path p;
    cJSON *info = NULL;
    EEF_TRY(eef_json_read_file(base_file(r, &p, "iter_1/explore.json"), &info));
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(info, "rollouts");
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(info, "env_steps");
    eef_err e = EEF_OK;
    if (!cJSON_IsNumber(n) || !cJSON_IsNumber(k))
        e = eef_fail(EEF_EFORMAT, "%s: 'rollouts' or 'env_steps' missing", p.s);
    else
        rr->rollouts = (long)n->valuedouble, rr->steps = (long)k->valuedouble;
    cJSON_Delete(info);
    rr->n_tasks = r->n_train;
    rr->won_from_start = e ? NULL : eef_calloc(r->n_train ? r->n_train : 1, sizeof *rr->won_from_start);
    if (!e && !rr->won_from_start) e = EEF_ENOMEM;
    if (!e) e = eef_traj_read(base_file(r, &p, "iter_1/rft.jsonl"), 0, &rr->kept, NULL);
    for (size_t i = 0; !e && i < rr->kept.n; i++) {
        long x = rr->kept.items[i].index;
        if (x < 0 || (size_t)x >= r->n_train)
            e = eef_fail(EEF_EFORMAT, "%s: trajectory %zu: task index %ld out of range", p.s, i, x);
        else
            rr->won_from_start[x] = 1; /* every won task keeps at least one win */
    }
    if (e) {
        eef_rft_result_free(rr);
        return e;
    }
    *seconds = run_base_seconds(r, "iter_1.explore");
    run_banner("iteration 1: rollouts from the task starts: from %s", r->from);
    return EEF_OK;
}

eef_err run_explore_starts(run_ctx *r, int iter, eef_policy *agent, size_t n_explore,
                           eef_rft_result *rr, cJSON *info, double *base_cost)
{
    eef_rft_config rc = r->c->rft;
    rc.seed = r->c->seed, rc.iteration = iter;
    *base_cost = 0;
    eef_err e = iter == 1 && r->from && run_base_has_rft(r)
                    ? rft_from_base(r, rr, base_cost)
                    : eef_rft_explore(r->env, agent, EEF_SPLIT_TRAIN, n_explore, &rc, rr);
    run_path p;
    if (!e) e = run_save_trajs(r, run_file(r, &p, "iter_%d/rft.jsonl", iter), rr->kept.items, rr->kept.n);
    long wins = 0;
    for (size_t i = 0; !e && i < rr->n_tasks; i++) wins += rr->won_from_start[i];
    cJSON_AddNumberToObject(info, "start_rollouts", (double)rr->rollouts);
    cJSON_AddNumberToObject(info, "start_wins", (double)wins);
    cJSON_AddNumberToObject(info, "rft_kept", (double)rr->kept.n);
    if (!e && r->c->method != EEF_METHOD_EEF)
        eef_info("iteration %d: %ld of %zu tasks won from the start, %zu wins kept", iter, wins,
                 n_explore, rr->kept.n);
    return e;
}

/* rft.c: rejection sampling from the task starts (the exploration of RFT,
 * and of EEF's first half). */
#include "tune.h"

#include <stdlib.h>
#include <string.h>

void eef_rft_result_free(eef_rft_result *r)
{
    eef_trajset_free(&r->kept);
    free(r->won);
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
    out->won = eef_calloc(n_tasks ? n_tasks : 1, sizeof *out->won);
    out->n_tasks = n_tasks;
    eef_err e = (!specs || !t || !out->won) ? EEF_ENOMEM : EEF_OK;
    for (size_t i = 0; !e && i < n_tasks; i++)
        for (int r = 0; r < c->k; r++)
            specs[i * (size_t)c->k + (size_t)r] = (eef_rollout_spec){
                .split = split, .index = i,
                .key = eef_rng_key(c->seed, EEF_STREAM_RFT + (uint64_t)c->iteration, i, (uint64_t)r)
            };
    if (!e) e = eef_rollout_batch(env, agent, specs, n, "explore from task starts", t);
    for (size_t i = 0; !e && i < n_tasks; i++) {
        size_t first = out->kept.n;
        for (int r = 0; !e && r < c->k; r++) {
            eef_traj *x = &t[i * (size_t)c->k + (size_t)r];
            out->rollouts++;
            out->steps += (long)x->n_steps;
            if (!x->win) continue;
            out->won[i] = 1;
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

/* eef.c: Exploring Expert Failures — candidate states, exploration from
 * restored states, the important state and the solution's loss mask. */
#include "tune.h"

#include <stdlib.h>
#include <string.h>

size_t eef_candidates(size_t n_actions, int stride, int max_states, size_t *t_out)
{
    if (stride < 1) stride = 1;
    if (max_states > EEF_MAX_CANDIDATES) max_states = EEF_MAX_CANDIDATES;
    if (max_states < 1 || n_actions < 2) return 0;
    size_t all[1024], n = 0;
    /* s_n is the end of the episode: nothing left to explore */
    for (size_t t = (size_t)stride; t < n_actions && n < 1024; t += (size_t)stride) all[n++] = t;
    if (n <= (size_t)max_states) {
        memcpy(t_out, all, n * sizeof *all);
        return n;
    }
    /* thin evenly, always keeping the latest (the most likely solved) */
    size_t m = (size_t)max_states;
    for (size_t i = 0; i < m; i++) t_out[i] = all[(n - 1) - (m - 1 - i) * (n - 1) / (m - 1 ? m - 1 : 1)];
    if (m == 1) t_out[0] = all[n - 1];
    return m;
}

size_t eef_candidates_traj(const eef_traj *t, int stride, int max_states, size_t *t_out)
{
    /* states after 1..n-1 actions that changed the observation */
    size_t moved[1024], nm = 0;
    for (size_t k = 1; k < t->n_steps && nm < 1024; k++)
        if (strcmp(t->steps[k].obs, t->steps[k - 1].obs) != 0) moved[nm++] = k;
    size_t idx[EEF_MAX_CANDIDATES];
    /* pick among them as eef_candidates picks among all: index i of the
     * list stands for state moved[i] (the list counts from 1, hence +1) */
    size_t n = eef_candidates(nm + 1, stride, max_states, idx);
    for (size_t i = 0; i < n; i++) t_out[i] = moved[idx[i] - 1];
    return n;
}

int eef_important_state(const size_t *t, const int *solved, size_t n, int start_solved,
                        size_t *j_out)
{
    if (start_solved) return -1; /* the agent needs no expert help here */
    for (size_t i = 0; i < n; i++) {
        if (solved[i] != 1) continue;
        /* the preceding candidate (or the start) must be known unsolved */
        if (i > 0 && solved[i - 1] != 0) return -1;
        *j_out = i > 0 ? t[i - 1] : 0;
        return (int)i;
    }
    return -1;
}

eef_err eef_solution(const eef_traj *rollout, size_t j, size_t k, eef_traj *out)
{
    if (j > k || k > rollout->n_steps)
        return eef_fail(EEF_EINVAL, "eef: bad important state (j %zu, k %zu, %zu steps)", j, k,
                        rollout->n_steps);
    EEF_TRY(eef_traj_copy(out, rollout));
    for (size_t i = 0; i < out->n_steps; i++) out->steps[i].mask = i >= j;
    return eef_traj_set(&out->source, "eef");
}

void eef_explore_result_free(eef_explore_result *r)
{
    if (r->has_solution) eef_traj_free(&r->solution);
    r->has_solution = 0;
}

/* One unit of exploration work: rollouts from candidate c of trajectory i. */
typedef struct {
    size_t traj, cand;
} probe;

/* Runs K rollouts from each probed candidate; marks solved and keeps the
 * first winning rollout of each (lowest rollout index: deterministic). */
static eef_err run_probes(eef_env *env, eef_policy *agent, const eef_traj *failed,
                          const probe *pr, size_t n_probe, const eef_explore_config *c,
                          eef_explore_result *out, eef_traj **winners, const char *label)
{
    size_t n = n_probe * (size_t)c->k;
    if (n == 0) return EEF_OK;
    eef_rollout_spec *specs = eef_calloc(n, sizeof *specs);
    eef_traj *trajs = eef_calloc(n, sizeof *trajs);
    const char ***prefixes = eef_calloc(n_probe, sizeof *prefixes);
    eef_err e = (!specs || !trajs || !prefixes) ? EEF_ENOMEM : EEF_OK;
    for (size_t p = 0; !e && p < n_probe; p++) {
        const eef_traj *f = &failed[pr[p].traj];
        size_t t = out[pr[p].traj].t[pr[p].cand];
        prefixes[p] = eef_malloc((t + 1) * sizeof(char *));
        if (!prefixes[p]) {
            e = EEF_ENOMEM;
            break;
        }
        for (size_t a = 0; a < t; a++) prefixes[p][a] = f->steps[a].action;
        for (int r = 0; r < c->k; r++) {
            eef_rollout_spec *s = &specs[p * (size_t)c->k + (size_t)r];
            s->split = (eef_split)f->split;
            s->index = (size_t)f->index;
            s->prefix = prefixes[p];
            s->n_prefix = t;
            /* keyed by what the rollout is, never by who runs it */
            s->key = eef_rng_key(c->seed, EEF_STREAM_EEF + (uint64_t)c->iteration,
                                 (uint64_t)f->index * 4096 + t, (uint64_t)r);
        }
    }
    if (!e) e = eef_rollout_batch(env, agent, specs, n, label, trajs);
    for (size_t p = 0; !e && p < n_probe; p++) {
        eef_explore_result *res = &out[pr[p].traj];
        size_t ci = pr[p].cand;
        res->tried[ci] = c->k;
        res->solved[ci] = 0;
        res->rollouts += c->k;
        for (int r = 0; r < c->k; r++) {
            eef_traj *tr = &trajs[p * (size_t)c->k + (size_t)r];
            res->steps += (long)(tr->n_steps - out[pr[p].traj].t[ci]);
            if (tr->win && !res->solved[ci]) {
                res->solved[ci] = 1;
                winners[pr[p].traj][ci] = *tr; /* keep: ownership moves */
                memset(tr, 0, sizeof *tr);
            }
        }
    }
    for (size_t i = 0; trajs && i < n; i++) eef_traj_free(&trajs[i]);
    for (size_t p = 0; prefixes && p < n_probe; p++) free(prefixes[p]);
    free(prefixes);
    free(trajs);
    free(specs);
    return e;
}

eef_err eef_explore_failures(eef_env *env, eef_policy *agent, const eef_traj *failed,
                             const int *start_solved, size_t n, const eef_explore_config *c,
                             eef_explore_result *out)
{
    if (c->k < 1) return eef_fail(EEF_EINVAL, "eef: rollouts per state must be >= 1");
    eef_traj **winners = eef_calloc(n ? n : 1, sizeof *winners);
    probe *pr = eef_calloc((n ? n : 1) * EEF_MAX_CANDIDATES, sizeof *pr);
    eef_err e = (!winners || !pr) ? EEF_ENOMEM : EEF_OK;
    for (size_t i = 0; !e && i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        out[i].important = -1;
        out[i].n_cand = start_solved[i] ? 0 : eef_candidates_traj(&failed[i], c->stride,
                                                                  c->max_states, out[i].t);
        for (size_t k = 0; k < out[i].n_cand; k++) out[i].solved[k] = -1;
        winners[i] = eef_calloc(EEF_MAX_CANDIDATES, sizeof(eef_traj));
        if (!winners[i]) e = EEF_ENOMEM;
    }
    /* bisect keeps, per trajectory, lo = the highest candidate known
     * unsolved (-1: the start) and hi = the lowest known solved
     * (n_cand: none yet) */
    long *lo = eef_malloc((n ? n : 1) * sizeof *lo), *hi = eef_malloc((n ? n : 1) * sizeof *hi);
    if (!e && (!lo || !hi)) e = EEF_ENOMEM;
    for (size_t i = 0; !e && i < n; i++) lo[i] = -1, hi[i] = (long)out[i].n_cand;
    if (!e && c->mode == EEF_SEARCH_STRIDE) {
        size_t np = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < out[i].n_cand; k++) pr[np++] = (probe){ i, k };
        e = run_probes(env, agent, failed, pr, np, c, out, winners, "explore failures");
    }
    for (int round = 0; !e && c->mode == EEF_SEARCH_BISECT; round++) {
        /* round 0 probes the latest candidate: if even it is unsolved the
         * trajectory is given up; then halve (lo, hi) until adjacent */
        size_t np = 0;
        for (size_t i = 0; i < n; i++) {
            if (out[i].n_cand == 0) continue;
            if (round == 0) pr[np++] = (probe){ i, out[i].n_cand - 1 };
            else if (hi[i] < (long)out[i].n_cand && hi[i] - lo[i] > 1)
                pr[np++] = (probe){ i, (size_t)((lo[i] + hi[i]) / 2) };
        }
        if (np == 0) break;
        char label[64];
        snprintf(label, sizeof label, "explore failures (bisect %d)", round + 1);
        e = run_probes(env, agent, failed, pr, np, c, out, winners, label);
        for (size_t p = 0; !e && p < np; p++) {
            size_t i = pr[p].traj;
            long at = (long)pr[p].cand;
            if (out[i].solved[at] == 1) hi[i] = at;
            else lo[i] = at;
        }
    }
    /* important states and solutions */
    for (size_t i = 0; !e && i < n; i++) {
        size_t j = 0;
        int k;
        if (c->mode == EEF_SEARCH_STRIDE) {
            k = eef_important_state(out[i].t, out[i].solved, out[i].n_cand, start_solved[i], &j);
        } else { /* the boundary found: lo unsolved (or the start), hi solved */
            k = hi[i] < (long)out[i].n_cand ? (int)hi[i] : -1;
            j = lo[i] >= 0 ? out[i].t[lo[i]] : 0;
        }
        out[i].important = k;
        out[i].j = k >= 0 ? j : 0;
        if (k >= 0) {
            e = eef_solution(&winners[i][k], j, out[i].t[k], &out[i].solution);
            if (!e) out[i].has_solution = 1;
        }
    }
    free(lo);
    free(hi);
    for (size_t i = 0; winners && i < n; i++) {
        for (size_t k = 0; winners[i] && k < EEF_MAX_CANDIDATES; k++) eef_traj_free(&winners[i][k]);
        free(winners[i]);
    }
    free(winners);
    free(pr);
    return e;
}

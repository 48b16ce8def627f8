/* eef.c: Exploring Expert Failures (tune.h has the method), in the order
 * of an iteration: the failures to explore, their candidate states,
 * exploration from the restored states, the important state, the solution
 * and its loss mask; then what a run writes of it. */
#include "run_internal.h"

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

/* The paper's rule (Lan et al. 2025, section 3): M states evenly spaced
 * over a failure of n actions, l = floor(n / (M + 1)), the states after
 * l, 2l, ..., Ml actions; when n < M + 1 (l = 0), every state s_1..s_{n-1}. */
size_t eef_candidates_even(size_t n_actions, int max_states, size_t *t_out)
{
    if (max_states > EEF_MAX_CANDIDATES) max_states = EEF_MAX_CANDIDATES;
    if (max_states < 1 || n_actions < 2) return 0;
    size_t m = (size_t)max_states, l = n_actions / (m + 1), n = 0;
    if (l == 0) {
        for (size_t t = 1; t < n_actions && n < m; t++) t_out[n++] = t;
        return n;
    }
    for (size_t i = 1; i <= m; i++) t_out[n++] = i * l; /* m l <= m n / (m + 1) < n */
    return n;
}

size_t eef_candidates_traj(const eef_traj *t, int stride, int max_states, size_t *t_out)
{
    return eef_candidates_of(t, EEF_SEARCH_STRIDE, stride, max_states, t_out);
}

size_t eef_candidates_of(const eef_traj *t, eef_search_mode mode, int stride, int max_states,
                         size_t *t_out)
{
    /* states after 1..n-1 actions that changed the observation */
    size_t moved[1024], nm = 0;
    for (size_t k = 1; k < t->n_steps && nm < 1024; k++)
        if (strcmp(t->steps[k].obs, t->steps[k - 1].obs) != 0) moved[nm++] = k;
    size_t idx[EEF_MAX_CANDIDATES];
    /* pick among them as eef_candidates picks among all: index i of the
     * list stands for state moved[i] (the list counts from 1, hence +1) */
    size_t n = mode == EEF_SEARCH_EVEN ? eef_candidates_even(nm + 1, max_states, idx)
                                       : eef_candidates(nm + 1, stride, max_states, idx);
    for (size_t i = 0; i < n; i++) t_out[i] = moved[idx[i] - 1];
    return n;
}

int eef_important_state(const size_t *t, const int *solved, size_t n, int won_from_start,
                        size_t *j_out)
{
    if (won_from_start) return -1; /* the agent needs no expert help here */
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
        size_t t = out[pr[p].traj].cand_len[pr[p].cand];
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
            /* keyed by what the rollout is, never by who runs it: the
             * task, the state, the rollout, and whose failure it is */
            uint64_t whose = f->expert && c->primary_expert && strcmp(f->expert, c->primary_expert)
                                 ? eef_hash_str(f->expert)
                                 : 0;
            s->key = eef_rng_key(c->seed, EEF_STREAM_EEF + (uint64_t)c->iteration,
                                 (uint64_t)f->index * 4096 + t, (uint64_t)r ^ whose);
        }
    }
    if (!e) e = run_rollouts(env, agent, specs, n, label, trajs);
    for (size_t p = 0; !e && p < n_probe; p++) {
        eef_explore_result *res = &out[pr[p].traj];
        size_t ci = pr[p].cand;
        res->tried[ci] = c->k;
        res->solved[ci] = 0;
        res->rollouts += c->k;
        for (int r = 0; r < c->k; r++) {
            eef_traj *tr = &trajs[p * (size_t)c->k + (size_t)r];
            res->steps += (long)(tr->n_steps - res->cand_len[ci]);
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
                             const int *won_from_start, size_t n, const eef_explore_config *c,
                             eef_explore_result *out)
{
    if (c->k < 1) return eef_fail(EEF_EINVAL, "eef: rollouts per state must be >= 1");
    eef_traj **winners = eef_calloc(n ? n : 1, sizeof *winners);
    probe *pr = eef_calloc((n ? n : 1) * EEF_MAX_CANDIDATES, sizeof *pr);
    eef_err e = (!winners || !pr) ? EEF_ENOMEM : EEF_OK;
    for (size_t i = 0; !e && i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        out[i].important = -1;
        out[i].n_cand = won_from_start[i] ? 0 : eef_candidates_of(&failed[i], c->mode, c->stride,
                                                                    c->max_states, out[i].cand_len);
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
    /* stride and even try every candidate; bisect halves an interval */
    if (!e && c->mode != EEF_SEARCH_BISECT) {
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
    /* important states and solutions.  Bisect ends with hi the lowest
     * solved candidate and lo = hi - 1 known unsolved (or the start), so
     * the rule that reads every candidate finds the same boundary. */
    for (size_t i = 0; !e && i < n; i++) {
        eef_explore_result *x = &out[i];
        size_t j = 0;
        int k = eef_important_state(x->cand_len, x->solved, x->n_cand, won_from_start[i], &j);
        x->important = k;
        x->important_len = k >= 0 ? x->cand_len[k] : 0;
        x->masked_len = k >= 0 ? j : 0;
        if (k >= 0) {
            e = eef_solution(&winners[i][k], j, x->important_len, &x->solution);
            if (!e) x->has_solution = 1;
            if (!e) e = eef_traj_set(&x->solution.expert, failed[i].expert); /* its prefix's */
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

/* ------------------------------------------------------------ in a run */
/* The failed expert trajectories iteration `iter` explores: those of the
 * first n_explore train tasks that no training data has solved yet
 * (through iteration iter - 1).  failed[] are shallow copies of ex's;
 * won_from_start[] says which of their tasks this iteration's rollouts
 * from the starts won. */
static eef_err select_failures(const run_ctx *r, int iter, size_t n_explore,
                               const eef_rft_result *rr, const eef_trajset *ex, eef_traj *failed,
                               int *won_from_start, size_t *n_failed)
{
    unsigned char *solved = eef_calloc(r->n_train ? r->n_train : 1, 1);
    if (!solved) return EEF_ENOMEM;
    long n_solved;
    eef_err e = run_solved_tasks(r, iter - 1, solved, &n_solved, NULL);
    size_t nf = 0;
    for (size_t i = 0; !e && i < ex->n; i++) {
        const eef_traj *t = &ex->items[i];
        if (t->win || t->index < 0 || (size_t)t->index >= n_explore || solved[t->index]) continue;
        won_from_start[nf] = rr->won_from_start[t->index];
        failed[nf++] = *t;
    }
    free(solved);
    *n_failed = nf;
    return e;
}

/* What the run keeps of the exploration of all failures (explore.json). */
typedef struct {
    long candidates, tried, solved, masked, solutions;
    cJSON *salvaged; /* kind -> count of the expert actions kept (mask 1) */
} eef_totals;

/* Counts the action under its kind (as its environment names kinds). */
static void count_kind(const eef_env_text *text, cJSON *hist, const char *action)
{
    char k[64];
    text->action_kind(action, k, sizeof k);
    cJSON *v = cJSON_GetObjectItemCaseSensitive(hist, k);
    if (v) cJSON_SetNumberValue(v, v->valuedouble + 1);
    else cJSON_AddNumberToObject(hist, k, 1);
}

/* One line of eef_states.jsonl: every candidate state of failure f, what
 * its rollouts found, the important state and the masked and salvaged
 * expert actions before it. */
static cJSON *state_record(const eef_traj *f, int won_from_start, const eef_explore_result *x,
                           const eef_env_text *text, eef_totals *tot)
{
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "task", f->task ? f->task : "");
    cJSON_AddNumberToObject(rec, "index", (double)f->index);
    if (f->expert) cJSON_AddStringToObject(rec, "expert", f->expert);
    cJSON_AddNumberToObject(rec, "expert_actions", (double)f->n_steps);
    cJSON_AddBoolToObject(rec, "start_solved", won_from_start);
    cJSON *cl = cJSON_AddArrayToObject(rec, "candidates");
    for (size_t k = 0; k < x->n_cand; k++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddNumberToObject(c, "t", (double)x->cand_len[k]);
        cJSON_AddNumberToObject(c, "rollouts", x->tried[k]);
        if (x->solved[k] < 0) cJSON_AddNullToObject(c, "solved");
        else cJSON_AddBoolToObject(c, "solved", x->solved[k]);
        cJSON_AddItemToArray(cl, c);
        tot->candidates++;
        tot->tried += x->solved[k] >= 0;
        tot->solved += x->solved[k] == 1;
    }
    if (x->important < 0) {
        cJSON_AddNullToObject(rec, "important");
        return rec;
    }
    cJSON_AddNumberToObject(rec, "important", (double)x->important_len);
    cJSON_AddNumberToObject(rec, "masked_prefix", (double)x->masked_len);
    cJSON *sa = cJSON_AddArrayToObject(rec, "salvaged");
    cJSON *ma = cJSON_AddArrayToObject(rec, "masked");
    for (size_t a = 0; a < x->important_len; a++) {
        const char *act = f->steps[a].action;
        int masked = a < x->masked_len;
        cJSON_AddItemToArray(masked ? ma : sa, cJSON_CreateString(act));
        if (!masked) count_kind(text, tot->salvaged, act);
    }
    tot->masked += (long)x->masked_len;
    cJSON_AddStringToObject(rec, "solution", x->solution.id ? x->solution.id : "");
    return rec;
}

/* The solutions (eef.jsonl) and the states (eef_states.jsonl). */
static eef_err save_exploration(run_ctx *r, int iter, const eef_traj *failed, const int *won,
                                eef_explore_result *res, size_t nf, eef_totals *tot,
                                long *rollouts, long *steps)
{
    const eef_env_text *text = eef_env_text_of(r->env->ops->name);
    eef_trajset sols = { 0 };
    eef_buf states;
    eef_buf_init(&states);
    eef_err e = EEF_OK;
    for (size_t i = 0; !e && i < nf; i++) {
        eef_explore_result *x = &res[i];
        *rollouts += x->rollouts;
        *steps += x->steps;
        cJSON *rec = state_record(&failed[i], won[i], x, text, tot);
        if (x->important >= 0) {
            e = eef_trajset_push(&sols, &x->solution); /* takes it */
            if (!e) memset(&x->solution, 0, sizeof x->solution), x->has_solution = 0, tot->solutions++;
        }
        char *line = cJSON_PrintUnformatted(rec);
        if (!line || eef_buf_puts(&states, line) || eef_buf_puts(&states, "\n")) e = EEF_ENOMEM;
        cJSON_free(line);
        cJSON_Delete(rec);
    }
    run_path p;
    if (!e) e = run_save_trajs(r, run_file(r, &p, "iter_%d/eef.jsonl", iter), sols.items, sols.n);
    if (!e) e = run_save_text(run_file(r, &p, "iter_%d/eef_states.jsonl", iter), &states);
    eef_buf_free(&states);
    eef_trajset_free(&sols);
    return e;
}

eef_err run_explore_failures(run_ctx *r, int iter, const eef_model *m, size_t n_explore,
                             const eef_rft_result *rr, cJSON *info, long *rollouts, long *steps)
{
    eef_trajset ex = { 0 };
    eef_err e = run_read_expert(r, &ex);
    eef_traj *failed = eef_calloc(ex.n ? ex.n : 1, sizeof *failed);
    int *won = eef_calloc(ex.n ? ex.n : 1, sizeof *won);
    size_t nf = 0;
    if (!e && (!failed || !won)) e = EEF_ENOMEM;
    if (!e) e = select_failures(r, iter, n_explore, rr, &ex, failed, won, &nf);
    eef_explore_config xc = r->c->eef;
    xc.seed = r->c->seed, xc.iteration = iter;
    char names[1][256];
    if (eef_run_experts(r->c, names, 1) == 1) xc.primary_expert = names[0];
    eef_explore_result *res = eef_calloc(nf ? nf : 1, sizeof *res);
    if (!e && !res) e = EEF_ENOMEM;
    eef_policy *explorer = NULL;
    if (!e) e = run_open_agent(m, xc.temperature, &explorer);
    if (!e) e = eef_explore_failures(r->env, explorer, failed, won, nf, &xc, res);
    if (explorer) eef_policy_close(explorer);
    eef_totals tot = { .salvaged = cJSON_CreateObject() };
    if (!e) e = save_exploration(r, iter, failed, won, res, nf, &tot, rollouts, steps);
    cJSON_AddNumberToObject(info, "eef_trajectories", (double)nf);
    cJSON_AddNumberToObject(info, "eef_candidates", (double)tot.candidates);
    cJSON_AddNumberToObject(info, "eef_states_tried", (double)tot.tried);
    cJSON_AddNumberToObject(info, "eef_states_solved", (double)tot.solved);
    cJSON_AddNumberToObject(info, "eef_solutions", (double)tot.solutions);
    cJSON_AddNumberToObject(info, "eef_masked_actions", (double)tot.masked);
    cJSON_AddItemToObject(info, "salvaged", tot.salvaged);
    if (!e) {
        long wins = 0;
        for (size_t i = 0; i < rr->n_tasks; i++) wins += rr->won_from_start[i];
        eef_info("iteration %d: %ld tasks won from the start; EEF: %zu failed expert "
                 "trajectories, %ld/%ld states solved, %ld solutions",
                 iter, wins, nf, tot.solved, tot.tried, tot.solutions);
    }
    for (size_t i = 0; res && i < nf; i++) eef_explore_result_free(&res[i]);
    free(res);
    free(failed);
    free(won);
    eef_trajset_free(&ex);
    return e;
}

/* run.c: `eef run`, the SFT / RFT / EEF pipeline in a resumable run
 * directory (tune.h has its layout): the configuration, the state to
 * resume from, and the phases in order.  Each phase lives with its stage
 * (run_internal.h lists them) and is skipped when state.json lists it. */
#include "run_internal.h"

#include "dist/dist.h"

#include <stdlib.h>
#include <string.h>

/* The configuration: new, or the same as the one the run started with. */
static eef_err check_config(const run_ctx *r)
{
    run_path p;
    cJSON *cfg = eef_run_config_to_json(r->c);
    eef_err e = EEF_OK;
    if (!eef_file_exists(run_file(r, &p, "config.json"))) {
        e = run_save_json(p.s, cfg);
        cJSON_Delete(cfg);
        return e;
    }
    cJSON *old = NULL;
    e = eef_json_read_file(p.s, &old);
    if (!e && !cJSON_Compare(old, cfg, 1)) {
        const char *field = "?";
        for (cJSON *it = cfg->child; it; it = it->next)
            if (!cJSON_Compare(it, cJSON_GetObjectItemCaseSensitive(old, it->string), 1)) {
                field = it->string;
                break;
            }
        e = eef_fail(EEF_EINVAL, "%s holds a run with a different configuration (%s "
                     "differs); resume it with the same options or choose another --out",
                     r->dir, field);
    }
    cJSON_Delete(old);
    cJSON_Delete(cfg);
    return e;
}

/* The phases done so far (state.json), or none. */
static eef_err load_state(run_ctx *r)
{
    run_path p;
    if (!eef_file_exists(run_file(r, &p, "state.json"))) {
        r->state = cJSON_CreateObject();
        cJSON_AddArrayToObject(r->state, "done");
        return EEF_OK;
    }
    EEF_TRY(eef_json_read_file(p.s, &r->state));
    if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(r->state, "done"))) return EEF_OK;
    cJSON_Delete(r->state);
    r->state = NULL;
    return eef_fail(EEF_EFORMAT, "%s: field 'done' missing", p.s);
}

/* Iteration iter explores with the model of iteration iter - 1: from the
 * task starts (RFT; EEF's first half), then, for EEF, from the expert's
 * failures; explore.json holds the facts of both. */
static eef_err phase_explore(run_ctx *r, int iter)
{
    run_phase ph;
    if (!run_phase_begin(r, &ph, iter, "explore")) return EEF_OK;
    run_path p;
    EEF_TRY(eef_mkdirs(run_file(r, &p, "iter_%d", iter)));
    run_banner("iteration %d: explore (%s)", iter, eef_method_name(r->c->method));
    run_student s;
    EEF_TRY(run_student_load(r, iter - 1, &s));
    const eef_model *m = s.m;
    eef_policy *agent = NULL;
    eef_err e = run_open_agent(m, r->c->rft.temperature, &agent);
    long tasks = r->c->rft.tasks;
    size_t n_explore = tasks > 0 && (size_t)tasks < r->n_train ? (size_t)tasks : r->n_train;
    eef_rft_result rr = { 0 };
    double base_cost = 0;
    cJSON *info = cJSON_CreateObject();
    if (!e) e = run_explore_starts(r, iter, agent, n_explore, &rr, info, &base_cost);
    long rollouts = rr.rollouts, steps = rr.steps;
    if (!e && r->c->method == EEF_METHOD_EEF)
        e = run_explore_failures(r, iter, m, n_explore, &rr, info, &rollouts, &steps);
    cJSON_AddNumberToObject(info, "rollouts", (double)rollouts);
    cJSON_AddNumberToObject(info, "env_steps", (double)steps);
    if (!e) e = run_save_json(run_file(r, &p, "iter_%d/explore.json", iter), info);
    cJSON_Delete(info);
    eef_rft_result_free(&rr);
    if (agent) eef_policy_close(agent);
    run_student_free(&s);
    return e ? e : run_phase_end(r, &ph, base_cost);
}

/* The phases, each skipped when done: expert, SFT, its evaluation, then
 * explore / train / evaluate per iteration. */
static eef_err run_phases(run_ctx *r)
{
    EEF_TRY(run_phase_expert(r));
    EEF_TRY(run_phase_sft(r));
    EEF_TRY(run_phase_eval(r, 0));
    for (int it = 1; it <= r->c->iters && r->c->method != EEF_METHOD_SFT; it++) {
        if (r->c->method == EEF_METHOD_ETO) { /* a round: explore, pair, DPO */
            EEF_TRY(run_phase_eto_explore(r, it));
            EEF_TRY(run_phase_eto_train(r, it));
        } else {
            EEF_TRY(phase_explore(r, it));
            EEF_TRY(run_phase_train(r, it));
        }
        EEF_TRY(run_phase_eval(r, it));
    }
    return run_mark_done(r, "finished", 0);
}

eef_err eef_run(const eef_run_config *c, const char *dir, const char *from_dir, int *finished)
{
    *finished = 0;
    run_ctx r = { .c = c, .dir = dir, .from = from_dir };
    EEF_TRY(eef_mkdirs(dir));
    /* a killed run's half-written files (only rank 0 writes, so only it leaves any) */
    if (run_writer()) eef_clean_tmp(dir);
    for (int it = 0; it <= c->iters && run_writer(); it++) {
        run_path p;
        eef_clean_tmp(run_file(&r, &p, "iter_%d", it));
    }
    /* the imported base first: another one is refused by name, before
     * the configuration's difference would be */
    EEF_TRY(run_check_base_model(&r));
    EEF_TRY(check_config(&r));
    if (from_dir) EEF_TRY(run_check_base(c, from_dir));
    EEF_TRY(load_state(&r));
    /* every rank has read the state before rank 0 changes it */
    if (eef_dist_barrier()) {
        cJSON_Delete(r.state);
        return eef_fail_ctx(EEF_ENET, "%s", dir);
    }
    if (run_done(&r, "finished")) {
        *finished = 1;
        cJSON_Delete(r.state);
        return EEF_OK;
    }
    eef_err e = eef_env_open(c->env, c->env_options[0] ? c->env_options : NULL, c->seed, &r.env);
    if (!e) e = run_check_world(&r);
    if (!e) {
        size_t ntr = r.env->ops->n_tasks(r.env, EEF_SPLIT_TRAIN);
        size_t nte = r.env->ops->n_tasks(r.env, EEF_SPLIT_TEST);
        r.n_train = c->n_train > 0 && (size_t)c->n_train < ntr ? (size_t)c->n_train : ntr;
        r.n_test = c->n_test > 0 && (size_t)c->n_test < nte ? (size_t)c->n_test : nte;
        e = run_phases(&r);
    }
    eef_env_close(r.env);
    cJSON_Delete(r.state);
    return e;
}

/* evaluate.c: the evaluation phase of every iteration (0: the SFT model):
 * the agent greedily on the test tasks (iter_N/eval.jsonl, eval.json),
 * then metrics.jsonl rebuilt from the per-phase files, so it is always
 * consistent with them. */
#include "run_internal.h"

#include "eval/eval.h"

#include <stdlib.h>
#include <string.h>

/* The line of metrics.jsonl of iteration `it`; *rollouts and *steps
 * accumulate the exploration's cost over the iterations. */
static eef_err metrics_line(const run_ctx *r, int it, long *rollouts, long *steps, cJSON *line)
{
    run_path p;
    cJSON *ev = NULL, *ex = NULL, *tr = NULL;
    cJSON_AddStringToObject(line, "method", eef_method_name(r->c->method));
    cJSON_AddNumberToObject(line, "iter", it);
    EEF_TRY(eef_json_read_file(run_file(r, &p, "iter_%d/eval.json", it), &ev));
    cJSON_AddItemToObject(line, "test", ev);
    if (it > 0) {
        EEF_TRY(eef_json_read_file(run_file(r, &p, "iter_%d/explore.json", it), &ex));
        const cJSON *ro = cJSON_GetObjectItemCaseSensitive(ex, "rollouts");
        const cJSON *so = cJSON_GetObjectItemCaseSensitive(ex, "env_steps");
        *rollouts += cJSON_IsNumber(ro) ? (long)ro->valuedouble : 0;
        *steps += cJSON_IsNumber(so) ? (long)so->valuedouble : 0;
        cJSON_AddItemToObject(line, "explore", ex);
        EEF_TRY(eef_json_read_file(run_file(r, &p, "iter_%d/train.json", it), &tr));
    } else {
        EEF_TRY(eef_json_read_file(run_file(r, &p, "sft.json"), &tr));
    }
    cJSON_AddItemToObject(line, "train", tr);
    /* train tasks with at least one win in the iteration's training data */
    unsigned char *solved = eef_calloc(r->n_train ? r->n_train : 1, 1);
    if (!solved) return EEF_ENOMEM;
    long n_solved;
    run_data_counts n;
    eef_err e = run_solved_tasks(r, it, solved, &n_solved, &n);
    free(solved);
    if (e) return e;
    cJSON_AddNumberToObject(line, "train_tasks", (double)r->n_train);
    cJSON_AddNumberToObject(line, "train_solved", (double)n_solved);
    cJSON *d = cJSON_AddObjectToObject(line, "data");
    cJSON_AddNumberToObject(d, "expert", (double)n.expert);
    cJSON_AddNumberToObject(d, "rft", (double)n.rft);
    cJSON_AddNumberToObject(d, "eef", (double)n.eef);
    cJSON_AddNumberToObject(line, "rollouts", (double)*rollouts);
    cJSON_AddNumberToObject(line, "env_steps", (double)*steps);
    return EEF_OK;
}

static eef_err write_metrics(const run_ctx *r, int upto)
{
    if (!run_writer()) return EEF_OK; /* it reads what rank 0 has just written */
    eef_buf out;
    eef_buf_init(&out);
    eef_err e = EEF_OK;
    long rollouts = 0, steps = 0;
    for (int it = 0; !e && it <= upto; it++) {
        cJSON *line = cJSON_CreateObject();
        e = metrics_line(r, it, &rollouts, &steps, line);
        char *s = e ? NULL : cJSON_PrintUnformatted(line);
        if (!e && (!s || eef_buf_puts(&out, s) || eef_buf_puts(&out, "\n"))) e = EEF_ENOMEM;
        cJSON_free(s);
        cJSON_Delete(line);
    }
    run_path p;
    if (!e) e = run_save_text(run_file(r, &p, "metrics.jsonl"), &out);
    eef_buf_free(&out);
    return e;
}

/* The model of iteration iter on the test tasks, greedily. */
static eef_err evaluate(const run_ctx *r, int iter)
{
    run_banner("iteration %d: evaluate on %zu test tasks", iter, r->n_test);
    run_path p;
    run_student st;
    EEF_TRY(run_student_load(r, iter, &st));
    eef_policy *agent;
    eef_err e = run_open_agent(st.m, 0.0, &agent);
    eef_traj *t = NULL;
    size_t n = 0;
    eef_eval_summary s;
    if (!e) e = run_evaluate(r->env, agent, EEF_SPLIT_TEST, r->n_test, r->c->seed, "evaluate", &t, &n, &s);
    for (size_t i = 0; !e && i < n; i++) e = eef_traj_set(&t[i].source, "agent");
    if (!e) e = run_save_trajs(r, run_file(r, &p, "iter_%d/eval.jsonl", iter), t, n);
    if (!e) {
        cJSON *j = eef_eval_to_json(&s);
        e = run_save_json(run_file(r, &p, "iter_%d/eval.json", iter), j);
        cJSON_Delete(j);
        eef_info("iteration %d: test win %.1f%% [%.1f, %.1f], score %.1f; easy %.1f%%, "
                 "medium %.1f%%, hard %.1f%%",
                 iter, 100 * s.all.win, 100 * s.all.win_lo, 100 * s.all.win_hi, s.all.score,
                 100 * s.tier[0].win, 100 * s.tier[1].win, 100 * s.tier[2].win);
    }
    for (size_t i = 0; t && i < n; i++) eef_traj_free(&t[i]);
    free(t);
    if (agent) eef_policy_close(agent);
    run_student_free(&st);
    return e;
}

eef_err run_phase_eval(run_ctx *r, int iter)
{
    run_phase ph;
    if (!run_phase_begin(r, &ph, iter, "eval")) return EEF_OK;
    run_path p;
    EEF_TRY(eef_mkdirs(run_file(r, &p, "iter_%d", iter)));
    if (iter == 0 && r->from) { /* the SFT model's, as the base evaluated it */
        EEF_TRY(run_copy_from_base(r, "iter_0/eval.jsonl"));
        EEF_TRY(run_copy_from_base(r, "iter_0/eval.json"));
    } else {
        EEF_TRY(evaluate(r, iter));
    }
    EEF_TRY(write_metrics(r, iter));
    if (iter == 0 && r->from) return run_mark_done(r, ph.name, run_base_seconds(r, ph.name));
    return run_phase_end(r, &ph, 0);
}

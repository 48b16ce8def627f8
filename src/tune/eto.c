/* eto.c: Exploration-based Trajectory Optimization (Song et al. 2024,
 * "Trial and Error"), the ETO row of the paper's table.
 *
 * A round, from the current policy (round 1: the SFT model):
 *   explore  the agent plays every train task once from its start
 *            (ETO explores greedily, as its evaluation does);
 *   pair     each agent failure with the expert's win on the same task:
 *            chosen = the expert's trajectory, rejected = the agent's, cut
 *            to the expert's length + 5 steps as ETO's construct_preference
 *            does (a failure runs to the step limit; its tail is noise);
 *   train    DPO on the pairs (nn/dpo.c): loss on the action tokens, the
 *            policy at the start of the round as the frozen reference (the
 *            reference is reset every round), ETO's schedule: 3 epochs,
 *            constant learning rate after a 10% warmup, beta 0.1 in round 1
 *            and 0.5 after (lr halved), as its run_eto.sh on WebShop.
 * Because the reference is the policy as the round starts, its log-probs
 * are computed once, before the first step, and no second model is held.
 */
#include "run_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void eef_eto_defaults(eef_eto_config *c)
{
    memset(c, 0, sizeof *c);
    c->beta = 0.1;
    c->beta_later = 0.5;
    c->lr = 1e-4;       /* ETO: SFT's lr / 20 (2e-5 -> 1e-6); eef's SFT lr is 2e-3 */
    c->lr_later = 5e-5; /* ETO: halved after round 1 (5e-7) */
    c->epochs = 3;
    c->pairs_per_step = 8;
    c->extra_steps = 5;
    c->temperature = 0;
}

eef_err eef_eto_explore(eef_env *env, eef_policy *agent, eef_split split, size_t n_tasks,
                        uint64_t seed, int iteration, eef_trajset *out)
{
    memset(out, 0, sizeof *out);
    eef_rollout_spec *specs = eef_calloc(n_tasks ? n_tasks : 1, sizeof *specs);
    eef_traj *t = eef_calloc(n_tasks ? n_tasks : 1, sizeof *t);
    eef_err e = !specs || !t ? EEF_ENOMEM : EEF_OK;
    for (size_t i = 0; !e && i < n_tasks; i++)
        specs[i] = (eef_rollout_spec){
            .split = split, .index = i,
            .key = eef_rng_key(seed, EEF_STREAM_ETO + (uint64_t)iteration, i, 0)
        };
    if (!e) e = run_rollouts(env, agent, specs, n_tasks, "explore (eto)", t);
    for (size_t i = 0; !e && i < n_tasks; i++) {
        e = eef_traj_set(&t[i].source, "agent");
        if (!e) e = eef_trajset_push(out, &t[i]); /* takes ownership */
        if (!e) memset(&t[i], 0, sizeof t[i]);
    }
    for (size_t i = 0; t && i < n_tasks; i++) eef_traj_free(&t[i]);
    free(t);
    free(specs);
    if (e) eef_trajset_free(out);
    return e;
}

eef_err eef_eto_pairs(const eef_traj *expert, size_t n_expert, const eef_traj *agent,
                      size_t n_agent, int extra_steps, eef_trajset *chosen, eef_trajset *rejected)
{
    memset(chosen, 0, sizeof *chosen);
    memset(rejected, 0, sizeof *rejected);
    eef_err e = EEF_OK;
    for (size_t i = 0; !e && i < n_agent; i++) {
        const eef_traj *a = &agent[i];
        if (a->win || a->index < 0 || a->n_steps == 0) continue;
        const eef_traj *w = NULL; /* the first expert win on the task */
        for (size_t k = 0; k < n_expert && !w; k++)
            if (expert[k].win && expert[k].index == a->index && expert[k].split == a->split &&
                expert[k].n_steps > 0)
                w = &expert[k];
        if (!w) continue;
        eef_traj c, r;
        eef_traj_init(&c), eef_traj_init(&r);
        e = eef_traj_copy(&c, w);
        if (!e) e = eef_traj_copy(&r, a);
        size_t keep = w->n_steps + (size_t)(extra_steps > 0 ? extra_steps : 0);
        if (!e && r.n_steps > keep) { /* cut: the steps after `keep` and the last observation */
            for (size_t s = keep; s < r.n_steps; s++) {
                free(r.steps[s].obs), free(r.steps[s].action);
            }
            r.n_steps = keep;
            free(r.final_obs);
            r.final_obs = NULL;
        }
        for (size_t s = 0; !e && s < c.n_steps; s++) c.steps[s].mask = 1;
        for (size_t s = 0; !e && s < r.n_steps; s++) r.steps[s].mask = 1;
        if (!e) e = eef_trajset_push(chosen, &c);
        if (!e) e = eef_trajset_push(rejected, &r);
        eef_traj_free(&c), eef_traj_free(&r); /* no-ops once pushed */
        if (e) break;
    }
    if (e || chosen->n != rejected->n) {
        eef_trajset_free(chosen), eef_trajset_free(rejected);
        if (!e) e = EEF_ENOMEM;
    }
    return e;
}

/* The two sequences of every pair, tokenized as SFT sees trajectories. */
typedef struct {
    eef_prompt *p; /* [2n]: chosen 2i, rejected 2i + 1 */
    size_t n;
} pair_tokens;

static void pair_tokens_free(pair_tokens *pt)
{
    for (size_t i = 0; pt->p && i < 2 * pt->n; i++) eef_prompt_free(&pt->p[i]);
    free(pt->p);
}

eef_err eef_eto_train(eef_model *m, const eef_traj *chosen, const eef_traj *rejected, size_t n,
                      const eef_eto_config *c, int round, eef_eto_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!m->tok) return eef_fail(EEF_EINVAL, "eto: training needs a model with a tokenizer");
    if (n == 0) return EEF_OK; /* nothing to prefer: the policy stays */
    int T = c->seq_len < m->cfg.max_ctx ? c->seq_len : m->cfg.max_ctx;
    int rows = c->batch_rows, per = c->pairs_per_step;
    if (T < 16 || rows < 1 || per < 1 || !(c->epochs > 0))
        return eef_fail(EEF_EINVAL, "eto: bad batch (%d x %d), pairs per step %d or epochs %g",
                        rows, T, per, c->epochs);
    double beta = round <= 1 ? c->beta : c->beta_later, lr = round <= 1 ? c->lr : c->lr_later;
    if (!(beta > 0) || !(lr > 0)) return eef_fail(EEF_EINVAL, "eto: beta and lr must be > 0");
    double t0 = eef_now();

    pair_tokens pt = { eef_calloc(2 * n, sizeof(eef_prompt)), n };
    eef_dpo_pair *pairs = eef_calloc(n, sizeof *pairs), *step_pairs = eef_calloc((size_t)per, sizeof *pairs);
    size_t *order = eef_malloc(n * sizeof *order);
    eef_batch b = { 0 };
    eef_adamw *opt = NULL;
    eef_err e = !pt.p || !pairs || !step_pairs || !order ? EEF_ENOMEM : EEF_OK;
    for (size_t i = 0; !e && i < 2 * n; i++) {
        const eef_traj *t = i % 2 ? &rejected[i / 2] : &chosen[i / 2];
        /* one sequence a side: what the agent saw at its last action
         * (the window's budget, as the rollouts'), every action in it */
        e = eef_prompt_from_traj(m->tok, t, eef_prompt_budget(m->cfg.max_ctx), 0.0f, &pt.p[i]);
    }
    for (size_t i = 0; !e && i < n; i++) {
        pairs[i].chosen = (eef_seq){ pt.p[2 * i].tokens, pt.p[2 * i].mask, pt.p[2 * i].n };
        pairs[i].rejected = (eef_seq){ pt.p[2 * i + 1].tokens, pt.p[2 * i + 1].mask, pt.p[2 * i + 1].n };
    }
    if (!e) e = eef_batch_alloc(&b, rows, T);
    /* the reference: this policy, before any step of the round */
    for (size_t i = 0; !e && i < n; i++) {
        eef_seq two[2] = { pairs[i].chosen, pairs[i].rejected };
        double lp[2];
        e = eef_seq_logprobs(m, two, 2, &b, lp);
        pairs[i].ref_chosen = lp[0], pairs[i].ref_rejected = lp[1];
    }
    long per_epoch = (long)((n + (size_t)per - 1) / (size_t)per);
    long total = (long)llround(per_epoch * c->epochs);
    if (total < 1) total = 1;
    eef_adamw_config oc;
    eef_adamw_defaults(&oc);
    oc.lr = lr;
    oc.weight_decay = 0; /* as ETO */
    oc.total_steps = total;
    oc.warmup = total / 10 + 1;
    oc.min_lr_frac = 1.0; /* constant after the warmup */
    if (!e) e = eef_adamw_new(&oc, eef_train_n_params(m, m->lora), &opt);
    eef_progress prog;
    if (!e && c->label) eef_progress_begin(&prog, c->label, (double)total, "steps");
    long step = 0;
    double first = 0, last = 0;
    long k10 = total / 10 > 0 ? total / 10 : 1;
    for (int epoch = 0; !e && step < total; epoch++) {
        for (size_t i = 0; i < n; i++) order[i] = i;
        eef_rng r = eef_rng_make(eef_rng_key(c->seed, EEF_STREAM_EPOCH, (uint64_t)epoch, 1));
        eef_rng_shuffle(&r, order, n, sizeof *order);
        for (size_t at = 0; !e && at < n && step < total; at += (size_t)per) {
            size_t k = n - at < (size_t)per ? n - at : (size_t)per;
            for (size_t q = 0; q < k; q++) step_pairs[q] = pairs[order[at + q]];
            eef_dpo_stats ds;
            eef_model_zero_grad(m);
            e = eef_dpo_loss(m, step_pairs, k, beta, &b, 1.0f, &ds);
            if (!e) e = eef_adamw_step(opt, m, NULL);
            if (e) break;
            if (step < k10) first += ds.loss / (double)k10;
            if (step >= total - k10) last += ds.loss / (double)k10;
            st->accuracy = ds.accuracy; /* of the last step */
            step++;
            if (c->label) {
                eef_progress_note(&prog, "dpo %.3f  acc %.2f", ds.loss, ds.accuracy);
                eef_progress_add(&prog, 1);
            }
        }
    }
    if (c->label && opt) eef_progress_end(&prog);
    /* where the round left the pairs: the mean loss and accuracy over all */
    if (!e) {
        eef_dpo_stats all = { 0 };
        for (size_t at = 0; !e && at < n; at += (size_t)per) {
            size_t k = n - at < (size_t)per ? n - at : (size_t)per;
            eef_dpo_stats ds;
            e = eef_dpo_loss(m, pairs + at, k, beta, &b, 0.0f, &ds);
            all.loss += ds.loss * (double)k / (double)n;
            all.accuracy += ds.accuracy * (double)k / (double)n;
            all.margin += ds.margin * (double)k / (double)n;
        }
        st->pairs = (long)n;
        st->steps = step;
        st->beta = beta;
        st->lr = lr;
        st->first_loss = first;
        st->last_loss = last;
        st->end_loss = all.loss;
        st->accuracy = all.accuracy;
        st->margin = all.margin;
        st->seconds = eef_now() - t0;
    }
    eef_adamw_free(opt);
    eef_batch_free(&b);
    free(order);
    free(step_pairs);
    free(pairs);
    pair_tokens_free(&pt);
    return e;
}

/* ------------------------------------------------------------ in a run
 * An ETO iteration is a round: its explore phase plays the train tasks
 * with the model of iteration iter - 1 (iter_N/eto.jsonl: every rollout;
 * explore.json), its train phase pairs the failures with the expert's wins
 * and runs DPO from that model (iter_N/model.eefm, train.json); the
 * evaluation is every method's. */
eef_err run_phase_eto_explore(run_ctx *r, int iter)
{
    char phase[64];
    snprintf(phase, sizeof phase, "iter_%d.explore", iter);
    if (run_done(r, phase)) return EEF_OK;
    double t0 = eef_now();
    run_path p;
    EEF_TRY(eef_mkdirs(run_file(r, &p, "iter_%d", iter)));
    run_banner("iteration %d: explore (eto)", iter);
    run_student s;
    EEF_TRY(run_student_load(r, iter - 1, &s));
    eef_policy *agent = NULL;
    eef_err e = run_open_agent(s.m, r->c->eto.temperature, &agent);
    long tasks = r->c->rft.tasks;
    size_t n_explore = tasks > 0 && (size_t)tasks < r->n_train ? (size_t)tasks : r->n_train;
    eef_trajset ro = { 0 }, ex = { 0 }, ch = { 0 }, rj = { 0 };
    if (!e) e = eef_eto_explore(r->env, agent, EEF_SPLIT_TRAIN, n_explore, r->c->seed, iter, &ro);
    if (!e) e = run_save_trajs(r, run_file(r, &p, "iter_%d/eto.jsonl", iter), ro.items, ro.n);
    if (!e) e = run_read_expert(r, &ex);
    if (!e) e = eef_eto_pairs(ex.items, ex.n, ro.items, ro.n, r->c->eto.extra_steps, &ch, &rj);
    long wins = 0, steps = 0;
    for (size_t i = 0; i < ro.n; i++) wins += ro.items[i].win, steps += (long)ro.items[i].n_steps;
    cJSON *info = cJSON_CreateObject();
    cJSON_AddNumberToObject(info, "start_rollouts", (double)ro.n);
    cJSON_AddNumberToObject(info, "start_wins", (double)wins);
    cJSON_AddNumberToObject(info, "eto_pairs", (double)ch.n);
    cJSON_AddNumberToObject(info, "rollouts", (double)ro.n);
    cJSON_AddNumberToObject(info, "env_steps", (double)steps);
    if (!e) e = run_save_json(run_file(r, &p, "iter_%d/explore.json", iter), info);
    if (!e)
        eef_info("iteration %d: %ld of %zu tasks won from the start; ETO: %zu failures paired "
                 "with the expert's wins", iter, wins, ro.n, ch.n);
    cJSON_Delete(info);
    eef_trajset_free(&ro), eef_trajset_free(&ex), eef_trajset_free(&ch), eef_trajset_free(&rj);
    if (agent) eef_policy_close(agent);
    run_student_free(&s);
    return e ? e : run_mark_done(r, phase, eef_now() - t0);
}

eef_err run_phase_eto_train(run_ctx *r, int iter)
{
    char phase[64];
    snprintf(phase, sizeof phase, "iter_%d.train", iter);
    if (run_done(r, phase)) return EEF_OK;
    double t0 = eef_now();
    run_path p;
    eef_trajset ro = { 0 }, ex = { 0 }, ch = { 0 }, rj = { 0 };
    eef_err e = eef_traj_read(run_file(r, &p, "iter_%d/eto.jsonl", iter), 0, &ro, NULL);
    if (!e) e = run_read_expert(r, &ex);
    if (!e) e = eef_eto_pairs(ex.items, ex.n, ro.items, ro.n, r->c->eto.extra_steps, &ch, &rj);
    run_banner("iteration %d: DPO on %zu pairs (round %d)", iter, ch.n, iter);
    run_student s = { 0 };
    if (!e) e = run_student_load(r, iter - 1, &s);
    eef_model *m = s.m;
    eef_eto_config ec = r->c->eto;
    ec.seed = eef_rng_key(r->c->seed, EEF_STREAM_ITER_TRAIN, (uint64_t)iter, 0);
    ec.label = "dpo";
    eef_eto_stats st;
    if (!e) e = eef_eto_train(m, ch.items, rj.items, ch.n, &ec, iter, &st);
    if (!e) e = run_student_save(r, &s, iter);
    if (!e) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "trajectories", (double)(2 * ch.n));
        cJSON_AddNumberToObject(j, "pairs", (double)st.pairs);
        cJSON_AddNumberToObject(j, "steps", (double)st.steps);
        cJSON_AddNumberToObject(j, "beta", st.beta);
        cJSON_AddNumberToObject(j, "lr", st.lr);
        cJSON_AddNumberToObject(j, "first_loss", st.first_loss);
        cJSON_AddNumberToObject(j, "last_loss", st.last_loss);
        cJSON_AddNumberToObject(j, "end_loss", st.end_loss);
        cJSON_AddNumberToObject(j, "accuracy", st.accuracy);
        cJSON_AddNumberToObject(j, "margin", st.margin);
        e = run_save_json(run_file(r, &p, "iter_%d/train.json", iter), j);
        cJSON_Delete(j);
        eef_info("iteration %d: DPO %ld steps, loss %.3f -> %.3f, chosen preferred on %.0f%% of "
                 "the pairs", iter, st.steps, st.first_loss, st.last_loss, 100 * st.accuracy);
    }
    run_student_free(&s);
    eef_trajset_free(&ro), eef_trajset_free(&ex), eef_trajset_free(&ch), eef_trajset_free(&rj);
    return e ? e : run_mark_done(r, phase, eef_now() - t0);
}

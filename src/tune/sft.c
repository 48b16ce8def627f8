/* sft.c: the first two stages of every run.
 *
 *   expert  the expert once from the start of every train and test task:
 *           expert_train.jsonl (successes and failures; EEF explores the
 *           failures), expert_test.jsonl, expert.json (its win rates);
 *   sft     a tokenizer learnt from the expert's train trajectories, and a
 *           new model trained on the expert's wins (behaviour cloning):
 *           sft.eefm, sft.json.
 *
 * A run --from a base copies both from it. */
#include "run_internal.h"

#include "eval/eval.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ expert */
/* An expert once from the start of tasks [0, n) of a split: the same
 * rollouts as `eef expert` makes with the same seed, each marked with the
 * expert's name (`out` NULL: the summary only).  A run's second expert on
 * plays the same rollout keys with streams of its own (the built-in
 * profiles do); its trajectories' ids get its name so that they stay
 * unique in the run. */
static eef_err expert_rollouts(const run_ctx *r, eef_policy *ex, const char *name, int ordinal,
                               eef_split split, size_t n, const char *label, eef_trajset *out,
                               eef_eval_summary *sum)
{
    eef_traj *t = NULL;
    size_t nt = 0;
    eef_err e = run_evaluate(r->env, ex, split, n, r->c->seed, label, &t, &nt, sum);
    for (size_t i = 0; !e && out && i < nt; i++) {
        e = eef_traj_set(&t[i].source, "expert");
        if (!e) e = eef_traj_set(&t[i].expert, name);
        if (!e && ordinal > 0) {
            char id[512];
            snprintf(id, sizeof id, "%s/%s", t[i].id, name);
            e = eef_traj_set(&t[i].id, id);
        }
        if (!e) e = eef_trajset_push(out, &t[i]);
        if (!e) memset(&t[i], 0, sizeof t[i]);
    }
    for (size_t i = 0; t && i < nt; i++) eef_traj_free(&t[i]);
    free(t);
    return e;
}

#define MAX_EXPERTS 8

/* expert.json: the first expert's rates ("train", "test": the expert row of
 * a comparison); with several experts, every one's under "experts". */
static eef_err save_expert(const run_ctx *r, const eef_trajset *tr, const eef_trajset *te,
                           char names[][256], const eef_eval_summary *s_tr,
                           const eef_eval_summary *s_te, int n_experts)
{
    run_path p;
    EEF_TRY(run_save_trajs(r, run_file(r, &p, "expert_train.jsonl"), tr->items, tr->n));
    EEF_TRY(run_save_trajs(r, run_file(r, &p, "expert_test.jsonl"), te->items, te->n));
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "train", eef_eval_to_json(&s_tr[0]));
    cJSON_AddItemToObject(j, "test", eef_eval_to_json(&s_te[0]));
    if (n_experts > 1) {
        cJSON *a = cJSON_AddArrayToObject(j, "experts");
        for (int k = 0; k < n_experts; k++) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "expert", names[k]);
            cJSON_AddItemToObject(x, "train", eef_eval_to_json(&s_tr[k]));
            cJSON_AddItemToObject(x, "test", eef_eval_to_json(&s_te[k]));
            cJSON_AddItemToArray(a, x);
        }
    }
    eef_err e = run_save_json(run_file(r, &p, "expert.json"), j);
    cJSON_Delete(j);
    return e;
}

eef_err run_phase_expert(run_ctx *r)
{
    run_phase ph;
    if (!run_phase_begin(r, &ph, -1, "expert")) return EEF_OK;
    if (r->from) {
        run_banner("expert: from %s", r->from);
        EEF_TRY(run_copy_from_base(r, "expert_train.jsonl"));
        EEF_TRY(run_copy_from_base(r, "expert_test.jsonl"));
        EEF_TRY(run_copy_from_base(r, "expert.json"));
        return run_mark_done(r, "expert", run_base_seconds(r, "expert"));
    }
    char names[MAX_EXPERTS][256];
    int ne = eef_run_experts(r->c, names, MAX_EXPERTS);
    if (ne < 1) return eef_fail(EEF_EINVAL, "no expert named in '%s'", r->c->expert);
    run_banner("expert%s: %zu train and %zu test tasks", ne > 1 ? "s" : "", r->n_train, r->n_test);
    const char *opts = r->c->expert_options[0] ? r->c->expert_options : NULL;
    eef_trajset tr = { 0 }, te = { 0 };
    eef_eval_summary s_tr[MAX_EXPERTS], s_te[MAX_EXPERTS];
    eef_err e = EEF_OK;
    for (int k = 0; !e && k < ne; k++) {
        eef_policy *ex;
        char l_tr[300], l_te[300];
        snprintf(l_tr, sizeof l_tr, "%s on train", ne > 1 ? names[k] : "expert");
        snprintf(l_te, sizeof l_te, "%s on test", ne > 1 ? names[k] : "expert");
        e = eef_expert_open(r->c->env, names[k], opts, &ex);
        if (e) break;
        /* every expert's train trajectories; the first one's test ones */
        e = expert_rollouts(r, ex, names[k], k, EEF_SPLIT_TRAIN, r->n_train, l_tr, &tr, &s_tr[k]);
        if (!e) e = expert_rollouts(r, ex, names[k], k, EEF_SPLIT_TEST, r->n_test, l_te, k ? NULL : &te,
                                    &s_te[k]);
        eef_policy_close(ex);
        if (!e)
            eef_info("expert %s: train win %.1f%% (easy %.1f, medium %.1f, hard %.1f), test win %.1f%%",
                     names[k], 100 * s_tr[k].all.win, 100 * s_tr[k].tier[0].win,
                     100 * s_tr[k].tier[1].win, 100 * s_tr[k].tier[2].win, 100 * s_te[k].all.win);
    }
    if (!e) e = save_expert(r, &tr, &te, names, s_tr, s_te, ne);
    eef_trajset_free(&tr);
    eef_trajset_free(&te);
    return e ? e : run_phase_end(r, &ph, 0);
}

/* ------------------------------------------------------------ sft */
/* The tokenizer learns from what the agent will read and write: the
 * expert's instructions, observations and actions on the train tasks. */
static eef_err train_tokenizer(const eef_trajset *ex, int vocab, eef_tokenizer **out)
{
    eef_buf corpus;
    eef_buf_init(&corpus);
    eef_err e = eef_prompt_corpus(ex->items, ex->n, &corpus);
    if (!e) e = eef_tok_train(corpus.data ? corpus.data : "", corpus.len, vocab, out);
    eef_buf_free(&corpus);
    return e;
}

/* A new model of the run's preset with its tokenizer (which it takes);
 * the seed is the one an imported student's new adapters are drawn from. */
static eef_err new_model(const run_ctx *r, eef_tokenizer *tok, eef_model **out)
{
    eef_model_config mc;
    eef_err e = eef_model_preset(r->c->model_preset, eef_tok_vocab_size(tok), &mc);
    if (!e) return eef_model_new(&mc, tok, eef_rng_key(r->c->seed, EEF_STREAM_SFT, 0, 0), out);
    eef_tok_free(tok);
    return e;
}

eef_err run_phase_sft(run_ctx *r)
{
    run_phase ph;
    if (!run_phase_begin(r, &ph, -1, "sft")) return EEF_OK;
    if (r->from) {
        run_banner("sft: from %s", r->from);
        EEF_TRY(run_student_copy_sft(r));
        EEF_TRY(run_copy_from_base(r, "sft.json"));
        return run_mark_done(r, "sft", run_base_seconds(r, "sft"));
    }
    /* the tokenizer reads all of the expert's trajectories, SFT its wins;
     * an imported student has its own tokenizer */
    eef_trajset ex = { 0 }, wins = { 0 };
    EEF_TRY(run_read_expert(r, &ex));
    eef_err e = run_training_data(r, 0, &wins, NULL);
    int imported = r->c->base_model[0] != 0;
    if (imported)
        run_banner("sft: %s of %s on %zu expert wins", run_student_lora(r) ? "LoRA" : "full tuning",
                   r->c->base_model, wins.n);
    else
        run_banner("sft: tokenizer and model on %zu expert wins", wins.n);
    eef_tokenizer *tok = NULL;
    run_student s = { 0 };
    uint64_t init = eef_rng_key(r->c->seed, EEF_STREAM_SFT, 0, 0);
    if (!e && imported) e = run_student_new(r, init, &s);
    if (!e && !imported) e = train_tokenizer(&ex, r->c->vocab, &tok);
    if (!e && !imported) e = new_model(r, tok, &s.m);
    eef_model *m = s.m;
    eef_train_config tc = r->c->sft;
    tc.seed = eef_rng_key(r->c->seed, EEF_STREAM_SFT, 1, 0);
    tc.label = "sft";
    run_path ck; /* a kill inside the training resumes there (sft.ckpt.*) */
    tc.ckpt = run_file(r, &ck, "sft.ckpt");
    eef_train_stats st;
    run_path p;
    if (!e) e = eef_train_trajs(m, wins.items, wins.n, &tc, &st);
    if (!e) e = run_student_save(r, &s, 0);
    if (!e) {
        cJSON *j = run_train_json(wins.n, &st);
        e = run_save_json(run_file(r, &p, "sft.json"), j);
        cJSON_Delete(j);
    }
    run_student_free(&s);
    eef_trajset_free(&wins);
    eef_trajset_free(&ex);
    if (!e) e = run_phase_end(r, &ph, 0);
    if (!e) eef_train_ckpt_remove(ck.s); /* the phase is done: its resume point is not needed */
    return e;
}

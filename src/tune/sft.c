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
/* The expert once from the start of tasks [0, n) of a split: the same
 * rollouts as `eef expert` makes with the same seed. */
static eef_err expert_rollouts(const run_ctx *r, eef_policy *ex, eef_split split, size_t n,
                               const char *label, eef_trajset *out, eef_eval_summary *sum)
{
    eef_traj *t = NULL;
    size_t nt = 0;
    eef_err e = eef_evaluate(r->env, ex, split, n, r->c->seed, label, &t, &nt, sum);
    for (size_t i = 0; !e && i < nt; i++) {
        e = eef_traj_set(&t[i].source, "expert");
        if (!e) e = eef_trajset_push(out, &t[i]);
        if (!e) memset(&t[i], 0, sizeof t[i]);
    }
    for (size_t i = 0; t && i < nt; i++) eef_traj_free(&t[i]);
    free(t);
    return e;
}

static eef_err save_expert(const run_ctx *r, const eef_trajset *tr, const eef_trajset *te,
                           const eef_eval_summary *s_tr, const eef_eval_summary *s_te)
{
    run_path p;
    EEF_TRY(run_save_trajs(r, run_file(r, &p, "expert_train.jsonl"), tr->items, tr->n));
    EEF_TRY(run_save_trajs(r, run_file(r, &p, "expert_test.jsonl"), te->items, te->n));
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "train", eef_eval_to_json(s_tr));
    cJSON_AddItemToObject(j, "test", eef_eval_to_json(s_te));
    eef_err e = run_save_json(run_file(r, &p, "expert.json"), j);
    cJSON_Delete(j);
    return e;
}

eef_err run_phase_expert(run_ctx *r)
{
    if (run_done(r, "expert")) return EEF_OK;
    double t0 = eef_now();
    if (r->from) {
        run_banner("expert: from %s", r->from);
        EEF_TRY(run_copy_from_base(r, "expert_train.jsonl"));
        EEF_TRY(run_copy_from_base(r, "expert_test.jsonl"));
        EEF_TRY(run_copy_from_base(r, "expert.json"));
        return run_mark_done(r, "expert", run_base_seconds(r, "expert"));
    }
    run_banner("expert: %zu train and %zu test tasks", r->n_train, r->n_test);
    eef_policy *ex;
    const char *opts = r->c->expert_options[0] ? r->c->expert_options : NULL;
    EEF_TRY(eef_expert_open(r->c->env, r->c->expert, opts, &ex));
    eef_trajset tr = { 0 }, te = { 0 };
    eef_eval_summary s_tr, s_te;
    eef_err e = expert_rollouts(r, ex, EEF_SPLIT_TRAIN, r->n_train, "expert on train", &tr, &s_tr);
    if (!e) e = expert_rollouts(r, ex, EEF_SPLIT_TEST, r->n_test, "expert on test", &te, &s_te);
    eef_policy_close(ex);
    if (!e) e = save_expert(r, &tr, &te, &s_tr, &s_te);
    if (!e)
        eef_info("expert: train win %.1f%% (easy %.1f, medium %.1f, hard %.1f), test win %.1f%%",
                 100 * s_tr.all.win, 100 * s_tr.tier[0].win, 100 * s_tr.tier[1].win,
                 100 * s_tr.tier[2].win, 100 * s_te.all.win);
    eef_trajset_free(&tr);
    eef_trajset_free(&te);
    return e ? e : run_mark_done(r, "expert", eef_now() - t0);
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

/* A new model of the run's preset with its tokenizer (which it takes). */
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
    if (run_done(r, "sft")) return EEF_OK;
    double t0 = eef_now();
    if (r->from) {
        run_banner("sft: from %s", r->from);
        EEF_TRY(run_copy_from_base(r, "sft.eefm"));
        EEF_TRY(run_copy_from_base(r, "sft.json"));
        return run_mark_done(r, "sft", run_base_seconds(r, "sft"));
    }
    /* the tokenizer reads all of the expert's trajectories, SFT its wins */
    eef_trajset ex = { 0 }, wins = { 0 };
    EEF_TRY(run_read_expert(r, &ex));
    eef_err e = run_training_data(r, 0, &wins, NULL);
    run_banner("sft: tokenizer and model on %zu expert wins", wins.n);
    eef_tokenizer *tok = NULL;
    eef_model *m = NULL;
    if (!e) e = train_tokenizer(&ex, r->c->vocab, &tok);
    if (!e) e = new_model(r, tok, &m);
    eef_train_config tc = r->c->sft;
    tc.seed = eef_rng_key(r->c->seed, EEF_STREAM_SFT, 1, 0);
    tc.label = "sft";
    eef_train_stats st;
    run_path p;
    if (!e) e = eef_train_trajs(m, wins.items, wins.n, &tc, &st);
    if (!e) e = run_save_model(m, run_file(r, &p, "sft.eefm"));
    if (!e) {
        cJSON *j = run_train_json(wins.n, &st);
        e = run_save_json(run_file(r, &p, "sft.json"), j);
        cJSON_Delete(j);
    }
    eef_model_free(m);
    eef_trajset_free(&wins);
    eef_trajset_free(&ex);
    return e ? e : run_mark_done(r, "sft", eef_now() - t0);
}

/* train_model.c: `eef train --model M --lora R | --full` — tuning an
 * existing (imported) model on trajectories, LoRA or full fine-tuning.
 *
 * The step is nn's (eef_train_step: a model and, for LoRA, its adapters);
 * the loop is the same as tune/train.c's (sequences shuffled per epoch
 * from the seed, packed, so the batch of every step is known and a resumed
 * run sees exactly the batches it would have), kept here until the
 * pipeline's training (tune/) takes adapters.
 *
 * Prompt: the agent's (agent/prompt.c), so the model is tuned in the
 * prompt it will act in: eef's agent tokens, or for a tokenizer with a
 * chat format (an imported model's) a conversation in it
 * (agent/prompt_chat.c: the loss on each trained action's content and
 * its end-of-turn token).
 *
 * Output:
 *   --lora: OUT/ in PEFT's layout (adapter_config.json +
 *           adapter_model.safetensors) and OUT/state.eefl, the resume point
 *           (adapters and optimizer in one atomically written file);
 *   --full: OUT/ a Hugging Face model directory (f32) and
 *           OUT/optimizer.eefo, written in that order (as eef train's
 *           .eefm and .eefo): a run killed inside either file resumes
 *           exactly; one killed in the moment between the two commits
 *           would pair new weights with the old optimizer state. */
#include "cli.h"

#include "agent/policy.h"
#include "nn/nn.h"
#include "traj/traj.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ sequences */
typedef struct {
    eef_prompt **p; /* [trajectory]: its stretches' prompts */
    size_t *np;
    eef_seq *seqs;
    size_t n, n_alloc;
} seqset;

static void seqset_free(seqset *s)
{
    for (size_t i = 0; i < s->n_alloc && s->p; i++) {
        for (size_t k = 0; k < s->np[i]; k++) eef_prompt_free(&s->p[i][k]);
        free(s->p[i]);
    }
    free(s->p);
    free(s->np);
    free(s->seqs);
}

/* Every trajectory's stretches (eef_prompt_seqs) within the window's
 * budget max_tokens, those with a trained-on token as sequences. */
static eef_err make_seqs(const eef_tokenizer *tok, const eef_trajset *ts, int max_tokens,
                         seqset *out)
{
    const eef_tok_roles *roles = eef_tok_roles_of(tok);
    int chat = roles->act < 0;
    if (chat && !eef_tok_chat_name(tok))
        return eef_fail(EEF_EINVAL, "the tokenizer has neither eef's agent tokens nor a chat "
                        "format: no prompt to train in");
    out->n_alloc = ts->n;
    out->p = eef_calloc(ts->n ? ts->n : 1, sizeof *out->p);
    out->np = eef_calloc(ts->n ? ts->n : 1, sizeof *out->np);
    out->n = 0;
    if (!out->p || !out->np) return EEF_ENOMEM;
    size_t total = 0;
    for (size_t i = 0; i < ts->n; i++) {
        const eef_traj *t = &ts->items[i];
        eef_err e = eef_prompt_seqs(tok, t, max_tokens, 0.0f, &out->p[i], &out->np[i]);
        if (e) return eef_fail_ctx(e, "trajectory %s", t->id ? t->id : "?");
        total += out->np[i];
    }
    out->seqs = eef_calloc(total ? total : 1, sizeof *out->seqs);
    if (!out->seqs) return EEF_ENOMEM;
    for (size_t i = 0; i < ts->n; i++)
        for (size_t k = 0; k < out->np[i]; k++) {
            const eef_prompt *p = &out->p[i][k];
            double w = 0;
            for (int q = 1; q < p->n; q++) w += p->mask[q];
            if (w > 0) out->seqs[out->n++] = (eef_seq){ p->tokens, p->mask, p->n };
        }
    return EEF_OK;
}

/* ------------------------------------------------------------ the run */
static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static eef_err save(const train_model_args *a, eef_model *m, eef_lora *ad, eef_adamw *opt,
                    const char *base_abs)
{
    char p[4200];
    if (ad) {
        EEF_TRY(eef_lora_save(ad, &m->cfg, base_abs, a->out));
        return eef_lora_state_save(ad, opt, eef_path_join(p, sizeof p, a->out, "state.eefl"));
    }
    EEF_TRY(eef_model_export(m, "hf", a->out));
    return eef_adamw_save(opt, eef_path_join(p, sizeof p, a->out, "optimizer.eefo"));
}

int cmd_train_model(const train_model_args *a, const eef_trajset *ts)
{
    if (!!a->lora_rank == !!a->full) {
        fprintf(stderr, "eef train: --model needs --lora R or --full\n");
        return 2;
    }
    if (strlen(a->out) > 4000 || strlen(a->model) > 4000) {
        fprintf(stderr, "eef train: path too long\n");
        return 2;
    }
    char p[4200], base_abs[4200];
    if (!realpath(a->model, base_abs)) snprintf(base_abs, sizeof base_abs, "%s", a->model);
    eef_lora_config lc = { 0 };
    eef_lora_defaults(&lc);
    eef_err e = EEF_OK;
    if (a->lora_rank) {
        lc.rank = (int)a->lora_rank;
        lc.alpha = a->lora_alpha > 0 ? (float)a->lora_alpha : 2.0f * lc.rank;
        if (a->lora_targets) e = eef_lora_parse_targets(a->lora_targets, &lc.targets);
    }
    eef_model *m = NULL;
    eef_lora *ad = NULL;
    eef_adamw *opt = NULL;
    seqset ss = { 0 };
    eef_batch b = { 0 };
    eef_seq *order = NULL;
    eef_clean_tmp(a->out);
    /* the model: a frozen base for LoRA (its file's dtypes, mapped); all
     * weights in f32 for full fine-tuning, from OUT when resuming */
    const char *src = a->full && a->resume ? a->out : a->model;
    eef_load_opts lo = { .trainable = a->full, .dtype = EEF_DT_COUNT };
    eef_tokenizer *tok = NULL;
    int hf = !ends_with(a->model, ".eefm");
    /* the plan needs the shapes before the big allocation: a frozen load
     * only maps the files */
    eef_train_mem mem;
    if (!e && hf) e = eef_tok_load_file(a->model, &tok);
    if (!e && !hf) e = eef_model_load_opts(src, &lo, &m);
    const eef_tokenizer *tk = m && m->tok ? m->tok : tok;
    int T = 0;
    if (!e) {
        eef_model *probe = m;
        if (!probe) e = eef_model_load_opts(src, &(eef_load_opts){ 0, EEF_DT_COUNT }, &probe);
        if (!e) {
            const eef_model_config *c = &probe->cfg;
            T = a->seq > 0 ? (int)a->seq : 1024;
            if (T > c->max_ctx) T = c->max_ctx;
            e = make_seqs(tk, ts, eef_prompt_budget(c->max_ctx), &ss);
            if (!e && ss.n == 0) e = eef_fail(EEF_EINVAL, "no trajectory has a trained-on action");
            /* the scored rows of a batch: at most all of the data's */
            double masked = 0;
            for (size_t i = 0; i < ss.n; i++)
                for (int k = 1; k < ss.seqs[i].n; k++) masked += ss.seqs[i].mask[k] != 0;
            double N = (double)a->batch * T;
            int M = (int)(masked < N ? masked : N);
            eef_model_config cc = *c;
            eef_dtype dt = probe->layer[0].wq.dtype;
            if (probe != m) eef_model_free(probe);
            if (!e)
                e = eef_train_mem_plan(&cc, dt, a->lora_rank ? &lc : NULL, (int)a->batch, T, M,
                                       eef_mem_available(), &mem);
            if (!e)
                fprintf(stderr, "eef train: %s of %s, %.2f GiB (weights %.2f, trainable state "
                        "%.2f, activations %.2f%s)\n", a->lora_rank ? "LoRA" : "full fine-tuning",
                        a->model, mem.total / 1073741824.0, mem.weights / 1073741824.0,
                        (mem.adapters + mem.grads + mem.optim) / 1073741824.0,
                        (mem.acts + mem.logits) / 1073741824.0,
                        mem.checkpoint ? ", recomputed per layer" : "");
        }
    }
    if (!e) e = eef_batch_alloc(&b, (int)a->batch, T);
    if (!e && !m) e = eef_model_load_opts(src, &lo, &m);
    if (!e && !m->tok && tok) {
        if (eef_tok_vocab_size(tok) > m->cfg.vocab)
            e = eef_fail(EEF_EINVAL, "%s: the tokenizer has %d tokens, the model %d", a->model,
                         eef_tok_vocab_size(tok), m->cfg.vocab);
        else m->tok = tok, tok = NULL;
    }
    if (!e) m->checkpoint = mem.checkpoint;
    /* products in bf16 arithmetic where the CPU can: asked for, or a
     * frozen bf16 base's (as PyTorch runs a bf16 layer) */
    if (!e && (a->bf16 || (!a->full && m->layer[0].wq.dtype == EEF_DT_BF16)) && !eef_model_bf16_products(m, 1)) {
        if (a->bf16) fprintf(stderr, "eef train: --bf16: this CPU has no AVX-512 BF16; the products stay f32\n");
    }
    /* steps: whole epochs are packed to count exactly */
    long per_epoch = 0;
    for (size_t next = 0; !e && next < ss.n; per_epoch++) eef_batch_pack(&b, ss.seqs, ss.n, &next);
    long total = a->steps > 0 ? a->steps : (long)llround(per_epoch * a->epochs);
    if (total < 1) total = 1;
    eef_adamw_config oc;
    eef_adamw_defaults(&oc);
    oc.lr = a->lr > 0 ? a->lr : a->lora_rank ? 2e-4 : 2e-5;
    oc.weight_decay = a->weight_decay;
    oc.total_steps = total;
    oc.warmup = a->warmup > 0 ? (long)a->warmup : total / 20 + 1;
    if (!e && a->resume) {
        if (a->lora_rank) {
            e = eef_lora_state_load(eef_path_join(p, sizeof p, a->out, "state.eefl"), &m->cfg, &ad,
                                    &opt);
            if (!e && (ad->cfg.rank != lc.rank || ad->cfg.alpha != lc.alpha ||
                       ad->cfg.targets != lc.targets))
                e = eef_fail(EEF_EINVAL, "%s: adapters of rank %d, alpha %g on other targets than "
                             "asked for (rank %d, alpha %g)", p, ad->cfg.rank,
                             (double)ad->cfg.alpha, lc.rank, (double)lc.alpha);
        } else {
            e = eef_adamw_load(eef_path_join(p, sizeof p, a->out, "optimizer.eefo"), m->n_params, &opt);
        }
        if (!e) fprintf(stderr, "eef train: resuming %s at step %ld\n", a->out, opt->step);
    } else if (!e) {
        if (a->lora_rank) e = eef_lora_new(&m->cfg, &lc, eef_rng_key((uint64_t)a->seed, 0x10a, 0, 0), &ad);
        if (!e) e = eef_adamw_new(&oc, eef_train_n_params(m, ad), &opt);
    }
    if (!e) order = eef_malloc(ss.n * sizeof *order);
    if (!e && !order) e = EEF_ENOMEM;
    long start = opt ? opt->step : 0, step = 0;
    double t0 = eef_now(), tokens = 0, first = NAN, last = NAN;
    eef_progress prog;
    eef_progress_begin(&prog, "train", (double)(total - start), "steps");
    for (int epoch = 0; !e && step < total; epoch++) {
        memcpy(order, ss.seqs, ss.n * sizeof *order);
        eef_rng r = eef_rng_make(eef_rng_key((uint64_t)a->seed, 0x7a11, (uint64_t)epoch, 0));
        eef_rng_shuffle(&r, order, ss.n, sizeof *order);
        for (size_t next = 0; !e && next < ss.n && step < total;) {
            eef_batch_pack(&b, order, ss.n, &next);
            if (step < start) { /* resuming: these batches were trained on */
                step++;
                continue;
            }
            double loss;
            e = eef_train_step(m, ad, opt, &b, &loss, NULL);
            if (e) break;
            step++;
            if (isnan(first)) first = loss;
            last = loss;
            for (int i = 0; i < b.B * b.T; i++) tokens += b.pos[i] > 0 || b.mask[i] > 0;
            eef_progress_note(&prog, "loss %.3f  %.0f tok/s", loss, tokens / (eef_now() - t0));
            eef_progress_add(&prog, 1);
            if (step % a->save_every == 0 || step == total) e = save(a, m, ad, opt, base_abs);
        }
    }
    eef_progress_end(&prog);
    if (!e && start >= total) e = save(a, m, ad, opt, base_abs);
    if (!e) {
        double el = eef_now() - t0;
        printf("trained %ld steps on %zu trajectories: loss %.4f -> %.4f, %.0f tokens/s\n",
               step - start, ss.n, first, last, el > 0 ? tokens / el : 0);
        printf("%s: %s\n", a->lora_rank ? "adapters (PEFT)" : "model (Hugging Face)", a->out);
    }
    free(order);
    eef_batch_free(&b);
    seqset_free(&ss);
    eef_adamw_free(opt);
    eef_lora_free(ad);
    eef_model_free(m);
    if (tok) eef_tok_free(tok);
    return e ? cli_error("train") : 0;
}

/* train.c: masked SFT on trajectories — the training step of every
 * method — and an iteration's training phase in a run. */
#include "run_internal.h"

#include "dist/dist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void eef_train_defaults(eef_train_config *c)
{
    memset(c, 0, sizeof *c);
    c->batch_rows = 8;
    c->seq_len = 1024;
    c->epochs = 4;
    eef_adamw_defaults(&c->opt);
    c->opt.lr = 2e-3;
    c->opt.weight_decay = 0.05;
    c->seed = 1;
}

/* Sequences (tokens and masks) of every trajectory with at least one
 * trained-on token. */
typedef struct {
    eef_prompt *p;
    eef_seq *seqs;
    size_t n;
} seqset;

static void seqset_free(seqset *s, size_t n_alloc)
{
    for (size_t i = 0; i < n_alloc; i++) eef_prompt_free(&s->p[i]);
    free(s->p);
    free(s->seqs);
}

static eef_err make_seqs(const eef_model *m, const eef_traj *data, size_t n, int max_tokens,
                         const eef_train_config *c, seqset *out)
{
    out->p = eef_calloc(n ? n : 1, sizeof *out->p);
    out->seqs = eef_calloc(n ? n : 1, sizeof *out->seqs);
    out->n = 0;
    if (!out->p || !out->seqs) return EEF_ENOMEM;
    eef_err first = EEF_OK;
    char msg[1024] = "";
#pragma omp parallel for schedule(dynamic, 8)
    for (size_t i = 0; i < n; i++) {
        eef_err e = eef_prompt_from_traj(m->tok, &data[i], max_tokens, (float)c->ctx_weight, &out->p[i]);
        if (e) {
#pragma omp critical(eef_make_seqs)
            if (!first) {
                first = e;
                snprintf(msg, sizeof msg, "trajectory %s: %s", data[i].id ? data[i].id : "?",
                         eef_errmsg());
            }
        }
    }
    if (first) return eef_fail(first, "%s", msg);
    for (size_t i = 0; i < n; i++) {
        double w = 0;
        for (int k = 1; k < out->p[i].n; k++) w += out->p[i].mask[k];
        if (w == 0) continue;
        out->seqs[out->n++] = (eef_seq){ out->p[i].tokens, out->p[i].mask, out->p[i].n };
    }
    return EEF_OK;
}

/* An imported model (or any with adapters) trains only if it fits: the
 * memory the run needs is computed from the shapes and refused with the
 * machine's figure when it does not fit, recomputation of the layers
 * (activation checkpointing) chosen when that makes it fit.  M, the
 * scored rows of a batch: at most all of the data's.  eef's own presets
 * keep their plain run. */
static eef_err plan_memory(eef_model *m, const eef_seq *seqs, size_t n, int B, int T)
{
    if (!m->lora && (!m->meta.arch[0] || strcmp(m->meta.arch, "eef") == 0)) return EEF_OK;
    double masked = 0;
    for (size_t i = 0; i < n; i++)
        for (int k = 1; k < seqs[i].n; k++) masked += seqs[i].mask[k] != 0;
    double N = (double)B * T;
    eef_train_mem mem;
    EEF_TRY(eef_train_mem_plan(&m->cfg, m->layer[0].wq.dtype, m->lora ? &m->lora->cfg : NULL, B, T,
                               (int)(masked < N ? masked : N), eef_mem_available(), &mem));
    m->checkpoint = mem.checkpoint;
    return EEF_OK;
}

/* Number of batches one pass over `order` packs into. */
static long count_batches(eef_batch *b, const eef_seq *seqs, size_t n)
{
    long k = 0;
    size_t next = 0;
    while (next < n) {
        eef_batch_pack(b, seqs, n, &next);
        k++;
    }
    return k;
}

eef_err eef_train_trajs(eef_model *m, const eef_traj *data, size_t n,
                        const eef_train_config *c, eef_train_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!m->tok) return eef_fail(EEF_EINVAL, "training needs a model with a tokenizer");
    int T = c->seq_len < m->cfg.max_ctx ? c->seq_len : m->cfg.max_ctx;
    if (T < 16 || c->batch_rows < 1 || !(c->epochs > 0))
        return eef_fail(EEF_EINVAL, "training: bad batch (%d x %d) or epochs (%g)",
                        c->batch_rows, T, c->epochs);
    double t0 = eef_now();
    seqset ss;
    eef_err e = make_seqs(m, data, n, T + 1, c, &ss);
    if (e || ss.n == 0) {
        seqset_free(&ss, n);
        return e ? e : eef_fail(EEF_EINVAL, "training: no trajectory has a trained-on action");
    }
    eef_batch b;
    e = eef_batch_alloc(&b, c->batch_rows, T);
    eef_seq *order = eef_malloc(ss.n * sizeof *order);
    if (!e && !order) e = EEF_ENOMEM;
    /* the number of steps: whole epochs are packed to count exactly */
    int full_epochs = (int)floor(c->epochs);
    double frac = c->epochs - full_epochs;
    long per_epoch = 0;
    if (!e) {
        memcpy(order, ss.seqs, ss.n * sizeof *order);
        per_epoch = count_batches(&b, order, ss.n);
    }
    long total = c->steps > 0 ? c->steps : (long)llround(per_epoch * c->epochs);
    if (total < 1) total = 1;
    eef_adamw_config oc = c->opt;
    oc.total_steps = total;
    if (oc.warmup == 0) oc.warmup = total / 20 + 1;
    if (!e) e = plan_memory(m, ss.seqs, ss.n, c->batch_rows, T);
    eef_adamw *opt = c->resume;
    /* the trainable set: the attached adapters, or the model's weights */
    if (!e && !opt) e = eef_adamw_new(&oc, eef_train_n_params(m, m->lora), &opt);
    long start = opt ? opt->step : 0;
    eef_progress prog;
    if (c->label) eef_progress_begin(&prog, c->label, (double)(total - start), "steps");
    double *losses = eef_malloc((size_t)total * sizeof(double));
    if (!e && !losses) e = EEF_ENOMEM;
    long step = 0;
    (void)frac;
    for (int epoch = 0; !e && step < total; epoch++) {
        memcpy(order, ss.seqs, ss.n * sizeof *order);
        eef_rng r = eef_rng_make(eef_rng_key(c->seed, EEF_STREAM_EPOCH, (uint64_t)epoch, 0));
        eef_rng_shuffle(&r, order, ss.n, sizeof *order);
        size_t next = 0;
        while (!e && next < ss.n && step < total) {
            eef_batch_pack(&b, order, ss.n, &next);
            if (step < start) { /* resuming: these batches were trained on */
                losses[step++] = NAN;
                continue;
            }
            double loss;
            e = eef_dist_grad(m, &b, c->shards, &loss); /* over the ranks of an MPI job */
            if (!e) e = eef_adamw_step(opt, m, NULL);
            if (e) break;
            losses[step++] = loss;
            for (int i = 0; i < b.B * b.T; i++) st->tokens += b.pos[i] > 0 || b.mask[i] > 0;
            if (c->label) {
                double el = eef_now() - t0;
                eef_progress_note(&prog, "loss %.3f  %.0f tok/s", loss, st->tokens / el);
                eef_progress_add(&prog, 1);
            }
            if (c->save_every > 0 && (step % c->save_every == 0 || step == total) &&
                eef_dist_rank() == 0) {
                e = eef_model_save(m, c->save_model);
                if (!e) e = eef_adamw_save(opt, c->save_opt);
            }
        }
    }
    if (c->label) eef_progress_end(&prog);
    if (!e) {
        long done_steps = step - start;
        long k = done_steps / 10 > 0 ? done_steps / 10 : 1;
        for (long i = 0; i < k && i < done_steps; i++) {
            st->first_loss += losses[start + i] / (double)k;
            st->last_loss += losses[step - 1 - i] / (double)k;
        }
        st->steps = step;
        st->seconds = eef_now() - t0;
    }
    free(losses);
    free(order);
    if (opt != c->resume) eef_adamw_free(opt);
    eef_batch_free(&b);
    seqset_free(&ss, n);
    return e;
}

/* ------------------------------------------------------------ in a run */
/* Iteration iter trains on its training data (run_training_data) from the
 * model of iteration iter - 1, or from the SFT model (--from-sft). */
eef_err run_phase_train(run_ctx *r, int iter)
{
    run_phase ph;
    if (!run_phase_begin(r, &ph, iter, "train")) return EEF_OK;
    eef_trajset data = { 0 };
    EEF_TRY(run_training_data(r, iter, &data, NULL));
    run_banner("iteration %d: train on %zu trajectories", iter, data.n);
    run_path p;
    run_student s;
    eef_err e = run_student_load(r, r->c->iter_from_sft ? 0 : iter - 1, &s);
    eef_train_config tc = r->c->iter;
    tc.seed = eef_rng_key(r->c->seed, EEF_STREAM_ITER_TRAIN, (uint64_t)iter, 0);
    tc.label = "train";
    eef_train_stats st;
    if (!e) e = eef_train_trajs(s.m, data.items, data.n, &tc, &st);
    if (!e) e = run_student_save(r, &s, iter);
    if (!e) {
        cJSON *j = run_train_json(data.n, &st);
        e = run_save_json(run_file(r, &p, "iter_%d/train.json", iter), j);
        cJSON_Delete(j);
    }
    run_student_free(&s);
    eef_trajset_free(&data);
    return e ? e : run_phase_end(r, &ph, 0);
}

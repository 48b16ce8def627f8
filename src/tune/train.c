/* train.c: masked SFT on trajectories — the training step of every
 * method — and an iteration's training phase in a run. */
#include "run_internal.h"

#include "dist/dist.h"

#include <cjson/cJSON.h>

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

/* Sequences (tokens and masks) of every trajectory's stretches
 * (eef_prompt_seqs: one per window the agent acted in) with at least one
 * trained-on token. */
typedef struct {
    eef_prompt **p; /* [trajectory]: its stretches' prompts */
    size_t *np;
    eef_seq *seqs;
    size_t n;
} seqset;

static void seqset_free(seqset *s, size_t n_alloc)
{
    for (size_t i = 0; s->p && i < n_alloc; i++) {
        for (size_t k = 0; k < s->np[i]; k++) eef_prompt_free(&s->p[i][k]);
        free(s->p[i]);
    }
    free(s->p);
    free(s->np);
    free(s->seqs);
}

/* max_tokens: the window's budget, the agent's (eef_prompt_budget). */
static eef_err make_seqs(const eef_model *m, const eef_traj *data, size_t n, int max_tokens,
                         const eef_train_config *c, seqset *out)
{
    out->p = eef_calloc(n ? n : 1, sizeof *out->p);
    out->np = eef_calloc(n ? n : 1, sizeof *out->np);
    out->seqs = NULL;
    out->n = 0;
    if (!out->p || !out->np) return EEF_ENOMEM;
    eef_err first = EEF_OK;
    char msg[1024] = "";
#pragma omp parallel for schedule(dynamic, 8)
    for (size_t i = 0; i < n; i++) {
        eef_err e = eef_prompt_seqs(m->tok, &data[i], max_tokens, (float)c->ctx_weight, &out->p[i],
                                    &out->np[i]);
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
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += out->np[i];
    out->seqs = eef_calloc(total ? total : 1, sizeof *out->seqs);
    if (!out->seqs) return EEF_ENOMEM;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < out->np[i]; k++) {
            const eef_prompt *p = &out->p[i][k];
            double w = 0;
            for (int q = 1; q < p->n; q++) w += p->mask[q];
            if (w == 0) continue;
            out->seqs[out->n++] = (eef_seq){ p->tokens, p->mask, p->n };
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

/* ------------------------------------------------------------ resume point
 * PREFIX.json commits the step's state files (written before it); the
 * previous step's are removed after it, so a kill at any moment leaves
 * one complete resume point (or none). */
static double ckpt_seconds(void)
{
    const char *s = getenv("EEF_CKPT_SECONDS");
    char *end;
    double v = s && *s ? strtod(s, &end) : 60;
    return s && *s && (*end || !(v >= 0)) ? 60 : v;
}

static const char *ckpt_path(char *buf, size_t cap, const char *prefix, long step, const char *ext)
{
    if (step < 0) snprintf(buf, cap, "%s.%s", prefix, ext);
    else snprintf(buf, cap, "%s.%ld.%s", prefix, step, ext);
    return buf;
}

static void ckpt_remove_step(const char *prefix, long step)
{
    char p[1200];
    remove(ckpt_path(p, sizeof p, prefix, step, "eefl"));
    remove(ckpt_path(p, sizeof p, prefix, step, "eefm"));
    remove(ckpt_path(p, sizeof p, prefix, step, "eefo"));
}

void eef_train_ckpt_remove(const char *prefix)
{
    if (!prefix || eef_dist_rank() != 0) return;
    char p[1200];
    cJSON *j = NULL;
    if (eef_file_exists(ckpt_path(p, sizeof p, prefix, -1, "json")) && !eef_json_read_file(p, &j)) {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "step");
        if (cJSON_IsNumber(s)) ckpt_remove_step(prefix, (long)s->valuedouble);
    }
    cJSON_Delete(j);
    remove(ckpt_path(p, sizeof p, prefix, -1, "json"));
}

/* Writes step's state, then commits it; rank 0 only.  *saved: the step
 * of the resume point on disk (its files are removed once replaced). */
static eef_err ckpt_save(const eef_model *m, const eef_adamw *opt, const char *prefix,
                         const double *losses, long step, long total, long *saved)
{
    if (eef_dist_rank() != 0) return EEF_OK;
    char p[1200], q[1200];
    if (m->lora) {
        EEF_TRY(eef_lora_state_save(m->lora, opt, ckpt_path(p, sizeof p, prefix, step, "eefl")));
    } else {
        EEF_TRY(eef_model_save(m, ckpt_path(p, sizeof p, prefix, step, "eefm")));
        EEF_TRY(eef_adamw_save(opt, ckpt_path(q, sizeof q, prefix, step, "eefo")));
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "format", "eef-train-ckpt");
    cJSON_AddNumberToObject(j, "version", 1);
    cJSON_AddNumberToObject(j, "step", (double)step);
    cJSON_AddNumberToObject(j, "total", (double)total);
    cJSON_AddStringToObject(j, "state", m->lora ? "eefl" : "eefm+eefo");
    cJSON *l = cJSON_AddArrayToObject(j, "losses"); /* printed to round-trip (cJSON: %.17g) */
    for (long i = 0; i < step; i++)
        cJSON_AddItemToArray(l, isfinite(losses[i]) ? cJSON_CreateNumber(losses[i]) : cJSON_CreateNull());
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!s) return EEF_ENOMEM;
    eef_err e = eef_write_file_atomic(ckpt_path(p, sizeof p, prefix, -1, "json"), s, strlen(s));
    cJSON_free(s);
    if (!e && *saved > 0 && *saved != step) ckpt_remove_step(prefix, *saved);
    if (!e) *saved = step;
    return e;
}

/* The resume point, if there is one: the trainable set's values into m
 * (adapters or weights), the optimizer into *opt, the losses of the steps
 * done into losses[]; *step 0 when there is none. */
static eef_err ckpt_load(eef_model *m, const char *prefix, long total, double *losses,
                         eef_adamw **opt, long *step)
{
    char p[1200], q[1200];
    *step = 0;
    if (!eef_file_exists(ckpt_path(p, sizeof p, prefix, -1, "json"))) return EEF_OK;
    cJSON *j;
    EEF_TRY(eef_json_read_file(p, &j));
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "format");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(j, "version");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "step");
    const cJSON *tot = cJSON_GetObjectItemCaseSensitive(j, "total");
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(j, "losses");
    eef_err e = EEF_OK;
    long s = cJSON_IsNumber(st) ? (long)st->valuedouble : -1;
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "eef-train-ckpt") != 0 ||
        !cJSON_IsNumber(ver) || ver->valuedouble != 1)
        e = eef_fail(EEF_EFORMAT, "%s: not a training resume point of this eef (format, version)", p);
    else if (!cJSON_IsNumber(tot) || (long)tot->valuedouble != total || s < 1 || s > total)
        e = eef_fail(EEF_EFORMAT, "%s: step %ld of %.0f, but this training has %ld steps", p, s,
                     cJSON_IsNumber(tot) ? tot->valuedouble : -1, total);
    else if (!cJSON_IsArray(l) || cJSON_GetArraySize(l) != s)
        e = eef_fail(EEF_EFORMAT, "%s: 'losses' is not an array of %ld numbers", p, s);
    long i = 0;
    const cJSON *it;
    if (!e) cJSON_ArrayForEach(it, l) losses[i++] = cJSON_IsNumber(it) ? it->valuedouble : NAN;
    cJSON_Delete(j);
    EEF_TRY(e);
    if (m->lora) {
        eef_lora *a;
        EEF_TRY(eef_lora_state_load(ckpt_path(p, sizeof p, prefix, s, "eefl"), &m->cfg, &a, opt));
        if (a->n_params != m->lora->n_params || a->cfg.rank != m->lora->cfg.rank ||
            a->cfg.targets != m->lora->cfg.targets || a->cfg.alpha != m->lora->cfg.alpha)
            e = eef_fail(EEF_EFORMAT, "%s: adapters of rank %d, not the training's %d (or other "
                         "targets or alpha)", p, a->cfg.rank, m->lora->cfg.rank);
        else
            memcpy(m->lora->params, a->params, a->n_params * sizeof(float));
        eef_lora_free(a);
    } else {
        eef_model *w;
        EEF_TRY(eef_model_load(ckpt_path(p, sizeof p, prefix, s, "eefm"), &w));
        if (w->n_params != m->n_params)
            e = eef_fail(EEF_EFORMAT, "%s: %zu weights, not the model's %zu", p, w->n_params,
                         m->n_params);
        else
            memcpy(m->params, w->params, w->n_params * sizeof(float));
        eef_model_free(w);
        if (!e) e = eef_adamw_load(ckpt_path(q, sizeof q, prefix, s, "eefo"), m->n_params, opt);
    }
    if (!e && (*opt)->step != s)
        e = eef_fail(EEF_EFORMAT, "%s: optimizer at step %ld, not %ld", p, (*opt)->step, s);
    if (e) {
        eef_adamw_free(*opt);
        *opt = NULL;
        return e;
    }
    *step = s;
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
    eef_err e = make_seqs(m, data, n, eef_prompt_budget(m->cfg.max_ctx), c, &ss);
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
    double *losses = eef_malloc((size_t)total * sizeof(double));
    if (!e && !losses) e = EEF_ENOMEM;
    long saved = 0; /* the step of the resume point on disk */
    if (!e && c->ckpt && !opt) {
        e = ckpt_load(m, c->ckpt, total, losses, &opt, &saved);
        if (!e && saved) eef_info("%s: resuming at step %ld of %ld", c->label ? c->label : "training",
                                  saved, total);
    }
    /* the trainable set: the attached adapters, or the model's weights */
    if (!e && !opt) e = eef_adamw_new(&oc, eef_train_n_params(m, m->lora), &opt);
    long start = opt ? opt->step : 0;
    eef_progress prog;
    if (c->label) eef_progress_begin(&prog, c->label, (double)(total - start), "steps");
    long step = 0;
    double fresh = 0, every = ckpt_seconds(), t_saved = eef_now();
    (void)frac;
    for (int epoch = 0; !e && step < total; epoch++) {
        memcpy(order, ss.seqs, ss.n * sizeof *order);
        eef_rng r = eef_rng_make(eef_rng_key(c->seed, EEF_STREAM_EPOCH, (uint64_t)epoch, 0));
        eef_rng_shuffle(&r, order, ss.n, sizeof *order);
        size_t next = 0;
        while (!e && next < ss.n && step < total) {
            eef_batch_pack(&b, order, ss.n, &next);
            int resumed = step < start;
            for (int i = 0; i < b.B * b.T; i++) st->tokens += b.pos[i] > 0 || b.mask[i] > 0;
            if (resumed) { /* these batches were trained on (their losses: the resume point's) */
                if (!c->ckpt) losses[step] = NAN;
                step++;
                continue;
            }
            double loss;
            e = eef_dist_grad(m, &b, c->shards, &loss); /* over the ranks of an MPI job */
            if (!e) e = eef_adamw_step(opt, m, NULL);
            if (e) break;
            losses[step++] = loss;
            for (int i = 0; i < b.B * b.T; i++) fresh += b.pos[i] > 0 || b.mask[i] > 0;
            if (c->label) {
                double el = eef_now() - t0;
                eef_progress_note(&prog, "loss %.3f  %.0f tok/s", loss, fresh / el);
                eef_progress_add(&prog, 1);
            }
            if (c->ckpt && step < total && eef_now() - t_saved >= every) {
                e = ckpt_save(m, opt, c->ckpt, losses, step, total, &saved);
                t_saved = eef_now();
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
        /* a run's resumed training has every step's loss (the resume
         * point's), eef train's only those of the steps it took */
        long from = c->ckpt ? 0 : start, done_steps = step - from;
        long k = done_steps / 10 > 0 ? done_steps / 10 : 1;
        for (long i = 0; i < k && i < done_steps; i++) {
            st->first_loss += losses[from + i] / (double)k;
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
    run_path ck; /* a kill inside the training resumes there */
    tc.ckpt = run_file(r, &ck, "iter_%d/train.ckpt", iter);
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
    if (!e) e = run_phase_end(r, &ph, 0);
    if (!e) eef_train_ckpt_remove(ck.s);
    return e;
}

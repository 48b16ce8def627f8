/* run_config.c: run presets and their JSON form (config.json). */
#include "tune.h"

#include "dist/dist.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *eef_method_name(eef_method m)
{
    static const char *names[] = { "sft", "rft", "eef", "eto" };
    return m <= EEF_METHOD_ETO ? names[m] : "?";
}

const char *eef_search_name(eef_search_mode m)
{
    static const char *names[] = { "stride", "bisect", "even" };
    return m <= EEF_SEARCH_EVEN ? names[m] : "?";
}

eef_err eef_search_parse(const char *s, eef_search_mode *out)
{
    for (int m = 0; m <= EEF_SEARCH_EVEN; m++)
        if (strcmp(s, eef_search_name((eef_search_mode)m)) == 0) {
            *out = (eef_search_mode)m;
            return EEF_OK;
        }
    return eef_fail(EEF_EINVAL, "unknown EEF search '%s' (stride, bisect or even)", s);
}

int eef_run_experts(const eef_run_config *c, char names[][256], int max)
{
    int n = 0;
    for (const char *p = c->expert; *p && n < max;) {
        size_t k = strcspn(p, ",");
        if (k > 0 && k < 256) {
            memcpy(names[n], p, k);
            names[n++][k] = 0;
        }
        p += k + (p[k] == ',');
    }
    return n;
}

eef_err eef_run_match_rollouts(eef_run_config *c, const char *eef_dir)
{
    char p[1100];
    snprintf(p, sizeof p, "%s/metrics.jsonl", eef_dir);
    eef_lines lr;
    EEF_TRY(eef_lines_open(&lr, p));
    char *line;
    size_t len;
    double rollouts = -1, tasks = 0;
    long last_iter = -1;
    eef_err e = EEF_OK;
    while (!e && (e = eef_lines_next(&lr, &line, &len)) == EEF_OK && line) {
        cJSON *j = NULL;
        e = eef_json_parse(line, len, p, &j);
        const cJSON *ro = cJSON_GetObjectItemCaseSensitive(j, "rollouts");
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(j, "iter");
        const cJSON *ex = cJSON_GetObjectItemCaseSensitive(j, "explore");
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(ex, "start_rollouts");
        if (!e && (!cJSON_IsNumber(ro) || !cJSON_IsNumber(it)))
            e = eef_fail(EEF_EFORMAT, "%s: a line without 'rollouts' or 'iter'", p);
        if (!e) rollouts = ro->valuedouble, last_iter = (long)it->valuedouble;
        /* the tasks explored from their starts: one start rollout per task and K */
        if (!e && cJSON_IsNumber(st) && st->valuedouble > tasks) tasks = st->valuedouble;
        cJSON_Delete(j);
    }
    eef_lines_close(&lr);
    if (e) return e;
    cJSON *cfg = NULL;
    snprintf(p, sizeof p, "%s/config.json", eef_dir);
    char *data;
    EEF_TRY(eef_read_file(p, &data, &len));
    e = eef_json_parse(data, len, p, &cfg);
    free(data);
    if (e) return e;
    const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cfg, "method"));
    const cJSON *rk = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cfg, "rft"), "k");
    const cJSON *iters = cJSON_GetObjectItemCaseSensitive(cfg, "iters");
    if (!m || strcmp(m, "eef") != 0)
        e = eef_fail(EEF_EINVAL, "%s: not an EEF run (method %s)", p, m ? m : "?");
    else if (!cJSON_IsNumber(rk) || !cJSON_IsNumber(iters) || rk->valuedouble < 1)
        e = eef_fail(EEF_EFORMAT, "%s: rft.k or iters missing", p);
    else if (last_iter < (long)iters->valuedouble || rollouts <= 0 || tasks <= 0)
        e = eef_fail(EEF_EINVAL, "%s: the EEF run has not finished its %.0f iterations", eef_dir,
                     iters->valuedouble);
    if (!e) {
        /* start_rollouts = K_eef x tasks in every iteration */
        double n_tasks = tasks / rk->valuedouble;
        double per = rollouts / ((c->iters > 0 ? c->iters : 1) * n_tasks);
        long k = (long)ceil(per - 1e-9);
        if (k < 1) k = 1;
        if (k > 1024) e = eef_fail(EEF_EINVAL, "%s: %.0f rollouts need K = %ld > 1024", eef_dir, rollouts, k);
        c->rft.k = (int)k;
        c->match_rollouts = (long)rollouts;
        if (!c->label[0]) snprintf(c->label, sizeof c->label, "rft-matched");
    }
    cJSON_Delete(cfg);
    return e;
}

eef_err eef_method_parse(const char *s, eef_method *out)
{
    for (int m = 0; m <= EEF_METHOD_ETO; m++)
        if (strcmp(s, eef_method_name((eef_method)m)) == 0) {
            *out = (eef_method)m;
            return EEF_OK;
        }
    return eef_fail(EEF_EINVAL, "unknown method '%s' (sft, rft, eef or eto)", s);
}

eef_err eef_run_preset(const char *name, eef_method method, const char *env, eef_run_config *c)
{
    memset(c, 0, sizeof *c);
    c->method = method;
    snprintf(c->preset, sizeof c->preset, "%s", name);
    snprintf(c->env, sizeof c->env, "%s", env ? env : "shop");
    snprintf(c->expert, sizeof c->expert, "builtin");
    int shop = strcmp(c->env, "shop") == 0, house = strcmp(c->env, "house") == 0;
    c->seed = 1;
    c->iters = method == EEF_METHOD_SFT ? 0 : 2;
    c->vocab = 2048;
    eef_train_defaults(&c->sft);
    eef_train_defaults(&c->iter);
    c->iter_from_sft = 0;
    c->rft = (eef_rft_config){ .k = 4, .keep = 2, .temperature = 1.0 };
    c->eef = (eef_explore_config){ .stride = 1, .max_states = 6, .k = 4,
                                   .mode = EEF_SEARCH_STRIDE, .temperature = 1.0 };
    if (strcmp(name, "tiny") == 0) {
        if (shop) snprintf(c->env_options, sizeof c->env_options, "products=300,train=60,test=40");
        if (house) snprintf(c->env_options, sizeof c->env_options, "train=60,test=40");
        snprintf(c->model_preset, sizeof c->model_preset, "tiny");
        c->vocab = 600;
        c->iters = method == EEF_METHOD_SFT ? 0 : 1;
        c->sft.batch_rows = 4, c->sft.seq_len = 1024, c->sft.epochs = 2;
        c->iter = c->sft;
        c->iter.epochs = 1;
        c->rft.k = 2;
        c->eef.k = 2, c->eef.max_states = 3;
    } else if (strcmp(name, "demo") == 0) {
        /* Each choice below is measured; docs/presets.md has the numbers.
         * The shop: 8 product types and 5000 train tasks give ~2100 expert
         * wins to clone (SFT's win rate grows steeply with them); 1500
         * test tasks measure a seed's win rate within about +-2.5 points */
        if (shop)
            snprintf(c->env_options, sizeof c->env_options, "products=3000,types=8,train=5000,test=1500");
        snprintf(c->model_preset, sizeof c->model_preset, "demo");
        c->vocab = 4096;
        c->sft.batch_rows = 4, c->sft.seq_len = 1024, c->sft.epochs = 4;
        /* a small loss on the page texts teaches a model from scratch to
         * read them (it copies the instruction's words into its query) */
        c->sft.ctx_weight = 0.1;
        c->rft.k = 1;
        if (house) {
            snprintf(c->env_options, sizeof c->env_options, "train=10000,test=600");
            /* the agent learns to act on the goal from many rooms, not from
             * many passes over few; exploring all 10,000 would cost ~45
             * minutes a seed, so the iterations explore the first 2,000 */
            c->sft.epochs = 3;
            c->rft.k = 2;
            c->rft.tasks = 2000;
        }
        c->iter = c->sft;
        /* the shop's iteration under-fits its data with one epoch; two fit
         * the demo's 20 minutes without the page-text loss (a step ~18%
         * cheaper).  The house's gained nothing from more epochs */
        if (!house) c->iter.epochs = 2, c->iter.ctx_weight = 0;
        else c->iter.epochs = 1;
        /* one iteration fits the demo's 20 minutes on 2 cores */
        c->iters = method == EEF_METHOD_SFT ? 0 : 1;
        /* stride, not bisect: an expert's failure is mostly solvable early
         * and lost after its fatal click, so the latest state is rarely
         * solved and bisect gives up */
        c->eef.k = 1, c->eef.max_states = 6, c->eef.mode = EEF_SEARCH_STRIDE;
    } else if (strcmp(name, "pretrained") == 0) {
        /* an imported student (eef run --model) of SmolLM2-135M's shape on
         * 2 cores: docs/scaling.md has its measured pieces and the wall
         * time they add up to.  A pretrained model reads the pages from
         * the start, so the world is small and one pass of LoRA at PEFT's
         * usual rate (2e-4; 2e-5 for full tuning, set by eef run) is the
         * SFT; rollouts are the cost, so K is 1 and EEF tries 3 states */
        if (shop) snprintf(c->env_options, sizeof c->env_options, "products=300,train=100,test=50");
        if (house) snprintf(c->env_options, sizeof c->env_options, "train=100,test=50");
        c->sft.batch_rows = 4, c->sft.seq_len = 1024, c->sft.epochs = 2;
        c->sft.opt.lr = 2e-4, c->sft.opt.weight_decay = 0;
        c->iter = c->sft;
        c->iter.epochs = 1;
        c->iters = method == EEF_METHOD_SFT ? 0 : 1;
        c->rft.k = 1;
        c->eef.k = 1, c->eef.max_states = 3;
    } else {
        return eef_fail(EEF_EINVAL, "unknown run preset '%s' (tiny, demo or pretrained)", name);
    }
    /* ETO's two rounds on the batches of the iteration's training, at
     * ETO's rate relative to SFT's (its 1e-6 to its SFT's 2e-5) */
    eef_eto_defaults(&c->eto);
    c->eto.batch_rows = c->iter.batch_rows;
    c->eto.seq_len = c->iter.seq_len;
    c->eto.lr = c->sft.opt.lr / 20;
    c->eto.lr_later = c->eto.lr / 2;
    if (method == EEF_METHOD_ETO) c->iters = 2;
    return EEF_OK;
}

/* ------------------------------------------------------------ JSON */
static cJSON *train_json(const eef_train_config *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "batch_rows", t->batch_rows);
    cJSON_AddNumberToObject(o, "seq_len", t->seq_len);
    cJSON_AddNumberToObject(o, "epochs", t->epochs);
    cJSON_AddNumberToObject(o, "lr", t->opt.lr);
    cJSON_AddNumberToObject(o, "beta1", t->opt.beta1);
    cJSON_AddNumberToObject(o, "beta2", t->opt.beta2);
    cJSON_AddNumberToObject(o, "weight_decay", t->opt.weight_decay);
    cJSON_AddNumberToObject(o, "clip", t->opt.clip);
    cJSON_AddNumberToObject(o, "warmup", (double)t->opt.warmup);
    cJSON_AddNumberToObject(o, "min_lr_frac", t->opt.min_lr_frac);
    /* row groups summed separately change the float rounding of every
     * step, so a resumed run must use the same count; written only when
     * sharded, so one-process configurations keep their form */
    int shards = t->shards > 0 ? t->shards : eef_dist_size();
    if (shards > 1) cJSON_AddNumberToObject(o, "shards", shards);
    if (t->ctx_weight > 0) cJSON_AddNumberToObject(o, "ctx_weight", t->ctx_weight);
    return o;
}

cJSON *eef_run_config_to_json(const eef_run_config *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "format", "eef-run");
    cJSON_AddNumberToObject(o, "version", 1);
    cJSON_AddStringToObject(o, "method", eef_method_name(c->method));
    /* written only when set, so configurations without them keep their form */
    if (c->label[0]) cJSON_AddStringToObject(o, "label", c->label);
    if (c->match_rollouts > 0) cJSON_AddNumberToObject(o, "match_rollouts", (double)c->match_rollouts);
    cJSON_AddStringToObject(o, "preset", c->preset);
    cJSON_AddStringToObject(o, "env", c->env);
    cJSON_AddStringToObject(o, "env_options", c->env_options);
    cJSON_AddStringToObject(o, "expert", c->expert);
    cJSON_AddStringToObject(o, "expert_options", c->expert_options);
    cJSON_AddNumberToObject(o, "seed", (double)c->seed);
    cJSON_AddNumberToObject(o, "iters", c->iters);
    cJSON_AddNumberToObject(o, "n_train", (double)c->n_train);
    cJSON_AddNumberToObject(o, "n_test", (double)c->n_test);
    cJSON_AddStringToObject(o, "model", c->model_preset);
    cJSON_AddNumberToObject(o, "prompt", EEF_PROMPT_VERSION);
    cJSON_AddNumberToObject(o, "vocab", c->vocab);
    cJSON_AddItemToObject(o, "sft", train_json(&c->sft));
    cJSON_AddItemToObject(o, "iter_train", train_json(&c->iter));
    cJSON_AddBoolToObject(o, "iter_from_sft", c->iter_from_sft);
    cJSON *r = cJSON_AddObjectToObject(o, "rft");
    cJSON_AddNumberToObject(r, "k", c->rft.k);
    cJSON_AddNumberToObject(r, "keep", c->rft.keep);
    cJSON_AddNumberToObject(r, "temperature", c->rft.temperature);
    if (c->rft.tasks > 0) cJSON_AddNumberToObject(r, "tasks", (double)c->rft.tasks);
    cJSON *e = cJSON_AddObjectToObject(o, "eef");
    cJSON_AddNumberToObject(e, "stride", c->eef.stride);
    cJSON_AddNumberToObject(e, "max_states", c->eef.max_states);
    cJSON_AddNumberToObject(e, "k", c->eef.k);
    cJSON_AddStringToObject(e, "search", eef_search_name(c->eef.mode));
    cJSON_AddNumberToObject(e, "temperature", c->eef.temperature);
    /* an imported student (written only then, so configurations of
     * students trained from scratch keep their form) */
    if (c->base_model[0]) {
        cJSON *s = cJSON_AddObjectToObject(o, "student");
        cJSON_AddStringToObject(s, "tuning", c->lora.rank > 0 ? "lora" : "full");
        if (c->lora.rank > 0) {
            cJSON_AddNumberToObject(s, "rank", c->lora.rank);
            cJSON_AddNumberToObject(s, "alpha", c->lora.alpha);
            cJSON *t = cJSON_AddArrayToObject(s, "targets");
            for (int k = 0; k < EEF_LORA_N; k++)
                if (c->lora.targets >> k & 1)
                    cJSON_AddItemToArray(t, cJSON_CreateString(eef_lora_module_name((eef_lora_target)k)));
        }
    }
    if (c->method == EEF_METHOD_ETO) {
        cJSON *t = cJSON_AddObjectToObject(o, "eto");
        cJSON_AddNumberToObject(t, "beta", c->eto.beta);
        cJSON_AddNumberToObject(t, "beta_later", c->eto.beta_later);
        cJSON_AddNumberToObject(t, "lr", c->eto.lr);
        cJSON_AddNumberToObject(t, "lr_later", c->eto.lr_later);
        cJSON_AddNumberToObject(t, "epochs", c->eto.epochs);
        cJSON_AddNumberToObject(t, "pairs_per_step", c->eto.pairs_per_step);
        cJSON_AddNumberToObject(t, "batch_rows", c->eto.batch_rows);
        cJSON_AddNumberToObject(t, "seq_len", c->eto.seq_len);
        cJSON_AddNumberToObject(t, "extra_steps", c->eto.extra_steps);
        cJSON_AddNumberToObject(t, "temperature", c->eto.temperature);
    }
    return o;
}

static eef_err get_str(const cJSON *j, const char *key, const char *where, char *dst, size_t cap)
{
    const char *s;
    EEF_TRY(eef_json_str(j, key, where, &s));
    if (strlen(s) >= cap) return eef_fail(EEF_EFORMAT, "%s: field '%s' too long", where, key);
    memcpy(dst, s, strlen(s) + 1);
    return EEF_OK;
}

static eef_err get_int(const cJSON *j, const char *key, const char *where, long lo, long hi,
                       long *out)
{
    EEF_TRY(eef_json_int(j, key, where, out));
    if (*out < lo || *out > hi)
        return eef_fail(EEF_EFORMAT, "%s: field '%s' = %ld out of range [%ld, %ld]", where, key,
                        *out, lo, hi);
    return EEF_OK;
}

static eef_err train_from_json(const cJSON *o, const char *where, eef_train_config *t)
{
    if (!cJSON_IsObject(o)) return eef_fail(EEF_EFORMAT, "%s: training section missing", where);
    long v;
    EEF_TRY(get_int(o, "batch_rows", where, 1, 4096, &v));
    t->batch_rows = (int)v;
    EEF_TRY(get_int(o, "seq_len", where, 16, 1 << 20, &v));
    t->seq_len = (int)v;
    EEF_TRY(eef_json_num(o, "epochs", where, &t->epochs));
    EEF_TRY(eef_json_num(o, "lr", where, &t->opt.lr));
    EEF_TRY(eef_json_num(o, "beta1", where, &t->opt.beta1));
    EEF_TRY(eef_json_num(o, "beta2", where, &t->opt.beta2));
    EEF_TRY(eef_json_num(o, "weight_decay", where, &t->opt.weight_decay));
    EEF_TRY(eef_json_num(o, "clip", where, &t->opt.clip));
    EEF_TRY(get_int(o, "warmup", where, 0, 1L << 40, &v));
    t->opt.warmup = v;
    EEF_TRY(eef_json_num(o, "min_lr_frac", where, &t->opt.min_lr_frac));
    t->shards = 1;
    if (cJSON_GetObjectItemCaseSensitive(o, "shards")) {
        EEF_TRY(get_int(o, "shards", where, 1, 4096, &v));
        t->shards = (int)v;
    }
    t->ctx_weight = 0;
    if (cJSON_GetObjectItemCaseSensitive(o, "ctx_weight")) {
        EEF_TRY(eef_json_num(o, "ctx_weight", where, &t->ctx_weight));
        if (!(t->ctx_weight >= 0 && t->ctx_weight <= 1))
            return eef_fail(EEF_EFORMAT, "%s: ctx_weight must be in [0, 1]", where);
    }
    if (!(t->epochs > 0) || !(t->opt.lr > 0))
        return eef_fail(EEF_EFORMAT, "%s: epochs and lr must be positive", where);
    return EEF_OK;
}

/* "student" (an imported model's tuning); absent: a student trained from
 * scratch.  The base's path is not in the configuration (see tune.h). */
static eef_err student_from_json(const cJSON *s, const char *where, eef_run_config *c)
{
    memset(&c->lora, 0, sizeof c->lora);
    if (!s) return EEF_OK;
    const char *tuning;
    EEF_TRY(eef_json_str(s, "tuning", where, &tuning));
    if (strcmp(tuning, "full") == 0) return EEF_OK;
    if (strcmp(tuning, "lora") != 0)
        return eef_fail(EEF_EFORMAT, "%s: student.tuning '%s' is not lora or full", where, tuning);
    long v;
    double a;
    EEF_TRY(get_int(s, "rank", where, 1, 4096, &v));
    EEF_TRY(eef_json_num(s, "alpha", where, &a));
    if (!(a > 0 && a < 1e6)) return eef_fail(EEF_EFORMAT, "%s: student.alpha out of range", where);
    c->lora.rank = (int)v, c->lora.alpha = (float)a;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(s, "targets"), *it;
    if (!cJSON_IsArray(t)) return eef_fail(EEF_EFORMAT, "%s: student.targets missing", where);
    cJSON_ArrayForEach(it, t) {
        unsigned bits;
        if (!cJSON_IsString(it) || eef_lora_parse_targets(it->valuestring, &bits))
            return eef_fail(EEF_EFORMAT, "%s: student.targets: not a projection name", where);
        c->lora.targets |= bits;
    }
    if (!c->lora.targets) return eef_fail(EEF_EFORMAT, "%s: student.targets empty", where);
    return EEF_OK;
}

eef_err eef_run_config_from_json(const cJSON *j, const char *where, eef_run_config *c)
{
    const char *s;
    long v;
    double d;
    memset(c, 0, sizeof *c);
    EEF_TRY(eef_json_str(j, "format", where, &s));
    if (strcmp(s, "eef-run") != 0) return eef_fail(EEF_EFORMAT, "%s: not an eef run configuration", where);
    EEF_TRY(get_int(j, "version", where, 1, 1, &v));
    EEF_TRY(eef_json_str(j, "method", where, &s));
    if (eef_method_parse(s, &c->method)) return eef_fail_ctx(EEF_EFORMAT, "%s", where);
    if (cJSON_GetObjectItemCaseSensitive(j, "label"))
        EEF_TRY(get_str(j, "label", where, c->label, sizeof c->label));
    if (cJSON_GetObjectItemCaseSensitive(j, "match_rollouts"))
        EEF_TRY(get_int(j, "match_rollouts", where, 1, 1L << 50, &c->match_rollouts));
    EEF_TRY(get_str(j, "preset", where, c->preset, sizeof c->preset));
    EEF_TRY(get_str(j, "env", where, c->env, sizeof c->env));
    EEF_TRY(get_str(j, "env_options", where, c->env_options, sizeof c->env_options));
    EEF_TRY(get_str(j, "expert", where, c->expert, sizeof c->expert));
    EEF_TRY(get_str(j, "expert_options", where, c->expert_options, sizeof c->expert_options));
    /* eef run takes seeds up to 2^52, exact as a JSON double; anything
     * else (negative, fractional, 2^64 and up: undefined as a uint64_t) is
     * a damaged file */
    EEF_TRY(get_int(j, "seed", where, 0, 1L << 52, &v));
    c->seed = (uint64_t)v;
    EEF_TRY(get_int(j, "iters", where, 0, 1000, &v));
    c->iters = (int)v;
    EEF_TRY(get_int(j, "n_train", where, 0, 1L << 40, &c->n_train));
    EEF_TRY(get_int(j, "n_test", where, 0, 1L << 40, &c->n_test));
    EEF_TRY(get_str(j, "model", where, c->model_preset, sizeof c->model_preset));
    EEF_TRY(get_int(j, "vocab", where, EEF_TOK_FIRST_MERGE, 1 << 20, &v));
    c->vocab = (int)v;
    eef_train_defaults(&c->sft);
    eef_train_defaults(&c->iter);
    EEF_TRY(train_from_json(cJSON_GetObjectItemCaseSensitive(j, "sft"), where, &c->sft));
    EEF_TRY(train_from_json(cJSON_GetObjectItemCaseSensitive(j, "iter_train"), where, &c->iter));
    EEF_TRY(eef_json_num(j, "iter_from_sft", where, &d));
    c->iter_from_sft = d != 0;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "rft");
    if (!cJSON_IsObject(r)) return eef_fail(EEF_EFORMAT, "%s: field 'rft' missing", where);
    EEF_TRY(get_int(r, "k", where, 1, 1024, &v));
    c->rft.k = (int)v;
    EEF_TRY(get_int(r, "keep", where, 1, 1024, &v));
    c->rft.keep = (int)v;
    EEF_TRY(eef_json_num(r, "temperature", where, &c->rft.temperature));
    c->rft.tasks = 0;
    if (cJSON_GetObjectItemCaseSensitive(r, "tasks"))
        EEF_TRY(get_int(r, "tasks", where, 1, 1L << 40, &c->rft.tasks));
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "eef");
    if (!cJSON_IsObject(e)) return eef_fail(EEF_EFORMAT, "%s: field 'eef' missing", where);
    EEF_TRY(get_int(e, "stride", where, 1, 1000, &v));
    c->eef.stride = (int)v;
    EEF_TRY(get_int(e, "max_states", where, 1, EEF_MAX_CANDIDATES, &v));
    c->eef.max_states = (int)v;
    EEF_TRY(get_int(e, "k", where, 1, 1024, &v));
    c->eef.k = (int)v;
    EEF_TRY(eef_json_str(e, "search", where, &s));
    if (eef_search_parse(s, &c->eef.mode))
        return eef_fail(EEF_EFORMAT, "%s: eef.search '%s' is not stride, bisect or even", where, s);
    EEF_TRY(eef_json_num(e, "temperature", where, &c->eef.temperature));
    EEF_TRY(student_from_json(cJSON_GetObjectItemCaseSensitive(j, "student"), where, c));
    eef_eto_defaults(&c->eto);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "eto");
    if (c->method == EEF_METHOD_ETO && !cJSON_IsObject(t))
        return eef_fail(EEF_EFORMAT, "%s: field 'eto' missing", where);
    if (cJSON_IsObject(t)) {
        EEF_TRY(eef_json_num(t, "beta", where, &c->eto.beta));
        EEF_TRY(eef_json_num(t, "beta_later", where, &c->eto.beta_later));
        EEF_TRY(eef_json_num(t, "lr", where, &c->eto.lr));
        EEF_TRY(eef_json_num(t, "lr_later", where, &c->eto.lr_later));
        EEF_TRY(eef_json_num(t, "epochs", where, &c->eto.epochs));
        EEF_TRY(get_int(t, "pairs_per_step", where, 1, 4096, &v));
        c->eto.pairs_per_step = (int)v;
        EEF_TRY(get_int(t, "batch_rows", where, 1, 4096, &v));
        c->eto.batch_rows = (int)v;
        EEF_TRY(get_int(t, "seq_len", where, 16, 1 << 20, &v));
        c->eto.seq_len = (int)v;
        EEF_TRY(get_int(t, "extra_steps", where, 0, 100000, &v));
        c->eto.extra_steps = (int)v;
        EEF_TRY(eef_json_num(t, "temperature", where, &c->eto.temperature));
        if (!(c->eto.beta > 0) || !(c->eto.beta_later > 0) || !(c->eto.lr > 0) ||
            !(c->eto.lr_later > 0) || !(c->eto.epochs > 0) || !(c->eto.temperature >= 0))
            return eef_fail(EEF_EFORMAT, "%s: eto: beta, lr and epochs must be positive", where);
    }
    return EEF_OK;
}

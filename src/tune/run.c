/* run.c: the SFT / RFT / EEF pipeline in a resumable run directory (see
 * tune.h for the directory layout). */
#include "tune.h"

#include "dist/dist.h"
#include "eval/eval.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const eef_run_config *c;
    const char *dir;
    const char *from;
    cJSON *state;   /* {"done": [phase names]} */
    eef_env *env;
    size_t n_train, n_test;
} run_ctx;

/* ------------------------------------------------------------ files */
static char *pathf(const run_ctx *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *pathf(const run_ctx *r, const char *fmt, ...)
{
    static _Thread_local char buf[4][1024];
    static _Thread_local int k;
    char name[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    char *out = buf[k++ & 3];
    eef_path_join(out, 1024, r->dir, name);
    return out;
}

/* In an MPI job every rank runs the pipeline on the same data and only
 * rank 0 writes the run directory: the others read it after the barrier
 * that ends each phase (mark_done), so it must be on a file system they
 * all see.  These wrappers are the writes of the phases. */
static int writer(void) { return eef_dist_rank() == 0; }

static eef_err save_trajs(const char *path, const eef_traj *t, size_t n)
{
    return writer() ? eef_traj_write(path, t, n) : EEF_OK;
}

static eef_err save_model(const eef_model *m, const char *path)
{
    return writer() ? eef_model_save(m, path) : EEF_OK;
}

static eef_err write_json(const char *path, const cJSON *j)
{
    if (!writer()) return EEF_OK;
    char *s = cJSON_PrintUnformatted(j);
    if (!s) return eef_fail(EEF_ENOMEM, "out of memory formatting %s", path);
    size_t n = strlen(s);
    char *t = eef_malloc(n + 2);
    eef_err e = t ? EEF_OK : EEF_ENOMEM;
    if (!e) {
        memcpy(t, s, n);
        t[n] = '\n', t[n + 1] = 0;
        e = eef_write_file_atomic(path, t, n + 1);
    }
    free(t);
    cJSON_free(s);
    return e;
}

static eef_err read_json(const char *path, cJSON **out)
{
    char *data;
    size_t len;
    EEF_TRY(eef_read_file(path, &data, &len));
    eef_err e = eef_json_parse(data, len, path, out);
    free(data);
    return e;
}

static eef_err copy_file(const char *src, const char *dst)
{
    if (!writer()) return EEF_OK;
    char *data;
    size_t len;
    EEF_TRY(eef_read_file(src, &data, &len));
    eef_err e = eef_write_file_atomic(dst, data, len);
    free(data);
    return e;
}

/* ------------------------------------------------------------ phases */
/* Whether a run state ({"done": [...]}, this run's or a base's) lists phase. */
static int state_has(const cJSON *state, const char *phase)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(state, "done"), *it;
    cJSON_ArrayForEach(it, list)
        if (cJSON_IsString(it) && strcmp(it->valuestring, phase) == 0) return 1;
    return 0;
}

static int done(const run_ctx *r, const char *phase) { return state_has(r->state, phase); }

static eef_err mark_done(run_ctx *r, const char *phase, double seconds)
{
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(r->state, "done"),
                         cJSON_CreateString(phase));
    if (!writer()) return eef_dist_barrier(); /* rank 0 writes; then all go on */
    EEF_TRY(write_json(pathf(r, "state.json"), r->state));
    /* timing is kept apart: it is the one thing that differs run to run */
    char line[256];
    int n = snprintf(line, sizeof line, "{\"phase\": \"%s\", \"seconds\": %.3f}\n", phase, seconds);
    FILE *f = fopen(pathf(r, "timing.jsonl"), "a");
    if (f) {
        fwrite(line, 1, (size_t)n, f);
        fclose(f);
    }
    return eef_dist_barrier();
}

/* Seconds a phase took in another run (its timing.jsonl), so that a run
 * built --from a base reports the base's cost, not the copy's. */
static double base_seconds(const char *from, const char *phase)
{
    char p[1024];
    eef_lines lr;
    double s = 0;
    if (eef_lines_open(&lr, eef_path_join(p, sizeof p, from, "timing.jsonl"))) return 0;
    char *line;
    size_t len;
    while (eef_lines_next(&lr, &line, &len) == EEF_OK && line) {
        cJSON *j = cJSON_ParseWithLength(line, len);
        const cJSON *ph = cJSON_GetObjectItemCaseSensitive(j, "phase");
        const cJSON *sec = cJSON_GetObjectItemCaseSensitive(j, "seconds");
        if (cJSON_IsString(ph) && cJSON_IsNumber(sec) && strcmp(ph->valuestring, phase) == 0)
            s += sec->valuedouble;
        cJSON_Delete(j);
    }
    eef_lines_close(&lr);
    return s;
}

static void banner(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void banner(const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    eef_info("== %s", msg);
}

static eef_err open_expert(const run_ctx *r, eef_policy **out)
{
    const char *opts = r->c->expert_options[0] ? r->c->expert_options : NULL;
    return eef_expert_open(r->c->env, r->c->expert, opts, out);
}

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

static eef_err phase_expert(run_ctx *r)
{
    if (done(r, "expert")) return EEF_OK;
    double t0 = eef_now();
    if (r->from) {
        banner("expert: from %s", r->from);
        char src[1024];
        EEF_TRY(copy_file(eef_path_join(src, sizeof src, r->from, "expert_train.jsonl"),
                          pathf(r, "expert_train.jsonl")));
        EEF_TRY(copy_file(eef_path_join(src, sizeof src, r->from, "expert_test.jsonl"),
                          pathf(r, "expert_test.jsonl")));
        EEF_TRY(copy_file(eef_path_join(src, sizeof src, r->from, "expert.json"),
                          pathf(r, "expert.json")));
        return mark_done(r, "expert", base_seconds(r->from, "expert"));
    }
    banner("expert: %zu train and %zu test tasks", r->n_train, r->n_test);
    eef_policy *ex;
    EEF_TRY(open_expert(r, &ex));
    eef_trajset tr = { 0 }, te = { 0 };
    eef_eval_summary s_tr, s_te;
    eef_err e = expert_rollouts(r, ex, EEF_SPLIT_TRAIN, r->n_train, "expert on train", &tr, &s_tr);
    if (!e) e = expert_rollouts(r, ex, EEF_SPLIT_TEST, r->n_test, "expert on test", &te, &s_te);
    eef_policy_close(ex);
    if (!e) e = save_trajs(pathf(r, "expert_train.jsonl"), tr.items, tr.n);
    if (!e) e = save_trajs(pathf(r, "expert_test.jsonl"), te.items, te.n);
    if (!e) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddItemToObject(j, "train", eef_eval_to_json(&s_tr));
        cJSON_AddItemToObject(j, "test", eef_eval_to_json(&s_te));
        e = write_json(pathf(r, "expert.json"), j);
        cJSON_Delete(j);
        eef_info("expert: train win %.1f%% (easy %.1f, medium %.1f, hard %.1f), test win %.1f%%",
                 100 * s_tr.all.win, 100 * s_tr.tier[0].win, 100 * s_tr.tier[1].win,
                 100 * s_tr.tier[2].win, 100 * s_te.all.win);
    }
    eef_trajset_free(&tr);
    eef_trajset_free(&te);
    return e ? e : mark_done(r, "expert", eef_now() - t0);
}

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

static void wins_only(const eef_trajset *all, eef_trajset *view)
{
    /* a view: items are shallow copies, not to be freed */
    view->n = 0;
    for (size_t i = 0; i < all->n; i++)
        if (all->items[i].win) view->items[view->n++] = all->items[i];
}

static eef_err phase_sft(run_ctx *r)
{
    if (done(r, "sft")) return EEF_OK;
    double t0 = eef_now();
    if (r->from) {
        banner("sft: from %s", r->from);
        char src[1024];
        EEF_TRY(copy_file(eef_path_join(src, sizeof src, r->from, "sft.eefm"), pathf(r, "sft.eefm")));
        EEF_TRY(copy_file(eef_path_join(src, sizeof src, r->from, "sft.json"), pathf(r, "sft.json")));
        return mark_done(r, "sft", base_seconds(r->from, "sft"));
    }
    eef_trajset ex = { 0 };
    EEF_TRY(eef_traj_read(pathf(r, "expert_train.jsonl"), 0, &ex, NULL));
    eef_trajset wins = { .items = eef_calloc(ex.n ? ex.n : 1, sizeof(eef_traj)), .cap = ex.n };
    eef_err e = wins.items ? EEF_OK : EEF_ENOMEM;
    if (!e) wins_only(&ex, &wins);
    banner("sft: tokenizer and model on %zu expert wins", wins.n);
    eef_tokenizer *tok = NULL;
    if (!e) e = train_tokenizer(&ex, r->c->vocab, &tok);
    eef_model_config mc;
    eef_model *m = NULL;
    if (!e) e = eef_model_preset(r->c->model_preset, eef_tok_vocab_size(tok), &mc);
    if (!e) e = eef_model_new(&mc, tok, eef_rng_key(r->c->seed, EEF_STREAM_SFT, 0, 0), &m);
    else if (tok) eef_tok_free(tok);
    eef_train_config tc = r->c->sft;
    tc.seed = eef_rng_key(r->c->seed, EEF_STREAM_SFT, 1, 0);
    tc.label = "sft";
    eef_train_stats st;
    if (!e) e = eef_train_trajs(m, wins.items, wins.n, &tc, &st);
    if (!e) e = save_model(m, pathf(r, "sft.eefm"));
    if (!e) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "trajectories", (double)wins.n);
        cJSON_AddNumberToObject(j, "steps", (double)st.steps);
        cJSON_AddNumberToObject(j, "tokens", st.tokens);
        cJSON_AddNumberToObject(j, "first_loss", st.first_loss);
        cJSON_AddNumberToObject(j, "last_loss", st.last_loss);
        e = write_json(pathf(r, "sft.json"), j);
        cJSON_Delete(j);
    }
    eef_model_free(m);
    free(wins.items);
    eef_trajset_free(&ex);
    return e ? e : mark_done(r, "sft", eef_now() - t0);
}

static eef_err model_path(const run_ctx *r, int iter, char *out, size_t cap)
{
    if (iter == 0) snprintf(out, cap, "%s", pathf(r, "sft.eefm"));
    else snprintf(out, cap, "%s", pathf(r, "iter_%d/model.eefm", iter));
    return EEF_OK;
}

static eef_err open_agent(const eef_model *m, double temperature, eef_policy **out)
{
    eef_agent_config ac;
    eef_agent_defaults(&ac);
    ac.temperature = temperature;
    return eef_agent_open(m, &ac, out);
}

/* ------------------------------------------------------------ metrics */
/* Train tasks with at least one winning trajectory in the training data
 * of iteration `iter` (expert wins, kept agent wins, EEF solutions). */
static eef_err count_solved(const run_ctx *r, int iter, long *solved, long *n_rft, long *n_eef,
                            long *n_expert)
{
    unsigned char *won = eef_calloc(r->n_train ? r->n_train : 1, 1);
    if (!won) return EEF_ENOMEM;
    *n_rft = *n_eef = *n_expert = 0;
    eef_trajset s = { 0 };
    eef_err e = eef_traj_read(pathf(r, "expert_train.jsonl"), 0, &s, NULL);
    for (size_t i = 0; !e && i < s.n; i++)
        if (s.items[i].win && s.items[i].index >= 0 && (size_t)s.items[i].index < r->n_train)
            won[s.items[i].index] = 1, (*n_expert)++;
    eef_trajset_free(&s);
    for (int it = 1; !e && it <= iter; it++) {
        for (int kind = 0; kind < 2 && !e; kind++) {
            const char *p = pathf(r, "iter_%d/%s", it, kind ? "eef.jsonl" : "rft.jsonl");
            if (!eef_file_exists(p)) continue;
            memset(&s, 0, sizeof s);
            e = eef_traj_read(p, 0, &s, NULL);
            for (size_t i = 0; !e && i < s.n; i++)
                if (s.items[i].index >= 0 && (size_t)s.items[i].index < r->n_train)
                    won[s.items[i].index] = 1;
            if (kind) *n_eef += (long)s.n;
            else *n_rft += (long)s.n;
            eef_trajset_free(&s);
        }
    }
    *solved = 0;
    for (size_t i = 0; i < r->n_train; i++) *solved += won[i];
    free(won);
    return e;
}

/* metrics.jsonl is rebuilt from the per-phase files, so it is always
 * consistent with them. */
static eef_err write_metrics(run_ctx *r, int upto)
{
    if (!writer()) return EEF_OK; /* it reads what rank 0 has just written */
    eef_buf out;
    eef_buf_init(&out);
    eef_err e = EEF_OK;
    long rollouts = 0, steps = 0;
    for (int it = 0; !e && it <= upto; it++) {
        cJSON *line = cJSON_CreateObject(), *ev = NULL, *ex = NULL, *tr = NULL;
        cJSON_AddStringToObject(line, "method", eef_method_name(r->c->method));
        cJSON_AddNumberToObject(line, "iter", it);
        e = read_json(pathf(r, "iter_%d/eval.json", it), &ev);
        if (!e) cJSON_AddItemToObject(line, "test", ev);
        if (!e && it > 0) {
            e = read_json(pathf(r, "iter_%d/explore.json", it), &ex);
            if (!e) {
                const cJSON *ro = cJSON_GetObjectItemCaseSensitive(ex, "rollouts");
                const cJSON *so = cJSON_GetObjectItemCaseSensitive(ex, "env_steps");
                rollouts += cJSON_IsNumber(ro) ? (long)ro->valuedouble : 0;
                steps += cJSON_IsNumber(so) ? (long)so->valuedouble : 0;
                cJSON_AddItemToObject(line, "explore", ex);
            }
            if (!e) e = read_json(pathf(r, "iter_%d/train.json", it), &tr);
            if (!e) cJSON_AddItemToObject(line, "train", tr);
        } else if (!e) {
            e = read_json(pathf(r, "sft.json"), &tr);
            if (!e) cJSON_AddItemToObject(line, "train", tr);
        }
        long solved, n_rft, n_eef, n_expert;
        if (!e) e = count_solved(r, it, &solved, &n_rft, &n_eef, &n_expert);
        if (!e) {
            cJSON_AddNumberToObject(line, "train_tasks", (double)r->n_train);
            cJSON_AddNumberToObject(line, "train_solved", (double)solved);
            cJSON *d = cJSON_AddObjectToObject(line, "data");
            cJSON_AddNumberToObject(d, "expert", (double)n_expert);
            cJSON_AddNumberToObject(d, "rft", (double)n_rft);
            cJSON_AddNumberToObject(d, "eef", (double)n_eef);
            cJSON_AddNumberToObject(line, "rollouts", (double)rollouts);
            cJSON_AddNumberToObject(line, "env_steps", (double)steps);
            char *s = cJSON_PrintUnformatted(line);
            if (!s || eef_buf_puts(&out, s) || eef_buf_puts(&out, "\n")) e = EEF_ENOMEM;
            cJSON_free(s);
        }
        cJSON_Delete(line);
    }
    if (!e) e = eef_write_file_atomic(pathf(r, "metrics.jsonl"), out.data ? out.data : "", out.len);
    eef_buf_free(&out);
    return e;
}

static eef_err phase_eval(run_ctx *r, int iter)
{
    char phase[64];
    snprintf(phase, sizeof phase, "iter_%d.eval", iter);
    if (done(r, phase)) return EEF_OK;
    double t0 = eef_now();
    EEF_TRY(eef_mkdirs(pathf(r, "iter_%d", iter)));
    if (iter == 0 && r->from) {
        char src[1024], name[64];
        snprintf(name, sizeof name, "iter_0/eval.jsonl");
        EEF_TRY(copy_file(eef_path_join(src, sizeof src, r->from, name), pathf(r, "%s", name)));
        snprintf(name, sizeof name, "iter_0/eval.json");
        EEF_TRY(copy_file(eef_path_join(src, sizeof src, r->from, name), pathf(r, "%s", name)));
    } else {
        banner("iteration %d: evaluate on %zu test tasks", iter, r->n_test);
        char mp[1024];
        model_path(r, iter, mp, sizeof mp);
        eef_model *m;
        EEF_TRY(eef_model_load(mp, &m));
        eef_policy *agent;
        eef_err e = open_agent(m, 0.0, &agent);
        eef_traj *t = NULL;
        size_t n = 0;
        eef_eval_summary s;
        if (!e) e = eef_evaluate(r->env, agent, EEF_SPLIT_TEST, r->n_test, r->c->seed, "evaluate",
                                 &t, &n, &s);
        for (size_t i = 0; !e && i < n; i++) e = eef_traj_set(&t[i].source, "agent");
        if (!e) e = save_trajs(pathf(r, "iter_%d/eval.jsonl", iter), t, n);
        if (!e) {
            cJSON *j = eef_eval_to_json(&s);
            e = write_json(pathf(r, "iter_%d/eval.json", iter), j);
            cJSON_Delete(j);
            eef_info("iteration %d: test win %.1f%% [%.1f, %.1f], score %.1f; easy %.1f%%, "
                     "medium %.1f%%, hard %.1f%%",
                     iter, 100 * s.all.win, 100 * s.all.win_lo, 100 * s.all.win_hi, s.all.score,
                     100 * s.tier[0].win, 100 * s.tier[1].win, 100 * s.tier[2].win);
        }
        for (size_t i = 0; t && i < n; i++) eef_traj_free(&t[i]);
        free(t);
        if (agent) eef_policy_close(agent);
        eef_model_free(m);
        if (e) return e;
    }
    EEF_TRY(write_metrics(r, iter));
    return mark_done(r, phase, iter == 0 && r->from ? base_seconds(r->from, phase) : eef_now() - t0);
}

/* ------------------------------------------------------------ iterations */
/* A short name for the kind of an action, for the salvaged-action table:
 * buttons by name, other clicks as one kind, free-text actions and
 * verb-first actions by their verb. */
static void action_kind(const char *a, char *out, size_t cap)
{
    static const char *buttons[] = { "Next >", "< Prev", "Back to Search", "Buy Now",
                                     "Description", "Features", "Reviews", "Attributes" };
    if (strncmp(a, "click[", 6) == 0) {
        for (size_t i = 0; i < EEF_ARRAY_LEN(buttons); i++) {
            size_t l = strlen(buttons[i]);
            if (strncmp(a + 6, buttons[i], l) == 0 && a[6 + l] == ']' && !a[7 + l]) {
                snprintf(out, cap, "click[%s]", buttons[i]);
                return;
            }
        }
        snprintf(out, cap, "click[item-or-option]");
        return;
    }
    const char *b = strchr(a, '['), *sp = strchr(a, ' ');
    size_t n = b ? (size_t)(b - a) : sp ? (size_t)(sp - a) : strlen(a);
    snprintf(out, cap, "%.*s", (int)(n < cap - 1 ? n : cap - 1), a);
}

static void count_kind(cJSON *hist, const char *action)
{
    char k[64];
    action_kind(action, k, sizeof k);
    cJSON *v = cJSON_GetObjectItemCaseSensitive(hist, k);
    if (v) cJSON_SetNumberValue(v, v->valuedouble + 1);
    else cJSON_AddNumberToObject(hist, k, 1);
}

/* Iteration 1 samples from the task starts with the SFT model.  When this
 * run is taken --from an RFT run with the same RFT settings that finished
 * its iteration 1 exploration, those rollouts are the ones this run would
 * sample (each is keyed by seed, iteration, task and rollout number), so
 * its kept wins can be read instead of sampled again.  (check_from has
 * already read the base's config and state.) */
static int base_has_rft(const run_ctx *r)
{
    char p[1024];
    cJSON *theirs = NULL, *st = NULL, *ours = eef_run_config_to_json(r->c);
    int ok = ours && !read_json(eef_path_join(p, sizeof p, r->from, "config.json"), &theirs) &&
             !read_json(eef_path_join(p, sizeof p, r->from, "state.json"), &st);
    if (ok) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(theirs, "method");
        ok = cJSON_IsString(m) && strcmp(m->valuestring, "rft") == 0 &&
             cJSON_Compare(cJSON_GetObjectItemCaseSensitive(theirs, "rft"),
                           cJSON_GetObjectItemCaseSensitive(ours, "rft"), 1) &&
             state_has(st, "iter_1.explore");
    }
    cJSON_Delete(ours);
    cJSON_Delete(theirs);
    cJSON_Delete(st);
    return ok;
}

/* The base's iteration 1 rollouts from the task starts, as
 * eef_rft_explore would return them; *seconds is what they cost there. */
static eef_err rft_from_base(const run_ctx *r, eef_rft_result *rr, double *seconds)
{
    char p[1024];
    cJSON *info = NULL;
    EEF_TRY(read_json(eef_path_join(p, sizeof p, r->from, "iter_1/explore.json"), &info));
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(info, "rollouts");
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(info, "env_steps");
    eef_err e = EEF_OK;
    if (!cJSON_IsNumber(n) || !cJSON_IsNumber(k))
        e = eef_fail(EEF_EFORMAT, "%s: 'rollouts' or 'env_steps' missing", p);
    else
        rr->rollouts = (long)n->valuedouble, rr->steps = (long)k->valuedouble;
    cJSON_Delete(info);
    rr->n_tasks = r->n_train;
    rr->won = e ? NULL : eef_calloc(r->n_train ? r->n_train : 1, sizeof *rr->won);
    if (!e && !rr->won) e = EEF_ENOMEM;
    if (!e) e = eef_traj_read(eef_path_join(p, sizeof p, r->from, "iter_1/rft.jsonl"), 0,
                              &rr->kept, NULL);
    for (size_t i = 0; !e && i < rr->kept.n; i++) {
        long x = rr->kept.items[i].index;
        if (x < 0 || (size_t)x >= r->n_train)
            e = eef_fail(EEF_EFORMAT, "%s: trajectory %zu: task index %ld out of range", p, i, x);
        else
            rr->won[x] = 1; /* every won task keeps at least one win */
    }
    if (e) {
        eef_rft_result_free(rr);
        return e;
    }
    *seconds = base_seconds(r->from, "iter_1.explore");
    banner("iteration 1: rollouts from the task starts: from %s", r->from);
    return EEF_OK;
}

static eef_err phase_explore(run_ctx *r, int iter)
{
    char phase[64];
    snprintf(phase, sizeof phase, "iter_%d.explore", iter);
    if (done(r, phase)) return EEF_OK;
    double t0 = eef_now();
    EEF_TRY(eef_mkdirs(pathf(r, "iter_%d", iter)));
    banner("iteration %d: explore (%s)", iter, eef_method_name(r->c->method));
    char mp[1024];
    model_path(r, iter - 1, mp, sizeof mp);
    eef_model *m;
    EEF_TRY(eef_model_load(mp, &m));
    eef_policy *agent = NULL;
    eef_err e = open_agent(m, r->c->rft.temperature, &agent);
    eef_rft_config rc = r->c->rft;
    rc.seed = r->c->seed, rc.iteration = iter;
    eef_rft_result rr = { 0 };
    double base_cost = 0;
    size_t n_explore = rc.tasks > 0 && (size_t)rc.tasks < r->n_train ? (size_t)rc.tasks : r->n_train;
    if (!e) e = iter == 1 && r->from && base_has_rft(r)
                    ? rft_from_base(r, &rr, &base_cost)
                    : eef_rft_explore(r->env, agent, EEF_SPLIT_TRAIN, n_explore, &rc, &rr);
    if (!e) e = save_trajs(pathf(r, "iter_%d/rft.jsonl", iter), rr.kept.items, rr.kept.n);
    cJSON *info = cJSON_CreateObject();
    long start_wins = 0;
    for (size_t i = 0; !e && i < rr.n_tasks; i++) start_wins += rr.won[i];
    long rollouts = rr.rollouts, steps = rr.steps;
    cJSON_AddNumberToObject(info, "start_rollouts", (double)rr.rollouts);
    cJSON_AddNumberToObject(info, "start_wins", (double)start_wins);
    cJSON_AddNumberToObject(info, "rft_kept", (double)rr.kept.n);

    if (!e && r->c->method == EEF_METHOD_EEF) {
        /* failed expert trajectories of tasks that no data has solved yet
         * and the agent did not win from the start this iteration */
        eef_trajset ex = { 0 };
        e = eef_traj_read(pathf(r, "expert_train.jsonl"), 0, &ex, NULL);
        unsigned char *solved = eef_calloc(r->n_train ? r->n_train : 1, 1);
        if (!e && !solved) e = EEF_ENOMEM;
        for (int it = 1; !e && it < iter; it++) {
            for (int kind = 0; kind < 2 && !e; kind++) {
                eef_trajset s = { 0 };
                e = eef_traj_read(pathf(r, "iter_%d/%s", it, kind ? "eef.jsonl" : "rft.jsonl"), 0, &s, NULL);
                for (size_t i = 0; !e && i < s.n; i++)
                    if (s.items[i].index >= 0 && (size_t)s.items[i].index < r->n_train)
                        solved[s.items[i].index] = 1;
                eef_trajset_free(&s);
            }
        }
        eef_traj *failed = eef_calloc(ex.n ? ex.n : 1, sizeof *failed);
        int *start = eef_calloc(ex.n ? ex.n : 1, sizeof *start);
        size_t nf = 0;
        if (!e && (!failed || !start)) e = EEF_ENOMEM;
        for (size_t i = 0; !e && i < ex.n; i++) {
            const eef_traj *t = &ex.items[i];
            if (t->win || t->index < 0 || (size_t)t->index >= n_explore || solved[t->index]) continue;
            start[nf] = rr.won[t->index];
            failed[nf++] = *t; /* shallow: ex owns it */
        }
        eef_explore_config xc = r->c->eef;
        xc.seed = r->c->seed, xc.iteration = iter;
        eef_explore_result *res = eef_calloc(nf ? nf : 1, sizeof *res);
        if (!e && !res) e = EEF_ENOMEM;
        eef_policy *explorer = NULL;
        if (!e) e = open_agent(m, xc.temperature, &explorer);
        if (!e) e = eef_explore_failures(r->env, explorer, failed, start, nf, &xc, res);
        if (explorer) eef_policy_close(explorer);
        /* the solutions, and every fact about the states */
        eef_trajset sols = { 0 };
        eef_buf states;
        eef_buf_init(&states);
        cJSON *salv = cJSON_CreateObject();
        long cands = 0, tried = 0, solved_states = 0, masked = 0, kept = 0;
        for (size_t i = 0; !e && i < nf; i++) {
            eef_explore_result *x = &res[i];
            rollouts += x->rollouts;
            steps += x->steps;
            cJSON *rec = cJSON_CreateObject();
            cJSON_AddStringToObject(rec, "task", failed[i].task ? failed[i].task : "");
            cJSON_AddNumberToObject(rec, "index", (double)failed[i].index);
            cJSON_AddNumberToObject(rec, "expert_actions", (double)failed[i].n_steps);
            cJSON_AddBoolToObject(rec, "start_solved", start[i]);
            cJSON *cl = cJSON_AddArrayToObject(rec, "candidates");
            for (size_t k = 0; k < x->n_cand; k++) {
                cJSON *c = cJSON_CreateObject();
                cJSON_AddNumberToObject(c, "t", (double)x->t[k]);
                cJSON_AddNumberToObject(c, "rollouts", x->tried[k]);
                if (x->solved[k] < 0) cJSON_AddNullToObject(c, "solved");
                else cJSON_AddBoolToObject(c, "solved", x->solved[k]);
                cJSON_AddItemToArray(cl, c);
                cands++;
                tried += x->solved[k] >= 0;
                solved_states += x->solved[k] == 1;
            }
            if (x->important >= 0) {
                size_t k = x->t[x->important];
                cJSON_AddNumberToObject(rec, "important", (double)k);
                cJSON_AddNumberToObject(rec, "masked_prefix", (double)x->j);
                cJSON *sa = cJSON_AddArrayToObject(rec, "salvaged");
                cJSON *ma = cJSON_AddArrayToObject(rec, "masked");
                for (size_t a = 0; a < k; a++) {
                    const char *act = failed[i].steps[a].action;
                    cJSON_AddItemToArray(a < x->j ? ma : sa, cJSON_CreateString(act));
                    if (a >= x->j) count_kind(salv, act);
                }
                masked += (long)x->j;
                cJSON_AddStringToObject(rec, "solution", x->solution.id ? x->solution.id : "");
                e = eef_trajset_push(&sols, &x->solution);
                if (!e) memset(&x->solution, 0, sizeof x->solution), x->has_solution = 0, kept++;
            } else {
                cJSON_AddNullToObject(rec, "important");
            }
            char *line = cJSON_PrintUnformatted(rec);
            if (!line || eef_buf_puts(&states, line) || eef_buf_puts(&states, "\n")) e = EEF_ENOMEM;
            cJSON_free(line);
            cJSON_Delete(rec);
        }
        if (!e) e = save_trajs(pathf(r, "iter_%d/eef.jsonl", iter), sols.items, sols.n);
        if (!e && writer()) e = eef_write_file_atomic(pathf(r, "iter_%d/eef_states.jsonl", iter),
                                          states.data ? states.data : "", states.len);
        cJSON_AddNumberToObject(info, "eef_trajectories", (double)nf);
        cJSON_AddNumberToObject(info, "eef_candidates", (double)cands);
        cJSON_AddNumberToObject(info, "eef_states_tried", (double)tried);
        cJSON_AddNumberToObject(info, "eef_states_solved", (double)solved_states);
        cJSON_AddNumberToObject(info, "eef_solutions", (double)kept);
        cJSON_AddNumberToObject(info, "eef_masked_actions", (double)masked);
        cJSON_AddItemToObject(info, "salvaged", salv);
        if (!e) eef_info("iteration %d: %ld tasks won from the start; EEF: %zu failed expert "
                         "trajectories, %ld/%ld states solved, %ld solutions",
                         iter, start_wins, nf, solved_states, tried, kept);
        eef_buf_free(&states);
        eef_trajset_free(&sols);
        for (size_t i = 0; res && i < nf; i++) eef_explore_result_free(&res[i]);
        free(res);
        free(failed);
        free(start);
        free(solved);
        eef_trajset_free(&ex);
    } else if (!e) {
        eef_info("iteration %d: %ld of %zu tasks won from the start, %zu wins kept", iter,
                 start_wins, n_explore, rr.kept.n);
    }
    cJSON_AddNumberToObject(info, "rollouts", (double)rollouts);
    cJSON_AddNumberToObject(info, "env_steps", (double)steps);
    if (!e) e = write_json(pathf(r, "iter_%d/explore.json", iter), info);
    cJSON_Delete(info);
    eef_rft_result_free(&rr);
    if (agent) eef_policy_close(agent);
    eef_model_free(m);
    return e ? e : mark_done(r, phase, eef_now() - t0 + base_cost);
}

/* Training data of iteration `iter`: expert wins, all kept agent wins and
 * all EEF solutions of iterations 1..iter. */
static eef_err iteration_data(const run_ctx *r, int iter, eef_trajset *out)
{
    eef_trajset ex = { 0 };
    EEF_TRY(eef_traj_read(pathf(r, "expert_train.jsonl"), 0, &ex, NULL));
    eef_err e = EEF_OK;
    for (size_t i = 0; !e && i < ex.n; i++) {
        if (!ex.items[i].win) continue;
        e = eef_trajset_push(out, &ex.items[i]);
        if (!e) memset(&ex.items[i], 0, sizeof ex.items[i]);
    }
    eef_trajset_free(&ex);
    for (int it = 1; !e && it <= iter; it++)
        for (int kind = 0; kind < 2 && !e; kind++) {
            const char *p = pathf(r, "iter_%d/%s", it, kind ? "eef.jsonl" : "rft.jsonl");
            if (!eef_file_exists(p)) continue;
            eef_trajset s = { 0 };
            e = eef_traj_read(p, 0, &s, NULL);
            for (size_t i = 0; !e && i < s.n; i++) {
                e = eef_trajset_push(out, &s.items[i]);
                if (!e) memset(&s.items[i], 0, sizeof s.items[i]);
            }
            eef_trajset_free(&s);
        }
    return e;
}

static eef_err phase_train(run_ctx *r, int iter)
{
    char phase[64];
    snprintf(phase, sizeof phase, "iter_%d.train", iter);
    if (done(r, phase)) return EEF_OK;
    double t0 = eef_now();
    eef_trajset data = { 0 };
    EEF_TRY(iteration_data(r, iter, &data));
    banner("iteration %d: train on %zu trajectories", iter, data.n);
    char mp[1024];
    model_path(r, r->c->iter_from_sft ? 0 : iter - 1, mp, sizeof mp);
    eef_model *m = NULL;
    eef_err e = eef_model_load(mp, &m);
    eef_train_config tc = r->c->iter;
    tc.seed = eef_rng_key(r->c->seed, EEF_STREAM_ITER_TRAIN, (uint64_t)iter, 0);
    tc.label = "train";
    eef_train_stats st;
    if (!e) e = eef_train_trajs(m, data.items, data.n, &tc, &st);
    if (!e) e = save_model(m, pathf(r, "iter_%d/model.eefm", iter));
    if (!e) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "trajectories", (double)data.n);
        cJSON_AddNumberToObject(j, "steps", (double)st.steps);
        cJSON_AddNumberToObject(j, "tokens", st.tokens);
        cJSON_AddNumberToObject(j, "first_loss", st.first_loss);
        cJSON_AddNumberToObject(j, "last_loss", st.last_loss);
        e = write_json(pathf(r, "iter_%d/train.json", iter), j);
        cJSON_Delete(j);
    }
    eef_model_free(m);
    eef_trajset_free(&data);
    return e ? e : mark_done(r, phase, eef_now() - t0);
}

/* ------------------------------------------------------------ the run */
/* Fields a run taken --from another must share with it. */
static const char *base_keys[] = { "env", "env_options", "expert", "expert_options", "seed", "n_train",
                                   "n_test", "model", "prompt", "vocab", "sft" };

static eef_err check_from(const eef_run_config *c, const char *from)
{
    char p[1024];
    cJSON *theirs;
    EEF_TRY(read_json(eef_path_join(p, sizeof p, from, "config.json"), &theirs));
    cJSON *ours = eef_run_config_to_json(c);
    eef_err e = EEF_OK;
    for (size_t i = 0; i < EEF_ARRAY_LEN(base_keys) && !e; i++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(ours, base_keys[i]);
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(theirs, base_keys[i]);
        if (!b || !cJSON_Compare(a, b, 1))
            e = eef_fail(EEF_EINVAL, "--from %s: its '%s' differs from this run's", from, base_keys[i]);
    }
    cJSON *st = NULL;
    if (!e) e = read_json(eef_path_join(p, sizeof p, from, "state.json"), &st);
    if (!e && !state_has(st, "iter_0.eval"))
        e = eef_fail(EEF_ESTATE, "--from %s: its SFT phase is not finished", from);
    cJSON_Delete(st);
    cJSON_Delete(ours);
    cJSON_Delete(theirs);
    return e;
}

eef_err eef_run(const eef_run_config *c, const char *dir, const char *from_dir, int *finished)
{
    *finished = 0;
    run_ctx r = { .c = c, .dir = dir, .from = from_dir };
    EEF_TRY(eef_mkdirs(dir));
    if (writer()) eef_clean_tmp(dir); /* only rank 0 writes, so only it leaves any */
    for (int it = 0; it <= c->iters && writer(); it++) {
        char sub[1024];
        snprintf(sub, sizeof sub, "%s/iter_%d", dir, it);
        eef_clean_tmp(sub);
    }
    /* the configuration: new, or the same as the one the run started with */
    cJSON *cfg = eef_run_config_to_json(c);
    eef_err e = EEF_OK;
    if (eef_file_exists(pathf(&r, "config.json"))) {
        cJSON *old = NULL;
        e = read_json(pathf(&r, "config.json"), &old);
        if (!e && !cJSON_Compare(old, cfg, 1)) {
            const char *field = "?";
            for (cJSON *it = cfg->child; it; it = it->next)
                if (!cJSON_Compare(it, cJSON_GetObjectItemCaseSensitive(old, it->string), 1)) {
                    field = it->string;
                    break;
                }
            e = eef_fail(EEF_EINVAL, "%s holds a run with a different configuration (%s "
                         "differs); resume it with the same options or choose another --out",
                         dir, field);
        }
        cJSON_Delete(old);
    } else {
        e = write_json(pathf(&r, "config.json"), cfg);
    }
    cJSON_Delete(cfg);
    if (!e && from_dir) e = check_from(c, from_dir);
    if (e) return e;
    if (eef_file_exists(pathf(&r, "state.json"))) {
        EEF_TRY(read_json(pathf(&r, "state.json"), &r.state));
        if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(r.state, "done"))) {
            cJSON_Delete(r.state);
            return eef_fail(EEF_EFORMAT, "%s: field 'done' missing", pathf(&r, "state.json"));
        }
    } else {
        r.state = cJSON_CreateObject();
        cJSON_AddArrayToObject(r.state, "done");
    }
    /* every rank has read the state before rank 0 changes it */
    if (eef_dist_barrier()) {
        cJSON_Delete(r.state);
        return eef_fail_ctx(EEF_ENET, "%s", dir);
    }
    if (done(&r, "finished")) {
        *finished = 1;
        cJSON_Delete(r.state);
        return EEF_OK;
    }
    e = eef_env_open(c->env, c->env_options[0] ? c->env_options : NULL, c->seed, &r.env);
    if (!e) {
        size_t ntr = r.env->ops->n_tasks(r.env, EEF_SPLIT_TRAIN);
        size_t nte = r.env->ops->n_tasks(r.env, EEF_SPLIT_TEST);
        r.n_train = c->n_train > 0 && (size_t)c->n_train < ntr ? (size_t)c->n_train : ntr;
        r.n_test = c->n_test > 0 && (size_t)c->n_test < nte ? (size_t)c->n_test : nte;
    }
    if (!e) e = phase_expert(&r);
    if (!e) e = phase_sft(&r);
    if (!e) e = phase_eval(&r, 0);
    for (int it = 1; !e && it <= c->iters && c->method != EEF_METHOD_SFT; it++) {
        e = phase_explore(&r, it);
        if (!e) e = phase_train(&r, it);
        if (!e) e = phase_eval(&r, it);
    }
    if (!e) e = mark_done(&r, "finished", 0);
    eef_env_close(r.env);
    cJSON_Delete(r.state);
    return e;
}

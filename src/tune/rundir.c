/* rundir.c: the run directory (tune.h has its layout): paths, the phases
 * done and their wall time, the base run of --from, and the one reader of
 * the data an iteration trains on. */
#include "run_internal.h"

#include "dist/dist.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ files */
const char *run_path_in(const char *dir, run_path *p, const char *fmt, ...)
{
    char name[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return eef_path_join(p->s, sizeof p->s, dir, name);
}

int run_writer(void) { return eef_dist_rank() == 0; }

eef_err run_save_trajs(const run_ctx *r, const char *path, const eef_traj *t, size_t n)
{
    return run_writer() ? eef_traj_write_ctx(path, &r->world, t, n) : EEF_OK;
}

eef_err run_save_model(const eef_model *m, const char *path)
{
    return run_writer() ? eef_model_save(m, path) : EEF_OK;
}

eef_err run_save_json(const char *path, const cJSON *j)
{
    if (!run_writer()) return EEF_OK;
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

eef_err run_save_text(const char *path, const eef_buf *b)
{
    return run_writer() ? eef_write_file_atomic(path, b->data ? b->data : "", b->len) : EEF_OK;
}

eef_err run_copy_from_base(const run_ctx *r, const char *name)
{
    if (!run_writer()) return EEF_OK;
    run_path src, dst;
    char *data;
    size_t len;
    EEF_TRY(eef_read_file(base_file(r, &src, "%s", name), &data, &len));
    eef_err e = eef_write_file_atomic(run_file(r, &dst, "%s", name), data, len);
    free(data);
    return e;
}

/* ------------------------------------------------------------ phases */
int run_state_has(const cJSON *state, const char *phase)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(state, "done"), *it;
    cJSON_ArrayForEach(it, list)
        if (cJSON_IsString(it) && strcmp(it->valuestring, phase) == 0) return 1;
    return 0;
}

int run_done(const run_ctx *r, const char *phase) { return run_state_has(r->state, phase); }

eef_err run_mark_done(run_ctx *r, const char *phase, double seconds)
{
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(r->state, "done"),
                         cJSON_CreateString(phase));
    run_journal_end(); /* the phase's files are written: its journals are not needed */
    if (!run_writer()) return eef_dist_barrier(); /* rank 0 writes; then all go on */
    run_path p;
    EEF_TRY(run_save_json(run_file(r, &p, "state.json"), r->state));
    /* timing is kept apart: it is the one thing that differs run to run.
     * Written whole like every other file (the old lines and this one): a
     * line per phase, so rewriting it is nothing beside the phase */
    const char *tp = run_file(r, &p, "timing.jsonl");
    char *old = NULL;
    size_t n_old = 0;
    if (eef_file_exists(tp)) EEF_TRY(eef_read_file(tp, &old, &n_old));
    /* a torn last line (an earlier eef appended raw) is dropped */
    while (n_old && old[n_old - 1] != '\n') n_old--;
    eef_buf b;
    eef_buf_init(&b);
    eef_err e = eef_buf_append(&b, old ? old : "", n_old) ||
                eef_buf_printf(&b, "{\"phase\": \"%s\", \"seconds\": %.3f}\n", phase, seconds)
                    ? EEF_ENOMEM : EEF_OK;
    free(old);
    if (!e) e = eef_write_file_atomic(tp, b.data, b.len);
    eef_buf_free(&b);
    EEF_TRY(e);
    return eef_dist_barrier();
}

int run_phase_begin(const run_ctx *r, run_phase *ph, int iter, const char *kind)
{
    if (iter < 0) snprintf(ph->name, sizeof ph->name, "%s", kind);
    else snprintf(ph->name, sizeof ph->name, "iter_%d.%s", iter, kind);
    ph->t0 = eef_now();
    if (run_done(r, ph->name)) return 0;
    run_journal_begin(r, ph->name);
    return 1;
}

eef_err run_phase_end(run_ctx *r, const run_phase *ph, double extra)
{
    return run_mark_done(r, ph->name, eef_now() - ph->t0 + extra);
}

double run_base_seconds(const run_ctx *r, const char *phase)
{
    run_path p;
    eef_lines lr;
    double s = 0;
    if (eef_lines_open(&lr, base_file(r, &p, "timing.jsonl"))) return 0;
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

void run_banner(const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    eef_info("== %s", msg);
}

/* ------------------------------------------------------------ --from */
/* Fields a run taken --from another must share with it. */
static const char *base_keys[] = { "env", "env_options", "expert", "expert_options", "seed", "n_train",
                                   "n_test", "model", "prompt", "vocab", "sft", "student" };

eef_err run_check_base(const eef_run_config *c, const char *from)
{
    run_path p;
    cJSON *theirs;
    EEF_TRY(eef_json_read_file(run_path_in(from, &p, "config.json"), &theirs));
    cJSON *ours = eef_run_config_to_json(c);
    eef_err e = EEF_OK;
    for (size_t i = 0; i < EEF_ARRAY_LEN(base_keys) && !e; i++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(ours, base_keys[i]);
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(theirs, base_keys[i]);
        if ((a || b) && (!a || !b || !cJSON_Compare(a, b, 1))) /* "student": either may lack it */
            e = eef_fail(EEF_EINVAL, "--from %s: its '%s' differs from this run's", from, base_keys[i]);
    }
    cJSON *st = NULL;
    if (!e) e = eef_json_read_file(run_path_in(from, &p, "state.json"), &st);
    if (!e && !run_state_has(st, "iter_0.eval"))
        e = eef_fail(EEF_ESTATE, "--from %s: its SFT phase is not finished", from);
    cJSON_Delete(st);
    cJSON_Delete(ours);
    cJSON_Delete(theirs);
    return e;
}

int run_base_has_rft(const run_ctx *r)
{
    run_path p;
    cJSON *theirs = NULL, *st = NULL, *ours = eef_run_config_to_json(r->c);
    int ok = ours && !eef_json_read_file(base_file(r, &p, "config.json"), &theirs) &&
             !eef_json_read_file(base_file(r, &p, "state.json"), &st);
    if (ok) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(theirs, "method");
        ok = cJSON_IsString(m) && strcmp(m->valuestring, "rft") == 0 &&
             cJSON_Compare(cJSON_GetObjectItemCaseSensitive(theirs, "rft"),
                           cJSON_GetObjectItemCaseSensitive(ours, "rft"), 1) &&
             run_state_has(st, "iter_1.explore");
    }
    cJSON_Delete(ours);
    cJSON_Delete(theirs);
    cJSON_Delete(st);
    return ok;
}

/* ------------------------------------------------------------ models */
eef_err run_open_agent(const eef_model *m, double temperature, eef_policy **out)
{
    eef_agent_config ac;
    eef_agent_defaults(&ac);
    ac.temperature = temperature;
    return eef_agent_open(m, &ac, out);
}

cJSON *run_train_json(size_t n_trajectories, const eef_train_stats *st)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "trajectories", (double)n_trajectories);
    cJSON_AddNumberToObject(j, "steps", (double)st->steps);
    cJSON_AddNumberToObject(j, "tokens", st->tokens);
    cJSON_AddNumberToObject(j, "first_loss", st->first_loss);
    cJSON_AddNumberToObject(j, "last_loss", st->last_loss);
    return j;
}

/* ------------------------------------------------------------ data */
eef_err run_read_expert(const run_ctx *r, eef_trajset *out)
{
    run_path p;
    return eef_traj_read(run_file(r, &p, "expert_train.jsonl"), 0, out, NULL);
}

/* Moves every trajectory of `from` (or only its wins) to the end of `to`. */
static eef_err take_all(eef_trajset *from, int wins_only, eef_trajset *to, long *n)
{
    eef_err e = EEF_OK;
    for (size_t i = 0; !e && i < from->n; i++) {
        if (wins_only && !from->items[i].win) continue;
        e = eef_trajset_push(to, &from->items[i]);
        if (!e) memset(&from->items[i], 0, sizeof from->items[i]), (*n)++;
    }
    eef_trajset_free(from);
    return e;
}

eef_err run_training_data(const run_ctx *r, int iter, eef_trajset *out, run_data_counts *counts)
{
    run_data_counts n = { 0 };
    eef_trajset s = { 0 };
    eef_err e = run_read_expert(r, &s);
    if (!e) e = take_all(&s, 1, out, &n.expert);
    for (int it = 1; !e && it <= iter; it++) {
        /* an iteration's files: absent when its exploration found nothing
         * to write (an SFT run has none) */
        static const char *const files[] = { "rft.jsonl", "eef.jsonl" };
        for (int f = 0; f < 2 && !e; f++) {
            run_path p;
            if (!eef_file_exists(run_file(r, &p, "iter_%d/%s", it, files[f]))) continue;
            memset(&s, 0, sizeof s);
            e = eef_traj_read(p.s, 0, &s, NULL);
            if (!e) e = take_all(&s, 0, out, f ? &n.eef : &n.rft);
            else eef_trajset_free(&s);
        }
    }
    if (counts) *counts = n;
    return e;
}

eef_err run_solved_tasks(const run_ctx *r, int iter, unsigned char *solved, long *n_solved,
                         run_data_counts *counts)
{
    eef_trajset data = { 0 };
    eef_err e = run_training_data(r, iter, &data, counts);
    memset(solved, 0, r->n_train);
    for (size_t i = 0; !e && i < data.n; i++) {
        long x = data.items[i].index;
        if (x >= 0 && (size_t)x < r->n_train) solved[x] = 1;
    }
    *n_solved = 0;
    for (size_t i = 0; i < r->n_train; i++) *n_solved += solved[i];
    eef_trajset_free(&data);
    return e;
}

eef_err run_check_world(run_ctx *r)
{
    EEF_TRY(eef_run_world_of(r->c, r->env, &r->world));
    const char *by = "is that of the world this run's configuration builds now: the data files or "
                     "eef's world generator changed";
    eef_world rec;
    char where[1200];
    run_path p;
    if (eef_file_exists(run_file(r, &p, "world.json"))) {
        EEF_TRY(eef_run_world_read(r->dir, &rec, where, sizeof where));
        EEF_TRY(eef_world_check(&rec, &r->world, where, by));
    } else if (!run_done(r, "expert") && run_writer()) {
        /* a run of an earlier eef (phases done, no world.json) records its
         * world in the trajectory files it writes from now on only */
        EEF_TRY(eef_run_world_write(run_file(r, &p, "world.json"), &r->world));
    }
    if (!r->from) return EEF_OK;
    EEF_TRY(eef_run_world_read(r->from, &rec, where, sizeof where));
    return eef_world_check(&rec, &r->world, where, "is that of this run's world");
}

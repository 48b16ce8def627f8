/* journal.c: a phase's rollouts, resumable inside the phase.
 *
 * A batch of rollouts (eef_rollout_batch) is run in chunks; after each
 * chunk rank 0 rewrites the batch's journal, DIR/<phase>.journal.<k> (the
 * k-th batch of the phase), with every trajectory made so far.  A phase
 * killed in the middle finds the journal of each batch when it runs again
 * and runs only the rollouts it lacks.  Rollouts are keyed by what they
 * are (eef_rollout_spec.key), never by who runs them or with what, so the
 * chunks change nothing in the trajectories: a resumed phase writes the
 * same bytes as one never stopped.  The journals go when the phase is
 * marked done (run_mark_done).
 *
 * Journal file: "EEFJ", version (u32), the batch's size n (u64), a digest
 * of its specs (u64: task, prefix and key of every rollout, so a journal
 * of another batch is refused), the number of records (u64), then the
 * records of items [0, count) in traj_wire's exact form; written
 * atomically, all of it, after each chunk.
 *
 * Chunks: at least 64 rollouts a rank (twice what 2 threads keep in
 * flight, 16 lanes each, so the lanes stay full), and at most 8 per batch; the
 * environment variable EEF_JOURNAL_CHUNK (rollouts) replaces the figure
 * (tests). */
#include "run_internal.h"

#include "dist/dist.h"

#include <stdlib.h>
#include <string.h>

static struct {
    char dir[RUN_PATH_MAX];
    char phase[64];
    int batch;  /* batches the phase has run so far */
    int active; /* between run_journal_begin and run_journal_end */
} g_journal;

void run_journal_begin(const run_ctx *r, const char *phase)
{
    snprintf(g_journal.dir, sizeof g_journal.dir, "%s", r->dir);
    snprintf(g_journal.phase, sizeof g_journal.phase, "%s", phase);
    g_journal.batch = 0;
    g_journal.active = 1;
}

static const char *journal_path(run_path *p, int k)
{
    return run_path_in(g_journal.dir, p, "%s.journal.%d", g_journal.phase, k);
}

void run_journal_end(void)
{
    if (!g_journal.active) return;
    g_journal.active = 0;
    if (!run_writer()) return;
    /* every batch's, and one more: a batch a killed run had begun */
    for (int k = 0; k <= g_journal.batch; k++) {
        run_path p;
        remove(journal_path(&p, k));
    }
}

static uint64_t specs_digest(const eef_rollout_spec *s, size_t n)
{
    uint64_t h = EEF_HASH_START;
    for (size_t i = 0; i < n; i++) {
        uint64_t f[4] = { (uint64_t)s[i].split, (uint64_t)s[i].index, (uint64_t)s[i].n_prefix, s[i].key };
        h = eef_hash_bytes(h, f, sizeof f);
        for (size_t a = 0; a < s[i].n_prefix; a++)
            h = eef_hash_bytes(h, s[i].prefix[a], strlen(s[i].prefix[a]) + 1);
    }
    return eef_hash64(h);
}

enum { HEAD = 4 + 4 + 8 + 8 + 8 };

/* The journal's trajectories into out[0..*done); *done 0 when none. */
static eef_err journal_read(const char *path, size_t n, uint64_t digest, eef_traj *out, size_t *done)
{
    *done = 0;
    if (!eef_file_exists(path)) return EEF_OK;
    char *d;
    size_t len;
    EEF_TRY(eef_read_file(path, &d, &len));
    uint32_t ver = 0;
    uint64_t jn = 0, jd = 0, count = 0;
    if (len >= HEAD) {
        memcpy(&ver, d + 4, 4);
        memcpy(&jn, d + 8, 8);
        memcpy(&jd, d + 16, 8);
        memcpy(&count, d + 24, 8);
    }
    eef_err e = EEF_OK;
    if (len < HEAD || memcmp(d, "EEFJ", 4) != 0 || ver != 1)
        e = eef_fail(EEF_EFORMAT, "%s: not a rollout journal of this eef (magic, version)", path);
    else if (jn != n || jd != digest || count > n)
        e = eef_fail(EEF_EFORMAT, "%s: the journal of another batch (%llu rollouts, not %zu, or "
                     "other tasks, states or keys)", path, (unsigned long long)jn, n);
    size_t pos = HEAD, k = 0;
    for (; !e && k < count; k++) {
        uint64_t item;
        e = eef_dist_traj_unpack(d, len, &pos, &item, &out[k]);
        if (!e && item != k) {
            eef_traj_free(&out[k]);
            e = eef_fail(EEF_EFORMAT, "%s: record %zu is item %llu", path, k, (unsigned long long)item);
        }
        if (e) break;
    }
    if (!e && pos != len) e = eef_fail(EEF_EFORMAT, "%s: %zu bytes after the last record", path, len - pos);
    free(d);
    if (e) {
        for (size_t i = 0; i < k; i++) eef_traj_free(&out[i]);
        return e;
    }
    *done = count;
    return EEF_OK;
}

static eef_err journal_write(const char *path, size_t n, uint64_t digest, const eef_traj *t, size_t done)
{
    if (!run_writer()) return EEF_OK;
    eef_buf b;
    eef_buf_init(&b);
    uint32_t ver = 1;
    uint64_t nn = n, count = done;
    eef_err e = eef_buf_append(&b, "EEFJ", 4) || eef_buf_append(&b, &ver, 4) ||
                        eef_buf_append(&b, &nn, 8) || eef_buf_append(&b, &digest, 8) ||
                        eef_buf_append(&b, &count, 8)
                    ? EEF_ENOMEM : EEF_OK;
    for (size_t i = 0; !e && i < done; i++) e = eef_dist_traj_pack(&b, i, &t[i]);
    if (!e) e = eef_write_file_atomic(path, b.data, b.len);
    eef_buf_free(&b);
    return e;
}

static size_t chunk_size(size_t n)
{
    const char *s = getenv("EEF_JOURNAL_CHUNK");
    long v = s && *s ? atol(s) : 0;
    if (v > 0) return (size_t)v;
    /* the same on every rank (each chunk ends in a collective), so from
     * the number of ranks alone: 64 a rank, twice the 32 rollouts in
     * flight of 2 threads' lanes */
    size_t floor = 64 * (size_t)eef_dist_size(), c = (n + 7) / 8;
    return c > floor ? c : floor;
}

eef_err run_rollouts(eef_env *env, eef_policy *policy, const eef_rollout_spec *specs, size_t n,
                     const char *label, eef_traj *out)
{
    if (!g_journal.active || n == 0) return eef_rollout_batch(env, policy, specs, n, label, out);
    run_path p;
    journal_path(&p, g_journal.batch++);
    uint64_t digest = specs_digest(specs, n);
    for (size_t i = 0; i < n; i++) eef_traj_init(&out[i]);
    size_t done;
    EEF_TRY(journal_read(p.s, n, digest, out, &done));
    if (done) eef_info("%s: %zu of %zu rollouts from %s", label ? label : "rollouts", done, n, p.s);
    size_t chunk = chunk_size(n);
    eef_err e = EEF_OK;
    while (!e && done < n) {
        size_t m = n - done < chunk ? n - done : chunk;
        e = eef_rollout_batch(env, policy, specs + done, m, label, out + done);
        if (e) break;
        done += m;
        /* the last chunk's: the phase writes its own files next */
        if (done < n) e = journal_write(p.s, n, digest, out, done);
    }
    if (e)
        for (size_t i = 0; i < done; i++) eef_traj_free(&out[i]);
    return e;
}

eef_err run_evaluate(eef_env *env, eef_policy *policy, eef_split split, size_t n, uint64_t seed,
                     const char *label, eef_traj **trajs, size_t *n_out, eef_eval_summary *sum)
{
    return eef_evaluate_with(run_rollouts, env, policy, split, n, seed, label, trajs, n_out, sum);
}

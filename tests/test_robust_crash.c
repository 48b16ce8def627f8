/* Crash, resume and full disks: `eef run --method eef --preset tiny` is
 * killed with SIGKILL at chosen moments (crash points, EEF_CRASH_AT: during
 * the expert's rollouts, training, writing trajectories and checkpoints,
 * evaluation, exploration, between a rename and the state update) and
 * runs out of disk space (EEF_DISKFULL_AT, and a real full tmpfs when a
 * mount namespace is available), resumed after each; after every
 * interruption each complete file equals the uninterrupted run's, and the
 * end result is byte-identical to it. */
#include "testutil.h"

#include "nn/nn.h"
#include "traj/traj.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>

static char *g_dir; /* scratch directory of the whole group */
static char g_ref[600]; /* the uninterrupted reference run */

/* Runs `eef run --method eef --preset tiny --out out --quiet`, with
 * `var`=`val` in its environment when var is not NULL, output to `log`;
 * returns the wait status. */
static int run_tiny(const char *out, const char *var, const char *val, const char *log)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) _exit(126);
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
        unsetenv("EEF_CRASH_AT");
        unsetenv("EEF_DISKFULL_AT");
        unsetenv("EEF_CRASH_LOG");
        if (var) setenv(var, val, 1);
        execl(tu_eef(), "eef", "run", "--method", "eef", "--preset", "tiny", "--out", out,
              "--quiet", (char *)NULL);
        _exit(127);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static char *slurp(const char *path, size_t *len)
{
    char *d;
    size_t n;
    if (eef_read_file(path, &d, &n)) return NULL;
    if (len) *len = n;
    return d;
}

static int is_tmp(const char *name) { return strstr(name, ".tmp.") != NULL; }

/* Relative names of the files under dir (one level of subdirectories, as
 * a run directory has), sorted. */
static size_t list_files(const char *dir, char names[][64], size_t cap)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[1024];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (stat(p, &st)) continue;
        if (S_ISDIR(st.st_mode)) {
            DIR *s = opendir(p);
            struct dirent *f;
            while (s && (f = readdir(s))) {
                if (f->d_name[0] == '.') continue;
                assert_true(n < cap);
                snprintf(names[n++], 64, "%.20s/%.40s", e->d_name, f->d_name);
            }
            if (s) closedir(s);
        } else {
            assert_true(n < cap);
            snprintf(names[n++], 64, "%.60s", e->d_name);
        }
    }
    closedir(d);
    qsort(names, n, 64, (int (*)(const void *, const void *))strcmp);
    return n;
}

static size_t count_tmp(const char *dir)
{
    char names[256][64];
    size_t n = list_files(dir, names, 256), k = 0;
    for (size_t i = 0; i < n; i++) k += is_tmp(names[i]);
    return k;
}

/* The phases in a state.json, or -1 when it cannot be read. */
static int state_phases(const char *path, char phases[][32], int cap)
{
    char *s = slurp(path, NULL);
    if (!s) return -1;
    cJSON *j = cJSON_Parse(s);
    free(s);
    const cJSON *done = cJSON_GetObjectItemCaseSensitive(j, "done"), *it;
    int n = cJSON_IsArray(done) ? 0 : -1;
    cJSON_ArrayForEach(it, done) {
        if (!cJSON_IsString(it) || n >= cap) {
            n = -1;
            break;
        }
        snprintf(phases[n++], 32, "%s", it->valuestring);
    }
    cJSON_Delete(j);
    return n;
}

/* What must hold in a run directory whatever moment it was interrupted:
 * every complete file is the reference's, byte for byte, except the two
 * that grow (metrics.jsonl: a prefix of the reference's; state.json: its
 * phases a prefix of the reference's) and timing.jsonl (wall times). */
static void check_interrupted(const char *dir, const char *when)
{
    char names[256][64];
    size_t n = list_files(dir, names, 256);
    for (size_t i = 0; i < n; i++) {
        const char *f = names[i];
        /* resume points inside a phase (tune/journal.c, train.c) exist
         * only until it ends */
        if (is_tmp(f) || strcmp(f, "timing.jsonl") == 0 || strstr(f, ".journal.") ||
            strstr(f, ".ckpt."))
            continue;
        char a[1024], b[1024];
        snprintf(a, sizeof a, "%s/%s", dir, f);
        snprintf(b, sizeof b, "%s/%s", g_ref, f);
        if (strcmp(f, "state.json") == 0) {
            char mine[32][32], ref[32][32];
            int nm = state_phases(a, mine, 32), nr = state_phases(b, ref, 32);
            if (nm < 0 || nr < 0 || nm > nr) fail_msg("%s: %s unreadable or too long", when, a);
            for (int k = 0; k < nm; k++)
                if (strcmp(mine[k], ref[k]) != 0)
                    fail_msg("%s: state.json phase %d is %s, the reference's %s", when, k,
                             mine[k], ref[k]);
            continue;
        }
        size_t la = 0, lb = 0;
        char *x = slurp(a, &la), *y = slurp(b, &lb);
        if (!x || !y) fail_msg("%s: %s has no counterpart in the reference run", when, f);
        int prefix = strcmp(f, "metrics.jsonl") == 0;
        int ok = prefix ? la <= lb && memcmp(x, y, la) == 0 && (la == 0 || x[la - 1] == '\n')
                        : la == lb && memcmp(x, y, la) == 0;
        free(x), free(y);
        if (!ok) fail_msg("%s: %s differs from the uninterrupted run's", when, f);
    }
}

static void assert_same_as_ref(const char *dir)
{
    char mine[256][64], ref[256][64];
    size_t nm = list_files(dir, mine, 256), nr = list_files(g_ref, ref, 256);
    size_t i = 0, k = 0;
    for (;;) { /* the same names, timing.jsonl aside */
        while (i < nm && strcmp(mine[i], "timing.jsonl") == 0) i++;
        while (k < nr && strcmp(ref[k], "timing.jsonl") == 0) k++;
        if (i == nm || k == nr) break;
        if (strcmp(mine[i], ref[k]) != 0) fail_msg("file sets differ: %s vs %s", mine[i], ref[k]);
        i++, k++;
    }
    if (i != nm || k != nr) fail_msg("file sets differ in size: %zu vs %zu", nm, nr);
    for (i = 0; i < nm; i++) {
        if (strcmp(mine[i], "timing.jsonl") == 0) continue;
        char a[1024], b[1024];
        snprintf(a, sizeof a, "%s/%s", dir, mine[i]);
        snprintf(b, sizeof b, "%s/%s", g_ref, mine[i]);
        if (!tu_same_file(a, b)) fail_msg("%s differs from the uninterrupted run's", mine[i]);
    }
}

/* Hits of a crash point in the reference run's log (point<TAB>detail
 * lines; details ending in /what or equal to it). */
static long ref_hits(const char *log, const char *point, const char *what)
{
    eef_lines lr;
    assert_ok(eef_lines_open(&lr, log));
    char *line;
    size_t len;
    long n = 0;
    size_t lp = strlen(point), lw = strlen(what);
    while (eef_lines_next(&lr, &line, &len) == EEF_OK && line) {
        if (len <= lp || memcmp(line, point, lp) != 0 || line[lp] != '\t') continue;
        const char *d = line + lp + 1;
        size_t ld = len - lp - 1;
        if ((ld == lw && memcmp(d, what, lw) == 0) ||
            (ld > lw && d[ld - lw - 1] == '/' && memcmp(d + ld - lw, what, lw) == 0))
            n++;
    }
    eef_lines_close(&lr);
    return n;
}

static int group_setup(void **state)
{
    (void)state;
    g_dir = tu_tmpdir();
    if (!g_dir) return -1;
    snprintf(g_ref, sizeof g_ref, "%s/ref", g_dir);
    char log[700], hits[700];
    snprintf(log, sizeof log, "%s/ref.log", g_dir);
    snprintf(hits, sizeof hits, "%s/ref.hits", g_dir);
    pid_t pid = fork();
    if (pid == 0) { /* the reference, logging every crash point it passes */
        setenv("EEF_CRASH_LOG", hits, 1);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1), dup2(fd, 2);
        execl(tu_eef(), "eef", "run", "--method", "eef", "--preset", "tiny", "--out", g_ref,
              "--quiet", (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "reference run failed (see %s)\n", log);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    tu_rmtree(g_dir);
    return 0;
}

/* One interruption: a SIGKILL at a crash point, or a full disk from a
 * point on (the run must then fail with a message naming the file). */
typedef struct {
    int full;            /* 0: EEF_CRASH_AT, 1: EEF_DISKFULL_AT */
    const char *point;   /* crash point */
    const char *what;    /* its detail: a file name or a progress label */
    long n;              /* which hit (in the process; phases restart) */
    const char *moment;  /* for messages */
    int leaves_tmp;      /* a temp file must be left behind (kills while writing) */
} interruption;

static const interruption chain[] = {
    { 0, "progress", "expert on train", 30, "expert rollouts", 0 },
    { 0, "afile.write", "expert_train.jsonl", 20, "writing trajectories", 1 },
    { 0, "progress", "sft", 8, "SFT training", 0 },
    { 0, "afile.write", "sft.eefm", 15, "writing a checkpoint (weights, no CRC)", 1 },
    { 1, "afile.write", "iter_0/eval.jsonl", 10, "disk full writing evaluation trajectories", 0 },
    { 0, "progress", "evaluate", 20, "evaluation", 0 },
    { 0, "afile.synced", "metrics.jsonl", 1, "metrics written, not renamed", 1 },
    { 1, "afile.write", "state.json", 1, "disk full marking a phase done", 0 },
    { 0, "progress", "explore from task starts", 60, "exploration from task starts", 0 },
    { 0, "progress", "explore failures", 80, "exploration of expert failures", 0 },
    { 0, "afile.write", "iter_1/eef.jsonl", 2, "writing EEF solutions", 1 },
    { 0, "progress", "train", 5, "iteration training", 0 },
    { 0, "afile.write", "iter_1/model.eefm", 13, "writing a checkpoint (tokenizer)", 1 },
    { 0, "afile.renamed", "iter_1/model.eefm", 1, "checkpoint renamed, phase not marked", 0 },
    { 1, "afile.write", "iter_1/train.json", 1, "disk full writing train.json", 0 },
    { 0, "progress", "evaluate", 30, "final evaluation", 0 },
    { 1, "afile.write", "metrics.jsonl", 1, "disk full writing metrics", 0 },
    { 0, "afile.synced", "state.json", 2, "marking the run finished", 1 },
};

static void test_kill_and_resume_chain(void **state)
{
    (void)state;
    char hits[700], out[700], log[700];
    snprintf(hits, sizeof hits, "%s/ref.hits", g_dir);
    snprintf(out, sizeof out, "%s/killed", g_dir);
    snprintf(log, sizeof log, "%s/killed.log", g_dir);
    /* every point is reached often enough in an uninterrupted run */
    for (size_t i = 0; i < EEF_ARRAY_LEN(chain); i++) {
        long h = ref_hits(hits, chain[i].point, chain[i].what);
        if (h < chain[i].n)
            fail_msg("crash point %s@%s reached %ld times in the reference run, the test needs %ld",
                     chain[i].point, chain[i].what, h, chain[i].n);
    }
    int kills = 0;
    for (size_t i = 0; i < EEF_ARRAY_LEN(chain); i++) {
        const interruption *c = &chain[i];
        char spec[256];
        snprintf(spec, sizeof spec, "%s@%s:%ld", c->point, c->what, c->n);
        int st = run_tiny(out, c->full ? "EEF_DISKFULL_AT" : "EEF_CRASH_AT", spec, log);
        if (c->full) {
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 1)
                fail_msg("%s (%s): expected exit code 1, got status %#x", c->moment, spec, st);
            char *msg = slurp(log, NULL);
            assert_non_null(msg);
            if (!strstr(msg, c->what) || !strstr(msg, "No space left on device"))
                fail_msg("%s: the message does not name %s and the cause:\n%s", c->moment,
                         c->what, msg);
            free(msg);
            /* the writer removed its temp file */
            assert_int_equal(count_tmp(out), 0);
        } else {
            if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
                fail_msg("%s (%s): not killed (status %#x): the point was not reached", c->moment,
                         spec, st);
            kills++;
            if (c->leaves_tmp && count_tmp(out) == 0)
                fail_msg("%s: no half-written temp file left behind", c->moment);
        }
        check_interrupted(out, c->moment);
    }
    assert_true(kills >= 5);
    int st = run_tiny(out, NULL, NULL, log);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char *msg = slurp(log, NULL);
        fail_msg("final resume failed: %s", msg ? msg : "?");
    }
    assert_int_equal(count_tmp(out), 0); /* every temp file cleaned on resume */
    assert_same_as_ref(out);
}

/* A real full disk: the reference run before its last phase, copied into
 * a small tmpfs (in a private mount namespace) filled to 64 KiB; the
 * resumed run fails writing iter_1/eval.jsonl with ENOSPC and changes
 * nothing; with space freed it finishes with the reference's bytes. */
static void test_real_full_disk(void **state)
{
    (void)state;
    if (system("unshare -rm true >/dev/null 2>&1") != 0) {
        fprintf(stderr, "note: no mount namespace (unshare -rm) here: real full-disk test skipped\n");
        skip();
    }
    char pre[700], mnt[700], cmd[8192], p[800];
    snprintf(pre, sizeof pre, "%s/pre", g_dir);
    snprintf(mnt, sizeof mnt, "%s/mnt", g_dir);
    /* the run as it was before "iter_1.eval": its files, state and metrics */
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s' && rm -f '%s/iter_1/eval.jsonl' '%s/iter_1/eval.json' "
             "'%s/timing.jsonl' && mkdir -p '%s'", g_ref, pre, pre, pre, pre, mnt);
    assert_int_equal(system(cmd), 0);
    char phases[32][32];
    snprintf(p, sizeof p, "%s/state.json", pre);
    int np = state_phases(p, phases, 32);
    assert_true(np >= 2 && strcmp(phases[np - 1], "finished") == 0 &&
                strcmp(phases[np - 2], "iter_1.eval") == 0);
    cJSON *st = cJSON_CreateObject();
    cJSON *done = cJSON_AddArrayToObject(st, "done");
    for (int k = 0; k < np - 2; k++) cJSON_AddItemToArray(done, cJSON_CreateString(phases[k]));
    char *s = cJSON_PrintUnformatted(st);
    size_t ls = strlen(s);
    s = realloc(s, ls + 2);
    s[ls] = '\n', s[ls + 1] = 0;
    assert_ok(eef_write_file_atomic(p, s, ls + 1));
    free(s);
    cJSON_Delete(st);
    snprintf(p, sizeof p, "%s/metrics.jsonl", pre);
    size_t lm;
    char *m = slurp(p, &lm);
    char *nl = strchr(m, '\n');
    assert_non_null(nl);
    assert_ok(eef_write_file_atomic(p, m, (size_t)(nl - m) + 1));
    free(m);

    snprintf(cmd, sizeof cmd,
             "unshare -rm sh -c '"
             "set -u; M=%s; mount -t tmpfs -o size=4m tmpfs $M || exit 3; "
             "cp -r %s $M/run || exit 4; "
             "avail=$(df -k --output=avail $M | tail -1); "
             "dd if=/dev/zero of=$M/filler bs=1k count=$((avail - 64)) 2>/dev/null; "
             "%s run --method eef --preset tiny --out $M/run --quiet > %s/full.log 2>&1; "
             "echo $? > %s/full.rc; cp -r $M/run %s/after_full || exit 5; "
             "rm -f $M/filler; "
             "%s run --method eef --preset tiny --out $M/run --quiet > %s/resume.log 2>&1; "
             "echo $? > %s/resume.rc; cp -r $M/run %s/final || exit 6'",
             mnt, pre, tu_eef(), g_dir, g_dir, g_dir, tu_eef(), g_dir, g_dir, g_dir);
    int rc = system(cmd);
    if (!WIFEXITED(rc) || WEXITSTATUS(rc) == 3) {
        fprintf(stderr, "note: cannot mount a tmpfs here: real full-disk test skipped\n");
        skip();
    }
    assert_int_equal(WEXITSTATUS(rc), 0);
    snprintf(p, sizeof p, "%s/full.rc", g_dir);
    char *t = slurp(p, NULL);
    assert_int_equal(atoi(t), 1);
    free(t);
    snprintf(p, sizeof p, "%s/full.log", g_dir);
    t = slurp(p, NULL);
    if (!strstr(t, "iter_1/eval.jsonl") || !strstr(t, "No space left on device"))
        fail_msg("full disk: unclear message: %s", t);
    free(t);
    /* nothing changed: every file as before, no temp file left */
    snprintf(p, sizeof p, "%s/after_full", g_dir);
    assert_int_equal(count_tmp(p), 0);
    char names[256][64], before[256][64];
    size_t n = list_files(p, names, 256), nb = list_files(pre, before, 256);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], "timing.jsonl") == 0) continue;
        char a[1024], b[1024];
        snprintf(a, sizeof a, "%s/%s", p, names[i]);
        snprintf(b, sizeof b, "%s/%s", pre, names[i]);
        if (!tu_same_file(a, b)) fail_msg("full disk: %s changed or appeared", names[i]);
    }
    if (n != nb) fail_msg("full disk: %zu files after, %zu before", n, nb);
    snprintf(p, sizeof p, "%s/resume.rc", g_dir);
    t = slurp(p, NULL);
    assert_int_equal(atoi(t), 0);
    free(t);
    snprintf(p, sizeof p, "%s/final", g_dir);
    assert_same_as_ref(p);
}

/* eef train killed while writing its second checkpoint leaves a temp
 * file; the resumed run removes it (its writer is dead) and ends with the
 * model and optimizer state of an uninterrupted run, byte for byte; a temp
 * file of a live process (this one) next to the same target stays. */
static void test_train_kill_resume(void **state)
{
    (void)state;
    char dir[700], cmd[4096], p[800];
    snprintf(dir, sizeof dir, "%s/train", g_dir);
    assert_ok(eef_mkdirs(dir));
    snprintf(cmd, sizeof cmd, "cd %s && %s expert --env house --env-opt train=4,test=1 --out h.jsonl "
             "--quiet >/dev/null 2>&1", dir, tu_eef());
    assert_int_equal(system(cmd), 0);
    const char *train = "train --data h.jsonl --preset tiny --vocab 300 --batch 2 --seq 128 "
                        "--steps 6 --save-every 2 --quiet";
    snprintf(cmd, sizeof cmd, "cd %s && %s %s --out ref.eefm >/dev/null 2>&1", dir, tu_eef(), train);
    assert_int_equal(system(cmd), 0);
    /* each checkpoint's weights file takes 16 writes: killed inside the second */
    snprintf(cmd, sizeof cmd, "cd %s && EEF_CRASH_AT=afile.write@m.eefm:21 %s %s --out m.eefm "
             ">/dev/null 2>&1", dir, tu_eef(), train);
    int rc = system(cmd);
    assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 128 + SIGKILL); /* as the shell reports it */
    assert_int_equal(count_tmp(dir), 1);
    snprintf(p, sizeof p, "%s/m.eefm.tmp.%ld", dir, (long)getpid());
    assert_ok(eef_write_file_atomic(p, "live", 4));
    snprintf(cmd, sizeof cmd, "cd %s && %s %s --out m.eefm --resume >/dev/null 2>&1", dir, tu_eef(), train);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(count_tmp(dir), 1); /* only the live one */
    assert_true(eef_file_exists(p));
    unlink(p);
    const char *pairs[][2] = { { "m.eefm", "ref.eefm" }, { "m.eefo", "ref.eefo" } };
    for (size_t i = 0; i < 2; i++) {
        char a[800], b[800];
        snprintf(a, sizeof a, "%s/%s", dir, pairs[i][0]);
        snprintf(b, sizeof b, "%s/%s", dir, pairs[i][1]);
        size_t la, lb;
        char *x = slurp(a, &la), *y = slurp(b, &lb);
        if (!x || !y || la != lb || memcmp(x, y, la) != 0)
            fail_msg("%s after kill + resume differs from an uninterrupted run's", pairs[i][0]);
        free(x), free(y);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_and_resume_chain),
        cmocka_unit_test(test_real_full_disk),
        cmocka_unit_test(test_train_kill_resume),
    };
    return cmocka_run_group_tests_name("robust_crash", tests, group_setup, group_teardown);
}

/* eef replay: re-execute every trajectory of a file in its environment and
 * check the recorded observations and final rewards.  Exit status 0 when
 * all match, 1 when any differs or fails (listed). */
#include "cli.h"
#include "traj/traj.h"

#include <stdlib.h>
#include <string.h>

/* Mismatches listed in full; the rest are counted. */
#define MAX_LISTED 50

/* Prints s quoted, with control characters escaped so one step is one line. */
static void put_quoted(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '\n') fputs("\\n", stdout);
        else if (*p == '\t') fputs("\\t", stdout);
        else if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if (*p < 0x20) printf("\\x%02x", *p);
        else putchar(*p);
    }
    putchar('"');
}

static void print_mismatch(const eef_traj *t, const eef_replay_result *r)
{
    printf("mismatch: %s: ", t->id);
    if (strcmp(r->what, "task") == 0) printf("task not found");
    else if (strcmp(r->what, "reward") == 0) printf("final reward");
    else if (strcmp(r->what, "ended") == 0) printf("episode ended before action %ld", r->step);
    else if (r->step == (long)t->n_steps) printf("final observation");
    else printf("observation before action %ld", r->step);
    if (r->n_mismatch > 1) printf(" (and %zu more differences)", r->n_mismatch - 1);
    printf("\n    expected: ");
    put_quoted(r->expected);
    printf("\n    got:      ");
    put_quoted(r->got);
    printf("\n");
}

/* The world of a file that records its context: rebuilt from the record,
 * with flags that agree with it (or fill what it leaves out); a flag that
 * contradicts it, or a world whose fingerprint differs, is refused. */
static eef_err open_recorded(const char *path, const eef_world *file, const char *env_opt,
                             long seed, const eef_trajset *set, eef_env **out)
{
    eef_world given, use = *file;
    eef_world_init(&given);
    if (env_opt) {
        snprintf(given.env_options, sizeof given.env_options, "%s", env_opt);
        given.have |= EEF_CTX_ENV_OPT;
    }
    if (seed >= 0) {
        given.seed = (uint64_t)seed;
        given.have |= EEF_CTX_SEED;
    }
    EEF_TRY(eef_world_check(file, &given, path, "was given"));
    /* a partial record: what it leaves out comes from the flags */
    if (!(use.have & EEF_CTX_ENV_OPT))
        snprintf(use.env_options, sizeof use.env_options, "%s", env_opt ? env_opt : "");
    if (!(use.have & EEF_CTX_SEED)) use.seed = seed >= 0 ? (uint64_t)seed : 1;
    for (size_t i = 0; i < set->n; i++)
        if (!eef_world_env_is(&use, set->items[i].env))
            return eef_fail(EEF_EFORMAT, "%s: trajectory '%s' is in environment %s, but the file "
                            "records environment %s", path, set->items[i].id, set->items[i].env,
                            use.env);
    return eef_world_open_env(&use, path, out);
}

int cmd_replay(int argc, char **argv)
{
    const char *env_opt = NULL;
    long seed = -1;
    int skip_bad = 0;
    const cli_opt opts[] = {
        { "--env-opt", OPT_STR, &env_opt, "OPTS",
          "environment options (key=value,...), for files that do not record them", 0, 0 },
        { "--seed", OPT_INT, &seed, "S", "seed of the generated world, for files that do not "
          "record it (else 1)", 0, 1e18 },
        { "--skip-bad", OPT_FLAG, &skip_bad, NULL, "skip bad lines (reported on stderr)", 0, 0 },
        { 0 },
    };
    const cli_spec spec = { "replay", "FILE.jsonl [--env-opt OPTS] [--seed S] [--skip-bad]",
                            "re-execute every trajectory in the world the file records; check "
                            "observations and rewards",
                            opts, 1, 1 };
    char **pos;
    int npos, rc = cli_parse(&spec, argc, argv, &pos, &npos);
    if (rc) return rc < 0 ? 0 : rc;

    eef_trajset set = { 0 };
    size_t n_bad = 0;
    eef_world world;
    if (eef_traj_read_ctx(pos[0], skip_bad, &set, &n_bad, &world)) return cli_error("replay");

    /* one environment per distinct name, opened before the parallel part */
    eef_env **env_of = calloc(set.n ? set.n : 1, sizeof *env_of);
    eef_env *envs[16] = { 0 };
    const char *names[16];
    size_t n_envs = 0;
    eef_replay_result *res = calloc(set.n ? set.n : 1, sizeof *res);
    char **errs = calloc(set.n ? set.n : 1, sizeof *errs);
    rc = 0;
    if (!env_of || !res || !errs) {
        eef_fail(EEF_ENOMEM, "out of memory");
        rc = cli_error("replay");
        goto out;
    }
    if (world.have & EEF_CTX_ENV) {
        if (open_recorded(pos[0], &world, env_opt, seed, &set, &envs[0])) {
            rc = cli_error("replay");
            goto out;
        }
        n_envs = 1;
        for (size_t i = 0; i < set.n; i++) env_of[i] = envs[0];
    } else {
        char note[600];
        eef_world_describe(&world, note, sizeof note);
        fprintf(stderr, "eef replay: %s: %s; replaying in the world of seed %ld, %s%s\n", pos[0],
                note, seed >= 0 ? seed : 1, env_opt ? "options " : "default options",
                env_opt ? env_opt : "");
        if (seed < 0) seed = 1;
    }
    for (size_t i = 0; i < set.n && !rc && !(world.have & EEF_CTX_ENV); i++) {
        size_t k = 0;
        while (k < n_envs && strcmp(names[k], set.items[i].env) != 0) k++;
        if (k == n_envs) {
            if (n_envs == EEF_ARRAY_LEN(envs)) {
                eef_fail(EEF_EINVAL, "%s: more than %zu environments in one file", pos[0],
                         EEF_ARRAY_LEN(envs));
                rc = cli_error("replay");
                break;
            }
            if (eef_env_open(set.items[i].env, env_opt, (uint64_t)seed, &envs[k])) {
                eef_fail_ctx(EEF_EINVAL, "%s: trajectory '%s'", pos[0], set.items[i].id);
                rc = cli_error("replay");
                break;
            }
            names[n_envs++] = set.items[i].env;
        }
        env_of[i] = envs[k];
    }
    if (rc) goto out;

    eef_progress prog;
    eef_progress_begin(&prog, "replay", (double)set.n, "traj");
#pragma omp parallel for schedule(dynamic)
    for (size_t i = 0; i < set.n; i++) {
        if (eef_traj_replay(env_of[i], &set.items[i], &res[i]) != EEF_OK) {
            errs[i] = strdup(eef_errmsg());
            res[i].matched = 0;
        }
        eef_progress_add(&prog, 1);
    }
    eef_progress_end(&prog);

    size_t matched = 0, listed = 0;
    for (size_t i = 0; i < set.n; i++) {
        if (res[i].matched) {
            matched++;
            continue;
        }
        if (listed++ >= MAX_LISTED) continue;
        if (errs[i]) printf("error: %s: %s\n", set.items[i].id, errs[i]);
        else print_mismatch(&set.items[i], &res[i]);
    }
    if (listed > MAX_LISTED) printf("(%zu more not listed)\n", listed - MAX_LISTED);
    printf("%zu replayed, %zu matched", set.n, matched);
    if (n_bad) printf(" (%zu bad lines skipped)", n_bad);
    printf("\n");
    rc = matched == set.n ? 0 : 1;
out:
    for (size_t i = 0; i < set.n; i++) {
        if (res) eef_replay_result_free(&res[i]);
        if (errs) free(errs[i]);
    }
    for (size_t k = 0; k < n_envs; k++) eef_env_close(envs[k]);
    free(env_of);
    free(res);
    free(errs);
    eef_trajset_free(&set);
    return rc;
}

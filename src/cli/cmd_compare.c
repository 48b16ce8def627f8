/* eef compare: runs side by side, and methods pooled over seeds with their
 * paired differences (docs/statistics.md). */
#include "cli.h"

#include "eval/eval.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* --iter: "last", "all" or an iteration number */
static int parse_iter(const char *s, long *out)
{
    if (!s || strcmp(s, "last") == 0) return *out = EEF_ITER_LAST, 0;
    if (strcmp(s, "all") == 0) return *out = EEF_ITER_ALL, 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 0 || v > 1000000) return -1;
    *out = v;
    return 0;
}

int cmd_compare(int argc, char **argv)
{
    const char *md = NULL, *iter = NULL;
    int json = 0, pool = 0;
    long reps = 10000;
    const cli_opt opts[] = {
        { "--md", OPT_STR, &md, "FILE", "also write a Markdown report with SVG plots ('-': print "
          "the methods compared, in Markdown, instead of the table)", 0, 0 },
        { "--json", OPT_FLAG, &json, NULL, "print JSON instead (with --pool: the methods compared)", 0, 0 },
        { "--pool", OPT_FLAG, &pool, NULL, "pool each method over the runs (seeds) and compare every "
          "pair of methods on the tasks both answered", 0, 0 },
        { "--iter", OPT_STR, &iter, "N|last|all", "the iteration methods are compared at: N, each "
          "run's last (default), or every iteration", 0, 0 },
        { "--reps", OPT_INT, &reps, "N", "bootstrap resamples of the paired differences (default "
          "10000)", 100, 10000000 },
        { 0 },
    };
    const cli_spec spec = { "compare",
                            "RUN_DIR... [--pool] [--iter N|last|all] [--md FILE|-] [--json] [--reps N]",
                            "compare runs: test win rate, score, tiers, solved tasks, cost; methods "
                            "pooled over seeds with paired differences", opts, 1, 64 };
    char **pos;
    int npos;
    int rc = cli_parse(&spec, argc, argv, &pos, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    eef_compare_opts co = { .reps = (size_t)reps };
    int md_stdout = md && strcmp(md, "-") == 0;
    if (parse_iter(iter, &co.iter) != 0 || (md_stdout && json)) {
        if (md_stdout && json) fprintf(stderr, "eef compare: --md - and --json both print; choose one\n");
        else fprintf(stderr, "eef compare: --iter takes a number, 'last' or 'all', not '%s'\n", iter);
        cli_usage(&spec, stderr);
        return 2;
    }
    eef_run_view *v = eef_calloc((size_t)npos, sizeof *v);
    if (!v) return cli_error("compare");
    int n = 0;
    eef_err e = EEF_OK;
    for (; n < npos && !e; n++) {
        e = eef_run_view_load(pos[n], &v[n]);
        if (e) break;
    }
    if (!e && json) {
        cJSON *j = NULL;
        if (pool) e = eef_compare_pool_json(v, (size_t)n, &co, &j);
        else j = eef_compare_json(v, (size_t)n);
        char *s = j ? cJSON_Print(j) : NULL;
        if (s) printf("%s\n", s);
        cJSON_free(s);
        cJSON_Delete(j);
    } else if (!e) {
        eef_buf t;
        eef_buf_init(&t);
        if (md_stdout) e = eef_compare_pool_md(v, (size_t)n, &co, &t);
        else if (pool) e = eef_compare_pool(v, (size_t)n, &co, &t);
        else e = eef_compare_table(v, (size_t)n, &t);
        if (!e) fputs(t.data ? t.data : "", stdout);
        eef_buf_free(&t);
    }
    if (!e && md && !md_stdout) {
        e = eef_compare_report(v, (size_t)n, md, &co);
        if (!e && !json) printf("report: %s\n", md);
    }
    for (int i = 0; i < n; i++) eef_run_view_free(&v[i]);
    free(v);
    return e ? cli_error("compare") : 0;
}

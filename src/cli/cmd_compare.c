/* eef compare: runs side by side. */
#include "cli.h"

#include "eval/eval.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

int cmd_compare(int argc, char **argv)
{
    const char *md = NULL;
    int json = 0, pool = 0;
    const cli_opt opts[] = {
        { "--md", OPT_STR, &md, "FILE", "also write a Markdown report with SVG plots", 0, 0 },
        { "--json", OPT_FLAG, &json, NULL, "print JSON (one object per run) instead", 0, 0 },
        { "--pool", OPT_FLAG, &pool, NULL, "pool each method's last evaluation over the runs (seeds)", 0, 0 },
        { 0 },
    };
    const cli_spec spec = { "compare", "RUN_DIR... [--md FILE] [--json] [--pool]",
                            "compare runs: test win rate, score, tiers, solved tasks, cost", opts,
                            1, 64 };
    char **pos;
    int npos;
    int rc = cli_parse(&spec, argc, argv, &pos, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    eef_run_view *v = eef_calloc((size_t)npos, sizeof *v);
    if (!v) return cli_error("compare");
    int n = 0;
    eef_err e = EEF_OK;
    for (; n < npos && !e; n++) {
        e = eef_run_view_load(pos[n], &v[n]);
        if (e) break;
    }
    if (!e && json) {
        cJSON *j = eef_compare_json(v, (size_t)n);
        char *s = cJSON_Print(j);
        if (s) printf("%s\n", s);
        cJSON_free(s);
        cJSON_Delete(j);
    } else if (!e) {
        eef_buf t;
        eef_buf_init(&t);
        e = pool ? eef_compare_pool(v, (size_t)n, &t) : eef_compare_table(v, (size_t)n, &t);
        if (!e) fputs(t.data ? t.data : "", stdout);
        eef_buf_free(&t);
    }
    if (!e && md) {
        e = eef_compare_report(v, (size_t)n, md);
        if (!e && !json) printf("report: %s\n", md);
    }
    for (int i = 0; i < n; i++) eef_run_view_free(&v[i]);
    free(v);
    return e ? cli_error("compare") : 0;
}

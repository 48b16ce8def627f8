/* eef demo: expert -> SFT -> RFT -> EEF on the built-in shop, compared. */
#include "cli.h"

#include "eval/eval.h"
#include "tune/tune.h"

#include <stdlib.h>
#include <string.h>

int cmd_demo(int argc, char **argv)
{
    const char *out = "runs/demo", *preset = "demo";
    long seed = 1, threads = 0;
    int quiet = 0;
    const cli_opt opts[] = {
        { "--out", OPT_STR, &out, "DIR", "where the three runs and the report go", 0, 0 },
        { "--preset", OPT_STR, &preset, "P", "demo (default) or tiny", 0, 0 },
        { "--seed", OPT_INT, &seed, "S", "seed", 0, 1L << 52 },
        { "--threads", OPT_INT, &threads, "N", "threads (0: all cores)", 0, 1024 },
        { "--quiet", OPT_FLAG, &quiet, NULL, "no progress bars", 0, 0 },
        { 0 },
    };
    const cli_spec spec = { "demo", "[--out DIR] [--seed S]",
                            "expert -> SFT -> RFT -> EEF on the shop, then the comparison", opts,
                            0, 0 };
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    cli_set_threads(threads);
    eef_progress_set_quiet(quiet);
    double t0 = eef_now();
    char dirs[3][1024];
    const eef_method methods[3] = { EEF_METHOD_SFT, EEF_METHOD_RFT, EEF_METHOD_EEF };
    for (int i = 0; i < 3; i++) {
        snprintf(dirs[i], sizeof dirs[i], "%s/%s", out, eef_method_name(methods[i]));
        eef_run_config c;
        if (eef_run_preset(preset, methods[i], "shop", &c)) return cli_error("demo");
        c.seed = (uint64_t)seed;
        printf("== %s: %s\n", eef_method_name(methods[i]), dirs[i]);
        fflush(stdout);
        int finished;
        /* RFT starts from the SFT run; EEF from the RFT run, whose
         * rollouts from the task starts are its own first half */
        if (eef_run(&c, dirs[i], i ? dirs[i - 1] : NULL, &finished)) return cli_error("demo");
    }
    eef_run_view v[3];
    int n = 0;
    eef_err e = EEF_OK;
    for (; n < 3 && !e; n++)
        if ((e = eef_run_view_load(dirs[n], &v[n]))) break;
    char md[1100];
    snprintf(md, sizeof md, "%s/report.md", out);
    if (!e) {
        eef_buf t;
        eef_buf_init(&t);
        e = eef_compare_table(v, (size_t)n, &t);
        if (!e) printf("\n%s", t.data ? t.data : "");
        eef_buf_free(&t);
    }
    if (!e) e = eef_compare_report(v, (size_t)n, md, NULL);
    for (int i = 0; i < n; i++) eef_run_view_free(&v[i]);
    if (e) return cli_error("demo");
    printf("\nreport: %s   (%.0f s)\n", md, eef_now() - t0);
    return 0;
}

/* eef paper: every row of the paper's table (Lan et al. 2025, WebShop: GPT-4
 * 35.6, SFT 46.4, ETO 42.0, RFT 52.0, RFT x6 53.6, EEF on GPT-4's failures
 * 58.4, EEF on GPT-3.5's and GPT-4's 62.0), on the shop and the house, for
 * N seeds, then the table with the intervals of `eef compare --pool`.
 *
 * Layout: OUT/WORLD/seed-S/ROW/ is one run directory per row:
 *   sft          the expert's wins cloned (its expert.json is the expert row)
 *   rft          from sft
 *   eef          from rft (its iteration-1 rollouts from the starts are rft's)
 *   eto          from sft: explore, pair failures with the expert's wins, DPO
 *   rft-matched  from sft, K set from eef's rollouts (--match-rollouts)
 *   eef-both     expert "builtin,weak": SFT clones both experts' wins, EEF
 *                explores both experts' failures
 * Every run resumes where it was (eef run's directories), so a killed
 * `eef paper` continues with the first unfinished run.  In an MPI job every
 * rank runs every run (eef run shares each out) and rank 0 writes the
 * tables.  OUT/paper.md: the table in the paper's shape, the paired
 * differences that decide it, one table per iteration (up to 3), and the
 * wall time of each row; OUT/WORLD/table.md: eef compare --pool --md. */
#include "cli.h"

#include "dist/dist.h"
#include "eval/eval.h"
#include "tune/tune.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name; /* directory, and the label of a second row of a method */
    eef_method method;
    const char *from; /* the row it starts from, or NULL */
    const char *expert;
    int match;        /* rft: K from the eef row's rollouts */
    const char *title;
    double paper;     /* the paper's WebShop win % for the row */
} paper_row;

static const paper_row ROWS[] = {
    { "sft", EEF_METHOD_SFT, NULL, "builtin", 0, "SFT", 46.4 },
    { "rft", EEF_METHOD_RFT, "sft", "builtin", 0, "RFT", 52.0 },
    { "eef", EEF_METHOD_EEF, "rft", "builtin", 0, "EEF (expert's failures)", 58.4 },
    { "eto", EEF_METHOD_ETO, "sft", "builtin", 0, "ETO", 42.0 },
    { "rft-matched", EEF_METHOD_RFT, "sft", "builtin", 1, "RFT, as many rollouts as EEF", 53.6 },
    { "eef-both", EEF_METHOD_EEF, NULL, "builtin,weak", 0, "EEF (both experts' failures)", 62.0 },
};
#define N_ROWS (sizeof ROWS / sizeof *ROWS)

static const char *const WORLDS[] = { "shop", "house" };

/* What to run: worlds and rows picked by name (all by default). */
typedef struct {
    int world[2];
    int row[N_ROWS];
} selection;

static int pick(const char *list, const char *name)
{
    if (!list) return 1;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        size_t k = strcspn(p, ",");
        if (k == n && strncmp(p, name, n) == 0) return 1;
        p += k + (p[k] == ',');
    }
    return 0;
}

static int select_parse(const char *worlds, const char *rows, selection *sel)
{
    int any_w = 0, any_r = 0;
    for (int k = 0; k < 2; k++) any_w |= sel->world[k] = pick(worlds, WORLDS[k]);
    for (size_t r = 0; r < N_ROWS; r++) any_r |= sel->row[r] = pick(rows, ROWS[r].name);
    /* a row needs the rows it starts from (and rft-matched the eef row) */
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t r = 0; r < N_ROWS; r++) {
            if (!sel->row[r]) continue;
            for (size_t b = 0; b < N_ROWS; b++)
                if (!sel->row[b] && ((ROWS[r].from && strcmp(ROWS[b].name, ROWS[r].from) == 0) ||
                                     (ROWS[r].match && strcmp(ROWS[b].name, "eef") == 0)))
                    sel->row[b] = 1, changed = 1;
        }
    }
    return any_w && any_r;
}

static void row_dir(char *out, size_t cap, const char *root, const char *world, long seed,
                    const char *row)
{
    snprintf(out, cap, "%s/%s/seed-%ld/%s", root, world, seed, row);
}

static eef_err run_row(const char *root, const char *preset, long iters, const char *world,
                       long seed, const paper_row *r)
{
    char dir[1024], from[1024], eef_dir[1024];
    row_dir(dir, sizeof dir, root, world, seed, r->name);
    eef_run_config c;
    EEF_TRY(eef_run_preset(preset, r->method, world, &c));
    c.seed = (uint64_t)seed;
    /* the iterations of the rows that iterate; ETO keeps its 2 rounds */
    if (iters > 0 && r->method != EEF_METHOD_SFT && r->method != EEF_METHOD_ETO) c.iters = (int)iters;
    snprintf(c.expert, sizeof c.expert, "%s", r->expert);
    if (strcmp(r->name, eef_method_name(r->method)) != 0)
        snprintf(c.label, sizeof c.label, "%s", r->name);
    if (r->match) {
        row_dir(eef_dir, sizeof eef_dir, root, world, seed, "eef");
        EEF_TRY(eef_run_match_rollouts(&c, eef_dir));
    }
    if (r->from) row_dir(from, sizeof from, root, world, seed, r->from);
    if (eef_dist_rank() == 0) {
        printf("== %s seed %ld %s: %s\n", world, seed, r->name, dir);
        fflush(stdout);
    }
    int finished;
    return eef_run(&c, dir, r->from ? from : NULL, &finished);
}

/* ------------------------------------------------------------ the table */
typedef struct {
    eef_run_view *v;
    size_t n;
} views;

static void views_free(views *w)
{
    for (size_t i = 0; i < w->n; i++) eef_run_view_free(&w->v[i]);
    free(w->v);
    memset(w, 0, sizeof *w);
}

static eef_err views_load(const char *root, const char *world, long seeds, const selection *sel,
                          views *w)
{
    w->v = eef_calloc((size_t)seeds * N_ROWS, sizeof *w->v);
    w->n = 0;
    if (!w->v) return EEF_ENOMEM;
    char dir[1024];
    for (long s = 1; s <= seeds; s++)
        for (size_t r = 0; r < N_ROWS; r++) {
            if (!sel->row[r]) continue;
            row_dir(dir, sizeof dir, root, world, s, ROWS[r].name);
            EEF_TRY(eef_run_view_load(dir, &w->v[w->n]));
            w->n++;
        }
    return EEF_OK;
}

static const cJSON *find_method(const cJSON *block, const char *m)
{
    const cJSON *x;
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(block, "methods"))
    {
        const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "method"));
        if (s && strcmp(s, m) == 0) return x;
    }
    return NULL;
}

/* The pair (a, b) of a block, and whether it is stored as (b, a). */
static const cJSON *find_pair(const cJSON *block, const char *a, const char *b, int *swapped)
{
    const cJSON *x;
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(block, "pairs"))
    {
        const char *pa = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "a"));
        const char *pb = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "b"));
        if (!pa || !pb) continue;
        if (strcmp(pa, a) == 0 && strcmp(pb, b) == 0) return *swapped = 0, x;
        if (strcmp(pa, b) == 0 && strcmp(pb, a) == 0) return *swapped = 1, x;
    }
    return NULL;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void cell_rate(eef_buf *out, const cJSON *block, const char *m)
{
    const cJSON *x = block ? find_method(block, m) : NULL;
    if (!x) {
        eef_buf_puts(out, " | -");
        return;
    }
    eef_buf_printf(out, " | %.1f [%.1f, %.1f]", 100 * num(x, "win"), 100 * num(x, "win_lo"),
                   100 * num(x, "win_hi"));
}

static void cell_pair(eef_buf *out, const cJSON *block, const char *a, const char *b)
{
    int sw = 0;
    const cJSON *p = block ? find_pair(block, a, b, &sw) : NULL;
    if (!p) {
        eef_buf_puts(out, " | -");
        return;
    }
    double d = num(p, "diff"), lo = num(p, "diff_lo"), hi = num(p, "diff_hi"), poi = num(p, "poi");
    if (sw) d = -d, lo = -num(p, "diff_hi"), hi = -num(p, "diff_lo"), poi = 1 - poi;
    eef_buf_printf(out, " | %+.1f [%+.1f, %+.1f], P(A>B) %.2f, p %.3g%s", 100 * d, 100 * lo,
                   100 * hi, poi, num(p, "p"), lo > 0 ? " **above 0**" : "");
}

/* The weak expert's test win rate: eef-both's expert.json lists both. */
static void weak_expert_cell(eef_buf *out, const views *w)
{
    double k = 0, n = 0;
    for (size_t i = 0; i < w->n; i++) {
        const cJSON *ex = cJSON_GetObjectItemCaseSensitive(w->v[i].expert, "experts"), *x;
        cJSON_ArrayForEach(x, ex)
        {
            const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "expert"));
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(x, "test");
            if (name && strcmp(name, "weak") == 0 && t) {
                k += num(t, "win") * num(t, "n");
                n += num(t, "n");
            }
        }
    }
    if (n == 0) {
        eef_buf_puts(out, " | -");
        return;
    }
    double lo, hi;
    eef_wilson((size_t)(k + 0.5), (size_t)n, &lo, &hi);
    eef_buf_printf(out, " | %.1f [%.1f, %.1f]", 100 * k / n, 100 * lo, 100 * hi);
}

/* Seconds of a run's phase (timing.jsonl; every phase when NULL). */
static double phase_seconds(const char *dir, const char *phase)
{
    char p[1100];
    snprintf(p, sizeof p, "%s/timing.jsonl", dir);
    eef_lines lr;
    double s = 0;
    if (eef_lines_open(&lr, p)) return 0;
    char *line;
    size_t len;
    while (eef_lines_next(&lr, &line, &len) == EEF_OK && line) {
        cJSON *j = cJSON_ParseWithLength(line, len);
        const char *ph = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "phase"));
        if (!phase || (ph && strcmp(ph, phase) == 0)) s += num(j, "seconds");
        cJSON_Delete(j);
    }
    eef_lines_close(&lr);
    return s;
}

/* Seconds a row spent itself: a run built --from a base records the
 * base's cost for the phases it copied (expert, sft, iter_0.eval, and for
 * EEF from RFT the rollouts from the starts of iteration 1), counted here
 * once, in the base's row. */
static double row_own_seconds(const char *root, const char *world, long seed, const paper_row *r)
{
    char dir[1024], base[1024];
    row_dir(dir, sizeof dir, root, world, seed, r->name);
    double s = phase_seconds(dir, NULL);
    if (!r->from) return s;
    row_dir(base, sizeof base, root, world, seed, r->from);
    static const char *const copied[] = { "expert", "sft", "iter_0.eval" };
    for (size_t i = 0; i < EEF_ARRAY_LEN(copied); i++) s -= phase_seconds(base, copied[i]);
    if (r->method == EEF_METHOD_EEF && strcmp(r->from, "rft") == 0)
        s -= phase_seconds(base, "iter_1.explore");
    return s > 0 ? s : 0;
}

static eef_err write_tables(const char *root, long seeds, const char *preset, const selection *sel,
                            double wall)
{
    cJSON *last[2] = { 0 }, *per_iter[2][3] = { { 0 } };
    views w[2] = { { 0 } };
    eef_err e = EEF_OK;
    eef_buf md;
    eef_buf_init(&md);
    for (int k = 0; k < 2 && !e; k++) {
        if (!sel->world[k]) continue;
        e = views_load(root, WORLDS[k], seeds, sel, &w[k]);
        eef_compare_opts o = { .iter = EEF_ITER_LAST, .reps = 10000 };
        if (!e) e = eef_compare_pool_json(w[k].v, w[k].n, &o, &last[k]);
        /* iteration N: the runs that reached it (and SFT, at its 0) */
        eef_run_view *sub = e ? NULL : eef_calloc(w[k].n ? w[k].n : 1, sizeof *sub);
        if (!e && !sub) e = EEF_ENOMEM;
        for (int it = 1; it <= 3 && !e; it++) {
            size_t ns = 0;
            for (size_t i = 0; i < w[k].n; i++) {
                int has = w[k].v[i].n_iters == 1; /* SFT: its 0 */
                for (size_t q = 0; q < w[k].v[i].n_iters; q++)
                    has |= num(w[k].v[i].iters[q], "iter") == (double)it;
                if (has) sub[ns++] = w[k].v[i]; /* shallow: w owns them */
            }
            o.iter = it;
            cJSON *j = NULL;
            if (ns && eef_compare_pool_json(sub, ns, &o, &j) == EEF_OK) per_iter[k][it - 1] = j;
        }
        free(sub);
        /* the world's own pooled table, as eef compare --pool --md prints it */
        eef_buf t;
        eef_buf_init(&t);
        o.iter = EEF_ITER_ALL;
        if (!e) e = eef_compare_pool_md(w[k].v, w[k].n, &o, &t);
        char p[1100];
        snprintf(p, sizeof p, "%s/%s/table.md", root, WORLDS[k]);
        if (!e) e = eef_write_file_atomic(p, t.data ? t.data : "", t.len);
        eef_buf_free(&t);
    }
    if (e) goto out;
    const cJSON *b0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(last[0], "iterations"), 0);
    const cJSON *b1 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(last[1], "iterations"), 0);
    eef_buf_printf(&md, "# The paper's table, measured\n\n"
                        "`eef paper --seeds %ld --preset %s --out %s`: test win %% pooled over %ld "
                        "seed%s, with the Wilson 95%% interval of the pooled rate; each run at its "
                        "last iteration. The paper's column is its WebShop table (11k tasks, "
                        "Llama-3-8B agents; GPT-4 and GPT-3.5 as the experts).\n\n",
                   seeds, preset, root, seeds, seeds == 1 ? "" : "s");
    eef_buf_puts(&md, "| row | shop | house | paper (WebShop) |\n| --- | --- | --- | --- |\n");
    eef_buf_puts(&md, "| expert (builtin, the paper's GPT-4)");
    cell_rate(&md, b0, "expert"), cell_rate(&md, b1, "expert");
    eef_buf_puts(&md, " | 35.6 |\n| weak expert (the paper's GPT-3.5)");
    weak_expert_cell(&md, &w[0]), weak_expert_cell(&md, &w[1]);
    eef_buf_puts(&md, " | - |\n");
    static const char *const order[] = { "sft", "eto", "rft", "rft-matched", "eef", "eef-both" };
    for (size_t i = 0; i < EEF_ARRAY_LEN(order); i++) {
        const paper_row *r = NULL;
        for (size_t k = 0; k < N_ROWS; k++)
            if (strcmp(ROWS[k].name, order[i]) == 0) r = &ROWS[k];
        eef_buf_printf(&md, "| %s (`%s`)", r->title, r->name);
        cell_rate(&md, b0, r->name), cell_rate(&md, b1, r->name);
        eef_buf_printf(&md, " | %.1f |\n", r->paper);
    }
    eef_buf_puts(&md, "\nPaired differences A - B in test win points: the stratified paired bootstrap "
                      "over seeds and test tasks (95% interval), P(A > B), McNemar's exact p pooled "
                      "over seeds (docs/statistics.md).\n\n"
                      "| A - B | shop | house |\n| --- | --- | --- |\n");
    static const char *const pairs[][2] = {
        { "eef", "rft-matched" }, { "eef", "rft" },  { "eef-both", "eef" }, { "eef-both", "rft-matched" },
        { "rft-matched", "rft" }, { "eto", "sft" },  { "rft", "sft" },      { "eef", "eto" },
    };
    for (size_t i = 0; i < EEF_ARRAY_LEN(pairs); i++) {
        eef_buf_printf(&md, "| %s - %s", pairs[i][0], pairs[i][1]);
        cell_pair(&md, b0, pairs[i][0], pairs[i][1]);
        cell_pair(&md, b1, pairs[i][0], pairs[i][1]);
        eef_buf_puts(&md, " |\n");
    }
    eef_buf_puts(&md, "\n## Per iteration\n\nEvery run at iteration N (SFT at its 0): test win %.\n\n"
                      "| row | shop 1 | shop 2 | shop 3 | house 1 | house 2 | house 3 |\n"
                      "| --- | --- | --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < EEF_ARRAY_LEN(order); i++) {
        eef_buf_printf(&md, "| %s", order[i]);
        for (int k = 0; k < 2; k++)
            for (int it = 0; it < 3; it++) {
                const cJSON *b = per_iter[k][it]
                                     ? cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(per_iter[k][it], "iterations"), 0)
                                     : NULL;
                cell_rate(&md, b, order[i]);
            }
        eef_buf_puts(&md, " |\n");
    }
    eef_buf_printf(&md, "\n## Wall time\n\nSeconds per run, mean over seeds (timing.jsonl; a row "
                        "built from another counts the phases it copied as the base's cost). This "
                        "`eef paper` took %.0f s in this call.\n\n| row | shop | house |\n| --- | --- | --- |\n",
                   wall);
    double tot[2] = { 0, 0 };
    for (size_t r = 0; r < N_ROWS; r++) {
        if (!sel->row[r]) continue;
        eef_buf_printf(&md, "| %s", ROWS[r].name);
        for (int k = 0; k < 2; k++) {
            double s = 0;
            for (long sd = 1; sd <= seeds; sd++) s += row_own_seconds(root, WORLDS[k], sd, &ROWS[r]);
            tot[k] += s;
            eef_buf_printf(&md, " | %.0f", s / (double)seeds);
        }
        eef_buf_puts(&md, " |\n");
    }
    eef_buf_printf(&md, "| all rows, all seeds | %.0f | %.0f |\n", tot[0], tot[1]);
    char p[1100];
    snprintf(p, sizeof p, "%s/paper.md", root);
    e = eef_write_file_atomic(p, md.data, md.len);
    if (!e) printf("\n%s\ntable: %s\n", md.data, p);
out:
    for (int k = 0; k < 2; k++) {
        cJSON_Delete(last[k]);
        for (int it = 0; it < 3; it++) cJSON_Delete(per_iter[k][it]);
        views_free(&w[k]);
    }
    eef_buf_free(&md);
    return e;
}

int cmd_paper(int argc, char **argv)
{
    const char *out = "runs/paper", *preset = "demo", *worlds = NULL, *rows = NULL;
    long seeds = 3, threads = 0, iters = 0;
    int quiet = 0, table_only = 0;
    const cli_opt opts[] = {
        { "--seeds", OPT_INT, &seeds, "N", "seeds 1..N of every row (default 3)", 1, 1000 },
        { "--out", OPT_STR, &out, "DIR", "where the runs and the table go (default runs/paper)", 0, 0 },
        { "--preset", OPT_STR, &preset, "P", "run preset: demo (default) or tiny", 0, 0 },
        { "--iters", OPT_INT, &iters, "N", "iterations of RFT, EEF and their variants (0: the "
          "preset's; the paper's ~3: make paper); ETO runs its 2 rounds", 0, 100 },
        { "--worlds", OPT_STR, &worlds, "W,..", "shop, house or both (default)", 0, 0 },
        { "--rows", OPT_STR, &rows, "R,..", "rows to run (default all: sft, rft, eef, eto, "
          "rft-matched, eef-both; a row brings the rows it starts from)", 0, 0 },
        { "--table", OPT_FLAG, &table_only, NULL, "only write the table from the runs there", 0, 0 },
        { "--threads", OPT_INT, &threads, "N", "threads (0: all cores)", 0, 1024 },
        { "--quiet", OPT_FLAG, &quiet, NULL, "no progress bars", 0, 0 },
        { 0 },
    };
    const cli_spec spec = { "paper", "[--seeds N] [--out DIR] [--preset demo|tiny]",
                            "every row of the paper's table on the shop and the house, N seeds, "
                            "resumable; then the table with paired intervals", opts, 0, 0 };
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    selection sel;
    if (!select_parse(worlds, rows, &sel)) {
        fprintf(stderr, "eef paper: --worlds takes shop and/or house, --rows names of rows\n");
        cli_usage(&spec, stderr);
        return 2;
    }
    cli_set_threads(threads);
    eef_progress_set_quiet(quiet);
    double t0 = eef_now();
    eef_err e = EEF_OK;
    for (size_t k = 0; !table_only && !e && k < EEF_ARRAY_LEN(WORLDS); k++)
        for (long s = 1; sel.world[k] && !e && s <= seeds; s++)
            for (size_t r = 0; !e && r < N_ROWS; r++)
                if (sel.row[r]) e = run_row(out, preset, iters, WORLDS[k], s, &ROWS[r]);
    if (!e && eef_dist_rank() == 0) e = write_tables(out, seeds, preset, &sel, eef_now() - t0);
    return e ? cli_error("paper") : 0;
}

/* report.c: `eef compare` — runs side by side as a table, as JSON, and as
 * report.md with SVG plots. */
#include "eval.h"
#include "eval_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A row of the comparison: the expert's (of the first run that has one),
 * then one per iteration of each run.  NAN: not known. */
typedef struct {
    const char *name, *method, *iter;
    const cJSON *test;
    double solved, tasks, rollouts, wall;
} compare_row;

typedef void (*row_fn)(eef_buf *b, const compare_row *row);

static void for_each_row(const eef_run_view *runs, size_t n, eef_buf *b, row_fn fn)
{
    for (size_t r = 0; r < n; r++)
        if (runs[r].expert) {
            const cJSON *tr = cJSON_GetObjectItemCaseSensitive(runs[r].expert, "train");
            compare_row row = { "expert", "expert", "-",
                                cJSON_GetObjectItemCaseSensitive(runs[r].expert, "test"),
                                eval_num(tr, "win") * eval_num(tr, "n"), eval_num(tr, "n"), NAN, NAN };
            fn(b, &row);
            break;
        }
    for (size_t r = 0; r < n; r++)
        for (size_t i = 0; i < runs[r].n_iters; i++) {
            const cJSON *it = runs[r].iters[i];
            char iter[16];
            snprintf(iter, sizeof iter, "%.0f", eval_num(it, "iter"));
            compare_row row = { runs[r].dir, runs[r].method, iter,
                                cJSON_GetObjectItemCaseSensitive(it, "test"),
                                eval_num(it, "train_solved"), eval_num(it, "train_tasks"),
                                eval_num(it, "rollouts"), runs[r].wall[i] };
            fn(b, &row);
        }
}

static void row_text(eef_buf *b, const compare_row *row)
{
    const char *name = row->name, *method = row->method, *iter = row->iter;
    const cJSON *test = row->test;
    double solved = row->solved, tasks = row->tasks, rollouts = row->rollouts, wall = row->wall;
    char solv[32] = "-", roll[32] = "-", wl[32] = "-";
    if (!isnan(solved)) snprintf(solv, sizeof solv, "%.0f/%.0f", solved, tasks);
    if (!isnan(rollouts)) snprintf(roll, sizeof roll, "%.0f", rollouts);
    if (!isnan(wall) && wall > 0) snprintf(wl, sizeof wl, "%.0fs", wall);
    eef_buf_printf(b, "%-24.24s %-6s %4s  %5.1f [%5.1f,%5.1f]  %5.1f  %5.1f %6.1f %5.1f  %9s %8s %7s\n",
                   name, method, iter, 100 * eval_num(test, "win"), 100 * eval_num(test, "win_lo"),
                   100 * eval_num(test, "win_hi"), eval_num(test, "score"), 100 * eval_num(test, "tiers.easy.win"),
                   100 * eval_num(test, "tiers.medium.win"), 100 * eval_num(test, "tiers.hard.win"), solv,
                   roll, wl);
}

eef_err eef_compare_table(const eef_run_view *runs, size_t n, eef_buf *out)
{
    eef_buf_printf(out, "%-24s %-6s %4s  %-20s  %5s  %5s %6s %5s  %9s %8s %7s\n", "run", "method",
                   "iter", "test win % [95% CI]", "score", "easy", "medium", "hard",
                   "solved", "rollouts", "wall");
    for_each_row(runs, n, out, row_text);
    return EEF_OK;
}

cJSON *eef_compare_json(const eef_run_view *runs, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t r = 0; r < n; r++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "dir", runs[r].dir);
        cJSON_AddStringToObject(o, "method", runs[r].method);
        cJSON_AddItemToObject(o, "config", cJSON_Duplicate(runs[r].config, 1));
        if (runs[r].expert) cJSON_AddItemToObject(o, "expert", cJSON_Duplicate(runs[r].expert, 1));
        cJSON *its = cJSON_AddArrayToObject(o, "iterations");
        for (size_t i = 0; i < runs[r].n_iters; i++) {
            cJSON *c = cJSON_Duplicate(runs[r].iters[i], 1);
            cJSON_AddNumberToObject(c, "wall_s", runs[r].wall[i]);
            cJSON_AddItemToArray(its, c);
        }
        if (runs[r].n_iters)
            cJSON_AddItemToObject(o, "final", cJSON_Duplicate(runs[r].iters[runs[r].n_iters - 1], 1));
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

/* Hard-tier test tasks won in a run's last evaluation, as a bitmap. */
static unsigned char *hard_wins(const eef_run_view *v, size_t *n_out)
{
    *n_out = 0;
    if (!v->n_iters) return NULL;
    char p[1100];
    snprintf(p, sizeof p, "%s/iter_%.0f/eval.jsonl", v->dir, eval_num(v->iters[v->n_iters - 1], "iter"));
    eef_trajset s = { 0 };
    if (eef_traj_read(p, 0, &s, NULL)) return NULL;
    size_t mx = 0;
    for (size_t i = 0; i < s.n; i++)
        if (s.items[i].index >= 0 && (size_t)s.items[i].index + 1 > mx) mx = (size_t)s.items[i].index + 1;
    unsigned char *w = eef_calloc(mx ? mx : 1, 1);
    for (size_t i = 0; w && i < s.n; i++)
        if (s.items[i].win && s.items[i].tier == 2 && s.items[i].index >= 0) w[s.items[i].index] = 1;
    eef_trajset_free(&s);
    *n_out = mx;
    return w;
}

static void md_row(eef_buf *b, const compare_row *row)
{
    const char *name = row->name, *method = row->method, *iter = row->iter;
    const cJSON *t = row->test;
    double solved = row->solved, rollouts = row->rollouts;
    eef_buf_printf(b, "| %s | %s | %s | %.1f [%.1f, %.1f] | %.1f | %.1f | %.1f | %.1f |", name,
                   method, iter, 100 * eval_num(t, "win"), 100 * eval_num(t, "win_lo"), 100 * eval_num(t, "win_hi"),
                   eval_num(t, "score"), 100 * eval_num(t, "tiers.easy.win"), 100 * eval_num(t, "tiers.medium.win"),
                   100 * eval_num(t, "tiers.hard.win"));
    if (isnan(solved)) eef_buf_puts(b, " - |");
    else eef_buf_printf(b, " %.0f |", solved);
    if (isnan(rollouts)) eef_buf_puts(b, " - |\n");
    else eef_buf_printf(b, " %.0f |\n", rollouts);
}

eef_err eef_compare_report(const eef_run_view *runs, size_t n, const char *md_path,
                           const eef_compare_opts *o)
{
    char dir[1024], path[1100];
    snprintf(dir, sizeof dir, "%s", md_path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    eef_buf b;
    eef_buf_init(&b);
    eef_buf_puts(&b, "# eef comparison report\n\n");
    eef_buf_puts(&b, "Test split, greedy decoding. Win rate with Wilson 95% intervals; score = mean "
                     "reward x 100; tiers are win rates; *solved* = train tasks with a winning "
                     "trajectory in the training data so far; *rollouts* = agent rollouts run for "
                     "exploration so far.\n\n");
    eef_buf_puts(&b, "| run | method | iter | test win % [95% CI] | score | easy | medium | hard | "
                     "solved | rollouts |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for_each_row(runs, n, &b, md_row);

    /* plots: test win rate and train tasks solved per iteration */
    eef_svg_series *ser = eef_calloc(n + 1, sizeof *ser);
    double *buf = eef_calloc((n + 1) * 64 * 4, sizeof(double));
    char (*names)[160] = eef_calloc(n + 1, sizeof *names);
    eef_err e = (!ser || !buf || !names) ? EEF_ENOMEM : EEF_OK;
    for (int plot = 0; !e && plot < 2; plot++) {
        size_t ns = 0;
        double ymax = plot ? 1 : 100;
        for (size_t r = 0; r < n; r++) {
            size_t m = runs[r].n_iters < 64 ? runs[r].n_iters : 64;
            double *x = buf + ns * 256, *y = x + 64, *lo = y + 64, *hi = lo + 64;
            for (size_t i = 0; i < m; i++) {
                const cJSON *it = runs[r].iters[i];
                x[i] = eval_num(it, "iter");
                y[i] = plot ? eval_num(it, "train_solved") : 100 * eval_num(it, "test.win");
                lo[i] = plot ? y[i] : 100 * eval_num(it, "test.win_lo");
                hi[i] = plot ? y[i] : 100 * eval_num(it, "test.win_hi");
                if (plot) ymax = fmax(ymax, eval_num(it, "train_tasks"));
            }
            snprintf(names[ns], sizeof names[ns], "%s", runs[r].dir);
            ser[ns] = (eef_svg_series){ names[ns], x, y, plot ? NULL : lo, plot ? NULL : hi, m };
            ns++;
        }
        snprintf(path, sizeof path, "%s/%s", dir, plot ? "train_solved.svg" : "win_rate.svg");
        e = eef_svg_lines(path, plot ? "Train tasks solved (in the training data)" : "Test win rate",
                          "iteration", plot ? "tasks" : "win %", ser, ns, 0, ymax);
    }
    eef_buf_puts(&b, "\n![test win rate](win_rate.svg)\n\n![train tasks solved](train_solved.svg)\n");

    /* methods pooled over seeds and compared pair by pair; runs that
     * cannot be paired (two variants of one method in a seed, say) still
     * get the rest of the report, with the reason here */
    if (!e) {
        eef_buf_puts(&b, "\n## Methods compared\n\n");
        eef_buf sec;
        eef_buf_init(&sec);
        e = eef_compare_pool_md(runs, n, o, &sec);
        if (e == EEF_EINVAL) {
            eef_buf_printf(&b, "Not compared: %s.\n", eef_errmsg());
            eef_errclear();
            e = EEF_OK;
        } else if (!e && sec.data) {
            eef_buf_puts(&b, sec.data);
        }
        eef_buf_free(&sec);
    }

    /* salvaged expert actions (EEF runs): kinds summed over iterations */
    const char *kinds[32];
    double counts[32 * 8] = { 0 };
    const char *groups[8];
    size_t nk = 0, ng = 0;
    for (size_t r = 0; !e && r < n && ng < 8; r++) {
        int any = 0;
        for (size_t i = 0; i < runs[r].n_iters; i++) {
            const cJSON *sv = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(runs[r].iters[i], "explore"), "salvaged");
            const cJSON *kv;
            cJSON_ArrayForEach(kv, sv)
            {
                size_t k = 0;
                while (k < nk && strcmp(kinds[k], kv->string) != 0) k++;
                if (k == nk && nk < 32) kinds[nk++] = kv->string;
                if (k < 32) counts[k * 8 + ng] += kv->valuedouble, any = 1;
            }
        }
        if (any) groups[ng++] = runs[r].dir;
    }
    if (!e && nk) {
        double *vals = eef_calloc(nk * ng, sizeof(double));
        for (size_t k = 0; vals && k < nk; k++)
            for (size_t g = 0; g < ng; g++) vals[k * ng + g] = counts[k * 8 + g];
        snprintf(path, sizeof path, "%s/salvaged.svg", dir);
        e = vals ? eef_svg_bars(path, "Expert actions salvaged from failures (mask 1)", kinds,
                                groups, vals, nk, ng)
                 : EEF_ENOMEM;
        free(vals);
        eef_buf_puts(&b, "\n## Expert actions salvaged by EEF\n\nExpert actions of failed "
                         "trajectories that turned an unsolved state into a solved one, trained on "
                         "(loss mask 1), by kind:\n\n| kind |");
        for (size_t g = 0; g < ng; g++) eef_buf_printf(&b, " %s |", groups[g]);
        eef_buf_puts(&b, "\n|---|");
        for (size_t g = 0; g < ng; g++) eef_buf_puts(&b, "---|");
        eef_buf_puts(&b, "\n");
        for (size_t k = 0; k < nk; k++) {
            eef_buf_printf(&b, "| `%s` |", kinds[k]);
            for (size_t g = 0; g < ng; g++) eef_buf_printf(&b, " %.0f |", counts[k * 8 + g]);
            eef_buf_puts(&b, "\n");
        }
        eef_buf_puts(&b, "\n![salvaged actions](salvaged.svg)\n");
    }

    /* hard test tasks: won by each run, and by it alone among the methods */
    if (!e) {
        eef_buf_puts(&b, "\n## Hard test tasks\n\n| run | method | hard tasks won | won by no run of "
                         "another method |\n|---|---|---|---|\n");
        size_t *len = eef_calloc(n ? n : 1, sizeof *len);
        unsigned char **hw = eef_calloc(n ? n : 1, sizeof *hw);
        for (size_t r = 0; len && hw && r < n; r++) hw[r] = hard_wins(&runs[r], &len[r]);
        for (size_t r = 0; len && hw && r < n; r++) {
            size_t won = 0, alone = 0;
            for (size_t i = 0; i < len[r]; i++) {
                if (!hw[r][i]) continue;
                won++;
                int other = 0;
                for (size_t q = 0; q < n && !other; q++)
                    if (strcmp(runs[q].method, runs[r].method) != 0 && i < len[q] && hw[q])
                        other = hw[q][i];
                alone += !other;
            }
            eef_buf_printf(&b, "| %s | %s | %zu | %zu |\n", runs[r].dir, runs[r].method, won, alone);
        }
        for (size_t r = 0; hw && r < n; r++) free(hw[r]);
        free(hw);
        free(len);
    }
    if (!e) e = b.data ? eef_write_file_atomic(md_path, b.data, b.len) : EEF_ENOMEM;
    free(ser);
    free(buf);
    free(names);
    eef_buf_free(&b);
    return e;
}

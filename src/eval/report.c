/* report.c: `eef compare` — runs side by side as a table, as JSON, and as
 * report.md with SVG plots. */
#include "eval.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static eef_err read_json_file(const char *path, cJSON **out)
{
    char *data;
    size_t len;
    EEF_TRY(eef_read_file(path, &data, &len));
    eef_err e = eef_json_parse(data, len, path, out);
    free(data);
    return e;
}

void eef_run_view_free(eef_run_view *v)
{
    free(v->dir);
    free(v->method);
    cJSON_Delete(v->config);
    cJSON_Delete(v->expert);
    for (size_t i = 0; i < v->n_iters; i++) cJSON_Delete(v->iters[i]);
    free(v->iters);
    free(v->wall);
    memset(v, 0, sizeof *v);
}

eef_err eef_run_view_load(const char *dir, eef_run_view *v)
{
    memset(v, 0, sizeof *v);
    char p[1024];
    v->dir = eef_strdup(dir);
    eef_err e = v->dir ? EEF_OK : EEF_ENOMEM;
    if (!e) e = read_json_file(eef_path_join(p, sizeof p, dir, "config.json"), &v->config);
    const char *m = "?";
    if (!e) e = eef_json_str(v->config, "method", p, &m);
    if (!e) v->method = eef_strdup(m);
    if (!e && eef_file_exists(eef_path_join(p, sizeof p, dir, "expert.json")))
        e = read_json_file(p, &v->expert);
    eef_lines lr;
    if (!e) e = eef_lines_open(&lr, eef_path_join(p, sizeof p, dir, "metrics.jsonl"));
    if (e) {
        eef_run_view_free(v);
        return e;
    }
    char *line;
    size_t len;
    while (!e && !(e = eef_lines_next(&lr, &line, &len)) && line) {
        char where[1100];
        snprintf(where, sizeof where, "%s:%ld", lr.path, lr.line);
        cJSON *j;
        e = eef_json_parse(line, len, where, &j);
        if (e) break;
        cJSON **it = eef_realloc(v->iters, (v->n_iters + 1) * sizeof *it);
        if (!it) {
            cJSON_Delete(j);
            e = EEF_ENOMEM;
            break;
        }
        v->iters = it;
        v->iters[v->n_iters++] = j;
    }
    eef_lines_close(&lr);
    /* wall time: phases in timing.jsonl, cumulative at each iteration's eval */
    v->wall = eef_calloc(v->n_iters ? v->n_iters : 1, sizeof(double));
    if (!e && !v->wall) e = EEF_ENOMEM;
    if (!e && eef_lines_open(&lr, eef_path_join(p, sizeof p, dir, "timing.jsonl")) == EEF_OK) {
        double acc = 0;
        while (eef_lines_next(&lr, &line, &len) == EEF_OK && line) {
            cJSON *j = cJSON_ParseWithLength(line, len);
            const cJSON *ph = cJSON_GetObjectItemCaseSensitive(j, "phase");
            const cJSON *sec = cJSON_GetObjectItemCaseSensitive(j, "seconds");
            if (cJSON_IsString(ph) && cJSON_IsNumber(sec)) {
                acc += sec->valuedouble;
                int it;
                if (sscanf(ph->valuestring, "iter_%d.eval", &it) == 1 && it >= 0 &&
                    (size_t)it < v->n_iters)
                    v->wall[it] = acc;
            }
            cJSON_Delete(j);
        }
        eef_lines_close(&lr);
    }
    if (e) eef_run_view_free(v);
    return e;
}

static double num(const cJSON *o, const char *path)
{
    /* "a.b.c" */
    char key[64];
    const cJSON *cur = o;
    while (cur && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        snprintf(key, sizeof key, "%.*s", (int)n, path);
        cur = cJSON_GetObjectItemCaseSensitive(cur, key);
        path += n + (dot ? 1 : 0);
    }
    return cJSON_IsNumber(cur) ? cur->valuedouble : NAN;
}

static void row_text(eef_buf *b, const char *name, const char *method, const char *iter,
                     const cJSON *test, double solved, double tasks, double rollouts, double wall)
{
    char solv[32] = "-", roll[32] = "-", wl[32] = "-";
    if (!isnan(solved)) snprintf(solv, sizeof solv, "%.0f/%.0f", solved, tasks);
    if (!isnan(rollouts)) snprintf(roll, sizeof roll, "%.0f", rollouts);
    if (!isnan(wall) && wall > 0) snprintf(wl, sizeof wl, "%.0fs", wall);
    eef_buf_printf(b, "%-24.24s %-6s %4s  %5.1f [%5.1f,%5.1f]  %5.1f  %5.1f %6.1f %5.1f  %9s %8s %7s\n",
                   name, method, iter, 100 * num(test, "win"), 100 * num(test, "win_lo"),
                   100 * num(test, "win_hi"), num(test, "score"), 100 * num(test, "tiers.easy.win"),
                   100 * num(test, "tiers.medium.win"), 100 * num(test, "tiers.hard.win"), solv,
                   roll, wl);
}

eef_err eef_compare_table(const eef_run_view *runs, size_t n, eef_buf *out)
{
    eef_buf_printf(out, "%-24s %-6s %4s  %-20s  %5s  %5s %6s %5s  %9s %8s %7s\n", "run", "method",
                   "iter", "test win % [95% CI]", "score", "easy", "medium", "hard",
                   "solved", "rollouts", "wall");
    for (size_t r = 0; r < n; r++)
        if (runs[r].expert) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(runs[r].expert, "test");
            const cJSON *tr = cJSON_GetObjectItemCaseSensitive(runs[r].expert, "train");
            row_text(out, "expert", "expert", "-", t, num(tr, "win") * num(tr, "n"), num(tr, "n"),
                     NAN, NAN);
            break;
        }
    for (size_t r = 0; r < n; r++)
        for (size_t i = 0; i < runs[r].n_iters; i++) {
            const cJSON *it = runs[r].iters[i];
            char iter[16];
            snprintf(iter, sizeof iter, "%.0f", num(it, "iter"));
            row_text(out, runs[r].dir, runs[r].method, iter,
                     cJSON_GetObjectItemCaseSensitive(it, "test"), num(it, "train_solved"),
                     num(it, "train_tasks"), num(it, "rollouts"), runs[r].wall[i]);
        }
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
    snprintf(p, sizeof p, "%s/iter_%.0f/eval.jsonl", v->dir, num(v->iters[v->n_iters - 1], "iter"));
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

static void md_row(eef_buf *b, const char *name, const char *method, const char *iter,
                   const cJSON *t, double solved, double rollouts)
{
    eef_buf_printf(b, "| %s | %s | %s | %.1f [%.1f, %.1f] | %.1f | %.1f | %.1f | %.1f |", name,
                   method, iter, 100 * num(t, "win"), 100 * num(t, "win_lo"), 100 * num(t, "win_hi"),
                   num(t, "score"), 100 * num(t, "tiers.easy.win"), 100 * num(t, "tiers.medium.win"),
                   100 * num(t, "tiers.hard.win"));
    if (isnan(solved)) eef_buf_puts(b, " - |");
    else eef_buf_printf(b, " %.0f |", solved);
    if (isnan(rollouts)) eef_buf_puts(b, " - |\n");
    else eef_buf_printf(b, " %.0f |\n", rollouts);
}

eef_err eef_compare_report(const eef_run_view *runs, size_t n, const char *md_path)
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
    for (size_t r = 0; r < n; r++)
        if (runs[r].expert) {
            const cJSON *tr = cJSON_GetObjectItemCaseSensitive(runs[r].expert, "train");
            md_row(&b, "expert", "expert", "-", cJSON_GetObjectItemCaseSensitive(runs[r].expert, "test"),
                   num(tr, "win") * num(tr, "n"), NAN);
            break;
        }
    for (size_t r = 0; r < n; r++)
        for (size_t i = 0; i < runs[r].n_iters; i++) {
            const cJSON *it = runs[r].iters[i];
            char iter[16];
            snprintf(iter, sizeof iter, "%.0f", num(it, "iter"));
            md_row(&b, runs[r].dir, runs[r].method, iter, cJSON_GetObjectItemCaseSensitive(it, "test"),
                   num(it, "train_solved"), num(it, "rollouts"));
        }

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
                x[i] = num(it, "iter");
                y[i] = plot ? num(it, "train_solved") : 100 * num(it, "test.win");
                lo[i] = plot ? y[i] : 100 * num(it, "test.win_lo");
                hi[i] = plot ? y[i] : 100 * num(it, "test.win_hi");
                if (plot) ymax = fmax(ymax, num(it, "train_tasks"));
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

/* ------------------------------------------------------------ pooled over seeds */
/* Wins of a summary: its rate times its task count, back to a count. */
/* Wins and tasks of a summary (a tier's, or all with tier NULL): its rate
 * times its task count, back to counts; 0 for what it lacks. */
static double wins_of(const cJSON *t, const char *tier, double *n_out)
{
    char w[48] = "win", n[48] = "n";
    if (tier) {
        snprintf(w, sizeof w, "tiers.%s.win", tier);
        snprintf(n, sizeof n, "tiers.%s.n", tier);
    }
    double nn = num(t, n), ww = num(t, w);
    *n_out = isnan(nn) ? 0 : nn;
    return isnan(nn) || isnan(ww) ? 0 : floor(ww * nn + 0.5);
}

typedef struct {
    char name[32];
    int runs;
    double k[4], n[4], score; /* all, easy, medium, hard; score summed x n */
    double solved, tasks;     /* train tasks with a win in the training data */
} pool_row;

static void pool_add(pool_row *p, const cJSON *t, double solved, double tasks)
{
    static const char *tiers[] = { NULL, "easy", "medium", "hard" };
    p->runs++;
    p->solved += solved, p->tasks += tasks;
    for (int i = 0; i < 4; i++) {
        double n;
        p->k[i] += wins_of(t, tiers[i], &n);
        p->n[i] += n;
    }
    p->score += num(t, "score") * num(t, "n");
}

static void pool_print(eef_buf *b, const pool_row *p)
{
    double lo, hi;
    eef_wilson((size_t)p->k[0], (size_t)p->n[0], &lo, &hi);
    eef_buf_printf(b, "%-8s %4d %6.0f  %5.1f [%5.1f,%5.1f]  %5.1f", p->name, p->runs, p->n[0],
                   p->n[0] ? 100 * p->k[0] / p->n[0] : 0, 100 * lo, 100 * hi,
                   p->n[0] ? p->score / p->n[0] : 0);
    for (int i = 1; i < 4; i++) eef_buf_printf(b, "  %5.1f", p->n[i] ? 100 * p->k[i] / p->n[i] : 0);
    eef_buf_printf(b, "  %6.0f/%-6.0f\n", p->solved, p->tasks);
}

eef_err eef_compare_pool(const eef_run_view *runs, size_t n, eef_buf *out)
{
    /* the expert once per world (seed, environment, options), then each
     * method's last evaluation, in order of first appearance */
    pool_row rows[9] = { { .name = "expert" } };
    size_t nr = 1;
    char (*seen)[600] = eef_calloc(n ? n : 1, sizeof *seen);
    if (!seen) return EEF_ENOMEM;
    size_t ns = 0;
    for (size_t r = 0; r < n; r++) {
        if (runs[r].expert) {
            char key[600];
            const cJSON *c = runs[r].config;
            snprintf(key, sizeof key, "%.0f|%s|%s", num(c, "seed"),
                     cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "env")),
                     cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "env_options")));
            size_t s = 0;
            while (s < ns && strcmp(seen[s], key) != 0) s++;
            if (s == ns) {
                snprintf(seen[ns++], sizeof *seen, "%s", key);
                double n_train, won = wins_of(cJSON_GetObjectItemCaseSensitive(runs[r].expert, "train"),
                                              NULL, &n_train);
                pool_add(&rows[0], cJSON_GetObjectItemCaseSensitive(runs[r].expert, "test"), won,
                         n_train);
            }
        }
        if (!runs[r].n_iters) continue;
        size_t i = 1;
        while (i < nr && strcmp(rows[i].name, runs[r].method) != 0) i++;
        if (i == nr) {
            if (nr == 9) continue;
            memset(&rows[nr], 0, sizeof rows[nr]);
            snprintf(rows[nr++].name, sizeof rows[0].name, "%s", runs[r].method);
        }
        const cJSON *last = runs[r].iters[runs[r].n_iters - 1];
        pool_add(&rows[i], cJSON_GetObjectItemCaseSensitive(last, "test"), num(last, "train_solved"),
                 num(last, "train_tasks"));
    }
    free(seen);
    eef_buf_printf(out, "%-8s %4s %6s  %-20s  %5s  %5s  %5s  %5s  %s\n", "method", "runs", "tasks",
                   "test win % [95% CI]", "score", "easy", "medium", "hard", "train solved");
    for (size_t i = 0; i < nr; i++)
        if (rows[i].runs) pool_print(out, &rows[i]);

    /* hard-tier test tasks one method wins and another does not, over the
     * worlds both were run in (runs paired by seed) */
    for (size_t a = 0; a < n; a++)
        for (size_t b = 0; b < n; b++) {
            if (a == b || strcmp(runs[a].method, "eef") != 0 || strcmp(runs[b].method, "rft") != 0 ||
                num(runs[a].config, "seed") != num(runs[b].config, "seed"))
                continue;
            size_t na, nb;
            unsigned char *wa = hard_wins(&runs[a], &na), *wb = hard_wins(&runs[b], &nb);
            size_t only_a = 0, only_b = 0;
            for (size_t t = 0; wa && wb && t < (na > nb ? na : nb); t++) {
                int x = t < na && wa[t], y = t < nb && wb[t];
                only_a += x && !y, only_b += y && !x;
            }
            free(wa);
            free(wb);
            eef_buf_printf(out, "seed %.0f: hard-tier test tasks won by eef and not rft: %zu; by rft "
                           "and not eef: %zu\n", num(runs[a].config, "seed"), only_a, only_b);
        }
    return EEF_OK;
}

/* pool.c: methods compared over seeds (`eef compare --pool`, its JSON, the
 * report's "Methods compared").  Each method's runs are pooled; every pair
 * of methods is compared on the test tasks both answered, seed by seed:
 * the runs of one seed were evaluated on the same tasks, which is what
 * makes the comparison paired (docs/statistics.md). */
#include "eval.h"
#include "eval_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_METHODS = 64, DEFAULT_REPS = 10000 };
static const double LEVEL = 0.95;

/* ------------------------------------------------------------ outcomes */
/* One run's (or the expert's) test tasks, by index. */
typedef struct {
    size_t n;
    unsigned char *win, *tier; /* tier: eef_tier, 255 unknown */
    uint64_t *fp;              /* what identifies task i: id, instruction, tier */
    char **task;               /* ids, for messages */
    eef_world world;           /* the world the file records (unknown: none) */
    char path[1200];           /* the file, for messages */
} outcomes;

static void outcomes_free(outcomes *o)
{
    if (!o) return;
    for (size_t i = 0; o->task && i < o->n; i++) free(o->task[i]);
    free(o->win), free(o->tier), free(o->fp), free(o->task);
    memset(o, 0, sizeof *o);
}

static uint64_t task_fingerprint(const eef_traj *t)
{
    uint64_t h = eef_hash_str(t->task ? t->task : "");
    h = eef_hash64(h ^ eef_hash_str(t->instruction ? t->instruction : ""));
    return eef_hash64(h + (uint64_t)(t->tier + 2));
}

/* Reads a test split's trajectories (one per task, indices 0..n-1) and
 * checks them against the summary the run recorded for them. */
static eef_err outcomes_read(const char *path, const cJSON *summary, const char *summary_where,
                             outcomes *o)
{
    memset(o, 0, sizeof *o);
    eef_traj_reader rd;
    EEF_TRY(eef_traj_reader_open(&rd, path, 0));
    eef_traj t;
    eef_traj_init(&t);
    size_t cap = 0, n = 0;
    long *idx = NULL;
    eef_err e = EEF_OK;
    for (;;) {
        int got;
        if ((e = eef_traj_reader_next(&rd, &t, &got)) || !got) break;
        if (t.split != EEF_SPLIT_TEST || t.index < 0) {
            e = eef_fail(EEF_EFORMAT, "%s: not a test task with an index", rd.where);
            break;
        }
        if (n == cap) {
            size_t c = cap ? 2 * cap : 1024;
            long *i2 = eef_realloc(idx, c * sizeof *i2);
            if (i2) idx = i2;
            unsigned char *w2 = i2 ? eef_realloc(o->win, c) : NULL;
            if (w2) o->win = w2;
            unsigned char *t2 = w2 ? eef_realloc(o->tier, c) : NULL;
            if (t2) o->tier = t2;
            uint64_t *f2 = t2 ? eef_realloc(o->fp, c * sizeof *f2) : NULL;
            if (f2) o->fp = f2;
            char **s2 = f2 ? eef_realloc(o->task, c * sizeof *s2) : NULL;
            if (s2) o->task = s2;
            if (!s2) {
                e = EEF_ENOMEM;
                break;
            }
            cap = c;
        }
        idx[n] = t.index;
        o->win[n] = t.win != 0;
        o->tier[n] = t.tier >= 0 && t.tier < 3 ? (unsigned char)t.tier : 255;
        o->fp[n] = task_fingerprint(&t);
        o->task[n] = eef_strdup(t.task ? t.task : "?");
        if (!o->task[n]) {
            e = EEF_ENOMEM;
            break;
        }
        n++;
    }
    eef_traj_free(&t);
    eef_world world = rd.ctx;
    eef_traj_reader_close(&rd);
    o->n = n;
    /* in index order; every index 0..n-1 exactly once */
    outcomes s = { 0 };
    if (!e && n) {
        s.n = n;
        s.win = eef_malloc(n), s.tier = eef_malloc(n), s.fp = eef_malloc(n * sizeof *s.fp);
        s.task = eef_calloc(n, sizeof *s.task);
        if (!s.win || !s.tier || !s.fp || !s.task) e = EEF_ENOMEM;
    }
    for (size_t k = 0; !e && k < n; k++) {
        if (idx[k] >= (long)n || s.task[idx[k]]) {
            e = eef_fail(EEF_EFORMAT, "%s: test task index %ld %s (%zu trajectories)", path, idx[k],
                         idx[k] >= (long)n ? "out of range" : "twice", n);
            break;
        }
        size_t i = (size_t)idx[k];
        s.win[i] = o->win[k], s.tier[i] = o->tier[k], s.fp[i] = o->fp[k];
        s.task[i] = o->task[k], o->task[k] = NULL;
    }
    free(idx);
    outcomes_free(o);
    *o = s;
    o->world = world;
    snprintf(o->path, sizeof o->path, "%s", path);
    if (!e && !n) e = eef_fail(EEF_EFORMAT, "%s: no trajectories", path);
    if (!e) {
        /* the same outcomes the table is made of */
        size_t wins = 0;
        for (size_t i = 0; i < n; i++) wins += o->win[i];
        double sn = eval_num(summary, "n"), sw = eval_num(summary, "win");
        if (isnan(sn) || isnan(sw) || (size_t)sn != n || (size_t)floor(sw * sn + 0.5) != wins)
            e = eef_fail(EEF_EFORMAT, "%s: %zu test tasks with %zu wins, but %s records %.0f with %.0f",
                         path, n, wins, summary_where, sn, floor(sw * sn + 0.5));
    }
    if (e) outcomes_free(o);
    return e;
}

/* ------------------------------------------------------------ a comparison
 * The runs read at one iteration: methods (0 = the expert), one group per
 * seed, the bootstrap, every pair. */
typedef struct {
    double seed;
    const eef_run_view *run[MAX_METHODS]; /* the run each method's outcomes came from */
    outcomes out[MAX_METHODS];            /* n = 0: the method has no run in this seed */
    int ref;                              /* the seed's tasks: out[ref], the first read; -1 none */
} seed_group;

typedef struct {
    int runs;
    long it_lo, it_hi;        /* iterations the runs were read at */
    double k[4], n[4], score; /* all, easy, medium, hard; score summed x n */
    double solved, tasks;     /* train tasks with a win in the training data */
} pool_row;

typedef struct {
    size_t a, b; /* methods; A is the later in the table */
    eef_pair_est all;
    eef_pair_est *per;       /* [n_groups] */
    size_t *hard_a, *hard_b; /* [n_groups]: hard tasks won by one and not the other */
} pair_row;

typedef struct {
    long iter; /* EEF_ITER_LAST or N */
    size_t nm;
    char method[MAX_METHODS][32];
    pool_row row[MAX_METHODS];
    size_t ng;
    seed_group *g;
    size_t reps;
    size_t np;
    pair_row *pair;
} block;

static void block_free(block *b)
{
    for (size_t s = 0; b->g && s < b->ng; s++)
        for (size_t m = 0; m < MAX_METHODS; m++) outcomes_free(&b->g[s].out[m]);
    for (size_t p = 0; b->pair && p < b->np; p++) {
        free(b->pair[p].per);
        free(b->pair[p].hard_a);
        free(b->pair[p].hard_b);
    }
    free(b->g);
    free(b->pair);
    memset(b, 0, sizeof *b);
}

/* The table's order: the paper's pipeline, then others as they come. */
static int method_rank(const char *m, size_t first_seen)
{
    static const char *order[] = { "expert", "sft", "eto", "rft", "rft-matched", "eef", "eef-both" };
    for (size_t i = 0; i < EEF_ARRAY_LEN(order); i++)
        if (strcmp(m, order[i]) == 0) return (int)i;
    return (int)(EEF_ARRAY_LEN(order) + first_seen);
}

static const char *cfg_str(const eef_run_view *v, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v->config, key));
    return s ? s : "";
}

/* The index into v->iters of the iteration compared. */
static eef_err pick_iter(const eef_run_view *v, long want, size_t *out)
{
    *out = v->n_iters - 1;
    if (want == EEF_ITER_LAST) return EEF_OK;
    for (size_t i = 0; i < v->n_iters; i++)
        if (eval_num(v->iters[i], "iter") == (double)want) {
            *out = i;
            return EEF_OK;
        }
    /* a run without iterations (SFT) has one model: its iteration 0 */
    if (eval_num(v->config, "iters") == 0) return EEF_OK;
    return eef_fail(EEF_EINVAL, "%s: no iteration %ld (its last evaluated is %.0f)", v->dir, want,
                    eval_num(v->iters[v->n_iters - 1], "iter"));
}

static void pool_add(pool_row *p, const cJSON *t, double solved, double tasks, long it)
{
    static const char *w[] = { "win", "tiers.easy.win", "tiers.medium.win", "tiers.hard.win" };
    static const char *nn[] = { "n", "tiers.easy.n", "tiers.medium.n", "tiers.hard.n" };
    if (!p->runs || it < p->it_lo) p->it_lo = it;
    if (!p->runs || it > p->it_hi) p->it_hi = it;
    p->runs++;
    p->solved += isnan(solved) ? 0 : solved, p->tasks += isnan(tasks) ? 0 : tasks;
    for (int i = 0; i < 4; i++) {
        double n = eval_num(t, nn[i]), k = eval_num(t, w[i]);
        if (isnan(n) || isnan(k)) continue;
        p->n[i] += n;
        p->k[i] += floor(k * n + 0.5);
    }
    p->score += eval_num(t, "score") * eval_num(t, "n");
}

/* Puts outcomes `o` of method m (from run v) into its seed's group,
 * checking they are on the group's tasks. */
static eef_err group_put(seed_group *g, size_t m, const eef_run_view *v, const char *what,
                         outcomes *o)
{
    if (g->ref >= 0) {
        const outcomes *ref = &g->out[g->ref];
        const char *ref_dir = g->run[g->ref]->dir;
        /* the worlds the files record (a generator or data files changed
         * between the runs), before the tasks they hold */
        eef_world a = ref->world, b = o->world;
        a.have &= EEF_CTX_WORLD, b.have &= EEF_CTX_WORLD;
        char by[1300];
        snprintf(by, sizeof by, "is that of %s: runs paired by seed must be in one world", o->path);
        EEF_TRY(eef_world_check(&a, &b, ref->path, by));
        if (o->n != ref->n)
            return eef_fail(EEF_EINVAL, "seed %.0f: %s (%s) has %zu test tasks, %s has %zu: runs "
                            "of one seed must be evaluated on the same tasks to be paired",
                            g->seed, v->dir, what, o->n, ref_dir, ref->n);
        for (size_t i = 0; i < o->n; i++)
            if (o->fp[i] != ref->fp[i])
                return eef_fail(EEF_EINVAL, "seed %.0f: test task %zu of %s (%s, '%s') is not the "
                                "one of %s ('%s'): another world or another task list under one "
                                "seed; compare them separately",
                                g->seed, i, v->dir, what, o->task[i], ref_dir, ref->task[i]);
    }
    g->out[m] = *o;
    memset(o, 0, sizeof *o);
    g->run[m] = v;
    if (g->ref < 0) g->ref = (int)m;
    return EEF_OK;
}

static eef_err block_load(const eef_run_view *runs, size_t n, long iter, size_t reps, block *b)
{
    memset(b, 0, sizeof *b);
    b->iter = iter, b->reps = reps;
    /* methods, in the table's order */
    int rank[MAX_METHODS];
    snprintf(b->method[0], sizeof b->method[0], "expert");
    rank[0] = 0;
    b->nm = 1;
    for (size_t r = 0; r < n; r++) {
        if (!runs[r].n_iters) continue; /* not evaluated yet */
        size_t m = 1;
        while (m < b->nm && strcmp(b->method[m], runs[r].method) != 0) m++;
        if (m < b->nm) continue;
        if (strlen(runs[r].method) >= sizeof b->method[0])
            return eef_fail(EEF_EINVAL, "%s: method name '%s' too long", runs[r].dir, runs[r].method);
        if (b->nm == MAX_METHODS) return eef_fail(EEF_EINVAL, "more than %d methods", MAX_METHODS - 1);
        snprintf(b->method[m], sizeof b->method[m], "%s", runs[r].method);
        rank[m] = method_rank(runs[r].method, r);
        b->nm++;
    }
    for (size_t i = 2; i < b->nm; i++) /* insertion sort by rank */
        for (size_t j = i; j > 1 && rank[j] < rank[j - 1]; j--) {
            char t[32];
            memcpy(t, b->method[j], 32), memcpy(b->method[j], b->method[j - 1], 32);
            memcpy(b->method[j - 1], t, 32);
            int x = rank[j];
            rank[j] = rank[j - 1], rank[j - 1] = x;
        }

    b->g = eef_calloc(n ? n : 1, sizeof *b->g);
    if (!b->g) return EEF_ENOMEM;
    eef_err e = EEF_OK;
    char path[1200], where[1200];
    for (size_t r = 0; !e && r < n; r++) {
        const eef_run_view *v = &runs[r];
        if (!v->n_iters) continue;
        size_t m = 1, ii;
        while (m < b->nm && strcmp(b->method[m], v->method) != 0) m++;
        if ((e = pick_iter(v, iter, &ii))) break;
        double seed = eval_num(v->config, "seed");
        size_t s = 0;
        while (s < b->ng && b->g[s].seed != seed) s++;
        seed_group *g = &b->g[s];
        if (s == b->ng) {
            g->seed = seed;
            g->ref = -1;
            b->ng++;
        } else {
            /* one world per seed */
            const eef_run_view *f = NULL;
            for (size_t k = 0; k < MAX_METHODS && !f; k++) f = g->run[k];
            if (strcmp(cfg_str(f, "env"), cfg_str(v, "env")) != 0 ||
                strcmp(cfg_str(f, "env_options"), cfg_str(v, "env_options")) != 0) {
                e = eef_fail(EEF_EINVAL, "seed %.0f: %s (%s, %s) and %s (%s, %s) are different worlds "
                             "under one seed; compare them separately", seed, f->dir,
                             cfg_str(f, "env"), cfg_str(f, "env_options"), v->dir, cfg_str(v, "env"),
                             cfg_str(v, "env_options"));
                break;
            }
            if (g->run[m]) {
                e = eef_fail(EEF_EINVAL, "seed %.0f: two %s runs, %s and %s: pairing needs one run per "
                             "method and seed; compare them separately", seed, v->method,
                             g->run[m]->dir, v->dir);
                break;
            }
        }
        const cJSON *it = v->iters[ii];
        long itn = (long)eval_num(it, "iter");
        snprintf(path, sizeof path, "%s/iter_%ld/eval.jsonl", v->dir, itn);
        snprintf(where, sizeof where, "%s/metrics.jsonl (iteration %ld)", v->dir, itn);
        outcomes o;
        if ((e = outcomes_read(path, cJSON_GetObjectItemCaseSensitive(it, "test"), where, &o))) break;
        char what[64];
        snprintf(what, sizeof what, "%s, iteration %ld", v->method, itn);
        e = group_put(g, m, v, what, &o);
        outcomes_free(&o);
        if (e) break;
        pool_add(&b->row[m], cJSON_GetObjectItemCaseSensitive(it, "test"), eval_num(it, "train_solved"),
                 eval_num(it, "train_tasks"), itn);

        /* the expert of this seed: once, the same in every run that has it */
        if (!v->expert) continue;
        const cJSON *et = cJSON_GetObjectItemCaseSensitive(v->expert, "test");
        if (g->run[0]) {
            if (!cJSON_Compare(et, cJSON_GetObjectItemCaseSensitive(g->run[0]->expert, "test"), 1))
                e = eef_fail(EEF_EINVAL, "seed %.0f: the experts of %s and %s differ on the test "
                             "tasks (expert.json); compare them separately", seed, g->run[0]->dir,
                             v->dir);
            continue;
        }
        snprintf(path, sizeof path, "%s/expert_test.jsonl", v->dir);
        if (!eef_file_exists(path)) continue;
        snprintf(where, sizeof where, "%s/expert.json", v->dir);
        if ((e = outcomes_read(path, et, where, &o))) break;
        e = group_put(g, 0, v, "expert", &o);
        outcomes_free(&o);
        if (e) break;
        const cJSON *tr = cJSON_GetObjectItemCaseSensitive(v->expert, "train");
        pool_add(&b->row[0], et, floor(eval_num(tr, "win") * eval_num(tr, "n") + 0.5),
                 eval_num(tr, "n"), 0);
    }
    if (e) return e;
    /* seeds in order */
    for (size_t i = 1; i < b->ng; i++)
        for (size_t j = i; j > 0 && b->g[j].seed < b->g[j - 1].seed; j--) {
            seed_group t = b->g[j];
            b->g[j] = b->g[j - 1], b->g[j - 1] = t;
        }
    return EEF_OK;
}

/* The bootstrap and every pair with a seed in common. */
static eef_err block_pairs(block *b)
{
    if (!b->ng) return EEF_OK;
    eef_stratum *st = eef_calloc(b->ng, sizeof *st);
    const unsigned char **wins = eef_calloc(b->ng * b->nm, sizeof *wins);
    b->pair = eef_calloc(b->nm * b->nm, sizeof *b->pair);
    if (!st || !wins || !b->pair) {
        free(st), free(wins);
        return EEF_ENOMEM;
    }
    for (size_t s = 0; s < b->ng; s++) {
        st[s].key = (uint64_t)b->g[s].seed;
        st[s].n = b->g[s].out[b->g[s].ref].n;
        st[s].win = wins + s * b->nm;
        for (size_t m = 0; m < b->nm; m++)
            if (b->g[s].run[m]) wins[s * b->nm + m] = b->g[s].out[m].win;
    }
    eef_boot bs;
    eef_err e = eef_boot_run(st, b->ng, b->nm, b->reps, EEF_SEED_COMPARE, &bs);
    for (size_t a = 1; !e && a < b->nm; a++)
        for (size_t c = 0; !e && c < a; c++) {
            pair_row *p = &b->pair[b->np];
            p->a = a, p->b = c;
            p->per = eef_calloc(b->ng, sizeof *p->per);
            p->hard_a = eef_calloc(b->ng, sizeof *p->hard_a);
            p->hard_b = eef_calloc(b->ng, sizeof *p->hard_b);
            if (!p->per || !p->hard_a || !p->hard_b) {
                free(p->per), free(p->hard_a), free(p->hard_b);
                e = EEF_ENOMEM;
                break;
            }
            b->np++;
            e = eef_pair_estimate(st, b->ng, &bs, a, c, LEVEL, &p->all, p->per);
            for (size_t s = 0; !e && s < b->ng; s++) {
                if (!p->per[s].n) continue;
                const outcomes *x = &b->g[s].out[a], *y = &b->g[s].out[c];
                for (size_t i = 0; i < x->n; i++)
                    if (x->tier[i] == EEF_TIER_HARD) {
                        p->hard_a[s] += x->win[i] && !y->win[i];
                        p->hard_b[s] += y->win[i] && !x->win[i];
                    }
            }
            if (!e && !p->all.n) { /* no seed in common: no pair */
                free(p->per), free(p->hard_a), free(p->hard_b);
                memset(p, 0, sizeof *p);
                b->np--;
            }
        }
    eef_boot_free(&bs);
    free(st), free(wins);
    return e;
}

/* The iterations to compare: one, or 1..K for EEF_ITER_ALL. */
static eef_err blocks_make(const eef_run_view *runs, size_t n, const eef_compare_opts *o,
                           block **out, size_t *nb)
{
    long iter = o ? o->iter : EEF_ITER_LAST;
    size_t reps = o && o->reps ? o->reps : DEFAULT_REPS;
    long from = iter, to = iter;
    if (iter == EEF_ITER_ALL) {
        long k = -1;
        for (size_t r = 0; r < n; r++) {
            if (!runs[r].n_iters || eval_num(runs[r].config, "iters") == 0) continue;
            long last = (long)eval_num(runs[r].iters[runs[r].n_iters - 1], "iter");
            if (k < 0 || last < k) k = last;
        }
        from = k > 0 ? 1 : 0, to = k > 0 ? k : 0;
    } else if (iter < EEF_ITER_ALL) {
        return eef_fail(EEF_EINVAL, "iteration %ld", iter);
    }
    *nb = 0;
    *out = eef_calloc((size_t)(to - from + 1), sizeof **out);
    if (!*out) return EEF_ENOMEM;
    eef_err e = EEF_OK;
    for (long i = from; !e && i <= to; i++) {
        e = block_load(runs, n, i, reps, &(*out)[*nb]);
        (*nb)++;
        if (!e) e = block_pairs(&(*out)[*nb - 1]);
    }
    if (e) {
        for (size_t k = 0; k < *nb; k++) block_free(&(*out)[k]);
        free(*out);
        *out = NULL, *nb = 0;
    }
    return e;
}

static void blocks_free(block *b, size_t nb)
{
    for (size_t k = 0; k < nb; k++) block_free(&b[k]);
    free(b);
}

/* ------------------------------------------------------------ output */
static void iter_label(const pool_row *p, int expert, char *out, size_t cap)
{
    if (expert) snprintf(out, cap, "-");
    else if (p->it_lo == p->it_hi) snprintf(out, cap, "%ld", p->it_lo);
    else snprintf(out, cap, "%ld-%ld", p->it_lo, p->it_hi);
}

static double rate(double k, double n) { return n > 0 ? 100 * k / n : 0; }

static void fmt_p(double p, char *out, size_t cap)
{
    if (p >= 0.001) snprintf(out, cap, "%.3f", p);
    else snprintf(out, cap, "%.1e", p);
}

/* what the pairs' columns are, under every table of them */
#define NOTE                                                                                 \
    "95%% intervals of a difference: stratified paired bootstrap (each seed's test tasks "   \
    "resampled with replacement, the same tasks for both methods, the seeds kept apart), "   \
    "%zu resamples, percentile; P(A > B): probability of improvement (rliable); p: "         \
    "McNemar's exact test on the tasks one method won and the other lost (pooled: over "     \
    "every seed's); docs/statistics.md"

static void block_text(const block *b, int heading, eef_buf *out)
{
    if (heading) eef_buf_printf(out, "== iteration %ld\n", b->iter);
    /* columns as wide as the longest method name (8 at least) and pair */
    int wm = 8, wp = 16;
    for (size_t m = 0; m < b->nm; m++) {
        int l = (int)strlen(b->method[m]);
        if (l > wm) wm = l;
    }
    for (size_t k = 0; k < b->np; k++) {
        int l = (int)(strlen(b->method[b->pair[k].a]) + strlen(b->method[b->pair[k].b]) + 3);
        if (l > wp) wp = l;
    }
    eef_buf_printf(out, "%-*s %4s %4s %6s  %-20s  %5s  %5s  %5s  %5s  %s\n", wm, "method", "iter",
                   "runs", "tasks", "test win % [95% CI]", "score", "easy", "medium", "hard",
                   "train solved");
    for (size_t m = 0; m < b->nm; m++) {
        const pool_row *p = &b->row[m];
        if (!p->runs) continue;
        double lo, hi;
        char it[32];
        eef_wilson((size_t)p->k[0], (size_t)p->n[0], &lo, &hi);
        iter_label(p, m == 0, it, sizeof it);
        eef_buf_printf(out, "%-*s %4s %4d %6.0f  %5.1f [%5.1f,%5.1f]  %5.1f", wm, b->method[m], it,
                       p->runs, p->n[0], rate(p->k[0], p->n[0]), 100 * lo, 100 * hi,
                       p->n[0] ? p->score / p->n[0] : 0);
        for (int i = 1; i < 4; i++) eef_buf_printf(out, "  %5.1f", rate(p->k[i], p->n[i]));
        eef_buf_printf(out, "  %6.0f/%-6.0f\n", p->solved, p->tasks);
    }
    if (!b->np) return;
    eef_buf_printf(out, "\n%-*s %5s %6s  %-20s  %-20s  %6s %6s  %8s\n", wp, "A - B", "seeds", "tasks",
                   "win % A-B [95% CI]", "P(A > B) [95% CI]", "A only", "B only", "p");
    for (size_t k = 0; k < b->np; k++) {
        const pair_row *p = &b->pair[k];
        size_t seeds = 0;
        for (size_t s = 0; s < b->ng; s++) seeds += p->per[s].n > 0;
        for (size_t s = 0; s <= b->ng; s++) {
            const eef_pair_est *e = s ? &p->per[s - 1] : &p->all;
            if (s && (seeds < 2 || !e->n)) continue;
            char name[80], pv[32], ns[16];
            if (s) snprintf(name, sizeof name, "  seed %.0f", b->g[s - 1].seed), snprintf(ns, sizeof ns, " ");
            else snprintf(name, sizeof name, "%s - %s", b->method[p->a], b->method[p->b]),
                 snprintf(ns, sizeof ns, "%zu", seeds);
            fmt_p(e->p, pv, sizeof pv);
            eef_buf_printf(out, "%-*s %5s %6zu  %+5.1f [%+5.1f, %+5.1f]  %5.3f [%5.3f, %5.3f]  %6zu %6zu  %8s\n",
                           wp, name, ns, e->n, 100 * e->diff, 100 * e->diff_lo, 100 * e->diff_hi,
                           e->poi, e->poi_lo, e->poi_hi, e->a_only, e->b_only, pv);
        }
    }
    eef_buf_printf(out, NOTE, b->reps);
    eef_buf_puts(out, "\n");
    /* the hard tier, where EEF's gain should show */
    for (size_t k = 0; k < b->np; k++) {
        const pair_row *p = &b->pair[k];
        if (strcmp(b->method[p->a], "eef") != 0 || strcmp(b->method[p->b], "rft") != 0) continue;
        for (size_t s = 0; s < b->ng; s++)
            if (p->per[s].n)
                eef_buf_printf(out, "seed %.0f: hard-tier test tasks won by eef and not rft: %zu; by "
                               "rft and not eef: %zu\n", b->g[s].seed, p->hard_a[s], p->hard_b[s]);
    }
}

/* Every iteration's block, written by `write`, headed when there are several. */
static eef_err blocks_write(const eef_run_view *runs, size_t n, const eef_compare_opts *o,
                            void (*write)(const block *, int, eef_buf *), eef_buf *out)
{
    block *b;
    size_t nb;
    EEF_TRY(blocks_make(runs, n, o, &b, &nb));
    int heading = o && o->iter == EEF_ITER_ALL;
    for (size_t k = 0; k < nb; k++) {
        if (k) eef_buf_puts(out, "\n");
        write(&b[k], heading, out);
    }
    blocks_free(b, nb);
    return EEF_OK;
}

eef_err eef_compare_pool(const eef_run_view *runs, size_t n, const eef_compare_opts *o,
                         eef_buf *out)
{
    return blocks_write(runs, n, o, block_text, out);
}

static void block_md(const block *b, int heading, eef_buf *out)
{
    if (heading) eef_buf_printf(out, "### Iteration %ld\n\n", b->iter);
    eef_buf_printf(out, "Each method's runs pooled over seeds, at %s.\n\n",
                   b->iter == EEF_ITER_LAST ? "each run's last iteration" : "the iteration shown");
    eef_buf_puts(out, "| method | iter | runs | tasks | test win % [95% CI] | score | easy | medium "
                      "| hard | train solved |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t m = 0; m < b->nm; m++) {
        const pool_row *p = &b->row[m];
        if (!p->runs) continue;
        double lo, hi;
        char it[32];
        eef_wilson((size_t)p->k[0], (size_t)p->n[0], &lo, &hi);
        iter_label(p, m == 0, it, sizeof it);
        eef_buf_printf(out, "| %s | %s | %d | %.0f | %.1f [%.1f, %.1f] | %.1f | %.1f | %.1f | %.1f "
                       "| %.0f/%.0f |\n", b->method[m], it, p->runs, p->n[0], rate(p->k[0], p->n[0]),
                       100 * lo, 100 * hi, p->n[0] ? p->score / p->n[0] : 0, rate(p->k[1], p->n[1]),
                       rate(p->k[2], p->n[2]), rate(p->k[3], p->n[3]), p->solved, p->tasks);
    }
    if (!b->np) return;
    eef_buf_puts(out, "\n| A − B | seeds | tasks | win % A − B [95% CI] | P(A > B) [95% CI] | A "
                      "only | B only | p |\n|---|---|---|---|---|---|---|---|\n");
    for (size_t k = 0; k < b->np; k++) {
        const pair_row *p = &b->pair[k];
        size_t seeds = 0;
        for (size_t s = 0; s < b->ng; s++) seeds += p->per[s].n > 0;
        for (size_t s = 0; s <= b->ng; s++) {
            const eef_pair_est *e = s ? &p->per[s - 1] : &p->all;
            if (s && (seeds < 2 || !e->n)) continue;
            char pv[32];
            fmt_p(e->p, pv, sizeof pv);
            if (s) eef_buf_printf(out, "| %s − %s, seed %.0f | 1 |", b->method[p->a],
                                  b->method[p->b], b->g[s - 1].seed);
            else eef_buf_printf(out, "| **%s − %s** | %zu |", b->method[p->a], b->method[p->b], seeds);
            eef_buf_printf(out, " %zu | %+.1f [%+.1f, %+.1f] | %.3f [%.3f, %.3f] | %zu | %zu | %s |\n",
                           e->n, 100 * e->diff, 100 * e->diff_lo, 100 * e->diff_hi, e->poi, e->poi_lo,
                           e->poi_hi, e->a_only, e->b_only, pv);
        }
    }
    eef_buf_puts(out, "\n");
    eef_buf_printf(out, NOTE, b->reps);
    eef_buf_puts(out, ".\n");
}

eef_err eef_compare_pool_md(const eef_run_view *runs, size_t n, const eef_compare_opts *o,
                            eef_buf *out)
{
    return blocks_write(runs, n, o, block_md, out);
}

/* Adds an estimate's fields to o. */
static cJSON *est_json(cJSON *o, const eef_pair_est *e)
{
    cJSON_AddNumberToObject(o, "tasks", (double)e->n);
    cJSON_AddNumberToObject(o, "diff", e->diff);
    cJSON_AddNumberToObject(o, "diff_lo", e->diff_lo);
    cJSON_AddNumberToObject(o, "diff_hi", e->diff_hi);
    cJSON_AddNumberToObject(o, "poi", e->poi);
    cJSON_AddNumberToObject(o, "poi_lo", e->poi_lo);
    cJSON_AddNumberToObject(o, "poi_hi", e->poi_hi);
    cJSON_AddNumberToObject(o, "a_only", (double)e->a_only);
    cJSON_AddNumberToObject(o, "b_only", (double)e->b_only);
    cJSON_AddNumberToObject(o, "p", e->p);
    return o;
}

static cJSON *block_json(const block *b)
{
    static const char *tiers[] = { "easy", "medium", "hard" };
    cJSON *o = cJSON_CreateObject();
    if (b->iter == EEF_ITER_LAST) cJSON_AddStringToObject(o, "iter", "last");
    else cJSON_AddNumberToObject(o, "iter", (double)b->iter);
    cJSON *ms = cJSON_AddArrayToObject(o, "methods");
    for (size_t m = 0; m < b->nm; m++) {
        const pool_row *p = &b->row[m];
        if (!p->runs) continue;
        cJSON *j = cJSON_CreateObject();
        double lo, hi;
        eef_wilson((size_t)p->k[0], (size_t)p->n[0], &lo, &hi);
        cJSON_AddStringToObject(j, "method", b->method[m]);
        cJSON *seeds = cJSON_AddArrayToObject(j, "seeds");
        cJSON *iters = cJSON_AddArrayToObject(j, "iters");
        for (size_t s = 0; s < b->ng; s++) {
            if (!b->g[s].run[m]) continue;
            cJSON_AddItemToArray(seeds, cJSON_CreateNumber(b->g[s].seed));
            if (m) {
                const eef_run_view *v = b->g[s].run[m];
                size_t ii;
                if (pick_iter(v, b->iter, &ii) == EEF_OK)
                    cJSON_AddItemToArray(iters, cJSON_CreateNumber(eval_num(v->iters[ii], "iter")));
            }
        }
        cJSON_AddNumberToObject(j, "runs", p->runs);
        cJSON_AddNumberToObject(j, "tasks", p->n[0]);
        cJSON_AddNumberToObject(j, "wins", p->k[0]);
        cJSON_AddNumberToObject(j, "win", p->n[0] ? p->k[0] / p->n[0] : 0);
        cJSON_AddNumberToObject(j, "win_lo", lo);
        cJSON_AddNumberToObject(j, "win_hi", hi);
        cJSON_AddNumberToObject(j, "score", p->n[0] ? p->score / p->n[0] : 0);
        cJSON *t = cJSON_AddObjectToObject(j, "tiers");
        for (int i = 0; i < 3; i++) {
            cJSON *x = cJSON_AddObjectToObject(t, tiers[i]);
            cJSON_AddNumberToObject(x, "n", p->n[i + 1]);
            cJSON_AddNumberToObject(x, "win", p->n[i + 1] ? p->k[i + 1] / p->n[i + 1] : 0);
        }
        cJSON_AddNumberToObject(j, "train_solved", p->solved);
        cJSON_AddNumberToObject(j, "train_tasks", p->tasks);
        cJSON_AddItemToArray(ms, j);
    }
    cJSON *ps = cJSON_AddArrayToObject(o, "pairs");
    for (size_t k = 0; k < b->np; k++) {
        const pair_row *p = &b->pair[k];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "a", b->method[p->a]);
        cJSON_AddStringToObject(j, "b", b->method[p->b]);
        est_json(j, &p->all);
        cJSON *per = cJSON_AddArrayToObject(j, "per_seed");
        for (size_t s = 0; s < b->ng; s++) {
            if (!p->per[s].n) continue;
            cJSON *x = cJSON_CreateObject();
            cJSON_AddNumberToObject(x, "seed", b->g[s].seed);
            est_json(x, &p->per[s]);
            cJSON_AddNumberToObject(x, "hard_a_only", (double)p->hard_a[s]);
            cJSON_AddNumberToObject(x, "hard_b_only", (double)p->hard_b[s]);
            cJSON_AddItemToArray(per, x);
        }
        cJSON_AddNumberToObject(j, "seeds", cJSON_GetArraySize(per));
        cJSON_AddItemToArray(ps, j);
    }
    return o;
}

eef_err eef_compare_pool_json(const eef_run_view *runs, size_t n, const eef_compare_opts *o,
                              cJSON **out)
{
    block *b;
    size_t nb;
    *out = NULL;
    EEF_TRY(blocks_make(runs, n, o, &b, &nb));
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "format", "eef-compare");
    cJSON_AddNumberToObject(j, "version", 1);
    cJSON *bs = cJSON_AddObjectToObject(j, "bootstrap");
    cJSON_AddStringToObject(bs, "method", "stratified paired percentile");
    cJSON_AddNumberToObject(bs, "reps", nb ? (double)b[0].reps : 0);
    cJSON_AddNumberToObject(bs, "level", LEVEL);
    cJSON_AddStringToObject(bs, "test", "McNemar exact");
    cJSON *its = cJSON_AddArrayToObject(j, "iterations");
    for (size_t k = 0; k < nb; k++) cJSON_AddItemToArray(its, block_json(&b[k]));
    blocks_free(b, nb);
    *out = j;
    return EEF_OK;
}

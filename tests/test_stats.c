/* The comparison's statistics against references that share nothing with
 * them (tests/ref/make_stats_ref.py: statsmodels, scipy, numpy, and every
 * bootstrap resample enumerated), then `eef compare --pool` on run
 * directories made here with known outcomes: its pairs, its JSON and
 * Markdown, and the runs it must refuse to pair. */
#include "testutil.h"

#include "eval/eval.h"
#include "traj/traj.h"

#include <cjson/cJSON.h>
#include <omp.h>
#include <sys/stat.h>

/* ------------------------------------------------------------ the fixture */
typedef struct {
    char **tok;
    size_t n, pos;
} record;

typedef struct {
    char *text;
    record *rec;
    size_t n;
} fixture;

static void fixture_load(fixture *f)
{
    const char *path = "tests/fixtures/stats/ref.txt";
    memset(f, 0, sizeof *f);
    assert_ok(eef_read_file(path, &f->text, NULL));
    char *save = NULL, *line = strtok_r(f->text, "\n", &save);
    assert_non_null(line);
    assert_string_equal(line, "eef-stats-ref 1");
    while ((line = strtok_r(NULL, "\n", &save))) {
        f->rec = realloc(f->rec, (f->n + 1) * sizeof *f->rec);
        assert_non_null(f->rec);
        record *r = &f->rec[f->n++];
        memset(r, 0, sizeof *r);
        char *s2 = NULL;
        for (char *t = strtok_r(line, " ", &s2); t; t = strtok_r(NULL, " ", &s2)) {
            r->tok = realloc(r->tok, (r->n + 1) * sizeof *r->tok);
            assert_non_null(r->tok);
            r->tok[r->n++] = t;
        }
    }
}

static void fixture_free(fixture *f)
{
    for (size_t i = 0; i < f->n; i++) free(f->rec[i].tok);
    free(f->rec);
    free(f->text);
}

static const char *next_tok(record *r)
{
    if (r->pos >= r->n) fail_msg("fixture record '%s' ends early", r->tok[0]);
    return r->tok[r->pos++];
}
static double next_num(record *r) { return strtod(next_tok(r), NULL); }
static size_t next_size(record *r) { return (size_t)strtoull(next_tok(r), NULL, 10); }

/* Strata of two methods (0 = A, 1 = B) from "S a1 b1 a2 b2 ..." */
typedef struct {
    size_t ns;
    eef_stratum st[8];
    unsigned char *win[8][2];
    const unsigned char *ptr[8][2];
} two;

static void two_parse(record *r, two *t)
{
    memset(t, 0, sizeof *t);
    t->ns = next_size(r);
    assert_true(t->ns >= 1 && t->ns <= 8);
    for (size_t s = 0; s < t->ns; s++) {
        for (int m = 0; m < 2; m++) {
            const char *bits = next_tok(r);
            size_t n = strlen(bits);
            if (m) assert_int_equal(n, t->st[s].n);
            t->win[s][m] = malloc(n);
            for (size_t i = 0; i < n; i++) t->win[s][m][i] = bits[i] == '1';
            t->ptr[s][m] = t->win[s][m];
            t->st[s].n = n;
        }
        t->st[s].key = s + 1;
        t->st[s].win = t->ptr[s];
    }
}

static void two_free(two *t)
{
    for (size_t s = 0; s < t->ns; s++) free(t->win[s][0]), free(t->win[s][1]);
}

static int near(double x, double want, double tol) { return fabs(x - want) <= tol; }

/* ------------------------------------------------------------ references */
static void test_wilson_statsmodels(void **state)
{
    (void)state;
    fixture f;
    fixture_load(&f);
    size_t seen = 0;
    for (size_t i = 0; i < f.n; i++) {
        record *r = &f.rec[i];
        if (strcmp(r->tok[0], "wilson") != 0) continue;
        r->pos = 1;
        size_t k = next_size(r), n = next_size(r);
        double lo_want = next_num(r), hi_want = next_num(r), lo, hi;
        eef_wilson(k, n, &lo, &hi);
        if (!near(lo, lo_want, 1e-12) || !near(hi, hi_want, 1e-12))
            fail_msg("wilson(%zu, %zu) = [%.17g, %.17g], statsmodels [%.17g, %.17g]", k, n, lo, hi,
                     lo_want, hi_want);
        seen++;
    }
    assert_true(seen >= 30);
    fixture_free(&f);
}

static void test_quantile_numpy(void **state)
{
    (void)state;
    fixture f;
    fixture_load(&f);
    size_t seen = 0;
    for (size_t i = 0; i < f.n; i++) {
        record *r = &f.rec[i];
        if (strcmp(r->tok[0], "quantile") != 0) continue;
        r->pos = 1;
        size_t n = next_size(r);
        double *v = malloc(n * sizeof *v);
        for (size_t k = 0; k < n; k++) v[k] = next_num(r);
        size_t nq = next_size(r);
        for (size_t k = 0; k < nq; k++) {
            double q = next_num(r), want = next_num(r), got = eef_quantile_sorted(v, n, q);
            if (!near(got, want, 1e-12 * fmax(1, fabs(want))))
                fail_msg("quantile %g of %zu values: %.17g, numpy %.17g", q, n, got, want);
            seen++;
        }
        free(v);
    }
    assert_true(seen >= 30);
    assert_true(isnan(eef_quantile_sorted(NULL, 0, 0.5)));
    fixture_free(&f);
}

static void check_p(double got, double want, const char *what)
{
    if (!(near(got, want, 1e-9 * want) || (want < 1e-300 && got < 1e-300)))
        fail_msg("%s: p = %.17g, reference %.17g", what, got, want);
}

static void test_mcnemar_statsmodels(void **state)
{
    (void)state;
    fixture f;
    fixture_load(&f);
    size_t seen = 0;
    for (size_t i = 0; i < f.n; i++) {
        record *r = &f.rec[i];
        if (strcmp(r->tok[0], "mcnemar") != 0) continue;
        r->pos = 1;
        size_t b = next_size(r), c = next_size(r);
        char what[64];
        snprintf(what, sizeof what, "mcnemar(%zu, %zu)", b, c);
        check_p(eef_mcnemar_exact(b, c), next_num(r), what);
        seen++;
    }
    assert_true(seen >= 20);
    fixture_free(&f);
}

/* Strata with b tasks won by A alone, c by B alone, and 6 concordant. */
static void test_pooled_test_scipy(void **state)
{
    (void)state;
    fixture f;
    fixture_load(&f);
    size_t seen = 0;
    for (size_t i = 0; i < f.n; i++) {
        record *r = &f.rec[i];
        if (strcmp(r->tok[0], "pooled") != 0) continue;
        r->pos = 1;
        size_t ns = next_size(r), b[8], c[8];
        assert_true(ns <= 8);
        eef_stratum st[8];
        unsigned char *w[8][2];
        const unsigned char *p[8][2];
        for (size_t s = 0; s < ns; s++) {
            b[s] = next_size(r), c[s] = next_size(r);
            size_t n = b[s] + c[s] + 6;
            w[s][0] = calloc(n, 1), w[s][1] = calloc(n, 1);
            /* interleaved, so no position carries the answer */
            size_t k = 0;
            for (size_t j = 0; j < b[s] || j < c[s] || j < 3; j++) {
                if (j < b[s]) w[s][0][k++] = 1;
                if (j < c[s]) w[s][1][k++] = 1;
                if (j < 3) w[s][0][k] = w[s][1][k] = 1, k += 2; /* both win, both lose */
            }
            assert_int_equal(k, n);
            p[s][0] = w[s][0], p[s][1] = w[s][1];
            st[s] = (eef_stratum){ .key = 10 + s, .n = n, .win = p[s] };
        }
        eef_boot bs;
        assert_ok(eef_boot_run(st, ns, 2, 200, 1, &bs));
        eef_pair_est all, per[8];
        assert_ok(eef_pair_estimate(st, ns, &bs, 0, 1, 0.95, &all, per));
        check_p(all.p, next_num(r), "pooled");
        size_t sb = 0, sc = 0;
        for (size_t s = 0; s < ns; s++) {
            check_p(per[s].p, next_num(r), "per seed");
            assert_int_equal(per[s].a_only, b[s]);
            assert_int_equal(per[s].b_only, c[s]);
            sb += b[s], sc += c[s];
        }
        assert_int_equal(all.a_only, sb);
        assert_int_equal(all.b_only, sc);
        eef_boot_free(&bs);
        for (size_t s = 0; s < ns; s++) free(w[s][0]), free(w[s][1]);
        seen++;
    }
    assert_true(seen >= 5);
    fixture_free(&f);
}

/* Δ of resample r for the pair (0, 1), over all strata. */
static double resample_diff(const two *t, const eef_boot *bs, size_t r)
{
    double d = 0, n = 0;
    for (size_t s = 0; s < t->ns; s++) {
        const uint32_t *w = bs->wins + (r * bs->n_strata + s) * bs->n_methods;
        d += (double)w[0] - (double)w[1];
        n += (double)t->st[s].n;
    }
    return d / n;
}

/* The bootstrap's distribution against every resample enumerated: each
 * value's frequency within 5 standard errors of its exact probability,
 * nothing outside the exact support, and the percentile interval at the
 * exact quantiles. */
static void test_bootstrap_exact(void **state)
{
    (void)state;
    fixture f;
    fixture_load(&f);
    enum { B = 40000 };
    size_t seen = 0;
    for (size_t i = 0; i < f.n; i++) {
        record *r = &f.rec[i];
        if (strcmp(r->tok[0], "exact") != 0) continue;
        r->pos = 1;
        two t;
        two_parse(r, &t);
        size_t K = next_size(r);
        double x[64], p[64];
        assert_true(K <= 64);
        for (size_t k = 0; k < K; k++) x[k] = next_num(r), p[k] = next_num(r);
        double lo_want = next_num(r), hi_want = next_num(r);
        eef_boot bs;
        assert_ok(eef_boot_run(t.st, t.ns, 2, B, 99, &bs));
        size_t count[64] = { 0 };
        for (size_t b = 0; b < B; b++) {
            double d = resample_diff(&t, &bs, b);
            size_t k = 0;
            while (k < K && !near(d, x[k], 1e-9)) k++;
            if (k == K) fail_msg("exact case %zu: resample difference %g is impossible", seen, d);
            count[k]++;
        }
        for (size_t k = 0; k < K; k++) {
            double freq = (double)count[k] / B, se = sqrt(p[k] * (1 - p[k]) / B);
            if (!near(freq, p[k], 5 * se + 1e-12))
                fail_msg("exact case %zu: P(diff = %g) = %g, resampled %g (se %g)", seen, x[k], p[k],
                         freq, se);
        }
        eef_pair_est e;
        assert_ok(eef_pair_estimate(t.st, t.ns, &bs, 0, 1, 0.95, &e, NULL));
        if (!near(e.diff_lo, lo_want, 1e-12) || !near(e.diff_hi, hi_want, 1e-12))
            fail_msg("exact case %zu: interval [%g, %g], exact quantiles [%g, %g]", seen, e.diff_lo,
                     e.diff_hi, lo_want, hi_want);
        eef_boot_free(&bs);
        two_free(&t);
        seen++;
    }
    assert_int_equal(seen, 5);
    fixture_free(&f);
}

/* Intervals of 10,000 resamples against numpy's of 200,000, within the
 * Monte-Carlo error of both (the fixture's tolerance); the point estimates
 * exactly, P(A > B) against scipy's Mann-Whitney U. */
static void test_bootstrap_numpy(void **state)
{
    (void)state;
    fixture f;
    fixture_load(&f);
    size_t seen = 0;
    for (size_t i = 0; i < f.n; i++) {
        record *r = &f.rec[i];
        if (strcmp(r->tok[0], "boot") != 0) continue;
        r->pos = 1;
        const char *name = next_tok(r);
        two t;
        two_parse(r, &t);
        double poi = next_num(r);
        next_num(r); /* numpy's resamples */
        double lo = next_num(r), hi = next_num(r), tol = next_num(r);
        double plo = next_num(r), phi = next_num(r), ptol = next_num(r);
        eef_boot bs;
        assert_ok(eef_boot_run(t.st, t.ns, 2, 10000, 0x5EED0B007ULL, &bs));
        eef_pair_est e, per[8];
        assert_ok(eef_pair_estimate(t.st, t.ns, &bs, 0, 1, 0.95, &e, per));
        long wa = 0, wb = 0, n = 0;
        for (size_t s = 0; s < t.ns; s++)
            for (size_t k = 0; k < t.st[s].n; k++) wa += t.win[s][0][k], wb += t.win[s][1][k], n++;
        assert_true(near(e.diff, (double)(wa - wb) / (double)n, 1e-15));
        assert_int_equal(e.n, n);
        if (!near(e.poi, poi, 1e-12)) fail_msg("%s: P(A > B) %.17g, rliable's formula %.17g", name, e.poi, poi);
        if (!near(e.diff_lo, lo, tol) || !near(e.diff_hi, hi, tol))
            fail_msg("%s: interval [%.5f, %.5f], numpy [%.5f, %.5f] (tolerance %.5f)", name, e.diff_lo,
                     e.diff_hi, lo, hi, tol);
        if (!near(e.poi_lo, plo, ptol) || !near(e.poi_hi, phi, ptol))
            fail_msg("%s: P(A > B) interval [%.5f, %.5f], numpy [%.5f, %.5f] (tolerance %.5f)", name,
                     e.poi_lo, e.poi_hi, plo, phi, ptol);
        /* one seed alone: the pooled estimate over that seed */
        if (t.ns == 1) {
            assert_true(near(per[0].diff_lo, e.diff_lo, 0) && near(per[0].diff_hi, e.diff_hi, 0));
            assert_true(near(e.poi, 0.5 + e.diff / 2, 1e-12));
        }
        eef_boot_free(&bs);
        two_free(&t);
        seen++;
    }
    assert_int_equal(seen, 4);
    fixture_free(&f);
}

/* eval.c's score interval against numpy's of 200,000 resamples: the
 * function with 100,000, a summary (1,000) within its wider tolerance. */
static void test_score_interval_numpy(void **state)
{
    (void)state;
    fixture f;
    fixture_load(&f);
    size_t seen = 0;
    for (size_t i = 0; i < f.n; i++) {
        record *r = &f.rec[i];
        if (strcmp(r->tok[0], "score") != 0) continue;
        r->pos = 1;
        size_t n = next_size(r);
        eef_traj *t = calloc(n, sizeof *t);
        double *rw = calloc(n, sizeof *rw), sum = 0;
        for (size_t k = 0; k < n; k++) {
            eef_traj_init(&t[k]);
            t[k].reward = rw[k] = next_num(r);
            t[k].win = t[k].reward == 1.0;
            t[k].tier = (int)(k % 3);
            sum += t[k].reward;
        }
        double lo = next_num(r), hi = next_num(r);
        size_t reps = next_size(r);
        double tol = next_num(r), tol_summary = next_num(r), flo, fhi;
        eef_score_interval(rw, n, reps, 77, &flo, &fhi);
        if (!near(flo, lo, tol) || !near(fhi, hi, tol))
            fail_msg("score interval of %zu resamples [%.3f, %.3f], numpy [%.3f, %.3f] (tolerance %.3f)",
                     reps, flo, fhi, lo, hi, tol);
        eef_eval_summary s;
        eef_eval_summarize(t, n, 5, &s);
        assert_true(near(s.all.score, 100 * sum / (double)n, 1e-9));
        if (!near(s.all.score_lo, lo, tol_summary) || !near(s.all.score_hi, hi, tol_summary))
            fail_msg("summary's score interval [%.3f, %.3f], numpy [%.3f, %.3f] (tolerance %.3f)",
                     s.all.score_lo, s.all.score_hi, lo, hi, tol_summary);
        free(t), free(rw);
        seen++;
    }
    assert_int_equal(seen, 1);
    fixture_free(&f);
}

/* Resamples are keyed by (seed, stratum key, resample): the same on one
 * thread or two, and a stratum's the same whatever strata come with it. */
static void test_bootstrap_deterministic(void **state)
{
    (void)state;
    enum { N = 97, R = 500 };
    unsigned char a[N], b[N], c[N];
    for (int i = 0; i < N; i++) a[i] = (i * 7) % 3 == 0, b[i] = (i * 5) % 4 == 1, c[i] = i % 2;
    const unsigned char *w1[2] = { a, b }, *w2[2] = { c, a };
    eef_stratum st[2] = { { 3, N, w1 }, { 8, N - 10, w2 } };
    eef_boot x, y, z;
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    assert_ok(eef_boot_run(st, 2, 2, R, 42, &x));
    omp_set_num_threads(2);
    assert_ok(eef_boot_run(st, 2, 2, R, 42, &y));
    assert_ok(eef_boot_run(&st[1], 1, 2, R, 42, &z));
    omp_set_num_threads(threads);
    assert_memory_equal(x.wins, y.wins, (size_t)R * 4 * sizeof *x.wins);
    for (size_t r = 0; r < R; r++) {
        assert_int_equal(x.wins[r * 4 + 2], z.wins[r * 2 + 0]);
        assert_int_equal(x.wins[r * 4 + 3], z.wins[r * 2 + 1]);
    }
    /* and another seed draws other resamples */
    eef_boot_free(&y);
    assert_ok(eef_boot_run(st, 2, 2, R, 43, &y));
    assert_true(memcmp(x.wins, y.wins, (size_t)R * 4 * sizeof *x.wins) != 0);
    eef_boot_free(&x), eef_boot_free(&y), eef_boot_free(&z);
    /* a method with no run in a stratum is left out of it */
    const unsigned char *w3[2] = { a, NULL };
    eef_stratum s3[2] = { { 3, N, w1 }, { 4, N, w3 } };
    assert_ok(eef_boot_run(s3, 2, 2, 50, 1, &x));
    eef_pair_est e, per[2];
    assert_ok(eef_pair_estimate(s3, 2, &x, 0, 1, 0.95, &e, per));
    assert_int_equal(e.n, N);
    assert_int_equal(per[1].n, 0);
    eef_boot_free(&x);
    assert_int_equal(eef_boot_run(st, 2, 2, 0, 1, &x), EEF_EINVAL);
}

/* ------------------------------------------------------------ eef compare
 * Run directories written here: config.json, metrics.jsonl and each
 * iteration's eval.jsonl with the outcomes given ('1' = win), optionally the
 * expert's. */
typedef struct {
    const char *method;
    int seed, iters; /* iters: the config's; the run has iterations 0..iters */
    const char *options;
    const char *wins[4]; /* outcomes at iterations 0..iters */
    const char *expert;  /* expert outcomes or NULL */
    const char *world;   /* instruction prefix: the world the tasks come from */
} fake_run;

static void write_trajs(const char *path, const char *wins, const char *world, const char *source)
{
    size_t n = strlen(wins);
    eef_traj *t = calloc(n, sizeof *t);
    for (size_t i = 0; i < n; i++) {
        eef_traj_init(&t[i]);
        char id[160], task[64], ins[128];
        snprintf(task, sizeof task, "shop-test-%zu", i);
        snprintf(id, sizeof id, "%s/%s", task, source);
        snprintf(ins, sizeof ins, "%s: task %zu", world, i);
        assert_ok(eef_traj_set(&t[i].id, id));
        assert_ok(eef_traj_set(&t[i].env, "shop"));
        assert_ok(eef_traj_set(&t[i].task, task));
        assert_ok(eef_traj_set(&t[i].source, source));
        assert_ok(eef_traj_set(&t[i].instruction, ins));
        t[i].split = EEF_SPLIT_TEST;
        t[i].index = (long)i;
        t[i].tier = (int)(i % 3);
        t[i].win = wins[i] == '1';
        t[i].reward = t[i].win ? 1.0 : 0.25;
        assert_ok(eef_traj_push(&t[i], "page", "click[Buy Now]", 1));
    }
    assert_ok(eef_traj_write(path, t, n));
    for (size_t i = 0; i < n; i++) eef_traj_free(&t[i]);
    free(t);
}

static cJSON *summary_of(const char *wins)
{
    size_t n = strlen(wins);
    eef_traj *t = calloc(n, sizeof *t);
    for (size_t i = 0; i < n; i++) {
        eef_traj_init(&t[i]);
        t[i].tier = (int)(i % 3);
        t[i].win = wins[i] == '1';
        t[i].reward = t[i].win ? 1.0 : 0.25;
    }
    eef_eval_summary s;
    eef_eval_summarize(t, n, 1, &s);
    free(t);
    return eef_eval_to_json(&s);
}

static void write_json(const char *path, cJSON *j)
{
    char *s = cJSON_PrintUnformatted(j);
    assert_ok(eef_write_file_atomic(path, s, strlen(s)));
    cJSON_free(s);
    cJSON_Delete(j);
}

static void make_run(const char *dir, const fake_run *f)
{
    char p[1024];
    mkdir(dir, 0755);
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "method", f->method);
    cJSON_AddStringToObject(c, "env", "shop");
    cJSON_AddStringToObject(c, "env_options", f->options ? f->options : "products=300");
    cJSON_AddNumberToObject(c, "seed", f->seed);
    cJSON_AddNumberToObject(c, "iters", f->iters);
    snprintf(p, sizeof p, "%s/config.json", dir);
    write_json(p, c);
    const char *world = f->world ? f->world : "world";
    eef_buf m;
    eef_buf_init(&m);
    for (int i = 0; i <= f->iters && f->wins[i]; i++) {
        snprintf(p, sizeof p, "%s/iter_%d", dir, i);
        mkdir(p, 0755);
        snprintf(p, sizeof p, "%s/iter_%d/eval.jsonl", dir, i);
        write_trajs(p, f->wins[i], world, "agent");
        cJSON *l = cJSON_CreateObject();
        cJSON_AddStringToObject(l, "method", f->method);
        cJSON_AddNumberToObject(l, "iter", i);
        cJSON_AddItemToObject(l, "test", summary_of(f->wins[i]));
        cJSON_AddNumberToObject(l, "train_tasks", 10);
        cJSON_AddNumberToObject(l, "train_solved", 4 + i);
        char *s = cJSON_PrintUnformatted(l);
        eef_buf_printf(&m, "%s\n", s);
        cJSON_free(s);
        cJSON_Delete(l);
    }
    snprintf(p, sizeof p, "%s/metrics.jsonl", dir);
    assert_ok(eef_write_file_atomic(p, m.data, m.len));
    eef_buf_free(&m);
    if (f->expert) {
        snprintf(p, sizeof p, "%s/expert_test.jsonl", dir);
        write_trajs(p, f->expert, world, "expert");
        cJSON *e = cJSON_CreateObject();
        cJSON_AddItemToObject(e, "train", summary_of("1100110011"));
        cJSON_AddItemToObject(e, "test", summary_of(f->expert));
        snprintf(p, sizeof p, "%s/expert.json", dir);
        write_json(p, e);
    }
}

static cJSON *read_json_out(const char *path)
{
    char *t;
    assert_ok(eef_read_file(path, &t, NULL));
    cJSON *j = cJSON_Parse(t);
    free(t);
    assert_non_null(j);
    return j;
}

static const cJSON *find_pair(const cJSON *block, const char *a, const char *b)
{
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(block, "pairs"))
    {
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(p, "a")), a) == 0 &&
            strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(p, "b")), b) == 0)
            return p;
    }
    fail_msg("no pair %s - %s", a, b);
    return NULL;
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *x = cJSON_GetObjectItem(o, k);
    if (!cJSON_IsNumber(x)) fail_msg("field '%s' missing", k);
    return x->valuedouble;
}

/* 2 seeds, SFT (iteration 0 only), RFT and EEF (iterations 0..2), with
 * the discordant counts chosen: per seed EEF - RFT at iteration 2 is
 * a_only 4 / b_only 4 in both seeds; on the hard tier (i % 3 == 2) 2 / 1 in seed 1. */
#define S1_SFT  "110000000000000000001111"
#define S1_RFT2 "111100000000000000001111"
#define S1_EEF2 "100001111000000000001111"
#define S2_SFT  "000000000000000011111111"
#define S2_RFT2 "110000000000000011111111"
#define S2_EEF2 "001111000000000011111100"
#define EXP1    "111111000000000000000000"
#define EXP2    "000000000000111111000000"

static void make_seeds(const char *dir)
{
    char p[1024];
    const char *sft[2] = { S1_SFT, S2_SFT }, *rft[2] = { S1_RFT2, S2_RFT2 }, *eef[2] = { S1_EEF2, S2_EEF2 };
    const char *exp[2] = { EXP1, EXP2 };
    for (int s = 0; s < 2; s++) {
        char w[32];
        snprintf(w, sizeof w, "world%d", s + 1);
        snprintf(p, sizeof p, "%s/seed%d", dir, s + 1);
        mkdir(p, 0755);
        fake_run r = { "sft", s + 1, 0, NULL, { sft[s] }, exp[s], w };
        snprintf(p, sizeof p, "%s/seed%d/sft", dir, s + 1);
        make_run(p, &r);
        fake_run q = { "rft", s + 1, 2, NULL, { sft[s], sft[s], rft[s] }, exp[s], w };
        snprintf(p, sizeof p, "%s/seed%d/rft", dir, s + 1);
        make_run(p, &q);
        fake_run e = { "eef", s + 1, 2, NULL, { sft[s], rft[s], eef[s] }, exp[s], w };
        snprintf(p, sizeof p, "%s/seed%d/eef", dir, s + 1);
        make_run(p, &e);
    }
}

static size_t count_only(const char *x, const char *y)
{
    size_t k = 0;
    for (size_t i = 0; x[i]; i++) k += x[i] == '1' && y[i] == '0';
    return k;
}

/* the same, on the hard tier only (tasks i with i % 3 == 2 here) */
static size_t count_only_hard(const char *x, const char *y)
{
    size_t k = 0;
    for (size_t i = 0; x[i]; i++) k += i % 3 == 2 && x[i] == '1' && y[i] == '0';
    return k;
}

static void test_compare_pairs(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    make_seeds(dir);
    char runs[2048], p[1024];
    snprintf(runs, sizeof runs, "%s/seed1/sft %s/seed1/rft %s/seed1/eef %s/seed2/eef %s/seed2/rft %s/seed2/sft",
             dir, dir, dir, dir, dir, dir);
    assert_int_equal(tu_sh("%s compare --pool --json %s > %s/pool.json", tu_eef(), runs, dir), 0);
    snprintf(p, sizeof p, "%s/pool.json", dir);
    cJSON *j = read_json_out(p);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "format")), "eef-compare");
    const cJSON *blk = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "iterations"), 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(blk, "iter")), "last");
    /* methods in the pipeline's order, whatever the order of the runs */
    const char *order[] = { "expert", "sft", "rft", "eef" };
    const cJSON *ms = cJSON_GetObjectItem(blk, "methods");
    assert_int_equal(cJSON_GetArraySize(ms), 4);
    for (int i = 0; i < 4; i++)
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(ms, i), "method")),
                            order[i]);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(blk, "pairs")), 6);
    /* EEF - RFT: counts, difference, the pooled and per-seed exact tests */
    const cJSON *er = find_pair(blk, "eef", "rft");
    size_t a1 = count_only(S1_EEF2, S1_RFT2), b1 = count_only(S1_RFT2, S1_EEF2);
    size_t a2 = count_only(S2_EEF2, S2_RFT2), b2 = count_only(S2_RFT2, S2_EEF2);
    assert_int_equal(jnum(er, "a_only"), a1 + a2);
    assert_int_equal(jnum(er, "b_only"), b1 + b2);
    assert_int_equal(jnum(er, "tasks"), 48);
    assert_int_equal(jnum(er, "seeds"), 2);
    assert_true(near(jnum(er, "diff"), ((double)(a1 + a2) - (double)(b1 + b2)) / 48, 1e-12));
    assert_true(near(jnum(er, "p"), eef_mcnemar_exact(a1 + a2, b1 + b2), 1e-12));
    assert_true(jnum(er, "diff_lo") <= jnum(er, "diff") && jnum(er, "diff") <= jnum(er, "diff_hi"));
    assert_true(jnum(er, "diff_lo") < jnum(er, "diff_hi"));
    const cJSON *ps = cJSON_GetObjectItem(er, "per_seed");
    assert_int_equal(cJSON_GetArraySize(ps), 2);
    const cJSON *ps1 = cJSON_GetArrayItem(ps, 0), *ps2 = cJSON_GetArrayItem(ps, 1);
    assert_int_equal(jnum(ps1, "seed"), 1);
    assert_int_equal(jnum(ps1, "a_only"), a1);
    assert_int_equal(jnum(ps2, "b_only"), b2);
    assert_true(near(jnum(ps1, "p"), eef_mcnemar_exact(a1, b1), 1e-12));
    assert_true(near(jnum(ps2, "diff"), ((double)a2 - (double)b2) / 24, 1e-12));
    assert_int_equal(jnum(ps1, "hard_a_only"), count_only_hard(S1_EEF2, S1_RFT2));
    assert_int_equal(jnum(ps1, "hard_b_only"), count_only_hard(S1_RFT2, S1_EEF2));
    assert_true(count_only_hard(S1_EEF2, S1_RFT2) > 0 && count_only_hard(S1_RFT2, S1_EEF2) > 0);
    /* the expert, once per seed, paired too */
    const cJSON *se = find_pair(blk, "sft", "expert");
    assert_int_equal(jnum(se, "a_only"), count_only(S1_SFT, EXP1) + count_only(S2_SFT, EXP2));
    assert_int_equal(jnum(cJSON_GetArrayItem(ms, 0), "runs"), 2);
    cJSON_Delete(j);

    /* at iteration 1: SFT at its 0, the others at 1 (EEF at 1 = RFT at 2) */
    assert_int_equal(tu_sh("%s compare --pool --json --iter 1 %s > %s/it1.json", tu_eef(), runs, dir), 0);
    snprintf(p, sizeof p, "%s/it1.json", dir);
    j = read_json_out(p);
    blk = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "iterations"), 0);
    assert_int_equal(jnum(blk, "iter"), 1);
    er = find_pair(blk, "eef", "rft");
    assert_int_equal(jnum(er, "a_only"), count_only(S1_RFT2, S1_SFT) + count_only(S2_RFT2, S2_SFT));
    assert_int_equal(jnum(er, "b_only"), 0);
    const cJSON *rs = find_pair(blk, "rft", "sft");
    assert_int_equal(jnum(rs, "a_only") + jnum(rs, "b_only"), 0);
    assert_true(near(jnum(rs, "diff_lo"), 0, 0) && near(jnum(rs, "diff_hi"), 0, 0));
    assert_true(near(jnum(rs, "poi"), 0.5, 0) && near(jnum(rs, "p"), 1, 0));
    cJSON_Delete(j);

    /* every iteration: blocks 1 and 2 */
    assert_int_equal(tu_sh("%s compare --pool --json --iter all %s > %s/all.json", tu_eef(), runs, dir), 0);
    snprintf(p, sizeof p, "%s/all.json", dir);
    j = read_json_out(p);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "iterations")), 2);
    assert_int_equal(jnum(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "iterations"), 1), "iter"), 2);
    cJSON_Delete(j);

    /* a seed's resamples are its own: seed 2 alone gives the intervals it
     * gives beside seed 1 (few resamples, so other draws would show) */
    assert_int_equal(tu_sh("%s compare --pool --json --reps 100 %s > %s/both.json", tu_eef(), runs, dir), 0);
    assert_int_equal(tu_sh("%s compare --pool --json --reps 100 %s/seed2/sft %s/seed2/rft %s/seed2/eef "
                           "> %s/alone.json", tu_eef(), dir, dir, dir, dir), 0);
    snprintf(p, sizeof p, "%s/both.json", dir);
    j = read_json_out(p);
    snprintf(p, sizeof p, "%s/alone.json", dir);
    cJSON *j2 = read_json_out(p);
    const cJSON *blk1 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "iterations"), 0);
    const cJSON *blk2 = cJSON_GetArrayItem(cJSON_GetObjectItem(j2, "iterations"), 0);
    const char *pairs[][2] = { { "sft", "expert" }, { "rft", "expert" }, { "rft", "sft" },
                               { "eef", "expert" }, { "eef", "sft" }, { "eef", "rft" } };
    const char *fields[] = { "diff_lo", "diff_hi", "poi_lo", "poi_hi" };
    for (size_t k = 0; k < EEF_ARRAY_LEN(pairs); k++) {
        const cJSON *both = cJSON_GetArrayItem(cJSON_GetObjectItem(find_pair(blk1, pairs[k][0], pairs[k][1]),
                                                                   "per_seed"), 1);
        const cJSON *alone = find_pair(blk2, pairs[k][0], pairs[k][1]);
        assert_int_equal(jnum(both, "seed"), 2);
        for (size_t q = 0; q < EEF_ARRAY_LEN(fields); q++)
            if (jnum(both, fields[q]) != jnum(alone, fields[q]))
                fail_msg("%s - %s, seed 2: %s %g beside seed 1, %g alone", pairs[k][0], pairs[k][1],
                         fields[q], jnum(both, fields[q]), jnum(alone, fields[q]));
    }
    cJSON_Delete(j), cJSON_Delete(j2);

    /* the text, the Markdown and the report carry the same pairs */
    assert_int_equal(tu_sh("%s compare --pool --reps 2000 %s > %s/pool.txt", tu_eef(), runs, dir), 0);
    snprintf(p, sizeof p, "%s/pool.txt", dir);
    assert_true(tu_file_contains(p, "\neef - rft            2     48"));
    assert_true(tu_file_contains(p, "\n  seed 2                   24"));
    assert_true(tu_file_contains(p, "2000 resamples"));
    assert_true(tu_file_contains(p, "seed 1: hard-tier test tasks won by eef and not rft"));
    assert_int_equal(tu_sh("%s compare --pool --md - %s > %s/pool.md", tu_eef(), runs, dir), 0);
    snprintf(p, sizeof p, "%s/pool.md", dir);
    assert_true(tu_file_contains(p, "| **eef − rft** | 2 | 48 |"));
    assert_true(tu_file_contains(p, "| eef − rft, seed 1 | 1 | 24 |"));
    assert_int_equal(tu_sh("%s compare %s --md %s/report.md > /dev/null", tu_eef(), runs, dir), 0);
    snprintf(p, sizeof p, "%s/report.md", dir);
    assert_true(tu_file_contains(p, "## Methods compared"));
    assert_true(tu_file_contains(p, "| **eef − rft** | 2 | 48 |"));
    /* scripts/tables: the same table, with where the runs were measured */
    assert_int_equal(tu_sh("scripts/tables --eef %s --stamp %s/seed1/sft %s/seed1/rft %s/seed1/eef "
                           "%s/seed2/sft %s/seed2/rft %s/seed2/eef > /dev/null", tu_eef(), dir, dir, dir,
                           dir, dir, dir), 0);
    assert_int_equal(tu_sh("scripts/tables --eef %s %s > %s/table.md", tu_eef(), runs, dir), 0);
    snprintf(p, sizeof p, "%s/table.md", dir);
    assert_true(tu_file_contains(p, "| **eef − rft** | 2 | 48 |"));
    assert_true(tu_file_contains(p, "Runs measured: commit "));
    assert_true(tu_file_contains(p, "Table made at commit "));
    assert_int_equal(tu_sh("scripts/tables --eef %s %s %s/seed1/eef > /dev/null 2>&1", tu_eef(), runs, dir), 1);
    /* deterministic: the same bytes again */
    assert_int_equal(tu_sh("%s compare --pool --reps 2000 %s > %s/pool2.txt", tu_eef(), runs, dir), 0);
    snprintf(runs, sizeof runs, "%s/pool.txt", dir);
    snprintf(p, sizeof p, "%s/pool2.txt", dir);
    assert_true(tu_same_file(runs, p));
    tu_rmtree(dir);
}

/* Runs that cannot be paired are refused, with the reason. */
static void test_compare_refuses(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    make_seeds(dir);
    char p[1024], err[1024];
    snprintf(err, sizeof err, "%s/err.txt", dir);
    struct {
        fake_run run;
        const char *why;
    } bad[] = {
        /* seed 1's label on another world's tasks */
        { { "eef", 1, 2, NULL, { S1_SFT, S1_RFT2, S1_EEF2 }, NULL, "world9" }, "is not the one of" },
        /* another n_test */
        { { "eef", 1, 2, NULL, { S1_SFT "0", S1_RFT2 "0", S1_EEF2 "1" }, NULL, "world1" }, "has 25 test tasks" },
        /* another world's options under the same seed */
        { { "eef", 1, 2, "products=900", { S1_SFT, S1_RFT2, S1_EEF2 }, NULL, "world1" },
          "different worlds under one seed" },
        /* a second EEF run in seed 1 */
        { { "eef", 1, 2, NULL, { S1_SFT, S1_RFT2, S1_EEF2 }, NULL, "world1" }, "two eef runs" },
        /* another expert under seed 1 */
        { { "eef", 1, 2, NULL, { S1_SFT, S1_RFT2, S1_EEF2 }, EXP2, "world1" }, "experts of" },
    };
    for (size_t k = 0; k < EEF_ARRAY_LEN(bad); k++) {
        snprintf(p, sizeof p, "%s/bad%zu", dir, k);
        make_run(p, &bad[k].run);
        const char *first = k == 3 ? "eef" : "rft";
        assert_int_equal(tu_sh("%s compare --pool %s/seed1/sft %s/seed1/%s %s > /dev/null 2> %s", tu_eef(),
                               dir, dir, first, p, err), 1);
        assert_true(tu_file_contains(err, bad[k].why));
    }
    /* the same tasks, but eval files that record two worlds (as when eef's
     * generator or the data files changed between the runs) */
    snprintf(p, sizeof p, "%s/bad5", dir);
    make_run(p, &(fake_run){ "eef", 1, 2, NULL, { S1_SFT, S1_RFT2, S1_EEF2 }, NULL, "world1" });
    const char *hdr = "{\"eef\":\"trajectories\",\"version\":1,\"context\":{\"world\":\"%s\"}}";
    char sed[600];
    /* one eval file of the pair records no world: nothing to compare */
    assert_int_equal(tu_sh("%s compare --pool %s/seed1/sft %s/seed1/rft %s > /dev/null 2> %s", tu_eef(),
                           dir, dir, p, err), 0);
    snprintf(sed, sizeof sed, hdr, "00000000000000bb");
    assert_int_equal(tu_sh("for f in %s/seed1/sft/iter_*/eval.jsonl %s/seed1/rft/iter_*/eval.jsonl; do "
                           "sed -i '1s/.*/%s/' $f; done", dir, dir, sed), 0);
    snprintf(sed, sizeof sed, hdr, "00000000000000aa");
    assert_int_equal(tu_sh("for f in %s/iter_*/eval.jsonl; do sed -i '1s/.*/%s/' $f; done", p, sed), 0);
    assert_int_equal(tu_sh("%s compare --pool %s/seed1/sft %s/seed1/rft > /dev/null 2> %s", tu_eef(),
                           dir, dir, err), 0);
    assert_int_equal(tu_sh("%s compare --pool %s/seed1/sft %s/seed1/rft %s > /dev/null 2> %s", tu_eef(),
                           dir, dir, p, err), 1);
    assert_true(tu_file_contains(err, "/eval.jsonl was made in the world of fingerprint "
                                      "00000000000000bb"));
    assert_true(tu_file_contains(err, "fingerprint 00000000000000aa is that of "));
    assert_true(tu_file_contains(err, "bad5/iter_2/eval.jsonl: runs paired by seed must be in one world"));
    /* an iteration a run does not have */
    assert_int_equal(tu_sh("%s compare --pool --iter 3 %s/seed1/sft %s/seed1/eef > /dev/null 2> %s",
                           tu_eef(), dir, dir, err), 1);
    assert_true(tu_file_contains(err, "no iteration 3 (its last evaluated is 2)"));
    /* an eval.jsonl that does not match its metrics line */
    snprintf(p, sizeof p, "%s/seed2/rft/iter_2/eval.jsonl", dir);
    write_trajs(p, S2_SFT, "world2", "agent");
    assert_int_equal(tu_sh("%s compare --pool %s/seed2/rft > /dev/null 2> %s", tu_eef(), dir, err), 1);
    assert_true(tu_file_contains(err, "metrics.jsonl (iteration 2) records 24 with"));
    /* usage */
    assert_int_equal(tu_sh("%s compare --pool --iter x %s/seed1/sft > /dev/null 2>&1", tu_eef(), dir), 2);
    assert_int_equal(tu_sh("%s compare --json --md - %s/seed1/sft > /dev/null 2>&1", tu_eef(), dir), 2);
    tu_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wilson_statsmodels),
        cmocka_unit_test(test_quantile_numpy),
        cmocka_unit_test(test_mcnemar_statsmodels),
        cmocka_unit_test(test_pooled_test_scipy),
        cmocka_unit_test(test_bootstrap_exact),
        cmocka_unit_test(test_bootstrap_numpy),
        cmocka_unit_test(test_score_interval_numpy),
        cmocka_unit_test(test_bootstrap_deterministic),
        cmocka_unit_test(test_compare_pairs),
        cmocka_unit_test(test_compare_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

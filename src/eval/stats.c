/* stats.c: the statistics behind a comparison of methods — the Wilson
 * interval of a win rate, quantiles, McNemar's exact test, and the
 * stratified paired bootstrap of win-rate differences (docs/statistics.md). */
#include "eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void eef_wilson(size_t k, size_t n, double *lo, double *hi)
{
    if (n == 0) {
        *lo = 0, *hi = 1;
        return;
    }
    const double z = 1.959963984540054; /* the normal's 97.5% quantile */
    double p = (double)k / (double)n, nn = (double)n;
    double den = 1 + z * z / nn;
    double mid = (p + z * z / (2 * nn)) / den;
    double half = z * sqrt(p * (1 - p) / nn + z * z / (4 * nn * nn)) / den;
    *lo = fmax(0.0, mid - half);
    *hi = fmin(1.0, mid + half);
}

double eef_quantile_sorted(const double *v, size_t n, double q)
{
    if (n == 0) return NAN;
    if (!(q > 0)) return v[0];
    if (q >= 1) return v[n - 1];
    double h = (double)(n - 1) * q;
    size_t i = (size_t)h;
    if (i + 1 >= n) return v[n - 1];
    return v[i] + (h - (double)i) * (v[i + 1] - v[i]);
}

double eef_mcnemar_exact(size_t b, size_t c)
{
    size_t n = b + c, k = b < c ? b : c;
    /* two-sided: twice the smaller tail of Binomial(n, 1/2); with b = c
     * that tail holds half the mass or more, so p = 1 */
    if (n == 0 || 2 * k >= n) return 1;
    /* P(X <= k) = t_k (1 + t_{k-1}/t_k + ...), t_j = C(n, j) / 2^n, the
     * ratios t_{j-1}/t_j = j / (n - j + 1) < 1 below n/2: summed from the
     * largest term down, in ratios, so nothing underflows before it must */
    double nn = (double)n, kk = (double)k;
    double log_tk = lgamma(nn + 1) - lgamma(kk + 1) - lgamma(nn - kk + 1) - nn * log(2.0);
    double sum = 1, r = 1;
    for (size_t j = k; j > 0; j--) {
        r *= (double)j / (double)(n - j + 1);
        sum += r;
        if (r < 1e-18 * sum) break;
    }
    double p = 2 * exp(log_tk + log(sum));
    return p < 1 ? p : 1;
}

/* ------------------------------------------------------------ bootstrap */
/* Uniform integers below n (n < 2^32) from the counter-based stream, two
 * per 64-bit draw, by Lemire's multiply-and-reject (unbiased). */
typedef struct {
    eef_rng rng;
    uint64_t bits;
    int left;
} draw32;

static uint32_t draw_below(draw32 *d, uint32_t n)
{
    for (;;) {
        if (!d->left) d->bits = eef_rng_u64(&d->rng), d->left = 2;
        uint32_t x = (uint32_t)d->bits;
        d->bits >>= 32, d->left--;
        uint64_t m = (uint64_t)x * n;
        uint32_t low = (uint32_t)m;
        if (low < n && low < (uint32_t)(-n) % n) continue; /* the biased sliver */
        return (uint32_t)(m >> 32);
    }
}

void eef_boot_free(eef_boot *b)
{
    free(b->wins);
    memset(b, 0, sizeof *b);
}

eef_err eef_boot_run(const eef_stratum *st, size_t n_strata, size_t n_methods, size_t reps,
                     uint64_t seed, eef_boot *out)
{
    memset(out, 0, sizeof *out);
    if (!reps || !n_strata || !n_methods)
        return eef_fail(EEF_EINVAL, "bootstrap: %zu resamples of %zu strata and %zu methods", reps,
                        n_strata, n_methods);
    size_t nmax = 1;
    for (size_t s = 0; s < n_strata; s++) {
        if (!st[s].n || st[s].n > UINT32_MAX / 2)
            return eef_fail(EEF_EINVAL, "bootstrap: stratum %zu holds %zu tasks", s, st[s].n);
        if (st[s].n > nmax) nmax = st[s].n;
    }
    size_t cells = n_strata * n_methods;
    if (reps > SIZE_MAX / sizeof(uint32_t) / cells)
        return eef_fail(EEF_EINVAL, "bootstrap: %zu resamples is too many", reps);
    out->wins = eef_calloc(reps * cells, sizeof(uint32_t));
    if (!out->wins) return EEF_ENOMEM;
    out->reps = reps, out->n_strata = n_strata, out->n_methods = n_methods;
    int failed = 0;
    /* every resample draws from its own key: the same numbers on any
     * number of threads, and a stratum's draws depend on its label only */
#pragma omp parallel
    {
        uint32_t *count = malloc(nmax * sizeof *count); /* times each task is drawn */
        if (!count) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (long r = 0; r < (long)reps; r++) {
            if (!count) continue;
            for (size_t s = 0; s < n_strata; s++) {
                uint32_t n = (uint32_t)st[s].n;
                uint64_t key = eef_rng_key(seed, EEF_STREAM_COMPARE_CI, st[s].key, (uint64_t)r);
                draw32 d = { eef_rng_make(key), 0, 0 };
                memset(count, 0, n * sizeof *count);
                for (uint32_t i = 0; i < n; i++) count[draw_below(&d, n)]++;
                uint32_t *w = out->wins + ((size_t)r * n_strata + s) * n_methods;
                for (size_t m = 0; m < n_methods; m++) {
                    const unsigned char *win = st[s].win[m];
                    if (!win) continue;
                    uint32_t sum = 0;
                    for (uint32_t i = 0; i < n; i++) sum += count[i] * win[i];
                    w[m] = sum;
                }
            }
        }
        free(count);
    }
    if (failed) {
        eef_boot_free(out);
        return eef_fail(EEF_ENOMEM, "bootstrap: out of memory");
    }
    return EEF_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static size_t wins_of(const eef_stratum *s, size_t m)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) k += s->win[m][i] != 0;
    return k;
}

/* Percentile interval of draws v[0..reps) (sorted here). */
static void interval(double *v, size_t reps, double level, double *lo, double *hi)
{
    qsort(v, reps, sizeof *v, cmp_double);
    *lo = eef_quantile_sorted(v, reps, (1 - level) / 2);
    *hi = eef_quantile_sorted(v, reps, 1 - (1 - level) / 2);
}

/* The estimate over the strata flagged in use[]. */
static void estimate(const eef_stratum *st, size_t ns, const eef_boot *bs, size_t a, size_t b,
                     double level, const unsigned char *use, double *dv, double *pv,
                     eef_pair_est *e)
{
    memset(e, 0, sizeof *e);
    size_t used = 0, wa = 0, wb = 0;
    double poi = 0;
    for (size_t s = 0; s < ns; s++) {
        if (!use[s]) continue;
        for (size_t i = 0; i < st[s].n; i++) {
            int x = st[s].win[a][i] != 0, y = st[s].win[b][i] != 0;
            e->a_only += x && !y, e->b_only += y && !x;
        }
        size_t ka = wins_of(&st[s], a), kb = wins_of(&st[s], b);
        wa += ka, wb += kb, e->n += st[s].n, used++;
        /* rliable's P(X > Y) in one stratum: the Mann-Whitney U of A's
         * outcomes against B's over n x n, ties 1/2; for 0/1 outcomes
         * that is 1/2 + (rate A - rate B) / 2 */
        poi += 0.5 + ((double)ka - (double)kb) / (2.0 * (double)st[s].n);
    }
    if (!used) return;
    e->diff = ((double)wa - (double)wb) / (double)e->n;
    e->poi = poi / (double)used;
    e->p = eef_mcnemar_exact(e->a_only, e->b_only);
    for (size_t r = 0; r < bs->reps; r++) {
        double d = 0, q = 0;
        for (size_t s = 0; s < ns; s++) {
            if (!use[s]) continue;
            const uint32_t *w = bs->wins + (r * bs->n_strata + s) * bs->n_methods;
            double ds = (double)w[a] - (double)w[b];
            d += ds;
            q += 0.5 + ds / (2.0 * (double)st[s].n);
        }
        dv[r] = d / (double)e->n;
        pv[r] = q / (double)used;
    }
    interval(dv, bs->reps, level, &e->diff_lo, &e->diff_hi);
    interval(pv, bs->reps, level, &e->poi_lo, &e->poi_hi);
}

eef_err eef_pair_estimate(const eef_stratum *st, size_t n_strata, const eef_boot *bs, size_t a,
                          size_t b, double level, eef_pair_est *pooled, eef_pair_est *per)
{
    if (a >= bs->n_methods || b >= bs->n_methods || n_strata != bs->n_strata || !(level > 0) ||
        !(level < 1))
        return eef_fail(EEF_EINVAL, "pair estimate: methods %zu, %zu of %zu; level %g", a, b,
                        bs->n_methods, level);
    double *dv = eef_malloc(bs->reps * sizeof *dv), *pv = eef_malloc(bs->reps * sizeof *pv);
    unsigned char *use = eef_calloc(n_strata, 1);
    if (!dv || !pv || !use) {
        free(dv), free(pv), free(use);
        return EEF_ENOMEM;
    }
    for (size_t s = 0; s < n_strata; s++) use[s] = st[s].win[a] && st[s].win[b];
    estimate(st, n_strata, bs, a, b, level, use, dv, pv, pooled);
    for (size_t s = 0; per && s < n_strata; s++) {
        memset(&per[s], 0, sizeof per[s]);
        if (!st[s].win[a] || !st[s].win[b]) continue;
        memset(use, 0, n_strata);
        use[s] = 1;
        estimate(st, n_strata, bs, a, b, level, use, dv, pv, &per[s]);
    }
    free(dv), free(pv), free(use);
    return EEF_OK;
}

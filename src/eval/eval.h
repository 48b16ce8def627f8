/*
 * eval: evaluation (win rate and score with 95% intervals, overall and per
 * difficulty tier), and the side-by-side comparison of runs with its
 * Markdown + SVG report.
 */
#ifndef EEF_EVAL_H
#define EEF_EVAL_H

#include "agent/policy.h"
#include "core/core.h"
#include "env/env.h"
#include "traj/traj.h"

typedef struct {
    size_t n;
    double win, win_lo, win_hi;       /* win rate in [0,1], Wilson 95% interval */
    double score, score_lo, score_hi; /* mean reward x 100, bootstrap 95% interval */
} eef_rate;

typedef struct {
    eef_rate all;
    eef_rate tier[3]; /* easy, medium, hard */
} eef_eval_summary;

/* ------------------------------------------------------------ statistics (stats.c)
 * What decides whether a difference between methods is real; the method,
 * its references and tolerances are in docs/statistics.md. */

/* Wilson score interval for k successes in n trials (z = 1.96). */
void eef_wilson(size_t k, size_t n, double *lo, double *hi);
/* Quantile q of sorted v[0..n): linear between the order statistics around
 * h = (n - 1) q (numpy's default, R's type 7); NaN when n = 0. */
double eef_quantile_sorted(const double *v, size_t n, double q);
/* McNemar's exact two-sided p-value for paired 0/1 outcomes with b tasks
 * won by A alone and c by B alone: min(1, 2 P(X <= min(b, c))), X ~
 * Binomial(b + c, 1/2); 1 when b + c = 0.  Over several seeds with b and c
 * summed it is the exact sign-flip (permutation) test of the paired
 * differences, strata being the tasks themselves. */
double eef_mcnemar_exact(size_t b, size_t c);

/* Outcomes of several methods on the same tasks: one stratum per seed.
 * win[m][i] is 1 when method m won task i, else 0; win[m] is NULL where m
 * has no run in this stratum.  `key` (the seed) keys the stratum's
 * resamples, so a seed's draws do not depend on which other seeds are
 * compared with it. */
typedef struct {
    uint64_t key;
    size_t n;
    const unsigned char *const *win; /* [n_methods] */
} eef_stratum;

/* The stratified paired bootstrap: resample r draws, in every stratum,
 * n task indices with replacement, the same indices for every method
 * (paired: the methods answered the same tasks), the strata kept apart;
 * wins[(r * n_strata + s) * n_methods + m] = method m's wins among them. */
typedef struct {
    size_t reps, n_strata, n_methods;
    uint32_t *wins;
} eef_boot;
eef_err eef_boot_run(const eef_stratum *st, size_t n_strata, size_t n_methods, size_t reps,
                     uint64_t seed, eef_boot *out);
void eef_boot_free(eef_boot *b);

/* A against B over the strata where both have runs. */
typedef struct {
    size_t n;                      /* tasks compared; 0: no stratum holds both */
    size_t a_only, b_only;         /* tasks won by A and not B; by B and not A */
    double diff, diff_lo, diff_hi; /* win rate A - B in [-1, 1]; percentile interval */
    double poi, poi_lo, poi_hi;    /* probability of improvement P(A > B) (rliable) */
    double p;                      /* eef_mcnemar_exact(a_only, b_only) */
} eef_pair_est;
/* Pooled over the strata, and per stratum into per[0..n_strata) (NULL: not
 * wanted; n = 0 where A or B has no run); `level` e.g. 0.95. */
eef_err eef_pair_estimate(const eef_stratum *st, size_t n_strata, const eef_boot *bs, size_t a,
                          size_t b, double level, eef_pair_est *pooled, eef_pair_est *per);

/* ------------------------------------------------------------ evaluation */
/* Percentile bootstrap interval of the mean reward x 100 of rewards[0..n):
 * `reps` resamples drawn from the stream `key`. */
void eef_score_interval(const double *rewards, size_t n, size_t reps, uint64_t key, double *lo,
                        double *hi);
/* Summary of finished trajectories; the score's interval (1,000 resamples)
 * draws from a key made of `seed`. */
void eef_eval_summarize(const eef_traj *t, size_t n, uint64_t seed, eef_eval_summary *out);

/* Rolls the policy out once from the start of the first n tasks of a split
 * (n = 0: all); trajectories returned in *trajs (caller frees, count n). */
eef_err eef_evaluate(eef_env *env, eef_policy *policy, eef_split split, size_t n,
                     uint64_t seed, const char *label, eef_traj **trajs, size_t *n_out,
                     eef_eval_summary *sum);
/* The same rollouts (the same keys) run by `rollouts` in place of
 * eef_rollout_batch (a run's phases journal them). */
typedef eef_err (*eef_rollouts_fn)(eef_env *env, eef_policy *policy, const eef_rollout_spec *specs,
                                   size_t n, const char *label, eef_traj *out);
eef_err eef_evaluate_with(eef_rollouts_fn rollouts, eef_env *env, eef_policy *policy,
                          eef_split split, size_t n, uint64_t seed, const char *label,
                          eef_traj **trajs, size_t *n_out, eef_eval_summary *sum);

/* JSON object of a summary: {"n", "win", "win_lo", "win_hi", "score", ...,
 * "tiers": {"easy": {...}, ...}} */
struct cJSON;
struct cJSON *eef_eval_to_json(const eef_eval_summary *s);
eef_err eef_eval_from_json(const struct cJSON *j, const char *where, eef_eval_summary *s);

/* ------------------------------------------------------------ comparison
 * A finished (or unfinished) run directory as the comparison sees it. */
typedef struct {
    char *dir;
    char *method;             /* config.json's "label" if set, else its "method" */
    struct cJSON *config;     /* config.json */
    struct cJSON *expert;     /* expert.json or NULL */
    struct cJSON **iters;     /* metrics.jsonl lines */
    size_t n_iters;
    double *wall;             /* cumulative wall seconds at the end of each iteration */
} eef_run_view;

eef_err eef_run_view_load(const char *dir, eef_run_view *out);
void eef_run_view_free(eef_run_view *v);

/* The comparison table as text (for the terminal). */
eef_err eef_compare_table(const eef_run_view *runs, size_t n, eef_buf *out);
/* One JSON object per run with its config, expert summary, per-iteration
 * metrics and final metrics; an array of them. */
struct cJSON *eef_compare_json(const eef_run_view *runs, size_t n);
/* How `eef compare --pool`, its JSON and the report compare methods. */
#define EEF_ITER_LAST (-1) /* each run at its last iteration */
#define EEF_ITER_ALL (-2)  /* one table per iteration 1..K, K the last every run reached */
typedef struct {
    long iter;   /* EEF_ITER_LAST, EEF_ITER_ALL, or N: every run at iteration N (a run
                    without iterations, as SFT's, at its 0) */
    size_t reps; /* bootstrap resamples (0: 10,000) */
} eef_compare_opts;

/* Each method's runs pooled over seeds (one run per method and seed): wins
 * and tasks summed, Wilson interval of the pooled rate, tiers; the expert
 * once per seed.  Then every pair of methods on the test tasks they both
 * answered: the difference in win rate with its stratified paired
 * bootstrap interval, P(A > B), McNemar's exact test per seed and pooled
 * (eef_pair_estimate), and for EEF and RFT the hard-tier tasks one wins and
 * the other does not.  Runs are read at the iteration `o` says (NULL:
 * defaults) from their iter_N/eval.jsonl; runs of one seed whose test
 * tasks differ (another world, another n_test) are refused.  As text, as
 * Markdown (README and report.md), and as JSON
 * {"format": "eef-compare", "version": 1, "bootstrap": {...},
 *  "iterations": [{"iter", "methods": [...], "pairs": [...]}]}. */
eef_err eef_compare_pool(const eef_run_view *runs, size_t n, const eef_compare_opts *o,
                         eef_buf *out);
eef_err eef_compare_pool_md(const eef_run_view *runs, size_t n, const eef_compare_opts *o,
                            eef_buf *out);
eef_err eef_compare_pool_json(const eef_run_view *runs, size_t n, const eef_compare_opts *o,
                              struct cJSON **out);
/* report.md (table, plots, methods compared, salvaged actions) next to its
 * SVG plots. */
eef_err eef_compare_report(const eef_run_view *runs, size_t n, const char *md_path,
                           const eef_compare_opts *o);

/* Plain SVG charts (svg.c): series of (x, y, lo, hi) points. */
typedef struct {
    const char *name;
    const double *x, *y, *lo, *hi; /* lo/hi may be NULL */
    size_t n;
} eef_svg_series;
eef_err eef_svg_lines(const char *path, const char *title, const char *xlabel,
                      const char *ylabel, const eef_svg_series *s, size_t n, double ymin,
                      double ymax);
eef_err eef_svg_bars(const char *path, const char *title, const char *const *labels,
                     const char *const *groups, const double *values, size_t n_labels,
                     size_t n_groups);

#endif

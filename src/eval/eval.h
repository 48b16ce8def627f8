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

/* Wilson score interval for k successes in n trials (z = 1.96). */
void eef_wilson(size_t k, size_t n, double *lo, double *hi);
/* Summary of finished trajectories; the score's bootstrap draws use `seed`. */
void eef_eval_summarize(const eef_traj *t, size_t n, uint64_t seed, eef_eval_summary *out);

/* Rolls the policy out once from the start of the first n tasks of a split
 * (n = 0: all); trajectories returned in *trajs (caller frees, count n). */
eef_err eef_evaluate(eef_env *env, eef_policy *policy, eef_split split, size_t n,
                     uint64_t seed, const char *label, eef_traj **trajs, size_t *n_out,
                     eef_eval_summary *sum);

/* JSON object of a summary: {"n", "win", "win_lo", "win_hi", "score", ...,
 * "tiers": {"easy": {...}, ...}} */
struct cJSON;
struct cJSON *eef_eval_to_json(const eef_eval_summary *s);
eef_err eef_eval_from_json(const struct cJSON *j, const char *where, eef_eval_summary *s);

/* ------------------------------------------------------------ comparison
 * A finished (or unfinished) run directory as the comparison sees it. */
typedef struct {
    char *dir;
    char *method;
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
/* The last evaluation of each method pooled over runs (seeds): wins and
 * tasks summed, Wilson interval of the pooled rate, tiers; the expert once
 * per world; and, for EEF and RFT runs of the same seed, the hard-tier test
 * tasks one wins and the other does not. */
eef_err eef_compare_pool(const eef_run_view *runs, size_t n, eef_buf *out);
/* report.md (table, plots, salvaged actions) next to its SVG plots. */
eef_err eef_compare_report(const eef_run_view *runs, size_t n, const char *md_path);

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

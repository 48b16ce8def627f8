/*
 * run_internal.h: what the stages of `eef run` share inside tune/ (not
 * the folder's public face, which is tune.h).
 *
 *   rundir.c  the run directory: paths, the phases done, timing, --from,
 *             the expert's trajectories and the training data of an
 *             iteration
 *   sft.c     phases "expert" (demonstrations) and "sft" (tokenizer and
 *             behaviour cloning)
 *   rft.c     rollouts from the task starts (RFT, and EEF's first half)
 *   eef.c     EEF: failures, candidate states, exploration, important
 *             states, solutions and masks
 *   eto.c     ETO: exploration from the starts, (expert win, agent failure)
 *             pairs, DPO rounds
 *   train.c   masked SFT, and the iteration's training phase
 *   evaluate.c  the evaluation phase and metrics.jsonl
 *   run.c     the run: configuration, resume, the phases in order
 */
#ifndef EEF_RUN_INTERNAL_H
#define EEF_RUN_INTERNAL_H

#include "tune.h"

#include "eval/eval.h"

#include <cjson/cJSON.h>

/* A run in progress. */
typedef struct {
    const eef_run_config *c;
    const char *dir;   /* the run directory */
    const char *from;  /* the base run (--from), or NULL */
    cJSON *state;      /* state.json: {"done": [phase names]} */
    eef_env *env;
    size_t n_train, n_test; /* tasks used of each split */
    eef_world world;   /* the run's world: world.json, every trajectory file's header */
} run_ctx;

/* ------------------------------------------------------------ files
 * A path in the run directory (or the base's), in a buffer the caller owns. */
#define RUN_PATH_MAX 1024
typedef struct {
    char s[RUN_PATH_MAX];
} run_path;

/* dir/NAME with NAME printf-formatted; returns p->s. */
const char *run_path_in(const char *dir, run_path *p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define run_file(r, p, ...) run_path_in((r)->dir, (p), __VA_ARGS__)
#define base_file(r, p, ...) run_path_in((r)->from, (p), __VA_ARGS__)

/* In an MPI job every rank runs the pipeline on the same data and only
 * rank 0 writes the run directory: the others read it after the barrier
 * that ends each phase (run_mark_done), so it must be on a file system
 * they all see.  These are the writes of the phases (no-ops elsewhere). */
int run_writer(void);
eef_err run_save_trajs(const run_ctx *r, const char *path, const eef_traj *t, size_t n);
eef_err run_save_model(const eef_model *m, const char *path);
eef_err run_save_json(const char *path, const cJSON *j);   /* one line */
eef_err run_save_text(const char *path, const eef_buf *b);
eef_err run_copy_from_base(const run_ctx *r, const char *name); /* base/name -> dir/name */

/* ------------------------------------------------------------ phases */
/* Whether a run state ({"done": [...]}, this run's or a base's) lists phase. */
int run_state_has(const cJSON *state, const char *phase);
int run_done(const run_ctx *r, const char *phase);
/* Records the phase as done (state.json; its wall time in timing.jsonl),
 * then waits for the other ranks. */
eef_err run_mark_done(run_ctx *r, const char *phase, double seconds);
/* A phase: its name in state.json ("sft", "iter_2.train") and its start. */
typedef struct {
    char name[64];
    double t0;
} run_phase;
/* Names the phase (iter < 0: `kind`; else "iter_<iter>.<kind>") and starts
 * its clock; 0 when the run has done it already (then skip it). */
int run_phase_begin(const run_ctx *r, run_phase *ph, int iter, const char *kind);
/* run_mark_done with the phase's wall time plus `extra` seconds. */
eef_err run_phase_end(run_ctx *r, const run_phase *ph, double extra);
/* Seconds a phase took in the base run, so that a run built --from it
 * reports the base's cost, not the copy's. */
double run_base_seconds(const run_ctx *r, const char *phase);
/* "== ..." on the log: a phase begins. */
void run_banner(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Whether the base is an RFT run with this run's RFT settings that has
 * explored iteration 1: then its rollouts from the task starts are this
 * run's (see eef_run). */
int run_base_has_rft(const run_ctx *r);
/* Checks that the base run agrees with this one on all the expert data,
 * the SFT model and its evaluation depend on, and finished its SFT. */
eef_err run_check_base(const eef_run_config *c, const char *from);
/* Sets r->world from the configuration and the opened env, and checks it
 * against the world the run recorded when it started (world.json, written
 * then) and the base's: a run is in one world, or it stops. */
eef_err run_check_world(run_ctx *r);

/* ------------------------------------------------------------ the student (student.c)
 * The model after iteration `iter` (0: the SFT model): an .eefm file, or
 * for LoRA on an imported base the adapters' PEFT directory. */
const char *run_model_path(const run_ctx *r, int iter, run_path *p);
/* The model tuned and, for LoRA, its adapters (attached to m). */
typedef struct {
    eef_model *m;
    eef_lora *lora;
} run_student;
int run_student_lora(const run_ctx *r); /* an imported base tuned with LoRA */
/* SFT's starting point: a new model is the caller's (sft.c); for an
 * imported base, the base (f32 for --full) and new adapters from seed. */
eef_err run_student_new(const run_ctx *r, uint64_t seed, run_student *s);
/* The student after iteration iter, ready to act or to train. */
eef_err run_student_load(const run_ctx *r, int iter, run_student *s);
eef_err run_student_save(const run_ctx *r, const run_student *s, int iter);
void run_student_free(run_student *s);
/* --from: the base run's SFT model (sft.eefm or sft.lora/) into this run. */
eef_err run_student_copy_sft(const run_ctx *r);
/* base.json: records the imported base's identity in a new run; refuses a
 * run or a --from base made with another base (or without --model one
 * made with one), naming both. */
eef_err run_check_base_model(const run_ctx *r);
/* The transformer agent on model m at this temperature. */
eef_err run_open_agent(const eef_model *m, double temperature, eef_policy **out);

/* ------------------------------------------------------------ data */
/* The expert's trajectories on the train tasks (expert_train.jsonl). */
eef_err run_read_expert(const run_ctx *r, eef_trajset *out);

/* How many trajectories of each kind the training data holds. */
typedef struct {
    long expert; /* expert wins */
    long rft;    /* kept agent wins from the task starts (rft.jsonl) */
    long eef;    /* EEF solutions (eef.jsonl) */
} run_data_counts;

/* The training data of iteration `iter` (0: SFT's): the expert's wins,
 * then the kept agent wins and EEF solutions of iterations 1..iter in
 * that order; counts may be NULL. */
eef_err run_training_data(const run_ctx *r, int iter, eef_trajset *out, run_data_counts *counts);
/* solved[task] = 1 (of n_train) for every train task with a win in the
 * training data of iteration `iter`; *n_solved counts them. */
eef_err run_solved_tasks(const run_ctx *r, int iter, unsigned char *solved, long *n_solved,
                         run_data_counts *counts);

/* ------------------------------------------------------------ rollouts (journal.c)
 * A phase's batches of rollouts, each journaled in chunks so that a phase
 * killed in the middle runs only the rollouts it lacks (same bytes).
 * run_phase_begin starts the phase's journals, run_mark_done removes
 * them; outside a phase run_rollouts is eef_rollout_batch. */
void run_journal_begin(const run_ctx *r, const char *phase);
void run_journal_end(void);
eef_err run_rollouts(eef_env *env, eef_policy *policy, const eef_rollout_spec *specs, size_t n,
                     const char *label, eef_traj *out);
/* eef_evaluate's rollouts (the same keys) through run_rollouts. */
eef_err run_evaluate(eef_env *env, eef_policy *policy, eef_split split, size_t n, uint64_t seed,
                     const char *label, eef_traj **trajs, size_t *n_out, eef_eval_summary *sum);

/* ------------------------------------------------------------ stages */
eef_err run_phase_expert(run_ctx *r);            /* sft.c */
eef_err run_phase_sft(run_ctx *r);               /* sft.c */
/* rft.c: iteration iter's rollouts from the starts of the first n_explore
 * train tasks (or the base's), saved as rft.jsonl; facts into info.  *base_cost:
 * what reading them from the base saved. */
eef_err run_explore_starts(run_ctx *r, int iter, eef_policy *agent, size_t n_explore,
                           eef_rft_result *rr, cJSON *info, double *base_cost);
/* eef.c: iteration iter's exploration from the expert's failures on tasks
 * not yet solved, saved as eef.jsonl and eef_states.jsonl; facts into
 * info; its simulation cost added to *rollouts and *steps. */
eef_err run_explore_failures(run_ctx *r, int iter, const eef_model *m, size_t n_explore,
                             const eef_rft_result *rr, cJSON *info, long *rollouts, long *steps);
eef_err run_phase_train(run_ctx *r, int iter);   /* train.c */
/* eto.c: an ETO round's exploration (iter_N/eto.jsonl, explore.json) and its
 * DPO training from the model of iteration iter - 1 (model.eefm, train.json). */
eef_err run_phase_eto_explore(run_ctx *r, int iter);
eef_err run_phase_eto_train(run_ctx *r, int iter);
eef_err run_phase_eval(run_ctx *r, int iter);    /* evaluate.c */

/* The training facts saved beside a model (sft.json, iter_N/train.json). */
cJSON *run_train_json(size_t n_trajectories, const eef_train_stats *st);

#endif

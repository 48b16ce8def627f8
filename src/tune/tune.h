/*
 * tune: where models meet environments.  Behaviour cloning (SFT),
 * rejection-sampling fine-tuning (RFT) and Exploring Expert Failures (EEF),
 * the iteration loop with its run directory, resume, and evaluation.
 */
#ifndef EEF_TUNE_H
#define EEF_TUNE_H

#include "agent/policy.h"
#include "core/core.h"
#include "env/env.h"
#include "nn/nn.h"
#include "traj/traj.h"

/* ------------------------------------------------------------ training */
typedef struct {
    int batch_rows;       /* B: rows per batch */
    int seq_len;          /* T: positions per row (<= the model's context) */
    double epochs;        /* passes over the data */
    eef_adamw_config opt; /* lr, schedule (total_steps is set from epochs) */
    uint64_t seed;        /* data order */
    long steps;           /* if > 0: total optimizer steps (instead of epochs) */
    double ctx_weight;    /* loss weight of the instruction's and observations'
                             tokens (0: the actions alone; masked actions stay 0) */
    int shards;           /* data parallelism: a batch's gradient is the sum of
                             this many row groups' (0: one per MPI rank; see
                             eef_dist_grad); ranks must divide it */
    const char *label;    /* progress bar label, or NULL for none */
    /* resumable training (eef train): the optimizer to continue with (its
     * step says where; NULL: a fresh one) and periodic checkpoints */
    eef_adamw *resume;
    long save_every;
    const char *save_model, *save_opt;
    /* a run's resume point inside the training (eef run): PREFIX.json
     * (the step reached, the losses so far) committing PREFIX.<step>.eefl
     * (adapters and optimizer) or PREFIX.<step>.eefm + .eefo (the model's
     * weights and optimizer), rewritten every EEF_CKPT_SECONDS (60 s by
     * default) of training; a training that finds one continues from it
     * with the same bytes as if never stopped.  NULL: none */
    const char *ckpt;
} eef_train_config;

typedef struct {
    long steps;
    double tokens;        /* positions trained on */
    double first_loss, last_loss; /* mean loss of the first / last 10% of steps */
    double seconds;
} eef_train_stats;

void eef_train_defaults(eef_train_config *c);
/* Trains `m` on the trajectories (masked SFT loss).  Each trajectory
 * becomes one sequence (eef_prompt_from_traj, cut to seq_len + 1 tokens);
 * sequences are shuffled per epoch (from seed and epoch) and packed, so
 * the batch of every step is known in advance and a resumed training
 * continues with exactly the batches it would have seen. */
eef_err eef_train_trajs(eef_model *m, const eef_traj *data, size_t n,
                        const eef_train_config *c, eef_train_stats *st);
/* Removes the resume point c->ckpt names (every step's files). */
void eef_train_ckpt_remove(const char *prefix);

/* ------------------------------------------------------------ RFT
 * Rejection sampling from the task starts: K rollouts per task at the
 * given temperature; the winning ones are kept, at most `keep` distinct
 * action sequences per task (the lowest rollout indices first). */
typedef struct {
    int k;
    int keep;
    double temperature;
    long tasks; /* a run's iterations explore its first `tasks` train tasks
                 * (their starts, and the expert's failures among them);
                 * 0: all of them.  SFT clones the expert on all. */
    uint64_t seed;
    int iteration;
} eef_rft_config;

typedef struct {
    eef_trajset kept;     /* source "agent" */
    int *won_from_start;  /* [n_tasks] a rollout from the task's start won: the
                             task needs no expert help this iteration (EEF
                             explores none of its expert's failures) */
    size_t n_tasks;
    long rollouts, steps;
} eef_rft_result;

eef_err eef_rft_explore(eef_env *env, eef_policy *agent, eef_split split, size_t n_tasks,
                        const eef_rft_config *c, eef_rft_result *out);
void eef_rft_result_free(eef_rft_result *r);

/* ------------------------------------------------------------ EEF
 * Exploring Expert Failures, on one failed expert trajectory of n actions
 * a_1..a_n:
 *  - candidate states s_t (the state after a_1..a_t): t = L, 2L, ... < n,
 *    at most M of them (evenly thinned, the latest kept) in stride mode;
 *    the paper's rule in even mode: t = l, 2l, ..., Ml with l = floor(n /
 *    (M + 1)) (M = 5 in the paper);
 *  - K agent rollouts from each restored candidate; s_t is *solved* if one
 *    of them wins;
 *  - the important state s_k is the earliest solved candidate whose
 *    preceding candidate s_j (or the task's start, j = 0) is not solved;
 *  - the solution trajectory is a_1..a_k followed by the agent's winning
 *    continuation from s_k, with loss mask 0 on a_1..a_j (possibly harmful:
 *    context only), 1 on a_{j+1}..a_k (beneficial: they made the state
 *    solvable) and 1 on the agent's continuation.
 * Bisect mode (our addition) assumes later states are easier and finds the
 * unsolved/solved boundary by binary search instead of trying every
 * candidate.
 */
typedef enum { EEF_SEARCH_STRIDE = 0, EEF_SEARCH_BISECT = 1, EEF_SEARCH_EVEN = 2 } eef_search_mode;
/* "stride", "bisect", "even" */
const char *eef_search_name(eef_search_mode m);
eef_err eef_search_parse(const char *s, eef_search_mode *out);

#define EEF_MAX_CANDIDATES 64

/* Candidate prefix lengths t (ascending) for a trajectory of n_actions;
 * returns how many (<= max_states, <= EEF_MAX_CANDIDATES). */
size_t eef_candidates(size_t n_actions, int stride, int max_states, size_t *t_out);
/* The same on a trajectory, counting only the states whose observation
 * differs from the one before (an action that changed nothing visible,
 * e.g. a repeated "look", does not make a new state to explore from). */
size_t eef_candidates_traj(const eef_traj *t, int stride, int max_states, size_t *t_out);
/* The paper's rule (--search even): M = max_states states evenly spaced over
 * a failure of n actions, l = floor(n / (M + 1)), the states after l, 2l,
 * ..., Ml actions (every state when n < M + 1). */
size_t eef_candidates_even(size_t n_actions, int max_states, size_t *t_out);
/* A trajectory's candidates for a search mode: even's rule or stride's,
 * over the states whose observation changed (as eef_candidates_traj). */
size_t eef_candidates_of(const eef_traj *t, eef_search_mode mode, int stride, int max_states,
                         size_t *t_out);

/* Given solved[0..n) for candidates in ascending order (-1: not tried) and
 * whether the task was won from its start, the index of the important
 * state or -1; *j_out gets the prefix length t_j of the preceding
 * candidate (0 for the start).  `t` are the candidates' prefix lengths.
 * Every search mode picks its important state here. */
int eef_important_state(const size_t *t, const int *solved, size_t n, int won_from_start,
                        size_t *j_out);

/* Turns a winning rollout from s_k (its first k steps are the expert's
 * prefix, replayed) into the solution trajectory: masks 0 on steps
 * [0, j), 1 on [j, k) and on the continuation; source "eef". */
eef_err eef_solution(const eef_traj *rollout, size_t j, size_t k, eef_traj *out);

typedef struct {
    int stride;            /* L */
    int max_states;        /* M */
    int k;                 /* rollouts per state */
    eef_search_mode mode;
    double temperature;
    uint64_t seed;
    int iteration;
    const char *primary_expert; /* failures of other experts (a run's second expert
                                   on) get rollout keys of their own: see core.h */
} eef_explore_config;

/* What happened to one failed expert trajectory. */
typedef struct {
    size_t n_cand;
    size_t cand_len[EEF_MAX_CANDIDATES]; /* t: expert actions before candidate s_t */
    int tried[EEF_MAX_CANDIDATES];       /* rollouts run from the candidate */
    int solved[EEF_MAX_CANDIDATES];      /* -1 not tried, 0 no, 1 yes */
    int important;                       /* the candidate that is s_k, or -1 */
    size_t important_len;                /* k: expert actions before s_k (0: none) */
    size_t masked_len;                   /* j: the masked expert prefix a_1..a_j */
    int has_solution;
    eef_traj solution;
    long rollouts, steps;                /* simulation cost */
} eef_explore_result;

/* Explores from the failed expert trajectories `failed[0..n)` with the
 * agent; won_from_start[i] says whether failed[i]'s task was won from its
 * start this iteration (then nothing is explored: it needs no expert help). */
eef_err eef_explore_failures(eef_env *env, eef_policy *agent, const eef_traj *failed,
                             const int *won_from_start, size_t n, const eef_explore_config *c,
                             eef_explore_result *out);
void eef_explore_result_free(eef_explore_result *r);

/* ------------------------------------------------------------ ETO
 * Exploration-based Trajectory Optimization (Song et al. 2024), tune/eto.c:
 * rounds of explore (the agent once per train task from its start) ->
 * pair (each agent failure with the expert's win on the task) -> DPO
 * with the round's starting policy as the frozen reference. */

typedef struct {
    double beta, beta_later; /* DPO's beta in round 1 and after (ETO: 0.1, 0.5) */
    double lr, lr_later;     /* AdamW's rate in round 1 and after, constant after
                                a 10% warmup, no weight decay (as ETO) */
    double epochs;           /* passes over the pairs per round (ETO: 3) */
    int pairs_per_step;      /* pairs in one optimizer step */
    int batch_rows, seq_len; /* the batch the pairs' sequences are packed into */
    int extra_steps;         /* a rejected trajectory is cut to the chosen's
                                steps + this (ETO: 5) */
    double temperature;      /* exploration (ETO: 0, greedy) */
    uint64_t seed;           /* pair order */
    const char *label;       /* progress bar, or NULL */
} eef_eto_config;

typedef struct {
    long pairs, steps;
    double beta, lr;
    double first_loss, last_loss; /* mean DPO loss of the first / last 10% of steps */
    double end_loss, accuracy, margin; /* over all pairs after the round: mean loss,
                                          fraction preferring the chosen, mean
                                          (lp - ref) difference */
    double seconds;
} eef_eto_stats;

void eef_eto_defaults(eef_eto_config *c);
/* One rollout per task [0, n_tasks) of a split from its start, all kept
 * (source "agent"), keyed by (seed, EEF_STREAM_ETO + iteration, task). */
eef_err eef_eto_explore(eef_env *env, eef_policy *agent, eef_split split, size_t n_tasks,
                        uint64_t seed, int iteration, eef_trajset *out);
/* chosen[i], rejected[i]: for each failed agent trajectory whose task has
 * an expert win, that win (the first in `expert`) and the failure cut to
 * the win's length + extra_steps (its final observation dropped); every
 * action trained on (mask 1). */
eef_err eef_eto_pairs(const eef_traj *expert, size_t n_expert, const eef_traj *agent,
                      size_t n_agent, int extra_steps, eef_trajset *chosen, eef_trajset *rejected);
/* DPO on the pairs, round `round` (1-based: beta/lr or their later values);
 * the reference is `m` as it enters (ETO resets it to the policy each
 * round).  Deterministic for a seed and thread count. */
eef_err eef_eto_train(eef_model *m, const eef_traj *chosen, const eef_traj *rejected, size_t n,
                      const eef_eto_config *c, int round, eef_eto_stats *st);

/* ------------------------------------------------------------ runs
 * `eef run`: expert -> tokenizer -> SFT -> iterations of explore / train /
 * evaluate, in a run directory that holds everything needed to resume:
 *
 *   config.json         the configuration (a rerun must match it)
 *   world.json          the world it is made in (eef_world: env, options,
 *                       seed, expert, prompt format, fingerprint); a rerun
 *                       and a run taken --from it must build the same
 *   state.json          the phases completed, in order
 *   expert_train.jsonl  expert trajectories on the train tasks
 *   expert_test.jsonl   expert trajectories on the test tasks
 *   sft.eefm            the SFT model (tokenizer inside)
 *   iter_N/             rft.jsonl (kept agent wins), eef.jsonl (solution
 *                       trajectories), eef_states.jsonl (every candidate
 *                       state tried, solved, chosen; masked actions),
 *                       explore.json, train.json, model.eefm, eval.jsonl
 *   metrics.jsonl       one line per iteration (0 = SFT), deterministic
 *   timing.jsonl        wall time per phase (not deterministic)
 * (every trajectory file of the run records the same world in its header)
 *
 *   sft.ckpt.*, iter_N/train.ckpt.*   a training's resume point (while it runs)
 *   <phase>.journal.<k>                the rollouts of a phase's k-th batch so
 *                                      far (while it runs; journal.c)
 *
 * Every file is written atomically and a phase is marked done only after
 * its files are, and inside a phase the training and the rollouts keep
 * resume points as they go, so a run killed at any point resumes inside
 * the phase it was in and ends with the same bytes as an uninterrupted one.
 */
typedef enum { EEF_METHOD_SFT = 0, EEF_METHOD_RFT = 1, EEF_METHOD_EEF = 2, EEF_METHOD_ETO = 3 } eef_method;

const char *eef_method_name(eef_method m);
eef_err eef_method_parse(const char *s, eef_method *out);

typedef struct {
    eef_method method;
    char label[32];             /* the run's row in comparisons ("" : the method's
                                   name): two rows of one method, as rft-matched */
    long match_rollouts;        /* > 0: rft.k was set to simulate at least this many
                                   episodes, an EEF run's (eef_run_match_rollouts) */
    char preset[16];
    char env[128];
    char env_options[256];
    char expert[256];           /* "builtin", "weak", "chat:URL", or several of them
                                   comma-separated: SFT clones every expert's wins,
                                   EEF explores every expert's failures; the first
                                   is the run's expert on the test tasks */
    char expert_options[256];
    uint64_t seed;
    int iters;
    long n_train, n_test;       /* tasks used (0: all of the split) */
    char model_preset[16];
    int vocab;                  /* tokenizer size */
    eef_train_config sft;       /* behaviour cloning */
    eef_train_config iter;      /* training in each iteration */
    int iter_from_sft;          /* 1: retrain from the SFT model; 0: continue */
    eef_rft_config rft;         /* exploration from the starts */
    eef_explore_config eef;     /* exploration from expert failures */
    eef_eto_config eto;         /* ETO's rounds (method eto) */
    /* the student: "" a new model of model_preset with a tokenizer learnt
     * from the expert's data; else an imported pretrained model (eef run
     * --model: a Hugging Face directory, a .gguf or an .eefm file) tuned
     * with LoRA adapters (lora.rank > 0: each phase trains and saves the
     * adapters, the base stays frozen) or fully (lora.rank 0).  The path
     * is not part of config.json (a moved model is the same model): the
     * run records the base's identity in base.json (student.c). */
    char base_model[1024];
    eef_lora_config lora;
} eef_run_config;

/* RFT given as many rollouts as the EEF run in eef_dir (its metrics.jsonl:
 * all iterations): K = ceil(rollouts / (c->iters x explored tasks)), and
 * the label "rft-matched" unless c has one. */
eef_err eef_run_match_rollouts(eef_run_config *c, const char *eef_dir);
/* The experts of c->expert, in order, into names[0..max); their count. */
int eef_run_experts(const eef_run_config *c, char names[][256], int max);

/* Presets: "tiny" (tests, seconds), "demo" (make demo), for an environment
 * ("shop", "house", or "remote:URL"; the preset sizes its world). */
eef_err eef_run_preset(const char *name, eef_method method, const char *env,
                       eef_run_config *out);
struct cJSON *eef_run_config_to_json(const eef_run_config *c);
eef_err eef_run_config_from_json(const struct cJSON *j, const char *where, eef_run_config *c);

/* The world of a run (run_world.c): what its configuration names (env,
 * options, seed, expert, prompt format) and, with env opened, its
 * fingerprint; world.json (written atomically) and read back: a run
 * directory's world.json, or for a run of an earlier eef its config.json
 * (no fingerprint).  *where names the file read. */
eef_err eef_run_world_of(const eef_run_config *c, const eef_env *env, eef_world *out);
eef_err eef_run_world_write(const char *path, const eef_world *w);
eef_err eef_run_world_read(const char *dir, eef_world *out, char *where, size_t cap);

/* Runs (or resumes) the pipeline in `dir`.  With from_dir, the expert
 * trajectories, the SFT model and its evaluation are taken from that run
 * (its configuration must agree on everything they depend on); if it is an
 * RFT run with the same RFT settings, so are iteration 1's rollouts from
 * the task starts (the same rollouts: they are keyed, not drawn in order).
 * *finished is set when the directory already held a finished run. */
eef_err eef_run(const eef_run_config *c, const char *dir, const char *from_dir, int *finished);

#endif

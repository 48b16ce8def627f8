/*
 * traj: trajectories and their files.
 *
 * A trajectory is a task, the steps taken (observation before the action,
 * the action, and the action's loss mask) and the outcome.  On disk it is
 * one JSON object per line (.jsonl), in the conversation form used by
 * ETO / AgentGym data:
 *
 *   {"id": "...", "env": "shop", "task": "shop-train-17", "split": "train",
 *    "index": 17, "tier": "hard", "source": "expert"|"agent"|"eef",
 *    "expert": "builtin", "reward": 0.75, "win": false,
 *    "conversations": [{"from": "human", "value": OBS_0, "loss": 0},
 *                      {"from": "gpt", "value": ACTION_0, "loss": 1}, ...,
 *                      {"from": "human", "value": OBS_AFTER_LAST, "loss": 0}]}
 *
 * A human turn precedes each gpt turn; a final human turn, if present,
 * holds the observation after the last action.  A gpt turn's loss is the
 * step's mask; a human turn's loss is 0 (or absent).  split, index, tier
 * and expert are left out when unknown.  Unknown top-level fields are kept (`extra`)
 * and written back after the known ones, before "conversations".
 *
 * Files eef writes start with a header line {"eef": "trajectories",
 * "version": 1, "context": {...}} (the format's magic, and the world the
 * trajectories were made in: see eef_world; files of earlier versions
 * have no "context": context unknown); files without a header (hand-made,
 * other tools) are read too.  Writing is canonical: fixed key order, strings
 * escaped one way, numbers in their shortest form that reads back to the
 * same double, so write(read(f)) == f byte for byte for files we wrote.
 */
#ifndef EEF_TRAJ_H
#define EEF_TRAJ_H

#include "core/core.h"
#include "env/env.h"

/* ---------------------------------------------------------------- context
 * The world a file was made in, recorded by every file eef writes that
 * depends on one (trajectory files: in the header line; run directories:
 * config.json; ETO exports: in each record), so the tools that read it
 * rebuild that world instead of guessing, and a flag or a world that
 * contradicts it is one clear sentence instead of a file of mismatches:
 *
 *   {"env": "shop", "env_options": "products=200", "seed": 7,
 *    "prompt": "eef-2", "expert": {"name": "builtin", "profile": "",
 *    "options": ""}, "world": "1f3a09c2d4e5b687"}
 *
 * Every field is optional ("expert": what made the trajectories or what a
 * run uses; "prompt": the prompt format an agent read; "world":
 * eef_env_fingerprint); a file without a record (written by an earlier
 * eef or another tool) has context unknown, and is read as before.
 */
enum {
    EEF_CTX_ENV = 1,      /* env */
    EEF_CTX_ENV_OPT = 2,  /* env_options */
    EEF_CTX_SEED = 4,     /* seed */
    EEF_CTX_PROMPT = 8,   /* prompt */
    EEF_CTX_EXPERT = 16,  /* expert, expert_profile, expert_options */
    EEF_CTX_WORLD = 32,   /* world */
};

typedef struct {
    unsigned have;            /* EEF_CTX_* of the fields set; 0: context unknown */
    char env[256];            /* "shop", "house", "remote:URL" */
    char env_options[512];    /* as given to eef_env_open ("": the defaults) */
    uint64_t seed;            /* the world's seed (<= 2^53: exact in JSON) */
    char prompt[32];          /* prompt format, e.g. "eef-2" */
    char expert[256];         /* "builtin", "chat:URL" */
    char expert_profile[64];  /* a named expert profile ("": the default) */
    char expert_options[512]; /* the expert's options ("": none) */
    char world[EEF_FINGERPRINT_LEN]; /* the world's fingerprint (16 hex digits) */
} eef_world;

void eef_world_init(eef_world *c); /* unknown */
/* Sets env, env_options (NULL: "") and seed, and world from the opened
 * environment's fingerprint when it has one. */
eef_err eef_world_set_env(eef_world *c, const char *env, const char *options,
                              uint64_t seed, const eef_env *opened);
/* expert NULL: "builtin"; profile NULL: the built-in experts' ("weak" for
 * the weak expert, else the last profile= of the options, else ""). */
eef_err eef_world_set_expert(eef_world *c, const char *expert, const char *profile,
                               const char *options);
/* 1 when the trajectory env name `name` (an env's ops name: "shop",
 * "remote") belongs to c's env ("shop", "remote:URL"); 1 when c has no env. */
int eef_world_env_is(const eef_world *c, const char *name);

/* JSON object <-> record.  from_json rejects unknown keys, mistyped
 * values, strings too long for the record, a seed that is not an integer
 * in [0, 2^53] and a world that is not 16 hex digits. */
struct cJSON *eef_world_to_json(const eef_world *c); /* NULL: out of memory */
eef_err eef_world_from_json(const struct cJSON *j, const char *where, eef_world *c);
/* Appends the record as compact JSON text (fixed key order). */
eef_err eef_world_put(eef_buf *b, const eef_world *c);
/* One line for people: "shop, seed 7, options products=200, world
 * 1f3a09c2d4e5b687, expert builtin" or "context unknown (...)". */
void eef_world_describe(const eef_world *c, char *out, size_t cap);

/* The one check: each field set in both `file` (what `where` records) and
 * `given` (what the caller was told, by flags or another file) must be
 * equal.  The first that differs is EEF_EINVAL naming both values, the
 * given one followed by `given_by` (NULL: "was given"), e.g. "x.jsonl was
 * made in the world of seed 7; seed 3 was given (leave it out to use the
 * file's)", or for the fingerprint "x.jsonl was made in the world of
 * fingerprint F (shop, seed 7); fingerprint G <given_by>". */
eef_err eef_world_check(const eef_world *file, const eef_world *given, const char *where,
                          const char *given_by);
/* Rebuilds the world `c` records (its env, options and seed) and checks
 * its fingerprint against the recorded one; where names the file. */
eef_err eef_world_open_env(const eef_world *c, const char *where, eef_env **out);

/* Version written in the header line; readers accept 1. */
#define EEF_TRAJ_VERSION 1
/* Longest line a reader accepts (bytes); longer ones are bad lines. */
#define EEF_TRAJ_MAX_LINE ((size_t)16 << 20)

typedef struct {
    char *obs;    /* observation the action was chosen on */
    char *action; /* the action */
    int mask;     /* 1 = train on this action, 0 = context only */
} eef_traj_step;

typedef struct {
    char *id;          /* unique id of the trajectory */
    char *env;         /* "shop", "house", ... */
    char *task;        /* task id */
    int split;         /* eef_split; -1 unknown */
    long index;        /* task index within its split; -1 unknown */
    int tier;          /* eef_tier; -1 unknown */
    char *source;      /* "expert", "agent", "eef" */
    char *expert;      /* the expert whose steps it holds ("builtin", "weak",
                        * "chat:URL"; an eef solution: its prefix's), or NULL
                        * (agent rollouts; files written before the field) */
    char *instruction; /* the task's goal (optional field "instruction"), or NULL */
    double reward;
    int win;           /* reward == 1.0 */
    eef_traj_step *steps;
    size_t n_steps, cap_steps;
    char *final_obs;   /* observation after the last action, or NULL */
    char *extra;       /* unknown top-level fields kept as a JSON object text, or NULL */
} eef_traj;

void eef_traj_init(eef_traj *t);
void eef_traj_free(eef_traj *t);
/* Deep copy. */
eef_err eef_traj_copy(eef_traj *dst, const eef_traj *src);
/* Appends a step (strings are copied). */
eef_err eef_traj_push(eef_traj *t, const char *obs, const char *action, int mask);
/* Setters that copy. */
eef_err eef_traj_set(char **field, const char *value);
/* 1 when a and b hold the same data (extra compared as JSON values). */
int eef_traj_equal(const eef_traj *a, const eef_traj *b);
/* Checks what the file format requires of a trajectory: id, env, task and
 * source non-empty, every string valid UTF-8 without NUL, masks 0/1,
 * reward finite, win == (reward == 1.0), split/tier in range, at least one
 * observation, extra a JSON object whose keys are not ours.  `where`
 * prefixes the message. */
eef_err eef_traj_check(const eef_traj *t, const char *where);

/* A growable array of trajectories. */
typedef struct {
    eef_traj *items;
    size_t n, cap;
} eef_trajset;

eef_err eef_trajset_push(eef_trajset *s, eef_traj *t); /* takes ownership of *t's contents */
void eef_trajset_free(eef_trajset *s);

/* JSON line <-> trajectory. `where` ("file:line") prefixes error messages.
 * from_json rejects: NUL bytes (raw or \u0000), invalid UTF-8, malformed
 * JSON, missing or mistyped or duplicated fields, unknown split/tier,
 * conversations empty or not alternating human/gpt, loss not 0/1, win not
 * equal to (reward == 1.0).  to_json appends to `out` after eef_traj_check. */
eef_err eef_traj_from_json(const char *line, size_t len, const char *where, eef_traj *out);
eef_err eef_traj_to_json(const eef_traj *t, eef_buf *out); /* one line, no newline */

/* Streaming reader: one trajectory at a time, with line numbers.  With
 * skip_bad, bad lines are reported on stderr ("file:line: reason") and
 * counted in n_bad; without, the first one is the error. */
typedef struct {
    eef_lines lines;
    int skip_bad;
    size_t n_bad;
    char *where; /* "file:line" of the last line read */
    eef_world ctx; /* of the header line, once read (unknown without one) */
    int seen_header;
} eef_traj_reader;
eef_err eef_traj_reader_open(eef_traj_reader *r, const char *path, int skip_bad);
/* Fills *out (freed and re-initialised first); *got = 0 at end of file. */
eef_err eef_traj_reader_next(eef_traj_reader *r, eef_traj *out, int *got);
void eef_traj_reader_close(eef_traj_reader *r);

/* Whole files.  Reading: with skip_bad, malformed lines are reported on
 * stderr as file:line: reason and skipped (their count in *n_bad);
 * without, the first one is the error.  Trajectories are appended to
 * `out`; on error `out` is left as it was. */
eef_err eef_traj_read(const char *path, int skip_bad, eef_trajset *out, size_t *n_bad);
/* The same, with the file's context in *ctx (unknown when it has none).
 * A second header line (files joined with cat) must hold the same
 * context as the first. */
eef_err eef_traj_read_ctx(const char *path, int skip_bad, eef_trajset *out, size_t *n_bad,
                          eef_world *ctx);
/* Written atomically (temp + fsync + rename), with ctx in the header line
 * (NULL or unknown: a header without one). */
eef_err eef_traj_write(const char *path, const eef_traj *t, size_t n);
eef_err eef_traj_write_ctx(const char *path, const eef_world *ctx, const eef_traj *t, size_t n);

/* Streaming writer for long runs (also atomic: commit at the end).  A
 * trajectory that fails eef_traj_check is refused (EEF_EINVAL) and
 * nothing of it is written; the writer stays usable. */
typedef struct {
    eef_afile af;
    eef_buf line;
} eef_traj_writer;
eef_err eef_traj_writer_open(eef_traj_writer *w, const char *path);
eef_err eef_traj_writer_open_ctx(eef_traj_writer *w, const char *path, const eef_world *ctx);
eef_err eef_traj_writer_add(eef_traj_writer *w, const eef_traj *t);
eef_err eef_traj_writer_commit(eef_traj_writer *w);
void eef_traj_writer_abort(eef_traj_writer *w);

/* ETO / AgentGym conversation data (e.g. webshop_sft.json: a JSON array of
 * {"id", "conversations": [{"from", "value"}...]} with ReAct turns
 * "Thought: ...\nAction: ..."; AgentGym's records carry "item_id", a
 * "loss" per turn and "reward"/"success").  A JSON array or JSONL.
 *
 * Import: an instruction preamble (a human turn answered by a bare "OK")
 * is skipped; each human turn gives an observation ("Observation:" prefix
 * and one blank after it removed), each gpt turn an action (the text after
 * its first "Action:", trimmed; the whole turn when it has none) with mask
 * = its loss (true/1, or absent: 1).  id is "id" (string or integer) or
 * else "item_id".  reward is "reward", else "success"/"win", else 0 with
 * extra "reward_missing": true.  env/task/split/index/tier/source are read
 * when present (as export writes them), else env = `env`, task = id,
 * source = "expert".  Other fields are kept in extra.  Bad records are
 * errors "file:record N: reason" (array; N from 1) or "file:line: reason"
 * (JSONL, where blank lines are allowed); when n_bad is not NULL they are
 * reported on stderr and skipped instead.  On error `out` is as it was.
 *
 * Export: a JSON array, one record a line, in the same shape: our own
 * instruction preamble and "OK", "Observation: " + obs, "Thought: ...\n
 * Action: " + action with loss true/false, our fields and extra.
 *
 * The world: export writes `world` (NULL or unknown: nothing) into each
 * record as "context"; import returns the first record's in *world (NULL:
 * not wanted; unknown when the records carry none), requires every other
 * record to carry the same (a bad record otherwise), uses its env for
 * records without one when `env` is NULL, and refuses (EEF_EINVAL, never
 * skipped) an `env` that contradicts it. */
eef_err eef_traj_import_eto(const char *path, const char *env, eef_trajset *out, size_t *n_bad,
                            eef_world *world);
eef_err eef_traj_export_eto(const char *path, const eef_world *world, const eef_traj *t, size_t n);

/* ------------------------------------------------------------- statistics */
typedef struct {
    size_t n, n_win;
    double reward_sum;
} eef_traj_tally;

typedef struct {
    char *name;
    size_t n;
} eef_traj_named_count;

typedef struct {
    char *type;
    size_t in_wins, in_fails; /* actions of this type in won / failed trajectories */
} eef_traj_action_count;

typedef struct {
    eef_traj_tally all;
    eef_traj_tally tier[EEF_N_TIERS + 1]; /* [EEF_N_TIERS] = tier unknown */
    size_t steps_sum, steps_min, steps_max;
    size_t n_masked, n_unmasked;          /* actions with mask 0 / mask 1 */
    size_t actions_in_wins, actions_in_fails;
    eef_traj_named_count *sources;        /* in order of first appearance */
    size_t n_sources;
    eef_traj_action_count *actions;       /* in order of first appearance */
    size_t n_actions;
    /* WebShop's price bound ("... price lower than 50.00 dollars"): of the
     * trajectories whose instruction states one, those ending in Buy Now
     * on a page showing a higher "Price: $", and those ending unbought */
    size_t price_stated, price_over, price_unbought;
} eef_traj_stats;

/* The instruction's price bound and the price of the product the last
 * action bought: 1 when both are found (*bound, *paid set), 0 when the
 * instruction states no bound or the trajectory does not end in Buy Now
 * on a page that shows a price. */
int eef_traj_price_paid(const eef_traj *t, double *bound, double *paid);
void eef_traj_stats_init(eef_traj_stats *s);
eef_err eef_traj_stats_add(eef_traj_stats *s, const eef_traj *t);
/* Sorts actions by total count (descending), then name. */
void eef_traj_stats_sort(eef_traj_stats *s);
void eef_traj_stats_free(eef_traj_stats *s);

/* ----------------------------------------------------------------- replay */
/* Re-executes a trajectory in `env` and compares every recorded
 * observation (the one before each action and the final one, if any) and
 * the final reward with what the environment produces now.  The task is
 * found by (split, index) when known, else by searching the tasks of both
 * splits for the id.  Differences are not errors: they are reported in
 * *r; errors are what the environment itself returns. */
typedef struct {
    int matched;        /* 1 when everything compared equal */
    size_t n_checked;   /* observations and rewards compared */
    size_t n_mismatch;  /* of those, how many differed */
    /* the first difference: */
    long step;          /* observation before action `step` (0-based);
                           n_steps = the final observation or reward */
    char what[16];      /* "task", "observation", "reward", "ended" */
    char *expected;     /* recorded text, an excerpt around the first
                           differing byte; owned */
    char *got;          /* what the environment gave; owned */
} eef_replay_result;

/* Longest excerpt kept in expected/got (bytes, plus "..." marks). */
#define EEF_REPLAY_EXCERPT 80

eef_err eef_traj_replay(eef_env *env, const eef_traj *t, eef_replay_result *r);
void eef_replay_result_free(eef_replay_result *r);

#endif

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
 *    "reward": 0.75, "win": false,
 *    "conversations": [{"from": "human", "value": OBS_0, "loss": 0},
 *                      {"from": "gpt", "value": ACTION_0, "loss": 1}, ...,
 *                      {"from": "human", "value": OBS_AFTER_LAST}]}
 *
 * A human turn precedes each gpt turn; a final human turn, if present,
 * holds the observation after the last action.
 */
#ifndef EEF_TRAJ_H
#define EEF_TRAJ_H

#include "core/core.h"

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

/* A growable array of trajectories. */
typedef struct {
    eef_traj *items;
    size_t n, cap;
} eef_trajset;

eef_err eef_trajset_push(eef_trajset *s, eef_traj *t); /* takes ownership of *t's contents */
void eef_trajset_free(eef_trajset *s);

/* JSON line <-> trajectory. `where` ("file:line") prefixes error messages. */
eef_err eef_traj_from_json(const char *line, size_t len, const char *where, eef_traj *out);
eef_err eef_traj_to_json(const eef_traj *t, eef_buf *out); /* one line, no newline */

/* Whole files.  Reading: with skip_bad, malformed lines are reported on
 * stderr as file:line: reason and skipped (their count in *n_bad);
 * without, the first one is the error. */
eef_err eef_traj_read(const char *path, int skip_bad, eef_trajset *out, size_t *n_bad);
/* Written atomically (temp + fsync + rename). */
eef_err eef_traj_write(const char *path, const eef_traj *t, size_t n);

/* Streaming writer for long runs (also atomic: commit at the end). */
typedef struct {
    eef_afile af;
    eef_buf line;
} eef_traj_writer;
eef_err eef_traj_writer_open(eef_traj_writer *w, const char *path);
eef_err eef_traj_writer_add(eef_traj_writer *w, const eef_traj *t);
eef_err eef_traj_writer_commit(eef_traj_writer *w);
void eef_traj_writer_abort(eef_traj_writer *w);

/* ETO / AgentGym conversation data (e.g. webshop_sft.json: a JSON array of
 * {"id", "conversations": [{"from", "value"}...]} with ReAct turns
 * "Thought: ...\nAction: ...").  Import keeps the action part of each gpt
 * turn and the observation part of each human turn. */
eef_err eef_traj_import_eto(const char *path, const char *env, eef_trajset *out, size_t *n_bad);
eef_err eef_traj_export_eto(const char *path, const eef_traj *t, size_t n);

#endif

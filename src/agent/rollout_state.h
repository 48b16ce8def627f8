/* rollout_state.h: one rollout in progress, inside src/agent only.
 * eef_rollout (rollout.c) is begin, then want / act / apply until want says
 * the episode ended, then end; rollout_batch.c runs many such states in
 * lockstep, deciding their actions together.  Either way a rollout makes
 * the same calls on its episode in the same order. */
#ifndef EEF_ROLLOUT_STATE_H
#define EEF_ROLLOUT_STATE_H

#include "policy.h"

typedef struct {
    eef_strlist obs, acts; /* the episode so far, as the policy sees it */
} eef_history;

typedef struct {
    eef_episode *ep;
    const eef_rollout_spec *spec;
    eef_traj *out;
    eef_task task;
    eef_history h;
    eef_actions valid;
    eef_step st;
    eef_rng rng;        /* the rollout's own stream */
    eef_context ctx;    /* what the policy sees (after want) */
    eef_buf action;     /* the policy's action (for apply) */
} eef_rollout_state;

/* Header, task and the restored state (the prefix recorded as context). */
eef_err eef_rollout_begin(eef_rollout_state *r, eef_episode *ep, const eef_rollout_spec *spec,
                          eef_traj *out);
/* *want = 1 and r->ctx set when the episode goes on, 0 when it ended. */
eef_err eef_rollout_want(eef_rollout_state *r, int *want);
/* Takes r->action: recorded (mask 1), stepped, added to the history. */
eef_err eef_rollout_apply(eef_rollout_state *r);
/* Reward and final observation (unless e), frees the state; returns e or
 * its own error; on an error out is freed. */
eef_err eef_rollout_end(eef_rollout_state *r, eef_err e);

#endif

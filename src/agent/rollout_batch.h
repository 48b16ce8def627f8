/* rollout_batch.h: the lockstep rollout runner (rollout_batch.c), inside
 * src/agent only: eef_rollout_batch (rollout.c) hands a thread's share of
 * the work to it when the policy is the transformer agent. */
#ifndef EEF_ROLLOUT_BATCH_H
#define EEF_ROLLOUT_BATCH_H

#include "policy.h"

typedef struct {
    int (*next)(void *ctx, size_t *i);           /* the next rollout to run (0: none) */
    void (*done)(void *ctx, size_t i, eef_err e); /* out[i] is finished (or failed) */
    void *ctx;
} eef_rollout_lanes_io;

/* Runs rollouts specs[i] -> out[i] for every i that io->next hands out,
 * several at once; returns an error of its own set-up only (each
 * rollout's goes to io->done).  Called by one thread. */
eef_err eef_rollout_lanes(eef_env *env, eef_policy *policy, const eef_rollout_spec *specs,
                          eef_traj *out, const eef_rollout_lanes_io *io);

#endif

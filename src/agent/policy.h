/*
 * agent: choosing actions.  policy.h is the folder's public face: the one
 * interface every policy implements (built-in experts, the transformer
 * agent, an OpenAI-compatible chat endpoint), the rollout runner that
 * drives a policy in an environment, and the prompt that turns a
 * trajectory into tokens and a loss mask.
 *
 * A policy is shared by all threads; each thread opens its own actor (the
 * per-thread state: a KV cache, scratch buffers, an HTTP handle).
 */
#ifndef EEF_POLICY_H
#define EEF_POLICY_H

#include "core/core.h"
#include "env/env.h"

/* Everything a policy may look at to choose the next action. */
typedef struct {
    const eef_task *task;
    uint64_t episode;          /* unique id of this rollout: an actor may keep
                                  work between calls with the same id */
    const char *const *obs;    /* obs[0..n]: observations; obs[n] is the current one */
    const char *const *acts;   /* acts[0..n-1]: the actions taken so far */
    size_t n;                  /* number of actions taken so far */
    const eef_actions *valid;  /* what may be done now */
} eef_context;

typedef struct eef_policy eef_policy;
typedef struct eef_actor eef_actor;

#define EEF_POLICY_OPS_VERSION 1

typedef struct {
    int version;      /* EEF_POLICY_OPS_VERSION */
    const char *name; /* "expert-shop", "agent", "chat" */
    eef_err (*actor_open)(eef_policy *p, eef_actor **out);
    /* Writes the next action into `action` (cleared first).  `rng` is this
     * rollout's own stream, so choices are reproducible per rollout. */
    eef_err (*act)(eef_actor *a, const eef_context *ctx, eef_rng *rng, eef_buf *action);
    void (*actor_close)(eef_actor *a);
    void (*close)(eef_policy *p);
} eef_policy_ops;

struct eef_policy {
    const eef_policy_ops *ops;
};
struct eef_actor {
    eef_policy *policy;
};

void eef_policy_close(eef_policy *p);

/* The built-in experts.  `options` is a comma-separated key=value list of
 * the expert's knobs (e.g. "p_wrong_option=0.2"), or NULL for the
 * calibrated defaults; unknown keys are an error. */
eef_err eef_expert_shop_open(const char *options, eef_policy **out);
eef_err eef_expert_house_open(const char *options, eef_policy **out);

#endif

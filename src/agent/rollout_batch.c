/* rollout_batch.c: rollouts of the transformer agent, several at once per
 * thread, their actions decoded in lockstep.
 *
 * A thread keeps LANES rollouts in flight, each with its own episode and
 * actor (KV cache).  Whenever one needs an action, its prompt is fed to
 * its own cache (prefill: already matrix-matrix) and its constrained
 * decoder started; then one eef_kv_step advances every lane that has a
 * token to feed, so each decode step reads the weights once for all of
 * them.  A rollout that ends hands its lane to the next one of the
 * thread's share, so the batch stays full.
 *
 * Each lane makes the calls eef_rollout would, in the same order, with its
 * own rng; eef_kv_step gives each cache the bits eef_kv_feed would, and
 * the agent's cache holds what its token sequence alone determines
 * (agent.c, FEED_CHUNK): the trajectories are those of one rollout at a
 * time, byte for byte, whatever the lanes, threads or processes. */
#include "policy.h"
#include "rollout_batch.h"
#include "rollout_state.h"

#include <stdlib.h>

/* Rollouts in flight per thread: the decode step's rows (at most 32,
 * eef_kvb_new).  bench/infer_bench.c measures the exploration shape;
 * docs/decoding.md has the figures. */
#define LANES 16

typedef struct {
    eef_episode *ep;
    eef_actor *actor;
    int busy;
    size_t i;
    eef_rollout_state r;
    eef_cdec *cd; /* the choice in progress, NULL between actions */
    eef_kv *kv;
    int feed, done;
} lane;

/* A lane's rollout ends (e: its error): reported, the lane freed. */
static void lane_end(lane *l, eef_err e, const eef_rollout_lanes_io *io)
{
    e = eef_rollout_end(&l->r, e);
    l->busy = 0;
    l->cd = NULL;
    io->done(io->ctx, l->i, e);
}

/* Runs a lane until it has a token to feed (l->feed >= 0) or its rollout
 * ended. */
static void lane_advance(lane *l, const eef_rollout_lanes_io *io)
{
    eef_err e = EEF_OK;
    for (;;) {
        if (l->cd) {
            if (l->feed >= 0) return; /* waiting for the step */
            if (!l->done) {
                e = eef_cdec_next(l->cd, eef_kv_logits(l->kv), &l->feed, &l->done);
                if (e) break;
                continue;
            }
            /* the choice is complete and fed */
            l->cd = NULL;
            e = eef_agent_act_end(l->actor, &l->r.ctx, EEF_OK, &l->r.action);
            if (!e) e = eef_rollout_apply(&l->r);
            if (e) break;
        }
        int want;
        e = eef_rollout_want(&l->r, &want);
        if (e) break;
        if (!want) {
            lane_end(l, EEF_OK, io);
            return;
        }
        e = eef_agent_act_begin(l->actor, &l->r.ctx, &l->r.rng, &l->cd, &l->kv);
        if (e) break;
        l->feed = -1, l->done = 0;
    }
    if (l->cd) e = eef_agent_act_end(l->actor, &l->r.ctx, e, &l->r.action);
    lane_end(l, e, io);
}

eef_err eef_rollout_lanes(eef_env *env, eef_policy *policy, const eef_rollout_spec *specs,
                          eef_traj *out, const eef_rollout_lanes_io *io)
{
    const eef_model *m = eef_policy_model(policy);
    lane lanes[LANES] = { 0 };
    eef_kvb *kb = NULL;
    eef_err e = m ? eef_kvb_new(m, LANES, &kb) : eef_fail(EEF_EINVAL, "lanes: not the agent");
    for (int k = 0; !e && k < LANES; k++) {
        e = env->ops->episode_open(env, &lanes[k].ep);
        if (!e) e = policy->ops->actor_open(policy, &lanes[k].actor);
    }
    eef_actor *actors[LANES];
    for (int k = 0; !e && k < LANES; k++) actors[k] = lanes[k].actor;
    if (!e) eef_agent_share(actors, LANES); /* the K rollouts of a state share its prefix */
    size_t i;
    if (e) {
        while (io->next(io->ctx, &i)) {} /* every item is taken by someone */
    }
    int more = !e;
    while (!e) {
        /* refill idle lanes from this thread's share */
        for (int k = 0; more && k < LANES; k++) {
            lane *l = &lanes[k];
            while (more && !l->busy) {
                if (!(more = io->next(io->ctx, &i))) break;
                l->busy = 1, l->i = i, l->cd = NULL;
                eef_err ei = eef_rollout_begin(&l->r, l->ep, &specs[i], &out[i]);
                if (ei) lane_end(l, ei, io);
                else lane_advance(l, io);
            }
        }
        /* one decode step over every lane with a token to feed */
        eef_kv *kvs[LANES];
        int toks[LANES], who[LANES], n = 0;
        for (int k = 0; k < LANES; k++)
            if (lanes[k].busy && lanes[k].feed >= 0)
                kvs[n] = lanes[k].kv, toks[n] = lanes[k].feed, who[n++] = k;
        if (!n) break; /* nothing in flight, nothing left */
        if (eef_kv_step(kb, kvs, toks, n, NULL)) {
            /* a sequence refused (its context is full): each on its own,
             * so the error is that lane's (a refused step changes nothing) */
            for (int j = 0; j < n; j++) {
                lane *l = &lanes[who[j]];
                eef_err ej = eef_kv_feed(l->kv, &l->feed, 1, NULL);
                l->feed = -1;
                if (ej) {
                    eef_agent_act_end(l->actor, &l->r.ctx, ej, &l->r.action);
                    lane_end(l, ej, io);
                }
            }
        } else {
            for (int j = 0; j < n; j++) lanes[who[j]].feed = -1;
        }
        for (int j = 0; j < n; j++)
            if (lanes[who[j]].busy) lane_advance(&lanes[who[j]], io);
    }
    for (int k = 0; k < LANES; k++) {
        if (lanes[k].actor) policy->ops->actor_close(lanes[k].actor);
        if (lanes[k].ep) env->ops->episode_close(lanes[k].ep);
    }
    eef_kvb_free(kb);
    return e;
}

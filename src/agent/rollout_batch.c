/* rollout_batch.c: rollouts of the transformer agent, several at once per
 * thread, their actions decoded in lockstep.
 *
 * A thread keeps LANES rollouts in flight, each with its own episode and
 * actor (KV cache).  Whenever one needs an action, its prompt is built
 * and its cache brought as far as its own or a peer lane's cache holds
 * it; then each step (eef_kv_rows) advances every lane at once: one row
 * per decoding lane, the rest of the ROWS prompt tokens of lanes still
 * feeding their prompts, so the weights are read once for all of them.
 * A rollout that ends hands its lane to the next one of the thread's
 * share, so the batch stays full.
 *
 * Each lane makes the calls eef_rollout would, in the same order, with its
 * own rng; every row is computed as a lone token is (eef_kv_rows), so a
 * cache holds what its token sequence alone determines: the trajectories
 * are those of one rollout at a time, byte for byte, whatever the lanes,
 * threads or processes. */
#include "policy.h"
#include "rollout_batch.h"
#include "rollout_state.h"

#include <stdlib.h>

/* Rollouts in flight per thread, and the rows of a step (at most 32,
 * eef_kvb_new): each decoding lane's token, the rest prompt tokens.
 * bench/infer_bench.c measures the exploration shape; docs/decoding.md
 * has the figures. */
#define LANES 16
#define ROWS 32

typedef struct {
    eef_episode *ep;
    eef_actor *actor;
    int busy;
    size_t i;
    eef_rollout_state r;
    eef_kv *kv;
    /* an action in progress: its prompt being fed (prefill: n_pend tokens
     * at pend left), then its choice (cd) token by token (feed) */
    int prefill;
    const int *pend;
    int n_pend;
    eef_cdec *cd;
    int feed, done;
    int rows; /* rows of this lane in the current step */
} lane;

/* A lane's rollout ends (e: its error): reported, the lane freed. */
static void lane_end(lane *l, eef_err e, const eef_rollout_lanes_io *io)
{
    e = eef_rollout_end(&l->r, e);
    l->busy = 0;
    l->cd = NULL;
    l->prefill = 0, l->n_pend = 0;
    io->done(io->ctx, l->i, e);
}

/* Runs a lane until it has rows to feed (prompt tokens, or a chosen
 * token: l->feed >= 0) or its rollout ended. */
static void lane_advance(lane *l, const eef_rollout_lanes_io *io)
{
    eef_err e = EEF_OK;
    for (;;) {
        if (l->prefill) {
            if (l->n_pend > 0) return; /* waiting for steps */
            l->prefill = 0;
            e = eef_agent_act_start(l->actor, &l->cd);
            if (e) break;
            l->feed = -1, l->done = 0;
        }
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
        e = eef_agent_act_prepare(l->actor, &l->r.ctx, &l->r.rng, &l->kv, &l->pend, &l->n_pend);
        if (e) break;
        l->prefill = 1;
    }
    if (l->cd || l->prefill) e = eef_agent_act_end(l->actor, &l->r.ctx, e, &l->r.action);
    lane_end(l, e, io);
}

eef_err eef_rollout_lanes(eef_env *env, eef_policy *policy, const eef_rollout_spec *specs,
                          eef_traj *out, const eef_rollout_lanes_io *io)
{
    const eef_model *m = eef_policy_model(policy);
    lane lanes[LANES] = { 0 };
    eef_kvb *kb = NULL;
    eef_err e = m ? eef_kvb_new(m, ROWS, &kb) : eef_fail(EEF_EINVAL, "lanes: not the agent");
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
                l->busy = 1, l->i = i, l->cd = NULL, l->prefill = 0;
                eef_err ei = eef_rollout_begin(&l->r, l->ep, &specs[i], &out[i]);
                if (ei) lane_end(l, ei, io);
                else lane_advance(l, io);
            }
        }
        /* one step: every decoding lane's token, then prompt tokens up to
         * ROWS (a lane whose prompt another lane of this step is
         * computing waits, and copies it after) */
        eef_kv *kvs[ROWS];
        eef_actor *fed[LANES];
        int toks[ROWS], in_step[LANES], n = 0, n_in = 0, n_fed = 0, busy = 0;
        for (int k = 0; k < LANES; k++) {
            lane *l = &lanes[k];
            l->rows = 0;
            busy += l->busy;
            if (l->busy && !l->prefill && l->feed >= 0)
                kvs[n] = l->kv, toks[n++] = l->feed, l->rows = 1, in_step[n_in++] = k;
        }
        for (int k = 0; k < LANES && n < ROWS; k++) {
            lane *l = &lanes[k];
            if (!l->busy || !l->prefill) continue;
            eef_err ek = eef_agent_act_resync(l->actor, &l->pend, &l->n_pend);
            if (ek || l->n_pend == 0) { /* copied whole (or failed): its choice next step */
                if (ek) {
                    eef_agent_act_end(l->actor, &l->r.ctx, ek, &l->r.action);
                    lane_end(l, ek, io);
                } else {
                    lane_advance(l, io);
                }
                continue;
            }
            if (eef_agent_act_wait(l->actor, fed, n_fed)) continue;
            int r = l->n_pend < ROWS - n ? l->n_pend : ROWS - n;
            for (int q = 0; q < r; q++) kvs[n] = l->kv, toks[n++] = l->pend[q];
            l->rows = r, in_step[n_in++] = k, fed[n_fed++] = l->actor;
        }
        if (!n) {
            if (busy) continue; /* lanes whose prompts were copied whole */
            break;              /* nothing in flight, nothing left */
        }
        if (eef_kv_rows(kb, kvs, toks, n)) {
            /* a sequence refused (its context is full): each lane on its
             * own, so the error is that lane's (a refused step changes
             * nothing) */
            for (int j = 0, at = 0; j < n_in; j++) {
                lane *l = &lanes[in_step[j]];
                eef_err ej = eef_kv_rows(kb, kvs + at, toks + at, l->rows);
                at += l->rows;
                if (l->prefill) l->pend += l->rows, l->n_pend -= l->rows;
                else l->feed = -1;
                if (ej) {
                    eef_agent_act_end(l->actor, &l->r.ctx, ej, &l->r.action);
                    lane_end(l, ej, io);
                }
            }
        } else {
            for (int j = 0; j < n_in; j++) {
                lane *l = &lanes[in_step[j]];
                if (l->prefill) l->pend += l->rows, l->n_pend -= l->rows;
                else l->feed = -1;
            }
        }
        for (int j = 0; j < n_in; j++)
            if (lanes[in_step[j]].busy) lane_advance(&lanes[in_step[j]], io);
    }
    for (int k = 0; k < LANES; k++) {
        if (lanes[k].actor) policy->ops->actor_close(lanes[k].actor);
        if (lanes[k].ep) env->ops->episode_close(lanes[k].ep);
    }
    eef_kvb_free(kb);
    return e;
}

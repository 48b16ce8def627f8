/* rollout.c: running a policy in an environment, from a task's start or
 * from a restored state, one rollout or many over the threads. */
#include "policy.h"
#include "rollout_batch.h"
#include "rollout_state.h"

#include "dist/dist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* The restored prefix as the rollout records it: each action with the
 * observation it was taken in, as context (mask 0). */
typedef struct {
    eef_history *h;
    eef_traj *out;
    const char *const *prefix;
} prefix_record;

static eef_err record_prefix(void *ctx, size_t i, const eef_step *st)
{
    prefix_record *p = ctx;
    if (eef_strlist_push(&p->h->obs, st->obs)) return EEF_ENOMEM;
    if (st->done) return EEF_OK; /* the restore fails: the prefix is too long */
    EEF_TRY(eef_traj_push(p->out, st->obs, p->prefix[i], 0));
    return eef_strlist_push(&p->h->acts, p->prefix[i]) ? EEF_ENOMEM : EEF_OK;
}

static eef_err fill_header(eef_episode *ep, const eef_rollout_spec *spec, eef_traj *out)
{
    eef_env *env = ep->env;
    eef_task task;
    EEF_TRY(env->ops->task(env, spec->split, spec->index, &task));
    EEF_TRY(eef_traj_set(&out->env, env->ops->name));
    EEF_TRY(eef_traj_set(&out->task, task.id));
    EEF_TRY(eef_traj_set(&out->instruction, task.instruction));
    char id[256];
    snprintf(id, sizeof id, "%s/%016llx", task.id, (unsigned long long)spec->key);
    EEF_TRY(eef_traj_set(&out->id, id));
    out->split = (int)spec->split;
    out->index = (long)spec->index;
    out->tier = (int)task.tier;
    return EEF_OK;
}

eef_err eef_rollout_begin(eef_rollout_state *r, eef_episode *ep, const eef_rollout_spec *spec,
                          eef_traj *out)
{
    *r = (eef_rollout_state){ .ep = ep, .spec = spec, .out = out };
    eef_traj_init(out);
    eef_buf_init(&r->action);
    r->rng = eef_rng_make(spec->key);
    const eef_env_ops *ops = ep->env->ops;
    eef_err e = fill_header(ep, spec, out);
    if (!e) e = ops->task(ep->env, spec->split, spec->index, &r->task);
    /* the state the rollout starts from: the task's start, then the prefix */
    prefix_record rec = { &r->h, out, spec->prefix };
    eef_restore_watch w = { .before = record_prefix, .ctx = &rec };
    if (!e) {
        e = eef_env_restore_watch(ep, spec->split, spec->index, spec->prefix, spec->n_prefix, &w,
                                  &r->st);
        if (e) e = eef_fail_ctx(e, "rollout: prefix of task %s", r->task.id);
    }
    if (!e && eef_strlist_push(&r->h.obs, r->st.obs)) e = EEF_ENOMEM;
    return e;
}

eef_err eef_rollout_want(eef_rollout_state *r, int *want)
{
    *want = 0;
    if (r->st.done) return EEF_OK;
    EEF_TRY(r->ep->env->ops->actions(r->ep, &r->valid));
    r->ctx = (eef_context){ .task = &r->task,
                            .episode = r->spec->key,
                            .obs = (const char *const *)r->h.obs.items,
                            .acts = (const char *const *)r->h.acts.items,
                            .n = r->h.acts.n,
                            .valid = &r->valid,
                            .text = eef_env_text_of(r->ep->env->ops->name) };
    *want = 1;
    return EEF_OK;
}

eef_err eef_rollout_apply(eef_rollout_state *r)
{
    const char *a = r->action.data ? r->action.data : "";
    eef_err e = eef_traj_push(r->out, r->h.obs.items[r->h.obs.n - 1], a, 1);
    if (!e) e = r->ep->env->ops->step(r->ep, a, &r->st);
    if (!e && (eef_strlist_push(&r->h.acts, a) || eef_strlist_push(&r->h.obs, r->st.obs))) e = EEF_ENOMEM;
    return e;
}

eef_err eef_rollout_end(eef_rollout_state *r, eef_err e)
{
    if (!e) {
        r->out->reward = r->st.reward;
        r->out->win = r->st.reward >= 1.0 - 1e-9;
        e = eef_traj_set(&r->out->final_obs, r->h.obs.items[r->h.obs.n - 1]);
    }
    eef_strlist_free(&r->h.obs);
    eef_strlist_free(&r->h.acts);
    eef_actions_free(&r->valid);
    eef_buf_free(&r->action);
    if (e) eef_traj_free(r->out);
    return e;
}

eef_err eef_rollout(eef_episode *ep, eef_actor *actor, const eef_rollout_spec *spec,
                    eef_traj *out)
{
    eef_rollout_state r;
    eef_err e = eef_rollout_begin(&r, ep, spec, out);
    int want;
    while (!e && !(e = eef_rollout_want(&r, &want)) && want) {
        e = actor->policy->ops->act(actor, &r.ctx, &r.rng, &r.action);
        if (!e) e = eef_rollout_apply(&r);
    }
    return eef_rollout_end(&r, e);
}

/* What the threads of eef_rollout_batch share: the first error (lowest
 * index: deterministic) and the progress bar. */
typedef struct {
    eef_dist_work *work;
    eef_traj *out;
    const char *label;
    eef_progress prog;
    eef_err first;
    char first_msg[1024];
    size_t first_at;
    double wins, done_n;
} batch_shared;

static int batch_next(void *ctx, size_t *i) { return eef_dist_work_next(((batch_shared *)ctx)->work, i); }

static void batch_done(void *ctx, size_t i, eef_err ei)
{
    batch_shared *b = ctx;
    if (ei) {
        eef_traj_init(&b->out[i]);
#pragma omp critical(eef_rollout_err)
        if (i < b->first_at) { /* report the lowest failing index: deterministic */
            b->first = ei, b->first_at = i;
            snprintf(b->first_msg, sizeof b->first_msg, "%s", eef_errmsg());
        }
    }
    if (b->label) {
        double w, d;
#pragma omp critical(eef_rollout_prog)
        {
            b->wins += b->out[i].win;
            b->done_n += 1;
            w = b->wins, d = b->done_n;
        }
        eef_progress_note(&b->prog, "win %.1f%%", 100.0 * w / d);
        /* only rank 0 shows its bar: it stands for all P ranks */
        eef_progress_add(&b->prog, (double)eef_dist_size());
    }
}

eef_err eef_rollout_batch(eef_env *env, eef_policy *policy, const eef_rollout_spec *specs,
                          size_t n, const char *label, eef_traj *out)
{
    /* the rollouts are shared out between the processes of an MPI job
     * (one process: all are ours); each process's threads take them one
     * at a time; at the end every process holds every trajectory */
    batch_shared b = { .out = out, .label = label, .first_at = (size_t)-1 };
    EEF_TRY(eef_dist_work_begin(n, &b.work));
    for (size_t i = 0; i < n; i++) eef_traj_init(&out[i]);
    if (label) eef_progress_begin(&b.prog, label, (double)n, "rollouts");
    const eef_rollout_lanes_io io = { batch_next, batch_done, &b };
#pragma omp parallel
    {
        eef_err e = EEF_OK;
        if (eef_policy_model(policy)) {
            /* the agent: several rollouts at once, decoded in lockstep */
            e = eef_rollout_lanes(env, policy, specs, out, &io);
        } else {
            eef_episode *ep = NULL;
            eef_actor *actor = NULL;
            e = env->ops->episode_open(env, &ep);
            if (!e) e = policy->ops->actor_open(policy, &actor);
            size_t i;
            while (batch_next(&b, &i)) {
                if (e) continue;
                batch_done(&b, i, eef_rollout(ep, actor, &specs[i], &out[i]));
            }
            if (actor) policy->ops->actor_close(actor);
            if (ep) env->ops->episode_close(ep);
        }
        if (e) {
#pragma omp critical(eef_rollout_err)
            if (!b.first) {
                b.first = e, b.first_at = 0;
                snprintf(b.first_msg, sizeof b.first_msg, "%s", eef_errmsg());
            }
        }
    }
    if (label) eef_progress_end(&b.prog);
    return eef_dist_work_end(b.work, out, b.first, b.first_at, b.first_msg);
}

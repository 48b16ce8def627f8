/* rollout.c: running a policy in an environment, from a task's start or
 * from a restored state, one rollout or many over the threads. */
#include "policy.h"

#include "dist/dist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Observations and actions of the episode so far, as the policy sees them. */
typedef struct {
    eef_strlist obs, acts;
} history;

/* The restored prefix as the rollout records it: each action with the
 * observation it was taken in, as context (mask 0). */
typedef struct {
    history *h;
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

eef_err eef_rollout(eef_episode *ep, eef_actor *actor, const eef_rollout_spec *spec,
                    eef_traj *out)
{
    const eef_env_ops *ops = ep->env->ops;
    eef_traj_init(out);
    eef_err e = fill_header(ep, spec, out);
    eef_task task;
    if (!e) e = ops->task(ep->env, spec->split, spec->index, &task);
    history h = { 0 };
    eef_actions valid = { 0 };
    eef_buf action;
    eef_buf_init(&action);
    eef_step st = { 0 };
    eef_rng rng = eef_rng_make(spec->key);
    /* the state the rollout starts from: the task's start, then the prefix */
    prefix_record rec = { &h, out, spec->prefix };
    eef_restore_watch w = { .before = record_prefix, .ctx = &rec };
    if (!e) {
        e = eef_env_restore_watch(ep, spec->split, spec->index, spec->prefix, spec->n_prefix, &w,
                                  &st);
        if (e) e = eef_fail_ctx(e, "rollout: prefix of task %s", task.id);
    }
    if (!e && eef_strlist_push(&h.obs, st.obs)) e = EEF_ENOMEM;
    /* then the policy */
    const eef_env_text *text = eef_env_text_of(ops->name);
    while (!e && !st.done) {
        e = ops->actions(ep, &valid);
        if (e) break;
        eef_context ctx = { .task = &task,
                            .episode = spec->key,
                            .obs = (const char *const *)h.obs.items,
                            .acts = (const char *const *)h.acts.items,
                            .n = h.acts.n,
                            .valid = &valid,
                            .text = text };
        e = actor->policy->ops->act(actor, &ctx, &rng, &action);
        if (e) break;
        const char *a = action.data ? action.data : "";
        e = eef_traj_push(out, h.obs.items[h.obs.n - 1], a, 1);
        if (!e) e = ops->step(ep, a, &st);
        if (!e && (eef_strlist_push(&h.acts, a) || eef_strlist_push(&h.obs, st.obs))) e = EEF_ENOMEM;
    }
    if (!e) {
        out->reward = st.reward;
        out->win = st.reward >= 1.0 - 1e-9;
        e = eef_traj_set(&out->final_obs, h.obs.items[h.obs.n - 1]);
    }
    eef_strlist_free(&h.obs);
    eef_strlist_free(&h.acts);
    eef_actions_free(&valid);
    eef_buf_free(&action);
    if (e) eef_traj_free(out);
    return e;
}

eef_err eef_rollout_batch(eef_env *env, eef_policy *policy, const eef_rollout_spec *specs,
                          size_t n, const char *label, eef_traj *out)
{
    /* the rollouts are shared out between the processes of an MPI job
     * (one process: all are ours); each process's threads take them one
     * at a time; at the end every process holds every trajectory */
    eef_dist_work *work;
    EEF_TRY(eef_dist_work_begin(n, &work));
    for (size_t i = 0; i < n; i++) eef_traj_init(&out[i]);
    eef_progress prog;
    if (label) eef_progress_begin(&prog, label, (double)n, "rollouts");
    eef_err first = EEF_OK;
    char first_msg[1024] = "";
    size_t first_at = (size_t)-1;
    double wins = 0, done_n = 0;
#pragma omp parallel
    {
        eef_episode *ep = NULL;
        eef_actor *actor = NULL;
        eef_err e = env->ops->episode_open(env, &ep);
        if (!e) e = policy->ops->actor_open(policy, &actor);
        size_t i;
        while (eef_dist_work_next(work, &i)) {
            if (e) continue;
            eef_err ei = eef_rollout(ep, actor, &specs[i], &out[i]);
            if (ei) {
                eef_traj_init(&out[i]);
#pragma omp critical(eef_rollout_err)
                if (i < first_at) { /* report the lowest failing index: deterministic */
                    first = ei, first_at = i;
                    snprintf(first_msg, sizeof first_msg, "%s", eef_errmsg());
                }
            }
            if (label) {
                double w, d;
#pragma omp critical(eef_rollout_prog)
                {
                    wins += out[i].win;
                    done_n += 1;
                    w = wins, d = done_n;
                }
                eef_progress_note(&prog, "win %.1f%%", 100.0 * w / d);
                /* only rank 0 shows its bar: it stands for all P ranks */
                eef_progress_add(&prog, (double)eef_dist_size());
            }
        }
        if (e) {
#pragma omp critical(eef_rollout_err)
            if (!first) {
                first = e, first_at = 0;
                snprintf(first_msg, sizeof first_msg, "%s", eef_errmsg());
            }
        }
        if (actor) policy->ops->actor_close(actor);
        if (ep) env->ops->episode_close(ep);
    }
    if (label) eef_progress_end(&prog);
    return eef_dist_work_end(work, out, first, first_at, first_msg);
}

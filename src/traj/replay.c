/* replay.c: re-execute a recorded trajectory and check it.
 *
 * Environments are deterministic given (task, actions), so a trajectory
 * file is also a test: stepping its actions from the task's start must
 * give the same observations and the same final reward.  This is how a
 * changed environment, a wrong --env-opt or a corrupted file is found. */
#include "traj_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rewards are compared with this tolerance: a remote environment sends
 * them as decimal text. */
#define REWARD_TOL 1e-9

/* Moves i back to the start of a UTF-8 character. */
static size_t char_start(const char *s, size_t i)
{
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80) i--;
    return i;
}

/* An excerpt of s around byte `at`: a little context before it, at most
 * EEF_REPLAY_EXCERPT bytes, "..." where text was cut. */
static char *excerpt(const char *s, size_t at)
{
    size_t n = strlen(s);
    size_t from = at > 20 ? char_start(s, at - 20) : 0;
    size_t to = n - from > EEF_REPLAY_EXCERPT ? char_start(s, from + EEF_REPLAY_EXCERPT) : n;
    eef_buf b;
    eef_buf_init(&b);
    if ((from && eef_buf_puts(&b, "...")) || eef_buf_append(&b, s + from, to - from) ||
        (to < n && eef_buf_puts(&b, "...")) || eef_buf_reserve(&b, 0)) {
        eef_buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* Records a difference; the first one is kept in detail. */
static eef_err differ(eef_replay_result *r, long step, const char *what, const char *expected,
                      const char *got)
{
    r->matched = 0;
    r->n_mismatch++;
    if (r->n_mismatch > 1) return EEF_OK;
    r->step = step;
    snprintf(r->what, sizeof r->what, "%s", what);
    size_t at = 0;
    while (expected[at] && expected[at] == got[at]) at++;
    r->expected = excerpt(expected, at);
    r->got = excerpt(got, at);
    if (!r->expected || !r->got) return EEF_ENOMEM;
    return EEF_OK;
}

static eef_err check_obs(eef_replay_result *r, long step, const char *recorded, const char *now)
{
    r->n_checked++;
    if (strcmp(recorded, now ? now : "") == 0) return EEF_OK;
    return differ(r, step, "observation", recorded, now ? now : "");
}

/* Finds the trajectory's task: at (split, index) when that task has the
 * trajectory's id, else by id among all tasks.  *found = 0 when neither. */
static eef_err find_task(eef_env *env, const eef_traj *t, eef_split *split, size_t *index,
                         int *found, char *seen, size_t seen_cap)
{
    const eef_env_ops *ops = env->ops;
    eef_task task;
    *found = 0;
    snprintf(seen, seen_cap, "no task with this id");
    if (t->split >= 0 && t->index >= 0) {
        eef_split s = (eef_split)t->split;
        size_t n = ops->n_tasks(env, s);
        if ((size_t)t->index < n) {
            EEF_TRY(ops->task(env, s, (size_t)t->index, &task));
            if (strcmp(task.id, t->task) == 0) {
                *split = s, *index = (size_t)t->index, *found = 1;
                return EEF_OK;
            }
            snprintf(seen, seen_cap, "%s task %ld is %s", eef_split_name(s), t->index, task.id);
        } else {
            snprintf(seen, seen_cap, "no %s task %ld (the environment has %zu)", eef_split_name(s),
                     t->index, n);
        }
    }
    for (int si = EEF_SPLIT_TRAIN; si <= EEF_SPLIT_TEST; si++) {
        size_t n = ops->n_tasks(env, (eef_split)si);
        for (size_t i = 0; i < n; i++) {
            EEF_TRY(ops->task(env, (eef_split)si, i, &task));
            if (strcmp(task.id, t->task) == 0) {
                *split = (eef_split)si, *index = i, *found = 1;
                return EEF_OK;
            }
        }
    }
    return EEF_OK;
}

/* Each recorded observation against the one the environment shows now. */
typedef struct {
    const eef_traj *t;
    eef_replay_result *r;
} replay_check;

static eef_err check_step(void *ctx, size_t i, const eef_step *st)
{
    replay_check *c = ctx;
    return check_obs(c->r, (long)i, c->t->steps[i].obs, st->obs);
}

static eef_err run_steps(eef_episode *ep, const eef_traj *t, eef_split split, size_t index,
                         eef_replay_result *r)
{
    const char **acts = eef_malloc((t->n_steps + 1) * sizeof *acts);
    if (!acts) return EEF_ENOMEM;
    for (size_t i = 0; i < t->n_steps; i++) acts[i] = t->steps[i].action;
    replay_check c = { t, r };
    /* as recorded: an invalid action is replayed as the invalid action it was */
    eef_restore_watch w = { .before = check_step, .ctx = &c, .as_recorded = 1 };
    eef_step st;
    eef_err e = eef_env_restore_watch(ep, split, index, acts, t->n_steps, &w, &st);
    free(acts);
    EEF_TRY(e);
    if (w.taken < t->n_steps) {
        /* the episode is over but the trajectory goes on */
        r->n_checked++;
        return differ(r, (long)w.taken, "ended", t->steps[w.taken].action, "(episode over)");
    }
    long end = (long)t->n_steps;
    if (t->final_obs) EEF_TRY(check_obs(r, end, t->final_obs, st.obs));
    r->n_checked++;
    if (fabs(st.reward - t->reward) > REWARD_TOL) {
        char want[40], got[40];
        snprintf(want, sizeof want, "%.17g", t->reward);
        snprintf(got, sizeof got, "%.17g", st.reward);
        EEF_TRY(differ(r, end, "reward", want, got));
    }
    return EEF_OK;
}

eef_err eef_traj_replay(eef_env *env, const eef_traj *t, eef_replay_result *r)
{
    memset(r, 0, sizeof *r);
    r->matched = 1;
    r->step = -1;
    if (!t->task) return eef_fail(EEF_EINVAL, "replay: trajectory '%s' has no task", t->id ? t->id : "?");
    eef_split split = EEF_SPLIT_TRAIN;
    size_t index = 0;
    int found;
    char seen[256];
    EEF_TRY(find_task(env, t, &split, &index, &found, seen, sizeof seen));
    if (!found) {
        r->n_checked = 1;
        return differ(r, 0, "task", t->task, seen);
    }
    eef_episode *ep;
    EEF_TRY(env->ops->episode_open(env, &ep));
    eef_err e = run_steps(ep, t, split, index, r);
    env->ops->episode_close(ep);
    return e;
}

void eef_replay_result_free(eef_replay_result *r)
{
    free(r->expected);
    free(r->got);
    r->expected = r->got = NULL;
}

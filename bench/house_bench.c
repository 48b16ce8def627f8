/* house_bench: environment throughput of the household world.
 *
 * A random player on train tasks: at each step list the valid actions,
 * pick one uniformly, step; reset on done.  Prints
 *   house_steps_per_s: N      (one core; listing + step + reset)
 *   house_copy_per_s: N       (episode snapshots with the vtable's copy)
 *   house_restore_per_s: N    (replays of a 20-action prefix)
 */
#include "env/env.h"
#include "env/house/house.h"

#include <stdio.h>
#include <stdlib.h>

static int die(const char *what)
{
    fprintf(stderr, "house_bench: %s: %s\n", what, eef_errmsg());
    return 1;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    eef_env *env;
    /* eef_house_open directly: env.c refers to it weakly, which does not
     * pull it out of libeef.a by itself */
    if (eef_house_open(NULL, 1, &env)) return die("open");
    const eef_env_ops *ops = env->ops;
    eef_episode *ep, *snap;
    if (ops->episode_open(env, &ep) || ops->episode_open(env, &snap)) return die("episode");
    eef_actions acts = { 0 };
    eef_rng rng = eef_rng_make(eef_rng_key(1, 2, 3, 4));
    size_t n_tasks = ops->n_tasks(env, EEF_SPLIT_TRAIN), task = 0;
    eef_step st;

    /* random valid actions */
    long steps = 0, episodes = 0, wins = 0;
    double t0 = eef_now(), t;
    if (ops->reset(ep, EEF_SPLIT_TRAIN, task, &st)) return die("reset");
    do {
        for (int k = 0; k < 1000; k++) {
            if (ops->actions(ep, &acts)) return die("actions");
            const char *a = acts.items.items[eef_rng_below(&rng, acts.items.n)];
            if (ops->step(ep, a, &st)) return die("step");
            steps++;
            if (st.done) {
                episodes++;
                wins += st.reward == 1.0;
                task = (task + 1) % n_tasks;
                if (ops->reset(ep, EEF_SPLIT_TRAIN, task, &st)) return die("reset");
            }
        }
        t = eef_now() - t0;
    } while (t < seconds);
    printf("house_steps_per_s: %.0f\n", steps / t);
    fflush(stdout);
    fprintf(stderr, "  (%ld steps, %ld episodes, random win rate %.3f)\n", steps, episodes,
            episodes ? (double)wins / episodes : 0.0);

    /* snapshot copies */
    long copies = 0;
    t0 = eef_now();
    do {
        for (int k = 0; k < 10000; k++)
            if (ops->copy(snap, ep)) return die("copy");
        copies += 10000;
        t = eef_now() - t0;
    } while (t < seconds / 4);
    printf("house_copy_per_s: %.0f\n", copies / t);

    /* replay of a prefix of up to 20 random valid actions */
    const char *prefix[20];
    eef_strlist keep = { 0 };
    if (ops->reset(ep, EEF_SPLIT_TRAIN, 0, &st)) return die("reset");
    for (int k = 0; k < 20 && !st.done; k++) {
        if (ops->actions(ep, &acts)) return die("actions");
        eef_strlist_push(&keep, acts.items.items[eef_rng_below(&rng, acts.items.n)]);
        if (ops->step(ep, keep.items[keep.n - 1], &st)) return die("step");
    }
    for (size_t k = 0; k < keep.n; k++) prefix[k] = keep.items[k];
    long restores = 0;
    t0 = eef_now();
    do {
        for (int k = 0; k < 1000; k++)
            if (eef_env_restore(ep, EEF_SPLIT_TRAIN, 0, prefix, keep.n, NULL))
                return die("restore");
        restores += 1000;
        t = eef_now() - t0;
    } while (t < seconds / 4);
    printf("house_restore_per_s: %.0f\n", restores / t);

    eef_strlist_free(&keep);
    eef_actions_free(&acts);
    ops->episode_close(ep);
    ops->episode_close(snap);
    eef_env_close(env);
    return 0;
}

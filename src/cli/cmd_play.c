/* eef play ENV: a person plays an environment in the terminal.
 *
 * Shows the observation and the valid actions, reads one action per line
 * from stdin (a number picks the listed action of that number), and prints
 * the reward at the end.  Works scripted when stdin is not a terminal:
 * then no prompt is printed, and the end of input ends the game. */
#include "cli.h"
#include "env/env.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void show_actions(const eef_actions *a)
{
    printf("== actions:");
    for (size_t i = 0; i < a->items.n; i++) printf(" [%zu] %s", i + 1, a->items.items[i]);
    if (a->free_prefix) printf(" | %s...%s", a->free_prefix, a->free_suffix ? a->free_suffix : "");
    printf("\n");
}

int cmd_play(int argc, char **argv)
{
    long task = 0, seed = 1;
    const char *split_name = "train", *env_opt = NULL;
    const cli_opt opts[] = {
        { "--task", OPT_INT, &task, "N", "task index within the split", 0, 1e9 },
        { "--split", OPT_STR, &split_name, "SPLIT", "train or test", 0, 0 },
        { "--seed", OPT_INT, &seed, "S", "seed of the environment (generated worlds)", 0, 0 },
        { "--env-opt", OPT_STR, &env_opt, "OPTS", "environment options, e.g. products=2000", 0, 0 },
        { 0 },
    };
    const cli_spec spec = { "play", "ENV [options]", "play an environment in the terminal", opts, 1, 1 };
    char **pos;
    int npos;
    int rc = cli_parse(&spec, argc, argv, &pos, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    eef_split split;
    if (eef_split_parse(split_name, &split) != EEF_OK) return cli_error("play");
    eef_env *env = NULL;
    eef_episode *ep = NULL;
    eef_actions acts = { 0 };
    eef_step st;
    eef_task info;
    char *line = NULL;
    size_t cap = 0;
    int tty = isatty(STDIN_FILENO), status = 0;
    if (eef_env_open(pos[0], env_opt, (uint64_t)seed, &env) ||
        env->ops->task(env, split, (size_t)task, &info) || env->ops->episode_open(env, &ep) ||
        env->ops->reset(ep, split, (size_t)task, &st)) {
        status = cli_error("play");
        goto done;
    }
    printf("== task %s (%s)\n", info.id, eef_tier_name(info.tier));
    int steps = 0;
    while (!st.done) {
        printf("== observation\n%s\n", st.obs);
        if (env->ops->actions(ep, &acts)) {
            status = cli_error("play");
            goto done;
        }
        show_actions(&acts);
        if (tty) {
            printf("> ");
            fflush(stdout);
        }
        ssize_t n = getline(&line, &cap, stdin);
        if (n < 0) {
            printf("== end of input after %d steps: nothing bought\n", steps);
            goto done;
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        const char *action = line;
        char *end;
        long k = strtol(line, &end, 10);
        if (n > 0 && *end == 0 && k >= 1 && (size_t)k <= acts.items.n) action = acts.items.items[k - 1];
        if (!tty) printf("> %s\n", action);
        if (env->ops->step(ep, action, &st)) {
            status = cli_error("play");
            goto done;
        }
        steps++;
        if (!st.valid) printf("== invalid action (the page did not change)\n");
    }
    printf("== observation\n%s\n", st.obs);
    printf("reward: %.4f\nwin: %s\nsteps: %d\n", st.reward, st.reward == 1.0 ? "yes" : "no", steps);
done:
    free(line);
    eef_actions_free(&acts);
    if (ep) env->ops->episode_close(ep);
    eef_env_close(env);
    return status;
}

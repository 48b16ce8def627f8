/* eef expert: run the built-in expert on every task of a split. */
#include "cli.h"

#include "agent/policy.h"
#include "eval/eval.h"

#include <stdlib.h>
#include <string.h>

int cmd_expert(int argc, char **argv)
{
    const char *env_name = "shop", *split_name = "train", *out = NULL, *env_opt = NULL;
    const char *expert_opt = NULL, *expert = "builtin";
    long n = 0, seed = 1, threads = 0;
    int quiet = 0;
    const cli_opt opts[] = {
        { "--env", OPT_STR, &env_name, "E", "shop, house or remote:URL", 0, 0 },
        { "--split", OPT_STR, &split_name, "S", "train or test", 0, 0 },
        { "--n", OPT_INT, &n, "N", "first N tasks (0: all)", 0, 100000000 },
        { "--seed", OPT_INT, &seed, "S", "seed (world and the expert's choices)", 0, 1L << 52 },
        { "--out", OPT_STR, &out, "FILE", "write the trajectories (.jsonl)", 0, 0 },
        { "--env-opt", OPT_STR, &env_opt, "K=V,..", "environment options", 0, 0 },
        { "--expert", OPT_STR, &expert, "X", "builtin, weak (about half its wins) or chat:URL (an OpenAI-compatible server)", 0, 0 },
        { "--expert-opt", OPT_STR, &expert_opt, "K=V,..", "expert options (built-in: its weaknesses; chat: model=, key_env=, ...)", 0, 0 },
        { "--threads", OPT_INT, &threads, "N", "threads (0: all cores)", 0, 1024 },
        { "--quiet", OPT_FLAG, &quiet, NULL, "no progress bar", 0, 0 },
        { 0 },
    };
    const cli_spec spec = { "expert", "[--env shop|house] [--split train|test] [--out FILE]",
                            "run the built-in expert; win rate and score per tier", opts, 0, 0 };
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    eef_split split;
    if (eef_split_parse(split_name, &split)) {
        fprintf(stderr, "eef expert: %s\n", eef_errmsg());
        return 2;
    }
    cli_set_threads(threads);
    eef_progress_set_quiet(quiet);
    eef_env *env = NULL;
    eef_policy *ex = NULL;
    eef_err e = eef_env_open(env_name, env_opt, (uint64_t)seed, &env);
    if (!e) e = eef_expert_open(env_name, expert, expert_opt, &ex);
    eef_traj *t = NULL;
    size_t nt = 0;
    eef_eval_summary s;
    /* the same rollout keys as `eef run` uses for its expert phase */
    if (!e) e = eef_evaluate(env, ex, split, (size_t)n, (uint64_t)seed, "expert", &t, &nt, &s);
    for (size_t i = 0; !e && i < nt; i++) {
        e = eef_traj_set(&t[i].source, "expert");
        if (!e) e = eef_traj_set(&t[i].expert, expert);
    }
    /* the file says which world and expert made it (eef replay rebuilds it) */
    eef_world w;
    eef_world_init(&w);
    if (!e) e = eef_world_set_env(&w, env_name, env_opt, (uint64_t)seed, env);
    if (!e) e = eef_world_set_expert(&w, expert, NULL, expert_opt);
    if (!e && out) e = eef_traj_write_ctx(out, &w, t, nt);
    if (!e) {
        printf("expert on %s %s: %zu tasks, win %.1f%% [%.1f, %.1f], score %.1f\n", env_name,
               split_name, nt, 100 * s.all.win, 100 * s.all.win_lo, 100 * s.all.win_hi, s.all.score);
        printf("%-8s %6s %8s %7s\n", "tier", "tasks", "win %", "score");
        for (int k = 0; k < EEF_N_TIERS; k++)
            printf("%-8s %6zu %8.1f %7.1f\n", eef_tier_name((eef_tier)k), s.tier[k].n,
                   100 * s.tier[k].win, s.tier[k].score);
        /* EEF needs failures that still hold useful steps */
        size_t hard_fail = 0, with_key = 0;
        for (size_t i = 0; i < nt; i++) {
            if (t[i].win || t[i].tier != EEF_TIER_HARD || !t[i].n_steps) continue;
            const char **acts = malloc(t[i].n_steps * sizeof *acts);
            unsigned char *key = calloc(t[i].n_steps, 1);
            if (!acts || !key) {
                free(acts), free(key);
                e = EEF_ENOMEM;
                break;
            }
            for (size_t k = 0; k < t[i].n_steps; k++) acts[k] = t[i].steps[k].action;
            eef_err ek = eef_env_key_actions(env, split, (size_t)t[i].index, acts, t[i].n_steps, key);
            if (ek == EEF_OK) {
                hard_fail++;
                int any = 0;
                for (size_t k = 0; k < t[i].n_steps; k++) any |= key[k];
                with_key += any;
            }
            free(acts), free(key);
        }
        if (!e && hard_fail)
            printf("hard-tier failures containing a key action: %zu of %zu (%.1f%%)\n", with_key,
                   hard_fail, 100.0 * with_key / hard_fail);
        if (!e && out) printf("trajectories: %s\n", out);
    }
    for (size_t i = 0; t && i < nt; i++) eef_traj_free(&t[i]);
    free(t);
    eef_policy_close(ex);
    eef_env_close(env);
    return e ? cli_error("expert") : 0;
}

/* eef run: the SFT / RFT / EEF pipeline, resumable. */
#include "cli.h"

#include "dist/dist.h"
#include "tune/tune.h"

#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

int cmd_run(int argc, char **argv)
{
    const char *method = "eef", *preset = NULL, *out = NULL, *from = NULL, *env = NULL;
    const char *env_opt = NULL, *expert_opt = NULL, *search = NULL, *expert = NULL;
    const char *match = NULL, *label = NULL, *model = NULL, *lora_targets = NULL;
    long lora = 0;
    double lora_alpha = 0;
    int full = 0;
    long iters = -1, seed = -1, n_train = -1, n_test = -1, k = -1, stride = -1, max_states = -1;
    long threads = 0, shards = -1, explore_tasks = -1;
    double temp = -1, iter_epochs = -1;
    int from_sft = 0, quiet = 0;
    const cli_opt opts[] = {
        { "--method", OPT_STR, &method, "M", "sft, rft, eef or eto", 0, 0 },
        { "--preset", OPT_STR, &preset, "P", "tiny, demo or pretrained (the default with --model)", 0, 0 },
        { "--out", OPT_STR, &out, "DIR", "run directory (resumed if it exists)", 0, 0 },
        { "--from", OPT_STR, &from, "DIR", "take expert data and SFT model from this run (and its world: "
          "env, options, seed, expert)", 0, 0 },
        { "--seed", OPT_INT, &seed, "S", "seed of everything (default 1, or that of --from's run)", 0, 1L << 52 },
        { "--iters", OPT_INT, &iters, "N", "iterations (rft, eef)", 0, 1000 },
        { "--env", OPT_STR, &env, "E", "shop, house or remote:URL", 0, 0 },
        { "--env-opt", OPT_STR, &env_opt, "K=V,..", "environment options", 0, 0 },
        { "--expert", OPT_STR, &expert, "X,..", "builtin, weak or chat:URL (an OpenAI-compatible server); "
          "several, comma-separated: SFT clones all their wins, EEF explores all their failures", 0, 0 },
        { "--expert-opt", OPT_STR, &expert_opt, "K=V,..", "expert options (chat: model=, key_env=, ...)", 0, 0 },
        { "--n-train", OPT_INT, &n_train, "N", "train tasks used (0: all)", 0, 100000000 },
        { "--n-test", OPT_INT, &n_test, "N", "test tasks evaluated (0: all)", 0, 100000000 },
        { "--explore-tasks", OPT_INT, &explore_tasks, "N", "iterations explore the first N train tasks (0: all)", 0, 100000000 },
        { "--k", OPT_INT, &k, "K", "rollouts per task start and per EEF state", 1, 1024 },
        { "--temp", OPT_DOUBLE, &temp, "T", "exploration temperature", 0, 100 },
        { "--search", OPT_STR, &search, "S", "EEF state search: stride, bisect or even (the paper's: "
          "M states evenly spaced)", 0, 0 },
        { "--match-rollouts", OPT_STR, &match, "RUN", "rft: K per task start so that the run simulates "
          "as many episodes as the EEF run RUN (label rft-matched)", 0, 0 },
        { "--label", OPT_STR, &label, "L", "the run's row in comparisons (default: the method)", 0, 0 },
        { "--stride", OPT_INT, &stride, "L", "EEF: every L-th state of a failure", 1, 1000 },
        { "--max-states", OPT_INT, &max_states, "M", "EEF: at most M states per failure", 1, EEF_MAX_CANDIDATES },
        { "--from-sft", OPT_FLAG, &from_sft, NULL, "retrain from the SFT model each iteration", 0, 0 },
        { "--iter-epochs", OPT_DOUBLE, &iter_epochs, "E", "epochs of each iteration's training over its data", 0.01, 1000 },
        { "--threads", OPT_INT, &threads, "N", "threads (0: all cores, shared by the ranks on a host)", 0, 1024 },
        { "--shards", OPT_INT, &shards, "S", "MPI: training batches cut in S row groups (0: one per rank); "
          "the same S gives the same bits on 1 or 2 ranks", 0, 4096 },
        { "--model", OPT_STR, &model, "M", "the student: this pretrained model (Hugging Face "
          "directory, .gguf or .eefm), tuned with --lora or --full", 0, 0 },
        { "--lora", OPT_INT, &lora, "R", "LoRA adapters of rank R on the frozen --model", 1, 4096 },
        { "--lora-alpha", OPT_DOUBLE, &lora_alpha, "A", "LoRA scale alpha / R (default 2 R)", 1e-3, 1e6 },
        { "--lora-targets", OPT_STR, &lora_targets, "LIST",
          "projections with adapters (default q,k,v,o,gate,up,down)", 0, 0 },
        { "--full", OPT_FLAG, &full, NULL, "full fine-tuning of --model", 0, 0 },
        { "--quiet", OPT_FLAG, &quiet, NULL, "no progress bars", 0, 0 },
        { 0 },
    };
    const cli_spec spec = { "run", "--method sft|rft|eef|eto --preset tiny|demo --out DIR [options]\n"
                            "       eef run --model DIR|FILE.gguf --lora R|--full --preset pretrained "
                            "--out DIR [options]",
                            "run (or resume) the SFT / RFT / EEF pipeline", opts, 0, 0 };
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    if (!out) {
        fprintf(stderr, "eef run: --out is required\n");
        cli_usage(&spec, stderr);
        return 2;
    }
    if (model ? !!lora == !!full : lora || full || lora_alpha > 0 || lora_targets) {
        fprintf(stderr, model ? "eef run: --model needs --lora R or --full\n"
                              : "eef run: --lora and --full tune a pretrained model: give --model\n");
        return 2;
    }
    if (model && strlen(model) >= sizeof ((eef_run_config *)0)->base_model) {
        fprintf(stderr, "eef run: --model: path too long\n");
        return 2;
    }
    /* a run taken --from another is in that run's world: what the flags
     * leave out comes from it, and a flag that contradicts it is refused */
    eef_world base;
    char base_where[1200];
    if (from) {
        if (eef_run_world_read(from, &base, base_where, sizeof base_where)) return cli_error("run");
        eef_world given;
        eef_world_init(&given);
        if (env) snprintf(given.env, sizeof given.env, "%s", env), given.have |= EEF_CTX_ENV;
        if (env_opt)
            snprintf(given.env_options, sizeof given.env_options, "%s", env_opt), given.have |= EEF_CTX_ENV_OPT;
        if (seed >= 0) given.seed = (uint64_t)seed, given.have |= EEF_CTX_SEED;
        if ((expert || expert_opt) &&
            eef_world_set_expert(&given, expert ? expert : base.expert, NULL,
                                 expert_opt ? expert_opt : expert ? "" : base.expert_options))
            return cli_error("run");
        if (eef_world_check(&base, &given, base_where, "was given")) return cli_error("run");
        if (!env && (base.have & EEF_CTX_ENV)) env = base.env;
        if (!env_opt && (base.have & EEF_CTX_ENV_OPT)) env_opt = base.env_options;
        if (seed < 0 && (base.have & EEF_CTX_SEED)) seed = (long)base.seed;
        if (!expert && !expert_opt && (base.have & EEF_CTX_EXPERT))
            expert = base.expert, expert_opt = base.expert_options;
    }
    eef_method m;
    eef_run_config c;
    if (!preset) preset = model ? "pretrained" : "demo";
    if (eef_method_parse(method, &m) || eef_run_preset(preset, m, env, &c)) {
        fprintf(stderr, "eef run: %s\n", eef_errmsg());
        return 2;
    }
    if (model) {
        snprintf(c.base_model, sizeof c.base_model, "%s", model);
        if (full && strcmp(preset, "pretrained") == 0) c.sft.opt.lr = c.iter.opt.lr = 2e-5;
        if (lora) {
            eef_lora_defaults(&c.lora);
            c.lora.rank = (int)lora;
            c.lora.alpha = lora_alpha > 0 ? (float)lora_alpha : 2.0f * c.lora.rank;
            if (lora_targets && eef_lora_parse_targets(lora_targets, &c.lora.targets)) {
                fprintf(stderr, "eef run: %s\n", eef_errmsg());
                return 2;
            }
        }
    }
    if (seed >= 0) c.seed = (uint64_t)seed;
    if (iters >= 0) c.iters = m == EEF_METHOD_SFT ? 0 : (int)iters;
    if (env_opt) snprintf(c.env_options, sizeof c.env_options, "%s", env_opt);
    if (expert) snprintf(c.expert, sizeof c.expert, "%s", expert);
    if (expert_opt) snprintf(c.expert_options, sizeof c.expert_options, "%s", expert_opt);
    if (n_train >= 0) c.n_train = n_train;
    if (n_test >= 0) c.n_test = n_test;
    if (explore_tasks >= 0) c.rft.tasks = explore_tasks;
    if (k > 0) c.rft.k = c.eef.k = (int)k;
    if (temp >= 0) c.rft.temperature = c.eef.temperature = temp;
    if (stride > 0) c.eef.stride = (int)stride;
    if (max_states > 0) c.eef.max_states = (int)max_states;
    if (from_sft) c.iter_from_sft = 1;
    if (iter_epochs > 0) c.iter.epochs = iter_epochs;
    if (search && eef_search_parse(search, &c.eef.mode)) {
        fprintf(stderr, "eef run: %s\n", eef_errmsg());
        return 2;
    }
    if (label) {
        if (strlen(label) >= sizeof c.label) {
            fprintf(stderr, "eef run: --label: at most %zu characters\n", sizeof c.label - 1);
            return 2;
        }
        snprintf(c.label, sizeof c.label, "%s", label);
    }
    if (match) {
        if (m != EEF_METHOD_RFT) {
            fprintf(stderr, "eef run: --match-rollouts is for --method rft\n");
            return 2;
        }
        if (eef_run_match_rollouts(&c, match)) return cli_error("run");
        eef_info("rft: K = %d rollouts per task start, to match %s's %ld", c.rft.k, match,
                 c.match_rollouts);
    }
    if (shards > 0 && shards % eef_dist_size() != 0) {
        fprintf(stderr, "eef run: --shards %ld cannot be shared by %d ranks (use a multiple of %d)\n",
                shards, eef_dist_size(), eef_dist_size());
        return 2;
    }
    if (shards >= 0) c.sft.shards = c.iter.shards = (int)shards;
#ifdef _OPENMP
    /* ranks on one host share its cores (those this process may run on) */
    int local = eef_dist_local_size();
    if (threads == 0 && local > 1) threads = omp_get_num_procs() / local > 0 ? omp_get_num_procs() / local : 1;
#endif
    cli_set_threads(threads);
    eef_progress_set_quiet(quiet || eef_dist_rank() != 0);
    int finished;
    if (eef_run(&c, out, from, &finished)) return cli_error("run");
    if (eef_dist_rank() != 0) return 0;
    if (eef_dist_size() > 1) {
        eef_dist_stats ds;
        eef_dist_get_stats(&ds);
        eef_info("dist: %s; rank 0 all-reduced %.1f MB in %ld calls, sent %.2f MB and received "
                 "%.2f MB of trajectories in %ld gathers (%ld dynamic units handed out), %.1f s "
                 "in collectives", eef_dist_backend(), ds.sum_bytes / 1e6, ds.sums,
                 ds.gather_bytes_out / 1e6, ds.gather_bytes_in / 1e6, ds.gathers, ds.chunks,
                 ds.seconds);
    }
    if (finished) printf("%s: run already finished (metrics in %s/metrics.jsonl)\n", out, out);
    else printf("%s: done (metrics in %s/metrics.jsonl)\n", out, out);
    return 0;
}

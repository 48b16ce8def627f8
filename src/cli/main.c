/* main.c: the `eef` command dispatcher. */
#include "cli.h"

#include "dist/dist.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const cli_command commands[] = {
    { "version", cmd_version, "print version, build flags, BLAS and threads" },
    { "tokenizer", cmd_tokenizer, "train a BPE tokenizer; encode or decode with any model's" },
    { "train", cmd_train, "train a model on trajectories (masked SFT)" },
    { "generate", cmd_generate, "sample text from a model" },
    { "play", cmd_play, "play an environment in the terminal" },
    { "tasks", cmd_tasks, "list an environment's tasks with their tiers" },
    { "expert", cmd_expert, "run the built-in expert on a split" },
    { "replay", cmd_replay, "re-execute trajectories and check them" },
    { "stats", cmd_stats, "statistics of a trajectory file" },
    { "run", cmd_run, "the SFT / RFT / EEF pipeline (resumable)" },
    { "compare", cmd_compare, "compare runs side by side; write a report" },
    { "demo", cmd_demo, "expert -> SFT -> RFT -> EEF on the shop, compared" },
    { "paper", cmd_paper, "every row of the paper's table, shop and house, N seeds, with intervals" },
    { "serve", cmd_serve, "serve a model on an OpenAI-compatible HTTP API" },
    { "env-serve", cmd_env_serve, "serve environments on AgentGym's HTTP API" },
    { "export", cmd_export, "export a model to GGUF or safetensors" },
};

static void usage(FILE *out)
{
    fprintf(out, "usage: eef <command> [options]   (eef <command> --help for its options)\n\n"
                 "commands:\n");
    for (size_t i = 0; i < EEF_ARRAY_LEN(commands); i++)
        if (commands[i].fn) fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
}

static int run_command(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) argv[1] = "version";
    for (size_t i = 0; i < EEF_ARRAY_LEN(commands); i++)
        if (commands[i].fn && strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "eef: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}

/* OpenBLAS (a DYNAMIC_ARCH build, as Debian's) picks its kernels by the
 * CPU model when the library loads, and different kernels round
 * differently: the same tiny SFT run gave different bytes under its
 * SkylakeX, Haswell and Sandybridge kernels (issue 21).  So eef chooses
 * the kernels by the CPU's instruction set, which is what they need, not
 * by its model name: AVX-512F -> SkylakeX, AVX2 + FMA -> Haswell, AVX ->
 * Sandybridge, else Nehalem; machines of one ISA family then run the same
 * kernels (docs/robustness.md says what can still differ).  The choice
 * must be in the environment before the library initialises, so it is
 * set and the program executed again; OPENBLAS_CORETYPE set by the user
 * is left alone.  EEF_OPENBLAS_PINNED tells `eef version` who chose. */
static int pin_openblas(void)
{
#ifdef EEF_HAVE_BLAS
    if (getenv("OPENBLAS_CORETYPE")) return 0;
    __builtin_cpu_init();
    const char *core = __builtin_cpu_supports("avx512f")                               ? "SkylakeX"
                       : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? "Haswell"
                       : __builtin_cpu_supports("avx")                                 ? "Sandybridge"
                                                                                      : "Nehalem";
    return setenv("OPENBLAS_CORETYPE", core, 1) == 0 && setenv("EEF_OPENBLAS_PINNED", core, 1) == 0;
#else
    return 0;
#endif
}

/* OpenMP threads wait for the next parallel region passively (asleep)
 * unless the user chose otherwise.  libgomp's default spins first, for
 * milliseconds; on a machine with more runnable threads than cores a
 * spinning thread uses up its share of the CPU and is then scheduled late
 * whenever a region needs it, so every region waits for it: measured on 2
 * busy cores, decoding with 2 threads 10-25x slower than with 1, training
 * 1.5-2x slower than with passive waiting.  A sleeping thread costs a
 * wake-up (microseconds) per region instead.  libgomp too reads its
 * setting once, when it loads. */
static int passive_wait(void)
{
    return !getenv("OMP_WAIT_POLICY") && setenv("OMP_WAIT_POLICY", "passive", 1) == 0;
}

/* Under mpirun every rank runs the command (eef run shares its work out);
 * rank 0 speaks for the job.  A rank that fails ends the whole job. */
int main(int argc, char **argv)
{
    /* settings the libraries read when they load: run again with them */
    int pinned = pin_openblas();
    if (passive_wait() + pinned) {
        execv("/proc/self/exe", argv);
        /* no re-exec (no /proc): run with the kernels OpenBLAS chose */
        if (pinned) unsetenv("OPENBLAS_CORETYPE"), unsetenv("EEF_OPENBLAS_PINNED");
    }
    if (eef_dist_init(&argc, &argv)) {
        fprintf(stderr, "eef: %s\n", eef_errmsg());
        return 1;
    }
    if (eef_dist_rank() != 0) eef_log_set_level(EEF_LOG_WARN);
    int rc = run_command(argc, argv);
    eef_dist_finish(rc);
    return rc;
}

/*
 * cli: the `eef` command.  One file per subcommand (cmd_*.c); this header
 * holds the option parser they share and their entry points.
 *
 * Exit codes: 0 success, 1 runtime error (message on stderr), 2 usage error.
 */
#ifndef EEF_CLI_H
#define EEF_CLI_H

#include <signal.h>

#include "core/core.h"
#include "traj/traj.h"

typedef enum { OPT_FLAG, OPT_INT, OPT_DOUBLE, OPT_STR } cli_opt_type;

typedef struct {
    const char *name;  /* "--steps" */
    cli_opt_type type;
    void *dst;         /* int* (FLAG), long* (INT), double* (DOUBLE), const char** (STR) */
    const char *meta;  /* "N", "FILE"; NULL for flags */
    const char *help;
    double lo, hi;     /* inclusive range for numbers (both 0: unbounded) */
} cli_opt;

typedef struct {
    const char *name;     /* "train" */
    const char *args;     /* "--data FILE [options]" */
    const char *summary;  /* one line */
    const cli_opt *opts;  /* terminated by {0} */
    int min_pos, max_pos; /* positional arguments allowed */
} cli_spec;

/* Parses argv[1..] (argv[0] is the subcommand name).  Returns 0 on success,
 * 2 on a usage error (usage printed to stderr), -1 when --help was given
 * (usage printed to stdout: the caller exits 0).  Positionals are returned
 * in pos[0..*npos). */
int cli_parse(const cli_spec *spec, int argc, char **argv, char ***pos, int *npos);
void cli_usage(const cli_spec *spec, FILE *out);
/* Prints "eef <cmd>: <message>" and returns 1. */
int cli_error(const char *cmd);
/* Applies --threads and --quiet style globals; call once per command. */
void cli_set_threads(long threads);
/* Blocks SIGINT and SIGTERM in the calling thread, before a server starts
 * its threads (they inherit the mask), so that sigwait(set) is the one
 * place a stop request arrives. */
void cli_block_stop_signals(sigset_t *set);

/* eef train --model M --lora R | --full (train_model.c). */
typedef struct {
    const char *model, *out, *lora_targets;
    long lora_rank, batch, seq, steps, seed, save_every;
    double lora_alpha, lr, weight_decay, warmup, epochs;
    int full, resume, bf16;
} train_model_args;
int cmd_train_model(const train_model_args *a, const eef_trajset *ts);

typedef int (*cli_fn)(int argc, char **argv);
typedef struct {
    const char *name;
    cli_fn fn;
    const char *summary;
} cli_command;

/* Subcommands.  Declared weak while the project grows, so a command whose
 * file is not yet written is simply absent from `eef help`. */
#define CLI_CMD(name) int name(int argc, char **argv) __attribute__((weak))
CLI_CMD(cmd_version);
CLI_CMD(cmd_tokenizer);
CLI_CMD(cmd_train);
CLI_CMD(cmd_generate);
CLI_CMD(cmd_play);
CLI_CMD(cmd_tasks);
CLI_CMD(cmd_expert);
CLI_CMD(cmd_replay);
CLI_CMD(cmd_stats);
CLI_CMD(cmd_run);
CLI_CMD(cmd_compare);
CLI_CMD(cmd_demo);
CLI_CMD(cmd_paper);
CLI_CMD(cmd_serve);
CLI_CMD(cmd_env_serve);
CLI_CMD(cmd_export);

#endif

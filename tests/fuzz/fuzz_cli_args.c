/* fuzz_cli_args: the option parser every subcommand uses (src/cli/args.c,
 * compiled into the harness: the CLI is not part of libeef).  Input: NUL-
 * separated arguments.  Properties: no crash; the result is 0, 2 (usage
 * error) or -1 (--help); on success every number is inside its range and
 * the positional count inside the spec's. */
#include "fuzz_util.h"

#include "cli/cli.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    if (size > 4096) return 0;
    char *buf = malloc(size + 1);
    FUZZ_CHECK(buf != NULL);
    memcpy(buf, data, size);
    buf[size] = 0;
    char *argv[80];
    int argc = 0;
    argv[argc++] = "cmd";
    for (size_t i = 0; i <= size && argc < 79;) {
        argv[argc++] = buf + i;
        i += strlen(buf + i) + 1;
    }
    argv[argc] = NULL;
    long n = 7, big = 1, any = 3;
    double x = 0.5, y = 2;
    const char *s = NULL;
    int flag = 0;
    const cli_opt opts[] = {
        { "--n", OPT_INT, &n, "N", "bounded", -5, 100 },
        { "--big", OPT_INT, &big, "N", "up to the largest long", 0, (double)__LONG_MAX__ },
        { "--any", OPT_INT, &any, "N", "unbounded", 0, 0 },
        { "--x", OPT_DOUBLE, &x, "X", "bounded", 1e-3, 1 },
        { "--y", OPT_DOUBLE, &y, "Y", "unbounded", 0, 0 },
        { "--s", OPT_STR, &s, "S", "text", 0, 0 },
        { "--flag", OPT_FLAG, &flag, NULL, "flag", 0, 0 },
        { 0 },
    };
    const cli_spec spec = { "fuzz", "[options] A [B]", "the option parser", opts, 1, 2 };
    char **pos = NULL;
    int npos = -1;
    int saved = fuzz_mute(), saved_out = fuzz_mute_fd(1); /* --help prints to stdout */
    int rc = cli_parse(&spec, argc, argv, &pos, &npos);
    fuzz_unmute_fd(1, saved_out);
    fuzz_unmute(saved);
    FUZZ_CHECK(rc == 0 || rc == 2 || rc == -1);
    if (rc == 0) {
        FUZZ_CHECK(npos >= 1 && npos <= 2 && pos != NULL);
        FUZZ_CHECK(n >= -5 && n <= 100 && big >= 0);
        FUZZ_CHECK(x >= 1e-3 && x <= 1 && isfinite(y));
        FUZZ_CHECK(flag == 0 || flag == 1);
    }
    free(buf);
    return 0;
}

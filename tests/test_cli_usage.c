/* The eef command's usage errors (src/cli/args.c), run as a user would:
 * a missing positional argument, one too many, an unknown option, an
 * option without its value and an integer out of its declared range are
 * each exit status 2 with a message saying so and the command's usage. */
#include "testutil.h"

#include <string.h>

static void expect_usage(const char *args, const char *says)
{
    char *dir = tu_tmpdir();
    int rc = tu_sh("%s %s > %s/out 2> %s/err", tu_eef(), args, dir, dir);
    char p[1024];
    snprintf(p, sizeof p, "%s/err", dir);
    if (rc != 2) fail_msg("eef %s: exit %d, want 2", args, rc);
    if (!tu_file_contains(p, says)) fail_msg("eef %s: stderr lacks '%s'", args, says);
    if (!tu_file_contains(p, "usage: eef ")) fail_msg("eef %s: no usage shown", args);
    tu_rmtree(dir);
}

static void test_usage_errors(void **state)
{
    (void)state;
    expect_usage("replay", "missing argument");
    expect_usage("stats", "missing argument");
    expect_usage("tasks", "missing argument");
    expect_usage("play", "missing argument");
    expect_usage("tasks shop extra", "unexpected argument 'extra'");
    expect_usage("tasks shop --bogus", "unknown option '--bogus'");
    expect_usage("tasks shop --split", "needs a value");
    expect_usage("tasks shop --json=1", "takes no value");
    expect_usage("demo --threads 1025", "out of range [0, 1024]");
    expect_usage("demo --threads -1", "out of range [0, 1024]");
    expect_usage("demo --threads 2x", "not an integer");
    expect_usage("env-serve shop --port 65536", "out of range [0, 65535]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

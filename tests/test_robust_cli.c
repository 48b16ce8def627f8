/* Usage errors of every subcommand: for each command `eef help` lists (and
 * each sub-command a usage names, as `eef tokenizer train`), read its
 * options from its --help and try an unknown option, every option
 * without its value, a value on a flag, a number that is not one, numbers
 * just outside each printed range, and too many arguments: each must
 * print a usage message and exit with code 2, before doing anything.
 * --help itself exits 0 with the usage on stdout. */
#include "testutil.h"

#include <ctype.h>
#include <limits.h>

static char *g_dir;

/* Runs eef with argv (NULL-terminated) in the scratch directory, stdin
 * empty, at most 60 s; output in g_dir/out and g_dir/err.  Returns the
 * exit code, or 128 + signal. */
static int eef(char *const argv[])
{
    char out[600], err[600];
    snprintf(out, sizeof out, "%s/out", g_dir);
    snprintf(err, sizeof err, "%s/err", g_dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (chdir(g_dir) != 0) _exit(126);
        if (!freopen("/dev/null", "r", stdin) || !freopen(out, "w", stdout) ||
            !freopen(err, "w", stderr))
            _exit(126);
        alarm(60); /* a usage error returns at once; a command that runs is a failure */
        execv(tu_eef(), argv);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static char *slurp(const char *name)
{
    char p[600], *t;
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    assert_ok(eef_read_file(p, &t, NULL));
    return t;
}

typedef struct {
    char name[40];
    int takes_value;
    int numeric;           /* printed with a numeric default */
    int has_range;
    char lo[40], hi[40];   /* as printed */
    int is_int;            /* the range prints as integers */
} option;

/* Options from a usage text: lines "  --name META  help (default D; LO to HI)". */
static int parse_options(const char *usage, option *opts, int cap)
{
    int n = 0;
    for (const char *l = usage; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, "  --", 4) != 0) continue;
        assert_true(n < cap);
        option *o = &opts[n++];
        memset(o, 0, sizeof *o);
        const char *p = l + 2;
        size_t k = 0;
        while (*p && !isspace((unsigned char)*p) && k + 1 < sizeof o->name) o->name[k++] = *p++;
        /* one space and an upper-case metavariable: a value follows */
        o->takes_value = p[0] == ' ' && p[1] != ' ' && p[1] != '\n' && p[1] != 0;
        const char *end = strchr(l, '\n');
        size_t len = end ? (size_t)(end - l) : strlen(l);
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)len, l);
        const char *d = strstr(line, "(default ");
        if (d && o->takes_value) {
            char *after;
            strtod(d + 9, &after);
            o->numeric = after != d + 9 && (*after == ')' || *after == ';');
            if (o->numeric && *after == ';') {
                o->has_range = sscanf(after, "; %39s to %39[^)]", o->lo, o->hi) == 2;
                o->is_int = !strpbrk(o->lo, ".e") && !strpbrk(o->hi, ".e");
            }
        }
    }
    return n;
}

/* Runs `eef <cmd...> <extra...>` and checks a usage error. */
static void expect_usage3(char **cmd, int ncmd, const char *a, const char *b, const char *c,
                          const char *why)
{
    char *argv[16];
    int n = 0;
    argv[n++] = "eef";
    for (int i = 0; i < ncmd; i++) argv[n++] = cmd[i];
    if (a) argv[n++] = (char *)a;
    if (b) argv[n++] = (char *)b;
    if (c) argv[n++] = (char *)c;
    argv[n] = NULL;
    int rc = eef(argv);
    char *err = slurp("err");
    if (rc != 2 || !strstr(err, "usage:") || (why && !strstr(err, why)))
        fail_msg("eef %s%s%s %s %s: exit code %d (want 2), stderr:\n%s", cmd[0], ncmd > 1 ? " " : "",
                 ncmd > 1 ? cmd[1] : "", a ? a : "", b ? b : "", rc, err);
    free(err);
}

static void expect_usage(char **cmd, int ncmd, const char *a, const char *b, const char *why)
{
    expect_usage3(cmd, ncmd, a, b, NULL, why);
}

static long checks;

static void check_command(char **cmd, int ncmd)
{
    char *argv[8];
    int n = 0;
    argv[n++] = "eef";
    for (int i = 0; i < ncmd; i++) argv[n++] = cmd[i];
    argv[n++] = "--help";
    argv[n] = NULL;
    assert_int_equal(eef(argv), 0);
    char *usage = slurp("out");
    assert_true(strncmp(usage, "usage: eef ", 11) == 0);
    option opts[64];
    int no = parse_options(usage, opts, 64);
    expect_usage(cmd, ncmd, "--no-such-option", NULL, "unknown option '--no-such-option'");
    expect_usage(cmd, ncmd, "--no-such-option=3", NULL, "unknown option");
    checks += 2;
    for (int i = 0; i < no; i++) {
        const option *o = &opts[i];
        char eq[96], v[64];
        if (!o->takes_value) {
            snprintf(eq, sizeof eq, "%.40s=1", o->name);
            expect_usage(cmd, ncmd, eq, NULL, "takes no value");
            checks++;
            continue;
        }
        expect_usage(cmd, ncmd, o->name, NULL, "needs a value");
        checks++;
        if (!o->numeric) continue;
        /* (integers and reals print alike: messages and values that fit both) */
        expect_usage(cmd, ncmd, o->name, "x1", "is not a");
        expect_usage(cmd, ncmd, o->name, "1e999", NULL);
        expect_usage(cmd, ncmd, o->name, "", NULL);
        checks += 3;
        if (!o->has_range) continue;
        /* both ends of the range are accepted: the parser reads on and
         * stops at an unknown option after them */
        expect_usage3(cmd, ncmd, o->name, o->lo, "--no-such-option", "unknown option");
        expect_usage3(cmd, ncmd, o->name, o->hi, "--no-such-option", "unknown option");
        checks += 2;
        /* just past each end of the printed range */
        if (o->is_int) {
            long lo = strtol(o->lo, NULL, 10), hi = strtol(o->hi, NULL, 10);
            if (hi < LONG_MAX) {
                snprintf(v, sizeof v, "%ld", hi + 1);
                expect_usage(cmd, ncmd, o->name, v, "out of range");
                checks++;
            }
            if (lo > LONG_MIN) {
                snprintf(v, sizeof v, "%ld", lo - 1);
                expect_usage(cmd, ncmd, o->name, v, "out of range");
                checks++;
            }
        } else {
            double lo = strtod(o->lo, NULL), hi = strtod(o->hi, NULL);
            snprintf(v, sizeof v, "%.17g", hi * 1.5 + 1);
            expect_usage(cmd, ncmd, o->name, v, "out of range");
            snprintf(v, sizeof v, "%.17g", lo - fabs(lo) * 0.5 - 1e-3);
            expect_usage(cmd, ncmd, o->name, v, "out of range");
            checks += 2;
        }
    }
    /* more arguments than any command takes */
    char *many[80];
    int k = 0;
    many[k++] = "eef";
    for (int i = 0; i < ncmd; i++) many[k++] = cmd[i];
    while (k < 79) many[k++] = "a";
    many[k] = NULL;
    assert_int_equal(eef(many), 2);
    checks++;
    free(usage);
}

static void test_every_command(void **state)
{
    (void)state;
    g_dir = tu_tmpdir();
    char *argv[] = { "eef", "help", NULL };
    assert_int_equal(eef(argv), 0);
    char *help = slurp("out");
    int ncommands = 0;
    const char *l = strstr(help, "commands:\n");
    assert_non_null(l);
    for (l = strchr(l, '\n') + 1; *l == ' '; l = strchr(l, '\n') + 1) {
        char name[40];
        assert_int_equal(sscanf(l, " %39s", name), 1);
        ncommands++;
        char *cmd[2] = { name, NULL };
        /* sub-commands: usage lines "eef <name> <sub> ..." */
        char *hargv[] = { "eef", name, "--help", NULL };
        assert_int_equal(eef(hargv), 0);
        char *usage = slurp("out");
        int subs = 0;
        char pat[64];
        snprintf(pat, sizeof pat, "eef %s ", name);
        for (const char *u = strstr(usage, pat); u; u = strstr(u + 1, pat)) {
            char sub[40];
            if (sscanf(u + strlen(pat), "%39[a-z]", sub) == 1 && !strstr(usage, "options:") &&
                strlen(sub) > 0) {
                cmd[1] = sub;
                check_command(cmd, 2);
                subs++;
            }
        }
        if (!subs) check_command(cmd, 1);
        else expect_usage(cmd, 1, "--no-such-option", NULL, NULL);
        free(usage);
        if (strchr(l, '\n') == NULL) break;
    }
    free(help);
    assert_true(ncommands >= 10);
    print_message("%d commands, %ld usage errors checked\n", ncommands, checks);
    /* no command, an unknown one */
    char *none[] = { "eef", NULL }, *unknown[] = { "eef", "no-such-command", NULL };
    assert_int_equal(eef(none), 2);
    assert_int_equal(eef(unknown), 2);
    tu_rmtree(g_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_command),
    };
    return cmocka_run_group_tests_name("robust_cli", tests, NULL, NULL);
}

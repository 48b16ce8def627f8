/* args.c: one small option parser for every subcommand, so that unknown
 * flags, missing values and out-of-range numbers are handled the same
 * way everywhere (usage message, exit code 2). */
#include "cli.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* A bound given as a double as a long.  (long)(double)LONG_MAX is
 * undefined: the double is 2^63, one past the largest long, and x86 turns
 * it into LONG_MIN, which made "0 to __LONG_MAX__" reject every value. */
static long bound_to_long(double d)
{
    if (d >= 9223372036854775807.0) return __LONG_MAX__;
    if (d <= -9223372036854775807.0) return -__LONG_MAX__ - 1;
    return (long)d;
}

void cli_usage(const cli_spec *spec, FILE *out)
{
    fprintf(out, "usage: eef %s %s\n  %s\n", spec->name, spec->args ? spec->args : "",
            spec->summary);
    if (!spec->opts || !spec->opts[0].name) return;
    fprintf(out, "options:\n");
    for (const cli_opt *o = spec->opts; o->name; o++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", o->name, o->meta ? " " : "", o->meta ? o->meta : "");
        fprintf(out, "  %-22s %s", left, o->help);
        /* the range is printed too: a usage error for a number out of it
         * then shows what is allowed */
        int bounded = !(o->lo == 0 && o->hi == 0);
        switch (o->type) {
        case OPT_INT:
            fprintf(out, " (default %ld", *(long *)o->dst);
            if (bounded) fprintf(out, "; %ld to %ld", bound_to_long(o->lo), bound_to_long(o->hi));
            fputc(')', out);
            break;
        case OPT_DOUBLE:
            fprintf(out, " (default %g", *(double *)o->dst);
            if (bounded) fprintf(out, "; %.15g to %.15g", o->lo, o->hi);
            fputc(')', out);
            break;
        case OPT_STR:
            if (*(const char **)o->dst) fprintf(out, " (default %s)", *(const char **)o->dst);
            break;
        case OPT_FLAG: break;
        }
        fputc('\n', out);
    }
}

static int usage_error(const cli_spec *spec, const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "eef %s: ", spec->name);
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    cli_usage(spec, stderr);
    return 2;
}

int cli_parse(const cli_spec *spec, int argc, char **argv, char ***pos, int *npos)
{
    static char *positional[64];
    int np = 0;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cli_usage(spec, stdout);
            return -1;
        }
        if (strcmp(a, "--") == 0) {
            for (i++; i < argc; i++) {
                if (np >= 64) return usage_error(spec, "too many arguments%s%s", "", "");
                positional[np++] = argv[i];
            }
            break;
        }
        if (a[0] != '-' || a[1] == 0) {
            if (np >= 64) return usage_error(spec, "too many arguments%s%s", "", "");
            positional[np++] = a;
            continue;
        }
        /* --name=value or --name value */
        char name[64];
        const char *val = NULL;
        const char *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        if (nlen >= sizeof name) return usage_error(spec, "unknown option '%s'%s", a, "");
        memcpy(name, a, nlen);
        name[nlen] = 0;
        if (eq) val = eq + 1;
        const cli_opt *o = NULL;
        for (const cli_opt *p = spec->opts; p && p->name; p++)
            if (strcmp(p->name, name) == 0) o = p;
        if (!o) return usage_error(spec, "unknown option '%s'%s", name, "");
        if (o->type == OPT_FLAG) {
            if (val) return usage_error(spec, "option '%s' takes no value%s", name, "");
            *(int *)o->dst = 1;
            continue;
        }
        if (!val) {
            if (i + 1 >= argc) return usage_error(spec, "option '%s' needs a value%s", name, "");
            val = argv[++i];
        }
        int bounded = !(o->lo == 0 && o->hi == 0);
        if (o->type == OPT_INT) {
            long v;
            if (eef_parse_long(val, bounded ? bound_to_long(o->lo) : -__LONG_MAX__ - 1,
                               bounded ? bound_to_long(o->hi) : __LONG_MAX__, name, &v) != EEF_OK)
                return usage_error(spec, "%s%s", eef_errmsg(), "");
            *(long *)o->dst = v;
        } else if (o->type == OPT_DOUBLE) {
            double v;
            if (eef_parse_double(val, bounded ? o->lo : -1e308, bounded ? o->hi : 1e308, name,
                                 &v) != EEF_OK)
                return usage_error(spec, "%s%s", eef_errmsg(), "");
            *(double *)o->dst = v;
        } else {
            *(const char **)o->dst = val;
        }
    }
    if (np < spec->min_pos || np > spec->max_pos) {
        if (np < spec->min_pos) return usage_error(spec, "missing argument%s%s", "", "");
        return usage_error(spec, "unexpected argument '%s'%s", positional[spec->max_pos], "");
    }
    if (pos) *pos = positional;
    if (npos) *npos = np;
    return 0;
}

int cli_error(const char *cmd)
{
    fprintf(stderr, "eef %s: %s\n", cmd, eef_errmsg());
    return 1;
}

void cli_set_threads(long threads)
{
#ifdef _OPENMP
    if (threads > 0) omp_set_num_threads((int)threads);
#else
    (void)threads;
#endif
}

void cli_block_stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, set, NULL);
}

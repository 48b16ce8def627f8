/* testutil.h: small helpers shared by the cmocka tests. */
#ifndef EEF_TESTUTIL_H
#define EEF_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

/* Fails the test with eef's error message when `expr` is not EEF_OK. */
#define assert_ok(expr)                                                        \
    do {                                                                       \
        eef_err e_ = (expr);                                                   \
        if (e_ != EEF_OK) fail_msg("%s -> %s: %s", #expr, eef_errname(e_), eef_errmsg()); \
    } while (0)

/* A fresh temporary directory for one test; removed by tu_rmtree. */
static inline char *tu_tmpdir(void)
{
    char tmpl[] = "/tmp/eef-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

static inline void tu_rmtree(char *dir)
{
    if (!dir) return;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
    free(dir);
}

/* Path of the eef binary under test ($EEF, set by `make test`). */
static inline const char *tu_eef(void)
{
    const char *p = getenv("EEF");
    return p ? p : "./eef";
}

/* Runs a shell command built like printf; its exit status (-1: killed). */
static inline int tu_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int tu_sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* 1 when two files hold the same bytes. */
static inline int tu_same_file(const char *a, const char *b)
{
    char *x, *y;
    size_t nx, ny;
    if (eef_read_file(a, &x, &nx)) return 0;
    if (eef_read_file(b, &y, &ny)) {
        free(x);
        return 0;
    }
    int same = nx == ny && memcmp(x, y, nx) == 0;
    free(x), free(y);
    return same;
}

/* 1 when the file can be read and holding `what` is `want`; otherwise
 * it prints the file, for the log. */
static inline int tu_file_check(const char *path, const char *what, int want)
{
    char *t;
    if (eef_read_file(path, &t, NULL)) return 0;
    int has = strstr(t, what) != NULL;
    if (has != want)
        fprintf(stderr, "%s %s '%s':\n%s\n", path, has ? "contains" : "does not contain", what, t);
    free(t);
    return has == want;
}

static inline int tu_file_contains(const char *path, const char *what)
{
    return tu_file_check(path, what, 1);
}

static inline int tu_file_lacks(const char *path, const char *what)
{
    return tu_file_check(path, what, 0);
}

#endif

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
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
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

/* Runs a shell command built like printf, in `dir` when not NULL; its
 * exit status (-1: killed). */
static inline int tu_vsh_in(const char *dir, const char *fmt, va_list ap)
{
    char cmd[8192];
    int n = dir ? snprintf(cmd, sizeof cmd, "cd '%s' && ", dir) : 0;
    vsnprintf(cmd + n, sizeof cmd - (size_t)n, fmt, ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static inline int tu_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int tu_sh(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = tu_vsh_in(NULL, fmt, ap);
    va_end(ap);
    return rc;
}

static inline int tu_sh_in(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline int tu_sh_in(const char *dir, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = tu_vsh_in(dir, fmt, ap);
    va_end(ap);
    return rc;
}

/* Starts a shell command built like printf (its output to /dev/null),
 * SIGKILLs it and everything it started after `seconds`, and reaps it:
 * a long run killed at an arbitrary moment. 1 when it was killed, 0 when
 * it had ended before (nothing was interrupted), -1 when it did not start. */
static inline int tu_kill_after(double seconds, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline int tu_kill_after(double seconds, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(cmd, sizeof cmd, "exec ");
    vsnprintf(cmd + n, sizeof cmd - (size_t)n, fmt, ap);
    va_end(ap);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        setpgid(0, 0); /* its own group: the kill reaches any child it starts */
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(126);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid); /* also here: the kill may come before the child ran */
    struct timespec ts = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };
    nanosleep(&ts, NULL);
    kill(-pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
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

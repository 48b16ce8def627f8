/* fuzz_util.h: what the libFuzzer harnesses (tests/fuzz/fuzz_*.c) share.
 *
 * Each harness defines LLVMFuzzerTestOneInput.  `make fuzz` builds them
 * with clang -fsanitize=fuzzer,address,undefined (scripts/fuzz runs each
 * for a bounded time); tests/test_robust_corpus.c includes them under
 * other names and replays their corpora in `make test`, so every input
 * that once found a bug stays a regression test. */
#ifndef EEF_FUZZ_UTIL_H
#define EEF_FUZZ_UTIL_H

#include "core/core.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A property that must hold for every input: a failure is a finding. */
#define FUZZ_CHECK(cond)                                                          \
    do {                                                                          \
        if (!(cond)) {                                                            \
            int fuzz_errno_ = errno;                                              \
            fprintf(stderr, "%s:%d: property failed: %s (last error: %s; errno: %s)\n", \
                    __FILE__, __LINE__, #cond, eef_errmsg(), strerror(fuzz_errno_)); \
            abort();                                                              \
        }                                                                         \
    } while (0)

/* A scratch file of this process for parsers that read paths: in
 * /dev/shm when there is one (no disk traffic at 10^4 inputs a second). */
static inline const char *fuzz_tmp_path(const char *suffix)
{
    static char path[4][256];
    static int k;
    char *p = path[k++ & 3];
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(p, 256, "%s/eef-fuzz-%ld%s", dir, (long)getpid(), suffix);
    return p;
}

/* Writes data to path directly (not atomically: the harness is the only
 * reader, and a temp + rename per input would dominate the run time). */
static inline void fuzz_write(const char *path, const uint8_t *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(n == 0 || fwrite(data, 1, n, f) == n);
    FUZZ_CHECK(fclose(f) == 0);
}

/* Keeps the library's logging and progress bars quiet. */
static inline void fuzz_quiet(void)
{
    eef_log_set_level(EEF_LOG_ERROR);
    eef_progress_set_quiet(1);
}

/* Parsers in skip-bad mode report each bad line on stderr: around those
 * calls stderr goes to /dev/null (a crash inside them shows up in the
 * same input's strict call, which runs with stderr open). */
static inline int fuzz_mute_fd(int fd)
{
    fflush(fd == 1 ? stdout : stderr);
    int saved = dup(fd);
    FILE *f = fopen("/dev/null", "w");
    if (f) {
        dup2(fileno(f), fd);
        fclose(f);
    }
    return saved;
}

static inline void fuzz_unmute_fd(int fd, int saved)
{
    fflush(fd == 1 ? stdout : stderr);
    if (saved >= 0) {
        dup2(saved, fd);
        close(saved);
    }
}

static inline int fuzz_mute(void) { return fuzz_mute_fd(2); }
static inline void fuzz_unmute(int saved) { fuzz_unmute_fd(2, saved); }

#endif

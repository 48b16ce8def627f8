/* fileio.c: atomic writes (temp + fsync + rename + dir fsync), whole-file
 * reads, line reading with line numbers, and a fault-injection hook. */
#include "core.h"
#include "core_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static atomic_long fault_countdown = -1;

void eef_fault_inject_write(long n) { atomic_store(&fault_countdown, n); }

/* Returns 1 when the injected fault fires for this write. */
static int fault_fires(void)
{
    long v = atomic_load(&fault_countdown);
    while (v >= 0) {
        if (atomic_compare_exchange_weak(&fault_countdown, &v, v - 1)) return v == 0;
    }
    return 0;
}

char *eef_path_join(char *out, size_t cap, const char *a, const char *b)
{
    size_t la = strlen(a);
    if (la && a[la - 1] == '/')
        snprintf(out, cap, "%s%s", a, b);
    else
        snprintf(out, cap, "%s/%s", a, b);
    return out;
}

static void dir_of(const char *path, char *dir, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, cap, ".");
    } else if (slash == path) {
        snprintf(dir, cap, "/");
    } else {
        snprintf(dir, cap, "%.*s", (int)(slash - path), path);
    }
}

static eef_err fsync_dir(const char *path)
{
    char dir[4096];
    dir_of(path, dir, sizeof dir);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return eef_fail(EEF_EIO, "%s: cannot open directory: %s", dir, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0 && e != EINVAL) return eef_fail(EEF_EIO, "%s: fsync: %s", dir, strerror(e));
    return EEF_OK;
}

eef_err eef_afile_open(eef_afile *af, const char *path)
{
    memset(af, 0, sizeof *af);
    size_t n = strlen(path) + 32;
    af->path = eef_strdup(path);
    af->tmp = eef_malloc(n);
    if (!af->path || !af->tmp) {
        free(af->path);
        free(af->tmp);
        return EEF_ENOMEM;
    }
    snprintf(af->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    af->f = fopen(af->tmp, "wb");
    if (!af->f) {
        eef_err e = eef_fail(EEF_EIO, "%s: cannot create: %s", af->tmp, strerror(errno));
        free(af->path);
        free(af->tmp);
        af->path = af->tmp = NULL;
        return e;
    }
    eef_crash_point_at("afile.open", af->path);
    return EEF_OK;
}

eef_err eef_afile_write(eef_afile *af, const void *p, size_t n)
{
    if (!af->f) return eef_fail(EEF_ESTATE, "write to a closed file");
    if (n == 0) return EEF_OK;
    eef_crash_point_at("afile.write", af->path);
    if (eef_crash_diskfull()) {
        errno = ENOSPC;
        return eef_fail(EEF_EIO, "%s: write: %s (injected)", af->path, strerror(ENOSPC));
    }
    if (fault_fires()) {
        errno = ENOSPC;
        return eef_fail(EEF_EIO, "%s: write: %s (injected)", af->path, strerror(ENOSPC));
    }
    if (fwrite(p, 1, n, af->f) != n)
        return eef_fail(EEF_EIO, "%s: write: %s", af->path, strerror(errno));
    return EEF_OK;
}

eef_err eef_afile_commit(eef_afile *af)
{
    eef_err err = EEF_OK;
    if (!af->f) return eef_fail(EEF_ESTATE, "commit of a closed file");
    if (fflush(af->f) != 0)
        err = eef_fail(EEF_EIO, "%s: write: %s", af->path, strerror(errno));
    else if (fsync(fileno(af->f)) != 0)
        err = eef_fail(EEF_EIO, "%s: fsync: %s", af->path, strerror(errno));
    if (fclose(af->f) != 0 && !err)
        err = eef_fail(EEF_EIO, "%s: close: %s", af->path, strerror(errno));
    af->f = NULL;
    if (!err) eef_crash_point_at("afile.synced", af->path);
    if (!err && rename(af->tmp, af->path) != 0)
        err = eef_fail(EEF_EIO, "%s: rename: %s", af->path, strerror(errno));
    if (!err) eef_crash_point_at("afile.renamed", af->path);
    if (!err) err = fsync_dir(af->path);
    if (err) unlink(af->tmp);
    free(af->path);
    free(af->tmp);
    af->path = af->tmp = NULL;
    return err;
}

void eef_afile_abort(eef_afile *af)
{
    if (af->f) fclose(af->f);
    if (af->tmp) unlink(af->tmp);
    free(af->path);
    free(af->tmp);
    memset(af, 0, sizeof *af);
}

eef_err eef_write_file_atomic(const char *path, const void *p, size_t n)
{
    eef_afile af;
    EEF_TRY(eef_afile_open(&af, path));
    eef_err e = eef_afile_write(&af, p, n);
    if (e) {
        eef_afile_abort(&af);
        return e;
    }
    return eef_afile_commit(&af);
}

eef_err eef_read_file(const char *path, char **out, size_t *len)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return eef_fail(errno == ENOENT ? EEF_ENOTFOUND : EEF_EIO, "%s: cannot open: %s",
                            path, strerror(errno));
    eef_buf b;
    eef_buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (eef_buf_append(&b, chunk, n)) {
            fclose(f);
            eef_buf_free(&b);
            return EEF_ENOMEM;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        eef_buf_free(&b);
        return eef_fail(EEF_EIO, "%s: read error", path);
    }
    if (!b.data && eef_buf_reserve(&b, 0)) return EEF_ENOMEM;
    b.data[b.len] = 0;
    *out = b.data;
    if (len) *len = b.len;
    return EEF_OK;
}

int eef_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

eef_err eef_mkdirs(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp) return eef_fail(EEF_EINVAL, "bad directory path '%s'", path);
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == 0) {
            char c = tmp[i];
            tmp[i] = 0;
            if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
                return eef_fail(EEF_EIO, "%s: mkdir: %s", tmp, strerror(errno));
            tmp[i] = c;
        }
    }
    return EEF_OK;
}

void eef_clean_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        const char *t = strstr(e->d_name, ".tmp.");
        if (!t) continue;
        const char *p = t + 5;
        if (!*p) continue;
        while (*p >= '0' && *p <= '9') p++;
        if (*p) continue; /* not ours: name must end in .tmp.<digits> */
        unlink(eef_path_join(path, sizeof path, dir, e->d_name));
    }
    closedir(d);
}

void eef_clean_tmp_of(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    size_t lb = strlen(base);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, base, lb) != 0 || strncmp(e->d_name + lb, ".tmp.", 5) != 0) continue;
        const char *q = e->d_name + lb + 5;
        char *end;
        long pid = strtol(q, &end, 10);
        if (!*q || *end || pid <= 0) continue;
        /* a live writer (another eef on the same file) keeps its temp */
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        unlink(eef_path_join(p, sizeof p, dir, e->d_name));
    }
    closedir(d);
}

/* ---------------------------------------------------------------- lines */
eef_err eef_lines_open(eef_lines *lr, const char *path)
{
    memset(lr, 0, sizeof *lr);
    lr->path = path;
    lr->f = fopen(path, "rb");
    if (!lr->f)
        return eef_fail(errno == ENOENT ? EEF_ENOTFOUND : EEF_EIO, "%s: cannot open: %s", path,
                        strerror(errno));
    eef_buf_init(&lr->buf);
    return EEF_OK;
}

eef_err eef_lines_next(eef_lines *lr, char **line, size_t *len)
{
    size_t max = lr->max_line ? lr->max_line : (size_t)64 << 20;
    eef_buf_clear(&lr->buf);
    *line = NULL;
    *len = 0;
    char chunk[EEF_LINES_CHUNK];
    int any = 0, ended = 0;
    /* whole chunks with fgets.  A line may hold NUL bytes, which hide the
     * length from strlen: the chunk is pre-filled with '\n', so the first
     * '\n' is either the line's own (followed by fgets' terminator) or the
     * fill (preceded by it). */
    while (!ended) {
        memset(chunk, '\n', sizeof chunk);
        if (!fgets(chunk, sizeof chunk, lr->f)) break;
        any = 1;
        char *p = memchr(chunk, '\n', sizeof chunk);
        size_t n;
        if (!p) {
            n = sizeof chunk - 1;
        } else if ((size_t)(p - chunk) + 1 < sizeof chunk && p[1] == '\0') {
            n = (size_t)(p - chunk);
            ended = 1;
        } else {
            n = (size_t)(p - chunk) - 1;
        }
        if (lr->buf.len + n > max) {
            if (!ended) { /* skip the rest of the over-long line so --skip-bad can go on */
                int c;
                while ((c = getc_unlocked(lr->f)) != EOF && c != '\n') {}
            }
            lr->line++;
            return eef_fail(EEF_EFORMAT, "%s:%ld: line longer than %zu bytes", lr->path,
                            lr->line, max);
        }
        if (eef_buf_append(&lr->buf, chunk, n)) return EEF_ENOMEM;
    }
    if (ferror(lr->f)) return eef_fail(EEF_EIO, "%s: read error", lr->path);
    if (!any) return EEF_OK;
    lr->line++;
    if (eef_buf_reserve(&lr->buf, 0)) return EEF_ENOMEM;
    lr->buf.data[lr->buf.len] = 0;
    *line = lr->buf.data;
    *len = lr->buf.len;
    return EEF_OK;
}

void eef_lines_close(eef_lines *lr)
{
    if (lr->f) fclose(lr->f);
    lr->f = NULL;
    eef_buf_free(&lr->buf);
}

/* crash.c: fault injection for the crash-resume and disk-full tests.
 *
 * A crash point is a named place in the code (eef_crash_point_at(point,
 * detail)); tests choose one with environment variables, read once:
 *
 *   EEF_CRASH_AT="<point>[@<detail>]:<n>"     SIGKILL at the n-th hit
 *   EEF_DISKFULL_AT="<point>[@<detail>]:<n>"  eef_crash_diskfull() is 1
 *                                              from the n-th hit on
 *   EEF_CRASH_LOG=FILE                         one line per hit:
 *                                              "<point>\t<detail>\n"
 *
 * A spec's detail matches a hit's detail when they are equal or the hit's
 * ends with "/<detail>" (so "iter_1/model.eefm" names that file in any run
 * directory).  Hits are counted per process from 1, over matching hits
 * only.  With none of the variables set a crash point costs one atomic
 * load. */
#include "core.h"
#include "core_internal.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    int on;
    char point[64];
    char detail[512]; /* "" matches any detail */
    long n;           /* the hit that fires, from 1 */
    atomic_long hits;
} spec;

static spec crash_at, full_at;
static atomic_int full_fired;
static int log_fd = -1;
static atomic_int any_on;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* "<point>[@<detail>]:<n>"; a malformed spec is reported once and ignored,
 * so a typo in a test shows up as "did not crash" with a reason. */
static void parse_spec(const char *var, spec *s)
{
    const char *v = getenv(var);
    if (!v || !*v) return;
    const char *colon = strrchr(v, ':');
    const char *at = strchr(v, '@');
    if (at && colon && at > colon) at = NULL;
    char *end = NULL;
    long n = colon ? strtol(colon + 1, &end, 10) : 0;
    size_t lp = (size_t)((at ? at : colon ? colon : v) - v);
    size_t ld = at && colon ? (size_t)(colon - at - 1) : 0;
    if (!colon || !end || *end || n < 1 || lp == 0 || lp >= sizeof s->point ||
        ld >= sizeof s->detail) {
        fprintf(stderr, "eef: ignoring %s='%s' (expected <point>[@<detail>]:<n>, n >= 1)\n", var, v);
        return;
    }
    memcpy(s->point, v, lp);
    s->point[lp] = 0;
    if (at) memcpy(s->detail, at + 1, ld);
    s->detail[ld] = 0;
    s->n = n;
    s->on = 1;
}

static void init(void)
{
    parse_spec("EEF_CRASH_AT", &crash_at);
    parse_spec("EEF_DISKFULL_AT", &full_at);
    const char *log = getenv("EEF_CRASH_LOG");
    if (log && *log) log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    atomic_store(&any_on, crash_at.on || full_at.on || log_fd >= 0);
}

static int detail_matches(const char *want, const char *got)
{
    if (!*want) return 1;
    size_t lw = strlen(want), lg = strlen(got);
    if (lg == lw) return strcmp(want, got) == 0;
    return lg > lw && got[lg - lw - 1] == '/' && strcmp(got + lg - lw, want) == 0;
}

/* 1 when this hit is the spec's n-th (or, with `sticky`, any later one). */
static int counts(spec *s, const char *point, const char *detail)
{
    if (!s->on || strcmp(s->point, point) != 0 || !detail_matches(s->detail, detail)) return 0;
    return atomic_fetch_add(&s->hits, 1) + 1 == s->n;
}

static void log_hit(const char *point, const char *detail)
{
    /* one write(2) per line on an O_APPEND file: lines of concurrent hits
     * do not interleave, and nothing is lost to buffering when we die */
    char line[1024];
    int n = snprintf(line, sizeof line, "%s\t%s\n", point, detail);
    if (n <= 0) return;
    if ((size_t)n >= sizeof line) n = (int)sizeof line - 1, line[n - 1] = '\n';
    ssize_t w = write(log_fd, line, (size_t)n);
    (void)w;
}

void eef_crash_point_at(const char *point, const char *detail)
{
    pthread_once(&once, init);
    if (!atomic_load_explicit(&any_on, memory_order_relaxed)) return;
    if (!detail) detail = "";
    if (log_fd >= 0) log_hit(point, detail);
    if (counts(&full_at, point, detail)) atomic_store(&full_fired, 1);
    if (counts(&crash_at, point, detail)) raise(SIGKILL);
}

void eef_crash_point(const char *point) { eef_crash_point_at(point, ""); }

int eef_crash_diskfull(void) { return atomic_load(&full_fired); }

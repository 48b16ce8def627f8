/* progress.c: a one-line progress bar with rate and ETA. */
#include "core.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int quiet;

void eef_progress_set_quiet(int q) { atomic_store(&quiet, q); }

double eef_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fmt_time(char *out, size_t cap, double s)
{
    if (s < 0 || s > 1e7) {
        snprintf(out, cap, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(out, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(out, cap, "%02ld:%02ld", t / 60, t % 60);
}

static void draw(eef_progress *p, int final)
{
    double el = eef_now() - p->t0;
    double rate = el > 0 ? p->done / el : 0;
    char eta[32], ela[32];
    fmt_time(ela, sizeof ela, el);
    fmt_time(eta, sizeof eta, rate > 0 ? (p->total - p->done) / rate : -1);
    double frac = p->total > 0 ? p->done / p->total : 0;
    if (frac > 1) frac = 1;
    char bar[32];
    int w = 24, fill = (int)(frac * w);
    for (int i = 0; i < w; i++) bar[i] = i < fill ? '#' : '.';
    bar[w] = 0;
    if (final)
        fprintf(stderr, "%s%s: %.0f %s in %s (%.1f %s/s)%s%s\n", p->tty ? "\r\033[K" : "",
                p->label, p->done, p->unit, ela, rate, p->unit, p->extra[0] ? "  " : "", p->extra);
    else
        fprintf(stderr, "\r\033[K%s [%s] %3.0f%% %.0f/%.0f %.1f %s/s eta %s  %s", p->label, bar,
                100 * frac, p->done, p->total, rate, p->unit, eta, p->extra);
    fflush(stderr);
}

void eef_progress_begin(eef_progress *p, const char *label, double total, const char *unit)
{
    memset(p, 0, sizeof *p);
    p->label = label;
    p->unit = unit ? unit : "it";
    p->total = total;
    p->t0 = eef_now();
    p->enabled = !atomic_load(&quiet);
    p->tty = p->enabled && isatty(STDERR_FILENO);
}

void eef_progress_add(eef_progress *p, double n)
{
    eef_crash_point_at("progress", p->label);
#pragma omp critical(eef_progress)
    {
        p->done += n;
        if (p->tty) {
            double t = eef_now();
            if (t - p->last_draw > 0.1) {
                p->last_draw = t;
                draw(p, 0);
            }
        }
    }
}

void eef_progress_note(eef_progress *p, const char *fmt, ...)
{
#pragma omp critical(eef_progress)
    {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->extra, sizeof p->extra, fmt, ap);
        va_end(ap);
    }
}

void eef_progress_end(eef_progress *p)
{
    if (p->enabled) draw(p, 1);
}

/* log.c: leveled messages on stderr. */
#include "core.h"

#include <stdatomic.h>

static atomic_int level = EEF_LOG_INFO;

void eef_log_set_level(eef_log_level lvl) { atomic_store(&level, (int)lvl); }
eef_log_level eef_log_get_level(void) { return (eef_log_level)atomic_load(&level); }

void eef_log(eef_log_level lvl, const char *fmt, ...)
{
    if ((int)lvl > atomic_load(&level)) return;
    static const char *names[] = { "error", "warning", "", "debug" };
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (names[lvl][0])
        fprintf(stderr, "eef: %s: %s\n", names[lvl], line);
    else
        fprintf(stderr, "%s\n", line);
}

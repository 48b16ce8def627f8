/* dist.c: what both builds share: the schedule setting and the counters. */
#include "dist_internal.h"

#include <string.h>

eef_dist_stats dist_stats;
static eef_dist_schedule schedule = EEF_DIST_STATIC;

void eef_dist_set_schedule(eef_dist_schedule s) { schedule = s; }
eef_dist_schedule eef_dist_get_schedule(void) { return schedule; }

eef_err eef_dist_schedule_parse(const char *s, eef_dist_schedule *out)
{
    if (strcmp(s, "static") == 0) *out = EEF_DIST_STATIC;
    else if (strcmp(s, "dynamic") == 0) *out = EEF_DIST_DYNAMIC;
    else return eef_fail(EEF_EINVAL, "rollout schedule '%s': static or dynamic", s);
    return EEF_OK;
}

void eef_dist_get_stats(eef_dist_stats *out) { *out = dist_stats; }

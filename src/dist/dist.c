/* dist.c: what both builds share: the traffic counters. */
#include "dist_internal.h"

#include <string.h>

eef_dist_stats dist_stats;

void eef_dist_get_stats(eef_dist_stats *out) { *out = dist_stats; }

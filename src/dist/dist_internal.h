/* dist_internal.h: shared inside src/dist only. */
#ifndef EEF_DIST_INTERNAL_H
#define EEF_DIST_INTERNAL_H

#include "dist.h"

#include <pthread.h>
#include <stdatomic.h>

/* Traffic counters (dist.c); updated by the main thread or under a lock. */
extern eef_dist_stats dist_stats;

struct eef_dist_work {
    size_t n;               /* items in the batch */
    int rank, size;
    atomic_size_t next;     /* count of own items taken */
    unsigned char *mine;    /* [n] 1 for the items this rank took */
};

#endif

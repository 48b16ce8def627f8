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
    eef_dist_schedule sched;
    atomic_size_t next;     /* static: count of own items taken; one rank: the next item */
    unsigned char *mine;    /* [n] 1 for the items this rank took */
    /* dynamic schedule (mpi_work.c) */
    pthread_mutex_t lock;
    size_t chunk;           /* items per work unit */
    size_t g;               /* rank 0: the first item not yet handed out */
    size_t lo, hi;          /* other ranks: the unit being worked on */
    int finished;           /* no more items for this rank */
    int replies_done;       /* rank 0: ranks told "no more" */
    uint64_t grant[2];      /* other ranks: the reply being received */
    _Alignas(16) unsigned char pending[64]; /* other ranks: its MPI_Request */
    int mpi_rc;             /* the first MPI error, 0 if none */
};

#ifdef EEF_HAVE_MPI
/* The dynamic schedule: set up (collective), next item, tear down. */
eef_err dist_dynamic_start(eef_dist_work *w);
int dist_dynamic_next(eef_dist_work *w, size_t *item);
eef_err dist_dynamic_stop(eef_dist_work *w);
#endif

#endif

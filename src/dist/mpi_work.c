/* mpi_work.c: the dynamic rollout schedule (built only with make MPI=1).
 *
 * Rank 0 hands out units of `chunk` consecutive items.  Each other rank
 * starts with a unit known in advance (rank r: items [r c, (r+1) c)) and
 * always keeps one request for the next unit outstanding, so the answer
 * travels while it works.  Rank 0 has no thread to spare for answering:
 * its threads answer the requests waiting whenever they come for their
 * own next item, and the thread that finds no item left answers the rest
 * ("no more") until every rank has been told.  All MPI calls are made
 * under the batch's lock (MPI_THREAD_SERIALIZED).
 */
#include "dist_internal.h"

#include <mpi.h>
#include <stdlib.h>

extern MPI_Comm dist_comm;

_Static_assert(sizeof(MPI_Request) <= sizeof(((eef_dist_work *)0)->pending),
               "eef_dist_work.pending holds an MPI_Request");

enum { TAG_REQUEST = 801, TAG_GRANT = 802 };

/* Rank 0: answers one request from `src` with the next unit (or the
 * empty unit [n, n): no more). */
static int grant(eef_dist_work *w, int src)
{
    uint64_t u[2];
    u[0] = w->g;
    u[1] = w->g + w->chunk < w->n ? w->g + w->chunk : w->n;
    w->g = (size_t)u[1];
    if (u[0] == u[1]) w->replies_done++;
    else dist_stats.chunks++;
    return MPI_Send(u, 2, MPI_UINT64_T, src, TAG_GRANT, dist_comm);
}

/* Rank 0: answers every request already here (block: wait for one). */
static int serve(eef_dist_work *w, int block)
{
    for (;;) {
        MPI_Status st;
        int here = 1;
        if (!block) {
            int rc = MPI_Iprobe(MPI_ANY_SOURCE, TAG_REQUEST, dist_comm, &here, &st);
            if (rc != MPI_SUCCESS) return rc;
        }
        if (!here) return MPI_SUCCESS;
        char dummy;
        int rc = MPI_Recv(&dummy, 1, MPI_CHAR, MPI_ANY_SOURCE, TAG_REQUEST, dist_comm, &st);
        if (rc == MPI_SUCCESS) rc = grant(w, st.MPI_SOURCE);
        if (rc != MPI_SUCCESS || block) return rc;
    }
}

/* Other ranks: asks rank 0 for the next unit, without waiting. */
static int request(eef_dist_work *w)
{
    char dummy = 0;
    int rc = MPI_Send(&dummy, 1, MPI_CHAR, 0, TAG_REQUEST, dist_comm);
    if (rc == MPI_SUCCESS)
        rc = MPI_Irecv(w->grant, 2, MPI_UINT64_T, 0, TAG_GRANT, dist_comm, (MPI_Request *)w->pending);
    return rc;
}

static eef_err fail(int rc, const eef_dist_work *w)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return eef_fail(EEF_ENET, "dynamic rollout schedule (rank %d of %d): MPI: %s", w->rank,
                    w->size, msg);
}

eef_err dist_dynamic_start(eef_dist_work *w)
{
    /* units small enough that the last ones even out the ranks' ends,
     * large enough that a message buys several rollouts */
    size_t c = w->n / ((size_t)w->size * 8);
    w->chunk = c < 1 ? 1 : c > 32 ? 32 : c;
    size_t first = (size_t)w->rank * w->chunk;
    w->lo = first < w->n ? first : w->n;
    w->hi = first + w->chunk < w->n ? first + w->chunk : w->n;
    size_t handed = (size_t)w->size * w->chunk;
    w->g = handed < w->n ? handed : w->n;
    if (w->rank == 0) return EEF_OK;
    int rc = request(w);
    if (rc != MPI_SUCCESS) w->mpi_rc = rc, w->finished = 1;
    return rc == MPI_SUCCESS ? EEF_OK : fail(rc, w);
}

int dist_dynamic_next(eef_dist_work *w, size_t *item)
{
    int got = 0, rc = MPI_SUCCESS;
    pthread_mutex_lock(&w->lock);
    if (w->rank == 0) {
        rc = serve(w, 0);
        if (rc == MPI_SUCCESS) {
            if (w->lo < w->hi) *item = w->lo++, got = 1;
            else if (w->g < w->n) *item = w->g++, got = 1;
        }
        /* nothing left here: tell every rank still asking */
        while (rc == MPI_SUCCESS && !got && w->replies_done < w->size - 1) rc = serve(w, 1);
    } else {
        while (rc == MPI_SUCCESS && !got && !w->finished) {
            if (w->lo < w->hi) {
                *item = w->lo++, got = 1;
                break;
            }
            rc = MPI_Wait((MPI_Request *)w->pending, MPI_STATUS_IGNORE);
            if (rc != MPI_SUCCESS) break;
            if (w->grant[0] >= w->grant[1]) {
                w->finished = 1;
            } else {
                w->lo = (size_t)w->grant[0], w->hi = (size_t)w->grant[1];
                rc = request(w); /* the next one travels while this one runs */
            }
        }
    }
    if (rc != MPI_SUCCESS) {
        /* a broken peer: stop taking work; dist_dynamic_stop reports it */
        w->mpi_rc = rc;
        w->finished = 1;
        w->replies_done = w->size; /* rank 0: no one to wait for any more */
        w->g = w->n;
        got = 0;
    }
    pthread_mutex_unlock(&w->lock);
    return got;
}

eef_err dist_dynamic_stop(eef_dist_work *w)
{
    /* every thread has seen "none left", so nothing is in flight */
    if (w->mpi_rc) return fail(w->mpi_rc, w);
    if (w->rank != 0 && !w->finished)
        return eef_fail(EEF_ESTATE, "dynamic rollout schedule: rank %d stopped before the end",
                        w->rank);
    return EEF_OK;
}

/*
 * dist: eef over several processes (Open MPI), or over one.
 *
 * Every rank runs the same program on the same inputs (SPMD).  Two kinds
 * of work are split between them:
 *
 *  - rollouts: eef_rollout_batch hands its rollouts out to the ranks
 *    (eef_dist_work_*), then every rank receives every trajectory, so the
 *    ranks stay in the same state and take the same decisions afterwards;
 *  - training: each batch is cut into `shards` groups of rows; a rank
 *    computes the gradient of its shards and the sum over ranks is one
 *    all-reduce of the contiguous gradient buffer (eef_dist_grad).
 *
 * Results do not depend on the number of ranks: a rollout's randomness is
 * keyed by what it is, never by who runs it, and a gradient is the sum of
 * its shards' gradients in a fixed tree order whoever computes them (exact
 * for 1 and 2 ranks; see eef_dist_grad).  Only rank 0 writes files.
 *
 * Without MPI (the default build) the same functions exist for one
 * process: rank 0 of 1, collectives are no-ops, so callers need no #ifdef.
 * `make MPI=1` builds src/dist/mpi*.c with -DEEF_HAVE_MPI instead.
 */
#ifndef EEF_DIST_H
#define EEF_DIST_H

#include "core/core.h"
#include "nn/nn.h"
#include "traj/traj.h"

/* ------------------------------------------------------------ processes */
/* Starts MPI (when built with it and not yet started); safe to call more
 * than once.  A program started without mpirun is rank 0 of 1. */
eef_err eef_dist_init(int *argc, char ***argv);
/* Ends MPI after a successful run.  With exit code rc != 0 and more than
 * one rank it ends the whole job instead (MPI_Abort), so that the other
 * ranks do not wait forever in a collective the failed one never joins. */
void eef_dist_finish(int rc);
int eef_dist_rank(void);
int eef_dist_size(void);
/* Ranks on this host (they share its cores). */
int eef_dist_local_size(void);
/* "mpi (Open MPI v4.1.4, 2 ranks)" or "none". */
const char *eef_dist_backend(void);
/* The MPI library this binary runs on and the headers it was built with,
 * e.g. "Open MPI v4.1.4 (built with Open MPI 4.1.4 headers, MPI 3.1)", or
 * "none (built without MPI=1)"; callable before eef_dist_init. */
const char *eef_dist_library(void);

/* ------------------------------------------------------------ collectives
 * Every rank must call them, in the same order.  Errors (a broken peer)
 * come back as EEF_ENET with MPI's message. */
eef_err eef_dist_barrier(void);
/* buf[0..n) = the sum over ranks of buf[0..n) (all ranks get the same). */
eef_err eef_dist_sum_f32(float *buf, size_t n);
eef_err eef_dist_sum_f64(double *buf, size_t n);
/* Every rank contributes `len` bytes; *all receives the concatenation in
 * rank order (malloc'd, NUL-terminated), and len_of[r] (if not NULL, size
 * eef_dist_size()) the length of rank r's part. */
eef_err eef_dist_allgather(const void *mine, size_t len, char **all, size_t *all_len,
                           size_t *len_of);

/* ------------------------------------------------------------ rollouts
 * A batch of n work items (rollouts) shared out between the ranks: rank r
 * takes items r, r + P, r + 2P, ... (P ranks), with no message while
 * working; the K rollouts of a task interleave over the ranks, so their
 * shares are alike.  (A dynamic schedule, rank 0 handing out chunks on
 * request, was measured slower on 2 ranks, 124.8 vs 148.1 rollouts/s, and
 * removed: docs/scaling.md.)  eef_dist_work_next is thread-safe: the
 * OpenMP threads of a rank call it to take their next item (an atomic
 * counter). */

typedef struct eef_dist_work eef_dist_work;
eef_err eef_dist_work_begin(size_t n, eef_dist_work **out);
/* The next item for this rank: 1 and *item, or 0 when none is left. */
int eef_dist_work_next(eef_dist_work *w, size_t *item);
/* Ends the batch (collective).  Each rank passes the trajectories it made
 * (out[i] for the items it took; the others are eef_traj_init'ed) and its
 * first error (err, at item err_at, with its message; EEF_OK if none).
 * Afterwards every rank holds every out[i], or, when any rank failed,
 * every rank returns the error of the lowest failing item (as one process
 * would) with every out[i] freed.  Frees w. */
eef_err eef_dist_work_end(eef_dist_work *w, eef_traj *out, eef_err err, size_t err_at,
                          const char *msg);

/* ------------------------------------------------------------ training
 * The gradient of the batch's masked mean loss, into m->grads (replaced,
 * not added to), and the loss in *loss.
 *
 * shards <= 1 on one rank: one forward and backward over the batch (what
 * eef_model_forward/backward do).  Else the rows are cut into `shards`
 * contiguous groups (0: as many as ranks; must be a multiple of the
 * number of ranks and at most the rows of the batch); the gradient is the
 * sum of the groups' gradients (each scaled by its share of the batch's
 * mask), added pairwise in a fixed binary tree; rank r computes the
 * subtree of groups [r S/P, (r+1) S/P) and the ranks' sums are added by
 * one all-reduce.  So one process with shards = 2 and two ranks give the
 * same bits; with more than 2 ranks the all-reduce's own order decides
 * the last bits (float tolerance). */
eef_err eef_dist_grad(eef_model *m, const eef_batch *b, int shards, double *loss);

/* ------------------------------------------------------------ trajectories on the wire
 * A compact binary record: magic "EEFT", version 1, the item number, then
 * every field of the trajectory (strings as length + bytes, the reward as
 * its 8 IEEE bytes), so unpack(pack(t)) == t exactly. */
eef_err eef_dist_traj_pack(eef_buf *out, uint64_t item, const eef_traj *t);
/* Reads the record at data[*pos..len), advancing *pos; rejects truncated
 * or malformed records with a message naming the offset. */
eef_err eef_dist_traj_unpack(const char *data, size_t len, size_t *pos, uint64_t *item,
                             eef_traj *t);

/* ------------------------------------------------------------ statistics
 * Traffic of this rank since the start (bytes it sent and received in
 * collectives, as the algorithm-independent payload: an all-reduce of n
 * floats counts 4n each way) and seconds spent waiting in them. */
typedef struct {
    double sum_bytes, gather_bytes_out, gather_bytes_in;
    double seconds;
    long sums, gathers, chunks;
} eef_dist_stats;
void eef_dist_get_stats(eef_dist_stats *out);

#endif

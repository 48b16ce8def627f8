/* mpi_comm.c: the process group on Open MPI (built only with make MPI=1).
 *
 * MPI is started with MPI_THREAD_SERIALIZED (FUNNELED would do: the
 * collectives are called by the main thread outside OpenMP regions).
 * Errors are returned (MPI_ERRORS_RETURN on our
 * communicator) so that they reach the user as eef messages; a rank that
 * fails ends the job in eef_dist_finish. */
#include "dist_internal.h"

#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

/* Our own communicator: its traffic never mixes with anyone else's. */
MPI_Comm dist_comm = MPI_COMM_NULL;
static int rank_, size_ = 1, started_by_us;
static char backend[160] = "none";

static eef_err mpi_fail(int rc, const char *what)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "error %d", rc);
    return eef_fail(EEF_ENET, "%s (rank %d of %d): MPI: %s", what, rank_, size_, msg);
}

eef_err eef_dist_init(int *argc, char ***argv)
{
    if (dist_comm != MPI_COMM_NULL) return EEF_OK;
    int inited = 0, provided = MPI_THREAD_SINGLE;
    MPI_Initialized(&inited);
    if (!inited) {
        if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
            return eef_fail(EEF_ENET, "MPI_Init_thread failed");
        started_by_us = 1;
    } else {
        MPI_Query_thread(&provided);
    }
    int rc = MPI_Comm_dup(MPI_COMM_WORLD, &dist_comm);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Comm_dup");
    MPI_Comm_set_errhandler(dist_comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(dist_comm, &rank_);
    MPI_Comm_size(dist_comm, &size_);
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(lib, &len);
    /* "Open MPI v4.1.4, package: ..." -> "Open MPI v4.1.4" */
    lib[strcspn(lib, ",\n")] = 0;
    snprintf(backend, sizeof backend, "mpi (%.100s, %d rank%s)", lib, size_, size_ == 1 ? "" : "s");
    return EEF_OK;
}

void eef_dist_finish(int rc)
{
    if (dist_comm == MPI_COMM_NULL) return;
    if (rc != 0 && size_ > 1) {
        /* the others may be waiting in a collective this rank will never
         * join: end them all, with a word on who and why */
        fprintf(stderr, "eef: rank %d of %d failed (exit code %d); ending all %d ranks\n", rank_,
                size_, rc, size_);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, rc);
        return;
    }
    MPI_Comm_free(&dist_comm);
    dist_comm = MPI_COMM_NULL;
    if (started_by_us) MPI_Finalize();
}

int eef_dist_rank(void) { return rank_; }
int eef_dist_size(void) { return size_; }
const char *eef_dist_backend(void) { return backend; }

const char *eef_dist_library(void)
{
    static char lib[320];
    /* one of the few MPI calls allowed before MPI_Init */
    char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    if (MPI_Get_library_version(v, &len) != MPI_SUCCESS) snprintf(v, sizeof v, "an unknown MPI");
    v[strcspn(v, ",\n")] = 0; /* "Open MPI v4.1.4, package: ..." -> "Open MPI v4.1.4" */
#ifdef OMPI_MAJOR_VERSION
    snprintf(lib, sizeof lib, "%.120s (built with Open MPI %d.%d.%d headers, MPI %d.%d)", v,
             OMPI_MAJOR_VERSION, OMPI_MINOR_VERSION, OMPI_RELEASE_VERSION, MPI_VERSION, MPI_SUBVERSION);
#else
    snprintf(lib, sizeof lib, "%.120s (built with MPI %d.%d headers)", v, MPI_VERSION, MPI_SUBVERSION);
#endif
    return lib;
}

int eef_dist_local_size(void)
{
    if (dist_comm == MPI_COMM_NULL) return 1;
    MPI_Comm node;
    int n = 1;
    if (MPI_Comm_split_type(dist_comm, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node) ==
        MPI_SUCCESS) {
        MPI_Comm_size(node, &n);
        MPI_Comm_free(&node);
    }
    return n;
}

eef_err eef_dist_barrier(void)
{
    if (size_ == 1) return EEF_OK;
    int rc = MPI_Barrier(dist_comm);
    return rc == MPI_SUCCESS ? EEF_OK : mpi_fail(rc, "barrier");
}

/* In-place sums in pieces of at most 2^30 elements (MPI counts are int). */
static eef_err sum(void *buf, size_t n, size_t elem, MPI_Datatype t, const char *what)
{
    if (size_ == 1) return EEF_OK;
    double t0 = eef_now();
    for (size_t off = 0; off < n;) {
        size_t k = n - off < ((size_t)1 << 30) ? n - off : (size_t)1 << 30;
        int rc = MPI_Allreduce(MPI_IN_PLACE, (char *)buf + off * elem, (int)k, t, MPI_SUM,
                               dist_comm);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, what);
        off += k;
    }
    dist_stats.sum_bytes += (double)(n * elem);
    dist_stats.sums++;
    dist_stats.seconds += eef_now() - t0;
    return EEF_OK;
}

eef_err eef_dist_sum_f32(float *buf, size_t n)
{
    return sum(buf, n, sizeof *buf, MPI_FLOAT, "all-reduce of gradients");
}

eef_err eef_dist_sum_f64(double *buf, size_t n)
{
    return sum(buf, n, sizeof *buf, MPI_DOUBLE, "all-reduce");
}

eef_err eef_dist_allgather(const void *mine, size_t len, char **all, size_t *all_len,
                           size_t *len_of)
{
    *all = NULL;
    *all_len = 0;
    double t0 = eef_now();
    unsigned long long my = len;
    unsigned long long *lens = eef_malloc((size_t)size_ * sizeof *lens);
    int *counts = eef_malloc((size_t)size_ * sizeof *counts);
    int *displs = eef_malloc((size_t)size_ * sizeof *displs);
    eef_err e = (!lens || !counts || !displs) ? EEF_ENOMEM : EEF_OK;
    int rc = e ? MPI_SUCCESS : MPI_Allgather(&my, 1, MPI_UNSIGNED_LONG_LONG, lens, 1,
                                             MPI_UNSIGNED_LONG_LONG, dist_comm);
    if (!e && rc != MPI_SUCCESS) e = mpi_fail(rc, "all-gather of sizes");
    size_t total = 0;
    for (int r = 0; !e && r < size_; r++) {
        if (lens[r] > (unsigned long long)INT_MAX || total + lens[r] > (size_t)INT_MAX)
            e = eef_fail(EEF_EINVAL, "all-gather: %llu bytes from rank %d (2 GiB in all at most)",
                         lens[r], r);
        counts[r] = (int)lens[r];
        displs[r] = (int)total;
        total += lens[r];
    }
    /* every rank has the same sizes, so every rank takes the same branch */
    if (!e) {
        *all = eef_malloc(total + 1);
        if (!*all) e = EEF_ENOMEM;
    }
    if (!e) {
        rc = MPI_Allgatherv(mine, (int)len, MPI_BYTE, *all, counts, displs, MPI_BYTE, dist_comm);
        if (rc != MPI_SUCCESS) e = mpi_fail(rc, "all-gather of trajectories");
    }
    if (!e) {
        (*all)[total] = 0;
        *all_len = total;
        for (int r = 0; len_of && r < size_; r++) len_of[r] = (size_t)lens[r];
        dist_stats.gather_bytes_out += (double)len;
        dist_stats.gather_bytes_in += (double)(total - len);
        dist_stats.gathers++;
        dist_stats.seconds += eef_now() - t0;
    } else {
        free(*all);
        *all = NULL;
    }
    free(lens);
    free(counts);
    free(displs);
    return e;
}

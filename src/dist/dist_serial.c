/* dist_serial.c: the process group of a build without MPI: one process,
 * rank 0 of 1.  Collectives over one rank leave their data as it is. */
#ifndef EEF_HAVE_MPI
#include "dist_internal.h"

#include <stdlib.h>
#include <string.h>

eef_err eef_dist_init(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    return EEF_OK;
}

void eef_dist_finish(int rc) { (void)rc; }
int eef_dist_rank(void) { return 0; }
int eef_dist_size(void) { return 1; }
int eef_dist_local_size(void) { return 1; }
const char *eef_dist_library(void) { return "none (built without MPI=1)"; }
const char *eef_dist_backend(void) { return "none"; }
eef_err eef_dist_barrier(void) { return EEF_OK; }

eef_err eef_dist_sum_f32(float *buf, size_t n)
{
    (void)buf, (void)n;
    return EEF_OK;
}

eef_err eef_dist_sum_f64(double *buf, size_t n)
{
    (void)buf, (void)n;
    return EEF_OK;
}

eef_err eef_dist_allgather(const void *mine, size_t len, char **all, size_t *all_len,
                           size_t *len_of)
{
    *all = eef_malloc(len + 1);
    if (!*all) return EEF_ENOMEM;
    if (len) memcpy(*all, mine, len);
    (*all)[len] = 0;
    *all_len = len;
    if (len_of) len_of[0] = len;
    return EEF_OK;
}
#endif

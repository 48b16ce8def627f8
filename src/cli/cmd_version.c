/* eef version: what this binary is and what it runs on. */
#include "cli.h"

#include "dist/dist.h"

#include <stdlib.h>
#include <string.h>

#ifdef EEF_HAVE_BLAS
#include <cblas.h>
#endif

int cmd_version(int argc, char **argv)
{
    static const cli_opt opts[] = { { 0 } };
    static const cli_spec spec = { "version", "", "print version, build flags, BLAS, threads and MPI",
                                   opts, 0, 0 };
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    printf("eef %s\n", EEF_VERSION);
    printf("build: %s, %s %s\n", EEF_BUILD_FLAGS, __DATE__, __TIME__);
    printf("compiler: gcc %d.%d.%d\n", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#ifdef EEF_HAVE_BLAS
    printf("blas: %s (%d threads)\n", openblas_get_config(), openblas_get_num_threads());
    /* who chose the kernels (src/cli/main.c pins them by the CPU's ISA) */
    const char *pinned = getenv("EEF_OPENBLAS_PINNED"), *user = getenv("OPENBLAS_CORETYPE");
    if (pinned && user && strcmp(pinned, user) == 0)
        printf("blas core: %s (OPENBLAS_CORETYPE pinned by eef to the CPU's instruction set)\n",
               openblas_get_corename());
    else if (user)
        printf("blas core: %s (OPENBLAS_CORETYPE=%s set by the user)\n", openblas_get_corename(), user);
    else
        printf("blas core: %s (chosen by OpenBLAS: not pinned)\n", openblas_get_corename());
#else
    printf("blas: none (plain-C matmul)\n");
#endif
    __builtin_cpu_init();
    printf("cpu: %s\n", __builtin_cpu_supports("avx512f")  ? "avx512f"
                        : __builtin_cpu_supports("avx2") ? "avx2"
                                                         : "baseline");
    printf("threads: %d\n", eef_threads());
    printf("mpi: %s\n", eef_dist_library());
    return 0;
}

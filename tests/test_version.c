/* test_version.c: `eef version` says which OpenBLAS kernels run, and eef
 * pins them by the CPU's instruction set unless the user chose
 * (src/cli/main.c, docs/robustness.md). */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

/* The core eef must pin on this CPU. */
static const char *expected_core(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    if (__builtin_cpu_supports("avx")) return "Sandybridge";
    return "Nehalem";
}

static void test_pinned(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir(), out[600], want[200];
    snprintf(out, sizeof out, "%s/version.txt", tmp);
    assert_int_equal(tu_sh("env -u OPENBLAS_CORETYPE -u EEF_OPENBLAS_PINNED %s version >%s", tu_eef(), out), 0);
    if (tu_file_contains(out, "blas: none")) {
        tu_rmtree(tmp);
        skip(); /* a BLAS=0 build has no kernels to pin */
    }
    snprintf(want, sizeof want, "blas core: %s (OPENBLAS_CORETYPE pinned by eef to the CPU's "
             "instruction set)", expected_core());
    assert_true(tu_file_contains(out, want));
    /* OpenBLAS itself reports the core it runs (its config string) */
    snprintf(want, sizeof want, " %s ", expected_core());
    assert_true(tu_file_contains(out, want));
    /* the user's choice is kept and reported as theirs */
    assert_int_equal(tu_sh("env -u EEF_OPENBLAS_PINNED OPENBLAS_CORETYPE=Nehalem %s version >%s",
                           tu_eef(), out), 0);
    assert_true(tu_file_contains(out, "blas core: Nehalem (OPENBLAS_CORETYPE=Nehalem set by the user)"));
    tu_rmtree(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_pinned) };
    return cmocka_run_group_tests_name("version", tests, NULL, NULL);
}

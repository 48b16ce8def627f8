/* stats_bench: the comparison's bootstrap at the size README's tables have
 * (3 seeds x 1,500 test tasks, expert + 4 methods, 10,000 resamples) and
 * every pair's estimate from it.  Prints `name: value` lines. */
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"
#include "eval/eval.h"

enum { SEEDS = 3, TASKS = 1500, METHODS = 5, REPS = 10000 };

int main(void)
{
    static unsigned char win[SEEDS][METHODS][TASKS];
    static const unsigned char *ptr[SEEDS][METHODS];
    eef_stratum st[SEEDS];
    eef_rng r = eef_rng_make(7);
    for (int s = 0; s < SEEDS; s++) {
        for (int m = 0; m < METHODS; m++) {
            for (int i = 0; i < TASKS; i++) win[s][m][i] = eef_rng_uniform(&r) < 0.40 + 0.02 * m;
            ptr[s][m] = win[s][m];
        }
        st[s] = (eef_stratum){ .key = (uint64_t)s + 1, .n = TASKS, .win = ptr[s] };
    }
    double t0 = eef_now();
    eef_boot bs;
    if (eef_boot_run(st, SEEDS, METHODS, REPS, 1, &bs)) {
        fprintf(stderr, "stats_bench: %s\n", eef_errmsg());
        return 1;
    }
    double boot_s = eef_now() - t0;
    t0 = eef_now();
    eef_pair_est e, per[SEEDS];
    for (int a = 1; a < METHODS; a++)
        for (int b = 0; b < a; b++)
            if (eef_pair_estimate(st, SEEDS, &bs, (size_t)a, (size_t)b, 0.95, &e, per)) return 1;
    double pairs_s = eef_now() - t0;
    printf("stats_bootstrap_3x1500x5_10k_ms: %.0f\n", 1000 * boot_s);
    printf("stats_pairs_10_ms: %.0f\n", 1000 * pairs_s);
    printf("stats_resampled_tasks_per_s_m: %.0f\n",
           (double)SEEDS * TASKS * REPS / boot_s / 1e6);
    eef_boot_free(&bs);
    return 0;
}

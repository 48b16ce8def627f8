/* infer_bench: inference in the shape of agent rollouts, one rollout per
 * thread: each of 5 steps feeds a 180-token observation and decodes an
 * 8-token action with the KV cache.  Prints `name: value` lines. */
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"
#include "nn/nn.h"

int main(int argc, char **argv)
{
    const char *preset = argc > 1 ? argv[1] : "small";
    int rollouts = argc > 2 ? atoi(argv[2]) : 16;
    eef_model_config c;
    eef_model *m;
    if (eef_model_preset(preset, 2048, &c) || eef_model_new(&c, NULL, 1, &m)) {
        fprintf(stderr, "infer_bench: %s\n", eef_errmsg());
        return 1;
    }
    enum { STEPS = 5, OBS = 180, ACT = 8 };
    double t0 = eef_now();
    long tokens = 0;
    int failed = 0;
#pragma omp parallel reduction(+ : tokens, failed)
    {
        eef_kv *kv;
        failed += eef_kv_new(m, 0, &kv) != EEF_OK;
        int obs[OBS];
        float *logits = malloc((size_t)c.vocab * sizeof(float));
#pragma omp for schedule(dynamic, 1)
        for (int r = 0; r < rollouts; r++) {
            if (failed) continue;
            eef_kv_reset(kv);
            eef_rng rng = eef_rng_make((uint64_t)r);
            for (int s = 0; s < STEPS; s++) {
                for (int i = 0; i < OBS; i++) obs[i] = (int)eef_rng_below(&rng, 2048);
                failed += eef_kv_feed(kv, obs, OBS, logits) != EEF_OK;
                tokens += OBS;
                for (int a = 0; a < ACT; a++) {
                    int t = eef_sample_token(logits, c.vocab, NULL, NULL);
                    failed += eef_kv_feed(kv, &t, 1, logits) != EEF_OK;
                    tokens++;
                }
            }
        }
        free(logits);
        eef_kv_free(kv);
    }
    double dt = eef_now() - t0;
    if (failed) {
        fprintf(stderr, "infer_bench: %s\n", eef_errmsg());
        return 1;
    }
    printf("infer_%s_rollouts_per_s: %.1f\n", preset, rollouts / dt);
    printf("infer_%s_tokens_per_s: %.0f\n", preset, tokens / dt);
    printf("infer_%s_ms_per_rollout_per_thread: %.1f\n", preset, 1000 * dt * eef_threads() / rollouts);
    eef_model_free(m);
    return 0;
}

/* train_bench: training and sampling throughput of the transformer.
 *
 *   train_bench PRESET [B T STEPS MASK_FRAC]
 *
 * Trains on random tokens (vocab 2048), B rows of T positions, one
 * sequence per row, loss on a MASK_FRAC share of positions (1.0 = every
 * position, as language-model pretraining; agent data is ~0.15), and
 * prints `name: value` lines.  bench/train_bench_torch.py does the same in
 * PyTorch so scripts/run-bench can print the ratio.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "nn/nn.h"

int main(int argc, char **argv)
{
    const char *preset = argc > 1 ? argv[1] : "small";
    int B = argc > 2 ? atoi(argv[2]) : 4;
    int T = argc > 3 ? atoi(argv[3]) : 1024;
    int steps = argc > 4 ? atoi(argv[4]) : 10;
    double frac = argc > 5 ? atof(argv[5]) : 1.0;
    eef_model_config c;
    eef_model *m;
    eef_adamw *o;
    eef_adamw_config oc;
    if (eef_model_preset(preset, 2048, &c) || eef_model_new(&c, NULL, 1, &m)) {
        fprintf(stderr, "train_bench: %s\n", eef_errmsg());
        return 1;
    }
    if (T > c.max_ctx) T = c.max_ctx;
    eef_adamw_defaults(&oc);
    if (eef_adamw_new(&oc, m->n_params, &o)) return 1;
    eef_batch b;
    if (eef_batch_alloc(&b, B, T)) return 1;
    eef_rng r = eef_rng_make(7);
    for (int i = 0; i < B * T; i++) {
        b.tokens[i] = (int)eef_rng_below(&r, 2048);
        b.targets[i] = (int)eef_rng_below(&r, 2048);
        b.pos[i] = i % T;
        b.mask[i] = eef_rng_uniform(&r) < frac;
    }
    double loss = 0, t0 = 0;
    for (int s = 0; s < steps + 1; s++) {
        if (s == 1) t0 = eef_now(); /* the first step warms up (allocations) */
        eef_model_zero_grad(m);
        if (eef_model_forward(m, &b, NULL, &loss) || eef_model_backward(m, 1.0f) ||
            eef_adamw_step(o, m, NULL)) {
            fprintf(stderr, "train_bench: %s\n", eef_errmsg());
            return 1;
        }
    }
    double dt = eef_now() - t0;
    double tps = (double)steps * B * T / dt;
    char tag[64];
    snprintf(tag, sizeof tag, "%s%s", preset, frac < 1.0 ? "_agentmask" : "");
    printf("train_%s_params: %zu\n", tag, m->n_params);
    printf("train_%s_tokens_per_s: %.0f\n", tag, tps);
    printf("train_%s_step_ms: %.1f\n", tag, 1000 * dt / steps);

    /* sampling with the KV cache: a 64-token prompt then 448 new tokens */
    if (frac >= 1.0) {
        eef_kv *kv;
        if (eef_kv_new(m, 0, &kv)) return 1;
        eef_sampling sm = { .temperature = 1.0, .top_p = 1.0 };
        int *out = NULL;
        size_t n_out = 0, cap = 0;
        int prompt[64];
        for (int i = 0; i < 64; i++) prompt[i] = i;
        double t1 = eef_now();
        int reps = 3;
        for (int k = 0; k < reps; k++) {
            eef_kv_reset(kv);
            n_out = 0;
            eef_rng rr = eef_rng_make((uint64_t)k);
            if (eef_generate(kv, prompt, 64, 448, &sm, NULL, 0, &rr, &out, &n_out, &cap)) return 1;
        }
        double dt1 = eef_now() - t1;
        printf("sample_%s_tokens_per_s: %.0f\n", preset, reps * 448.0 / dt1);
        free(out);
        eef_kv_free(kv);
    }
    (void)loss;
    eef_batch_free(&b);
    eef_adamw_free(o);
    eef_model_free(m);
    return 0;
}

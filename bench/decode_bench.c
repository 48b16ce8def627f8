/* decode_bench: batched decoding (eef_kv_step), B sequences advanced in
 * lockstep, one token each per step, at B = 1, 8 and 32, on `small` (f32,
 * as the agent decodes) and the SmolLM2-135M shape (f32 and bf16).  The
 * B sequences share a 64-token prompt (fed once, copied with eef_kv_copy)
 * and then diverge; the steps alone are timed.  Prints `name: value`:
 *   decode_batched_TAG_bB_tokens_per_s      tokens (B per step) per second
 *   decode_batched_TAG_bB_tokens_per_cpu_s  ... per second of CPU time
 *   decode_batched_TAG_b32_speedup          b32 over b1 tokens/s, same run
 * Usage: decode_bench [small|135m ...] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "nn/nn.h"

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

enum { PROMPT = 64, MAXB = 32 };

/* tokens per second (wall, CPU) of `steps` steps of B sequences */
static int run(eef_model *m, int B, int steps, double *wall, double *cpu)
{
    const int V = m->cfg.vocab;
    eef_kv *kv[MAXB];
    eef_kvb *kb;
    float *logits = malloc((size_t)B * V * sizeof(float));
    int prompt[PROMPT], toks[MAXB];
    eef_rng r = eef_rng_make(11);
    for (int i = 0; i < PROMPT; i++) prompt[i] = (int)eef_rng_below(&r, (uint64_t)V);
    if (!logits || eef_kvb_new(m, B, &kb)) return 1;
    for (int b = 0; b < B; b++) {
        if (eef_kv_new(m, PROMPT + steps + 2, &kv[b])) return 1;
        if (b == 0 ? eef_kv_feed(kv[0], prompt, PROMPT, NULL) : eef_kv_copy(kv[b], kv[0], PROMPT))
            return 1;
        toks[b] = (int)eef_rng_below(&r, (uint64_t)V);
    }
    /* one untimed step (first allocations, page faults) */
    if (eef_kv_step(kb, kv, toks, B, logits)) return 1;
    double t0 = eef_now(), c0 = cpu_now();
    for (int s = 0; s < steps; s++) {
        for (int b = 0; b < B; b++) toks[b] = eef_sample_token(logits + (size_t)b * V, V, NULL, NULL);
        if (eef_kv_step(kb, kv, toks, B, logits)) return 1;
    }
    *wall = (double)B * steps / (eef_now() - t0);
    *cpu = (double)B * steps / (cpu_now() - c0);
    for (int b = 0; b < B; b++) eef_kv_free(kv[b]);
    eef_kvb_free(kb);
    free(logits);
    return 0;
}

static int bench(const char *tag, eef_model *m, int steps)
{
    const int bs[] = { 1, 8, 32 };
    double w1 = 0;
    for (size_t i = 0; i < EEF_ARRAY_LEN(bs); i++) {
        double w, c;
        if (run(m, bs[i], steps, &w, &c)) return 1;
        printf("decode_batched_%s_b%d_tokens_per_s: %.1f\n", tag, bs[i], w);
        printf("decode_batched_%s_b%d_tokens_per_cpu_s: %.1f\n", tag, bs[i], c);
        fflush(stdout);
        if (bs[i] == 1) w1 = w;
        else if (bs[i] == 32) printf("decode_batched_%s_b32_speedup: %.2f\n", tag, w / w1);
    }
    return 0;
}

int main(int argc, char **argv)
{
    int want_small = argc < 2, want_135m = argc < 2;
    for (int i = 1; i < argc; i++) {
        want_small |= strcmp(argv[i], "small") == 0;
        want_135m |= strcmp(argv[i], "135m") == 0;
    }
    eef_model_config c;
    eef_model *m;
    if (want_small) {
        if (eef_model_preset("small", 2048, &c) || eef_model_new(&c, NULL, 1, &m) ||
            bench("small", m, 128))
            goto fail;
        eef_model_free(m);
    }
    if (want_135m) {
        /* bench/hf_bench.c's SmolLM2-135M shape */
        c = (eef_model_config){ .vocab = 49152, .d_model = 576, .n_layers = 30, .n_heads = 9,
                                .d_ff = 1536, .max_ctx = 8192, .tied = 1, .rope_theta = 100000.0f,
                                .norm_eps = 1e-5f, .n_kv_heads = 3, .head_dim = 64,
                                .rope_layout = EEF_ROPE_HALF };
        if (eef_model_new(&c, NULL, 1, &m) || bench("135m_f32", m, 8) ||
            eef_model_freeze(m, EEF_DT_BF16) || bench("135m_bf16", m, 8))
            goto fail;
        eef_model_free(m);
    }
    return 0;
fail:
    fprintf(stderr, "decode_bench: %s\n", eef_errmsg());
    return 1;
}

/* train_bench: training and sampling throughput of the transformer.
 *
 *   train_bench PRESET [B T STEPS MASK_FRAC]
 *
 * Trains on random tokens (vocab 2048), B rows of T positions, one
 * sequence per row, loss on a MASK_FRAC share of positions (1.0 = every
 * position, as language-model pretraining; agent data is ~0.15), and
 * prints `name: value` lines.  bench/train_bench_torch.py does the same in
 * PyTorch so scripts/run-bench can print the ratio.
 *
 * It also measures this CPU's FMA peak (one core) and prints the step's
 * share of it.  On a shared machine wall time says little, so the share
 * is per CPU-second: FLOPs done / (CPU-seconds the process used x one
 * core's peak), which charges the threads for every second they ran,
 * spinning and waiting at barriers included.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "core/core.h"
#include "nn/nn.h"

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double thread_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Core clock: a chain of dependent 64-bit multiplies, 3 cycles each on
 * Intel cores since Sandy Bridge (a chain of adds can be shortened by
 * the renamer on recent ones). */
static double core_ghz(void)
{
    long n = 100000000, x = 1;
    double t = thread_seconds();
    __asm__ volatile("1:\n\t"
                     "imul %1, %1\n\timul %1, %1\n\timul %1, %1\n\timul %1, %1\n\t"
                     "sub $4, %0\n\tjg 1b"
                     : "+r"(n), "+r"(x));
    t = thread_seconds() - t;
    return 3.0 * 100000000 / t * 1e-9;
}

/* One core's FMA throughput in GFLOP per CPU-second: 12 independent
 * chains of 512-bit FMAs (two FMA units x 4 cycles of latency need 8 in
 * flight), so the units, not the latency, are the limit; the rate is what
 * the core sustains under 512-bit load (its licence frequency).  On
 * zeros: no denormal assists. */
static double fma_peak_avx512(void)
{
    long n = 50000000;
    double t = thread_seconds();
    __asm__ volatile(
        "vpxord %%zmm0, %%zmm0, %%zmm0\n\tvmovaps %%zmm0, %%zmm1\n\tvmovaps %%zmm0, %%zmm2\n\t"
        "vmovaps %%zmm0, %%zmm3\n\tvmovaps %%zmm0, %%zmm4\n\tvmovaps %%zmm0, %%zmm5\n\t"
        "vmovaps %%zmm0, %%zmm6\n\tvmovaps %%zmm0, %%zmm7\n\tvmovaps %%zmm0, %%zmm8\n\t"
        "vmovaps %%zmm0, %%zmm9\n\tvmovaps %%zmm0, %%zmm10\n\tvmovaps %%zmm0, %%zmm11\n\t"
        "vmovaps %%zmm0, %%zmm12\n\t"
        "1:\n\t"
        "vfmadd231ps %%zmm12, %%zmm12, %%zmm0\n\tvfmadd231ps %%zmm12, %%zmm12, %%zmm1\n\t"
        "vfmadd231ps %%zmm12, %%zmm12, %%zmm2\n\tvfmadd231ps %%zmm12, %%zmm12, %%zmm3\n\t"
        "vfmadd231ps %%zmm12, %%zmm12, %%zmm4\n\tvfmadd231ps %%zmm12, %%zmm12, %%zmm5\n\t"
        "vfmadd231ps %%zmm12, %%zmm12, %%zmm6\n\tvfmadd231ps %%zmm12, %%zmm12, %%zmm7\n\t"
        "vfmadd231ps %%zmm12, %%zmm12, %%zmm8\n\tvfmadd231ps %%zmm12, %%zmm12, %%zmm9\n\t"
        "vfmadd231ps %%zmm12, %%zmm12, %%zmm10\n\tvfmadd231ps %%zmm12, %%zmm12, %%zmm11\n\t"
        "dec %0\n\tjnz 1b\n\tvzeroupper"
        : "+r"(n)
        :
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
          "xmm10", "xmm11", "xmm12", "cc");
    t = thread_seconds() - t;
    return 50000000.0 * 12 * 16 * 2 / t * 1e-9;
}

/* The FLOPs of one training step per token, counted as model FLOPs
 * (forward 2 per weight and per attention multiply-add, backward twice
 * the forward; the backward's recomputed scores and the elementwise
 * layers are not counted):
 *   weights   6 (L (D W + Q D + 3 F D) + V D m)   m: share of scored rows
 *   attention 3 L 2 H hd 2 k                      k: mean keys a query sees */
static double flops_per_token(const eef_model_config *c, int T, double scored)
{
    double D = c->d_model, L = c->n_layers, H = c->n_heads, hd = c->head_dim, F = c->d_ff,
           V = c->vocab, Q = H * hd, W = Q + 2.0 * c->n_kv_heads * hd;
    double keys = (T + 1) / 2.0;
    return 6 * (L * (D * W + Q * D + 3 * F * D) + V * D * scored) + 3 * L * 4 * H * hd * keys;
}

/* OpenMP threads wait passively, as in eef (src/cli/main.c): libgomp reads
 * the setting when it loads, so the bench runs itself again with it. */
static void passive_wait(char **argv)
{
    if (!getenv("OMP_WAIT_POLICY") && setenv("OMP_WAIT_POLICY", "passive", 1) == 0)
        execv("/proc/self/exe", argv); /* on failure: run with libgomp's default */
}

int main(int argc, char **argv)
{
    passive_wait(argv);
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
    int n_scored = 0;
    for (int i = 0; i < B * T; i++) n_scored += b.mask[i] != 0;
    double loss = 0, t0 = 0, c0 = 0;
    for (int s = 0; s < steps + 1; s++) {
        if (s == 1) t0 = eef_now(), c0 = cpu_seconds(); /* the first step warms up (allocations) */
        eef_model_zero_grad(m);
        if (eef_model_forward(m, &b, NULL, &loss) || eef_model_backward(m, 1.0f) ||
            eef_adamw_step(o, m, NULL)) {
            fprintf(stderr, "train_bench: %s\n", eef_errmsg());
            return 1;
        }
    }
    double dt = eef_now() - t0, dc = cpu_seconds() - c0;
    double tps = (double)steps * B * T / dt, tpc = (double)steps * B * T / dc;
    char tag[64];
    snprintf(tag, sizeof tag, "%s%s", preset, frac < 1.0 ? "_agentmask" : "");
    printf("train_%s_params: %zu\n", tag, m->n_params);
    printf("train_%s_tokens_per_s: %.0f\n", tag, tps);
    printf("train_%s_step_ms: %.1f\n", tag, 1000 * dt / steps);
    printf("train_%s_tokens_per_cpu_s: %.0f\n", tag, tpc);
    double fpt = flops_per_token(&m->cfg, T, (double)n_scored / (B * T));
    printf("train_%s_flops_per_token: %.4g\n", tag, fpt);
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        double peak = fma_peak_avx512();
        printf("cpu_ghz: %.2f\n", core_ghz());
        printf("cpu_fma_peak_gflops_per_core: %.1f\n", peak);
        printf("train_%s_gflops_per_cpu_s: %.1f\n", tag, tpc * fpt * 1e-9);
        printf("train_%s_peak_pct: %.1f\n", tag, 100 * tpc * fpt * 1e-9 / peak);
    }

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

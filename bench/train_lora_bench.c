/* train_lora_bench: tuning throughput and memory of a pretrained-size model.
 *
 *   train_lora_bench lora|lora_bf16|full|full_bf16 [B T STEPS MASK_FRAC]
 *   train_lora_bench memtable
 *
 * A random model at the SmolLM2-135M shape (vocab 49152, D 576, 30 layers,
 * 9:3 heads, F 1536, tied, rotate_half), B rows of T random tokens, loss on
 * MASK_FRAC of the positions (agent data: ~0.15): LoRA r = 16 (alpha 32)
 * on all seven projections over a frozen f32 base (lora) or bf16 base
 * (lora_bf16, as the checkpoint ships; its products in bf16 arithmetic,
 * as tuning runs them where the CPU has AVX-512 BF16), or full
 * fine-tuning (full; full_bf16: mixed precision, `eef train --full
 * --bf16`); one step is eef_train_step.  Prints tokens/s and the
 * process's peak RSS;
 * bench/train_lora_bench_torch.py runs the same model, masks and steps in
 * PyTorch, and scripts/run-bench prints the ratios.
 *
 * memtable: what the memory estimator (nn/train_mem.c) says LoRA (bf16
 * base) and full fine-tuning (f32 weights, gradients, AdamW) need at five
 * model sizes, batch 4 x 2048 with 15% scored positions, recomputing
 * activations where the plain run would not fit 24 GiB: a Markdown table
 * (README's "Pretrained models").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "nn/nn.h"

static eef_model_config smollm2_135m(void)
{
    return (eef_model_config){ .vocab = 49152, .d_model = 576, .n_layers = 30, .n_heads = 9,
                               .n_kv_heads = 3, .d_ff = 1536, .max_ctx = 8192, .tied = 1,
                               .rope_theta = 1e5f, .norm_eps = 1e-5f,
                               .rope_layout = EEF_ROPE_HALF };
}

/* CPU-seconds of the whole process (every thread): on a shared machine
 * tokens per CPU-second compare builds where wall time cannot */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long peak_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) v = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
    return v;
}

static int memtable(void)
{
    struct {
        const char *name;
        eef_model_config c;
    } m[] = {
        { "SmolLM2-135M", smollm2_135m() },
        { "Qwen2.5-0.5B", { .vocab = 151936, .d_model = 896, .n_layers = 24, .n_heads = 14,
                            .n_kv_heads = 2, .d_ff = 4864, .max_ctx = 32768, .tied = 1,
                            .rope_theta = 1e6f, .norm_eps = 1e-6f, .qkv_bias = 1 } },
        { "Llama-3.2-1B", { .vocab = 128256, .d_model = 2048, .n_layers = 16, .n_heads = 32,
                            .n_kv_heads = 8, .d_ff = 8192, .max_ctx = 131072, .tied = 1,
                            .rope_theta = 5e5f, .norm_eps = 1e-5f } },
        { "Llama-3.2-3B", { .vocab = 128256, .d_model = 3072, .n_layers = 28, .n_heads = 24,
                            .n_kv_heads = 8, .head_dim = 128, .d_ff = 8192, .max_ctx = 131072,
                            .tied = 1, .rope_theta = 5e5f, .norm_eps = 1e-5f } },
        { "Llama-3.1-8B", { .vocab = 128256, .d_model = 4096, .n_layers = 32, .n_heads = 32,
                            .n_kv_heads = 8, .d_ff = 14336, .max_ctx = 131072, .tied = 0,
                            .rope_theta = 5e5f, .norm_eps = 1e-5f } },
    };
    const int B = 4, T = 2048, M = B * T * 15 / 100;
    const double budget = 24.0 * 1073741824.0, G = 1073741824.0;
    eef_lora_config lc;
    eef_lora_defaults(&lc);
    printf("| model | parameters | LoRA r=16 (bf16 base) | full fine-tuning (f32 + AdamW) |\n");
    printf("|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        char cell[2][96];
        for (int k = 0; k < 2; k++) {
            eef_train_mem e;
            eef_err err = eef_train_mem_plan(&m[i].c, EEF_DT_BF16, k ? NULL : &lc, B, T, M, budget, &e);
            if (err) eef_errclear();
            snprintf(cell[k], sizeof cell[k], "%.1f GiB%s%s", e.total / G,
                     err ? " — does not fit" : " — fits", !err && e.checkpoint ? " (recomputed)" : "");
        }
        printf("| %s | %.2f B | %s | %s |\n", m[i].name, eef_model_n_params(&m[i].c) / 1e9,
               cell[0], cell[1]);
    }
    printf("\nbatch %d x %d, %d%% of positions scored; 24 GiB budget\n", B, T, 15);
    return 0;
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
    const char *mode = argc > 1 ? argv[1] : "lora";
    if (strcmp(mode, "memtable") == 0) return memtable();
    int B = argc > 2 ? atoi(argv[2]) : 2;
    int T = argc > 3 ? atoi(argv[3]) : 512;
    int steps = argc > 4 ? atoi(argv[4]) : 2;
    double frac = argc > 5 ? atof(argv[5]) : 0.15;
    int lora = strncmp(mode, "lora", 4) == 0;
    eef_model_config c = smollm2_135m();
    eef_model *m;
    eef_lora *a = NULL;
    eef_adamw *o;
    eef_adamw_config oc;
    eef_lora_config lc;
    eef_lora_defaults(&lc);
    eef_adamw_defaults(&oc);
    if (eef_model_new(&c, NULL, 1, &m) ||
        (lora && eef_model_freeze(m, strcmp(mode, "lora_bf16") == 0 ? EEF_DT_BF16 : EEF_DT_F32)) ||
        (lora && eef_lora_new(&m->cfg, &lc, 1, &a)) ||
        eef_adamw_new(&oc, eef_train_n_params(m, a), &o)) {
        fprintf(stderr, "train_lora_bench: %s\n", eef_errmsg());
        return 1;
    }
    /* a bf16 base multiplies as tuning runs it, and full_bf16 is full
     * fine-tuning with --bf16: in bf16 arithmetic where the CPU has it */
    if (strstr(mode, "bf16")) eef_model_bf16_products(m, 1);
    eef_batch b;
    if (eef_batch_alloc(&b, B, T)) return 1;
    eef_rng r = eef_rng_make(7);
    for (int i = 0; i < B * T; i++) {
        b.tokens[i] = (int)eef_rng_below(&r, (uint64_t)c.vocab);
        b.targets[i] = (int)eef_rng_below(&r, (uint64_t)c.vocab);
        b.pos[i] = i % T;
        b.mask[i] = eef_rng_uniform(&r) < frac;
    }
    /* the peak from here on: building the random model held its f32
     * weights and their frozen copy at once, which loading a checkpoint
     * (mapped) does not */
    FILE *cr = fopen("/proc/self/clear_refs", "w");
    if (cr) fputs("5", cr), fclose(cr);
    double loss = 0, t0 = 0, c0 = 0;
    for (int s = 0; s < steps + 1; s++) {
        if (s == 1) t0 = eef_now(), c0 = cpu_seconds(); /* the first step warms up (allocations) */
        if (eef_train_step(m, a, o, &b, &loss, NULL)) {
            fprintf(stderr, "train_lora_bench: %s\n", eef_errmsg());
            return 1;
        }
    }
    double dt = eef_now() - t0, dc = cpu_seconds() - c0;
    printf("train_135m_%s_tokens_per_s: %.0f\n", mode, (double)steps * B * T / dt);
    printf("train_135m_%s_tokens_per_cpu_s: %.1f\n", mode, (double)steps * B * T / dc);
    printf("train_135m_%s_peak_rss_mb: %.0f\n", mode, peak_rss_kb() / 1024.0);
    eef_batch_free(&b);
    eef_adamw_free(o);
    eef_lora_free(a);
    eef_model_free(m);
    return 0;
}

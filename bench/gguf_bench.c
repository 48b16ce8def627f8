/* gguf_bench: decoding and prefill of GGUF models at the shape of
 * Qwen2.5-0.5B (qwen2: D 896, 24 layers, 14 query / 2 key-value heads of
 * 64, F 4864, vocabulary 151936, tied, q/k/v biases), random weights,
 * written by eef as Q8_0 and Q4_K (Q4_K where rows are whole 256-blocks:
 * ffn_down; the rest falls back to Q8_0, as llama.cpp's Q4_K_M does for
 * this model).  The files stay in DIR (default build/bench-gguf) for
 * scripts/run-bench to run llama.cpp on the same files and threads.
 *
 * For each file, loaded packed (the blocks multiplied as they are) and
 * dequantized on load (f32 weights), prints
 *   gguf_0p5b_<type>_<mode>_weights_mb     bytes of the weight matrices
 *   decode_0p5b_<type>[_f32load]_tokens_per_s   one token at a time
 *                                          after a 16-token prompt
 *   prefill_0p5b_<type>[_f32load]_tokens_per_s  a 128-token prompt at once
 * and the same per second of the process's CPU time (..._tokens_per_cpu_s:
 * what a shared machine measures more steadily; threads wait passively).
 *
 *   gguf_bench [DIR [TYPE [packed|f32load]]]   (TYPE q8_0 or q4_k: that one only) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "nn/nn.h"

enum { PROMPT = 16, DECODE = 32, PREFILL = 128 };

static int make_file(const char *path, eef_dtype dt)
{
    if (eef_file_exists(path)) return 0;
    eef_model_config c = { .vocab = 151936, .d_model = 896, .n_layers = 24, .n_heads = 14,
                           .d_ff = 4864, .max_ctx = 4096, .tied = 1, .rope_theta = 1000000,
                           .norm_eps = 1e-6f, .n_kv_heads = 2, .head_dim = 64,
                           .qkv_bias = 1, .rope_layout = EEF_ROPE_HALF };
    /* a tokenizer llama.cpp reads: the interop check's Qwen3 one (1247
     * tokens); the rest of the vocabulary is padding (GGUF: unused tokens) */
    eef_tokenizer *tok;
    eef_model *m;
    if (eef_tok_load_hf_dir("tests/fixtures/gguf_interop/qwen3", &tok) || eef_model_new(&c, tok, 3, &m))
        return 1;
    int e = eef_model_export_gguf(m, dt, path) != EEF_OK;
    eef_model_free(m);
    return e;
}

static size_t weight_bytes(const eef_model *m)
{
    size_t n = 0;
    const eef_tensor *t[7];
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const eef_layer_weights *w = &m->layer[l];
        t[0] = &w->wq, t[1] = &w->wk, t[2] = &w->wv, t[3] = &w->wo, t[4] = &w->w1, t[5] = &w->w3,
        t[6] = &w->w2;
        for (int i = 0; i < 7; i++) n += (size_t)t[i]->rows * eef_dtype_row_bytes(t[i]->dtype, t[i]->cols);
    }
    return n + (size_t)m->embed.rows * eef_dtype_row_bytes(m->embed.dtype, m->embed.cols);
}

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int run(const char *path, const char *type, eef_dtype load)
{
    eef_model *m;
    eef_load_opts o = { .trainable = 0, .dtype = load };
    if (eef_model_load_opts(path, &o, &m)) return 1;
    const char *mode = load == EEF_DT_F32 ? "_f32load" : "";
    printf("gguf_0p5b_%s_%s_weights_mb: %.0f\n", type, load == EEF_DT_F32 ? "f32load" : "packed",
           weight_bytes(m) / 1048576.0);
    eef_kv *kv;
    if (eef_kv_new(m, PREFILL + 8, &kv)) return 1;
    float *logits = malloc((size_t)m->cfg.vocab * sizeof(float));
    int ids[PREFILL];
    for (int i = 0; i < PREFILL; i++) ids[i] = 3 + (i * 37) % 250;
    /* decode: a prompt, then one token at a time (greedy) */
    if (eef_kv_feed(kv, ids, PROMPT, logits)) return 1;
    double t0 = eef_now(), c0 = cpu_now();
    for (int s = 0; s < DECODE; s++) {
        int t = eef_sample_token(logits, m->cfg.vocab, NULL, NULL);
        if (eef_kv_feed(kv, &t, 1, logits)) return 1;
    }
    double t1 = eef_now(), c1 = cpu_now();
    printf("decode_0p5b_%s%s_tokens_per_s: %.2f\n", type, mode, DECODE / (t1 - t0));
    printf("decode_0p5b_%s%s_tokens_per_cpu_s: %.2f\n", type, mode, DECODE / (c1 - c0));
    /* prefill: warm once, then time a fresh cache */
    double best = 1e30, best_cpu = 1e30;
    for (int rep = 0; rep < 2; rep++) {
        eef_kv_reset(kv);
        t0 = eef_now(), c0 = cpu_now();
        if (eef_kv_feed(kv, ids, PREFILL, logits)) return 1;
        double dt = eef_now() - t0, dc = cpu_now() - c0;
        best = dt < best ? dt : best;
        best_cpu = dc < best_cpu ? dc : best_cpu;
    }
    printf("prefill_0p5b_%s%s_tokens_per_s: %.1f\n", type, mode, PREFILL / best);
    printf("prefill_0p5b_%s%s_tokens_per_cpu_s: %.1f\n", type, mode, PREFILL / best_cpu);
    fflush(stdout);
    free(logits);
    eef_kv_free(kv);
    eef_model_free(m);
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "build/bench-gguf";
    if (eef_mkdirs(dir)) {
        fprintf(stderr, "gguf_bench: %s\n", eef_errmsg());
        return 1;
    }
    const struct {
        const char *name;
        eef_dtype dt;
    } types[] = { { "q8_0", EEF_DT_Q8_0 }, { "q4_k", EEF_DT_Q4_K } };
    const char *only = argc > 2 ? argv[2] : NULL, *mode = argc > 3 ? argv[3] : NULL;
    for (int k = 0; k < 2; k++) {
        char path[1024];
        if (only && strcmp(only, types[k].name)) continue;
        snprintf(path, sizeof path, "%s/qwen2_0p5b_%s.gguf", dir, types[k].name);
        if (make_file(path, types[k].dt) ||
            ((!mode || !strcmp(mode, "packed")) && run(path, types[k].name, EEF_DT_COUNT)) ||
            ((!mode || !strcmp(mode, "f32load")) && run(path, types[k].name, EEF_DT_F32))) {
            fprintf(stderr, "gguf_bench: %s\n", eef_errmsg());
            return 1;
        }
    }
    return 0;
}

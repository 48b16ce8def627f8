/* hf_bench: prefill and decode speed of imported-model shapes, random
 * weights, full depth: SmolLM2-135M (30 layers, D 576, 9:3 heads, tied,
 * vocabulary 49152) and Qwen2.5-0.5B (24 layers, D 896, 14:2 heads, q/k/v
 * biases, tied, vocabulary 151936), with f32 weights and frozen bf16 ones.
 * Prefill feeds a 128-token prompt at once; decode then feeds 32 tokens
 * one at a time (each with the full head).  Prints `name: value` lines:
 *   prefill_135m_f32_tokens_per_s, decode_135m_f32_tokens_per_s, ...
 * and decode_*_tokens_per_cpu_s, tokens per second of the process's CPU
 * time (all threads): on a shared machine the wall-clock rate says how
 * busy the machine was, this one what the code costs.
 * Decoding reads every weight once per token, so its ceiling is memory
 * bandwidth: 538 MB of f32 weights per token at the 135M shape.
 *
 * Usage: hf_bench [--gguf PATH] [--gguf-bf16 PATH] [135m|0p5b ...]
 * --gguf also writes the 135M model (f32, with the Llama 3 tokenizer of
 * tests/fixtures/gguf_interop, which llama.cpp needs to load it; run from
 * the repository root) as GGUF to PATH,
 * --gguf-bf16 the same weights as BF16, for scripts/run-bench's
 * side-by-side runs of llama.cpp. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "nn/nn.h"
#include "text/text.h"

typedef struct {
    const char *tag;
    eef_model_config c;
} shape;

static const shape shapes[] = {
    { "135m", { .vocab = 49152, .d_model = 576, .n_layers = 30, .n_heads = 9, .d_ff = 1536,
                .max_ctx = 8192, .tied = 1, .rope_theta = 100000.0f, .norm_eps = 1e-5f,
                .n_kv_heads = 3, .head_dim = 64, .rope_layout = EEF_ROPE_HALF } },
    { "0p5b", { .vocab = 151936, .d_model = 896, .n_layers = 24, .n_heads = 14, .d_ff = 4864,
                .max_ctx = 32768, .tied = 1, .rope_theta = 1e6f, .norm_eps = 1e-6f,
                .n_kv_heads = 2, .head_dim = 64, .qkv_bias = 1, .rope_layout = EEF_ROPE_HALF } },
};

enum { PROMPT = 128, DECODE = 32 };

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int run(const shape *s, const char *dt, eef_model *m)
{
    eef_kv *kv;
    float *logits = malloc((size_t)m->cfg.vocab * sizeof(float));
    int prompt[PROMPT];
    eef_rng r = eef_rng_make(9);
    for (int i = 0; i < PROMPT; i++) prompt[i] = (int)eef_rng_below(&r, (uint64_t)m->cfg.vocab);
    if (!logits || eef_kv_new(m, PROMPT + DECODE + 1, &kv)) return 1;
    /* one warm-up token (page faults, first allocations) */
    if (eef_kv_feed(kv, prompt, 1, logits)) return 1;
    eef_kv_reset(kv);
    double t0 = eef_now();
    if (eef_kv_feed(kv, prompt, PROMPT, logits)) return 1;
    double t1 = eef_now(), c1 = cpu_now();
    for (int i = 0; i < DECODE; i++) {
        int t = eef_sample_token(logits, m->cfg.vocab, NULL, NULL);
        if (eef_kv_feed(kv, &t, 1, logits)) return 1;
    }
    double t2 = eef_now(), c2 = cpu_now();
    printf("prefill_%s_%s_tokens_per_s: %.1f\n", s->tag, dt, PROMPT / (t1 - t0));
    printf("decode_%s_%s_tokens_per_s: %.1f\n", s->tag, dt, DECODE / (t2 - t1));
    printf("decode_%s_%s_tokens_per_cpu_s: %.1f\n", s->tag, dt, DECODE / (c2 - c1));
    fflush(stdout);
    eef_kv_free(kv);
    free(logits);
    return 0;
}

static int write_gguf(const char *path, eef_dtype dt)
{
    eef_tokenizer *tok;
    eef_model *m;
    /* a tokenizer llama.cpp reads (eef's own BPE has a pre-tokenizer it
     * does not know): the interop check's Llama 3 one; the rest of the
     * vocabulary is padding, unused tokens in GGUF */
    if (eef_tok_load_hf_dir("tests/fixtures/gguf_interop/llama3", &tok) ||
        eef_model_new(&shapes[0].c, tok, 1, &m))
        return 1;
    eef_err e = eef_model_export_gguf(m, dt, path);
    eef_model_free(m);
    return e != EEF_OK;
}

int main(int argc, char **argv)
{
    const char *gguf = NULL, *gguf_bf16 = NULL;
    int n_tags = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--gguf") == 0 && i + 1 < argc) gguf = argv[++i];
        else if (strcmp(argv[i], "--gguf-bf16") == 0 && i + 1 < argc) gguf_bf16 = argv[++i];
        else n_tags++;
    }
    for (size_t k = 0; k < EEF_ARRAY_LEN(shapes); k++) {
        const shape *s = &shapes[k];
        int wanted = n_tags == 0;
        for (int i = 1; i < argc; i++) wanted |= strcmp(argv[i], s->tag) == 0;
        if (!wanted) continue;
        eef_model *m;
        if (eef_model_new(&s->c, NULL, 1, &m) || run(s, "f32", m) ||
            eef_model_freeze(m, EEF_DT_BF16) || run(s, "bf16", m)) {
            fprintf(stderr, "hf_bench: %s\n", eef_errmsg());
            return 1;
        }
        eef_model_free(m);
    }
    if ((gguf && write_gguf(gguf, EEF_DT_F32)) || (gguf_bf16 && write_gguf(gguf_bf16, EEF_DT_BF16))) {
        fprintf(stderr, "hf_bench: %s\n", eef_errmsg());
        return 1;
    }
    return 0;
}

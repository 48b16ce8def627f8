/* gguf_interop.h: the models of the llama.cpp interop check, made the
 * same way by scripts/interop-gguf (through tests/ref/gguf_interop_gen.c,
 * which writes them for llama.cpp) and by tests/test_gguf_interop.c
 * (which writes them again and checks eef against llama.cpp's recorded
 * answers).  Random weights from a fixed seed, in Hugging Face's layout
 * (rope_layout HALF: the llama export permutes q/k to llama.cpp's pair
 * order), with the dense Llama 3 / Qwen3 tokenizers of
 * tests/fixtures/gguf_interop, exported by eef as F32, F16, Q8_0, Q4_K:
 *
 *   llama   Llama 3 tokenizer, 4 query / 2 key-value heads of 64, untied
 *           head, Llama 3.1 rope scaling (original context 64, so the
 *           positions of the check cross every band): rope_freqs.weight
 *   qwen2   Qwen3 tokenizer, 4 / 1 heads of 64, q/k/v biases, tied
 *   qwen3   Qwen3 tokenizer, 4 / 2 heads of 128 (2 D / H), q/k norms, tied
 *
 * D = 256 and F = 512 so that every matrix is whole Q4_K blocks.  Weights
 * are scaled x 2 (norm gains 1 + N(0, 0.1), biases N(0, 0.1)) and the
 * final norm's gains x 4, so the next-token distributions are peaked
 * (mean top probability about 0.2) without the model amplifying small
 * differences (at x 6 everywhere it did: Q8_0 and F32 disagreed). */
#ifndef EEF_TESTS_GGUF_INTEROP_H
#define EEF_TESTS_GGUF_INTEROP_H

#include "core/core.h"
#include "nn/nn.h"
#include "text/text.h"

#include <stdio.h>

/* weight scale and head sharpness (see above) */
#ifndef GI_SCALE
#define GI_SCALE 2.0f
#define GI_HEAD 4.0f
#endif

static const char *const gi_archs[3] = { "llama", "qwen2", "qwen3" };
static const eef_dtype gi_types[4] = { EEF_DT_F32, EEF_DT_F16, EEF_DT_Q8_0, EEF_DT_Q4_K };
#define GI_N_MODELS 12 /* arch * 4 + type */

static void gi_name(int k, char *out, size_t cap)
{
    char t[8];
    snprintf(t, sizeof t, "%s", eef_dtype_name(gi_types[k % 4]));
    for (char *p = t; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    snprintf(out, cap, "%s_%s", gi_archs[k / 4], t);
}

/* Model k into `path` (GGUF); fixtures: the repository's tests/fixtures. */
static eef_err gi_make(int k, const char *fixtures, const char *path)
{
    const int arch = k / 4;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/gguf_interop/%s", fixtures, arch == 0 ? "llama3" : "qwen3");
    eef_tokenizer *tok;
    EEF_TRY(eef_tok_load_hf_dir(dir, &tok));
    eef_model_config c = { .vocab = eef_tok_vocab_size(tok), .d_model = 256, .n_layers = 2,
                           .n_heads = 4, .d_ff = 512, .max_ctx = 256, .tied = arch != 0,
                           .rope_theta = 10000, .norm_eps = 1e-5f, .n_kv_heads = 2,
                           .head_dim = 64, .rope_layout = EEF_ROPE_HALF };
    if (arch == 0) c.rope_scaling = (eef_rope_scaling){ 8, 1, 4, 64 }, c.rope_theta = 500000;
    if (arch == 1) c.qkv_bias = 1, c.n_kv_heads = 1, c.norm_eps = 1e-6f, c.rope_theta = 1000000;
    if (arch == 2) c.qk_norm = 1, c.head_dim = 128, c.norm_eps = 1e-6f, c.rope_theta = 1000000;
    eef_model *m;
    EEF_TRY(eef_model_new(&c, tok, 2000 + (uint64_t)arch, &m));
    /* sharper distributions: matrices x GI_SCALE, distinct norm gains and biases */
    eef_rng r = eef_rng_make(77 + (uint64_t)arch);
    const eef_weights *w = &m->w;
    for (size_t i = 0; i < m->n_params; i++) m->params[i] *= GI_SCALE;
    const size_t L = (size_t)c.n_layers, D = (size_t)c.d_model, hd = (size_t)c.head_dim;
    for (size_t i = 0; i < L * D; i++) {
        w->attn_norm[i] = 1 + 0.1f * eef_rng_normal(&r);
        w->mlp_norm[i] = 1 + 0.1f * eef_rng_normal(&r);
    }
    for (size_t i = 0; i < D; i++) w->out_norm[i] = GI_HEAD * (1 + 0.1f * eef_rng_normal(&r));
    if (w->q_norm)
        for (size_t i = 0; i < L * hd; i++) {
            w->q_norm[i] = 1 + 0.1f * eef_rng_normal(&r);
            w->k_norm[i] = 1 + 0.1f * eef_rng_normal(&r);
        }
    if (w->bqkv) {
        size_t W = (size_t)(c.n_heads + 2 * c.n_kv_heads) * hd;
        for (size_t i = 0; i < L * W; i++) w->bqkv[i] = 0.1f * eef_rng_normal(&r);
    }
    eef_err e = eef_model_export_gguf(m, gi_types[k % 4], path);
    eef_model_free(m);
    return e;
}

#endif

/* gguf_export.c: a model as a llama.cpp GGUF file (version 3), written so
 * that gguf_model.c and llama.cpp read it back as the same model.
 *
 * Architecture from the config: q/k norms -> qwen3, q/k/v biases ->
 * qwen2 (both rope NEOX: q/k rows in the rotate_half layout), else llama
 * (rope NORM: the pair layout); q/k rows (and their biases and norm
 * gains) are permuted within each head where the model's layout differs
 * (export.c: x_list).  Llama 3.1 rope scaling is written as llama.cpp's
 * rope_freqs.weight (the divisor of each frequency).
 *
 * Matrices are written in the type asked for (F32, F16, BF16, Q8_0, Q4_K,
 * Q5_K, Q6_K; EEF_DT_COUNT keeps each matrix's own); a matrix whose rows
 * are not whole blocks of that type falls back to Q8_0, then F32, as
 * llama.cpp's quantizer falls back for such rows.  Rows already in the
 * written type are copied as they are (a quantized model exports its own
 * blocks).  Norm gains, biases and rope_freqs are F32.
 *
 * The tokenizer (any kind) as tokenizer.ggml.*: model gpt2, pre the name
 * of its pre-tokenizer (text/: eef_tok_pretok_name), tokens in the
 * ByteLevel alphabet (specials and added tokens by their content; ids no
 * token has, and embedding rows past the tokenizer's vocabulary, as
 * "[PADn]" of type unused), token types, merges "left right" in rank
 * order, bos/eos/eot/padding ids, add_bos_token, and the chat template.
 * A model without a tokenizer gets no tokenizer.ggml.* keys (eef reads
 * such a file; llama.cpp needs them). */
#include "export.h"
#include "gguf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GGUF_ALIGN 32

typedef struct {
    eef_buf b;
    uint64_t n_kv;
    int oom;
} gbuf;

static void g_raw(gbuf *g, const void *p, size_t n) { g->oom |= eef_buf_append(&g->b, p, n); }
static void g_u32(gbuf *g, uint32_t v) { g_raw(g, &v, 4); }
static void g_u64(gbuf *g, uint64_t v) { g_raw(g, &v, 8); }
static void g_strn(gbuf *g, const char *s, size_t n)
{
    g_u64(g, n);
    g_raw(g, s, n);
}
static void g_str(gbuf *g, const char *s) { g_strn(g, s, strlen(s)); }
static void kv_head(gbuf *g, const char *key, uint32_t type)
{
    g_str(g, key);
    g_u32(g, type);
    g->n_kv++;
}
static void kv_u32(gbuf *g, const char *key, uint32_t v) { kv_head(g, key, GG_UINT32), g_u32(g, v); }
static void kv_f32(gbuf *g, const char *key, float v) { kv_head(g, key, GG_FLOAT32), g_raw(g, &v, 4); }
static void kv_bool(gbuf *g, const char *key, int v)
{
    uint8_t b = (uint8_t)(v != 0);
    kv_head(g, key, GG_BOOL), g_raw(g, &b, 1);
}
static void kv_str(gbuf *g, const char *key, const char *v) { kv_head(g, key, GG_STRING), g_str(g, v); }
static void kv_arch_u32(gbuf *g, const char *arch, const char *key, uint32_t v)
{
    char k[96];
    snprintf(k, sizeof k, "%s.%s", arch, key);
    kv_u32(g, k, v);
}
static void kv_arch_f32(gbuf *g, const char *arch, const char *key, float v)
{
    char k[96];
    snprintf(k, sizeof k, "%s.%s", arch, key);
    kv_f32(g, k, v);
}

static uint32_t ggml_type(eef_dtype t)
{
    switch (t) {
    case EEF_DT_F16: return GGML_F16;
    case EEF_DT_BF16: return GGML_BF16;
    case EEF_DT_Q8_0: return GGML_Q8_0;
    case EEF_DT_Q4_K: return GGML_Q4_K;
    case EEF_DT_Q5_K: return GGML_Q5_K;
    case EEF_DT_Q6_K: return GGML_Q6_K;
    default: return GGML_F32;
    }
}

/* llama.cpp's general.file_type (LLAMA_FTYPE_*) of a model mostly of type t */
static uint32_t file_type(eef_dtype t)
{
    switch (t) {
    case EEF_DT_F16: return 1;
    case EEF_DT_Q8_0: return 7;
    case EEF_DT_Q4_K: return 15; /* Q4_K_M */
    case EEF_DT_Q5_K: return 17; /* Q5_K_M */
    case EEF_DT_Q6_K: return 18;
    case EEF_DT_BF16: return 32;
    default: return 0;
    }
}

/* ------------------------------------------------------------ tokenizer */
static eef_err write_tokenizer(const eef_tokenizer *tok, int vocab, gbuf *g)
{
    const char *pre = eef_tok_pretok_name(tok);
    if (!pre)
        return eef_fail(EEF_EINVAL, "export: the tokenizer's pre-tokenizer has no name in GGUF "
                        "(llama-bpe, qwen2, smollm, gpt-2, eef)");
    const int V = eef_tok_vocab_size(tok);
    const eef_tok_roles *r = eef_tok_roles_of(tok);
    eef_buf s, s2;
    eef_buf_init(&s);
    eef_buf_init(&s2);
    kv_str(g, "tokenizer.ggml.model", "gpt2");
    kv_str(g, "tokenizer.ggml.pre", pre);
    kv_head(g, "tokenizer.ggml.tokens", GG_ARRAY);
    g_u32(g, GG_STRING);
    g_u64(g, (uint64_t)vocab);
    for (int id = 0; id < vocab; id++) {
        eef_buf_clear(&s); /* vocab_text appends */
        if (id < V && eef_tok_type_of(tok, id) != EEF_TOKTYPE_NONE) g->oom |= eef_tok_vocab_text(tok, id, &s);
        else g->oom |= eef_buf_printf(&s, "[PAD%d]", id);
        g_strn(g, s.data ? s.data : "", s.len);
    }
    kv_head(g, "tokenizer.ggml.token_type", GG_ARRAY);
    g_u32(g, GG_INT32);
    g_u64(g, (uint64_t)vocab);
    for (int id = 0; id < vocab; id++) {
        eef_tok_type t = id < V ? eef_tok_type_of(tok, id) : EEF_TOKTYPE_NONE;
        int32_t type = t == EEF_TOKTYPE_NORMAL ? 1 : t == EEF_TOKTYPE_CONTROL ? 3
                       : t == EEF_TOKTYPE_ADDED ? 4 : 5;
        g_raw(g, &type, 4);
    }
    size_t nm = eef_tok_merge_count(tok);
    kv_head(g, "tokenizer.ggml.merges", GG_ARRAY);
    g_u32(g, GG_STRING);
    g_u64(g, nm);
    for (size_t k = 0; k < nm; k++) {
        int a, b;
        eef_tok_merge_at(tok, k, &a, &b);
        eef_buf_clear(&s), eef_buf_clear(&s2);
        g->oom |= eef_tok_vocab_text(tok, a, &s) || eef_tok_vocab_text(tok, b, &s2);
        g->oom |= eef_buf_puts(&s, " ") || eef_buf_append(&s, s2.data ? s2.data : "", s2.len);
        g_strn(g, s.data ? s.data : "", s.len);
    }
    if (r->bos >= 0) kv_u32(g, "tokenizer.ggml.bos_token_id", (uint32_t)r->bos);
    if (r->eos >= 0) kv_u32(g, "tokenizer.ggml.eos_token_id", (uint32_t)r->eos);
    if (r->eot >= 0 && r->eot != r->eos) kv_u32(g, "tokenizer.ggml.eot_token_id", (uint32_t)r->eot);
    if (r->pad >= 0) kv_u32(g, "tokenizer.ggml.padding_token_id", (uint32_t)r->pad);
    kv_bool(g, "tokenizer.ggml.add_bos_token", r->add_bos);
    kv_bool(g, "tokenizer.ggml.add_eos_token", 0);
    char *tmpl = NULL;
    eef_err e = eef_tok_chat_template(tok, &tmpl);
    if (!e && tmpl) kv_str(g, "tokenizer.chat_template", tmpl);
    free(tmpl);
    eef_buf_free(&s);
    eef_buf_free(&s2);
    return e;
}

/* ------------------------------------------------------------ rope_freqs */
/* llama.cpp's rope_freqs.weight: frequency i is divided by f[i] (the
 * inverse of layers.c's llama3_freq). */
static void llama3_factors(const eef_model_config *c, float *f)
{
    const double pi = 3.14159265358979323846;
    const eef_rope_scaling *s = &c->rope_scaling;
    for (int i = 0; i < c->head_dim / 2; i++) {
        double fr = pow((double)c->rope_theta, -2.0 * i / c->head_dim), wl = 2 * pi / fr;
        double orig = s->original_ctx;
        if (wl < orig / s->high_freq_factor) f[i] = 1;
        else if (wl > orig / s->low_freq_factor) f[i] = s->factor;
        else {
            double sm = (orig / wl - s->low_freq_factor) / (s->high_freq_factor - s->low_freq_factor);
            f[i] = (float)(1 / ((1 - sm) / s->factor + sm));
        }
    }
}

/* ------------------------------------------------------------ the file */
static eef_dtype fit_dtype(eef_dtype want, int cols)
{
    if (eef_dtype_row_bytes(want, cols)) return want;
    if (eef_dtype_row_bytes(EEF_DT_Q8_0, cols)) return EEF_DT_Q8_0;
    return EEF_DT_F32;
}

eef_err eef_model_export_gguf(const eef_model *m, eef_dtype dtype, const char *path)
{
    const eef_model_config *c = &m->cfg;
    if (dtype != EEF_DT_COUNT && !eef_dtype_supported(dtype))
        return eef_fail(EEF_EINVAL, "export: no %s weights", eef_dtype_name(dtype));
    const char *arch = c->qk_norm ? "qwen3" : c->qkv_bias ? "qwen2" : "llama";
    if (c->qk_norm && c->qkv_bias)
        return eef_fail(EEF_EINVAL, "export: q/k/v biases with q/k norms have no GGUF architecture");
    if (c->rope_scaling.factor != 0 && strcmp(arch, "llama") != 0)
        return eef_fail(EEF_EINVAL, "export: llama3 rope scaling is written for GGUF's llama only");
    const int layout = strcmp(arch, "llama") == 0 ? EEF_ROPE_PAIRS : EEF_ROPE_HALF;
    xlist l = { 0 };
    eef_err e = x_list(m, X_GGUF, layout, &l);
    float freqs[512];
    xtensor rf = { 0 };
    if (!e && c->rope_scaling.factor != 0) {
        llama3_factors(c, freqs);
        snprintf(rf.name, sizeof rf.name, "rope_freqs.weight");
        rf.n_dims = 1, rf.shape[0] = (uint64_t)(c->head_dim / 2);
        rf.src = (eef_tensor){ .dtype = EEF_DT_F32, .rows = c->head_dim / 2, .cols = 1, .data = freqs };
        rf.out = EEF_DT_F32;
    }
    eef_dtype mostly = EEF_DT_F32;
    for (int i = 0; !e && i < l.n; i++) {
        xtensor *t = &l.t[i];
        if (t->n_dims != 2) continue;
        eef_dtype want = dtype == EEF_DT_COUNT ? t->src.dtype : dtype;
        t->out = fit_dtype(want, t->src.cols);
        if (strstr(t->name, "attn_q.weight")) mostly = t->out;
    }
    gbuf meta = { 0 }, info = { 0 };
    eef_buf_init(&meta.b);
    eef_buf_init(&info.b);
    if (!e) {
        kv_str(&meta, "general.architecture", arch);
        kv_str(&meta, "general.name", "eef");
        kv_u32(&meta, "general.file_type", file_type(mostly));
        kv_u32(&meta, "general.alignment", GGUF_ALIGN);
        kv_arch_u32(&meta, arch, "vocab_size", (uint32_t)c->vocab);
        kv_arch_u32(&meta, arch, "context_length", (uint32_t)c->max_ctx);
        kv_arch_u32(&meta, arch, "embedding_length", (uint32_t)c->d_model);
        kv_arch_u32(&meta, arch, "block_count", (uint32_t)c->n_layers);
        kv_arch_u32(&meta, arch, "feed_forward_length", (uint32_t)c->d_ff);
        kv_arch_u32(&meta, arch, "attention.head_count", (uint32_t)c->n_heads);
        kv_arch_u32(&meta, arch, "attention.head_count_kv", (uint32_t)c->n_kv_heads);
        kv_arch_u32(&meta, arch, "rope.dimension_count", (uint32_t)c->head_dim);
        if (c->head_dim * c->n_heads != c->d_model) {
            kv_arch_u32(&meta, arch, "attention.key_length", (uint32_t)c->head_dim);
            kv_arch_u32(&meta, arch, "attention.value_length", (uint32_t)c->head_dim);
        }
        kv_arch_f32(&meta, arch, "rope.freq_base", c->rope_theta);
        kv_arch_f32(&meta, arch, "attention.layer_norm_rms_epsilon", c->norm_eps);
        if (m->tok) e = write_tokenizer(m->tok, c->vocab, &meta);
    }
    /* tensor infos: dims innermost first, offsets from the data start */
    const int n_t = l.n + (rf.n_dims ? 1 : 0);
    uint64_t off = 0;
    for (int i = 0; !e && i < n_t; i++) {
        const xtensor *t = i < l.n ? &l.t[i] : &rf;
        g_str(&info, t->name);
        g_u32(&info, (uint32_t)t->n_dims);
        if (t->n_dims == 2) g_u64(&info, t->shape[1]), g_u64(&info, t->shape[0]);
        else g_u64(&info, t->shape[0]);
        g_u32(&info, ggml_type(t->out));
        g_u64(&info, off);
        off += (x_bytes(t) + GGUF_ALIGN - 1) / GGUF_ALIGN * GGUF_ALIGN;
    }
    if (!e && (meta.oom || info.oom)) e = EEF_ENOMEM;
    eef_afile af = { 0 };
    if (!e) e = eef_afile_open(&af, path);
    if (!e) {
        static const char zeros[GGUF_ALIGN] = { 0 };
        uint32_t version = 3;
        uint64_t n_tensors = (uint64_t)n_t;
        e = eef_afile_write(&af, "GGUF", 4);
        if (!e) e = eef_afile_write(&af, &version, 4);
        if (!e) e = eef_afile_write(&af, &n_tensors, 8);
        if (!e) e = eef_afile_write(&af, &meta.n_kv, 8);
        if (!e) e = eef_afile_write(&af, meta.b.data, meta.b.len);
        if (!e) e = eef_afile_write(&af, info.b.data, info.b.len);
        size_t head = 24 + meta.b.len + info.b.len;
        if (!e) e = eef_afile_write(&af, zeros, (GGUF_ALIGN - head % GGUF_ALIGN) % GGUF_ALIGN);
        for (int i = 0; !e && i < n_t; i++) {
            const xtensor *t = i < l.n ? &l.t[i] : &rf;
            size_t bytes = x_bytes(t);
            e = x_write(&af, t);
            if (!e) e = eef_afile_write(&af, zeros, (GGUF_ALIGN - bytes % GGUF_ALIGN) % GGUF_ALIGN);
        }
        if (e) eef_afile_abort(&af);
        else e = eef_afile_commit(&af);
    }
    eef_buf_free(&meta.b);
    eef_buf_free(&info.b);
    free(l.t);
    if (e) return eef_fail_ctx(e, "exporting to %s", path);
    return EEF_OK;
}

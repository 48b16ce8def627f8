/* export.c: the weights in formats other runtimes read.
 *
 * Both use the Llama architecture's tensor names, float32, and split
 * eef's fused projections: wqkv [3D, D] into q, k, v (rows 0..D, D..2D,
 * 2D..3D) and w13 [2F, D] into gate (rows 0..F) and up (rows F..2F).
 *
 * Rotary layout.  eef rotates the pairs (2i, 2i+1) of each head (Meta's
 * original Llama).  llama.cpp's "llama" architecture does the same (rope
 * type NORM), so GGUF takes q and k as they are.  Hugging Face's Llama
 * rotates the pairs (i, i + hd/2) (rotate_half), so for safetensors the
 * rows of q and k are permuted within each head: HF row j < hd/2 is eef
 * row 2j, HF row hd/2 + j is eef row 2j + 1 (what HF's conversion script
 * from Meta's checkpoints does).  Scores q.k are unchanged.
 *
 * GGUF (version 3): "GGUF", u32 version, u64 tensor count, u64 metadata
 * count, the metadata (key, type, value), the tensor infos (name, dims
 * innermost first, type F32, offset), padding to 32 bytes, the data with
 * every tensor 32-byte aligned.  With the tokenizer as a GPT-2 style BPE:
 * tokens in GPT-2's byte-to-unicode spelling, merges "A B" in rank order.
 *
 * safetensors: u64 header length, the JSON header {name: {dtype, shape,
 * data_offsets}, "__metadata__": {...}} padded with spaces to 8 bytes,
 * then the data.
 */
#include "nn.h"

#include <stdlib.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the export formats are little-endian: port the writer first"
#endif

#define GGUF_ALIGN 32

/* One tensor of the exported file: where its rows come from. */
typedef struct {
    char name[64];
    int n_dims;
    uint64_t shape[2];   /* PyTorch order: [out, in] (or [n]) */
    const float *src;    /* contiguous rows */
    int permute_heads;   /* > 0: apply the rotate_half row permutation with this many heads */
} xtensor;

typedef struct {
    xtensor *t;
    int n, cap;
} xlist;

static eef_err add(xlist *l, const char *name, const float *src, uint64_t rows, uint64_t cols,
                   int permute_heads)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        xtensor *p = eef_realloc(l->t, (size_t)cap * sizeof *p);
        if (!p) return EEF_ENOMEM;
        l->t = p, l->cap = cap;
    }
    xtensor *t = &l->t[l->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n_dims = cols ? 2 : 1;
    t->shape[0] = rows;
    t->shape[1] = cols;
    t->src = src;
    t->permute_heads = permute_heads;
    return EEF_OK;
}

static uint64_t numel(const xtensor *t) { return t->shape[0] * (t->n_dims == 2 ? t->shape[1] : 1); }

/* The tensor list in each naming scheme. */
static eef_err list_tensors(const eef_model *m, int hf, xlist *l)
{
    const eef_model_config *c = &m->cfg;
    const uint64_t V = (uint64_t)c->vocab, D = (uint64_t)c->d_model, F = (uint64_t)c->d_ff;
    const eef_weights *w = &m->w;
    char name[64];
    EEF_TRY(add(l, hf ? "model.embed_tokens.weight" : "token_embd.weight", w->wte, V, D, 0));
    for (int i = 0; i < c->n_layers; i++) {
        const float *qkv = w->wqkv + (size_t)i * 3 * D * D, *w13 = w->w13 + (size_t)i * 2 * F * D;
        int ph = hf ? c->n_heads : 0;
#define LAYER(hfname, ggname, src, rows, cols, perm)                                               \
    do {                                                                                           \
        if (hf) snprintf(name, sizeof name, "model.layers.%d.%s.weight", i, hfname);               \
        else snprintf(name, sizeof name, "blk.%d.%s.weight", i, ggname);                           \
        EEF_TRY(add(l, name, src, rows, cols, perm));                                              \
    } while (0)
        LAYER("input_layernorm", "attn_norm", w->attn_norm + (size_t)i * D, D, 0, 0);
        LAYER("self_attn.q_proj", "attn_q", qkv, D, D, ph);
        LAYER("self_attn.k_proj", "attn_k", qkv + D * D, D, D, ph);
        LAYER("self_attn.v_proj", "attn_v", qkv + 2 * D * D, D, D, 0);
        LAYER("self_attn.o_proj", "attn_output", w->wo + (size_t)i * D * D, D, D, 0);
        LAYER("post_attention_layernorm", "ffn_norm", w->mlp_norm + (size_t)i * D, D, 0, 0);
        LAYER("mlp.gate_proj", "ffn_gate", w13, F, D, 0);
        LAYER("mlp.up_proj", "ffn_up", w13 + F * D, F, D, 0);
        LAYER("mlp.down_proj", "ffn_down", w->w2 + (size_t)i * D * F, D, F, 0);
#undef LAYER
    }
    EEF_TRY(add(l, hf ? "model.norm.weight" : "output_norm.weight", w->out_norm, D, 0, 0));
    /* a tied head is the embedding: GGUF readers fall back to token_embd,
     * HF reads tie_word_embeddings */
    if (!c->tied) EEF_TRY(add(l, hf ? "lm_head.weight" : "output.weight", w->head, V, D, 0));
    return EEF_OK;
}

/* Writes a tensor's data (rows permuted for rotate_half when asked). */
static eef_err write_data(eef_afile *af, const xtensor *t)
{
    if (!t->permute_heads) return eef_afile_write(af, t->src, numel(t) * sizeof(float));
    const uint64_t rows = t->shape[0], cols = t->shape[1];
    const uint64_t hd = rows / (uint64_t)t->permute_heads, half = hd / 2;
    float *buf = eef_malloc(rows * cols * sizeof(float));
    if (!buf) return EEF_ENOMEM;
    for (uint64_t h = 0; h < (uint64_t)t->permute_heads; h++)
        for (uint64_t j = 0; j < hd; j++) {
            uint64_t from = j < half ? 2 * j : 2 * (j - half) + 1;
            memcpy(buf + (h * hd + j) * cols, t->src + (h * hd + from) * cols, cols * sizeof(float));
        }
    eef_err e = eef_afile_write(af, buf, rows * cols * sizeof(float));
    free(buf);
    return e;
}

/* ------------------------------------------------------------ GGUF */
enum { GG_U32 = 4, GG_I32 = 5, GG_F32 = 6, GG_BOOL = 7, GG_STR = 8, GG_ARR = 9 };

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
static void kv_u32(gbuf *g, const char *key, uint32_t v) { kv_head(g, key, GG_U32), g_u32(g, v); }
static void kv_f32(gbuf *g, const char *key, float v) { kv_head(g, key, GG_F32), g_raw(g, &v, 4); }
static void kv_bool(gbuf *g, const char *key, int v)
{
    uint8_t b = (uint8_t)(v != 0);
    kv_head(g, key, GG_BOOL), g_raw(g, &b, 1);
}
static void kv_str(gbuf *g, const char *key, const char *v) { kv_head(g, key, GG_STR), g_str(g, v); }

/* GPT-2's byte-to-unicode map: printable bytes stand for themselves, the
 * others (controls, space, 127..160, 173) for code points 256, 257, ... */
static unsigned byte_cp(unsigned char b)
{
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174) return b;
    unsigned n = 0;
    for (unsigned x = 0; x < b; x++)
        if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174)) n++;
    return 256 + n;
}

static int put_cp(eef_buf *b, unsigned cp)
{
    char u[2];
    if (cp < 0x80) {
        u[0] = (char)cp;
        return eef_buf_append(b, u, 1);
    }
    u[0] = (char)(0xC0 | (cp >> 6));
    u[1] = (char)(0x80 | (cp & 0x3F));
    return eef_buf_append(b, u, 2); /* every mapped code point is below 0x800 */
}

/* Token id's string in the GGUF vocabulary. */
static int token_text(const eef_tokenizer *tok, int id, eef_buf *out)
{
    eef_buf_clear(out);
    size_t len;
    const char *p = eef_tok_piece(tok, id, &len);
    if (!p) return -1;
    if (id >= 256 && id < EEF_TOK_FIRST_MERGE) return eef_buf_append(out, p, len); /* "<|bos|>" */
    for (size_t i = 0; i < len; i++)
        if (put_cp(out, byte_cp((unsigned char)p[i]))) return -1;
    return 0;
}

static eef_err gguf_tokenizer(const eef_tokenizer *tok, gbuf *g)
{
    const int V = eef_tok_vocab_size(tok);
    /* the merges, from the tokenizer's serialized form (text/tok_io.c):
     * "EEFT" u32 version, u32 vocab, u32 n_merges, n_merges x (i32, i32) */
    eef_buf ser;
    eef_buf_init(&ser);
    EEF_TRY(eef_tok_save(tok, &ser));
    uint32_t nm = 0;
    if (ser.len >= 16) memcpy(&nm, ser.data + 12, 4);
    if (ser.len < 16 + (size_t)nm * 8 || (int)nm != V - EEF_TOK_FIRST_MERGE) {
        eef_buf_free(&ser);
        return eef_fail(EEF_EFORMAT, "export: unexpected tokenizer layout");
    }
    eef_buf s, s2;
    eef_buf_init(&s);
    eef_buf_init(&s2);
    kv_str(g, "tokenizer.ggml.model", "gpt2");
    kv_str(g, "tokenizer.ggml.pre", "gpt-2");
    kv_head(g, "tokenizer.ggml.tokens", GG_ARR);
    g_u32(g, GG_STR);
    g_u64(g, (uint64_t)V);
    for (int id = 0; id < V; id++) {
        g->oom |= token_text(tok, id, &s);
        g_strn(g, s.data ? s.data : "", s.len);
    }
    kv_head(g, "tokenizer.ggml.token_type", GG_ARR);
    g_u32(g, GG_I32);
    g_u64(g, (uint64_t)V);
    for (int id = 0; id < V; id++) {
        int32_t type = id >= 256 && id < EEF_TOK_FIRST_MERGE ? 3 : 1; /* control : normal */
        g_raw(g, &type, 4);
    }
    kv_head(g, "tokenizer.ggml.merges", GG_ARR);
    g_u32(g, GG_STR);
    g_u64(g, nm);
    for (uint32_t k = 0; k < nm; k++) {
        int32_t pair[2];
        memcpy(pair, ser.data + 16 + (size_t)k * 8, 8);
        g->oom |= token_text(tok, pair[0], &s);
        g->oom |= token_text(tok, pair[1], &s2);
        g->oom |= eef_buf_puts(&s, " ") || eef_buf_append(&s, s2.data ? s2.data : "", s2.len);
        g_strn(g, s.data, s.len);
    }
    kv_u32(g, "tokenizer.ggml.bos_token_id", EEF_TOK_BOS);
    kv_u32(g, "tokenizer.ggml.eos_token_id", EEF_TOK_END);
    kv_u32(g, "tokenizer.ggml.padding_token_id", EEF_TOK_PAD);
    kv_bool(g, "tokenizer.ggml.add_bos_token", 1);
    eef_buf_free(&s);
    eef_buf_free(&s2);
    eef_buf_free(&ser);
    return EEF_OK;
}

static eef_err export_gguf(const eef_model *m, const xlist *l, const char *path)
{
    const eef_model_config *c = &m->cfg;
    gbuf meta = { 0 };
    eef_buf_init(&meta.b);
    kv_str(&meta, "general.architecture", "llama");
    kv_str(&meta, "general.name", "eef");
    kv_u32(&meta, "general.file_type", 0); /* all F32 */
    kv_u32(&meta, "general.alignment", GGUF_ALIGN);
    kv_u32(&meta, "llama.vocab_size", (uint32_t)c->vocab);
    kv_u32(&meta, "llama.context_length", (uint32_t)c->max_ctx);
    kv_u32(&meta, "llama.embedding_length", (uint32_t)c->d_model);
    kv_u32(&meta, "llama.block_count", (uint32_t)c->n_layers);
    kv_u32(&meta, "llama.feed_forward_length", (uint32_t)c->d_ff);
    kv_u32(&meta, "llama.attention.head_count", (uint32_t)c->n_heads);
    kv_u32(&meta, "llama.attention.head_count_kv", (uint32_t)c->n_heads);
    kv_u32(&meta, "llama.rope.dimension_count", (uint32_t)(c->d_model / c->n_heads));
    kv_f32(&meta, "llama.rope.freq_base", c->rope_theta);
    kv_f32(&meta, "llama.attention.layer_norm_rms_epsilon", c->norm_eps);
    eef_err e = m->tok ? gguf_tokenizer(m->tok, &meta) : EEF_OK;
    /* tensor infos: dims innermost first, offsets from the data start */
    gbuf info = { 0 };
    eef_buf_init(&info.b);
    uint64_t off = 0;
    for (int i = 0; !e && i < l->n; i++) {
        const xtensor *t = &l->t[i];
        g_str(&info, t->name);
        g_u32(&info, (uint32_t)t->n_dims);
        if (t->n_dims == 2) g_u64(&info, t->shape[1]), g_u64(&info, t->shape[0]);
        else g_u64(&info, t->shape[0]);
        g_u32(&info, 0); /* GGML_TYPE_F32 */
        g_u64(&info, off);
        off += (numel(t) * 4 + GGUF_ALIGN - 1) / GGUF_ALIGN * GGUF_ALIGN;
    }
    if (!e && (meta.oom || info.oom)) e = EEF_ENOMEM;
    eef_afile af = { 0 };
    if (!e) e = eef_afile_open(&af, path);
    if (e) {
        eef_buf_free(&meta.b);
        eef_buf_free(&info.b);
        return e;
    }
    static const char zeros[GGUF_ALIGN] = { 0 };
    uint32_t version = 3;
    uint64_t n_tensors = (uint64_t)l->n;
    e = eef_afile_write(&af, "GGUF", 4);
    if (!e) e = eef_afile_write(&af, &version, 4);
    if (!e) e = eef_afile_write(&af, &n_tensors, 8);
    if (!e) e = eef_afile_write(&af, &meta.n_kv, 8);
    if (!e) e = eef_afile_write(&af, meta.b.data, meta.b.len);
    if (!e) e = eef_afile_write(&af, info.b.data, info.b.len);
    size_t head = 24 + meta.b.len + info.b.len;
    if (!e) e = eef_afile_write(&af, zeros, (GGUF_ALIGN - head % GGUF_ALIGN) % GGUF_ALIGN);
    for (int i = 0; !e && i < l->n; i++) {
        size_t bytes = numel(&l->t[i]) * 4;
        e = write_data(&af, &l->t[i]);
        if (!e) e = eef_afile_write(&af, zeros, (GGUF_ALIGN - bytes % GGUF_ALIGN) % GGUF_ALIGN);
    }
    eef_buf_free(&meta.b);
    eef_buf_free(&info.b);
    if (e) {
        eef_afile_abort(&af);
        return e;
    }
    return eef_afile_commit(&af);
}

/* ------------------------------------------------------------ safetensors */
static eef_err export_safetensors(const eef_model *m, const xlist *l, const char *path)
{
    const eef_model_config *c = &m->cfg;
    eef_buf h;
    eef_buf_init(&h);
    int bad = eef_buf_printf(&h,
                             "{\"__metadata__\":{\"format\":\"pt\",\"producer\":\"eef %s\","
                             "\"architecture\":\"LlamaForCausalLM\",\"vocab_size\":\"%d\","
                             "\"hidden_size\":\"%d\",\"num_hidden_layers\":\"%d\","
                             "\"num_attention_heads\":\"%d\",\"num_key_value_heads\":\"%d\","
                             "\"intermediate_size\":\"%d\",\"max_position_embeddings\":\"%d\","
                             "\"rope_theta\":\"%.9g\",\"rms_norm_eps\":\"%.9g\","
                             "\"tie_word_embeddings\":\"%s\",\"rope_layout\":\"rotate_half\"}",
                             EEF_VERSION, c->vocab, c->d_model, c->n_layers, c->n_heads,
                             c->n_heads, c->d_ff, c->max_ctx, (double)c->rope_theta,
                             (double)c->norm_eps, c->tied ? "true" : "false");
    uint64_t off = 0;
    for (int i = 0; !bad && i < l->n; i++) {
        const xtensor *t = &l->t[i];
        uint64_t bytes = numel(t) * 4;
        if (t->n_dims == 2)
            bad = eef_buf_printf(&h, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%llu,%llu],"
                                 "\"data_offsets\":[%llu,%llu]}", t->name,
                                 (unsigned long long)t->shape[0], (unsigned long long)t->shape[1],
                                 (unsigned long long)off, (unsigned long long)(off + bytes));
        else
            bad = eef_buf_printf(&h, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%llu],"
                                 "\"data_offsets\":[%llu,%llu]}", t->name,
                                 (unsigned long long)t->shape[0], (unsigned long long)off,
                                 (unsigned long long)(off + bytes));
        off += bytes;
    }
    if (!bad) bad = eef_buf_puts(&h, "}");
    while (!bad && h.len % 8) bad = eef_buf_puts(&h, " "); /* data 8-byte aligned */
    if (bad) {
        eef_buf_free(&h);
        return EEF_ENOMEM;
    }
    eef_afile af;
    eef_err e = eef_afile_open(&af, path);
    uint64_t hlen = h.len;
    if (!e) e = eef_afile_write(&af, &hlen, 8);
    if (!e) e = eef_afile_write(&af, h.data, h.len);
    for (int i = 0; !e && i < l->n; i++) e = write_data(&af, &l->t[i]);
    eef_buf_free(&h);
    if (e) {
        if (af.f) eef_afile_abort(&af);
        return e;
    }
    return eef_afile_commit(&af);
}

eef_err eef_model_export(const eef_model *m, const char *format, const char *path)
{
    int gguf = strcmp(format, "gguf") == 0, st = strcmp(format, "safetensors") == 0;
    if (!gguf && !st)
        return eef_fail(EEF_EINVAL, "export: unknown format '%s' (gguf or safetensors)", format);
    if (gguf && !m->tok)
        return eef_fail(EEF_EINVAL, "export: GGUF carries the tokenizer, and this model has none");
    xlist l = { 0 };
    eef_err e = list_tensors(m, st, &l);
    if (!e) e = gguf ? export_gguf(m, &l, path) : export_safetensors(m, &l, path);
    free(l.t);
    if (e) return eef_fail_ctx(e, "exporting to %s", path);
    return EEF_OK;
}

/* Tests of `eef export` (src/nn/export.c): the GGUF and safetensors files
 * are read back by readers written here from the formats' specifications
 * (not by the writer's code), and every tensor's name, shape and bytes are
 * checked against the checkpoint; the GGUF tokenizer against eef's; the
 * safetensors q/k row permutation against rotary position embeddings
 * computed both ways (eef's interleaved pairs, HF's rotate_half). */
#include "testutil.h"

#include <cjson/cJSON.h>

#include "nn/nn.h"

static eef_model *model(int tied, int with_tok)
{
    eef_tokenizer *t = NULL;
    int vocab = 300;
    if (with_tok) {
        const char *text = "click[Buy Now] search[blue shirt] go to drawer 1, take mug from "
                           "drawer 1; Observation: You arrive at drawer 1. \xc3\xa9t\xc3\xa9 caf\xc3\xa9\n";
        eef_buf b;
        eef_buf_init(&b);
        for (int i = 0; i < 200; i++) eef_buf_puts(&b, text);
        assert_ok(eef_tok_train(b.data, b.len, 330, &t));
        eef_buf_free(&b);
        vocab = eef_tok_vocab_size(t);
    }
    eef_model_config c;
    assert_ok(eef_model_preset("tiny", vocab, &c));
    c.tied = tied;
    c.n_heads = 4; /* head size 8: several pairs per head for the permutation */
    eef_model *m;
    assert_ok(eef_model_new(&c, t, 17, &m));
    /* the norms start at 1: give them distinct values so a swap would show */
    eef_rng r = eef_rng_make(3);
    for (int i = 0; i < c.n_layers * c.d_model; i++) {
        m->w.attn_norm[i] = 1 + 0.1f * eef_rng_normal(&r);
        m->w.mlp_norm[i] = 1 + 0.1f * eef_rng_normal(&r);
    }
    for (int i = 0; i < c.d_model; i++) m->w.out_norm[i] = 1 + 0.1f * eef_rng_normal(&r);
    return m;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    char *data;
    assert_ok(eef_read_file(path, &data, len));
    return (unsigned char *)data;
}

/* ------------------------------------------------------------ what must be there */
typedef struct {
    char name[64];
    uint64_t rows, cols;   /* PyTorch shape [rows, cols]; cols 0 for vectors */
    const float *src;
    int permute;           /* HF rotate_half row order (q, k) */
} expect;

static int expected(const eef_model *m, int hf, expect *out)
{
    const eef_model_config *c = &m->cfg;
    uint64_t V = (uint64_t)c->vocab, D = (uint64_t)c->d_model, F = (uint64_t)c->d_ff;
    int n = 0;
#define E(nm, s, r, k, p)                                                                          \
    do {                                                                                           \
        snprintf(out[n].name, sizeof out[n].name, "%s", nm);                                       \
        out[n].src = s, out[n].rows = r, out[n].cols = k, out[n].permute = p;                      \
        n++;                                                                                       \
    } while (0)
    char nm[64];
    E(hf ? "model.embed_tokens.weight" : "token_embd.weight", m->w.wte, V, D, 0);
    for (int l = 0; l < c->n_layers; l++) {
        const float *qkv = m->w.wqkv + (size_t)l * 3 * D * D, *gu = m->w.w13 + (size_t)l * 2 * F * D;
        const char *names[9][2] = {
            { "model.layers.%d.input_layernorm.weight", "blk.%d.attn_norm.weight" },
            { "model.layers.%d.self_attn.q_proj.weight", "blk.%d.attn_q.weight" },
            { "model.layers.%d.self_attn.k_proj.weight", "blk.%d.attn_k.weight" },
            { "model.layers.%d.self_attn.v_proj.weight", "blk.%d.attn_v.weight" },
            { "model.layers.%d.self_attn.o_proj.weight", "blk.%d.attn_output.weight" },
            { "model.layers.%d.post_attention_layernorm.weight", "blk.%d.ffn_norm.weight" },
            { "model.layers.%d.mlp.gate_proj.weight", "blk.%d.ffn_gate.weight" },
            { "model.layers.%d.mlp.up_proj.weight", "blk.%d.ffn_up.weight" },
            { "model.layers.%d.mlp.down_proj.weight", "blk.%d.ffn_down.weight" },
        };
        const float *src[9] = { m->w.attn_norm + l * D, qkv, qkv + D * D, qkv + 2 * D * D,
                                m->w.wo + (size_t)l * D * D, m->w.mlp_norm + l * D, gu, gu + F * D,
                                m->w.w2 + (size_t)l * D * F };
        uint64_t rows[9] = { D, D, D, D, D, D, F, F, D }, cols[9] = { 0, D, D, D, D, 0, D, D, F };
        for (int k = 0; k < 9; k++) {
            snprintf(nm, sizeof nm, names[k][hf ? 0 : 1], l);
            E(nm, src[k], rows[k], cols[k], hf && (k == 1 || k == 2));
        }
    }
    E(hf ? "model.norm.weight" : "output_norm.weight", m->w.out_norm, D, 0, 0);
    if (!c->tied) E(hf ? "lm_head.weight" : "output.weight", m->w.head, V, D, 0);
#undef E
    return n;
}

/* The bytes a tensor must have: rows as in eef, or for HF's q and k, in
 * each head first the even rows (first of each rotary pair) then the odd. */
static float *expected_data(const eef_model *m, const expect *e)
{
    uint64_t n = e->rows * (e->cols ? e->cols : 1);
    float *d = malloc(n * sizeof(float));
    if (!e->permute) {
        memcpy(d, e->src, n * sizeof(float));
        return d;
    }
    int H = m->cfg.n_heads;
    uint64_t hd = e->rows / (uint64_t)H;
    for (int h = 0; h < H; h++)
        for (uint64_t i = 0; i < hd / 2; i++) {
            memcpy(d + (h * hd + i) * e->cols, e->src + (h * hd + 2 * i) * e->cols, e->cols * 4);
            memcpy(d + (h * hd + hd / 2 + i) * e->cols, e->src + (h * hd + 2 * i + 1) * e->cols,
                   e->cols * 4);
        }
    return d;
}

/* ------------------------------------------------------------ a GGUF reader */
typedef struct {
    const unsigned char *p;
    size_t len, off;
} rd;

static uint64_t rd_u(rd *r, int bytes)
{
    assert_true(r->off + (size_t)bytes <= r->len);
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v |= (uint64_t)r->p[r->off + i] << (8 * i);
    r->off += (size_t)bytes;
    return v;
}

static char *rd_str(rd *r)
{
    uint64_t n = rd_u(r, 8);
    assert_true(r->off + n <= r->len);
    char *s = strndup((const char *)r->p + r->off, n);
    r->off += n;
    return s;
}

typedef struct {
    char *key;
    uint32_t type;
    uint64_t u;     /* integer / bool values */
    float f;
    char *s;
    char **strs;    /* string arrays */
    int32_t *ints;  /* i32 arrays */
    uint64_t n;     /* array length */
} gkv;

typedef struct {
    gkv kv[64];
    int n_kv;
    char *tname[64];
    uint64_t tdims[64][4];
    uint32_t tnd[64], ttype[64];
    uint64_t toff[64];
    int n_t;
    size_t data;
    uint32_t align;
} gfile;

static void gguf_read(const unsigned char *p, size_t len, gfile *g)
{
    memset(g, 0, sizeof *g);
    rd r = { p, len, 0 };
    assert_memory_equal(p, "GGUF", 4);
    r.off = 4;
    assert_int_equal(rd_u(&r, 4), 3);
    uint64_t nt = rd_u(&r, 8), nk = rd_u(&r, 8);
    assert_true(nt <= 64 && nk <= 64);
    g->align = 32;
    for (uint64_t i = 0; i < nk; i++) {
        gkv *kv = &g->kv[g->n_kv++];
        kv->key = rd_str(&r);
        kv->type = (uint32_t)rd_u(&r, 4);
        switch (kv->type) {
        case 4: kv->u = rd_u(&r, 4); break;   /* u32 */
        case 7: kv->u = rd_u(&r, 1); break;   /* bool */
        case 6: {                             /* f32 */
            uint32_t bits = (uint32_t)rd_u(&r, 4);
            memcpy(&kv->f, &bits, 4);
            break;
        }
        case 8: kv->s = rd_str(&r); break;
        case 9: {
            uint32_t et = (uint32_t)rd_u(&r, 4);
            kv->n = rd_u(&r, 8);
            if (et == 8) {
                kv->strs = calloc(kv->n, sizeof *kv->strs);
                for (uint64_t k = 0; k < kv->n; k++) kv->strs[k] = rd_str(&r);
            } else {
                assert_int_equal(et, 5);
                kv->ints = calloc(kv->n, 4);
                for (uint64_t k = 0; k < kv->n; k++) kv->ints[k] = (int32_t)rd_u(&r, 4);
            }
            break;
        }
        default: fail_msg("unexpected metadata type %u for %s", kv->type, kv->key);
        }
        if (strcmp(kv->key, "general.alignment") == 0) g->align = (uint32_t)kv->u;
    }
    for (uint64_t i = 0; i < nt; i++) {
        g->tname[i] = rd_str(&r);
        g->tnd[i] = (uint32_t)rd_u(&r, 4);
        assert_true(g->tnd[i] >= 1 && g->tnd[i] <= 4);
        for (uint32_t d = 0; d < g->tnd[i]; d++) g->tdims[i][d] = rd_u(&r, 8);
        g->ttype[i] = (uint32_t)rd_u(&r, 4);
        g->toff[i] = rd_u(&r, 8);
        g->n_t++;
    }
    g->data = (r.off + g->align - 1) / g->align * g->align;
}

static void gguf_free(gfile *g)
{
    for (int i = 0; i < g->n_kv; i++) {
        free(g->kv[i].key);
        free(g->kv[i].s);
        for (uint64_t k = 0; g->kv[i].strs && k < g->kv[i].n; k++) free(g->kv[i].strs[k]);
        free(g->kv[i].strs);
        free(g->kv[i].ints);
    }
    for (int i = 0; i < g->n_t; i++) free(g->tname[i]);
}

static const gkv *gget(const gfile *g, const char *key)
{
    for (int i = 0; i < g->n_kv; i++)
        if (strcmp(g->kv[i].key, key) == 0) return &g->kv[i];
    fail_msg("GGUF key %s missing", key);
    return NULL;
}

/* GPT-2's byte <-> unicode table, from its definition: the printable
 * bytes '!'..'~', 0xA1..0xAC, 0xAE..0xFF are themselves; the other 68
 * bytes, in increasing order, are U+0100, U+0101, ... */
static unsigned gpt2_cp(unsigned b)
{
    static unsigned table[256];
    static int built;
    if (!built) {
        unsigned extra = 0;
        for (unsigned x = 0; x < 256; x++) {
            int printable = (x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE);
            table[x] = printable ? x : 256 + extra++;
        }
        assert_int_equal(extra, 68);
        built = 1;
    }
    return table[b];
}

/* Decodes a vocabulary string back to bytes (each char is one byte). */
static int gpt2_bytes(const char *s, eef_buf *out)
{
    const unsigned char *p = (const unsigned char *)s;
    eef_buf_clear(out);
    while (*p) {
        unsigned cp;
        if (*p < 0x80) cp = *p++;
        else if ((*p & 0xE0) == 0xC0 && (p[1] & 0xC0) == 0x80) cp = ((p[0] & 0x1Fu) << 6) | (p[1] & 0x3F), p += 2;
        else return -1;
        int found = -1;
        for (unsigned b = 0; b < 256; b++)
            if (gpt2_cp(b) == cp) found = (int)b;
        if (found < 0) return -1;
        char c = (char)found;
        eef_buf_append(out, &c, 1);
    }
    return 0;
}

static void check_gguf(const eef_model *m, const char *path)
{
    size_t len;
    unsigned char *p = slurp(path, &len);
    gfile g;
    gguf_read(p, len, &g);
    const eef_model_config *c = &m->cfg;
    assert_string_equal(gget(&g, "general.architecture")->s, "llama");
    assert_int_equal(gget(&g, "llama.block_count")->u, c->n_layers);
    assert_int_equal(gget(&g, "llama.embedding_length")->u, c->d_model);
    assert_int_equal(gget(&g, "llama.feed_forward_length")->u, c->d_ff);
    assert_int_equal(gget(&g, "llama.attention.head_count")->u, c->n_heads);
    assert_int_equal(gget(&g, "llama.attention.head_count_kv")->u, c->n_heads);
    assert_int_equal(gget(&g, "llama.rope.dimension_count")->u, c->d_model / c->n_heads);
    assert_int_equal(gget(&g, "llama.context_length")->u, c->max_ctx);
    assert_true(gget(&g, "llama.rope.freq_base")->f == c->rope_theta);
    assert_true(gget(&g, "llama.attention.layer_norm_rms_epsilon")->f == c->norm_eps);
    /* the tokenizer: every token's bytes, the specials, the merges */
    const gkv *tok = gget(&g, "tokenizer.ggml.tokens"), *types = gget(&g, "tokenizer.ggml.token_type");
    const gkv *merges = gget(&g, "tokenizer.ggml.merges");
    assert_string_equal(gget(&g, "tokenizer.ggml.model")->s, "gpt2");
    assert_int_equal(tok->n, c->vocab);
    assert_int_equal(types->n, c->vocab);
    assert_int_equal(merges->n, c->vocab - EEF_TOK_FIRST_MERGE);
    assert_int_equal(gget(&g, "tokenizer.ggml.bos_token_id")->u, EEF_TOK_BOS);
    assert_int_equal(gget(&g, "tokenizer.ggml.eos_token_id")->u, EEF_TOK_END);
    assert_string_equal(tok->strs['A'], "A");
    assert_string_equal(tok->strs[' '], "\xc4\xa0"); /* U+0120, GPT-2's space */
    eef_buf b, b2;
    eef_buf_init(&b);
    eef_buf_init(&b2);
    for (int id = 0; id < c->vocab; id++) {
        size_t n;
        const char *piece = eef_tok_piece(m->tok, id, &n);
        if (id >= 256 && id < EEF_TOK_FIRST_MERGE) {
            assert_int_equal(types->ints[id], 3); /* control */
            assert_int_equal(strlen(tok->strs[id]), n);
            assert_memory_equal(tok->strs[id], piece, n);
            continue;
        }
        assert_int_equal(types->ints[id], 1);
        assert_int_equal(gpt2_bytes(tok->strs[id], &b), 0);
        assert_int_equal(b.len, n);
        assert_memory_equal(b.data, piece, n);
    }
    /* merge k joins two vocabulary strings into token FIRST_MERGE + k */
    for (uint64_t k = 0; k < merges->n; k++) {
        const char *sp = strchr(merges->strs[k], ' ');
        assert_non_null(sp);
        eef_buf_clear(&b2);
        eef_buf_append(&b2, merges->strs[k], (size_t)(sp - merges->strs[k]));
        eef_buf_puts(&b2, sp + 1);
        assert_string_equal(b2.data, tok->strs[EEF_TOK_FIRST_MERGE + k]);
    }
    eef_buf_free(&b);
    eef_buf_free(&b2);
    /* the tensors: names, dims (innermost first), F32, aligned, bytes */
    expect ex[64];
    int ne = expected(m, 0, ex);
    assert_int_equal(g.n_t, ne);
    for (int i = 0; i < ne; i++) {
        int at = -1;
        for (int k = 0; k < g.n_t; k++)
            if (strcmp(g.tname[k], ex[i].name) == 0) at = k;
        if (at < 0) fail_msg("GGUF tensor %s missing", ex[i].name);
        assert_int_equal(g.ttype[at], 0);
        if (ex[i].cols) {
            assert_int_equal(g.tnd[at], 2);
            assert_int_equal(g.tdims[at][0], ex[i].cols);
            assert_int_equal(g.tdims[at][1], ex[i].rows);
        } else {
            assert_int_equal(g.tnd[at], 1);
            assert_int_equal(g.tdims[at][0], ex[i].rows);
        }
        assert_int_equal(g.toff[at] % g.align, 0);
        uint64_t bytes = ex[i].rows * (ex[i].cols ? ex[i].cols : 1) * 4;
        assert_true(g.data + g.toff[at] + bytes <= len);
        float *want = expected_data(m, &ex[i]);
        assert_memory_equal(p + g.data + g.toff[at], want, bytes);
        free(want);
    }
    gguf_free(&g);
    free(p);
}

/* ------------------------------------------------------------ a safetensors reader */
static float *check_safetensors(const eef_model *m, const char *path, const char *name_wanted)
{
    size_t len;
    unsigned char *p = slurp(path, &len);
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)p[i] << (8 * i);
    assert_true(8 + hlen <= len);
    assert_int_equal((8 + hlen) % 8, 0);
    cJSON *h = cJSON_ParseWithLength((const char *)p + 8, hlen);
    assert_non_null(h);
    const cJSON *meta = cJSON_GetObjectItem(h, "__metadata__");
    assert_string_equal(cJSON_GetObjectItem(meta, "format")->valuestring, "pt");
    char num[32];
    snprintf(num, sizeof num, "%d", m->cfg.n_layers);
    assert_string_equal(cJSON_GetObjectItem(meta, "num_hidden_layers")->valuestring, num);
    assert_string_equal(cJSON_GetObjectItem(meta, "tie_word_embeddings")->valuestring,
                        m->cfg.tied ? "true" : "false");
    expect ex[64];
    int ne = expected(m, 1, ex);
    assert_int_equal(cJSON_GetArraySize(h), ne + 1);
    uint64_t data = 8 + hlen, end_max = 0, total = 0;
    float *picked = NULL;
    for (int i = 0; i < ne; i++) {
        const cJSON *t = cJSON_GetObjectItem(h, ex[i].name);
        if (!t) fail_msg("safetensors tensor %s missing", ex[i].name);
        assert_string_equal(cJSON_GetObjectItem(t, "dtype")->valuestring, "F32");
        const cJSON *shape = cJSON_GetObjectItem(t, "shape");
        assert_int_equal(cJSON_GetArraySize(shape), ex[i].cols ? 2 : 1);
        assert_int_equal((uint64_t)cJSON_GetArrayItem(shape, 0)->valuedouble, ex[i].rows);
        if (ex[i].cols) assert_int_equal((uint64_t)cJSON_GetArrayItem(shape, 1)->valuedouble, ex[i].cols);
        const cJSON *offs = cJSON_GetObjectItem(t, "data_offsets");
        uint64_t b = (uint64_t)cJSON_GetArrayItem(offs, 0)->valuedouble;
        uint64_t e = (uint64_t)cJSON_GetArrayItem(offs, 1)->valuedouble;
        uint64_t bytes = ex[i].rows * (ex[i].cols ? ex[i].cols : 1) * 4;
        assert_int_equal(e - b, bytes);
        assert_true(data + e <= len);
        float *want = expected_data(m, &ex[i]);
        assert_memory_equal(p + data + b, want, bytes);
        if (name_wanted && strcmp(ex[i].name, name_wanted) == 0) {
            picked = malloc(bytes);
            memcpy(picked, p + data + b, bytes);
        }
        free(want);
        end_max = EEF_MAX(end_max, e);
        total += bytes;
    }
    assert_int_equal(end_max, total); /* no gaps, no overlaps */
    assert_int_equal(data + end_max, len);
    cJSON_Delete(h);
    free(p);
    return picked;
}

/* ------------------------------------------------------------ tests */
static void test_gguf_and_safetensors(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char path[512];
    for (int tied = 0; tied < 2; tied++) {
        eef_model *m = model(tied, 1);
        snprintf(path, sizeof path, "%s/m.gguf", dir);
        assert_ok(eef_model_export(m, "gguf", path));
        check_gguf(m, path);
        snprintf(path, sizeof path, "%s/m.safetensors", dir);
        assert_ok(eef_model_export(m, "safetensors", path));
        free(check_safetensors(m, path, NULL));
        eef_model_free(m);
    }
    /* without a tokenizer: safetensors, and GGUF without tokenizer.ggml.* */
    eef_model *m = model(0, 0);
    assert_ok(eef_model_export(m, "safetensors", path));
    free(check_safetensors(m, path, NULL));
    snprintf(path, sizeof path, "%s/n.gguf", dir);
    assert_ok(eef_model_export(m, "gguf", path));
    {
        size_t len;
        unsigned char *p = slurp(path, &len);
        gfile g;
        gguf_read(p, len, &g);
        for (int i = 0; i < g.n_kv; i++) assert_null(strstr(g.kv[i].key, "tokenizer."));
        gguf_free(&g);
        free(p);
    }
    snprintf(path, sizeof path, "%s/o.gguf", dir);
    assert_int_equal(eef_model_export(m, "onnx", path), EEF_EINVAL);
    assert_false(eef_file_exists(path));
    eef_model_free(m);
    tu_rmtree(dir);
}

/* q.k after rotary embeddings: eef's weights with interleaved pairs equal
 * the exported HF weights with rotate_half, head by head. */
static void rope_interleaved(float *x, int hd, int pos, float theta)
{
    for (int i = 0; i < hd / 2; i++) {
        double a = pos * pow(theta, -2.0 * i / hd);
        float c = (float)cos(a), s = (float)sin(a), x0 = x[2 * i], x1 = x[2 * i + 1];
        x[2 * i] = x0 * c - x1 * s;
        x[2 * i + 1] = x0 * s + x1 * c;
    }
}

static void rope_rotate_half(float *x, int hd, int pos, float theta)
{
    int h = hd / 2;
    for (int i = 0; i < h; i++) {
        double a = pos * pow(theta, -2.0 * i / hd);
        float c = (float)cos(a), s = (float)sin(a), x0 = x[i], x1 = x[i + h];
        x[i] = x0 * c - x1 * s;
        x[i + h] = x1 * c + x0 * s;
    }
}

static void matvec(const float *w, const float *x, int rows, int cols, float *y)
{
    for (int r = 0; r < rows; r++) {
        double s = 0;
        for (int k = 0; k < cols; k++) s += (double)w[(size_t)r * cols + k] * x[k];
        y[r] = (float)s;
    }
}

static void test_rotary_permutation(void **state)
{
    (void)state;
    eef_model *m = model(0, 1);
    char *dir = tu_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    assert_ok(eef_model_export(m, "safetensors", path));
    float *q_hf = check_safetensors(m, path, "model.layers.1.self_attn.q_proj.weight");
    float *k_hf = check_safetensors(m, path, "model.layers.1.self_attn.k_proj.weight");
    const int D = m->cfg.d_model, H = m->cfg.n_heads, hd = D / H;
    const float *q_eef = m->w.wqkv + (size_t)1 * 3 * D * D, *k_eef = q_eef + (size_t)D * D;
    float x1[64], x2[64], qa[64], ka[64], qb[64], kb[64];
    eef_rng r = eef_rng_make(9);
    for (int i = 0; i < D; i++) x1[i] = eef_rng_normal(&r), x2[i] = eef_rng_normal(&r);
    int pq = 37, pk = 5;
    matvec(q_eef, x1, D, D, qa);
    matvec(k_eef, x2, D, D, ka);
    matvec(q_hf, x1, D, D, qb);
    matvec(k_hf, x2, D, D, kb);
    for (int h = 0; h < H; h++) {
        rope_interleaved(qa + h * hd, hd, pq, m->cfg.rope_theta);
        rope_interleaved(ka + h * hd, hd, pk, m->cfg.rope_theta);
        rope_rotate_half(qb + h * hd, hd, pq, m->cfg.rope_theta);
        rope_rotate_half(kb + h * hd, hd, pk, m->cfg.rope_theta);
        double sa = 0, sb = 0;
        for (int i = 0; i < hd; i++) sa += (double)qa[h * hd + i] * ka[h * hd + i];
        for (int i = 0; i < hd; i++) sb += (double)qb[h * hd + i] * kb[h * hd + i];
        assert_true(fabs(sa - sb) <= 1e-5 * (1 + fabs(sa)));
        /* and the rotated vectors themselves are the same, reordered */
        for (int i = 0; i < hd / 2; i++) {
            assert_true(fabsf(qa[h * hd + 2 * i] - qb[h * hd + i]) < 1e-5f);
            assert_true(fabsf(qa[h * hd + 2 * i + 1] - qb[h * hd + hd / 2 + i]) < 1e-5f);
        }
    }
    free(q_hf);
    free(k_hf);
    eef_model_free(m);
    tu_rmtree(dir);
}

/* Grouped-query attention in the HF rotate_half layout, to GGUF: two
 * key/value heads, and q/k rows back in llama.cpp's pair layout (GGUF row
 * 2j of a head = the model's row j, 2j + 1 = row hd/2 + j). */
static void test_gguf_gqa(void **state)
{
    (void)state;
    eef_model *base = model(0, 1);
    eef_model_config c = base->cfg;
    c.n_kv_heads = 2, c.rope_layout = EEF_ROPE_HALF;
    eef_tokenizer *tok = base->tok;
    base->tok = NULL;
    eef_model_free(base);
    eef_model *m;
    assert_ok(eef_model_new(&c, tok, 4, &m));
    char *dir = tu_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/g.gguf", dir);
    assert_ok(eef_model_export(m, "gguf", path));
    size_t len;
    unsigned char *p = slurp(path, &len);
    gfile g;
    gguf_read(p, len, &g);
    assert_int_equal(gget(&g, "llama.attention.head_count")->u, 4);
    assert_int_equal(gget(&g, "llama.attention.head_count_kv")->u, 2);
    const int D = c.d_model, hd = D / 4, K = 2 * hd;
    int found = 0;
    for (int i = 0; i < g.n_t; i++) {
        if (strcmp(g.tname[i], "blk.0.attn_k.weight") != 0) continue;
        found = 1;
        assert_int_equal(g.tdims[i][0], D);
        assert_int_equal(g.tdims[i][1], K);
        const float *data = (const float *)(p + g.data + g.toff[i]);
        const float *k = m->w.wqkv + (size_t)D * D; /* layer 0: rows after q */
        for (int h = 0; h < 2; h++)
            for (int j = 0; j < hd / 2; j++) {
                assert_memory_equal(data + (size_t)(h * hd + 2 * j) * D, k + (size_t)(h * hd + j) * D,
                                    D * sizeof(float));
                assert_memory_equal(data + (size_t)(h * hd + 2 * j + 1) * D,
                                    k + (size_t)(h * hd + hd / 2 + j) * D, D * sizeof(float));
            }
    }
    assert_true(found);
    gguf_free(&g);
    free(p);
    /* q/k/v biases make it GGUF's qwen2 (rotate_half rows, as the model's),
     * with its biases (test_gguf.c loads such files back) */
    eef_model_free(m);
    base = model(0, 1);
    tok = base->tok;
    base->tok = NULL;
    eef_model_free(base);
    c.qkv_bias = 1;
    assert_ok(eef_model_new(&c, tok, 4, &m));
    assert_ok(eef_model_export(m, "gguf", path));
    p = slurp(path, &len);
    gguf_read(p, len, &g);
    assert_string_equal(gget(&g, "general.architecture")->s, "qwen2");
    assert_int_equal(gget(&g, "qwen2.attention.head_count_kv")->u, 2);
    found = 0;
    for (int i = 0; i < g.n_t; i++) found += strcmp(g.tname[i], "blk.0.attn_k.bias") == 0;
    assert_int_equal(found, 1);
    gguf_free(&g);
    free(p);
    eef_model_free(m);
    tu_rmtree(dir);
}

static void test_cli_export(void **state)
{
    (void)state;
    eef_model *m = model(1, 1);
    char *dir = tu_tmpdir();
    char path[512], out[512], cmd[2048];
    snprintf(path, sizeof path, "%s/m.eefm", dir);
    assert_ok(eef_model_save(m, path));
    snprintf(out, sizeof out, "%s/m.gguf", dir);
    snprintf(cmd, sizeof cmd, "%s export --format gguf %s %s 2>/dev/null", tu_eef(), path, out);
    assert_int_equal(system(cmd), 0);
    check_gguf(m, out);
    snprintf(out, sizeof out, "%s/m.safetensors", dir);
    snprintf(cmd, sizeof cmd, "%s export --format=safetensors %s %s 2>/dev/null", tu_eef(), path, out);
    assert_int_equal(system(cmd), 0);
    free(check_safetensors(m, out, NULL));
    snprintf(cmd, sizeof cmd, "%s export --format onnx %s %s 2>/dev/null", tu_eef(), path, out);
    assert_int_equal(WEXITSTATUS(system(cmd)), 2);
    snprintf(cmd, sizeof cmd, "%s export %s %s 2>/dev/null", tu_eef(), path, out);
    assert_int_equal(WEXITSTATUS(system(cmd)), 2);
    snprintf(cmd, sizeof cmd, "%s export --format gguf %s/none.eefm %s 2>/dev/null", tu_eef(), dir, out);
    assert_int_equal(WEXITSTATUS(system(cmd)), 1);
    snprintf(cmd, sizeof cmd, "%s export --format gguf %s %s/no/such/dir/x.gguf 2>/dev/null", tu_eef(), path, dir);
    assert_int_equal(WEXITSTATUS(system(cmd)), 1);
    eef_model_free(m);
    tu_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gguf_and_safetensors),
        cmocka_unit_test(test_rotary_permutation),
        cmocka_unit_test(test_gguf_gqa),
        cmocka_unit_test(test_cli_export),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

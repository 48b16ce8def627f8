/* GGUF files (src/nn/gguf*.c, src/text/gguf_tok.c).
 *
 *   the Hugging Face fixtures of tests/test_hf.c (llama, qwen2, qwen3,
 *   mistral, smollm2 layouts) exported to GGUF (F32) and loaded back:
 *   logits against tests/ref/make_hf_ref.py's, as test_hf.c bounds them
 *   (1e-4 max(1, max |ref|)), forward and KV cache
 *   Q8_0 / Q4_K exports: the packed model against the same file
 *   dequantized on load, forward within 1e-5 max |logit| (tiles: f32
 *   rounding only) and KV cache within 2e-2 (Q4_K: 4e-2; x rounded to 8 bits)
 *   tokenizers through GGUF metadata: Llama 3 and Qwen3 (the reduced
 *   files of tests/fixtures/hf_tok, ids kept, holes as unused tokens) and
 *   eef's own give the same ids on every text of cases.json, the same
 *   chat format, pre-tokenizer name and roles
 *   hostile files: each rejected with EEF_EFORMAT and "path: reason"
 */
#include "ref_fixture.h"

#include "nn/gguf.h"
#include "nn/nn_internal.h"
#include "text/text.h"

#include <cjson/cJSON.h>
#include <utf8proc.h>

#define FIX "tests/fixtures/hf"

static const char *const fixtures[] = { "llama32", "qwen25", "qwen3", "smollm2", "mistral" };

/* A gpt2 tokenizer of n >= 258 tokens: the 256 bytes (ByteLevel), two
 * control tokens, then merges of "a" with bytes. */
static eef_tokenizer *small_tok(int n, const char *pre)
{
    static char buf[320][16], mbuf[320][16];
    const char *tokens[320], *merges[320];
    int32_t types[320];
    int nm = 0;
    for (int i = 0; i < n; i++) {
        if (i < 256) {
            /* GPT-2's byte-to-unicode map: printable bytes are themselves,
             * the other 68 are U+0100... in order */
            unsigned cp = (unsigned)i, k = 0;
            if (!((i >= 33 && i <= 126) || (i >= 161 && i <= 172) || i >= 174)) {
                for (int x = 0; x < i; x++) k += !((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174);
                cp = 256 + k;
            }
            if (cp < 0x80) snprintf(buf[i], sizeof buf[i], "%c", (char)cp);
            else snprintf(buf[i], sizeof buf[i], "%c%c", (char)(0xC0 | (cp >> 6)), (char)(0x80 | (cp & 0x3F)));
        } else if (i < 258) {
            snprintf(buf[i], sizeof buf[i], "<|c%d|>", i);
        } else {
            int x = 'a' + (i - 258) / 20, y = 'b' + (i - 258) % 20;
            snprintf(buf[i], sizeof buf[i], "%c%c", x, y);
            snprintf(mbuf[nm], sizeof mbuf[nm], "%c %c", x, y);
            merges[nm] = mbuf[nm];
            nm++;
        }
        tokens[i] = buf[i];
        types[i] = i >= 256 && i < 258 ? 3 : 1;
    }
    eef_tok_gguf g = { .where = "small", .model = "gpt2", .pre = pre, .n_tokens = (size_t)n,
                       .tokens = tokens, .types = types, .n_merges = (size_t)nm, .merges = merges,
                       .bos = 256, .eos = 257, .pad = -1, .add_bos = 1, .add_eos = -1 };
    eef_tokenizer *t;
    assert_ok(eef_tok_load_gguf(&g, &t));
    return t;
}

static void fixture_batch(const ref_set *r, eef_batch *b)
{
    const ref_tensor *tok = ref_get(r, "tokens"), *pos = ref_get(r, "pos");
    assert_ok(eef_batch_alloc(b, tok->dims[0], tok->dims[1]));
    for (size_t i = 0; i < tok->n; i++) {
        b->tokens[i] = (int)tok->data[i];
        b->pos[i] = (int)pos->data[i];
        b->targets[i] = 0;
        b->mask[i] = 1.0f;
    }
}

static float *forward_logits(eef_model *m, const ref_set *r, size_t *n)
{
    eef_batch b;
    fixture_batch(r, &b);
    *n = (size_t)b.B * b.T * m->cfg.vocab;
    float *lg = malloc(*n * sizeof(float));
    double loss;
    assert_ok(eef_model_forward(m, &b, lg, &loss));
    eef_batch_free(&b);
    return lg;
}

/* row 0 through the KV cache, token by token: [T, V] logits */
static float *kv_logits(eef_model *m, const ref_set *r)
{
    const ref_tensor *tok = ref_get(r, "tokens");
    const int T = tok->dims[1], V = m->cfg.vocab;
    eef_kv *kv;
    assert_ok(eef_kv_new(m, 0, &kv));
    float *lg = malloc((size_t)T * V * sizeof(float));
    for (int t = 0; t < T; t++) {
        int id = (int)tok->data[t];
        assert_ok(eef_kv_feed(kv, &id, 1, lg + (size_t)t * V));
    }
    eef_kv_free(kv);
    return lg;
}

static void test_hf_fixtures(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    for (size_t f = 0; f < EEF_ARRAY_LEN(fixtures); f++) {
        char src[256], refp[300], path[512];
        snprintf(src, sizeof src, FIX "/%s", fixtures[f]);
        snprintf(refp, sizeof refp, "%s/ref.bin", src);
        ref_set r;
        ref_load(refp, &r);
        const ref_tensor *ref = ref_get(&r, "logits");
        const double tol = 1e-4 * fmax(1.0, ref_max_abs(ref->data, ref->n));
        eef_model *m;
        assert_ok(eef_model_load(src, &m));
        snprintf(path, sizeof path, "%s/%s.gguf", dir, fixtures[f]);
        assert_ok(eef_model_export(m, "gguf", path));
        eef_model *g;
        assert_ok(eef_model_load(path, &g));
        assert_int_equal(g->cfg.n_kv_heads, m->cfg.n_kv_heads);
        assert_int_equal(g->cfg.head_dim, m->cfg.head_dim);
        assert_int_equal(g->cfg.qkv_bias, m->cfg.qkv_bias);
        assert_int_equal(g->cfg.qk_norm, m->cfg.qk_norm);
        assert_int_equal(g->cfg.tied, m->cfg.tied);
        assert_true(fabsf(g->cfg.rope_scaling.factor - m->cfg.rope_scaling.factor) <= 1e-6f);
        assert_null(g->tok);
        size_t n;
        float *lg = forward_logits(g, &r, &n), *kl = kv_logits(g, &r);
        assert_int_equal(n, ref->n);
        double d = ref_max_diff(lg, ref->data, n);
        double dk = ref_max_diff(kl, ref->data, (size_t)ref_get(&r, "tokens")->dims[1] * g->cfg.vocab);
        print_message("%-8s %-6s tol %.1e  forward %.2e  kv %.2e\n", fixtures[f], g->meta.arch, tol, d, dk);
        assert_true(d <= tol && dk <= tol);
        free(lg), free(kl);
        eef_model_free(g);
        eef_model_free(m);
        ref_free(&r);
    }
    tu_rmtree(dir);
}

/* A quantized export: packed against dequantized on load. */
static void test_quantized(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    const eef_dtype types[] = { EEF_DT_Q8_0, EEF_DT_Q4_K, EEF_DT_F16 };
    ref_set r;
    ref_load(FIX "/qwen3/ref.bin", &r);
    eef_model *m;
    assert_ok(eef_model_load(FIX "/qwen3", &m));
    for (size_t k = 0; k < EEF_ARRAY_LEN(types); k++) {
        char path[512];
        snprintf(path, sizeof path, "%s/q.gguf", dir);
        assert_ok(eef_model_export_gguf(m, types[k], path));
        eef_model *p, *f;
        assert_ok(eef_model_load(path, &p));
        eef_load_opts o = { .trainable = 0, .dtype = EEF_DT_F32 };
        assert_ok(eef_model_load_opts(path, &o, &f));
        /* widths 32 and 96 are not whole Q4_K blocks: Q8_0 instead */
        eef_dtype want = types[k] == EEF_DT_Q4_K ? EEF_DT_Q8_0 : types[k];
        assert_int_equal(p->layer[0].wq.dtype, want);
        assert_int_equal(f->layer[0].wq.dtype, EEF_DT_F32);
        size_t n;
        float *a = forward_logits(p, &r, &n), *b = forward_logits(f, &r, &n);
        double scale = ref_max_abs(b, n), d = ref_max_diff(a, b, n);
        float *ka = kv_logits(p, &r), *kb = kv_logits(f, &r);
        size_t nk = (size_t)ref_get(&r, "tokens")->dims[1] * p->cfg.vocab;
        double dk = ref_max_diff(ka, kb, nk);
        double dref = ref_max_diff(b, ref_get(&r, "logits")->data, n);
        print_message("%s: forward %.2e  kv %.2e of max |logit| %.2f; dequantized vs f32 ref %.2e\n",
                      eef_dtype_name(types[k]), d, dk, scale, dref);
        /* packed types round x to 8 bits in every product (the forward pass too) */
        assert_true(d <= (types[k] == EEF_DT_F16 ? 1e-5 : 2e-2) * scale);
        assert_true(dk <= 2e-2 * scale);
        free(a), free(b), free(ka), free(kb);
        eef_model_free(p);
        eef_model_free(f);
    }
    /* Q4_K proper: a model whose widths are multiples of 256 */
    eef_model_config c;
    assert_ok(eef_model_preset("tiny", 300, &c));
    c.d_model = 256, c.d_ff = 512, c.n_heads = 4, c.n_kv_heads = 2, c.rope_layout = EEF_ROPE_HALF;
    c.qk_norm = 1;
    eef_model *q;
    assert_ok(eef_model_new(&c, small_tok(300, "qwen2"), 5, &q));
    char path[512];
    snprintf(path, sizeof path, "%s/k.gguf", dir);
    assert_ok(eef_model_export_gguf(q, EEF_DT_Q4_K, path));
    eef_model *p;
    assert_ok(eef_model_load(path, &p));
    assert_string_equal(p->meta.arch, "qwen3");
    assert_int_equal(p->layer[0].w2.dtype, EEF_DT_Q4_K);
    assert_int_equal(p->embed.dtype, EEF_DT_Q4_K);
    eef_load_opts o = { .trainable = 0, .dtype = EEF_DT_F32 };
    eef_model *pf;
    assert_ok(eef_model_load_opts(path, &o, &pf));
    int ids[6] = { 1, 50, 99, 3, 200, 7 };
    float *l1 = malloc(300 * sizeof(float)), *l2 = malloc(300 * sizeof(float));
    eef_kv *kv;
    assert_ok(eef_kv_new(p, 0, &kv));
    assert_ok(eef_kv_feed(kv, ids, 6, l1));
    eef_kv_free(kv);
    assert_ok(eef_kv_new(q, 0, &kv));
    assert_ok(eef_kv_feed(kv, ids, 6, l2));
    eef_kv_free(kv);
    /* packed Q4_K against the same file dequantized on load: the
     * forward pass (6 rows, x rounded to 8 bits as in decoding) */
    eef_batch bt;
    assert_ok(eef_batch_alloc(&bt, 1, 6));
    for (int i = 0; i < 6; i++) bt.tokens[i] = ids[i], bt.pos[i] = i, bt.targets[i] = 0, bt.mask[i] = 1;
    float *fa = malloc(6 * 300 * sizeof(float)), *fb = malloc(6 * 300 * sizeof(float));
    double loss;
    assert_ok(eef_model_forward(p, &bt, fa, &loss));
    assert_ok(eef_model_forward(pf, &bt, fb, &loss));
    double dp = ref_max_diff(fa, fb, 6 * 300), sp = ref_max_abs(fb, 6 * 300);
    print_message("Q4_K packed vs dequantized on load, forward: max |diff| %.2e of max |logit| %.3f\n", dp, sp);
    assert_true(dp <= 4e-2 * sp);
    free(fa), free(fb);
    eef_batch_free(&bt);
    float *l3 = malloc(300 * sizeof(float));
    assert_ok(eef_kv_new(pf, 0, &kv));
    assert_ok(eef_kv_feed(kv, ids, 6, l3));
    eef_kv_free(kv);
    sp = ref_max_abs(l3, 300);
    /* one token at a time (dot_rows, x rounded to 8 bits) */
    assert_ok(eef_kv_new(p, 0, &kv));
    for (int i = 0; i < 6; i++) assert_ok(eef_kv_feed(kv, ids + i, 1, l1));
    eef_kv_free(kv);
    dp = ref_max_diff(l1, l3, 300);
    print_message("Q4_K decode (packed dots) vs dequantized: max |diff| %.2e\n", dp);
    assert_true(dp <= 4e-2 * sp); /* measured 1.8e-2: x in 8 bits per 256 */
    free(l3);
    eef_model_free(pf);
    assert_ok(eef_kv_new(p, 0, &kv));
    assert_ok(eef_kv_feed(kv, ids, 6, l1));
    eef_kv_free(kv);
    double d = ref_max_diff(l1, l2, 300), s = ref_max_abs(l2, 300);
    print_message("Q4_K (all matrices) vs f32 model: max |diff| %.3f of max |logit| %.3f\n", d, s);
    assert_true(d <= 0.25 * s); /* a 4-bit model of random weights, as a sanity bound */
    free(l1), free(l2);
    eef_model_free(p);
    eef_model_free(q);
    eef_model_free(m);
    ref_free(&r);
    tu_rmtree(dir);
}

/* ------------------------------------------------------------ tokenizers */
static cJSON *json_file(const char *path)
{
    char *d;
    size_t n;
    assert_ok(eef_read_file(path, &d, &n));
    cJSON *j = cJSON_ParseWithLength(d, n);
    free(d);
    assert_non_null(j);
    return j;
}

/* b's ids of text (NFC'd first when `nfc`: GGUF has no normalizer, and
 * llama.cpp does not normalize) equal a's of the text */
static void same_encoding(const eef_tokenizer *a, const eef_tokenizer *b, const cJSON *texts, int nfc)
{
    const cJSON *x;
    cJSON_ArrayForEach(x, texts)
    {
        const char *h = cJSON_GetObjectItem(x, "hex")->valuestring;
        size_t l = strlen(h) / 2;
        char *s = malloc(l + 1);
        for (size_t i = 0; i < l; i++) {
            unsigned v;
            sscanf(h + 2 * i, "%2x", &v);
            s[i] = (char)v;
        }
        s[l] = 0;
        char *sb = s;
        size_t lb = l;
        if (nfc && strlen(s) == l) {
            sb = (char *)utf8proc_NFC((const utf8proc_uint8_t *)s);
            if (!sb) sb = s; /* invalid UTF-8: as is */
            lb = strlen(sb);
        }
        for (unsigned fl = 0; fl < 4; fl++) {
            int *ia = NULL, *ib = NULL;
            size_t na = 0, nb = 0, ca = 0, cb = 0;
            /* the framing (ADD_SPECIAL): GGUF's is add_bos_token alone */
            const eef_tok_roles *rb = eef_tok_roles_of(b);
            if ((fl & EEF_TOK_ENC_ADD_SPECIAL) && eef_tok_kind_of(a) == EEF_TOK_KIND_HF && rb->add_bos) {
                ia = malloc(sizeof(int)), ia[0] = rb->bos, na = ca = 1;
                assert_ok(eef_tok_encode_ex(a, s, l, fl & ~EEF_TOK_ENC_ADD_SPECIAL, &ia, &na, &ca));
            } else {
                assert_ok(eef_tok_encode_ex(a, s, l, fl, &ia, &na, &ca));
            }
            assert_ok(eef_tok_encode_ex(b, sb, lb, fl, &ib, &nb, &cb));
            if (na != nb || (na && memcmp(ia, ib, na * sizeof(int)) != 0))
                fail_msg("text %s flags %u: %zu vs %zu ids", cJSON_GetObjectItem(x, "name")->valuestring, fl, na, nb);
            free(ia), free(ib);
        }
        if (sb != s) free(sb);
        free(s);
    }
}

static void test_tokenizers(void **state)
{
    (void)state;
    cJSON *cases = json_file("tests/fixtures/hf_tok/cases.json");
    const cJSON *texts = cJSON_GetObjectItem(cases, "texts");
    const char *const bases[] = { "llama3", "qwen3", "eef" };
    const char *const pres[] = { "llama-bpe", "qwen2", "eef" };
    char *dir = tu_tmpdir();
    for (int k = 0; k < 3; k++) {
        char d[300], path[512];
        snprintf(d, sizeof d, "tests/fixtures/hf_tok/%s", bases[k]);
        eef_tokenizer *t;
        assert_ok(eef_tok_load_hf_dir(d, &t));
        eef_model_config c;
        assert_ok(eef_model_preset("tiny", eef_tok_vocab_size(t), &c));
        c.d_model = 16, c.d_ff = 16, c.n_heads = 2, c.n_layers = 1;
        eef_model *m;
        assert_ok(eef_model_new(&c, t, 1, &m));
        snprintf(path, sizeof path, "%s/t.gguf", dir);
        assert_ok(eef_model_export(m, "gguf", path));
        eef_model *g;
        assert_ok(eef_model_load(path, &g));
        assert_string_equal(eef_tok_pretok_name(g->tok), pres[k]);
        assert_string_equal(eef_tok_pretok_name(g->tok), eef_tok_pretok_name(t));
        const char *ca = eef_tok_chat_name(t), *cb = eef_tok_chat_name(g->tok);
        assert_true((!ca && !cb) || (ca && cb && strcmp(ca, cb) == 0));
        const eef_tok_roles *ra = eef_tok_roles_of(t), *rb = eef_tok_roles_of(g->tok);
        assert_int_equal(ra->bos, rb->bos);
        assert_int_equal(ra->eos, rb->eos);
        assert_int_equal(ra->eot, rb->eot);
        assert_int_equal(ra->add_bos, rb->add_bos);
        for (int id = 0; id < eef_tok_vocab_size(t); id++)
            assert_int_equal(eef_tok_type_of(t, id), eef_tok_type_of(g->tok, id));
        same_encoding(t, g->tok, texts, k == 1);
        /* saved as a checkpoint's tokenizer and loaded again */
        eef_buf b;
        eef_buf_init(&b);
        assert_ok(eef_tok_save(g->tok, &b));
        eef_tokenizer *t2;
        assert_ok(eef_tok_load(b.data, b.len, "blob", &t2));
        same_encoding(t, t2, texts, k == 1);
        eef_tok_free(t2);
        eef_buf_free(&b);
        print_message("%s: %d ids, pre %s, chat %s: same ids on %d texts\n", bases[k],
                      eef_tok_vocab_size(t), pres[k], cb ? cb : "-", cJSON_GetArraySize(texts));
        eef_model_free(g);
        eef_model_free(m);
    }
    /* every pre-tokenizer name maps back to itself; unknown ones are refused by name */
    const char *const names[] = { "llama-bpe", "qwen2", "smollm", "gpt-2", "eef" };
    for (int k = 0; k < 5; k++) {
        eef_tokenizer *t = small_tok(280, names[k]);
        assert_string_equal(eef_tok_pretok_name(t), names[k]);
        eef_tok_free(t);
    }
    const char *tokens[2] = { "a", "b" };
    eef_tok_gguf g = { .where = "x.gguf", .model = "gpt2", .pre = "deepseek-llm", .n_tokens = 2,
                       .tokens = tokens, .bos = -1, .eos = -1, .pad = -1, .add_bos = -1, .add_eos = -1 };
    eef_tokenizer *t;
    assert_int_equal(eef_tok_load_gguf(&g, &t), EEF_EFORMAT);
    assert_non_null(strstr(eef_errmsg(), "'deepseek-llm'"));
    g.pre = "gpt-2", g.model = "llama";
    assert_int_equal(eef_tok_load_gguf(&g, &t), EEF_EFORMAT);
    assert_non_null(strstr(eef_errmsg(), "'llama'"));
    cJSON_Delete(cases);
    tu_rmtree(dir);
}

/* ------------------------------------------------------------ hostile files */
typedef struct {
    eef_buf b;
} wr;
static void w_raw(wr *w, const void *p, size_t n) { eef_buf_append(&w->b, p, n); }
static void w_u32(wr *w, uint32_t v) { w_raw(w, &v, 4); }
static void w_u64(wr *w, uint64_t v) { w_raw(w, &v, 8); }
static void w_str(wr *w, const char *s) { w_u64(w, strlen(s)), w_raw(w, s, strlen(s)); }

/* A header: version, counts; the caller appends the rest. */
static void w_head(wr *w, uint32_t version, uint64_t n_t, uint64_t n_kv)
{
    eef_buf_init(&w->b);
    w_raw(w, "GGUF", 4);
    w_u32(w, version);
    w_u64(w, n_t);
    w_u64(w, n_kv);
}

static void w_info(wr *w, const char *name, uint32_t nd, const uint64_t *ne, uint32_t type, uint64_t off)
{
    w_str(w, name);
    w_u32(w, nd);
    for (uint32_t d = 0; d < nd; d++) w_u64(w, ne[d]);
    w_u32(w, type);
    w_u64(w, off);
}

static void w_pad(wr *w, size_t extra)
{
    static const char z[64] = { 0 };
    w_raw(w, z, (32 - w->b.len % 32) % 32);
    for (size_t i = 0; i < extra; i += 64) w_raw(w, z, extra - i < 64 ? extra - i : 64);
}

static void expect_reject(wr *w, const char *dir, const char *needle)
{
    char path[512];
    snprintf(path, sizeof path, "%s/bad.gguf", dir);
    FILE *f = fopen(path, "wb");
    fwrite(w->b.data, 1, w->b.len, f);
    fclose(f);
    eef_buf_free(&w->b);
    eef_model *m = NULL;
    eef_err e = eef_model_load(path, &m);
    if (e != EEF_EFORMAT) fail_msg("%s: got %s (%s)", needle, eef_errname(e), eef_errmsg());
    if (strncmp(eef_errmsg(), path, strlen(path)) != 0 || !strstr(eef_errmsg(), needle))
        fail_msg("wanted '%s' in: %s", needle, eef_errmsg());
    assert_null(m);
}

static void test_hostile(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    wr w;
    const uint64_t ne2[2] = { 32, 4 };
    w_head(&w, 3, 0, 1);
    w_str(&w, "a"), w_u32(&w, GG_ARRAY), w_u32(&w, GG_UINT8), w_u64(&w, (uint64_t)1 << 63);
    expect_reject(&w, dir, "array of 9223372036854775808 uint8");
    w_head(&w, 3, 0, 1);
    w_str(&w, "a"), w_u32(&w, GG_ARRAY), w_u32(&w, GG_STRING), w_u64(&w, (uint64_t)1 << 62);
    expect_reject(&w, dir, "array of 4611686018427387904 strings");
    w_head(&w, 3, 0, 1);
    w_u64(&w, (uint64_t)1 << 40);
    w_pad(&w, 64);
    expect_reject(&w, dir, "claims 1099511627776 bytes");
    w_head(&w, 3, 0, 1);
    w_str(&w, "a"), w_u32(&w, 13), w_u32(&w, 0);
    expect_reject(&w, dir, "unknown value type 13");
    w_head(&w, 3, 0, 2);
    w_str(&w, "a"), w_u32(&w, GG_UINT32), w_u32(&w, 1);
    w_str(&w, "a"), w_u32(&w, GG_UINT32), w_u32(&w, 2);
    expect_reject(&w, dir, "key 'a' appears twice");
    w_head(&w, 3, (uint64_t)1 << 60, 0);
    expect_reject(&w, dir, "cannot fit");
    w_head(&w, 3, 1, 0);
    const uint64_t big[3] = { (uint64_t)1 << 30, (uint64_t)1 << 30, (uint64_t)1 << 30 };
    w_info(&w, "t", 3, big, GGML_F32, 0);
    w_pad(&w, 0);
    expect_reject(&w, dir, "product overflows");
    w_head(&w, 3, 1, 0);
    w_info(&w, "t", 2, ne2, GGML_F32, 1 << 20);
    w_pad(&w, 512);
    expect_reject(&w, dir, "end past the file");
    w_head(&w, 3, 1, 0);
    w_info(&w, "t", 2, ne2, GGML_F32, 8);
    w_pad(&w, 1024);
    expect_reject(&w, dir, "not a multiple of the alignment");
    w_head(&w, 3, 2, 0);
    w_info(&w, "t", 2, ne2, GGML_F32, 0);
    w_info(&w, "t", 2, ne2, GGML_F32, 512);
    w_pad(&w, 1024);
    expect_reject(&w, dir, "tensor 't' appears twice");
    w_head(&w, 3, 2, 0);
    w_info(&w, "t", 2, ne2, GGML_F32, 0);
    w_info(&w, "u", 2, ne2, GGML_F32, 256);
    w_pad(&w, 1024);
    expect_reject(&w, dir, "overlap");
    w_head(&w, 3, 1, 0);
    w_info(&w, "t", 2, ne2, 16, 0);
    w_pad(&w, 1024);
    expect_reject(&w, dir, "IQ2_XXS");
    w_head(&w, 3, 1, 0);
    const uint64_t odd[2] = { 48, 2 };
    w_info(&w, "t", 2, odd, GGML_Q4_K, 0);
    w_pad(&w, 1024);
    expect_reject(&w, dir, "not whole Q4_K blocks");
    w_head(&w, 1, 0, 0);
    expect_reject(&w, dir, "version 1");
    w_head(&w, 0x03000000, 0, 0);
    expect_reject(&w, dir, "big-endian");
    w_head(&w, 3, 0, 1);
    w_str(&w, "general.alignment"), w_u32(&w, GG_UINT32), w_u32(&w, 24);
    expect_reject(&w, dir, "power of two");
    w_head(&w, 3, 0, 1);
    w_str(&w, "general.architecture"), w_u32(&w, GG_STRING), w_str(&w, "gemma3");
    expect_reject(&w, dir, "architecture 'gemma3' is not supported");
    w_head(&w, 2, 0, 1);
    w_str(&w, "a"), w_u32(&w, GG_BOOL), w_raw(&w, "\x02", 1);
    expect_reject(&w, dir, "a bool is 2");
    /* arrays nested too deep */
    w_head(&w, 3, 0, 1);
    w_str(&w, "a"), w_u32(&w, GG_ARRAY);
    for (int i = 0; i < 6; i++) w_u32(&w, GG_ARRAY), w_u64(&w, 1);
    w_u32(&w, GG_UINT8), w_u64(&w, 0);
    expect_reject(&w, dir, "nested");
    /* a real export cut short anywhere */
    eef_model *m;
    assert_ok(eef_model_load(FIX "/qwen3", &m));
    char path[512], cut[512];
    snprintf(path, sizeof path, "%s/ok.gguf", dir);
    snprintf(cut, sizeof cut, "%s/cut.gguf", dir);
    assert_ok(eef_model_export_gguf(m, EEF_DT_Q8_0, path));
    eef_model_free(m);
    char *data;
    size_t len;
    assert_ok(eef_read_file(path, &data, &len));
    for (size_t at = 0; at < len; at += 1 + at / 7) {
        FILE *f = fopen(cut, "wb");
        fwrite(data, 1, at, f);
        fclose(f);
        assert_int_equal(eef_model_load(cut, &m), EEF_EFORMAT);
        assert_true(strncmp(eef_errmsg(), cut, strlen(cut)) == 0);
    }
    free(data);
    tu_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hf_fixtures),
        cmocka_unit_test(test_quantized),
        cmocka_unit_test(test_tokenizers),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* checkpoint.c: the .eefm (model) and .eefo (optimizer) files.
 *
 * .eefm, little-endian:
 *   "EEFM" u32 version (1 or 2)
 *   config: i32 vocab d_model n_layers n_heads d_ff max_ctx tied, f32 rope_theta norm_eps
 *   version 2 only: i32 n_kv_heads head_dim qkv_bias qk_norm rope_layout,
 *           f32 rope factor low_freq_factor high_freq_factor, i32 original_ctx
 *   u64 tokenizer bytes, the tokenizer (text/ format; 0 bytes if none)
 *   u64 n_params, f32[n_params] (the trainable layout of nn.h's eef_weights)
 *   u32 CRC-32 of all preceding bytes
 * A model whose config version 1 can hold (eef's own architecture) is
 * written as version 1, byte for byte what earlier eefs wrote; version 2
 * is written only for the others, and a version 2 file holding a
 * version 1 config is refused as one no writer produces.
 * .eefo:
 *   "EEFO" u32 version=1
 *   f64 lr beta1 beta2 eps weight_decay clip min_lr_frac, i64 warmup total_steps,
 *   i32 cosine, i64 step, u64 n, f32[n] m, f32[n] v, u32 CRC-32
 */
#include "nn_internal.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoints are written as raw little-endian floats: port the writer first"
#endif

#define EEFO_VERSION 1

/* 1 if the config is eef's own architecture (what version 1 holds). */
static int config_is_v1(const eef_model_config *c)
{
    return c->n_kv_heads == c->n_heads && c->head_dim * c->n_heads == c->d_model &&
           !c->qkv_bias && !c->qk_norm && c->rope_layout == EEF_ROPE_PAIRS &&
           c->rope_scaling.factor == 0 && c->rope_scaling.low_freq_factor == 0 &&
           c->rope_scaling.high_freq_factor == 0 && c->rope_scaling.original_ctx == 0;
}

/* ------------------------------------------------------------ writing */
typedef struct {
    eef_afile af;
    uint32_t crc;
    eef_err err;
} writer;

static void put(writer *w, const void *p, size_t n)
{
    if (w->err) return;
    w->crc = eef_crc32(w->crc, p, n);
    w->err = eef_afile_write(&w->af, p, n);
}
static void put_u32(writer *w, uint32_t v) { put(w, &v, 4); }
static void put_i32(writer *w, int32_t v) { put(w, &v, 4); }
static void put_u64(writer *w, uint64_t v) { put(w, &v, 8); }
static void put_f32(writer *w, float v) { put(w, &v, 4); }
static void put_f64(writer *w, double v) { put(w, &v, 8); }

static eef_err finish(writer *w)
{
    if (!w->err) {
        uint32_t crc = w->crc;
        w->err = eef_afile_write(&w->af, &crc, 4);
    }
    if (w->err) {
        eef_afile_abort(&w->af);
        return w->err;
    }
    return eef_afile_commit(&w->af);
}

/* A frozen model's weights, written in the trainable layout's order as
 * f32, one row at a time. */
static void put_rows(writer *w, const eef_tensor *t, float *row)
{
    for (int r = 0; r < t->rows && !w->err; r++) {
        nn_tensor_rows_f32(t, r, r + 1, row);
        put(w, row, (size_t)t->cols * sizeof(float));
    }
}

static void put_frozen(writer *w, const eef_model *m, float *row)
{
    const eef_model_config *c = &m->cfg;
    const int L = c->n_layers, D = c->d_model, hd = c->head_dim,
              W = (c->n_heads + 2 * c->n_kv_heads) * hd;
    put_rows(w, &m->embed, row);
    for (int l = 0; l < L; l++) put(w, m->layer[l].attn_norm, (size_t)D * sizeof(float));
    for (int l = 0; l < L; l++) {
        put_rows(w, &m->layer[l].wq, row);
        put_rows(w, &m->layer[l].wk, row);
        put_rows(w, &m->layer[l].wv, row);
    }
    for (int l = 0; l < L; l++) put_rows(w, &m->layer[l].wo, row);
    for (int l = 0; l < L; l++) put(w, m->layer[l].mlp_norm, (size_t)D * sizeof(float));
    for (int l = 0; l < L; l++) {
        put_rows(w, &m->layer[l].w1, row);
        put_rows(w, &m->layer[l].w3, row);
    }
    for (int l = 0; l < L; l++) put_rows(w, &m->layer[l].w2, row);
    put(w, m->out_norm, (size_t)D * sizeof(float));
    if (!c->tied) put_rows(w, &m->head, row);
    for (int l = 0; c->qkv_bias && l < L; l++) put(w, m->layer[l].bqkv, (size_t)W * sizeof(float));
    for (int l = 0; c->qk_norm && l < L; l++) put(w, m->layer[l].q_norm, (size_t)hd * sizeof(float));
    for (int l = 0; c->qk_norm && l < L; l++) put(w, m->layer[l].k_norm, (size_t)hd * sizeof(float));
}

eef_err eef_model_save(const eef_model *m, const char *path)
{
    eef_buf tok;
    eef_buf_init(&tok);
    if (m->tok) EEF_TRY(eef_tok_save(m->tok, &tok));
    writer w = { .crc = 0 };
    eef_err e = eef_afile_open(&w.af, path);
    if (e) {
        eef_buf_free(&tok);
        return e;
    }
    const eef_model_config *c = &m->cfg;
    const int v1 = config_is_v1(c);
    put(&w, "EEFM", 4);
    put_u32(&w, v1 ? 1 : 2);
    put_i32(&w, c->vocab), put_i32(&w, c->d_model), put_i32(&w, c->n_layers);
    put_i32(&w, c->n_heads), put_i32(&w, c->d_ff), put_i32(&w, c->max_ctx), put_i32(&w, c->tied);
    put_f32(&w, c->rope_theta), put_f32(&w, c->norm_eps);
    if (!v1) {
        put_i32(&w, c->n_kv_heads), put_i32(&w, c->head_dim), put_i32(&w, c->qkv_bias);
        put_i32(&w, c->qk_norm), put_i32(&w, c->rope_layout);
        put_f32(&w, c->rope_scaling.factor), put_f32(&w, c->rope_scaling.low_freq_factor);
        put_f32(&w, c->rope_scaling.high_freq_factor), put_i32(&w, c->rope_scaling.original_ctx);
    }
    put_u64(&w, tok.len);
    put(&w, tok.data, tok.len);
    put_u64(&w, eef_model_n_params(c));
    if (m->params) {
        put(&w, m->params, m->n_params * sizeof(float));
    } else {
        int cols = c->d_model > c->d_ff ? c->d_model : c->d_ff;
        if (c->n_heads * c->head_dim > cols) cols = c->n_heads * c->head_dim;
        float *row = eef_malloc((size_t)cols * sizeof(float));
        if (!row) w.err = EEF_ENOMEM;
        else put_frozen(&w, m, row);
        free(row);
    }
    eef_buf_free(&tok);
    return finish(&w);
}

eef_err eef_adamw_save(const eef_adamw *o, const char *path)
{
    writer w = { .crc = 0 };
    EEF_TRY(eef_afile_open(&w.af, path));
    const eef_adamw_config *c = &o->cfg;
    put(&w, "EEFO", 4);
    put_u32(&w, EEFO_VERSION);
    put_f64(&w, c->lr), put_f64(&w, c->beta1), put_f64(&w, c->beta2), put_f64(&w, c->eps);
    put_f64(&w, c->weight_decay), put_f64(&w, c->clip), put_f64(&w, c->min_lr_frac);
    put_u64(&w, (uint64_t)c->warmup), put_u64(&w, (uint64_t)c->total_steps);
    put_i32(&w, c->cosine);
    put_u64(&w, (uint64_t)o->step);
    put_u64(&w, o->n);
    put(&w, o->m, o->n * sizeof(float));
    put(&w, o->v, o->n * sizeof(float));
    return finish(&w);
}

/* ------------------------------------------------------------ reading */
typedef struct {
    const unsigned char *p;
    size_t len, off;
    const char *path;
} reader;

static eef_err get(reader *r, void *dst, size_t n, const char *what)
{
    if (n > r->len - r->off)
        return eef_fail(EEF_EFORMAT, "%s: truncated at byte %zu (reading %s)", r->path, r->off,
                        what);
    memcpy(dst, r->p + r->off, n);
    r->off += n;
    return EEF_OK;
}

/* Checks magic, version (one of versions[0..n_versions)) and checksum
 * before anything else is trusted; *version_out gets the version. */
static eef_err open_checked(reader *r, const char *magic, const uint32_t *versions,
                            int n_versions, const char *kind, uint32_t *version_out)
{
    char mg[4];
    uint32_t ver = 0;
    if (r->len < 12)
        return eef_fail(EEF_EFORMAT, "%s: too short (%zu bytes) to be a %s file", r->path, r->len,
                        kind);
    EEF_TRY(get(r, mg, 4, "magic"));
    if (memcmp(mg, magic, 4) != 0)
        return eef_fail(EEF_EFORMAT, "%s: not a %s file (bad magic)", r->path, kind);
    EEF_TRY(get(r, &ver, 4, "version"));
    int known = 0;
    for (int i = 0; i < n_versions; i++) known |= ver == versions[i];
    if (!known) {
        if (n_versions == 1)
            return eef_fail(EEF_EFORMAT, "%s: %s version %u, this eef reads version %u", r->path,
                            kind, ver, versions[0]);
        return eef_fail(EEF_EFORMAT, "%s: %s version %u, this eef reads versions %u to %u",
                        r->path, kind, ver, versions[0], versions[n_versions - 1]);
    }
    *version_out = ver;
    uint32_t stored;
    memcpy(&stored, r->p + r->len - 4, 4);
    if (eef_crc32(0, r->p, r->len - 4) != stored)
        return eef_fail(EEF_EFORMAT, "%s: checksum mismatch (file truncated or corrupted)",
                        r->path);
    r->len -= 4; /* the CRC is not content */
    return EEF_OK;
}

eef_err nn_load_eefm(const char *path, const eef_load_opts *o, eef_model **out)
{
    *out = NULL;
    char *data;
    size_t len;
    EEF_TRY(eef_read_file(path, &data, &len));
    reader r = { (const unsigned char *)data, len, 0, path };
    static const uint32_t versions[] = { 1, 2 };
    uint32_t version = 0;
    eef_err e = open_checked(&r, "EEFM", versions, 2, "eef model (.eefm)", &version);
    eef_model_config c = { 0 };
    int32_t i32[7], x32[5] = { 0 }, orig = 0;
    float f32[2], xf[3] = { 0 };
    uint64_t tok_len = 0, n_params = 0;
    eef_tokenizer *tok = NULL;
    eef_model *m = NULL;
    if (!e) e = get(&r, i32, sizeof i32, "config");
    if (!e) e = get(&r, f32, sizeof f32, "config");
    if (!e && version == 2) e = get(&r, x32, sizeof x32, "config");
    if (!e && version == 2) e = get(&r, xf, sizeof xf, "config");
    if (!e && version == 2) e = get(&r, &orig, 4, "config");
    if (!e) {
        c = (eef_model_config){ .vocab = i32[0], .d_model = i32[1], .n_layers = i32[2],
                                .n_heads = i32[3], .d_ff = i32[4], .max_ctx = i32[5],
                                .tied = i32[6], .rope_theta = f32[0], .norm_eps = f32[1],
                                .n_kv_heads = x32[0], .head_dim = x32[1], .qkv_bias = x32[2],
                                .qk_norm = x32[3], .rope_layout = x32[4],
                                .rope_scaling = { xf[0], xf[1], xf[2], orig } };
        e = eef_model_config_check(&c);
        if (e) e = eef_fail_ctx(EEF_EFORMAT, "%s", path);
    }
    if (!e && version == 2) {
        /* the writer stores resolved values, and version 2 only when needed */
        eef_model_config rc = c;
        eef_model_config_resolve(&rc);
        if (c.n_kv_heads == 0 || c.head_dim == 0 || config_is_v1(&rc))
            e = eef_fail(EEF_EFORMAT, "%s: a version 2 config no eef writes (%s)", path,
                         config_is_v1(&rc) ? "version 1 holds it" : "unresolved head counts");
    }
    if (!e) e = get(&r, &tok_len, 8, "tokenizer size");
    if (!e && tok_len > r.len - r.off)
        e = eef_fail(EEF_EFORMAT, "%s: tokenizer size %llu exceeds the file", path,
                     (unsigned long long)tok_len);
    if (!e && tok_len > 0) {
        char where[600];
        snprintf(where, sizeof where, "%s: tokenizer", path);
        e = eef_tok_load(r.p + r.off, tok_len, where, &tok);
        r.off += tok_len;
    }
    /* eef's own tokenizer has exactly one token per embedding row; an
     * imported one (EEFH) may have fewer ids than rows (Qwen pads its
     * embedding), never more */
    if (!e && tok &&
        (eef_tok_kind_of(tok) == EEF_TOK_KIND_EEF ? eef_tok_vocab_size(tok) != c.vocab
                                                  : eef_tok_vocab_size(tok) > c.vocab))
        e = eef_fail(EEF_EFORMAT, "%s: the tokenizer has %d tokens, the config's vocabulary %d",
                     path, eef_tok_vocab_size(tok), c.vocab);
    if (!e) e = get(&r, &n_params, 8, "parameter count");
    if (!e && n_params != eef_model_n_params(&c))
        e = eef_fail(EEF_EFORMAT, "%s: %llu parameters stored, the config needs %zu", path,
                     (unsigned long long)n_params, eef_model_n_params(&c));
    if (!e && (n_params > (r.len - r.off) / sizeof(float) || r.len - r.off != n_params * sizeof(float)))
        e = eef_fail(EEF_EFORMAT, "%s: %zu bytes of weights, expected %llu", path, r.len - r.off,
                     (unsigned long long)(n_params * sizeof(float)));
    if (!e) {
        e = eef_model_alloc(&c, tok, &m);
        /* e.g. a tokenizer of another size than the config's vocab */
        if (e && e != EEF_ENOMEM) e = eef_fail_ctx(EEF_EFORMAT, "%s", path);
    }
    if (!e) {
        tok = NULL; /* owned by the model now */
        memcpy(m->params, r.p + r.off, n_params * sizeof(float));
    }
    if (tok) eef_tok_free(tok);
    free(data);
    if (!e && o && !o->trainable)
        e = eef_model_freeze(m, o->dtype == EEF_DT_COUNT ? EEF_DT_F32 : o->dtype);
    if (e) {
        eef_model_free(m);
        return e;
    }
    *out = m;
    return EEF_OK;
}

eef_err eef_adamw_load(const char *path, size_t n_params, eef_adamw **out)
{
    *out = NULL;
    char *data;
    size_t len;
    EEF_TRY(eef_read_file(path, &data, &len));
    reader r = { (const unsigned char *)data, len, 0, path };
    static const uint32_t versions[] = { EEFO_VERSION };
    uint32_t version;
    eef_err e = open_checked(&r, "EEFO", versions, 1, "eef optimizer state (.eefo)", &version);
    double d[7] = { 0 };
    uint64_t u[2] = { 0, 0 }, step = 0, n = 0;
    int32_t cosine = 0;
    if (!e) e = get(&r, d, sizeof d, "optimizer config");
    if (!e) e = get(&r, u, sizeof u, "optimizer config");
    if (!e) e = get(&r, &cosine, 4, "optimizer config");
    if (!e) e = get(&r, &step, 8, "step");
    if (!e) e = get(&r, &n, 8, "size");
    /* values no writer produces: a file of another program, or damage the
     * CRC happened to miss */
    for (int i = 0; !e && i < 7; i++)
        if (!isfinite(d[i]))
            e = eef_fail(EEF_EFORMAT, "%s: optimizer setting %d is not finite", path, i);
    if (!e && (u[0] > (uint64_t)LONG_MAX || u[1] > (uint64_t)LONG_MAX || step > (uint64_t)LONG_MAX))
        e = eef_fail(EEF_EFORMAT, "%s: step counts out of range", path);
    if (!e && cosine != 0 && cosine != 1)
        e = eef_fail(EEF_EFORMAT, "%s: schedule flag %d is not 0 or 1", path, (int)cosine);
    if (!e && n != n_params)
        e = eef_fail(EEF_EFORMAT, "%s: optimizer state for %llu parameters, the model has %zu",
                     path, (unsigned long long)n, n_params);
    /* compared by division: 2 * n * 4 wraps to 0 for n = 2^61 */
    if (!e && (n > (r.len - r.off) / (2 * sizeof(float)) || r.len - r.off != 2 * n * sizeof(float)))
        e = eef_fail(EEF_EFORMAT, "%s: %zu bytes of moments, expected %llu", path, r.len - r.off,
                     (unsigned long long)(2 * n * sizeof(float)));
    eef_adamw *o = NULL;
    if (!e) {
        eef_adamw_config c = { .lr = d[0], .beta1 = d[1], .beta2 = d[2], .eps = d[3],
                               .weight_decay = d[4], .clip = d[5], .min_lr_frac = d[6],
                               .warmup = (long)u[0], .total_steps = (long)u[1],
                               .cosine = cosine };
        e = eef_adamw_new(&c, n, &o);
        if (e) e = eef_fail_ctx(EEF_EFORMAT, "%s", path);
    }
    if (!e) {
        o->step = (long)step;
        memcpy(o->m, r.p + r.off, n * sizeof(float));
        memcpy(o->v, r.p + r.off + n * sizeof(float), n * sizeof(float));
        *out = o;
    }
    free(data);
    return e;
}

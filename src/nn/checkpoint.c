/* checkpoint.c: the .eefm (model) and .eefo (optimizer) files.
 *
 * .eefm, little-endian:
 *   "EEFM" u32 version=1
 *   config: i32 vocab d_model n_layers n_heads d_ff max_ctx tied, f32 rope_theta norm_eps
 *   u64 tokenizer bytes, the tokenizer (text/ format; 0 bytes if none)
 *   u64 n_params, f32[n_params]
 *   u32 CRC-32 of all preceding bytes
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

#define EEFM_VERSION 1
#define EEFO_VERSION 1

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
    put(&w, "EEFM", 4);
    put_u32(&w, EEFM_VERSION);
    put_i32(&w, c->vocab), put_i32(&w, c->d_model), put_i32(&w, c->n_layers);
    put_i32(&w, c->n_heads), put_i32(&w, c->d_ff), put_i32(&w, c->max_ctx), put_i32(&w, c->tied);
    put_f32(&w, c->rope_theta), put_f32(&w, c->norm_eps);
    put_u64(&w, tok.len);
    put(&w, tok.data, tok.len);
    put_u64(&w, m->n_params);
    put(&w, m->params, m->n_params * sizeof(float));
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

/* Checks magic, version and checksum before anything else is trusted. */
static eef_err open_checked(reader *r, const char *magic, uint32_t version, const char *kind)
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
    if (ver != version)
        return eef_fail(EEF_EFORMAT, "%s: %s version %u, this eef reads version %u", r->path,
                        kind, ver, version);
    uint32_t stored;
    memcpy(&stored, r->p + r->len - 4, 4);
    if (eef_crc32(0, r->p, r->len - 4) != stored)
        return eef_fail(EEF_EFORMAT, "%s: checksum mismatch (file truncated or corrupted)",
                        r->path);
    r->len -= 4; /* the CRC is not content */
    return EEF_OK;
}

eef_err eef_model_load(const char *path, eef_model **out)
{
    *out = NULL;
    char *data;
    size_t len;
    EEF_TRY(eef_read_file(path, &data, &len));
    reader r = { (const unsigned char *)data, len, 0, path };
    eef_err e = open_checked(&r, "EEFM", EEFM_VERSION, "eef model (.eefm)");
    eef_model_config c = { 0 };
    int32_t i32[7];
    float f32[2];
    uint64_t tok_len = 0, n_params = 0;
    eef_tokenizer *tok = NULL;
    eef_model *m = NULL;
    if (!e) e = get(&r, i32, sizeof i32, "config");
    if (!e) e = get(&r, f32, sizeof f32, "config");
    if (!e) {
        c = (eef_model_config){ i32[0], i32[1], i32[2], i32[3], i32[4], i32[5], i32[6], f32[0], f32[1] };
        e = eef_model_config_check(&c);
        if (e) e = eef_fail_ctx(EEF_EFORMAT, "%s", path);
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
        *out = m;
    }
    if (tok) eef_tok_free(tok);
    free(data);
    return e;
}

eef_err eef_adamw_load(const char *path, size_t n_params, eef_adamw **out)
{
    *out = NULL;
    char *data;
    size_t len;
    EEF_TRY(eef_read_file(path, &data, &len));
    reader r = { (const unsigned char *)data, len, 0, path };
    eef_err e = open_checked(&r, "EEFO", EEFO_VERSION, "eef optimizer state (.eefo)");
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

/* gguf.c: the GGUF reader (gguf.h describes the format).
 *
 * Two passes over the header: the first walks every key, value and tensor
 * info checking each length against the bytes left (nothing allocated),
 * the second, with arrays sized by the counts the first pass proved the
 * file holds, records them.  Then alignment, tensor spans, duplicates and
 * overlaps are checked on the records. */
#include "gguf.h"

#include <stdlib.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "GGUF is read as little-endian: port the reader first"
#endif

#define GG_MAX_DEPTH 4      /* nested arrays */
#define GG_MAX_NAME 256     /* tensor names (llama.cpp: 64) */

typedef struct {
    const unsigned char *p, *end;
    const char *path;
} cursor;

static size_t left(const cursor *c) { return (size_t)(c->end - c->p); }

static eef_err too_short(const cursor *c, const char *what)
{
    return eef_fail(EEF_EFORMAT, "%s: truncated: %s ends past the end of the file", c->path, what);
}

static eef_err rd(cursor *c, void *dst, size_t n, const char *what)
{
    if (left(c) < n) return too_short(c, what);
    memcpy(dst, c->p, n);
    c->p += n;
    return EEF_OK;
}

static eef_err rd_str(cursor *c, gg_str *s, const char *what)
{
    uint64_t n = 0;
    EEF_TRY(rd(c, &n, 8, what));
    if (n > left(c))
        return eef_fail(EEF_EFORMAT, "%s: %s claims %llu bytes, %zu are left in the file", c->path,
                        what, (unsigned long long)n, left(c));
    s->p = (const char *)c->p, s->n = (size_t)n;
    c->p += n;
    return EEF_OK;
}

size_t gg_type_size(uint32_t t)
{
    static const unsigned char size[GG_NTYPES] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };
    return t < GG_NTYPES ? size[t] : 0;
}

const char *gg_type_name(uint32_t t)
{
    static const char *const names[GG_NTYPES] = { "uint8", "int8", "uint16", "int16", "uint32",
                                                  "int32", "float32", "bool", "string", "array",
                                                  "uint64", "int64", "float64" };
    return t < GG_NTYPES ? names[t] : "unknown";
}

/* Skips one value of type t (validating it); depth counts array nesting. */
static eef_err skip_value(cursor *c, uint32_t t, int depth, const char *what)
{
    if (t >= GG_NTYPES)
        return eef_fail(EEF_EFORMAT, "%s: %s has unknown value type %u", c->path, what, t);
    if (t == GG_STRING) {
        gg_str s;
        return rd_str(c, &s, what);
    }
    if (t != GG_ARRAY) {
        if (left(c) < gg_type_size(t)) return too_short(c, what);
        if (t == GG_BOOL && *c->p > 1)
            return eef_fail(EEF_EFORMAT, "%s: %s: a bool is %u", c->path, what, *c->p);
        c->p += gg_type_size(t);
        return EEF_OK;
    }
    if (depth >= GG_MAX_DEPTH)
        return eef_fail(EEF_EFORMAT, "%s: %s: arrays nested more than %d deep", c->path, what,
                        GG_MAX_DEPTH);
    uint32_t et = 0;
    uint64_t n = 0;
    EEF_TRY(rd(c, &et, 4, what));
    EEF_TRY(rd(c, &n, 8, what));
    if (et >= GG_NTYPES)
        return eef_fail(EEF_EFORMAT, "%s: %s: array of unknown value type %u", c->path, what, et);
    size_t es = gg_type_size(et);
    if (es) {
        if (n > left(c) / es)
            return eef_fail(EEF_EFORMAT, "%s: %s: array of %llu %s values needs more than the %zu "
                            "bytes left", c->path, what, (unsigned long long)n, gg_type_name(et),
                            left(c));
        if (et != GG_BOOL) {
            c->p += n * es;
            return EEF_OK;
        }
    }
    /* strings need 8 bytes each and arrays 12 at least: the count is
     * bounded by the bytes left before the walk */
    if (!es && n > left(c) / 8)
        return eef_fail(EEF_EFORMAT, "%s: %s: array of %llu %ss needs more than the %zu bytes left",
                        c->path, what, (unsigned long long)n, gg_type_name(et), left(c));
    for (uint64_t i = 0; i < n; i++) EEF_TRY(skip_value(c, et, depth + 1, what));
    return EEF_OK;
}

static int cmp_str(gg_str a, gg_str b)
{
    int r = memcmp(a.p, b.p, a.n < b.n ? a.n : b.n);
    return r ? r : (a.n > b.n) - (a.n < b.n);
}

static int cmp_kv(const void *a, const void *b)
{
    return cmp_str((*(const gg_kv *const *)a)->key, (*(const gg_kv *const *)b)->key);
}

static int cmp_tensor_name(const void *a, const void *b)
{
    return cmp_str((*(const gg_tensor *const *)a)->name, (*(const gg_tensor *const *)b)->name);
}

static int cmp_tensor_off(const void *a, const void *b)
{
    const gg_tensor *x = *(const gg_tensor *const *)a, *y = *(const gg_tensor *const *)b;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

int gg_str_eq(gg_str s, const char *c) { return strlen(c) == s.n && memcmp(s.p, c, s.n) == 0; }

/* ggml types eef reads */
static int dtype_of(uint32_t t, eef_dtype *out)
{
    switch (t) {
    case GGML_F32: *out = EEF_DT_F32; return 1;
    case GGML_F16: *out = EEF_DT_F16; return 1;
    case GGML_BF16: *out = EEF_DT_BF16; return 1;
    case GGML_Q8_0: *out = EEF_DT_Q8_0; return 1;
    case GGML_Q4_K: *out = EEF_DT_Q4_K; return 1;
    case GGML_Q5_K: *out = EEF_DT_Q5_K; return 1;
    case GGML_Q6_K: *out = EEF_DT_Q6_K; return 1;
    default: return 0;
    }
}

static const char *ggml_type_name(uint32_t t)
{
    static const char *const names[] = {
        [0] = "F32", [1] = "F16", [2] = "Q4_0", [3] = "Q4_1", [6] = "Q5_0", [7] = "Q5_1",
        [8] = "Q8_0", [9] = "Q8_1", [10] = "Q2_K", [11] = "Q3_K", [12] = "Q4_K", [13] = "Q5_K",
        [14] = "Q6_K", [15] = "Q8_K", [16] = "IQ2_XXS", [17] = "IQ2_XS", [18] = "IQ3_XXS",
        [19] = "IQ1_S", [20] = "IQ4_NL", [21] = "IQ3_S", [22] = "IQ2_S", [23] = "IQ4_XS",
        [24] = "I8", [25] = "I16", [26] = "I32", [27] = "I64", [28] = "F64", [29] = "IQ1_M",
        [30] = "BF16", [34] = "TQ1_0", [35] = "TQ2_0", [39] = "MXFP4",
    };
    return t < sizeof names / sizeof *names && names[t] ? names[t] : "unknown";
}

/* One tensor info, read and checked on its own (shape, type, size). */
static eef_err read_info(cursor *c, uint64_t k, gg_tensor *t)
{
    char what[64];
    snprintf(what, sizeof what, "tensor info %llu", (unsigned long long)k);
    EEF_TRY(rd_str(c, &t->name, what));
    if (t->name.n == 0 || t->name.n > GG_MAX_NAME || memchr(t->name.p, 0, t->name.n))
        return eef_fail(EEF_EFORMAT, "%s: %s: a tensor name of %zu bytes%s", c->path, what,
                        t->name.n, t->name.n && t->name.n <= GG_MAX_NAME ? " with a NUL" : "");
    const int nl = (int)t->name.n;
    EEF_TRY(rd(c, &t->n_dims, 4, what));
    if (t->n_dims < 1 || t->n_dims > 4)
        return eef_fail(EEF_EFORMAT, "%s: tensor '%.*s' has %u dims (1 to 4)", c->path, nl,
                        t->name.p, t->n_dims);
    uint64_t n = 1;
    for (uint32_t d = 0; d < 4; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        EEF_TRY(rd(c, &t->ne[d], 8, what));
        if (t->ne[d] == 0 || t->ne[d] > INT32_MAX)
            return eef_fail(EEF_EFORMAT, "%s: tensor '%.*s' has dim %u of %llu", c->path, nl,
                            t->name.p, d, (unsigned long long)t->ne[d]);
        if (__builtin_mul_overflow(n, t->ne[d], &n) || n > ((uint64_t)1 << 48))
            return eef_fail(EEF_EFORMAT, "%s: tensor '%.*s': its dims' product overflows", c->path,
                            nl, t->name.p);
    }
    EEF_TRY(rd(c, &t->ggml_type, 4, what));
    EEF_TRY(rd(c, &t->offset, 8, what));
    if (!dtype_of(t->ggml_type, &t->dtype))
        return eef_fail(EEF_EFORMAT, "%s: tensor '%.*s' has type %s (%u); eef reads F32, F16, BF16, "
                        "Q8_0, Q4_K, Q5_K and Q6_K", c->path, nl, t->name.p,
                        ggml_type_name(t->ggml_type), t->ggml_type);
    size_t rb = eef_dtype_row_bytes(t->dtype, (int)t->ne[0]);
    if (!rb)
        return eef_fail(EEF_EFORMAT, "%s: tensor '%.*s': rows of %llu are not whole %s blocks",
                        c->path, nl, t->name.p, (unsigned long long)t->ne[0],
                        eef_dtype_name(t->dtype));
    /* n / ne[0] rows of rb bytes: below 2^48 * 2 bytes, no overflow */
    t->bytes = n / t->ne[0] * rb;
    return EEF_OK;
}

static eef_err walk_kv(cursor *c, uint64_t k, gg_kv *kv)
{
    char what[80];
    snprintf(what, sizeof what, "key %llu", (unsigned long long)k);
    gg_str key;
    EEF_TRY(rd_str(c, &key, what));
    if (key.n == 0 || key.n > 65535 || memchr(key.p, 0, key.n))
        return eef_fail(EEF_EFORMAT, "%s: %s: a key of %zu bytes%s", c->path, what, key.n,
                        key.n && key.n <= 65535 ? " with a NUL" : "");
    snprintf(what, sizeof what, "value of '%.*s'", key.n > 48 ? 48 : (int)key.n, key.p);
    uint32_t t = 0;
    EEF_TRY(rd(c, &t, 4, what));
    const unsigned char *val = c->p;
    EEF_TRY(skip_value(c, t, 0, what));
    if (!kv) return EEF_OK;
    memset(kv, 0, sizeof *kv);
    kv->key = key, kv->type = t;
    switch (t) {
    case GG_UINT8: kv->v.u = val[0]; break;
    case GG_BOOL: kv->v.u = val[0]; break;
    case GG_INT8: kv->v.i = (int8_t)val[0]; break;
    case GG_UINT16: { uint16_t x; memcpy(&x, val, 2); kv->v.u = x; break; }
    case GG_INT16: { int16_t x; memcpy(&x, val, 2); kv->v.i = x; break; }
    case GG_UINT32: { uint32_t x; memcpy(&x, val, 4); kv->v.u = x; break; }
    case GG_INT32: { int32_t x; memcpy(&x, val, 4); kv->v.i = x; break; }
    case GG_FLOAT32: { float x; memcpy(&x, val, 4); kv->v.f = x; break; }
    case GG_UINT64: memcpy(&kv->v.u, val, 8); break;
    case GG_INT64: memcpy(&kv->v.i, val, 8); break;
    case GG_FLOAT64: memcpy(&kv->v.f, val, 8); break;
    case GG_STRING: {
        uint64_t n;
        memcpy(&n, val, 8);
        kv->v.s = (gg_str){ (const char *)val + 8, (size_t)n };
        break;
    }
    case GG_ARRAY:
        memcpy(&kv->v.a.type, val, 4);
        memcpy(&kv->v.a.n, val + 4, 8);
        kv->v.a.data = val + 12;
        break;
    }
    return EEF_OK;
}

/* Both passes over the key/values and tensor infos; out NULL: validate only. */
static eef_err walk(cursor *c, uint64_t n_kv, uint64_t n_t, gg_kv *kv, gg_tensor *t)
{
    for (uint64_t k = 0; k < n_kv; k++) EEF_TRY(walk_kv(c, k, kv ? &kv[k] : NULL));
    for (uint64_t k = 0; k < n_t; k++) {
        gg_tensor tmp, *dst = t ? &t[k] : &tmp;
        EEF_TRY(read_info(c, k, dst));
    }
    return EEF_OK;
}

static eef_err check_unique(gg_file *f)
{
    size_t n = f->n_kv > f->n_tensors ? f->n_kv : f->n_tensors;
    const void **idx = eef_malloc((n ? n : 1) * sizeof *idx);
    if (!idx) return EEF_ENOMEM;
    eef_err e = EEF_OK;
    for (size_t i = 0; i < f->n_kv; i++) idx[i] = &f->kv[i];
    qsort(idx, f->n_kv, sizeof *idx, cmp_kv);
    for (size_t i = 1; !e && i < f->n_kv; i++) {
        const gg_kv *a = idx[i - 1], *b = idx[i];
        if (cmp_str(a->key, b->key) == 0)
            e = eef_fail(EEF_EFORMAT, "%s: key '%.*s' appears twice", f->path,
                         a->key.n > 80 ? 80 : (int)a->key.n, a->key.p);
    }
    for (size_t i = 0; !e && i < f->n_tensors; i++) idx[i] = &f->t[i];
    if (!e) qsort(idx, f->n_tensors, sizeof *idx, cmp_tensor_name);
    for (size_t i = 1; !e && i < f->n_tensors; i++) {
        const gg_tensor *a = idx[i - 1], *b = idx[i];
        if (cmp_str(a->name, b->name) == 0)
            e = eef_fail(EEF_EFORMAT, "%s: tensor '%.*s' appears twice", f->path, (int)a->name.n,
                         a->name.p);
    }
    /* no two tensors share bytes */
    if (!e) qsort(idx, f->n_tensors, sizeof *idx, cmp_tensor_off);
    for (size_t i = 1; !e && i < f->n_tensors; i++) {
        const gg_tensor *a = idx[i - 1], *b = idx[i];
        if (a->offset + a->bytes > b->offset)
            e = eef_fail(EEF_EFORMAT, "%s: tensors '%.*s' and '%.*s' overlap", f->path,
                         (int)a->name.n, a->name.p, (int)b->name.n, b->name.p);
    }
    free(idx);
    return e;
}

eef_err gg_parse(const unsigned char *file, size_t len, const char *path, gg_file *out)
{
    memset(out, 0, sizeof *out);
    out->path = path;
    cursor c = { file, file + len, path };
    char magic[4];
    uint32_t version = 0;
    uint64_t n_t = 0, n_kv = 0;
    if (len < 4 || memcmp(file, "GGUF", 4) != 0)
        return eef_fail(EEF_EFORMAT, "%s: not a GGUF file (no \"GGUF\" magic)", path);
    EEF_TRY(rd(&c, magic, 4, "the magic"));
    EEF_TRY(rd(&c, &version, 4, "the version"));
    if (version == 1)
        return eef_fail(EEF_EFORMAT, "%s: GGUF version 1 (32-bit counts) is not supported; eef "
                        "reads versions 2 and 3", path);
    if (version > 0xffff && (version >> 24) <= 3)
        return eef_fail(EEF_EFORMAT, "%s: a big-endian GGUF file; eef reads little-endian ones", path);
    if (version != 2 && version != 3)
        return eef_fail(EEF_EFORMAT, "%s: GGUF version %u; eef reads versions 2 and 3", path, version);
    EEF_TRY(rd(&c, &n_t, 8, "the tensor count"));
    EEF_TRY(rd(&c, &n_kv, 8, "the key count"));
    /* a key/value takes 13 bytes at least, a tensor info 32 */
    if (n_kv > left(&c) / 13 || n_t > left(&c) / 32 || n_kv * 13 + n_t * 32 > left(&c))
        return eef_fail(EEF_EFORMAT, "%s: %llu keys and %llu tensors cannot fit in %zu bytes", path,
                        (unsigned long long)n_kv, (unsigned long long)n_t, len);
    cursor c2 = c;
    EEF_TRY(walk(&c2, n_kv, n_t, NULL, NULL));
    out->n_kv = (size_t)n_kv, out->n_tensors = (size_t)n_t;
    out->version = version;
    out->kv = eef_calloc(n_kv ? n_kv : 1, sizeof *out->kv);
    out->t = eef_calloc(n_t ? n_t : 1, sizeof *out->t);
    if (!out->kv || !out->t) {
        gg_free(out);
        return EEF_ENOMEM;
    }
    eef_err e = walk(&c, n_kv, n_t, out->kv, out->t);
    out->alignment = 32;
    const gg_kv *al = e ? NULL : gg_get(out, "general.alignment");
    if (al) {
        if (al->type != GG_UINT32 || al->v.u == 0 || (al->v.u & (al->v.u - 1)))
            e = eef_fail(EEF_EFORMAT, "%s: general.alignment must be a uint32 power of two", path);
        else out->alignment = al->v.u;
    }
    if (!e) {
        size_t head = (size_t)(c.p - file);
        size_t start = (head + (size_t)out->alignment - 1) / (size_t)out->alignment * (size_t)out->alignment;
        if (n_t && start > len)
            e = eef_fail(EEF_EFORMAT, "%s: truncated: no data section after the header", path);
        size_t dlen = start > len ? 0 : len - start;
        out->data = file + (start > len ? len : start);
        for (size_t k = 0; !e && k < out->n_tensors; k++) {
            gg_tensor *t = &out->t[k];
            if (t->offset % out->alignment)
                e = eef_fail(EEF_EFORMAT, "%s: tensor '%.*s': offset %llu is not a multiple of the "
                             "alignment %llu", path, (int)t->name.n, t->name.p,
                             (unsigned long long)t->offset, (unsigned long long)out->alignment);
            else if (t->offset > dlen || t->bytes > dlen - t->offset)
                e = eef_fail(EEF_EFORMAT, "%s: tensor '%.*s': %llu bytes at offset %llu end past the "
                             "file's %zu bytes of data", path, (int)t->name.n, t->name.p,
                             (unsigned long long)t->bytes, (unsigned long long)t->offset, dlen);
            else t->data = out->data + t->offset;
        }
    }
    if (!e) e = check_unique(out);
    if (e) gg_free(out);
    return e;
}

void gg_free(gg_file *f)
{
    free(f->kv);
    free(f->t);
    f->kv = NULL, f->t = NULL, f->n_kv = f->n_tensors = 0;
}

const gg_kv *gg_get(const gg_file *f, const char *key)
{
    for (size_t i = 0; i < f->n_kv; i++)
        if (gg_str_eq(f->kv[i].key, key)) return &f->kv[i];
    return NULL;
}

const gg_tensor *gg_tensor_get(const gg_file *f, const char *name)
{
    for (size_t i = 0; i < f->n_tensors; i++)
        if (gg_str_eq(f->t[i].name, name)) return &f->t[i];
    return NULL;
}

int gg_int(const gg_kv *kv, int64_t lo, int64_t hi, int64_t *out)
{
    int64_t v;
    switch (kv->type) {
    case GG_UINT8: case GG_UINT16: case GG_UINT32: case GG_BOOL: v = (int64_t)kv->v.u; break;
    case GG_UINT64:
        if (kv->v.u > INT64_MAX) return 0;
        v = (int64_t)kv->v.u;
        break;
    case GG_INT8: case GG_INT16: case GG_INT32: case GG_INT64: v = kv->v.i; break;
    default: return 0;
    }
    if (v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

int gg_float(const gg_kv *kv, double *out)
{
    int64_t i;
    if (kv->type == GG_FLOAT32 || kv->type == GG_FLOAT64) *out = kv->v.f;
    else if (kv->type != GG_BOOL && gg_int(kv, INT64_MIN, INT64_MAX, &i)) *out = (double)i;
    else return 0;
    return 1;
}

const unsigned char *gg_str_next(const unsigned char *p, gg_str *s)
{
    uint64_t n = 0;
    memcpy(&n, p, 8);
    s->p = (const char *)p + 8, s->n = (size_t)n;
    return p + 8 + n;
}

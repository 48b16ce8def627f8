/* safetensors.c: the safetensors reader (validating) and writer. */
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors are little-endian: port the reader first"
#endif

/* The header may not exceed this (the reference implementation's limit). */
#define ST_MAX_HEADER ((uint64_t)100 << 20)

static const struct {
    const char *name;
    int size;
    eef_dtype dt;
} dtypes[] = {
    { "F32", 4, EEF_DT_F32 },     { "F16", 2, EEF_DT_F16 },     { "BF16", 2, EEF_DT_BF16 },
    { "F64", 8, EEF_DT_COUNT },   { "I64", 8, EEF_DT_COUNT },   { "U64", 8, EEF_DT_COUNT },
    { "I32", 4, EEF_DT_COUNT },   { "U32", 4, EEF_DT_COUNT },   { "I16", 2, EEF_DT_COUNT },
    { "U16", 2, EEF_DT_COUNT },   { "I8", 1, EEF_DT_COUNT },    { "U8", 1, EEF_DT_COUNT },
    { "BOOL", 1, EEF_DT_COUNT },  { "F8_E4M3", 1, EEF_DT_COUNT }, { "F8_E5M2", 1, EEF_DT_COUNT },
};

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

static int cmp_begin(const void *a, const void *b)
{
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* A JSON number that is a whole number in [0, max]. */
static int get_u64(const cJSON *v, uint64_t max, uint64_t *out)
{
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0) || d > 9007199254740992.0 || d != (double)(uint64_t)d || (uint64_t)d > max)
        return 0;
    *out = (uint64_t)d;
    return 1;
}

/* One tensor's entry, checked against the data section's size. */
static eef_err parse_entry(const cJSON *e, const char *path, uint64_t data_len, st_tensor *t)
{
    const char *nm = e->string;
    if (!cJSON_IsObject(e))
        return eef_fail(EEF_EFORMAT, "%s: header entry '%s' is not an object", path, nm);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(of))
        return eef_fail(EEF_EFORMAT, "%s: tensor '%s' lacks a dtype, shape or data_offsets", path,
                        nm);
    int size = 0;
    for (size_t i = 0; i < EEF_ARRAY_LEN(dtypes); i++)
        if (strcmp(dt->valuestring, dtypes[i].name) == 0) {
            size = dtypes[i].size;
            t->dtype = dtypes[i].dt;
            snprintf(t->dtype_name, sizeof t->dtype_name, "%s", dtypes[i].name);
        }
    if (!size)
        return eef_fail(EEF_EFORMAT, "%s: tensor '%s' has an unknown dtype '%.16s'", path, nm,
                        dt->valuestring);
    int nd = cJSON_GetArraySize(sh);
    if (nd > ST_MAX_DIMS)
        return eef_fail(EEF_EFORMAT, "%s: tensor '%s' has %d dimensions (at most %d)", path, nm, nd,
                        ST_MAX_DIMS);
    t->n_dims = nd;
    /* the element count, never beyond what the data section could hold */
    uint64_t numel = 1;
    int k = 0;
    for (const cJSON *d = sh->child; d; d = d->next, k++) {
        if (!get_u64(d, data_len, &t->shape[k]))
            return eef_fail(EEF_EFORMAT, "%s: tensor '%s': shape entry %d is not a size within "
                            "the file", path, nm, k);
        if (t->shape[k] && numel > data_len / t->shape[k]) numel = data_len + 1;
        else numel *= t->shape[k];
    }
    if (cJSON_GetArraySize(of) != 2 || !get_u64(of->child, data_len, &t->begin) ||
        !get_u64(of->child->next, data_len, &t->end))
        return eef_fail(EEF_EFORMAT, "%s: tensor '%s': data_offsets are not [begin, end] inside "
                        "the data section (%llu bytes)", path, nm, (unsigned long long)data_len);
    if (t->end < t->begin)
        return eef_fail(EEF_EFORMAT, "%s: tensor '%s': data_offsets end before they begin", path,
                        nm);
    if (numel > data_len || numel * (uint64_t)size != t->end - t->begin)
        return eef_fail(EEF_EFORMAT, "%s: tensor '%s': shape holds %s bytes of %s, its "
                        "data_offsets span %llu", path, nm,
                        numel > data_len ? "more" : "a different number of", t->dtype_name,
                        (unsigned long long)(t->end - t->begin));
    return EEF_OK;
}

eef_err st_parse(const unsigned char *file, size_t len, const char *path, st_file *out)
{
    memset(out, 0, sizeof *out);
    if (len < 8)
        return eef_fail(EEF_EFORMAT, "%s: too short (%zu bytes) to be a safetensors file", path, len);
    uint64_t hlen;
    memcpy(&hlen, file, 8);
    if (hlen > len - 8)
        return eef_fail(EEF_EFORMAT, "%s: header length %llu runs past the end of the file "
                        "(%zu bytes)", path, (unsigned long long)hlen, len);
    if (hlen < 2 || hlen > ST_MAX_HEADER)
        return eef_fail(EEF_EFORMAT, "%s: header length %llu out of range", path,
                        (unsigned long long)hlen);
    if (file[8] != '{')
        return eef_fail(EEF_EFORMAT, "%s: the header is not a JSON object", path);
    char where[600];
    snprintf(where, sizeof where, "%s: header", path);
    cJSON *j;
    EEF_TRY(eef_json_parse((const char *)file + 8, (size_t)hlen, where, &j));
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return eef_fail(EEF_EFORMAT, "%s: the header is not a JSON object", path);
    }
    const uint64_t data_len = len - 8 - hlen;
    /* every entry was parsed from the header: their count is bounded by
     * its length, not by anything it claims */
    size_t n = 0;
    for (const cJSON *e = j->child; e; e = e->next) n += strcmp(e->string, "__metadata__") != 0;
    st_tensor *t = eef_calloc(n ? n : 1, sizeof *t);
    const st_tensor **by_begin = eef_malloc((n ? n : 1) * sizeof *by_begin);
    eef_err err = (!t || !by_begin) ? EEF_ENOMEM : EEF_OK;
    size_t k = 0;
    for (const cJSON *e = j->child; !err && e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(e)) err = eef_fail(EEF_EFORMAT, "%s: __metadata__ is not an object", path);
            for (const cJSON *m = e->child; !err && m; m = m->next)
                if (!cJSON_IsString(m))
                    err = eef_fail(EEF_EFORMAT, "%s: __metadata__ value '%s' is not a string", path,
                                   m->string);
            continue;
        }
        err = parse_entry(e, path, data_len, &t[k]);
        if (!err && !(t[k].name = eef_strdup(e->string))) err = EEF_ENOMEM;
        if (!err) k++;
    }
    cJSON_Delete(j);
    if (!err) {
        qsort(t, n, sizeof *t, cmp_name);
        for (size_t i = 1; !err && i < n; i++)
            if (strcmp(t[i - 1].name, t[i].name) == 0)
                err = eef_fail(EEF_EFORMAT, "%s: tensor '%s' appears twice", path, t[i].name);
    }
    if (!err) {
        for (size_t i = 0; i < n; i++) by_begin[i] = &t[i];
        qsort(by_begin, n, sizeof *by_begin, cmp_begin);
        /* a: the tensor reaching furthest so far; empty tensors overlap nothing */
        const st_tensor *a = NULL;
        for (size_t i = 0; !err && i < n; i++) {
            const st_tensor *b = by_begin[i];
            if (b->begin == b->end) continue;
            if (a && b->begin < a->end)
                err = eef_fail(EEF_EFORMAT, "%s: tensors '%s' and '%s' overlap", path, a->name,
                               b->name);
            if (!a || b->end > a->end) a = b;
        }
    }
    free(by_begin);
    if (err) {
        for (size_t i = 0; i < k; i++) free(t[i].name);
        free(t);
        return err;
    }
    out->t = t;
    out->n = n;
    out->data = file + 8 + hlen;
    out->data_len = (size_t)data_len;
    return EEF_OK;
}

void st_free(st_file *f)
{
    for (size_t i = 0; i < f->n; i++) free(f->t[i].name);
    free(f->t);
    memset(f, 0, sizeof *f);
}

const st_tensor *st_find(const st_file *f, const char *name)
{
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(f->t[mid].name, name);
        if (c == 0) return &f->t[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* ------------------------------------------------------------ writing */
void st_writer_init(st_writer *w)
{
    memset(w, 0, sizeof *w);
    eef_buf_init(&w->json);
}

void st_writer_free(st_writer *w) { eef_buf_free(&w->json); }

void st_writer_add(st_writer *w, const char *name, eef_dtype dt, int n_dims, const uint64_t *shape,
                   uint64_t bytes)
{
    eef_buf *b = &w->json;
    w->oom |= eef_buf_printf(b, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", name, eef_dtype_name(dt));
    for (int i = 0; i < n_dims; i++)
        w->oom |= eef_buf_printf(b, "%s%llu", i ? "," : "", (unsigned long long)shape[i]);
    w->oom |= eef_buf_printf(b, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)w->off,
                             (unsigned long long)(w->off + bytes));
    w->off += bytes;
    w->n++;
}

eef_err st_writer_header(st_writer *w, const char *const *meta, int n_meta, eef_afile *af)
{
    eef_buf h;
    eef_buf_init(&h);
    int bad = w->oom || eef_buf_puts(&h, "{\"__metadata__\":{");
    for (int i = 0; !bad && i < n_meta; i++)
        bad = eef_buf_printf(&h, "%s\"%s\":\"%s\"", i ? "," : "", meta[2 * i], meta[2 * i + 1]);
    if (!bad) bad = eef_buf_puts(&h, "}");
    if (!bad && w->json.len) bad = eef_buf_append(&h, w->json.data, w->json.len);
    if (!bad) bad = eef_buf_puts(&h, "}");
    while (!bad && h.len % 8) bad = eef_buf_puts(&h, " "); /* data 8-byte aligned */
    if (bad) {
        eef_buf_free(&h);
        return EEF_ENOMEM;
    }
    uint64_t hlen = h.len;
    eef_err e = eef_afile_write(af, &hlen, 8);
    if (!e) e = eef_afile_write(af, h.data, h.len);
    eef_buf_free(&h);
    return e;
}

/* json.c: field access on cJSON with errors that say where, and a UTF-8
 * validator (cJSON accepts any bytes; our formats do not). */
#include "core.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of s[0..n) before the first invalid UTF-8 sequence or NUL (n
 * when there is none). */
static size_t utf8_valid_prefix(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    const unsigned char *start = p;
    while (p < end) {
        unsigned c = *p;
        if (c == 0) return (size_t)(p - start);
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t k;
        unsigned min;
        if ((c & 0xE0) == 0xC0) k = 1, min = 0x80, c &= 0x1F;
        else if ((c & 0xF0) == 0xE0) k = 2, min = 0x800, c &= 0x0F;
        else if ((c & 0xF8) == 0xF0) k = 3, min = 0x10000, c &= 0x07;
        else return (size_t)(p - start);
        if ((size_t)(end - p) <= k) return (size_t)(p - start);
        for (size_t i = 1; i <= k; i++) {
            if ((p[i] & 0xC0) != 0x80) return (size_t)(p - start);
            c = (c << 6) | (p[i] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return (size_t)(p - start);
        p += k + 1;
    }
    return n;
}

int eef_utf8_valid(const char *s, size_t n) { return utf8_valid_prefix(s, n) == n; }

/* " (line L, column C)" for byte `off` of a text of several lines (a
 * config file), "" for one line (a JSONL line: `where` has its number). */
static void line_col(const char *text, size_t len, size_t off, char *out, size_t cap)
{
    out[0] = 0;
    if (!memchr(text, '\n', len)) return;
    size_t line = 1, col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (text[i] == '\n') line++, col = 1;
        else col++;
    }
    snprintf(out, cap, " (line %zu, column %zu)", line, col);
}

eef_err eef_json_parse(const char *text, size_t len, const char *where, cJSON **out)
{
    *out = NULL;
    char at[64];
    size_t bad = utf8_valid_prefix(text, len);
    if (bad < len) {
        line_col(text, len, bad, at, sizeof at);
        return eef_fail(EEF_EFORMAT, "%s: invalid UTF-8 or NUL byte at byte %zu%s", where, bad, at);
    }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!j) {
        size_t off = end ? (size_t)(end - text) : 0;
        line_col(text, len, off, at, sizeof at);
        return eef_fail(EEF_EFORMAT, "%s: malformed JSON near byte %zu%s", where, off, at);
    }
    /* only whitespace may follow the value */
    for (const char *p = end; p && p < text + len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            cJSON_Delete(j);
            return eef_fail(EEF_EFORMAT, "%s: trailing characters after JSON value", where);
        }
    }
    *out = j;
    return EEF_OK;
}

eef_err eef_json_read_file(const char *path, cJSON **out)
{
    char *text;
    size_t len;
    *out = NULL;
    EEF_TRY(eef_read_file(path, &text, &len));
    eef_err e = eef_json_parse(text, len, path, out);
    free(text);
    return e;
}

static const cJSON *field(const cJSON *obj, const char *key)
{
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

eef_err eef_json_str(const cJSON *obj, const char *key, const char *where, const char **out)
{
    const cJSON *v = field(obj, key);
    if (!v) return eef_fail(EEF_EFORMAT, "%s: field '%s' missing", where, key);
    if (!cJSON_IsString(v)) return eef_fail(EEF_EFORMAT, "%s: field '%s' is not a string", where, key);
    *out = v->valuestring;
    return EEF_OK;
}

eef_err eef_json_opt_str(const cJSON *obj, const char *key, const char *where, const char **out)
{
    if (!field(obj, key) || cJSON_IsNull(field(obj, key))) return EEF_OK;
    return eef_json_str(obj, key, where, out);
}

eef_err eef_json_num(const cJSON *obj, const char *key, const char *where, double *out)
{
    const cJSON *v = field(obj, key);
    if (!v) return eef_fail(EEF_EFORMAT, "%s: field '%s' missing", where, key);
    if (cJSON_IsBool(v)) {
        *out = cJSON_IsTrue(v) ? 1.0 : 0.0;
        return EEF_OK;
    }
    if (!cJSON_IsNumber(v)) return eef_fail(EEF_EFORMAT, "%s: field '%s' is not a number", where, key);
    if (!isfinite(v->valuedouble))
        return eef_fail(EEF_EFORMAT, "%s: field '%s' is not finite", where, key);
    *out = v->valuedouble;
    return EEF_OK;
}

eef_err eef_json_opt_num(const cJSON *obj, const char *key, const char *where, double *out)
{
    if (!field(obj, key) || cJSON_IsNull(field(obj, key))) return EEF_OK;
    return eef_json_num(obj, key, where, out);
}

eef_err eef_json_int(const cJSON *obj, const char *key, const char *where, long *out)
{
    double d;
    EEF_TRY(eef_json_num(obj, key, where, &d));
    if (d != floor(d) || d < -9e15 || d > 9e15)
        return eef_fail(EEF_EFORMAT, "%s: field '%s' is not an integer", where, key);
    *out = (long)d;
    return EEF_OK;
}

eef_err eef_json_arr(const cJSON *obj, const char *key, const char *where, const cJSON **out)
{
    const cJSON *v = field(obj, key);
    if (!v) return eef_fail(EEF_EFORMAT, "%s: field '%s' missing", where, key);
    if (!cJSON_IsArray(v)) return eef_fail(EEF_EFORMAT, "%s: field '%s' is not an array", where, key);
    *out = v;
    return EEF_OK;
}

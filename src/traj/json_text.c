/* json_text.c: the one way trajectory files spell JSON (strings, numbers,
 * extra members), and the byte-level scan that finds what a JSON parser
 * would let through: NUL bytes, invalid UTF-8, \u0000 escapes. */
#include "traj_internal.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

int traj_put_str(eef_buf *b, const char *s)
{
    /* worst case every byte becomes \u00xx: reserve once, then write */
    size_t n = strlen(s);
    if (eef_buf_reserve(b, 6 * n + 2)) return -1;
    char *o = b->data + b->len;
    *o++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned c = *p;
        switch (c) {
        case '"': *o++ = '\\', *o++ = '"'; break;
        case '\\': *o++ = '\\', *o++ = '\\'; break;
        case '\b': *o++ = '\\', *o++ = 'b'; break;
        case '\f': *o++ = '\\', *o++ = 'f'; break;
        case '\n': *o++ = '\\', *o++ = 'n'; break;
        case '\r': *o++ = '\\', *o++ = 'r'; break;
        case '\t': *o++ = '\\', *o++ = 't'; break;
        default:
            if (c < 0x20) {
                static const char hex[] = "0123456789abcdef";
                *o++ = '\\', *o++ = 'u', *o++ = '0', *o++ = '0';
                *o++ = hex[c >> 4], *o++ = hex[c & 15];
            } else {
                *o++ = (char)c;
            }
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    b->data[b->len] = 0;
    return 0;
}

int traj_put_num(eef_buf *b, double d)
{
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d) break;
    }
    return eef_buf_puts(b, tmp);
}

char *traj_int_text(double d)
{
    if (d != (double)(long long)d || d < -9e15 || d > 9e15) return NULL;
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%lld", (long long)d);
    return eef_strdup(tmp);
}

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t k;
    unsigned min;
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) k = 1, min = 0x80, c &= 0x1F;
    else if ((c & 0xF0) == 0xE0) k = 2, min = 0x800, c &= 0x0F;
    else if ((c & 0xF8) == 0xF0) k = 3, min = 0x10000, c &= 0x07;
    else return 0;
    if (n <= k) return 0;
    for (size_t i = 1; i <= k; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (p[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    return k + 1;
}

eef_err traj_scan_line(const char *s, size_t n, const char *where)
{
    const unsigned char *p = (const unsigned char *)s;
    int in_string = 0;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        if (c == 0) return eef_fail(EEF_EFORMAT, "%s: NUL byte at column %zu", where, i + 1);
        if (c >= 0x80) {
            size_t k = utf8_len(p + i, n - i);
            if (!k) return eef_fail(EEF_EFORMAT, "%s: invalid UTF-8 at column %zu", where, i + 1);
            i += k;
            continue;
        }
        if (in_string && c == '\\' && i + 1 < n) {
            if (p[i + 1] == 'u' && i + 6 <= n && memcmp(p + i + 2, "0000", 4) == 0)
                return eef_fail(EEF_EFORMAT, "%s: NUL character (\\u0000) at column %zu", where,
                                i + 1);
            if (p[i + 1] < 0x80 && p[i + 1] != 0) {
                i += 2; /* the escaped byte cannot end the string */
                continue;
            }
        } else if (c == '"') {
            in_string = !in_string;
        }
        i++;
    }
    return EEF_OK;
}

/* "eef" is the header line's key: reserved so no trajectory looks like one */
const char *const traj_keys[TRAJ_N_KEYS] = { "id",     "env",         "task",   "split",
                                              "index",  "tier",        "source", "instruction",
                                              "reward", "win", "conversations", "eef",
                                              "expert" };

int traj_known_key(const char *key)
{
    for (size_t i = 0; i < TRAJ_N_KEYS; i++)
        if (strcmp(key, traj_keys[i]) == 0) return 1;
    return 0;
}

int traj_put_member(eef_buf *b, const char *key, const cJSON *value)
{
    char *v = cJSON_PrintUnformatted(value);
    if (!v) {
        eef_fail(EEF_ENOMEM, "out of memory printing field '%s'", key);
        return -1;
    }
    int rc = traj_put_str(b, key) || eef_buf_append(b, ":", 1) || eef_buf_puts(b, v);
    cJSON_free(v);
    return rc ? -1 : 0;
}

eef_err traj_put_extra(eef_buf *b, const char *extra, const char *where)
{
    if (!extra) return EEF_OK;
    size_t n = strlen(extra);
    char sub[600];
    snprintf(sub, sizeof sub, "%s: extra", where);
    /* bad extra text is a bad argument of the writer, not a bad file */
    cJSON *j = NULL;
    if (traj_scan_line(extra, n, sub) || eef_json_parse(extra, n, sub, &j)) return EEF_EINVAL;
    eef_err e = EEF_OK;
    if (!cJSON_IsObject(j)) {
        e = eef_fail(EEF_EINVAL, "%s: extra is not a JSON object", where);
        goto out;
    }
    for (const cJSON *m = j->child; m; m = m->next) {
        if (traj_known_key(m->string)) {
            e = eef_fail(EEF_EINVAL, "%s: extra field '%s' is one of ours", where, m->string);
            goto out;
        }
        for (const cJSON *o = j->child; o != m; o = o->next)
            if (strcmp(o->string, m->string) == 0) {
                e = eef_fail(EEF_EINVAL, "%s: extra field '%s' appears twice", where, m->string);
                goto out;
            }
        if (eef_buf_append(b, ",", 1) || traj_put_member(b, m->string, m)) {
            e = EEF_ENOMEM;
            goto out;
        }
    }
out:
    cJSON_Delete(j);
    return e;
}

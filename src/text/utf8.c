/* utf8.c: what the Hugging Face tokenizers need of Unicode: UTF-8 checked
 * and repaired, NFC (utf8proc), a few character properties, and the
 * GPT-2 ByteLevel byte <-> character map. */
#include "text_internal.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ------------------------------------------------------------ UTF-8 */
/* A lead byte: how many continuation bytes follow and the range the
 * first of them must lie in (no overlongs, surrogates or > U+10FFFF);
 * 0 for a byte that cannot start a sequence. */
static int lead(unsigned char c, size_t *need, unsigned char *lo, unsigned char *hi)
{
    *lo = 0x80, *hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) *need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        *need = 2;
        if (c == 0xE0) *lo = 0xA0;
        if (c == 0xED) *hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        *need = 3;
        if (c == 0xF0) *lo = 0x90;
        if (c == 0xF4) *hi = 0x8F;
    } else
        return 0;
    return 1;
}

size_t tok_utf8_valid_len(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned char lo, hi;
        if (!lead(s[i], &need, &lo, &hi) || n - i <= need) return i;
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k <= need; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) return i;
        i += need + 1;
    }
    return i;
}

/* The WHATWG decoder, byte by byte: a lead byte sets how many continuation
 * bytes follow and the range the first of them must lie in; a byte out of
 * range ends the sequence as one U+FFFD and is itself read again. */
int tok_utf8_repair(const unsigned char *s, size_t n, eef_buf *out)
{
    static const char fffd[3] = { (char)0xEF, (char)0xBF, (char)0xBD };
    size_t i = 0;
    while (i < n) {
        size_t ok = tok_utf8_valid_len(s + i, n - i);
        if (eef_buf_append(out, s + i, ok)) return -1;
        i += ok;
        if (i >= n) break;
        /* an invalid sequence starts at s[i]: consume its maximal subpart */
        size_t need = 0;
        unsigned char lo, hi;
        if (!lead(s[i], &need, &lo, &hi)) need = 0;
        size_t j = i + 1;
        for (size_t k = 0; k < need && j < n; k++, j++) {
            if (s[j] < lo || s[j] > hi) break;
            lo = 0x80, hi = 0xBF;
        }
        if (eef_buf_append(out, fffd, 3)) return -1;
        i = j;
    }
    return 0;
}

uint32_t tok_utf8_decode(const unsigned char *s, size_t n, size_t i, size_t *len)
{
    unsigned char c = s[i];
    if (c < 0x80 || i + 1 >= n) {
        *len = 1;
        return c;
    }
    if (c < 0xE0) {
        *len = 2;
        return ((uint32_t)(c & 0x1F) << 6) | (s[i + 1] & 0x3F);
    }
    if (c < 0xF0) {
        *len = 3;
        return ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
    }
    *len = 4;
    return ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[i + 1] & 0x3F) << 12) |
           ((uint32_t)(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
}

int tok_utf8_put(eef_buf *b, uint32_t cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) u[0] = (char)cp, n = 1;
    else if (cp < 0x800) u[0] = (char)(0xC0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
    else if (cp < 0x10000)
        u[0] = (char)(0xE0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F)),
        u[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
    else
        u[0] = (char)(0xF0 | (cp >> 18)), u[1] = (char)(0x80 | ((cp >> 12) & 0x3F)),
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
    return eef_buf_append(b, u, n);
}

eef_err tok_utf8_nfc(const unsigned char *s, size_t n, eef_buf *out)
{
    /* Text below U+0300 is already NFC: no character there decomposes
     * canonically into something else and none composes with a neighbour
     * (combining marks and jamo start at U+0300).  Its UTF-8 has no byte
     * >= 0xCC. */
    size_t i = 0;
    while (i < n && s[i] < 0xCC) i++;
    if (i == n) return eef_buf_append(out, s, n) ? EEF_ENOMEM : EEF_OK;
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t r = utf8proc_map(s, (utf8proc_ssize_t)n, &dst, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (r < 0) {
        free(dst);
        if (r == UTF8PROC_ERROR_NOMEM) return eef_fail(EEF_ENOMEM, "out of memory normalizing text");
        return eef_fail(EEF_EINVAL, "NFC: %s", utf8proc_errmsg(r));
    }
    int bad = eef_buf_append(out, dst, (size_t)r);
    free(dst);
    return bad ? EEF_ENOMEM : EEF_OK;
}

/* ------------------------------------------------------------ properties */
int tok_uc_is_white_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

int tok_uc_is_py_space(uint32_t c)
{
    return tok_uc_is_white_space(c) || (c >= 0x1C && c <= 0x1F);
}

int tok_uc_is_numeric(uint32_t c)
{
    if (c < 0x80) return c >= '0' && c <= '9';
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}

/* ------------------------------------------------------------ ByteLevel */
/* GPT-2's table: the printable bytes 0x21-0x7E, 0xA1-0xAC, 0xAE-0xFF stand
 * for themselves; the other 68 take U+0100.. in byte order (0x00-0x20,
 * then 0x7F-0xA0, then 0xAD). */
uint32_t tok_bytelevel_cp(unsigned b)
{
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) return b;
    if (b <= 0x20) return 0x100 + b;
    if (b >= 0x7F && b <= 0xA0) return 0x100 + 33 + (b - 0x7F);
    return 0x100 + 67; /* 0xAD */
}

int tok_bytelevel_byte(uint32_t cp)
{
    if ((cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF))
        return (int)cp;
    if (cp >= 0x100 && cp <= 0x120) return (int)(cp - 0x100);
    if (cp >= 0x121 && cp <= 0x142) return (int)(0x7F + cp - 0x121);
    if (cp == 0x143) return 0xAD;
    return -1;
}

int tok_bytelevel_encode(const unsigned char *s, size_t n, eef_buf *out)
{
    for (size_t i = 0; i < n; i++)
        if (tok_utf8_put(out, tok_bytelevel_cp(s[i]))) return -1;
    return 0;
}

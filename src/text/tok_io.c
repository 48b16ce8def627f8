/* tok_io.c: eef's tokenizer's serialized form (also stored inside .eefm).
 *
 *   "EEFT" u32 version=1, u32 vocab, u32 n_merges,
 *   n_merges x (i32 left, i32 right), u32 CRC-32 of everything before
 * little-endian.  Loading checks every merge refers to an earlier id.
 * A Hugging Face tokenizer's form ("EEFH") is hf_load.c's; eef_tok_load
 * tells them apart by the magic. */
#include "text_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define EEFT_VERSION 1

_Static_assert(TOK_MAX_WORD < 256, "piece lengths are checked in bytes");

eef_err tok_eef_save(const tok_eef *t, eef_buf *out)
{
    uint32_t hdr[3] = { EEFT_VERSION, (uint32_t)t->base.vocab, (uint32_t)t->n_merges };
    size_t start = out->len;
    if (eef_buf_append(out, "EEFT", 4) || eef_buf_append(out, hdr, sizeof hdr) ||
        eef_buf_append(out, t->merges, (size_t)t->n_merges * 2 * sizeof(int32_t)))
        return EEF_ENOMEM;
    uint32_t crc = eef_crc32(0, out->data + start, out->len - start);
    return eef_buf_append(out, &crc, 4) ? EEF_ENOMEM : EEF_OK;
}

eef_err eef_tok_load(const void *data, size_t len, const char *where, eef_tokenizer **out)
{
    *out = NULL;
    const unsigned char *p = data;
    if (len < 20) return eef_fail(EEF_EFORMAT, "%s: tokenizer truncated (%zu bytes)", where, len);
    if (memcmp(p, "EEFH", 4) == 0) return hf_load_blob(p, len, where, out);
    if (memcmp(p, "EEFT", 4) != 0) return eef_fail(EEF_EFORMAT, "%s: not a tokenizer (bad magic)", where);
    uint32_t hdr[3];
    memcpy(hdr, p + 4, sizeof hdr);
    if (hdr[0] != EEFT_VERSION)
        return eef_fail(EEF_EFORMAT, "%s: tokenizer version %u, this eef reads version %d", where,
                        hdr[0], EEFT_VERSION);
    uint32_t vocab = hdr[1], nm = hdr[2];
    if (nm > (1u << 20) || vocab != EEF_TOK_FIRST_MERGE + nm)
        return eef_fail(EEF_EFORMAT, "%s: tokenizer of %u ids with %u merges is inconsistent", where,
                        vocab, nm);
    size_t need = 16 + (size_t)nm * 8 + 4;
    if (len != need)
        return eef_fail(EEF_EFORMAT, "%s: tokenizer is %zu bytes, %u merges need %zu", where, len,
                        nm, need);
    uint32_t crc;
    memcpy(&crc, p + len - 4, 4);
    if (eef_crc32(0, p, len - 4) != crc)
        return eef_fail(EEF_EFORMAT, "%s: tokenizer checksum mismatch (corrupted)", where);
    tok_eef *t = tok_eef_new((int)vocab, (int)nm);
    if (!t) return EEF_ENOMEM;
    t->n_merges = (int)nm;
    memcpy(t->merges, p + 16, (size_t)nm * 8);
    /* Byte length of every merged piece: training never merges across a
     * word, and words are at most TOK_MAX_WORD bytes, so a longer piece
     * is damage.  Unchecked, merges that each double the previous piece
     * (33 of them fit in 284 bytes) overflow the 32-bit piece lengths in
     * tok_build and its copies run past the pieces buffer. */
    uint8_t *plen = eef_malloc((size_t)nm + 1);
    if (!plen) {
        eef_tok_free(&t->base);
        return EEF_ENOMEM;
    }
    for (uint32_t m = 0; m < nm; m++) {
        int32_t a = t->merges[2 * m], b = t->merges[2 * m + 1];
        int32_t limit = EEF_TOK_FIRST_MERGE + (int32_t)m;
        int special_a = a >= 256 && a < EEF_TOK_FIRST_MERGE, special_b = b >= 256 && b < EEF_TOK_FIRST_MERGE;
        if (a < 0 || b < 0 || a >= limit || b >= limit || special_a || special_b) {
            free(plen);
            eef_tok_free(&t->base);
            return eef_fail(EEF_EFORMAT, "%s: tokenizer merge %u (%d, %d) refers to an invalid id",
                            where, m, a, b);
        }
        unsigned la = a < 256 ? 1 : plen[a - EEF_TOK_FIRST_MERGE];
        unsigned lb = b < 256 ? 1 : plen[b - EEF_TOK_FIRST_MERGE];
        if (la + lb > TOK_MAX_WORD) {
            free(plen);
            eef_tok_free(&t->base);
            return eef_fail(EEF_EFORMAT, "%s: tokenizer merge %u makes a piece of %u bytes "
                            "(words are at most %d)", where, m, la + lb, TOK_MAX_WORD);
        }
        plen[m] = (uint8_t)(la + lb);
    }
    free(plen);
    eef_err e = tok_build(t);
    if (e) {
        eef_tok_free(&t->base);
        return e;
    }
    *out = &t->base;
    return EEF_OK;
}

eef_err eef_tok_save_file(const eef_tokenizer *t, const char *path)
{
    eef_buf b;
    eef_buf_init(&b);
    eef_err e = eef_tok_save(t, &b);
    if (!e) e = eef_write_file_atomic(path, b.data, b.len);
    eef_buf_free(&b);
    return e;
}

eef_err eef_tok_load_file(const char *path, eef_tokenizer **out)
{
    *out = NULL;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return eef_tok_load_hf_dir(path, out);
    char *data;
    size_t len;
    EEF_TRY(eef_read_file(path, &data, &len));
    size_t i = 0;
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r')) i++;
    eef_err e;
    if (i < len && data[i] == '{') {
        /* a tokenizer.json: its config beside it, when there */
        char dir[4096], cfg[4200];
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash) slash[1] = 0;
        else dir[0] = 0;
        snprintf(cfg, sizeof cfg, "%stokenizer_config.json", dir);
        free(data);
        e = eef_tok_load_hf(path, eef_file_exists(cfg) ? cfg : NULL, out);
    } else {
        e = eef_tok_load(data, len, path, out);
        free(data);
    }
    return e;
}

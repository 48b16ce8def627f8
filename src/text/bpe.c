/* bpe.c: byte-level BPE — pre-tokenization, training, encoding, decoding.
 *
 * Pre-tokenization splits text into words that merges never cross (the
 * GPT-2 rule, on bytes):
 *   - a run of letters (A-Z, a-z, and bytes >= 0x80 so UTF-8 stays whole),
 *     except that an ASCII capital followed by another capital is a word
 *     of its own: all-caps strings (product ids like B0V66SVUHR, acronyms)
 *     become single letters instead of spending the vocabulary on random
 *     fragments, which leaves the merges to the words,
 *   - a run of digits,
 *   - a run of other non-space bytes (punctuation),
 *   each with at most one leading space;
 *   - a run of whitespace, minus a final space that a word follows.
 * A word longer than TOK_MAX_WORD bytes is cut into pieces of that size
 * (so no input, however pathological, makes encoding quadratic).
 * Words are encoded independently, so encode(a + b) == encode(a) +
 * encode(b) whenever a ends and b starts at word boundaries: the agent
 * relies on this when it scores candidate actions by their encodings.
 *
 * Training counts the distinct words, then repeatedly merges the most
 * frequent adjacent pair (ties: the smaller (left, right) ids), updating
 * pair counts incrementally from an index pair -> words and a max-heap
 * with lazy deletion.
 */
#include "text_internal.h"

#include <stdlib.h>
#include <string.h>

static const char *const special_names[EEF_TOK_N_SPECIAL] = {
    "<|bos|>", "<|instr|>", "<|obs|>", "<|act|>", "<|end|>", "<|pad|>",
};

/* ------------------------------------------------------------ words */
static int cls(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80) return 1; /* letter */
    if (c >= '0' && c <= '9') return 2;                                          /* digit */
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') return 0;
    return 3; /* punctuation */
}

static int is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }

static size_t next_word(const unsigned char *s, size_t n, size_t i);

size_t tok_next_word(const unsigned char *s, size_t n, size_t i)
{
    /* look no further than one byte past the longest word */
    size_t lim = n - i > TOK_MAX_WORD + 1 ? i + TOK_MAX_WORD + 1 : n;
    size_t j = next_word(s, lim, i);
    return j - i > TOK_MAX_WORD ? i + TOK_MAX_WORD : j;
}

static size_t next_word(const unsigned char *s, size_t n, size_t i)
{
    size_t j = i;
    if (s[j] == ' ' && j + 1 < n && cls(s[j + 1]) != 0) j++; /* one leading space */
    int c = cls(s[j]);
    if (c == 1) {
        size_t start = j;
        for (; j < n && cls(s[j]) == 1; j++)
            if (is_upper(s[j]) && j + 1 < n && is_upper(s[j + 1])) {
                if (j == start) j++; /* a capital starting a caps run: alone */
                break;
            }
        return j;
    }
    if (c != 0) {
        while (j < n && cls(s[j]) == c) j++;
        return j;
    }
    /* whitespace: keep the last space for a following word */
    while (j < n && cls(s[j]) == 0) j++;
    if (j < n && j - i > 1 && s[j - 1] == ' ') j--;
    return j;
}

/* ------------------------------------------------------------ the merge table */
static uint64_t pair_key(int a, int b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

static uint64_t mix(uint64_t x) { return eef_hash64(x + 0x9E3779B97F4A7C15ULL); }

eef_err tok_build(eef_tokenizer *t)
{
    /* pieces: every id's bytes */
    size_t total = 256;
    for (int i = 0; i < EEF_TOK_N_SPECIAL; i++) total += strlen(special_names[i]);
    t->piece_off = eef_malloc(((size_t)t->vocab + 1) * sizeof(size_t));
    t->piece_len = eef_malloc((size_t)t->vocab * sizeof(uint32_t));
    if (!t->piece_off || !t->piece_len) return EEF_ENOMEM;
    /* lengths first, then the bytes */
    for (int i = 0; i < 256; i++) t->piece_len[i] = 1;
    for (int i = 0; i < EEF_TOK_N_SPECIAL; i++) t->piece_len[256 + i] = (uint32_t)strlen(special_names[i]);
    for (int m = 0; m < t->n_merges; m++) {
        int id = EEF_TOK_FIRST_MERGE + m;
        t->piece_len[id] = t->piece_len[t->merges[2 * m]] + t->piece_len[t->merges[2 * m + 1]];
        total += t->piece_len[id];
    }
    t->pieces = eef_malloc(total ? total : 1);
    if (!t->pieces) return EEF_ENOMEM;
    size_t off = 0;
    for (int id = 0; id < t->vocab; id++) {
        t->piece_off[id] = off;
        if (id < 256) {
            t->pieces[off] = (char)id;
        } else if (id < EEF_TOK_FIRST_MERGE) {
            memcpy(t->pieces + off, special_names[id - 256], t->piece_len[id]);
        } else {
            int m = id - EEF_TOK_FIRST_MERGE, a = t->merges[2 * m], b = t->merges[2 * m + 1];
            memcpy(t->pieces + off, t->pieces + t->piece_off[a], t->piece_len[a]);
            memcpy(t->pieces + off + t->piece_len[a], t->pieces + t->piece_off[b], t->piece_len[b]);
        }
        off += t->piece_len[id];
    }
    t->piece_off[t->vocab] = off;
    /* rank table: (a, b) -> merge index, open addressing */
    size_t cap = 16;
    while (cap < 2 * (size_t)t->n_merges + 16) cap *= 2;
    t->rank_cap = cap;
    t->rank_key = eef_malloc(cap * sizeof(uint64_t));
    t->rank_val = eef_malloc(cap * sizeof(int32_t));
    if (!t->rank_key || !t->rank_val) return EEF_ENOMEM;
    for (size_t i = 0; i < cap; i++) t->rank_val[i] = -1;
    for (int m = 0; m < t->n_merges; m++) {
        uint64_t k = pair_key(t->merges[2 * m], t->merges[2 * m + 1]);
        size_t h = mix(k) & (cap - 1);
        while (t->rank_val[h] >= 0 && t->rank_key[h] != k) h = (h + 1) & (cap - 1);
        if (t->rank_val[h] < 0) {
            t->rank_key[h] = k;
            t->rank_val[h] = m;
        }
    }
    return EEF_OK;
}

static int rank_of(const eef_tokenizer *t, int a, int b)
{
    uint64_t k = pair_key(a, b);
    size_t h = mix(k) & (t->rank_cap - 1);
    while (t->rank_val[h] >= 0) {
        if (t->rank_key[h] == k) return t->rank_val[h];
        h = (h + 1) & (t->rank_cap - 1);
    }
    return -1;
}

void eef_tok_free(eef_tokenizer *t)
{
    if (!t) return;
    free(t->merges);
    free(t->pieces);
    free(t->piece_off);
    free(t->piece_len);
    free(t->rank_key);
    free(t->rank_val);
    free(t);
}

int eef_tok_vocab_size(const eef_tokenizer *t) { return t->vocab; }

const char *eef_tok_piece(const eef_tokenizer *t, int id, size_t *len)
{
    if (id < 0 || id >= t->vocab) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = t->piece_len[id];
    return t->pieces + t->piece_off[id];
}

/* ------------------------------------------------------------ encoding */
/* Merges inside one word: repeatedly the adjacent pair of lowest rank. */
static size_t encode_word(const eef_tokenizer *t, const unsigned char *w, size_t n, int *sym)
{
    for (size_t i = 0; i < n; i++) sym[i] = w[i];
    size_t m = n;
    while (m > 1) {
        int best = -1;
        size_t at = 0;
        for (size_t i = 0; i + 1 < m; i++) {
            int r = rank_of(t, sym[i], sym[i + 1]);
            if (r >= 0 && (best < 0 || r < best)) best = r, at = i;
        }
        if (best < 0) break;
        sym[at] = EEF_TOK_FIRST_MERGE + best;
        memmove(sym + at + 1, sym + at + 2, (m - at - 2) * sizeof(int));
        m--;
    }
    return m;
}

eef_err eef_tok_encode(const eef_tokenizer *t, const char *text, size_t len, int **ids, size_t *n,
                       size_t *cap)
{
    const unsigned char *s = (const unsigned char *)text;
    int local[256];
    size_t i = 0;
    while (i < len) {
        size_t j = tok_next_word(s, len, i);
        size_t wl = j - i;
        int *sym = wl <= 256 ? local : eef_malloc(wl * sizeof(int));
        if (!sym) return EEF_ENOMEM;
        size_t m = encode_word(t, s + i, wl, sym);
        if (*n + m > *cap) {
            size_t c = *cap ? *cap : 64;
            while (c < *n + m) c *= 2;
            int *p = eef_realloc(*ids, c * sizeof(int));
            if (!p) {
                if (sym != local) free(sym);
                return EEF_ENOMEM;
            }
            *ids = p, *cap = c;
        }
        memcpy(*ids + *n, sym, m * sizeof(int));
        *n += m;
        if (sym != local) free(sym);
        i = j;
    }
    return EEF_OK;
}

eef_err eef_tok_decode(const eef_tokenizer *t, const int *ids, size_t n, eef_buf *out)
{
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *p = eef_tok_piece(t, ids[i], &len);
        if (!p) return eef_fail(EEF_EINVAL, "token id %d out of range [0, %d)", ids[i], t->vocab);
        if (eef_buf_append(out, p, len)) return EEF_ENOMEM;
    }
    return EEF_OK;
}

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

const char *const tok_eef_special_names[EEF_TOK_N_SPECIAL] = {
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

eef_err tok_build(tok_eef *t)
{
    const int V = t->base.vocab;
    /* pieces: every id's bytes */
    size_t total = 256;
    for (int i = 0; i < EEF_TOK_N_SPECIAL; i++) total += strlen(tok_eef_special_names[i]);
    t->piece_off = eef_malloc(((size_t)V + 1) * sizeof(size_t));
    t->piece_len = eef_malloc((size_t)V * sizeof(uint32_t));
    if (!t->piece_off || !t->piece_len) return EEF_ENOMEM;
    /* lengths first, then the bytes */
    for (int i = 0; i < 256; i++) t->piece_len[i] = 1;
    for (int i = 0; i < EEF_TOK_N_SPECIAL; i++) t->piece_len[256 + i] = (uint32_t)strlen(tok_eef_special_names[i]);
    for (int m = 0; m < t->n_merges; m++) {
        int id = EEF_TOK_FIRST_MERGE + m;
        t->piece_len[id] = t->piece_len[t->merges[2 * m]] + t->piece_len[t->merges[2 * m + 1]];
        total += t->piece_len[id];
    }
    t->pieces = eef_malloc(total ? total : 1);
    if (!t->pieces) return EEF_ENOMEM;
    size_t off = 0;
    for (int id = 0; id < V; id++) {
        t->piece_off[id] = off;
        if (id < 256) {
            t->pieces[off] = (char)id;
        } else if (id < EEF_TOK_FIRST_MERGE) {
            memcpy(t->pieces + off, tok_eef_special_names[id - 256], t->piece_len[id]);
        } else {
            int m = id - EEF_TOK_FIRST_MERGE, a = t->merges[2 * m], b = t->merges[2 * m + 1];
            memcpy(t->pieces + off, t->pieces + t->piece_off[a], t->piece_len[a]);
            memcpy(t->pieces + off + t->piece_len[a], t->pieces + t->piece_off[b], t->piece_len[b]);
        }
        off += t->piece_len[id];
    }
    t->piece_off[V] = off;
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

static int rank_of(const tok_eef *t, int a, int b)
{
    uint64_t k = pair_key(a, b);
    size_t h = mix(k) & (t->rank_cap - 1);
    while (t->rank_val[h] >= 0) {
        if (t->rank_key[h] == k) return t->rank_val[h];
        h = (h + 1) & (t->rank_cap - 1);
    }
    return -1;
}

static void eef_destroy(eef_tokenizer *base)
{
    tok_eef *t = (tok_eef *)base;
    free(t->merges);
    free(t->pieces);
    free(t->piece_off);
    free(t->piece_len);
    free(t->rank_key);
    free(t->rank_val);
    free(t);
}

static const char *eef_piece(const eef_tokenizer *base, int id, size_t *len)
{
    const tok_eef *t = (const tok_eef *)base;
    if (id < 0 || id >= base->vocab) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = t->piece_len[id];
    return t->pieces + t->piece_off[id];
}

static eef_tok_type eef_type(const eef_tokenizer *base, int id)
{
    if (id < 0 || id >= base->vocab) return EEF_TOKTYPE_NONE;
    return id >= 256 && id < EEF_TOK_FIRST_MERGE ? EEF_TOKTYPE_CONTROL : EEF_TOKTYPE_NORMAL;
}

/* The id of the token with these bytes: a special by its name, else the
 * single byte or the merge that makes them (walking merges from the
 * longest down would be quadratic; a linear scan of pieces is enough for
 * a lookup that is rare). */
static int eef_find(const eef_tokenizer *base, const char *s, size_t len)
{
    const tok_eef *t = (const tok_eef *)base;
    for (int i = 0; i < EEF_TOK_N_SPECIAL; i++)
        if (strlen(tok_eef_special_names[i]) == len && memcmp(tok_eef_special_names[i], s, len) == 0)
            return 256 + i;
    if (len == 1) return (unsigned char)s[0];
    for (int id = EEF_TOK_FIRST_MERGE; id < base->vocab; id++)
        if (t->piece_len[id] == len && memcmp(t->pieces + t->piece_off[id], s, len) == 0) return id;
    return -1;
}

static size_t eef_merge_count(const eef_tokenizer *base) { return (size_t)((const tok_eef *)base)->n_merges; }

static void eef_merge_at(const eef_tokenizer *base, size_t k, int *left, int *right)
{
    const tok_eef *t = (const tok_eef *)base;
    *left = t->merges[2 * k];
    *right = t->merges[2 * k + 1];
}

/* A normal token as a tokenizer.json writes it: its bytes in the
 * ByteLevel alphabet; a special as its name. */
static int eef_vocab_text(const eef_tokenizer *base, int id, eef_buf *out)
{
    size_t len;
    const char *p = eef_piece(base, id, &len);
    if (!p) return -1;
    if (eef_type(base, id) == EEF_TOKTYPE_CONTROL) return eef_buf_append(out, p, len);
    return tok_bytelevel_encode((const unsigned char *)p, len, out);
}

/* ------------------------------------------------------------ encoding */
/* Merges inside one word: repeatedly the adjacent pair of lowest rank. */
static size_t encode_word(const tok_eef *t, const unsigned char *w, size_t n, int *sym)
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

/* The words of text[0..len) (ends relative to text). */
static eef_err encode_plain(const tok_eef *t, const unsigned char *s, size_t len, size_t at, tok_out *o)
{
    int sym[TOK_MAX_WORD];
    size_t i = 0;
    while (i < len) {
        size_t j = tok_next_word(s, len, i);
        size_t m = encode_word(t, s + i, j - i, sym);
        EEF_TRY(tok_out_reserve(o, m));
        size_t end = at + i;
        for (size_t k = 0; k < m; k++) {
            end += t->piece_len[sym[k]];
            tok_out_put(o, sym[k], end);
        }
        i = j;
    }
    return EEF_OK;
}

/* The special whose name starts at s[0..n), or -1. */
static int special_at(const unsigned char *s, size_t n, size_t *len)
{
    if (n < 2 || s[0] != '<' || s[1] != '|') return -1;
    for (int k = 0; k < EEF_TOK_N_SPECIAL; k++) {
        size_t l = strlen(tok_eef_special_names[k]);
        if (l <= n && memcmp(s, tok_eef_special_names[k], l) == 0) {
            *len = l;
            return 256 + k;
        }
    }
    return -1;
}

static eef_err eef_encode(const eef_tokenizer *base, const char *text, size_t len, unsigned flags,
                          tok_out *o)
{
    const tok_eef *t = (const tok_eef *)base;
    const unsigned char *s = (const unsigned char *)text;
    if (flags & EEF_TOK_ENC_ADD_SPECIAL) {
        EEF_TRY(tok_out_reserve(o, 1));
        tok_out_put(o, EEF_TOK_BOS, 0);
    }
    if (!(flags & EEF_TOK_ENC_SPECIAL)) return encode_plain(t, s, len, 0, o);
    /* the text between specials is encoded as if it stood alone, as a
     * Hugging Face tokenizer splits on added tokens before anything else */
    size_t from = 0;
    for (size_t i = 0; i < len;) {
        size_t l;
        int id = special_at(s + i, len - i, &l);
        if (id < 0) {
            i++;
            continue;
        }
        EEF_TRY(encode_plain(t, s + from, i - from, from, o));
        EEF_TRY(tok_out_reserve(o, 1));
        tok_out_put(o, id, i + l);
        i += l;
        from = i;
    }
    return encode_plain(t, s + from, len - from, from, o);
}

static eef_err eef_save(const eef_tokenizer *t, eef_buf *out);

static const tok_ops eef_ops = {
    .destroy = eef_destroy,
    .encode = eef_encode,
    .piece = eef_piece,
    .type = eef_type,
    .find = eef_find,
    .save = eef_save,
    .export_hf = tok_eef_export_hf,
    .vocab_text = eef_vocab_text,
    .merge_count = eef_merge_count,
    .merge_at = eef_merge_at,
};

tok_eef *tok_eef_new(int vocab, int merge_cap)
{
    tok_eef *t = eef_calloc(1, sizeof *t);
    if (!t) return NULL;
    t->merges = eef_malloc(((size_t)merge_cap + 1) * 2 * sizeof(int32_t));
    if (!t->merges) {
        free(t);
        return NULL;
    }
    eef_tokenizer *b = &t->base;
    b->ops = &eef_ops;
    b->kind = EEF_TOK_KIND_EEF;
    b->vocab = vocab;
    b->roles = (eef_tok_roles){
        .bos = EEF_TOK_BOS, .eos = EEF_TOK_END, .eot = EEF_TOK_END, .pad = EEF_TOK_PAD,
        .instr = EEF_TOK_INSTR, .obs = EEF_TOK_OBS, .act = EEF_TOK_ACT, .act_end = EEF_TOK_END,
        .add_bos = 1,
    };
    b->chat.family = CHAT_NONE;
    b->pretok_name = "eef";
    return t;
}

static eef_err eef_save(const eef_tokenizer *t, eef_buf *out) { return tok_eef_save((const tok_eef *)t, out); }

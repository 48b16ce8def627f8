/* hf_model.c: a Hugging Face byte-level BPE built from its description
 * (hf_spec), and the BPE merge of one word.
 *
 * The model works on raw bytes: the ByteLevel alphabet maps each byte to
 * one character and back, so a vocabulary string ("Ġthe") is stored as
 * the bytes it stands for (" the") and a word is merged from its bytes.
 * Ids need not be dense (a vocabulary may have holes): every table is
 * sized by the entries the file holds, never by the ids it names.
 *
 * BPE on a word: repeatedly merge the adjacent pair of lowest rank, the
 * leftmost of equal ranks (Hugging Face's order; @huggingface/tokenizers
 * breaks ties by position too), with a heap of candidate pairs checked
 * when popped, so a word of n bytes costs O(n log n).
 */
#include "text_internal.h"

#include <stdlib.h>
#include <string.h>

#define HF_MAX_ID (1 << 24)

/* ------------------------------------------------------------ hashing */
static uint64_t bytes_hash(const unsigned char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ULL;
    return eef_hash64(h);
}

static size_t pow2_at_least(size_t n)
{
    size_t c = 16;
    while (c < n) c *= 2;
    return c;
}

long hf_vocab_find(const tok_hf *t, const unsigned char *s, size_t n)
{
    size_t mask = t->v_hash_cap - 1, h = bytes_hash(s, n) & mask;
    for (;; h = (h + 1) & mask) {
        uint32_t v = t->v_hash[h];
        if (v == UINT32_MAX) return -1;
        if (t->v_len[v] == n && memcmp(t->pool + t->v_off[v], s, n) == 0) return (long)v;
    }
}

int hf_entry(const tok_hf *t, int id)
{
    size_t mask = t->id_cap - 1, h = eef_hash64((uint64_t)id) & mask;
    for (;; h = (h + 1) & mask) {
        if (t->id_key[h] == -1) return -1;
        if (t->id_key[h] == id) return t->id_val[h];
    }
}

static uint64_t pair_key(int a, int b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

static int merge_rank(const tok_hf *t, int a, int b)
{
    uint64_t k = pair_key(a, b);
    size_t mask = t->mh_cap - 1, h = eef_hash64(k) & mask;
    for (;; h = (h + 1) & mask) {
        if (t->mh_rank[h] < 0) return -1;
        if (t->mh_key[h] == k) return t->mh_rank[h];
    }
}

/* ------------------------------------------------------------ BPE */
typedef struct {
    int rank, pos;
} cand;

static int cand_less(cand x, cand y) { return x.rank != y.rank ? x.rank < y.rank : x.pos < y.pos; }

static void heap_push(cand *h, size_t *n, cand c)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!cand_less(c, h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = c;
}

static cand heap_pop(cand *h, size_t *n)
{
    cand top = h[0], last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        cand mc = last;
        if (l < *n && cand_less(h[l], mc)) m = l, mc = h[l];
        if (r < *n && cand_less(h[r], mc)) m = r;
        if (m == i) break;
        h[i] = h[m];
        i = m;
    }
    if (*n) h[i] = last;
    return top;
}

eef_err hf_encode_word(const tok_hf *t, const unsigned char *w, size_t n, size_t src, int shift,
                       tok_out *o)
{
    if (n == 0) return EEF_OK;
#define END_AT(y) (src + ((size_t)(y) > (size_t)shift ? (size_t)(y) - (size_t)shift : 0))
    if (n == 1) {
        EEF_TRY(tok_out_reserve(o, 1));
        tok_out_put(o, t->byte_id[w[0]], END_AT(1));
        return EEF_OK;
    }
    if (t->ignore_merges) {
        long v = hf_vocab_find(t, w, n);
        if (v >= 0) {
            EEF_TRY(tok_out_reserve(o, 1));
            tok_out_put(o, t->v_id[v], END_AT(n));
            return EEF_OK;
        }
    }
    /* symbols: id and links, indexed by the byte they start at */
    enum { LOCAL = 128 };
    int lid[LOCAL], lnext[LOCAL], lprev[LOCAL];
    cand lheap[3 * LOCAL];
    int *id = lid, *next = lnext, *prev = lprev;
    cand *heap = lheap;
    if (n > LOCAL) {
        id = malloc(n * sizeof *id);
        next = malloc(n * sizeof *next);
        prev = malloc(n * sizeof *prev);
        heap = malloc(3 * n * sizeof *heap);
        if (!id || !next || !prev || !heap) {
            free(id), free(next), free(prev), free(heap);
            return EEF_ENOMEM;
        }
    }
    size_t nh = 0;
    for (size_t i = 0; i < n; i++) {
        id[i] = t->byte_id[w[i]];
        next[i] = i + 1 < n ? (int)i + 1 : -1;
        prev[i] = (int)i - 1;
    }
    for (size_t i = 0; i + 1 < n; i++) {
        int r = merge_rank(t, id[i], id[i + 1]);
        if (r >= 0) heap_push(heap, &nh, (cand){ r, (int)i });
    }
    while (nh) {
        cand c = heap_pop(heap, &nh);
        int p = c.pos, q = next[p];
        /* stale: p was absorbed (id -1), or p or its neighbour changed */
        if (id[p] < 0 || q < 0 || id[q] < 0 || t->m_left[c.rank] != id[p] || t->m_right[c.rank] != id[q])
            continue;
        id[p] = t->m_new[c.rank];
        id[q] = -1;
        next[p] = next[q];
        if (next[p] >= 0) prev[next[p]] = p;
        if (prev[p] >= 0) {
            int r = merge_rank(t, id[prev[p]], id[p]);
            if (r >= 0) heap_push(heap, &nh, (cand){ r, prev[p] });
        }
        if (next[p] >= 0) {
            int r = merge_rank(t, id[p], id[next[p]]);
            if (r >= 0) heap_push(heap, &nh, (cand){ r, p });
        }
    }
    size_t m = 0;
    for (int p = 0; p >= 0; p = next[p]) m++;
    eef_err e = tok_out_reserve(o, m);
    for (int p = 0; !e && p >= 0; p = next[p]) tok_out_put(o, id[p], END_AT(next[p] >= 0 ? (size_t)next[p] : n));
    if (n > LOCAL) free(id), free(next), free(prev), free(heap);
    return e;
#undef END_AT
}

/* ------------------------------------------------------------ operations */
static void hf_destroy(eef_tokenizer *base)
{
    tok_hf *t = (tok_hf *)base;
    free(t->pool);
    free(t->v_id), free(t->v_off), free(t->v_len), free(t->v_hash);
    free(t->added);
    for (int k = 0; k < 2; k++) free(t->a_first[k]), free(t->a_list[k]), free(t->a_count[k]);
    free(t->id_key), free(t->id_val);
    free(t->m_left), free(t->m_right), free(t->m_new), free(t->mh_key), free(t->mh_rank);
    for (size_t i = 0; i < t->n_stages; i++) hf_regex_free(t->stages[i].re);
    free(t->stages);
    free(t->prefix), free(t->suffix);
    free(t->src_json), free(t->src_config);
    free(t);
}

static const char *hf_piece(const eef_tokenizer *base, int id, size_t *len)
{
    const tok_hf *t = (const tok_hf *)base;
    int e = hf_entry(t, id);
    if (e == -1) return NULL;
    if (e >= 0) {
        if (len) *len = t->v_len[e];
        return t->pool + t->v_off[e];
    }
    const hf_addtok *a = &t->added[-2 - e];
    if (len) *len = a->len;
    return t->pool + a->off;
}

static eef_tok_type hf_type(const eef_tokenizer *base, int id)
{
    const tok_hf *t = (const tok_hf *)base;
    int e = hf_entry(t, id);
    if (e == -1) return EEF_TOKTYPE_NONE;
    if (e >= 0) return EEF_TOKTYPE_NORMAL;
    return t->added[-2 - e].special ? EEF_TOKTYPE_CONTROL : EEF_TOKTYPE_ADDED;
}

static int hf_find(const eef_tokenizer *base, const char *s, size_t len)
{
    const tok_hf *t = (const tok_hf *)base;
    for (size_t k = 0; k < t->n_added; k++)
        if (t->added[k].len == len && memcmp(t->pool + t->added[k].off, s, len) == 0) return t->added[k].id;
    long v = hf_vocab_find(t, (const unsigned char *)s, len);
    return v >= 0 ? t->v_id[v] : -1;
}

static int hf_vocab_text(const eef_tokenizer *base, int id, eef_buf *out)
{
    const tok_hf *t = (const tok_hf *)base;
    int e = hf_entry(t, id);
    if (e == -1) return -1;
    if (e >= 0) return tok_bytelevel_encode((const unsigned char *)t->pool + t->v_off[e], t->v_len[e], out);
    const hf_addtok *a = &t->added[-2 - e];
    return eef_buf_append(out, t->pool + a->off, a->len);
}

static size_t hf_merge_count(const eef_tokenizer *base) { return ((const tok_hf *)base)->n_merges; }

static void hf_merge_at(const eef_tokenizer *base, size_t k, int *left, int *right)
{
    const tok_hf *t = (const tok_hf *)base;
    *left = t->m_left[k];
    *right = t->m_right[k];
}

static const tok_ops hf_ops = {
    .destroy = hf_destroy,
    .encode = hf_encode,
    .piece = hf_piece,
    .type = hf_type,
    .find = hf_find,
    .save = hf_save,
    .export_hf = hf_export,
    .vocab_text = hf_vocab_text,
    .merge_count = hf_merge_count,
    .merge_at = hf_merge_at,
};

/* ------------------------------------------------------------ building */
/* The pre-tokenizers llama.cpp knows by name (issue #20 maps them back). */
const char hf_llama3_pattern[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char hf_qwen2_pattern[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static const char *pretok_name(const hf_spec *s)
{
    const hf_step *a = s->steps, *b = s->n_steps > 1 ? s->steps + 1 : NULL;
    if (s->n_steps == 1 && a->kind == HF_STEP_BYTELEVEL && a->use_regex && !a->add_prefix_space)
        return "gpt-2";
    if (s->n_steps != 2) return NULL;
    if (a->kind == HF_STEP_SPLIT && !a->literal && b->kind == HF_STEP_BYTELEVEL && !b->use_regex &&
        !b->add_prefix_space) {
        if (strcmp(a->pattern, hf_llama3_pattern) == 0) return "llama-bpe";
        if (strcmp(a->pattern, hf_qwen2_pattern) == 0) return "qwen2";
    }
    if (a->kind == HF_STEP_DIGITS && a->individual && b->kind == HF_STEP_BYTELEVEL && b->use_regex &&
        !b->add_prefix_space)
        return "smollm";
    if (a->kind == HF_STEP_BYTELEVEL && !a->use_regex && !a->add_prefix_space &&
        b->kind == HF_STEP_SPLIT && !b->literal && strcmp(b->pattern, hf_eef_pattern) == 0)
        return "eef";
    return NULL;
}

/* The bytes a ByteLevel string stands for, appended to pool; -1: a
 * character outside the alphabet, -2: out of memory. */
static int bytelevel_decode(const char *s, eef_buf *pool)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t l;
        int b = tok_bytelevel_byte(tok_utf8_decode(u, n, i, &l));
        if (b < 0) return -1;
        char c = (char)b;
        if (eef_buf_append(pool, &c, 1)) return -2;
        i += l;
    }
    return 0;
}

static eef_err id_insert(tok_hf *t, int id, int val, const char *where)
{
    size_t mask = t->id_cap - 1, h = eef_hash64((uint64_t)id) & mask;
    for (;; h = (h + 1) & mask) {
        if (t->id_key[h] == -1) {
            t->id_key[h] = id;
            t->id_val[h] = val;
            return EEF_OK;
        }
        if (t->id_key[h] == id) {
            if (t->id_val[h] >= 0 && val < 0) { /* an added token over a vocabulary entry: it wins */
                t->id_val[h] = val;
                return EEF_OK;
            }
            return eef_fail(EEF_EFORMAT, "%s: id %d is given to two tokens", where, id);
        }
    }
}

/* Short quoted excerpt of a token for messages. */
static const char *excerpt(const char *s, char *buf, size_t cap)
{
    size_t n = 0;
    for (const char *p = s; *p && n + 5 < cap; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == '"' || c == '\\') n += (size_t)snprintf(buf + n, cap - n, "\\x%02x", c);
        else buf[n++] = (char)c;
    }
    buf[n] = 0;
    return buf;
}

static eef_err build(tok_hf *t, const hf_spec *s)
{
    const char *where = s->where;
    char ex[64];
    if (s->n_vocab == 0) return eef_fail(EEF_EFORMAT, "%s: the vocabulary is empty", where);
    size_t n_ent = s->n_vocab + s->n_added;
    if (n_ent > HF_MAX_ID) return eef_fail(EEF_EFORMAT, "%s: %zu tokens is too many", where, n_ent);
    eef_buf pool;
    eef_buf_init(&pool);
    t->n_vocab = s->n_vocab;
    t->v_id = eef_malloc(s->n_vocab * sizeof *t->v_id);
    t->v_off = eef_malloc(s->n_vocab * sizeof *t->v_off);
    t->v_len = eef_malloc(s->n_vocab * sizeof *t->v_len);
    t->v_hash_cap = pow2_at_least(2 * s->n_vocab);
    t->v_hash = eef_malloc(t->v_hash_cap * sizeof *t->v_hash);
    t->id_cap = pow2_at_least(2 * n_ent);
    t->id_key = eef_malloc(t->id_cap * sizeof *t->id_key);
    t->id_val = eef_malloc(t->id_cap * sizeof *t->id_val);
    if (!t->v_id || !t->v_off || !t->v_len || !t->v_hash || !t->id_key || !t->id_val) return EEF_ENOMEM;
    memset(t->v_hash, 0xFF, t->v_hash_cap * sizeof *t->v_hash);
    for (size_t i = 0; i < t->id_cap; i++) t->id_key[i] = -1;
    int max_id = -1;
    eef_err e = EEF_OK;
    /* the vocabulary */
    for (size_t i = 0; !e && i < s->n_vocab; i++) {
        int id = s->vocab_id[i];
        if (id < 0 || id >= HF_MAX_ID) {
            e = eef_fail(EEF_EFORMAT, "%s: token \"%s\" has id %d, out of range [0, %d)", where,
                         excerpt(s->vocab[i], ex, sizeof ex), id, HF_MAX_ID);
            break;
        }
        size_t off = pool.len;
        int r = bytelevel_decode(s->vocab[i], &pool);
        if (r == -2) e = EEF_ENOMEM;
        else if (r < 0)
            e = eef_fail(EEF_EFORMAT, "%s: token %d \"%s\" is not in the ByteLevel alphabet", where, id,
                         excerpt(s->vocab[i], ex, sizeof ex));
        else if (pool.len == off)
            e = eef_fail(EEF_EFORMAT, "%s: token %d is the empty string", where, id);
        if (e) break;
        if (pool.len > UINT32_MAX) {
            e = eef_fail(EEF_EFORMAT, "%s: the vocabulary is too large", where);
            break;
        }
        t->v_id[i] = id;
        t->v_off[i] = (uint32_t)off;
        t->v_len[i] = (uint32_t)(pool.len - off);
        max_id = id > max_id ? id : max_id;
        e = id_insert(t, id, (int)i, where);
    }
    /* hash the bytes once the pool stops moving */
    t->pool = pool.data;
    for (size_t i = 0; !e && i < s->n_vocab; i++) {
        size_t mask = t->v_hash_cap - 1;
        size_t h = bytes_hash((const unsigned char *)pool.data + t->v_off[i], t->v_len[i]) & mask;
        for (;; h = (h + 1) & mask) {
            uint32_t v = t->v_hash[h];
            if (v == UINT32_MAX) {
                t->v_hash[h] = (uint32_t)i;
                break;
            }
            if (t->v_len[v] == t->v_len[i] &&
                memcmp(pool.data + t->v_off[v], pool.data + t->v_off[i], t->v_len[i]) == 0) {
                e = eef_fail(EEF_EFORMAT, "%s: token \"%s\" appears twice in the vocabulary", where,
                             excerpt(s->vocab[i], ex, sizeof ex));
                break;
            }
        }
    }
    for (int b = 0; !e && b < 256; b++) {
        unsigned char c = (unsigned char)b;
        long v = hf_vocab_find(t, &c, 1);
        if (v < 0) {
            eef_buf tmp;
            eef_buf_init(&tmp);
            tok_bytelevel_encode(&c, 1, &tmp);
            e = eef_fail(EEF_EFORMAT, "%s: byte 0x%02x (\"%s\") has no token: a ByteLevel BPE needs all 256",
                         where, b, tmp.data ? tmp.data : "");
            eef_buf_free(&tmp);
        } else {
            t->byte_id[b] = t->v_id[v];
        }
    }
    if (e) return e;
    /* added tokens: content into the pool (it may move now: offsets stay) */
    t->added = eef_calloc(s->n_added ? s->n_added : 1, sizeof *t->added);
    if (!t->added) return EEF_ENOMEM;
    t->n_added = s->n_added;
    for (size_t k = 0; !e && k < s->n_added; k++) {
        const hf_added *a = &s->added[k];
        if (a->id < 0 || a->id >= HF_MAX_ID)
            return eef_fail(EEF_EFORMAT, "%s: added token \"%s\" has id %d, out of range", where,
                            excerpt(a->content, ex, sizeof ex), a->id);
        size_t len = strlen(a->content);
        if (!len) return eef_fail(EEF_EFORMAT, "%s: added token %d is the empty string", where, a->id);
        for (size_t q = 0; q < k; q++)
            if (t->added[q].len == len && memcmp(pool.data + t->added[q].off, a->content, len) == 0)
                return eef_fail(EEF_EFORMAT, "%s: added token \"%s\" appears twice", where,
                                excerpt(a->content, ex, sizeof ex));
        size_t off = pool.len;
        if (eef_buf_append(&pool, a->content, len)) return EEF_ENOMEM;
        t->pool = pool.data;
        if (pool.len > UINT32_MAX) return eef_fail(EEF_EFORMAT, "%s: the vocabulary is too large", where);
        t->added[k] = (hf_addtok){ .id = a->id, .off = (uint32_t)off, .len = (uint32_t)len,
                                   .special = (uint8_t)!!a->special, .lstrip = (uint8_t)!!a->lstrip,
                                   .rstrip = (uint8_t)!!a->rstrip,
                                   .normalized = (uint8_t)(s->nfc && a->normalized) };
        max_id = a->id > max_id ? a->id : max_id;
        /* over a vocabulary entry (GPT-2's <|endoftext|>): the same text */
        int over = hf_entry(t, a->id);
        if (over >= 0 && (t->v_len[over] != len || memcmp(pool.data + t->v_off[over], a->content, len) != 0))
            return eef_fail(EEF_EFORMAT, "%s: added token \"%s\" has id %d, which the vocabulary gives "
                            "another token", where, excerpt(a->content, ex, sizeof ex), a->id);
        e = id_insert(t, a->id, -2 - (int)k, where);
    }
    if (e) return e;
    t->base.vocab = max_id + 1;
    /* the matching lists: per pass, added tokens by first byte, longest first */
    for (int pass = 0; pass < 2; pass++) {
        t->a_first[pass] = eef_calloc(256, sizeof(int32_t));
        t->a_count[pass] = eef_calloc(256, sizeof(int32_t));
        t->a_list[pass] = eef_calloc(t->n_added ? t->n_added : 1, sizeof(int32_t));
        if (!t->a_first[pass] || !t->a_count[pass] || !t->a_list[pass]) return EEF_ENOMEM;
        for (size_t k = 0; k < t->n_added; k++)
            if (t->added[k].normalized == pass) t->a_count[pass][(unsigned char)t->pool[t->added[k].off]]++;
        int32_t at = 0;
        for (int b = 0; b < 256; b++) {
            t->a_first[pass][b] = at;
            at += t->a_count[pass][b];
        }
        int32_t fill[256];
        memcpy(fill, t->a_first[pass], sizeof fill);
        for (size_t k = 0; k < t->n_added; k++) {
            if (t->added[k].normalized != pass) continue;
            int b = (unsigned char)t->pool[t->added[k].off];
            /* insertion by length, longest first */
            int32_t i = fill[b]++;
            while (i > t->a_first[pass][b] && t->added[t->a_list[pass][i - 1]].len < t->added[k].len) {
                t->a_list[pass][i] = t->a_list[pass][i - 1];
                i--;
            }
            t->a_list[pass][i] = (int32_t)k;
        }
    }
    /* merges: (left, right) -> rank; the merged token must exist */
    t->n_merges = s->n_merges;
    t->m_left = eef_malloc((s->n_merges + 1) * sizeof(int32_t));
    t->m_right = eef_malloc((s->n_merges + 1) * sizeof(int32_t));
    t->m_new = eef_malloc((s->n_merges + 1) * sizeof(int32_t));
    t->mh_cap = pow2_at_least(2 * s->n_merges);
    t->mh_key = eef_malloc(t->mh_cap * sizeof *t->mh_key);
    t->mh_rank = eef_malloc(t->mh_cap * sizeof *t->mh_rank);
    if (!t->m_left || !t->m_right || !t->m_new || !t->mh_key || !t->mh_rank) return EEF_ENOMEM;
    for (size_t i = 0; i < t->mh_cap; i++) t->mh_rank[i] = -1;
    eef_buf part;
    eef_buf_init(&part);
    for (size_t k = 0; !e && k < s->n_merges; k++) {
        long ids[3];
        const char *str[2] = { s->merge_left[k], s->merge_right[k] };
        size_t split = 0;
        eef_buf_clear(&part);
        for (int q = 0; q < 2 && !e; q++) {
            size_t from = part.len;
            int r = bytelevel_decode(str[q], &part);
            if (r == -2) e = EEF_ENOMEM;
            else if (r < 0 || part.len == from) ids[q] = -1;
            else ids[q] = hf_vocab_find(t, (unsigned char *)part.data + from, part.len - from);
            if (!q) split = part.len;
        }
        if (e) break;
        ids[2] = part.len > split ? hf_vocab_find(t, (unsigned char *)part.data, part.len) : -1;
        for (int q = 0; q < 3 && !e; q++)
            if (ids[q] < 0)
                e = eef_fail(EEF_EFORMAT, "%s: merge %zu (\"%s\" \"%s\"): %s is not in the vocabulary",
                             where, k, excerpt(str[0], ex, 28), excerpt(str[1], ex + 32, 28),
                             q == 0 ? "its left part" : q == 1 ? "its right part" : "the merged token");
        if (e) break;
        int l = t->v_id[ids[0]], r = t->v_id[ids[1]];
        t->m_left[k] = l, t->m_right[k] = r, t->m_new[k] = t->v_id[ids[2]];
        uint64_t key = pair_key(l, r);
        size_t mask = t->mh_cap - 1, h = eef_hash64(key) & mask;
        while (t->mh_rank[h] >= 0 && t->mh_key[h] != key) h = (h + 1) & mask;
        if (t->mh_rank[h] < 0) { /* a pair listed twice keeps its first rank */
            t->mh_key[h] = key;
            t->mh_rank[h] = (int32_t)k;
        }
    }
    eef_buf_free(&part);
    if (e) return e;
    t->ignore_merges = s->ignore_merges;
    t->nfc = s->nfc;
    /* pre-tokenizer stages */
    int n_bytelevel = 0;
    for (size_t i = 0; i < s->n_steps; i++) n_bytelevel += s->steps[i].kind == HF_STEP_BYTELEVEL;
    if (n_bytelevel != 1)
        return eef_fail(EEF_EFORMAT, "%s: the pre-tokenizer has %d ByteLevel steps; a byte-level BPE needs one",
                        where, n_bytelevel);
    t->stages = eef_calloc(s->n_steps, sizeof *t->stages);
    if (!t->stages) return EEF_ENOMEM;
    t->n_stages = s->n_steps;
    int after = 0;
    for (size_t i = 0; !e && i < s->n_steps; i++) {
        const hf_step *st = &s->steps[i];
        hf_stage *g = &t->stages[i];
        g->kind = st->kind;
        g->add_prefix_space = st->add_prefix_space;
        g->individual = st->individual;
        g->mapped = after;
        if (st->kind == HF_STEP_SPLIT) e = hf_regex_compile(st->pattern, st->literal, where, &g->re);
        else if (st->kind == HF_STEP_BYTELEVEL) {
            if (st->use_regex) e = hf_regex_compile(hf_gpt2_pattern, 0, where, &g->re);
            after = 1;
        } else if (after)
            e = eef_fail(EEF_EFORMAT, "%s: a Digits pre-tokenizer after ByteLevel is not supported", where);
    }
    if (e) return e;
    /* post-processor and roles */
    t->prefix = eef_malloc((s->n_prefix + 1) * sizeof(int));
    t->suffix = eef_malloc((s->n_suffix + 1) * sizeof(int));
    if (!t->prefix || !t->suffix) return EEF_ENOMEM;
    t->n_prefix = s->n_prefix, t->n_suffix = s->n_suffix;
    for (size_t i = 0; i < s->n_prefix + s->n_suffix; i++) {
        int id = i < s->n_prefix ? s->prefix[i] : s->suffix[i - s->n_prefix];
        if (hf_entry(t, id) == -1)
            return eef_fail(EEF_EFORMAT, "%s: the post-processor adds id %d, which no token has", where, id);
        if (i < s->n_prefix) t->prefix[i] = id;
        else t->suffix[i - s->n_prefix] = id;
    }
    int role[3] = { s->bos, s->eos, s->pad };
    for (int i = 0; i < 3; i++)
        if (role[i] >= 0 && hf_entry(t, role[i]) == -1)
            return eef_fail(EEF_EFORMAT, "%s: %s id %d is not a token", where,
                            i == 0 ? "bos" : i == 1 ? "eos" : "pad", role[i]);
    t->base.roles = (eef_tok_roles){ .bos = s->bos, .eos = s->eos, .eot = s->eos, .pad = s->pad,
                                     .instr = -1, .obs = -1, .act = -1, .act_end = -1,
                                     .add_bos = s->add_bos && s->bos >= 0 };
    t->base.pretok_name = pretok_name(s);
    if (s->chat_template) {
        EEF_TRY(tok_chat_recognise(&t->base, s->chat_template, s->config_where ? s->config_where : where,
                               &t->base.chat));
        if (t->base.chat.family != CHAT_NONE) t->base.roles.eot = t->base.chat.close;
    }
    if (s->src_json) {
        t->src_json = eef_malloc(s->src_json_len + 1);
        t->src_config = eef_malloc(s->src_config_len + 1);
        if (!t->src_json || !t->src_config) return EEF_ENOMEM;
        memcpy(t->src_json, s->src_json, s->src_json_len);
        if (s->src_config_len) memcpy(t->src_config, s->src_config, s->src_config_len);
        t->src_json_len = s->src_json_len, t->src_config_len = s->src_config_len;
    }
    return EEF_OK;
}

eef_err hf_build(const hf_spec *s, eef_tokenizer **out)
{
    *out = NULL;
    tok_hf *t = eef_calloc(1, sizeof *t);
    if (!t) return EEF_ENOMEM;
    t->base.ops = &hf_ops;
    t->base.kind = EEF_TOK_KIND_HF;
    t->base.chat.family = CHAT_NONE;
    eef_err e = build(t, s);
    if (e) {
        eef_tok_free(&t->base);
        return e == EEF_ENOMEM ? eef_fail(e, "%s: out of memory building the tokenizer", s->where) : e;
    }
    *out = &t->base;
    return EEF_OK;
}

/* hf_encode.c: text -> ids through a Hugging Face tokenizer's pipeline,
 * in Hugging Face's order:
 *
 *   1. UTF-8: an invalid sequence becomes U+FFFD (the WHATWG rule);
 *   2. added tokens are found in the raw text, leftmost and longest first
 *      (special ones only when asked); lstrip / rstrip trim the white
 *      space beside them;
 *   3. each stretch of text between them is normalized (NFC), then split
 *      on the added tokens matched after normalization;
 *   4. each remaining stretch goes through the pre-tokenizer's steps
 *      (Split regexes, Digits, ByteLevel with its prefix space and GPT-2
 *      regex) into words;
 *   5. each word is merged by BPE (hf_model.c);
 *   6. with EEF_TOK_ENC_ADD_SPECIAL, the post-processor's ids frame it all.
 *
 * A word is kept as bytes of the text it came from; a prefix space that
 * ByteLevel adds is copied in front ("shift" counts such bytes, so token
 * ends still point into the text, which chat spans rely on).
 */
#include "text_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const unsigned char *p;
    size_t len;
    size_t src;  /* where p[shift] is in the stretch */
    int shift;   /* bytes at p's start that are not in the text (a prefix space) */
} piece;

typedef struct {
    piece *v;
    size_t n, cap;
} plist;

typedef struct {
    const tok_hf *t;
    eef_arena arena;
    int arena_used;
    plist a, b;
    eef_buf map;      /* a piece in the ByteLevel form */
    size_t *rawat;    /* for each byte of map: the piece byte it came from */
    size_t rawat_cap;
    int failed;       /* out of memory in a callback */
} enc;

static int plist_push(plist *l, piece x)
{
    if (l->n == l->cap) {
        size_t c = l->cap ? 2 * l->cap : 64;
        piece *v = realloc(l->v, c * sizeof *v);
        if (!v) return -1;
        l->v = v, l->cap = c;
    }
    l->v[l->n++] = x;
    return 0;
}

/* x's bytes [a, b) as a piece of its own */
static piece sub(piece x, size_t a, size_t b)
{
    size_t sh = (size_t)x.shift;
    piece y = { x.p + a, b - a, x.src + (a > sh ? a - sh : 0), 0 };
    if (a < sh) y.shift = (int)(sh - a < b - a ? sh - a : b - a);
    return y;
}

/* ------------------------------------------------------------ splitting */
typedef struct {
    enc *c;
    piece x;
    plist *out;
    size_t prev;
    const size_t *rawat; /* match offsets in the ByteLevel form -> piece bytes; NULL: same */
} split_ctx;

static int on_match(void *vp, size_t a, size_t b)
{
    split_ctx *s = vp;
    if (s->rawat) a = s->rawat[a], b = s->rawat[b];
    /* the text between matches is a piece too (Isolated keeps both) */
    if (a > s->prev && plist_push(s->out, sub(s->x, s->prev, a))) return -2;
    if (b > a && plist_push(s->out, sub(s->x, a, b))) return -2;
    s->prev = b;
    return 0;
}

static eef_err split_piece(enc *c, const hf_regex *re, piece x, int mapped, plist *out)
{
    split_ctx s = { c, x, out, 0, NULL };
    const unsigned char *subject = x.p;
    size_t n = x.len;
    if (mapped) {
        /* the regex sees each byte as its ByteLevel character */
        eef_buf_clear(&c->map);
        if (c->rawat_cap < 2 * x.len + 1) {
            size_t *r = realloc(c->rawat, (2 * x.len + 1) * sizeof *r);
            if (!r) return EEF_ENOMEM;
            c->rawat = r, c->rawat_cap = 2 * x.len + 1;
        }
        for (size_t i = 0; i < x.len; i++) {
            size_t at = c->map.len;
            if (tok_utf8_put(&c->map, tok_bytelevel_cp(x.p[i]))) return EEF_ENOMEM;
            for (size_t k = at; k < c->map.len; k++) c->rawat[k] = i;
        }
        c->rawat[c->map.len] = x.len;
        subject = (const unsigned char *)c->map.data;
        n = c->map.len;
        s.rawat = c->rawat;
    }
    int r = hf_regex_each(re, subject ? subject : (const unsigned char *)"", n, on_match, &s);
    if (r == -2) return EEF_ENOMEM;
    if (r) return eef_fail(EEF_EINVAL, "tokenizer: the pre-tokenizer's regex failed (match limit?) "
                           "on a piece of %zu bytes", x.len);
    if (s.prev < x.len && plist_push(out, sub(x, s.prev, x.len))) return EEF_ENOMEM;
    return EEF_OK;
}

/* Digits: runs of numeric characters apart from the rest (each numeric
 * character alone when individual). */
static eef_err split_digits(piece x, int individual, plist *out)
{
    size_t start = 0;
    int in_num = -1;
    for (size_t i = 0; i < x.len;) {
        size_t l;
        int num = tok_uc_is_numeric(tok_utf8_decode(x.p, x.len, i, &l));
        if (i > start && (num != in_num || (num && individual))) {
            if (plist_push(out, sub(x, start, i))) return EEF_ENOMEM;
            start = i;
        }
        in_num = num;
        i += l;
    }
    if (start < x.len && plist_push(out, sub(x, start, x.len))) return EEF_ENOMEM;
    return EEF_OK;
}

static eef_err run_stage(enc *c, const hf_stage *g, plist *in, plist *out)
{
    out->n = 0;
    for (size_t i = 0; i < in->n; i++) {
        piece x = in->v[i];
        if (g->kind == HF_STEP_SPLIT) {
            EEF_TRY(split_piece(c, g->re, x, g->mapped, out));
        } else if (g->kind == HF_STEP_DIGITS) {
            EEF_TRY(split_digits(x, g->individual, out));
        } else {
            if (g->add_prefix_space && (x.len == 0 || x.p[0] != ' ')) {
                unsigned char *q = eef_arena_alloc(&c->arena, x.len + 1);
                if (!q) return EEF_ENOMEM;
                c->arena_used = 1;
                q[0] = ' ';
                memcpy(q + 1, x.p, x.len);
                x = (piece){ q, x.len + 1, x.src, x.shift + 1 };
            }
            if (g->re) EEF_TRY(split_piece(c, g->re, x, 0, out));
            else if (x.len && plist_push(out, x)) return EEF_ENOMEM;
        }
    }
    return EEF_OK;
}

/* A stretch of normalized text with no added token in it -> ids. */
static eef_err encode_stretch(enc *c, const unsigned char *s, size_t n, size_t at, tok_out *o)
{
    if (n == 0) return EEF_OK;
    const tok_hf *t = c->t;
    c->a.n = 0;
    if (plist_push(&c->a, (piece){ s, n, 0, 0 })) return EEF_ENOMEM;
    plist *in = &c->a, *out = &c->b;
    for (size_t k = 0; k < t->n_stages; k++) {
        EEF_TRY(run_stage(c, &t->stages[k], in, out));
        plist *tmp = in;
        in = out, out = tmp;
    }
    for (size_t i = 0; i < in->n; i++) {
        piece x = in->v[i];
        EEF_TRY(hf_encode_word(t, x.p, x.len, at + x.src, x.shift, o));
    }
    return EEF_OK;
}

/* ------------------------------------------------------------ added tokens */
typedef struct {
    size_t off, len;
    int added;  /* index into t->added, or -1 for text */
} seg;

typedef struct {
    seg *v;
    size_t n, cap;
} slist;

static int slist_push(slist *l, seg x)
{
    if (l->n == l->cap) {
        size_t c = l->cap ? 2 * l->cap : 16;
        seg *v = realloc(l->v, c * sizeof *v);
        if (!v) return -1;
        l->v = v, l->cap = c;
    }
    l->v[l->n++] = x;
    return 0;
}

/* s[0..n) cut at the added tokens of this pass; lstrip / rstrip applied */
static eef_err split_added(const tok_hf *t, int pass, const unsigned char *s, size_t n, unsigned flags,
                           slist *out)
{
    out->n = 0;
    int want_special = (flags & EEF_TOK_ENC_SPECIAL) != 0;
    size_t from = 0;
    const int32_t *first = t->a_first[pass], *count = t->a_count[pass], *list = t->a_list[pass];
    for (size_t i = 0; i < n;) {
        int hit = -1;
        int32_t c0 = count[s[i]];
        for (int32_t q = 0; q < c0; q++) {
            const hf_addtok *a = &t->added[list[first[s[i]] + q]];
            if (a->special && !want_special) continue;
            if (a->len <= n - i && memcmp(t->pool + a->off, s + i, a->len) == 0) {
                hit = list[first[s[i]] + q];
                break; /* the list is longest first */
            }
        }
        if (hit < 0) {
            i++;
            continue;
        }
        if (i > from && slist_push(out, (seg){ from, i - from, -1 })) return EEF_ENOMEM;
        if (slist_push(out, (seg){ i, t->added[hit].len, hit })) return EEF_ENOMEM;
        i += t->added[hit].len;
        from = i;
    }
    if (from < n && slist_push(out, (seg){ from, n - from, -1 })) return EEF_ENOMEM;
    /* the white space an lstrip / rstrip token swallows */
    for (size_t k = 0; k < out->n; k++) {
        if (out->v[k].added < 0) continue;
        const hf_addtok *a = &t->added[out->v[k].added];
        if (a->lstrip && k > 0 && out->v[k - 1].added < 0) {
            seg *p = &out->v[k - 1];
            while (p->len > 0) {
                /* the last character of p */
                size_t j = p->off + p->len - 1;
                while (j > p->off && (s[j] & 0xC0) == 0x80) j--;
                size_t l;
                if (!tok_uc_is_white_space(tok_utf8_decode(s, n, j, &l))) break;
                p->len = j - p->off;
            }
        }
        if (a->rstrip && k + 1 < out->n && out->v[k + 1].added < 0) {
            seg *p = &out->v[k + 1];
            while (p->len > 0) {
                size_t l;
                if (!tok_uc_is_white_space(tok_utf8_decode(s, p->off + p->len, p->off, &l))) break;
                p->off += l, p->len -= l;
            }
        }
    }
    return EEF_OK;
}

static eef_err put_ids(tok_out *o, const int *ids, size_t n, size_t end)
{
    EEF_TRY(tok_out_reserve(o, n));
    for (size_t i = 0; i < n; i++) tok_out_put(o, ids[i], end);
    return EEF_OK;
}

static eef_err encode_clean(enc *c, const unsigned char *s, size_t n, unsigned flags, tok_out *o)
{
    const tok_hf *t = c->t;
    slist outer = { 0 }, inner = { 0 };
    eef_buf norm;
    eef_buf_init(&norm);
    eef_err e = split_added(t, 0, s, n, flags, &outer);
    for (size_t k = 0; !e && k < outer.n; k++) {
        seg g = outer.v[k];
        if (g.added >= 0) {
            e = put_ids(o, &t->added[g.added].id, 1, g.off + g.len);
            continue;
        }
        if (!t->nfc) {
            e = encode_stretch(c, s + g.off, g.len, g.off, o);
            continue;
        }
        eef_buf_clear(&norm);
        e = tok_utf8_nfc(s + g.off, g.len, &norm);
        const unsigned char *ns = (const unsigned char *)norm.data;
        if (!e) e = split_added(t, 1, ns, norm.len, flags, &inner);
        for (size_t q = 0; !e && q < inner.n; q++) {
            seg h = inner.v[q];
            size_t at = g.off + (h.off < g.len ? h.off : g.len);
            if (h.added >= 0) e = put_ids(o, &t->added[h.added].id, 1, at + h.len);
            else e = encode_stretch(c, ns + h.off, h.len, at, o);
        }
    }
    free(outer.v);
    free(inner.v);
    eef_buf_free(&norm);
    return e;
}

eef_err hf_encode(const eef_tokenizer *base, const char *text, size_t len, unsigned flags, tok_out *o)
{
    const tok_hf *t = (const tok_hf *)base;
    const unsigned char *s = (const unsigned char *)text;
    eef_buf clean;
    eef_buf_init(&clean);
    if (tok_utf8_valid_len(s, len) < len) {
        if (tok_utf8_repair(s, len, &clean)) return EEF_ENOMEM;
        s = (const unsigned char *)clean.data, len = clean.len;
    }
    enc c = { .t = t };
    eef_arena_init(&c.arena, 4096);
    eef_buf_init(&c.map);
    eef_err e = EEF_OK;
    if (flags & EEF_TOK_ENC_ADD_SPECIAL) e = put_ids(o, t->prefix, t->n_prefix, 0);
    if (!e) e = encode_clean(&c, s, len, flags, o);
    if (!e && (flags & EEF_TOK_ENC_ADD_SPECIAL)) e = put_ids(o, t->suffix, t->n_suffix, len);
    eef_arena_free(&c.arena);
    free(c.a.v);
    free(c.b.v);
    free(c.rawat);
    eef_buf_free(&c.map);
    eef_buf_free(&clean);
    return e;
}

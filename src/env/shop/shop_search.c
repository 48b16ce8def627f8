/* shop_search.c: BM25 over an inverted index built once per catalogue.
 *
 * WebShop indexed "title description first-bullet options" with Lucene and
 * searched with Pyserini's BM25 (k1 = 0.9, b = 0.4); we use the same
 * document, the same parameters and Lucene's idf
 *   idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5)),
 *   score  = sum over query terms of idf * tf (k1 + 1) / (tf + k1 (1 - b + b dl / avgdl)).
 * Differences from Lucene: exact document lengths (Lucene stores them in
 * one lossy byte) and an S-stemmer instead of Porter's (shop_text.c).
 * Ties are broken by product index, i.e. by id, since catalogues are
 * sorted by id.
 */
#include "shop_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint32_t term_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    return (uint32_t)(eef_hash64(h) >> 32);
}

/* term id, or -1 */
static long term_find(const shop_index *ix, const char *s, size_t n)
{
    uint32_t i = term_hash(s, n) & (ix->n_slots - 1);
    while (ix->slots[i]) {
        const char *t = ix->terms[ix->slots[i] - 1];
        if (strncmp(t, s, n) == 0 && t[n] == 0) return (long)ix->slots[i] - 1;
        i = (i + 1) & (ix->n_slots - 1);
    }
    return -1;
}

typedef struct {
    shop_index *ix;
    uint32_t cap_terms;
    uint32_t *occ; /* term ids of the current document */
    size_t n_occ, cap_occ;
    eef_err err;
} build_ctx;

static eef_err grow_slots(shop_index *ix)
{
    uint32_t n = ix->n_slots ? ix->n_slots * 2 : 1 << 14;
    uint32_t *slots = eef_calloc(n, sizeof *slots);
    if (!slots) return EEF_ENOMEM;
    for (uint32_t t = 0; t < ix->n_terms; t++) {
        uint32_t i = term_hash(ix->terms[t], strlen(ix->terms[t])) & (n - 1);
        while (slots[i]) i = (i + 1) & (n - 1);
        slots[i] = t + 1;
    }
    free(ix->slots);
    ix->slots = slots;
    ix->n_slots = n;
    return EEF_OK;
}

static void add_term(const char *term, size_t len, void *vctx)
{
    build_ctx *b = vctx;
    shop_index *ix = b->ix;
    if (b->err) return;
    long id = term_find(ix, term, len);
    if (id < 0) {
        if ((ix->n_terms + 1) * 2 > ix->n_slots && (b->err = grow_slots(ix))) return;
        if (ix->n_terms == b->cap_terms) {
            uint32_t cap = b->cap_terms ? b->cap_terms * 2 : 4096;
            const char **t = eef_realloc(ix->terms, cap * sizeof *t);
            if (!t) {
                b->err = EEF_ENOMEM;
                return;
            }
            ix->terms = t;
            b->cap_terms = cap;
        }
        char *copy = eef_arena_strndup(&ix->arena, term, len);
        if (!copy) {
            b->err = EEF_ENOMEM;
            return;
        }
        id = ix->n_terms;
        ix->terms[ix->n_terms++] = copy;
        uint32_t i = term_hash(term, len) & (ix->n_slots - 1);
        while (ix->slots[i]) i = (i + 1) & (ix->n_slots - 1);
        ix->slots[i] = (uint32_t)id + 1;
    }
    if (b->n_occ == b->cap_occ) {
        size_t cap = b->cap_occ ? b->cap_occ * 2 : 256;
        uint32_t *o = eef_realloc(b->occ, cap * sizeof *o);
        if (!o) {
            b->err = EEF_ENOMEM;
            return;
        }
        b->occ = o;
        b->cap_occ = cap;
    }
    b->occ[b->n_occ++] = (uint32_t)id;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

eef_err shop_index_build(shop_index *ix, const shop_catalog *c)
{
    memset(ix, 0, sizeof *ix);
    eef_arena_init(&ix->arena, 1 << 18);
    ix->n_docs = (uint32_t)c->n;
    build_ctx b = { ix, 0, NULL, 0, 0, EEF_OK };
    /* pass 1: per document, its sorted term ids -> (term, tf) pairs */
    uint32_t *pair_term = NULL, *pair_doc = NULL;
    uint16_t *pair_tf = NULL;
    size_t n_pairs = 0, cap_pairs = 0;
    float *dl = eef_calloc(c->n, sizeof *dl);
    eef_buf doc;
    eef_buf_init(&doc);
    eef_err err = dl && grow_slots(ix) == EEF_OK ? EEF_OK : EEF_ENOMEM;
    for (size_t d = 0; d < c->n && !err; d++) {
        shop_product_doc(&c->items[d], &doc);
        b.n_occ = 0;
        shop_analyze(doc.data ? doc.data : "", add_term, &b);
        if ((err = b.err)) break;
        dl[d] = (float)b.n_occ;
        qsort(b.occ, b.n_occ, sizeof *b.occ, cmp_u32);
        for (size_t i = 0; i < b.n_occ;) {
            size_t j = i;
            while (j < b.n_occ && b.occ[j] == b.occ[i]) j++;
            if (n_pairs == cap_pairs) {
                size_t cap = cap_pairs ? cap_pairs * 2 : 1 << 16;
                uint32_t *pt = eef_realloc(pair_term, cap * sizeof *pt);
                if (pt) pair_term = pt;
                uint32_t *pd = pt ? eef_realloc(pair_doc, cap * sizeof *pd) : NULL;
                if (pd) pair_doc = pd;
                uint16_t *pf = pd ? eef_realloc(pair_tf, cap * sizeof *pf) : NULL;
                if (!pf) {
                    err = EEF_ENOMEM;
                    break;
                }
                pair_tf = pf;
                cap_pairs = cap;
            }
            pair_term[n_pairs] = b.occ[i];
            pair_doc[n_pairs] = (uint32_t)d;
            pair_tf[n_pairs] = (uint16_t)(j - i > 65535 ? 65535 : j - i);
            n_pairs++;
            i = j;
        }
    }
    /* pass 2: CSR postings, documents in increasing order within a term */
    if (!err) {
        ix->post_start = eef_calloc(ix->n_terms + 1, sizeof *ix->post_start);
        ix->post_doc = eef_malloc((n_pairs ? n_pairs : 1) * sizeof *ix->post_doc);
        ix->post_tf = eef_malloc((n_pairs ? n_pairs : 1) * sizeof *ix->post_tf);
        ix->idf = eef_malloc((ix->n_terms ? ix->n_terms : 1) * sizeof *ix->idf);
        ix->knorm = eef_malloc((c->n ? c->n : 1) * sizeof *ix->knorm);
        if (!ix->post_start || !ix->post_doc || !ix->post_tf || !ix->idf || !ix->knorm)
            err = EEF_ENOMEM;
    }
    if (!err) {
        for (size_t i = 0; i < n_pairs; i++) ix->post_start[pair_term[i] + 1]++;
        for (uint32_t t = 0; t < ix->n_terms; t++) ix->post_start[t + 1] += ix->post_start[t];
        uint32_t *fill = eef_malloc((ix->n_terms ? ix->n_terms : 1) * sizeof *fill);
        if (!fill) err = EEF_ENOMEM;
        else {
            memcpy(fill, ix->post_start, ix->n_terms * sizeof *fill);
            for (size_t i = 0; i < n_pairs; i++) { /* pairs are in doc order */
                uint32_t k = fill[pair_term[i]]++;
                ix->post_doc[k] = pair_doc[i];
                ix->post_tf[k] = pair_tf[i];
            }
            free(fill);
        }
        double N = (double)c->n, sum = 0;
        for (size_t d = 0; d < c->n; d++) sum += dl[d];
        double avgdl = c->n && sum > 0 ? sum / N : 1.0;
        for (uint32_t t = 0; t < ix->n_terms; t++) {
            double df = ix->post_start[t + 1] - ix->post_start[t];
            ix->idf[t] = (float)log(1.0 + (N - df + 0.5) / (df + 0.5));
        }
        for (size_t d = 0; d < c->n; d++)
            ix->knorm[d] = (float)(SHOP_BM25_K1 * (1.0 - SHOP_BM25_B + SHOP_BM25_B * dl[d] / avgdl));
    }
    free(pair_term);
    free(pair_doc);
    free(pair_tf);
    free(dl);
    free(b.occ);
    eef_buf_free(&doc);
    if (err) {
        shop_index_free(ix);
        return eef_fail_ctx(err, "shop: building the search index");
    }
    return EEF_OK;
}

void shop_index_free(shop_index *ix)
{
    free(ix->slots);
    free(ix->terms);
    free(ix->post_start);
    free(ix->post_doc);
    free(ix->post_tf);
    free(ix->idf);
    free(ix->knorm);
    eef_arena_free(&ix->arena);
    memset(ix, 0, sizeof *ix);
}

eef_err shop_scratch_init(shop_scratch *s, const shop_index *ix)
{
    s->score = eef_calloc(ix->n_docs ? ix->n_docs : 1, sizeof *s->score);
    s->touched = eef_malloc((ix->n_docs ? ix->n_docs : 1) * sizeof *s->touched);
    s->n_touched = 0;
    if (!s->score || !s->touched) {
        shop_scratch_free(s);
        return EEF_ENOMEM;
    }
    return EEF_OK;
}

void shop_scratch_free(shop_scratch *s)
{
    free(s->score);
    free(s->touched);
    s->score = NULL;
    s->touched = NULL;
}

typedef struct {
    const shop_index *ix;
    uint32_t terms[64];
    float qtf[64];
    int n;
} query_ctx;

static void add_query_term(const char *term, size_t len, void *vctx)
{
    query_ctx *q = vctx;
    long id = term_find(q->ix, term, len);
    if (id < 0) return;
    for (int i = 0; i < q->n; i++)
        if (q->terms[i] == (uint32_t)id) {
            q->qtf[i] += 1.0f;
            return;
        }
    if (q->n < 64) {
        q->terms[q->n] = (uint32_t)id;
        q->qtf[q->n++] = 1.0f;
    }
}

size_t shop_search(const shop_index *ix, shop_scratch *s, const char *query,
                   uint32_t out[SHOP_SEARCH_N])
{
    query_ctx q = { .ix = ix, .n = 0 };
    shop_analyze(query, add_query_term, &q);
    float *score = s->score;
    s->n_touched = 0;
    for (int i = 0; i < q.n; i++) {
        uint32_t t = q.terms[i];
        float w = q.qtf[i] * ix->idf[t] * (SHOP_BM25_K1 + 1.0f);
        for (uint32_t k = ix->post_start[t]; k < ix->post_start[t + 1]; k++) {
            uint32_t d = ix->post_doc[k];
            float tf = (float)ix->post_tf[k];
            if (score[d] == 0.0f) s->touched[s->n_touched++] = d;
            score[d] += w * tf / (tf + ix->knorm[d]);
        }
    }
    /* top SHOP_SEARCH_N by (score desc, index asc), by insertion */
    float best_s[SHOP_SEARCH_N];
    size_t n = 0;
    for (uint32_t i = 0; i < s->n_touched; i++) {
        uint32_t d = s->touched[i];
        float sc = score[d];
        if (n == SHOP_SEARCH_N &&
            (sc < best_s[n - 1] || (sc == best_s[n - 1] && d > out[n - 1])))
            continue;
        size_t j = n < SHOP_SEARCH_N ? n++ : n - 1;
        while (j > 0 && (best_s[j - 1] < sc || (best_s[j - 1] == sc && out[j - 1] > d))) {
            best_s[j] = best_s[j - 1];
            out[j] = out[j - 1];
            j--;
        }
        best_s[j] = sc;
        out[j] = d;
    }
    for (uint32_t i = 0; i < s->n_touched; i++) score[s->touched[i]] = 0.0f;
    s->n_touched = 0;
    return n;
}

/* bpe_train.c: learning the merges.
 *
 * The corpus is reduced to its distinct words with counts; each pair of
 * adjacent symbols has a total count and the list of words it occurs in.
 * A merge rewrites only the words in that list and adjusts the counts of
 * their pairs, so a merge costs what it touches, not the corpus.  The best
 * pair comes from a max-heap whose stale entries are skipped when popped.
 */
#include "text_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    int *sym;
    int len;
    long count;
    unsigned stamp; /* last merge that rewrote it */
} word;

typedef struct {
    uint64_t key;   /* (left << 32) | right; 0 = empty slot (pair (0,0) is stored as key 0 + used) */
    long count;
    int *words;
    int n_words, cap_words;
    int used;
} pair_slot;

typedef struct {
    pair_slot *slots;
    size_t cap, n;
} pair_map;

typedef struct {
    long count;
    int a, b;
} heap_item;

typedef struct {
    heap_item *items;
    size_t n, cap;
} heap;

static uint64_t pkey(int a, int b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

static pair_slot *pm_find(pair_map *m, uint64_t k, int create)
{
    if (create && 2 * (m->n + 1) > m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 1 << 16;
        pair_slot *s = calloc(cap, sizeof *s);
        if (!s) return NULL;
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->slots[i].used) continue;
            size_t h = eef_hash64(m->slots[i].key) & (cap - 1);
            while (s[h].used) h = (h + 1) & (cap - 1);
            s[h] = m->slots[i];
        }
        free(m->slots);
        m->slots = s, m->cap = cap;
    }
    if (!m->cap) return NULL;
    size_t h = eef_hash64(k) & (m->cap - 1);
    while (m->slots[h].used) {
        if (m->slots[h].key == k) return &m->slots[h];
        h = (h + 1) & (m->cap - 1);
    }
    if (!create) return NULL;
    m->slots[h].used = 1;
    m->slots[h].key = k;
    m->n++;
    return &m->slots[h];
}

static int better(const heap_item *x, const heap_item *y)
{
    if (x->count != y->count) return x->count > y->count;
    if (x->a != y->a) return x->a < y->a;
    return x->b < y->b;
}

static int heap_push(heap *h, heap_item it)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 1024;
        heap_item *p = realloc(h->items, cap * sizeof *p);
        if (!p) return -1;
        h->items = p, h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0 && better(&it, &h->items[(i - 1) / 2])) {
        h->items[i] = h->items[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->items[i] = it;
    return 0;
}

static heap_item heap_pop(heap *h)
{
    heap_item top = h->items[0], last = h->items[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && better(&h->items[c + 1], &h->items[c])) c++;
        if (!better(&h->items[c], &last)) break;
        h->items[i] = h->items[c];
        i = c;
    }
    if (h->n) h->items[i] = last;
    return top;
}

static int add_word_to(pair_slot *p, int w)
{
    if (p->n_words && p->words[p->n_words - 1] == w) return 0;
    if (p->n_words == p->cap_words) {
        int cap = p->cap_words ? 2 * p->cap_words : 4;
        int *q = realloc(p->words, (size_t)cap * sizeof(int));
        if (!q) return -1;
        p->words = q, p->cap_words = cap;
    }
    p->words[p->n_words++] = w;
    return 0;
}

/* Distinct words of the corpus with their counts. */
static eef_err count_words(const char *text, size_t len, word **out, int *n_out)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t cap = 1 << 14, n = 0;
    struct slot {
        size_t off, len;
        int idx;
    } *tab = calloc(cap, sizeof *tab);
    size_t wcap = 1024;
    word *w = malloc(wcap * sizeof *w);
    if (!tab || !w) {
        free(tab), free(w);
        return eef_fail(EEF_ENOMEM, "out of memory counting words");
    }
    for (size_t i = 0; i < cap; i++) tab[i].idx = -1;
    size_t i = 0;
    eef_err e = EEF_OK;
    while (i < len && !e) {
        size_t j = tok_next_word(s, len, i), wl = j - i;
        uint64_t h0 = 0xcbf29ce484222325ULL;
        for (size_t k = i; k < j; k++) h0 = (h0 ^ s[k]) * 0x100000001b3ULL;
        size_t h = eef_hash64(h0) & (cap - 1);
        while (tab[h].idx >= 0 && !(tab[h].len == wl && memcmp(s + tab[h].off, s + i, wl) == 0))
            h = (h + 1) & (cap - 1);
        if (tab[h].idx >= 0) {
            w[tab[h].idx].count++;
        } else {
            if (n == wcap) {
                word *q = realloc(w, 2 * wcap * sizeof *w);
                if (!q) {
                    e = eef_fail(EEF_ENOMEM, "out of memory counting words");
                    break;
                }
                w = q, wcap *= 2;
            }
            w[n].sym = malloc(wl * sizeof(int));
            if (!w[n].sym) {
                e = eef_fail(EEF_ENOMEM, "out of memory counting words");
                break;
            }
            for (size_t k = 0; k < wl; k++) w[n].sym[k] = s[i + k];
            w[n].len = (int)wl, w[n].count = 1, w[n].stamp = 0;
            tab[h] = (struct slot){ i, wl, (int)n };
            n++;
            if (2 * n > cap) { /* grow and rehash */
                size_t nc = 2 * cap;
                struct slot *t2 = calloc(nc, sizeof *t2);
                if (!t2) {
                    e = eef_fail(EEF_ENOMEM, "out of memory counting words");
                    break;
                }
                for (size_t q = 0; q < nc; q++) t2[q].idx = -1;
                for (size_t q = 0; q < cap; q++) {
                    if (tab[q].idx < 0) continue;
                    uint64_t g = 0xcbf29ce484222325ULL;
                    for (size_t k = 0; k < tab[q].len; k++) g = (g ^ s[tab[q].off + k]) * 0x100000001b3ULL;
                    size_t hh = eef_hash64(g) & (nc - 1);
                    while (t2[hh].idx >= 0) hh = (hh + 1) & (nc - 1);
                    t2[hh] = tab[q];
                }
                free(tab);
                tab = t2, cap = nc;
            }
        }
        i = j;
    }
    free(tab);
    if (e) {
        for (size_t k = 0; k < n; k++) free(w[k].sym);
        free(w);
        return e;
    }
    *out = w;
    *n_out = (int)n;
    return EEF_OK;
}

eef_err eef_tok_train(const char *text, size_t len, int vocab_size, eef_tokenizer **out)
{
    *out = NULL;
    if (vocab_size < EEF_TOK_FIRST_MERGE || vocab_size > (1 << 20))
        return eef_fail(EEF_EINVAL, "tokenizer: vocabulary size %d out of range [%d, %d]",
                        vocab_size, EEF_TOK_FIRST_MERGE, 1 << 20);
    word *w = NULL;
    int nw = 0;
    EEF_TRY(count_words(text, len, &w, &nw));
    pair_map pm = { 0 };
    heap hp = { 0 };
    int max_merges = vocab_size - EEF_TOK_FIRST_MERGE;
    tok_eef *t = tok_eef_new(EEF_TOK_FIRST_MERGE, max_merges);
    eef_err e = t ? EEF_OK : EEF_ENOMEM;
    /* initial pair counts */
    for (int i = 0; !e && i < nw; i++)
        for (int k = 0; k + 1 < w[i].len; k++) {
            pair_slot *p = pm_find(&pm, pkey(w[i].sym[k], w[i].sym[k + 1]), 1);
            if (!p || add_word_to(p, i)) {
                e = EEF_ENOMEM;
                break;
            }
            p->count += w[i].count;
        }
    for (size_t i = 0; !e && i < pm.cap; i++)
        if (pm.slots[i].used && pm.slots[i].count > 0 &&
            heap_push(&hp, (heap_item){ pm.slots[i].count, (int)(pm.slots[i].key >> 32),
                                        (int)(uint32_t)pm.slots[i].key }))
            e = EEF_ENOMEM;
    uint64_t *changed = NULL;
    size_t n_changed = 0, cap_changed = 0;
    unsigned stamp = 0;
    while (!e && t->n_merges < max_merges && hp.n) {
        heap_item top = heap_pop(&hp);
        pair_slot *p = pm_find(&pm, pkey(top.a, top.b), 0);
        if (!p || p->count != top.count) continue; /* stale */
        if (top.count < 2) break;                   /* nothing worth merging */
        int z = EEF_TOK_FIRST_MERGE + t->n_merges;
        t->merges[2 * t->n_merges] = top.a;
        t->merges[2 * t->n_merges + 1] = top.b;
        t->n_merges++;
        stamp++;
        n_changed = 0;
        /* the list may grow while we rewrite: iterate over a copy */
        int nlist = p->n_words;
        int *list = malloc((size_t)(nlist ? nlist : 1) * sizeof(int));
        if (!list) {
            e = EEF_ENOMEM;
            break;
        }
        memcpy(list, p->words, (size_t)nlist * sizeof(int));
        for (int li = 0; li < nlist && !e; li++) {
            word *wd = &w[list[li]];
            if (wd->stamp == stamp) continue;
            int has = 0;
            for (int k = 0; k + 1 < wd->len && !has; k++) has = wd->sym[k] == top.a && wd->sym[k + 1] == top.b;
            if (!has) continue;
            wd->stamp = stamp;
            /* remove the old pairs, rewrite, add the new pairs */
            for (int pass = 0; pass < 2 && !e; pass++) {
                if (pass == 1) {
                    int m = 0;
                    for (int k = 0; k < wd->len; k++) {
                        if (k + 1 < wd->len && wd->sym[k] == top.a && wd->sym[k + 1] == top.b) {
                            wd->sym[m++] = z;
                            k++;
                        } else {
                            wd->sym[m++] = wd->sym[k];
                        }
                    }
                    wd->len = m;
                }
                for (int k = 0; k + 1 < wd->len; k++) {
                    uint64_t key = pkey(wd->sym[k], wd->sym[k + 1]);
                    pair_slot *q = pm_find(&pm, key, pass == 1);
                    if (!q) {
                        if (pass == 1) e = EEF_ENOMEM;
                        continue;
                    }
                    q->count += pass ? wd->count : -wd->count;
                    if (pass == 1 && (wd->sym[k] == z || wd->sym[k + 1] == z) && add_word_to(q, list[li]))
                        e = EEF_ENOMEM;
                    if (n_changed == cap_changed) {
                        size_t c = cap_changed ? 2 * cap_changed : 256;
                        uint64_t *ch = realloc(changed, c * sizeof *ch);
                        if (!ch) {
                            e = EEF_ENOMEM;
                            break;
                        }
                        changed = ch, cap_changed = c;
                    }
                    changed[n_changed++] = key;
                }
            }
        }
        free(list);
        /* the merged pair is gone; changed pairs get fresh heap entries */
        p = pm_find(&pm, pkey(top.a, top.b), 0);
        if (p) {
            p->count = 0;
            p->n_words = 0;
        }
        for (size_t k = 0; !e && k < n_changed; k++) {
            pair_slot *q = pm_find(&pm, changed[k], 0);
            if (q && q->count > 0 && (k == 0 || changed[k] != changed[k - 1]) &&
                heap_push(&hp, (heap_item){ q->count, (int)(changed[k] >> 32), (int)(uint32_t)changed[k] }))
                e = EEF_ENOMEM;
        }
    }
    free(changed);
    for (size_t i = 0; i < pm.cap; i++) free(pm.slots[i].words);
    free(pm.slots);
    free(hp.items);
    for (int i = 0; i < nw; i++) free(w[i].sym);
    free(w);
    if (!e) {
        t->base.vocab = EEF_TOK_FIRST_MERGE + t->n_merges;
        e = tok_build(t);
    }
    if (e) {
        eef_tok_free(t ? &t->base : NULL);
        return e == EEF_ENOMEM ? eef_fail(e, "out of memory training the tokenizer") : e;
    }
    *out = &t->base;
    return EEF_OK;
}

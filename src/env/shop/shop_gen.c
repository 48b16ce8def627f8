/* shop_gen.c: the seeded catalogue generator.
 *
 * Products come in families: a base product and up to three
 * near-duplicates whose titles look alike and that differ in ONE thing:
 *   - an attribute that only the Features/Attributes pages show (the
 *     hard case: the results page cannot tell them apart),
 *   - the set of values of one option group,
 *   - the price (a pricier twin, often above the instruction's bound),
 *   - one title word.
 * A product is first drawn as a small spec (indices into the type's
 * vocabulary), then rendered to texts, so a variant is "copy the spec,
 * change one field, render".
 *
 * Visibility of attributes: at most one attribute goes into the title and
 * one into the description (both indexed by search and visible before
 * opening sub-pages); the others are "deep": only in Features bullets and
 * the Attributes page, invisible to search.
 */
#include "shop_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Knobs of the generator (probabilities). */
#define P_STUFFED 0.12     /* keyword-stuffed title ("Brand Noun Mod Noun2 Noun3") */
#define P_TITLE_ATTR 0.35  /* an attribute in the title */
#define P_DESC_ATTR 0.5    /* an attribute in the description */
#define P_TWO_MODS 0.5

enum { VAR_ATTR, VAR_OPTS, VAR_PRICE, VAR_TITLE };

typedef struct {
    int type, brand, noun, n_mods, mods[2], suffix, use, desc_tpl;
    int stuffed, extra_nouns[2];
    int n_attrs, attrs[5];
    int title_attr, desc_attr; /* positions in attrs[], -1 none */
    int n_dims, dim_of[3];
    uint32_t mask[3];          /* chosen values of each group (bit = value index) */
    int price_cents;
    int family;
} gen_spec;

static int list_len(const char *const *l)
{
    int n = 0;
    while (l && l[n]) n++;
    return n;
}

static int type_dims(const shop_type_spec *t)
{
    int n = 0;
    while (n < 3 && t->dims[n].name) n++;
    return n;
}

static int pick(eef_rng *r, int n) { return (int)eef_rng_below(r, (uint64_t)n); }

/* k distinct indices of [0, n) in random order */
static void pick_distinct(eef_rng *r, int n, int k, int *out)
{
    int idx[64];
    for (int i = 0; i < n; i++) idx[i] = i;
    for (int i = 0; i < k; i++) {
        int j = i + pick(r, n - i);
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
        out[i] = idx[i];
    }
}

static int has_attr(const gen_spec *s, int a)
{
    for (int i = 0; i < s->n_attrs; i++)
        if (s->attrs[i] == a) return 1;
    return 0;
}

static int popcount32(uint32_t x) { return __builtin_popcount(x); }

static uint32_t pick_mask(eef_rng *r, int n_values, int lo, int hi)
{
    if (hi > n_values) hi = n_values;
    if (lo > hi) lo = hi;
    int k = lo + pick(r, hi - lo + 1), idx[32];
    pick_distinct(r, n_values, k, idx);
    uint32_t m = 0;
    for (int i = 0; i < k; i++) m |= 1u << idx[i];
    return m;
}

static int random_cents(eef_rng *r, double lo, double hi)
{
    /* cents never end in 0, so "$%.2f" is also Python's str(float) */
    static const int ends[] = { 99, 49, 95, 29, 79, 89, 39, 19 };
    int dollars = (int)lo + pick(r, (int)(hi - lo) + 1);
    return dollars * 100 + ends[pick(r, (int)EEF_ARRAY_LEN(ends))];
}

static void base_spec(eef_rng *r, int type, int family, gen_spec *s)
{
    const shop_type_spec *t = &shop_types[type];
    memset(s, 0, sizeof *s);
    s->type = type;
    s->family = family;
    s->brand = pick(r, list_len(shop_brands));
    s->noun = pick(r, list_len(t->nouns));
    s->n_mods = eef_rng_uniform(r) < P_TWO_MODS ? 2 : 1;
    pick_distinct(r, list_len(t->mods), s->n_mods, s->mods);
    s->suffix = pick(r, list_len(t->suffixes));
    s->use = pick(r, list_len(t->uses));
    s->desc_tpl = pick(r, 3);
    s->stuffed = eef_rng_uniform(r) < P_STUFFED;
    int nn = list_len(t->nouns), others[8], no = 0;
    for (int i = 0; i < nn; i++)
        if (i != s->noun) others[no++] = i;
    int two[2] = { 0, 0 };
    pick_distinct(r, no, no >= 2 ? 2 : 1, two);
    s->extra_nouns[0] = others[two[0]];
    s->extra_nouns[1] = others[no >= 2 ? two[1] : two[0]];
    int na = list_len(t->attrs);
    s->n_attrs = 3 + (eef_rng_uniform(r) < 0.5);
    if (s->n_attrs > na - 1) s->n_attrs = na - 1; /* leave one spare for variants */
    pick_distinct(r, na, s->n_attrs, s->attrs);
    s->title_attr = eef_rng_uniform(r) < P_TITLE_ATTR ? 0 : -1;
    s->desc_attr = eef_rng_uniform(r) < P_DESC_ATTR ? 1 : -1;
    /* number of option groups: 0 (15%), 1 (35%), 2 (50%), capped by the type */
    double u = eef_rng_uniform(r);
    int nd = u < 0.15 ? 0 : u < 0.50 ? 1 : 2, td = type_dims(t);
    if (nd > td) nd = td;
    int which[3];
    pick_distinct(r, td, nd, which);
    /* keep the type's order of groups (color before size, as on Amazon) */
    for (int i = 0; i < nd; i++)
        for (int j = i + 1; j < nd; j++)
            if (which[j] < which[i]) {
                int tmp = which[i];
                which[i] = which[j];
                which[j] = tmp;
            }
    s->n_dims = nd;
    for (int i = 0; i < nd; i++) {
        const shop_dim_spec *ds = &t->dims[which[i]];
        s->dim_of[i] = which[i];
        s->mask[i] = pick_mask(r, list_len(ds->values), ds->min_pick, ds->max_pick);
    }
    s->price_cents = random_cents(r, t->price_lo, t->price_hi);
}

/* Applies one near-duplicate change; returns 0 when this kind of change
 * is impossible for the spec (the caller then tries another kind). */
static int make_variant(eef_rng *r, gen_spec *s, int kind)
{
    const shop_type_spec *t = &shop_types[s->type];
    switch (kind) {
    case VAR_ATTR: {
        int deep[5], nd = 0;
        for (int i = 0; i < s->n_attrs; i++)
            if (i != s->title_attr && i != s->desc_attr) deep[nd++] = i;
        int spare[16], ns = 0, na = list_len(t->attrs);
        for (int a = 0; a < na; a++)
            if (!has_attr(s, a)) spare[ns++] = a;
        if (!nd || !ns) return 0;
        s->attrs[deep[pick(r, nd)]] = spare[pick(r, ns)];
        return 1;
    }
    case VAR_OPTS: {
        if (!s->n_dims) return 0;
        int d = pick(r, s->n_dims);
        const shop_dim_spec *ds = &t->dims[s->dim_of[d]];
        int nv = list_len(ds->values);
        uint32_t m = s->mask[d], all = nv >= 32 ? 0xFFFFFFFFu : (1u << nv) - 1;
        /* drop one offered value (keeping two), add one not offered */
        int in[32], ni = 0, out[32], no = 0;
        for (int v = 0; v < nv; v++) {
            if (m & (1u << v)) in[ni++] = v;
            else out[no++] = v;
        }
        if (ni > 2) m &= ~(1u << in[pick(r, ni)]);
        if (no) m |= 1u << out[pick(r, no)];
        m &= all;
        if (m == s->mask[d] || popcount32(m) < 2) return 0;
        s->mask[d] = m;
        return 1;
    }
    case VAR_PRICE:
        s->price_cents = (int)(s->price_cents * (1.4 + 0.6 * eef_rng_uniform(r)));
        s->price_cents = s->price_cents / 100 * 100 + 99;
        return 1;
    case VAR_TITLE: {
        int nm = list_len(t->mods), m = pick(r, nm);
        for (int i = 0; i < s->n_mods; i++)
            if (s->mods[i] == m) return 0;
        s->mods[0] = m;
        return 1;
    }
    }
    return 0;
}

/* ------------------------------------------------------------------ render */
static void title_case(eef_buf *b, const char *s)
{
    int start = 1;
    for (; *s; s++) {
        char ch = *s;
        if (start && ch >= 'a' && ch <= 'z') ch = (char)(ch - 32);
        start = ch == ' ';
        eef_buf_append(b, &ch, 1);
    }
}

static void lower_into(eef_buf *b, const char *s)
{
    for (; *s; s++) {
        char ch = (char)tolower((unsigned char)*s);
        eef_buf_append(b, &ch, 1);
    }
}

static const char *adup(eef_arena *a, eef_buf *b)
{
    return eef_arena_strdup(a, b->data ? b->data : "");
}

static eef_err render(shop_catalog *c, eef_rng *r, const gen_spec *s, shop_product *p)
{
    const shop_type_spec *t = &shop_types[s->type];
    eef_arena *a = &c->arena;
    eef_buf b;
    eef_buf_init(&b);
    const char *noun = t->nouns[s->noun], *suffix = t->suffixes[s->suffix];
    /* title */
    eef_buf_puts(&b, shop_brands[s->brand]);
    if (s->stuffed) {
        eef_buf_printf(&b, " %s %s %s %s", noun, t->mods[s->mods[0]], t->nouns[s->extra_nouns[0]],
                       t->nouns[s->extra_nouns[1]]);
    } else {
        if (s->title_attr >= 0) {
            eef_buf_puts(&b, " ");
            title_case(&b, t->attrs[s->attrs[s->title_attr]]);
        }
        for (int i = 0; i < s->n_mods; i++) eef_buf_printf(&b, " %s", t->mods[s->mods[i]]);
        eef_buf_printf(&b, " %s", noun);
    }
    if (s->stuffed && s->title_attr >= 0) {
        eef_buf_puts(&b, " ");
        title_case(&b, t->attrs[s->attrs[s->title_attr]]);
    }
    if (*suffix) eef_buf_printf(&b, " %s", suffix);
    p->title = adup(a, &b);
    /* description: one sentence, plus the description attribute */
    eef_buf_clear(&b);
    switch (s->desc_tpl) {
    case 0: eef_buf_printf(&b, "%s %s.", noun, t->uses[s->use]); break;
    case 1:
        eef_buf_puts(&b, "This ");
        lower_into(&b, t->mods[s->mods[0]]);
        eef_buf_puts(&b, " ");
        lower_into(&b, noun);
        eef_buf_printf(&b, " is made %s.", t->uses[s->use]);
        break;
    default:
        eef_buf_puts(&b, "Our ");
        lower_into(&b, noun);
        eef_buf_printf(&b, " is a simple choice %s.", t->uses[s->use]);
    }
    if (s->desc_attr >= 0) eef_buf_printf(&b, " Key feature: %s.", t->attrs[s->attrs[s->desc_attr]]);
    p->description = adup(a, &b);
    /* bullets: a design line (indexed by search), then one per attribute */
    p->n_bullets = (uint32_t)s->n_attrs + 1;
    p->bullets = eef_arena_alloc(a, p->n_bullets * sizeof *p->bullets);
    p->n_attrs = (uint32_t)s->n_attrs;
    p->attrs = eef_arena_alloc(a, p->n_attrs * sizeof *p->attrs);
    if (!p->bullets || !p->attrs) goto oom;
    eef_buf_clear(&b);
    eef_buf_printf(&b, "%s design %s", t->mods[s->mods[s->n_mods - 1]], t->uses[(s->use + 1) % list_len(t->uses)]);
    p->bullets[0] = adup(a, &b);
    int nb = list_len(shop_benefits);
    for (int i = 0; i < s->n_attrs; i++) {
        p->attrs[i] = t->attrs[s->attrs[i]];
        eef_buf_clear(&b);
        eef_buf_printf(&b, "%s - %s", t->attrs[s->attrs[i]], shop_benefits[pick(r, nb)]);
        p->bullets[i + 1] = adup(a, &b);
    }
    /* options */
    p->n_dims = (uint32_t)s->n_dims;
    p->dims = s->n_dims ? eef_arena_alloc(a, (size_t)s->n_dims * sizeof *p->dims) : NULL;
    for (int d = 0; d < s->n_dims; d++) {
        const shop_dim_spec *ds = &t->dims[s->dim_of[d]];
        shop_dim *pd = &p->dims[d];
        pd->name = ds->name;
        pd->values = eef_arena_alloc(a, (size_t)popcount32(s->mask[d]) * sizeof *pd->values);
        if (!pd->values) goto oom;
        for (int v = 0; ds->values[v]; v++)
            if (s->mask[d] & (1u << v)) pd->values[pd->n_values++] = ds->values[v];
    }
    /* reviews */
    static const char *const review_tpl[] = {
        "great %s, exactly as described", "%s as promised, very happy",
        "good quality for the price", "works well, would buy again",
    };
    p->n_reviews = 1 + (uint32_t)pick(r, 2);
    p->reviews = eef_arena_alloc(a, p->n_reviews * sizeof *p->reviews);
    if (!p->reviews) goto oom;
    for (uint32_t k = 0; k < p->n_reviews; k++) {
        int tpl = pick(r, (int)EEF_ARRAY_LEN(review_tpl)), score = 3 + pick(r, 3);
        eef_buf_clear(&b);
        eef_buf_printf(&b, "%d.0 out of 5 [SEP] ", score);
        if (tpl == 0) {
            eef_buf_puts(&b, "great ");
            lower_into(&b, noun);
            eef_buf_puts(&b, ", exactly as described");
        } else if (tpl == 1) {
            eef_buf_printf(&b, review_tpl[1], t->attrs[s->attrs[pick(r, s->n_attrs)]]);
        } else {
            eef_buf_puts(&b, review_tpl[tpl]);
        }
        p->reviews[k] = adup(a, &b);
    }
    /* price */
    p->price = s->price_cents / 100.0;
    eef_buf_clear(&b);
    eef_buf_printf(&b, "$%d.%02d", s->price_cents / 100, s->price_cents % 100);
    p->price_tag = adup(a, &b);
    p->category = t->category;
    p->query = t->query;
    p->product_category = t->product_category;
    p->type = s->type;
    p->family = s->family;
    eef_buf_free(&b);
    if (!p->title || !p->description || !p->price_tag) return EEF_ENOMEM;
    return EEF_OK;
oom:
    eef_buf_free(&b);
    return eef_fail(EEF_ENOMEM, "shop: out of memory generating products");
}

/* ------------------------------------------------------------------ ids */
static const char ID_CHARS[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

typedef struct {
    uint64_t *slot;
    size_t cap;
} id_set;

/* 1 when added, 0 when already present */
static int id_set_add(id_set *s, uint64_t code)
{
    size_t i = (size_t)(eef_hash64(code) & (s->cap - 1));
    while (s->slot[i]) {
        if (s->slot[i] == code) return 0;
        i = (i + 1) & (s->cap - 1);
    }
    s->slot[i] = code;
    return 1;
}

eef_err shop_generate(shop_catalog *c, size_t n, size_t types, uint64_t seed)
{
    if (n < 1 || n > 1000000)
        return eef_fail(EEF_EINVAL, "shop: products=%zu is out of range [1, 1000000]", n);
    if (types == 0 || types > shop_n_types) types = shop_n_types;
    c->items = eef_calloc(n, sizeof *c->items);
    if (!c->items) return EEF_ENOMEM;
    c->generated = 1;
    eef_rng r = eef_rng_make(eef_rng_key(seed, EEF_STREAM_SHOP_GEN, 0, 0));
    id_set ids = { NULL, 1 };
    while (ids.cap < 2 * n) ids.cap <<= 1;
    ids.slot = eef_calloc(ids.cap, sizeof *ids.slot);
    if (!ids.slot) return EEF_ENOMEM;
    eef_err err = EEF_OK;
    /* types in a shuffled round robin, so each gets about n / types
     * products; a smaller world takes the first `types` of the order */
    int order[64];
    for (size_t i = 0; i < shop_n_types; i++) order[i] = (int)i;
    eef_rng_shuffle(&r, order, shop_n_types, sizeof order[0]);
    size_t made = 0;
    int family = 0;
    while (made < n && !err) {
        int type = order[family % (int)types];
        /* family size: 1 (35%), 2 (30%), 3 (25%), 4 (10%) */
        double u = eef_rng_uniform(&r);
        size_t size = u < 0.35 ? 1 : u < 0.65 ? 2 : u < 0.90 ? 3 : 4;
        if (size > n - made) size = n - made;
        gen_spec base, s;
        base_spec(&r, type, family, &base);
        for (size_t k = 0; k < size && !err; k++) {
            s = base;
            if (k > 0) {
                /* attribute twins are the most common near-duplicates */
                double v = eef_rng_uniform(&r);
                int kind = v < 0.55 ? VAR_ATTR : v < 0.75 ? VAR_OPTS : v < 0.88 ? VAR_PRICE : VAR_TITLE;
                for (int tries = 0; tries < 4 && !make_variant(&r, &s, kind); tries++)
                    kind = (kind + 1) % 4;
                /* small price jitter keeps twins from being exact copies */
                if (kind != VAR_PRICE) {
                    int cents = (int)(s.price_cents * (0.9 + 0.2 * eef_rng_uniform(&r)));
                    s.price_cents = cents < 100 ? base.price_cents : cents / 100 * 100 + base.price_cents % 100;
                }
            }
            shop_product *p = &c->items[made];
            err = render(c, &r, &s, p);
            /* id: B0 + 8 of [0-9A-Z], unique */
            char id[11] = "B0";
            uint64_t code;
            do {
                code = 1;
                for (int i = 0; i < 8; i++) {
                    int ch = pick(&r, 36);
                    id[2 + i] = ID_CHARS[ch];
                    code = code * 37 + (uint64_t)ch + 1;
                }
            } while (!id_set_add(&ids, code));
            id[10] = 0;
            p->asin = eef_arena_strdup(&c->arena, id);
            if (!p->asin) err = EEF_ENOMEM;
            made++;
        }
        family++;
    }
    free(ids.slot);
    c->n = made;
    return err;
}

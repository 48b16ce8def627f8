/* shop_goal.c: goals of generated catalogues, and the tier of any task.
 *
 * A goal is made from a target product as WebShop's synthetic goals are:
 * the product's type noun, some of its attributes, one value of each of
 * its option groups, and a price bound just above its price, phrased in
 * varied natural templates ("i am looking for ...", "find me ...").
 * Like WebShop, any product satisfying the goal wins, not only the target.
 *
 * Tier (facts of the catalogue, see docs/shop.md):
 *   hard   = no winning product on page 1 of the natural query's results,
 *            or a look-alike non-winner ranks above the first winner on
 *            page 1 and only its attributes tell them apart;
 *   easy   = otherwise, with at most one option to choose;
 *   medium = otherwise (two or more options to choose).
 * A candidate goal whose natural query finds no winner in its top 50 is
 * discarded (the task would need a different query to be solvable).
 */
#include "shop_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Knobs (probabilities). */
#define P_DISTINCT_ATTR 0.8 /* include the attribute a look-alike twin lacks */

double shop_price_upper(double price, eef_rng *r)
{
    double cand[4];
    int n = 0;
    for (int i = 1; i < 100 && n < 4; i++)
        if (10.0 * i > price) cand[n++] = 10.0 * i;
    if (n < 2) return 1e6;
    int a = (int)eef_rng_below(r, (uint64_t)n), b = (int)eef_rng_below(r, (uint64_t)(n - 1));
    if (b >= a) b++;
    return cand[a > b ? a : b];
}

/* ------------------------------------------------------------------ tiers */
/* 1 when q fails the goal only on attributes, none of which the first
 * winner's title shows, and q's title looks like the winner's: a shopper
 * looking at the results page and q's item page cannot tell them apart. */
static int deceptive(const shop_catalog *c, const shop_goal *g, uint32_t q, uint32_t w)
{
    const shop_product *pq = &c->items[q], *pw = &c->items[w];
    if (pq->price > g->price_upper) return 0;
    if (shop_type_reward(c, g, q) != 1.0) return 0;
    if (shop_fuzz_token_set_ratio(pq->title, pw->title) <= 85) return 0;
    uint32_t found = 0;
    for (uint32_t d = 0; d < pq->n_dims && d < SHOP_MAX_DIMS; d++)
        for (uint32_t v = 0; v < pq->dims[d].n_values; v++)
            if (shop_option_matches(pq, g, d, v)) {
                found++;
                break;
            }
    if (found < g->n_opts) return 0;
    int fails = 0;
    for (uint32_t k = 0; k < g->n_attrs; k++) {
        if (shop_attr_matches(pq, g->attrs[k])) continue;
        if (strstr(pw->lc_title, g->attrs[k])) return 0; /* the titles differ */
        fails++;
    }
    return fails > 0;
}

void shop_task_classify(shop_env *e, shop_scratch *s, shop_task *t)
{
    uint32_t res[SHOP_SEARCH_N];
    size_t n = shop_search(&e->index, s, t->query, res);
    t->first_win = -1;
    t->deceptive = 0;
    for (size_t i = 0; i < n; i++)
        if (shop_can_win(&e->cat, &t->goal, res[i], NULL)) {
            t->first_win = (int)i;
            break;
        }
    if (t->first_win >= 0 && t->first_win < SHOP_PER_PAGE)
        for (int i = 0; i < t->first_win; i++)
            if (deceptive(&e->cat, &t->goal, res[i], res[t->first_win])) {
                t->deceptive = 1;
                break;
            }
    if (t->first_win < 0 || t->first_win >= SHOP_PER_PAGE || t->deceptive) t->tier = EEF_TIER_HARD;
    else if (t->goal.n_opts <= 1) t->tier = EEF_TIER_EASY;
    else t->tier = EEF_TIER_MEDIUM;
}

/* ------------------------------------------------------------------ phrasing */
static const char *const LEADS[] = {
    "i am looking for", "i need", "find me", "i want to buy", "i would like", "get me",
    "looking for", "i want",
};

static int is_vowel(char ch) { return ch && strchr("aeiou", ch) != NULL; }

/* "a", "a and b", "a, b and c" */
static void join_and(eef_buf *b, const char *const *items, int n)
{
    for (int i = 0; i < n; i++) {
        if (i) eef_buf_puts(b, i == n - 1 ? " and " : ", ");
        eef_buf_puts(b, items[i]);
    }
}

/* The product's type noun as its title spells it (longest match). */
static const char *type_noun(const shop_product *p)
{
    const shop_type_spec *t = &shop_types[p->type];
    const char *best = t->nouns[0];
    size_t best_len = 0;
    for (int i = 0; t->nouns[i]; i++) {
        size_t l = strlen(t->nouns[i]);
        if (l > best_len && strcasestr(p->title, t->nouns[i])) best = t->nouns[i], best_len = l;
    }
    return best;
}

static void option_phrase(eef_buf *b, const char *name, const char *value)
{
    if (strcmp(name, "size") == 0) eef_buf_printf(b, "size %s", value);
    else if (strcmp(name, "style") == 0) eef_buf_printf(b, "for %s", value);
    else if (strcmp(name, "flavor name") == 0) eef_buf_printf(b, "%s flavor", value);
    else eef_buf_printf(b, "%s %s", value, name);
}

static void phrase(eef_rng *r, const shop_product *p, const shop_goal *g, const char **opt_names,
                   eef_buf *out)
{
    eef_buf_clear(out);
    char noun[128];
    snprintf(noun, sizeof noun, "%s", type_noun(p));
    for (char *q = noun; *q; q++) *q = (char)(*q >= 'A' && *q <= 'Z' ? *q + 32 : *q);
    int plural = noun[strlen(noun) - 1] == 's';
    eef_buf_puts(out, LEADS[eef_rng_below(r, EEF_ARRAY_LEN(LEADS))]);
    eef_buf_puts(out, " ");
    /* attributes before the noun, after it ("that is ..."), or split */
    int n = (int)g->n_attrs, style = (int)eef_rng_below(r, 4), n_pre;
    n_pre = style == 0 ? n : style == 1 || style == 2 ? 0 : (n + 1) / 2;
    const char *first = n_pre ? g->attrs[0] : noun;
    if (!plural) eef_buf_puts(out, is_vowel(first[0]) ? "an " : "a ");
    if (n_pre) {
        join_and(out, g->attrs, n_pre);
        eef_buf_puts(out, " ");
    }
    eef_buf_puts(out, noun);
    if (n - n_pre > 0) {
        eef_buf_puts(out, style == 2 ? " which " : " that ");
        eef_buf_puts(out, plural ? "are " : "is ");
        join_and(out, g->attrs + n_pre, n - n_pre);
    }
    /* options: WebShop's synthetic "with color: x, and size: y", or prose */
    if (g->n_opts) {
        double u = eef_rng_uniform(r);
        if (u < 0.4) {
            eef_buf_puts(out, " with ");
            for (uint32_t k = 0; k < g->n_opts; k++)
                eef_buf_printf(out, "%s%s: %s", k ? ", and " : "", opt_names[k], g->opts[k]);
        } else {
            eef_buf_puts(out, u < 0.75 ? " in " : ", ");
            for (uint32_t k = 0; k < g->n_opts; k++) {
                if (k) eef_buf_puts(out, " and ");
                option_phrase(out, opt_names[k], g->opts[k]);
            }
        }
    }
    if (g->price_upper < 1e6) eef_buf_printf(out, ", and price lower than %.2f dollars", g->price_upper);
}

/* ------------------------------------------------------------------ generation */
typedef struct {
    uint32_t *start, *members; /* products of family f: members[start[f] .. start[f+1]) */
    uint32_t n_families;
} family_index;

static eef_err family_index_build(const shop_catalog *c, family_index *fi)
{
    uint32_t nf = 0;
    for (size_t i = 0; i < c->n; i++)
        if ((uint32_t)c->items[i].family + 1 > nf) nf = (uint32_t)c->items[i].family + 1;
    fi->n_families = nf;
    fi->start = eef_calloc(nf + 2, sizeof *fi->start);
    fi->members = eef_malloc((c->n ? c->n : 1) * sizeof *fi->members);
    if (!fi->start || !fi->members) return EEF_ENOMEM;
    for (size_t i = 0; i < c->n; i++) fi->start[c->items[i].family + 1]++;
    for (uint32_t f = 0; f < nf; f++) fi->start[f + 1] += fi->start[f];
    uint32_t *fill = eef_malloc((nf + 1) * sizeof *fill);
    if (!fill) return EEF_ENOMEM;
    memcpy(fill, fi->start, (nf + 1) * sizeof *fill);
    for (size_t i = 0; i < c->n; i++) fi->members[fill[c->items[i].family]++] = (uint32_t)i;
    free(fill);
    return EEF_OK;
}

/* An attribute of the target that a same-titled family member lacks. */
static const char *distinct_attr(const shop_catalog *c, const family_index *fi, uint32_t t, eef_rng *r)
{
    const shop_product *pt = &c->items[t];
    const char *cand[8];
    int n = 0;
    uint32_t f = (uint32_t)pt->family;
    for (uint32_t k = fi->start[f]; k < fi->start[f + 1]; k++) {
        const shop_product *q = &c->items[fi->members[k]];
        if (fi->members[k] == t || strcmp(q->title, pt->title) != 0) continue;
        for (uint32_t a = 0; a < pt->n_attrs && n < 8; a++)
            if (!shop_attr_matches(q, pt->attrs[a])) cand[n++] = pt->attrs[a];
    }
    return n ? cand[eef_rng_below(r, (uint64_t)n)] : NULL;
}

static eef_err make_goal(shop_env *e, const family_index *fi, uint32_t t, eef_rng *r, shop_task *task,
                         eef_buf *text)
{
    const shop_product *p = &e->cat.items[t];
    eef_arena *a = &e->arena;
    shop_goal *g = &task->goal;
    memset(task, 0, sizeof *task);
    g->target = t;
    /* attributes: 1 (30%), 2 (45%), 3 (25%) of the product's */
    double u = eef_rng_uniform(r);
    uint32_t k = u < 0.30 ? 1 : u < 0.75 ? 2 : 3;
    if (k > p->n_attrs) k = p->n_attrs;
    g->attrs = eef_arena_alloc(a, (k ? k : 1) * sizeof *g->attrs);
    if (!g->attrs) return EEF_ENOMEM;
    const char *must = eef_rng_uniform(r) < P_DISTINCT_ATTR ? distinct_attr(&e->cat, fi, t, r) : NULL;
    uint32_t order[16];
    for (uint32_t i = 0; i < p->n_attrs; i++) order[i] = i;
    eef_rng_shuffle(r, order, p->n_attrs, sizeof order[0]);
    if (must) g->attrs[g->n_attrs++] = must;
    for (uint32_t i = 0; i < p->n_attrs && g->n_attrs < k; i++)
        if (p->attrs[order[i]] != must) g->attrs[g->n_attrs++] = p->attrs[order[i]];
    /* one value of each option group */
    const char *names[SHOP_MAX_DIMS];
    g->n_opts = p->n_dims;
    g->opts = eef_arena_alloc(a, (g->n_opts ? g->n_opts : 1) * sizeof *g->opts);
    if (!g->opts) return EEF_ENOMEM;
    for (uint32_t d = 0; d < p->n_dims; d++) {
        g->opts[d] = p->dims[d].values[eef_rng_below(r, p->dims[d].n_values)];
        names[d] = p->dims[d].name;
    }
    g->price_upper = shop_price_upper(p->price, r);
    phrase(r, p, g, names, text);
    g->instruction = eef_arena_strdup(a, text->data);
    shop_natural_query(g->instruction ? g->instruction : "", text);
    task->query = eef_arena_strdup(a, text->data ? text->data : "");
    if (!g->instruction || !task->query) return EEF_ENOMEM;
    return EEF_OK;
}

eef_err shop_goals_generate(shop_env *e)
{
    const shop_catalog *c = &e->cat;
    family_index fi = { 0 };
    shop_scratch s = { 0 };
    eef_buf text;
    eef_buf_init(&text);
    uint32_t *order = eef_malloc(c->n * sizeof *order);
    eef_err err = order ? family_index_build(c, &fi) : EEF_ENOMEM;
    if (!err) err = shop_scratch_init(&s, &e->index);
    eef_rng r = eef_rng_make(eef_rng_key(e->seed, EEF_STREAM_SHOP_GOALS, 0, 0));
    /* targets: a shuffled pass over the products, so tasks have distinct
     * targets while products last (then a fresh shuffle) */
    size_t next = c->n;
    for (int split = 0; split < 2 && !err; split++) {
        size_t want = (size_t)(split ? e->opt.test : e->opt.train);
        e->tasks[split] = eef_calloc(want ? want : 1, sizeof(shop_task));
        if (!e->tasks[split]) {
            err = EEF_ENOMEM;
            break;
        }
        size_t attempts = 0;
        while (e->n_tasks[split] < want && !err) {
            if (++attempts > 50 * want + 1000) {
                err = eef_fail(EEF_EINVAL,
                               "shop: could not make %zu solvable %s tasks from %zu products",
                               want, eef_split_name((eef_split)split), c->n);
                break;
            }
            if (next == c->n) {
                for (size_t i = 0; i < c->n; i++) order[i] = (uint32_t)i;
                eef_rng_shuffle(&r, order, c->n, sizeof *order);
                next = 0;
            }
            shop_task *t = &e->tasks[split][e->n_tasks[split]];
            if ((err = make_goal(e, &fi, order[next++], &r, t, &text))) break;
            shop_task_classify(e, &s, t);
            if (t->first_win < 0) continue;
            char id[48];
            snprintf(id, sizeof id, "shop-%s-%zu", eef_split_name((eef_split)split), e->n_tasks[split]);
            t->id = eef_arena_strdup(&e->arena, id);
            if (!t->id) err = EEF_ENOMEM;
            e->n_tasks[split]++;
        }
    }
    free(order);
    free(fi.start);
    free(fi.members);
    shop_scratch_free(&s);
    eef_buf_free(&text);
    return err;
}

/* shop_reward.c: WebShop's reward (web_agent_site/engine/goal.py) and the
 * fact "can buying this product win".
 *
 *   reward = r_type * (attrs matched + options matched + [price <= bound])
 *                   / (goal attrs + goal options + 1)
 *
 * r_type (get_type_reward): 1.0 when the product's query equals the goal's,
 *   or two of its "›" categories are shared, or more than 20% of the goal
 *   title's nouns are in its title; else 0.5; then 0.1 when under 10% of
 *   the nouns are shared and 0.0 when none is.
 * attributes (get_attribute_reward): a goal attribute matches when one of
 *   the product's attributes has token_set_ratio > 85 with it, or it is a
 *   substring of the lowercased title, bullets or description.
 * options (get_option_reward): each CHOSEN option value (after
 *   normalize_color) matches when, for the option "size", it equals a goal
 *   option, otherwise has token_set_ratio > 85 with one; failing that, when
 *   it is a substring of the title, bullets or description.
 * Deviation: the option count is capped at the number of goal options, as
 * in the paper's set-intersection definition (the code could exceed 1.0).
 */
#include "shop_internal.h"

#include <string.h>
#include <strings.h>

/* "A › B › C": count shared elements (ignoring order and spaces) */
static int shared_categories(const char *a, const char *b)
{
    const char *sep = "\xE2\x80\xBA"; /* › */
    char pa[16][96], pb[16][96];
    int na = 0, nb = 0;
    for (int side = 0; side < 2; side++) {
        const char *s = side ? b : a;
        char(*out)[96] = side ? pb : pa;
        int *n = side ? &nb : &na;
        while (*n < 16) {
            const char *e = strstr(s, sep);
            size_t len = e ? (size_t)(e - s) : strlen(s);
            while (len && *s == ' ') s++, len--;
            while (len && s[len - 1] == ' ') len--;
            if (len >= 96) len = 95;
            memcpy(out[*n], s, len);
            out[*n][len] = 0;
            (*n)++;
            if (!e) break;
            s = e + strlen(sep);
        }
    }
    int shared = 0;
    for (int i = 0; i < na; i++) {
        int dup = 0; /* count each distinct element once */
        for (int k = 0; k < i; k++)
            if (strcmp(pa[k], pa[i]) == 0) dup = 1;
        if (dup) continue;
        for (int j = 0; j < nb; j++)
            if (strcmp(pa[i], pb[j]) == 0) {
                shared++;
                break;
            }
    }
    return shared;
}

static int count_shared_sorted(const char **a, uint32_t na, const char **b, uint32_t nb)
{
    uint32_t i = 0, j = 0;
    int n = 0;
    while (i < na && j < nb) {
        int c = strcmp(a[i], b[j]);
        if (c == 0) n++, i++, j++;
        else if (c < 0) i++;
        else j++;
    }
    return n;
}

double shop_type_reward(const shop_catalog *c, const shop_goal *g, uint32_t p)
{
    const shop_product *bought = &c->items[p], *want = &c->items[g->target];
    int query_match = strcmp(bought->query, want->query) == 0;
    int category_match = shared_categories(bought->product_category, want->product_category) >= 2;
    double title_score =
        want->n_nouns == 0
            ? 0.2
            : (double)count_shared_sorted(bought->nouns, bought->n_nouns, want->nouns, want->n_nouns) /
                  want->n_nouns;
    double r = 1.0;
    if (!(query_match || category_match || title_score > 0.2)) r = 0.5;
    if (title_score < 0.1) r = 0.1;
    if (title_score == 0.0) r = 0.0;
    return r;
}

int shop_attr_matches(const shop_product *p, const char *a)
{
    for (uint32_t k = 0; k < p->n_attrs; k++)
        if (shop_fuzz_token_set_ratio(p->attrs[k], a) > 85) return 1;
    return strstr(p->lc_title, a) || strstr(p->lc_bullets, a) || strstr(p->lc_desc, a);
}

int shop_option_matches(const shop_product *p, const shop_goal *g, uint32_t d, uint32_t v)
{
    const char *val = shop_normalize_color(p->dims[d].values[v]);
    int exact = strcasecmp(p->dims[d].name, "size") == 0;
    for (uint32_t k = 0; k < g->n_opts; k++) {
        const char *want = shop_normalize_color(g->opts[k]);
        if (exact ? strcmp(val, want) == 0 : shop_fuzz_token_set_ratio(want, val) > 85) return 1;
    }
    return strstr(p->lc_title, val) || strstr(p->lc_bullets, val) || strstr(p->lc_desc, val);
}

double shop_reward(const shop_catalog *c, const shop_goal *g, uint32_t p, const int16_t *sel,
                   shop_reward_info *info)
{
    const shop_product *bought = &c->items[p];
    shop_reward_info r = { 0 };
    r.r_type = shop_type_reward(c, g, p);
    r.r_price = bought->price <= g->price_upper;
    for (uint32_t k = 0; k < g->n_attrs; k++) r.n_attr_match += shop_attr_matches(bought, g->attrs[k]);
    for (uint32_t d = 0; d < bought->n_dims && d < SHOP_MAX_DIMS; d++)
        if (sel[d] >= 0) r.n_option_match += shop_option_matches(bought, g, d, (uint32_t)sel[d]);
    if (r.n_option_match > (int)g->n_opts) r.n_option_match = (int)g->n_opts;
    r.r_att = g->n_attrs ? (double)r.n_attr_match / g->n_attrs : 0.0;
    r.r_option = g->n_opts ? (double)r.n_option_match / g->n_opts : 0.0;
    double total = (r.n_attr_match + r.n_option_match + r.r_price) /
                   (double)(g->n_attrs + g->n_opts + 1);
    r.reward = total * r.r_type;
    if (info) *info = r;
    return r.reward;
}

int shop_can_win(const shop_catalog *c, const shop_goal *g, uint32_t p, int16_t *sel)
{
    const shop_product *q = &c->items[p];
    if (sel)
        for (int d = 0; d < SHOP_MAX_DIMS; d++) sel[d] = -1;
    if (q->price > g->price_upper) return 0;
    for (uint32_t k = 0; k < g->n_attrs; k++)
        if (!shop_attr_matches(q, g->attrs[k])) return 0;
    uint32_t found = 0;
    for (uint32_t d = 0; d < q->n_dims && d < SHOP_MAX_DIMS && found < g->n_opts; d++)
        for (uint32_t v = 0; v < q->dims[d].n_values; v++)
            if (shop_option_matches(q, g, d, v)) {
                if (sel) sel[d] = (int16_t)v;
                found++;
                break;
            }
    if (found < g->n_opts) return 0;
    return shop_type_reward(c, g, p) == 1.0;
}

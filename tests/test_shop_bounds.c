/* The shop's reward (WebShop's goal.py) at its boundaries, on hand-made,
 * loaded (WebShop files) and generated catalogues:
 *  - a price equal to the goal's bound earns the price point, a cent over
 *    does not (reward and can_win);
 *  - an attribute or option with token_set_ratio exactly 85 does not
 *    match, 86 does (WebShop: > 85);
 *  - the option "size" matches exactly, other options fuzzily;
 *  - every branch of r_type: the same query, two shared categories (one
 *    is not enough), title nouns > 20% (exactly 20% is not), under 10%
 *    (0.1; exactly 10% is 0.5), none (0.0).
 * The expected values are WebShop's formula worked out by hand. */
#include "testutil.h"

#include "env/shop/shop_internal.h"

#include <math.h>
#include <string.h>

/* 20 letters; the others differ in the last 3 (17 / 20 in common: 85) or
 * share 18 of 21 (86) */
#define ATTR "abcdefghijklmnopqrst"
#define ATTR_85 "abcdefghijklmnopqxyz"
#define ATTR_86_A "abcdefghijklmnopqrstu"
#define ATTR_86_B "abcdefghijklmnopqrxyz"

static const char *const T_ATTRS[] = { ATTR };
static const char *const A85[] = { ATTR_85 };
static const char *const SIZES[] = { "large", "x-large" };
static const char *const COLORS_85[] = { ATTR_85 };
static const char *const COLORS_86[] = { ATTR_86_B };
static shop_dim T_DIMS[] = { { "size", (const char **)SIZES, 2 } };
static shop_dim D85[] = { { "color", (const char **)COLORS_85, 1 } };
static shop_dim D86[] = { { "color", (const char **)COLORS_86, 1 } };

static shop_product product(const char *asin, const char *title, const char *query, const char *cat,
                            double price)
{
    shop_product p = { 0 };
    p.asin = asin;
    p.title = title;
    p.query = query;
    p.category = "misc";
    p.product_category = cat;
    p.description = "";
    p.attrs = (const char **)T_ATTRS;
    p.n_attrs = 1;
    p.dims = T_DIMS;
    p.n_dims = 1;
    p.price = price;
    p.price_tag = "$40.00";
    p.type = p.family = -1;
    return p;
}

#define SEP " \xE2\x80\xBA "
/* The target's title has 5 nouns: quorp blenk ziffle wumbo grindle */
#define T_TITLE "Quorp Blenk Ziffle Wumbo Grindle"

static void build(shop_catalog *c)
{
    shop_catalog_init(c);
    c->items = calloc(16, sizeof *c->items);
    shop_product *it = c->items;
    /* 0: the target */
    it[c->n++] = product("B0AAAAAAA0", T_TITLE, "gadget things", "Alpha" SEP "Beta" SEP "Gamma", 40.0);
    /* 1: a cent over the bound */
    it[c->n++] = product("B0AAAAAAA1", T_TITLE, "gadget things", "Alpha" SEP "Beta" SEP "Gamma", 40.01);
    /* 2: its only attribute scores 85 with the goal's */
    it[c->n] = product("B0AAAAAAA2", T_TITLE, "gadget things", "Alpha" SEP "Beta" SEP "Gamma", 40.0);
    it[c->n++].attrs = (const char **)A85;
    /* 3: r_type by the query alone (nouns 1 / 5 = 0.2, one category) */
    it[c->n++] = product("B0AAAAAAA3", "Quorp Zanth Yelp Xiff Vorn", "gadget things",
                         "Alpha" SEP "Other" SEP "Else", 40.0);
    /* 4: by two shared categories alone */
    it[c->n++] = product("B0AAAAAAA4", "Quorp Zanth Yelp Xiff Vorn", "widgets",
                         "Alpha" SEP "Beta" SEP "Other", 40.0);
    /* 5: one shared category, nouns exactly 0.2: 0.5 */
    it[c->n++] = product("B0AAAAAAA5", "Quorp Zanth Yelp Xiff Vorn", "widgets",
                         "Alpha" SEP "Other" SEP "Else", 40.0);
    /* 6: nouns 2 / 5 = 0.4 > 0.2 alone: 1.0 */
    it[c->n++] = product("B0AAAAAAA6", "Quorp Blenk Yelp Xiff Vorn", "widgets", "Toys", 40.0);
    /* 7: no shared noun: 0.0 */
    it[c->n++] = product("B0AAAAAAA7", "Zanth Yelp Xiff Vorn", "gadget things",
                         "Alpha" SEP "Beta" SEP "Gamma", 40.0);
    /* 8: a target of 10 nouns, and 9: sharing one of them (exactly 0.1: 0.5) */
    it[c->n++] = product("B0AAAAAAA8", "Aaq Bbq Ccq Ddq Eeq Ffq Ggq Hhq Iiq Jjq", "tens", "Ten", 40.0);
    it[c->n++] = product("B0AAAAAAA9", "Aaq Zanth", "other", "Nine", 40.0);
    /* 10: a target of 11 nouns, 11: sharing one (1 / 11 < 0.1: 0.1) */
    it[c->n++] = product("B0AAAAAAB0", "Aaq Bbq Ccq Ddq Eeq Ffq Ggq Hhq Iiq Jjq Kkq", "elevens", "Eleven", 40.0);
    it[c->n++] = product("B0AAAAAAB1", "Aaq Zanth", "other", "Nine", 40.0);
    /* 12, 13: an option (not size) scoring 85 and 86 with the goal's */
    it[c->n] = product("B0AAAAAAB2", T_TITLE, "gadget things", "Alpha" SEP "Beta" SEP "Gamma", 40.0);
    it[c->n++].dims = D85;
    it[c->n] = product("B0AAAAAAB3", T_TITLE, "gadget things", "Alpha" SEP "Beta" SEP "Gamma", 40.0);
    it[c->n++].dims = D86;
    assert_ok(shop_catalog_finish(c));
}

static uint32_t at(const shop_catalog *c, const char *asin)
{
    long p = shop_catalog_find(c, asin);
    assert_true(p >= 0);
    return (uint32_t)p;
}

static double buy(const shop_catalog *c, const shop_goal *g, const char *asin, int v,
                  shop_reward_info *info)
{
    int16_t sel[SHOP_MAX_DIMS];
    for (int d = 0; d < SHOP_MAX_DIMS; d++) sel[d] = -1;
    sel[0] = (int16_t)v;
    return shop_reward(c, g, at(c, asin), sel, info);
}

static const char *const G_ATTRS[] = { ATTR };
static const char *const G_SIZE[] = { "large" };
static const char *const G_OPT[] = { ATTR };

static shop_goal goal(const shop_catalog *c)
{
    return (shop_goal){ at(c, "B0AAAAAAA0"), "i want ...", (const char **)G_ATTRS, 1,
                        (const char **)G_SIZE, 1, 40.0 };
}

static void test_fuzzy_fixtures(void **state)
{
    (void)state;
    /* the premises of the cases below */
    assert_int_equal(shop_fuzz_token_set_ratio(ATTR, ATTR_85), 85);
    assert_int_equal(shop_fuzz_token_set_ratio(ATTR_86_A, ATTR_86_B), 86);
    assert_int_equal(shop_fuzz_token_set_ratio("large", "x-large"), 100);
}

static void test_price_bound(void **state)
{
    (void)state;
    shop_catalog c;
    build(&c);
    shop_goal g = goal(&c);
    shop_reward_info info;
    /* (1 attribute + 1 option + price) / 3 */
    assert_true(buy(&c, &g, "B0AAAAAAA0", 0, &info) == 1.0);
    assert_true(info.r_price == 1.0);
    assert_true(fabs(buy(&c, &g, "B0AAAAAAA1", 0, &info) - 2.0 / 3.0) < 1e-12);
    assert_true(info.r_price == 0.0);
    int16_t sel[SHOP_MAX_DIMS];
    assert_true(shop_can_win(&c, &g, at(&c, "B0AAAAAAA0"), sel));
    assert_int_equal(sel[0], 0);
    assert_false(shop_can_win(&c, &g, at(&c, "B0AAAAAAA1"), sel));
    /* a bound a cent under the price */
    g.price_upper = 39.99;
    assert_true(fabs(buy(&c, &g, "B0AAAAAAA0", 0, NULL) - 2.0 / 3.0) < 1e-12);
    assert_false(shop_can_win(&c, &g, at(&c, "B0AAAAAAA0"), sel));
    shop_catalog_free(&c);
}

static void test_fuzzy_85(void **state)
{
    (void)state;
    shop_catalog c;
    build(&c);
    shop_goal g = goal(&c);
    shop_reward_info info;
    /* attribute at 85: not matched: (0 + 1 + 1) / 3 */
    assert_true(fabs(buy(&c, &g, "B0AAAAAAA2", 0, &info) - 2.0 / 3.0) < 1e-12);
    assert_int_equal(info.n_attr_match, 0);
    assert_false(shop_attr_matches(&c.items[at(&c, "B0AAAAAAA2")], ATTR));
    assert_true(shop_attr_matches(&c.items[at(&c, "B0AAAAAAA0")], ATTR));
    /* at 86 it is */
    shop_product p = c.items[at(&c, "B0AAAAAAA2")];
    static const char *const A86[] = { ATTR_86_B };
    p.attrs = (const char **)A86;
    assert_true(shop_attr_matches(&p, ATTR_86_A));
    /* an option other than size: 85 does not match, 86 does */
    shop_goal go = g;
    go.opts = (const char **)G_OPT;
    assert_false(shop_option_matches(&c.items[at(&c, "B0AAAAAAB2")], &go, 0, 0));
    static const char *const G_OPT86[] = { ATTR_86_A };
    go.opts = (const char **)G_OPT86;
    assert_true(shop_option_matches(&c.items[at(&c, "B0AAAAAAB3")], &go, 0, 0));
    assert_true(buy(&c, &go, "B0AAAAAAB3", 0, &info) == 1.0);
    assert_int_equal(info.n_option_match, 1);
    shop_catalog_free(&c);
}

static void test_size_exact(void **state)
{
    (void)state;
    shop_catalog c;
    build(&c);
    shop_goal g = goal(&c);
    shop_reward_info info;
    const shop_product *t = &c.items[at(&c, "B0AAAAAAA0")];
    /* "x-large" scores 100 with "large", but a size must be equal */
    assert_true(shop_option_matches(t, &g, 0, 0));
    assert_false(shop_option_matches(t, &g, 0, 1));
    assert_true(fabs(buy(&c, &g, "B0AAAAAAA0", 1, &info) - 2.0 / 3.0) < 1e-12);
    assert_int_equal(info.n_option_match, 0);
    /* no option chosen: none matched */
    assert_true(fabs(buy(&c, &g, "B0AAAAAAA0", -1, &info) - 2.0 / 3.0) < 1e-12);
    shop_catalog_free(&c);
}

static void test_type_reward(void **state)
{
    (void)state;
    shop_catalog c;
    build(&c);
    shop_goal g = goal(&c);
    assert_int_equal(c.items[g.target].n_nouns, 5);
    struct {
        const char *asin;
        double want;
    } cases[] = {
        { "B0AAAAAAA0", 1.0 }, /* itself */
        { "B0AAAAAAA3", 1.0 }, /* the same query */
        { "B0AAAAAAA4", 1.0 }, /* two shared categories */
        { "B0AAAAAAA5", 0.5 }, /* one shared category, nouns exactly 0.2 */
        { "B0AAAAAAA6", 1.0 }, /* nouns 0.4 */
        { "B0AAAAAAA7", 0.0 }, /* no shared noun, whatever else is shared */
    };
    for (size_t i = 0; i < EEF_ARRAY_LEN(cases); i++) {
        double r = shop_type_reward(&c, &g, at(&c, cases[i].asin));
        if (r != cases[i].want) fail_msg("r_type(%s) = %g, want %g", cases[i].asin, r, cases[i].want);
    }
    /* the reward is r_type times the matched fraction: 0.5 * 3 / 3 */
    shop_reward_info info;
    assert_true(buy(&c, &g, "B0AAAAAAA5", 0, &info) == 0.5);
    assert_true(info.r_type == 0.5);
    assert_true(buy(&c, &g, "B0AAAAAAA7", 0, &info) == 0.0);
    /* 1 / 10 nouns: not under 10%: 0.5; 1 / 11: 0.1 */
    shop_goal g10 = g, g11 = g;
    g10.target = at(&c, "B0AAAAAAA8");
    g11.target = at(&c, "B0AAAAAAB0");
    assert_int_equal(c.items[g10.target].n_nouns, 10);
    assert_int_equal(c.items[g11.target].n_nouns, 11);
    assert_true(shop_type_reward(&c, &g10, at(&c, "B0AAAAAAA9")) == 0.5);
    assert_true(shop_type_reward(&c, &g11, at(&c, "B0AAAAAAB1")) == 0.1);
    shop_catalog_free(&c);
}

/* The same boundaries on products read from WebShop's files. */
#define FIX "tests/fixtures/shop/"
static void test_loaded(void **state)
{
    (void)state;
    shop_catalog c;
    shop_catalog_init(&c);
    assert_ok(shop_load_products(&c, FIX "items_shuffle_fixture.json", FIX "items_ins_v2_fixture.json", 0, 1));
    assert_ok(shop_catalog_finish(&c));
    uint32_t p = at(&c, "B0FIX00001");
    assert_true(c.items[p].price == 19.99);
    static const char *const attrs[] = { "heat resistant" };
    static const char *const opts[] = { "jet black", "18 inch" };
    shop_goal g = { p, "i need ...", (const char **)attrs, 1, (const char **)opts, 2, 19.99 };
    int16_t sel[SHOP_MAX_DIMS];
    for (int d = 0; d < SHOP_MAX_DIMS; d++) sel[d] = -1;
    sel[0] = 0, sel[1] = 0; /* jet black, 18 inch */
    shop_reward_info info;
    assert_true(shop_reward(&c, &g, p, sel, &info) == 1.0);
    assert_true(shop_can_win(&c, &g, p, NULL));
    g.price_upper = 19.98; /* (1 + 2 + 0) / 4 */
    assert_true(fabs(shop_reward(&c, &g, p, sel, &info) - 0.75) < 1e-12);
    assert_false(shop_can_win(&c, &g, p, NULL));
    g.price_upper = 19.99;
    sel[1] = 1; /* 20 inch: a size must be equal */
    assert_true(fabs(shop_reward(&c, &g, p, sel, &info) - 0.75) < 1e-12);
    /* B0FIX00002: the same search query (after trimming and lowercasing) */
    assert_true(shop_type_reward(&c, &g, at(&c, "B0FIX00002")) == 1.0);
    shop_catalog_free(&c);
}

/* On a generated world: each task's target, bought with the options
 * can_win picks, wins at a bound equal to its price and loses exactly
 * the price point a cent below. */
static void test_generated(void **state)
{
    (void)state;
    eef_env *env;
    assert_ok(eef_shop_open("products=600,train=200,test=10", 3, &env));
    shop_env *e = (shop_env *)env;
    size_t checked = 0;
    for (size_t i = 0; i < e->n_tasks[EEF_SPLIT_TRAIN]; i++) {
        shop_goal g = e->tasks[EEF_SPLIT_TRAIN][i].goal;
        const shop_product *t = &e->cat.items[g.target];
        int16_t sel[SHOP_MAX_DIMS];
        if (!shop_can_win(&e->cat, &g, g.target, sel)) continue;
        g.price_upper = t->price;
        shop_reward_info info;
        assert_true(shop_reward(&e->cat, &g, g.target, sel, &info) == 1.0);
        assert_true(shop_can_win(&e->cat, &g, g.target, NULL));
        g.price_upper = nextafter(t->price, 0);
        double want = (double)(g.n_attrs + g.n_opts) / (double)(g.n_attrs + g.n_opts + 1);
        double r = shop_reward(&e->cat, &g, g.target, sel, &info);
        if (fabs(r - want) > 1e-12) fail_msg("task %zu: reward %.17g a cent under, want %.17g", i, r, want);
        assert_false(shop_can_win(&e->cat, &g, g.target, NULL));
        checked++;
    }
    assert_true(checked >= 100);
    eef_env_close(env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzzy_fixtures), cmocka_unit_test(test_price_bound),
        cmocka_unit_test(test_fuzzy_85),       cmocka_unit_test(test_size_exact),
        cmocka_unit_test(test_type_reward),    cmocka_unit_test(test_loaded),
        cmocka_unit_test(test_generated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

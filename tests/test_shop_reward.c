/* Tests of the shop's reward, fuzzy matching, colors, price bounds and
 * search on a small hand-made catalogue, with hand-computed values. */
#include "testutil.h"

#include "env/shop/shop_internal.h"

/* Scores checked against fuzzywuzzy 0.18 (Debian python3-fuzzywuzzy),
 * fuzz.token_set_ratio(a, b). */
static void test_fuzz_token_set_ratio(void **state)
{
    (void)state;
    struct { const char *a, *b; int want; } cases[] = {
        { "slim fit", "regular fit", 55 },      { "non slip", "slip on", 93 },
        { "pack of 2", "pack of 12", 95 },      { "gluten free", "sugar free", 57 },
        { "Heat Resistant", "heat resistant", 100 }, { "", "x", 0 },
        { "navy blue", "blue", 100 },           { "water resistant", "slip resistant", 78 },
        { "fuzzy was a bear", "fuzzy fuzzy was a bear", 100 },
        { "iphone 14", "iphone 13", 89 },       { "caffeine free", "gluten free", 58 },
        { "for dry hair", "for hair growth", 80 }, { "dark roast", "medium roast", 67 },
        { "laptop compartment", "multiple compartments", 77 },
        { "caf\xc3\xa9 au lait", "cafe", 40 },
    };
    for (size_t i = 0; i < EEF_ARRAY_LEN(cases); i++) {
        int got = shop_fuzz_token_set_ratio(cases[i].a, cases[i].b);
        if (got != cases[i].want)
            fail_msg("token_set_ratio('%s', '%s') = %d, want %d", cases[i].a, cases[i].b, got,
                     cases[i].want);
        assert_int_equal(shop_fuzz_token_set_ratio(cases[i].b, cases[i].a), cases[i].want);
    }
}

static void test_normalize_color(void **state)
{
    (void)state;
    assert_string_equal(shop_normalize_color("jet black"), "black");
    assert_string_equal(shop_normalize_color("navy blue"), "blue"); /* "blue" comes first */
    assert_string_equal(shop_normalize_color("navy"), "navy");
    assert_string_equal(shop_normalize_color("heather grey"), "grey");
    assert_string_equal(shop_normalize_color("18 inch"), "18 inch");
}

static void test_price_upper(void **state)
{
    (void)state;
    eef_rng r = eef_rng_make(eef_rng_key(3, 0, 0, 0));
    int count[8] = { 0 };
    for (int i = 0; i < 6000; i++) {
        double u = shop_price_upper(30.0, &r); /* candidates 40, 50, 60, 70 */
        assert_true(u == 50 || u == 60 || u == 70);
        count[(int)u / 10]++;
    }
    /* the larger of two distinct draws: 1/6, 2/6, 3/6 */
    assert_true(abs(count[5] - 1000) < 150 && abs(count[6] - 2000) < 200 && abs(count[7] - 3000) < 200);
    assert_true(shop_price_upper(985.0, &r) == 1e6); /* only 990 is left */
    assert_true(shop_price_upper(2000.0, &r) == 1e6);
    assert_true(shop_price_upper(40.0, &r) >= 60); /* strictly above the price */
}

/* ------------------------------------------------------------------ a hand-made catalogue */
static const char *const A_BULLETS[] = { "Soft design for parties", "tangle free - made to last" };
static const char *const A_ATTRS[] = { "heat resistant", "tangle free", "natural looking" };
static const char *const B_ATTRS[] = { "heat resistant", "tangle free", "human hair" };
static const char *const COLORS[] = { "jet black", "auburn" };
static const char *const SIZES[] = { "16 inch", "18 inch" };
static const char *const E_ATTRS[] = { "natural looking", "tangle free" };
static const char *const F_ATTRS[] = { "tangle free" };
static shop_dim A_DIMS[] = { { "color", (const char **)COLORS, 2 }, { "size", (const char **)SIZES, 2 } };

#define HAIR_CAT "Beauty & Personal Care \xE2\x80\xBA Hair Care \xE2\x80\xBA Hair Extensions"

static shop_product product(const char *asin, const char *title, const char *query, const char *cat,
                            const char *const *attrs, uint32_t n_attrs, double price)
{
    shop_product p = { 0 };
    p.asin = asin;
    p.title = title;
    p.query = query;
    p.category = "beauty";
    p.product_category = cat;
    p.description = "Clip in hair extensions for everyday styling.";
    p.bullets = (const char **)A_BULLETS;
    p.n_bullets = 2;
    p.attrs = (const char **)attrs;
    p.n_attrs = n_attrs;
    p.dims = A_DIMS;
    p.n_dims = 2;
    p.price = price;
    p.price_tag = "$30.00";
    p.type = p.family = -1;
    return p;
}

static void build(shop_catalog *c)
{
    shop_catalog_init(c);
    c->items = calloc(10, sizeof *c->items);
    const char *title = "Aurelle Heat Resistant Soft Clip in Hair Extensions for Women";
    c->items[c->n++] = product("B0AAAAAAAA", title, "hair extensions", HAIR_CAT, A_ATTRS, 3, 30);
    c->items[c->n++] = product("B0BBBBBBBB", title, "hair extensions", HAIR_CAT, B_ATTRS, 3, 30);
    c->items[c->n++] = product("B0CCCCCCCC", title, "hair extensions", HAIR_CAT, A_ATTRS, 3, 45);
    shop_product d = product("B0DDDDDDDD", "Velmora Matte Lipstick", "lipstick",
                             "Beauty & Personal Care \xE2\x80\xBA Makeup \xE2\x80\xBA Lips", A_ATTRS, 3, 10);
    d.description = "";
    d.bullets = NULL;
    d.n_bullets = 0;
    c->items[c->n++] = d;
    /* a wig: two shared categories and one shared noun (women) */
    c->items[c->n] = product("B0EEEEEEEE", "Lumora Synthetic Wig for Women", "wigs",
                             "Beauty & Personal Care \xE2\x80\xBA Hair Care \xE2\x80\xBA Wigs", E_ATTRS, 2, 20);
    c->items[c->n++].description = "A wig for everyday styling.";
    /* unrelated: one shared noun of seven, nothing else */
    shop_product f = product("B0FFFFFFFF", "Bath Mat for Women", "bath mats",
                             "Home & Kitchen \xE2\x80\xBA Bath", F_ATTRS, 1, 10);
    f.n_dims = 0;
    f.description = "";
    f.n_bullets = 0;
    c->items[c->n++] = f;
    /* the option value "auburn" is written in the title */
    c->items[c->n++] = product("B0GGGGGGGG", "Aurelle Auburn Clip in Hair Extensions", "hair extensions",
                               HAIR_CAT, A_ATTRS, 3, 30);
    c->items[c->n] = product("B0HHHHHHHH", "Alpha Bravo Charlie Delta Echo Foxtrot Golf Hotel India Juliet Kilo Lima",
                             "alphabet", "Toys", A_ATTRS, 3, 30);
    c->items[c->n++].description = "";
    c->items[c->n] = product("B0IIIIIIII", "Lima Zulu", "zulu", "Games", A_ATTRS, 3, 30);
    c->items[c->n++].description = "";
    assert_ok(shop_catalog_finish(c));
}

static const char *const G_ATTRS[] = { "natural looking", "tangle free" };
static const char *const G_OPTS[] = { "jet black", "18 inch" };

static double buy(const shop_catalog *c, const shop_goal *g, const char *asin, int color, int size)
{
    int16_t sel[SHOP_MAX_DIMS];
    for (int d = 0; d < SHOP_MAX_DIMS; d++) sel[d] = -1;
    sel[0] = (int16_t)color;
    sel[1] = (int16_t)size;
    long p = shop_catalog_find(c, asin);
    assert_true(p >= 0);
    return shop_reward(c, g, (uint32_t)p, sel, NULL);
}

static void test_reward_hand_cases(void **state)
{
    (void)state;
    shop_catalog c;
    build(&c);
    shop_goal g = { (uint32_t)shop_catalog_find(&c, "B0AAAAAAAA"), "i need ...", (const char **)G_ATTRS,
                    2, (const char **)G_OPTS, 2, 40.0 };
    /* (attrs 2 + options 2 + price 1) / 5 */
    assert_true(buy(&c, &g, "B0AAAAAAAA", 0, 1) == 1.0);
    assert_true(fabs(buy(&c, &g, "b0aaaaaaaa", 1, 1) - 0.8) < 1e-12); /* wrong color */
    assert_true(fabs(buy(&c, &g, "B0AAAAAAAA", -1, -1) - 0.6) < 1e-12); /* no option chosen */
    assert_true(fabs(buy(&c, &g, "B0AAAAAAAA", 0, 0) - 0.8) < 1e-12); /* size is an exact match */
    /* twin without "natural looking": (1 + 2 + 1) / 5 */
    assert_true(fabs(buy(&c, &g, "B0BBBBBBBB", 0, 1) - 0.8) < 1e-12);
    /* pricier twin: (2 + 2 + 0) / 5 */
    assert_true(fabs(buy(&c, &g, "B0CCCCCCCC", 0, 1) - 0.8) < 1e-12);
    /* another type with no shared noun: r_type 0 */
    assert_true(buy(&c, &g, "B0DDDDDDDD", 0, 1) == 0.0);
    /* a wig wins: categories share two levels and 1/7 of the nouns (>= 0.1) */
    shop_reward_info info;
    int16_t sel[SHOP_MAX_DIMS] = { 0, 1, -1, -1, -1, -1, -1, -1 };
    assert_true(shop_reward(&c, &g, (uint32_t)shop_catalog_find(&c, "B0EEEEEEEE"), sel, &info) == 1.0);
    assert_true(info.r_type == 1.0);
    /* bath mat: nouns 1/7 (> 0.1, not > 0.2), no query/category match: r_type 0.5;
     * attributes 1 of 2, no options, price ok: (1 + 0 + 1) / 5 * 0.5 */
    int16_t none[SHOP_MAX_DIMS] = { -1, -1, -1, -1, -1, -1, -1, -1 };
    double r = shop_reward(&c, &g, (uint32_t)shop_catalog_find(&c, "B0FFFFFFFF"), none, &info);
    assert_true(info.r_type == 0.5);
    assert_true(fabs(r - 0.2) < 1e-12);
    /* a chosen value written in the title counts as matched (WebShop's rule) */
    assert_true(buy(&c, &g, "B0GGGGGGGG", 1, 1) == 1.0);
    /* nouns 1/12 < 0.1: r_type 0.1 */
    shop_goal g2 = g;
    g2.target = (uint32_t)shop_catalog_find(&c, "B0HHHHHHHH");
    assert_true(shop_type_reward(&c, &g2, (uint32_t)shop_catalog_find(&c, "B0IIIIIIII")) == 0.1);
    /* the option count is capped: one goal option, two matching choices */
    shop_goal g3 = g;
    g3.n_opts = 1;
    g3.opts = (const char **)G_OPTS;
    c.items[shop_catalog_find(&c, "B0GGGGGGGG")].lc_title = "aurelle auburn 18 inch hair extensions";
    assert_true(buy(&c, &g3, "B0GGGGGGGG", 1, 1) == 1.0);
    /* colors are normalised before matching: "navy blue" -> "blue" never equals "navy" */
    static const char *const NAVY_BLUE[] = { "navy blue" };
    static const char *const DARK_BROWN[] = { "dark brown" };
    static const char *const BROWN[] = { "brown", "navy" };
    shop_dim dims[] = { { "color", (const char **)BROWN, 2 } };
    shop_product *pa = &c.items[shop_catalog_find(&c, "B0AAAAAAAA")];
    shop_dim *saved = pa->dims;
    uint32_t saved_n = pa->n_dims;
    pa->dims = dims;
    pa->n_dims = 1;
    shop_goal g4 = g;
    g4.opts = (const char **)NAVY_BLUE;
    g4.n_opts = 1;
    assert_false(shop_option_matches(pa, &g4, 0, 1));
    g4.opts = (const char **)DARK_BROWN;
    assert_true(shop_option_matches(pa, &g4, 0, 0));
    pa->dims = saved;
    pa->n_dims = saved_n;
    shop_catalog_free(&c);
}

static void test_can_win(void **state)
{
    (void)state;
    shop_catalog c;
    build(&c);
    shop_goal g = { (uint32_t)shop_catalog_find(&c, "B0AAAAAAAA"), "i need ...", (const char **)G_ATTRS,
                    2, (const char **)G_OPTS, 2, 40.0 };
    int16_t sel[SHOP_MAX_DIMS];
    for (size_t p = 0; p < c.n; p++) {
        int win = shop_can_win(&c, &g, (uint32_t)p, sel);
        /* can_win agrees with the reward of its own choice of options */
        if (win) assert_true(shop_reward(&c, &g, (uint32_t)p, sel, NULL) == 1.0);
        const char *id = c.items[p].asin;
        int want = strcmp(id, "B0AAAAAAAA") == 0 || strcmp(id, "B0EEEEEEEE") == 0 ||
                   strcmp(id, "B0GGGGGGGG") == 0;
        if (win != want) fail_msg("can_win(%s) = %d", id, win);
    }
    long a = shop_catalog_find(&c, "B0AAAAAAAA");
    assert_true(shop_can_win(&c, &g, (uint32_t)a, sel));
    assert_int_equal(sel[0], 0); /* jet black */
    assert_int_equal(sel[1], 1); /* 18 inch */
    shop_catalog_free(&c);
}

static void test_search(void **state)
{
    (void)state;
    shop_catalog c;
    build(&c);
    shop_index ix;
    shop_scratch s;
    assert_ok(shop_index_build(&ix, &c));
    assert_ok(shop_scratch_init(&s, &ix));
    uint32_t res[SHOP_SEARCH_N];
    size_t n = shop_search(&ix, &s, "hair extensions", res);
    /* the four hair-extension documents; equal texts tie and go by id */
    assert_int_equal(n, 4);
    for (size_t i = 1; i < n; i++) assert_true(strstr(c.items[res[i]].title, "Hair Extensions"));
    assert_string_equal(c.items[res[0]].asin, "B0GGGGGGGG"); /* shortest document */
    assert_true(strcmp(c.items[res[1]].asin, c.items[res[2]].asin) < 0);
    assert_true(strcmp(c.items[res[2]].asin, c.items[res[3]].asin) < 0);
    /* plural and singular meet (S-stemmer), case does not matter */
    size_t n2 = shop_search(&ix, &s, "HAIR EXTENSION", res);
    assert_int_equal(n2, 4);
    /* unknown words and stop words find nothing */
    assert_int_equal(shop_search(&ix, &s, "zzzz", res), 0);
    assert_int_equal(shop_search(&ix, &s, "the and of", res), 0);
    assert_int_equal(shop_search(&ix, &s, "", res), 0);
    /* a rarer word ranks its document first */
    n = shop_search(&ix, &s, "women wig", res);
    assert_string_equal(c.items[res[0]].asin, "B0EEEEEEEE");
    shop_scratch_free(&s);
    shop_index_free(&ix);
    shop_catalog_free(&c);
}

static void test_natural_query(void **state)
{
    (void)state;
    eef_buf b;
    eef_buf_init(&b);
    shop_natural_query("i am looking for a heat resistant clip in hair extensions that is tangle free "
                       "with color: jet black, and size: 18 inch, and price lower than 40.00 dollars",
                       &b);
    assert_string_equal(b.data, "heat resistant clip hair extensions tangle free jet black 18 inch");
    shop_natural_query("Find me walking shoes, size 9.5", &b);
    assert_string_equal(b.data, "walking shoes 9.5");
    eef_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzz_token_set_ratio), cmocka_unit_test(test_normalize_color),
        cmocka_unit_test(test_price_upper),          cmocka_unit_test(test_reward_hand_cases),
        cmocka_unit_test(test_can_win),              cmocka_unit_test(test_search),
        cmocka_unit_test(test_natural_query),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

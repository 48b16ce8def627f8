/* Tests of the shop's catalogues: the generator (determinism, the rules
 * its vocabulary must obey for the reward to mean what it says, near
 * duplicates, vocabulary size) and the loader of WebShop's data files. */
#include "testutil.h"

#include <ctype.h>

#include "env/shop/shop_internal.h"

#define FIX "tests/fixtures/shop/"

static void gen(shop_catalog *c, size_t n, uint64_t seed)
{
    shop_catalog_init(c);
    assert_ok(shop_generate(c, n, 0, seed));
    assert_ok(shop_catalog_finish(c));
}

static void test_generator_deterministic(void **state)
{
    (void)state;
    shop_catalog a, b, d;
    gen(&a, 1500, 7);
    gen(&b, 1500, 7);
    gen(&d, 1500, 8);
    eef_buf da, db, dd;
    eef_buf_init(&da);
    eef_buf_init(&db);
    eef_buf_init(&dd);
    assert_ok(shop_catalog_dump(&a, &da));
    assert_ok(shop_catalog_dump(&b, &db));
    assert_ok(shop_catalog_dump(&d, &dd));
    assert_int_equal(da.len, db.len);
    assert_memory_equal(da.data, db.data, da.len);
    assert_true(da.len != dd.len || memcmp(da.data, dd.data, da.len) != 0);
    eef_buf_free(&da);
    eef_buf_free(&db);
    eef_buf_free(&dd);
    shop_catalog_free(&a);
    shop_catalog_free(&b);
    shop_catalog_free(&d);
}

static int type_has_attr(const shop_type_spec *t, const char *a)
{
    for (int i = 0; t->attrs[i]; i++)
        if (strcmp(t->attrs[i], a) == 0) return 1;
    return 0;
}

/* The rules of shop_vocab.c, checked on every product of a catalogue. */
static void test_generator_rules(void **state)
{
    (void)state;
    assert_true(shop_n_types >= 20);
    shop_catalog c;
    gen(&c, 4000, 11);
    int per_type[64] = { 0 };
    for (size_t i = 0; i < c.n; i++) {
        const shop_product *p = &c.items[i];
        const shop_type_spec *t = &shop_types[p->type];
        per_type[p->type]++;
        /* ids: B0 + 8 of [0-9A-Z], sorted and unique */
        assert_int_equal(strlen(p->asin), 10);
        assert_true(p->asin[0] == 'B' && p->asin[1] == '0');
        for (int k = 2; k < 10; k++) assert_true(isdigit((unsigned char)p->asin[k]) || isupper((unsigned char)p->asin[k]));
        if (i) assert_true(strcmp(c.items[i - 1].asin, p->asin) < 0);
        /* no digits in the texts the reward reads */
        for (const char *s = p->lc_title; *s; s++) assert_false(isdigit((unsigned char)*s));
        for (const char *s = p->lc_desc; *s; s++) assert_false(isdigit((unsigned char)*s));
        for (const char *s = p->lc_bullets; *s; s++) assert_false(isdigit((unsigned char)*s));
        /* a product has exactly its attributes: each of the type's others fails */
        for (int a = 0; t->attrs[a]; a++) {
            int has = 0;
            for (uint32_t k = 0; k < p->n_attrs; k++) has |= strcmp(p->attrs[k], t->attrs[a]) == 0;
            if (shop_attr_matches(p, t->attrs[a]) != has)
                fail_msg("%s '%s': attribute '%s' matches=%d has=%d", p->asin, p->title, t->attrs[a],
                         shop_attr_matches(p, t->attrs[a]), has);
        }
        for (uint32_t k = 0; k < p->n_attrs; k++) assert_true(type_has_attr(t, p->attrs[k]));
        /* option values: never in the texts, and pairwise distinguishable */
        for (uint32_t d = 0; d < p->n_dims; d++) {
            int exact = strcmp(p->dims[d].name, "size") == 0;
            for (uint32_t v = 0; v < p->dims[d].n_values; v++) {
                const char *nv = shop_normalize_color(p->dims[d].values[v]);
                if (strstr(p->lc_title, nv) || strstr(p->lc_desc, nv) || strstr(p->lc_bullets, nv))
                    fail_msg("%s: option value '%s' is in its texts", p->asin, nv);
                for (uint32_t d2 = 0; d2 < p->n_dims; d2++)
                    for (uint32_t v2 = 0; v2 < p->dims[d2].n_values; v2++) {
                        if (d2 == d && v2 == v) continue;
                        const char *nw = shop_normalize_color(p->dims[d2].values[v2]);
                        if (d2 == d && exact) assert_true(strcmp(nv, nw) != 0);
                        else if (shop_fuzz_token_set_ratio(nv, nw) > 85)
                            fail_msg("%s: option values '%s' and '%s' match each other", p->asin, nv, nw);
                    }
            }
        }
    }
    for (size_t t = 0; t < shop_n_types; t++) {
        assert_true(per_type[t] > (int)(c.n / shop_n_types / 2)); /* every type is there */
        /* modifiers are adjectives for the type reward's noun test */
        for (int m = 0; shop_types[t].mods[m]; m++) {
            eef_arena a;
            eef_arena_init(&a, 0);
            const char **nouns;
            if (shop_title_nouns(&a, shop_types[t].mods[m], &nouns) != 0)
                fail_msg("modifier '%s' counts as a noun", shop_types[t].mods[m]);
            eef_arena_free(&a);
        }
        /* attributes of a type never match each other */
        for (int i = 0; shop_types[t].attrs[i]; i++)
            for (int j = 0; shop_types[t].attrs[j]; j++)
                if (i != j && shop_fuzz_token_set_ratio(shop_types[t].attrs[i], shop_types[t].attrs[j]) > 85)
                    fail_msg("attributes '%s' and '%s' match", shop_types[t].attrs[i], shop_types[t].attrs[j]);
    }
    shop_catalog_free(&c);
}

/* Near-duplicates exist; the whole vocabulary stays a few thousand words. */
static void test_generator_near_duplicates_and_vocabulary(void **state)
{
    (void)state;
    eef_env *env;
    assert_ok(eef_env_open("shop", "products=2000,train=1500,test=500", 1, &env));
    shop_env *e = (shop_env *)env;
    size_t twins = 0;
    for (size_t i = 0; i < e->cat.n; i++) {
        for (size_t j = 0; j < e->cat.n; j++)
            if (j != i && e->cat.items[j].family == e->cat.items[i].family &&
                strcmp(e->cat.items[j].title, e->cat.items[i].title) == 0) {
                twins++;
                break;
            }
    }
    printf("products with a same-title twin: %zu of %zu\n", twins, e->cat.n);
    assert_true(twins > e->cat.n / 3);
    /* distinct lowercase words of every page text and instruction */
    eef_buf all;
    eef_buf_init(&all);
    for (size_t i = 0; i < e->cat.n; i++) {
        const shop_product *p = &e->cat.items[i];
        eef_buf_printf(&all, "%s %s %s ", p->lc_title, p->lc_desc, p->lc_bullets);
        for (uint32_t k = 0; k < p->n_attrs; k++) eef_buf_printf(&all, "%s ", p->attrs[k]);
        for (uint32_t k = 0; k < p->n_reviews; k++) eef_buf_printf(&all, "%s ", p->reviews[k]);
        for (uint32_t d = 0; d < p->n_dims; d++) {
            eef_buf_printf(&all, "%s ", p->dims[d].name);
            for (uint32_t v = 0; v < p->dims[d].n_values; v++) eef_buf_printf(&all, "%s ", p->dims[d].values[v]);
        }
    }
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < e->n_tasks[s]; i++) eef_buf_printf(&all, "%s ", e->tasks[s][i].goal.instruction);
    char **words = NULL;
    size_t n = 0, cap = 0;
    for (char *tok = strtok(all.data, " ,.:;()[]"); tok; tok = strtok(NULL, " ,.:;()[]")) {
        for (char *q = tok; *q; q++) *q = (char)tolower((unsigned char)*q);
        int seen = 0;
        for (size_t k = 0; k < n && !seen; k++) seen = strcmp(words[k], tok) == 0;
        if (seen) continue;
        if (n == cap) words = realloc(words, (cap = cap ? 2 * cap : 1024) * sizeof *words);
        words[n++] = tok;
    }
    printf("distinct words in pages and instructions: %zu\n", n);
    assert_true(n > 500 && n < 3000);
    free(words);
    eef_buf_free(&all);
    eef_env_close(env);
}

/* ------------------------------------------------------------------ loader */
static const shop_product *find(const shop_catalog *c, const char *asin)
{
    long i = shop_catalog_find(c, asin);
    if (i < 0) fail_msg("%s not loaded", asin);
    return &c->items[i];
}

static void test_loader_fixture(void **state)
{
    (void)state;
    shop_catalog c;
    shop_catalog_init(&c);
    assert_ok(shop_load_products(&c, FIX "items_shuffle_fixture.json", FIX "items_ins_v2_fixture.json", 0, 1));
    assert_ok(shop_catalog_finish(&c));
    assert_int_equal(c.n, 4); /* nan, a long id and a repeated id are skipped */
    const shop_product *p = find(&c, "B0FIX00001");
    assert_string_equal(p->title, "Brightly Clip in Hair Extensions Heat Resistant"); /* the first one */
    assert_string_equal(p->description, "Soft synthetic hair extensions. Easy to clip in.");
    assert_int_equal(p->n_bullets, 2);
    assert_string_equal(p->query, "hair extensions");
    assert_string_equal(p->price_tag, "$19.99");
    assert_true(p->price == 19.99);
    assert_int_equal(p->n_dims, 2);
    assert_string_equal(p->dims[0].name, "color");
    assert_string_equal(p->dims[0].values[0], "jet black");
    assert_string_equal(p->dims[0].values[1], "brown | blonde");
    assert_string_equal(p->dims[1].name, "size");
    assert_string_equal(p->dims[1].values[1], "20 inch");
    assert_int_equal(p->n_attrs, 2);
    assert_string_equal(p->attrs[1], "natural looking");
    p = find(&c, "B0FIX00002"); /* a price range: its tag, and a draw inside it */
    assert_string_equal(p->price_tag, "$12.5 to $20.0");
    assert_true(p->price >= 12.5 && p->price <= 20.0);
    p = find(&c, "B0FIX00004"); /* no price -> $100.0; one bullet string; no options */
    assert_string_equal(p->price_tag, "$100.0");
    assert_int_equal(p->n_bullets, 1);
    assert_int_equal(p->n_dims, 0);
    assert_string_equal(p->description, "");
    p = find(&c, "B0FIX00005"); /* a null option group is skipped; no attributes -> DUMMY_ATTR */
    assert_string_equal(p->price_tag, "$45.0");
    assert_int_equal(p->n_dims, 1);
    assert_string_equal(p->dims[0].name, "size");
    assert_int_equal(p->n_attrs, 1);
    assert_string_equal(p->attrs[0], "DUMMY_ATTR");
    shop_catalog_free(&c);

    /* a cap on products reads the first N records, as WebShop's num_products */
    shop_catalog_init(&c);
    assert_ok(shop_load_products(&c, FIX "items_shuffle_fixture.json", NULL, 2, 1));
    assert_int_equal(c.n, 2);
    shop_catalog_free(&c);
}

static void test_loader_env_and_goals(void **state)
{
    (void)state;
    eef_env *env;
    assert_ok(eef_env_open("shop",
                           "products_file=" FIX "items_shuffle_fixture.json,attrs_file=" FIX
                           "items_ins_v2_fixture.json,instructions_file=" FIX
                           "items_human_ins_fixture.json,train=5,test=1",
                           1, &env));
    size_t n_train = env->ops->n_tasks(env, EEF_SPLIT_TRAIN), n_test = env->ops->n_tasks(env, EEF_SPLIT_TEST);
    assert_int_equal(n_test, 1);
    assert_int_equal(n_train, 2); /* three usable instructions in all */
    int seen_tea = 0, seen_hair = 0;
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < env->ops->n_tasks(env, (eef_split)s); i++) {
            eef_task t;
            assert_ok(env->ops->task(env, (eef_split)s, i, &t));
            /* WebShop: instruction.strip('.') + ", and price lower than X dollars" */
            assert_non_null(strstr(t.instruction, ", and price lower than "));
            assert_true(t.instruction[0] != '.');
            if (strstr(t.instruction, "herbal tea")) {
                seen_tea = 1;
                assert_true(strncmp(t.instruction, "find me caffeine free herbal tea bags, and price lower than ", 60) == 0);
                /* $100.0 -> a bound of 120, 130 or 140 */
                assert_true(strstr(t.instruction, "120.00") || strstr(t.instruction, "130.00") ||
                            strstr(t.instruction, "140.00"));
            }
            if (strstr(t.instruction, "hair extensions")) {
                seen_hair = 1;
                assert_non_null(strstr(t.instruction, "18 inch, and price"));
            }
            /* every fixture task is solvable: the oracle wins it */
            eef_strlist acts = { 0 };
            assert_ok(eef_shop_oracle(env, (eef_split)s, i, &acts));
            eef_episode *ep;
            eef_step st;
            assert_ok(env->ops->episode_open(env, &ep));
            assert_ok(eef_env_restore(ep, (eef_split)s, i, (const char *const *)acts.items, acts.n, &st));
            assert_true(st.done);
            assert_true(st.reward == 1.0);
            env->ops->episode_close(ep);
            eef_strlist_free(&acts);
        }
    assert_true(seen_tea && seen_hair);
    eef_env_close(env);
}

static void write_text(const char *path, const char *text)
{
    assert_ok(eef_write_file_atomic(path, text, strlen(text)));
}

static void test_loader_errors(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char p[600], q[600], opts[1400];
    eef_path_join(p, sizeof p, dir, "p.json");
    eef_path_join(q, sizeof q, dir, "h.json");
    struct { const char *text, *want; } bad[] = {
        { "[{\"asin\": \"B0X\", \"name\": \"a\"", "malformed JSON" },
        { "{\"asin\": \"B0X\"}", "expected a JSON array" },
        { "[{\"asin\": \"B0X\"}]", "field 'name' missing" },
        { "[{\"asin\": \"B0X\", \"name\": 3}]", "field 'name' is not a string" },
        { "[{\"asin\": \"B0X\", \"name\": \"a\", \"pricing\": 5}]", "'pricing' is not a string" },
        { "[{\"asin\": \"B0X\", \"name\": \"a\", \"customization_options\": {\"color\": [3]}}]",
          "not an object" },
        { "[]", "no usable products" },
    };
    write_text(q, "{\"B0X\": [{\"instruction\": \"i need a\", \"instruction_attributes\": [\"a\"]}]}");
    for (size_t i = 0; i < EEF_ARRAY_LEN(bad); i++) {
        write_text(p, bad[i].text);
        snprintf(opts, sizeof opts, "products_file=%s,instructions_file=%s", p, q);
        eef_env *env = NULL;
        eef_err err = eef_env_open("shop", opts, 1, &env);
        assert_int_not_equal(err, EEF_OK);
        assert_null(env);
        if (!strstr(eef_errmsg(), bad[i].want) || !strstr(eef_errmsg(), "p.json"))
            fail_msg("case %zu: message '%s' lacks '%s' or the file name", i, eef_errmsg(), bad[i].want);
    }
    /* a good products file with a broken instructions file */
    write_text(p, "[{\"asin\": \"B0X\", \"name\": \"a thing\"}]");
    write_text(q, "{\"B0X\": [{\"instruction\": 5, \"instruction_attributes\": [\"a\"]}]}");
    snprintf(opts, sizeof opts, "products_file=%s,instructions_file=%s", p, q);
    eef_env *env = NULL;
    assert_int_not_equal(eef_env_open("shop", opts, 1, &env), EEF_OK);
    assert_non_null(strstr(eef_errmsg(), "h.json"));
    /* options: unknown keys, bad numbers, files without goals */
    assert_int_not_equal(eef_env_open("shop", "colour=red", 1, &env), EEF_OK);
    assert_non_null(strstr(eef_errmsg(), "unknown option 'colour'"));
    assert_int_not_equal(eef_env_open("shop", "products=zero", 1, &env), EEF_OK);
    assert_int_not_equal(eef_env_open("shop", "max_steps=0", 1, &env), EEF_OK);
    snprintf(opts, sizeof opts, "products_file=%s", p);
    assert_int_not_equal(eef_env_open("shop", opts, 1, &env), EEF_OK);
    assert_non_null(strstr(eef_errmsg(), "instructions_file"));
    tu_rmtree(dir);
}

/* Generated catalogue -> WebShop files -> loader: the same products. */
static void test_loader_round_trip(void **state)
{
    (void)state;
    shop_catalog a, b;
    gen(&a, 300, 5);
    char *dir = tu_tmpdir();
    char p[600], q[600];
    eef_path_join(p, sizeof p, dir, "items_shuffle.json");
    eef_path_join(q, sizeof q, dir, "items_ins_v2.json");
    assert_ok(shop_catalog_write_webshop(&a, p, q));
    shop_catalog_init(&b);
    assert_ok(shop_load_products(&b, p, q, 0, 5));
    assert_ok(shop_catalog_finish(&b));
    assert_int_equal(a.n, b.n);
    for (size_t i = 0; i < a.n; i++) {
        const shop_product *x = &a.items[i], *y = &b.items[i];
        assert_string_equal(x->asin, y->asin);
        assert_string_equal(x->title, y->title);
        assert_string_equal(x->description, y->description);
        assert_string_equal(x->query, y->query);
        assert_string_equal(x->category, y->category);
        assert_string_equal(x->product_category, y->product_category);
        assert_string_equal(x->price_tag, y->price_tag);
        assert_true(x->price == y->price);
        assert_int_equal(x->n_bullets, y->n_bullets);
        for (uint32_t k = 0; k < x->n_bullets; k++) assert_string_equal(x->bullets[k], y->bullets[k]);
        assert_int_equal(x->n_attrs, y->n_attrs);
        for (uint32_t k = 0; k < x->n_attrs; k++) assert_string_equal(x->attrs[k], y->attrs[k]);
        assert_int_equal(x->n_dims, y->n_dims);
        for (uint32_t d = 0; d < x->n_dims; d++) {
            assert_string_equal(x->dims[d].name, y->dims[d].name);
            assert_int_equal(x->dims[d].n_values, y->dims[d].n_values);
            for (uint32_t v = 0; v < x->dims[d].n_values; v++)
                assert_string_equal(x->dims[d].values[v], y->dims[d].values[v]);
        }
    }
    shop_catalog_free(&a);
    shop_catalog_free(&b);
    tu_rmtree(dir);
}

static void test_types_option(void **state)
{
    (void)state;
    /* a smaller world: products of only the first N types of the order */
    shop_catalog c;
    shop_catalog_init(&c);
    assert_ok(shop_generate(&c, 300, 3, 7));
    int seen[64] = { 0 }, distinct = 0;
    for (size_t i = 0; i < 300; i++) {
        assert_in_range(c.items[i].type, 0, 63);
        if (!seen[c.items[i].type]++) distinct++;
    }
    assert_int_equal(distinct, 3);
    shop_catalog_free(&c);
    /* the option reaches the generator; unknown values are refused */
    eef_env *env;
    assert_ok(eef_env_open("shop", "products=200,types=4,train=10,test=5", 1, &env));
    eef_env_close(env);
    assert_int_equal(eef_env_open("shop", "types=0", 1, &env), EEF_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types_option),
        cmocka_unit_test(test_generator_deterministic),
        cmocka_unit_test(test_generator_rules),
        cmocka_unit_test(test_generator_near_duplicates_and_vocabulary),
        cmocka_unit_test(test_loader_fixture),
        cmocka_unit_test(test_loader_env_and_goals),
        cmocka_unit_test(test_loader_errors),
        cmocka_unit_test(test_loader_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The shop's BM25 search against an independent implementation of the
 * published formula (tests/ref/make_bm25_ref.py, same analyzer): idf of
 * every query term, every document's length normalisation, and each
 * query's top 50 in order, ties by the lower index.
 *
 * The documents are those of a generated catalogue (400 products, seed 5),
 * as eef indexes them; tests/fixtures/bm25/docs.txt holds their text and
 * is checked here first, so the reference stays the reference of this
 * catalogue.  Regenerate after a change to the generator:
 *   EEF_UPDATE_FIXTURES=1 build/tests/test_shop_bm25 && /usr/bin/python3 tests/ref/make_bm25_ref.py */
#include "testutil.h"

#include "env/shop/shop_internal.h"

#include <math.h>
#include <string.h>

#define FIX "tests/fixtures/bm25/"
#define N_PRODUCTS 400
#define SEED 5

static shop_catalog cat;
static shop_index ix;

static int setup(void **state)
{
    (void)state;
    shop_catalog_init(&cat);
    if (shop_generate(&cat, N_PRODUCTS, 0, SEED)) return -1;
    return shop_index_build(&ix, &cat) ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    shop_index_free(&ix);
    shop_catalog_free(&cat);
    return 0;
}

static void test_documents(void **state)
{
    (void)state;
    eef_buf doc, all;
    eef_buf_init(&doc);
    eef_buf_init(&all);
    for (size_t d = 0; d < cat.n; d++) {
        shop_product_doc(&cat.items[d], &doc);
        assert_null(strchr(doc.data, '\n'));
        assert_null(strchr(doc.data, '\t'));
        assert_ok(eef_buf_printf(&all, "%zu\t%s\n", d, doc.data));
    }
    if (getenv("EEF_UPDATE_FIXTURES")) {
        assert_ok(eef_write_file_atomic(FIX "docs.txt", all.data, all.len));
        fprintf(stderr, "wrote " FIX "docs.txt: now run tests/ref/make_bm25_ref.py\n");
    }
    char *want;
    size_t n;
    assert_ok(eef_read_file(FIX "docs.txt", &want, &n));
    if (n != all.len || memcmp(want, all.data, n) != 0)
        fail_msg(FIX "docs.txt is not this catalogue's documents: regenerate (see the top of this file)");
    free(want);
    eef_buf_free(&doc);
    eef_buf_free(&all);
}

static long term_id(const char *t)
{
    for (uint32_t i = 0; i < ix.n_terms; i++)
        if (strcmp(ix.terms[i], t) == 0) return (long)i;
    return -1;
}

/* relative error of float32 arithmetic on a few terms */
static int close_rel(double got, double want, double tol)
{
    return fabs(got - want) <= tol * fmax(fabs(want), 1e-30);
}

typedef struct {
    int doc;
    double score;
} hit;

static void check_query(const char *q, const hit *want, int n_want, shop_scratch *s)
{
    uint32_t got[SHOP_SEARCH_N];
    size_t n = shop_search(&ix, s, q, got);
    size_t expect_n = n_want < SHOP_SEARCH_N ? (size_t)n_want : SHOP_SEARCH_N;
    if (n != expect_n) fail_msg("query '%s': %zu results, want %zu", q, n, expect_n);
    for (size_t r = 0; r < n; r++) {
        if ((int)got[r] == want[r].doc) continue;
        /* float32 sums may order near-ties differently; an exact tie in the
         * reference must keep the lower index first */
        double sg = NAN;
        for (int k = 0; k < n_want; k++)
            if (want[k].doc == (int)got[r]) sg = want[k].score;
        if (isnan(sg) || sg == want[r].score || !close_rel(sg, want[r].score, 2e-6))
            fail_msg("query '%s': rank %zu is product %u (reference score %.9g), want %d (%.9g)", q, r,
                     got[r], sg, want[r].doc, want[r].score);
    }
}

static void test_against_reference(void **state)
{
    (void)state;
    FILE *f = fopen(FIX "ref.txt", "r");
    assert_non_null(f);
    char line[4096];
    assert_non_null(fgets(line, sizeof line, f));
    long N;
    double avgdl;
    assert_int_equal(sscanf(line, "%ld %lf", &N, &avgdl), 2);
    assert_int_equal(N, (long)cat.n);
    shop_scratch s;
    assert_ok(shop_scratch_init(&s, &ix));
    static hit want[64];
    int n_want = 0, n_queries = 0, n_knorm = 0, n_idf = 0, in_query = 0, ties = 0;
    char query[4096] = "";
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (strncmp(line, "knorm ", 6) == 0) {
            long d;
            double v;
            assert_int_equal(sscanf(line + 6, "%ld %lf", &d, &v), 2);
            assert_true(d >= 0 && d < N);
            if (!close_rel(ix.knorm[d], v, 1e-6))
                fail_msg("document %ld: k1 (1 - b + b dl / avgdl) = %.9g, want %.9g", d, ix.knorm[d], v);
            n_knorm++;
        } else if (strncmp(line, "query ", 6) == 0) {
            snprintf(query, sizeof query, "%s", line + 6);
            n_want = 0, in_query = 1;
        } else if (strncmp(line, "idf ", 4) == 0) {
            char term[128];
            double v;
            assert_int_equal(sscanf(line + 4, "%127s %lf", term, &v), 2);
            long t = term_id(term);
            if (t < 0) fail_msg("query '%s': term '%s' is not in the index", query, term);
            if (!close_rel(ix.idf[t], v, 1e-6))
                fail_msg("idf('%s') = %.9g, want %.9g", term, ix.idf[t], v);
            n_idf++;
        } else if (strncmp(line, "hit ", 4) == 0) {
            int r;
            hit h;
            assert_int_equal(sscanf(line + 4, "%d %d %lf", &r, &h.doc, &h.score), 3);
            assert_int_equal(r, n_want);
            assert_true(n_want < 64);
            if (n_want > 0 && n_want < SHOP_SEARCH_N && want[n_want - 1].score == h.score) ties++;
            want[n_want++] = h;
        } else if (strcmp(line, "end") == 0) {
            assert_true(in_query);
            check_query(query, want, n_want, &s);
            n_queries++, in_query = 0;
        } else {
            fail_msg(FIX "ref.txt: unexpected line '%s'", line);
        }
    }
    fclose(f);
    shop_scratch_free(&s);
    assert_int_equal(n_knorm, N);
    /* the fixture is only a test if it has queries, terms and exact ties */
    assert_true(n_queries >= 20 && n_idf >= 40 && ties >= 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_documents),
        cmocka_unit_test(test_against_reference),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* Tests of the BPE tokenizer (src/text). */
#include "testutil.h"

#include "text/text.h"

static const char *corpus_words[] = { "click", "search", "Next", "Prev", "Buy", "Now", "the",
                                      "blue", "shirt", "speaker", "grey", "color", "size",
                                      "[SEP]", "$12.99", "B0ZJJBUPOR", "7.5", "and", "price" };

static char *make_corpus(size_t n_words, uint64_t seed, size_t *len)
{
    eef_buf b;
    eef_buf_init(&b);
    eef_rng r = eef_rng_make(eef_rng_key(seed, 0, 0, 0));
    for (size_t i = 0; i < n_words; i++) {
        eef_buf_puts(&b, corpus_words[eef_rng_below(&r, EEF_ARRAY_LEN(corpus_words))]);
        eef_buf_puts(&b, eef_rng_below(&r, 10) == 0 ? "\n" : " ");
    }
    *len = b.len;
    return b.data;
}

static eef_tokenizer *trained(int vocab)
{
    size_t len;
    char *c = make_corpus(20000, 1, &len);
    eef_tokenizer *t;
    assert_ok(eef_tok_train(c, len, vocab, &t));
    free(c);
    return t;
}

static void roundtrip(const eef_tokenizer *t, const char *s, size_t n)
{
    int *ids = NULL;
    size_t ni = 0, cap = 0;
    assert_ok(eef_tok_encode(t, s, n, &ids, &ni, &cap));
    for (size_t i = 0; i < ni; i++) {
        assert_in_range(ids[i], 0, eef_tok_vocab_size(t) - 1);
        /* specials are never produced by encode */
        assert_false(ids[i] >= 256 && ids[i] < EEF_TOK_FIRST_MERGE);
    }
    eef_buf b;
    eef_buf_init(&b);
    assert_ok(eef_tok_decode(t, ids, ni, &b));
    assert_int_equal(b.len, n);
    if (n) assert_memory_equal(b.data, s, n);
    eef_buf_free(&b);
    free(ids);
}

static void test_roundtrip_fuzz(void **state)
{
    (void)state;
    eef_tokenizer *t = trained(400);
    eef_rng r = eef_rng_make(5);
    char buf[512];
    for (int k = 0; k < 3000; k++) {
        size_t n = (size_t)eef_rng_below(&r, sizeof buf);
        int mode = (int)eef_rng_below(&r, 3);
        for (size_t i = 0; i < n; i++) {
            if (mode == 0) buf[i] = (char)eef_rng_below(&r, 256); /* any bytes, NULs, bad UTF-8 */
            else if (mode == 1) buf[i] = " abcXYZ09[]$.\n\t"[eef_rng_below(&r, 16)];
            else buf[i] = (char)(0x80 + eef_rng_below(&r, 128));
        }
        roundtrip(t, buf, n);
    }
    roundtrip(t, "", 0);
    const char *s = "WebShop [SEP] Instruction: [SEP] i need a blue shirt, size 7.5 [SEP] click[Next >]";
    roundtrip(t, s, strlen(s));
    eef_tok_free(t);
}

static void test_known_merges(void **state)
{
    (void)state;
    /* words: "aaab" x2 (with one leading space), "ab" ... counts:
     * "aaab": aa aa ab, " aaab": " a" aa aa ab, " ab": " a" ab
     * ab: 3, aa: 4 -> first merge (a, a) */
    const char *c = "aaab aaab ab";
    eef_tokenizer *t;
    assert_ok(eef_tok_train(c, strlen(c), EEF_TOK_FIRST_MERGE + 3, &t));
    size_t len;
    const char *p = eef_tok_piece(t, EEF_TOK_FIRST_MERGE, &len);
    assert_int_equal(len, 2);
    assert_memory_equal(p, "aa", 2);
    /* then "aa" + "a"? no: after merging aa the words are [aa a b], [' ' aa a b], [' ' a b]:
     * pairs (aa,a) 2, (a,b) 3, (' ',aa) 1, (' ',a) 1 -> (a, b) */
    p = eef_tok_piece(t, EEF_TOK_FIRST_MERGE + 1, &len);
    assert_int_equal(len, 2);
    assert_memory_equal(p, "ab", 2);
    /* then (aa, ab) 2 */
    p = eef_tok_piece(t, EEF_TOK_FIRST_MERGE + 2, &len);
    assert_int_equal(len, 4);
    assert_memory_equal(p, "aaab", 4);
    int *ids = NULL;
    size_t n = 0, cap = 0;
    assert_ok(eef_tok_encode(t, "aaab", 4, &ids, &n, &cap));
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], EEF_TOK_FIRST_MERGE + 2);
    free(ids);
    /* specials have their names as pieces */
    p = eef_tok_piece(t, EEF_TOK_ACT, &len);
    assert_int_equal(len, 7);
    assert_memory_equal(p, "<|act|>", 7);
    eef_tok_free(t);
}

static void test_word_boundaries(void **state)
{
    (void)state;
    /* encoding is per word: encode(a + b) == encode(a) + encode(b) at
     * word boundaries, as the agent's action scoring assumes */
    eef_tokenizer *t = trained(500);
    const char *parts[][2] = { { "click[", "B0ZJJBUPOR]" }, { "search[", "blue shirt]" },
                               { "the blue", " shirt" }, { "price", " $12.99" } };
    for (size_t k = 0; k < EEF_ARRAY_LEN(parts); k++) {
        char whole[128];
        snprintf(whole, sizeof whole, "%s%s", parts[k][0], parts[k][1]);
        int *a = NULL, *b = NULL;
        size_t na = 0, ca = 0, nb = 0, cb = 0;
        assert_ok(eef_tok_encode(t, whole, strlen(whole), &a, &na, &ca));
        assert_ok(eef_tok_encode(t, parts[k][0], strlen(parts[k][0]), &b, &nb, &cb));
        assert_ok(eef_tok_encode(t, parts[k][1], strlen(parts[k][1]), &b, &nb, &cb));
        assert_int_equal(na, nb);
        assert_memory_equal(a, b, na * sizeof(int));
        free(a), free(b);
    }
    eef_tok_free(t);
}

static void test_caps_are_letters(void **state)
{
    (void)state;
    /* however often an id occurs, its capitals stay single letters */
    eef_buf c;
    eef_buf_init(&c);
    for (int i = 0; i < 500; i++) eef_buf_puts(&c, "click B0ZJJBUPOR and Rugged Speaker\n");
    eef_tokenizer *t;
    assert_ok(eef_tok_train(c.data, c.len, 400, &t));
    int *ids = NULL;
    size_t n = 0, cap = 0;
    assert_ok(eef_tok_encode(t, " B0ZJJBUPOR", 11, &ids, &n, &cap));
    const char *want[] = { " B", "0", "Z", "J", "J", "B", "U", "P", "O", "R" };
    assert_int_equal(n, EEF_ARRAY_LEN(want));
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *p = eef_tok_piece(t, ids[i], &len);
        assert_int_equal(len, strlen(want[i]));
        assert_memory_equal(p, want[i], len);
    }
    /* capitalised words are still words */
    n = 0;
    assert_ok(eef_tok_encode(t, " Rugged", 7, &ids, &n, &cap));
    assert_int_equal(n, 1);
    free(ids);
    eef_tok_free(t);
    eef_buf_free(&c);
}

static void test_pathological_input(void **state)
{
    (void)state;
    /* one 4 MB word: training and encoding stay linear */
    size_t n = 4u << 20;
    char *s = malloc(n);
    for (size_t i = 0; i < n; i++) s[i] = "ab"[i & 1];
    double t0 = eef_now();
    eef_tokenizer *t;
    assert_ok(eef_tok_train(s, n, 1000, &t));
    int *ids = NULL;
    size_t ni = 0, cap = 0;
    assert_ok(eef_tok_encode(t, s, n, &ids, &ni, &cap));
    assert_true(eef_now() - t0 < 20.0);
    eef_buf b;
    eef_buf_init(&b);
    assert_ok(eef_tok_decode(t, ids, ni, &b));
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, s, n);
    eef_buf_free(&b);
    free(ids);
    free(s);
    eef_tok_free(t);
}

static void test_deterministic_and_save(void **state)
{
    (void)state;
    eef_tokenizer *a = trained(600), *b = trained(600), *c;
    eef_buf sa, sb;
    eef_buf_init(&sa), eef_buf_init(&sb);
    assert_ok(eef_tok_save(a, &sa));
    assert_ok(eef_tok_save(b, &sb));
    assert_int_equal(sa.len, sb.len);
    assert_memory_equal(sa.data, sb.data, sa.len);
    assert_ok(eef_tok_load(sa.data, sa.len, "mem", &c));
    assert_int_equal(eef_tok_vocab_size(c), eef_tok_vocab_size(a));
    const char *s = "i need a grey outdoor speaker [SEP] click[Buy Now]";
    int *x = NULL, *y = NULL;
    size_t nx = 0, cx = 0, ny = 0, cy = 0;
    assert_ok(eef_tok_encode(a, s, strlen(s), &x, &nx, &cx));
    assert_ok(eef_tok_encode(c, s, strlen(s), &y, &ny, &cy));
    assert_int_equal(nx, ny);
    assert_memory_equal(x, y, nx * sizeof(int));
    free(x), free(y);

    /* damage: every truncation, wrong magic, wrong version, flipped bytes,
     * out-of-range merge ids */
    eef_tokenizer *d;
    for (size_t cut = 0; cut < sa.len; cut++)
        assert_int_equal(eef_tok_load(sa.data, cut, "mem", &d), EEF_EFORMAT);
    char *bad = malloc(sa.len);
    memcpy(bad, sa.data, sa.len);
    bad[0] = 'X';
    assert_int_equal(eef_tok_load(bad, sa.len, "tok.bin", &d), EEF_EFORMAT);
    assert_non_null(strstr(eef_errmsg(), "tok.bin: not a tokenizer"));
    memcpy(bad, sa.data, sa.len);
    bad[4] = 7;
    assert_int_equal(eef_tok_load(bad, sa.len, "tok.bin", &d), EEF_EFORMAT);
    assert_non_null(strstr(eef_errmsg(), "version 7"));
    for (size_t at = 4; at < sa.len; at += 13) {
        memcpy(bad, sa.data, sa.len);
        bad[at] ^= 0x40;
        assert_int_equal(eef_tok_load(bad, sa.len, "tok.bin", &d), EEF_EFORMAT);
    }
    /* a merge referring to a later id, with a valid checksum */
    memcpy(bad, sa.data, sa.len);
    int32_t later = eef_tok_vocab_size(a);
    memcpy(bad + 16, &later, 4);
    uint32_t crc = eef_crc32(0, bad, sa.len - 4);
    memcpy(bad + sa.len - 4, &crc, 4);
    assert_int_equal(eef_tok_load(bad, sa.len, "tok.bin", &d), EEF_EFORMAT);
    assert_non_null(strstr(eef_errmsg(), "invalid id"));
    free(bad);
    eef_buf_free(&sa), eef_buf_free(&sb);
    eef_tok_free(a), eef_tok_free(b), eef_tok_free(c);
}

static void test_concurrent_encode(void **state)
{
    (void)state;
    eef_tokenizer *t = trained(800);
    size_t len;
    char *text = make_corpus(5000, 9, &len);
    int *ref = NULL;
    size_t nref = 0, cref = 0;
    assert_ok(eef_tok_encode(t, text, len, &ref, &nref, &cref));
    int bad = 0;
#pragma omp parallel for reduction(+ : bad)
    for (int k = 0; k < 8; k++) {
        int *ids = NULL;
        size_t n = 0, cap = 0;
        bad += eef_tok_encode(t, text, len, &ids, &n, &cap) != EEF_OK;
        bad += n != nref || memcmp(ids, ref, n * sizeof(int)) != 0;
        free(ids);
    }
    assert_int_equal(bad, 0);
    /* compression: the words become one token each; the id and [SEP]
     * stay letters (see test_caps_are_letters) */
    assert_true((double)len / (double)nref > 2.5);
    free(ref);
    free(text);
    eef_tok_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_fuzz),   cmocka_unit_test(test_known_merges),
        cmocka_unit_test(test_word_boundaries),  cmocka_unit_test(test_caps_are_letters),
        cmocka_unit_test(test_pathological_input),
        cmocka_unit_test(test_deterministic_and_save),
        cmocka_unit_test(test_concurrent_encode),
    };
    return cmocka_run_group_tests_name("text", tests, NULL, NULL);
}

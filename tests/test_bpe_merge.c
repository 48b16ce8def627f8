/* BPE's encoding rule (Sennrich et al. 2016; GPT-2's bpe()): within a word,
 * repeatedly merge the adjacent pair of lowest rank, and of two equal
 * pairs the leftmost.  With the single merge (a, a), "aaa" is "aa" + "a"
 * and "aaaaa" is "aa" + "aa" + "a"; with (a, a) then (aa, a), "aaa" is one
 * token but "aaaa" is "aa" + "aa" (the lower rank first, everywhere: not
 * the longest match) and "aaaaa" "aa" + "aaa". */
#include "testutil.h"

#include "text/text.h"

#include <string.h>

static eef_tokenizer *train(int merges)
{
    eef_buf b;
    eef_buf_init(&b);
    /* "aa" most often, then "aaa": merge 1 is (a, a), merge 2 (aa, a) */
    for (int i = 0; i < 40; i++) eef_buf_puts(&b, "aa\n");
    for (int i = 0; i < 30; i++) eef_buf_puts(&b, "aaa\n");
    eef_tokenizer *t;
    assert_ok(eef_tok_train(b.data, b.len, EEF_TOK_FIRST_MERGE + merges, &t));
    eef_buf_free(&b);
    return t;
}

/* The lengths of the tokens of `text`, as "2 1". */
static void lengths(const eef_tokenizer *t, const char *text, char *out, size_t cap)
{
    int *ids = NULL;
    size_t n = 0, c = 0;
    assert_ok(eef_tok_encode(t, text, strlen(text), &ids, &n, &c));
    out[0] = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        assert_non_null(eef_tok_piece(t, ids[i], &len));
        snprintf(out + strlen(out), cap - strlen(out), "%s%zu", i ? " " : "", len);
    }
    free(ids);
}

static void test_leftmost_and_rank(void **state)
{
    (void)state;
    char got[64];
    eef_tokenizer *t = train(1);
    lengths(t, "aa", got, sizeof got);
    assert_string_equal(got, "2");
    lengths(t, "aaa", got, sizeof got);
    assert_string_equal(got, "2 1");
    lengths(t, "aaaaa", got, sizeof got);
    assert_string_equal(got, "2 2 1");
    eef_tok_free(t);
    t = train(2);
    lengths(t, "aaa", got, sizeof got);
    assert_string_equal(got, "3");
    lengths(t, "aaaa", got, sizeof got);
    assert_string_equal(got, "2 2");
    lengths(t, "aaaaa", got, sizeof got);
    assert_string_equal(got, "2 3");
    eef_tok_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leftmost_and_rank),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

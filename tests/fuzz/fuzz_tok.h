/* fuzz_tok.h: the tokenizer round-trip properties shared by
 * fuzz_tok_roundtrip.c and fuzz_tok_train.c. */
#ifndef EEF_FUZZ_TOK_H
#define EEF_FUZZ_TOK_H

#include "fuzz_util.h"

#include "text/text.h"
#include "text/text_internal.h"

static const char CORPUS[] =
    "WebShop [SEP] Instruction: [SEP] i need a long clip-in hair extension which is natural "
    "looking, and price lower than 40.00 dollars [SEP] Search\n"
    "click[Back to Search] click[< Prev] click[Next >] click[B09QQP3356] search[hair extension]\n"
    "You are in the middle of a room. Looking quickly around you, you see a cabinet 1, a "
    "countertop 2, a fridge 1, a sinkbasin 1. Your task is to: put a clean apple in fridge.\n"
    "go to countertop 2 take apple 1 from countertop 2 clean apple 1 with sinkbasin 1 "
    "open fridge 1 put apple 1 in/on fridge 1 Nothing happens. ACME B0V66SVUHR 12.5 oz $19.99\n";

__attribute__((unused)) static eef_tokenizer *fixed(void)
{
    static eef_tokenizer *t;
    if (!t) {
        /* the corpus repeated so merges have counts to go by */
        eef_buf b;
        eef_buf_init(&b);
        for (int i = 0; i < 8; i++) FUZZ_CHECK(eef_buf_puts(&b, CORPUS) == 0);
        FUZZ_CHECK(eef_tok_train(b.data, b.len, EEF_TOK_FIRST_MERGE + 300, &t) == EEF_OK);
        eef_buf_free(&b);
    }
    return t;
}

__attribute__((unused)) static void roundtrip(const eef_tokenizer *t, const uint8_t *data, size_t size)
{
    int *ids = NULL, *ia = NULL;
    size_t n = 0, cap = 0, na = 0, capa = 0;
    FUZZ_CHECK(eef_tok_encode(t, (const char *)data, size, &ids, &n, &cap) == EEF_OK);
    FUZZ_CHECK(n <= size);
    for (size_t i = 0; i < n; i++) FUZZ_CHECK(ids[i] >= 0 && ids[i] < eef_tok_vocab_size(t));
    for (size_t i = 0; i < n; i++) /* specials come only from the prompt builder */
        FUZZ_CHECK(ids[i] < 256 || ids[i] >= EEF_TOK_FIRST_MERGE);
    eef_buf b;
    eef_buf_init(&b);
    FUZZ_CHECK(eef_tok_decode(t, ids, n, &b) == EEF_OK);
    FUZZ_CHECK(b.len == size && (size == 0 || memcmp(b.data, data, size) == 0));
    eef_buf_free(&b);
    if (size > 0) {
        /* split after the first word: the two encodings concatenate */
        size_t j = tok_next_word(data, size, 0);
        FUZZ_CHECK(j > 0 && j <= size);
        FUZZ_CHECK(eef_tok_encode(t, (const char *)data, j, &ia, &na, &capa) == EEF_OK);
        FUZZ_CHECK(eef_tok_encode(t, (const char *)data + j, size - j, &ia, &na, &capa) == EEF_OK);
        FUZZ_CHECK(na == n && memcmp(ia, ids, n * sizeof *ids) == 0);
    }
    free(ids);
    free(ia);
}

#endif

/* text_internal.h: the tokenizer's private face (src/text only). */
#ifndef EEF_TEXT_INTERNAL_H
#define EEF_TEXT_INTERNAL_H

#include "text.h"

struct eef_tokenizer {
    int vocab;          /* total ids: 256 bytes + specials + merges */
    int n_merges;
    int32_t *merges;    /* [n_merges][2]: merge m makes id EEF_TOK_FIRST_MERGE + m */
    /* derived by tok_build */
    char *pieces;       /* every id's bytes, back to back */
    size_t *piece_off;  /* [vocab + 1] */
    uint32_t *piece_len;
    uint64_t *rank_key; /* (left, right) -> merge index */
    int32_t *rank_val;
    size_t rank_cap;
};

#define TOK_MAX_WORD 64 /* bytes; longer words are cut */

/* End of the word starting at s[i] (see bpe.c for the rule). */
size_t tok_next_word(const unsigned char *s, size_t n, size_t i);
/* Pieces and the rank table from t->merges. */
eef_err tok_build(eef_tokenizer *t);

#endif

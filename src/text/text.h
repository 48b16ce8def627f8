/*
 * text: a byte-level BPE tokenizer.
 *
 * Ids 0..255 are the raw bytes, so every byte string is encodable and
 * decode(encode(x)) == x for any x.  Then come the special tokens that
 * mark turn boundaries (never produced by encode: only the prompt builder
 * inserts them), then the learned merges in the order they were learned.
 */
#ifndef EEF_TEXT_H
#define EEF_TEXT_H

#include "core/core.h"

/* Special tokens, with fixed ids right after the 256 bytes. */
typedef enum {
    EEF_TOK_BOS = 256,   /* "<|bos|>"   start of a sequence */
    EEF_TOK_INSTR,       /* "<|instr|>" an instruction follows */
    EEF_TOK_OBS,         /* "<|obs|>"   an observation follows */
    EEF_TOK_ACT,         /* "<|act|>"   an action follows */
    EEF_TOK_END,         /* "<|end|>"   end of an action / turn */
    EEF_TOK_PAD,         /* "<|pad|>"   padding, never trained on */
    EEF_TOK_FIRST_MERGE  /* first learned token */
} eef_special_token;
#define EEF_TOK_N_SPECIAL (EEF_TOK_FIRST_MERGE - 256)

typedef struct eef_tokenizer eef_tokenizer;

/* Learns merges on `text` until the vocabulary has `vocab_size` tokens
 * (>= EEF_TOK_FIRST_MERGE).  Pre-tokenization splits text into words
 * (a letter run with its leading space, digit runs, punctuation runs,
 * whitespace), merges never cross word boundaries. */
eef_err eef_tok_train(const char *text, size_t len, int vocab_size, eef_tokenizer **out);
void eef_tok_free(eef_tokenizer *t);
int eef_tok_vocab_size(const eef_tokenizer *t);

/* Appends the ids of text[0..len) to *ids (grown with realloc); *n is the
 * count so far and is updated; *cap is the allocated capacity. */
eef_err eef_tok_encode(const eef_tokenizer *t, const char *text, size_t len,
                       int **ids, size_t *n, size_t *cap);
/* Appends the bytes of ids to out (special tokens as their names). */
eef_err eef_tok_decode(const eef_tokenizer *t, const int *ids, size_t n, eef_buf *out);
/* Bytes of one token (specials: their name, e.g. "<|act|>"). */
const char *eef_tok_piece(const eef_tokenizer *t, int id, size_t *len);

/* Serialized form (inside model checkpoints): magic, version, merges. */
eef_err eef_tok_save(const eef_tokenizer *t, eef_buf *out);
eef_err eef_tok_load(const void *data, size_t len, const char *where, eef_tokenizer **out);
eef_err eef_tok_save_file(const eef_tokenizer *t, const char *path);
eef_err eef_tok_load_file(const char *path, eef_tokenizer **out);

#endif

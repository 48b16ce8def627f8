/* text_internal.h: the tokenizers' private face (src/text only).
 *
 * Every tokenizer starts with the common part (struct eef_tokenizer: its
 * operations, size, role map, chat format); each kind extends it as the
 * first member of its own struct (tok_eef, tok_hf), as SQLite's VFS does.
 */
#ifndef EEF_TEXT_INTERNAL_H
#define EEF_TEXT_INTERNAL_H

#include "text.h"

#include <stdint.h>

/* ------------------------------------------------------------ output */
/* Where encoding appends: the caller's id vector and, for chat spans, the
 * byte end of each token in the text that was encoded (plus `base`). */
typedef struct {
    int **ids;
    size_t *n, *cap;
    size_t *ends;     /* NULL: not tracked; else [*cap] entries, kept with ids */
    size_t ends_cap;
    size_t base;
} tok_out;

/* Room for m more ids (and ends); then tok_out_put writes them. */
eef_err tok_out_reserve(tok_out *o, size_t m);
static inline void tok_out_put(tok_out *o, int id, size_t end)
{
    if (o->ends) o->ends[*o->n] = o->base + end;
    (*o->ids)[(*o->n)++] = id;
}

/* ------------------------------------------------------------ chat */
typedef enum { CHAT_NONE, CHAT_CHATML, CHAT_LLAMA3 } chat_family;

typedef struct {
    chat_family family;
    const char *name;      /* eef_tok_chat_name */
    int think;             /* chatml: Qwen3's <think> rules for assistant turns */
    int date_block;        /* llama3: the system block with the knowledge date */
    int trim;              /* llama3: contents are trimmed (`| trim`) */
    int bos;               /* id the template starts with (bos_token), or -1 */
    int open, close;       /* chatml: <|im_start|>, <|im_end|>; llama3: <|start_header_id|>, <|eot_id|> */
    int header_end;        /* llama3: <|end_header_id|> */
    int think_open, think_close; /* chatml-think: <think>, </think> (added tokens) */
    char *default_system;  /* chatml: the system prompt the template adds when none is given */
} tok_chat;

/* Recognises a chat template; `find` looks a token up by its text.
 * Unknown templates are refused with their first characters. */
eef_err tok_chat_recognise(eef_tokenizer *t, const char *tmpl, const char *where, tok_chat *out);
void tok_chat_free(tok_chat *c);

/* ------------------------------------------------------------ the common part */
typedef struct tok_ops {
    void (*destroy)(eef_tokenizer *t);
    eef_err (*encode)(const eef_tokenizer *t, const char *s, size_t len, unsigned flags, tok_out *o);
    const char *(*piece)(const eef_tokenizer *t, int id, size_t *len);
    eef_tok_type (*type)(const eef_tokenizer *t, int id);
    int (*find)(const eef_tokenizer *t, const char *s, size_t len);
    eef_err (*save)(const eef_tokenizer *t, eef_buf *out);
    eef_err (*export_hf)(const eef_tokenizer *t, eef_buf *json, eef_buf *config);
    int (*vocab_text)(const eef_tokenizer *t, int id, eef_buf *out);
    size_t (*merge_count)(const eef_tokenizer *t);
    void (*merge_at)(const eef_tokenizer *t, size_t k, int *left, int *right);
} tok_ops;

struct eef_tokenizer {
    const tok_ops *ops;
    eef_tok_kind kind;
    int vocab;          /* every id is below it */
    eef_tok_roles roles;
    tok_chat chat;
    const char *pretok_name;
};

/* ------------------------------------------------------------ eef's BPE */
typedef struct {
    eef_tokenizer base; /* base.vocab: 256 bytes + specials + merges */
    int n_merges;
    int32_t *merges;    /* [n_merges][2]: merge m makes id EEF_TOK_FIRST_MERGE + m */
    /* derived by tok_build */
    char *pieces;       /* every id's bytes, back to back */
    size_t *piece_off;  /* [vocab + 1] */
    uint32_t *piece_len;
    uint64_t *rank_key; /* (left, right) -> merge index */
    int32_t *rank_val;
    size_t rank_cap;
} tok_eef;

#define TOK_MAX_WORD 64 /* bytes; longer words are cut */

extern const char *const tok_eef_special_names[EEF_TOK_N_SPECIAL];

/* A fresh eef tokenizer with its common part set (merges to be filled). */
tok_eef *tok_eef_new(int vocab, int n_merges);
/* End of the word starting at s[i] (see bpe.c for the rule). */
size_t tok_next_word(const unsigned char *s, size_t n, size_t i);
/* Pieces and the rank table from t->merges. */
eef_err tok_build(tok_eef *t);
/* The serialized form (tok_io.c). */
eef_err tok_eef_save(const tok_eef *t, eef_buf *out);
/* eef's tokenizer as tokenizer.json + tokenizer_config.json (hf_export.c). */
eef_err tok_eef_export_hf(const eef_tokenizer *t, eef_buf *json, eef_buf *config);

/* ------------------------------------------------------------ UTF-8 (utf8.c) */
/* Length of the valid UTF-8 prefix of s (no surrogates, no overlongs). */
size_t tok_utf8_valid_len(const unsigned char *s, size_t n);
/* s with every invalid sequence replaced by U+FFFD, maximal subparts as the
 * WHATWG Encoding Standard's decoder does; appended to out. */
int tok_utf8_repair(const unsigned char *s, size_t n, eef_buf *out);
/* The code point at s[i..] (valid UTF-8) and its length in *len. */
uint32_t tok_utf8_decode(const unsigned char *s, size_t n, size_t i, size_t *len);
/* Appends cp as UTF-8; 0 ok, -1 out of memory. */
int tok_utf8_put(eef_buf *b, uint32_t cp);
/* NFC of valid UTF-8 s[0..n), appended to out (utf8proc). */
eef_err tok_utf8_nfc(const unsigned char *s, size_t n, eef_buf *out);
/* Unicode White_Space (Rust's char::is_whitespace, HF's lstrip/rstrip). */
int tok_uc_is_white_space(uint32_t cp);
/* Python's str.isspace (Jinja's trim and strip in chat templates). */
int tok_uc_is_py_space(uint32_t cp);
/* General category N* (Rust's char::is_numeric, HF's Digits). */
int tok_uc_is_numeric(uint32_t cp);

/* ------------------------------------------------------------ ByteLevel */
/* The GPT-2 byte <-> character map: byte b is character tok_bytelevel_cp(b)
 * (printable Latin-1 stands for itself, the other 68 bytes for U+0100..0143). */
uint32_t tok_bytelevel_cp(unsigned b);
/* The byte of a ByteLevel character, -1 for a character outside the map. */
int tok_bytelevel_byte(uint32_t cp);
/* Appends the ByteLevel form of bytes s[0..n) (UTF-8); 0 ok, -1 out of memory. */
int tok_bytelevel_encode(const unsigned char *s, size_t n, eef_buf *out);

/* ------------------------------------------------------------ regexes (hf_regex.c) */
typedef struct hf_regex hf_regex;
/* A tokenizer.json Split pattern (Oniguruma syntax, as Hugging Face runs
 * it) compiled with PCRE2; `literal`: a plain string to find. */
eef_err hf_regex_compile(const char *pattern, int literal, const char *where, hf_regex **out);
void hf_regex_free(hf_regex *r);
/* Calls fn(start, end) for each match in s[0..n), left to right, with
 * empty matches skipped.  Returns fn's first non-zero, or 0; -1 when the
 * matcher fails (out of memory, match limit). */
int hf_regex_each(const hf_regex *r, const unsigned char *s, size_t n,
                  int (*fn)(void *ctx, size_t a, size_t b), void *ctx);
/* The GPT-2 regex ByteLevel(use_regex) splits with. */
extern const char hf_gpt2_pattern[];
/* The Split regexes of Llama 3 and Qwen2 (llama.cpp's pre-tokenizers
 * "llama-bpe" and "qwen2"; hf_model.c) and of eef's words (hf_export.c). */
extern const char hf_llama3_pattern[], hf_qwen2_pattern[], hf_eef_pattern[];

/* ------------------------------------------------------------ Hugging Face BPE
 * A description of a byte-level BPE tokenizer, from a tokenizer.json with
 * its tokenizer_config.json (hf_load.c) or, in issue #20, from GGUF
 * metadata; hf_build turns it into a tokenizer.  Strings are borrowed. */
typedef enum { HF_STEP_SPLIT, HF_STEP_BYTELEVEL, HF_STEP_DIGITS } hf_step_kind;

typedef struct {
    hf_step_kind kind;
    const char *pattern;  /* SPLIT: the regex, or the plain string when literal */
    int literal;
    int add_prefix_space; /* BYTELEVEL */
    int use_regex;        /* BYTELEVEL: split with the GPT-2 regex first */
    int individual;       /* DIGITS: each digit alone (else runs of digits) */
} hf_step;

typedef struct {
    const char *content;
    int id;
    int special;    /* control token: matched only with EEF_TOK_ENC_SPECIAL */
    int lstrip, rstrip;
    int normalized; /* matched in the normalized text */
} hf_added;

typedef struct {
    const char *where;           /* names the source in messages */
    const char *config_where;    /* names the config (chat template, roles) */
    size_t n_vocab;
    const char *const *vocab;    /* token strings in the ByteLevel alphabet */
    const int *vocab_id;
    size_t n_merges;             /* in rank order */
    const char *const *merge_left, *const *merge_right;
    int ignore_merges;           /* a word in the vocabulary is one token */
    size_t n_added;
    const hf_added *added;
    int nfc;                     /* normalizer: NFC (else none) */
    size_t n_steps;              /* pre-tokenizer steps, in order; one is ByteLevel */
    const hf_step *steps;
    size_t n_prefix, n_suffix;   /* post-processor: ids before and after the text */
    const int *prefix, *suffix;
    int bos, eos, pad, add_bos;  /* roles (ids, -1: none) */
    const char *chat_template;   /* NULL: none */
    /* the files, kept for eef_tok_save and export; NULL when there are none */
    const char *src_json, *src_config;
    size_t src_json_len, src_config_len;
} hf_spec;

eef_err hf_build(const hf_spec *s, eef_tokenizer **out);

/* The built tokenizer (hf_model.c builds it, hf_encode.c runs it). */
typedef struct {
    hf_step_kind kind;
    hf_regex *re;         /* SPLIT, and BYTELEVEL's GPT-2 split when use_regex */
    int add_prefix_space;
    int individual;
    int mapped;           /* SPLIT after ByteLevel: matched on the ByteLevel form */
} hf_stage;

typedef struct {
    int id;
    uint32_t off, len;    /* content in tok_hf.pool */
    uint8_t special, lstrip, rstrip, normalized;
} hf_addtok;

typedef struct {
    eef_tokenizer base;
    char *pool;           /* every token's bytes and every added token's content */
    /* the model's vocabulary: raw bytes (the ByteLevel form decoded) */
    size_t n_vocab;
    int32_t *v_id;
    uint32_t *v_off, *v_len;
    uint32_t *v_hash;     /* bytes -> vocabulary index, open addressing, -1 empty */
    size_t v_hash_cap;
    /* added tokens */
    size_t n_added;
    hf_addtok *added;
    int32_t *a_first[2];  /* per matching pass (raw, normalized): first byte -> list start in a_list */
    int32_t *a_list[2];   /* added indices, longest first within a byte */
    int32_t *a_count[2];
    /* id -> entry: >= 0 vocabulary index, < 0 added index -1 - k */
    int32_t *id_key, *id_val;
    size_t id_cap;
    /* merges, rank order; (left, right) -> rank */
    size_t n_merges;
    int32_t *m_left, *m_right, *m_new;
    uint64_t *mh_key;
    int32_t *mh_rank;
    size_t mh_cap;
    int byte_id[256];     /* the token of each single byte */
    int ignore_merges;
    int nfc;
    size_t n_stages;
    hf_stage *stages;
    size_t n_prefix, n_suffix;
    int *prefix, *suffix;
    /* source files (EEFH, export) */
    char *src_json, *src_config;
    size_t src_json_len, src_config_len;
} tok_hf;

/* The tokenizer's entry for id: >= 0 vocabulary index, < -1 added index
 * (-2 - k), -1 none. */
int hf_entry(const tok_hf *t, int id);
/* The vocabulary index of a byte string, -1 when none. */
long hf_vocab_find(const tok_hf *t, const unsigned char *s, size_t n);
/* One pre-tokenized word's ids (bytes w[0..n); ends: src + position). */
eef_err hf_encode_word(const tok_hf *t, const unsigned char *w, size_t n, size_t src, int shift,
                       tok_out *o);
/* The encoder (hf_encode.c); `ops` of the kind (hf_model.c). */
eef_err hf_encode(const eef_tokenizer *base, const char *text, size_t len, unsigned flags, tok_out *o);
/* EEFH and the export of a Hugging Face tokenizer (hf_load.c). */
eef_err hf_save(const eef_tokenizer *t, eef_buf *out);
eef_err hf_export(const eef_tokenizer *t, eef_buf *json, eef_buf *config);
/* An "EEFH" blob (text/hf_load.c) */
eef_err hf_load_blob(const unsigned char *p, size_t len, const char *where, eef_tokenizer **out);

#endif

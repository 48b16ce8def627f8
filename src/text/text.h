/*
 * text: tokenizers behind one interface.
 *
 * Kinds of tokenizer (eef_tok_kind):
 *   - eef's own byte-level BPE, trained by eef_tok_train and saved inside
 *     every .eefm.  Ids 0..255 are the raw bytes, so every byte string is
 *     encodable and decode(encode(x)) == x for any x.  Then come the six
 *     special tokens below (fixed ids), then the learned merges in the
 *     order they were learned.
 *   - a Hugging Face tokenizer.json byte-level BPE, load only: Llama 3,
 *     Qwen2/2.5/3, SmolLM2 (docs/tokenizers.md says exactly what is read
 *     and what is refused).  With its tokenizer_config.json it knows the
 *     roles of its special tokens and its chat format.
 *   - GGUF metadata's tokenizer.ggml.* (eef_tok_load_gguf): the Hugging
 *     Face tokenizer its metadata describes (text/gguf_tok.c).
 *
 * Callers never hard-wire ids: they ask the role map (eef_tok_roles_of)
 * which id is bos, end of turn, padding or an agent-prompt delimiter, and
 * eef_tok_type for whether an id is text or a control token.  The
 * EEF_TOK_* constants below stay valid for eef's own tokenizer only.
 */
#ifndef EEF_TEXT_H
#define EEF_TEXT_H

#include "core/core.h"

/* eef's own special tokens, with fixed ids right after the 256 bytes
 * (eef's tokenizer only: for any tokenizer ask eef_tok_roles_of). */
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

typedef enum {
    EEF_TOK_KIND_EEF, /* eef's byte-level BPE */
    EEF_TOK_KIND_HF,  /* a Hugging Face tokenizer.json byte-level BPE */
} eef_tok_kind;

/* ------------------------------------------------------------ eef's own */
/* Learns merges on `text` until the vocabulary has `vocab_size` tokens
 * (>= EEF_TOK_FIRST_MERGE).  Pre-tokenization splits text into words
 * (a letter run with its leading space, digit runs, punctuation runs,
 * whitespace), merges never cross word boundaries. */
eef_err eef_tok_train(const char *text, size_t len, int vocab_size, eef_tokenizer **out);

/* ------------------------------------------------------------ Hugging Face */
/* A tokenizer.json and, when config_path is not NULL, its
 * tokenizer_config.json (bos/eos/pad tokens, add_bos_token, chat_template).
 * Anything the loader does not implement (a Unigram or WordPiece model, an
 * unknown pre-tokenizer, normalizer, decoder or post-processor,
 * byte_fallback, dropout, an unknown chat template) is refused with a
 * message naming it. */
eef_err eef_tok_load_hf(const char *tokenizer_json, const char *config_path, eef_tokenizer **out);
/* dir/tokenizer.json with dir/tokenizer_config.json when present (and its
 * chat template from dir/chat_template.jinja when the config has none). */
eef_err eef_tok_load_hf_dir(const char *dir, eef_tokenizer **out);
/* The same from bytes; `where` names them in messages ("M/tokenizer.json"). */
eef_err eef_tok_load_hf_mem(const char *json, size_t len, const char *config, size_t config_len,
                            const char *where, eef_tokenizer **out);

/* ------------------------------------------------------------ GGUF (issue #20)
 * A GGUF file's tokenizer.ggml.* metadata, as nn/ reads it from the file
 * (strings NUL-terminated copies).  Only tokenizer.ggml.model "gpt2" (a
 * byte-level BPE) is read; tokenizer.ggml.pre names the pre-tokenizer:
 * "llama-bpe", "qwen2", "smollm", "gpt-2" or "eef".  Token types (llama.cpp's):
 * 1 normal (in the ByteLevel alphabet), 3 control (a special token), 4 user
 * defined (an added token that is text), 5 unused (no token has the id).
 * The tokenizer is built as the Hugging Face one whose tokenizer.json and
 * tokenizer_config.json say the same (kept: saved in checkpoints, exported);
 * tokenizer.chat_template is recognised as for tokenizer_config.json.
 * Unknown models, pre-tokenizers, token types and templates are refused by
 * name, messages starting with `where`. */
typedef struct {
    const char *where;
    const char *model, *pre;      /* NULL: the key is absent */
    size_t n_tokens;
    const char *const *tokens;
    const int32_t *types;         /* [n_tokens], NULL: all normal */
    size_t n_merges;
    const char *const *merges;    /* "left right" */
    int bos, eos, pad;            /* ids, -1: absent */
    int add_bos, add_eos;         /* -1: absent */
    const char *chat_template;    /* NULL: none */
} eef_tok_gguf;
eef_err eef_tok_load_gguf(const eef_tok_gguf *g, eef_tokenizer **out);
/* For GGUF export: the chat template the tokenizer was loaded with
 * (malloc'd; *out NULL when it has none). */
eef_err eef_tok_chat_template(const eef_tokenizer *t, char **out);

/* Writes any tokenizer as a Hugging Face tokenizer.json and
 * tokenizer_config.json that HF tools load with the same ids: eef's own as
 * a ByteLevel BPE whose pre-tokenizer regex reproduces eef's words and
 * whose added tokens are the six specials (encodes every valid UTF-8
 * string to eef's ids; see docs/tokenizers.md); a Hugging Face one as the
 * files it was loaded from. */
eef_err eef_tok_export_hf(const eef_tokenizer *t, eef_buf *tokenizer_json, eef_buf *config_json);
eef_err eef_tok_export_hf_dir(const eef_tokenizer *t, const char *dir); /* atomic writes */
/* A Hugging Face tokenizer that is eef's own in the form eef_tok_export_hf
 * writes (pre-tokenizer "eef", the six specials at their ids, merge k
 * making id 262 + k, nothing added) as eef's own tokenizer again: the same
 * ids for every byte string, its role map and its EEFT bytes.  *out is
 * NULL for any other tokenizer; `where` names it in messages. */
eef_err eef_tok_eef_of_hf(const eef_tokenizer *t, const char *where, eef_tokenizer **out);

/* ------------------------------------------------------------ any kind */
void eef_tok_free(eef_tokenizer *t);
eef_tok_kind eef_tok_kind_of(const eef_tokenizer *t);
/* Every id is in [0, vocab size); a Hugging Face vocabulary may have holes
 * (ids no token has: eef_tok_type NONE, piece NULL). */
int eef_tok_vocab_size(const eef_tokenizer *t);

/* Encoding flags. */
enum {
    /* Special tokens written in the text ("<|eot_id|>", "<|act|>") are
     * those tokens; without it they are plain text.  (Added tokens that are
     * not special, such as Qwen3's "<think>", are always matched, as
     * Hugging Face does.) */
    EEF_TOK_ENC_SPECIAL = 1,
    /* The tokenizer's own framing: a Hugging Face post-processor's special
     * tokens (e.g. Llama 3.1's <|begin_of_text|>), eef's <|bos|> first. */
    EEF_TOK_ENC_ADD_SPECIAL = 2,
};

/* Appends the ids of text[0..len) to *ids (grown with realloc); *n is the
 * count so far and is updated; *cap is the allocated capacity.  Same as
 * eef_tok_encode_ex with flags 0.  A Hugging Face tokenizer reads text as
 * UTF-8 and encodes each invalid sequence as U+FFFD (the WHATWG decoder's
 * rule, which node's TextDecoder follows), so its decode(encode(x)) == x
 * holds for valid UTF-8 (after NFC when its normalizer is NFC); eef's own
 * encodes any bytes. */
eef_err eef_tok_encode(const eef_tokenizer *t, const char *text, size_t len,
                       int **ids, size_t *n, size_t *cap);
eef_err eef_tok_encode_ex(const eef_tokenizer *t, const char *text, size_t len, unsigned flags,
                          int **ids, size_t *n, size_t *cap);
/* Appends the bytes of ids to out (special tokens as their text).  The
 * bytes are exact: a character split across tokens is not replaced. */
eef_err eef_tok_decode(const eef_tokenizer *t, const int *ids, size_t n, eef_buf *out);
/* Bytes of one token (specials: their text, e.g. "<|act|>"); NULL for an
 * id out of range or a hole. */
const char *eef_tok_piece(const eef_tokenizer *t, int id, size_t *len);

typedef enum {
    EEF_TOKTYPE_NONE,    /* no token has this id (a hole, or out of range) */
    EEF_TOKTYPE_NORMAL,  /* text */
    EEF_TOKTYPE_CONTROL, /* a special token: bos, end of turn, an agent delimiter, ... */
    EEF_TOKTYPE_ADDED,   /* an added token that is text, not control (Qwen3's "<think>") */
} eef_tok_type;
eef_tok_type eef_tok_type_of(const eef_tokenizer *t, int id);
/* The id of the token whose text is s[0..len) (an added or special token
 * by its content, else a vocabulary entry by its bytes); -1 when none. */
int eef_tok_find(const eef_tokenizer *t, const char *s, size_t len);

/* The role map: which id plays which part (-1: this tokenizer has none). */
typedef struct {
    int bos;     /* starts a sequence */
    int eos;     /* ends a document (tokenizer_config's eos_token) */
    int eot;     /* ends a turn: where an assistant's reply stops (chat
                    format's <|eot_id|> / <|im_end|>; eef: <|end|>) */
    int pad;     /* padding, never trained on */
    /* eef's agent prompt (agent/prompt.c): before the instruction, an
     * observation, an action, and after an action.  A chat model has none
     * (-1): its agent prompt is a conversation in its chat format. */
    int instr, obs, act, act_end;
    int add_bos; /* a sequence starts with bos (tokenizer_config's add_bos_token) */
} eef_tok_roles;
const eef_tok_roles *eef_tok_roles_of(const eef_tokenizer *t);

/* The vocabulary as a tokenizer.json or GGUF file writes it (for export):
 * a normal token in the ByteLevel alphabet (byte 0x20 is "Ġ"), an added
 * or special token as its content.  0 ok, -1 for a hole or out of memory. */
int eef_tok_vocab_text(const eef_tokenizer *t, int id, eef_buf *out);
/* The merges in rank order: merge k joins ids left and right. */
size_t eef_tok_merge_count(const eef_tokenizer *t);
void eef_tok_merge_at(const eef_tokenizer *t, size_t k, int *left, int *right);
/* The pre-tokenizer by the name llama.cpp's tokenizer.ggml.pre gives it:
 * "llama-bpe" (Llama 3), "qwen2", "smollm" (Digits + GPT-2), "gpt-2",
 * "eef" (eef's words); NULL for any other. */
const char *eef_tok_pretok_name(const eef_tokenizer *t);

/* ------------------------------------------------------------ chat */
/* Chat formats, recognised from tokenizer_config.json's chat_template (no
 * Jinja engine: docs/tokenizers.md lists what each reproduces):
 *   "chatml"        <|im_start|>role\n...<|im_end|>\n (Qwen2/2.5, SmolLM2;
 *                   with the template's default system prompt, if any)
 *   "chatml-think"  ChatML with Qwen3's <think> blocks on assistant turns
 *   "llama3"        <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>
 *   "llama3.1"      the same after a system block with the knowledge date
 * eef's own tokenizer has no chat format (its agent prompt is built by
 * agent/prompt.c from the role map). */
typedef struct {
    const char *role;    /* "system", "user", "assistant" */
    const char *content; /* UTF-8 text, never read as special tokens */
} eef_chat_msg;

enum {
    EEF_CHAT_GEN_PROMPT = 1, /* end with the assistant's header (add_generation_prompt) */
    EEF_CHAT_NO_THINK = 2,   /* chatml-think: an empty <think> block after it (enable_thinking=false) */
    /* chatml-think: every assistant turn as the template renders one that
     * answers the last user message (an empty <think> block, or its
     * reasoning, before the content) and the generation prompt as with
     * EEF_CHAT_NO_THINK: each turn reads as it did when it was generated,
     * so a conversation's prompts extend each other (the agent's) */
    EEF_CHAT_THINK_EVERY = 4,
};

/* Where message i's tokens lie in an encoded conversation: its turn is
 * ids[start, end), its content ids[content, content_end) (the first and
 * one past the last token holding a byte of the content; a token may also
 * hold bytes around it when the template's text and the content merge). */
typedef struct {
    size_t start, content, content_end, end;
} eef_chat_span;

/* NULL when the tokenizer has no chat format. */
const char *eef_tok_chat_name(const eef_tokenizer *t);
/* The conversation's ids, appended to *ids as eef_tok_encode does;
 * spans (n_msgs of them, or NULL) say where each message went. */
eef_err eef_tok_chat_encode(const eef_tokenizer *t, const eef_chat_msg *msgs, size_t n_msgs,
                            unsigned flags, int **ids, size_t *n, size_t *cap, eef_chat_span *spans);
/* The same conversation as text (special tokens as their text), as the
 * template renders it. */
eef_err eef_tok_chat_text(const eef_tokenizer *t, const eef_chat_msg *msgs, size_t n_msgs,
                          unsigned flags, eef_buf *out);

/* ------------------------------------------------------------ serialized
 * Inside model checkpoints: eef's own as "EEFT" (magic, version, merges:
 * tok_io.c, unchanged since version 1); a Hugging Face one as "EEFH"
 * (magic, version, the tokenizer.json and tokenizer_config.json bytes it
 * was loaded from).  eef_tok_load reads either. */
eef_err eef_tok_save(const eef_tokenizer *t, eef_buf *out);
eef_err eef_tok_load(const void *data, size_t len, const char *where, eef_tokenizer **out);
eef_err eef_tok_save_file(const eef_tokenizer *t, const char *path);
/* An EEFT/EEFH file, a tokenizer.json (its tokenizer_config.json read from
 * beside it when there) or a Hugging Face model directory. */
eef_err eef_tok_load_file(const char *path, eef_tokenizer **out);

#endif

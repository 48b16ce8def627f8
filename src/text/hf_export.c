/* hf_export.c: eef's tokenizer as a Hugging Face tokenizer.json and
 * tokenizer_config.json, with the same ids.
 *
 * The model is a ByteLevel BPE: ids 0..255 are the bytes (in GPT-2's
 * alphabet), 256..261 the six specials (also added tokens, special), then
 * the merges in eef's order, so merge k makes id 262 + k as in eef.  The
 * pre-tokenizer is ByteLevel first (each byte becomes one character), then
 * a Split whose regex, on those characters, cuts exactly eef's words
 * (bpe.c): one character per byte is what lets it count a word's 64
 * bytes.  Alternatives, in order (Ġ is the space, [A-Z] capitals, L
 * letters = a-z and bytes >= 0x80, S whitespace bytes, P the rest):
 *   Ġ?(a capital before a capital | (a capital not before one | L){1,63|64})
 *   Ġ?[0-9]{1,63|64}        Ġ?P{1,63|64}
 *   S{1,64} before "Ġ + not S" (a run leaves its last space to the word
 *   after it) | S{1,64}
 * where the counts keep a word (its leading space included) to 64 bytes.
 * The post-processor puts <|bos|> first (EEF_TOK_ENC_ADD_SPECIAL).
 *
 * HF tokenizers read text as UTF-8 (eef repairs invalid input), so the
 * export gives eef's ids for every valid UTF-8 string; eef's own encoder
 * also takes invalid bytes.  Two merges that make the same bytes cannot
 * both be in a tokenizer.json vocabulary: such a tokenizer is refused.
 */
#include "text_internal.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#define GH "\xc4\xa0"                                          /* Ġ, the space */
#define LOWER "a-z\xc2\xa1-\xc2\xac\xc2\xae-\xc3\xbf\xc4\xa2-\xc5\x83" /* a-z, bytes >= 0x80 */
#define SPACE "\xc4\x89-\xc4\x8d" GH                           /* \t \n \v \f \r and space */
#define WORD(n) "(?:[A-Z](?=[A-Z])|(?:[A-Z](?![A-Z])|[" LOWER "]){1," n "})"
#define PUNCT "[^A-Z0-9" LOWER SPACE "]"

const char hf_eef_pattern[] =
    GH WORD("63") "|" WORD("64") "|"
    GH "[0-9]{1,63}|[0-9]{1,64}|"
    GH PUNCT "{1,63}|" PUNCT "{1,64}|"
    "[" SPACE "]{1,64}(?=" GH "[^" SPACE "])|[" SPACE "]{1,64}";

static cJSON *bytelevel_step(void)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "ByteLevel");
    cJSON_AddFalseToObject(o, "add_prefix_space");
    cJSON_AddFalseToObject(o, "trim_offsets");
    cJSON_AddFalseToObject(o, "use_regex");
    return o;
}

static cJSON *template_item(const char *kind, const char *id, int type_id)
{
    cJSON *o = cJSON_CreateObject(), *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "id", id);
    cJSON_AddNumberToObject(x, "type_id", type_id);
    cJSON_AddItemToObject(o, kind, x);
    return o;
}

/* 1 when two merged tokens have the same bytes (or a pair is merged
 * twice): a tokenizer.json cannot say that. */
static int same_bytes(const eef_tokenizer *t, int *a, int *b)
{
    int V = t->vocab;
    size_t cap = 16;
    while (cap < 2 * (size_t)V) cap *= 2;
    int *slot = malloc(cap * sizeof *slot);
    if (!slot) return -1;
    for (size_t i = 0; i < cap; i++) slot[i] = -1;
    int found = 0;
    for (int id = 0; id < V && !found; id++) {
        size_t len;
        const char *p = eef_tok_piece(t, id, &len);
        uint64_t h = 1469598103934665603ULL;
        for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
        size_t k = eef_hash64(h) & (cap - 1);
        for (; slot[k] >= 0; k = (k + 1) & (cap - 1)) {
            size_t l2;
            const char *q = eef_tok_piece(t, slot[k], &l2);
            if (l2 == len && memcmp(p, q, len) == 0) {
                *a = slot[k], *b = id;
                found = 1;
                break;
            }
        }
        slot[k] = id;
    }
    free(slot);
    return found;
}

eef_err tok_eef_export_hf(const eef_tokenizer *t, eef_buf *json, eef_buf *config)
{
    int da, db;
    int dup = same_bytes(t, &da, &db);
    if (dup < 0) return EEF_ENOMEM;
    if (dup)
        return eef_fail(EEF_EINVAL, "export: tokens %d and %d are the same bytes; a tokenizer.json "
                        "vocabulary cannot hold both", da, db);
    eef_buf s;
    eef_buf_init(&s);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddNullToObject(root, "truncation");
    cJSON_AddNullToObject(root, "padding");
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    for (int i = 0; i < EEF_TOK_N_SPECIAL; i++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "id", 256 + i);
        cJSON_AddStringToObject(a, "content", tok_eef_special_names[i]);
        cJSON_AddFalseToObject(a, "single_word");
        cJSON_AddFalseToObject(a, "lstrip");
        cJSON_AddFalseToObject(a, "rstrip");
        cJSON_AddFalseToObject(a, "normalized");
        cJSON_AddTrueToObject(a, "special");
        cJSON_AddItemToArray(added, a);
    }
    cJSON_AddNullToObject(root, "normalizer");
    cJSON *pre = cJSON_AddObjectToObject(root, "pre_tokenizer");
    cJSON_AddStringToObject(pre, "type", "Sequence");
    cJSON *steps = cJSON_AddArrayToObject(pre, "pretokenizers");
    cJSON_AddItemToArray(steps, bytelevel_step());
    cJSON *split = cJSON_CreateObject();
    cJSON_AddStringToObject(split, "type", "Split");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(split, "pattern"), "Regex", hf_eef_pattern);
    cJSON_AddStringToObject(split, "behavior", "Isolated");
    cJSON_AddFalseToObject(split, "invert");
    cJSON_AddItemToArray(steps, split);
    cJSON *post = cJSON_AddObjectToObject(root, "post_processor");
    cJSON_AddStringToObject(post, "type", "TemplateProcessing");
    cJSON *single = cJSON_AddArrayToObject(post, "single");
    cJSON_AddItemToArray(single, template_item("SpecialToken", "<|bos|>", 0));
    cJSON_AddItemToArray(single, template_item("Sequence", "A", 0));
    cJSON *pair = cJSON_AddArrayToObject(post, "pair");
    cJSON_AddItemToArray(pair, template_item("SpecialToken", "<|bos|>", 0));
    cJSON_AddItemToArray(pair, template_item("Sequence", "A", 0));
    cJSON_AddItemToArray(pair, template_item("Sequence", "B", 1));
    cJSON *sp = cJSON_AddObjectToObject(cJSON_AddObjectToObject(post, "special_tokens"), "<|bos|>");
    cJSON_AddStringToObject(sp, "id", "<|bos|>");
    cJSON_AddItemToObject(sp, "ids", cJSON_CreateIntArray((const int[]){ EEF_TOK_BOS }, 1));
    cJSON_AddItemToObject(sp, "tokens", cJSON_CreateStringArray((const char *const[]){ "<|bos|>" }, 1));
    cJSON_AddItemToObject(root, "decoder", bytelevel_step());
    cJSON *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddNullToObject(model, "dropout");
    cJSON_AddNullToObject(model, "unk_token");
    cJSON_AddNullToObject(model, "continuing_subword_prefix");
    cJSON_AddNullToObject(model, "end_of_word_suffix");
    cJSON_AddFalseToObject(model, "fuse_unk");
    cJSON_AddFalseToObject(model, "byte_fallback");
    cJSON_AddFalseToObject(model, "ignore_merges");
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
    int oom = !root || !vocab;
    for (int id = 0; !oom && id < t->vocab; id++) {
        eef_buf_clear(&s);
        oom |= eef_tok_vocab_text(t, id, &s) != 0 || eef_buf_append(&s, "", 1) != 0;
        if (!oom) oom |= !cJSON_AddNumberToObject(vocab, s.data, id);
    }
    cJSON *merges = cJSON_AddArrayToObject(model, "merges");
    size_t nm = eef_tok_merge_count(t);
    for (size_t k = 0; !oom && k < nm; k++) {
        int l, r;
        eef_tok_merge_at(t, k, &l, &r);
        cJSON *m = cJSON_CreateArray();
        for (int q = 0; q < 2 && !oom; q++) {
            eef_buf_clear(&s);
            oom |= eef_tok_vocab_text(t, q ? r : l, &s) != 0 || eef_buf_append(&s, "", 1) != 0;
            if (!oom) cJSON_AddItemToArray(m, cJSON_CreateString(s.data));
        }
        cJSON_AddItemToArray(merges, m);
    }
    char *text = oom ? NULL : cJSON_Print(root);
    cJSON_Delete(root);
    eef_buf_free(&s);
    if (!text) return eef_fail(EEF_ENOMEM, "out of memory exporting the tokenizer");
    oom = eef_buf_puts(json, text) || eef_buf_puts(json, "\n");
    cJSON_free(text);
    cJSON *cfg = cJSON_CreateObject();
    cJSON_AddStringToObject(cfg, "tokenizer_class", "PreTrainedTokenizerFast");
    cJSON_AddStringToObject(cfg, "bos_token", "<|bos|>");
    cJSON_AddStringToObject(cfg, "eos_token", "<|end|>");
    cJSON_AddStringToObject(cfg, "pad_token", "<|pad|>");
    cJSON_AddTrueToObject(cfg, "add_bos_token");
    cJSON_AddFalseToObject(cfg, "clean_up_tokenization_spaces");
    cJSON_AddItemToObject(cfg, "additional_special_tokens",
                          cJSON_CreateStringArray(tok_eef_special_names + 1, 3));
    text = cJSON_Print(cfg);
    cJSON_Delete(cfg);
    if (!text) return eef_fail(EEF_ENOMEM, "out of memory exporting the tokenizer");
    oom |= eef_buf_puts(config, text) || eef_buf_puts(config, "\n");
    cJSON_free(text);
    return oom ? eef_fail(EEF_ENOMEM, "out of memory exporting the tokenizer") : EEF_OK;
}

/* The inverse, for a tokenizer.json read back: the checks are what
 * tok_eef_export_hf writes (a file edited in any way that changes how it
 * encodes stays a Hugging Face tokenizer); eef_tok_load then validates the
 * merges as it does any EEFT. */
static int is_eef_form(const tok_hf *t)
{
    const eef_tokenizer *b = &t->base;
    if (b->kind != EEF_TOK_KIND_HF || !b->pretok_name || strcmp(b->pretok_name, "eef") != 0 ||
        t->nfc || t->ignore_merges || b->chat.family != CHAT_NONE || t->n_suffix != 0 ||
        t->n_prefix != 1 || t->prefix[0] != EEF_TOK_BOS || t->n_added != EEF_TOK_N_SPECIAL ||
        t->n_merges > (1u << 20) || (size_t)b->vocab != EEF_TOK_FIRST_MERGE + t->n_merges)
        return 0;
    for (int i = 0; i < 256; i++)
        if (t->byte_id[i] != i) return 0;
    unsigned seen = 0; /* each special once, at its id */
    for (size_t i = 0; i < t->n_added; i++) {
        const hf_addtok *a = &t->added[i];
        if (a->id < 256 || a->id >= EEF_TOK_FIRST_MERGE || (seen >> (a->id - 256) & 1)) return 0;
        seen |= 1u << (a->id - 256);
        const char *name = tok_eef_special_names[a->id - 256];
        if (!a->special || a->lstrip || a->rstrip || a->len != strlen(name) ||
            memcmp(t->pool + a->off, name, a->len) != 0)
            return 0;
    }
    for (size_t k = 0; k < t->n_merges; k++)
        if (t->m_new[k] != EEF_TOK_FIRST_MERGE + (int32_t)k) return 0;
    return 1;
}

eef_err eef_tok_eef_of_hf(const eef_tokenizer *t, const char *where, eef_tokenizer **out)
{
    *out = NULL;
    if (t->kind != EEF_TOK_KIND_HF || !is_eef_form((const tok_hf *)t)) return EEF_OK;
    const tok_hf *h = (const tok_hf *)t;
    uint32_t hdr[3] = { 1, (uint32_t)t->vocab, (uint32_t)h->n_merges };
    eef_buf b;
    eef_buf_init(&b);
    int oom = eef_buf_append(&b, "EEFT", 4) || eef_buf_append(&b, hdr, sizeof hdr);
    for (size_t k = 0; !oom && k < h->n_merges; k++) {
        int32_t pair[2] = { h->m_left[k], h->m_right[k] };
        oom = eef_buf_append(&b, pair, sizeof pair);
    }
    uint32_t crc = oom ? 0 : eef_crc32(0, b.data, b.len);
    oom = oom || eef_buf_append(&b, &crc, 4);
    eef_err e = oom ? EEF_ENOMEM : eef_tok_load(b.data, b.len, where, out);
    eef_buf_free(&b);
    return e;
}

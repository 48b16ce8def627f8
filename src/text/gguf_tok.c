/* gguf_tok.c: a GGUF file's tokenizer (tokenizer.ggml.*) as the Hugging
 * Face tokenizer it describes.
 *
 * llama.cpp's converter writes a Hugging Face byte-level BPE into GGUF as
 * a dense token list (ids 0..n-1) with a type per token, the merges as
 * "left right" strings, the role ids, and the pre-tokenizer by a name
 * (tokenizer.ggml.pre) standing for a regex it hard-codes.  Here the
 * reverse: the tokenizer.json and tokenizer_config.json that say the same
 * are written and loaded by hf_load.c, so one loader validates both
 * sources and the result is saved (EEFH) and exported like any Hugging
 * Face tokenizer.
 *
 *   normal tokens (type 1)        model.vocab
 *   control (3), user defined (4) added_tokens, special true / false
 *   unused (5)                    no token: a hole in the ids
 *   pre "llama-bpe" / "qwen2"     Split(Llama 3's / Qwen2's regex) + ByteLevel
 *                                 (llama-bpe: ignore_merges, as llama.cpp)
 *   pre "smollm"                  Digits(individual) + ByteLevel(GPT-2 regex)
 *   pre "gpt-2"                   ByteLevel(GPT-2 regex)
 *   pre "eef"                     ByteLevel + Split(eef's words)
 *   add_bos_token / add_eos_token TemplateProcessing [bos] $A [eos]
 */
#include "text_internal.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };

static cJSON *step_bytelevel(int use_regex)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "ByteLevel");
    cJSON_AddFalseToObject(o, "add_prefix_space");
    cJSON_AddFalseToObject(o, "trim_offsets");
    cJSON_AddBoolToObject(o, "use_regex", use_regex);
    return o;
}

static cJSON *step_split(const char *pattern)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "Split");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "pattern"), "Regex", pattern);
    cJSON_AddStringToObject(o, "behavior", "Isolated");
    cJSON_AddFalseToObject(o, "invert");
    return o;
}

static cJSON *sequence(cJSON *a, cJSON *b)
{
    cJSON *o = cJSON_CreateObject(), *l = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "type", "Sequence");
    cJSON_AddItemToArray(l, a);
    cJSON_AddItemToArray(l, b);
    cJSON_AddItemToObject(o, "pretokenizers", l);
    return o;
}

/* The pre-tokenizer llama.cpp names `pre`; NULL when eef does not know it. */
static cJSON *pretok_of(const char *pre)
{
    if (strcmp(pre, "llama-bpe") == 0) return sequence(step_split(hf_llama3_pattern), step_bytelevel(0));
    if (strcmp(pre, "qwen2") == 0) return sequence(step_split(hf_qwen2_pattern), step_bytelevel(0));
    if (strcmp(pre, "gpt-2") == 0) return step_bytelevel(1);
    if (strcmp(pre, "eef") == 0) return sequence(step_bytelevel(0), step_split(hf_eef_pattern));
    if (strcmp(pre, "smollm") == 0) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "type", "Digits");
        cJSON_AddTrueToObject(d, "individual_digits");
        return sequence(d, step_bytelevel(1));
    }
    return NULL;
}

static cJSON *template_item(const char *kind, const char *id)
{
    cJSON *o = cJSON_CreateObject(), *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "id", id);
    cJSON_AddNumberToObject(x, "type_id", 0);
    cJSON_AddItemToObject(o, kind, x);
    return o;
}

/* [bos] $A [eos] as a TemplateProcessing post-processor. */
static cJSON *post_of(const eef_tok_gguf *g, int bos, int eos)
{
    cJSON *p = cJSON_CreateObject(), *single = cJSON_CreateArray(), *sp = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "type", "TemplateProcessing");
    int ids[2] = { bos, eos };
    for (int i = 0; i < 2; i++) {
        if (i == 1) cJSON_AddItemToArray(single, template_item("Sequence", "A"));
        if (ids[i] < 0) continue;
        const char *name = g->tokens[ids[i]];
        cJSON_AddItemToArray(single, template_item("SpecialToken", name));
        cJSON *e = cJSON_CreateObject(), *il = cJSON_CreateArray(), *tl = cJSON_CreateArray();
        cJSON_AddStringToObject(e, "id", name);
        cJSON_AddItemToArray(il, cJSON_CreateNumber(ids[i]));
        cJSON_AddItemToArray(tl, cJSON_CreateString(name));
        cJSON_AddItemToObject(e, "ids", il);
        cJSON_AddItemToObject(e, "tokens", tl);
        cJSON_AddItemToObject(sp, name, e);
    }
    cJSON_AddItemToObject(p, "single", single);
    cJSON_AddItemToObject(p, "special_tokens", sp);
    return p;
}

static eef_err role_ok(const eef_tok_gguf *g, int id, const char *what)
{
    if (id < 0) return EEF_OK;
    if ((size_t)id >= g->n_tokens)
        return eef_fail(EEF_EFORMAT, "%s: tokenizer.ggml.%s %d is not below the %zu tokens", g->where,
                        what, id, g->n_tokens);
    if (g->types && g->types[id] == TT_UNUSED)
        return eef_fail(EEF_EFORMAT, "%s: tokenizer.ggml.%s %d is an unused token", g->where, what, id);
    return EEF_OK;
}

eef_err eef_tok_load_gguf(const eef_tok_gguf *g, eef_tokenizer **out)
{
    *out = NULL;
    if (!g->model)
        return eef_fail(EEF_EFORMAT, "%s: no tokenizer.ggml.model (the file has no tokenizer)", g->where);
    if (strcmp(g->model, "gpt2") != 0)
        return eef_fail(EEF_EFORMAT, "%s: tokenizer.ggml.model '%.40s' is not supported (eef reads "
                        "gpt2, a byte-level BPE)", g->where, g->model);
    if (!g->pre)
        return eef_fail(EEF_EFORMAT, "%s: no tokenizer.ggml.pre (eef needs the pre-tokenizer's name)",
                        g->where);
    if (g->n_tokens == 0 || g->n_tokens > (1u << 20))
        return eef_fail(EEF_EFORMAT, "%s: %zu tokens", g->where, g->n_tokens);
    cJSON *pre = pretok_of(g->pre);
    if (!pre)
        return eef_fail(EEF_EFORMAT, "%s: tokenizer.ggml.pre '%.40s' is not supported (llama-bpe, "
                        "qwen2, smollm, gpt-2, eef)", g->where, g->pre);
    eef_err e = EEF_OK;
    for (int r = 0; !e && r < 3; r++)
        e = role_ok(g, r == 0 ? g->bos : r == 1 ? g->eos : g->pad,
                    r == 0 ? "bos_token_id" : r == 1 ? "eos_token_id" : "padding_token_id");
    int add_bos = g->add_bos == 1 && g->bos >= 0, add_eos = g->add_eos == 1 && g->eos >= 0;
    if (!e && g->add_bos == 1 && g->bos < 0)
        e = eef_fail(EEF_EFORMAT, "%s: add_bos_token without a bos_token_id", g->where);
    cJSON *root = cJSON_CreateObject(), *cfg = cJSON_CreateObject();
    cJSON *added = cJSON_CreateArray(), *model = cJSON_CreateObject(), *vocab = cJSON_CreateObject();
    cJSON *merges = cJSON_CreateArray();
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddNullToObject(root, "truncation");
    cJSON_AddNullToObject(root, "padding");
    for (size_t i = 0; !e && i < g->n_tokens; i++) {
        int t = g->types ? g->types[i] : TT_NORMAL;
        if (t == TT_NORMAL) {
            cJSON_AddItemToObject(vocab, g->tokens[i], cJSON_CreateNumber((double)i));
        } else if (t == TT_CONTROL || t == TT_USER) {
            cJSON *a = cJSON_CreateObject();
            cJSON_AddNumberToObject(a, "id", (double)i);
            cJSON_AddStringToObject(a, "content", g->tokens[i]);
            cJSON_AddFalseToObject(a, "single_word");
            cJSON_AddFalseToObject(a, "lstrip");
            cJSON_AddFalseToObject(a, "rstrip");
            cJSON_AddFalseToObject(a, "normalized");
            cJSON_AddBoolToObject(a, "special", t == TT_CONTROL);
            cJSON_AddItemToArray(added, a);
        } else if (t != TT_UNUSED) {
            e = eef_fail(EEF_EFORMAT, "%s: token %zu has type %d (%s), which a gpt2 tokenizer does "
                         "not have", g->where, i, t,
                         t == TT_UNKNOWN ? "unknown" : t == TT_BYTE ? "byte" : "not a token type");
        }
    }
    for (size_t k = 0; !e && k < g->n_merges; k++) cJSON_AddItemToArray(merges, cJSON_CreateString(g->merges[k]));
    cJSON_AddItemToObject(root, "added_tokens", added);
    cJSON_AddNullToObject(root, "normalizer");
    cJSON_AddItemToObject(root, "pre_tokenizer", pre);
    if (!e && (add_bos || add_eos)) cJSON_AddItemToObject(root, "post_processor", post_of(g, add_bos ? g->bos : -1, add_eos ? g->eos : -1));
    else cJSON_AddNullToObject(root, "post_processor");
    cJSON *dec = cJSON_CreateObject();
    cJSON_AddStringToObject(dec, "type", "ByteLevel");
    cJSON_AddItemToObject(root, "decoder", dec);
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddNullToObject(model, "dropout");
    cJSON_AddNullToObject(model, "unk_token");
    cJSON_AddFalseToObject(model, "fuse_unk");
    cJSON_AddFalseToObject(model, "byte_fallback");
    /* llama.cpp takes a word in the vocabulary as one token for Llama 3
     * (its tokenizer.json says ignore_merges) */
    cJSON_AddBoolToObject(model, "ignore_merges", strcmp(g->pre, "llama-bpe") == 0);
    cJSON_AddItemToObject(model, "vocab", vocab);
    cJSON_AddItemToObject(model, "merges", merges);
    cJSON_AddItemToObject(root, "model", model);
    /* the config: roles and the chat template */
    const char *keys[3] = { "bos_token", "eos_token", "pad_token" };
    int ids[3] = { g->bos, g->eos, g->pad };
    for (int r = 0; r < 3; r++)
        if (ids[r] >= 0) cJSON_AddStringToObject(cfg, keys[r], g->tokens[ids[r]]);
    cJSON_AddBoolToObject(cfg, "add_bos_token", add_bos);
    if (g->chat_template) cJSON_AddStringToObject(cfg, "chat_template", g->chat_template);
    char *json = e ? NULL : cJSON_PrintUnformatted(root), *config = e ? NULL : cJSON_Print(cfg);
    cJSON_Delete(root);
    cJSON_Delete(cfg);
    if (!e && (!json || !config)) e = EEF_ENOMEM;
    if (!e) {
        char where[600];
        snprintf(where, sizeof where, "%s: tokenizer", g->where);
        e = eef_tok_load_hf_mem(json, strlen(json), config, strlen(config), where, out);
    }
    free(json);
    free(config);
    return e;
}

eef_err eef_tok_chat_template(const eef_tokenizer *t, char **out)
{
    *out = NULL;
    if (t->kind != EEF_TOK_KIND_HF) return EEF_OK;
    const tok_hf *h = (const tok_hf *)t;
    if (!h->src_config || !h->src_config_len) return EEF_OK;
    cJSON *cfg;
    EEF_TRY(eef_json_parse(h->src_config, h->src_config_len, "tokenizer_config.json", &cfg));
    const cJSON *tp = cJSON_GetObjectItemCaseSensitive(cfg, "chat_template"), *x;
    const char *s = cJSON_IsString(tp) ? tp->valuestring : NULL;
    if (cJSON_IsArray(tp))
        cJSON_ArrayForEach(x, tp)
        {
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(x, "name"),
                        *v = cJSON_GetObjectItemCaseSensitive(x, "template");
            if (cJSON_IsString(nm) && strcmp(nm->valuestring, "default") == 0 && cJSON_IsString(v))
                s = v->valuestring;
        }
    eef_err e = EEF_OK;
    if (s && !(*out = eef_strdup(s))) e = EEF_ENOMEM;
    cJSON_Delete(cfg);
    return e;
}

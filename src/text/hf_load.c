/* hf_load.c: tokenizer.json + tokenizer_config.json -> hf_spec -> a
 * tokenizer; and a Hugging Face tokenizer's serialized form.
 *
 * What is read (everything else a file may say is refused by name, so
 * eef never encodes differently from the file's meaning in silence):
 *   version        "1.0"
 *   model          BPE: vocab, merges ("a b" strings or ["a", "b"] pairs),
 *                  ignore_merges; dropout null, byte_fallback false,
 *                  continuing_subword_prefix / end_of_word_suffix empty;
 *                  unk_token and fuse_unk are accepted and never used (all
 *                  256 bytes have tokens, so nothing is unknown)
 *   normalizer     null, NFC, or a Sequence of those
 *   pre_tokenizer  Split (Regex or String, behavior Isolated, invert
 *                  either: with Isolated both sides are kept alike),
 *                  ByteLevel, Digits, or a Sequence of those
 *   post_processor null, ByteLevel, TemplateProcessing (its "single"
 *                  template: special tokens around $A), or a Sequence
 *   decoder        ByteLevel
 *   added_tokens   content, id, special, lstrip, rstrip, normalized;
 *                  single_word must be false
 *   truncation     null (padding is ignored: it only pads batches)
 * tokenizer_config.json: bos_token, eos_token, pad_token (a string or
 * {"content": ...}), add_bos_token, chat_template (a string or the
 * "default" of a list).
 *
 * Serialized form, inside checkpoints:
 *   "EEFH" u32 version=1, u32 json_len, u32 config_len, the tokenizer.json
 *   bytes, the tokenizer_config.json bytes, u32 CRC-32 of everything before
 * little-endian.
 */
#include "text_internal.h"

#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define EEFH_VERSION 1

typedef struct {
    const char *where;
    eef_arena arena;      /* strings split out of "a b" merges */
    const char **vocab;
    int *vocab_id;
    const char **ml, **mr;
    hf_added *added;
    hf_step *steps;
    size_t n_steps, cap_steps;
    int *prefix, *suffix;
    size_t n_prefix, n_suffix;
    int have_template;    /* a TemplateProcessing was read */
} loader;

static void loader_free(loader *L)
{
    eef_arena_free(&L->arena);
    free(L->vocab), free(L->vocab_id), free(L->ml), free(L->mr);
    free(L->added), free(L->steps), free(L->prefix), free(L->suffix);
}

static const char *type_of(const cJSON *o)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

static const cJSON *get(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

/* A boolean field; absent or null takes `dflt`. */
static eef_err get_bool(const cJSON *o, const char *k, int dflt, const char *where, const char *what, int *out)
{
    const cJSON *v = get(o, k);
    if (!v || cJSON_IsNull(v)) {
        *out = dflt;
        return EEF_OK;
    }
    if (!cJSON_IsBool(v)) return eef_fail(EEF_EFORMAT, "%s: %s.%s is not a boolean", where, what, k);
    *out = cJSON_IsTrue(v);
    return EEF_OK;
}

static eef_err get_id(const cJSON *v, const char *where, const char *what, int *out)
{
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble) ||
        v->valuedouble < 0 || v->valuedouble >= (double)(1 << 24))
        return eef_fail(EEF_EFORMAT, "%s: %s is not an id in [0, 2^24)", where, what);
    *out = (int)v->valuedouble;
    return EEF_OK;
}

static eef_err unsupported(const char *where, const char *what, const char *name)
{
    return eef_fail(EEF_EFORMAT, "%s: %s %s is not supported (docs/tokenizers.md lists what eef reads)",
                    where, what, name ? name : "(no type)");
}

/* ------------------------------------------------------------ sections */
static eef_err read_normalizer(const cJSON *n, const char *where, int depth, int *nfc)
{
    if (!n || cJSON_IsNull(n)) return EEF_OK;
    if (depth > 8) return eef_fail(EEF_EFORMAT, "%s: normalizers nested too deep", where);
    const char *ty = type_of(n);
    if (ty && strcmp(ty, "NFC") == 0) {
        *nfc = 1;
        return EEF_OK;
    }
    if (ty && strcmp(ty, "Sequence") == 0) {
        const cJSON *list = get(n, "normalizers"), *x;
        if (!cJSON_IsArray(list)) return eef_fail(EEF_EFORMAT, "%s: normalizer Sequence without a list", where);
        cJSON_ArrayForEach(x, list) EEF_TRY(read_normalizer(x, where, depth + 1, nfc));
        return EEF_OK;
    }
    return unsupported(where, "normalizer", ty);
}

static eef_err push_step(loader *L, hf_step s)
{
    if (L->n_steps == L->cap_steps) {
        size_t c = L->cap_steps ? 2 * L->cap_steps : 4;
        if (c > 64) return eef_fail(EEF_EFORMAT, "%s: more than 64 pre-tokenizer steps", L->where);
        hf_step *p = eef_realloc(L->steps, c * sizeof *p);
        if (!p) return EEF_ENOMEM;
        L->steps = p, L->cap_steps = c;
    }
    L->steps[L->n_steps++] = s;
    return EEF_OK;
}

static eef_err read_pretok(loader *L, const cJSON *p, int depth)
{
    const char *where = L->where;
    if (!p || cJSON_IsNull(p)) return EEF_OK;
    if (depth > 8) return eef_fail(EEF_EFORMAT, "%s: pre-tokenizers nested too deep", where);
    const char *ty = type_of(p);
    if (!ty) return unsupported(where, "pre_tokenizer", NULL);
    if (strcmp(ty, "Sequence") == 0) {
        const cJSON *list = get(p, "pretokenizers"), *x;
        if (!cJSON_IsArray(list)) return eef_fail(EEF_EFORMAT, "%s: pre_tokenizer Sequence without a list", where);
        cJSON_ArrayForEach(x, list) EEF_TRY(read_pretok(L, x, depth + 1));
        return EEF_OK;
    }
    hf_step s = { 0 };
    if (strcmp(ty, "Split") == 0) {
        s.kind = HF_STEP_SPLIT;
        const cJSON *pat = get(p, "pattern"), *re = pat ? get(pat, "Regex") : NULL,
                    *str = pat ? get(pat, "String") : NULL;
        if (cJSON_IsString(re)) s.pattern = re->valuestring;
        else if (cJSON_IsString(str)) s.pattern = str->valuestring, s.literal = 1;
        else return eef_fail(EEF_EFORMAT, "%s: Split has no Regex or String pattern", where);
        const cJSON *beh = get(p, "behavior");
        if (!cJSON_IsString(beh) || strcmp(beh->valuestring, "Isolated") != 0)
            return unsupported(where, "Split behavior", cJSON_IsString(beh) ? beh->valuestring : NULL);
        int inv;
        EEF_TRY(get_bool(p, "invert", 0, where, "Split", &inv)); /* Isolated keeps both sides */
        return push_step(L, s);
    }
    if (strcmp(ty, "ByteLevel") == 0) {
        s.kind = HF_STEP_BYTELEVEL;
        /* the two libraries' defaults differ: only explicit values are read */
        if (!cJSON_IsBool(get(p, "add_prefix_space")) || !cJSON_IsBool(get(p, "use_regex")))
            return eef_fail(EEF_EFORMAT, "%s: ByteLevel without add_prefix_space and use_regex", where);
        s.add_prefix_space = cJSON_IsTrue(get(p, "add_prefix_space"));
        s.use_regex = cJSON_IsTrue(get(p, "use_regex"));
        return push_step(L, s); /* trim_offsets only moves offsets */
    }
    if (strcmp(ty, "Digits") == 0) {
        s.kind = HF_STEP_DIGITS;
        EEF_TRY(get_bool(p, "individual_digits", 0, where, "Digits", &s.individual));
        return push_step(L, s);
    }
    return unsupported(where, "pre_tokenizer", ty);
}

static eef_err read_decoder(const cJSON *d, const char *where)
{
    const char *ty = d && !cJSON_IsNull(d) ? type_of(d) : NULL;
    if (ty && strcmp(ty, "ByteLevel") == 0) return EEF_OK;
    return unsupported(where, "decoder", d && !cJSON_IsNull(d) ? ty : "null");
}

/* The id of a token named in a template: its special_tokens entry, else
 * the added token or vocabulary entry with that text. */
static eef_err template_id(loader *L, const cJSON *root, const cJSON *tp, const char *name, int *out)
{
    const cJSON *sp = get(get(tp, "special_tokens"), name);
    if (sp) {
        const cJSON *ids = get(sp, "ids");
        if (!cJSON_IsArray(ids) || cJSON_GetArraySize(ids) != 1)
            return eef_fail(EEF_EFORMAT, "%s: post_processor special token %s must have one id", L->where, name);
        return get_id(cJSON_GetArrayItem(ids, 0), L->where, "a post_processor special token id", out);
    }
    const cJSON *x;
    cJSON_ArrayForEach(x, get(root, "added_tokens"))
    {
        const cJSON *c = get(x, "content");
        if (cJSON_IsString(c) && strcmp(c->valuestring, name) == 0)
            return get_id(get(x, "id"), L->where, "an added token's id", out);
    }
    const cJSON *v = get(get(get(root, "model"), "vocab"), name);
    if (v) return get_id(v, L->where, "a vocabulary id", out);
    return eef_fail(EEF_EFORMAT, "%s: post_processor adds %s, which is not a token", L->where, name);
}

static eef_err push_id(int **v, size_t *n, int id, const char *where)
{
    if (*n >= 16) return eef_fail(EEF_EFORMAT, "%s: post_processor adds more than 16 tokens", where);
    int *p = eef_realloc(*v, (*n + 1) * sizeof(int));
    if (!p) return EEF_ENOMEM;
    p[(*n)++] = id;
    *v = p;
    return EEF_OK;
}

static eef_err read_post(loader *L, const cJSON *root, const cJSON *p, int depth)
{
    const char *where = L->where;
    if (!p || cJSON_IsNull(p)) return EEF_OK;
    if (depth > 8) return eef_fail(EEF_EFORMAT, "%s: post-processors nested too deep", where);
    const char *ty = type_of(p);
    if (ty && strcmp(ty, "ByteLevel") == 0) return EEF_OK; /* offsets only */
    if (ty && strcmp(ty, "Sequence") == 0) {
        const cJSON *list = get(p, "processors"), *x;
        if (!cJSON_IsArray(list)) return eef_fail(EEF_EFORMAT, "%s: post_processor Sequence without a list", where);
        cJSON_ArrayForEach(x, list) EEF_TRY(read_post(L, root, x, depth + 1));
        return EEF_OK;
    }
    if (ty && strcmp(ty, "TemplateProcessing") == 0) {
        if (L->have_template) return eef_fail(EEF_EFORMAT, "%s: two TemplateProcessing post-processors", where);
        L->have_template = 1;
        const cJSON *single = get(p, "single"), *x;
        if (!cJSON_IsArray(single)) return eef_fail(EEF_EFORMAT, "%s: TemplateProcessing without 'single'", where);
        int seen_a = 0;
        cJSON_ArrayForEach(x, single)
        {
            const cJSON *st = get(x, "SpecialToken"), *sq = get(x, "Sequence");
            if (st) {
                const cJSON *id = get(st, "id");
                if (!cJSON_IsString(id)) return eef_fail(EEF_EFORMAT, "%s: SpecialToken without an id", where);
                int v;
                EEF_TRY(template_id(L, root, p, id->valuestring, &v));
                if (seen_a) EEF_TRY(push_id(&L->suffix, &L->n_suffix, v, where));
                else EEF_TRY(push_id(&L->prefix, &L->n_prefix, v, where));
            } else if (sq) {
                const cJSON *id = get(sq, "id");
                if (!cJSON_IsString(id) || strcmp(id->valuestring, "A") != 0 || seen_a)
                    return eef_fail(EEF_EFORMAT, "%s: TemplateProcessing's single template must hold $A once", where);
                seen_a = 1;
            } else {
                return eef_fail(EEF_EFORMAT, "%s: TemplateProcessing item is neither SpecialToken nor Sequence", where);
            }
        }
        if (!seen_a) return eef_fail(EEF_EFORMAT, "%s: TemplateProcessing's single template has no $A", where);
        return EEF_OK;
    }
    return unsupported(where, "post_processor", ty);
}

static eef_err read_model(loader *L, const cJSON *m, hf_spec *s)
{
    const char *where = L->where;
    if (!cJSON_IsObject(m)) return eef_fail(EEF_EFORMAT, "%s: no model", where);
    const char *ty = type_of(m);
    if (!ty || strcmp(ty, "BPE") != 0) return unsupported(where, "model", ty);
    const cJSON *d = get(m, "dropout");
    if (d && !cJSON_IsNull(d) && !(cJSON_IsNumber(d) && d->valuedouble == 0))
        return eef_fail(EEF_EFORMAT, "%s: BPE dropout is not supported (it samples)", where);
    int bf, fuse;
    EEF_TRY(get_bool(m, "byte_fallback", 0, where, "model", &bf));
    if (bf) return eef_fail(EEF_EFORMAT, "%s: BPE byte_fallback (SentencePiece-style BPE) is not supported", where);
    EEF_TRY(get_bool(m, "fuse_unk", 0, where, "model", &fuse));
    EEF_TRY(get_bool(m, "ignore_merges", 0, where, "model", &s->ignore_merges));
    const char *aff[2] = { "continuing_subword_prefix", "end_of_word_suffix" };
    for (int i = 0; i < 2; i++) {
        const cJSON *v = get(m, aff[i]);
        if (v && !cJSON_IsNull(v) && !(cJSON_IsString(v) && !*v->valuestring))
            return eef_fail(EEF_EFORMAT, "%s: BPE %s is not supported", where, aff[i]);
    }
    const cJSON *u = get(m, "unk_token");
    if (u && !cJSON_IsNull(u) && !cJSON_IsString(u))
        return eef_fail(EEF_EFORMAT, "%s: unk_token is not a string", where);
    /* vocabulary */
    const cJSON *vocab = get(m, "vocab"), *x;
    if (!cJSON_IsObject(vocab)) return eef_fail(EEF_EFORMAT, "%s: model.vocab is not an object", where);
    size_t nv = (size_t)cJSON_GetArraySize(vocab);
    L->vocab = eef_malloc((nv + 1) * sizeof *L->vocab);
    L->vocab_id = eef_malloc((nv + 1) * sizeof *L->vocab_id);
    if (!L->vocab || !L->vocab_id) return EEF_ENOMEM;
    size_t k = 0;
    cJSON_ArrayForEach(x, vocab)
    {
        L->vocab[k] = x->string;
        EEF_TRY(get_id(x, where, "a vocabulary id", &L->vocab_id[k]));
        k++;
    }
    s->n_vocab = k, s->vocab = L->vocab, s->vocab_id = L->vocab_id;
    /* merges */
    const cJSON *merges = get(m, "merges");
    if (!cJSON_IsArray(merges)) return eef_fail(EEF_EFORMAT, "%s: model.merges is not an array", where);
    size_t nm = (size_t)cJSON_GetArraySize(merges);
    L->ml = eef_malloc((nm + 1) * sizeof *L->ml);
    L->mr = eef_malloc((nm + 1) * sizeof *L->mr);
    if (!L->ml || !L->mr) return EEF_ENOMEM;
    k = 0;
    cJSON_ArrayForEach(x, merges)
    {
        if (cJSON_IsString(x)) {
            const char *sp = strchr(x->valuestring, ' ');
            if (!sp || sp == x->valuestring || !sp[1] || strchr(sp + 1, ' '))
                return eef_fail(EEF_EFORMAT, "%s: merge %zu \"%.40s\" is not two tokens", where, k, x->valuestring);
            L->ml[k] = eef_arena_strndup(&L->arena, x->valuestring, (size_t)(sp - x->valuestring));
            L->mr[k] = sp + 1;
            if (!L->ml[k]) return EEF_ENOMEM;
        } else if (cJSON_IsArray(x) && cJSON_GetArraySize(x) == 2 && cJSON_IsString(cJSON_GetArrayItem(x, 0)) &&
                   cJSON_IsString(cJSON_GetArrayItem(x, 1))) {
            L->ml[k] = cJSON_GetArrayItem(x, 0)->valuestring;
            L->mr[k] = cJSON_GetArrayItem(x, 1)->valuestring;
        } else {
            return eef_fail(EEF_EFORMAT, "%s: merge %zu is neither \"a b\" nor [\"a\", \"b\"]", where, k);
        }
        k++;
    }
    s->n_merges = k, s->merge_left = L->ml, s->merge_right = L->mr;
    return EEF_OK;
}

static eef_err read_added(loader *L, const cJSON *list, hf_spec *s)
{
    const char *where = L->where;
    if (!list || cJSON_IsNull(list)) return EEF_OK;
    if (!cJSON_IsArray(list)) return eef_fail(EEF_EFORMAT, "%s: added_tokens is not an array", where);
    size_t n = (size_t)cJSON_GetArraySize(list), k = 0;
    L->added = eef_calloc(n + 1, sizeof *L->added);
    if (!L->added) return EEF_ENOMEM;
    const cJSON *x;
    cJSON_ArrayForEach(x, list)
    {
        hf_added *a = &L->added[k];
        const cJSON *c = get(x, "content");
        if (!cJSON_IsString(c)) return eef_fail(EEF_EFORMAT, "%s: added token %zu has no content", where, k);
        a->content = c->valuestring;
        EEF_TRY(get_id(get(x, "id"), where, "an added token's id", &a->id));
        int sw;
        EEF_TRY(get_bool(x, "special", 0, where, "added token", &a->special));
        EEF_TRY(get_bool(x, "lstrip", 0, where, "added token", &a->lstrip));
        EEF_TRY(get_bool(x, "rstrip", 0, where, "added token", &a->rstrip));
        EEF_TRY(get_bool(x, "normalized", !a->special, where, "added token", &a->normalized));
        EEF_TRY(get_bool(x, "single_word", 0, where, "added token", &sw));
        if (sw) return eef_fail(EEF_EFORMAT, "%s: added token \"%.40s\": single_word is not supported", where, a->content);
        k++;
    }
    s->n_added = k, s->added = L->added;
    return EEF_OK;
}

/* ------------------------------------------------------------ the config */
/* A token named by the config: "text" or {"content": "text"}; null: none. */
static eef_err config_token(const cJSON *cfg, const char *key, const hf_spec *s, const char *where, int *out)
{
    *out = -1;
    const cJSON *v = get(cfg, key);
    if (!v || cJSON_IsNull(v)) return EEF_OK;
    if (cJSON_IsObject(v)) v = get(v, "content");
    if (!cJSON_IsString(v)) return eef_fail(EEF_EFORMAT, "%s: %s is not a token", where, key);
    const char *name = v->valuestring;
    for (size_t i = 0; i < s->n_added; i++)
        if (strcmp(s->added[i].content, name) == 0) return (*out = s->added[i].id), EEF_OK;
    for (size_t i = 0; i < s->n_vocab; i++)
        if (strcmp(s->vocab[i], name) == 0) return (*out = s->vocab_id[i]), EEF_OK;
    return eef_fail(EEF_EFORMAT, "%s: %s \"%.40s\" is not a token of the tokenizer", where, key, name);
}

static eef_err read_config(const cJSON *cfg, hf_spec *s, const char *where)
{
    if (!cJSON_IsObject(cfg)) return eef_fail(EEF_EFORMAT, "%s: not a JSON object", where);
    EEF_TRY(config_token(cfg, "bos_token", s, where, &s->bos));
    EEF_TRY(config_token(cfg, "eos_token", s, where, &s->eos));
    EEF_TRY(config_token(cfg, "pad_token", s, where, &s->pad));
    const cJSON *t = get(cfg, "chat_template");
    if (cJSON_IsString(t)) {
        s->chat_template = t->valuestring;
    } else if (cJSON_IsArray(t)) {
        const cJSON *x;
        cJSON_ArrayForEach(x, t)
        {
            const cJSON *nm = get(x, "name"), *tp = get(x, "template");
            if (cJSON_IsString(nm) && strcmp(nm->valuestring, "default") == 0 && cJSON_IsString(tp))
                s->chat_template = tp->valuestring;
        }
        if (!s->chat_template) return eef_fail(EEF_EFORMAT, "%s: chat_template list has no \"default\"", where);
    } else if (t && !cJSON_IsNull(t)) {
        return eef_fail(EEF_EFORMAT, "%s: chat_template is not a string", where);
    }
    /* add_bos_token when the config says; else whether anything puts bos
     * first (the post-processor or the chat template) */
    const cJSON *ab = get(cfg, "add_bos_token");
    if (cJSON_IsBool(ab)) s->add_bos = cJSON_IsTrue(ab);
    else if (ab && !cJSON_IsNull(ab)) return eef_fail(EEF_EFORMAT, "%s: add_bos_token is not a boolean", where);
    else s->add_bos = s->bos >= 0 && ((s->n_prefix && s->prefix[0] == s->bos) ||
                                      (s->chat_template && strstr(s->chat_template, "bos_token")));
    return EEF_OK;
}

/* ------------------------------------------------------------ loading */
static eef_err load_mem(const char *json, size_t len, const char *config, size_t clen,
                        const char *where, const char *cwhere, eef_tokenizer **out)
{
    *out = NULL;
    cJSON *root = NULL, *cfg = NULL;
    loader L = { .where = where };
    eef_arena_init(&L.arena, 1 << 16);
    hf_spec s = { .where = where, .config_where = config ? cwhere : NULL, .bos = -1, .eos = -1, .pad = -1 };
    eef_err e = eef_json_parse(json, len, where, &root);
    if (!e && !cJSON_IsObject(root)) e = eef_fail(EEF_EFORMAT, "%s: not a tokenizer.json (not an object)", where);
    if (!e) {
        const cJSON *v = get(root, "version");
        if (!cJSON_IsString(v)) e = eef_fail(EEF_EFORMAT, "%s: not a tokenizer.json (no version)", where);
        else if (strcmp(v->valuestring, "1.0") != 0)
            e = eef_fail(EEF_EFORMAT, "%s: tokenizer.json version %.20s, eef reads 1.0", where, v->valuestring);
    }
    if (!e) {
        const cJSON *tr = get(root, "truncation");
        if (tr && !cJSON_IsNull(tr)) e = eef_fail(EEF_EFORMAT, "%s: truncation is set; eef does not truncate", where);
    }
    if (!e) e = read_model(&L, get(root, "model"), &s);
    if (!e) e = read_added(&L, get(root, "added_tokens"), &s);
    if (!e) e = read_normalizer(get(root, "normalizer"), where, 0, &s.nfc);
    if (!e) e = read_pretok(&L, get(root, "pre_tokenizer"), 0);
    if (!e) e = read_post(&L, root, get(root, "post_processor"), 0);
    if (!e) e = read_decoder(get(root, "decoder"), where);
    s.steps = L.steps, s.n_steps = L.n_steps;
    s.prefix = L.prefix, s.n_prefix = L.n_prefix;
    s.suffix = L.suffix, s.n_suffix = L.n_suffix;
    if (!e && config) {
        e = eef_json_parse(config, clen, cwhere, &cfg);
        if (!e) e = read_config(cfg, &s, cwhere);
    }
    if (!e) {
        s.src_json = json, s.src_json_len = len;
        s.src_config = config ? config : "", s.src_config_len = config ? clen : 0;
        e = hf_build(&s, out);
    }
    cJSON_Delete(root);
    cJSON_Delete(cfg);
    loader_free(&L);
    return e;
}

eef_err eef_tok_load_hf_mem(const char *json, size_t len, const char *config, size_t config_len,
                            const char *where, eef_tokenizer **out)
{
    char cwhere[4200];
    snprintf(cwhere, sizeof cwhere, "%s (tokenizer_config)", where);
    return load_mem(json, len, config, config_len, where, cwhere, out);
}

static eef_err load_files(const char *json_path, const char *config_path, const char *tmpl_path,
                          eef_tokenizer **out)
{
    *out = NULL;
    char *j = NULL, *c = NULL, *t = NULL;
    size_t jl = 0, cl = 0, tl = 0;
    eef_err e = eef_read_file(json_path, &j, &jl);
    if (!e && config_path) e = eef_read_file(config_path, &c, &cl);
    if (!e && tmpl_path) {
        e = eef_read_file(tmpl_path, &t, &tl);
        if (!e && (strlen(t) != tl || !eef_utf8_valid(t, tl)))
            e = eef_fail(EEF_EFORMAT, "%s: not UTF-8 text", tmpl_path);
    }
    /* a chat template from its own file goes into the config, so that the
     * config eef keeps (EEFH, export) says it */
    char *merged = NULL;
    if (!e && t) {
        cJSON *cfg = NULL;
        if (c) e = eef_json_parse(c, cl, config_path, &cfg);
        else if (!(cfg = cJSON_CreateObject())) e = EEF_ENOMEM;
        if (!e && !cJSON_IsObject(cfg)) e = eef_fail(EEF_EFORMAT, "%s: not a JSON object", config_path);
        if (!e && !get(cfg, "chat_template")) {
            if (!cJSON_AddStringToObject(cfg, "chat_template", t) || !(merged = cJSON_Print(cfg))) e = EEF_ENOMEM;
        }
        cJSON_Delete(cfg);
    }
    if (!e)
        e = load_mem(j, jl, merged ? merged : c, merged ? strlen(merged) : cl, json_path,
                     config_path ? config_path : tmpl_path ? tmpl_path : "", out);
    free(j), free(c), free(t);
    if (merged) cJSON_free(merged);
    return e;
}

eef_err eef_tok_load_hf(const char *tokenizer_json, const char *config_path, eef_tokenizer **out)
{
    return load_files(tokenizer_json, config_path, NULL, out);
}

eef_err eef_tok_load_hf_dir(const char *dir, eef_tokenizer **out)
{
    char j[4200], c[4200], t[4200];
    eef_path_join(j, sizeof j, dir, "tokenizer.json");
    eef_path_join(c, sizeof c, dir, "tokenizer_config.json");
    eef_path_join(t, sizeof t, dir, "chat_template.jinja");
    if (!eef_file_exists(j)) {
        *out = NULL;
        return eef_fail(EEF_ENOTFOUND, "%s: no tokenizer.json in this directory", dir);
    }
    return load_files(j, eef_file_exists(c) ? c : NULL, eef_file_exists(t) ? t : NULL, out);
}

/* ------------------------------------------------------------ serialized */
eef_err hf_save(const eef_tokenizer *base, eef_buf *out)
{
    const tok_hf *t = (const tok_hf *)base;
    if (!t->src_json) return eef_fail(EEF_ESTATE, "this tokenizer has no tokenizer.json to save");
    if (t->src_json_len > UINT32_MAX || t->src_config_len > UINT32_MAX)
        return eef_fail(EEF_EINVAL, "tokenizer files too large to save");
    uint32_t hdr[3] = { EEFH_VERSION, (uint32_t)t->src_json_len, (uint32_t)t->src_config_len };
    size_t start = out->len;
    if (eef_buf_append(out, "EEFH", 4) || eef_buf_append(out, hdr, sizeof hdr) ||
        eef_buf_append(out, t->src_json, t->src_json_len) ||
        eef_buf_append(out, t->src_config, t->src_config_len))
        return EEF_ENOMEM;
    uint32_t crc = eef_crc32(0, out->data + start, out->len - start);
    return eef_buf_append(out, &crc, 4) ? EEF_ENOMEM : EEF_OK;
}

eef_err hf_load_blob(const unsigned char *p, size_t len, const char *where, eef_tokenizer **out)
{
    *out = NULL;
    if (len < 20) return eef_fail(EEF_EFORMAT, "%s: tokenizer truncated (%zu bytes)", where, len);
    uint32_t hdr[3];
    memcpy(hdr, p + 4, sizeof hdr);
    if (hdr[0] != EEFH_VERSION)
        return eef_fail(EEF_EFORMAT, "%s: tokenizer version %u, this eef reads version %d", where, hdr[0],
                        EEFH_VERSION);
    if ((uint64_t)hdr[1] + hdr[2] + 20 != len)
        return eef_fail(EEF_EFORMAT, "%s: tokenizer is %zu bytes, its header says %llu", where, len,
                        (unsigned long long)hdr[1] + hdr[2] + 20);
    uint32_t crc;
    memcpy(&crc, p + len - 4, 4);
    if (eef_crc32(0, p, len - 4) != crc)
        return eef_fail(EEF_EFORMAT, "%s: tokenizer checksum mismatch (corrupted)", where);
    char jw[4200], cw[4200];
    snprintf(jw, sizeof jw, "%s: tokenizer.json", where);
    snprintf(cw, sizeof cw, "%s: tokenizer_config.json", where);
    const char *json = (const char *)p + 16, *cfg = json + hdr[1];
    return load_mem(json, hdr[1], hdr[2] ? cfg : NULL, hdr[2], jw, cw, out);
}

eef_err hf_export(const eef_tokenizer *base, eef_buf *json, eef_buf *config)
{
    const tok_hf *t = (const tok_hf *)base;
    if (!t->src_json) return eef_fail(EEF_ESTATE, "this tokenizer has no tokenizer.json to export");
    if (eef_buf_append(json, t->src_json, t->src_json_len)) return EEF_ENOMEM;
    if (t->src_config_len) return eef_buf_append(config, t->src_config, t->src_config_len) ? EEF_ENOMEM : EEF_OK;
    return eef_buf_puts(config, "{\n  \"tokenizer_class\": \"PreTrainedTokenizerFast\"\n}\n") ? EEF_ENOMEM : EEF_OK;
}

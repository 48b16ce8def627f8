/* tok.c: the one interface, dispatched to the kind of tokenizer. */
#include "text_internal.h"

#include <stdlib.h>
#include <string.h>

eef_err tok_out_reserve(tok_out *o, size_t m)
{
    size_t need = *o->n + m;
    if (need > *o->cap) {
        size_t c = *o->cap ? *o->cap : 64;
        while (c < need) c *= 2;
        int *p = eef_realloc(*o->ids, c * sizeof(int));
        if (!p) return EEF_ENOMEM;
        *o->ids = p, *o->cap = c;
    }
    if (o->ends && need > o->ends_cap) {
        size_t c = o->ends_cap ? o->ends_cap : 64;
        while (c < need) c *= 2;
        size_t *p = eef_realloc(o->ends, c * sizeof(size_t));
        if (!p) return EEF_ENOMEM;
        o->ends = p, o->ends_cap = c;
    }
    return EEF_OK;
}

void eef_tok_free(eef_tokenizer *t)
{
    if (!t) return;
    tok_chat_free(&t->chat);
    t->ops->destroy(t);
}

eef_tok_kind eef_tok_kind_of(const eef_tokenizer *t) { return t->kind; }
int eef_tok_vocab_size(const eef_tokenizer *t) { return t->vocab; }
const eef_tok_roles *eef_tok_roles_of(const eef_tokenizer *t) { return &t->roles; }
const char *eef_tok_pretok_name(const eef_tokenizer *t) { return t->pretok_name; }
const char *eef_tok_chat_name(const eef_tokenizer *t) { return t->chat.family ? t->chat.name : NULL; }

eef_err eef_tok_encode_ex(const eef_tokenizer *t, const char *text, size_t len, unsigned flags,
                          int **ids, size_t *n, size_t *cap)
{
    tok_out o = { .ids = ids, .n = n, .cap = cap };
    eef_err e = t->ops->encode(t, text ? text : "", text ? len : 0, flags, &o);
    return e == EEF_ENOMEM ? eef_fail(e, "out of memory encoding %zu bytes", len) : e;
}

eef_err eef_tok_encode(const eef_tokenizer *t, const char *text, size_t len, int **ids, size_t *n,
                       size_t *cap)
{
    return eef_tok_encode_ex(t, text, len, 0, ids, n, cap);
}

const char *eef_tok_piece(const eef_tokenizer *t, int id, size_t *len)
{
    const char *p = id >= 0 && id < t->vocab ? t->ops->piece(t, id, len) : NULL;
    if (!p && len) *len = 0;
    return p;
}

eef_err eef_tok_decode(const eef_tokenizer *t, const int *ids, size_t n, eef_buf *out)
{
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *p = eef_tok_piece(t, ids[i], &len);
        if (!p) {
            if (ids[i] >= 0 && ids[i] < t->vocab)
                return eef_fail(EEF_EINVAL, "token id %d is not in the vocabulary", ids[i]);
            return eef_fail(EEF_EINVAL, "token id %d out of range [0, %d)", ids[i], t->vocab);
        }
        if (eef_buf_append(out, p, len)) return EEF_ENOMEM;
    }
    return EEF_OK;
}

eef_tok_type eef_tok_type_of(const eef_tokenizer *t, int id)
{
    return id >= 0 && id < t->vocab ? t->ops->type(t, id) : EEF_TOKTYPE_NONE;
}

int eef_tok_find(const eef_tokenizer *t, const char *s, size_t len)
{
    return len ? t->ops->find(t, s, len) : -1;
}

int eef_tok_vocab_text(const eef_tokenizer *t, int id, eef_buf *out)
{
    if (id < 0 || id >= t->vocab) return -1;
    return t->ops->vocab_text(t, id, out);
}

size_t eef_tok_merge_count(const eef_tokenizer *t) { return t->ops->merge_count(t); }

void eef_tok_merge_at(const eef_tokenizer *t, size_t k, int *left, int *right)
{
    t->ops->merge_at(t, k, left, right);
}

eef_err eef_tok_save(const eef_tokenizer *t, eef_buf *out) { return t->ops->save(t, out); }

eef_err eef_tok_export_hf(const eef_tokenizer *t, eef_buf *json, eef_buf *config)
{
    return t->ops->export_hf(t, json, config);
}

eef_err eef_tok_export_hf_dir(const eef_tokenizer *t, const char *dir)
{
    eef_buf j, c;
    eef_buf_init(&j);
    eef_buf_init(&c);
    char p[4200];
    eef_err e = eef_mkdirs(dir);
    if (!e) e = eef_tok_export_hf(t, &j, &c);
    if (!e) e = eef_write_file_atomic(eef_path_join(p, sizeof p, dir, "tokenizer.json"), j.data, j.len);
    if (!e)
        e = eef_write_file_atomic(eef_path_join(p, sizeof p, dir, "tokenizer_config.json"), c.data, c.len);
    eef_buf_free(&j);
    eef_buf_free(&c);
    return e;
}

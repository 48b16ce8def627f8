/* fuzz_gguf: GGUF files through the validating reader (gg_parse) and, with
 * byte 0 bit 0 clear, through the whole model import (eef_model_load_opts,
 * frozen in the file's types, trainable with bit 1, or converted to Q8_0
 * with bit 2), then one token through the KV cache.  The rest of the
 * input is the file; tests/fuzz/gguf/ holds tiny llama, qwen2 and qwen3
 * exports (F32, Q8_0, Q4_K, with and without a tokenizer).
 * Properties: no crash, leak, undefined behaviour or read outside the
 * file; a rejected file is EEF_EFORMAT (or ENOMEM) with a message that
 * starts with its path; an accepted file's tensors lie inside its data
 * section, aligned, with the byte size their dims and type say, none
 * overlapping, names and keys unique; string values lie inside the file. */
#include "fuzz_util.h"

#include "nn/gguf.h"

static void check_file(const gg_file *f, const uint8_t *file, size_t len)
{
    FUZZ_CHECK(f->version == 2 || f->version == 3);
    FUZZ_CHECK(f->alignment && !(f->alignment & (f->alignment - 1)));
    for (size_t i = 0; i < f->n_kv; i++) {
        const gg_kv *kv = &f->kv[i];
        FUZZ_CHECK((const uint8_t *)kv->key.p >= file && (const uint8_t *)kv->key.p + kv->key.n <= file + len);
        if (kv->type == GG_STRING)
            FUZZ_CHECK((const uint8_t *)kv->v.s.p >= file &&
                       (const uint8_t *)kv->v.s.p + kv->v.s.n <= file + len);
        for (size_t j = 0; j < i; j++)
            FUZZ_CHECK(kv->key.n != f->kv[j].key.n || memcmp(kv->key.p, f->kv[j].key.p, kv->key.n) != 0);
    }
    for (size_t i = 0; i < f->n_tensors; i++) {
        const gg_tensor *t = &f->t[i];
        uint64_t n = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) n *= t->ne[d];
        size_t rb = eef_dtype_row_bytes(t->dtype, (int)t->ne[0]);
        FUZZ_CHECK(rb && t->bytes == n / t->ne[0] * rb);
        FUZZ_CHECK(t->offset % f->alignment == 0);
        FUZZ_CHECK(t->data == f->data + t->offset && t->data + t->bytes <= file + len);
        for (size_t j = 0; j < i; j++) {
            const gg_tensor *u = &f->t[j];
            FUZZ_CHECK(t->name.n != u->name.n || memcmp(t->name.p, u->name.p, t->name.n) != 0);
            FUZZ_CHECK(t->offset + t->bytes <= u->offset || u->offset + u->bytes <= t->offset);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    if (size < 1) return 0;
    const uint8_t *file = data + 1;
    size_t len = size - 1;
    if (data[0] & 1) {
        gg_file f;
        eef_err e = gg_parse(file, len, "fuzz.gguf", &f);
        if (e) {
            FUZZ_CHECK(e == EEF_EFORMAT || e == EEF_ENOMEM);
            FUZZ_CHECK(strncmp(eef_errmsg(), "fuzz.gguf: ", 11) == 0);
            return 0;
        }
        check_file(&f, file, len);
        gg_free(&f);
        return 0;
    }
    const char *path = fuzz_tmp_path(".gguf");
    fuzz_write(path, file, len);
    eef_model *m = NULL;
    eef_load_opts o = { .trainable = data[0] & 2 ? 1 : 0,
                        .dtype = data[0] & 4 ? EEF_DT_Q8_0 : EEF_DT_COUNT };
    eef_err e = eef_model_load_opts(path, &o, &m);
    if (e) {
        FUZZ_CHECK(e == EEF_EFORMAT || e == EEF_ENOMEM || (e == EEF_EINVAL && (data[0] & 4)));
        FUZZ_CHECK(strncmp(eef_errmsg(), path, strlen(path)) == 0);
        return 0;
    }
    /* a model this small only (the corpus's): bigger ones are not run */
    if ((size_t)m->cfg.d_model * m->cfg.vocab <= (1 << 16) && m->cfg.n_layers <= 4 &&
        (size_t)m->cfg.d_ff * m->cfg.d_model <= (1 << 16)) {
        eef_kv *kv;
        FUZZ_CHECK(eef_kv_new(m, 4, &kv) == EEF_OK);
        int tok = m->cfg.vocab - 1;
        float *logits = malloc((size_t)m->cfg.vocab * sizeof(float));
        FUZZ_CHECK(eef_kv_feed(kv, &tok, 1, logits) == EEF_OK);
        free(logits);
        eef_kv_free(kv);
    }
    if (m->tok) {
        int *ids = NULL;
        size_t n = 0, cap = 0;
        eef_err te = eef_tok_encode(m->tok, "hi there", 8, &ids, &n, &cap);
        FUZZ_CHECK(te == EEF_OK || te == EEF_ENOMEM);
        free(ids);
    }
    eef_model_free(m);
    return 0;
}

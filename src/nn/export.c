/* export.c: the weights in formats other runtimes read: `eef export`'s
 * dispatch, and the one-file safetensors (float32).  The Hugging Face
 * directory (hf_export.c) keeps 16-bit weights 16-bit; GGUF (gguf_export.c)
 * is written in the type asked for.  All write the tensor list of
 * export_list.c (Llama names, eef's fused projections split).
 *
 * safetensors: u64 header length, the JSON header {name: {dtype, shape,
 * data_offsets}, "__metadata__": {...}} padded with spaces to 8 bytes,
 * then the data.
 */
#include "export.h"
#include "safetensors.h"

#include <stdlib.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the export formats are little-endian: port the writer first"
#endif

/* ------------------------------------------------------------ safetensors */
static eef_err export_safetensors(const eef_model *m, const xlist *l, const char *path)
{
    const eef_model_config *c = &m->cfg;
    eef_buf h;
    eef_buf_init(&h);
    int bad = eef_buf_printf(&h,
                             "{\"__metadata__\":{\"format\":\"pt\",\"producer\":\"eef %s\","
                             "\"architecture\":\"LlamaForCausalLM\",\"vocab_size\":\"%d\","
                             "\"hidden_size\":\"%d\",\"num_hidden_layers\":\"%d\","
                             "\"num_attention_heads\":\"%d\",\"num_key_value_heads\":\"%d\","
                             "\"intermediate_size\":\"%d\",\"max_position_embeddings\":\"%d\","
                             "\"rope_theta\":\"%.9g\",\"rms_norm_eps\":\"%.9g\","
                             "\"tie_word_embeddings\":\"%s\",\"rope_layout\":\"rotate_half\"}",
                             EEF_VERSION, c->vocab, c->d_model, c->n_layers, c->n_heads,
                             c->n_kv_heads, c->d_ff, c->max_ctx, (double)c->rope_theta,
                             (double)c->norm_eps, c->tied ? "true" : "false");
    uint64_t off = 0;
    for (int i = 0; !bad && i < l->n; i++) {
        const xtensor *t = &l->t[i];
        uint64_t bytes = x_bytes(t);
        if (t->n_dims == 2)
            bad = eef_buf_printf(&h, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%llu,%llu],"
                                 "\"data_offsets\":[%llu,%llu]}", t->name,
                                 (unsigned long long)t->shape[0], (unsigned long long)t->shape[1],
                                 (unsigned long long)off, (unsigned long long)(off + bytes));
        else
            bad = eef_buf_printf(&h, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%llu],"
                                 "\"data_offsets\":[%llu,%llu]}", t->name,
                                 (unsigned long long)t->shape[0], (unsigned long long)off,
                                 (unsigned long long)(off + bytes));
        off += bytes;
    }
    if (!bad) bad = eef_buf_puts(&h, "}");
    while (!bad && h.len % 8) bad = eef_buf_puts(&h, " "); /* data 8-byte aligned */
    if (bad) {
        eef_buf_free(&h);
        return EEF_ENOMEM;
    }
    eef_afile af;
    eef_err e = eef_afile_open(&af, path);
    uint64_t hlen = h.len;
    if (!e) e = eef_afile_write(&af, &hlen, 8);
    if (!e) e = eef_afile_write(&af, h.data, h.len);
    for (int i = 0; !e && i < l->n; i++) e = x_write(&af, &l->t[i]);
    eef_buf_free(&h);
    if (e) {
        if (af.f) eef_afile_abort(&af);
        return e;
    }
    return eef_afile_commit(&af);
}

eef_err eef_model_export(const eef_model *m, const char *format, const char *path)
{
    int gguf = strcmp(format, "gguf") == 0, st = strcmp(format, "safetensors") == 0,
        hf = strcmp(format, "hf") == 0;
    if (!gguf && !st && !hf)
        return eef_fail(EEF_EINVAL, "export: unknown format '%s' (gguf, safetensors or hf)", format);
    if (hf) return nn_export_hf(m, path);
    if (gguf) return eef_model_export_gguf(m, EEF_DT_F32, path); /* gguf_export.c */
    xlist l = { 0 };
    eef_err e = x_list(m, X_SAFETENSORS, EEF_ROPE_HALF, &l);
    if (!e) e = export_safetensors(m, &l, path);
    free(l.t);
    if (e) return eef_fail_ctx(e, "exporting to %s", path);
    return EEF_OK;
}

/* hf_export.c: a model as a Hugging Face model directory.
 *
 *   DIR/model.safetensors        HF tensor names, q/k rows in rotate_half
 *                                order, 16-bit weights kept 16-bit
 *   DIR/tokenizer.json           the tokenizer (eef's BPE in HF's form, or
 *   DIR/tokenizer_config.json    an imported one as it was read)
 *   DIR/generation_config.json   bos / eos ids
 *   DIR/config.json              model_type llama (or mistral), qwen2 (q/k/v
 *                                biases) or qwen3 (q/k norms), written last:
 *                                a directory with a config is complete
 *
 * A model in eef's pair layout gets "eef_rope_layout": "pairs" in its
 * config (transformers keeps unknown fields and ignores them), so eef's
 * importer can permute q and k back and the round trip is exact. */
#include "export.h"
#include "safetensors.h"

#include <stdlib.h>
#include <string.h>

/* The shortest decimal that reads back as the same float. */
static void fmt_float(char *out, size_t cap, float v)
{
    for (int p = 6; p <= 9; p++) {
        snprintf(out, cap, "%.*g", p, (double)v);
        if ((float)strtod(out, NULL) == v) return;
    }
}

static const char *torch_dtype(eef_dtype t)
{
    return t == EEF_DT_BF16 ? "bfloat16" : t == EEF_DT_F16 ? "float16" : "float32";
}

/* The ids the model starts and stops with: from its source's generation
 * config, else its tokenizer's role map (bos; eos, and the end of a turn
 * when that is another token). */
static void special_ids(const eef_model *m, int *bos, int *eos, int *n_eos)
{
    *bos = m->meta.bos_id;
    *n_eos = m->meta.n_eos;
    memcpy(eos, m->meta.eos_ids, sizeof m->meta.eos_ids);
    if (*bos < 0 && *n_eos == 0 && m->tok) {
        const eef_tok_roles *r = eef_tok_roles_of(m->tok);
        *bos = r->bos;
        if (r->eos >= 0) eos[(*n_eos)++] = r->eos;
        if (r->eot >= 0 && r->eot != r->eos) eos[(*n_eos)++] = r->eot;
    }
}

static int put_ids(eef_buf *b, const char *key, const int *ids, int n)
{
    if (n == 1) return eef_buf_printf(b, ",\n  \"%s\": %d", key, ids[0]);
    int bad = eef_buf_printf(b, ",\n  \"%s\": [", key);
    for (int i = 0; i < n; i++) bad |= eef_buf_printf(b, "%s%d", i ? ", " : "", ids[i]);
    return bad | eef_buf_puts(b, "]");
}

static eef_err write_config(const eef_model *m, const char *type, eef_dtype dt, const char *path)
{
    const eef_model_config *c = &m->cfg;
    static const char *const heads[][2] = { { "llama", "LlamaForCausalLM" },
                                            { "mistral", "MistralForCausalLM" },
                                            { "qwen2", "Qwen2ForCausalLM" },
                                            { "qwen3", "Qwen3ForCausalLM" } };
    const char *head = "LlamaForCausalLM";
    for (size_t i = 0; i < EEF_ARRAY_LEN(heads); i++)
        if (strcmp(type, heads[i][0]) == 0) head = heads[i][1];
    char eps[32], theta[32];
    fmt_float(eps, sizeof eps, c->norm_eps);
    fmt_float(theta, sizeof theta, c->rope_theta);
    eef_buf b;
    eef_buf_init(&b);
    int bad = eef_buf_printf(
        &b,
        "{\n  \"architectures\": [\"%s\"],\n  \"model_type\": \"%s\",\n  \"vocab_size\": %d,\n"
        "  \"hidden_size\": %d,\n  \"intermediate_size\": %d,\n  \"num_hidden_layers\": %d,\n"
        "  \"num_attention_heads\": %d,\n  \"num_key_value_heads\": %d,\n  \"head_dim\": %d,\n"
        "  \"max_position_embeddings\": %d,\n  \"rms_norm_eps\": %s,\n  \"rope_theta\": %s,\n"
        "  \"hidden_act\": \"silu\",\n  \"tie_word_embeddings\": %s,\n  \"torch_dtype\": \"%s\"",
        head, type, c->vocab, c->d_model, c->d_ff, c->n_layers, c->n_heads, c->n_kv_heads,
        c->head_dim, c->max_ctx, eps, theta, c->tied ? "true" : "false", torch_dtype(dt));
    if (strcmp(type, "qwen2") != 0)
        bad |= eef_buf_puts(&b, ",\n  \"attention_bias\": false");
    if (strcmp(type, "llama") == 0) bad |= eef_buf_puts(&b, ",\n  \"mlp_bias\": false");
    if (strncmp(type, "qwen", 4) == 0) bad |= eef_buf_puts(&b, ",\n  \"use_sliding_window\": false");
    if (strcmp(type, "mistral") == 0) bad |= eef_buf_puts(&b, ",\n  \"sliding_window\": null");
    const eef_rope_scaling *s = &c->rope_scaling;
    if (s->factor != 0) {
        char f[32], lo[32], hi[32];
        fmt_float(f, sizeof f, s->factor);
        fmt_float(lo, sizeof lo, s->low_freq_factor);
        fmt_float(hi, sizeof hi, s->high_freq_factor);
        bad |= eef_buf_printf(&b, ",\n  \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": %s, "
                              "\"low_freq_factor\": %s, \"high_freq_factor\": %s, "
                              "\"original_max_position_embeddings\": %d}", f, lo, hi,
                              s->original_ctx);
    } else {
        bad |= eef_buf_puts(&b, ",\n  \"rope_scaling\": null");
    }
    int bos, eos[8], n_eos;
    special_ids(m, &bos, eos, &n_eos);
    if (bos >= 0) bad |= eef_buf_printf(&b, ",\n  \"bos_token_id\": %d", bos);
    if (n_eos) bad |= put_ids(&b, "eos_token_id", eos, n_eos);
    if (c->rope_layout == EEF_ROPE_PAIRS) bad |= eef_buf_puts(&b, ",\n  \"eef_rope_layout\": \"pairs\"");
    bad |= eef_buf_puts(&b, "\n}\n");
    eef_err e = bad ? EEF_ENOMEM : eef_write_file_atomic(path, b.data, b.len);
    eef_buf_free(&b);
    return e;
}

static eef_err write_generation_config(const eef_model *m, const char *path)
{
    int bos, eos[8], n_eos;
    special_ids(m, &bos, eos, &n_eos);
    eef_buf b;
    eef_buf_init(&b);
    int bad = eef_buf_puts(&b, "{\n  \"_from_model_config\": false");
    if (bos >= 0) bad |= eef_buf_printf(&b, ",\n  \"bos_token_id\": %d", bos);
    if (n_eos) bad |= put_ids(&b, "eos_token_id", eos, n_eos);
    bad |= eef_buf_puts(&b, "\n}\n");
    eef_err e = bad ? EEF_ENOMEM : eef_write_file_atomic(path, b.data, b.len);
    eef_buf_free(&b);
    return e;
}

static eef_err write_weights(const eef_model *m, const char *path, eef_dtype *main_dtype)
{
    xlist l = { 0 };
    eef_err e = x_list(m, X_HF, EEF_ROPE_HALF, &l);
    st_writer w;
    st_writer_init(&w);
    *main_dtype = EEF_DT_F32;
    for (int i = 0; !e && i < l.n; i++) {
        const xtensor *t = &l.t[i];
        st_writer_add(&w, t->name, t->out, t->n_dims, t->shape, x_bytes(t));
        if (t->n_dims == 2) *main_dtype = t->out;
    }
    static const char *const meta[] = { "format", "pt", "producer", ("eef " EEF_VERSION) };
    eef_afile af = { 0 };
    if (!e) e = eef_afile_open(&af, path);
    if (!e) {
        e = st_writer_header(&w, meta, 2, &af);
        for (int i = 0; !e && i < l.n; i++) e = x_write(&af, &l.t[i]);
        e = e ? (eef_afile_abort(&af), e) : eef_afile_commit(&af);
    }
    st_writer_free(&w);
    free(l.t);
    return e;
}

/* tokenizer.json + tokenizer_config.json (text/): eef's BPE in Hugging
 * Face's form, an imported tokenizer as the files it was read from.  A
 * model without a tokenizer writes none. */
static eef_err write_tokenizer(const eef_model *m, const char *dir)
{
    return m->tok ? eef_tok_export_hf_dir(m->tok, dir) : EEF_OK;
}

eef_err nn_export_hf(const eef_model *m, const char *dir)
{
    const eef_model_config *c = &m->cfg;
    if (c->qkv_bias && c->qk_norm)
        return eef_fail(EEF_EINVAL, "export: no Hugging Face architecture has both q/k/v biases and "
                        "q/k norms");
    const char *type = c->qk_norm ? "qwen3" : c->qkv_bias ? "qwen2"
                       : strcmp(m->meta.arch, "mistral") == 0 ? "mistral" : "llama";
    if (strlen(dir) > 3800) return eef_fail(EEF_EINVAL, "export: directory name too long");
    char path[4096];
    eef_err e = eef_mkdirs(dir);
    eef_dtype dt = EEF_DT_F32;
    if (!e) e = write_weights(m, eef_path_join(path, sizeof path, dir, "model.safetensors"), &dt);
    if (!e) e = write_tokenizer(m, dir);
    if (!e)
        e = write_generation_config(m, eef_path_join(path, sizeof path, dir,
                                                     "generation_config.json"));
    if (!e) e = write_config(m, type, dt, eef_path_join(path, sizeof path, dir, "config.json"));
    if (e) return eef_fail_ctx(e, "exporting to %s", dir);
    return EEF_OK;
}

/* export_list.c: the list of tensors every export format writes, named
 * and laid out as the format's readers expect, and the writer of one.
 *
 * All use the Llama architecture's tensor names and split eef's fused
 * projections: wqkv [W, D] into q, k, v and w13 [2F, D] into gate (rows
 * 0..F) and up (rows F..2F).
 *
 * Rotary layout.  eef's own models rotate the pairs (2i, 2i+1) of each
 * head (Meta's original Llama), imported HF models the pairs (i, i + hd/2)
 * (rotate_half).  llama.cpp's "llama" architecture expects the first
 * (rope type NORM), Hugging Face and llama.cpp's qwen2/qwen3 (NEOX) the second, so the rows of q and k are
 * permuted within each head where the layouts differ: HF row j < hd/2 is
 * eef row 2j, HF row hd/2 + j is eef row 2j + 1 (what HF's conversion
 * script from Meta's checkpoints does).  Scores q.k are unchanged.
 */
#include "export.h"

#include <stdlib.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the export formats are little-endian: port the writer first"
#endif

static eef_err add(xlist *l, const char *name, eef_tensor src, int vec, x_perm perm, int hd,
                   int own_dtype)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        xtensor *p = eef_realloc(l->t, (size_t)cap * sizeof *p);
        if (!p) return EEF_ENOMEM;
        l->t = p, l->cap = cap;
    }
    xtensor *t = &l->t[l->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n_dims = vec ? 1 : 2;
    t->shape[0] = (uint64_t)src.rows;
    t->shape[1] = (uint64_t)src.cols;
    t->src = src;
    t->perm = perm;
    t->hd = hd;
    /* 16-bit weights stay 16-bit where the format allows; the rest is f32 */
    t->out = own_dtype && (src.dtype == EEF_DT_BF16 || src.dtype == EEF_DT_F16) ? src.dtype
                                                                              : EEF_DT_F32;
    return EEF_OK;
}

static eef_tensor vec_of(const float *p, int n) { return (eef_tensor){ .dtype = EEF_DT_F32, .rows = n, .cols = 1, .data = p }; }

uint64_t x_bytes(const xtensor *t)
{
    return (uint64_t)t->src.rows * eef_dtype_row_bytes(t->out, t->src.cols);
}

eef_err x_list(const eef_model *m, x_scheme scheme, int want_layout, xlist *l)
{
    const eef_model_config *c = &m->cfg;
    const int hf = scheme != X_GGUF, own = scheme == X_HF, D = c->d_model, hd = c->head_dim;
    const int Q = c->n_heads * hd, K = c->n_kv_heads * hd;
    const x_perm qk = c->rope_layout == want_layout ? PERM_NONE
                      : want_layout == EEF_ROPE_HALF ? PERM_TO_HALF : PERM_TO_PAIRS;
    char name[64];
    EEF_TRY(add(l, hf ? "model.embed_tokens.weight" : "token_embd.weight", m->embed, 0, PERM_NONE,
                0, own));
    for (int i = 0; i < c->n_layers; i++) {
        const eef_layer_weights *w = &m->layer[i];
#define LAYER(hfname, ggname, src, vec, perm)                                                      \
    do {                                                                                           \
        if (hf) snprintf(name, sizeof name, "model.layers.%d.%s", i, hfname);                      \
        else snprintf(name, sizeof name, "blk.%d.%s", i, ggname);                                  \
        EEF_TRY(add(l, name, src, vec, perm, hd, own));                                            \
    } while (0)
        LAYER("input_layernorm.weight", "attn_norm.weight", vec_of(w->attn_norm, D), 1, PERM_NONE);
        LAYER("self_attn.q_proj.weight", "attn_q.weight", w->wq, 0, qk);
        LAYER("self_attn.k_proj.weight", "attn_k.weight", w->wk, 0, qk);
        LAYER("self_attn.v_proj.weight", "attn_v.weight", w->wv, 0, PERM_NONE);
        if (c->qkv_bias) {
            LAYER("self_attn.q_proj.bias", "attn_q.bias", vec_of(w->bqkv, Q), 1, qk);
            LAYER("self_attn.k_proj.bias", "attn_k.bias", vec_of(w->bqkv + Q, K), 1, qk);
            LAYER("self_attn.v_proj.bias", "attn_v.bias", vec_of(w->bqkv + Q + K, K), 1, PERM_NONE);
        }
        if (c->qk_norm) {
            LAYER("self_attn.q_norm.weight", "attn_q_norm.weight", vec_of(w->q_norm, hd), 1, qk);
            LAYER("self_attn.k_norm.weight", "attn_k_norm.weight", vec_of(w->k_norm, hd), 1, qk);
        }
        LAYER("self_attn.o_proj.weight", "attn_output.weight", w->wo, 0, PERM_NONE);
        LAYER("post_attention_layernorm.weight", "ffn_norm.weight", vec_of(w->mlp_norm, D), 1,
              PERM_NONE);
        LAYER("mlp.gate_proj.weight", "ffn_gate.weight", w->w1, 0, PERM_NONE);
        LAYER("mlp.up_proj.weight", "ffn_up.weight", w->w3, 0, PERM_NONE);
        LAYER("mlp.down_proj.weight", "ffn_down.weight", w->w2, 0, PERM_NONE);
#undef LAYER
    }
    EEF_TRY(add(l, hf ? "model.norm.weight" : "output_norm.weight", vec_of(m->out_norm, D), 1,
                PERM_NONE, 0, own));
    /* a tied head is the embedding: GGUF readers fall back to token_embd,
     * HF reads tie_word_embeddings */
    if (!c->tied)
        EEF_TRY(add(l, hf ? "lm_head.weight" : "output.weight", m->head, 0, PERM_NONE, 0, own));
    return EEF_OK;
}

/* The source row of output row r. */
static int perm_row(const xtensor *t, int r)
{
    if (t->perm == PERM_NONE) return r;
    int h = r / t->hd, j = r % t->hd, half = t->hd / 2;
    if (t->perm == PERM_TO_HALF) return h * t->hd + (j < half ? 2 * j : 2 * (j - half) + 1);
    return h * t->hd + (j % 2 ? half + j / 2 : j / 2);
}

/* Writes a tensor's data: its bytes as they are, or row by row converted
 * to the output dtype and/or permuted. */
eef_err x_write(eef_afile *af, const xtensor *t)
{
    const eef_tensor *s = &t->src;
    if (t->perm == PERM_NONE && t->out == s->dtype)
        return eef_afile_write(af, s->data, (size_t)s->rows * eef_dtype_row_bytes(s->dtype, s->cols));
    if (t->out == s->dtype && s->cols > 1) { /* permuted rows, copied as they are */
        size_t srb = eef_dtype_row_bytes(s->dtype, s->cols);
        eef_err e = EEF_OK;
        for (int r = 0; !e && r < s->rows; r++)
            e = eef_afile_write(af, (const char *)s->data + (size_t)perm_row(t, r) * srb, srb);
        return e;
    }
    const nn_dtype_ops *to = nn_dtype_ops_of(t->out);
    size_t rb = eef_dtype_row_bytes(t->out, s->cols);
    float *row = eef_malloc((size_t)s->cols * sizeof(float));
    unsigned char *o = eef_malloc(rb);
    eef_err e = (!row || !o) ? EEF_ENOMEM : EEF_OK;
    /* vectors (one element a row) are gathered, then written at once */
    unsigned char *all = !e && s->cols == 1 ? eef_malloc((size_t)s->rows * rb) : NULL;
    if (!e && s->cols == 1 && !all) e = EEF_ENOMEM;
    for (int r = 0; !e && r < s->rows; r++) {
        int from = perm_row(t, r);
        nn_tensor_rows_f32(s, from, from + 1, row);
        to->from_f32(row, all ? all + (size_t)r * rb : o, s->cols);
        if (!all) e = eef_afile_write(af, o, rb);
    }
    if (!e && all) e = eef_afile_write(af, all, (size_t)s->rows * rb);
    free(all);
    free(row);
    free(o);
    return e;
}

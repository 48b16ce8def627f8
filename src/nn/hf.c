/* hf.c: a Hugging Face model directory as an eef model.
 *
 *   DIR/config.json                 architecture and sizes (hf_config.c)
 *   DIR/generation_config.json      bos / eos ids (optional)
 *   DIR/model.safetensors           the weights, or
 *   DIR/model.safetensors.index.json + the shards its weight_map names
 *
 * Every shard is mapped and its header validated (safetensors.c), every
 * expected tensor looked up and its shape and dtype checked, before the
 * model is allocated.  Then each tensor's bytes are used once: frozen
 * matrices in the file's dtype point into the mapping (no copy); trainable
 * weights, conversions and the small vectors (norm gains, biases) are
 * copied out and the mapping released when nothing points into it.
 *
 * HF's q/k rows are in the rotate_half layout, which eef runs natively
 * (rope_layout HALF), so they are used as they are.  A directory written
 * by eef from a pair-layout model says so ("eef_rope_layout": "pairs" in
 * config.json) and its q/k rows are permuted back, so a round trip is the
 * same model bit for bit.
 *
 * Tokenizer: DIR/tokenizer.json with its tokenizer_config.json, read by
 * text/ (attach_tokenizer below); a directory without one gives a model
 * without a tokenizer. */
#include "hf.h"
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* What a tensor of the checkpoint is to eef. */
typedef nn_tensor_kind kind;

static const char *const layer_names[T_KINDS] = {
    [T_ATTN_NORM] = "input_layernorm.weight",   [T_WQ] = "self_attn.q_proj.weight",
    [T_WK] = "self_attn.k_proj.weight",         [T_WV] = "self_attn.v_proj.weight",
    [T_BQ] = "self_attn.q_proj.bias",           [T_BK] = "self_attn.k_proj.bias",
    [T_BV] = "self_attn.v_proj.bias",           [T_QN] = "self_attn.q_norm.weight",
    [T_KN] = "self_attn.k_norm.weight",         [T_WO] = "self_attn.o_proj.weight",
    [T_MLP_NORM] = "post_attention_layernorm.weight", [T_W1] = "mlp.gate_proj.weight",
    [T_W3] = "mlp.up_proj.weight",              [T_W2] = "mlp.down_proj.weight",
};

static void tensor_name(kind k, int l, char *out, size_t cap)
{
    if (k == T_EMBED) snprintf(out, cap, "model.embed_tokens.weight");
    else if (k == T_OUT_NORM) snprintf(out, cap, "model.norm.weight");
    else if (k == T_HEAD) snprintf(out, cap, "lm_head.weight");
    else snprintf(out, cap, "model.layers.%d.%s", l, layer_names[k]);
}


/* ------------------------------------------------------------ the shards */
typedef struct {
    char *path;
    const unsigned char *map; /* the whole file */
    size_t len;
    st_file st;
    int referenced; /* frozen tensors point into the mapping */
} shard;

typedef struct {
    const char *dir;
    shard *sh;
    int n_sh;
    nn_hf_config hc;
    /* every expected tensor: its shard and entry */
    struct found {
        int shard;
        const st_tensor *t;
    } *found; /* [(L * T_KINDS) + T_KINDS]: layer kinds per layer, then the others */
} hf_dir;

static struct found *slot(hf_dir *h, kind k, int l)
{
    return nn_is_layer_kind(k) ? &h->found[(size_t)l * T_KINDS + k]
                            : &h->found[(size_t)h->hc.cfg.n_layers * T_KINDS + k];
}

static eef_err add_shard(hf_dir *h, const char *file)
{
    for (int i = 0; i < h->n_sh; i++)
        if (strcmp(strrchr(h->sh[i].path, '/') + 1, file) == 0) return EEF_OK;
    /* a plain file name inside the directory */
    if (!*file || strchr(file, '/') || strcmp(file, "..") == 0 || strcmp(file, ".") == 0)
        return eef_fail(EEF_EFORMAT, "%s/model.safetensors.index.json: shard name '%.64s' is not "
                        "a file of the directory", h->dir, file);
    shard *p = eef_realloc(h->sh, (size_t)(h->n_sh + 1) * sizeof *p);
    if (!p) return EEF_ENOMEM;
    h->sh = p;
    shard *s = &h->sh[h->n_sh];
    memset(s, 0, sizeof *s);
    size_t n = strlen(h->dir) + strlen(file) + 2;
    if (!(s->path = eef_malloc(n))) return EEF_ENOMEM;
    snprintf(s->path, n, "%s/%s", h->dir, file);
    h->n_sh++;
    EEF_TRY(nn_map_file(s->path, &s->map, &s->len));
    return st_parse(s->map, s->len, s->path, &s->st);
}

static void release(hf_dir *h)
{
    for (int i = 0; i < h->n_sh; i++) {
        shard *s = &h->sh[i];
        st_free(&s->st);
        if (s->map && !s->referenced) nn_unmap_file(s->map, s->len);
        free(s->path);
    }
    free(h->sh);
    free(h->found);
    h->sh = NULL, h->found = NULL, h->n_sh = 0;
}

static eef_err read_small(const char *dir, const char *name, char **text, size_t *len, int *exists)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    *exists = eef_file_exists(path);
    if (!*exists) return EEF_OK;
    return eef_read_file(path, text, len);
}

/* The shards: model.safetensors, or those of the index's weight_map. */
static eef_err open_shards(hf_dir *h)
{
    char *text = NULL;
    size_t len = 0;
    int exists;
    EEF_TRY(read_small(h->dir, "model.safetensors.index.json", &text, &len, &exists));
    if (!exists) {
        char path[4096];
        snprintf(path, sizeof path, "%s/model.safetensors", h->dir);
        if (!eef_file_exists(path))
            return eef_fail(EEF_EFORMAT, "%s: no model.safetensors or model.safetensors.index.json",
                            h->dir);
        return add_shard(h, "model.safetensors");
    }
    char where[4200];
    snprintf(where, sizeof where, "%s/model.safetensors.index.json", h->dir);
    cJSON *j;
    eef_err e = eef_json_parse(text, len, where, &j);
    free(text);
    if (e) return e;
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(j, "weight_map");
    if (!cJSON_IsObject(map)) e = eef_fail(EEF_EFORMAT, "%s: no weight_map object", where);
    for (const cJSON *x = map ? map->child : NULL; !e && x; x = x->next) {
        if (!cJSON_IsString(x))
            e = eef_fail(EEF_EFORMAT, "%s: weight_map['%.64s'] is not a file name", where, x->string);
        else e = add_shard(h, x->valuestring);
    }
    /* every tensor the index names is in the shard it names */
    for (const cJSON *x = map ? map->child : NULL; !e && x; x = x->next) {
        int found = 0;
        for (int i = 0; i < h->n_sh; i++)
            if (strcmp(strrchr(h->sh[i].path, '/') + 1, x->valuestring) == 0)
                found = st_find(&h->sh[i].st, x->string) != NULL;
        if (!found)
            e = eef_fail(EEF_EFORMAT, "%s: tensor '%.80s' is not in %.64s", where, x->string,
                         x->valuestring);
    }
    cJSON_Delete(j);
    if (!e && h->n_sh == 0) e = eef_fail(EEF_EFORMAT, "%s: the weight_map is empty", where);
    return e;
}

/* Tensors eef knows to ignore: rotary tables of old checkpoints (eef
 * computes them), and a stored copy of a tied head. */
static int ignorable(const hf_dir *h, const char *name)
{
    size_t n = strlen(name);
    const char *inv = "self_attn.rotary_emb.inv_freq";
    if (n > strlen(inv) && strcmp(name + n - strlen(inv), inv) == 0) return 1;
    return h->hc.cfg.tied && strcmp(name, "lm_head.weight") == 0;
}

/* Finds, checks and records every tensor the config needs, and refuses
 * tensors it does not know. */
static eef_err find_tensors(hf_dir *h)
{
    const eef_model_config *c = &h->hc.cfg;
    size_t n_slots = (size_t)(c->n_layers + 1) * T_KINDS;
    h->found = eef_calloc(n_slots, sizeof *h->found);
    if (!h->found) return EEF_ENOMEM;
    for (int l = 0; l < c->n_layers + 1; l++)
        for (int k = 0; k < T_KINDS; k++) {
            kind kk = (kind)k;
            if ((l < c->n_layers) != nn_is_layer_kind(kk)) continue;
            uint64_t rows, cols;
            if (!nn_expected_shape(c, kk, &rows, &cols)) continue;
            char name[128];
            tensor_name(kk, l, name, sizeof name);
            struct found *f = slot(h, kk, l);
            for (int i = 0; i < h->n_sh && !f->t; i++)
                if ((f->t = st_find(&h->sh[i].st, name))) f->shard = i;
            if (!f->t)
                return eef_fail(EEF_EFORMAT, "%s%s: tensor '%s' missing",
                                h->n_sh == 1 ? h->sh[0].path : h->dir,
                                h->n_sh == 1 ? "" : "/model.safetensors.index.json", name);
            const st_tensor *t = f->t;
            const char *file = h->sh[f->shard].path;
            int ok = cols ? t->n_dims == 2 && t->shape[0] == rows && t->shape[1] == cols
                          : t->n_dims == 1 && t->shape[0] == rows;
            if (!ok) {
                char got[96] = "";
                for (int d = 0; d < t->n_dims && d < 4; d++)
                    snprintf(got + strlen(got), sizeof got - strlen(got), "%s%llu", d ? ", " : "",
                             (unsigned long long)t->shape[d]);
                if (cols)
                    return eef_fail(EEF_EFORMAT, "%s: tensor '%s' has shape [%s], the config "
                                    "needs [%llu, %llu]", file, name, got,
                                    (unsigned long long)rows, (unsigned long long)cols);
                return eef_fail(EEF_EFORMAT, "%s: tensor '%s' has shape [%s], the config needs "
                                "[%llu]", file, name, got, (unsigned long long)rows);
            }
            if (t->dtype == EEF_DT_COUNT)
                return eef_fail(EEF_EFORMAT, "%s: tensor '%s' is %s; eef reads F32, F16 and BF16",
                                file, name, t->dtype_name);
        }
    /* anything else in the files is a part of a model eef would not run */
    for (int i = 0; i < h->n_sh; i++)
        for (size_t k = 0; k < h->sh[i].st.n; k++) {
            const char *name = h->sh[i].st.t[k].name;
            if (ignorable(h, name)) continue;
            int known = 0;
            for (size_t s = 0; s < n_slots && !known; s++)
                known = h->found[s].t == &h->sh[i].st.t[k];
            if (!known)
                return eef_fail(EEF_EFORMAT, "%s: tensor '%.100s' is not part of a %s model with "
                                "this config", h->sh[i].path, name, h->hc.arch);
        }
    return EEF_OK;
}

/* ------------------------------------------------------------ placing the weights */
/* Row r of the stored q or k matrix that goes to row `row` of eef's
 * matrix: the identity, or (pairs) eef row 2j <- HF row j, 2j+1 <- half+j
 * within each head. */
static int src_row(int row, int permute_hd)
{
    if (!permute_hd) return row;
    int h = row / permute_hd, j = row % permute_hd, half = permute_hd / 2;
    return h * permute_hd + (j % 2 ? half + j / 2 : j / 2);
}

static const unsigned char *tensor_data(const hf_dir *h, const struct found *f)
{
    return h->sh[f->shard].st.data + f->t->begin;
}

/* A stored tensor as an eef_tensor (rows x cols; a vector is 1 x n). */
static eef_tensor as_tensor(const hf_dir *h, const struct found *f)
{
    const st_tensor *t = f->t;
    int rows = t->n_dims == 2 ? (int)t->shape[0] : 1;
    int cols = t->n_dims == 2 ? (int)t->shape[1] : (int)t->shape[0];
    return (eef_tensor){ .dtype = t->dtype, .rows = rows, .cols = cols, .data = tensor_data(h, f) };
}

/* dst[rows, cols] f32 from the stored tensor, rows permuted for q/k. */
static void copy_f32(const hf_dir *h, const struct found *f, float *dst, int permute_hd)
{
    eef_tensor t = as_tensor(h, f);
    for (int r = 0; r < t.rows; r++)
        nn_tensor_rows_f32(&t, src_row(r, permute_hd), src_row(r, permute_hd) + 1,
                           dst + (size_t)r * t.cols);
}

/* A vector (norm gain, bias) in f32; q/k ones permuted element-wise
 * (seen as a column: one element a row). */
static void copy_vec(const hf_dir *h, const struct found *f, float *dst, int permute_hd)
{
    eef_tensor t = as_tensor(h, f);
    eef_tensor col = { .dtype = t.dtype, .rows = t.cols, .cols = 1, .data = t.data };
    for (int i = 0; i < t.cols; i++) {
        int s = src_row(i, permute_hd);
        nn_tensor_rows_f32(&col, s, s + 1, dst + i);
    }
}

/* The head size when the kind's rows (or elements) are permuted, else 0. */
static int permutation(const hf_dir *h, kind k)
{
    if (!h->hc.pairs) return 0;
    return (k == T_WQ || k == T_WK || k == T_BQ || k == T_BK || k == T_QN || k == T_KN)
               ? h->hc.cfg.head_dim : 0;
}

/* Trainable: everything in f32 into the parameter buffer's views. */
static void place_trainable(hf_dir *h, eef_model *m)
{
    const eef_model_config *c = &m->cfg;
    const size_t D = (size_t)c->d_model, F = (size_t)c->d_ff, hd = (size_t)c->head_dim,
                 Q = (size_t)c->n_heads * hd, K = (size_t)c->n_kv_heads * hd, W = Q + 2 * K;
    const eef_weights *w = &m->w;
    copy_f32(h, slot(h, T_EMBED, 0), w->wte, 0);
    copy_vec(h, slot(h, T_OUT_NORM, 0), w->out_norm, 0);
    if (!c->tied) copy_f32(h, slot(h, T_HEAD, 0), w->head, 0);
    for (int l = 0; l < c->n_layers; l++) {
        float *qkv = w->wqkv + l * W * D, *w13 = w->w13 + l * 2 * F * D;
        copy_vec(h, slot(h, T_ATTN_NORM, l), w->attn_norm + l * D, 0);
        copy_f32(h, slot(h, T_WQ, l), qkv, permutation(h, T_WQ));
        copy_f32(h, slot(h, T_WK, l), qkv + Q * D, permutation(h, T_WK));
        copy_f32(h, slot(h, T_WV, l), qkv + (Q + K) * D, 0);
        copy_f32(h, slot(h, T_WO, l), w->wo + l * D * Q, 0);
        copy_vec(h, slot(h, T_MLP_NORM, l), w->mlp_norm + l * D, 0);
        copy_f32(h, slot(h, T_W1, l), w13, 0);
        copy_f32(h, slot(h, T_W3, l), w13 + F * D, 0);
        copy_f32(h, slot(h, T_W2, l), w->w2 + l * D * F, 0);
        if (c->qkv_bias) {
            copy_vec(h, slot(h, T_BQ, l), w->bqkv + l * W, permutation(h, T_BQ));
            copy_vec(h, slot(h, T_BK, l), w->bqkv + l * W + Q, permutation(h, T_BK));
            copy_vec(h, slot(h, T_BV, l), w->bqkv + l * W + Q + K, 0);
        }
        if (c->qk_norm) {
            copy_vec(h, slot(h, T_QN, l), w->q_norm + l * hd, permutation(h, T_QN));
            copy_vec(h, slot(h, T_KN, l), w->k_norm + l * hd, permutation(h, T_KN));
        }
    }
}

/* A frozen matrix: the mapped bytes when they can be used as they are,
 * else a converted (or permuted) copy in the model's store. */
static eef_err frozen_matrix(hf_dir *h, eef_model *m, kind k, int l, eef_dtype want,
                             eef_tensor *out)
{
    const struct found *f = slot(h, k, l);
    eef_tensor t = as_tensor(h, f);
    int perm = permutation(h, k);
    eef_dtype dt = want == EEF_DT_COUNT ? t.dtype : want;
    size_t el = t.dtype == EEF_DT_F32 ? 4 : 2;
    if (dt == t.dtype && !perm && (uintptr_t)t.data % el == 0) {
        h->sh[f->shard].referenced = 1;
        *out = t;
        return EEF_OK;
    }
    const nn_dtype_ops *to = nn_dtype_ops_of(dt);
    size_t rb = eef_dtype_row_bytes(dt, t.cols);
    unsigned char *dst = nn_store_alloc(m, (size_t)t.rows * rb);
    float *row = eef_malloc((size_t)t.cols * sizeof(float));
    if (!dst || !row) {
        free(row);
        return EEF_ENOMEM;
    }
    for (int r = 0; r < t.rows; r++) {
        int s = src_row(r, perm);
        nn_tensor_rows_f32(&t, s, s + 1, row);
        to->from_f32(row, dst + (size_t)r * rb, t.cols);
    }
    free(row);
    *out = (eef_tensor){ .dtype = dt, .rows = t.rows, .cols = t.cols, .data = dst };
    return EEF_OK;
}

/* A frozen vector: always an f32 copy (it is small). */
static eef_err frozen_vec(hf_dir *h, eef_model *m, kind k, int l, float *into, const float **out)
{
    const struct found *f = slot(h, k, l);
    float *dst = into;
    if (!dst && !(dst = nn_store_alloc(m, (size_t)f->t->shape[0] * sizeof(float)))) return EEF_ENOMEM;
    copy_vec(h, f, dst, permutation(h, k));
    if (out) *out = dst;
    return EEF_OK;
}

static eef_err place_frozen(hf_dir *h, eef_model *m, eef_dtype want)
{
    const eef_model_config *c = &m->cfg;
    const size_t hd = (size_t)c->head_dim, Q = (size_t)c->n_heads * hd,
                 K = (size_t)c->n_kv_heads * hd;
    EEF_TRY(frozen_matrix(h, m, T_EMBED, 0, want, &m->embed));
    EEF_TRY(frozen_vec(h, m, T_OUT_NORM, 0, NULL, &m->out_norm));
    if (c->tied) m->head = m->embed;
    else EEF_TRY(frozen_matrix(h, m, T_HEAD, 0, want, &m->head));
    for (int l = 0; l < c->n_layers; l++) {
        eef_layer_weights *w = &m->layer[l];
        EEF_TRY(frozen_vec(h, m, T_ATTN_NORM, l, NULL, &w->attn_norm));
        EEF_TRY(frozen_matrix(h, m, T_WQ, l, want, &w->wq));
        EEF_TRY(frozen_matrix(h, m, T_WK, l, want, &w->wk));
        EEF_TRY(frozen_matrix(h, m, T_WV, l, want, &w->wv));
        EEF_TRY(frozen_matrix(h, m, T_WO, l, want, &w->wo));
        EEF_TRY(frozen_vec(h, m, T_MLP_NORM, l, NULL, &w->mlp_norm));
        EEF_TRY(frozen_matrix(h, m, T_W1, l, want, &w->w1));
        EEF_TRY(frozen_matrix(h, m, T_W3, l, want, &w->w3));
        EEF_TRY(frozen_matrix(h, m, T_W2, l, want, &w->w2));
        if (c->qkv_bias) { /* one [W] vector, q | k | v */
            float *b = nn_store_alloc(m, (Q + 2 * K) * sizeof(float));
            if (!b) return EEF_ENOMEM;
            EEF_TRY(frozen_vec(h, m, T_BQ, l, b, NULL));
            EEF_TRY(frozen_vec(h, m, T_BK, l, b + Q, NULL));
            EEF_TRY(frozen_vec(h, m, T_BV, l, b + Q + K, NULL));
            w->bqkv = b;
        }
        if (c->qk_norm) {
            EEF_TRY(frozen_vec(h, m, T_QN, l, NULL, &w->q_norm));
            EEF_TRY(frozen_vec(h, m, T_KN, l, NULL, &w->k_norm));
        }
    }
    return EEF_OK;
}

/* Hand the mappings frozen tensors point into to the model. */
static eef_err keep_mappings(hf_dir *h, eef_model *m)
{
    for (int i = 0; i < h->n_sh; i++) {
        if (!h->sh[i].referenced) continue;
        EEF_TRY(nn_store_adopt_map(m, h->sh[i].map, h->sh[i].len));
        h->sh[i].referenced = 0; /* the model's now */
        h->sh[i].map = NULL;
    }
    return EEF_OK;
}

/* DIR/tokenizer.json (with tokenizer_config.json and its chat template,
 * text/ refusing what it does not implement, an unknown template by name);
 * none when the directory has no tokenizer.json (the commands that need
 * one say so).  A tokenizer eef wrote for its own BPE comes back as eef's
 * own (eef_tok_eef_of_hf), so an exported agent keeps its role map and
 * encodes every byte string as before. */
static eef_err attach_tokenizer(const char *dir, const eef_model_config *c, eef_tokenizer **tok)
{
    *tok = NULL;
    char path[4200];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    if (!eef_file_exists(path)) return EEF_OK;
    eef_tokenizer *t, *own;
    EEF_TRY(eef_tok_load_hf_dir(dir, &t));
    eef_err e = eef_tok_eef_of_hf(t, path, &own);
    if (!e && own) {
        eef_tok_free(t);
        t = own;
    }
    if (!e && eef_tok_vocab_size(t) > c->vocab)
        e = eef_fail(EEF_EFORMAT, "%s: the tokenizer has ids up to %d, the model's embedding %d rows "
                     "(config.json vocab_size)", path, eef_tok_vocab_size(t) - 1, c->vocab);
    if (e) {
        eef_tok_free(t);
        return e;
    }
    *tok = t;
    return EEF_OK;
}

eef_err nn_load_hf(const char *dir, const eef_load_opts *o, eef_model **out)
{
    *out = NULL;
    eef_load_opts opts = o ? *o : (eef_load_opts){ .trainable = 0, .dtype = EEF_DT_COUNT };
    if (!opts.trainable && opts.dtype != EEF_DT_COUNT && opts.dtype != EEF_DT_F32 &&
        opts.dtype != EEF_DT_F16 && opts.dtype != EEF_DT_BF16)
        return eef_fail(EEF_EINVAL, "%s: weights load as F32, F16 or BF16, not %s", dir,
                        eef_dtype_name(opts.dtype));
    hf_dir h = { .dir = dir };
    char *text = NULL;
    size_t len = 0;
    int exists;
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    EEF_TRY(read_small(dir, "config.json", &text, &len, &exists));
    if (!exists)
        return eef_fail(EEF_EFORMAT, "%s: not a model (no .eefm file, and no config.json in it)",
                        dir);
    eef_err e = nn_hf_config_parse(text, len, path, &h.hc);
    free(text);
    if (e) return e;
    EEF_TRY(read_small(dir, "generation_config.json", &text, &len, &exists));
    if (exists) {
        snprintf(path, sizeof path, "%s/generation_config.json", dir);
        e = nn_hf_generation_parse(text, len, path, &h.hc);
        free(text);
        if (e) return e;
    }
    const eef_model_config *c = &h.hc.cfg;
    for (int i = 0; i < h.hc.n_eos; i++)
        if (h.hc.eos_ids[i] >= c->vocab)
            return eef_fail(EEF_EFORMAT, "%s: eos token id %d is not below vocab_size %d", dir,
                            h.hc.eos_ids[i], c->vocab);
    if (h.hc.bos_id >= c->vocab)
        return eef_fail(EEF_EFORMAT, "%s: bos token id %d is not below vocab_size %d", dir,
                        h.hc.bos_id, c->vocab);
    e = open_shards(&h);
    if (!e) e = find_tensors(&h);
    eef_tokenizer *tok = NULL;
    if (!e) e = attach_tokenizer(dir, c, &tok);
    eef_model *m = NULL;
    if (!e) e = opts.trainable ? eef_model_alloc(c, tok, &m) : eef_model_alloc_frozen(c, tok, &m);
    if (e && tok) eef_tok_free(tok);
    if (!e) {
        if (opts.trainable) place_trainable(&h, m);
        else e = place_frozen(&h, m, opts.dtype);
    }
    if (!e) e = keep_mappings(&h, m);
    if (!e) {
        snprintf(m->meta.arch, sizeof m->meta.arch, "%s", h.hc.arch);
        m->meta.bos_id = h.hc.bos_id;
        m->meta.n_eos = h.hc.n_eos;
        memcpy(m->meta.eos_ids, h.hc.eos_ids, sizeof m->meta.eos_ids);
    }
    release(&h);
    if (e) {
        eef_model_free(m);
        return e;
    }
    *out = m;
    return EEF_OK;
}

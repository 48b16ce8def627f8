/* model.c: configuration, presets, the parameter layout and initialisation. */
#include "nn.h"
#include "nn_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* SwiGLU width: Llama's 8/3 * D rounded up to a multiple of 64. */
static int swiglu_width(int d) { return ((8 * d / 3 + 63) / 64) * 64; }

eef_err eef_model_preset(const char *name, int vocab, eef_model_config *out)
{
    eef_model_config c = { .vocab = vocab, .tied = 0, .rope_theta = 10000.0f, .norm_eps = 1e-5f };
    if (strcmp(name, "tiny") == 0) {
        c.d_model = 32, c.n_layers = 2, c.n_heads = 2, c.d_ff = 96, c.max_ctx = 1024;
    } else if (strcmp(name, "small") == 0 || strcmp(name, "demo") == 0) {
        c.d_model = 128, c.n_layers = 4, c.n_heads = 4, c.max_ctx = 1024;
        c.d_ff = swiglu_width(c.d_model);
        /* the pipeline's agent ties its output head to the embedding: with
         * ~1000 demonstrations, copying a token it has read (an option, a
         * word of the instruction) is what it must learn, and a tied head
         * scores a token by the very vector attention retrieves (measured:
         * 10.0% vs 7.7% test wins after SFT, README) */
        c.tied = strcmp(name, "demo") == 0;
    } else if (strcmp(name, "base") == 0) {
        c.d_model = 256, c.n_layers = 6, c.n_heads = 8, c.max_ctx = 2048;
        c.d_ff = swiglu_width(c.d_model);
    } else {
        return eef_fail(EEF_EINVAL, "unknown model preset '%s' (tiny, small, base, demo)", name);
    }
    *out = c;
    return eef_model_config_check(out);
}

void eef_model_config_resolve(eef_model_config *c)
{
    if (c->n_kv_heads == 0) c->n_kv_heads = c->n_heads;
    if (c->head_dim == 0 && c->n_heads > 0) c->head_dim = c->d_model / c->n_heads;
}

eef_err eef_model_config_check(const eef_model_config *c)
{
    if (c->vocab < 2 || c->vocab > (1 << 20))
        return eef_fail(EEF_EINVAL, "model config: vocab %d out of range", c->vocab);
    if (c->d_model < 2 || c->d_model > 16384 || c->n_layers < 1 || c->n_layers > 256 ||
        c->n_heads < 1 || c->n_heads > 256)
        return eef_fail(EEF_EINVAL, "model config: d_model %d, n_layers %d, n_heads %d invalid",
                        c->d_model, c->n_layers, c->n_heads);
    if (c->head_dim == 0 && (c->d_model % c->n_heads != 0 || (c->d_model / c->n_heads) % 2 != 0))
        return eef_fail(EEF_EINVAL,
                        "model config: d_model %d, n_layers %d, n_heads %d invalid (the head "
                        "size d_model/n_heads must be a whole even number)",
                        c->d_model, c->n_layers, c->n_heads);
    if (c->head_dim != 0 && (c->head_dim < 2 || c->head_dim > 1024 || c->head_dim % 2 != 0))
        return eef_fail(EEF_EINVAL, "model config: head_dim %d invalid (an even number up to 1024)",
                        c->head_dim);
    if (c->n_kv_heads < 0 || c->n_kv_heads > c->n_heads ||
        (c->n_kv_heads > 0 && c->n_heads % c->n_kv_heads != 0))
        return eef_fail(EEF_EINVAL,
                        "model config: %d key/value heads for %d query heads (must divide them)",
                        c->n_kv_heads, c->n_heads);
    if (c->d_ff < 1 || c->d_ff > 1 << 20 || c->max_ctx < 2 || c->max_ctx > 1 << 20)
        return eef_fail(EEF_EINVAL, "model config: d_ff %d or max_ctx %d out of range", c->d_ff,
                        c->max_ctx);
    if (!(c->rope_theta > 1) || !(c->rope_theta < 1e12f) || !(c->norm_eps > 0) || c->norm_eps > 1)
        return eef_fail(EEF_EINVAL, "model config: rope_theta %g or norm_eps %g invalid",
                        (double)c->rope_theta, (double)c->norm_eps);
    if (c->tied != 0 && c->tied != 1) return eef_fail(EEF_EINVAL, "model config: tied must be 0 or 1");
    if ((c->qkv_bias != 0 && c->qkv_bias != 1) || (c->qk_norm != 0 && c->qk_norm != 1))
        return eef_fail(EEF_EINVAL, "model config: qkv_bias and qk_norm must be 0 or 1");
    if (c->rope_layout != EEF_ROPE_PAIRS && c->rope_layout != EEF_ROPE_HALF)
        return eef_fail(EEF_EINVAL, "model config: rope layout %d unknown", c->rope_layout);
    const eef_rope_scaling *s = &c->rope_scaling;
    if (s->factor != 0 &&
        (!(s->factor >= 1 && s->factor <= 1024) || !(s->low_freq_factor > 0) ||
         !(s->high_freq_factor > s->low_freq_factor) || !(s->high_freq_factor < 1e6f) ||
         s->original_ctx < 1 || s->original_ctx > 1 << 24))
        return eef_fail(EEF_EINVAL,
                        "model config: llama3 rope scaling (factor %g, low %g, high %g, "
                        "original context %d) invalid",
                        (double)s->factor, (double)s->low_freq_factor,
                        (double)s->high_freq_factor, s->original_ctx);
    return EEF_OK;
}

/* The 12 tensors of the trainable buffer, in the order they are laid out:
 * eef's original nine, then the Llama-family extras (empty for eef's own
 * models, so their layout and initialisation are what they always were). */
enum { N_TENSORS = 12 };
static void tensor_sizes(const eef_model_config *cfg, size_t s[N_TENSORS])
{
    eef_model_config c = *cfg;
    eef_model_config_resolve(&c);
    size_t V = (size_t)c.vocab, D = (size_t)c.d_model, L = (size_t)c.n_layers,
           F = (size_t)c.d_ff, hd = (size_t)c.head_dim, Q = (size_t)c.n_heads * hd,
           K = (size_t)c.n_kv_heads * hd, W = Q + 2 * K;
    s[0] = V * D;         /* wte */
    s[1] = L * D;         /* attn_norm */
    s[2] = L * W * D;     /* wqkv */
    s[3] = L * D * Q;     /* wo */
    s[4] = L * D;         /* mlp_norm */
    s[5] = L * 2 * F * D; /* w13 */
    s[6] = L * D * F;     /* w2 */
    s[7] = D;             /* out_norm */
    s[8] = c.tied ? 0 : V * D;     /* head */
    s[9] = c.qkv_bias ? L * W : 0; /* bqkv */
    s[10] = c.qk_norm ? L * hd : 0; /* q_norm */
    s[11] = c.qk_norm ? L * hd : 0; /* k_norm */
}

size_t eef_model_n_params(const eef_model_config *c)
{
    size_t s[N_TENSORS], n = 0;
    tensor_sizes(c, s);
    for (int i = 0; i < N_TENSORS; i++) n += s[i];
    return n;
}

void eef_weights_view(const eef_model_config *c, float *base, eef_weights *w)
{
    size_t s[N_TENSORS];
    tensor_sizes(c, s);
    float **views[N_TENSORS] = { &w->wte,  &w->attn_norm, &w->wqkv,     &w->wo,
                                 &w->mlp_norm, &w->w13,  &w->w2,       &w->out_norm,
                                 &w->head, &w->bqkv,     &w->q_norm,   &w->k_norm };
    float *p = base;
    for (int i = 0; i < N_TENSORS; i++) {
        *views[i] = s[i] ? p : NULL;
        p += s[i];
    }
    if (c->tied) w->head = w->wte;
}

static eef_tensor f32_tensor(const float *p, int rows, int cols)
{
    return (eef_tensor){ .dtype = EEF_DT_F32, .rows = rows, .cols = cols, .data = p };
}

void nn_bind_params(eef_model *m)
{
    const eef_model_config *c = &m->cfg;
    const eef_weights *w = &m->w;
    const int V = c->vocab, D = c->d_model, F = c->d_ff, hd = c->head_dim;
    const int Q = c->n_heads * hd, K = c->n_kv_heads * hd, W = Q + 2 * K;
    m->embed = f32_tensor(w->wte, V, D);
    m->head = f32_tensor(w->head, V, D);
    m->out_norm = w->out_norm;
    for (int l = 0; l < c->n_layers; l++) {
        eef_layer_weights *lw = &m->layer[l];
        const float *qkv = w->wqkv + (size_t)l * W * D, *w13 = w->w13 + (size_t)l * 2 * F * D;
        lw->attn_norm = w->attn_norm + (size_t)l * D;
        lw->wq = f32_tensor(qkv, Q, D);
        lw->wk = f32_tensor(qkv + (size_t)Q * D, K, D);
        lw->wv = f32_tensor(qkv + (size_t)(Q + K) * D, K, D);
        lw->bqkv = w->bqkv ? w->bqkv + (size_t)l * W : NULL;
        lw->q_norm = w->q_norm ? w->q_norm + (size_t)l * hd : NULL;
        lw->k_norm = w->k_norm ? w->k_norm + (size_t)l * hd : NULL;
        lw->wo = f32_tensor(w->wo + (size_t)l * D * Q, D, Q);
        lw->mlp_norm = w->mlp_norm + (size_t)l * D;
        lw->w1 = f32_tensor(w13, F, D);
        lw->w3 = f32_tensor(w13 + (size_t)F * D, F, D);
        lw->w2 = f32_tensor(w->w2 + (size_t)l * D * F, D, F);
    }
}

static void fill_normal(float *p, size_t n, float std, eef_rng *r)
{
    for (size_t i = 0; i < n; i++) p[i] = std * eef_rng_normal(r);
}

static void fill_const(float *p, size_t n, float v)
{
    for (size_t i = 0; i < n; i++) p[i] = v;
}

/* The model shell: config, metadata, layer table. */
static eef_err model_shell(const eef_model_config *cfg, eef_tokenizer *tok, eef_model **out)
{
    *out = NULL;
    eef_model_config c = *cfg;
    eef_model_config_resolve(&c);
    EEF_TRY(eef_model_config_check(&c));
    /* the embedding may have more rows than the tokenizer has tokens
     * (Qwen pads its vocabulary to a multiple of 128), never fewer */
    if (tok && eef_tok_vocab_size(tok) > c.vocab)
        return eef_fail(EEF_EINVAL, "model vocab %d is smaller than the tokenizer's %d",
                        c.vocab, eef_tok_vocab_size(tok));
    eef_nn_init();
    eef_model *m = eef_calloc(1, sizeof *m);
    if (!m) return EEF_ENOMEM;
    m->cfg = c;
    snprintf(m->meta.arch, sizeof m->meta.arch, "eef");
    m->meta.bos_id = -1;
    m->layer = eef_calloc((size_t)c.n_layers, sizeof *m->layer);
    m->store = eef_calloc(1, sizeof *m->store);
    if (!m->layer || !m->store) {
        free(m->layer);
        free(m->store);
        free(m);
        return EEF_ENOMEM;
    }
    m->tok = tok;
    *out = m;
    return EEF_OK;
}

eef_err eef_model_alloc(const eef_model_config *cfg, eef_tokenizer *tok, eef_model **out)
{
    EEF_TRY(model_shell(cfg, tok, out));
    eef_model *m = *out;
    m->n_params = eef_model_n_params(&m->cfg);
    m->params = eef_alloc_aligned(m->n_params * sizeof(float));
    if (!m->params) {
        m->tok = NULL; /* stays the caller's */
        eef_model_free(m);
        *out = NULL;
        return EEF_ENOMEM;
    }
    eef_weights_view(&m->cfg, m->params, &m->w);
    nn_bind_params(m);
    return EEF_OK;
}

eef_err eef_model_alloc_frozen(const eef_model_config *cfg, eef_tokenizer *tok, eef_model **out)
{
    return model_shell(cfg, tok, out);
}

eef_err eef_model_new(const eef_model_config *cfg, eef_tokenizer *tok, uint64_t seed,
                      eef_model **out)
{
    EEF_TRY(eef_model_alloc(cfg, tok, out));
    eef_model *m = *out;
    const eef_model_config *c = &m->cfg;
    size_t V = (size_t)c->vocab, D = (size_t)c->d_model, L = (size_t)c->n_layers,
           F = (size_t)c->d_ff, hd = (size_t)c->head_dim, Q = (size_t)c->n_heads * hd,
           W = Q + 2 * (size_t)c->n_kv_heads * hd;
    /* One stream per tensor, so adding a tensor does not shift the others. */
    const float std = 0.02f, proj_std = 0.02f / sqrtf(2.0f * (float)L);
    eef_rng r;
    r = eef_rng_make(eef_rng_key(seed, EEF_STREAM_MODEL_INIT, 0, 0));
    fill_normal(m->w.wte, V * D, std, &r);
    fill_const(m->w.attn_norm, L * D, 1.0f);
    r = eef_rng_make(eef_rng_key(seed, EEF_STREAM_MODEL_INIT, 2, 0));
    fill_normal(m->w.wqkv, L * W * D, std, &r);
    r = eef_rng_make(eef_rng_key(seed, EEF_STREAM_MODEL_INIT, 3, 0));
    fill_normal(m->w.wo, L * D * Q, proj_std, &r);
    fill_const(m->w.mlp_norm, L * D, 1.0f);
    r = eef_rng_make(eef_rng_key(seed, EEF_STREAM_MODEL_INIT, 5, 0));
    fill_normal(m->w.w13, L * 2 * F * D, std, &r);
    r = eef_rng_make(eef_rng_key(seed, EEF_STREAM_MODEL_INIT, 6, 0));
    fill_normal(m->w.w2, L * D * F, proj_std, &r);
    fill_const(m->w.out_norm, D, 1.0f);
    if (!c->tied) {
        r = eef_rng_make(eef_rng_key(seed, EEF_STREAM_MODEL_INIT, 8, 0));
        fill_normal(m->w.head, V * D, std, &r);
    }
    /* biases start at 0 (the buffer is zeroed), head-norm gains at 1 */
    if (c->qk_norm) {
        fill_const(m->w.q_norm, L * hd, 1.0f);
        fill_const(m->w.k_norm, L * hd, 1.0f);
    }
    return EEF_OK;
}

eef_err eef_model_ensure_grads(eef_model *m)
{
    if (m->grads) return EEF_OK;
    if (!m->params)
        return eef_fail(EEF_ESTATE, "the model's weights are frozen (%s): they have no gradients",
                        eef_dtype_name(m->embed.dtype));
    m->grads = eef_alloc_aligned(m->n_params * sizeof(float));
    if (!m->grads) return EEF_ENOMEM;
    eef_weights_view(&m->cfg, m->grads, &m->g);
    return EEF_OK;
}

void eef_model_zero_grad(eef_model *m)
{
    if (m->lora) {
        memset(m->lora->grads, 0, m->lora->n_params * sizeof(float));
        return;
    }
    if (m->grads) memset(m->grads, 0, m->n_params * sizeof(float));
}

void eef_model_free(eef_model *m)
{
    if (!m) return;
    eef_acts_free(m->acts);
    eef_free_aligned(m->params);
    eef_free_aligned(m->grads);
    if (m->tok) eef_tok_free(m->tok);
    nn_store_free(m->store);
    free(m->layer);
    free(m);
}

/* ------------------------------------------------------------ freezing */
/* A copy of t in dtype dt, in the model's store. */
static eef_err convert_tensor(eef_model *m, eef_tensor *t, eef_dtype dt)
{
    const nn_dtype_ops *to = nn_dtype_ops_of(dt);
    if (!to || !to->from_f32)
        return eef_fail(EEF_EINVAL, "cannot convert weights to %s", eef_dtype_name(dt));
    size_t rb = eef_dtype_row_bytes(dt, t->cols);
    if (!rb) return eef_fail(EEF_EINVAL, "a row of %d is not whole %s blocks", t->cols, eef_dtype_name(dt));
    unsigned char *dst = nn_store_alloc(m, (size_t)t->rows * rb);
    float *row = eef_malloc((size_t)t->cols * sizeof(float));
    if (!dst || !row) {
        free(row);
        return EEF_ENOMEM;
    }
    for (int r = 0; r < t->rows; r++) {
        nn_tensor_rows_f32(t, r, r + 1, row);
        to->from_f32(row, dst + (size_t)r * rb, t->cols);
    }
    free(row);
    t->dtype = dt;
    t->data = dst;
    return EEF_OK;
}

/* A copy of n floats in the model's store. */
static eef_err keep_f32(eef_model *m, const float **p, size_t n)
{
    if (!*p) return EEF_OK;
    float *d = nn_store_alloc(m, n * sizeof(float));
    if (!d) return EEF_ENOMEM;
    memcpy(d, *p, n * sizeof(float));
    *p = d;
    return EEF_OK;
}

static int bf16mm_type(eef_dtype t) { return t == EEF_DT_BF16 || t == EEF_DT_F32; }

/* A layer's seven matrices */
static void layer_mats(eef_layer_weights *w, eef_tensor *mats[7])
{
    eef_tensor *m[7] = { &w->wq, &w->wk, &w->wv, &w->wo, &w->w1, &w->w3, &w->w2 };
    memcpy(mats, m, sizeof m);
}

int eef_model_bf16_products(eef_model *m, int on)
{
    if (on && !nn_bf16mm_ok()) return 0;
    eef_tensor *t[] = { &m->embed, &m->head };
    for (size_t i = 0; i < EEF_ARRAY_LEN(t); i++) t[i]->bf16_products = on && bf16mm_type(t[i]->dtype);
    for (int l = 0; l < m->cfg.n_layers; l++) {
        eef_tensor *mats[7];
        layer_mats(&m->layer[l], mats);
        for (int i = 0; i < 7; i++) mats[i]->bf16_products = on && bf16mm_type(mats[i]->dtype);
    }
    return on;
}

eef_err eef_model_freeze(eef_model *m, eef_dtype dt)
{
    if (dt != EEF_DT_F32 && dt != EEF_DT_F16 && dt != EEF_DT_BF16)
        return eef_fail(EEF_EINVAL, "freeze: weights can be F32, F16 or BF16, not %s",
                        eef_dtype_name(dt));
    const eef_model_config *c = &m->cfg;
    const size_t D = (size_t)c->d_model, hd = (size_t)c->head_dim,
                 W = (size_t)(c->n_heads + 2 * c->n_kv_heads) * hd;
    int tied_same = m->head.data == m->embed.data && m->head.dtype == m->embed.dtype;
    EEF_TRY(convert_tensor(m, &m->embed, dt));
    if (tied_same) m->head = m->embed;
    else EEF_TRY(convert_tensor(m, &m->head, dt));
    EEF_TRY(keep_f32(m, &m->out_norm, D));
    for (int l = 0; l < c->n_layers; l++) {
        eef_layer_weights *w = &m->layer[l];
        eef_tensor *mats[7];
        layer_mats(w, mats);
        for (int i = 0; i < 7; i++) EEF_TRY(convert_tensor(m, mats[i], dt));
        EEF_TRY(keep_f32(m, &w->attn_norm, D));
        EEF_TRY(keep_f32(m, &w->mlp_norm, D));
        EEF_TRY(keep_f32(m, &w->bqkv, W));
        EEF_TRY(keep_f32(m, &w->q_norm, hd));
        EEF_TRY(keep_f32(m, &w->k_norm, hd));
    }
    eef_acts_free(m->acts);
    m->acts = NULL;
    eef_free_aligned(m->params);
    eef_free_aligned(m->grads);
    m->params = m->grads = NULL;
    m->n_params = 0;
    memset(&m->w, 0, sizeof m->w);
    memset(&m->g, 0, sizeof m->g);
    return EEF_OK;
}

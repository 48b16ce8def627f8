/* gguf_model.c: a llama.cpp GGUF file as an eef model.
 *
 * Architectures (general.architecture) and what they mean to eef:
 *   llama   Llama 1-3, Mistral, SmolLM: llama.cpp's converter permutes
 *           HF's q/k rows into the interleaved order and runs rope type
 *           NORM, rotating pairs (2i, 2i+1): eef's rope_layout PAIRS, so
 *           the rows are used as stored.  Optional q/k/v biases.  Llama
 *           3.1's frequency scaling arrives as a tensor of per-frequency
 *           divisors (rope_freqs.weight); eef fits its parameters to it
 *           (within 1e-4, or not at all).
 *   qwen2   rope type NEOX, pairs (i, i + hd/2), HF's order untouched:
 *           rope_layout HALF; q/k/v biases.
 *   qwen3   rope type NEOX as qwen2, no biases, per-head q/k RMSNorm.
 * Sizes come from ARCH.* keys (embedding_length, block_count,
 * feed_forward_length, attention.head_count[_kv], attention.key_length,
 * context_length, rope.freq_base, attention.layer_norm_rms_epsilon), the
 * vocabulary from token_embd's rows; a file without output.weight has a
 * tied head.  Anything else (another architecture, a tensor eef would not
 * use, partial rotary, rope scaling other than Llama 3.1's) is refused by
 * name.
 *
 * Weights: frozen matrices stay in the file's type and point into the
 * mapping (Q8_0, Q4_K, ... are multiplied packed: nn/quant.c); or are
 * converted to the type asked for; trainable loads copy all to f32.
 * Norm gains and biases are copied to f32. */
#include "gguf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef nn_tensor_kind kind;

static const char *const names[T_KINDS] = {
    [T_EMBED] = "token_embd.weight", [T_ATTN_NORM] = "attn_norm.weight",
    [T_WQ] = "attn_q.weight", [T_WK] = "attn_k.weight", [T_WV] = "attn_v.weight",
    [T_BQ] = "attn_q.bias", [T_BK] = "attn_k.bias", [T_BV] = "attn_v.bias",
    [T_QN] = "attn_q_norm.weight", [T_KN] = "attn_k_norm.weight",
    [T_WO] = "attn_output.weight", [T_MLP_NORM] = "ffn_norm.weight",
    [T_W1] = "ffn_gate.weight", [T_W3] = "ffn_up.weight", [T_W2] = "ffn_down.weight",
    [T_OUT_NORM] = "output_norm.weight", [T_HEAD] = "output.weight",
};


static void tensor_name(kind k, int l, char *out, size_t cap)
{
    if (nn_is_layer_kind(k)) snprintf(out, cap, "blk.%d.%s", l, names[k]);
    else snprintf(out, cap, "%s", names[k]);
}

typedef struct {
    const char *path;
    const unsigned char *map;
    size_t len;
    gg_file f;
    char arch[16];
    eef_model_config cfg;
    int bos, eos_ids[8], n_eos;
    const gg_tensor **found; /* [(L + 1) * T_KINDS] */
    int referenced;
} gg_model;

static const gg_tensor **slot(gg_model *g, kind k, int l)
{
    return nn_is_layer_kind(k) ? &g->found[(size_t)l * T_KINDS + k]
                            : &g->found[(size_t)g->cfg.n_layers * T_KINDS + k];
}

/* ------------------------------------------------------------ hyperparameters */
static eef_err arch_int(gg_model *g, const char *key, int required, int64_t lo, int64_t hi,
                        int dflt, int *out)
{
    char full[96];
    snprintf(full, sizeof full, "%s.%s", g->arch, key);
    const gg_kv *kv = gg_get(&g->f, full);
    int64_t v;
    if (!kv) {
        if (required) return eef_fail(EEF_EFORMAT, "%s: key %s missing", g->path, full);
        *out = dflt;
        return EEF_OK;
    }
    if (kv->type == GG_ARRAY)
        return eef_fail(EEF_EFORMAT, "%s: %s is an array (per-layer values are not supported)",
                        g->path, full);
    if (!gg_int(kv, lo, hi, &v))
        return eef_fail(EEF_EFORMAT, "%s: %s must be an integer in [%lld, %lld]", g->path, full,
                        (long long)lo, (long long)hi);
    *out = (int)v;
    return EEF_OK;
}

static eef_err arch_float(gg_model *g, const char *key, double dflt, double *out)
{
    char full[96];
    snprintf(full, sizeof full, "%s.%s", g->arch, key);
    const gg_kv *kv = gg_get(&g->f, full);
    if (!kv) {
        *out = dflt;
        return EEF_OK;
    }
    if (!gg_float(kv, out) || !isfinite(*out))
        return eef_fail(EEF_EFORMAT, "%s: %s must be a finite number", g->path, full);
    return EEF_OK;
}

static eef_err read_arch(gg_model *g)
{
    const gg_kv *a = gg_get(&g->f, "general.architecture");
    if (!a || a->type != GG_STRING)
        return eef_fail(EEF_EFORMAT, "%s: no general.architecture string", g->path);
    if (!gg_str_eq(a->v.s, "llama") && !gg_str_eq(a->v.s, "qwen2") && !gg_str_eq(a->v.s, "qwen3"))
        return eef_fail(EEF_EFORMAT, "%s: architecture '%.*s' is not supported (llama, qwen2, qwen3)",
                        g->path, a->v.s.n > 40 ? 40 : (int)a->v.s.n, a->v.s.p);
    snprintf(g->arch, sizeof g->arch, "%.*s", (int)a->v.s.n, a->v.s.p);
    eef_model_config *c = &g->cfg;
    memset(c, 0, sizeof *c);
    int kl, vl, rot;
    EEF_TRY(arch_int(g, "embedding_length", 1, 2, 16384, 0, &c->d_model));
    EEF_TRY(arch_int(g, "block_count", 1, 1, 256, 0, &c->n_layers));
    EEF_TRY(arch_int(g, "feed_forward_length", 1, 1, 1 << 20, 0, &c->d_ff));
    EEF_TRY(arch_int(g, "attention.head_count", 1, 1, 256, 0, &c->n_heads));
    EEF_TRY(arch_int(g, "attention.head_count_kv", 0, 1, 256, c->n_heads, &c->n_kv_heads));
    EEF_TRY(arch_int(g, "context_length", 0, 2, 1 << 20, 4096, &c->max_ctx));
    EEF_TRY(arch_int(g, "attention.key_length", 0, 2, 1024, c->d_model / c->n_heads, &kl));
    EEF_TRY(arch_int(g, "attention.value_length", 0, 2, 1024, kl, &vl));
    EEF_TRY(arch_int(g, "rope.dimension_count", 0, 2, 1024, kl, &rot));
    if (vl != kl)
        return eef_fail(EEF_EFORMAT, "%s: value heads of %d and key heads of %d (eef needs one head size)",
                        g->path, vl, kl);
    if (rot != kl)
        return eef_fail(EEF_EFORMAT, "%s: %s.rope.dimension_count %d of heads of %d (partial rotary is "
                        "not supported)", g->path, g->arch, rot, kl);
    c->head_dim = kl;
    double theta, eps;
    EEF_TRY(arch_float(g, "rope.freq_base", 10000.0, &theta));
    EEF_TRY(arch_float(g, "attention.layer_norm_rms_epsilon", 1e-5, &eps));
    c->rope_theta = (float)theta, c->norm_eps = (float)eps;
    char key[64];
    snprintf(key, sizeof key, "%s.rope.scaling.type", g->arch);
    const gg_kv *st = gg_get(&g->f, key);
    if (st && !(st->type == GG_STRING && gg_str_eq(st->v.s, "none")))
        return eef_fail(EEF_EFORMAT, "%s: %s is not 'none' (only Llama 3.1's rope scaling, given "
                        "as rope_freqs.weight, is supported)", g->path, key);
    int qwen = strcmp(g->arch, "llama") != 0;
    c->rope_layout = qwen ? EEF_ROPE_HALF : EEF_ROPE_PAIRS;
    c->qk_norm = strcmp(g->arch, "qwen3") == 0;
    c->qkv_bias = strcmp(g->arch, "qwen2") == 0 || (!qwen && gg_tensor_get(&g->f, "blk.0.attn_q.bias"));
    const gg_tensor *emb = gg_tensor_get(&g->f, "token_embd.weight");
    if (!emb) return eef_fail(EEF_EFORMAT, "%s: tensor 'token_embd.weight' missing", g->path);
    if (emb->n_dims != 2 || emb->ne[1] < 2 || emb->ne[1] > (1 << 20))
        return eef_fail(EEF_EFORMAT, "%s: token_embd.weight is not a [vocab, %d] matrix", g->path,
                        c->d_model);
    c->vocab = (int)emb->ne[1];
    int vs;
    EEF_TRY(arch_int(g, "vocab_size", 0, 1, 1 << 20, c->vocab, &vs));
    if (vs != c->vocab)
        return eef_fail(EEF_EFORMAT, "%s: %s.vocab_size %d but token_embd.weight has %d rows", g->path,
                        g->arch, vs, c->vocab);
    c->tied = gg_tensor_get(&g->f, "output.weight") == NULL;
    eef_err e = eef_model_config_check(c);
    if (e) return eef_fail(EEF_EFORMAT, "%s: %s", g->path, eef_errmsg());
    return EEF_OK;
}

/* Llama 3.1's scaling as llama.cpp stores it: rope_freqs.weight [hd/2],
 * frequency i divided by rf[i].  eef's four parameters (layers.c:
 * llama3_freq) are determined by the factor and the two wavelengths
 * T_low = original / low_freq_factor and T_high = original / high_freq_factor
 * (scaling all three leaves the frequencies alone); between them
 *   s = (1/rf - 1/factor) / (1 - 1/factor) = (1/wl - 1/T_low) / (1/T_high - 1/T_low),
 * linear in 1/wl, so T_low and T_high come from a least-squares line
 * through those frequencies (through the one, with T_high halfway to where
 * the groups' bounds allow; between the two groups when there are none).  The fit is accepted only if it gives back every rf[i]
 * within 1e-4. */
static eef_err fit_rope_freqs(gg_model *g, const gg_tensor *t)
{
    eef_model_config *c = &g->cfg;
    const int half = c->head_dim / 2;
    if (t->n_dims != 1 || t->ne[0] != (uint64_t)half || t->dtype != EEF_DT_F32)
        return eef_fail(EEF_EFORMAT, "%s: rope_freqs.weight is not an F32 vector of %d", g->path, half);
    float rf[512];
    memcpy(rf, t->data, (size_t)half * sizeof(float));
    const double pi = 3.14159265358979323846;
    double fac = 0, wl[512];
    for (int i = 0; i < half; i++) {
        if (!(rf[i] >= 1 && rf[i] <= 1024))
            return eef_fail(EEF_EFORMAT, "%s: rope_freqs.weight[%d] = %g is not a Llama 3.1 factor",
                            g->path, i, (double)rf[i]);
        fac = fmax(fac, rf[i]);
        wl[i] = 2 * pi / pow((double)c->rope_theta, -2.0 * i / c->head_dim);
    }
    if (fac <= 1) return EEF_OK; /* every factor 1: no scaling */
    double su = 0, ss = 0, suu = 0, sus = 0, max1 = 0, minf = INFINITY;
    int n = 0;
    for (int i = 0; i < half; i++) {
        double r = rf[i];
        if (fabs(r - 1) <= 1e-6) max1 = fmax(max1, wl[i]);
        else if (fabs(r - fac) <= 1e-6 * fac) minf = fmin(minf, wl[i]);
        else {
            double s = (1 / r - 1 / fac) / (1 - 1 / fac), u = 1 / wl[i];
            su += u, ss += s, suu += u * u, sus += u * s, n++;
        }
    }
    double inv_low, inv_high; /* 1 / T_low, 1 / T_high */
    if (n >= 2 && suu * n - su * su > 0) {
        double alpha = (n * sus - su * ss) / (n * suu - su * su), beta = (ss - alpha * su) / n;
        inv_low = -beta / alpha;
        inv_high = 1 / alpha + inv_low;
    } else if (n == 1) {
        /* one point: choose 1/T_high halfway to the next group's (in 1/wl),
         * the line through the point fixes 1/T_low */
        double u0 = su, s0 = ss;
        /* 1/T_high in (u0, 1/max1), and small enough that 1/T_low stays
         * above 1/minf (the group at the factor) */
        double top = (u0 - (1 - s0) / (minf < INFINITY ? minf : 1e300)) / s0;
        if (max1 > 0) top = fmin(top, 1 / max1);
        inv_high = (u0 + top) / 2;
        inv_low = (u0 - s0 * inv_high) / (1 - s0);
    } else if (n == 0 && max1 > 0 && minf < INFINITY && max1 < minf) {
        inv_high = 1 / (max1 * 1.0001), inv_low = 1 / (minf * 0.9999);
    } else {
        inv_low = inv_high = 0;
    }
    eef_rope_scaling sc = { 0 };
    if (inv_low > 0 && inv_high > inv_low) {
        int orig = (int)lrint(1 / inv_low);
        orig = orig < 1 ? 1 : orig;
        sc = (eef_rope_scaling){ (float)fac, (float)(orig * inv_low), (float)(orig * inv_high), orig };
        for (int i = 0; i < half && sc.factor != 0; i++) {
            double w = wl[i], want;
            if (w < orig / sc.high_freq_factor) want = 1;
            else if (w > orig / sc.low_freq_factor) want = sc.factor;
            else {
                double s = (orig / w - sc.low_freq_factor) / (sc.high_freq_factor - sc.low_freq_factor);
                want = 1 / ((1 - s) / sc.factor + s);
            }
            if (fabs(rf[i] - want) > 1e-4 * want) sc.factor = 0;
        }
    }
    if (sc.factor == 0)
        return eef_fail(EEF_EFORMAT, "%s: rope_freqs.weight is not Llama 3.1's frequency scaling",
                        g->path);
    c->rope_scaling = sc;
    return EEF_OK;
}

/* ------------------------------------------------------------ tensors */
static eef_err find_tensors(gg_model *g)
{
    const eef_model_config *c = &g->cfg;
    size_t n_slots = (size_t)(c->n_layers + 1) * T_KINDS;
    g->found = eef_calloc(n_slots, sizeof *g->found);
    if (!g->found) return EEF_ENOMEM;
    for (int l = 0; l <= c->n_layers; l++)
        for (int k = 0; k < T_KINDS; k++) {
            kind kk = (kind)k;
            uint64_t rows, cols;
            if ((l < c->n_layers) != nn_is_layer_kind(kk) || !nn_expected_shape(c, kk, &rows, &cols)) continue;
            char name[96];
            tensor_name(kk, l, name, sizeof name);
            const gg_tensor *t = gg_tensor_get(&g->f, name);
            if (!t) return eef_fail(EEF_EFORMAT, "%s: tensor '%s' missing", g->path, name);
            int ok = cols ? t->n_dims == 2 && t->ne[0] == cols && t->ne[1] == rows
                          : t->n_dims == 1 && t->ne[0] == rows;
            if (!ok)
                return eef_fail(EEF_EFORMAT, "%s: tensor '%s' has ne [%llu, %llu, %llu, %llu], the "
                                "%s config needs [%llu%s%llu]", g->path, name,
                                (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
                                (unsigned long long)t->ne[2], (unsigned long long)t->ne[3], g->arch,
                                (unsigned long long)(cols ? cols : rows), cols ? ", " : "",
                                (unsigned long long)(cols ? rows : 1));
            *slot(g, kk, l) = t;
        }
    for (size_t i = 0; i < g->f.n_tensors; i++) {
        const gg_tensor *t = &g->f.t[i];
        if (gg_str_eq(t->name, "rope_freqs.weight") && strcmp(g->arch, "llama") == 0) {
            EEF_TRY(fit_rope_freqs(g, t));
            continue;
        }
        int known = 0;
        for (size_t s = 0; s < n_slots && !known; s++) known = g->found[s] == t;
        if (!known)
            return eef_fail(EEF_EFORMAT, "%s: tensor '%.*s' is not part of a %s model eef runs",
                            g->path, (int)t->name.n, t->name.p, g->arch);
    }
    return EEF_OK;
}

static eef_tensor as_tensor(const gg_tensor *t)
{
    int rows = t->n_dims == 2 ? (int)t->ne[1] : 1;
    return (eef_tensor){ .dtype = t->dtype, .rows = rows, .cols = (int)t->ne[0], .data = t->data };
}

static void copy_f32(const gg_tensor *t, float *dst)
{
    eef_tensor x = as_tensor(t);
    nn_tensor_rows_f32(&x, 0, x.rows, dst);
}

static eef_err frozen_matrix(gg_model *g, eef_model *m, kind k, int l, eef_dtype want, eef_tensor *out)
{
    eef_tensor t = as_tensor(*slot(g, k, l));
    eef_dtype dt = want == EEF_DT_COUNT ? t.dtype : want;
    if (dt == t.dtype && (uintptr_t)t.data % 4 == 0) {
        g->referenced = 1;
        *out = t;
        return EEF_OK;
    }
    const nn_dtype_ops *to = nn_dtype_ops_of(dt);
    size_t rb = eef_dtype_row_bytes(dt, t.cols), srb = eef_dtype_row_bytes(t.dtype, t.cols);
    if (!rb)
        return eef_fail(EEF_EINVAL, "%s: rows of %d cannot be %s blocks", g->path, t.cols,
                        eef_dtype_name(dt));
    unsigned char *dst = nn_store_alloc(m, (size_t)t.rows * rb);
    if (!dst) return EEF_ENOMEM;
    if (dt == t.dtype) memcpy(dst, t.data, (size_t)t.rows * rb); /* unaligned in the file */
    else {
        float *row = eef_malloc((size_t)t.cols * sizeof(float));
        unsigned char *src = eef_malloc(srb);
        if (!row || !src) {
            free(row), free(src);
            return EEF_ENOMEM;
        }
        for (int r = 0; r < t.rows; r++) {
            memcpy(src, (const unsigned char *)t.data + (size_t)r * srb, srb);
            nn_dtype_ops_of(t.dtype)->to_f32(src, row, t.cols);
            to->from_f32(row, dst + (size_t)r * rb, t.cols);
        }
        free(row), free(src);
    }
    *out = (eef_tensor){ .dtype = dt, .rows = t.rows, .cols = t.cols, .data = dst };
    return EEF_OK;
}

static eef_err frozen_vec(gg_model *g, eef_model *m, kind k, int l, float *into, const float **out)
{
    const gg_tensor *t = *slot(g, k, l);
    float *dst = into ? into : nn_store_alloc(m, (size_t)t->ne[0] * sizeof(float));
    if (!dst) return EEF_ENOMEM;
    copy_f32(t, dst);
    if (out) *out = dst;
    return EEF_OK;
}

static eef_err place_frozen(gg_model *g, eef_model *m, eef_dtype want)
{
    const eef_model_config *c = &m->cfg;
    const size_t Q = (size_t)c->n_heads * c->head_dim, K = (size_t)c->n_kv_heads * c->head_dim;
    EEF_TRY(frozen_matrix(g, m, T_EMBED, 0, want, &m->embed));
    EEF_TRY(frozen_vec(g, m, T_OUT_NORM, 0, NULL, &m->out_norm));
    if (c->tied) m->head = m->embed;
    else EEF_TRY(frozen_matrix(g, m, T_HEAD, 0, want, &m->head));
    for (int l = 0; l < c->n_layers; l++) {
        eef_layer_weights *w = &m->layer[l];
        EEF_TRY(frozen_vec(g, m, T_ATTN_NORM, l, NULL, &w->attn_norm));
        EEF_TRY(frozen_matrix(g, m, T_WQ, l, want, &w->wq));
        EEF_TRY(frozen_matrix(g, m, T_WK, l, want, &w->wk));
        EEF_TRY(frozen_matrix(g, m, T_WV, l, want, &w->wv));
        EEF_TRY(frozen_matrix(g, m, T_WO, l, want, &w->wo));
        EEF_TRY(frozen_vec(g, m, T_MLP_NORM, l, NULL, &w->mlp_norm));
        EEF_TRY(frozen_matrix(g, m, T_W1, l, want, &w->w1));
        EEF_TRY(frozen_matrix(g, m, T_W3, l, want, &w->w3));
        EEF_TRY(frozen_matrix(g, m, T_W2, l, want, &w->w2));
        if (c->qkv_bias) {
            float *b = nn_store_alloc(m, (Q + 2 * K) * sizeof(float));
            if (!b) return EEF_ENOMEM;
            EEF_TRY(frozen_vec(g, m, T_BQ, l, b, NULL));
            EEF_TRY(frozen_vec(g, m, T_BK, l, b + Q, NULL));
            EEF_TRY(frozen_vec(g, m, T_BV, l, b + Q + K, NULL));
            w->bqkv = b;
        }
        if (c->qk_norm) {
            EEF_TRY(frozen_vec(g, m, T_QN, l, NULL, &w->q_norm));
            EEF_TRY(frozen_vec(g, m, T_KN, l, NULL, &w->k_norm));
        }
    }
    return EEF_OK;
}

static void place_trainable(gg_model *g, eef_model *m)
{
    const eef_model_config *c = &m->cfg;
    const size_t D = (size_t)c->d_model, F = (size_t)c->d_ff, hd = (size_t)c->head_dim,
                 Q = (size_t)c->n_heads * hd, K = (size_t)c->n_kv_heads * hd, W = Q + 2 * K;
    const eef_weights *w = &m->w;
    copy_f32(*slot(g, T_EMBED, 0), w->wte);
    copy_f32(*slot(g, T_OUT_NORM, 0), w->out_norm);
    if (!c->tied) copy_f32(*slot(g, T_HEAD, 0), w->head);
    for (int l = 0; l < c->n_layers; l++) {
        float *qkv = w->wqkv + l * W * D, *w13 = w->w13 + l * 2 * F * D;
        copy_f32(*slot(g, T_ATTN_NORM, l), w->attn_norm + l * D);
        copy_f32(*slot(g, T_WQ, l), qkv);
        copy_f32(*slot(g, T_WK, l), qkv + Q * D);
        copy_f32(*slot(g, T_WV, l), qkv + (Q + K) * D);
        copy_f32(*slot(g, T_WO, l), w->wo + l * D * Q);
        copy_f32(*slot(g, T_MLP_NORM, l), w->mlp_norm + l * D);
        copy_f32(*slot(g, T_W1, l), w13);
        copy_f32(*slot(g, T_W3, l), w13 + F * D);
        copy_f32(*slot(g, T_W2, l), w->w2 + l * D * F);
        if (c->qkv_bias) {
            copy_f32(*slot(g, T_BQ, l), w->bqkv + l * W);
            copy_f32(*slot(g, T_BK, l), w->bqkv + l * W + Q);
            copy_f32(*slot(g, T_BV, l), w->bqkv + l * W + Q + K);
        }
        if (c->qk_norm) {
            copy_f32(*slot(g, T_QN, l), w->q_norm + l * hd);
            copy_f32(*slot(g, T_KN, l), w->k_norm + l * hd);
        }
    }
}

/* bos / eos (and end-of-turn) ids of the tokenizer metadata */
static eef_err read_ids(gg_model *g)
{
    static const char *const keys[] = { "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                                         "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id" };
    g->bos = -1, g->n_eos = 0;
    for (int k = 0; k < 4; k++) {
        const gg_kv *kv = gg_get(&g->f, keys[k]);
        int64_t v;
        if (!kv) continue;
        if (!gg_int(kv, 0, g->cfg.vocab - 1, &v))
            return eef_fail(EEF_EFORMAT, "%s: %s is not a token id below %d", g->path, keys[k],
                            g->cfg.vocab);
        if (k == 0) g->bos = (int)v;
        else {
            int dup = 0;
            for (int i = 0; i < g->n_eos; i++) dup |= g->eos_ids[i] == v;
            if (!dup) g->eos_ids[g->n_eos++] = (int)v;
        }
    }
    return EEF_OK;
}

/* ------------------------------------------------------------ tokenizer */
static const char *kv_cstr(const gg_file *f, const char *key, char **pool, eef_err *e)
{
    const gg_kv *kv = gg_get(f, key);
    if (!kv || *e) return NULL;
    if (kv->type != GG_STRING) {
        *e = eef_fail(EEF_EFORMAT, "%s: %s is not a string", f->path, key);
        return NULL;
    }
    if (memchr(kv->v.s.p, 0, kv->v.s.n)) {
        *e = eef_fail(EEF_EFORMAT, "%s: %s holds a NUL byte", f->path, key);
        return NULL;
    }
    memcpy(*pool, kv->v.s.p, kv->v.s.n);
    (*pool)[kv->v.s.n] = 0;
    const char *s = *pool;
    *pool += kv->v.s.n + 1;
    return s;
}

/* A string array as NUL-terminated copies in *pool; list [n]. */
static eef_err str_array(const gg_file *f, const gg_kv *kv, const char *key, char **pool,
                         const char ***list, size_t *n)
{
    if (kv->type != GG_ARRAY || kv->v.a.type != GG_STRING)
        return eef_fail(EEF_EFORMAT, "%s: %s is not an array of strings", f->path, key);
    *n = (size_t)kv->v.a.n;
    *list = eef_malloc((*n + 1) * sizeof **list);
    if (!*list) return EEF_ENOMEM;
    const unsigned char *p = kv->v.a.data;
    for (size_t i = 0; i < *n; i++) {
        gg_str s;
        p = gg_str_next(p, &s);
        if (memchr(s.p, 0, s.n))
            return eef_fail(EEF_EFORMAT, "%s: %s[%zu] holds a NUL byte", f->path, key, i);
        memcpy(*pool, s.p, s.n);
        (*pool)[s.n] = 0;
        (*list)[i] = *pool;
        *pool += s.n + 1;
    }
    return EEF_OK;
}

static int opt_id(const gg_file *f, const char *key, eef_err *e)
{
    const gg_kv *kv = gg_get(f, key);
    int64_t v;
    if (!kv || *e) return -1;
    if (!gg_int(kv, 0, INT32_MAX, &v)) {
        *e = eef_fail(EEF_EFORMAT, "%s: %s is not a token id", f->path, key);
        return -1;
    }
    return (int)v;
}

static int opt_bool(const gg_file *f, const char *key, eef_err *e)
{
    const gg_kv *kv = gg_get(f, key);
    if (!kv || *e) return -1;
    if (kv->type != GG_BOOL) {
        *e = eef_fail(EEF_EFORMAT, "%s: %s is not a bool", f->path, key);
        return -1;
    }
    return (int)kv->v.u;
}

/* The tokenizer of the metadata (text/gguf_tok.c); none when the file has
 * no tokenizer.ggml.model. */
static eef_err gguf_tokenizer(const gg_file *f, int vocab, eef_tokenizer **out)
{
    *out = NULL;
    if (!gg_get(f, "tokenizer.ggml.model")) return EEF_OK;
    /* every string copied once: at most the file's bytes plus a NUL each */
    size_t need = 0;
    static const char *const strs[] = { "tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.chat_template" };
    static const char *const arrs[] = { "tokenizer.ggml.tokens", "tokenizer.ggml.merges" };
    for (int i = 0; i < 3; i++) {
        const gg_kv *kv = gg_get(f, strs[i]);
        if (kv && kv->type == GG_STRING) need += kv->v.s.n + 1;
    }
    for (int i = 0; i < 2; i++) {
        const gg_kv *kv = gg_get(f, arrs[i]);
        if (!kv || kv->type != GG_ARRAY || kv->v.a.type != GG_STRING) continue;
        const unsigned char *p = kv->v.a.data;
        for (uint64_t k = 0; k < kv->v.a.n; k++) {
            gg_str s;
            p = gg_str_next(p, &s);
            need += s.n + 1;
        }
    }
    char *pool0 = eef_malloc(need + 1), *pool = pool0;
    if (!pool0) return EEF_ENOMEM;
    eef_err e = EEF_OK;
    eef_tok_gguf t = { .where = f->path };
    const char **tokens = NULL, **merges = NULL;
    int32_t *types = NULL;
    t.model = kv_cstr(f, "tokenizer.ggml.model", &pool, &e);
    t.pre = kv_cstr(f, "tokenizer.ggml.pre", &pool, &e);
    t.chat_template = kv_cstr(f, "tokenizer.chat_template", &pool, &e);
    const gg_kv *kt = gg_get(f, "tokenizer.ggml.tokens"), *km = gg_get(f, "tokenizer.ggml.merges"),
                *ky = gg_get(f, "tokenizer.ggml.token_type");
    if (!e && !kt) e = eef_fail(EEF_EFORMAT, "%s: no tokenizer.ggml.tokens", f->path);
    if (!e) e = str_array(f, kt, "tokenizer.ggml.tokens", &pool, &tokens, &t.n_tokens);
    if (!e && km) e = str_array(f, km, "tokenizer.ggml.merges", &pool, &merges, &t.n_merges);
    if (!e && t.n_tokens > (size_t)vocab)
        e = eef_fail(EEF_EFORMAT, "%s: %zu tokens but token_embd.weight has %d rows", f->path,
                     t.n_tokens, vocab);
    if (!e && ky) {
        if (ky->type != GG_ARRAY || ky->v.a.type != GG_INT32 || ky->v.a.n != t.n_tokens)
            e = eef_fail(EEF_EFORMAT, "%s: tokenizer.ggml.token_type is not an int32 array of %zu",
                         f->path, t.n_tokens);
        else if (!(types = eef_malloc((t.n_tokens + 1) * sizeof *types))) e = EEF_ENOMEM;
        else memcpy(types, ky->v.a.data, t.n_tokens * sizeof *types);
    }
    t.tokens = tokens, t.merges = merges, t.types = types;
    t.bos = opt_id(f, "tokenizer.ggml.bos_token_id", &e);
    t.eos = opt_id(f, "tokenizer.ggml.eos_token_id", &e);
    t.pad = opt_id(f, "tokenizer.ggml.padding_token_id", &e);
    t.add_bos = opt_bool(f, "tokenizer.ggml.add_bos_token", &e);
    t.add_eos = opt_bool(f, "tokenizer.ggml.add_eos_token", &e);
    if (!e) e = eef_tok_load_gguf(&t, out);
    free(tokens), free(merges), free(types), free(pool0);
    return e;
}

eef_err nn_load_gguf(const char *path, const eef_load_opts *o, eef_model **out)
{
    *out = NULL;
    eef_load_opts opts = o ? *o : (eef_load_opts){ .trainable = 0, .dtype = EEF_DT_COUNT };
    if (!opts.trainable && opts.dtype != EEF_DT_COUNT && !eef_dtype_supported(opts.dtype))
        return eef_fail(EEF_EINVAL, "%s: weights cannot be converted to %s", path,
                        eef_dtype_name(opts.dtype));
    gg_model g = { .path = path };
    EEF_TRY(nn_map_file(path, &g.map, &g.len));
    eef_err e = gg_parse(g.map, g.len, path, &g.f);
    if (!e) e = read_arch(&g);
    if (!e) e = find_tensors(&g);
    if (!e) e = read_ids(&g);
    eef_tokenizer *tok = NULL;
    if (!e) e = gguf_tokenizer(&g.f, g.cfg.vocab, &tok);
    eef_model *m = NULL;
    if (!e) e = opts.trainable ? eef_model_alloc(&g.cfg, tok, &m) : eef_model_alloc_frozen(&g.cfg, tok, &m);
    if (e && tok) eef_tok_free(tok);
    if (!e) {
        if (opts.trainable) place_trainable(&g, m);
        else e = place_frozen(&g, m, opts.dtype);
    }
    if (!e && g.referenced) {
        e = nn_store_adopt_map(m, g.map, g.len);
        if (!e) g.map = NULL;
    }
    if (!e) {
        snprintf(m->meta.arch, sizeof m->meta.arch, "%s", g.arch);
        m->meta.bos_id = g.bos;
        m->meta.n_eos = g.n_eos;
        memcpy(m->meta.eos_ids, g.eos_ids, sizeof m->meta.eos_ids);
    }
    free(g.found);
    gg_free(&g.f);
    if (g.map) nn_unmap_file(g.map, g.len);
    if (e) {
        eef_model_free(m);
        return e;
    }
    *out = m;
    return EEF_OK;
}

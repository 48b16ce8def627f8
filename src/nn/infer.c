/* infer.c: inference with a KV cache.
 *
 * New tokens are processed in one batched pass (prefill) whatever their
 * number: each new token attends to every cached token and to the new
 * tokens it may see — the earlier ones for a causal feed, its ancestors for
 * a trie (tree attention: many alternative continuations scored at once
 * without touching the cache).  The layers are nn/layer.c's, shared with
 * training; the attention over the cache is here.
 *
 * The cache holds keys (rotated) and values of Hkv heads per token; its
 * slots grow by doubling up to the capacity, so a model with a 128
 * K-token context costs memory only for what is used.  Keys are stored
 * transposed, a row of slots per head dimension, so that the scores of
 * one query or of many are register tiles over 16 keys at a time
 * (nn_tile_nt: each score a sum over the head's dimensions in order, the
 * same bits for a token alone and among a prompt's rows), without a
 * horizontal sum per key.
 */
#include "nn_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Score blocks: at most this many floats of attention scores at once, so
 * a long prompt against a long cache does not need n x keys floats. */
#define SCORE_MAX ((size_t)1 << 20)

struct eef_kv {
    const eef_model *m;
    int cap, len;        /* most tokens; tokens cached */
    int slots;           /* allocated positions per layer (a multiple of 16, < cap + 16) */
    int kld;             /* floats from one key row to the next (slots or slots + 16: ld16) */
    float *k;            /* [L, Hkv, hd, kld]: keys (rotated), transposed (kv_keys) */
    float *v;            /* [L, slots, K]: values */
    rope_table rope;     /* positions [0, slots) */
    float *last_logits;  /* [V] logits after the last fed token (valid if have_last) */
    int have_last;
    /* scratch for n tokens (grown on demand) */
    int scratch_n, scratch_keys, scratch_rows;
    float *x, *xn, *qkv_pre, *qk_rstd, *qkv, *att, *x2, *h13, *hact, *rstd;
    float *scores;       /* [score_threads, score block] */
    size_t score_block;  /* floats per thread */
    int score_threads;
    float *logits;       /* [scratch_rows, V] */
    int *pos;
    unsigned char *see;  /* [n, n] may new token i attend to new token j */
};


static int kv_width(const eef_model_config *c) { return c->n_kv_heads * c->head_dim; }

/* Layer l's keys of kv head g: hd rows kv->kld floats apart, key j's
 * dimension d at [d * kld + j]. */
static float *kv_keys(const eef_kv *kv, int l, int g)
{
    const eef_model_config *c = &kv->m->cfg;
    return kv->k + ((size_t)l * c->n_kv_heads + (size_t)g) * c->head_dim * kv->kld;
}

/* Stores the keys (all kv heads, K values each) of n tokens at slots
 * j..j+n-1 of layer l; token t's at keys + t * ld.  Row by row of the
 * transposed cache, so each of its K rows is visited once for the n. */
static void put_keys(eef_kv *kv, int l, int j, int n, const float *keys, size_t ld)
{
    const int K = kv_width(&kv->m->cfg);
    float *kt = kv_keys(kv, l, 0) + j;
    for (int i = 0; i < K; i++, kt += kv->kld)
        for (int t = 0; t < n; t++) kt[t] = keys[(size_t)t * ld + i];
}

/* The first len keys and values of one cache's arrays into another's
 * (key rows dkld and skld floats apart, values' layers dslots and sslots
 * tokens). */
static void copy_cached(float *dk, int dkld, float *dv, int dslots, const float *sk, int skld,
                        const float *sv, int sslots, int len, const eef_model_config *c)
{
    const size_t K = (size_t)kv_width(c), L = (size_t)c->n_layers;
    for (size_t r = 0; r < L * K; r++) /* a key row per (layer, head, dimension) */
        memcpy(dk + r * dkld, sk + r * skld, (size_t)len * sizeof(float));
    for (size_t l = 0; l < L; l++)
        memcpy(dv + l * dslots * K, sv + l * sslots * K, (size_t)len * K * sizeof(float));
}

/* Slots for at least `need` tokens (keys, values and rotary table). */
static eef_err ensure_slots(eef_kv *kv, int need)
{
    if (need <= kv->slots) return EEF_OK;
    const eef_model_config *c = &kv->m->cfg;
    int slots = kv->slots ? kv->slots : 256;
    while (slots < need) slots *= 2;
    if (slots > kv->cap) slots = kv->cap;
    slots = round16(slots); /* the tiles read keys 16 at a time */
    const int kld = ld16(slots);
    const size_t K = (size_t)kv_width(c), L = (size_t)c->n_layers;
    float *k = eef_alloc_aligned(L * kld * K * sizeof(float));
    float *v = eef_alloc_aligned(L * slots * K * sizeof(float));
    rope_table rt = { 0 };
    eef_err e = (!k || !v) ? EEF_ENOMEM : rope_table_init(&rt, slots, c);
    if (e) {
        eef_free_aligned(k);
        eef_free_aligned(v);
        return e;
    }
    memset(k, 0, L * kld * K * sizeof(float)); /* slots past len are read (not used) */
    if (kv->len > 0) copy_cached(k, kld, v, slots, kv->k, kv->kld, kv->v, kv->slots, kv->len, c);
    eef_free_aligned(kv->k);
    eef_free_aligned(kv->v);
    rope_table_free(&kv->rope);
    kv->k = k, kv->v = v, kv->rope = rt, kv->slots = slots, kv->kld = kld;
    return EEF_OK;
}

eef_err eef_kv_new(const eef_model *m, int capacity, eef_kv **out)
{
    *out = NULL;
    if (capacity < 1 || capacity > m->cfg.max_ctx) capacity = m->cfg.max_ctx;
    eef_kv *kv = eef_calloc(1, sizeof *kv);
    if (!kv) return EEF_ENOMEM;
    const eef_model_config *c = &m->cfg;
    kv->m = m;
    kv->cap = capacity;
    kv->last_logits = eef_alloc_aligned((size_t)c->vocab * sizeof(float));
    /* eef's own models (contexts of 1-2 K) get every slot at once */
    eef_err e = !kv->last_logits ? EEF_ENOMEM : ensure_slots(kv, capacity <= 4096 ? capacity : 1);
    if (e) {
        eef_kv_free(kv);
        return e;
    }
    *out = kv;
    return EEF_OK;
}

static void free_scratch(eef_kv *kv)
{
    eef_free_aligned(kv->x);
    eef_free_aligned(kv->scores);
    eef_free_aligned(kv->logits);
    free(kv->pos);
    free(kv->see);
    kv->x = kv->scores = kv->logits = NULL;
    kv->pos = NULL;
    kv->see = NULL;
    kv->scratch_n = kv->scratch_keys = kv->scratch_rows = 0;
}

void eef_kv_free(eef_kv *kv)
{
    if (!kv) return;
    eef_free_aligned(kv->k);
    eef_free_aligned(kv->v);
    eef_free_aligned(kv->last_logits);
    rope_table_free(&kv->rope);
    free_scratch(kv);
    free(kv);
}

void eef_kv_reset(eef_kv *kv)
{
    kv->len = 0;
    kv->have_last = 0;
}

int eef_kv_len(const eef_kv *kv) { return kv->len; }

void eef_kv_truncate(eef_kv *kv, int len)
{
    if (len < kv->len) {
        kv->len = len < 0 ? 0 : len;
        kv->have_last = 0; /* the logits after token len-1 are not kept */
    }
}

/* One block holding n rows of each of the layer's intermediates, carved
 * into views[]: x, xn, qkv_pre, qk_rstd, qkv, att, x2, h13, hact, rstd
 * (qkv_pre and qk_rstd NULL without q/k norms).  NULL: out of memory. */
static float *alloc_rows(const eef_model_config *c, int n, float **const views[10])
{
    const nn_heads s = nn_heads_of(c);
    size_t D = (size_t)c->d_model, F = (size_t)c->d_ff, N = (size_t)n, W = (size_t)heads_w(&s),
           Q = (size_t)heads_q(&s), NH = (size_t)(s.H + s.Hkv);
    size_t qn = c->qk_norm ? 1 : 0;
    const size_t sizes[10] = { N * D, N * D, qn * N * W, qn * N * NH, N * W, N * Q, N * D,
                               N * 2 * F, N * F, N };
    size_t total = 0;
    for (size_t i = 0; i < 10; i++) total += (sizes[i] + 15) & ~(size_t)15;
    float *base = eef_alloc_aligned(total * sizeof(float));
    for (size_t i = 0, off = 0; base && i < 10; i++) {
        *views[i] = sizes[i] ? base + off : NULL;
        off += (sizes[i] + 15) & ~(size_t)15;
    }
    return base;
}

/* Buffers for n new tokens against the current slots, with logits for
 * `rows` of them. */
static eef_err ensure_scratch(eef_kv *kv, int n, int rows)
{
    const eef_model_config *c = &kv->m->cfg;
    int keys = kv->slots;
    if (n > kv->scratch_n || keys > kv->scratch_keys) {
        eef_free_aligned(kv->x);
        eef_free_aligned(kv->scores);
        free(kv->pos);
        free(kv->see);
        kv->x = kv->scores = NULL, kv->pos = NULL, kv->see = NULL;
        kv->scratch_n = kv->scratch_keys = 0;
        size_t N = (size_t)n;
        float **const views[10] = { &kv->x,   &kv->xn, &kv->qkv_pre, &kv->qk_rstd, &kv->qkv,
                                    &kv->att, &kv->x2, &kv->h13,     &kv->hact,    &kv->rstd };
        float *base = alloc_rows(c, n, views);
        /* one score block per thread: query rows x keys, at most SCORE_MAX;
         * at least a row per head (attend_heads) */
        const size_t H = (size_t)c->n_heads;
        size_t brows = SCORE_MAX / (size_t)ld16(keys);
        if (brows < 1) brows = 1;
        if (brows > (N > H ? N : H)) brows = N > H ? N : H;
        kv->score_block = brows * (size_t)ld16(keys);
        kv->score_threads = nn_max_threads();
        kv->scores = eef_alloc_aligned((size_t)kv->score_threads * kv->score_block * sizeof(float));
        kv->pos = eef_malloc(N * sizeof(int));
        kv->see = eef_malloc(N * N);
        if (!base || !kv->scores || !kv->pos || !kv->see) {
            eef_free_aligned(base);
            kv->x = NULL;
            free_scratch(kv);
            return EEF_ENOMEM;
        }
        kv->scratch_n = n;
        kv->scratch_keys = keys;
    }
    if (rows > kv->scratch_rows) {
        eef_free_aligned(kv->logits);
        kv->logits = eef_alloc_aligned((size_t)rows * c->vocab * sizeof(float));
        kv->scratch_rows = kv->logits ? rows : 0;
        if (!kv->logits) return EEF_ENOMEM;
    }
    return EEF_OK;
}

/* The attention of n new tokens over the cache (and each other): stores
 * their keys and values at slots len..len+n-1, then per query head
 * softmax(q k^T / sqrt(hd)) v over the keys each new token may see. */
typedef struct {
    nn_attn base;
    eef_kv *kv;
    int n;
    const int *parent; /* NULL: causal */
} kv_attn;

/* S [n]'s scaled scores in place become their softmax. */
static void softmax(float *S, int n)
{
    float mx = nn_vec.max(S, n);
    float sum = nn_vec.exp_shift_sum(S, n, mx);
    nn_vec.scale(S, n, 1.0f / sum);
}

/* One query row's attention over the first nk keys of layer l, every
 * head: the heads' scores and softmaxes in S (H rows ld16(nk) apart),
 * then their mixes of the values together (nn_vec.attn_values_heads:
 * attn_values' sums, several heads in flight), as attend_one's loop over
 * the heads computes them. */
static void attend_heads(const eef_kv *kv, int l, const float *q, int nk, float *out, float *S)
{
    const nn_heads s = nn_heads_of(&kv->m->cfg);
    const int hd = s.hd, G = s.H / s.Hkv, K = heads_k(&s), lds = ld16(nk);
    const float scale = 1.0f / sqrtf((float)hd);
    for (int h = 0; h < s.H; h++) {
        float *row = S + (size_t)h * lds;
        nn_tile_nt(row, lds, q + h * hd, hd, kv_keys(kv, l, h / G), kv->kld, 1, round16(nk), hd, scale, -1);
        softmax(row, nk);
    }
    nn_vec.attn_values_heads(out, S, (size_t)lds, kv->v + (size_t)l * kv->slots * K, (size_t)K, G, nk,
                             hd, s.H);
}

/* Caches of at least this many keys spread a lone row's heads over the
 * threads; shorter ones mix every head's values at once (attend_heads). */
#define THREADED_KEYS 2048

/* One token's attention over the first nk cached keys of layer l (its
 * own among them): each head's scores a one-row tile (nn_tile_nt), its
 * mix of the values nn_vec.attn_values (heads over the threads for a long
 * cache), or attend_heads' mix of all heads, the same sums.  eef_kv_feed of one token computes it here; eef_kv_step and
 * eef_kv_rows (attend_rows) make the same sums, so a token's bits depend
 * on the cache alone. */
static void attend_one(const eef_kv *kv, int l, const float *qkv, int nk, float *out)
{
    const eef_model_config *c = &kv->m->cfg;
    const nn_heads s = nn_heads_of(c);
    const int hd = s.hd, G = s.H / s.Hkv, K = heads_k(&s);
    if (nk < THREADED_KEYS && (size_t)s.H * (size_t)ld16(nk) <= kv->score_block) {
        attend_heads(kv, l, qkv, nk, out, kv->scores); /* the calling thread's block */
        return;
    }
    const float *vc = kv->v + (size_t)l * kv->slots * K;
    const float scale = 1.0f / sqrtf((float)hd);
    /* one score block (at least slots floats) per thread of this cache */
#pragma omp parallel for schedule(static) num_threads(kv->score_threads) if (nk >= THREADED_KEYS)
    for (int h = 0; h < s.H; h++) {
        float *S = kv->scores + (size_t)nn_thread_id() * kv->score_block;
        const int g = h / G;
        nn_tile_nt(S, round16(nk), qkv + h * hd, hd, kv_keys(kv, l, g), kv->kld, 1, round16(nk), hd,
                   scale, -1);
        softmax(S, nk);
        nn_vec.attn_values(out + h * hd, S, vc + g * hd, (size_t)K, nk, hd);
    }
}

static eef_err kv_attention(const nn_attn *att, int l, const float *qkv, float *out)
{
    const kv_attn *ka = (const kv_attn *)att;
    eef_kv *kv = ka->kv;
    const eef_model_config *c = &kv->m->cfg;
    const nn_heads s = nn_heads_of(c);
    const int n = ka->n, len = kv->len, nk = len + n, hd = s.hd, G = s.H / s.Hkv;
    const int W = heads_w(&s), Q = heads_q(&s), K = heads_k(&s);
    float *vc = kv->v + (size_t)l * kv->slots * K;
    put_keys(kv, l, len, n, qkv + Q, (size_t)W);
    for (int i = 0; i < n; i++)
        memcpy(vc + (size_t)(len + i) * K, qkv + (size_t)i * W + Q + K, K * sizeof(float));
    const float scale = 1.0f / sqrtf((float)hd);
    if (n == 1) {
        attend_one(kv, l, qkv, nk, out);
        return EEF_OK;
    }
    int brows = (int)(kv->score_block / (size_t)nk);
    if (brows > n) brows = n;
    const int parent_tree = ka->parent != NULL;
#pragma omp parallel for schedule(static) num_threads(kv->score_threads) if ((size_t)n * nk >= 2048)
    for (int h = 0; h < s.H; h++) {
        float *S = kv->scores + (size_t)nn_thread_id() * kv->score_block;
        const int g = h / G;
        for (int q0 = 0; q0 < n; q0 += brows) {
            const int nb = n - q0 < brows ? n - q0 : brows;
            nn_gemm(0, 0, nb, nk, hd, scale, qkv + (size_t)q0 * W + h * hd, W, kv_keys(kv, l, g),
                    kv->kld, 0.0f, S, nk);
            for (int r = 0; r < nb; r++) {
                const int i = q0 + r;
                float *row = S + (size_t)r * nk;
                if (!parent_tree) { /* causal: keys [0, len + i] */
                    int nv = len + i + 1;
                    softmax(row, nv);
                    if (nk > nv) memset(row + nv, 0, (size_t)(nk - nv) * sizeof(float));
                    continue;
                }
                /* tree: the cache and the ancestors among the new tokens */
                const unsigned char *see = kv->see + (size_t)i * n;
                for (int j = 0; j < n; j++)
                    if (!see[j]) row[len + j] = -INFINITY;
                float mx = nn_vec.max(row, nk);
                nn_vec.exp_shift(row, nk, mx);
                float sum = 0.0f;
                for (int j = 0; j < nk; j++) {
                    if (j >= len && !see[j - len]) row[j] = 0.0f;
                    sum += row[j];
                }
                nn_vec.scale(row, nk, 1.0f / sum);
            }
            nn_gemm(0, 0, nb, hd, nk, 1.0f, S, nk, vc + g * hd, K, 0.0f,
                    out + (size_t)q0 * Q + h * hd, Q);
        }
    }
    return EEF_OK;
}

/* Runs n new tokens through the model.  parent[i] (or NULL for a causal
 * feed) is the index of token i's predecessor among the new tokens, -1 for
 * one that follows the cache directly.  The new tokens' keys and values
 * are written at cache slots len..len+n-1 but len is not advanced.
 * Logits are left in kv->logits: of the last token only (last_only), or
 * of every new token (row i at i * V). */
static eef_err forward_new(eef_kv *kv, const int *tokens, const int *parent, int n, int last_only)
{
    const eef_model *m = kv->m;
    const eef_model_config *c = &m->cfg;
    const int D = c->d_model, V = c->vocab, L = c->n_layers, len = kv->len, nk = len + n;
    if (n <= 0) return EEF_OK;
    if (nk > kv->cap)
        return eef_fail(EEF_EINVAL, "context full: %d cached + %d new tokens > capacity %d", len,
                        n, kv->cap);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= V)
            return eef_fail(EEF_EINVAL, "token id %d out of range [0, %d)", tokens[i], V);
    EEF_TRY(ensure_slots(kv, nk));
    EEF_TRY(ensure_scratch(kv, n, last_only ? 1 : n));
    /* positions and visibility among the new tokens */
    for (int i = 0; i < n; i++) {
        int p = parent ? parent[i] : i - 1;
        if (p >= i) return eef_fail(EEF_EINVAL, "tree: parent %d of node %d must precede it", p, i);
        kv->pos[i] = p < 0 ? len : kv->pos[p] + 1;
        if (kv->pos[i] >= c->max_ctx || kv->pos[i] >= kv->slots)
            return eef_fail(EEF_EINVAL, "position %d beyond context %d", kv->pos[i], c->max_ctx);
        unsigned char *row = kv->see + (size_t)i * n;
        if (!parent) {
            for (int j = 0; j < n; j++) row[j] = j <= i;
        } else {
            memset(row, 0, (size_t)n);
            for (int j = i; j >= 0; j = parent[j]) row[j] = 1;
        }
    }
    nn_embed(m, tokens, n, kv->x);
    kv_attn att = { { kv_attention }, kv, n, parent };
    nn_layer_buf b = { .xn1 = kv->xn, .rstd1 = kv->rstd, .qkv_pre = kv->qkv_pre,
                       .qk_rstd = kv->qk_rstd, .qkv = kv->qkv, .att = kv->att, .x2 = kv->x2,
                       .xn2 = kv->xn, .rstd2 = kv->rstd, .h13 = kv->h13, .hact = kv->hact };
    for (int l = 0; l < L; l++)
        EEF_TRY(nn_layer_forward(m, l, n, kv->x, kv->x, kv->pos, &kv->rope, &b, &att.base));
    /* final norm and head on the wanted rows */
    if (last_only) {
        memcpy(kv->xn, kv->x + (size_t)(n - 1) * D, D * sizeof(float));
        return nn_head_forward(m, kv->xn, 1, kv->x2, kv->rstd, kv->logits);
    }
    return nn_head_forward(m, kv->x, n, kv->x2, kv->rstd, kv->logits);
}

eef_err eef_kv_feed(eef_kv *kv, const int *tokens, int n, float *logits)
{
    if (n <= 0) {
        if (logits && kv->have_last)
            memcpy(logits, kv->last_logits, (size_t)kv->m->cfg.vocab * sizeof(float));
        return n == 0 ? EEF_OK : eef_fail(EEF_EINVAL, "negative token count");
    }
    /* only the last row's logits are needed */
    EEF_TRY(forward_new(kv, tokens, NULL, n, 1));
    const int V = kv->m->cfg.vocab;
    memcpy(kv->last_logits, kv->logits, (size_t)V * sizeof(float));
    kv->have_last = 1;
    kv->len += n;
    if (logits) memcpy(logits, kv->last_logits, (size_t)V * sizeof(float));
    return EEF_OK;
}

int eef_kv_capacity(const eef_kv *kv) { return kv->cap; }

const eef_model *eef_kv_model(const eef_kv *kv) { return kv->m; }

const float *eef_kv_logits(const eef_kv *kv) { return kv->have_last ? kv->last_logits : NULL; }

eef_err eef_kv_copy(eef_kv *dst, const eef_kv *src, int len)
{
    if (dst->m != src->m) return eef_fail(EEF_EINVAL, "kv copy: the caches belong to different models");
    if (len < 0 || len > src->len)
        return eef_fail(EEF_EINVAL, "kv copy: %d tokens of a cache holding %d", len, src->len);
    if (len > dst->cap)
        return eef_fail(EEF_EINVAL, "kv copy: %d tokens exceed the capacity %d", len, dst->cap);
    if (dst == src) {
        eef_kv_truncate(dst, len);
        return EEF_OK;
    }
    dst->len = 0; /* nothing of dst's own to keep when its slots grow */
    dst->have_last = 0;
    EEF_TRY(ensure_slots(dst, len));
    copy_cached(dst->k, dst->kld, dst->v, dst->slots, src->k, src->kld, src->v, src->slots, len,
                &src->m->cfg);
    dst->len = len;
    if (len == src->len && src->have_last) {
        memcpy(dst->last_logits, src->last_logits, (size_t)src->m->cfg.vocab * sizeof(float));
        dst->have_last = 1;
    }
    return EEF_OK;
}

/* ------------------------------------------------------------ batched decoding */
struct eef_kvb {
    const eef_model *m;
    int max;
    float *block; /* the row views below */
    float *x, *xn, *qkv_pre, *qk_rstd, *qkv, *att, *x2, *h13, *hact, *rstd;
    float *logits; /* [max, V] */
    int *pos, *rows; /* [max]: each row's position; the rows whose logits are wanted */
    int *group;      /* [max + 1]: step_attn's runs */
    float *scores;   /* [score_threads, max_ctx] (step_attn) */
    int score_threads;
    rope_table rope; /* positions [0, rope.n_pos), grown by doubling */
};

eef_err eef_kvb_new(const eef_model *m, int max_seqs, eef_kvb **out)
{
    *out = NULL;
    /* the row kernel's limit (matmul.c: FEW_ROWS), which makes each row's
     * bits independent of the batch */
    if (max_seqs < 1 || max_seqs > 32)
        return eef_fail(EEF_EINVAL, "batched decoding: %d sequences a step (1 to 32)", max_seqs);
    eef_kvb *b = eef_calloc(1, sizeof *b);
    if (!b) return EEF_ENOMEM;
    b->m = m;
    b->max = max_seqs;
    float **const views[10] = { &b->x,   &b->xn, &b->qkv_pre, &b->qk_rstd, &b->qkv,
                                &b->att, &b->x2, &b->h13,     &b->hact,    &b->rstd };
    b->block = alloc_rows(&m->cfg, max_seqs, views);
    b->logits = eef_alloc_aligned((size_t)max_seqs * m->cfg.vocab * sizeof(float));
    b->pos = eef_malloc((size_t)max_seqs * sizeof(int));
    b->rows = eef_malloc((size_t)max_seqs * sizeof(int));
    b->group = eef_malloc((size_t)(max_seqs + 1) * sizeof(int));
    if (!b->block || !b->logits || !b->pos || !b->rows || !b->group) {
        eef_kvb_free(b);
        return EEF_ENOMEM;
    }
    *out = b;
    return EEF_OK;
}

void eef_kvb_free(eef_kvb *b)
{
    if (!b) return;
    eef_free_aligned(b->block);
    eef_free_aligned(b->logits);
    free(b->pos);
    free(b->rows);
    free(b->group);
    eef_free_aligned(b->scores);
    rope_table_free(&b->rope);
    free(b);
}

/* The attention of the step's rows: row i's key and value go to slot
 * pos[i] of kvs[i]'s cache (all rows' first: a cache's later rows see
 * its earlier ones), then row i attends to that cache's keys [0, pos[i]]
 * exactly as eef_kv_feed of its token alone does (attend_one).  The
 * consecutive rows of one cache (a prompt) are register tiles: their
 * scores one nn_tile_nt over the rows, their mixes of the values one
 * nn_tile_nn (each row's weights zero past its own keys), every element
 * summed in the order attend_one sums it, so the bits are those of each
 * row alone.  (groups x heads) over the threads. */
typedef struct {
    nn_attn base;
    eef_kv *const *kvs;
    const int *pos;
    int n;
    float *scores;   /* [threads, score_n]: a thread's scores */
    size_t score_n;
    int *group;      /* [n + 1]: first row of each run of one cache's rows */
} step_attn;

/* Rows [r0, r1) of one cache, head h: scores of each query row against
 * the keys any of them sees, then each row's softmax over its own keys
 * and its values, as attend_one computes them. */
static void attend_rows(const step_attn *sa, int l, int r0, int r1, int h, const float *qkv,
                        float *out, float *S)
{
    const eef_kv *kv = sa->kvs[r0];
    const nn_heads s = nn_heads_of(&kv->m->cfg);
    const int hd = s.hd, G = s.H / s.Hkv, K = heads_k(&s), W = heads_w(&s), Q = heads_q(&s);
    const int g = h / G;
    const float *vc = kv->v + (size_t)l * kv->slots * K + g * hd;
    const float scale = 1.0f / sqrtf((float)hd);
    int nk = 0, diag = sa->pos[r0]; /* a prompt's rows, consecutive positions: causal tiles */
    for (int i = r0; i < r1; i++) {
        if (sa->pos[i] + 1 > nk) nk = sa->pos[i] + 1;
        if (sa->pos[i] != sa->pos[r0] + (i - r0)) diag = -1;
    }
    const int m = r1 - r0, lds = ld16(nk);
    nn_tile_nt(S, lds, qkv + (size_t)r0 * W + h * hd, W, kv_keys(kv, l, g), kv->kld, m, round16(nk), hd,
               scale, diag);
    /* the values as tiles where attn_values' sums are the tiles' (its
     * vectors of 16: hd a multiple of 16 with AVX-512) */
    const int tiles = m > 1 && hd % 16 == 0 && nn_tiles_ok();
    for (int i = 0; i < m; i++) {
        float *row = S + (size_t)i * lds;
        const int nv = sa->pos[r0 + i] + 1;
        softmax(row, nv);
        if (!tiles) nn_vec.attn_values(out + (size_t)(r0 + i) * Q + h * hd, row, vc, (size_t)K, nv, hd);
        else if (nk > nv) memset(row + nv, 0, (size_t)(nk - nv) * sizeof(float));
    }
    if (tiles) nn_tile_nn(out + (size_t)r0 * Q + h * hd, Q, S, lds, vc, K, m, nk, hd, 1.0f, diag);
}

static eef_err step_attention(const nn_attn *att, int l, const float *qkv, float *out)
{
    const step_attn *sa = (const step_attn *)att;
    const nn_heads s = nn_heads_of(&sa->kvs[0]->m->cfg);
    const int W = heads_w(&s), Q = heads_q(&s), K = heads_k(&s);
    for (int i = 0, i1; i < sa->n; i = i1) {
        eef_kv *kv = sa->kvs[i];
        for (i1 = i + 1; i1 < sa->n && sa->kvs[i1] == kv; i1++) {} /* a cache's rows, consecutive slots */
        put_keys(kv, l, sa->pos[i], i1 - i, qkv + (size_t)i * W + Q, (size_t)W);
        for (int r = i; r < i1; r++)
            memcpy(kv->v + ((size_t)l * kv->slots + (size_t)sa->pos[r]) * K, qkv + (size_t)r * W + Q + K,
                   K * sizeof(float));
    }
    /* runs of one cache's rows, cut so that a run's scores fit */
    int ng = 0;
    for (int i = 0; i < sa->n; i++) {
        const int r0 = ng ? sa->group[ng - 1] : -1;
        if (!ng || sa->kvs[i] != sa->kvs[i - 1] ||
            (size_t)(i - r0 + 1) * (size_t)ld16(sa->pos[i] + 1) > sa->score_n)
            sa->group[ng++] = i;
    }
    sa->group[ng] = sa->n;
    const int H = s.H;
#pragma omp parallel for schedule(dynamic, 1) if (ng * H > 1 && !omp_in_parallel())
    for (int t = 0; t < ng * H; t++) {
        const int gi = t / H, h = t % H, r0 = sa->group[gi];
        float *S = sa->scores + (size_t)nn_thread_id() * sa->score_n;
        /* a lone row (a decoding lane): its heads together */
        if (sa->group[gi + 1] == r0 + 1 && (size_t)H * (size_t)ld16(sa->pos[r0] + 1) <= sa->score_n) {
            if (h == 0)
                attend_heads(sa->kvs[r0], l, qkv + (size_t)r0 * W, sa->pos[r0] + 1, out + (size_t)r0 * Q, S);
            continue;
        }
        attend_rows(sa, l, r0, sa->group[gi + 1], h, qkv, out, S);
    }
    return EEF_OK;
}

/* n rows, row i appending tokens[i] to kvs[i]; a cache may take several
 * rows (its tokens in order), distinct = 1 refuses that.  Logits: of
 * every row into `logits` ([n, V]) when all, else of each cache's last
 * row only; either way each cache's last row's become its
 * eef_kv_logits. */
static eef_err step_rows(eef_kvb *b, eef_kv *const *kvs, const int *tokens, int n, int distinct,
                         float *logits, int all)
{
    const eef_model *m = b->m;
    const eef_model_config *c = &m->cfg;
    const int V = c->vocab, D = c->d_model;
    if (n <= 0) return n == 0 ? EEF_OK : eef_fail(EEF_EINVAL, "negative sequence count");
    if (n > b->max) return eef_fail(EEF_EINVAL, "batched decoding: %d rows, buffers for %d", n, b->max);
    int max_pos = 0;
    /* positions: after the cache and the earlier rows of the same cache;
     * last[i]: row i is its cache's last */
    for (int i = 0; i < n; i++) {
        eef_kv *kv = kvs[i];
        if (kv->m != m) return eef_fail(EEF_EINVAL, "batched decoding: sequence %d has another model", i);
        int before = 0;
        for (int j = 0; j < i; j++) before += kvs[j] == kv;
        if (distinct && before) return eef_fail(EEF_EINVAL, "batched decoding: sequence %d appears twice", i);
        if (tokens[i] < 0 || tokens[i] >= V)
            return eef_fail(EEF_EINVAL, "token id %d out of range [0, %d)", tokens[i], V);
        const int pos = kv->len + before;
        if (pos + 1 > kv->cap)
            return eef_fail(EEF_EINVAL, "context full: %d cached + %d new tokens > capacity %d", kv->len,
                            before + 1, kv->cap);
        if (pos >= c->max_ctx) return eef_fail(EEF_EINVAL, "position %d beyond context %d", pos, c->max_ctx);
        b->pos[i] = pos;
        if (pos > max_pos) max_pos = pos;
    }
    for (int i = 0; i < n; i++) {
        EEF_TRY(ensure_slots(kvs[i], b->pos[i] + 1));
        EEF_TRY(ensure_scratch(kvs[i], 1, 1));
    }
    if (max_pos >= b->rope.n_pos) {
        int np = b->rope.n_pos ? b->rope.n_pos : 256;
        while (np <= max_pos) np *= 2;
        if (np > c->max_ctx) np = c->max_ctx;
        rope_table rt = { 0 };
        EEF_TRY(rope_table_init(&rt, np, c));
        rope_table_free(&b->rope);
        b->rope = rt;
    }
    nn_embed(m, tokens, n, b->x);
    /* a thread's scores: a whole context's keys for one row, or 32 rows
     * of 2048 keys (longer runs are cut) */
    const size_t ctx16 = (size_t)ld16(c->max_ctx);
    const size_t score_n = ctx16 > (size_t)32 * 2048 ? ctx16 : (size_t)32 * 2048;
    if (!b->scores || nn_max_threads() > b->score_threads) {
        eef_free_aligned(b->scores);
        b->score_threads = nn_max_threads();
        b->scores = eef_alloc_aligned((size_t)b->score_threads * score_n * sizeof(float));
        if (!b->scores) return EEF_ENOMEM;
    }
    step_attn att = { { step_attention }, kvs, b->pos, n, b->scores, score_n, b->group };
    nn_layer_buf lb = { .xn1 = b->xn, .rstd1 = b->rstd, .qkv_pre = b->qkv_pre,
                        .qk_rstd = b->qk_rstd, .qkv = b->qkv, .att = b->att, .x2 = b->x2,
                        .xn2 = b->xn, .rstd2 = b->rstd, .h13 = b->h13, .hact = b->hact };
    for (int l = 0; l < c->n_layers; l++)
        EEF_TRY(nn_layer_forward(m, l, n, b->x, b->x, b->pos, &b->rope, &lb, &att.base));
    /* the head on the wanted rows (the row kernel: a row's logits do not
     * depend on the others) */
    int *row = b->rows, nr = 0;
    for (int i = 0; i < n; i++) {
        int last = 1;
        for (int j = i + 1; j < n && last; j++) last = kvs[j] != kvs[i];
        if (all || last) row[nr++] = i;
    }
    const float *x = b->x;
    if (nr < n) {
        for (int r = 0; r < nr; r++)
            memcpy(b->xn + (size_t)r * D, b->x + (size_t)row[r] * D, (size_t)D * sizeof(float));
        x = b->xn;
    }
    float *out = logits ? logits : b->logits;
    EEF_TRY(nn_head_forward(m, x, nr, b->x2, b->rstd, out));
    for (int r = 0; r < nr; r++) {
        eef_kv *kv = kvs[row[r]];
        int last = 1;
        for (int j = row[r] + 1; j < n && last; j++) last = kvs[j] != kv;
        if (!last) continue;
        memcpy(kv->last_logits, out + (size_t)r * V, (size_t)V * sizeof(float));
        kv->have_last = 1;
    }
    for (int i = 0; i < n; i++) kvs[i]->len++;
    return EEF_OK;
}

eef_err eef_kv_step(eef_kvb *b, eef_kv *const *kvs, const int *tokens, int n, float *logits)
{
    return step_rows(b, kvs, tokens, n, 1, logits, 1);
}

eef_err eef_kv_rows(eef_kvb *b, eef_kv *const *kvs, const int *tokens, int n)
{
    return step_rows(b, kvs, tokens, n, 0, NULL, 0);
}

eef_err eef_kv_feed_rows(eef_kvb *b, eef_kv *kv, const int *tokens, int n)
{
    eef_kv *kvs[32];
    for (int at = 0; at < n;) {
        int k = n - at < b->max ? n - at : b->max;
        if (k > 32) k = 32;
        for (int i = 0; i < k; i++) kvs[i] = kv;
        EEF_TRY(step_rows(b, kvs, tokens + at, k, 0, NULL, 0));
        at += k;
    }
    return EEF_OK;
}

/* ------------------------------------------------------------ sampling */
typedef struct {
    float p;
    int id;
} prob_id;

static int by_prob_desc(const void *a, const void *b)
{
    const prob_id *x = a, *y = b;
    if (x->p != y->p) return x->p < y->p ? 1 : -1;
    return x->id - y->id;
}

int eef_sample_token(float *logits, int vocab, const eef_sampling *s, eef_rng *rng)
{
    int best = 0;
    for (int i = 1; i < vocab; i++)
        if (logits[i] > logits[best]) best = i;
    if (!s || s->temperature <= 0 || logits[best] == -INFINITY) return best;
    float inv_t = (float)(1.0 / s->temperature), mx = logits[best];
    double sum = 0.0;
    for (int i = 0; i < vocab; i++) {
        logits[i] = logits[i] == -INFINITY ? 0.0f : expf((logits[i] - mx) * inv_t);
        sum += logits[i];
    }
    double u = eef_rng_uniform(rng);
    if (s->top_p > 0 && s->top_p < 1) {
        /* nucleus: the smallest set of most likely tokens with mass >= top_p */
        prob_id *pi = malloc((size_t)vocab * sizeof *pi);
        if (pi) {
            int k = 0;
            for (int i = 0; i < vocab; i++)
                if (logits[i] > 0) pi[k++] = (prob_id){ (float)(logits[i] / sum), i };
            qsort(pi, (size_t)k, sizeof *pi, by_prob_desc);
            double cum = 0.0;
            int cut = k;
            for (int i = 0; i < k; i++) {
                cum += pi[i].p;
                if (cum >= s->top_p) {
                    cut = i + 1;
                    break;
                }
            }
            double mass = 0.0;
            for (int i = 0; i < cut; i++) mass += pi[i].p;
            double target = u * mass, acc = 0.0;
            int pick = pi[cut - 1].id;
            for (int i = 0; i < cut; i++) {
                acc += pi[i].p;
                if (target < acc) {
                    pick = pi[i].id;
                    break;
                }
            }
            free(pi);
            return pick;
        }
    }
    double target = u * sum, acc = 0.0;
    int last = best;
    for (int i = 0; i < vocab; i++) {
        if (logits[i] <= 0) continue;
        acc += logits[i];
        last = i;
        if (target < acc) return i;
    }
    return last;
}

eef_err eef_generate(eef_kv *kv, const int *prompt, int n_prompt, int max_new,
                     const eef_sampling *s, const int *stop, int n_stop, eef_rng *rng, int **out,
                     size_t *n_out, size_t *cap_out)
{
    const int V = kv->m->cfg.vocab;
    float *logits = eef_malloc((size_t)V * sizeof(float));
    if (!logits) return EEF_ENOMEM;
    eef_err e = eef_kv_feed(kv, prompt, n_prompt, logits);
    if (!e && !kv->have_last) e = eef_fail(EEF_ESTATE, "generate: nothing to continue from");
    for (int t = 0; !e && t < max_new; t++) {
        int tok = eef_sample_token(logits, V, s, rng);
        if (*n_out == *cap_out) {
            size_t cap = *cap_out ? 2 * *cap_out : 64;
            int *p = eef_realloc(*out, cap * sizeof(int));
            if (!p) {
                e = EEF_ENOMEM;
                break;
            }
            *out = p, *cap_out = cap;
        }
        (*out)[(*n_out)++] = tok;
        int is_stop = 0;
        for (int i = 0; i < n_stop; i++) is_stop |= stop[i] == tok;
        if (is_stop || kv->len >= kv->cap) break;
        e = eef_kv_feed(kv, &tok, 1, logits);
    }
    free(logits);
    return e;
}

eef_err eef_score_trie(eef_kv *kv, const eef_trie *trie, double *out)
{
    if (!kv->have_last) return eef_fail(EEF_ESTATE, "scoring needs a fed prompt");
    const int V = kv->m->cfg.vocab;
    /* feed every node that has children (its logits are needed), in node
     * order: a parent is always created before its children */
    int *idx = eef_malloc((size_t)trie->n * sizeof(int)); /* node -> fed row or -1 */
    int *toks = eef_malloc((size_t)trie->n * sizeof(int));
    int *par = eef_malloc((size_t)trie->n * sizeof(int));
    double *lp = eef_malloc((size_t)trie->n * sizeof(double)); /* log p of the path to node */
    eef_err e = (!idx || !toks || !par || !lp) ? EEF_ENOMEM : EEF_OK;
    int n = 0;
    for (int i = 1; !e && i < trie->n; i++) {
        idx[i] = -1;
        const trie_node *nd = &trie->nodes[i];
        if (nd->first_child < 0) continue;
        idx[i] = n;
        toks[n] = nd->token;
        par[n] = nd->parent == 0 ? -1 : idx[nd->parent];
        n++;
    }
    if (!e && n > 0) e = forward_new(kv, toks, par, n, 0);
    if (!e) {
        lp[0] = 0.0;
        for (int i = 1; i < trie->n; i++) {
            const trie_node *nd = &trie->nodes[i];
            const float *lg = nd->parent == 0 ? kv->last_logits
                                              : kv->logits + (size_t)idx[nd->parent] * V;
            lp[i] = lp[nd->parent] + (double)lg[nd->token] - nn_logsumexp(lg, V);
        }
        for (int k = 0; k < trie->n_seqs; k++) out[k] = lp[trie->seq_node[k]];
    }
    free(idx);
    free(toks);
    free(par);
    free(lp);
    return e;
}

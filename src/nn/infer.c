/* infer.c: inference with a KV cache.
 *
 * New tokens are processed in one batched pass (prefill) whatever their
 * number: each new token attends to every cached token and to the new
 * tokens it may see — the earlier ones for a causal feed, its ancestors for
 * a trie (tree attention: many alternative continuations scored at once
 * without touching the cache).  The layers are nn/layer.c's, shared with
 * training; the attention over the cache is here.
 *
 * The cache holds keys (rotated) and values of Hkv heads per token
 * ([L, slots, K]); its slots grow by doubling up to the capacity, so a
 * model with a 128 K-token context costs memory only for what is used.
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
    int slots;           /* allocated positions per layer (<= cap) */
    float *k, *v;        /* [L, slots, K]: keys (rotated) and values of cached tokens */
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

/* Slots for at least `need` tokens (keys, values and rotary table). */
static eef_err ensure_slots(eef_kv *kv, int need)
{
    if (need <= kv->slots) return EEF_OK;
    const eef_model_config *c = &kv->m->cfg;
    int slots = kv->slots ? kv->slots : 256;
    while (slots < need) slots *= 2;
    if (slots > kv->cap) slots = kv->cap;
    const size_t K = (size_t)kv_width(c), L = (size_t)c->n_layers;
    float *k = eef_alloc_aligned(L * slots * K * sizeof(float));
    float *v = eef_alloc_aligned(L * slots * K * sizeof(float));
    rope_table rt = { 0 };
    eef_err e = (!k || !v) ? EEF_ENOMEM : rope_table_init(&rt, slots, c);
    if (e) {
        eef_free_aligned(k);
        eef_free_aligned(v);
        return e;
    }
    for (size_t l = 0; kv->len > 0 && l < L; l++) {
        memcpy(k + l * slots * K, kv->k + l * kv->slots * K, (size_t)kv->len * K * sizeof(float));
        memcpy(v + l * slots * K, kv->v + l * kv->slots * K, (size_t)kv->len * K * sizeof(float));
    }
    eef_free_aligned(kv->k);
    eef_free_aligned(kv->v);
    rope_table_free(&kv->rope);
    kv->k = k, kv->v = v, kv->rope = rt, kv->slots = slots;
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

/* Buffers for n new tokens against the current slots, with logits for
 * `rows` of them. */
static eef_err ensure_scratch(eef_kv *kv, int n, int rows)
{
    const eef_model_config *c = &kv->m->cfg;
    const nn_heads s = nn_heads_of(c);
    int keys = kv->slots;
    if (n > kv->scratch_n || keys > kv->scratch_keys) {
        eef_free_aligned(kv->x);
        eef_free_aligned(kv->scores);
        free(kv->pos);
        free(kv->see);
        kv->x = kv->scores = NULL, kv->pos = NULL, kv->see = NULL;
        kv->scratch_n = kv->scratch_keys = 0;
        size_t D = (size_t)c->d_model, F = (size_t)c->d_ff, N = (size_t)n, W = (size_t)heads_w(&s),
               Q = (size_t)heads_q(&s), NH = (size_t)(s.H + s.Hkv);
        size_t qn = c->qk_norm ? 1 : 0;
        size_t sizes[] = { N * D, N * D, qn * N * W, qn * N * NH, N * W, N * Q, N * D,
                           N * 2 * F, N * F, N };
        float **views[] = { &kv->x,   &kv->xn, &kv->qkv_pre, &kv->qk_rstd, &kv->qkv,
                            &kv->att, &kv->x2, &kv->h13,     &kv->hact,    &kv->rstd };
        size_t total = 0;
        for (size_t i = 0; i < EEF_ARRAY_LEN(sizes); i++) total += (sizes[i] + 15) & ~(size_t)15;
        /* one score block per thread: query rows x keys, at most SCORE_MAX */
        size_t brows = SCORE_MAX / (size_t)keys;
        if (brows < 1) brows = 1;
        if (brows > N) brows = N;
        kv->score_block = (brows * (size_t)keys + 15) & ~(size_t)15;
        float *base = eef_alloc_aligned(total * sizeof(float));
        kv->score_threads = nn_max_threads();
        kv->scores = eef_alloc_aligned((size_t)kv->score_threads * kv->score_block * sizeof(float));
        kv->pos = eef_malloc(N * sizeof(int));
        kv->see = eef_malloc(N * N);
        if (!base || !kv->scores || !kv->pos || !kv->see) {
            eef_free_aligned(base);
            free_scratch(kv);
            return EEF_ENOMEM;
        }
        size_t off = 0;
        for (size_t i = 0; i < EEF_ARRAY_LEN(sizes); i++) {
            *views[i] = sizes[i] ? base + off : NULL;
            off += (sizes[i] + 15) & ~(size_t)15;
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

static eef_err kv_attention(const nn_attn *att, int l, const float *qkv, float *out)
{
    const kv_attn *ka = (const kv_attn *)att;
    eef_kv *kv = ka->kv;
    const eef_model_config *c = &kv->m->cfg;
    const nn_heads s = nn_heads_of(c);
    const int n = ka->n, len = kv->len, nk = len + n, hd = s.hd, G = s.H / s.Hkv;
    const int W = heads_w(&s), Q = heads_q(&s), K = heads_k(&s);
    float *kc = kv->k + (size_t)l * kv->slots * K, *vc = kv->v + (size_t)l * kv->slots * K;
    for (int i = 0; i < n; i++) {
        memcpy(kc + (size_t)(len + i) * K, qkv + (size_t)i * W + Q, K * sizeof(float));
        memcpy(vc + (size_t)(len + i) * K, qkv + (size_t)i * W + Q + K, K * sizeof(float));
    }
    const float scale = 1.0f / sqrtf((float)hd);
    int brows = (int)(kv->score_block / (size_t)nk);
    if (brows > n) brows = n;
    const int parent_tree = ka->parent != NULL;
#pragma omp parallel for schedule(static) num_threads(kv->score_threads) if ((size_t)n * nk >= 2048)
    for (int h = 0; h < s.H; h++) {
        float *S = kv->scores + (size_t)nn_thread_id() * kv->score_block;
        const int g = h / G;
        for (int q0 = 0; q0 < n; q0 += brows) {
            const int nb = n - q0 < brows ? n - q0 : brows;
            nn_gemm(0, 1, nb, nk, hd, scale, qkv + (size_t)q0 * W + h * hd, W, kc + g * hd, K,
                    0.0f, S, nk);
            for (int r = 0; r < nb; r++) {
                const int i = q0 + r;
                float *row = S + (size_t)r * nk;
                if (!parent_tree) { /* causal: keys [0, len + i] */
                    int nv = len + i + 1;
                    float mx = nn_vec.max(row, nv);
                    float sum = nn_vec.exp_shift_sum(row, nv, mx);
                    nn_vec.scale(row, nv, 1.0f / sum);
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

/* ------------------------------------------------------------ tries */
typedef struct {
    int token;       /* token on the edge into this node (-1 at the root) */
    int parent;
    int first_child, next_sibling;
    int tag;         /* >= 0: an allowed sequence ends here */
    int has_free;    /* free text may follow this node ... */
    int free_tag;    /* ... and this is the tag returned for it (any value) */
    int seq;         /* order in which the sequence ending here was added */
} trie_node;

struct eef_trie {
    trie_node *nodes;
    int n, cap;
    int n_seqs;
    int *seq_node; /* node of the i-th added sequence */
    int seq_cap;
};

eef_trie *eef_trie_new(void)
{
    eef_trie *t = eef_calloc(1, sizeof *t);
    if (!t) return NULL;
    t->nodes = eef_malloc(16 * sizeof *t->nodes);
    if (!t->nodes) {
        free(t);
        return NULL;
    }
    t->cap = 16;
    t->n = 1;
    t->nodes[0] = (trie_node){ -1, -1, -1, -1, -1, 0, -1, -1 };
    return t;
}

void eef_trie_free(eef_trie *t)
{
    if (!t) return;
    free(t->nodes);
    free(t->seq_node);
    free(t);
}

static int child_of(const eef_trie *t, int node, int token)
{
    for (int c = t->nodes[node].first_child; c >= 0; c = t->nodes[c].next_sibling)
        if (t->nodes[c].token == token) return c;
    return -1;
}

/* Walks (and extends) the path of tokens; returns the last node or -1. */
static int trie_path(eef_trie *t, const int *tokens, int n)
{
    int node = 0;
    for (int i = 0; i < n; i++) {
        int c = child_of(t, node, tokens[i]);
        if (c < 0) {
            if (t->n == t->cap) {
                trie_node *p = eef_realloc(t->nodes, (size_t)t->cap * 2 * sizeof *p);
                if (!p) return -1;
                t->nodes = p, t->cap *= 2;
            }
            c = t->n++;
            /* append as the last sibling so children keep insertion order */
            t->nodes[c] = (trie_node){ tokens[i], node, -1, -1, -1, 0, -1, -1 };
            int *link = &t->nodes[node].first_child;
            while (*link >= 0) link = &t->nodes[*link].next_sibling;
            *link = c;
        }
        node = c;
    }
    return node;
}

static eef_err note_seq(eef_trie *t, int node)
{
    if (t->n_seqs == t->seq_cap) {
        int cap = t->seq_cap ? 2 * t->seq_cap : 16;
        int *p = eef_realloc(t->seq_node, (size_t)cap * sizeof *p);
        if (!p) return EEF_ENOMEM;
        t->seq_node = p, t->seq_cap = cap;
    }
    t->nodes[node].seq = t->n_seqs;
    t->seq_node[t->n_seqs++] = node;
    return EEF_OK;
}

eef_err eef_trie_add(eef_trie *t, const int *tokens, int n, int tag)
{
    if (n < 1) return eef_fail(EEF_EINVAL, "trie: empty sequence");
    int node = trie_path(t, tokens, n);
    if (node < 0) return EEF_ENOMEM;
    if (t->nodes[node].tag >= 0) return EEF_OK; /* duplicate: the first tag wins */
    t->nodes[node].tag = tag;
    return note_seq(t, node);
}

eef_err eef_trie_add_free(eef_trie *t, const int *prefix, int n, int tag)
{
    int node = trie_path(t, prefix, n);
    if (node < 0) return EEF_ENOMEM;
    if (t->nodes[node].has_free) return EEF_OK;
    t->nodes[node].has_free = 1;
    t->nodes[node].free_tag = tag;
    return note_seq(t, node);
}

void eef_choice_free(eef_choice *c)
{
    free(c->tokens);
    c->tokens = NULL;
    c->n = 0;
}

static eef_err choice_push(eef_choice *c, int tok, int *cap)
{
    if (c->n == *cap) {
        int nc = *cap ? 2 * *cap : 32;
        int *p = eef_realloc(c->tokens, (size_t)nc * sizeof(int));
        if (!p) return EEF_ENOMEM;
        c->tokens = p, *cap = nc;
    }
    c->tokens[c->n++] = tok;
    return EEF_OK;
}

/* log-softmax of logits restricted to `allowed` (n_allowed ids) at `id` */
static double restricted_logprob(const float *logits, const int *allowed, int n_allowed, int id)
{
    float mx = -INFINITY;
    for (int i = 0; i < n_allowed; i++) mx = logits[allowed[i]] > mx ? logits[allowed[i]] : mx;
    double s = 0.0;
    for (int i = 0; i < n_allowed; i++) s += exp((double)(logits[allowed[i]] - mx));
    return (double)(logits[id] - mx) - log(s);
}

eef_err eef_decode_constrained(eef_kv *kv, const eef_trie *trie, const eef_tokenizer *tok,
                               const char *free_close, int max_free, const eef_sampling *s,
                               eef_rng *rng, eef_choice *out)
{
    memset(out, 0, sizeof *out);
    out->tag = -1;
    if (!kv->have_last) return eef_fail(EEF_ESTATE, "constrained decoding needs a fed prompt");
    const int V = kv->m->cfg.vocab;
    float *logits = eef_malloc((size_t)V * sizeof(float));
    float *work = eef_malloc((size_t)V * sizeof(float));
    int *allowed = eef_malloc((size_t)V * sizeof(int));
    int cap = 0;
    eef_err e = (!logits || !work || !allowed) ? EEF_ENOMEM : EEF_OK;
    if (!e) memcpy(logits, kv->last_logits, (size_t)V * sizeof(float));
    int node = 0;
    while (!e) {
        const trie_node *nd = &trie->nodes[node];
        if (nd->has_free) { /* free text until a token containing free_close */
            out->tag = nd->free_tag;
            int have_text = 0; /* a non-blank character was generated */
            /* text is printable UTF-8: tokens that are not (raw bytes of a
             * split character, control characters, special tokens) are
             * never chosen, and the first token must hold a non-blank
             * character; the end of an action (the role map's act_end, a
             * chat model's end of turn) closes the text once it has some.
             * ok[i]: 1 printable, 2 printable and not blank */
            const eef_tok_roles *roles = tok ? eef_tok_roles_of(tok) : NULL;
            const int end = !roles ? -1 : roles->act_end >= 0 ? roles->act_end : roles->eot;
            unsigned char *ok = eef_malloc((size_t)V);
            if (!ok) {
                e = EEF_ENOMEM;
                break;
            }
            for (int i = 0; i < V; i++) {
                size_t plen = 0;
                const char *piece = tok ? eef_tok_piece(tok, i, &plen) : NULL;
                int printable = !tok || (piece && eef_utf8_valid(piece, plen) &&
                                         eef_tok_type_of(tok, i) != EEF_TOKTYPE_CONTROL);
                int blank = tok != NULL;
                for (size_t q = 0; printable && piece && q < plen; q++) {
                    printable = (unsigned char)piece[q] >= 0x20;
                    blank &= piece[q] == ' ';
                }
                ok[i] = (unsigned char)(printable ? (blank ? 1 : 2) : 0);
            }
            for (int t = 0; !e && t < max_free; t++) {
                memcpy(work, logits, (size_t)V * sizeof(float));
                for (int i = 0; i < V; i++)
                    if (ok[i] < (have_text ? 1 : 2)) work[i] = -INFINITY;
                if (have_text && end >= 0 && end < V) work[end] = logits[end];
                int id = eef_sample_token(work, V, s, rng);
                out->logprob += (double)logits[id] - nn_logsumexp(logits, V);
                if ((e = choice_push(out, id, &cap))) break;
                have_text |= ok[id] == 2;
                if (kv->len + 1 >= kv->cap) break;
                if ((e = eef_kv_feed(kv, &id, 1, logits))) break;
                size_t plen = 0;
                const char *piece = tok ? eef_tok_piece(tok, id, &plen) : NULL;
                if (id == end || (free_close && piece && memmem(piece, plen, free_close,
                                                                        strlen(free_close))))
                    break;
            }
            free(ok);
            break;
        }
        if (nd->first_child < 0) { /* a complete sequence */
            out->tag = nd->tag;
            break;
        }
        int n_allowed = 0;
        for (int c = nd->first_child; c >= 0; c = trie->nodes[c].next_sibling)
            allowed[n_allowed++] = trie->nodes[c].token;
        for (int i = 0; i < V; i++) work[i] = -INFINITY;
        for (int i = 0; i < n_allowed; i++) work[allowed[i]] = logits[allowed[i]];
        int id = eef_sample_token(work, V, s, rng);
        out->logprob += restricted_logprob(logits, allowed, n_allowed, id);
        if ((e = choice_push(out, id, &cap))) break;
        node = child_of(trie, node, id);
        /* feed the token unless the sequence ends here with nothing after */
        const trie_node *next = &trie->nodes[node];
        if (next->first_child >= 0 || next->has_free) {
            if (kv->len + 1 > kv->cap) {
                e = eef_fail(EEF_EINVAL, "context full during constrained decoding");
                break;
            }
            e = eef_kv_feed(kv, &id, 1, logits);
        } else {
            e = eef_kv_feed(kv, &id, 1, NULL); /* keep the cache in step with the choice */
            out->tag = next->tag;
            break;
        }
    }
    free(logits);
    free(work);
    free(allowed);
    if (e) eef_choice_free(out);
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

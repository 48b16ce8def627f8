/* infer.c: inference with a KV cache.
 *
 * New tokens are processed in one batched pass (prefill) whatever their
 * number: each new token attends to every cached token and to the new
 * tokens it may see — the earlier ones for a causal feed, its ancestors for
 * a trie (tree attention: many alternative continuations scored at once
 * without touching the cache).
 */
#include "nn_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct eef_kv {
    const eef_model *m;
    int cap, len;
    float *k, *v;        /* [L, cap, D]: keys (rotated) and values of cached tokens */
    rope_table rope;
    float *last_logits;  /* [V] logits after the last fed token (valid if have_last) */
    int have_last;
    /* scratch for n tokens (grown on demand) */
    int scratch_n, scratch_keys;
    float *x, *xn, *qkv, *att, *x2, *h13, *hact, *scores, *rstd;
    int *pos;
    unsigned char *see; /* [n, n] may new token i attend to new token j */
};

eef_err eef_kv_new(const eef_model *m, int capacity, eef_kv **out)
{
    *out = NULL;
    if (capacity < 1 || capacity > m->cfg.max_ctx) capacity = m->cfg.max_ctx;
    eef_kv *kv = eef_calloc(1, sizeof *kv);
    if (!kv) return EEF_ENOMEM;
    const eef_model_config *c = &m->cfg;
    kv->m = m;
    kv->cap = capacity;
    size_t n = (size_t)c->n_layers * capacity * c->d_model;
    kv->k = eef_alloc_aligned(n * sizeof(float));
    kv->v = eef_alloc_aligned(n * sizeof(float));
    kv->last_logits = eef_alloc_aligned((size_t)c->vocab * sizeof(float));
    eef_err e = (!kv->k || !kv->v || !kv->last_logits) ? EEF_ENOMEM : EEF_OK;
    if (!e) e = rope_table_init(&kv->rope, c->max_ctx, c->d_model / c->n_heads, c->rope_theta);
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
    free(kv->pos);
    free(kv->see);
    kv->x = NULL;
    kv->pos = NULL;
    kv->see = NULL;
    kv->scratch_n = kv->scratch_keys = 0;
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

static eef_err ensure_scratch(eef_kv *kv, int n)
{
    const eef_model_config *c = &kv->m->cfg;
    int keys = kv->cap;
    if (n <= kv->scratch_n && keys <= kv->scratch_keys) return EEF_OK;
    free_scratch(kv);
    size_t D = (size_t)c->d_model, F = (size_t)c->d_ff, V = (size_t)c->vocab, N = (size_t)n;
    size_t sizes[] = { N * D, N * D, N * 3 * D, N * D, N * D, N * 2 * F, N * F,
                       N * ((size_t)keys > V ? (size_t)keys : V), N };
    size_t total = 0;
    for (size_t i = 0; i < EEF_ARRAY_LEN(sizes); i++) total += (sizes[i] + 15) & ~(size_t)15;
    float *base = eef_alloc_aligned(total * sizeof(float));
    kv->pos = eef_malloc(N * sizeof(int));
    kv->see = eef_malloc(N * N);
    if (!base || !kv->pos || !kv->see) {
        eef_free_aligned(base);
        free_scratch(kv);
        return EEF_ENOMEM;
    }
    float **views[] = { &kv->x, &kv->xn, &kv->qkv, &kv->att, &kv->x2, &kv->h13, &kv->hact,
                        &kv->scores, &kv->rstd };
    size_t off = 0;
    for (size_t i = 0; i < EEF_ARRAY_LEN(sizes); i++) {
        *views[i] = base + off;
        off += (sizes[i] + 15) & ~(size_t)15;
    }
    kv->scratch_n = n;
    kv->scratch_keys = keys;
    return EEF_OK;
}

/* Runs n new tokens through the model.  parent[i] (or NULL for a causal
 * feed) is the index of token i's predecessor among the new tokens, -1 for
 * one that follows the cache directly.  The new tokens' keys and values
 * are written at cache slots len..len+n-1 but len is not advanced.  If
 * want_logits, logits [n, V] for the rows with want[i] != 0 (all if want is
 * NULL) are left in kv->scores (row i at i * V). */
static eef_err forward_new(eef_kv *kv, const int *tokens, const int *parent, int n,
                           const unsigned char *want)
{
    const eef_model *m = kv->m;
    const eef_model_config *c = &m->cfg;
    const int D = c->d_model, H = c->n_heads, F = c->d_ff, V = c->vocab, hd = D / H;
    const int L = c->n_layers, len = kv->len, nk = len + n;
    if (n <= 0) return EEF_OK;
    if (nk > kv->cap)
        return eef_fail(EEF_EINVAL, "context full: %d cached + %d new tokens > capacity %d", len,
                        n, kv->cap);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= V)
            return eef_fail(EEF_EINVAL, "token id %d out of range [0, %d)", tokens[i], V);
    EEF_TRY(ensure_scratch(kv, n));
    /* positions and visibility among the new tokens */
    for (int i = 0; i < n; i++) {
        int p = parent ? parent[i] : i - 1;
        if (p >= i) return eef_fail(EEF_EINVAL, "tree: parent %d of node %d must precede it", p, i);
        kv->pos[i] = p < 0 ? len : kv->pos[p] + 1;
        if (kv->pos[i] >= c->max_ctx)
            return eef_fail(EEF_EINVAL, "position %d beyond context %d", kv->pos[i], c->max_ctx);
        unsigned char *row = kv->see + (size_t)i * n;
        if (!parent) {
            for (int j = 0; j < n; j++) row[j] = j <= i;
        } else {
            memset(row, 0, (size_t)n);
            for (int j = i; j >= 0; j = parent[j]) row[j] = 1;
        }
    }
    const float scale = 1.0f / sqrtf((float)hd);
    for (int i = 0; i < n; i++)
        memcpy(kv->x + (size_t)i * D, m->w.wte + (size_t)tokens[i] * D, D * sizeof(float));
    float *rstd = kv->rstd;
    for (int l = 0; l < L; l++) {
        float *kc = kv->k + (size_t)l * kv->cap * D, *vc = kv->v + (size_t)l * kv->cap * D;
        rmsnorm_forward(kv->xn, rstd, kv->x, m->w.attn_norm + (size_t)l * D, n, D, c->norm_eps);
        mm_forward(kv->qkv, kv->xn, m->w.wqkv + (size_t)l * 3 * D * D, n, D, 3 * D);
        rope_apply(kv->qkv, kv->pos, n, D, H, &kv->rope, +1);
        for (int i = 0; i < n; i++) {
            memcpy(kc + (size_t)(len + i) * D, kv->qkv + (size_t)i * 3 * D + D, D * sizeof(float));
            memcpy(vc + (size_t)(len + i) * D, kv->qkv + (size_t)i * 3 * D + 2 * D,
                   D * sizeof(float));
        }
        for (int h = 0; h < H; h++) {
            float *S = kv->scores;
            nn_gemm(0, 1, n, nk, hd, scale, kv->qkv + h * hd, 3 * D, kc + h * hd, D, 0.0f, S, nk);
            for (int i = 0; i < n; i++) {
                float *row = S + (size_t)i * nk;
                if (!parent) { /* causal: keys [0, len + i] */
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
            nn_gemm(0, 0, n, hd, nk, 1.0f, S, nk, vc + h * hd, D, 0.0f, kv->att + h * hd, D);
        }
        mm_forward(kv->x2, kv->att, m->w.wo + (size_t)l * D * D, n, D, D);
        for (size_t i = 0; i < (size_t)n * D; i++) kv->x2[i] += kv->x[i];
        rmsnorm_forward(kv->xn, rstd, kv->x2, m->w.mlp_norm + (size_t)l * D, n, D, c->norm_eps);
        mm_forward(kv->h13, kv->xn, m->w.w13 + (size_t)l * 2 * F * D, n, D, 2 * F);
        swiglu_forward(kv->hact, kv->h13, n, F);
        mm_forward(kv->x, kv->hact, m->w.w2 + (size_t)l * D * F, n, F, D);
        for (size_t i = 0; i < (size_t)n * D; i++) kv->x[i] += kv->x2[i];
    }
    /* final norm and head on the wanted rows, logits into scores [n, V] */
    int rows = 0;
    for (int i = 0; i < n; i++) {
        if (want && !want[i]) continue;
        memcpy(kv->xn + (size_t)rows * D, kv->x + (size_t)i * D, D * sizeof(float));
        kv->pos[rows++] = i; /* pos is no longer needed: reuse as the row map */
    }
    rmsnorm_forward(kv->x2, rstd, kv->xn, m->w.out_norm, rows, D, c->norm_eps);
    mm_forward(kv->scores, kv->x2, m->w.head, rows, D, V);
    /* spread row r to row pos[r] >= r, last first so nothing is overwritten early */
    for (int r = rows - 1; r >= 0; r--)
        if (kv->pos[r] != r)
            memmove(kv->scores + (size_t)kv->pos[r] * V, kv->scores + (size_t)r * V,
                    V * sizeof(float));
    return EEF_OK;
}

eef_err eef_kv_feed(eef_kv *kv, const int *tokens, int n, float *logits)
{
    if (n <= 0) {
        if (logits && kv->have_last)
            memcpy(logits, kv->last_logits, (size_t)kv->m->cfg.vocab * sizeof(float));
        return n == 0 ? EEF_OK : eef_fail(EEF_EINVAL, "negative token count");
    }
    /* only the last row's logits are needed */
    EEF_TRY(ensure_scratch(kv, n));
    unsigned char *want = eef_calloc((size_t)n, 1);
    if (!want) return EEF_ENOMEM;
    want[n - 1] = 1;
    eef_err e = forward_new(kv, tokens, NULL, n, want);
    free(want);
    if (e) return e;
    const int V = kv->m->cfg.vocab;
    memcpy(kv->last_logits, kv->scores + (size_t)(n - 1) * V, (size_t)V * sizeof(float));
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
             * split character, control characters) are never chosen, and
             * the first token must hold a non-blank character.
             * ok[i]: 1 printable, 2 printable and not blank */
            unsigned char *ok = eef_malloc((size_t)V);
            if (!ok) {
                e = EEF_ENOMEM;
                break;
            }
            for (int i = 0; i < V; i++) {
                size_t plen = 0;
                const char *piece = tok ? eef_tok_piece(tok, i, &plen) : NULL;
                int printable = !tok || (piece && eef_utf8_valid(piece, plen));
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
                    if (ok[i] < (have_text ? 1 : 2) || (i >= 256 && i < EEF_TOK_FIRST_MERGE))
                        work[i] = -INFINITY;
                if (have_text) work[EEF_TOK_END] = logits[EEF_TOK_END];
                int id = eef_sample_token(work, V, s, rng);
                out->logprob += (double)logits[id] - nn_logsumexp(logits, V);
                if ((e = choice_push(out, id, &cap))) break;
                have_text |= ok[id] == 2;
                if (kv->len + 1 >= kv->cap) break;
                if ((e = eef_kv_feed(kv, &id, 1, logits))) break;
                size_t plen = 0;
                const char *piece = tok ? eef_tok_piece(tok, id, &plen) : NULL;
                if (id == EEF_TOK_END || (free_close && piece && memmem(piece, plen, free_close,
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
    if (!e && n > 0) e = forward_new(kv, toks, par, n, NULL);
    if (!e) {
        lp[0] = 0.0;
        for (int i = 1; i < trie->n; i++) {
            const trie_node *nd = &trie->nodes[i];
            const float *lg = nd->parent == 0 ? kv->last_logits
                                              : kv->scores + (size_t)idx[nd->parent] * V;
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

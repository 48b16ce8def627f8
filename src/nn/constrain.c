/* constrain.c: constrained decoding.  The allowed continuations are a
 * trie of token sequences, plus free-text slots (a prefix after which any
 * printable text may follow until a closing token).  A choice is made
 * token by token, each restricted to the trie's children of the path so
 * far; eef_cdec is one sequence's choice in progress, advanced one token
 * at a time from that sequence's logits, so a caller can decode many
 * sequences in lockstep (eef_kv_step) or one alone
 * (eef_decode_constrained).  Same logits and rng: same choice, either way. */
#include "nn_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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


/* ------------------------------------------------------------ one choice, token by token */
struct eef_cdec {
    const eef_kv *kv; /* the sequence's cache (its length bounds free text) */
    const eef_trie *trie;
    const eef_tokenizer *tok;
    const char *free_close;
    int max_free;
    const eef_sampling *s;
    eef_rng *rng;
    int V;
    int node;          /* trie node reached */
    int in_free, t;    /* generating free text; free tokens so far */
    int have_text;     /* a non-blank character was generated */
    int end;           /* the token that ends an action's text (-1: none) */
    int done;
    unsigned char *ok; /* [V] free text: 1 printable, 2 printable and not blank */
    float *work;       /* [V] */
    int *allowed;      /* [V] */
    int cap;
    eef_choice out;
};

eef_err eef_cdec_new(const eef_kv *kv, const eef_trie *trie, const eef_tokenizer *tok,
                     const char *free_close, int max_free, const eef_sampling *s, eef_rng *rng,
                     eef_cdec **out)
{
    *out = NULL;
    if (!eef_kv_logits(kv)) return eef_fail(EEF_ESTATE, "constrained decoding needs a fed prompt");
    eef_cdec *c = eef_calloc(1, sizeof *c);
    if (!c) return EEF_ENOMEM;
    const int V = eef_kv_model(kv)->cfg.vocab;
    *c = (eef_cdec){ .kv = kv, .trie = trie, .tok = tok, .free_close = free_close,
                     .max_free = max_free, .s = s, .rng = rng, .V = V };
    c->out.tag = -1;
    c->work = eef_malloc((size_t)V * sizeof(float));
    c->allowed = eef_malloc((size_t)V * sizeof(int));
    if (!c->work || !c->allowed) {
        eef_cdec_free(c);
        return EEF_ENOMEM;
    }
    *out = c;
    return EEF_OK;
}

void eef_cdec_free(eef_cdec *c)
{
    if (!c) return;
    free(c->ok);
    free(c->work);
    free(c->allowed);
    eef_choice_free(&c->out);
    free(c);
}

void eef_cdec_take(eef_cdec *c, eef_choice *out)
{
    *out = c->out;
    c->out = (eef_choice){ .tag = -1 };
}

/* Text is printable UTF-8: tokens that are not (raw bytes of a split
 * character, control characters, special tokens) are never chosen, and
 * the first token must hold a non-blank character; the end of an action
 * (the role map's act_end, a chat model's end of turn) closes the text
 * once it has some. */
static eef_err free_table(eef_cdec *c)
{
    const eef_tok_roles *roles = c->tok ? eef_tok_roles_of(c->tok) : NULL;
    c->end = !roles ? -1 : roles->act_end >= 0 ? roles->act_end : roles->eot;
    c->ok = eef_malloc((size_t)c->V);
    if (!c->ok) return EEF_ENOMEM;
    for (int i = 0; i < c->V; i++) {
        size_t plen = 0;
        const char *piece = c->tok ? eef_tok_piece(c->tok, i, &plen) : NULL;
        int printable = !c->tok || (piece && eef_utf8_valid(piece, plen) &&
                                    eef_tok_type_of(c->tok, i) != EEF_TOKTYPE_CONTROL);
        int blank = c->tok != NULL;
        for (size_t q = 0; printable && piece && q < plen; q++) {
            printable = (unsigned char)piece[q] >= 0x20;
            blank &= piece[q] == ' ';
        }
        c->ok[i] = (unsigned char)(printable ? (blank ? 1 : 2) : 0);
    }
    return EEF_OK;
}

/* One free-text token, until a token containing free_close (or the end),
 * max_free tokens, or the context's end (the last token is then kept in
 * the choice but not fed). */
static eef_err free_token(eef_cdec *c, const float *logits, int *feed)
{
    const int V = c->V;
    if (c->t >= c->max_free) {
        c->done = 1;
        return EEF_OK;
    }
    memcpy(c->work, logits, (size_t)V * sizeof(float));
    for (int i = 0; i < V; i++)
        if (c->ok[i] < (c->have_text ? 1 : 2)) c->work[i] = -INFINITY;
    if (c->have_text && c->end >= 0 && c->end < V) c->work[c->end] = logits[c->end];
    int id = eef_sample_token(c->work, V, c->s, c->rng);
    c->out.logprob += (double)logits[id] - nn_logsumexp(logits, V);
    EEF_TRY(choice_push(&c->out, id, &c->cap));
    c->have_text |= c->ok[id] == 2;
    c->t++;
    if (eef_kv_len(c->kv) + 1 >= eef_kv_capacity(c->kv)) {
        c->done = 1;
        return EEF_OK;
    }
    size_t plen = 0;
    const char *piece = c->tok ? eef_tok_piece(c->tok, id, &plen) : NULL;
    int stop = id == c->end ||
               (c->free_close && piece && memmem(piece, plen, c->free_close, strlen(c->free_close)));
    *feed = id;
    c->done = stop || c->t >= c->max_free;
    return EEF_OK;
}

eef_err eef_cdec_next(eef_cdec *c, const float *logits, int *feed, int *done)
{
    *feed = -1;
    if (c->done) {
        *done = 1;
        return EEF_OK;
    }
    eef_err e = EEF_OK;
    const eef_trie *trie = c->trie;
    const trie_node *nd = &trie->nodes[c->node];
    if (c->in_free) {
        e = free_token(c, logits, feed);
    } else if (nd->has_free) { /* free text follows this prefix */
        c->out.tag = nd->free_tag;
        c->in_free = 1;
        e = free_table(c);
        if (!e) e = free_token(c, logits, feed);
    } else if (nd->first_child < 0) { /* a complete sequence */
        c->out.tag = nd->tag;
        c->done = 1;
    } else {
        const int V = c->V;
        int n_allowed = 0;
        for (int k = nd->first_child; k >= 0; k = trie->nodes[k].next_sibling)
            c->allowed[n_allowed++] = trie->nodes[k].token;
        for (int i = 0; i < V; i++) c->work[i] = -INFINITY;
        for (int i = 0; i < n_allowed; i++) c->work[c->allowed[i]] = logits[c->allowed[i]];
        int id = eef_sample_token(c->work, V, c->s, c->rng);
        c->out.logprob += restricted_logprob(logits, c->allowed, n_allowed, id);
        e = choice_push(&c->out, id, &c->cap);
        c->node = child_of(trie, c->node, id);
        const trie_node *next = &trie->nodes[c->node];
        if (!e && (next->first_child >= 0 || next->has_free)) {
            if (eef_kv_len(c->kv) + 1 > eef_kv_capacity(c->kv))
                e = eef_fail(EEF_EINVAL, "context full during constrained decoding");
            else
                *feed = id;
        } else if (!e) {
            /* fed all the same, so the cache keeps in step with the choice */
            *feed = id;
            c->out.tag = next->tag;
            c->done = 1;
        }
    }
    if (e) *feed = -1;
    *done = c->done;
    return e;
}

eef_err eef_decode_constrained(eef_kv *kv, const eef_trie *trie, const eef_tokenizer *tok,
                               const char *free_close, int max_free, const eef_sampling *s,
                               eef_rng *rng, eef_choice *out)
{
    memset(out, 0, sizeof *out);
    out->tag = -1;
    eef_cdec *c;
    EEF_TRY(eef_cdec_new(kv, trie, tok, free_close, max_free, s, rng, &c));
    eef_err e;
    int feed, done;
    /* the logits are read before the token they choose is fed */
    while (!(e = eef_cdec_next(c, eef_kv_logits(kv), &feed, &done))) {
        if (feed >= 0 && (e = eef_kv_feed(kv, &feed, 1, NULL))) break;
        if (done) break;
    }
    if (!e) eef_cdec_take(c, out);
    eef_cdec_free(c);
    return e;
}

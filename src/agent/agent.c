/* agent.c: the transformer as a policy.
 *
 * Each actor keeps a KV cache and the tokens in it.  On every call the
 * prompt is rebuilt from the context; only the part after the longest
 * common prefix with the cache is fed, so a rollout costs one pass over
 * its tokens even though each step sees the whole history.  The action is
 * then chosen by constrained decoding over the valid actions.
 */
#include "policy.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    eef_policy base;
    const eef_model *model;
    eef_agent_config cfg;
    eef_agent_counts counts; /* of the closed actors */
} agent_policy;

typedef struct {
    eef_actor base;
    eef_kv *kv;
    int *cached; /* tokens in the cache */
    int n_cached, cap_cached;
    eef_prompt prompt;
    /* the choice in progress (between eef_agent_act_begin and _end) */
    eef_trie *trie;
    size_t n_free_prefix;
    eef_sampling s;
    eef_rng *rng;
    eef_cdec *cd;
    eef_kvb *kb; /* this actor's own feeds (eef_kv_feed_rows) */
    /* actors whose cached prefixes this one may copy (eef_agent_share) */
    eef_actor *const *peers;
    int n_peers;
    /* the previous action: its rollout and step, to tell a rollout's next
     * action from its first */
    uint64_t last_episode;
    size_t last_step;
    int has_last;
    eef_agent_counts counts;
} agent_actor;

void eef_agent_defaults(eef_agent_config *c)
{
    *c = (eef_agent_config){ .temperature = 0.0, .top_p = 1.0, .max_free = 24, .max_tokens = 0 };
}

static eef_err actor_open(eef_policy *p, eef_actor **out)
{
    agent_policy *ap = (agent_policy *)p;
    agent_actor *a = eef_calloc(1, sizeof *a);
    if (!a) return EEF_ENOMEM;
    a->base.policy = p;
    eef_err e = eef_kv_new(ap->model, 0, &a->kv);
    if (e) {
        free(a);
        return e;
    }
    *out = &a->base;
    return EEF_OK;
}

static void counts_add(eef_agent_counts *to, const eef_agent_counts *c)
{
    to->acts += c->acts, to->decoded += c->decoded, to->prompt += c->prompt;
    to->first += c->first, to->fresh += c->fresh, to->rewritten += c->rewritten;
    to->shared += c->shared;
}

static void actor_close(eef_actor *actor)
{
    agent_actor *a = (agent_actor *)actor;
    if (!a) return;
    agent_policy *ap = (agent_policy *)actor->policy;
#pragma omp critical(eef_agent_counts)
    counts_add(&ap->counts, &a->counts);
    eef_cdec_free(a->cd);
    eef_trie_free(a->trie);
    eef_kvb_free(a->kb);
    eef_kv_free(a->kv);
    free(a->cached);
    eef_prompt_free(&a->prompt);
    free(a);
}

static int common_prefix(const int *a, int na, const int *b, int nb)
{
    int c = 0;
    while (c < na && c < nb && a[c] == b[c]) c++;
    return c;
}

/* Tokens of an actor's cache that hold what `cached` says (the rest of
 * cached may still be waiting to be fed). */
static int cache_valid(const agent_actor *a)
{
    int len = eef_kv_len(a->kv);
    return a->n_cached < len ? a->n_cached : len;
}

/* The longest prefix of tokens[0, n) that a peer's cache holds beyond
 * `have` tokens: its length (0: none) and the peer. */
static int best_peer(const agent_actor *a, const int *tokens, int n, int have, agent_actor **from)
{
    int best = 0;
    *from = NULL;
    for (int i = 0; i < a->n_peers; i++) {
        agent_actor *p = (agent_actor *)a->peers[i];
        if (p == a || !p->n_cached) continue;
        int c = common_prefix(p->cached, cache_valid(p), tokens, n);
        if (c > have && c > best) best = c, *from = p;
    }
    return best;
}

/* Brings the cache to prompt tokens [0, *have) of tokens[0, n): what this
 * actor's cache or a peer's (eef_agent_share, eef_kv_copy) holds of
 * them, at most n - 1 unless the logits after all n are there too; the
 * caller feeds the rest.  Every row of a cache is computed as a lone
 * token is (eef_kv_rows), so a prefix's bits are the same whoever
 * computed it, whatever this actor (thread) ran before: rollouts do not
 * depend on the thread or lane that runs them. */
static eef_err sync_cache(agent_actor *a, const int *tokens, int n, int next_step, int *have)
{
    const int had = a->n_cached;
    int common = common_prefix(a->cached, cache_valid(a), tokens, n);
    agent_actor *from;
    int c = best_peer(a, tokens, n, common, &from);
    if (from) common = c;
    const int len = from ? eef_kv_len(from->kv) : eef_kv_len(a->kv);
    const int logits = len == n && (from ? eef_kv_logits(from->kv) : eef_kv_logits(a->kv));
    if (common == n && !logits) common = n - 1; /* refeed the last token for its logits */
    /* the accounting (eef_agent_counts) */
    a->counts.prompt += n - common;
    if (next_step) {
        int fresh = n - (had > common ? had : common);
        if (fresh < 0) fresh = 0;
        a->counts.fresh += fresh;
        a->counts.rewritten += n - common - fresh;
    } else {
        a->counts.first += n - common;
    }
    if (from) EEF_TRY(eef_kv_copy(a->kv, from->kv, common));
    else eef_kv_truncate(a->kv, common);
    if (n > a->cap_cached) {
        int *cc = eef_realloc(a->cached, (size_t)n * 2 * sizeof(int));
        if (!cc) return EEF_ENOMEM;
        a->cached = cc, a->cap_cached = n * 2;
    }
    memcpy(a->cached, tokens, (size_t)n * sizeof(int));
    a->n_cached = n; /* [common, n) once fed */
    *have = common;
    return EEF_OK;
}

void eef_agent_share(eef_actor *const *actors, int n)
{
    for (int i = 0; i < n; i++) {
        agent_actor *a = (agent_actor *)actors[i];
        a->peers = actors, a->n_peers = n;
    }
}

static eef_err append_cached(agent_actor *a, const int *tokens, int n)
{
    if (a->n_cached + n > a->cap_cached) {
        int cap = 2 * (a->n_cached + n);
        int *c = eef_realloc(a->cached, (size_t)cap * sizeof(int));
        if (!c) return EEF_ENOMEM;
        a->cached = c, a->cap_cached = cap;
    }
    memcpy(a->cached + a->n_cached, tokens, (size_t)n * sizeof(int));
    a->n_cached += n;
    return EEF_OK;
}

/* Canonical tokens of an action as the model writes it. */
static eef_err encode_action(const eef_tokenizer *tok, const eef_env_text *text,
                             const char *action, const char *obs, int **ids, size_t *n,
                             size_t *cap)
{
    char *r = text->render_action(action, obs);
    if (!r) return EEF_ENOMEM;
    *n = 0;
    eef_err e = eef_tok_encode(tok, r, strlen(r), ids, n, cap);
    free(r);
    return e;
}

/* Where the agent's action ends: eef's <|end|> (roles->act_end), or the
 * chat format's end of turn for a model without eef's agent tokens. */
static int action_end(const eef_tokenizer *tok)
{
    const eef_tok_roles *ro = eef_tok_roles_of(tok);
    return ro->act_end >= 0 ? ro->act_end : ro->eot;
}

/* The allowed actions (answering observation obs) as a trie of rendered
 * tokens + the action's end; tags index the valid items, the free slot's
 * tag is -2. */
static eef_err build_trie(const eef_tokenizer *tok, const eef_env_text *text,
                          const eef_actions *valid, const char *obs, eef_trie **out,
                          size_t *n_free_prefix)
{
    eef_trie *t = eef_trie_new();
    if (!t) return EEF_ENOMEM;
    int *ids = NULL;
    size_t n = 0, cap = 0;
    const int end = action_end(tok);
    eef_err e = end >= 0 ? EEF_OK : eef_fail(EEF_EINVAL, "agent: the tokenizer has no token that "
                                                          "ends an action (<|end|> or an end of turn)");
    for (size_t i = 0; !e && i < valid->items.n; i++) {
        e = encode_action(tok, text, valid->items.items[i], obs, &ids, &n, &cap);
        if (!e && n + 1 > cap) {
            int *p = eef_realloc(ids, (n + 1) * sizeof(int));
            if (!p) e = EEF_ENOMEM;
            else ids = p, cap = n + 1;
        }
        if (!e) {
            ids[n] = end;
            e = eef_trie_add(t, ids, (int)n + 1, (int)i);
        }
    }
    *n_free_prefix = 0;
    if (!e && valid->free_prefix) {
        e = encode_action(tok, text, valid->free_prefix, obs, &ids, &n, &cap);
        if (!e) e = eef_trie_add_free(t, ids, (int)n, -2);
        *n_free_prefix = n;
    }
    free(ids);
    if (e) {
        eef_trie_free(t);
        return e;
    }
    *out = t;
    return EEF_OK;
}

/* free_prefix + the generated text (up to the action's end, trimmed, no
 * control tokens) + free_suffix */
static eef_err free_action(const eef_tokenizer *tok, const eef_actions *valid,
                           const eef_choice *ch, size_t n_prefix_tokens, eef_buf *action)
{
    eef_buf text;
    eef_buf_init(&text);
    const int end = action_end(tok);
    for (int i = (int)n_prefix_tokens; i < ch->n; i++) {
        if (ch->tokens[i] == end) break;
        if (eef_tok_type_of(tok, ch->tokens[i]) == EEF_TOKTYPE_CONTROL) continue;
        EEF_TRY(eef_tok_decode(tok, &ch->tokens[i], 1, &text));
    }
    const char *suffix = valid->free_suffix ? valid->free_suffix : "";
    /* the text may not contain the slot's closing string or newlines */
    size_t a = 0, b = text.len;
    char *cut = *suffix && text.data ? strstr(text.data, suffix) : NULL;
    if (cut) b = (size_t)(cut - text.data);
    while (a < b && (text.data[a] == ' ' || text.data[a] == '\n')) a++;
    while (b > a && (text.data[b - 1] == ' ' || text.data[b - 1] == '\n')) b--;
    /* environments take well-formed text: byte-level tokens can produce
     * invalid UTF-8 or control characters, which are dropped */
    int fail = eef_buf_puts(action, valid->free_prefix);
    for (size_t i = a; !fail && i < b;) {
        unsigned char c = (unsigned char)text.data[i];
        size_t k = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
        if (i + k > b || !eef_utf8_valid(text.data + i, k) || (c < 0x20 && c != '\n')) {
            i++;
            continue;
        }
        fail = eef_buf_append(action, c == '\n' ? " " : text.data + i, k);
        i += k;
    }
    if (!fail) fail = eef_buf_puts(action, suffix);
    eef_buf_free(&text);
    return fail ? EEF_ENOMEM : EEF_OK;
}

eef_err eef_agent_act_prepare(eef_actor *actor, const eef_context *ctx, eef_rng *rng,
                              eef_kv **kv, const int **pending, int *n_pending)
{
    agent_actor *a = (agent_actor *)actor;
    agent_policy *ap = (agent_policy *)actor->policy;
    const eef_tokenizer *tok = ap->model->tok;
    *kv = NULL, *pending = NULL, *n_pending = 0;
    eef_cdec_free(a->cd), a->cd = NULL;
    eef_trie_free(a->trie), a->trie = NULL;
    if (!ctx->valid->items.n && !ctx->valid->free_prefix)
        return eef_fail(EEF_ESTATE, "agent: no valid action to choose from");
    /* the window's budget, as training's (room left for the action) */
    int budget = eef_prompt_budget(ap->cfg.max_tokens > 0 ? ap->cfg.max_tokens : ap->model->cfg.max_ctx);
    const eef_env_text *text = ctx->text ? ctx->text : eef_env_text_of(NULL);
    EEF_TRY(eef_prompt_build(tok, text, ctx->task->instruction, ctx->obs, ctx->n + 1, ctx->acts,
                             NULL, ctx->n, budget, &a->prompt));
    const int next_step = a->has_last && a->last_episode == ctx->episode && a->last_step + 1 == ctx->n;
    a->has_last = 1, a->last_episode = ctx->episode, a->last_step = ctx->n;
    int have;
    EEF_TRY(sync_cache(a, a->prompt.tokens, a->prompt.n, next_step, &have));
    EEF_TRY(build_trie(tok, text, ctx->valid, ctx->obs[ctx->n], &a->trie, &a->n_free_prefix));
    a->s = (eef_sampling){ .temperature = ap->cfg.temperature, .top_p = ap->cfg.top_p };
    a->rng = rng;
    *kv = a->kv, *pending = a->prompt.tokens + have, *n_pending = a->prompt.n - have;
    return EEF_OK;
}

eef_err eef_agent_act_resync(eef_actor *actor, const int **pending, int *n_pending)
{
    agent_actor *a = (agent_actor *)actor;
    const int have = eef_kv_len(a->kv), n = a->prompt.n;
    agent_actor *from;
    int c = best_peer(a, a->prompt.tokens, n, have, &from);
    if (from) {
        if (c == n && !(eef_kv_len(from->kv) == n && eef_kv_logits(from->kv))) c = n - 1;
        if (c > have) {
            EEF_TRY(eef_kv_copy(a->kv, from->kv, c));
            a->counts.prompt -= c - have, a->counts.shared += c - have;
        }
    }
    const int now = eef_kv_len(a->kv);
    *pending = a->prompt.tokens + now, *n_pending = n - now;
    return EEF_OK;
}

int eef_agent_act_wait(const eef_actor *actor, eef_actor *const *fed, int n_fed)
{
    const agent_actor *a = (const agent_actor *)actor;
    const int have = eef_kv_len(a->kv);
    for (int i = 0; i < n_fed; i++) {
        const agent_actor *b = (const agent_actor *)fed[i];
        if (b == a) continue;
        int c = common_prefix(b->prompt.tokens, b->prompt.n, a->prompt.tokens, a->prompt.n);
        if (c > have && c > eef_kv_len(b->kv)) return 1;
    }
    return 0;
}

eef_err eef_agent_act_start(eef_actor *actor, eef_cdec **cd)
{
    agent_actor *a = (agent_actor *)actor;
    agent_policy *ap = (agent_policy *)actor->policy;
    *cd = NULL;
    if (!a->trie || eef_kv_len(a->kv) != a->prompt.n)
        return eef_fail(EEF_ESTATE, "agent: the prompt is not fed");
    /* free text ends at <|end|> (the rendered action has no closing bracket) */
    EEF_TRY(eef_cdec_new(a->kv, a->trie, ap->model->tok, NULL, ap->cfg.max_free, &a->s, a->rng, &a->cd));
    *cd = a->cd;
    return EEF_OK;
}

eef_err eef_agent_act_begin(eef_actor *actor, const eef_context *ctx, eef_rng *rng, eef_cdec **cd,
                            eef_kv **kv)
{
    agent_actor *a = (agent_actor *)actor;
    const int *pend;
    int n_pend;
    *cd = NULL;
    EEF_TRY(eef_agent_act_prepare(actor, ctx, rng, kv, &pend, &n_pend));
    if (!a->kb) EEF_TRY(eef_kvb_new(((agent_policy *)actor->policy)->model, 32, &a->kb));
    EEF_TRY(eef_kv_feed_rows(a->kb, a->kv, pend, n_pend));
    return eef_agent_act_start(actor, cd);
}

eef_err eef_agent_act_end(eef_actor *actor, const eef_context *ctx, eef_err e, eef_buf *action)
{
    agent_actor *a = (agent_actor *)actor;
    agent_policy *ap = (agent_policy *)actor->policy;
    const eef_tokenizer *tok = ap->model->tok;
    eef_buf_clear(action);
    eef_choice ch = { .tag = -1 };
    if (!e && !a->cd) e = eef_fail(EEF_ESTATE, "agent: no choice in progress");
    if (!e) eef_cdec_take(a->cd, &ch);
    eef_cdec_free(a->cd), a->cd = NULL;
    eef_trie_free(a->trie), a->trie = NULL;
    if (e) {
        a->n_cached = 0; /* the cache state is unknown: start afresh next time */
        eef_kv_reset(a->kv);
        return e;
    }
    /* the decoder fed every chosen token but a final one of a complete
     * item; the cache now holds prompt + chosen tokens */
    a->counts.acts++;
    a->counts.decoded += ch.n;
    e = append_cached(a, ch.tokens, ch.n);
    if (!e && eef_kv_len(a->kv) != a->n_cached) {
        /* lengths disagree only if decoding stopped at the context end */
        eef_kv_truncate(a->kv, 0);
        a->n_cached = 0;
    }
    if (!e) {
        if (ch.tag >= 0) {
            if (eef_buf_puts(action, ctx->valid->items.items[ch.tag])) e = EEF_ENOMEM;
        } else {
            e = free_action(tok, ctx->valid, &ch, a->n_free_prefix, action);
        }
    }
    eef_choice_free(&ch);
    return e;
}

/* begin, the choice token by token on this actor's cache alone, end */
static eef_err act(eef_actor *actor, const eef_context *ctx, eef_rng *rng, eef_buf *action)
{
    eef_buf_clear(action);
    eef_cdec *cd;
    eef_kv *kv;
    EEF_TRY(eef_agent_act_begin(actor, ctx, rng, &cd, &kv));
    eef_err e;
    int feed, done;
    while (!(e = eef_cdec_next(cd, eef_kv_logits(kv), &feed, &done))) {
        if (feed >= 0 && (e = eef_kv_feed(kv, &feed, 1, NULL))) break;
        if (done) break;
    }
    return eef_agent_act_end(actor, ctx, e, action);
}

static void policy_close(eef_policy *p) { free(p); }

static const eef_policy_ops agent_ops = {
    .version = EEF_POLICY_OPS_VERSION,
    .name = "agent",
    .actor_open = actor_open,
    .act = act,
    .actor_close = actor_close,
    .close = policy_close,
};

eef_err eef_agent_open(const eef_model *m, const eef_agent_config *c, eef_policy **out)
{
    *out = NULL;
    if (!m->tok) return eef_fail(EEF_EINVAL, "agent: the model has no tokenizer");
    if (c->temperature < 0 || c->top_p <= 0 || c->top_p > 1 || c->max_free < 1 ||
        c->max_free > EEF_PROMPT_MAX_FREE)
        return eef_fail(EEF_EINVAL, "agent: invalid sampling configuration (max_free 1 to %d)",
                        EEF_PROMPT_MAX_FREE);
    agent_policy *p = eef_calloc(1, sizeof *p);
    if (!p) return EEF_ENOMEM;
    p->base.ops = &agent_ops;
    p->model = m;
    p->cfg = *c;
    *out = &p->base;
    return EEF_OK;
}

void eef_agent_counts_get(const eef_policy *p, eef_agent_counts *out)
{
    *out = (eef_agent_counts){ 0 };
    if (eef_policy_model(p)) *out = ((const agent_policy *)p)->counts;
}

const eef_model *eef_policy_model(const eef_policy *p)
{
    return p && p->ops == &agent_ops ? ((const agent_policy *)p)->model : NULL;
}

void eef_policy_close(eef_policy *p)
{
    if (p) p->ops->close(p);
}

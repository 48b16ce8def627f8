/* prompt_chat.c: the agent's prompt for a model with a chat format (an
 * imported Qwen, Llama 3, SmolLM2: eef_tok_chat_name), the counterpart of
 * eef's own <|obs|>/<|act|> prompt in prompt.c, which dispatches here.
 *
 *   system     the instruction (none without one)
 *   user       observation 0, rendered as for eef's prompt
 *   assistant  action 0, rendered (what the agent writes)
 *   user       observation 1 ...
 *
 * With one observation more than actions the conversation ends with the
 * assistant's header (the template's add_generation_prompt): the agent's
 * next action follows, then the turn's end (roles->eot), which is where
 * the agent's decoding stops.  Every earlier turn renders as it did when
 * it was the last, so each step's prompt extends the one before (the KV
 * cache keeps it).  Qwen3 (chatml-think): every assistant turn and the
 * generation prompt get the empty <think> block that enable_thinking=false
 * writes before the reply (EEF_CHAT_THINK_EVERY), in acting and training
 * alike, so an action is trained after the text it was chosen after (the
 * template itself drops the block from turns before the last user
 * message, which would rewrite every earlier turn at each step).
 *
 * Loss mask: 1 on an assistant turn's content tokens and its end-of-turn
 * token when that step's mask is 1; the instruction's and observations'
 * content weighs ctx_w; everything else (headers, the template's framing)
 * is 0.
 *
 * Budget (max_tokens) and windows, as eef's prompt (policy.h): each
 * step's tokens are measured on one encoding of the whole conversation
 * (step_costs), the window rule is eef_prompt_windows; a window that
 * still does not fit (the current observation alone) has its
 * observation's start cut, checked by encoding again. */
#include "prompt_chat.h"

#include <stdlib.h>
#include <string.h>

/* A message's text and whether it is ours to free. */
typedef struct {
    char *text;
    int own;
} piece;

static void pieces_free(piece *p, size_t n)
{
    for (size_t i = 0; p && i < n; i++)
        if (p[i].own) free(p[i].text);
    free(p);
}

/* Tokens of a text alone (an estimate of its share of the conversation). */
static size_t count_tokens(const eef_tokenizer *tok, const char *s)
{
    int *ids = NULL;
    size_t n = 0, cap = 0;
    if (eef_tok_encode(tok, s, strlen(s), &ids, &n, &cap)) n = strlen(s);
    free(ids);
    return n;
}

typedef struct {
    const eef_tokenizer *tok;
    const char *instruction;
    piece *obs, *act;
    size_t n_obs, n_acts;
    size_t first;     /* first step kept */
    unsigned flags;
    eef_chat_msg *msgs;
    eef_chat_span *spans;
    size_t n_msgs;
    size_t sys;       /* 1 with a system message */
} chat_build;

/* Encodes steps [first, n_obs) of the conversation (n_acts actions). */
static eef_err encode(chat_build *b, int **ids, size_t *n, size_t *cap)
{
    size_t k = 0;
    if (b->instruction && *b->instruction) b->msgs[k++] = (eef_chat_msg){ "system", b->instruction };
    b->sys = k;
    for (size_t i = b->first; i < b->n_obs; i++) {
        b->msgs[k++] = (eef_chat_msg){ "user", b->obs[i].text };
        if (i < b->n_acts) b->msgs[k++] = (eef_chat_msg){ "assistant", b->act[i].text };
    }
    b->n_msgs = k;
    *n = 0;
    if (!k) return eef_fail(EEF_EINVAL, "prompt: no instruction and no step");
    return eef_tok_chat_encode(b->tok, b->msgs, k, b->flags, ids, n, cap, b->spans);
}

static eef_err replace(piece *p, char *text)
{
    if (!text) return EEF_ENOMEM;
    if (p->own) free(p->text);
    p->text = text, p->own = 1;
    return EEF_OK;
}

/* The last observation without its first `drop` bytes (at a UTF-8
 * boundary), after "...". */
static eef_err cut_start(piece *p, size_t drop)
{
    const char *s = p->text;
    size_t len = strlen(s);
    if (drop > len) drop = len;
    while (drop < len && ((unsigned char)s[drop] & 0xC0) == 0x80) drop++;
    char *t = eef_malloc(len - drop + 4);
    if (!t) return EEF_ENOMEM;
    memcpy(t, "...", 3);
    memcpy(t + 3, s + drop, len - drop + 1);
    return replace(p, t);
}

/* The window's conversation (steps w->start..w->last, the last one's
 * action unless open) encoded, within the budget, with its mask. */
static eef_err emit(chat_build *b, const eef_prompt_stretch *w, int open, const int *act_mask,
                    float ctx_w, size_t budget, eef_prompt *out)
{
    const eef_tokenizer *tok = b->tok;
    const int eot = eef_tok_roles_of(tok)->eot;
    const size_t all_obs = b->n_obs, all_acts = b->n_acts;
    b->first = w->start, b->n_obs = w->last + 1, b->n_acts = open ? w->last : w->last + 1;
    b->flags = EEF_CHAT_THINK_EVERY | (open ? EEF_CHAT_GEN_PROMPT : 0);
    piece keep = b->obs[w->last];
    b->obs[w->last].own = 0; /* a cut copy is this window's */
    int *ids = NULL;
    size_t n = 0, cap = 0;
    eef_err e = encode(b, &ids, &n, &cap);
    /* the estimate's framing was off: more steps go (not expected) */
    while (!e && n > budget && b->first < w->last) {
        b->first++;
        e = encode(b, &ids, &n, &cap);
    }
    /* then the start of the current observation, a byte share at a time */
    for (int tries = 0; !e && n > budget && tries < 8; tries++) {
        piece *last = &b->obs[w->last];
        size_t len = strlen(last->text), c = count_tokens(tok, last->text);
        size_t over = n - budget;
        if (len <= 3 || c == 0) break;
        size_t drop = (size_t)((double)len * (double)(over + 4) / (double)c) + 1;
        e = cut_start(last, drop < len ? drop : len);
        if (!e) e = encode(b, &ids, &n, &cap);
    }
    if (!e && n > budget)
        e = eef_fail(EEF_EINVAL, "prompt: %zu tokens of instruction and one step exceed the "
                     "budget of %zu", n, budget);
    float *mask = e ? NULL : eef_calloc(n ? n : 1, sizeof *mask);
    if (!e && !mask) e = EEF_ENOMEM;
    for (size_t k = 0; !e && k < b->n_msgs; k++) {
        const eef_chat_span *s = &b->spans[k];
        size_t step = k < b->sys ? 0 : b->first + (k - b->sys) / 2;
        float w8 = k < b->sys ? (w->first == 0 ? ctx_w : 0.0f) : step < w->first ? 0.0f : ctx_w;
        size_t end = s->content_end;
        if (k >= b->sys && (k - b->sys) % 2 == 1) { /* an assistant turn: its action */
            w8 = step < w->first ? 0.0f : act_mask ? (float)(act_mask[step] != 0) : 1.0f;
            for (size_t q = s->content_end; q < s->end; q++)
                if (ids[q] == eot) {
                    end = q + 1;
                    break;
                }
        }
        for (size_t q = s->content; q < end; q++) mask[q] = w8;
    }
    if (b->obs[w->last].own) free(b->obs[w->last].text);
    b->obs[w->last] = keep;
    b->n_obs = all_obs, b->n_acts = all_acts;
    if (e) {
        free(ids);
        return e;
    }
    out->tokens = ids, out->mask = mask, out->n = out->cap = (int)n;
    return EEF_OK;
}

/* Tokens of each step (its user turn, with and without its assistant
 * turn) and of the head, from one encoding of the whole: the templates
 * encode the text between special tokens as one piece, so a turn's tokens
 * do not depend on its neighbours. */
static eef_err step_costs(chat_build *b, size_t *head, size_t *done, size_t *open)
{
    int *ids = NULL;
    size_t n = 0, cap = 0;
    b->first = 0, b->flags = EEF_CHAT_THINK_EVERY | EEF_CHAT_GEN_PROMPT;
    eef_err e = encode(b, &ids, &n, &cap);
    free(ids);
    EEF_TRY(e);
    const eef_chat_span *sp = b->spans;
    const size_t last_end = sp[b->n_msgs - 1].end, gen = n - last_end;
    *head = b->sys < b->n_msgs ? sp[b->sys].start : n;
    for (size_t i = 0; i < b->n_obs; i++) {
        size_t u = b->sys + 2 * i;
        size_t user = sp[u].end - sp[u].start;
        open[i] = user + gen;
        done[i] = i < b->n_acts ? sp[u + 1].end - sp[u].start : open[i];
    }
    return EEF_OK;
}

eef_err eef_prompt_chat_build(const eef_tokenizer *tok, const eef_env_text *text,
                              const char *instruction, const char *const *obs, size_t n_obs,
                              const char *const *acts, const int *act_mask, size_t n_acts,
                              int max_tokens, float ctx_w, int all, eef_prompt **outs,
                              size_t *n_out)
{
    *n_out = 0;
    if (eef_tok_roles_of(tok)->eot < 0)
        return eef_fail(EEF_EINVAL, "prompt: the chat format has no end-of-turn token");
    const int open = n_obs > n_acts;
    chat_build b = { .tok = tok, .instruction = instruction, .n_obs = n_obs, .n_acts = n_acts };
    b.obs = eef_calloc(n_obs + 1, sizeof *b.obs);
    b.act = eef_calloc(n_acts + 1, sizeof *b.act);
    b.msgs = eef_calloc(n_obs + n_acts + 1, sizeof *b.msgs);
    b.spans = eef_calloc(n_obs + n_acts + 1, sizeof *b.spans);
    size_t *cost = eef_calloc(3 * (n_obs + 1), sizeof *cost);
    eef_prompt_stretch *w = eef_calloc(n_obs + 1, sizeof *w);
    eef_err e = b.obs && b.act && b.msgs && b.spans && cost && w ? EEF_OK : EEF_ENOMEM;
    /* the pieces, rendered as eef's prompt renders them */
    for (size_t i = 0; !e && i < n_obs; i++)
        e = replace(&b.obs[i], eef_prompt_obs_text(text, instruction, obs, i));
    for (size_t i = 0; !e && i < n_acts; i++)
        e = replace(&b.act[i], text->render_action(acts[i], i < n_obs ? obs[i] : NULL));
    size_t head = 0, *done = cost, *opn = cost + n_obs + 1, *start = cost + 2 * (n_obs + 1), k = 1;
    if (!e && n_obs) {
        e = step_costs(&b, &head, done, opn);
        if (!e) eef_prompt_windows(head, done, opn, n_obs, (size_t)max_tokens, start);
        k = eef_prompt_stretches(start, n_obs, w);
    }
    size_t from = all ? 0 : k - 1;
    if (!all) w[from].first = w[from].start; /* one sequence: every action as masked */
    eef_prompt *o = NULL;
    if (!e && !(o = eef_calloc(k - from, sizeof *o))) e = EEF_ENOMEM;
    for (size_t j = from; !e && j < k; j++) {
        if (!n_obs) { /* the instruction alone */
            int *ids = NULL;
            size_t n = 0, cap = 0;
            e = encode(&b, &ids, &n, &cap);
            float *mask = e ? NULL : eef_calloc(n ? n : 1, sizeof *mask);
            if (!e && !mask) e = EEF_ENOMEM;
            if (e) free(ids);
            else o[0] = (eef_prompt){ ids, mask, (int)n, (int)n };
            continue;
        }
        e = emit(&b, &w[j], open, act_mask, ctx_w, (size_t)max_tokens, &o[j - from]);
    }
    if (e) {
        for (size_t j = 0; o && j < k - from; j++) eef_prompt_free(&o[j]);
        free(o);
    } else {
        *outs = o, *n_out = k - from;
    }
    pieces_free(b.obs, n_obs);
    pieces_free(b.act, n_acts);
    free(b.msgs);
    free(b.spans);
    free(cost);
    free(w);
    return e;
}

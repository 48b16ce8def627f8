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
 * cache keeps it).  Qwen3's template (chatml-think) writes an empty
 * <think> block before the last assistant turn after the last user
 * message and nowhere else: the generation prompt is written without it
 * (as the earlier turns read), so only a training sequence's last action
 * sees one.
 *
 * Loss mask: 1 on an assistant turn's content tokens and its end-of-turn
 * token when that step's mask is 1; the instruction's and observations'
 * content weighs ctx_w; everything else (headers, the template's framing)
 * is 0.
 *
 * Budget (max_tokens), as eef's prompt: the oldest observations become
 * "...", then the oldest steps go, then the current observation's start
 * is cut.  A chat template's framing is only known once encoded, so each
 * cut is checked by encoding the whole again. */
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

/* Encodes the conversation from step `first` on. */
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

eef_err eef_prompt_chat_build(const eef_tokenizer *tok, const eef_env_text *text,
                              const char *instruction, const char *const *obs, size_t n_obs,
                              const char *const *acts, const int *act_mask, size_t n_acts,
                              int max_tokens, float ctx_w, eef_prompt *out)
{
    out->n = 0;
    if (n_obs != n_acts && n_obs != n_acts + 1)
        return eef_fail(EEF_EINVAL, "prompt: %zu observations for %zu actions", n_obs, n_acts);
    if (max_tokens < 16) return eef_fail(EEF_EINVAL, "prompt: budget of %d tokens too small", max_tokens);
    const int eot = eef_tok_roles_of(tok)->eot;
    if (eot < 0) return eef_fail(EEF_EINVAL, "prompt: the chat format has no end-of-turn token");
    chat_build b = { .tok = tok, .instruction = instruction, .n_obs = n_obs, .n_acts = n_acts,
                     .flags = n_obs > n_acts ? EEF_CHAT_GEN_PROMPT : 0 };
    b.obs = eef_calloc(n_obs + 1, sizeof *b.obs);
    b.act = eef_calloc(n_acts + 1, sizeof *b.act);
    b.msgs = eef_calloc(n_obs + n_acts + 1, sizeof *b.msgs);
    b.spans = eef_calloc(n_obs + n_acts + 1, sizeof *b.spans);
    eef_err e = b.obs && b.act && b.msgs && b.spans ? EEF_OK : EEF_ENOMEM;
    /* the pieces, rendered as eef's prompt renders them */
    for (size_t i = 0; !e && i < n_obs; i++)
        e = replace(&b.obs[i], eef_prompt_obs_text(text, instruction, obs, i));
    for (size_t i = 0; !e && i < n_acts; i++)
        e = replace(&b.act[i], text->render_action(acts[i], i < n_obs ? obs[i] : NULL));
    int *ids = NULL;
    size_t n = 0, cap = 0;
    if (!e) e = encode(&b, &ids, &n, &cap);
    /* over budget: the oldest observations first (the last one stays) */
    static char dots[] = "...";
    for (size_t i = 0; !e && n > (size_t)max_tokens && i + 1 < n_obs; i++) {
        if (strcmp(b.obs[i].text, dots) == 0) continue;
        /* elide as many as the estimate says, then check */
        size_t over = n - (size_t)max_tokens, freed = 0, k = i;
        for (; k + 1 < n_obs && freed < over; k++) {
            size_t c = count_tokens(tok, b.obs[k].text);
            freed += c > 1 ? c - 1 : 0;
            if (b.obs[k].own) free(b.obs[k].text);
            b.obs[k] = (piece){ dots, 0 };
        }
        i = k - 1;
        e = encode(&b, &ids, &n, &cap);
    }
    /* then the oldest steps */
    while (!e && n > (size_t)max_tokens && b.first + 1 < n_obs) {
        b.first++;
        e = encode(&b, &ids, &n, &cap);
    }
    /* then the start of the current observation, a byte share at a time */
    for (int tries = 0; !e && n_obs && n > (size_t)max_tokens && tries < 8; tries++) {
        piece *last = &b.obs[n_obs - 1];
        size_t len = strlen(last->text), c = count_tokens(tok, last->text);
        size_t over = n - (size_t)max_tokens;
        if (len <= 3 || c == 0) break;
        size_t drop = (size_t)((double)len * (double)(over + 4) / (double)c) + 1;
        e = cut_start(last, drop < len ? drop : len);
        if (!e) e = encode(&b, &ids, &n, &cap);
    }
    if (!e && n > (size_t)max_tokens)
        e = eef_fail(EEF_EINVAL, "prompt: %zu tokens of instruction and one step exceed the "
                     "budget of %d", n, max_tokens);
    float *mask = e ? NULL : eef_calloc(n ? n : 1, sizeof *mask);
    if (!e && !mask) e = EEF_ENOMEM;
    for (size_t k = 0; !e && k < b.n_msgs; k++) {
        const eef_chat_span *s = &b.spans[k];
        float w = ctx_w;
        size_t end = s->content_end;
        if (k >= b.sys && (k - b.sys) % 2 == 1) { /* an assistant turn: its action */
            size_t step = b.first + (k - b.sys) / 2;
            w = act_mask ? (float)(act_mask[step] != 0) : 1.0f;
            for (size_t q = s->content_end; q < s->end; q++)
                if (ids[q] == eot) {
                    end = q + 1;
                    break;
                }
        }
        for (size_t q = s->content; q < end; q++) mask[q] = w;
    }
    if (!e) {
        free(out->tokens);
        free(out->mask);
        /* both arrays hold n (the mask was sized so) */
        out->tokens = ids, out->mask = mask, out->n = out->cap = (int)n;
        ids = NULL;
    }
    free(ids);
    pieces_free(b.obs, n_obs);
    pieces_free(b.act, n_acts);
    free(b.msgs);
    free(b.spans);
    return e;
}

/* prompt.c: trajectory <-> tokens and loss mask.  The prompt format lives
 * here and only here (see policy.h). */
#include "policy.h"
#include "prompt_chat.h"

#include <stdlib.h>
#include <string.h>

void eef_prompt_free(eef_prompt *p)
{
    free(p->tokens);
    free(p->mask);
    memset(p, 0, sizeof *p);
}

static eef_err push(eef_prompt *p, int tok, float m)
{
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 256;
        int *t = eef_realloc(p->tokens, (size_t)cap * sizeof(int));
        if (!t) return EEF_ENOMEM;
        p->tokens = t;
        float *mk = eef_realloc(p->mask, (size_t)cap * sizeof(float));
        if (!mk) return EEF_ENOMEM;
        p->mask = mk;
        p->cap = cap;
    }
    p->tokens[p->n] = tok;
    p->mask[p->n] = m;
    p->n++;
    return EEF_OK;
}

static eef_err push_ids(eef_prompt *p, const int *ids, size_t n, float m)
{
    for (size_t i = 0; i < n; i++) EEF_TRY(push(p, ids[i], m));
    return EEF_OK;
}

char *eef_prompt_obs_text(const eef_env_text *text, const char *instruction,
                          const char *const *obs, size_t i)
{
    size_t seen = i; /* the first step that showed this page */
    for (size_t k = 0; k < i && seen == i; k++)
        if (strcmp(obs[k], obs[i]) == 0) seen = k;
    if (seen == i) return text->render_obs(obs[i], instruction);
    char *c = eef_malloc(48);
    if (c) snprintf(c, 48, "(as at step %zu)", seen + 1);
    return c;
}

/* ------------------------------------------------------------ the window */
int eef_prompt_budget(int ctx) { return ctx - EEF_PROMPT_RESERVE; }

void eef_prompt_windows(size_t head, const size_t *done, const size_t *open, size_t n,
                        size_t budget, size_t *start)
{
    size_t s = 0, kept = 0; /* kept: tokens of the done steps s..i-1 */
    for (size_t i = 0; i < n; i++) {
        size_t len = head + kept + open[i];
        if (len > budget) /* a drop: the oldest whole steps, down to half */
            while (s < i && len > budget / 2) {
                len -= done[s];
                kept -= done[s++];
            }
        start[i] = s;
        kept += done[i];
    }
}

size_t eef_prompt_stretches(const size_t *start, size_t n, eef_prompt_stretch *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || start[i] != start[i - 1]) out[k++] = (eef_prompt_stretch){ start[i], i, i };
        out[k - 1].last = i;
    }
    return k;
}

/* ------------------------------------------------------------ eef's own prompt */
typedef struct {
    int *ids;
    size_t n, cap;
} idvec;

static eef_err encode(const eef_tokenizer *tok, const char *s, idvec *v)
{
    v->n = 0;
    return eef_tok_encode(tok, s, strlen(s), &v->ids, &v->n, &v->cap);
}

/* Every piece of an episode encoded once, and its windows. */
typedef struct {
    const eef_tokenizer *tok;
    const eef_tok_roles *ro;
    idvec instr, *o, *a;
    size_t n_obs, n_acts;
    size_t head, *done, *open, *start; /* tokens: eef_prompt_windows */
} own_steps;

static void own_free(own_steps *p)
{
    free(p->instr.ids);
    for (size_t i = 0; p->o && i < p->n_obs; i++) free(p->o[i].ids);
    for (size_t i = 0; p->a && i < p->n_acts; i++) free(p->a[i].ids);
    free(p->o), free(p->a), free(p->done), free(p->open), free(p->start);
}

static eef_err own_encode(own_steps *p, const eef_env_text *text, const char *instruction,
                          const char *const *obs, const char *const *acts, size_t budget)
{
    const size_t n = p->n_obs;
    p->o = eef_calloc(n + 1, sizeof *p->o);
    p->a = eef_calloc(p->n_acts + 1, sizeof *p->a);
    p->done = eef_calloc(n + 1, sizeof *p->done);
    p->open = eef_calloc(n + 1, sizeof *p->open);
    p->start = eef_calloc(n + 1, sizeof *p->start);
    if (!p->o || !p->a || !p->done || !p->open || !p->start) return EEF_ENOMEM;
    if (instruction && *instruction) EEF_TRY(encode(p->tok, instruction, &p->instr));
    p->head = (p->ro->bos >= 0) + (p->instr.n ? 1 + p->instr.n : 0);
    for (size_t i = 0; i < n; i++) {
        char *c = eef_prompt_obs_text(text, instruction, obs, i);
        if (!c) return EEF_ENOMEM;
        eef_err e = encode(p->tok, c, &p->o[i]);
        free(c);
        EEF_TRY(e);
        p->open[i] = 2 + p->o[i].n; /* <|obs|> OBS <|act|> */
        p->done[i] = p->open[i];
    }
    for (size_t i = 0; i < p->n_acts; i++) {
        char *r = text->render_action(acts[i], i < n ? obs[i] : NULL);
        if (!r) return EEF_ENOMEM;
        eef_err e = encode(p->tok, r, &p->a[i]);
        free(r);
        EEF_TRY(e);
        p->done[i] += p->a[i].n + 1; /* ACTION <|end|> */
    }
    eef_prompt_windows(p->head, p->done, p->open, n, budget, p->start);
    return EEF_OK;
}

/* Steps [w->start, w->last] with their actions (but the last step's when
 * open); as eef_prompt_seqs says, the steps before w->first weigh 0, and so
 * does the instruction unless the window is the episode's first. */
static eef_err own_emit(const own_steps *p, const eef_prompt_stretch *w, int open,
                        const int *act_mask, float ctx_w, size_t budget, eef_prompt *out)
{
    const eef_tok_roles *ro = p->ro;
    out->n = 0;
    size_t len = p->head + p->open[w->last];
    for (size_t i = w->start; i < w->last; i++) len += p->done[i];
    /* a step alone over the budget: its observation's start is cut */
    size_t cut = len > budget ? len - budget : 0;
    if (cut > p->o[w->last].n)
        return eef_fail(EEF_EINVAL, "prompt: %zu tokens of instruction and one step exceed the "
                        "budget of %zu", len - p->o[w->last].n, budget);
    const float w_instr = w->first == 0 ? ctx_w : 0.0f;
    if (ro->bos >= 0) EEF_TRY(push(out, ro->bos, 0));
    if (p->instr.n) {
        EEF_TRY(push(out, ro->instr, w_instr));
        EEF_TRY(push_ids(out, p->instr.ids, p->instr.n, w_instr));
    }
    for (size_t i = w->start; i <= w->last; i++) {
        const float wc = i >= w->first ? ctx_w : 0.0f;
        size_t skip = i == w->last ? cut : 0;
        EEF_TRY(push(out, ro->obs, wc));
        /* an empty observation has no ids (NULL): NULL + 0 is undefined */
        if (p->o[i].n > skip) EEF_TRY(push_ids(out, p->o[i].ids + skip, p->o[i].n - skip, wc));
        EEF_TRY(push(out, ro->act, wc));
        if (open && i == w->last) break;
        float m = i < w->first ? 0.0f : act_mask ? (float)(act_mask[i] != 0) : 1.0f;
        EEF_TRY(push_ids(out, p->a[i].ids, p->a[i].n, m));
        EEF_TRY(push(out, ro->act_end, m));
    }
    return EEF_OK;
}

/* The episode's windows as prompts: the acting prompt (n_obs = n_acts +
 * 1: one, the last), the last stretch (n_obs = n_acts, all = 0) or every
 * stretch (all = 1). */
static eef_err build(const eef_tokenizer *tok, const eef_env_text *text,
                     const char *instruction, const char *const *obs, size_t n_obs,
                     const char *const *acts, const int *act_mask, size_t n_acts,
                     int max_tokens, float ctx_w, int all, eef_prompt **outs, size_t *n_out)
{
    *n_out = 0;
    if (n_obs != n_acts && n_obs != n_acts + 1)
        return eef_fail(EEF_EINVAL, "prompt: %zu observations for %zu actions", n_obs, n_acts);
    if (max_tokens < 16) return eef_fail(EEF_EINVAL, "prompt: budget of %d tokens too small", max_tokens);
    const eef_tok_roles *ro = eef_tok_roles_of(tok);
    if (ro->act < 0)
        return eef_prompt_chat_build(tok, text, instruction, obs, n_obs, acts, act_mask, n_acts,
                                     max_tokens, ctx_w, all, outs, n_out);
    const int open = n_obs > n_acts;
    if (n_obs == 0) { /* no step: the instruction alone */
        eef_prompt *o = eef_calloc(1, sizeof *o);
        own_steps p = { .tok = tok, .ro = ro };
        eef_err e = o ? EEF_OK : EEF_ENOMEM;
        if (!e && instruction && *instruction) e = encode(tok, instruction, &p.instr);
        if (!e && ro->bos >= 0) e = push(o, ro->bos, 0);
        if (!e && p.instr.n) e = push(o, ro->instr, ctx_w);
        if (!e && p.instr.n) e = push_ids(o, p.instr.ids, p.instr.n, ctx_w);
        free(p.instr.ids);
        if (e) {
            if (o) eef_prompt_free(o);
            free(o);
            return e;
        }
        *outs = o, *n_out = 1;
        return EEF_OK;
    }
    own_steps p = { .tok = tok, .ro = ro, .n_obs = n_obs, .n_acts = n_acts };
    eef_prompt_stretch *w = eef_calloc(n_obs, sizeof *w);
    eef_err e = w ? own_encode(&p, text, instruction, obs, acts, (size_t)max_tokens) : EEF_ENOMEM;
    size_t k = e ? 0 : eef_prompt_stretches(p.start, n_obs, w);
    size_t from = all ? 0 : k - 1;
    if (!e && !all) w[from].first = w[from].start; /* one sequence: every action as masked */
    eef_prompt *o = NULL;
    if (!e && !(o = eef_calloc(k - from, sizeof *o))) e = EEF_ENOMEM;
    for (size_t j = from; !e && j < k; j++)
        e = own_emit(&p, &w[j], open, act_mask, ctx_w, (size_t)max_tokens, &o[j - from]);
    own_free(&p);
    free(w);
    if (e) {
        for (size_t j = 0; o && j < k - from; j++) eef_prompt_free(&o[j]);
        free(o);
        return e;
    }
    *outs = o, *n_out = k - from;
    return EEF_OK;
}

/* One prompt of build into out (its arrays moved). */
static eef_err build_one(const eef_tokenizer *tok, const eef_env_text *text,
                         const char *instruction, const char *const *obs, size_t n_obs,
                         const char *const *acts, const int *act_mask, size_t n_acts,
                         int max_tokens, float ctx_w, eef_prompt *out)
{
    eef_prompt *o;
    size_t n;
    EEF_TRY(build(tok, text, instruction, obs, n_obs, acts, act_mask, n_acts, max_tokens, ctx_w,
                  0, &o, &n));
    eef_prompt_free(out);
    *out = o[0];
    free(o);
    return EEF_OK;
}

eef_err eef_prompt_build(const eef_tokenizer *tok, const eef_env_text *text,
                         const char *instruction, const char *const *obs, size_t n_obs,
                         const char *const *acts, const int *act_mask, size_t n_acts,
                         int max_tokens, eef_prompt *out)
{
    return build_one(tok, text, instruction, obs, n_obs, acts, act_mask, n_acts, max_tokens, 0.0f,
                     out);
}

/* A trajectory's pieces as build takes them. */
static eef_err traj_build(const eef_tokenizer *tok, const eef_traj *t, int max_tokens,
                          float ctx_weight, int all, eef_prompt **outs, size_t *n_out)
{
    size_t n = t->n_steps;
    const char **obs = eef_malloc((n + 1) * sizeof *obs);
    const char **acts = eef_malloc((n + 1) * sizeof *acts);
    int *mask = eef_malloc((n + 1) * sizeof *mask);
    eef_err e = (!obs || !acts || !mask) ? EEF_ENOMEM : EEF_OK;
    for (size_t i = 0; !e && i < n; i++) {
        obs[i] = t->steps[i].obs;
        acts[i] = t->steps[i].action;
        mask[i] = t->steps[i].mask;
    }
    if (!e) e = build(tok, eef_env_text_of(t->env), t->instruction, obs, n, acts, mask, n,
                      max_tokens, ctx_weight, all, outs, n_out);
    free(obs);
    free(acts);
    free(mask);
    return e;
}

eef_err eef_prompt_from_traj(const eef_tokenizer *tok, const eef_traj *t, int max_tokens,
                             float ctx_weight, eef_prompt *out)
{
    eef_prompt *o;
    size_t n;
    EEF_TRY(traj_build(tok, t, max_tokens, ctx_weight, 0, &o, &n));
    eef_prompt_free(out);
    *out = o[0];
    free(o);
    return EEF_OK;
}

eef_err eef_prompt_seqs(const eef_tokenizer *tok, const eef_traj *t, int max_tokens,
                        float ctx_weight, eef_prompt **out, size_t *n)
{
    return traj_build(tok, t, max_tokens, ctx_weight, 1, out, n);
}

eef_err eef_prompt_corpus(const eef_traj *t, size_t n, eef_buf *out)
{
    int fail = 0;
    for (size_t i = 0; i < n && !fail; i++) {
        const eef_env_text *text = eef_env_text_of(t[i].env);
        if (t[i].instruction) fail = eef_buf_puts(out, t[i].instruction) || eef_buf_puts(out, "\n");
        for (size_t k = 0; k < t[i].n_steps && !fail; k++) {
            char *o = text->render_obs(t[i].steps[k].obs, t[i].instruction);
            char *a = text->render_action(t[i].steps[k].action, t[i].steps[k].obs);
            fail = !o || !a || eef_buf_puts(out, o) || eef_buf_puts(out, "\n") ||
                   eef_buf_puts(out, a) || eef_buf_puts(out, "\n");
            free(o);
            free(a);
        }
    }
    return fail ? EEF_ENOMEM : EEF_OK;
}

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

typedef struct {
    int *ids;
    size_t n, cap;
} idvec;

static eef_err encode(const eef_tokenizer *tok, const char *s, idvec *v)
{
    v->n = 0;
    return eef_tok_encode(tok, s, strlen(s), &v->ids, &v->n, &v->cap);
}

static eef_err build(const eef_tokenizer *tok, const eef_env_text *text,
                     const char *instruction, const char *const *obs,
                     size_t n_obs, const char *const *acts, const int *act_mask, size_t n_acts,
                     int max_tokens, float ctx_w, eef_prompt *out)
{
    /* a tokenizer without eef's agent tokens: its chat format */
    const eef_tok_roles *ro = eef_tok_roles_of(tok);
    if (ro->act < 0)
        return eef_prompt_chat_build(tok, text, instruction, obs, n_obs, acts, act_mask, n_acts,
                                     max_tokens, ctx_w, out);
    out->n = 0;
    if (n_obs != n_acts && n_obs != n_acts + 1)
        return eef_fail(EEF_EINVAL, "prompt: %zu observations for %zu actions", n_obs, n_acts);
    if (max_tokens < 16) return eef_fail(EEF_EINVAL, "prompt: budget of %d tokens too small", max_tokens);
    eef_err e = EEF_OK;
    idvec instr = { 0 }, *o = eef_calloc(n_obs + 1, sizeof *o), *a = eef_calloc(n_acts + 1, sizeof *a);
    if (!o || !a) e = EEF_ENOMEM;
    /* encode every piece once */
    size_t total = 2 + n_obs * 2 + n_acts; /* bos, instr, <|obs|> <|act|> per step, <|end|> per action */
    if (!e && instruction && *instruction) e = encode(tok, instruction, &instr);
    total += instr.n;
    for (size_t i = 0; !e && i < n_obs; i++) {
        char *c = eef_prompt_obs_text(text, instruction, obs, i);
        if (!c) e = EEF_ENOMEM;
        else {
            e = encode(tok, c, &o[i]);
            free(c);
        }
        total += o[i].n;
    }
    for (size_t i = 0; !e && i < n_acts; i++) {
        char *r = text->render_action(acts[i], i < n_obs ? obs[i] : NULL);
        if (!r) e = EEF_ENOMEM;
        else {
            e = encode(tok, r, &a[i]);
            free(r);
        }
        total += a[i].n;
    }
    /* over budget: elide the oldest observations (keeping the last), then
     * drop the oldest whole steps, then cut the last observation's start */
    static const char ellipsis[] = "...";
    idvec ell = { 0 };
    if (!e) e = encode(tok, ellipsis, &ell);
    for (size_t i = 0; !e && total > (size_t)max_tokens && i + 1 < n_obs; i++) {
        if (o[i].n <= ell.n) continue;
        total -= o[i].n - ell.n;
        o[i].n = ell.n;
        memcpy(o[i].ids, ell.ids, ell.n * sizeof(int));
    }
    size_t first = 0; /* first step kept */
    while (!e && total > (size_t)max_tokens && first + 1 < n_obs) {
        total -= 2 + o[first].n + (first < n_acts ? a[first].n + 1 : 0);
        first++;
    }
    size_t cut_last = 0; /* tokens cut from the start of the last observation */
    if (!e && total > (size_t)max_tokens && n_obs > 0) {
        size_t over = total - (size_t)max_tokens;
        cut_last = over < o[n_obs - 1].n ? over : o[n_obs - 1].n;
        total -= cut_last;
    }
    if (!e && total > (size_t)max_tokens)
        e = eef_fail(EEF_EINVAL, "prompt: %zu tokens of instruction and one step exceed the "
                     "budget of %d", total, max_tokens);
    if (!e && ro->bos >= 0) e = push(out, ro->bos, 0);
    if (!e && instr.n) {
        e = push(out, ro->instr, ctx_w);
        if (!e) e = push_ids(out, instr.ids, instr.n, ctx_w);
    }
    for (size_t i = first; !e && i < n_obs; i++) {
        size_t skip = i == n_obs - 1 ? cut_last : 0;
        e = push(out, ro->obs, ctx_w);
        /* an empty observation has no ids (NULL): NULL + 0 is undefined */
        if (!e && o[i].n > skip) e = push_ids(out, o[i].ids + skip, o[i].n - skip, ctx_w);
        if (!e) e = push(out, ro->act, ctx_w);
        if (!e && i < n_acts) {
            float m = act_mask ? (float)(act_mask[i] != 0) : 1.0f;
            e = push_ids(out, a[i].ids, a[i].n, m);
            if (!e) e = push(out, ro->act_end, m);
        }
    }
    free(instr.ids);
    free(ell.ids);
    for (size_t i = 0; o && i < n_obs; i++) free(o[i].ids);
    for (size_t i = 0; a && i < n_acts; i++) free(a[i].ids);
    free(o);
    free(a);
    return e;
}

eef_err eef_prompt_build(const eef_tokenizer *tok, const eef_env_text *text,
                         const char *instruction, const char *const *obs, size_t n_obs,
                         const char *const *acts, const int *act_mask, size_t n_acts,
                         int max_tokens, eef_prompt *out)
{
    return build(tok, text, instruction, obs, n_obs, acts, act_mask, n_acts, max_tokens, 0.0f,
                 out);
}

eef_err eef_prompt_from_traj(const eef_tokenizer *tok, const eef_traj *t, int max_tokens,
                             float ctx_weight, eef_prompt *out)
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
                      max_tokens, ctx_weight, out);
    free(obs);
    free(acts);
    free(mask);
    return e;
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

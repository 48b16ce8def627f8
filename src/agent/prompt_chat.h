/* prompt_chat.h: inside agent/ only (policy.h is the folder's face).  The
 * agent's prompt as a conversation in the tokenizer's chat format, for a
 * tokenizer without eef's agent tokens (roles->act < 0); eef_prompt_build
 * and eef_prompt_from_traj dispatch here, with their arguments (ctx_w:
 * the weight of the instruction's and observations' tokens). */
#ifndef EEF_PROMPT_CHAT_H
#define EEF_PROMPT_CHAT_H

#include "policy.h"

/* outs: *n_out prompts (eef_calloc'd, each to eef_prompt_free): the
 * acting prompt or the last stretch's sequence (all = 0), or every
 * stretch's (all = 1, eef_prompt_seqs). */
eef_err eef_prompt_chat_build(const eef_tokenizer *tok, const eef_env_text *text,
                              const char *instruction, const char *const *obs, size_t n_obs,
                              const char *const *acts, const int *act_mask, size_t n_acts,
                              int max_tokens, float ctx_w, int all, eef_prompt **outs,
                              size_t *n_out);

/* The window rule (policy.h) on token counts: head (before step 0),
 * done[i] (step i with its action), open[i] (step i ending where its
 * action starts); start[i]: the first step of step i's prompt, for i in
 * [0, n). */
void eef_prompt_windows(size_t head, const size_t *done, const size_t *open, size_t n,
                        size_t budget, size_t *start);

/* A stretch: the steps [first, last] acted on with one window start;
 * its sequence holds steps [start, last], those before first carried
 * over (weight 0). */
typedef struct {
    size_t start, first, last;
} eef_prompt_stretch;
/* The stretches of start[0..n) into out (n at most); returns how many. */
size_t eef_prompt_stretches(const size_t *start, size_t n, eef_prompt_stretch *out);

/* Observation i as both prompts show it: rendered, or "(as at step N)"
 * when an earlier step of the episode showed the same page (a page is not
 * read twice).  NULL when out of memory. */
char *eef_prompt_obs_text(const eef_env_text *text, const char *instruction,
                          const char *const *obs, size_t i);

#endif

/* prompt_chat.h: inside agent/ only (policy.h is the folder's face).  The
 * agent's prompt as a conversation in the tokenizer's chat format, for a
 * tokenizer without eef's agent tokens (roles->act < 0); eef_prompt_build
 * and eef_prompt_from_traj dispatch here, with their arguments (ctx_w:
 * the weight of the instruction's and observations' tokens). */
#ifndef EEF_PROMPT_CHAT_H
#define EEF_PROMPT_CHAT_H

#include "policy.h"

eef_err eef_prompt_chat_build(const eef_tokenizer *tok, const eef_env_text *text,
                              const char *instruction, const char *const *obs, size_t n_obs,
                              const char *const *acts, const int *act_mask, size_t n_acts,
                              int max_tokens, float ctx_w, eef_prompt *out);

/* Observation i as both prompts show it: rendered, or "(as at step N)"
 * when an earlier step of the episode showed the same page (a page is not
 * read twice).  NULL when out of memory. */
char *eef_prompt_obs_text(const eef_env_text *text, const char *instruction,
                          const char *const *obs, size_t i);

#endif

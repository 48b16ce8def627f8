/*
 * env/house: the ALFWorld-style household world, its public face beyond
 * the env interface (env/env.h): analysis helpers (docs/house.md).
 */
#ifndef EEF_HOUSE_H
#define EEF_HOUSE_H

#include "env/env.h"

eef_err eef_house_open(const char *options, uint64_t seed, eef_env **out);

/* The task's type: "pick", "clean", "heat", "cool", "look" or "pick_two"
 * (ALFWorld's six), or NULL when env is not "house" or there is no such task. */
const char *eef_house_task_type(const eef_env *env, eef_split split, size_t index);
/* A winning action sequence found by reading the hidden world (a perfect
 * player; wins every task well within the step limit). */
eef_err eef_house_oracle(eef_env *env, eef_split split, size_t index, eef_strlist *actions);
/* Replays `actions` on the task and sets key[i] = 1 when action i is one a
 * correct solution also needs: taking an object of the goal's type, opening
 * a receptacle that holds one or the goal's receptacle (when openable), the
 * goal's heat / cool / clean of it, putting
 * it (in the required state) in a receptacle of the goal's type, turning on
 * the desk lamp of a look task.  Invalid actions are 0.  Fails like
 * eef_env_restore when the episode ends before the last action. */
eef_err eef_house_key_actions(eef_env *env, eef_split split, size_t index,
                              const char *const *actions, size_t n, unsigned char *key);

#endif

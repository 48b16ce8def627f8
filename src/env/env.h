/*
 * env: the one interface every environment implements (shop, house,
 * remote), as a small vtable in the manner of SQLite's VFS.
 *
 * An eef_env holds the tasks and the world data; it is read-only once
 * opened and may be shared by all threads.  An eef_episode is one running
 * episode (the mutable state); each thread uses its own.
 *
 * State semantics: the state reached by (task, action prefix) is what
 * reset + stepping those actions produces.  eef_env_restore() is that
 * replay; an implementation may offer `copy` as a faster path, tested
 * equal to replay.
 *
 * Invalid actions never crash and never change the state: the step
 * returns valid = 0 and an observation that says why.  Invalid actions
 * still count as steps towards the episode's step limit.
 */
#ifndef EEF_ENV_H
#define EEF_ENV_H

#include "core/core.h"

typedef enum { EEF_SPLIT_TRAIN = 0, EEF_SPLIT_TEST = 1 } eef_split;
typedef enum { EEF_TIER_EASY = 0, EEF_TIER_MEDIUM = 1, EEF_TIER_HARD = 2 } eef_tier;
#define EEF_N_TIERS 3

const char *eef_split_name(eef_split s);   /* "train", "test" */
const char *eef_tier_name(eef_tier t);     /* "easy", "medium", "hard" */
eef_err eef_split_parse(const char *s, eef_split *out);

typedef struct {
    const char *id;          /* stable id, e.g. "shop-train-17" */
    eef_split split;
    size_t index;            /* index within its split */
    eef_tier tier;
    const char *instruction; /* the goal in natural language */
} eef_task;

typedef struct {
    const char *obs; /* observation after the step; owned by the episode,
                        valid until its next call */
    double reward;   /* final reward when done (0 before) */
    int done;        /* the episode is over */
    int valid;       /* 0 when the action was invalid (state unchanged) */
} eef_step;

/* What may be done now: every complete valid action, plus optionally a
 * free-text slot (e.g. "search[" ... "]") whose inside is any non-empty
 * text (valid UTF-8, no control characters). */
typedef struct {
    eef_strlist items;       /* e.g. "click[Next >]", "go to fridge 1" */
    const char *free_prefix; /* "search[" when free text is allowed, else NULL */
    const char *free_suffix; /* "]" */
} eef_actions;

void eef_actions_free(eef_actions *a);
/* 1 when `action` is one of the items or fits the free-text slot. */
int eef_actions_allows(const eef_actions *a, const char *action);

typedef struct eef_env eef_env;
typedef struct eef_episode eef_episode;

#define EEF_ENV_OPS_VERSION 1

typedef struct {
    int version;      /* EEF_ENV_OPS_VERSION */
    const char *name; /* "shop", "house", "remote" */
    size_t (*n_tasks)(const eef_env *env, eef_split split);
    eef_err (*task)(const eef_env *env, eef_split split, size_t index, eef_task *out);
    eef_err (*episode_open)(eef_env *env, eef_episode **out);
    /* Start a task; out->obs is the initial observation. */
    eef_err (*reset)(eef_episode *ep, eef_split split, size_t index, eef_step *out);
    eef_err (*step)(eef_episode *ep, const char *action, eef_step *out);
    /* The valid actions in the current state (out is overwritten). */
    eef_err (*actions)(eef_episode *ep, eef_actions *out);
    /* Optional (may be NULL): make `dst` an exact copy of `src`'s state. */
    eef_err (*copy)(eef_episode *dst, const eef_episode *src);
    /* Optional (may be NULL), for analysis: replays `actions` on the task
     * and sets is_key[i] = 1 for each action a correct solution also needs
     * (reading the hidden world; see each environment's definition). */
    eef_err (*key_actions)(eef_env *env, eef_split split, size_t index,
                           const char *const *actions, size_t n, unsigned char *is_key);
    /* Optional (may be NULL): a digest (eef_hash_bytes) of everything that
     * makes this world what it is: its tasks and its hidden world. */
    uint64_t (*digest)(const eef_env *env);
    void (*episode_close)(eef_episode *ep);
    void (*close)(eef_env *env);
} eef_env_ops;

/* Implementations embed these as their first member. */
struct eef_env {
    const eef_env_ops *ops;
    int max_steps; /* step limit of an episode */
};
struct eef_episode {
    eef_env *env;
};

/* Opens an environment by name: "shop", "house" or "remote:URL".
 * `options` is a comma-separated key=value list understood by that
 * environment (e.g. "products=2000,train=1500,test=500"), or NULL; unknown
 * keys are an error.  `seed` makes generated worlds reproducible. */
eef_err eef_env_open(const char *name, const char *options, uint64_t seed, eef_env **out);
void eef_env_close(eef_env *env);

/* Puts `ep` in the state reached from task (split, index) by `actions`
 * (replay: reset + step each).  out, if not NULL, receives the last step.
 * Fails if an action of the prefix is invalid or the episode ended early.
 * This is the one way a state is rebuilt; eef_env_restore_watch is the
 * same walk for callers that need what was seen on the way. */
eef_err eef_env_restore(eef_episode *ep, eef_split split, size_t index,
                        const char *const *actions, size_t n, eef_step *out);

typedef struct {
    /* Called before action i (0 <= i < n) with the step that led to the
     * state it is taken in: st->obs is what an actor saw there, st->done
     * whether the episode was already over.  An error stops the restore. */
    eef_err (*before)(void *ctx, size_t i, const eef_step *st);
    void *ctx;
    /* 0: an invalid action or an early end fails (a state is reached
     * exactly or not at all).  1: the actions are a record to re-execute:
     * invalid ones are stepped as they were taken, and an early end stops
     * the walk without error. */
    int as_recorded;
    size_t taken; /* out: how many actions were stepped */
} eef_restore_watch;

eef_err eef_env_restore_watch(eef_episode *ep, eef_split split, size_t index,
                              const char *const *actions, size_t n, eef_restore_watch *w,
                              eef_step *out);

/* The world's fingerprint, for files that record which world they were
 * made in: the environment's digest (shop: every task's id, tier and
 * instruction and the generated catalogue, or the bytes of the WebShop data
 * files it loaded; house: every task's layout and goal) mixed with its
 * name, as 16 lowercase hex digits.  One pass over data in memory (the shop's
 * default world: about a millisecond).  EEF_ENOTFOUND when the environment
 * has no digest (remote: what a server holds is the server's). */
#define EEF_FINGERPRINT_LEN 17
eef_err eef_env_fingerprint(const eef_env *env, char out[EEF_FINGERPRINT_LEN]);

/* The environment's key_actions, or EEF_ENOTFOUND when it has none. */
eef_err eef_env_key_actions(eef_env *env, eef_split split, size_t index,
                            const char *const *actions, size_t n, unsigned char *is_key);

/* Option-string parsing shared by implementations:
 * calls `fn(key, value, ctx)` for each pair; an error from fn stops. */
typedef eef_err (*eef_option_fn)(const char *key, const char *value, void *ctx);
eef_err eef_env_options(const char *options, eef_option_fn fn, void *ctx);

/* Constructors of the built-in environments. */
eef_err eef_shop_open(const char *options, uint64_t seed, eef_env **out);

/* Shop analysis (tests, reports, EEF's important states); EEF_EINVAL for
 * other environments.  The oracle reads the catalogue and writes a winning
 * action sequence for the task (search, Next > to the first winning
 * product's page, open it, pick matching options, Buy Now).  key_actions
 * replays `actions` from the task's start and sets is_key[i] = 1 for the
 * steps of a correct solution: a Next > towards the first page holding a
 * winning product, opening a winning product, choosing an option value
 * that counts for the goal on a winning product, and a winning Buy Now. */
eef_err eef_shop_oracle(eef_env *env, eef_split split, size_t index, eef_strlist *actions);
eef_err eef_shop_key_actions(eef_env *env, eef_split split, size_t index,
                             const char *const *actions, size_t n, unsigned char *is_key);
eef_err eef_house_open(const char *options, uint64_t seed, eef_env **out);
eef_err eef_remote_open(const char *url, const char *options, eef_env **out);

/* Analysis helpers of the household world (env/house, docs/house.md).
 * The task's type: "pick", "clean", "heat", "cool", "look" or "pick_two"
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

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

/* Opens an environment by its registered name: "shop", "house" or
 * "remote:URL".
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

/* ------------------------------------------------------------ text
 * How an environment's text reads to an agent.  A prompt (agent/prompt.c)
 * shows observations and actions as their environment renders them, and
 * tables count actions by the kind it names: agent/, traj/ and tune/ ask
 * here and know no environment's page format. */
typedef struct {
    /* The observation as a prompt shows it (malloc'd; NULL: out of memory):
     * without the task's instruction, which the prompt states once. */
    char *(*render_obs)(const char *obs, const char *instruction);
    /* An action as the model writes it, answering observation obs (NULL:
     * none) (malloc'd).  A free-text prefix ("search[") renders as what
     * the model writes before the text. */
    char *(*render_action)(const char *action, const char *obs);
    /* The kind of an action for tables, at most cap - 1 bytes:
     * "search", "click[Buy Now]", "go to", "(empty)". */
    void (*action_kind)(const char *action, char *out, size_t cap);
} eef_env_text;

/* The text of an environment by the name its trajectories carry ("shop",
 * "house", "remote", or "remote:URL"); for NULL or a name no environment
 * registered (a served model, a file from elsewhere), the WebShop page
 * text, which leaves any other environment's text as it is but for the
 * instruction it cuts. */
const eef_env_text *eef_env_text_of(const char *env_name);

/* Helpers for the texts of text-game environments: an observation without
 * the instruction's first occurrence; "verb[arg]" as "verb arg" and
 * "verb[" as "verb" (else the action as it is); the verb of an action
 * as its kind (its first word lowercased, or "go to": ALFWorld's two-word
 * verb; "(empty)"). */
char *eef_text_cut_instruction(const char *obs, const char *instruction);
char *eef_text_render_verb(const char *action);
/* The length of the verb of "verb[...]" (letters and '_', at least one),
 * else 0. */
size_t eef_text_verb_len(const char *action);
void eef_text_verb_kind(const char *action, char *out, size_t cap);

/* ------------------------------------------------------------ registry
 * Every folder X of src/env/ defines `const eef_env_kind eef_env_kind_X`;
 * the build lists the folders (Makefile: EEF_ENV_KINDS), so an environment
 * added in its own folder is known by name with no edit elsewhere. */
typedef struct {
    const char *name;   /* "shop"; a name ending in ':' ("remote:") takes an
                           argument after it ("remote:http://...") */
    const char *usage;  /* how --env names it: "shop", "remote:URL" */
    /* arg: what follows a ':' name (NULL otherwise); options and seed as
     * for eef_env_open */
    eef_err (*open)(const char *arg, const char *options, uint64_t seed, eef_env **out);
    const eef_env_text *text;
} eef_env_kind;

#endif

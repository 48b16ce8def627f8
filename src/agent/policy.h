/*
 * agent: choosing actions.  policy.h is the folder's public face: the one
 * interface every policy implements (built-in experts, the transformer
 * agent, an OpenAI-compatible chat endpoint), the rollout runner that
 * drives a policy in an environment, and the prompt that turns a
 * trajectory into tokens and a loss mask.
 *
 * A policy is shared by all threads; each thread opens its own actor (the
 * per-thread state: a KV cache, scratch buffers, an HTTP handle).
 */
#ifndef EEF_POLICY_H
#define EEF_POLICY_H

#include "core/core.h"
#include "env/env.h"
#include "nn/nn.h"
#include "traj/traj.h"

/* Everything a policy may look at to choose the next action. */
typedef struct {
    const eef_task *task;
    uint64_t episode;          /* unique id of this rollout: an actor may keep
                                  work between calls with the same id */
    const char *const *obs;    /* obs[0..n]: observations; obs[n] is the current one */
    const char *const *acts;   /* acts[0..n-1]: the actions taken so far */
    size_t n;                  /* number of actions taken so far */
    const eef_actions *valid;  /* what may be done now */
    const eef_env_text *text;  /* how the environment's text reads (env.h) */
} eef_context;

typedef struct eef_policy eef_policy;
typedef struct eef_actor eef_actor;

#define EEF_POLICY_OPS_VERSION 1

typedef struct {
    int version;      /* EEF_POLICY_OPS_VERSION */
    const char *name; /* "expert-shop", "agent", "chat" */
    eef_err (*actor_open)(eef_policy *p, eef_actor **out);
    /* Writes the next action into `action` (cleared first).  `rng` is this
     * rollout's own stream, so choices are reproducible per rollout. */
    eef_err (*act)(eef_actor *a, const eef_context *ctx, eef_rng *rng, eef_buf *action);
    void (*actor_close)(eef_actor *a);
    void (*close)(eef_policy *p);
} eef_policy_ops;

struct eef_policy {
    const eef_policy_ops *ops;
};
struct eef_actor {
    eef_policy *policy;
};

void eef_policy_close(eef_policy *p);

/* The built-in experts.  `options` is a comma-separated key=value list of
 * the expert's knobs (e.g. "p_wrong_option=0.2"), or NULL for the
 * calibrated defaults; unknown keys are an error. */
eef_err eef_expert_shop_open(const char *options, eef_policy **out);
eef_err eef_expert_house_open(const char *options, eef_policy **out);

/* An expert behind any OpenAI-compatible chat endpoint (agent/chat.c):
 * `url` is the server ("http://host:port", ".../v1" or the full
 * ".../v1/chat/completions"), `model` the model id sent, `api_key_env`
 * the environment variable holding a Bearer key (NULL: none).  Options:
 * prompt=react|plain, temperature, top_p, max_tokens, history (last N
 * steps shown; 0 all), timeout (s), retries, backoff (s), seed (1: send a
 * per-call seed from the rollout's stream).  docs/serving.md has details. */
eef_err eef_chat_expert_open(const char *url, const char *model, const char *api_key_env,
                             const char *options, eef_policy **out);

/* An expert by name: "builtin" (or NULL: the environment's built-in
 * expert), "weak" (the built-in one with profile=weak: about half its
 * wins, with habits of its own, as GPT-3.5 to GPT-4 in the paper) or
 * "chat:URL" (options may add model=NAME and key_env=VAR to the chat
 * expert's own). */
eef_err eef_expert_open(const char *env, const char *expert, const char *options,
                        eef_policy **out);

/* ------------------------------------------------------------ prompt
 * The one place where a trajectory becomes tokens:
 *
 *   <|bos|> <|instr|> INSTRUCTION <|obs|> OBS_0 <|act|> ACTION_0 <|end|>
 *           <|obs|> OBS_1 <|act|> ACTION_1 <|end|> ...
 *
 * What the model reads and writes is the environment's rendering of its
 * text (eef_env_text, env.h; the shop's in env/shop/shop.h), undone by the
 * agent: observations without the instruction (it is given once at the
 * top), in the environment's compact form; actions as the model writes
 * them ("verb[arg]" as "verb arg", a product by its rank on the page).
 * A page identical to one seen at an earlier step k of the episode reads
 * "(as at step k)" (the item page after each option click, the results
 * after "< Prev"): the model need not read it twice.
 * So a rank, an option or a word is tokenized the same way in the
 * instruction, the observations and the actions, which is what lets a
 * small model copy it; and free text (search[...]) ends at <|end|>.  The loss mask
 * is 1 on the tokens of an action and its <|end|> when that step's mask
 * is 1, and 0 everywhere else (instruction, observations, masked actions).
 *
 * The window (when the whole does not fit in the budget): each step's
 * prompt holds the instruction and the steps from a window start on.  The
 * start only moves forward, in jumps: while the prompt fits it stays;
 * when the prompt would exceed the budget the oldest whole steps are
 * dropped until it holds at most half the budget (or only the current
 * step, whose observation's start is cut if it alone does not fit).  So
 * between two drops each prompt extends the one before (the agent's KV
 * cache keeps it, nothing is recomputed), and the window is a function of
 * the episode alone.  Training sees what the agent saw: a trajectory is
 * one sequence per stretch of steps acted on with one window start
 * (eef_prompt_seqs), the steps carried over from before the drop weigh 0
 * (they were trained on in the stretch before).  The budget of both is
 * eef_prompt_budget of the model's context.
 */
/* The prompt's format, kept in a run's configuration so that a model is
 * never resumed or tuned under another one: 1 wrote product ids as they
 * are, 2 writes them as their rank on the page, 3 keeps whole steps in a
 * window (above). */
#define EEF_PROMPT_VERSION 3 /* 3: the window rule above (was: old pages elided) */
typedef struct {
    int *tokens;
    float *mask;  /* mask[i]: is tokens[i] trained on (predicted) */
    int n, cap;
} eef_prompt;

void eef_prompt_free(eef_prompt *p);
/* Observations obs[0..n_obs), actions acts[0..n_acts) with masks
 * act_mask (NULL: all 1).  n_obs is n_acts (a training sequence) or
 * n_acts + 1: the prompt then ends with "<|obs|> OBS_n <|act|>", ready
 * for the next action. */
eef_err eef_prompt_build(const eef_tokenizer *tok, const eef_env_text *text,
                         const char *instruction, const char *const *obs, size_t n_obs,
                         const char *const *acts, const int *act_mask, size_t n_acts,
                         int max_tokens, eef_prompt *out);
/* A trajectory as the training sequences of its stretches (above), in
 * the text of its environment (eef_env_text_of(t->env)): *out holds *n
 * prompts (eef_calloc'd; eef_prompt_free each, then free), the mask as
 * above, except that the instruction's and observations' tokens weigh
 * ctx_weight (a language-model loss on the environment's text; masked
 * actions stay 0) and steps carried over into a stretch weigh 0.
 * max_tokens: the window's budget (eef_prompt_budget). */
eef_err eef_prompt_seqs(const eef_tokenizer *tok, const eef_traj *t, int max_tokens,
                        float ctx_weight, eef_prompt **out, size_t *n);
/* One sequence: the last stretch's, every action in it weighted by its
 * mask (carried over or not): what the agent saw at its last action. */
eef_err eef_prompt_from_traj(const eef_tokenizer *tok, const eef_traj *t, int max_tokens,
                             float ctx_weight, eef_prompt *out);
/* The prompt budget for a context of ctx tokens: room left for the
 * action (the agent's free text, max_free <= EEF_PROMPT_MAX_FREE, and the
 * longest listed action's tokens within the margin). */
#define EEF_PROMPT_MAX_FREE 24
#define EEF_PROMPT_RESERVE (EEF_PROMPT_MAX_FREE + 32)
int eef_prompt_budget(int ctx);
/* Appends the text the model will read and write for these trajectories
 * (instructions, rendered observations and actions), one piece a line:
 * the corpus a tokenizer should learn from. */
eef_err eef_prompt_corpus(const eef_traj *t, size_t n, eef_buf *out);

/* ------------------------------------------------------------ the agent
 * The transformer as a policy: the prompt above, then constrained decoding
 * over the valid actions (each action's canonical tokens + <|end|>), with
 * free text inside the environment's free slot (e.g. search[...]). */
typedef struct {
    double temperature; /* 0: greedy */
    double top_p;
    int max_free;       /* most tokens of free text */
    int max_tokens;     /* prompt budget; 0: the model's context */
} eef_agent_config;

void eef_agent_defaults(eef_agent_config *c);
/* The policy borrows `m` (it must outlive the policy). */
eef_err eef_agent_open(const eef_model *m, const eef_agent_config *c, eef_policy **out);

/* ------------------------------------------------------------ rollouts */
typedef struct {
    eef_split split;
    size_t index;              /* the task */
    const char *const *prefix; /* actions replayed first (an expert prefix), or NULL */
    size_t n_prefix;
    uint64_t key;              /* this rollout's RNG key: derive it from what the
                                  rollout is (seed, task, state, rollout number),
                                  never from the thread that runs it */
} eef_rollout_spec;

/* One rollout: restores the state (prefix steps recorded with mask 0),
 * then lets the actor act (mask 1) until the episode ends.  `out` is
 * filled (id, env, task, split, index, tier, instruction, steps, reward,
 * win, final_obs); the caller sets `source`. */
eef_err eef_rollout(eef_episode *ep, eef_actor *actor, const eef_rollout_spec *spec,
                    eef_traj *out);

/* Many rollouts over the OpenMP threads; out[i] for spec[i].  Deterministic
 * whatever the thread count.  `label` names the progress bar (NULL: none).
 * With the transformer agent each thread runs several rollouts at once
 * and decodes their actions in lockstep (rollout_batch.c): the same
 * trajectories, bit for bit, as one rollout at a time. */
eef_err eef_rollout_batch(eef_env *env, eef_policy *policy, const eef_rollout_spec *specs,
                          size_t n, const char *label, eef_traj *out);

/* The transformer agent's act in two halves around its constrained
 * decoding, for decoding many actors' actions in lockstep: begin builds
 * the prompt, brings the actor's cache up to it and returns the choice's
 * decoder and that cache; the caller advances the decoder (eef_cdec_next,
 * appending each *feed to kv, e.g. with eef_kv_step) until it is done, or
 * stops at an error; end (given that error) turns the choice into the
 * action.  begin + decoding + end is the agent's act. */
eef_err eef_agent_act_begin(eef_actor *a, const eef_context *ctx, eef_rng *rng, eef_cdec **cd,
                            eef_kv **kv);
/* begin in three parts, so that many actors' prompts are fed together
 * (eef_kv_rows): prepare builds the prompt, brings the cache as far as
 * this actor's or a peer's cache holds it and returns the prompt tokens
 * still to feed to kv (*pending, *n_pending: valid until the next call on
 * this actor); resync copies a peer's cache that has since computed more
 * of them and says what is left; the caller feeds them, then start
 * returns the decoder.  wait says whether one of the actors fed[0,
 * n_fed) (being fed this step) is computing a part of this one's prompt
 * it lacks: it need not compute it too (resync copies it after). */
eef_err eef_agent_act_prepare(eef_actor *a, const eef_context *ctx, eef_rng *rng, eef_kv **kv,
                              const int **pending, int *n_pending);
eef_err eef_agent_act_resync(eef_actor *a, const int **pending, int *n_pending);
int eef_agent_act_wait(const eef_actor *a, eef_actor *const *fed, int n_fed);
eef_err eef_agent_act_start(eef_actor *a, eef_cdec **cd);
eef_err eef_agent_act_end(eef_actor *a, const eef_context *ctx, eef_err e, eef_buf *action);
/* Agent actors of one thread that may copy each other's cached prompt
 * prefixes instead of computing them (rollout_batch.c's lanes; the same
 * bits either way); `actors` must outlive their use. */
void eef_agent_share(eef_actor *const *actors, int n);
/* What the agent's actors fed their caches, summed over the actors a
 * policy has closed (bench/infer_bench.c, docs/decoding.md).  Each
 * prompt token fed is counted once, in one of first, fresh, rewritten: */
typedef struct {
    long acts;      /* actions chosen */
    long decoded;   /* tokens fed while choosing them (constrained decoding) */
    long prompt;    /* prompt tokens fed: first + fresh + rewritten - shared */
    long first;     /* of a rollout's first action, past what was cached or shared */
    long fresh;     /* of later actions: past the end of the previous action */
    long rewritten; /* of later actions: cached, but the prompt changed there (budget) */
    long shared;    /* counted above, then copied from a peer that computed them meanwhile */
} eef_agent_counts;
void eef_agent_counts_get(const eef_policy *p, eef_agent_counts *out);
/* The transformer agent's model; NULL for any other policy. */
const eef_model *eef_policy_model(const eef_policy *p);

#endif

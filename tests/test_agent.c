/* Tests of src/agent: the prompt (rendering, masks, budget), the
 * transformer agent's constrained actions, and the rollout runner
 * (determinism across thread counts, restored prefixes). */
#include "testutil.h"

#include "agent/policy.h"
#include "env/shop/shop.h"

#include <omp.h>

/* s (malloc'd) equals want; s is freed */
static void assert_owned(char *s, const char *want)
{
    assert_non_null(s);
    assert_string_equal(s, want);
    free(s);
}

/* The shop's text (WebShop's pages) and the house's */
static char *render_action(const char *action, const char *obs)
{
    return eef_env_text_of("shop")->render_action(action, obs);
}

static char *compact_obs(const char *obs, const char *instruction)
{
    return eef_env_text_of("shop")->render_obs(obs, instruction);
}

static void test_render(void **state)
{
    (void)state;
    assert_owned(render_action("click[Next >]", NULL), "click Next >");
    assert_owned(render_action("search[blue shirt]", NULL), "search blue shirt");
    assert_owned(render_action("search[", NULL), "search");
    assert_owned(render_action("go to countertop 1", NULL), "go to countertop 1");
    assert_owned(render_action("[weird]", NULL), "[weird]");
    assert_owned(render_action("click[unclosed", NULL), "click[unclosed");
    assert_owned(compact_obs("WebShop [SEP] Instruction: [SEP] i need x [SEP] Search",
                                        "i need x"),
                 "WebShop | Search");
    assert_owned(compact_obs("Instruction: [SEP] i need x [SEP] Back to Search [SEP] "
                                        "Page 1", "i need x"),
                 "Back to Search | Page 1");
    assert_owned(compact_obs("You arrive at desk 1.", "put a book on desk"),
                 "You arrive at desk 1.");
    /* the house's: as it is, less the instruction */
    const eef_env_text *house = eef_env_text_of("house");
    assert_owned(house->render_obs("You see a desk 1.\n\nYour task is to: put a book on desk.",
                                   "put a book on desk"),
                 "You see a desk 1.\n\nYour task is to: .");
    assert_owned(house->render_action("go to countertop 1", NULL), "go to countertop 1");
    /* remote trajectories and unknown names read as WebShop's pages */
    assert_ptr_equal(eef_env_text_of("remote"), eef_env_text_of("shop"));
    assert_ptr_equal(eef_env_text_of("remote:http://x:1"), eef_env_text_of("shop"));
    assert_ptr_equal(eef_env_text_of(NULL), eef_env_text_of("shop"));
    assert_ptr_equal(eef_env_text_of("nosuchenv"), eef_env_text_of("shop"));
    assert_ptr_not_equal(house, eef_env_text_of("shop"));
}

/* Product ids are read and written as their rank on the page. */
static void test_render_items(void **state)
{
    (void)state;
    const char *page = "Instruction: [SEP] i need x [SEP] Back to Search [SEP] Page 2 (Total "
                       "results: 50) [SEP] < Prev [SEP] Next > [SEP] B0ABCDEFG1 [SEP] Blue Mug "
                       "B0ZZZZZZZ9 [SEP] $3.00 [SEP] B0XYZ12345 [SEP] Red Mug [SEP] $4.50";
    /* an id inside a title is text, not a field */
    assert_owned(compact_obs(page, "i need x"),
                 "Back to Search | Page 2 (Total results: 50) | < Prev | Next > | "
                 "#1 | Blue Mug B0ZZZZZZZ9 | $3.00 | #2 | Red Mug | $4.50");
    assert_int_equal(eef_shop_item_rank(page, "B0XYZ12345"), 2);
    assert_int_equal(eef_shop_item_rank(page, "B0ABCDEFG1"), 1);
    assert_int_equal(eef_shop_item_rank(page, "B0ZZZZZZZ9"), 0);
    assert_int_equal(eef_shop_item_rank(NULL, "B0XYZ12345"), 0);
    assert_int_equal(eef_shop_item_rank(page, "Blue Mug"), 0);
    assert_owned(render_action("click[B0XYZ12345]", page), "click #2");
    /* not on this page (or no page): the id itself */
    assert_owned(render_action("click[B0QQQQQQQ1]", page), "click B0QQQQQQQ1");
    assert_owned(render_action("click[B0XYZ12345]", NULL), "click B0XYZ12345");
    /* an id-shaped field that ends the observation, lowercase is no id */
    assert_owned(compact_obs("Next > [SEP] B0ABCDEFG1", NULL), "Next > | #1");
    assert_owned(compact_obs("Next > [SEP] b0abcdefg1 [SEP] B0ABCDEFG [SEP] B0ABCDEFG12",
                                        NULL),
                 "Next > | b0abcdefg1 | B0ABCDEFG | B0ABCDEFG12");
}

static eef_tokenizer *small_tok(void)
{
    const char *c = "i need a blue shirt | click Next > search blue shirt WebShop | Search "
                    "Back to Search | Page 1 | B0ABC | Blue Shirt | $12.99 | Buy Now\n";
    eef_buf b;
    eef_buf_init(&b);
    for (int i = 0; i < 50; i++) eef_buf_puts(&b, c);
    eef_tokenizer *t;
    assert_ok(eef_tok_train(b.data, b.len, 400, &t));
    eef_buf_free(&b);
    return t;
}

static void test_prompt_masks(void **state)
{
    (void)state;
    eef_tokenizer *t = small_tok();
    const char *obs[3] = { "WebShop [SEP] Instruction: [SEP] i need a blue shirt [SEP] Search",
                           "Back to Search [SEP] Page 1 [SEP] B0ABC [SEP] Blue Shirt [SEP] $12.99",
                           "Buy Now" };
    const char *acts[2] = { "search[blue shirt]", "click[B0ABC]" };
    int mask[2] = { 0, 1 };
    eef_prompt p = { 0 };
    assert_ok(eef_prompt_build(t, &eef_shop_text, "i need a blue shirt", obs, 2, acts, mask, 2, 1000, &p));
    /* masked: exactly the tokens of action 2 and its <|end|> */
    int *ids = NULL;
    size_t n = 0, cap = 0;
    assert_ok(eef_tok_encode(t, "click B0ABC", 11, &ids, &n, &cap));
    int trained = 0, first = -1;
    for (int i = 0; i < p.n; i++)
        if (p.mask[i] != 0) {
            if (first < 0) first = i;
            trained++;
        }
    assert_int_equal(trained, (int)n + 1);
    assert_memory_equal(p.tokens + first, ids, n * sizeof(int));
    assert_int_equal(p.tokens[first + (int)n], EEF_TOK_END);
    assert_int_equal(p.tokens[first - 1], EEF_TOK_ACT);
    assert_int_equal(p.tokens[0], EEF_TOK_BOS);
    assert_int_equal(p.tokens[1], EEF_TOK_INSTR);
    /* decoded: the rendering of the whole episode */
    eef_buf b;
    eef_buf_init(&b);
    assert_ok(eef_tok_decode(t, p.tokens, (size_t)p.n, &b));
    assert_string_equal(b.data, "<|bos|><|instr|>i need a blue shirt<|obs|>WebShop | Search<|act|>"
                                "search blue shirt<|end|><|obs|>Back to Search | Page 1 | B0ABC | "
                                "Blue Shirt | $12.99<|act|>click B0ABC<|end|>");
    eef_buf_clear(&b);
    /* an open prompt (n_obs = n_acts + 1) ends with <|act|> and no mask */
    assert_ok(eef_prompt_build(t, &eef_shop_text, "i need a blue shirt", obs, 3, acts, NULL, 2, 1000, &p));
    assert_int_equal(p.tokens[p.n - 1], EEF_TOK_ACT);
    /* over budget: the oldest whole steps go, down to half the budget */
    int full = p.n;
    assert_ok(eef_prompt_build(t, &eef_shop_text, "i need a blue shirt", obs, 3, acts, NULL, 2, full - 5, &p));
    assert_true(p.n <= (full - 5) / 2);
    assert_ok(eef_tok_decode(t, p.tokens, (size_t)p.n, &b));
    assert_string_equal(b.data, "<|bos|><|instr|>i need a blue shirt<|obs|>Buy Now<|act|>");
    assert_ok(eef_prompt_build(t, &eef_shop_text, "i need a blue shirt", obs, 3, acts, NULL, 2, 24, &p));
    assert_true(p.n <= 24);
    assert_int_equal(p.tokens[p.n - 1], EEF_TOK_ACT);
    eef_buf_free(&b);
    eef_prompt_free(&p);
    free(ids);
    eef_tok_free(t);
}

/* The window rule (policy.h) over a long episode: the acting prompt at
 * each step either extends the one before (the KV cache keeps it) or
 * starts later after a drop to at most half the budget; the training
 * sequences (one per stretch) start with each of their steps' acting
 * prompts, and every trained action is trained in exactly one. */
static void test_prompt_window(void **state)
{
    (void)state;
    eef_tokenizer *t = small_tok();
    enum { N = 14 };
    char obs_s[N][160], act_s[N][40];
    const char *obs[N], *acts[N];
    eef_traj_step steps[N];
    for (int i = 0; i < N; i++) {
        snprintf(obs_s[i], sizeof obs_s[i], "Back to Search [SEP] Page %d [SEP] B0ABC [SEP] Blue Shirt "
                 "[SEP] $%d.99%s", i + 1, 10 + i, i % 3 ? " [SEP] Next >" : " [SEP] Buy Now [SEP] < Prev");
        snprintf(act_s[i], sizeof act_s[i], i % 2 ? "click[B0ABC]" : "search[blue shirt %d]", i);
        obs[i] = obs_s[i], acts[i] = act_s[i];
        steps[i] = (eef_traj_step){ .obs = obs_s[i], .action = act_s[i], .mask = i != 5 };
    }
    const int budget = 300;
    eef_prompt prev = { 0 }, cur = { 0 }, *seqs = NULL;
    int drops = 0;
    size_t starts[N];
    for (int n = 0; n < N; n++) {
        assert_ok(eef_prompt_build(t, &eef_shop_text, "i need a blue shirt", obs, (size_t)n + 1, acts,
                                   NULL, (size_t)n, budget, &cur));
        assert_true(cur.n <= budget);
        assert_int_equal(cur.tokens[cur.n - 1], EEF_TOK_ACT);
        /* the step its prompt starts with: count <|obs|> tokens */
        int n_obs = 0;
        for (int i = 0; i < cur.n; i++) n_obs += cur.tokens[i] == EEF_TOK_OBS;
        starts[n] = (size_t)(n + 1 - n_obs);
        if (n > 0) {
            assert_true(starts[n] >= starts[n - 1]);
            if (starts[n] == starts[n - 1]) { /* append-only */
                assert_true(cur.n > prev.n);
                assert_memory_equal(cur.tokens, prev.tokens, (size_t)prev.n * sizeof(int));
            } else {
                drops++;
                assert_true(cur.n <= budget / 2 || starts[n] == (size_t)n);
            }
        }
        eef_prompt_free(&prev);
        prev = cur;
        cur = (eef_prompt){ 0 };
    }
    assert_true(drops >= 2);
    eef_traj tr = { .env = "shop", .instruction = "i need a blue shirt", .steps = steps, .n_steps = N };
    size_t ns = 0;
    assert_ok(eef_prompt_seqs(t, &tr, budget, 0.0f, &seqs, &ns));
    assert_int_equal(ns, (size_t)drops + 1);
    /* each step's acting prompt (with the masks of training) is a prefix of its stretch's sequence */
    int trained_acts = 0, carried = 0;
    size_t at = 0;
    for (size_t k = 0; k < ns; k++) {
        int n_act = 0;
        for (int i = 0; i < seqs[k].n; i++) {
            if (seqs[k].tokens[i] == EEF_TOK_ACT) n_act++;
            if (seqs[k].tokens[i] == EEF_TOK_END && seqs[k].mask[i] != 0) trained_acts++;
        }
        size_t first = at;
        carried += starts[first] < first; /* the drop kept steps */
        while (at < N && starts[at] == starts[first]) {
            assert_ok(eef_prompt_build(t, &eef_shop_text, "i need a blue shirt", obs, at + 1, acts,
                                       NULL, at, budget, &cur));
            assert_true(cur.n < seqs[k].n);
            assert_memory_equal(cur.tokens, seqs[k].tokens, (size_t)cur.n * sizeof(int));
            at++;
        }
        assert_int_equal(n_act, (int)(at - starts[first]));
    }
    assert_int_equal(at, N);
    assert_true(carried >= 1);
    assert_int_equal(trained_acts, N - 1); /* every action once, but step 5's (mask 0) */
    /* the single sequence: the last stretch, every action in it as masked */
    assert_ok(eef_prompt_from_traj(t, &tr, budget, 0.0f, &cur));
    assert_int_equal(cur.n, seqs[ns - 1].n);
    assert_memory_equal(cur.tokens, seqs[ns - 1].tokens, (size_t)cur.n * sizeof(int));
    for (size_t k = 0; k < ns; k++) eef_prompt_free(&seqs[k]);
    free(seqs);
    eef_prompt_free(&cur), eef_prompt_free(&prev);
    eef_tok_free(t);
}

/* A training sequence with a language-model weight on the page texts:
 * the instruction and observations weigh ctx_weight, the trained action
 * 1, the masked (possibly harmful) expert action stays 0. */
static void test_prompt_ctx_weight(void **state)
{
    (void)state;
    eef_tokenizer *t = small_tok();
    eef_traj_step steps[2] = {
        { "WebShop [SEP] Instruction: [SEP] i need a blue shirt [SEP] Search", "search[blue shirt]", 0 },
        { "Back to Search [SEP] Page 1 [SEP] B0ABC [SEP] Blue Shirt [SEP] $12.99", "click[B0ABC]", 1 },
    };
    eef_traj tr = { .instruction = "i need a blue shirt", .steps = steps, .n_steps = 2 };
    eef_prompt p = { 0 }, q = { 0 };
    assert_ok(eef_prompt_from_traj(t, &tr, 1000, 0.25f, &p));
    assert_ok(eef_prompt_from_traj(t, &tr, 1000, 0.0f, &q));
    assert_int_equal(p.n, q.n);
    assert_memory_equal(p.tokens, q.tokens, (size_t)p.n * sizeof(int));
    /* which action each position belongs to: 0 none, 1 or 2 */
    int act = 0, n_ctx = 0, n_act[3] = { 0 };
    for (int i = 0; i < p.n; i++) {
        int tokn = p.tokens[i];
        if (tokn == EEF_TOK_OBS) act = 0;
        int in_act = act > 0; /* tokens after <|act|> up to and with <|end|> */
        if (i == 0) {
            assert_true(p.mask[i] == 0.0f); /* never predicted */
        } else if (in_act && act == 1) {
            assert_true(p.mask[i] == 0.0f);
            n_act[1]++;
        } else if (in_act && act == 2) {
            assert_true(p.mask[i] == 1.0f);
            assert_true(q.mask[i] == 1.0f);
            n_act[2]++;
        } else {
            assert_true(p.mask[i] == 0.25f);
            assert_true(q.mask[i] == 0.0f);
            n_ctx++;
        }
        if (tokn == EEF_TOK_ACT) act = ++n_act[0];
        if (tokn == EEF_TOK_END) act = 0;
    }
    assert_int_equal(n_act[0], 2);
    assert_true(n_act[1] > 1 && n_act[2] > 1 && n_ctx > 10);
    eef_prompt_free(&p);
    eef_prompt_free(&q);
    eef_tok_free(t);
}

/* A random tiny model still acts validly: constrained decoding only ever
 * produces a listed action or a well-formed free-text one. */
static eef_model *random_agent_model(eef_env *env)
{
    eef_episode *ep;
    assert_ok(env->ops->episode_open(env, &ep));
    eef_step st;
    assert_ok(env->ops->reset(ep, EEF_SPLIT_TRAIN, 0, &st));
    eef_buf corpus;
    eef_buf_init(&corpus);
    for (int i = 0; i < 20; i++) eef_buf_printf(&corpus, "%s\nclick search Buy Now\n", st.obs);
    env->ops->episode_close(ep);
    eef_tokenizer *t;
    assert_ok(eef_tok_train(corpus.data, corpus.len, 500, &t));
    eef_buf_free(&corpus);
    eef_model_config c;
    assert_ok(eef_model_preset("tiny", eef_tok_vocab_size(t), &c));
    eef_model *m;
    assert_ok(eef_model_new(&c, t, 3, &m));
    return m;
}

static void test_agent_acts_validly(void **state)
{
    (void)state;
    eef_env *env;
    assert_ok(eef_env_open("shop", "products=200,train=20,test=10", 1, &env));
    eef_model *m = random_agent_model(env);
    eef_agent_config ac;
    eef_agent_defaults(&ac);
    ac.temperature = 1.0;
    eef_policy *p;
    assert_ok(eef_agent_open(m, &ac, &p));
    eef_rollout_spec specs[12];
    for (int i = 0; i < 12; i++)
        specs[i] = (eef_rollout_spec){ .split = EEF_SPLIT_TRAIN, .index = (size_t)i % 20,
                                       .key = eef_rng_key(5, (uint64_t)i, 0, 0) };
    eef_traj t[12];
    assert_ok(eef_rollout_batch(env, p, specs, 12, NULL, t));
    eef_episode *ep;
    assert_ok(env->ops->episode_open(env, &ep));
    int items = 0; /* product clicks: the model wrote "click #R", the agent the id */
    for (int i = 0; i < 12; i++) {
        assert_true(t[i].n_steps >= 1);
        for (size_t k = 0; k < t[i].n_steps; k++) {
            char *r = render_action(t[i].steps[k].action, t[i].steps[k].obs);
            assert_non_null(r);
            items += strncmp(r, "click #", 7) == 0;
            free(r);
        }
        /* replay: every action valid in its state */
        eef_step st;
        assert_ok(env->ops->reset(ep, EEF_SPLIT_TRAIN, specs[i].index, &st));
        for (size_t k = 0; k < t[i].n_steps; k++) {
            eef_actions va = { 0 };
            assert_ok(env->ops->actions(ep, &va));
            if (!eef_actions_allows(&va, t[i].steps[k].action))
                fail_msg("rollout %d step %zu: '%s' not allowed", i, k, t[i].steps[k].action);
            eef_actions_free(&va);
            assert_string_equal(st.obs, t[i].steps[k].obs);
            assert_ok(env->ops->step(ep, t[i].steps[k].action, &st));
            if (!st.valid) fail_msg("rollout %d step %zu: '%s' invalid: %s", i, k, t[i].steps[k].action, st.obs);
        }
        assert_true(t[i].reward == st.reward);
        eef_traj_free(&t[i]);
    }
    assert_true(items > 0);
    env->ops->episode_close(ep);
    eef_policy_close(p);
    eef_model_free(m);
    eef_env_close(env);
}

/* The agent's rollouts in lockstep (eef_rollout_batch: several per
 * thread, actions decoded together) are, byte for byte, the rollouts run
 * one at a time with eef_rollout on one actor: more rollouts than a
 * thread's lanes, 4 rollouts per task (sharing their prompt prefixes
 * between lanes), different lengths, sampling at temperature 1,
 * 1 and 2 threads. */
static void test_lockstep_equals_one_at_a_time(void **state)
{
    (void)state;
    eef_env *env;
    assert_ok(eef_env_open("shop", "products=200,train=20,test=10", 1, &env));
    eef_model *m = random_agent_model(env);
    eef_agent_config ac;
    eef_agent_defaults(&ac);
    ac.temperature = 1.0;
    eef_policy *p;
    assert_ok(eef_agent_open(m, &ac, &p));
    enum { N = 40 };
    eef_rollout_spec specs[N];
    for (int i = 0; i < N; i++)
        specs[i] = (eef_rollout_spec){ .split = EEF_SPLIT_TRAIN, .index = (size_t)(i / 4),
                                       .key = eef_rng_key(21, (uint64_t)i, 0, 0) };
    eef_traj one[N], many[N];
    eef_episode *ep;
    eef_actor *actor;
    assert_ok(env->ops->episode_open(env, &ep));
    assert_ok(p->ops->actor_open(p, &actor));
    for (int i = 0; i < N; i++) assert_ok(eef_rollout(ep, actor, &specs[i], &one[i]));
    p->ops->actor_close(actor);
    env->ops->episode_close(ep);
    int threads = omp_get_max_threads();
    size_t steps = 0;
    for (int t = 1; t <= 2; t++) {
        omp_set_num_threads(t);
        assert_ok(eef_rollout_batch(env, p, specs, N, NULL, many));
        for (int i = 0; i < N; i++) {
            assert_true(eef_traj_equal(&one[i], &many[i]));
            steps += many[i].n_steps;
            eef_traj_free(&many[i]);
        }
    }
    omp_set_num_threads(threads);
    assert_true(steps > 2 * N); /* episodes of several steps */
    for (int i = 0; i < N; i++) eef_traj_free(&one[i]);
    eef_policy_close(p);
    eef_model_free(m);
    eef_env_close(env);
}

static void test_rollouts_deterministic_and_restored(void **state)
{
    (void)state;
    eef_env *env;
    assert_ok(eef_env_open("shop", "products=200,train=20,test=10", 1, &env));
    eef_model *m = random_agent_model(env);
    eef_agent_config ac;
    eef_agent_defaults(&ac);
    ac.temperature = 1.0;
    eef_policy *p;
    assert_ok(eef_agent_open(m, &ac, &p));
    /* the oracle's first two actions as a restored prefix */
    eef_strlist orc = { 0 };
    assert_ok(eef_shop_oracle(env, EEF_SPLIT_TRAIN, 3, &orc));
    assert_true(orc.n >= 3);
    enum { N = 8 };
    eef_rollout_spec specs[N];
    for (int i = 0; i < N; i++)
        specs[i] = (eef_rollout_spec){ .split = EEF_SPLIT_TRAIN, .index = 3,
                                       .prefix = (const char *const *)orc.items, .n_prefix = 2,
                                       .key = eef_rng_key(9, (uint64_t)i, 0, 0) };
    eef_traj a[N], b[N];
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    assert_ok(eef_rollout_batch(env, p, specs, N, NULL, a));
    omp_set_num_threads(2);
    assert_ok(eef_rollout_batch(env, p, specs, N, NULL, b));
    omp_set_num_threads(threads);
    for (int i = 0; i < N; i++) {
        assert_true(eef_traj_equal(&a[i], &b[i]));
        /* the prefix is context (mask 0), the agent's steps are trained on */
        assert_string_equal(a[i].steps[0].action, orc.items[0]);
        assert_string_equal(a[i].steps[1].action, orc.items[1]);
        for (size_t k = 0; k < a[i].n_steps; k++) assert_int_equal(a[i].steps[k].mask, k >= 2);
        eef_traj_free(&a[i]);
        eef_traj_free(&b[i]);
    }
    /* the same rollouts in reverse order (each actor has another history
     * in its KV cache) give the same trajectories */
    eef_rollout_spec rev[N];
    for (int i = 0; i < N; i++) rev[i] = specs[N - 1 - i];
    assert_ok(eef_rollout_batch(env, p, specs, N, NULL, a));
    assert_ok(eef_rollout_batch(env, p, rev, N, NULL, b));
    for (int i = 0; i < N; i++) {
        assert_true(eef_traj_equal(&a[i], &b[N - 1 - i]));
        eef_traj_free(&a[i]);
        eef_traj_free(&b[N - 1 - i]);
    }
    /* an invalid prefix is an error, not a silent rollout */
    const char *bad[1] = { "click[nothing]" };
    eef_rollout_spec bs = { .split = EEF_SPLIT_TRAIN, .index = 3, .prefix = bad, .n_prefix = 1, .key = 1 };
    eef_traj x;
    assert_int_equal(eef_rollout_batch(env, p, &bs, 1, NULL, &x), EEF_ESTATE);
    assert_non_null(strstr(eef_errmsg(), "invalid"));
    eef_strlist_free(&orc);
    eef_policy_close(p);
    eef_model_free(m);
    eef_env_close(env);
}

int main(void)
{
    eef_progress_set_quiet(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_render_items),
        cmocka_unit_test(test_prompt_masks),
        cmocka_unit_test(test_prompt_window),
        cmocka_unit_test(test_prompt_ctx_weight),
        cmocka_unit_test(test_agent_acts_validly),
        cmocka_unit_test(test_rollouts_deterministic_and_restored),
        cmocka_unit_test(test_lockstep_equals_one_at_a_time),
    };
    return cmocka_run_group_tests_name("agent", tests, NULL, NULL);
}

/* infer_bench: exploration rollouts of the demo model (random weights,
 * `demo` preset, a 2048-token BPE trained on the shop's pages) in the
 * shop, as EEF explores: for each of T train tasks the states after 0, 1,
 * 2 and 3 of the oracle's actions, K = 4 rollouts from each (temperature
 * 1), run twice side by side:
 *   one at a time: each thread runs one rollout after another on one
 *     actor (eef_rollout), every decode step a matrix-vector product;
 *   lockstep: eef_rollout_batch, several rollouts per thread, their
 *     actions decoded together (eef_kv_step), prefixes shared between
 *     the lanes (eef_kv_copy).
 * The two must give the same trajectories (checked: exit 1 if not).
 * Prints `name: value` lines:
 *   infer_small_rollouts_per_s_b1, infer_small_rollouts_per_s,
 *   infer_small_rollouts_batched_speedup, infer_small_steps_per_rollout,
 *   infer_small_rollouts_per_cpu_s_b1, infer_small_rollouts_per_cpu_s
 *   (per second of the process's CPU time), and what each way fed its
 *   caches per action
 * Usage: infer_bench [T] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "agent/policy.h"
#include "core/core.h"
#include "env/env.h"
#include "env/shop/shop.h"
#include "nn/nn.h"
#include "text/text.h"

enum { STATES = 4, K = 4 };

/* CPU seconds of this process (all threads): a measure that a shared,
 * loaded machine disturbs less than wall time */
static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int fail(const char *what)
{
    fprintf(stderr, "infer_bench: %s: %s\n", what, eef_errmsg());
    return 1;
}

int main(int argc, char **argv)
{
    const int T = argc > 1 ? atoi(argv[1]) : 8;
    eef_env *env;
    if (eef_env_open("shop", "products=3000,types=8,train=200,test=10", 1, &env)) return fail("env");
    /* a tokenizer from the pages of the oracle's episodes */
    eef_buf corpus;
    eef_buf_init(&corpus);
    eef_strlist *orc = calloc((size_t)T, sizeof *orc);
    eef_episode *ep;
    if (!orc || env->ops->episode_open(env, &ep)) return fail("episode");
    for (int t = 0; t < 40; t++) {
        eef_strlist o = { 0 };
        eef_step st;
        if (eef_shop_oracle(env, EEF_SPLIT_TRAIN, (size_t)t, &o) ||
            env->ops->reset(ep, EEF_SPLIT_TRAIN, (size_t)t, &st))
            return fail("oracle");
        eef_buf_printf(&corpus, "%s\n", st.obs);
        for (size_t i = 0; i < o.n && !st.done; i++) {
            eef_buf_printf(&corpus, "%s\n", o.items[i]);
            if (env->ops->step(ep, o.items[i], &st)) return fail("step");
            eef_buf_printf(&corpus, "%s\n", st.obs);
        }
        if (t < T) orc[t] = o;
        else eef_strlist_free(&o);
    }
    env->ops->episode_close(ep);
    eef_tokenizer *tok;
    eef_model_config c;
    eef_model *m;
    if (eef_tok_train(corpus.data, corpus.len, 2048, &tok) ||
        eef_model_preset("demo", eef_tok_vocab_size(tok), &c) || eef_model_new(&c, tok, 1, &m))
        return fail("model");
    eef_buf_free(&corpus);
    eef_agent_config ac;
    eef_agent_defaults(&ac);
    ac.temperature = 1.0;
    eef_policy *p;
    if (eef_agent_open(m, &ac, &p)) return fail("agent");
    const size_t n = (size_t)T * STATES * K;
    eef_rollout_spec *specs = calloc(n, sizeof *specs);
    eef_traj *one = calloc(n, sizeof *one), *many = calloc(n, sizeof *many);
    size_t k = 0;
    for (int t = 0; t < T; t++)
        for (int s = 0; s < STATES; s++)
            for (int r = 0; r < K; r++, k++) {
                size_t np = (size_t)s < orc[t].n ? (size_t)s : orc[t].n - 1;
                specs[k] = (eef_rollout_spec){ .split = EEF_SPLIT_TRAIN, .index = (size_t)t,
                                               .prefix = (const char *const *)orc[t].items,
                                               .n_prefix = np,
                                               .key = eef_rng_key(5, (uint64_t)t, (uint64_t)s, (uint64_t)r) };
            }
    eef_agent_counts c0, c1, c2;
    eef_agent_counts_get(p, &c0);
    /* one at a time per thread, as rollouts ran before lockstep decoding */
    double t0 = eef_now(), u0 = cpu_now();
    int failed = 0;
#pragma omp parallel reduction(+ : failed)
    {
        eef_episode *e1 = NULL;
        eef_actor *a1 = NULL;
        failed += env->ops->episode_open(env, &e1) != EEF_OK || p->ops->actor_open(p, &a1) != EEF_OK;
#pragma omp for schedule(dynamic, 1)
        for (size_t i = 0; i < n; i++)
            if (!failed) failed += eef_rollout(e1, a1, &specs[i], &one[i]) != EEF_OK;
        if (a1) p->ops->actor_close(a1);
        if (e1) env->ops->episode_close(e1);
    }
    double t1 = eef_now(), u1 = cpu_now();
    if (failed) return fail("rollout");
    eef_agent_counts_get(p, &c1);
    if (eef_rollout_batch(env, p, specs, n, NULL, many)) return fail("rollout batch");
    double t2 = eef_now(), u2 = cpu_now();
    eef_agent_counts_get(p, &c2);
    size_t steps = 0;
    for (size_t i = 0; i < n; i++) {
        if (!eef_traj_equal(&one[i], &many[i])) {
            fprintf(stderr, "infer_bench: rollout %zu differs between one at a time and lockstep\n", i);
            return 1;
        }
        steps += one[i].n_steps;
        eef_traj_free(&one[i]);
        eef_traj_free(&many[i]);
    }
    printf("infer_small_rollouts_per_s_b1: %.1f\n", (double)n / (t1 - t0));
    printf("infer_small_rollouts_per_s: %.1f\n", (double)n / (t2 - t1));
    printf("infer_small_rollouts_batched_speedup: %.2f\n", (t1 - t0) / (t2 - t1));
    printf("infer_small_rollouts_per_cpu_s_b1: %.2f\n", (double)n / (u1 - u0));
    printf("infer_small_rollouts_per_cpu_s: %.2f\n", (double)n / (u2 - u1));
    printf("infer_small_steps_per_rollout: %.1f\n", (double)steps / (double)n);
    /* what each way fed its caches, per action */
    const eef_agent_counts *from[2] = { &c0, &c1 }, *to[2] = { &c1, &c2 };
    const char *way[2] = { "b1", "batched" };
    for (int w = 0; w < 2; w++) {
        double acts = (double)(to[w]->acts - from[w]->acts);
#define PER_ACT(f) ((double)(to[w]->f - from[w]->f) / (acts > 0 ? acts : 1))
        printf("infer_small_prompt_tokens_per_action_%s: %.1f\n", way[w], PER_ACT(prompt));
        printf("infer_small_prompt_first_per_action_%s: %.1f\n", way[w], PER_ACT(first));
        printf("infer_small_prompt_fresh_per_action_%s: %.1f\n", way[w], PER_ACT(fresh));
        printf("infer_small_prompt_rewritten_per_action_%s: %.1f\n", way[w], PER_ACT(rewritten));
        printf("infer_small_prompt_shared_per_action_%s: %.1f\n", way[w], PER_ACT(shared));
        printf("infer_small_decoded_tokens_per_action_%s: %.1f\n", way[w], PER_ACT(decoded));
#undef PER_ACT
    }
    for (int t = 0; t < T; t++) eef_strlist_free(&orc[t]);
    free(orc), free(specs), free(one), free(many);
    eef_policy_close(p);
    eef_model_free(m);
    eef_env_close(env);
    return 0;
}

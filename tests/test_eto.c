/* ETO (tune/eto.c): the pairs (agent failure vs the expert's win on the
 * same task, cut as ETO cuts them), DPO training with the round's policy
 * as reference (the chosen preferred after it, deterministic), and the
 * exploration from the task starts. */
#include "testutil.h"

#include "tune/tune.h"

static void make_traj(eef_traj *t, const char *src, long index, int split, int win, size_t n,
                      const char *act)
{
    eef_traj_init(t);
    char id[64], task[64];
    snprintf(id, sizeof id, "%s-%ld-%d", src, index, split);
    snprintf(task, sizeof task, "shop-train-%ld", index);
    assert_ok(eef_traj_set(&t->id, id));
    assert_ok(eef_traj_set(&t->env, "shop"));
    assert_ok(eef_traj_set(&t->task, task));
    assert_ok(eef_traj_set(&t->source, src));
    assert_ok(eef_traj_set(&t->instruction, "find a red mug under 20 dollars"));
    t->index = index, t->split = split;
    t->reward = win ? 1.0 : 0.25, t->win = win;
    for (size_t s = 0; s < n; s++) {
        char obs[64], a[64];
        snprintf(obs, sizeof obs, "page %zu of the shop", s);
        snprintf(a, sizeof a, "%s %zu", act, s % 3);
        assert_ok(eef_traj_push(t, obs, a, s % 2));
    }
    assert_ok(eef_traj_set(&t->final_obs, "thank you"));
}

static void test_pairs(void **state)
{
    (void)state;
    eef_traj ex[4], ag[5];
    make_traj(&ex[0], "expert", 0, EEF_SPLIT_TRAIN, 1, 3, "click good");
    make_traj(&ex[1], "expert", 1, EEF_SPLIT_TRAIN, 0, 4, "click bad");   /* no expert win */
    make_traj(&ex[2], "expert", 2, EEF_SPLIT_TRAIN, 1, 2, "click good");
    make_traj(&ex[3], "expert", 2, EEF_SPLIT_TRAIN, 1, 5, "click other"); /* a second expert's win */
    make_traj(&ag[0], "agent", 0, EEF_SPLIT_TRAIN, 0, 12, "click bad");   /* paired, cut to 3 + 5 */
    make_traj(&ag[1], "agent", 1, EEF_SPLIT_TRAIN, 0, 4, "click bad");    /* no win to pair with */
    make_traj(&ag[2], "agent", 2, EEF_SPLIT_TRAIN, 1, 2, "click good");   /* a win: no pair */
    make_traj(&ag[3], "agent", 2, EEF_SPLIT_TEST, 0, 3, "click bad");     /* other split */
    make_traj(&ag[4], "agent", 2, EEF_SPLIT_TRAIN, 0, 6, "click bad");    /* paired, kept whole */
    eef_trajset c, r;
    assert_ok(eef_eto_pairs(ex, 4, ag, 5, 5, &c, &r));
    assert_int_equal(c.n, 2);
    assert_int_equal(r.n, 2);
    assert_string_equal(c.items[0].id, ex[0].id);
    assert_string_equal(r.items[0].id, ag[0].id);
    assert_int_equal(r.items[0].n_steps, 8);
    assert_null(r.items[0].final_obs);
    assert_string_equal(c.items[1].id, ex[2].id); /* the first win of the task */
    assert_int_equal(r.items[1].n_steps, 6);
    assert_non_null(r.items[1].final_obs);
    for (size_t i = 0; i < 2; i++) {
        for (size_t s = 0; s < c.items[i].n_steps; s++) assert_int_equal(c.items[i].steps[s].mask, 1);
        for (size_t s = 0; s < r.items[i].n_steps; s++) assert_int_equal(r.items[i].steps[s].mask, 1);
    }
    /* the inputs are untouched */
    assert_int_equal(ag[0].n_steps, 12);
    assert_int_equal(ex[0].steps[0].mask, 0);
    eef_trajset_free(&c), eef_trajset_free(&r);
    for (int i = 0; i < 4; i++) eef_traj_free(&ex[i]);
    for (int i = 0; i < 5; i++) eef_traj_free(&ag[i]);
}

static eef_model *tiny_model(void)
{
    eef_buf corpus;
    eef_buf_init(&corpus);
    for (int i = 0; i < 30; i++)
        eef_buf_printf(&corpus, "find a red mug under 20 dollars\npage %d of the shop\nclick good 0 "
                                "click bad 1 click other 2\n", i % 10);
    eef_tokenizer *t;
    assert_ok(eef_tok_train(corpus.data, corpus.len, 400, &t));
    eef_buf_free(&corpus);
    eef_model_config c;
    assert_ok(eef_model_preset("tiny", eef_tok_vocab_size(t), &c));
    eef_model *m;
    assert_ok(eef_model_new(&c, t, 7, &m));
    return m;
}

static void copy_params(eef_model *dst, const eef_model *src)
{
    assert_int_equal(dst->n_params, src->n_params);
    memcpy(dst->params, src->params, src->n_params * sizeof(float));
}

static void test_train(void **state)
{
    (void)state;
    enum { N = 6 };
    eef_traj ch[N], rj[N];
    for (int i = 0; i < N; i++) {
        make_traj(&ch[i], "expert", i, EEF_SPLIT_TRAIN, 1, 3 + (size_t)(i % 2), "click good");
        make_traj(&rj[i], "agent", i, EEF_SPLIT_TRAIN, 0, 5, "click bad");
        for (size_t s = 0; s < ch[i].n_steps; s++) ch[i].steps[s].mask = 1;
        for (size_t s = 0; s < rj[i].n_steps; s++) rj[i].steps[s].mask = 1;
    }
    eef_model *m = tiny_model(), *m2 = tiny_model();
    copy_params(m2, m);
    eef_eto_config c;
    eef_eto_defaults(&c);
    c.batch_rows = 4, c.seq_len = 256, c.pairs_per_step = 3, c.epochs = 10, c.seed = 3;
    c.lr = 3e-3;
    eef_eto_stats st, st2;
    assert_ok(eef_eto_train(m, ch, rj, N, &c, 1, &st));
    print_message("eto round 1: %ld pairs, %ld steps, loss %.4f -> %.4f, after %.4f, accuracy %.2f, "
                  "margin %.3f\n", st.pairs, st.steps, st.first_loss, st.last_loss, st.end_loss,
                  st.accuracy, st.margin);
    assert_int_equal(st.pairs, N);
    assert_int_equal(st.steps, 20);
    assert_true(st.beta == 0.1);
    /* at the reference every z is 0: the loss starts at log 2 */
    assert_true(fabs(st.first_loss - log(2.0)) < 0.05);
    assert_true(st.end_loss < 0.6 && st.accuracy == 1.0 && st.margin > 0);
    /* deterministic: the same start, the same bytes */
    assert_ok(eef_eto_train(m2, ch, rj, N, &c, 1, &st2));
    assert_memory_equal(m->params, m2->params, m->n_params * sizeof(float));
    assert_true(st.end_loss == st2.end_loss);
    /* round 2: the reference is reset to the trained policy, so the loss
     * starts at log 2 again, with the later beta */
    assert_ok(eef_eto_train(m, ch, rj, N, &c, 2, &st2));
    assert_true(st2.beta == 0.5);
    assert_true(fabs(st2.first_loss - log(2.0)) < 0.05);
    /* no pairs: nothing changes */
    copy_params(m2, m);
    assert_ok(eef_eto_train(m, ch, rj, 0, &c, 1, &st2));
    assert_memory_equal(m->params, m2->params, m->n_params * sizeof(float));
    c.pairs_per_step = 0;
    assert_int_equal(eef_eto_train(m, ch, rj, N, &c, 1, &st2), EEF_EINVAL);
    eef_model_free(m), eef_model_free(m2);
    for (int i = 0; i < N; i++) eef_traj_free(&ch[i]), eef_traj_free(&rj[i]);
}

static void test_explore(void **state)
{
    (void)state;
    eef_env *env;
    assert_ok(eef_env_open("shop", NULL, 1, &env));
    eef_model *m = tiny_model();
    eef_agent_config ac;
    eef_agent_defaults(&ac);
    ac.temperature = 0;
    eef_policy *agent;
    assert_ok(eef_agent_open(m, &ac, &agent));
    eef_trajset a, b;
    assert_ok(eef_eto_explore(env, agent, EEF_SPLIT_TRAIN, 5, 1, 1, &a));
    assert_ok(eef_eto_explore(env, agent, EEF_SPLIT_TRAIN, 5, 1, 1, &b));
    assert_int_equal(a.n, 5);
    for (size_t i = 0; i < a.n; i++) {
        assert_string_equal(a.items[i].source, "agent");
        assert_int_equal(a.items[i].index, (long)i);
        assert_true(eef_traj_equal(&a.items[i], &b.items[i]));
    }
    eef_trajset_free(&a), eef_trajset_free(&b);
    eef_policy_close(agent);
    eef_model_free(m);
    eef_env_close(env);
}

int main(void)
{
    eef_log_set_level(EEF_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pairs),
        cmocka_unit_test(test_train),
        cmocka_unit_test(test_explore),
    };
    return cmocka_run_group_tests_name("eto", tests, NULL, NULL);
}

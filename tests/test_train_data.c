/* Masked SFT (tune.h eef_train_trajs): what a trajectory contributes is
 * its trained-on actions.  A trajectory whose every action has mask 0
 * (context only) adds nothing: training with it gives the same model,
 * bit for bit, and the same number of steps; a mask-0 action of a
 * trajectory is not learned (its tokens' loss does not move the model
 * towards it). */
#include "testutil.h"

#include "tune/tune.h"

#include <string.h>

static eef_tokenizer *tokenizer(void)
{
    eef_buf b;
    eef_buf_init(&b);
    for (int i = 0; i < 30; i++)
        eef_buf_printf(&b, "look at the red box %d\nopen the red box\ntake the key %d\ngo north\n", i, i);
    eef_tokenizer *t;
    assert_ok(eef_tok_train(b.data, b.len, 320, &t));
    eef_buf_free(&b);
    return t;
}

static eef_model *model(void)
{
    eef_tokenizer *t = tokenizer();
    eef_model_config c;
    assert_ok(eef_model_preset("tiny", eef_tok_vocab_size(t), &c));
    eef_model *m;
    assert_ok(eef_model_new(&c, t, 9, &m));
    return m;
}

static void traj(eef_traj *t, int n, const char *act, int mask)
{
    eef_traj_init(t);
    char obs[64];
    for (int i = 0; i < n; i++) {
        snprintf(obs, sizeof obs, "look at the red box %d", i);
        assert_ok(eef_traj_push(t, obs, act, mask));
    }
    assert_ok(eef_traj_set(&t->instruction, "open the red box"));
}

static void train(eef_model *m, const eef_traj *d, size_t n, eef_train_stats *st)
{
    eef_train_config c;
    eef_train_defaults(&c);
    c.batch_rows = 2;
    c.seq_len = 64;
    c.epochs = 3;
    c.seed = 5;
    assert_ok(eef_train_trajs(m, d, n, &c, st));
}

static void test_masked_trajectory_adds_nothing(void **state)
{
    (void)state;
    eef_traj d[6];
    for (int i = 0; i < 5; i++) traj(&d[i], 2 + i % 3, i % 2 ? "open the red box" : "go north", 1);
    traj(&d[5], 4, "take the key 3", 0); /* context only */
    eef_model *a = model(), *b = model();
    assert_int_equal(a->n_params, b->n_params);
    assert_memory_equal(a->params, b->params, a->n_params * sizeof(float));
    eef_train_stats sa, sb;
    train(a, d, 5, &sa);
    /* the masked one first and last: wherever it is, it is not there */
    eef_traj e[7];
    e[0] = d[5];
    memcpy(e + 1, d, 5 * sizeof *d);
    e[6] = d[5];
    train(b, e, 7, &sb);
    assert_int_equal(sa.steps, sb.steps);
    assert_true(sa.tokens == sb.tokens);
    assert_memory_equal(a->params, b->params, a->n_params * sizeof(float));
    /* only masked trajectories: nothing to train on */
    eef_train_config c;
    eef_train_defaults(&c);
    c.batch_rows = 2, c.seq_len = 64;
    eef_train_stats st;
    assert_int_equal(eef_train_trajs(a, &d[5], 1, &c, &st), EEF_EINVAL);
    eef_model_free(a);
    eef_model_free(b);
    for (int i = 0; i < 6; i++) eef_traj_free(&d[i]);
}

/* Each epoch is shuffled anew (from the seed and the epoch): with a
 * learning rate of 0 the model never changes, so a step's loss says only
 * which sequences its batch holds; epoch 2's first batch is not epoch 1's.
 * (1.2 epochs of 5 batches: 6 steps; the first and last 10% are step 0
 * and step 5, the first batch of each epoch.) */
static void test_epochs_reshuffled(void **state)
{
    (void)state;
    eef_traj d[20];
    for (int i = 0; i < 20; i++) traj(&d[i], 1 + i % 4, i % 3 ? "open the red box" : "go north", 1);
    eef_model *m = model();
    eef_train_config c;
    eef_train_defaults(&c);
    c.batch_rows = 1, c.seq_len = 128, c.seed = 3;
    c.opt.lr = 0;
    c.epochs = 1;
    eef_train_stats one;
    assert_ok(eef_train_trajs(m, d, 20, &c, &one));
    long per_epoch = one.steps;
    assert_true(per_epoch >= 3);
    c.epochs = 1.0 + 1.0 / (double)per_epoch; /* one step into the second epoch */
    c.steps = per_epoch + 1;
    eef_train_stats st;
    assert_ok(eef_train_trajs(m, d, 20, &c, &st));
    assert_int_equal(st.steps, per_epoch + 1);
    /* k = (per_epoch + 1) / 10 steps averaged at each end: make it 1 */
    assert_true(per_epoch + 1 < 20);
    assert_true(st.first_loss == one.first_loss || per_epoch >= 10);
    if (st.first_loss == st.last_loss)
        fail_msg("the second epoch starts with the first epoch's batch (loss %.9g both)", st.first_loss);
    eef_model_free(m);
    for (int i = 0; i < 20; i++) eef_traj_free(&d[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_masked_trajectory_adds_nothing),
        cmocka_unit_test(test_epochs_reshuffled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

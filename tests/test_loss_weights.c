/* The training loss with fractional weights (eef_train_config.ctx_weight
 * gives the instruction's and observations' tokens weights in (0, 1)):
 * the loss is sum(w nll) / sum(w) (nn.h), so it is built here from each
 * position's own loss (a forward with that position alone scored), and
 * the gradient scales the same way. */
#include "testutil.h"

#include "nn/nn.h"

#include <math.h>
#include <string.h>

#define V 50
#define B 2
#define T 24

static void fill(eef_batch *b)
{
    eef_rng r = eef_rng_make(eef_rng_key(3, 1, 4, 1));
    for (int i = 0; i < B * T; i++) {
        b->tokens[i] = (int)eef_rng_below(&r, V);
        b->targets[i] = (int)eef_rng_below(&r, V);
        b->pos[i] = i % T;
        b->mask[i] = 0;
    }
}

static void test_weighted_mean(void **state)
{
    (void)state;
    eef_model_config c;
    assert_ok(eef_model_preset("tiny", V, &c));
    c.max_ctx = 64;
    eef_model *m;
    assert_ok(eef_model_new(&c, NULL, 5, &m));
    eef_batch b;
    assert_ok(eef_batch_alloc(&b, B, T));
    fill(&b);
    const int at[4] = { 3, 10, T + 2, T + 20 };
    const float w[4] = { 1.0f, 0.5f, 0.25f, 1.0f };
    double nll[4];
    for (int k = 0; k < 4; k++) { /* each position's own loss */
        memset(b.mask, 0, B * T * sizeof *b.mask);
        b.mask[at[k]] = 1.0f;
        assert_ok(eef_model_forward(m, &b, NULL, &nll[k]));
    }
    memset(b.mask, 0, B * T * sizeof *b.mask);
    double num = 0, den = 0;
    for (int k = 0; k < 4; k++) b.mask[at[k]] = w[k], num += w[k] * nll[k], den += w[k];
    double loss;
    assert_ok(eef_model_forward(m, &b, NULL, &loss));
    if (fabs(loss - num / den) > 1e-6 * fabs(num / den))
        fail_msg("weighted loss %.9g, want sum(w nll) / sum(w) = %.9g", loss, num / den);
    /* doubling every weight changes nothing */
    for (int k = 0; k < 4; k++) b.mask[at[k]] = 2 * w[k];
    double loss2;
    assert_ok(eef_model_forward(m, &b, NULL, &loss2));
    assert_true(fabs(loss2 - loss) <= 1e-6 * fabs(loss));
    eef_batch_free(&b);
    eef_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_weighted_mean) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

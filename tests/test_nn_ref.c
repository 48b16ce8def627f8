/* Compares eef's model with PyTorch on the reference fixture written by
 * tests/ref/make_ref.py (an independent PyTorch implementation computed in
 * float64): logits, masked loss, every gradient, the clipped gradient norm
 * and the weights after one AdamW step.
 *
 * Tolerances (eef computes in float32):
 *   logits:  max |diff| <= 1e-4 (values are O(1); float32 rounding
 *            through 2 layers gives ~1e-6)
 *   loss:    relative 1e-5
 *   grads:   per tensor, max |diff| <= 1e-3 * max |g_ref| (float32
 *            accumulation over the batch)
 *   step:    max |diff| <= 1e-5 + 1e-3 * lr (Adam's first step moves
 *            each weight by about lr * sign(g))
 */
#include "testutil.h"

#include "nn/nn_internal.h"
#include "ref_fixture.h"

static ref_set fixture;

static const ref_tensor *get(const char *name) { return ref_get(&fixture, name); }

static void test_against_pytorch(void **state)
{
    (void)state;
    ref_load("tests/fixtures/nn_ref.bin", &fixture);
    const float *cf = get("config")->data;
    int V = (int)cf[0], D = (int)cf[1], L = (int)cf[2], H = (int)cf[3], F = (int)cf[4],
        CTX = (int)cf[5], B = (int)cf[6], T = (int)cf[7];
    eef_model_config c = { .vocab = V, .d_model = D, .n_layers = L, .n_heads = H, .d_ff = F,
                           .max_ctx = CTX, .tied = 0, .rope_theta = 10000.0f, .norm_eps = 1e-5f };
    eef_model *m;
    assert_ok(eef_model_new(&c, NULL, 0, &m));
    struct {
        const char *name;
        float *p;
        float **g;
    } w[] = {
        { "wte", m->w.wte, &m->g.wte },         { "attn_norm", m->w.attn_norm, &m->g.attn_norm },
        { "wqkv", m->w.wqkv, &m->g.wqkv },      { "wo", m->w.wo, &m->g.wo },
        { "mlp_norm", m->w.mlp_norm, &m->g.mlp_norm }, { "w13", m->w.w13, &m->g.w13 },
        { "w2", m->w.w2, &m->g.w2 },            { "out_norm", m->w.out_norm, &m->g.out_norm },
        { "head", m->w.head, &m->g.head },
    };
    size_t total = 0;
    for (size_t k = 0; k < EEF_ARRAY_LEN(w); k++) {
        char nm[64];
        snprintf(nm, sizeof nm, "w.%s", w[k].name);
        const ref_tensor *t = get(nm);
        memcpy(w[k].p, t->data, t->n * sizeof(float));
        total += t->n;
    }
    assert_int_equal(total, m->n_params);

    eef_batch b;
    assert_ok(eef_batch_alloc(&b, B, T));
    for (int i = 0; i < B * T; i++) {
        b.tokens[i] = (int)get("tokens")->data[i];
        b.targets[i] = (int)get("targets")->data[i];
        b.pos[i] = (int)get("pos")->data[i];
        b.mask[i] = get("mask")->data[i];
    }
    float *logits = malloc((size_t)B * T * V * sizeof(float));
    double loss;
    assert_ok(eef_model_forward(m, &b, logits, &loss));
    double dl = ref_max_diff(logits, get("logits")->data, (size_t)B * T * V);
    printf("logits max |diff| %.2e\n", dl);
    assert_true(dl <= 1e-4);
    double lref = get("loss")->data[0];
    printf("loss %.7f vs %.7f\n", loss, lref);
    assert_true(fabs(loss - lref) <= 1e-5 * fabs(lref));

    /* gradients: from the masked-row forward (the training path) */
    assert_ok(eef_model_forward(m, &b, NULL, &loss));
    eef_model_zero_grad(m);
    assert_ok(eef_model_backward(m, 1.0f));
    for (size_t k = 0; k < EEF_ARRAY_LEN(w); k++) {
        char nm[64];
        snprintf(nm, sizeof nm, "g.%s", w[k].name);
        const ref_tensor *t = get(nm);
        double d = ref_max_diff(*w[k].g, t->data, t->n), s = ref_max_abs(t->data, t->n);
        printf("grad %-9s max |diff| %.2e (max |g| %.2e)\n", w[k].name, d, s);
        assert_true(d <= 1e-3 * s);
    }

    const float *ac = get("adamw")->data;
    eef_adamw_config oc;
    eef_adamw_defaults(&oc);
    oc.lr = ac[0], oc.beta1 = ac[1], oc.beta2 = ac[2], oc.eps = ac[3], oc.weight_decay = ac[4];
    oc.clip = ac[5], oc.warmup = 0, oc.total_steps = 0;
    eef_adamw *o;
    assert_ok(eef_adamw_new(&oc, m->n_params, &o));
    double gn;
    assert_ok(eef_adamw_step(o, m, &gn));
    printf("grad norm %.6f vs %.6f\n", gn, (double)get("grad_norm")->data[0]);
    assert_true(fabs(gn - get("grad_norm")->data[0]) <= 1e-4 * gn);
    for (size_t k = 0; k < EEF_ARRAY_LEN(w); k++) {
        char nm[64];
        snprintf(nm, sizeof nm, "step.%s", w[k].name);
        const ref_tensor *t = get(nm);
        double d = ref_max_diff(w[k].p, t->data, t->n);
        printf("step %-9s max |diff| %.2e\n", w[k].name, d);
        assert_true(d <= 1e-5 + 1e-3 * oc.lr);
    }
    eef_adamw_free(o);
    free(logits);
    eef_batch_free(&b);
    eef_model_free(m);
    ref_free(&fixture);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_against_pytorch) };
    return cmocka_run_group_tests_name("nn vs pytorch", tests, NULL, NULL);
}

/* The DPO loss of nn/dpo.c (ETO's training objective): against PyTorch on
 * the fixture written by tests/ref/make_dpo_ref.py, and its gradient by
 * finite differences through the whole model.
 *
 * Tolerances (eef computes in float32, the reference in float64):
 *   lp(s):  |diff| <= 2e-4 + 1e-5 |lp|  (sums of ~20 log-probs of O(4))
 *   loss:   |diff| <= 1e-5
 *   grads:  per tensor, max |diff| <= 1e-3 * max |g_ref|, as test_nn_ref
 *   FD:     as test_nn_grad's whole-model check: Richardson-extrapolated
 *           central differences along random directions (stretched so the
 *           derivative is >= 0.3), 3e-3 relative + 1e-4 absolute; a
 *           gradient 3% off fails.
 */
#include "testutil.h"

#include "nn/nn_internal.h"
#include "ref_fixture.h"

static ref_set fixture;
static const ref_tensor *get(const char *name) { return ref_get(&fixture, name); }

typedef struct {
    int *tok[6];
    float *mask[6];
    int n[6];
    eef_dpo_pair pairs[3];
    int n_pairs;
} pairset;

static void pairs_from_fixture(pairset *ps)
{
    ps->n_pairs = (int)get("config")->data[6];
    assert_int_equal(ps->n_pairs, 3);
    for (int i = 0; i < 2 * ps->n_pairs; i++) {
        char nm[32];
        snprintf(nm, sizeof nm, "seq%d.tokens", i);
        const ref_tensor *t = get(nm);
        snprintf(nm, sizeof nm, "seq%d.mask", i);
        const ref_tensor *mk = get(nm);
        assert_int_equal(t->n, mk->n);
        ps->n[i] = (int)t->n;
        ps->tok[i] = malloc(t->n * sizeof(int));
        ps->mask[i] = malloc(t->n * sizeof(float));
        for (size_t k = 0; k < t->n; k++) ps->tok[i][k] = (int)t->data[k], ps->mask[i][k] = mk->data[k];
    }
    const float *ref = get("ref")->data;
    for (int p = 0; p < ps->n_pairs; p++) {
        ps->pairs[p].chosen = (eef_seq){ ps->tok[2 * p], ps->mask[2 * p], ps->n[2 * p] };
        ps->pairs[p].rejected = (eef_seq){ ps->tok[2 * p + 1], ps->mask[2 * p + 1], ps->n[2 * p + 1] };
        ps->pairs[p].ref_chosen = ref[2 * p];
        ps->pairs[p].ref_rejected = ref[2 * p + 1];
    }
}

static void pairset_free(pairset *ps)
{
    for (int i = 0; i < 2 * ps->n_pairs; i++) free(ps->tok[i]), free(ps->mask[i]);
}

typedef struct {
    const char *name;
    float *p, **g;
} named;

static eef_model *fixture_model(named *w)
{
    const float *cf = get("config")->data;
    eef_model_config c = { .vocab = (int)cf[0], .d_model = (int)cf[1], .n_layers = (int)cf[2],
                           .n_heads = (int)cf[3], .d_ff = (int)cf[4], .max_ctx = (int)cf[5],
                           .tied = 0, .rope_theta = 10000.0f, .norm_eps = 1e-5f };
    eef_model *m;
    assert_ok(eef_model_new(&c, NULL, 0, &m));
    named t[9] = {
        { "wte", m->w.wte, &m->g.wte },         { "attn_norm", m->w.attn_norm, &m->g.attn_norm },
        { "wqkv", m->w.wqkv, &m->g.wqkv },      { "wo", m->w.wo, &m->g.wo },
        { "mlp_norm", m->w.mlp_norm, &m->g.mlp_norm }, { "w13", m->w.w13, &m->g.w13 },
        { "w2", m->w.w2, &m->g.w2 },            { "out_norm", m->w.out_norm, &m->g.out_norm },
        { "head", m->w.head, &m->g.head },
    };
    size_t total = 0;
    for (int k = 0; k < 9; k++) {
        char nm[64];
        snprintf(nm, sizeof nm, "w.%s", t[k].name);
        const ref_tensor *r = get(nm);
        memcpy(t[k].p, r->data, r->n * sizeof(float));
        total += r->n;
        w[k] = t[k];
    }
    assert_int_equal(total, m->n_params);
    return m;
}

/* rows = 2 packs the six sequences (88 positions) into two batches (the
 * backward forwards again), rows = 4 into one (the live forward) */
static void check_against_pytorch(int rows)
{
    ref_load("tests/fixtures/dpo_ref.bin", &fixture);
    named w[9];
    eef_model *m = fixture_model(w);
    pairset ps;
    pairs_from_fixture(&ps);
    const double beta = get("config")->data[7];
    eef_batch b;
    assert_ok(eef_batch_alloc(&b, rows, 32));

    /* sequence log-probs */
    eef_seq seqs[6];
    for (int i = 0; i < 6; i++) seqs[i] = (eef_seq){ ps.tok[i], ps.mask[i], ps.n[i] };
    double lp[6];
    assert_ok(eef_seq_logprobs(m, seqs, 6, &b, lp));
    for (int i = 0; i < 6; i++) {
        double r = get("lp")->data[i];
        if (fabs(lp[i] - r) > 2e-4 + 1e-5 * fabs(r)) fail_msg("lp(seq %d) %.7f, reference %.7f", i, lp[i], r);
    }

    eef_model_zero_grad(m);
    eef_dpo_stats st;
    assert_ok(eef_dpo_loss(m, ps.pairs, 3, beta, &b, 1.0f, &st));
    double lref = get("loss")->data[0];
    printf("rows %d: DPO loss %.7f vs %.7f, accuracy %.3f\n", rows, st.loss, lref, st.accuracy);
    assert_true(fabs(st.loss - lref) <= 1e-5);
    const float *z = get("z")->data;
    int right = 0;
    for (int p = 0; p < 3; p++) right += z[p] > 0;
    assert_true(fabs(st.accuracy - right / 3.0) < 1e-12);
    for (int k = 0; k < 9; k++) {
        char nm[64];
        snprintf(nm, sizeof nm, "g.%s", w[k].name);
        const ref_tensor *t = get(nm);
        double d = ref_max_diff(*w[k].g, t->data, t->n), s = ref_max_abs(t->data, t->n);
        printf("  grad %-9s max |diff| %.2e (max |g| %.2e)\n", w[k].name, d, s);
        assert_true(s > 0);
        assert_true(d <= 1e-3 * s);
    }
    /* scale 0: the loss, no gradient */
    eef_model_zero_grad(m);
    eef_dpo_stats st0;
    assert_ok(eef_dpo_loss(m, ps.pairs, 3, beta, &b, 0.0f, &st0));
    assert_true(st0.loss == st.loss);
    for (size_t i = 0; i < m->n_params; i++) assert_true(m->grads[i] == 0.0f);

    eef_batch_free(&b);
    pairset_free(&ps);
    eef_model_free(m);
    ref_free(&fixture);
}

static void test_dpo_vs_pytorch_two_batches(void **state)
{
    (void)state;
    check_against_pytorch(2);
}

static void test_dpo_vs_pytorch_one_batch(void **state)
{
    (void)state;
    check_against_pytorch(4);
}

/* lp(s) from the token log-prob hook equals log-softmax of the full logits */
static void test_seq_logprobs_vs_logits(void **state)
{
    (void)state;
    ref_load("tests/fixtures/dpo_ref.bin", &fixture);
    named w[9];
    eef_model *m = fixture_model(w);
    pairset ps;
    pairs_from_fixture(&ps);
    const int V = m->cfg.vocab;
    eef_batch b;
    assert_ok(eef_batch_alloc(&b, 1, 32));
    float *logits = malloc((size_t)32 * V * sizeof(float));
    for (int i = 0; i < 6; i++) {
        eef_seq s = { ps.tok[i], ps.mask[i], ps.n[i] };
        double lp;
        assert_ok(eef_seq_logprobs(m, &s, 1, &b, &lp));
        size_t next = 0;
        eef_batch_pack(&b, &s, 1, &next);
        assert_ok(eef_model_forward(m, &b, logits, NULL));
        double want = 0;
        for (int k = 0; k + 1 < s.n; k++) {
            const float *lg = logits + (size_t)k * V;
            double mx = lg[0], se = 0;
            for (int v = 1; v < V; v++) mx = fmax(mx, lg[v]);
            for (int v = 0; v < V; v++) se += exp(lg[v] - mx);
            want += s.mask[k + 1] * (lg[s.tokens[k + 1]] - mx - log(se));
        }
        assert_true(fabs(lp - want) <= 1e-4 * (1 + fabs(want)));
    }
    free(logits);
    eef_batch_free(&b);
    pairset_free(&ps);
    eef_model_free(m);
    ref_free(&fixture);
}

/* ---------------------------------------------------------------- finite differences */
static eef_rng rng;

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static double dpo_at(eef_model *m, const eef_dpo_pair *pairs, size_t n, double beta, eef_batch *b)
{
    eef_dpo_stats st;
    assert_ok(eef_dpo_loss(m, pairs, n, beta, b, 0.0f, &st));
    return st.loss;
}

/* The eef architecture and the Llama-family variant (grouped-query,
 * biases, q/k norms), beta small (the linear regime) and large (z far
 * from 0 on some pairs), sequences that do not all fit in one batch. */
static void check_fd(int variant, double beta)
{
    eef_model_config c;
    assert_ok(eef_model_preset("tiny", 40, &c));
    c.d_model = 16, c.n_heads = 2, c.d_ff = 24, c.max_ctx = 32, c.tied = variant;
    if (variant) c.n_heads = 6, c.n_kv_heads = 2, c.head_dim = 6, c.qkv_bias = 1, c.qk_norm = 1;
    eef_model *m;
    assert_ok(eef_model_new(&c, NULL, 5, &m));
    for (size_t i = 0; i < m->n_params; i++) m->params[i] += 0.05f * eef_rng_normal(&rng);

    enum { NP = 4 };
    int tok[2 * NP][24];
    float mask[2 * NP][24];
    eef_dpo_pair pairs[NP];
    for (int s = 0; s < 2 * NP; s++) {
        int n = 8 + (s * 5) % 16;
        for (int k = 0; k < n; k++) {
            tok[s][k] = (int)eef_rng_below(&rng, 40);
            mask[s][k] = (k / 3 + s) % 2 ? 1.0f : 0.0f;
        }
        eef_seq q = { tok[s], mask[s], n };
        if (s % 2 == 0) pairs[s / 2].chosen = q; else pairs[s / 2].rejected = q;
    }
    eef_batch b;
    assert_ok(eef_batch_alloc(&b, 2, 24));
    /* the reference: the policy's own log-probs, shifted per sequence so
     * the pairs' z differ (and some are negative) */
    for (int p = 0; p < NP; p++) {
        double lc, lr;
        assert_ok(eef_seq_logprobs(m, &pairs[p].chosen, 1, &b, &lc));
        assert_ok(eef_seq_logprobs(m, &pairs[p].rejected, 1, &b, &lr));
        pairs[p].ref_chosen = lc + 0.8 * (p - 1.5);
        pairs[p].ref_rejected = lr - 0.3 * p;
    }
    eef_model_zero_grad(m);
    eef_dpo_stats st;
    assert_ok(eef_dpo_loss(m, pairs, NP, beta, &b, 1.0f, &st));
    assert_true(st.accuracy > 0 && st.accuracy < 1); /* both signs of z */

    float *dir = malloc(m->n_params * sizeof(float));
    for (int trial = 0; trial < 4; trial++) {
        /* trial 0: all parameters; then the embedding, layer 0's qkv, the head */
        memset(dir, 0, m->n_params * sizeof(float));
        float *base = trial == 0 ? m->params : trial == 1 ? m->w.wte : trial == 2 ? m->w.wqkv : m->w.head;
        size_t n = trial == 0 ? m->n_params : trial == 1 || trial == 3 ? (size_t)c.vocab * c.d_model
                                                                          : (size_t)100;
        if (trial == 3 && c.tied) base = m->w.out_norm, n = (size_t)c.d_model;
        size_t off = (size_t)(base - m->params);
        for (size_t i = off; i < off + n; i++) dir[i] = eef_rng_normal(&rng);
        double an = dot(dir, m->grads, m->n_params);
        /* the loss is a function of float32 sums of ~100 log-probs: stretch
         * the direction so the change over h is well above that noise */
        if (fabs(an) < 0.3) {
            double k2 = fmin(0.3 / fmax(fabs(an), 1e-9), 100.0);
            for (size_t i = off; i < off + n; i++) dir[i] *= (float)k2;
            an = dot(dir, m->grads, m->n_params);
        }
        double fdh[2];
        for (int k2 = 0; k2 < 2; k2++) {
            const float h = k2 ? 1e-3f : 2e-3f;
            for (size_t i = 0; i < m->n_params; i++) m->params[i] += h * dir[i];
            double lp = dpo_at(m, pairs, NP, beta, &b);
            for (size_t i = 0; i < m->n_params; i++) m->params[i] -= 2 * h * dir[i];
            double lm = dpo_at(m, pairs, NP, beta, &b);
            for (size_t i = 0; i < m->n_params; i++) m->params[i] += h * dir[i];
            fdh[k2] = (lp - lm) / (2 * h);
        }
        double fd = (4 * fdh[1] - fdh[0]) / 3;
        if (getenv("SHOW")) fprintf(stderr, "  variant %d beta %g trial %d: fd %.7g an %.7g\n", variant, beta, trial, fd, an);
        if (fabs(fd - an) > 3e-3 * fmax(fabs(fd), fabs(an)) + 1e-4)
            fail_msg("DPO (variant %d, beta %g) direction %d: finite difference %.6g, backward %.6g",
                     variant, beta, trial, fd, an);
    }
    free(dir);
    eef_batch_free(&b);
    eef_model_free(m);
}

static void test_dpo_fd(void **state)
{
    (void)state;
    rng = eef_rng_make(77);
    check_fd(0, 0.1);
    check_fd(0, 2.0);
    check_fd(1, 0.5);
}

/* A descent step along -grad lowers the loss: the sign is right. */
static void test_dpo_descends(void **state)
{
    (void)state;
    ref_load("tests/fixtures/dpo_ref.bin", &fixture);
    named w[9];
    eef_model *m = fixture_model(w);
    pairset ps;
    pairs_from_fixture(&ps);
    eef_batch b;
    assert_ok(eef_batch_alloc(&b, 4, 32));
    eef_dpo_stats s0, s1;
    eef_model_zero_grad(m);
    assert_ok(eef_dpo_loss(m, ps.pairs, 3, 0.5, &b, 1.0f, &s0));
    for (size_t i = 0; i < m->n_params; i++) m->params[i] -= 0.05f * m->grads[i];
    assert_ok(eef_dpo_loss(m, ps.pairs, 3, 0.5, &b, 0.0f, &s1));
    assert_true(s1.loss < s0.loss);
    assert_true(s1.margin > s0.margin);
    /* bad beta: an error, no crash */
    assert_int_equal(eef_dpo_loss(m, ps.pairs, 3, 0.0, &b, 1.0f, &s1), EEF_EINVAL);
    assert_int_equal(eef_dpo_loss(m, ps.pairs, 3, NAN, &b, 1.0f, &s1), EEF_EINVAL);
    eef_batch_free(&b);
    pairset_free(&ps);
    eef_model_free(m);
    ref_free(&fixture);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dpo_vs_pytorch_two_batches),
        cmocka_unit_test(test_dpo_vs_pytorch_one_batch),
        cmocka_unit_test(test_seq_logprobs_vs_logits),
        cmocka_unit_test(test_dpo_fd),
        cmocka_unit_test(test_dpo_descends),
    };
    return cmocka_run_group_tests_name("nn dpo", tests, NULL, NULL);
}

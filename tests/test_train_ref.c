/* One LoRA SFT step and one full fine-tuning step against plain PyTorch
 * (tests/ref/make_train_ref.py; fixtures in tests/fixtures/train/): a
 * random Qwen3-shaped Hugging Face model, an agent-shaped batch (loss on
 * four short action spans only, one row holding two packed sequences),
 * gradient clipping and AdamW.  The adapters are read from the PEFT files
 * the script wrote.
 *
 * Tolerances (eef runs in float32, the reference in float64):
 *   loss: relative 1e-5;
 *   gradients: per tensor, max |diff| <= 1e-3 * max |g_ref|;
 *   the update (parameters after the step minus before): per element,
 *     where the reference gradient is at least 1e-2 of its tensor's
 *     largest, |diff| <= 1e-3 * lr.  Adam's first step moves each element
 *     by about lr * sign(g), so where g is float noise the sign (and a
 *     2 lr step) is a coin toss in either implementation; there the
 *     update is only checked to be within lr (1 + 1e-3) of the decayed
 *     weight.
 */
#include "ref_fixture.h"

#include "nn/nn_internal.h"

#define FIX "tests/fixtures/train"
static const double LR = 1e-2;

static void make_batch(const ref_set *r, eef_batch *b)
{
    const ref_tensor *tok = ref_get(r, "tokens");
    int B = tok->dims[0], T = tok->dims[1];
    assert_ok(eef_batch_alloc(b, B, T));
    for (int i = 0; i < B * T; i++) {
        b->tokens[i] = (int)tok->data[i];
        b->targets[i] = (int)ref_get(r, "targets")->data[i];
        b->pos[i] = (int)ref_get(r, "pos")->data[i];
        b->mask[i] = ref_get(r, "mask")->data[i];
    }
}

static void opt_config(eef_adamw_config *c)
{
    eef_adamw_defaults(c);
    c->lr = LR, c->beta1 = 0.9, c->beta2 = 0.95, c->eps = 1e-8, c->weight_decay = 0.1, c->clip = 1.0;
    c->warmup = 0, c->total_steps = 0; /* constant lr */
}

/* Gradient against reference; returns max|diff| / max|ref|. */
static double cmp_grad(const char *what, const float *g, const ref_tensor *ref)
{
    double mx = ref_max_abs(ref->data, ref->n), d = ref_max_diff(g, ref->data, ref->n);
    if (d > 1e-3 * mx) fail_msg("%s: gradient max |diff| %.3g, max |g| %.3g", what, d, mx);
    return d / fmax(mx, 1e-30);
}

/* Update p1 - p0 against the reference's, as the header says; returns
 * the worst |diff| / lr over the well-determined elements. */
static double cmp_update(const char *what, const float *p0, const float *p1, const ref_tensor *ref1,
                         const ref_tensor *gref)
{
    double gmx = ref_max_abs(gref->data, gref->n), worst = 0;
    for (size_t i = 0; i < ref1->n; i++) {
        double d = fabs((double)p1[i] - ref1->data[i]);
        if (fabs(gref->data[i]) >= 1e-2 * gmx) {
            worst = fmax(worst, d / LR);
            if (d > 1e-3 * LR)
                fail_msg("%s[%zu]: after the step %.8g, reference %.8g (before %.8g)", what, i,
                         (double)p1[i], (double)ref1->data[i], (double)p0[i]);
        } else if (d > 2 * LR * (1 + 1e-3)) {
            fail_msg("%s[%zu]: step %.3g, beyond 2 lr", what, i, (double)(p1[i] - p0[i]));
        }
    }
    return worst;
}

static void test_lora_step(void **state)
{
    (void)state;
    ref_set r;
    ref_load(FIX "/ref.bin", &r);
    eef_load_opts lo = { .trainable = 0, .dtype = EEF_DT_COUNT };
    eef_model *m;
    assert_ok(eef_model_load_opts(FIX "/model", &lo, &m));
    eef_lora *a;
    assert_ok(eef_lora_load(FIX "/adapter", &m->cfg, &a));
    assert_int_equal(a->cfg.rank, 4);
    assert_true(a->scale == 2.0f);
    assert_int_equal(a->cfg.targets, EEF_LORA_ALL);
    float *p0 = malloc(a->n_params * sizeof(float));
    memcpy(p0, a->params, a->n_params * sizeof(float));
    /* the adapters as read are the script's */
    eef_batch b;
    make_batch(&r, &b);
    eef_adamw_config oc;
    opt_config(&oc);
    eef_adamw *opt;
    assert_ok(eef_adamw_new(&oc, eef_train_n_params(m, a), &opt));
    double loss, gn;
    assert_ok(eef_train_step(m, a, opt, &b, &loss, &gn));
    double ref_loss = ref_get(&r, "lora.loss")->data[0];
    assert_true(fabs(loss - ref_loss) <= 1e-5 * fabs(ref_loss));
    double wg = 0, wu = 0;
    for (int l = 0; l < a->n_layers; l++)
        for (int t = 0; t < EEF_LORA_N; t++) {
            const eef_lora_mat *mt = &a->mat[l * EEF_LORA_N + t];
            char name[160], key[200];
            snprintf(name, sizeof name, "model.layers.%d.%s.%s", l, t <= EEF_LORA_O ? "self_attn" : "mlp",
                     eef_lora_module_name(t));
            snprintf(key, sizeof key, "lora.gA.%s", name);
            const ref_tensor *gA = ref_get(&r, key);
            snprintf(key, sizeof key, "lora.gB.%s", name);
            const ref_tensor *gB = ref_get(&r, key);
            assert_int_equal(gA->n, (size_t)a->cfg.rank * mt->in);
            assert_int_equal(gB->n, (size_t)a->cfg.rank * mt->out);
            wg = fmax(wg, cmp_grad(name, a->grads + mt->a, gA));
            wg = fmax(wg, cmp_grad(name, a->grads + mt->b, gB));
            snprintf(key, sizeof key, "lora.A1.%s", name);
            wu = fmax(wu, cmp_update(name, p0 + mt->a, a->params + mt->a, ref_get(&r, key), gA));
            snprintf(key, sizeof key, "lora.B1.%s", name);
            wu = fmax(wu, cmp_update(name, p0 + mt->b, a->params + mt->b, ref_get(&r, key), gB));
        }
    printf("LoRA step: loss %.7f (ref %.7f), worst gradient %.2e, worst update %.2e lr\n", loss,
           ref_loss, wg, wu);
    free(p0);
    eef_adamw_free(opt);
    eef_batch_free(&b);
    eef_lora_free(a);
    eef_model_free(m);
    ref_free(&r);
}

/* Where an HF tensor is in eef's trainable buffer (an offset). */
static size_t offset_of(const eef_model *m, const char *name, size_t n)
{
    const eef_model_config *c = &m->cfg;
    const float *p = NULL;
    int l = -1, k = 0;
    char rest[96] = "";
    if (strcmp(name, "model.embed_tokens.weight") == 0) p = m->embed.data;
    else if (strcmp(name, "model.norm.weight") == 0) p = m->out_norm;
    else if (sscanf(name, "model.layers.%d.%95s%n", &l, rest, &k) == 2 && l >= 0 && l < c->n_layers) {
        const eef_layer_weights *w = &m->layer[l];
        const struct {
            const char *n;
            const float *p;
        } t[] = {
            { "self_attn.q_proj.weight", w->wq.data },       { "self_attn.k_proj.weight", w->wk.data },
            { "self_attn.v_proj.weight", w->wv.data },       { "self_attn.o_proj.weight", w->wo.data },
            { "self_attn.q_norm.weight", w->q_norm },        { "self_attn.k_norm.weight", w->k_norm },
            { "mlp.gate_proj.weight", w->w1.data },          { "mlp.up_proj.weight", w->w3.data },
            { "mlp.down_proj.weight", w->w2.data },          { "input_layernorm.weight", w->attn_norm },
            { "post_attention_layernorm.weight", w->mlp_norm },
        };
        for (size_t i = 0; i < EEF_ARRAY_LEN(t); i++)
            if (strcmp(rest, t[i].n) == 0) p = t[i].p;
    }
    if (!p) fail_msg("no eef tensor for %s", name);
    size_t off = (size_t)(p - m->params);
    assert_true(off + n <= m->n_params);
    return off;
}

static void test_full_step(void **state)
{
    (void)state;
    ref_set r;
    ref_load(FIX "/ref.bin", &r);
    eef_load_opts lo = { .trainable = 1, .dtype = EEF_DT_COUNT };
    eef_model *m;
    assert_ok(eef_model_load_opts(FIX "/model", &lo, &m));
    float *p0 = malloc(m->n_params * sizeof(float));
    memcpy(p0, m->params, m->n_params * sizeof(float));
    eef_batch b;
    make_batch(&r, &b);
    eef_adamw_config oc;
    opt_config(&oc);
    eef_adamw *opt;
    assert_ok(eef_adamw_new(&oc, eef_train_n_params(m, NULL), &opt));
    double loss, gn;
    assert_ok(eef_train_step(m, NULL, opt, &b, &loss, &gn));
    double ref_loss = ref_get(&r, "full.loss")->data[0];
    assert_true(fabs(loss - ref_loss) <= 1e-5 * fabs(ref_loss));
    double wg = 0, wu = 0;
    int n_checked = 0;
    for (int i = 0; i < r.n; i++) {
        if (strncmp(r.t[i].name, "full.g.", 7) != 0) continue;
        const char *name = r.t[i].name + 7;
        size_t off = offset_of(m, name, r.t[i].n);
        wg = fmax(wg, cmp_grad(name, m->grads + off, &r.t[i]));
        char key[200];
        snprintf(key, sizeof key, "full.p1.%s", name);
        wu = fmax(wu, cmp_update(name, p0 + off, m->params + off, ref_get(&r, key), &r.t[i]));
        n_checked++;
    }
    assert_int_equal(n_checked, 2 + 2 * 11); /* embedding, final norm, 11 a layer */
    printf("full step: loss %.7f (ref %.7f), %d tensors, worst gradient %.2e, worst update %.2e lr\n",
           loss, ref_loss, n_checked, wg, wu);
    /* activation checkpointing gives the same step bit for bit */
    eef_model *m2;
    assert_ok(eef_model_load_opts(FIX "/model", &lo, &m2));
    m2->checkpoint = 1;
    eef_adamw *opt2;
    assert_ok(eef_adamw_new(&oc, m2->n_params, &opt2));
    double loss2;
    assert_ok(eef_train_step(m2, NULL, opt2, &b, &loss2, NULL));
    assert_true(loss2 == loss);
    assert_memory_equal(m2->params, m->params, m->n_params * sizeof(float));
    eef_adamw_free(opt2);
    eef_model_free(m2);
    free(p0);
    eef_adamw_free(opt);
    eef_batch_free(&b);
    eef_model_free(m);
    ref_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lora_step),
        cmocka_unit_test(test_full_step),
    };
    return cmocka_run_group_tests_name("training step vs PyTorch", tests, NULL, NULL);
}

/* Hugging Face model directories (src/nn/hf*.c, safetensors.c) against the
 * PyTorch reference of tests/ref/make_hf_ref.py: random-weight models in
 * the exact HF names and layout at the head ratios of Llama-3.2-1B,
 * Qwen2.5-0.5B, Qwen3-0.6B, SmolLM2-135M and Mistral-7B (2 layers), with
 * logits, and for two of them the masked loss and every gradient,
 * computed in float64 on the weights as stored.
 *
 * Tolerances (eef computes in float32; the references' logits are O(10)):
 *   logits, every load path (frozen in the file's dtype, trainable f32,
 *   converted to bf16 against the reference on bf16-rounded weights):
 *       max |diff| <= 1e-4 * max(1, max |ref|)   (measured: about 1e-6 relative)
 *   the KV cache, prefill then token by token: the same bound
 *   loss: relative 1e-5;  gradients: per tensor max |diff| <= 1e-3 * max |g_ref|
 * Round trips eef -> HF directory -> eef are exact (memcmp of logits) for
 * trainable loads.  Damaged files get EEF_EFORMAT and a message that starts
 * with the damaged file's path. */
#include "ref_fixture.h"

#include "nn/hf.h"
#include "nn/nn_internal.h"
#include "nn/safetensors.h"

#define FIX "tests/fixtures/hf"

static const char *const fixtures[] = { "llama32", "qwen25", "qwen3", "smollm2", "mistral" };

static unsigned char *slurp(const char *path, size_t *len)
{
    char *d;
    assert_ok(eef_read_file(path, &d, len));
    return (unsigned char *)d;
}

static void logits_of(eef_model *m, const int *tokens, int T, float *out);

static double tol_of(const ref_tensor *ref) { return 1e-4 * fmax(1.0, ref_max_abs(ref->data, ref->n)); }

/* The fixture's batch: 2 rows of 16, row 1 two packed sequences. */
static void fixture_batch(const ref_set *r, eef_batch *b)
{
    const ref_tensor *tok = ref_get(r, "tokens"), *pos = ref_get(r, "pos");
    assert_ok(eef_batch_alloc(b, tok->dims[0], tok->dims[1]));
    const ref_tensor *tg = ref_find(r, "targets"), *mk = ref_find(r, "mask");
    for (size_t i = 0; i < tok->n; i++) {
        b->tokens[i] = (int)tok->data[i];
        b->pos[i] = (int)pos->data[i];
        b->targets[i] = tg ? (int)tg->data[i] : 0;
        b->mask[i] = mk ? mk->data[i] : 1.0f;
    }
}

static double forward_diff(eef_model *m, const ref_set *r, const char *which)
{
    eef_batch b;
    fixture_batch(r, &b);
    const ref_tensor *ref = ref_get(r, which);
    float *logits = malloc(ref->n * sizeof(float));
    double loss;
    assert_ok(eef_model_forward(m, &b, logits, &loss));
    double d = ref_max_diff(logits, ref->data, ref->n);
    free(logits);
    eef_batch_free(&b);
    return d;
}

/* Row 0 through the KV cache: 5 tokens at once, then one at a time; the
 * largest difference of the last logits from the reference's rows. */
static double kv_diff(const eef_model *m, const ref_set *r, const char *which)
{
    const ref_tensor *tok = ref_get(r, "tokens"), *ref = ref_get(r, which);
    const int T = tok->dims[1], V = m->cfg.vocab;
    int ids[64];
    for (int t = 0; t < T; t++) ids[t] = (int)tok->data[t];
    eef_kv *kv;
    assert_ok(eef_kv_new(m, 0, &kv));
    float *lg = malloc((size_t)V * sizeof(float));
    assert_ok(eef_kv_feed(kv, ids, 5, lg));
    double d = ref_max_diff(lg, ref->data + (size_t)4 * V, (size_t)V);
    for (int t = 5; t < T; t++) {
        assert_ok(eef_kv_feed(kv, ids + t, 1, lg));
        d = fmax(d, ref_max_diff(lg, ref->data + (size_t)t * V, (size_t)V));
    }
    free(lg);
    eef_kv_free(kv);
    return d;
}

static void load(const char *dir, int trainable, eef_dtype dt, eef_model **m)
{
    eef_load_opts o = { .trainable = trainable, .dtype = dt };
    assert_ok(eef_model_load_opts(dir, &o, m));
}

static void test_logits(void **state)
{
    (void)state;
    for (size_t f = 0; f < EEF_ARRAY_LEN(fixtures); f++) {
        char dir[256], refp[300];
        snprintf(dir, sizeof dir, FIX "/%s", fixtures[f]);
        snprintf(refp, sizeof refp, "%s/ref.bin", dir);
        ref_set r;
        ref_load(refp, &r);
        double tol = tol_of(ref_get(&r, "logits"));
        eef_model *m;
        /* frozen, the file's own dtype (mapped) */
        assert_ok(eef_model_load(dir, &m));
        assert_null(m->params);
        double d_frozen = forward_diff(m, &r, "logits"), d_kv = kv_diff(m, &r, "logits");
        eef_dtype stored = m->embed.dtype;
        eef_model_free(m);
        /* trainable: f32 copies in the parameter buffer */
        load(dir, 1, EEF_DT_COUNT, &m);
        assert_non_null(m->params);
        double d_train = forward_diff(m, &r, "logits");
        eef_model_free(m);
        /* converted on load: bf16 (against bf16-rounded weights), f32 */
        double d_bf16 = 0;
        if (ref_find(&r, "logits_bf16")) {
            load(dir, 0, EEF_DT_BF16, &m);
            assert_int_equal(m->layer[0].wq.dtype, EEF_DT_BF16);
            d_bf16 = fmax(forward_diff(m, &r, "logits_bf16"), kv_diff(m, &r, "logits_bf16"));
            eef_model_free(m);
        }
        load(dir, 0, EEF_DT_F32, &m);
        double d_f32 = forward_diff(m, &r, "logits");
        eef_model_free(m);
        printf("%-8s %-4s tol %.1e  frozen %.2e  kv %.2e  trainable %.2e  as-f32 %.2e  bf16 %.2e\n",
               fixtures[f], eef_dtype_name(stored), tol, d_frozen, d_kv, d_train, d_f32, d_bf16);
        assert_true(d_frozen <= tol && d_kv <= tol && d_train <= tol && d_f32 <= tol);
        assert_true(d_bf16 <= tol_of(ref_find(&r, "logits_bf16") ? ref_get(&r, "logits_bf16")
                                                                 : ref_get(&r, "logits")));
        ref_free(&r);
    }
}

/* The bf16 decode kernel against the bf16 reference, token by token. */
static void test_bf16_decode(void **state)
{
    (void)state;
    ref_set r;
    ref_load(FIX "/qwen3/ref.bin", &r);
    eef_model *m;
    assert_ok(eef_model_load(FIX "/qwen3", &m));
    assert_int_equal(m->embed.dtype, EEF_DT_BF16);
    double d = kv_diff(m, &r, "logits"), tol = tol_of(ref_get(&r, "logits"));
    printf("qwen3 bf16 decode max |diff| %.2e (tol %.1e)\n", d, tol);
    assert_true(d <= tol);
    eef_model_free(m);
    ref_free(&r);
}

/* A long context: the cache of a model with an 8 K context starts at 256
 * slots and grows (by doubling, keys and values copied); prefill across
 * the boundary, then decoding across the next, agree with the training
 * forward of the whole sequence. */
static void test_kv_growth(void **state)
{
    (void)state;
    eef_model *m;
    assert_ok(eef_model_load(FIX "/smollm2", &m));
    enum { T = 600 };
    const int V = m->cfg.vocab;
    int tokens[T];
    for (int t = 0; t < T; t++) tokens[t] = (t * 17 + 5) % V;
    float *ref = malloc((size_t)T * V * sizeof(float)), *lg = malloc((size_t)V * sizeof(float));
    logits_of(m, tokens, T, ref);
    double scale = 1e-4 * fmax(1.0, ref_max_abs(ref, (size_t)T * V));
    eef_kv *kv;
    assert_ok(eef_kv_new(m, 0, &kv));
    assert_ok(eef_kv_feed(kv, tokens, 300, lg)); /* 300 > 256 slots at once */
    double d = ref_max_diff(lg, ref + (size_t)299 * V, (size_t)V);
    for (int t = 300; t < T; t++) { /* and one at a time past 512 */
        assert_ok(eef_kv_feed(kv, tokens + t, 1, lg));
        d = fmax(d, ref_max_diff(lg, ref + (size_t)t * V, (size_t)V));
    }
    printf("smollm2, %d tokens through a growing cache: max |diff| %.2e (tol %.1e)\n", T, d, scale);
    assert_true(d <= scale);
    eef_kv_free(kv);
    free(ref);
    free(lg);
    eef_model_free(m);
}

/* Tree attention on a grouped-query bf16 model: the log-probabilities of
 * a trie's sequences, scored at once, equal feeding each in turn. */
static void test_trie_gqa(void **state)
{
    (void)state;
    eef_model *m;
    assert_ok(eef_model_load(FIX "/qwen3", &m));
    const int V = m->cfg.vocab;
    int prompt[6] = { 3, 9, 27, 17, 51, 1 };
    int seqs[3][4] = { { 5, 6, 7, 8 }, { 5, 6, 10, 0 }, { 11, 12, 0, 0 } };
    int lens[3] = { 4, 3, 2 };
    eef_trie *t = eef_trie_new();
    for (int i = 0; i < 3; i++) assert_ok(eef_trie_add(t, seqs[i], lens[i], i));
    eef_kv *kv;
    assert_ok(eef_kv_new(m, 0, &kv));
    assert_ok(eef_kv_feed(kv, prompt, 6, NULL));
    double lp[3];
    assert_ok(eef_score_trie(kv, t, lp));
    float *lg = malloc((size_t)V * sizeof(float));
    for (int i = 0; i < 3; i++) {
        eef_kv_truncate(kv, 5);
        assert_ok(eef_kv_feed(kv, prompt + 5, 1, lg));
        double want = 0;
        for (int k = 0; k < lens[i]; k++) {
            want += (double)lg[seqs[i][k]] - nn_logsumexp(lg, V);
            assert_ok(eef_kv_feed(kv, &seqs[i][k], 1, lg));
        }
        printf("trie sequence %d: %.6f scored, %.6f fed\n", i, lp[i], want);
        assert_true(fabs(lp[i] - want) <= 1e-4 * (1 + fabs(want)));
    }
    free(lg);
    eef_kv_free(kv);
    eef_trie_free(t);
    eef_model_free(m);
}

/* What config.json said, as eef read it. */
static void test_configs(void **state)
{
    (void)state;
    eef_model *m;
    assert_ok(eef_model_load(FIX "/llama32", &m));
    const eef_model_config *c = &m->cfg;
    assert_string_equal(m->meta.arch, "llama");
    assert_int_equal(c->n_heads, 4), assert_int_equal(c->n_kv_heads, 1);
    assert_int_equal(c->head_dim, 8), assert_int_equal(c->tied, 1);
    assert_int_equal(c->rope_layout, EEF_ROPE_HALF);
    assert_true(c->rope_scaling.factor == 32 && c->rope_scaling.original_ctx == 256);
    assert_int_equal(m->meta.bos_id, 1);
    assert_int_equal(m->meta.n_eos, 2); /* generation_config.json's list */
    assert_int_equal(m->meta.eos_ids[1], 3);
    eef_model_free(m);
    assert_ok(eef_model_load(FIX "/qwen3", &m));
    assert_int_equal(m->cfg.head_dim, 16), assert_int_equal(m->cfg.d_model, 32);
    assert_int_equal(m->cfg.qk_norm, 1), assert_int_equal(m->cfg.qkv_bias, 0);
    eef_model_free(m);
    assert_ok(eef_model_load(FIX "/qwen25", &m));
    assert_int_equal(m->cfg.qkv_bias, 1), assert_int_equal(m->meta.bos_id, -1);
    eef_model_free(m);
    assert_ok(eef_model_load(FIX "/mistral", &m));
    assert_int_equal(m->cfg.tied, 0);
    assert_int_equal(m->cfg.max_ctx, 4096); /* the sliding window caps the context */
    assert_int_equal(m->embed.dtype, EEF_DT_F16);
    eef_model_free(m);
}

/* ------------------------------------------------------------ gradients */
/* Where the gradient of an HF tensor is in eef's trainable layout. */
static const float *grad_of(const eef_model *m, const char *name, size_t *n)
{
    const eef_model_config *c = &m->cfg;
    const size_t D = c->d_model, F = c->d_ff, hd = c->head_dim, Q = c->n_heads * hd,
                 K = c->n_kv_heads * hd, W = Q + 2 * K, V = c->vocab;
    const eef_weights *g = &m->g;
    int l = 0;
    *n = 0;
    char part[96];
    if (strcmp(name, "model.embed_tokens.weight") == 0) return *n = V * D, g->wte;
    if (strcmp(name, "model.norm.weight") == 0) return *n = D, g->out_norm;
    if (strcmp(name, "lm_head.weight") == 0) return *n = V * D, g->head;
    assert_int_equal(sscanf(name, "model.layers.%d.%95s", &l, part), 2);
    const struct {
        const char *name;
        const float *p;
        size_t n;
    } t[] = {
        { "self_attn.q_proj.weight", g->wqkv + l * W * D, Q * D },
        { "self_attn.k_proj.weight", g->wqkv + l * W * D + Q * D, K * D },
        { "self_attn.v_proj.weight", g->wqkv + l * W * D + (Q + K) * D, K * D },
        { "self_attn.q_proj.bias", g->bqkv ? g->bqkv + l * W : NULL, Q },
        { "self_attn.k_proj.bias", g->bqkv ? g->bqkv + l * W + Q : NULL, K },
        { "self_attn.v_proj.bias", g->bqkv ? g->bqkv + l * W + Q + K : NULL, K },
        { "self_attn.q_norm.weight", g->q_norm ? g->q_norm + l * hd : NULL, hd },
        { "self_attn.k_norm.weight", g->k_norm ? g->k_norm + l * hd : NULL, hd },
        { "self_attn.o_proj.weight", g->wo + l * D * Q, D * Q },
        { "mlp.gate_proj.weight", g->w13 + l * 2 * F * D, F * D },
        { "mlp.up_proj.weight", g->w13 + l * 2 * F * D + F * D, F * D },
        { "mlp.down_proj.weight", g->w2 + l * D * F, D * F },
        { "input_layernorm.weight", g->attn_norm + l * D, D },
        { "post_attention_layernorm.weight", g->mlp_norm + l * D, D },
    };
    for (size_t i = 0; i < EEF_ARRAY_LEN(t); i++)
        if (strcmp(part, t[i].name) == 0) return *n = t[i].n, t[i].p;
    fail_msg("no gradient for %s", name);
    return NULL;
}

static void test_grads(void **state)
{
    (void)state;
    const char *cases[] = { "qwen25", "qwen3" };
    for (size_t k = 0; k < EEF_ARRAY_LEN(cases); k++) {
        char dir[256], refp[300];
        snprintf(dir, sizeof dir, FIX "/%s", cases[k]);
        snprintf(refp, sizeof refp, "%s/ref.bin", dir);
        ref_set r;
        ref_load(refp, &r);
        eef_model *m;
        load(dir, 1, EEF_DT_COUNT, &m);
        eef_batch b;
        fixture_batch(&r, &b);
        double loss, lref = ref_get(&r, "loss")->data[0];
        eef_model_zero_grad(m);
        assert_ok(eef_model_forward(m, &b, NULL, &loss));
        assert_ok(eef_model_backward(m, 1.0f));
        printf("%s: loss %.7f vs %.7f\n", cases[k], loss, lref);
        assert_true(fabs(loss - lref) <= 1e-5 * fabs(lref));
        double worst = 0;
        int n_checked = 0;
        for (int i = 0; i < r.n; i++) {
            if (strncmp(r.t[i].name, "g.", 2) != 0) continue;
            size_t n = 0;
            const float *g = grad_of(m, r.t[i].name + 2, &n);
            assert_non_null(g);
            assert_int_equal(n, r.t[i].n);
            double d = ref_max_diff(g, r.t[i].data, n), s = ref_max_abs(r.t[i].data, n);
            worst = fmax(worst, d / fmax(s, 1e-30));
            if (d > 1e-3 * s) fail_msg("%s %s: max |diff| %.3e, max |g| %.3e", cases[k], r.t[i].name, d, s);
            n_checked++;
        }
        printf("%s: %d gradients, worst max|diff|/max|g| %.2e\n", cases[k], n_checked, worst);
        eef_batch_free(&b);
        eef_model_free(m);
        ref_free(&r);
    }
}

/* ------------------------------------------------------------ round trips */
static void logits_of(eef_model *m, const int *tokens, int T, float *out)
{
    eef_batch b;
    assert_ok(eef_batch_alloc(&b, 1, T));
    for (int t = 0; t < T; t++) b.tokens[t] = tokens[t], b.pos[t] = t, b.mask[t] = 1;
    double loss;
    assert_ok(eef_model_forward(m, &b, out, &loss));
    eef_batch_free(&b);
}

static void roundtrip(const eef_model_config *c, const char *dir)
{
    eef_model *a, *b;
    assert_ok(eef_model_new(c, NULL, 5, &a));
    /* gains and biases away from 1 and 0, so a swap would show */
    eef_rng r = eef_rng_make(11);
    for (size_t i = 0; i < a->n_params; i++) a->params[i] += 0.05f * eef_rng_normal(&r);
    assert_ok(eef_model_export(a, "hf", dir));
    eef_load_opts o = { .trainable = 1, .dtype = EEF_DT_COUNT };
    assert_ok(eef_model_load_opts(dir, &o, &b));
    assert_int_equal(b->cfg.rope_layout, a->cfg.rope_layout);
    assert_memory_equal(&a->cfg, &b->cfg, sizeof a->cfg);
    assert_memory_equal(a->params, b->params, a->n_params * sizeof(float));
    enum { T = 12 };
    int tokens[T];
    for (int t = 0; t < T; t++) tokens[t] = (t * 7 + 3) % c->vocab;
    size_t n = (size_t)T * c->vocab;
    float *la = malloc(n * sizeof(float)), *lb = malloc(n * sizeof(float));
    logits_of(a, tokens, T, la);
    logits_of(b, tokens, T, lb);
    assert_memory_equal(la, lb, n * sizeof(float));
    eef_model_free(b);
    /* frozen (mapped, q/k permuted copies): the same up to rounding */
    assert_ok(eef_model_load(dir, &b));
    logits_of(b, tokens, T, lb);
    assert_true(ref_max_diff(la, lb, n) <= 1e-5);
    eef_model_free(b);
    eef_model_free(a);
    free(la);
    free(lb);
}

/* A small model with every Llama-family feature eef has. */
static eef_model_config llama_family(void)
{
    return (eef_model_config){ .vocab = 70, .d_model = 24, .n_layers = 2, .n_heads = 6, .d_ff = 40,
                               .max_ctx = 64, .rope_theta = 5e5f, .norm_eps = 1e-6f,
                               .n_kv_heads = 2, .head_dim = 6, .qkv_bias = 1, .qk_norm = 1,
                               .rope_layout = EEF_ROPE_HALF, .rope_scaling = { 8, 1, 4, 32 } };
}

static void test_roundtrip(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir(), dir[600];
    eef_model_config c;
    /* eef's own architecture (pair layout), tied and not */
    assert_ok(eef_model_preset("tiny", 300, &c));
    c.n_heads = 4;
    snprintf(dir, sizeof dir, "%s/tiny", tmp);
    roundtrip(&c, dir);
    c.tied = 1;
    roundtrip(&c, dir); /* written over the first */
    /* every Llama-family feature, in both layouts */
    eef_model_config g = llama_family();
    for (int layout = 0; layout < 2; layout++) {
        g.rope_layout = layout;
        g.qk_norm = 1, g.qkv_bias = 0;
        snprintf(dir, sizeof dir, "%s/qwen3-%d", tmp, layout);
        roundtrip(&g, dir);
        g.qk_norm = 0, g.qkv_bias = 1;
        snprintf(dir, sizeof dir, "%s/qwen2-%d", tmp, layout);
        roundtrip(&g, dir);
    }
    /* an imported bf16 model stays bf16 through export */
    eef_model *m, *m2;
    assert_ok(eef_model_load(FIX "/qwen3", &m));
    snprintf(dir, sizeof dir, "%s/qwen3-bf16", tmp);
    assert_ok(eef_model_export(m, "hf", dir));
    assert_ok(eef_model_load(dir, &m2));
    assert_int_equal(m2->layer[1].w2.dtype, EEF_DT_BF16);
    assert_string_equal(m2->meta.arch, "qwen3");
    assert_int_equal(m2->meta.eos_ids[0], 4);
    size_t rb = eef_dtype_row_bytes(EEF_DT_BF16, m->layer[1].w2.cols);
    assert_memory_equal(m->layer[1].w2.data, m2->layer[1].w2.data, (size_t)m->layer[1].w2.rows * rb);
    char cfgp[700];
    snprintf(cfgp, sizeof cfgp, "%s/config.json", dir);
    assert_true(tu_file_contains(cfgp, "\"torch_dtype\": \"bfloat16\""));
    assert_true(tu_file_lacks(cfgp, "eef_rope_layout"));
    eef_model_free(m);
    eef_model_free(m2);
    tu_rmtree(tmp);
}

/* .eefm: eef's own architecture stays version 1; the Llama family is
 * version 2; a frozen (imported) model saves its weights as f32. */
static void test_eefm(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir(), p[600];
    snprintf(p, sizeof p, "%s/m.eefm", tmp);
    eef_model_config c;
    assert_ok(eef_model_preset("tiny", 300, &c));
    eef_model *a, *b;
    assert_ok(eef_model_new(&c, NULL, 1, &a));
    assert_ok(eef_model_save(a, p));
    size_t len;
    unsigned char *d = slurp(p, &len);
    assert_int_equal(d[4], 1);
    free(d);
    eef_model_free(a);
    eef_model_config g = llama_family();
    assert_ok(eef_model_new(&g, NULL, 2, &a));
    assert_ok(eef_model_save(a, p));
    d = slurp(p, &len);
    assert_int_equal(d[4], 2);
    free(d);
    assert_ok(eef_model_load(p, &b));
    assert_memory_equal(&a->cfg, &b->cfg, sizeof a->cfg);
    assert_int_equal(a->n_params, b->n_params);
    assert_memory_equal(a->params, b->params, a->n_params * sizeof(float));
    eef_model_free(b);
    eef_model_free(a);
    /* an imported bf16 model, saved: f32 weights that are the bf16 ones */
    ref_set r;
    ref_load(FIX "/qwen3/ref.bin", &r);
    assert_ok(eef_model_load(FIX "/qwen3", &a));
    assert_ok(eef_model_save(a, p));
    assert_ok(eef_model_load(p, &b));
    assert_non_null(b->params);
    double tol = tol_of(ref_get(&r, "logits")), dl = forward_diff(b, &r, "logits");
    printf("qwen3 through .eefm: logits max |diff| %.2e\n", dl);
    assert_true(dl <= tol);
    /* frozen again, as bf16: the very bytes of the file */
    assert_ok(eef_model_freeze(b, EEF_DT_BF16));
    assert_null(b->params);
    size_t rb = eef_dtype_row_bytes(EEF_DT_BF16, a->layer[0].wq.cols);
    assert_memory_equal(a->layer[0].wq.data, b->layer[0].wq.data, (size_t)a->layer[0].wq.rows * rb);
    assert_int_equal(eef_model_backward(b, 1.0f), EEF_ESTATE);
    eef_model_free(b);
    eef_model_free(a);
    ref_free(&r);
    tu_rmtree(tmp);
}

/* ------------------------------------------------------------ damaged files */
static void copy_fixture(const char *name, const char *to)
{
    assert_int_equal(tu_sh("rm -rf '%s' && mkdir -p '%s' && cp " FIX "/%s/*.json " FIX
                           "/%s/*.safetensors '%s'/", to, to, name, name, to), 0);
}

static void spit(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* Loading dir fails with EEF_EFORMAT, a message starting with `file`
 * and containing `what`. */
static void expect_bad(const char *dir, const char *file, const char *what)
{
    eef_model *m = NULL;
    eef_err e = eef_model_load(dir, &m);
    if (e == EEF_OK) {
        eef_model_free(m);
        fail_msg("%s: accepted (expected '%s')", file, what);
    }
    if (e != EEF_EFORMAT) fail_msg("%s: %s %s", file, eef_errname(e), eef_errmsg());
    if (strncmp(eef_errmsg(), file, strlen(file)) != 0 || !strstr(eef_errmsg(), what))
        fail_msg("expected '%s: ...%s...', got: %s", file, what, eef_errmsg());
}

/* The fixture's safetensors header with `from` replaced by `to` (same
 * length or not: the length prefix is rewritten). */
static void edit_header(const char *path, const char *from, const char *to)
{
    size_t len;
    unsigned char *d = slurp(path, &len);
    uint64_t hlen;
    memcpy(&hlen, d, 8);
    char *h = strndup((char *)d + 8, hlen);
    char *at = strstr(h, from);
    if (!at) fail_msg("header has no '%s'", from);
    size_t nh = hlen - strlen(from) + strlen(to);
    unsigned char *out = malloc(len - hlen + nh);
    uint64_t nhl = nh;
    memcpy(out, &nhl, 8);
    size_t pre = (size_t)(at - h);
    memcpy(out + 8, h, pre);
    memcpy(out + 8 + pre, to, strlen(to));
    memcpy(out + 8 + pre + strlen(to), at + strlen(from), hlen - pre - strlen(from));
    memcpy(out + 8 + nh, d + 8 + hlen, len - 8 - hlen);
    spit(path, out, len - hlen + nh);
    free(out);
    free(h);
    free(d);
}

static void edit_text(const char *path, const char *from, const char *to)
{
    size_t len;
    char *d = (char *)slurp(path, &len), *at = strstr(d, from);
    if (!at) fail_msg("%s has no '%s'", path, from);
    FILE *f = fopen(path, "wb");
    fwrite(d, 1, (size_t)(at - d), f);
    fputs(to, f);
    fputs(at + strlen(from), f);
    fclose(f);
    free(d);
}

static void test_damaged(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir(), dir[600], st[700], cfg[700];
    snprintf(dir, sizeof dir, "%s/m", tmp);
    snprintf(st, sizeof st, "%s/model.safetensors", dir);
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    copy_fixture("smollm2", dir);
    eef_model *m;
    assert_ok(eef_model_load(dir, &m));
    eef_model_free(m);
    size_t len;
    unsigned char *good = slurp(st, &len);
    uint64_t hlen;
    memcpy(&hlen, good, 8);
    /* truncated anywhere: in the length, the header, the data */
    const size_t cuts[] = { 0, 4, 8, 9, 8 + hlen / 2, 8 + hlen, 8 + hlen + 1, len / 2, len - 1 };
    for (size_t i = 0; i < EEF_ARRAY_LEN(cuts); i++) {
        spit(st, good, cuts[i]);
        expect_bad(dir, st, "");
    }
    /* a header length past the end, and absurd */
    unsigned char *bad = malloc(len);
    memcpy(bad, good, len);
    uint64_t big = len;
    memcpy(bad, &big, 8);
    spit(st, bad, len);
    expect_bad(dir, st, "runs past the end of the file");
    big = (uint64_t)1 << 62;
    memcpy(bad, &big, 8);
    spit(st, bad, len);
    expect_bad(dir, st, "runs past the end of the file");
    free(bad);
    /* header fields */
    struct {
        const char *from, *to, *what;
    } edits[] = {
        { "\"dtype\":\"F32\"", "\"dtype\":\"F31\"", "unknown dtype 'F31'" },
        { "\"dtype\":\"F32\"", "\"dtype\":\"I32\"", "is I32; eef reads F32, F16 and BF16" },
        { "\"data_offsets\":[0,", "\"data_offsets\":[4,", "span" },
        { "[48,24]", "[48,25]", "span" },
        { "[48,24]", "[24,48]", "has shape [24, 48], the config needs [48, 24]" },
        { "\"shape\":[48,24]", "\"shape\":[48,24,1]", "has shape [48, 24, 1]" },
        { "\"data_offsets\":[0,", "\"data_offsets\":[99999999,", "inside the data section" },
        { "model.norm.weight", "model.norm.weigh", "tensor 'model.norm.weight' missing" },
        { "model.norm.weight", "model.extra.weight", "missing" },
        { "{\"__metadata__\"", "[{\"__metadata__\"", "not a JSON object" },
        { "\"format\":\"pt\"", "\"format\":7", "__metadata__ value 'format' is not a string" },
        { "\"shape\":[48,24]", "\"shape\":[48,-24]", "shape entry 1" },
        { "\"shape\":[48,24]", "\"shape\":[48,1e300]", "shape entry 1" },
    };
    for (size_t i = 0; i < EEF_ARRAY_LEN(edits); i++) {
        spit(st, good, len);
        edit_header(st, edits[i].from, edits[i].to);
        expect_bad(dir, st, edits[i].what);
    }
    /* two tensors claiming the same bytes: the embedding's end moved into
     * the next tensor, with shapes to match */
    spit(st, good, len);
    {
        st_file f;
        assert_ok(st_parse(good, len, st, &f));
        const st_tensor *a = st_find(&f, "model.layers.0.mlp.down_proj.weight");
        char from[128], to[128];
        snprintf(from, sizeof from, "\"data_offsets\":[%llu,%llu]", (unsigned long long)a->begin,
                 (unsigned long long)a->end);
        snprintf(to, sizeof to, "\"data_offsets\":[%llu,%llu]", (unsigned long long)a->begin + 4,
                 (unsigned long long)a->end + 4);
        st_free(&f);
        edit_header(st, from, to);
        expect_bad(dir, st, "overlap");
    }
    /* an unexpected tensor */
    spit(st, good, len);
    edit_header(st, "\"__metadata__\":{\"format\":\"pt\"},",
                "\"__metadata__\":{\"format\":\"pt\"},\"model.layers.0.mlp.up_proj.bias\":"
                "{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},");
    expect_bad(dir, st, "is not part of a llama model");
    spit(st, good, len);
    free(good);

    /* config.json: values eef does not run, named */
    size_t clen;
    char *cgood = (char *)slurp(cfg, &clen);
    struct {
        const char *from, *to, *what;
    } cedits[] = {
        { "\"model_type\": \"llama\"", "\"model_type\": \"gpt2\"", "model_type 'gpt2' is not supported" },
        { "\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\"", "hidden_act 'gelu'" },
        { "\"rope_scaling\": null", "\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4}",
          "rope scaling type 'yarn' is not supported" },
        { "\"attention_bias\": false", "\"attention_bias\": true", "attention_bias true" },
        { "\"mlp_bias\": false", "\"mlp_bias\": true", "mlp_bias true" },
        { "\"num_key_value_heads\": 1", "\"num_key_value_heads\": 2", "does not divide" },
        { "\"hidden_size\": 24,", "", "field 'hidden_size' missing" },
        { "\"hidden_size\": 24", "\"hidden_size\": 24.5", "must be an integer" },
        { "\"LlamaForCausalLM\"", "\"LlamaForTokenClassification\"", "architectures must be" },
        { "{", "{\"quantization_config\": {\"quant_method\": \"gptq\"}, ", "quantization_config" },
        { "{", "{\"partial_rotary_factor\": 0.5, ", "partial_rotary_factor" },
        { "\"vocab_size\": 48", "\"vocab_size\": 47", "has shape [48, 24], the config needs [47, 24]" },
        { "\"intermediate_size\": 64", "\"intermediate_size\": 64,,", "malformed JSON" },
    };
    for (size_t i = 0; i < EEF_ARRAY_LEN(cedits); i++) {
        spit(cfg, cgood, clen);
        edit_text(cfg, cedits[i].from, cedits[i].to);
        /* shape complaints name the weights' file, the rest config.json */
        expect_bad(dir, strstr(cedits[i].what, "has shape") ? st : cfg, cedits[i].what);
    }
    spit(cfg, cgood, clen);
    free(cgood);
    /* qwen: a sliding window */
    copy_fixture("qwen25", dir);
    edit_text(cfg, "\"use_sliding_window\": false", "\"use_sliding_window\": true");
    expect_bad(dir, cfg, "use_sliding_window true is not supported");
    /* shards: the index names a file that is not there, or outside the directory */
    copy_fixture("llama32", dir);
    char idx[700], shard[700];
    snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", dir);
    snprintf(shard, sizeof shard, "%s/model-00002-of-00002.safetensors", dir);
    assert_ok(eef_model_load(dir, &m));
    eef_model_free(m);
    edit_text(idx, "\"model.norm.weight\": \"model-00002-of-00002.safetensors\"",
              "\"model.norm.weight\": \"../model-00002-of-00002.safetensors\"");
    expect_bad(dir, idx, "is not a file of the directory");
    copy_fixture("llama32", dir);
    edit_text(idx, "\"model.norm.weight\": \"model-00002-of-00002.safetensors\"",
              "\"model.norm.weight\": \"model-00001-of-00002.safetensors\"");
    expect_bad(dir, idx, "tensor 'model.norm.weight' is not in model-00001-of-00002.safetensors");
    copy_fixture("llama32", dir);
    unlink(shard);
    {
        eef_model *mm = NULL;
        eef_err e = eef_model_load(dir, &mm);
        assert_int_not_equal(e, EEF_OK);
        assert_true(strncmp(eef_errmsg(), shard, strlen(shard)) == 0);
    }
    /* a directory that is not a model */
    snprintf(dir, sizeof dir, "%s/empty", tmp);
    assert_int_equal(tu_sh("mkdir -p '%s'", dir), 0);
    expect_bad(dir, dir, "no config.json");
    tu_rmtree(tmp);
}

/* The header's overlap check sees past empty tensors, and offsets are
 * checked before anything is sized by them. */
static void test_safetensors_header(void **state)
{
    (void)state;
    const char *hdr = "{\"a\":{\"dtype\":\"F32\",\"shape\":[25],\"data_offsets\":[0,100]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[10,10]},"
                      "\"c\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[20,28]}}";
    size_t hl = strlen(hdr), len = 8 + hl + 100;
    unsigned char *f = calloc(1, len);
    uint64_t h64 = hl;
    memcpy(f, &h64, 8);
    memcpy(f + 8, hdr, hl);
    st_file st;
    assert_int_equal(st_parse(f, len, "x.safetensors", &st), EEF_EFORMAT);
    assert_non_null(strstr(eef_errmsg(), "x.safetensors: tensors 'a' and 'c' overlap"));
    /* without c it is valid; the empty tensor is fine */
    const char *ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[25],\"data_offsets\":[0,100]},"
                     "\"b\":{\"dtype\":\"BF16\",\"shape\":[0,7],\"data_offsets\":[10,10]}}    ";
    hl = strlen(ok), len = 8 + hl + 100;
    free(f);
    f = calloc(1, len);
    h64 = hl;
    memcpy(f, &h64, 8);
    memcpy(f + 8, ok, hl);
    assert_ok(st_parse(f, len, "y.safetensors", &st));
    assert_int_equal(st.n, 2);
    assert_non_null(st_find(&st, "b"));
    assert_int_equal(st_find(&st, "b")->dtype, EEF_DT_BF16);
    assert_null(st_find(&st, "c"));
    st_free(&st);
    /* a duplicate name */
    const char *dup = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                      "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
    hl = strlen(dup), len = 8 + hl + 8;
    free(f);
    f = calloc(1, len);
    h64 = hl;
    memcpy(f, &h64, 8);
    memcpy(f + 8, dup, hl);
    assert_int_equal(st_parse(f, len, "z.safetensors", &st), EEF_EFORMAT);
    assert_non_null(strstr(eef_errmsg(), "appears twice"));
    /* a shape whose element count overflows 64 bits */
    const char *huge = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],"
                       "\"data_offsets\":[0,0]}}";
    hl = strlen(huge), len = 8 + hl;
    free(f);
    f = calloc(1, len);
    h64 = hl;
    memcpy(f, &h64, 8);
    memcpy(f + 8, huge, hl);
    assert_int_equal(st_parse(f, len, "w.safetensors", &st), EEF_EFORMAT);
    free(f);
}

/* `eef generate` and `eef export --format hf` on a directory. */
static void test_cli(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir(), out[600], err[600];
    snprintf(out, sizeof out, "%s/out.txt", tmp);
    snprintf(err, sizeof err, "%s/err.txt", tmp);
    assert_int_equal(tu_sh("%s generate --model " FIX "/smollm2 --ids 1,5,7 --max 4 --temp 0 "
                           ">%s 2>%s", tu_eef(), out, err), 0);
    /* greedy: the ids must be the model's argmax continuation */
    eef_model *m;
    assert_ok(eef_model_load(FIX "/smollm2", &m));
    eef_kv *kv;
    assert_ok(eef_kv_new(m, 0, &kv));
    int ids[8] = { 1, 5, 7 }, *gen = NULL;
    size_t n = 0, cap = 0;
    eef_sampling s = { 0 };
    assert_ok(eef_generate(kv, ids, 3, 4, &s, m->meta.eos_ids, m->meta.n_eos, NULL, &gen, &n, &cap));
    char want[128] = "";
    for (size_t i = 0; i < n; i++) snprintf(want + strlen(want), sizeof want - strlen(want), "%s%d", i ? "," : "", gen[i]);
    assert_true(tu_file_contains(out, want));
    free(gen);
    eef_kv_free(kv);
    eef_model_free(m);
    /* without a tokenizer, text prompts are refused by name */
    assert_int_equal(tu_sh("%s generate --model " FIX "/smollm2 --prompt hi >/dev/null 2>%s", tu_eef(), err), 1);
    assert_true(tu_file_contains(err, "has no tokenizer: give the prompt as --ids"));
    /* a damaged directory: file: reason, exit 1 */
    char dir[600];
    snprintf(dir, sizeof dir, "%s/bad", tmp);
    copy_fixture("smollm2", dir);
    assert_int_equal(tu_sh("truncate -s 100 %s/model.safetensors", dir), 0);
    assert_int_equal(tu_sh("%s generate --model %s --ids 1 >/dev/null 2>%s", tu_eef(), dir, err), 1);
    char msg[700];
    snprintf(msg, sizeof msg, "%s/model.safetensors: header length", dir);
    assert_true(tu_file_contains(err, msg));
    /* export an imported model to a directory and generate from it */
    snprintf(dir, sizeof dir, "%s/exported", tmp);
    assert_int_equal(tu_sh("%s export --format hf " FIX "/smollm2 %s 2>%s", tu_eef(), dir, err), 0);
    assert_int_equal(tu_sh("%s generate --model %s --ids 1,5,7 --max 4 --temp 0 >%s 2>%s",
                           tu_eef(), dir, out, err), 0);
    assert_true(tu_file_contains(out, want));
    tu_rmtree(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_configs),   cmocka_unit_test(test_logits),
        cmocka_unit_test(test_kv_growth), cmocka_unit_test(test_trie_gqa),
        cmocka_unit_test(test_bf16_decode), cmocka_unit_test(test_grads),
        cmocka_unit_test(test_roundtrip), cmocka_unit_test(test_eefm),
        cmocka_unit_test(test_damaged),
        cmocka_unit_test(test_safetensors_header), cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests_name("hf", tests, NULL, NULL);
}

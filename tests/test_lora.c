/* LoRA adapters (src/nn/lora.c) and the training memory they and full
 * fine-tuning need (src/nn/train_mem.c, activation checkpointing in
 * src/nn/train.c).
 *
 * The adapters' backward pass is checked by finite differences through
 * the whole model (every Llama-family feature on, f32 and bf16 bases),
 * along one random direction per target and one over all adapters, with
 * Richardson extrapolation as in test_nn_grad.c: tolerance 3e-3 relative
 * + 2e-4 absolute (the float noise of the differences is ~1e-4; the
 * directions are not stretched where the derivative is small, as
 * test_nn_grad.c does, because the loss curves sharply along some
 * adapters (q/k's B through the head norms) and a longer step leaves the
 * range where the extrapolation holds; SHOW=1 prints each).
 * Because some of these derivatives are small, the gradients are also
 * checked element by element against an exact identity: with
 * W' = W + s B A, dL/dB = s G A^T and dL/dA = s B^T G for G = dL/dW' from
 * the full backward pass of the merged model (itself FD-checked in
 * test_nn_grad.c), to float rounding (1e-3 of each matrix's largest).
 */
#include "testutil.h"

#include <omp.h>

#include "nn/nn_internal.h"


static eef_rng rng;

static void fill(float *p, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++) p[i] = scale * eef_rng_normal(&rng);
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* variant 0: eef's own architecture (pair rotary layout); 1: grouped-query
 * attention 6:2, head_dim 6, q/k/v biases, q/k norms, llama3 rope scaling,
 * rotate_half */
static eef_model *tiny_model(int variant, int tied)
{
    eef_model_config c;
    assert_ok(eef_model_preset("tiny", 40, &c));
    c.d_model = 16, c.n_heads = 2, c.d_ff = 24, c.max_ctx = 32, c.tied = tied;
    if (variant) {
        c.n_heads = 6, c.n_kv_heads = 2, c.head_dim = 6, c.qkv_bias = 1, c.qk_norm = 1;
        c.rope_layout = EEF_ROPE_HALF;
        c.rope_scaling = (eef_rope_scaling){ 8, 1, 4, 24 };
    }
    eef_model *m;
    assert_ok(eef_model_new(&c, NULL, 3, &m));
    for (int i = 0; i < c.n_layers * c.d_model; i++) {
        m->w.attn_norm[i] += 0.1f * eef_rng_normal(&rng);
        m->w.mlp_norm[i] += 0.1f * eef_rng_normal(&rng);
    }
    const eef_model_config *rc = &m->cfg;
    const int W = (rc->n_heads + 2 * rc->n_kv_heads) * rc->head_dim;
    for (int i = 0; rc->qkv_bias && i < rc->n_layers * W; i++) m->w.bqkv[i] = 0.1f * eef_rng_normal(&rng);
    return m;
}

static void make_batch(eef_batch *b)
{
    assert_ok(eef_batch_alloc(b, 2, 14));
    int s1[9], s2[6], s3[12];
    float m1[9], m2[6], m3[12];
    for (int i = 0; i < 9; i++) s1[i] = (i * 7 + 3) % 40, m1[i] = i % 3 != 0;
    for (int i = 0; i < 6; i++) s2[i] = (i * 11 + 5) % 40, m2[i] = 1;
    for (int i = 0; i < 12; i++) s3[i] = (i * 13 + 1) % 40, m3[i] = i > 4;
    eef_seq seqs[3] = { { s1, m1, 9 }, { s2, m2, 6 }, { s3, m3, 12 } };
    size_t next = 0;
    eef_batch_pack(b, seqs, 3, &next);
    assert_int_equal(next, 3);
}

/* Adapters with B != 0 (a fresh B = 0 would hide errors in dA). */
static eef_lora *random_lora(const eef_model *m, unsigned targets, int rank)
{
    eef_lora_config lc = { rank, 2.0f * rank, targets };
    eef_lora *a;
    assert_ok(eef_lora_new(&m->cfg, &lc, 5, &a));
    for (int l = 0; l < a->n_layers; l++)
        for (int t = 0; t < EEF_LORA_N; t++) {
            const eef_lora_mat *mt = &a->mat[l * EEF_LORA_N + t];
            if (mt->in) fill(a->params + mt->b, (size_t)mt->out * rank, 0.15f);
        }
    return a;
}

/* ---------------------------------------------------------------- FD */
static void check_lora_grad(int variant, eef_dtype base)
{
    eef_model *m = tiny_model(variant, 0);
    if (base != EEF_DT_F32) assert_ok(eef_model_freeze(m, base));
    eef_lora *a = random_lora(m, EEF_LORA_ALL, 3);
    assert_ok(eef_lora_attach(m, a));
    eef_batch b;
    make_batch(&b);
    double loss;
    eef_model_zero_grad(m);
    assert_ok(eef_model_forward(m, &b, NULL, &loss));
    assert_ok(eef_model_backward(m, 1.0f));
    /* the frozen base gets no gradient buffer at all */
    assert_null(m->grads);
    float *dir = malloc(a->n_params * sizeof(float));
    for (int k = 0; k <= EEF_LORA_N * 2; k++) { /* A of t, B of t, ..., then all */
        memset(dir, 0, a->n_params * sizeof(float));
        if (k == EEF_LORA_N * 2) fill(dir, a->n_params, 1);
        for (int l = 0; k < EEF_LORA_N * 2 && l < a->n_layers; l++) {
            const eef_lora_mat *mt = &a->mat[l * EEF_LORA_N + k / 2];
            size_t n = (size_t)a->cfg.rank * (k % 2 ? mt->out : mt->in);
            fill(dir + (k % 2 ? mt->b : mt->a), n, 1);
        }
        double an = dot(dir, a->grads, a->n_params);
        double fdh[2];
        for (int k2 = 0; k2 < 2; k2++) {
            const float h = k2 ? 1e-3f : 2e-3f;
            double lp, lm;
            for (size_t i = 0; i < a->n_params; i++) a->params[i] += h * dir[i];
            assert_ok(eef_model_forward(m, &b, NULL, &lp));
            for (size_t i = 0; i < a->n_params; i++) a->params[i] -= 2 * h * dir[i];
            assert_ok(eef_model_forward(m, &b, NULL, &lm));
            for (size_t i = 0; i < a->n_params; i++) a->params[i] += h * dir[i];
            fdh[k2] = (lp - lm) / (2 * h);
        }
        double fd = (4 * fdh[1] - fdh[0]) / 3;
        if (getenv("SHOW")) fprintf(stderr, "    fdh %.7g %.7g\n", fdh[0], fdh[1]);
        double tol = 3e-3 * fmax(fabs(fd), fabs(an)) + 1e-4;
        const char *what = k == EEF_LORA_N * 2 ? "all" : eef_lora_module_name(k / 2);
        if (getenv("SHOW"))
            fprintf(stderr, "  %s.%c: fd %.7g an %.7g rel %.2e\n", what, k % 2 ? 'B' : 'A', fd, an,
                    fabs(fd - an) / fmax(fabs(fd), 1e-12));
        if (fabs(fd - an) > tol)
            fail_msg("LoRA %s.lora_%c (variant %d, %s base): finite difference %.6g, backward %.6g",
                     what, k % 2 ? 'B' : 'A', variant, eef_dtype_name(base), fd, an);
    }
    free(dir);
    eef_batch_free(&b);
    eef_model_free(m);
    eef_lora_free(a);
}

/* dL/dA and dL/dB against the full backward of the merged model. */
static void check_lora_identity(int variant)
{
    eef_model *m = tiny_model(variant, variant), *merged = tiny_model(variant, variant);
    memcpy(merged->params, m->params, m->n_params * sizeof(float));
    eef_lora *a = random_lora(m, EEF_LORA_ALL, 3);
    eef_batch b;
    make_batch(&b);
    double l1, l2;
    assert_ok(eef_lora_attach(m, a));
    eef_model_zero_grad(m);
    assert_ok(eef_model_forward(m, &b, NULL, &l1));
    assert_ok(eef_model_backward(m, 1.0f));
    assert_ok(eef_lora_merge(merged, a));
    eef_model_zero_grad(merged);
    assert_ok(eef_model_forward(merged, &b, NULL, &l2));
    assert_ok(eef_model_backward(merged, 1.0f));
    assert_true(fabs(l1 - l2) < 1e-5);
    const int r = a->cfg.rank;
    const float s = a->scale;
    for (int l = 0; l < a->n_layers; l++) {
        const eef_layer_weights *w = &merged->layer[l];
        const eef_tensor *W[EEF_LORA_N] = { &w->wq, &w->wk, &w->wv, &w->wo, &w->w1, &w->w3, &w->w2 };
        for (int t = 0; t < EEF_LORA_N; t++) {
            const eef_lora_mat *mt = &a->mat[l * EEF_LORA_N + t];
            const float *G = merged->grads + ((const float *)W[t]->data - merged->params);
            const float *A = a->params + mt->a, *B = a->params + mt->b;
            const float *gA = a->grads + mt->a, *gB = a->grads + mt->b;
            double mxa = 0, mxb = 0, ea = 0, eb = 0;
            for (int k = 0; k < r; k++)
                for (int i = 0; i < mt->in; i++) { /* s (B^T G)[k, i] */
                    double x = 0;
                    for (int o = 0; o < mt->out; o++) x += (double)B[o * r + k] * G[(size_t)o * mt->in + i];
                    x *= s;
                    mxa = fmax(mxa, fabs(x)), ea = fmax(ea, fabs(x - gA[k * mt->in + i]));
                }
            for (int o = 0; o < mt->out; o++)
                for (int k = 0; k < r; k++) { /* s (G A^T)[o, k] */
                    double x = 0;
                    for (int i = 0; i < mt->in; i++) x += (double)G[(size_t)o * mt->in + i] * A[k * mt->in + i];
                    x *= s;
                    mxb = fmax(mxb, fabs(x)), eb = fmax(eb, fabs(x - gB[o * r + k]));
                }
            assert_true(mxa > 0 && mxb > 0);
            if (ea > 1e-3 * mxa + 1e-7 || eb > 1e-3 * mxb + 1e-7)
                fail_msg("layer %d %s (variant %d): |dA - s B^T G| = %.3g of %.3g, |dB - s G A^T| = "
                         "%.3g of %.3g", l, eef_lora_module_name(t), variant, ea, mxa, eb, mxb);
        }
    }
    eef_batch_free(&b);
    eef_model_free(m);
    eef_model_free(merged);
    eef_lora_free(a);
}

static void test_lora_grad(void **state)
{
    (void)state;
    check_lora_grad(0, EEF_DT_F32);
    check_lora_grad(1, EEF_DT_F32);
    check_lora_grad(1, EEF_DT_BF16);
    check_lora_identity(0);
    check_lora_identity(1);
}

/* A subset of targets: the others get no adapter and no slot. */
static void test_lora_targets(void **state)
{
    (void)state;
    unsigned t;
    assert_ok(eef_lora_parse_targets("q,v,down", &t));
    assert_int_equal(t, (1u << EEF_LORA_Q) | (1u << EEF_LORA_V) | (1u << EEF_LORA_DOWN));
    assert_ok(eef_lora_parse_targets("all", &t));
    assert_int_equal(t, EEF_LORA_ALL);
    assert_ok(eef_lora_parse_targets("gate_proj,up", &t));
    assert_int_equal(t, (1u << EEF_LORA_GATE) | (1u << EEF_LORA_UP));
    assert_int_equal(eef_lora_parse_targets("q,attn", &t), EEF_EINVAL);
    assert_int_equal(eef_lora_parse_targets("", &t), EEF_EINVAL);
    eef_model *m = tiny_model(1, 1);
    eef_lora *a = random_lora(m, (1u << EEF_LORA_Q) | (1u << EEF_LORA_V), 2);
    const eef_model_config *c = &m->cfg;
    size_t per = 2 * (size_t)(c->d_model + c->n_heads * c->head_dim) +
                 2 * (size_t)(c->d_model + c->n_kv_heads * c->head_dim);
    assert_int_equal(a->n_params, per * c->n_layers);
    assert_int_equal(nn_lora_slot(a, EEF_LORA_Q), 0);
    assert_int_equal(nn_lora_slot(a, EEF_LORA_K), -1);
    assert_int_equal(nn_lora_slot(a, EEF_LORA_V), 1);
    /* the train step moves the adapters, never the base */
    float *base = malloc(m->n_params * sizeof(float));
    memcpy(base, m->params, m->n_params * sizeof(float));
    float *before = malloc(a->n_params * sizeof(float));
    memcpy(before, a->params, a->n_params * sizeof(float));
    eef_adamw_config oc;
    eef_adamw_defaults(&oc);
    eef_adamw *opt;
    assert_ok(eef_adamw_new(&oc, eef_train_n_params(m, a), &opt));
    eef_batch b;
    make_batch(&b);
    double loss, gn;
    assert_ok(eef_train_step(m, a, opt, &b, &loss, &gn));
    assert_true(gn > 0);
    assert_null(m->lora); /* attached for the step only */
    assert_memory_equal(base, m->params, m->n_params * sizeof(float));
    assert_memory_not_equal(before, a->params, a->n_params * sizeof(float));
    /* an optimizer of the wrong size is refused */
    eef_adamw *wrong;
    assert_ok(eef_adamw_new(&oc, m->n_params, &wrong));
    assert_int_equal(eef_train_step(m, a, wrong, &b, &loss, &gn), EEF_EINVAL);
    eef_adamw_free(wrong);
    eef_adamw_free(opt);
    free(base);
    free(before);
    eef_batch_free(&b);
    eef_model_free(m);
    eef_lora_free(a);
}

/* ---------------------------------------------------------------- forward */
static float *all_logits(eef_model *m, const eef_batch *b)
{
    float *lg = malloc((size_t)b->B * b->T * m->cfg.vocab * sizeof(float));
    double loss;
    assert_ok(eef_model_forward(m, b, lg, &loss));
    return lg;
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

/* A new adapter (B = 0) leaves the model's output the same bits; the KV
 * cache with adapters attached agrees with the training forward; merging
 * gives the same logits as base + adapters. */
static void test_lora_forward_merge(void **state)
{
    (void)state;
    for (int variant = 0; variant < 2; variant++) {
        eef_model *m = tiny_model(variant, variant);
        eef_batch b;
        make_batch(&b);
        size_t nl = (size_t)b.B * b.T * m->cfg.vocab;
        float *base = all_logits(m, &b);
        eef_lora_config lc;
        eef_lora_defaults(&lc);
        eef_lora *fresh;
        assert_ok(eef_lora_new(&m->cfg, &lc, 9, &fresh));
        assert_ok(eef_lora_attach(m, fresh));
        float *same = all_logits(m, &b);
        assert_memory_equal(base, same, nl * sizeof(float));
        eef_lora *a = random_lora(m, EEF_LORA_ALL, 4);
        assert_ok(eef_lora_attach(m, a));
        float *with = all_logits(m, &b);
        assert_true(max_diff(base, with, nl) > 1e-3); /* the adapters do something */
        /* the KV cache (layer.c's scratch path) on the first row's first segment */
        int seg = 1;
        while (seg < b.T && b.pos[seg] != 0) seg++;
        eef_kv *kv;
        assert_ok(eef_kv_new(m, 32, &kv));
        float *last = malloc(m->cfg.vocab * sizeof(float));
        assert_ok(eef_kv_feed(kv, b.tokens, seg, last));
        assert_true(max_diff(last, with + (size_t)(seg - 1) * m->cfg.vocab, m->cfg.vocab) < 1e-4);
        eef_kv_free(kv);
        /* merged */
        assert_ok(eef_lora_merge(m, a));
        assert_null(m->lora);
        float *merged = all_logits(m, &b);
        assert_true(max_diff(with, merged, nl) < 1e-4);
        free(last);
        free(base);
        free(same);
        free(with);
        free(merged);
        eef_batch_free(&b);
        eef_model_free(m);
        eef_lora_free(a);
        eef_lora_free(fresh);
    }
    /* merging into a frozen bf16 base: a bf16 copy (rounded), close */
    eef_model *m = tiny_model(1, 0);
    assert_ok(eef_model_freeze(m, EEF_DT_BF16));
    eef_batch b;
    make_batch(&b);
    eef_lora *a = random_lora(m, EEF_LORA_ALL, 2);
    assert_ok(eef_lora_attach(m, a));
    float *with = all_logits(m, &b);
    assert_ok(eef_lora_merge(m, a));
    assert_int_equal(m->layer[0].wq.dtype, EEF_DT_BF16);
    float *merged = all_logits(m, &b);
    assert_true(max_diff(with, merged, (size_t)b.B * b.T * m->cfg.vocab) < 2e-2);
    free(with);
    free(merged);
    eef_batch_free(&b);
    eef_model_free(m);
    eef_lora_free(a);
}

/* ---------------------------------------------------------------- bf16 products */
static uint16_t to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16); /* nearest, ties to even */
}

static double of_bf16(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* nn_bf16mm against the double product of the operands rounded to bf16:
 * x W^T and x W with W bf16 or f32, odd K, widths off the 8 x 32 tile,
 * strided rows, beta; then each row alone and at one thread, bit for bit
 * (every output is one sum in one lane); and nn_bf16mm_grad the same way. */
static void test_bf16_kernel(void **state)
{
    (void)state;
    if (!nn_bf16mm_ok()) {
        print_message("no AVX-512 BF16 on this CPU: the bf16 products are not used, not checked\n");
        return;
    }
    const int shapes[][3] = { { 37, 61, 45 }, { 70, 128, 96 }, { 9, 1, 33 }, { 1, 300, 17 } }; /* N, K, NO */
    for (size_t si = 0; si < EEF_ARRAY_LEN(shapes); si++)
        for (int v = 0; v < 8; v++) {
            const int trans = v & 1, f32 = v >> 2 & 1;
            const float beta = v & 2 ? 0.5f : 0.0f;
            const int N = shapes[si][0], K = shapes[si][1], NO = shapes[si][2], ldx = K + 3, ldy = NO + 5;
            uint16_t *wb = malloc(sizeof *wb * (size_t)K * NO);
            float *wf = malloc(sizeof *wf * (size_t)K * NO);
            float *x = malloc(sizeof *x * (size_t)N * ldx), *y0 = malloc(sizeof *y0 * (size_t)N * ldy);
            float *y = malloc(sizeof *y * (size_t)N * ldy), *y1 = malloc(sizeof *y1 * (size_t)N * ldy);
            for (size_t i = 0; i < (size_t)K * NO; i++) {
                wf[i] = 0.1f * eef_rng_normal(&rng);
                wb[i] = to_bf16(wf[i]);
            }
            for (size_t i = 0; i < (size_t)N * ldx; i++) x[i] = eef_rng_normal(&rng) * (i % 53 == 7 ? 30.0f : 1.0f);
            for (size_t i = 0; i < (size_t)N * ldy; i++) y0[i] = eef_rng_normal(&rng);
            const void *w = f32 ? (const void *)wf : (const void *)wb;
            const eef_dtype dt = f32 ? EEF_DT_F32 : EEF_DT_BF16;
            memcpy(y, y0, sizeof *y * (size_t)N * ldy);
            assert_ok(nn_bf16mm(y, ldy, x, ldx, w, dt, trans, K, NO, N, beta));
            for (int n = 0; n < N; n++)
                for (int o = 0; o < NO; o++) {
                    double ref = beta * (double)y0[(size_t)n * ldy + o], mag = fabs(ref);
                    for (int k = 0; k < K; k++) {
                        double t = of_bf16(to_bf16(x[(size_t)n * ldx + k])) *
                                   of_bf16(wb[trans ? (size_t)o * K + k : (size_t)k * NO + o]);
                        ref += t, mag += fabs(t);
                    }
                    if (fabs(y[(size_t)n * ldy + o] - ref) > 1e-7 * K * mag + 1e-30)
                        fail_msg("bf16 %d x %d x %d (W %s, trans %d, beta %g) [%d, %d]: %.8g, reference %.8g", N,
                                 K, NO, eef_dtype_name(dt), trans, beta, n, o, y[(size_t)n * ldy + o], ref);
                }
            /* the padding between rows untouched */
            for (int n = 0; n < N; n++)
                assert_memory_equal(y + (size_t)n * ldy + NO, y0 + (size_t)n * ldy + NO, 5 * sizeof *y);
            const int r = N / 2;
            memcpy(y1, y0 + (size_t)r * ldy, sizeof *y1 * (size_t)ldy);
            assert_ok(nn_bf16mm(y1, ldy, x + (size_t)r * ldx, ldx, w, dt, trans, K, NO, 1, beta));
            assert_memory_equal(y1, y + (size_t)r * ldy, sizeof *y1 * (size_t)NO);
            const int threads = omp_get_max_threads();
            omp_set_num_threads(1);
            memcpy(y1, y0, sizeof *y1 * (size_t)N * ldy);
            assert_ok(nn_bf16mm(y1, ldy, x, ldx, w, dt, trans, K, NO, N, beta));
            omp_set_num_threads(threads);
            assert_memory_equal(y1, y, sizeof *y1 * (size_t)N * ldy);
            /* dw [NO, K] += dy^T x over N rows: dy is y0 (N x NO, ldy), x (N x K, ldx) */
            if (trans) {
                float *dw = malloc(sizeof *dw * (size_t)NO * K), *dw0 = malloc(sizeof *dw0 * (size_t)NO * K);
                for (size_t i = 0; i < (size_t)NO * K; i++) dw0[i] = dw[i] = wf[i];
                assert_ok(nn_bf16mm_grad(dw, y0, ldy, x, ldx, N, NO, K));
                for (int o = 0; o < NO; o++)
                    for (int k = 0; k < K; k++) {
                        double ref = dw0[(size_t)o * K + k], mag = fabs(ref);
                        for (int n = 0; n < N; n++) {
                            double t = of_bf16(to_bf16(y0[(size_t)n * ldy + o])) * of_bf16(to_bf16(x[(size_t)n * ldx + k]));
                            ref += t, mag += fabs(t);
                        }
                        if (fabs(dw[(size_t)o * K + k] - ref) > 1e-7 * (N + 1) * mag + 1e-30)
                            fail_msg("bf16 grad %d x %d over %d [%d, %d]: %.8g, reference %.8g", NO, K, N, o, k,
                                     dw[(size_t)o * K + k], ref);
                    }
                free(dw), free(dw0);
            }
            free(wb), free(wf), free(x), free(y0), free(y), free(y1);
        }
}

/* A LoRA step over a bf16 base with the products in bf16 against the
 * same step widening the base to f32, and a full fine-tuning step in
 * mixed precision against f32: the loss and the gradients close (bf16
 * rounds x to 8 bits of mantissa), and turned off, the f32 step's bits
 * again. */
static void test_bf16_products_step(void **state)
{
    (void)state;
    for (int v = 0; v < 4; v++) {
        const int variant = v & 1, full = v >> 1;
        eef_model *m = tiny_model(variant, variant);
        eef_lora *a = NULL;
        if (!full) {
            assert_ok(eef_model_freeze(m, EEF_DT_BF16));
            a = random_lora(m, EEF_LORA_ALL, 3);
            assert_ok(eef_lora_attach(m, a));
        }
        eef_batch b;
        assert_ok(eef_batch_alloc(&b, 3, 24)); /* 72 rows: the forward products too (over 32) */
        for (int i = 0; i < 3 * 24; i++) {
            b.tokens[i] = (i * 7 + 3) % 40, b.targets[i] = (i * 11 + 5) % 40;
            b.pos[i] = i % 24, b.mask[i] = i % 3 != 0;
        }
        double loss[3];
        float *g[3] = { NULL, NULL, NULL };
        size_t n = 0;
        for (int k = 0; k < 3; k++) { /* off, on, off */
            if (k == 1 && !eef_model_bf16_products(m, 1)) {
                print_message("no AVX-512 BF16 on this CPU: the bf16 step is not checked\n");
                break;
            }
            if (k == 2) assert_int_equal(eef_model_bf16_products(m, 0), 0);
            if (full) eef_model_zero_grad(m);
            else memset(a->grads, 0, a->n_params * sizeof *a->grads);
            assert_ok(eef_model_forward(m, &b, NULL, &loss[k]));
            assert_ok(eef_model_backward(m, 1.0f));
            const float *grads = full ? m->grads : a->grads;
            n = full ? m->n_params : a->n_params;
            g[k] = malloc(n * sizeof *g[k]);
            memcpy(g[k], grads, n * sizeof *g[k]);
        }
        if (g[1]) {
            assert_true(fabs(loss[1] - loss[0]) < 1e-2 * fabs(loss[0]));
            assert_true(loss[1] != loss[0]); /* the products did change */
            double d = 0, n0 = 0;
            for (size_t i = 0; i < n; i++)
                d += ((double)g[1][i] - g[0][i]) * ((double)g[1][i] - g[0][i]), n0 += (double)g[0][i] * g[0][i];
            if (!(sqrt(d) < 3e-2 * sqrt(n0)))
                fail_msg("variant %d (%s): bf16 gradients %.3g (relative) from f32", variant, full ? "full" : "LoRA",
                         sqrt(d / n0));
            assert_true(loss[2] == loss[0]);
            assert_memory_equal(g[2], g[0], n * sizeof *g[0]);
        }
        for (int k = 0; k < 3; k++) free(g[k]);
        eef_batch_free(&b);
        eef_model_free(m);
        eef_lora_free(a);
    }
}

/* ---------------------------------------------------------------- PEFT files */
static int bin_contains(const char *path, const char *what)
{
    char *data;
    size_t len;
    assert_ok(eef_read_file(path, &data, &len));
    int found = memmem(data, len, what, strlen(what)) != NULL;
    free(data);
    return found;
}

static void test_lora_save_load(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir(), dir[600], p[700];
    for (int variant = 0; variant < 2; variant++) {
        eef_model *m = tiny_model(variant, 0);
        eef_lora *a = random_lora(m, (1u << EEF_LORA_Q) | (1u << EEF_LORA_K) | (1u << EEF_LORA_DOWN), 3);
        snprintf(dir, sizeof dir, "%s/ad%d", tmp, variant);
        assert_ok(eef_lora_save(a, &m->cfg, "some/base", dir));
        snprintf(p, sizeof p, "%s/adapter_config.json", dir);
        assert_true(tu_file_contains(p, "\"peft_type\": \"LORA\""));
        assert_true(tu_file_contains(p, "\"lora_alpha\": 6"));
        assert_true(tu_file_contains(p, "\"down_proj\""));
        assert_true(tu_file_lacks(p, "\"v_proj\""));
        snprintf(p, sizeof p, "%s/adapter_model.safetensors", dir);
        assert_true(bin_contains(p, "\"base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight\""));
        assert_true(bin_contains(p, "\"base_model.model.model.layers.0.mlp.down_proj.lora_A.weight\""));
        assert_false(bin_contains(p, "v_proj"));
        eef_lora *b;
        assert_ok(eef_lora_load(dir, &m->cfg, &b));
        assert_int_equal(b->n_params, a->n_params);
        assert_int_equal(b->cfg.targets, a->cfg.targets);
        assert_true(b->cfg.alpha == a->cfg.alpha && b->cfg.rank == a->cfg.rank);
        assert_memory_equal(a->params, b->params, a->n_params * sizeof(float));
        eef_lora_free(b);
        eef_lora_free(a);
        eef_model_free(m);
    }
    /* eef's pair layout: q/k's B rows are saved in HF order, so the file
     * differs from the in-memory rows; a rotate_half model's are as they are */
    {
        eef_model *m = tiny_model(0, 0);
        eef_lora *a = random_lora(m, 1u << EEF_LORA_Q, 1);
        snprintf(dir, sizeof dir, "%s/pairs", tmp);
        assert_ok(eef_lora_save(a, &m->cfg, NULL, dir));
        snprintf(p, sizeof p, "%s/adapter_model.safetensors", dir);
        char *data;
        size_t len;
        assert_ok(eef_read_file(p, &data, &len));
        uint64_t hl;
        memcpy(&hl, data, 8);
        /* the first tensor by name order is layers.0 ... lora_A, then lora_B */
        const float *fB = (const float *)(data + 8 + hl) + a->mat[0].in;
        const float *mB = a->params + a->mat[0].b;
        int hd = m->cfg.head_dim;
        assert_true(fB[1] == mB[2]); /* HF row 1 <- pair row 2 */
        assert_true(fB[hd / 2] == mB[1]);
        free(data);
        eef_lora_free(a);
        eef_model_free(m);
    }
    /* refused: wrong shapes for this model, bad config, missing tensors */
    eef_model *m = tiny_model(0, 0), *other = tiny_model(1, 0);
    snprintf(dir, sizeof dir, "%s/ad0", tmp);
    eef_lora *b = NULL;
    assert_int_equal(eef_lora_load(dir, &other->cfg, &b), EEF_EINVAL);
    assert_non_null(strstr(eef_errmsg(), "should be ["));
    snprintf(p, sizeof p, "%s/adapter_config.json", dir);
    const char *bad[][2] = {
        { "{\"peft_type\": \"IA3\", \"r\": 3, \"lora_alpha\": 6, \"target_modules\": [\"q_proj\"]}", "not LORA" },
        { "{\"peft_type\": \"LORA\", \"r\": 3, \"lora_alpha\": 6, \"use_dora\": true, \"target_modules\": [\"q_proj\"]}", "use_dora" },
        { "{\"peft_type\": \"LORA\", \"r\": 3, \"lora_alpha\": 6, \"target_modules\": [\"qkv\"]}", "qkv" },
        { "{\"peft_type\": \"LORA\", \"r\": 0, \"lora_alpha\": 6, \"target_modules\": [\"q_proj\"]}", "out of range" },
        /* v_proj is in the config but not in the file */
        { "{\"peft_type\": \"LORA\", \"r\": 3, \"lora_alpha\": 6, \"target_modules\": [\"q_proj\", \"k_proj\", \"v_proj\", \"down_proj\"]}", "v_proj.lora_A.weight is missing" },
        /* down_proj is in the file but not in the config */
        { "{\"peft_type\": \"LORA\", \"r\": 3, \"lora_alpha\": 6, \"target_modules\": [\"q_proj\", \"k_proj\"]}", "not among" },
        { "{\"peft_type\": \"LORA\", \"r\": 3, \"lora_alpha\": 6, \"target_modules\": [\"q_proj\", \"k_proj\", \"down_proj\"], \"modules_to_save\": [\"lm_head\"]}", "modules_to_save" },
    };
    for (size_t i = 0; i < EEF_ARRAY_LEN(bad); i++) {
        assert_ok(eef_write_file_atomic(p, bad[i][0], strlen(bad[i][0])));
        assert_int_equal(eef_lora_load(dir, &m->cfg, &b), EEF_EINVAL);
        if (!strstr(eef_errmsg(), bad[i][1])) fail_msg("case %zu: %s", i, eef_errmsg());
        assert_non_null(strstr(eef_errmsg(), "adapter_"));
    }
    eef_model_free(m);
    eef_model_free(other);
    tu_rmtree(tmp);
}

/* ---------------------------------------------------------------- memory */
/* Checkpointing recomputes each layer from its input: the same gradient
 * bits, for full fine-tuning and for adapters. */
static void test_checkpoint_same_bits(void **state)
{
    (void)state;
    for (int variant = 0; variant < 2; variant++) {
        eef_model *m = tiny_model(variant, variant);
        eef_batch b;
        make_batch(&b);
        double l0, l1;
        eef_model_zero_grad(m);
        assert_ok(eef_model_forward(m, &b, NULL, &l0));
        assert_ok(eef_model_backward(m, 1.0f));
        float *g0 = malloc(m->n_params * sizeof(float));
        memcpy(g0, m->grads, m->n_params * sizeof(float));
        m->checkpoint = 1;
        eef_model_zero_grad(m);
        assert_ok(eef_model_forward(m, &b, NULL, &l1));
        assert_ok(eef_model_backward(m, 1.0f));
        assert_true(m->acts->ckpt);
        assert_true(l0 == l1);
        assert_memory_equal(g0, m->grads, m->n_params * sizeof(float));
        /* adapters */
        eef_lora *a = random_lora(m, EEF_LORA_ALL, 2);
        assert_ok(eef_lora_attach(m, a));
        m->checkpoint = 0;
        eef_model_zero_grad(m);
        assert_ok(eef_model_forward(m, &b, NULL, &l0));
        assert_ok(eef_model_backward(m, 1.0f));
        float *ga = malloc(a->n_params * sizeof(float));
        memcpy(ga, a->grads, a->n_params * sizeof(float));
        m->checkpoint = 1;
        eef_model_zero_grad(m);
        assert_ok(eef_model_forward(m, &b, NULL, &l1));
        assert_ok(eef_model_backward(m, 1.0f));
        assert_true(l0 == l1);
        assert_memory_equal(ga, a->grads, a->n_params * sizeof(float));
        free(ga);
        free(g0);
        eef_lora_free(a);
        eef_batch_free(&b);
        eef_model_free(m);
    }
}

/* The estimate's parts follow the shapes; checkpointing and LoRA shrink
 * what they should; the plan refuses with both figures. */
static void test_mem_estimate(void **state)
{
    (void)state;
    eef_model_config c = { .vocab = 49152, .d_model = 576, .n_layers = 30, .n_heads = 9,
                           .n_kv_heads = 3, .d_ff = 1536, .max_ctx = 8192, .tied = 1,
                           .rope_theta = 1e5f, .norm_eps = 1e-5f, .rope_layout = EEF_ROPE_HALF };
    eef_train_mem full, ck, lo;
    eef_train_mem_estimate(&c, EEF_DT_F32, NULL, 8, 1024, 1229, 0, &full);
    eef_train_mem_estimate(&c, EEF_DT_F32, NULL, 8, 1024, 1229, 1, &ck);
    eef_lora_config lc;
    eef_lora_defaults(&lc);
    eef_train_mem_estimate(&c, EEF_DT_BF16, &lc, 8, 1024, 1229, 0, &lo);
    double P = (double)eef_model_n_params(&c);
    assert_true(full.weights == 4 * P && full.grads == 4 * P && full.optim == 8 * P);
    assert_true(full.logits == 4.0 * 1229 * 49152);
    assert_true(ck.acts < full.acts / 5);
    /* SmolLM2-135M: 134.5 M parameters; LoRA r=16 on all seven: 4.9 M */
    assert_true(fabs(P - 134.5e6) < 0.1e6);
    assert_true(fabs(lo.adapters / 4 - 4.88e6) < 0.01e6);
    assert_true(lo.weights < 0.55 * full.weights && lo.grads == lo.adapters);
    eef_train_mem plan;
    assert_ok(eef_train_mem_plan(&c, EEF_DT_F32, NULL, 8, 1024, 1229, full.total + 1, &plan));
    assert_false(plan.checkpoint);
    assert_ok(eef_train_mem_plan(&c, EEF_DT_F32, NULL, 8, 1024, 1229, ck.total + 1, &plan));
    assert_true(plan.checkpoint);
    assert_int_equal(eef_train_mem_plan(&c, EEF_DT_F32, NULL, 8, 1024, 1229, ck.total / 2, &plan),
                     EEF_ENOMEM);
    assert_non_null(strstr(eef_errmsg(), "full fine-tuning needs"));
    assert_non_null(strstr(eef_errmsg(), "GiB available"));
    assert_true(eef_mem_available() > 0);
}

/* kB of a /proc/self/status field */
static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, strlen(key)) == 0) v = strtol(line + strlen(key) + 1, NULL, 10);
    if (f) fclose(f);
    return v;
}

/* Measured peak RSS of one training step (full fine-tuning, with and
 * without checkpointing, then LoRA on a bf16 base) against the estimate,
 * each in a fresh process (this binary run again with --measure) so the
 * peak is the step's own: the growth of VmHWM over VmRSS before the
 * model is made.  Tolerance 10% + 12 MiB: the allocator's and the
 * threads' slack, the batch, the per-thread tiles and stacks. */
static int measure_child(int lora, int ckpt)
{
    eef_model_config c = { .vocab = 8192, .d_model = 256, .n_layers = 4, .n_heads = 8,
                           .n_kv_heads = 2, .d_ff = 768, .max_ctx = 512, .tied = 0,
                           .rope_theta = 1e4f, .norm_eps = 1e-5f };
    const int B = 4, T = 256;
    eef_lora_config lc;
    eef_lora_defaults(&lc);
    long before = status_kb("VmRSS:");
    eef_model *m;
    eef_lora *a = NULL;
    eef_adamw *opt;
    eef_adamw_config oc;
    eef_adamw_defaults(&oc);
    if (eef_model_new(&c, NULL, 1, &m)) return 2;
    if (lora && (eef_model_freeze(m, EEF_DT_BF16) || eef_lora_new(&m->cfg, &lc, 1, &a))) return 2;
    m->checkpoint = ckpt;
    eef_batch b;
    if (eef_batch_alloc(&b, B, T)) return 2;
    int M = 0;
    for (int i = 0; i < B * T; i++) {
        b.tokens[i] = (i * 31) % c.vocab, b.targets[i] = (i * 17) % c.vocab;
        b.pos[i] = i % T, b.mask[i] = i % 7 == 0, M += i % 7 == 0;
    }
    if (eef_adamw_new(&oc, eef_train_n_params(m, a), &opt)) return 2;
    double loss;
    if (eef_train_step(m, a, opt, &b, &loss, NULL)) return 3;
    double peak = ((double)status_kb("VmHWM:") - (double)before) * 1024;
    eef_train_mem em;
    eef_train_mem_estimate(&c, lora ? EEF_DT_BF16 : EEF_DT_F32, lora ? &lc : NULL, B, T, M, ckpt,
                           &em);
    printf("%.0f %.0f\n", em.total, peak);
    eef_adamw_free(opt);
    eef_batch_free(&b);
    eef_lora_free(a);
    eef_model_free(m);
    return 0;
}

static void measure(int lora, int ckpt, double *est, double *peak)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "/proc/%d/exe --measure %d %d", (int)getpid(), lora, ckpt);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%lf %lf", est, peak), 2);
    assert_int_equal(pclose(f), 0);
}

static void test_mem_vs_rss(void **state)
{
    (void)state;
#ifdef __SANITIZE_ADDRESS__
    skip(); /* ASan's shadow memory and quarantine are in the RSS, not in the estimate */
#endif
    for (int k = 0; k < 3; k++) {
        int lora = k == 2, ckpt = k == 1;
        double est, peak;
        measure(lora, ckpt, &est, &peak);
        double tol = 0.10 * est + 12.0 * 1024 * 1024;
        if (getenv("SHOW"))
            fprintf(stderr, "  %s%s: estimate %.1f MiB, measured peak %.1f MiB\n",
                    lora ? "lora" : "full", ckpt ? " ckpt" : "", est / 1048576, peak / 1048576);
        if (fabs(est - peak) > tol)
            fail_msg("%s%s: estimate %.1f MiB, measured peak RSS %.1f MiB", lora ? "lora" : "full",
                     ckpt ? " (checkpointing)" : "", est / 1048576, peak / 1048576);
    }
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--measure") == 0)
        return measure_child(atoi(argv[2]), atoi(argv[3]));
    rng = eef_rng_make(eef_rng_key(43, 0, 0, 0));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lora_grad),          cmocka_unit_test(test_lora_targets),
        cmocka_unit_test(test_lora_forward_merge), cmocka_unit_test(test_lora_save_load),
        cmocka_unit_test(test_checkpoint_same_bits), cmocka_unit_test(test_mem_estimate),
        cmocka_unit_test(test_mem_vs_rss),         cmocka_unit_test(test_bf16_kernel),
        cmocka_unit_test(test_bf16_products_step),
    };
    return cmocka_run_group_tests_name("lora", tests, NULL, NULL);
}

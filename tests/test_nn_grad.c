/* Finite-difference checks of every backward pass in src/nn.
 *
 * Each layer is checked on the scalar objective J = sum_i r_i y_i with a
 * fixed random r, so dJ/dy = r and the analytic dJ/dx from the backward
 * pass can be compared to the central difference
 * (J(x + h e) - J(x - h e)) / 2h.  The kernels run in float32: with
 * h = 1e-2 the truncation error is O(h^2) ~ 1e-4 relative, and float
 * rounding in J (sums of ~1e3 terms, ~1e-6 relative) divided by 2h gives
 * ~1e-4 absolute; we therefore accept |fd - an| <= 2e-2 * max(|fd|, |an|)
 * + 2e-3.  A wrong backward is off by O(1) relative.
 *
 * The whole model is checked along random directions (one per tensor, one
 * over all), with Richardson extrapolation of two central differences;
 * measured agreement is better than 2e-3 relative, so the tolerance is
 * 3e-3 relative + 1e-4 absolute: a gradient 3% off in one layer fails.
 */
#include "testutil.h"

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

static void expect_close(double fd, double an, const char *what, size_t i)
{
    double tol = 2e-2 * fmax(fabs(fd), fabs(an)) + 2e-3;
    if (fabs(fd - an) > tol) fail_msg("%s[%zu]: finite difference %.6g, backward %.6g", what, i, fd, an);
}

/* ---------------------------------------------------------------- matmul */
/* N rows of x [N, I] against W [O, I]; the threads split x's rows, or W's
 * (and dx's columns) when those are the longer side */
static void check_matmul_grad(int N, int I, int O)
{
    float *x = malloc(sizeof(float) * N * I), *w = malloc(sizeof(float) * O * I);
    float *y = malloc(sizeof(float) * N * O), *r = malloc(sizeof(float) * N * O);
    float *dx = malloc(sizeof(float) * N * I), *dw = calloc((size_t)O * I, sizeof(float));
    fill(x, (size_t)N * I, 1), fill(w, (size_t)O * I, 1), fill(r, (size_t)N * O, 1);
    mm_forward(y, x, w, N, I, O);
    /* against a naive product */
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++) {
            double s = 0;
            for (int i = 0; i < I; i++) s += (double)x[n * I + i] * w[o * I + i];
            assert_true(fabs(s - y[n * O + o]) < 1e-4);
        }
    mm_backward(dx, dw, r, x, w, N, I, O);
    const float h = 1e-2f;
    for (int i = 0; i < N * I; i += 7) {
        float keep = x[i];
        x[i] = keep + h, mm_forward(y, x, w, N, I, O);
        double jp = dot(y, r, (size_t)N * O);
        x[i] = keep - h, mm_forward(y, x, w, N, I, O);
        double jm = dot(y, r, (size_t)N * O);
        x[i] = keep;
        expect_close((jp - jm) / (2 * h), dx[i], "matmul dx", (size_t)i);
    }
    for (int i = 0; i < O * I; i += 3) {
        float keep = w[i];
        w[i] = keep + h, mm_forward(y, x, w, N, I, O);
        double jp = dot(y, r, (size_t)N * O);
        w[i] = keep - h, mm_forward(y, x, w, N, I, O);
        double jm = dot(y, r, (size_t)N * O);
        w[i] = keep;
        expect_close((jp - jm) / (2 * h), dw[i], "matmul dw", (size_t)i);
    }
    free(x), free(w), free(y), free(r), free(dx), free(dw);
}

static void test_matmul_grad(void **state)
{
    (void)state;
    check_matmul_grad(19, 13, 7); /* rows split */
    /* its own random stream: the later tests' draws stay as they were */
    eef_rng keep = rng;
    rng = eef_rng_make(0x3a7);
    check_matmul_grad(18, 40, 53); /* W's rows, dx's columns split */
    rng = keep;
}

/* ---------------------------------------------------------------- rmsnorm */
static void test_rmsnorm_grad(void **state)
{
    (void)state;
    enum { N = 5, D = 16 };
    float x[N * D], g[D], y[N * D], r[N * D], rstd[N], dx[N * D] = { 0 }, dg[D] = { 0 };
    fill(x, N * D, 1), fill(g, D, 1), fill(r, N * D, 1);
    rmsnorm_forward(y, rstd, x, g, N, D, 1e-5f);
    rmsnorm_backward(dx, dg, r, x, rstd, g, N, D);
    const float h = 1e-2f;
    for (size_t i = 0; i < N * D; i++) {
        float keep = x[i];
        x[i] = keep + h, rmsnorm_forward(y, rstd, x, g, N, D, 1e-5f);
        double jp = dot(y, r, N * D);
        x[i] = keep - h, rmsnorm_forward(y, rstd, x, g, N, D, 1e-5f);
        double jm = dot(y, r, N * D);
        x[i] = keep;
        expect_close((jp - jm) / (2 * h), dx[i], "rmsnorm dx", i);
    }
    for (size_t i = 0; i < D; i++) {
        float keep = g[i];
        g[i] = keep + h, rmsnorm_forward(y, rstd, x, g, N, D, 1e-5f);
        double jp = dot(y, r, N * D);
        g[i] = keep - h, rmsnorm_forward(y, rstd, x, g, N, D, 1e-5f);
        double jm = dot(y, r, N * D);
        g[i] = keep;
        expect_close((jp - jm) / (2 * h), dg[i], "rmsnorm dg", i);
    }
}

/* ---------------------------------------------------------------- swiglu */
static void test_swiglu_grad(void **state)
{
    (void)state;
    enum { N = 4, F = 9 };
    float hh[N * 2 * F], y[N * F], r[N * F], dh[N * 2 * F];
    fill(hh, N * 2 * F, 2), fill(r, N * F, 1);
    swiglu_forward(y, hh, N, F);
    swiglu_backward(dh, r, hh, N, F);
    const float h = 1e-2f;
    for (size_t i = 0; i < N * 2 * F; i++) {
        float keep = hh[i];
        hh[i] = keep + h, swiglu_forward(y, hh, N, F);
        double jp = dot(y, r, N * F);
        hh[i] = keep - h, swiglu_forward(y, hh, N, F);
        double jm = dot(y, r, N * F);
        hh[i] = keep;
        expect_close((jp - jm) / (2 * h), dh[i], "swiglu dh", i);
    }
}

/* ---------------------------------------------------------------- rope */
static void test_rope_grad(void **state)
{
    (void)state;
    enum { N = 6, D = 8, H = 2 };
    int pos[N] = { 0, 1, 2, 0, 1, 5 };
    rope_table t;
    eef_model_config rc = { .d_model = D, .n_heads = H, .head_dim = D / H, .rope_theta = 10000.0f };
    const nn_heads s = { H, H, D / H };
    assert_ok(rope_table_init(&t, 16, &rc));
    float x[N * 3 * D], y[N * 3 * D], r[N * 3 * D], dx[N * 3 * D];
    fill(x, N * 3 * D, 1), fill(r, N * 3 * D, 1);
    /* the backward of a rotation is the inverse rotation of the gradient */
    memcpy(dx, r, sizeof dx);
    rope_apply(dx, pos, N, &s, &t, -1);
    const float h = 1e-2f;
    for (size_t i = 0; i < N * 3 * D; i++) {
        float keep = x[i];
        x[i] = keep + h, memcpy(y, x, sizeof y), rope_apply(y, pos, N, &s, &t, +1);
        double jp = dot(y, r, N * 3 * D);
        x[i] = keep - h, memcpy(y, x, sizeof y), rope_apply(y, pos, N, &s, &t, +1);
        double jm = dot(y, r, N * 3 * D);
        x[i] = keep;
        expect_close((jp - jm) / (2 * h), dx[i], "rope dx", i);
    }
    /* position 0 is the identity; rotation preserves norms */
    memcpy(y, x, sizeof y);
    rope_apply(y, pos, N, &s, &t, +1);
    for (int i = 0; i < 2 * D; i++) assert_true(fabs(y[i] - x[i]) < 1e-6);
    rope_table_free(&t);
}

/* ---------------------------------------------------------------- attention */
static void test_attention_grad(void **state)
{
    (void)state;
    /* two rows: row 0 holds segments of 5 and 4 positions, row 1 one of 9,
     * so the segment boundaries are exercised; 70 > the query block (64)
     * in row 2 exercises multi-block causal masking */
    enum { B = 3, T = 70, D = 8, H = 2, N = B * T };
    int pos[N];
    for (int t = 0; t < T; t++) {
        pos[t] = t < 5 ? t : (t < 9 ? t - 5 : t - 9);
        pos[T + t] = t % 9 == t ? t : 0;
        pos[2 * T + t] = t;
    }
    for (int t = 9; t < T; t++) pos[T + t] = 0; /* padding: length-1 segments */
    static float qkv[N * 3 * D], out[N * D], lse[N * H], r[N * D], dqkv[N * 3 * D];
    const nn_heads s = { H, H, D / H };
    fill(qkv, N * 3 * D, 1), fill(r, N * D, 1);
    assert_ok(attention_forward(out, lse, qkv, pos, B, T, &s));
    /* causality and segment isolation: changing a later token, or a token
     * of another segment, leaves an output unchanged */
    static float out2[N * D];
    qkv[6 * 3 * D + D] += 1.0f; /* key of position 6 (segment 2 of row 0) */
    assert_ok(attention_forward(out2, lse, qkv, pos, B, T, &s));
    assert_memory_equal(out, out2, 5 * D * sizeof(float)); /* segment 1 untouched */
    qkv[6 * 3 * D + D] -= 1.0f;
    assert_ok(attention_forward(out, lse, qkv, pos, B, T, &s));
    assert_ok(attention_backward(dqkv, r, qkv, out, lse, pos, B, T, &s));
    const float h = 1e-2f;
    for (size_t i = 0; i < N * 3 * D; i += 5) {
        float keep = qkv[i];
        qkv[i] = keep + h, attention_forward(out2, lse, qkv, pos, B, T, &s);
        double jp = dot(out2, r, N * D);
        qkv[i] = keep - h, attention_forward(out2, lse, qkv, pos, B, T, &s);
        double jm = dot(out2, r, N * D);
        qkv[i] = keep;
        expect_close((jp - jm) / (2 * h), dqkv[i], "attention dqkv", i);
    }
}

/* ---------------------------------------------------------------- head norms, biases */
static void test_head_norm_grad(void **state)
{
    (void)state;
    enum { N = 4, H = 3, HKV = 1, HD = 6, W = (H + 2 * HKV) * HD };
    const nn_heads s = { H, HKV, HD };
    float x[N * W], y[N * W], r[N * W], rstd[N * (H + HKV)], dx[N * W], gq[HD], gk[HD];
    float dgq[HD] = { 0 }, dgk[HD] = { 0 };
    fill(x, N * W, 1), fill(r, N * W, 1), fill(gq, HD, 1), fill(gk, HD, 1);
    head_norm_forward(y, rstd, x, gq, gk, N, &s, 1e-6f);
    head_norm_backward(dx, dgq, dgk, r, x, rstd, gq, gk, N, &s);
    const float h = 1e-2f;
    for (size_t i = 0; i < N * W; i++) {
        float keep = x[i];
        x[i] = keep + h, head_norm_forward(y, rstd, x, gq, gk, N, &s, 1e-6f);
        double jp = dot(y, r, N * W);
        x[i] = keep - h, head_norm_forward(y, rstd, x, gq, gk, N, &s, 1e-6f);
        double jm = dot(y, r, N * W);
        x[i] = keep;
        expect_close((jp - jm) / (2 * h), dx[i], "head norm dx", i);
    }
    float *gains[2] = { gq, gk }, *grads[2] = { dgq, dgk };
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < HD; i++) {
            float keep = gains[k][i];
            gains[k][i] = keep + h, head_norm_forward(y, rstd, x, gq, gk, N, &s, 1e-6f);
            double jp = dot(y, r, N * W);
            gains[k][i] = keep - h, head_norm_forward(y, rstd, x, gq, gk, N, &s, 1e-6f);
            double jm = dot(y, r, N * W);
            gains[k][i] = keep;
            expect_close((jp - jm) / (2 * h), grads[k][i], k ? "head norm dgk" : "head norm dgq", i);
        }
}

static void test_bias_grad(void **state)
{
    (void)state;
    enum { N = 5, W = 7 };
    float y[N * W], b[W], r[N * W], db[W] = { 0 }, y0[N * W];
    fill(y0, N * W, 1), fill(b, W, 1), fill(r, N * W, 1);
    bias_backward(db, r, N, W);
    const float h = 1e-2f;
    for (size_t i = 0; i < W; i++) {
        float keep = b[i];
        memcpy(y, y0, sizeof y), b[i] = keep + h, bias_forward(y, b, N, W);
        double jp = dot(y, r, N * W);
        memcpy(y, y0, sizeof y), b[i] = keep - h, bias_forward(y, b, N, W);
        double jm = dot(y, r, N * W);
        b[i] = keep;
        expect_close((jp - jm) / (2 * h), db[i], "bias db", i);
    }
}

/* rotate_half layout, grouped heads, llama3-scaled frequencies: still a
 * rotation whose backward is the inverse; and it is the pair layout's
 * rotation of the permuted values */
static void test_rope_half_grad(void **state)
{
    (void)state;
    enum { N = 5, H = 4, HKV = 2, HD = 8, W = (H + 2 * HKV) * HD };
    int pos[N] = { 0, 3, 7, 1, 30 };
    eef_model_config c = { .d_model = 16, .n_heads = H, .n_kv_heads = HKV, .head_dim = HD,
                           .rope_theta = 5e5f, .rope_layout = EEF_ROPE_HALF,
                           .rope_scaling = { 32, 1, 4, 64 } };
    const nn_heads s = { H, HKV, HD };
    rope_table t, tp;
    assert_ok(rope_table_init(&t, 32, &c));
    c.rope_layout = EEF_ROPE_PAIRS;
    assert_ok(rope_table_init(&tp, 32, &c));
    float x[N * W], y[N * W], r[N * W], dx[N * W], xp[N * W];
    fill(x, N * W, 1), fill(r, N * W, 1);
    memcpy(dx, r, sizeof dx);
    rope_apply(dx, pos, N, &s, &t, -1);
    const float h = 1e-2f;
    for (size_t i = 0; i < N * W; i++) {
        float keep = x[i];
        x[i] = keep + h, memcpy(y, x, sizeof y), rope_apply(y, pos, N, &s, &t, +1);
        double jp = dot(y, r, N * W);
        x[i] = keep - h, memcpy(y, x, sizeof y), rope_apply(y, pos, N, &s, &t, +1);
        double jm = dot(y, r, N * W);
        x[i] = keep;
        expect_close((jp - jm) / (2 * h), dx[i], "rope (half) dx", i);
    }
    /* value j < HD/2 of a head in the half layout is value 2j in pairs,
     * HD/2 + j is 2j + 1: rotating either way gives the same numbers */
    for (int n = 0; n < N; n++)
        for (int hh = 0; hh < H + HKV; hh++)
            for (int j = 0; j < HD / 2; j++) {
                const float *src = x + n * W + hh * HD;
                float *dst = xp + n * W + hh * HD;
                dst[2 * j] = src[j], dst[2 * j + 1] = src[HD / 2 + j];
            }
    memcpy(y, x, sizeof y);
    rope_apply(y, pos, N, &s, &t, +1);
    rope_apply(xp, pos, N, &s, &tp, +1);
    for (int n = 0; n < N; n++)
        for (int hh = 0; hh < H + HKV; hh++)
            for (int j = 0; j < HD / 2; j++) {
                assert_true(y[n * W + hh * HD + j] == xp[n * W + hh * HD + 2 * j]);
                assert_true(y[n * W + hh * HD + HD / 2 + j] == xp[n * W + hh * HD + 2 * j + 1]);
            }
    rope_table_free(&t);
    rope_table_free(&tp);
}

/* grouped-query attention: 6 query heads on 2 key/value heads of 6 values */
static void test_attention_gqa_grad(void **state)
{
    (void)state;
    enum { B = 2, T = 9, H = 6, HKV = 2, HD = 6, N = B * T, Q = H * HD, W = (H + 2 * HKV) * HD };
    const nn_heads s = { H, HKV, HD };
    int pos[N];
    for (int t = 0; t < T; t++) pos[t] = t < 4 ? t : t - 4, pos[T + t] = t;
    static float qkv[N * W], out[N * Q], lse[N * H], r[N * Q], dqkv[N * W], out2[N * Q];
    fill(qkv, N * W, 1), fill(r, N * Q, 1);
    assert_ok(attention_forward(out, lse, qkv, pos, B, T, &s));
    assert_ok(attention_backward(dqkv, r, qkv, out, lse, pos, B, T, &s));
    const float h = 1e-2f;
    for (size_t i = 0; i < N * W; i++) {
        float keep = qkv[i];
        qkv[i] = keep + h, attention_forward(out2, lse, qkv, pos, B, T, &s);
        double jp = dot(out2, r, N * Q);
        qkv[i] = keep - h, attention_forward(out2, lse, qkv, pos, B, T, &s);
        double jm = dot(out2, r, N * Q);
        qkv[i] = keep;
        expect_close((jp - jm) / (2 * h), dqkv[i], "gqa attention dqkv", i);
    }
}

/* The AVX-512 tile kernels (head widths multiple of 16, here 16, 32 and
 * 48: one and two vectors a tile, and a 16-wide tail) against the sgemm
 * path, segments and several query blocks included, then by finite
 * differences. */
static void test_attention_tiles_grad(void **state)
{
    (void)state;
    enum { B = 2, T = 77, N = B * T, H = 4, HKV = 2 };
    int pos[N];
    for (int t = 0; t < T; t++) pos[t] = t < 11 ? t : t - 11, pos[T + t] = t;
    for (int hd = 16; hd <= 48; hd += 16) {
        const nn_heads s = { H, HKV, hd };
        const int Q = H * hd, W = (H + 2 * HKV) * hd;
        float *qkv = malloc(sizeof(float) * N * W), *dqkv = malloc(sizeof(float) * N * W);
        float *dq2 = malloc(sizeof(float) * N * W), *out = malloc(sizeof(float) * N * Q);
        float *out2 = malloc(sizeof(float) * N * Q), *r = malloc(sizeof(float) * N * Q);
        float *lse = malloc(sizeof(float) * N * H), *lse2 = malloc(sizeof(float) * N * H);
        /* its own random stream: the other tests' draws stay as they were */
        eef_rng keep_rng = rng;
        rng = eef_rng_make(0xa77 + (uint64_t)hd);
        fill(qkv, (size_t)N * W, 1), fill(r, (size_t)N * Q, 1);
        rng = keep_rng;
        nn_attention_tiles = 0;
        assert_ok(attention_forward(out2, lse2, qkv, pos, B, T, &s));
        assert_ok(attention_backward(dq2, r, qkv, out2, lse2, pos, B, T, &s));
        nn_attention_tiles = 1;
        assert_ok(attention_forward(out, lse, qkv, pos, B, T, &s));
        assert_ok(attention_backward(dqkv, r, qkv, out, lse, pos, B, T, &s));
        for (int i = 0; i < N * Q; i++)
            if (fabsf(out[i] - out2[i]) > 1e-5f * (1 + fabsf(out2[i])))
                fail_msg("hd %d: tiles out[%d] %.8g, sgemm %.8g", hd, i, out[i], out2[i]);
        for (int i = 0; i < N * H; i++) assert_true(fabsf(lse[i] - lse2[i]) < 1e-5f * (1 + fabsf(lse2[i])));
        for (int i = 0; i < N * W; i++)
            if (fabsf(dqkv[i] - dq2[i]) > 1e-4f * (1 + fabsf(dq2[i])))
                fail_msg("hd %d: tiles dqkv[%d] %.8g, sgemm %.8g", hd, i, dqkv[i], dq2[i]);
        const float h = 1e-2f;
        for (int i = hd % 7; i < N * W; i += 97) {
            float keep = qkv[i];
            qkv[i] = keep + h, attention_forward(out2, lse2, qkv, pos, B, T, &s);
            double jp = dot(out2, r, (size_t)N * Q);
            qkv[i] = keep - h, attention_forward(out2, lse2, qkv, pos, B, T, &s);
            double jm = dot(out2, r, (size_t)N * Q);
            qkv[i] = keep;
            expect_close((jp - jm) / (2 * h), dqkv[i], "tiled attention dqkv", i);
        }
        free(qkv), free(dqkv), free(dq2), free(out), free(out2), free(r), free(lse), free(lse2);
    }
}

/* ---------------------------------------------------------------- model */
/* The whole model: directional derivatives along random directions, one
 * direction per tensor (so each tensor's gradient is checked on its own)
 * and one over all parameters. */
/* variant 0: eef's own architecture; 1: every Llama-family feature at
 * once (grouped-query attention 6:2, head_dim 6 != D/H, q/k/v biases,
 * q/k norms, llama3 rope scaling, the rotate_half layout) */
static eef_model *tiny_model_v(int tied, int variant)
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
    /* perturb the gains (and biases) so their gradients are not special */
    for (int i = 0; i < c.n_layers * c.d_model; i++) {
        m->w.attn_norm[i] += 0.1f * eef_rng_normal(&rng);
        m->w.mlp_norm[i] += 0.1f * eef_rng_normal(&rng);
    }
    const eef_model_config *rc = &m->cfg;
    const int W = (rc->n_heads + 2 * rc->n_kv_heads) * rc->head_dim;
    for (int i = 0; rc->qkv_bias && i < rc->n_layers * W; i++) m->w.bqkv[i] = 0.1f * eef_rng_normal(&rng);
    for (int i = 0; rc->qk_norm && i < rc->n_layers * rc->head_dim; i++) {
        m->w.q_norm[i] += 0.1f * eef_rng_normal(&rng);
        m->w.k_norm[i] += 0.1f * eef_rng_normal(&rng);
    }
    return m;
}

static eef_model *tiny_model(int tied) { return tiny_model_v(tied, 0); }

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
    assert_int_equal(b->n_seqs, 3);
}

static void check_model_grad(int tied, int variant)
{
    eef_model *m = tiny_model_v(tied, variant);
    eef_batch b;
    make_batch(&b);
    double loss;
    eef_model_zero_grad(m);
    assert_ok(eef_model_forward(m, &b, NULL, &loss));
    assert_ok(eef_model_backward(m, 1.0f));
    eef_weights g;
    eef_weights_view(&m->cfg, m->grads, &g);
    const eef_model_config *c = &m->cfg;
    size_t D = c->d_model, L = c->n_layers, F = c->d_ff, V = c->vocab, hd = c->head_dim,
           Q = c->n_heads * hd, W = Q + 2 * c->n_kv_heads * hd;
    struct {
        const char *name;
        float *p;
        size_t n;
    } t[] = {
        { "wte", m->w.wte, V * D },        { "attn_norm", m->w.attn_norm, L * D },
        { "wqkv", m->w.wqkv, L * W * D },  { "wo", m->w.wo, L * D * Q },
        { "mlp_norm", m->w.mlp_norm, L * D }, { "w13", m->w.w13, L * 2 * F * D },
        { "w2", m->w.w2, L * D * F },      { "out_norm", m->w.out_norm, D },
        { "head", m->w.head, tied ? 0 : V * D },
        { "bqkv", m->w.bqkv, c->qkv_bias ? L * W : 0 },
        { "q_norm", m->w.q_norm, c->qk_norm ? L * hd : 0 },
        { "k_norm", m->w.k_norm, c->qk_norm ? L * hd : 0 },
        { "all", m->params, m->n_params },
    };
    float *dir = malloc(m->n_params * sizeof(float));
    for (size_t k = 0; k < EEF_ARRAY_LEN(t); k++) {
        if (!t[k].n) continue;
        memset(dir, 0, m->n_params * sizeof(float));
        size_t off = (size_t)(t[k].p - m->params);
        fill(dir + off, t[k].n, 1);
        double an = dot(dir, m->grads, m->n_params);
        /* small directional derivatives drown in float noise (~1e-4 in
         * fd): stretch the direction so |an| is at least 0.05 */
        if (fabs(an) < 0.05) {
            double k2 = fmin(0.05 / fmax(fabs(an), 1e-9), 100.0);
            for (size_t i = off; i < off + t[k].n; i++) dir[i] *= (float)k2;
            an = dot(dir, m->grads, m->n_params);
        }
        /* directional derivative, central differences at h and h/2
         * combined by Richardson extrapolation (cancels the h^2 term) */
        double fdh[2];
        for (int k2 = 0; k2 < 2; k2++) {
            const float h = k2 ? 1e-3f : 2e-3f;
            double lp, lm;
            for (size_t i = 0; i < m->n_params; i++) m->params[i] += h * dir[i];
            assert_ok(eef_model_forward(m, &b, NULL, &lp));
            for (size_t i = 0; i < m->n_params; i++) m->params[i] -= 2 * h * dir[i];
            assert_ok(eef_model_forward(m, &b, NULL, &lm));
            for (size_t i = 0; i < m->n_params; i++) m->params[i] += h * dir[i];
            fdh[k2] = (lp - lm) / (2 * h);
        }
        double fd = (4 * fdh[1] - fdh[0]) / 3;
        double tol = 3e-3 * fmax(fabs(fd), fabs(an)) + 1e-4;
        if (getenv("SHOW")) fprintf(stderr, "  %s: fd %.7g an %.7g rel %.2e\n", t[k].name, fd, an, fabs(fd - an) / fmax(fabs(fd), 1e-12));
        if (fabs(fd - an) > tol)
            fail_msg("model %s (tied=%d, variant %d): finite difference %.6g, backward %.6g",
                     t[k].name, tied, variant, fd, an);
    }
    free(dir);
    eef_batch_free(&b);
    eef_model_free(m);
}

static void test_model_grad_untied(void **state)
{
    (void)state;
    check_model_grad(0, 0);
}

static void test_model_grad_tied(void **state)
{
    (void)state;
    check_model_grad(1, 0);
}

/* grouped-query attention, head_dim != D/H, biases, q/k norms, rope
 * scaling and the rotate_half layout, through the whole model */
static void test_model_grad_llama_family(void **state)
{
    (void)state;
    check_model_grad(0, 1);
    check_model_grad(1, 1);
}

/* The loss is the masked mean: scaling gives the gradient of accumulated
 * micro-batches, and positions with mask 0 contribute nothing. */
static void test_mask_exact(void **state)
{
    (void)state;
    eef_model *m = tiny_model(0);
    eef_batch b;
    make_batch(&b);
    double loss1, loss2;
    assert_ok(eef_model_forward(m, &b, NULL, &loss1));
    /* change the target of a masked-out position: the loss must not move */
    int changed = 0;
    for (int i = 0; i < b.B * b.T && !changed; i++)
        if (b.mask[i] == 0.0f && b.pos[i] > 0) b.targets[i] = (b.targets[i] + 1) % 40, changed = 1;
    assert_true(changed);
    assert_ok(eef_model_forward(m, &b, NULL, &loss2));
    assert_true(loss1 == loss2);
    /* the loss equals the masked mean of per-position -log p from full logits */
    float *logits = malloc((size_t)b.B * b.T * 40 * sizeof(float));
    assert_ok(eef_model_forward(m, &b, logits, &loss2));
    double s = 0, w = 0;
    for (int i = 0; i < b.B * b.T; i++) {
        if (b.mask[i] == 0.0f) continue;
        const float *lg = logits + (size_t)i * 40;
        s += b.mask[i] * (nn_logsumexp(lg, 40) - lg[b.targets[i]]);
        w += b.mask[i];
    }
    assert_true(fabs(s / w - loss2) < 1e-5);
    free(logits);
    eef_batch_free(&b);
    eef_model_free(m);
}

/* Activations sized for a larger batch serve a smaller one: the gradient
 * of the smaller batch is the same bits as with a fresh model. */
static void test_acts_reuse(void **state)
{
    (void)state;
    for (int variant = 0; variant < 2; variant++) {
        eef_model *a = tiny_model_v(0, variant), *b = tiny_model_v(0, variant);
        memcpy(b->params, a->params, a->n_params * sizeof(float));
        eef_batch big, small;
        make_batch(&big);
        assert_ok(eef_batch_alloc(&small, 1, big.T));
        memcpy(small.tokens, big.tokens + big.T, big.T * sizeof(int));
        memcpy(small.targets, big.targets + big.T, big.T * sizeof(int));
        memcpy(small.pos, big.pos + big.T, big.T * sizeof(int));
        memcpy(small.mask, big.mask + big.T, big.T * sizeof(float));
        double l1, l2;
        eef_model_zero_grad(a);
        assert_ok(eef_model_forward(a, &big, NULL, &l1));
        assert_ok(eef_model_backward(a, 1.0f));
        eef_model_zero_grad(a);
        assert_ok(eef_model_forward(a, &small, NULL, &l1));
        assert_ok(eef_model_backward(a, 1.0f));
        eef_model_zero_grad(b);
        assert_ok(eef_model_forward(b, &small, NULL, &l2));
        assert_ok(eef_model_backward(b, 1.0f));
        assert_true(l1 == l2);
        assert_memory_equal(a->grads, b->grads, a->n_params * sizeof(float));
        eef_batch_free(&big);
        eef_batch_free(&small);
        eef_model_free(a);
        eef_model_free(b);
    }
}

int main(void)
{
    rng = eef_rng_make(eef_rng_key(42, 0, 0, 0));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_grad),      cmocka_unit_test(test_rmsnorm_grad),
        cmocka_unit_test(test_swiglu_grad),      cmocka_unit_test(test_rope_grad),
        cmocka_unit_test(test_attention_grad),   cmocka_unit_test(test_model_grad_untied),
        cmocka_unit_test(test_model_grad_tied),  cmocka_unit_test(test_mask_exact),
        cmocka_unit_test(test_head_norm_grad),   cmocka_unit_test(test_bias_grad),
        cmocka_unit_test(test_rope_half_grad),   cmocka_unit_test(test_attention_gqa_grad),
        cmocka_unit_test(test_attention_tiles_grad),
        cmocka_unit_test(test_model_grad_llama_family), cmocka_unit_test(test_acts_reuse),
    };
    return cmocka_run_group_tests_name("nn gradients", tests, NULL, NULL);
}

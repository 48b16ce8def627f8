/* Tests of src/nn beyond gradients: KV-cache inference equals the training
 * forward, tree scoring equals sequential scoring, constrained decoding
 * stays inside the allowed set, packing isolates sequences, padding is
 * skipped exactly, checkpoints
 * round-trip bit-exactly and reject damage, training is deterministic and
 * a tiny model learns to copy. */
#include "testutil.h"

#include "nn/nn_internal.h"

#define V 48

static eef_model *new_model(uint64_t seed)
{
    eef_model_config c;
    assert_ok(eef_model_preset("tiny", V, &c));
    c.max_ctx = 64;
    eef_model *m;
    assert_ok(eef_model_new(&c, NULL, seed, &m));
    return m;
}

static void seq_tokens(int *t, int n, uint64_t seed)
{
    eef_rng r = eef_rng_make(eef_rng_key(seed, 1, 2, 3));
    for (int i = 0; i < n; i++) t[i] = (int)eef_rng_below(&r, V);
}

/* logits of every position of one sequence through the training forward */
static void full_logits(eef_model *m, const int *t, int n, float *logits)
{
    eef_batch b;
    assert_ok(eef_batch_alloc(&b, 1, n));
    for (int i = 0; i < n; i++) b.tokens[i] = t[i], b.targets[i] = 0, b.pos[i] = i;
    double loss;
    assert_ok(eef_model_forward(m, &b, logits, &loss));
    eef_batch_free(&b);
}

static void test_kv_matches_forward(void **state)
{
    (void)state;
    eef_model *m = new_model(1);
    enum { N = 40 };
    int t[N];
    seq_tokens(t, N, 7);
    static float ref[N * V], lg[V];
    full_logits(m, t, N, ref);
    eef_kv *kv;
    assert_ok(eef_kv_new(m, 0, &kv));
    /* fed in uneven chunks: 1, 7, 13, ... */
    int at = 0, chunk = 1;
    while (at < N) {
        int n = at + chunk > N ? N - at : chunk;
        assert_ok(eef_kv_feed(kv, t + at, n, lg));
        at += n;
        for (int v = 0; v < V; v++)
            if (fabsf(lg[v] - ref[(size_t)(at - 1) * V + v]) > 1e-4f)
                fail_msg("position %d token %d: kv %g vs forward %g", at - 1, v, lg[v],
                         ref[(size_t)(at - 1) * V + v]);
        chunk += 6;
    }
    assert_int_equal(eef_kv_len(kv), N);
    /* truncate and refeed gives the same logits again */
    eef_kv_truncate(kv, 10);
    assert_ok(eef_kv_feed(kv, t + 10, 5, lg));
    for (int v = 0; v < V; v++) assert_true(fabsf(lg[v] - ref[(size_t)14 * V + v]) < 1e-4f);
    eef_kv_free(kv);
    eef_model_free(m);
}

static double seq_logprob(eef_model *m, const int *prefix, int np, const int *cont, int nc)
{
    eef_kv *kv;
    float lg[V];
    assert_ok(eef_kv_new(m, 0, &kv));
    assert_ok(eef_kv_feed(kv, prefix, np, lg));
    double lp = 0;
    for (int i = 0; i < nc; i++) {
        lp += lg[cont[i]] - nn_logsumexp(lg, V);
        assert_ok(eef_kv_feed(kv, &cont[i], 1, lg));
    }
    eef_kv_free(kv);
    return lp;
}

static void test_tree_scoring(void **state)
{
    (void)state;
    eef_model *m = new_model(2);
    int prefix[12];
    seq_tokens(prefix, 12, 3);
    int c[4][4] = { { 5, 6, 7, 8 }, { 5, 6, 9, 0 }, { 5, 10, 0, 0 }, { 11, 12, 13, 0 } };
    int len[4] = { 4, 3, 2, 3 };
    eef_trie *t = eef_trie_new();
    for (int i = 0; i < 4; i++) assert_ok(eef_trie_add(t, c[i], len[i], 100 + i));
    eef_kv *kv;
    assert_ok(eef_kv_new(m, 0, &kv));
    assert_ok(eef_kv_feed(kv, prefix, 12, NULL));
    double lp[4];
    assert_ok(eef_score_trie(kv, t, lp));
    assert_int_equal(eef_kv_len(kv), 12); /* scoring leaves the cache alone */
    for (int i = 0; i < 4; i++) {
        double ref = seq_logprob(m, prefix, 12, c[i], len[i]);
        if (fabs(ref - lp[i]) > 1e-4) fail_msg("sequence %d: tree %g vs sequential %g", i, lp[i], ref);
    }
    eef_trie_free(t);
    eef_kv_free(kv);
    eef_model_free(m);
}

static void test_constrained_decoding(void **state)
{
    (void)state;
    eef_model *m = new_model(3);
    int prefix[6];
    seq_tokens(prefix, 6, 4);
    int c[3][3] = { { 20, 21, 22 }, { 20, 23, 24 }, { 30, 31, 32 } };
    eef_trie *t = eef_trie_new();
    for (int i = 0; i < 3; i++) assert_ok(eef_trie_add(t, c[i], 3, i));
    eef_kv *kv;
    assert_ok(eef_kv_new(m, 0, &kv));
    int counts[3] = { 0 };
    double clp[3] = { 0 }; /* log-prob of each sequence under the constraint */
    eef_sampling s = { .temperature = 1.0, .top_p = 1.0 };
    for (int trial = 0; trial < 400; trial++) {
        eef_kv_reset(kv);
        assert_ok(eef_kv_feed(kv, prefix, 6, NULL));
        eef_rng r = eef_rng_make(eef_rng_key(9, (uint64_t)trial, 0, 0));
        eef_choice ch;
        assert_ok(eef_decode_constrained(kv, t, NULL, NULL, 0, &s, &r, &ch));
        assert_in_range(ch.tag, 0, 2);
        assert_int_equal(ch.n, 3);
        assert_memory_equal(ch.tokens, c[ch.tag], 3 * sizeof(int));
        assert_int_equal(eef_kv_len(kv), 9);
        clp[ch.tag] = ch.logprob;
        counts[ch.tag]++;
        eef_choice_free(&ch);
    }
    /* token-level constrained sampling: p(seq) = product over its tokens of
     * p(token) renormalised over the allowed siblings; these sum to 1 and
     * the observed frequencies follow them */
    for (int i = 0; i < 3; i++) assert_true(counts[i] > 0);
    assert_true(fabs(exp(clp[0]) + exp(clp[1]) + exp(clp[2]) - 1.0) < 1e-4);
    for (int i = 0; i < 3; i++) {
        double p = exp(clp[i]), f = counts[i] / 400.0;
        if (fabs(p - f) > 5 * sqrt(p * (1 - p) / 400) + 0.01)
            fail_msg("sequence %d: sampled %.3f, model %.3f", i, f, p);
    }
    /* greedy picks the most likely sequence token by token, twice the same */
    eef_sampling greedy = { 0 };
    int tags[2];
    for (int k = 0; k < 2; k++) {
        eef_kv_reset(kv);
        assert_ok(eef_kv_feed(kv, prefix, 6, NULL));
        eef_rng r = eef_rng_make(k);
        eef_choice ch;
        assert_ok(eef_decode_constrained(kv, t, NULL, NULL, 0, &greedy, &r, &ch));
        tags[k] = ch.tag;
        eef_choice_free(&ch);
    }
    assert_int_equal(tags[0], tags[1]);
    eef_trie_free(t);
    eef_kv_free(kv);
    eef_model_free(m);
}

static void test_packing_isolates(void **state)
{
    (void)state;
    eef_model *m = new_model(4);
    int a[10], b2[14];
    float ma[10], mb[14];
    seq_tokens(a, 10, 1), seq_tokens(b2, 14, 2);
    for (int i = 0; i < 10; i++) ma[i] = i >= 3;
    for (int i = 0; i < 14; i++) mb[i] = i % 2;
    eef_seq s[2] = { { a, ma, 10 }, { b2, mb, 14 } };
    eef_batch packed, one;
    assert_ok(eef_batch_alloc(&packed, 1, 30));
    size_t next = 0;
    eef_batch_pack(&packed, s, 2, &next);
    assert_int_equal(next, 2);
    double lp, la, lb;
    assert_ok(eef_model_forward(m, &packed, NULL, &lp));
    assert_ok(eef_batch_alloc(&one, 1, 30));
    next = 0;
    eef_batch_pack(&one, s, 1, &next);
    assert_ok(eef_model_forward(m, &one, NULL, &la));
    next = 1;
    eef_batch_pack(&one, s, 2, &next);
    assert_ok(eef_model_forward(m, &one, NULL, &lb));
    double wa = 7, wb = 7; /* mask counts of targets 1.. */
    assert_true(fabs(lp - (la * wa + lb * wb) / (wa + wb)) < 1e-5);
    eef_batch_free(&packed);
    eef_batch_free(&one);
    eef_model_free(m);
}

/* The passes skip padding (a position alone in its segment, with no loss):
 * the loss, the log-probs and both backward passes equal those of the same
 * batch with every position computed (a forward that returns all logits
 * computes them all).  The batch has the cases that look like padding but
 * are not: a segment whose first target has no loss, a scored segment of
 * one position, a segment running to its row's end. */
static void grads_of(eef_model *m, const eef_batch *b, int all, const float *coef, float *g,
                     double *loss, float *lp, int *live)
{
    static float logits[2 * 40 * V];
    eef_model_zero_grad(m);
    assert_ok(eef_model_forward(m, b, all ? logits : NULL, loss));
    assert_ok(eef_model_token_logprobs(m, lp));
    *live = m->acts->n_live;
    if (coef)
        assert_ok(eef_model_backward_weighted(m, coef));
    else
        assert_ok(eef_model_backward(m, 1.0f));
    memcpy(g, m->grads, m->n_params * sizeof *g);
}

static void test_padding_skipped(void **state)
{
    (void)state;
    eef_model *m = new_model(6);
    eef_batch b;
    assert_ok(eef_batch_alloc(&b, 2, 40));
    /* (row, start, length, first scored target) of each segment; every
     * other position is padding */
    const int seg[][4] = { { 0, 0, 12, 0 }, { 0, 12, 9, 1 }, { 0, 26, 1, 0 }, { 0, 30, 3, 2 },
                           { 1, 0, 17, 4 }, { 1, 20, 20, 1 } };
    int tok[40];
    for (size_t k = 0; k < EEF_ARRAY_LEN(seg); k++) {
        seq_tokens(tok, 40, 20 + k);
        for (int i = 0; i < seg[k][2]; i++) {
            int n = seg[k][0] * 40 + seg[k][1] + i;
            b.tokens[n] = tok[i], b.targets[n] = tok[(i + 1) % 40], b.pos[n] = i;
            b.mask[n] = i >= seg[k][3] ? 0.5f + 0.5f * (i % 2) : 0.0f;
        }
    }
    float coef[80];
    for (int n = 0; n < 80; n++) coef[n] = b.mask[n] != 0.0f ? 0.1f * (float)(n % 7) - 0.3f : 0.0f;
    size_t np = m->n_params;
    assert_ok(eef_model_ensure_grads(m));
    float *g[2] = { malloc(np * sizeof(float)), malloc(np * sizeof(float)) };
    float lp[2][80];
    double loss[2];
    int live[2];
    for (int weighted = 0; weighted < 2; weighted++) {
        for (int all = 0; all < 2; all++)
            grads_of(m, &b, all, weighted ? coef : NULL, g[all], &loss[all], lp[all], &live[all]);
        assert_int_equal(live[1], 80);
        assert_int_equal(live[0], 12 + 9 + 1 + 3 + 17 + 20); /* the padding skipped */
        assert_true(fabs(loss[0] - loss[1]) <= 1e-6 * fabs(loss[1]));
        for (int n = 0; n < 80; n++) assert_true(fabsf(lp[0][n] - lp[1][n]) <= 1e-5f);
        float gmax = 0.0f;
        for (size_t i = 0; i < np; i++) gmax = fmaxf(gmax, fabsf(g[1][i]));
        assert_true(gmax > 0.0f);
        for (size_t i = 0; i < np; i++)
            if (fabsf(g[0][i] - g[1][i]) > 1e-5f * gmax)
                fail_msg("weighted %d: gradient %zu: %g skipping padding, %g computing it",
                         weighted, i, g[0][i], g[1][i]);
    }
    free(g[0]), free(g[1]);
    eef_batch_free(&b);
    eef_model_free(m);
}

/* ---------------------------------------------------------------- checkpoints */
static void test_checkpoint_roundtrip_and_damage(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char path[512], opath[512];
    eef_path_join(path, sizeof path, dir, "m.eefm");
    eef_path_join(opath, sizeof opath, dir, "m.eefo");
    eef_model *m = new_model(5);
    assert_ok(eef_model_save(m, path));
    eef_model *m2;
    assert_ok(eef_model_load(path, &m2));
    assert_int_equal(m2->n_params, m->n_params);
    assert_memory_equal(m2->params, m->params, m->n_params * sizeof(float));
    assert_memory_equal(&m2->cfg, &m->cfg, sizeof m->cfg);
    eef_model_free(m2);

    eef_adamw_config oc;
    eef_adamw_defaults(&oc);
    eef_adamw *o, *o2;
    assert_ok(eef_adamw_new(&oc, m->n_params, &o));
    o->step = 17;
    for (size_t i = 0; i < o->n; i++) o->m[i] = (float)i, o->v[i] = (float)i * 0.5f;
    assert_ok(eef_adamw_save(o, opath));
    assert_ok(eef_adamw_load(opath, m->n_params, &o2));
    assert_int_equal(o2->step, 17);
    assert_memory_equal(o2->m, o->m, o->n * sizeof(float));
    assert_memory_equal(o2->v, o->v, o->n * sizeof(float));
    eef_adamw_free(o2);
    assert_int_equal(eef_adamw_load(opath, m->n_params + 1, &o2), EEF_EFORMAT);
    eef_adamw_free(o);

    /* damage: every truncation, and flipped bytes, are rejected */
    char *data;
    size_t len;
    assert_ok(eef_read_file(path, &data, &len));
    char bad[512];
    eef_path_join(bad, sizeof bad, dir, "bad.eefm");
    for (size_t cut = 0; cut < len; cut += (cut < 128 ? 1 : 97)) {
        assert_ok(eef_write_file_atomic(bad, data, cut));
        eef_err e = eef_model_load(bad, &m2);
        if (e != EEF_EFORMAT) fail_msg("truncated to %zu bytes: got %d (%s)", cut, e, eef_errmsg());
        assert_non_null(strstr(eef_errmsg(), "bad.eefm"));
    }
    for (size_t at = 0; at < len; at += 61) {
        data[at] ^= 0x10;
        assert_ok(eef_write_file_atomic(bad, data, len));
        assert_int_equal(eef_model_load(bad, &m2), EEF_EFORMAT);
        data[at] ^= 0x10;
    }
    memcpy(data, "XXXX", 4);
    assert_ok(eef_write_file_atomic(bad, data, len));
    assert_int_equal(eef_model_load(bad, &m2), EEF_EFORMAT);
    assert_non_null(strstr(eef_errmsg(), "bad magic"));
    memcpy(data, "EEFM", 4);
    data[4] = 9;
    assert_ok(eef_write_file_atomic(bad, data, len));
    assert_int_equal(eef_model_load(bad, &m2), EEF_EFORMAT);
    assert_non_null(strstr(eef_errmsg(), "version 9"));
    free(data);
    assert_int_equal(eef_model_load("/nonexistent/x.eefm", &m2), EEF_ENOTFOUND);
    eef_model_free(m);
    tu_rmtree(dir);
}

/* ---------------------------------------------------------------- training */
/* Copy task: [random tokens x_1..x_k] SEP [x_1..x_k], loss on the copy.
 * Solving it needs an induction head: the skill an agent needs to copy a
 * product id it has seen in an observation. */
enum { COPY_K = 8, SEP = 1, COPY_LEN = 2 * COPY_K + 1 };

static void copy_example(int *t, float *mk, eef_rng *r)
{
    for (int i = 0; i < COPY_K; i++) t[i] = 2 + (int)eef_rng_below(r, V - 2);
    t[COPY_K] = SEP;
    for (int i = 0; i < COPY_K; i++) t[COPY_K + 1 + i] = t[i];
    for (int i = 0; i < COPY_LEN; i++) mk[i] = i > COPY_K;
}

static double train_copy(eef_model *m, int steps, uint64_t seed)
{
    eef_adamw_config oc;
    eef_adamw_defaults(&oc);
    oc.lr = 3e-3, oc.warmup = 20, oc.total_steps = steps, oc.weight_decay = 0.0;
    eef_adamw *o;
    assert_ok(eef_adamw_new(&oc, m->n_params, &o));
    enum { NS = 16 };
    int toks[NS][COPY_LEN];
    float mk[NS][COPY_LEN];
    eef_seq seqs[NS];
    eef_batch b;
    assert_ok(eef_batch_alloc(&b, 4, 4 * (COPY_LEN - 1)));
    double loss = 0;
    for (int step = 0; step < steps; step++) {
        eef_rng r = eef_rng_make(eef_rng_key(seed, (uint64_t)step, 0, 0));
        for (int i = 0; i < NS; i++) {
            copy_example(toks[i], mk[i], &r);
            seqs[i] = (eef_seq){ toks[i], mk[i], COPY_LEN };
        }
        size_t next = 0;
        eef_batch_pack(&b, seqs, NS, &next);
        eef_model_zero_grad(m);
        assert_ok(eef_model_forward(m, &b, NULL, &loss));
        assert_ok(eef_model_backward(m, 1.0f));
        assert_ok(eef_adamw_step(o, m, NULL));
    }
    eef_batch_free(&b);
    eef_adamw_free(o);
    return loss;
}

static void test_learns_copy(void **state)
{
    (void)state;
    eef_model *m = new_model(6);
    train_copy(m, 600, 11);
    /* greedy accuracy on fresh examples */
    eef_kv *kv;
    assert_ok(eef_kv_new(m, 0, &kv));
    eef_rng r = eef_rng_make(eef_rng_key(999, 0, 0, 0));
    int right = 0, total = 0;
    float lg[V];
    for (int ex = 0; ex < 100; ex++) {
        int t[COPY_LEN];
        float mk[COPY_LEN];
        copy_example(t, mk, &r);
        eef_kv_reset(kv);
        assert_ok(eef_kv_feed(kv, t, COPY_K + 1, lg));
        for (int i = 0; i < COPY_K; i++) {
            int pred = eef_sample_token(lg, V, NULL, NULL);
            right += pred == t[COPY_K + 1 + i], total++;
            assert_ok(eef_kv_feed(kv, &t[COPY_K + 1 + i], 1, lg)); /* teacher forcing */
        }
    }
    double acc = (double)right / total;
    printf("copy accuracy after 600 steps: %.3f\n", acc);
    assert_true(acc > 0.95);
    eef_kv_free(kv);
    eef_model_free(m);
}

static void test_training_deterministic(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char p1[512], p2[512];
    eef_path_join(p1, sizeof p1, dir, "a.eefm");
    eef_path_join(p2, sizeof p2, dir, "b.eefm");
    for (int k = 0; k < 2; k++) {
        eef_model *m = new_model(8);
        train_copy(m, 30, 5);
        assert_ok(eef_model_save(m, k ? p2 : p1));
        eef_model_free(m);
    }
    char *a, *b;
    size_t la, lb;
    assert_ok(eef_read_file(p1, &a, &la));
    assert_ok(eef_read_file(p2, &b, &lb));
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    free(a), free(b);
    tu_rmtree(dir);
}

static void test_lr_schedule(void **state)
{
    (void)state;
    eef_adamw_config c;
    eef_adamw_defaults(&c);
    c.lr = 1.0, c.warmup = 10, c.total_steps = 110, c.min_lr_frac = 0.1;
    eef_adamw *o;
    assert_ok(eef_adamw_new(&c, 1, &o));
    o->step = 0;
    assert_true(fabs(eef_adamw_lr(o) - 0.1) < 1e-12);
    o->step = 9;
    assert_true(fabs(eef_adamw_lr(o) - 1.0) < 1e-12);
    o->step = 60;
    assert_true(fabs(eef_adamw_lr(o) - 0.55) < 1e-12); /* half-way down the cosine */
    o->step = 110;
    assert_true(fabs(eef_adamw_lr(o) - 0.1) < 1e-12);
    eef_adamw_free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kv_matches_forward),
        cmocka_unit_test(test_tree_scoring),
        cmocka_unit_test(test_constrained_decoding),
        cmocka_unit_test(test_packing_isolates),
        cmocka_unit_test(test_padding_skipped),
        cmocka_unit_test(test_checkpoint_roundtrip_and_damage),
        cmocka_unit_test(test_lr_schedule),
        cmocka_unit_test(test_training_deterministic),
        cmocka_unit_test(test_learns_copy),
    };
    return cmocka_run_group_tests_name("nn", tests, NULL, NULL);
}

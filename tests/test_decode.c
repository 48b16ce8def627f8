/* Decoding: the row kernel of nn_matmul (a row's result does not depend
 * on the rows decoded with it) and batched decoding (src/nn/decode.c). */
#include "testutil.h"

#include "nn/nn_internal.h"

static eef_rng rng;

static void fill(float *p, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++) p[i] = scale * eef_rng_normal(&rng);
}

/* Every row of a product of up to 32 rows has the bits it has alone, for
 * f32, bf16 and f16 weights, shapes with tails (rows not a multiple of 4,
 * columns not a multiple of 16), with 1 and 2 threads; and agrees with a
 * double-precision sum to float rounding (|error| <= 1e-5 sum |w x|). */
static void test_rows_independent(void **state)
{
    (void)state;
    eef_nn_init();
    rng = eef_rng_make(41);
    const int shapes[][2] = { { 37, 53 }, { 64, 128 }, { 300, 576 }, { 1031, 24 } };
    const eef_dtype types[] = { EEF_DT_F32, EEF_DT_BF16, EEF_DT_F16 };
    enum { N = 32 };
    const int max_threads = omp_get_max_threads();
    for (size_t s = 0; s < EEF_ARRAY_LEN(shapes); s++)
        for (size_t t = 0; t < EEF_ARRAY_LEN(types); t++) {
            const int O = shapes[s][0], I = shapes[s][1];
            float *wf = malloc((size_t)O * I * sizeof(float));
            float *x = malloc((size_t)N * I * sizeof(float));
            float *y = malloc((size_t)N * O * sizeof(float)), *y1 = malloc((size_t)O * sizeof(float));
            uint16_t *w16 = malloc((size_t)O * I * sizeof(uint16_t));
            fill(wf, (size_t)O * I, 1.0f);
            fill(x, (size_t)N * I, 1.0f);
            eef_tensor w = { .dtype = types[t], .rows = O, .cols = I, .data = wf };
            if (types[t] != EEF_DT_F32) {
                for (size_t i = 0; i < (size_t)O * I; i++) {
                    w16[i] = types[t] == EEF_DT_BF16 ? nn_f32_to_bf16(wf[i]) : nn_f32_to_f16(wf[i]);
                }
                nn_tensor_rows_f32(&(eef_tensor){ .dtype = types[t], .rows = O, .cols = I, .data = w16 },
                                   0, O, wf); /* the exact values the kernel sees */
                w.data = w16;
            }
            for (int threads = 1; threads <= 2; threads++) {
                omp_set_num_threads(threads);
                const int counts[] = { 1, 2, 3, 5, 8, 17, 31, N };
                for (size_t c = 0; c < EEF_ARRAY_LEN(counts); c++) {
                    const int n = counts[c];
                    assert_ok(nn_matmul(y, O, x, I, &w, n));
                    for (int r = 0; r < n; r += n > 8 ? 7 : 1) {
                        assert_ok(nn_matmul(y1, O, x + (size_t)r * I, I, &w, 1));
                        if (memcmp(y1, y + (size_t)r * O, (size_t)O * sizeof(float)))
                            fail_msg("%s %dx%d: row %d of %d differs from the row alone (%d threads)",
                                     eef_dtype_name(types[t]), O, I, r, n, threads);
                    }
                }
                assert_ok(nn_matmul(y1, O, x, I, &w, 1)); /* row 0 against double sums */
                for (int o = 0; o < O; o++) {
                    double ref = 0, mag = 0;
                    for (int i = 0; i < I; i++) {
                        ref += (double)wf[(size_t)o * I + i] * x[i];
                        mag += fabs((double)wf[(size_t)o * I + i] * x[i]);
                    }
                    if (fabs(y1[o] - ref) > 1e-5 * mag)
                        fail_msg("%s %dx%d: y[%d] = %.9g, double sum %.9g", eef_dtype_name(types[t]),
                                 O, I, o, y1[o], ref);
                }
            }
            omp_set_num_threads(max_threads);
            free(wf), free(x), free(y), free(y1), free(w16);
        }
}

/* A grouped-query model with biases and q/k norms (all perturbed from
 * their initial 0 and 1), frozen to `dtype` unless F32. */
static eef_model *test_model(eef_dtype dtype)
{
    eef_model_config c = { .vocab = 300, .d_model = 64, .n_layers = 2, .n_heads = 4, .d_ff = 96,
                           .max_ctx = 512, .rope_theta = 10000.0f, .norm_eps = 1e-5f,
                           .n_kv_heads = 2, .head_dim = 16, .qkv_bias = 1, .qk_norm = 1,
                           .rope_layout = EEF_ROPE_HALF };
    eef_model *m;
    assert_ok(eef_model_new(&c, NULL, 7, &m));
    eef_rng r = eef_rng_make(8);
    const eef_weights *w = &m->w;
    const int L = c.n_layers, W = (c.n_heads + 2 * c.n_kv_heads) * c.head_dim;
    for (int i = 0; i < L * W; i++) w->bqkv[i] = 0.1f * eef_rng_normal(&r);
    for (int i = 0; i < L * c.head_dim; i++) w->q_norm[i] = 1 + 0.2f * eef_rng_normal(&r);
    for (int i = 0; i < L * c.head_dim; i++) w->k_norm[i] = 1 + 0.2f * eef_rng_normal(&r);
    for (int i = 0; i < L * c.d_model; i++) w->attn_norm[i] = 1 + 0.2f * eef_rng_normal(&r);
    if (dtype != EEF_DT_F32) assert_ok(eef_model_freeze(m, dtype));
    return m;
}

static int argmax(const float *x, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

/* Batched decoding against decoding each sequence alone: S sequences with
 * prompts of different lengths, decoded greedily; a sequence ends after
 * its own number of tokens and the next one (a new prompt) takes its
 * place, so the batch changes size and membership from step to step.
 * Every logit of every sequence must equal, bit for bit, the one decoding
 * that sequence alone gives (tolerance 0: the row kernel sums each dot
 * the same way whatever the batch; the attention is each sequence's own),
 * for f32 and bf16 weights, with 1 and 2 threads. */
static void test_batched_equals_single(void **state)
{
    (void)state;
    enum { S = 12, B = 5, MAXLEN = 40 };
    const int max_threads = omp_get_max_threads();
    const eef_dtype types[] = { EEF_DT_F32, EEF_DT_BF16 };
    for (size_t t = 0; t < EEF_ARRAY_LEN(types); t++)
        for (int threads = 1; threads <= 2; threads++) {
            omp_set_num_threads(threads);
            eef_model *m = test_model(types[t]);
            const int V = m->cfg.vocab;
            int prompt_len[S], gen_len[S], prompts[S][MAXLEN];
            eef_rng r = eef_rng_make(3);
            for (int i = 0; i < S; i++) {
                prompt_len[i] = 1 + (int)eef_rng_below(&r, 30);
                gen_len[i] = 1 + (int)eef_rng_below(&r, 12);
                for (int j = 0; j < prompt_len[i]; j++) prompts[i][j] = (int)eef_rng_below(&r, V);
            }
            /* alone: the logits before each generated token */
            float *ref = malloc((size_t)S * 13 * V * sizeof(float));
            eef_kv *kv;
            assert_ok(eef_kv_new(m, 0, &kv));
            for (int i = 0; i < S; i++) {
                eef_kv_reset(kv);
                float *lg = ref + (size_t)i * 13 * V;
                assert_ok(eef_kv_feed(kv, prompts[i], prompt_len[i], lg));
                for (int g = 0; g < gen_len[i]; g++) {
                    int tok = argmax(lg + (size_t)g * V, V);
                    assert_ok(eef_kv_feed(kv, &tok, 1, lg + (size_t)(g + 1) * V));
                }
            }
            eef_kv_free(kv);
            /* batched: B slots kept full from the queue of S sequences */
            eef_kvb *kb;
            assert_ok(eef_kvb_new(m, B, &kb));
            eef_kv *slot[B];
            int seq[B], done[B], next = 0, active = 0;
            for (int b = 0; b < B; b++) {
                assert_ok(eef_kv_new(m, 0, &slot[b]));
                seq[b] = -1;
            }
            float *logits = malloc((size_t)B * V * sizeof(float));
            for (;;) {
                /* refill ended slots (a new prompt, fed alone) */
                for (int b = 0; b < B; b++)
                    if (seq[b] < 0 && next < S) {
                        seq[b] = next++, done[b] = 0, active++;
                        eef_kv_reset(slot[b]);
                        assert_ok(eef_kv_feed(slot[b], prompts[seq[b]], prompt_len[seq[b]], NULL));
                        if (memcmp(eef_kv_logits(slot[b]), ref + (size_t)seq[b] * 13 * V, (size_t)V * 4))
                            fail_msg("prompt logits of sequence %d differ", seq[b]);
                    }
                if (!active) break;
                eef_kv *kvs[B];
                int toks[B], who[B], n = 0;
                for (int b = 0; b < B; b++) {
                    if (seq[b] < 0) continue;
                    const float *lg = ref + ((size_t)seq[b] * 13 + done[b]) * V;
                    kvs[n] = slot[b], toks[n] = argmax(lg, V), who[n] = b, n++;
                }
                assert_ok(eef_kv_step(kb, kvs, toks, n, logits));
                for (int k = 0; k < n; k++) {
                    int b = who[k], i = seq[b];
                    done[b]++;
                    const float *want = ref + ((size_t)i * 13 + done[b]) * V;
                    if (memcmp(logits + (size_t)k * V, want, (size_t)V * sizeof(float)) ||
                        memcmp(eef_kv_logits(slot[b]), want, (size_t)V * sizeof(float)))
                        fail_msg("%s, %d threads: sequence %d token %d: batched logits differ "
                                 "from decoding alone", eef_dtype_name(types[t]), threads, i, done[b]);
                    if (done[b] == gen_len[i]) seq[b] = -1, active--;
                }
            }
            for (int b = 0; b < B; b++) eef_kv_free(slot[b]);
            eef_kvb_free(kb);
            free(logits);
            free(ref);
            eef_model_free(m);
        }
    omp_set_num_threads(max_threads);
}

/* Shared prefixes: caches copied from one that holds a prefix continue
 * exactly as a cache that computed the prefix itself (fed in the same
 * chunks) does, whether the copy takes the whole prefix or stops at a
 * chunk boundary and feeds the rest; and a misuse is refused. */
static void test_prefix_sharing(void **state)
{
    (void)state;
    eef_model *m = test_model(EEF_DT_F32);
    const int V = m->cfg.vocab;
    enum { P = 50, CH = 16, T = 6 };
    int prefix[P], cont[T];
    eef_rng r = eef_rng_make(5);
    for (int i = 0; i < P; i++) prefix[i] = (int)eef_rng_below(&r, V);
    for (int i = 0; i < T; i++) cont[i] = (int)eef_rng_below(&r, V);
    eef_kv *a, *fresh, *fork, *part;
    assert_ok(eef_kv_new(m, 0, &a));
    assert_ok(eef_kv_new(m, 0, &fresh));
    assert_ok(eef_kv_new(m, 0, &fork));
    assert_ok(eef_kv_new(m, 0, &part));
    for (int at = 0; at < P; at += CH) {
        int n = P - at < CH ? P - at : CH;
        assert_ok(eef_kv_feed(a, prefix + at, n, NULL));
        assert_ok(eef_kv_feed(fresh, prefix + at, n, NULL));
    }
    assert_ok(eef_kv_feed(fork, cont, 3, NULL)); /* dst content is replaced */
    assert_ok(eef_kv_copy(fork, a, P));
    assert_int_equal(eef_kv_len(fork), P);
    assert_memory_equal(eef_kv_logits(fork), eef_kv_logits(a), (size_t)V * sizeof(float));
    assert_ok(eef_kv_copy(part, a, 2 * CH));
    assert_null(eef_kv_logits(part)); /* not all of a: no logits */
    assert_ok(eef_kv_feed(part, prefix + 2 * CH, CH, NULL));
    assert_ok(eef_kv_feed(part, prefix + 3 * CH, P - 3 * CH, NULL));
    assert_memory_equal(eef_kv_logits(part), eef_kv_logits(fresh), (size_t)V * sizeof(float));
    /* continuing: the fork and the partial copy, batched, against fresh alone */
    eef_kvb *kb;
    assert_ok(eef_kvb_new(m, 2, &kb));
    for (int i = 0; i < T; i++) {
        float want[300];
        assert_ok(eef_kv_feed(fresh, &cont[i], 1, want));
        eef_kv *kvs[2] = { fork, part };
        int toks[2] = { cont[i], cont[i] };
        assert_ok(eef_kv_step(kb, kvs, toks, 2, NULL));
        assert_memory_equal(eef_kv_logits(fork), want, sizeof want);
        assert_memory_equal(eef_kv_logits(part), want, sizeof want);
    }
    assert_int_equal(eef_kv_len(a), P); /* the source is untouched */
    /* misuse */
    assert_int_not_equal(eef_kv_copy(part, a, P + 1), EEF_OK);
    eef_kv *twice[2] = { fork, fork };
    int toks[2] = { 1, 2 };
    assert_int_not_equal(eef_kv_step(kb, twice, toks, 2, NULL), EEF_OK);
    eef_kv *three[3] = { fork, part, a };
    int toks3[3] = { 1, 2, 3 };
    assert_int_not_equal(eef_kv_step(kb, three, toks3, 3, NULL), EEF_OK);
    int bad[2] = { 1, V };
    eef_kv *kvs[2] = { fork, part };
    assert_int_not_equal(eef_kv_step(kb, kvs, bad, 2, NULL), EEF_OK);
    assert_int_equal(eef_kv_len(fork), P + T); /* refused steps change nothing */
    eef_kvb_free(kb);
    eef_kv_free(a), eef_kv_free(fresh), eef_kv_free(fork), eef_kv_free(part);
    eef_model_free(m);
}

/* Prompts fed in rows (eef_kv_rows, eef_kv_feed_rows) against feeding
 * one token at a time with eef_kv_feed: the logits after any prefix are
 * the same bits however the tokens were grouped (chunks of a 32-row
 * buffer, two caches interleaved in one step, a copy of a prefix of any
 * length continued in rows), for f32 and bf16 weights, 1 and 2 threads,
 * with the AVX-512 tiles and with the plain loops a CPU without them runs
 * (nn_tiles_avx512 = 0; their logits within 1e-4 of the tiles'). */
static void test_rows_exact(void **state)
{
    (void)state;
    enum { P = 75, R = 32 };
    const int max_threads = omp_get_max_threads();
    const eef_dtype types[] = { EEF_DT_F32, EEF_DT_BF16 };
    float *tiled[2] = { NULL, NULL }; /* per type: the tiles' logits after every token */
    for (int plain = 0; plain <= 1; plain++)
        for (size_t t = 0; t < EEF_ARRAY_LEN(types); t++)
            for (int threads = 1; threads <= 2; threads++) {
                nn_tiles_avx512 = !plain;
                omp_set_num_threads(threads);
                eef_model *m = test_model(types[t]);
                const int V = m->cfg.vocab;
                int toks[P];
                eef_rng r = eef_rng_make(11);
                for (int i = 0; i < P; i++) toks[i] = (int)eef_rng_below(&r, V);
                float *ref = malloc((size_t)P * V * sizeof(float)); /* after token i */
                eef_kv *one, *a, *b, *c;
                assert_ok(eef_kv_new(m, 0, &one));
                for (int i = 0; i < P; i++) assert_ok(eef_kv_feed(one, &toks[i], 1, ref + (size_t)i * V));
                if (!plain && !tiled[t]) {
                    tiled[t] = malloc((size_t)P * V * sizeof(float));
                    memcpy(tiled[t], ref, (size_t)P * V * sizeof(float));
                } else if (plain) {
                    for (size_t i = 0; i < (size_t)P * V; i++)
                        if (fabsf(ref[i] - tiled[t][i]) > 1e-4f * (1.0f + fabsf(tiled[t][i])))
                            fail_msg("%s: plain loops' logit %zu %.8g, the tiles' %.8g",
                                     eef_dtype_name(types[t]), i, ref[i], tiled[t][i]);
                }
                assert_ok(eef_kv_new(m, 0, &a));
                assert_ok(eef_kv_new(m, 0, &b));
                assert_ok(eef_kv_new(m, 0, &c));
                eef_kvb *kb;
                assert_ok(eef_kvb_new(m, R, &kb));
                /* a: 51 tokens in rows, then the rest one by one */
                assert_ok(eef_kv_feed_rows(kb, a, toks, 51));
                assert_int_equal(eef_kv_len(a), 51);
                assert_memory_equal(eef_kv_logits(a), ref + (size_t)50 * V, (size_t)V * sizeof(float));
                for (int i = 51; i < P; i++) {
                    assert_ok(eef_kv_feed(a, &toks[i], 1, NULL));
                    if (memcmp(eef_kv_logits(a), ref + (size_t)i * V, (size_t)V * sizeof(float)))
                        fail_msg("%s, %d threads: token %d after rows differs", eef_dtype_name(types[t]),
                                 threads, i);
                }
                /* b and c interleaved in steps of R rows: b 2 a step, c the rest */
                int nb = 0, nc = 0;
                while (nb < P || nc < P) {
                    eef_kv *kvs[R];
                    int tk[R], n = 0;
                    for (int k = 0; k < 2 && nb < P; k++) kvs[n] = b, tk[n++] = toks[nb++];
                    while (n < R && nc < P) kvs[n] = c, tk[n++] = toks[nc++];
                    assert_ok(eef_kv_rows(kb, kvs, tk, n));
                    assert_int_equal(eef_kv_len(b), nb);
                    assert_int_equal(eef_kv_len(c), nc);
                    if (memcmp(eef_kv_logits(b), ref + (size_t)(nb - 1) * V, (size_t)V * sizeof(float)) ||
                        memcmp(eef_kv_logits(c), ref + (size_t)(nc - 1) * V, (size_t)V * sizeof(float)))
                        fail_msg("%s, %d threads: interleaved rows differ at %d, %d",
                                 eef_dtype_name(types[t]), threads, nb, nc);
                }
                /* a copy of 23 tokens (no boundary of anything) continued in rows */
                assert_ok(eef_kv_copy(a, c, 23));
                assert_ok(eef_kv_feed_rows(kb, a, toks + 23, P - 23));
                assert_memory_equal(eef_kv_logits(a), ref + (size_t)(P - 1) * V, (size_t)V * sizeof(float));
                eef_kvb_free(kb);
                eef_kv_free(one), eef_kv_free(a), eef_kv_free(b), eef_kv_free(c);
                free(ref);
                eef_model_free(m);
            }
    nn_tiles_avx512 = 1;
    free(tiled[0]), free(tiled[1]);
    omp_set_num_threads(max_threads);
}

/* A cache whose slots grow as it fills (a context of more than 4,096
 * tokens starts with 256 and doubles) against one that has every slot
 * from the start: the same logits to the bit after every token, fed one
 * at a time and in rows, and a copy taken after the growth continues
 * alike.  The keys are cached transposed, a row per head dimension, so a
 * growth moves every row (ensure_slots). */
static void test_cache_growth(void **state)
{
    (void)state;
    enum { P = 600 };
    eef_model_config c = { .vocab = 200, .d_model = 32, .n_layers = 2, .n_heads = 2, .d_ff = 64,
                           .max_ctx = 5000, .rope_theta = 10000.0f, .norm_eps = 1e-5f,
                           .n_kv_heads = 1, .head_dim = 16 };
    eef_model *m;
    assert_ok(eef_model_new(&c, NULL, 5, &m));
    const int V = c.vocab;
    int toks[P];
    eef_rng r = eef_rng_make(21);
    for (int i = 0; i < P; i++) toks[i] = (int)eef_rng_below(&r, V);
    eef_kv *fixed, *grow, *rows, *copy;
    assert_ok(eef_kv_new(m, P, &fixed)); /* every slot at once */
    assert_ok(eef_kv_new(m, 0, &grow));  /* 256, 512, 1024 */
    assert_ok(eef_kv_new(m, 0, &rows));
    assert_ok(eef_kv_new(m, 0, &copy));
    eef_kvb *kb;
    assert_ok(eef_kvb_new(m, 32, &kb));
    float *a = malloc((size_t)V * sizeof(float)), *b = malloc((size_t)V * sizeof(float));
    for (int i = 0; i < P; i++) {
        assert_ok(eef_kv_feed(fixed, &toks[i], 1, a));
        assert_ok(eef_kv_feed(grow, &toks[i], 1, b));
        if (memcmp(a, b, (size_t)V * sizeof(float))) fail_msg("token %d: a grown cache differs", i);
    }
    assert_ok(eef_kv_feed_rows(kb, rows, toks, P));
    assert_memory_equal(eef_kv_logits(rows), a, (size_t)V * sizeof(float));
    /* a copy of 300 tokens of the grown cache into a cache of 256 slots, continued */
    assert_ok(eef_kv_copy(copy, grow, 300));
    assert_ok(eef_kv_feed_rows(kb, copy, toks + 300, P - 300));
    assert_memory_equal(eef_kv_logits(copy), a, (size_t)V * sizeof(float));
    free(a), free(b);
    eef_kvb_free(kb);
    eef_kv_free(fixed), eef_kv_free(grow), eef_kv_free(rows), eef_kv_free(copy);
    eef_model_free(m);
}

/* Constrained decoding in lockstep (eef_cdec + eef_kv_step) against
 * eef_decode_constrained on each sequence alone: the same choices (tags,
 * tokens, log-probabilities to the bit) and the same caches, sampling at
 * temperature 1 with each sequence's own rng, through a trie with a
 * free-text slot; sequences finish at different steps. */
static void test_constrained_lockstep(void **state)
{
    (void)state;
    enum { S = 6, P = 20 };
    eef_model *m = test_model(EEF_DT_BF16);
    const int V = m->cfg.vocab;
    eef_trie *trie = eef_trie_new();
    const int a1[] = { 10, 11, 12 }, a2[] = { 10, 13 }, a3[] = { 14, 15, 16, 17 }, fp[] = { 20, 21 };
    assert_ok(eef_trie_add(trie, a1, 3, 0));
    assert_ok(eef_trie_add(trie, a2, 2, 1));
    assert_ok(eef_trie_add(trie, a3, 4, 2));
    assert_ok(eef_trie_add_free(trie, fp, 2, -2));
    eef_sampling smp = { .temperature = 1.0, .top_p = 1.0 };
    int prompts[S][P];
    eef_rng r = eef_rng_make(17);
    for (int i = 0; i < S; i++)
        for (int j = 0; j < P; j++) prompts[i][j] = (int)eef_rng_below(&r, V);
    eef_choice alone[S];
    float *alone_logits = malloc((size_t)S * V * sizeof(float));
    int alone_len[S];
    for (int i = 0; i < S; i++) {
        eef_kv *kv;
        assert_ok(eef_kv_new(m, 0, &kv));
        assert_ok(eef_kv_feed(kv, prompts[i], P, NULL));
        eef_rng rng = eef_rng_make(100 + (uint64_t)i);
        assert_ok(eef_decode_constrained(kv, trie, NULL, NULL, 5, &smp, &rng, &alone[i]));
        alone_len[i] = eef_kv_len(kv);
        memcpy(alone_logits + (size_t)i * V, eef_kv_logits(kv), (size_t)V * sizeof(float));
        eef_kv_free(kv);
    }
    eef_kv *kv[S];
    eef_cdec *cd[S];
    eef_rng rng[S];
    int pending[S], done[S], left = S;
    for (int i = 0; i < S; i++) {
        assert_ok(eef_kv_new(m, 0, &kv[i]));
        assert_ok(eef_kv_feed(kv[i], prompts[i], P, NULL));
        rng[i] = eef_rng_make(100 + (uint64_t)i);
        assert_ok(eef_cdec_new(kv[i], trie, NULL, NULL, 5, &smp, &rng[i], &cd[i]));
        assert_ok(eef_cdec_next(cd[i], eef_kv_logits(kv[i]), &pending[i], &done[i]));
    }
    eef_kvb *kb;
    assert_ok(eef_kvb_new(m, S, &kb));
    while (left) {
        eef_kv *kvs[S];
        int toks[S], who[S], n = 0;
        for (int i = 0; i < S; i++)
            if (pending[i] >= 0) kvs[n] = kv[i], toks[n] = pending[i], who[n++] = i;
        assert_ok(eef_kv_step(kb, kvs, toks, n, NULL));
        for (int k = 0; k < n; k++) {
            int i = who[k];
            pending[i] = -1;
            if (!done[i]) assert_ok(eef_cdec_next(cd[i], eef_kv_logits(kv[i]), &pending[i], &done[i]));
        }
        left = 0;
        for (int i = 0; i < S; i++) left += pending[i] >= 0;
    }
    int tags = 0;
    for (int i = 0; i < S; i++) {
        assert_true(done[i]);
        eef_choice ch;
        eef_cdec_take(cd[i], &ch);
        assert_int_equal(ch.tag, alone[i].tag);
        assert_int_equal(ch.n, alone[i].n);
        assert_memory_equal(ch.tokens, alone[i].tokens, (size_t)ch.n * sizeof(int));
        assert_memory_equal(&ch.logprob, &alone[i].logprob, sizeof(double));
        assert_int_equal(eef_kv_len(kv[i]), alone_len[i]);
        assert_memory_equal(eef_kv_logits(kv[i]), alone_logits + (size_t)i * V, (size_t)V * sizeof(float));
        tags |= 1 << (ch.tag + 2);
        eef_choice_free(&ch);
        eef_choice_free(&alone[i]);
        eef_cdec_free(cd[i]);
        eef_kv_free(kv[i]);
    }
    assert_true(__builtin_popcount((unsigned)tags) >= 2); /* not all the same choice */
    eef_kvb_free(kb);
    eef_trie_free(trie);
    free(alone_logits);
    eef_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_independent),
        cmocka_unit_test(test_batched_equals_single),
        cmocka_unit_test(test_prefix_sharing),
        cmocka_unit_test(test_rows_exact),
        cmocka_unit_test(test_cache_growth),
        cmocka_unit_test(test_constrained_lockstep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests of src/dist: trajectories cross the wire bit-exactly and damaged
 * records are refused; the one-process group shares out every work item
 * once and reports the error of a batch; the sharded gradient is the
 * tree sum of its shards' gradients, bit for bit, and the full batch's
 * to float tolerance; and, where an MPI build and mpirun exist, two ranks
 * of `eef run --preset tiny` write the same bytes as one process with the
 * same shards. */
#include "testutil.h"

#include "dist/dist.h"

#include <sys/stat.h>

/* ------------------------------------------------------------ wire */
static void make_traj(eef_traj *t, int variant)
{
    eef_traj_init(t);
    assert_ok(eef_traj_set(&t->id, "shop-train-7/00ab"));
    assert_ok(eef_traj_set(&t->env, "shop"));
    assert_ok(eef_traj_set(&t->task, "shop-train-7"));
    assert_ok(eef_traj_set(&t->source, "agent"));
    if (variant == 0) {
        /* every field, a reward with no short decimal form, UTF-8 text */
        assert_ok(eef_traj_set(&t->instruction, "a blue m\xc3\xbcg, under $20"));
        assert_ok(eef_traj_set(&t->final_obs, "Thank you for shopping"));
        assert_ok(eef_traj_set(&t->extra, "{\"note\":\"x\"}"));
        t->split = 0, t->index = 7, t->tier = 2;
        t->reward = 1.0 / 3.0;
        assert_ok(eef_traj_push(t, "WebShop [SEP] Search", "search[blue mug]", 0));
        assert_ok(eef_traj_push(t, "", "click[B0001]", 1));
        assert_ok(eef_traj_push(t, "page\nwith\ttabs", "click[Buy Now]", 1));
    } else if (variant == 1) {
        t->reward = 1.0, t->win = 1; /* no optional field, no step */
    } else {
        t->reward = -0.0;
        assert_ok(eef_traj_push(t, "only", "look", 1));
    }
}

static void test_wire_roundtrip(void **state)
{
    (void)state;
    eef_traj t[3];
    eef_buf b;
    eef_buf_init(&b);
    for (int v = 0; v < 3; v++) {
        make_traj(&t[v], v);
        assert_ok(eef_dist_traj_pack(&b, 1000u + (uint64_t)v, &t[v]));
    }
    size_t pos = 0;
    for (int v = 0; v < 3; v++) {
        eef_traj u;
        uint64_t item;
        assert_ok(eef_dist_traj_unpack(b.data, b.len, &pos, &item, &u));
        assert_int_equal(item, 1000 + v);
        assert_true(eef_traj_equal(&t[v], &u));
        assert_memory_equal(&t[v].reward, &u.reward, sizeof u.reward); /* -0.0, 1/3: exact */
        assert_int_equal(u.split, t[v].split);
        assert_int_equal(u.index, t[v].index);
        assert_int_equal(u.tier, t[v].tier);
        assert_true((u.instruction == NULL) == (t[v].instruction == NULL));
        eef_traj_free(&u);
        eef_traj_free(&t[v]);
    }
    assert_int_equal(pos, b.len);
    eef_buf_free(&b);
}

static void expect_bad(const char *data, size_t len, const char *words)
{
    size_t pos = 0;
    uint64_t item;
    eef_traj u;
    eef_err e = eef_dist_traj_unpack(data, len, &pos, &item, &u);
    if (e != EEF_EFORMAT) fail_msg("accepted a bad record (%zu bytes, want '%s')", len, words);
    if (!strstr(eef_errmsg(), words)) fail_msg("message '%s' lacks '%s'", eef_errmsg(), words);
    assert_null(u.id); /* nothing left to free */
    assert_int_equal(pos, 0);
}

static void test_wire_malformed(void **state)
{
    (void)state;
    eef_traj t;
    make_traj(&t, 0);
    eef_buf b;
    eef_buf_init(&b);
    assert_ok(eef_dist_traj_pack(&b, 5, &t));
    /* every truncation is refused */
    for (size_t n = 0; n < b.len; n++)
        expect_bad(b.data, n, n < 5 ? "bad magic" : "trajectory record at byte 0: ");
    char *x = malloc(b.len);
    assert_non_null(x);
    memcpy(x, b.data, b.len);
    x[0] = 'X';
    expect_bad(x, b.len, "bad magic");
    memcpy(x, b.data, b.len);
    x[4] = 9;
    expect_bad(x, b.len, "version 9");
    /* the last step's mask byte is the record's last byte */
    memcpy(x, b.data, b.len);
    x[b.len - 1] = 2;
    expect_bad(x, b.len, "step mask is 2");
    /* a NUL inside the id (first string, after magic, version, item, length) */
    memcpy(x, b.data, b.len);
    x[4 + 1 + 8 + 4 + 2] = 0;
    expect_bad(x, b.len, "NUL byte inside id");
    free(x);
    /* a step count the data cannot hold */
    eef_traj e;
    make_traj(&e, 1);
    eef_buf c;
    eef_buf_init(&c);
    assert_ok(eef_dist_traj_pack(&c, 0, &e));
    memset(c.data + c.len - 8, 0x7f, 8);
    expect_bad(c.data, c.len, "steps cannot fit");
    eef_buf_free(&c);
    eef_traj_free(&e);
    eef_buf_free(&b);
    eef_traj_free(&t);
}

/* ------------------------------------------------------------ one process */
static void test_single_group(void **state)
{
    (void)state;
    assert_ok(eef_dist_init(NULL, NULL));
    assert_int_equal(eef_dist_rank(), 0);
    assert_int_equal(eef_dist_size(), 1);
    float f[3] = { 1, 2, 3 };
    assert_ok(eef_dist_sum_f32(f, 3));
    assert_true(f[0] == 1 && f[1] == 2 && f[2] == 3);
    char *all;
    size_t len, of[1];
    assert_ok(eef_dist_allgather("abc", 3, &all, &len, of));
    assert_int_equal(len, 3);
    assert_int_equal(of[0], 3);
    assert_string_equal(all, "abc");
    free(all);
}

static void test_work_items_once(void **state)
{
    (void)state;
    const size_t n = 1000;
    eef_traj *out = calloc(n, sizeof *out);
    int *seen = calloc(n, sizeof *seen);
    assert_true(out && seen);
    eef_dist_work *w;
    assert_ok(eef_dist_work_begin(n, &w));
#pragma omp parallel
    {
        size_t i;
        while (eef_dist_work_next(w, &i)) {
#pragma omp atomic
            seen[i]++;
            eef_traj_init(&out[i]);
            out[i].index = (long)i;
        }
    }
    assert_ok(eef_dist_work_end(w, out, EEF_OK, 0, NULL));
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(seen[i], 1);
        assert_int_equal(out[i].index, (long)i);
    }
    /* a failed batch: its error comes back and the trajectories are freed */
    assert_ok(eef_dist_work_begin(3, &w));
    size_t i;
    while (eef_dist_work_next(w, &i)) make_traj(&out[i], 0);
    assert_int_equal(eef_dist_work_end(w, out, EEF_ESTATE, 1, "rollout 1: prefix invalid"),
                     EEF_ESTATE);
    assert_string_equal(eef_errmsg(), "rollout 1: prefix invalid");
    for (i = 0; i < 3; i++) assert_null(out[i].id);
    /* an empty batch */
    assert_ok(eef_dist_work_begin(0, &w));
    assert_false(eef_dist_work_next(w, &i));
    assert_ok(eef_dist_work_end(w, out, EEF_OK, 0, NULL));
    free(seen);
    free(out);
}

/* ------------------------------------------------------------ gradients */
#define V 48
#define ROWS 4
#define COLS 32

static eef_model *new_model(void)
{
    eef_model_config c;
    assert_ok(eef_model_preset("tiny", V, &c));
    c.max_ctx = 64;
    eef_model *m;
    assert_ok(eef_model_new(&c, NULL, 11, &m));
    return m;
}

/* Two sequences per row, loss on some positions; row 2 scores nothing. */
static void fill_batch(eef_batch *b)
{
    eef_rng r = eef_rng_make(eef_rng_key(5, 6, 7, 8));
    for (int i = 0; i < ROWS * COLS; i++) {
        int row = i / COLS, p = i % COLS;
        b->tokens[i] = (int)eef_rng_below(&r, V);
        b->targets[i] = (int)eef_rng_below(&r, V);
        b->pos[i] = p < 20 ? p : p - 20;
        b->mask[i] = row != 2 && eef_rng_below(&r, 3) == 0 ? 1.0f : 0.0f;
    }
}

static float *grad_copy(const eef_model *m)
{
    float *g = malloc(m->n_params * sizeof *g);
    assert_non_null(g);
    memcpy(g, m->grads, m->n_params * sizeof *g);
    return g;
}

/* The gradient of rows [r0, r1) scaled by their share of the mask. */
static float *part_grad(eef_model *m, const eef_batch *b, int r0, int r1, double *lsum)
{
    eef_batch p = { .B = r1 - r0, .T = COLS, .tokens = b->tokens + r0 * COLS,
                    .targets = b->targets + r0 * COLS, .mask = b->mask + r0 * COLS,
                    .pos = b->pos + r0 * COLS };
    double ms = eef_batch_mask_count(&p), loss;
    eef_model_zero_grad(m);
    assert_ok(eef_model_forward(m, &p, NULL, &loss));
    assert_ok(eef_model_backward(m, (float)(ms / eef_batch_mask_count(b))));
    *lsum = loss * ms;
    return grad_copy(m);
}

static void test_grad_shards(void **state)
{
    (void)state;
    eef_model *m = new_model();
    eef_batch b;
    assert_ok(eef_batch_alloc(&b, ROWS, COLS));
    fill_batch(&b);
    size_t n = m->n_params;
    double mt = eef_batch_mask_count(&b);
    assert_true(mt > 0);

    /* one shard: the plain forward and backward, bit for bit */
    double l1, lp;
    assert_ok(eef_dist_grad(m, &b, 1, &l1));
    float *g1 = grad_copy(m);
    eef_model_zero_grad(m);
    assert_ok(eef_model_forward(m, &b, NULL, &lp));
    assert_ok(eef_model_backward(m, 1.0f));
    assert_memory_equal(g1, m->grads, n * sizeof(float));
    assert_true(l1 == lp);

    /* two shards: exactly left + right, loss from the summed parts */
    double l2, la, lb;
    float *ga = part_grad(m, &b, 0, 2, &la), *gb = part_grad(m, &b, 2, 4, &lb);
    assert_ok(eef_dist_grad(m, &b, 2, &l2));
    for (size_t i = 0; i < n; i++)
        if (m->grads[i] != ga[i] + gb[i]) fail_msg("shards 2: element %zu differs", i);
    assert_true(l2 == (la + lb) / mt);

    /* four shards: ((r0 + r1) + (r2 + r3)), row 2 scoring nothing */
    double l4, lr[4];
    float *gr[4];
    for (int r = 0; r < 4; r++) gr[r] = part_grad(m, &b, r, r + 1, &lr[r]);
    assert_ok(eef_dist_grad(m, &b, 4, &l4));
    double gmax = 0, dmax = 0;
    for (size_t i = 0; i < n; i++) {
        float want = (gr[0][i] + gr[1][i]) + (gr[2][i] + gr[3][i]);
        if (m->grads[i] != want) fail_msg("shards 4: element %zu differs", i);
        gmax = fmax(gmax, fabs(g1[i]));
        dmax = fmax(dmax, fabs((double)g1[i] - m->grads[i]));
    }
    assert_true(l4 == ((lr[0] + lr[1]) + (lr[2] + lr[3])) / mt);
    /* and the whole batch's gradient, up to float rounding */
    assert_true(gmax > 0);
    if (dmax > 1e-5 * gmax) fail_msg("shards 4 vs 1: max diff %g of max %g", dmax, gmax);
    /* (the rows' logits round differently in a smaller product) */
    assert_true(fabs(l4 - l1) < 1e-6 * fabs(l1));

    /* uneven shards (rows 1, 1, 2) are allowed; more shards than rows not */
    double l3;
    assert_ok(eef_dist_grad(m, &b, 3, &l3));
    assert_true(fabs(l3 - l1) < 1e-6 * fabs(l1));
    assert_int_equal(eef_dist_grad(m, &b, 5, &l3), EEF_EINVAL);
    assert_non_null(strstr(eef_errmsg(), "only 4 rows"));

    /* nothing scored: loss 0 and a zero gradient, however sharded */
    for (int i = 0; i < ROWS * COLS; i++) b.mask[i] = 0;
    assert_ok(eef_dist_grad(m, &b, 2, &l2));
    assert_true(l2 == 0.0);
    for (size_t i = 0; i < n; i++) assert_true(m->grads[i] == 0.0f);

    for (int r = 0; r < 4; r++) free(gr[r]);
    free(ga), free(gb), free(g1);
    eef_batch_free(&b);
    eef_model_free(m);
}

/* With LoRA adapters attached the trainable set is the adapters: the
 * shards' gradients are theirs (the frozen base has none), added in the
 * same tree, and what the all-reduce sums (lora->grads, n_params of the
 * adapters). */
static void test_grad_shards_lora(void **state)
{
    (void)state;
    eef_model *m = new_model();
    assert_ok(eef_model_freeze(m, EEF_DT_F32));
    eef_lora_config lc;
    eef_lora_defaults(&lc);
    lc.rank = 2, lc.alpha = 4;
    eef_lora *a;
    assert_ok(eef_lora_new(&m->cfg, &lc, 3, &a));
    /* B = 0 would give A no gradient: a small random B */
    eef_rng r = eef_rng_make(eef_rng_key(9, 9, 9, 9));
    for (size_t i = 0; i < a->n_params; i++)
        if (a->params[i] == 0) a->params[i] = 0.02f * (float)(2 * eef_rng_uniform(&r) - 1);
    assert_ok(eef_lora_attach(m, a));
    eef_batch b;
    assert_ok(eef_batch_alloc(&b, ROWS, COLS));
    fill_batch(&b);
    const size_t n = a->n_params;
    float *ga = malloc(n * sizeof *ga), *gb = malloc(n * sizeof *gb);
    double lh[2] = { 0, 0 }, l1, l2;
    eef_batch half[2];
    for (int h = 0; h < 2; h++) {
        half[h] = (eef_batch){ .B = 2, .T = COLS, .tokens = b.tokens + h * 2 * COLS,
                               .targets = b.targets + h * 2 * COLS, .mask = b.mask + h * 2 * COLS,
                               .pos = b.pos + h * 2 * COLS };
        double ms = eef_batch_mask_count(&half[h]), loss;
        eef_model_zero_grad(m);
        assert_ok(eef_model_forward(m, &half[h], NULL, &loss));
        assert_ok(eef_model_backward(m, (float)(ms / eef_batch_mask_count(&b))));
        memcpy(h ? gb : ga, a->grads, n * sizeof *ga);
        lh[h] = loss * ms;
    }
    assert_ok(eef_dist_grad(m, &b, 1, &l1));
    double gmax = 0;
    for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(a->grads[i]));
    assert_true(gmax > 0);
    assert_ok(eef_dist_grad(m, &b, 2, &l2));
    for (size_t i = 0; i < n; i++)
        if (a->grads[i] != ga[i] + gb[i]) fail_msg("LoRA shards 2: element %zu differs", i);
    assert_true(l2 == (lh[0] + lh[1]) / eef_batch_mask_count(&b));
    assert_null(m->grads); /* nothing allocated for the frozen base */
    free(ga), free(gb);
    eef_batch_free(&b);
    eef_lora_attach(m, NULL);
    eef_lora_free(a);
    eef_model_free(m);
}

/* ------------------------------------------------------------ MPI runs */
static void test_mpi_run_equals_one_process(void **state)
{
    (void)state;
    const char *mpi_eef = getenv("EEF_MPI");
    struct stat st;
    if (!mpi_eef || stat(mpi_eef, &st) != 0 || tu_sh("command -v mpirun >/dev/null 2>&1") != 0) {
        printf("test_dist: the mpirun test is skipped: no MPI build (it runs where Open MPI "
               "is installed: scripts/install-deps mpi; or make test-mpi)\n");
        skip();
    }
    char *dir = tu_tmpdir();
    /* leak reports of the MPI library itself (sanitizer builds: MPI_Init's
       allocations in libopen-pal, hwloc and dlopened components) are not ours */
    const char *no_lsan = "ASAN_OPTIONS=detect_leaks=0";
    /* eef version names the MPI it runs on; the serial build says it has none */
    assert_int_equal(tu_sh("%s %s version > %s/version.txt", no_lsan, mpi_eef, dir), 0);
    char vp[600];
    snprintf(vp, sizeof vp, "%s/version.txt", dir);
    assert_true(tu_file_contains(vp, "\nmpi: Open MPI v"));
    assert_true(tu_file_contains(vp, "(built with Open MPI "));
    assert_int_equal(tu_sh("%s version > %s/version.txt", tu_eef(), dir), 0);
    assert_true(tu_file_contains(vp, "\nmpi: none (built without MPI=1)\n"));
    const char *run = "run --method eef --preset tiny --quiet --threads 1";
    int rc = tu_sh("%s mpirun -np 2 --oversubscribe --bind-to none %s %s %s --out %s/mpi "
                "> %s/mpi.log 2>&1", no_lsan, getuid() == 0 ? "--allow-run-as-root" : "", mpi_eef,
                run, dir, dir);
    if (rc != 0) {
        tu_sh("tail -20 %s/mpi.log", dir);
        fail_msg("mpirun -np 2 eef run failed (rc %d)", rc);
    }
    assert_int_equal(tu_sh("%s %s --shards 2 --out %s/one > %s/one.log 2>&1", tu_eef(), run, dir, dir), 0);
    const char *files[] = { "config.json", "state.json", "expert_train.jsonl", "expert_test.jsonl",
                            "sft.eefm", "sft.json", "metrics.jsonl", "iter_0/eval.jsonl",
                            "iter_1/rft.jsonl", "iter_1/eef.jsonl", "iter_1/eef_states.jsonl",
                            "iter_1/explore.json", "iter_1/train.json", "iter_1/model.eefm",
                            "iter_1/eval.jsonl" };
    for (size_t i = 0; i < EEF_ARRAY_LEN(files); i++)
        if (tu_sh("cmp -s %s/mpi/%s %s/one/%s", dir, files[i], dir, files[i]) != 0)
            fail_msg("%s differs between 2 ranks and one process", files[i]);
    tu_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_roundtrip),   cmocka_unit_test(test_wire_malformed),
        cmocka_unit_test(test_single_group),     cmocka_unit_test(test_work_items_once),
        cmocka_unit_test(test_grad_shards),      cmocka_unit_test(test_grad_shards_lora),
        cmocka_unit_test(test_mpi_run_equals_one_process),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* eef train --model M --lora R | --full, end to end through the CLI, on a
 * tiny random Hugging Face-layout model with Qwen3's (reduced) tokenizer
 * and chat format, on expert trajectories of the house world:
 *   - a run killed while writing its second checkpoint resumes and ends
 *     with the same bytes as an uninterrupted run (LoRA: the PEFT files
 *     and state.eefl; full: model.safetensors and optimizer.eefo);
 *   - the adapters train (the loss falls) and `eef export --format hf
 *     --merge` gives one model whose logits equal base + adapters;
 *   - --full --bf16 (mixed precision) gives the same bytes run after run;
 *   - memory the machine lacks is refused with both figures;
 *   - bad combinations of options are usage errors.
 */
#include "testutil.h"

#include "nn/nn.h"
#include "nn/nn_internal.h"

#include <signal.h>

static char *g_dir;

static void same_bytes(const char *a, const char *b)
{
    char pa[1024], pb[1024];
    snprintf(pa, sizeof pa, "%s/%s", g_dir, a);
    snprintf(pb, sizeof pb, "%s/%s", g_dir, b);
    if (!tu_same_file(pa, pb)) fail_msg("%s differs from %s", a, b);
}

static int setup(void **state)
{
    (void)state;
    g_dir = tu_tmpdir();
    /* the model: Qwen3's tokenizer ids reach 151668 */
    eef_model_config c = { .vocab = 151680, .d_model = 32, .n_layers = 2, .n_heads = 4,
                           .n_kv_heads = 2, .head_dim = 16, .d_ff = 64, .max_ctx = 512, .tied = 1,
                           .rope_theta = 1e6f, .norm_eps = 1e-6f, .qk_norm = 1,
                           .rope_layout = EEF_ROPE_HALF };
    eef_model *m;
    assert_ok(eef_model_new(&c, NULL, 11, &m));
    char p[1024];
    snprintf(p, sizeof p, "%s/base", g_dir);
    assert_ok(eef_model_export(m, "hf", p));
    eef_model_free(m);
    char root[1024];
    assert_non_null(realpath(".", root)); /* tests run from the repository's root */
    assert_int_equal(tu_sh_in(g_dir, "cp %s/tests/fixtures/hf_tok/qwen3/tokenizer.json "
                         "%s/tests/fixtures/hf_tok/qwen3/tokenizer_config.json base/", root, root), 0);
    assert_int_equal(tu_sh_in(g_dir, "%s expert --env house --env-opt train=6,test=1 --out h.jsonl --quiet "
                         ">/dev/null 2>&1", tu_eef()), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(g_dir);
    return 0;
}

#define TRAIN "train --model base --data h.jsonl --batch 2 --seq 160 --steps 6 --save-every 2 --quiet"

static void test_lora_kill_resume(void **state)
{
    (void)state;
    assert_int_equal(tu_sh_in(g_dir, "%s " TRAIN " --lora 4 --lr 1e-2 --out ref.lora > lora.log 2>&1", tu_eef()), 0);
    char p[1024];
    snprintf(p, sizeof p, "%s/lora.log", g_dir);
    assert_true(tu_file_contains(p, "trained 6 steps"));
    /* the first checkpoint's state file takes 15 writes: killed in the second */
    int rc = tu_sh_in(g_dir, "EEF_CRASH_AT=afile.write@state.eefl:20 %s " TRAIN " --lora 4 --lr 1e-2 --out k.lora "
                 ">/dev/null 2>&1", tu_eef());
    assert_int_equal(rc, 128 + SIGKILL);
    assert_int_equal(tu_sh_in(g_dir, "%s " TRAIN " --lora 4 --lr 1e-2 --out k.lora --resume > resume.log 2>&1",
                         tu_eef()), 0);
    snprintf(p, sizeof p, "%s/resume.log", g_dir);
    assert_true(tu_file_contains(p, "resuming k.lora at step 2"));
    same_bytes("k.lora/state.eefl", "ref.lora/state.eefl");
    same_bytes("k.lora/adapter_model.safetensors", "ref.lora/adapter_model.safetensors");
    /* another rank on resume is refused */
    assert_int_equal(tu_sh_in(g_dir, "%s " TRAIN " --lora 8 --out k.lora --resume >/dev/null 2>&1", tu_eef()), 1);
}

/* The adapters of the run above, merged, against base + adapters. */
static void test_merge_export(void **state)
{
    (void)state;
    assert_int_equal(tu_sh_in(g_dir, "%s export --format hf --merge ref.lora merged >/dev/null 2>&1", tu_eef()), 0);
    char p[1024];
    eef_model *base, *merged;
    snprintf(p, sizeof p, "%s/base", g_dir);
    assert_ok(eef_model_load(p, &base));
    snprintf(p, sizeof p, "%s/merged", g_dir);
    assert_ok(eef_model_load(p, &merged));
    eef_lora *a;
    snprintf(p, sizeof p, "%s/ref.lora", g_dir);
    assert_ok(eef_lora_load(p, &base->cfg, &a));
    assert_ok(eef_lora_attach(base, a));
    eef_batch b;
    assert_ok(eef_batch_alloc(&b, 1, 24));
    for (int i = 0; i < 24; i++) b.tokens[i] = (i * 7919) % 151000, b.pos[i] = i, b.mask[i] = 1;
    const size_t n = 24 * (size_t)base->cfg.vocab;
    float *l1 = malloc(n * sizeof(float)), *l2 = malloc(n * sizeof(float));
    double x, y;
    assert_ok(eef_model_forward(base, &b, l1, &x));
    assert_ok(eef_model_forward(merged, &b, l2, &y));
    double d = 0, mx = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)l1[i] - l2[i])), mx = fmax(mx, fabs(l1[i]));
    printf("merged vs base + adapters: max |diff| %.2e (max |logit| %.2f)\n", d, mx);
    assert_true(d < 1e-4 * fmax(1, mx));
    /* the adapters moved the model */
    eef_lora_attach(base, NULL);
    assert_ok(eef_model_forward(base, &b, l2, &y));
    d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)l1[i] - l2[i]));
    assert_true(d > 1e-3);
    free(l1), free(l2);
    eef_batch_free(&b);
    eef_lora_free(a);
    eef_model_free(base);
    eef_model_free(merged);
}

static void test_full_kill_resume(void **state)
{
    (void)state;
    assert_int_equal(tu_sh_in(g_dir, "EEF_CRASH_LOG=full.hits %s " TRAIN " --full --out ref.full >/dev/null 2>&1",
                         tu_eef()), 0);
    /* killed halfway through the second checkpoint's weights file (its
     * writes per checkpoint counted from the uninterrupted run's log) */
    char p[1024];
    snprintf(p, sizeof p, "%s/full.hits", g_dir);
    char *log;
    size_t len;
    assert_ok(eef_read_file(p, &log, &len));
    int writes = 0;
    for (char *q = log; (q = strstr(q, "afile.write\t")); q++)
        writes += strncmp(strchr(q, '\n') - 17, "model.safetensors", 17) == 0;
    free(log);
    assert_int_equal(writes % 3, 0); /* 3 checkpoints of 6 steps */
    int rc = tu_sh_in(g_dir, "EEF_CRASH_AT=afile.write@model.safetensors:%d %s " TRAIN " --full --out k.full "
                 ">/dev/null 2>&1", writes / 3 + writes / 6, tu_eef());
    assert_int_equal(rc, 128 + SIGKILL);
    assert_int_equal(tu_sh_in(g_dir, "%s " TRAIN " --full --out k.full --resume >/dev/null 2>&1", tu_eef()), 0);
    same_bytes("k.full/model.safetensors", "ref.full/model.safetensors");
    same_bytes("k.full/optimizer.eefo", "ref.full/optimizer.eefo");
}

/* --full --bf16: mixed precision where the CPU has AVX-512 BF16 (other
 * bytes than f32's, the same bytes run after run); elsewhere a warning
 * and the f32 run's bytes. */
static void test_full_bf16(void **state)
{
    (void)state;
    assert_int_equal(tu_sh_in(g_dir, "%s " TRAIN " --full --out f32.full >/dev/null 2>&1", tu_eef()), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(tu_sh_in(g_dir, "%s " TRAIN " --full --bf16 --out bf%d.full 2>bf%d.log", tu_eef(), i, i), 0);
    same_bytes("bf0.full/model.safetensors", "bf1.full/model.safetensors");
    same_bytes("bf0.full/optimizer.eefo", "bf1.full/optimizer.eefo");
    char a[1024], b[1024];
    snprintf(a, sizeof a, "%s/bf0.full/model.safetensors", g_dir);
    snprintf(b, sizeof b, "%s/f32.full/model.safetensors", g_dir);
    int warned = tu_sh_in(g_dir, "grep -q 'no AVX-512 BF16' bf0.log") == 0;
    assert_int_equal(warned, !nn_bf16mm_ok());
    assert_int_equal(tu_same_file(a, b), warned);
}

static void test_refusals(void **state)
{
    (void)state;
    char p[1024];
    /* on a machine with 1 byte free: the figure and the machine's */
    assert_int_equal(tu_sh_in(g_dir, "EEF_MEM_AVAILABLE=1 %s " TRAIN " --full --out big > big.log 2>&1",
                         tu_eef()), 1);
    snprintf(p, sizeof p, "%s/big.log", g_dir);
    assert_true(tu_file_contains(p, "full fine-tuning needs"));
    assert_true(tu_file_contains(p, "GiB available"));
    char *log;
    size_t len;
    assert_ok(eef_read_file(p, &log, &len));
    double need = strtod(strstr(log, "needs ") + 6, NULL) * 1073741824.0;
    free(log);
    assert_true(need > 50e6);
    /* with 5% less than full fine-tuning needs: refused; LoRA of the same
     * model (no f32 gradients or moments of 5 M weights) fits */
    assert_int_equal(tu_sh_in(g_dir, "EEF_MEM_AVAILABLE=%.0f %s " TRAIN " --full --out big >/dev/null 2>&1",
                         0.95 * need, tu_eef()), 1);
    assert_int_equal(tu_sh_in(g_dir, "EEF_MEM_AVAILABLE=%.0f %s " TRAIN " --steps 1 --lora 2 --out small "
                         ">/dev/null 2>&1", 0.95 * need, tu_eef()), 0);
    assert_int_equal(tu_sh_in(g_dir, "%s train --model base --data h.jsonl --out x >/dev/null 2>&1", tu_eef()), 2);
    assert_int_equal(tu_sh_in(g_dir, "%s train --model base --data h.jsonl --lora 4 --full --out x >/dev/null 2>&1",
                         tu_eef()), 2);
    assert_int_equal(tu_sh_in(g_dir, "%s train --data h.jsonl --lora 4 --out x >/dev/null 2>&1", tu_eef()), 2);
    assert_int_equal(tu_sh_in(g_dir, "%s train --model base --data h.jsonl --lora 4 --lora-targets q,x "
                         "--out x > t.log 2>&1", tu_eef()), 1);
    snprintf(p, sizeof p, "%s/t.log", g_dir);
    assert_true(tu_file_contains(p, "unknown projection 'x'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lora_kill_resume),
        cmocka_unit_test(test_merge_export),
        cmocka_unit_test(test_full_kill_resume),
        cmocka_unit_test(test_full_bf16), cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests_name("eef train --model", tests, setup, teardown);
}

/* eef run --model M --lora R: the whole pipeline on an imported model, end
 * to end through the CLI, on a tiny random Hugging Face-layout model (D 32,
 * 2 layers, GQA, q/k norms) with a small Hugging Face BPE tokenizer and a
 * ChatML template (SmolLM2's form: no <think>), in the house world:
 *   - SFT -> RFT (--from the SFT run) -> EEF (--from the RFT run) on the
 *     tiny preset, each phase saving adapters in PEFT's layout;
 *   - the EEF run killed while writing its iteration's adapters resumes and
 *     ends with the same bytes as the uninterrupted one;
 *   - runs killed inside a phase (SFT's and the iteration's training steps,
 *     the exploration's and the evaluation's rollouts; LoRA, full tuning
 *     of the base, eef's own model) resume inside it, to the same bytes;
 *   - `eef export --format hf --merge` of the last adapters gives one model
 *     whose logits equal base + adapters (max |diff| <= 1e-4 max(1, |logit|):
 *     the merge rounds W + s B A to f32 once, the attached path adds
 *     x W^T and s (x A^T) B^T separately);
 *   - a run resumed, or taken --from, with another base (or without
 *     --model) is refused with both bases named.
 */
#include "testutil.h"

#include "agent/policy.h"
#include "nn/nn.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>

static char *g_dir;

static const char *in_dir(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", g_dir, name);
    return buf;
}

/* SmolLM2's template without its default system prompt: plain ChatML. */
static const char chatml_config[] =
    "{\"bos_token\": null, \"eos_token\": \"<|im_end|>\",\n"
    " \"chat_template\": \"{% for message in messages %}{{'<|im_start|>' + message['role'] + "
    "'\\\\n' + message['content'] + '<|im_end|>' + '\\\\n'}}{% endfor %}{% if "
    "add_generation_prompt %}{{ '<|im_start|>assistant\\\\n' }}{% endif %}\"}\n";

/* A small Hugging Face tokenizer with a chat format: eef's exported BPE
 * (tests/fixtures/hf_tok/eef, 962 ids) with ChatML's two specials added
 * as 962 and 963 in place of eef's agent tokens, no bos framing.  (Qwen3's
 * reduced tokenizer would do, but its ids reach 151668: an embedding 150
 * times larger makes every decoded token cost that much more.) */
static void write_tokenizer(const char *dir)
{
    char *text;
    size_t len;
    assert_ok(eef_read_file("tests/fixtures/hf_tok/eef/tokenizer.json", &text, &len));
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    assert_non_null(j);
    cJSON *added = cJSON_CreateArray();
    const char *names[] = { "<|im_start|>", "<|im_end|>" };
    for (int i = 0; i < 2; i++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddNumberToObject(t, "id", 962 + i);
        cJSON_AddStringToObject(t, "content", names[i]);
        cJSON_AddBoolToObject(t, "single_word", 0);
        cJSON_AddBoolToObject(t, "lstrip", 0);
        cJSON_AddBoolToObject(t, "rstrip", 0);
        cJSON_AddBoolToObject(t, "normalized", 0);
        cJSON_AddBoolToObject(t, "special", 1);
        cJSON_AddItemToArray(added, t);
    }
    cJSON_ReplaceItemInObjectCaseSensitive(j, "added_tokens", added);
    cJSON_ReplaceItemInObjectCaseSensitive(j, "post_processor", cJSON_CreateNull());
    char *out = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    char p[1200];
    snprintf(p, sizeof p, "%s/tokenizer.json", dir);
    assert_ok(eef_write_file_atomic(p, out, strlen(out)));
    cJSON_free(out);
    snprintf(p, sizeof p, "%s/tokenizer_config.json", dir);
    assert_ok(eef_write_file_atomic(p, chatml_config, strlen(chatml_config)));
}

static void make_base(const char *name, uint64_t seed)
{
    eef_model_config c = { .vocab = 1024, .d_model = 32, .n_layers = 2, .n_heads = 4,
                           .n_kv_heads = 2, .head_dim = 16, .d_ff = 64, .max_ctx = 512, .tied = 1,
                           .rope_theta = 1e6f, .norm_eps = 1e-6f, .qk_norm = 1,
                           .rope_layout = EEF_ROPE_HALF };
    eef_model *m;
    assert_ok(eef_model_new(&c, NULL, seed, &m));
    char p[1024];
    assert_ok(eef_model_export(m, "hf", in_dir(p, sizeof p, name)));
    eef_model_free(m);
    write_tokenizer(p); /* tests run from the repository's root */
}

static int setup(void **state)
{
    (void)state;
    g_dir = tu_tmpdir();
    make_base("base", 11);
    make_base("other", 12);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(g_dir);
    return 0;
}

#define RUN "run --preset tiny --env house --env-opt train=6,test=3 --quiet --lora 4"
/* the EEF run: 3 epochs in its iteration (3 steps), so that a kill can
 * fall inside that training */
#define EEF_RUN "--method eef --iter-epochs 3 --from rft"

static void same_bytes(const char *a, const char *b)
{
    char pa[1024], pb[1024];
    if (!tu_same_file(in_dir(pa, sizeof pa, a), in_dir(pb, sizeof pb, b)))
        fail_msg("%s differs from %s", a, b);
}

/* The prompt of a chat model is a conversation: the mask on the actions'
 * content and their end of turn, nothing on the framing. */
static void test_chat_prompt(void **state)
{
    (void)state;
    char p[1024];
    eef_tokenizer *tok;
    assert_ok(eef_tok_load_file(in_dir(p, sizeof p, "base"), &tok));
    assert_string_equal(eef_tok_chat_name(tok), "chatml");
    const char *obs[] = { "You are in a room.", "You see a mug.", "Done." };
    const char *acts[] = { "look", "take mug" };
    const int mask[] = { 0, 1 };
    eef_prompt pr = { 0 };
    const eef_env_text *text = eef_env_text_of(NULL);
    assert_ok(eef_prompt_build(tok, text, "put a mug on the table", obs, 2, acts, mask, 2, 512, &pr));
    eef_buf b;
    eef_buf_init(&b);
    assert_ok(eef_tok_decode(tok, pr.tokens, (size_t)pr.n, &b));
    char *act = text->render_action("take mug", obs[1]);
    eef_buf want;
    eef_buf_init(&want);
    char *o0 = text->render_obs(obs[0], "put a mug on the table");
    char *o1 = text->render_obs(obs[1], "put a mug on the table");
    char *a0 = text->render_action("look", obs[0]);
    eef_buf_printf(&want, "<|im_start|>system\nput a mug on the table<|im_end|>\n<|im_start|>user\n%s"
                   "<|im_end|>\n<|im_start|>assistant\n%s<|im_end|>\n<|im_start|>user\n%s<|im_end|>\n"
                   "<|im_start|>assistant\n%s<|im_end|>\n", o0, a0, o1, act);
    assert_string_equal(b.data, want.data);
    /* trained: exactly the second action's tokens and its <|im_end|> */
    eef_buf tr;
    eef_buf_init(&tr);
    for (int i = 0; i < pr.n; i++)
        if (pr.mask[i] > 0) assert_ok(eef_tok_decode(tok, &pr.tokens[i], 1, &tr));
    eef_buf want_tr;
    eef_buf_init(&want_tr);
    eef_buf_printf(&want_tr, "%s<|im_end|>", act);
    assert_string_equal(tr.data, want_tr.data);
    /* the acting prompt (one observation more) is the training one's prefix */
    eef_prompt pa = { 0 };
    assert_ok(eef_prompt_build(tok, text, "put a mug on the table", obs, 2, acts, NULL, 1, 512, &pa));
    assert_true(pa.n < pr.n);
    assert_memory_equal(pa.tokens, pr.tokens, (size_t)pa.n * sizeof(int));
    /* over budget: shorter, and still ends in the generation prompt */
    eef_prompt ps = { 0 };
    assert_ok(eef_prompt_build(tok, text, "put a mug on the table", obs, 2, acts, NULL, 1, 40, &ps));
    assert_true(ps.n <= 40);
    assert_memory_equal(ps.tokens + ps.n - 3, pa.tokens + pa.n - 3, 3 * sizeof(int));
    free(act), free(o0), free(o1), free(a0);
    eef_buf_free(&b), eef_buf_free(&want), eef_buf_free(&tr), eef_buf_free(&want_tr);
    eef_prompt_free(&pr), eef_prompt_free(&pa), eef_prompt_free(&ps);
    eef_tok_free(tok);
}

static void test_pipeline(void **state)
{
    (void)state;
    assert_int_equal(tu_sh_in(g_dir, "%s " RUN " --method sft --model base --out sft > sft.log 2>&1", tu_eef()), 0);
    assert_int_equal(tu_sh_in(g_dir, "%s " RUN " --method rft --model base --from sft --out rft > rft.log 2>&1",
                         tu_eef()), 0);
    assert_int_equal(tu_sh_in(g_dir, "%s " RUN " " EEF_RUN " --model base --out eef > eef.log 2>&1",
                         tu_eef()), 0);
    char p[1024];
    /* adapters in PEFT's layout, the base's identity recorded */
    const char *files[] = { "sft/sft.lora/adapter_config.json", "sft/sft.lora/adapter_model.safetensors",
                            "eef/iter_1/model.lora/adapter_model.safetensors", "eef/base.json",
                            "eef/metrics.jsonl", "eef/iter_1/eef_states.jsonl" };
    for (size_t i = 0; i < EEF_ARRAY_LEN(files); i++)
        if (!eef_file_exists(in_dir(p, sizeof p, files[i]))) fail_msg("%s missing", files[i]);
    assert_true(tu_file_contains(in_dir(p, sizeof p, "eef/iter_1/model.lora/adapter_config.json"),
                                 "\"r\": 4"));
    assert_true(tu_file_contains(in_dir(p, sizeof p, "eef/base.json"), "\"weights_hash\""));
    /* the SFT adapters are the base run's */
    same_bytes("eef/sft.lora/adapter_model.safetensors", "sft/sft.lora/adapter_model.safetensors");

    /* killed while writing the iteration's adapters, resumed: the same bytes */
    assert_int_equal(tu_sh_in(g_dir, "EEF_CRASH_AT=afile.write@model.lora/adapter_model.safetensors:1 %s " RUN
                         " " EEF_RUN " --model base --out killed > k.log 2>&1", tu_eef()),
                     128 + SIGKILL);
    assert_int_equal(tu_sh_in(g_dir, "%s " RUN " " EEF_RUN " --model base --out killed > k2.log 2>&1",
                         tu_eef()), 0);
    const char *same[] = { "metrics.jsonl", "iter_1/model.lora/adapter_model.safetensors",
                           "iter_1/model.lora/adapter_config.json", "iter_1/eef.jsonl",
                           "iter_1/eval.jsonl", "iter_1/train.json", "base.json" };
    for (size_t i = 0; i < EEF_ARRAY_LEN(same); i++) {
        char a[256], b[256];
        snprintf(a, sizeof a, "eef/%s", same[i]);
        snprintf(b, sizeof b, "killed/%s", same[i]);
        same_bytes(a, b);
    }
}

/* A run killed inside a phase resumes inside it: SFT and the iteration's
 * training continue from their last resume point (EEF_CKPT_SECONDS=0: one
 * after every step), the rollouts of exploration and evaluation from
 * their journal (EEF_JOURNAL_CHUNK=2: one every 2 rollouts); each rerun
 * says where it resumed, none redoes a phase, and the last ends with the
 * bytes of the runs never stopped. */
#define INSIDE "EEF_CKPT_SECONDS=0 EEF_JOURNAL_CHUNK=2 "

static void killed_at(const char *point, const char *args, const char *out, const char *log)
{
    assert_int_equal(tu_sh_in(g_dir, INSIDE "EEF_CRASH_AT='%s' %s " RUN " %s --model base --out %s > %s 2>&1",
                         point, tu_eef(), args, out, log), 128 + SIGKILL);
}

static void log_has(const char *log, const char *what)
{
    char p[1024];
    if (!tu_file_contains(in_dir(p, sizeof p, log), what)) fail_msg("%s: no '%s'", log, what);
}

/* "PHASE: resuming at step AT of N", N the steps the uninterrupted run
 * made (its `file`, relative to the test's directory). */
static const char *resumed_at(const char *phase, int at, const char *file, char *buf, size_t cap)
{
    char p[1200], *text;
    size_t len;
    snprintf(p, sizeof p, "%s/%s", g_dir, file);
    assert_ok(eef_read_file(p, &text, &len));
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    assert_non_null(j);
    const cJSON *st = cJSON_GetObjectItem(j, "steps");
    assert_true(cJSON_IsNumber(st) && st->valueint > at);
    snprintf(buf, cap, "%s: resuming at step %d of %d", phase, at, st->valueint);
    cJSON_Delete(j);
    return buf;
}

static void test_resume_inside_phases(void **state)
{
    (void)state;
    char p[1024];
    /* SFT (at least 2 steps): killed while committing its first resume
     * point, then after its second step (the first one's committed) */
    killed_at("afile.write@sft.ckpt.json:1", "--method sft", "sft_k", "s1.log");
    assert_true(eef_file_exists(in_dir(p, sizeof p, "sft_k/sft.ckpt.1.eefl")));
    assert_false(eef_file_exists(in_dir(p, sizeof p, "sft_k/sft.ckpt.json")));
    killed_at("progress@sft:2", "--method sft", "sft_k", "s2.log");
    assert_true(eef_file_exists(in_dir(p, sizeof p, "sft_k/sft.ckpt.json")));
    assert_int_equal(tu_sh_in(g_dir, "%s " RUN " --method sft --model base --out sft_k > s3.log 2>&1", tu_eef()), 0);
    char want[64];
    log_has("s3.log", resumed_at("sft", 1, "sft/sft.json", want, sizeof want));
    same_bytes("sft/sft.lora/adapter_model.safetensors", "sft_k/sft.lora/adapter_model.safetensors");
    same_bytes("sft/sft.json", "sft_k/sft.json");
    same_bytes("sft/metrics.jsonl", "sft_k/metrics.jsonl");
    assert_false(eef_file_exists(in_dir(p, sizeof p, "sft_k/sft.ckpt.json")));

    /* the same for full fine-tuning of the base and for eef's own model
     * (resume points: the weights' .eefm and the optimizer's .eefo) */
    const char *own = "run --preset tiny --env house --env-opt train=6,test=3 --quiet --method sft";
    const char *kinds[] = { "--model base --full", "" };
    for (int k = 0; k < 2; k++) {
        assert_int_equal(tu_sh_in(g_dir, "%s %s %s --out f%d > f.log 2>&1", tu_eef(), own, kinds[k], k), 0);
        assert_int_equal(tu_sh_in(g_dir, INSIDE "EEF_CRASH_AT=progress@sft:2 %s %s %s --out f%d_k > f1.log 2>&1",
                             tu_eef(), own, kinds[k], k), 128 + SIGKILL);
        snprintf(p, sizeof p, "%s/f%d_k/sft.ckpt.1.eefo", g_dir, k);
        assert_true(eef_file_exists(p));
        assert_int_equal(tu_sh_in(g_dir, "%s %s %s --out f%d_k > f2.log 2>&1", tu_eef(), own, kinds[k], k), 0);
        char a[64], b[64];
        snprintf(a, sizeof a, "f%d/sft.json", k);
        log_has("f2.log", resumed_at("sft", 1, a, want, sizeof want));
        const char *names[] = { "sft.eefm", "sft.json", "metrics.jsonl" };
        for (int i = 0; i < 3; i++) {
            snprintf(a, sizeof a, "f%d/%s", k, names[i]);
            snprintf(b, sizeof b, "f%d_k/%s", k, names[i]);
            same_bytes(a, b);
        }
    }

    /* EEF: killed in its exploration from the expert's failures, in the
     * iteration's training, in the evaluation */
    const char *eef = EEF_RUN;
    killed_at("progress@explore failures:5", eef, "eef_k", "e1.log");
    assert_true(eef_file_exists(in_dir(p, sizeof p, "eef_k/iter_1.explore.journal.0")));
    killed_at("progress@train:3", eef, "eef_k", "e2.log");
    log_has("e2.log", "explore failures: 4 of ");
    killed_at("progress@evaluate:3", eef, "eef_k", "e3.log");
    log_has("e3.log", resumed_at("train", 2, "eef/iter_1/train.json", want, sizeof want));
    assert_int_equal(tu_sh_in(g_dir, "%s " RUN " %s --model base --out eef_k > e4.log 2>&1", tu_eef(), eef), 0);
    log_has("e4.log", "evaluate: 2 of ");
    for (int i = 3; i <= 4; i++) {
        char log[32];
        snprintf(log, sizeof log, "e%d.log", i);
        if (tu_file_contains(in_dir(p, sizeof p, log), "== iteration 1: explore"))
            fail_msg("%s explored again", log);
    }
    const char *same[] = { "metrics.jsonl", "iter_1/model.lora/adapter_model.safetensors",
                           "iter_1/eef.jsonl", "iter_1/eef_states.jsonl", "iter_1/explore.json",
                           "iter_1/eval.jsonl", "iter_1/train.json" };
    for (size_t i = 0; i < EEF_ARRAY_LEN(same); i++) {
        char a[256], b[256];
        snprintf(a, sizeof a, "eef/%s", same[i]);
        snprintf(b, sizeof b, "eef_k/%s", same[i]);
        same_bytes(a, b);
    }
    /* nothing of the resume points is left */
    assert_int_equal(tu_sh_in(g_dir, "ls eef_k eef_k/iter_1 | grep -c 'journal\\|ckpt' > left.txt; true"), 0);
    assert_true(tu_file_contains(in_dir(p, sizeof p, "left.txt"), "0"));
}

static void test_merge(void **state)
{
    (void)state;
    assert_int_equal(tu_sh_in(g_dir, "%s export --format hf --merge eef/iter_1/model.lora merged >/dev/null 2>&1",
                         tu_eef()), 0);
    char p[1024];
    eef_model *base, *merged;
    assert_ok(eef_model_load(in_dir(p, sizeof p, "base"), &base));
    assert_ok(eef_model_load(in_dir(p, sizeof p, "merged"), &merged));
    eef_lora *a;
    assert_ok(eef_lora_load(in_dir(p, sizeof p, "eef/iter_1/model.lora"), &base->cfg, &a));
    assert_ok(eef_lora_attach(base, a));
    eef_batch b;
    assert_ok(eef_batch_alloc(&b, 1, 24));
    for (int i = 0; i < 24; i++) b.tokens[i] = (i * 7919) % 962, b.pos[i] = i, b.mask[i] = 1;
    const size_t n = 24 * (size_t)base->cfg.vocab;
    float *l1 = malloc(n * sizeof(float)), *l2 = malloc(n * sizeof(float));
    double x, y;
    assert_ok(eef_model_forward(base, &b, l1, &x));
    assert_ok(eef_model_forward(merged, &b, l2, &y));
    double d = 0, mx = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)l1[i] - l2[i])), mx = fmax(mx, fabs(l1[i]));
    printf("merged vs base + adapters: max |diff| %.2e (max |logit| %.2f)\n", d, mx);
    assert_true(d <= 1e-4 * fmax(1, mx));
    /* the pipeline's training moved the adapters off zero */
    eef_lora_attach(base, NULL);
    assert_ok(eef_model_forward(base, &b, l2, &y));
    d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)l1[i] - l2[i]));
    assert_true(d > 1e-4);
    free(l1), free(l2);
    eef_batch_free(&b);
    eef_lora_free(a);
    eef_model_free(base);
    eef_model_free(merged);
}

static void test_refusals(void **state)
{
    (void)state;
    char p[1024];
    /* resumed with another base */
    assert_int_equal(tu_sh_in(g_dir, "%s " RUN " --method eef --model other --from rft --out eef > r1.log 2>&1",
                         tu_eef()), 1);
    in_dir(p, sizeof p, "r1.log");
    assert_true(tu_file_contains(p, "was made with the base model"));
    assert_true(tu_file_contains(p, "/base ("));
    assert_true(tu_file_contains(p, "/other ("));
    /* a new run --from a run of another base */
    assert_int_equal(tu_sh_in(g_dir, "%s " RUN " --method eef --model other --from rft --out new > r2.log 2>&1",
                         tu_eef()), 1);
    in_dir(p, sizeof p, "r2.log");
    assert_true(tu_file_contains(p, "--from rft was made with the base model"));
    assert_true(tu_file_contains(p, "/other ("));
    assert_false(eef_file_exists(in_dir(p, sizeof p, "new/config.json")));
    /* resumed without --model */
    assert_int_equal(tu_sh_in(g_dir, "%s run --preset tiny --env house --env-opt train=6,test=3 --quiet --method eef "
                         "--from rft --out eef > r3.log 2>&1", tu_eef()), 1);
    assert_true(tu_file_contains(in_dir(p, sizeof p, "r3.log"), "give it with --model"));
    /* usage errors */
    assert_int_equal(tu_sh_in(g_dir, "%s run --preset tiny --lora 4 --out x > /dev/null 2>&1", tu_eef()), 2);
    assert_int_equal(tu_sh_in(g_dir, "%s run --preset tiny --model base --out x > /dev/null 2>&1", tu_eef()), 2);
    assert_int_equal(tu_sh_in(g_dir, "%s run --preset tiny --model base --lora 4 --full --out x > /dev/null 2>&1",
                         tu_eef()), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chat_prompt),
        cmocka_unit_test(test_pipeline),
        cmocka_unit_test(test_resume_inside_phases),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

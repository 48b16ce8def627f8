/* test_pretrained.c: a model and its tokenizer through a Hugging Face
 * directory (issue 18).
 *
 *   - eef -> HF dir -> eef: the same tokenizer (eef's own again, the same
 *     EEFT bytes and ids for any bytes), the same logits, and an SFT agent
 *     that plays every test episode of its run exactly as before;
 *   - an imported tokenizer (Llama 3, Qwen3 fixtures) travels with its
 *     model: roles, chat format and the files as they were read;
 *   - an unknown chat template or a tokenizer.json that is not one is
 *     refused by name;
 *   - eef tokenizer / generate on any model, and eef serve on an imported
 *     model with its chat template (scripts/interop-openai runs the openai
 *     npm client against it; this test needs no node).
 */
#include "test_serve_util.h"

#include "eval/eval.h"
#include "serve/serve.h"

#include <stdlib.h>
#include <string.h>

#define TOKFIX "tests/fixtures/hf_tok"

static void logits_of(eef_model *m, const int *tokens, int T, float *out)
{
    eef_batch b;
    assert_ok(eef_batch_alloc(&b, 1, T));
    for (int t = 0; t < T; t++) b.tokens[t] = tokens[t], b.pos[t] = t, b.mask[t] = 1;
    double loss;
    assert_ok(eef_model_forward(m, &b, out, &loss));
    eef_batch_free(&b);
}

/* ids of text under both tokenizers, with and without special tokens */
static void same_ids(const eef_tokenizer *a, const eef_tokenizer *b, const char *text, size_t len)
{
    for (unsigned flags = 0; flags < 4; flags++) {
        int *ia = NULL, *ib = NULL;
        size_t na = 0, ca = 0, nb = 0, cb = 0;
        assert_ok(eef_tok_encode_ex(a, text, len, flags, &ia, &na, &ca));
        assert_ok(eef_tok_encode_ex(b, text, len, flags, &ib, &nb, &cb));
        assert_int_equal(na, nb);
        assert_memory_equal(ia, ib, na * sizeof(int));
        free(ia);
        free(ib);
    }
}

/* A random tiny eef model with a tokenizer trained on a small corpus. */
static eef_model *tiny_model(void)
{
    static const char corpus[] =
        "search[red shoes] click[Buy Now] the price is 12.50 dollars; search for blue shirts\n"
        "click[< Prev] <|act|> looking for a pack of 6 energy bars under 40.00 dollars\n";
    eef_buf c;
    eef_buf_init(&c);
    for (int i = 0; i < 8; i++) eef_buf_puts(&c, corpus);
    eef_tokenizer *t;
    assert_ok(eef_tok_train(c.data, c.len, 330, &t));
    eef_buf_free(&c);
    eef_model_config cfg;
    assert_ok(eef_model_preset("tiny", eef_tok_vocab_size(t), &cfg));
    eef_model *m;
    assert_ok(eef_model_new(&cfg, t, 7, &m));
    return m;
}

static void test_eef_roundtrip(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir(), dir[600];
    snprintf(dir, sizeof dir, "%s/hf", tmp);
    eef_model *a = tiny_model(), *b;
    assert_ok(eef_model_export(a, "hf", dir));
    char p[700];
    snprintf(p, sizeof p, "%s/tokenizer.json", dir);
    assert_true(eef_file_exists(p));
    snprintf(p, sizeof p, "%s/tokenizer_config.json", dir);
    assert_true(tu_file_contains(p, "\"eos_token\":\t\"<|end|>\""));
    /* trainable: bit for bit */
    eef_load_opts o = { .trainable = 1, .dtype = EEF_DT_COUNT };
    assert_ok(eef_model_load_opts(dir, &o, &b));
    assert_non_null(b->tok);
    assert_int_equal(eef_tok_kind_of(b->tok), EEF_TOK_KIND_EEF);
    eef_buf sa, sb;
    eef_buf_init(&sa);
    eef_buf_init(&sb);
    assert_ok(eef_tok_save(a->tok, &sa));
    assert_ok(eef_tok_save(b->tok, &sb));
    assert_int_equal(sa.len, sb.len);
    assert_memory_equal(sa.data, sb.data, sa.len);
    eef_buf_free(&sa);
    eef_buf_free(&sb);
    assert_memory_equal(eef_tok_roles_of(a->tok), eef_tok_roles_of(b->tok), sizeof(eef_tok_roles));
    static const char texts[][64] = { "search[red shoes] <|act|>click[Buy Now]<|end|>",
                                      "  12.50 dollars\n\n\tpack of 6", "caf\xc3\xa9 \xe2\x82\xac 5",
                                      "bad \xc3\x28 utf8 \xff\xfe end" };
    for (size_t i = 0; i < EEF_ARRAY_LEN(texts); i++) same_ids(a->tok, b->tok, texts[i], strlen(texts[i]));
    enum { T = 16 };
    int tokens[T];
    for (int t = 0; t < T; t++) tokens[t] = (t * 37 + 5) % a->cfg.vocab;
    size_t n = (size_t)T * a->cfg.vocab;
    float *la = malloc(n * sizeof(float)), *lb = malloc(n * sizeof(float));
    logits_of(a, tokens, T, la);
    logits_of(b, tokens, T, lb);
    assert_memory_equal(la, lb, n * sizeof(float));
    eef_model_free(b);
    /* frozen (how commands load a directory): the same tokenizer */
    assert_ok(eef_model_load(dir, &b));
    assert_int_equal(eef_tok_kind_of(b->tok), EEF_TOK_KIND_EEF);
    same_ids(a->tok, b->tok, texts[0], strlen(texts[0]));
    eef_model_free(b);
    /* an edited tokenizer.json is a Hugging Face tokenizer, not eef's:
     * here a normalizer (its ids for this text still agree) */
    assert_int_equal(tu_sh("sed -i 's/\"normalizer\":\\tnull/\"normalizer\": {\"type\": \"NFC\"}/' "
                           "%s/tokenizer.json", dir), 0);
    assert_ok(eef_model_load(dir, &b));
    assert_int_equal(eef_tok_kind_of(b->tok), EEF_TOK_KIND_HF);
    same_ids(a->tok, b->tok, texts[1], strlen(texts[1]));
    eef_model_free(b);
    free(la);
    free(lb);
    eef_model_free(a);
    tu_rmtree(tmp);
}

/* The run's SFT agent, exported and imported again, plays its test
 * episodes action for action as it did (so wins exactly the same ones). */
static void test_sft_agent_roundtrip(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir(), path[700], dir[700];
    assert_int_equal(tu_sh("%s run --method sft --preset tiny --out %s/run --quiet >%s/run.log 2>&1",
                           tu_eef(), tmp, tmp), 0);
    snprintf(path, sizeof path, "%s/run/sft.eefm", tmp);
    snprintf(dir, sizeof dir, "%s/sft-hf", tmp);
    assert_int_equal(tu_sh("%s export --format hf %s %s >/dev/null 2>&1", tu_eef(), path, dir), 0);
    eef_model *m[2];
    assert_ok(eef_model_load(path, &m[0]));
    assert_ok(eef_model_load(dir, &m[1]));
    assert_int_equal(eef_tok_kind_of(m[1]->tok), EEF_TOK_KIND_EEF);
    eef_env *env; /* the tiny preset's world (its config.json) */
    snprintf(path, sizeof path, "%s/run/config.json", tmp);
    assert_true(tu_file_contains(path, "\"env_options\":\"products=300,train=60,test=40\""));
    assert_ok(eef_env_open("shop", "products=300,train=60,test=40", 1, &env));
    eef_traj *t[2];
    size_t n[2];
    eef_eval_summary s[2];
    for (int k = 0; k < 2; k++) {
        eef_agent_config ac;
        eef_agent_defaults(&ac);
        ac.temperature = 0;
        eef_policy *p;
        assert_ok(eef_agent_open(m[k], &ac, &p));
        assert_ok(eef_evaluate(env, p, EEF_SPLIT_TEST, 0, 1, NULL, &t[k], &n[k], &s[k]));
        eef_policy_close(p);
    }
    assert_int_equal(n[0], n[1]);
    assert_true(n[0] >= 40);
    size_t wins = 0, steps = 0;
    for (size_t i = 0; i < n[0]; i++) {
        assert_int_equal(t[0][i].win, t[1][i].win);
        if (!eef_traj_equal(&t[0][i], &t[1][i])) fail_msg("test episode %zu differs", i);
        wins += t[0][i].win;
        steps += t[0][i].n_steps;
    }
    print_message("%zu test episodes, %zu steps, %zu wins, score %.1f: the same after the round "
                  "trip\n", n[0], steps, wins, s[1].all.score);
    assert_true(s[0].all.score == s[1].all.score);
    /* and as the run itself scored them */
    snprintf(path, sizeof path, "%s/run/iter_0/eval.json", tmp);
    char want[64];
    snprintf(want, sizeof want, "\"win\":%.17g", s[1].all.win);
    if (s[1].all.win == 0) snprintf(want, sizeof want, "\"win\":0");
    assert_true(tu_file_contains(path, want));
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < n[k]; i++) eef_traj_free(&t[k][i]);
        free(t[k]);
        eef_model_free(m[k]);
    }
    eef_env_close(env);
    tu_rmtree(tmp);
}

/* An imported tokenizer travels with its model, and back out. */
static void copy_tok(const char *name, const char *dir)
{
    assert_int_equal(tu_sh("cp " TOKFIX "/%s/tokenizer.json " TOKFIX "/%s/tokenizer_config.json %s/",
                           name, name, dir), 0);
}

/* A tiny random HF model directory with a vocabulary of V rows.  With
 * `tok` (the tokenizer it will have), the head rows of ids no token has
 * (the fixtures keep 0.7% of the vocabulary) are 0, so that generation
 * writes tokens: their logits are 0, the largest of a thousand random
 * ones is above. */
static void tiny_hf_dir_tok(const char *dir, int vocab, int qk_norm, const eef_tokenizer *tok)
{
    eef_model_config c = { .vocab = vocab, .d_model = 16, .n_layers = 1, .n_heads = 2, .d_ff = 24,
                           .max_ctx = 64, .rope_theta = 1e6f, .norm_eps = 1e-6f, .n_kv_heads = 1,
                           .head_dim = 8, .qk_norm = qk_norm, .rope_layout = EEF_ROPE_HALF };
    eef_model *m;
    assert_ok(eef_model_new(&c, NULL, 3, &m));
    for (int id = 0; tok && id < vocab; id++)
        if (eef_tok_type_of(tok, id) == EEF_TOKTYPE_NONE) memset(m->w.head + (size_t)id * 16, 0, 16 * sizeof(float));
    assert_ok(eef_model_freeze(m, EEF_DT_BF16));
    assert_ok(eef_model_export(m, "hf", dir));
    eef_model_free(m);
}

static void tiny_hf_dir(const char *dir, int vocab, int qk_norm)
{
    tiny_hf_dir_tok(dir, vocab, qk_norm, NULL);
}

static void test_imported_tokenizer(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir(), dir[600], out[600], p[700];
    static const struct { const char *name; int vocab, qk_norm; const char *chat; } cases[] = {
        { "llama3", 128256, 0, "llama3" },
        { "qwen3", 151936, 1, "chatml-think" },
    };
    for (size_t k = 0; k < EEF_ARRAY_LEN(cases); k++) {
        snprintf(dir, sizeof dir, "%s/%s", tmp, cases[k].name);
        tiny_hf_dir(dir, cases[k].vocab, cases[k].qk_norm);
        copy_tok(cases[k].name, dir);
        eef_tokenizer *ref;
        snprintf(p, sizeof p, TOKFIX "/%s", cases[k].name);
        assert_ok(eef_tok_load_hf_dir(p, &ref));
        eef_model *m;
        assert_ok(eef_model_load(dir, &m));
        assert_non_null(m->tok);
        assert_int_equal(eef_tok_kind_of(m->tok), EEF_TOK_KIND_HF);
        assert_string_equal(eef_tok_chat_name(m->tok), cases[k].chat);
        assert_memory_equal(eef_tok_roles_of(m->tok), eef_tok_roles_of(ref), sizeof(eef_tok_roles));
        const char *text = "<|im_start|>user\nPrice: $12.50 \xe4\xbd\xa0\xe5\xa5\xbd <|eot_id|>";
        same_ids(ref, m->tok, text, strlen(text));
        /* exported again: the files as they were read */
        snprintf(out, sizeof out, "%s/%s-out", tmp, cases[k].name);
        assert_ok(eef_model_export(m, "hf", out));
        char a[700], b[700];
        snprintf(a, sizeof a, TOKFIX "/%s/tokenizer.json", cases[k].name);
        snprintf(b, sizeof b, "%s/tokenizer.json", out);
        assert_true(tu_same_file(a, b));
        snprintf(a, sizeof a, TOKFIX "/%s/tokenizer_config.json", cases[k].name);
        snprintf(b, sizeof b, "%s/tokenizer_config.json", out);
        assert_true(tu_same_file(a, b));
        eef_model_free(m);
        /* trained on and saved as an .eefm: the tokenizer goes with it
         * (EEFH), though it has fewer ids than the embedding has rows */
        eef_load_opts o = { .trainable = 1, .dtype = EEF_DT_COUNT };
        assert_ok(eef_model_load_opts(dir, &o, &m));
        snprintf(out, sizeof out, "%s/%s.eefm", tmp, cases[k].name);
        assert_ok(eef_model_save(m, out));
        eef_model_free(m);
        assert_ok(eef_model_load(out, &m));
        assert_int_equal(eef_tok_kind_of(m->tok), EEF_TOK_KIND_HF);
        assert_string_equal(eef_tok_chat_name(m->tok), cases[k].chat);
        same_ids(ref, m->tok, text, strlen(text));
        eef_model_free(m);
        eef_tok_free(ref);
    }
    /* a tokenizer with more ids than the embedding has rows */
    snprintf(dir, sizeof dir, "%s/small", tmp);
    tiny_hf_dir(dir, 1000, 0);
    copy_tok("qwen3", dir);
    eef_model *m;
    assert_int_equal(eef_model_load(dir, &m), EEF_EFORMAT);
    snprintf(p, sizeof p, "%s/tokenizer.json: the tokenizer has ids up to", dir);
    assert_non_null(strstr(eef_errmsg(), p));
    /* an unknown chat template is refused by name */
    snprintf(dir, sizeof dir, "%s/qwen3", tmp);
    assert_int_equal(tu_sh("printf '{\"chat_template\": \"{%%%% for m in messages %%%%}<<{{ m.content }}>>"
                           "{%%%% endfor %%%%}\"}' > %s/tokenizer_config.json", dir), 0);
    assert_int_not_equal(eef_model_load(dir, &m), EEF_OK);
    assert_non_null(strstr(eef_errmsg(), "tokenizer_config.json"));
    assert_non_null(strstr(eef_errmsg(), "chat"));
    /* a tokenizer.json that is not one */
    assert_int_equal(tu_sh("echo '{\"model\": {\"type\": \"Unigram\"}}' > %s/tokenizer.json", dir), 0);
    assert_int_equal(tu_sh("rm %s/tokenizer_config.json", dir), 0);
    assert_int_not_equal(eef_model_load(dir, &m), EEF_OK);
    snprintf(p, sizeof p, "%s/tokenizer.json", dir);
    assert_non_null(strstr(eef_errmsg(), p));
    tu_rmtree(tmp);
}

/* The file's text without its last newline. */
static char *read_text(const char *path)
{
    char *d;
    size_t n;
    assert_ok(eef_read_file(path, &d, &n));
    if (n && d[n - 1] == '\n') d[n - 1] = 0;
    return d;
}

/* eef tokenizer encode|decode on a model; eef generate --special, --chat. */
static void test_cli_tools(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir(), m_path[600], dir[600], out[600], err[600];
    snprintf(m_path, sizeof m_path, "%s/m.eefm", tmp);
    snprintf(dir, sizeof dir, "%s/m-hf", tmp);
    snprintf(out, sizeof out, "%s/out.txt", tmp);
    snprintf(err, sizeof err, "%s/err.txt", tmp);
    eef_model *m = tiny_model();
    assert_ok(eef_model_save(m, m_path));
    assert_ok(eef_model_export(m, "hf", dir));
    /* encode with a model (.eefm, exported directory): the model's ids */
    const char *text = "<|act|>search[red shoes]<|end|>";
    int *want = NULL;
    size_t n_want = 0, cap = 0;
    assert_ok(eef_tok_encode_ex(m->tok, text, strlen(text), EEF_TOK_ENC_SPECIAL, &want, &n_want, &cap));
    assert_int_equal(want[0], eef_tok_roles_of(m->tok)->act);
    char ids[1024] = "";
    for (size_t i = 0; i < n_want; i++) snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%d", i ? "," : "", want[i]);
    const char *paths[2] = { m_path, dir };
    for (int k = 0; k < 2; k++) {
        assert_int_equal(tu_sh("%s tokenizer encode --tok %s --special --ids --text '%s' >%s 2>%s",
                               tu_eef(), paths[k], text, out, err), 0);
        char *got = read_text(out);
        assert_string_equal(got, ids);
        free(got);
        assert_int_equal(tu_sh("%s tokenizer decode --model %s --ids %s >%s 2>%s", tu_eef(),
                               paths[k], ids, out, err), 0);
        got = read_text(out);
        assert_string_equal(got, text);
        free(got);
    }
    /* without --special the specials are text */
    assert_int_equal(tu_sh("%s tokenizer encode --tok %s --ids --text '<|act|>' >%s 2>%s", tu_eef(),
                           m_path, out, err), 0);
    assert_true(tu_file_lacks(out, "259"));
    /* generate --special: the prompt token-exact, the same as its --ids */
    char *a, *b;
    assert_int_equal(tu_sh("%s generate --model %s --special --prompt '%s' --max 6 --temp 0 "
                           "--threads 1 >%s 2>%s", tu_eef(), m_path, text, out, err), 0);
    a = read_text(out);
    assert_int_equal(strncmp(a, text, strlen(text)), 0);
    assert_int_equal(tu_sh("%s generate --model %s --ids %s --max 6 --temp 0 --threads 1 >%s 2>%s",
                           tu_eef(), m_path, ids, out, err), 0);
    b = read_text(out);
    /* the continuation's ids, decoded, are what --special printed after the prompt */
    int *gen = NULL;
    size_t n_gen = 0;
    {
        size_t gcap = 0;
        const char *p = b;
        while (*p) {
            char *end;
            long id = strtol(p, &end, 10);
            if (end == p) break;
            if (n_gen == gcap) gen = realloc(gen, (gcap = gcap ? 2 * gcap : 16) * sizeof *gen);
            gen[n_gen++] = (int)id;
            p = *end == ',' ? end + 1 : end;
        }
    }
    const eef_tok_roles *r = eef_tok_roles_of(m->tok);
    if (n_gen && (gen[n_gen - 1] == r->eos || gen[n_gen - 1] == r->bos)) n_gen--; /* not printed */
    eef_buf dec;
    eef_buf_init(&dec);
    assert_ok(eef_tok_decode(m->tok, gen, n_gen, &dec));
    assert_string_equal(a + strlen(text), dec.data ? dec.data : "");
    eef_buf_free(&dec);
    free(gen);
    free(a);
    free(b);
    /* --chat needs a chat template; eef's own tokenizer has none */
    assert_int_equal(tu_sh("%s generate --model %s --chat --prompt hi >/dev/null 2>%s", tu_eef(),
                           m_path, err), 1);
    assert_true(tu_file_contains(err, "has no chat template"));
    assert_int_equal(tu_sh("%s generate --model %s --special --chat --prompt hi >/dev/null 2>%s",
                           tu_eef(), m_path, err), 2);
    /* --chat on a model with a template: the reply to the rendered conversation */
    snprintf(dir, sizeof dir, "%s/qwen3", tmp);
    eef_tokenizer *qt;
    assert_ok(eef_tok_load_hf_dir(TOKFIX "/qwen3", &qt));
    tiny_hf_dir_tok(dir, 151936, 1, qt);
    eef_tok_free(qt);
    copy_tok("qwen3", dir);
    assert_int_equal(tu_sh("%s generate --model %s --chat --system 'Be brief.' --prompt 'Price of 2 "
                           "apples?' --max 5 --temp 0 --threads 1 >%s 2>%s", tu_eef(), dir, out, err), 0);
    eef_model *q;
    assert_ok(eef_model_load(dir, &q));
    eef_chat_msg msgs[2] = { { "system", "Be brief." }, { "user", "Price of 2 apples?" } };
    int *pr = NULL;
    size_t n_pr = 0, pcap = 0;
    assert_ok(eef_tok_chat_encode(q->tok, msgs, 2, EEF_CHAT_GEN_PROMPT, &pr, &n_pr, &pcap, NULL));
    eef_kv *kv;
    assert_ok(eef_kv_new(q, 0, &kv));
    int *g = NULL, stop[2] = { eef_tok_roles_of(q->tok)->eot, eef_tok_roles_of(q->tok)->eos };
    size_t ng = 0, gcap = 0;
    eef_sampling s = { 0 };
    assert_ok(eef_generate(kv, pr, (int)n_pr, 5, &s, stop, 2, NULL, &g, &ng, &gcap));
    eef_buf reply;
    eef_buf_init(&reply);
    for (size_t i = 0; i < ng; i++) { /* ids without a token print nothing */
        size_t len;
        const char *piece = eef_tok_piece(q->tok, g[i], &len);
        if (piece && g[i] != stop[0] && g[i] != stop[1]) eef_buf_append(&reply, piece, len);
    }
    a = read_text(out);
    assert_true(reply.len > 0);
    assert_true(tu_file_lacks(err, "have no token"));
    assert_string_equal(a, reply.data ? reply.data : "");
    free(a);
    eef_buf_free(&reply);
    free(g);
    free(pr);
    eef_kv_free(kv);
    eef_model_free(q);
    free(want);
    eef_model_free(m);
    tu_rmtree(tmp);
}

/* eef serve on an imported model: the prompt is the chat template's, the
 * reply the greedy continuation of it (fed in the server's 64-token
 * prefill chunks, ids no token has never chosen, a control token ends). */
static void test_serve_chat_template(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir(), dir[600];
    snprintf(dir, sizeof dir, "%s/qwen3", tmp);
    eef_tokenizer *qt;
    assert_ok(eef_tok_load_hf_dir(TOKFIX "/qwen3", &qt));
    tiny_hf_dir_tok(dir, 151936, 1, qt);
    eef_tok_free(qt);
    copy_tok("qwen3", dir);
    eef_model *m;
    assert_ok(eef_model_load(dir, &m));
    eef_chat_msg msgs[3] = { { "system", "You sell shoes." }, { "user", "Red ones?" },
                             { "assistant", "Which size?" } };
    eef_chat_msg all[4] = { msgs[0], msgs[1], msgs[2], { "user", "Size 9, under $40." } };
    int *p = NULL;
    size_t n = 0, cap = 0;
    assert_ok(eef_tok_chat_encode(m->tok, all, 4, EEF_CHAT_GEN_PROMPT, &p, &n, &cap, NULL));
    const int V = m->cfg.vocab, max_new = 6;
    eef_kv *kv;
    assert_ok(eef_kv_new(m, 0, &kv));
    float *logits = malloc((size_t)V * sizeof(float));
    for (size_t at = 0; at < n; at += 64) assert_ok(eef_kv_feed(kv, p + at, (int)EEF_MIN(64, n - at), logits));
    eef_buf want;
    eef_buf_init(&want);
    eef_buf_puts(&want, "");
    for (int t = 0; t < max_new; t++) {
        for (int i = 0; i < V; i++)
            if (eef_tok_type_of(m->tok, i) == EEF_TOKTYPE_NONE) logits[i] = -INFINITY;
        int tok = eef_sample_token(logits, V, NULL, NULL);
        if (eef_tok_type_of(m->tok, tok) == EEF_TOKTYPE_CONTROL) break;
        size_t len;
        const char *piece = eef_tok_piece(m->tok, tok, &len);
        eef_buf_append(&want, piece, len);
        if (t + 1 < max_new) assert_ok(eef_kv_feed(kv, &tok, 1, logits));
    }
    eef_buf fixed;
    eef_buf_init(&fixed);
    eef_buf_puts(&fixed, "");
    su_utf8_fix(want.data, want.len, &fixed);
    eef_chat_server_config c;
    eef_chat_server_defaults(&c);
    c.port = 0;
    c.workers = 1;
    eef_server *s;
    assert_ok(eef_chat_server_start(m, &c, &s));
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/chat/completions", eef_server_port(s));
    const char *body =
        "{\"messages\": [{\"role\": \"system\", \"content\": \"You sell shoes.\"}, {\"role\": "
        "\"user\", \"content\": \"Red ones?\"}, {\"role\": \"assistant\", \"content\": \"Which "
        "size?\"}, {\"role\": \"user\", \"content\": \"Size 9, under $40.\"}], \"temperature\": 0, "
        "\"max_tokens\": 6}";
    su_resp r;
    assert_int_equal(su_http("POST", url, body, NULL, 30, &r), 0);
    assert_int_equal(r.status, 200);
    cJSON *j = su_json(&r);
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "usage");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens")->valueint, (int)n);
    const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(ch, "message");
    const char *content = cJSON_GetObjectItemCaseSensitive(msg, "content")->valuestring;
    assert_true(fixed.len > 0);
    assert_string_equal(content, fixed.data);
    cJSON_Delete(j);
    eef_buf_free(&r.body);
    /* a conversation longer than the context: the oldest turns go, the
     * system message stays (the model's context is 64 tokens) */
    eef_buf big;
    eef_buf_init(&big);
    eef_buf_puts(&big, "{\"max_tokens\": 4, \"temperature\": 0, \"messages\": [{\"role\": \"system\", "
                       "\"content\": \"Be brief.\"}");
    for (int i = 0; i < 12; i++)
        eef_buf_printf(&big, ", {\"role\": \"%s\", \"content\": \"turn %d of a long chat\"}",
                       i % 2 ? "assistant" : "user", i);
    eef_buf_puts(&big, ", {\"role\": \"user\", \"content\": \"last\"}]}");
    assert_int_equal(su_http("POST", url, big.data, NULL, 30, &r), 0);
    assert_int_equal(r.status, 200);
    j = su_json(&r);
    u = cJSON_GetObjectItemCaseSensitive(j, "usage");
    assert_true(cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens")->valueint <= 64 - 4);
    cJSON_Delete(j);
    eef_buf_free(&r.body);
    eef_buf_free(&big);
    eef_server_stop(s);
    /* a base model (no chat template, not eef's tokenizer) has no prompt format to serve */
    assert_int_equal(tu_sh("rm %s/tokenizer_config.json", dir), 0);
    eef_model *base;
    assert_ok(eef_model_load(dir, &base));
    assert_int_equal(eef_chat_server_start(base, &c, &s), EEF_EINVAL);
    assert_non_null(strstr(eef_errmsg(), "no chat template"));
    eef_model_free(base);
    eef_buf_free(&want);
    eef_buf_free(&fixed);
    free(logits);
    free(p);
    eef_kv_free(kv);
    eef_model_free(m);
    tu_rmtree(tmp);
}

/* Damaged model directories through the commands that take a model: each
 * is "file: reason" on stderr and exit 1, never a crash. */
static void test_bad_files(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir(), base[600], dir[600], err[600];
    snprintf(base, sizeof base, "%s/base", tmp);
    snprintf(dir, sizeof dir, "%s/bad", tmp);
    snprintf(err, sizeof err, "%s/err.txt", tmp);
    tiny_hf_dir(base, 151936, 1);
    copy_tok("qwen3", base);
    static const struct { const char *damage, *file, *reason; } cases[] = {
        /* truncated: the header no longer fits */
        { "truncate -s 100 %s/model.safetensors", "model.safetensors", "header length" },
        /* a header length past the end of the file */
        { "printf '\\377\\377\\377\\377\\000\\000\\000\\000' | dd of=%s/model.safetensors "
          "conv=notrunc 2>/dev/null", "model.safetensors", "runs past the end of the file" },
        /* the data cut: a tensor's offsets past the data */
        { "truncate -s 4000000 %s/model.safetensors", "model.safetensors", "data_offsets are not" },
        /* a tensor whose shape is not the config's */
        { "sed -i 's/\"intermediate_size\": 24/\"intermediate_size\": 32/' %s/config.json",
          "model.safetensors", "has shape [24, 16], the config needs [32, 16]" },
        /* an architecture eef does not run */
        { "sed -i 's/\"model_type\": \"qwen3\"/\"model_type\": \"gpt_neox\"/' %s/config.json",
          "config.json", "model_type 'gpt_neox' is not supported" },
        { "echo '{' > %s/config.json", "config.json", "JSON" },
        /* tokenizer.json files that are not tokenizers */
        { "echo 'hello, not json' > %s/tokenizer.json", "tokenizer.json", "malformed JSON" },
        { "echo '{\"version\": \"1.0\", \"model\": {\"type\": \"WordPiece\"}}' > %s/tokenizer.json",
          "tokenizer.json", "model WordPiece is not supported" },
        { "truncate -s 30000 %s/tokenizer.json", "tokenizer.json", "malformed JSON" },
        { "echo '[1, 2]' > %s/tokenizer_config.json", "tokenizer_config.json", "not a JSON object" },
    };
    static const char *const cmds[] = { "generate --model %s --ids 1 --max 1",
                                        "tokenizer encode --tok %s --text hi",
                                        "export --format hf %s %s-out" };
    for (size_t k = 0; k < EEF_ARRAY_LEN(cases); k++) {
        assert_int_equal(tu_sh("rm -rf %s && cp -r %s %s", dir, base, dir), 0);
        char damage[800];
        snprintf(damage, sizeof damage, cases[k].damage, dir);
        assert_int_equal(tu_sh("%s", damage), 0);
        char want[900];
        snprintf(want, sizeof want, "%s/%s: ", dir, cases[k].file);
        for (size_t c = 0; c < EEF_ARRAY_LEN(cmds); c++) {
            char cmd[1600];
            snprintf(cmd, sizeof cmd, cmds[c], dir, dir);
            int rc = tu_sh("%s %s >/dev/null 2>%s", tu_eef(), cmd, err);
            if (rc != 1 || !tu_file_contains(err, want) || !tu_file_contains(err, cases[k].reason)) {
                char *got = read_text(err);
                fail_msg("'%s' after '%s': rc %d, stderr '%s' (wanted '%s...%s')", cmd, damage, rc,
                         got, want, cases[k].reason);
            }
        }
    }
    tu_rmtree(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eef_roundtrip),
        cmocka_unit_test(test_imported_tokenizer),
        cmocka_unit_test(test_cli_tools),
        cmocka_unit_test(test_serve_chat_template),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_sft_agent_roundtrip),
    };
    return cmocka_run_group_tests_name("pretrained", tests, NULL, NULL);
}

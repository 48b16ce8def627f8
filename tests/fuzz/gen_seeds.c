/* gen_seeds.c: writes the binary seed inputs of the fuzz corpora (a tiny
 * .eefm and .eefo, a serialized tokenizer) in the harnesses' input forms.
 * Not part of any build: run once by hand when the formats change,
 *
 *   cc -std=c11 -D_GNU_SOURCE -Isrc tests/fuzz/gen_seeds.c build/libeef.a \
 *      $(pkg-config --libs libcjson openblas) -fopenmp -lm -o /tmp/gen_seeds
 *   /tmp/gen_seeds tests/fuzz
 *
 * The text seeds are hand-written files in tests/fuzz/<harness>/ (for
 * hf_config: the fixtures' config.json files, tests/fixtures/hf). */
#include "core/core.h"
#include "nn/nn.h"
#include "text/text.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* prefix bytes + the file at `path` -> dir/name */
static void seed(const char *dir, const char *name, const unsigned char *prefix, size_t np,
                 const char *path)
{
    char *data;
    size_t len;
    if (eef_read_file(path, &data, &len)) {
        fprintf(stderr, "%s\n", eef_errmsg());
        exit(1);
    }
    eef_buf b;
    eef_buf_init(&b);
    eef_buf_append(&b, prefix, np);
    eef_buf_append(&b, data, len);
    char out[1024];
    snprintf(out, sizeof out, "%s/%s", dir, name);
    if (eef_write_file_atomic(out, b.data, b.len)) {
        fprintf(stderr, "%s\n", eef_errmsg());
        exit(1);
    }
    eef_buf_free(&b);
    free(data);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_seeds DIR (tests/fuzz)\n");
        return 2;
    }
    const char *dir = argv[1];
    const char text[] = "search[red shoes] click[Buy Now] go to fridge 1 take apple 1 from "
                        "countertop 2 put apple 1 in/on fridge 1 Nothing happens.";
    eef_buf corpus;
    eef_buf_init(&corpus);
    for (int i = 0; i < 4; i++) eef_buf_puts(&corpus, text);
    eef_tokenizer *tok;
    if (eef_tok_train(corpus.data, corpus.len, EEF_TOK_FIRST_MERGE + 20, &tok)) return 1;
    eef_buf tb;
    eef_buf_init(&tb);
    eef_tok_save(tok, &tb);
    char p[1024], q[1024];
    snprintf(p, sizeof p, "%s/tok_load", dir);
    eef_mkdirs(p);
    snprintf(p, sizeof p, "%s/tok_load/tok20", dir);
    unsigned char zero = 0;
    eef_buf b;
    eef_buf_init(&b);
    eef_buf_append(&b, &zero, 1);
    eef_buf_append(&b, tb.data, tb.len);
    eef_write_file_atomic(p, b.data, b.len);
    eef_buf_free(&b);

    /* the smallest model the config allows a real tokenizer with */
    eef_model_config c = { .vocab = eef_tok_vocab_size(tok), .d_model = 4, .n_layers = 1,
                           .n_heads = 1, .d_ff = 4, .max_ctx = 8, .tied = 1,
                           .rope_theta = 10000.0f, .norm_eps = 1e-5f };
    eef_model *m;
    if (eef_model_new(&c, tok, 3, &m)) {
        fprintf(stderr, "%s\n", eef_errmsg());
        return 1;
    }
    snprintf(p, sizeof p, "/tmp/gen_seeds_%d.eefm", (int)getpid());
    snprintf(q, sizeof q, "/tmp/gen_seeds_%d.eefo", (int)getpid());
    eef_model_save(m, p);
    eef_adamw_config oc;
    eef_adamw_defaults(&oc);
    oc.total_steps = 10;
    eef_adamw *o;
    eef_adamw_new(&oc, m->n_params, &o);
    o->step = 3;
    for (size_t i = 0; i < o->n; i++) o->m[i] = 0.001f * (float)i, o->v[i] = 1e-6f * (float)i;
    eef_adamw_save(o, q);
    char d[1024];
    snprintf(d, sizeof d, "%s/checkpoint", dir);
    eef_mkdirs(d);
    unsigned char pm[2] = { 0, 0 }, po[2] = { 1, 0 };
    seed(d, "tiny_model", pm, 2, p);
    seed(d, "tiny_optimizer", po, 2, q);
    unlink(p), unlink(q);
    /* safetensors: the 1-layer qwen2 of fuzz_safetensors.c's config, as
     * eef exports it (F32), for both modes (parse only: prefix 1; the
     * import: prefix 0) */
    eef_model_config hc = { .vocab = 16, .d_model = 8, .n_layers = 1, .n_heads = 2, .d_ff = 8,
                            .max_ctx = 64, .rope_theta = 10000.0f, .norm_eps = 1e-6f,
                            .n_kv_heads = 1, .qkv_bias = 1, .rope_layout = EEF_ROPE_HALF };
    eef_model *hm;
    char hd[1024], hs[1200];
    snprintf(hd, sizeof hd, "/tmp/gen_seeds_%d_hf", (int)getpid());
    snprintf(hs, sizeof hs, "%s/model.safetensors", hd);
    if (eef_model_new(&hc, NULL, 5, &hm) || eef_model_export(hm, "hf", hd)) {
        fprintf(stderr, "%s\n", eef_errmsg());
        return 1;
    }
    snprintf(d, sizeof d, "%s/safetensors", dir);
    eef_mkdirs(d);
    unsigned char s0 = 0, s1 = 1;
    seed(d, "qwen2_tiny_load", &s0, 1, hs);
    seed(d, "qwen2_tiny_parse", &s1, 1, hs);
    /* the same weights in BF16 (imported frozen, and converted: prefix 4)
     * and F16 (imported trainable: prefix 2) */
    unsigned char s2 = 2, s4 = 4;
    if (eef_model_freeze(hm, EEF_DT_BF16) || eef_model_export(hm, "hf", hd)) return 1;
    seed(d, "qwen2_tiny_bf16_load", &s0, 1, hs);
    seed(d, "qwen2_tiny_bf16_convert", &s4, 1, hs);
    eef_model_free(hm);
    if (eef_model_new(&hc, NULL, 5, &hm) || eef_model_freeze(hm, EEF_DT_F16) ||
        eef_model_export(hm, "hf", hd))
        return 1;
    seed(d, "qwen2_tiny_f16_trainable", &s2, 1, hs);
    eef_model_free(hm);
    eef_adamw_free(o);
    eef_model_free(m);
    eef_buf_free(&tb);
    eef_buf_free(&corpus);
    return 0;
}

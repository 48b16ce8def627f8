/* gen_gguf_seeds.c: the seed inputs of fuzz_gguf (tests/fuzz/gguf/):
 * tiny llama, qwen2 and qwen3 models exported by eef (F32, Q8_0, Q4_K,
 * Llama 3.1 rope_freqs, with and without a tokenizer), each with the
 * harness's flag byte in front (0: the model import; 1: the reader only).
 * Not part of any build: run by hand when the format changes,
 *
 *   cc -std=c11 -D_GNU_SOURCE -Isrc tests/fuzz/gen_gguf_seeds.c build/libeef.a \
 *      $(pkg-config --libs libcjson libpcre2-8 libutf8proc openblas) -fopenmp -lm -o /tmp/gen_gguf
 *   /tmp/gen_gguf tests/fuzz/gguf
 */
#include "core/core.h"
#include "nn/nn.h"
#include "text/text.h"

#include <stdlib.h>
#include <string.h>

static void die(void)
{
    fprintf(stderr, "%s\n", eef_errmsg());
    exit(1);
}

/* 256 ByteLevel bytes, bos and eos, then merges "a b".. up to n tokens */
static eef_tokenizer *tok(int n)
{
    static char buf[300][8], mb[300][8];
    const char *tokens[300], *merges[300];
    int32_t types[300];
    int nm = 0;
    for (int i = 0; i < n; i++) {
        if (i < 256) {
            unsigned cp = (unsigned)i, k = 0;
            if (!((i >= 33 && i <= 126) || (i >= 161 && i <= 172) || i >= 174)) {
                for (int x = 0; x < i; x++) k += !((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174);
                cp = 256 + k;
            }
            if (cp < 0x80) snprintf(buf[i], 8, "%c", (char)cp);
            else snprintf(buf[i], 8, "%c%c", (char)(0xC0 | (cp >> 6)), (char)(0x80 | (cp & 0x3F)));
        } else if (i < 258) {
            snprintf(buf[i], 8, "<|%d|>", i - 256);
        } else {
            snprintf(buf[i], 8, "a%c", 'b' + i - 258);
            snprintf(mb[nm], 8, "a %c", 'b' + i - 258);
            merges[nm] = mb[nm];
            nm++;
        }
        tokens[i] = buf[i];
        types[i] = i >= 256 && i < 258 ? 3 : 1;
    }
    eef_tok_gguf g = { .where = "seed", .model = "gpt2", .pre = "qwen2", .n_tokens = (size_t)n,
                       .tokens = tokens, .types = types, .n_merges = (size_t)nm, .merges = merges,
                       .bos = 256, .eos = 257, .pad = -1, .add_bos = 1, .add_eos = -1,
                       .chat_template = NULL };
    eef_tokenizer *t;
    if (eef_tok_load_gguf(&g, &t)) die();
    return t;
}

static void seed(const char *dir, const char *name, unsigned char flag, const eef_model_config *c,
                 eef_dtype dt, int with_tok)
{
    eef_model *m;
    if (eef_model_new(c, with_tok ? tok(c->vocab) : NULL, 7, &m)) die();
    char tmp[600], out[600];
    snprintf(tmp, sizeof tmp, "%s/.tmp.gguf", dir);
    if (eef_model_export_gguf(m, dt, tmp)) die();
    eef_model_free(m);
    char *data;
    size_t len;
    if (eef_read_file(tmp, &data, &len)) die();
    eef_buf b;
    eef_buf_init(&b);
    eef_buf_append(&b, &flag, 1);
    eef_buf_append(&b, data, len);
    snprintf(out, sizeof out, "%s/%s", dir, name);
    if (eef_write_file_atomic(out, b.data, b.len)) die();
    printf("%s: %zu bytes\n", out, b.len);
    eef_buf_free(&b);
    free(data);
    remove(tmp);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "tests/fuzz/gguf";
    eef_model_config c = { .vocab = 16, .d_model = 32, .n_layers = 1, .n_heads = 2, .d_ff = 32,
                           .max_ctx = 64, .tied = 1, .rope_theta = 10000, .norm_eps = 1e-5f,
                           .n_kv_heads = 1, .rope_layout = EEF_ROPE_HALF, .qkv_bias = 1 };
    seed(dir, "qwen2_q8_0", 0, &c, EEF_DT_Q8_0, 0);
    seed(dir, "qwen2_q8_0_reader", 1, &c, EEF_DT_Q8_0, 0);
    c.qkv_bias = 0, c.qk_norm = 1, c.tied = 0, c.d_ff = 256;
    seed(dir, "qwen3_q4_k", 0, &c, EEF_DT_Q4_K, 0);
    c.qk_norm = 0, c.rope_layout = EEF_ROPE_PAIRS, c.d_model = 16, c.d_ff = 16, c.n_kv_heads = 2;
    c.rope_scaling = (eef_rope_scaling){ 8, 1, 4, 32 };
    seed(dir, "llama_f32_rope", 0, &c, EEF_DT_F32, 0);
    eef_model_config t = { .vocab = 262, .d_model = 32, .n_layers = 1, .n_heads = 2, .d_ff = 32,
                           .max_ctx = 64, .tied = 1, .rope_theta = 10000, .norm_eps = 1e-5f,
                           .rope_layout = EEF_ROPE_PAIRS };
    seed(dir, "llama_tok_q8_0", 0, &t, EEF_DT_Q8_0, 1);
    seed(dir, "llama_tok_q8_0_reader", 1, &t, EEF_DT_Q8_0, 1);
    return 0;
}

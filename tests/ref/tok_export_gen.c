/* tok_export_gen.c: the eef tokenizer of the export fixture.
 *
 * Trains an eef tokenizer on a fixed synthetic shop corpus, saves it
 * (tok.eeft) and exports it as a Hugging Face tokenizer.json +
 * tokenizer_config.json, all into DIR.  tests/ref/make_tok_fixtures.sh
 * builds and runs it, then encodes the fixture corpus with
 * @huggingface/tokenizers on the exported files; tests/test_tok_hf.c
 * checks that eef's ids are those ids and that exporting tok.eeft again
 * gives the same bytes.  Not part of any build. */
#include "core/core.h"
#include "text/text.h"

#include <stdio.h>
#include <stdlib.h>

static const char *words[] = {
    "i", "need", "a", "an", "the", "for", "with", "and", "in", "of", "looking", "am", "find", "me",
    "color", "size", "price", "lower", "than", "dollars", "blue", "grey", "black", "navy", "red",
    "shirt", "speaker", "outdoor", "shoes", "running", "hair", "extensions", "coffee", "organic",
    "machine", "washable", "long", "lasting", "natural", "pack", "count", "small", "large",
    "wireless", "portable", "stereo", "[SEP]", "Back", "to", "Search", "Next", ">", "<", "Prev",
    "Buy", "Now", "Page", "click", "search", "Instruction:", "WebShop", "you", "see", "a", "cabinet",
    "countertop", "fridge", "go", "take", "put", "apple", "from", "Nothing", "happens.", "The",
    "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "it's", "don't", "ACME", "USB-C",
};

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: tok_export_gen DIR\n");
        return 2;
    }
    eef_buf b;
    eef_buf_init(&b);
    eef_rng r = eef_rng_make(eef_rng_key(20240518, 0, 0, 0));
    while (b.len < (1u << 20)) {
        int k = (int)eef_rng_below(&r, 14);
        if (k == 0) eef_buf_printf(&b, "B0%08llX ", (unsigned long long)(eef_rng_u64(&r) & 0xFFFFFFFFu));
        else if (k == 1) eef_buf_printf(&b, "$%d.%02d ", (int)eef_rng_below(&r, 200), (int)eef_rng_below(&r, 100));
        else if (k == 2) eef_buf_puts(&b, eef_rng_below(&r, 2) ? "\n\n" : "  ");
        else eef_buf_printf(&b, "%s%s", words[eef_rng_below(&r, EEF_ARRAY_LEN(words))],
                            eef_rng_below(&r, 12) ? " " : "\n");
    }
    eef_tokenizer *t;
    char p[4096];
    if (eef_tok_train(b.data, b.len, EEF_TOK_FIRST_MERGE + 700, &t) ||
        eef_tok_save_file(t, eef_path_join(p, sizeof p, argv[1], "tok.eeft")) ||
        eef_tok_export_hf_dir(t, argv[1])) {
        fprintf(stderr, "tok_export_gen: %s\n", eef_errmsg());
        return 1;
    }
    printf("tok_export_gen: %d ids -> %s\n", eef_tok_vocab_size(t), argv[1]);
    eef_tok_free(t);
    eef_buf_free(&b);
    return 0;
}

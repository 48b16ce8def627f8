/* fuzz_tok_train: BPE training on any bytes (environment text is not
 * always valid UTF-8), then the round-trip properties of
 * fuzz_tok_roundtrip.c with the tokenizer trained on the input itself.
 * Slower per input than the others (training sets up its tables). */
#include "fuzz_tok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    if (size == 0 || size > 512) return 0;
    eef_tokenizer *own;
    FUZZ_CHECK(eef_tok_train((const char *)data, size, EEF_TOK_FIRST_MERGE + 24, &own) == EEF_OK);
    FUZZ_CHECK(eef_tok_vocab_size(own) <= EEF_TOK_FIRST_MERGE + 24);
    roundtrip(own, data, size);
    eef_tok_free(own);
    return 0;
}

/* fuzz_tok_roundtrip: encode/decode of any bytes with a tokenizer trained
 * once on environment-like text (text.h: decode(encode(x)) == x for every
 * x), plus the property the agent's action scoring relies on: encoding
 * is word by word, so encode(a + b) == encode(a) + encode(b) when a ends
 * at a word boundary.  (fuzz_tok_train does the same with a tokenizer
 * trained on the input.) */
#include "fuzz_tok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    roundtrip(fixed(), data, size);
    return 0;
}

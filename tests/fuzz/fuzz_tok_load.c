/* fuzz_tok_load: a serialized tokenizer from bytes (eef_tok_load, as
 * inside a .eefm).  Byte 0 bit 0 recomputes the CRC-32 at the end over
 * the rest.  Properties: no crash, leak or undefined behaviour; rejected
 * bytes are EEF_EFORMAT with the given context in the message; accepted
 * ones save back to the same bytes, and encode/decode of the input itself
 * round-trips with the loaded merges. */
#include "fuzz_util.h"

#include "text/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    if (size < 1) return 0;
    size_t n = size - 1;
    uint8_t *bytes = malloc(n ? n : 1);
    FUZZ_CHECK(bytes != NULL);
    memcpy(bytes, data + 1, n);
    if ((data[0] & 1) && n >= 4) {
        uint32_t crc = eef_crc32(0, bytes, n - 4);
        memcpy(bytes + n - 4, &crc, 4);
    }
    eef_tokenizer *t = NULL;
    eef_err e = eef_tok_load(bytes, n, "fuzz.eefm: tokenizer", &t);
    if (e) {
        FUZZ_CHECK(e == EEF_EFORMAT || e == EEF_ENOMEM);
        FUZZ_CHECK(strncmp(eef_errmsg(), "fuzz.eefm: tokenizer", 20) == 0);
        FUZZ_CHECK(t == NULL);
        free(bytes);
        return 0;
    }
    eef_buf b;
    eef_buf_init(&b);
    FUZZ_CHECK(eef_tok_save(t, &b) == EEF_OK);
    FUZZ_CHECK(b.len == n && memcmp(b.data, bytes, n) == 0);
    int *ids = NULL;
    size_t nid = 0, cap = 0;
    FUZZ_CHECK(eef_tok_encode(t, (const char *)data, size, &ids, &nid, &cap) == EEF_OK);
    eef_buf_clear(&b);
    FUZZ_CHECK(eef_tok_decode(t, ids, nid, &b) == EEF_OK);
    FUZZ_CHECK(b.len == size && memcmp(b.data, data, size) == 0);
    free(ids);
    eef_buf_free(&b);
    eef_tok_free(t);
    free(bytes);
    return 0;
}

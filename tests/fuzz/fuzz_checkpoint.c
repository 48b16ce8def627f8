/* fuzz_checkpoint: model (.eefm) and optimizer (.eefo) files through
 * eef_model_load / eef_adamw_load.
 *
 * Input: byte 0 picks the kind (bit 0: 0 model, 1 optimizer) and whether
 * the CRC-32 at the end is recomputed over the rest (bit 1), so the
 * fuzzer gets past the checksum to the structure behind it; byte 1 bit 0
 * makes the expected parameter count of an optimizer differ from the
 * file's.  The rest is the file.
 * Properties: no crash, leak or undefined behaviour; a rejected file is
 * EEF_EFORMAT with a message that starts with its path; an accepted one
 * saves back to the same bytes. */
#include "fuzz_util.h"

#include "nn/nn.h"

static int same_file(const char *path, const uint8_t *data, size_t n)
{
    char *d;
    size_t len;
    if (eef_read_file(path, &d, &len)) return 0;
    int same = len == n && memcmp(d, data, n) == 0;
    free(d);
    return same;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    if (size < 2) return 0;
    int optimizer = data[0] & 1, fix_crc = data[0] & 2, other_n = data[1] & 1;
    size_t n = size - 2;
    uint8_t *file = malloc(n ? n : 1);
    FUZZ_CHECK(file != NULL);
    memcpy(file, data + 2, n);
    if (fix_crc && n >= 4) {
        uint32_t crc = eef_crc32(0, file, n - 4);
        memcpy(file + n - 4, &crc, 4);
    }
    const char *path = fuzz_tmp_path(optimizer ? ".eefo" : ".eefm");
    const char *back = fuzz_tmp_path(optimizer ? ".back.eefo" : ".back.eefm");
    fuzz_write(path, file, n);
    eef_err e;
    if (!optimizer) {
        eef_model *m = NULL;
        e = eef_model_load(path, &m);
        if (!e) {
            FUZZ_CHECK(eef_model_save(m, back) == EEF_OK);
            FUZZ_CHECK(same_file(back, file, n));
            eef_model_free(m);
        }
    } else {
        /* the parameter count the caller expects: the file's own, or not */
        uint64_t count = 0;
        const size_t at = 4 + 4 + 7 * 8 + 2 * 8 + 4 + 8;
        if (n >= at + 8) memcpy(&count, file + at, 8);
        if (other_n) count++;
        eef_adamw *o = NULL;
        e = eef_adamw_load(path, (size_t)count, &o);
        if (!e) {
            FUZZ_CHECK(eef_adamw_save(o, back) == EEF_OK);
            FUZZ_CHECK(same_file(back, file, n));
            eef_adamw_free(o);
        }
    }
    if (e) {
        FUZZ_CHECK(e == EEF_EFORMAT || e == EEF_ENOMEM);
        FUZZ_CHECK(strncmp(eef_errmsg(), path, strlen(path)) == 0);
    }
    free(file);
    return 0;
}

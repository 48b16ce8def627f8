/* fuzz_traj_file: a whole trajectory file through the streaming reader
 * (eef_lines: any line length, NUL bytes, no final newline) strictly and
 * with skip_bad.  Properties: strict reading either fails or reads what
 * skip_bad reads (world included) with nothing skipped; skip_bad never
 * fails on bad lines (only on I/O); what is read writes back with its
 * world and reads back equal. */
#include "fuzz_util.h"

#include "traj/traj.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    const char *in = fuzz_tmp_path(".in.jsonl"), *out = fuzz_tmp_path(".out.jsonl");
    fuzz_write(in, data, size);
    eef_trajset strict = { 0 }, lax = { 0 };
    size_t n_bad = 0;
    eef_world ws, wl, wb;
    eef_err es = eef_traj_read_ctx(in, 0, &strict, NULL, &ws);
    if (es) FUZZ_CHECK(es == EEF_EFORMAT && strict.n == 0 && strict.items == NULL);
    int saved = fuzz_mute();
    eef_err el = eef_traj_read_ctx(in, 1, &lax, &n_bad, &wl);
    fuzz_unmute(saved);
    FUZZ_CHECK(el == EEF_OK);
    if (!es) {
        FUZZ_CHECK(n_bad == 0 && lax.n == strict.n && memcmp(&ws, &wl, sizeof ws) == 0);
        for (size_t i = 0; i < strict.n; i++) FUZZ_CHECK(eef_traj_equal(&strict.items[i], &lax.items[i]));
    } else {
        FUZZ_CHECK(n_bad > 0);
    }
    FUZZ_CHECK(eef_traj_write_ctx(out, &wl, lax.items, lax.n) == EEF_OK);
    eef_trajset back = { 0 };
    FUZZ_CHECK(eef_traj_read_ctx(out, 0, &back, NULL, &wb) == EEF_OK);
    FUZZ_CHECK(back.n == lax.n && memcmp(&wb, &wl, sizeof wb) == 0);
    for (size_t i = 0; i < back.n; i++) FUZZ_CHECK(eef_traj_equal(&back.items[i], &lax.items[i]));
    eef_trajset_free(&back);
    eef_trajset_free(&strict);
    eef_trajset_free(&lax);
    return 0;
}

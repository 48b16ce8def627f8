/* fuzz_eto: ETO / AgentGym import (a JSON array or JSONL, from a file).
 * Properties: no crash or leak; strict import fails or agrees with the
 * skipping one; a record whose world contradicts the given env is refused
 * (EEF_EINVAL) by both; what is imported exports (eef_traj_export_eto, with
 * the world the import returned) and imports back equal, in the same world. */
#include "fuzz_util.h"

#include "traj/traj.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    const char *in = fuzz_tmp_path(".in.json"), *out = fuzz_tmp_path(".out.json");
    fuzz_write(in, data, size);
    eef_trajset strict = { 0 }, lax = { 0 };
    size_t n_bad = 0;
    eef_world ws, wl, wb;
    eef_err es = eef_traj_import_eto(in, "shop", &strict, NULL, &ws);
    if (es) FUZZ_CHECK((es == EEF_EFORMAT || es == EEF_EINVAL) && strict.n == 0 && strict.items == NULL);
    int saved = fuzz_mute();
    eef_err el = eef_traj_import_eto(in, "shop", &lax, &n_bad, &wl);
    fuzz_unmute(saved);
    /* skipping covers bad records, not a file that is not JSON at all, nor
     * a world that contradicts the given env */
    if (!es) FUZZ_CHECK(el == EEF_OK && n_bad == 0 && lax.n == strict.n &&
                        memcmp(&ws, &wl, sizeof ws) == 0);
    if (es == EEF_EINVAL) FUZZ_CHECK(el == EEF_EINVAL);
    if (!el) {
        FUZZ_CHECK(eef_traj_export_eto(out, &wl, lax.items, lax.n) == EEF_OK);
        eef_trajset back = { 0 };
        FUZZ_CHECK(eef_traj_import_eto(out, NULL, &back, NULL, &wb) == EEF_OK);
        FUZZ_CHECK(back.n == lax.n);
        /* the world comes back when a record carried it there */
        if (lax.n) FUZZ_CHECK(memcmp(&wb, &wl, sizeof wb) == 0);
        for (size_t i = 0; i < back.n; i++) FUZZ_CHECK(eef_traj_equal(&back.items[i], &lax.items[i]));
        eef_trajset_free(&back);
    }
    eef_trajset_free(&strict);
    eef_trajset_free(&lax);
    return 0;
}

/* fuzz_eto: ETO / AgentGym import (a JSON array or JSONL, from a file).
 * Properties: no crash or leak; strict import fails or agrees with the
 * skipping one; what is imported exports (eef_traj_export_eto) and
 * imports back equal. */
#include "fuzz_util.h"

#include "traj/traj.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    const char *in = fuzz_tmp_path(".in.json"), *out = fuzz_tmp_path(".out.json");
    fuzz_write(in, data, size);
    eef_trajset strict = { 0 }, lax = { 0 };
    size_t n_bad = 0;
    eef_err es = eef_traj_import_eto(in, "shop", &strict, NULL, NULL);
    if (es) FUZZ_CHECK(es == EEF_EFORMAT && strict.n == 0 && strict.items == NULL);
    int saved = fuzz_mute();
    eef_err el = eef_traj_import_eto(in, "shop", &lax, &n_bad, NULL);
    fuzz_unmute(saved);
    /* skipping covers bad records, not a file that is not JSON at all */
    if (!es) FUZZ_CHECK(el == EEF_OK && n_bad == 0 && lax.n == strict.n);
    if (!el) {
        FUZZ_CHECK(eef_traj_export_eto(out, NULL, lax.items, lax.n) == EEF_OK);
        eef_trajset back = { 0 };
        FUZZ_CHECK(eef_traj_import_eto(out, NULL, &back, NULL, NULL) == EEF_OK);
        FUZZ_CHECK(back.n == lax.n);
        for (size_t i = 0; i < back.n; i++) FUZZ_CHECK(eef_traj_equal(&back.items[i], &lax.items[i]));
        eef_trajset_free(&back);
    }
    eef_trajset_free(&strict);
    eef_trajset_free(&lax);
    return 0;
}

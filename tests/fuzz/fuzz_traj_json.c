/* fuzz_traj_json: one JSONL trajectory line (eef_traj_from_json).
 * Properties: no crash or leak on any bytes; an accepted line writes back
 * (eef_traj_to_json), reads back equal, and writing is canonical
 * (to_json(from_json(to_json(t))) == to_json(t)). */
#include "fuzz_util.h"

#include "traj/traj.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    eef_traj t;
    if (eef_traj_from_json((const char *)data, size, "fuzz:1", &t) != EEF_OK) {
        /* a rejected line leaves the trajectory empty and a message */
        FUZZ_CHECK(t.id == NULL && t.steps == NULL && t.n_steps == 0);
        FUZZ_CHECK(strncmp(eef_errmsg(), "fuzz:1: ", 8) == 0);
        return 0;
    }
    eef_buf a, b;
    eef_buf_init(&a);
    eef_buf_init(&b);
    FUZZ_CHECK(eef_traj_to_json(&t, &a) == EEF_OK);
    eef_traj u;
    FUZZ_CHECK(eef_traj_from_json(a.data, a.len, "fuzz:2", &u) == EEF_OK);
    FUZZ_CHECK(eef_traj_equal(&t, &u));
    FUZZ_CHECK(eef_traj_to_json(&u, &b) == EEF_OK);
    FUZZ_CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    eef_traj_free(&u);
    eef_buf_free(&a);
    eef_buf_free(&b);
    eef_traj_free(&t);
    return 0;
}

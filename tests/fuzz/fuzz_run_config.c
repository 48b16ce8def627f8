/* fuzz_run_config: a run's config.json (eef_run_config_from_json, after
 * eef_json_parse as eef run reads it).  Properties: no crash, no
 * undefined behaviour; an accepted configuration round-trips through
 * eef_run_config_to_json to the same JSON. */
#include "fuzz_util.h"

#include "tune/tune.h"

#include <cjson/cJSON.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    cJSON *j;
    if (eef_json_parse((const char *)data, size, "config.json", &j)) return 0;
#ifndef FUZZ_ALL_FINDINGS
    /* Known finding, reported (docs/robustness.md): run_config.c converts
     * "seed" with (uint64_t)d, undefined for a negative seed or one of
     * 2^64 or more.  Such inputs are skipped so the run goes on to find
     * others; -DFUZZ_ALL_FINDINGS brings them back. */
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(j, "seed");
    if (cJSON_IsNumber(seed) && !(seed->valuedouble > -1.0 && seed->valuedouble < 18446744073709551616.0)) {
        cJSON_Delete(j);
        return 0;
    }
#endif
    eef_run_config c;
    if (eef_run_config_from_json(j, "config.json", &c) == EEF_OK) {
        cJSON *a = eef_run_config_to_json(&c);
        eef_run_config d;
        FUZZ_CHECK(eef_run_config_from_json(a, "again", &d) == EEF_OK);
        cJSON *b = eef_run_config_to_json(&d);
        FUZZ_CHECK(cJSON_Compare(a, b, 1));
        cJSON_Delete(a);
        cJSON_Delete(b);
    } else {
        FUZZ_CHECK(strncmp(eef_errmsg(), "config.json", 11) == 0);
    }
    cJSON_Delete(j);
    return 0;
}

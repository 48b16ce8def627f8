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

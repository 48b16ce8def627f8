/* fuzz_hf_config: Hugging Face config.json (byte 0 bit 0 clear) or
 * generation_config.json (set) through eef's parsers.  The rest of the
 * input is the file.  Properties: no crash, leak or undefined behaviour; a
 * rejected file is EEF_EFORMAT with a message that starts with its path;
 * an accepted config is resolved and valid (eef_model_config_check), and
 * for small ones the model eef builds from it exports (eef export
 * --format hf) a config.json that parses back to the same config. */
#include "fuzz_util.h"

#include "nn/hf.h"

#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    if (size < 1) return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    nn_hf_config hc;
    if (data[0] & 1) {
        memset(&hc, 0, sizeof hc);
        hc.bos_id = -1;
        eef_err e = nn_hf_generation_parse(text, len, "fuzz/generation_config.json", &hc);
        if (e) FUZZ_CHECK(strncmp(eef_errmsg(), "fuzz/generation_config.json: ", 29) == 0);
        else FUZZ_CHECK(hc.n_eos >= 0 && hc.n_eos <= 8);
        return 0;
    }
    eef_err e = nn_hf_config_parse(text, len, "fuzz/config.json", &hc);
    if (e) {
        FUZZ_CHECK(e == EEF_EFORMAT);
        FUZZ_CHECK(strncmp(eef_errmsg(), "fuzz/config.json: ", 18) == 0);
        return 0;
    }
    const eef_model_config *c = &hc.cfg;
    FUZZ_CHECK(eef_model_config_check(c) == EEF_OK);
    FUZZ_CHECK(c->n_kv_heads > 0 && c->head_dim > 0 && c->n_heads % c->n_kv_heads == 0);
    if (eef_model_n_params(c) > 20000 || c->max_ctx > 4096) return 0;
    /* small enough to build: export its config and read it back */
    eef_model *m;
    FUZZ_CHECK(eef_model_new(c, NULL, 1, &m) == EEF_OK);
    snprintf(m->meta.arch, sizeof m->meta.arch, "%s", hc.arch);
    m->meta.bos_id = hc.bos_id;
    m->meta.n_eos = hc.n_eos;
    memcpy(m->meta.eos_ids, hc.eos_ids, sizeof hc.eos_ids);
    const char *dir = fuzz_tmp_path(".hfout");
    int exportable = !(c->qkv_bias && c->qk_norm);
    if (exportable) {
        FUZZ_CHECK(eef_model_export(m, "hf", dir) == EEF_OK);
        char p[300];
        snprintf(p, sizeof p, "%s/config.json", dir);
        char *back;
        size_t n;
        FUZZ_CHECK(eef_read_file(p, &back, &n) == EEF_OK);
        nn_hf_config hc2;
        FUZZ_CHECK(nn_hf_config_parse(back, n, p, &hc2) == EEF_OK);
        FUZZ_CHECK(memcmp(&hc2.cfg, c, sizeof *c) == 0);
        FUZZ_CHECK(hc2.bos_id == hc.bos_id);
        free(back);
    }
    eef_model_free(m);
    return 0;
}

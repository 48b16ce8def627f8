/* eef export: a model's weights in GGUF (llama.cpp), safetensors or as a
 * Hugging Face model directory; see nn/export.c and docs/serving.md. */
#include "cli.h"

#include "nn/nn.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* --merge: MODEL is a LoRA directory (PEFT's layout); the base is --base
 * or the adapter_config.json's base_model_name_or_path (eef train writes
 * the base's absolute path there).  The adapters are merged into the
 * base's weights (W += s B A, in the base's dtype). */
static eef_err load_merged(const char *adir, const char *base, eef_model **out)
{
    *out = NULL;
    char p[4200], *text = NULL, *base_path = NULL;
    size_t len;
    if (strlen(adir) > 4000) return eef_fail(EEF_EINVAL, "%s: path too long", adir);
    eef_err e = EEF_OK;
    if (!base) {
        eef_path_join(p, sizeof p, adir, "adapter_config.json");
        cJSON *j = NULL;
        e = eef_read_file(p, &text, &len);
        if (!e) e = eef_json_parse(text, len, p, &j);
        const char *b = NULL;
        if (!e) e = eef_json_str(j, "base_model_name_or_path", p, &b);
        if (!e) base_path = eef_strdup(b);
        if (!e && !base_path) e = EEF_ENOMEM;
        cJSON_Delete(j);
        free(text);
        if (e) return eef_fail_ctx(e, "no base model given (--base) or recorded");
        base = base_path;
    }
    eef_model *m = NULL;
    eef_lora *a = NULL;
    e = eef_model_load(base, &m);
    if (!e) e = eef_lora_load(adir, &m->cfg, &a);
    if (!e) e = eef_lora_merge(m, a);
    if (!e) fprintf(stderr, "eef export: merged %s (rank %d, alpha %g) into %s\n", adir,
                    a->cfg.rank, (double)a->cfg.alpha, base);
    eef_lora_free(a);
    free(base_path);
    if (e) {
        eef_model_free(m);
        return e;
    }
    *out = m;
    return EEF_OK;
}

int cmd_export(int argc, char **argv)
{
    const char *format = NULL, *dtype = "f32", *base = NULL;
    int merge = 0;
    const cli_opt opts[] = {
        { "--format", OPT_STR, &format, "FMT", "gguf, safetensors or hf (a directory)", 0, 0 },
        { "--dtype", OPT_STR, &dtype, "T",
          "gguf: matrices as f32, f16, bf16, q8_0, q4_k, q5_k, q6_k or keep (their own)", 0, 0 },
        { "--merge", OPT_FLAG, &merge, NULL, "MODEL is LoRA adapters (a PEFT directory): export "
          "the base with them merged", 0, 0 },
        { "--base", OPT_STR, &base, "DIR", "with --merge: the base model (default: the one the "
          "adapters record)", 0, 0 },
        { 0 },
    };
    const cli_spec spec = { "export", "--format gguf|safetensors|hf [--merge] MODEL OUT",
                            "export a model to GGUF, safetensors or a Hugging Face directory",
                            opts, 2, 2 };
    char **pos;
    int npos;
    int rc = cli_parse(&spec, argc, argv, &pos, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    if (!format || (strcmp(format, "gguf") != 0 && strcmp(format, "safetensors") != 0 &&
                    strcmp(format, "hf") != 0)) {
        fprintf(stderr, "eef export: --format gguf, safetensors or hf is required\n");
        cli_usage(&spec, stderr);
        return 2;
    }
    eef_dtype dt = EEF_DT_COUNT; /* keep */
    if (strcasecmp(dtype, "keep") != 0) {
        for (dt = 0; dt < EEF_DT_COUNT && strcasecmp(dtype, eef_dtype_name(dt)) != 0; dt++) {}
        if (dt == EEF_DT_COUNT) {
            fprintf(stderr, "eef export: --dtype '%s' is not f32, f16, bf16, q8_0, q4_k, q5_k, q6_k or keep\n", dtype);
            return 2;
        }
    }
    if (dt != EEF_DT_F32 && strcmp(format, "gguf") != 0) {
        fprintf(stderr, "eef export: --dtype is for --format gguf\n");
        return 2;
    }
    eef_model *m;
    if (merge ? load_merged(pos[0], base, &m) : eef_model_load(pos[0], &m)) return cli_error("export");
    eef_err e = strcmp(format, "gguf") == 0 ? eef_model_export_gguf(m, dt, pos[1])
                                            : eef_model_export(m, format, pos[1]);
    if (!e)
        fprintf(stderr, "eef export: %s -> %s (%s, %zu parameters)\n", pos[0], pos[1], format,
                eef_model_n_params(&m->cfg));
    eef_model_free(m);
    return e ? cli_error("export") : 0;
}

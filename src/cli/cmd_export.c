/* eef export: a model's weights in GGUF (llama.cpp), safetensors or as a
 * Hugging Face model directory; see nn/export.c and docs/serving.md. */
#include "cli.h"

#include "nn/nn.h"

#include <string.h>
#include <strings.h>

int cmd_export(int argc, char **argv)
{
    const char *format = NULL, *dtype = "f32";
    const cli_opt opts[] = {
        { "--format", OPT_STR, &format, "FMT", "gguf, safetensors or hf (a directory)", 0, 0 },
        { "--dtype", OPT_STR, &dtype, "T",
          "gguf: matrices as f32, f16, bf16, q8_0, q4_k, q5_k, q6_k or keep (their own)", 0, 0 },
        { 0 },
    };
    const cli_spec spec = { "export", "--format gguf|safetensors|hf MODEL OUT",
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
    if (eef_model_load(pos[0], &m)) return cli_error("export");
    eef_err e = strcmp(format, "gguf") == 0 ? eef_model_export_gguf(m, dt, pos[1])
                                            : eef_model_export(m, format, pos[1]);
    if (!e)
        fprintf(stderr, "eef export: %s -> %s (%s, %zu parameters)\n", pos[0], pos[1], format,
                eef_model_n_params(&m->cfg));
    eef_model_free(m);
    return e ? cli_error("export") : 0;
}

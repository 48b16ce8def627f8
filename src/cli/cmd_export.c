/* eef export: a model's weights in GGUF (llama.cpp), safetensors or as a
 * Hugging Face model directory; see nn/export.c and docs/serving.md. */
#include "cli.h"

#include "nn/nn.h"

#include <string.h>

int cmd_export(int argc, char **argv)
{
    const char *format = NULL;
    const cli_opt opts[] = {
        { "--format", OPT_STR, &format, "FMT", "gguf, safetensors or hf (a directory)", 0, 0 },
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
    eef_model *m;
    if (eef_model_load(pos[0], &m)) return cli_error("export");
    eef_err e = eef_model_export(m, format, pos[1]);
    if (!e)
        fprintf(stderr, "eef export: %s -> %s (%s, %zu parameters)\n", pos[0], pos[1], format,
                eef_model_n_params(&m->cfg));
    eef_model_free(m);
    return e ? cli_error("export") : 0;
}

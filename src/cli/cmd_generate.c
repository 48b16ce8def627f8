/* eef generate: sample text from a model (an .eefm or a Hugging Face
 * directory).  A model without a tokenizer (an imported one, until the
 * Hugging Face tokenizer is wired in) takes and prints token ids. */
#include "cli.h"

#include "nn/nn.h"

#include <stdlib.h>
#include <string.h>

int cmd_generate(int argc, char **argv)
{
    const char *model = NULL, *prompt = "", *id_list = NULL;
    long max_new = 128, seed = 1, threads = 0;
    double temp = 1.0, top_p = 1.0;
    const cli_opt opts[] = {
        { "--model", OPT_STR, &model, "PATH", "model (.eefm, Hugging Face directory or .gguf)", 0, 0 },
        { "--prompt", OPT_STR, &prompt, "TEXT", "text to continue", 0, 0 },
        { "--ids", OPT_STR, &id_list, "I,J,..", "prompt as token ids (prints ids)", 0, 0 },
        { "--max", OPT_INT, &max_new, "N", "most new tokens", 1, 1 << 20 },
        { "--temp", OPT_DOUBLE, &temp, "T", "temperature (0: greedy)", 0, 100 },
        { "--top-p", OPT_DOUBLE, &top_p, "P", "nucleus sampling mass", 1e-6, 1 },
        { "--seed", OPT_INT, &seed, "S", "sampling seed", 0, __LONG_MAX__ },
        { "--threads", OPT_INT, &threads, "N", "threads (0: all cores)", 0, 1024 },
        { 0 },
    };
    const cli_spec spec = { "generate", "--model MODEL --prompt TEXT|--ids I,J,.. [options]",
                            "sample a continuation of a prompt", opts, 0, 0 };
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    if (!model) {
        fprintf(stderr, "eef generate: --model is required\n");
        cli_usage(&spec, stderr);
        return 2;
    }
    cli_set_threads(threads);
    eef_model *m;
    if (eef_model_load(model, &m)) return cli_error("generate");
    if (!m->tok && !id_list) {
        eef_model_free(m);
        eef_fail(EEF_EINVAL, "%s has no tokenizer: give the prompt as --ids", model);
        return cli_error("generate");
    }
    int *ids = NULL, *out = NULL;
    size_t n = 0, cap = 0, n_out = 0, cap_out = 0;
    eef_kv *kv = NULL;
    eef_err e = EEF_OK;
    if (id_list) {
        /* token ids as given */
        for (const char *p = id_list; !e && *p;) {
            char *end;
            long id = strtol(p, &end, 10);
            if (end == p || id < 0 || id >= m->cfg.vocab) {
                e = eef_fail(EEF_EINVAL, "--ids: '%s' is not a list of ids below %d", id_list,
                             m->cfg.vocab);
                break;
            }
            if (n == cap) {
                cap = cap ? 2 * cap : 64;
                int *q = realloc(ids, cap * sizeof *q);
                if (!q) {
                    e = EEF_ENOMEM;
                    break;
                }
                ids = q;
            }
            ids[n++] = (int)id;
            p = *end == ',' ? end + 1 : end;
            if (*end && *end != ',') e = eef_fail(EEF_EINVAL, "--ids: '%s' is not a list of ids", id_list);
        }
        if (!e && n == 0) e = eef_fail(EEF_EINVAL, "--ids: no ids");
    } else {
        /* <|bos|> then the prompt's tokens */
        ids = malloc(sizeof(int));
        if (!ids) e = EEF_ENOMEM;
        else ids[0] = EEF_TOK_BOS, n = 1, cap = 1;
        if (!e) e = eef_tok_encode(m->tok, prompt, strlen(prompt), &ids, &n, &cap);
    }
    if (!e && (long)n + max_new > m->cfg.max_ctx) max_new = m->cfg.max_ctx - (long)n;
    if (!e && max_new < 1) e = eef_fail(EEF_EINVAL, "the prompt fills the model's context");
    if (!e) e = eef_kv_new(m, 0, &kv);
    eef_sampling s = { .temperature = temp, .top_p = top_p };
    eef_rng rng = eef_rng_make(eef_rng_key((uint64_t)seed, 0x6E7, 0, 0));
    /* eef's models end a sequence with <|bos|>; imported ones with their eos ids */
    int stop_eef = EEF_TOK_BOS;
    const int *stop = m->meta.n_eos ? m->meta.eos_ids : &stop_eef;
    int n_stop = m->meta.n_eos ? m->meta.n_eos : 1;
    double t0 = eef_now();
    if (!e) e = eef_generate(kv, ids, (int)n, (int)max_new, &s, stop, n_stop, &rng, &out, &n_out, &cap_out);
    double dt = eef_now() - t0;
    if (!e && !id_list) {
        eef_buf text;
        eef_buf_init(&text);
        e = eef_tok_decode(m->tok, out, n_out, &text);
        if (!e) printf("%s%s\n", prompt, text.data ? text.data : "");
        eef_buf_free(&text);
    } else if (!e) {
        for (size_t i = 0; i < n_out; i++) printf("%s%d", i ? "," : "", out[i]);
        printf("\n");
    }
    if (!e)
        fprintf(stderr, "%zu tokens in %.2fs (%.0f tokens/s)\n", n_out, dt, n_out / (dt > 0 ? dt : 1));
    eef_kv_free(kv);
    free(ids);
    free(out);
    eef_model_free(m);
    return e ? cli_error("generate") : 0;
}

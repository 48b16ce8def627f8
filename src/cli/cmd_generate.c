/* eef generate: sample text from a model (an .eefm or a Hugging Face
 * directory).
 *
 *   --prompt TEXT            the tokenizer's framing (eef's <|bos|>, Llama
 *                            3's <|begin_of_text|>) then TEXT, specials in
 *                            it read as plain text
 *   --prompt TEXT --special  TEXT token-exact: "<|act|>", "<|im_start|>"
 *                            are those tokens and nothing is added (an
 *                            agent prompt replayed as it was)
 *   --prompt TEXT --chat     TEXT as the user's message in the model's chat
 *                            template (--system: a system message first);
 *                            prints the reply only
 *   --ids I,J,..             token ids in and out (a model without a
 *                            tokenizer)
 *
 * Generation stops after the model's eos ids (generation_config.json) or
 * a token the role map names as an end (eos, end of turn) or a start
 * (bos); the stop token is not printed. */
#include "cli.h"

#include "nn/nn.h"

#include <stdlib.h>
#include <string.h>

static int is_stop(int id, const int *stop, int n)
{
    for (int i = 0; i < n; i++)
        if (stop[i] == id) return 1;
    return 0;
}

/* The model's eos ids, then the role map's ends and bos (a new sequence
 * ends this one), each once; returns the count (at most 16). */
static int stop_ids(const eef_model *m, int *stop)
{
    int n = 0;
    for (int i = 0; i < m->meta.n_eos && n < 16; i++)
        if (!is_stop(m->meta.eos_ids[i], stop, n)) stop[n++] = m->meta.eos_ids[i];
    if (m->tok) {
        const eef_tok_roles *r = eef_tok_roles_of(m->tok);
        const int more[3] = { r->eos, r->eot, r->bos };
        for (int i = 0; i < 3 && n < 16; i++)
            if (more[i] >= 0 && !is_stop(more[i], stop, n)) stop[n++] = more[i];
    }
    return n;
}

int cmd_generate(int argc, char **argv)
{
    const char *model = NULL, *prompt = "", *id_list = NULL, *system_msg = NULL;
    int special = 0, chat = 0;
    long max_new = 128, seed = 1, threads = 0;
    double temp = 1.0, top_p = 1.0;
    const cli_opt opts[] = {
        { "--model", OPT_STR, &model, "PATH", "model (.eefm, Hugging Face directory or .gguf)", 0, 0 },
        { "--prompt", OPT_STR, &prompt, "TEXT", "text to continue", 0, 0 },
        { "--ids", OPT_STR, &id_list, "I,J,..", "prompt as token ids (prints ids)", 0, 0 },
        { "--special", OPT_FLAG, &special, NULL,
          "the prompt is token-exact: special tokens in it are tokens, no bos added", 0, 0 },
        { "--chat", OPT_FLAG, &chat, NULL, "the prompt is a user message in the model's chat template", 0, 0 },
        { "--system", OPT_STR, &system_msg, "TEXT", "--chat: a system message first", 0, 0 },
        { "--max", OPT_INT, &max_new, "N", "most new tokens", 1, 1 << 20 },
        { "--temp", OPT_DOUBLE, &temp, "T", "temperature (0: greedy)", 0, 100 },
        { "--top-p", OPT_DOUBLE, &top_p, "P", "nucleus sampling mass", 1e-6, 1 },
        { "--seed", OPT_INT, &seed, "S", "sampling seed", 0, __LONG_MAX__ },
        { "--threads", OPT_INT, &threads, "N", "threads (0: all cores)", 0, 1024 },
        { 0 },
    };
    const cli_spec spec = { "generate", "--model MODEL --prompt TEXT [--special|--chat]|--ids I,J,.. [options]",
                            "sample a continuation of a prompt", opts, 0, 0 };
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    if (!model) {
        fprintf(stderr, "eef generate: --model is required\n");
        cli_usage(&spec, stderr);
        return 2;
    }
    if ((special || chat || system_msg) && id_list) {
        fprintf(stderr, "eef generate: --special, --chat and --system take a --prompt, not --ids\n");
        return 2;
    }
    if (special && chat) {
        fprintf(stderr, "eef generate: --special and --chat are two ways to read the prompt; give one\n");
        return 2;
    }
    if (system_msg && !chat) {
        fprintf(stderr, "eef generate: --system goes with --chat\n");
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
    } else if (chat) {
        if (!eef_tok_chat_name(m->tok))
            e = eef_fail(EEF_EINVAL, "%s: its tokenizer has no chat template (eef's own models "
                         "take --prompt, or --special for an agent prompt)", model);
        eef_chat_msg msgs[2] = { { "system", system_msg }, { "user", prompt } };
        if (!e)
            e = eef_tok_chat_encode(m->tok, system_msg ? msgs : msgs + 1, system_msg ? 2 : 1,
                                    EEF_CHAT_GEN_PROMPT, &ids, &n, &cap, NULL);
    } else {
        unsigned flags = special ? EEF_TOK_ENC_SPECIAL : EEF_TOK_ENC_ADD_SPECIAL;
        e = eef_tok_encode_ex(m->tok, prompt, strlen(prompt), flags, &ids, &n, &cap);
        if (!e && n == 0) e = eef_fail(EEF_EINVAL, "the prompt has no tokens");
    }
    if (!e && (long)n + max_new > m->cfg.max_ctx) max_new = m->cfg.max_ctx - (long)n;
    if (!e && max_new < 1) e = eef_fail(EEF_EINVAL, "the prompt fills the model's context");
    if (!e) e = eef_kv_new(m, 0, &kv);
    eef_sampling s = { .temperature = temp, .top_p = top_p };
    eef_rng rng = eef_rng_make(eef_rng_key((uint64_t)seed, EEF_STREAM_GENERATE, 0, 0));
    int stop[16], n_stop = stop_ids(m, stop);
    double t0 = eef_now();
    if (!e) e = eef_generate(kv, ids, (int)n, (int)max_new, &s, stop, n_stop, &rng, &out, &n_out, &cap_out);
    double dt = eef_now() - t0;
    if (!e && !id_list) {
        /* the stop token is not text; an id no token has (an embedding
         * row past the tokenizer's vocabulary) has none to print */
        size_t n_text = n_out, no_token = 0;
        if (n_text && is_stop(out[n_text - 1], stop, n_stop)) n_text--;
        eef_buf text;
        eef_buf_init(&text);
        for (size_t i = 0; !e && i < n_text; i++) {
            size_t len;
            const char *p = eef_tok_piece(m->tok, out[i], &len);
            if (!p) no_token++;
            else if (eef_buf_append(&text, p, len)) e = EEF_ENOMEM;
        }
        if (!e) printf("%s%s\n", chat ? "" : prompt, text.data ? text.data : "");
        if (!e && no_token)
            fprintf(stderr, "eef generate: %zu generated ids have no token in the tokenizer (not "
                    "printed)\n", no_token);
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

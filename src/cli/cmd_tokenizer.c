/* eef tokenizer: train a BPE tokenizer, or show how one encodes and
 * decodes text.  --tok takes any tokenizer a model can hold: a tokenizer
 * file (EEFT / EEFH, a tokenizer.json), a Hugging Face directory, or a
 * model (.eefm, a model directory), whose tokenizer is the one it runs. */
#include "cli.h"

#include "nn/nn.h"
#include "text/text.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The tokenizer of a model (loaded as the model is, so it is the same
 * tokenizer eef generate and serve use), or a tokenizer file. */
static eef_err load_tok(const char *path, eef_tokenizer **out)
{
    *out = NULL;
    char cfg[4200], magic[4] = { 0 };
    struct stat st;
    int is_dir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    int model = is_dir && eef_file_exists(eef_path_join(cfg, sizeof cfg, path, "config.json"));
    if (!is_dir) {
        FILE *f = fopen(path, "rb");
        if (f) {
            model = fread(magic, 1, 4, f) == 4 && memcmp(magic, "EEFM", 4) == 0;
            fclose(f);
        }
    }
    if (!model) return eef_tok_load_file(path, out);
    eef_model *m;
    EEF_TRY(eef_model_load(path, &m));
    if (!m->tok) {
        eef_model_free(m);
        return eef_fail(EEF_EINVAL, "%s: the model has no tokenizer", path);
    }
    *out = m->tok;
    m->tok = NULL;
    eef_model_free(m);
    return EEF_OK;
}

/* "I,J,K" (commas or blanks between) into ids. */
static eef_err parse_ids(const char *s, int **ids, size_t *n)
{
    size_t cap = 0;
    *ids = NULL, *n = 0;
    for (const char *p = s;;) {
        while (*p == ',' || *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
        if (!*p) break;
        char *end;
        long id = strtol(p, &end, 10);
        if (end == p || id < 0 || id >= (1L << 30))
            return eef_fail(EEF_EINVAL, "--ids: '%.40s' is not a token id", p);
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            int *q = realloc(*ids, cap * sizeof *q);
            if (!q) return EEF_ENOMEM;
            *ids = q;
        }
        (*ids)[(*n)++] = (int)id;
        p = end;
    }
    return EEF_OK;
}

static int train(int argc, char **argv)
{
    const char *corpus = NULL, *out = NULL;
    long vocab = 2048;
    const cli_opt opts[] = {
        { "--corpus", OPT_STR, &corpus, "FILE", "text to learn from", 0, 0 },
        { "--vocab", OPT_INT, &vocab, "N", "vocabulary size", EEF_TOK_FIRST_MERGE, 1 << 20 },
        { "--out", OPT_STR, &out, "FILE", "tokenizer file to write", 0, 0 },
        { 0 },
    };
    const cli_spec spec = { "tokenizer train", "--corpus FILE --vocab N --out FILE",
                            "learn byte-level BPE merges from a corpus", opts, 0, 0 };
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    if (!corpus || !out) {
        fprintf(stderr, "eef tokenizer train: --corpus and --out are required\n");
        cli_usage(&spec, stderr);
        return 2;
    }
    char *text;
    size_t len;
    if (eef_read_file(corpus, &text, &len)) return cli_error("tokenizer");
    double t0 = eef_now();
    eef_tokenizer *t;
    eef_err e = eef_tok_train(text, len, (int)vocab, &t);
    double dt = eef_now() - t0;
    int *ids = NULL;
    size_t n = 0, cap = 0;
    if (!e) e = eef_tok_encode(t, text, len, &ids, &n, &cap);
    if (!e) e = eef_tok_save_file(t, out);
    if (!e)
        printf("%s: %d tokens (%d merges) from %zu bytes in %.2fs; %.2f bytes per token on the "
               "corpus\n", out, eef_tok_vocab_size(t), eef_tok_vocab_size(t) - EEF_TOK_FIRST_MERGE,
               len, dt, n ? (double)len / (double)n : 0.0);
    free(ids);
    free(text);
    if (!e) eef_tok_free(t);
    return e ? cli_error("tokenizer") : 0;
}

#define TOK_HELP "tokenizer file, Hugging Face directory or model (.eefm, model directory)"

static int encode(int argc, char **argv)
{
    const char *tok = NULL, *text = NULL;
    int special = 0, add = 0, ids_only = 0;
    const cli_opt opts[] = {
        { "--tok", OPT_STR, &tok, "PATH", TOK_HELP, 0, 0 },
        { "--model", OPT_STR, &tok, "PATH", "the same as --tok", 0, 0 },
        { "--text", OPT_STR, &text, "TEXT", "text to encode (default: stdin)", 0, 0 },
        { "--special", OPT_FLAG, &special, NULL, "special tokens written in the text are tokens", 0, 0 },
        { "--add-special", OPT_FLAG, &add, NULL, "the tokenizer's framing (bos) around the text", 0, 0 },
        { "--ids", OPT_FLAG, &ids_only, NULL, "print the ids only, as I,J,.. (for --ids elsewhere)", 0, 0 },
        { 0 },
    };
    const cli_spec spec = { "tokenizer encode", "--tok PATH [--text TEXT] [--special] [--ids]",
                            "print the tokens of a text", opts, 0, 0 };
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    if (!tok) {
        fprintf(stderr, "eef tokenizer encode: --tok is required\n");
        cli_usage(&spec, stderr);
        return 2;
    }
    eef_tokenizer *t;
    if (load_tok(tok, &t)) return cli_error("tokenizer");
    eef_buf in;
    eef_buf_init(&in);
    if (text) eef_buf_puts(&in, text);
    else {
        char chunk[4096];
        size_t k;
        while ((k = fread(chunk, 1, sizeof chunk, stdin)) > 0) eef_buf_append(&in, chunk, k);
    }
    int *ids = NULL;
    size_t n = 0, cap = 0;
    unsigned flags = (special ? EEF_TOK_ENC_SPECIAL : 0) | (add ? EEF_TOK_ENC_ADD_SPECIAL : 0);
    eef_err e = eef_tok_encode_ex(t, in.data ? in.data : "", in.len, flags, &ids, &n, &cap);
    for (size_t i = 0; !e && ids_only && i < n; i++) printf("%s%d", i ? "," : "", ids[i]);
    if (!e && ids_only) printf("\n");
    for (size_t i = 0; !e && !ids_only && i < n; i++) {
        size_t len;
        const char *p = eef_tok_piece(t, ids[i], &len);
        printf("%6d  '", ids[i]);
        for (size_t k = 0; k < len; k++) {
            unsigned char c = (unsigned char)p[k];
            if (c >= 32 && c < 127 && c != '\'') putchar(c);
            else printf("\\x%02x", c);
        }
        printf("'\n");
    }
    if (!e && !ids_only) printf("%zu tokens, %zu bytes\n", n, in.len);
    free(ids);
    eef_buf_free(&in);
    eef_tok_free(t);
    return e ? cli_error("tokenizer") : 0;
}

static int decode(int argc, char **argv)
{
    const char *tok = NULL, *list = NULL;
    const cli_opt opts[] = {
        { "--tok", OPT_STR, &tok, "PATH", TOK_HELP, 0, 0 },
        { "--model", OPT_STR, &tok, "PATH", "the same as --tok", 0, 0 },
        { "--ids", OPT_STR, &list, "I,J,..", "token ids (default: stdin)", 0, 0 },
        { 0 },
    };
    const cli_spec spec = { "tokenizer decode", "--tok PATH [--ids I,J,..]",
                            "print the bytes of token ids (special tokens as their text)", opts, 0, 0 };
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    if (!tok) {
        fprintf(stderr, "eef tokenizer decode: --tok is required\n");
        cli_usage(&spec, stderr);
        return 2;
    }
    eef_tokenizer *t;
    if (load_tok(tok, &t)) return cli_error("tokenizer");
    eef_buf in, out;
    eef_buf_init(&in);
    eef_buf_init(&out);
    if (list) eef_buf_puts(&in, list);
    else {
        char chunk[4096];
        size_t k;
        while ((k = fread(chunk, 1, sizeof chunk, stdin)) > 0) eef_buf_append(&in, chunk, k);
    }
    int *ids = NULL;
    size_t n = 0;
    eef_err e = parse_ids(in.data ? in.data : "", &ids, &n);
    if (!e) e = eef_tok_decode(t, ids, n, &out);
    if (!e) {
        fwrite(out.data ? out.data : "", 1, out.len, stdout);
        printf("\n");
    }
    free(ids);
    eef_buf_free(&in);
    eef_buf_free(&out);
    eef_tok_free(t);
    return e ? cli_error("tokenizer") : 0;
}

int cmd_tokenizer(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "train") == 0) return train(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "encode") == 0) return encode(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "decode") == 0) return decode(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: eef tokenizer train --corpus FILE --vocab N --out FILE\n"
               "       eef tokenizer encode --tok PATH [--text TEXT] [--special] [--ids]\n"
               "       eef tokenizer decode --tok PATH [--ids I,J,..]\n"
               "PATH: a tokenizer file, a Hugging Face directory, or a model (.eefm, model directory)\n");
        return 0;
    }
    fprintf(stderr, "usage: eef tokenizer train|encode|decode ... (eef tokenizer --help)\n");
    return 2;
}

/* eef tokenizer: train a BPE tokenizer, or show how one encodes text. */
#include "cli.h"

#include "text/text.h"

#include <stdlib.h>
#include <string.h>

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

static int encode(int argc, char **argv)
{
    const char *tok = NULL, *text = NULL;
    const cli_opt opts[] = {
        { "--tok", OPT_STR, &tok, "FILE", "tokenizer file", 0, 0 },
        { "--text", OPT_STR, &text, "TEXT", "text to encode (default: stdin)", 0, 0 },
        { 0 },
    };
    const cli_spec spec = { "tokenizer encode", "--tok FILE [--text TEXT]",
                            "print the tokens of a text", opts, 0, 0 };
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    if (!tok) {
        fprintf(stderr, "eef tokenizer encode: --tok is required\n");
        cli_usage(&spec, stderr);
        return 2;
    }
    eef_tokenizer *t;
    if (eef_tok_load_file(tok, &t)) return cli_error("tokenizer");
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
    eef_err e = eef_tok_encode(t, in.data ? in.data : "", in.len, &ids, &n, &cap);
    for (size_t i = 0; !e && i < n; i++) {
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
    if (!e) printf("%zu tokens, %zu bytes\n", n, in.len);
    free(ids);
    eef_buf_free(&in);
    eef_tok_free(t);
    return e ? cli_error("tokenizer") : 0;
}

int cmd_tokenizer(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "train") == 0) return train(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "encode") == 0) return encode(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: eef tokenizer train --corpus FILE --vocab N --out FILE\n"
               "       eef tokenizer encode --tok FILE [--text TEXT]\n");
        return 0;
    }
    fprintf(stderr, "usage: eef tokenizer train|encode ... (eef tokenizer train --help)\n");
    return 2;
}

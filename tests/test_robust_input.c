/* Bad input never crashes and always says which file and what is wrong:
 * checkpoints (.eefm / .eefo) truncated at every byte offset, every header
 * bit flipped (with the checksum left stale and recomputed), wrong magic
 * and version, crafted tokenizers; trajectory files at the line reader's
 * chunk boundaries, with CRLF, a byte-order mark, a torn last line, deep
 * nesting; run directories with a damaged config.json / state.json /
 * metrics.jsonl; and --skip-bad through eef stats, eef train and eef
 * replay. */
#include "testutil.h"

#include "nn/nn.h"
#include "text/text.h"
#include "traj/traj.h"

#include <cjson/cJSON.h>
#include <fcntl.h>

/* A plain write (no fsync): thousands of damaged files per test. */
static void put_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n) assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static char *get_file(const char *path, size_t *n)
{
    char *d;
    assert_ok(eef_read_file(path, &d, n));
    return d;
}

static void fix_crc(unsigned char *p, size_t n)
{
    uint32_t crc = eef_crc32(0, p, n - 4);
    memcpy(p + n - 4, &crc, 4);
}

/* The smallest model a real tokenizer fits: vocab 282, d_model 4, tied
 * (about 5 KB), and its optimizer state (about 10 KB). */
static eef_model *tiny_model(void)
{
    const char text[] = "search[red shoes] click[Buy Now] go to fridge 1 take apple 1 from "
                        "countertop 2 put apple 1 in/on fridge 1 ";
    char corpus[4 * sizeof text];
    size_t n = 0;
    for (int i = 0; i < 4; i++) memcpy(corpus + n, text, sizeof text - 1), n += sizeof text - 1;
    eef_tokenizer *tok;
    assert_ok(eef_tok_train(corpus, n, EEF_TOK_FIRST_MERGE + 20, &tok));
    eef_model_config c = { .vocab = eef_tok_vocab_size(tok), .d_model = 4, .n_layers = 1,
                           .n_heads = 1, .d_ff = 4, .max_ctx = 8, .tied = 1,
                           .rope_theta = 10000.0f, .norm_eps = 1e-5f };
    eef_model *m;
    assert_ok(eef_model_new(&c, tok, 3, &m));
    return m;
}

/* Loads `path` as a model (kind 0) or optimizer state (kind 1) of n
 * parameters; returns the error, checking a failure names the file. */
static eef_err load(int kind, const char *path, size_t n_params)
{
    eef_err e;
    if (kind == 0) {
        eef_model *m;
        e = eef_model_load(path, &m);
        if (!e) eef_model_free(m);
    } else {
        eef_adamw *o;
        e = eef_adamw_load(path, n_params, &o);
        if (!e) eef_adamw_free(o);
    }
    if (e && strncmp(eef_errmsg(), path, strlen(path)) != 0)
        fail_msg("error does not start with the file name: %s", eef_errmsg());
    return e;
}

static void check_damage(int kind, const char *good, const char *bad, size_t n_params,
                         size_t header)
{
    size_t len;
    unsigned char *data = (unsigned char *)get_file(good, &len);
    assert_ok(load(kind, good, n_params));
    /* truncated at every byte offset */
    for (size_t cut = 0; cut < len; cut++) {
        put_file(bad, data, cut);
        eef_err e = load(kind, bad, n_params);
        if (e != EEF_EFORMAT) fail_msg("cut at %zu of %zu: %s", cut, len, eef_errmsg());
        if (!strstr(eef_errmsg(), cut < 12 ? "too short" : "checksum mismatch"))
            fail_msg("cut at %zu: unclear message: %s", cut, eef_errmsg());
    }
    /* one more byte, and a byte changed anywhere */
    unsigned char *longer = malloc(len + 1);
    memcpy(longer, data, len);
    longer[len] = 0;
    put_file(bad, longer, len + 1);
    assert_int_equal(load(kind, bad, n_params), EEF_EFORMAT);
    free(longer);
    for (size_t at = 0; at < len; at++) {
        data[at] ^= 0x01;
        put_file(bad, data, len);
        assert_int_equal(load(kind, bad, n_params), EEF_EFORMAT);
        data[at] ^= 0x01;
    }
    /* every bit of the header, first with the checksum stale, then with
     * it recomputed so the structure behind it is what is checked: either
     * a clear error, or a file that is still valid (a float setting) and
     * saves back to the same bytes */
    for (size_t at = 0; at < header; at++)
        for (int bit = 0; bit < 8; bit++) {
            data[at] ^= (unsigned char)(1u << bit);
            put_file(bad, data, len);
            eef_err e = load(kind, bad, n_params);
            if (e != EEF_EFORMAT) fail_msg("byte %zu bit %d flipped: accepted", at, bit);
            if (at >= 8 && !strstr(eef_errmsg(), "checksum mismatch"))
                fail_msg("byte %zu bit %d: %s", at, bit, eef_errmsg());
            fix_crc(data, len);
            e = load(kind, bad, n_params);
            if (e != EEF_OK && e != EEF_EFORMAT)
                fail_msg("byte %zu bit %d, checksum fixed: %s %s", at, bit, eef_errname(e), eef_errmsg());
            data[at] ^= (unsigned char)(1u << bit);
            fix_crc(data, len);
        }
    free(data);
}

static void test_checkpoints_damaged(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char mp[512], op[512], bad[512];
    eef_path_join(mp, sizeof mp, dir, "m.eefm");
    eef_path_join(op, sizeof op, dir, "m.eefo");
    /* thousands of damaged files: in memory when there is a /dev/shm */
    if (access("/dev/shm", W_OK) == 0) snprintf(bad, sizeof bad, "/dev/shm/eef-robust-%d.eefx", (int)getpid());
    else eef_path_join(bad, sizeof bad, dir, "bad.eefx");
    eef_model *m = tiny_model();
    assert_ok(eef_model_save(m, mp));
    eef_adamw_config oc;
    eef_adamw_defaults(&oc);
    oc.total_steps = 10;
    eef_adamw *o;
    assert_ok(eef_adamw_new(&oc, m->n_params, &o));
    o->step = 3;
    assert_ok(eef_adamw_save(o, op));
    /* .eefm header: magic, version, config (36), tokenizer size (8), the
     * tokenizer's own header (16), parameter count (8 after the merges) */
    eef_buf tb;
    eef_buf_init(&tb);
    assert_ok(eef_tok_save(m->tok, &tb));
    check_damage(0, mp, bad, m->n_params, 4 + 4 + 36 + 8 + tb.len + 8);
    /* .eefo header: magic, version, 7 f64, 2 u64, i32, step, count */
    check_damage(1, op, bad, m->n_params, 4 + 4 + 56 + 16 + 4 + 8 + 8);

    /* one kind for the other, and versions from the future */
    assert_int_equal(load(0, op, m->n_params), EEF_EFORMAT);
    assert_non_null(strstr(eef_errmsg(), "not a eef model (.eefm) file (bad magic)"));
    assert_int_equal(load(1, mp, m->n_params), EEF_EFORMAT);
    assert_non_null(strstr(eef_errmsg(), "bad magic"));
    size_t len;
    unsigned char *d = (unsigned char *)get_file(mp, &len);
    d[4] = 3;
    fix_crc(d, len);
    put_file(bad, d, len);
    assert_int_equal(load(0, bad, 0), EEF_EFORMAT);
    assert_non_null(strstr(eef_errmsg(), "version 3, this eef reads versions 1 to 2"));
    /* a version 1 config relabelled version 2: no writer makes it */
    d[4] = 2;
    fix_crc(d, len);
    put_file(bad, d, len);
    assert_int_equal(load(0, bad, 0), EEF_EFORMAT);
    /* a tokenizer of another size than the config's vocab: named as the file's fault */
    int32_t vocab;
    memcpy(&vocab, d + 8, 4);
    d[4] = 1;
    vocab += 2;
    memcpy(d + 8, &vocab, 4);
    fix_crc(d, len);
    put_file(bad, d, len);
    assert_int_equal(load(0, bad, 0), EEF_EFORMAT);
    free(d);

    /* optimizer settings no writer produces, behind a valid checksum */
    d = (unsigned char *)get_file(op, &len);
    double nan = NAN;
    memcpy(d + 8, &nan, 8); /* lr */
    fix_crc(d, len);
    put_file(bad, d, len);
    assert_int_equal(load(1, bad, m->n_params), EEF_EFORMAT);
    assert_non_null(strstr(eef_errmsg(), "not finite"));
    free(d);
    d = (unsigned char *)get_file(op, &len);
    uint64_t huge = (uint64_t)1 << 63;
    memcpy(d + 4 + 4 + 56 + 16 + 4, &huge, 8); /* step */
    fix_crc(d, len);
    put_file(bad, d, len);
    assert_int_equal(load(1, bad, m->n_params), EEF_EFORMAT);
    assert_non_null(strstr(eef_errmsg(), "out of range"));
    free(d);
    /* a parameter count whose byte size wraps (2 * 2^61 * 4 = 2^64): the
     * file ends after its header and the caller expects that count */
    d = (unsigned char *)get_file(op, &len);
    size_t hdr = 4 + 4 + 56 + 16 + 4 + 8 + 8;
    uint64_t wraps = (uint64_t)1 << 61;
    memcpy(d + hdr - 8, &wraps, 8);
    fix_crc(d, hdr + 4);
    put_file(bad, d, hdr + 4);
    assert_int_equal(load(1, bad, (size_t)wraps), EEF_EFORMAT);
    assert_non_null(strstr(eef_errmsg(), "bytes of moments"));
    free(d);
    assert_int_equal(load(1, op, m->n_params + 1), EEF_EFORMAT);
    assert_non_null(strstr(eef_errmsg(), "the model has"));
    /* an empty file and a directory */
    put_file(bad, "", 0);
    assert_int_equal(load(0, bad, 0), EEF_EFORMAT);
    assert_int_not_equal(load(0, dir, 0), EEF_OK);

    unlink(bad);
    eef_buf_free(&tb);
    eef_adamw_free(o);
    eef_model_free(m);
    tu_rmtree(dir);
}

/* A serialized tokenizer with the given merges (CRC computed). */
static void tok_bytes(const int32_t *merges, uint32_t nm, eef_buf *out)
{
    uint32_t hdr[3] = { 1, (uint32_t)EEF_TOK_FIRST_MERGE + nm, nm };
    eef_buf_clear(out);
    eef_buf_append(out, "EEFT", 4);
    eef_buf_append(out, hdr, sizeof hdr);
    eef_buf_append(out, merges, (size_t)nm * 8);
    uint32_t crc = eef_crc32(0, out->data, out->len);
    eef_buf_append(out, &crc, 4);
}

static void test_tokenizer_crafted(void **state)
{
    (void)state;
    eef_buf b;
    eef_buf_init(&b);
    eef_tokenizer *t;
    /* each merge doubles the previous piece: 2^40 bytes by the end, and
     * 32-bit piece lengths that wrap.  Rejected up front (pieces longer
     * than a word cannot come from training). */
    int32_t dbl[80];
    dbl[0] = 'a', dbl[1] = 'a';
    for (int m = 1; m < 40; m++) dbl[2 * m] = dbl[2 * m + 1] = EEF_TOK_FIRST_MERGE + m - 1;
    tok_bytes(dbl, 40, &b);
    assert_int_equal(eef_tok_load(b.data, b.len, "x.eefm: tokenizer", &t), EEF_EFORMAT);
    assert_non_null(strstr(eef_errmsg(), "x.eefm: tokenizer: tokenizer merge 6 makes a piece of 128 bytes"));
    /* 64 bytes is still a word: 6 doublings load, and round-trip */
    tok_bytes(dbl, 6, &b);
    assert_ok(eef_tok_load(b.data, b.len, "x", &t));
    char word[64];
    memset(word, 'a', sizeof word);
    int *ids = NULL;
    size_t n = 0, cap = 0;
    assert_ok(eef_tok_encode(t, word, sizeof word, &ids, &n, &cap));
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], EEF_TOK_FIRST_MERGE + 5);
    free(ids);
    eef_tok_free(t);
    /* a merge of a special token, of itself, of a later id; a negative id */
    int32_t bad[][2] = { { 256, 'a' }, { EEF_TOK_FIRST_MERGE, 'a' }, { 'a', EEF_TOK_FIRST_MERGE + 5 }, { -1, 'a' } };
    for (size_t i = 0; i < EEF_ARRAY_LEN(bad); i++) {
        tok_bytes(bad[i], 1, &b);
        assert_int_equal(eef_tok_load(b.data, b.len, "x", &t), EEF_EFORMAT);
        assert_non_null(strstr(eef_errmsg(), "refers to an invalid id"));
    }
    /* a vocabulary that does not match the merge count; too many merges */
    tok_bytes(dbl, 2, &b);
    ((uint32_t *)(void *)(b.data + 4))[1] += 1;
    assert_int_equal(eef_tok_load(b.data, b.len, "x", &t), EEF_EFORMAT);
    assert_non_null(strstr(eef_errmsg(), "inconsistent"));
    tok_bytes(dbl, 2, &b);
    ((uint32_t *)(void *)(b.data + 4))[1] = EEF_TOK_FIRST_MERGE + (1u << 21);
    ((uint32_t *)(void *)(b.data + 4))[2] = 1u << 21;
    assert_int_equal(eef_tok_load(b.data, b.len, "x", &t), EEF_EFORMAT);
    /* every truncation of a real one */
    tok_bytes(dbl, 6, &b);
    for (size_t cut = 0; cut < b.len; cut++) {
        assert_int_equal(eef_tok_load(b.data, cut, "x", &t), EEF_EFORMAT);
        assert_true(strncmp(eef_errmsg(), "x: ", 3) == 0);
    }
    eef_buf_free(&b);
}

/* ------------------------------------------------------------ trajectories */
#define LINE_A                                                                                  \
    "{\"id\":\"a\",\"env\":\"shop\",\"task\":\"t\",\"source\":\"expert\",\"reward\":0,"        \
    "\"win\":false,\"conversations\":[{\"from\":\"human\",\"value\":\"o\",\"loss\":0},"         \
    "{\"from\":\"gpt\",\"value\":\"a\",\"loss\":1}]}"

static eef_err read_text(const char *path, const char *text, size_t n, int skip_bad,
                         eef_trajset *set, size_t *n_bad)
{
    put_file(path, text, n);
    memset(set, 0, sizeof *set);
    if (!skip_bad) return eef_traj_read(path, 0, set, n_bad);
    /* skipped lines are reported on stderr: keep the test output clean */
    fflush(stderr);
    int saved = dup(2), null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    close(null);
    eef_err e = eef_traj_read(path, 1, set, n_bad);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    return e;
}

/* An observation of `len` bytes around the line reader's chunks (of
 * EEF_LINES_CHUNK - 1 bytes: one, two, and sixteen of them), with NUL-free
 * filler: it reads back whole. */
static void test_traj_lines_at_chunk_edges(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char path[512];
    eef_path_join(path, sizeof path, dir, "t.jsonl");
    eef_buf text;
    eef_buf_init(&text);
    const char *pre = "{\"id\":\"a\",\"env\":\"shop\",\"task\":\"t\",\"source\":\"expert\",\"reward\":0,"
                      "\"win\":false,\"conversations\":[{\"from\":\"human\",\"value\":\"";
    const char *post = "\",\"loss\":0}]}";
    size_t fixed = strlen(pre) + strlen(post);
    for (long d = -3; d <= 3; d++)
        for (int k = 1; k <= 16; k = k == 2 ? 16 : k + 1) {
            /* the line (with its newline) ends at k chunks + d bytes */
            size_t total = (size_t)((long)k * (EEF_LINES_CHUNK - 1) + d), obs = total - 1 - fixed;
            eef_buf_clear(&text);
            eef_buf_puts(&text, pre);
            eef_buf_reserve(&text, obs);
            for (size_t i = 0; i < obs; i++) text.data[text.len++] = (char)('a' + i % 26);
            text.data[text.len] = 0;
            eef_buf_puts(&text, post);
            eef_buf_puts(&text, "\n" LINE_A); /* a second line, no final newline */
            eef_trajset set;
            assert_ok(read_text(path, text.data, text.len, 0, &set, NULL));
            assert_int_equal(set.n, 2);
            assert_int_equal(strlen(set.items[0].final_obs), obs);
            assert_string_equal(set.items[1].id, "a");
            eef_trajset_free(&set);
            /* a NUL byte right at the edge: reported at its column */
            text.data[strlen(pre) + obs - 1] = 0;
            size_t n_bad;
            assert_int_equal(read_text(path, text.data, text.len, 0, &set, NULL), EEF_EFORMAT);
            char want[600];
            snprintf(want, sizeof want, "%s:1: NUL byte at column %zu", path, strlen(pre) + obs);
            assert_string_equal(eef_errmsg(), want);
            assert_ok(read_text(path, text.data, text.len, 1, &set, &n_bad));
            assert_int_equal(n_bad, 1);
            assert_int_equal(set.n, 1);
            eef_trajset_free(&set);
        }
    eef_buf_free(&text);
    tu_rmtree(dir);
}

static void test_traj_odd_files(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char path[512], want[700];
    eef_path_join(path, sizeof path, dir, "t.jsonl");
    eef_trajset set;
    size_t n_bad;
    /* CRLF line endings and a final line without a newline read fine */
    const char crlf[] = "{\"eef\":\"trajectories\",\"version\":1}\r\n" LINE_A "\r\n" LINE_A;
    assert_ok(read_text(path, crlf, sizeof crlf - 1, 0, &set, NULL));
    assert_int_equal(set.n, 2);
    eef_trajset_free(&set);
    /* a torn last line (what a non-atomic writer leaves): line 3 named */
    const char torn[] = LINE_A "\n" LINE_A "\n{\"id\":\"a\",\"env\":\"sh";
    assert_int_equal(read_text(path, torn, sizeof torn - 1, 0, &set, NULL), EEF_EFORMAT);
    snprintf(want, sizeof want, "%s:3: malformed JSON", path);
    assert_true(strncmp(eef_errmsg(), want, strlen(want)) == 0);
    assert_ok(read_text(path, torn, sizeof torn - 1, 1, &set, &n_bad));
    assert_int_equal(set.n, 2);
    assert_int_equal(n_bad, 1);
    eef_trajset_free(&set);
    /* a byte-order mark before the first line (editors on Windows) is
     * tolerated, as cJSON skips it */
    const char bom[] = "\xEF\xBB\xBF" LINE_A "\n";
    assert_ok(read_text(path, bom, sizeof bom - 1, 0, &set, NULL));
    assert_int_equal(set.n, 1);
    eef_trajset_free(&set);
    /* invalid UTF-8 at the very end of a line, a code point past U+10FFFF,
     * an escaped lone surrogate */
    const char *bad_text[] = {
        "{\"id\":\"a\xE2\x82\"}", "{\"id\":\"\xF4\x90\x80\x80\"}", "{\"id\":\"\\ud800\",\"x\":1}",
    };
    for (size_t i = 0; i < EEF_ARRAY_LEN(bad_text); i++) {
        assert_int_equal(read_text(path, bad_text[i], strlen(bad_text[i]), 0, &set, NULL),
                         EEF_EFORMAT);
        snprintf(want, sizeof want, "%s:1: ", path);
        if (strncmp(eef_errmsg(), want, strlen(want)) != 0) fail_msg("case %zu: %s", i, eef_errmsg());
    }
    /* nesting deep enough to overflow a recursive parser's stack */
    size_t depth = 200000;
    eef_buf deep;
    eef_buf_init(&deep);
    eef_buf_puts(&deep, "{\"id\":\"a\",\"x\":");
    for (size_t i = 0; i < depth; i++) eef_buf_puts(&deep, "[");
    for (size_t i = 0; i < depth; i++) eef_buf_puts(&deep, "]");
    eef_buf_puts(&deep, "}\n" LINE_A "\n");
    assert_int_equal(read_text(path, deep.data, deep.len, 0, &set, NULL), EEF_EFORMAT);
    snprintf(want, sizeof want, "%s:1: malformed JSON", path);
    assert_true(strncmp(eef_errmsg(), want, strlen(want)) == 0);
    assert_ok(read_text(path, deep.data, deep.len, 1, &set, &n_bad));
    assert_int_equal(set.n, 1);
    eef_trajset_free(&set);
    eef_buf_free(&deep);
    /* binary garbage: every line bad, nothing read, no crash */
    unsigned char junk[4096];
    eef_rng r = eef_rng_make(eef_rng_key(9, 9, 9, 9));
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)eef_rng_u32(&r);
    assert_int_equal(read_text(path, (char *)junk, sizeof junk, 0, &set, NULL), EEF_EFORMAT);
    assert_ok(read_text(path, (char *)junk, sizeof junk, 1, &set, &n_bad));
    assert_int_equal(set.n, 0);
    assert_true(n_bad > 0);
    eef_trajset_free(&set);
    tu_rmtree(dir);
}

/* ------------------------------------------------------------ through the CLI */
/* A real trajectory file (house expert) with a bad line 4 inserted:
 * stats, train and replay name it as file:4 and stop with exit code 1;
 * with --skip-bad they report it and go on. */
static void test_skip_bad_cli(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char good[600], bad[600], err[600];
    snprintf(good, sizeof good, "%s/good.jsonl", dir);
    snprintf(bad, sizeof bad, "%s/bad.jsonl", dir);
    snprintf(err, sizeof err, "%s/err.txt", dir);
    assert_int_equal(tu_sh("cd %s && %s expert --env house --env-opt train=5,test=1 --out %s --quiet "
                        ">/dev/null 2>&1", dir, tu_eef(), good), 0);
    /* header, lines 2-3 good, line 4 bad, the rest good */
    assert_int_equal(tu_sh("sed '3a {\"id\": \"broken\", \"env\": 7}' %s > %s", good, bad), 0);
    char where[700];
    snprintf(where, sizeof where, "%s:4: field 'env' is not a string", bad);
    const char *cmds[][2] = {
        { "stats", "" },
        { "replay", " --env-opt train=5,test=1" },
        { "train", " --preset tiny --vocab 300 --steps 1 --batch 1 --seq 64 --quiet --out M.eefm --data" },
    };
    for (size_t i = 0; i < EEF_ARRAY_LEN(cmds); i++) {
        assert_int_equal(tu_sh("cd %s && %s %s%s %s >/dev/null 2>%s", dir, tu_eef(), cmds[i][0],
                            cmds[i][1], bad, err), 1);
        assert_true(tu_file_contains(err, where));
        assert_int_equal(tu_sh("cd %s && %s %s --skip-bad%s %s >%s.out 2>%s", dir, tu_eef(), cmds[i][0],
                            cmds[i][1], bad, err, err), 0);
        assert_true(tu_file_contains(err, where));
    }
    snprintf(where, sizeof where, "%s/err.txt.out", dir);
    assert_true(tu_file_contains(where, "trained 1 steps on 5 trajectories"));
    /* a file that is not there: exit code 1 and its name */
    assert_int_equal(tu_sh("%s stats %s/none.jsonl >/dev/null 2>%s", tu_eef(), dir, err), 1);
    assert_true(tu_file_contains(err, "none.jsonl: cannot open"));
    tu_rmtree(dir);
}

/* A run directory stopped right after its config.json was written (crash
 * point), then its files damaged: eef run and eef compare stop at once
 * with exit code 1 and a message naming the file. */
static void test_run_dir_damaged(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char run[600], err[600], p[700];
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(err, sizeof err, "%s/err.txt", dir);
    int rc = tu_sh("EEF_CRASH_AT=afile.renamed@config.json:1 %s run --method eef --preset tiny "
                "--out %s --quiet >/dev/null 2>&1", tu_eef(), run);
    assert_int_equal(rc, 128 + 9); /* SIGKILL, as the shell reports it */
    snprintf(p, sizeof p, "%s/config.json", run);
    size_t len;
    char *cfg = get_file(p, &len);
    struct {
        const char *file, *text, *message;
        size_t len; /* of text; 0: strlen */
    } cases[] = {
        { "config.json", "{\"format\": \"eef-run\", \"vers", "config.json: malformed JSON near byte", 0 },
        { "config.json", "{\"a\":\"\xff\"}", "config.json: invalid UTF-8 or NUL byte", 0 },
        { "config.json", "", "config.json: malformed JSON", 0 },
        /* a file of several lines: where, as an editor counts */
        { "config.json", "{\n  \"format\": \"eef-run\",\n  \"version\": x\n}",
          "config.json: malformed JSON near byte 38 (line 3, column 14)", 0 },
        { "config.json", "{\n  \"format\": \"eef-run\",\n  \"m\xc3\": 1\n}",
          "config.json: invalid UTF-8 or NUL byte at byte 29 (line 3, column 5)", 0 },
        { "config.json", "{\"format\":\"eef-run\"}", "holds a run with a different configuration", 0 },
        { "state.json", "{\"done\": [\"expert\"", "state.json: malformed JSON near byte", 0 },
        { "state.json", "{\"done\": 5}", "state.json: field 'done'", 0 },
        { "state.json", "[]", "state.json: field 'done'", 0 },
        { "state.json", "{\"done\":[\"a\0b\"]}", "state.json: invalid UTF-8 or NUL byte at byte 11", 16 },
    };
    for (size_t i = 0; i < EEF_ARRAY_LEN(cases); i++) {
        snprintf(p, sizeof p, "%s/config.json", run);
        put_file(p, cfg, len);
        snprintf(p, sizeof p, "%s/state.json", run);
        unlink(p);
        snprintf(p, sizeof p, "%s/%s", run, cases[i].file);
        size_t n = cases[i].len ? cases[i].len : strlen(cases[i].text);
        put_file(p, cases[i].text, n);
        rc = tu_sh("EEF_CRASH_AT=progress@expert\\ on\\ train:1 %s run --method eef --preset tiny "
                "--out %s --quiet >/dev/null 2>%s", tu_eef(), run, err);
        if (rc != 1) fail_msg("case %zu (%s): exit code %d (137: it started running)", i, cases[i].text, rc);
        assert_true(tu_file_contains(err, cases[i].message));
    }
    /* eef compare on a run whose metrics.jsonl has a bad line 2 */
    snprintf(p, sizeof p, "%s/config.json", run);
    put_file(p, cfg, len);
    snprintf(p, sizeof p, "%s/metrics.jsonl", run);
    const char metrics[] = "{\"method\":\"eef\",\"iter\":0}\n{\"iter\":";
    put_file(p, metrics, sizeof metrics - 1);
    assert_int_equal(tu_sh("%s compare %s >/dev/null 2>%s", tu_eef(), run, err), 1);
    assert_true(tu_file_contains(err, "metrics.jsonl:2: malformed JSON"));
    free(cfg);
    tu_rmtree(dir);
}

int main(void)
{
    eef_progress_set_quiet(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkpoints_damaged),
        cmocka_unit_test(test_tokenizer_crafted),
        cmocka_unit_test(test_traj_lines_at_chunk_edges),
        cmocka_unit_test(test_traj_odd_files),
        cmocka_unit_test(test_skip_bad_cli),
        cmocka_unit_test(test_run_dir_damaged),
    };
    return cmocka_run_group_tests_name("robust_input", tests, NULL, NULL);
}

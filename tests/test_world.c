/* Tests of the world a file records (traj/world.c, env fingerprints): the
 * record's JSON both ways and every refusal of a damaged one, the one check
 * and its messages, the header line of trajectory files (old files: context
 * unknown; joined files), fingerprints (deterministic; a seed, an option or
 * one byte of a WebShop data file changes them), and through the CLI: eef
 * replay rebuilds the recorded world, and refuses a contradicting flag or a
 * world that is not the one the file was made in. */
#include "testutil.h"

#include <cjson/cJSON.h>

#include "traj/traj.h"

#define SHOP_FIX "tests/fixtures/shop/"

static eef_world full_world(void)
{
    eef_world w;
    eef_world_init(&w);
    snprintf(w.env, sizeof w.env, "shop");
    snprintf(w.env_options, sizeof w.env_options, "products=200,train=20,test=5");
    w.seed = 7;
    snprintf(w.prompt, sizeof w.prompt, "eef-2");
    snprintf(w.expert, sizeof w.expert, "builtin");
    snprintf(w.expert_profile, sizeof w.expert_profile, "careless");
    snprintf(w.expert_options, sizeof w.expert_options, "p_wrong_option=0.2");
    snprintf(w.world, sizeof w.world, "0123456789abcdef");
    w.have = EEF_CTX_ENV | EEF_CTX_ENV_OPT | EEF_CTX_SEED | EEF_CTX_PROMPT | EEF_CTX_EXPERT |
             EEF_CTX_WORLD;
    return w;
}

static eef_err parse_ctx(const char *text, eef_world *out)
{
    cJSON *j = cJSON_Parse(text);
    assert_non_null(j);
    eef_err e = eef_world_from_json(j, "f.jsonl:1", out);
    cJSON_Delete(j);
    return e;
}

/* ------------------------------------------------------------ the record */
static void test_json(void **state)
{
    (void)state;
    eef_world w = full_world(), back;
    eef_buf b;
    eef_buf_init(&b);
    assert_ok(eef_world_put(&b, &w));
    assert_string_equal(b.data,
                        "{\"env\":\"shop\",\"env_options\":\"products=200,train=20,test=5\",\"seed\":7,"
                        "\"prompt\":\"eef-2\",\"expert\":{\"name\":\"builtin\",\"profile\":\"careless\","
                        "\"options\":\"p_wrong_option=0.2\"},\"world\":\"0123456789abcdef\"}");
    assert_ok(parse_ctx(b.data, &back));
    assert_memory_equal(&w, &back, sizeof w);
    /* a seed at the top of the exact range */
    w.seed = 9007199254740992ULL;
    eef_buf_clear(&b);
    assert_ok(eef_world_put(&b, &w));
    assert_ok(parse_ctx(b.data, &back));
    assert_true(back.seed == 9007199254740992ULL);
    w.seed = 4503599627370497ULL; /* 2^52 + 1: more digits than cJSON's %.15g */
    eef_buf_clear(&b);
    assert_ok(eef_world_put(&b, &w));
    assert_non_null(strstr(b.data, "\"seed\":4503599627370497,"));
    assert_ok(parse_ctx(b.data, &back));
    assert_true(back.seed == 4503599627370497ULL);
    /* partial records: only what is there */
    assert_ok(parse_ctx("{\"env\":\"house\"}", &back));
    assert_int_equal(back.have, EEF_CTX_ENV);
    assert_ok(parse_ctx("{}", &back));
    assert_int_equal(back.have, 0);
    char line[400];
    eef_world_describe(&back, line, sizeof line);
    assert_non_null(strstr(line, "context unknown"));
    w = full_world();
    eef_world_describe(&w, line, sizeof line);
    assert_string_equal(line, "shop, seed 7, options products=200,train=20,test=5, world "
                              "0123456789abcdef, expert builtin profile careless "
                              "(p_wrong_option=0.2), prompt eef-2");
    /* the built-in experts' profile, when not given */
    assert_ok(eef_world_set_expert(&w, "weak", NULL, "p_give_up=0.1"));
    assert_string_equal(w.expert_profile, "weak");
    assert_ok(eef_world_set_expert(&w, NULL, NULL, "profile=weak,p_give_up=0,profile=default"));
    assert_string_equal(w.expert, "builtin");
    assert_string_equal(w.expert_profile, "default");
    assert_ok(eef_world_set_expert(&w, "builtin", NULL, NULL));
    assert_string_equal(w.expert_profile, "");
    /* too long for the record: refused when set, not cut */
    char big[600];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(eef_world_set_env(&w, "shop", big, 1, NULL), EEF_EINVAL);
    assert_int_equal(eef_world_set_env(&w, "shop", NULL, 1ULL << 60, NULL), EEF_EINVAL);
    eef_buf_free(&b);
}

static void test_json_bad(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        { "[]", "f.jsonl:1: the context is not an object" },
        { "{\"colour\":\"red\"}", "f.jsonl:1: unknown field 'colour' in the context" },
        { "{\"env\":\"shop\",\"env\":\"house\"}", "f.jsonl:1: duplicate field 'env' in the context" },
        { "{\"env\":7}", "f.jsonl:1: context field 'env' is not a string" },
        { "{\"env\":\"\"}", "f.jsonl:1: context field 'env' is empty" },
        { "{\"seed\":-1}", "f.jsonl:1: context field 'seed' must be an integer from 0 to 2^53" },
        { "{\"seed\":1.5}", "f.jsonl:1: context field 'seed' must be an integer from 0 to 2^53" },
        { "{\"seed\":1e300}", "f.jsonl:1: context field 'seed' must be an integer from 0 to 2^53" },
        { "{\"seed\":\"7\"}", "f.jsonl:1: context field 'seed' must be an integer from 0 to 2^53" },
        { "{\"world\":\"0123\"}", "f.jsonl:1: context field 'world' must be 16 lowercase hex digits" },
        { "{\"world\":\"0123456789ABCDEF\"}", "f.jsonl:1: context field 'world' must be 16 lowercase hex digits" },
        { "{\"world\":\"0123456789abcdef0\"}", "f.jsonl:1: context field 'world' is longer than 16 bytes" },
        { "{\"expert\":\"builtin\"}", "f.jsonl:1: context field 'expert' is not an object" },
        { "{\"expert\":{\"name\":\"builtin\",\"options\":\"\"}}", "f.jsonl:1: context field 'profile' missing" },
        { "{\"expert\":{\"name\":\"b\",\"profile\":\"\",\"options\":\"\",\"x\":1}}",
          "f.jsonl:1: unknown field 'x' in the context's expert" },
        { "{\"prompt\":\"0123456789012345678901234567890123\"}", "f.jsonl:1: context field 'prompt' is longer than 31 bytes" },
    };
    for (size_t i = 0; i < EEF_ARRAY_LEN(bad); i++) {
        eef_world w = full_world();
        assert_int_equal(parse_ctx(bad[i][0], &w), EEF_EFORMAT);
        if (strcmp(eef_errmsg(), bad[i][1]) != 0)
            fail_msg("%s: got '%s', want '%s'", bad[i][0], eef_errmsg(), bad[i][1]);
        assert_int_equal(w.have, 0); /* left unknown, not half-filled */
    }
}

static void test_check(void **state)
{
    (void)state;
    eef_world file = full_world(), given;
    /* nothing given, or the same: agrees */
    eef_world_init(&given);
    assert_ok(eef_world_check(&file, &given, "x.jsonl", NULL));
    given = file;
    assert_ok(eef_world_check(&file, &given, "x.jsonl", NULL));
    /* what the file does not record is not compared */
    eef_world none;
    eef_world_init(&none);
    assert_ok(eef_world_check(&none, &given, "x.jsonl", NULL));

    struct {
        unsigned field;
        const char *want;
    } cases[] = {
        { EEF_CTX_ENV, "x.jsonl was made in environment shop; house was given (leave it out to use the file's)" },
        { EEF_CTX_SEED, "x.jsonl was made in the world of seed 7; seed 3 was given (leave it out to use the file's)" },
        { EEF_CTX_ENV_OPT, "x.jsonl was made with environment options products=200,train=20,test=5; "
                           "(none: the defaults) was given (leave them out to use the file's)" },
        { EEF_CTX_PROMPT, "x.jsonl was made with prompt format eef-2; eef-1 was given" },
        { EEF_CTX_EXPERT, "x.jsonl was made with expert builtin profile careless options p_wrong_option=0.2; "
                          "expert builtin profile (none: the defaults) options p_wrong_option=0.2 was given" },
        { EEF_CTX_WORLD, "x.jsonl was made in the world of fingerprint 0123456789abcdef (shop "
                         "products=200,train=20,test=5, seed 7); fingerprint fedcba9876543210 was given" },
    };
    for (size_t i = 0; i < EEF_ARRAY_LEN(cases); i++) {
        given = full_world();
        switch (cases[i].field) {
        case EEF_CTX_ENV: snprintf(given.env, sizeof given.env, "house"); break;
        case EEF_CTX_SEED: given.seed = 3; break;
        case EEF_CTX_ENV_OPT: given.env_options[0] = 0; break;
        case EEF_CTX_PROMPT: snprintf(given.prompt, sizeof given.prompt, "eef-1"); break;
        case EEF_CTX_EXPERT: given.expert_profile[0] = 0; break;
        case EEF_CTX_WORLD: snprintf(given.world, sizeof given.world, "fedcba9876543210"); break;
        }
        assert_int_equal(eef_world_check(&file, &given, "x.jsonl", NULL), EEF_EINVAL);
        if (strcmp(eef_errmsg(), cases[i].want) != 0)
            fail_msg("field %u: got '%s', want '%s'", cases[i].field, eef_errmsg(), cases[i].want);
        /* the same difference in a field one side leaves out is no contradiction */
        given.have &= ~cases[i].field;
        assert_ok(eef_world_check(&file, &given, "x.jsonl", NULL));
    }
    assert_true(eef_world_env_is(&file, "shop"));
    assert_false(eef_world_env_is(&file, "house"));
    snprintf(file.env, sizeof file.env, "remote:http://127.0.0.1:9/");
    assert_true(eef_world_env_is(&file, "remote"));
    assert_false(eef_world_env_is(&file, "remot"));
}

/* ------------------------------------------------------------ trajectory files */
static void one_traj(eef_traj *t, const char *id)
{
    eef_traj_init(t);
    assert_ok(eef_traj_set(&t->id, id));
    assert_ok(eef_traj_set(&t->env, "shop"));
    assert_ok(eef_traj_set(&t->task, "shop-train-0"));
    assert_ok(eef_traj_set(&t->source, "expert"));
    assert_ok(eef_traj_push(t, "page", "search[mug]", 1));
}

static void put_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void test_header(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/a.jsonl", dir);
    snprintf(b, sizeof b, "%s/b.jsonl", dir);
    eef_traj t;
    one_traj(&t, "t-0");
    eef_world w = full_world(), back;
    assert_ok(eef_traj_write_ctx(a, &w, &t, 1));
    eef_trajset set = { 0 };
    assert_ok(eef_traj_read_ctx(a, 0, &set, NULL, &back));
    assert_int_equal(set.n, 1);
    assert_memory_equal(&w, &back, sizeof w);
    eef_trajset_free(&set);
    /* the streaming reader has it too, and eef_traj_read still reads the file */
    eef_traj_reader r;
    assert_ok(eef_traj_reader_open(&r, a, 0));
    eef_traj u;
    eef_traj_init(&u);
    int got;
    assert_ok(eef_traj_reader_next(&r, &u, &got));
    assert_int_equal(got, 1);
    assert_memory_equal(&r.ctx, &w, sizeof w);
    eef_traj_free(&u);
    eef_traj_reader_close(&r);
    assert_ok(eef_traj_read(a, 0, &set, NULL));
    eef_trajset_free(&set);

    /* a file of an earlier version (header without context), and one with
     * no header at all: read as before, context unknown */
    char *text;
    assert_ok(eef_read_file(a, &text, NULL));
    char *body = strchr(text, '\n') + 1;
    char old[4096];
    snprintf(old, sizeof old, "{\"eef\":\"trajectories\",\"version\":1}\n%s", body);
    put_text(b, old);
    back = full_world();
    assert_ok(eef_traj_read_ctx(b, 0, &set, NULL, &back));
    assert_int_equal(set.n, 1);
    assert_int_equal(back.have, 0);
    eef_trajset_free(&set);
    put_text(b, body);
    back = full_world();
    assert_ok(eef_traj_read_ctx(b, 0, &set, NULL, &back));
    assert_int_equal(set.n, 1);
    assert_int_equal(back.have, 0);
    eef_trajset_free(&set);
    /* writing with no context gives the earlier header, byte for byte */
    assert_ok(eef_traj_write_ctx(b, NULL, &t, 1));
    char *again;
    assert_ok(eef_read_file(b, &again, NULL));
    assert_string_equal(again, old);
    free(again);

    /* files joined with cat: the same world twice is one file; two worlds are refused */
    char joined[8192];
    snprintf(joined, sizeof joined, "%s%s", text, text);
    put_text(b, joined);
    assert_ok(eef_traj_read_ctx(b, 0, &set, NULL, &back));
    assert_int_equal(set.n, 2);
    eef_trajset_free(&set);
    snprintf(joined, sizeof joined, "%s%s", text, old);
    put_text(b, joined);
    assert_int_equal(eef_traj_read_ctx(b, 0, &set, NULL, &back), EEF_EFORMAT);
    char want[700];
    snprintf(want, sizeof want, "%s:3: a second header line with another context (context unknown", b);
    if (strncmp(eef_errmsg(), want, strlen(want)) != 0) fail_msg("got '%s'", eef_errmsg());
    assert_non_null(strstr(eef_errmsg(), "files of different worlds were joined"));
    assert_int_equal(set.n, 0);

    /* a damaged record is a bad header line, with the file's line */
    put_text(b, "{\"eef\":\"trajectories\",\"version\":1,\"context\":{\"seed\":-2}}\n");
    assert_int_equal(eef_traj_read_ctx(b, 0, &set, NULL, &back), EEF_EFORMAT);
    snprintf(want, sizeof want, "%s:1: context field 'seed' must be an integer from 0 to 2^53", b);
    assert_string_equal(eef_errmsg(), want);
    put_text(b, "{\"eef\":\"trajectories\",\"version\":1,\"context\":{},\"context\":{}}\n");
    assert_int_equal(eef_traj_read_ctx(b, 0, &set, NULL, &back), EEF_EFORMAT);
    snprintf(want, sizeof want, "%s:1: duplicate field 'context'", b);
    assert_string_equal(eef_errmsg(), want);
    free(text);
    eef_traj_free(&t);
    tu_rmtree(dir);
}

/* ------------------------------------------------------------ ETO / AgentGym */
static void test_eto(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/a.json", dir);
    snprintf(b, sizeof b, "%s/b.json", dir);
    eef_traj t[2];
    one_traj(&t[0], "t-0");
    one_traj(&t[1], "t-1");
    eef_world w = full_world(), back;
    assert_ok(eef_traj_export_eto(a, &w, t, 2));
    eef_trajset set = { 0 };
    assert_ok(eef_traj_import_eto(a, NULL, &set, NULL, &back));
    assert_int_equal(set.n, 2);
    assert_memory_equal(&w, &back, sizeof w);
    assert_null(set.items[0].extra); /* the context is not an unknown field */
    eef_trajset_free(&set);
    /* the env that agrees, and the one that contradicts (refused even when skipping) */
    assert_ok(eef_traj_import_eto(a, "shop", &set, NULL, &back));
    eef_trajset_free(&set);
    size_t n_bad = 0;
    assert_int_equal(eef_traj_import_eto(a, "house", &set, &n_bad, &back), EEF_EINVAL);
    char want[2000];
    snprintf(want, sizeof want, "%s:record 1 was made in environment shop; house was given (leave it "
             "out to use the file's)", a);
    assert_string_equal(eef_errmsg(), want);
    assert_int_equal(set.n, 0);

    /* records of two worlds in one file: the second is a bad record */
    char *text;
    assert_ok(eef_read_file(a, &text, NULL));
    char *second = strstr(text, "\"seed\":7,") + 7;
    second = strstr(second, "\"seed\":7,"); /* record 2's */
    assert_non_null(second);
    second[7] = '8';
    FILE *f = fopen(b, "wb");
    fputs(text, f);
    fclose(f);
    assert_int_equal(eef_traj_import_eto(b, NULL, &set, NULL, &back), EEF_EFORMAT);
    assert_non_null(strstr(eef_errmsg(), ":record 2: its context (shop, seed 8,"));
    assert_non_null(strstr(eef_errmsg(), "records of different worlds were joined"));
    assert_ok(eef_traj_import_eto(b, NULL, &set, &n_bad, &back));
    assert_int_equal(set.n, 1);
    assert_int_equal(n_bad, 1);
    assert_true(back.seed == 7);
    eef_trajset_free(&set);
    free(text);

    /* records without env: the recorded world's, "remote" for remote:URL */
    snprintf(w.env, sizeof w.env, "remote:http://127.0.0.1:9");
    w.have &= ~(unsigned)EEF_CTX_WORLD;
    eef_buf ctx;
    eef_buf_init(&ctx);
    assert_ok(eef_world_put(&ctx, &w));
    char rec[4000];
    snprintf(rec, sizeof rec, "[{\"id\":\"x\",\"context\":%s,\"conversations\":[{\"from\":\"human\","
             "\"value\":\"obs\"},{\"from\":\"gpt\",\"value\":\"Action: look\"}]}]", ctx.data);
    f = fopen(b, "wb");
    fputs(rec, f);
    fclose(f);
    assert_ok(eef_traj_import_eto(b, NULL, &set, NULL, &back));
    assert_string_equal(set.items[0].env, "remote");
    eef_trajset_free(&set);
    /* a file without contexts: unknown, as before */
    assert_ok(eef_traj_export_eto(a, NULL, t, 2));
    back = full_world();
    assert_ok(eef_traj_import_eto(a, "house", &set, NULL, &back));
    assert_int_equal(back.have, 0);
    eef_trajset_free(&set);
    eef_buf_free(&ctx);
    eef_traj_free(&t[0]);
    eef_traj_free(&t[1]);
    tu_rmtree(dir);
}

/* ------------------------------------------------------------ fingerprints */
static void fingerprint_of(const char *env, const char *opts, uint64_t seed, char *out)
{
    eef_env *e;
    assert_ok(eef_env_open(env, opts, seed, &e));
    assert_ok(eef_env_fingerprint(e, out));
    eef_env_close(e);
    assert_int_equal(strlen(out), 16);
}

static void copy_file(const char *from, const char *to, const char *append)
{
    char *d;
    size_t n;
    assert_ok(eef_read_file(from, &d, &n));
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(d, 1, n, f), n);
    if (append) fputs(append, f);
    assert_int_equal(fclose(f), 0);
    free(d);
}

static void test_fingerprint(void **state)
{
    (void)state;
    char a[EEF_FINGERPRINT_LEN], b[EEF_FINGERPRINT_LEN];
    const char *small = "products=200,train=20,test=5";
    fingerprint_of("shop", small, 7, a);
    fingerprint_of("shop", small, 7, b);
    assert_string_equal(a, b);
    fingerprint_of("shop", small, 8, b);
    assert_string_not_equal(a, b);
    fingerprint_of("shop", "products=200,train=20,test=6", 7, b);
    assert_string_not_equal(a, b);
    fingerprint_of("shop", "products=200,train=20,test=5,max_steps=16", 7, b);
    assert_string_not_equal(a, b);
    fingerprint_of("house", "train=10,test=3", 7, a);
    fingerprint_of("house", "train=10,test=3", 7, b);
    assert_string_equal(a, b);
    fingerprint_of("house", "train=10,test=3", 8, b);
    assert_string_not_equal(a, b);

    /* the real WebShop files: one byte more in one of them (a blank the
     * JSON reader skips, so the products are the same) is another world */
    char *dir = tu_tmpdir();
    char p[600], at[600], ins[600], opts[2000];
    snprintf(p, sizeof p, "%s/items.json", dir);
    snprintf(at, sizeof at, "%s/attrs.json", dir);
    snprintf(ins, sizeof ins, "%s/ins.json", dir);
    copy_file(SHOP_FIX "items_shuffle_fixture.json", p, NULL);
    copy_file(SHOP_FIX "items_ins_v2_fixture.json", at, NULL);
    copy_file(SHOP_FIX "items_human_ins_fixture.json", ins, NULL);
    snprintf(opts, sizeof opts, "products_file=%s,attrs_file=%s,instructions_file=%s", p, at, ins);
    fingerprint_of("shop", opts, 1, a);
    fingerprint_of("shop", opts, 1, b);
    assert_string_equal(a, b);
    const char *files[] = { p, at, ins };
    const char *fix[] = { SHOP_FIX "items_shuffle_fixture.json", SHOP_FIX "items_ins_v2_fixture.json",
                          SHOP_FIX "items_human_ins_fixture.json" };
    for (int i = 0; i < 3; i++) {
        copy_file(fix[i], files[i], " ");
        fingerprint_of("shop", opts, 1, b);
        assert_string_not_equal(a, b);
        copy_file(fix[i], files[i], NULL);
    }
    fingerprint_of("shop", opts, 1, b);
    assert_string_equal(a, b);

    /* a record from an opened world rebuilds that world; a changed data
     * file is refused with both fingerprints */
    eef_env *env;
    assert_ok(eef_env_open("shop", opts, 1, &env));
    eef_world w;
    eef_world_init(&w);
    assert_ok(eef_world_set_env(&w, "shop", opts, 1, env));
    eef_env_close(env);
    assert_true(w.have & EEF_CTX_WORLD);
    assert_string_equal(w.world, a);
    assert_ok(eef_world_open_env(&w, "x.jsonl", &env));
    eef_env_close(env);
    copy_file(fix[0], files[0], "\n");
    assert_int_equal(eef_world_open_env(&w, "x.jsonl", &env), EEF_EINVAL);
    assert_null(env);
    char want[2400];
    snprintf(want, sizeof want, "x.jsonl was made in the world of fingerprint %s (shop %s, seed 1); fingerprint ", a, opts);
    if (strncmp(eef_errmsg(), want, strlen(want)) != 0) fail_msg("got '%s'", eef_errmsg());
    assert_non_null(strstr(eef_errmsg(), " is that of the world its record builds now: the data "
                                         "files or eef's world generator changed"));
    /* a data file gone: the open's own error, with the file named */
    remove(at);
    assert_int_not_equal(eef_world_open_env(&w, "x.jsonl", &env), EEF_OK);
    assert_non_null(strstr(eef_errmsg(), "x.jsonl: rebuilding its world"));
    tu_rmtree(dir);
}

/* ------------------------------------------------------------ through the CLI */
static void test_replay_cli(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char x[600], old[600], out[600], err[600];
    snprintf(x, sizeof x, "%s/x.jsonl", dir);
    snprintf(old, sizeof old, "%s/old.jsonl", dir);
    snprintf(out, sizeof out, "%s/out.txt", dir);
    snprintf(err, sizeof err, "%s/err.txt", dir);
    /* the commands: a world of seed 7, replayed without --seed */
    assert_int_equal(tu_sh("%s expert --env shop --split train --n 300 --seed 7 --out %s --quiet "
                           ">/dev/null", tu_eef(), x), 0);
    assert_int_equal(tu_sh("%s replay %s >%s 2>%s", tu_eef(), x, out, err), 0);
    assert_true(tu_file_contains(out, "300 replayed, 300 matched"));
    assert_true(tu_file_lacks(err, "context unknown"));
    /* flags that agree are fine; flags that contradict are one sentence */
    assert_int_equal(tu_sh("%s replay %s --seed 7 --env-opt '' >%s 2>%s", tu_eef(), x, out, err), 0);
    assert_true(tu_file_contains(out, "300 replayed, 300 matched"));
    assert_int_equal(tu_sh("%s replay %s --seed 3 >%s 2>%s", tu_eef(), x, out, err), 1);
    char want[900];
    snprintf(want, sizeof want, "eef replay: %s was made in the world of seed 7; seed 3 was given "
             "(leave it out to use the file's)\n", x);
    char *e;
    assert_ok(eef_read_file(err, &e, NULL));
    assert_string_equal(e, want);
    free(e);
    assert_true(tu_file_lacks(out, "replayed"));
    assert_int_equal(tu_sh("%s replay %s --env-opt products=300 >%s 2>%s", tu_eef(), x, out, err), 1);
    assert_true(tu_file_contains(err, "was made with environment options (none: the defaults); "
                                      "products=300 was given"));
    /* a record whose world is not the one rebuilt (as if eef's generator had changed) */
    assert_int_equal(tu_sh("sed -i '1s/\"world\":\"[0-9a-f]*\"/\"world\":\"00000000000000aa\"/' %s", x), 0);
    assert_int_equal(tu_sh("%s replay %s >%s 2>%s", tu_eef(), x, out, err), 1);
    assert_true(tu_file_contains(err, "was made in the world of fingerprint 00000000000000aa (shop, "
                                      "seed 7); fingerprint "));
    assert_true(tu_file_contains(err, " is that of the world its record builds now"));
    /* a trajectory of another environment in the file */
    assert_int_equal(tu_sh("sed '1s/,\"world\":\"[0-9a-f]*\"//; 3s/\"env\":\"shop\"/\"env\":\"house\"/' %s > %s",
                           x, old), 0);
    assert_int_equal(tu_sh("%s replay %s >%s 2>%s", tu_eef(), old, out, err), 1);
    assert_true(tu_file_contains(err, "is in environment house, but the file records environment shop"));
    /* a file of an earlier eef: a note, and the old behaviour (--seed) */
    assert_int_equal(tu_sh("sed '1s/.*/{\"eef\":\"trajectories\",\"version\":1}/' %s > %s", x, old), 0);
    assert_int_equal(tu_sh("%s replay %s >%s 2>%s", tu_eef(), old, out, err), 1);
    assert_true(tu_file_contains(err, "context unknown"));
    assert_true(tu_file_contains(out, "300 replayed, 0 matched"));
    assert_int_equal(tu_sh("%s replay %s --seed 7 >%s 2>%s", tu_eef(), old, out, err), 0);
    assert_true(tu_file_contains(out, "300 replayed, 300 matched"));
    /* files of two worlds joined: replay, stats and train refuse them */
    char joined[600];
    snprintf(joined, sizeof joined, "%s/joined.jsonl", dir);
    assert_int_equal(tu_sh("%s expert --env shop --split train --n 3 --seed 8 --out %s --quiet >/dev/null",
                           tu_eef(), old), 0);
    assert_int_equal(tu_sh("cat %s %s > %s", old, x, joined), 0);
    const char *cmds[] = { "replay", "stats", "train --preset tiny --steps 1 --out M.eefm --data" };
    for (size_t i = 0; i < EEF_ARRAY_LEN(cmds); i++) {
        assert_int_equal(tu_sh("cd %s && %s %s %s >%s 2>%s", dir, tu_eef(), cmds[i], joined, out, err), 1);
        assert_true(tu_file_contains(err, "joined.jsonl:5: a second header line with another context"));
    }
    /* train says which world its data is from */
    assert_int_equal(tu_sh("cd %s && %s train --preset tiny --vocab 300 --steps 1 --batch 1 --seq 512 "
                           "--quiet --out M.eefm --data %s >%s 2>%s", dir, tu_eef(), old, out, err), 0);
    assert_true(tu_file_contains(err, "old.jsonl: shop, seed 8, world "));
    /* eef stats names the world, or says it is unknown */
    assert_int_equal(tu_sh("sed '1s/.*/{\"eef\":\"trajectories\",\"version\":1}/' %s > %s", x, old), 0);
    assert_int_equal(tu_sh("%s stats %s >%s", tu_eef(), old, out), 0);
    assert_true(tu_file_contains(out, "world         context unknown"));
    assert_int_equal(tu_sh("%s stats --json %s >%s", tu_eef(), old, out), 0);
    assert_true(tu_file_contains(out, "\"context\":\tnull"));
    tu_rmtree(dir);
}

int main(void)
{
    eef_progress_set_quiet(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json),        cmocka_unit_test(test_json_bad),
        cmocka_unit_test(test_check),       cmocka_unit_test(test_header),
        cmocka_unit_test(test_eto),
        cmocka_unit_test(test_fingerprint), cmocka_unit_test(test_replay_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

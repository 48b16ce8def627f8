/* Tests of src/traj: the JSONL format (round trips, every malformed-input
 * message, skip_bad), ETO / AgentGym import and export, statistics, replay
 * against a small counter environment, and a 10,000-trajectory file. */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <fcntl.h>

#include "traj/traj.h"

#ifndef FIXTURES
#define FIXTURES "tests/fixtures/traj"
#endif

/* ------------------------------------------------------------ helpers */
static void set_common(eef_traj *t, const char *id, const char *env, const char *task,
                       const char *source)
{
    assert_ok(eef_traj_set(&t->id, id));
    assert_ok(eef_traj_set(&t->env, env));
    assert_ok(eef_traj_set(&t->task, task));
    assert_ok(eef_traj_set(&t->source, source));
}

/* A set of trajectories that exercises everything the format holds. */
static void make_tricky(eef_trajset *set)
{
    eef_traj t;
    eef_traj_init(&t);
    set_common(&t, "t-0", "shop", "shop-train-0", "expert");
    t.split = EEF_SPLIT_TRAIN, t.index = 0, t.tier = EEF_TIER_EASY;
    t.reward = 1.0, t.win = 1;
    assert_ok(eef_traj_push(&t, "Instruction: [SEP] \"quoted\" \\ back\\slash\ttab\nnewline", "search[mug]", 1));
    assert_ok(eef_traj_push(&t, "ctrl \x01\x1f del \x7f / slash", "click[B01]", 0));
    assert_ok(eef_traj_push(&t, "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80", "click[Buy Now]", 1));
    assert_ok(eef_traj_set(&t.final_obs, "Thank you for shopping with us!"));
    assert_ok(eef_trajset_push(set, &t));

    /* unknown split/index/tier, awkward rewards, extra fields, no final obs */
    const double rewards[] = { 0.1, 1.0 / 3.0, 0.30000000000000004, 1e-300, 0.0, 0.75, 5e-324,
                               0.99999999999999989 };
    for (size_t i = 0; i < EEF_ARRAY_LEN(rewards); i++) {
        char id[32];
        snprintf(id, sizeof id, "t-%zu", i + 1);
        set_common(&t, id, i % 2 ? "house" : "shop", "some-task", i % 3 ? "agent" : "eef");
        t.split = i % 3 == 0 ? -1 : EEF_SPLIT_TEST;
        t.index = i % 3 == 0 ? -1 : (long)(1000000 + i);
        t.tier = i % 4 == 0 ? -1 : (int)(i % 3);
        t.reward = rewards[i];
        t.win = 0;
        if (i % 2) assert_ok(eef_traj_set(&t.extra, "{\"item_id\":\"webshop_7\",\"nested\":{\"a\":[1,2.5,null,true,\"x\\ny\"]},\"n\":-3}"));
        for (size_t k = 0; k <= i; k++) {
            char obs[64], act[64];
            snprintf(obs, sizeof obs, "obs %zu of %zu", k, i);
            snprintf(act, sizeof act, k % 2 ? "go to shelf %zu" : "", k);
            assert_ok(eef_traj_push(&t, obs, act, (int)(k % 2)));
        }
        assert_ok(eef_trajset_push(set, &t));
    }

    /* no steps: only the initial observation, kept as the final one */
    set_common(&t, "t-empty", "house", "house-test-3", "expert");
    assert_ok(eef_traj_set(&t.final_obs, ""));
    assert_ok(eef_trajset_push(set, &t));
}

static char *fixture(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", FIXTURES, name);
    return path;
}

static void write_text(const char *path, const char *text, size_t n)
{
    assert_ok(eef_write_file_atomic(path, text, n));
}

static char *slurp(const char *path, size_t *len)
{
    char *data;
    assert_ok(eef_read_file(path, &data, len));
    return data;
}

/* ------------------------------------------------------------ round trips */
static void test_roundtrip(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char a[512], b[512];
    eef_path_join(a, sizeof a, dir, "a.jsonl");
    eef_path_join(b, sizeof b, dir, "b.jsonl");

    eef_trajset set = { 0 }, back = { 0 }, again = { 0 };
    make_tricky(&set);
    assert_ok(eef_traj_write(a, set.items, set.n));
    size_t n_bad = 99;
    assert_ok(eef_traj_read(a, 0, &back, &n_bad));
    assert_int_equal(n_bad, 0);
    assert_int_equal(back.n, set.n);
    /* read(write(t)) == t */
    for (size_t i = 0; i < set.n; i++) {
        if (!eef_traj_equal(&set.items[i], &back.items[i])) fail_msg("trajectory %zu differs", i);
    }
    assert_string_equal(back.items[0].steps[2].obs, set.items[0].steps[2].obs);
    assert_true(back.items[3].reward == 0.30000000000000004);
    assert_true(back.items[7].reward == 5e-324);
    assert_null(back.items[1].final_obs);
    assert_int_equal(back.items[1].split, -1);

    /* write(read(file)) == file, byte for byte */
    assert_ok(eef_traj_write(b, back.items, back.n));
    size_t la, lb;
    char *da = slurp(a, &la), *db = slurp(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(da, db, la);
    assert_true(strncmp(da, "{\"eef\":\"trajectories\",\"version\":1}\n", 35) == 0);
    free(da);
    free(db);

    /* the hand-written fixture is in canonical form too */
    assert_ok(eef_traj_read(fixture("small.jsonl"), 0, &again, NULL));
    assert_int_equal(again.n, 4);
    assert_string_equal(again.items[2].extra, "{\"note\":{\"prefix\":2,\"from\":\"house-test-4-expert\"}}");
    assert_ok(eef_traj_write(b, again.items, again.n));
    da = slurp(fixture("small.jsonl"), &la);
    db = slurp(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(da, db, la);
    free(da);
    free(db);

    /* which expert made it: written after source, read back, copied; a
     * line without it (older files) reads as NULL */
    {
        eef_traj t;
        const char *with = "{\"id\":\"g\",\"env\":\"shop\",\"task\":\"t\",\"source\":\"expert\",\"expert\":\"weak\","
                           "\"reward\":0,\"win\":false,\"conversations\":[{\"from\":\"human\",\"value\":\"o\",\"loss\":0},"
                           "{\"from\":\"gpt\",\"value\":\"a\",\"loss\":1}]}";
        assert_ok(eef_traj_from_json(with, strlen(with), "mem:1", &t));
        assert_string_equal(t.expert, "weak");
        eef_buf out;
        eef_buf_init(&out);
        assert_ok(eef_traj_to_json(&t, &out));
        assert_string_equal(out.data, with);
        eef_traj c2;
        eef_traj_init(&c2);
        assert_ok(eef_traj_copy(&c2, &t));
        assert_true(eef_traj_equal(&c2, &t));
        assert_ok(eef_traj_set(&c2.expert, "builtin"));
        assert_false(eef_traj_equal(&c2, &t));
        eef_traj_free(&c2);
        eef_traj_free(&t);
        const char *old = "{\"id\":\"g\",\"env\":\"shop\",\"task\":\"t\",\"source\":\"expert\",\"reward\":0,"
                          "\"win\":false,\"conversations\":[{\"from\":\"human\",\"value\":\"o\",\"loss\":0}]}";
        assert_ok(eef_traj_from_json(old, strlen(old), "mem:1", &t));
        assert_null(t.expert);
        eef_buf_free(&out);
        eef_traj_free(&t);
    }

    /* one line in memory, and a copy */
    eef_buf line;
    eef_buf_init(&line);
    assert_ok(eef_traj_to_json(&set.items[1], &line));
    assert_null(strchr(line.data, '\n'));
    eef_traj t, c;
    assert_ok(eef_traj_from_json(line.data, line.len, "mem:1", &t));
    assert_true(eef_traj_equal(&t, &set.items[1]));
    assert_ok(eef_traj_copy(&c, &t));
    assert_true(eef_traj_equal(&c, &t));
    eef_traj_free(&c);
    t.steps[0].mask ^= 1;
    assert_false(eef_traj_equal(&t, &set.items[1]));
    eef_traj_free(&t);
    eef_buf_free(&line);

    /* a file without the header line reads the same */
    da = slurp(a, &la);
    char *nl = strchr(da, '\n');
    write_text(b, nl + 1, la - (size_t)(nl + 1 - da));
    free(da);
    eef_trajset_free(&again);
    assert_ok(eef_traj_read(b, 0, &again, NULL));
    assert_int_equal(again.n, set.n);
    assert_true(eef_traj_equal(&again.items[0], &set.items[0]));

    eef_trajset_free(&set);
    eef_trajset_free(&back);
    eef_trajset_free(&again);
    tu_rmtree(dir);
}

/* Runs f with stderr going to a file; returns what was written there. */
static char *capture_stderr(void (*f)(void *), void *arg)
{
    char tmpl[] = "/tmp/eef-stderr-XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    f(arg);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fd);
    size_t len;
    char *out = slurp(tmpl, &len);
    unlink(tmpl);
    return out;
}

typedef struct {
    const char *path;
    eef_trajset set;
    size_t n_bad;
    eef_err err;
} read_job;

static void do_read_skip(void *arg)
{
    read_job *j = arg;
    j->err = eef_traj_read(j->path, 1, &j->set, &j->n_bad);
}

/* ------------------------------------------------------------ malformed */
#define GOOD                                                                                   \
    "{\"id\":\"g\",\"env\":\"shop\",\"task\":\"t\",\"source\":\"expert\",\"reward\":0,"      \
    "\"win\":false,\"conversations\":[{\"from\":\"human\",\"value\":\"o\",\"loss\":0},"       \
    "{\"from\":\"gpt\",\"value\":\"a\",\"loss\":1}]}"
#define HEAD "{\"id\":\"x\",\"env\":\"shop\",\"task\":\"t\",\"source\":\"expert\","
#define TURNS "\"conversations\":[{\"from\":\"human\",\"value\":\"o\"},{\"from\":\"gpt\",\"value\":\"a\",\"loss\":1}]"

typedef struct {
    const char *line; /* the bad line (length: strlen unless len) */
    size_t len;
    const char *reason; /* the expected message after "file:2: " */
} bad_case;

static const bad_case bad_cases[] = {
    { "{\"id\":", 0, "malformed JSON near byte 5" },
    { "[1,2]", 0, "not a JSON object" },
    { "", 0, "empty line" },
    { "   ", 0, "empty line" },
    { "{\"id\":\"x\"} trailing", 0, "trailing characters after JSON value" },
    { HEAD "\"reward\":0,\"win\":false}", 0, "field 'conversations' missing" },
    { "{\"env\":\"shop\",\"task\":\"t\",\"source\":\"e\",\"reward\":0,\"win\":false," TURNS "}", 0,
      "field 'id' missing" },
    { "{\"id\":\"x\",\"task\":\"t\",\"source\":\"e\",\"reward\":0,\"win\":false," TURNS "}", 0,
      "field 'env' missing" },
    { HEAD "\"win\":false," TURNS "}", 0, "field 'reward' missing" },
    { HEAD "\"expert\":\"\",\"reward\":0,\"win\":false," TURNS "}", 0, "field 'expert' is not a non-empty string" },
    { HEAD "\"expert\":3,\"reward\":0,\"win\":false," TURNS "}", 0, "field 'expert' is not a non-empty string" },
    { HEAD "\"reward\":0," TURNS "}", 0, "field 'win' missing" },
    { "{\"id\":\"\",\"env\":\"shop\",\"task\":\"t\",\"source\":\"e\",\"reward\":0,\"win\":false," TURNS "}",
      0, "field 'id' is empty" },
    { "{\"id\":7,\"env\":\"shop\",\"task\":\"t\",\"source\":\"e\",\"reward\":0,\"win\":false," TURNS "}",
      0, "field 'id' is not a string" },
    { HEAD "\"reward\":\"1\",\"win\":true," TURNS "}", 0, "field 'reward' is not a number" },
    { HEAD "\"reward\":true,\"win\":true," TURNS "}", 0, "field 'reward' is not a number" },
    { HEAD "\"reward\":1e999,\"win\":false," TURNS "}", 0, "field 'reward' is not finite" },
    { HEAD "\"reward\":1,\"win\":1," TURNS "}", 0, "field 'win' is not a boolean" },
    { HEAD "\"reward\":1,\"win\":false," TURNS "}", 0,
      "win is false but reward is 1 (win must equal reward == 1)" },
    { HEAD "\"reward\":0.5,\"win\":true," TURNS "}", 0,
      "win is true but reward is 0.5 (win must equal reward == 1)" },
    { HEAD "\"split\":\"dev\",\"reward\":0,\"win\":false," TURNS "}", 0,
      "field 'split' must be \"train\" or \"test\"" },
    { HEAD "\"tier\":\"extreme\",\"reward\":0,\"win\":false," TURNS "}", 0,
      "field 'tier' must be \"easy\", \"medium\" or \"hard\"" },
    { HEAD "\"tier\":2,\"reward\":0,\"win\":false," TURNS "}", 0,
      "field 'tier' must be \"easy\", \"medium\" or \"hard\"" },
    { HEAD "\"index\":-1,\"reward\":0,\"win\":false," TURNS "}", 0, "field 'index' is negative" },
    { HEAD "\"index\":1.5,\"reward\":0,\"win\":false," TURNS "}", 0, "field 'index' is not an integer" },
    { HEAD "\"index\":\"3\",\"reward\":0,\"win\":false," TURNS "}", 0, "field 'index' is not a number" },
    { HEAD "\"id\":\"y\",\"reward\":0,\"win\":false," TURNS "}", 0, "duplicate field 'id'" },
    { HEAD "\"k\":1,\"k\":2,\"reward\":0,\"win\":false," TURNS "}", 0, "duplicate field 'k'" },
    { HEAD "\"eef\":\"x\",\"reward\":0,\"win\":false," TURNS "}", 0,
      "field 'eef' must be \"trajectories\"" },
    { HEAD "\"reward\":0,\"win\":false,\"conversations\":{}}", 0, "field 'conversations' is not an array" },
    { HEAD "\"reward\":0,\"win\":false,\"conversations\":[]}", 0, "field 'conversations' is empty" },
    { HEAD "\"reward\":0,\"win\":false,\"conversations\":[\"o\"]}", 0, "conversations[0] is not an object" },
    { HEAD "\"reward\":0,\"win\":false,\"conversations\":[{\"from\":\"gpt\",\"value\":\"a\",\"loss\":1}]}",
      0, "conversations[0]: expected a human turn, got gpt (turns alternate human/gpt, human first)" },
    { HEAD "\"reward\":0,\"win\":false,\"conversations\":[{\"from\":\"human\",\"value\":\"a\"},{\"from\":\"human\",\"value\":\"b\"}]}",
      0, "conversations[1]: expected a gpt turn, got human (turns alternate human/gpt, human first)" },
    { HEAD "\"reward\":0,\"win\":false,\"conversations\":[{\"from\":\"system\",\"value\":\"a\"}]}", 0,
      "conversations[0]: field 'from' must be \"human\" or \"gpt\"" },
    { HEAD "\"reward\":0,\"win\":false,\"conversations\":[{\"value\":\"a\"}]}", 0,
      "conversations[0]: field 'from' missing" },
    { HEAD "\"reward\":0,\"win\":false,\"conversations\":[{\"from\":\"human\"}]}", 0,
      "conversations[0]: field 'value' missing" },
    { HEAD "\"reward\":0,\"win\":false,\"conversations\":[{\"from\":\"human\",\"value\":3}]}", 0,
      "conversations[0]: field 'value' is not a string" },
    { HEAD "\"reward\":0,\"win\":false,\"conversations\":[{\"from\":\"human\",\"value\":\"o\"},{\"from\":\"gpt\",\"value\":\"a\",\"loss\":2}]}",
      0, "conversations[1]: field 'loss' must be 0 or 1" },
    { HEAD "\"reward\":0,\"win\":false,\"conversations\":[{\"from\":\"human\",\"value\":\"o\"},{\"from\":\"gpt\",\"value\":\"a\",\"loss\":\"1\"}]}",
      0, "conversations[1]: field 'loss' must be 0 or 1" },
    { HEAD "\"reward\":0,\"win\":false,\"conversations\":[{\"from\":\"human\",\"value\":\"o\"},{\"from\":\"gpt\",\"value\":\"a\"}]}",
      0, "conversations[1]: field 'loss' missing" },
    { HEAD "\"reward\":0,\"win\":false,\"conversations\":[{\"from\":\"human\",\"value\":\"o\",\"loss\":1}]}",
      0, "conversations[0]: field 'loss' of a human turn must be 0" },
    /* byte-level problems, located by column */
    { HEAD "\"reward\":0,\"win\":false,\"conversations\":[{\"from\":\"human\",\"value\":\"\xff\"}]}", 0,
      "invalid UTF-8 at column 118" },
    { HEAD "\"reward\":0,\"win\":false,\"conversations\":[{\"from\":\"human\",\"value\":\"\xc0\xaf\"}]}", 0,
      "invalid UTF-8 at column 118" }, /* overlong '/' */
    { HEAD "\"reward\":0,\"win\":false,\"conversations\":[{\"from\":\"human\",\"value\":\"\xed\xa0\x80\"}]}", 0,
      "invalid UTF-8 at column 118" }, /* a surrogate */
    { HEAD "\"reward\":0,\"win\":false,\"conversations\":[{\"from\":\"human\",\"value\":\"a\0b\"}]}", 121,
      "NUL byte at column 119" },
    { HEAD "\"reward\":0,\"win\":false,\"conversations\":[{\"from\":\"human\",\"value\":\"a\\u0000b\"}]}", 0,
      "NUL character (\\u0000) at column 119" },
    { "{\"eef\":\"trajectories\",\"version\":2}", 0,
      "trajectory file version 2 is not supported (this eef reads 1)" },
};

static void test_malformed(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char path[512];
    eef_path_join(path, sizeof path, dir, "bad.jsonl");
    eef_buf text;
    eef_buf_init(&text);
    for (size_t i = 0; i < EEF_ARRAY_LEN(bad_cases); i++) {
        const bad_case *c = &bad_cases[i];
        eef_buf_clear(&text);
        eef_buf_puts(&text, GOOD "\n");
        eef_buf_append(&text, c->line, c->len ? c->len : strlen(c->line));
        eef_buf_puts(&text, "\n" GOOD "\n");
        write_text(path, text.data, text.len);
        eef_trajset set = { 0 };
        eef_err e = eef_traj_read(path, 0, &set, NULL);
        char want[1024];
        snprintf(want, sizeof want, "%s:2: %s", path, c->reason);
        if (e != EEF_EFORMAT || strcmp(eef_errmsg(), want) != 0)
            fail_msg("case %zu: got %s '%s', want '%s'", i, eef_errname(e), eef_errmsg(), want);
        assert_int_equal(set.n, 0); /* nothing half-read is left */
        /* the same line alone, through from_json */
        eef_traj t;
        assert_int_equal(eef_traj_from_json(c->line, c->len ? c->len : strlen(c->line), "x:9", &t),
                         EEF_EFORMAT);
        assert_true(strncmp(eef_errmsg(), "x:9: ", 5) == 0);
        assert_null(t.id);
    }

    /* a line over the limit (16 MiB) is bad; the next one still reads */
    size_t big = EEF_TRAJ_MAX_LINE + 1;
    eef_buf_clear(&text);
    eef_buf_puts(&text, GOOD "\n");
    assert_int_equal(eef_buf_reserve(&text, big + 1), 0);
    memset(text.data + text.len, 'x', big);
    text.len += big;
    eef_buf_puts(&text, "\n" GOOD "\n");
    write_text(path, text.data, text.len);
    eef_trajset set = { 0 };
    assert_int_equal(eef_traj_read(path, 0, &set, NULL), EEF_EFORMAT);
    char want[1024];
    snprintf(want, sizeof want, "%s:2: line longer than %zu bytes", path, EEF_TRAJ_MAX_LINE);
    assert_string_equal(eef_errmsg(), want);
    read_job job = { path, { 0 }, 0, EEF_OK };
    char *err = capture_stderr(do_read_skip, &job);
    assert_ok(job.err);
    assert_int_equal(job.set.n, 2);
    assert_int_equal(job.n_bad, 1);
    strcat(want, "\n");
    assert_string_equal(err, want);
    free(err);
    eef_trajset_free(&job.set);
    eef_buf_free(&text);

    /* a missing file */
    assert_int_equal(eef_traj_read("/nonexistent/x.jsonl", 0, &set, NULL), EEF_ENOTFOUND);
    tu_rmtree(dir);
}

static void test_skip_bad(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char path[512];
    eef_path_join(path, sizeof path, dir, "mixed.jsonl");
    /* every bad case between good lines: line 1 header, then good/bad pairs */
    eef_buf text;
    eef_buf_init(&text);
    eef_buf_puts(&text, "{\"eef\":\"trajectories\",\"version\":1}\n");
    for (size_t i = 0; i < EEF_ARRAY_LEN(bad_cases); i++) {
        eef_buf_printf(&text, "{\"id\":\"g%zu\",\"env\":\"shop\",\"task\":\"t\",\"source\":\"expert\",\"reward\":1,"
                              "\"win\":true,\"conversations\":[{\"from\":\"human\",\"value\":\"o\",\"loss\":0}]}\n",
                       i);
        eef_buf_append(&text, bad_cases[i].line,
                       bad_cases[i].len ? bad_cases[i].len : strlen(bad_cases[i].line));
        eef_buf_puts(&text, "\n");
    }
    write_text(path, text.data, text.len);
    eef_buf_free(&text);

    read_job job = { path, { 0 }, 0, EEF_OK };
    char *err = capture_stderr(do_read_skip, &job);
    assert_ok(job.err);
    size_t n = EEF_ARRAY_LEN(bad_cases);
    assert_int_equal(job.n_bad, n);
    assert_int_equal(job.set.n, n);
    for (size_t i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "g%zu", i);
        assert_string_equal(job.set.items[i].id, id);
        assert_null(job.set.items[i].steps);
        assert_string_equal(job.set.items[i].final_obs, "o");
    }
    /* one stderr line per bad line, "file:line: reason", in order */
    char *p = err;
    for (size_t i = 0; i < n; i++) {
        char want[1024];
        snprintf(want, sizeof want, "%s:%zu: %s\n", path, 3 + 2 * i, bad_cases[i].reason);
        if (strncmp(p, want, strlen(want)) != 0) fail_msg("stderr line %zu: '%.200s' want '%s'", i, p, want);
        p += strlen(want);
    }
    assert_string_equal(p, "");
    free(err);
    eef_trajset_free(&job.set);
    tu_rmtree(dir);
}

static void test_writer_rejects(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char path[512];
    eef_path_join(path, sizeof path, dir, "w.jsonl");
    eef_trajset set = { 0 };
    make_tricky(&set);
    eef_traj *t = &set.items[0];
    eef_buf line;
    eef_buf_init(&line);
#define REJECT(stmt, undo, reason)                                                              \
    do {                                                                                        \
        stmt;                                                                                   \
        assert_int_equal(eef_traj_to_json(t, &line), EEF_EINVAL);                               \
        assert_int_equal(line.len, 0);                                                          \
        if (!strstr(eef_errmsg(), reason)) fail_msg("'%s' lacks '%s'", eef_errmsg(), reason);   \
        assert_int_equal(eef_traj_write(path, set.items, set.n), EEF_EINVAL);                   \
        assert_false(eef_file_exists(path));                                                    \
        undo;                                                                                   \
    } while (0)
    REJECT(t->win = 0, t->win = 1, "win is false but reward is 1");
    REJECT(t->reward = NAN, t->reward = 1, "reward is not finite");
    REJECT(t->steps[1].mask = 2, t->steps[1].mask = 0, "mask of step 1 is 2");
    REJECT(t->steps[0].action[0] = (char)0xff, t->steps[0].action[0] = 's', "action of step 0 is not valid UTF-8");
    REJECT(t->tier = 3, t->tier = 0, "tier 3 is out of range");
    REJECT(t->split = 2, t->split = 0, "split 2 is out of range");
    REJECT(t->source[0] = 0, t->source[0] = 'e', "source is empty");
    REJECT(eef_traj_set(&t->extra, "{\"id\":1}"), eef_traj_set(&t->extra, NULL), "extra field 'id' is one of ours");
    REJECT(eef_traj_set(&t->extra, "[1]"), eef_traj_set(&t->extra, NULL), "extra is not a JSON object");
    REJECT(eef_traj_set(&t->extra, "{\"a\":1,\"a\":2}"), eef_traj_set(&t->extra, NULL), "extra field 'a' appears twice");
    REJECT(eef_traj_set(&t->extra, "{\"a\":"), eef_traj_set(&t->extra, NULL), "malformed JSON");
    eef_buf_free(&line);
    /* after the undos it writes */
    assert_ok(eef_traj_write(path, set.items, set.n));
    /* an extra written in any spacing comes back canonical and equal */
    assert_ok(eef_traj_set(&t->extra, "{ \"b\" : [ 1 , 2 ] ,\"c\":{}}"));
    assert_ok(eef_traj_write(path, set.items, set.n));
    eef_trajset back = { 0 };
    assert_ok(eef_traj_read(path, 0, &back, NULL));
    assert_string_equal(back.items[0].extra, "{\"b\":[1,2],\"c\":{}}");
    assert_true(eef_traj_equal(&back.items[0], t));
    eef_trajset_free(&back);

    /* a full disk while writing leaves no file */
    assert_ok(eef_traj_set(&t->extra, NULL));
    char other[600];
    snprintf(other, sizeof other, "%s.2", path);
    eef_fault_inject_write(3);
    assert_int_equal(eef_traj_write(other, set.items, set.n), EEF_EIO);
    eef_fault_inject_write(-1);
    assert_false(eef_file_exists(other));
    eef_trajset_free(&set);
    tu_rmtree(dir);
}

/* ------------------------------------------------------------ ETO / AgentGym */
static void test_eto_import(void **state)
{
    (void)state;
    eef_trajset set = { 0 };
    size_t n_bad = 7;
    assert_ok(eef_traj_import_eto(fixture("eto_shop.json"), "shop", &set, &n_bad, NULL));
    assert_int_equal(n_bad, 0);
    assert_int_equal(set.n, 3);
    eef_traj *t = &set.items[0];
    assert_string_equal(t->id, "0"); /* integer ids become text */
    assert_string_equal(t->env, "shop");
    assert_string_equal(t->task, "0");
    assert_string_equal(t->source, "expert");
    assert_int_equal(t->split, -1);
    assert_true(t->reward == 1.0 && t->win);
    assert_int_equal(t->n_steps, 4);
    assert_string_equal(t->steps[0].obs, "WebShop [SEP] Instruction: [SEP] i want a blue ceramic mug, price lower than 20.00 dollars [SEP] Search");
    assert_string_equal(t->steps[0].action, "search[blue ceramic mug]");
    assert_string_equal(t->steps[1].action, "click[B0MUG00001]");
    assert_string_equal(t->steps[3].obs, "You have clicked blue.");
    assert_string_equal(t->steps[3].action, "click[Buy Now]");
    assert_int_equal(t->steps[3].mask, 1);
    assert_null(t->final_obs);
    assert_null(t->extra);
    t = &set.items[1];
    assert_string_equal(t->id, "shop_7");
    assert_true(t->reward == 0.5 && !t->win);
    assert_int_equal(t->n_steps, 5);
    assert_string_equal(t->steps[4].action, "click[Buy Now]");
    t = &set.items[2]; /* no preamble: the first human turn is the task */
    assert_string_equal(t->id, "12");
    assert_int_equal(t->n_steps, 1);
    assert_string_equal(t->steps[0].obs, "WebShop [SEP] Instruction: [SEP] i need a steel water bottle [SEP] Search");
    assert_string_equal(t->steps[0].action, "search[steel water bottle]");
    eef_trajset_free(&set);

    /* ALFWorld-style: no reward in the record, game_file kept */
    assert_ok(eef_traj_import_eto(fixture("eto_house.json"), "house", &set, NULL, NULL));
    assert_int_equal(set.n, 1);
    t = &set.items[0];
    assert_string_equal(t->id, "house_0");
    assert_int_equal(t->n_steps, 7);
    assert_true(strncmp(t->steps[0].obs, "You are in the middle of a room.", 32) == 0);
    assert_string_equal(t->steps[1].obs, "On the countertop 1, you see a cloth 1, and a spoon 2.");
    assert_string_equal(t->steps[1].action, "take cloth 1 from countertop 1");
    assert_string_equal(t->steps[6].action, "put cloth 1 in/on drawer 1");
    assert_true(t->reward == 0.0 && !t->win);
    assert_string_equal(t->extra, "{\"game_file\":\"house/train/clean-cloth-drawer/trial_1/game.tw-pddl\","
                                  "\"reward_missing\":true}");
    eef_trajset_free(&set);

    /* AgentGym JSONL: item_id, loss per turn, success, final observation */
    assert_ok(eef_traj_import_eto(fixture("agentgym_shop.jsonl"), "shop", &set, NULL, NULL));
    assert_int_equal(set.n, 2);
    t = &set.items[0];
    assert_string_equal(t->id, "webshop_3");
    assert_string_equal(t->extra, "{\"item_id\":\"webshop_3\"}");
    assert_int_equal(t->n_steps, 2);
    assert_string_equal(t->steps[0].action, "search[wool hiking socks]");
    assert_int_equal(t->steps[0].mask, 1);
    assert_string_equal(t->steps[1].action, "click[Next >]");
    assert_int_equal(t->steps[1].mask, 0);
    assert_non_null(t->final_obs);
    assert_true(strstr(t->final_obs, "Cotton Ankle Socks") != NULL);
    t = &set.items[1];
    assert_true(t->win);
    assert_string_equal(t->steps[1].action, "click[B0UMBR0001]"); /* act-only turn */
    assert_string_equal(t->steps[2].action, "click[Buy Now]");
    eef_trajset_free(&set);

    /* no env anywhere */
    assert_int_equal(eef_traj_import_eto(fixture("eto_house.json"), NULL, &set, NULL, NULL), EEF_EFORMAT);
    assert_non_null(strstr(eef_errmsg(), "eto_house.json:record 1: no 'env'"));
}

static void do_import_bad(void *arg)
{
    read_job *j = arg;
    j->err = eef_traj_import_eto(j->path, "shop", &j->set, &j->n_bad, NULL);
}

static void test_eto_bad(void **state)
{
    (void)state;
    eef_trajset set = { 0 };
    const char *p = fixture("eto_bad.json");
    char want[600];
    assert_int_equal(eef_traj_import_eto(p, "shop", &set, NULL, NULL), EEF_EFORMAT);
    snprintf(want, sizeof want, "%s:record 2: not a JSON object", p);
    assert_string_equal(eef_errmsg(), want);
    assert_int_equal(set.n, 0);

    read_job job = { p, { 0 }, 0, EEF_OK };
    char *err = capture_stderr(do_import_bad, &job);
    assert_ok(job.err);
    assert_int_equal(job.set.n, 1);
    assert_string_equal(job.set.items[0].id, "good_1");
    assert_int_equal(job.n_bad, 7);
    const char *reasons[] = {
        "record 2: not a JSON object",
        "record 3: field 'conversations' missing",
        "record 4: conversations[0]: field 'from' must be \"human\" or \"gpt\"",
        "record 5: conversations[1]: expected a gpt turn, got human",
        "record 6: field 'reward' is not a number",
        "record 7: success is 1 but reward is 0.29999999999999999 (success means reward == 1)",
        "record 8: no 'id' or 'item_id'",
    };
    char *q = err;
    for (size_t i = 0; i < EEF_ARRAY_LEN(reasons); i++) {
        snprintf(want, sizeof want, "%s:%s\n", p, reasons[i]);
        if (strncmp(q, want, strlen(want)) != 0) fail_msg("line %zu: '%.200s' want '%s'", i, q, want);
        q += strlen(want);
    }
    free(err);
    eef_trajset_free(&job.set);

    /* JSONL: bad records are reported by line */
    p = fixture("agentgym_bad.jsonl");
    read_job job2 = { p, { 0 }, 0, EEF_OK };
    err = capture_stderr(do_import_bad, &job2);
    assert_ok(job2.err);
    assert_int_equal(job2.set.n, 1);
    assert_int_equal(job2.n_bad, 3);
    snprintf(want, sizeof want, "%s:2: conversations[0]: expected a human turn, got gpt\n", p);
    assert_true(strncmp(err, want, strlen(want)) == 0);
    snprintf(want, sizeof want, "%s:3: conversations[1]: field 'loss' must be true, false, 0 or 1\n", p);
    assert_non_null(strstr(err, want));
    snprintf(want, sizeof want, "%s:4: malformed JSON", p);
    assert_non_null(strstr(err, want));
    free(err);
    eef_trajset_free(&job2.set);

    /* broken JSON in an array is located by line */
    char *dir = tu_tmpdir();
    char path[512];
    eef_path_join(path, sizeof path, dir, "broken.json");
    write_text(path, "[\n  {\"id\": 1,\n   \"conversations\": [}\n]\n", 38);
    assert_int_equal(eef_traj_import_eto(path, "shop", &set, NULL, NULL), EEF_EFORMAT);
    snprintf(want, sizeof want, "%s:3: malformed JSON", path);
    assert_string_equal(eef_errmsg(), want);
    write_text(path, "[\n{\"id\": \"a\xff\"}]\n", 16);
    assert_int_equal(eef_traj_import_eto(path, "shop", &set, NULL, NULL), EEF_EFORMAT);
    snprintf(want, sizeof want, "%s:2: invalid UTF-8 at column 10", path);
    assert_string_equal(eef_errmsg(), want);
    tu_rmtree(dir);
}

static void test_eto_export(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char a[512], b[512];
    eef_path_join(a, sizeof a, dir, "a.json");
    eef_path_join(b, sizeof b, dir, "b.json");

    /* ours -> ETO -> ours is exact */
    eef_trajset set = { 0 }, back = { 0 };
    make_tricky(&set);
    assert_ok(eef_traj_export_eto(a, NULL, set.items, set.n));
    assert_ok(eef_traj_import_eto(a, NULL, &back, NULL, NULL));
    assert_int_equal(back.n, set.n);
    for (size_t i = 0; i < set.n; i++)
        if (!eef_traj_equal(&set.items[i], &back.items[i])) fail_msg("trajectory %zu differs", i);

    /* the file has the ETO / AgentGym shape */
    size_t len;
    char *text = slurp(a, &len);
    cJSON *arr = cJSON_Parse(text);
    free(text);
    assert_true(cJSON_IsArray(arr));
    assert_int_equal(cJSON_GetArraySize(arr), (int)set.n);
    const cJSON *r0 = cJSON_GetArrayItem(arr, 0);
    assert_string_equal(cJSON_GetObjectItem(r0, "id")->valuestring, "t-0");
    assert_true(cJSON_GetObjectItem(r0, "reward")->valuedouble == 1.0);
    const cJSON *conv = cJSON_GetObjectItem(r0, "conversations");
    assert_int_equal(cJSON_GetArraySize(conv), 2 + 2 * 3 + 1);
    const cJSON *c1 = cJSON_GetArrayItem(conv, 1), *c2 = cJSON_GetArrayItem(conv, 2),
                *c3 = cJSON_GetArrayItem(conv, 3), *c5 = cJSON_GetArrayItem(conv, 5);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(conv, 0), "from")->valuestring, "human");
    assert_non_null(strstr(cJSON_GetObjectItem(cJSON_GetArrayItem(conv, 0), "value")->valuestring, "search["));
    assert_string_equal(cJSON_GetObjectItem(c1, "value")->valuestring, "OK");
    assert_true(strncmp(cJSON_GetObjectItem(c2, "value")->valuestring, "Observation: Instruction:", 25) == 0);
    assert_string_equal(cJSON_GetObjectItem(c3, "value")->valuestring,
                        "Thought: I take the next step.\nAction: search[mug]");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(c3, "loss")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(c5, "loss")));
    cJSON_Delete(arr);

    /* imported -> exported -> imported is exact, and export is stable */
    eef_trajset_free(&back);
    eef_trajset_free(&set);
    const char *files[] = { "eto_shop.json", "eto_house.json", "agentgym_shop.jsonl" };
    for (size_t f = 0; f < EEF_ARRAY_LEN(files); f++) {
        assert_ok(eef_traj_import_eto(fixture(files[f]), f == 1 ? "house" : "shop", &set, NULL, NULL));
        assert_ok(eef_traj_export_eto(a, NULL, set.items, set.n));
        assert_ok(eef_traj_import_eto(a, "ignored", &back, NULL, NULL));
        assert_int_equal(back.n, set.n);
        for (size_t i = 0; i < set.n; i++)
            if (!eef_traj_equal(&set.items[i], &back.items[i])) fail_msg("%s: %zu differs", files[f], i);
        assert_ok(eef_traj_export_eto(b, NULL, back.items, back.n));
        size_t la, lb;
        char *da = slurp(a, &la), *db = slurp(b, &lb);
        assert_int_equal(la, lb);
        assert_memory_equal(da, db, la);
        free(da);
        free(db);
        eef_trajset_free(&set);
        eef_trajset_free(&back);
    }

    /* an empty set is an empty array */
    assert_ok(eef_traj_export_eto(a, NULL, NULL, 0));
    text = slurp(a, &len);
    assert_string_equal(text, "[]\n");
    free(text);
    assert_ok(eef_traj_import_eto(a, "shop", &set, NULL, NULL));
    assert_int_equal(set.n, 0);
    tu_rmtree(dir);
}

/* ------------------------------------------------------------ stats */
static void test_action_type(void **state)
{
    (void)state;
    const char *cases[][2] = {
        { "click[Next >]", "click[Next >]" },
        { "click[next >]", "click[Next >]" },
        { "click[< Prev]", "click[< Prev]" },
        { "click[back to search]", "click[Back to Search]" },
        { "click[Buy Now]", "click[Buy Now]" },
        { "click[description]", "click[Description]" },
        { "click[Features]", "click[Features]" },
        { "click[reviews]", "click[Reviews]" },
        { "click[Attributes]", "click[Attributes]" },
        { "click[B09XYZ]", "click[item-or-option]" },
        { "click[blue]", "click[item-or-option]" },
        { "click[Buy]", "click[item-or-option]" },
        { "search[red mug 12 oz]", "search" },
        { "search[]", "search" },
        { "go to countertop 1", "go to" },
        { "Go To fridge 1", "go to" },
        { "go", "go" },
        { "gone fishing", "gone" },
        { "open drawer 2", "open" },
        { "take apple 1 from fridge 1", "take" },
        { "put apple 1 in/on countertop 2", "put" },
        { "  look  ", "look" },
        { "inventory", "inventory" },
        { "", "(empty)" },
        { "inc", "inc" },
    };
    /* the shop names WebShop's buttons, and verbs as every text game does */
    void (*kind)(const char *, char *, size_t) = eef_env_text_of("shop")->action_kind;
    char out[64];
    for (size_t i = 0; i < EEF_ARRAY_LEN(cases); i++) {
        kind(cases[i][0], out, sizeof out);
        if (strcmp(out, cases[i][1]) != 0) fail_msg("'%s' -> '%s', want '%s'", cases[i][0], out, cases[i][1]);
    }
    kind("averyveryverylongword", out, 5);
    assert_string_equal(out, "aver"); /* cap counts the NUL */
    /* the house: verbs only ("go to" is one) */
    void (*hkind)(const char *, char *, size_t) = eef_env_text_of("house")->action_kind;
    for (size_t i = 14; i < EEF_ARRAY_LEN(cases); i++) {
        hkind(cases[i][0], out, sizeof out);
        if (strcmp(out, cases[i][1]) != 0) fail_msg("house: '%s' -> '%s', want '%s'", cases[i][0], out, cases[i][1]);
    }
    hkind("click[Buy Now]", out, sizeof out);
    assert_string_equal(out, "click[buy");
}

static void test_stats(void **state)
{
    (void)state;
    eef_trajset set = { 0 };
    assert_ok(eef_traj_read(fixture("small.jsonl"), 0, &set, NULL));
    eef_traj_stats s;
    eef_traj_stats_init(&s);
    for (size_t i = 0; i < set.n; i++) assert_ok(eef_traj_stats_add(&s, &set.items[i]));
    eef_traj_stats_sort(&s);
    assert_int_equal(s.all.n, 4);
    assert_int_equal(s.all.n_win, 2);
    assert_true(fabs(s.all.reward_sum - 2.5) < 1e-12);
    assert_int_equal(s.tier[EEF_TIER_EASY].n, 1);
    assert_int_equal(s.tier[EEF_TIER_MEDIUM].n, 2);
    assert_int_equal(s.tier[EEF_TIER_MEDIUM].n_win, 1);
    assert_int_equal(s.tier[EEF_TIER_HARD].n, 1);
    assert_int_equal(s.tier[EEF_N_TIERS].n, 0);
    assert_int_equal(s.steps_sum, 16);
    assert_int_equal(s.steps_min, 3);
    assert_int_equal(s.steps_max, 5);
    assert_int_equal(s.n_masked, 4);
    assert_int_equal(s.n_unmasked, 12);
    assert_int_equal(s.n_sources, 3);
    assert_string_equal(s.sources[0].name, "expert");
    assert_int_equal(s.sources[0].n, 2);
    assert_int_equal(s.actions_in_wins, 8);
    assert_int_equal(s.actions_in_fails, 8);
    /* sorted by total, then name */
    assert_string_equal(s.actions[0].type, "click[item-or-option]");
    assert_int_equal(s.actions[0].in_wins, 2);
    assert_int_equal(s.actions[0].in_fails, 1);
    assert_string_equal(s.actions[1].type, "go to");
    size_t total = 0;
    for (size_t i = 0; i < s.n_actions; i++) total += s.actions[i].in_wins + s.actions[i].in_fails;
    assert_int_equal(total, 16);
    eef_traj_stats_free(&s);
    eef_trajset_free(&set);
}

/* Runs a shell command, returns its exit status and stdout. */
static int run_cmd(const char *cmd, char **out)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    eef_buf b;
    eef_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0) eef_buf_append(&b, chunk, n);
    int st = pclose(p);
    eef_buf_reserve(&b, 0);
    *out = b.data;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A shop episode: search, open a product, then `last` on its page. */
static void priced(eef_traj *t, const char *instruction, const char *page, const char *last, int win)
{
    eef_traj_init(t);
    t->id = eef_strdup("shop-test-0/a"), t->env = eef_strdup("shop");
    t->task = eef_strdup("shop-test-0"), t->source = eef_strdup("agent");
    t->instruction = eef_strdup(instruction);
    t->win = win, t->reward = win;
    assert_ok(eef_traj_push(t, "WebShop [SEP] Search", "search[mug]", 1));
    assert_ok(eef_traj_push(t, "Page 1 [SEP] B01 [SEP] Blue Mug [SEP] $9.99", "click[B01]", 1));
    assert_ok(eef_traj_push(t, page, last, 1));
}

static void test_stats_price(void **state)
{
    (void)state;
    const char *bound = "i need a blue mug, and price lower than 20.00 dollars";
    const char *over = "< Prev [SEP] Blue Mug [SEP] Price: $25.50 [SEP] Buy Now";
    const char *under = "< Prev [SEP] Blue Mug [SEP] Price: $19.99 [SEP] Buy Now";
    eef_traj t[6];
    priced(&t[0], bound, over, "click[Buy Now]", 0);             /* above the bound */
    priced(&t[1], bound, under, "click[buy now]", 1);             /* within */
    priced(&t[2], bound, over, "click[< Prev]", 0);              /* out of steps */
    priced(&t[3], "i need a blue mug", over, "click[Buy Now]", 0); /* no bound stated */
    priced(&t[4], bound, "Blue Mug [SEP] Buy Now", "click[Buy Now]", 0); /* no price shown */
    priced(&t[5], "a mug, price lower than any", over, "click[Buy Now]", 0); /* no number */
    eef_traj big;
    priced(&big, "a desk, and price lower than 1,300.00 dollars", "Price: $1,299.99", "click[Buy Now]", 1);

    double b = 0, paid = 0;
    assert_int_equal(eef_traj_price_paid(&t[0], &b, &paid), 1);
    assert_true(b == 20.0 && paid == 25.5);
    assert_int_equal(eef_traj_price_paid(&t[1], &b, &paid), 1);
    assert_true(paid == 19.99);
    for (int i = 2; i < 6; i++) assert_int_equal(eef_traj_price_paid(&t[i], &b, &paid), 0);
    assert_int_equal(eef_traj_price_paid(&big, &b, &paid), 1);
    assert_true(b == 1300.0 && paid == 1299.99);
    eef_traj_free(&big);

    eef_traj_stats s;
    eef_traj_stats_init(&s);
    for (int i = 0; i < 6; i++) assert_ok(eef_traj_stats_add(&s, &t[i]));
    assert_int_equal(s.price_stated, 4); /* 0, 1, 2, 4 */
    assert_int_equal(s.price_over, 1);
    assert_int_equal(s.price_unbought, 1);
    eef_traj_stats_free(&s);

    /* what `eef stats` prints of them */
    char *dir = tu_tmpdir(), path[600], cmd[1400], *out;
    snprintf(path, sizeof path, "%s/priced.jsonl", dir);
    assert_ok(eef_traj_write(path, t, 6));
    snprintf(cmd, sizeof cmd, "%s stats %s", tu_eef(), path);
    assert_int_equal(run_cmd(cmd, &out), 0);
    if (!strstr(out, "price bound   stated in 4: bought above it 1 (25.0%), ended unbought 1 (25.0%)"))
        fail_msg("no price bound line in:\n%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s stats --json %s", tu_eef(), path);
    assert_int_equal(run_cmd(cmd, &out), 0);
    cJSON *j = cJSON_Parse(out), *pb = cJSON_GetObjectItem(j, "price_bound");
    free(out);
    assert_non_null(pb);
    assert_int_equal(cJSON_GetObjectItem(pb, "stated")->valueint, 4);
    assert_int_equal(cJSON_GetObjectItem(pb, "bought_above")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(pb, "unbought")->valueint, 1);
    cJSON_Delete(j);
    tu_rmtree(dir);
    for (int i = 0; i < 6; i++) eef_traj_free(&t[i]);
}

static void test_stats_cli(void **state)
{
    (void)state;
    char cmd[1200], *out;
    snprintf(cmd, sizeof cmd, "%s stats %s", tu_eef(), fixture("small.jsonl"));
    assert_int_equal(run_cmd(cmd, &out), 0);
    assert_non_null(strstr(out, "trajectories  4"));
    assert_non_null(strstr(out, "win rate      50.0%"));
    assert_non_null(strstr(out, "score         62.50"));
    assert_non_null(strstr(out, "  medium          2     50.0%    50.00\n"));
    assert_non_null(strstr(out, "click[Buy Now]"));
    assert_non_null(strstr(out, "12 unmasked (loss 1), 4 masked (loss 0)"));
    assert_null(strstr(out, "price bound")); /* none of its instructions states one */
    free(out);

    snprintf(cmd, sizeof cmd, "%s stats --json %s", tu_eef(), fixture("small.jsonl"));
    assert_int_equal(run_cmd(cmd, &out), 0);
    cJSON *j = cJSON_Parse(out);
    free(out);
    assert_non_null(j);
    assert_int_equal(cJSON_GetObjectItem(j, "count")->valueint, 4);
    assert_true(cJSON_GetObjectItem(j, "score")->valuedouble == 62.5);
    assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "tiers"), "hard"), "score")->valuedouble == 50);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "sources"), "eef")->valueint, 1);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "actions")), 10);
    cJSON_Delete(j);

    /* usage errors exit 2, a malformed file exits 1 with file:line */
    snprintf(cmd, sizeof cmd, "%s stats 2>/dev/null", tu_eef());
    assert_int_equal(run_cmd(cmd, &out), 2);
    free(out);
    snprintf(cmd, sizeof cmd, "%s stats %s 2>&1", tu_eef(), fixture("eto_bad.json"));
    assert_int_equal(run_cmd(cmd, &out), 1);
    assert_non_null(strstr(out, "eto_bad.json:1: malformed JSON"));
    free(out);
}

/* ------------------------------------------------------------ replay */
/* A counter world: the task (split, i) starts at value i and asks for
 * value i + 2 (train) or i - 1 (test); "inc" / "dec" change the value,
 * "done" ends the episode with reward 1 at the target, 0.5 one away,
 * else 0. */
enum { CT_TRAIN = 4, CT_TEST = 3, CT_MAX_STEPS = 8 };

typedef struct {
    eef_env base;
    char ids[2][CT_TRAIN][32];
} counter_env;

typedef struct {
    eef_episode base;
    long value, target;
    int steps, done;
    char obs[96];
} counter_ep;

static size_t ct_n_tasks(const eef_env *env, eef_split s)
{
    (void)env;
    return s == EEF_SPLIT_TRAIN ? CT_TRAIN : CT_TEST;
}

static eef_err ct_task(const eef_env *env, eef_split s, size_t i, eef_task *out)
{
    const counter_env *ce = (const counter_env *)env;
    if (i >= ct_n_tasks(env, s)) return eef_fail(EEF_EINVAL, "no task %zu", i);
    out->id = ce->ids[s][i];
    out->split = s;
    out->index = i;
    out->tier = (eef_tier)(i % EEF_N_TIERS);
    out->instruction = "reach the target";
    return EEF_OK;
}

static eef_err ct_episode_open(eef_env *env, eef_episode **out)
{
    counter_ep *ep = calloc(1, sizeof *ep);
    if (!ep) return EEF_ENOMEM;
    ep->base.env = env;
    *out = &ep->base;
    return EEF_OK;
}

static eef_err ct_reset(eef_episode *e, eef_split s, size_t i, eef_step *out)
{
    counter_ep *ep = (counter_ep *)e;
    if (i >= ct_n_tasks(e->env, s)) return eef_fail(EEF_EINVAL, "no task %zu", i);
    ep->value = (long)i;
    ep->target = s == EEF_SPLIT_TRAIN ? (long)i + 2 : (long)i - 1;
    ep->steps = ep->done = 0;
    snprintf(ep->obs, sizeof ep->obs, "value=%ld target=%ld", ep->value, ep->target);
    *out = (eef_step){ ep->obs, 0.0, 0, 1 };
    return EEF_OK;
}

static eef_err ct_step(eef_episode *e, const char *action, eef_step *out)
{
    counter_ep *ep = (counter_ep *)e;
    if (ep->done) return eef_fail(EEF_ESTATE, "step after the end");
    *out = (eef_step){ ep->obs, 0.0, 0, 1 };
    ep->steps++;
    if (strcmp(action, "inc") == 0) ep->value++;
    else if (strcmp(action, "dec") == 0) ep->value--;
    else if (strcmp(action, "done") == 0) ep->done = 1;
    else out->valid = 0;
    long d = labs(ep->value - ep->target);
    if (ep->done) out->reward = d == 0 ? 1.0 : d == 1 ? 0.5 : 0.0;
    if (ep->steps >= e->env->max_steps) ep->done = 1;
    out->done = ep->done;
    if (!out->valid) snprintf(ep->obs, sizeof ep->obs, "invalid action '%.40s'", action);
    else if (ep->done) snprintf(ep->obs, sizeof ep->obs, "finished at %ld", ep->value);
    else snprintf(ep->obs, sizeof ep->obs, "value=%ld", ep->value);
    return EEF_OK;
}

static eef_err ct_actions(eef_episode *e, eef_actions *out)
{
    (void)e;
    eef_actions_free(out);
    eef_strlist_push(&out->items, "inc");
    eef_strlist_push(&out->items, "dec");
    eef_strlist_push(&out->items, "done");
    return EEF_OK;
}

static void ct_episode_close(eef_episode *e) { free(e); }
static void ct_close(eef_env *env) { free(env); }

static const eef_env_ops counter_ops = {
    .version = EEF_ENV_OPS_VERSION, .name = "counter",       .n_tasks = ct_n_tasks,
    .task = ct_task,                .episode_open = ct_episode_open, .reset = ct_reset,
    .step = ct_step,                .actions = ct_actions,   .episode_close = ct_episode_close,
    .close = ct_close,
};

static eef_env *counter_open(void)
{
    counter_env *ce = calloc(1, sizeof *ce);
    ce->base.ops = &counter_ops;
    ce->base.max_steps = CT_MAX_STEPS;
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < CT_TRAIN; i++) snprintf(ce->ids[s][i], 32, "counter-%s-%d", s ? "test" : "train", i);
    return &ce->base;
}

/* Records a trajectory by running `actions` in the env, as a rollout would. */
static void record(eef_env *env, eef_split s, size_t i, const char *const *actions, size_t n,
                   int keep_final, eef_traj *t)
{
    eef_traj_init(t);
    eef_task task;
    assert_ok(env->ops->task(env, s, i, &task));
    char id[64];
    snprintf(id, sizeof id, "%s-expert", task.id);
    set_common(t, id, "counter", task.id, "expert");
    t->split = s, t->index = (long)i, t->tier = task.tier;
    eef_episode *ep;
    assert_ok(env->ops->episode_open(env, &ep));
    eef_step st;
    assert_ok(env->ops->reset(ep, s, i, &st));
    for (size_t k = 0; k < n; k++) {
        char *obs = strdup(st.obs);
        assert_ok(env->ops->step(ep, actions[k], &st));
        assert_ok(eef_traj_push(t, obs, actions[k], 1));
        free(obs);
    }
    if (keep_final) assert_ok(eef_traj_set(&t->final_obs, st.obs));
    t->reward = st.reward;
    t->win = st.reward == 1.0;
    env->ops->episode_close(ep);
}

static void test_replay(void **state)
{
    (void)state;
    eef_env *env = counter_open();
    const char *win[] = { "inc", "inc", "done" };
    const char *half[] = { "inc", "bogus", "done" };
    const char *down[] = { "dec", "done" };
    eef_traj t;
    eef_replay_result r;

    /* a faithful recording matches */
    record(env, EEF_SPLIT_TRAIN, 1, win, 3, 1, &t);
    assert_true(t.win);
    assert_ok(eef_traj_replay(env, &t, &r));
    assert_true(r.matched);
    assert_int_equal(r.n_mismatch, 0);
    assert_int_equal(r.n_checked, 3 + 1 + 1); /* 3 observations, the final one, the reward */
    eef_replay_result_free(&r);

    /* it survives the file format */
    char *dir = tu_tmpdir();
    char path[512];
    eef_path_join(path, sizeof path, dir, "r.jsonl");
    assert_ok(eef_traj_write(path, &t, 1));
    eef_trajset set = { 0 };
    assert_ok(eef_traj_read(path, 0, &set, NULL));
    assert_ok(eef_traj_replay(env, &set.items[0], &r));
    assert_true(r.matched);
    eef_replay_result_free(&r);
    eef_trajset_free(&set);

    /* a corrupted observation is a mismatch at its step */
    free(t.steps[2].obs);
    t.steps[2].obs = strdup("value=4");
    assert_ok(eef_traj_replay(env, &t, &r));
    assert_false(r.matched);
    assert_int_equal(r.n_mismatch, 1);
    assert_int_equal(r.step, 2);
    assert_string_equal(r.what, "observation");
    assert_string_equal(r.expected, "value=4");
    assert_string_equal(r.got, "value=3");
    eef_replay_result_free(&r);

    /* a wrong final observation and reward: two differences, the first kept */
    free(t.steps[2].obs);
    t.steps[2].obs = strdup("value=3");
    assert_ok(eef_traj_set(&t.final_obs, "finished at 9"));
    t.reward = 0.5, t.win = 0;
    assert_ok(eef_traj_replay(env, &t, &r));
    assert_false(r.matched);
    assert_int_equal(r.n_mismatch, 2);
    assert_int_equal(r.step, 3);
    assert_string_equal(r.what, "observation");
    assert_string_equal(r.expected, "finished at 9");
    assert_string_equal(r.got, "finished at 3");
    eef_replay_result_free(&r);
    assert_ok(eef_traj_set(&t.final_obs, NULL));
    assert_ok(eef_traj_replay(env, &t, &r));
    assert_int_equal(r.n_mismatch, 1);
    assert_string_equal(r.what, "reward");
    assert_string_equal(r.expected, "0.5");
    assert_string_equal(r.got, "1");
    eef_replay_result_free(&r);
    eef_traj_free(&t);

    /* invalid actions are replayed, not mismatches; partial reward */
    record(env, EEF_SPLIT_TRAIN, 0, half, 3, 0, &t);
    assert_true(t.reward == 0.5);
    assert_string_equal(t.steps[2].obs, "invalid action 'bogus'");
    assert_ok(eef_traj_replay(env, &t, &r));
    assert_true(r.matched);
    eef_replay_result_free(&r);

    /* found by id when split/index are unknown or wrong */
    t.split = -1, t.index = -1;
    assert_ok(eef_traj_replay(env, &t, &r));
    assert_true(r.matched);
    eef_replay_result_free(&r);
    t.split = EEF_SPLIT_TEST, t.index = 0;
    assert_ok(eef_traj_replay(env, &t, &r));
    assert_true(r.matched);
    eef_replay_result_free(&r);
    eef_traj_free(&t);

    /* an unknown task is a mismatch, not an error */
    record(env, EEF_SPLIT_TEST, 2, down, 2, 1, &t);
    assert_true(t.win);
    assert_ok(eef_traj_set(&t.task, "counter-test-99"));
    assert_ok(eef_traj_replay(env, &t, &r));
    assert_false(r.matched);
    assert_string_equal(r.what, "task");
    assert_string_equal(r.expected, "counter-test-99");
    assert_string_equal(r.got, "test task 2 is counter-test-2");
    eef_replay_result_free(&r);
    t.index = 50;
    assert_ok(eef_traj_replay(env, &t, &r));
    assert_string_equal(r.got, "no test task 50 (the environment has 3)");
    eef_replay_result_free(&r);
    assert_ok(eef_traj_set(&t.task, "counter-test-2"));

    /* actions after the episode ended */
    assert_ok(eef_traj_push(&t, "finished at 1", "inc", 1));
    assert_ok(eef_traj_replay(env, &t, &r));
    assert_false(r.matched);
    assert_string_equal(r.what, "ended");
    assert_int_equal(r.step, 2);
    eef_replay_result_free(&r);
    eef_traj_free(&t);

    /* long observations are shown as excerpts around the difference */
    record(env, EEF_SPLIT_TRAIN, 1, win, 3, 0, &t);
    char longobs[400];
    memset(longobs, 'a', sizeof longobs - 1);
    longobs[sizeof longobs - 1] = 0;
    free(t.steps[1].obs);
    t.steps[1].obs = strdup(longobs);
    assert_ok(eef_traj_replay(env, &t, &r));
    assert_int_equal(r.step, 1);
    assert_true(strlen(r.expected) <= EEF_REPLAY_EXCERPT + 3);
    assert_true(strncmp(r.expected, "aaaa", 4) == 0);
    assert_true(strcmp(r.expected + strlen(r.expected) - 3, "...") == 0);
    eef_replay_result_free(&r);
    eef_traj_free(&t);

    eef_env_close(env);
    tu_rmtree(dir);
}

static void test_replay_cli(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char path[512], cmd[1500], *out;
    eef_path_join(path, sizeof path, dir, "r.jsonl");
    eef_trajset set = { 0 };
    assert_ok(eef_traj_read(fixture("small.jsonl"), 0, &set, NULL));
    assert_ok(eef_traj_set(&set.items[0].env, "nosuchenv"));
    assert_ok(eef_traj_write(path, set.items, set.n));
    eef_trajset_free(&set);
    snprintf(cmd, sizeof cmd, "%s replay %s --seed 3 2>&1", tu_eef(), path);
    assert_int_equal(run_cmd(cmd, &out), 1);
    assert_non_null(strstr(out, "trajectory 'shop-train-0-expert'"));
    assert_non_null(strstr(out, "unknown environment 'nosuchenv'"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s replay %s --seed -1 2>&1", tu_eef(), path);
    assert_int_equal(run_cmd(cmd, &out), 2);
    free(out);
    tu_rmtree(dir);
}

/* ------------------------------------------------------------ volume */
static void test_many(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char path[512];
    eef_path_join(path, sizeof path, dir, "many.jsonl");
    enum { N = 10000 };
    double t0 = eef_now();
    eef_traj_writer w;
    assert_ok(eef_traj_writer_open(&w, path));
    eef_traj t;
    eef_traj_init(&t);
    eef_rng rng = eef_rng_make(eef_rng_key(1, 2, 3, 4));
    double reward_sum = 0;
    for (int i = 0; i < N; i++) {
        char id[32], task[32], obs[200], act[64];
        snprintf(id, sizeof id, "traj-%d", i);
        snprintf(task, sizeof task, "shop-train-%d", i % 1500);
        set_common(&t, id, "shop", task, i % 3 ? "agent" : "expert");
        t.split = EEF_SPLIT_TRAIN, t.index = i % 1500, t.tier = i % 3;
        t.reward = (double)eef_rng_below(&rng, 5) / 4.0;
        t.win = t.reward == 1.0;
        reward_sum += t.reward;
        int n = 2 + (int)eef_rng_below(&rng, 12);
        for (int k = 0; k < n; k++) {
            snprintf(obs, sizeof obs, "[Back to Search] [SEP] Page %d [SEP] item %u [SEP] $%u.99", k,
                     eef_rng_u32(&rng) % 100000, eef_rng_u32(&rng) % 100);
            snprintf(act, sizeof act, k ? "click[item %d]" : "search[query %d]", k);
            assert_ok(eef_traj_push(&t, obs, act, k % 4 != 3));
        }
        assert_ok(eef_traj_writer_add(&w, &t));
        eef_traj_free(&t);
    }
    assert_ok(eef_traj_writer_commit(&w));
    double t1 = eef_now();
    eef_trajset set = { 0 };
    assert_ok(eef_traj_read(path, 0, &set, NULL));
    double t2 = eef_now();
    assert_int_equal(set.n, N);
    double sum = 0;
    for (size_t i = 0; i < set.n; i++) sum += set.items[i].reward;
    assert_true(sum == reward_sum);
    assert_string_equal(set.items[N - 1].id, "traj-9999");
    size_t bytes;
    char *data = slurp(path, &bytes);
    free(data);
    print_message("10000 trajectories, %.1f MB: write %.3f s, read %.3f s\n", (double)bytes / 1e6,
                  t1 - t0, t2 - t1);
    eef_trajset_free(&set);
    tu_rmtree(dir);
}

int main(void)
{
    eef_progress_set_quiet(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),      cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_skip_bad),       cmocka_unit_test(test_writer_rejects),
        cmocka_unit_test(test_eto_import),     cmocka_unit_test(test_eto_bad),
        cmocka_unit_test(test_eto_export),     cmocka_unit_test(test_action_type),
        cmocka_unit_test(test_stats),          cmocka_unit_test(test_stats_price),
        cmocka_unit_test(test_stats_cli),
        cmocka_unit_test(test_replay),         cmocka_unit_test(test_replay_cli),
        cmocka_unit_test(test_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Tests of src/core: rng, atomic files, lines, json, arena, args. */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <sys/stat.h>

static void test_rng_counter_based(void **state)
{
    (void)state;
    /* the same key gives the same stream; draws depend only on (key, ctr) */
    eef_rng a = eef_rng_make(eef_rng_key(7, 1, 2, 3)), b = a;
    for (int i = 0; i < 100; i++) assert_int_equal(eef_rng_u64(&a), eef_rng_u64(&b));
    eef_rng c = eef_rng_make(eef_rng_key(7, 1, 2, 3));
    c.ctr = 50;
    eef_rng d = eef_rng_make(eef_rng_key(7, 1, 2, 3));
    for (int i = 0; i < 50; i++) eef_rng_u64(&d);
    assert_int_equal(eef_rng_u64(&c), eef_rng_u64(&d));
    /* different keys differ */
    eef_rng e = eef_rng_make(eef_rng_key(7, 1, 2, 4));
    eef_rng f = eef_rng_make(eef_rng_key(7, 1, 2, 3));
    assert_int_not_equal(eef_rng_u64(&e), eef_rng_u64(&f));
}

static void test_rng_distribution(void **state)
{
    (void)state;
    eef_rng r = eef_rng_make(eef_rng_key(1, 0, 0, 0));
    double sum = 0, sum2 = 0;
    int counts[10] = { 0 };
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double u = eef_rng_uniform(&r);
        assert_true(u >= 0 && u < 1);
        counts[eef_rng_below(&r, 10)]++;
        float z = eef_rng_normal(&r);
        sum += z;
        sum2 += (double)z * z;
    }
    for (int k = 0; k < 10; k++) assert_true(abs(counts[k] - n / 10) < n / 100); /* 5 sigma */
    assert_true(fabs(sum / n) < 0.02);
    assert_true(fabs(sum2 / n - 1.0) < 0.02);
}

static void test_atomic_write(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char path[512];
    eef_path_join(path, sizeof path, dir, "f.bin");
    assert_ok(eef_write_file_atomic(path, "hello", 5));
    char *data;
    size_t len;
    assert_ok(eef_read_file(path, &data, &len));
    assert_int_equal(len, 5);
    assert_memory_equal(data, "hello", 5);
    free(data);

    /* a failed write leaves the old file intact and no temp file behind */
    eef_afile af;
    assert_ok(eef_afile_open(&af, path));
    eef_fault_inject_write(0);
    assert_int_equal(eef_afile_write(&af, "world", 5), EEF_EIO);
    assert_non_null(strstr(eef_errmsg(), "No space"));
    eef_afile_abort(&af);
    eef_fault_inject_write(-1);
    assert_ok(eef_read_file(path, &data, &len));
    assert_memory_equal(data, "hello", 5);
    free(data);

    /* a temp file left by a killed writer is cleaned */
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp.12345", path);
    FILE *f = fopen(tmp, "w");
    fputs("junk", f);
    fclose(f);
    eef_clean_tmp(dir);
    assert_false(eef_file_exists(tmp));
    assert_true(eef_file_exists(path));
    tu_rmtree(dir);
}

static void test_lines(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char path[512];
    eef_path_join(path, sizeof path, dir, "l.txt");
    assert_ok(eef_write_file_atomic(path, "a\nbb\n\nccc", 9));
    eef_lines lr;
    assert_ok(eef_lines_open(&lr, path));
    char *line;
    size_t len;
    const char *want[] = { "a", "bb", "", "ccc" };
    for (int i = 0; i < 4; i++) {
        assert_ok(eef_lines_next(&lr, &line, &len));
        assert_non_null(line);
        assert_string_equal(line, want[i]);
        assert_int_equal(lr.line, i + 1);
    }
    assert_ok(eef_lines_next(&lr, &line, &len));
    assert_null(line);
    eef_lines_close(&lr);

    /* an over-long line is an error with file:line, and reading goes on */
    assert_ok(eef_write_file_atomic(path, "short\nxxxxxxxxxxxxxxxxxxxx\nok\n", 30));
    assert_ok(eef_lines_open(&lr, path));
    lr.max_line = 10;
    assert_ok(eef_lines_next(&lr, &line, &len));
    assert_int_equal(eef_lines_next(&lr, &line, &len), EEF_EFORMAT);
    assert_non_null(strstr(eef_errmsg(), "l.txt:2:"));
    assert_ok(eef_lines_next(&lr, &line, &len));
    assert_string_equal(line, "ok");
    eef_lines_close(&lr);

    /* NUL bytes inside a line are data (the JSON layer rejects them), and
     * lines longer than the reader's chunk come back whole */
    assert_ok(eef_write_file_atomic(path, "a\0b\n\0\nc\0", 8));
    assert_ok(eef_lines_open(&lr, path));
    assert_ok(eef_lines_next(&lr, &line, &len));
    assert_int_equal(len, 3);
    assert_memory_equal(line, "a\0b", 3);
    assert_ok(eef_lines_next(&lr, &line, &len));
    assert_int_equal(len, 1);
    assert_ok(eef_lines_next(&lr, &line, &len));
    assert_int_equal(len, 2);
    assert_memory_equal(line, "c\0", 2);
    assert_ok(eef_lines_next(&lr, &line, &len));
    assert_null(line);
    eef_lines_close(&lr);
    size_t big = 200000;
    char *text = malloc(2 * big + 2);
    memset(text, 'x', 2 * big + 2);
    text[big] = '\n';
    assert_ok(eef_write_file_atomic(path, text, 2 * big + 1));
    assert_ok(eef_lines_open(&lr, path));
    assert_ok(eef_lines_next(&lr, &line, &len));
    assert_int_equal(len, big);
    assert_ok(eef_lines_next(&lr, &line, &len));
    assert_int_equal(len, big);
    eef_lines_close(&lr);
    free(text);
    tu_rmtree(dir);
}

static void test_json(void **state)
{
    (void)state;
    cJSON *j;
    const char *txt = "{\"a\": \"x\", \"n\": 3, \"f\": 1.5, \"arr\": [1]}";
    assert_ok(eef_json_parse(txt, strlen(txt), "t.json:1", &j));
    const char *s;
    long n;
    double f;
    const cJSON *arr;
    assert_ok(eef_json_str(j, "a", "t.json:1", &s));
    assert_string_equal(s, "x");
    assert_ok(eef_json_int(j, "n", "t.json:1", &n));
    assert_int_equal(n, 3);
    assert_int_equal(eef_json_int(j, "f", "t.json:1", &n), EEF_EFORMAT);
    assert_ok(eef_json_num(j, "f", "t.json:1", &f));
    assert_ok(eef_json_arr(j, "arr", "t.json:1", &arr));
    assert_int_equal(eef_json_str(j, "missing", "t.json:1", &s), EEF_EFORMAT);
    assert_string_equal(eef_errmsg(), "t.json:1: field 'missing' missing");
    assert_int_equal(eef_json_str(j, "n", "t.json:1", &s), EEF_EFORMAT);
    cJSON_Delete(j);

    assert_int_equal(eef_json_parse("{\"a\":", 5, "x:2", &j), EEF_EFORMAT);
    assert_non_null(strstr(eef_errmsg(), "x:2: malformed JSON"));
    assert_int_equal(eef_json_parse("{} x", 4, "x:3", &j), EEF_EFORMAT);
    assert_int_equal(eef_json_parse("\"\xff\"", 3, "x:4", &j), EEF_EFORMAT);
    assert_non_null(strstr(eef_errmsg(), "UTF-8"));
    assert_int_equal(eef_json_parse("\"a\0b\"", 5, "x:5", &j), EEF_EFORMAT);
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(eef_utf8_valid("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15));
    assert_false(eef_utf8_valid("\xc0\xaf", 2));         /* overlong */
    assert_false(eef_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(eef_utf8_valid("\xe2\x82", 2));         /* truncated */
    assert_false(eef_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
}

static void test_arena_buf(void **state)
{
    (void)state;
    eef_arena a;
    eef_arena_init(&a, 128);
    char *s[100];
    for (int i = 0; i < 100; i++) {
        char tmp[32];
        snprintf(tmp, sizeof tmp, "string-%d", i);
        s[i] = eef_arena_strdup(&a, tmp);
        assert_int_equal((uintptr_t)s[i] % 16, 0);
    }
    assert_string_equal(s[42], "string-42");
    void *big = eef_arena_alloc(&a, 10000);
    assert_non_null(big);
    eef_arena_free(&a);

    eef_buf b;
    eef_buf_init(&b);
    for (int i = 0; i < 1000; i++) eef_buf_printf(&b, "%d,", i);
    assert_int_equal(b.len, strlen(b.data));
    assert_memory_equal(b.data, "0,1,2,", 6);
    eef_buf_free(&b);
}

static void test_parse_numbers(void **state)
{
    (void)state;
    long v;
    double d;
    assert_ok(eef_parse_long("42", 0, 100, "--n", &v));
    assert_int_equal(v, 42);
    assert_int_equal(eef_parse_long("42x", 0, 100, "--n", &v), EEF_EINVAL);
    assert_int_equal(eef_parse_long("101", 0, 100, "--n", &v), EEF_EINVAL);
    assert_non_null(strstr(eef_errmsg(), "out of range"));
    assert_int_equal(eef_parse_long("", 0, 100, "--n", &v), EEF_EINVAL);
    assert_ok(eef_parse_double("1e-3", 0, 1, "--lr", &d));
    assert_int_equal(eef_parse_double("nan", 0, 1, "--lr", &d), EEF_EINVAL);
}

static void test_cli_usage_errors(void **state)
{
    (void)state;
    char cmd[512];
    /* unknown command, unknown flag, bad value -> exit code 2 */
    snprintf(cmd, sizeof cmd, "%s nosuchcommand >/dev/null 2>&1", tu_eef());
    assert_int_equal(WEXITSTATUS(system(cmd)), 2);
    snprintf(cmd, sizeof cmd, "%s version --bogus >/dev/null 2>&1", tu_eef());
    assert_int_equal(WEXITSTATUS(system(cmd)), 2);
    snprintf(cmd, sizeof cmd, "%s version >/dev/null 2>&1", tu_eef());
    assert_int_equal(WEXITSTATUS(system(cmd)), 0);
}

int main(void)
{
    eef_progress_set_quiet(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_counter_based), cmocka_unit_test(test_rng_distribution),
        cmocka_unit_test(test_atomic_write),      cmocka_unit_test(test_lines),
        cmocka_unit_test(test_json),              cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_arena_buf),         cmocka_unit_test(test_parse_numbers),
        cmocka_unit_test(test_cli_usage_errors),
    };
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}

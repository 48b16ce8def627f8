/* The paper's rows through the `eef` binary on the tiny preset: ETO's
 * rounds, RFT with as many rollouts as EEF, two experts, the even state
 * rule, and `eef paper` killed and resumed with the same bytes. */
#include "testutil.h"

#include "traj/traj.h"
#include "tune/tune.h"

#include <cjson/cJSON.h>
#include <math.h>

static cJSON *read_json(const char *path)
{
    char *text;
    size_t len;
    assert_ok(eef_read_file(path, &text, &len));
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    if (!j) fail_msg("%s: not JSON", path);
    return j;
}

/* The last line of a run's metrics.jsonl. */
static cJSON *last_metrics(const char *dir)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/metrics.jsonl", dir);
    char *text;
    assert_ok(eef_read_file(p, &text, NULL));
    char *last = text, *nl;
    while ((nl = strchr(last, '\n')) && nl[1]) last = nl + 1;
    cJSON *j = cJSON_Parse(last);
    free(text);
    if (!j) fail_msg("%s: last line not JSON", p);
    return j;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v)) fail_msg("field '%s' missing", k);
    return v->valuedouble;
}

static const char *const ROW_FILES[] = { "config.json", "metrics.jsonl", "sft.eefm", "expert_train.jsonl",
                                         "iter_1/eval.jsonl" };

/* `eef paper` for ETO and RFT-matched on the shop (which brings sft, rft,
 * eef), straight and killed at several moments then resumed: the same run
 * files; the rows' facts: ETO's two rounds of DPO, RFT's K matched to
 * EEF's rollouts; the table. */
static void test_paper_rows_and_resume(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    const char *args = "--preset tiny --seeds 1 --worlds shop --rows eto,rft-matched --quiet";
    assert_int_equal(tu_sh("%s paper %s --out %s/ref > %s/ref.log 2>&1", tu_eef(), args, dir, dir), 0);
    char p[1024], q[1024];
    /* ETO: two rounds, the first with beta 0.1, the second 0.5; pairs from
     * the failures; the reference reset: each round starts at log 2 */
    for (int it = 1; it <= 2; it++) {
        snprintf(p, sizeof p, "%s/ref/shop/seed-1/eto/iter_%d/train.json", dir, it);
        cJSON *t = read_json(p);
        assert_true(num(t, "pairs") > 0);
        assert_true(num(t, "beta") == (it == 1 ? 0.1 : 0.5));
        assert_true(fabs(num(t, "first_loss") - log(2.0)) < 0.05);
        assert_true(num(t, "end_loss") < log(2.0));
        cJSON_Delete(t);
        snprintf(p, sizeof p, "%s/ref/shop/seed-1/eto/iter_%d/explore.json", dir, it);
        cJSON *x = read_json(p);
        assert_true(num(x, "rollouts") == 60); /* one per train task */
        cJSON_Delete(x);
    }
    /* RFT matched: K = ceil(EEF's rollouts / (iterations x tasks)), labelled */
    snprintf(p, sizeof p, "%s/ref/shop/seed-1/eef", dir);
    cJSON *me = last_metrics(p);
    snprintf(p, sizeof p, "%s/ref/shop/seed-1/rft-matched/config.json", dir);
    cJSON *cm = read_json(p);
    double eef_rollouts = num(me, "rollouts");
    int k = (int)num(cJSON_GetObjectItemCaseSensitive(cm, "rft"), "k");
    assert_int_equal(k, (int)ceil(eef_rollouts / 60.0));
    assert_true(num(cm, "match_rollouts") == eef_rollouts);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cm, "label")), "rft-matched");
    snprintf(p, sizeof p, "%s/ref/shop/seed-1/rft-matched", dir);
    cJSON *mm = last_metrics(p);
    assert_true(num(mm, "rollouts") >= eef_rollouts);
    assert_true(num(mm, "rollouts") < eef_rollouts + 60);
    cJSON_Delete(me), cJSON_Delete(cm), cJSON_Delete(mm);
    /* the table: every row run, pooled and paired */
    snprintf(p, sizeof p, "%s/ref/paper.md", dir);
    assert_true(tu_file_contains(p, "| ETO (`eto`) | "));
    assert_true(tu_file_contains(p, "| RFT, as many rollouts as EEF (`rft-matched`) | "));
    assert_true(tu_file_contains(p, "| eef - rft-matched | "));
    assert_true(tu_file_contains(p, "## Per iteration"));
    snprintf(p, sizeof p, "%s/ref/shop/table.md", dir);
    assert_true(tu_file_contains(p, "rft-matched"));

    /* killed at several moments, resumed: the same run files */
    double delays[] = { 1.0, 4.0, 9.0, 15.0 };
    int killed = 0; /* runs that were interrupted, not ended before the kill */
    for (size_t d = 0; d < EEF_ARRAY_LEN(delays); d++)
        killed += tu_kill_after(delays[d], "%s paper %s --out %s/killed", tu_eef(), args, dir) == 1;
    assert_true(killed > 0);
    assert_int_equal(tu_sh("%s paper %s --out %s/killed > /dev/null 2>&1", tu_eef(), args, dir), 0);
    static const char *const rows[] = { "sft", "rft", "eef", "eto", "rft-matched" };
    for (size_t r = 0; r < EEF_ARRAY_LEN(rows); r++)
        for (size_t f = 0; f < EEF_ARRAY_LEN(ROW_FILES); f++) {
            if (strcmp(rows[r], "sft") != 0 || strcmp(ROW_FILES[f], "iter_1/eval.jsonl") != 0) {
                snprintf(p, sizeof p, "%s/ref/shop/seed-1/%s/%s", dir, rows[r], ROW_FILES[f]);
                snprintf(q, sizeof q, "%s/killed/shop/seed-1/%s/%s", dir, rows[r], ROW_FILES[f]);
                if (!tu_same_file(p, q)) fail_msg("%s/%s differs after kill and resume", rows[r], ROW_FILES[f]);
            }
        }
    snprintf(p, sizeof p, "%s/ref/shop/seed-1/eto/iter_2/model.eefm", dir);
    snprintf(q, sizeof q, "%s/killed/shop/seed-1/eto/iter_2/model.eefm", dir);
    assert_true(tu_same_file(p, q));
    tu_rmtree(dir);
}

/* Two experts: both play every train task; SFT clones both's wins; the
 * first is the test expert; EEF explores both's failures of tasks no
 * expert won, and --search even tries the paper's states. */
static void test_two_experts_and_even(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    assert_int_equal(tu_sh("%s run --method eef --preset tiny --expert builtin,weak --search even "
                           "--max-states 5 --out %s/both --quiet > %s/both.log 2>&1",
                           tu_eef(), dir, dir), 0);
    char p[1024];
    snprintf(p, sizeof p, "%s/both/expert_train.jsonl", dir);
    eef_trajset ex = { 0 };
    assert_ok(eef_traj_read(p, 0, &ex, NULL));
    assert_int_equal(ex.n, 120);
    long wins = 0, won[60] = { 0 };
    int n_weak = 0;
    for (size_t i = 0; i < ex.n; i++) {
        assert_non_null(ex.items[i].expert);
        n_weak += strcmp(ex.items[i].expert, "weak") == 0;
        for (size_t k = 0; k < i; k++) assert_string_not_equal(ex.items[i].id, ex.items[k].id);
        if (ex.items[i].win) wins++, won[ex.items[i].index] = 1;
    }
    assert_int_equal(n_weak, 60);
    snprintf(p, sizeof p, "%s/both/sft.json", dir);
    cJSON *s = read_json(p);
    assert_true(num(s, "trajectories") == (double)wins);
    cJSON_Delete(s);
    snprintf(p, sizeof p, "%s/both/expert.json", dir);
    cJSON *xj = read_json(p);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(xj, "experts");
    assert_int_equal(cJSON_GetArraySize(list), 2);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(list, 1), "expert")), "weak");
    assert_true(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(xj, "test"),
                              cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(list, 0), "test"), 1));
    cJSON_Delete(xj);
    /* the failures explored: of tasks no expert won, each with the even
     * rule's candidates over its changed states */
    snprintf(p, sizeof p, "%s/both/iter_1/eef_states.jsonl", dir);
    char *text;
    assert_ok(eef_read_file(p, &text, NULL));
    int records = 0;
    for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl) *nl = 0;
        cJSON *rec = cJSON_Parse(line);
        assert_non_null(rec);
        long index = (long)num(rec, "index");
        assert_int_equal(won[index], 0);
        const char *whose = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "expert"));
        assert_non_null(whose);
        const eef_traj *f = NULL;
        for (size_t i = 0; i < ex.n && !f; i++)
            if (!ex.items[i].win && ex.items[i].index == index && strcmp(ex.items[i].expert, whose) == 0)
                f = &ex.items[i];
        assert_non_null(f);
        size_t want[EEF_MAX_CANDIDATES];
        size_t nw = eef_candidates_of(f, EEF_SEARCH_EVEN, 1, 5, want);
        const cJSON *cands = cJSON_GetObjectItemCaseSensitive(rec, "candidates");
        if (cJSON_GetArraySize(cands) != 0) { /* none when the task was won from its start */
            assert_int_equal((size_t)cJSON_GetArraySize(cands), nw);
            for (size_t k = 0; k < nw; k++)
                assert_true(num(cJSON_GetArrayItem(cands, (int)k), "t") == (double)want[k]);
        }
        records++;
        cJSON_Delete(rec);
    }
    free(text);
    assert_true(records > 30); /* both experts' failures: more than one expert's 28 */
    snprintf(p, sizeof p, "%s/both/config.json", dir);
    assert_true(tu_file_contains(p, "\"search\":\"even\""));
    assert_true(tu_file_contains(p, "\"expert\":\"builtin,weak\""));
    eef_trajset_free(&ex);
    /* --match-rollouts needs a finished EEF run; an RFT run is refused */
    assert_int_equal(tu_sh("%s run --method rft --preset tiny --match-rollouts %s/nothing --out %s/m "
                           "--quiet > /dev/null 2>&1", tu_eef(), dir, dir), 1);
    assert_int_equal(tu_sh("%s run --method eef --preset tiny --match-rollouts %s/both --out %s/m "
                           "--quiet > /dev/null 2>&1", tu_eef(), dir, dir), 2);
    tu_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paper_rows_and_resume),
        cmocka_unit_test(test_two_experts_and_even),
    };
    return cmocka_run_group_tests_name("paper", tests, NULL, NULL);
}

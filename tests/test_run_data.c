/* What a run trains on and explores from, read back from its directory
 * (tiny EEF run on the shop): the facts the method rests on, checked
 * between files written by different phases.
 *  - SFT clones the expert's wins only (sft.json's count);
 *  - iteration 1 trains on the expert's wins, the kept agent wins and the
 *    EEF solutions: nothing else (train.json's count);
 *  - kept agent wins (rft.jsonl): wins, source "agent", at most rft.keep
 *    per task, no two with the same actions in a task;
 *  - EEF explores every failed expert trajectory and no winning one, and
 *    none of a task the agent won from its start in this iteration
 *    (eef_states.jsonl);
 *  - each solution (eef.jsonl) is the expert's first k actions, masked 0
 *    on the first j (the masked_prefix of eef_states.jsonl) and 1 after,
 *    then a winning continuation of the agent's, all mask 1. */
#include "testutil.h"

#include "traj/traj.h"

#include <cjson/cJSON.h>
#include <string.h>

static char *dir;

static int setup(void **state)
{
    (void)state;
    dir = tu_tmpdir();
    return tu_sh("%s run --method eef --preset tiny --out %s/run --quiet > %s/run.log 2>&1",
                 tu_eef(), dir, dir);
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(dir);
    return 0;
}

static const char *at(const char *file)
{
    static char p[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/run/%s", dir, file);
    return p[k];
}

static cJSON *json_file(const char *file)
{
    char *text;
    assert_ok(eef_read_file(at(file), &text, NULL));
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!j) fail_msg("%s: not JSON", file);
    return j;
}

static double num(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsNumber(v)) fail_msg("field '%s' missing", key);
    return v->valuedouble;
}

static void read_trajs(const char *file, eef_trajset *s)
{
    memset(s, 0, sizeof *s);
    assert_ok(eef_traj_read(at(file), 0, s, NULL));
}

static size_t wins_of(const eef_trajset *s)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) k += s->items[i].win != 0;
    return k;
}

static const eef_traj *expert_of(const eef_trajset *ex, long index)
{
    for (size_t i = 0; i < ex->n; i++)
        if (ex->items[i].index == index) return &ex->items[i];
    fail_msg("no expert trajectory of train task %ld", index);
    return NULL;
}

static void test_training_data(void **state)
{
    (void)state;
    eef_trajset ex, rft, eef;
    read_trajs("expert_train.jsonl", &ex);
    read_trajs("iter_1/rft.jsonl", &rft);
    read_trajs("iter_1/eef.jsonl", &eef);
    size_t w = wins_of(&ex);
    /* the premise: the expert fails some tasks, EEF salvages some (the
     * tiny agent wins no task from its start: rft.jsonl is empty) */
    assert_true(w > 0 && w < ex.n);
    assert_true(eef.n > 0);
    cJSON *sft = json_file("sft.json"), *train = json_file("iter_1/train.json");
    if (num(sft, "trajectories") != (double)w)
        fail_msg("SFT trained on %g trajectories, the expert won %zu", num(sft, "trajectories"), w);
    double want = (double)(w + rft.n + eef.n);
    if (num(train, "trajectories") != want)
        fail_msg("iteration 1 trained on %g trajectories: want %zu expert wins + %zu kept + %zu "
                 "solutions", num(train, "trajectories"), w, rft.n, eef.n);
    cJSON_Delete(sft);
    cJSON_Delete(train);
    eef_trajset_free(&ex);
    eef_trajset_free(&rft);
    eef_trajset_free(&eef);
}

static void test_kept_wins(void **state)
{
    (void)state;
    cJSON *cfg = json_file("config.json");
    int keep = (int)num(cJSON_GetObjectItemCaseSensitive(cfg, "rft"), "keep");
    cJSON_Delete(cfg);
    eef_trajset rft;
    read_trajs("iter_1/rft.jsonl", &rft);
    for (size_t i = 0; i < rft.n; i++) {
        const eef_traj *a = &rft.items[i];
        assert_true(a->win);
        assert_string_equal(a->source, "agent");
        int same_task = 0;
        for (size_t k = 0; k < rft.n; k++) {
            const eef_traj *b = &rft.items[k];
            if (b->index != a->index) continue;
            same_task++;
            if (k == i || b->n_steps != a->n_steps) continue;
            int same = 1;
            for (size_t s = 0; s < a->n_steps && same; s++)
                same = strcmp(a->steps[s].action, b->steps[s].action) == 0;
            if (same) fail_msg("task %ld: two kept wins with the same actions", a->index);
        }
        if (same_task > keep) fail_msg("task %ld: %d kept wins, keep is %d", a->index, same_task, keep);
    }
    eef_trajset_free(&rft);
}

static void test_explored_failures(void **state)
{
    (void)state;
    eef_trajset ex, rft, eef;
    read_trajs("expert_train.jsonl", &ex);
    read_trajs("iter_1/rft.jsonl", &rft);
    read_trajs("iter_1/eef.jsonl", &eef);
    char *text;
    assert_ok(eef_read_file(at("iter_1/eef_states.jsonl"), &text, NULL));
    size_t lines = 0, start_won = 0, solutions = 0;
    for (char *l = text; *l;) {
        char *nl = strchr(l, '\n');
        assert_non_null(nl);
        *nl = 0;
        cJSON *rec = cJSON_Parse(l);
        assert_non_null(rec);
        long index = (long)num(rec, "index");
        const eef_traj *x = expert_of(&ex, index);
        if (x->win) fail_msg("task %ld: explored a winning expert trajectory", index);
        int won_now = 0; /* every task won from its start keeps a win */
        for (size_t i = 0; i < rft.n; i++) won_now |= rft.items[i].index == index;
        const cJSON *ss = cJSON_GetObjectItemCaseSensitive(rec, "start_solved");
        const cJSON *cands = cJSON_GetObjectItemCaseSensitive(rec, "candidates");
        if (cJSON_IsTrue(ss) != won_now)
            fail_msg("task %ld: start_solved %d, but won from its start: %d", index, cJSON_IsTrue(ss), won_now);
        if (won_now) {
            start_won++;
            if (cJSON_GetArraySize(cands) != 0) fail_msg("task %ld: won from its start, yet explored", index);
        }
        const cJSON *imp = cJSON_GetObjectItemCaseSensitive(rec, "important");
        if (cJSON_IsNumber(imp)) {
            size_t k = (size_t)imp->valuedouble, j = (size_t)num(rec, "masked_prefix");
            const char *sid = cJSON_GetObjectItemCaseSensitive(rec, "solution")->valuestring;
            const eef_traj *s = NULL;
            for (size_t i = 0; i < eef.n; i++)
                if (strcmp(eef.items[i].id, sid) == 0) s = &eef.items[i];
            if (!s) fail_msg("task %ld: solution %s not in eef.jsonl", index, sid);
            assert_true(s->win && s->index == index);
            assert_string_equal(s->source, "eef");
            assert_true(j <= k && k < x->n_steps && s->n_steps > k);
            for (size_t a = 0; a < s->n_steps; a++) {
                if (a < k) assert_string_equal(s->steps[a].action, x->steps[a].action);
                if (s->steps[a].mask != (a >= j))
                    fail_msg("task %ld: solution step %zu mask %d (j = %zu, k = %zu)", index, a,
                             s->steps[a].mask, j, k);
            }
            solutions++;
        }
        cJSON_Delete(rec);
        lines++;
        l = nl + 1;
    }
    free(text);
    /* every failed expert trajectory is a line, and every solution is named */
    size_t failed = ex.n - wins_of(&ex);
    assert_int_equal(lines, failed);
    assert_int_equal(solutions, eef.n);
    /* the premise: something was salvaged.  (start_won is 0 in a tiny
     * run, so the start_solved check above holds trivially here; the
     * rule itself is tested on a stub policy in test_explore.) */
    assert_true(solutions > 0);
    (void)start_won;
    eef_trajset_free(&ex);
    eef_trajset_free(&rft);
    eef_trajset_free(&eef);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_training_data),
        cmocka_unit_test(test_kept_wins),
        cmocka_unit_test(test_explored_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

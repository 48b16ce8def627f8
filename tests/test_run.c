/* End-to-end tests of the pipeline through the `eef` binary: expert files
 * replay exactly; `eef run --preset tiny` writes its run directory, resumes
 * after being killed with the same bytes, and refuses a changed
 * configuration. */
#include "testutil.h"
#include "traj/traj.h"

#include <sys/stat.h>
#include <sys/types.h>

static void test_expert_replays(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    for (int k = 0; k < 2; k++) {
        const char *env = k ? "house" : "shop";
        const char *opt = k ? "train=40,test=10" : "products=300,train=40,test=10";
        assert_int_equal(tu_sh("%s expert --env %s --env-opt %s --out %s/%s.jsonl --quiet > %s/%s.txt",
                            tu_eef(), env, opt, dir, env, dir, env), 0);
        assert_int_equal(tu_sh("%s replay %s/%s.jsonl --env-opt %s > %s/replay.txt", tu_eef(), dir,
                            env, opt, dir), 0);
        char p[512];
        snprintf(p, sizeof p, "%s/replay.txt", dir);
        char *text;
        assert_ok(eef_read_file(p, &text, NULL));
        assert_non_null(strstr(text, "40 replayed, 40 matched"));
        free(text);
    }
    tu_rmtree(dir);
}

static void test_tiny_run_and_resume(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    /* uninterrupted reference */
    assert_int_equal(tu_sh("%s run --method eef --preset tiny --out %s/ref --quiet > %s/ref.log 2>&1",
                        tu_eef(), dir, dir), 0);
    const char *files[] = { "config.json", "state.json", "expert_train.jsonl", "expert_test.jsonl",
                            "sft.eefm", "metrics.jsonl", "iter_1/rft.jsonl", "iter_1/eef.jsonl",
                            "iter_1/eef_states.jsonl", "iter_1/model.eefm", "iter_1/eval.jsonl" };
    char p[1024], q[1024];
    for (size_t i = 0; i < EEF_ARRAY_LEN(files); i++) {
        snprintf(p, sizeof p, "%s/ref/%s", dir, files[i]);
        if (!eef_file_exists(p)) fail_msg("%s missing", p);
    }
    snprintf(p, sizeof p, "%s/ref/metrics.jsonl", dir);
    char *m;
    assert_ok(eef_read_file(p, &m, NULL));
    assert_non_null(strstr(m, "\"iter\":0"));
    assert_non_null(strstr(m, "\"iter\":1"));
    assert_non_null(strstr(m, "\"train_solved\""));
    free(m);
    /* compared: table, report with plots, JSON, pooled over runs */
    assert_int_equal(tu_sh("%s compare %s/ref --md %s/report.md > %s/cmp.txt 2>&1", tu_eef(),
                        dir, dir, dir), 0);
    const char *report[] = { "cmp.txt", "report.md", "win_rate.svg", "train_solved.svg" };
    for (size_t i = 0; i < EEF_ARRAY_LEN(report); i++) {
        snprintf(p, sizeof p, "%s/%s", dir, report[i]);
        if (!eef_file_exists(p)) fail_msg("%s missing", p);
    }
    assert_int_equal(tu_sh("%s compare --json %s/ref > %s/cmp.json", tu_eef(), dir, dir), 0);
    snprintf(p, sizeof p, "%s/cmp.json", dir);
    assert_true(tu_file_contains(p, "\"final\""));
    /* pooled: the run and the expert of its seed, paired on the test tasks */
    assert_int_equal(tu_sh("%s compare --pool %s/ref > %s/pool.txt", tu_eef(), dir, dir), 0);
    snprintf(p, sizeof p, "%s/pool.txt", dir);
    assert_ok(eef_read_file(p, &m, NULL));
    assert_non_null(strstr(m, "\neef         1    1     40 "));
    assert_non_null(strstr(m, "\nexpert      -    1     40 "));
    assert_non_null(strstr(m, "\neef - expert         1     40 "));
    assert_null(strstr(m, "won by eef and not rft")); /* no RFT run to pair with */
    free(m);
    /* the same run twice would pair a run with itself: refused */
    assert_int_equal(tu_sh("%s compare --pool %s/ref %s/ref > /dev/null 2> %s/pool.err", tu_eef(), dir,
                        dir, dir), 1);
    snprintf(p, sizeof p, "%s/pool.err", dir);
    assert_true(tu_file_contains(p, "two eef runs"));

    /* EEF taken --from an RFT run reads that run's rollouts from the task
     * starts instead of sampling them again: the same bytes */
    assert_int_equal(tu_sh("%s run --method rft --preset tiny --out %s/rft --quiet > /dev/null 2>&1",
                        tu_eef(), dir), 0);
    assert_int_equal(tu_sh("%s run --method eef --preset tiny --from %s/rft --out %s/eef2 > %s/eef2.log 2>&1",
                        tu_eef(), dir, dir, dir), 0);
    snprintf(p, sizeof p, "%s/eef2.log", dir);
    assert_true(tu_file_contains(p, "rollouts from the task starts: from"));
    const char *reused[] = { "iter_1/rft.jsonl", "iter_1/explore.json", "iter_1/eef.jsonl",
                             "iter_1/eef_states.jsonl", "iter_1/model.eefm", "iter_1/eval.jsonl",
                             "metrics.jsonl" };
    for (size_t i = 0; i < EEF_ARRAY_LEN(reused); i++) {
        snprintf(p, sizeof p, "%s/ref/%s", dir, reused[i]);
        snprintf(q, sizeof q, "%s/eef2/%s", dir, reused[i]);
        if (!tu_same_file(p, q)) fail_msg("%s differs when taken --from the RFT run", reused[i]);
    }
    /* RFT and EEF of one seed: paired, with the hard tier's discordant tasks */
    assert_int_equal(tu_sh("%s compare --pool %s/rft %s/ref > %s/pool2.txt", tu_eef(), dir, dir, dir), 0);
    snprintf(p, sizeof p, "%s/pool2.txt", dir);
    assert_true(tu_file_contains(p, "\neef - rft            1     40 "));
    assert_true(tu_file_contains(p, "seed 1: hard-tier test tasks won by eef and not rft:"));

    /* rerunning a finished run says so */
    assert_int_equal(tu_sh("%s run --method eef --preset tiny --out %s/ref --quiet > %s/again.log 2>&1",
                        tu_eef(), dir, dir), 0);
    snprintf(p, sizeof p, "%s/again.log", dir);
    assert_true(tu_file_contains(p, "already finished"));
    /* a different configuration in the same directory is refused */
    assert_int_equal(tu_sh("%s run --method eef --preset tiny --k 3 --out %s/ref --quiet > /dev/null 2>&1",
                        tu_eef(), dir), 1);
    /* so is another shard count: it changes the rounding of every step */
    assert_int_equal(tu_sh("%s run --method eef --preset tiny --shards 2 --out %s/ref > %s/shards.log 2>&1",
                        tu_eef(), dir, dir), 1);
    snprintf(p, sizeof p, "%s/shards.log", dir);
    assert_true(tu_file_contains(p, "(sft differs)"));
    /* and a run made with another prompt format (here: one from before
     * the format was recorded), resumed or taken --from */
    assert_int_equal(tu_sh("sed -i 's/\"prompt\":[^,]*,//' %s/rft/config.json", dir), 0);
    assert_int_equal(tu_sh("%s run --method rft --preset tiny --out %s/rft > %s/prompt.log 2>&1",
                        tu_eef(), dir, dir), 1);
    snprintf(p, sizeof p, "%s/prompt.log", dir);
    assert_true(tu_file_contains(p, "(prompt differs)"));
    assert_int_equal(tu_sh("%s run --method eef --preset tiny --from %s/rft --out %s/eef3 > %s/prompt2.log 2>&1",
                        tu_eef(), dir, dir, dir), 1);
    snprintf(p, sizeof p, "%s/prompt2.log", dir);
    assert_true(tu_file_contains(p, "its 'prompt' differs"));

    /* killed at several moments, resumed each time: the same bytes */
    double delays[] = { 0.3, 0.8, 1.3, 1.8 };
    int killed = 0; /* runs that were interrupted, not ended before the kill */
    for (size_t k = 0; k < EEF_ARRAY_LEN(delays); k++)
        killed += tu_kill_after(delays[k], "%s run --method eef --preset tiny --out %s/killed --quiet",
                                tu_eef(), dir) == 1;
    assert_true(killed > 0);
    assert_int_equal(tu_sh("%s run --method eef --preset tiny --out %s/killed --quiet > /dev/null 2>&1",
                        tu_eef(), dir), 0);
    const char *same[] = { "metrics.jsonl", "sft.eefm", "iter_1/model.eefm", "iter_1/eef.jsonl",
                           "iter_1/eval.jsonl", "expert_train.jsonl" };
    for (size_t i = 0; i < EEF_ARRAY_LEN(same); i++) {
        snprintf(p, sizeof p, "%s/ref/%s", dir, same[i]);
        snprintf(q, sizeof q, "%s/killed/%s", dir, same[i]);
        if (!tu_same_file(p, q)) fail_msg("%s differs after kill and resume", same[i]);
    }
    /* no temporary files left behind */
    assert_int_equal(tu_sh("ls %s/killed %s/killed/iter_* | grep -q '\\.tmp\\.'", dir, dir), 1);
    tu_rmtree(dir);
}

/* A run records its world (world.json, every trajectory file's header);
 * a run taken --from it is in that world by default (no --seed needed), a
 * flag that contradicts it or a world that is not the recorded one is
 * refused; runs of an earlier eef (no world.json) still serve as a base;
 * timing.jsonl is rewritten whole (a torn line of an old run dropped). */
static void test_run_world(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char p[1024], q[1024], err[1024];
    snprintf(err, sizeof err, "%s/err.txt", dir);
    assert_int_equal(tu_sh("%s run --method sft --preset tiny --seed 3 --out %s/a --quiet > /dev/null 2>&1",
                           tu_eef(), dir), 0);
    snprintf(p, sizeof p, "%s/a/world.json", dir);
    assert_true(tu_file_contains(p, "{\"eef\":\"world\",\"version\":1,\"context\":{\"env\":\"shop\","
                                    "\"env_options\":\"products=300,train=60,test=40\",\"seed\":3,"
                                    "\"prompt\":\"eef-3\",\"expert\":{\"name\":\"builtin\","));
    snprintf(q, sizeof q, "%s/a/iter_0/eval.jsonl", dir);
    assert_true(tu_file_contains(q, "\"seed\":3,\"prompt\":\"eef-3\""));
    /* the case for runs: --from without --seed */
    assert_int_equal(tu_sh("%s run --method sft --preset tiny --from %s/a --out %s/b --quiet > /dev/null 2>%s",
                           tu_eef(), dir, dir, err), 0);
    snprintf(q, sizeof q, "%s/b/world.json", dir);
    assert_true(tu_same_file(p, q));
    snprintf(q, sizeof q, "%s/b/config.json", dir);
    assert_true(tu_file_contains(q, "\"seed\":3,"));
    /* flags that contradict the base's world */
    assert_int_equal(tu_sh("%s run --method sft --preset tiny --from %s/a --seed 4 --out %s/c --quiet "
                           "> /dev/null 2>%s", tu_eef(), dir, dir, err), 1);
    char want[2200];
    snprintf(want, sizeof want, "eef run: %s/a/world.json was made in the world of seed 3; seed 4 was "
             "given (leave it out to use the file's)\n", dir);
    char *e;
    assert_ok(eef_read_file(err, &e, NULL));
    assert_string_equal(e, want);
    free(e);
    assert_int_equal(tu_sh("%s run --method sft --preset tiny --from %s/a --env house --out %s/c --quiet "
                           "> /dev/null 2>%s", tu_eef(), dir, dir, err), 1);
    assert_true(tu_file_contains(err, "was made in environment shop; house was given"));
    assert_int_equal(tu_sh("%s run --method sft --preset tiny --from %s/a --expert-opt p_give_up=0.5 "
                           "--out %s/c --quiet > /dev/null 2>%s", tu_eef(), dir, dir, err), 1);
    assert_true(tu_file_contains(err, "was made with expert builtin profile (none: the defaults) options "
                                      "(none: the defaults); expert builtin profile (none: the defaults) "
                                      "options p_give_up=0.5 was given"));
    /* a base whose recorded world is not the one its configuration builds */
    assert_int_equal(tu_sh("cp -r %s/a %s/d && sed -i 's/\"world\":\"[0-9a-f]*\"/\"world\":\"00000000000000aa\"/' "
                           "%s/d/world.json", dir, dir, dir), 0);
    assert_int_equal(tu_sh("%s run --method sft --preset tiny --from %s/d --out %s/c --quiet > /dev/null 2>%s",
                           tu_eef(), dir, dir, err), 1);
    assert_true(tu_file_contains(err, "d/world.json was made in the world of fingerprint 00000000000000aa "
                                      "(shop products=300,train=60,test=40, seed 3); fingerprint "));
    assert_true(tu_file_contains(err, " is that of this run's world\n"));
    /* ... and resumed in itself (its last phase undone, a torn timing line
     * as an earlier eef could leave) */
    assert_int_equal(tu_sh("sed -i 's/,\"iter_0.eval\",\"finished\"//' %s/d/state.json && "
                           "printf '{\"phase\": \"x' >> %s/d/timing.jsonl", dir, dir), 0);
    assert_int_equal(tu_sh("%s run --method sft --preset tiny --seed 3 --out %s/d --quiet > /dev/null 2>%s",
                           tu_eef(), dir, err), 1);
    assert_true(tu_file_contains(err, " is that of the world this run's configuration builds now: the "
                                      "data files or eef's world generator changed"));
    assert_int_equal(tu_sh("cp %s/a/world.json %s/d/world.json", dir, dir), 0);
    assert_int_equal(tu_sh("%s run --method sft --preset tiny --seed 3 --out %s/d --quiet > /dev/null 2>%s",
                           tu_eef(), dir, err), 0);
    snprintf(q, sizeof q, "%s/d/timing.jsonl", dir);
    assert_true(tu_file_lacks(q, "\"x"));
    assert_int_equal(tu_sh("test $(grep -c '^{\"phase\": \"[a-z_0-9.]*\", \"seconds\": [0-9.]*}$' %s) -eq 6", q), 0);
    /* a base from an earlier eef: no world.json, its config names the world */
    assert_int_equal(tu_sh("rm %s/a/world.json", dir), 0);
    assert_int_equal(tu_sh("%s run --method sft --preset tiny --from %s/a --out %s/e --quiet > /dev/null 2>%s",
                           tu_eef(), dir, dir, err), 0);
    snprintf(q, sizeof q, "%s/e/config.json", dir);
    assert_true(tu_file_contains(q, "\"seed\":3,"));
    tu_rmtree(dir);
}

/* Every trajectory of a run's iteration file is of a task below n. */
static void assert_tasks_below(const char *dir, const char *file, long n)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    eef_trajset s = { 0 };
    assert_ok(eef_traj_read(p, 0, &s, NULL));
    for (size_t i = 0; i < s.n; i++)
        if (s.items[i].index < 0 || s.items[i].index >= n)
            fail_msg("%s: task %ld is not among the first %ld", p, s.items[i].index, n);
    eef_trajset_free(&s);
}

/* --explore-tasks N: the iteration explores the first N train tasks only
 * (their starts, and the expert's failures among them); the SFT model,
 * trained on the expert's wins on all 60, is the same. */
static void test_explore_tasks(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    assert_int_equal(tu_sh("%s run --method rft --preset tiny --out %s/all --quiet > /dev/null 2>&1",
                        tu_eef(), dir), 0);
    assert_int_equal(tu_sh("%s run --method eef --preset tiny --explore-tasks 20 --from %s/all "
                           "--out %s/sub > %s/sub.log 2>&1", tu_eef(), dir, dir, dir), 0);
    char p[1024], q[1024];
    snprintf(p, sizeof p, "%s/sub.log", dir);
    /* the RFT run explored all 60: its rollouts are not reused */
    assert_true(tu_file_lacks(p, "rollouts from the task starts: from"));
    snprintf(p, sizeof p, "%s/all/sft.eefm", dir);
    snprintf(q, sizeof q, "%s/sub/sft.eefm", dir);
    assert_true(tu_same_file(p, q));
    snprintf(p, sizeof p, "%s/sub/config.json", dir);
    assert_true(tu_file_contains(p, "\"tasks\":20"));
    snprintf(p, sizeof p, "%s/all/config.json", dir);
    assert_true(tu_file_lacks(p, "\"tasks\""));
    /* the tiny preset samples 2 rollouts per task start */
    snprintf(p, sizeof p, "%s/sub/iter_1/explore.json", dir);
    assert_true(tu_file_contains(p, "\"start_rollouts\":40,"));
    snprintf(p, sizeof p, "%s/all/iter_1/explore.json", dir);
    assert_true(tu_file_contains(p, "\"start_rollouts\":120,"));
    snprintf(p, sizeof p, "%s/sub", dir);
    assert_tasks_below(p, "iter_1/rft.jsonl", 20);
    assert_tasks_below(p, "iter_1/eef.jsonl", 20);
    /* every failure explored is of the first 20 */
    snprintf(p, sizeof p, "%s/sub/iter_1/eef_states.jsonl", dir);
    char *text;
    assert_ok(eef_read_file(p, &text, NULL));
    int lines = 0;
    for (char *l = text; *l; lines++) {
        char *nl = strchr(l, '\n');
        assert_non_null(nl);
        *nl = 0;
        const char *ix = strstr(l, "\"index\":");
        assert_non_null(ix);
        if (atol(ix + 8) >= 20) fail_msg("explored a failure of task %s", ix + 8);
        l = nl + 1;
    }
    assert_true(lines > 0);
    free(text);
    tu_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expert_replays),
        cmocka_unit_test(test_tiny_run_and_resume),
        cmocka_unit_test(test_run_world),
        cmocka_unit_test(test_explore_tasks),
    };
    return cmocka_run_group_tests_name("run", tests, NULL, NULL);
}

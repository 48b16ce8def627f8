/* Every required field of every JSON format eef reads is refused when
 * missing, and only the documented optional ones may be left out: a
 * complete record is written by eef's own writer, then each field in turn
 * (at every depth) is deleted and the record read back.
 *   - trajectories (.jsonl, traj.h): id, env, task, source, reward, win,
 *     conversations, and each turn's from and value, a gpt turn's loss;
 *     optional: split, index, tier, instruction, a human turn's loss;
 *   - evaluation summaries (eval.jsonl / metrics.jsonl, eval.h): n, win,
 *     win_lo, win_hi, score, score_lo, score_hi, tiers; optional: a tier;
 *   - the run configuration (config.json, tune.h): everything but
 *     training's shards and ctx_weight and rft.tasks, which older runs lack,
 *     and prompt (compared, not parsed: see below). */
#include "testutil.h"

#include "eval/eval.h"
#include "tune/tune.h"

#include <cjson/cJSON.h>
#include <string.h>

typedef eef_err (*reader)(const cJSON *j, void *ctx);


static int listed(const char *path, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(*list, path) == 0) return 1;
    return 0;
}

/* The node at positions idx[0..depth) below root. */
static cJSON *follow(cJSON *root, const int *idx, int depth)
{
    for (int d = 0; d < depth; d++) root = cJSON_GetArrayItem(root, idx[d]);
    return root;
}

/* Reads a copy of `root` without member i of the node at idx[0..depth)
 * (`path` names it): refused when required, read when optional. */
static void try_without(const cJSON *root, const int *idx, int depth, int i, const char *path,
                        reader rd, const char *const *optional, int *n_required, int *n_optional)
{
    cJSON *copy = cJSON_Duplicate(root, 1);
    assert_non_null(copy);
    cJSON *node = follow(copy, idx, depth);
    char name[128];
    snprintf(name, sizeof name, "%s", cJSON_GetArrayItem(node, i)->string);
    cJSON_DeleteItemFromArray(node, i);
    eef_err e = rd(copy, NULL);
    cJSON_Delete(copy);
    int opt = listed(path, optional);
    if (opt && e) fail_msg("without '%s' (optional): refused: %s", path, eef_errmsg());
    if (!opt && !e) fail_msg("without '%s' (required): accepted", path);
    if (!opt && e != EEF_EFORMAT && e != EEF_EINVAL)
        fail_msg("without '%s': error %d, not a format error", path, e);
    /* the message names the missing field (a whole section: its name or
     * the first field it lacks) */
    if (!opt && !strstr(eef_errmsg(), name) && !strstr(eef_errmsg(), "section"))
        fail_msg("without '%s': the message '%s' does not say which field", path, eef_errmsg());
    *(opt ? n_optional : n_required) += 1;
}

/* Every member at every depth of the node at idx[0..depth) (path
 * `prefix`; array elements are "prefix[]"). */
static void each_field(const cJSON *root, int *idx, int depth, const char *prefix, reader rd,
                       const char *const *optional, int *n_required, int *n_optional)
{
    cJSON *node = follow((cJSON *)root, idx, depth);
    int n = cJSON_GetArraySize(node);
    for (int i = 0; i < n; i++) {
        cJSON *child = cJSON_GetArrayItem(node, i);
        char path[256];
        if (cJSON_IsArray(node)) snprintf(path, sizeof path, "%s[]", prefix);
        else snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", child->string);
        if (cJSON_IsObject(child) || cJSON_IsArray(child)) {
            assert_true(depth < 15);
            idx[depth] = i;
            each_field(root, idx, depth + 1, path, rd, optional, n_required, n_optional);
        }
        if (!cJSON_IsArray(node))
            try_without(root, idx, depth, i, path, rd, optional, n_required, n_optional);
    }
}

/* ------------------------------------------------------------ trajectories */
static eef_err read_traj(const cJSON *j, void *ctx)
{
    (void)ctx;
    char *s = cJSON_PrintUnformatted(j);
    assert_non_null(s);
    eef_traj t;
    eef_err e = eef_traj_from_json(s, strlen(s), "test.jsonl:1", &t);
    if (!e) eef_traj_free(&t);
    free(s);
    return e;
}

static void test_traj_fields(void **state)
{
    (void)state;
    eef_traj t;
    eef_traj_init(&t);
    assert_ok(eef_traj_set(&t.id, "shop-train-3/agent-0"));
    assert_ok(eef_traj_set(&t.env, "shop"));
    assert_ok(eef_traj_set(&t.task, "shop-train-3"));
    assert_ok(eef_traj_set(&t.source, "agent"));
    assert_ok(eef_traj_set(&t.instruction, "i need a red hat"));
    t.split = EEF_SPLIT_TRAIN, t.index = 3, t.tier = EEF_TIER_MEDIUM;
    t.reward = 1.0, t.win = 1;
    assert_ok(eef_traj_push(&t, "search page", "search[red hat]", 0));
    assert_ok(eef_traj_push(&t, "results", "click[B0AAAAAAAA]", 1));
    assert_ok(eef_traj_set(&t.final_obs, "thank you"));
    eef_buf b;
    eef_buf_init(&b);
    assert_ok(eef_traj_to_json(&t, &b));
    eef_traj_free(&t);
    cJSON *j = cJSON_Parse(b.data);
    assert_non_null(j);
    assert_ok(read_traj(j, NULL)); /* complete: read */
    static const char *const optional[] = { "split", "index", "tier", "instruction", NULL };
    int req = 0, opt = 0;
    /* the human turns' loss is optional, the gpt turns' is not */
    int conv_at = -1;
    for (int i = 0; i < cJSON_GetArraySize(j); i++)
        if (strcmp(cJSON_GetArrayItem(j, i)->string, "conversations") == 0) conv_at = i;
    assert_true(conv_at >= 0);
    cJSON *conv = cJSON_GetArrayItem(j, conv_at);
    assert_int_equal(cJSON_GetArraySize(conv), 5); /* human, gpt, human, gpt, human (final) */
    static const char *const none[] = { NULL };
    static const char *const loss_opt[] = { "turn.loss", NULL };
    for (int k = 0; k < 5; k++) {
        cJSON *turn = cJSON_GetArrayItem(conv, k);
        for (int f = 0; f < cJSON_GetArraySize(turn); f++) {
            char path[64];
            snprintf(path, sizeof path, "turn.%s", cJSON_GetArrayItem(turn, f)->string);
            int idx[2] = { conv_at, k };
            try_without(j, idx, 2, f, path, read_traj, k % 2 ? none : loss_opt, &req, &opt);
        }
    }
    /* top-level fields */
    for (int i = 0; i < cJSON_GetArraySize(j); i++)
        try_without(j, NULL, 0, i, cJSON_GetArrayItem(j, i)->string, read_traj, optional, &req, &opt);
    /* id env task split index tier source instruction reward win conversations,
     * 5 turns of from + value (+ loss) */
    assert_int_equal(req, 7 + 5 * 2 + 2);
    assert_int_equal(opt, 4 + 3);
    cJSON_Delete(j);
    eef_buf_free(&b);
}

/* ------------------------------------------------------------ evaluation summaries */
static eef_err read_eval(const cJSON *j, void *ctx)
{
    (void)ctx;
    eef_eval_summary s;
    return eef_eval_from_json(j, "eval.jsonl:1", &s);
}

static void test_eval_fields(void **state)
{
    (void)state;
    eef_traj t[6];
    for (int i = 0; i < 6; i++) {
        eef_traj_init(&t[i]);
        t[i].tier = i % 3;
        t[i].reward = i % 2 ? 1.0 : 0.25;
        t[i].win = i % 2;
    }
    eef_eval_summary s;
    eef_eval_summarize(t, 6, 1, &s);
    cJSON *j = eef_eval_to_json(&s);
    assert_ok(read_eval(j, NULL));
    eef_eval_summary back;
    assert_ok(eef_eval_from_json(j, "x", &back));
    assert_true(back.all.win == s.all.win && back.all.win_hi == s.all.win_hi &&
                back.tier[2].score_lo == s.tier[2].score_lo);
    static const char *const optional[] = { "tiers.easy", "tiers.medium", "tiers.hard", NULL };
    int req = 0, opt = 0;
    int idx[16];
    each_field(j, idx, 0, "", read_eval, optional, &req, &opt);
    /* 7 numbers at the top and in each of 3 tiers, and tiers */
    assert_int_equal(req, 7 + 3 * 7 + 1);
    assert_int_equal(opt, 3);
    cJSON_Delete(j);
}

/* ------------------------------------------------------------ run configuration */
static eef_err read_config(const cJSON *j, void *ctx)
{
    (void)ctx;
    eef_run_config c;
    return eef_run_config_from_json(j, "config.json", &c);
}

static void test_run_config_fields(void **state)
{
    (void)state;
    eef_run_config c;
    assert_ok(eef_run_preset("tiny", EEF_METHOD_EEF, "shop", &c));
    c.rft.tasks = 10; /* written only when set */
    c.sft.ctx_weight = 0.5, c.iter.ctx_weight = 0.25;
    c.sft.shards = 2;
    cJSON *j = eef_run_config_to_json(&c);
    assert_ok(read_config(j, NULL));
    eef_run_config back;
    assert_ok(eef_run_config_from_json(j, "config.json", &back));
    assert_int_equal(back.rft.tasks, 10);
    assert_int_equal(back.sft.shards, 2);
    assert_true(back.iter.ctx_weight == 0.25);
    static const char *const optional[] = {
        "sft.shards", "iter_train.shards", "sft.ctx_weight", "iter_train.ctx_weight", "rft.tasks",
        /* not read by the parser: eef_run compares the whole config.json
         * with the one it would write, so a run without it (or with another
         * prompt version) is refused there */
        "prompt", NULL
    };
    int req = 0, opt = 0;
    int idx[16];
    each_field(j, idx, 0, "", read_config, optional, &req, &opt);
    if (getenv("SHOW")) fprintf(stderr, "config: %d required, %d optional\n", req, opt);
    assert_true(req >= 30);
    cJSON_Delete(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_traj_fields),
        cmocka_unit_test(test_eval_fields),
        cmocka_unit_test(test_run_config_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* What every environment promises (env.h), at its edges, through the
 * public interface only:
 *  - an episode ends exactly at its step limit (valid or invalid steps
 *    alike), with reward 0 when nothing was achieved;
 *  - restore replays a prefix and refuses one with an invalid action or
 *    one that runs past the end of the episode;
 *  - a free-text slot ("search[" ... "]") needs some text inside. */
#include "testutil.h"

#include "env/env.h"

#include <string.h>

/* Steps a harmless action until the episode ends; returns how many. */
static int steps_to_end(eef_env *env, const char *action, int limit)
{
    eef_episode *ep;
    assert_ok(env->ops->episode_open(env, &ep));
    eef_step st;
    assert_ok(env->ops->reset(ep, EEF_SPLIT_TRAIN, 0, &st));
    int n = 0;
    while (!st.done && n < limit + 5) {
        assert_ok(env->ops->step(ep, action, &st));
        n++;
        if (!st.done) assert_true(st.reward == 0.0);
    }
    assert_true(st.done);
    assert_true(st.reward == 0.0);
    env->ops->episode_close(ep);
    return n;
}

static void test_step_limits(void **state)
{
    (void)state;
    const struct {
        const char *env, *options, *valid, *invalid;
        int limit;
    } cases[] = {
        { "shop", "products=100,train=5,test=2,max_steps=7", "search[red shoes]", "fly[away]", 7 },
        { "shop", "products=100,train=5,test=2,max_steps=1", "search[red shoes]", "fly[away]", 1 },
        { "house", "train=5,test=2,steps=6", "look", "fly away", 6 },
        { "house", "train=5,test=2,steps=2", "inventory", "fly away", 2 },
    };
    for (size_t i = 0; i < EEF_ARRAY_LEN(cases); i++) {
        eef_env *env;
        assert_ok(eef_env_open(cases[i].env, cases[i].options, 1, &env));
        assert_int_equal(env->max_steps, cases[i].limit);
        int a = steps_to_end(env, cases[i].valid, cases[i].limit);
        int b = steps_to_end(env, cases[i].invalid, cases[i].limit);
        if (a != cases[i].limit || b != cases[i].limit)
            fail_msg("%s %s: episode ended after %d valid / %d invalid steps, limit %d", cases[i].env,
                     cases[i].options, a, b, cases[i].limit);
        eef_env_close(env);
    }
}

static void test_restore(void **state)
{
    (void)state;
    eef_env *env;
    assert_ok(eef_env_open("house", "train=5,test=2,steps=6", 1, &env));
    eef_episode *ep;
    assert_ok(env->ops->episode_open(env, &ep));
    eef_step st;
    /* a valid prefix: the state after it is the one stepping gives */
    const char *ok[] = { "look", "inventory" };
    assert_ok(eef_env_restore(ep, EEF_SPLIT_TRAIN, 0, ok, 2, &st));
    assert_false(st.done);
    assert_true(st.valid);
    /* an invalid action in the prefix */
    const char *bad[] = { "look", "fly away", "look" };
    assert_int_equal(eef_env_restore(ep, EEF_SPLIT_TRAIN, 0, bad, 3, &st), EEF_ESTATE);
    assert_non_null(strstr(eef_errmsg(), "fly away"));
    /* a prefix past the step limit (6) */
    const char *longer[8] = { "look", "look", "look", "look", "look", "look", "look", "look" };
    assert_int_equal(eef_env_restore(ep, EEF_SPLIT_TRAIN, 0, longer, 8, &st), EEF_ESTATE);
    assert_ok(eef_env_restore(ep, EEF_SPLIT_TRAIN, 0, longer, 6, &st));
    assert_true(st.done);
    env->ops->episode_close(ep);
    eef_env_close(env);
}

static void test_free_text(void **state)
{
    (void)state;
    eef_actions a = { 0 };
    assert_false(eef_strlist_push(&a.items, "click[Buy Now]"));
    a.free_prefix = "search[";
    a.free_suffix = "]";
    assert_true(eef_actions_allows(&a, "click[Buy Now]"));
    assert_true(eef_actions_allows(&a, "search[x]"));
    assert_true(eef_actions_allows(&a, "search[red shoes]"));
    assert_false(eef_actions_allows(&a, "search[]"));
    assert_false(eef_actions_allows(&a, "search["));
    assert_false(eef_actions_allows(&a, "search[x"));
    assert_false(eef_actions_allows(&a, "click[Buy]"));
    a.free_prefix = NULL;
    assert_false(eef_actions_allows(&a, "search[x]"));
    eef_strlist_free(&a.items);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step_limits),
        cmocka_unit_test(test_restore),
        cmocka_unit_test(test_free_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

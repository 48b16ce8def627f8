/* The remote client's two rules of its own (src/env/remote): a reward the
 * server reports before the episode is done does not count (env.h: reward
 * 0 before done; servers of other environments report running scores),
 * and the client's step limit ends an episode the server would let go on
 * (reward 0: nothing achieved).  Served by eef's environment server from a
 * stub world "drip" that reports 0.25 after every step and ends on "end"
 * with 0.75. */
#include "test_serve_util.h"

#include "serve/serve.h"

#include <string.h>

typedef struct {
    eef_episode base;
    int steps, done;
    char obs[64];
} drip_ep;

static size_t drip_n_tasks(const eef_env *env, eef_split s)
{
    (void)env;
    return s == EEF_SPLIT_TRAIN ? 3 : 1;
}

static char ids[2][3][16];

static eef_err drip_task(const eef_env *env, eef_split s, size_t i, eef_task *out)
{
    if (i >= drip_n_tasks(env, s)) return eef_fail(EEF_EINVAL, "drip: no task %zu", i);
    *out = (eef_task){ .id = ids[s][i], .split = s, .index = i, .tier = EEF_TIER_EASY,
                       .instruction = "drip" };
    return EEF_OK;
}

static eef_err drip_open(eef_env *env, eef_episode **out)
{
    drip_ep *ep = calloc(1, sizeof *ep);
    if (!ep) return EEF_ENOMEM;
    ep->base.env = env;
    *out = &ep->base;
    return EEF_OK;
}

static eef_err drip_reset(eef_episode *e, eef_split s, size_t i, eef_step *out)
{
    (void)s, (void)i;
    drip_ep *ep = (drip_ep *)e;
    ep->steps = ep->done = 0;
    snprintf(ep->obs, sizeof ep->obs, "drop 0");
    *out = (eef_step){ ep->obs, 0, 0, 1 };
    return EEF_OK;
}

static eef_err drip_step(eef_episode *e, const char *a, eef_step *out)
{
    drip_ep *ep = (drip_ep *)e;
    ep->steps++;
    ep->done = strcmp(a, "end") == 0;
    snprintf(ep->obs, sizeof ep->obs, "drop %d", ep->steps);
    /* a running score before the end, as some servers report */
    *out = (eef_step){ ep->obs, ep->done ? 0.75 : 0.25, ep->done, 1 };
    return EEF_OK;
}

static eef_err drip_actions(eef_episode *e, eef_actions *out)
{
    (void)e;
    eef_strlist_clear(&out->items);
    out->free_prefix = out->free_suffix = NULL;
    if (eef_strlist_push(&out->items, "drop") || eef_strlist_push(&out->items, "end")) return EEF_ENOMEM;
    return EEF_OK;
}

static void drip_close_ep(eef_episode *e) { free(e); }
static void drip_close(eef_env *e) { (void)e; }

static const eef_env_ops drip_ops = { .version = EEF_ENV_OPS_VERSION, .name = "drip",
                                      .n_tasks = drip_n_tasks, .task = drip_task,
                                      .episode_open = drip_open, .reset = drip_reset,
                                      .step = drip_step, .actions = drip_actions,
                                      .episode_close = drip_close_ep, .close = drip_close };
static eef_env drip = { &drip_ops, 100 };

static void test_remote_rules(void **state)
{
    (void)state;
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < 3; i++) snprintf(ids[s][i], sizeof ids[s][i], "drip-%d-%d", s & 1, i % 3);
    eef_env_server_config c;
    eef_env_server_defaults(&c);
    c.port = 0;
    c.api = EEF_API_ALFWORLD;
    c.env_name = "drip";
    eef_server *s;
    assert_ok(eef_env_server_start(&drip, &c, &s));
    char name[96];
    snprintf(name, sizeof name, "remote:http://127.0.0.1:%d", eef_server_port(s));
    /* the server's own limit (100), then the client's of 3 */
    for (int limited = 0; limited < 2; limited++) {
        eef_env *rem;
        assert_ok(eef_env_open(name, limited ? "max_steps=3" : NULL, 0, &rem));
        assert_int_equal(rem->max_steps, limited ? 3 : 100);
        eef_episode *ep;
        assert_ok(rem->ops->episode_open(rem, &ep));
        eef_step st;
        assert_ok(rem->ops->reset(ep, EEF_SPLIT_TRAIN, 1, &st));
        assert_ok(rem->ops->step(ep, "drop", &st));
        assert_false(st.done);
        if (st.reward != 0.0) fail_msg("a running score of %g counted before the end", st.reward);
        assert_ok(rem->ops->step(ep, "drop", &st));
        assert_false(st.done);
        assert_true(st.reward == 0.0);
        assert_ok(rem->ops->step(ep, limited ? "drop" : "end", &st));
        if (!st.done) fail_msg("%s: not done after 3 steps", limited ? "max_steps=3" : "end");
        if (st.reward != (limited ? 0.0 : 0.75))
            fail_msg("%s: reward %g at the end", limited ? "out of steps" : "end", st.reward);
        rem->ops->episode_close(ep);
        eef_env_close(rem);
    }
    eef_server_stop(s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_remote_rules) };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}

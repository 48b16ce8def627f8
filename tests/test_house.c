/* Tests of the household world (src/env/house): generation, the rules, the
 * action list, restore (copy == replay), the oracle, key actions, and a
 * parser fuzz.  White-box where it helps: the private header gives access
 * to layouts and episode states for exact comparisons. */
#include "testutil.h"

#include "env/env.h"
#include "env/house/house_internal.h"

static eef_env *open_house(const char *options, uint64_t seed)
{
    eef_env *env = NULL;
    assert_ok(eef_house_open(options, seed, &env));
    return env;
}

static const house_layout *layout_of(const eef_env *env, eef_split split, size_t i)
{
    return &((const house_env *)env)->lay[split][i];
}

static const house_state *state_of(const eef_episode *ep) { return &((const house_episode *)ep)->st; }

/* Takes a uniformly random valid action; returns its step. */
static eef_step random_step(eef_env *env, eef_episode *ep, eef_actions *acts, eef_rng *r,
                            eef_strlist *record)
{
    eef_step st;
    assert_ok(env->ops->actions(ep, acts));
    assert_true(acts->items.n > 0);
    const char *a = acts->items.items[eef_rng_below(r, acts->items.n)];
    if (record) assert_int_equal(eef_strlist_push(record, a), 0);
    assert_ok(env->ops->step(ep, a, &st));
    assert_true(st.valid);
    return st;
}

/* ------------------------------------------------------------------ open */

static void test_open_options(void **state)
{
    (void)state;
    eef_env *env = open_house(NULL, 1);
    assert_int_equal(env->ops->n_tasks(env, EEF_SPLIT_TRAIN), 1000);
    assert_int_equal(env->ops->n_tasks(env, EEF_SPLIT_TEST), 200);
    assert_int_equal(env->max_steps, 40);
    assert_string_equal(env->ops->name, "house");
    eef_task t;
    assert_ok(env->ops->task(env, EEF_SPLIT_TEST, 199, &t));
    assert_string_equal(t.id, "house-test-199");
    assert_int_equal(env->ops->task(env, EEF_SPLIT_TEST, 200, &t), EEF_EINVAL);
    eef_env_close(env);

    /* the generic opener finds it once it is linked */
    assert_ok(eef_env_open("house", "train=10,test=3,steps=25", 2, &env));
    assert_int_equal(env->ops->n_tasks(env, EEF_SPLIT_TRAIN), 10);
    assert_int_equal(env->ops->n_tasks(env, EEF_SPLIT_TEST), 3);
    assert_int_equal(env->max_steps, 25);
    eef_env_close(env);

    const char *bad[] = { "bogus=1", "train=-1", "steps=0", "test=x", "train" };
    for (size_t i = 0; i < EEF_ARRAY_LEN(bad); i++) {
        env = (eef_env *)1;
        assert_int_equal(eef_house_open(bad[i], 1, &env), EEF_EINVAL);
        assert_null(env);
    }
    assert_int_equal(eef_house_open("colour=red", 1, &env), EEF_EINVAL);
    assert_non_null(strstr(eef_errmsg(), "colour"));
}

/* ------------------------------------------------------------ static data */

static void test_data_tables(void **state)
{
    (void)state;
    for (int i = 0; i < R_N; i++) {
        assert_int_equal(house_rtype_id(house_rtypes[i].name), i);
        assert_true(house_otype_id(house_rtypes[i].name) < 0); /* names never clash */
        if (i) assert_true(strcmp(house_rtypes[i - 1].name, house_rtypes[i].name) < 0);
    }
    for (size_t i = 0; i < house_n_otypes; i++) {
        assert_int_equal(house_otype_id(house_otypes[i].name), (int)i);
        if (i) assert_true(strcmp(house_otypes[i - 1].name, house_otypes[i].name) < 0);
        assert_true(house_otypes[i].n_found > 0 && house_otypes[i].n_found <= HOUSE_MAX_FOUND);
        assert_true(strlen(house_otypes[i].name) + 4 < HOUSE_NAME_CAP);
    }
    for (int r = 0; r < ROOM_N; r++) {
        int max = 0;
        for (size_t p = 0; p < house_rooms[r].n_parts; p++) {
            max += house_rooms[r].parts[p].hi;
            if (p) assert_true(house_rooms[r].parts[p - 1].rtype < house_rooms[r].parts[p].rtype);
        }
        assert_true(max <= HOUSE_MAX_RECEP);
        assert_true(house_rooms[r].obj_hi + 4 <= HOUSE_MAX_OBJ);
    }
}

/* ------------------------------------------------------------ generation */

static void test_generation_deterministic(void **state)
{
    (void)state;
    eef_env *a = open_house(NULL, 7), *b = open_house(NULL, 7), *c = open_house(NULL, 8);
    eef_env *small = open_house("train=50,test=10", 7);
    int differ = 0;
    for (int s = 0; s < 2; s++) {
        size_t n = a->ops->n_tasks(a, (eef_split)s);
        for (size_t i = 0; i < n; i++) {
            eef_task ta, tb;
            assert_ok(a->ops->task(a, (eef_split)s, i, &ta));
            assert_ok(b->ops->task(b, (eef_split)s, i, &tb));
            assert_string_equal(ta.instruction, tb.instruction);
            assert_int_equal(ta.tier, tb.tier);
            assert_memory_equal(layout_of(a, s, i), layout_of(b, s, i), sizeof(house_layout));
            /* a task does not depend on how many tasks were asked for */
            if (i < small->ops->n_tasks(small, (eef_split)s))
                assert_memory_equal(layout_of(a, s, i), layout_of(small, s, i),
                                    sizeof(house_layout));
            differ += memcmp(layout_of(a, s, i), layout_of(c, s, i), sizeof(house_layout)) != 0;
        }
    }
    assert_true(differ > 1150); /* another seed, other worlds */
    /* train and test are different worlds */
    assert_memory_not_equal(layout_of(a, 0, 0), layout_of(a, 1, 0), sizeof(house_layout));
    eef_env_close(a);
    eef_env_close(b);
    eef_env_close(c);
    eef_env_close(small);
}

/* The first tasks of seed 1, frozen: the generator and the text must not
 * drift silently.  EEF_UPDATE_FIXTURES=1 rewrites the file. */
static void test_generation_golden(void **state)
{
    (void)state;
    char path[512];
    const char *file = __FILE__, *slash = strrchr(file, '/');
    snprintf(path, sizeof path, "%.*s/fixtures/house/seed1.txt",
             slash ? (int)(slash - file) : 1, slash ? file : ".");
    eef_env *env = open_house("train=12,test=4", 1);
    eef_buf out;
    eef_buf_init(&out);
    eef_episode *ep;
    assert_ok(env->ops->episode_open(env, &ep));
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < env->ops->n_tasks(env, (eef_split)s); i++) {
            eef_task t;
            eef_step st;
            eef_strlist acts = { 0 };
            assert_ok(env->ops->task(env, (eef_split)s, i, &t));
            assert_ok(eef_house_oracle(env, (eef_split)s, i, &acts));
            assert_ok(env->ops->reset(ep, (eef_split)s, i, &st));
            eef_buf_printf(&out, "## %s %s %s\n%s\n", t.id, eef_tier_name(t.tier),
                           eef_house_task_type(env, (eef_split)s, i), st.obs);
            for (size_t k = 0; k < acts.n; k++) {
                assert_ok(env->ops->step(ep, acts.items[k], &st));
                eef_buf_printf(&out, "> %s\n%s\n", acts.items[k], st.obs);
            }
            eef_strlist_free(&acts);
        }
    }
    if (getenv("EEF_UPDATE_FIXTURES")) {
        assert_ok(eef_write_file_atomic(path, out.data, out.len));
    } else {
        char *want;
        size_t len;
        assert_ok(eef_read_file(path, &want, &len));
        if (len != out.len || memcmp(want, out.data, len) != 0)
            fail_msg("%s differs from the generated text (EEF_UPDATE_FIXTURES=1 rewrites it)",
                     path);
        free(want);
    }
    eef_buf_free(&out);
    env->ops->episode_close(ep);
    eef_env_close(env);
}

/* Every layout is well formed and its goal is open at the start. */
static void test_layout_invariants(void **state)
{
    (void)state;
    eef_env *env = open_house(NULL, 3);
    eef_episode *ep;
    assert_ok(env->ops->episode_open(env, &ep));
    int tiers[EEF_N_TIERS] = { 0 }, types[HT_N] = { 0 };
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < env->ops->n_tasks(env, (eef_split)s); i++) {
            const house_layout *L = layout_of(env, s, i);
            assert_true(L->n_recep > 0 && L->n_recep <= HOUSE_MAX_RECEP);
            assert_true(L->n_obj > 0 && L->n_obj <= HOUSE_MAX_OBJ);
            for (int r = 1; r < L->n_recep; r++) /* room-list order */
                assert_true(L->rtype[r - 1] < L->rtype[r] ||
                            (L->rtype[r - 1] == L->rtype[r] && L->rnum[r - 1] == L->rnum[r] + 1));
            int nx = 0;
            for (int o = 0; o < L->n_obj; o++) {
                assert_true(L->oloc0[o] < L->n_recep);
                assert_true(house_otype_found_in(L->otype[o], L->rtype[L->oloc0[o]]));
                assert_true(house_otypes[L->otype[o]].rooms & (1u << L->room));
                if (o) assert_true(L->otype[o - 1] < L->otype[o] ||
                                   (L->otype[o - 1] == L->otype[o] && L->onum[o - 1] > L->onum[o]));
                if (L->otype[o] == L->target_o) {
                    nx++;
                    if (L->type != HT_LOOK) assert_int_not_equal(L->rtype[L->oloc0[o]], L->target_r);
                }
            }
            assert_true(nx >= (L->type == HT_TWO ? 2 : 1));
            assert_int_equal(L->tier, house_tier(L));
            eef_step st;
            assert_ok(env->ops->reset(ep, (eef_split)s, i, &st));
            assert_false(st.done);
            assert_false(house_goal_met(L, state_of(ep)));
            if (s == 0) tiers[L->tier]++, types[L->type]++;
        }
    }
    /* a mix of tiers and all six task types (measured numbers in docs/house.md) */
    for (int t = 0; t < EEF_N_TIERS; t++) assert_true(tiers[t] >= 200);
    for (int t = 0; t < HT_N; t++) assert_true(types[t] >= 80);
    env->ops->episode_close(ep);
    eef_env_close(env);
}

/* ---------------------------------------------------------------- oracle */

static void test_oracle_wins_every_task(void **state)
{
    (void)state;
    eef_env *env = open_house(NULL, 1);
    eef_episode *ep;
    assert_ok(env->ops->episode_open(env, &ep));
    int per_type[HT_N] = { 0 };
    size_t longest = 0;
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < env->ops->n_tasks(env, (eef_split)s); i++) {
            eef_strlist acts = { 0 };
            assert_ok(eef_house_oracle(env, (eef_split)s, i, &acts));
            assert_true(acts.n <= 14);
            longest = EEF_MAX(longest, acts.n);
            /* replaying through the public interface wins too */
            eef_step st;
            assert_ok(eef_env_restore(ep, (eef_split)s, i, (const char *const *)acts.items,
                                      acts.n, &st));
            assert_true(st.done);
            assert_true(st.reward == 1.0);
            per_type[layout_of(env, s, i)->type]++;
            eef_strlist_free(&acts);
        }
    }
    for (int t = 0; t < HT_N; t++) assert_true(per_type[t] > 50);
    print_message("oracle: 1200/1200 won, longest %zu steps\n", longest);
    env->ops->episode_close(ep);
    eef_env_close(env);
}

static void test_key_actions(void **state)
{
    (void)state;
    eef_env *env = open_house(NULL, 1);
    for (size_t i = 0; i < 300; i++) {
        eef_strlist acts = { 0 };
        assert_ok(eef_house_oracle(env, EEF_SPLIT_TRAIN, i, &acts));
        unsigned char key[64];
        assert_ok(eef_house_key_actions(env, EEF_SPLIT_TRAIN, i,
                                        (const char *const *)acts.items, acts.n, key));
        /* a perfect solution: every act but moving is a key act */
        for (size_t k = 0; k < acts.n; k++)
            assert_int_equal(key[k], strncmp(acts.items[k], "go to ", 6) != 0);
        eef_strlist_free(&acts);
    }
    /* looking around and invalid actions are never key */
    const char *junk[] = { "look", "inventory", "take banana 1 from moon 1", "look" };
    unsigned char key[4];
    assert_ok(eef_house_key_actions(env, EEF_SPLIT_TRAIN, 0, junk, 4, key));
    for (int k = 0; k < 4; k++) assert_int_equal(key[k], 0);
    /* a put of an object that still needs heating is not key */
    for (size_t i = 0; i < 1000; i++) {
        const house_layout *L = layout_of(env, 0, i);
        if (L->type != HT_HEAT) continue;
        eef_strlist acts = { 0 }, bad = { 0 };
        assert_ok(eef_house_oracle(env, EEF_SPLIT_TRAIN, i, &acts));
        /* drop "heat" (and the walk to the microwave): the put is then wrong */
        for (size_t k = 0; k < acts.n; k++) {
            if (strncmp(acts.items[k], "heat ", 5) == 0) {
                size_t keep = strncmp(acts.items[k - 1], "go to ", 6) == 0 ? k - 1 : k;
                eef_strlist_clear(&bad);
                for (size_t j = 0; j < keep; j++) eef_strlist_push(&bad, acts.items[j]);
                for (size_t j = k + 1; j < acts.n; j++) eef_strlist_push(&bad, acts.items[j]);
            }
        }
        unsigned char kb[64];
        assert_ok(eef_house_key_actions(env, EEF_SPLIT_TRAIN, i, (const char *const *)bad.items,
                                        bad.n, kb));
        assert_int_equal(strncmp(bad.items[bad.n - 1], "put ", 4), 0);
        assert_int_equal(kb[bad.n - 1], 0);
        eef_strlist_free(&acts);
        eef_strlist_free(&bad);
        break;
    }
    assert_null(eef_house_task_type(env, EEF_SPLIT_TRAIN, 1000));
    eef_env_close(env);
}

/* Half a solution is no solution: the oracle's actions without the
 * transform, without the second object, or without the lamp do not win. */
static void test_goals_need_everything(void **state)
{
    (void)state;
    eef_env *env = open_house(NULL, 1);
    eef_episode *ep;
    assert_ok(env->ops->episode_open(env, &ep));
    int checked[HT_N] = { 0 };
    for (size_t i = 0; i < 1000; i++) {
        const house_layout *L = layout_of(env, 0, i);
        eef_strlist acts = { 0 }, part = { 0 };
        assert_ok(eef_house_oracle(env, EEF_SPLIT_TRAIN, i, &acts));
        /* the step that completes a part of the goal, dropped */
        const char *drop = L->type == HT_CLEAN ? "clean " : L->type == HT_HEAT ? "heat "
                           : L->type == HT_COOL ? "cool " : L->type == HT_LOOK ? "use " : NULL;
        int puts = 0;
        for (size_t k = 0; k < acts.n; k++) {
            if (drop && strncmp(acts.items[k], drop, strlen(drop)) == 0) continue;
            if (L->type == HT_TWO && strncmp(acts.items[k], "put ", 4) == 0 && ++puts == 2)
                continue;
            eef_strlist_push(&part, acts.items[k]);
        }
        if (L->type != HT_PICK) {
            eef_step st;
            assert_ok(eef_env_restore(ep, EEF_SPLIT_TRAIN, i, (const char *const *)part.items,
                                      part.n, &st));
            assert_false(st.done);
            assert_true(st.reward == 0.0);
            checked[L->type]++;
        }
        eef_strlist_free(&acts);
        eef_strlist_free(&part);
    }
    for (int t = 0; t < HT_N; t++) assert_true(t == HT_PICK || checked[t] > 50);
    env->ops->episode_close(ep);
    eef_env_close(env);
}

/* ------------------------------------------------------- restore and copy */

/* ≥1000 random action sequences: the state after (task, prefix) is the
 * same whether reached by stepping, by replay (eef_env_restore), or by the
 * vtable's copy; and all three continue identically. */
static void test_restore_copy_equals_replay(void **state)
{
    (void)state;
    eef_env *env = open_house(NULL, 5);
    const eef_env_ops *ops = env->ops;
    eef_episode *live, *replay, *snap;
    assert_ok(ops->episode_open(env, &live));
    assert_ok(ops->episode_open(env, &replay));
    assert_ok(ops->episode_open(env, &snap));
    eef_actions acts = { 0 }, acts2 = { 0 };
    for (int seq = 0; seq < 1200; seq++) {
        eef_rng r = eef_rng_make(eef_rng_key(5, 77, (uint64_t)seq, 0));
        eef_split split = (eef_split)(seq % 5 == 0);
        size_t task = eef_rng_below(&r, ops->n_tasks(env, split));
        size_t cut = eef_rng_below(&r, 40);
        eef_strlist rec = { 0 };
        eef_step st;
        assert_ok(ops->reset(live, split, task, &st));
        while (!st.done && rec.n < cut) st = random_step(env, live, &acts, &r, &rec);
        /* snapshot by copy (into an episode left on another task) */
        assert_ok(ops->reset(snap, (eef_split)!split, 0, &st));
        assert_ok(ops->copy(snap, live));
        /* restore by replay */
        eef_step rs;
        assert_ok(eef_env_restore(replay, split, task, (const char *const *)rec.items, rec.n, &rs));
        assert_memory_equal(state_of(live), state_of(replay), sizeof(house_state));
        assert_memory_equal(state_of(live), state_of(snap), sizeof(house_state));
        const house_episode *hl = (const house_episode *)live, *hs = (const house_episode *)snap;
        assert_string_equal(hl->obs.data, hs->obs.data);
        assert_string_equal(hl->obs.data, rs.obs);
        if (state_of(live)->done) {
            eef_strlist_free(&rec);
            continue;
        }
        /* the same continuation gives the same observations from all three */
        eef_rng r1 = eef_rng_make(eef_rng_key(9, (uint64_t)seq, 0, 0));
        for (int k = 0; k < 8 && !state_of(live)->done; k++) {
            assert_ok(ops->actions(live, &acts));
            assert_ok(ops->actions(snap, &acts2));
            assert_int_equal(acts.items.n, acts2.items.n);
            for (size_t j = 0; j < acts.items.n; j++)
                assert_string_equal(acts.items.items[j], acts2.items.items[j]);
            const char *a = acts.items.items[eef_rng_below(&r1, acts.items.n)];
            eef_step s1, s2, s3;
            assert_ok(ops->step(live, a, &s1));
            assert_ok(ops->step(snap, a, &s2));
            assert_ok(ops->step(replay, a, &s3));
            assert_string_equal(s1.obs, s2.obs);
            assert_string_equal(s1.obs, s3.obs);
            assert_int_equal(s1.done, s2.done);
            assert_true(s1.reward == s3.reward);
        }
        assert_memory_equal(state_of(live), state_of(replay), sizeof(house_state));
        assert_memory_equal(state_of(live), state_of(snap), sizeof(house_state));
        eef_strlist_free(&rec);
    }
    /* copying across environments is refused */
    eef_env *other = open_house("train=2,test=1", 5);
    eef_episode *foreign;
    assert_ok(other->ops->episode_open(other, &foreign));
    assert_int_equal(ops->copy(foreign, live), EEF_EINVAL);
    other->ops->episode_close(foreign);
    eef_env_close(other);
    eef_actions_free(&acts);
    eef_actions_free(&acts2);
    ops->episode_close(live);
    ops->episode_close(replay);
    ops->episode_close(snap);
    eef_env_close(env);
}

/* ---------------------------------------------------- the valid-action list */

/* In random states, every sentence of the grammar over this room's names
 * steps validly iff it is in the action list; invalid ones change nothing. */
static void test_action_list_is_exact(void **state)
{
    (void)state;
    eef_env *env = open_house("train=60,test=0", 11);
    const eef_env_ops *ops = env->ops;
    eef_episode *ep, *probe;
    assert_ok(ops->episode_open(env, &ep));
    assert_ok(ops->episode_open(env, &probe));
    eef_actions acts = { 0 };
    char text[128];
    long checked = 0;
    for (size_t task = 0; task < 60; task++) {
        eef_rng r = eef_rng_make(eef_rng_key(11, task, 0, 0));
        eef_step st;
        assert_ok(ops->reset(ep, EEF_SPLIT_TRAIN, task, &st));
        int depth = (int)eef_rng_below(&r, 25);
        for (int k = 0; k < depth && !st.done; k++) st = random_step(env, ep, &acts, &r, NULL);
        if (st.done) continue;
        assert_ok(ops->actions(ep, &acts));
        const house_episode *h = (const house_episode *)ep;
        const house_layout *L = h->lay;
        for (int v = 0; v < HV_N; v++) {
            int has_obj = v == HV_TAKE || v == HV_PUT || v == HV_CLEAN || v == HV_HEAT ||
                          v == HV_COOL || v == HV_USE || v == HV_EXAM_O;
            int has_recep = !(v == HV_USE || v == HV_EXAM_O || v == HV_INV || v == HV_LOOK);
            int no = has_obj ? L->n_obj : 1, nr = has_recep ? L->n_recep : 1;
            for (int o = 0; o < no; o++) {
                for (int rr = 0; rr < nr; rr++) {
                    house_act a = { (uint8_t)v, HOUSE_NONE, HOUSE_NONE };
                    if (has_obj) a.obj = (uint8_t)o;
                    if (has_recep) a.recep = (uint8_t)rr;
                    house_format(&h->names, &a, text, sizeof text);
                    house_act back;
                    assert_true(house_parse(L, text, &back)); /* format and parse agree */
                    assert_memory_equal(&back, &a, sizeof a);
                    assert_ok(ops->copy(probe, ep));
                    eef_step ps;
                    assert_ok(ops->step(probe, text, &ps));
                    assert_int_equal(ps.valid, eef_actions_allows(&acts, text));
                    if (!ps.valid) {
                        house_state before = *state_of(ep), after = *state_of(probe);
                        before.steps = after.steps = 0; /* an invalid step still counts */
                        before.done = after.done = 0;
                        assert_memory_equal(&before, &after, sizeof before);
                        assert_string_equal(ps.obs, "Nothing happens.");
                    }
                    checked++;
                }
            }
        }
    }
    assert_true(checked > 50000);
    eef_actions_free(&acts);
    ops->episode_close(ep);
    ops->episode_close(probe);
    eef_env_close(env);
}

/* Random bytes and mutated actions never crash; what is not in the list is
 * "Nothing happens." with valid = 0 and the state unchanged. */
static void test_parser_fuzz(void **state)
{
    (void)state;
    eef_env *env = open_house("train=40,test=0", 13);
    const eef_env_ops *ops = env->ops;
    eef_episode *ep;
    assert_ok(ops->episode_open(env, &ep));
    eef_actions acts = { 0 };
    eef_rng r = eef_rng_make(eef_rng_key(13, 0, 0, 0));
    char buf[200];
    int accepted = 0;
    for (int trial = 0; trial < 40000; trial++) {
        if (trial % 100 == 0 || state_of(ep)->done) {
            eef_step st;
            assert_ok(ops->reset(ep, EEF_SPLIT_TRAIN, eef_rng_below(&r, 40), &st));
            for (int k = 0; k < 6 && !st.done; k++) st = random_step(env, ep, &acts, &r, NULL);
            if (st.done) continue;
        }
        assert_ok(ops->actions(ep, &acts));
        size_t n;
        if (trial % 2 == 0) { /* random bytes 1..255 */
            n = eef_rng_below(&r, 80);
            for (size_t i = 0; i < n; i++) buf[i] = (char)(1 + eef_rng_below(&r, 255));
        } else { /* a valid action, mutated */
            const char *a = acts.items.items[eef_rng_below(&r, acts.items.n)];
            n = strlen(a);
            memcpy(buf, a, n);
            size_t at = n ? eef_rng_below(&r, n) : 0;
            switch (eef_rng_below(&r, 6)) {
            case 0: buf[at] = (char)(1 + eef_rng_below(&r, 255)); break;
            case 1: memmove(buf + at, buf + at + 1, n - at), n--; break;
            case 2: n = at; break;
            case 3: buf[n++] = (char)(32 + eef_rng_below(&r, 95)); break;
            case 4: memmove(buf + at + 1, buf + at, n - at), buf[at] = ' ', n++; break;
            case 5: if (at < n && buf[at] >= 'a' && buf[at] <= 'z') buf[at] ^= 0x20; break;
            }
        }
        buf[n] = 0;
        house_state before = *state_of(ep);
        eef_step st;
        assert_ok(ops->step(ep, buf, &st));
        int listed = eef_actions_allows(&acts, buf);
        assert_int_equal(st.valid, listed);
        if (!listed) {
            house_state after = *state_of(ep);
            assert_string_equal(st.obs, "Nothing happens.");
            assert_int_equal(after.steps, before.steps + 1);
            after.steps = before.steps;
            after.done = before.done;
            assert_memory_equal(&before, &after, sizeof before);
        } else {
            accepted++;
        }
    }
    assert_true(accepted > 0 && accepted < 20000);
    eef_actions_free(&acts);
    ops->episode_close(ep);
    eef_env_close(env);
}

/* ------------------------------------------------------- text and limits */

/* Finds a train task whose room has an openable receptacle holding an object. */
static size_t find_task(eef_env *env, int *recep, int *obj)
{
    for (size_t i = 0; i < 1000; i++) {
        const house_layout *L = layout_of(env, 0, i);
        for (int o = 0; o < L->n_obj; o++) {
            int r = L->oloc0[o];
            if (house_rtypes[L->rtype[r]].openable && !(house_otypes[L->otype[o]].flags & OF_LAMP) &&
                (house_otypes[L->otype[o]].flags & OF_HEAT)) {
                int mw = -1;
                for (int k = 0; k < L->n_recep; k++)
                    if (L->rtype[k] == R_MICROWAVE) mw = k;
                if (mw < 0 || mw == r || L->rtype[r] == R_FRIDGE) continue;
                *recep = r, *obj = o;
                return i;
            }
        }
    }
    fail_msg("no suitable task");
    return 0;
}

static void test_observation_text(void **state)
{
    (void)state;
    eef_env *env = open_house(NULL, 1);
    const eef_env_ops *ops = env->ops;
    eef_episode *ep;
    assert_ok(ops->episode_open(env, &ep));
    int r = 0, o = 0;
    size_t task = find_task(env, &r, &o);
    const house_episode *h = (const house_episode *)ep;
    eef_step st;
    char want[512], act[128];
    assert_ok(ops->reset(ep, EEF_SPLIT_TRAIN, task, &st));
    const char *R = h->names.r[r], *O = h->names.o[o];
    eef_task t;
    assert_ok(ops->task(env, EEF_SPLIT_TRAIN, task, &t));
    assert_true(strncmp(st.obs, "You are in the middle of a room. Looking quickly around you, "
                                "you see a ", 71) == 0);
    snprintf(want, sizeof want, ".\n\nYour task is to: %s.", t.instruction);
    assert_string_equal(st.obs + strlen(st.obs) - strlen(want), want);
    assert_non_null(strstr(st.obs, ", and a "));

    assert_ok(ops->step(ep, "look", &st));
    assert_true(strncmp(st.obs, "You are in the middle of a room.", 32) == 0);
    assert_null(strstr(st.obs, "Your task"));
    assert_ok(ops->step(ep, "inventory", &st));
    assert_string_equal(st.obs, "You are not carrying anything.");
    snprintf(act, sizeof act, "take %s from %s", O, R);
    assert_ok(ops->step(ep, act, &st)); /* not there yet */
    assert_string_equal(st.obs, "Nothing happens.");
    assert_false(st.valid);

    snprintf(act, sizeof act, "go to %s", R);
    assert_ok(ops->step(ep, act, &st));
    snprintf(want, sizeof want, "You arrive at %s. The %s is closed.", R, R);
    assert_string_equal(st.obs, want);
    assert_ok(ops->step(ep, act, &st)); /* already there */
    assert_false(st.valid);
    snprintf(act, sizeof act, "take %s from %s", O, R);
    assert_ok(ops->step(ep, act, &st)); /* closed */
    assert_false(st.valid);
    snprintf(act, sizeof act, "open %s", R);
    assert_ok(ops->step(ep, act, &st));
    snprintf(want, sizeof want, "You open the %s. The %s is open. In it, you see ", R, R);
    assert_true(strncmp(st.obs, want, strlen(want)) == 0);
    assert_non_null(strstr(st.obs, O));
    snprintf(act, sizeof act, "take %s from %s", O, R);
    assert_ok(ops->step(ep, act, &st));
    snprintf(want, sizeof want, "You pick up the %s from the %s.", O, R);
    assert_string_equal(st.obs, want);
    assert_ok(ops->step(ep, "inventory", &st));
    snprintf(want, sizeof want, "You are carrying: a %s.", O);
    assert_string_equal(st.obs, want);
    snprintf(act, sizeof act, "examine %s", O);
    assert_ok(ops->step(ep, act, &st));
    snprintf(want, sizeof want, "There's nothing special about %s.", O);
    assert_string_equal(st.obs, want);
    snprintf(act, sizeof act, "close %s", R);
    assert_ok(ops->step(ep, act, &st));
    snprintf(want, sizeof want, "You close the %s.", R);
    assert_string_equal(st.obs, want);
    snprintf(act, sizeof act, "examine %s", R);
    assert_ok(ops->step(ep, act, &st));
    snprintf(want, sizeof want, "The %s is closed.", R);
    assert_string_equal(st.obs, want);
    assert_ok(ops->step(ep, "look", &st));
    snprintf(want, sizeof want, "You are facing the %s. Next to it, you see nothing.", R);
    assert_string_equal(st.obs, want);

    /* cooling, then heating: the object is hot and no longer cool */
    snprintf(act, sizeof act, "cool %s with fridge 1", O);
    assert_ok(ops->step(ep, act, &st)); /* not at the fridge */
    assert_false(st.valid);
    assert_ok(ops->step(ep, "go to fridge 1", &st));
    assert_ok(ops->step(ep, act, &st));
    snprintf(want, sizeof want, "You cool the %s using the fridge 1.", O);
    assert_string_equal(st.obs, want);
    snprintf(act, sizeof act, "examine %s", O);
    assert_ok(ops->step(ep, act, &st));
    snprintf(want, sizeof want, "This is a cold %s.", O);
    assert_string_equal(st.obs, want);
    assert_ok(ops->step(ep, "go to microwave 1", &st));
    assert_true(st.valid);
    snprintf(act, sizeof act, "heat %s with microwave 1", O);
    assert_ok(ops->step(ep, act, &st));
    assert_int_equal(state_of(ep)->oflag[o], OS_HOT);
    if (!st.done) {
        snprintf(want, sizeof want, "You heat the %s using the microwave 1.", O);
        assert_string_equal(st.obs, want);
        snprintf(act, sizeof act, "examine %s", O);
        assert_ok(ops->step(ep, act, &st));
        snprintf(want, sizeof want, "This is a hot %s.", O);
        assert_string_equal(st.obs, want);
        /* the ALFWorld literal: "in/on", and nothing else; never into a
         * closed receptacle */
        snprintf(act, sizeof act, "put %s in microwave 1", O);
        assert_ok(ops->step(ep, act, &st));
        assert_false(st.valid);
        snprintf(act, sizeof act, "put %s in/on microwave 1", O);
        assert_ok(ops->step(ep, act, &st));
        assert_false(st.valid);
        assert_ok(ops->step(ep, "open microwave 1", &st));
        snprintf(act, sizeof act, "put %s in/on microwave 1", O);
        assert_ok(ops->step(ep, act, &st));
        snprintf(want, sizeof want, "You put the %s in/on the microwave 1.", O);
        assert_string_equal(st.obs, want);
    }
    ops->episode_close(ep);
    eef_env_close(env);
}

static void test_step_limit(void **state)
{
    (void)state;
    eef_env *env = open_house("train=3,test=0,steps=7", 1);
    eef_episode *ep;
    assert_ok(env->ops->episode_open(env, &ep));
    eef_step st;
    assert_int_equal(env->ops->step(ep, "look", &st), EEF_ESTATE); /* before reset */
    assert_ok(env->ops->reset(ep, EEF_SPLIT_TRAIN, 1, &st));
    for (int k = 0; k < 7; k++) {
        assert_false(st.done);
        assert_ok(env->ops->step(ep, k % 2 ? "look" : "fly away", &st));
    }
    assert_true(st.done);
    assert_true(st.reward == 0.0);
    assert_int_equal(env->ops->step(ep, "look", &st), EEF_ESTATE);
    eef_actions acts = { 0 };
    assert_ok(env->ops->actions(ep, &acts));
    assert_int_equal(acts.items.n, 0);
    /* restore refuses a prefix that runs past the end */
    const char *many[8] = { "look", "look", "look", "look", "look", "look", "look", "look" };
    assert_int_equal(eef_env_restore(ep, EEF_SPLIT_TRAIN, 1, many, 8, NULL), EEF_ESTATE);
    eef_actions_free(&acts);
    env->ops->episode_close(ep);
    eef_env_close(env);
}

/* A player choosing uniformly among valid actions rarely wins. */
static void test_random_policy_rarely_wins(void **state)
{
    (void)state;
    eef_env *env = open_house(NULL, 1);
    eef_episode *ep;
    assert_ok(env->ops->episode_open(env, &ep));
    eef_actions acts = { 0 };
    int wins = 0;
    for (size_t i = 0; i < 1000; i++) {
        eef_rng r = eef_rng_make(eef_rng_key(1, 99, i, 0));
        eef_step st;
        assert_ok(env->ops->reset(ep, EEF_SPLIT_TRAIN, i, &st));
        while (!st.done) st = random_step(env, ep, &acts, &r, NULL);
        wins += st.reward == 1.0;
    }
    print_message("random valid actions: %d/1000 train tasks won\n", wins);
    assert_true(wins < 50);
    eef_actions_free(&acts);
    env->ops->episode_close(ep);
    eef_env_close(env);
}

int main(void)
{
    eef_log_set_level(EEF_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_options),
        cmocka_unit_test(test_data_tables),
        cmocka_unit_test(test_generation_deterministic),
        cmocka_unit_test(test_generation_golden),
        cmocka_unit_test(test_layout_invariants),
        cmocka_unit_test(test_oracle_wins_every_task),
        cmocka_unit_test(test_key_actions),
        cmocka_unit_test(test_goals_need_everything),
        cmocka_unit_test(test_restore_copy_equals_replay),
        cmocka_unit_test(test_action_list_is_exact),
        cmocka_unit_test(test_parser_fuzz),
        cmocka_unit_test(test_observation_text),
        cmocka_unit_test(test_step_limit),
        cmocka_unit_test(test_random_policy_rarely_wins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* shop_oracle.c: a scripted perfect policy and the key actions of a
 * solution, both reading the catalogue (tests and analysis only: no
 * policy ever sees this).
 *
 * The oracle searches the natural query (or, if that finds no winner, the
 * target's title), pages with "Next >" to the first winning product,
 * opens it, clicks one matching value in as many option groups as the goal
 * has options, and buys: at most 1 + 4 + 1 + options + 1 steps.
 */
#include "shop_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static eef_err check_env(eef_env *env, eef_split split, size_t index, shop_env **out)
{
    if (!env || strcmp(env->ops->name, "shop") != 0)
        return eef_fail(EEF_EINVAL, "shop oracle: not a shop environment");
    shop_env *e = (shop_env *)env;
    int s = split == EEF_SPLIT_TEST;
    if (index >= e->n_tasks[s])
        return eef_fail(EEF_EINVAL, "shop oracle: task %zu of the %s split does not exist", index,
                        eef_split_name(split));
    *out = e;
    return EEF_OK;
}

static int push(eef_strlist *l, const char *fmt, const char *arg)
{
    eef_buf b;
    eef_buf_init(&b);
    eef_buf_printf(&b, fmt, arg);
    int rc = b.data ? eef_strlist_push(l, b.data) : -1;
    eef_buf_free(&b);
    return rc;
}

eef_err eef_shop_oracle(eef_env *env, eef_split split, size_t index, eef_strlist *actions)
{
    shop_env *e;
    EEF_TRY(check_env(env, split, index, &e));
    const shop_task *t = &e->tasks[split == EEF_SPLIT_TEST][index];
    shop_scratch s;
    EEF_TRY(shop_scratch_init(&s, &e->index));
    uint32_t res[SHOP_SEARCH_N];
    int16_t sel[SHOP_MAX_DIMS];
    const char *query = NULL;
    long rank = -1;
    /* the env is shared by threads: no arena allocation here */
    char *title = eef_strdup(e->cat.items[t->goal.target].lc_title);
    const char *queries[2] = { t->query, title };
    for (int q = 0; q < 2 && rank < 0 && queries[q]; q++) {
        size_t n = shop_search(&e->index, &s, queries[q], res);
        for (size_t i = 0; i < n && rank < 0; i++)
            if (shop_can_win(&e->cat, &t->goal, res[i], sel)) rank = (long)i, query = queries[q];
    }
    shop_scratch_free(&s);
    if (rank < 0) {
        free(title);
        return eef_fail(EEF_ENOTFOUND, "shop oracle: no winning product found for %s", t->id);
    }
    eef_strlist_clear(actions);
    int rc = push(actions, "search[%s]", query);
    free(title);
    for (long p = 0; p < rank / SHOP_PER_PAGE && !rc; p++) rc = eef_strlist_push(actions, "click[Next >]");
    const shop_product *w = &e->cat.items[res[rank]];
    if (!rc) rc = push(actions, "click[%s]", w->asin);
    for (uint32_t d = 0; d < w->n_dims && d < SHOP_MAX_DIMS && !rc; d++)
        if (sel[d] >= 0) rc = push(actions, "click[%s]", w->dims[d].values[sel[d]]);
    if (!rc) rc = eef_strlist_push(actions, "click[Buy Now]");
    if (rc) return eef_fail(EEF_ENOMEM, "shop oracle: out of memory");
    if (actions->n > (size_t)e->base.max_steps)
        return eef_fail(EEF_ESTATE, "shop oracle: %s needs %zu steps, more than the limit %d", t->id,
                        actions->n, e->base.max_steps);
    return EEF_OK;
}

/* can_win per product, computed on demand: -1 unknown, 0, 1 */
static int wins(shop_env *e, const shop_goal *g, signed char *memo, uint32_t p)
{
    if (memo[p] < 0) memo[p] = (signed char)shop_can_win(&e->cat, g, p, NULL);
    return memo[p];
}

eef_err eef_shop_key_actions(eef_env *env, eef_split split, size_t index,
                             const char *const *actions, size_t n, unsigned char *is_key)
{
    shop_env *e;
    EEF_TRY(check_env(env, split, index, &e));
    const shop_goal *g = &e->tasks[split == EEF_SPLIT_TEST][index].goal;
    memset(is_key, 0, n);
    signed char *memo = eef_malloc(e->cat.n);
    if (!memo) return EEF_ENOMEM;
    memset(memo, -1, e->cat.n);
    eef_episode *epb;
    eef_err err = env->ops->episode_open(env, &epb);
    if (err) {
        free(memo);
        return err;
    }
    shop_episode *ep = (shop_episode *)epb;
    eef_step st;
    err = env->ops->reset(epb, split, index, &st);
    for (size_t i = 0; i < n && !err && !st.done; i++) {
        const char *a = actions[i];
        size_t len = strlen(a);
        shop_state before = ep->st;
        shop_click ck = { NULL, 0, 0, 0 };
        if (len > 7 && strncmp(a, "click[", 6) == 0 && a[len - 1] == ']' &&
            (err = shop_page_clicks(ep)) == EEF_OK)
            for (size_t k = 0; k < ep->n_clicks && !ck.label; k++)
                if (strncasecmp(ep->clicks[k].label, a + 6, len - 7) == 0 &&
                    ep->clicks[k].label[len - 7] == 0)
                    ck = ep->clicks[k];
        if (err || (err = env->ops->step(epb, a, &st))) break;
        if (!st.valid || !ck.label) continue;
        switch (ck.kind) {
        case CK_NEXT: {
            long first = -1; /* first winning rank of this result list */
            for (uint32_t r = 0; r < before.n_results && first < 0; r++)
                if (wins(e, g, memo, before.results[r])) first = r;
            is_key[i] = first >= 0 && ep->st.page_no <= first / SHOP_PER_PAGE + 1;
            break;
        }
        case CK_PRODUCT: is_key[i] = (unsigned char)wins(e, g, memo, ck.arg); break;
        case CK_OPTION:
            is_key[i] = wins(e, g, memo, (uint32_t)before.item) &&
                        shop_option_matches(&e->cat.items[before.item], g, ck.dim, ck.arg);
            break;
        case CK_BUY: is_key[i] = st.reward == 1.0; break;
        default: break;
        }
    }
    env->ops->episode_close(epb);
    free(memo);
    return err;
}

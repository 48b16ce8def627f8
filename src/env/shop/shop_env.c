/* shop_env.c: the shop behind the eef_env vtable.
 *
 * Options (comma-separated key=value):
 *   products=N         generated products (default 2000); with products_file,
 *                      a cap on how many are read (WebShop's num_products)
 *   train=N, test=N    tasks per split (default 1500, 500)
 *   max_steps=N        step limit of an episode (default 15)
 *   products_file=PATH, attrs_file=PATH, instructions_file=PATH
 *                      the real WebShop data (items_shuffle*.json,
 *                      items_ins_v2*.json, items_human_ins.json) instead of
 *                      the generator
 *
 * Actions: search[free text] on the search page; click[X] for a button,
 * link or option value shown on the page (matched case-insensitively, as
 * WebShop lowercases both).  Anything else is invalid: valid = 0, the
 * observation is "Invalid action: <why>", the state does not change, and
 * the step still counts towards the limit.
 */
#include "shop_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const eef_env_ops shop_ops;

/* ------------------------------------------------------------------ options */
static eef_err parse_option(const char *key, const char *value, void *ctx)
{
    shop_env *e = ctx;
    shop_options *o = &e->opt;
    if (strcmp(key, "products") == 0) return eef_parse_long(value, 1, 1000000, "shop products", &o->products);
    if (strcmp(key, "types") == 0) return eef_parse_long(value, 1, 1000, "shop types", &o->types);
    if (strcmp(key, "train") == 0) return eef_parse_long(value, 0, 1000000, "shop train", &o->train);
    if (strcmp(key, "test") == 0) return eef_parse_long(value, 0, 1000000, "shop test", &o->test);
    if (strcmp(key, "max_steps") == 0) return eef_parse_long(value, 1, 1000, "shop max_steps", &o->max_steps);
    const char **path = strcmp(key, "products_file") == 0       ? &o->products_file
                        : strcmp(key, "attrs_file") == 0        ? &o->attrs_file
                        : strcmp(key, "instructions_file") == 0 ? &o->instructions_file
                                                                : NULL;
    if (!path)
        return eef_fail(EEF_EINVAL,
                        "shop: unknown option '%s' (products, types, train, test, max_steps, products_file, "
                        "attrs_file, instructions_file)",
                        key);
    /* value lives in a temporary copy of the option string */
    *path = eef_arena_strdup(&e->arena, value);
    return *path ? EEF_OK : EEF_ENOMEM;
}

static void shop_close(eef_env *env)
{
    shop_env *e = (shop_env *)env;
    if (!e) return;
    free(e->tasks[0]);
    free(e->tasks[1]);
    shop_index_free(&e->index);
    shop_catalog_free(&e->cat);
    eef_arena_free(&e->arena);
    free(e);
}

static eef_err open_kind(const char *arg, const char *options, uint64_t seed, eef_env **out)
{
    (void)arg;
    return eef_shop_open(options, seed, out);
}

/* registered by name (env.c) */
const eef_env_kind eef_env_kind_shop = { "shop", "shop", open_kind, &eef_shop_text };

eef_err eef_shop_open(const char *options, uint64_t seed, eef_env **out)
{
    *out = NULL;
    shop_env *e = eef_calloc(1, sizeof *e);
    if (!e) return EEF_ENOMEM;
    e->base.ops = &shop_ops;
    e->seed = seed;
    shop_catalog_init(&e->cat);
    eef_arena_init(&e->arena, 1 << 18);
    e->opt = (shop_options){ .products = 0, .train = 1500, .test = 500, .max_steps = SHOP_DEFAULT_STEPS };
    eef_err err = eef_env_options(options, parse_option, e);
    e->base.max_steps = (int)e->opt.max_steps;
    if (!err && e->opt.products_file) {
        if (!e->opt.instructions_file)
            err = eef_fail(EEF_EINVAL, "shop: products_file needs instructions_file (the goals)");
        else
            err = shop_load_products(&e->cat, e->opt.products_file, e->opt.attrs_file,
                                     e->opt.products, seed);
    } else if (!err) {
        if (e->opt.attrs_file || e->opt.instructions_file)
            err = eef_fail(EEF_EINVAL, "shop: attrs_file and instructions_file need products_file");
        else err = shop_generate(&e->cat, (size_t)(e->opt.products ? e->opt.products : 2000),
                                 (size_t)e->opt.types, seed);
    }
    if (!err) err = shop_catalog_finish(&e->cat);
    if (!err) err = shop_index_build(&e->index, &e->cat);
    if (!err)
        err = e->opt.products_file ? shop_goals_load(e, e->opt.instructions_file) : shop_goals_generate(e);
    if (err) {
        shop_close(&e->base);
        return err;
    }
    *out = &e->base;
    return EEF_OK;
}

/* ------------------------------------------------------------------ tasks */
static size_t shop_n_tasks(const eef_env *env, eef_split split)
{
    const shop_env *e = (const shop_env *)env;
    return split == EEF_SPLIT_TEST ? e->n_tasks[1] : e->n_tasks[0];
}

static eef_err shop_task_info(const eef_env *env, eef_split split, size_t index, eef_task *out)
{
    const shop_env *e = (const shop_env *)env;
    int s = split == EEF_SPLIT_TEST;
    if (index >= e->n_tasks[s])
        return eef_fail(EEF_EINVAL, "shop: task %zu of the %s split does not exist (%zu tasks)", index,
                        eef_split_name(split), e->n_tasks[s]);
    const shop_task *t = &e->tasks[s][index];
    *out = (eef_task){ t->id, split, index, t->tier, t->goal.instruction };
    return EEF_OK;
}

/* ------------------------------------------------------------------ episodes */
static eef_err shop_episode_open(eef_env *env, eef_episode **out)
{
    shop_env *e = (shop_env *)env;
    shop_episode *ep = eef_calloc(1, sizeof *ep);
    if (!ep) return EEF_ENOMEM;
    ep->base.env = env;
    eef_buf_init(&ep->obs);
    if (shop_scratch_init(&ep->scratch, &e->index) != EEF_OK) {
        free(ep);
        return EEF_ENOMEM;
    }
    ep->st.done = 1; /* nothing to step until reset */
    *out = &ep->base;
    return EEF_OK;
}

static void shop_episode_close(eef_episode *epb)
{
    shop_episode *ep = (shop_episode *)epb;
    if (!ep) return;
    eef_buf_free(&ep->obs);
    shop_scratch_free(&ep->scratch);
    free(ep->clicks);
    free(ep);
}

static void fill_step(shop_episode *ep, int valid, eef_step *out)
{
    out->obs = ep->obs.data ? ep->obs.data : "";
    out->done = ep->st.done;
    out->reward = ep->st.done ? ep->st.reward : 0.0;
    out->valid = valid;
}

static eef_err shop_reset(eef_episode *epb, eef_split split, size_t index, eef_step *out)
{
    shop_episode *ep = (shop_episode *)epb;
    shop_env *e = shop_env_of(ep);
    int s = split == EEF_SPLIT_TEST;
    if (index >= e->n_tasks[s])
        return eef_fail(EEF_EINVAL, "shop: task %zu of the %s split does not exist (%zu tasks)", index,
                        eef_split_name(split), e->n_tasks[s]);
    memset(&ep->st, 0, sizeof ep->st);
    ep->st.split = (uint8_t)s;
    ep->st.task = (uint32_t)index;
    ep->st.page = PG_SEARCH;
    ep->st.item = -1;
    for (int d = 0; d < SHOP_MAX_DIMS; d++) ep->st.sel[d] = -1;
    shop_page_render(ep);
    if (!ep->obs.data) return eef_fail(EEF_ENOMEM, "shop: out of memory rendering a page");
    if (out) fill_step(ep, 1, out);
    return EEF_OK;
}

static void clear_selection(shop_state *st)
{
    for (int d = 0; d < SHOP_MAX_DIMS; d++) st->sel[d] = -1;
}

/* Applies a click; returns NULL or why it is invalid (written to why). */
static const char *apply_click(shop_episode *ep, const char *arg, size_t len, char *why, size_t cap)
{
    shop_state *st = &ep->st;
    if (shop_page_clicks(ep) != EEF_OK) return "out of memory";
    const shop_click *ck = NULL;
    for (size_t i = 0; i < ep->n_clicks && !ck; i++)
        if (strncasecmp(ep->clicks[i].label, arg, len) == 0 && ep->clicks[i].label[len] == 0)
            ck = &ep->clicks[i];
    if (!ck) {
        /* echo short printable arguments only: the observation stays short
         * and valid UTF-8 whatever was sent */
        int printable = len <= 60;
        for (size_t i = 0; i < len && printable; i++)
            if ((unsigned char)arg[i] < 0x20 || arg[i] == 0x7f) printable = 0;
        if (printable) snprintf(why, cap, "there is no '%.*s' to click on this page", (int)len, arg);
        else snprintf(why, cap, "that is not clickable on this page");
        return why;
    }
    switch (ck->kind) {
    case CK_BACK:
        st->page = PG_SEARCH;
        st->n_results = 0;
        st->page_no = 0;
        st->item = -1;
        clear_selection(st);
        break;
    case CK_PREV:
        if (st->page == PG_RESULTS) st->page_no--;
        else if (st->page == PG_ITEM) {
            st->page = PG_RESULTS; /* WebShop re-renders the results page: options reset */
            st->item = -1;
            clear_selection(st);
        } else st->page = PG_ITEM;
        break;
    case CK_NEXT: st->page_no++; break;
    case CK_PRODUCT:
        st->page = PG_ITEM;
        st->item = (int32_t)ck->arg;
        clear_selection(st);
        break;
    case CK_OPTION: st->sel[ck->dim] = (int16_t)ck->arg; break;
    case CK_SUB:
        st->page = PG_SUB;
        st->sub = (uint8_t)ck->arg;
        break;
    case CK_BUY: {
        shop_env *e = shop_env_of(ep);
        st->reward = shop_reward(&e->cat, &shop_task_of(ep)->goal, (uint32_t)st->item, st->sel, NULL);
        st->page = PG_DONE;
        st->done = 1;
        break;
    }
    }
    return NULL;
}

static int has_prefix(const char *s, size_t n, const char *p)
{
    size_t lp = strlen(p);
    return n >= lp && memcmp(s, p, lp) == 0;
}

static eef_err shop_step(eef_episode *epb, const char *action, eef_step *out)
{
    shop_episode *ep = (shop_episode *)epb;
    shop_env *e = shop_env_of(ep);
    shop_state *st = &ep->st;
    if (st->done) return eef_fail(EEF_ESTATE, "shop: step after the episode ended (reset first)");
    if (!action) return eef_fail(EEF_EINVAL, "shop: step with a NULL action");
    st->steps++;
    char whybuf[128];
    const char *why = NULL;
    size_t len = strnlen(action, SHOP_ACTION_MAX + 1);
    if (len == 0) why = "the action is empty";
    else if (len > SHOP_ACTION_MAX) why = "the action is too long";
    else if (!eef_utf8_valid(action, len)) why = "the action is not valid UTF-8";
    else if (has_prefix(action, len, "search[") && len > 8 && action[len - 1] == ']') {
        const char *arg = action + 7;
        size_t n = len - 8, k = 0;
        while (k < n && (arg[k] == ' ' || arg[k] == '\t')) k++;
        if (st->page != PG_SEARCH) why = "search is only possible on the search page";
        else if (k == n) why = "the search is empty";
        else {
            char q[SHOP_ACTION_MAX + 1];
            memcpy(q, arg, n);
            q[n] = 0;
            st->n_results = (uint16_t)shop_search(&e->index, &ep->scratch, q, st->results);
            st->page = PG_RESULTS;
            st->page_no = 1;
            st->item = -1;
            clear_selection(st);
        }
    } else if (has_prefix(action, len, "click[") && len > 7 && action[len - 1] == ']') {
        why = apply_click(ep, action + 6, len - 7, whybuf, sizeof whybuf);
    } else {
        why = "expected search[...] or click[...]";
    }
    if (why) {
        eef_buf_clear(&ep->obs);
        eef_buf_printf(&ep->obs, "Invalid action: %s.", why);
    } else {
        shop_page_render(ep);
    }
    if (!ep->obs.data) return eef_fail(EEF_ENOMEM, "shop: out of memory rendering a page");
    if (!st->done && st->steps >= e->base.max_steps) {
        st->done = 1; /* out of steps: nothing bought, reward 0 */
        st->reward = 0.0;
    }
    fill_step(ep, why == NULL, out);
    return EEF_OK;
}

static eef_err shop_actions(eef_episode *epb, eef_actions *out)
{
    shop_episode *ep = (shop_episode *)epb;
    eef_strlist_clear(&out->items);
    out->free_prefix = out->free_suffix = NULL;
    if (ep->st.done) return EEF_OK;
    EEF_TRY(shop_page_clicks(ep));
    char small[256];
    for (size_t i = 0; i < ep->n_clicks; i++) {
        size_t need = strlen(ep->clicks[i].label) + 8;
        char *buf = need <= sizeof small ? small : eef_malloc(need);
        if (!buf) return EEF_ENOMEM;
        snprintf(buf, need, "click[%s]", ep->clicks[i].label);
        int rc = eef_strlist_push(&out->items, buf);
        if (buf != small) free(buf);
        if (rc != 0) return eef_fail(EEF_ENOMEM, "shop: out of memory listing actions");
    }
    if (ep->st.page == PG_SEARCH) {
        out->free_prefix = "search[";
        out->free_suffix = "]";
    }
    return EEF_OK;
}

static eef_err shop_copy(eef_episode *dstb, const eef_episode *srcb)
{
    shop_episode *dst = (shop_episode *)dstb;
    const shop_episode *src = (const shop_episode *)srcb;
    if (dst->base.env != src->base.env)
        return eef_fail(EEF_EINVAL, "shop: copy between episodes of different environments");
    dst->st = src->st;
    eef_buf_clear(&dst->obs);
    if (src->obs.data && eef_buf_append(&dst->obs, src->obs.data, src->obs.len) != 0)
        return eef_fail(EEF_ENOMEM, "shop: out of memory copying an episode");
    return EEF_OK;
}

/* ------------------------------------------------------------------ digest */
static uint64_t put_str(uint64_t d, const char *s)
{
    return eef_hash_bytes(d, s ? s : "", (s ? strlen(s) : 0) + 1); /* the NUL separates fields */
}

static uint64_t put_strs(uint64_t d, const char *const *s, uint32_t n)
{
    d = eef_hash_bytes(d, &n, sizeof n);
    for (uint32_t i = 0; i < n; i++) d = put_str(d, s[i]);
    return d;
}

/* Every task's id, tier and instruction; then the data files' bytes when
 * loaded, else what the generator made of each product (the page texts,
 * options and price the reward reads). */
static uint64_t shop_digest(const eef_env *env)
{
    const shop_env *e = (const shop_env *)env;
    uint64_t d = EEF_HASH_START;
    for (int s = 0; s < 2; s++) {
        uint64_t n = e->n_tasks[s];
        d = eef_hash_bytes(d, &n, sizeof n);
        for (size_t i = 0; i < e->n_tasks[s]; i++) {
            const shop_task *t = &e->tasks[s][i];
            int32_t tier = (int32_t)t->tier;
            d = put_str(d, t->id);
            d = eef_hash_bytes(d, &tier, sizeof tier);
            d = put_str(d, t->goal.instruction);
        }
    }
    if (!e->cat.generated) return eef_hash_bytes(d, &e->cat.file_hash, sizeof e->cat.file_hash);
    for (size_t i = 0; i < e->cat.n; i++) {
        const shop_product *p = &e->cat.items[i];
        d = put_str(d, p->asin);
        d = put_str(d, p->title);
        d = put_str(d, p->category);
        d = put_str(d, p->query);
        d = put_str(d, p->product_category);
        d = put_str(d, p->description);
        d = put_strs(d, p->bullets, p->n_bullets);
        d = put_strs(d, p->attrs, p->n_attrs);
        d = put_strs(d, p->reviews, p->n_reviews);
        d = put_str(d, p->price_tag);
        d = eef_hash_bytes(d, &p->price, sizeof p->price);
        for (uint32_t k = 0; k < p->n_dims; k++) {
            d = put_str(d, p->dims[k].name);
            d = put_strs(d, p->dims[k].values, p->dims[k].n_values);
        }
    }
    return d;
}

static const eef_env_ops shop_ops = {
    .version = EEF_ENV_OPS_VERSION,
    .name = "shop",
    .n_tasks = shop_n_tasks,
    .task = shop_task_info,
    .episode_open = shop_episode_open,
    .reset = shop_reset,
    .step = shop_step,
    .actions = shop_actions,
    .copy = shop_copy,
    .key_actions = eef_shop_key_actions,
    .digest = shop_digest,
    .episode_close = shop_episode_close,
    .close = shop_close,
};

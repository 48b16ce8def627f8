/* expert_shop.c: the built-in shop expert, a scripted shopper that plays
 * like GPT-4 does on WebShop, reading only the page texts.
 *
 * The plan: search the instruction's key words; on a results page open
 * the best-matching title within the price bound; on its page reject it
 * when the price or a wanted option value is wrong, check its Attributes
 * when a look-alike sits on the results page, go back and try the next
 * candidate (at most `per_page` per page), page on with "Next >" when none
 * fits; choose the instruction's option values; Buy Now.
 *
 * The weaknesses, each a knob of the options string (defaults calibrated
 * on the default train split, see docs/shop.md):
 *   wrong_option=P         chance of a wrong value in a product with one
 *   wrong_option_growth=P  option group, plus this per extra group
 *   fatigue=P              plus this per product already rejected (long
 *                          searches make it sloppy)
 *   attr_check=P           chance to check Attributes when the page does not
 *                          show everything asked for, or look-alikes show
 *   attr_miss=P            chance to overlook a missing attribute there
 *   impatience=P           chance, each time it would page, to stop and buy
 *                          the best-looking product of the current page
 *   misclick=P             chance per step of a wrong click, then recovery
 *   per_page=N             products rejected on a results page before it pages
 *                          on (one rejected at a glance counts half)
 *   step_budget=N          steps it plans with (WebShop's limit, 15)
 * and three habits of a weaker shopper, off by default (profile=weak
 * turns them on, as `--expert weak`: GPT-3.5 to the default's GPT-4):
 *   first_result=P         chance per rollout to trust the search ranking:
 *                          it opens the first result not yet rejected,
 *                          however well its title matches
 *   misread=P              chance per wanted option value to read the row
 *                          next to it (the value listed after it, or before
 *                          the last one): "6 pack" for "4 pack", "large" for
 *                          "medium"
 *   stop_early=P           chance per rollout to buy as soon as the first
 *                          option group is set, without checking Attributes
 *   stream=N               0: draw from the rollout's stream; N > 0: from
 *                          sub-stream N of it (the weak profile: 1), so
 *                          the two profiles play one rollout key
 *                          independently, as two different models would
 *   profile=default|weak   all knobs at once (give it first: later keys
 *                          override it)
 *
 * What it knows is rebuilt from the observation history at every call, so
 * it can take over any state; only its random decisions (which value it
 * will wrongly pick, whether it checks, a misclick to undo) are kept in
 * the actor, for the episode they were drawn in.  Every draw comes from
 * the rollout's rng.
 */
#include "expert_shop_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    double wrong_option, wrong_option_growth, fatigue, attr_check, attr_miss, impatience, misclick;
    long per_page, step_budget;
    double first_result, misread, stop_early;
    long stream; /* 0: draws from the rollout's stream; N: from its own
                  * sub-stream N, so two profiles on one rollout key are
                  * independent players */
} xs_knobs;

/* Calibrated defaults (docs/shop.md has the measurement). */
static const xs_knobs XS_DEFAULTS = {
    .wrong_option = 0.08,
    .wrong_option_growth = 0.25,
    .fatigue = 0.4,
    .attr_check = 0.97,
    .attr_miss = 0.03,
    .impatience = 0.03,
    .misclick = 0.02,
    .per_page = 1,
    .step_budget = 15,
};

/* The weak profile: the default's skill with the three habits above, so it
 * wins about half as often (docs/shop.md has the measurement). */
static const xs_knobs XS_WEAK = {
    .wrong_option = 0.08,
    .wrong_option_growth = 0.25,
    .fatigue = 0.4,
    .attr_check = 0.97,
    .attr_miss = 0.03,
    .impatience = 0.03,
    .misclick = 0.02,
    .per_page = 1,
    .step_budget = 15,
    .first_result = 0.6,
    .misread = 0.5,
    .stop_early = 0.6,
    .stream = 1,
};

typedef struct {
    eef_policy base;
    xs_knobs k;
} xs_policy;

/* ------------------------------------------------------------------ memory */
#define XS_MEM 32

typedef struct {
    char asin[16];
    signed char check;                   /* -1 undecided, 0 no, 1 yes */
    signed char misread;                 /* -1 undecided, 0 no, 1 overlooks a gap */
    signed char plan_set;
    short plan[XS_MAX_GROUPS];           /* value to click per group, -1 none */
} xs_prod;

typedef struct {
    eef_actor base;
    uint64_t episode;
    size_t n;            /* actions in the history when memory was last written */
    char last[256];      /* the action then chosen */
    int valid;
    int impatient;       /* stop paging: buy the best-looking product */
    char recover[1024];  /* action undoing a misclick, or "" */
    xs_prod prod[XS_MEM];
    int n_prod;
    int trust_rank, stop_early; /* this rollout's habits (first_result, stop_early) */
    xs_tokens tk, tk2;   /* scratch */
} xs_actor;

static void memory_reset(xs_actor *x, uint64_t episode)
{
    x->episode = episode;
    x->valid = 1;
    x->impatient = 0;
    x->recover[0] = 0;
    x->n_prod = 0;
    x->last[0] = 0;
}

static xs_prod *memory_prod(xs_actor *x, const char *asin)
{
    for (int i = 0; i < x->n_prod; i++)
        if (strcasecmp(x->prod[i].asin, asin) == 0) return &x->prod[i];
    xs_prod *p = &x->prod[x->n_prod < XS_MEM ? x->n_prod++ : XS_MEM - 1];
    memset(p, 0, sizeof *p);
    snprintf(p->asin, sizeof p->asin, "%s", asin);
    p->check = p->misread = -1;
    return p;
}

/* ------------------------------------------------------------------ beliefs
 * Facts of the episode so far, from the history alone. */
typedef struct {
    xs_page page;       /* the page now */
    int page_no;        /* results page in effect */
    int searches;
    int checked_on[8];  /* products of results page 1..7 rejected after an Attributes check */
    int glanced_on[8];  /* ... rejected at a glance (price, option values) */
    int cur_page;       /* results page the current product was opened from */
    char left[40][16];  /* products visited and left: rejected */
    int n_left;
    char checked[8][160]; /* titles of products rejected after an Attributes check */
    int n_checked;
    char cur[16];       /* product of the current item visit */
    char cur_title[160];
    int results_obs;    /* history index of the results page it came from, -1 */
    int attr_obs;       /* history index of its Attributes page, -1 */
    const char *clicked[24]; /* values clicked during the visit (action texts) */
    int n_clicked;
} xs_beliefs;

static int is_button(const char *label)
{
    static const char *const B[] = { "Back to Search", "< Prev", "Next >", "Description",
                                     "Features", "Reviews", "Attributes", "Buy Now" };
    for (size_t i = 0; i < sizeof B / sizeof *B; i++)
        if (strcasecmp(B[i], label) == 0) return 1;
    return 0;
}

/* "click[X]" -> X (into out); 0 when not a click */
static int click_label(const char *a, char *out, size_t cap)
{
    size_t n = strlen(a);
    if (n < 8 || strncmp(a, "click[", 6) != 0 || a[n - 1] != ']') return 0;
    snprintf(out, cap, "%.*s", (int)(n - 7), a + 6);
    return 1;
}

static int in_left(const xs_beliefs *b, const char *asin)
{
    for (int i = 0; i < b->n_left; i++)
        if (strcasecmp(b->left[i], asin) == 0) return 1;
    return 0;
}

static void leave_item(xs_beliefs *b)
{
    if (b->cur[0] && !in_left(b, b->cur) && b->n_left < 40) snprintf(b->left[b->n_left++], 16, "%s", b->cur);
    if (b->cur[0] && b->attr_obs >= 0 && b->n_checked < 8)
        snprintf(b->checked[b->n_checked++], sizeof b->checked[0], "%s", b->cur_title);
    if (b->cur[0] && b->cur_page >= 1 && b->cur_page < 8) {
        if (b->attr_obs >= 0) b->checked_on[b->cur_page]++;
        else b->glanced_on[b->cur_page]++;
    }
    b->cur[0] = 0;
    b->n_clicked = 0;
    b->attr_obs = -1;
}

static void derive(xs_actor *x, const eef_context *ctx, xs_beliefs *b)
{
    memset(b, 0, sizeof *b);
    b->results_obs = b->attr_obs = -1;
    xs_page page = XP_SEARCH;
    char label[256];
    for (size_t i = 0; i <= ctx->n; i++) {
        xs_split(ctx->obs[i], &x->tk);
        xs_page p = xs_page_of(&x->tk);
        if (p != XP_OTHER) page = p; /* an "Invalid action" message keeps the page */
        if (i == ctx->n) break;
        const char *a = ctx->acts[i];
        if (strncmp(a, "search[", 7) == 0 && page == XP_SEARCH) {
            b->page_no = 1;
            b->searches++;
            continue;
        }
        if (!click_label(a, label, sizeof label)) continue;
        if (strcasecmp(label, "Back to Search") == 0) {
            if (page == XP_ITEM || page == XP_SUB) leave_item(b);
            b->page_no = 0;
        } else if (page == XP_RESULTS) {
            if (strcasecmp(label, "Next >") == 0) b->page_no++;
            else if (strcasecmp(label, "< Prev") == 0) b->page_no--;
            else if (!is_button(label)) {
                snprintf(b->cur, sizeof b->cur, "%.15s", label);
                b->cur_page = b->page_no;
                xs_results r;
                b->cur_title[0] = 0;
                if (xs_results_parse(&x->tk, &r))
                    for (int k = 0; k < r.n; k++)
                        if (strcasecmp(r.items[k].asin, label) == 0)
                            snprintf(b->cur_title, sizeof b->cur_title, "%s", r.items[k].title);
                b->results_obs = (int)i;
                b->attr_obs = -1;
                b->n_clicked = 0;
            }
        } else if (page == XP_ITEM) {
            if (strcasecmp(label, "< Prev") == 0) leave_item(b);
            else if (strcasecmp(label, "Attributes") == 0) b->attr_obs = (int)i + 1;
            else if (!is_button(label) && b->n_clicked < 24) b->clicked[b->n_clicked++] = a;
        }
    }
    b->page = page;
}

/* ------------------------------------------------------------------ decisions */
static int allowed(const eef_context *ctx, const char *a)
{
    return eef_actions_allows(ctx->valid, a);
}

static void set_click(eef_buf *out, const char *label)
{
    eef_buf_clear(out);
    eef_buf_printf(out, "click[%s]", label);
}

/* value currently chosen in group g during this visit (-1 none) */
static int chosen_in_group(const xs_beliefs *b, const xs_group *grp)
{
    int cur = -1;
    char label[256];
    for (int i = 0; i < b->n_clicked; i++) {
        if (!click_label(b->clicked[i], label, sizeof label)) continue;
        for (int v = 0; v < grp->n_values; v++)
            if (strcasecmp(grp->values[v], label) == 0) cur = v;
    }
    return cur;
}

/* The option plan of a product: the wanted values, some drawn wrong. */
static void plan_options(const xs_knobs *k, const xs_goal *g, const xs_item *it, int rejected, xs_prod *m,
                         eef_rng *rng)
{
    if (m->plan_set) return;
    m->plan_set = 1;
    int want[XS_MAX_GROUPS], n_want = 0;
    for (int i = 0; i < it->n_groups; i++) {
        want[i] = xs_wanted_value(g, &it->groups[i]);
        n_want += want[i] >= 0;
    }
    double p = k->wrong_option + k->wrong_option_growth * (n_want > 1 ? n_want - 1 : 0) + k->fatigue * rejected;
    if (p > 0.95) p = 0.95;
    for (int i = 0; i < it->n_groups; i++) {
        m->plan[i] = (short)want[i];
        int nv = it->groups[i].n_values;
        if (want[i] >= 0 && nv > 1 && k->misread > 0 && eef_rng_uniform(rng) < k->misread) {
            m->plan[i] = (short)(want[i] + 1 < nv ? want[i] + 1 : want[i] - 1); /* the next row */
            continue;
        }
        if (want[i] >= 0 && eef_rng_uniform(rng) < p) {
            /* half the slips forget the group, half pick another value */
            if (it->groups[i].n_values < 2 || eef_rng_uniform(rng) < 0.5) {
                m->plan[i] = -1;
            } else {
                int v = (int)eef_rng_below(rng, (uint64_t)it->groups[i].n_values - 1);
                m->plan[i] = (short)(v >= want[i] ? v + 1 : v);
            }
        }
    }
}

/* Does the product fit what the page shows: price, and a wanted value in
 * every option group the instruction names? */
static int item_fits(const xs_goal *g, const xs_item *it)
{
    if (it->price > g->bound) return 0;
    for (int i = 0; i < it->n_groups; i++) {
        if (xs_wanted_value(g, &it->groups[i]) >= 0) continue;
        char first[64];
        snprintf(first, sizeof first, "%s", it->groups[i].name);
        first[strcspn(first, " ")] = 0; /* "flavor name" -> "flavor" */
        if (xs_mentions(g, first)) return 0;
    }
    return 1;
}

/* Attributes page verdict: every key word of the instruction is somewhere
 * in the title, the attributes or the options; -1 when not seen. */
static int attr_verdict(xs_actor *x, const eef_context *ctx, const xs_beliefs *b, const xs_goal *g,
                        const xs_item *it)
{
    if (b->attr_obs < 0 || (size_t)b->attr_obs > ctx->n) return -1;
    xs_split(ctx->obs[b->attr_obs], &x->tk2);
    eef_buf text;
    eef_buf_init(&text);
    eef_buf_puts(&text, it->title);
    for (int i = 4; i < x->tk2.n; i++) eef_buf_printf(&text, " %s", x->tk2.tok[i]);
    for (int i = 0; i < it->n_groups; i++) {
        eef_buf_printf(&text, " %s", it->groups[i].name);
        for (int v = 0; v < it->groups[i].n_values; v++) eef_buf_printf(&text, " %s", it->groups[i].values[v]);
    }
    int ok = text.data && xs_coverage(g, text.data) >= 1.0;
    eef_buf_free(&text);
    return ok;
}

/* The product to open next: the first result, in the shop's order, that
 * looks plausible (its title shows at least 30% as many of the key words
 * as the best title on the page), is within the bound and not rejected; a
 * look-alike of a product whose Attributes lacked something comes first,
 * as it is likely the other variant of the right product.  Without
 * `strict`: the best-looking title, whatever its price.  -1 when none. */
static int best_result(const xs_goal *g, const xs_results *r, const xs_beliefs *b, int strict)
{
    double cov[XS_MAX_RESULTS], top = 0;
    for (int i = 0; i < r->n; i++) {
        cov[i] = xs_coverage(g, r->items[i].title);
        if (cov[i] > top) top = cov[i];
    }
    int best = -1;
    double best_s = -1;
    for (int i = 0; i < r->n; i++) {
        const xs_result *it = &r->items[i];
        double s = cov[i];
        if (strict) {
            if (it->price > g->bound || in_left(b, it->asin) || cov[i] < 0.3 * top) continue;
            s = 0;
            for (int k = 0; k < b->n_checked; k++)
                if (xs_titles_alike(b->checked[k], it->title)) s = 1;
        }
        if (s > best_s) best = i, best_s = s;
    }
    return best;
}

/* The first result not rejected yet, in the shop's order (-1 none). */
static int first_unrejected(const xs_results *r, const xs_beliefs *b)
{
    for (int i = 0; i < r->n; i++)
        if (!in_left(b, r->items[i].asin)) return i;
    return -1;
}

static void best_looking(const xs_goal *g, const xs_results *r, const xs_beliefs *b, eef_buf *out)
{
    int i = best_result(g, r, b, 1);
    if (i < 0) i = best_result(g, r, b, 0);
    set_click(out, r->items[i < 0 ? 0 : i].asin);
}

static void on_results(xs_actor *x, const xs_knobs *k, const eef_context *ctx, const xs_goal *g,
                       const xs_beliefs *b, eef_rng *rng, eef_buf *out)
{
    xs_results r;
    xs_split(ctx->obs[ctx->n], &x->tk);
    if (!xs_results_parse(&x->tk, &r) || r.n == 0) { /* nothing found: search again */
        set_click(out, "Back to Search");
        return;
    }
    long left = k->step_budget - (long)ctx->n;
    if (x->impatient || left <= 3) {
        best_looking(g, &r, b, out);
        return;
    }
    int best = x->trust_rank ? first_unrejected(&r, b) : best_result(g, &r, b, 1);
    /* patience: products rejected on this page, a glance counting half */
    double checked = r.page_no >= 1 && r.page_no < 8 ? b->checked_on[r.page_no] + 0.5 * b->glanced_on[r.page_no] : 0;
    /* the other listing of a product that nearly fit is worth one more look */
    int sibling = 0;
    for (int i = 0; best >= 0 && i < b->n_checked; i++)
        sibling |= xs_titles_alike(b->checked[i], r.items[best].title);
    if (best >= 0 && (checked < k->per_page || (sibling && checked < k->per_page + 1))) {
        set_click(out, r.items[best].asin);
        return;
    }
    /* nothing (more) worth opening here */
    if (r.has_next && left > 4 && eef_rng_uniform(rng) >= k->impatience) {
        set_click(out, "Next >");
        return;
    }
    x->impatient = 1;
    best_looking(g, &r, b, out);
}

/* 1 when a key word of the instruction is not in the title or options */
static int unseen_words(const xs_goal *g, const xs_item *it)
{
    eef_buf text;
    eef_buf_init(&text);
    eef_buf_puts(&text, it->title);
    for (int i = 0; i < it->n_groups; i++) {
        eef_buf_printf(&text, " %s", it->groups[i].name);
        for (int v = 0; v < it->groups[i].n_values; v++) eef_buf_printf(&text, " %s", it->groups[i].values[v]);
    }
    int unseen = !text.data || xs_coverage(g, text.data) < 1.0;
    eef_buf_free(&text);
    return unseen;
}

/* 1 when another product of the results page has a look-alike title */
static int lookalike(xs_actor *x, const eef_context *ctx, const xs_beliefs *b, const xs_item *it)
{
    xs_results r;
    if (b->results_obs < 0) return 0;
    xs_split(ctx->obs[b->results_obs], &x->tk2);
    if (!xs_results_parse(&x->tk2, &r)) return 0;
    for (int i = 0; i < r.n; i++)
        if (strcasecmp(r.items[i].asin, b->cur) != 0 && xs_titles_alike(r.items[i].title, it->title)) return 1;
    return 0;
}

static void on_item(xs_actor *x, const xs_knobs *k, const eef_context *ctx, const xs_goal *g,
                    const xs_beliefs *b, eef_rng *rng, eef_buf *out)
{
    xs_item it;
    xs_split(ctx->obs[ctx->n], &x->tk);
    if (!xs_item_parse(&x->tk, ctx->valid, &it) || !b->cur[0]) {
        set_click(out, "Buy Now");
        return;
    }
    xs_prod *m = memory_prod(x, b->cur);
    plan_options(k, g, &it, b->n_left, m, rng);
    if (x->stop_early) { /* the first planned value, then Buy Now */
        if (!item_fits(g, &it) && k->step_budget - (long)ctx->n >= 4) {
            set_click(out, "< Prev");
            return;
        }
        for (int i = 0; i < it.n_groups; i++)
            if (m->plan[i] >= 0) {
                if (chosen_in_group(b, &it.groups[i]) == m->plan[i]) break;
                set_click(out, it.groups[i].values[m->plan[i]]);
                return;
            }
        set_click(out, "Buy Now");
        return;
    }
    int todo = 0;
    for (int i = 0; i < it.n_groups; i++)
        if (m->plan[i] >= 0 && chosen_in_group(b, &it.groups[i]) != m->plan[i]) todo++;
    /* going back to try another product takes at least 3 steps */
    long left = k->step_budget - (long)ctx->n;
    int hurry = x->impatient || left < todo + 3;
    if (!hurry) {
        if (!item_fits(g, &it)) {
            set_click(out, "< Prev");
            return;
        }
        int verdict = attr_verdict(x, ctx, b, g, &it);
        if (verdict == 0) {
            if (m->misread < 0) m->misread = eef_rng_uniform(rng) < k->attr_miss;
            if (!m->misread) {
                set_click(out, "< Prev");
                return;
            }
        }
        if (verdict < 0 && left > todo + 3 && (unseen_words(g, &it) || lookalike(x, ctx, b, &it))) {
            /* something asked for is not on this page, or a look-alike is on
             * the results page: a closer look at the Attributes */
            if (m->check < 0) m->check = eef_rng_uniform(rng) < k->attr_check;
            if (m->check == 1) {
                set_click(out, "Attributes");
                return;
            }
        }
    }
    for (int i = 0; i < it.n_groups; i++)
        if (m->plan[i] >= 0 && chosen_in_group(b, &it.groups[i]) != m->plan[i]) {
            set_click(out, it.groups[i].values[m->plan[i]]);
            return;
        }
    set_click(out, "Buy Now");
}

/* A wrong click and how to undo it (NULL when the plan recovers by itself). */
static const char *misclick(const eef_context *ctx, xs_page page, const char *planned, eef_rng *rng,
                            eef_buf *out)
{
    const eef_strlist *v = &ctx->valid->items;
    const char *cand[128];
    int n = 0;
    for (size_t i = 0; i < v->n && n < 128; i++) {
        const char *a = v->items[i];
        if (strcmp(a, planned) == 0 || strcmp(a, "click[Buy Now]") == 0 ||
            (page == XP_ITEM && (strcmp(a, "click[< Prev]") == 0 || strcmp(a, "click[Back to Search]") == 0)))
            continue;
        cand[n++] = a;
    }
    if (!n) return NULL;
    const char *a = cand[eef_rng_below(rng, (uint64_t)n)];
    eef_buf_clear(out);
    eef_buf_puts(out, a);
    if (page == XP_RESULTS && strcmp(a, "click[Back to Search]") == 0) {
        /* undone by searching again with the last search */
        for (size_t i = ctx->n; i-- > 0;)
            if (strncmp(ctx->acts[i], "search[", 7) == 0) return ctx->acts[i];
        return "";
    }
    if (page == XP_RESULTS) return strcmp(a, "click[< Prev]") == 0 ? "click[Next >]" : "click[< Prev]";
    /* on an item page: a sub-page is left with < Prev; a wrong option value
     * is put right by the plan, which re-clicks the value it wants */
    char label[256];
    return click_label(a, label, sizeof label) && is_button(label) ? "click[< Prev]" : "";
}

static eef_err xs_act(eef_actor *a, const eef_context *ctx, eef_rng *rng, eef_buf *action)
{
    xs_actor *x = (xs_actor *)a;
    const xs_knobs *k = &((xs_policy *)a->policy)->k;
    eef_buf_clear(action);
    /* memory holds for the episode it was written in, one call ago */
    if (ctx->n == 0 || !x->valid || x->episode != ctx->episode || x->n + 1 != ctx->n ||
        strcmp(ctx->acts[ctx->n - 1], x->last) != 0)
        memory_reset(x, ctx->episode);
    /* the rollout's habits come from a sub-stream keyed by its stream, so
     * every call of one rollout has the same ones, whatever its history */
    eef_rng hab = eef_rng_make(eef_rng_key(rng->key, EEF_STREAM_SHOP_HABITS, 0, 0));
    double u_rank = eef_rng_uniform(&hab), u_stop = eef_rng_uniform(&hab);
    x->trust_rank = u_rank < k->first_result;
    x->stop_early = u_stop < k->stop_early;
    eef_rng own;
    if (k->stream) { /* a sub-stream per call, keyed by the call's place in the stream */
        own = eef_rng_make(eef_rng_key(rng->key, EEF_STREAM_SHOP_EXPERT, (uint64_t)k->stream, rng->ctr));
        rng->ctr++;
        rng = &own;
    }
    xs_goal g;
    if (!xs_goal_parse(ctx->obs[0], &g)) xs_goal_parse(ctx->obs[ctx->n], &g);
    xs_beliefs b;
    derive(x, ctx, &b);
    if (x->recover[0] && allowed(ctx, x->recover)) {
        eef_buf_puts(action, x->recover);
        x->recover[0] = 0;
    } else {
        x->recover[0] = 0;
        switch (b.page) {
        case XP_SEARCH: {
            /* a second search drops the last words of the first one */
            char q[1024];
            snprintf(q, sizeof q, "%s", g.query);
            for (int s = 0; s < b.searches && strchr(q, ' '); s++) *strrchr(q, ' ') = 0;
            eef_buf_printf(action, "search[%s]", q[0] ? q : "shop");
            break;
        }
        case XP_RESULTS: on_results(x, k, ctx, &g, &b, rng, action); break;
        case XP_ITEM: on_item(x, k, ctx, &g, &b, rng, action); break;
        default: set_click(action, "< Prev"); break; /* sub-pages: back to the item */
        }
        long left = k->step_budget - (long)ctx->n;
        if ((b.page == XP_RESULTS || b.page == XP_ITEM) && left > 5 && !x->impatient &&
            eef_rng_uniform(rng) < k->misclick) {
            char planned[512];
            snprintf(planned, sizeof planned, "%s", action->data ? action->data : "");
            const char *undo = misclick(ctx, b.page, planned, rng, action);
            if (undo) snprintf(x->recover, sizeof x->recover, "%s", undo);
            else {
                eef_buf_clear(action);
                eef_buf_puts(action, planned);
            }
        }
    }
    /* never send an action the page does not allow */
    if (!action->data || !allowed(ctx, action->data)) {
        eef_buf_clear(action);
        if (ctx->valid->items.n) eef_buf_puts(action, ctx->valid->items.items[0]);
        else eef_buf_printf(action, "search[%s]", g.query[0] ? g.query : "shop");
    }
    if (!action->data) return eef_fail(EEF_ENOMEM, "expert-shop: out of memory");
    x->n = ctx->n;
    snprintf(x->last, sizeof x->last, "%s", action->data);
    return EEF_OK;
}

/* ------------------------------------------------------------------ policy */
static eef_err xs_actor_open(eef_policy *p, eef_actor **out)
{
    xs_actor *x = eef_calloc(1, sizeof *x);
    if (!x) return EEF_ENOMEM;
    x->base.policy = p;
    *out = &x->base;
    return EEF_OK;
}

static void xs_actor_close(eef_actor *a)
{
    xs_actor *x = (xs_actor *)a;
    if (!x) return;
    xs_tokens_free(&x->tk);
    xs_tokens_free(&x->tk2);
    free(x);
}

static void xs_close(eef_policy *p) { free(p); }

static const eef_policy_ops xs_ops = {
    .version = EEF_POLICY_OPS_VERSION,
    .name = "expert-shop",
    .actor_open = xs_actor_open,
    .act = xs_act,
    .actor_close = xs_actor_close,
    .close = xs_close,
};

static eef_err parse_knob(const char *key, const char *value, void *ctx)
{
    xs_knobs *k = ctx;
    if (strcmp(key, "profile") == 0) {
        if (strcmp(value, "default") == 0) *k = XS_DEFAULTS;
        else if (strcmp(value, "weak") == 0) *k = XS_WEAK;
        else return eef_fail(EEF_EINVAL, "expert-shop: unknown profile '%s' (default, weak)", value);
        return EEF_OK;
    }
    struct { const char *name; double *dst; } probs[] = {
        { "wrong_option", &k->wrong_option }, { "wrong_option_growth", &k->wrong_option_growth },
        { "fatigue", &k->fatigue },
        { "attr_check", &k->attr_check },     { "attr_miss", &k->attr_miss },
        { "impatience", &k->impatience },     { "misclick", &k->misclick },
        { "first_result", &k->first_result }, { "misread", &k->misread },
        { "stop_early", &k->stop_early },
    };
    for (size_t i = 0; i < sizeof probs / sizeof *probs; i++)
        if (strcmp(key, probs[i].name) == 0) return eef_parse_double(value, 0, 1, key, probs[i].dst);
    if (strcmp(key, "per_page") == 0) return eef_parse_long(value, 1, 10, key, &k->per_page);
    if (strcmp(key, "step_budget") == 0) return eef_parse_long(value, 3, 1000, key, &k->step_budget);
    if (strcmp(key, "stream") == 0) return eef_parse_long(value, 0, 1L << 30, key, &k->stream);
    return eef_fail(EEF_EINVAL,
                    "expert-shop: unknown option '%s' (wrong_option, wrong_option_growth, fatigue, attr_check, "
                    "attr_miss, impatience, misclick, per_page, step_budget, first_result, misread, stop_early, "
                    "stream, profile)",
                    key);
}

eef_err eef_expert_shop_open(const char *options, eef_policy **out)
{
    *out = NULL;
    xs_policy *p = eef_calloc(1, sizeof *p);
    if (!p) return EEF_ENOMEM;
    p->base.ops = &xs_ops;
    p->k = XS_DEFAULTS;
    eef_err err = eef_env_options(options, parse_knob, &p->k);
    if (err) {
        free(p);
        return err;
    }
    *out = &p->base;
    return EEF_OK;
}

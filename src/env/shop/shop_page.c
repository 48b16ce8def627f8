/* shop_page.c: what a page shows and what can be clicked on it.
 *
 * Observations are WebShop's "simple" text mode: the visible texts of the
 * page joined by " [SEP] ", e.g.
 *   search:  WebShop [SEP] Instruction: [SEP] <instruction> [SEP] Search
 *   results: Instruction: [SEP] <instruction> [SEP] Back to Search [SEP]
 *            Page 1 (Total results: 50) [SEP] Next > [SEP] B0ABC12345 [SEP]
 *            <title> [SEP] $12.99 [SEP] ...
 *   item:    Instruction: [SEP] <instruction> [SEP] Back to Search [SEP] < Prev
 *            [SEP] color [SEP] black [SEP] white [SEP] <title> [SEP]
 *            Price: $12.99 [SEP] Rating: N.A. [SEP] Description [SEP] Features
 *            [SEP] Reviews [SEP] Attributes [SEP] Buy Now
 *   sub-page: Instruction: [SEP] <instruction> [SEP] Back to Search [SEP]
 *            < Prev [SEP] <description | bullets | reviews | attributes>
 * As in simple mode, chosen options are not marked on the page.
 */
#include "shop_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const SUB_NAMES[] = { "Description", "Features", "Reviews", "Attributes" };

static eef_err add_click(shop_episode *ep, const char *label, int kind, uint32_t dim, uint32_t arg)
{
    for (size_t i = 0; i < ep->n_clicks; i++)
        if (strcasecmp(ep->clicks[i].label, label) == 0) return EEF_OK; /* first one wins */
    if (ep->n_clicks == ep->cap_clicks) {
        size_t cap = ep->cap_clicks ? ep->cap_clicks * 2 : 32;
        shop_click *c = eef_realloc(ep->clicks, cap * sizeof *c);
        if (!c) return EEF_ENOMEM;
        ep->clicks = c;
        ep->cap_clicks = cap;
    }
    ep->clicks[ep->n_clicks++] = (shop_click){ label, (uint8_t)kind, (uint8_t)dim, arg };
    return EEF_OK;
}

eef_err shop_page_clicks(shop_episode *ep)
{
    const shop_env *e = shop_env_of(ep);
    const shop_state *st = &ep->st;
    ep->n_clicks = 0;
    switch (st->page) {
    case PG_RESULTS: {
        EEF_TRY(add_click(ep, "Back to Search", CK_BACK, 0, 0));
        if (st->page_no > 1) EEF_TRY(add_click(ep, "< Prev", CK_PREV, 0, 0));
        if ((size_t)st->page_no * SHOP_PER_PAGE < st->n_results)
            EEF_TRY(add_click(ep, "Next >", CK_NEXT, 0, 0));
        size_t lo = (size_t)(st->page_no - 1) * SHOP_PER_PAGE;
        for (size_t i = lo; i < st->n_results && i < lo + SHOP_PER_PAGE; i++)
            EEF_TRY(add_click(ep, e->cat.items[st->results[i]].asin, CK_PRODUCT, 0, st->results[i]));
        break;
    }
    case PG_ITEM: {
        const shop_product *p = &e->cat.items[st->item];
        /* WebShop lists buttons before option values */
        EEF_TRY(add_click(ep, "Back to Search", CK_BACK, 0, 0));
        EEF_TRY(add_click(ep, "< Prev", CK_PREV, 0, 0));
        for (uint32_t k = 0; k < 4; k++) EEF_TRY(add_click(ep, SUB_NAMES[k], CK_SUB, 0, k));
        EEF_TRY(add_click(ep, "Buy Now", CK_BUY, 0, 0));
        for (uint32_t d = 0; d < p->n_dims && d < SHOP_MAX_DIMS; d++)
            for (uint32_t v = 0; v < p->dims[d].n_values; v++)
                EEF_TRY(add_click(ep, p->dims[d].values[v], CK_OPTION, d, v));
        break;
    }
    case PG_SUB:
        EEF_TRY(add_click(ep, "Back to Search", CK_BACK, 0, 0));
        EEF_TRY(add_click(ep, "< Prev", CK_PREV, 0, 0));
        break;
    default: break;
    }
    return EEF_OK;
}

static void sep(eef_buf *b, const char *s)
{
    eef_buf_puts(b, " [SEP] ");
    eef_buf_puts(b, s);
}

void shop_page_render(shop_episode *ep)
{
    const shop_env *e = shop_env_of(ep);
    const shop_state *st = &ep->st;
    const shop_task *t = shop_task_of(ep);
    eef_buf *b = &ep->obs;
    eef_buf_clear(b);
    if (st->page == PG_SEARCH) {
        eef_buf_puts(b, "WebShop [SEP] Instruction: [SEP] ");
        eef_buf_puts(b, t->goal.instruction);
        sep(b, "Search");
        return;
    }
    if (st->page == PG_DONE) {
        eef_buf_printf(b, "Thank you for shopping with us! [SEP] Purchased [SEP] %s [SEP] "
                          "Your score (min 0.0, max 1.0) [SEP] %.2f",
                       e->cat.items[st->item].asin, st->reward);
        return;
    }
    eef_buf_puts(b, "Instruction: [SEP] ");
    eef_buf_puts(b, t->goal.instruction);
    sep(b, "Back to Search");
    if (st->page == PG_RESULTS) {
        eef_buf_printf(b, " [SEP] Page %u (Total results: %u)", (unsigned)st->page_no,
                       (unsigned)st->n_results);
        if (st->page_no > 1) sep(b, "< Prev");
        if ((size_t)st->page_no * SHOP_PER_PAGE < st->n_results) sep(b, "Next >");
        size_t lo = (size_t)(st->page_no - 1) * SHOP_PER_PAGE;
        for (size_t i = lo; i < st->n_results && i < lo + SHOP_PER_PAGE; i++) {
            const shop_product *p = &e->cat.items[st->results[i]];
            sep(b, p->asin);
            sep(b, p->title);
            sep(b, p->price_tag);
        }
        return;
    }
    const shop_product *p = &e->cat.items[st->item];
    sep(b, "< Prev");
    if (st->page == PG_ITEM) {
        for (uint32_t d = 0; d < p->n_dims && d < SHOP_MAX_DIMS; d++) {
            sep(b, p->dims[d].name);
            for (uint32_t v = 0; v < p->dims[d].n_values; v++) sep(b, p->dims[d].values[v]);
        }
        sep(b, p->title);
        eef_buf_printf(b, " [SEP] Price: %s [SEP] Rating: N.A.", p->price_tag);
        for (int k = 0; k < 4; k++) sep(b, SUB_NAMES[k]);
        sep(b, "Buy Now");
        return;
    }
    switch (st->sub) {
    case SUB_DESCRIPTION: sep(b, p->description); break;
    case SUB_FEATURES:
        for (uint32_t k = 0; k < p->n_bullets; k++) sep(b, p->bullets[k]);
        break;
    case SUB_REVIEWS:
        for (uint32_t k = 0; k < p->n_reviews; k++) sep(b, p->reviews[k]);
        break;
    default:
        for (uint32_t k = 0; k < p->n_attrs; k++) sep(b, p->attrs[k]);
    }
}

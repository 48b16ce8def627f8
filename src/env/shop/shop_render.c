/* shop_render.c: the text of WebShop's pages as an agent reads it (see
 * shop.h): observations, actions and action kinds, and where a product
 * id stands on a page.  Remote WebShop servers share it. */
#include "shop_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SEP " [SEP] " /* WebShop's field separator */
#define SEP_LEN 7
#define ITEM_ID_LEN 10

/* A WebShop product id (ASIN) field: "B0" and 8 more capitals or digits. */
static int is_item_id(const char *p, size_t n)
{
    if (n != ITEM_ID_LEN || p[0] != 'B' || p[1] != '0') return 0;
    for (size_t i = 2; i < n; i++)
        if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= '0' && p[i] <= '9'))) return 0;
    return 1;
}

/* The length of the separated field at p (to the next separator or the end). */
static size_t field_len(const char *p)
{
    const char *sep = strstr(p, SEP);
    return sep ? (size_t)(sep - p) : strlen(p);
}

int eef_shop_item_rank(const char *obs, const char *id)
{
    size_t n = strlen(id);
    if (!obs || !is_item_id(id, n)) return 0;
    int rank = 0;
    for (const char *p = obs;;) {
        size_t f = field_len(p);
        if (is_item_id(p, f)) {
            rank++;
            if (memcmp(p, id, n) == 0) return rank;
        }
        if (!p[f]) return 0;
        p += f + SEP_LEN;
    }
}

/* Removes `instr` from `obs` together with a WebShop-style label right
 * before it ("Instruction: [SEP] ") and one separator after it, writes
 * every " [SEP] " as " | " and every product id field as its rank on the
 * page: "WebShop [SEP] Instruction: [SEP] i need x [SEP] Search" becomes
 * "WebShop | Search", "Next > [SEP] B0ABCDEFGH [SEP] Mug" becomes
 * "Next > | #1 | Mug". */
static char *render_obs(const char *obs, const char *instr)
{
    const char *at = instr && *instr ? strstr(obs, instr) : NULL;
    const char *cut0 = obs + strlen(obs), *cut1 = cut0;
    if (at) {
        cut0 = at, cut1 = at + strlen(instr);
        static const char *labels[] = { "Instruction: [SEP] ", "Instruction:\n", "Instruction: " };
        for (size_t i = 0; i < EEF_ARRAY_LEN(labels); i++) {
            size_t ll = strlen(labels[i]);
            if ((size_t)(at - obs) >= ll && memcmp(at - ll, labels[i], ll) == 0) {
                cut0 = at - ll;
                break;
            }
        }
        if (strncmp(cut1, SEP, SEP_LEN) == 0) cut1 += SEP_LEN;
        else if (strncmp(cut1, " [SEP]", 6) == 0) cut1 += 6;
    }
    eef_buf b;
    eef_buf_init(&b);
    int fail = eef_buf_reserve(&b, strlen(obs)), rank = 0;
    for (const char *p = obs, *field = obs; !fail && *p;) {
        if (p == cut0) {
            p = field = cut1;
            continue;
        }
        size_t f;
        if (p == field && is_item_id(p, f = field_len(p))) {
            char tag[16];
            snprintf(tag, sizeof tag, "#%d", ++rank);
            fail = eef_buf_puts(&b, tag);
            p += f;
        } else if (strncmp(p, SEP, SEP_LEN) == 0) {
            fail = eef_buf_puts(&b, " | ");
            p = field = p + SEP_LEN;
        } else {
            fail = eef_buf_append(&b, p, 1);
            p++;
        }
    }
    if (fail) {
        eef_buf_free(&b);
        return NULL;
    }
    if (!b.len) { /* an empty observation: reserve left the buffer unterminated */
        eef_buf_free(&b);
        return eef_strdup("");
    }
    return b.data;
}

/* "verb[arg]" -> "verb arg"; "click[ID]" -> "click #R" for the page's
 * R-th product id. */
static char *render_action(const char *action, const char *obs)
{
    size_t n = strlen(action), v = eef_text_verb_len(action);
    char id[ITEM_ID_LEN + 1] = "";
    if (v && n == v + 2 + ITEM_ID_LEN && action[n - 1] == ']') memcpy(id, action + v + 1, ITEM_ID_LEN);
    int rank = id[0] ? eef_shop_item_rank(obs, id) : 0;
    if (!rank) return eef_text_render_verb(action);
    char *out = eef_malloc(v + 16);
    if (!out) return NULL;
    memcpy(out, action, v);
    snprintf(out + v, 16, " #%d", rank);
    return out;
}

/* The shop's fixed buttons (WebShop's page controls); any other click is
 * on a product or an option. */
static const char *const buttons[] = { "Next >",      "< Prev",   "Back to Search", "Buy Now",
                                       "Description", "Features", "Reviews",        "Attributes" };

static void action_kind(const char *action, char *out, size_t cap)
{
    if (!cap) return;
    while (isspace((unsigned char)*action)) action++;
    size_t n = strlen(action);
    while (n && isspace((unsigned char)action[n - 1])) n--;
    if (n >= 7 && strncasecmp(action, "click[", 6) == 0 && action[n - 1] == ']') {
        const char *inner = action + 6;
        size_t m = n - 7;
        for (size_t i = 0; i < EEF_ARRAY_LEN(buttons); i++)
            if (strlen(buttons[i]) == m && strncasecmp(inner, buttons[i], m) == 0) {
                snprintf(out, cap, "click[%s]", buttons[i]);
                return;
            }
        snprintf(out, cap, "click[item-or-option]");
        return;
    }
    if (n >= 7 && strncasecmp(action, "search[", 7) == 0) {
        snprintf(out, cap, "search");
        return;
    }
    eef_text_verb_kind(action, out, cap);
}

const eef_env_text eef_shop_text = { render_obs, render_action, action_kind };

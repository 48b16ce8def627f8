/* expert_shop_view.c: how the shop expert reads WebShop's simple-mode
 * page texts ("... [SEP] ...") and the instruction. */
#include "expert_shop_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SEP " [SEP] "

void xs_split(const char *obs, xs_tokens *t)
{
    free(t->buf);
    t->buf = strdup(obs ? obs : "");
    t->n = 0;
    if (!t->buf) return;
    char *p = t->buf;
    for (;;) {
        if (t->n == t->cap) {
            int cap = t->cap ? 2 * t->cap : 64;
            const char **tok = realloc(t->tok, (size_t)cap * sizeof *tok);
            if (!tok) return;
            t->tok = tok;
            t->cap = cap;
        }
        t->tok[t->n++] = p;
        char *s = strstr(p, SEP);
        if (!s) break;
        *s = 0;
        p = s + strlen(SEP);
    }
}

void xs_tokens_free(xs_tokens *t)
{
    free(t->buf);
    free(t->tok);
    memset(t, 0, sizeof *t);
}

/* ------------------------------------------------------------------ goal */
void xs_stem(const char *w, size_t n, char *out, size_t cap)
{
    if (n >= cap) n = cap - 1;
    for (size_t i = 0; i < n; i++) out[i] = (char)tolower((unsigned char)w[i]);
    /* plurals: "shoes" ~ "shoe", "extensions" ~ "extension" */
    if (n > 3 && out[n - 1] == 's' && out[n - 2] != 's' && out[n - 2] != 'u') n--;
    out[n] = 0;
}

int xs_goal_parse(const char *obs, xs_goal *g)
{
    memset(g, 0, sizeof *g);
    g->bound = 1e18;
    const char *s = strstr(obs, "Instruction: [SEP] ");
    if (!s) return 0;
    s += strlen("Instruction: [SEP] ");
    const char *e = strstr(s, SEP);
    size_t len = e ? (size_t)(e - s) : strlen(s);
    char instr[2048];
    if (len >= sizeof instr) len = sizeof instr - 1;
    memcpy(instr, s, len);
    instr[len] = 0;
    const char *price = strstr(instr, ", and price lower than ");
    if (price) {
        g->bound = strtod(price + strlen(", and price lower than "), NULL);
        len = (size_t)(price - instr);
    }
    if (len >= sizeof g->key) len = sizeof g->key - 1;
    for (size_t i = 0; i < len; i++) g->key[i] = (char)tolower((unsigned char)instr[i]);
    g->key[len] = 0;
    /* key words: split on spaces, strip punctuation, drop filler */
    size_t q = 0;
    for (size_t i = 0; i < len;) {
        while (i < len && g->key[i] == ' ') i++;
        size_t a = i;
        while (i < len && g->key[i] != ' ') i++;
        size_t b = i;
        while (a < b && strchr(",.;:!?()\"", g->key[a])) a++;
        while (b > a && strchr(",.;:!?()\"", g->key[b - 1])) b--;
        if (a == b || b - a >= 32) continue;
        char w[32];
        memcpy(w, g->key + a, b - a);
        w[b - a] = 0;
        /* the shop's own list: both mean the same by "key words" */
        if (eef_shop_filler_word(w)) continue;
        if (q + (b - a) + 2 < sizeof g->query) {
            if (q) g->query[q++] = ' ';
            memcpy(g->query + q, w, b - a);
            q += b - a;
            g->query[q] = 0;
        }
        if (g->n_words < XS_MAX_WORDS) xs_stem(w, b - a, g->words[g->n_words++], sizeof g->words[0]);
    }
    return 1;
}

/* 1 when `text` has the word (letters and digits, '.' inside numbers). */
static int has_word(const char *text, const char *stem)
{
    const char *p = text;
    while (*p) {
        while (*p && !isalnum((unsigned char)*p)) p++;
        const char *a = p;
        while (*p && (isalnum((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]) && p > a)))
            p++;
        if (p > a) {
            char w[32];
            xs_stem(a, (size_t)(p - a), w, sizeof w);
            if (strcmp(w, stem) == 0) return 1;
        }
    }
    return 0;
}

double xs_coverage(const xs_goal *g, const char *text)
{
    if (!g->n_words) return 0;
    int hit = 0;
    for (int i = 0; i < g->n_words; i++) hit += has_word(text, g->words[i]);
    return (double)hit / g->n_words;
}

int xs_mentions(const xs_goal *g, const char *phrase)
{
    size_t lp = strlen(phrase);
    if (!lp) return 0;
    for (const char *p = g->key; (p = strcasestr(p, phrase)) != NULL; p++) {
        int before = p == g->key || !isalnum((unsigned char)p[-1]);
        int after = !isalnum((unsigned char)p[lp]) && !(p[lp] == '.' && isdigit((unsigned char)p[lp + 1]));
        if (before && after) return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ pages */
static int page_header(const char *s, int *page_no, int *total)
{
    return sscanf(s, "Page %d (Total results: %d)", page_no, total) == 2;
}

xs_page xs_page_of(const xs_tokens *t)
{
    if (t->n == 0) return XP_OTHER;
    if (strcmp(t->tok[0], "WebShop") == 0) return XP_SEARCH;
    if (strncmp(t->tok[0], "Thank you for shopping", 22) == 0) return XP_DONE;
    if (strcmp(t->tok[0], "Instruction:") != 0) return XP_OTHER; /* e.g. "Invalid action: ..." */
    int a, b;
    if (t->n > 3 && page_header(t->tok[3], &a, &b)) return XP_RESULTS;
    if (strcmp(t->tok[t->n - 1], "Buy Now") == 0 && t->n > 6 && strncmp(t->tok[t->n - 6], "Rating:", 7) == 0)
        return XP_ITEM;
    if (t->n >= 4 && strcmp(t->tok[3], "< Prev") == 0) return XP_SUB;
    return XP_OTHER;
}

double xs_price(const char *s)
{
    const char *d = strchr(s, '$');
    return d ? strtod(d + 1, NULL) : 0.0;
}

int xs_results_parse(const xs_tokens *t, xs_results *r)
{
    memset(r, 0, sizeof *r);
    if (t->n < 4 || !page_header(t->tok[3], &r->page_no, &r->total)) return 0;
    int i = 4;
    if (i < t->n && strcmp(t->tok[i], "< Prev") == 0) r->has_prev = 1, i++;
    if (i < t->n && strcmp(t->tok[i], "Next >") == 0) r->has_next = 1, i++;
    for (; i + 2 < t->n && r->n < XS_MAX_RESULTS; i += 3) {
        xs_result *it = &r->items[r->n++];
        snprintf(it->asin, sizeof it->asin, "%s", t->tok[i]);
        it->title = t->tok[i + 1];
        it->price = xs_price(t->tok[i + 2]);
    }
    return 1;
}

static int clickable(const eef_actions *valid, const char *label)
{
    char buf[512];
    snprintf(buf, sizeof buf, "click[%s]", label);
    for (size_t i = 0; i < valid->items.n; i++)
        if (strcasecmp(valid->items.items[i], buf) == 0) return 1;
    return 0;
}

int xs_item_parse(const xs_tokens *t, const eef_actions *valid, xs_item *it)
{
    memset(it, 0, sizeof *it);
    if (xs_page_of(t) != XP_ITEM) return 0;
    /* ... < Prev [SEP] groups ... [SEP] title [SEP] Price: $x [SEP] Rating: N.A. [SEP]
     * Description [SEP] Features [SEP] Reviews [SEP] Attributes [SEP] Buy Now */
    int price_at = t->n - 6 - 1;
    if (price_at < 5 || strncmp(t->tok[price_at], "Price: ", 7) != 0) return 0;
    it->price = xs_price(t->tok[price_at]);
    it->title = t->tok[price_at - 1];
    xs_group *g = NULL;
    for (int i = 4; i < price_at - 1; i++) {
        const char *s = t->tok[i];
        if (valid && clickable(valid, s) && g) {
            if (g->n_values < XS_MAX_VALUES) g->values[g->n_values++] = s;
        } else if (it->n_groups < XS_MAX_GROUPS) {
            g = &it->groups[it->n_groups++];
            g->name = s;
        } else {
            g = NULL;
        }
    }
    return 1;
}

int xs_wanted_value(const xs_goal *g, const xs_group *grp)
{
    int best = -1;
    size_t best_len = 0;
    for (int v = 0; v < grp->n_values; v++) {
        size_t l = strlen(grp->values[v]);
        if (l > best_len && xs_mentions(g, grp->values[v])) best = v, best_len = l;
    }
    return best;
}

/* word sets of the titles: equal, or Jaccard >= 0.8 */
int xs_titles_alike(const char *a, const char *b)
{
    if (strcasecmp(a, b) == 0) return 1;
    char wa[40][32], wb[40][32];
    int na = 0, nb = 0;
    for (int side = 0; side < 2; side++) {
        const char *p = side ? b : a;
        char(*w)[32] = side ? wb : wa;
        int *n = side ? &nb : &na;
        while (*p && *n < 40) {
            while (*p && !isalnum((unsigned char)*p)) p++;
            const char *s = p;
            while (isalnum((unsigned char)*p)) p++;
            if (p > s) xs_stem(s, (size_t)(p - s), w[(*n)++], 32);
        }
    }
    int inter = 0;
    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++)
            if (strcmp(wa[i], wb[j]) == 0) {
                inter++;
                break;
            }
    int uni = na + nb - inter;
    return uni > 0 && inter * 5 >= uni * 4;
}

/*
 * expert_shop_internal.h: what the built-in shop expert reads from the
 * page texts (expert_shop_view.c) and how it plans (expert_shop.c).
 *
 * The expert sees only what any policy sees: the observation texts, its
 * past actions and the valid actions.  It never reads the catalogue.
 */
#ifndef EEF_EXPERT_SHOP_INTERNAL_H
#define EEF_EXPERT_SHOP_INTERNAL_H

#include "agent/policy.h"
#include "env/shop/shop.h"

#define XS_MAX_WORDS 48
#define XS_MAX_RESULTS 10
#define XS_MAX_GROUPS 8
#define XS_MAX_VALUES 48

/* An observation split on " [SEP] " (pointers into an owned copy). */
typedef struct {
    char *buf;
    const char **tok;
    int n, cap;
} xs_tokens;

void xs_split(const char *obs, xs_tokens *t);
void xs_tokens_free(xs_tokens *t);

/* What the instruction asks for. */
typedef struct {
    char key[1024];                 /* lowercase instruction before the price clause */
    char query[1024];               /* its key words: what to search */
    char words[XS_MAX_WORDS][32];   /* key words, stemmed, for matching */
    int n_words;
    double bound;                   /* price bound; 1e18 when none */
} xs_goal;

/* Reads the instruction from any page that shows it; 0 when none does. */
int xs_goal_parse(const char *obs, xs_goal *g);
/* Plural-insensitive word form used for every comparison. */
void xs_stem(const char *w, size_t n, char *out, size_t cap);
/* Fraction of the goal's key words found in `text` (word match). */
double xs_coverage(const xs_goal *g, const char *text);
/* 1 when the instruction's key text contains `phrase` as whole words. */
int xs_mentions(const xs_goal *g, const char *phrase);

typedef enum { XP_SEARCH, XP_RESULTS, XP_ITEM, XP_SUB, XP_DONE, XP_OTHER } xs_page;
xs_page xs_page_of(const xs_tokens *t);

typedef struct {
    char asin[16];
    const char *title;
    double price;
} xs_result;

typedef struct {
    int page_no, total, has_next, has_prev;
    xs_result items[XS_MAX_RESULTS];
    int n;
} xs_results;

/* Parses a results page; 0 when it is not one. */
int xs_results_parse(const xs_tokens *t, xs_results *r);

typedef struct {
    const char *name;
    const char *values[XS_MAX_VALUES];
    int n_values;
} xs_group;

typedef struct {
    const char *title;
    double price;
    xs_group groups[XS_MAX_GROUPS];
    int n_groups;
} xs_item;

/* Parses an item page.  Option values are told from group names by being
 * clickable (`valid`: the valid actions of that page). */
int xs_item_parse(const xs_tokens *t, const eef_actions *valid, xs_item *it);
/* A price text "$12.99" or "$10.5 to $20.0" -> its first number. */
double xs_price(const char *s);
/* Index of the value of `grp` the instruction asks for (longest phrase
 * found in the instruction), or -1. */
int xs_wanted_value(const xs_goal *g, const xs_group *grp);
/* 1 when two titles look alike (same words, or nearly). */
int xs_titles_alike(const char *a, const char *b);

#endif

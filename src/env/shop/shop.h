/*
 * env/shop: the WebShop-compatible site, its public face beyond the env
 * interface (env/env.h): analysis for tests and reports, and the WebShop
 * page text that other environments speaking WebShop's format share.
 */
#ifndef EEF_SHOP_H
#define EEF_SHOP_H

#include "env/env.h"

eef_err eef_shop_open(const char *options, uint64_t seed, eef_env **out);

/* Shop analysis (tests, reports, EEF's important states); EEF_EINVAL for
 * other environments.  The oracle reads the catalogue and writes a winning
 * action sequence for the task (search, Next > to the first winning
 * product's page, open it, pick matching options, Buy Now).  key_actions
 * replays `actions` from the task's start and sets is_key[i] = 1 for the
 * steps of a correct solution: a Next > towards the first page holding a
 * winning product, opening a winning product, choosing an option value
 * that counts for the goal on a winning product, and a winning Buy Now. */
eef_err eef_shop_oracle(eef_env *env, eef_split split, size_t index, eef_strlist *actions);
eef_err eef_shop_key_actions(eef_env *env, eef_split split, size_t index,
                             const char *const *actions, size_t n, unsigned char *is_key);

/* 1 when the (lowercase) word is a filler word of instructions ("i",
 * "need", "looking", ...): what the natural query of an instruction drops,
 * and what the built-in expert does not count among its key words. */
int eef_shop_filler_word(const char *word);

/* The text of WebShop's pages (env/shop/shop_render.c), for the shop and
 * for remote WebShop servers:
 *  - observations: the instruction, repeated in every page, is cut out
 *    with its label ("Instruction: [SEP] ") and the separator after it;
 *    " [SEP] " becomes " | "; a product id field (WebShop's ASIN, "B0" and
 *    8 capitals or digits) reads as its rank among the page's ids, "#1",
 *    "#2", ...: a small model picks a product by where and what it is,
 *    instead of copying ten random characters;
 *  - actions: "verb[arg]" becomes "verb arg", and "click[ID]" "click #R"
 *    when ID is the page's R-th product id;
 *  - action kinds: the page's buttons by name, other clicks as
 *    "click[item-or-option]", "search", else the verb. */
extern const eef_env_text eef_shop_text;
/* 1-based rank of product id `id` among the id fields of page `obs`; 0
 * when it is none of them (or obs is NULL). */
int eef_shop_item_rank(const char *obs, const char *id);

#endif

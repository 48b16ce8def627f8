/*
 * shop_internal.h: the private face of the WebShop-compatible shop.
 *
 * Layers, each in the file named after it:
 *   shop_text.c     text utilities shared by search, reward and goals
 *                   (WebShop's fuzzy token_set_ratio, color normalisation,
 *                   the search analyzer, noun sets, the natural query)
 *   shop_vocab.c    the generator's vocabulary: product types, brands
 *   shop_gen.c      the seeded catalogue generator (families, near-duplicates)
 *   shop_load.c     the loader of the real WebShop data files
 *   shop_catalog.c  what both share: derived fields, sorting, dumping
 *   shop_search.c   BM25 inverted index and top-50 search
 *   shop_reward.c   WebShop's reward and "can this product win" facts
 *   shop_goal.c     instructions generated from a target product, tiers
 *   shop_page.c     page observations and the clickables of a page
 *   shop_env.c      the eef_env vtable: reset, step, actions, copy
 *   shop_oracle.c   scripted perfect policy and key actions
 *
 * Everything in a catalogue lives in its arena; products are sorted by id
 * (ASIN) so that "ties broken by product index" means "ties broken by id".
 */
#ifndef EEF_SHOP_INTERNAL_H
#define EEF_SHOP_INTERNAL_H

#include "shop.h"

#define SHOP_PER_PAGE 10   /* results shown per page (WebShop PRODUCT_WINDOW) */
#define SHOP_SEARCH_N 50   /* results returned by a search (SEARCH_RETURN_N) */
#define SHOP_MAX_DIMS 8    /* option groups kept per product */
#define SHOP_ACTION_MAX 2048 /* longer actions are invalid (bytes) */
#define SHOP_DEFAULT_STEPS 15

/* ------------------------------------------------------------------ catalogue */
typedef struct {
    const char *name;     /* lowercase option name, e.g. "color", "size" */
    const char **values;  /* lowercase values, in page order */
    uint32_t n_values;
} shop_dim;

typedef struct {
    const char *asin;             /* "B0" + 8 alphanumerics (generated) */
    const char *title;
    const char *category;         /* WebShop "category", e.g. "beauty" */
    const char *query;            /* WebShop "query" (lowercase) */
    const char *product_category; /* "A › B › C" */
    const char *description;
    const char **bullets;         /* "Features" (WebShop BulletPoints) */
    uint32_t n_bullets;
    const char **attrs;           /* "Attributes" */
    uint32_t n_attrs;
    shop_dim *dims;
    uint32_t n_dims;
    const char **reviews;         /* rendered "score [SEP] text" */
    uint32_t n_reviews;
    const char *price_tag;        /* "$12.99" or "$10.0 to $15.5" */
    double price;                 /* price used by the reward */
    /* derived by shop_catalog_finish */
    const char *lc_title, *lc_bullets, *lc_desc; /* lowercase, for substring tests */
    const char **nouns;           /* noun tokens of the title: sorted, unique */
    uint32_t n_nouns;
    /* generator facts (-1 when loaded) */
    int32_t type;                 /* index into shop_types */
    int32_t family;               /* products of a family are near-duplicates */
} shop_product;

typedef struct {
    eef_arena arena;
    shop_product *items;
    size_t n;
    int generated;  /* 1: built by shop_gen (type/family facts valid) */
    uint64_t file_hash; /* eef_hash_bytes of the data files read (loaded) */
} shop_catalog;

void shop_catalog_init(shop_catalog *c);
void shop_catalog_free(shop_catalog *c);
/* Sorts by ASIN, rejects duplicate ids, computes the derived fields. */
eef_err shop_catalog_finish(shop_catalog *c);
/* Index of the product with this id (case-insensitive), or -1. */
long shop_catalog_find(const shop_catalog *c, const char *asin);
/* The WebShop search document: title, description, first bullet, options. */
void shop_product_doc(const shop_product *p, eef_buf *out);
/* Deterministic dump of every product field (for determinism tests). */
eef_err shop_catalog_dump(const shop_catalog *c, eef_buf *out);
/* Writes the catalogue as WebShop data files (items_shuffle schema and
 * items_ins_v2 schema); used to round-trip the loader in tests. */
eef_err shop_catalog_write_webshop(const shop_catalog *c, const char *products_path,
                                   const char *attrs_path);

/* ------------------------------------------------------------------ vocabulary */
typedef struct {
    const char *name;            /* option name, e.g. "color" */
    const char *const *values;   /* NULL-terminated */
    int min_pick, max_pick;      /* how many values one product offers */
} shop_dim_spec;

typedef struct {
    const char *key;               /* short name, e.g. "hair extensions" */
    const char *category;          /* beauty, grocery, fashion, furniture, electronics */
    const char *query;             /* WebShop "query" of the type */
    const char *product_category;  /* "A › B › C" */
    const char *const *nouns;      /* title head nouns, Title Case; NULL-terminated */
    const char *const *mods;       /* title adjectives (never attributes) */
    const char *const *attrs;      /* attribute phrases, lowercase */
    const char *const *uses;       /* description phrases: "for everyday wear" */
    const char *const *suffixes;   /* title endings: "for Women", "" */
    shop_dim_spec dims[3];         /* unused ones have name NULL */
    double price_lo, price_hi;     /* dollars */
} shop_type_spec;

extern const shop_type_spec shop_types[];
extern const size_t shop_n_types;
extern const char *const shop_brands[];    /* NULL-terminated */
extern const char *const shop_benefits[];  /* feature bullet endings */

/* ------------------------------------------------------------------ text */
/* WebShop matches with thefuzz's token_set_ratio (0..100, > 85 = match). */
int shop_fuzz_token_set_ratio(const char *a, const char *b);
/* WebShop's normalize_color: the first known color contained in `v`, else
 * `v` itself (pointer into a static table or into v). */
const char *shop_normalize_color(const char *v);
/* ASCII lowercase copy into the arena. */
char *shop_lower_dup(eef_arena *a, const char *s);
/* Search analyzer: lowercase, split on non-alphanumerics, drop possessive
 * 's and Lucene's English stop words, then an S-stemmer.  Calls fn for each
 * term (NUL-terminated, at most 63 bytes). */
typedef void (*shop_term_fn)(const char *term, size_t len, void *ctx);
void shop_analyze(const char *text, shop_term_fn fn, void *ctx);
/* Title nouns for the type reward (stand-in for spaCy's POS tags): tokens
 * of letters, 2+ long, not function words and not common adjectives.
 * Returns the count; the arena receives the sorted unique list. */
uint32_t shop_title_nouns(eef_arena *a, const char *title, const char ***out);
/* The "natural query" of an instruction: its key words, i.e. the text
 * before ", and price lower than", lowercased, with filler words removed. */
void shop_natural_query(const char *instruction, eef_buf *out);
/* Word-boundary substring test (ASCII case-insensitive). */
int shop_contains_phrase(const char *text, const char *phrase);

/* ------------------------------------------------------------------ search */
typedef struct {
    uint32_t n_docs, n_terms;
    uint32_t *slots, n_slots;  /* open-addressing hash: term id + 1, 0 = empty */
    const char **terms;
    uint32_t *post_start;      /* [n_terms + 1] offsets into post_* */
    uint32_t *post_doc;
    uint16_t *post_tf;
    float *idf;                /* [n_terms] */
    float *knorm;              /* [n_docs] k1 * (1 - b + b * dl / avgdl) */
    eef_arena arena;
} shop_index;

/* BM25 parameters: Pyserini's defaults, which WebShop's Lucene index used. */
#define SHOP_BM25_K1 0.9f
#define SHOP_BM25_B 0.4f

typedef struct {
    float *score;      /* [n_docs], zero between searches */
    uint32_t *touched; /* docs with a non-zero score */
    uint32_t n_touched;
} shop_scratch;

eef_err shop_index_build(shop_index *ix, const shop_catalog *c);
void shop_index_free(shop_index *ix);
eef_err shop_scratch_init(shop_scratch *s, const shop_index *ix);
void shop_scratch_free(shop_scratch *s);
/* Top SHOP_SEARCH_N product indices by BM25 (ties: lower index first);
 * returns how many (only products matching a query term). */
size_t shop_search(const shop_index *ix, shop_scratch *s, const char *query,
                   uint32_t out[SHOP_SEARCH_N]);

/* ------------------------------------------------------------------ goals, reward */
typedef struct {
    uint32_t target;           /* product the goal was made from */
    const char *instruction;   /* full text, with the price clause */
    const char **attrs;        /* goal attributes */
    uint32_t n_attrs;
    const char **opts;         /* goal option values (lowercase) */
    uint32_t n_opts;
    double price_upper;        /* 1e6 when the instruction has no price bound */
} shop_goal;

typedef struct {
    double reward;
    double r_type, r_att, r_option, r_price;
    int n_attr_match, n_option_match;
} shop_reward_info;

/* WebShop's get_reward for buying product p with options sel[dim] (value
 * index, -1 = none chosen). */
double shop_reward(const shop_catalog *c, const shop_goal *g, uint32_t p, const int16_t *sel,
                   shop_reward_info *info);
/* r_type of product p for the goal (1.0, 0.5, 0.1 or 0.0). */
double shop_type_reward(const shop_catalog *c, const shop_goal *g, uint32_t p);
/* 1 when goal attribute `a` is satisfied by product p. */
int shop_attr_matches(const shop_product *p, const char *a);
/* 1 when choosing value v of dim d counts as an option match. */
int shop_option_matches(const shop_product *p, const shop_goal *g, uint32_t d, uint32_t v);
/* 1 when some choice of options makes buying p a win (reward 1.0);
 * if sel is not NULL it receives one such choice (the fewest clicks). */
int shop_can_win(const shop_catalog *c, const shop_goal *g, uint32_t p, int16_t *sel);

typedef struct {
    char *id;                 /* "shop-train-17" */
    shop_goal goal;
    const char *query;        /* natural query */
    eef_tier tier;
    int first_win;            /* rank (0-based) of the first winner for the
                                 natural query; -1 when none in the top 50 */
    int deceptive;            /* a near-duplicate ranks above it on page 1 */
} shop_task;

/* ------------------------------------------------------------------ env */
typedef struct {
    long products;       /* generated products (or cap on loaded ones); 0 = all */
    long types;          /* product types of a generated catalogue; 0 = all */
    long train, test;
    long max_steps;
    const char *products_file, *attrs_file, *instructions_file;
} shop_options;

typedef struct {
    eef_env base;
    shop_options opt;
    uint64_t seed;
    shop_catalog cat;
    shop_index index;
    shop_task *tasks[2];
    size_t n_tasks[2];
    eef_arena arena;  /* tasks, option strings */
} shop_env;

/* Builds the goals of generated catalogues (shop_goal.c). */
eef_err shop_goals_generate(shop_env *e);
/* Goals from WebShop's human instruction file (shop_load.c). */
eef_err shop_goals_load(shop_env *e, const char *path);
/* Catalogue generation and loading. */
/* n products of `types` product types (0: all of them), seeded. */
eef_err shop_generate(shop_catalog *c, size_t n, size_t types, uint64_t seed);
eef_err shop_load_products(shop_catalog *c, const char *products_path, const char *attrs_path,
                           long max_products, uint64_t seed);
/* Tier and first winner of a task, from its goal (shop_goal.c). */
void shop_task_classify(shop_env *e, shop_scratch *s, shop_task *t);
/* WebShop's price bound: two of the next four multiples of ten above the
 * price, the larger one; 1e6 (no bound) above $990. */
double shop_price_upper(double price, eef_rng *r);

/* ------------------------------------------------------------------ episode */
typedef enum { PG_SEARCH, PG_RESULTS, PG_ITEM, PG_SUB, PG_DONE } shop_page_kind;
typedef enum { SUB_DESCRIPTION, SUB_FEATURES, SUB_REVIEWS, SUB_ATTRIBUTES } shop_sub_kind;

/* The whole episode state: fixed size, so copy is one memcpy.  WebShop's
 * "< Prev" is hierarchical (sub-page -> item -> results page -> previous
 * results page), so no history stack is needed: (page, page_no, item) is it. */
typedef struct {
    uint8_t page;       /* shop_page_kind */
    uint8_t sub;        /* shop_sub_kind when page == PG_SUB */
    uint8_t split;      /* eef_split */
    uint8_t done;
    uint16_t steps;     /* actions taken, valid or not */
    uint16_t page_no;   /* results page, 1-based */
    uint16_t n_results;
    int32_t item;       /* product shown on PG_ITEM / PG_SUB, -1 none */
    uint32_t task;
    int16_t sel[SHOP_MAX_DIMS]; /* chosen value per option group, -1 none */
    double reward;
    uint32_t results[SHOP_SEARCH_N];
} shop_state;

typedef enum { CK_BACK, CK_PREV, CK_NEXT, CK_PRODUCT, CK_OPTION, CK_SUB, CK_BUY } shop_click_kind;

typedef struct {
    const char *label; /* the button text, as shown */
    uint8_t kind;      /* shop_click_kind */
    uint8_t dim;       /* option group (CK_OPTION) */
    uint32_t arg;      /* product (CK_PRODUCT), value (CK_OPTION), sub (CK_SUB) */
} shop_click;

typedef struct {
    eef_episode base;
    shop_state st;
    eef_buf obs;
    shop_scratch scratch;
    shop_click *clicks;
    size_t n_clicks, cap_clicks;
} shop_episode;

/* The clickables of the current page, deduplicated case-insensitively
 * (buttons first, as WebShop's text_to_clickable keeps one per text). */
eef_err shop_page_clicks(shop_episode *ep);
/* The observation of the current page into ep->obs. */
void shop_page_render(shop_episode *ep);

static inline shop_env *shop_env_of(const shop_episode *ep) { return (shop_env *)ep->base.env; }
static inline const shop_task *shop_task_of(const shop_episode *ep)
{
    return &shop_env_of(ep)->tasks[ep->st.split][ep->st.task];
}

#endif

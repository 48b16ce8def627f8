/* shop_text.c: the text facts WebShop's search, reward and goals rest on.
 *
 * - token_set_ratio: thefuzz's fuzzy match, which WebShop's reward uses for
 *   attributes and options (a match is a score above 85);
 * - normalize_color: WebShop maps option values to a base color before
 *   comparing them;
 * - the search analyzer (Lucene's English analyzer, approximately);
 * - title nouns for the type reward (WebShop asks spaCy for NOUN/PROPN
 *   tokens; we use a word list, see docs/shop.md);
 * - the natural query of an instruction.
 */
#include "shop_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int in_sorted(const char *const *list, size_t n, const char *w)
{
    return bsearch(&w, list, n, sizeof *list, cmp_str) != NULL;
}

char *shop_lower_dup(eef_arena *a, const char *s)
{
    char *d = eef_arena_strdup(a, s);
    if (!d) return NULL;
    for (char *p = d; *p; p++) *p = (char)tolower((unsigned char)*p);
    return d;
}

/* ------------------------------------------------------------------ fuzzy
 * thefuzz.fuzz.token_set_ratio(a, b) with its default processing: drop
 * non-ASCII, lowercase, non-alphanumerics to spaces; token sets; the score
 * is the best Indel similarity among "intersection" and the two
 * "intersection + rest" strings, rounded half-to-even like Python. */
#define FZ_MAXLEN 384
#define FZ_MAXTOK 48

typedef struct {
    char buf[FZ_MAXLEN + 1];
    const char *tok[FZ_MAXTOK];
    int n;
} fz_tokens;

static void fz_split(const char *s, fz_tokens *t)
{
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && k < FZ_MAXLEN; p++) {
        if (*p >= 0x80) continue; /* force_ascii */
        t->buf[k++] = isalnum(*p) ? (char)tolower(*p) : ' ';
    }
    t->buf[k] = 0;
    t->n = 0;
    char *save = NULL;
    for (char *w = strtok_r(t->buf, " ", &save); w && t->n < FZ_MAXTOK; w = strtok_r(NULL, " ", &save))
        t->tok[t->n++] = w;
    qsort(t->tok, (size_t)t->n, sizeof t->tok[0], cmp_str);
    int u = 0; /* unique */
    for (int i = 0; i < t->n; i++)
        if (u == 0 || strcmp(t->tok[u - 1], t->tok[i]) != 0) t->tok[u++] = t->tok[i];
    t->n = u;
}

static size_t fz_join(char *out, size_t cap, const char *const *tok, int n)
{
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(tok[i]);
        if (k + l + 2 > cap) break;
        if (k) out[k++] = ' ';
        memcpy(out + k, tok[i], l);
        k += l;
    }
    out[k] = 0;
    return k;
}

/* 100 * (1 - indel / (la + lb)) = 200 * lcs / (la + lb) */
static double fz_ratio(const char *a, size_t la, const char *b, size_t lb)
{
    if (la + lb == 0) return 100.0;
    unsigned short row[2 * FZ_MAXLEN + 2];
    memset(row, 0, (lb + 1) * sizeof row[0]);
    for (size_t i = 0; i < la; i++) {
        unsigned short diag = 0;
        for (size_t j = 0; j < lb; j++) {
            unsigned short up = row[j + 1];
            unsigned short v = a[i] == b[j] ? (unsigned short)(diag + 1)
                                            : (up > row[j] ? up : row[j]);
            diag = up;
            row[j + 1] = v;
        }
    }
    return 200.0 * row[lb] / (double)(la + lb);
}

int shop_fuzz_token_set_ratio(const char *a, const char *b)
{
    fz_tokens ta, tb;
    fz_split(a, &ta);
    fz_split(b, &tb);
    if (ta.n == 0 || tb.n == 0) return 0;
    const char *inter[FZ_MAXTOK], *dab[FZ_MAXTOK], *dba[FZ_MAXTOK];
    int ni = 0, na = 0, nb = 0, i = 0, j = 0;
    while (i < ta.n || j < tb.n) {
        int c = i >= ta.n ? 1 : j >= tb.n ? -1 : strcmp(ta.tok[i], tb.tok[j]);
        if (c == 0) inter[ni++] = ta.tok[i++], j++;
        else if (c < 0) dab[na++] = ta.tok[i++];
        else dba[nb++] = tb.tok[j++];
    }
    if (ni > 0 && (na == 0 || nb == 0)) return 100;
    char sect[2 * FZ_MAXLEN + 2], ab[2 * FZ_MAXLEN + 2], ba[2 * FZ_MAXLEN + 2];
    size_t ls = fz_join(sect, FZ_MAXLEN, inter, ni);
    char sa[FZ_MAXLEN + 1], sb[FZ_MAXLEN + 1];
    fz_join(sa, sizeof sa, dab, na);
    fz_join(sb, sizeof sb, dba, nb);
    size_t lab = (size_t)snprintf(ab, sizeof ab, "%s%s%s", sect, ls ? " " : "", sa);
    size_t lba = (size_t)snprintf(ba, sizeof ba, "%s%s%s", sect, ls ? " " : "", sb);
    if (lab > FZ_MAXLEN) lab = FZ_MAXLEN;
    if (lba > FZ_MAXLEN) lba = FZ_MAXLEN;
    double best = fz_ratio(ab, lab, ba, lba);
    if (ls) {
        double r1 = fz_ratio(sect, ls, ab, lab), r2 = fz_ratio(sect, ls, ba, lba);
        if (r1 > best) best = r1;
        if (r2 > best) best = r2;
    }
    return (int)nearbyint(best);
}

/* ------------------------------------------------------------------ colors
 * Base colors, in the alphabetical order WebShop's normalize_color scans
 * its list: the first one contained in a value replaces it. */
static const char *const COLOR_SET[] = {
    "almond",   "amber",    "apricot",   "aqua",     "azure",   "beige",   "black",
    "blue",     "blush",    "bronze",    "brown",    "burgundy", "camel",  "camo",
    "champagne", "charcoal", "chestnut", "copper",   "coral",   "cream",   "crimson",
    "denim",    "emerald",  "fuchsia",   "gold",     "graphite", "gray",   "green",
    "grey",     "indigo",   "ivory",     "jade",     "khaki",   "lavender", "lilac",
    "magenta",  "maroon",   "mauve",     "multicolor", "mustard", "navy",  "nude",
    "olive",    "orange",   "peach",     "pewter",   "pink",    "plum",    "purple",
    "red",      "ruby",     "rust",      "salmon",   "sapphire", "silver", "slate",
    "taupe",    "teal",     "turquoise", "violet",   "white",   "yellow",
};

const char *shop_normalize_color(const char *v)
{
    for (size_t i = 0; i < EEF_ARRAY_LEN(COLOR_SET); i++)
        if (strstr(v, COLOR_SET[i])) return COLOR_SET[i];
    return v;
}

/* ------------------------------------------------------------------ analyzer */
/* Lucene's default English stop words (sorted). */
static const char *const LUCENE_STOP[] = {
    "a",    "an",    "and",   "are",  "as",   "at",    "be",   "but",  "by",
    "for",  "if",    "in",    "into", "is",   "it",    "no",   "not",  "of",
    "on",   "or",    "such",  "that", "the",  "their", "then", "there", "these",
    "they", "this",  "to",    "was",  "will", "with",
};

static int tok_char(unsigned char c) { return isalnum(c) || c >= 0x80; }

/* Harman's S-stemmer: plurals to singular, nothing else. */
static size_t s_stem(char *w, size_t n)
{
    if (n < 4 || isdigit((unsigned char)w[0])) return n;
    if (n > 4 && memcmp(w + n - 3, "ies", 3) == 0 && w[n - 4] != 'e' && w[n - 4] != 'a') {
        w[n - 3] = 'y';
        return n - 2;
    }
    if (memcmp(w + n - 2, "es", 2) == 0 && w[n - 3] != 'a' && w[n - 3] != 'e' && w[n - 3] != 'o')
        return n - 1;
    if (w[n - 1] == 's' && w[n - 2] != 'u' && w[n - 2] != 's') return n - 1;
    return n;
}

void shop_analyze(const char *text, shop_term_fn fn, void *ctx)
{
    const unsigned char *p = (const unsigned char *)text;
    char w[64];
    while (*p) {
        /* U+2019 (right single quote) separates like an apostrophe */
        if (!tok_char(*p) || (p[0] == 0xE2 && p[1] == 0x80 && p[2] == 0x99)) {
            p += (*p == 0xE2 && p[1] == 0x80 && p[2] == 0x99) ? 3 : 1;
            continue;
        }
        const unsigned char *start = p;
        size_t n = 0;
        while (*p && tok_char(*p) && !(p[0] == 0xE2 && p[1] == 0x80 && p[2] == 0x99)) {
            if (n < sizeof w - 1) w[n++] = (char)tolower(*p);
            p++;
        }
        w[n] = 0;
        /* possessive: the "s" of "men's" is dropped */
        if (n == 1 && w[0] == 's' && start > (const unsigned char *)text &&
            (start[-1] == '\'' || start[-1] == 0x99))
            continue;
        const char *key = w;
        if (bsearch(&key, LUCENE_STOP, EEF_ARRAY_LEN(LUCENE_STOP), sizeof(char *), cmp_str))
            continue;
        n = s_stem(w, n);
        w[n] = 0;
        fn(w, n, ctx);
    }
}

/* ------------------------------------------------------------------ nouns
 * Words that are never nouns in product titles: function words and the
 * adjectives titles are made of (sorted).  Everything else made of letters
 * counts as a noun, as spaCy tags brands and product words. */
static const char *const NOT_NOUNS[] = {
    "about", "adjustable", "all", "an", "and", "anti", "aromatic", "as", "at", "authentic",
    "basic", "best", "big", "bold", "breathable", "bright", "by", "casual", "chewy",
    "chunky", "classic", "clear", "comfortable", "comfy", "compact", "cozy", "crisp",
    "crunchy", "curly", "cute", "daily", "dark", "deep", "delicate", "deluxe", "dense",
    "durable", "easy", "elegant", "essential", "everyday", "extra", "fancy", "fast", "fine",
    "flexible", "fluffy", "for", "fresh", "from", "full", "gentle", "glossy", "good",
    "great", "heavy", "high", "in", "into", "its", "large", "light", "lightweight",
    "little", "long", "loose", "low", "luxe", "luxury", "matte", "mini", "modern",
    "natural", "new", "nice", "non", "of", "on", "or", "original", "perfect", "plush",
    "portable", "premium", "professional", "pure", "quick", "rich", "round", "rugged",
    "savory", "sheer", "short", "silky", "simple", "sleek", "slim", "small", "smoky",
    "smooth", "soft", "solid", "soothing", "sparkling", "straight", "sturdy", "stylish",
    "super", "sweet", "tender", "the", "thick", "thin", "tiny", "to", "trendy", "ultra",
    "universal", "upgraded", "vintage", "warm", "wavy", "wide", "with", "woven",
};

uint32_t shop_title_nouns(eef_arena *a, const char *title, const char ***out)
{
    char w[64];
    const char *tmp[128];
    uint32_t n = 0;
    const unsigned char *p = (const unsigned char *)title;
    while (*p && n < EEF_ARRAY_LEN(tmp)) {
        if (!isalnum(*p)) {
            p++;
            continue;
        }
        size_t k = 0;
        int letters = 1;
        while (isalnum(*p)) {
            if (!isalpha(*p)) letters = 0;
            if (k < sizeof w - 1) w[k++] = (char)tolower(*p);
            p++;
        }
        w[k] = 0;
        if (!letters || k < 2 || in_sorted(NOT_NOUNS, EEF_ARRAY_LEN(NOT_NOUNS), w) ||
            in_sorted(LUCENE_STOP, EEF_ARRAY_LEN(LUCENE_STOP), w))
            continue;
        tmp[n] = eef_arena_strdup(a, w);
        if (!tmp[n]) return 0;
        n++;
    }
    qsort(tmp, n, sizeof tmp[0], cmp_str);
    uint32_t u = 0;
    for (uint32_t i = 0; i < n; i++)
        if (u == 0 || strcmp(tmp[u - 1], tmp[i]) != 0) tmp[u++] = tmp[i];
    const char **list = eef_arena_alloc(a, (u ? u : 1) * sizeof *list);
    if (!list) return 0;
    memcpy(list, tmp, u * sizeof *list);
    *out = list;
    return u;
}

/* ------------------------------------------------------------------ queries
 * Filler words of instructions (sorted): the expert (src/agent/expert_shop.c)
 * strips the same list (eef_shop_filler_word), so "the natural query" means
 * the same to both. */
static const char *const FILLER[] = {
    "a",     "also",  "am",    "an",     "and",   "are",   "be",    "buy",
    "can",   "color", "find",  "for",    "get",   "has",   "have",  "i",
    "in",    "is",    "it",    "like",   "looking", "me",  "my",    "need",
    "of",    "please", "size", "some",   "that",  "the",   "to",    "want",
    "which", "with",  "would", "you",
};

int eef_shop_filler_word(const char *w) { return in_sorted(FILLER, EEF_ARRAY_LEN(FILLER), w); }

void shop_natural_query(const char *instruction, eef_buf *out)
{
    eef_buf_clear(out);
    const char *end = strstr(instruction, ", and price lower than");
    size_t len = end ? (size_t)(end - instruction) : strlen(instruction);
    size_t i = 0;
    while (i < len) {
        while (i < len && instruction[i] == ' ') i++;
        size_t s = i;
        while (i < len && instruction[i] != ' ') i++;
        size_t e = i;
        while (s < e && strchr(",.;:!?()\"", instruction[s])) s++;
        while (e > s && strchr(",.;:!?()\"", instruction[e - 1])) e--;
        if (e == s || e - s >= 64) continue;
        char w[64];
        for (size_t k = s; k < e; k++) w[k - s] = (char)tolower((unsigned char)instruction[k]);
        w[e - s] = 0;
        if (eef_shop_filler_word(w)) continue;
        if (out->len) eef_buf_puts(out, " ");
        eef_buf_puts(out, w);
    }
}

int shop_contains_phrase(const char *text, const char *phrase)
{
    size_t lp = strlen(phrase);
    if (!lp) return 0;
    for (const char *p = text; (p = strcasestr(p, phrase)) != NULL; p++) {
        int before = p == text || !isalnum((unsigned char)p[-1]);
        int after = !isalnum((unsigned char)p[lp]);
        if (before && after) return 1;
    }
    return 0;
}

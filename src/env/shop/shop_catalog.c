/* shop_catalog.c: what generated and loaded catalogues share: sorting by
 * id, derived lowercase texts and title nouns, the search document, a
 * deterministic dump, and writing WebShop's file schema. */
#include "shop_internal.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void shop_catalog_init(shop_catalog *c)
{
    memset(c, 0, sizeof *c);
    c->file_hash = EEF_HASH_START;
    eef_arena_init(&c->arena, 1 << 20);
}

void shop_catalog_free(shop_catalog *c)
{
    free(c->items);
    eef_arena_free(&c->arena);
    memset(c, 0, sizeof *c);
}

static int cmp_product(const void *a, const void *b)
{
    return strcmp(((const shop_product *)a)->asin, ((const shop_product *)b)->asin);
}

static char *join_lower(eef_arena *a, const char *const *parts, uint32_t n)
{
    eef_buf b;
    eef_buf_init(&b);
    for (uint32_t i = 0; i < n; i++) {
        if (i) eef_buf_puts(&b, " ");
        eef_buf_puts(&b, parts[i]);
    }
    char *s = shop_lower_dup(a, b.data ? b.data : "");
    eef_buf_free(&b);
    return s;
}

eef_err shop_catalog_finish(shop_catalog *c)
{
    if (c->n == 0) return eef_fail(EEF_EINVAL, "shop: the catalogue has no products");
    qsort(c->items, c->n, sizeof *c->items, cmp_product);
    for (size_t i = 1; i < c->n; i++)
        if (strcmp(c->items[i - 1].asin, c->items[i].asin) == 0)
            return eef_fail(EEF_EFORMAT, "shop: duplicate product id %s", c->items[i].asin);
    for (size_t i = 0; i < c->n; i++) {
        shop_product *p = &c->items[i];
        p->lc_title = shop_lower_dup(&c->arena, p->title);
        p->lc_desc = shop_lower_dup(&c->arena, p->description);
        p->lc_bullets = join_lower(&c->arena, p->bullets, p->n_bullets);
        if (!p->lc_title || !p->lc_desc || !p->lc_bullets) return EEF_ENOMEM;
        p->n_nouns = shop_title_nouns(&c->arena, p->title, &p->nouns);
        if (!p->nouns) return EEF_ENOMEM;
    }
    return EEF_OK;
}

long shop_catalog_find(const shop_catalog *c, const char *asin)
{
    size_t lo = 0, hi = c->n;
    char key[16];
    size_t n = strlen(asin);
    if (n >= sizeof key) return -1;
    for (size_t i = 0; i <= n; i++) key[i] = (char)(asin[i] >= 'a' && asin[i] <= 'z' ? asin[i] - 32 : asin[i]);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int r = strcmp(c->items[mid].asin, key);
        if (r == 0) return (long)mid;
        if (r < 0) lo = mid + 1;
        else hi = mid;
    }
    /* loaded ids may contain lowercase letters: fall back to a scan */
    for (size_t i = 0; i < c->n; i++)
        if (strcasecmp(c->items[i].asin, asin) == 0) return (long)i;
    return -1;
}

void shop_product_doc(const shop_product *p, eef_buf *out)
{
    eef_buf_clear(out);
    eef_buf_puts(out, p->title);
    eef_buf_puts(out, " ");
    eef_buf_puts(out, p->description);
    if (p->n_bullets) {
        eef_buf_puts(out, " ");
        eef_buf_puts(out, p->bullets[0]);
    }
    /* WebShop: "color: black, white, and size: 7, 8" */
    for (uint32_t d = 0; d < p->n_dims; d++) {
        eef_buf_puts(out, d ? ", and " : " ");
        eef_buf_printf(out, "%s:", p->dims[d].name);
        for (uint32_t v = 0; v < p->dims[d].n_values; v++)
            eef_buf_printf(out, "%s %s", v ? "," : "", p->dims[d].values[v]);
    }
}

eef_err shop_catalog_dump(const shop_catalog *c, eef_buf *out)
{
    eef_buf_clear(out);
    for (size_t i = 0; i < c->n; i++) {
        const shop_product *p = &c->items[i];
        eef_buf_printf(out, "%s\t%s\t%s\t%s\t%s\t%s\t%.4f\t%d\t%d\n", p->asin, p->title,
                       p->category, p->query, p->product_category, p->price_tag, p->price,
                       (int)p->type, (int)p->family);
        eef_buf_printf(out, "  desc: %s\n", p->description);
        for (uint32_t k = 0; k < p->n_bullets; k++) eef_buf_printf(out, "  bullet: %s\n", p->bullets[k]);
        for (uint32_t k = 0; k < p->n_attrs; k++) eef_buf_printf(out, "  attr: %s\n", p->attrs[k]);
        for (uint32_t d = 0; d < p->n_dims; d++) {
            eef_buf_printf(out, "  option %s:", p->dims[d].name);
            for (uint32_t v = 0; v < p->dims[d].n_values; v++)
                eef_buf_printf(out, " [%s]", p->dims[d].values[v]);
            eef_buf_puts(out, "\n");
        }
        for (uint32_t k = 0; k < p->n_reviews; k++) eef_buf_printf(out, "  review: %s\n", p->reviews[k]);
        if (!out->data) return eef_fail(EEF_ENOMEM, "shop: out of memory dumping the catalogue");
    }
    return EEF_OK;
}

static eef_err write_json(const char *path, cJSON *root)
{
    char *text = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text) return eef_fail(EEF_ENOMEM, "%s: out of memory building JSON", path);
    eef_err err = eef_write_file_atomic(path, text, strlen(text));
    cJSON_free(text);
    return err;
}

eef_err shop_catalog_write_webshop(const shop_catalog *c, const char *products_path,
                                   const char *attrs_path)
{
    cJSON *arr = cJSON_CreateArray(), *attrs = cJSON_CreateObject();
    if (!arr || !attrs) {
        cJSON_Delete(arr);
        cJSON_Delete(attrs);
        return eef_fail(EEF_ENOMEM, "shop: out of memory building JSON");
    }
    for (size_t i = 0; i < c->n; i++) {
        const shop_product *p = &c->items[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "asin", p->asin);
        cJSON_AddStringToObject(o, "name", p->title);
        cJSON_AddStringToObject(o, "category", p->category);
        cJSON_AddStringToObject(o, "query", p->query);
        cJSON_AddStringToObject(o, "product_category", p->product_category);
        cJSON_AddStringToObject(o, "full_description", p->description);
        cJSON *sd = cJSON_AddArrayToObject(o, "small_description");
        for (uint32_t k = 0; k < p->n_bullets; k++)
            cJSON_AddItemToArray(sd, cJSON_CreateString(p->bullets[k]));
        cJSON_AddStringToObject(o, "pricing", p->price_tag);
        cJSON *co = cJSON_AddObjectToObject(o, "customization_options");
        for (uint32_t d = 0; d < p->n_dims; d++) {
            cJSON *vals = cJSON_AddArrayToObject(co, p->dims[d].name);
            for (uint32_t v = 0; v < p->dims[d].n_values; v++) {
                cJSON *vo = cJSON_CreateObject();
                cJSON_AddStringToObject(vo, "value", p->dims[d].values[v]);
                cJSON_AddNullToObject(vo, "image");
                cJSON_AddItemToArray(vals, vo);
            }
        }
        cJSON *img = cJSON_AddArrayToObject(o, "images");
        cJSON_AddItemToArray(img, cJSON_CreateString(""));
        cJSON *ao = cJSON_AddObjectToObject(attrs, p->asin);
        cJSON *al = cJSON_AddArrayToObject(ao, "attributes");
        for (uint32_t k = 0; k < p->n_attrs; k++)
            cJSON_AddItemToArray(al, cJSON_CreateString(p->attrs[k]));
    }
    eef_err err = write_json(products_path, arr);
    if (err) {
        cJSON_Delete(attrs);
        return err;
    }
    return write_json(attrs_path, attrs);
}

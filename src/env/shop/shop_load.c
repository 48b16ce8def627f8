/* shop_load.c: the real WebShop data files.
 *
 * products_file (items_shuffle*.json): a JSON array of products with
 *   asin, name, full_description, small_description (list or string),
 *   pricing ("$12.99" or "$10.99 - $15.99"), customization_options
 *   ({"color": [{"value": "Black", "image": ...}, ...]}), category, query,
 *   product_category.  As WebShop's load_products: ids "nan" or longer than
 *   10 characters are skipped, a repeated id keeps its first product,
 *   option names and values are lowercased (values stripped, "/" -> " | "),
 *   prices are parsed from the "$" pieces (none -> $100.0) and a price
 *   range is bought at a uniform draw within it (seeded).
 * attrs_file (items_ins_v2*.json): {asin: {"attributes": [...]}};
 *   products without one get ["DUMMY_ATTR"], as in WebShop.
 * instructions_file (items_human_ins.json): {asin: [{"instruction",
 *   "instruction_attributes", "instruction_options"}, ...]}; entries with
 *   no attributes are skipped (WebShop skips them too).
 * Missing optional text fields read as empty; fields of the wrong type are
 * errors that name the file and the product.  Control characters in texts
 * become spaces so observations stay on one line.
 */
#include "shop_internal.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Reads and parses a data file; its bytes go into *hash (the world's
 * fingerprint covers the files, not only what was taken from them). */
static eef_err read_json(const char *path, cJSON **out, uint64_t *hash)
{
    char *text;
    size_t len;
    EEF_TRY(eef_read_file(path, &text, &len));
    *hash = eef_hash_bytes(*hash, text, len);
    eef_err err = eef_json_parse(text, len, path, out);
    free(text);
    return err;
}

/* arena copy with control characters turned into spaces */
static const char *clean_dup(eef_arena *a, const char *s)
{
    char *d = eef_arena_strdup(a, s ? s : "");
    if (d)
        for (char *p = d; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = ' ';
    return d;
}

/* optional string field: absent or null -> "" */
static eef_err opt_text(const cJSON *o, const char *key, const char *where, eef_arena *a,
                        const char **out)
{
    const char *s = NULL;
    EEF_TRY(eef_json_opt_str(o, key, where, &s));
    *out = clean_dup(a, s);
    return *out ? EEF_OK : EEF_ENOMEM;
}

/* Python's str(float) for prices: the fewest decimals that read back the
 * same number, at least one ("20.0", "12.5", "19.99") */
static void py_float(char *out, size_t cap, double v)
{
    for (int d = 1; d <= 17; d++) {
        snprintf(out, cap, "%.*f", d, v);
        if (strtod(out, NULL) == v) break;
    }
    char *dot = strchr(out, '.');
    if (!dot) return;
    size_t n = strlen(out);
    while (n > (size_t)(dot - out) + 2 && out[n - 1] == '0') out[--n] = 0;
}

static eef_err parse_pricing(const char *pricing, shop_product *p, eef_arena *a, eef_rng *r)
{
    double v[2];
    int n = 0;
    for (const char *s = pricing ? strchr(pricing, '$') : NULL; s && n < 2; s = strchr(s + 1, '$')) {
        char num[64];
        size_t k = 0;
        for (const char *q = s + 1; *q && *q != '$' && k < sizeof num - 1; q++)
            if (isdigit((unsigned char)*q) || *q == '.') num[k++] = *q;
        num[k] = 0;
        char *end;
        double x = strtod(num, &end);
        if (k && *end == 0) v[n++] = x;
    }
    char tag[96], a1[40], a2[40];
    if (n == 0) {
        p->price = 100.0;
        snprintf(tag, sizeof tag, "$100.0");
    } else if (n == 1) {
        p->price = v[0];
        py_float(a1, sizeof a1, v[0]);
        snprintf(tag, sizeof tag, "$%s", a1);
    } else {
        p->price = v[0] + (v[1] - v[0]) * eef_rng_uniform(r);
        py_float(a1, sizeof a1, v[0]);
        py_float(a2, sizeof a2, v[1]);
        snprintf(tag, sizeof tag, "$%s to $%s", a1, a2);
    }
    p->price_tag = eef_arena_strdup(a, tag);
    return p->price_tag ? EEF_OK : EEF_ENOMEM;
}

static const char *option_value(eef_arena *a, const char *v)
{
    eef_buf b;
    eef_buf_init(&b);
    while (isspace((unsigned char)*v)) v++;
    size_t n = strlen(v);
    while (n && isspace((unsigned char)v[n - 1])) n--;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '/') eef_buf_puts(&b, " | ");
        else {
            char ch = (char)tolower((unsigned char)v[i]);
            if ((unsigned char)ch < 0x20) ch = ' ';
            eef_buf_append(&b, &ch, 1);
        }
    }
    const char *s = eef_arena_strdup(a, b.data ? b.data : "");
    eef_buf_free(&b);
    return s;
}

static eef_err load_string_list(const cJSON *arr, const char *where, const char *what, eef_arena *a,
                                const char ***out, uint32_t *n)
{
    *n = 0;
    int k = cJSON_GetArraySize(arr);
    *out = eef_arena_alloc(a, (size_t)(k ? k : 1) * sizeof **out);
    if (!*out) return EEF_ENOMEM;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsString(it)) return eef_fail(EEF_EFORMAT, "%s: %s has a non-string item", where, what);
        if (!((*out)[(*n)++] = clean_dup(a, it->valuestring))) return EEF_ENOMEM;
    }
    return EEF_OK;
}

static eef_err load_product(const cJSON *o, const cJSON *attrs, const char *where, eef_arena *a,
                            eef_rng *r, shop_product *p)
{
    const char *s;
    EEF_TRY(eef_json_str(o, "name", where, &s));
    if (!(p->title = clean_dup(a, s))) return EEF_ENOMEM;
    EEF_TRY(opt_text(o, "full_description", where, a, &p->description));
    EEF_TRY(opt_text(o, "category", where, a, &p->category));
    EEF_TRY(opt_text(o, "product_category", where, a, &p->product_category));
    const char *q = NULL;
    EEF_TRY(eef_json_opt_str(o, "query", where, &q));
    char *ql = shop_lower_dup(a, q ? q : "");
    if (!ql) return EEF_ENOMEM;
    while (*ql == ' ') ql++;
    for (size_t n = strlen(ql); n && ql[n - 1] == ' '; n--) ql[n - 1] = 0;
    p->query = ql;
    /* bullets: a list or one string */
    const cJSON *sd = cJSON_GetObjectItemCaseSensitive(o, "small_description");
    if (cJSON_IsArray(sd)) {
        EEF_TRY(load_string_list(sd, where, "small_description", a, &p->bullets, &p->n_bullets));
    } else if (cJSON_IsString(sd)) {
        p->bullets = eef_arena_alloc(a, sizeof *p->bullets);
        if (!p->bullets || !(p->bullets[0] = clean_dup(a, sd->valuestring))) return EEF_ENOMEM;
        p->n_bullets = 1;
    } else if (sd && !cJSON_IsNull(sd)) {
        return eef_fail(EEF_EFORMAT, "%s: field 'small_description' is not a list or string", where);
    }
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(o, "pricing");
    if (pr && !cJSON_IsNull(pr) && !cJSON_IsString(pr))
        return eef_fail(EEF_EFORMAT, "%s: field 'pricing' is not a string", where);
    EEF_TRY(parse_pricing(cJSON_IsString(pr) ? pr->valuestring : NULL, p, a, r));
    /* options */
    const cJSON *co = cJSON_GetObjectItemCaseSensitive(o, "customization_options");
    if (co && !cJSON_IsNull(co) && !cJSON_IsObject(co))
        return eef_fail(EEF_EFORMAT, "%s: field 'customization_options' is not an object", where);
    if (cJSON_IsObject(co)) {
        int nd = cJSON_GetArraySize(co);
        p->dims = eef_arena_alloc(a, (size_t)(nd ? nd : 1) * sizeof *p->dims);
        if (!p->dims) return EEF_ENOMEM;
        const cJSON *dim;
        cJSON_ArrayForEach(dim, co)
        {
            if (cJSON_IsNull(dim)) continue;
            if (!cJSON_IsArray(dim))
                return eef_fail(EEF_EFORMAT, "%s: option '%s' is not a list", where, dim->string);
            if (p->n_dims == SHOP_MAX_DIMS) {
                eef_warn("%s: more than %d option groups; '%s' is ignored", where, SHOP_MAX_DIMS,
                         dim->string);
                continue;
            }
            shop_dim *d = &p->dims[p->n_dims];
            d->name = shop_lower_dup(a, dim->string);
            int nv = cJSON_GetArraySize(dim);
            d->values = eef_arena_alloc(a, (size_t)(nv ? nv : 1) * sizeof *d->values);
            if (!d->name || !d->values) return EEF_ENOMEM;
            const cJSON *val;
            cJSON_ArrayForEach(val, dim)
            {
                const char *v;
                if (!cJSON_IsObject(val))
                    return eef_fail(EEF_EFORMAT, "%s: option '%s' has a value that is not an object",
                                    where, dim->string);
                EEF_TRY(eef_json_str(val, "value", where, &v));
                if (!(d->values[d->n_values++] = option_value(a, v))) return EEF_ENOMEM;
            }
            p->n_dims++;
        }
    }
    /* attributes */
    const cJSON *ao = attrs ? cJSON_GetObjectItemCaseSensitive(attrs, p->asin) : NULL;
    const cJSON *al = cJSON_IsObject(ao) ? cJSON_GetObjectItemCaseSensitive(ao, "attributes") : NULL;
    if (al && !cJSON_IsArray(al))
        return eef_fail(EEF_EFORMAT, "attributes of %s: 'attributes' is not a list", p->asin);
    if (al) {
        EEF_TRY(load_string_list(al, where, "attributes", a, &p->attrs, &p->n_attrs));
    } else {
        p->attrs = eef_arena_alloc(a, sizeof *p->attrs);
        if (!p->attrs) return EEF_ENOMEM;
        p->attrs[0] = "DUMMY_ATTR";
        p->n_attrs = 1;
    }
    p->type = p->family = -1;
    return EEF_OK;
}

static int cmp_by_id_then_order(const void *x, const void *y)
{
    const shop_product *a = x, *b = y;
    int c = strcmp(a->asin, b->asin);
    return c ? c : (a->family > b->family) - (a->family < b->family);
}

eef_err shop_load_products(shop_catalog *c, const char *products_path, const char *attrs_path,
                           long max_products, uint64_t seed)
{
    cJSON *prods = NULL, *attrs = NULL;
    EEF_TRY(read_json(products_path, &prods, &c->file_hash));
    eef_err err = attrs_path ? read_json(attrs_path, &attrs, &c->file_hash) : EEF_OK;
    if (!err && !cJSON_IsArray(prods))
        err = eef_fail(EEF_EFORMAT, "%s:1: expected a JSON array of products", products_path);
    if (!err && attrs && !cJSON_IsObject(attrs))
        err = eef_fail(EEF_EFORMAT, "%s:1: expected a JSON object keyed by product id", attrs_path);
    int total = err ? 0 : cJSON_GetArraySize(prods);
    if (max_products > 0 && total > max_products) total = (int)max_products;
    if (!err) {
        c->items = eef_calloc((size_t)(total ? total : 1), sizeof *c->items);
        if (!c->items) err = EEF_ENOMEM;
    }
    const cJSON *o = prods ? prods->child : NULL;
    for (int i = 0; i < total && !err; i++, o = o->next) {
        char where[600];
        const char *asin;
        snprintf(where, sizeof where, "%s: product %d", products_path, i);
        if (!cJSON_IsObject(o)) {
            err = eef_fail(EEF_EFORMAT, "%s: not an object", where);
            break;
        }
        if ((err = eef_json_str(o, "asin", where, &asin))) break;
        if (strcmp(asin, "nan") == 0 || strlen(asin) > 10 || !*asin) continue;
        snprintf(where, sizeof where, "%s: product %d (%s)", products_path, i, asin);
        shop_product *p = &c->items[c->n];
        memset(p, 0, sizeof *p);
        if (!(p->asin = clean_dup(&c->arena, asin))) err = EEF_ENOMEM;
        eef_rng r = eef_rng_make(eef_rng_key(seed, EEF_STREAM_SHOP_LOAD, (uint64_t)i, 0));
        if (!err) err = load_product(o, attrs, where, &c->arena, &r, p);
        p->family = i; /* file order, for "the first of a repeated id wins" */
        c->n++;
    }
    cJSON_Delete(prods);
    cJSON_Delete(attrs);
    if (err) return err;
    qsort(c->items, c->n, sizeof *c->items, cmp_by_id_then_order);
    size_t u = 0;
    for (size_t i = 0; i < c->n; i++)
        if (u == 0 || strcmp(c->items[u - 1].asin, c->items[i].asin) != 0) c->items[u++] = c->items[i];
    c->n = u;
    for (size_t i = 0; i < c->n; i++) c->items[i].family = -1;
    if (c->n == 0) return eef_fail(EEF_EFORMAT, "%s: no usable products", products_path);
    return EEF_OK;
}

/* ------------------------------------------------------------------ goals */
eef_err shop_goals_load(shop_env *e, const char *path)
{
    cJSON *root = NULL;
    EEF_TRY(read_json(path, &root, &e->cat.file_hash));
    eef_err err = cJSON_IsObject(root) ? EEF_OK
                                       : eef_fail(EEF_EFORMAT, "%s:1: expected a JSON object keyed by product id", path);
    shop_task *all = NULL;
    size_t n = 0, cap = 0;
    eef_arena *a = &e->arena;
    eef_rng r = eef_rng_make(eef_rng_key(e->seed, EEF_STREAM_SHOP_HUMAN, 0, 0));
    eef_buf text;
    eef_buf_init(&text);
    const cJSON *entry, *goals = err ? NULL : root;
    cJSON_ArrayForEach(entry, goals)
    {
        long target = shop_catalog_find(&e->cat, entry->string);
        if (target < 0) continue; /* not among the loaded products */
        if (!cJSON_IsArray(entry)) {
            err = eef_fail(EEF_EFORMAT, "%s: instructions of %s are not a list", path, entry->string);
            break;
        }
        const cJSON *ins;
        int k = 0;
        cJSON_ArrayForEach(ins, entry)
        {
            char where[600];
            snprintf(where, sizeof where, "%s: %s instruction %d", path, entry->string, k++);
            const char *instr;
            const cJSON *attrs, *opts = cJSON_GetObjectItemCaseSensitive(ins, "instruction_options");
            if ((err = eef_json_str(ins, "instruction", where, &instr))) break;
            if ((err = eef_json_arr(ins, "instruction_attributes", where, &attrs))) break;
            if (cJSON_GetArraySize(attrs) == 0) continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 256;
                shop_task *t = eef_realloc(all, cap * sizeof *t);
                if (!t) {
                    err = EEF_ENOMEM;
                    break;
                }
                all = t;
            }
            shop_task *t = &all[n];
            memset(t, 0, sizeof *t);
            shop_goal *g = &t->goal;
            g->target = (uint32_t)target;
            if ((err = load_string_list(attrs, where, "instruction_attributes", a, &g->attrs, &g->n_attrs)))
                break;
            /* options: a list of values, or an object name -> value */
            if (opts && !cJSON_IsNull(opts)) {
                if (!cJSON_IsArray(opts) && !cJSON_IsObject(opts)) {
                    err = eef_fail(EEF_EFORMAT, "%s: 'instruction_options' is not a list or object", where);
                    break;
                }
                if ((err = load_string_list(opts, where, "instruction_options", a, &g->opts, &g->n_opts)))
                    break;
            }
            g->price_upper = shop_price_upper(e->cat.items[target].price, &r);
            /* WebShop: instruction.strip('.') + price text */
            size_t s = 0, len = strlen(instr);
            while (s < len && instr[s] == '.') s++;
            while (len > s && instr[len - 1] == '.') len--;
            eef_buf_clear(&text);
            eef_buf_append(&text, instr + s, len - s);
            if (g->price_upper < 1e6)
                eef_buf_printf(&text, ", and price lower than %.2f dollars", g->price_upper);
            g->instruction = clean_dup(a, text.data ? text.data : "");
            shop_natural_query(g->instruction ? g->instruction : "", &text);
            t->query = eef_arena_strdup(a, text.data ? text.data : "");
            if (!g->instruction || !t->query) {
                err = EEF_ENOMEM;
                break;
            }
            n++;
        }
        if (err) break;
    }
    cJSON_Delete(root);
    eef_buf_free(&text);
    /* WebShop shuffles its goals with a fixed seed; test comes first */
    if (!err && n == 0) err = eef_fail(EEF_EFORMAT, "%s: no usable instructions for the loaded products", path);
    if (!err) {
        for (size_t i = n; i > 1; i--) {
            size_t j = (size_t)eef_rng_below(&r, i);
            shop_task tmp = all[i - 1];
            all[i - 1] = all[j];
            all[j] = tmp;
        }
        size_t n_test = (size_t)e->opt.test < n ? (size_t)e->opt.test : n;
        size_t n_train = (size_t)e->opt.train < n - n_test ? (size_t)e->opt.train : n - n_test;
        shop_scratch s = { 0 };
        err = shop_scratch_init(&s, &e->index);
        for (int split = 0; split < 2 && !err; split++) {
            size_t want = split ? n_test : n_train, from = split ? 0 : n_test;
            e->tasks[split] = eef_calloc(want ? want : 1, sizeof(shop_task));
            if (!e->tasks[split]) {
                err = EEF_ENOMEM;
                break;
            }
            for (size_t i = 0; i < want && !err; i++) {
                shop_task *t = &e->tasks[split][i];
                *t = all[from + i];
                char id[48];
                snprintf(id, sizeof id, "shop-%s-%zu", eef_split_name((eef_split)split), i);
                if (!(t->id = eef_arena_strdup(a, id))) err = EEF_ENOMEM;
                shop_task_classify(e, &s, t);
            }
            e->n_tasks[split] = want;
        }
        shop_scratch_free(&s);
    }
    free(all);
    return err;
}

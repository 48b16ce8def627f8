/* mem.c: checked allocation, aligned buffers, arenas, growable buffers. */
#include "core.h"

#include <stdlib.h>
#include <string.h>

void *eef_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) eef_fail(EEF_ENOMEM, "out of memory allocating %zu bytes", n);
    return p;
}

void *eef_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) eef_fail(EEF_ENOMEM, "out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *eef_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) eef_fail(EEF_ENOMEM, "out of memory reallocating %zu bytes", n);
    return q;
}

char *eef_strdup(const char *s) { return eef_strndup(s, strlen(s)); }

char *eef_strndup(const char *s, size_t n)
{
    char *d = eef_malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

void *eef_alloc_aligned(size_t n)
{
    void *p = NULL;
    size_t sz = (n + 63) & ~(size_t)63;
    if (posix_memalign(&p, 64, sz ? sz : 64) != 0) {
        eef_fail(EEF_ENOMEM, "out of memory allocating %zu aligned bytes", n);
        return NULL;
    }
    memset(p, 0, sz ? sz : 64);
    return p;
}

void eef_free_aligned(void *p) { free(p); }

/* ---------------------------------------------------------------- arena */
struct eef_arena_block {
    eef_arena_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

void eef_arena_init(eef_arena *a, size_t block_size)
{
    a->head = NULL;
    a->block_size = block_size ? block_size : 64 * 1024;
}

void *eef_arena_alloc(eef_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    eef_arena_block *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > a->block_size ? n : a->block_size;
        b = calloc(1, sizeof *b + cap);
        if (!b) {
            eef_fail(EEF_ENOMEM, "out of memory growing arena by %zu bytes", cap);
            return NULL;
        }
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

char *eef_arena_strndup(eef_arena *a, const char *s, size_t n)
{
    char *d = eef_arena_alloc(a, n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

char *eef_arena_strdup(eef_arena *a, const char *s)
{
    return eef_arena_strndup(a, s, strlen(s));
}

void eef_arena_free(eef_arena *a)
{
    eef_arena_block *b = a->head;
    while (b) {
        eef_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
}

/* ---------------------------------------------------------------- buf */
void eef_buf_init(eef_buf *b) { b->data = NULL, b->len = b->cap = 0; }

int eef_buf_reserve(eef_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) cap *= 2;
    char *d = eef_realloc(b->data, cap);
    if (!d) return -1;
    b->data = d;
    b->cap = cap;
    return 0;
}

int eef_buf_append(eef_buf *b, const void *p, size_t n)
{
    if (eef_buf_reserve(b, n)) return -1;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return 0;
}

int eef_buf_puts(eef_buf *b, const char *s) { return eef_buf_append(b, s, strlen(s)); }

int eef_buf_printf(eef_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || eef_buf_reserve(b, (size_t)n)) return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void eef_buf_clear(eef_buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = 0;
}

void eef_buf_free(eef_buf *b)
{
    free(b->data);
    eef_buf_init(b);
}

/* ---------------------------------------------------------------- strlist */
int eef_strlist_pushn(eef_strlist *l, const char *s, size_t n)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        char **it = eef_realloc(l->items, cap * sizeof *it);
        if (!it) return -1;
        l->items = it;
        l->cap = cap;
    }
    char *d = eef_strndup(s, n);
    if (!d) return -1;
    l->items[l->n++] = d;
    return 0;
}

int eef_strlist_push(eef_strlist *l, const char *s) { return eef_strlist_pushn(l, s, strlen(s)); }

void eef_strlist_clear(eef_strlist *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->items[i]);
    l->n = 0;
}

void eef_strlist_free(eef_strlist *l)
{
    eef_strlist_clear(l);
    free(l->items);
    l->items = NULL;
    l->cap = 0;
}

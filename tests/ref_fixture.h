/* ref_fixture.h: reading the reference tensors PyTorch scripts write
 * (the scripts in tests/ref/): b"EEFR", u32 version=1, u32 count, then per tensor
 * u32 name length, name, u32 ndim, u32 dims..., f32 data. */
#ifndef EEF_REF_FIXTURE_H
#define EEF_REF_FIXTURE_H

#include "testutil.h"

typedef struct {
    char name[96];
    int ndim, dims[4];
    size_t n;
    float *data;
} ref_tensor;

typedef struct {
    ref_tensor *t;
    int n;
} ref_set;

static void ref_load(const char *path, ref_set *s)
{
    char *data;
    size_t len;
    assert_ok(eef_read_file(path, &data, &len));
    assert_true(len > 12 && memcmp(data, "EEFR", 4) == 0);
    uint32_t ver, count;
    memcpy(&ver, data + 4, 4);
    memcpy(&count, data + 8, 4);
    assert_int_equal(ver, 1);
    assert_true(count <= 4096);
    s->t = calloc(count, sizeof *s->t);
    s->n = 0;
    size_t off = 12;
    for (uint32_t k = 0; k < count; k++) {
        ref_tensor *t = &s->t[s->n++];
        uint32_t nl, nd;
        assert_true(off + 4 <= len);
        memcpy(&nl, data + off, 4), off += 4;
        assert_true(nl < sizeof t->name && off + nl + 4 <= len);
        memcpy(t->name, data + off, nl), off += nl;
        t->name[nl] = 0;
        memcpy(&nd, data + off, 4), off += 4;
        assert_true(nd <= 4 && off + 4 * nd <= len);
        t->ndim = (int)nd;
        t->n = 1;
        for (uint32_t d = 0; d < nd; d++) {
            uint32_t v;
            memcpy(&v, data + off, 4), off += 4;
            t->dims[d] = (int)v;
            t->n *= v;
        }
        assert_true(off + t->n * 4 <= len);
        t->data = malloc(t->n * sizeof(float) + 1);
        memcpy(t->data, data + off, t->n * 4);
        off += t->n * 4;
    }
    assert_int_equal(off, len);
    free(data);
}

static const ref_tensor *ref_find(const ref_set *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->t[i].name, name) == 0) return &s->t[i];
    return NULL;
}

static const ref_tensor *ref_get(const ref_set *s, const char *name)
{
    const ref_tensor *t = ref_find(s, name);
    if (!t) fail_msg("fixture has no tensor '%s'", name);
    return t;
}

static void ref_free(ref_set *s)
{
    for (int i = 0; i < s->n; i++) free(s->t[i].data);
    free(s->t);
    s->t = NULL, s->n = 0;
}

static double ref_max_abs(const float *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

static double ref_max_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

#endif

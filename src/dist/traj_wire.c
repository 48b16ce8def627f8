/* traj_wire.c: trajectories as compact binary records, to send the
 * rollouts of one rank to the others.  Exact (the reward travels as its
 * 8 bytes) and cheaper than JSON: no escaping, no number formatting.
 *
 * Record: "EEFT", version byte, item (u64), then id, env, task, source,
 * instruction, final_obs, extra (strings), split (i32), index (i64), tier
 * (i32), reward (f64 bits), win (u8), n_steps (u64), and per step obs,
 * action (strings) and mask (u8).  A string is its length (u32) and its
 * bytes, or 0xFFFFFFFF for NULL.  Integers are little-endian.
 */
#include "dist_internal.h"

#include <stdlib.h>
#include <string.h>

#define WIRE_MAGIC "EEFT"
#define WIRE_VERSION 1
#define WIRE_NULL 0xFFFFFFFFu

static int put_u(eef_buf *b, uint64_t v, int bytes)
{
    unsigned char x[8];
    for (int i = 0; i < bytes; i++) x[i] = (unsigned char)(v >> (8 * i));
    return eef_buf_append(b, x, (size_t)bytes);
}

static int put_str(eef_buf *b, const char *s)
{
    if (!s) return put_u(b, WIRE_NULL, 4);
    size_t n = strlen(s);
    if (n >= WIRE_NULL) return -1;
    return put_u(b, n, 4) || eef_buf_append(b, s, n);
}

eef_err eef_dist_traj_pack(eef_buf *out, uint64_t item, const eef_traj *t)
{
    uint64_t reward;
    memcpy(&reward, &t->reward, sizeof reward);
    int bad = eef_buf_append(out, WIRE_MAGIC, 4) || put_u(out, WIRE_VERSION, 1) ||
              put_u(out, item, 8) || put_str(out, t->id) || put_str(out, t->env) ||
              put_str(out, t->task) || put_str(out, t->source) || put_str(out, t->instruction) ||
              put_str(out, t->final_obs) || put_str(out, t->extra) ||
              put_u(out, (uint32_t)t->split, 4) || put_u(out, (uint64_t)t->index, 8) ||
              put_u(out, (uint32_t)t->tier, 4) || put_u(out, reward, 8) ||
              put_u(out, t->win ? 1 : 0, 1) || put_u(out, t->n_steps, 8);
    for (size_t i = 0; !bad && i < t->n_steps; i++)
        bad = put_str(out, t->steps[i].obs) || put_str(out, t->steps[i].action) ||
              put_u(out, t->steps[i].mask ? 1 : 0, 1);
    return bad ? eef_fail(EEF_ENOMEM, "trajectory record: out of memory (or a string over 4 GiB)")
               : EEF_OK;
}

/* A cursor over the bytes being read; `start` is the record's offset, for
 * messages. */
typedef struct {
    const unsigned char *p;
    size_t len, pos, start;
} reader;

static eef_err short_read(const reader *r, const char *what)
{
    return eef_fail(EEF_EFORMAT, "trajectory record at byte %zu: truncated in %s (byte %zu of %zu)",
                    r->start, what, r->pos, r->len);
}

static eef_err get_u(reader *r, int bytes, const char *what, uint64_t *v)
{
    if (r->len - r->pos < (size_t)bytes) return short_read(r, what);
    *v = 0;
    for (int i = 0; i < bytes; i++) *v |= (uint64_t)r->p[r->pos + (size_t)i] << (8 * i);
    r->pos += (size_t)bytes;
    return EEF_OK;
}

static eef_err get_str(reader *r, const char *what, char **out)
{
    uint64_t n = 0;
    EEF_TRY(get_u(r, 4, what, &n));
    if (n == WIRE_NULL) return EEF_OK;
    if (r->len - r->pos < n) return short_read(r, what);
    const char *s = (const char *)r->p + r->pos;
    if (memchr(s, 0, n))
        return eef_fail(EEF_EFORMAT, "trajectory record at byte %zu: NUL byte inside %s", r->start,
                        what);
    *out = eef_strndup(s, n);
    if (!*out) return EEF_ENOMEM;
    r->pos += n;
    return EEF_OK;
}

static eef_err get_flag(reader *r, const char *what, int *out)
{
    uint64_t v = 0;
    EEF_TRY(get_u(r, 1, what, &v));
    if (v > 1)
        return eef_fail(EEF_EFORMAT, "trajectory record at byte %zu: %s is %u, not 0 or 1",
                        r->start, what, (unsigned)v);
    *out = (int)v;
    return EEF_OK;
}

static eef_err unpack(reader *r, uint64_t *item, eef_traj *t)
{
    if (r->len - r->pos < 5 || memcmp(r->p + r->pos, WIRE_MAGIC, 4) != 0)
        return eef_fail(EEF_EFORMAT, "trajectory record at byte %zu: bad magic", r->start);
    if (r->p[r->pos + 4] != WIRE_VERSION)
        return eef_fail(EEF_EFORMAT, "trajectory record at byte %zu: version %u, expected %d",
                        r->start, r->p[r->pos + 4], WIRE_VERSION);
    r->pos += 5;
    uint64_t v = 0;
    EEF_TRY(get_u(r, 8, "item", item));
    EEF_TRY(get_str(r, "id", &t->id));
    EEF_TRY(get_str(r, "env", &t->env));
    EEF_TRY(get_str(r, "task", &t->task));
    EEF_TRY(get_str(r, "source", &t->source));
    EEF_TRY(get_str(r, "instruction", &t->instruction));
    EEF_TRY(get_str(r, "final_obs", &t->final_obs));
    EEF_TRY(get_str(r, "extra", &t->extra));
    EEF_TRY(get_u(r, 4, "split", &v));
    t->split = (int)(int32_t)(uint32_t)v;
    EEF_TRY(get_u(r, 8, "index", &v));
    t->index = (long)(int64_t)v;
    EEF_TRY(get_u(r, 4, "tier", &v));
    t->tier = (int)(int32_t)(uint32_t)v;
    EEF_TRY(get_u(r, 8, "reward", &v));
    memcpy(&t->reward, &v, sizeof v);
    EEF_TRY(get_flag(r, "win", &t->win));
    EEF_TRY(get_u(r, 8, "n_steps", &v));
    /* a step takes at least 9 bytes: do not believe a count the data cannot hold */
    if (v > (r->len - r->pos) / 9)
        return eef_fail(EEF_EFORMAT, "trajectory record at byte %zu: %llu steps cannot fit in "
                        "%zu bytes", r->start, (unsigned long long)v, r->len - r->pos);
    if (v) {
        t->steps = eef_calloc((size_t)v, sizeof *t->steps);
        if (!t->steps) return EEF_ENOMEM;
        t->cap_steps = (size_t)v;
    }
    for (size_t i = 0; i < (size_t)v; i++) {
        eef_traj_step *s = &t->steps[i];
        t->n_steps = i + 1; /* so that a failure frees what was read */
        EEF_TRY(get_str(r, "step observation", &s->obs));
        EEF_TRY(get_str(r, "step action", &s->action));
        EEF_TRY(get_flag(r, "step mask", &s->mask));
    }
    return EEF_OK;
}

eef_err eef_dist_traj_unpack(const char *data, size_t len, size_t *pos, uint64_t *item,
                             eef_traj *t)
{
    eef_traj_init(t);
    if (*pos > len) return eef_fail(EEF_EINVAL, "trajectory record: offset %zu beyond %zu", *pos, len);
    reader r = { (const unsigned char *)data, len, *pos, *pos };
    eef_err e = unpack(&r, item, t);
    if (e) {
        eef_traj_free(t);
        return e;
    }
    *pos = r.pos;
    return EEF_OK;
}

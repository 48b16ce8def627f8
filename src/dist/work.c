/* work.c: a batch of work items (rollouts) shared out between the ranks,
 * and the exchange of their results at the end. */
#include "dist_internal.h"

#include <stdlib.h>
#include <string.h>

eef_err eef_dist_work_begin(size_t n, eef_dist_work **out)
{
    *out = NULL;
    eef_dist_work *w = eef_calloc(1, sizeof *w);
    if (!w) return EEF_ENOMEM;
    w->n = n;
    w->rank = eef_dist_rank();
    w->size = eef_dist_size();
    atomic_init(&w->next, 0);
    w->mine = eef_calloc(n ? n : 1, 1);
    if (!w->mine) {
        free(w);
        return EEF_ENOMEM;
    }
    *out = w;
    return EEF_OK;
}

int eef_dist_work_next(eef_dist_work *w, size_t *item)
{
    /* this rank's k-th item is rank + k * size */
    size_t k = atomic_fetch_add(&w->next, 1);
    if (k >= w->n) return 0;
    size_t i = (size_t)w->rank + k * (size_t)w->size;
    if (i >= w->n) return 0;
    w->mine[i] = 1;
    *item = i;
    return 1;
}

/* What a rank sends at the end: "EEFW", its first error (item, code,
 * message), the number of records, then the records (traj_wire.c). */
static eef_err pack_results(const eef_dist_work *w, const eef_traj *out, eef_err err,
                            size_t err_at, const char *msg, eef_buf *b)
{
    uint64_t at = err ? (uint64_t)err_at : UINT64_MAX, count = 0;
    uint32_t code = (uint32_t)err, mlen = err && msg ? (uint32_t)strnlen(msg, 4000) : 0;
    for (size_t i = 0; !err && i < w->n; i++) count += w->mine[i];
    if (eef_buf_append(b, "EEFW", 4) || eef_buf_append(b, &at, 8) || eef_buf_append(b, &code, 4) ||
        eef_buf_append(b, &mlen, 4) || (mlen && eef_buf_append(b, msg, mlen)) ||
        eef_buf_append(b, &count, 8))
        return EEF_ENOMEM;
    for (size_t i = 0; !err && i < w->n; i++)
        if (w->mine[i]) EEF_TRY(eef_dist_traj_pack(b, i, &out[i]));
    return EEF_OK;
}

typedef struct {
    uint64_t at;
    uint32_t code;
    char msg[1024];
} rank_error;

/* Reads rank r's part: its error into *re, its records into out[]. */
static eef_err unpack_results(const eef_dist_work *w, int r, const char *p, size_t len,
                              unsigned char *have, eef_traj *out, rank_error *re)
{
    uint32_t mlen;
    uint64_t count;
    if (len < 28 || memcmp(p, "EEFW", 4) != 0)
        return eef_fail(EEF_EFORMAT, "rollout results of rank %d: bad header", r);
    memcpy(&re->at, p + 4, 8);
    memcpy(&re->code, p + 12, 4);
    memcpy(&mlen, p + 16, 4);
    if (mlen > 4000 || 28 + (size_t)mlen > len)
        return eef_fail(EEF_EFORMAT, "rollout results of rank %d: bad message length", r);
    snprintf(re->msg, sizeof re->msg, "%.*s", (int)mlen, p + 20);
    memcpy(&count, p + 20 + mlen, 8);
    size_t pos = 28 + (size_t)mlen;
    for (uint64_t k = 0; k < count; k++) {
        uint64_t item;
        eef_traj t;
        EEF_TRY(eef_dist_traj_unpack(p, len, &pos, &item, &t));
        if (item >= w->n || have[item]) {
            eef_traj_free(&t);
            return eef_fail(EEF_EFORMAT, "rollout results of rank %d: item %llu %s", r,
                            (unsigned long long)item, item >= w->n ? "out of range" : "twice");
        }
        have[item] = 1;
        out[item] = t;
    }
    if (pos != len)
        return eef_fail(EEF_EFORMAT, "rollout results of rank %d: %zu bytes left over", r, len - pos);
    return EEF_OK;
}

eef_err eef_dist_work_end(eef_dist_work *w, eef_traj *out, eef_err err, size_t err_at,
                          const char *msg)
{
    eef_err e = EEF_OK;
    rank_error first = { err ? (uint64_t)err_at : UINT64_MAX, (uint32_t)err, "" };
    if (err) snprintf(first.msg, sizeof first.msg, "%s", msg ? msg : "");
    unsigned char *have = NULL;
    if (w->size > 1) {
        eef_buf b;
        eef_buf_init(&b);
        char *all = NULL;
        size_t all_len = 0, *len_of = eef_calloc((size_t)w->size, sizeof *len_of);
        have = eef_calloc(w->n ? w->n : 1, 1);
        e = (!len_of || !have) ? EEF_ENOMEM : pack_results(w, out, err, err_at, msg, &b);
        /* every rank must reach the gather, even one that failed to pack:
         * it sends an empty part, which the others read as an error */
        if (e) b.len = 0;
        eef_err eg = eef_dist_allgather(b.data ? b.data : "", b.len, &all, &all_len, len_of);
        if (!e) e = eg;
        for (size_t i = 0; !e && i < w->n; i++) have[i] = w->mine[i];
        size_t off = 0;
        for (int r = 0; !e && r < w->size; r++) {
            rank_error re;
            if (r != w->rank) e = unpack_results(w, r, all + off, len_of[r], have, out, &re);
            else re = first;
            if (!e && re.code && (re.at < first.at || !first.code)) first = re;
            off += len_of[r];
        }
        for (size_t i = 0; !e && !first.code && i < w->n; i++)
            if (!have[i])
                e = eef_fail(EEF_ESTATE, "rollout batch: item %zu was run by no rank", i);
        free(all);
        free(len_of);
        eef_buf_free(&b);
    }
    if (!e && first.code) e = eef_fail((eef_err)first.code, "%s", first.msg);
    if (e)
        for (size_t i = 0; i < w->n; i++) eef_traj_free(&out[i]);
    free(have);
    free(w->mine);
    free(w);
    return e;
}

/* gen_pool.c: the chat server's generation workers.
 *
 * A bounded FIFO queue of jobs feeds a fixed set of worker threads.  Each
 * worker owns a KV cache (the model's weights are shared, read-only) and
 * keeps the tokens it holds: a request whose prompt starts like the
 * previous one on that worker (an agent's growing history) feeds only the
 * new tokens (from a chunk boundary on; see sync_cache).  Each worker computes with its own OpenMP team of
 * threads_per_worker threads.  docs/serving.md has the measurements
 * behind the defaults.
 *
 * Sampling is the nn library's (temperature, top-p) from the job's own
 * counter-based stream, so the same request with the same seed gives the
 * same bytes whichever worker runs it and whatever ran before.
 */
#include "serve_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

typedef struct {
    gen_pool *pool;
    pthread_t thread;
    int started;
    eef_kv *kv;
    int *cached; /* tokens in the KV cache */
    int n_cached, cap_cached;
    int n_canon; /* cached[0, n_canon) were fed in whole prefill chunks */
    float *logits;
    chat_job *current; /* under pool->mu */
} worker;

/* What sampling an id means, from the tokenizer (computed once). */
enum { ID_TEXT, ID_END, ID_NONE };

struct gen_pool {
    const eef_model *m;
    unsigned char *id_kind; /* [V]: ID_TEXT; ID_END a control token (end of turn, eos, any
                             * special) ends the reply; ID_NONE an id no token has (an
                             * embedding row past the tokenizer, a hole) is never sampled */
    int threads_per_worker;
    int max_queue;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    chat_job *head, *tail;
    int n_queued;
    int stopping;
    worker *workers;
    int n_workers;
};

/* ------------------------------------------------------------ jobs */
chat_job *chat_job_new(int *prompt, int n_prompt, int max_new, const eef_sampling *s,
                       uint64_t key, const eef_strlist *stop, double deadline)
{
    chat_job *j = eef_calloc(1, sizeof *j);
    if (!j) return NULL;
    j->prompt = prompt;
    j->n_prompt = n_prompt;
    j->max_new = max_new;
    j->sampling = *s;
    j->key = key;
    j->deadline = deadline;
    for (size_t i = 0; stop && i < stop->n; i++)
        if (eef_strlist_push(&j->stop, stop->items[i])) {
            eef_strlist_free(&j->stop);
            free(j);
            return NULL;
        }
    pthread_mutex_init(&j->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* deadlines are eef_now() times */
    pthread_cond_init(&j->cv, &ca);
    pthread_condattr_destroy(&ca);
    eef_buf_init(&j->text);
    j->state = JOB_QUEUED;
    j->refs = 1;
    return j;
}

void chat_job_release(chat_job *j)
{
    if (!j) return;
    pthread_mutex_lock(&j->mu);
    int last = --j->refs == 0;
    pthread_mutex_unlock(&j->mu);
    if (!last) return;
    free(j->prompt);
    eef_strlist_free(&j->stop);
    eef_buf_free(&j->text);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
}

/* Caller holds j->mu. */
static void fail_locked(chat_job *j, unsigned status, const char *msg)
{
    j->state = JOB_FAILED;
    j->err_status = status;
    snprintf(j->err, sizeof j->err, "%s", msg);
    pthread_cond_broadcast(&j->cv);
}

void chat_job_fail(chat_job *j, unsigned status, const char *msg)
{
    pthread_mutex_lock(&j->mu);
    if (j->state == JOB_QUEUED) fail_locked(j, status, msg);
    pthread_mutex_unlock(&j->mu);
}

void chat_job_wait_start(chat_job *j)
{
    pthread_mutex_lock(&j->mu);
    while (j->state == JOB_QUEUED) {
        double left = j->deadline - eef_now();
        if (left <= 0) {
            fail_locked(j, 503, "the request waited too long for a worker; retry later");
            break;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double secs = (double)ts.tv_sec + ts.tv_nsec * 1e-9 + (left < 1.0 ? left : 1.0);
        ts.tv_sec = (time_t)secs;
        ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
        pthread_cond_timedwait(&j->cv, &j->mu, &ts);
    }
    pthread_mutex_unlock(&j->mu);
}

void chat_job_wait_progress(chat_job *j, size_t seen)
{
    pthread_mutex_lock(&j->mu);
    while ((j->state == JOB_RUNNING || j->state == JOB_QUEUED) && j->text.len == seen)
        pthread_cond_wait(&j->cv, &j->mu);
    pthread_mutex_unlock(&j->mu);
}

void chat_job_wait_end(chat_job *j)
{
    pthread_mutex_lock(&j->mu);
    while (j->state == JOB_RUNNING || j->state == JOB_QUEUED) pthread_cond_wait(&j->cv, &j->mu);
    pthread_mutex_unlock(&j->mu);
}

/* ------------------------------------------------------------ generation */
/* Prompts are fed in chunks of PREFILL_CHUNK tokens at fixed positions
 * (0..63, 64..127, ...).  The logits of a batched feed depend in their
 * last bits on how the tokens were split into feeds, so a cached prefix is
 * reused only up to a chunk boundary it was fed with: then the cache, the
 * logits and the sampled tokens are bit for bit those of a fresh start,
 * whatever the worker ran before.  (A multiple of the matmul's 16-row
 * blocks, so the thread count does not matter either.) */
#define PREFILL_CHUNK 64

/* Makes the cache hold exactly tokens[0, n) and w->logits the logits after
 * the last one, feeding only what follows the reusable prefix. */
static eef_err sync_cache(worker *w, const int *tokens, int n)
{
    int common = 0;
    while (common < w->n_canon && common < n && w->cached[common] == tokens[common]) common++;
    common -= common % PREFILL_CHUNK;
    if (common == n) common -= PREFILL_CHUNK; /* refeed the last chunk for its logits */
    eef_kv_truncate(w->kv, common);
    w->n_cached = w->n_canon = common;
    if (n > w->cap_cached) {
        int *c = eef_realloc(w->cached, (size_t)n * 2 * sizeof(int));
        if (!c) return EEF_ENOMEM;
        w->cached = c, w->cap_cached = n * 2;
    }
    for (int at = common; at < n; at += PREFILL_CHUNK) {
        int len = EEF_MIN(PREFILL_CHUNK, n - at);
        EEF_TRY(eef_kv_feed(w->kv, tokens + at, len, at + len == n ? w->logits : NULL));
        memcpy(w->cached + at, tokens + at, (size_t)len * sizeof(int));
        w->n_cached = at + len;
        if (len == PREFILL_CHUNK) w->n_canon = at + len;
    }
    return EEF_OK;
}

static eef_err feed_one(worker *w, int tok)
{
    if (w->n_cached == w->cap_cached) {
        int cap = w->cap_cached ? 2 * w->cap_cached : 256;
        int *c = eef_realloc(w->cached, (size_t)cap * sizeof(int));
        if (!c) return EEF_ENOMEM;
        w->cached = c, w->cap_cached = cap;
    }
    EEF_TRY(eef_kv_feed(w->kv, &tok, 1, w->logits));
    w->cached[w->n_cached++] = tok;
    return EEF_OK;
}

/* Where the earliest stop string in raw starts, looking from `from` on;
 * (size_t)-1 when there is none. */
static size_t find_stop(const eef_buf *raw, size_t from, const eef_strlist *stop)
{
    size_t best = (size_t)-1;
    for (size_t s = 0; s < stop->n; s++) {
        const char *hit = memmem(raw->data + from, raw->len - from, stop->items[s],
                                 strlen(stop->items[s]));
        if (hit && (size_t)(hit - raw->data) < best) best = (size_t)(hit - raw->data);
    }
    return best;
}

/* Bytes at the end of raw that could be the start of a stop string: they
 * are held back until the next token decides. */
static size_t stop_holdback(const eef_buf *raw, const eef_strlist *stop)
{
    size_t hold = 0;
    for (size_t s = 0; s < stop->n; s++) {
        size_t ls = strlen(stop->items[s]);
        for (size_t k = ls - 1; k > hold; k--)
            if (k <= raw->len && memcmp(raw->data + raw->len - k, stop->items[s], k) == 0) {
                hold = k;
                break;
            }
    }
    return hold;
}

/* Moves raw[*emitted, upto) into the job's text (whole characters only
 * unless final) and wakes the connection thread. */
static void publish(chat_job *j, const eef_buf *raw, size_t *emitted, size_t upto, int final,
                    int n_tokens)
{
    pthread_mutex_lock(&j->mu);
    size_t before = j->text.len;
    if (upto > *emitted) *emitted += utf8_sanitize(raw->data + *emitted, upto - *emitted, final, &j->text);
    j->completion_tokens = n_tokens;
    if (j->text.len != before) pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

static void generate(worker *w, chat_job *j)
{
    const eef_model *m = w->pool->m;
    const int V = m->cfg.vocab;
    eef_rng rng = eef_rng_make(j->key);
    eef_buf raw;
    eef_buf_init(&raw);
    size_t emitted = 0, max_stop = 0;
    for (size_t s = 0; s < j->stop.n; s++) max_stop = EEF_MAX(max_stop, strlen(j->stop.items[s]));
    const char *finish = "length";
    int n_gen = 0;
    eef_err e = sync_cache(w, j->prompt, j->n_prompt);
    for (int t = 0; !e && t < j->max_new; t++) {
        if (__atomic_load_n(&j->cancelled, __ATOMIC_RELAXED)) break;
        const unsigned char *kind = w->pool->id_kind;
        for (int i = 0; i < V; i++)
            if (kind[i] == ID_NONE) w->logits[i] = -INFINITY;
        int tok = eef_sample_token(w->logits, V, &j->sampling, &rng);
        if (kind[tok] != ID_TEXT) {
            finish = "stop"; /* the end of the turn (or any control token) ends the reply */
            break;
        }
        n_gen++;
        size_t plen = 0, before = raw.len;
        const char *piece = eef_tok_piece(m->tok, tok, &plen);
        if (!piece || eef_buf_append(&raw, piece, plen)) {
            e = eef_fail(EEF_ENOMEM, "out of memory generating");
            break;
        }
        if (j->stop.n) {
            size_t from = before >= max_stop ? before - max_stop + 1 : 0;
            size_t at = find_stop(&raw, from, &j->stop);
            if (at != (size_t)-1) {
                raw.len = at;
                raw.data[at] = 0;
                finish = "stop";
                break;
            }
        }
        publish(j, &raw, &emitted, raw.len - stop_holdback(&raw, &j->stop), 0, n_gen);
        if (t + 1 < j->max_new) {
            if (eef_kv_len(w->kv) >= m->cfg.max_ctx) break; /* the context is full: "length" */
            e = feed_one(w, tok);
        }
    }
    if (e) {
        /* the cache is in an unknown state: start afresh next time */
        eef_kv_reset(w->kv);
        w->n_cached = w->n_canon = 0;
    }
    publish(j, &raw, &emitted, raw.len, 1, n_gen);
    pthread_mutex_lock(&j->mu);
    if (e) {
        fail_locked(j, 500, eef_errmsg());
    } else {
        j->state = JOB_DONE;
        j->finish = finish;
        pthread_cond_broadcast(&j->cv);
    }
    pthread_mutex_unlock(&j->mu);
    eef_buf_free(&raw);
}

/* ------------------------------------------------------------ workers */
static void *worker_main(void *arg)
{
    worker *w = arg;
    gen_pool *p = w->pool;
#ifdef _OPENMP
    omp_set_dynamic(0);
    omp_set_num_threads(p->threads_per_worker);
#endif
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->head && !p->stopping) pthread_cond_wait(&p->cv, &p->mu);
        if (!p->head) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        chat_job *j = p->head;
        p->head = j->next;
        if (!p->head) p->tail = NULL;
        p->n_queued--;
        w->current = j;
        pthread_mutex_unlock(&p->mu);

        pthread_mutex_lock(&j->mu);
        int run = 0;
        if (j->state == JOB_QUEUED && !__atomic_load_n(&j->cancelled, __ATOMIC_RELAXED)) {
            if (eef_now() > j->deadline) {
                fail_locked(j, 503, "the request waited too long for a worker; retry later");
            } else {
                j->state = JOB_RUNNING;
                pthread_cond_broadcast(&j->cv);
                run = 1;
            }
        }
        pthread_mutex_unlock(&j->mu);
        if (run) generate(w, j);

        pthread_mutex_lock(&p->mu);
        w->current = NULL;
        pthread_mutex_unlock(&p->mu);
        chat_job_release(j);
    }
    return NULL;
}

void gen_pool_free(gen_pool *p)
{
    if (!p) return;
    for (int i = 0; i < p->n_workers; i++) {
        eef_kv_free(p->workers[i].kv);
        free(p->workers[i].cached);
        free(p->workers[i].logits);
    }
    free(p->workers);
    free(p->id_kind);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

eef_err gen_pool_start(const eef_model *m, int workers, int threads_per_worker, int max_queue,
                       gen_pool **out)
{
    *out = NULL;
    if (workers < 1 || threads_per_worker < 1 || max_queue < 1)
        return eef_fail(EEF_EINVAL, "serve: workers, threads and queue must be at least 1");
    gen_pool *p = eef_calloc(1, sizeof *p);
    if (!p) return EEF_ENOMEM;
    p->m = m;
    p->threads_per_worker = threads_per_worker;
    p->max_queue = max_queue;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->workers = eef_calloc((size_t)workers, sizeof *p->workers);
    p->id_kind = eef_malloc((size_t)m->cfg.vocab);
    eef_err e = p->workers && p->id_kind ? EEF_OK : EEF_ENOMEM;
    if (!e && !m->tok) e = eef_fail(EEF_EINVAL, "serve: the model has no tokenizer");
    for (int i = 0; !e && i < m->cfg.vocab; i++) {
        eef_tok_type t = eef_tok_type_of(m->tok, i);
        p->id_kind[i] = t == EEF_TOKTYPE_NONE ? ID_NONE : t == EEF_TOKTYPE_CONTROL ? ID_END : ID_TEXT;
    }
    if (!e) { /* the role map's ends, whatever their type */
        const eef_tok_roles *r = eef_tok_roles_of(m->tok);
        if (r->eot >= 0 && r->eot < m->cfg.vocab) p->id_kind[r->eot] = ID_END;
        if (r->eos >= 0 && r->eos < m->cfg.vocab) p->id_kind[r->eos] = ID_END;
    }
    if (!e) p->n_workers = workers;
    for (int i = 0; !e && i < workers; i++) {
        worker *w = &p->workers[i];
        w->pool = p;
        e = eef_kv_new(m, 0, &w->kv);
        if (!e && !(w->logits = eef_malloc((size_t)m->cfg.vocab * sizeof(float)))) e = EEF_ENOMEM;
    }
    for (int i = 0; !e && i < workers; i++) {
        if (pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]) != 0)
            e = eef_fail(EEF_EIO, "serve: cannot start worker thread %d", i);
        else p->workers[i].started = 1;
    }
    if (e) {
        gen_pool_stop(p);
        gen_pool_free(p);
        return e;
    }
    *out = p;
    return EEF_OK;
}

/* Drops the queued jobs nobody waits for any more (failed at their
 * deadline, or their client left), so they do not hold queue places.
 * Caller holds p->mu (then each job's mu: the lock order everywhere). */
static void purge_locked(gen_pool *p)
{
    chat_job **link = &p->head, *last = NULL;
    while (*link) {
        chat_job *j = *link;
        pthread_mutex_lock(&j->mu);
        int dead = j->state != JOB_QUEUED || __atomic_load_n(&j->cancelled, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&j->mu);
        if (dead) {
            *link = j->next;
            p->n_queued--;
            chat_job_release(j);
        } else {
            last = j;
            link = &j->next;
        }
    }
    p->tail = last;
}

eef_err gen_pool_submit(gen_pool *p, chat_job *j)
{
    pthread_mutex_lock(&p->mu);
    eef_err e = EEF_OK;
    if (p->n_queued >= p->max_queue) purge_locked(p);
    if (p->stopping) e = eef_fail(EEF_ESTATE, "the server is shutting down");
    else if (p->n_queued >= p->max_queue)
        e = eef_fail(EEF_ESTATE, "%d requests are already waiting; retry later", p->n_queued);
    if (!e) {
        pthread_mutex_lock(&j->mu);
        j->refs++;
        pthread_mutex_unlock(&j->mu);
        j->next = NULL;
        if (p->tail) p->tail->next = j;
        else p->head = j;
        p->tail = j;
        p->n_queued++;
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return e;
}

void gen_pool_stop(gen_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    chat_job *q = p->head;
    p->head = p->tail = NULL;
    p->n_queued = 0;
    for (int i = 0; i < p->n_workers; i++)
        if (p->workers[i].current) __atomic_store_n(&p->workers[i].current->cancelled, 1, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    while (q) {
        chat_job *next = q->next;
        chat_job_fail(q, 503, "the server is shutting down");
        chat_job_release(q);
        q = next;
    }
    for (int i = 0; i < p->n_workers; i++)
        if (p->workers[i].started) pthread_join(p->workers[i].thread, NULL), p->workers[i].started = 0;
}

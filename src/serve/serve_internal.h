/* serve_internal.h: the private face of src/serve — the HTTP plumbing
 * both servers share (http.c) and the pieces of the chat server. */
#ifndef EEF_SERVE_INTERNAL_H
#define EEF_SERVE_INTERNAL_H

#include "serve.h"

#include "agent/policy.h"

#include <microhttpd.h>
#include <pthread.h>

struct cJSON;

/* One complete request (headers and body read). */
typedef struct {
    struct MHD_Connection *conn;
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* "/v1/chat/completions" (no query string) */
    const char *body;   /* NUL-terminated; "" when there is none */
    size_t body_len;
} http_req;

/* What makes a server one kind or the other. */
typedef struct {
    /* Queues a response for `r` (MHD_YES) or fails the connection (MHD_NO). */
    enum MHD_Result (*handle)(eef_server *s, const http_req *r);
    /* Queues an error response in this API's style. */
    enum MHD_Result (*error)(eef_server *s, struct MHD_Connection *c, unsigned status,
                             const char *type, const char *msg);
    /* Before the daemon stops: wake every connection thread that waits. */
    void (*shutdown)(eef_server *s);
    /* After it stopped: free the kind's state. */
    void (*destroy)(eef_server *s);
} http_kind;

struct eef_server {
    const http_kind *kind;
    struct MHD_Daemon *daemon;
    int port;
    size_t max_body;
    void *impl;
};

/* Listens on host:port with one thread per connection.  `idle_s` closes
 * connections that send nothing for that long. */
eef_err http_start(eef_server *s, const char *host, int port, unsigned max_connections,
                   unsigned idle_s);
void http_stop(eef_server *s);

enum MHD_Result http_send(struct MHD_Connection *c, unsigned status, const char *content_type,
                          const char *body, size_t len);
/* Sends cJSON's compact print of `j` (then deletes j); 500 if printing fails. */
enum MHD_Result http_send_json(struct MHD_Connection *c, unsigned status, struct cJSON *j);
const char *http_query(const http_req *r, const char *key);
const char *http_header(const http_req *r, const char *name);
/* Constant-time string comparison (API keys). */
int http_secure_equal(const char *a, const char *b);

/* Copies the longest prefix of s[0..n) that ends on a whole UTF-8
 * character into out, replacing invalid bytes with U+FFFD; returns the
 * bytes of s consumed.  With `final`, a cut sequence at the end is
 * replaced too (everything is consumed). */
size_t utf8_sanitize(const char *s, size_t n, int final, eef_buf *out);

/* ------------------------------------------------------------ chat requests
 * A parsed POST /v1/chat/completions (chat_request.c).  A model with a chat
 * template gets the messages in it; for eef's own models they are
 * mapped onto eef's prompt format: the leading system (or developer)
 * messages, else the first user message, are the instruction; then each
 * user (or tool) message is an observation and each assistant message an
 * action, so obs has one entry more than acts (the prompt ends with
 * "<|obs|> OBS <|act|>", ready for the reply). */
typedef struct {
    char *model;            /* as requested, or NULL */
    char *instruction;
    eef_strlist obs, acts;  /* obs.n == acts.n + 1 */
    /* the messages as they came, for a model with a chat template: roles
     * "system" (also developer), "user" (also tool), "assistant" */
    eef_strlist msg_role, msg_text;
    double temperature;     /* [0, 2]; OpenAI's default 1 */
    double top_p;           /* (0, 1] */
    long max_tokens;        /* -1: until the context is full */
    int has_seed;
    uint64_t seed;
    eef_strlist stop;       /* up to 4 strings */
    int stream;
    int include_usage;      /* stream_options.include_usage */
} chat_req;

/* Parses and checks a request body.  On failure the message says what is
 * wrong and *param names the offending field (or NULL). */
eef_err chat_req_parse(const char *body, size_t len, chat_req *out, const char **param);
void chat_req_free(chat_req *r);
/* The prompt tokens for `r` within a budget of `max_tokens` tokens: the
 * conversation in the tokenizer's chat template when it has one (the
 * oldest turns after the system messages dropped until it fits), else
 * eef's agent prompt (observations elided to fit). */
eef_err chat_req_prompt(const chat_req *r, const eef_tokenizer *tok, int max_tokens,
                        eef_prompt *out);

/* ------------------------------------------------------------ generation
 * A job is one request's generation (gen_pool.c).  The connection thread
 * builds it and submits it; a worker takes it from the queue, generates
 * into `text`, and signals `cv` after every token; the connection thread
 * waits for the end (plain) or sends each new piece (stream).  Text is
 * appended only in whole UTF-8 characters, never part of a stop string. */
typedef enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_FAILED } job_state;

typedef struct chat_job {
    /* input, fixed once submitted */
    int *prompt;            /* [n_prompt] tokens */
    int n_prompt;
    int max_new;            /* most tokens to generate */
    eef_sampling sampling;
    uint64_t key;           /* RNG key of this request */
    eef_strlist stop;       /* stop strings */
    double deadline;        /* eef_now() by which a worker must have started it */
    /* output, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job_state state;
    eef_buf text;           /* generated text so far (valid UTF-8) */
    const char *finish;     /* "stop" or "length" once done */
    int completion_tokens;
    unsigned err_status;    /* HTTP status when failed */
    char err[256];
    int cancelled;          /* the client left or the server stops */
    int refs;
    struct chat_job *next;  /* queue link */
} chat_job;

typedef struct gen_pool gen_pool;

/* A new job holding one reference (the caller's); takes the prompt. */
chat_job *chat_job_new(int *prompt, int n_prompt, int max_new, const eef_sampling *s,
                       uint64_t key, const eef_strlist *stop, double deadline);
void chat_job_release(chat_job *j);
/* Ends a job that has not started: state FAILED with status and message. */
void chat_job_fail(chat_job *j, unsigned status, const char *msg);

eef_err gen_pool_start(const eef_model *m, int workers, int threads_per_worker, int max_queue,
                       gen_pool **out);
/* Queues the job (the pool takes its own reference); EEF_ESTATE when the
 * queue is full or the pool stops. */
eef_err gen_pool_submit(gen_pool *p, chat_job *j);
/* Fails every queued job, cancels the running ones, joins the workers;
 * later submits fail.  gen_pool_free then frees (after every connection
 * thread that could submit has ended). */
void gen_pool_stop(gen_pool *p);
void gen_pool_free(gen_pool *p);
/* Waits until the job leaves the queue, or fails it with 503 at its deadline. */
void chat_job_wait_start(chat_job *j);
/* Waits while the job runs and its text is `seen` bytes long. */
void chat_job_wait_progress(chat_job *j, size_t seen);
/* Waits until the job is done or failed. */
void chat_job_wait_end(chat_job *j);

#endif

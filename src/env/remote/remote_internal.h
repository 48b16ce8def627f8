/* remote_internal.h: the private face of env/remote — an environment
 * that is a client of an AgentGym-style environment server. */
#ifndef EEF_REMOTE_INTERNAL_H
#define EEF_REMOTE_INTERNAL_H

#include "remote.h"

#include <curl/curl.h>
#include <pthread.h>

struct cJSON;

/* ------------------------------------------------------------ HTTP (remote_http.c) */
typedef struct {
    double timeout; /* seconds for one attempt (connecting included) */
    int retries;    /* further attempts after a failure that may be retried */
    double backoff; /* seconds before the first retry; doubled each time */
} remote_policy;

typedef struct {
    CURL *curl;
    struct curl_slist *headers;
    char errbuf[CURL_ERROR_SIZE];
} remote_http;

eef_err remote_http_init(remote_http *h);
void remote_http_free(remote_http *h);

/* A request may be repeated when it cannot change the server's state
 * twice (GET, reset, close) — then timeouts and broken connections are
 * retried too.  A step is never repeated once it may have reached the
 * server: only "could not connect" and 503 (not processed) are retried. */
typedef enum { REQ_REPEATABLE, REQ_ONCE } remote_req_kind;

/* Sends METHOD base+path (query: "k=v&..." or NULL; body: JSON text or
 * NULL) and parses the JSON answer into *out.  Fails with EEF_ENET and a
 * message naming the server, route and cause when the server cannot be
 * reached, answers with an error status, or answers {"error": ...}
 * (AgentGym's ALFWorld server reports errors that way, with status 200);
 * *status (if not NULL) gets the last HTTP status (0: none). */
eef_err remote_http_call(remote_http *h, const char *base, const remote_policy *pol,
                         remote_req_kind kind, const char *method, const char *path,
                         const char *query, const char *body, struct cJSON **out, long *status);

/* ------------------------------------------------------------ the environment */
typedef enum { API_WEBSHOP, API_ALFWORLD } remote_api;

typedef struct {
    char *id, *instruction;
    eef_tier tier;
    int loaded;
} remote_task;

typedef struct {
    eef_env base;
    char *url;               /* base URL, no trailing '/' */
    remote_api api;
    int eef;                 /* the server is eef env-serve: use its /eef routes */
    remote_policy pol;
    long lo[2], n[2];        /* data indices [lo, lo + n) of train and test */
    char world_type[16];     /* ALFWorld's reset field */
    pthread_mutex_t mu;      /* the task cache and the probe session */
    remote_task *tasks[2];
    remote_http meta;        /* under mu */
    long probe;              /* session used to read instructions (-1: none) */
} remote_env;

typedef struct {
    eef_episode base;
    remote_http http;
    long id;                 /* server session (-1: not created yet) */
    eef_buf obs;
    int has_task, done, steps;
    double reward;
    eef_actions acts;
    int acts_fresh;          /* acts holds the current state's actions */
} remote_episode;

/* Task metadata, fetched once per task (remote_tasks.c). */
eef_err remote_task_get(remote_env *re, eef_split split, size_t index, eef_task *out);
void remote_tasks_free(remote_env *re);

/* Sessions (remote_session.c).  remote_reset_session resets session *id
 * (created first when *id < 0, created again when the server forgot it:
 * idle sessions expire) to the data index; *resp gets the parsed answer. */
eef_err remote_reset_session(remote_env *re, remote_http *h, long *id, long data_idx,
                             struct cJSON **resp);
void remote_close_session(remote_env *re, remote_http *h, long id);
/* The session field of this API ("env_idx" or "id"). */
const char *remote_id_key(const remote_env *re);

#endif

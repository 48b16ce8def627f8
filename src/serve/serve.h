/*
 * serve: eef's HTTP servers (libmicrohttpd), one thread per connection.
 *
 *   - the chat server: a model on the OpenAI-compatible API
 *     (POST /v1/chat/completions, plain or streamed; GET /v1/models).
 *     Requests go through a bounded queue to a fixed set of worker
 *     threads, each with its own KV cache (docs/serving.md says why).
 *   - the environment server: an environment on the HTTP API of
 *     AgentGym's environment servers (WebShop's or ALFWorld's dialect),
 *     many concurrent sessions, each its own eef_episode.
 *
 * Both bind 127.0.0.1 unless told otherwise; port 0 picks a free port
 * (eef_server_port says which).  docs/serving.md lists every route.
 */
#ifndef EEF_SERVE_H
#define EEF_SERVE_H

#include "core/core.h"
#include "env/env.h"
#include "nn/nn.h"

typedef struct eef_server eef_server;

/* ------------------------------------------------------------ chat server */
typedef struct {
    const char *host;       /* address to bind: "127.0.0.1", "0.0.0.0", "::1" */
    int port;               /* 0: any free port */
    const char *api_key;    /* required "Authorization: Bearer KEY", or NULL */
    const char *model_name; /* the id in /v1/models and in responses */
    int workers;            /* generation threads, each with its own KV cache */
    int threads_per_worker; /* OpenMP threads each worker computes with */
    int max_queue;          /* requests waiting beyond this get 503 */
    double queue_timeout;   /* seconds a request may wait for a worker (then 503) */
    size_t max_body;        /* bytes; larger request bodies get 413 */
    int max_connections;    /* concurrent connections accepted */
} eef_chat_server_config;

void eef_chat_server_defaults(eef_chat_server_config *c);
/* Starts serving `m` (borrowed: it must outlive the server; it needs a
 * tokenizer).  Returns once the socket listens. */
eef_err eef_chat_server_start(const eef_model *m, const eef_chat_server_config *c,
                              eef_server **out);

/* ------------------------------------------------------------ environment server */
typedef enum {
    EEF_API_WEBSHOP = 0,  /* agentenv-webshop: env_idx, session_id, state */
    EEF_API_ALFWORLD = 1, /* agentenv-alfworld: id, game, observation */
} eef_env_api;

typedef struct {
    const char *host;
    int port;
    eef_env_api api;
    const char *env_name;  /* reported by GET /eef/info */
    int max_sessions;      /* POST /create beyond this gets 503 */
    double idle_timeout;   /* seconds; a session unused this long is closed */
    size_t max_body;
    int max_connections;
} eef_env_server_config;

void eef_env_server_defaults(eef_env_server_config *c);
/* The API an environment is served with by default: WebShop's for
 * "shop", ALFWorld's for everything else. */
eef_env_api eef_env_api_for(const char *env_name);
eef_err eef_env_api_parse(const char *s, eef_env_api *out);
/* Starts serving `env` (borrowed; shared by all sessions). */
eef_err eef_env_server_start(eef_env *env, const eef_env_server_config *c, eef_server **out);

/* ------------------------------------------------------------ both */
int eef_server_port(const eef_server *s);
/* Stops listening, ends the requests in flight (queued generations get
 * 503, streams end), waits for the connection threads, frees. */
void eef_server_stop(eef_server *s);

#endif

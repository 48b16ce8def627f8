/* eef serve: a model on the OpenAI-compatible HTTP API until SIGINT or
 * SIGTERM.  A model whose tokenizer has a chat template (an imported
 * Hugging Face model) gets the messages in it; eef's own models get them
 * mapped onto eef's agent prompt (serve/chat_request.c).  Prints "eef serve: listening on http://HOST:PORT" on stderr
 * once the socket listens (with --port 0, the port picked). */
#include "cli.h"

#include "serve/serve.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

static char *model_name_of(const char *path)
{
    char *copy = eef_strdup(path); /* a directory's name, trailing slashes dropped */
    if (!copy) return NULL;
    for (size_t n = strlen(copy); n > 1 && copy[n - 1] == '/'; n--) copy[n - 1] = 0;
    const char *base = strrchr(copy, '/');
    base = base && base[1] ? base + 1 : copy;
    char *name = eef_strdup(base);
    free(copy);
    if (!name) return NULL;
    char *dot = strrchr(name, '.');
    if (dot && dot != name && strcmp(dot, ".eefm") == 0) *dot = 0;
    return name;
}

int cmd_serve(int argc, char **argv)
{
    eef_chat_server_config c;
    eef_chat_server_defaults(&c);
    const char *model = NULL, *host = c.host, *key_env = NULL, *name = NULL;
    long port = c.port, threads = 0, workers = 0, queue = c.max_queue;
    double timeout = c.queue_timeout;
    const cli_opt opts[] = {
        { "--model", OPT_STR, &model, "PATH",
          "model to serve (.eefm, or a Hugging Face directory: its chat template is the prompt)", 0, 0 },
        { "--host", OPT_STR, &host, "ADDR", "address to bind", 0, 0 },
        { "--port", OPT_INT, &port, "P", "port (0: any free port)", 0, 65535 },
        { "--api-key-env", OPT_STR, &key_env, "VAR",
          "require 'Authorization: Bearer $VAR' (the key is read from that variable)", 0, 0 },
        { "--threads", OPT_INT, &threads, "N", "compute threads in all (0: all cores)", 0, 1024 },
        { "--workers", OPT_INT, &workers, "W",
          "requests generated at once, each with its own KV cache (0: one per thread)", 0, 256 },
        { "--queue", OPT_INT, &queue, "N", "requests that may wait for a worker", 1, 100000 },
        { "--timeout", OPT_DOUBLE, &timeout, "S", "seconds a request may wait for a worker",
          0.001, 86400 },
        { "--name", OPT_STR, &name, "ID", "model id in the API (default: the file's name)", 0, 0 },
        { 0 },
    };
    const cli_spec spec = { "serve", "--model PATH [options]",
                            "serve a model on the OpenAI-compatible HTTP API", opts, 0, 0 };
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    if (!model) {
        fprintf(stderr, "eef serve: --model is required\n");
        cli_usage(&spec, stderr);
        return 2;
    }
    const char *key = NULL;
    if (key_env) {
        key = getenv(key_env);
        if (!key || !*key) {
            eef_fail(EEF_EINVAL, "--api-key-env %s: that environment variable is not set", key_env);
            return cli_error("serve");
        }
    }
    cli_set_threads(threads);
    int total = threads > 0 ? (int)threads : eef_threads();
    /* default: one single-threaded worker per thread (measured best for
     * throughput; docs/serving.md) */
    c.workers = workers > 0 ? (int)workers : total;
    c.threads_per_worker = EEF_MAX(1, total / c.workers);
    c.host = host;
    c.port = (int)port;
    c.api_key = key;
    c.max_queue = (int)queue;
    c.queue_timeout = timeout;
    sigset_t stop;
    cli_block_stop_signals(&stop);
    eef_model *m = NULL;
    char *default_name = NULL;
    eef_server *s = NULL;
    if (eef_model_load(model, &m)) return cli_error("serve");
    default_name = model_name_of(model);
    c.model_name = name ? name : default_name;
    if (eef_chat_server_start(m, &c, &s)) {
        free(default_name);
        eef_model_free(m);
        return cli_error("serve");
    }
    const char *chat = m->tok ? eef_tok_chat_name(m->tok) : NULL;
    fprintf(stderr, "eef serve: listening on http://%s%s%s:%d (model %s, prompt %s, %d workers x %d threads)\n",
            strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", eef_server_port(s), c.model_name,
            chat ? chat : "eef's agent format", c.workers, c.threads_per_worker);
    fflush(stderr);
    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "eef serve: %s, stopping\n", sig == SIGINT ? "interrupted" : "terminated");
    eef_server_stop(s);
    free(default_name);
    eef_model_free(m);
    return 0;
}

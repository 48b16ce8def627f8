/* eef env-serve: an environment on the HTTP API of AgentGym's environment
 * servers, until SIGINT or SIGTERM.  Prints "eef env-serve: listening on
 * http://HOST:PORT" on stderr once the socket listens. */
#include "cli.h"

#include "serve/serve.h"

#include <signal.h>
#include <string.h>

int cmd_env_serve(int argc, char **argv)
{
    eef_env_server_config c;
    eef_env_server_defaults(&c);
    const char *env_name = "shop", *env_opt = NULL, *host = c.host, *api = NULL;
    long seed = 1, port = c.port, max_sessions = c.max_sessions;
    double idle = c.idle_timeout;
    const cli_opt opts[] = {
        { "--env", OPT_STR, &env_name, "ENV", "environment: shop or house", 0, 0 },
        { "--env-opt", OPT_STR, &env_opt, "OPTS", "environment options, e.g. products=2000", 0, 0 },
        { "--seed", OPT_INT, &seed, "S", "seed of the environment (generated worlds)", 0, 0 },
        { "--host", OPT_STR, &host, "ADDR", "address to bind", 0, 0 },
        { "--port", OPT_INT, &port, "P", "port (0: any free port)", 0, 65535 },
        { "--api", OPT_STR, &api, "API",
          "webshop or alfworld (default: webshop for shop, alfworld otherwise)", 0, 0 },
        { "--max-sessions", OPT_INT, &max_sessions, "N", "sessions open at once", 1, 1000000 },
        { "--idle", OPT_DOUBLE, &idle, "S", "seconds after which an unused session is closed",
          0.001, 1e9 },
        { 0 },
    };
    const cli_spec spec = { "env-serve", "[--env shop|house] [options]",
                            "serve an environment on AgentGym's HTTP API", opts, 0, 0 };
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    if (strncmp(env_name, "remote:", 7) == 0) {
        eef_fail(EEF_EINVAL, "--env %s: serve a local environment (shop or house)", env_name);
        return cli_error("env-serve");
    }
    c.api = eef_env_api_for(env_name);
    if (api && eef_env_api_parse(api, &c.api)) return cli_error("env-serve");
    c.host = host;
    c.port = (int)port;
    c.env_name = env_name;
    c.max_sessions = (int)max_sessions;
    c.idle_timeout = idle;
    sigset_t stop;
    cli_block_stop_signals(&stop);
    eef_env *env = NULL;
    eef_server *s = NULL;
    if (eef_env_open(env_name, env_opt, (uint64_t)seed, &env)) return cli_error("env-serve");
    if (eef_env_server_start(env, &c, &s)) {
        eef_env_close(env);
        return cli_error("env-serve");
    }
    fprintf(stderr,
            "eef env-serve: listening on http://%s%s%s:%d (%s, %s API, %zu train + %zu test "
            "tasks)\n",
            strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", eef_server_port(s),
            env_name, c.api == EEF_API_WEBSHOP ? "webshop" : "alfworld",
            env->ops->n_tasks(env, EEF_SPLIT_TRAIN), env->ops->n_tasks(env, EEF_SPLIT_TEST));
    fflush(stderr);
    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "eef env-serve: %s, stopping\n", sig == SIGINT ? "interrupted" : "terminated");
    eef_server_stop(s);
    eef_env_close(env);
    return 0;
}

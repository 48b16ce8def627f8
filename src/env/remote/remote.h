/*
 * env/remote: a client of remote environment servers (AgentGym's API, or
 * eef env-serve), its public face beyond the env interface (env/env.h).
 */
#ifndef EEF_REMOTE_H
#define EEF_REMOTE_H

#include "env/env.h"

/* "remote:URL" with the options of remote_env.c's header comment. */
eef_err eef_remote_open(const char *url, const char *options, eef_env **out);

#endif

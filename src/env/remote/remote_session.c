/* remote_session.c: the server sessions of a remote environment (AgentGym's
 * POST /create, /reset, /close), for the episodes and the task reader. */
#include "remote_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>

const char *remote_id_key(const remote_env *re) { return re->api == API_WEBSHOP ? "env_idx" : "id"; }

static eef_err create(remote_env *re, remote_http *h, long *id)
{
    cJSON *j;
    EEF_TRY(remote_http_call(h, re->url, &re->pol, REQ_REPEATABLE, "POST", "/create", NULL, NULL,
                             &j, NULL));
    const cJSON *v = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "id") : j;
    eef_err e = EEF_OK;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
        e = eef_fail(EEF_ENET, "remote %s: POST /create: the answer has no session id", re->url);
    else *id = (long)v->valuedouble;
    cJSON_Delete(j);
    return e;
}

void remote_close_session(remote_env *re, remote_http *h, long id)
{
    char body[64];
    snprintf(body, sizeof body, "{\"%s\":%ld}", remote_id_key(re), id);
    remote_policy once = { .timeout = EEF_MIN(re->pol.timeout, 5.0), .retries = 0, .backoff = 0 };
    cJSON *j = NULL;
    if (remote_http_call(h, re->url, &once, REQ_REPEATABLE, "POST", "/close", NULL, body, &j, NULL))
        eef_debug("%s", eef_errmsg()); /* closing is best effort: idle sessions expire anyway */
    cJSON_Delete(j);
}

static eef_err reset_call(remote_env *re, remote_http *h, long id, long data_idx, cJSON **resp,
                     long *status)
{
    char body[160];
    if (re->api == API_WEBSHOP)
        snprintf(body, sizeof body, "{\"env_idx\":%ld,\"session_id\":%ld}", id, data_idx);
    else
        snprintf(body, sizeof body, "{\"id\":%ld,\"game\":%ld,\"world_type\":\"%s\"}", id,
                 data_idx, re->world_type);
    return remote_http_call(h, re->url, &re->pol, REQ_REPEATABLE, "POST", "/reset", NULL, body,
                            resp, status);
}

eef_err remote_reset_session(remote_env *re, remote_http *h, long *id, long data_idx, cJSON **resp)
{
    if (*id < 0) EEF_TRY(create(re, h, id));
    long status = 0;
    eef_err e = reset_call(re, h, *id, data_idx, resp, &status);
    if (e == EEF_ENOTFOUND && status == 404) {
        /* the session expired on the server (idle): open a new one */
        *id = -1;
        EEF_TRY(create(re, h, id));
        e = reset_call(re, h, *id, data_idx, resp, &status);
    }
    return e;
}

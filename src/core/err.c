/* err.c: the error type's messages (thread-local, like errno). */
#include "core.h"

#include <stdio.h>
#include <string.h>

static _Thread_local char msg_buf[1024];

eef_err eef_fail(eef_err code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg_buf, sizeof msg_buf, fmt, ap);
    va_end(ap);
    return code;
}

eef_err eef_fail_ctx(eef_err code, const char *fmt, ...)
{
    char ctx[512], old[sizeof msg_buf];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    memcpy(old, msg_buf, sizeof old);
    /* ctx + ": " + old, truncated to the buffer */
    size_t n = strlen(ctx);
    if (n > sizeof msg_buf - 1) n = sizeof msg_buf - 1;
    memcpy(msg_buf, ctx, n);
    if (old[0] && n + 2 < sizeof msg_buf) {
        memcpy(msg_buf + n, ": ", 2);
        size_t m = strlen(old);
        if (m > sizeof msg_buf - n - 3) m = sizeof msg_buf - n - 3;
        memcpy(msg_buf + n + 2, old, m);
        n += 2 + m;
    }
    msg_buf[n] = 0;
    return code;
}

const char *eef_errmsg(void) { return msg_buf[0] ? msg_buf : "no error"; }

void eef_errclear(void) { msg_buf[0] = 0; }

const char *eef_errname(eef_err code)
{
    switch (code) {
    case EEF_OK: return "ok";
    case EEF_EINVAL: return "invalid argument";
    case EEF_EFORMAT: return "bad format";
    case EEF_EIO: return "i/o error";
    case EEF_ENOMEM: return "out of memory";
    case EEF_ENET: return "network error";
    case EEF_ESTATE: return "invalid state";
    case EEF_ENOTFOUND: return "not found";
    }
    return "unknown error";
}

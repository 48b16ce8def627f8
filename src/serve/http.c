/* http.c: the HTTP plumbing both servers share, on libmicrohttpd.
 *
 * One thread per connection (MHD_USE_THREAD_PER_CONNECTION): a handler
 * may block — the chat server waits for its worker, a stream's reader
 * waits for the next tokens — without stalling other connections.  The
 * body is gathered here with a size limit (413 before reading it when
 * Content-Length says it is too big, else once it grows past the limit),
 * then the server's kind answers the complete request.
 */
#include "serve_internal.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    eef_buf body;
    int too_large; /* the body passed max_body: answer 413 at the end */
    int oom;
    int answered;  /* a response was queued before the body was read */
} conn_state;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    eef_server *s = cls;
    conn_state *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st) return MHD_NO;
        eef_buf_init(&st->body);
        *con_cls = st;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno || *end || end == cl || n > s->max_body) {
                st->answered = 1;
                char msg[96];
                snprintf(msg, sizeof msg, "request body larger than %zu bytes", s->max_body);
                return s->kind->error(s, c, MHD_HTTP_CONTENT_TOO_LARGE, "invalid_request_error",
                                      msg);
            }
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (!st->answered && !st->too_large && !st->oom) {
            if (st->body.len + *upload_size > s->max_body) st->too_large = 1;
            else if (eef_buf_append(&st->body, upload, *upload_size)) st->oom = 1;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (st->answered) return MHD_YES;
    st->answered = 1;
    if (st->too_large) {
        char msg[96];
        snprintf(msg, sizeof msg, "request body larger than %zu bytes", s->max_body);
        return s->kind->error(s, c, MHD_HTTP_CONTENT_TOO_LARGE, "invalid_request_error", msg);
    }
    if (st->oom)
        return s->kind->error(s, c, MHD_HTTP_SERVICE_UNAVAILABLE, "server_error", "out of memory");
    http_req r = { .conn = c,
                   .method = method,
                   .path = url,
                   .body = st->body.data ? st->body.data : "",
                   .body_len = st->body.len };
    return s->kind->handle(s, &r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    (void)cls, (void)c, (void)why;
    conn_state *st = *con_cls;
    if (!st) return;
    eef_buf_free(&st->body);
    free(st);
    *con_cls = NULL;
}

static void on_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n') msg[--n] = 0;
    eef_debug("http: %s", msg);
}

eef_err http_start(eef_server *s, const char *host, int port, unsigned max_connections,
                   unsigned idle_s)
{
    if (port < 0 || port > 65535) return eef_fail(EEF_EINVAL, "port %d out of range", port);
    if (!host || !*host || strcmp(host, "localhost") == 0) host = "127.0.0.1";
    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    const struct sockaddr *addr;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    memset(&a4, 0, sizeof a4);
    memset(&a6, 0, sizeof a6);
    if (strchr(host, ':')) {
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &a6.sin6_addr) != 1)
            return eef_fail(EEF_EINVAL, "bad host '%s' (an IPv4 or IPv6 address)", host);
        addr = (const struct sockaddr *)&a6;
        flags |= MHD_USE_IPv6;
    } else {
        a4.sin_family = AF_INET;
        a4.sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &a4.sin_addr) != 1)
            return eef_fail(EEF_EINVAL, "bad host '%s' (an IPv4 or IPv6 address)", host);
        addr = (const struct sockaddr *)&a4;
    }
    s->daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, s,
                                 MHD_OPTION_SOCK_ADDR, addr,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_CONNECTION_LIMIT, max_connections,
                                 MHD_OPTION_CONNECTION_TIMEOUT, idle_s,
                                 MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
                                 MHD_OPTION_EXTERNAL_LOGGER, on_log, NULL,
                                 MHD_OPTION_END);
    if (!s->daemon)
        return eef_fail(EEF_EIO, "cannot listen on %s port %d (%s)", host, port,
                        errno ? strerror(errno) : "address in use or not permitted");
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info && info->port ? info->port : port;
    return EEF_OK;
}

void http_stop(eef_server *s)
{
    if (s->daemon) MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
}

enum MHD_Result http_send(struct MHD_Connection *c, unsigned status, const char *content_type,
                          const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

enum MHD_Result http_send_json(struct MHD_Connection *c, unsigned status, cJSON *j)
{
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!text) {
        static const char oom[] = "{\"error\":\"out of memory\"}";
        return http_send(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json", oom,
                         sizeof oom - 1);
    }
    size_t len = strlen(text);
    enum MHD_Result ok;
    if (eef_utf8_valid(text, len)) {
        ok = http_send(c, status, "application/json", text, len);
    } else {
        /* a string echoed from the request (an unknown path, a model name)
         * may not be UTF-8, or be cut inside a character by a %.120s: the
         * reply stays valid JSON text, bad bytes become U+FFFD */
        eef_buf b;
        eef_buf_init(&b);
        utf8_sanitize(text, len, 1, &b);
        ok = http_send(c, status, "application/json", b.data ? b.data : "", b.len);
        eef_buf_free(&b);
    }
    free(text);
    return ok;
}

const char *http_query(const http_req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *http_header(const http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

int http_secure_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < la; i++) diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
    return diff == 0;
}

/* Length of the valid UTF-8 character at s[0..n): 1..4, 0 when s holds
 * only the start of one (cut), -1 when the byte cannot start or continue
 * a valid one. */
static int utf8_char(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80) return c ? 1 : -1;
    int k;
    unsigned min;
    if ((c & 0xE0) == 0xC0) k = 1, min = 0x80, c &= 0x1F;
    else if ((c & 0xF0) == 0xE0) k = 2, min = 0x800, c &= 0x0F;
    else if ((c & 0xF8) == 0xF0) k = 3, min = 0x10000, c &= 0x07;
    else return -1;
    for (int i = 1; i <= k; i++) {
        if ((size_t)i >= n) return 0;
        if ((s[i] & 0xC0) != 0x80) return -1;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return -1;
    return k + 1;
}

size_t utf8_sanitize(const char *s, size_t n, int final, eef_buf *out)
{
    static const char repl[] = "\xEF\xBF\xBD"; /* U+FFFD */
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        int k = utf8_char(p + i, n - i);
        if (k > 0) {
            if (eef_buf_append(out, s + i, (size_t)k)) return i;
            i += (size_t)k;
        } else if (k == 0 && !final) {
            break; /* the rest of this character comes with the next token */
        } else {
            if (eef_buf_append(out, repl, 3)) return i;
            i++;
        }
    }
    return i;
}

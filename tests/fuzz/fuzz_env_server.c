/* fuzz_env_server: HTTP requests to `eef env-serve` (src/serve/http.c's
 * request reading, env_server.c's routing, query and body arguments),
 * over loopback to two servers started once in this process: the shop on
 * WebShop's API and the house on ALFWorld's.
 *
 * Input: byte 0 bit 0 picks the server; bit 1 sends the rest verbatim as
 * raw bytes (any framing, Content-Length included) to a second pair of
 * servers whose sessions expire at once (the harness cannot close what
 * raw bytes create), then checks the server still answers.  Otherwise the rest is requests separated by 0xFF (never
 * in UTF-8), each: one byte (bit 0: POST, else GET; the rest: the route,
 * from the server's list or, past its end, the piece's text up to '\n'),
 * then a query string up to '\n', then the body.  "@@" in a query or body
 * becomes the id of a session the harness created for this input, so the
 * fuzzer reaches every route of a live session; every session is closed
 * at the end.  Bytes outside printable ASCII in a path or query are
 * percent-encoded (the request stays HTTP).
 * Properties: no crash, leak, race or undefined behaviour in the server;
 * every reply is one of the statuses docs/serving.md lists (never 500) with
 * a JSON body. */
#include "fuzz_util.h"

#include "env/env.h"
#include "serve/serve.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

static const char *const ROUTES[] = { "/create",  "/reset", "/step", "/close", "/observation",
                                      "/available_actions", "/instruction_text", "/detail",
                                      "/eef/actions", "/list_envs", "/eef/info", "/eef/task", "/" };
#define N_ROUTES (sizeof ROUTES / sizeof *ROUTES)

typedef struct {
    eef_env *env;
    eef_server *srv;
    eef_env_api api;
    int fd; /* a kept-alive connection (-1: none) */
} server;

/* shop (WebShop API), house (ALFWorld API); the same for raw bytes */
static server servers[4];

static void start(server *s, const char *env, const char *opts, eef_env_api api, double idle)
{
    FUZZ_CHECK(eef_env_open(env, opts, 5, &s->env) == EEF_OK);
    eef_env_server_config c;
    eef_env_server_defaults(&c);
    c.port = 0;
    c.api = api;
    c.env_name = env;
    c.max_sessions = 64;
    c.idle_timeout = idle;
    s->fd = -1;
    FUZZ_CHECK(eef_env_server_start(s->env, &c, &s->srv) == EEF_OK);
    s->api = api;
}

static int connect_to(const server *s)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    FUZZ_CHECK(fd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)eef_server_port(s->srv)) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = { .tv_sec = 5 }; /* a server that stops answering is a finding */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* a signal (libFuzzer's timeout alarm) may interrupt connect: the
     * connection then completes on its own; wait for it and read its result */
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        FUZZ_CHECK(errno == EINTR);
        struct pollfd p = { .fd = fd, .events = POLLOUT };
        int err = 0;
        socklen_t len = sizeof err;
        while (poll(&p, 1, 5000) < 0) FUZZ_CHECK(errno == EINTR);
        FUZZ_CHECK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0);
    }
    return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return; /* the server closed: the reply (or its absence) says why */
        p += w, n -= (size_t)w;
    }
}

/* Reads one response: returns its status (0: none, the connection closed
 * or timed out) and its body in *body. */
static int read_response(int fd, eef_buf *body)
{
    eef_buf in;
    eef_buf_init(&in);
    char chunk[4096];
    char *hdr_end = NULL;
    int status = 0;
    size_t need = 0, have_len = 0;
    for (;;) {
        if (!hdr_end && in.data && (hdr_end = strstr(in.data, "\r\n\r\n"))) {
            FUZZ_CHECK(sscanf(in.data, "HTTP/1.%*d %d", &status) == 1);
            const char *cl = strcasestr(in.data, "\r\ncontent-length:");
            FUZZ_CHECK(cl != NULL && cl < hdr_end); /* every reply has a length */
            need = strtoul(cl + 17, NULL, 10);
            have_len = 1;
        }
        if (have_len && in.len >= (size_t)(hdr_end + 4 - in.data) + need) break;
        ssize_t r = recv(fd, chunk, sizeof chunk, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            FUZZ_CHECK(!have_len); /* a reply cut short */
            eef_buf_free(&in);
            return 0;
        }
        size_t off = hdr_end ? (size_t)(hdr_end - in.data) : 0;
        FUZZ_CHECK(eef_buf_append(&in, chunk, (size_t)r) == 0);
        if (hdr_end) hdr_end = in.data + off;
    }
    eef_buf_clear(body);
    FUZZ_CHECK(eef_buf_append(body, hdr_end + 4, need) == 0);
    eef_buf_free(&in);
    return status;
}

/* Appends s[0..n) percent-encoding what is not printable ASCII (and '%',
 * '#', ' ' so the request line stays one). */
static void put_encoded(eef_buf *b, const uint8_t *s, size_t n, int keep_query_chars)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c > ' ' && c < 0x7F && c != '%' && c != '#' && (keep_query_chars || c != '?'))
            FUZZ_CHECK(eef_buf_append(b, &c, 1) == 0);
        else FUZZ_CHECK(eef_buf_printf(b, "%%%02X", c) == 0);
    }
}

/* Appends s[0..n) with "@@" replaced by the session id. */
static void put_with_id(eef_buf *b, const uint8_t *s, size_t n, long id, int encode)
{
    char num[32];
    snprintf(num, sizeof num, "%ld", id);
    size_t i = 0;
    while (i < n) {
        const uint8_t *at = n - i >= 2 ? memmem(s + i, n - i, "@@", 2) : NULL;
        size_t k = at ? (size_t)(at - s) - i : n - i;
        if (encode) put_encoded(b, s + i, k, 1);
        else FUZZ_CHECK(eef_buf_append(b, s + i, k) == 0);
        i += k;
        if (at) {
            FUZZ_CHECK(eef_buf_puts(b, num) == 0);
            i += 2;
        }
    }
}

/* One request on the kept-alive connection *fd (reopened when the server
 * closed it); checks the reply and returns its status, body in *reply. */
static int request(const server *s, int *fd, const char *method, const uint8_t *path, size_t lp,
                   const uint8_t *query, size_t lq, const uint8_t *body, size_t lb, long id,
                   eef_buf *reply)
{
    eef_buf req, b;
    eef_buf_init(&req);
    eef_buf_init(&b);
    put_with_id(&b, body, lb, id, 0);
    FUZZ_CHECK(eef_buf_printf(&req, "%s ", method) == 0);
    if (lp == 0 || path[0] != '/') FUZZ_CHECK(eef_buf_puts(&req, "/") == 0);
    put_encoded(&req, path, lp, 0);
    if (lq) {
        FUZZ_CHECK(eef_buf_puts(&req, "?") == 0);
        put_with_id(&req, query, lq, id, 1);
    }
    FUZZ_CHECK(eef_buf_printf(&req, " HTTP/1.1\r\nHost: fuzz\r\nContent-Type: application/json\r\n"
                                    "Content-Length: %zu\r\n\r\n", b.len) == 0);
    FUZZ_CHECK(eef_buf_append(&req, b.data ? b.data : "", b.len) == 0);
    int status = 0;
    for (int attempt = 0; attempt < 2 && !status; attempt++) {
        if (*fd < 0) *fd = connect_to(s);
        send_all(*fd, req.data, req.len);
        status = read_response(*fd, reply);
        if (!status) { /* closed after the previous reply: once more on a new one */
            close(*fd);
            *fd = -1;
        }
    }
    FUZZ_CHECK(status != 0);
    FUZZ_CHECK(status == 200 || status == 400 || status == 404 || status == 405 || status == 409 ||
               status == 413 || status == 503);
    FUZZ_CHECK(eef_utf8_valid(reply->data ? reply->data : "", reply->len));
    cJSON *j = cJSON_ParseWithLength(reply->data ? reply->data : "", reply->len);
    FUZZ_CHECK(j != NULL);
    cJSON_Delete(j);
    eef_buf_free(&req);
    eef_buf_free(&b);
    return status;
}

/* The id in a /create reply (a bare number, or {"id": N}), or -1. */
static long created_id(const server *s, const eef_buf *reply)
{
    cJSON *j = cJSON_ParseWithLength(reply->data, reply->len);
    const cJSON *v = s->api == EEF_API_WEBSHOP ? j : cJSON_GetObjectItemCaseSensitive(j, "id");
    long id = cJSON_IsNumber(v) ? (long)v->valuedouble : -1;
    cJSON_Delete(j);
    return id;
}

static void close_session(const server *s, int *fd, long id, eef_buf *reply)
{
    char body[64];
    int n = snprintf(body, sizeof body, "{\"env_idx\": %ld}", id);
    FUZZ_CHECK(request(s, fd, "POST", (const uint8_t *)"/close", 6, NULL, 0, (const uint8_t *)body,
                       (size_t)n, id, reply) == 200);
}

static void raw(server *s, const uint8_t *data, size_t size)
{
    int fd = connect_to(s);
    send_all(fd, (const char *)data, size);
    shutdown(fd, SHUT_WR);
    char sink[4096];
    while (recv(fd, sink, sizeof sink, 0) > 0) {
    }
    close(fd);
    /* still serving */
    eef_buf reply;
    eef_buf_init(&reply);
    FUZZ_CHECK(request(s, &s->fd, "GET", (const uint8_t *)"/", 1, NULL, 0, NULL, 0, 0, &reply) == 200);
    eef_buf_free(&reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    if (!servers[0].srv) {
        const char *shop = "products=120,train=16,test=2,max_steps=40", *house = "train=6,test=2";
        start(&servers[0], "shop", shop, EEF_API_WEBSHOP, 600);
        start(&servers[1], "house", house, EEF_API_ALFWORLD, 600);
        start(&servers[2], "shop", shop, EEF_API_WEBSHOP, 1e-6);
        start(&servers[3], "house", house, EEF_API_ALFWORLD, 1e-6);
    }
    if (size < 1) return 0;
    if (data[0] & 2) {
        raw(&servers[2 + (data[0] & 1)], data + 1, size - 1);
        return 0;
    }
    server *s = &servers[data[0] & 1];
    eef_buf reply;
    eef_buf_init(&reply);
    int *fdp = &s->fd;
    long ids[64];
    int n_ids = 0;
    FUZZ_CHECK(request(s, fdp, "POST", (const uint8_t *)"/create", 7, NULL, 0, NULL, 0, 0, &reply) == 200);
    long id = ids[n_ids++] = created_id(s, &reply);
    FUZZ_CHECK(id >= 0);
    size_t i = 1;
    while (i < size) {
        const uint8_t *end = memchr(data + i, 0xFF, size - i);
        size_t n = end ? (size_t)(end - data) - i : size - i;
        const uint8_t *p = data + i, *stop = p + n;
        i += n + 1;
        if (n == 0) continue;
        const char *method = p[0] & 1 ? "POST" : "GET";
        size_t route = (size_t)(p[0] >> 1) % (N_ROUTES + 1);
        p++;
        const uint8_t *path = (const uint8_t *)ROUTES[route % N_ROUTES];
        size_t lp = strlen((const char *)path);
        if (route == N_ROUTES) { /* a path of the fuzzer's own */
            const uint8_t *nl = memchr(p, '\n', (size_t)(stop - p));
            path = p;
            lp = (size_t)((nl ? nl : stop) - p);
            p = nl ? nl + 1 : stop;
        }
        const uint8_t *nl = memchr(p, '\n', (size_t)(stop - p));
        const uint8_t *query = p, *body = nl ? nl + 1 : stop;
        size_t lq = (size_t)((nl ? nl : stop) - p);
        int status = request(s, fdp, method, path, lp, query, lq, body, (size_t)(stop - body), id, &reply);
        if (status == 200 && strcmp(method, "POST") == 0 && lp == 7 && memcmp(path, "/create", 7) == 0) {
            long more = created_id(s, &reply);
            FUZZ_CHECK(more >= 0);
            if (n_ids < 64) ids[n_ids++] = more;
            else close_session(s, fdp, more, &reply);
        }
    }
    for (int k = 0; k < n_ids; k++) close_session(s, fdp, ids[k], &reply);
    eef_buf_free(&reply);
    return 0;
}

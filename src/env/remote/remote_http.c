/* remote_http.c: JSON over HTTP with libcurl, with timeouts and retries.
 *
 * Each episode owns one curl handle (connections are kept alive between
 * its requests).  A failed attempt is retried after backoff, 2 x backoff,
 * 4 x backoff, ... when repeating it is safe (see remote_req_kind); then
 * the error names the server, the route and the cause, so a dead or hung
 * server is reported within (retries + 1) x timeout plus the backoffs.
 */
#include "remote_internal.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ANSWER ((size_t)64 << 20) /* bytes; a larger answer is an error */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

eef_err remote_http_init(remote_http *h)
{
    memset(h, 0, sizeof *h);
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return eef_fail(EEF_ENET, "libcurl cannot start: %s", curl_easy_strerror(curl_init_rc));
    h->curl = curl_easy_init();
    h->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (h->headers) h->headers = curl_slist_append(h->headers, "Accept: application/json");
    if (!h->curl || !h->headers) {
        remote_http_free(h);
        return eef_fail(EEF_ENOMEM, "out of memory starting an HTTP client");
    }
    return EEF_OK;
}

void remote_http_free(remote_http *h)
{
    if (h->curl) curl_easy_cleanup(h->curl);
    curl_slist_free_all(h->headers);
    h->curl = NULL;
    h->headers = NULL;
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    eef_buf *b = ud;
    size_t len = size * n;
    if (b->len + len > MAX_ANSWER || eef_buf_append(b, p, len)) return 0; /* aborts the transfer */
    return len;
}

static void sleep_s(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* The message of an error answer: {"error": "..."}, {"error": {"message":
 * "..."}}, {"detail": ...} (FastAPI) or the first bytes of the text. */
static void answer_message(const char *text, size_t len, char *out, size_t cap)
{
    cJSON *j = cJSON_ParseWithLength(text, len);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    if (cJSON_IsObject(e)) e = cJSON_GetObjectItemCaseSensitive(e, "message");
    if (!e) e = cJSON_GetObjectItemCaseSensitive(j, "detail");
    if (cJSON_IsString(e)) snprintf(out, cap, "%s", e->valuestring);
    else if (e) {
        char *s = cJSON_PrintUnformatted(e);
        snprintf(out, cap, "%s", s ? s : "?");
        free(s);
    } else {
        snprintf(out, cap, "%.*s", (int)EEF_MIN(len, 200), text);
    }
    cJSON_Delete(j);
}

/* Failures after which the request surely did not reach the server. */
static int not_sent(CURLcode rc)
{
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST;
}

/* Failures that may have happened after the server acted. */
static int ambiguous(CURLcode rc)
{
    return rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR ||
           rc == CURLE_SEND_ERROR || rc == CURLE_PARTIAL_FILE;
}

eef_err remote_http_call(remote_http *h, const char *base, const remote_policy *pol,
                         remote_req_kind kind, const char *method, const char *path,
                         const char *query, const char *body, cJSON **out, long *status)
{
    *out = NULL;
    if (status) *status = 0;
    eef_buf url, answer;
    eef_buf_init(&url);
    eef_buf_init(&answer);
    if (eef_buf_printf(&url, "%s%s%s%s", base, path, query ? "?" : "", query ? query : "")) {
        eef_buf_free(&url);
        return eef_fail(EEF_ENOMEM, "out of memory building a URL");
    }
    eef_err e = EEF_OK;
    char why[256] = "";
    int attempt = 0;
    long code = 0;
    for (;; attempt++) {
        CURL *c = h->curl;
        eef_buf_clear(&answer);
        curl_easy_reset(c); /* options only: the connection stays open */
        curl_easy_setopt(c, CURLOPT_URL, url.data);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->headers);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(pol->timeout * 1000));
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(EEF_MIN(pol->timeout, 10.0) * 1000));
        if (strcmp(method, "POST") == 0) {
            curl_easy_setopt(c, CURLOPT_POST, 1L);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
        }
        h->errbuf[0] = 0;
        CURLcode rc = curl_easy_perform(c);
        int retry = 0;
        code = 0;
        if (rc != CURLE_OK) {
            snprintf(why, sizeof why, "%s", h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
            retry = not_sent(rc) || (kind == REQ_REPEATABLE && ambiguous(rc));
            e = EEF_ENET;
        } else {
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
            if (code >= 200 && code < 300) {
                cJSON *j = answer.len ? cJSON_ParseWithLength(answer.data, answer.len) : NULL;
                const cJSON *err = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
                if (!j) {
                    snprintf(why, sizeof why, "the answer is not JSON: %.*s",
                             (int)EEF_MIN(answer.len, 120), answer.data ? answer.data : "");
                    e = EEF_ENET;
                } else if (err) {
                    answer_message(answer.data, answer.len, why, sizeof why);
                    cJSON_Delete(j);
                    e = EEF_ENET;
                } else {
                    *out = j;
                    e = EEF_OK;
                    break;
                }
            } else {
                char msg[200];
                answer_message(answer.data ? answer.data : "", answer.len, msg, sizeof msg);
                snprintf(why, sizeof why, "HTTP %ld: %s", code, msg);
                retry = code == 503 || (kind == REQ_REPEATABLE && code >= 500);
                e = code == 404 ? EEF_ENOTFOUND : EEF_ENET;
            }
        }
        if (!retry || attempt >= pol->retries) break;
        eef_debug("remote %s: %s %s: %s; retrying", base, method, path, why);
        sleep_s(pol->backoff * (double)(1L << EEF_MIN(attempt, 20)));
    }
    if (status) *status = code;
    if (e && attempt > 0)
        e = eef_fail(e, "remote %s: %s %s: %s (%d attempts)", base, method, path, why, attempt + 1);
    else if (e)
        e = eef_fail(e, "remote %s: %s %s: %s", base, method, path, why);
    eef_buf_free(&url);
    eef_buf_free(&answer);
    return e;
}

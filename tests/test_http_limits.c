/* The HTTP layer's edges (src/serve/http.c), on an environment server:
 * a request body of exactly max_body bytes is read, one byte more is 413,
 * whether the size is announced (Content-Length) or not (chunked, in
 * pieces); and the API key comparison refuses every other key, of any
 * length, differing at any position. */
#include "test_serve_util.h"

#include "serve/serve.h"
#include "serve/serve_internal.h"

#include <string.h>

#define LIMIT 256

typedef struct {
    const char *p;
    size_t left, piece;
} feed;

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
    feed *f = ud;
    size_t k = size * n < f->piece ? size * n : f->piece;
    if (k > f->left) k = f->left;
    memcpy(buf, f->p, k);
    f->p += k, f->left -= k;
    return k;
}

/* POSTs a body of `len` bytes to /step; chunked: no Content-Length,
 * 40-byte pieces.  Returns the status. */
static long post(int port, size_t len, int chunked)
{
    char *body = malloc(len + 1);
    assert_non_null(body);
    memset(body, ' ', len);
    body[0] = '{', body[len - 1] = '}';
    body[len] = 0;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/step", port);
    eef_buf out;
    eef_buf_init(&out);
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (chunked) h = curl_slist_append(h, "Transfer-Encoding: chunked");
    feed f = { body, len, 40 };
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, su_on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    if (chunked) {
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &f);
    } else {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    }
    assert_int_equal(curl_easy_perform(c), 0);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    eef_buf_free(&out);
    free(body);
    return status;
}

static void test_body_limit(void **state)
{
    (void)state;
    eef_env *env;
    assert_ok(eef_env_open("house", "train=3,test=1", 1, &env));
    eef_env_server_config c;
    eef_env_server_defaults(&c);
    c.host = "127.0.0.1";
    c.port = 0;
    c.api = EEF_API_ALFWORLD;
    c.env_name = "house";
    c.max_body = LIMIT;
    eef_server *s;
    assert_ok(eef_env_server_start(env, &c, &s));
    int port = eef_server_port(s);
    for (int chunked = 0; chunked < 2; chunked++) {
        long at = post(port, LIMIT, chunked), over = post(port, LIMIT + 1, chunked);
        if (at == 413) fail_msg("%s body of exactly %d bytes: 413", chunked ? "chunked" : "sized", LIMIT);
        if (at < 200) fail_msg("no answer to a body of %d bytes", LIMIT);
        if (over != 413)
            fail_msg("%s body of %d bytes: %ld, want 413", chunked ? "chunked" : "sized", LIMIT + 1, over);
    }
    eef_server_stop(s);
    eef_env_close(env);
}

static void test_key_comparison(void **state)
{
    (void)state;
    const char *key = "s3cret-key";
    assert_true(http_secure_equal(key, key));
    assert_true(http_secure_equal("", ""));
    char other[16];
    for (size_t i = 0; i < strlen(key); i++) { /* the same length, one byte off anywhere */
        snprintf(other, sizeof other, "%s", key);
        other[i] ^= 1;
        if (http_secure_equal(other, key)) fail_msg("'%s' accepted for '%s'", other, key);
    }
    assert_false(http_secure_equal("s3cret-ke", key));
    assert_false(http_secure_equal("s3cret-keyy", key));
    assert_false(http_secure_equal("", key));
    assert_false(http_secure_equal(key, ""));
    assert_false(http_secure_equal("s3cret-keys3cret-key", key));
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_limit),
        cmocka_unit_test(test_key_comparison),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}

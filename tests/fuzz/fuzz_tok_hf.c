/* fuzz_tok_hf: a Hugging Face tokenizer.json (+ tokenizer_config.json)
 * loaded, then used.  Input: the tokenizer.json bytes, a NUL, the
 * tokenizer_config.json bytes (none when empty), a NUL, a text.
 * Properties: no crash, leak, undefined behaviour or unbounded work;
 * rejected files are EEF_EFORMAT (or EEF_ENOMEM) with a message naming the
 * file; an accepted tokenizer encodes the text in every mode to ids that
 * are tokens and decode, gives the text back (repaired as UTF-8) when
 * nothing in its pipeline changes text, saves to an EEFH blob that loads
 * back to the same ids, and renders a chat when it has a format. */
#include "fuzz_util.h"

#include "text/text.h"
#include "text/text_internal.h"

static const char *part(const uint8_t *d, size_t n, size_t *at, size_t *len)
{
    const uint8_t *z = *at < n ? memchr(d + *at, 0, n - *at) : NULL;
    const char *p = (const char *)d + *at;
    size_t end = z ? (size_t)(z - d) : n;
    *len = end > *at ? end - *at : 0;
    *at = z ? end + 1 : n;
    return p;
}

/* Nothing between text and ids changes text: no normalizer, no prefix
 * space, no token that strips what is beside it. */
static int keeps_text(const eef_tokenizer *t)
{
    const tok_hf *h = (const tok_hf *)t;
    if (h->nfc) return 0;
    for (size_t i = 0; i < h->n_stages; i++)
        if (h->stages[i].kind == HF_STEP_BYTELEVEL && h->stages[i].add_prefix_space) return 0;
    for (size_t i = 0; i < h->n_added; i++)
        if (h->added[i].lstrip || h->added[i].rstrip) return 0;
    return 1;
}

/* A pattern the file chose may backtrack without end: PCRE2's match
 * limit stops it, and encoding fails with that message instead. */
static int stopped(eef_err e) { return e == EEF_EINVAL && strstr(eef_errmsg(), "regex failed") != NULL; }

static int encode_all(const eef_tokenizer *t, const char *s, size_t n, int **ids, size_t *ni, unsigned flags)
{
    size_t cap = 0;
    *ids = NULL, *ni = 0;
    eef_err e = eef_tok_encode_ex(t, s, n, flags, ids, ni, &cap);
    if (e) {
        FUZZ_CHECK(stopped(e));
        return -1;
    }
    for (size_t i = 0; i < *ni; i++) FUZZ_CHECK(eef_tok_type_of(t, (*ids)[i]) != EEF_TOKTYPE_NONE);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    size_t at = 0, jl, cl, tl;
    const char *json = part(data, size, &at, &jl);
    const char *cfg = part(data, size, &at, &cl);
    const char *text = part(data, size, &at, &tl);
    if (tl > 1024) tl = 1024; /* encoding is linear: longer texts only slow the search down */
    eef_tokenizer *t = (eef_tokenizer *)1;
    eef_err e = eef_tok_load_hf_mem(json, jl, cl ? cfg : NULL, cl, "fuzz/tokenizer.json", &t);
    if (e) {
        FUZZ_CHECK(e == EEF_EFORMAT || e == EEF_ENOMEM);
        FUZZ_CHECK(t == NULL);
        FUZZ_CHECK(strncmp(eef_errmsg(), "fuzz/tokenizer.json", 19) == 0);
        return 0;
    }
    FUZZ_CHECK(eef_tok_kind_of(t) == EEF_TOK_KIND_HF);
    /* every mode */
    int *ids[4];
    size_t n[4];
    int failed = 0;
    for (unsigned f = 0; f < 4; f++) failed |= encode_all(t, text, tl, &ids[f], &n[f], f);
    if (failed) {
        for (unsigned f = 0; f < 4; f++) free(ids[f]);
        eef_tok_free(t);
        return 0;
    }
    eef_buf b, clean;
    eef_buf_init(&b);
    eef_buf_init(&clean);
    FUZZ_CHECK(eef_tok_decode(t, ids[0], n[0], &b) == EEF_OK);
    if (keeps_text(t)) {
        FUZZ_CHECK(tok_utf8_repair((const unsigned char *)text, tl, &clean) == 0);
        FUZZ_CHECK(b.len == clean.len && (b.len == 0 || memcmp(b.data, clean.data, b.len) == 0));
    }
    /* saved and loaded back: the same bytes, the same ids (on half the
     * inputs: it parses the file again, the slowest step) */
    eef_buf_clear(&b);
    if (tl & 1) goto chat;
    FUZZ_CHECK(eef_tok_save(t, &b) == EEF_OK);
    eef_tokenizer *back = NULL;
    FUZZ_CHECK(eef_tok_load(b.data, b.len, "fuzz.eefm", &back) == EEF_OK);
    int *again;
    size_t na;
    FUZZ_CHECK(encode_all(back, text, tl, &again, &na, EEF_TOK_ENC_SPECIAL) == 0);
    FUZZ_CHECK(na == n[1] && (na == 0 || memcmp(again, ids[1], na * sizeof(int)) == 0));
    free(again);
    eef_tok_free(back);
chat:
    /* a conversation, when there is a chat format */
    if (eef_tok_chat_name(t)) {
        char *c = eef_strndup(text, tl);
        FUZZ_CHECK(c != NULL);
        eef_chat_msg m[3] = { { "system", c }, { "user", c }, { "assistant", c } };
        int *cids = NULL;
        size_t cn = 0, ccap = 0;
        eef_chat_span sp[3];
        {
            unsigned f = (unsigned)(tl >> 1) & 3; /* flags and whether a system message leads */
            cn = 0;
            eef_err e2 = eef_tok_chat_encode(t, m + (f & 1), 3 - (f & 1), f, &cids, &cn, &ccap, sp);
            FUZZ_CHECK(e2 == EEF_OK || stopped(e2));
            if (e2) goto done;
            size_t prev = 0;
            for (size_t i = 0; i < 3 - (f & 1); i++) {
                FUZZ_CHECK(sp[i].start >= prev && sp[i].start <= sp[i].content);
                FUZZ_CHECK(sp[i].content <= sp[i].content_end && sp[i].content_end <= sp[i].end);
                FUZZ_CHECK(sp[i].end <= cn);
                prev = sp[i].end;
            }
            eef_buf_clear(&clean);
            FUZZ_CHECK(eef_tok_chat_text(t, m + (f & 1), 3 - (f & 1), f, &clean) == EEF_OK);
        }
    done:
        free(cids);
        free(c);
    }
    for (int f = 0; f < 4; f++) free(ids[f]);
    eef_buf_free(&b);
    eef_buf_free(&clean);
    eef_tok_free(t);
    return 0;
}

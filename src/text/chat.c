/* chat.c: chat formats, recognised from a chat template by its tokens and
 * a few telling strings (no Jinja engine), and conversations rendered in
 * them.
 *
 * What each format reproduces of the templates it stands for (tested
 * against the real templates rendered by @huggingface/jinja,
 * tests/ref/make_tok_fixtures.mjs):
 *   chatml        <|im_start|>ROLE\nCONTENT<|im_end|>\n per message, then
 *                 <|im_start|>assistant\n for the generation prompt.  A
 *                 default system prompt written as one literal in the
 *                 template ('<|im_start|>system\nYou are ...<|im_end|>\n':
 *                 SmolLM2, Qwen2.5) is added when the first message is not
 *                 a system message.
 *   chatml-think  Qwen3: an assistant turn after the last user message
 *                 gets "<think>\nREASONING\n</think>\n\n" before its
 *                 content when it is the last message or has reasoning
 *                 (a content "...<think>R</think>C" is split as the
 *                 template splits it); EEF_CHAT_NO_THINK renders
 *                 enable_thinking=false's empty block after the prompt;
 *                 EEF_CHAT_THINK_EVERY renders every assistant turn as
 *                 that last one (the agent's prompts: a turn keeps the
 *                 block it was generated after, so each step's prompt
 *                 extends the one before; the template itself drops the
 *                 blocks of turns before the last user message).
 *   llama3        <|start_header_id|>ROLE<|end_header_id|>\n\nCONTENT<|eot_id|>,
 *                 bos first when the template writes bos_token, contents
 *                 trimmed (Python's strip) when it trims them.
 *   llama3.1      the same after the system block 3.1+ templates always
 *                 write: "Cutting Knowledge Date: December 2023\nToday
 *                 Date: 26 Jul 2024\n\n" then the system message (the
 *                 templates' fixed date when strftime_now is not given).
 * Not reproduced: tools and tool calls (the roles "tool" and "ipython"
 * are refused), Llama 3.0's generation header when add_generation_prompt
 * is false (its template always writes it; eef writes it only when
 * asked, so a training sequence ends with its last turn), today's date
 * in Llama 3.2's template, and anything a template does with other
 * variables.
 *
 * Encoding: the text between two special tokens is encoded as one piece
 * (as Hugging Face tokenizes the rendered string), contents never read as
 * special tokens (Hugging Face would read "<|im_end|>" inside a message
 * as the token; eef does not let a message forge its turn's end).
 */
#include "text_internal.h"

#include <stdlib.h>
#include <string.h>

void tok_chat_free(tok_chat *c)
{
    free(c->default_system);
    c->default_system = NULL;
}

static int tok_id(eef_tokenizer *t, const char *s) { return eef_tok_find(t, s, strlen(s)); }

/* The default system prompt of a ChatML template: a string literal that
 * starts '<|im_start|>system' + newline and runs to <|im_end|>. */
static char *default_system(const char *tmpl)
{
    static const char head[] = "<|im_start|>system";
    for (const char *p = strstr(tmpl, head); p; p = strstr(p + 1, head)) {
        if (p == tmpl || (p[-1] != '\'' && p[-1] != '"')) continue;
        char quote = p[-1];
        const char *q = p + strlen(head);
        if (q[0] == '\n') q += 1;
        else if (q[0] == '\\' && q[1] == 'n') q += 2;
        else continue;
        const char *end = strstr(q, "<|im_end|>");
        if (!end || end == q) continue;
        /* one literal: no closing quote before <|im_end|> */
        eef_buf b;
        eef_buf_init(&b);
        int ok = 1;
        for (const char *r = q; r < end && ok; r++) {
            if (*r == quote) ok = 0;
            else if (*r == '\\' && r + 1 < end) {
                char e = *++r;
                char c = e == 'n' ? '\n' : e == 't' ? '\t' : e;
                ok = eef_buf_append(&b, &c, 1) == 0;
            } else {
                ok = eef_buf_append(&b, r, 1) == 0;
            }
        }
        if (ok && b.data) return b.data;
        eef_buf_free(&b);
    }
    return NULL;
}

static eef_err need(eef_tokenizer *t, const char *name, const char *where, int *id)
{
    *id = tok_id(t, name);
    if (*id < 0) return eef_fail(EEF_EFORMAT, "%s: the chat template writes %s, which is not a token", where, name);
    return EEF_OK;
}

eef_err tok_chat_recognise(eef_tokenizer *t, const char *tmpl, const char *where, tok_chat *c)
{
    memset(c, 0, sizeof *c);
    c->bos = -1, c->think_open = -1, c->think_close = -1, c->header_end = -1;
    if (strstr(tmpl, "bos_token")) c->bos = t->roles.bos;
    if (strstr(tmpl, "<|im_start|>") && strstr(tmpl, "<|im_end|>")) {
        EEF_TRY(need(t, "<|im_start|>", where, &c->open));
        EEF_TRY(need(t, "<|im_end|>", where, &c->close));
        if (strstr(tmpl, "<think>") && strstr(tmpl, "</think>") && strstr(tmpl, "reasoning_content")) {
            c->think = 1;
            c->think_open = tok_id(t, "<think>");
            c->think_close = tok_id(t, "</think>");
        }
        c->default_system = default_system(tmpl);
        c->name = c->think ? "chatml-think" : "chatml";
        c->family = CHAT_CHATML;
        return EEF_OK;
    }
    if (strstr(tmpl, "<|start_header_id|>") && strstr(tmpl, "<|end_header_id|>") && strstr(tmpl, "<|eot_id|>")) {
        EEF_TRY(need(t, "<|start_header_id|>", where, &c->open));
        EEF_TRY(need(t, "<|end_header_id|>", where, &c->header_end));
        EEF_TRY(need(t, "<|eot_id|>", where, &c->close));
        c->date_block = strstr(tmpl, "Cutting Knowledge Date") != NULL;
        c->trim = strstr(tmpl, "| trim") || strstr(tmpl, "|trim");
        c->name = c->date_block ? "llama3.1" : "llama3";
        c->family = CHAT_LLAMA3;
        return EEF_OK;
    }
    /* name it by its first characters, control characters escaped */
    char head[64];
    size_t n = 0;
    for (const char *p = tmpl; *p && n < 48; p++)
        n += (size_t)snprintf(head + n, sizeof head - n, (unsigned char)*p < 0x20 ? "\\x%02x" : "%c",
                              (unsigned char)*p);
    return eef_fail(EEF_EFORMAT, "%s: chat template not recognised (it starts \"%s%s\"); eef knows ChatML "
                    "and Llama 3's headers (docs/tokenizers.md)", where, head, strlen(tmpl) > 48 ? "..." : "");
}

/* ------------------------------------------------------------ rendering */
typedef struct {
    const eef_tokenizer *t;
    eef_buf *text;        /* text mode */
    tok_out *o;           /* ids mode */
    eef_buf pend;         /* ids mode: text since the last special token */
    struct mark {
        size_t *slot;
        size_t at;        /* byte offset in pend */
        int end;          /* 1: one past the token holding byte at-1; 0: the token holding byte at */
    } marks[8];
    int n_marks;
    int oom;
} emitter;

static eef_err flush(emitter *m)
{
    size_t first = *m->o->n;
    if (m->pend.len) {
        const tok_hf *h = (const tok_hf *)m->t;
        EEF_TRY(h->base.ops->encode(m->t, m->pend.data, m->pend.len, 0, m->o));
    }
    size_t last = *m->o->n;
    for (int k = 0; k < m->n_marks; k++) {
        struct mark *mk = &m->marks[k];
        size_t i = first;
        if (mk->end) {
            if (mk->at == 0) i = first;
            else {
                while (i < last && m->o->ends[i] < mk->at) i++;
                i = i < last ? i + 1 : last;
            }
        } else {
            while (i < last && m->o->ends[i] <= mk->at) i++;
        }
        *mk->slot = i;
    }
    m->n_marks = 0;
    eef_buf_clear(&m->pend);
    return EEF_OK;
}

static void put_text(emitter *m, const char *s, size_t n)
{
    m->oom |= eef_buf_append(m->text ? m->text : &m->pend, s, n);
}

static void put_str(emitter *m, const char *s) { put_text(m, s, strlen(s)); }

static eef_err put_special(emitter *m, int id)
{
    if (m->text) {
        size_t len;
        const char *p = eef_tok_piece(m->t, id, &len);
        put_text(m, p, len);
        return EEF_OK;
    }
    EEF_TRY(flush(m));
    EEF_TRY(tok_out_reserve(m->o, 1));
    tok_out_put(m->o, id, 0);
    return EEF_OK;
}

/* Records where the next byte of text goes (a span boundary). */
static void mark(emitter *m, size_t *slot, int end)
{
    if (!slot || m->text) return;
    if (m->n_marks == (int)(sizeof m->marks / sizeof m->marks[0])) {
        m->oom = 1;
        return;
    }
    m->marks[m->n_marks++] = (struct mark){ slot, m->pend.len, end };
}

/* content as the encoder will see it: valid UTF-8, normalized, so that
 * byte offsets in the rendered text are offsets of the encoded text */
static eef_err clean_content(const eef_tokenizer *t, const char *s, eef_buf *out)
{
    eef_buf_clear(out);
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    eef_buf tmp;
    eef_buf_init(&tmp);
    if (tok_utf8_valid_len(u, n) < n) {
        if (tok_utf8_repair(u, n, &tmp)) return EEF_ENOMEM;
        u = (const unsigned char *)tmp.data, n = tmp.len;
    }
    eef_err e = EEF_OK;
    if (t->kind == EEF_TOK_KIND_HF && ((const tok_hf *)t)->nfc) e = tok_utf8_nfc(u, n, out);
    else if (eef_buf_append(out, u, n)) e = EEF_ENOMEM;
    eef_buf_free(&tmp);
    if (!out->data && !e && eef_buf_append(out, "", 0)) e = EEF_ENOMEM;
    return e;
}

/* Python's str.strip() (Jinja's trim) / strip of one character set */
static void strip_py(const char **s, size_t *n, int left, int right)
{
    const unsigned char *u = (const unsigned char *)*s;
    size_t a = 0, b = *n;
    while (left && a < b) {
        size_t l;
        if (!tok_uc_is_py_space(tok_utf8_decode(u, b, a, &l))) break;
        a += l;
    }
    while (right && b > a) {
        size_t j = b - 1;
        while (j > a && (u[j] & 0xC0) == 0x80) j--;
        size_t l;
        if (!tok_uc_is_py_space(tok_utf8_decode(u, b, j, &l))) break;
        b = j;
    }
    *s += a, *n = b - a;
}

static void strip_nl(const char **s, size_t *n, int left, int right)
{
    while (left && *n && **s == '\n') (*s)++, (*n)--;
    while (right && *n && (*s)[*n - 1] == '\n') (*n)--;
}

static const char *find_last(const char *s, size_t n, const char *pat)
{
    size_t k = strlen(pat);
    for (size_t i = n >= k ? n - k + 1 : 0; i-- > 0;)
        if (memcmp(s + i, pat, k) == 0) return s + i;
    return NULL;
}

static const char *find_first(const char *s, size_t n, const char *pat)
{
    size_t k = strlen(pat);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(s + i, pat, k) == 0) return s + i;
    return NULL;
}

static int is_role(const char *r, const char *want) { return strcmp(r, want) == 0; }

static eef_err render(const eef_tokenizer *t, const eef_chat_msg *msgs, size_t n, unsigned flags,
                      emitter *m, eef_chat_span *spans)
{
    const tok_chat *c = &t->chat;
    if (c->family == CHAT_NONE)
        return eef_fail(EEF_EINVAL, "this tokenizer has no chat format (tokenizer_config.json has no "
                        "chat_template)");
    if (n == 0) return eef_fail(EEF_EINVAL, "chat: a conversation needs a message");
    for (size_t i = 0; i < n; i++) {
        if (!msgs[i].role || !msgs[i].content) return eef_fail(EEF_EINVAL, "chat: message %zu is empty", i);
        if (!is_role(msgs[i].role, "system") && !is_role(msgs[i].role, "user") && !is_role(msgs[i].role, "assistant"))
            return eef_fail(EEF_EINVAL, "chat: role \"%.20s\" is not supported (system, user, assistant)",
                            msgs[i].role);
    }
    eef_buf body;
    eef_buf_init(&body);
    eef_err e = EEF_OK;
    size_t dummy[4];
#define SP(i, f) (spans ? &spans[i].f : &dummy[0])
    size_t first = 0;
    if (c->bos >= 0) e = put_special(m, c->bos);
    if (!e && c->family == CHAT_LLAMA3 && c->date_block) {
        /* the system block 3.1+ templates always write, holding message 0
         * when it is the system message */
        int sys = is_role(msgs[0].role, "system");
        if (sys && !m->text) {
            e = flush(m);
            if (spans) spans[0].start = *m->o->n;
        }
        if (!e) e = put_special(m, c->open);
        put_str(m, "system");
        if (!e) e = put_special(m, c->header_end);
        put_str(m, "\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n");
        if (!e && sys) {
            e = clean_content(t, msgs[0].content, &body);
            const char *s = body.data;
            size_t l = body.len;
            strip_py(&s, &l, 1, 1);
            mark(m, SP(0, content), 0);
            put_text(m, s, l);
            mark(m, SP(0, content_end), 1);
            first = 1;
        }
        if (!e) e = put_special(m, c->close);
        if (!e && sys && spans && !m->text) spans[0].end = *m->o->n;
    } else if (!e && c->family == CHAT_CHATML && c->default_system && !is_role(msgs[0].role, "system")) {
        e = put_special(m, c->open);
        put_str(m, "system\n");
        put_str(m, c->default_system);
        if (!e) e = put_special(m, c->close);
        put_str(m, "\n");
    }
    /* Qwen3: the last user message that is not a tool response */
    size_t last_query = n - 1;
    for (size_t i = n; c->think && i-- > 0;)
        if (is_role(msgs[i].role, "user")) {
            size_t l = strlen(msgs[i].content);
            if (!(l >= 31 && strncmp(msgs[i].content, "<tool_response>", 15) == 0 &&
                  strcmp(msgs[i].content + l - 16, "</tool_response>") == 0)) {
                last_query = i;
                break;
            }
        }
    for (size_t i = first; !e && i < n; i++) {
        const eef_chat_msg *g = &msgs[i];
        if (!m->text) {
            e = flush(m);
            if (e) break;
            if (spans) spans[i].start = *m->o->n;
        }
        e = clean_content(t, g->content, &body);
        if (e) break;
        const char *s = body.data;
        size_t l = body.len;
        e = put_special(m, c->open);
        if (e) break;
        if (c->family == CHAT_LLAMA3) {
            put_str(m, g->role);
            e = put_special(m, c->header_end);
            put_str(m, "\n\n");
            if (c->trim) strip_py(&s, &l, 1, 1);
        } else {
            put_str(m, g->role);
            put_str(m, "\n");
            if (c->think && is_role(g->role, "assistant")) {
                /* the template's split of "<think>R</think>C" */
                const char *rs = "";
                size_t rl = 0;
                const char *close = find_first(s, l, "</think>");
                if (close) {
                    rs = s, rl = (size_t)(close - s);             /* split('</think>')[0] */
                    strip_nl(&rs, &rl, 0, 1);                     /* .rstrip('\n') */
                    const char *open = find_last(rs, rl, "<think>");
                    if (open) rl -= (size_t)(open + 7 - rs), rs = open + 7; /* .split('<think>')[-1] */
                    strip_nl(&rs, &rl, 1, 0);                     /* .lstrip('\n') */
                    const char *after = find_last(s, l, "</think>") + 8;
                    l -= (size_t)(after - s), s = after;          /* split('</think>')[-1] */
                    strip_nl(&s, &l, 1, 0);                       /* .lstrip('\n') */
                }
                if ((flags & EEF_CHAT_THINK_EVERY) || (i > last_query && (i == n - 1 || rl > 0))) {
                    strip_nl(&rs, &rl, 1, 1);
                    put_str(m, "<think>\n");
                    put_text(m, rs, rl);
                    put_str(m, "\n</think>\n\n");
                    strip_nl(&s, &l, 1, 0);
                }
            }
        }
        mark(m, SP(i, content), 0);
        put_text(m, s, l);
        mark(m, SP(i, content_end), 1);
        if (!e) e = put_special(m, c->close);
        if (c->family == CHAT_CHATML) put_str(m, "\n");
        mark(m, SP(i, end), 1);
    }
    if (!e && (flags & EEF_CHAT_GEN_PROMPT)) {
        e = put_special(m, c->open);
        if (c->family == CHAT_LLAMA3) {
            put_str(m, "assistant");
            if (!e) e = put_special(m, c->header_end);
            put_str(m, "\n\n");
        } else {
            put_str(m, "assistant\n");
            if (c->think && (flags & (EEF_CHAT_NO_THINK | EEF_CHAT_THINK_EVERY)))
                put_str(m, "<think>\n\n</think>\n\n");
        }
    }
    if (!e && !m->text) e = flush(m);
#undef SP
    eef_buf_free(&body);
    if (!e && m->oom) e = EEF_ENOMEM;
    return e;
}

eef_err eef_tok_chat_text(const eef_tokenizer *t, const eef_chat_msg *msgs, size_t n_msgs, unsigned flags,
                          eef_buf *out)
{
    emitter m = { .t = t, .text = out };
    eef_buf_init(&m.pend);
    eef_err e = render(t, msgs, n_msgs, flags, &m, NULL);
    eef_buf_free(&m.pend);
    return e == EEF_ENOMEM ? eef_fail(e, "out of memory rendering a conversation") : e;
}

eef_err eef_tok_chat_encode(const eef_tokenizer *t, const eef_chat_msg *msgs, size_t n_msgs,
                            unsigned flags, int **ids, size_t *n, size_t *cap, eef_chat_span *spans)
{
    tok_out o = { .ids = ids, .n = n, .cap = cap };
    /* token ends are tracked from the first token on */
    o.ends = eef_malloc(((*cap > *n ? *cap : *n) + 64) * sizeof(size_t));
    if (!o.ends) return EEF_ENOMEM;
    o.ends_cap = (*cap > *n ? *cap : *n) + 64;
    emitter m = { .t = t, .o = &o };
    eef_buf_init(&m.pend);
    if (spans) memset(spans, 0, n_msgs * sizeof *spans);
    eef_err e = render(t, msgs, n_msgs, flags, &m, spans);
    eef_buf_free(&m.pend);
    free(o.ends);
    return e == EEF_ENOMEM ? eef_fail(e, "out of memory encoding a conversation") : e;
}

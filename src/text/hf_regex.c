/* hf_regex.c: the Split patterns of tokenizer.json files, run by PCRE2.
 *
 * Hugging Face's tokenizers run these patterns with Oniguruma, whose
 * meaning of a few constructs is not PCRE2's (the same ones
 * @huggingface/tokenizers rewrites for JavaScript, the reference our
 * fixtures come from).  Before compiling, a pattern is rewritten:
 *   \s, \S    Unicode White_Space (PCRE2 10.42's \s under UCP also takes
 *             U+180E, which Oniguruma does not)
 *   (?i:...)  ASCII case folding only: 's matches 'S but not 'ſ (U+017F),
 *             which PCRE2's Unicode caseless matching would take
 *   \h, \H    Oniguruma's hex digit (PCRE2's \h is horizontal space)
 *   \uHHHH    a code point, as \x{HHHH}
 * and constructs whose meanings differ in ways we do not reproduce (\w,
 * \W, \b, \B, other inline flags, {n,m}+ which PCRE2 reads as possessive)
 * are refused by name.  Patterns compile with UTF and UCP (\p{L}, \p{N}
 * are Unicode's), ^ and $ at line ends as in Oniguruma's Ruby syntax.
 * Subjects are valid UTF-8 (the encoder repairs its input first).
 */
#include "text_internal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdlib.h>
#include <string.h>

const char hf_gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

struct hf_regex {
    pcre2_code *code;
    pcre2_match_context *mctx;
};

/* Unicode White_Space, as a class body. */
static const char ws_body[] =
    "\\t-\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";

static eef_err refuse(const char *where, const char *what, const char *pattern)
{
    return eef_fail(EEF_EFORMAT, "%s: regex %s is not supported (pattern %.60s%s)", where, what,
                    pattern, strlen(pattern) > 60 ? "..." : "");
}

static int is_ascii_letter(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* Oniguruma syntax -> PCRE2 syntax (see the top of the file). */
static eef_err translate(const char *pat, const char *where, eef_buf *out)
{
    size_t n = strlen(pat);
    int in_class = 0;     /* inside [...] (nesting is not Oniguruma-portable: refused) */
    int depth = 0;        /* group nesting */
    int fold_depth = -1;  /* depth at which an (?i: group opened, -1: none */
    int oom = 0;
    for (size_t i = 0; i < n; i++) {
        char c = pat[i];
        if (c == '\\') {
            if (i + 1 >= n) return refuse(where, "ending in a backslash", pat);
            char d = pat[++i];
            switch (d) {
            case 's':
                if (in_class) oom |= eef_buf_puts(out, ws_body);
                else oom |= eef_buf_printf(out, "[%s]", ws_body);
                break;
            case 'S':
                if (in_class) return refuse(where, "\\S inside a class", pat);
                oom |= eef_buf_printf(out, "[^%s]", ws_body);
                break;
            case 'h':
                oom |= eef_buf_puts(out, in_class ? "0-9A-Fa-f" : "[0-9A-Fa-f]");
                break;
            case 'H':
                if (in_class) return refuse(where, "\\H inside a class", pat);
                oom |= eef_buf_puts(out, "[^0-9A-Fa-f]");
                break;
            case 'w': case 'W': case 'b': case 'B': {
                char what[4] = { '\\', d, 0, 0 };
                return refuse(where, what, pat);
            }
            case 'u': {
                size_t k = 0;
                while (k < 4 && i + 1 + k < n &&
                       ((pat[i + 1 + k] >= '0' && pat[i + 1 + k] <= '9') ||
                        (pat[i + 1 + k] >= 'a' && pat[i + 1 + k] <= 'f') ||
                        (pat[i + 1 + k] >= 'A' && pat[i + 1 + k] <= 'F')))
                    k++;
                if (k != 4) return refuse(where, "\\u without four hex digits", pat);
                oom |= eef_buf_printf(out, "\\x{%.4s}", pat + i + 1);
                i += 4;
                break;
            }
            case 'p': case 'P': case 'x':
                if (i + 1 < n && pat[i + 1] == '{') {
                    /* \p{L}, \x{2028}: copied whole, braces and all */
                    const char *close = strchr(pat + i, '}');
                    if (!close) return refuse(where, "with an unterminated \\p{ or \\x{", pat);
                    oom |= eef_buf_append(out, pat + i - 1, (size_t)(close - (pat + i - 1)) + 1);
                    i = (size_t)(close - pat);
                    break;
                }
                oom |= eef_buf_append(out, pat + i - 1, 2);
                break;
            default:
                /* \d, \n, \., \pL ... mean the same in both */
                oom |= eef_buf_append(out, pat + i - 1, 2);
            }
            continue;
        }
        if (in_class) {
            if (c == '[') return refuse(where, "nested classes", pat);
            if (c == ']' && !(pat[i - 1] == '[' || (pat[i - 1] == '^' && pat[i - 2] == '['))) in_class = 0;
            oom |= eef_buf_append(out, &c, 1);
            continue;
        }
        switch (c) {
        case '[':
            if (fold_depth >= 0) return refuse(where, "a class inside (?i:...)", pat);
            in_class = 1;
            oom |= eef_buf_append(out, &c, 1);
            break;
        case '(':
            if (i + 1 < n && pat[i + 1] == '?') {
                if (strncmp(pat + i, "(?i:", 4) == 0) {
                    if (fold_depth < 0) fold_depth = depth;
                    depth++;
                    oom |= eef_buf_puts(out, "(?:");
                    i += 3;
                    break;
                }
                char k = i + 2 < n ? pat[i + 2] : 0;
                int ok = k == ':' || k == '=' || k == '!' || k == '>' ||
                         (k == '<' && i + 3 < n && (pat[i + 3] == '=' || pat[i + 3] == '!'));
                if (!ok) return refuse(where, "inline flags or named groups", pat);
            }
            depth++;
            oom |= eef_buf_append(out, &c, 1);
            break;
        case ')':
            depth--;
            if (depth < 0) return refuse(where, "with an unbalanced ')'", pat);
            if (depth == fold_depth) fold_depth = -1;
            oom |= eef_buf_append(out, &c, 1);
            break;
        case '}':
            if (i + 1 < n && pat[i + 1] == '+') return refuse(where, "{n,m}+", pat);
            oom |= eef_buf_append(out, &c, 1);
            break;
        default:
            if (fold_depth >= 0 && is_ascii_letter((unsigned char)c)) {
                char lo = (char)(c | 0x20), up = (char)(c & ~0x20);
                oom |= eef_buf_printf(out, "[%c%c]", lo, up);
            } else {
                oom |= eef_buf_append(out, &c, 1);
            }
        }
    }
    if (in_class) return refuse(where, "with an unterminated class", pat);
    if (depth != 0) return refuse(where, "with an unbalanced '('", pat);
    return oom ? EEF_ENOMEM : EEF_OK;
}

eef_err hf_regex_compile(const char *pattern, int literal, const char *where, hf_regex **out)
{
    *out = NULL;
    eef_buf b;
    eef_buf_init(&b);
    eef_err e = EEF_OK;
    if (literal) {
        if (!*pattern) return eef_fail(EEF_EFORMAT, "%s: Split on an empty string", where);
        e = eef_buf_puts(&b, pattern) ? EEF_ENOMEM : EEF_OK;
    } else {
        e = translate(pattern, where, &b);
    }
    if (e) {
        eef_buf_free(&b);
        return e;
    }
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    if (!cc) {
        eef_buf_free(&b);
        return eef_fail(EEF_ENOMEM, "out of memory compiling a regex");
    }
    pcre2_set_newline(cc, PCRE2_NEWLINE_LF);
    int err = 0;
    PCRE2_SIZE at = 0;
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | (literal ? PCRE2_LITERAL : PCRE2_MULTILINE);
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)(b.data ? b.data : ""), b.len, opts, &err, &at, cc);
    pcre2_compile_context_free(cc);
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        e = eef_fail(EEF_EFORMAT, "%s: bad regex %.60s%s: %s at offset %zu", where, pattern,
                     strlen(pattern) > 60 ? "..." : "", (const char *)msg, (size_t)at);
        eef_buf_free(&b);
        return e;
    }
    eef_buf_free(&b);
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* the interpreter runs when JIT cannot */
    hf_regex *r = eef_calloc(1, sizeof *r);
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    if (!r || !mc) {
        free(r);
        pcre2_match_context_free(mc);
        pcre2_code_free(code);
        return eef_fail(EEF_ENOMEM, "out of memory compiling a regex");
    }
    /* a bound on the work one match may do: a hostile pattern fails
     * instead of running for ever */
    pcre2_set_match_limit(mc, 10000000);
    pcre2_set_depth_limit(mc, 100000);
    pcre2_set_heap_limit(mc, 64 * 1024); /* KiB */
    r->code = code;
    r->mctx = mc;
    *out = r;
    return EEF_OK;
}

void hf_regex_free(hf_regex *r)
{
    if (!r) return;
    pcre2_code_free(r->code);
    pcre2_match_context_free(r->mctx);
    free(r);
}

/* Length of the UTF-8 character at s[i]. */
static size_t char_len(const unsigned char *s, size_t n, size_t i)
{
    unsigned char c = s[i];
    size_t l = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    return i + l <= n ? l : n - i;
}

int hf_regex_each(const hf_regex *r, const unsigned char *s, size_t n,
                  int (*fn)(void *ctx, size_t a, size_t b), void *ctx)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(r->code, NULL);
    if (!md) return -1;
    size_t at = 0;
    int ret = 0;
    uint32_t no_jit = 0;
    while (at <= n) {
        int rc = pcre2_match(r->code, s, n, at, PCRE2_NO_UTF_CHECK | no_jit, md, r->mctx);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT && !no_jit) {
            no_jit = PCRE2_NO_JIT; /* the interpreter keeps its frames on the heap */
            continue;
        }
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            ret = -1;
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t a = ov[0], b = ov[1];
        if (b < a) { /* \K can report such a match: not ours to split on */
            ret = -1;
            break;
        }
        if ((ret = fn(ctx, a, b))) break;
        /* after an empty match the search resumes one character on, as
         * JavaScript's matchAll does */
        at = b > a ? b : (b < n ? b + char_len(s, n, b) : n + 1);
    }
    pcre2_match_data_free(md);
    return ret;
}

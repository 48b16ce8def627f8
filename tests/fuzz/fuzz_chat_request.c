/* fuzz_chat_request: the body of POST /v1/chat/completions as `eef serve`
 * reads it (chat_req_parse), then the prompt the request maps to
 * (chat_req_prompt, a tokenizer trained once on agent-like text, a
 * budget of 256 tokens).
 * Properties: no crash, leak or undefined behaviour; a refused body is
 * EEF_EINVAL with a message (a 400 naming the field), never a half-filled
 * request; an accepted one has one observation more than actions, every
 * knob inside its documented range and at most 4 stop strings, and its
 * prompt fits the budget and ends with <|act|>. */
#include "fuzz_tok.h"

#include "agent/policy.h"
#include "serve/serve_internal.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    chat_req r;
    const char *param = NULL;
    eef_err e = chat_req_parse((const char *)data, size, &r, &param);
    if (e) {
        FUZZ_CHECK(e == EEF_EINVAL || e == EEF_ENOMEM);
        FUZZ_CHECK(eef_errmsg()[0] != 0);
        FUZZ_CHECK(r.instruction == NULL && r.obs.n == 0 && r.acts.n == 0 && r.stop.n == 0);
        return 0;
    }
    FUZZ_CHECK(r.instruction != NULL && r.obs.n == r.acts.n + 1);
    FUZZ_CHECK(r.temperature >= 0 && r.temperature <= 2);
    FUZZ_CHECK(r.top_p > 0 && r.top_p <= 1);
    FUZZ_CHECK(r.max_tokens == -1 || (r.max_tokens >= 1 && r.max_tokens <= (1 << 20)));
    FUZZ_CHECK(r.stop.n <= 4);
    for (size_t i = 0; i < r.stop.n; i++) FUZZ_CHECK(r.stop.items[i][0] != 0);
    FUZZ_CHECK(r.stream == 0 || r.stream == 1);
    eef_prompt p = { 0 };
    const eef_tokenizer *tok = fixed();
    e = chat_req_prompt(&r, tok, 256, &p);
    if (!e) {
        FUZZ_CHECK(p.n > 0 && p.n <= 256);
        FUZZ_CHECK(p.tokens[p.n - 1] == EEF_TOK_ACT);
        for (int i = 0; i < p.n; i++) {
            FUZZ_CHECK(p.tokens[i] >= 0 && p.tokens[i] < eef_tok_vocab_size(tok));
            FUZZ_CHECK(p.mask[i] == 0.0f || p.mask[i] == 1.0f);
        }
    } else {
        FUZZ_CHECK(eef_errmsg()[0] != 0);
    }
    eef_prompt_free(&p);
    chat_req_free(&r);
    return 0;
}

/* env_text.c: the pieces of text-game environments' texts (env.h):
 * cutting the instruction out of an observation, "verb[arg]" actions and
 * the verb as an action's kind. */
#include "env.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

char *eef_text_cut_instruction(const char *obs, const char *instruction)
{
    const char *at = instruction && *instruction ? strstr(obs, instruction) : NULL;
    if (!at) return eef_strdup(obs);
    size_t head = (size_t)(at - obs), li = strlen(instruction), tail = strlen(at + li);
    char *out = eef_malloc(head + tail + 1);
    if (!out) return NULL;
    memcpy(out, obs, head);
    memcpy(out + head, at + li, tail + 1);
    return out;
}

size_t eef_text_verb_len(const char *action)
{
    const char *br = strchr(action, '[');
    if (!br || br == action) return 0;
    for (const char *p = action; p < br; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_')) return 0;
    return (size_t)(br - action);
}

char *eef_text_render_verb(const char *action)
{
    size_t n = strlen(action), v = eef_text_verb_len(action);
    if (!v) return eef_strdup(action);
    if (v + 1 == n) return eef_strndup(action, v); /* a free-text prefix "verb[" */
    if (action[n - 1] != ']') return eef_strdup(action);
    char *out = eef_malloc(n);
    if (!out) return NULL;
    memcpy(out, action, v);
    out[v] = ' ';
    memcpy(out + v + 1, action + v + 1, n - v - 2);
    out[n - 1] = 0;
    return out;
}

void eef_text_verb_kind(const char *action, char *out, size_t cap)
{
    if (!cap) return;
    while (isspace((unsigned char)*action)) action++;
    size_t n = strlen(action);
    while (n && isspace((unsigned char)action[n - 1])) n--;
    size_t w = 0;
    while (w < n && !isspace((unsigned char)action[w])) w++;
    if (w == 0) {
        snprintf(out, cap, "(empty)");
        return;
    }
    /* "go to X": the verb is two words */
    if (w == 2 && strncasecmp(action, "go", 2) == 0) {
        size_t v = w;
        while (v < n && isspace((unsigned char)action[v])) v++;
        if (n - v >= 2 && strncasecmp(action + v, "to", 2) == 0 &&
            (n - v == 2 || isspace((unsigned char)action[v + 2]))) {
            snprintf(out, cap, "go to");
            return;
        }
    }
    size_t k = 0;
    for (; k < w && k + 1 < cap; k++) out[k] = (char)tolower((unsigned char)action[k]);
    out[k] = 0;
}

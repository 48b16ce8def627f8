/* house_text.c: observation sentences, in ALFWorld's phrasing (its TextWorld
 * grammar alfred.twl2): lists read "a X 1, a Y 2, and a Z 3" (always "a",
 * a comma before "and" even for two), "nothing" when empty. */
#include "house_internal.h"

#include <string.h>

void house_names_build(const house_layout *L, house_names *N)
{
    for (int i = 0; i < L->n_recep; i++) {
        int n = snprintf(N->r[i], HOUSE_NAME_CAP, "%s %d", house_rtypes[L->rtype[i]].name,
                         L->rnum[i]);
        N->rlen[i] = (uint8_t)n;
    }
    for (int i = 0; i < L->n_obj; i++) {
        int n = snprintf(N->o[i], HOUSE_NAME_CAP, "%s %d", house_otypes[L->otype[i]].name,
                         L->onum[i]);
        N->olen[i] = (uint8_t)n;
    }
}

/* Appends "a A, a B, and a C" for the k names given, or "nothing". */
static void put_list(eef_buf *b, const char *const *names, const uint8_t *lens, int k)
{
    if (k == 0) {
        eef_buf_append(b, "nothing", 7);
        return;
    }
    for (int i = 0; i < k; i++) {
        if (i > 0) eef_buf_append(b, i == k - 1 ? ", and " : ", ", i == k - 1 ? 6 : 2);
        eef_buf_append(b, "a ", 2);
        eef_buf_append(b, names[i], lens[i]);
    }
}

void house_text_room(const house_layout *L, const house_names *N, eef_buf *b)
{
    const char *names[HOUSE_MAX_RECEP];
    for (int i = 0; i < L->n_recep; i++) names[i] = N->r[i];
    eef_buf_puts(b, "You are in the middle of a room. Looking quickly around you, you see ");
    put_list(b, names, N->rlen, L->n_recep);
    eef_buf_append(b, ".", 1);
}

void house_text_intro(const house_layout *L, const house_names *N, const char *goal, eef_buf *b)
{
    house_text_room(L, N, b);
    eef_buf_puts(b, "\n\nYour task is to: ");
    eef_buf_puts(b, goal);
    eef_buf_append(b, ".", 1);
}

/* ALFWorld's examineReceptacle feedback: "The fridge 1 is closed.",
 * "The fridge 1 is open. In it, you see ...", "On the desk 1, you see ...". */
void house_text_recep(const house_layout *L, const house_names *N, const house_state *s,
                      int r, eef_buf *b)
{
    int openable = house_rtypes[L->rtype[r]].openable;
    if (openable && !s->ropen[r]) {
        eef_buf_append(b, "The ", 4);
        eef_buf_append(b, N->r[r], N->rlen[r]);
        eef_buf_append(b, " is closed.", 11);
        return;
    }
    const char *names[HOUSE_MAX_OBJ];
    uint8_t lens[HOUSE_MAX_OBJ];
    int k = 0;
    for (int i = 0; i < L->n_obj; i++)
        if (s->oloc[i] == r) names[k] = N->o[i], lens[k] = N->olen[i], k++;
    if (openable) {
        eef_buf_append(b, "The ", 4);
        eef_buf_append(b, N->r[r], N->rlen[r]);
        eef_buf_append(b, " is open. In it, you see ", 25);
    } else {
        eef_buf_append(b, "On the ", 7);
        eef_buf_append(b, N->r[r], N->rlen[r]);
        eef_buf_append(b, ", you see ", 10);
    }
    put_list(b, names, lens, k);
    eef_buf_append(b, ".", 1);
}

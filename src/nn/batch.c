/* batch.c: packing training sequences into fixed (B, T) batches. */
#include "nn.h"

#include <stdlib.h>
#include <string.h>

eef_err eef_batch_alloc(eef_batch *b, int B, int T)
{
    memset(b, 0, sizeof *b);
    if (B < 1 || T < 1) return eef_fail(EEF_EINVAL, "batch shape %d x %d invalid", B, T);
    size_t n = (size_t)B * T;
    b->B = B, b->T = T;
    b->tokens = eef_malloc(n * sizeof(int));
    b->targets = eef_malloc(n * sizeof(int));
    b->mask = eef_malloc(n * sizeof(float));
    b->pos = eef_malloc(n * sizeof(int));
    if (!b->tokens || !b->targets || !b->mask || !b->pos) {
        eef_batch_free(b);
        return EEF_ENOMEM;
    }
    eef_batch_clear(b);
    return EEF_OK;
}

void eef_batch_free(eef_batch *b)
{
    free(b->tokens);
    free(b->targets);
    free(b->mask);
    free(b->pos);
    memset(b, 0, sizeof *b);
}

/* Padding: token 0, no loss, and each position a segment of its own so it
 * costs nothing in attention. */
void eef_batch_clear(eef_batch *b)
{
    size_t n = (size_t)b->B * b->T;
    memset(b->tokens, 0, n * sizeof(int));
    memset(b->targets, 0, n * sizeof(int));
    memset(b->mask, 0, n * sizeof(float));
    memset(b->pos, 0, n * sizeof(int));
    b->n_seqs = 0;
}

double eef_batch_mask_count(const eef_batch *b)
{
    double s = 0;
    for (size_t i = 0; i < (size_t)b->B * b->T; i++) s += b->mask[i];
    return s;
}

/* A sequence of n tokens fills n - 1 positions: inputs t_0..t_{n-2}
 * predicting t_1..t_{n-1}. */
void eef_batch_pack(eef_batch *b, const eef_seq *seqs, size_t n, size_t *next)
{
    eef_batch_clear(b);
    int row = 0, used = 0;
    while (*next < n && row < b->B) {
        const eef_seq *s = &seqs[*next];
        int len = s->n - 1, off = 0;
        if (len < 1) { /* nothing to predict */
            (*next)++;
            continue;
        }
        if (len > b->T) { /* keep the end: the actions near it carry the loss */
            off = len - b->T;
            len = b->T;
        }
        if (used + len > b->T) {
            if (used == 0) break; /* cannot happen: len <= T */
            row++, used = 0;
            continue;
        }
        size_t base = (size_t)row * b->T + used;
        for (int i = 0; i < len; i++) {
            b->tokens[base + i] = s->tokens[off + i];
            b->targets[base + i] = s->tokens[off + i + 1];
            b->mask[base + i] = s->mask ? s->mask[off + i + 1] : 1.0f;
            b->pos[base + i] = i;
        }
        used += len;
        b->n_seqs++;
        (*next)++;
    }
}

/* dpo.c: direct preference optimization over sequence pairs (Rafailov et
 * al. 2023), as ETO (Song et al. 2024) applies it to agent trajectories.
 *
 * For a pair (chosen c, rejected r) with the policy pi and a frozen
 * reference ref:
 *
 *   lp(s)  = sum_i m_i log pi(t_i | t_<i)     (m: the loss mask, 1 on the
 *                                              agent's action tokens)
 *   z      = beta * ((lp(c) - lpref(c)) - (lp(r) - lpref(r)))
 *   loss   = -log sigmoid(z) = softplus(-z)
 *   dloss/dlp(c) = -beta sigmoid(-z),  dloss/dlp(r) = +beta sigmoid(-z)
 *
 * The reference's log-probs are plain numbers given with each pair: ETO
 * resets the reference to the policy at the start of every round, so
 * they are the policy's own log-probs computed once (eef_seq_logprobs)
 * before the round trains, and no second model is held in memory.
 *
 * The gradient goes through the training forward/backward
 * (eef_model_backward_weighted) with a per-position coefficient: every
 * position of a sequence carries its pair's dloss/dlp times its mask.
 */
#include "nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Packs sequences [*next, n) in order into the batch rows (next fit) as
 * eef_batch_pack does (inputs t_0..t_{n-2} predicting t_1..t_{n-1}, a
 * sequence longer than T + 1 cut to its end), and records where each one
 * went: start[i] its first position in the batch, len[i] its positions
 * (0: nothing to predict). */
static void pack_at(eef_batch *b, const eef_seq *seqs, size_t n, size_t *next, size_t *start,
                    int *len)
{
    eef_batch_clear(b);
    int row = 0, used = 0;
    while (*next < n && row < b->B) {
        const eef_seq *s = &seqs[*next];
        int k = s->n - 1, off = 0;
        if (k < 1) {
            start[*next] = 0, len[*next] = 0;
            (*next)++;
            continue;
        }
        if (k > b->T) off = k - b->T, k = b->T;
        if (used + k > b->T) {
            row++, used = 0;
            continue;
        }
        size_t base = (size_t)row * b->T + used;
        for (int i = 0; i < k; i++) {
            b->tokens[base + i] = s->tokens[off + i];
            b->targets[base + i] = s->tokens[off + i + 1];
            b->mask[base + i] = s->mask ? s->mask[off + i + 1] : 1.0f;
            b->pos[base + i] = i;
        }
        start[*next] = base, len[*next] = k;
        used += k;
        b->n_seqs++;
        (*next)++;
    }
}

/* Sum of mask-weighted log-probs of each packed sequence in [from, to). */
static void sum_seqs(const eef_batch *b, const float *lp, const size_t *start, const int *len,
                     size_t from, size_t to, double *out)
{
    for (size_t i = from; i < to; i++) {
        double s = 0;
        for (int k = 0; k < len[i]; k++) s += (double)b->mask[start[i] + k] * lp[start[i] + k];
        out[i] = s;
    }
}

typedef struct {
    size_t *start;
    int *len;
    float *lp; /* [B*T] */
} packing;

static eef_err packing_new(const eef_batch *b, size_t n, packing *p)
{
    p->start = eef_malloc((n ? n : 1) * sizeof *p->start);
    p->len = eef_malloc((n ? n : 1) * sizeof *p->len);
    p->lp = eef_malloc((size_t)b->B * b->T * sizeof *p->lp);
    if (p->start && p->len && p->lp) return EEF_OK;
    free(p->start), free(p->len), free(p->lp);
    memset(p, 0, sizeof *p);
    return EEF_ENOMEM;
}

static void packing_free(packing *p) { free(p->start), free(p->len), free(p->lp); }

/* Log-probs of seqs[0..n) by batches; *one_batch says whether they all fit
 * in the last batch packed (so its forward is the one still live). */
static eef_err logprobs_packed(eef_model *m, const eef_seq *seqs, size_t n, eef_batch *b,
                               packing *p, double *out, int *one_batch)
{
    size_t next = 0;
    int batches = 0;
    while (next < n) {
        size_t from = next;
        pack_at(b, seqs, n, &next, p->start, p->len);
        if (next == from) return eef_fail(EEF_EINVAL, "sequence log-probs: nothing packed");
        EEF_TRY(eef_model_forward(m, b, NULL, NULL));
        EEF_TRY(eef_model_token_logprobs(m, p->lp));
        sum_seqs(b, p->lp, p->start, p->len, from, next, out);
        batches++;
    }
    *one_batch = batches == 1;
    return EEF_OK;
}

eef_err eef_seq_logprobs(eef_model *m, const eef_seq *seqs, size_t n, eef_batch *b, double *out)
{
    packing p;
    EEF_TRY(packing_new(b, n, &p));
    int one;
    eef_err e = logprobs_packed(m, seqs, n, b, &p, out, &one);
    packing_free(&p);
    return e;
}

/* softplus(x) = log(1 + e^x) without overflow */
static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static double sigmoid(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }

eef_err eef_dpo_loss(eef_model *m, const eef_dpo_pair *pairs, size_t n, double beta,
                     eef_batch *b, float scale, eef_dpo_stats *st)
{
    memset(st, 0, sizeof *st);
    if (n == 0) return EEF_OK;
    if (!(beta > 0) || !isfinite(beta)) return eef_fail(EEF_EINVAL, "DPO: beta %g must be > 0", beta);
    /* sequences 2i (chosen) and 2i + 1 (rejected) */
    size_t ns = 2 * n;
    eef_seq *seqs = eef_malloc(ns * sizeof *seqs);
    double *lp = eef_malloc(ns * sizeof *lp), *dlp = eef_malloc(ns * sizeof *dlp);
    packing p = { 0 };
    int one = 0;
    size_t next = 0;
    eef_err e = seqs && lp && dlp ? packing_new(b, ns, &p) : EEF_ENOMEM;
    if (e) goto out;
    for (size_t i = 0; i < n; i++) seqs[2 * i] = pairs[i].chosen, seqs[2 * i + 1] = pairs[i].rejected;
    e = logprobs_packed(m, seqs, ns, b, &p, lp, &one);
    if (e) goto out;
    for (size_t i = 0; i < n; i++) {
        double rc = lp[2 * i] - pairs[i].ref_chosen, rr = lp[2 * i + 1] - pairs[i].ref_rejected;
        double z = beta * (rc - rr);
        st->loss += softplus(-z) / (double)n;
        st->accuracy += (z > 0) / (double)n;
        st->margin += (rc - rr) / (double)n;
        st->chosen_reward += beta * rc / (double)n;
        st->rejected_reward += beta * rr / (double)n;
        double g = beta * sigmoid(-z) / (double)n * scale; /* of the mean loss */
        dlp[2 * i] = -g, dlp[2 * i + 1] = g;
    }
    if (scale == 0.0f) goto out;
    /* backward: the live forward if every sequence was in one batch, else
     * the batches again (the same packing, so the same positions) */
    while (!e && next < ns) {
        size_t from = next;
        if (!one) {
            pack_at(b, seqs, ns, &next, p.start, p.len);
            e = eef_model_forward(m, b, NULL, NULL);
            if (e) break;
        } else {
            next = ns;
        }
        float *coef = p.lp;
        memset(coef, 0, (size_t)b->B * b->T * sizeof *coef);
        for (size_t i = from; i < next; i++)
            for (int k = 0; k < p.len[i]; k++)
                coef[p.start[i] + k] = (float)(dlp[i] * b->mask[p.start[i] + k]);
        e = eef_model_backward_weighted(m, coef);
    }
out:
    packing_free(&p);
    free(seqs), free(lp), free(dlp);
    return e;
}

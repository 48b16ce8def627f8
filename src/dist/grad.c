/* grad.c: the data-parallel gradient of a batch.
 *
 * The batch's B rows are cut into S shards of contiguous rows (shard s:
 * rows [s B / S, (s+1) B / S)).  The loss is the masked mean over the
 * whole batch, so shard s's gradient is its own masked-mean gradient
 * times mask_s / mask_batch (the scale eef_model_backward takes for
 * gradient accumulation).  Shard gradients are added pairwise in a fixed
 * binary tree: node [lo, hi) = node [lo, mid) + node [mid, hi), mid = lo +
 * (hi - lo) / 2.  With P ranks (P divides S) rank r owns the node
 * [r S/P, (r+1) S/P) — a node of that tree whenever P is a power of two —
 * and the all-reduce adds the ranks' nodes.  For P <= 2 that addition is
 * the tree's own (a + b is the same float whoever computes it), so one
 * process with S shards and 2 ranks with S shards produce the same bits.
 *
 * The gradients are the trainable set's: the model's parameters, or with
 * LoRA adapters attached (m->lora) the adapters' alone, so a LoRA step
 * all-reduces the adapters' few parameters, not the frozen base's.
 *
 * Costs: one extra gradient-sized buffer per tree level in use (log2 of
 * the shards per rank), an add of n floats per inner node, and per step
 * one all-reduce of 4 n bytes plus one of a double (n: the trainable
 * set's size).
 */
#include "dist_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    eef_model *m;
    const eef_batch *b;
    int shards;
    double mask_total;   /* loss weights in the whole batch */
    float **stash;       /* [levels] left-subtree sums waiting for their right */
} tree;

/* Gradient of shard s into m->grads (replaced); *lsum = its summed loss. */
static eef_err leaf(tree *t, int s, double *lsum)
{
    const eef_batch *b = t->b;
    int r0 = (int)((long)b->B * s / t->shards), r1 = (int)((long)b->B * (s + 1) / t->shards);
    size_t off = (size_t)r0 * (size_t)b->T;
    eef_batch part = { .B = r1 - r0, .T = b->T, .tokens = b->tokens + off,
                       .targets = b->targets + off, .mask = b->mask + off, .pos = b->pos + off };
    double msum = eef_batch_mask_count(&part), loss = 0.0;
    eef_model_zero_grad(t->m);
    *lsum = 0.0;
    if (msum == 0.0) return EEF_OK; /* nothing scored: a zero gradient */
    EEF_TRY(eef_model_forward(t->m, &part, NULL, &loss));
    EEF_TRY(eef_model_backward(t->m, (float)(msum / t->mask_total)));
    *lsum = loss * msum;
    return EEF_OK;
}

/* The trainable set's gradients: the attached adapters' (LoRA: the base
 * is frozen and has none) or the model's own. */
static float *train_grads(const eef_model *m, size_t *n)
{
    *n = m->lora ? m->lora->n_params : m->n_params;
    return m->lora ? m->lora->grads : m->grads;
}

/* Sum of the gradients of shards [lo, hi) into the trainable set's. */
static eef_err node(tree *t, int lo, int hi, int level, double *lsum)
{
    if (hi - lo == 1) return leaf(t, lo, lsum);
    int mid = lo + (hi - lo) / 2;
    double left, right;
    EEF_TRY(node(t, lo, mid, level + 1, &left));
    size_t n;
    float *keep = t->stash[level], *g = train_grads(t->m, &n);
    memcpy(keep, g, n * sizeof *g);
    EEF_TRY(node(t, mid, hi, level + 1, &right));
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) g[i] = keep[i] + g[i];
    *lsum = left + right;
    return EEF_OK;
}

/* The gradient buffer exists before the first backward, since a rank
 * whose shards score nothing still adds its zeros to the sum (as
 * eef_model_backward would allocate it: one aligned buffer, named views). */
static eef_err ensure_grads(eef_model *m)
{
    if (m->lora || m->grads) return EEF_OK; /* adapters have theirs from the start */
    m->grads = eef_alloc_aligned(m->n_params * sizeof(float));
    if (!m->grads) return EEF_ENOMEM;
    eef_weights_view(&m->cfg, m->grads, &m->g);
    return EEF_OK;
}

eef_err eef_dist_grad(eef_model *m, const eef_batch *b, int shards, double *loss)
{
    int P = eef_dist_size(), r = eef_dist_rank();
    if (shards <= 0) shards = P;
    if (shards == 1 && P == 1) { /* the plain step, as before sharding existed */
        eef_model_zero_grad(m);
        EEF_TRY(eef_model_forward(m, b, NULL, loss));
        return eef_model_backward(m, 1.0f);
    }
    if (shards % P != 0)
        return eef_fail(EEF_EINVAL, "training: %d shard%s cannot be shared by %d ranks (use a "
                        "multiple of %d)", shards, shards == 1 ? "" : "s", P, P);
    if (shards > b->B)
        return eef_fail(EEF_EINVAL, "training: %d shards but a batch has only %d rows", shards,
                        b->B);
    EEF_TRY(ensure_grads(m));
    tree t = { .m = m, .b = b, .shards = shards, .mask_total = eef_batch_mask_count(b) };
    int per = shards / P, levels = 0;
    while ((1 << levels) < per) levels++;
    size_t n_grads;
    float *grads = train_grads(m, &n_grads);
    t.stash = eef_calloc((size_t)levels + 1, sizeof *t.stash);
    eef_err e = t.stash ? EEF_OK : EEF_ENOMEM;
    for (int i = 0; !e && i < levels; i++) {
        t.stash[i] = eef_alloc_aligned(n_grads * sizeof(float));
        if (!t.stash[i]) e = EEF_ENOMEM;
    }
    /* a rank that fails here must still join the sums below, or the others
     * would wait for it: it contributes, then reports its error */
    double lsum = 0.0;
    if (!e && t.mask_total > 0) e = node(&t, r * per, (r + 1) * per, 0, &lsum);
    else if (!e) eef_model_zero_grad(m);
    char msg[1024] = "";
    if (e) snprintf(msg, sizeof msg, "%s", eef_errmsg());
    eef_err es = eef_dist_sum_f32(grads, n_grads);
    if (!es) es = eef_dist_sum_f64(&lsum, 1);
    for (int i = 0; t.stash && i < levels; i++) eef_free_aligned(t.stash[i]);
    free(t.stash);
    if (e) return eef_fail(e, "%s", msg);
    if (es) return es;
    *loss = t.mask_total > 0 ? lsum / t.mask_total : 0.0;
    return EEF_OK;
}

/* adamw.c: AdamW (decoupled weight decay, as torch.optim.AdamW), global
 * gradient-norm clipping and the learning-rate schedule. */
#include "nn_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

void eef_adamw_defaults(eef_adamw_config *c)
{
    *c = (eef_adamw_config){ .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8,
                             .weight_decay = 0.1, .clip = 1.0, .warmup = 0, .total_steps = 0,
                             .cosine = 1, .min_lr_frac = 0.1 };
}

eef_err eef_adamw_new(const eef_adamw_config *c, size_t n_params, eef_adamw **out)
{
    *out = NULL;
    if (!(c->lr >= 0) || !(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1) ||
        !(c->eps > 0) || !(c->weight_decay >= 0) || !(c->clip >= 0) || c->warmup < 0 ||
        c->total_steps < 0 || !(c->min_lr_frac >= 0 && c->min_lr_frac <= 1))
        return eef_fail(EEF_EINVAL, "invalid AdamW configuration");
    eef_adamw *o = eef_calloc(1, sizeof *o);
    if (!o) return EEF_ENOMEM;
    o->cfg = *c;
    o->n = n_params;
    o->m = eef_alloc_aligned(n_params * sizeof(float));
    o->v = eef_alloc_aligned(n_params * sizeof(float));
    if (!o->m || !o->v) {
        eef_adamw_free(o);
        return EEF_ENOMEM;
    }
    *out = o;
    return EEF_OK;
}

void eef_adamw_free(eef_adamw *o)
{
    if (!o) return;
    eef_free_aligned(o->m);
    eef_free_aligned(o->v);
    free(o);
}

double eef_adamw_lr(const eef_adamw *o)
{
    const eef_adamw_config *c = &o->cfg;
    long s = o->step;
    if (c->warmup > 0 && s < c->warmup) return c->lr * (double)(s + 1) / (double)c->warmup;
    if (c->total_steps <= c->warmup) return c->lr;
    double p = (double)(s - c->warmup) / (double)(c->total_steps - c->warmup);
    if (p > 1) p = 1;
    double f = c->cosine ? 0.5 * (1.0 + cos(M_PI * p)) : 1.0 - p;
    return c->lr * (c->min_lr_frac + (1.0 - c->min_lr_frac) * f);
}

/* Sum of squares in fixed-size chunks, chunk sums added in order: the
 * result does not depend on the thread count. */
static double sum_squares(const float *g, size_t n)
{
    const size_t chunk = 1 << 14;
    size_t nc = (n + chunk - 1) / chunk;
    double *part = malloc(nc * sizeof(double));
    double total = 0.0;
    if (!part) { /* serial fallback */
        for (size_t i = 0; i < n; i++) total += (double)g[i] * g[i];
        return total;
    }
#pragma omp parallel for schedule(static)
    for (size_t k = 0; k < nc; k++) {
        size_t hi = (k + 1) * chunk < n ? (k + 1) * chunk : n;
        double s = 0.0;
        for (size_t i = k * chunk; i < hi; i++) s += (double)g[i] * g[i];
        part[k] = s;
    }
    for (size_t k = 0; k < nc; k++) total += part[k];
    free(part);
    return total;
}

/* The ranges of the buffer without weight decay: norm gains and biases
 * (as PyTorch recipes exclude them); the matrices decay. */
enum { N_NO_DECAY = 6 };
static void decay_ranges(const eef_model *m, size_t r[N_NO_DECAY][2])
{
    const eef_model_config *c = &m->cfg;
    size_t D = (size_t)c->d_model, L = (size_t)c->n_layers, hd = (size_t)c->head_dim,
           W = (size_t)(c->n_heads + 2 * c->n_kv_heads) * hd;
    const struct {
        const float *p;
        size_t n;
    } t[N_NO_DECAY] = { { m->w.attn_norm, L * D }, { m->w.mlp_norm, L * D }, { m->w.out_norm, D },
                        { m->w.bqkv, L * W },      { m->w.q_norm, L * hd },  { m->w.k_norm, L * hd } };
    for (int i = 0; i < N_NO_DECAY; i++) {
        r[i][0] = t[i].p ? (size_t)(t[i].p - m->params) : 0;
        r[i][1] = t[i].p ? r[i][0] + t[i].n : 0;
    }
}

/* One step over the buffer p [n] with gradients g, moments of o; the
 * ranges nd[0..n_nd) are not decayed. */
static eef_err adamw_update(eef_adamw *o, float *p, const float *g, size_t n,
                            size_t nd[][2], int n_nd, double *grad_norm)
{
    const eef_adamw_config *c = &o->cfg;
    double norm = sqrt(sum_squares(g, n));
    if (grad_norm) *grad_norm = norm;
    if (!isfinite(norm)) return eef_fail(EEF_ESTATE, "gradient is not finite (norm %g)", norm);
    float gscale = (c->clip > 0 && norm > c->clip) ? (float)(c->clip / norm) : 1.0f;
    double lr = eef_adamw_lr(o);
    o->step++;
    const float b1 = (float)c->beta1, b2 = (float)c->beta2, eps = (float)c->eps;
    const double bc1 = 1.0 - pow(c->beta1, (double)o->step);
    const double bc2 = 1.0 - pow(c->beta2, (double)o->step);
    const float step_size = (float)(lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    const float decay = (float)(1.0 - lr * c->weight_decay);
    float *mm = o->m, *vv = o->v;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        int no_decay = 0;
        for (int k = 0; k < n_nd; k++) no_decay |= i >= nd[k][0] && i < nd[k][1];
        float gi = g[i] * gscale;
        if (!no_decay) p[i] *= decay;
        mm[i] = b1 * mm[i] + (1.0f - b1) * gi;
        vv[i] = b2 * vv[i] + (1.0f - b2) * gi * gi;
        float denom = sqrtf(vv[i]) / bc2_sqrt + eps;
        p[i] -= step_size * mm[i] / denom;
    }
    return EEF_OK;
}

eef_err eef_adamw_step(eef_adamw *o, eef_model *m, double *grad_norm)
{
    if (m->lora) {
        /* adapters: every A and B decays (as the Hugging Face trainer
         * decays every weight matrix) */
        eef_lora *a = m->lora;
        if (o->n != a->n_params)
            return eef_fail(EEF_EINVAL, "optimizer has %zu parameters, the adapters %zu", o->n,
                            a->n_params);
        return adamw_update(o, a->params, a->grads, a->n_params, NULL, 0, grad_norm);
    }
    if (!m->grads) return eef_fail(EEF_ESTATE, "optimizer step without gradients");
    if (o->n != m->n_params)
        return eef_fail(EEF_EINVAL, "optimizer has %zu parameters, model %zu", o->n, m->n_params);
    size_t nd[N_NO_DECAY][2];
    decay_ranges(m, nd);
    return adamw_update(o, m->params, m->grads, m->n_params, nd, N_NO_DECAY, grad_norm);
}

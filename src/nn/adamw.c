/* adamw.c: AdamW (decoupled weight decay, as torch.optim.AdamW), global
 * gradient-norm clipping and the learning-rate schedule. */
#include "nn_internal.h"

#include <immintrin.h>
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
 * result does not depend on the thread count.  Inside a chunk, 8 running
 * sums (element i into sum i mod 8, added up at the end): the compiler
 * keeps them in vector registers whatever the target, where one running
 * sum is a chain of dependent adds (135M parameters: ~0.3 s a step). */
enum { SQ_CHUNK = 1 << 14 };
static double chunk_squares(const float *g, size_t n)
{
    double s8[8] = { 0 };
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) s8[k] += (double)g[i + k] * g[i + k];
    for (; i < n; i++) s8[i % 8] += (double)g[i] * g[i];
    return ((s8[0] + s8[1]) + (s8[2] + s8[3])) + ((s8[4] + s8[5]) + (s8[6] + s8[7]));
}

static double sum_squares(const float *g, size_t n)
{
    size_t nc = (n + SQ_CHUNK - 1) / SQ_CHUNK;
    double *part = malloc(nc * sizeof(double));
    double total = 0.0;
    if (!part) { /* serial fallback, the same sums */
        for (size_t k = 0; k < nc; k++)
            total += chunk_squares(g + k * SQ_CHUNK, k + 1 < nc ? SQ_CHUNK : n - k * SQ_CHUNK);
        return total;
    }
#pragma omp parallel for schedule(static)
    for (size_t k = 0; k < nc; k++)
        part[k] = chunk_squares(g + k * SQ_CHUNK, k + 1 < nc ? SQ_CHUNK : n - k * SQ_CHUNK);
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

typedef struct {
    float gscale, b1, b2, eps, step_size, bc2_sqrt;
} adam_consts;

/* The update of n elements that all decay by `decay` (1: exactly none),
 * 4 at a time: GCC will not vectorise sqrtf while it may set errno, so
 * the vector loop is SSE by hand, with the same operations in the same
 * order as the scalar tail (sqrt and division are correctly rounded
 * either way). */
static void adam_run(float *restrict p, float *restrict m, float *restrict v,
                     const float *restrict g, size_t n, float decay, const adam_consts *k)
{
    const float gs = k->gscale, b1 = k->b1, b2 = k->b2, eps = k->eps, st = k->step_size,
                bc = k->bc2_sqrt;
    size_t e = 0;
    const __m128 vgs = _mm_set1_ps(gs), vb1 = _mm_set1_ps(b1), vb2 = _mm_set1_ps(b2),
                 v1b1 = _mm_set1_ps(1.0f - b1), v1b2 = _mm_set1_ps(1.0f - b2),
                 veps = _mm_set1_ps(eps), vst = _mm_set1_ps(st), vbc = _mm_set1_ps(bc),
                 vdec = _mm_set1_ps(decay);
    for (; e + 4 <= n; e += 4) {
        __m128 gi = _mm_mul_ps(_mm_loadu_ps(g + e), vgs);
        __m128 pe = _mm_mul_ps(_mm_loadu_ps(p + e), vdec);
        __m128 me = _mm_add_ps(_mm_mul_ps(vb1, _mm_loadu_ps(m + e)), _mm_mul_ps(v1b1, gi));
        __m128 ve = _mm_add_ps(_mm_mul_ps(vb2, _mm_loadu_ps(v + e)),
                               _mm_mul_ps(_mm_mul_ps(v1b2, gi), gi));
        __m128 denom = _mm_add_ps(_mm_div_ps(_mm_sqrt_ps(ve), vbc), veps);
        _mm_storeu_ps(m + e, me);
        _mm_storeu_ps(v + e, ve);
        _mm_storeu_ps(p + e, _mm_sub_ps(pe, _mm_div_ps(_mm_mul_ps(vst, me), denom)));
    }
    for (; e < n; e++) {
        float gi = g[e] * gs;
        float pe = p[e] * decay;
        m[e] = b1 * m[e] + (1.0f - b1) * gi;
        v[e] = b2 * v[e] + (1.0f - b2) * gi * gi;
        float denom = sqrtf(v[e]) / bc + eps;
        p[e] = pe - st * m[e] / denom;
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
    const adam_consts k_ = { gscale, b1, b2, eps, step_size, bc2_sqrt };
    /* chunks of the buffer over the threads; inside a chunk, runs of
     * elements that all decay or all do not, each one vector loop (the
     * same operations on each element as one at a time) */
    const size_t nc = (n + SQ_CHUNK - 1) / SQ_CHUNK;
#pragma omp parallel for schedule(static)
    for (size_t ck = 0; ck < nc; ck++) {
        size_t i = ck * SQ_CHUNK, end = i + SQ_CHUNK < n ? i + SQ_CHUNK : n;
        while (i < end) {
            /* the run from i: up to the next range boundary after it */
            size_t j = end;
            int no_decay = 0;
            for (int r = 0; r < n_nd; r++) {
                if (i >= nd[r][0] && i < nd[r][1]) no_decay = 1;
                if (nd[r][0] > i && nd[r][0] < j) j = nd[r][0];
                if (nd[r][1] > i && nd[r][1] < j) j = nd[r][1];
            }
            adam_run(p + i, mm + i, vv + i, g + i, j - i, no_decay ? 1.0f : decay, &k_);
            i = j;
        }
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

/* step.c: one training step over the trainable set (nn.h: the train step),
 * the one call a training loop makes per batch. */
#include "nn_internal.h"

#include <string.h>

/* The trainable set's gradients zeroed on the threads: SmolLM2-135M's full
 * gradient is 540 MB, a tenth of a second of one thread's memset a step. */
static void zero_grad(eef_model *m, const eef_lora *lora)
{
    float *g = lora ? lora->grads : m->grads;
    const size_t n = lora ? lora->n_params : m->n_params, chunk = (size_t)1 << 16;
    if (!g) return;
    const long n_chunks = (long)((n + chunk - 1) / chunk);
#pragma omp parallel for schedule(static) if (n_chunks > 1)
    for (long c = 0; c < n_chunks; c++) {
        size_t lo = (size_t)c * chunk, len = n - lo < chunk ? n - lo : chunk;
        memset(g + lo, 0, len * sizeof(float));
    }
}

size_t eef_train_n_params(const eef_model *m, const eef_lora *lora)
{
    return lora ? lora->n_params : m->n_params;
}

eef_err eef_train_step(eef_model *m, eef_lora *lora, eef_adamw *opt, const eef_batch *b,
                       double *loss, double *grad_norm)
{
    eef_lora *was = m->lora;
    EEF_TRY(eef_lora_attach(m, lora));
    zero_grad(m, m->lora);
    eef_err e = eef_model_forward(m, b, NULL, loss);
    if (!e) e = eef_model_backward(m, 1.0f);
    if (!e) e = eef_adamw_step(opt, m, grad_norm);
    m->lora = was;
    return e;
}

/* step.c: one training step over the trainable set (nn.h: the train step),
 * the one call a training loop makes per batch. */
#include "nn_internal.h"

size_t eef_train_n_params(const eef_model *m, const eef_lora *lora)
{
    return lora ? lora->n_params : m->n_params;
}

eef_err eef_train_step(eef_model *m, eef_lora *lora, eef_adamw *opt, const eef_batch *b,
                       double *loss, double *grad_norm)
{
    eef_lora *was = m->lora;
    EEF_TRY(eef_lora_attach(m, lora));
    eef_model_zero_grad(m);
    eef_err e = eef_model_forward(m, b, NULL, loss);
    if (!e) e = eef_model_backward(m, 1.0f);
    if (!e) e = eef_adamw_step(opt, m, grad_norm);
    m->lora = was;
    return e;
}

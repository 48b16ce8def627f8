/* hf.h: Hugging Face model directories (nn-internal): config.json and
 * generation_config.json read into eef's model description. */
#ifndef EEF_NN_HF_H
#define EEF_NN_HF_H

#include "nn_internal.h"

typedef struct {
    eef_model_config cfg;
    char arch[16];      /* model_type */
    int bos_id;         /* -1: none */
    int eos_ids[8];
    int n_eos;
    int pairs;          /* 1: written by eef from a pair-layout model ("eef_rope_layout":
                         * "pairs"): q/k rows are permuted back on import */
} nn_hf_config;

/* config.json: the architectures and field values eef runs; anything else
 * is refused with a message naming the field.  `path` names the file in
 * messages. */
eef_err nn_hf_config_parse(const char *text, size_t len, const char *path, nn_hf_config *out);
/* generation_config.json: bos_token_id, eos_token_id (one id or a list)
 * replace config.json's. */
eef_err nn_hf_generation_parse(const char *text, size_t len, const char *path, nn_hf_config *hc);

#endif

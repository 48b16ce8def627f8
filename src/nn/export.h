/* export.h: the tensor list every export format writes (nn-internal). */
#ifndef EEF_NN_EXPORT_H
#define EEF_NN_EXPORT_H

#include "nn_internal.h"

/* Rows of q and k reordered between the two rotary layouts (per head of hd rows):
 *   TO_HALF:  out row j < hd/2 <- in row 2j, out row hd/2 + j <- in row 2j + 1
 *   TO_PAIRS: out row 2j <- in row j, out row 2j + 1 <- in row hd/2 + j */
typedef enum { PERM_NONE, PERM_TO_HALF, PERM_TO_PAIRS } x_perm;

typedef struct {
    char name[64];
    int n_dims;         /* 2: a matrix [rows, cols]; 1: a vector [rows] */
    uint64_t shape[2];  /* PyTorch order: [out, in] (or [n]) */
    eef_tensor src;     /* a vector is a column: rows x 1 */
    x_perm perm;
    int hd;             /* rows per head for perm */
    eef_dtype out;      /* the dtype written */
} xtensor;

typedef struct {
    xtensor *t;
    int n, cap;
} xlist;

typedef enum { X_GGUF, X_SAFETENSORS, X_HF } x_scheme;

/* The model's tensors with the scheme's names (GGUF's blk.N.*, HF's
 * model.layers.N.*), in rotary layout `want` (pairs for GGUF's llama,
 * rotate_half for HF), each written as F32 or (X_HF) in its own dtype. */
eef_err x_list(const eef_model *m, x_scheme scheme, int want_layout, xlist *l);
uint64_t x_bytes(const xtensor *t);
eef_err x_write(eef_afile *af, const xtensor *t);

#endif

/* quant.h: GGUF's block-quantized weight types (nn-internal).
 *
 * A row of I weights is I / block blocks, each a scale (or two) and small
 * integers, laid out as ggml defines them (sizes in bytes):
 *
 *   Q8_0  32 weights, 34 B:  f16 d; int8 q[32]                 w = d q
 *   Q4_K 256 weights, 144 B: f16 d, dmin; u8 scales[12]; u8 qs[128]
 *         8 sub-blocks of 32 with 6-bit scale s_j and min m_j:  w = d s_j q - dmin m_j,
 *         q in 0..15 (qs byte 32c + l: low nibble = sub-block 2c, high = 2c + 1)
 *   Q5_K 256 weights, 176 B: f16 d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]
 *         as Q4_K with a fifth bit: bit j of qh[l] is bit 4 of weight 32j + l
 *   Q6_K 256 weights, 210 B: u8 ql[128]; u8 qh[64]; int8 scales[16]; f16 d
 *         16 groups of 16 with int8 scale s_g:  w = d s_g (q - 32), q in 0..63
 *
 * The 6-bit scales and mins of the K types are packed in 12 bytes: for
 * j < 4, s_j = b[j] & 63, m_j = b[j + 4] & 63; for j >= 4,
 * s_j = (b[j + 4] & 15) | (b[j - 4] >> 6) << 4, m_j = (b[j + 4] >> 4) | (b[j] >> 6) << 4.
 *
 * Products with rows of x (the types' matmul, any number of rows) quantize
 * x first, with llama.cpp's rounding of activations (so both multiply the
 * same integers): 8 bits per block of 32 with an f16 scale for Q8_0, per
 * block of 256 for the K types (ggml's Q8_K); each sub-block's product is
 * then an exact integer sum, scaled in f32 in a fixed order, so results
 * do not depend on the rows computed together or on the kernels.  AVX-512
 * VNNI kernels are chosen at run time (eef_nn_init), else portable C
 * computes the same bits; AMX tiles (prefill, batches) too. */
#ifndef EEF_NN_QUANT_H
#define EEF_NN_QUANT_H

#include "nn_internal.h"

extern const nn_dtype_ops nn_ops_q8_0, nn_ops_q4_k, nn_ops_q5_k, nn_ops_q6_k;

/* Picks the kernels for this CPU (called by nn_vec_select). */
void nn_quant_select(void);
/* Tests: 0 forces the portable kernels, 1 AVX-512 VNNI, 2 the CPU's best
 * (AMX int8 tiles for 8 or more rows of x where the CPU and Linux allow
 * them); returns the level in use before. */
int nn_quant_simd(int level);
/* Name of the kernels in use ("amx", "avx512vnni" or "c"). */
const char *nn_quant_kernels(void);

/* f16 <-> f32 (bit exact widening; rounding as nn_f32_to_f16). */
float nn_f16_to_f32(uint16_t h);

#endif

/* nn_internal.h: kernels and helpers shared inside src/nn only. */
#ifndef EEF_NN_INTERNAL_H
#define EEF_NN_INTERNAL_H

#include "nn.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* ------------------------------------------------------------ threads */
static inline int nn_max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

static inline int nn_thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* Inside a parallel region: the calling thread's share [lo, hi) of n
 * columns.  Sums over rows split this way add each column in row order on
 * one thread, so they do not depend on the thread count. */
static inline void nn_my_cols(int n, int *lo, int *hi)
{
#ifdef _OPENMP
    int nth = omp_get_num_threads(), tid = omp_get_thread_num();
#else
    int nth = 1, tid = 0;
#endif
    *lo = (int)((long)n * tid / nth), *hi = (int)((long)n * (tid + 1) / nth);
}

/* ------------------------------------------------------------ shapes
 * The attention's heads: H query heads and Hkv key/value heads of hd
 * values each; query head h reads key/value head h / (H / Hkv) (HF's
 * repeat_kv).  A row of projections is q [Q] | k [K] | v [K] with
 * Q = H hd, K = Hkv hd, W = Q + 2K. */
typedef struct {
    int H, Hkv, hd;
} nn_heads;

static inline nn_heads nn_heads_of(const eef_model_config *c)
{
    return (nn_heads){ c->n_heads, c->n_kv_heads, c->head_dim };
}
static inline int heads_q(const nn_heads *s) { return s->H * s->hd; }
static inline int heads_k(const nn_heads *s) { return s->Hkv * s->hd; }
static inline int heads_w(const nn_heads *s) { return (s->H + 2 * s->Hkv) * s->hd; }

/* ------------------------------------------------------------ products
 * Row-major C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, where
 * op(X) = X or X^T.  Single-threaded: callers split the work. */
void nn_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
             int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* out[N,O] = inp[N,I] W[O,I]^T for f32 W, rows split over the OpenMP threads. */
void mm_forward(float *out, const float *inp, const float *w, int N, int I, int O);
/* dinp[N,I] = dout[N,O] W[O,I] (overwritten; skipped if NULL) and
 * dw[O,I] += dout^T inp. */
void mm_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                 int N, int I, int O);

/* THE matrix product with a weight, any dtype:
 *   y[n*ldy + o] = sum_i x[n*ldx + i] W[o, i]     (n < N, o < O = W.rows, i < I = W.cols)
 * Up to 32 rows of x (decoding) go through the row kernel
 * (nn_vec.dot_block, W's rows split over the threads for a large W),
 * whose every dot is summed the same way whatever N: a row's result does
 * not depend on the other rows.  More rows go to sgemm (f32 W: rows of x
 * split over threads; 16-bit types: tiles of W converted to f32).  The
 * block types (Q8_0, K-quants) have their own product for any number of
 * rows (quant.c), whose outputs do not depend on the other rows either. */
eef_err nn_matmul(float *y, int ldy, const float *x, int ldx, const eef_tensor *w, int N);
/* The backward of nn_matmul: dx[n*ldx + i] = (accumulate ? dx : 0) +
 * sum_o dy[n*ldy + o] W[o, i] (skipped if dx is NULL), and, for an f32
 * weight with a gradient dw [O, I], dw += dy^T x. */
eef_err nn_matmul_backward(float *dx, int ldx, float *dw, const float *dy, int ldy,
                           const float *x, int ldx_in, const eef_tensor *w, int N, int accumulate);
/* y[n*ldy + o] += sum_i x[n*ldx + i] w[o*I + i] for an f32 w [O, I], rows
 * split over the threads (the adapters' second product). */
void nn_matmul_add_f32(float *y, int ldy, const float *x, int ldx, const float *w, int N, int I,
                       int O);
/* Two or three weights whose rows lie one after the other in memory with
 * one dtype (eef's fused q|k|v and gate|up) act as one matrix:
 * returns 1 and the joined tensor in *out. */
int nn_tensor_join(const eef_tensor *const *w, int n, eef_tensor *out);

/* The per-dtype kernel table (dtype.c).  A new element type (the GGUF
 * block types) is one entry: its block geometry, to_f32 (required: it
 * makes tiles for sgemm, the row kernel's widened rows, embedding rows
 * and exports), and optionally matmul, a product of the type's own
 * (the block types multiply their packed blocks), and from_f32. */
typedef struct {
    const char *name;
    int block;       /* elements per block (1 for F32/F16/BF16) */
    int block_bytes; /* bytes per block */
    /* dst[0..n) = the first n elements at src; n a multiple of block */
    void (*to_f32)(const void *src, float *dst, int n);
    /* dst = src rounded to this type (NULL: eef cannot write the type) */
    void (*from_f32)(const float *src, void *dst, int n);
    /* y[n ldy + o] = <row o of W [rows, cols], x row n> for n < N, o < rows,
     * threads included; each output's bits depend on its own rows of x and
     * W only (NULL: f32 rows and tiles are used) */
    eef_err (*matmul)(float *y, int ldy, const float *x, int ldx, const void *w, int rows, int cols,
                      int N);
} nn_dtype_ops;
/* NULL where a type has no kernels yet. */
const nn_dtype_ops *nn_dtype_ops_of(eef_dtype t);
/* Rows [r0, r1) of W in f32, into dst [(r1 - r0), cols]. */
void nn_tensor_rows_f32(const eef_tensor *w, int r0, int r1, float *dst);

/* ------------------------------------------------------------ elementwise layers */
/* y[N,D] = x / rms(x) * g; rstd[N] saved for the backward pass. */
void rmsnorm_forward(float *y, float *rstd, const float *x, const float *g, int N, int D,
                     float eps);
/* dx[N,D] += d/dx, dg[D] += d/dg (skipped if dg is NULL), given dy. */
void rmsnorm_backward(float *dx, float *dg, const float *dy, const float *x, const float *rstd,
                      const float *g, int N, int D);

/* Per-head RMSNorm of the q heads (gains gq [hd]) and the k heads (gk) of
 * projection rows x [N, W]; v is copied.  rstd [N, H + Hkv]. */
void head_norm_forward(float *y, float *rstd, const float *x, const float *gq, const float *gk,
                       int N, const nn_heads *s, float eps);
/* dx [N, W] (overwritten) from dy; dgq, dgk [hd] += their gradients
 * (skipped if NULL: frozen gains). */
void head_norm_backward(float *dx, float *dgq, float *dgk, const float *dy, const float *x,
                        const float *rstd, const float *gq, const float *gk, int N,
                        const nn_heads *s);

/* y[N, W] += b[W] on every row; db[W] += column sums of dy. */
void bias_forward(float *y, const float *b, int N, int W);
void bias_backward(float *db, const float *dy, int N, int W);

/* Rotary tables: cos/sin [n_pos, hd/2] of position p at frequency i,
 * theta^(-2i/hd) (scaled as Llama 3.1 when the config says so). */
typedef struct {
    int n_pos, half, layout;
    float *cos, *sin;
} rope_table;
eef_err rope_table_init(rope_table *t, int n_pos, const eef_model_config *c);
void rope_table_free(rope_table *t);
/* Rotates the q and k heads of rows qkv [N, W] in place by their
 * positions (inverse: dir = -1), pairs as t->layout says. */
void rope_apply(float *qkv, const int *pos, int N, const nn_heads *s, const rope_table *t,
                int dir);

/* act[N,F] = silu(h[:, :F]) * h[:, F:] for h [N, 2F]. */
void swiglu_forward(float *act, const float *h, int N, int F);
/* dh[N,2F] from dact and h. */
void swiglu_backward(float *dh, const float *dact, const float *h, int N, int F);

/* ------------------------------------------------------------ tile kernels (nn/tile.c)
 * f32 products on AVX-512 register tiles; nn_tiles_ok(): the CPU has them.
 * NJ and hd are multiples of 16. */
/* bf16mm.c, products in bf16 arithmetic (AVX-512 BF16; nn_bf16mm_ok()
 * says whether the CPU has it): y [N, ldy] = beta y + x [N, K] op(W), W
 * rows of BF16 or F32: trans 1, W [NO, K] (y = x W^T); trans 0, W [K, NO]
 * (y = x W); and dw [NO, NI] += dy^T x over N rows. */
int nn_bf16mm_ok(void);
eef_err nn_bf16mm(float *y, int ldy, const float *x, int ldx, const void *w, eef_dtype dt, int trans, int K,
                  int NO, int N, float beta);
eef_err nn_bf16mm_grad(float *dw, const float *dy, int ldy, const float *x, int ldx, int N, int NO, int NI);

/* nn_tiles_ok(): the CPU has AVX-512 and nn_tiles_avx512 (tests: 0 runs
 * the plain loops) is set.  nn_tile_nt runs on any CPU; nn_tile_nn and
 * nn_tile_tn only where nn_tiles_ok(). */
extern int nn_tiles_avx512;
static inline int round16(int n) { return (n + 15) & ~15; }
/* A row stride for n floats: a multiple of 16 that is an odd number of
 * 64-byte lines, so the rows of a tile's operand (K^T's hd rows, the
 * cached keys' rows, the scores' rows) fall into different cache sets and
 * never 4 KB apart (nn_tile_nt with 1024-float rows: 75 GFLOP/s one
 * thread, with 1040: 93). */
static inline int ld16(int n)
{
    const int l = round16(n);
    return (l / 16) % 2 ? l : l + 16;
}
int nn_tiles_ok(void);
/* Causal products: with diag >= 0, row i of a product is the query at key
 * diag + i.  nn_tile_nt need not compute its scores past that key (the
 * caller discards them), nn_tile_nn and nn_tile_tn may skip the weights
 * past it (they must be 0).  A skipped element or term changes no bit of
 * the others: each is one sum in a fixed order, and a zero term adds
 * nothing.  diag < 0: the whole product. */
/* S [R, NJ] = alpha X Y^T, Y given transposed: Yt [hd, ldy] */
void nn_tile_nt(float *S, int lds, const float *X, int ldx, const float *Yt, int ldy, int R,
                int NJ, int hd, float alpha, int diag);
/* O [R, hd] = alpha P Y over nk (P [R, ldp], Y [nk, ldy]) */
void nn_tile_nn(float *O, int ldo, const float *P, int ldp, const float *Y, int ldy, int R,
                int nk, int hd, float alpha, int diag);
/* C [NK, hd] += alpha P^T X over nr rows (P [nr, ldp], X [nr, ldx]) */
void nn_tile_tn(float *C, int ldc, const float *P, int ldp, const float *X, int ldx, int nr,
                int NK, int hd, float alpha, int diag);

/* ------------------------------------------------------------ attention (training)
 * Causal self-attention within segments.  qkv [N, W], out [N, Q], lse
 * [N, H] (log-sum-exp of each softmax row, saved for the backward pass).
 * The batch is B rows of T; a segment starts wherever pos == 0. */
eef_err attention_forward(float *out, float *lse, const float *qkv, const int *pos, int B, int T,
                          const nn_heads *s);
/* dqkv [N, W] (overwritten) from dout [N, Q]. */
eef_err attention_backward(float *dqkv, const float *dout, const float *qkv, const float *out,
                           const float *lse, const int *pos, int B, int T, const nn_heads *s);
/* 1 (default): AVX-512 tile kernels for head widths that are multiples of
 * 16; 0: sgemm for every product (tests compare the two). */
extern int nn_attention_tiles;

/* ------------------------------------------------------------ the layer
 * One transformer layer, the same code for training (nn/train.c) and the
 * KV cache (nn/infer.c); only the attention differs, given as a callback:
 * training attends inside packed segments and keeps the log-sum-exps,
 * inference attends to the cache (and to a trie's ancestors).
 *
 *   xn1 = rmsnorm(x) g1;  p = xn1 [Wq|Wk|Wv]^T + b;  qkv = rope(headnorm(p))
 *   att = attention(qkv); x2 = x + att Wo^T
 *   xn2 = rmsnorm(x2) g2; h13 = xn2 [W1|W3]^T; hact = silu(h1) h3
 *   out = x2 + hact W2^T
 */
typedef struct nn_attn {
    /* att [N, Q] from qkv [N, W] (rotated) for layer l */
    eef_err (*run)(const struct nn_attn *a, int l, const float *qkv, float *att);
} nn_attn;

/* Buffers for one layer's intermediates, N rows each (the caller's: the
 * training activations keep them for the backward pass, the KV cache
 * reuses one set).  qkv_pre and qk_rstd are used with qk_norm only. */
typedef struct {
    float *xn1, *rstd1;   /* [N, D], [N] */
    float *qkv_pre;       /* [N, W] projections before the head norms */
    float *qk_rstd;       /* [N, H + Hkv] */
    float *qkv;           /* [N, W] */
    float *att;           /* [N, Q] */
    float *x2;            /* [N, D] */
    float *xn2, *rstd2;   /* [N, D], [N] */
    float *h13;           /* [N, 2F] gate | up */
    float *hact;          /* [N, F] */
    float *lora_u;        /* [N, n_targets r]: each adapter's s x A^T (with
                           * adapters attached; NULL: a scratch is made) */
} nn_layer_buf;

/* out [N, D] (may be x itself) from x [N, D] through layer l. */
eef_err nn_layer_forward(const eef_model *m, int l, int N, const float *x, float *out,
                         const int *pos, const rope_table *rope, const nn_layer_buf *b,
                         const nn_attn *att);
/* x [N, D] = embedding rows of tokens. */
void nn_embed(const eef_model *m, const int *tokens, int N, float *x);
/* logits [M, V] of rows xg [M, D]: final norm into xf [M, D] (rstd [M]), then the head. */
eef_err nn_head_forward(const eef_model *m, const float *xg, int M, float *xf, float *rstd,
                        float *logits);

/* ------------------------------------------------------------ adapters (lora.c) */
/* Which slot of a layer's lora_u target t has (-1: not adapted). */
int nn_lora_slot(const eef_lora *a, int t);
/* The projection of layer l gets the adapters of its targets t0..t1 (q..v,
 * gate..up, or one; cols[t - t0]: target t's first column of y):
 *   u = s x A^T (kept for the backward pass),  y += u B^T,
 * u being the layer's [N, slots r] (row n: every slot's r values). */
eef_err nn_lora_forward(const eef_lora *a, int l, int t0, int t1, const int *cols, float *y,
                        int ldy, const float *x, int ldx, int N, float *u);
/* Its backward: dB += dy^T u;  du = s dy B (scratch [N, slots r]);
 * dA += du^T x;  dx += du A. */
eef_err nn_lora_backward(eef_lora *a, int l, int t0, int t1, const int *cols, float *dx, int ldx,
                         const float *dy, int ldy, const float *x, int ldx_in, const float *u,
                         float *du, int N);

/* Training activations (sized for B*T positions; with checkpointing the
 * per-layer tensors hold one layer, recomputed in the backward pass). */
struct eef_acts {
    int B, T, N;
    float *res;     /* [L+1, N, D] residual stream entering each layer, then the final one */
    float *xn1;     /* [L, N, D] */
    float *rstd1;   /* [L, N] */
    float *qkv;     /* [L, N, W] after bias, head norms and rotary */
    float *lse;     /* [L, N, H] */
    float *att;     /* [L, N, Q] attention output before Wo */
    float *x2;      /* [L, N, D] residual after attention */
    float *xn2;     /* [L, N, D] */
    float *rstd2;   /* [L, N] */
    float *h13;     /* [L, N, 2F] */
    float *hact;    /* [L, N, F] */
    float *rstdf;   /* [N] final norm */
    float *xf;      /* [N, D] final normed rows of the scored positions */
    float *logits;  /* [N, V] logits of the scored positions */
    float *qkv_pre; /* [L, N, W] before the head norms (qk_norm only) */
    float *qk_rstd; /* [L, N, H + Hkv] (qk_norm only) */
    float *lora_u;  /* [L, N, n_targets r] (adapters only) */
    float *dlora;   /* [N, n_targets r] adapters' backward scratch */
    int *rows;      /* [N] live positions scored (mask != 0), M of them */
    int M;
    /* The positions the last forward computed, n_live of them in batch
     * order: all but padding, a position alone in its segment with no
     * loss, which nothing reads (skipping it is exact).  The per-position
     * tensors above hold the live positions; src[i] is live position i's
     * index in the batch, live_tok and live_pos its token and position. */
    int n_live;
    int *src, *live_tok, *live_pos;
    int logits_rows; /* rows the logits buffer holds (it grows to the largest M) */
    int ckpt;        /* 1: per-layer tensors hold one layer */
    int lora_slots, lora_rank; /* what lora_u was sized for */
    /* backward scratch */
    float *dres, *dxn, *dqkv, *datt, *dh13, *dhact, *dxf, *dqkv_pre;
    /* the batch of the last forward */
    const eef_batch *batch;
    double mask_sum;
    rope_table rope;
    int have_forward;
};
void eef_acts_free(eef_acts *a);
/* Floats of the one activation buffer for N positions (the logits and the
 * attention's per-thread scratch are apart): what train.c allocates. */
size_t nn_acts_floats(const eef_model_config *c, int N, int ckpt, int lora_slots, int lora_rank);

/* ------------------------------------------------------------ tries (constrain.c)
 * Nodes in creation order: a parent always precedes its children. */
typedef struct {
    int token;       /* token on the edge into this node (-1 at the root) */
    int parent;
    int first_child, next_sibling;
    int tag;         /* >= 0: an allowed sequence ends here */
    int has_free;    /* free text may follow this node ... */
    int free_tag;    /* ... and this is the tag returned for it (any value) */
    int seq;         /* order in which the sequence ending here was added */
} trie_node;

struct eef_trie {
    trie_node *nodes;
    int n, cap;
    int n_seqs;
    int *seq_node; /* node of the i-th added sequence */
    int seq_cap;
};


/* ------------------------------------------------------------ model internals */
/* A model with its trainable buffer allocated (zeroed) and bound. */
eef_err eef_model_alloc(const eef_model_config *cfg, eef_tokenizer *tok, eef_model **out);
/* A model without weights: the caller (an importer) points every tensor
 * of m->layer, m->embed, m->head, m->out_norm somewhere it keeps in
 * m->store. */
eef_err eef_model_alloc_frozen(const eef_model_config *cfg, eef_tokenizer *tok, eef_model **out);
eef_err eef_model_ensure_grads(eef_model *m);
/* Points the forward's tensors at the trainable buffer's views. */
void nn_bind_params(eef_model *m);

/* Memory that frozen weights live in: read-only file mappings and owned
 * blocks, released with the model. */
struct nn_store {
    void **blocks;
    size_t n_blocks, cap_blocks;
    struct nn_map {
        void *base;
        size_t len;
    } *maps;
    size_t n_maps, cap_maps;
};
/* An owned, 64-byte aligned, zeroed block of n bytes (NULL: out of memory). */
void *nn_store_alloc(eef_model *m, size_t n);
/* Maps a whole file read-only (*len its size; an empty file gives a
 * 1-byte static buffer and *len 0); unmap with nn_unmap_file. */
eef_err nn_map_file(const char *path, const unsigned char **data, size_t *len);
void nn_unmap_file(const unsigned char *data, size_t len);
/* The model keeps (and unmaps when freed) a mapping of nn_map_file. */
eef_err nn_store_adopt_map(eef_model *m, const unsigned char *data, size_t len);
void nn_store_free(nn_store *s);

/* The .eefm reader (checkpoint.c) and the Hugging Face importer (hf.c). */
eef_err nn_load_eefm(const char *path, const eef_load_opts *o, eef_model **out);
eef_err nn_load_hf(const char *dir, const eef_load_opts *o, eef_model **out);
/* The Hugging Face exporter (hf_export.c). */
eef_err nn_export_hf(const eef_model *m, const char *dir);

/* log-softmax helpers */
float nn_logsumexp(const float *x, int n);

/* ------------------------------------------------------------ SIMD row kernels
 * (vec.c), chosen at run time for the CPU. */
typedef struct {
    const char *name;
    float (*max)(const float *x, int n);
    float (*exp_shift_sum)(float *x, int n, float shift);  /* x = e^(x-shift); returns the sum */
    float (*sum_exp_shift)(const float *x, int n, float shift); /* sum e^(x-shift) */
    void (*exp_shift)(float *x, int n, float shift);        /* x = e^(x-shift) */
    void (*exp_shift_scale)(float *x, int n, float shift, float scale); /* x = scale e^(x-shift) */
    float (*dot)(const float *a, const float *b, int n);
    void (*scale)(float *x, int n, float s);
    void (*add)(float *y, const float *x, int n);           /* y += x */
    void (*softmax_grad)(float *ds, const float *p, int n, float di); /* ds = p (ds - di) */
    float (*rms_row)(float *y, const float *x, const float *g, int n, float eps); /* returns 1/rms */
    void (*rms_bwd_row)(float *dx, const float *dy, const float *x, const float *g, float r, int n);
    void (*swiglu_row)(float *o, const float *a, const float *b, int n);
    void (*swiglu_bwd_row)(float *da, float *db, const float *d, const float *a, const float *b,
                           int n);
    /* 16-bit weights: widening (exact) */
    void (*bf16_to_f32)(const uint16_t *src, float *dst, int n);
    void (*f16_to_f32)(const uint16_t *src, float *dst, int n);
    /* y[n ldy + r] = <row r of w, row n of x> for r < R <= 4 (rows ldw
     * floats apart), n < N, each dot summed the same way whatever N and R */
    void (*dot_block)(float *y, int ldy, const float *x, int ldx, int N, const float *w,
                      size_t ldw, int R, int I);
    /* one query's mix of nk cached values (ldv floats apart): out[hd] =
     * sum_j p_j v_j */
    void (*attn_values)(float *out, const float *p, const float *v, size_t ldv, int nk, int hd);
    /* the same for H heads of one query at once (more sums in flight, each
     * element attn_values' sum): out [H, hd], head h's weights at p + h
     * ldp, its values at v + (h / G) hd */
    void (*attn_values_heads)(float *out, const float *p, size_t ldp, const float *v, size_t ldv,
                              int G, int nk, int hd, int H);
} nn_vec_ops;
extern nn_vec_ops nn_vec;
void nn_vec_select(void);

/* Rounding f32 to 16 bits (nearest, ties to even; NaN stays NaN). */
uint16_t nn_f32_to_bf16(float x);
uint16_t nn_f32_to_f16(float x);


/* ------------------------------------------------------------ importers
 * The tensors of a Llama-family checkpoint by what they are, whatever a
 * format calls them (hf.c: Hugging Face names; gguf_model.c: llama.cpp's). */
typedef enum {
    T_EMBED, T_ATTN_NORM, T_WQ, T_WK, T_WV, T_BQ, T_BK, T_BV, T_QN, T_KN, T_WO, T_MLP_NORM,
    T_W1, T_W3, T_W2, T_OUT_NORM, T_HEAD, T_KINDS
} nn_tensor_kind;

static inline int nn_is_layer_kind(nn_tensor_kind k)
{
    return k != T_EMBED && k != T_OUT_NORM && k != T_HEAD;
}

/* The expected shape of a kind (rows, cols; cols 0 for a vector); 0 if
 * the config has no such tensor. */
static inline int nn_expected_shape(const eef_model_config *c, nn_tensor_kind k, uint64_t *rows,
                                    uint64_t *cols)
{
    const uint64_t V = (uint64_t)c->vocab, D = (uint64_t)c->d_model, F = (uint64_t)c->d_ff,
                   hd = (uint64_t)c->head_dim, Q = (uint64_t)c->n_heads * hd,
                   K = (uint64_t)c->n_kv_heads * hd;
    uint64_t r = 0, cl = 0;
    switch (k) {
    case T_EMBED: case T_HEAD: r = V, cl = D; break;
    case T_ATTN_NORM: case T_MLP_NORM: case T_OUT_NORM: r = D; break;
    case T_WQ: r = Q, cl = D; break;
    case T_WK: case T_WV: r = K, cl = D; break;
    case T_BQ: r = Q; break;
    case T_BK: case T_BV: r = K; break;
    case T_QN: case T_KN: r = hd; break;
    case T_WO: r = D, cl = Q; break;
    case T_W1: case T_W3: r = F, cl = D; break;
    case T_W2: r = D, cl = F; break;
    default: break;
    }
    *rows = r, *cols = cl;
    if (k == T_HEAD && c->tied) return 0;
    if ((k == T_BQ || k == T_BK || k == T_BV) && !c->qkv_bias) return 0;
    if ((k == T_QN || k == T_KN) && !c->qk_norm) return 0;
    return 1;
}

#endif

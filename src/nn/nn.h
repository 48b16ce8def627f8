/*
 * nn: a Llama-family decoder-only transformer that trains and samples on CPU.
 *
 *   token embedding -> n_layers x [RMSNorm -> causal self-attention with
 *   rotary positions (grouped-query, optional q/k/v biases and per-head
 *   q/k norms) -> residual -> RMSNorm -> SwiGLU MLP -> residual]
 *   -> RMSNorm -> output head (tied to the embedding or not)
 *
 * eef's own models and imported ones (Hugging Face Llama, Mistral, Qwen2,
 * Qwen3) are the same model with different configs.  Trainable
 * parameters, their gradients and the two AdamW moments are each ONE
 * contiguous float buffer with named views (as llm.c), so zeroing, saving
 * and all-reducing are single calls; frozen weights (an imported model)
 * may stay in the dtype and the mapped file they came in.  Weights follow
 * PyTorch's nn.Linear convention: W is [out, in] and y = x W^T.
 *
 * nn knows nothing of environments: it sees token ids and loss masks.
 */
#ifndef EEF_NN_H
#define EEF_NN_H

#include "core/core.h"
#include "text/text.h"

/* ------------------------------------------------------------ tensors
 * Weights the forward pass reads are eef_tensors: a row-major matrix
 * [rows, cols] (PyTorch's [out, in]) of some element type.  Trainable
 * weights are always F32 (views into the one parameter buffer); frozen
 * ones may stay as a file stores them (F16, BF16, and GGUF's block types
 * Q8_0, Q4_K, Q5_K, Q6_K: nn/quant.c).  Every product with a weight goes through one
 * entry point with a per-type kernel table (nn_internal.h: nn_matmul).
 */
typedef enum {
    EEF_DT_F32,
    EEF_DT_F16,
    EEF_DT_BF16,
    EEF_DT_Q8_0, /* GGUF block types: 32 or 256 elements a block (issue 20) */
    EEF_DT_Q4_K,
    EEF_DT_Q5_K,
    EEF_DT_Q6_K,
    EEF_DT_COUNT
} eef_dtype;

const char *eef_dtype_name(eef_dtype t); /* "F32", "BF16", "Q4_K", ... */
/* 1 if matrices of this type can be multiplied (its kernels are linked in). */
int eef_dtype_supported(eef_dtype t);
/* Bytes of one row of `cols` elements; 0 if cols is not a whole number of
 * the type's blocks. */
size_t eef_dtype_row_bytes(eef_dtype t, int cols);

typedef struct {
    eef_dtype dtype;
    int rows, cols;
    const void *data; /* rows * row_bytes(cols) bytes, rows contiguous */
    /* BF16 and F32: products of more rows than decoding's (training,
     * prefill) and the backward pass's round x (and an f32 W, dy) to bf16
     * and sum pairs in f32 on AVX-512 BF16, as PyTorch computes a bf16
     * layer or an autocast region (eef_model_bf16_products) */
    int bf16_products;
} eef_tensor;

/* ------------------------------------------------------------ config
 * The Llama family: eef's own presets, Llama 2/3, Mistral, Qwen2, Qwen3,
 * SmolLM.  Fields after `norm_eps` default to eef's own choice when 0, so
 * a config written for eef's presets stays valid (eef_model_config_resolve
 * fills them in). */
typedef enum {
    EEF_ROPE_PAIRS = 0, /* eef / Meta's original Llama / llama.cpp NORM: pairs (2i, 2i+1) */
    EEF_ROPE_HALF = 1,  /* Hugging Face's rotate_half / llama.cpp NEOX: pairs (i, i + hd/2) */
} eef_rope_layout;

/* Llama 3.1's frequency scaling (HF rope_type "llama3"); factor 0: none. */
typedef struct {
    float factor, low_freq_factor, high_freq_factor;
    int original_ctx; /* original_max_position_embeddings */
} eef_rope_scaling;

typedef struct {
    int vocab;       /* embedding (and head) rows; the tokenizer may have fewer */
    int d_model;     /* D */
    int n_layers;    /* L */
    int n_heads;     /* H: query heads */
    int d_ff;        /* F: hidden width of the SwiGLU MLP */
    int max_ctx;     /* longest sequence (positions) */
    int tied;        /* 1: the output head is the embedding matrix */
    float rope_theta;
    float norm_eps;
    int n_kv_heads;  /* Hkv: key/value heads (grouped-query attention); 0: H */
    int head_dim;    /* hd; 0: D / H */
    int qkv_bias;    /* 1: the q, k and v projections have biases (Qwen2) */
    int qk_norm;     /* 1: per-head RMSNorm of q and k before rotary (Qwen3) */
    int rope_layout; /* eef_rope_layout */
    eef_rope_scaling rope_scaling;
} eef_model_config;

/* Presets: "tiny" (tests), "small" (D 128, 4 layers, 4 heads, ctx 1024),
 * "base" (D 256, 6 layers, 8 heads, ctx 2048), "demo" (the pipeline's). */
eef_err eef_model_preset(const char *name, int vocab, eef_model_config *out);
/* Replaces the 0 defaults (n_kv_heads, head_dim) by their values. */
void eef_model_config_resolve(eef_model_config *c);
eef_err eef_model_config_check(const eef_model_config *c);
size_t eef_model_n_params(const eef_model_config *c);

/* Named views into the trainable parameter buffer (or into the gradient /
 * moment buffers, which share the layout).  Per-layer tensors are stacked:
 * layer l of attn_norm is attn_norm + l * D.  With Q = H hd, K = Hkv hd
 * and W = Q + 2K (Q = K = D for eef's presets): */
typedef struct {
    float *wte;       /* [V, D]     token embedding */
    float *attn_norm; /* [L, D]     RMSNorm gains before attention */
    float *wqkv;      /* [L, W, D]  query, key, value projections (rows q | k | v) */
    float *wo;        /* [L, D, Q]  attention output projection */
    float *mlp_norm;  /* [L, D]     RMSNorm gains before the MLP */
    float *w13;       /* [L, 2F, D] SwiGLU gate (rows 0..F) and up (rows F..2F) */
    float *w2;        /* [L, D, F]  SwiGLU down projection */
    float *out_norm;  /* [D]        final RMSNorm gain */
    float *head;      /* [V, D]     output head (== wte when tied) */
    float *bqkv;      /* [L, W]     q | k | v biases (NULL without qkv_bias) */
    float *q_norm;    /* [L, hd]    per-head RMSNorm gains of q (NULL without qk_norm) */
    float *k_norm;    /* [L, hd]    ... and of k */
} eef_weights;

void eef_weights_view(const eef_model_config *c, float *base, eef_weights *w);

/* ------------------------------------------------------------ model
 * What the forward pass reads, per layer: for a trainable model these are
 * views into `params` (through `w`); for a frozen one they point into the
 * mapped weight files or into converted copies, and `params` is NULL. */
typedef struct {
    const float *attn_norm;       /* [D] */
    eef_tensor wq, wk, wv;        /* [Q, D], [K, D], [K, D] */
    const float *bqkv;            /* [W] or NULL */
    const float *q_norm, *k_norm; /* [hd] or NULL */
    eef_tensor wo;                /* [D, Q] */
    const float *mlp_norm;        /* [D] */
    eef_tensor w1, w3, w2;        /* gate [F, D], up [F, D], down [D, F] */
} eef_layer_weights;

/* Where a model came from and what its generation config says. */
typedef struct {
    char arch[16];     /* "eef", "llama", "mistral", "qwen2", "qwen3" */
    int bos_id;        /* -1: none known */
    int eos_ids[8];    /* generation stops after any of these */
    int n_eos;
} eef_model_meta;

typedef struct eef_acts eef_acts;
typedef struct nn_store nn_store;
typedef struct eef_lora eef_lora;

typedef struct {
    eef_model_config cfg; /* resolved: n_kv_heads and head_dim set */
    eef_model_meta meta;
    /* the weights the forward pass reads */
    eef_tensor embed;     /* [V, D] */
    const float *out_norm;
    eef_tensor head;      /* [V, D] (the embedding when tied) */
    eef_layer_weights *layer; /* [L] */
    /* the trainable parameters: one f32 buffer; 0 / NULL when frozen */
    size_t n_params;
    float *params;        /* [n_params] */
    eef_weights w;
    float *grads;         /* [n_params], NULL until training */
    eef_weights g;
    eef_tokenizer *tok;   /* owned; may be NULL (unit tests; an imported model
                           * until the Hugging Face tokenizer is wired in) */
    eef_acts *acts;       /* training activations, sized on first use */
    nn_store *store;      /* memory of frozen weights: file mappings, copies */
    eef_lora *lora;       /* attached adapters (not owned) or NULL: when set, the
                           * forward pass adds them and training trains them
                           * alone (eef_lora_attach) */
    int checkpoint;       /* 1: training keeps only each layer's input and
                           * recomputes the layer in the backward pass */
} eef_model;

/* A new model with weights drawn from the seed (normal(0, 0.02); output
 * projections scaled by 1/sqrt(2L); biases 0, norm gains 1); takes
 * ownership of `tok`. */
eef_err eef_model_new(const eef_model_config *cfg, eef_tokenizer *tok, uint64_t seed,
                      eef_model **out);
void eef_model_free(eef_model *m);
/* Freezes the weights: matrices (embedding, projections, head) converted
 * to `dtype` (F32, F16 or BF16), norms and biases kept in f32, the
 * trainable buffer (and gradients, activations) released. */
eef_err eef_model_freeze(eef_model *m, eef_dtype dtype);
/* on: the model's BF16 and F32 matrices multiply in bf16 arithmetic
 * where the CPU has AVX-512 BF16 (returns 1 then, else 0 and nothing
 * changes); off: in f32 (16-bit weights widened), the default.  LoRA
 * tuning over a bf16 base turns it on, full fine-tuning with --bf16
 * (mixed precision: the weights, gradients and optimizer stay f32). */
int eef_model_bf16_products(eef_model *m, int on);

/* ------------------------------------------------------------ batches
 * A batch is B rows of T positions.  Several sequences may be packed in a
 * row; attention never crosses from one sequence (segment) to another and
 * rotary positions restart at each segment.  Position i predicts
 * targets[i] with loss weight mask[i] (0 or 1; padding has 0).
 */
typedef struct {
    int B, T;
    int *tokens;   /* [B*T] input token ids */
    int *targets;  /* [B*T] next-token ids */
    float *mask;   /* [B*T] loss weights */
    int *pos;      /* [B*T] position within its segment (0 at a segment start) */
    int n_seqs;    /* sequences packed into this batch */
} eef_batch;

eef_err eef_batch_alloc(eef_batch *b, int B, int T);
void eef_batch_free(eef_batch *b);
void eef_batch_clear(eef_batch *b); /* all padding */

/* One training sequence: tokens t_0..t_{n-1} and per-token loss weights
 * m_0..m_{n-1}; m_i says whether t_i is predicted (so m_0 is ignored). */
typedef struct {
    const int *tokens;
    const float *mask;
    int n;
} eef_seq;

/* Packs sequences [*next, n) greedily into the batch rows (first fit in
 * order), advancing *next past the ones packed.  A sequence longer than T
 * is cut to its last T tokens (the start of the context is dropped). */
void eef_batch_pack(eef_batch *b, const eef_seq *seqs, size_t n, size_t *next);

/* ------------------------------------------------------------ training */
/* Forward pass over the batch.  Returns in *loss the masked mean
 * cross-entropy  -sum m_i log p(targets_i) / sum m_i  (0 if no mask).  If
 * `logits` is not NULL it receives [B*T, V] logits for every position
 * (tests, evaluation); else logits are computed only where mask != 0. */
eef_err eef_model_forward(eef_model *m, const eef_batch *b, float *logits, double *loss);
/* Backward pass of the last forward: ADDS d(loss * scale)/d(params) to
 * m->grads.  With gradient accumulation over k micro-batches, pass
 * scale = mask_count(batch) / mask_count(all k batches) so the sum is the
 * gradient of the global masked mean. */
eef_err eef_model_backward(eef_model *m, float scale);
/* With adapters attached (m->lora), the backward pass adds to the
 * adapters' gradients only, and zero_grad zeroes those. */
void eef_model_zero_grad(eef_model *m);
double eef_batch_mask_count(const eef_batch *b);
/* Objectives on sequence log-probabilities (DPO): after a forward pass,
 * out[n] = log p(targets[n]) at the [B*T] positions with mask != 0 (0
 * elsewhere); then the backward ADDS d(sum_n coef[n] log p(targets[n]))
 * / d(params) over those positions. */
eef_err eef_model_token_logprobs(const eef_model *m, float *out);
eef_err eef_model_backward_weighted(eef_model *m, const float *coef);

/* ------------------------------------------------------------ DPO
 * Direct preference optimization over sequence pairs (nn/dpo.c), as ETO
 * trains on (expert win, agent failure) trajectory pairs.  With lp(s) the
 * mask-weighted sum of log p over a sequence's tokens (the mask: 1 on
 * action tokens), per pair
 *   z = beta ((lp(chosen) - ref_chosen) - (lp(rejected) - ref_rejected)),
 *   loss = -log sigmoid(z),
 * averaged over the pairs.  ref_*: the frozen reference model's lp of the
 * same sequences (eef_seq_logprobs), computed once.  Sequences are packed
 * in order into `b` (reused scratch; a sequence longer than b->T + 1 is
 * cut to its end, the same way for the reference and the policy). */
typedef struct {
    eef_seq chosen, rejected;
    double ref_chosen, ref_rejected;
} eef_dpo_pair;

typedef struct {
    double loss;                           /* mean -log sigmoid(z) */
    double accuracy;                       /* fraction of pairs with z > 0 */
    double margin;                         /* mean z / beta */
    double chosen_reward, rejected_reward; /* mean beta (lp - ref) */
} eef_dpo_stats;

/* out[i] = lp(seqs[i]) under m. */
eef_err eef_seq_logprobs(eef_model *m, const eef_seq *seqs, size_t n, eef_batch *b, double *out);
/* The loss over n pairs; unless scale is 0, ADDS scale * d(loss)/d(params)
 * to m->grads (one forward if all 2n sequences fit in b, else two). */
eef_err eef_dpo_loss(eef_model *m, const eef_dpo_pair *pairs, size_t n, double beta,
                     eef_batch *b, float scale, eef_dpo_stats *st);

/* AdamW with decoupled weight decay (not on norms), global-norm gradient
 * clipping, warmup then cosine (or linear) decay to lr * min_lr_frac. */
typedef struct {
    double lr, beta1, beta2, eps, weight_decay, clip;
    long warmup, total_steps;
    int cosine;      /* 1 cosine, 0 linear decay */
    double min_lr_frac;
} eef_adamw_config;

typedef struct {
    eef_adamw_config cfg;
    long step;       /* steps taken */
    size_t n;
    float *m, *v;    /* [n] first and second moments */
} eef_adamw;

void eef_adamw_defaults(eef_adamw_config *c);
eef_err eef_adamw_new(const eef_adamw_config *c, size_t n_params, eef_adamw **out);
void eef_adamw_free(eef_adamw *o);
double eef_adamw_lr(const eef_adamw *o); /* lr of the next step */
/* Clips the trainable set's gradients (the attached adapters' when
 * m->lora is set, else m->grads), applies one step; *grad_norm gets the
 * pre-clip norm. */
eef_err eef_adamw_step(eef_adamw *o, eef_model *m, double *grad_norm);

/* ------------------------------------------------------------ LoRA
 * Low-rank adapters (Hu et al. 2021) on the attention and MLP projections:
 * a projection y = x W^T becomes y = x W^T + s (x A^T) B^T with A [r, in],
 * B [out, r] and s = alpha / r.  W stays frozen in whatever dtype it has
 * (read through nn_matmul only, so f32, bf16 and the GGUF types all work);
 * only A and B are trained: the backward pass computes no weight gradient
 * of the base, only what flows through it to earlier layers.  A starts
 * uniform(-1/sqrt(in), 1/sqrt(in)) (PEFT's kaiming_uniform(a = sqrt 5)),
 * B at 0, so a new adapter leaves the model unchanged.
 *
 * Defaults: rank 16, alpha = 2 rank (s = 2), all seven projections:
 * QLoRA (Dettmers et al. 2023) found adapters on every linear layer needed
 * to match full fine-tuning, where q and v alone (PEFT's default for
 * Llama) fall short; the extra adapters cost 2.3x the parameters of q,v
 * alone, still under 2% of a 135M model at rank 16.
 */
typedef enum {
    EEF_LORA_Q, EEF_LORA_K, EEF_LORA_V, EEF_LORA_O, EEF_LORA_GATE, EEF_LORA_UP, EEF_LORA_DOWN,
    EEF_LORA_N
} eef_lora_target;
#define EEF_LORA_ALL ((1u << EEF_LORA_N) - 1)

typedef struct {
    int rank;         /* r */
    float alpha;      /* scale s = alpha / r */
    unsigned targets; /* bit t set: projection t has an adapter */
} eef_lora_config;

/* One adapted projection of one layer: offsets of A and B in the buffers. */
typedef struct {
    int in, out;      /* W is [out, in] */
    size_t a, b;      /* A at params + a ([r, in]), B at params + b ([out, r]) */
} eef_lora_mat;

struct eef_lora {
    eef_lora_config cfg;
    float scale;
    int n_layers;
    eef_lora_mat *mat;  /* [n_layers * EEF_LORA_N]; in == 0 where not targeted */
    size_t n_params;
    float *params;      /* [n_params]: every A and B, layer by layer, target by target */
    float *grads;       /* [n_params] */
};

void eef_lora_defaults(eef_lora_config *c); /* rank 16, alpha 32, all targets */
/* "q,k,v,o,gate,up,down" (any subset, comma-separated; "all") -> bits. */
eef_err eef_lora_parse_targets(const char *list, unsigned *out);
/* PEFT's module names: "q_proj", ..., "down_proj". */
const char *eef_lora_module_name(eef_lora_target t);
/* Adapters for a model of config c, A drawn from the seed, B = 0. */
eef_err eef_lora_new(const eef_model_config *c, const eef_lora_config *lc, uint64_t seed,
                     eef_lora **out);
void eef_lora_free(eef_lora *a);
/* Attaches (a != NULL, shapes checked against m) or detaches (NULL). */
eef_err eef_lora_attach(eef_model *m, eef_lora *a);
/* PEFT's layout in directory dir: adapter_config.json (r, lora_alpha,
 * target_modules, ...; base_model_name_or_path = base, may be NULL) and
 * adapter_model.safetensors (F32, "base_model.model.model.layers.N.
 * self_attn.q_proj.lora_A.weight" ...), q/k's B rows in Hugging Face's
 * rotate_half order whatever the model's layout.  Written atomically,
 * the config last. */
eef_err eef_lora_save(const eef_lora *a, const eef_model_config *c, const char *base,
                      const char *dir);
/* Reads what eef_lora_save (or PEFT's save_pretrained, for LoRA without
 * DoRA, rsLoRA, patterns or extra modules) wrote, for a model of config c;
 * F32, F16 or BF16 tensors. */
eef_err eef_lora_load(const char *dir, const eef_model_config *c, eef_lora **out);
/* W += s B A for every adapted projection; a frozen W gets a merged copy
 * in its own dtype (rounded, as PEFT's merge_and_unload), a trainable one
 * is changed in place.  Leaves no adapters attached to m (merged ones
 * must not be added a second time). */
eef_err eef_lora_merge(eef_model *m, const eef_lora *a);
/* A LoRA training run's resume point, one file (.eefl, written
 * atomically): the adapters and the optimizer (config, step, moments),
 * with magic, version and CRC-32.  Loading checks them and the sizes
 * against the model config before trusting anything. */
eef_err eef_lora_state_save(const eef_lora *a, const eef_adamw *o, const char *path);
eef_err eef_lora_state_load(const char *path, const eef_model_config *c, eef_lora **a,
                            eef_adamw **o);

/* ------------------------------------------------------------ the train step
 * What every training loop calls: zero the trainable set's gradients,
 * forward, backward, one AdamW step.  The trainable set is `lora` when it
 * is not NULL (attached for the step; the base stays frozen), else the
 * model's own parameters (full fine-tuning).  The optimizer must have
 * been made for that set's size (eef_train_n_params). */
eef_err eef_train_step(eef_model *m, eef_lora *lora, eef_adamw *opt, const eef_batch *b,
                       double *loss, double *grad_norm);
size_t eef_train_n_params(const eef_model *m, const eef_lora *lora);

/* ------------------------------------------------------------ training memory
 * The bytes a training run needs, computed from the shapes before
 * anything is allocated (the activations with the very layout the
 * forward pass allocates).  Not counted: the data set and the tokenizer. */
typedef struct {
    double weights;   /* the base (in its dtype) + norms; f32 for full fine-tuning */
    double adapters;  /* LoRA A and B */
    double grads;     /* f32 gradients of the trainable set */
    double optim;     /* AdamW's two moments */
    double acts;      /* activations kept for the backward pass + its scratch */
    double logits;    /* logits of the M scored rows */
    double total;
    int checkpoint;   /* whether recomputation was assumed */
} eef_train_mem;

/* lora NULL: full fine-tuning (all weights f32); else adapters on a base
 * whose matrices are `base_dtype`.  B x T positions, M of them scored
 * (the output head and logits are computed on those rows alone). */
void eef_train_mem_estimate(const eef_model_config *c, eef_dtype base_dtype,
                            const eef_lora_config *lora, int B, int T, int M, int checkpoint,
                            eef_train_mem *out);
/* Bytes this process may still use: MemAvailable of /proc/meminfo (or
 * sysconf's available pages), capped by a cgroup v2 memory.max; the
 * environment variable EEF_MEM_AVAILABLE (bytes) replaces the figure. */
double eef_mem_available(void);
/* Picks recomputation when the plain run would not fit in `avail` bytes;
 * refuses (EEF_ENOMEM, with both figures and the breakdown) when neither
 * fits. */
eef_err eef_train_mem_plan(const eef_model_config *c, eef_dtype base_dtype,
                           const eef_lora_config *lora, int B, int T, int M, double avail,
                           eef_train_mem *out);

/* ------------------------------------------------------------ checkpoints
 * .eefm: magic "EEFM", version, config, tokenizer, raw little-endian
 * float32 weights, CRC-32 of everything before it.  Version 1 holds eef's
 * own architecture; version 2 adds the Llama-family fields of the config
 * and is written only for models that need them, so eef's own models
 * keep their version 1 bytes.  .eefo: magic "EEFO", version, optimizer
 * config and step, both moments, CRC-32.  Both written atomically.
 * Loading checks magic, version, sizes and checksum and says which file
 * is wrong and how.  A frozen model is saved with its weights in f32. */
eef_err eef_model_save(const eef_model *m, const char *path);
eef_err eef_adamw_save(const eef_adamw *o, const char *path);
eef_err eef_adamw_load(const char *path, size_t n_params, eef_adamw **out);

/* ------------------------------------------------------------ loading
 * One entry point for every model source:
 *   an .eefm file                   (nn/checkpoint.c)
 *   a Hugging Face model directory  (nn/hf.c: config.json, model.safetensors
 *                                    or its shards + index, generation_config.json)
 *   a GGUF file                     (nn/gguf.c, gguf_model.c: llama, qwen2, qwen3;
 *                                    F32, F16, BF16, Q8_0, Q4_K, Q5_K, Q6_K)  Every file is validated
 * before anything it claims is allocated; errors read "file: reason". */
typedef struct {
    int trainable;   /* 1: every weight copied to f32 into the trainable buffer */
    eef_dtype dtype; /* frozen matrices: EEF_DT_COUNT keeps the file's type
                      * (mapped from the file where its layout allows), or
                      * F32 / F16 / BF16 converts */
} eef_load_opts;

/* Defaults: an .eefm is loaded trainable (as training resumes from it), a
 * Hugging Face directory or GGUF file frozen with its own dtypes (GGUF:
 * dtype may also be a block type, the matrices quantized on load). */
eef_err eef_model_load(const char *path, eef_model **out);
eef_err eef_model_load_opts(const char *path, const eef_load_opts *o, eef_model **out);

/* ------------------------------------------------------------ export
 * The weights in a standard format for other runtimes (nn/export.c),
 * Llama tensor names, fused projections split:
 *   "gguf"         llama.cpp, float32 (eef_model_export_gguf for other
 *                  types): architecture llama, qwen2 (q/k/v biases) or
 *                  qwen3 (q/k norms), the tokenizer as tokenizer.ggml.*
 *   "safetensors"  one file, Hugging Face LlamaForCausalLM names, float32,
 *                  q/k rows in HF's rotate_half layout, config in __metadata__
 *   "hf"           a Hugging Face model directory (path is the directory):
 *                  config.json (llama, qwen2 or qwen3), model.safetensors in
 *                  the weights' own dtypes, generation_config.json; loadable
 *                  by transformers and by eef_model_load
 * Written atomically, file by file.  docs/serving.md has the details. */
eef_err eef_model_export(const eef_model *m, const char *format, const char *path);
/* GGUF with the matrices in `dtype` (F32, F16, BF16, Q8_0, Q4_K, Q5_K,
 * Q6_K; EEF_DT_COUNT: each its own), falling back to Q8_0 then F32 for
 * rows that are not whole blocks (nn/gguf_export.c). */
eef_err eef_model_export_gguf(const eef_model *m, eef_dtype dtype, const char *path);

/* ------------------------------------------------------------ inference
 * A KV cache for one sequence, used by one thread at a time.  Tokens are
 * appended with eef_kv_feed; scoring a set of alternative continuations
 * (a trie) does not modify the cache.
 */
typedef struct eef_kv eef_kv;

eef_err eef_kv_new(const eef_model *m, int capacity, eef_kv **out);
void eef_kv_free(eef_kv *kv);
void eef_kv_reset(eef_kv *kv);
int eef_kv_len(const eef_kv *kv);
void eef_kv_truncate(eef_kv *kv, int len); /* forget tokens from len on */
/* Appends tokens; if `logits` is not NULL it receives the [V] logits of the
 * last token. */
eef_err eef_kv_feed(eef_kv *kv, const int *tokens, int n, float *logits);
int eef_kv_capacity(const eef_kv *kv);
const eef_model *eef_kv_model(const eef_kv *kv);
/* The [V] logits after the cache's last token (NULL when not kept: an
 * empty or truncated cache); valid until the cache changes. */
const float *eef_kv_logits(const eef_kv *kv);
/* Shared prefixes: dst becomes the first len tokens of src (same model),
 * with src's logits when len is all of src.  The keys and values are
 * copied, not recomputed: continuing dst gives the bits that continuing
 * src would.  (A copy costs L * len * 2 Hkv hd floats of memory traffic;
 * feeding the prefix again costs its whole forward pass.) */
eef_err eef_kv_copy(eef_kv *dst, const eef_kv *src, int len);

/* ------------------------------------------------------------ batched decoding
 * Many sequences advanced in lockstep, one token each per step, in one
 * forward pass over their rows: the products with the weights become
 * matrix-matrix (the weights are read once per step, not once per
 * sequence), while each sequence attends to its own cache at its own
 * position.  The sequences are ordinary caches: a caller keeps a batch
 * full by giving a step whatever caches are decoding (an ended sequence's
 * cache is reset or refilled, e.g. with eef_kv_copy of a shared prefix,
 * and takes its place), and feeds prompts with eef_kv_feed.
 * Up to 32 sequences a step, each sequence's logits and cache are bit
 * for bit those eef_kv_feed of its token alone would give: a sequence's
 * result does not depend on the batch it was decoded in. */
typedef struct eef_kvb eef_kvb; /* buffers for steps of up to max_seqs rows */
eef_err eef_kvb_new(const eef_model *m, int max_seqs, eef_kvb **out);
void eef_kvb_free(eef_kvb *b);
/* Appends tokens[i] to kvs[i] (distinct caches of b's model) for i < n,
 * n <= max_seqs; logits (NULL: kept in the caches only) gets [n, V]. */
eef_err eef_kv_step(eef_kvb *b, eef_kv *const *kvs, const int *tokens, int n, float *logits);
/* The same with a cache in several rows (its tokens in order, each at
 * the position after its previous row's): prompts fed beside other
 * sequences' decoding.  Every row is computed as eef_kv_feed of its token
 * alone computes it, so a cache's bits depend only on its tokens, never
 * on how they were grouped into rows, steps or caches (eef_kv_copy of a
 * prefix is as good as feeding it).  Each cache's eef_kv_logits: those
 * after its last row (the other rows' are not computed). */
eef_err eef_kv_rows(eef_kvb *b, eef_kv *const *kvs, const int *tokens, int n);
/* n tokens (any number) into kv alone, eef_kv_rows of up to b's rows at a
 * time: the same bits as feeding them one by one with eef_kv_feed. */
eef_err eef_kv_feed_rows(eef_kvb *b, eef_kv *kv, const int *tokens, int n);

typedef struct {
    double temperature; /* 0: greedy */
    double top_p;       /* 1: no nucleus cut */
} eef_sampling;

/* Samples one token from logits (modified in place). */
int eef_sample_token(float *logits, int vocab, const eef_sampling *s, eef_rng *rng);

/* Unconstrained generation: feeds `prompt`, then samples up to max_new
 * tokens (stops after a token in stop[0..n_stop)); tokens appended to out. */
eef_err eef_generate(eef_kv *kv, const int *prompt, int n_prompt, int max_new,
                     const eef_sampling *s, const int *stop, int n_stop, eef_rng *rng,
                     int **out, size_t *n_out, size_t *cap_out);

/* ------------------------------------------------------------ constrained decoding
 * The allowed continuations are a set of token sequences (a trie) plus an
 * optional free-text slot: a token prefix after which any tokens may
 * follow until a token whose text contains `free_close` (e.g. "]").
 */
typedef struct eef_trie eef_trie;

eef_trie *eef_trie_new(void);
void eef_trie_free(eef_trie *t);
/* Adds one allowed sequence; `tag` is returned when it is chosen. */
eef_err eef_trie_add(eef_trie *t, const int *tokens, int n, int tag);
/* Marks a free-text slot after the given prefix. */
eef_err eef_trie_add_free(eef_trie *t, const int *prefix, int n, int tag);

typedef struct {
    int tag;              /* tag of the chosen sequence (the free slot's tag for free text) */
    int *tokens;          /* the chosen tokens (malloc'd) */
    int n;
    double logprob;       /* sum of log p over chosen tokens, under the constraint */
} eef_choice;

/* Chooses a continuation of the sequence in `kv`, token by token restricted
 * to the trie (greedy at temperature 0), generating free text with
 * `s` up to max_free tokens until a token containing `free_close` (the
 * text is cut right after it).  The chosen tokens are appended to the
 * cache.  `tok` decodes tokens for the free-text stop test. */
eef_err eef_decode_constrained(eef_kv *kv, const eef_trie *trie, const eef_tokenizer *tok,
                               const char *free_close, int max_free, const eef_sampling *s,
                               eef_rng *rng, eef_choice *out);
void eef_choice_free(eef_choice *c);

/* The same choice, one token at a time, for decoding many sequences in
 * lockstep.  eef_cdec_next chooses from `logits`, the sequence's logits
 * after its last token (eef_kv_logits(kv) at first); it sets *feed to the
 * token the caller must append to kv next (-1: none) and *done once the
 * choice is complete (nothing more to choose once *feed is appended).
 * Until then the caller calls it again with the logits after *feed.  The
 * same logits and rng give eef_decode_constrained's choice. */
typedef struct eef_cdec eef_cdec;
eef_err eef_cdec_new(const eef_kv *kv, const eef_trie *trie, const eef_tokenizer *tok,
                     const char *free_close, int max_free, const eef_sampling *s, eef_rng *rng,
                     eef_cdec **out);
eef_err eef_cdec_next(eef_cdec *c, const float *logits, int *feed, int *done);
/* The choice made (the tokens are then the caller's to free). */
void eef_cdec_take(eef_cdec *c, eef_choice *out);
void eef_cdec_free(eef_cdec *c);

/* Log-probabilities of every sequence in the trie after the cache's
 * content, in one forward pass with a tree attention mask; out[i] gets the
 * log-prob of the i-th added sequence (free-text slots get the prefix's). */
eef_err eef_score_trie(eef_kv *kv, const eef_trie *trie, double *out);

/* ------------------------------------------------------------ runtime */
/* Sets up the math library for our threading (OpenBLAS single-threaded
 * inside our OpenMP regions).  Called by eef_model_new / load. */
void eef_nn_init(void);
/* Name of the matmul backend ("openblas" or "plain-c"). */
const char *eef_nn_backend(void);

#endif

/* lora.c: low-rank adapters on the projections (nn.h: LoRA).
 *
 * One f32 buffer holds every A [r, in] and B [out, r], layer by layer and
 * target by target (q, k, v, o, gate, up, down); the gradients are a
 * second buffer of the same layout, so the optimizer, zeroing and saving
 * are single calls, as for the model's own parameters.
 *
 * Forward, for a projection y = x W^T of N rows:  u = s x A^T [N, r],
 * y += u B^T.  Backward, given dy:  dB += dy^T u,  du = s dy B,
 * dA += du^T x,  dx += du A  (u is kept from the forward pass, scaled, so
 * dB needs no second scaling).  The base W is touched only by nn_matmul.
 *
 * On disk: PEFT's layout (adapter_config.json + adapter_model.safetensors),
 * Hugging Face names and rotary order, so transformers + peft load it.
 */
#include "nn_internal.h"
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const module_names[EEF_LORA_N] = { "q_proj", "k_proj",    "v_proj",
                                                      "o_proj", "gate_proj", "up_proj",
                                                      "down_proj" };
static const char *const short_names[EEF_LORA_N] = { "q", "k", "v", "o", "gate", "up", "down" };

const char *eef_lora_module_name(eef_lora_target t)
{
    return (unsigned)t < EEF_LORA_N ? module_names[t] : "?";
}

void eef_lora_defaults(eef_lora_config *c)
{
    *c = (eef_lora_config){ .rank = 16, .alpha = 32, .targets = EEF_LORA_ALL };
}

eef_err eef_lora_parse_targets(const char *list, unsigned *out)
{
    unsigned bits = 0;
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        int found = 0;
        if (n == 3 && strncmp(p, "all", 3) == 0) bits |= EEF_LORA_ALL, found = 1;
        for (int t = 0; t < EEF_LORA_N && !found; t++)
            if ((strlen(short_names[t]) == n && strncmp(p, short_names[t], n) == 0) ||
                (strlen(module_names[t]) == n && strncmp(p, module_names[t], n) == 0))
                bits |= 1u << t, found = 1;
        if (!found)
            return eef_fail(EEF_EINVAL, "LoRA targets: unknown projection '%.*s' (q, k, v, o, gate, "
                            "up, down)", (int)n, p);
        p += n;
        if (*p == ',') p++;
    }
    if (!bits) return eef_fail(EEF_EINVAL, "LoRA targets: none given");
    *out = bits;
    return EEF_OK;
}

/* The shape [out, in] of projection t. */
static void target_shape(const eef_model_config *c, int t, int *in, int *out)
{
    const int D = c->d_model, F = c->d_ff, Q = c->n_heads * c->head_dim,
              K = c->n_kv_heads * c->head_dim;
    switch (t) {
    case EEF_LORA_Q: *in = D, *out = Q; break;
    case EEF_LORA_K: case EEF_LORA_V: *in = D, *out = K; break;
    case EEF_LORA_O: *in = Q, *out = D; break;
    case EEF_LORA_GATE: case EEF_LORA_UP: *in = D, *out = F; break;
    default: *in = F, *out = D; break;
    }
}

int nn_lora_slot(const eef_lora *a, int t)
{
    if (!(a->cfg.targets >> t & 1)) return -1;
    return __builtin_popcount(a->cfg.targets & ((1u << t) - 1));
}

void eef_lora_free(eef_lora *a)
{
    if (!a) return;
    eef_free_aligned(a->params);
    eef_free_aligned(a->grads);
    free(a->mat);
    free(a);
}

/* The shell: layout and zeroed buffers. */
static eef_err lora_alloc(const eef_model_config *cfg, const eef_lora_config *lc, eef_lora **out)
{
    *out = NULL;
    eef_model_config c = *cfg;
    eef_model_config_resolve(&c);
    if (lc->rank < 1 || lc->rank > 4096 || !(lc->alpha > 0) || !(lc->alpha < 1e6f) ||
        !lc->targets || (lc->targets & ~EEF_LORA_ALL))
        return eef_fail(EEF_EINVAL, "LoRA: rank %d (1..4096), alpha %g (> 0) or targets invalid",
                        lc->rank, (double)lc->alpha);
    eef_lora *a = eef_calloc(1, sizeof *a);
    if (!a) return EEF_ENOMEM;
    a->cfg = *lc;
    a->scale = lc->alpha / (float)lc->rank;
    a->n_layers = c.n_layers;
    a->mat = eef_calloc((size_t)c.n_layers * EEF_LORA_N, sizeof *a->mat);
    if (!a->mat) {
        eef_lora_free(a);
        return EEF_ENOMEM;
    }
    size_t off = 0, r = (size_t)lc->rank;
    for (int l = 0; l < c.n_layers; l++)
        for (int t = 0; t < EEF_LORA_N; t++) {
            if (!(lc->targets >> t & 1)) continue;
            eef_lora_mat *mt = &a->mat[l * EEF_LORA_N + t];
            target_shape(&c, t, &mt->in, &mt->out);
            mt->a = off, off += r * (size_t)mt->in;
            mt->b = off, off += (size_t)mt->out * r;
        }
    a->n_params = off;
    a->params = eef_alloc_aligned(off * sizeof(float));
    a->grads = eef_alloc_aligned(off * sizeof(float));
    if (!a->params || !a->grads) {
        eef_lora_free(a);
        return EEF_ENOMEM;
    }
    memset(a->params, 0, off * sizeof(float));
    memset(a->grads, 0, off * sizeof(float));
    *out = a;
    return EEF_OK;
}

eef_err eef_lora_new(const eef_model_config *c, const eef_lora_config *lc, uint64_t seed,
                     eef_lora **out)
{
    EEF_TRY(lora_alloc(c, lc, out));
    eef_lora *a = *out;
    for (int l = 0; l < a->n_layers; l++)
        for (int t = 0; t < EEF_LORA_N; t++) {
            const eef_lora_mat *mt = &a->mat[l * EEF_LORA_N + t];
            if (!mt->in) continue;
            /* one stream per matrix: the draws of one do not depend on
             * which others are targeted */
            eef_rng r = eef_rng_make(eef_rng_key(seed, EEF_STREAM_LORA_INIT, (uint64_t)l, (uint64_t)t));
            float bound = 1.0f / sqrtf((float)mt->in);
            float *A = a->params + mt->a;
            for (size_t i = 0; i < (size_t)a->cfg.rank * mt->in; i++)
                A[i] = bound * (float)(2.0 * eef_rng_uniform(&r) - 1.0);
        }
    return EEF_OK;
}

eef_err eef_lora_attach(eef_model *m, eef_lora *a)
{
    if (a) {
        const eef_model_config *c = &m->cfg;
        if (a->n_layers != c->n_layers)
            return eef_fail(EEF_EINVAL, "LoRA: adapters for %d layers, the model has %d",
                            a->n_layers, c->n_layers);
        for (int t = 0; t < EEF_LORA_N; t++) {
            const eef_lora_mat *mt = &a->mat[t];
            int in, out;
            target_shape(c, t, &in, &out);
            if (mt->in && (mt->in != in || mt->out != out))
                return eef_fail(EEF_EINVAL, "LoRA: %s adapter is for [%d, %d], the model's is [%d, %d]",
                                module_names[t], mt->out, mt->in, out, in);
        }
    }
    m->lora = a;
    return EEF_OK;
}

/* ------------------------------------------------------------ forward / backward
 * A call covers the adapted targets among t0..t1 of one projection (q, k,
 * v; gate, up; or one alone): they read the same x, and their slots are
 * consecutive, so their u are the columns [k0 r, (k0 + G) r) of the
 * layer's u [N, U] (U = slots x r) and their A stacked [G r, in] make one
 * product x A^T instead of G products of 16 columns.  From 17 rows on a
 * call is one parallel region, rows split over the threads (every step
 * but dA and dB is row-local), instead of a thread team per product. */

typedef struct {
    int n, k0, in, t[3]; /* targets adapted, first slot, input width */
    const eef_lora_mat *mt[3];
} lora_group;

static lora_group group_of(const eef_lora *a, int l, int t0, int t1)
{
    lora_group g = { 0 };
    for (int t = t0; t <= t1 && g.n < 3; t++)
        if (nn_lora_slot(a, t) >= 0) {
            if (!g.n) g.k0 = nn_lora_slot(a, t);
            g.mt[g.n] = &a->mat[l * EEF_LORA_N + t];
            g.t[g.n++] = t;
        }
    if (g.n) g.in = g.mt[0]->in;
    return g;
}

/* The group's A stacked [n r, in]: the buffer's own when n == 1, else
 * copied into *own (freed by the caller). */
static const float *stacked_a(const eef_lora *a, const lora_group *g, float **own)
{
    const size_t ra = (size_t)a->cfg.rank * g->in;
    *own = NULL;
    if (g->n == 1) return a->params + g->mt[0]->a;
    float *s = eef_malloc((size_t)g->n * ra * sizeof(float));
    if (!s) return NULL;
    for (int j = 0; j < g->n; j++) memcpy(s + j * ra, a->params + g->mt[j]->a, ra * sizeof(float));
    *own = s;
    return s;
}

/* Inside a parallel region: the calling thread's share [lo, hi) of n,
 * in units of 16 (rows of one sgemm call stay a multiple of 16). */
static void share16(int n, int *lo, int *hi)
{
    int units = (n + 15) / 16, ulo, uhi;
    nn_my_cols(units, &ulo, &uhi);
    *lo = ulo * 16 < n ? ulo * 16 : n;
    *hi = uhi * 16 < n ? uhi * 16 : n;
}

eef_err nn_lora_forward(const eef_lora *a, int l, int t0, int t1, const int *cols, float *y,
                        int ldy, const float *x, int ldx, int N, float *u)
{
    const lora_group g = group_of(a, l, t0, t1);
    if (!g.n || N <= 0) return EEF_OK;
    const int r = a->cfg.rank, U = __builtin_popcount(a->cfg.targets) * r, G = g.n * r;
    const float s = a->scale;
    float *ug = u + (size_t)g.k0 * r;
    float *own;
    const float *A = stacked_a(a, &g, &own);
    if (!A) return EEF_ENOMEM;
#pragma omp parallel if (N > 16)
    {
        int lo, hi;
        share16(N, &lo, &hi);
        if (hi > lo) {
            /* u = s x A^T for the whole group, then y_j += u_j B_j^T */
            nn_gemm(0, 1, hi - lo, G, g.in, s, x + (size_t)lo * ldx, ldx, A, g.in, 0.0f,
                    ug + (size_t)lo * U, U);
            for (int j = 0; j < g.n; j++)
                nn_gemm(0, 1, hi - lo, g.mt[j]->out, r, 1.0f, ug + (size_t)lo * U + j * r, U,
                        a->params + g.mt[j]->b, r, 1.0f, y + (size_t)lo * ldy + cols[g.t[j] - t0],
                        ldy);
        }
    }
    free(own);
    return EEF_OK;
}

eef_err nn_lora_backward(eef_lora *a, int l, int t0, int t1, const int *cols, float *dx, int ldx,
                         const float *dy, int ldy, const float *x, int ldx_in, const float *u,
                         float *du, int N)
{
    const lora_group g = group_of(a, l, t0, t1);
    if (!g.n || N <= 0) return EEF_OK;
    const int r = a->cfg.rank, U = __builtin_popcount(a->cfg.targets) * r, G = g.n * r,
              in = g.in;
    const float s = a->scale;
    const float *ug = u + (size_t)g.k0 * r;
    float *own, *dA = NULL;
    const float *A = stacked_a(a, &g, &own);
    if (A && g.n > 1) dA = eef_malloc((size_t)G * in * sizeof(float));
    if (!A || (g.n > 1 && !dA)) {
        free(own);
        return EEF_ENOMEM;
    }
#pragma omp parallel if (N > 16)
    {
        int lo, hi;
        share16(N, &lo, &hi);
        /* rows: du = s dy B [N, G], then dx += du A (all targets at once) */
        if (hi > lo) {
            for (int j = 0; j < g.n; j++)
                nn_gemm(0, 0, hi - lo, r, g.mt[j]->out, s,
                        dy + (size_t)lo * ldy + cols[g.t[j] - t0], ldy, a->params + g.mt[j]->b, r,
                        0.0f, du + (size_t)lo * G + j * r, G);
            nn_gemm(0, 0, hi - lo, in, G, 1.0f, du + (size_t)lo * G, G, A, in, 1.0f,
                    dx + (size_t)lo * ldx, ldx);
        }
        /* dB_j += dy_j^T u_j: B's rows split, each summed over all N on one thread */
        for (int j = 0; j < g.n; j++) {
            int o0, o1;
            share16(g.mt[j]->out, &o0, &o1);
            if (o1 > o0)
                nn_gemm(1, 0, o1 - o0, r, N, 1.0f, dy + cols[g.t[j] - t0] + o0, ldy, ug + j * r,
                        U, 1.0f, a->grads + g.mt[j]->b + (size_t)o0 * r, r);
        }
#pragma omp barrier
        /* dA += du^T x: A's columns split (du is whole now) */
        int c0, c1;
        share16(in, &c0, &c1);
        if (c1 > c0 && g.n == 1)
            nn_gemm(1, 0, r, c1 - c0, N, 1.0f, du, G, x + c0, ldx_in, 1.0f,
                    a->grads + g.mt[0]->a + c0, in);
        if (c1 > c0 && g.n > 1) {
            nn_gemm(1, 0, G, c1 - c0, N, 1.0f, du, G, x + c0, ldx_in, 0.0f, dA + c0, in);
            for (int j = 0; j < g.n; j++)
                for (int i = 0; i < r; i++) {
                    float *ga = a->grads + g.mt[j]->a + (size_t)i * in;
                    const float *d = dA + (size_t)(j * r + i) * in;
                    for (int c = c0; c < c1; c++) ga[c] += d[c];
                }
        }
    }
    free(own);
    free(dA);
    return EEF_OK;
}

/* ------------------------------------------------------------ merge */
eef_err eef_lora_merge(eef_model *m, const eef_lora *a)
{
    EEF_TRY(eef_lora_attach(m, (eef_lora *)a));
    m->lora = NULL;
    const int r = a->cfg.rank;
    for (int l = 0; l < a->n_layers; l++) {
        eef_layer_weights *w = &m->layer[l];
        eef_tensor *dst[EEF_LORA_N] = { &w->wq, &w->wk, &w->wv, &w->wo, &w->w1, &w->w3, &w->w2 };
        for (int t = 0; t < EEF_LORA_N; t++) {
            const eef_lora_mat *mt = &a->mat[l * EEF_LORA_N + t];
            if (!mt->in) continue;
            eef_tensor *W = dst[t];
            const nn_dtype_ops *ops = nn_dtype_ops_of(W->dtype);
            int in_place = m->params && W->dtype == EEF_DT_F32;
            if (!in_place && (!ops || !ops->from_f32))
                return eef_fail(EEF_EINVAL, "LoRA merge: cannot write %s weights",
                                eef_dtype_name(W->dtype));
            size_t rb = eef_dtype_row_bytes(W->dtype, W->cols);
            unsigned char *copy = in_place ? NULL : nn_store_alloc(m, (size_t)W->rows * rb);
            float *row = eef_malloc((size_t)W->cols * sizeof(float));
            if ((!in_place && !copy) || !row) {
                free(row);
                return EEF_ENOMEM;
            }
            const float *A = a->params + mt->a, *B = a->params + mt->b;
            for (int o = 0; o < W->rows; o++) {
                float *dst_row = in_place ? (float *)W->data + (size_t)o * W->cols : row;
                if (!in_place) nn_tensor_rows_f32(W, o, o + 1, row);
                /* row += s B[o, :] A, in double so the merge is one rounding */
                for (int i = 0; i < W->cols; i++) {
                    double acc = 0;
                    for (int k = 0; k < r; k++) acc += (double)B[(size_t)o * r + k] * A[(size_t)k * W->cols + i];
                    dst_row[i] = (float)((double)dst_row[i] + (double)a->scale * acc);
                }
                if (!in_place) ops->from_f32(row, copy + (size_t)o * rb, W->cols);
            }
            free(row);
            if (!in_place) W->data = copy;
        }
    }
    return EEF_OK;
}

/* ------------------------------------------------------------ PEFT files */
/* q/k rows of B permuted between the rotary layouts (per head of hd rows):
 * to_half: out row j < hd/2 <- 2j, hd/2 + j <- 2j + 1; else the inverse. */
static void permute_rows(float *dst, const float *src, int rows, int cols, int hd, int to_half)
{
    const int half = hd / 2;
    for (int r = 0; r < rows; r++) {
        int h = r / hd, j = r % hd;
        int from = to_half ? h * hd + (j < half ? 2 * j : 2 * (j - half) + 1)
                           : h * hd + (j % 2 == 0 ? j / 2 : half + j / 2);
        memcpy(dst + (size_t)r * cols, src + (size_t)from * cols, (size_t)cols * sizeof(float));
    }
}

static int needs_perm(const eef_model_config *c, int t)
{
    return c->rope_layout == EEF_ROPE_PAIRS && (t == EEF_LORA_Q || t == EEF_LORA_K);
}

static void tensor_name(char *out, size_t cap, int l, int t, int is_b)
{
    snprintf(out, cap, "base_model.model.model.layers.%d.%s.%s.lora_%c.weight", l,
             t <= EEF_LORA_O ? "self_attn" : "mlp", module_names[t], is_b ? 'B' : 'A');
}

static eef_err write_config(const eef_lora *a, const char *base, const char *path)
{
    eef_buf b;
    eef_buf_init(&b);
    int bad = eef_buf_puts(&b, "{\n  \"base_model_name_or_path\": ");
    if (base) {
        /* a JSON string: the path with its quotes and backslashes escaped */
        bad |= eef_buf_puts(&b, "\"");
        for (const char *p = base; *p; p++) {
            if (*p == '"' || *p == '\\') bad |= eef_buf_printf(&b, "\\%c", *p);
            else if ((unsigned char)*p < 0x20) bad |= eef_buf_printf(&b, "\\u%04x", *p);
            else bad |= eef_buf_append(&b, p, 1);
        }
        bad |= eef_buf_puts(&b, "\"");
    } else {
        bad |= eef_buf_puts(&b, "null");
    }
    bad |= eef_buf_printf(&b,
                          ",\n  \"bias\": \"none\",\n  \"fan_in_fan_out\": false,\n"
                          "  \"inference_mode\": true,\n  \"init_lora_weights\": true,\n"
                          "  \"layers_to_transform\": null,\n  \"lora_alpha\": %.9g,\n"
                          "  \"lora_dropout\": 0.0,\n  \"modules_to_save\": null,\n"
                          "  \"peft_type\": \"LORA\",\n  \"r\": %d,\n  \"revision\": null,\n"
                          "  \"target_modules\": [",
                          (double)a->cfg.alpha, a->cfg.rank);
    for (int t = 0, k = 0; t < EEF_LORA_N; t++)
        if (a->cfg.targets >> t & 1) bad |= eef_buf_printf(&b, "%s\"%s\"", k++ ? ", " : "", module_names[t]);
    bad |= eef_buf_puts(&b, "],\n  \"task_type\": \"CAUSAL_LM\",\n  \"use_dora\": false,\n"
                            "  \"use_rslora\": false\n}\n");
    eef_err e = bad ? EEF_ENOMEM : eef_write_file_atomic(path, b.data, b.len);
    eef_buf_free(&b);
    return e;
}

eef_err eef_lora_save(const eef_lora *a, const eef_model_config *cfg, const char *base,
                      const char *dir)
{
    eef_model_config c = *cfg;
    eef_model_config_resolve(&c);
    if (strlen(dir) > 3800) return eef_fail(EEF_EINVAL, "%s: directory name too long", dir);
    EEF_TRY(eef_mkdirs(dir));
    char path[4096];
    const size_t r = (size_t)a->cfg.rank;
    st_writer w;
    st_writer_init(&w);
    size_t max_b = 0;
    for (int l = 0; l < a->n_layers; l++)
        for (int t = 0; t < EEF_LORA_N; t++) {
            const eef_lora_mat *mt = &a->mat[l * EEF_LORA_N + t];
            if (!mt->in) continue;
            char name[128];
            uint64_t sa[2] = { r, (uint64_t)mt->in }, sb[2] = { (uint64_t)mt->out, r };
            tensor_name(name, sizeof name, l, t, 0);
            st_writer_add(&w, name, EEF_DT_F32, 2, sa, r * mt->in * 4);
            tensor_name(name, sizeof name, l, t, 1);
            st_writer_add(&w, name, EEF_DT_F32, 2, sb, (uint64_t)mt->out * r * 4);
            if ((size_t)mt->out * r > max_b) max_b = (size_t)mt->out * r;
        }
    float *perm = eef_malloc((max_b ? max_b : 1) * sizeof(float));
    static const char *const meta[] = { "format", "pt", "producer", ("eef " EEF_VERSION) };
    eef_afile af = { 0 };
    eef_err e = perm ? EEF_OK : EEF_ENOMEM;
    if (!e) e = eef_afile_open(&af, eef_path_join(path, sizeof path, dir, "adapter_model.safetensors"));
    if (!e) {
        e = st_writer_header(&w, meta, 2, &af);
        for (int l = 0; !e && l < a->n_layers; l++)
            for (int t = 0; !e && t < EEF_LORA_N; t++) {
                const eef_lora_mat *mt = &a->mat[l * EEF_LORA_N + t];
                if (!mt->in) continue;
                e = eef_afile_write(&af, a->params + mt->a, r * mt->in * sizeof(float));
                const float *B = a->params + mt->b;
                if (!e && needs_perm(&c, t)) {
                    permute_rows(perm, B, mt->out, (int)r, c.head_dim, 1);
                    B = perm;
                }
                if (!e) e = eef_afile_write(&af, B, (size_t)mt->out * r * sizeof(float));
            }
        e = e ? (eef_afile_abort(&af), e) : eef_afile_commit(&af);
    }
    free(perm);
    st_writer_free(&w);
    if (!e) e = write_config(a, base, eef_path_join(path, sizeof path, dir, "adapter_config.json"));
    if (e) return eef_fail_ctx(e, "saving adapters to %s", dir);
    return EEF_OK;
}

/* adapter_config.json -> rank, alpha, targets; refuses what eef does not
 * compute (DoRA, rsLoRA, per-module ranks, extra trained modules). */
static eef_err read_config(const char *path, eef_lora_config *lc)
{
    char *text;
    size_t len;
    EEF_TRY(eef_read_file(path, &text, &len));
    cJSON *j;
    eef_err e = eef_json_parse(text, len, path, &j);
    free(text);
    if (e) return e;
    const char *type = NULL;
    double r = 0, alpha = 0;
    const cJSON *tm = NULL;
    e = eef_json_str(j, "peft_type", path, &type);
    if (!e && strcmp(type, "LORA") != 0)
        e = eef_fail(EEF_EINVAL, "%s: peft_type %s is not LORA", path, type);
    if (!e) e = eef_json_num(j, "r", path, &r);
    if (!e) e = eef_json_num(j, "lora_alpha", path, &alpha);
    if (!e && (r != floor(r) || r < 1 || r > 4096 || !(alpha > 0) || !(alpha < 1e6)))
        e = eef_fail(EEF_EINVAL, "%s: r %g or lora_alpha %g out of range", path, r, alpha);
    static const char *const must_false[] = { "use_dora", "use_rslora", "fan_in_fan_out" };
    for (size_t i = 0; !e && i < EEF_ARRAY_LEN(must_false); i++)
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, must_false[i])))
            e = eef_fail(EEF_EINVAL, "%s: %s is not supported", path, must_false[i]);
    static const char *const must_empty[] = { "modules_to_save", "layers_to_transform",
                                              "rank_pattern", "alpha_pattern", "layer_replication" };
    for (size_t i = 0; !e && i < EEF_ARRAY_LEN(must_empty); i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, must_empty[i]);
        if (x && !cJSON_IsNull(x) && !((cJSON_IsObject(x) || cJSON_IsArray(x)) && !x->child))
            e = eef_fail(EEF_EINVAL, "%s: %s is not supported", path, must_empty[i]);
    }
    const cJSON *bias = cJSON_GetObjectItemCaseSensitive(j, "bias");
    if (!e && bias && !(cJSON_IsString(bias) && strcmp(bias->valuestring, "none") == 0))
        e = eef_fail(EEF_EINVAL, "%s: bias must be \"none\"", path);
    if (!e) e = eef_json_arr(j, "target_modules", path, &tm);
    unsigned bits = 0;
    for (const cJSON *x = tm ? tm->child : NULL; !e && x; x = x->next) {
        int found = -1;
        for (int t = 0; t < EEF_LORA_N && cJSON_IsString(x); t++)
            if (strcmp(x->valuestring, module_names[t]) == 0) found = t;
        if (found < 0)
            e = eef_fail(EEF_EINVAL, "%s: target module %s is not one of q_proj, k_proj, v_proj, "
                         "o_proj, gate_proj, up_proj, down_proj", path,
                         cJSON_IsString(x) ? x->valuestring : "(not a string)");
        else bits |= 1u << found;
    }
    if (!e && !bits) e = eef_fail(EEF_EINVAL, "%s: target_modules is empty", path);
    cJSON_Delete(j);
    if (e) return e;
    *lc = (eef_lora_config){ (int)r, (float)alpha, bits };
    return EEF_OK;
}

eef_err eef_lora_load(const char *dir, const eef_model_config *cfg, eef_lora **out)
{
    *out = NULL;
    eef_model_config c = *cfg;
    eef_model_config_resolve(&c);
    char path[4096];
    if (strlen(dir) > 3800) return eef_fail(EEF_EINVAL, "%s: directory name too long", dir);
    eef_lora_config lc;
    EEF_TRY(read_config(eef_path_join(path, sizeof path, dir, "adapter_config.json"), &lc));
    eef_path_join(path, sizeof path, dir, "adapter_model.safetensors");
    const unsigned char *map;
    size_t len;
    EEF_TRY(nn_map_file(path, &map, &len));
    st_file st;
    eef_err e = st_parse(map, len, path, &st);
    if (e) {
        nn_unmap_file(map, len);
        return e;
    }
    /* every tensor must be one eef expects: checked before allocating */
    for (size_t i = 0; !e && i < st.n; i++) {
        const st_tensor *t = &st.t[i];
        int l, n = 0;
        char kind[24] = "", mod[24] = "", ab = 0;
        if (sscanf(t->name, "base_model.model.model.layers.%d.%23[a-z_].%23[a-z_].lora_%c.weight%n",
                   &l, kind, mod, &ab, &n) != 4 || t->name[n] != '\0' || l < 0 ||
            l >= c.n_layers || (ab != 'A' && ab != 'B'))
            e = eef_fail(EEF_EINVAL, "%s: tensor %s is not a LoRA adapter of this model", path,
                         t->name);
        int tt = -1;
        for (int k = 0; !e && k < EEF_LORA_N; k++)
            if (strcmp(mod, module_names[k]) == 0 &&
                strcmp(kind, k <= EEF_LORA_O ? "self_attn" : "mlp") == 0)
                tt = k;
        if (!e && (tt < 0 || !(lc.targets >> tt & 1)))
            e = eef_fail(EEF_EINVAL, "%s: tensor %s is not among the config's target modules",
                         path, t->name);
        if (e) break;
        int in, o;
        target_shape(&c, tt, &in, &o);
        uint64_t want0 = ab == 'A' ? (uint64_t)lc.rank : (uint64_t)o,
                 want1 = ab == 'A' ? (uint64_t)in : (uint64_t)lc.rank;
        if (t->n_dims != 2 || t->shape[0] != want0 || t->shape[1] != want1)
            e = eef_fail(EEF_EINVAL, "%s: tensor %s should be [%llu, %llu]", path, t->name,
                         (unsigned long long)want0, (unsigned long long)want1);
        else if (t->dtype != EEF_DT_F32 && t->dtype != EEF_DT_F16 && t->dtype != EEF_DT_BF16)
            e = eef_fail(EEF_EINVAL, "%s: tensor %s is %s (F32, F16 or BF16 expected)", path,
                         t->name, t->dtype_name);
    }
    eef_lora *a = NULL;
    if (!e) e = lora_alloc(&c, &lc, &a);
    for (int l = 0; !e && l < a->n_layers; l++)
        for (int t = 0; !e && t < EEF_LORA_N; t++) {
            const eef_lora_mat *mt = &a->mat[l * EEF_LORA_N + t];
            if (!mt->in) continue;
            for (int ab = 0; !e && ab < 2; ab++) {
                char name[128];
                tensor_name(name, sizeof name, l, t, ab);
                const st_tensor *x = st_find(&st, name);
                if (!x) {
                    e = eef_fail(EEF_EINVAL, "%s: tensor %s is missing", path, name);
                    break;
                }
                float *dst = a->params + (ab ? mt->b : mt->a);
                size_t n = ab ? (size_t)mt->out * lc.rank : (size_t)lc.rank * mt->in;
                nn_dtype_ops_of(x->dtype)->to_f32(st.data + x->begin, dst, (int)n);
                if (ab && needs_perm(&c, t)) {
                    float *tmp = eef_malloc(n * sizeof(float));
                    if (!tmp) {
                        e = EEF_ENOMEM;
                        break;
                    }
                    memcpy(tmp, dst, n * sizeof(float));
                    permute_rows(dst, tmp, mt->out, lc.rank, c.head_dim, 0);
                    free(tmp);
                }
            }
        }
    st_free(&st);
    nn_unmap_file(map, len);
    if (e) {
        eef_lora_free(a);
        return e;
    }
    *out = a;
    return EEF_OK;
}

/* ------------------------------------------------------------ training state
 * "EEFL", u32 version 1, i32 rank, f32 alpha, u32 targets, i32 layers,
 * u64 n, the AdamW config (7 f64: lr, beta1, beta2, eps, weight_decay,
 * clip, min_lr_frac; u64 warmup, total_steps; i32 cosine), u64 step, then
 * n f32 each of the adapters, the first and the second moments, and the
 * CRC-32 of everything before it.  One file, written atomically: a run
 * killed at any point resumes from the last one whole. */
#define EEFL_VERSION 1u

static eef_err put(eef_afile *af, uint32_t *crc, const void *p, size_t n)
{
    *crc = eef_crc32(*crc, p, n);
    return eef_afile_write(af, p, n);
}

eef_err eef_lora_state_save(const eef_lora *a, const eef_adamw *o, const char *path)
{
    if (o->n != a->n_params)
        return eef_fail(EEF_EINVAL, "optimizer has %zu parameters, the adapters %zu", o->n,
                        a->n_params);
    eef_afile af = { 0 };
    EEF_TRY(eef_afile_open(&af, path));
    uint32_t crc = 0, ver = EEFL_VERSION, targets = a->cfg.targets;
    int32_t rank = a->cfg.rank, layers = a->n_layers, cosine = o->cfg.cosine;
    uint64_t n = a->n_params, u[3] = { (uint64_t)o->cfg.warmup, (uint64_t)o->cfg.total_steps,
                                       (uint64_t)o->step };
    const eef_adamw_config *c = &o->cfg;
    double d[7] = { c->lr, c->beta1, c->beta2, c->eps, c->weight_decay, c->clip, c->min_lr_frac };
    eef_err e = put(&af, &crc, "EEFL", 4);
    if (!e) e = put(&af, &crc, &ver, 4);
    if (!e) e = put(&af, &crc, &rank, 4);
    if (!e) e = put(&af, &crc, &a->cfg.alpha, 4);
    if (!e) e = put(&af, &crc, &targets, 4);
    if (!e) e = put(&af, &crc, &layers, 4);
    if (!e) e = put(&af, &crc, &n, 8);
    if (!e) e = put(&af, &crc, d, sizeof d);
    if (!e) e = put(&af, &crc, u, 16);
    if (!e) e = put(&af, &crc, &cosine, 4);
    if (!e) e = put(&af, &crc, &u[2], 8);
    if (!e) e = put(&af, &crc, a->params, n * sizeof(float));
    if (!e) e = put(&af, &crc, o->m, n * sizeof(float));
    if (!e) e = put(&af, &crc, o->v, n * sizeof(float));
    if (!e) e = eef_afile_write(&af, &crc, 4);
    return e ? (eef_afile_abort(&af), e) : eef_afile_commit(&af);
}

eef_err eef_lora_state_load(const char *path, const eef_model_config *c, eef_lora **out_a,
                            eef_adamw **out_o)
{
    *out_a = NULL, *out_o = NULL;
    char *data;
    size_t len;
    EEF_TRY(eef_read_file(path, &data, &len));
    const size_t head = 4 + 4 * 5 + 8 + 56 + 16 + 4 + 8;
    uint32_t ver = 0, targets = 0, crc = 0;
    int32_t rank = 0, layers = 0, cosine = 0;
    float alpha = 0;
    uint64_t n = 0, u[3];
    double d[7];
    eef_err e = EEF_OK;
    if (len < head + 4 || memcmp(data, "EEFL", 4) != 0)
        e = eef_fail(EEF_EFORMAT, "%s: not an eef LoRA training state (.eefl)", path);
    if (!e) {
        memcpy(&crc, data + len - 4, 4);
        if (eef_crc32(0, data, len - 4) != crc)
            e = eef_fail(EEF_EFORMAT, "%s: checksum mismatch (the file is damaged)", path);
    }
    if (!e) {
        const char *p = data + 4;
        memcpy(&ver, p, 4), p += 4;
        memcpy(&rank, p, 4), p += 4;
        memcpy(&alpha, p, 4), p += 4;
        memcpy(&targets, p, 4), p += 4;
        memcpy(&layers, p, 4), p += 4;
        memcpy(&n, p, 8), p += 8;
        memcpy(d, p, sizeof d), p += sizeof d;
        memcpy(u, p, 16), p += 16;
        memcpy(&cosine, p, 4), p += 4;
        memcpy(&u[2], p, 8);
        if (ver != EEFL_VERSION)
            e = eef_fail(EEF_EFORMAT, "%s: version %u (this eef reads %u)", path, ver, EEFL_VERSION);
    }
    eef_lora *a = NULL;
    eef_adamw *o = NULL;
    eef_lora_config lc = { rank, alpha, targets };
    if (!e) e = lora_alloc(c, &lc, &a);
    if (!e && (layers != a->n_layers || n != a->n_params || (len - head - 4) / 12 != n ||
               (len - head - 4) % 12 != 0))
        e = eef_fail(EEF_EFORMAT, "%s: adapters of %llu parameters for %d layers do not fit this "
                     "model", path, (unsigned long long)n, (int)layers);
    for (int i = 0; !e && i < 7; i++)
        if (!isfinite(d[i])) e = eef_fail(EEF_EFORMAT, "%s: optimizer setting %d is not finite", path, i);
    if (!e && (u[0] > (uint64_t)LONG_MAX || u[1] > (uint64_t)LONG_MAX || u[2] > (uint64_t)LONG_MAX ||
               (cosine != 0 && cosine != 1)))
        e = eef_fail(EEF_EFORMAT, "%s: optimizer schedule out of range", path);
    if (!e) {
        eef_adamw_config oc = { .lr = d[0], .beta1 = d[1], .beta2 = d[2], .eps = d[3],
                                .weight_decay = d[4], .clip = d[5], .min_lr_frac = d[6],
                                .warmup = (long)u[0], .total_steps = (long)u[1], .cosine = cosine };
        e = eef_adamw_new(&oc, n, &o);
        if (e) e = eef_fail_ctx(EEF_EFORMAT, "%s", path);
    }
    if (!e) {
        const char *p = data + head;
        o->step = (long)u[2];
        memcpy(a->params, p, n * 4), p += n * 4;
        memcpy(o->m, p, n * 4), p += n * 4;
        memcpy(o->v, p, n * 4);
    }
    free(data);
    if (e) {
        eef_lora_free(a);
        eef_adamw_free(o);
        return e;
    }
    *out_a = a, *out_o = o;
    return EEF_OK;
}

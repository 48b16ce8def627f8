/* train_mem.c: how much memory a training run needs, before it allocates
 * (nn.h: training memory).
 *
 * Every figure comes from the shapes the allocations use: the activation
 * buffer from nn_acts_floats (train.c's own layout), the attention's
 * per-thread scratch as attention.c sizes it, the logits of the scored
 * rows, the weights by dtype as the importer keeps them.  What a run
 * holds beyond that (the data, the tokenizer, the allocator's slack) is
 * small next to these at the sizes where the question matters, and is
 * what the tolerance of the test against measured peak RSS covers. */
#include "nn_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define QB 64   /* attention.c's query block */
#define TILE 64 /* matmul.c's converted weight tile rows */

static double mat_bytes(eef_dtype dt, int rows, int cols)
{
    return (double)rows * (double)eef_dtype_row_bytes(dt, cols);
}

void eef_train_mem_estimate(const eef_model_config *cfg, eef_dtype base_dtype,
                            const eef_lora_config *lora, int B, int T, int M, int checkpoint,
                            eef_train_mem *out)
{
    eef_model_config c = *cfg;
    eef_model_config_resolve(&c);
    memset(out, 0, sizeof *out);
    const int V = c.vocab, D = c.d_model, L = c.n_layers, F = c.d_ff, hd = c.head_dim;
    const int Q = c.n_heads * hd, K = c.n_kv_heads * hd, W = Q + 2 * K;
    const double n_params = (double)eef_model_n_params(&c);
    const double N = (double)B * T;
    int slots = 0, rank = 0;
    double trainable;
    if (lora) {
        eef_dtype dt = base_dtype;
        double mats = mat_bytes(dt, V, D) * (c.tied ? 1 : 2) +
                      (double)L * (mat_bytes(dt, W, D) + mat_bytes(dt, D, Q) +
                                   2 * mat_bytes(dt, F, D) + mat_bytes(dt, D, F));
        double vecs = 4.0 * ((2.0 * L + 1) * D + (c.qkv_bias ? (double)L * W : 0) +
                             (c.qk_norm ? 2.0 * L * hd : 0));
        out->weights = mats + vecs;
        double per_layer = 0;
        const int io[EEF_LORA_N][2] = { { D, Q }, { D, K }, { D, K }, { Q, D },
                                        { D, F }, { D, F }, { F, D } };
        for (int t = 0; t < EEF_LORA_N; t++)
            if (lora->targets >> t & 1) per_layer += (double)lora->rank * (io[t][0] + io[t][1]), slots++;
        trainable = per_layer * L;
        out->adapters = 4.0 * trainable;
        rank = lora->rank;
    } else {
        out->weights = 4.0 * n_params;
        trainable = n_params;
    }
    out->grads = 4.0 * trainable;
    out->optim = 8.0 * trainable;
    const double threads = nn_max_threads();
    int widest = D > F ? D : F;
    if (Q > widest) widest = Q;
    out->acts = 4.0 * (double)nn_acts_floats(&c, B * T, checkpoint != 0, slots, rank) +
                4.0 * N                                        /* rows scored */
                + 4.0 * (double)T * hd                         /* rotary tables */
                + threads * 4.0 * 2 * QB * T                   /* attention scratch */
                + (lora && base_dtype != EEF_DT_F32 ? threads * 4.0 * TILE * widest : 0);
    out->logits = 4.0 * (double)M * V;
    out->checkpoint = checkpoint != 0;
    out->total = out->weights + out->adapters + out->grads + out->optim + out->acts + out->logits;
}

/* "Key:   123 kB" of /proc/meminfo, in bytes; -1 if absent. */
static double meminfo(const char *key)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return -1;
    char line[256];
    double v = -1;
    size_t n = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && line[n] == ':') {
            v = strtod(line + n + 1, NULL) * 1024.0;
            break;
        }
    fclose(f);
    return v;
}

static double read_number(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char buf[64] = "";
    double v = -1;
    if (fgets(buf, sizeof buf, f) && strncmp(buf, "max", 3) != 0) v = strtod(buf, NULL);
    fclose(f);
    return v;
}

double eef_mem_available(void)
{
    const char *env = getenv("EEF_MEM_AVAILABLE"); /* a cap (tests; sharing a machine) */
    if (env && *env) return strtod(env, NULL);
    double avail = meminfo("MemAvailable");
    if (avail < 0) {
        long pages = sysconf(_SC_AVPHYS_PAGES), size = sysconf(_SC_PAGESIZE);
        avail = pages > 0 && size > 0 ? (double)pages * (double)size : 0;
    }
    double max = read_number("/sys/fs/cgroup/memory.max"),
           cur = read_number("/sys/fs/cgroup/memory.current");
    if (max > 0 && cur >= 0 && max - cur < avail) avail = max - cur;
    return avail;
}

#define GIB(x) ((x) / (1024.0 * 1024.0 * 1024.0))

eef_err eef_train_mem_plan(const eef_model_config *c, eef_dtype base_dtype,
                           const eef_lora_config *lora, int B, int T, int M, double avail,
                           eef_train_mem *out)
{
    eef_train_mem_estimate(c, base_dtype, lora, B, T, M, 0, out);
    if (out->total <= avail) return EEF_OK;
    eef_train_mem_estimate(c, base_dtype, lora, B, T, M, 1, out);
    if (out->total <= avail) return EEF_OK;
    return eef_fail(EEF_ENOMEM,
                    "%s needs %.2f GiB (weights %.2f, adapters %.3f, gradients %.2f, optimizer "
                    "%.2f, activations %.2f with recomputation, logits %.2f, at batch %d x %d) but "
                    "this machine has %.2f GiB available%s",
                    lora ? "LoRA training" : "full fine-tuning", GIB(out->total),
                    GIB(out->weights), GIB(out->adapters), GIB(out->grads), GIB(out->optim),
                    GIB(out->acts), GIB(out->logits), B, T, GIB(avail),
                    lora ? ": try a smaller --batch or --seq"
                         : ": try --lora, or a smaller --batch or --seq");
}

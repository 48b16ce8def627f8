/* student.c: the model a run tunes, and where each phase keeps it.
 *
 *   from scratch (no --model)   a new model of the preset; sft.eefm,
 *                               iter_N/model.eefm
 *   imported, --full            the base's weights in f32, all trained;
 *                               the same .eefm files (an .eefm holds any
 *                               Llama-family config and its tokenizer)
 *   imported, --lora R          the base stays frozen in its own dtype and
 *                               file; each phase trains and saves adapters
 *                               in PEFT's layout: sft.lora/,
 *                               iter_N/model.lora/ (adapter_config.json +
 *                               adapter_model.safetensors, the base's
 *                               absolute path inside, so `eef export
 *                               --merge DIR` finds it)
 *
 * An imported base is identified in base.json (architecture, sizes, a
 * hash of its weight files): a run resumed, or taken --from, with another
 * base stops with both named. */
#include "run_internal.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int run_student_lora(const run_ctx *r) { return r->c->base_model[0] && r->c->lora.rank > 0; }

const char *run_model_path(const run_ctx *r, int iter, run_path *p)
{
    if (run_student_lora(r))
        return iter == 0 ? run_file(r, p, "sft.lora") : run_file(r, p, "iter_%d/model.lora", iter);
    return iter == 0 ? run_file(r, p, "sft.eefm") : run_file(r, p, "iter_%d/model.eefm", iter);
}

void run_student_free(run_student *s)
{
    if (s->m) s->m->lora = NULL;
    eef_lora_free(s->lora);
    eef_model_free(s->m);
    memset(s, 0, sizeof *s);
}

/* The imported base: frozen (mapped, its dtypes) or all in f32 for full
 * fine-tuning; it must carry a tokenizer with a prompt eef can build (its
 * chat format, or eef's agent tokens). */
static eef_err load_base(const run_ctx *r, int trainable, eef_model **out)
{
    eef_load_opts lo = { .trainable = trainable, .dtype = EEF_DT_COUNT };
    EEF_TRY(eef_model_load_opts(r->c->base_model, &lo, out));
    const eef_tokenizer *t = (*out)->tok;
    const char *why = !t ? "it has no tokenizer"
                      : eef_tok_roles_of(t)->act < 0 && !eef_tok_chat_name(t)
                          ? "its tokenizer has neither a chat format nor eef's agent tokens"
                          : NULL;
    if (!why) {
        /* a frozen bf16 base multiplies in bf16 arithmetic where the CPU
         * can, as PyTorch runs a bf16 layer */
        if (!trainable && (*out)->layer[0].wq.dtype == EEF_DT_BF16) eef_model_bf16_products(*out, 1);
        return EEF_OK;
    }
    eef_model_free(*out);
    *out = NULL;
    return eef_fail(EEF_EINVAL, "%s: %s: no prompt to act and train in", r->c->base_model, why);
}

eef_err run_student_new(const run_ctx *r, uint64_t seed, run_student *s)
{
    memset(s, 0, sizeof *s);
    int lora = run_student_lora(r);
    EEF_TRY(load_base(r, !lora, &s->m));
    eef_err e = lora ? eef_lora_new(&s->m->cfg, &r->c->lora, seed, &s->lora) : EEF_OK;
    if (!e && lora) e = eef_lora_attach(s->m, s->lora);
    if (e) run_student_free(s);
    return e;
}

eef_err run_student_load(const run_ctx *r, int iter, run_student *s)
{
    memset(s, 0, sizeof *s);
    run_path p;
    if (!run_student_lora(r)) return eef_model_load(run_model_path(r, iter, &p), &s->m);
    EEF_TRY(load_base(r, 0, &s->m));
    eef_err e = eef_lora_load(run_model_path(r, iter, &p), &s->m->cfg, &s->lora);
    if (!e && (s->lora->cfg.rank != r->c->lora.rank || s->lora->cfg.targets != r->c->lora.targets))
        e = eef_fail(EEF_EFORMAT, "%s: adapters of rank %d, not the run's %d (or other targets)",
                     p.s, s->lora->cfg.rank, r->c->lora.rank);
    if (!e) e = eef_lora_attach(s->m, s->lora);
    if (e) run_student_free(s);
    return e;
}

eef_err run_student_save(const run_ctx *r, const run_student *s, int iter)
{
    run_path p;
    if (!s->lora) return run_save_model(s->m, run_model_path(r, iter, &p));
    if (!run_writer()) return EEF_OK;
    char abs[4096];
    const char *base = realpath(r->c->base_model, abs) ? abs : r->c->base_model;
    return eef_lora_save(s->lora, &s->m->cfg, base, run_model_path(r, iter, &p));
}

eef_err run_student_copy_sft(const run_ctx *r)
{
    if (!run_student_lora(r)) return run_copy_from_base(r, "sft.eefm");
    run_path p;
    if (run_writer()) EEF_TRY(eef_mkdirs(run_file(r, &p, "sft.lora")));
    /* the weights first, the config last: as eef_lora_save writes them */
    EEF_TRY(run_copy_from_base(r, "sft.lora/adapter_model.safetensors"));
    return run_copy_from_base(r, "sft.lora/adapter_config.json");
}

/* ------------------------------------------------------------ identity */
/* The files whose bytes are the base: a file itself; in a directory its
 * config.json and every *.safetensors, by name. */
static int weight_file(const char *name)
{
    size_t n = strlen(name);
    return strcmp(name, "config.json") == 0 ||
           (n > 12 && strcmp(name + n - 12, ".safetensors") == 0);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static eef_err hash_file(const char *path, const char *name, uint64_t *h)
{
    FILE *f = fopen(path, "rb");
    if (!f) return eef_fail(EEF_EIO, "%s: cannot open", path);
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = eef_malloc(CHUNK);
    if (!buf) {
        fclose(f);
        return EEF_ENOMEM;
    }
    *h = eef_hash_bytes(*h, name, strlen(name) + 1);
    size_t n;
    while ((n = fread(buf, 1, CHUNK, f)) > 0) *h = eef_hash_bytes(*h, buf, n);
    eef_err e = ferror(f) ? eef_fail(EEF_EIO, "%s: read error", path) : EEF_OK;
    fclose(f);
    free(buf);
    return e;
}

static eef_err hash_weights(const char *path, uint64_t *out)
{
    uint64_t h = EEF_HASH_START;
    struct stat st;
    if (stat(path, &st) != 0) return eef_fail(EEF_EIO, "%s: no such file or directory", path);
    if (!S_ISDIR(st.st_mode)) {
        EEF_TRY(hash_file(path, "", &h));
        *out = eef_hash64(h);
        return EEF_OK;
    }
    DIR *d = opendir(path);
    if (!d) return eef_fail(EEF_EIO, "%s: cannot list", path);
    char **names = NULL;
    size_t n = 0, cap = 0;
    eef_err e = EEF_OK;
    for (struct dirent *de; !e && (de = readdir(d));) {
        if (!weight_file(de->d_name)) continue;
        if (n == cap) {
            char **t = eef_realloc(names, (cap = cap ? 2 * cap : 16) * sizeof *names);
            if (!t) e = EEF_ENOMEM;
            else names = t;
        }
        if (!e && !(names[n] = eef_strdup(de->d_name))) e = EEF_ENOMEM;
        if (!e) n++;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; !e && i < n; i++) {
        char p[4200];
        e = hash_file(eef_path_join(p, sizeof p, path, names[i]), names[i], &h);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    *out = eef_hash64(h);
    return e;
}

/* base.json: what the base is (its path only for the reader: the rest is
 * compared). */
static eef_err base_identity(const run_ctx *r, cJSON **out)
{
    eef_model *m;
    EEF_TRY(eef_model_load(r->c->base_model, &m));
    uint64_t h = 0;
    eef_err e = hash_weights(r->c->base_model, &h);
    if (e) {
        eef_model_free(m);
        return e;
    }
    const eef_model_config *c = &m->cfg;
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
    char abs[4096];
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "format", "eef-base");
    cJSON_AddNumberToObject(j, "version", 1);
    cJSON_AddStringToObject(j, "path", realpath(r->c->base_model, abs) ? abs : r->c->base_model);
    cJSON_AddStringToObject(j, "arch", m->meta.arch);
    cJSON_AddNumberToObject(j, "vocab", c->vocab);
    cJSON_AddNumberToObject(j, "d_model", c->d_model);
    cJSON_AddNumberToObject(j, "n_layers", c->n_layers);
    cJSON_AddNumberToObject(j, "n_heads", c->n_heads);
    cJSON_AddNumberToObject(j, "n_kv_heads", c->n_kv_heads);
    cJSON_AddNumberToObject(j, "head_dim", c->head_dim);
    cJSON_AddNumberToObject(j, "d_ff", c->d_ff);
    cJSON_AddNumberToObject(j, "max_ctx", c->max_ctx);
    cJSON_AddNumberToObject(j, "params", (double)eef_model_n_params(c));
    cJSON_AddStringToObject(j, "weights_hash", hex);
    eef_model_free(m);
    *out = j;
    return EEF_OK;
}

/* "PATH (llama, 2 layers, D 32, vocab 151680, weights 0123...)" */
static double num_of(const cJSON *j, const char *k)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, k);
    return cJSON_IsNumber(f) ? f->valuedouble : -1;
}

static const char *str_of(const cJSON *j, const char *k)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, k));
    return s ? s : "?";
}

static void describe(const cJSON *j, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s (%s, %.0f layers, D %.0f, vocab %.0f, %.1fM parameters, weights %s)",
             str_of(j, "path"), str_of(j, "arch"), num_of(j, "n_layers"), num_of(j, "d_model"),
             num_of(j, "vocab"), num_of(j, "params") / 1e6, str_of(j, "weights_hash"));
}

/* Whether two identities are the same base (all but the path). */
static int same_base(const cJSON *a, const cJSON *b)
{
    for (const cJSON *it = a->child; it; it = it->next)
        if (strcmp(it->string, "path") != 0 &&
            !cJSON_Compare(it, cJSON_GetObjectItemCaseSensitive(b, it->string), 1))
            return 0;
    for (const cJSON *it = b->child; it; it = it->next)
        if (!cJSON_GetObjectItemCaseSensitive(a, it->string)) return 0;
    return 1;
}

/* dir's base.json against ours (NULL: this run has no imported base). */
static eef_err check_against(const char *dir, const char *what, const cJSON *ours)
{
    run_path p;
    run_path_in(dir, &p, "base.json");
    /* a run of a student trained from scratch has no base.json (nor a
     * "student" in its config: check_config or run_check_base says so) */
    if (!eef_file_exists(p.s)) return EEF_OK;
    cJSON *theirs;
    EEF_TRY(eef_json_read_file(p.s, &theirs));
    char a[1400], b[1400];
    describe(theirs, a, sizeof a);
    eef_err e = EEF_OK;
    if (!ours)
        e = eef_fail(EEF_EINVAL, "%s %s tunes the imported model %s: give it with --model", what,
                     dir, a);
    else if (!same_base(theirs, ours)) {
        describe(ours, b, sizeof b);
        e = eef_fail(EEF_EINVAL, "%s %s was made with the base model %s; --model is another: %s",
                     what, dir, a, b);
    }
    cJSON_Delete(theirs);
    return e;
}

eef_err run_check_base_model(const run_ctx *r)
{
    cJSON *ours = NULL;
    if (r->c->base_model[0]) EEF_TRY(base_identity(r, &ours));
    eef_err e = check_against(r->dir, "the run in", ours);
    if (!e && r->from) e = check_against(r->from, "--from", ours);
    run_path p;
    if (!e && ours && !eef_file_exists(run_file(r, &p, "base.json"))) e = run_save_json(p.s, ours);
    cJSON_Delete(ours);
    return e;
}

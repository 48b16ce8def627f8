/* fuzz_safetensors: safetensors files through the validating reader
 * (st_parse) and, with byte 0 bit 0 clear, through the whole Hugging Face
 * import of a directory whose config.json is fixed (a 1-layer qwen2 of
 * width 8: tests/fuzz/safetensors/ holds such a model), then one token
 * through the KV cache.  The rest of the input is the file.
 * Properties: no crash, leak, undefined behaviour or read outside the
 * file; a rejected file is EEF_EFORMAT (or ENOMEM) with a message that
 * starts with its path; an accepted header describes tensors inside the
 * data section, each span the size its shape and dtype say, none
 * overlapping, names unique and sorted; its tensors written back through
 * st_writer parse to the same list. */
#include "fuzz_util.h"

#include "nn/safetensors.h"

#include <sys/stat.h>

static const char config[] =
    "{\"model_type\": \"qwen2\", \"vocab_size\": 16, \"hidden_size\": 8, \"num_hidden_layers\": 1,"
    " \"num_attention_heads\": 2, \"num_key_value_heads\": 1, \"intermediate_size\": 8,"
    " \"max_position_embeddings\": 64, \"tie_word_embeddings\": false}";

static const int dsize[] = { [EEF_DT_F32] = 4, [EEF_DT_F16] = 2, [EEF_DT_BF16] = 2 };

static void check_header(const st_file *f, const uint8_t *file, size_t len)
{
    FUZZ_CHECK(f->data >= file && f->data + f->data_len == file + len);
    for (size_t i = 0; i < f->n; i++) {
        const st_tensor *t = &f->t[i];
        FUZZ_CHECK(t->begin <= t->end && t->end <= f->data_len);
        if (i) FUZZ_CHECK(strcmp(f->t[i - 1].name, t->name) < 0);
        if (t->dtype != EEF_DT_COUNT) {
            uint64_t n = 1;
            for (int d = 0; d < t->n_dims; d++) n *= t->shape[d];
            FUZZ_CHECK(n * (uint64_t)dsize[t->dtype] == t->end - t->begin);
        }
        for (size_t j = 0; j < i; j++) {
            const st_tensor *u = &f->t[j];
            if (t->begin == t->end || u->begin == u->end) continue;
            FUZZ_CHECK(t->end <= u->begin || u->end <= t->begin);
        }
    }
}

/* The accepted tensors (of eef's dtypes), written back and read again. */
static void rewrite(const st_file *f)
{
    st_writer w;
    st_writer_init(&w);
    size_t kept = 0;
    for (size_t i = 0; i < f->n; i++) {
        const st_tensor *t = &f->t[i];
        if (t->dtype == EEF_DT_COUNT || strpbrk(t->name, "\"\\") || strlen(t->name) > 200) continue;
        st_writer_add(&w, t->name, t->dtype, t->n_dims, t->shape, t->end - t->begin);
        kept++;
    }
    const char *path = fuzz_tmp_path(".back.safetensors");
    eef_afile af;
    FUZZ_CHECK(eef_afile_open(&af, path) == EEF_OK);
    static const char *const meta[] = { "format", "pt" };
    FUZZ_CHECK(st_writer_header(&w, meta, 1, &af) == EEF_OK);
    for (size_t i = 0; i < f->n; i++) {
        const st_tensor *t = &f->t[i];
        if (t->dtype == EEF_DT_COUNT || strpbrk(t->name, "\"\\") || strlen(t->name) > 200) continue;
        FUZZ_CHECK(eef_afile_write(&af, f->data + t->begin, t->end - t->begin) == EEF_OK);
    }
    FUZZ_CHECK(eef_afile_commit(&af) == EEF_OK);
    st_writer_free(&w);
    char *d;
    size_t n;
    FUZZ_CHECK(eef_read_file(path, &d, &n) == EEF_OK);
    st_file g;
    FUZZ_CHECK(st_parse((const unsigned char *)d, n, path, &g) == EEF_OK);
    FUZZ_CHECK(g.n == kept);
    for (size_t i = 0, k = 0; i < f->n; i++) {
        const st_tensor *t = &f->t[i];
        if (t->dtype == EEF_DT_COUNT || strpbrk(t->name, "\"\\") || strlen(t->name) > 200) continue;
        const st_tensor *u = &g.t[k++];
        FUZZ_CHECK(strcmp(t->name, u->name) == 0 && t->dtype == u->dtype && t->n_dims == u->n_dims);
        FUZZ_CHECK(memcmp(t->shape, u->shape, sizeof t->shape) == 0);
        FUZZ_CHECK(memcmp(f->data + t->begin, g.data + u->begin, t->end - t->begin) == 0);
    }
    st_free(&g);
    free(d);
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    if (size < 1) return 0;
    const uint8_t *file = data + 1;
    size_t len = size - 1;
    if (data[0] & 1) {
        st_file f;
        eef_err e = st_parse(file, len, "fuzz.safetensors", &f);
        if (e) {
            FUZZ_CHECK(e == EEF_EFORMAT || e == EEF_ENOMEM);
            FUZZ_CHECK(strncmp(eef_errmsg(), "fuzz.safetensors: ", 18) == 0);
            return 0;
        }
        check_header(&f, file, len);
        rewrite(&f);
        st_free(&f);
        return 0;
    }
    /* a model directory around the file */
    const char *dir = fuzz_tmp_path(".hf");
    mkdir(dir, 0755);
    char cfg[300], st[300];
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    snprintf(st, sizeof st, "%s/model.safetensors", dir);
    if (access(cfg, R_OK) != 0) fuzz_write(cfg, (const uint8_t *)config, strlen(config));
    fuzz_write(st, file, len);
    eef_model *m = NULL;
    eef_load_opts o = { .trainable = data[0] & 2 ? 1 : 0, .dtype = data[0] & 4 ? EEF_DT_BF16 : EEF_DT_COUNT };
    eef_err e = eef_model_load_opts(dir, &o, &m);
    if (e) {
        FUZZ_CHECK(e == EEF_EFORMAT || e == EEF_ENOMEM);
        FUZZ_CHECK(strncmp(eef_errmsg(), dir, strlen(dir)) == 0);
        return 0;
    }
    eef_kv *kv;
    FUZZ_CHECK(eef_kv_new(m, 8, &kv) == EEF_OK);
    int tok = 3;
    float logits[16];
    FUZZ_CHECK(eef_kv_feed(kv, &tok, 1, logits) == EEF_OK);
    eef_kv_free(kv);
    eef_model_free(m);
    return 0;
}

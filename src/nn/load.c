/* load.c: the one entry point that opens a model from any source, and the
 * memory frozen weights live in (file mappings, owned blocks). */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------ storage */
void *nn_store_alloc(eef_model *m, size_t n)
{
    nn_store *s = m->store;
    if (s->n_blocks == s->cap_blocks) {
        size_t cap = s->cap_blocks ? 2 * s->cap_blocks : 16;
        void **p = eef_realloc(s->blocks, cap * sizeof *p);
        if (!p) return NULL;
        s->blocks = p, s->cap_blocks = cap;
    }
    void *b = eef_alloc_aligned(n ? n : 1);
    if (b) s->blocks[s->n_blocks++] = b;
    return b;
}

eef_err nn_map_file(const char *path, const unsigned char **data, size_t *len)
{
    *data = NULL, *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return eef_fail(EEF_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return eef_fail(EEF_EIO, "%s: not a regular file", path);
    }
    if (st.st_size == 0) { /* nothing to map; the reader says it is too short */
        close(fd);
        static const unsigned char empty[1];
        *data = empty;
        return EEF_OK;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (p == MAP_FAILED) return eef_fail(EEF_EIO, "%s: cannot map: %s", path, strerror(err));
    *data = p, *len = (size_t)st.st_size;
    return EEF_OK;
}

void nn_unmap_file(const unsigned char *data, size_t len)
{
    if (data && len) munmap((void *)data, len);
}

eef_err nn_store_adopt_map(eef_model *m, const unsigned char *data, size_t len)
{
    nn_store *s = m->store;
    if (s->n_maps == s->cap_maps) {
        size_t cap = s->cap_maps ? 2 * s->cap_maps : 4;
        struct nn_map *p = eef_realloc(s->maps, cap * sizeof *p);
        if (!p) return EEF_ENOMEM;
        s->maps = p, s->cap_maps = cap;
    }
    s->maps[s->n_maps++] = (struct nn_map){ (void *)data, len };
    return EEF_OK;
}

void nn_store_free(nn_store *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n_blocks; i++) eef_free_aligned(s->blocks[i]);
    for (size_t i = 0; i < s->n_maps; i++) nn_unmap_file(s->maps[i].base, s->maps[i].len);
    free(s->blocks);
    free(s->maps);
    free(s);
}

/* ------------------------------------------------------------ loading */
eef_err eef_model_load_opts(const char *path, const eef_load_opts *o, eef_model **out)
{
    *out = NULL;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return nn_load_hf(path, o, out);
    /* a file: told apart by its magic */
    unsigned char magic[4] = { 0 };
    FILE *f = fopen(path, "rb");
    if (f) {
        size_t got = fread(magic, 1, 4, f);
        fclose(f);
        if (got == 4 && memcmp(magic, "GGUF", 4) == 0)
            return nn_load_gguf(path, o, out);
    }
    return nn_load_eefm(path, o, out);
}

eef_err eef_model_load(const char *path, eef_model **out)
{
    return eef_model_load_opts(path, NULL, out);
}

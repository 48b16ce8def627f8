/* safetensors.h: Hugging Face's safetensors format, read and written
 * (nn-internal).  A file is
 *   u64 N (little-endian), N bytes of JSON header, the data section;
 * the header maps tensor names to {"dtype", "shape", "data_offsets":
 * [begin, end]} (offsets into the data section) plus an optional
 * "__metadata__" object of strings. */
#ifndef EEF_NN_SAFETENSORS_H
#define EEF_NN_SAFETENSORS_H

#include "nn_internal.h"

#define ST_MAX_DIMS 8

typedef struct {
    char *name;
    char dtype_name[12]; /* as the file spells it */
    eef_dtype dtype;     /* EEF_DT_COUNT: a type eef does not compute with (I8, F64, ...) */
    int n_dims;
    uint64_t shape[ST_MAX_DIMS];
    uint64_t begin, end; /* byte span in the data section */
} st_tensor;

typedef struct {
    st_tensor *t; /* sorted by name */
    size_t n;
    const unsigned char *data; /* the data section */
    size_t data_len;
} st_file;

/* Validates the whole header of file[0..len) before it allocates
 * anything sized by the header's claims: the header length against the
 * file, the JSON, dtype names, shapes, data_offsets inside the data
 * section, no two tensors overlapping, shape x element size == byte span,
 * no duplicate names.  Errors read "path: reason". */
eef_err st_parse(const unsigned char *file, size_t len, const char *path, st_file *out);
void st_free(st_file *f);
const st_tensor *st_find(const st_file *f, const char *name);

/* Writing: a header built tensor by tensor, then the data in that order. */
typedef struct {
    eef_buf json;
    uint64_t off;
    int n;
    int oom;
} st_writer;

void st_writer_init(st_writer *w);
/* Adds a tensor of `bytes` bytes (its data is written later, in order). */
void st_writer_add(st_writer *w, const char *name, eef_dtype dt, int n_dims, const uint64_t *shape,
                   uint64_t bytes);
/* Closes the header (with __metadata__ pairs from meta[0..2n): key, value,
 * ...) and writes the length and header to af. */
eef_err st_writer_header(st_writer *w, const char *const *meta, int n_meta, eef_afile *af);
void st_writer_free(st_writer *w);

#endif

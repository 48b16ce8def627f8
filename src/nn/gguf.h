/* gguf.h: llama.cpp's GGUF files, read (gguf.c) and imported as a model
 * (gguf_model.c); nn-internal.
 *
 * A file (versions 2 and 3, little-endian):
 *   "GGUF", u32 version, u64 n_tensors, u64 n_kv,
 *   n_kv x (string key, u32 value type, value),
 *   n_tensors x (string name, u32 n_dims, u64 ne[n_dims] innermost first,
 *                u32 ggml type, u64 offset),
 *   padding to general.alignment (default 32), the data section; every
 *   tensor's offset (from the data section's start) is a multiple of the
 *   alignment.
 * A string is u64 length + bytes (no NUL); an array is u32 element type,
 * u64 count, the elements.  A matrix of PyTorch shape [rows, cols] has
 * ne = {cols, rows}. */
#ifndef EEF_NN_GGUF_H
#define EEF_NN_GGUF_H

#include "nn_internal.h"

enum {
    GG_UINT8, GG_INT8, GG_UINT16, GG_INT16, GG_UINT32, GG_INT32, GG_FLOAT32, GG_BOOL,
    GG_STRING, GG_ARRAY, GG_UINT64, GG_INT64, GG_FLOAT64, GG_NTYPES
};

/* ggml tensor types eef reads (the ids of ggml.h) */
enum { GGML_F32 = 0, GGML_F16 = 1, GGML_Q8_0 = 8, GGML_Q4_K = 12, GGML_Q5_K = 13, GGML_Q6_K = 14,
       GGML_BF16 = 30 };

typedef struct {
    const char *p; /* into the mapping; not NUL-terminated */
    size_t n;
} gg_str;

typedef struct {
    gg_str key;
    uint32_t type;
    union {
        uint64_t u;   /* unsigned integers, bool */
        int64_t i;    /* signed integers */
        double f;     /* floats */
        gg_str s;     /* GG_STRING */
        struct {
            uint32_t type;  /* element type */
            uint64_t n;
            const unsigned char *data; /* the first element */
        } a;          /* GG_ARRAY */
    } v;
} gg_kv;

typedef struct {
    gg_str name;
    uint32_t n_dims;
    uint64_t ne[4];     /* innermost first */
    uint32_t ggml_type;
    eef_dtype dtype;
    uint64_t offset;    /* in the data section */
    uint64_t bytes;
    const unsigned char *data;
} gg_tensor;

typedef struct {
    const char *path;
    uint32_t version;
    uint64_t alignment;
    size_t n_kv, n_tensors;
    gg_kv *kv;
    gg_tensor *t;
    const unsigned char *data; /* the data section */
} gg_file;

/* Validates the whole of file[0..len) before it allocates anything the
 * file claims (counts are checked against the bytes they need first):
 * magic, version, every key and value (string and array lengths inside
 * the file, known value types, nested arrays at most 4 deep, no duplicate
 * keys), general.alignment (a power of two), every tensor info (1 to 4
 * dims, none 0, whose product does not overflow; a type eef reads; rows
 * a whole number of blocks; offset aligned; data inside the file; no
 * duplicate names, no overlaps).  Errors read "path: reason". */
eef_err gg_parse(const unsigned char *file, size_t len, const char *path, gg_file *out);
void gg_free(gg_file *f);

const gg_kv *gg_get(const gg_file *f, const char *key);
const gg_tensor *gg_tensor_get(const gg_file *f, const char *name);
int gg_str_eq(gg_str s, const char *c);
/* A scalar integer value (any integer type or bool) in *out; 0 when the
 * value is not an integer or does not fit [lo, hi]. */
int gg_int(const gg_kv *kv, int64_t lo, int64_t hi, int64_t *out);
/* A float value (f32, f64 or an integer) in *out; 0 when it is none. */
int gg_float(const gg_kv *kv, double *out);
/* Element i of a string array (validated by gg_parse, so walking is safe;
 * O(i): callers walk arrays with gg_str_next). */
const unsigned char *gg_str_next(const unsigned char *p, gg_str *s);
/* Size in bytes of one element of a fixed-size value type, 0 otherwise. */
size_t gg_type_size(uint32_t t);
const char *gg_type_name(uint32_t t);

/* The model importer (gguf_model.c), behind eef_model_load_opts. */
eef_err nn_load_gguf(const char *path, const eef_load_opts *o, eef_model **out);

#endif

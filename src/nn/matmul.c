/* matmul.c: every matrix product goes through here.  OpenBLAS sgemm when
 * built with it (single-threaded: we split the work over our own OpenMP
 * threads, so BLAS threads and OpenMP threads never fight for the cores),
 * else a plain-C loop nest that computes the same products.  Weights of
 * other element types go through their kernels (nn_dtype_ops_of). */
#include "nn_internal.h"

#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef EEF_HAVE_BLAS
#include <cblas.h>
#endif

void eef_nn_init(void)
{
#ifdef EEF_HAVE_BLAS
    static int done;
    if (!done) {
        openblas_set_num_threads(1);
        done = 1;
    }
#endif
    nn_vec_select();
}

const char *eef_nn_backend(void)
{
#ifdef EEF_HAVE_BLAS
    return "openblas";
#else
    return "plain-c";
#endif
}

#ifndef EEF_HAVE_BLAS
/* C = beta*C + alpha * op(A) op(B), loops ordered so the innermost one
 * walks memory contiguously in the common cases. */
static void gemm_plain(int ta, int tb, int M, int N, int K, float alpha, const float *A,
                       int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    for (int m = 0; m < M; m++) {
        float *c = C + (size_t)m * ldc;
        if (beta == 0.0f) memset(c, 0, (size_t)N * sizeof(float));
        else if (beta != 1.0f)
            for (int n = 0; n < N; n++) c[n] *= beta;
    }
    if (!tb) {
        /* B rows are contiguous in n: axpy form */
        for (int m = 0; m < M; m++) {
            float *c = C + (size_t)m * ldc;
            for (int k = 0; k < K; k++) {
                float a = alpha * (ta ? A[(size_t)k * lda + m] : A[(size_t)m * lda + k]);
                if (a == 0.0f) continue;
                const float *b = B + (size_t)k * ldb;
                for (int n = 0; n < N; n++) c[n] += a * b[n];
            }
        }
    } else if (!ta) {
        /* both contiguous in k: dot form */
        for (int m = 0; m < M; m++) {
            const float *a = A + (size_t)m * lda;
            float *c = C + (size_t)m * ldc;
            for (int n = 0; n < N; n++) {
                const float *b = B + (size_t)n * ldb;
                float s = 0.0f;
                for (int k = 0; k < K; k++) s += a[k] * b[k];
                c[n] += alpha * s;
            }
        }
    } else {
        for (int m = 0; m < M; m++) {
            float *c = C + (size_t)m * ldc;
            for (int n = 0; n < N; n++) {
                float s = 0.0f;
                for (int k = 0; k < K; k++) s += A[(size_t)k * lda + m] * B[(size_t)n * ldb + k];
                c[n] += alpha * s;
            }
        }
    }
}
#endif

void nn_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) C[(size_t)m * ldc + n] *= beta;
        return;
    }
#ifdef EEF_HAVE_BLAS
    if (M == 1 && !ta) {
        /* one row (decoding a token): a matrix-vector product; sgemm's
         * packing costs more than the product itself */
        if (tb)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, alpha, B, ldb, A, 1, beta, C, 1);
        else
            cblas_sgemv(CblasRowMajor, CblasTrans, K, N, alpha, B, ldb, A, 1, beta, C, 1);
        return;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
    gemm_plain(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}

/* Splits [0, n) into the calling thread's contiguous share, in units of
 * `align` (so blocks stay SIMD-friendly). */
static void my_range(int n, int align, int *lo, int *hi)
{
#ifdef _OPENMP
    int nth = omp_get_num_threads(), tid = omp_get_thread_num();
#else
    int nth = 1, tid = 0;
#endif
    int units = (n + align - 1) / align;
    int per = units / nth, extra = units % nth;
    int u0 = tid * per + (tid < extra ? tid : extra);
    int u1 = u0 + per + (tid < extra ? 1 : 0);
    *lo = u0 * align < n ? u0 * align : n;
    *hi = u1 * align < n ? u1 * align : n;
}

static int n_threads(void)
{
#ifdef _OPENMP
    return omp_in_parallel() ? 1 : omp_get_max_threads();
#else
    return 1;
#endif
}

/* f32: y = x W^T with the rows of x split over the threads (in units of
 * 16 rows: up to 16 rows are one thread's, so no team is started), or W's
 * rows when they are the more (the output head over the scored rows:
 * OpenBLAS, 154 rows of SmolLM2-135M's 49152 x 576 head, one thread's half
 * 55-67 GFLOP/s as [77, 49152], 69-82 as [154, 24576]). */
static void f32_rows_beta(float *y, int ldy, const float *x, int ldx, const float *w, int N,
                          int NI, int NO, float beta)
{
#pragma omp parallel if (N > 16)
    {
        int lo, hi;
        if (N >= NO) {
            my_range(N, 16, &lo, &hi);
            if (hi > lo)
                nn_gemm(0, 1, hi - lo, NO, NI, 1.0f, x + (size_t)lo * ldx, ldx, w, NI, beta,
                        y + (size_t)lo * ldy, ldy);
        } else {
            my_range(NO, 16, &lo, &hi);
            if (hi > lo)
                nn_gemm(0, 1, N, hi - lo, NI, 1.0f, x, ldx, w + (size_t)lo * NI, NI, beta, y + lo,
                        ldy);
        }
    }
}

static void f32_rows(float *y, int ldy, const float *x, int ldx, const float *w, int N, int NI, int NO)
{
    f32_rows_beta(y, ldy, x, ldx, w, N, NI, NO, 0.0f);
}

void nn_matmul_add_f32(float *y, int ldy, const float *x, int ldx, const float *w, int N, int NI,
                       int NO)
{
    if (N > 0 && NO > 0) f32_rows_beta(y, ldy, x, ldx, w, N, NI, NO, 1.0f);
}

void mm_forward(float *out, const float *inp, const float *w, int N, int Din, int Dout)
{
    f32_rows(out, Dout, inp, Din, w, N, Din, Dout);
}

/* dinp (= or +=) dout W and dw += dout^T inp, f32. */
static void f32_backward(float *dinp, int ldi, float *dw, const float *dout, int ldo,
                         const float *inp, int ldx, const float *w, int N, int Din, int Dout,
                         float beta)
{
#pragma omp parallel
    {
        int lo, hi;
        /* dinp elements are independent: split N, or Din when it is the
         * longer (the head over few scored rows) */
        if (dinp && N >= Din) {
            my_range(N, 16, &lo, &hi);
            if (hi > lo)
                nn_gemm(0, 0, hi - lo, Din, Dout, 1.0f, dout + (size_t)lo * ldo, ldo, w, Din, beta,
                        dinp + (size_t)lo * ldi, ldi);
        } else if (dinp) {
            my_range(Din, 16, &lo, &hi);
            if (hi > lo)
                nn_gemm(0, 0, N, hi - lo, Dout, 1.0f, dout, ldo, w + lo, Din, beta, dinp + lo, ldi);
        }
        /* dw elements are independent: split its longer side (sgemm's
         * share of a thread then stays squarer: OpenBLAS, one thread,
         * dW [128, 384] over 4096 rows: 39-44 GFLOP/s split into [64, 384],
         * 50-52 into [128, 192]); each thread sums over all N in the same
         * order whatever the thread count */
        if (dw && Dout >= Din) {
            my_range(Dout, 16, &lo, &hi);
            if (hi > lo)
                nn_gemm(1, 0, hi - lo, Din, N, 1.0f, dout + lo, ldo, inp, ldx, 1.0f,
                        dw + (size_t)lo * Din, Din);
        } else if (dw) {
            my_range(Din, 16, &lo, &hi);
            if (hi > lo)
                nn_gemm(1, 0, Dout, hi - lo, N, 1.0f, dout, ldo, inp + lo, ldx, 1.0f, dw + lo, Din);
        }
    }
}

void mm_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                 int N, int Din, int Dout)
{
    f32_backward(dinp, Din, dw, dout, Dout, inp, Din, w, N, Din, Dout, 0.0f);
}

/* Up to this many rows of x (decoding: one token of each sequence of a
 * batch) go through the row kernel (nn_vec.dot_block): W is read once,
 * straight from memory, each block of 4 rows against every row of x.
 * sgemm would first copy W into packed panels, which at a few rows costs
 * more than the product (OpenBLAS, SmolLM2-135M shape, one thread:
 * 177 ms a step at 8 rows against 57 ms for one, when reading the f32
 * weights once takes 57 ms).  From about 32 rows on sgemm is the faster
 * (`small`'s 384 x 128 weight: 50 against 36 GFLOP/s at 16 rows, 43
 * against 62 at 64).  Each dot is summed the same way whatever the number
 * of rows, so a sequence decoded in a batch gets the bits it gets alone.
 * More rows (prefill, training) go to sgemm. */
#define FEW_ROWS 32

/* A weight of at least this many elements is split over the threads by
 * its rows in the row kernel (each thread reads its share of W once);
 * smaller ones (every matrix of eef's own presets) are not worth a
 * thread team, which is a barrier per product. */
#define SPLIT_W_MIN ((size_t)1 << 18)

enum { TILE = 64 }; /* rows of a converted weight tile */

/* y[n ldy + r] = <W row r, x row n> for rows [lo, hi) of W, n < N, 4 rows
 * at a time; 16-bit rows are widened (exactly) into `wide` [4, NI] first
 * (the widening prefetches ahead: vec_impl.h). */
static void few_rows(float *y, int ldy, const float *x, int ldx, int N, const eef_tensor *w,
                     int lo, int hi, float *wide)
{
    const nn_dtype_ops *ops = nn_dtype_ops_of(w->dtype);
    const size_t rb = eef_dtype_row_bytes(w->dtype, w->cols);
    const int NI = w->cols, f32 = w->dtype == EEF_DT_F32;
    for (int r = lo; r < hi; r += 4) {
        const int R = hi - r < 4 ? hi - r : 4;
        const char *blk = (const char *)w->data + (size_t)r * rb;
        const float *wf = (const float *)blk;
        if (!f32) {
            ops->to_f32(blk, wide, R * NI);
            wf = wide;
        }
        nn_vec.dot_block(y + r, ldy, x, ldx, N, wf, (size_t)NI, R, NI);
    }
}

eef_err nn_matmul(float *y, int ldy, const float *x, int ldx, const eef_tensor *w, int N)
{
    const int NO = w->rows, NI = w->cols;
    if (N <= 0 || NO <= 0) return EEF_OK;
    const nn_dtype_ops *ops = nn_dtype_ops_of(w->dtype);
    if (!ops) return eef_fail(EEF_EINVAL, "no kernels for %s weights", eef_dtype_name(w->dtype));
    /* the block types: their own integer products, any number of rows */
    if (ops->matmul) return ops->matmul(y, ldy, x, ldx, w->data, NO, NI, N);
    if (N <= FEW_ROWS) {
        int failed = 0;
#pragma omp parallel if (n_threads() > 1 && (size_t)NO * NI >= SPLIT_W_MIN) reduction(| : failed)
        {
            int lo, hi;
            my_range(NO, 16, &lo, &hi);
            float *wide = NULL;
            if (hi > lo && w->dtype != EEF_DT_F32) {
                wide = malloc((size_t)4 * NI * sizeof(float));
                failed = !wide;
            }
            if (hi > lo && !failed) few_rows(y, ldy, x, ldx, N, w, lo, hi, wide);
            free(wide);
        }
        return failed ? eef_fail(EEF_ENOMEM, "out of memory widening a %s weight", ops->name) : EEF_OK;
    }
    if (w->bf16_products) return nn_bf16mm(y, ldy, x, ldx, w->data, w->dtype, 1, NI, NO, N, 0.0f);
    if (w->dtype == EEF_DT_F32) {
        f32_rows(y, ldy, x, ldx, w->data, N, NI, NO);
        return EEF_OK;
    }
    /* many rows: tiles of W in f32, then sgemm; the threads share W's rows */
    int failed = 0;
#pragma omp parallel reduction(| : failed)
    {
        int lo, hi;
        my_range(NO, TILE, &lo, &hi);
        float *tile = hi > lo ? malloc((size_t)TILE * NI * sizeof(float)) : NULL;
        failed = hi > lo && !tile;
        for (int r = lo; tile && r < hi; r += TILE) {
            int nr = hi - r < TILE ? hi - r : TILE;
            nn_tensor_rows_f32(w, r, r + nr, tile);
            nn_gemm(0, 1, N, nr, NI, 1.0f, x, ldx, tile, NI, 0.0f, y + r, ldy);
        }
        free(tile);
    }
    return failed ? eef_fail(EEF_ENOMEM, "out of memory converting a %s weight", ops->name) : EEF_OK;
}

eef_err nn_matmul_backward(float *dx, int ldx, float *dw, const float *dy, int ldy,
                           const float *x, int ldx_in, const eef_tensor *w, int N, int accumulate)
{
    const int NO = w->rows, NI = w->cols;
    if (N <= 0 || NO <= 0) return EEF_OK;
    /* bf16 arithmetic: dx, and dw of an f32 W (mixed precision; a 16-bit
     * W asked for dw is refused below) */
    if (w->bf16_products && (w->dtype == EEF_DT_F32 || !dw)) {
        if (dx) EEF_TRY(nn_bf16mm(dx, ldx, dy, ldy, w->data, w->dtype, 0, NO, NI, N, accumulate ? 1.0f : 0.0f));
        return dw ? nn_bf16mm_grad(dw, dy, ldy, x, ldx_in, N, NO, NI) : EEF_OK;
    }
    if (w->dtype == EEF_DT_F32) {
        f32_backward(dx, ldx, dw, dy, ldy, x, ldx_in, w->data, N, NI, NO, accumulate ? 1.0f : 0.0f);
        return EEF_OK;
    }
    if (dw) return eef_fail(EEF_EINVAL, "%s weights cannot be trained", eef_dtype_name(w->dtype));
    if (!dx) return EEF_OK;
    if (!nn_dtype_ops_of(w->dtype))
        return eef_fail(EEF_EINVAL, "no kernels for %s weights", eef_dtype_name(w->dtype));
    /* dx rows split over threads; each converts W tile by tile */
    int failed = 0;
#pragma omp parallel reduction(| : failed)
    {
        int lo, hi;
        my_range(N, 16, &lo, &hi);
        float *tile = hi > lo ? malloc((size_t)TILE * NI * sizeof(float)) : NULL;
        failed = hi > lo && !tile;
        for (int r = 0; tile && r < NO; r += TILE) {
            int nr = NO - r < TILE ? NO - r : TILE;
            nn_tensor_rows_f32(w, r, r + nr, tile);
            float beta = (accumulate || r > 0) ? 1.0f : 0.0f;
            nn_gemm(0, 0, hi - lo, NI, nr, 1.0f, dy + (size_t)lo * ldy + r, ldy, tile, NI, beta,
                    dx + (size_t)lo * ldx, ldx);
        }
        free(tile);
    }
    return failed ? eef_fail(EEF_ENOMEM, "out of memory converting a weight") : EEF_OK;
}

int nn_tensor_join(const eef_tensor *const *w, int n, eef_tensor *out)
{
    *out = *w[0];
    for (int i = 1; i < n; i++) {
        size_t rb = eef_dtype_row_bytes(out->dtype, out->cols);
        if (w[i]->dtype != out->dtype || w[i]->cols != out->cols ||
            (const char *)w[i]->data != (const char *)out->data + (size_t)out->rows * rb)
            return 0;
        out->rows += w[i]->rows;
    }
    return 1;
}

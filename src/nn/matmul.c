/* matmul.c: every matrix product goes through here.  OpenBLAS sgemm when
 * built with it (single-threaded: we split the work over our own OpenMP
 * threads, so BLAS threads and OpenMP threads never fight for the cores),
 * else a plain-C loop nest that computes the same products. */
#include "nn_internal.h"

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

void mm_forward(float *out, const float *inp, const float *w, int N, int Din, int Dout)
{
#pragma omp parallel
    {
        int lo, hi;
        my_range(N, 16, &lo, &hi);
        if (hi > lo)
            nn_gemm(0, 1, hi - lo, Dout, Din, 1.0f, inp + (size_t)lo * Din, Din, w, Din, 0.0f,
                    out + (size_t)lo * Dout, Dout);
    }
}

void mm_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                 int N, int Din, int Dout)
{
#pragma omp parallel
    {
        int lo, hi;
        /* dinp rows are independent: split N */
        if (dinp) {
            my_range(N, 16, &lo, &hi);
            if (hi > lo)
                nn_gemm(0, 0, hi - lo, Din, Dout, 1.0f, dout + (size_t)lo * Dout, Dout, w, Din, 0.0f,
                        dinp + (size_t)lo * Din, Din);
        }
        /* dw rows (outputs) are independent: split Dout, each thread sums
         * over all N in the same order whatever the thread count */
        my_range(Dout, 16, &lo, &hi);
        if (hi > lo)
            nn_gemm(1, 0, hi - lo, Din, N, 1.0f, dout + lo, Dout, inp, Din, 1.0f, dw + (size_t)lo * Din,
                    Din);
    }
}

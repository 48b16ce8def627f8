/* vec.c: SIMD row kernels, built for three targets and chosen at run time.
 *
 * The default build targets x86-64-v2 (SSE4.2) so the binary runs
 * anywhere; the same kernels are also compiled for AVX2+FMA and for
 * AVX-512, and eef_nn_init() picks the widest the CPU supports
 * (__builtin_cpu_supports).  Results are identical run to run on one
 * machine; across machines the vector width changes summation order.
 * (Every CPU with AVX2 and FMA has F16C, so those targets widen f16 with it.) */
#include "quant.h"

#include <immintrin.h>

#define VSUF _base
#define VNAME "sse4.2"
#include "vec_impl.h"
#undef VSUF
#undef VNAME

#pragma GCC push_options
#pragma GCC target("avx2,fma,bmi2,f16c")
#define VSUF _avx2
#define VNAME "avx2"
#include "vec_impl.h"
#undef VSUF
#undef VNAME
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,bmi2,f16c,prefer-vector-width=512")
#define VSUF _avx512
#define VNAME "avx512"
#include "vec_impl.h"
#undef VSUF
#undef VNAME
#pragma GCC pop_options

nn_vec_ops nn_vec = nn_vec_ops_base;

void nn_vec_select(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        nn_vec = nn_vec_ops_avx512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        nn_vec = nn_vec_ops_avx2;
    else
        nn_vec = nn_vec_ops_base;
    nn_quant_select();
}

/* attention.c: causal self-attention inside packed segments.
 *
 * Work is cut into units (segment, head), spread over the OpenMP threads;
 * inside a unit, queries are processed in blocks of QB rows against the
 * keys they may see, with single-threaded sgemm for Q K^T and P V, so the
 * causal mask wastes at most one block.  The backward pass recomputes the
 * softmax from the saved log-sum-exp (as FlashAttention does) instead of
 * storing the T x T probabilities.
 *
 * Grouped-query attention: query head h reads key/value head h / G
 * (G = H / Hkv).  The backward pass works on units (segment, kv head) and
 * runs the G query heads of a group in order, so the gradients of a
 * shared key/value head are summed by one thread in a fixed order.
 */
#include "nn_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define QB 64


/* The products inside a unit are small (a block of QB queries, at most T
 * keys, hd = 32..128 values): sgemm spends more on packing its operands
 * and on its short loops than on the multiply-adds, so with AVX-512 and hd
 * a multiple of 16 they go to nn/tile.c's kernels (K^T and V^T packed
 * once per unit for them).  1: tiles where the CPU has them; 0: nn_gemm
 * always (the tests compare the two). */
int nn_attention_tiles = 1;

static int use_tiles(int hd)
{
    return nn_attention_tiles && hd % 16 == 0 && nn_tiles_ok();
}

/* Yt [hd, ldt] = Y^T for the L rows of Y, columns L..ldt-1 zero. */
static void transpose(float *Yt, int ldt, const float *Y, int ldy, int L, int hd)
{
    for (int d = 0; d < hd; d++) {
        float *t = Yt + (size_t)d * ldt;
        for (int j = 0; j < L; j++) t[j] = Y[(size_t)j * ldy + d];
        for (int j = L; j < ldt; j++) t[j] = 0.0f;
    }
}

/* Yp [L, hd]: the L rows of Y, contiguous (the tiles then read one
 * stream instead of a cache line per row) */
static void pack(float *Yp, const float *Y, int ldy, int L, int hd)
{
    for (int j = 0; j < L; j++) memcpy(Yp + (size_t)j * hd, Y + (size_t)j * ldy, (size_t)hd * sizeof(float));
}

/* The products of a block of R queries, the first at key q0 (nn_tile_*'s
 * diag): the tiles skip what the causal mask drops, sgemm computes it.
 *
 * S [R, nk] = alpha X Y^T (Yt: Y transposed, for the tiles); a row's
 * scores past its own key may be left unwritten */
static void scores(int tiles, float *S, int lds, const float *X, int ldx, const float *Y, int ldy,
                   const float *Yt, int ldt, int R, int nk, int hd, float alpha, int q0)
{
    if (tiles) {
        nn_tile_nt(S, lds, X, ldx, Yt, ldt, R, round16(nk), hd, alpha, q0);
        return;
    }
    nn_gemm(0, 1, R, nk, hd, alpha, X, ldx, Y, ldy, 0.0f, S, lds);
}

/* O [R, hd] = alpha P Y over nk keys (P zero past each row's key) */
static void mix(int tiles, float *O, int ldo, const float *P, int ldp, const float *Y, int ldy,
                int R, int nk, int hd, float alpha, int q0)
{
    if (tiles) {
        nn_tile_nn(O, ldo, P, ldp, Y, ldy, R, nk, hd, alpha, q0);
        return;
    }
    nn_gemm(0, 0, R, hd, nk, alpha, P, ldp, Y, ldy, 0.0f, O, ldo);
}

/* C [nk, hd] += alpha P^T X over R rows (P zero past each row's key) */
static void mix_t(int tiles, float *C, int ldc, const float *P, int ldp, const float *X, int ldx,
                  int R, int nk, int hd, float alpha, int q0)
{
    if (tiles) {
        nn_tile_tn(C, ldc, P, ldp, X, ldx, R, nk, hd, alpha, q0);
        return;
    }
    nn_gemm(1, 0, nk, hd, R, alpha, P, ldp, X, ldx, 1.0f, C, ldc);
}



typedef struct {
    int start, len, head;
} att_unit;

/* Lists (segment, head) units, largest segments first so the dynamic
 * schedule balances well.  A segment starts wherever pos == 0 and at each
 * row's start.  *max_len: the longest segment. */
static att_unit *make_units(const int *pos, int B, int T, int H, int *n_units, int *max_len)
{
    int n_seg = 0;
    for (int i = 0; i < B * T; i++) n_seg += pos[i] == 0 || i % T == 0;
    att_unit *u = eef_malloc((size_t)n_seg * H * sizeof *u);
    if (!u) return NULL;
    int k = 0;
    for (int b = 0; b < B; b++) {
        int t = 0;
        while (t < T) {
            int s = t++;
            while (t < T && pos[b * T + t] != 0) t++;
            for (int h = 0; h < H; h++) u[k++] = (att_unit){ b * T + s, t - s, h };
        }
    }
    /* insertion sort by decreasing length keeps equal lengths in order */
    for (int i = 1; i < k; i++) {
        att_unit x = u[i];
        int j = i - 1;
        while (j >= 0 && u[j].len < x.len) {
            u[j + 1] = u[j];
            j--;
        }
        u[j + 1] = x;
    }
    *n_units = k;
    *max_len = k ? u[0].len : 0;
    return u;
}

/* Turns row r of the score block (query i = s + q0 + r, keys s..) into
 * probabilities; returns the log-sum-exp. */
static float softmax_causal_row(float *row, int n_valid, int n_cols)
{
    float mx = nn_vec.max(row, n_valid);
    float sum = nn_vec.exp_shift_sum(row, n_valid, mx);
    nn_vec.scale(row, n_valid, 1.0f / sum);
    if (n_cols > n_valid) memset(row + n_valid, 0, (size_t)(n_cols - n_valid) * sizeof(float));
    return mx + logf(sum);
}

eef_err attention_forward(float *out, float *lse, const float *qkv, const int *pos, int B, int T,
                          const nn_heads *sh)
{
    const int H = sh->H, G = sh->H / sh->Hkv, hd = sh->hd, ld = heads_w(sh), Q = heads_q(sh),
              K = heads_k(sh);
    const int tiles = use_tiles(hd);
    int n_units, Tmax;
    att_unit *units = make_units(pos, B, T, H, &n_units, &Tmax);
    /* per thread: scores [QB, Tp], then K^T [hd, Tp] and V [Tp, hd] for the tiles */
    const int Tp = ld16(Tmax);
    const size_t per = (size_t)QB * Tp + (tiles ? 2 * (size_t)hd * Tp : 0);
    float *scratch = eef_malloc((size_t)nn_max_threads() * per * sizeof(float));
    if (!units || !scratch) {
        free(units);
        free(scratch);
        return EEF_ENOMEM;
    }
    const float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel
    {
        float *S = scratch + (size_t)nn_thread_id() * per, *Kt = S + (size_t)QB * Tp;
        float *Vp = Kt + (size_t)hd * Tp;
#pragma omp for schedule(dynamic, 1)
        for (int u = 0; u < n_units; u++) {
            const int s = units[u].start, L = units[u].len, h = units[u].head, g = h / G;
            const float *Kh = qkv + (size_t)s * ld + Q + g * hd;
            const float *Vh = qkv + (size_t)s * ld + Q + K + g * hd;
            const int Lp = ld16(L), ldv = tiles ? hd : ld;
            if (tiles) transpose(Kt, Lp, Kh, ld, L, hd), pack(Vp, Vh, ld, L, hd);
            for (int q0 = 0; q0 < L; q0 += QB) {
                const int bl = L - q0 < QB ? L - q0 : QB, Lk = q0 + bl, lds = ld16(Lk);
                const float *Qh = qkv + (size_t)(s + q0) * ld + h * hd;
                scores(tiles, S, lds, Qh, ld, Kh, ld, Kt, Lp, bl, Lk, hd, scale, q0);
                for (int r = 0; r < bl; r++)
                    lse[(size_t)(s + q0 + r) * H + h] =
                        softmax_causal_row(S + (size_t)r * lds, q0 + r + 1, Lk);
                mix(tiles, out + (size_t)(s + q0) * Q + h * hd, Q, S, lds, tiles ? Vp : Vh, ldv, bl,
                    Lk, hd, 1.0f, q0);
            }
        }
    }
    free(scratch);
    free(units);
    return EEF_OK;
}

eef_err attention_backward(float *dqkv, const float *dout, const float *qkv, const float *out,
                           const float *lse, const int *pos, int B, int T, const nn_heads *sh)
{
    const int H = sh->H, G = sh->H / sh->Hkv, hd = sh->hd, ld = heads_w(sh), Q = heads_q(sh),
              K = heads_k(sh);
    const int tiles = use_tiles(hd);
    int n_units, Tmax;
    att_unit *units = make_units(pos, B, T, sh->Hkv, &n_units, &Tmax);
    /* per thread: P and dS [QB, Tp], then K^T and V^T [hd, Tp] and K [Tp, hd]
     * for the tiles */
    const int Tp = ld16(Tmax);
    const size_t per = 2 * (size_t)QB * Tp + (tiles ? 3 * (size_t)hd * Tp : 0);
    float *scratch = eef_malloc((size_t)nn_max_threads() * per * sizeof(float));
    if (!units || !scratch) {
        free(units);
        free(scratch);
        return EEF_ENOMEM;
    }
    const float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel
    {
        float *P = scratch + (size_t)nn_thread_id() * per;
        float *dS = P + (size_t)QB * Tp, *Kt = dS + (size_t)QB * Tp, *Vt = Kt + (size_t)hd * Tp;
        float *Kp = Vt + (size_t)hd * Tp;
#pragma omp for schedule(dynamic, 1)
        for (int u = 0; u < n_units; u++) {
            const int s = units[u].start, L = units[u].len, g = units[u].head;
            const float *Kh = qkv + (size_t)s * ld + Q + g * hd;
            const float *Vh = qkv + (size_t)s * ld + Q + K + g * hd;
            float *dK = dqkv + (size_t)s * ld + Q + g * hd;
            float *dV = dqkv + (size_t)s * ld + Q + K + g * hd;
            const int Lp = ld16(L), ldk = tiles ? hd : ld;
            if (tiles) {
                transpose(Kt, Lp, Kh, ld, L, hd), transpose(Vt, Lp, Vh, ld, L, hd);
                pack(Kp, Kh, ld, L, hd);
            }
            for (int r = 0; r < L; r++) {
                memset(dK + (size_t)r * ld, 0, (size_t)hd * sizeof(float));
                memset(dV + (size_t)r * ld, 0, (size_t)hd * sizeof(float));
            }
            for (int h = g * G; h < (g + 1) * G; h++)
                for (int q0 = 0; q0 < L; q0 += QB) {
                    const int bl = L - q0 < QB ? L - q0 : QB, Lk = q0 + bl, lds = ld16(Lk);
                    const float *Qh = qkv + (size_t)(s + q0) * ld + h * hd;
                    const float *dO = dout + (size_t)(s + q0) * Q + h * hd;
                    const float *O = out + (size_t)(s + q0) * Q + h * hd;
                    /* P = exp(S - lse) on the causal part, 0 elsewhere */
                    scores(tiles, P, lds, Qh, ld, Kh, ld, Kt, Lp, bl, Lk, hd, scale, q0);
                    for (int r = 0; r < bl; r++) {
                        float *p = P + (size_t)r * lds;
                        float l = lse[(size_t)(s + q0 + r) * H + h];
                        int nv = q0 + r + 1;
                        nn_vec.exp_shift(p, nv, l);
                        if (Lk > nv) memset(p + nv, 0, (size_t)(Lk - nv) * sizeof(float));
                    }
                    /* dP = dO V^T;  dS = P * (dP - rowsum(dO * O)) */
                    scores(tiles, dS, lds, dO, Q, Vh, ld, Vt, Lp, bl, Lk, hd, 1.0f, q0);
                    for (int r = 0; r < bl; r++) {
                        float di = nn_vec.dot(dO + (size_t)r * Q, O + (size_t)r * Q, hd);
                        nn_vec.softmax_grad(dS + (size_t)r * lds, P + (size_t)r * lds, q0 + r + 1, di);
                        if (Lk > q0 + r + 1)
                            memset(dS + (size_t)r * lds + q0 + r + 1, 0,
                                   (size_t)(Lk - q0 - r - 1) * sizeof(float));
                    }
                    /* dQ = scale dS K;  dK += scale dS^T Q;  dV += P^T dO */
                    mix(tiles, dqkv + (size_t)(s + q0) * ld + h * hd, ld, dS, lds, tiles ? Kp : Kh,
                        ldk, bl, Lk, hd, scale, q0);
                    mix_t(tiles, dK, ld, dS, lds, Qh, ld, bl, Lk, hd, scale, q0);
                    mix_t(tiles, dV, ld, P, lds, dO, Q, bl, Lk, hd, 1.0f, q0);
                }
        }
    }
    free(scratch);
    free(units);
    return EEF_OK;
}

/* rng.c: a counter-based generator.
 *
 * value(key, ctr) = mix(key + ctr * golden) with a strong 64-bit finalizer
 * (the SplitMix64 construction used as a keyed hash).  Since every draw is
 * a pure function of (key, counter), streams never depend on scheduling.
 */
#include "core.h"

#include <math.h>
#include <string.h>

#define GOLDEN 0x9E3779B97F4A7C15ULL

uint64_t eef_hash64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBULL;
    x ^= x >> 31;
    return x;
}

uint64_t eef_rng_key(uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t h = eef_hash64(seed ^ 0x6A09E667F3BCC908ULL);
    h = eef_hash64(h ^ (a + GOLDEN));
    h = eef_hash64(h ^ (b + 2 * GOLDEN));
    h = eef_hash64(h ^ (c + 3 * GOLDEN));
    return h;
}

eef_rng eef_rng_make(uint64_t key) { return (eef_rng){ .key = key, .ctr = 0 }; }

uint64_t eef_rng_u64(eef_rng *r)
{
    /* two rounds of mixing keyed by `key`: decorrelates nearby keys */
    uint64_t x = r->key + (r->ctr++ + 1) * GOLDEN;
    return eef_hash64(eef_hash64(x) ^ r->key);
}

uint32_t eef_rng_u32(eef_rng *r) { return (uint32_t)(eef_rng_u64(r) >> 32); }

double eef_rng_uniform(eef_rng *r) { return (double)(eef_rng_u64(r) >> 11) * 0x1.0p-53; }

float eef_rng_normal(eef_rng *r)
{
    /* Box-Muller; one value per call keeps the stream position simple. */
    double u1 = eef_rng_uniform(r), u2 = eef_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

uint64_t eef_rng_below(eef_rng *r, uint64_t n)
{
    /* rejection sampling removes the modulo bias */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = eef_rng_u64(r);
    while (x >= limit);
    return x % n;
}

void eef_rng_shuffle(eef_rng *r, void *base, size_t n, size_t size)
{
    unsigned char *p = base, tmp[256];
    if (size > sizeof tmp) return;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)eef_rng_below(r, i);
        if (j == i - 1) continue;
        memcpy(tmp, p + j * size, size);
        memcpy(p + j * size, p + (i - 1) * size, size);
        memcpy(p + (i - 1) * size, tmp, size);
    }
}

uint64_t eef_hash_str(const char *s)
{
    return eef_hash64(eef_hash_bytes(EEF_HASH_START, s, strlen(s)));
}

uint64_t eef_hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

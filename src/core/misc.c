/* misc.c: strict number parsing and thread count. */
#include "core.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

eef_err eef_parse_long(const char *s, long lo, long hi, const char *what, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno)
        return eef_fail(EEF_EINVAL, "%s: '%s' is not an integer", what, s);
    if (v < lo || v > hi)
        return eef_fail(EEF_EINVAL, "%s: %ld is out of range [%ld, %ld]", what, v, lo, hi);
    *out = v;
    return EEF_OK;
}

eef_err eef_parse_double(const char *s, double lo, double hi, const char *what, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v))
        return eef_fail(EEF_EINVAL, "%s: '%s' is not a number", what, s);
    if (v < lo || v > hi)
        return eef_fail(EEF_EINVAL, "%s: %g is out of range [%g, %g]", what, v, lo, hi);
    *out = v;
    return EEF_OK;
}

int eef_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* CRC-32 (IEEE 802.3, reflected), the checksum of eef's binary files. */
uint32_t eef_crc32(uint32_t crc, const void *p, size_t n)
{
    static uint32_t table[256];
    static int ready;
    if (!ready) { /* benign race: every thread writes the same table */
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    const unsigned char *b = p;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = table[(crc ^ b[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

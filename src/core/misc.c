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

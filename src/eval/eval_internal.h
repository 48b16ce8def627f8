/* eval_internal.h: helpers shared by the files of eval/ (not part of its
 * public face, eval.h). */
#ifndef EEF_EVAL_INTERNAL_H
#define EEF_EVAL_INTERNAL_H

#include <cjson/cJSON.h>

/* The number at a dotted path ("test.tiers.hard.win") of a JSON object;
 * NaN where there is none. */
double eval_num(const cJSON *o, const char *path);

#endif

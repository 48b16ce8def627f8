/* traj_internal.h: helpers shared by the files of src/traj (JSON text
 * writing, line scanning, extra fields); not part of the public face. */
#ifndef EEF_TRAJ_INTERNAL_H
#define EEF_TRAJ_INTERNAL_H

#include "traj.h"

struct cJSON;

/* Appends s as a JSON string (quoted, escaped like cJSON prints: \" \\ \b
 * \f \n \r \t, other bytes < 0x20 as \u00xx, everything else raw UTF-8).
 * 0 ok, -1 out of memory. */
int traj_put_str(eef_buf *b, const char *s);
/* Appends d in the shortest %.Ng form that strtod reads back as d. */
int traj_put_num(eef_buf *b, double d);

/* Scans a line for what cJSON would accept silently but our files must
 * not hold: NUL bytes, invalid UTF-8, and \u0000 escapes inside strings.
 * Returns EEF_OK or an EEF_EFORMAT "where: ... at column N" message. */
eef_err traj_scan_line(const char *s, size_t n, const char *where);

/* 1 when key is one of the top-level fields of our format. */
/* The top-level keys of a trajectory line, in the order they are written
 * ("eef" is the header line's key: reserved so no trajectory looks like one). */
#define TRAJ_N_KEYS 13
extern const char *const traj_keys[TRAJ_N_KEYS];
int traj_known_key(const char *key);

/* Appends `"key":value` of a cJSON member, the canonical form used both
 * for extra text and for writing it back. */
int traj_put_member(eef_buf *b, const char *key, const struct cJSON *value);

/* Validates the extra object text and appends its members, each preceded
 * by a comma: `,"k1":v1,"k2":v2`.  NULL or "{}" appends nothing. */
eef_err traj_put_extra(eef_buf *b, const char *extra, const char *where);

/* Text of a JSON number that holds an integer id ("17"), else NULL. */
char *traj_int_text(double d);

/* Frees *field and sets it to a copy of the n bytes at s. */
eef_err traj_setn(char **field, const char *s, size_t n);

#endif

/*
 * core: the foundation every other folder stands on.
 *
 * Errors, memory, a counter-based RNG, atomic file writes, JSON helpers,
 * logging and progress bars.  This header is the folder's public face;
 * core/ includes nothing else of ours.
 */
#ifndef EEF_CORE_H
#define EEF_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define EEF_VERSION "0.1.0"

/* ------------------------------------------------------------------ errors
 * Functions return an eef_err (0 = ok).  On failure they record a message
 * in a thread-local buffer (eef_errmsg()) that says where and why, e.g.
 * "runs/a/expert.jsonl:17: field 'task' missing".  The library never
 * exits; the CLI prints the message and exits non-zero.
 */
typedef enum {
    EEF_OK = 0,
    EEF_EINVAL,  /* bad argument or value */
    EEF_EFORMAT, /* malformed input file or data */
    EEF_EIO,     /* operating-system I/O error */
    EEF_ENOMEM,  /* allocation failed */
    EEF_ENET,    /* network / remote peer error */
    EEF_ESTATE,  /* operation not valid in the current state */
    EEF_ENOTFOUND,
} eef_err;

/* Record a message (printf-style) and return `code`. */
eef_err eef_fail(eef_err code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prefix the current message with more context ("loading M.eefm: ..."). */
eef_err eef_fail_ctx(eef_err code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *eef_errmsg(void);
const char *eef_errname(eef_err code);
void eef_errclear(void);

/* Propagate an error: `EEF_TRY(f(x));` */
#define EEF_TRY(expr)                                                          \
    do {                                                                       \
        eef_err eef_try_err_ = (expr);                                         \
        if (eef_try_err_ != EEF_OK) return eef_try_err_;                       \
    } while (0)

/* ------------------------------------------------------------------ memory */
/* Allocation that records an EEF_ENOMEM message on failure. */
void *eef_malloc(size_t n);
void *eef_calloc(size_t count, size_t size);
void *eef_realloc(void *p, size_t n);
char *eef_strdup(const char *s);
char *eef_strndup(const char *s, size_t n);
/* 64-byte aligned, zeroed; release with eef_free_aligned. */
void *eef_alloc_aligned(size_t n);
void eef_free_aligned(void *p);

/* A bump allocator: many small allocations, one free. */
typedef struct eef_arena_block eef_arena_block;
typedef struct {
    eef_arena_block *head;
    size_t block_size;
} eef_arena;

void eef_arena_init(eef_arena *a, size_t block_size);
void *eef_arena_alloc(eef_arena *a, size_t n); /* 16-byte aligned, zeroed */
char *eef_arena_strdup(eef_arena *a, const char *s);
char *eef_arena_strndup(eef_arena *a, const char *s, size_t n);
void eef_arena_free(eef_arena *a);

/* A growable byte buffer, always NUL-terminated. */
typedef struct {
    char *data;
    size_t len, cap;
} eef_buf;

void eef_buf_init(eef_buf *b);
int eef_buf_reserve(eef_buf *b, size_t extra); /* 0 ok, -1 out of memory */
int eef_buf_append(eef_buf *b, const void *p, size_t n);
int eef_buf_puts(eef_buf *b, const char *s);
int eef_buf_printf(eef_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void eef_buf_clear(eef_buf *b);
void eef_buf_free(eef_buf *b);

/* A growable list of owned strings. */
typedef struct {
    char **items;
    size_t n, cap;
} eef_strlist;

int eef_strlist_push(eef_strlist *l, const char *s); /* copies s */
int eef_strlist_pushn(eef_strlist *l, const char *s, size_t n);
void eef_strlist_clear(eef_strlist *l);
void eef_strlist_free(eef_strlist *l);

/* ------------------------------------------------------------------ rng
 * Counter-based: the value at position `ctr` of stream `key` is a pure
 * function of (key, ctr), so work split over any number of threads draws
 * the same numbers as long as each unit of work derives its own key,
 * e.g. eef_rng_key(seed, EEF_STREAM_EVAL, split, task).
 */
typedef struct {
    uint64_t key;
    uint64_t ctr;
} eef_rng;

uint64_t eef_hash64(uint64_t x);          /* a strong 64-bit mixer */
uint64_t eef_rng_key(uint64_t seed, uint64_t a, uint64_t b, uint64_t c);
eef_rng eef_rng_make(uint64_t key);
uint64_t eef_rng_u64(eef_rng *r);
uint32_t eef_rng_u32(eef_rng *r);
double eef_rng_uniform(eef_rng *r);       /* [0, 1) */
float eef_rng_normal(eef_rng *r);         /* N(0, 1) */
uint64_t eef_rng_below(eef_rng *r, uint64_t n); /* [0, n), unbiased; n > 0 */

void eef_rng_shuffle(eef_rng *r, void *base, size_t n, size_t size);
uint64_t eef_hash_str(const char *s);     /* FNV-1a then mixed */
/* FNV-1a over p[0..n), continuing from h (EEF_HASH_START to begin): a
 * streaming digest of files and worlds; mix the end with eef_hash64. */
#define EEF_HASH_START 0xcbf29ce484222325ULL
uint64_t eef_hash_bytes(uint64_t h, const void *p, size_t n);

/* The random streams, in one table: every `a` given to eef_rng_key, so
 * that no two uses of randomness draw the same numbers by accident.  The
 * values are history (changing one changes the bytes of every run); a new
 * use takes a new value.  Each line says what (b, c) key within it. */
/* tune/ and the CLI */
#define EEF_STREAM_SFT        0x5F7ULL     /* (0, 0) a new model's weights (eef run's SFT,
                                              eef train); (1, 0) SFT's training seed */
#define EEF_STREAM_RFT        0x4F70000ULL /* + iteration: (task, rollout) a rollout from
                                              the task's start */
#define EEF_STREAM_EEF        0xEEF0000ULL /* + iteration: (task * 4096 + t, rollout) a
                                              rollout from a failed expert trajectory's s_t
                                              (rollout ^ hash(expert) for the failures of
                                              a run's second expert on) */
#define EEF_STREAM_ITER_TRAIN 0x17E4ULL    /* (iteration, 0) an iteration's training seed */
#define EEF_STREAM_EPOCH      0x7a11ULL    /* on a training seed, (epoch, 0): its shuffle;
                                              (epoch, 1): ETO's pair order */
#define EEF_STREAM_ETO        0xE7070000ULL /* + round: (task, 0) ETO's rollout from the
                                               task's start */
#define EEF_STREAM_GENERATE   0x6E7ULL     /* (0, 0) eef generate's sampling */
#define EEF_STREAM_SERVE      0x5E87EULL   /* (0, 0) on a request's seed, or (1, n) on 0 for
                                              the n-th request without one: its sampling */
/* nn/ */
#define EEF_STREAM_MODEL_INIT 0x1417ULL    /* (tensor, 0) a new model's initial weights */
#define EEF_STREAM_LORA_INIT  0x10aULL     /* (layer, matrix) a new LoRA adapter's A */
/* eval/ */
#define EEF_STREAM_EVAL       0xE7A1ULL    /* (split, task) an evaluation rollout */
#define EEF_STREAM_SCORE_CI   0xB007ULL    /* (tier + 1, n) a score interval's bootstrap */
#define EEF_STREAM_COMPARE_CI 0xB0075ULL   /* (stratum, replicate) eef compare's bootstrap,
                                              on the fixed seed below */
#define EEF_SEED_COMPARE      0x5EED0B007ULL /* fixed: the same runs, the same intervals */
/* agent/ */
#define EEF_STREAM_HOUSE_EXPERT 0x657870657274ULL /* "expert": on a rollout's key,
                                                     (profile's stream, 0) the house
                                                     expert's character in it */
#define EEF_STREAM_SHOP_HABITS  0x686162697473ULL /* "habits": on a rollout's key, (0, 0)
                                                     the shop expert's habits in it */
#define EEF_STREAM_SHOP_EXPERT  0x73747265616dULL /* "stream": on a rollout's key,
                                                     (profile's stream > 0, position)
                                                     the shop expert's draws of one call */
/* env/ */
#define EEF_STREAM_HOUSE      0x686f757365ULL        /* "house": (split, index) a task */
#define EEF_STREAM_SHOP_GEN   0x53484F5047454EULL    /* "SHOPGEN": (0, 0) a catalogue */
#define EEF_STREAM_SHOP_GOALS 0x53484F50474F414CULL  /* "SHOPGOAL": (0, 0) its goals */
#define EEF_STREAM_SHOP_LOAD  0x53484F504C4F4144ULL  /* "SHOPLOAD": (i, 0) a loaded
                                                        catalogue's synthetic goal i */
#define EEF_STREAM_SHOP_HUMAN 0x53484F5048554D41ULL  /* "SHOPHUMA": (0, 0) the split of a
                                                        loaded catalogue's human goals */

/* ------------------------------------------------------------------ files
 * Every file eef writes goes to `path.tmp.<pid>` first, is fsynced,
 * renamed over `path`, and the directory is fsynced: a reader sees the old
 * file or the new one, never a torn one.
 */
typedef struct {
    FILE *f;
    char *path;
    char *tmp;
} eef_afile;

eef_err eef_afile_open(eef_afile *af, const char *path);
eef_err eef_afile_write(eef_afile *af, const void *p, size_t n);
eef_err eef_afile_commit(eef_afile *af); /* flush, fsync, rename, fsync dir */
void eef_afile_abort(eef_afile *af);     /* remove the temp file */

eef_err eef_write_file_atomic(const char *path, const void *p, size_t n);
/* Whole file into a NUL-terminated buffer. */
eef_err eef_read_file(const char *path, char **out, size_t *len);
eef_err eef_mkdirs(const char *path); /* mkdir -p */
int eef_file_exists(const char *path);
/* Remove temp files left in `dir` by a killed writer (names *.tmp.<pid>). */
void eef_clean_tmp(const char *dir);
/* Remove the temp files of one target, "<path>.tmp.<pid>", whose writer
 * process is gone (for files in a directory other processes may share). */
void eef_clean_tmp_of(const char *path);
/* Test hook: make the n-th write (counting from the call) fail with ENOSPC;
 * n < 0 disables.  Lets tests simulate a full disk at any point. */
void eef_fault_inject_write(long n);

/* ------------------------------------------------------------------ crash points
 * Fault injection for the crash-resume and disk-full tests; no effect
 * unless these environment variables are set (read once per process):
 *   EEF_CRASH_AT="<point>[@<detail>]:<n>"     SIGKILL at the n-th hit of
 *                                              the point (counted from 1)
 *   EEF_DISKFULL_AT="<point>[@<detail>]:<n>"  from the n-th hit on, every
 *                                              atomic-file write fails
 *                                              with ENOSPC
 *   EEF_CRASH_LOG=FILE                         appends "<point>\t<detail>"
 *                                              for every hit
 * A detail matches when equal or when the hit's ends with "/<detail>"
 * (a file name inside any directory).  Points placed in core:
 *   afile.open     @path  temp file created, empty
 *   afile.write    @path  before each write (n-1 writes done)
 *   afile.synced   @path  temp complete and fsynced, not yet renamed
 *   afile.renamed  @path  renamed over path, directory not yet fsynced
 *   progress       @label each eef_progress_add (a training step, a
 *                         rollout: "sft", "train", "evaluate", ...)
 * docs/robustness.md lists them all. */
void eef_crash_point(const char *point);
void eef_crash_point_at(const char *point, const char *detail);

/* Join path components into `out` (size cap); returns out. */
char *eef_path_join(char *out, size_t cap, const char *a, const char *b);

/* ------------------------------------------------------------------ json
 * Thin helpers on cJSON that turn missing or mistyped fields into
 * eef errors carrying `where` (e.g. "file.jsonl:12").
 */
struct cJSON;
eef_err eef_json_parse(const char *text, size_t len, const char *where,
                       struct cJSON **out);
/* A whole file as one JSON value (errors name the path). */
eef_err eef_json_read_file(const char *path, struct cJSON **out);
eef_err eef_json_str(const struct cJSON *obj, const char *key,
                     const char *where, const char **out);
eef_err eef_json_num(const struct cJSON *obj, const char *key,
                     const char *where, double *out);
eef_err eef_json_int(const struct cJSON *obj, const char *key,
                     const char *where, long *out);
eef_err eef_json_arr(const struct cJSON *obj, const char *key,
                     const char *where, const struct cJSON **out);
/* Optional variants: leave *out untouched when the key is absent. */
eef_err eef_json_opt_str(const struct cJSON *obj, const char *key,
                         const char *where, const char **out);
eef_err eef_json_opt_num(const struct cJSON *obj, const char *key,
                         const char *where, double *out);
/* Checks that `s` (length n) is valid UTF-8 without NUL bytes. */
int eef_utf8_valid(const char *s, size_t n);

/* Reads a file line by line (any length), counting lines for messages.
 * Lines are read in chunks of EEF_LINES_CHUNK - 1 bytes; each chunk is
 * pre-filled (that is how a NUL inside a line is told from its end), so a
 * small chunk keeps short lines cheap: 64 KiB made each line of a few
 * hundred bytes cost a 64 KiB fill. */
#define EEF_LINES_CHUNK 4096
typedef struct {
    FILE *f;
    const char *path;
    long line;
    eef_buf buf;
    size_t max_line; /* lines longer than this are an error; 0 = 64 MiB */
} eef_lines;

eef_err eef_lines_open(eef_lines *lr, const char *path);
/* *line = NULL at end of file; the text is valid until the next call. */
eef_err eef_lines_next(eef_lines *lr, char **line, size_t *len);
void eef_lines_close(eef_lines *lr);

/* ------------------------------------------------------------------ log */
typedef enum { EEF_LOG_ERROR, EEF_LOG_WARN, EEF_LOG_INFO, EEF_LOG_DEBUG } eef_log_level;
void eef_log_set_level(eef_log_level lvl);
eef_log_level eef_log_get_level(void);
void eef_log(eef_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#define eef_info(...) eef_log(EEF_LOG_INFO, __VA_ARGS__)
#define eef_warn(...) eef_log(EEF_LOG_WARN, __VA_ARGS__)
#define eef_debug(...) eef_log(EEF_LOG_DEBUG, __VA_ARGS__)

/* ------------------------------------------------------------------ time */
double eef_now(void); /* monotonic seconds */

/* ------------------------------------------------------------------ progress
 * A one-line progress bar on stderr with rate and ETA, redrawn at most
 * 10 times a second; silent when stderr is not a terminal (then only the
 * final line is printed, so logs stay readable).
 */
typedef struct {
    const char *label;
    const char *unit;
    double total;
    double done;
    double t0, last_draw;
    int tty;
    int enabled;
    char extra[96];
} eef_progress;

void eef_progress_begin(eef_progress *p, const char *label, double total,
                        const char *unit);
void eef_progress_add(eef_progress *p, double n); /* thread-safe */
void eef_progress_note(eef_progress *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void eef_progress_end(eef_progress *p);
/* Globally silence progress output (tests, --quiet). */
void eef_progress_set_quiet(int quiet);

/* ------------------------------------------------------------------ misc */
#define EEF_MIN(a, b) ((a) < (b) ? (a) : (b))
#define EEF_MAX(a, b) ((a) > (b) ? (a) : (b))
#define EEF_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Parse numbers strictly: the whole string, in range. */
eef_err eef_parse_long(const char *s, long lo, long hi, const char *what, long *out);
eef_err eef_parse_double(const char *s, double lo, double hi, const char *what,
                         double *out);
int eef_threads(void); /* OpenMP threads in use */
/* CRC-32 (IEEE) of p[0..n), continuing from crc (0 to start). */
uint32_t eef_crc32(uint32_t crc, const void *p, size_t n);

#endif

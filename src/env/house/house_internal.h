/*
 * house_internal.h: the household world's private types, shared by the
 * files of src/env/house.  See docs/house.md for the rules of the world and
 * the facts of ALFWorld they follow.
 *
 * Two kinds of data:
 *  - house_layout: one task's room (receptacles, objects and where they
 *    start) and goal.  Generated at open, read-only, ~200 bytes.
 *  - house_state:  what an episode changes.  Fixed-size byte arrays, no
 *    pointers, so a snapshot is one memcpy (see house_copy).
 */
#ifndef EEF_HOUSE_INTERNAL_H
#define EEF_HOUSE_INTERNAL_H

#include "house.h"

#define HOUSE_MAX_RECEP 40 /* receptacles in one room (the largest kitchen: 37) */
#define HOUSE_MAX_OBJ 48   /* objects in one room */
#define HOUSE_NONE 255     /* no receptacle / no object */
#define HOUSE_HELD 254     /* object location: in the agent's hand */
#define HOUSE_NAME_CAP 24  /* "toiletpaperhanger 12" + NUL fits */

/* ------------------------------------------------------------ static data */
typedef enum { ROOM_KITCHEN, ROOM_LIVINGROOM, ROOM_BEDROOM, ROOM_BATHROOM, ROOM_N } house_room;

/* The six ALFWorld task types, in ALFWorld's order of naming. */
typedef enum {
    HT_PICK,  /* pick_and_place_simple */
    HT_CLEAN, /* pick_clean_then_place_in_recep */
    HT_HEAT,  /* pick_heat_then_place_in_recep */
    HT_COOL,  /* pick_cool_then_place_in_recep */
    HT_LOOK,  /* look_at_obj_in_light */
    HT_TWO,   /* pick_two_obj_and_place */
    HT_N
} house_task_type;

/* Object flags (static, per type). */
enum {
    OF_HEAT = 1,   /* heatable with a microwave */
    OF_COOL = 2,   /* coolable with a fridge */
    OF_CLEAN = 4,  /* cleanable with a sinkbasin / bathtubbasin */
    OF_LOOK = 8,   /* a target of look-at-in-light tasks */
    OF_LAMP = 16,  /* a desk lamp: toggled by "use", never picked up */
};

/* Object state bits (dynamic, per object). */
enum { OS_HOT = 1, OS_COOL = 2, OS_CLEAN = 4, OS_ON = 8 };

/* Receptacle types, in alphabetical order (the room list sorts by name). */
typedef enum {
    R_ARMCHAIR, R_BATHTUBBASIN, R_BED, R_CABINET, R_COFFEEMACHINE, R_COFFEETABLE,
    R_COUNTERTOP, R_DESK, R_DININGTABLE, R_DRAWER, R_DRESSER, R_FRIDGE, R_GARBAGECAN,
    R_HANDTOWELHOLDER, R_LAUNDRYHAMPER, R_MICROWAVE, R_OTTOMAN, R_SAFE, R_SHELF,
    R_SIDETABLE, R_SINKBASIN, R_SOFA, R_STOVEBURNER, R_TOASTER, R_TOILET,
    R_TOILETPAPERHANGER, R_TOWELHOLDER, R_TVSTAND, R_N
} house_rtype_id_t;

typedef struct {
    const char *name;   /* "cabinet" */
    int openable;       /* starts closed; must be opened to see, take, put */
} house_rtype;

#define HOUSE_MAX_FOUND 12
typedef struct {
    const char *name;     /* "apple" */
    unsigned flags;       /* OF_* */
    unsigned rooms;       /* bit per house_room where it appears */
    uint8_t found[HOUSE_MAX_FOUND]; /* receptacle types it is found in */
    uint8_t n_found;
} house_otype;

typedef struct {
    uint8_t rtype, lo, hi; /* between lo and hi receptacles of that type */
} house_room_part;

typedef struct {
    const char *name;
    const house_room_part *parts;
    size_t n_parts;
    uint8_t obj_lo, obj_hi; /* object instances placed (the targets included) */
} house_room_spec;

extern const house_rtype house_rtypes[R_N];
extern const house_otype house_otypes[];
extern const size_t house_n_otypes;
extern const house_room_spec house_rooms[ROOM_N];

/* Receptacle-type ids that rules refer to (looked up once, checked by tests). */
int house_rtype_id(const char *name);          /* -1 when unknown */
int house_otype_id(const char *name);          /* -1 when unknown */
int house_rtype_idn(const char *name, size_t n);
int house_otype_idn(const char *name, size_t n);
int house_otype_found_in(int otype, int rtype); /* 1 when rtype is in its found list */

extern const char *const house_task_names[HT_N];  /* ALFWorld's names */
extern const char *const house_task_short[HT_N];  /* "pick", "clean", ... */

/* --------------------------------------------------------------- layouts */
typedef struct {
    uint8_t room, type;        /* house_room, house_task_type */
    uint8_t target_o;          /* object type X of the goal */
    uint8_t target_r;          /* receptacle type Y of the goal (unused for look) */
    uint8_t tmpl;              /* which of ALFWorld's two goal templates */
    uint8_t tier;              /* eef_tier */
    uint8_t n_recep, n_obj;
    /* receptacles in the room list's order (type name, then number descending) */
    uint8_t rtype[HOUSE_MAX_RECEP], rnum[HOUSE_MAX_RECEP];
    /* objects in listing order (type name, then number descending) */
    uint8_t otype[HOUSE_MAX_OBJ], onum[HOUSE_MAX_OBJ], oloc0[HOUSE_MAX_OBJ];
} house_layout;

/* Generates task (split, index) from `seed`: the layout and its goal text
 * ("put a clean apple in fridge", no final period) into goal[0..cap). */
eef_err house_generate(uint64_t seed, eef_split split, size_t index, house_layout *out,
                       char *goal, size_t cap);
/* The tier rule of docs/house.md, from the layout's facts. */
eef_tier house_tier(const house_layout *L);

/* ------------------------------------------------------------------ state */
typedef struct {
    uint8_t oloc[HOUSE_MAX_OBJ];   /* receptacle index, or HOUSE_HELD */
    uint8_t oflag[HOUSE_MAX_OBJ];  /* OS_* bits */
    uint8_t ropen[HOUSE_MAX_RECEP];/* 1 when an openable receptacle is open */
    uint8_t at;                    /* receptacle the agent is at, or HOUSE_NONE */
    uint8_t held;                  /* object in hand, or HOUSE_NONE */
    uint8_t done, won;
    uint16_t steps;                /* actions taken, invalid ones included */
    uint8_t split, started;        /* started: reset was called */
    uint32_t index;                /* task index within the split */
} house_state;
/* No padding: states compare with memcmp (tests) and copy with memcpy. */
_Static_assert(sizeof(house_state) == 2 * HOUSE_MAX_OBJ + HOUSE_MAX_RECEP + 12,
               "house_state has padding");

/* Verbs of the action grammar (ALFWorld's templates). */
typedef enum {
    HV_GOTO,    /* go to R */
    HV_OPEN,    /* open R */
    HV_CLOSE,   /* close R */
    HV_TAKE,    /* take O from R */
    HV_PUT,     /* put O in/on R */
    HV_CLEAN,   /* clean O with R */
    HV_HEAT,    /* heat O with R */
    HV_COOL,    /* cool O with R */
    HV_USE,     /* use O (a desk lamp) */
    HV_EXAM_R,  /* examine R */
    HV_EXAM_O,  /* examine O */
    HV_INV,     /* inventory */
    HV_LOOK,    /* look */
    HV_N
} house_verb;

typedef struct {
    uint8_t verb, obj, recep; /* obj / recep: indices into the layout, or HOUSE_NONE */
} house_act;

/* Names of one layout's receptacles and objects ("cabinet 3"). */
typedef struct {
    char r[HOUSE_MAX_RECEP][HOUSE_NAME_CAP];
    char o[HOUSE_MAX_OBJ][HOUSE_NAME_CAP];
    uint8_t rlen[HOUSE_MAX_RECEP], olen[HOUSE_MAX_OBJ];
} house_names;

void house_names_build(const house_layout *L, house_names *N);

/* The world's rules (house_rules.c). */
void house_state_init(const house_layout *L, eef_split split, size_t index, house_state *s);
/* Parses `text` into an act naming things of this layout; 0 when it is not
 * a sentence of the grammar or names nothing here. */
int house_parse(const house_layout *L, const char *text, house_act *a);
int house_valid(const house_layout *L, const house_state *s, const house_act *a);
/* Applies a valid act and writes its feedback into obs (cleared first). */
void house_apply(const house_layout *L, const house_names *N, house_state *s,
                 const house_act *a, eef_buf *obs);
int house_goal_met(const house_layout *L, const house_state *s);
/* Appends the valid acts of state s in the order the action list shows. */
size_t house_list_acts(const house_layout *L, const house_state *s, house_act *out, size_t cap);
/* Writes the act as text (the inverse of house_parse) into out[0..cap). */
size_t house_format(const house_names *N, const house_act *a, char *out, size_t cap);

/* Observation text (house_text.c). */
void house_text_intro(const house_layout *L, const house_names *N, const char *goal, eef_buf *b);
void house_text_room(const house_layout *L, const house_names *N, eef_buf *b);
void house_text_recep(const house_layout *L, const house_names *N, const house_state *s,
                      int r, eef_buf *b);

/* A receptacle that holds objects now visible or takeable: not openable or open. */
static inline int house_accessible(const house_layout *L, const house_state *s, int r)
{
    return !house_rtypes[L->rtype[r]].openable || s->ropen[r];
}

/* -------------------------------------------------------- env & episodes */
typedef struct {
    eef_env base;
    uint64_t seed;
    size_t n[2];            /* tasks per split */
    house_layout *lay[2];   /* n[split] layouts */
    char **id[2];           /* "house-train-17" */
    char **goal[2];         /* goal text */
    eef_arena strings;      /* ids and goals */
} house_env;

typedef struct {
    eef_episode base;
    const house_layout *lay; /* NULL before reset */
    house_state st;
    house_names names;
    eef_buf obs;
} house_episode;

/* One step of an episode from a parsed act (valid or not).  Used by the
 * vtable's step and by the oracle / key-action replay. */
void house_step_act(house_episode *ep, int parsed, const house_act *a, eef_step *out);

#endif

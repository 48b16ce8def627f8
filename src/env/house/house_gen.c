/* house_gen.c: the seeded generator of rooms and tasks, and the tier rule.
 *
 * Task (split, index) is a pure function of (seed, split, index): its own
 * counter-based stream eef_rng_key(seed, EEF_STREAM_HOUSE, split, index), so
 * tasks do not depend on each other or on the number of tasks asked for.
 */
#include "house_internal.h"

#include <stdio.h>
#include <string.h>

/* Task-type weights: the counts of ALFWorld's 134 unseen evaluation games
 * per type as reported by ReAct (pick 24, clean 31, heat 23, cool 21,
 * look 18, pick two 17). */
static const unsigned type_weight[HT_N] = { 24, 31, 23, 21, 18, 17 };

/* Room weights per task type (kitchen, livingroom, bedroom, bathroom):
 * heating and cooling need a microwave and a fridge; cleaning a sink;
 * looking in light a desk lamp. */
static const unsigned room_weight[HT_N][ROOM_N] = {
    [HT_PICK] = { 2, 1, 1, 1 }, [HT_CLEAN] = { 3, 0, 0, 1 }, [HT_HEAT] = { 1, 0, 0, 0 },
    [HT_COOL] = { 1, 0, 0, 0 }, [HT_LOOK] = { 0, 1, 1, 0 }, [HT_TWO] = { 2, 1, 1, 1 },
};

static unsigned pick_weighted(eef_rng *r, const unsigned *w, unsigned n)
{
    unsigned total = 0;
    for (unsigned i = 0; i < n; i++) total += w[i];
    unsigned x = (unsigned)eef_rng_below(r, total);
    for (unsigned i = 0; i < n; i++) {
        if (x < w[i]) return i;
        x -= w[i];
    }
    return n - 1;
}

/* The appliance a task's transform needs, or -1. */
static int transform_rtype(int type)
{
    switch (type) {
    case HT_HEAT: return R_MICROWAVE;
    case HT_COOL: return R_FRIDGE;
    case HT_CLEAN: return R_SINKBASIN;
    default: return -1;
    }
}

static unsigned needed_flag(int type)
{
    switch (type) {
    case HT_HEAT: return OF_HEAT;
    case HT_COOL: return OF_COOL;
    case HT_CLEAN: return OF_CLEAN;
    case HT_LOOK: return OF_LOOK;
    default: return 0;
    }
}

/* Receptacle types present in the room, as a bitmask over house_rtype_id_t. */
static uint32_t present_mask(const house_layout *L)
{
    uint32_t m = 0;
    for (int i = 0; i < L->n_recep; i++) m |= 1u << L->rtype[i];
    return m;
}

/* Places one object of type `ot` in a receptacle of a type it is found in,
 * present in the room and not in `exclude` (a mask): type first, uniformly,
 * then an instance of it, so many cabinets do not swallow everything. */
static int place(eef_rng *r, const house_layout *L, int ot, uint32_t exclude)
{
    uint32_t present = present_mask(L) & ~exclude;
    const house_otype *t = &house_otypes[ot];
    uint8_t cand[HOUSE_MAX_FOUND];
    int nc = 0;
    for (int i = 0; i < t->n_found; i++)
        if (present & (1u << t->found[i])) cand[nc++] = t->found[i];
    if (nc == 0) return -1;
    int rt = cand[eef_rng_below(r, (uint64_t)nc)];
    int n = 0;
    for (int i = 0; i < L->n_recep; i++) n += L->rtype[i] == rt;
    int k = (int)eef_rng_below(r, (uint64_t)n);
    for (int i = 0; i < L->n_recep; i++)
        if (L->rtype[i] == rt && k-- == 0) return i;
    return -1;
}

static int placeable_types(const house_layout *L, int ot, uint32_t exclude)
{
    uint32_t present = present_mask(L) & ~exclude;
    int n = 0;
    for (int i = 0; i < house_otypes[ot].n_found; i++)
        n += (present >> house_otypes[ot].found[i]) & 1u;
    return n;
}

static void build_room(eef_rng *r, house_layout *L)
{
    const house_room_spec *rs = &house_rooms[L->room];
    L->n_recep = 0;
    /* parts are listed in type order; numbers descend within a type, as in
     * ALFWorld's "a cabinet 13, a cabinet 12, ..., a cabinet 1" */
    for (size_t p = 0; p < rs->n_parts; p++) {
        const house_room_part *part = &rs->parts[p];
        int count = part->lo + (int)eef_rng_below(r, (uint64_t)(part->hi - part->lo + 1));
        for (int k = count; k >= 1; k--) {
            L->rtype[L->n_recep] = part->rtype;
            L->rnum[L->n_recep] = (uint8_t)k;
            L->n_recep++;
        }
    }
}

/* Adds `count` objects of type ot; returns 0 when one could not be placed. */
static int add_objects(eef_rng *r, house_layout *L, int ot, int count, uint32_t exclude)
{
    for (int k = 0; k < count; k++) {
        if (L->n_obj >= HOUSE_MAX_OBJ) return 0;
        int at = place(r, L, ot, exclude);
        if (at < 0) return 0;
        L->otype[L->n_obj] = (uint8_t)ot;
        L->oloc0[L->n_obj] = (uint8_t)at;
        L->n_obj++;
    }
    return 1;
}

/* Numbers the instances of each type 1..k in a random order, then sorts
 * objects into listing order: type name, then number descending. */
static void number_and_sort(eef_rng *r, house_layout *L)
{
    uint8_t nums[HOUSE_MAX_OBJ];
    for (size_t t = 0; t < house_n_otypes; t++) {
        int k = 0;
        for (int i = 0; i < L->n_obj; i++)
            if (L->otype[i] == t) nums[k] = (uint8_t)(k + 1), k++;
        eef_rng_shuffle(r, nums, (size_t)k, 1);
        int j = 0;
        for (int i = 0; i < L->n_obj; i++)
            if (L->otype[i] == t) L->onum[i] = nums[j++];
    }
    /* insertion sort: at most 48 objects */
    for (int i = 1; i < L->n_obj; i++) {
        uint8_t t = L->otype[i], n = L->onum[i], l = L->oloc0[i];
        int j = i - 1;
        while (j >= 0 && (L->otype[j] > t || (L->otype[j] == t && L->onum[j] < n))) {
            L->otype[j + 1] = L->otype[j];
            L->onum[j + 1] = L->onum[j];
            L->oloc0[j + 1] = L->oloc0[j];
            j--;
        }
        L->otype[j + 1] = t;
        L->onum[j + 1] = n;
        L->oloc0[j + 1] = l;
    }
}

static void goal_text(const house_layout *L, char *goal, size_t cap)
{
    const char *x = house_otypes[L->target_o].name;
    const char *y = house_rtypes[L->target_r].name;
    static const char *const tmpl[HT_N][2] = {
        [HT_PICK] = { "put a %s in %s", "put some %s on %s" },
        [HT_CLEAN] = { "put a clean %s in %s", "clean some %s and put it in %s" },
        [HT_HEAT] = { "put a hot %s in %s", "heat some %s and put it in %s" },
        [HT_COOL] = { "put a cool %s in %s", "cool some %s and put it in %s" },
        [HT_LOOK] = { "look at %s under the %s", "examine the %s with the %s" },
        [HT_TWO] = { "put two %s in %s", "find two %s and put them in %s" },
    };
    if (L->type == HT_LOOK) y = "desklamp";
    snprintf(goal, cap, tmpl[L->type][L->tmpl], x, y);
}

static int try_generate(eef_rng *r, house_layout *L)
{
    memset(L, 0, sizeof *L);
    L->type = (uint8_t)pick_weighted(r, type_weight, HT_N);
    L->room = (uint8_t)pick_weighted(r, room_weight[L->type], ROOM_N);
    build_room(r, L);
    uint32_t present = present_mask(L);
    int lamp = house_otype_id("desklamp");

    /* the object X of the goal */
    unsigned need = needed_flag(L->type);
    int cand[64], nc = 0;
    for (size_t t = 0; t < house_n_otypes; t++) {
        const house_otype *o = &house_otypes[t];
        if (!(o->rooms & (1u << L->room)) || (o->flags & OF_LAMP)) continue;
        if ((o->flags & need) != need) continue;
        if (placeable_types(L, (int)t, 0) < (L->type == HT_LOOK ? 1 : 2)) continue;
        cand[nc++] = (int)t;
    }
    if (nc == 0) return 0;
    L->target_o = (uint8_t)cand[eef_rng_below(r, (uint64_t)nc)];

    /* the receptacle type Y: one X is found in, present, not the appliance
     * that transforms it (a hot apple is not put back in the microwave) */
    uint32_t exclude = 0;
    if (L->type != HT_LOOK) {
        int tr = transform_rtype(L->type), rc[HOUSE_MAX_FOUND], nr = 0;
        const house_otype *o = &house_otypes[L->target_o];
        for (int i = 0; i < o->n_found; i++) {
            int rt = o->found[i];
            if (!(present & (1u << rt)) || rt == tr) continue;
            if (L->type == HT_CLEAN && rt == R_BATHTUBBASIN) continue;
            if (placeable_types(L, L->target_o, 1u << rt) < 1) continue;
            rc[nr++] = rt;
        }
        if (nr == 0) return 0;
        L->target_r = (uint8_t)rc[eef_rng_below(r, (uint64_t)nr)];
        /* no X starts in a Y, so the goal is never met at the start */
        exclude = 1u << L->target_r;
    }

    /* instances of X: 1-3 (mostly 1), 2-3 for pick-two */
    static const unsigned one_w[3] = { 6, 3, 1 }, two_w[2] = { 7, 3 };
    int nx = L->type == HT_TWO ? 2 + (int)pick_weighted(r, two_w, 2)
                               : 1 + (int)pick_weighted(r, one_w, 3);
    L->n_obj = 0;
    if (!add_objects(r, L, L->target_o, nx, exclude)) return 0;

    /* a desk lamp: always for look tasks, often in other living/bed rooms */
    if (house_otypes[lamp].rooms & (1u << L->room)) {
        if (L->type == HT_LOOK || eef_rng_uniform(r) < 0.7)
            if (!add_objects(r, L, lamp, 1, 0)) return 0;
    }

    /* distractors: other types found in this room, 1-2 of each */
    const house_room_spec *rs = &house_rooms[L->room];
    int total = rs->obj_lo + (int)eef_rng_below(r, (uint64_t)(rs->obj_hi - rs->obj_lo + 1));
    nc = 0;
    for (size_t t = 0; t < house_n_otypes; t++) {
        const house_otype *o = &house_otypes[t];
        if ((int)t == L->target_o || (o->flags & OF_LAMP)) continue;
        if (!(o->rooms & (1u << L->room)) || placeable_types(L, (int)t, 0) == 0) continue;
        cand[nc++] = (int)t;
    }
    eef_rng_shuffle(r, cand, (size_t)nc, sizeof cand[0]);
    for (int i = 0; i < nc && L->n_obj < total; i++) {
        int k = EEF_MIN(1 + (int)eef_rng_below(r, 2), total - L->n_obj);
        if (!add_objects(r, L, cand[i], k, 0)) return 0;
    }

    number_and_sort(r, L);
    L->tmpl = (uint8_t)eef_rng_below(r, 2);
    L->tier = (uint8_t)house_tier(L);
    return 1;
}

eef_err house_generate(uint64_t seed, eef_split split, size_t index, house_layout *out,
                       char *goal, size_t cap)
{
    eef_rng r = eef_rng_make(eef_rng_key(seed, EEF_STREAM_HOUSE, (uint64_t)split, (uint64_t)index));
    /* a draw that cannot be completed (e.g. no second place for X) is
     * redrawn from the same stream: still a pure function of the key */
    for (int attempt = 0; attempt < 256; attempt++) {
        if (try_generate(&r, out)) {
            goal_text(out, goal, cap);
            return EEF_OK;
        }
    }
    return eef_fail(EEF_ESTATE, "house_gen.c: no task could be generated for %s %zu",
                    eef_split_name(split), index);
}

/* The tier rule (docs/house.md):
 *   visible = some X starts on a receptacle that is not openable;
 *   depth   = when none is visible, how many openable receptacles come
 *             before the first one holding an X in the room list;
 *   hard    = pick-two, or hidden and (a transform is needed or depth >= 4);
 *   easy    = pick & place or look-in-light with X visible;
 *   medium  = the rest (transform with X visible, shallow hidden pick/look). */
eef_tier house_tier(const house_layout *L)
{
    int visible = 0, depth = -1;
    for (int i = 0; i < L->n_obj; i++)
        if (L->otype[i] == L->target_o && !house_rtypes[L->rtype[L->oloc0[i]]].openable)
            visible = 1;
    if (!visible) {
        int k = 0;
        for (int r = 0; r < L->n_recep && depth < 0; r++) {
            if (!house_rtypes[L->rtype[r]].openable) continue;
            for (int i = 0; i < L->n_obj; i++)
                if (L->otype[i] == L->target_o && L->oloc0[i] == r) depth = k;
            k++;
        }
    }
    int transform = L->type == HT_CLEAN || L->type == HT_HEAT || L->type == HT_COOL;
    if (L->type == HT_TWO) return EEF_TIER_HARD;
    if (!visible && (transform || depth >= 4)) return EEF_TIER_HARD;
    if (visible && (L->type == HT_PICK || L->type == HT_LOOK)) return EEF_TIER_EASY;
    return EEF_TIER_MEDIUM;
}

/* house_data.c: what the household world is made of: receptacle types,
 * object types (where each is found, which appliances change it), the four
 * room kinds of ALFRED scenes, and the task types.
 *
 * Facts, not code, from ALFWorld: names are ALFRED's lower-cased types
 * ("sinkbasin", "butterknife"); openable receptacles are ALFWorld's
 * OPENABLE_CLASS_LIST (cabinet, drawer, fridge, microwave, safe); which
 * objects can be heated, cooled and cleaned follows the target objects of
 * its pick_heat / pick_cool / pick_clean tasks.  Counts and "found in"
 * lists are our own simplification of ALFRED's scenes (docs/house.md). */
#include "house_internal.h"

#include <string.h>

const house_rtype house_rtypes[R_N] = {
    [R_ARMCHAIR] = { "armchair", 0 },
    [R_BATHTUBBASIN] = { "bathtubbasin", 0 },
    [R_BED] = { "bed", 0 },
    [R_CABINET] = { "cabinet", 1 },
    [R_COFFEEMACHINE] = { "coffeemachine", 0 },
    [R_COFFEETABLE] = { "coffeetable", 0 },
    [R_COUNTERTOP] = { "countertop", 0 },
    [R_DESK] = { "desk", 0 },
    [R_DININGTABLE] = { "diningtable", 0 },
    [R_DRAWER] = { "drawer", 1 },
    [R_DRESSER] = { "dresser", 0 },
    [R_FRIDGE] = { "fridge", 1 },
    [R_GARBAGECAN] = { "garbagecan", 0 },
    [R_HANDTOWELHOLDER] = { "handtowelholder", 0 },
    [R_LAUNDRYHAMPER] = { "laundryhamper", 0 },
    [R_MICROWAVE] = { "microwave", 1 },
    [R_OTTOMAN] = { "ottoman", 0 },
    [R_SAFE] = { "safe", 1 },
    [R_SHELF] = { "shelf", 0 },
    [R_SIDETABLE] = { "sidetable", 0 },
    [R_SINKBASIN] = { "sinkbasin", 0 },
    [R_SOFA] = { "sofa", 0 },
    [R_STOVEBURNER] = { "stoveburner", 0 },
    [R_TOASTER] = { "toaster", 0 },
    [R_TOILET] = { "toilet", 0 },
    [R_TOILETPAPERHANGER] = { "toiletpaperhanger", 0 },
    [R_TOWELHOLDER] = { "towelholder", 0 },
    [R_TVSTAND] = { "tvstand", 0 },
};

#define K (1u << ROOM_KITCHEN)
#define L (1u << ROOM_LIVINGROOM)
#define B (1u << ROOM_BEDROOM)
#define A (1u << ROOM_BATHROOM)
#define F(...) { __VA_ARGS__ }, (uint8_t)(sizeof((uint8_t[]){ __VA_ARGS__ }))

/* Alphabetical by name: listing order sorts objects by type id. */
const house_otype house_otypes[] = {
    { "alarmclock", OF_LOOK, L | B, F(R_DESK, R_DRESSER, R_SHELF, R_SIDETABLE) },
    { "apple", OF_HEAT | OF_COOL | OF_CLEAN, K,
      F(R_COUNTERTOP, R_DININGTABLE, R_FRIDGE, R_GARBAGECAN, R_MICROWAVE, R_SINKBASIN) },
    { "book", OF_LOOK, L | B,
      F(R_ARMCHAIR, R_BED, R_COFFEETABLE, R_DESK, R_DRAWER, R_DRESSER, R_SHELF, R_SIDETABLE,
        R_SOFA) },
    { "bowl", OF_COOL | OF_CLEAN | OF_LOOK, K | L | B,
      F(R_CABINET, R_COFFEETABLE, R_COUNTERTOP, R_DESK, R_DININGTABLE, R_DRESSER, R_FRIDGE,
        R_MICROWAVE, R_SHELF, R_SIDETABLE, R_SINKBASIN) },
    { "box", OF_LOOK, L | B,
      F(R_ARMCHAIR, R_CABINET, R_COFFEETABLE, R_DININGTABLE, R_DRESSER, R_OTTOMAN, R_SHELF,
        R_SIDETABLE, R_SOFA) },
    { "bread", OF_HEAT | OF_COOL, K,
      F(R_CABINET, R_COUNTERTOP, R_DININGTABLE, R_FRIDGE, R_MICROWAVE) },
    { "butterknife", OF_CLEAN, K, F(R_COUNTERTOP, R_DININGTABLE, R_DRAWER, R_SINKBASIN) },
    { "candle", 0, A, F(R_BATHTUBBASIN, R_CABINET, R_COUNTERTOP, R_SHELF, R_TOILET) },
    { "cd", OF_LOOK, L | B,
      F(R_DESK, R_DRAWER, R_DRESSER, R_GARBAGECAN, R_SAFE, R_SHELF, R_SIDETABLE) },
    { "cellphone", OF_LOOK, L | B,
      F(R_ARMCHAIR, R_BED, R_COFFEETABLE, R_DESK, R_DRAWER, R_DRESSER, R_SAFE, R_SIDETABLE,
        R_SOFA) },
    { "cloth", OF_CLEAN, A | B,
      F(R_BATHTUBBASIN, R_CABINET, R_COUNTERTOP, R_DRAWER, R_LAUNDRYHAMPER, R_SHELF,
        R_SINKBASIN, R_TOILET) },
    { "creditcard", OF_LOOK, L | B,
      F(R_ARMCHAIR, R_COFFEETABLE, R_DESK, R_DININGTABLE, R_DRAWER, R_DRESSER, R_SHELF,
        R_SIDETABLE, R_SOFA) },
    { "cup", OF_HEAT | OF_COOL | OF_CLEAN, K,
      F(R_CABINET, R_COUNTERTOP, R_DININGTABLE, R_FRIDGE, R_MICROWAVE, R_SHELF, R_SINKBASIN) },
    { "desklamp", OF_LAMP, L | B, F(R_DESK, R_DRESSER, R_SIDETABLE) },
    { "dishsponge", OF_CLEAN, K | A, F(R_CABINET, R_COUNTERTOP, R_DRAWER, R_SINKBASIN) },
    { "egg", OF_HEAT | OF_COOL | OF_CLEAN, K,
      F(R_COUNTERTOP, R_DININGTABLE, R_FRIDGE, R_GARBAGECAN, R_MICROWAVE, R_SINKBASIN) },
    { "fork", OF_CLEAN, K, F(R_COUNTERTOP, R_DININGTABLE, R_DRAWER, R_SINKBASIN) },
    { "handtowel", 0, A, F(R_COUNTERTOP, R_HANDTOWELHOLDER) },
    { "kettle", OF_CLEAN, K, F(R_CABINET, R_COUNTERTOP, R_STOVEBURNER) },
    { "keychain", OF_LOOK, L | B,
      F(R_ARMCHAIR, R_COFFEETABLE, R_DESK, R_DRAWER, R_DRESSER, R_SAFE, R_SHELF, R_SIDETABLE,
        R_SOFA, R_TVSTAND) },
    { "knife", OF_CLEAN, K, F(R_COUNTERTOP, R_DININGTABLE, R_DRAWER, R_SINKBASIN) },
    { "ladle", OF_CLEAN, K, F(R_COUNTERTOP, R_DININGTABLE, R_DRAWER, R_SINKBASIN) },
    { "laptop", OF_LOOK, L | B,
      F(R_ARMCHAIR, R_BED, R_COFFEETABLE, R_DESK, R_DININGTABLE, R_OTTOMAN, R_SOFA) },
    { "lettuce", OF_COOL | OF_CLEAN, K,
      F(R_COUNTERTOP, R_DININGTABLE, R_FRIDGE, R_SINKBASIN) },
    { "mug", OF_HEAT | OF_COOL | OF_CLEAN | OF_LOOK, K | L | B,
      F(R_CABINET, R_COFFEEMACHINE, R_COUNTERTOP, R_DESK, R_DININGTABLE, R_FRIDGE,
        R_MICROWAVE, R_SHELF, R_SIDETABLE, R_SINKBASIN) },
    { "newspaper", OF_LOOK, L | B,
      F(R_ARMCHAIR, R_COFFEETABLE, R_DININGTABLE, R_DRESSER, R_OTTOMAN, R_SIDETABLE,
        R_SOFA) },
    { "pan", OF_COOL | OF_CLEAN, K,
      F(R_CABINET, R_COUNTERTOP, R_DININGTABLE, R_FRIDGE, R_SINKBASIN, R_STOVEBURNER) },
    { "pen", OF_LOOK, L | B, F(R_DESK, R_DRAWER, R_DRESSER, R_SHELF, R_SIDETABLE) },
    { "pencil", OF_LOOK, L | B, F(R_DESK, R_DRAWER, R_DRESSER, R_SHELF, R_SIDETABLE) },
    { "peppershaker", 0, K, F(R_CABINET, R_COUNTERTOP, R_DININGTABLE, R_DRAWER, R_SHELF) },
    { "pillow", OF_LOOK, L | B, F(R_ARMCHAIR, R_BED, R_OTTOMAN, R_SOFA) },
    { "plate", OF_HEAT | OF_COOL | OF_CLEAN, K,
      F(R_CABINET, R_COUNTERTOP, R_DININGTABLE, R_FRIDGE, R_SHELF, R_SINKBASIN) },
    { "pot", OF_COOL | OF_CLEAN, K,
      F(R_CABINET, R_COUNTERTOP, R_DININGTABLE, R_FRIDGE, R_SINKBASIN, R_STOVEBURNER) },
    { "potato", OF_HEAT | OF_COOL | OF_CLEAN, K,
      F(R_COUNTERTOP, R_DININGTABLE, R_FRIDGE, R_GARBAGECAN, R_MICROWAVE, R_SINKBASIN) },
    { "remotecontrol", OF_LOOK, L | B,
      F(R_ARMCHAIR, R_COFFEETABLE, R_DRESSER, R_OTTOMAN, R_SIDETABLE, R_SOFA, R_TVSTAND) },
    { "saltshaker", 0, K, F(R_CABINET, R_COUNTERTOP, R_DININGTABLE, R_DRAWER, R_SHELF) },
    { "soapbar", OF_CLEAN, A,
      F(R_BATHTUBBASIN, R_CABINET, R_COUNTERTOP, R_SINKBASIN, R_TOILET) },
    { "soapbottle", 0, K | A, F(R_CABINET, R_COUNTERTOP, R_SHELF, R_TOILET) },
    { "spatula", OF_CLEAN, K, F(R_COUNTERTOP, R_DININGTABLE, R_DRAWER, R_SINKBASIN) },
    { "spoon", OF_CLEAN, K, F(R_COUNTERTOP, R_DININGTABLE, R_DRAWER, R_SINKBASIN) },
    { "spraybottle", 0, A, F(R_CABINET, R_COUNTERTOP, R_GARBAGECAN, R_SHELF, R_TOILET) },
    { "statue", OF_LOOK, L | B,
      F(R_COFFEETABLE, R_DININGTABLE, R_DRESSER, R_SHELF, R_SIDETABLE, R_TVSTAND) },
    { "tissuebox", 0, L | B | A,
      F(R_COFFEETABLE, R_COUNTERTOP, R_DRESSER, R_SHELF, R_SIDETABLE, R_TOILET) },
    { "toiletpaper", 0, A,
      F(R_CABINET, R_COUNTERTOP, R_DRAWER, R_GARBAGECAN, R_SHELF, R_TOILET,
        R_TOILETPAPERHANGER) },
    { "tomato", OF_HEAT | OF_COOL | OF_CLEAN, K,
      F(R_COUNTERTOP, R_DININGTABLE, R_FRIDGE, R_GARBAGECAN, R_MICROWAVE, R_SINKBASIN) },
    { "towel", 0, A, F(R_BATHTUBBASIN, R_COUNTERTOP, R_TOWELHOLDER) },
    { "vase", OF_LOOK, L | B,
      F(R_CABINET, R_COFFEETABLE, R_DININGTABLE, R_DRESSER, R_SHELF, R_SIDETABLE) },
    { "watch", OF_LOOK, L | B,
      F(R_COFFEETABLE, R_DRAWER, R_DRESSER, R_SAFE, R_SHELF, R_SIDETABLE) },
    { "winebottle", OF_COOL, K,
      F(R_CABINET, R_COUNTERTOP, R_DININGTABLE, R_FRIDGE, R_SHELF) },
};
const size_t house_n_otypes = EEF_ARRAY_LEN(house_otypes);

#undef K
#undef L
#undef B
#undef A
#undef F

/* Receptacle counts per room kind, in the ranges ALFRED scenes show
 * (kitchens have many cabinets and drawers; bathrooms are small). */
static const house_room_part kitchen[] = {
    { R_CABINET, 4, 12 }, { R_COFFEEMACHINE, 1, 1 }, { R_COUNTERTOP, 1, 3 },
    { R_DININGTABLE, 0, 1 }, { R_DRAWER, 2, 8 }, { R_FRIDGE, 1, 1 },
    { R_GARBAGECAN, 1, 1 }, { R_MICROWAVE, 1, 1 }, { R_SHELF, 0, 3 },
    { R_SINKBASIN, 1, 1 }, { R_STOVEBURNER, 2, 4 }, { R_TOASTER, 1, 1 },
};
static const house_room_part livingroom[] = {
    { R_ARMCHAIR, 0, 2 }, { R_CABINET, 0, 4 }, { R_COFFEETABLE, 1, 2 },
    { R_DININGTABLE, 0, 1 }, { R_DRAWER, 1, 6 }, { R_DRESSER, 0, 1 },
    { R_GARBAGECAN, 1, 1 }, { R_OTTOMAN, 0, 1 }, { R_SHELF, 0, 6 },
    { R_SIDETABLE, 1, 2 }, { R_SOFA, 1, 1 }, { R_TVSTAND, 0, 1 },
};
static const house_room_part bedroom[] = {
    { R_ARMCHAIR, 0, 1 }, { R_BED, 1, 1 }, { R_DESK, 0, 2 }, { R_DRAWER, 2, 10 },
    { R_DRESSER, 0, 1 }, { R_GARBAGECAN, 1, 1 }, { R_LAUNDRYHAMPER, 0, 1 },
    { R_SAFE, 0, 1 }, { R_SHELF, 0, 6 }, { R_SIDETABLE, 1, 2 },
};
static const house_room_part bathroom[] = {
    { R_BATHTUBBASIN, 0, 1 }, { R_CABINET, 1, 4 }, { R_COUNTERTOP, 1, 1 },
    { R_DRAWER, 0, 4 }, { R_GARBAGECAN, 1, 1 }, { R_HANDTOWELHOLDER, 0, 1 },
    { R_SHELF, 0, 2 }, { R_SINKBASIN, 1, 2 }, { R_TOILET, 1, 1 },
    { R_TOILETPAPERHANGER, 1, 1 }, { R_TOWELHOLDER, 0, 1 },
};

const house_room_spec house_rooms[ROOM_N] = {
    [ROOM_KITCHEN] = { "kitchen", kitchen, EEF_ARRAY_LEN(kitchen), 16, 26 },
    [ROOM_LIVINGROOM] = { "livingroom", livingroom, EEF_ARRAY_LEN(livingroom), 10, 18 },
    [ROOM_BEDROOM] = { "bedroom", bedroom, EEF_ARRAY_LEN(bedroom), 10, 18 },
    [ROOM_BATHROOM] = { "bathroom", bathroom, EEF_ARRAY_LEN(bathroom), 8, 14 },
};

const char *const house_task_names[HT_N] = {
    "pick_and_place_simple", "pick_clean_then_place_in_recep",
    "pick_heat_then_place_in_recep", "pick_cool_then_place_in_recep",
    "look_at_obj_in_light", "pick_two_obj_and_place",
};
const char *const house_task_short[HT_N] = { "pick", "clean", "heat", "cool", "look", "pick_two" };

int house_rtype_idn(const char *name, size_t n)
{
    for (int i = 0; i < R_N; i++)
        if (strncmp(house_rtypes[i].name, name, n) == 0 && house_rtypes[i].name[n] == 0)
            return i;
    return -1;
}

int house_otype_idn(const char *name, size_t n)
{
    for (size_t i = 0; i < house_n_otypes; i++)
        if (strncmp(house_otypes[i].name, name, n) == 0 && house_otypes[i].name[n] == 0)
            return (int)i;
    return -1;
}

int house_rtype_id(const char *name) { return house_rtype_idn(name, strlen(name)); }
int house_otype_id(const char *name) { return house_otype_idn(name, strlen(name)); }

int house_otype_found_in(int otype, int rtype)
{
    const house_otype *t = &house_otypes[otype];
    for (int i = 0; i < t->n_found; i++)
        if (t->found[i] == rtype) return 1;
    return 0;
}

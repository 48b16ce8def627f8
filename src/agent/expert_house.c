/* expert_house.c: the teacher for the household world.
 *
 * It reads ONLY the observation text (never the hidden world): the room
 * list and goal of the first observation, then what each step's feedback
 * says ("You arrive at ...", "You open ...", "You pick up ..."), and plans
 * as the ReAct prompts of ALFWorld do: parse the goal, search the likely
 * receptacles for the object in a sensible order (where such things are
 * usually found, then the other surfaces, then closed drawers and
 * cabinets), take it, heat / cool / clean it at the microwave / fridge /
 * sink, and put it in the goal's receptacle; for look-in-light, carry it to
 * a desk lamp and turn the lamp on; for pick-two, do it twice.
 *
 * Its mistakes are drawn once per rollout from the rollout's rng stream
 * (the calibrated defaults win about 45% of train tasks; docs/house.md):
 *   p_no_open        searches only open surfaces, never opens to look inside
 *   p_skip_transform puts the object away without heating/cooling/cleaning
 *   p_stop_two       stops after the first object of a pick-two task
 *   p_wrong_recep    puts the object in a wrong receptacle (look tasks:
 *                    examines the object instead of using the lamp)
 *   budget           gives up (only looks) after this many steps; 0 = never
 * and two habits of a weaker player, off by default (profile=weak turns
 * them on, as `--expert weak`: GPT-3.5 to the default's GPT-4):
 *   p_confuse        misreads the goal's object as its look-alike (the next
 *                    kind in its group of usual places: a cup for a mug, a
 *                    fork for a knife) and takes whichever it sees first
 *   p_give_up        stops early: after searching 2 receptacles without
 *                    seeing the object it only looks
 *   stream           sub-stream of the rollout's stream its character is
 *                    drawn from (default 0, weak 1: the two profiles play
 *                    one rollout key independently)
 *   profile=default|weak  all knobs at once (give it first)
 * Failures keep useful key actions: the object was found and taken, and
 * only the transform, the second object or the place went wrong.
 */
#include "agent/policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XH_MAX_RECEP 64
#define XH_MAX_OBJ 96
#define XH_NAME 32

typedef struct {
    double p_no_open, p_skip_transform, p_stop_two, p_wrong_recep;
    long budget;
    double p_confuse, p_give_up;
    long stream; /* sub-stream of the rollout's stream its character is drawn from */
} xh_knobs;

static const xh_knobs xh_defaults = { 0.4, 0.6, 0.6, 0.2, 0, 0, 0, 0 };
/* the weak profile: about half the default's wins (docs/house.md) */
static const xh_knobs xh_weak = { 0.4, 0.6, 0.6, 0.2, 0, 1.0, 0.8, 1 };
#define XH_GIVE_UP_AFTER 2

typedef enum { G_PICK, G_CLEAN, G_HEAT, G_COOL, G_LOOK, G_TWO, G_UNKNOWN } xh_goal_kind;

/* What the expert believes, rebuilt from the history at every call. */
typedef struct {
    xh_goal_kind kind;
    char x[XH_NAME], y[XH_NAME]; /* object type and receptacle type of the goal */
    char x2[XH_NAME];            /* its look-alike, taken for it (p_confuse), or "" */
    int n_recep;
    char recep[XH_MAX_RECEP][XH_NAME];
    signed char open[XH_MAX_RECEP];   /* -1 unknown, 0 seen closed, 1 open / not openable */
    unsigned char seen[XH_MAX_RECEP]; /* its contents have been seen */
    int n_obj;
    char obj[XH_MAX_OBJ][XH_NAME];
    int oloc[XH_MAX_OBJ];             /* receptacle, -1 unknown, -2 in hand */
    unsigned char ostate[XH_MAX_OBJ]; /* bits: 1 hot, 2 cool, 4 clean */
    int at, held;                     /* receptacle / object index, -1 none */
    int placed;                       /* X put where the expert meant to put it */
    int placed_at;                    /* receptacle of the first put, -1 none */
    int lamp_used, examined;          /* look tasks */
} xh_belief;

typedef struct {
    eef_policy base;
    xh_knobs k;
} xh_policy;

typedef struct {
    eef_actor base;
    /* the rollout's weaknesses (see xh_act) */
    int no_open, skip_transform, stop_two, wrong_recep, confuse, give_up;
    double wrong_draw; /* chooses the wrong receptacle, in [0, 1) */
    xh_belief b;       /* scratch, rebuilt at every call */
} xh_actor;

/* ------------------------------------------------------------ text parsing */

static int starts(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* Copies the type word of "cabinet 3" ("cabinet"). */
static void type_of(const char *name, char *out)
{
    size_t n = strcspn(name, " ");
    if (n >= XH_NAME) n = XH_NAME - 1;
    memcpy(out, name, n);
    out[n] = 0;
}

static int same_type(const char *name, const char *type)
{
    size_t n = strlen(type);
    return strncmp(name, type, n) == 0 && name[n] == ' ';
}

static int find_recep(const xh_belief *b, const char *name, size_t n)
{
    for (int i = 0; i < b->n_recep; i++)
        if (strlen(b->recep[i]) == n && strncmp(b->recep[i], name, n) == 0) return i;
    return -1;
}

static int find_obj(xh_belief *b, const char *name, size_t n, int add)
{
    for (int i = 0; i < b->n_obj; i++)
        if (strlen(b->obj[i]) == n && strncmp(b->obj[i], name, n) == 0) return i;
    if (!add || b->n_obj >= XH_MAX_OBJ || n >= XH_NAME) return -1;
    int i = b->n_obj++;
    memcpy(b->obj[i], name, n);
    b->obj[i][n] = 0;
    b->oloc[i] = -1;
    b->ostate[i] = 0;
    return i;
}

/* Calls fn for each "a NAME" of a list "a A, a B, and a C" ending at '.'. */
typedef void (*xh_item_fn)(xh_belief *b, const char *name, size_t n, int arg);
static void each_item(xh_belief *b, const char *p, xh_item_fn fn, int arg)
{
    if (starts(p, "nothing")) return;
    while (*p) {
        if (starts(p, "and ")) p += 4;
        if (starts(p, "a ")) p += 2;
        size_t n = strcspn(p, ",.");
        if (n == 0) break;
        fn(b, p, n, arg);
        p += n;
        if (*p != ',') break;
        p++;
        while (*p == ' ') p++;
    }
}

static void add_recep(xh_belief *b, const char *name, size_t n, int arg)
{
    (void)arg;
    if (b->n_recep >= XH_MAX_RECEP || n >= XH_NAME) return;
    memcpy(b->recep[b->n_recep], name, n);
    b->recep[b->n_recep][n] = 0;
    b->open[b->n_recep] = -1;
    b->n_recep++;
}

static void seen_in(xh_belief *b, const char *name, size_t n, int r)
{
    int o = find_obj(b, name, n, 1);
    if (o >= 0) b->oloc[o] = r;
}

/* The sentence describing receptacle r: closed, or its contents. */
static void parse_recep_text(xh_belief *b, int r, const char *p)
{
    const char *q;
    if (r < 0) return;
    if (strstr(p, " is closed.")) {
        b->open[r] = 0;
        return;
    }
    if ((q = strstr(p, "you see ")) == NULL) return;
    b->open[r] = 1;
    b->seen[r] = 1;
    for (int i = 0; i < b->n_obj; i++)
        if (b->oloc[i] == r) b->oloc[i] = -1; /* what is gone is no longer here */
    each_item(b, q + 8, seen_in, r);
}

static void parse_goal(xh_belief *b, const char *g)
{
    static const struct {
        const char *pre, *mid;
        xh_goal_kind kind;
    } forms[] = {
        { "put a clean ", " in ", G_CLEAN }, { "clean some ", " and put it in ", G_CLEAN },
        { "put a hot ", " in ", G_HEAT },    { "heat some ", " and put it in ", G_HEAT },
        { "put a cool ", " in ", G_COOL },   { "cool some ", " and put it in ", G_COOL },
        { "put two ", " in ", G_TWO },       { "find two ", " and put them in ", G_TWO },
        { "look at ", " under the ", G_LOOK }, { "examine the ", " with the ", G_LOOK },
        { "put a ", " in ", G_PICK },        { "put some ", " on ", G_PICK },
    };
    b->kind = G_UNKNOWN;
    for (size_t f = 0; f < EEF_ARRAY_LEN(forms); f++) {
        if (!starts(g, forms[f].pre)) continue;
        const char *x = g + strlen(forms[f].pre), *m = strstr(x, forms[f].mid);
        if (!m) continue;
        size_t xn = (size_t)(m - x);
        const char *y = m + strlen(forms[f].mid);
        size_t yn = strcspn(y, ".\n");
        if (xn == 0 || xn >= XH_NAME || yn == 0 || yn >= XH_NAME) continue;
        memcpy(b->x, x, xn);
        b->x[xn] = 0;
        memcpy(b->y, y, yn);
        b->y[yn] = 0;
        b->kind = forms[f].kind;
        return;
    }
}

static void parse_intro(xh_belief *b, const char *obs)
{
    const char *p = strstr(obs, "you see ");
    if (p) each_item(b, p + 8, add_recep, 0);
    const char *g = strstr(obs, "Your task is to: ");
    if (g) parse_goal(b, g + 17);
}

/* The name starting at p and ending before `stop`: its length in *n. */
static const char *name_until(const char *p, const char *stop, size_t *n)
{
    const char *e = strstr(p, stop);
    if (!e) return NULL;
    *n = (size_t)(e - p);
    return p;
}

/* the goal's object, or (a confused player) its look-alike */
static int is_x(const xh_belief *b, int o)
{
    return o >= 0 && (same_type(b->obj[o], b->x) || (b->x2[0] && same_type(b->obj[o], b->x2)));
}

/* Updates the belief with what one step's feedback says. */
static void parse_step(xh_belief *b, const char *obs)
{
    const char *p;
    size_t n;
    if (starts(obs, "Nothing happens.")) return;
    if (starts(obs, "You arrive at ")) {
        p = obs + 14;
        if (!name_until(p, ". ", &n)) return;
        b->at = find_recep(b, p, n);
        parse_recep_text(b, b->at, p + n + 2);
    } else if (starts(obs, "You open the ")) {
        p = obs + 13;
        if (!name_until(p, ". ", &n)) return;
        parse_recep_text(b, find_recep(b, p, n), p + n + 2);
    } else if (starts(obs, "You close the ")) {
        p = obs + 14;
        if (name_until(p, ".", &n)) {
            int r = find_recep(b, p, n);
            if (r >= 0) b->open[r] = 0;
        }
    } else if (starts(obs, "You pick up the ")) {
        p = obs + 16;
        if (!name_until(p, " from the ", &n)) return;
        int o = find_obj(b, p, n, 1);
        if (o >= 0) b->oloc[o] = -2, b->held = o;
    } else if (starts(obs, "You put the ")) {
        p = obs + 12;
        if (!name_until(p, " in/on the ", &n)) return;
        int o = find_obj(b, p, n, 1);
        const char *q = p + n + 11;
        size_t m;
        if (!name_until(q, ".", &m)) return;
        int r = find_recep(b, q, m);
        if (o >= 0) b->oloc[o] = r;
        b->held = -1;
        if (is_x(b, o)) {
            b->placed++;
            if (b->placed_at < 0) b->placed_at = r;
        }
    } else if (starts(obs, "You heat the ") || starts(obs, "You cool the ") ||
               starts(obs, "You clean the ")) {
        unsigned bit = obs[4] == 'h' ? 1 : obs[5] == 'o' ? 2 : 4;
        p = obs + (bit == 4 ? 14 : 13);
        if (!name_until(p, " using the ", &n)) return;
        int o = find_obj(b, p, n, 1);
        if (o >= 0) {
            if (bit != 4) b->ostate[o] &= (unsigned char)~3u;
            b->ostate[o] |= (unsigned char)bit;
        }
    } else if (starts(obs, "You turn on the ")) {
        if (b->held >= 0 && is_x(b, b->held)) b->lamp_used = 1;
    } else if (starts(obs, "This is ") || starts(obs, "There's nothing special about ")) {
        if (b->kind == G_LOOK && b->held >= 0 && is_x(b, b->held)) b->examined = 1;
    } else if (b->at >= 0 && (starts(obs, "On the ") || starts(obs, "The "))) {
        parse_recep_text(b, b->at, obs); /* examine R */
    }
}

static void lookalike_type(const char *x, char *out);

static void build_belief(xh_belief *b, const eef_context *ctx, int confuse)
{
    memset(b, 0, sizeof *b);
    b->at = b->held = b->placed_at = -1;
    parse_intro(b, ctx->obs[0]);
    if (confuse && b->x[0]) lookalike_type(b->x, b->x2);
    for (size_t i = 0; i < ctx->n; i++) parse_step(b, ctx->obs[i + 1]);
}

/* ---------------------------------------------------------------- planning */

static int openable_type(const char *name)
{
    static const char *const t[] = { "cabinet", "drawer", "fridge", "microwave", "safe" };
    for (size_t i = 0; i < EEF_ARRAY_LEN(t); i++)
        if (same_type(name, t[i])) return 1;
    return 0;
}

/* Where such things usually are (ALFWorld ReAct prompts reason this way:
 * "a lettuce is more likely to appear in fridge, diningtable, sinkbasin"). */
static const struct {
    const char *objs, *places;
} hints[] = {
    { " apple bread egg lettuce potato tomato ",
      "fridge countertop diningtable sinkbasin microwave garbagecan" },
    { " mug cup bowl plate ",
      "countertop diningtable sinkbasin coffeemachine shelf cabinet fridge microwave" },
    { " pan pot kettle ", "stoveburner countertop diningtable sinkbasin cabinet" },
    { " knife butterknife fork spoon spatula ladle ", "countertop diningtable sinkbasin drawer" },
    { " soapbar soapbottle cloth candle spraybottle toiletpaper dishsponge ",
      "countertop sinkbasin bathtubbasin toilet shelf cabinet" },
    { " pen pencil cd creditcard keychain watch cellphone alarmclock ",
      "desk sidetable dresser shelf drawer" },
    { " book laptop pillow newspaper remotecontrol ",
      "bed sofa armchair coffeetable desk sidetable" },
    { " peppershaker saltshaker ", "countertop diningtable shelf cabinet drawer" },
    { " winebottle ", "fridge countertop diningtable shelf cabinet" },
    { " vase statue box tissuebox ", "shelf dresser sidetable coffeetable diningtable" },
    { " towel handtowel ", "towelholder handtowelholder countertop bathtubbasin" },
    { " desklamp ", "sidetable desk dresser" },
};

/* The kind listed after x in its group of hints (the first after the
 * last), "" when x has no group or is alone in it. */
static void lookalike_type(const char *x, char *out)
{
    out[0] = 0;
    char key[XH_NAME + 2];
    snprintf(key, sizeof key, " %s ", x);
    for (size_t i = 0; i < EEF_ARRAY_LEN(hints); i++) {
        const char *objs = hints[i].objs, *hit = strstr(objs, key);
        if (!hit) continue;
        const char *next = hit + strlen(key);
        if (!*next) next = objs + 1; /* wrap around to the first */
        size_t n = strcspn(next, " ");
        if (n == 0 || n >= XH_NAME || (strncmp(next, x, n) == 0 && x[n] == 0)) return;
        memcpy(out, next, n);
        out[n] = 0;
        return;
    }
}

static const char *likely_places(const char *x)
{
    char key[XH_NAME + 2];
    snprintf(key, sizeof key, " %s ", x);
    for (size_t i = 0; i < EEF_ARRAY_LEN(hints); i++)
        if (strstr(hints[i].objs, key)) return hints[i].places;
    return "";
}

/* Rank of receptacle r in the search for `x`: likely places first (in the
 * hint's order), then other surfaces, then other closed receptacles, the
 * goal's own receptacle type last; a whole type at a time (in room-list
 * order), lower numbers first within it. */
static int search_rank(const xh_belief *b, int r, const char *x)
{
    char t[XH_NAME];
    type_of(b->recep[r], t);
    int first = 0; /* where the type first appears in the room list */
    while (first < r && !same_type(b->recep[first], t)) first++;
    const char *places = likely_places(x), *hit = strstr(places, t);
    int num = atoi(b->recep[r] + strlen(t));
    int group;
    size_t tl = strlen(t);
    if (hit && (hit == places || hit[-1] == ' ') && (hit[tl] == ' ' || hit[tl] == 0))
        group = (int)(hit - places); /* position in the hint: < 1000 */
    else if (!openable_type(b->recep[r])) group = 1000;
    else group = 2000;
    if (strcmp(t, b->y) == 0) group = 3000;
    return (group * XH_MAX_RECEP + first) * 1000 + num;
}

/* The next receptacle to search for `x`, or -1 when all are done. */
static int next_search(const xh_actor *a, const xh_belief *b, const char *x)
{
    int best = -1, best_rank = 1 << 30;
    for (int r = 0; r < b->n_recep; r++) {
        if (b->seen[r]) continue;
        if (a->no_open && openable_type(b->recep[r])) continue;
        int rank = search_rank(b, r, x);
        if (rank < best_rank) best = r, best_rank = rank;
    }
    return best;
}

static int first_of_type(const xh_belief *b, const char *type)
{
    int best = -1, best_num = 1 << 30;
    for (int r = 0; r < b->n_recep; r++) {
        if (!same_type(b->recep[r], type)) continue;
        int num = atoi(b->recep[r] + strlen(type));
        if (num < best_num) best = r, best_num = num;
    }
    return best;
}

static int known_lamp(const xh_belief *b)
{
    for (int o = 0; o < b->n_obj; o++)
        if (same_type(b->obj[o], "desklamp") && b->oloc[o] >= 0) return o;
    return -1;
}

/* Where the expert puts the object: the goal's receptacle (for pick-two
 * the one already holding the first), or its chosen wrong one. */
static int put_target(const xh_actor *a, const xh_belief *b)
{
    if (b->placed_at >= 0) return b->placed_at;
    if (a->wrong_recep) {
        int cand[XH_MAX_RECEP], n = 0;
        for (int r = 0; r < b->n_recep; r++)
            if (!same_type(b->recep[r], b->y) && !openable_type(b->recep[r])) cand[n++] = r;
        if (n > 0) return cand[(int)(a->wrong_draw * n)];
    }
    return first_of_type(b, b->y);
}

static void say(eef_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(eef_buf *out, const char *fmt, ...)
{
    char line[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    eef_buf_clear(out);
    eef_buf_puts(out, line);
}

/* Go to receptacle r, open it when seen closed, then do `then`. */
static void reach(const xh_belief *b, int r, const char *then, eef_buf *out)
{
    if (b->at != r) say(out, "go to %s", b->recep[r]);
    else if (b->open[r] == 0) say(out, "open %s", b->recep[r]);
    else say(out, "%s", then);
}

static const char *transform_verb(xh_goal_kind k)
{
    return k == G_HEAT ? "heat" : k == G_COOL ? "cool" : k == G_CLEAN ? "clean" : NULL;
}

static int appliance(const xh_belief *b, xh_goal_kind k)
{
    if (k == G_HEAT) return first_of_type(b, "microwave");
    if (k == G_COOL) return first_of_type(b, "fridge");
    int r = first_of_type(b, "sinkbasin");
    return r >= 0 ? r : first_of_type(b, "bathtubbasin");
}

static void decide(const xh_actor *a, const xh_belief *b, size_t n, long budget, eef_buf *out)
{
    char then[128];
    say(out, "look"); /* giving up, or believing the task done */
    if (b->kind == G_UNKNOWN || (budget > 0 && (long)n >= budget)) return;
    int need = b->kind == G_TWO ? (a->stop_two ? 1 : 2) : 1;
    if (b->kind == G_LOOK ? (b->lamp_used || b->examined) : b->placed >= need) return;

    if (b->held >= 0) {
        const char *o = b->obj[b->held];
        if (!is_x(b, b->held)) { /* not ours (a state it did not reach itself) */
            int r = b->at >= 0 && b->open[b->at] != 0 ? b->at : first_of_type(b, "countertop");
            if (r < 0) r = 0;
            snprintf(then, sizeof then, "put %s in/on %s", o, b->recep[r]);
            reach(b, r, then, out);
            return;
        }
        const char *verb = transform_verb(b->kind);
        unsigned bit = b->kind == G_HEAT ? 1 : b->kind == G_COOL ? 2 : 4;
        if (verb && !a->skip_transform && !(b->ostate[b->held] & bit)) {
            int r = appliance(b, b->kind);
            if (r < 0) return;
            if (b->at != r) say(out, "go to %s", b->recep[r]);
            else say(out, "%s %s with %s", verb, o, b->recep[r]);
            return;
        }
        if (b->kind == G_LOOK) {
            if (a->wrong_recep) {
                say(out, "examine %s", o);
                return;
            }
            int lamp = known_lamp(b);
            if (lamp >= 0) {
                snprintf(then, sizeof then, "use %s", b->obj[lamp]);
                reach(b, b->oloc[lamp], then, out);
                return;
            }
            int r = next_search(a, b, "desklamp");
            if (r >= 0) reach(b, r, "look", out);
            return;
        }
        int r = put_target(a, b);
        if (r < 0) return;
        snprintf(then, sizeof then, "put %s in/on %s", o, b->recep[r]);
        reach(b, r, then, out);
        return;
    }

    /* hands empty: an X seen somewhere other than where it was put */
    for (int o = 0; o < b->n_obj; o++) {
        if (!is_x(b, o) || b->oloc[o] < 0) continue;
        if (b->placed_at >= 0 && b->oloc[o] == b->placed_at) continue;
        snprintf(then, sizeof then, "take %s from %s", b->obj[o], b->recep[b->oloc[o]]);
        reach(b, b->oloc[o], then, out);
        return;
    }
    /* search on: arriving (or opening) shows the contents, so "look" is
     * only a fallback that reach never reaches for an unseen receptacle;
     * a player who gives up stops after a few fruitless ones */
    if (a->give_up && b->placed == 0) {
        int searched = 0;
        for (int s = 0; s < b->n_recep; s++) searched += b->seen[s];
        if (searched >= XH_GIVE_UP_AFTER) return;
    }
    int r = next_search(a, b, b->x);
    if (r >= 0) reach(b, r, "look", out);
}

/* ------------------------------------------------------------------ vtable */

static eef_err xh_actor_open(eef_policy *p, eef_actor **out)
{
    xh_actor *a = eef_calloc(1, sizeof *a);
    if (!a) return EEF_ENOMEM;
    a->base.policy = p;
    *out = &a->base;
    return EEF_OK;
}

static eef_err xh_act(eef_actor *actor, const eef_context *ctx, eef_rng *rng, eef_buf *action)
{
    xh_actor *a = (xh_actor *)actor;
    const xh_knobs *k = &((xh_policy *)actor->policy)->k;
    /* The rollout's character comes from a sub-stream keyed by the
     * rollout's stream, not from its position: every call of one rollout
     * sees the same weaknesses, whatever the order in which a runner
     * interleaves rollouts on this actor, and the expert needs no memory
     * between calls (it rebuilds its belief from the history). */
    eef_rng c = eef_rng_make(eef_rng_key(rng->key, EEF_STREAM_HOUSE_EXPERT, (uint64_t)k->stream, 0));
    a->no_open = eef_rng_uniform(&c) < k->p_no_open;
    a->skip_transform = eef_rng_uniform(&c) < k->p_skip_transform;
    a->stop_two = eef_rng_uniform(&c) < k->p_stop_two;
    a->wrong_recep = eef_rng_uniform(&c) < k->p_wrong_recep;
    a->wrong_draw = eef_rng_uniform(&c);
    a->confuse = eef_rng_uniform(&c) < k->p_confuse;
    a->give_up = eef_rng_uniform(&c) < k->p_give_up;
    build_belief(&a->b, ctx, a->confuse);
    decide(a, &a->b, ctx->n, k->budget, action);
    if (a->confuse && !a->skip_transform && action->data && ctx->valid && ctx->valid->items.n &&
        !eef_actions_allows(ctx->valid, action->data)) {
        /* a look-alike taken by mistake may not take the transform: put it
         * away as it is (the default's plans are always allowed) */
        a->skip_transform = 1;
        decide(a, &a->b, ctx->n, k->budget, action);
    }
    if (!action->data) return eef_fail(EEF_ENOMEM, "expert-house: out of memory");
    return EEF_OK;
}

static void xh_actor_close(eef_actor *a) { free(a); }
static void xh_close(eef_policy *p) { free(p); }

static const eef_policy_ops xh_ops = {
    .version = EEF_POLICY_OPS_VERSION,
    .name = "expert-house",
    .actor_open = xh_actor_open,
    .act = xh_act,
    .actor_close = xh_actor_close,
    .close = xh_close,
};

static eef_err xh_option(const char *key, const char *value, void *ctx)
{
    xh_knobs *k = ctx;
    double *p = strcmp(key, "p_no_open") == 0          ? &k->p_no_open
                : strcmp(key, "p_skip_transform") == 0 ? &k->p_skip_transform
                : strcmp(key, "p_stop_two") == 0       ? &k->p_stop_two
                : strcmp(key, "p_wrong_recep") == 0    ? &k->p_wrong_recep
                                                       : NULL;
    if (!p) p = strcmp(key, "p_confuse") == 0 ? &k->p_confuse : strcmp(key, "p_give_up") == 0 ? &k->p_give_up : NULL;
    if (p) return eef_parse_double(value, 0, 1, key, p);
    if (strcmp(key, "profile") == 0) {
        if (strcmp(value, "default") == 0) *k = xh_defaults;
        else if (strcmp(value, "weak") == 0) *k = xh_weak;
        else return eef_fail(EEF_EINVAL, "expert-house: unknown profile '%s' (default, weak)", value);
        return EEF_OK;
    }
    if (strcmp(key, "stream") == 0) return eef_parse_long(value, 0, 1L << 30, key, &k->stream);
    if (strcmp(key, "budget") == 0) return eef_parse_long(value, 0, 100000, key, &k->budget);
    return eef_fail(EEF_EINVAL,
                    "expert-house: unknown option '%s' (p_no_open, p_skip_transform, "
                    "p_stop_two, p_wrong_recep, budget, p_confuse, p_give_up, stream, profile)",
                    key);
}

eef_err eef_expert_house_open(const char *options, eef_policy **out)
{
    *out = NULL;
    xh_knobs k = xh_defaults;
    EEF_TRY(eef_env_options(options, xh_option, &k));
    xh_policy *p = eef_calloc(1, sizeof *p);
    if (!p) return EEF_ENOMEM;
    p->base.ops = &xh_ops;
    p->k = k;
    *out = &p->base;
    return EEF_OK;
}

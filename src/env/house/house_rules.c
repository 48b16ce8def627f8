/* house_rules.c: the action grammar, preconditions, effects and goals.
 *
 * Preconditions follow ALFWorld's PDDL domain (alfred.pddl): one must be at
 * a receptacle to open, close, take from, put in or examine it; a closed
 * openable receptacle hides its contents and refuses take and put; the
 * agent holds at most one object; heat / cool / clean need the object in
 * hand at a microwave / fridge / sinkbasin (the appliance need not be open);
 * "use" toggles a desk lamp at the agent's receptacle.
 *
 * house_valid() is the single source of truth: house_list_acts() lists
 * candidates filtered by it, and a step applies an act only when it holds.
 */
#include "house_internal.h"

#include <string.h>

void house_state_init(const house_layout *L, eef_split split, size_t index, house_state *s)
{
    memset(s, 0, sizeof *s);
    memcpy(s->oloc, L->oloc0, L->n_obj);
    for (int i = L->n_obj; i < HOUSE_MAX_OBJ; i++) s->oloc[i] = HOUSE_NONE;
    s->at = HOUSE_NONE;
    s->held = HOUSE_NONE;
    s->split = (uint8_t)split;
    s->index = (uint32_t)index;
    s->started = 1;
}

/* ------------------------------------------------------------------ parse */

/* Reads "name N" (lower-case word, one space, a number without leading
 * zero) naming a receptacle (want_recep) or an object of this layout. */
static const char *entity(const house_layout *L, const char *p, int want_recep, uint8_t *idx)
{
    const char *w = p;
    while (*p >= 'a' && *p <= 'z') p++;
    size_t wl = (size_t)(p - w);
    if (wl == 0 || *p != ' ') return NULL;
    p++;
    if (*p < '1' || *p > '9') return NULL;
    unsigned num = 0;
    for (int k = 0; *p >= '0' && *p <= '9'; p++, k++) {
        if (k >= 3) return NULL;
        num = num * 10 + (unsigned)(*p - '0');
    }
    if (want_recep) {
        int t = house_rtype_idn(w, wl);
        if (t < 0) return NULL;
        for (int i = 0; i < L->n_recep; i++)
            if (L->rtype[i] == t && L->rnum[i] == num) return *idx = (uint8_t)i, p;
    } else {
        int t = house_otype_idn(w, wl);
        if (t < 0) return NULL;
        for (int i = 0; i < L->n_obj; i++)
            if (L->otype[i] == t && L->onum[i] == num) return *idx = (uint8_t)i, p;
    }
    return NULL;
}

static const char *lit(const char *p, const char *s)
{
    size_t n = strlen(s);
    return strncmp(p, s, n) == 0 ? p + n : NULL;
}

int house_parse(const house_layout *L, const char *text, house_act *a)
{
    const char *p;
    a->obj = a->recep = HOUSE_NONE;
    if (strcmp(text, "look") == 0) return a->verb = HV_LOOK, 1;
    if (strcmp(text, "inventory") == 0) return a->verb = HV_INV, 1;

    static const struct {
        const char *prefix, *mid;
        uint8_t verb;
    } forms[] = {
        { "go to ", NULL, HV_GOTO }, { "open ", NULL, HV_OPEN },
        { "close ", NULL, HV_CLOSE }, { "take ", " from ", HV_TAKE },
        { "put ", " in/on ", HV_PUT }, { "clean ", " with ", HV_CLEAN },
        { "heat ", " with ", HV_HEAT }, { "cool ", " with ", HV_COOL },
        { "use ", NULL, HV_USE },
    };
    for (size_t f = 0; f < EEF_ARRAY_LEN(forms); f++) {
        if (!(p = lit(text, forms[f].prefix))) continue;
        a->verb = forms[f].verb;
        if (forms[f].mid) {
            if (!(p = entity(L, p, 0, &a->obj)) || !(p = lit(p, forms[f].mid))) return 0;
            if (!(p = entity(L, p, 1, &a->recep))) return 0;
        } else if (a->verb == HV_USE) {
            if (!(p = entity(L, p, 0, &a->obj))) return 0;
        } else if (!(p = entity(L, p, 1, &a->recep))) {
            return 0;
        }
        return *p == 0;
    }
    if ((p = lit(text, "examine "))) {
        const char *q;
        if ((q = entity(L, p, 1, &a->recep)) && *q == 0) return a->verb = HV_EXAM_R, 1;
        a->recep = HOUSE_NONE;
        if ((q = entity(L, p, 0, &a->obj)) && *q == 0) return a->verb = HV_EXAM_O, 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ rules */

static int is_cleaner(int rt) { return rt == R_SINKBASIN || rt == R_BATHTUBBASIN; }

int house_valid(const house_layout *L, const house_state *s, const house_act *a)
{
    int r = a->recep, o = a->obj;
    /* names out of this layout (only a corrupt act can carry them) */
    if ((r != HOUSE_NONE && r >= L->n_recep) || (o != HOUSE_NONE && o >= L->n_obj)) return 0;
    static const uint8_t needs_obj[HV_N] = { [HV_TAKE] = 1, [HV_PUT] = 1, [HV_CLEAN] = 1,
                                             [HV_HEAT] = 1, [HV_COOL] = 1, [HV_USE] = 1,
                                             [HV_EXAM_O] = 1 };
    if (a->verb >= HV_N || (needs_obj[a->verb] && o == HOUSE_NONE)) return 0;
    unsigned of = o != HOUSE_NONE ? house_otypes[L->otype[o]].flags : 0;
    int rt = r != HOUSE_NONE ? L->rtype[r] : -1;
    int openable = r != HOUSE_NONE && house_rtypes[rt].openable;
    switch ((house_verb)a->verb) {
    case HV_GOTO: return r != HOUSE_NONE && r != s->at;
    case HV_OPEN: return r == s->at && openable && !s->ropen[r];
    case HV_CLOSE: return r == s->at && openable && s->ropen[r];
    case HV_TAKE:
        return r != HOUSE_NONE && r == s->at && house_accessible(L, s, r) && s->oloc[o] == r &&
               s->held == HOUSE_NONE && !(of & OF_LAMP);
    case HV_PUT:
        return r != HOUSE_NONE && r == s->at && s->held == o && house_accessible(L, s, r);
    case HV_CLEAN: return r == s->at && s->held == o && is_cleaner(rt) && (of & OF_CLEAN);
    case HV_HEAT: return r == s->at && s->held == o && rt == R_MICROWAVE && (of & OF_HEAT);
    case HV_COOL: return r == s->at && s->held == o && rt == R_FRIDGE && (of & OF_COOL);
    case HV_USE:
        return (of & OF_LAMP) && s->at != HOUSE_NONE && s->oloc[o] == s->at &&
               house_accessible(L, s, s->at);
    case HV_EXAM_R: return r != HOUSE_NONE && r == s->at;
    case HV_EXAM_O: return o != HOUSE_NONE && s->held == o;
    case HV_INV:
    case HV_LOOK: return 1;
    case HV_N: break;
    }
    return 0;
}

static void put_name(eef_buf *b, const char *s, size_t n) { eef_buf_append(b, s, n); }

/* ALFWorld's examineObject feedback. */
static void text_object(const house_layout *L, const house_names *N, const house_state *s,
                        int o, eef_buf *b)
{
    unsigned f = s->oflag[o];
    const char *state = NULL;
    if ((f & OS_CLEAN) && (f & OS_HOT)) state = "hot and clean";
    else if ((f & OS_CLEAN) && (f & OS_COOL)) state = "cool and clean";
    else if (f & OS_HOT) state = "hot";
    else if (f & OS_CLEAN) state = "clean";
    else if (f & OS_COOL) state = "cold";
    if (state) {
        eef_buf_printf(b, "This is a %s %s.", state, N->o[o]);
    } else if (house_otypes[L->otype[o]].flags & OF_LAMP) {
        eef_buf_printf(b, "This %s is %s.", N->o[o], (f & OS_ON) ? "on" : "off");
    } else {
        eef_buf_printf(b, "There's nothing special about %s.", N->o[o]);
    }
}

void house_apply(const house_layout *L, const house_names *N, house_state *s,
                 const house_act *a, eef_buf *b)
{
    int r = a->recep, o = a->obj;
    eef_buf_clear(b);
    switch ((house_verb)a->verb) {
    case HV_GOTO:
        s->at = (uint8_t)r;
        eef_buf_append(b, "You arrive at ", 14);
        put_name(b, N->r[r], N->rlen[r]);
        eef_buf_append(b, ". ", 2);
        house_text_recep(L, N, s, r, b);
        break;
    case HV_OPEN:
        s->ropen[r] = 1;
        eef_buf_append(b, "You open the ", 13);
        put_name(b, N->r[r], N->rlen[r]);
        eef_buf_append(b, ". ", 2);
        house_text_recep(L, N, s, r, b);
        break;
    case HV_CLOSE:
        s->ropen[r] = 0;
        eef_buf_printf(b, "You close the %s.", N->r[r]);
        break;
    case HV_TAKE:
        s->oloc[o] = HOUSE_HELD;
        s->held = (uint8_t)o;
        eef_buf_printf(b, "You pick up the %s from the %s.", N->o[o], N->r[r]);
        break;
    case HV_PUT:
        s->oloc[o] = (uint8_t)r;
        s->held = HOUSE_NONE;
        eef_buf_printf(b, "You put the %s in/on the %s.", N->o[o], N->r[r]);
        break;
    case HV_CLEAN:
        s->oflag[o] |= OS_CLEAN;
        eef_buf_printf(b, "You clean the %s using the %s.", N->o[o], N->r[r]);
        break;
    case HV_HEAT:
        s->oflag[o] = (uint8_t)((s->oflag[o] | OS_HOT) & ~OS_COOL);
        eef_buf_printf(b, "You heat the %s using the %s.", N->o[o], N->r[r]);
        break;
    case HV_COOL:
        s->oflag[o] = (uint8_t)((s->oflag[o] | OS_COOL) & ~OS_HOT);
        eef_buf_printf(b, "You cool the %s using the %s.", N->o[o], N->r[r]);
        break;
    case HV_USE:
        s->oflag[o] ^= OS_ON;
        eef_buf_printf(b, "You turn %s the %s.", (s->oflag[o] & OS_ON) ? "on" : "off", N->o[o]);
        break;
    case HV_EXAM_R: house_text_recep(L, N, s, r, b); break;
    case HV_EXAM_O: text_object(L, N, s, o, b); break;
    case HV_INV:
        if (s->held == HOUSE_NONE) eef_buf_puts(b, "You are not carrying anything.");
        else eef_buf_printf(b, "You are carrying: a %s.", N->o[s->held]);
        break;
    case HV_LOOK:
        if (s->at == HOUSE_NONE) house_text_room(L, N, b);
        else eef_buf_printf(b, "You are facing the %s. Next to it, you see nothing.", N->r[s->at]);
        break;
    case HV_N: break;
    }
}

/* ALFWorld's goals are over types: any X in any Y (two X in the same Y for
 * pick-two), in the required state; for look-in-light, an X in hand where a
 * desk lamp is on. */
int house_goal_met(const house_layout *L, const house_state *s)
{
    int x = L->target_o, y = L->target_r;
    unsigned need = L->type == HT_CLEAN ? OS_CLEAN
                    : L->type == HT_HEAT ? OS_HOT
                    : L->type == HT_COOL ? OS_COOL
                                         : 0;
    if (L->type == HT_LOOK) {
        if (s->held == HOUSE_NONE || L->otype[s->held] != x || s->at == HOUSE_NONE) return 0;
        for (int i = 0; i < L->n_obj; i++)
            if (s->oloc[i] == s->at && (s->oflag[i] & OS_ON)) return 1;
        return 0;
    }
    uint8_t count[HOUSE_MAX_RECEP] = { 0 };
    int want = L->type == HT_TWO ? 2 : 1;
    for (int i = 0; i < L->n_obj; i++) {
        int r = s->oloc[i];
        if (L->otype[i] != x || r >= L->n_recep || L->rtype[r] != y) continue;
        if ((s->oflag[i] & need) != need) continue;
        if (++count[r] >= want) return 1;
    }
    return 0;
}

size_t house_list_acts(const house_layout *L, const house_state *s, house_act *out, size_t cap)
{
    size_t n = 0;
#define ADD(v, o_, r_)                                                         \
    do {                                                                       \
        house_act a_ = { (uint8_t)(v), (uint8_t)(o_), (uint8_t)(r_) };         \
        if (n < cap && house_valid(L, s, &a_)) out[n++] = a_;                  \
    } while (0)
    for (int r = 0; r < L->n_recep; r++) ADD(HV_GOTO, HOUSE_NONE, r);
    if (s->at != HOUSE_NONE) {
        int r = s->at;
        ADD(HV_OPEN, HOUSE_NONE, r);
        ADD(HV_CLOSE, HOUSE_NONE, r);
        if (s->held == HOUSE_NONE)
            for (int o = 0; o < L->n_obj; o++)
                if (s->oloc[o] == r) ADD(HV_TAKE, o, r);
        if (s->held != HOUSE_NONE) {
            ADD(HV_PUT, s->held, r);
            ADD(HV_CLEAN, s->held, r);
            ADD(HV_HEAT, s->held, r);
            ADD(HV_COOL, s->held, r);
        }
        for (int o = 0; o < L->n_obj; o++)
            if (s->oloc[o] == r) ADD(HV_USE, o, HOUSE_NONE);
        ADD(HV_EXAM_R, HOUSE_NONE, r);
    }
    if (s->held != HOUSE_NONE) ADD(HV_EXAM_O, s->held, HOUSE_NONE);
    ADD(HV_INV, HOUSE_NONE, HOUSE_NONE);
    ADD(HV_LOOK, HOUSE_NONE, HOUSE_NONE);
#undef ADD
    return n;
}

static size_t cat(char *out, size_t n, size_t cap, const char *s, size_t len)
{
    if (n + len < cap) memcpy(out + n, s, len);
    return n + len;
}

size_t house_format(const house_names *N, const house_act *a, char *out, size_t cap)
{
    static const char *const head[HV_N] = {
        [HV_GOTO] = "go to ", [HV_OPEN] = "open ", [HV_CLOSE] = "close ",
        [HV_TAKE] = "take ", [HV_PUT] = "put ", [HV_CLEAN] = "clean ",
        [HV_HEAT] = "heat ", [HV_COOL] = "cool ", [HV_USE] = "use ",
        [HV_EXAM_R] = "examine ", [HV_EXAM_O] = "examine ", [HV_INV] = "inventory",
        [HV_LOOK] = "look",
    };
    static const char *const mid[HV_N] = {
        [HV_TAKE] = " from ", [HV_PUT] = " in/on ", [HV_CLEAN] = " with ",
        [HV_HEAT] = " with ", [HV_COOL] = " with ",
    };
    size_t n = cat(out, 0, cap, head[a->verb], strlen(head[a->verb]));
    if (a->obj != HOUSE_NONE) n = cat(out, n, cap, N->o[a->obj], N->olen[a->obj]);
    if (mid[a->verb]) n = cat(out, n, cap, mid[a->verb], strlen(mid[a->verb]));
    if (a->recep != HOUSE_NONE) n = cat(out, n, cap, N->r[a->recep], N->rlen[a->recep]);
    if (n < cap) out[n] = 0;
    else if (cap) out[cap - 1] = 0;
    return n;
}

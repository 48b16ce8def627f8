/* eef stats: what a trajectory file holds: outcome overall, by tier and by
 * source, lengths, loss masks, how often a stated price bound was broken,
 * and an action-type histogram that sets the actions of won trajectories
 * beside those of failed ones. */
#include "cli.h"
#include "traj/traj.h"

#include <cjson/cJSON.h>
#include <string.h>

static double pct(size_t a, size_t b) { return b ? 100.0 * (double)a / (double)b : 0.0; }
static double score(const eef_traj_tally *t) { return t->n ? 100.0 * t->reward_sum / (double)t->n : 0.0; }

static const char *tier_label(int i) { return i < EEF_N_TIERS ? eef_tier_name((eef_tier)i) : "unknown"; }

static void print_text(const char *path, const eef_world *world, const eef_traj_stats *s, size_t n_bad)
{
    const eef_traj_tally *a = &s->all;
    char ctx[1600];
    eef_world_describe(world, ctx, sizeof ctx);
    printf("%s\n", path);
    printf("  world         %s\n", ctx);
    printf("  trajectories  %zu", a->n);
    if (n_bad) printf("  (%zu bad lines skipped)", n_bad);
    printf("\n");
    if (!a->n) return;
    printf("  win rate      %.1f%%  (%zu wins)\n", pct(a->n_win, a->n), a->n_win);
    printf("  score         %.2f  (mean reward x 100)\n", score(a));
    printf("  mean length   %.2f steps  (min %zu, max %zu)\n", (double)s->steps_sum / (double)a->n,
           s->steps_min, s->steps_max);
    printf("  actions       %zu: %zu unmasked (loss 1), %zu masked (loss 0)\n",
           s->n_masked + s->n_unmasked, s->n_unmasked, s->n_masked);

    printf("\n  %-8s %8s %9s %8s\n", "tier", "n", "win rate", "score");
    for (int i = 0; i <= EEF_N_TIERS; i++) {
        const eef_traj_tally *t = &s->tier[i];
        if (i == EEF_N_TIERS && !t->n) continue; /* no row for "unknown" when all are known */
        if (t->n)
            printf("  %-8s %8zu %8.1f%% %8.2f\n", tier_label(i), t->n, pct(t->n_win, t->n), score(t));
        else
            printf("  %-8s %8zu %9s %8s\n", tier_label(i), t->n, "-", "-");
    }

    if (s->price_stated)
        printf("\n  price bound   stated in %zu: bought above it %zu (%.1f%%), ended unbought %zu (%.1f%%)\n",
               s->price_stated, s->price_over, pct(s->price_over, s->price_stated),
               s->price_unbought, pct(s->price_unbought, s->price_stated));

    int w = 6;
    for (size_t i = 0; i < s->n_sources; i++) w = EEF_MAX(w, (int)strlen(s->sources[i].name));
    printf("\n  %-*s %8s %7s\n", w, "source", "n", "share");
    for (size_t i = 0; i < s->n_sources; i++)
        printf("  %-*s %8zu %6.1f%%\n", w, s->sources[i].name, s->sources[i].n,
               pct(s->sources[i].n, a->n));

    /* the histogram: share of each type among the actions of wins / fails */
    w = 11;
    for (size_t i = 0; i < s->n_actions; i++) w = EEF_MAX(w, (int)strlen(s->actions[i].type));
    printf("\n  %-*s %17s %17s\n", w, "action type", "in wins", "in failures");
    for (size_t i = 0; i < s->n_actions; i++) {
        const eef_traj_action_count *c = &s->actions[i];
        printf("  %-*s %9zu %6.1f%% %9zu %6.1f%%\n", w, c->type, c->in_wins,
               pct(c->in_wins, s->actions_in_wins), c->in_fails, pct(c->in_fails, s->actions_in_fails));
    }
    printf("  %-*s %9zu %7s %9zu\n", w, "total", s->actions_in_wins, "", s->actions_in_fails);
}

static cJSON *tally_json(const eef_traj_tally *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n", (double)t->n);
    cJSON_AddNumberToObject(o, "wins", (double)t->n_win);
    cJSON_AddNumberToObject(o, "win_rate", t->n ? (double)t->n_win / (double)t->n : 0.0);
    cJSON_AddNumberToObject(o, "score", score(t));
    return o;
}

static int print_json(const char *path, const eef_world *w, const eef_traj_stats *s, size_t n_bad)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", path);
    /* the world the file records; null: context unknown */
    cJSON_AddItemToObject(o, "context", w->have ? eef_world_to_json(w) : cJSON_CreateNull());
    cJSON_AddNumberToObject(o, "bad_lines", (double)n_bad);
    cJSON_AddNumberToObject(o, "count", (double)s->all.n);
    cJSON_AddNumberToObject(o, "wins", (double)s->all.n_win);
    cJSON_AddNumberToObject(o, "win_rate", s->all.n ? (double)s->all.n_win / (double)s->all.n : 0.0);
    cJSON_AddNumberToObject(o, "score", score(&s->all));
    cJSON_AddNumberToObject(o, "mean_steps", s->all.n ? (double)s->steps_sum / (double)s->all.n : 0.0);
    cJSON_AddNumberToObject(o, "min_steps", s->all.n ? (double)s->steps_min : 0.0);
    cJSON_AddNumberToObject(o, "max_steps", (double)s->steps_max);
    cJSON_AddNumberToObject(o, "unmasked_actions", (double)s->n_unmasked);
    cJSON_AddNumberToObject(o, "masked_actions", (double)s->n_masked);
    cJSON *tiers = cJSON_AddObjectToObject(o, "tiers");
    for (int i = 0; i <= EEF_N_TIERS; i++)
        if (i < EEF_N_TIERS || s->tier[i].n) cJSON_AddItemToObject(tiers, tier_label(i), tally_json(&s->tier[i]));
    cJSON *price = cJSON_AddObjectToObject(o, "price_bound");
    cJSON_AddNumberToObject(price, "stated", (double)s->price_stated);
    cJSON_AddNumberToObject(price, "bought_above", (double)s->price_over);
    cJSON_AddNumberToObject(price, "unbought", (double)s->price_unbought);
    cJSON *src = cJSON_AddObjectToObject(o, "sources");
    for (size_t i = 0; i < s->n_sources; i++)
        cJSON_AddNumberToObject(src, s->sources[i].name, (double)s->sources[i].n);
    cJSON *acts = cJSON_AddArrayToObject(o, "actions");
    for (size_t i = 0; i < s->n_actions; i++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "type", s->actions[i].type);
        cJSON_AddNumberToObject(a, "in_wins", (double)s->actions[i].in_wins);
        cJSON_AddNumberToObject(a, "in_failures", (double)s->actions[i].in_fails);
        cJSON_AddItemToArray(acts, a);
    }
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text) {
        eef_fail(EEF_ENOMEM, "out of memory printing JSON");
        return cli_error("stats");
    }
    printf("%s\n", text);
    cJSON_free(text);
    return 0;
}

int cmd_stats(int argc, char **argv)
{
    int json = 0, skip_bad = 0;
    const cli_opt opts[] = {
        { "--json", OPT_FLAG, &json, NULL, "print the statistics as JSON", 0, 0 },
        { "--skip-bad", OPT_FLAG, &skip_bad, NULL, "skip bad lines (reported on stderr)", 0, 0 },
        { 0 },
    };
    const cli_spec spec = { "stats", "FILE.jsonl [--json] [--skip-bad]",
                            "statistics of a trajectory file: the world it records, outcome by tier and source, "
                            "lengths, masks, price bounds broken, action types of wins vs failures",
                            opts, 1, 1 };
    char **pos;
    int npos, rc = cli_parse(&spec, argc, argv, &pos, &npos);
    if (rc) return rc < 0 ? 0 : rc;

    eef_traj_reader r;
    if (eef_traj_reader_open(&r, pos[0], skip_bad)) return cli_error("stats");
    eef_traj_stats s;
    eef_traj_stats_init(&s);
    eef_traj t;
    eef_traj_init(&t);
    int got;
    eef_err e;
    while (!(e = eef_traj_reader_next(&r, &t, &got)) && got)
        if ((e = eef_traj_stats_add(&s, &t))) break;
    size_t n_bad = r.n_bad;
    eef_world w = r.ctx;
    eef_traj_free(&t);
    eef_traj_reader_close(&r);
    if (e) {
        eef_traj_stats_free(&s);
        return cli_error("stats");
    }
    eef_traj_stats_sort(&s);
    rc = json ? print_json(pos[0], &w, &s, n_bad) : (print_text(pos[0], &w, &s, n_bad), 0);
    eef_traj_stats_free(&s);
    return rc;
}

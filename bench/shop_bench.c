/* shop_bench: speed of the shop on 10,000 generated products, one thread.
 *
 *   shop_open_s            building catalogue, index and 2,000 tasks
 *   shop_steps_per_s       env steps/s of a random valid-action policy
 *                          (each step: list the valid actions, choose, step)
 *   shop_search_median_us  median latency of the natural queries of the
 *                          1,500 train tasks (BM25 top 50)
 * Goals: >= 50,000 steps/s and <= 100 us. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "env/env.h"
#include "env/shop/shop_internal.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void die(void)
{
    fprintf(stderr, "shop_bench: %s\n", eef_errmsg());
    exit(1);
}

int main(int argc, char **argv)
{
    const char *opts = argc > 1 ? argv[1] : "products=10000";
    double t0 = eef_now();
    eef_env *env;
    if (eef_env_open("shop", opts, 1, &env)) die();
    double t_open = eef_now() - t0;
    shop_env *e = (shop_env *)env;
    printf("shop_products: %zu\n", e->cat.n);
    printf("shop_open_s: %.3f\n", t_open);

    /* search latency */
    shop_scratch s;
    if (shop_scratch_init(&s, &e->index)) die();
    uint32_t res[SHOP_SEARCH_N];
    size_t nq = e->n_tasks[0];
    double *lat = malloc(nq * sizeof *lat);
    for (size_t i = 0; i < nq; i++) shop_search(&e->index, &s, e->tasks[0][i].query, res); /* warm */
    for (size_t i = 0; i < nq; i++) {
        double a = eef_now();
        shop_search(&e->index, &s, e->tasks[0][i].query, res);
        lat[i] = (eef_now() - a) * 1e6;
    }
    qsort(lat, nq, sizeof *lat, cmp_double);
    printf("shop_search_median_us: %.1f\n", lat[nq / 2]);
    printf("shop_search_p99_us: %.1f\n", lat[nq * 99 / 100]);
    free(lat);
    shop_scratch_free(&s);

    /* random valid-action policy */
    eef_episode *ep;
    if (env->ops->episode_open(env, &ep)) die();
    eef_actions acts = { 0 };
    eef_rng r = eef_rng_make(eef_rng_key(1, 2, 3, 4));
    long steps = 0, episodes = 0, wins = 0;
    eef_step st = { .done = 1 };
    char buf[1024];
    double start = eef_now(), now = start;
    while (now - start < 2.0) {
        for (int k = 0; k < 1000; k++) {
            if (st.done) {
                wins += st.reward == 1.0;
                size_t ti = (size_t)eef_rng_below(&r, nq);
                if (env->ops->reset(ep, EEF_SPLIT_TRAIN, ti, &st)) die();
                episodes++;
            }
            if (env->ops->actions(ep, &acts)) die();
            if (acts.free_prefix) {
                /* two to four random words of the instruction */
                const char *ins = e->tasks[0][((shop_episode *)ep)->st.task].goal.instruction;
                size_t len = (size_t)snprintf(buf, sizeof buf, "search[");
                size_t L = strlen(ins);
                for (int w = 0, m = 2 + (int)eef_rng_below(&r, 3); w < m; w++) {
                    size_t at = (size_t)eef_rng_below(&r, L);
                    while (at > 0 && ins[at - 1] != ' ') at--;
                    size_t end = at;
                    while (end < L && ins[end] != ' ') end++;
                    len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%.*s", w ? " " : "", (int)(end - at), ins + at);
                }
                snprintf(buf + len, sizeof buf - len, "]");
            } else {
                snprintf(buf, sizeof buf, "%s", acts.items.items[eef_rng_below(&r, acts.items.n)]);
            }
            if (env->ops->step(ep, buf, &st)) die();
            steps++;
        }
        now = eef_now();
    }
    printf("shop_steps_per_s: %.0f\n", (double)steps / (now - start));
    printf("shop_random_policy_win_pct: %.2f\n", 100.0 * (double)wins / (double)(episodes > 1 ? episodes - 1 : 1));
    eef_actions_free(&acts);
    env->ops->episode_close(ep);
    eef_env_close(env);
    return 0;
}

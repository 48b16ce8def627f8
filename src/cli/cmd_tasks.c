/* eef tasks ENV: list an environment's tasks with their tiers, and the mix
 * of tiers at the end (text, or JSON lines with --json). */
#include "cli.h"
#include "env/env.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

int cmd_tasks(int argc, char **argv)
{
    long seed = 1;
    int json = 0;
    const char *split_name = "train", *env_opt = NULL;
    const cli_opt opts[] = {
        { "--split", OPT_STR, &split_name, "SPLIT", "train or test", 0, 0 },
        { "--json", OPT_FLAG, &json, NULL, "one JSON object per line", 0, 0 },
        { "--seed", OPT_INT, &seed, "S", "seed of the environment (generated worlds)", 0, 0 },
        { "--env-opt", OPT_STR, &env_opt, "OPTS", "environment options, e.g. products=2000", 0, 0 },
        { 0 },
    };
    const cli_spec spec = { "tasks", "ENV [options]", "list an environment's tasks with their tiers",
                            opts, 1, 1 };
    char **pos;
    int npos;
    int rc = cli_parse(&spec, argc, argv, &pos, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    eef_split split;
    eef_env *env;
    if (eef_split_parse(split_name, &split) || eef_env_open(pos[0], env_opt, (uint64_t)seed, &env))
        return cli_error("tasks");
    size_t n = env->ops->n_tasks(env, split), count[EEF_N_TIERS] = { 0 };
    for (size_t i = 0; i < n; i++) {
        eef_task t;
        if (env->ops->task(env, split, i, &t)) {
            eef_env_close(env);
            return cli_error("tasks");
        }
        count[t.tier]++;
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "id", t.id);
            cJSON_AddStringToObject(o, "split", eef_split_name(split));
            cJSON_AddNumberToObject(o, "index", (double)i);
            cJSON_AddStringToObject(o, "tier", eef_tier_name(t.tier));
            cJSON_AddStringToObject(o, "instruction", t.instruction);
            char *s = cJSON_PrintUnformatted(o);
            if (s) printf("%s\n", s);
            cJSON_free(s);
            cJSON_Delete(o);
        } else {
            printf("%s\t%s\t%s\n", t.id, eef_tier_name(t.tier), t.instruction);
        }
    }
    double d = n ? 100.0 / (double)n : 0;
    if (json)
        printf("{\"summary\":true,\"split\":\"%s\",\"tasks\":%zu,\"easy\":%zu,\"medium\":%zu,\"hard\":%zu}\n",
               eef_split_name(split), n, count[0], count[1], count[2]);
    else
        printf("tiers (%s, %zu tasks): easy %zu (%.1f%%), medium %zu (%.1f%%), hard %zu (%.1f%%)\n",
               eef_split_name(split), n, count[0], count[0] * d, count[1], count[1] * d, count[2],
               count[2] * d);
    eef_env_close(env);
    return 0;
}

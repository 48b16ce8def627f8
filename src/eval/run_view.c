/* run_view.c: a run directory read for comparison (config, expert and
 * per-iteration metrics as JSON), and the numbers in it. */
#include "eval.h"
#include "eval_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void eef_run_view_free(eef_run_view *v)
{
    free(v->dir);
    free(v->method);
    cJSON_Delete(v->config);
    cJSON_Delete(v->expert);
    for (size_t i = 0; i < v->n_iters; i++) cJSON_Delete(v->iters[i]);
    free(v->iters);
    free(v->wall);
    memset(v, 0, sizeof *v);
}

eef_err eef_run_view_load(const char *dir, eef_run_view *v)
{
    memset(v, 0, sizeof *v);
    char p[1024];
    v->dir = eef_strdup(dir);
    eef_err e = v->dir ? EEF_OK : EEF_ENOMEM;
    if (!e) e = eef_json_read_file(eef_path_join(p, sizeof p, dir, "config.json"), &v->config);
    const char *m = "?";
    if (!e) e = eef_json_str(v->config, "method", p, &m);
    /* a run's row in comparisons: its label when it has one (two rows of
     * one method: "rft-x6", "eef-2x"), else its method */
    const char *label = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v->config, "label"));
    if (!e && label && *label) m = label;
    if (!e) v->method = eef_strdup(m);
    if (!e && eef_file_exists(eef_path_join(p, sizeof p, dir, "expert.json")))
        e = eef_json_read_file(p, &v->expert);
    eef_lines lr;
    if (!e) e = eef_lines_open(&lr, eef_path_join(p, sizeof p, dir, "metrics.jsonl"));
    if (e) {
        eef_run_view_free(v);
        return e;
    }
    char *line;
    size_t len;
    while (!e && !(e = eef_lines_next(&lr, &line, &len)) && line) {
        char where[1100];
        snprintf(where, sizeof where, "%s:%ld", lr.path, lr.line);
        cJSON *j;
        e = eef_json_parse(line, len, where, &j);
        if (e) break;
        cJSON **it = eef_realloc(v->iters, (v->n_iters + 1) * sizeof *it);
        if (!it) {
            cJSON_Delete(j);
            e = EEF_ENOMEM;
            break;
        }
        v->iters = it;
        v->iters[v->n_iters++] = j;
    }
    eef_lines_close(&lr);
    /* wall time: phases in timing.jsonl, cumulative at each iteration's eval */
    v->wall = eef_calloc(v->n_iters ? v->n_iters : 1, sizeof(double));
    if (!e && !v->wall) e = EEF_ENOMEM;
    if (!e && eef_lines_open(&lr, eef_path_join(p, sizeof p, dir, "timing.jsonl")) == EEF_OK) {
        double acc = 0;
        while (eef_lines_next(&lr, &line, &len) == EEF_OK && line) {
            cJSON *j = cJSON_ParseWithLength(line, len);
            const cJSON *ph = cJSON_GetObjectItemCaseSensitive(j, "phase");
            const cJSON *sec = cJSON_GetObjectItemCaseSensitive(j, "seconds");
            if (cJSON_IsString(ph) && cJSON_IsNumber(sec)) {
                acc += sec->valuedouble;
                int it;
                if (sscanf(ph->valuestring, "iter_%d.eval", &it) == 1 && it >= 0 &&
                    (size_t)it < v->n_iters)
                    v->wall[it] = acc;
            }
            cJSON_Delete(j);
        }
        eef_lines_close(&lr);
    }
    if (e) eef_run_view_free(v);
    return e;
}

double eval_num(const cJSON *o, const char *path)
{
    /* "a.b.c" */
    char key[64];
    const cJSON *cur = o;
    while (cur && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        snprintf(key, sizeof key, "%.*s", (int)n, path);
        cur = cJSON_GetObjectItemCaseSensitive(cur, key);
        path += n + (dot ? 1 : 0);
    }
    return cJSON_IsNumber(cur) ? cur->valuedouble : NAN;
}

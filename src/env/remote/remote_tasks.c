/* remote_tasks.c: what eef knows of a remote task (id, tier, instruction),
 * fetched the first time it is asked for and kept.
 *
 * eef env-serve answers GET /eef/task with all of it.  AgentGym servers
 * have no such route: the instruction is read by resetting a private
 * "probe" session to the task — WebShop's GET /instruction_text, or the
 * "Your task is to: ..." line of ALFWorld's first observation — the id is
 * "remote-SPLIT-INDEX" and the tier "medium" (they do not rate tasks).
 */
#include "remote_internal.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

void remote_tasks_free(remote_env *re)
{
    for (int s = 0; s < 2; s++) {
        for (long i = 0; re->tasks[s] && i < re->n[s]; i++) {
            free(re->tasks[s][i].id);
            free(re->tasks[s][i].instruction);
        }
        free(re->tasks[s]);
        re->tasks[s] = NULL;
    }
}

static eef_err tier_parse(const char *s, eef_tier *out)
{
    for (int t = 0; t < EEF_N_TIERS; t++)
        if (strcmp(s, eef_tier_name((eef_tier)t)) == 0) {
            *out = (eef_tier)t;
            return EEF_OK;
        }
    return eef_fail(EEF_ENET, "remote: unknown tier '%s'", s);
}

static eef_err load_eef(remote_env *re, long data_idx, remote_task *t)
{
    char query[48];
    snprintf(query, sizeof query, "data_idx=%ld", data_idx);
    cJSON *j;
    EEF_TRY(remote_http_call(&re->meta, re->url, &re->pol, REQ_REPEATABLE, "GET", "/eef/task",
                             query, NULL, &j, NULL));
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
    const cJSON *tier = cJSON_GetObjectItemCaseSensitive(j, "tier");
    const cJSON *ins = cJSON_GetObjectItemCaseSensitive(j, "instruction");
    eef_err e = EEF_OK;
    if (!cJSON_IsString(id) || !cJSON_IsString(tier) || !cJSON_IsString(ins))
        e = eef_fail(EEF_ENET, "remote %s: GET /eef/task: incomplete answer", re->url);
    if (!e) e = tier_parse(tier->valuestring, &t->tier);
    if (!e && (!(t->id = eef_strdup(id->valuestring)) ||
               !(t->instruction = eef_strdup(ins->valuestring))))
        e = EEF_ENOMEM;
    cJSON_Delete(j);
    return e;
}

/* "Instruction: [SEP] text", "Instruction:\ntext" -> "text" */
static char *strip_label(const char *s)
{
    while (isspace((unsigned char)*s)) s++;
    if (strncmp(s, "Instruction:", 12) == 0) s += 12;
    while (isspace((unsigned char)*s)) s++;
    if (strncmp(s, "[SEP]", 5) == 0) s += 5;
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) n--;
    return eef_strndup(s, n);
}

/* ALFWorld states the goal as "Your task is to: put a mug in the sink.";
 * the instruction is the goal without its final period (as eef's house). */
static char *alfworld_goal(const char *obs)
{
    static const char label[] = "Your task is to:";
    const char *at = strstr(obs, label);
    if (!at) return eef_strdup(obs);
    at += sizeof label - 1;
    while (*at == ' ') at++;
    size_t n = strcspn(at, "\n");
    while (n > 0 && (isspace((unsigned char)at[n - 1]) || at[n - 1] == '.')) n--;
    return eef_strndup(at, n);
}

static eef_err load_probe(remote_env *re, eef_split split, size_t index, long data_idx,
                          remote_task *t)
{
    cJSON *j = NULL;
    eef_err e = remote_reset_session(re, &re->meta, &re->probe, data_idx, &j);
    if (e) return e;
    char *instr = NULL;
    if (re->api == API_ALFWORLD) {
        const cJSON *obs = cJSON_GetObjectItemCaseSensitive(j, "observation");
        if (!cJSON_IsString(obs))
            e = eef_fail(EEF_ENET, "remote %s: POST /reset: the answer has no observation", re->url);
        else if (!(instr = alfworld_goal(obs->valuestring))) e = EEF_ENOMEM;
    } else {
        cJSON_Delete(j);
        j = NULL;
        char query[48];
        snprintf(query, sizeof query, "env_idx=%ld", re->probe);
        e = remote_http_call(&re->meta, re->url, &re->pol, REQ_REPEATABLE, "GET",
                             "/instruction_text", query, NULL, &j, NULL);
        if (!e && !cJSON_IsString(j))
            e = eef_fail(EEF_ENET, "remote %s: GET /instruction_text: not a string", re->url);
        if (!e && !(instr = strip_label(j->valuestring))) e = EEF_ENOMEM;
    }
    cJSON_Delete(j);
    if (e) {
        free(instr);
        return e;
    }
    char id[64];
    snprintf(id, sizeof id, "remote-%s-%zu", eef_split_name(split), index);
    t->instruction = instr;
    t->tier = EEF_TIER_MEDIUM;
    if (!(t->id = eef_strdup(id))) return EEF_ENOMEM;
    return EEF_OK;
}

eef_err remote_task_get(remote_env *re, eef_split split, size_t index, eef_task *out)
{
    int s = split == EEF_SPLIT_TEST;
    if (index >= (size_t)re->n[s])
        return eef_fail(EEF_EINVAL, "remote: %s task %zu out of range (%ld tasks)",
                        eef_split_name(split), index, re->n[s]);
    long data_idx = re->lo[s] + (long)index;
    pthread_mutex_lock(&re->mu);
    remote_task *t = &re->tasks[s][index];
    eef_err e = EEF_OK;
    if (!t->loaded) {
        e = re->eef ? load_eef(re, data_idx, t) : load_probe(re, split, index, data_idx, t);
        if (e) {
            free(t->id);
            free(t->instruction);
            t->id = t->instruction = NULL;
        } else {
            t->loaded = 1;
        }
    }
    if (!e)
        *out = (eef_task){ .id = t->id, .split = split, .index = index, .tier = t->tier,
                           .instruction = t->instruction };
    pthread_mutex_unlock(&re->mu);
    return e;
}

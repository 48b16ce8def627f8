/* hf_config.c: Hugging Face config.json into eef_model_config.
 *
 * Semantics follow transformers' LlamaConfig / MistralConfig /
 * Qwen2Config / Qwen3Config: defaults where a field is absent, and every
 * value that would change the computation in a way eef does not implement
 * is refused by name (another activation, biases on the output or MLP
 * projections, sliding-window attention, rope scaling other than llama3,
 * partial rotary, quantized checkpoints). */
#include "hf.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

static const cJSON *get(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNull(v) ? NULL : v;
}

/* An integer field in [lo, hi]; *out untouched when absent and !required. */
static eef_err int_field(const cJSON *o, const char *key, const char *path, int required, long lo,
                         long hi, int *out)
{
    const cJSON *v = get(o, key);
    if (!v) return required ? eef_fail(EEF_EFORMAT, "%s: field '%s' missing", path, key) : EEF_OK;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || !(v->valuedouble >= lo) ||
        !(v->valuedouble <= hi))
        return eef_fail(EEF_EFORMAT, "%s: field '%s' must be an integer in [%ld, %ld]", path, key,
                        lo, hi);
    *out = (int)v->valuedouble;
    return EEF_OK;
}

static eef_err num_field(const cJSON *o, const char *key, const char *path, int required,
                         double *out)
{
    const cJSON *v = get(o, key);
    if (!v) return required ? eef_fail(EEF_EFORMAT, "%s: field '%s' missing", path, key) : EEF_OK;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return eef_fail(EEF_EFORMAT, "%s: field '%s' is not a number", path, key);
    *out = v->valuedouble;
    return EEF_OK;
}

static eef_err bool_field(const cJSON *o, const char *key, const char *path, int *out)
{
    const cJSON *v = get(o, key);
    if (!v) return EEF_OK;
    if (!cJSON_IsBool(v)) return eef_fail(EEF_EFORMAT, "%s: field '%s' is not true or false", path, key);
    *out = cJSON_IsTrue(v);
    return EEF_OK;
}

/* One token id or a list of them (eos_token_id). */
static eef_err ids_field(const cJSON *o, const char *key, const char *path, int *ids, int *n)
{
    const cJSON *v = get(o, key);
    if (!v) return EEF_OK;
    const cJSON *one = cJSON_IsArray(v) ? v->child : v;
    int k = 0;
    for (; one; one = cJSON_IsArray(v) ? one->next : NULL) {
        if (!cJSON_IsNumber(one) || one->valuedouble != floor(one->valuedouble) ||
            !(one->valuedouble >= 0) || !(one->valuedouble < (1 << 24)))
            return eef_fail(EEF_EFORMAT, "%s: field '%s' holds something other than token ids",
                            path, key);
        if (k == 8) return eef_fail(EEF_EFORMAT, "%s: field '%s' lists more than 8 ids", path, key);
        ids[k++] = (int)one->valuedouble;
    }
    *n = k;
    return EEF_OK;
}

/* rope_scaling (transformers 4) or rope_parameters (transformers 5, which
 * also carries rope_theta). */
static eef_err rope_field(const cJSON *r, const char *key, const char *path, eef_model_config *c)
{
    if (!cJSON_IsObject(r)) return eef_fail(EEF_EFORMAT, "%s: field '%s' is not an object", path, key);
    const cJSON *t = get(r, "rope_type");
    if (!t) t = get(r, "type");
    const char *type = cJSON_IsString(t) ? t->valuestring : t ? NULL : "default";
    if (!type) return eef_fail(EEF_EFORMAT, "%s: %s.rope_type is not a string", path, key);
    double theta = c->rope_theta;
    EEF_TRY(num_field(r, "rope_theta", path, 0, &theta));
    c->rope_theta = (float)theta;
    double prf = 1;
    EEF_TRY(num_field(r, "partial_rotary_factor", path, 0, &prf));
    if (prf != 1)
        return eef_fail(EEF_EFORMAT, "%s: %s.partial_rotary_factor %g is not supported (only 1)",
                        path, key, prf);
    if (strcmp(type, "default") == 0) return EEF_OK;
    if (strcmp(type, "llama3") != 0)
        return eef_fail(EEF_EFORMAT, "%s: rope scaling type '%.32s' is not supported (only llama3)",
                        path, type);
    double f = 0, lo = 0, hi = 0;
    int orig = 0;
    EEF_TRY(num_field(r, "factor", path, 1, &f));
    EEF_TRY(num_field(r, "low_freq_factor", path, 1, &lo));
    EEF_TRY(num_field(r, "high_freq_factor", path, 1, &hi));
    EEF_TRY(int_field(r, "original_max_position_embeddings", path, 1, 1, 1 << 24, &orig));
    c->rope_scaling = (eef_rope_scaling){ (float)f, (float)lo, (float)hi, orig };
    return EEF_OK;
}

eef_err nn_hf_config_parse(const char *text, size_t len, const char *path, nn_hf_config *out)
{
    memset(out, 0, sizeof *out);
    out->bos_id = -1;
    cJSON *j;
    EEF_TRY(eef_json_parse(text, len, path, &j));
    eef_err e = EEF_OK;
    if (!cJSON_IsObject(j)) e = eef_fail(EEF_EFORMAT, "%s: not a JSON object", path);
    const cJSON *mt = e ? NULL : get(j, "model_type");
    if (!e && !cJSON_IsString(mt))
        e = eef_fail(EEF_EFORMAT, "%s: field 'model_type' missing (not a model config?)", path);
    static const char *const types[] = { "llama", "mistral", "qwen2", "qwen3" };
    static const char *const heads[] = { "LlamaForCausalLM", "MistralForCausalLM",
                                         "Qwen2ForCausalLM", "Qwen3ForCausalLM" };
    int type = -1;
    for (int i = 0; !e && i < 4; i++)
        if (strcmp(mt->valuestring, types[i]) == 0) type = i;
    if (!e && type < 0)
        e = eef_fail(EEF_EFORMAT, "%s: model_type '%.40s' is not supported (llama, mistral, qwen2, "
                     "qwen3)", path, mt->valuestring);
    if (e) {
        cJSON_Delete(j);
        return e;
    }
    snprintf(out->arch, sizeof out->arch, "%s", types[type]);
    const int qwen = type >= 2;
    eef_model_config *c = &out->cfg;
    *c = (eef_model_config){ .rope_theta = 10000.0f, .norm_eps = 1e-6f,
                             .rope_layout = EEF_ROPE_HALF };
    /* the model class, when named, is the causal LM of its type */
    const cJSON *ar = get(j, "architectures");
    if (ar && (!cJSON_IsArray(ar) || cJSON_GetArraySize(ar) != 1 || !cJSON_IsString(ar->child) ||
               strcmp(ar->child->valuestring, heads[type]) != 0))
        e = eef_fail(EEF_EFORMAT, "%s: architectures must be [\"%s\"] for model_type %s", path,
                     heads[type], types[type]);
    if (!e && get(j, "quantization_config"))
        e = eef_fail(EEF_EFORMAT, "%s: quantized checkpoints (quantization_config) are not "
                     "supported", path);
    if (!e) e = int_field(j, "vocab_size", path, 1, 2, 1 << 20, &c->vocab);
    if (!e) e = int_field(j, "hidden_size", path, 1, 2, 16384, &c->d_model);
    if (!e) e = int_field(j, "num_hidden_layers", path, 1, 1, 256, &c->n_layers);
    if (!e) e = int_field(j, "num_attention_heads", path, 1, 1, 256, &c->n_heads);
    if (!e) e = int_field(j, "intermediate_size", path, 1, 1, 1 << 20, &c->d_ff);
    if (!e) e = int_field(j, "num_key_value_heads", path, 0, 1, 256, &c->n_kv_heads);
    if (!e) e = int_field(j, "head_dim", path, 0, 2, 1024, &c->head_dim);
    /* transformers' defaults: Llama 2048, Mistral 131072, Qwen 32768 */
    c->max_ctx = type == 0 ? 2048 : type == 1 ? 131072 : 32768;
    long long max_pos = c->max_ctx;
    const cJSON *mp = e ? NULL : get(j, "max_position_embeddings");
    if (mp) {
        if (!cJSON_IsNumber(mp) || mp->valuedouble != floor(mp->valuedouble) || !(mp->valuedouble >= 2) ||
            !(mp->valuedouble < 1e12))
            e = eef_fail(EEF_EFORMAT, "%s: field 'max_position_embeddings' must be an integer >= 2",
                         path);
        else max_pos = (long long)mp->valuedouble;
    }
    /* eef's tables stop at 2^20 positions (a million-token context would
     * not fit a CPU's memory anyway) */
    c->max_ctx = max_pos > (1 << 20) ? (1 << 20) : (int)max_pos;
    double eps = c->norm_eps, theta = c->rope_theta;
    if (!e) e = num_field(j, "rms_norm_eps", path, 0, &eps);
    if (!e) e = num_field(j, "rope_theta", path, 0, &theta);
    c->norm_eps = (float)eps, c->rope_theta = (float)theta;
    if (!e && get(j, "rope_parameters")) e = rope_field(get(j, "rope_parameters"), "rope_parameters", path, c);
    if (!e && get(j, "rope_scaling")) e = rope_field(get(j, "rope_scaling"), "rope_scaling", path, c);
    double prf = 1;
    if (!e) e = num_field(j, "partial_rotary_factor", path, 0, &prf);
    if (!e && prf != 1)
        e = eef_fail(EEF_EFORMAT, "%s: partial_rotary_factor %g is not supported (only 1)", path, prf);
    const cJSON *act = e ? NULL : get(j, "hidden_act");
    if (act && (!cJSON_IsString(act) || strcmp(act->valuestring, "silu") != 0))
        e = eef_fail(EEF_EFORMAT, "%s: hidden_act '%.32s' is not supported (only silu)", path,
                     cJSON_IsString(act) ? act->valuestring : "?");
    if (!e) e = bool_field(j, "tie_word_embeddings", path, &c->tied);
    int attention_bias = 0, mlp_bias = 0, sliding = 0;
    if (!e) e = bool_field(j, "attention_bias", path, &attention_bias);
    if (!e) e = bool_field(j, "mlp_bias", path, &mlp_bias);
    if (!e && type == 2) {
        /* Qwen2 has q/k/v biases and no attention_bias field */
        c->qkv_bias = 1;
    } else if (!e && attention_bias) {
        e = eef_fail(EEF_EFORMAT, "%s: attention_bias true is not supported (it puts a bias on the "
                     "output projection too)", path);
    }
    if (!e && mlp_bias) e = eef_fail(EEF_EFORMAT, "%s: mlp_bias true is not supported", path);
    if (!e && type == 3) c->qk_norm = 1;
    if (!e && qwen) e = bool_field(j, "use_sliding_window", path, &sliding);
    if (!e && sliding)
        e = eef_fail(EEF_EFORMAT, "%s: use_sliding_window true is not supported (sliding-window "
                     "attention)", path);
    const cJSON *lt = e ? NULL : get(j, "layer_types");
    for (const cJSON *x = lt ? lt->child : NULL; !e && x; x = x->next)
        if (!cJSON_IsString(x) || strcmp(x->valuestring, "full_attention") != 0)
            e = eef_fail(EEF_EFORMAT, "%s: layer_types other than full_attention are not "
                         "supported", path);
    if (!e && type == 1) {
        /* Mistral's sliding window: inside it, attention is the plain causal
         * one, so a context capped at the window computes exactly */
        int window = 0;
        e = int_field(j, "sliding_window", path, 0, 2, 1 << 30, &window);
        if (!e && window > 0 && window < c->max_ctx) c->max_ctx = window;
    }
    if (!e) e = int_field(j, "bos_token_id", path, 0, 0, (1 << 24) - 1, &out->bos_id);
    if (!e) e = ids_field(j, "eos_token_id", path, out->eos_ids, &out->n_eos);
    const cJSON *lay = e ? NULL : get(j, "eef_rope_layout");
    if (lay) {
        if (!cJSON_IsString(lay) || (strcmp(lay->valuestring, "pairs") != 0 &&
                                     strcmp(lay->valuestring, "rotate_half") != 0))
            e = eef_fail(EEF_EFORMAT, "%s: eef_rope_layout must be \"pairs\" or \"rotate_half\"", path);
        else out->pairs = strcmp(lay->valuestring, "pairs") == 0;
        if (out->pairs) c->rope_layout = EEF_ROPE_PAIRS; /* the rows are permuted back on import */
    }
    cJSON_Delete(j);
    if (e) return e;
    if (c->n_kv_heads && (c->n_kv_heads > c->n_heads || c->n_heads % c->n_kv_heads))
        return eef_fail(EEF_EFORMAT, "%s: num_key_value_heads %d does not divide "
                        "num_attention_heads %d", path, c->n_kv_heads, c->n_heads);
    if (!c->head_dim && c->d_model % c->n_heads)
        return eef_fail(EEF_EFORMAT, "%s: hidden_size %d is not a multiple of num_attention_heads "
                        "%d (and no head_dim)", path, c->d_model, c->n_heads);
    eef_model_config_resolve(c);
    if (c->head_dim % 2)
        return eef_fail(EEF_EFORMAT, "%s: head_dim %d is odd (rotary pairs need it even)", path,
                        c->head_dim);
    if (eef_model_config_check(c)) return eef_fail_ctx(EEF_EFORMAT, "%s", path);
    return EEF_OK;
}

eef_err nn_hf_generation_parse(const char *text, size_t len, const char *path, nn_hf_config *hc)
{
    cJSON *j;
    EEF_TRY(eef_json_parse(text, len, path, &j));
    eef_err e = cJSON_IsObject(j) ? EEF_OK : eef_fail(EEF_EFORMAT, "%s: not a JSON object", path);
    if (!e) e = int_field(j, "bos_token_id", path, 0, 0, (1 << 24) - 1, &hc->bos_id);
    if (!e) e = ids_field(j, "eos_token_id", path, hc->eos_ids, &hc->n_eos);
    cJSON_Delete(j);
    return e;
}

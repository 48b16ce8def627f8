/* fuzz_house_actions: the household world's action parser and rules,
 * stepped with arbitrary action bytes (see fuzz_env.h for the input and
 * the properties checked). */
#include "fuzz_env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static eef_env *env;
    static fuzz_episodes eps;
    fuzz_quiet();
    if (!env) FUZZ_CHECK(eef_env_open("house", "train=16,test=2,steps=40", 7, &env) == EEF_OK);
    fuzz_env(env, &eps, data, size);
    return 0;
}

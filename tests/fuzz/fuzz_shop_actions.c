/* fuzz_shop_actions: the shop's action parser and page logic, stepped
 * with arbitrary action bytes (see fuzz_env.h for the input and the
 * properties checked). */
#include "fuzz_env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static eef_env *env;
    static fuzz_episodes eps;
    fuzz_quiet();
    if (!env) FUZZ_CHECK(eef_env_open("shop", "products=120,train=16,test=2,max_steps=40", 7, &env) == EEF_OK);
    fuzz_env(env, &eps, data, size);
    return 0;
}

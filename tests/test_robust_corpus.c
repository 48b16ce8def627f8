/* The fuzz corpora as regression tests: every harness of tests/fuzz/
 * (built here with the test compiler, so also under `make sanitize`)
 * runs on every input kept in tests/fuzz/<harness>/, including those that
 * once found a bug.  A harness aborts on a broken property, which fails
 * this test with the harness's message on stderr. */
#include "testutil.h"

#include <dirent.h>

#define LLVMFuzzerTestOneInput fuzz_chat_request_one
#include "fuzz/fuzz_chat_request.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_checkpoint_one
#include "fuzz/fuzz_checkpoint.c"
#undef LLVMFuzzerTestOneInput
/* the option parser is not in libeef (src/cli is the eef binary's) */
#include "cli/args.c"
#define LLVMFuzzerTestOneInput fuzz_cli_args_one
#include "fuzz/fuzz_cli_args.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_env_server_one
#include "fuzz/fuzz_env_server.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_eto_one
#include "fuzz/fuzz_eto.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_gguf_one
#include "fuzz/fuzz_gguf.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_hf_config_one
#include "fuzz/fuzz_hf_config.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_house_actions_one
#include "fuzz/fuzz_house_actions.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_run_config_one
#include "fuzz/fuzz_run_config.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_safetensors_one
#include "fuzz/fuzz_safetensors.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_shop_actions_one
#include "fuzz/fuzz_shop_actions.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_tok_hf_one
#include "fuzz/fuzz_tok_hf.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_tok_load_one
#include "fuzz/fuzz_tok_load.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_tok_roundtrip_one
#include "fuzz/fuzz_tok_roundtrip.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_tok_train_one
#include "fuzz/fuzz_tok_train.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_traj_file_one
#include "fuzz/fuzz_traj_file.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_traj_json_one
#include "fuzz/fuzz_traj_json.c"
#undef LLVMFuzzerTestOneInput

typedef int (*harness_fn)(const uint8_t *, size_t);

static const struct {
    const char *name;
    harness_fn fn;
} harnesses[] = {
    { "chat_request", fuzz_chat_request_one },   { "checkpoint", fuzz_checkpoint_one },
    { "cli_args", fuzz_cli_args_one },           { "env_server", fuzz_env_server_one },
    { "eto", fuzz_eto_one },                     { "hf_config", fuzz_hf_config_one },
    { "gguf", fuzz_gguf_one },
    { "house_actions", fuzz_house_actions_one }, { "run_config", fuzz_run_config_one },
    { "safetensors", fuzz_safetensors_one },     { "shop_actions", fuzz_shop_actions_one },
    { "tok_hf", fuzz_tok_hf_one },               { "tok_load", fuzz_tok_load_one },
    { "tok_roundtrip", fuzz_tok_roundtrip_one },
    { "tok_train", fuzz_tok_train_one },         { "traj_file", fuzz_traj_file_one },
    { "traj_json", fuzz_traj_json_one },
};

/* tests/fuzz, from $EEF_SRC or the working directory (make test runs in
 * the repository root) */
static const char *fuzz_dir(void)
{
    static char p[512];
    const char *root = getenv("EEF_SRC");
    snprintf(p, sizeof p, "%s/tests/fuzz", root ? root : ".");
    return p;
}

static void test_corpora(void **state)
{
    (void)state;
    size_t total = 0;
    for (size_t h = 0; h < EEF_ARRAY_LEN(harnesses); h++) {
        char dir[700];
        snprintf(dir, sizeof dir, "%s/%s", fuzz_dir(), harnesses[h].name);
        DIR *d = opendir(dir);
        if (!d) fail_msg("no corpus %s (run the tests from the repository root)", dir);
        struct dirent *e;
        size_t n = 0;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char p[1024];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            char *data;
            size_t len;
            assert_ok(eef_read_file(p, &data, &len));
            harnesses[h].fn((const uint8_t *)data, len);
            free(data);
            n++;
        }
        closedir(d);
        if (n == 0) fail_msg("corpus %s is empty", dir);
        total += n;
    }
    print_message("%zu corpus inputs of %zu harnesses replayed\n", total, EEF_ARRAY_LEN(harnesses));
    /* the scratch files the file-reading harnesses wrote */
    const char *suffixes[] = { ".in.jsonl", ".out.jsonl", ".in.json", ".out.json", ".eefm",
                               ".back.eefm", ".eefo", ".back.eefo" };
    for (size_t i = 0; i < EEF_ARRAY_LEN(suffixes); i++) unlink(fuzz_tmp_path(suffixes[i]));
    /* and the model directories of the safetensors and config harnesses */
    const char *dirs[] = { ".hf", ".hfout" };
    for (size_t i = 0; i < EEF_ARRAY_LEN(dirs); i++) {
        const char *files[] = { "config.json", "generation_config.json", "model.safetensors" };
        char p[400];
        for (size_t k = 0; k < EEF_ARRAY_LEN(files); k++) {
            snprintf(p, sizeof p, "%s/%s", fuzz_tmp_path(dirs[i]), files[k]);
            unlink(p);
        }
        rmdir(fuzz_tmp_path(dirs[i]));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpora),
    };
    return cmocka_run_group_tests_name("robust_corpus", tests, NULL, NULL);
}

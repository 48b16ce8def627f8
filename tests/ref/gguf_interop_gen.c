/* gguf_interop_gen.c: writes the interop models of tests/gguf_interop.h
 * as DIR/<arch>_<type>.gguf for scripts/interop-gguf (llama.cpp reads
 * them).  Built by the script against build/libeef.a. */
#include "../gguf_interop.h"

#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: gguf_interop_gen FIXTURES_DIR OUT_DIR\n");
        return 2;
    }
    for (int k = 0; k < GI_N_MODELS; k++) {
        char name[64], path[2048];
        gi_name(k, name, sizeof name);
        snprintf(path, sizeof path, "%s/%s.gguf", argv[2], name);
        if (gi_make(k, argv[1], path)) {
            fprintf(stderr, "%s\n", eef_errmsg());
            return 1;
        }
        printf("%s\n", path);
    }
    return 0;
}

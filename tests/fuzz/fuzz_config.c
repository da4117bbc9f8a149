/* libFuzzer: the config file parser (dld_config_load: JSON, ${VAR},
 * sections, engine, NUL scan, controller items). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (path[0] == '\0')
        snprintf(path, sizeof path, "/tmp/dld-fuzz-config-%d.json", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    struct dld_config cfg;
    struct dld_error err;
    dld_error_init(&err);
    dld_config_load(path, &cfg, &err);
    dld_config_clean_up(&cfg);
    return 0;
}

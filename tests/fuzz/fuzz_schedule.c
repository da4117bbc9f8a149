/* libFuzzer: schedule expressions (parse, describe, next fire time). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <deltaload/schedule.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct dld_schedule s;
    struct dld_error err;
    dld_error_init(&err);
    if (dld_schedule_parse(&s, text, &err) == DLD_OK) {
        char buf[512];
        dld_schedule_describe(&s, buf, sizeof buf);
        int64_t next = 0, after = 1700000000000LL;
        for (int i = 0; i < 3 && dld_schedule_next(&s, after, after, &next) == DLD_OK; i++)
            after = next;
    }
    free(text);
    return 0;
}

/* libFuzzer: controller items (dld_item_parse_text) and the redaction of
 * whatever text a library might return (dld_redact, conninfo secrets). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "items.h"
#include "redact_property.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct dld_item it;
    struct dld_error err;
    dld_error_init(&err);
    if (dld_item_parse_text(text, &it, &err) == DLD_OK)
        dld_item_clean_up(&it);
    bool known;
    dld_item_attribute_check(text, &known, &err);
    char **secrets = dld_redact_conninfo_secrets(text);
    char *red = dld_redact_dup(text, (const char *const *)secrets);
    /* a secret found in the text never survives its redaction, except
     * where a mask spells it again (redact_property.h says why) */
    for (size_t i = 0; red && secrets && secrets[i]; i++)
        if (strlen(secrets[i]) >= DLD_REDACT_MIN_SECRET && dld_test_redact_leak(red, secrets[i]) >= 0)
            abort();
    free(red);
    dld_redact_list_free(secrets);
    char small[16];
    snprintf(small, sizeof small, "%s", text);
    dld_redact(small, sizeof small, NULL);
    dld_path_check("prefix", text, &err);
    free(text);
    return 0;
}

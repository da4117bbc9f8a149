/*
 * Identifier quoting by Oracle's rules. Every identifier from a controller
 * item reaches SQL in double quotes, so no name can change the statement;
 * what this decides is only which name is meant (see ora_internal.h).
 */
#include <ctype.h>
#include <string.h>

#include "ora_internal.h"

static bool s_ascii_alpha(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

bool dld_ora_ident_is_plain(const char *ident)
{
    const unsigned char *p = (const unsigned char *)ident;
    if (!s_ascii_alpha(*p))
        return false;
    for (p++; *p; p++) {
        if (!s_ascii_alpha(*p) && !(*p >= '0' && *p <= '9') && *p != '_' && *p != '$' && *p != '#')
            return false;
    }
    return true;
}

int dld_ora_ident_quote(const char *what, const char *ident, bool fold, char *out, size_t cap,
                        struct dld_error *err)
{
    int rc = dld_ident_check(what, ident, err);
    if (rc != DLD_OK)
        return rc;
    if (strchr(ident, '"') != NULL)
        return dld_error_set(err, DLD_ERR_CONFIG,
                             "%s %s contains a double quote, which an Oracle identifier cannot hold", what,
                             ident);
    size_t n = strlen(ident);
    if (n + 3 > cap)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s is too long for an Oracle identifier", what);
    bool upper = fold && dld_ora_ident_is_plain(ident);
    out[0] = '"';
    for (size_t i = 0; i < n; i++)
        out[i + 1] = upper ? (char)toupper((unsigned char)ident[i]) : ident[i];
    out[n + 1] = '"';
    out[n + 2] = '\0';
    return DLD_OK;
}

/* Path-like option values (sdk.h, dld_path_check): a key prefix or a
 * relative folder is checked when it is set, so that '.', '..', '\' or a
 * control character never reaches a request or a file name. */
#include <string.h>

#include <deltaload/sdk.h>

int dld_path_check(const char *what, const char *value, struct dld_error *err)
{
    if (value == NULL || *value == '\0')
        return DLD_OK;
    size_t total = strlen(value);
    if (total > DLD_PATH_MAX_BYTES)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s is %zu bytes long; the limit is %d", what, total,
                             DLD_PATH_MAX_BYTES);
    const char *p = value;
    while (*p == '/')
        p++;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return dld_error_set(err, DLD_ERR_CONFIG, "%s '%s' contains a '.' or '..' path segment", what, value);
        if (memchr(p, '\\', n))
            return dld_error_set(err, DLD_ERR_CONFIG, "%s '%s' contains '\\'", what, value);
        char seg[DLD_PATH_MAX_BYTES + 1];
        memcpy(seg, p, n);
        seg[n] = '\0';
        if (n == 0) {
            /* "a//b": an empty segment, unless it is only trailing slashes */
            const char *q = p;
            while (*q == '/')
                q++;
            if (*q)
                return dld_error_set(err, DLD_ERR_CONFIG, "%s '%s' contains an empty path segment ('//')", what, value);
            break;
        }
        int rc = dld_ident_check(what, seg, err);
        if (rc)
            return rc;
        p += n;
        if (*p == '/')
            p++;
    }
    return DLD_OK;
}

/* Error objects (abi.h) and host helpers: the small pieces every plugin uses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <deltaload/sdk.h>

/* A plugin writes only members that fit inside the host's struct_size, so
 * an older host with a shorter error struct is never overrun. */
#define S_FITS(err, member) \
    ((err)->struct_size >= offsetof(struct dld_error, member) + sizeof((err)->member))

void dld_error_init(struct dld_error *err)
{
    memset(err, 0, sizeof(*err));
    err->struct_size = sizeof(*err);
}

int dld_error_set(struct dld_error *err, int code, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    if (S_FITS(err, code))
        err->code = code;
    if (S_FITS(err, retryable))
        err->retryable = (code == DLD_ERR_RETRY || code == DLD_ERR_THROTTLED);
    if (S_FITS(err, message)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    return code;
}

void dld_error_upstream(struct dld_error *err, int http_status, const char *upstream_code, const char *request_id)
{
    if (err == NULL)
        return;
    if (http_status && S_FITS(err, http_status))
        err->http_status = http_status;
    if (upstream_code && S_FITS(err, upstream_code))
        snprintf(err->upstream_code, sizeof(err->upstream_code), "%s", upstream_code);
    if (request_id && S_FITS(err, request_id))
        snprintf(err->request_id, sizeof(err->request_id), "%s", request_id);
}

void dld_error_prefix(struct dld_error *err, const char *fmt, ...)
{
    if (err == NULL || !S_FITS(err, message))
        return;
    char prefix[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    /* build "prefix: old" by hand: truncation is intended, and snprintf of
     * two bounded strings into one trips -Wformat-truncation */
    char old[sizeof(err->message)];
    memcpy(old, err->message, sizeof(old));
    size_t cap = sizeof(err->message) - 1, n = strlen(prefix); /* < 512 */
    memcpy(err->message, prefix, n);
    if (n + 2 <= cap) {
        memcpy(err->message + n, ": ", 2);
        n += 2;
    }
    size_t rest = strnlen(old, sizeof(old));
    if (rest > cap - n)
        rest = cap - n;
    memcpy(err->message + n, old, rest);
    err->message[n + rest] = '\0';
}

const char *dld_code_name(int code)
{
    switch (code) {
    case DLD_OK: return "ok";
    case DLD_DONE: return "done";
    case DLD_ERR_RETRY: return "retry";
    case DLD_ERR_THROTTLED: return "throttled";
    case DLD_ERR_CONFLICT: return "conflict";
    case DLD_ERR_NOT_FOUND: return "not found";
    case DLD_ERR_AUTH: return "auth";
    case DLD_ERR_CONFIG: return "config";
    case DLD_ERR_UNSUPPORTED: return "unsupported";
    case DLD_ERR_FATAL: return "fatal";
    default: return "unknown";
    }
}

bool dld_host_usable(const struct dld_host *host)
{
    /* The allocation functions are a set: all or nothing (OpenSSL's rule for
     * related dispatch functions). log and now_ms are required too. */
    if (host == NULL || host->struct_size < offsetof(struct dld_host, cancelled))
        return false;
    if (host->abi_major != DLD_ABI_MAJOR)
        return false;
    return host->alloc && host->realloc && host->free && host->log && host->now_ms;
}

void dld_log(const struct dld_host *host, int level, const char *plugin, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (host && host->log)
        host->log(level, plugin, msg);
    else
        fprintf(stderr, "%s: %s\n", plugin ? plugin : "deltaload", msg);
}

char *dld_host_strdup(const struct dld_host *host, const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = host->alloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

char *dld_host_sprintf(const struct dld_host *host, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = host->alloc((size_t)n + 1);
    if (p == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void dld_run_clean_up(const struct dld_host *host, struct dld_run *run)
{
    char **strs[] = {&run->table, &run->low, &run->high, &run->error, &run->owner, &run->info_json};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        host->free(*strs[i]);
        *strs[i] = NULL;
    }
}

void dld_watermark_clean_up(const struct dld_host *host, struct dld_watermark *wm)
{
    host->free(wm->value);
    wm->value = NULL;
}

/* ---- options ---------------------------------------------------------------- */
const char *dld_opt_get(const char *const *options, const char *name)
{
    for (size_t i = 0; options && options[i]; i += 2)
        if (strcmp(options[i], name) == 0)
            return options[i + 1];
    return NULL;
}

int64_t dld_opt_int(const char *const *options, const char *name, int64_t fallback)
{
    const char *v = dld_opt_get(options, name);
    if (v == NULL || *v == '\0')
        return fallback;
    char *end;
    long long x = strtoll(v, &end, 10);
    return *end ? fallback : (int64_t)x;
}

bool dld_opt_bool(const char *const *options, const char *name, bool fallback)
{
    const char *v = dld_opt_get(options, name);
    if (v == NULL)
        return fallback;
    if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes"))
        return true;
    if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no"))
        return false;
    return fallback;
}

double dld_opt_double(const char *const *options, const char *name, double fallback)
{
    const char *v = dld_opt_get(options, name);
    if (v == NULL || *v == '\0')
        return fallback;
    char *end;
    double x = strtod(v, &end);
    return *end ? fallback : x;
}

/* ---- identifiers --------------------------------------------------------------- */
static size_t s_utf8_char_len(const unsigned char *s)
{
    if (s[0] < 0x80) return 1;
    size_t n = (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || (n == 2 && s[0] < 0xC2) || (n == 4 && s[0] > 0xF4))
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

int dld_ident_check(const char *what, const char *ident, struct dld_error *err)
{
    if (ident == NULL || *ident == '\0')
        return dld_error_set(err, DLD_ERR_CONFIG, "%s is empty", what);
    size_t len = strlen(ident);
    if (len > 128)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s is %zu bytes long; identifiers are limited to 128", what, len);
    const unsigned char *p = (const unsigned char *)ident;
    while (*p) {
        if (*p < 0x20 || *p == 0x7f)
            return dld_error_set(err, DLD_ERR_CONFIG, "%s contains a control character (0x%02x) at byte %zu", what,
                                 *p, (size_t)(p - (const unsigned char *)ident));
        size_t n = s_utf8_char_len(p);
        if (n == 0)
            return dld_error_set(err, DLD_ERR_CONFIG, "%s is not valid UTF-8 at byte %zu", what,
                                 (size_t)(p - (const unsigned char *)ident));
        p += n;
    }
    return DLD_OK;
}

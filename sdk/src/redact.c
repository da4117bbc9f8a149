/*
 * Redaction at the boundary (sdk.h): every message that comes from a
 * library (libpq, OCI, libcurl) passes through dld_redact before it becomes
 * an error or a log line, and the host applies it once more to everything
 * it prints. Two things are removed:
 *   - the secret values given (configured secret options, passwords found
 *     in a conninfo), wherever they appear;
 *   - anything that looks like a password: `password=VALUE` (and passwd,
 *     pwd, secret, token keys; quoted or not) and the password of a URI's
 *     `user:pass@`.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <deltaload/sdk.h>

#define S_MASK "********"

struct s_buf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void s_put(struct s_buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static bool s_key_char(char c) { return isalnum((unsigned char)c) || c == '_' || c == '-'; }

/* Is the key that ends just before `end` (starting at text) a password-like key? */
static bool s_secret_key(const char *text, const char *end)
{
    const char *k = end;
    while (k > text && s_key_char(k[-1]))
        k--;
    size_t n = (size_t)(end - k);
    if (n == 0 || n > 64)
        return false;
    char key[65];
    for (size_t i = 0; i < n; i++)
        key[i] = (char)tolower((unsigned char)k[i]);
    key[n] = '\0';
    static const char *const words[] = {"password", "passwd", "pwd", "secret", "token", "passphrase", NULL};
    for (int i = 0; words[i]; i++)
        if (strstr(key, words[i]))
            return true;
    return false;
}

/* End of a value starting at v: a quoted value runs to its closing quote
 * (backslash escapes it), an unquoted one to whitespace, a quote or ','. */
static const char *s_value_end(const char *v)
{
    if (*v == '\'' || *v == '"') {
        char q = *v;
        const char *p = v + 1;
        while (*p && *p != q) {
            if (*p == '\\' && p[1])
                p++;
            p++;
        }
        return *p ? p + 1 : p;
    }
    const char *p = v;
    while (*p && !isspace((unsigned char)*p) && *p != '\'' && *p != '"' && *p != ',' && *p != ';' && *p != '&' &&
           *p != ')' && *p != ']' && *p != '}')
        p++;
    return p;
}

/* After "://": the span of "pass" in "user:pass@host", or NULL. The
 * authority ends at whitespace or a quote; its last '@' ends the userinfo. */
static const char *s_uri_password(const char *after, const char **pend)
{
    const char *p = after, *at = NULL;
    while (*p && !isspace((unsigned char)*p) && *p != '"' && *p != '\'') {
        if (*p == '@')
            at = p;
        p++;
    }
    if (at == NULL)
        return NULL;
    const char *colon = memchr(after, ':', (size_t)(at - after));
    if (colon == NULL || colon + 1 >= at)
        return NULL;
    *pend = at;
    return colon + 1;
}

/* The patterns, into out. */
static void s_patterns(const char *in, struct s_buf *out)
{
    const char *p = in;
    while (*p) {
        if (p[0] == ':' && p[1] == '/' && p[2] == '/') {
            const char *end, *pw = s_uri_password(p + 3, &end);
            if (pw) {
                s_put(out, p, (size_t)(pw - p));
                s_put(out, S_MASK, strlen(S_MASK));
                p = end;
                continue;
            }
        }
        if (*p == '=' || (*p == ' ' && p[1] == '=')) {
            const char *eq = *p == '=' ? p : p + 1;
            const char *key_end = p;
            while (key_end > in && key_end[-1] == ' ')
                key_end--;
            if (s_secret_key(in, key_end)) {
                const char *v = eq + 1;
                while (*v == ' ')
                    v++;
                const char *vend = s_value_end(v);
                if (vend > v) {
                    s_put(out, p, (size_t)(v - p));
                    s_put(out, S_MASK, strlen(S_MASK));
                    p = vend;
                    continue;
                }
            }
        }
        s_put(out, p, 1);
        p++;
    }
}

size_t dld_redact(char *buf, size_t cap, const char *const *secrets)
{
    if (buf == NULL || cap == 0)
        return 0;
    buf[cap - 1] = '\0';
    struct s_buf a = {0}, b = {0};
    s_put(&a, buf, strlen(buf));
    /* literal values first (the longest first would be better for values
     * that contain one another; masking both covers them either way) */
    for (size_t i = 0; secrets && secrets[i] && !a.oom; i++) {
        const char *s = secrets[i];
        size_t n = strlen(s);
        if (n < DLD_REDACT_MIN_SECRET)
            continue;
        b.len = 0;
        s_put(&b, "", 0);
        const char *p = a.p, *hit;
        while ((hit = strstr(p, s)) != NULL) {
            s_put(&b, p, (size_t)(hit - p));
            s_put(&b, S_MASK, strlen(S_MASK));
            p = hit + n;
        }
        s_put(&b, p, strlen(p));
        struct s_buf t = a;
        a = b;
        b = t;
    }
    b.len = 0;
    if (!a.oom) {
        s_put(&b, "", 0);
        s_patterns(a.p, &b);
    }
    size_t n = 0;
    if (a.oom || b.oom) {
        /* nothing safe to show */
        static const char msg[] = "(message withheld: out of memory while removing secrets)";
        n = sizeof msg - 1 < cap - 1 ? sizeof msg - 1 : cap - 1;
        memcpy(buf, msg, n);
    } else {
        n = b.len < cap - 1 ? b.len : cap - 1;
        memcpy(buf, b.p, n);
    }
    buf[n] = '\0';
    free(a.p);
    free(b.p);
    return n;
}

char *dld_redact_dup(const char *text, const char *const *secrets)
{
    if (text == NULL)
        return NULL;
    /* the mask may be longer than what it hides: room for every byte to grow */
    size_t cap = strlen(text) * 9 + 64;
    char *buf = malloc(cap);
    if (buf == NULL)
        return NULL;
    strcpy(buf, text);
    dld_redact(buf, cap, secrets);
    return buf;
}

void dld_redact_error(struct dld_error *err, const char *const *secrets)
{
    if (err == NULL)
        return;
    dld_redact(err->message, sizeof err->message, secrets);
}

/* ---- secrets found in a conninfo -------------------------------------------------- */
static int s_add(char ***list, size_t *n, const char *s, size_t len)
{
    if (len == 0)
        return 0;
    char **l = realloc(*list, (*n + 2) * sizeof(char *));
    if (l == NULL)
        return -1;
    *list = l;
    l[*n] = strndup(s, len);
    if (l[*n] == NULL)
        return -1;
    l[++*n] = NULL;
    return 0;
}

char **dld_redact_conninfo_secrets(const char *conninfo)
{
    char **list = calloc(1, sizeof(char *));
    size_t n = 0;
    if (list == NULL || conninfo == NULL)
        return list;
    const char *p = conninfo;
    while (*p) {
        if (p[0] == ':' && p[1] == '/' && p[2] == '/') {
            const char *end, *pw = s_uri_password(p + 3, &end);
            if (pw) {
                if (s_add(&list, &n, pw, (size_t)(end - pw)))
                    break;
                p = end;
                continue;
            }
        }
        if (*p == '=') {
            const char *key_end = p;
            while (key_end > conninfo && key_end[-1] == ' ')
                key_end--;
            if (s_secret_key(conninfo, key_end)) {
                const char *v = p + 1;
                while (*v == ' ')
                    v++;
                const char *vend = s_value_end(v);
                if (vend > v) {
                    bool quoted = *v == '\'' || *v == '"';
                    const char *s = quoted ? v + 1 : v;
                    size_t len = (size_t)(vend - s) - (quoted && vend[-1] == *v ? 1 : 0);
                    if (s_add(&list, &n, s, len))
                        break;
                    if (!quoted) {
                        /* `password=Abc Def`: libpq reads "Abc" and then
                         * complains about "Def"; the words up to the next
                         * key=value were meant as the password too */
                        const char *w = vend;
                        for (;;) {
                            while (*w == ' ' || *w == '\t' || *w == '\n')
                                w++;
                            const char *we = w;
                            while (*we && !isspace((unsigned char)*we))
                                we++;
                            if (we == w || memchr(w, '=', (size_t)(we - w)))
                                break;
                            if (s_add(&list, &n, w, (size_t)(we - w)))
                                goto out;
                            w = we;
                        }
                    }
                    p = vend;
                    continue;
                }
            }
        }
        p++;
    }
out:
    return list;
}

void dld_redact_list_free(char **list)
{
    for (size_t i = 0; list && list[i]; i++)
        free(list[i]);
    free(list);
}

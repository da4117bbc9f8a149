/* AWS Signature Version 4: canonical request, string to sign, signature.
 * Checked against the official test suite (tests/aws/test_sigv4.c). We do
 * not use libcurl's CURLOPT_AWS_SIGV4: libcurl 7.88 does not canonicalise
 * query strings the way AWS does (see DESIGN.md §7). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_internal.h"

struct s_kv {
    char *key;   /* canonical (lower-case name / encoded key) */
    char *value; /* canonical (normalised value / encoded value) */
    size_t order;
};

struct s_kv_list {
    struct s_kv *items;
    size_t count, cap;
    bool failed;
};

static void s_kv_add(struct s_kv_list *l, char *key, char *value)
{
    if (!key || !value || l->failed) {
        free(key);
        free(value);
        l->failed = true;
        return;
    }
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct s_kv *p = realloc(l->items, cap * sizeof(*p));
        if (!p) {
            free(key);
            free(value);
            l->failed = true;
            return;
        }
        l->items = p;
        l->cap = cap;
    }
    l->items[l->count].key = key;
    l->items[l->count].value = value;
    l->items[l->count].order = l->count;
    l->count++;
}

static void s_kv_clean_up(struct s_kv_list *l)
{
    for (size_t i = 0; i < l->count; i++) {
        free(l->items[i].key);
        free(l->items[i].value);
    }
    free(l->items);
    memset(l, 0, sizeof(*l));
}

/* headers: by name only, keeping the request order of duplicates (their
 * values are joined in that order) */
static int s_cmp_header(const void *a, const void *b)
{
    const struct s_kv *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* query parameters: by encoded key, then encoded value */
static int s_cmp_param(const void *a, const void *b)
{
    const struct s_kv *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->value, y->value);
}

/* lower-case name */
static char *s_header_name(const char *name)
{
    char *n = dld_aws_strtrim(name, strlen(name));
    for (char *p = n; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return n;
}

/* trimmed, runs of whitespace (folded lines included) collapsed to one space */
static char *s_header_value(const char *v)
{
    size_t len = strlen(v);
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    bool space = false;
    for (size_t i = 0; i < len; i++) {
        if (isspace((unsigned char)v[i])) {
            space = o > 0;
            continue;
        }
        if (space)
            out[o++] = ' ';
        space = false;
        out[o++] = v[i];
    }
    out[o] = '\0';
    return out;
}

static void s_add_param(struct s_kv_list *l, const char *k, size_t klen, const char *v, size_t vlen)
{
    size_t dk, dv;
    char *key = dld_aws_uri_decode(k, klen, &dk);
    char *val = dld_aws_uri_decode(v, vlen, &dv);
    char *ek = key ? dld_aws_uri_encode(key, dk, false) : NULL;
    char *ev = val ? dld_aws_uri_encode(val, dv, false) : NULL;
    free(key);
    free(val);
    s_kv_add(l, ek, ev);
}

static void s_parse_query(struct s_kv_list *l, const char *q)
{
    if (!q)
        return;
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        if (n) {
            const char *eq = memchr(q, '=', n);
            if (eq)
                s_add_param(l, q, (size_t)(eq - q), eq + 1, n - (size_t)(eq - q) - 1);
            else
                s_add_param(l, q, n, "", 0);
        }
        q += n;
        if (*q == '&')
            q++;
    }
}

/* RFC 3986 remove_dot_segments plus collapsing of empty segments, which
 * is what AWS's normalisation does for every service but S3. */
static char *s_normalize_path(const char *path)
{
    size_t len = strlen(path);
    char **segs = calloc(len + 1, sizeof(char *));
    size_t *lens = calloc(len + 1, sizeof(size_t));
    struct dld_aws_buf b = {0};
    if (!segs || !lens) {
        free(segs);
        free(lens);
        return NULL;
    }
    size_t n = 0;
    bool trailing = false;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, '/');
        size_t sl = e ? (size_t)(e - p) : strlen(p);
        trailing = e != NULL;
        if (sl == 1 && p[0] == '.') {
            trailing = true;
        } else if (sl == 2 && p[0] == '.' && p[1] == '.') {
            if (n)
                n--;
            trailing = true;
        } else {
            segs[n] = (char *)p;
            lens[n++] = sl;
        }
        p += sl;
    }
    for (size_t i = 0; i < n; i++) {
        dld_aws_buf_putc(&b, '/');
        dld_aws_buf_append(&b, segs[i], lens[i]);
    }
    if (n == 0 || trailing)
        dld_aws_buf_putc(&b, '/');
    free(segs);
    free(lens);
    return dld_aws_buf_take(&b);
}

static char *s_canonical_path(const char *path, uint32_t flags)
{
    if (!path || !*path)
        path = "/";
    if (flags & DLD_SIGV4_NO_DOUBLE_ENCODE) {
        if (flags & DLD_SIGV4_NO_NORMALIZE)
            return strdup(path);
        return s_normalize_path(path);
    }
    char *norm = (flags & DLD_SIGV4_NO_NORMALIZE) ? strdup(path) : s_normalize_path(path);
    if (!norm)
        return NULL;
    char *enc = dld_aws_uri_encode(norm, strlen(norm), true);
    free(norm);
    return enc;
}

static void s_signing_key(const char *secret, const char *date, const char *region, const char *service,
                          unsigned char key[32])
{
    struct dld_aws_buf k = {0};
    dld_aws_buf_puts(&k, "AWS4");
    dld_aws_buf_puts(&k, secret);
    unsigned char t1[32], t2[32], t3[32];
    dld_aws_hmac_sha256(k.data ? k.data : "", k.len, date, strlen(date), t1);
    dld_aws_hmac_sha256(t1, 32, region, strlen(region), t2);
    dld_aws_hmac_sha256(t2, 32, service, strlen(service), t3);
    dld_aws_hmac_sha256(t3, 32, "aws4_request", 12, key);
    /* the derived key is as good as the secret: wipe the scratch copies */
    if (k.data)
        memset(k.data, 0, k.len);
    dld_aws_buf_clean_up(&k);
    memset(t1, 0, 32);
    memset(t2, 0, 32);
    memset(t3, 0, 32);
}

static int s_fail_oom(struct dld_error *err)
{
    return dld_error_set(err, DLD_ERR_FATAL, "sigv4: out of memory");
}

static void s_collect_headers(struct s_kv_list *h, const struct dld_aws_sign_request *req)
{
    for (size_t i = 0; i < req->nheaders; i++) {
        const char *name = req->headers[i].name;
        if (!strcasecmp(name, "authorization") || !strcasecmp(name, "x-amz-date") ||
            !strcasecmp(name, "x-amz-security-token") || !strcasecmp(name, "x-amz-content-sha256"))
            continue; /* the signer adds these itself */
        s_kv_add(h, s_header_name(name), s_header_value(req->headers[i].value ? req->headers[i].value : ""));
    }
}

/* joins duplicates with ',' into canonical and signed-header strings */
static void s_render_headers(struct s_kv_list *h, struct dld_aws_buf *canon, struct dld_aws_buf *signed_names)
{
    if (h->count > 1)
        qsort(h->items, h->count, sizeof(struct s_kv), s_cmp_header);
    for (size_t i = 0; i < h->count; i++) {
        bool dup = i > 0 && !strcmp(h->items[i].key, h->items[i - 1].key);
        if (dup) {
            dld_aws_buf_putc(canon, ',');
        } else {
            if (i > 0)
                dld_aws_buf_putc(canon, '\n');
            if (signed_names->len)
                dld_aws_buf_putc(signed_names, ';');
            dld_aws_buf_puts(signed_names, h->items[i].key);
            dld_aws_buf_puts(canon, h->items[i].key);
            dld_aws_buf_putc(canon, ':');
        }
        dld_aws_buf_puts(canon, h->items[i].value);
    }
    dld_aws_buf_putc(canon, '\n');
}

static void s_add_query_param(struct dld_aws_buf *q, const char *k, const char *v)
{
    if (q->len)
        dld_aws_buf_putc(q, '&');
    dld_aws_buf_puts(q, k);
    dld_aws_buf_putc(q, '=');
    dld_aws_buf_encode(q, v, strlen(v), false);
}

int dld_aws_sign(const struct dld_aws_credentials *creds, const struct dld_aws_sign_config *cfg,
                 const struct dld_aws_sign_request *req, struct dld_aws_signature *out, struct dld_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!creds || !creds->access_key_id || !creds->secret_access_key)
        return dld_error_set(err, DLD_ERR_AUTH, "sigv4: no credentials to sign with");
    if (!cfg->region || !*cfg->region || !cfg->service || !*cfg->service)
        return dld_error_set(err, DLD_ERR_CONFIG, "sigv4: region and service are required");
    uint32_t flags = cfg->flags;
    bool query_mode = flags & DLD_SIGV4_QUERY;
    const char *token = creds->session_token && *creds->session_token ? creds->session_token : NULL;
    bool token_signed = token && !(flags & DLD_SIGV4_OMIT_SESSION_TOKEN);
    out->flags = flags;
    out->session_token = token;

    if (req->payload_hash) {
        snprintf(out->payload_hash, sizeof(out->payload_hash), "%s", req->payload_hash);
    } else {
        dld_aws_sha256_hex(req->body, req->body_len, out->payload_hash);
    }
    dld_aws_format_amz_date(cfg->time_s, out->amz_date);
    char date[9];
    memcpy(date, out->amz_date, 8);
    date[8] = '\0';

    struct dld_aws_buf scope = {0}, canon = {0}, names = {0}, cq = {0}, sts = {0}, tmp = {0};
    struct s_kv_list headers = {0}, params = {0};
    char *path = NULL;
    int rc = DLD_OK;

    dld_aws_buf_printf(&scope, "%s/%s/%s/aws4_request", date, cfg->region, cfg->service);

    s_collect_headers(&headers, req);
    if (!query_mode) {
        s_kv_add(&headers, strdup("x-amz-date"), strdup(out->amz_date));
        if (flags & DLD_SIGV4_CONTENT_SHA256)
            s_kv_add(&headers, strdup("x-amz-content-sha256"), strdup(out->payload_hash));
        if (token_signed)
            s_kv_add(&headers, strdup("x-amz-security-token"), strdup(token));
    }
    if (headers.failed) {
        rc = s_fail_oom(err);
        goto done;
    }
    struct dld_aws_buf canon_headers = {0};
    s_render_headers(&headers, &canon_headers, &names);

    /* the query string as sent: the caller's, then the X-Amz-* parameters
     * (in the order AWS's own presigned URLs use) */
    struct dld_aws_buf sent = {0};
    if (req->query && *req->query)
        dld_aws_buf_puts(&sent, req->query);
    if (query_mode) {
        dld_aws_buf_printf(&tmp, "%s/%s", creds->access_key_id, scope.data ? scope.data : "");
        s_add_query_param(&sent, "X-Amz-Algorithm", "AWS4-HMAC-SHA256");
        s_add_query_param(&sent, "X-Amz-Credential", tmp.data ? tmp.data : "");
        s_add_query_param(&sent, "X-Amz-Date", out->amz_date);
        s_add_query_param(&sent, "X-Amz-SignedHeaders", names.data ? names.data : "");
        dld_aws_buf_clean_up(&tmp);
        dld_aws_buf_printf(&tmp, "%lld", (long long)(cfg->expires_s > 0 ? cfg->expires_s : 3600));
        s_add_query_param(&sent, "X-Amz-Expires", tmp.data ? tmp.data : "");
        dld_aws_buf_clean_up(&tmp);
        if (token_signed)
            s_add_query_param(&sent, "X-Amz-Security-Token", token);
    }
    s_parse_query(&params, sent.data);
    if (params.count > 1)
        qsort(params.items, params.count, sizeof(struct s_kv), s_cmp_param);
    for (size_t i = 0; i < params.count; i++) {
        if (i)
            dld_aws_buf_putc(&cq, '&');
        dld_aws_buf_puts(&cq, params.items[i].key);
        dld_aws_buf_putc(&cq, '=');
        dld_aws_buf_puts(&cq, params.items[i].value);
    }

    path = s_canonical_path(req->path, flags);
    dld_aws_buf_printf(&canon, "%s\n%s\n%s\n", req->method, path ? path : "", cq.data ? cq.data : "");
    dld_aws_buf_append(&canon, canon_headers.data, canon_headers.len);
    dld_aws_buf_printf(&canon, "\n%s\n%s", names.data ? names.data : "", out->payload_hash);
    dld_aws_buf_clean_up(&canon_headers);

    if (!path || params.failed || canon.failed || sent.failed || names.failed || scope.failed) {
        dld_aws_buf_clean_up(&sent);
        rc = s_fail_oom(err);
        goto done;
    }

    char creq_hash[65];
    dld_aws_sha256_hex(canon.data, canon.len, creq_hash);
    dld_aws_buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", out->amz_date, scope.data, creq_hash);

    unsigned char key[32], sig[32];
    s_signing_key(creds->secret_access_key, date, cfg->region, cfg->service, key);
    dld_aws_hmac_sha256(key, 32, sts.data ? sts.data : "", sts.len, sig);
    memset(key, 0, sizeof(key));
    dld_aws_hex(sig, 32, out->signature);

    if (query_mode) {
        if (token && !token_signed)
            s_add_query_param(&sent, "X-Amz-Security-Token", token);
        s_add_query_param(&sent, "X-Amz-Signature", out->signature);
        out->query = dld_aws_buf_take(&sent);
    } else {
        dld_aws_buf_clean_up(&sent);
        dld_aws_buf_printf(&tmp, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                           creds->access_key_id, scope.data, names.data, out->signature);
        out->authorization = dld_aws_buf_take(&tmp);
    }
    out->canonical_request = dld_aws_buf_take(&canon);
    out->string_to_sign = dld_aws_buf_take(&sts);
    if (!out->canonical_request || !out->string_to_sign || (query_mode ? !out->query : !out->authorization)) {
        dld_aws_signature_clean_up(out);
        rc = s_fail_oom(err);
    }

done:
    free(path);
    s_kv_clean_up(&headers);
    s_kv_clean_up(&params);
    dld_aws_buf_clean_up(&scope);
    dld_aws_buf_clean_up(&canon);
    dld_aws_buf_clean_up(&names);
    dld_aws_buf_clean_up(&cq);
    dld_aws_buf_clean_up(&sts);
    dld_aws_buf_clean_up(&tmp);
    return rc;
}

void dld_aws_signature_clean_up(struct dld_aws_signature *sig)
{
    if (!sig)
        return;
    free(sig->canonical_request);
    free(sig->string_to_sign);
    free(sig->authorization);
    free(sig->query);
    memset(sig, 0, sizeof(*sig));
}

size_t dld_aws_signature_headers(const struct dld_aws_signature *sig, struct dld_aws_header out[4])
{
    size_t n = 0;
    if (sig->flags & DLD_SIGV4_QUERY)
        return 0;
    out[n++] = (struct dld_aws_header){"X-Amz-Date", sig->amz_date};
    if (sig->flags & DLD_SIGV4_CONTENT_SHA256)
        out[n++] = (struct dld_aws_header){"X-Amz-Content-Sha256", sig->payload_hash};
    if (sig->session_token)
        out[n++] = (struct dld_aws_header){"X-Amz-Security-Token", sig->session_token};
    out[n++] = (struct dld_aws_header){"Authorization", sig->authorization};
    return n;
}

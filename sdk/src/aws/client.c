/* A client for one AWS service endpoint: builds the URL, signs with our
 * SigV4, sends through the transport seam and retries what AWS's own SDKs
 * retry (5xx, throttling, timeouts and resets of idempotent requests) with
 * exponential backoff and full jitter. Clock skew reported by the service
 * (RequestTimeTooSkewed and friends) is measured from its Date header and
 * corrected for the rest of the client's life. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "aws_internal.h"

struct dld_aws_client {
    char *service;
    char *region;
    char *scheme; /* "https" */
    char *host;   /* "s3.us-east-1.amazonaws.com" or "127.0.0.1:9000" */
    char *base_path; /* "" or "/prefix" (no trailing '/') */
    struct dld_aws_credentials_provider *creds;
    struct dld_aws_http *http;
    bool own_http;
    struct dld_aws_retry_policy retry;
    uint32_t sign_flags;
    const struct dld_host *host_tbl;
    char *log_name;
    void (*sleep_ms)(int64_t ms);
    int64_t (*now_ms)(void);
    _Atomic int64_t skew_ms;
    _Atomic int64_t retries;
};

static int s_parse_endpoint(struct dld_aws_client *c, const char *endpoint, struct dld_error *err)
{
    const char *sep = strstr(endpoint, "://");
    if (!sep || sep == endpoint)
        return dld_error_set(err, DLD_ERR_CONFIG, "endpoint '%s' is not a URL (scheme://host[:port])", endpoint);
    c->scheme = dld_aws_strndup(endpoint, (size_t)(sep - endpoint));
    const char *h = sep + 3;
    size_t hl = strcspn(h, "/?#");
    if (hl == 0)
        return dld_error_set(err, DLD_ERR_CONFIG, "endpoint '%s' has no host", endpoint);
    if (h[hl] == '?' || h[hl] == '#')
        return dld_error_set(err, DLD_ERR_CONFIG, "endpoint '%s' must not carry a query or fragment", endpoint);
    c->host = dld_aws_strndup(h, hl);
    const char *path = h + hl;
    size_t pl = strlen(path);
    while (pl && path[pl - 1] == '/')
        pl--;
    c->base_path = dld_aws_strndup(path, pl);
    if (!c->scheme || !c->host || !c->base_path)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    if (strcmp(c->scheme, "http") && strcmp(c->scheme, "https"))
        return dld_error_set(err, DLD_ERR_CONFIG, "endpoint '%s': scheme must be http or https", endpoint);
    return DLD_OK;
}

struct dld_aws_client *dld_aws_client_new(const struct dld_aws_client_options *opt, struct dld_error *err)
{
    if (!opt->service || !opt->region || !opt->endpoint) {
        dld_error_set(err, DLD_ERR_CONFIG, "aws client: service, region and endpoint are required");
        return NULL;
    }
    struct dld_aws_client *c = calloc(1, sizeof(*c));
    if (!c) {
        dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        return NULL;
    }
    c->service = strdup(opt->service);
    c->region = strdup(opt->region);
    c->log_name = strdup(opt->log_name ? opt->log_name : opt->service);
    if (s_parse_endpoint(c, opt->endpoint, err) != DLD_OK) {
        dld_aws_client_destroy(c);
        return NULL;
    }
    c->creds = opt->credentials;
    c->http = opt->http;
    if (!c->http) {
        struct dld_aws_http_options ho = opt->http_options;
        if (ho.host == NULL)
            ho.host = opt->host; /* a signal aborts requests in flight */
        c->http = dld_aws_http_new_curl(&ho, err);
        if (!c->http) {
            dld_aws_client_destroy(c);
            return NULL;
        }
        c->own_http = true;
    }
    c->retry.max_attempts = opt->retry.max_attempts > 0 ? opt->retry.max_attempts : 5;
    c->retry.base_delay_ms = opt->retry.base_delay_ms > 0 ? opt->retry.base_delay_ms : 100;
    c->retry.max_delay_ms = opt->retry.max_delay_ms > 0 ? opt->retry.max_delay_ms : 20000;
    c->sign_flags = opt->sign_flags;
    c->host_tbl = opt->host;
    c->sleep_ms = opt->sleep_ms ? opt->sleep_ms : dld_aws_real_sleep_ms;
    c->now_ms = opt->now_ms ? opt->now_ms : dld_aws_real_now_ms;
    if (!c->service || !c->region || !c->log_name) {
        dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        dld_aws_client_destroy(c);
        return NULL;
    }
    return c;
}

void dld_aws_client_destroy(struct dld_aws_client *c)
{
    if (!c)
        return;
    if (c->own_http)
        dld_aws_http_destroy(c->http);
    free(c->service);
    free(c->region);
    free(c->scheme);
    free(c->host);
    free(c->base_path);
    free(c->log_name);
    free(c);
}

int64_t dld_aws_client_retries(const struct dld_aws_client *c)
{
    return atomic_load(&((struct dld_aws_client *)c)->retries);
}

int64_t dld_aws_client_skew_ms(const struct dld_aws_client *c)
{
    return atomic_load(&((struct dld_aws_client *)c)->skew_ms);
}

/* full jitter: uniform in [0, min(cap, base * 2^attempt)] */
static int64_t s_backoff_ms(const struct dld_aws_client *c, int attempt)
{
    int64_t ceiling = c->retry.base_delay_ms;
    for (int i = 1; i < attempt && ceiling < c->retry.max_delay_ms; i++)
        ceiling *= 2;
    if (ceiling > c->retry.max_delay_ms)
        ceiling = c->retry.max_delay_ms;
    uint64_t r = 0;
    if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
        r = (uint64_t)c->now_ms() * 2654435761u;
    return (int64_t)(r % (uint64_t)(ceiling + 1));
}

static bool s_is_skew_error(const struct dld_error *e)
{
    const char *code = e->upstream_code;
    if (!strcmp(code, "RequestTimeTooSkewed") || !strcmp(code, "RequestExpired") ||
        !strcmp(code, "RequestInTheFuture"))
        return true;
    return !strcmp(code, "InvalidSignatureException") &&
           (strstr(e->message, "Signature expired") || strstr(e->message, "Signature not yet current"));
}

static bool s_is_expired_token(const struct dld_error *e)
{
    return !strcmp(e->upstream_code, "ExpiredToken") || !strcmp(e->upstream_code, "ExpiredTokenException") ||
           !strcmp(e->upstream_code, "RequestExpiredToken");
}

/* the server's clock, from its Date header (or S3's <ServerTime>) */
static int64_t s_server_time_ms(const struct dld_aws_http_response *resp)
{
    int64_t t = dld_aws_parse_http_date(dld_aws_http_response_header(resp, "date"));
    if (t > 0)
        return t;
    char *st = dld_aws_xml_text(resp->body, resp->body_len, "ServerTime");
    t = dld_aws_parse_iso8601(st);
    free(st);
    return t;
}

static int s_attempt(struct dld_aws_client *c, const struct dld_aws_call *call, struct dld_aws_http_response *resp,
                     struct dld_error *err)
{
    struct dld_aws_credentials creds = {0};
    int rc;
    if (!c->creds)
        return dld_error_set(err, DLD_ERR_AUTH, "%s: no credentials provider", c->log_name);
    if ((rc = dld_aws_credentials_get(c->creds, &creds, err)) != DLD_OK)
        return rc;

    struct dld_aws_buf host = {0}, path = {0}, url = {0};
    dld_aws_buf_puts(&host, call->host_prefix ? call->host_prefix : "");
    dld_aws_buf_puts(&host, c->host);
    dld_aws_buf_puts(&path, c->base_path);
    dld_aws_buf_puts(&path, call->path && *call->path ? call->path : "/");

    size_t nh = call->nheaders + 1;
    struct dld_aws_header *hs = calloc(nh + 4, sizeof(*hs));
    if (!hs || host.failed || path.failed) {
        free(hs);
        dld_aws_buf_clean_up(&host);
        dld_aws_buf_clean_up(&path);
        dld_aws_credentials_clean_up(&creds);
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    hs[0] = (struct dld_aws_header){"Host", host.data};
    for (size_t i = 0; i < call->nheaders; i++)
        hs[i + 1] = call->headers[i];

    struct dld_aws_sign_request sreq = {
        .method = call->method, .path = path.data, .query = call->query, .headers = hs, .nheaders = nh,
        .body = call->body, .body_len = call->body_len, .payload_hash = call->payload_hash,
    };
    struct dld_aws_sign_config scfg = {
        .region = c->region, .service = c->service,
        .time_s = (c->now_ms() + atomic_load(&c->skew_ms)) / 1000, .flags = c->sign_flags,
    };
    struct dld_aws_signature sig;
    rc = dld_aws_sign(&creds, &scfg, &sreq, &sig, err);
    if (rc == DLD_OK) {
        nh += dld_aws_signature_headers(&sig, hs + nh);
        dld_aws_buf_printf(&url, "%s://%s%s%s%s", c->scheme, host.data, path.data,
                           call->query && *call->query ? "?" : "", call->query ? call->query : "");
        struct dld_aws_http_request hreq = {
            .method = call->method, .url = url.data, .headers = hs, .nheaders = nh,
            .body = call->body, .body_len = call->body_len,
        };
        if (url.failed)
            rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        else
            rc = dld_aws_http_send(c->http, &hreq, resp, err);
        if (rc == DLD_OK && (resp->status < 200 || resp->status > 299)) {
            char what[512];
            snprintf(what, sizeof(what), "%s %s %.300s", c->log_name, call->method, path.data);
            rc = dld_aws_error_from_response(resp, what, err);
        }
    }
    dld_aws_signature_clean_up(&sig);
    free(hs);
    dld_aws_buf_clean_up(&host);
    dld_aws_buf_clean_up(&path);
    dld_aws_buf_clean_up(&url);
    dld_aws_credentials_clean_up(&creds);
    return rc;
}

int dld_aws_client_call(struct dld_aws_client *c, const struct dld_aws_call *call, struct dld_aws_http_response *resp,
                        struct dld_error *err)
{
    memset(resp, 0, sizeof(*resp));
    bool skew_fixed = false, token_refreshed = false;
    for (int attempt = 1;; attempt++) {
        dld_aws_http_response_clean_up(resp);
        int rc = s_attempt(c, call, resp, err);
        if (rc == DLD_OK)
            return DLD_OK;
        bool retry = false;
        bool immediate = false;
        if (resp->status == 0) {
            /* no answer: transport failure or credentials that could not be fetched */
            bool nothing_sent = !strcmp(err->upstream_code, "ConnectFailed");
            retry = rc == DLD_ERR_RETRY && (call->idempotent || nothing_sent);
        } else if (s_is_skew_error(err) && !skew_fixed) {
            int64_t server = s_server_time_ms(resp);
            if (server > 0) {
                atomic_store(&c->skew_ms, server - c->now_ms());
                dld_log(c->host_tbl, DLD_LOG_WARN, c->log_name, "clock skew of %" PRId64 " ms against %s corrected",
                        atomic_load(&c->skew_ms), c->host);
                retry = immediate = skew_fixed = true;
            }
        } else if (s_is_expired_token(err) && !token_refreshed && c->creds) {
            dld_aws_credentials_invalidate(c->creds);
            retry = immediate = token_refreshed = true;
        } else {
            retry = rc == DLD_ERR_RETRY || rc == DLD_ERR_THROTTLED;
        }
        if (!retry || attempt >= c->retry.max_attempts) {
            if (retry)
                dld_error_prefix(err, "gave up after %d attempts", attempt);
            return rc;
        }
        if (c->host_tbl && c->host_tbl->cancelled && c->host_tbl->cancelled())
            return rc;
        int64_t delay = immediate ? 0 : s_backoff_ms(c, attempt);
        atomic_fetch_add(&c->retries, 1);
        dld_log(c->host_tbl, DLD_LOG_WARN, c->log_name, "%s (attempt %d of %d); retrying in %" PRId64 " ms",
                err->message, attempt, c->retry.max_attempts, delay);
        c->sleep_ms(delay);
    }
}

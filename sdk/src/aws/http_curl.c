/* The production transport: libcurl for bytes on the wire only (signing
 * is ours). Easy handles are pooled so connections (and TLS sessions) are
 * reused across calls and threads: curl keeps a connection cache per easy
 * handle, and a handle taken from the pool brings its cache along. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "aws_internal.h"

#ifndef DLD_VERSION_STRING
#define DLD_VERSION_STRING "0.1.0"
#endif

struct s_curl {
    pthread_mutex_t lock;
    CURL **free_handles;
    size_t nfree, cap;
    char *ca_bundle;
    char *user_agent;
    bool no_verify;
    long connect_timeout_ms;
    long timeout_ms;
    const struct dld_host *host; /* for cancelled(); may be NULL */
};

struct s_recv {
    struct dld_aws_buf body;
    struct dld_aws_header *headers;
    size_t nheaders, cap;
    bool failed;
    const struct dld_host *host; /* abort when it says cancelled ... */
    bool cancellable;            /* ... unless the request started after the signal */
    bool aborted;
};

static bool s_cancelled(const struct dld_host *host)
{
    return host && host->cancelled && host->cancelled();
}

/* When this copy of the SDK first saw the signal: every request after it
 * shares one clean-up budget of DLD_AWS_CANCEL_DEADLINE_MS. */
static int64_t s_cancel_seen_ms;

static int64_t s_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long s_cleanup_budget_ms(void)
{
    int64_t now = s_mono_ms(), zero = 0;
    __atomic_compare_exchange_n(&s_cancel_seen_ms, &zero, now, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    int64_t left = __atomic_load_n(&s_cancel_seen_ms, __ATOMIC_ACQUIRE) + DLD_AWS_CANCEL_DEADLINE_MS - now;
    return left > 1 ? (long)left : 1; /* 0 would mean no timeout at all */
}

/* curl calls this at least once a second, data or not: a signal ends a
 * request in flight (a hung PutObject would otherwise hold the process for
 * request_timeout_ms). */
static int s_on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    struct s_recv *r = ud;
    if (r->cancellable && s_cancelled(r->host)) {
        r->aborted = true;
        (void)s_cleanup_budget_ms(); /* the clean-up budget starts now */
        return 1;
    }
    return 0;
}

static pthread_once_t s_global_once = PTHREAD_ONCE_INIT;
static void s_global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t s_on_body(char *data, size_t size, size_t n, void *ud)
{
    struct s_recv *r = ud;
    dld_aws_buf_append(&r->body, data, size * n);
    return r->body.failed ? 0 : size * n;
}

static void s_free_headers(struct s_recv *r)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        free((char *)r->headers[i].name);
        free((char *)r->headers[i].value);
    }
    r->nheaders = 0;
}

static size_t s_on_header(char *data, size_t size, size_t n, void *ud)
{
    struct s_recv *r = ud;
    size_t len = size * n;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        /* a new response (after 100-continue or a redirect): start over */
        s_free_headers(r);
        return len;
    }
    const char *colon = memchr(data, ':', len);
    if (!colon)
        return len;
    if (r->nheaders == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        struct dld_aws_header *p = realloc(r->headers, cap * sizeof(*p));
        if (!p) {
            r->failed = true;
            return 0;
        }
        r->headers = p;
        r->cap = cap;
    }
    char *name = dld_aws_strtrim(data, (size_t)(colon - data));
    char *value = dld_aws_strtrim(colon + 1, len - (size_t)(colon + 1 - data));
    if (!name || !value) {
        free(name);
        free(value);
        r->failed = true;
        return 0;
    }
    for (char *p = name; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    r->headers[r->nheaders++] = (struct dld_aws_header){name, value};
    return len;
}

static CURL *s_take(struct s_curl *c)
{
    CURL *h = NULL;
    pthread_mutex_lock(&c->lock);
    if (c->nfree)
        h = c->free_handles[--c->nfree];
    pthread_mutex_unlock(&c->lock);
    if (h)
        curl_easy_reset(h); /* keeps the connection cache */
    else
        h = curl_easy_init();
    return h;
}

static void s_give_back(struct s_curl *c, CURL *h)
{
    pthread_mutex_lock(&c->lock);
    if (c->nfree == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        CURL **p = realloc(c->free_handles, cap * sizeof(*p));
        if (!p) {
            pthread_mutex_unlock(&c->lock);
            curl_easy_cleanup(h);
            return;
        }
        c->free_handles = p;
        c->cap = cap;
    }
    c->free_handles[c->nfree++] = h;
    pthread_mutex_unlock(&c->lock);
}

static int s_map_curl_error(CURLcode cc, const char *errbuf, const struct dld_aws_http_request *req,
                            struct dld_error *err)
{
    const char *kind;
    int code = DLD_ERR_RETRY;
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        kind = "ConnectFailed";
        break;
    case CURLE_OPERATION_TIMEDOUT:
        kind = "Timeout";
        break;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        kind = "ConnectionReset";
        break;
    case CURLE_SSL_CONNECT_ERROR:
        kind = "ConnectFailed";
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
        kind = "TlsVerifyFailed";
        code = DLD_ERR_FATAL;
        break;
    default:
        kind = "TransportError";
        code = DLD_ERR_FATAL;
        break;
    }
    dld_error_set(err, code, "%s %s: %s (%s)", req->method, req->url,
                  errbuf[0] ? errbuf : curl_easy_strerror(cc), kind);
    dld_error_upstream(err, 0, kind, NULL);
    /* curl's text may quote a URL with credentials or a presigned query
     * (X-Amz-Security-Token=...): the password-like parts go */
    dld_redact_error(err, NULL);
    return code;
}

static int s_send(void *impl, const struct dld_aws_http_request *req, struct dld_aws_http_response *resp,
                  struct dld_error *err)
{
    struct s_curl *c = impl;
    memset(resp, 0, sizeof(*resp));
    CURL *h = s_take(c);
    if (!h)
        return dld_error_set(err, DLD_ERR_FATAL, "curl_easy_init failed");

    struct curl_slist *hl = NULL;
    bool has_ct = false;
    for (size_t i = 0; i < req->nheaders; i++) {
        char *line = NULL;
        if (!strcasecmp(req->headers[i].name, "content-type"))
            has_ct = true;
        if (asprintf(&line, "%s: %s", req->headers[i].name, req->headers[i].value) < 0)
            continue;
        hl = curl_slist_append(hl, line);
        free(line);
    }
    /* no 100-continue round trip, and no form content type made up by curl */
    hl = curl_slist_append(hl, "Expect:");
    if (!has_ct)
        hl = curl_slist_append(hl, "Content-Type:");

    struct s_recv r = {.host = c->host};
    char errbuf[CURL_ERROR_SIZE] = {0};
    long timeout_ms = c->timeout_ms;
    /* after a signal only clean-up runs: short, and not aborted itself */
    r.cancellable = !s_cancelled(c->host);
    if (!r.cancellable) {
        long left = s_cleanup_budget_ms();
        if (timeout_ms <= 0 || timeout_ms > left)
            timeout_ms = left;
    }
    curl_easy_setopt(h, CURLOPT_URL, req->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    if (c->host) {
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, s_on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, &r);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    }
    curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    if (c->ca_bundle)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_bundle);
    if (c->no_verify) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (!strcmp(req->method, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (req->body || !strcmp(req->method, "PUT") || !strcmp(req->method, "POST")) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        /* curl copies a large body through its upload buffer, 64 KiB per
         * send() by default: 1 MiB means 16 times fewer copies into it and
         * system calls per part (measured in bench/s3) */
        if (req->body_len > 65536)
            curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 1024L * 1024);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        if (strcmp(req->method, "GET"))
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    }

    CURLcode cc = curl_easy_perform(h);
    int rc = DLD_OK;
    if (cc != CURLE_OK && r.aborted) {
        rc = dld_error_set(err, DLD_ERR_RETRY, "%s %s: interrupted by a signal", req->method, req->url);
        dld_error_upstream(err, 0, "Cancelled", NULL);
    } else if (cc != CURLE_OK) {
        rc = s_map_curl_error(cc, errbuf, req, err);
    } else if (r.failed || r.body.failed) {
        rc = dld_error_set(err, DLD_ERR_FATAL, "%s %s: out of memory reading the response", req->method, req->url);
    } else {
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        resp->status = (int)status;
        resp->body_len = r.body.len;
        resp->body = dld_aws_buf_take(&r.body);
        if (!resp->body)
            resp->body = calloc(1, 1);
        resp->headers = r.headers;
        resp->nheaders = r.nheaders;
        r.headers = NULL;
        r.nheaders = 0;
    }
    s_free_headers(&r);
    free(r.headers);
    dld_aws_buf_clean_up(&r.body);
    curl_slist_free_all(hl);
    /* the handle's options point at our stack: reset before pooling */
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    s_give_back(c, h);
    return rc;
}

static void s_destroy(void *impl)
{
    struct s_curl *c = impl;
    for (size_t i = 0; i < c->nfree; i++)
        curl_easy_cleanup(c->free_handles[i]);
    free(c->free_handles);
    free(c->ca_bundle);
    free(c->user_agent);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static const struct dld_aws_http_vtable s_curl_vtable = {.send = s_send, .destroy = s_destroy};

struct dld_aws_http *dld_aws_http_new_curl(const struct dld_aws_http_options *opt, struct dld_error *err)
{
    pthread_once(&s_global_once, s_global_init);
    struct dld_aws_http *http = calloc(1, sizeof(*http));
    struct s_curl *c = calloc(1, sizeof(*c));
    if (!http || !c) {
        free(http);
        free(c);
        dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    struct dld_aws_http_options none = {0};
    if (!opt)
        opt = &none;
    c->ca_bundle = dld_aws_strdup(opt->ca_bundle && *opt->ca_bundle ? opt->ca_bundle : NULL);
    c->user_agent = strdup(opt->user_agent ? opt->user_agent : "deltaload/" DLD_VERSION_STRING);
    c->no_verify = opt->no_verify_tls;
    c->connect_timeout_ms = opt->connect_timeout_ms > 0 ? (long)opt->connect_timeout_ms : 5000;
    c->timeout_ms = opt->timeout_ms > 0 ? (long)opt->timeout_ms : 120000;
    c->host = opt->host;
    http->vtable = &s_curl_vtable;
    http->impl = c;
    return http;
}

void dld_aws_http_destroy(struct dld_aws_http *http)
{
    if (!http)
        return;
    if (http->vtable && http->vtable->destroy)
        http->vtable->destroy(http->impl);
    free(http);
}

int dld_aws_http_send(struct dld_aws_http *http, const struct dld_aws_http_request *req,
                      struct dld_aws_http_response *resp, struct dld_error *err)
{
    return http->vtable->send(http->impl, req, resp, err);
}

void dld_aws_http_response_clean_up(struct dld_aws_http_response *resp)
{
    if (!resp)
        return;
    for (size_t i = 0; i < resp->nheaders; i++) {
        free((char *)resp->headers[i].name);
        free((char *)resp->headers[i].value);
    }
    free(resp->headers);
    free(resp->body);
    memset(resp, 0, sizeof(*resp));
}

const char *dld_aws_http_response_header(const struct dld_aws_http_response *resp, const char *name)
{
    for (size_t i = 0; resp && i < resp->nheaders; i++)
        if (!strcasecmp(resp->headers[i].name, name))
            return resp->headers[i].value;
    return NULL;
}

/*
 * AWS support shared by every AWS plugin (target-s3, state-dynamodb,
 * scheduler-eventbridge): SigV4 signing, the credentials provider chain,
 * region and endpoint resolution, and an HTTP client (libcurl) with the
 * AWS retry policy.
 *
 * Layers, bottom up (each usable on its own):
 *   dld_aws_sign()                  pure function: request in, signature out
 *   struct dld_aws_http             transport seam (a vtable): libcurl in
 *                                   production, a fake in unit tests
 *   dld_aws_credentials_provider    the chain the AWS SDKs use, cached and
 *                                   refreshed before expiry
 *   dld_aws_client                  one service endpoint: signs, sends,
 *                                   retries with backoff, maps AWS errors
 *
 * Ownership: this code is linked statically into each plugin, so its
 * allocations use libc malloc and never cross the plugin boundary. Every
 * `char *` returned or stored in an output struct is freed by the matching
 * _clean_up / _destroy (or free() where stated). Input pointers are
 * borrowed for the call only unless stated.
 *
 * Thread-safety: dld_aws_sign and the resolvers are pure. A credentials
 * provider, an HTTP transport from dld_aws_http_new_curl and a client may be
 * shared by many threads (multipart parts are sent in parallel).
 *
 * Secrets (secret access key, session token, web identity token) are never
 * written to logs or error messages.
 *
 * SDK layer: aws (libdeltaload_sdk_aws.a; pkg-config deltaload-sdk-aws; CMake
 * component aws, deltaload::sdk-aws). Not included by deltaload.h.
 */
#ifndef DELTALOAD_AWS_H
#define DELTALOAD_AWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A header as a borrowed name/value pair. */
struct dld_aws_header {
    const char *name;
    const char *value;
};

/* ---- credentials ------------------------------------------------------------ */
struct dld_aws_credentials {
    char *access_key_id;
    char *secret_access_key;
    char *session_token; /* NULL when the credentials are long-term */
    int64_t expires_ms;  /* 0: no expiry */
};
void dld_aws_credentials_clean_up(struct dld_aws_credentials *c);
/* deep copy; returns DLD_OK or DLD_ERR_FATAL (out of memory) */
int dld_aws_credentials_copy(struct dld_aws_credentials *dst, const struct dld_aws_credentials *src);

/* ---- SigV4 ----------------------------------------------------------------------- */
#define DLD_AWS_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

enum dld_aws_sign_flags {
    DLD_SIGV4_QUERY = 1u << 0,             /* presign: the signature goes in the query string */
    DLD_SIGV4_NO_NORMALIZE = 1u << 1,      /* keep "." ".." "//" in the path (S3) */
    DLD_SIGV4_NO_DOUBLE_ENCODE = 1u << 2,  /* the wire path is the canonical path (S3) */
    DLD_SIGV4_CONTENT_SHA256 = 1u << 3,    /* add and sign x-amz-content-sha256 (S3) */
    DLD_SIGV4_OMIT_SESSION_TOKEN = 1u << 4,/* add the session token after signing */
};
/* What S3 wants: keys are percent-encoded once by the caller (see
 * dld_aws_uri_encode) and signed exactly as sent. */
#define DLD_SIGV4_S3 (DLD_SIGV4_NO_NORMALIZE | DLD_SIGV4_NO_DOUBLE_ENCODE | DLD_SIGV4_CONTENT_SHA256)

struct dld_aws_sign_request {
    const char *method;
    /* the path as sent on the wire (percent-encoded for S3; for other
     * services it is encoded again when canonicalised, as AWS requires) */
    const char *path;
    const char *query; /* as sent, without '?'; NULL or "" for none */
    const struct dld_aws_header *headers; /* must include Host */
    size_t nheaders;
    const void *body;
    size_t body_len;
    /* hex SHA-256 of the body, DLD_AWS_UNSIGNED_PAYLOAD, or NULL to hash body */
    const char *payload_hash;
};

struct dld_aws_sign_config {
    const char *region;
    const char *service; /* signing name: "s3", "dynamodb", "events", "sts" */
    int64_t time_s;      /* signing time, seconds since the epoch (UTC) */
    uint32_t flags;      /* enum dld_aws_sign_flags */
    int64_t expires_s;   /* DLD_SIGV4_QUERY only: X-Amz-Expires */
};

struct dld_aws_signature {
    char *canonical_request; /* for tests and debugging; contains no secret key */
    char *string_to_sign;
    char signature[65];      /* hex */
    char amz_date[17];       /* "20150830T123600Z" */
    char payload_hash[65];   /* hex or UNSIGNED-PAYLOAD */
    char *authorization;     /* header signing: the Authorization value; else NULL */
    char *query;             /* query signing: the whole query string to send; else NULL */
    const char *session_token; /* borrowed from the credentials; NULL if none */
    uint32_t flags;
};

/* Signs a request. The canonical request and signature follow the AWS SigV4
 * specification and pass the official test suite (tests/aws). */
int dld_aws_sign(const struct dld_aws_credentials *creds, const struct dld_aws_sign_config *cfg,
                 const struct dld_aws_sign_request *req, struct dld_aws_signature *out, struct dld_error *err);
void dld_aws_signature_clean_up(struct dld_aws_signature *sig);
/* The headers header signing adds to the request (X-Amz-Date, and when they
 * apply X-Amz-Content-Sha256, X-Amz-Security-Token, Authorization). Values
 * point into sig. Returns how many of out[4] were filled. */
size_t dld_aws_signature_headers(const struct dld_aws_signature *sig, struct dld_aws_header out[4]);

/* ---- small helpers --------------------------------------------------------------- */
/* Percent-encodes every byte except A-Z a-z 0-9 - . _ ~ (and '/' when
 * keep_slash): the one encoding AWS uses for paths, keys and query
 * parameters. malloc'ed; NULL on out of memory. */
char *dld_aws_uri_encode(const char *s, size_t len, bool keep_slash);
/* lower-case hex SHA-256 of data into hex[65] */
void dld_aws_sha256_hex(const void *data, size_t len, char hex[65]);
/* "20150830T123600Z" for time_s; buf has at least 17 bytes */
void dld_aws_format_amz_date(int64_t time_s, char buf[17]);

/* Minimal XML reading for S3 and STS responses (flat documents, no
 * namespaces needed). Finds the next <tag>…</tag> at or after *pos; on
 * success sets inner/inner_len to the raw content and advances *pos past it. */
bool dld_aws_xml_next(const char *xml, size_t len, const char *tag, size_t *pos, const char **inner,
                      size_t *inner_len);
/* Text of the first <tag> in [xml, xml+len), entities decoded, malloc'ed;
 * NULL if absent. */
char *dld_aws_xml_text(const char *xml, size_t len, const char *tag);
/* Escapes & < > " ' for element text; malloc'ed. */
char *dld_aws_xml_escape(const char *s);

/* ---- HTTP transport (the seam tests replace) ------------------------------------------ */
struct dld_aws_http_request {
    const char *method;
    const char *url; /* complete, already encoded */
    const struct dld_aws_header *headers;
    size_t nheaders;
    const void *body;
    size_t body_len;
};

struct dld_aws_http_response {
    int status;
    struct dld_aws_header *headers; /* names lower-case; owned (strings too) */
    size_t nheaders;
    char *body; /* NUL-terminated for convenience; owned */
    size_t body_len;
};
void dld_aws_http_response_clean_up(struct dld_aws_http_response *resp);
/* case-insensitive lookup; NULL if absent */
const char *dld_aws_http_response_header(const struct dld_aws_http_response *resp, const char *name);

/* Transport errors are reported as DLD_ERR_RETRY with upstream_code one of
 * "ConnectFailed" (nothing was sent: safe to retry anything), "Timeout",
 * "ConnectionReset"; a TLS verification failure is DLD_ERR_FATAL
 * ("TlsVerifyFailed"). Any HTTP status is DLD_OK with resp filled. */
struct dld_aws_http_vtable {
    int (*send)(void *impl, const struct dld_aws_http_request *req, struct dld_aws_http_response *resp,
                struct dld_error *err);
    void (*destroy)(void *impl);
};
struct dld_aws_http {
    const struct dld_aws_http_vtable *vtable;
    void *impl;
};

struct dld_aws_http_options {
    const char *ca_bundle;      /* NULL: the system's CA store */
    bool no_verify_tls;         /* off by default: verification stays on */
    int64_t connect_timeout_ms; /* 0: 5000 */
    int64_t timeout_ms;         /* whole request; 0: 120000 */
    const char *user_agent;     /* NULL: "deltaload/<version>" */
    /* host->cancelled() (SIGINT/SIGTERM) aborts a request in flight within
     * a second; the requests started after it (clean-up, lease release)
     * share DLD_AWS_CANCEL_DEADLINE_MS in all. NULL: never cancelled. */
    const struct dld_host *host;
};
#define DLD_AWS_CANCEL_DEADLINE_MS 5000
/* libcurl transport: keeps a pool of easy handles so connections are
 * reused across calls and threads. */
struct dld_aws_http *dld_aws_http_new_curl(const struct dld_aws_http_options *opt, struct dld_error *err);
/* for transports made by dld_aws_http_new_curl (test fakes live on the stack) */
void dld_aws_http_destroy(struct dld_aws_http *http);
int dld_aws_http_send(struct dld_aws_http *http, const struct dld_aws_http_request *req,
                      struct dld_aws_http_response *resp, struct dld_error *err);

/* ---- profiles, region, endpoints -------------------------------------------------------- */
/* The profile in force: `option` if set, else AWS_PROFILE, else "default". */
const char *dld_aws_profile_name(const char *option);
/* A key of a profile: the credentials file (AWS_SHARED_CREDENTIALS_FILE or
 * ~/.aws/credentials, section [name]) wins over the config file
 * (AWS_CONFIG_FILE or ~/.aws/config, section [profile name] or [default]).
 * malloc'ed; NULL if absent. */
char *dld_aws_profile_get(const char *profile, const char *key);

/* Region: option, AWS_REGION, AWS_DEFAULT_REGION, the profile's `region`.
 * malloc'ed into *out; DLD_ERR_CONFIG when none is set. */
int dld_aws_region_resolve(const char *option, const char *profile, char **out, struct dld_error *err);
/* Endpoint (scheme://host[:port][/path], no trailing '/'): option, then
 * AWS_ENDPOINT_URL_<SERVICE_ID> (upper case, spaces as '_': S3, DYNAMODB,
 * EVENTBRIDGE, STS), AWS_ENDPOINT_URL, the profile's endpoint_url (all three
 * skipped when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true), else
 * https://<prefix>.<region>.amazonaws.com (.com.cn in China). malloc'ed. */
int dld_aws_endpoint_resolve(const char *service_id, const char *endpoint_prefix, const char *option,
                             const char *region, const char *profile, char **out, struct dld_error *err);

/* ---- credentials provider chain -------------------------------------------------------------
 * Order (as the AWS SDKs): static (options) → environment → profile
 * (static keys, web_identity_token_file + role_arn, credential_process) →
 * web identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, STS) →
 * container (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI) → EC2
 * IMDSv2. A source that is configured but fails stops the chain with its
 * error (as the SDKs do); an explicitly named profile that does not exist
 * is DLD_ERR_CONFIG.
 * Credentials with an expiry are cached and refreshed 5 minutes before it. */
struct dld_aws_credentials_options {
    const char *profile;           /* NULL: AWS_PROFILE or "default" */
    const char *access_key_id;     /* static credentials from plugin options */
    const char *secret_access_key;
    const char *session_token;
    const char *region;            /* for STS; NULL: resolved */
    struct dld_aws_http *http;     /* borrowed; NULL: the provider makes a curl one */
    /* test seams; NULL in production */
    const char *container_host;    /* base for RELATIVE_URI; default http://169.254.170.2 */
    const char *imds_endpoint;     /* default AWS_EC2_METADATA_SERVICE_ENDPOINT or http://169.254.169.254 */
    int64_t (*now_ms)(void);       /* clock; NULL: the real one */
    const struct dld_host *host;   /* for logging; may be NULL */
};
struct dld_aws_credentials_provider;
struct dld_aws_credentials_provider *dld_aws_credentials_provider_new(const struct dld_aws_credentials_options *opt,
                                                                      struct dld_error *err);
void dld_aws_credentials_provider_destroy(struct dld_aws_credentials_provider *p);
/* Current credentials (a copy the caller cleans up). DLD_ERR_AUTH when no
 * source has any; DLD_ERR_RETRY when a remote source failed transiently. */
int dld_aws_credentials_get(struct dld_aws_credentials_provider *p, struct dld_aws_credentials *out,
                            struct dld_error *err);
/* Drops the cache (after the service rejected the credentials). */
void dld_aws_credentials_invalidate(struct dld_aws_credentials_provider *p);
/* "static", "environment", "profile", "process", "web-identity", "container",
 * "imds": the source of the last credentials returned, or "none". */
const char *dld_aws_credentials_source(struct dld_aws_credentials_provider *p);

/* ---- service client with retries --------------------------------------------------------- */
struct dld_aws_retry_policy {
    int max_attempts;      /* 0: 5 (first try included) */
    int64_t base_delay_ms; /* 0: 100; delay = random(0, min(max, base * 2^n)): full jitter */
    int64_t max_delay_ms;  /* 0: 20000 */
};

struct dld_aws_client_options {
    const char *service;        /* signing name: "s3", "dynamodb", "events" */
    const char *region;
    const char *endpoint;       /* from dld_aws_endpoint_resolve */
    struct dld_aws_credentials_provider *credentials; /* borrowed */
    struct dld_aws_http *http;  /* borrowed; NULL: a curl transport made with http_options */
    struct dld_aws_http_options http_options;
    struct dld_aws_retry_policy retry;
    uint32_t sign_flags;        /* DLD_SIGV4_S3 for S3 */
    const struct dld_host *host;/* for logging; may be NULL */
    const char *log_name;       /* plugin name in log lines */
    /* test seams; NULL in production */
    void (*sleep_ms)(int64_t ms);
    int64_t (*now_ms)(void);
};

struct dld_aws_call {
    const char *method;
    const char *host_prefix;    /* prepended to the endpoint's host ("bucket." for virtual-hosted S3) */
    const char *path;           /* wire path (encoded), appended to the endpoint's path; "/" at least */
    const char *query;          /* wire query without '?', or NULL */
    const struct dld_aws_header *headers;
    size_t nheaders;
    const void *body;
    size_t body_len;
    const char *payload_hash;   /* NULL: hash the body; or DLD_AWS_UNSIGNED_PAYLOAD */
    bool idempotent;            /* retried after timeouts and resets only when true */
};

struct dld_aws_client;
struct dld_aws_client *dld_aws_client_new(const struct dld_aws_client_options *opt, struct dld_error *err);
void dld_aws_client_destroy(struct dld_aws_client *c);
/* Signs and sends, retrying retryable failures (5xx, throttling, timeouts,
 * resets; skew corrected on RequestTimeTooSkewed). A 2xx is DLD_OK. A final
 * failure returns its code with the error filled: HTTP status, AWS error
 * code, request id and message. resp is filled whenever the server answered
 * (also on failure); the caller always cleans it up. */
int dld_aws_client_call(struct dld_aws_client *c, const struct dld_aws_call *call, struct dld_aws_http_response *resp,
                        struct dld_error *err);
/* Retries made so far (all calls), for tests and statistics. */
int64_t dld_aws_client_retries(const struct dld_aws_client *c);
/* Current clock-skew correction in ms (server minus local). */
int64_t dld_aws_client_skew_ms(const struct dld_aws_client *c);
/* Maps an AWS error code + HTTP status to a dld_code. */
int dld_aws_error_code(int http_status, const char *aws_code);
/* Fills err from an AWS error answer: the code and message from an XML
 * (S3, STS) or JSON (DynamoDB, EventBridge) body, the request id from the
 * body or the x-amz-request-id / x-amzn-RequestId header. "what" prefixes
 * the message. Returns the dld code. */
int dld_aws_error_from_response(const struct dld_aws_http_response *resp, const char *what, struct dld_error *err);

#ifdef __cplusplus
}
#endif
#endif

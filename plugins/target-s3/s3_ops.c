/* The S3 operations target-s3 uses, each one signed request (or a few,
 * for paged listings) through the SDK's AWS client, which handles retries,
 * throttling and error mapping. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "s3_internal.h"

/* growable string, just for request bodies and query strings */
struct s_str {
    char *p;
    size_t len, cap;
    bool failed;
};

static void s_cat(struct s_str *s, const char *t)
{
    size_t n = strlen(t);
    if (s->failed)
        return;
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *p = realloc(s->p, cap);
        if (!p) {
            s->failed = true;
            return;
        }
        s->p = p;
        s->cap = cap;
    }
    memcpy(s->p + s->len, t, n + 1);
    s->len += n;
}

static void s_cat_enc(struct s_str *s, const char *t, bool keep_slash)
{
    char *e = dld_aws_uri_encode(t, strlen(t), keep_slash);
    if (!e) {
        s->failed = true;
        return;
    }
    s_cat(s, e);
    free(e);
}

static void s_cat_xml(struct s_str *s, const char *t)
{
    char *e = dld_aws_xml_escape(t);
    if (!e) {
        s->failed = true;
        return;
    }
    s_cat(s, e);
    free(e);
}

struct s_req {
    const char *method;
    const char *key;   /* NULL: the bucket itself */
    const char *query;
    struct dld_aws_header headers[8];
    size_t nheaders;
    const void *body;
    size_t body_len;
    const char *payload_hash; /* NULL: the client hashes the body */
    bool idempotent;
};

static void s_add_header(struct s_req *r, const char *name, const char *value)
{
    if (value && *value && r->nheaders < 8)
        r->headers[r->nheaders++] = (struct dld_aws_header){name, value};
}

static int s_send(struct s3_ctx *s3, struct s_req *r, struct dld_aws_http_response *resp, struct dld_error *err)
{
    struct s_str path = {0}, host_prefix = {0};
    if (s3->path_style) {
        s_cat(&path, "/");
        s_cat_enc(&path, s3->bucket, false);
        if (r->key) {
            s_cat(&path, "/");
            s_cat_enc(&path, r->key, true);
        }
    } else {
        s_cat(&host_prefix, s3->bucket);
        s_cat(&host_prefix, ".");
        s_cat(&path, "/");
        if (r->key)
            s_cat_enc(&path, r->key, true);
    }
    s_add_header(r, "x-amz-expected-bucket-owner", s3->expected_owner);
    int rc;
    if (path.failed || host_prefix.failed) {
        memset(resp, 0, sizeof(*resp));
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    } else {
        const char *hash = r->payload_hash;
        if (s3->unsigned_payload && r->body_len > 0)
            hash = DLD_AWS_UNSIGNED_PAYLOAD;
        struct dld_aws_call call = {
            .method = r->method, .host_prefix = host_prefix.p, .path = path.p, .query = r->query,
            .headers = r->headers, .nheaders = r->nheaders, .body = r->body, .body_len = r->body_len,
            .payload_hash = hash, .idempotent = r->idempotent,
        };
        rc = dld_aws_client_call(s3->client, &call, resp, err);
    }
    free(path.p);
    free(host_prefix.p);
    return rc;
}

/* SSE and storage class go on PutObject and CreateMultipartUpload */
static void s_object_headers(struct s3_ctx *s3, struct s_req *r, const char *content_type)
{
    s_add_header(r, "Content-Type", content_type);
    s_add_header(r, "x-amz-server-side-encryption", s3->sse);
    if (s3->sse && !strcmp(s3->sse, "aws:kms"))
        s_add_header(r, "x-amz-server-side-encryption-aws-kms-key-id", s3->sse_kms_key_id);
    s_add_header(r, "x-amz-storage-class", s3->storage_class);
}

int s3_put_object(struct s3_ctx *s3, const char *key, const void *data, size_t len, const char *content_type,
                  const char *payload_hash, struct dld_error *err)
{
    struct s_req r = {.method = "PUT", .key = key, .body = data ? data : "", .body_len = len,
                      .payload_hash = payload_hash, .idempotent = true};
    s_object_headers(s3, &r, content_type);
    struct dld_aws_http_response resp;
    int rc = s_send(s3, &r, &resp, err);
    dld_aws_http_response_clean_up(&resp);
    if (rc)
        dld_error_prefix(err, "PutObject s3://%s/%s", s3->bucket, key);
    return rc;
}

static void s_sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int s3_put_object_if_absent(struct s3_ctx *s3, const char *key, const void *data, size_t len, const char *content_type,
                            struct dld_error *err)
{
    /* If-None-Match: * makes the PUT create-only: S3 answers 412
     * PreconditionFailed when the key exists, and 409
     * ConditionalRequestConflict when another conditional write of the key
     * is in flight (nothing was written: try again). The client retries
     * resets and 5xx itself (idempotent): a retry after a lost answer finds
     * our own object and gets 412, which the lake layer resolves by reading
     * the object back. */
    int attempts = s3->max_attempts > 0 ? s3->max_attempts : 5;
    int64_t delay = s3->retry_base_delay_ms > 0 ? s3->retry_base_delay_ms : 100;
    int rc;
    for (int attempt = 1;; attempt++) {
        struct s_req r = {.method = "PUT", .key = key, .body = data ? data : "", .body_len = len, .idempotent = true};
        s_object_headers(s3, &r, content_type);
        s_add_header(&r, "If-None-Match", "*");
        struct dld_aws_http_response resp;
        err->http_status = 0; /* not a 409 of an earlier attempt when this one has no answer */
        rc = s_send(s3, &r, &resp, err);
        dld_aws_http_response_clean_up(&resp);
        if (rc != DLD_ERR_CONFLICT || err->http_status != 409)
            break;
        /* 409: the other writer may still lose; ours was not applied */
        if (attempt >= attempts) {
            /* retryable now (the HTTP status and AWS code stay as they are) */
            char msg[sizeof(err->message)];
            snprintf(msg, sizeof(msg), "%s", err->message);
            rc = dld_error_set(err, DLD_ERR_RETRY, "gave up after %d attempts: %s", attempt, msg);
            break;
        }
        dld_log(s3->host, DLD_LOG_WARN, S3_PLUGIN, "%s (attempt %d of %d); retrying in %" PRId64 " ms", err->message,
                attempt, attempts, delay);
        s_sleep_ms(delay);
        delay *= 2;
    }
    if (rc == DLD_ERR_CONFLICT) /* 412: something is there already; the caller decides what it is */
        err->retryable = 0;
    if (rc)
        dld_error_prefix(err, "PutObject (If-None-Match: *) s3://%s/%s", s3->bucket, key);
    return rc;
}

int s3_get_object(struct s3_ctx *s3, const char *key, char **data, size_t *len, struct dld_error *err)
{
    *data = NULL;
    *len = 0;
    struct s_req r = {.method = "GET", .key = key, .idempotent = true};
    struct dld_aws_http_response resp;
    int rc = s_send(s3, &r, &resp, err);
    if (rc == DLD_OK) {
        /* the transport NUL-terminates bodies; an empty object may have none */
        *data = resp.body ? resp.body : calloc(1, 1);
        *len = resp.body ? resp.body_len : 0;
        resp.body = NULL;
        if (!*data)
            rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    dld_aws_http_response_clean_up(&resp);
    if (rc)
        dld_error_prefix(err, "GetObject s3://%s/%s", s3->bucket, key);
    return rc;
}

int s3_head_object(struct s3_ctx *s3, const char *key, bool *exists, struct dld_error *err)
{
    struct s_req r = {.method = "HEAD", .key = key, .idempotent = true};
    struct dld_aws_http_response resp;
    int rc = s_send(s3, &r, &resp, err);
    dld_aws_http_response_clean_up(&resp);
    *exists = rc == DLD_OK;
    if (rc == DLD_ERR_NOT_FOUND)
        return DLD_OK;
    if (rc)
        dld_error_prefix(err, "HeadObject s3://%s/%s", s3->bucket, key);
    return rc;
}

int s3_delete_object(struct s3_ctx *s3, const char *key, struct dld_error *err)
{
    struct s_req r = {.method = "DELETE", .key = key, .idempotent = true};
    struct dld_aws_http_response resp;
    int rc = s_send(s3, &r, &resp, err);
    dld_aws_http_response_clean_up(&resp);
    if (rc == DLD_ERR_NOT_FOUND && !strcmp(err->upstream_code, "NoSuchKey"))
        rc = DLD_OK;
    if (rc)
        dld_error_prefix(err, "DeleteObject s3://%s/%s", s3->bucket, key);
    return rc;
}

/* an open upload of exactly this key: abort it (s3_mpu_create's sweep) */
static int s_abort_same_key(void *ctx, const char *key, const char *upload_id)
{
    void **a = ctx; /* {s3, key, err, count} */
    if (strcmp(key, (const char *)a[1]) != 0)
        return DLD_OK;
    int rc = s3_mpu_abort(a[0], key, upload_id, a[2]);
    if (!rc)
        (*(int *)a[3])++;
    return rc;
}

/* Not sent as idempotent: when the answer to CreateMultipartUpload is lost
 * (a reset or timeout after the request went out), the store may have
 * created an upload whose id we never learnt, and a blind retry would leave
 * it open for ever under the published file's key. Each key names one file
 * of one load attempt, written by this process only, so every open upload
 * of exactly this key is such an orphan: abort them, then ask again.
 * (An answer that comes back with a 5xx or a throttle is retried by the
 * client as before: nothing was created.) */
int s3_mpu_create(struct s3_ctx *s3, const char *key, const char *content_type, char **upload_id,
                  struct dld_error *err)
{
    int rc = DLD_OK;
    for (int attempt = 1;; attempt++) {
        struct s_req r = {.method = "POST", .key = key, .query = "uploads=", .idempotent = false};
        s_object_headers(s3, &r, content_type);
        struct dld_aws_http_response resp;
        rc = s_send(s3, &r, &resp, err);
        if (rc == DLD_OK) {
            *upload_id = dld_aws_xml_text(resp.body, resp.body_len, "UploadId");
            if (!*upload_id || !**upload_id) {
                free(*upload_id);
                *upload_id = NULL;
                rc = dld_error_set(err, DLD_ERR_FATAL, "the answer has no UploadId");
            }
        }
        bool lost = rc == DLD_ERR_RETRY && resp.status == 0;
        dld_aws_http_response_clean_up(&resp);
        if (!lost || attempt >= 3 || (s3->host && s3->host->cancelled && s3->host->cancelled()))
            break;
        int swept = 0;
        struct dld_error lerr = {0};
        void *a[4] = {s3, (void *)key, &lerr, &swept};
        int lrc = s3_list_uploads(s3, key, s_abort_same_key, a, &lerr);
        if (lrc && lrc != DLD_ERR_UNSUPPORTED)
            break; /* cannot tell what is open: report the first error */
        dld_log(s3->host, DLD_LOG_WARN, S3_PLUGIN,
                "CreateMultipartUpload s3://%s/%s: answer lost (%s); %d orphaned upload(s) aborted, asking again",
                s3->bucket, key, err->message, swept);
    }
    if (rc)
        dld_error_prefix(err, "CreateMultipartUpload s3://%s/%s", s3->bucket, key);
    return rc;
}

static char *s_upload_query(const char *upload_id, int part)
{
    struct s_str q = {0};
    char num[32];
    if (part > 0) {
        snprintf(num, sizeof(num), "partNumber=%d&", part);
        s_cat(&q, num);
    }
    s_cat(&q, "uploadId=");
    s_cat_enc(&q, upload_id, false);
    if (q.failed) {
        free(q.p);
        return NULL;
    }
    return q.p;
}

int s3_mpu_upload_part(struct s3_ctx *s3, const char *key, const char *upload_id, int part, const void *data,
                       size_t len, const char *payload_hash, char **etag, struct dld_error *err)
{
    char *q = s_upload_query(upload_id, part);
    if (!q)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    struct s_req r = {.method = "PUT", .key = key, .query = q, .body = data, .body_len = len,
                      .payload_hash = payload_hash, .idempotent = true};
    struct dld_aws_http_response resp;
    int rc = s_send(s3, &r, &resp, err);
    if (rc == DLD_OK) {
        const char *e = dld_aws_http_response_header(&resp, "etag");
        *etag = e ? strdup(e) : NULL;
        if (!*etag)
            rc = dld_error_set(err, DLD_ERR_FATAL, "the answer has no ETag");
    }
    dld_aws_http_response_clean_up(&resp);
    free(q);
    if (rc)
        dld_error_prefix(err, "UploadPart %d of s3://%s/%s", part, s3->bucket, key);
    return rc;
}

int s3_mpu_complete(struct s3_ctx *s3, const char *key, const char *upload_id, char *const *etags, int nparts,
                    struct dld_error *err)
{
    char *q = s_upload_query(upload_id, 0);
    struct s_str body = {0};
    s_cat(&body, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (int i = 0; i < nparts; i++) {
        char num[64];
        snprintf(num, sizeof(num), "<Part><PartNumber>%d</PartNumber><ETag>", i + 1);
        s_cat(&body, num);
        s_cat_xml(&body, etags[i]);
        s_cat(&body, "</ETag></Part>");
    }
    s_cat(&body, "</CompleteMultipartUpload>");
    int rc;
    if (!q || body.failed) {
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    } else {
        struct s_req r = {.method = "POST", .key = key, .query = q, .body = body.p, .body_len = body.len,
                          .idempotent = true};
        s_add_header(&r, "Content-Type", "application/xml");
        struct dld_aws_http_response resp;
        rc = s_send(s3, &r, &resp, err);
        /* S3 may answer 200 and put the error in the body once the
         * (long) assembly fails: look for it */
        if (rc == DLD_OK && resp.body && strstr(resp.body, "<Error>")) {
            resp.status = 500;
            rc = dld_aws_error_from_response(&resp, "CompleteMultipartUpload", err);
        }
        dld_aws_http_response_clean_up(&resp);
    }
    free(q);
    free(body.p);
    if (rc)
        dld_error_prefix(err, "CompleteMultipartUpload s3://%s/%s (%d parts)", s3->bucket, key, nparts);
    return rc;
}

static bool s_unimplemented(int rc, const struct dld_error *err)
{
    return rc == DLD_ERR_UNSUPPORTED || err->http_status == 405 || err->http_status == 501 ||
           !strcmp(err->upstream_code, "MethodNotAllowed") || !strcmp(err->upstream_code, "NotImplemented");
}

int s3_mpu_abort(struct s3_ctx *s3, const char *key, const char *upload_id, struct dld_error *err)
{
    char *q = s_upload_query(upload_id, 0);
    if (!q)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    struct s_req r = {.method = "DELETE", .key = key, .query = q, .idempotent = true};
    struct dld_aws_http_response resp;
    int rc = s_send(s3, &r, &resp, err);
    dld_aws_http_response_clean_up(&resp);
    free(q);
    if (rc == DLD_ERR_NOT_FOUND) /* already gone: aborted or completed */
        rc = DLD_OK;
    else if (rc && s_unimplemented(rc, err))
        rc = DLD_ERR_UNSUPPORTED;
    if (rc)
        dld_error_prefix(err, "AbortMultipartUpload s3://%s/%s", s3->bucket, key);
    return rc;
}

int s3_list(struct s3_ctx *s3, const char *prefix, s3_list_fn fn, void *ctx, struct dld_error *err)
{
    char *token = NULL;
    int rc = DLD_OK;
    do {
        struct s_str q = {0};
        if (token) {
            s_cat(&q, "continuation-token=");
            s_cat_enc(&q, token, false);
            s_cat(&q, "&");
        }
        s_cat(&q, "list-type=2&prefix=");
        s_cat_enc(&q, prefix, false);
        free(token);
        token = NULL;
        if (q.failed) {
            free(q.p);
            return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        }
        struct s_req r = {.method = "GET", .key = NULL, .query = q.p, .idempotent = true};
        struct dld_aws_http_response resp;
        rc = s_send(s3, &r, &resp, err);
        free(q.p);
        if (rc == DLD_OK) {
            size_t pos = 0, n;
            const char *inner;
            while (rc == DLD_OK && dld_aws_xml_next(resp.body, resp.body_len, "Contents", &pos, &inner, &n)) {
                char *key = dld_aws_xml_text(inner, n, "Key");
                if (key)
                    rc = fn(ctx, key);
                free(key);
            }
            char *trunc = dld_aws_xml_text(resp.body, resp.body_len, "IsTruncated");
            if (rc == DLD_OK && trunc && !strcmp(trunc, "true")) {
                token = dld_aws_xml_text(resp.body, resp.body_len, "NextContinuationToken");
                if (!token)
                    rc = dld_error_set(err, DLD_ERR_FATAL, "truncated listing without NextContinuationToken");
            }
            free(trunc);
        }
        dld_aws_http_response_clean_up(&resp);
    } while (rc == DLD_OK && token);
    free(token);
    if (rc && rc != DLD_DONE)
        dld_error_prefix(err, "ListObjectsV2 s3://%s/%s", s3->bucket, prefix);
    return rc;
}

int s3_list_uploads(struct s3_ctx *s3, const char *prefix, s3_uploads_fn fn, void *ctx, struct dld_error *err)
{
    char *key_marker = NULL, *id_marker = NULL;
    int rc = DLD_OK;
    bool more;
    do {
        more = false;
        struct s_str q = {0};
        if (key_marker) {
            s_cat(&q, "key-marker=");
            s_cat_enc(&q, key_marker, false);
            s_cat(&q, "&");
        }
        s_cat(&q, "prefix=");
        s_cat_enc(&q, prefix, false);
        if (id_marker) {
            s_cat(&q, "&upload-id-marker=");
            s_cat_enc(&q, id_marker, false);
        }
        s_cat(&q, "&uploads=");
        free(key_marker);
        free(id_marker);
        key_marker = id_marker = NULL;
        if (q.failed) {
            free(q.p);
            return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        }
        struct s_req r = {.method = "GET", .key = NULL, .query = q.p, .idempotent = true};
        struct dld_aws_http_response resp;
        rc = s_send(s3, &r, &resp, err);
        free(q.p);
        if (rc == DLD_OK) {
            size_t pos = 0, n;
            const char *inner;
            while (rc == DLD_OK && dld_aws_xml_next(resp.body, resp.body_len, "Upload", &pos, &inner, &n)) {
                char *key = dld_aws_xml_text(inner, n, "Key");
                char *id = dld_aws_xml_text(inner, n, "UploadId");
                if (key && id)
                    rc = fn(ctx, key, id);
                free(key);
                free(id);
            }
            char *trunc = dld_aws_xml_text(resp.body, resp.body_len, "IsTruncated");
            if (rc == DLD_OK && trunc && !strcmp(trunc, "true")) {
                key_marker = dld_aws_xml_text(resp.body, resp.body_len, "NextKeyMarker");
                id_marker = dld_aws_xml_text(resp.body, resp.body_len, "NextUploadIdMarker");
                more = key_marker != NULL;
            }
            free(trunc);
        } else if (s_unimplemented(rc, err)) {
            rc = DLD_ERR_UNSUPPORTED;
        }
        dld_aws_http_response_clean_up(&resp);
    } while (rc == DLD_OK && more);
    free(key_marker);
    free(id_marker);
    if (rc && rc != DLD_DONE)
        dld_error_prefix(err, "ListMultipartUploads s3://%s/%s", s3->bucket, prefix);
    return rc;
}

static int s_delete_batch(struct s3_ctx *s3, char *const *keys, size_t n, struct dld_error *err)
{
    struct s_str body = {0};
    s_cat(&body, "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>");
    for (size_t i = 0; i < n; i++) {
        s_cat(&body, "<Object><Key>");
        s_cat_xml(&body, keys[i]);
        s_cat(&body, "</Key></Object>");
    }
    s_cat(&body, "</Delete>");
    if (body.failed) {
        free(body.p);
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    /* DeleteObjects insists on a body checksum: Content-MD5 */
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(body.p, body.len, md, &mdlen, EVP_md5(), NULL);
    char md5[64];
    EVP_EncodeBlock((unsigned char *)md5, md, (int)mdlen);
    struct s_req r = {.method = "POST", .key = NULL, .query = "delete=", .body = body.p, .body_len = body.len,
                      .idempotent = true};
    s_add_header(&r, "Content-Type", "application/xml");
    s_add_header(&r, "Content-MD5", md5);
    struct dld_aws_http_response resp;
    int rc = s_send(s3, &r, &resp, err);
    if (rc == DLD_OK && resp.body) {
        size_t pos = 0, len;
        const char *inner;
        if (dld_aws_xml_next(resp.body, resp.body_len, "Error", &pos, &inner, &len)) {
            char *key = dld_aws_xml_text(inner, len, "Key");
            char *code = dld_aws_xml_text(inner, len, "Code");
            char *msg = dld_aws_xml_text(inner, len, "Message");
            rc = dld_error_set(err, dld_aws_error_code(500, code), "key %s: %s: %s", key ? key : "?",
                               code ? code : "?", msg ? msg : "");
            dld_error_upstream(err, 200, code, NULL);
            free(key);
            free(code);
            free(msg);
        }
    }
    dld_aws_http_response_clean_up(&resp);
    free(body.p);
    return rc;
}

int s3_delete_objects(struct s3_ctx *s3, char *const *keys, size_t n, struct dld_error *err)
{
    for (size_t i = 0; i < n; i += 1000) {
        size_t batch = n - i < 1000 ? n - i : 1000;
        int rc = s_delete_batch(s3, keys + i, batch, err);
        if (rc) {
            dld_error_prefix(err, "DeleteObjects s3://%s", s3->bucket);
            return rc;
        }
    }
    return DLD_OK;
}

/* target-s3 internals: the S3 operations the target needs, on top of the
 * SDK's AWS client (deltaload/aws.h), and the streaming upload sink. */
#ifndef DLD_S3_INTERNAL_H
#define DLD_S3_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <deltaload/aws.h>
#include <deltaload/format.h>
#include <deltaload/sdk.h>

#define S3_PLUGIN "s3"

struct s3_ctx {
    const struct dld_host *host;
    struct dld_aws_credentials_provider *creds;
    struct dld_aws_client *client;
    char *bucket;
    char *prefix;          /* "" or "a/b" (no leading/trailing '/') */
    bool path_style;
    bool unsigned_payload; /* send UNSIGNED-PAYLOAD instead of the body's SHA-256 */
    char *sse;             /* NULL, "AES256" or "aws:kms" */
    char *sse_kms_key_id;
    char *storage_class;
    char *expected_owner;
    int64_t part_size;
    int concurrency;
    int max_attempts;            /* the client's retry policy, reused for 409s of conditional writes */
    int64_t retry_base_delay_ms;
};

/* Every S3 call below returns a dld_code and fills err. Keys are raw
 * (unencoded) object keys. */
/* payload_hash: the body's hex SHA-256 when the caller already has it, or
 * NULL to hash it here (PutObject, UploadPart) */
int s3_put_object(struct s3_ctx *s3, const char *key, const void *data, size_t len, const char *content_type,
                  const char *payload_hash, struct dld_error *err);
/* PutObject with If-None-Match: * (create only). DLD_ERR_CONFLICT, not
 * retryable, when the key exists (412 PreconditionFailed) — also when the
 * object is our own, written by an attempt whose answer was lost and that
 * the client retried: the caller reads it back to tell. A 409
 * (ConditionalRequestConflict: a concurrent conditional write of the key) is
 * retried here with backoff, then DLD_ERR_RETRY. */
int s3_put_object_if_absent(struct s3_ctx *s3, const char *key, const void *data, size_t len,
                            const char *content_type, struct dld_error *err);
/* GetObject of a small object into memory: *data malloc'ed and
 * NUL-terminated, *len without the NUL. DLD_ERR_NOT_FOUND when absent. */
int s3_get_object(struct s3_ctx *s3, const char *key, char **data, size_t *len, struct dld_error *err);
int s3_head_object(struct s3_ctx *s3, const char *key, bool *exists, struct dld_error *err);
int s3_delete_object(struct s3_ctx *s3, const char *key, struct dld_error *err);
int s3_mpu_create(struct s3_ctx *s3, const char *key, const char *content_type, char **upload_id,
                  struct dld_error *err);
/* *etag is malloc'ed */
int s3_mpu_upload_part(struct s3_ctx *s3, const char *key, const char *upload_id, int part, const void *data,
                       size_t len, const char *payload_hash, char **etag, struct dld_error *err);
int s3_mpu_complete(struct s3_ctx *s3, const char *key, const char *upload_id, char *const *etags, int nparts,
                    struct dld_error *err);
int s3_mpu_abort(struct s3_ctx *s3, const char *key, const char *upload_id, struct dld_error *err);

/* Lists keys under prefix (all pages); calls fn for each; fn returns 0 to go on. */
typedef int (*s3_list_fn)(void *ctx, const char *key);
int s3_list(struct s3_ctx *s3, const char *prefix, s3_list_fn fn, void *ctx, struct dld_error *err);
/* Lists open multipart uploads under prefix. DLD_ERR_UNSUPPORTED when the
 * store does not implement ListMultipartUploads (s3rver). */
typedef int (*s3_uploads_fn)(void *ctx, const char *key, const char *upload_id);
int s3_list_uploads(struct s3_ctx *s3, const char *prefix, s3_uploads_fn fn, void *ctx, struct dld_error *err);
/* DeleteObjects in batches of 1000; per-key errors become the call's error. */
int s3_delete_objects(struct s3_ctx *s3, char *const *keys, size_t n, struct dld_error *err);

/* ---- the streaming upload: a dld_sink that becomes a PutObject when the
 * file is smaller than one part and a parallel multipart upload otherwise.
 * Memory: at most concurrency + 1 part buffers. */
struct s3_upload;
struct s3_upload *s3_upload_new(struct s3_ctx *s3, const char *key, const char *content_type, struct dld_error *err);
/* the sink to hand to dld_format_writer_new */
struct dld_sink s3_upload_sink(struct s3_upload *u);
/* sends what is left and completes the object; aborts the multipart upload
 * on failure */
int s3_upload_finish(struct s3_upload *u, struct dld_error *err);
/* aborts an unfinished upload (best effort) and frees */
void s3_upload_destroy(struct s3_upload *u);
uint64_t s3_upload_bytes(const struct s3_upload *u);
int s3_upload_parts(const struct s3_upload *u);

#endif

/* Internal helpers of the AWS support code (not part of the SDK's API). */
#ifndef DLD_AWS_INTERNAL_H
#define DLD_AWS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <deltaload/aws.h>
#include <deltaload/sdk.h>

/* A growable NUL-terminated byte buffer. `failed` latches an allocation
 * failure so a long sequence of appends is checked once at the end. */
struct dld_aws_buf {
    char *data;
    size_t len;
    size_t cap;
    bool failed;
};
void dld_aws_buf_append(struct dld_aws_buf *b, const void *data, size_t len);
void dld_aws_buf_puts(struct dld_aws_buf *b, const char *s);
void dld_aws_buf_putc(struct dld_aws_buf *b, char c);
void dld_aws_buf_printf(struct dld_aws_buf *b, const char *fmt, ...) DLD_PRINTF(2, 3);
/* appends s percent-encoded (see dld_aws_uri_encode) */
void dld_aws_buf_encode(struct dld_aws_buf *b, const char *s, size_t len, bool keep_slash);
/* hands the string over (caller frees); NULL if an append failed */
char *dld_aws_buf_take(struct dld_aws_buf *b);
void dld_aws_buf_clean_up(struct dld_aws_buf *b);

/* HMAC-SHA256 of data with key into out[32] */
void dld_aws_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len, unsigned char out[32]);
void dld_aws_hex(const unsigned char *in, size_t len, char *out);

/* Decodes %XX in place-copy; returns malloc'ed string of out_len bytes. */
char *dld_aws_uri_decode(const char *s, size_t len, size_t *out_len);

/* strdup that tolerates NULL */
char *dld_aws_strdup(const char *s);
char *dld_aws_strndup(const char *s, size_t n);
/* trims ASCII whitespace at both ends into a new string */
char *dld_aws_strtrim(const char *s, size_t len);

int64_t dld_aws_real_now_ms(void);
void dld_aws_real_sleep_ms(int64_t ms);
/* ISO-8601 "2015-08-30T12:36:00Z" (fractions and offsets accepted) → ms; -1 on error */
int64_t dld_aws_parse_iso8601(const char *s);
/* RFC 1123 "Sun, 30 Aug 2015 12:36:00 GMT" → ms; -1 on error */
int64_t dld_aws_parse_http_date(const char *s);

/* Parses a JSON credentials document (container endpoint, IMDS,
 * credential_process) into c. `process` selects the credential_process
 * field names (AccessKeyId/SecretAccessKey/SessionToken/Expiration are
 * shared; process output needs Version 1). */
int dld_aws_credentials_from_json(const char *json, size_t len, const char *what, struct dld_aws_credentials *c,
                                  struct dld_error *err);

/* whether the config or credentials file has a section for the profile */
bool dld_aws_profile_exists(const char *profile);

/* The remote credential sources (credentials_remote.c). Each returns
 * DLD_ERR_NOT_FOUND when it is not configured, so the chain moves on. */
struct dld_aws_remote_ctx {
    struct dld_aws_http *http;
    const char *region;
    const char *profile;
    const char *container_host;
    const char *imds_endpoint;
    int64_t (*now_ms)(void);
};
int dld_aws_credentials_web_identity(const struct dld_aws_remote_ctx *ctx, const char *token_file,
                                     const char *role_arn, const char *session_name, struct dld_aws_credentials *out,
                                     struct dld_error *err);
int dld_aws_credentials_container(const struct dld_aws_remote_ctx *ctx, struct dld_aws_credentials *out,
                                  struct dld_error *err);
int dld_aws_credentials_imds(const struct dld_aws_remote_ctx *ctx, struct dld_aws_credentials *out,
                             struct dld_error *err);
int dld_aws_credentials_process(const char *command, struct dld_aws_credentials *out, struct dld_error *err);


#endif

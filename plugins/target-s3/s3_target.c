/* target-s3: the lake on S3 (or MinIO, Ceph, R2 with path_style), rooted at
 * s3://<bucket>/<prefix>/. A storage backend of the SDK's lake layer
 * (lake.h), which names, publishes, fences and discards loads as for every
 * target; this file only moves bytes:
 *   - data files stream into an upload (PutObject or a parallel multipart
 *     upload, s3_upload.c) directly under their final keys; "promote" only
 *     aborts uploads left open under those keys by a request lost in flight;
 *   - the manifest slot is claimed with PutObject If-None-Match: * (create
 *     only; S3 answers 412 when the key exists);
 *   - listing reports objects and open multipart uploads (an upload is a
 *     file in flight, as a staged copy is for target-file), and removing a
 *     name deletes the object and aborts its open uploads. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <deltaload/iceberg.h>
#include <deltaload/lake.h>
#include <deltaload/target.h>

#include "s3_internal.h"

#define MIN_PART_SIZE (5LL * 1024 * 1024)
#define MAX_PART_SIZE (5LL * 1024 * 1024 * 1024)

struct s3_inst {
    struct s3_ctx s3;
    char **options; /* deep copy, NULL-terminated: the lake layer's options (format, writer, max_file_size) */
    char *format;
    int64_t max_file_size;
    bool warned_no_list_uploads;
    struct dld_lake_storage storage; /* ctx: this instance */
    struct dld_aws_client *glue;     /* catalog glue (table_format iceberg) */
    struct dld_iceberg_catalog *catalog;
};

/* ---- options ------------------------------------------------------------------ */
static const struct dld_option s_options[] = {
    {"bucket", DLD_OPT_STRING, DLD_OPTF_REQUIRED, NULL, NULL, "S3 bucket the lake lives in.", NULL},
    {"prefix", DLD_OPT_STRING, 0, "", NULL,
     "Key prefix of the lake inside the bucket: files go to s3://<bucket>/<prefix>/<ouputs3Prefix>/<sourceSchema>/"
     "<targetTableName>/.", NULL},
    {"region", DLD_OPT_STRING, 0, NULL, NULL,
     "AWS region; default AWS_REGION, AWS_DEFAULT_REGION or the profile's region (us-east-1 when an endpoint is "
     "given and nothing else is).", NULL},
    {"endpoint", DLD_OPT_STRING, 0, NULL, NULL,
     "Endpoint URL for S3-compatible stores (MinIO, Ceph, R2) or tests; default AWS_ENDPOINT_URL_S3, "
     "AWS_ENDPOINT_URL, the profile's endpoint_url, else https://s3.<region>.amazonaws.com.", NULL},
    {"path_style", DLD_OPT_BOOL, 0, "false", NULL,
     "Address the bucket in the path (https://host/bucket/key) instead of the host name; needed by most "
     "S3-compatible stores. Forced on for endpoints given as an IP address or localhost.", NULL},
    {"profile", DLD_OPT_STRING, 0, NULL, NULL, "Profile of the shared AWS config/credentials files; default "
     "AWS_PROFILE or 'default'.", NULL},
    {"access_key_id", DLD_OPT_STRING, 0, NULL, NULL,
     "Static access key id (prefer the environment, a profile or a role).", NULL},
    {"secret_access_key", DLD_OPT_STRING, DLD_OPTF_SECRET, NULL, NULL, "Static secret access key.", NULL},
    {"session_token", DLD_OPT_STRING, DLD_OPTF_SECRET, NULL, NULL, "Session token for temporary static keys.",
     NULL},
    DLD_FORMAT_OPTION_ROWS,
    {"part_size", DLD_OPT_INT, 0, "8388608", NULL,
     "Multipart part size in bytes (5 MiB to 5 GiB). Files smaller than one part are sent with one PutObject.",
     NULL},
    {"concurrency", DLD_OPT_INT, 0, "4", NULL, "Parts of one file sent in parallel (1 to 64).", NULL},
    {"sse", DLD_OPT_STRING, 0, "none", "none|AES256|aws:kms",
     "Server-side encryption: AES256 (SSE-S3) or aws:kms (SSE-KMS, see sse_kms_key_id).", NULL},
    {"sse_kms_key_id", DLD_OPT_STRING, 0, NULL, NULL, "KMS key id or ARN for sse=aws:kms (default: the "
     "account's aws/s3 key).", NULL},
    {"storage_class", DLD_OPT_STRING, 0, NULL, NULL, "Storage class of new objects (STANDARD, "
     "INTELLIGENT_TIERING, STANDARD_IA, ...).", NULL},
    {"expected_bucket_owner", DLD_OPT_STRING, 0, NULL, NULL,
     "Account id the bucket must belong to; S3 refuses every request otherwise.", NULL},
    {"ca_bundle", DLD_OPT_STRING, 0, NULL, NULL, "CA bundle file for TLS verification (default: the system's).",
     NULL},
    {"verify_tls", DLD_OPT_BOOL, 0, "true", NULL, "Verify the server's TLS certificate. Leave on.", NULL},
    {"connect_timeout_ms", DLD_OPT_INT, 0, "5000", NULL, "Connection timeout.", NULL},
    {"request_timeout_ms", DLD_OPT_INT, 0, "300000", NULL, "Timeout of one request (one part).", NULL},
    {"max_attempts", DLD_OPT_INT, 0, "5", NULL,
     "Attempts per request (retries with exponential backoff and full jitter on 5xx, throttling, timeouts and "
     "resets).", NULL},
    {"retry_base_delay_ms", DLD_OPT_INT, 0, "100", NULL, "Base of the exponential backoff.", NULL},
    {"payload_signing", DLD_OPT_BOOL, 0, "true", NULL,
     "Sign the SHA-256 of every body; false sends UNSIGNED-PAYLOAD (only over https; TLS protects integrity).",
     NULL},
    {"catalog", DLD_OPT_STRING, 0, "files", "files|glue",
     "table_format iceberg: where each table's current metadata file is recorded: files (version-hint.text) or "
     "glue (the AWS Glue Data Catalog, so Athena sees the table; docs/iceberg.md).", NULL},
    {"glue_database", DLD_OPT_STRING, 0, NULL, NULL,
     "catalog glue: the Glue database of the tables (it must exist); a table is named after its target table "
     "name, in lower case.", NULL},
    {"glue_region", DLD_OPT_STRING, 0, NULL, NULL, "catalog glue: the Glue region; default the bucket's region.",
     NULL},
    {"glue_endpoint", DLD_OPT_STRING, 0, NULL, NULL,
     "catalog glue: endpoint URL (tests, VPC endpoints); default AWS_ENDPOINT_URL_GLUE, AWS_ENDPOINT_URL, the "
     "profile's endpoint_url, else https://glue.<region>.amazonaws.com.", NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL},
};

static char **s_copy_options(const char *const *options)
{
    size_t n = 0;
    while (options && options[n])
        n++;
    char **out = calloc(n + 1, sizeof(char *));
    for (size_t i = 0; out && i < n; i++) {
        out[i] = strdup(options[i]);
        if (!out[i]) {
            for (size_t k = 0; k < i; k++)
                free(out[k]);
            free(out);
            return NULL;
        }
    }
    return out;
}

static void s_free_options(char **o)
{
    for (size_t i = 0; o && o[i]; i++) {
        if (i % 2 == 1)
            memset(o[i], 0, strlen(o[i])); /* values may be secrets */
        free(o[i]);
    }
    free(o);
}

static char *s_trim_slashes(const char *s)
{
    if (!s)
        return strdup("");
    while (*s == '/')
        s++;
    size_t n = strlen(s);
    while (n && s[n - 1] == '/')
        n--;
    char *out = malloc(n + 1);
    if (out) {
        memcpy(out, s, n);
        out[n] = '\0';
    }
    return out;
}

/* virtual-hosted addressing cannot work for an IP address or localhost */
static bool s_endpoint_needs_path_style(const char *endpoint)
{
    const char *h = strstr(endpoint, "://");
    h = h ? h + 3 : endpoint;
    if (!strncmp(h, "localhost", 9) || *h == '[')
        return true;
    for (; *h && *h != ':' && *h != '/'; h++)
        if (!isdigit((unsigned char)*h) && *h != '.')
            return false;
    return true;
}

static bool s_valid_bucket(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63)
        return false;
    for (const char *p = b; *p; p++)
        if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
            return false;
    return true;
}

static void s_close(void *p);

/* catalog glue: a second AWS client (service "glue", JSON 1.1) sharing the
 * credentials and HTTP settings, and the SDK's Glue catalog on top */
static int s_glue_init(struct s3_inst *inst, const char *const *options, const char *profile, const char *region,
                       const struct dld_aws_client_options *s3cl, struct dld_error *err)
{
    const char *cat = dld_opt_get(options, "catalog");
    if (cat == NULL || !strcmp(cat, "files"))
        return DLD_OK;
    if (strcmp(cat, "glue") != 0)
        return dld_error_set(err, DLD_ERR_CONFIG, "catalog '%s': use files or glue", cat);
    int ice = 0, rc;
    if ((rc = dld_iceberg_option(options, &ice, err)))
        return rc;
    if (!ice)
        return dld_error_set(err, DLD_ERR_CONFIG, "catalog glue needs \"table_format\": \"iceberg\"");
    if (dld_opt_get(options, "glue_database") == NULL)
        return dld_error_set(err, DLD_ERR_CONFIG, "catalog glue needs glue_database");
    const char *gregion = dld_opt_get(options, "glue_region") ? dld_opt_get(options, "glue_region") : region;
    char *endpoint = NULL;
    if ((rc = dld_aws_endpoint_resolve("Glue", "glue", dld_opt_get(options, "glue_endpoint"), gregion, profile,
                                       &endpoint, err)))
        return rc;
    struct dld_aws_client_options cl = *s3cl;
    cl.service = "glue";
    cl.region = gregion;
    cl.endpoint = endpoint;
    cl.sign_flags = 0;
    cl.log_name = "glue";
    inst->glue = dld_aws_client_new(&cl, err);
    if (inst->glue)
        inst->catalog = dld_iceberg_glue_new(inst->glue, dld_opt_get(options, "glue_database"), inst->s3.host, err);
    if (inst->glue && inst->catalog)
        dld_log(inst->s3.host, DLD_LOG_DEBUG, S3_PLUGIN, "Iceberg catalog: Glue database %s at %s",
                dld_opt_get(options, "glue_database"), endpoint);
    free(endpoint);
    return inst->catalog ? DLD_OK : (err->code ? err->code : DLD_ERR_FATAL);
}
static void s_storage_init(struct s3_inst *inst);

static int s_open(const struct dld_host *host, const char *const *options, void **out, struct dld_error *err)
{
    *out = NULL;
    struct s3_inst *inst = calloc(1, sizeof(*inst));
    if (!inst)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    struct s3_ctx *s3 = &inst->s3;
    s3->host = host;
    int rc = DLD_OK;
    char *region = NULL, *endpoint = NULL;
    const char *bucket = dld_opt_get(options, "bucket");
    const char *profile = dld_opt_get(options, "profile");
    const char *endpoint_opt = dld_opt_get(options, "endpoint");
    const char *sse = dld_opt_get(options, "sse");

    inst->options = s_copy_options(options);
    inst->format = strdup(dld_opt_get(options, "format") ? dld_opt_get(options, "format") : "parquet");
    inst->max_file_size = dld_opt_int(options, "max_file_size", 268435456);
    s3->part_size = dld_opt_int(options, "part_size", 8388608);
    s3->concurrency = (int)dld_opt_int(options, "concurrency", 4);
    s3->max_attempts = (int)dld_opt_int(options, "max_attempts", 5);
    s3->retry_base_delay_ms = dld_opt_int(options, "retry_base_delay_ms", 100);
    if (!inst->options || !inst->format) {
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        goto done;
    }
    if (!bucket || !s_valid_bucket(bucket)) {
        rc = dld_error_set(err, DLD_ERR_CONFIG, "bucket '%s' is not a valid S3 bucket name", bucket ? bucket : "");
        goto done;
    }
    if (!dld_format_extension(inst->format)) {
        rc = dld_error_set(err, DLD_ERR_CONFIG, "format '%s' is not available in this build", inst->format);
        goto done;
    }
    if (s3->part_size < MIN_PART_SIZE || s3->part_size > MAX_PART_SIZE) {
        rc = dld_error_set(err, DLD_ERR_CONFIG, "part_size %" PRId64 " is outside S3's 5 MiB .. 5 GiB", s3->part_size);
        goto done;
    }
    if (s3->concurrency < 1 || s3->concurrency > 64) {
        rc = dld_error_set(err, DLD_ERR_CONFIG, "concurrency %d is outside 1 .. 64", s3->concurrency);
        goto done;
    }
    if (s3->max_attempts < 1 || s3->max_attempts > 100) {
        rc = dld_error_set(err, DLD_ERR_CONFIG, "max_attempts %d is outside 1 .. 100", s3->max_attempts);
        goto done;
    }
    if (dld_opt_int(options, "request_timeout_ms", 300000) < 1 || dld_opt_int(options, "connect_timeout_ms", 5000) < 1) {
        rc = dld_error_set(err, DLD_ERR_CONFIG, "request_timeout_ms and connect_timeout_ms must be at least 1");
        goto done;
    }
    if (s3->retry_base_delay_ms < 0) {
        rc = dld_error_set(err, DLD_ERR_CONFIG, "retry_base_delay_ms must not be negative");
        goto done;
    }
    if (inst->max_file_size < 1) {
        rc = dld_error_set(err, DLD_ERR_CONFIG, "max_file_size must be positive");
        goto done;
    }
    if (sse && strcmp(sse, "none") && strcmp(sse, "AES256") && strcmp(sse, "aws:kms")) {
        rc = dld_error_set(err, DLD_ERR_CONFIG, "sse '%s': use none, AES256 or aws:kms", sse);
        goto done;
    }
    if (dld_opt_get(options, "sse_kms_key_id") && !(sse && !strcmp(sse, "aws:kms"))) {
        rc = dld_error_set(err, DLD_ERR_CONFIG, "sse_kms_key_id needs sse=aws:kms");
        goto done;
    }
    /* checked here, once: curl would resolve "../" in the request path and
     * send the request to another bucket */
    if ((rc = dld_path_check("prefix", dld_opt_get(options, "prefix"), err)))
        goto done;
    s3->bucket = strdup(bucket);
    s3->prefix = s_trim_slashes(dld_opt_get(options, "prefix"));
    s3->sse = sse && strcmp(sse, "none") ? strdup(sse) : NULL;
    s3->sse_kms_key_id = dld_opt_get(options, "sse_kms_key_id") ? strdup(dld_opt_get(options, "sse_kms_key_id")) : NULL;
    s3->storage_class = dld_opt_get(options, "storage_class") ? strdup(dld_opt_get(options, "storage_class")) : NULL;
    s3->expected_owner =
        dld_opt_get(options, "expected_bucket_owner") ? strdup(dld_opt_get(options, "expected_bucket_owner")) : NULL;
    s3->unsigned_payload = !dld_opt_bool(options, "payload_signing", true);

    rc = dld_aws_region_resolve(dld_opt_get(options, "region"), profile, &region, err);
    if (rc == DLD_ERR_CONFIG && endpoint_opt) {
        region = strdup("us-east-1"); /* S3-compatible stores mostly ignore it */
        rc = region ? DLD_OK : dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    if (rc)
        goto done;
    if ((rc = dld_aws_endpoint_resolve("S3", "s3", endpoint_opt, region, profile, &endpoint, err)))
        goto done;
    s3->path_style = dld_opt_bool(options, "path_style", false) || s_endpoint_needs_path_style(endpoint);
    if (s3->unsigned_payload && strncmp(endpoint, "https://", 8)) {
        rc = dld_error_set(err, DLD_ERR_CONFIG, "payload_signing=false needs an https endpoint (%s is not)", endpoint);
        goto done;
    }

    struct dld_aws_credentials_options co = {
        .profile = profile, .access_key_id = dld_opt_get(options, "access_key_id"),
        .secret_access_key = dld_opt_get(options, "secret_access_key"),
        .session_token = dld_opt_get(options, "session_token"), .region = region, .host = host,
    };
    s3->creds = dld_aws_credentials_provider_new(&co, err);
    if (!s3->creds) {
        rc = err->code ? err->code : DLD_ERR_FATAL;
        goto done;
    }
    struct dld_aws_client_options cl = {
        .service = "s3", .region = region, .endpoint = endpoint, .credentials = s3->creds,
        .http_options = {.ca_bundle = dld_opt_get(options, "ca_bundle"),
                         .no_verify_tls = !dld_opt_bool(options, "verify_tls", true),
                         .connect_timeout_ms = dld_opt_int(options, "connect_timeout_ms", 5000),
                         .timeout_ms = dld_opt_int(options, "request_timeout_ms", 300000)},
        .retry = {.max_attempts = (int)dld_opt_int(options, "max_attempts", 5),
                  .base_delay_ms = dld_opt_int(options, "retry_base_delay_ms", 100)},
        .sign_flags = DLD_SIGV4_S3, .host = host, .log_name = S3_PLUGIN,
    };
    s3->client = dld_aws_client_new(&cl, err);
    if (!s3->client) {
        rc = err->code ? err->code : DLD_ERR_FATAL;
        goto done;
    }
    if ((rc = s_glue_init(inst, options, profile, region, &cl, err)))
        goto done;
    if (cl.http_options.no_verify_tls)
        dld_log(host, DLD_LOG_WARN, S3_PLUGIN, "verify_tls=false: TLS certificates are not checked");
    dld_log(host, DLD_LOG_DEBUG, S3_PLUGIN, "bucket %s at %s (%s addressing, region %s)", s3->bucket, endpoint,
            s3->path_style ? "path-style" : "virtual-hosted", region);
done:
    free(region);
    free(endpoint);
    if (rc) {
        dld_error_prefix(err, "target s3");
        s_close(inst);
        return rc;
    }
    s_storage_init(inst);
    *out = inst;
    return DLD_OK;
}

static void s_close(void *p)
{
    struct s3_inst *inst = p;
    if (!inst)
        return;
    struct s3_ctx *s3 = &inst->s3;
    dld_iceberg_catalog_destroy(inst->catalog);
    dld_aws_client_destroy(inst->glue);
    dld_aws_client_destroy(s3->client);
    dld_aws_credentials_provider_destroy(s3->creds);
    free(s3->bucket);
    free(s3->prefix);
    free(s3->sse);
    free(s3->sse_kms_key_id);
    free(s3->storage_class);
    free(s3->expected_owner);
    s_free_options(inst->options);
    free(inst->format);
    free(inst);
}

/* ---- keys --------------------------------------------------------------------- */
/* "<prefix>/<dir>/<name>" with empty parts skipped; name may be NULL or "" */
static char *s_key(const struct s3_inst *inst, const char *dir, const char *name)
{
    const char *parts[3] = {inst->s3.prefix, dir, name};
    size_t len = 1;
    for (int i = 0; i < 3; i++)
        len += (parts[i] ? strlen(parts[i]) : 0) + 1;
    char *k = malloc(len);
    if (!k)
        return NULL;
    size_t n = 0;
    for (int i = 0; i < 3; i++) {
        if (!parts[i] || !*parts[i])
            continue;
        if (n)
            k[n++] = '/';
        size_t l = strlen(parts[i]);
        memcpy(k + n, parts[i], l);
        n += l;
    }
    k[n] = '\0';
    return k;
}

/* the key of the directory itself, with a trailing '/' ("" for the bucket's root) */
static char *s_dir_key(const struct s3_inst *inst, const char *dir)
{
    char *d = s_key(inst, dir, NULL);
    if (!d || !*d)
        return d;
    char *out = NULL;
    if (asprintf(&out, "%s/", d) < 0)
        out = NULL;
    free(d);
    return out;
}

static const char *s_content_type(const char *format)
{
    if (!strcmp(format, "csv"))
        return "text/csv";
    if (!strcmp(format, "parquet"))
        return "application/vnd.apache.parquet";
    return "application/octet-stream";
}

static void s_warn_no_list_uploads(struct s3_inst *inst)
{
    if (!inst->warned_no_list_uploads)
        dld_log(inst->s3.host, DLD_LOG_WARN, S3_PLUGIN,
                "the store does not implement ListMultipartUploads/AbortMultipartUpload: unfinished uploads of "
                "discarded loads are left to a lifecycle rule (AbortIncompleteMultipartUpload)");
    inst->warned_no_list_uploads = true;
}

/* ---- storage for the lake layer ------------------------------------------------ */
static int s_file_open(void *ctx, const char *dir, const char *name, const char *content_type, void **file,
                       struct dld_sink *sink, struct dld_error *err)
{
    struct s3_inst *inst = ctx;
    *file = NULL;
    char *key = s_key(inst, dir, name);
    if (!key)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    struct s3_upload *u =
        s3_upload_new(&inst->s3, key, content_type ? content_type : s_content_type(inst->format), err);
    free(key);
    if (!u)
        return err->code ? err->code : DLD_ERR_FATAL;
    *file = u;
    *sink = s3_upload_sink(u);
    return DLD_OK;
}

/* sends what is left, completes the object (or aborts the multipart upload) */
static int s_file_close(void *ctx, void *file, int64_t *bytes, struct dld_error *err)
{
    (void)ctx;
    struct s3_upload *u = file;
    int rc = s3_upload_finish(u, err);
    if (bytes)
        *bytes = rc ? 0 : (int64_t)s3_upload_bytes(u);
    s3_upload_destroy(u); /* aborts the multipart upload if it did not complete */
    return rc;
}

static void s_file_abandon(void *ctx, void *file)
{
    (void)ctx;
    s3_upload_destroy(file);
}

static int s_put_if_absent(void *ctx, const char *dir, const char *name, const void *data, size_t len,
                           struct dld_error *err)
{
    struct s3_inst *inst = ctx;
    char *key = s_key(inst, dir, name);
    if (!key)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    size_t n = strlen(name);
    const char *type = n > 5 && !strcmp(name + n - 5, ".json") ? "application/json" : "application/octet-stream";
    int rc = s3_put_object_if_absent(&inst->s3, key, data, len, type, err);
    free(key);
    return rc;
}

static int s_put(void *ctx, const char *dir, const char *name, const void *data, size_t len, struct dld_error *err)
{
    struct s3_inst *inst = ctx;
    char *key = s_key(inst, dir, name);
    if (!key)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    int rc = s3_put_object(&inst->s3, key, data, len, "text/plain", NULL, err);
    free(key);
    return rc;
}

/* s3://bucket/<prefix>/<dir> (table_format iceberg) */
static char *s_location(void *ctx, const char *dir)
{
    struct s3_inst *inst = ctx;
    char *key = s_key(inst, dir, NULL), *s = NULL;
    if (!key)
        return NULL;
    size_t n = strlen(key);
    while (n && key[n - 1] == '/')
        key[--n] = '\0';
    if (asprintf(&s, "s3://%s/%s", inst->s3.bucket, key) < 0)
        s = NULL;
    free(key);
    return s;
}

static int s_get(void *ctx, const char *dir, const char *name, char **data, size_t *len, struct dld_error *err)
{
    struct s3_inst *inst = ctx;
    char *key = s_key(inst, dir, name);
    if (!key)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    int rc = s3_get_object(&inst->s3, key, data, len, err);
    free(key);
    return rc;
}

/* a set of names, for the one listing of objects and uploads */
struct s_names {
    char **v;
    size_t n, cap;
};

static bool s_names_has(const struct s_names *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], name))
            return true;
    return false;
}

static int s_names_add(struct s_names *s, const char *name)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        char **v = realloc(s->v, cap * sizeof(char *));
        if (!v)
            return DLD_ERR_FATAL;
        s->v = v;
        s->cap = cap;
    }
    if (!(s->v[s->n] = strdup(name)))
        return DLD_ERR_FATAL;
    s->n++;
    return DLD_OK;
}

static void s_names_clean_up(struct s_names *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

struct s_list_ctx {
    size_t dir_len; /* of "<prefix>/<dir>/" */
    int (*fn)(void *fnctx, const char *name);
    void *fnctx;
    struct s_names seen; /* names reported (an object and an upload may share one) */
    bool stopped;
    bool oom;
};

static int s_list_report(struct s_list_ctx *c, const char *key)
{
    const char *name = key + c->dir_len;
    if (s_names_has(&c->seen, name))
        return DLD_OK;
    if (s_names_add(&c->seen, name)) {
        c->oom = true;
        return DLD_ERR_FATAL;
    }
    if (c->fn(c->fnctx, name)) {
        c->stopped = true;
        return DLD_DONE;
    }
    return DLD_OK;
}

static int s_list_object(void *ctx, const char *key)
{
    return s_list_report(ctx, key);
}

static int s_list_upload(void *ctx, const char *key, const char *upload_id)
{
    (void)upload_id;
    return s_list_report(ctx, key);
}

/* objects under dir/prefix, then the names of open multipart uploads there
 * (files in flight: a killed writer leaves them behind) */
static int s_list(void *ctx, const char *dir, const char *prefix, int (*fn)(void *fnctx, const char *name),
                  void *fnctx, struct dld_error *err)
{
    struct s3_inst *inst = ctx;
    char *dkey = s_dir_key(inst, dir);
    char *lprefix = NULL;
    if (dkey && asprintf(&lprefix, "%s%s", dkey, prefix ? prefix : "") < 0)
        lprefix = NULL;
    int rc = DLD_OK;
    struct s_list_ctx c = {.fn = fn, .fnctx = fnctx};
    if (!lprefix) {
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        goto done;
    }
    c.dir_len = strlen(dkey);
    rc = s3_list(&inst->s3, lprefix, s_list_object, &c, err);
    if (rc == DLD_OK) {
        rc = s3_list_uploads(&inst->s3, lprefix, s_list_upload, &c, err);
        if (rc == DLD_ERR_UNSUPPORTED) {
            s_warn_no_list_uploads(inst);
            rc = DLD_OK;
        }
    }
    if (c.stopped)
        rc = DLD_OK;
    else if (c.oom)
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
done:
    s_names_clean_up(&c.seen);
    free(dkey);
    free(lprefix);
    return rc;
}

struct s_abort_ctx {
    struct s3_ctx *s3;
    char *const *keys;
    int n;
    int aborted;
    struct dld_error *err;
};

static int s_abort_upload(void *ctx, const char *key, const char *upload_id)
{
    struct s_abort_ctx *a = ctx;
    bool ours = false;
    for (int i = 0; i < a->n && !ours; i++)
        ours = !strcmp(a->keys[i], key);
    if (!ours)
        return DLD_OK;
    int rc = s3_mpu_abort(a->s3, key, upload_id, a->err);
    if (rc)
        return rc;
    a->aborted++;
    return DLD_OK;
}

/* the keys of names in dir (malloc'ed array of malloc'ed strings) */
static char **s_keys(struct s3_inst *inst, const char *dir, const char *const *names, int n)
{
    char **keys = calloc((size_t)n, sizeof(char *));
    for (int i = 0; keys && i < n; i++)
        if (!(keys[i] = s_key(inst, dir, names[i]))) {
            for (int k = 0; k < i; k++)
                free(keys[k]);
            free(keys);
            return NULL;
        }
    return keys;
}

static void s_keys_free(char **keys, int n)
{
    for (int i = 0; keys && i < n; i++)
        free(keys[i]);
    free(keys);
}

/* aborts the open multipart uploads of exactly these keys (listed under
 * their longest common prefix); *aborted counts them */
static int s_abort_uploads(struct s3_inst *inst, char **keys, int n, int *aborted, struct dld_error *err)
{
    size_t common = strlen(keys[0]);
    for (int i = 1; i < n; i++) {
        size_t k = 0;
        while (k < common && keys[i][k] == keys[0][k])
            k++;
        common = k;
    }
    char *lprefix = strndup(keys[0], common);
    if (!lprefix)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    struct s_abort_ctx a = {.s3 = &inst->s3, .keys = keys, .n = n, .err = err};
    int rc = s3_list_uploads(&inst->s3, lprefix, s_abort_upload, &a, err);
    free(lprefix);
    if (rc == DLD_ERR_UNSUPPORTED) {
        s_warn_no_list_uploads(inst);
        rc = DLD_OK;
    }
    *aborted = a.aborted;
    return rc;
}

/* deletes the objects (DeleteObjects: a missing key is no error), then
 * aborts the open multipart uploads of these names */
static int s_remove(void *ctx, const char *dir, const char *const *names, int n, struct dld_error *err)
{
    struct s3_inst *inst = ctx;
    if (n <= 0)
        return DLD_OK;
    char **keys = s_keys(inst, dir, names, n);
    if (!keys)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    int aborted = 0;
    int rc = s3_delete_objects(&inst->s3, keys, (size_t)n, err);
    if (!rc)
        rc = s_abort_uploads(inst, keys, n, &aborted, err);
    if (!rc)
        dld_log(inst->s3.host, DLD_LOG_INFO, S3_PLUGIN, "s3://%s/%s...: %d object(s) deleted, %d upload(s) aborted",
                inst->s3.bucket, keys[0], n, aborted);
    s_keys_free(keys, n);
    return rc;
}

/* The files are written in place (nothing to move), but no upload may stay
 * open under one of a load's names once it is published: an upload that a
 * request lost in flight opened (its id never learnt) would otherwise sit
 * beside the published file until a lifecycle rule removes it. Every file of
 * the load is complete here, so any open upload of its keys is such an
 * orphan. One ListMultipartUploads per publish. */
static int s_promote(void *ctx, const char *dir, const char *const *names, int n, struct dld_error *err)
{
    struct s3_inst *inst = ctx;
    if (n <= 0)
        return DLD_OK;
    char **keys = s_keys(inst, dir, names, n);
    if (!keys)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    int aborted = 0;
    int rc = s_abort_uploads(inst, keys, n, &aborted, err);
    if (!rc && aborted > 0)
        dld_log(inst->s3.host, DLD_LOG_WARN, S3_PLUGIN, "s3://%s/%s...: %d orphaned upload(s) aborted before publishing",
                inst->s3.bucket, keys[0], aborted);
    s_keys_free(keys, n);
    return rc;
}

static void s_storage_init(struct s3_inst *inst)
{
    inst->storage = (struct dld_lake_storage){
        .struct_size = sizeof(struct dld_lake_storage),
        .ctx = inst,
        .file_open = s_file_open,
        .file_close = s_file_close,
        .file_abandon = s_file_abandon,
        .promote = s_promote, /* written in place: only aborts orphaned uploads of the names */
        .put_if_absent = s_put_if_absent,
        .get = s_get,
        .list = s_list,
        .remove = s_remove,
        .now_ms = inst->s3.host ? inst->s3.host->now_ms : NULL,
        .put = s_put,
        .location = s_location,
        .catalog = inst->catalog,
    };
}

/* ---- the vtable: each call is the lake layer's ------------------------------------ */
static int s_load_begin(void *p, const struct dld_load *load, void **out, struct dld_error *err)
{
    struct s3_inst *inst = p;
    struct dld_lake_load *l = NULL;
    *out = NULL;
    int rc = dld_lake_load_begin(&inst->storage, (const char *const *)inst->options, load, &l, err);
    if (rc)
        return rc;
    *out = l;
    return DLD_OK;
}

static int s_load_write(void *h, const struct ArrowSchema *schema, const struct ArrowArray *batch,
                        struct dld_error *err)
{
    return dld_lake_load_write(h, schema, batch, err);
}

static int s_load_finish(void *h, struct dld_load_stats *stats, struct dld_error *err)
{
    return dld_lake_load_finish(h, stats, err);
}

static int s_load_publish(void *h, struct dld_error *err)
{
    return dld_lake_load_publish(h, err);
}

static void s_load_free(void *h)
{
    dld_lake_load_free(h);
}

static int s_load_discard(void *p, const struct dld_load *load, struct dld_error *err)
{
    struct s3_inst *inst = p;
    return dld_lake_discard(&inst->storage, load, err);
}

static int s_load_is_published(void *p, const struct dld_load *load, int *published, struct dld_error *err)
{
    struct s3_inst *inst = p;
    return dld_lake_is_published(&inst->storage, load, published, err);
}

static int s_manifest_list(void *p, const struct dld_table *table, char **manifests_json, struct dld_error *err)
{
    struct s3_inst *inst = p;
    const struct dld_host *host = inst->s3.host;
    char *json = NULL;
    *manifests_json = NULL;
    int rc = dld_lake_manifest_list(&inst->storage, table, &json, err);
    if (rc)
        return rc;
    /* the host frees it: copy into its allocator */
    size_t n = strlen(json) + 1;
    char *out = host->alloc(n);
    if (out)
        memcpy(out, json, n);
    free(json);
    if (!out)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    *manifests_json = out;
    return DLD_OK;
}

/* `deltaload lake expire` (table_format iceberg): the lake layer's */
static int s_lake_expire(void *p, const struct dld_table *table, int64_t cutoff_ms, int dry_run, char **report_json,
                         struct dld_error *err)
{
    struct s3_inst *inst = p;
    char *json = NULL;
    *report_json = NULL;
    int rc = dld_lake_expire(&inst->storage, table, cutoff_ms, dry_run, &json, err);
    if (rc)
        return rc;
    *report_json = dld_host_strdup(inst->s3.host, json);
    free(json);
    return *report_json ? DLD_OK : dld_error_set(err, DLD_ERR_FATAL, "out of memory");
}

static const struct dld_target_vtable s_vtable = {
    .struct_size = sizeof(struct dld_target_vtable),
    .open = s_open,
    .close = s_close,
    .load_begin = s_load_begin,
    .load_write = s_load_write,
    .load_finish = s_load_finish,
    .load_publish = s_load_publish,
    .load_free = s_load_free,
    .load_discard = s_load_discard,
    .load_is_published = s_load_is_published,
    .manifest_list = s_manifest_list,
    .lake_expire = s_lake_expire,
};

static const struct dld_plugin s_plugin = {
    .struct_size = sizeof(struct dld_plugin),
    .abi_major = DLD_ABI_MAJOR,
    .abi_minor = DLD_ABI_MINOR,
    .kind = DLD_KIND_TARGET,
    .capabilities = 0,
    .name = "s3",
    .version = "0.1.0",
    .description = "Writes loads as CSV or Parquet files to S3 or an S3-compatible store, with manifests",
    .options = s_options,
    .vtable = &s_vtable,
};

DLD_PLUGIN_DEFINE(target_s3, s_plugin);

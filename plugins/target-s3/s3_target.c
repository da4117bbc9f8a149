/* target-s3: the lake on S3 (or MinIO, Ceph, R2 with path_style). Same
 * layout and manifests as target-file (lake.h), rooted at
 * s3://<bucket>/<prefix>/. Files are written directly under their final
 * keys and the manifest, written last, is what "published" means; recovery
 * (load_discard) deletes a dead load's objects by listing its table
 * directory and aborts its open multipart uploads. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <deltaload/lake.h>
#include <deltaload/target.h>

#include "s3_internal.h"

#define MIN_PART_SIZE (5LL * 1024 * 1024)
#define MAX_PART_SIZE (5LL * 1024 * 1024 * 1024)

struct s3_inst {
    struct s3_ctx s3;
    char **options; /* deep copy, NULL-terminated: handed to the format writers */
    char *format;
    int64_t max_file_size;
    bool warned_no_list_uploads;
};

struct s3_load {
    struct s3_inst *inst;
    struct dld_table table;
    struct dld_load load;
    char *dir; /* "<prefix>/<table dir>" */
    struct ArrowSchema schema;
    bool have_schema;
    struct dld_format_writer *writer;
    struct s3_upload *upload;
    char *cur_name;
    struct dld_lake_file *files;
    int nfiles, cap;
    int64_t rows, bytes;
    bool finished;
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
    *out = inst;
    return DLD_OK;
}

static void s_close(void *p)
{
    struct s3_inst *inst = p;
    if (!inst)
        return;
    struct s3_ctx *s3 = &inst->s3;
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
static int s_load_dir(struct s3_inst *inst, const struct dld_table *t, char **out, struct dld_error *err)
{
    char *dir = NULL;
    int rc = dld_lake_table_dir(t, &dir, err);
    if (rc)
        return rc;
    if (*inst->s3.prefix) {
        char *full = NULL;
        if (asprintf(&full, "%s/%s", inst->s3.prefix, dir) < 0)
            full = NULL;
        free(dir);
        dir = full;
    }
    if (!dir)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    *out = dir;
    return DLD_OK;
}

static char *s_key(const char *dir, const char *name)
{
    char *k = NULL;
    if (asprintf(&k, "%s/%s", dir, name) < 0)
        return NULL;
    return k;
}

static const char *s_content_type(const char *format)
{
    if (!strcmp(format, "csv"))
        return "text/csv";
    if (!strcmp(format, "parquet"))
        return "application/vnd.apache.parquet";
    return "application/octet-stream";
}

/* ---- a load ------------------------------------------------------------------- */
static char *s_dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void s_free_load_copy(struct s3_load *l)
{
    free((char *)l->table.target_table_name);
    free((char *)l->table.source_schema);
    free((char *)l->table.source_table);
    free((char *)l->table.filter_column);
    free((char *)l->table.filter_operator);
    free((char *)l->table.output_prefix);
    free((char *)l->load.low);
    free((char *)l->load.high);
    free((char *)l->load.snapshot);
}

static void s_load_free(void *h);

static int s_load_begin(void *p, const struct dld_load *load, void **out, struct dld_error *err)
{
    struct s3_inst *inst = p;
    *out = NULL;
    struct s3_load *l = calloc(1, sizeof(*l));
    if (!l)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    l->inst = inst;
    const struct dld_table *t = load->table;
    /* the load is borrowed for this call only: keep what the manifest needs */
    l->table.struct_size = sizeof(l->table);
    l->table.target_table_name = s_dup(t->target_table_name);
    l->table.source_schema = s_dup(t->source_schema);
    l->table.source_table = s_dup(t->source_table);
    l->table.filter_column = s_dup(t->filter_column);
    l->table.filter_operator = s_dup(t->filter_operator);
    l->table.output_prefix = s_dup(t->output_prefix);
    l->load.struct_size = sizeof(l->load);
    l->load.table = &l->table;
    l->load.load_id = load->load_id;
    l->load.mode = load->mode;
    l->load.low = s_dup(load->low);
    l->load.low_inclusive = load->low_inclusive;
    l->load.high = s_dup(load->high);
    l->load.snapshot = s_dup(load->snapshot);
    l->load.started_ms = load->started_ms;
    int rc = s_load_dir(inst, t, &l->dir, err);
    if (rc) {
        s_load_free(l);
        return rc;
    }
    *out = l;
    return DLD_OK;
}

/* closes the current file: writer trailer, last part, CompleteMultipartUpload */
static int s_close_file(struct s3_load *l, struct dld_error *err)
{
    if (!l->writer)
        return DLD_OK;
    int rc = dld_format_writer_finish(l->writer, err);
    if (!rc)
        rc = s3_upload_finish(l->upload, err);
    if (!rc) {
        struct dld_lake_file *f = &l->files[l->nfiles++];
        f->name = l->cur_name;
        f->rows = dld_format_writer_rows(l->writer);
        f->bytes = (int64_t)s3_upload_bytes(l->upload);
        l->cur_name = NULL;
        l->rows += f->rows;
        l->bytes += f->bytes;
    }
    dld_format_writer_destroy(l->writer);
    l->writer = NULL;
    s3_upload_destroy(l->upload); /* aborts the multipart upload if it did not complete */
    l->upload = NULL;
    return rc;
}

static int s_open_file(struct s3_load *l, struct dld_error *err)
{
    struct s3_inst *inst = l->inst;
    if (l->nfiles == l->cap) {
        int cap = l->cap ? l->cap * 2 : 4;
        struct dld_lake_file *f = realloc(l->files, (size_t)cap * sizeof(*f));
        if (!f)
            return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        l->files = f;
        l->cap = cap;
    }
    if (l->nfiles >= 9999)
        return dld_error_set(err, DLD_ERR_CONFIG, "a load may have at most 9999 files: raise max_file_size");
    l->cur_name = dld_lake_file_name(l->load.load_id, l->nfiles + 1, dld_format_extension(inst->format));
    char *key = l->cur_name ? s_key(l->dir, l->cur_name) : NULL;
    if (!key)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    l->upload = s3_upload_new(&inst->s3, key, s_content_type(inst->format), err);
    free(key);
    if (!l->upload)
        return err->code;
    char id[32], low_incl[8];
    snprintf(id, sizeof(id), "%" PRId64, l->load.load_id);
    snprintf(low_incl, sizeof(low_incl), "%s", l->load.low_inclusive ? "true" : "false");
    const char *meta[16];
    int m = 0;
    meta[m++] = "deltaload.table";
    meta[m++] = l->table.target_table_name;
    meta[m++] = "deltaload.load_id";
    meta[m++] = id;
    if (l->load.low) {
        meta[m++] = "deltaload.window_low";
        meta[m++] = l->load.low;
        meta[m++] = "deltaload.window_low_inclusive";
        meta[m++] = low_incl;
    }
    if (l->load.high) {
        meta[m++] = "deltaload.window_high";
        meta[m++] = l->load.high;
    }
    meta[m] = NULL;
    struct dld_sink sink = s3_upload_sink(l->upload);
    l->writer = dld_format_writer_new(inst->format, (const char *const *)inst->options, &l->schema, &sink, meta, err);
    if (!l->writer) {
        s3_upload_destroy(l->upload);
        l->upload = NULL;
        return err->code ? err->code : DLD_ERR_FATAL;
    }
    return DLD_OK;
}

static int s_load_write(void *h, const struct ArrowSchema *schema, const struct ArrowArray *batch,
                        struct dld_error *err)
{
    struct s3_load *l = h;
    int rc;
    if (l->finished)
        return dld_error_set(err, DLD_ERR_FATAL, "target s3: write after load_finish");
    if (!l->have_schema) {
        if (dld_arrow_schema_copy(schema, &l->schema) != DLD_OK)
            return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        l->have_schema = true;
    }
    if (!l->writer && (rc = s_open_file(l, err)))
        return rc;
    if ((rc = dld_format_writer_write(l->writer, batch, err)))
        return rc;
    if (dld_format_writer_size(l->writer) >= (uint64_t)l->inst->max_file_size)
        return s_close_file(l, err);
    return DLD_OK;
}

static int s_load_finish(void *h, struct dld_load_stats *stats, struct dld_error *err)
{
    struct s3_load *l = h;
    int rc = s_close_file(l, err);
    if (rc)
        return rc;
    l->finished = true;
    if (stats) {
        stats->rows = l->rows;
        stats->bytes = l->bytes;
        stats->files = l->nfiles;
    }
    return DLD_OK;
}

static int s_load_publish(void *h, struct dld_error *err)
{
    struct s3_load *l = h;
    if (!l->finished)
        return dld_error_set(err, DLD_ERR_FATAL, "target s3: publish before load_finish");
    const struct dld_host *host = l->inst->s3.host;
    int64_t now = host && host->now_ms ? host->now_ms() : 0;
    char *json = dld_lake_manifest_json(&l->load, l->inst->format, l->files, l->nfiles, now);
    char *name = dld_lake_manifest_name(l->load.load_id);
    char *key = name ? s_key(l->dir, name) : NULL;
    int rc;
    if (!json || !key)
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    else
        rc = s3_put_object(&l->inst->s3, key, json, strlen(json), "application/json", NULL, err);
    free(json);
    free(name);
    free(key);
    return rc;
}

static void s_load_free(void *h)
{
    struct s3_load *l = h;
    if (!l)
        return;
    if (l->writer)
        dld_format_writer_destroy(l->writer);
    s3_upload_destroy(l->upload);
    for (int i = 0; i < l->nfiles; i++)
        free((char *)l->files[i].name);
    free(l->files);
    free(l->cur_name);
    if (l->have_schema && l->schema.release)
        l->schema.release(&l->schema);
    free(l->dir);
    s_free_load_copy(l);
    free(l);
}

/* ---- recovery ------------------------------------------------------------------ */
struct s_collect {
    int64_t load_id;
    size_t dir_len;
    char **keys;
    size_t n, cap;
    bool oom;
};

static int s_collect_key(void *ctx, const char *key)
{
    struct s_collect *c = ctx;
    /* only direct children of the table directory that belong to the load */
    const char *name = key + c->dir_len;
    if (strchr(name, '/') || !dld_lake_name_is_load(name, c->load_id))
        return DLD_OK;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        char **k = realloc(c->keys, cap * sizeof(char *));
        if (!k) {
            c->oom = true;
            return DLD_ERR_FATAL;
        }
        c->keys = k;
        c->cap = cap;
    }
    c->keys[c->n] = strdup(key);
    if (!c->keys[c->n]) {
        c->oom = true;
        return DLD_ERR_FATAL;
    }
    c->n++;
    return DLD_OK;
}

struct s_abort_ctx {
    struct s3_ctx *s3;
    int64_t load_id;
    size_t dir_len;
    int aborted;
    int rc;
    struct dld_error *err;
};

static int s_abort_upload(void *ctx, const char *key, const char *upload_id)
{
    struct s_abort_ctx *a = ctx;
    const char *name = key + a->dir_len;
    if (strchr(name, '/') || !dld_lake_name_is_load(name, a->load_id))
        return DLD_OK;
    int rc = s3_mpu_abort(a->s3, key, upload_id, a->err);
    if (rc == DLD_ERR_UNSUPPORTED)
        return rc;
    if (rc)
        return rc;
    a->aborted++;
    return DLD_OK;
}

static int s_load_discard(void *p, const struct dld_load *load, struct dld_error *err)
{
    struct s3_inst *inst = p;
    struct s3_ctx *s3 = &inst->s3;
    char *dir = NULL, *mname = NULL, *mkey = NULL, *prefix = NULL;
    struct s_collect c = {.load_id = load->load_id};
    int rc = s_load_dir(inst, load->table, &dir, err);
    if (rc)
        return rc;
    /* the manifest first: the load stops being published before its files go */
    mname = dld_lake_manifest_name(load->load_id);
    mkey = mname ? s_key(dir, mname) : NULL;
    if (asprintf(&prefix, "%s/LOAD%08" PRId64 "-", dir, load->load_id) < 0)
        prefix = NULL;
    if (!mkey || !prefix) {
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        goto done;
    }
    if ((rc = s3_delete_object(s3, mkey, err)))
        goto done;
    c.dir_len = strlen(dir) + 1;
    if ((rc = s3_list(s3, prefix, s_collect_key, &c, err)))
        goto done;
    if (c.n && (rc = s3_delete_objects(s3, c.keys, c.n, err)))
        goto done;
    struct s_abort_ctx a = {.s3 = s3, .load_id = load->load_id, .dir_len = c.dir_len, .err = err};
    rc = s3_list_uploads(s3, prefix, s_abort_upload, &a, err);
    if (rc == DLD_ERR_UNSUPPORTED) {
        if (!inst->warned_no_list_uploads)
            dld_log(s3->host, DLD_LOG_WARN, S3_PLUGIN,
                    "the store does not implement ListMultipartUploads/AbortMultipartUpload: unfinished uploads of "
                    "discarded loads are left to a lifecycle rule (AbortIncompleteMultipartUpload)");
        inst->warned_no_list_uploads = true;
        rc = DLD_OK;
    }
    if (!rc)
        dld_log(s3->host, DLD_LOG_INFO, S3_PLUGIN, "load %" PRId64 " of %s discarded: %zu object(s) deleted, %d "
                "upload(s) aborted", load->load_id, dir, c.n, a.aborted);
done:
    for (size_t i = 0; i < c.n; i++)
        free(c.keys[i]);
    free(c.keys);
    free(dir);
    free(mname);
    free(mkey);
    free(prefix);
    if (rc)
        dld_error_prefix(err, "target s3: discard load %" PRId64, load->load_id);
    return rc;
}

static int s_load_is_published(void *p, const struct dld_load *load, int *published, struct dld_error *err)
{
    struct s3_inst *inst = p;
    char *dir = NULL;
    int rc = s_load_dir(inst, load->table, &dir, err);
    if (rc)
        return rc;
    char *name = dld_lake_manifest_name(load->load_id);
    char *key = name ? s_key(dir, name) : NULL;
    bool exists = false;
    rc = key ? s3_head_object(&inst->s3, key, &exists, err) : dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    *published = exists;
    free(dir);
    free(name);
    free(key);
    return rc;
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

DLD_PLUGIN_ENTRY(target_s3);

DLD_PLUGIN_ENTRY(target_s3)
{
    *out = NULL;
    if (host == NULL || host->abi_major != DLD_ABI_MAJOR || !dld_host_usable(host))
        return DLD_ERR_UNSUPPORTED;
    *out = &s_plugin;
    return DLD_OK;
}

/* Upload throughput of target-s3 against the servers of tests/s3 (s3rver
 * behind the SigV4-verifying proxy). run_bench.sh puts plain curl next to it.
 *
 *   s3_upload_bench encode <rows> <out-file>
 *       writes the CSV bytes of <rows> test rows (the bytes both sides send)
 *       and prints how long encoding alone took
 *   s3_upload_bench upload <file> <concurrency> <part_size> <key>
 *       the upload path alone: plugins/target-s3's own upload sink
 *       (s3_upload.c, s3_ops.c, compiled in) fed the file's bytes, already
 *       in memory, in 64 KiB writes as a format writer hands them over.
 *       Timed from the first write to CompleteMultipartUpload (or the
 *       PutObject) returning: part copies, SHA-256 of every part for the
 *       signature, signing, HTTP. A part_size >= the file size makes it one
 *       PutObject, the same request shape as curl's. writes_seconds is the
 *       writes alone (what precedes the request in the one-PutObject case).
 *   s3_upload_bench pipeline <rows> <concurrency> <part_size> <prefix>
 *       the whole target through its vtable (rows → CSV → upload), batches
 *       built before the clock starts
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <deltaload/deltaload.h>

#include "s3_internal.h"
#include "s3_test_util.h"
#include "test_host.h"

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int s_file_write(void *ctx, const void *data, size_t len, struct dld_error *err)
{
    (void)err;
    return fwrite(data, 1, len, ctx) == len ? 0 : DLD_ERR_FATAL;
}

static int s_null_write(void *ctx, const void *data, size_t len, struct dld_error *err)
{
    (void)ctx, (void)data, (void)len, (void)err;
    return 0;
}

static void s_batches(int64_t rows, struct ArrowSchema **schemas, struct ArrowArray **arrays, int64_t *nb)
{
    int64_t batch = 50000;
    *nb = (rows + batch - 1) / batch;
    *schemas = calloc((size_t)*nb, sizeof(**schemas));
    *arrays = calloc((size_t)*nb, sizeof(**arrays));
    for (int64_t i = 0; i < *nb; i++)
        s3t_batch(i * batch, i * batch + batch <= rows ? batch : rows - i * batch, &(*schemas)[i], &(*arrays)[i]);
}

static void s_release(struct ArrowSchema *schemas, struct ArrowArray *arrays, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++)
        dld_arrow_release(&schemas[i], &arrays[i]);
    free(schemas);
    free(arrays);
}

/* CSV of the test rows into a file (or nowhere, to time encoding alone) */
static double s_encode(struct ArrowSchema *schemas, struct ArrowArray *arrays, int64_t nb, FILE *out)
{
    struct dld_error err;
    dld_error_init(&err);
    struct dld_sink sink = {.ctx = out, .write = out ? s_file_write : s_null_write};
    double t0 = s_now();
    struct dld_format_writer *w = dld_format_writer_new("csv", NULL, &schemas[0], &sink, NULL, &err);
    for (int64_t i = 0; w && i < nb; i++)
        dld_format_writer_write(w, &arrays[i], &err);
    if (w)
        dld_format_writer_finish(w, &err);
    dld_format_writer_destroy(w);
    return s_now() - t0;
}

static int s_cmd_encode(int64_t rows, const char *path)
{
    struct ArrowSchema *schemas;
    struct ArrowArray *arrays;
    int64_t nb;
    s_batches(rows, &schemas, &arrays, &nb);
    double secs = s_encode(schemas, arrays, nb, NULL);
    FILE *f = fopen(path, "wb");
    if (!f)
        return 1;
    s_encode(schemas, arrays, nb, f);
    long bytes = ftell(f);
    fclose(f);
    s_release(schemas, arrays, nb);
    printf("csv-encode rows=%lld bytes=%ld seconds=%.3f\n", (long long)rows, bytes, secs);
    return 0;
}

static char *s_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n);
    *len = b ? fread(b, 1, (size_t)n, f) : 0;
    fclose(f);
    return b;
}

/* server-side milliseconds the proxy has spent on one operation so far
 * (servers.js msByOp: last request byte to last answer byte) */
static double s_server_ms(const struct s3t_servers *srv, const char *op)
{
    char *text = s3t_proxy(srv, "GET", "stats", NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    cJSON *x = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "msByOp"), op);
    double ms = cJSON_IsNumber(x) ? x->valuedouble : 0;
    cJSON_Delete(j);
    return ms;
}

static int s_cmd_upload(const struct s3t_servers *srv, const char *path, int concurrency, int64_t part_size,
                        const char *key)
{
    size_t len;
    char *data = s_slurp(path, &len);
    if (!data) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    struct dld_error err;
    dld_error_init(&err);
    struct dld_aws_credentials_options co = {.access_key_id = srv->akid, .secret_access_key = srv->secret};
    struct s3_ctx s3 = {.host = dld_test_host(), .bucket = "bench", .prefix = "", .path_style = true,
                        .part_size = part_size, .concurrency = concurrency};
    s3.creds = dld_aws_credentials_provider_new(&co, &err);
    struct dld_aws_client_options o = {.service = "s3", .region = "us-east-1", .endpoint = srv->endpoint,
                                       .credentials = s3.creds, .sign_flags = DLD_SIGV4_S3,
                                       .host = dld_test_host(), .log_name = "s3"};
    s3.client = s3.creds ? dld_aws_client_new(&o, &err) : NULL;
    if (!s3.client) {
        fprintf(stderr, "client: %s\n", err.message);
        return 1;
    }
    double complete0 = s_server_ms(srv, "CompleteMultipartUpload");
    double t0 = s_now();
    struct s3_upload *u = s3_upload_new(&s3, key, "text/csv", &err);
    int rc = u ? DLD_OK : err.code;
    struct dld_sink sink = u ? s3_upload_sink(u) : (struct dld_sink){0};
    for (size_t off = 0; !rc && off < len; off += 65536)
        rc = sink.write(sink.ctx, data + off, len - off < 65536 ? len - off : 65536, &err);
    /* writes alone (copies into the part buffer, parts handed over): the
     * rest of secs is what happens after the writer's last byte */
    double writes = s_now() - t0;
    if (!rc)
        rc = s3_upload_finish(u, &err);
    double secs = s_now() - t0;
    int parts = u ? s3_upload_parts(u) : 0;
    s3_upload_destroy(u);
    if (rc) {
        fprintf(stderr, "upload: %s\n", err.message);
        return 1;
    }
    printf("target-s3 upload path bytes=%zu parts=%d seconds=%.3f MBps=%.1f writes_seconds=%.3f "
           "server_complete_seconds=%.3f\n",
           len, parts, secs, (double)len / secs / 1e6, writes,
           (s_server_ms(srv, "CompleteMultipartUpload") - complete0) / 1e3);
    dld_aws_client_destroy(s3.client);
    dld_aws_credentials_provider_destroy(s3.creds);
    free(data);
    return 0;
}

static int s_cmd_pipeline(const struct s3t_servers *srv, int64_t rows, const char *concurrency, const char *part_size,
                          const char *prefix)
{
    const struct dld_plugin *plugin;
    void *dl = dld_test_plugin_load("target", "s3", &plugin);
    if (!dl)
        return 1;
    const struct dld_target_vtable *vt = plugin->vtable;
    const char *opts[] = {"bucket", "bench", "prefix", prefix, "endpoint", srv->endpoint, "region", "us-east-1",
                          "format", "csv", "access_key_id", srv->akid, "secret_access_key", srv->secret,
                          "concurrency", concurrency, "part_size", part_size, "max_file_size", "100000000000", NULL};
    struct dld_error err;
    dld_error_init(&err);
    void *inst;
    if (vt->open(dld_test_host(), opts, &inst, &err)) {
        fprintf(stderr, "open: %s\n", err.message);
        return 1;
    }
    struct ArrowSchema *schemas;
    struct ArrowArray *arrays;
    int64_t nb;
    s_batches(rows, &schemas, &arrays, &nb);
    struct dld_table t = {.struct_size = sizeof(t), .target_table_name = "bench", .source_schema = "s",
                          .source_table = "bench", .output_prefix = ""};
    struct dld_load load = {.struct_size = sizeof(load), .table = &t, .load_id = 1, .mode = DLD_MODE_FULL};
    void *h;
    struct dld_load_stats st = {.struct_size = sizeof(st)};
    double t0 = s_now();
    int rc = vt->load_begin(inst, &load, &h, &err);
    for (int64_t i = 0; !rc && i < nb; i++)
        rc = vt->load_write(h, &schemas[i], &arrays[i], &err);
    if (!rc)
        rc = vt->load_finish(h, &st, &err);
    double secs = s_now() - t0;
    if (rc) {
        fprintf(stderr, "load: %s\n", err.message);
        return 1;
    }
    vt->load_free(h);
    printf("target-s3 whole pipeline (rows→CSV→upload) bytes=%lld seconds=%.3f MBps=%.1f\n", (long long)st.bytes,
           secs, (double)st.bytes / secs / 1e6);
    s_release(schemas, arrays, nb);
    vt->close(inst);
    dld_test_plugin_unload(dl);
    return 0;
}

int main(int argc, char **argv)
{
    struct s3t_servers srv;
    if (argc == 4 && !strcmp(argv[1], "encode"))
        return s_cmd_encode(atoll(argv[2]), argv[3]);
    if (argc == 6 && !strcmp(argv[1], "upload"))
        return s3t_servers(&srv) ? s_cmd_upload(&srv, argv[2], atoi(argv[3]), atoll(argv[4]), argv[5]) : 1;
    if (argc == 6 && !strcmp(argv[1], "pipeline"))
        return s3t_servers(&srv) ? s_cmd_pipeline(&srv, atoll(argv[2]), argv[3], argv[4], argv[5]) : 1;
    fprintf(stderr, "usage: %s encode <rows> <out-file>\n"
                    "       %s upload <file> <concurrency> <part_size> <key>\n"
                    "       %s pipeline <rows> <concurrency> <part_size> <prefix>\n",
            argv[0], argv[0], argv[0]);
    return 2;
}

/* Upload throughput of target-s3 (rows → CSV → parallel multipart) against
 * the servers of tests/s3 (s3rver behind the verifying proxy). Prints
 * bytes, seconds and MB/s; run_bench.sh puts plain curl next to it.
 * Usage: s3_upload_bench <rows> <concurrency> <part_size> <prefix> */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <deltaload/deltaload.h>

#include "s3_test_util.h"
#include "test_host.h"

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int s_null_write(void *ctx, const void *data, size_t len, struct dld_error *err)
{
    (void)ctx, (void)data, (void)len, (void)err;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s <rows> <concurrency> <part_size> <prefix>\n", argv[0]);
        return 2;
    }
    int64_t rows = atoll(argv[1]);
    struct s3t_servers srv;
    if (!s3t_servers(&srv))
        return 1;
    const struct dld_plugin *plugin;
    void *dl = dld_test_plugin_load("target", "s3", &plugin);
    if (!dl)
        return 1;
    const struct dld_target_vtable *vt = plugin->vtable;
    const char *opts[] = {"bucket", "bench", "prefix", argv[4], "endpoint", srv.endpoint, "region", "us-east-1",
                          "format", "csv", "access_key_id", srv.akid, "secret_access_key", srv.secret,
                          "concurrency", argv[2], "part_size", argv[3], "max_file_size", "100000000000", NULL};
    struct dld_error err;
    dld_error_init(&err);
    void *inst;
    if (vt->open(dld_test_host(), opts, &inst, &err)) {
        fprintf(stderr, "open: %s\n", err.message);
        return 1;
    }
    /* batches are built before the clock starts: we time the target, not the source */
    int64_t batch = 50000, nb = (rows + batch - 1) / batch;
    struct ArrowSchema *schemas = calloc((size_t)nb, sizeof(*schemas));
    struct ArrowArray *arrays = calloc((size_t)nb, sizeof(*arrays));
    for (int64_t i = 0; i < nb; i++)
        s3t_batch(i * batch, i * batch + batch <= rows ? batch : rows - i * batch, &schemas[i], &arrays[i]);
    /* the CSV encoding alone, into a sink that drops the bytes: the part of
     * the time that is not upload */
    struct dld_sink null_sink = {.ctx = NULL, .write = s_null_write};
    double e0 = s_now();
    struct dld_format_writer *w = dld_format_writer_new("csv", NULL, &schemas[0], &null_sink, NULL, &err);
    for (int64_t i = 0; w && i < nb; i++)
        dld_format_writer_write(w, &arrays[i], &err);
    if (w)
        dld_format_writer_finish(w, &err);
    dld_format_writer_destroy(w);
    double encode_secs = s_now() - e0;
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
    printf("target-s3 bytes=%lld seconds=%.3f MBps=%.1f (csv encoding alone %.3f s) key=%s/s/bench/LOAD00000001-0001.csv\n",
           (long long)st.bytes, secs, st.bytes / secs / 1e6, encode_secs, argv[4]);
    for (int64_t i = 0; i < nb; i++)
        dld_arrow_release(&schemas[i], &arrays[i]);
    free(schemas);
    free(arrays);
    vt->close(inst);
    dld_test_plugin_unload(dl);
    return 0;
}

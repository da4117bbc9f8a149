/* target-s3 driven directly through its vtable (dlopen'ed .so) against
 * s3rver behind the signature-verifying, fault-injecting proxy
 * (servers.js). Every request the plugin makes is checked by an
 * independent SigV4 implementation; the proxy's counters show what
 * happened on the wire (parts, faults, rejected requests, open uploads). */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <deltaload/deltaload.h>

#include "s3_test_util.h"
#include "test_host.h"

static struct s3t_servers g_srv;
/* every key of this run is under "<g_run>/": runs against long-lived test
 * servers never meet each other's objects (manifests are create-only) */
static char g_run[64];

/* "<g_run>/<rel>", in one of a few rotating buffers */
static const char *K(const char *rel)
{
    static char buf[8][512];
    static int next;
    char *b = buf[next++ % 8];
    snprintf(b, sizeof buf[0], "%s/%s", g_run, rel);
    return b;
}
static void *g_dl;
static const struct dld_plugin *g_plugin;
static const struct dld_target_vtable *g_vt;

static void s_setup(void)
{
    ck_assert_msg(s3t_servers(&g_srv), "s3 test servers are not running");
    g_dl = dld_test_plugin_load("target", "s3", &g_plugin);
    ck_assert_msg(g_dl != NULL, "cannot load dld-target-s3.so");
    g_vt = g_plugin->vtable;
    free(s3t_proxy(&g_srv, "DELETE", "faults", NULL));
    free(s3t_proxy(&g_srv, "POST", "skew", "{\"ms\":0}"));
}

static void s_teardown(void)
{
    free(s3t_proxy(&g_srv, "DELETE", "faults", NULL));
    dld_test_plugin_unload(g_dl);
}

/* options: the common ones plus extra key/value pairs (NULL-terminated) */
static int s_open(void **inst, struct dld_error *err, const char *prefix, ...)
{
    const char *opts[64];
    int n = 0;
    /* the host passes each key once; dld_opt_get takes the first: extras first */
    va_list ap;
    va_start(ap, prefix);
    const char *k;
    bool have_key = false;
    while ((k = va_arg(ap, const char *)) != NULL && n < 40) {
        if (!strcmp(k, "access_key_id"))
            have_key = true;
        opts[n++] = k;
        opts[n++] = va_arg(ap, const char *);
    }
    va_end(ap);
    opts[n++] = "format"; /* content compared byte for byte with the CSV writer's */
    opts[n++] = "csv";
    opts[n++] = "bucket";
    opts[n++] = "lake";
    opts[n++] = "prefix";
    opts[n++] = K(prefix);
    opts[n++] = "endpoint";
    opts[n++] = g_srv.endpoint;
    opts[n++] = "region";
    opts[n++] = "us-east-1";
    opts[n++] = "part_size";
    opts[n++] = "5242880";
    if (!have_key) {
        opts[n++] = "access_key_id";
        opts[n++] = g_srv.akid;
        opts[n++] = "secret_access_key";
        opts[n++] = g_srv.secret;
    }
    opts[n] = NULL;
    dld_error_init(err);
    return g_vt->open(dld_test_host(), opts, inst, err);
}

static struct dld_table s_table = {
    .struct_size = sizeof(struct dld_table), .target_table_name = "orders", .source_schema = "sales",
    .source_table = "orders", .filter_column = "id", .filter_operator = "gte", .output_prefix = "raw",
    .active = 1,
};

/* a load as the engine sends it until it hands out uids (ABI 1.0 names) */
static struct dld_load s_load(int64_t id)
{
    return (struct dld_load){.struct_size = sizeof(struct dld_load), .table = &s_table, .load_id = id,
                             .mode = DLD_MODE_DELTA, .low = "0", .low_inclusive = 1, .high = "999999999",
                             .started_ms = 1};
}

/* a load with a uid (ABI 1.1): the uid is in its file and manifest names */
static struct dld_load s_load_uid(int64_t id, const char *uid)
{
    struct dld_load l = s_load(id);
    l.load_uid = uid;
    l.lease_token = 7;
    return l;
}

/* writes `total` rows in batches of `batch` (load_begin .. load_write) */
static int s_write(void *inst, const struct dld_load *load, int64_t total, int64_t batch, void **h,
                   struct dld_error *err)
{
    *h = NULL;
    int rc = g_vt->load_begin(inst, load, h, err);
    for (int64_t first = 0; !rc && first < total; first += batch) {
        struct ArrowSchema schema;
        struct ArrowArray array;
        s3t_batch(first, first + batch <= total ? batch : total - first, &schema, &array);
        rc = g_vt->load_write(*h, &schema, &array, err);
        dld_arrow_release(&schema, &array);
    }
    return rc;
}

/* writes `total` rows in batches of `batch`, finishes, publishes when
 * publish is set, frees the handle */
static int s_run_load(void *inst, const struct dld_load *load, int64_t total, int64_t batch, bool publish,
                      struct dld_load_stats *st, struct dld_error *err)
{
    void *h = NULL;
    int rc = s_write(inst, load, total, batch, &h, err);
    struct dld_load_stats local = {.struct_size = sizeof(local)};
    if (!rc)
        rc = g_vt->load_finish(h, st ? st : &local, err);
    if (!rc && publish)
        rc = g_vt->load_publish(h, err);
    if (h)
        g_vt->load_free(h);
    return rc;
}

static int s_run(void *inst, int64_t load_id, int64_t total, int64_t batch, bool publish, struct dld_load_stats *st,
                 struct dld_error *err)
{
    struct dld_load load = s_load(load_id);
    return s_run_load(inst, &load, total, batch, publish, st, err);
}

static void s_check_object(const char *key, int64_t rows, int64_t batch)
{
    char *body = NULL;
    size_t len = 0, want_len = 0;
    int status = s3t_get(&g_srv, "lake", key, &body, &len);
    ck_assert_msg(status == 200, "GET %s: HTTP %d", key, status);
    char *want = s3t_expected_csv(rows, batch, &want_len);
    ck_assert_msg(len == want_len, "%s: %zu bytes, expected %zu", key, len, want_len);
    ck_assert_msg(memcmp(body, want, len) == 0, "%s: content differs", key);
    free(body);
    free(want);
}

static int s_published_load(void *inst, const struct dld_load *load)
{
    int published = -1;
    struct dld_error err;
    dld_error_init(&err);
    ck_assert_msg(g_vt->load_is_published(inst, load, &published, &err) == DLD_OK, "%s", err.message);
    return published;
}

static int s_published(void *inst, int64_t id)
{
    struct dld_load load = s_load(id);
    return s_published_load(inst, &load);
}

/* the manifest at key, parsed (NULL when absent) */
static cJSON *s_manifest(const char *key)
{
    char *m = NULL;
    size_t len = 0;
    int status = s3t_get(&g_srv, "lake", key, &m, &len);
    if (status == 404) {
        free(m);
        return NULL;
    }
    ck_assert_msg(status == 200, "GET %s: HTTP %d", key, status);
    cJSON *j = cJSON_ParseWithLength(m, len);
    ck_assert_msg(j != NULL, "%s is not JSON: %.*s", key, (int)len, m);
    free(m);
    return j;
}

static const char *s_status(const cJSON *manifest)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(manifest, "status"));
    return s ? s : "";
}

/* number of lines of a newline-separated listing */
static int s_count_lines(const char *text)
{
    int n = 0;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    return n;
}

START_TEST(test_small_file_put_object)
{
    void *inst;
    struct dld_error err;
    ck_assert_msg(s_open(&inst, &err, "t-small", "sse", "AES256", "storage_class", "STANDARD",
                         "expected_bucket_owner", "123456789012", NULL) == DLD_OK, "%s", err.message);
    int64_t rejected = s3t_stat(&g_srv, "rejected");
    int64_t creates = s3t_stat(&g_srv, "byOp.CreateMultipartUpload");
    ck_assert_int_eq(s_published(inst, 1), 0);
    struct dld_load_stats st = {.struct_size = sizeof(st)};
    ck_assert_msg(s_run(inst, 1, 1000, 300, true, &st, &err) == DLD_OK, "%s", err.message);
    ck_assert_int_eq(st.rows, 1000);
    ck_assert_int_eq(st.files, 1);
    s_check_object(K("t-small/raw/sales/orders/LOAD00000001-0001.csv"), 1000, 300);
    ck_assert_int_eq(s_published(inst, 1), 1);
    /* the manifest names the file with its rows and bytes */
    char *m = NULL;
    size_t mlen;
    ck_assert_int_eq(s3t_get(&g_srv, "lake", K("t-small/raw/sales/orders/_manifests/LOAD00000001.json"), &m, &mlen), 200);
    cJSON *j = cJSON_Parse(m);
    ck_assert_ptr_nonnull(j);
    cJSON *f0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "files"), 0);
    ck_assert_str_eq(cJSON_GetObjectItem(f0, "name")->valuestring, "LOAD00000001-0001.csv");
    ck_assert_int_eq((int64_t)cJSON_GetObjectItem(f0, "rows")->valuedouble, 1000);
    ck_assert_int_eq((int64_t)cJSON_GetObjectItem(f0, "bytes")->valuedouble, st.bytes);
    cJSON_Delete(j);
    free(m);
    ck_assert_int_eq(s3t_stat(&g_srv, "byOp.CreateMultipartUpload"), creates); /* one PutObject, no multipart */
    ck_assert_int_eq(s3t_stat(&g_srv, "rejected"), rejected);
    g_vt->close(inst);
}
END_TEST

START_TEST(test_multipart_many_parts)
{
    void *inst;
    struct dld_error err;
    ck_assert_msg(s_open(&inst, &err, "t-multi", "concurrency", "4", NULL) == DLD_OK, "%s", err.message);
    int64_t parts = s3t_stat(&g_srv, "byOp.UploadPart");
    int64_t rejected = s3t_stat(&g_srv, "rejected");
    struct dld_load_stats st = {.struct_size = sizeof(st)};
    ck_assert_msg(s_run(inst, 2, 600000, 20000, true, &st, &err) == DLD_OK, "%s", err.message);
    ck_assert_int_eq(st.files, 1);
    int64_t sent = s3t_stat(&g_srv, "byOp.UploadPart") - parts;
    ck_assert_int_eq(sent, (st.bytes + 5242879) / 5242880);
    ck_assert_int_ge(sent, 8);
    s_check_object(K("t-multi/raw/sales/orders/LOAD00000002-0001.csv"), 600000, 20000);
    ck_assert_int_eq(s3t_stat(&g_srv, "openUploads"), 0);
    ck_assert_int_eq(s3t_stat(&g_srv, "rejected"), rejected);
    g_vt->close(inst);
}
END_TEST

START_TEST(test_roll_files_by_size)
{
    void *inst;
    struct dld_error err;
    ck_assert_msg(s_open(&inst, &err, "t-roll", "max_file_size", "100000", NULL) == DLD_OK, "%s", err.message);
    struct dld_load_stats st = {.struct_size = sizeof(st)};
    ck_assert_msg(s_run(inst, 3, 5000, 500, true, &st, &err) == DLD_OK, "%s", err.message);
    ck_assert_int_ge(st.files, 3);
    char *keys = s3t_list(&g_srv, "lake", K("t-roll/raw/sales/orders/"));
    for (int i = 1; i <= st.files; i++) {
        char name[64];
        snprintf(name, sizeof(name), "LOAD00000003-%04d.csv\n", i);
        ck_assert_msg(strstr(keys, name) != NULL, "%s missing from\n%s", name, keys);
    }
    free(keys);
    g_vt->close(inst);
}
END_TEST

START_TEST(test_retries_succeed)
{
    void *inst;
    struct dld_error err;
    ck_assert_msg(s_open(&inst, &err, "t-retry", "retry_base_delay_ms", "20", NULL) == DLD_OK, "%s", err.message);
    free(s3t_proxy(&g_srv, "POST", "faults",
                   "[{\"op\":\"UploadPart\",\"action\":\"status\",\"status\":503,\"code\":\"SlowDown\",\"count\":2},"
                   "{\"op\":\"UploadPart\",\"action\":\"reset\",\"count\":1},"
                   "{\"op\":\"CreateMultipartUpload\",\"action\":\"status\",\"status\":500,\"count\":1},"
                   "{\"op\":\"CompleteMultipartUpload\",\"action\":\"status\",\"status\":500,\"code\":\"InternalError\",\"count\":1},"
                   "{\"op\":\"PutObject\",\"action\":\"status\",\"status\":429,\"code\":\"TooManyRequests\",\"count\":1}]"));
    int64_t faults = s3t_stat(&g_srv, "faults");
    ck_assert_msg(s_run(inst, 4, 150000, 10000, true, NULL, &err) == DLD_OK, "%s", err.message);
    ck_assert_int_eq(s3t_stat(&g_srv, "faults") - faults, 6);
    ck_assert_int_eq(s3t_stat(&g_srv, "faultsPending"), 0);
    s_check_object(K("t-retry/raw/sales/orders/LOAD00000004-0001.csv"), 150000, 10000);
    ck_assert_int_eq(s_published(inst, 4), 1);
    g_vt->close(inst);
}
END_TEST

/* The answer to CreateMultipartUpload lost after the store created the
 * upload: the target aborts that orphan before asking again, so the load
 * commits and no upload stays open under the published file's key. */
START_TEST(test_create_upload_answer_lost)
{
    void *inst;
    struct dld_error err;
    ck_assert_msg(s_open(&inst, &err, "t-mpulost", "retry_base_delay_ms", "20", NULL) == DLD_OK, "%s", err.message);
    int64_t open0 = s3t_stat(&g_srv, "openUploads");
    free(s3t_proxy(&g_srv, "POST", "faults", "[{\"op\":\"CreateMultipartUpload\",\"action\":\"drop\",\"count\":1}]"));
    int64_t faults = s3t_stat(&g_srv, "faults");
    int64_t aborts = s3t_stat(&g_srv, "byOp.AbortMultipartUpload");
    ck_assert_msg(s_run(inst, 6, 150000, 10000, true, NULL, &err) == DLD_OK, "%s", err.message);
    ck_assert_int_eq(s3t_stat(&g_srv, "faults") - faults, 1);
    ck_assert_int_eq(s3t_stat(&g_srv, "byOp.AbortMultipartUpload") - aborts, 1);
    ck_assert_int_eq(s3t_stat(&g_srv, "openUploads"), open0);
    s_check_object(K("t-mpulost/raw/sales/orders/LOAD00000006-0001.csv"), 150000, 10000);
    ck_assert_int_eq(s_published(inst, 6), 1);
    g_vt->close(inst);
}
END_TEST

/* An upload left open under one of a load's names (here: a second writer
 * of the same load uid that never finishes, as a request lost in flight
 * would leave one) is aborted by publish: nothing stays open beside the
 * published file. */
START_TEST(test_publish_aborts_orphaned_uploads)
{
    void *inst;
    struct dld_error err;
    ck_assert_msg(s_open(&inst, &err, "t-orphan", NULL) == DLD_OK, "%s", err.message);
    int64_t open0 = s3t_stat(&g_srv, "openUploads");
    struct dld_load load = s_load_uid(7, "0123456789abcdef");
    void *stray = NULL;
    /* 150,000 rows: past one part, so the stray writer has an upload open */
    ck_assert_msg(s_write(inst, &load, 150000, 10000, &stray, &err) == DLD_OK, "%s", err.message);
    ck_assert_int_eq(s3t_stat(&g_srv, "openUploads"), open0 + 1);
    int64_t aborts = s3t_stat(&g_srv, "byOp.AbortMultipartUpload");
    ck_assert_msg(s_run_load(inst, &load, 150000, 10000, true, NULL, &err) == DLD_OK, "%s", err.message);
    ck_assert_int_eq(s3t_stat(&g_srv, "byOp.AbortMultipartUpload") - aborts, 1);
    ck_assert_int_eq(s3t_stat(&g_srv, "openUploads"), open0);
    ck_assert_int_eq(s_published_load(inst, &load), 1);
    g_vt->load_free(stray); /* its own abort now finds nothing: a warning, no harm */
    ck_assert_int_eq(s3t_stat(&g_srv, "openUploads"), open0);
    g_vt->close(inst);
}
END_TEST

START_TEST(test_retries_give_up)
{
    void *inst;
    struct dld_error err;
    ck_assert_msg(s_open(&inst, &err, "t-giveup", "max_attempts", "3", "retry_base_delay_ms", "10", NULL) == DLD_OK,
                  "%s", err.message);
    free(s3t_proxy(&g_srv, "POST", "faults",
                   "[{\"op\":\"UploadPart\",\"action\":\"status\",\"status\":503,\"code\":\"ServiceUnavailable\","
                   "\"count\":1000}]"));
    int rc = s_run(inst, 5, 150000, 10000, true, NULL, &err);
    ck_assert_int_eq(rc, DLD_ERR_RETRY);
    ck_assert_int_eq(err.retryable, 1);
    ck_assert_int_eq(err.http_status, 503);
    ck_assert_str_eq(err.upstream_code, "ServiceUnavailable");
    ck_assert_msg(strstr(err.message, "gave up after 3 attempts") != NULL, "%s", err.message);
    free(s3t_proxy(&g_srv, "DELETE", "faults", NULL));
    /* nothing visible, nothing published, the upload aborted */
    ck_assert_int_eq(s3t_get(&g_srv, "lake", K("t-giveup/raw/sales/orders/LOAD00000005-0001.csv"), NULL, NULL), 404);
    ck_assert_int_eq(s_published(inst, 5), 0);
    ck_assert_int_eq(s3t_stat(&g_srv, "openUploads"), 0);
    g_vt->close(inst);
}
END_TEST

START_TEST(test_bad_credentials)
{
    void *inst;
    struct dld_error err;
    ck_assert_int_eq(s_open(&inst, &err, "t-badcreds", "access_key_id", g_srv.akid, "secret_access_key",
                            "not-the-secret", NULL), DLD_OK);
    int64_t rejected = s3t_stat(&g_srv, "rejected");
    ck_assert_int_eq(s_run(inst, 1, 10, 10, true, NULL, &err), DLD_ERR_AUTH);
    ck_assert_str_eq(err.upstream_code, "SignatureDoesNotMatch");
    ck_assert_int_eq(err.http_status, 403);
    ck_assert_msg(strstr(err.message, "not-the-secret") == NULL, "secret leaked into: %s", err.message);
    ck_assert_int_eq(s3t_stat(&g_srv, "rejected"), rejected + 1); /* an auth failure is not retried */
    g_vt->close(inst);

    ck_assert_int_eq(s_open(&inst, &err, "t-badcreds", "access_key_id", "AKIDUNKNOWN", "secret_access_key", "x",
                            NULL), DLD_OK);
    ck_assert_int_eq(s_run(inst, 1, 10, 10, true, NULL, &err), DLD_ERR_AUTH);
    ck_assert_str_eq(err.upstream_code, "InvalidAccessKeyId");
    g_vt->close(inst);

    /* temporary keys need their session token */
    ck_assert_int_eq(s_open(&inst, &err, "t-token", "access_key_id", "ASIADELTALOADTEMP", "secret_access_key",
                            "temporary/secret/key/for/session/tests", NULL), DLD_OK);
    ck_assert_int_eq(s_run(inst, 1, 10, 10, true, NULL, &err), DLD_ERR_AUTH);
    ck_assert_str_eq(err.upstream_code, "InvalidToken");
    g_vt->close(inst);
    ck_assert_int_eq(s_open(&inst, &err, "t-token", "access_key_id", "ASIADELTALOADTEMP", "secret_access_key",
                            "temporary/secret/key/for/session/tests", "session_token", "session-token-for-tests==",
                            NULL), DLD_OK);
    ck_assert_msg(s_run(inst, 1, 10, 10, true, NULL, &err) == DLD_OK, "%s", err.message);
    g_vt->close(inst);
}
END_TEST

START_TEST(test_clock_skew_and_timeouts)
{
    void *inst;
    struct dld_error err;
    ck_assert_msg(s_open(&inst, &err, "t-skew", "request_timeout_ms", "1000", "retry_base_delay_ms", "10", NULL) ==
                      DLD_OK, "%s", err.message);
    /* the server's clock is 40 minutes ahead of ours */
    free(s3t_proxy(&g_srv, "POST", "skew", "{\"ms\":2400000}"));
    ck_assert_msg(s_run(inst, 1, 100, 100, true, NULL, &err) == DLD_OK, "%s", err.message);
    free(s3t_proxy(&g_srv, "POST", "skew", "{\"ms\":0}"));
    g_vt->close(inst);

    ck_assert_msg(s_open(&inst, &err, "t-timeout", "request_timeout_ms", "1000", "retry_base_delay_ms", "10", NULL) ==
                      DLD_OK, "%s", err.message);
    free(s3t_proxy(&g_srv, "POST", "faults", "[{\"op\":\"PutObject\",\"action\":\"delay\",\"ms\":2500,\"count\":1}]"));
    int64_t faults = s3t_stat(&g_srv, "faults");
    ck_assert_msg(s_run(inst, 1, 100, 100, true, NULL, &err) == DLD_OK, "%s", err.message);
    ck_assert_int_eq(s3t_stat(&g_srv, "faults") - faults, 1);
    s_check_object(K("t-timeout/raw/sales/orders/LOAD00000001-0001.csv"), 100, 100);
    g_vt->close(inst);
}
END_TEST

/* A process killed in the middle of a load leaves a completed file and an
 * open multipart upload; recovery (is_published → discard) removes both and
 * leaves the other loads alone. _i = 0: legacy names (no uid; discarding a
 * published load unpublishes it); _i = 1: loads with uids (the discard
 * claims the manifest slot as aborted; a published load is refused). */
START_TEST(test_killed_run_recovered)
{
    const bool uid = _i == 1;
    const char *prefix = uid ? "t-crash-uid" : "t-crash";
    /* the dead attempt and the retried window are different loads with their own uids */
    const char *uid6 = uid ? "6666666666666666" : NULL, *uid7 = uid ? "7777777777777777" : NULL,
               *uid7b = uid ? "7777777777777778" : NULL;
    char dir[160], name7[96], name6[96], man6[96], list7[200];
    snprintf(dir, sizeof dir, "%s/raw/sales/orders/", K(prefix));
    snprintf(list7, sizeof list7, "%sLOAD00000007", dir);
    if (uid) {
        snprintf(name7, sizeof name7, "LOAD00000007-%s-0001.csv", uid7);
        snprintf(name6, sizeof name6, "LOAD00000006-%s-0001.csv", uid6);
        snprintf(man6, sizeof man6, "_manifests/LOAD00000006-%s.json", uid6);
    } else {
        snprintf(name7, sizeof name7, "LOAD00000007-0001.csv");
        snprintf(name6, sizeof name6, "LOAD00000006-0001.csv");
        snprintf(man6, sizeof man6, "_manifests/LOAD00000006.json");
    }
    struct dld_load load6 = s_load_uid(6, uid6), load7 = s_load_uid(7, uid7), load7b = s_load_uid(7, uid7b);
    void *inst;
    struct dld_error err;
    ck_assert_msg(s_open(&inst, &err, prefix, NULL) == DLD_OK, "%s", err.message);
    ck_assert_msg(s_run_load(inst, &load6, 1000, 1000, true, NULL, &err) == DLD_OK, "%s", err.message);
    g_vt->close(inst);

    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* the doomed attempt: file 1 completes (~6 MB), file 2 gets a part
         * uploaded, then the process dies without cleaning anything up */
        if (s_open(&inst, &err, prefix, "max_file_size", "6000000", NULL))
            _exit(3);
        void *h;
        if (g_vt->load_begin(inst, &load7, &h, &err))
            _exit(4);
        int64_t completed = s3t_stat(&g_srv, "byOp.CompleteMultipartUpload");
        for (int64_t first = 0; first < 600000; first += 10000) {
            struct ArrowSchema schema;
            struct ArrowArray array;
            s3t_batch(first, 10000, &schema, &array);
            if (g_vt->load_write(h, &schema, &array, &err))
                _exit(5);
            dld_arrow_release(&schema, &array);
            /* die once file 1 is complete and file 2's upload is open */
            if (s3t_stat(&g_srv, "byOp.CompleteMultipartUpload") > completed && s3t_stat(&g_srv, "openUploads") > 0) {
                sleep(1); /* let a part in flight land */
                _exit(0);
            }
        }
        _exit(6);
    }
    int status;
    waitpid(pid, &status, 0);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed: %d", status);
    char *keys = s3t_list(&g_srv, "lake", list7);
    ck_assert_msg(strstr(keys, name7) != NULL, "the dead attempt left no file: %s", keys);
    free(keys);
    ck_assert_int_ge(s3t_stat(&g_srv, "openUploads"), 1);

    ck_assert_msg(s_open(&inst, &err, prefix, NULL) == DLD_OK, "%s", err.message);
    ck_assert_int_eq(s_published_load(inst, &load7), 0);
    ck_assert_msg(g_vt->load_discard(inst, &load7, &err) == DLD_OK, "%s", err.message);
    keys = s3t_list(&g_srv, "lake", dir);
    /* no data file of load 7 is left (with uids, its aborted manifest stays) */
    ck_assert_msg(strstr(keys, "orders/LOAD00000007") == NULL, "left over after discard: %s", keys);
    ck_assert_msg(strstr(keys, name6) && strstr(keys, man6), "discard touched another load: %s", keys);
    free(keys);
    ck_assert_int_eq(s3t_stat(&g_srv, "openUploads"), 0);
    if (uid) {
        char mkey[256];
        snprintf(mkey, sizeof mkey, "%s_manifests/LOAD00000007-%s.json", dir, uid7);
        cJSON *m = s_manifest(mkey);
        ck_assert_msg(m != NULL, "no aborted manifest for the discarded load");
        ck_assert_str_eq(s_status(m), "aborted");
        ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(m, "files")), 0);
        cJSON_Delete(m);
    }
    /* idempotent */
    ck_assert_msg(g_vt->load_discard(inst, &load7, &err) == DLD_OK, "%s", err.message);
    ck_assert_int_eq(s_published_load(inst, &load7), 0);
    /* the retried window is loaded once (with uids: as a new load) */
    const struct dld_load *retry = uid ? &load7b : &load7;
    ck_assert_msg(s_run_load(inst, retry, 2000, 1000, true, NULL, &err) == DLD_OK, "%s", err.message);
    char key[256];
    snprintf(key, sizeof key, "%sLOAD00000007-%s%s0001.csv", dir, uid ? uid7b : "", uid ? "-" : "");
    s_check_object(key, 2000, 1000);
    ck_assert_int_eq(s_published_load(inst, retry), 1);
    ck_assert_int_eq(s_published_load(inst, &load6), 1);
    if (uid) {
        /* a published load is not discarded: refused, nothing deleted */
        ck_assert_int_eq(g_vt->load_discard(inst, &load6, &err), DLD_ERR_CONFLICT);
        ck_assert_int_eq(s_published_load(inst, &load6), 1);
        keys = s3t_list(&g_srv, "lake", dir);
        ck_assert_msg(strstr(keys, name6) && strstr(keys, man6), "a refused discard deleted: %s", keys);
        free(keys);
    } else {
        /* a legacy load has no slot to claim: discarding it unpublishes it first */
        ck_assert_msg(g_vt->load_discard(inst, &load6, &err) == DLD_OK, "%s", err.message);
        ck_assert_int_eq(s_published_load(inst, &load6), 0);
    }
    g_vt->close(inst);
}
END_TEST

/* With a uid (ABI 1.1) the uid is in every name; the manifest says
 * "published" and lists the file; is_published knows the load by its uid. */
START_TEST(test_uid_names)
{
    void *inst;
    struct dld_error err;
    ck_assert_msg(s_open(&inst, &err, "t-uid", NULL) == DLD_OK, "%s", err.message);
    struct dld_load load = s_load_uid(1, "0123456789abcdef"), other = s_load_uid(1, "fedcba9876543210");
    ck_assert_int_eq(s_published_load(inst, &load), 0);
    struct dld_load_stats st = {.struct_size = sizeof(st)};
    ck_assert_msg(s_run_load(inst, &load, 1000, 300, true, &st, &err) == DLD_OK, "%s", err.message);
    ck_assert_int_eq(st.files, 1);
    s_check_object(K("t-uid/raw/sales/orders/LOAD00000001-0123456789abcdef-0001.csv"), 1000, 300);
    cJSON *m = s_manifest(K("t-uid/raw/sales/orders/_manifests/LOAD00000001-0123456789abcdef.json"));
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(s_status(m), "published");
    cJSON *f0 = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "files"), 0);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(f0, "name")), "LOAD00000001-0123456789abcdef-0001.csv");
    ck_assert_int_eq((int64_t)cJSON_GetObjectItem(f0, "bytes")->valuedouble, st.bytes);
    cJSON_Delete(m);
    char *keys = s3t_list(&g_srv, "lake", K("t-uid/"));
    ck_assert_int_eq(s_count_lines(keys), 2); /* the file and its manifest, nothing else */
    free(keys);
    ck_assert_int_eq(s_published_load(inst, &load), 1);
    /* the same load id with another uid, or without one, is another load */
    ck_assert_int_eq(s_published_load(inst, &other), 0);
    ck_assert_int_eq(s_published(inst, 1), 0);
    g_vt->close(inst);
}
END_TEST

/* A holder that stalled past its lease publishes after another process
 * discarded its load: the discard claimed the manifest slot (aborted), the
 * publish is refused and the load's files are gone; is_published says no. */
START_TEST(test_publish_after_discard_is_refused)
{
    void *inst;
    struct dld_error err;
    ck_assert_msg(s_open(&inst, &err, "t-late", "max_file_size", "60000", NULL) == DLD_OK, "%s", err.message);
    struct dld_load load = s_load_uid(2, "00000000000000a2");
    void *h = NULL;
    ck_assert_msg(s_write(inst, &load, 3000, 500, &h, &err) == DLD_OK, "%s", err.message);
    struct dld_load_stats st = {.struct_size = sizeof(st)};
    ck_assert_msg(g_vt->load_finish(h, &st, &err) == DLD_OK, "%s", err.message);
    ck_assert_int_ge(st.files, 2);
    char *keys = s3t_list(&g_srv, "lake", K("t-late/raw/sales/orders/LOAD"));
    ck_assert_int_eq(s_count_lines(keys), st.files);
    free(keys);

    /* recovery in another process (another instance) */
    void *other;
    ck_assert_msg(s_open(&other, &err, "t-late", NULL) == DLD_OK, "%s", err.message);
    ck_assert_int_eq(s_published_load(other, &load), 0);
    ck_assert_msg(g_vt->load_discard(other, &load, &err) == DLD_OK, "%s", err.message);
    keys = s3t_list(&g_srv, "lake", K("t-late/raw/sales/orders/LOAD"));
    ck_assert_msg(keys[0] == '\0', "discard left: %s", keys);
    free(keys);

    /* the stalled holder wakes up */
    dld_error_init(&err);
    ck_assert_int_eq(g_vt->load_publish(h, &err), DLD_ERR_CONFLICT);
    ck_assert_int_eq(err.retryable, 0);
    g_vt->load_free(h);
    keys = s3t_list(&g_srv, "lake", K("t-late/"));
    ck_assert_msg(strstr(keys, "orders/LOAD") == NULL, "objects of the refused load: %s", keys);
    ck_assert_int_eq(s_count_lines(keys), 1); /* the aborted manifest */
    free(keys);
    cJSON *m = s_manifest(K("t-late/raw/sales/orders/_manifests/LOAD00000002-00000000000000a2.json"));
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(s_status(m), "aborted");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(m, "files")), 0);
    cJSON_Delete(m);
    ck_assert_int_eq(s_published_load(inst, &load), 0);
    ck_assert_int_eq(s_published_load(other, &load), 0);
    ck_assert_int_eq(s3t_stat(&g_srv, "openUploads"), 0);
    g_vt->close(other);
    g_vt->close(inst);
}
END_TEST

/* A discard that comes after the publish (a recovery that raced the
 * holder) is refused and deletes nothing. */
START_TEST(test_discard_after_publish_is_refused)
{
    void *inst;
    struct dld_error err;
    ck_assert_msg(s_open(&inst, &err, "t-pubfirst", NULL) == DLD_OK, "%s", err.message);
    struct dld_load load = s_load_uid(3, "00000000000000b3");
    ck_assert_msg(s_run_load(inst, &load, 500, 500, true, NULL, &err) == DLD_OK, "%s", err.message);
    char *before = s3t_list(&g_srv, "lake", K("t-pubfirst/"));
    ck_assert_int_eq(s_count_lines(before), 2);
    int64_t deletes = s3t_stat(&g_srv, "byOp.DeleteObjects") + s3t_stat(&g_srv, "byOp.DeleteObject");
    dld_error_init(&err);
    ck_assert_int_eq(g_vt->load_discard(inst, &load, &err), DLD_ERR_CONFLICT);
    ck_assert_int_eq(err.retryable, 0);
    ck_assert_int_eq(s3t_stat(&g_srv, "byOp.DeleteObjects") + s3t_stat(&g_srv, "byOp.DeleteObject"), deletes);
    char *after = s3t_list(&g_srv, "lake", K("t-pubfirst/"));
    ck_assert_str_eq(after, before);
    free(before);
    free(after);
    ck_assert_int_eq(s_published_load(inst, &load), 1);
    s_check_object(K("t-pubfirst/raw/sales/orders/LOAD00000003-00000000000000b3-0001.csv"), 500, 500);
    cJSON *m = s_manifest(K("t-pubfirst/raw/sales/orders/_manifests/LOAD00000003-00000000000000b3.json"));
    ck_assert_str_eq(s_status(m), "published");
    cJSON_Delete(m);
    g_vt->close(inst);
}
END_TEST

/* The manifest's PutObject lands but its answer is lost: the client retries,
 * the retry gets 412, the layer reads the manifest back, finds its own, and
 * the publish succeeds. */
START_TEST(test_publish_lost_response)
{
    void *inst;
    struct dld_error err;
    ck_assert_msg(s_open(&inst, &err, "t-lost", "retry_base_delay_ms", "10", NULL) == DLD_OK, "%s", err.message);
    free(s3t_proxy(&g_srv, "POST", "faults",
                   "[{\"op\":\"PutObject\",\"action\":\"drop\",\"count\":1,\"match\":\"t-lost/.*_manifests/\"}]"));
    int64_t faults = s3t_stat(&g_srv, "faults"), refused = s3t_stat(&g_srv, "preconditionFailed");
    struct dld_load load = s_load_uid(4, "00000000000000c4");
    ck_assert_msg(s_run_load(inst, &load, 800, 400, true, NULL, &err) == DLD_OK, "%s", err.message);
    ck_assert_int_eq(s3t_stat(&g_srv, "faults") - faults, 1);
    ck_assert_int_eq(s3t_stat(&g_srv, "preconditionFailed") - refused, 1);
    ck_assert_int_eq(s_published_load(inst, &load), 1);
    s_check_object(K("t-lost/raw/sales/orders/LOAD00000004-00000000000000c4-0001.csv"), 800, 400);
    cJSON *m = s_manifest(K("t-lost/raw/sales/orders/_manifests/LOAD00000004-00000000000000c4.json"));
    ck_assert_str_eq(s_status(m), "published");
    cJSON_Delete(m);
    g_vt->close(inst);
}
END_TEST

/* manifest_list: every manifest of the table, published and aborted, by
 * load id, in memory the host frees; "[]" for a table with none */
START_TEST(test_manifest_list)
{
    void *inst;
    struct dld_error err;
    ck_assert_msg(s_open(&inst, &err, "t-mlist", NULL) == DLD_OK, "%s", err.message);
    ck_assert_ptr_nonnull(g_vt->manifest_list);
    char *json = NULL;
    ck_assert_msg(g_vt->manifest_list(inst, &s_table, &json, &err) == DLD_OK, "%s", err.message);
    ck_assert_str_eq(json, "[]");
    dld_test_host()->free(json);
    struct dld_load l2 = s_load_uid(2, "00000000000000d2"), l1 = s_load_uid(1, "00000000000000d1"),
                    l3 = s_load_uid(3, "00000000000000d3");
    ck_assert_msg(s_run_load(inst, &l2, 100, 100, true, NULL, &err) == DLD_OK, "%s", err.message);
    ck_assert_msg(s_run_load(inst, &l1, 100, 100, true, NULL, &err) == DLD_OK, "%s", err.message);
    ck_assert_msg(s_run_load(inst, &l3, 100, 100, false, NULL, &err) == DLD_OK, "%s", err.message);
    ck_assert_msg(g_vt->load_discard(inst, &l3, &err) == DLD_OK, "%s", err.message);
    ck_assert_int_eq(s_published_load(inst, &l3), 0); /* aborted is not published */
    ck_assert_msg(g_vt->manifest_list(inst, &s_table, &json, &err) == DLD_OK, "%s", err.message);
    cJSON *a = cJSON_Parse(json);
    ck_assert_msg(cJSON_IsArray(a) && cJSON_GetArraySize(a) == 3, "%s", json);
    static const char *const want[] = {"published", "published", "aborted"};
    for (int i = 0; i < 3; i++) {
        cJSON *m = cJSON_GetArrayItem(a, i);
        ck_assert_str_eq(s_status(m), want[i]);
        char uid[17];
        snprintf(uid, sizeof uid, "00000000000000d%d", i + 1);
        char *text = cJSON_PrintUnformatted(m);
        ck_assert_msg(strstr(text, uid) != NULL, "manifest %d is not load %d: %s", i, i + 1, json);
        free(text);
    }
    cJSON_Delete(a);
    dld_test_host()->free(json);
    g_vt->close(inst);
}
END_TEST

/* Parquet through multipart, read back with DuckDB straight from s3rver's store */
START_TEST(test_parquet_read_back_with_duckdb)
{
    void *inst;
    struct dld_error err;
    ck_assert_msg(s_open(&inst, &err, "t-parquet", "format", "parquet", "compression", "none", "concurrency", "3",
                         NULL) == DLD_OK, "%s", err.message);
    int64_t parts = s3t_stat(&g_srv, "byOp.UploadPart");
    const int64_t n = 400000;
    struct dld_load_stats st = {.struct_size = sizeof(st)};
    ck_assert_msg(s_run(inst, 1, n, 25000, true, &st, &err) == DLD_OK, "%s", err.message);
    ck_assert_int_eq(st.files, 1);
    ck_assert_int_ge(s3t_stat(&g_srv, "byOp.UploadPart") - parts, 2);
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "node %s/read_parquet.cjs '%s/lake/%s._S3rver_object'", DLD_S3_TEST_DIR, g_srv.data,
             K("t-parquet/raw/sales/orders/LOAD00000001-0001.parquet"));
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[1024] = {0};
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), p));
    ck_assert_int_eq(pclose(p), 0);
    cJSON *j = cJSON_Parse(line);
    ck_assert_msg(j != NULL, "DuckDB said: %s", line);
    ck_assert_int_eq((int64_t)cJSON_GetObjectItem(j, "rows")->valuedouble, n);
    ck_assert_int_eq((int64_t)cJSON_GetObjectItem(j, "distinct_ids")->valuedouble, n);
    ck_assert_int_eq((int64_t)cJSON_GetObjectItem(j, "sum_id")->valuedouble, n * (n - 1) / 2);
    ck_assert_int_eq((int64_t)cJSON_GetObjectItem(j, "null_names")->valuedouble, (n + 16) / 17);
    ck_assert_double_eq_tol(cJSON_GetObjectItem(j, "sum_amount")->valuedouble, 1.25 * (double)(n * (n - 1) / 2), 1e-3);
    cJSON_Delete(j);
    g_vt->close(inst);
}
END_TEST

START_TEST(test_bad_options)
{
    void *inst = NULL;
    struct dld_error err;
    const char *bad_bucket[] = {"bucket", "Not_A_Bucket!", "endpoint", g_srv.endpoint, NULL};
    dld_error_init(&err);
    ck_assert_int_eq(g_vt->open(dld_test_host(), bad_bucket, &inst, &err), DLD_ERR_CONFIG);
    ck_assert_int_eq(s_open(&inst, &err, "x", "part_size", "1024", NULL), DLD_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.message, "part_size"));
    ck_assert_int_eq(s_open(&inst, &err, "x", "sse_kms_key_id", "k", NULL), DLD_ERR_CONFIG);
    ck_assert_int_eq(s_open(&inst, &err, "x", "concurrency", "0", NULL), DLD_ERR_CONFIG);
    ck_assert_int_eq(s_open(&inst, &err, "x", "format", "xml", NULL), DLD_ERR_CONFIG);
    ck_assert_int_eq(s_open(&inst, &err, "x", "payload_signing", "false", NULL), DLD_ERR_CONFIG);
    /* options are declared, secrets flagged */
    int secrets = 0;
    for (const struct dld_option *o = g_plugin->options; o->name; o++)
        if (o->flags & DLD_OPTF_SECRET)
            secrets++;
    ck_assert_int_eq(secrets, 2);
}
END_TEST

int main(void)
{
    snprintf(g_run, sizeof g_run, "run-%ld-%ld", (long)getpid(), (long)time(NULL));
    Suite *s = suite_create("target_s3");
    TCase *tc = tcase_create("s3rver");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_small_file_put_object);
    tcase_add_test(tc, test_multipart_many_parts);
    tcase_add_test(tc, test_roll_files_by_size);
    tcase_add_test(tc, test_retries_succeed);
    tcase_add_test(tc, test_retries_give_up);
    tcase_add_test(tc, test_create_upload_answer_lost);
    tcase_add_test(tc, test_publish_aborts_orphaned_uploads);
    tcase_add_test(tc, test_bad_credentials);
    tcase_add_test(tc, test_clock_skew_and_timeouts);
    tcase_add_loop_test(tc, test_killed_run_recovered, 0, 2);
    tcase_add_test(tc, test_uid_names);
    tcase_add_test(tc, test_publish_after_discard_is_refused);
    tcase_add_test(tc, test_discard_after_publish_is_refused);
    tcase_add_test(tc, test_publish_lost_response);
    tcase_add_test(tc, test_manifest_list);
    tcase_add_test(tc, test_parquet_read_back_with_duckdb);
    tcase_add_test(tc, test_bad_options);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

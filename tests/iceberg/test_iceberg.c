/*
 * table_format iceberg, end to end: deltaload runs (file target, Parquet)
 * into an Iceberg table, then tests/iceberg/verify.mjs reads it back with
 * readers we did not write (icebird at every metadata version, DuckDB's
 * Parquet reader on the files the manifests list, avsc on every Avro file
 * checked against the spec's manifest schemas) and compares with the
 * source.
 *
 * Two tables from one SQLite source: "orders" (delta by seq: the lake holds
 * every row version once, appended snapshot by snapshot) and "orders_full"
 * (no filter column: full loads, each an overwrite snapshot equal to the
 * source table at that moment).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "e2e_util.h"
#include "test_host.h"

static char s_dir[PATH_MAX];
static char s_db[PATH_MAX + 16];
static cJSON *s_expect_delta, *s_expect_full; /* {"versions": {N: [lines]}} */

#define RUN(...) e2e_run(s_dir, (const char *const[]){__VA_ARGS__, NULL}, 0)

static void s_setup(void)
{
    ck_assert_int_eq(dld_test_tmpdir(s_dir, sizeof s_dir, "ice"), 0);
    snprintf(s_db, sizeof s_db, "%s/src.db", s_dir);
    s_expect_delta = cJSON_CreateObject();
    s_expect_full = cJSON_CreateObject();
    cJSON_AddObjectToObject(s_expect_delta, "versions");
    cJSON_AddObjectToObject(s_expect_full, "versions");
}

static void s_teardown(void)
{
    cJSON_Delete(s_expect_delta);
    cJSON_Delete(s_expect_full);
    if (getenv("DLD_KEEP_TMP") == NULL)
        dld_test_rmtree(s_dir);
}

static void s_source(int n)
{
    char sql[1024];
    e2e_sql(s_db, "CREATE TABLE orders(id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, val TEXT);"
                  "CREATE TABLE versions(id INTEGER, seq INTEGER, val TEXT);"
                  "CREATE TRIGGER v_ins AFTER INSERT ON orders BEGIN INSERT INTO versions VALUES(new.id, new.seq, new.val); END;"
                  "CREATE TRIGGER v_upd AFTER UPDATE ON orders BEGIN INSERT INTO versions VALUES(new.id, new.seq, new.val); END;");
    snprintf(sql, sizeof sql,
             "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < %d) "
             "INSERT INTO orders SELECT i, i, CASE WHEN i %% 11 = 0 THEN NULL ELSE 'v' || i || '|é' END FROM c",
             n);
    e2e_sql(s_db, sql);
}

static void s_mutate(int step)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "UPDATE orders SET seq = (SELECT max(seq)+1 FROM orders) + id, val = 'upd%d' WHERE id %% 13 = %d;"
             "INSERT INTO orders SELECT max(id)+1, (SELECT max(seq)+1 FROM orders), 'new%d-a' FROM orders;"
             "INSERT INTO orders SELECT max(id)+1, (SELECT max(seq) FROM orders), 'new%d-tie' FROM orders;",
             step, step % 13, step, step);
    e2e_sql(s_db, sql);
}

static void s_wait_lease(void) { usleep(1100000); }

/* state/target: NULL for the defaults; the target gets table_format iceberg */
static void s_config(const char *state, const char *target_plugin, const char *target_extra)
{
    char path[PATH_MAX + 32], text[8192], target[2048], st[1024];
    snprintf(path, sizeof path, "%s/deltaload.json", s_dir);
    snprintf(st, sizeof st, "{\"plugin\": \"sqlite\", \"options\": {\"path\": \"state.db\"}}");
    snprintf(target, sizeof target,
             "{\"plugin\": \"%s\", \"options\": {%s\"path\": \"lake\", \"format\": \"parquet\", \"fsync\": false,"
             " \"table_format\": \"iceberg\", \"max_file_size\": 2048}}",
             target_plugin ? target_plugin : "file", target_extra ? target_extra : "");
    snprintf(text, sizeof text,
             "{\"plugin_dirs\": [\"%s\", \"%s\"],\n"
             " \"source\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"src.db\"}},\n"
             " \"target\": %s,\n \"state\": %s,\n"
             " \"engine\": {\"batch_rows\": 40, \"lease_ttl_seconds\": 1},\n"
             " \"tables\": [{\"targetTableName\": \"orders\", \"sourceSchema\": \"main\", \"sourceTable\": \"orders\","
             " \"filtercolumn\": \"seq\", \"filteroperator\": \"gte\", \"startvalue\": \"1\", \"activeflag\": \"Y\","
             " \"ouputs3Prefix\": \"raw\"},\n"
             " {\"targetTableName\": \"orders_full\", \"sourceSchema\": \"main\", \"sourceTable\": \"orders\","
             " \"activeflag\": \"Y\", \"ouputs3Prefix\": \"raw\"}]}\n",
             getenv("DLD_PLUGIN_DIR"), getenv("DLD_TEST_PLUGIN_DIR"), target, state ? state : st);
    e2e_write(path, text);
}

static void s_crash_state(int kill_at, const char *point)
{
    char state[2048];
    snprintf(state, sizeof state,
             "{\"plugin\": \"crash\", \"options\": {\"inner\": \"%s/dld-state-sqlite.so\", \"path\": \"state.db\","
             " \"kill_at\": %d, \"kill_point\": \"%s\"}}",
             getenv("DLD_PLUGIN_DIR"), kill_at, point);
    s_config(state, NULL, NULL);
}

static void s_crash_target(const char *where, int after_writes)
{
    char extra[1024];
    snprintf(extra, sizeof extra, "\"inner\": \"%s/dld-target-file.so\", \"kill_in\": \"%s\", \"kill_after_writes\": %d, ",
             getenv("DLD_PLUGIN_DIR"), where, after_writes);
    s_config(NULL, "crash", extra);
}

static char *s_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

static int s_version(const char *table)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/lake/raw/main/%s/metadata/version-hint.text", s_dir, table);
    char *t = s_slurp(path);
    int v = t ? atoi(t) : 0;
    free(t);
    return v;
}

/* "a|b\nc|d\n" → a JSON array of lines */
static cJSON *s_lines(const char *text)
{
    cJSON *a = cJSON_CreateArray();
    const char *p = text;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n) {
            char *line = strndup(p, n);
            cJSON_AddItemToArray(a, cJSON_CreateString(line));
            free(line);
        }
        p += n + (e ? 1 : 0);
    }
    return a;
}

static const char s_versions_sql[] = "SELECT id, seq, val FROM versions";
static const char s_current_sql[] = "SELECT id, seq, val FROM orders";

/* After a successful run: what each table must show at its newest version. */
static void s_expect_now(void)
{
    char key[16];
    char *rows = e2e_source_rows(s_db, s_versions_sql);
    snprintf(key, sizeof key, "%d", s_version("orders"));
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(s_expect_delta, "versions"), key);
    cJSON_AddItemToObject(cJSON_GetObjectItem(s_expect_delta, "versions"), key, s_lines(rows));
    free(rows);
    rows = e2e_source_rows(s_db, s_current_sql);
    snprintf(key, sizeof key, "%d", s_version("orders_full"));
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(s_expect_full, "versions"), key);
    cJSON_AddItemToObject(cJSON_GetObjectItem(s_expect_full, "versions"), key, s_lines(rows));
    free(rows);
}

/* verify.mjs on one table; returns its JSON summary line (static) */
static const char *s_verify(const char *table, cJSON *expect, const char *latest_sql)
{
    static char report[4096];
    char path[PATH_MAX + 64], out[PATH_MAX + 64], cmd[4 * PATH_MAX];
    char *rows = e2e_source_rows(s_db, latest_sql);
    cJSON_DeleteItemFromObject(expect, "latest");
    cJSON_AddItemToObject(expect, "latest", s_lines(rows));
    free(rows);
    snprintf(path, sizeof path, "%s/expect-%s.json", s_dir, table);
    char *text = cJSON_Print(expect);
    e2e_write(path, text);
    free(text);
    snprintf(out, sizeof out, "%s/verify-%s.out", s_dir, table);
    snprintf(cmd, sizeof cmd, "node '%s/tests/iceberg/verify.mjs' '%s/lake/raw/main/%s' '%s' > '%s' 2>&1",
             getenv("DLD_SOURCE_DIR"), s_dir, table, path, out);
    int st = system(cmd);
    char *o = s_slurp(out);
    snprintf(report, sizeof report, "%s", o ? o : "");
    free(o);
    ck_assert_msg(st == 0, "verify.mjs %s failed: %s", table, report);
    return report;
}

static void s_verify_both(void)
{
    const char *r = s_verify("orders", s_expect_delta, s_versions_sql);
    fprintf(stderr, "orders: %s", r);
    r = s_verify("orders_full", s_expect_full, s_current_sql);
    fprintf(stderr, "orders_full: %s", r);
}

/* delta appends and full overwrites, each run one snapshot, read at every version */
START_TEST(snapshots_read_back)
{
    s_source(150);
    s_config(NULL, NULL, NULL);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_expect_now();
    for (int step = 1; step <= 3; step++) {
        s_mutate(step);
        ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
        s_expect_now();
    }
    ck_assert_int_eq(s_version("orders"), 4);
    ck_assert_int_eq(s_version("orders_full"), 4);
    /* nothing new: the delta table gets no snapshot, the full one a new overwrite */
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    ck_assert_int_eq(s_version("orders"), 4);
    ck_assert_int_eq(s_version("orders_full"), 5);
    s_expect_now();
    s_verify_both();
    /* the snapshot summary carries the load's identity, window and watermark */
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/lake/raw/main/orders/metadata/v4.metadata.json", s_dir);
    char *text = s_slurp(path);
    ck_assert_ptr_nonnull(strstr(text, "\"deltaload.load-id\":\t\"4\""));
    char want[128];
    snprintf(want, sizeof want, "\"deltaload.watermark\":\t\"%s\"", e2e_sql_value(s_db, "SELECT max(seq) FROM orders"));
    ck_assert_msg(strstr(text, want) != NULL, "no %s in %s", want, text);
    ck_assert_ptr_nonnull(strstr(text, "\"operation\":\t\"append\""));
    free(text);
    snprintf(path, sizeof path, "%s/lake/raw/main/orders_full/metadata/v5.metadata.json", s_dir);
    text = s_slurp(path);
    ck_assert_ptr_nonnull(strstr(text, "\"operation\":\t\"overwrite\""));
    free(text);
}
END_TEST

/* a column the table does not have is refused, naming it, and the load is discarded */
START_TEST(new_column_refused)
{
    s_source(30);
    s_config(NULL, NULL, NULL);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_expect_now();
    e2e_sql(s_db, "ALTER TABLE orders ADD COLUMN extra TEXT; UPDATE orders SET seq = seq + 100, extra = 'x' WHERE id = 3;");
    ck_assert_int_eq(RUN("run"), 1);
    ck_assert_msg(strstr(e2e_output(s_dir), "column 'extra' is not in the Iceberg table"), "%s", e2e_output(s_dir));
    ck_assert_int_eq(s_version("orders"), 1);
}
END_TEST

/* kill -9 before and after each recorded transition, then recover */
START_TEST(kill_at_every_transition)
{
    static const char *points[] = {"before", "after"};
    int k = _i / 2 + 1;
    const char *point = points[_i % 2];
    s_source(60);
    s_config(NULL, NULL, NULL);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_expect_now();
    s_mutate(1);
    s_crash_state(k, point);
    int rc = RUN("run");
    ck_assert_msg(rc == 128 + 9, "expected SIGKILL at transition %d %s, got exit %d: %s", k, point, rc,
                  e2e_output(s_dir));
    s_wait_lease();
    s_config(NULL, NULL, NULL);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_expect_now();
    s_mutate(2);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_expect_now();
    s_verify_both();
}
END_TEST

/* kill -9 inside the target: mid-stream, after finishing, after publishing */
START_TEST(kill_inside_target)
{
    static const char *where[] = {"write", "finish", "publish"};
    s_source(200);
    s_config(NULL, NULL, NULL);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_expect_now();
    s_mutate(1);
    s_crash_target(where[_i], 2);
    ck_assert_int_eq(RUN("run"), 128 + 9);
    s_wait_lease();
    s_config(NULL, NULL, NULL);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_expect_now();
    s_verify_both();
}
END_TEST

/* A crash after the manifest slot was claimed but before the snapshot was
 * committed (made here from a crash right after publish by taking the
 * snapshot's metadata version away): recovery finds the load published,
 * commits its snapshot from the manifest, and once only. */
START_TEST(published_without_snapshot_rolls_forward)
{
    s_source(100);
    s_config(NULL, NULL, NULL);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_expect_now();
    s_mutate(1);
    s_crash_target("publish", 1);
    ck_assert_int_eq(RUN("run"), 128 + 9);
    char path[PATH_MAX + 64];
    const char *tables[] = {"orders", "orders_full"};
    for (int i = 0; i < 2; i++) {
        /* whichever table the kill hit has v2: remove it, hint back to 1 */
        snprintf(path, sizeof path, "%s/lake/raw/main/%s/metadata/v2.metadata.json", s_dir, tables[i]);
        if (unlink(path) == 0) {
            snprintf(path, sizeof path, "%s/lake/raw/main/%s/metadata/version-hint.text", s_dir, tables[i]);
            e2e_write(path, "1");
        }
    }
    s_wait_lease();
    s_config(NULL, NULL, NULL);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    ck_assert_msg(strstr(e2e_output(s_dir), "it was published: committed it"), "%s", e2e_output(s_dir));
    s_expect_now();
    s_mutate(2);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_expect_now();
    s_verify_both();
}
END_TEST

static Suite *s_suite(void)
{
    Suite *s = suite_create("iceberg");
    TCase *tc = tcase_create("iceberg");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, snapshots_read_back);
    tcase_add_test(tc, new_column_refused);
    tcase_add_loop_test(tc, kill_at_every_transition, 0, 8);
    tcase_add_loop_test(tc, kill_inside_target, 0, 3);
    tcase_add_test(tc, published_without_snapshot_rolls_forward);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (system("node -e 0 >/dev/null 2>&1") != 0) {
        fprintf(stderr, "SKIP: node is not installed (scripts/setup.sh installs it): nothing can read the table back\n");
        return 77;
    }
    SRunner *sr = srunner_create(s_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

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
 * source table at that moment). The "partition" case (CK_RUN_CASE=partition)
 * loads partitioned tables (partition_by) from a table "pt".
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
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

/* a config in dir with these items (the contents of the "tables" array);
 * paths absolute, so that two configs can share one lake */
static void s_config_items_in(const char *dir, const char *state_db, const char *items)
{
    char path[PATH_MAX + 32], *text = NULL;
    snprintf(path, sizeof path, "%s/deltaload.json", dir);
    ck_assert_int_ge(asprintf(&text,
                              "{\"plugin_dirs\": [\"%s\", \"%s\"],\n"
                              " \"source\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"%s\"}},\n"
                              " \"target\": {\"plugin\": \"file\", \"options\": {\"path\": \"%s/lake\", \"format\": \"parquet\","
                              " \"fsync\": false, \"table_format\": \"iceberg\", \"max_file_size\": 2048}},\n"
                              " \"state\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"%s/%s\"}},\n"
                              " \"engine\": {\"batch_rows\": 40, \"lease_ttl_seconds\": 1},\n"
                              " \"tables\": [%s]}\n",
                              getenv("DLD_PLUGIN_DIR"), getenv("DLD_TEST_PLUGIN_DIR"), s_db, s_dir, s_dir, state_db,
                              items),
                     0);
    e2e_write(path, text);
    free(text);
}

static void s_config_items(const char *items)
{
    s_config_items_in(s_dir, "state.db", items);
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

static int s_version(const char *table)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/lake/raw/main/%s/metadata/version-hint.text", s_dir, table);
    char *t = e2e_slurp(path);
    int v = t ? atoi(t) : 0;
    free(t);
    return v;
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
    cJSON_AddItemToObject(cJSON_GetObjectItem(s_expect_delta, "versions"), key, e2e_lines_json(rows));
    free(rows);
    rows = e2e_source_rows(s_db, s_current_sql);
    snprintf(key, sizeof key, "%d", s_version("orders_full"));
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(s_expect_full, "versions"), key);
    cJSON_AddItemToObject(cJSON_GetObjectItem(s_expect_full, "versions"), key, e2e_lines_json(rows));
    free(rows);
}

/* the rows a table must show now, recorded for its current version */
static void s_expect_table(cJSON *expect, const char *table, const char *sql)
{
    char key[16];
    char *rows = e2e_source_rows(s_db, sql);
    snprintf(key, sizeof key, "%d", s_version(table));
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(expect, "versions"), key);
    cJSON_AddItemToObject(cJSON_GetObjectItem(expect, "versions"), key, e2e_lines_json(rows));
    free(rows);
}

/* verify.mjs on one table; returns its JSON summary line (static) */
static const char *s_verify(const char *table, cJSON *expect, const char *latest_sql)
{
    static char report[4096];
    char path[PATH_MAX + 64], out[PATH_MAX + 64], cmd[4 * PATH_MAX];
    char *rows = e2e_source_rows(s_db, latest_sql);
    cJSON_DeleteItemFromObject(expect, "latest");
    cJSON_AddItemToObject(expect, "latest", e2e_lines_json(rows));
    free(rows);
    snprintf(path, sizeof path, "%s/expect-%s.json", s_dir, table);
    char *text = cJSON_Print(expect);
    e2e_write(path, text);
    free(text);
    snprintf(out, sizeof out, "%s/verify-%s.out", s_dir, table);
    snprintf(cmd, sizeof cmd, "node '%s/tests/iceberg/verify.mjs' '%s/lake/raw/main/%s' '%s' > '%s' 2>&1",
             getenv("DLD_SOURCE_DIR"), s_dir, table, path, out);
    int st = system(cmd);
    char *o = e2e_slurp(out);
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
    char *text = e2e_slurp(path);
    ck_assert_ptr_nonnull(strstr(text, "\"deltaload.load-id\":\t\"4\""));
    char want[128];
    snprintf(want, sizeof want, "\"deltaload.watermark\":\t\"%s\"", e2e_sql_value(s_db, "SELECT max(seq) FROM orders"));
    ck_assert_msg(strstr(text, want) != NULL, "no %s in %s", want, text);
    ck_assert_ptr_nonnull(strstr(text, "\"operation\":\t\"append\""));
    free(text);
    snprintf(path, sizeof path, "%s/lake/raw/main/orders_full/metadata/v5.metadata.json", s_dir);
    text = e2e_slurp(path);
    ck_assert_ptr_nonnull(strstr(text, "\"operation\":\t\"overwrite\""));
    free(text);
}
END_TEST

/* Schema evolution between loads, on an upsert table (so each snapshot
 * must equal a known table): a column added to the source becomes a new
 * optional field, a decimal widened to more digits widens the field, a
 * dropped column stays (null in the rows loaded after), a type Iceberg
 * cannot promote fails the load naming the column. icebird reads every
 * snapshot; "mirror" is what the Iceberg table must hold once note is gone. */
START_TEST(schema_evolves)
{
    static const char items[] =
        "{\"targetTableName\": \"evo\", \"sourceSchema\": \"main\", \"sourceTable\": \"evo\", \"filtercolumn\": \"seq\","
        " \"filteroperator\": \"gte\", \"startvalue\": \"1\", \"activeflag\": \"Y\", \"ouputs3Prefix\": \"raw\","
        " \"merge_key\": [\"id\"], \"schema_change\": \"evolve\"}";
    e2e_sql(s_db, "CREATE TABLE evo(id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, amount DECIMAL(8,2), note TEXT);"
                  "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 30) "
                  "INSERT INTO evo SELECT i, i, i + 0.25, 'n' || i FROM c;");
    s_config_items(items);
    cJSON *ex = s_expect_delta;
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_expect_table(ex, "evo", "SELECT id, seq, amount, note, NULL FROM evo");
    /* added */
    e2e_sql(s_db, "ALTER TABLE evo ADD COLUMN extra TEXT;"
                  "UPDATE evo SET seq = seq + 100, extra = 'x' || id WHERE id % 3 = 0;");
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_expect_table(ex, "evo", "SELECT id, seq, amount, note, extra FROM evo");
    /* widened: decimal(8,2) to decimal(12,2) */
    e2e_sql(s_db, "CREATE TABLE evo2(id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, amount DECIMAL(12,2), note TEXT, extra TEXT);"
                  "INSERT INTO evo2 SELECT * FROM evo; DROP TABLE evo; ALTER TABLE evo2 RENAME TO evo;"
                  "UPDATE evo SET seq = seq + 200, amount = 1234567.75 + id WHERE id % 4 = 0;");
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_expect_table(ex, "evo", "SELECT id, seq, amount, note, extra FROM evo");
    /* dropped: note stays in the table, null in the rows loaded from now on */
    e2e_sql(s_db, "CREATE TABLE mirror AS SELECT * FROM evo;"
                  "CREATE TABLE evo2(id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, amount DECIMAL(12,2), extra TEXT);"
                  "INSERT INTO evo2 SELECT id, seq, amount, extra FROM evo; DROP TABLE evo; ALTER TABLE evo2 RENAME TO evo;"
                  "UPDATE evo SET seq = seq + 1000, extra = 'd' || id WHERE id % 5 = 0;"
                  "UPDATE mirror SET seq = seq + 1000, extra = 'd' || id, note = NULL WHERE id % 5 = 0;");
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_expect_table(ex, "evo", "SELECT id, seq, amount, note, extra FROM mirror");
    ck_assert_int_eq(s_version("evo"), 4);
    const char *r = s_verify("evo", ex, "SELECT id, seq, amount, note, extra FROM mirror");
    fprintf(stderr, "evo: %s", r);
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/lake/raw/main/evo/metadata/v4.metadata.json", s_dir);
    char *text = e2e_slurp(path);
    ck_assert_ptr_nonnull(strstr(text, "\"current-schema-id\":\t2"));
    ck_assert_ptr_nonnull(strstr(text, "\"decimal(12, 2)\""));
    ck_assert_ptr_nonnull(strstr(text, "\"last-column-id\":\t5"));
    free(text);
    /* a change Iceberg cannot make: fails naming the column, no snapshot */
    e2e_sql(s_db, "CREATE TABLE evo2(id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, amount TEXT, extra TEXT);"
                  "INSERT INTO evo2 SELECT id, seq, amount, extra FROM evo; DROP TABLE evo; ALTER TABLE evo2 RENAME TO evo;"
                  "UPDATE evo SET seq = seq + 2000 WHERE id = 7;");
    ck_assert_int_eq(RUN("run"), 1);
    ck_assert_msg(strstr(e2e_output(s_dir), "amount"), "%s", e2e_output(s_dir)); /* the core's schema_change check */
    ck_assert_int_eq(s_version("evo"), 4);
    /* the target's own check, whatever the core lets through: a second
     * state store (no earlier load to compare with) loading the same table */
    char b[PATH_MAX + 8];
    snprintf(b, sizeof b, "%s/b", s_dir);
    ck_assert_int_eq(mkdir(b, 0755), 0);
    s_config_items_in(b, "state-b.db", items);
    ck_assert_msg(e2e_run(b, (const char *const[]){"state", "rebuild", "--table", "evo", NULL}, 0) == 0, "%s",
                  e2e_output(b));
    ck_assert_int_eq(e2e_run(b, (const char *const[]){"run", NULL}, 0), 1);
    ck_assert_msg(strstr(e2e_output(b), "column 'amount' is string in the load but decimal(12, 2) in the Iceberg table"),
                  "%s", e2e_output(b));
    ck_assert_int_eq(s_version("evo"), 4);
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

static const char s_up_items[] =
    "{\"targetTableName\": \"orders_up\", \"sourceSchema\": \"main\", \"sourceTable\": \"orders\", \"filtercolumn\": \"seq\","
    " \"filteroperator\": \"gte\", \"startvalue\": \"1\", \"activeflag\": \"Y\", \"ouputs3Prefix\": \"raw\","
    " \"merge_key\": [\"id\"]},"
    "{\"targetTableName\": \"changes_up\", \"sourceSchema\": \"main\", \"sourceTable\": \"changes\", \"filtercolumn\": \"seq\","
    " \"filteroperator\": \"gte\", \"startvalue\": \"1\", \"activeflag\": \"Y\", \"ouputs3Prefix\": \"raw\","
    " \"merge_key\": \"id\"}";
static const char s_changes_latest[] =
    "SELECT id, seq, val FROM changes c WHERE seq = (SELECT max(seq) FROM changes d WHERE d.id = c.id)";

/* changes: an append-only log with several versions of a key, in one
 * window too; the newest version (by seq) is inserted first, so the one
 * read last is not the one to keep */
static void s_changes(int step)
{
    char sql[1024];
    if (step == 0) {
        e2e_sql(s_db, "CREATE TABLE changes(id INTEGER NOT NULL, seq INTEGER NOT NULL, val TEXT);"
                      "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 40) "
                      "INSERT INTO changes SELECT i, i + 10, 'c' || i FROM c;"
                      "INSERT INTO changes SELECT id, seq - 10, 'old' || id FROM changes WHERE id <= 5;");
        return;
    }
    snprintf(sql, sizeof sql,
             "INSERT INTO changes SELECT id, (SELECT max(seq) FROM changes) + 100 + id, 'newest%d-' || id FROM changes "
             "WHERE id BETWEEN %d AND %d AND seq = (SELECT max(seq) FROM changes d WHERE d.id = changes.id);"
             "INSERT INTO changes SELECT id, (SELECT max(seq) FROM changes) - 50 + id, 'older%d-' || id FROM changes "
             "WHERE id BETWEEN %d AND %d AND val LIKE 'newest%d-%%';",
             step, step * 3, step * 3 + 9, step, step * 3, step * 3 + 9, step);
    e2e_sql(s_db, sql);
}

/* merge_key upserts: every snapshot equals the source table (orders_up) or
 * the newest version of each key (changes_up, a log with several versions
 * of a key in one window) for icebird (which applies equality and position
 * deletes) and for DuckDB with the spec's rules applied by verify.mjs */
START_TEST(upserts_read_back)
{
    s_source(150);
    s_changes(0);
    /* and a full-snapshot item on the log: overwrites, each with position
     * deletes for its own older versions (by seq, a full operator's column) */
    char items[sizeof s_up_items + 512];
    snprintf(items, sizeof items,
             "%s, {\"targetTableName\": \"changes_full\", \"sourceSchema\": \"main\", \"sourceTable\": \"changes\","
             " \"filtercolumn\": \"seq\", \"filteroperator\": \"notnull\", \"activeflag\": \"Y\","
             " \"ouputs3Prefix\": \"raw\", \"merge_key\": [\"id\"]}",
             s_up_items);
    s_config_items(items);
    cJSON *full = cJSON_CreateObject();
    cJSON_AddObjectToObject(full, "versions");
    cJSON *up = s_expect_delta, *ch = s_expect_full;
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_expect_table(up, "orders_up", s_current_sql);
    s_expect_table(ch, "changes_up", s_changes_latest);
    s_expect_table(full, "changes_full", s_changes_latest);
    for (int step = 1; step <= 3; step++) {
        s_mutate(step);
        s_changes(step);
        ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
        s_expect_table(up, "orders_up", s_current_sql);
        s_expect_table(ch, "changes_up", s_changes_latest);
        s_expect_table(full, "changes_full", s_changes_latest);
    }
    ck_assert_int_eq(s_version("orders_up"), 4);
    cJSON_AddItemToObject(up, "equality_ids", cJSON_CreateIntArray((const int[]){1}, 1));
    const char *r = s_verify("orders_up", up, s_current_sql);
    fprintf(stderr, "orders_up: %s", r);
    /* listed per snapshot: 0 + 1 + 2 + 3 (none for the first load, into an empty table) */
    ck_assert_msg(strstr(r, "\"delete_files\":6,") != NULL, "one equality delete file per load after the first: %s", r);
    r = s_verify("changes_up", ch, s_changes_latest);
    fprintf(stderr, "changes_up: %s", r);
    ck_assert_msg(strstr(r, "\"deleted_rows\":0") == NULL, "%s", r);
    r = s_verify("changes_full", full, s_changes_latest);
    fprintf(stderr, "changes_full: %s", r);
    ck_assert_msg(strstr(r, "\"deleted_rows\":0") == NULL, "%s", r);
    cJSON_Delete(full);
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/lake/raw/main/orders_up/metadata/v4.metadata.json", s_dir);
    char *text = e2e_slurp(path);
    ck_assert_ptr_nonnull(strstr(text, "\"added-equality-delete-files\":\t\"1\""));
    free(text);
    /* merge_key without Iceberg is refused by name */
    s_config_items(s_up_items);
    char cfg[PATH_MAX + 32];
    snprintf(cfg, sizeof cfg, "%s/deltaload.json", s_dir);
    text = e2e_slurp(cfg);
    char *at = strstr(text, "\"table_format\": \"iceberg\"");
    ck_assert_ptr_nonnull(at);
    memcpy(at, "\"table_format\": \"files\"  ", strlen("\"table_format\": \"files\"  "));
    e2e_write(cfg, text);
    free(text);
    e2e_sql(s_db, "UPDATE orders SET seq = seq + 1000 WHERE id = 1");
    ck_assert_int_ne(RUN("run"), 0);
    ck_assert_msg(strstr(e2e_output(s_dir), "merge_key needs \"table_format\": \"iceberg\""), "%s", e2e_output(s_dir));
}
END_TEST

/* an upsert load published without its snapshot is rolled forward with
 * its delete files (recorded in its deltaload manifest), once */
START_TEST(upsert_rolls_forward)
{
    s_source(100);
    s_changes(0);
    s_config_items(s_up_items);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_mutate(1);
    s_changes(1);
    char extra[1024], items[4096];
    snprintf(extra, sizeof extra, "\"inner\": \"%s/dld-target-file.so\", \"kill_in\": \"publish\", \"kill_after_writes\": 1, ",
             getenv("DLD_PLUGIN_DIR"));
    snprintf(items, sizeof items, "%s", s_up_items);
    s_config_items(items);
    /* the crash wrapper around the file target */
    char cfg[PATH_MAX + 32];
    snprintf(cfg, sizeof cfg, "%s/deltaload.json", s_dir);
    char *text = e2e_slurp(cfg), *next = NULL;
    char *at = strstr(text, "{\"plugin\": \"file\", \"options\": {");
    ck_assert_ptr_nonnull(at);
    *at = '\0';
    ck_assert_int_ge(asprintf(&next, "%s{\"plugin\": \"crash\", \"options\": {%s%s", text, extra,
                              at + strlen("{\"plugin\": \"file\", \"options\": {")),
                     0);
    e2e_write(cfg, next);
    free(text);
    free(next);
    ck_assert_int_eq(RUN("run"), 128 + 9);
    char path[PATH_MAX + 64];
    const char *tables[] = {"orders_up", "changes_up"};
    int rolled = 0;
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/lake/raw/main/%s/metadata/v2.metadata.json", s_dir, tables[i]);
        if (unlink(path) == 0) {
            rolled++;
            snprintf(path, sizeof path, "%s/lake/raw/main/%s/metadata/version-hint.text", s_dir, tables[i]);
            e2e_write(path, "1");
        }
    }
    ck_assert_int_eq(rolled, 1);
    s_wait_lease();
    s_config_items(s_up_items);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    ck_assert_msg(strstr(e2e_output(s_dir), "it was published: committed it"), "%s", e2e_output(s_dir));
    s_expect_table(s_expect_delta, "orders_up", s_current_sql);
    s_expect_table(s_expect_full, "changes_up", s_changes_latest);
    const char *r = s_verify("orders_up", s_expect_delta, s_current_sql);
    fprintf(stderr, "orders_up: %s", r);
    r = s_verify("changes_up", s_expect_full, s_changes_latest);
    fprintf(stderr, "changes_up: %s", r);
}
END_TEST

static int s_count_files(const char *dir, const char *prefix, const char *suffix)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e = d ? readdir(d) : NULL; e; e = readdir(d)) {
        size_t l = strlen(e->d_name), sl = strlen(suffix);
        n += !strncmp(e->d_name, prefix, strlen(prefix)) && l >= sl && !strcmp(e->d_name + l - sl, suffix);
    }
    if (d)
        closedir(d);
    return n;
}

/* Two processes (two configs with their own state stores sharing one lake
 * table) commit at the same time: a test seam (DLD_ICEBERG_TEST_BARRIER)
 * holds each commit after it read the table until both have, so both try to
 * create the same metadata version. Both must end committed, one on top of
 * the other, nothing lost, the loser's data files and manifest written once. */
START_TEST(racing_commits)
{
    s_source(120);
    static const char items[] =
        "{\"targetTableName\": \"orders\", \"sourceSchema\": \"main\", \"sourceTable\": \"orders\", \"filtercolumn\": \"seq\","
        " \"filteroperator\": \"gte\", \"startvalue\": \"1\", \"activeflag\": \"Y\", \"ouputs3Prefix\": \"raw\"}";
    char a[PATH_MAX + 8], b[PATH_MAX + 8], barrier[PATH_MAX + 16], cmd[4 * PATH_MAX + 256];
    snprintf(a, sizeof a, "%s/a", s_dir);
    snprintf(b, sizeof b, "%s/b", s_dir);
    snprintf(barrier, sizeof barrier, "%s/barrier", s_dir);
    ck_assert_int_eq(mkdir(a, 0755), 0);
    ck_assert_int_eq(mkdir(b, 0755), 0);
    s_config_items_in(a, "state-a.db", items);
    s_config_items_in(b, "state-b.db", items);
    /* A loads the table first; B's store learns it from the lake (a store
     * that knows nothing of a table whose folder holds loads refuses it) */
    ck_assert_msg(e2e_run(a, (const char *const[]){"run", NULL}, 0) == 0, "%s", e2e_output(a));
    ck_assert_msg(e2e_run(b, (const char *const[]){"state", "rebuild", "--table", "orders", NULL}, 0) == 0, "%s",
                  e2e_output(b));
    char twice[256];
    snprintf(twice, sizeof twice,
             "SELECT id, seq, val FROM versions, (SELECT 1 AS k UNION ALL SELECT 2) WHERE k = 1 OR seq > %s",
             e2e_sql_value(s_db, "SELECT max(seq) FROM orders"));
    s_expect_table(s_expect_delta, "orders", twice);
    for (int round = 1; round <= 2; round++) {
        s_mutate(round);
        char sub[PATH_MAX + 32];
        snprintf(sub, sizeof sub, "%s%d", barrier, round);
        ck_assert_int_eq(mkdir(sub, 0755), 0);
        snprintf(cmd, sizeof cmd,
                 "export DLD_ICEBERG_TEST_BARRIER='%s'; (cd '%s' && '%s' run > run.out 2>&1; echo $? > rc) & "
                 "(cd '%s' && '%s' run > run.out 2>&1; echo $? > rc) & wait",
                 sub, a, getenv("DLD_BIN"), b, getenv("DLD_BIN"));
        ck_assert_int_eq(system(cmd), 0);
        const char *dirs[] = {a, b};
        for (int i = 0; i < 2; i++) {
            char path[PATH_MAX + 32];
            snprintf(path, sizeof path, "%s/rc", dirs[i]);
            char *rc = e2e_slurp(path);
            snprintf(path, sizeof path, "%s/run.out", dirs[i]);
            char *out = e2e_slurp(path);
            ck_assert_msg(rc && atoi(rc) == 0, "process %d of round %d: %s", i, round, out ? out : "");
            free(rc);
            free(out);
        }
        /* both waited at the barrier: they read the same version */
        ck_assert_int_eq(s_count_files(sub, "ready-", ""), 2);
        ck_assert_int_eq(s_version("orders"), 1 + 2 * round);
        /* the new row versions, once per process */
        s_expect_table(s_expect_delta, "orders", twice);
    }
    char tdir[PATH_MAX + 64];
    snprintf(tdir, sizeof tdir, "%s/lake/raw/main/orders/metadata", s_dir);
    /* one manifest list per snapshot (the losing attempts' were removed), one manifest per load */
    ck_assert_int_eq(s_count_files(tdir, "snap-", ".avro"), 5);
    ck_assert_int_eq(s_count_files(tdir, "LOAD", "-m0.avro"), 5);
    snprintf(tdir, sizeof tdir, "%s/lake/raw/main/orders/metadata/v5.metadata.json", s_dir);
    char *text = e2e_slurp(tdir);
    cJSON *meta = cJSON_Parse(text);
    free(text);
    int n = 0;
    double parent = -1;
    cJSON *snap;
    cJSON_ArrayForEach(snap, cJSON_GetObjectItem(meta, "snapshots"))
    {
        if (n > 0)
            ck_assert(cJSON_GetObjectItem(snap, "parent-snapshot-id")->valuedouble == parent);
        parent = cJSON_GetObjectItem(snap, "snapshot-id")->valuedouble;
        ck_assert_int_eq((int)cJSON_GetObjectItem(snap, "sequence-number")->valuedouble, n + 1);
        n++;
    }
    cJSON_Delete(meta);
    ck_assert_int_eq(n, 5);
    const char *r = s_verify("orders", s_expect_delta, twice);
    fprintf(stderr, "racing: %s", r);
}
END_TEST

/* `deltaload lake expire` with the file-system catalog (the Glue catalog's
 * expiry is read back by icebird in tests/iceberg-glue): three overwrites of
 * orders_full, then expire everything but the current snapshot: a new
 * metadata version (and hint) with one snapshot, the first two loads' data
 * files, manifests and manifest lists gone, the current load's kept; the
 * append table keeps every data file. */
START_TEST(expire_old_snapshots)
{
    s_source(150);
    s_config(NULL, NULL, NULL);
    for (int step = 0; step < 3; step++) {
        if (step)
            s_mutate(step);
        ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    }
    ck_assert_int_eq(s_version("orders_full"), 3);
    char dir[PATH_MAX + 64], meta[PATH_MAX + 80];
    snprintf(dir, sizeof dir, "%s/lake/raw/main/orders_full", s_dir);
    snprintf(meta, sizeof meta, "%s/metadata", dir);
    int files3 = s_count_files(dir, "LOAD00000003-", ".parquet");
    ck_assert_int_gt(s_count_files(dir, "LOAD00000001-", ".parquet"), 0);
    ck_assert_int_gt(files3, 0);
    /* a dry run changes nothing */
    ck_assert_msg(RUN("lake", "expire", "--table", "orders_full", "--older-than", "0s", "--keep-recent", "0s",
                      "--dry-run") == 0,
                  "%s", e2e_output(s_dir));
    ck_assert_ptr_nonnull(strstr(e2e_output(s_dir), "2 of 3 snapshot(s) would expire"));
    ck_assert_int_eq(s_version("orders_full"), 3);
    ck_assert_int_gt(s_count_files(dir, "LOAD00000001-", ".parquet"), 0);
    /* the default safety margin (1 hour) keeps everything this young */
    ck_assert_msg(RUN("lake", "expire", "--table", "orders_full", "--older-than", "0s") == 0, "%s", e2e_output(s_dir));
    ck_assert_ptr_nonnull(strstr(e2e_output(s_dir), "0 of 3 snapshot(s) expired"));
    ck_assert_int_eq(s_version("orders_full"), 3);
    ck_assert_msg(RUN("lake", "expire", "--table", "orders_full", "--older-than", "0s", "--keep-recent", "0s") == 0,
                  "%s", e2e_output(s_dir));
    ck_assert_int_eq(s_version("orders_full"), 4);
    ck_assert_int_eq(s_count_files(dir, "LOAD00000001-", ".parquet"), 0);
    ck_assert_int_eq(s_count_files(dir, "LOAD00000002-", ".parquet"), 0);
    ck_assert_int_eq(s_count_files(dir, "LOAD00000003-", ".parquet"), files3);
    ck_assert_int_eq(s_count_files(meta, "LOAD00000001-", ".avro"), 0);
    ck_assert_int_eq(s_count_files(meta, "LOAD00000003-", ".avro"), 1);
    ck_assert_int_eq(s_count_files(meta, "snap-", ".avro"), 1);
    char path[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/v4.metadata.json", meta);
    char *text = e2e_slurp(path);
    cJSON *m = cJSON_Parse(text);
    free(text);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(m, "snapshots")), 1);
    ck_assert_double_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(m, "snapshots"), 0), "snapshot-id")->valuedouble,
                        cJSON_GetObjectItem(m, "current-snapshot-id")->valuedouble);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(m, "metadata-log")), 3);
    cJSON_Delete(m);
    /* the append table: old snapshots go, every data file stays (the current one needs them) */
    snprintf(dir, sizeof dir, "%s/lake/raw/main/orders", s_dir);
    int data = s_count_files(dir, "LOAD", ".parquet");
    ck_assert_msg(RUN("lake", "expire", "--table", "orders", "--older-than", "0s", "--keep-recent", "0s") == 0, "%s",
                  e2e_output(s_dir));
    ck_assert_int_eq(s_count_files(dir, "LOAD", ".parquet"), data);
    ck_assert_int_eq(s_version("orders"), 4);
    /* and the tables load on */
    s_mutate(4);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    ck_assert_int_eq(s_version("orders_full"), 5);
}
END_TEST

/* ---- partition_by (docs/iceberg.md#partitioning) ------------------------------------------------ */

/* regular files below a directory, at any depth (0 when it does not exist) */
static int s_files_below(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e = d ? readdir(d) : NULL; e; e = readdir(d)) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char sub[PATH_MAX + 256];
        struct stat sb;
        snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        if (lstat(sub, &sb) == 0)
            n += S_ISDIR(sb.st_mode) ? s_files_below(sub) : 1;
    }
    if (d)
        closedir(d);
    return n;
}

/* entries of a directory but "." and ".." (0 when it does not exist) */
static int s_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e = d ? readdir(d) : NULL; e; e = readdir(d))
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    if (d)
        closedir(d);
    return n;
}

/* pt: rows with a timestamp spread over days (one in 1969: day -1, some
 * null) and a category made of hostile strings ("../x", "a/b", "%", a
 * space, '~', '+', '*', "é", the empty string, a control byte, ".", "..",
 * a 300-character value, null), in runs of 7 rows so that a batch of 40
 * touches several partitions; every version in pt_versions */
static const char s_pt_cats[] =
    "SELECT 0 AS k, '../x' AS c UNION ALL SELECT 1, 'a/b' UNION ALL SELECT 2, '%' UNION ALL SELECT 3, 'two words'"
    " UNION ALL SELECT 4, '~t+i*' UNION ALL SELECT 5, 'é' UNION ALL SELECT 6, '' UNION ALL SELECT 7, char(1)"
    " UNION ALL SELECT 8, '.' UNION ALL SELECT 9, '..' UNION ALL SELECT 10, printf('%.300c', 'L')"
    " UNION ALL SELECT 11, NULL UNION ALL SELECT 12, 'plain'";

static void s_pt_source(int n)
{
    char sql[2048];
    e2e_sql(s_db, "CREATE TABLE pt(id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, updated_at TIMESTAMP, cat TEXT,"
                  " amount DECIMAL(10,2), flag BOOLEAN);"
                  "CREATE TABLE pt_versions(id INTEGER, seq INTEGER, updated_at TIMESTAMP, cat TEXT, amount DECIMAL(10,2), flag BOOLEAN);"
                  "CREATE TRIGGER pv_ins AFTER INSERT ON pt BEGIN INSERT INTO pt_versions VALUES(new.id, new.seq, new.updated_at, new.cat, new.amount, new.flag); END;"
                  "CREATE TRIGGER pv_upd AFTER UPDATE ON pt BEGIN INSERT INTO pt_versions VALUES(new.id, new.seq, new.updated_at, new.cat, new.amount, new.flag); END;");
    /* amount and flag: a decimal and a boolean (with nulls), so that the
     * rows gathered per partition (lake.c, s_gather) cover those layouts too */
    snprintf(sql, sizeof sql,
             "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < %d) "
             "INSERT INTO pt SELECT i, i,"
             " CASE WHEN i %% 17 = 0 THEN NULL WHEN i = 5 THEN '1969-12-31 23:30:00'"
             "  ELSE datetime('2026-11-25 00:00:00', '+' || (i * 7 %% 150) || ' hours') END,"
             " (SELECT c FROM (%s) WHERE k = (i / 7) %% 13),"
             " CASE WHEN i %% 5 = 0 THEN NULL ELSE i * 3 + 0.25 END, CASE WHEN i %% 6 = 0 THEN NULL ELSE i %% 2 END FROM c",
             n, s_pt_cats);
    e2e_sql(s_db, sql);
}

static void s_pt_mutate(int step)
{
    char sql[2048];
    snprintf(sql, sizeof sql,
             "UPDATE pt SET seq = (SELECT max(seq) FROM pt) + id, updated_at = datetime(updated_at, '+%d days'),"
             " cat = (SELECT c FROM (%s) WHERE k = (id + %d) %% 13) WHERE id %% 9 = %d;"
             "INSERT INTO pt SELECT max(id) + 1, (SELECT max(seq) + 1 FROM pt), '2026-12-0%d 08:00:00', 'new', 7.25, 1 FROM pt;",
             step, s_pt_cats, step, step, step);
    e2e_sql(s_db, sql);
}

#define S_PT_COLS "id, seq, updated_at, cat, amount, CASE flag WHEN 1 THEN 'true' WHEN 0 THEN 'false' END"
static const char s_pt_versions_sql[] = "SELECT " S_PT_COLS " FROM pt_versions";
static const char s_pt_current_sql[] = "SELECT " S_PT_COLS " FROM pt";

#define S_PT_ITEM(name, filter, part)                                                                                  \
    "{\"targetTableName\": \"" name "\", \"sourceSchema\": \"main\", \"sourceTable\": \"pt\"," filter                  \
    " \"activeflag\": \"Y\", \"ouputs3Prefix\": \"raw\", \"partition_by\": " part "}"
#define S_PT_DELTA " \"filtercolumn\": \"seq\", \"filteroperator\": \"gte\", \"startvalue\": \"1\","

static const char s_pt_items[] =
    S_PT_ITEM("pt_day", S_PT_DELTA, "\"day(updated_at)\"") ", "
    S_PT_ITEM("pt_bucket", "", "[\"bucket(4, id)\", \"year(updated_at)\"]") ", "
    S_PT_ITEM("pt_cat", S_PT_DELTA, "\"identity(cat)\"") ", "
    S_PT_ITEM("pt_multi", "", "[\"month(updated_at)\", \"bucket(3, cat)\"]") ", "
    S_PT_ITEM("pt_hour", "", "\"hour(updated_at)\"");

/* the target options of the partition tests: few open partitions, so the
 * least recently used file is closed and reopened as a new file */
static void s_pt_config(const char *items, const char *target_plugin, const char *target_extra)
{
    char path[PATH_MAX + 32], *text = NULL;
    snprintf(path, sizeof path, "%s/deltaload.json", s_dir);
    ck_assert_int_ge(asprintf(&text,
                              "{\"plugin_dirs\": [\"%s\", \"%s\"],\n"
                              " \"source\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"src.db\"}},\n"
                              " \"target\": {\"plugin\": \"%s\", \"options\": {%s\"path\": \"lake\", \"format\": \"parquet\","
                              " \"fsync\": false, \"table_format\": \"iceberg\", \"max_file_size\": 2048, %s}},\n"
                              " \"state\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"state.db\"}},\n"
                              " \"engine\": {\"batch_rows\": 40, \"lease_ttl_seconds\": 1},\n"
                              " \"tables\": [%s]}\n",
                              getenv("DLD_PLUGIN_DIR"), getenv("DLD_TEST_PLUGIN_DIR"),
                              target_plugin ? target_plugin : "file", target_extra ? target_extra : "",
                              target_plugin ? "\"inner_options\": {\"max_open_partitions\": 3}"
                                            : "\"max_open_partitions\": 3",
                              items),
                     0);
    e2e_write(path, text);
    free(text);
}

static void s_pt_expect(cJSON *day, cJSON *bucket, cJSON *cat, cJSON *multi)
{
    if (day)
        s_expect_table(day, "pt_day", s_pt_versions_sql);
    if (bucket)
        s_expect_table(bucket, "pt_bucket", s_pt_current_sql);
    if (cat)
        s_expect_table(cat, "pt_cat", s_pt_versions_sql);
    if (multi)
        s_expect_table(multi, "pt_multi", s_pt_current_sql);
}

static cJSON *s_expect_new(void)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddObjectToObject(e, "versions");
    return e;
}

/* the partition fields verify.mjs checked, and that it checked entries */
static void s_pt_verified(const char *table, cJSON *expect, const char *sql, int fields)
{
    const char *r = s_verify(table, expect, sql);
    fprintf(stderr, "%s: %s", table, r);
    char want[64];
    snprintf(want, sizeof want, "\"partition_fields\":%d,", fields);
    ck_assert_msg(strstr(r, want) != NULL, "%s: %s", table, r);
    ck_assert_msg(strstr(r, "\"partition_entries_checked\":0,") == NULL, "%s: %s", table, r);
}

/* Partitioned tables loaded full, then delta, through the binary: icebird
 * reads every snapshot, DuckDB the files (verify.mjs): each data file sits
 * in its partition's folder, its manifest entry's partition values are the
 * transform of each of its rows, the manifests' partition record has the
 * field ids 1000+ and the transforms' types, metadata.json the spec; no
 * file under data/ that no snapshot lists. */
START_TEST(partitioned_read_back)
{
    s_pt_source(120);
    s_pt_config(s_pt_items, NULL, NULL);
    cJSON *day = s_expect_delta, *bucket = s_expect_full, *cat = s_expect_new(), *multi = s_expect_new();
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_pt_expect(day, bucket, cat, multi);
    for (int step = 1; step <= 2; step++) {
        s_pt_mutate(step);
        ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
        s_pt_expect(day, bucket, cat, multi);
    }
    ck_assert_int_eq(s_version("pt_day"), 3);
    ck_assert_int_eq(s_version("pt_bucket"), 3);
    s_pt_verified("pt_day", day, s_pt_versions_sql, 1);
    s_pt_verified("pt_bucket", bucket, s_pt_current_sql, 2);
    s_pt_verified("pt_cat", cat, s_pt_versions_sql, 1);
    s_pt_verified("pt_multi", multi, s_pt_current_sql, 2);
    /* hour: about one row per partition here; its newest snapshot only */
    cJSON *hour = s_expect_new();
    const char *r = s_verify("pt_hour", hour, s_pt_current_sql);
    fprintf(stderr, "pt_hour: %s", r);
    ck_assert_msg(strstr(r, "\"partition_fields\":1,") && !strstr(r, "\"partition_entries_checked\":0,"), "%s", r);
    cJSON_Delete(hour);
    cJSON_Delete(cat);
    cJSON_Delete(multi);
    /* the spec in metadata.json */
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/lake/raw/main/pt_day/metadata/v3.metadata.json", s_dir);
    char *text = e2e_slurp(path);
    cJSON *m = cJSON_Parse(text);
    free(text);
    char *spec = cJSON_PrintUnformatted(cJSON_GetObjectItem(m, "partition-specs"));
    ck_assert_str_eq(spec, "[{\"spec-id\":0,\"fields\":[{\"name\":\"updated_at_day\",\"transform\":\"day\","
                           "\"source-id\":3,\"field-id\":1000}]}]");
    ck_assert_int_eq(cJSON_GetObjectItem(m, "default-spec-id")->valueint, 0);
    ck_assert_int_eq(cJSON_GetObjectItem(m, "last-partition-id")->valueint, 1000);
    free(spec);
    cJSON_Delete(m);
    /* the folders: 1969-12-31 (day -1) and null among them, hostile strings escaped */
    struct stat sb;
    snprintf(path, sizeof path, "%s/lake/raw/main/pt_day/data/updated_at_day=1969-12-31", s_dir);
    ck_assert_msg(stat(path, &sb) == 0, "%s", path);
    snprintf(path, sizeof path, "%s/lake/raw/main/pt_day/data/updated_at_day=null", s_dir);
    ck_assert_msg(stat(path, &sb) == 0, "%s", path);
    static const char *cats[] = {"cat=..~2Fx", "cat=a~2Fb", "cat=~25", "cat=two~20words", "cat=~7Et~2Bi~2A",
                                 "cat=~C3~A9", "cat=", "cat=~01", "cat=.", "cat=..", "cat=null", "cat=plain"};
    for (size_t i = 0; i < sizeof cats / sizeof *cats; i++) {
        snprintf(path, sizeof path, "%s/lake/raw/main/pt_cat/data/%s", s_dir, cats[i]);
        ck_assert_msg(stat(path, &sb) == 0 && S_ISDIR(sb.st_mode), "%s", path);
    }
    /* nothing escaped the table's data folder: the lake holds raw/ and only that */
    snprintf(path, sizeof path, "%s/lake", s_dir);
    ck_assert_int_eq(s_entries(path), 1);
    snprintf(path, sizeof path, "%s/lake/raw/main", s_dir);
    ck_assert_int_eq(s_entries(path), 5);
    snprintf(path, sizeof path, "%s/lake/raw/main/pt_cat", s_dir);
    ck_assert_int_eq(s_entries(path), 4); /* data, metadata, _manifests, _staging */
}
END_TEST

/* kill -9 before and after each recorded transition and inside the target
 * (mid-stream: several partitions' files open) with partitioned tables, then
 * recover: no doubles, no gaps (every snapshot read back), no orphan under
 * data/ or left staged */
START_TEST(partitioned_kill)
{
    static const char *points[] = {"before", "after"};
    static const char items[] = S_PT_ITEM("pt_day", S_PT_DELTA, "\"day(updated_at)\"") ", "
        S_PT_ITEM("pt_cat", S_PT_DELTA, "\"identity(cat)\"");
    s_pt_source(80);
    s_pt_config(items, NULL, NULL);
    cJSON *day = s_expect_delta, *cat = s_expect_full;
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_pt_expect(day, NULL, cat, NULL);
    s_pt_mutate(1);
    if (_i < 8) {
        char state[2048];
        snprintf(state, sizeof state,
                 "{\"plugin\": \"crash\", \"options\": {\"inner\": \"%s/dld-state-sqlite.so\", \"path\": \"state.db\","
                 " \"kill_at\": %d, \"kill_point\": \"%s\"}}",
                 getenv("DLD_PLUGIN_DIR"), _i / 2 + 1, points[_i % 2]);
        char path[PATH_MAX + 32];
        s_pt_config(items, NULL, NULL);
        snprintf(path, sizeof path, "%s/deltaload.json", s_dir);
        char *text = e2e_slurp(path), *next = NULL;
        char *at = strstr(text, "{\"plugin\": \"sqlite\", \"options\": {\"path\": \"state.db\"}}");
        ck_assert_ptr_nonnull(at);
        *at = '\0';
        ck_assert_int_ge(asprintf(&next, "%s%s%s", text, state,
                                  at + strlen("{\"plugin\": \"sqlite\", \"options\": {\"path\": \"state.db\"}}")),
                         0);
        e2e_write(path, next);
        free(text);
        free(next);
    } else {
        static const char *where[] = {"write", "finish", "publish"};
        char extra[1024];
        snprintf(extra, sizeof extra,
                 "\"inner\": \"%s/dld-target-file.so\", \"kill_in\": \"%s\", \"kill_after_writes\": %d, ",
                 getenv("DLD_PLUGIN_DIR"), where[_i - 8], 1);
        s_pt_config(items, "crash", extra);
    }
    ck_assert_int_eq(RUN("run"), 128 + 9);
    s_wait_lease();
    s_pt_config(items, NULL, NULL);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_pt_expect(day, NULL, cat, NULL);
    s_pt_mutate(2);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_pt_expect(day, NULL, cat, NULL);
    s_pt_verified("pt_day", day, s_pt_versions_sql, 1);
    s_pt_verified("pt_cat", cat, s_pt_versions_sql, 1);
}
END_TEST

/* A partitioned load published without its snapshot is rolled forward from
 * its deltaload manifest (which records each file's partition values):
 * the load's Iceberg manifest is written again byte for byte. */
START_TEST(partitioned_rolls_forward)
{
    static const char items[] = S_PT_ITEM("pt_cat", S_PT_DELTA, "[\"identity(cat)\", \"bucket(2, id)\"]");
    s_pt_source(60);
    s_pt_config(items, NULL, NULL);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_pt_mutate(1);
    char extra[1024];
    snprintf(extra, sizeof extra, "\"inner\": \"%s/dld-target-file.so\", \"kill_in\": \"publish\", \"kill_after_writes\": 1, ",
             getenv("DLD_PLUGIN_DIR"));
    s_pt_config(items, "crash", extra);
    ck_assert_int_eq(RUN("run"), 128 + 9);
    /* the snapshot of load 2 and its manifest go: as if publish died after the slot */
    char meta[PATH_MAX + 64], path[PATH_MAX + 320];
    snprintf(meta, sizeof meta, "%s/lake/raw/main/pt_cat/metadata", s_dir);
    snprintf(path, sizeof path, "%s/v2.metadata.json", meta);
    ck_assert_int_eq(unlink(path), 0);
    snprintf(path, sizeof path, "%s/version-hint.text", meta);
    e2e_write(path, "1");
    DIR *d = opendir(meta);
    char m0[PATH_MAX + 320] = "";
    for (struct dirent *e; d && (e = readdir(d));)
        if (!strncmp(e->d_name, "LOAD00000002-", 13) && strstr(e->d_name, "-m0.avro"))
            snprintf(m0, sizeof m0, "%s/%s", meta, e->d_name);
    closedir(d);
    ck_assert_msg(*m0, "no manifest of load 2 in %s", meta);
    FILE *f = fopen(m0, "rb");
    char before[65536];
    size_t nb = fread(before, 1, sizeof before, f);
    fclose(f);
    ck_assert_int_gt(nb, 0);
    ck_assert_int_lt(nb, sizeof before);
    ck_assert_int_eq(unlink(m0), 0);
    s_wait_lease();
    s_pt_config(items, NULL, NULL);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    ck_assert_msg(strstr(e2e_output(s_dir), "it was published: committed it"), "%s", e2e_output(s_dir));
    f = fopen(m0, "rb");
    ck_assert_ptr_nonnull(f);
    char after[65536];
    size_t na = fread(after, 1, sizeof after, f);
    fclose(f);
    ck_assert_int_eq(na, nb);
    ck_assert_msg(memcmp(before, after, nb) == 0, "the rolled-forward manifest differs");
    s_expect_table(s_expect_delta, "pt_cat", s_pt_versions_sql);
    s_pt_verified("pt_cat", s_expect_delta, s_pt_versions_sql, 2);
}
END_TEST

/* A partitioned load killed after finish (its files complete, staged under
 * _staging/data/<folders>/) whose state store is then lost: `state rebuild`
 * finds its files by listing data/ (the load has no manifest: an orphan),
 * claims its slot and removes them; the next run loads the change once. */
START_TEST(partitioned_orphans_swept)
{
    static const char items[] = S_PT_ITEM("pt_cat", S_PT_DELTA, "\"identity(cat)\"");
    s_pt_source(60);
    s_pt_config(items, NULL, NULL);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_expect_table(s_expect_delta, "pt_cat", s_pt_versions_sql);
    s_pt_mutate(1);
    char extra[1024], path[PATH_MAX + 64];
    snprintf(extra, sizeof extra, "\"inner\": \"%s/dld-target-file.so\", \"kill_in\": \"finish\", \"kill_after_writes\": 1, ",
             getenv("DLD_PLUGIN_DIR"));
    s_pt_config(items, "crash", extra);
    ck_assert_int_eq(RUN("run"), 128 + 9);
    snprintf(path, sizeof path, "%s/lake/raw/main/pt_cat/_staging/data", s_dir);
    int staged = s_files_below(path);
    ck_assert_int_gt(staged, 1);
    /* the state store is lost with the only record of load 2 */
    snprintf(path, sizeof path, "%s/state.db", s_dir);
    ck_assert_int_eq(unlink(path), 0);
    s_wait_lease();
    s_pt_config(items, NULL, NULL);
    ck_assert_msg(RUN("state", "rebuild", "--table", "pt_cat") == 0, "%s", e2e_output(s_dir));
    snprintf(path, sizeof path, "%s/lake/raw/main/pt_cat/_staging/data", s_dir);
    ck_assert_msg(s_files_below(path) == 0, "%d staged files left after the rebuild: %s", s_files_below(path),
                  e2e_output(s_dir));
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_expect_table(s_expect_delta, "pt_cat", s_pt_versions_sql);
    ck_assert_int_eq(s_version("pt_cat"), 2);
    s_pt_verified("pt_cat", s_expect_delta, s_pt_versions_sql, 1);
}
END_TEST

/* files of one load below a directory, at any depth */
static int s_load_files_below(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e = d ? readdir(d) : NULL; e; e = readdir(d)) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char sub[PATH_MAX + 256];
        struct stat sb;
        snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        if (lstat(sub, &sb) == 0)
            n += S_ISDIR(sb.st_mode) ? s_load_files_below(sub, prefix) : !strncmp(e->d_name, prefix, strlen(prefix));
    }
    if (d)
        closedir(d);
    return n;
}

/* `lake expire` on a partitioned table of full loads (overwrites): the
 * expired loads' files under data/ go, the current load's stay */
START_TEST(partitioned_expire)
{
    static const char items[] = S_PT_ITEM("pt_bucket", "", "[\"bucket(4, id)\", \"year(updated_at)\"]");
    s_pt_source(60);
    s_pt_config(items, NULL, NULL);
    for (int step = 0; step < 3; step++) {
        if (step)
            s_pt_mutate(step);
        ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    }
    ck_assert_int_eq(s_version("pt_bucket"), 3);
    char data[PATH_MAX + 64];
    snprintf(data, sizeof data, "%s/lake/raw/main/pt_bucket/data", s_dir);
    int third = s_load_files_below(data, "LOAD00000003-");
    ck_assert_int_gt(s_load_files_below(data, "LOAD00000001-"), 1);
    ck_assert_int_gt(third, 1);
    ck_assert_msg(RUN("lake", "expire", "--table", "pt_bucket", "--older-than", "0s", "--keep-recent", "0s") == 0, "%s",
                  e2e_output(s_dir));
    ck_assert_int_eq(s_version("pt_bucket"), 4);
    ck_assert_int_eq(s_load_files_below(data, "LOAD00000001-"), 0);
    ck_assert_int_eq(s_load_files_below(data, "LOAD00000002-"), 0);
    ck_assert_int_eq(s_load_files_below(data, "LOAD00000003-"), third);
    cJSON *e = s_expect_new();
    cJSON_AddTrueToObject(e, "only_latest");
    s_pt_verified("pt_bucket", e, s_pt_current_sql, 2);
    cJSON_Delete(e);
}
END_TEST

/* Refusals, each before anything is written: malformed transforms, plain
 * files, merge_key with partition_by, a missing column, a type the
 * transform does not take, and a change of the table's partitioning (a
 * partitioned table re-partitioned or unpartitioned, an unpartitioned one
 * partitioned) naming both specs. */
START_TEST(partition_by_refused)
{
    s_pt_source(20);
    static const char item[] = "{\"targetTableName\": \"pt_p\", \"sourceSchema\": \"main\", \"sourceTable\": \"pt\","
                               S_PT_DELTA " \"activeflag\": \"Y\", \"ouputs3Prefix\": \"raw\"%s}";
    char items[sizeof item + 256], path[PATH_MAX + 64];
    struct stat sb;
    snprintf(path, sizeof path, "%s/lake/raw/main/pt_p", s_dir);
    static const struct {
        const char *attr, *message;
    } bad[] = {
        {", \"partition_by\": [\"days(seq)\"]", "item pt_p: partition_by 'days(seq)': expected identity(col)"},
        {", \"partition_by\": \"bucket(4, id)\", \"merge_key\": [\"id\"]", "item pt_p: merge_key with partition_by is not supported"},
        {", \"partition_by\": \"day(nope)\"", "nope"},
        {", \"partition_by\": \"hour(seq)\"", "seq"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(items, sizeof items, item, bad[i].attr);
        s_config_items(items);
        ck_assert_int_ne(RUN("run"), 0);
        ck_assert_msg(strstr(e2e_output(s_dir), bad[i].message), "%s: %s", bad[i].attr, e2e_output(s_dir));
        char sub[PATH_MAX + 80];
        snprintf(sub, sizeof sub, "%s/metadata", path);
        ck_assert_msg(stat(sub, &sb) != 0, "%s: Iceberg metadata written", bad[i].attr);
        snprintf(sub, sizeof sub, "%s/data", path);
        ck_assert_msg(s_files_below(sub) == 0, "%s: data files written", bad[i].attr);
    }
    /* plain files: refused whatever the transform */
    snprintf(items, sizeof items, item, ", \"partition_by\": \"identity(id)\"");
    s_config_items(items);
    snprintf(path, sizeof path, "%s/deltaload.json", s_dir);
    char *text = e2e_slurp(path), *at = strstr(text, "\"table_format\": \"iceberg\"");
    ck_assert_ptr_nonnull(at);
    memcpy(at, "\"table_format\": \"files\"  ", strlen("\"table_format\": \"files\"  "));
    e2e_write(path, text);
    free(text);
    ck_assert_int_ne(RUN("run"), 0);
    ck_assert_msg(strstr(e2e_output(s_dir), "item pt_p: partition_by needs \"table_format\": \"iceberg\""), "%s",
                  e2e_output(s_dir));
    /* partitioned by day: loads */
    snprintf(items, sizeof items, item, ", \"partition_by\": \"day(updated_at)\"");
    s_config_items(items);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    ck_assert_int_eq(s_version("pt_p"), 1);
    char data[PATH_MAX + 64];
    snprintf(data, sizeof data, "%s/lake/raw/main/pt_p/data", s_dir);
    int files = s_files_below(data);
    ck_assert_int_gt(files, 1);
    /* another spec, or none: refused naming both, nothing written */
    static const char *changed[] = {", \"partition_by\": \"month(updated_at)\"", ""};
    static const char *asks[] = {"the item asks for [{\"name\":\"updated_at_month\"", "the item asks for []"};
    for (int i = 0; i < 2; i++) {
        s_pt_mutate(i + 1);
        snprintf(items, sizeof items, item, changed[i]);
        s_config_items(items);
        ck_assert_int_ne(RUN("run"), 0);
        ck_assert_msg(strstr(e2e_output(s_dir), "item pt_p: partition_by does not match the Iceberg table's partition "
                                                "spec: the table has [{\"name\":\"updated_at_day\""),
                      "%s", e2e_output(s_dir));
        ck_assert_msg(strstr(e2e_output(s_dir), asks[i]), "%s", e2e_output(s_dir));
        ck_assert_int_eq(s_version("pt_p"), 1);
        ck_assert_int_eq(s_files_below(data), files);
        snprintf(path, sizeof path, "%s/lake/raw/main/pt_p/_staging/data", s_dir);
        ck_assert_int_eq(s_files_below(path), 0);
        snprintf(path, sizeof path, "%s/lake/raw/main/pt_p/_staging", s_dir);
        ck_assert_int_eq(s_count_files(path, "LOAD", ".parquet"), 0);
    }
    /* back to its spec: loads again */
    snprintf(items, sizeof items, item, ", \"partition_by\": \"day(updated_at)\"");
    s_config_items(items);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    ck_assert_int_eq(s_version("pt_p"), 2);
    /* an unpartitioned table with rows cannot become partitioned */
    e2e_sql(s_db, "UPDATE pt SET seq = seq + 1000 WHERE id = 3");
    static const char pt_u[] = "{\"targetTableName\": \"pt_u\", \"sourceSchema\": \"main\", \"sourceTable\": \"pt\","
                               S_PT_DELTA " \"activeflag\": \"Y\", \"ouputs3Prefix\": \"raw\"%s}";
    char both[2 * sizeof items];
    snprintf(items, sizeof items, pt_u, "");
    snprintf(both, sizeof both, "%s, {\"targetTableName\": \"pt_p\", \"sourceSchema\": \"main\", \"sourceTable\": "
             "\"pt\"," S_PT_DELTA " \"activeflag\": \"Y\", \"ouputs3Prefix\": \"raw\", \"partition_by\": "
             "\"day(updated_at)\"}", items);
    s_config_items(both);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    snprintf(items, sizeof items, pt_u, ", \"partition_by\": \"identity(cat)\"");
    snprintf(both, sizeof both, "%s, {\"targetTableName\": \"pt_p\", \"sourceSchema\": \"main\", \"sourceTable\": "
             "\"pt\"," S_PT_DELTA " \"activeflag\": \"Y\", \"ouputs3Prefix\": \"raw\", \"partition_by\": "
             "\"day(updated_at)\"}", items);
    s_config_items(both);
    e2e_sql(s_db, "UPDATE pt SET seq = seq + 2000 WHERE id = 4");
    ck_assert_int_ne(RUN("run"), 0);
    ck_assert_msg(strstr(e2e_output(s_dir), "the table has [], the item asks for [{\"name\":\"cat\""), "%s",
                  e2e_output(s_dir));
    ck_assert_int_eq(s_version("pt_u"), 1);
}
END_TEST

static Suite *s_suite(void)
{
    Suite *s = suite_create("iceberg");
    TCase *tc = tcase_create("iceberg");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, snapshots_read_back);
    tcase_add_test(tc, schema_evolves);
    tcase_add_loop_test(tc, kill_at_every_transition, 0, 8);
    tcase_add_loop_test(tc, kill_inside_target, 0, 3);
    tcase_add_test(tc, published_without_snapshot_rolls_forward);
    tcase_add_test(tc, upserts_read_back);
    tcase_add_test(tc, upsert_rolls_forward);
    suite_add_tcase(s, tc);
    /* its own case, to repeat it alone: CK_RUN_CASE=race */
    TCase *tr = tcase_create("race");
    tcase_add_checked_fixture(tr, s_setup, s_teardown);
    tcase_set_timeout(tr, 120);
    tcase_add_test(tr, racing_commits);
    suite_add_tcase(s, tr);
    /* CK_RUN_CASE=expire */
    TCase *te = tcase_create("expire");
    tcase_add_checked_fixture(te, s_setup, s_teardown);
    tcase_set_timeout(te, 120);
    tcase_add_test(te, expire_old_snapshots);
    suite_add_tcase(s, te);
    /* CK_RUN_CASE=partition */
    TCase *tp = tcase_create("partition");
    tcase_add_checked_fixture(tp, s_setup, s_teardown);
    tcase_set_timeout(tp, 120);
    tcase_add_test(tp, partition_by_refused);
    tcase_add_test(tp, partitioned_read_back);
    tcase_add_test(tp, partitioned_rolls_forward);
    tcase_add_test(tp, partitioned_orphans_swept);
    tcase_add_test(tp, partitioned_expire);
    tcase_add_loop_test(tp, partitioned_kill, 0, 11);
    suite_add_tcase(s, tp);
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

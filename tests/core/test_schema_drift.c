/*
 * Issue 13, schema tracking: the columns each load read are recorded (run
 * info, manifest) and compared with the last committed load's before a row
 * reaches the target; schema_change (fail | evolve) decides, and a retyped
 * filter column fails every policy. The binary end to end on SQLite → file
 * (CSV), each case twice: with the SQLite source declaring its columns in
 * extract_begin (ABI 1.2) and through the contract suite's liar source with
 * `lie: no_schema` (a source of 1.1: the host reads the first batch). Plus
 * the comparison rules on their own (widening) against a fake state store.
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "e2e_util.h"
#include "schema_track.h"
#include "test_host.h"

static char s_dir[PATH_MAX];
static char s_db[PATH_MAX + 16], s_state[PATH_MAX + 16], s_mdir[PATH_MAX + 32];
static char s_target[2048]; /* a target other than the plain file one (the crash wrapper), when set */

#define RUN(...) e2e_run(s_dir, (const char *const[]){__VA_ARGS__, NULL}, 0)

static void s_setup(void)
{
    ck_assert_int_eq(dld_test_tmpdir(s_dir, sizeof s_dir, "drift"), 0);
    snprintf(s_db, sizeof s_db, "%s/src.db", s_dir);
    snprintf(s_state, sizeof s_state, "%s/state.db", s_dir);
    snprintf(s_mdir, sizeof s_mdir, "%s/lake/t/_manifests", s_dir);
    s_target[0] = '\0';
}

static void s_teardown(void)
{
    if (getenv("DLD_KEEP_TMP") == NULL)
        dld_test_rmtree(s_dir);
}

/* fallback: 0 = the sqlite source declares its columns, 1 = the liar hides
 * them, 2 = the liar declares columns its batches do not have */
static void s_config(int fallback, const char *engine_extra, const char *item_extra)
{
    char path[PATH_MAX + 32], text[8192], source[512];
    snprintf(path, sizeof path, "%s/deltaload.json", s_dir);
    if (fallback)
        snprintf(source, sizeof source,
                 "{\"plugin\": \"liar\", \"options\": {\"path\": \"src.db\", \"lie\": \"%s\"}}",
                 fallback == 1 ? "no_schema" : "schema_lies");
    else
        snprintf(source, sizeof source, "{\"plugin\": \"sqlite\", \"options\": {\"path\": \"src.db\"}}");
    snprintf(text, sizeof text,
             "{\"plugin_dirs\": [\"%s\", \"%s\", \"%s\"],\n"
             " \"source\": %s,\n"
             " \"target\": %s,\n"
             " \"state\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"state.db\"}},\n"
             " \"engine\": {\"retries\": 0%s},\n"
             " \"tables\": [{\"targetTableName\": \"t\", \"sourceTable\": \"t\", \"filtercolumn\": \"id\"%s}]}\n",
             getenv("DLD_PLUGIN_DIR"), getenv("DLD_CONTRACT_DIR"), getenv("DLD_TEST_PLUGIN_DIR"), source,
             s_target[0] ? s_target
                         : "{\"plugin\": \"file\", \"options\": {\"path\": \"lake\", \"format\": \"csv\", \"fsync\": false}}",
             engine_extra ? engine_extra : "",
             item_extra ? item_extra : "");
    e2e_write(path, text);
}

/* files directly in a folder (not its subfolders) */
static int s_count(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.' && e->d_type == DT_REG;
    if (d)
        closedir(d);
    return n;
}

static int s_data_files(void)
{
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/lake/t", s_dir);
    return s_count(p);
}

static const char *s_watermark(void) { return e2e_sql_value(s_state, "SELECT value FROM watermarks WHERE table_name='t'"); }

/* the names and types of the newest manifest's "columns", as "id:l,a:l" */
static const char *s_manifest_columns(void)
{
    static char out[1024];
    char best[600] = "";
    DIR *d = opendir(s_mdir);
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.' && strcmp(e->d_name, best) > 0)
            snprintf(best, sizeof best, "%s", e->d_name);
    if (d)
        closedir(d);
    out[0] = '\0';
    char path[PATH_MAX + 700];
    snprintf(path, sizeof path, "%s/%s", s_mdir, best);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "no manifest in %s", s_mdir);
    static char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    cJSON *m = cJSON_Parse(text);
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(m, "columns");
    ck_assert_msg(cJSON_IsArray(cols), "manifest %s has no columns", best);
    for (const cJSON *c = cols->child; c; c = c->next)
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s:%s", out[0] ? "," : "",
                 cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "name")),
                 cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "type")));
    cJSON_Delete(m);
    return out;
}

static void s_expect_fail(const char *needle, const char *needle2)
{
    int rc = RUN("-c", "deltaload.json", "run");
    const char *out = e2e_output(s_dir);
    ck_assert_msg(rc == 1, "exit %d (want 1, a failed table): %s", rc, out);
    ck_assert_msg(strstr(out, needle), "no '%s' in: %s", needle, out);
    ck_assert_msg(needle2 == NULL || strstr(out, needle2), "no '%s' in: %s", needle2, out);
}

static void s_expect_ok(void)
{
    int rc = RUN("-c", "deltaload.json", "run");
    ck_assert_msg(rc == 0, "exit %d: %s", rc, e2e_output(s_dir));
}

/* ---- added column: fail (the default) writes nothing, every run; evolve appends it ---- */
START_TEST(added_column)
{
    int fb = _i;
    e2e_sql(s_db, "CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT);"
                  "INSERT INTO t VALUES (1, 10, 'x'), (2, 20, 'y'), (3, 30, 'z');");
    s_config(fb, NULL, NULL);
    s_expect_ok();
    ck_assert_str_eq(s_manifest_columns(), "id:l,a:l,b:u");
    e2e_sql(s_db, "ALTER TABLE t ADD COLUMN c REAL; INSERT INTO t VALUES (4, 40, 'w', 1.5);");
    for (int i = 0; i < 2; i++) { /* the same failure until the policy or the source changes */
        s_expect_fail("added c (float64)", "schema_change is fail");
        ck_assert_int_eq(s_count(s_mdir), 1);
        ck_assert_int_eq(s_data_files(), 1);
        ck_assert_str_eq(s_watermark(), "3");
    }
    /* `plan` shows it too (when the source declares its columns), writing nothing */
    const char *before = e2e_sql_value(s_state, "SELECT count(*) FROM runs");
    char nruns[32];
    snprintf(nruns, sizeof nruns, "%s", before);
    int prc = RUN("-c", "deltaload.json", "plan");
    if (fb == 0)
        ck_assert_msg(prc == 1 && strstr(e2e_output(s_dir), "added c (float64)"), "plan: %d %s", prc,
                      e2e_output(s_dir));
    else
        ck_assert_msg(prc == 0, "plan: %d %s", prc, e2e_output(s_dir));
    ck_assert_str_eq(e2e_sql_value(s_state, "SELECT count(*) FROM runs"), nruns);
    /* the failed run's record names the columns it read */
    ck_assert_msg(strstr(e2e_sql_value(s_state, "SELECT info_json FROM runs WHERE status = 5 ORDER BY load_id DESC"),
                         "\"name\":\"c\""),
                  "failed run has no columns");
    s_config(fb, NULL, ", \"schema_change\": \"evolve\"");
    s_expect_ok();
    ck_assert_int_eq(s_count(s_mdir), 2);
    ck_assert_str_eq(s_manifest_columns(), "id:l,a:l,b:u,c:g");
    ck_assert_str_eq(s_watermark(), "4");
    ck_assert_msg(strstr(e2e_sql_value(s_state, "SELECT info_json FROM runs WHERE status = 4 ORDER BY load_id DESC"),
                         "evolved since load 1: added c (float64)"),
                  "no schema_change note in the committed run");
    /* the new file carries the new column; the first keeps its own */
    char csv[PATH_MAX + 64];
    snprintf(csv, sizeof csv, "%s/lake/t", s_dir);
    char *rows = e2e_folder_rows(csv);
    ck_assert_msg(strstr(rows, "4|40|w|1.5") && strstr(rows, "1|10|x\n"), "%s", rows);
    free(rows);
    /* nothing changed since: a plain delta again, even back under fail */
    s_config(fb, NULL, NULL);
    e2e_sql(s_db, "INSERT INTO t VALUES (5, 50, 'v', 2.5);");
    s_expect_ok();
    ck_assert_str_eq(s_watermark(), "5");
    ck_assert_int_eq(s_count(s_mdir), 3);
}
END_TEST

/* ---- dropped column: fail names it; evolve (the config's default) accepts it ---- */
START_TEST(dropped_column)
{
    int fb = _i;
    e2e_sql(s_db, "CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT);"
                  "INSERT INTO t VALUES (1, 10, 'x'), (2, 20, 'y');");
    s_config(fb, NULL, NULL);
    s_expect_ok();
    e2e_sql(s_db, "ALTER TABLE t DROP COLUMN b; INSERT INTO t VALUES (3, 30);");
    s_expect_fail("dropped b (utf8)", NULL);
    ck_assert_int_eq(s_data_files(), 1);
    ck_assert_str_eq(s_watermark(), "2");
    s_config(fb, ", \"schema_change\": \"evolve\"", NULL);
    s_expect_ok();
    ck_assert_str_eq(s_manifest_columns(), "id:l,a:l");
    ck_assert_str_eq(s_watermark(), "3");
    /* an item's own policy wins over the config's */
    e2e_sql(s_db, "ALTER TABLE t ADD COLUMN z TEXT; INSERT INTO t VALUES (4, 40, 'q');");
    s_config(fb, ", \"schema_change\": \"evolve\"", ", \"schema_change\": \"fail\"");
    s_expect_fail("added z (utf8)", NULL);
    ck_assert_str_eq(s_watermark(), "3");
}
END_TEST

/* ---- retyped columns: a narrowing or another type fails under evolve too;
 * a decimal's precision may widen under evolve ---- */
START_TEST(retyped_column)
{
    int fb = _i;
    e2e_sql(s_db, "CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, d DECIMAL(10,2));"
                  "INSERT INTO t VALUES (1, 10, 1.25), (2, 20, 2.5);");
    s_config(fb, ", \"schema_change\": \"evolve\"", NULL);
    s_expect_ok();
    ck_assert_str_eq(s_manifest_columns(), "id:l,a:l,d:d:10,2");
    /* d widens: accepted under evolve, not under fail */
    e2e_sql(s_db, "CREATE TABLE t2(id INTEGER PRIMARY KEY, a INTEGER, d DECIMAL(12,2));"
                  "INSERT INTO t2 SELECT * FROM t; DROP TABLE t; ALTER TABLE t2 RENAME TO t;"
                  "INSERT INTO t VALUES (3, 30, 12345678.5);");
    s_config(fb, NULL, NULL);
    s_expect_fail("widened d: decimal(10,2) → decimal(12,2)", NULL);
    s_config(fb, ", \"schema_change\": \"evolve\"", NULL);
    s_expect_ok();
    ck_assert_str_eq(s_manifest_columns(), "id:l,a:l,d:d:12,2");
    ck_assert_str_eq(s_watermark(), "3");
    /* a becomes text: no policy takes it */
    e2e_sql(s_db, "CREATE TABLE t2(id INTEGER PRIMARY KEY, a TEXT, d DECIMAL(12,2));"
                  "INSERT INTO t2 SELECT * FROM t; DROP TABLE t; ALTER TABLE t2 RENAME TO t;"
                  "INSERT INTO t VALUES (4, 'forty', 4);");
    s_expect_fail("retyped a: int64 → utf8", "evolve accepts only");
    ck_assert_int_eq(s_count(s_mdir), 2);
    ck_assert_int_eq(s_data_files(), 2);
    ck_assert_str_eq(s_watermark(), "3");
}
END_TEST

/* ---- the case: the filter column becomes text. Under any policy
 * the window fails (it would compare '10' < '3' as text and skip rows) ---- */
START_TEST(filter_column_retyped)
{
    int fb = _i;
    e2e_sql(s_db, "CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER);"
                  "INSERT INTO t VALUES (1, 10), (2, 20), (3, 30);");
    s_config(fb, ", \"schema_change\": \"evolve\"", NULL);
    s_expect_ok();
    /* as text nothing is above '3' ('10' < '3'): the window looks empty. A
     * source that declares its columns is checked anyway; one that does not
     * has no batch to show them, and its window is a no-op (the rows wait) */
    e2e_sql(s_db, "CREATE TABLE t2(id TEXT PRIMARY KEY, a INTEGER);"
                  "INSERT INTO t2 SELECT CAST(id AS TEXT), a FROM t; DROP TABLE t; ALTER TABLE t2 RENAME TO t;"
                  "INSERT INTO t VALUES ('10', 100), ('20', 200);");
    if (fb == 0)
        s_expect_fail("the type of filter column id changed since load 1 (int64 → utf8)", "under every schema_change");
    else
        ck_assert_int_eq(RUN("-c", "deltaload.json", "run"), 0);
    ck_assert_str_eq(s_watermark(), "3");
    /* the case: a window that still finds rows, in text order */
    e2e_sql(s_db, "INSERT INTO t VALUES ('4', 40);");
    s_expect_fail("the type of filter column id changed since load 1 (int64 → utf8)", "under every schema_change");
    ck_assert_int_eq(s_count(s_mdir), 1);
    ck_assert_int_eq(s_data_files(), 1);
    ck_assert_str_eq(s_watermark(), "3");
    s_config(fb, NULL, NULL);
    s_expect_fail("the type of filter column id changed", NULL);
    ck_assert_str_eq(s_watermark(), "3");
}
END_TEST

/* ---- a source whose batches are not what it declared fails its table, named ---- */
START_TEST(declared_columns_must_match)
{
    e2e_sql(s_db, "CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER); INSERT INTO t VALUES (1, 10);");
    s_config(2, NULL, NULL);
    s_expect_fail("source plugin liar broke its contract: extract_begin declared the columns", "but the first batch has");
    ck_assert_int_eq(s_data_files(), 0);
    ck_assert_str_eq(s_watermark(), "");
}
END_TEST

/* ---- rewrite: a change loads the table from the beginning into version 2 (lake/t__v2), once,
 * even when the first try is killed; later deltas go there; version 1 stays as it was ---- */
static char *s_rows(const char *folder)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/lake/%s", s_dir, folder);
    return e2e_folder_rows(p);
}

START_TEST(rewrite_version)
{
    int fb = _i; /* 0: declared columns (checked right after planning); 1: the first batch tells (after recording) */
    e2e_sql(s_db, "CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER);"
                  "INSERT INTO t VALUES (1, 10), (2, 20), (3, 30);");
    s_config(fb, NULL, ", \"schema_change\": \"rewrite\"");
    s_expect_ok();
    char *v1 = s_rows("t");
    ck_assert_str_eq(v1, "1|10\n2|20\n3|30\n");
    e2e_sql(s_db, "ALTER TABLE t ADD COLUMN c TEXT DEFAULT 'd'; INSERT INTO t VALUES (4, 40, 'w');");
    char nruns[32], lake2[PATH_MAX + 32];
    snprintf(lake2, sizeof lake2, "%s/lake/t__v2", s_dir);
    if (fb == 0) { /* plan names the rewrite, shows its window from the beginning, writes nothing */
        snprintf(nruns, sizeof nruns, "%s", e2e_sql_value(s_state, "SELECT count(*) FROM runs"));
        int prc = RUN("-c", "deltaload.json", "plan");
        const char *out = e2e_output(s_dir);
        ck_assert_msg(prc == 0 && strstr(out, "would be a load from the beginning into version 2 (t__v2)"), "plan: %d %s",
                      prc, out);
        ck_assert_str_eq(e2e_sql_value(s_state, "SELECT count(*) FROM runs"), nruns);
        ck_assert_int_eq(s_count(lake2), 0);
    }
    /* killed after writing version 2's files (fb 0: before publishing them; the next run's recovery discards
     * them and the change is found and rewritten again) or while publishing (fb 1: recovery commits it) */
    snprintf(s_target, sizeof s_target,
             "{\"plugin\": \"crash\", \"options\": {\"inner\": \"%s/dld-target-file.so\", \"path\": \"lake\","
             " \"format\": \"csv\", \"fsync\": false, \"kill_in\": \"%s\"}}",
             getenv("DLD_PLUGIN_DIR"), fb == 0 ? "finish" : "publish");
    s_config(fb, NULL, ", \"schema_change\": \"rewrite\"");
    int krc = RUN("-c", "deltaload.json", "run");
    ck_assert_msg(krc != 0, "the crash target did not kill the run: %s", e2e_output(s_dir));
    ck_assert_str_eq(s_watermark(), "3");
    s_target[0] = '\0';
    s_config(fb, NULL, ", \"schema_change\": \"rewrite\"");
    s_expect_ok();
    ck_assert_msg(strstr(e2e_output(s_dir), fb == 0 ? "is a load from the beginning into version 2 (t__v2)"
                                                    : "it was published: committed it"),
                  "%s", e2e_output(s_dir));
    char *v2 = s_rows("t__v2");
    ck_assert_str_eq(v2, "1|10|d\n2|20|d\n3|30|d\n4|40|w\n"); /* one full copy, with the new column */
    free(v2);
    ck_assert_str_eq(s_watermark(), "4");
    char *again = s_rows("t");
    ck_assert_str_eq(again, v1); /* version 1 untouched */
    free(again);
    ck_assert_msg(strstr(e2e_sql_value(s_state, "SELECT info_json FROM runs WHERE status = 4 ORDER BY load_id DESC"),
                         "\"table_version\":2"),
                  "the committed rewrite does not record version 2");
    /* later deltas continue in version 2, with no further rewrite */
    e2e_sql(s_db, "INSERT INTO t VALUES (5, 50, 'v');");
    s_expect_ok();
    ck_assert_msg(strstr(e2e_output(s_dir), "rewrite") == NULL, "%s", e2e_output(s_dir));
    v2 = s_rows("t__v2");
    ck_assert_str_eq(v2, "1|10|d\n2|20|d\n3|30|d\n4|40|w\n5|50|v\n");
    free(v2);
    ck_assert_str_eq(s_watermark(), "5");
    again = s_rows("t");
    ck_assert_str_eq(again, v1);
    free(again);
    free(v1);
    /* status --json says which version and where */
    ck_assert_int_eq(RUN("-c", "deltaload.json", "status", "--json"), 0);
    ck_assert_msg(strstr(e2e_output(s_dir), "\"table_version\":\t2") &&
                      strstr(e2e_output(s_dir), "\"table_folder\":\t\"t__v2\""),
                  "%s", e2e_output(s_dir));
    /* a backfill cannot start a new version: refused, nothing written */
    e2e_sql(s_db, "ALTER TABLE t ADD COLUMN d INTEGER;");
    int brc = RUN("-c", "deltaload.json", "backfill", "--table", "t", "--from", "1", "--to", "2");
    ck_assert_msg(brc == 1 && strstr(e2e_output(s_dir), "run it (not a backfill) first"), "backfill: %d %s", brc,
                  e2e_output(s_dir));
    ck_assert_int_eq(s_count(lake2), 2);
    ck_assert_str_eq(s_watermark(), "5");
    e2e_sql(s_db, "ALTER TABLE t DROP COLUMN d;");
    /* a retyped filter column still fails under rewrite */
    e2e_sql(s_db, "CREATE TABLE t2(id TEXT PRIMARY KEY, a INTEGER, c TEXT); INSERT INTO t2 SELECT CAST(id AS TEXT), a, c FROM t;"
                  "DROP TABLE t; ALTER TABLE t2 RENAME TO t; INSERT INTO t VALUES ('9', 90, 'n');");
    s_expect_fail("the type of filter column id changed", NULL);
    ck_assert_int_eq(s_count(lake2), 2);
    ck_assert_str_eq(s_watermark(), "5");
    /* a lost state store is not rebuilt from version 1 alone */
    ck_assert_int_eq(remove(s_state), 0);
    int rrc = RUN("-c", "deltaload.json", "state", "rebuild", "--table", "t");
    ck_assert_msg(rrc != 0 && strstr(e2e_output(s_dir), "has a version 2 in the lake (t__v2"), "rebuild: %d %s", rrc,
                  e2e_output(s_dir));
    ck_assert_str_eq(s_watermark(), ""); /* nothing restored */
}
END_TEST

/* ---- the option is checked when the config is read (exit 3) ---- */
START_TEST(policy_validated)
{
    e2e_sql(s_db, "CREATE TABLE t(id INTEGER PRIMARY KEY);");
    s_config(0, ", \"schema_change\": \"sometimes\"", NULL);
    ck_assert_int_eq(RUN("-c", "deltaload.json", "run"), 3);
    ck_assert_msg(strstr(e2e_output(s_dir), "engine: schema_change must be"), "%s", e2e_output(s_dir));
    s_config(0, NULL, ", \"schema_change\": 1");
    ck_assert_int_eq(RUN("-c", "deltaload.json", "run"), 3);
    ck_assert_msg(strstr(e2e_output(s_dir), "item t: schema_change must be"), "%s", e2e_output(s_dir));
}
END_TEST

/* ---- the comparison rules against a fake store whose last committed load read `s_prev` ---- */
static const char *s_prev;

static int s_fake_history(void *inst, const char *table, int32_t limit, int (*each)(void *, const struct dld_run *),
                          void *ctx, struct dld_error *err)
{
    (void)inst, (void)limit, (void)err;
    char info[2048];
    snprintf(info, sizeof info, "{\"load_uid\":\"0123456789abcdef\",\"columns\":%s}", s_prev);
    struct dld_run failed = {.struct_size = sizeof failed, .table = (char *)table, .load_id = 8,
                             .mode = DLD_MODE_DELTA, .status = DLD_RUN_FAILED, .info_json = (char *)"{\"columns\":[]}"};
    struct dld_run ok = {.struct_size = sizeof ok, .table = (char *)table, .load_id = 7, .mode = DLD_MODE_DELTA,
                         .status = DLD_RUN_COMMITTED, .info_json = info};
    int rc = each(ctx, &failed); /* newest first: a failed load's columns do not count */
    return rc ? rc : each(ctx, &ok);
}

static int s_check(const char *prev, const char *cur, int policy, char *msg, size_t cap)
{
    struct dld_state_vtable vt = {.struct_size = sizeof vt, .runs_history = s_fake_history};
    struct dld_error err;
    dld_error_init(&err);
    s_prev = prev;
    char *note = NULL;
    bool rewrite = false;
    int rc = dld_schema_track(&vt, NULL, "t", "id", cur, policy, &note, &rewrite, &err);
    snprintf(msg, cap, "%s", rc ? err.message : note ? note : "");
    free(note);
    return rc;
}

#define COL(n, t) "{\"name\":\"" n "\",\"type\":\"" t "\",\"nullable\":true}"

START_TEST(widening_rules)
{
    char m[1200];
    /* widening under evolve: every integer step, float → double, decimal precision */
    const char *ok[][2] = {{"c", "s"}, {"s", "i"}, {"i", "l"}, {"c", "l"}, {"C", "L"}, {"f", "g"},
                           {"d:10,2", "d:38,2"}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char p[200], c[200];
        snprintf(p, sizeof p, "[" COL("id", "l") ",{\"name\":\"x\",\"type\":\"%s\",\"nullable\":true}]", ok[i][0]);
        snprintf(c, sizeof c, "[" COL("id", "l") ",{\"name\":\"x\",\"type\":\"%s\",\"nullable\":true}]", ok[i][1]);
        ck_assert_msg(s_check(p, c, DLD_SCHEMA_EVOLVE, m, sizeof m) == DLD_OK, "%s → %s: %s", ok[i][0], ok[i][1], m);
        ck_assert_msg(strstr(m, "evolved since load 7: widened x"), "%s", m);
        ck_assert_int_eq(s_check(p, c, DLD_SCHEMA_FAIL, m, sizeof m), DLD_ERR_CONFIG);
        /* and never back */
        ck_assert_msg(s_check(c, p, DLD_SCHEMA_EVOLVE, m, sizeof m) == DLD_ERR_CONFIG, "%s → %s", ok[i][1], ok[i][0]);
        ck_assert_msg(strstr(m, "retyped x"), "%s", m);
    }
    const char *bad[][2] = {{"l", "u"}, {"u", "l"}, {"L", "l"}, {"l", "g"}, {"d:10,2", "d:12,3"}, {"tsu:UTC", "tsm:UTC"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char p[200], c[200];
        snprintf(p, sizeof p, "[{\"name\":\"x\",\"type\":\"%s\",\"nullable\":true}," COL("id", "l") "]", bad[i][0]);
        snprintf(c, sizeof c, "[{\"name\":\"x\",\"type\":\"%s\",\"nullable\":true}," COL("id", "l") "]", bad[i][1]);
        ck_assert_msg(s_check(p, c, DLD_SCHEMA_EVOLVE, m, sizeof m) == DLD_ERR_CONFIG, "%s → %s accepted", bad[i][0],
                      bad[i][1]);
    }
    /* order and nullability are not changes */
    ck_assert_int_eq(s_check("[" COL("id", "l") "," COL("a", "u") "]",
                             "[{\"name\":\"a\",\"type\":\"u\",\"nullable\":false}," COL("id", "l") "]", DLD_SCHEMA_FAIL,
                             m, sizeof m),
                     DLD_OK);
    ck_assert_str_eq(m, "");
    /* the filter column: even a widening fails, under evolve */
    ck_assert_int_eq(s_check("[" COL("id", "i") "]", "[" COL("id", "l") "]", DLD_SCHEMA_EVOLVE, m, sizeof m),
                     DLD_ERR_CONFIG);
    ck_assert_msg(strstr(m, "filter column id changed since load 7 (int32 → int64)"), "%s", m);
    /* rewrite: any change asks for a rewrite, named; the filter column still fails */
    ck_assert_int_eq(s_check("[" COL("id", "l") "," COL("a", "l") "]", "[" COL("id", "l") "," COL("a", "u") "]",
                             DLD_SCHEMA_REWRITE, m, sizeof m),
                     DLD_OK);
    ck_assert_msg(strstr(m, "changed since load 7 (version 1): retyped a: int64 → utf8"), "%s", m);
    ck_assert_int_eq(s_check("[" COL("id", "i") "]", "[" COL("id", "u") "]", DLD_SCHEMA_REWRITE, m, sizeof m),
                     DLD_ERR_CONFIG);
    /* several at once, all named */
    ck_assert_int_eq(s_check("[" COL("id", "l") "," COL("a", "l") "," COL("b", "u") "]",
                             "[" COL("id", "l") "," COL("a", "u") "," COL("c", "tdD") "]", DLD_SCHEMA_FAIL, m, sizeof m),
                     DLD_ERR_CONFIG);
    ck_assert_msg(strstr(m, "added c (date32); dropped b (utf8); retyped a: int64 → utf8"), "%s", m);
    /* no columns recorded before (a load of an older version): nothing to compare */
    ck_assert_int_eq(s_check("null", "[" COL("id", "u") "]", DLD_SCHEMA_FAIL, m, sizeof m), DLD_OK);
    /* the canonical form */
    struct dld_column_spec specs[] = {{.name = "id", .type = DLD_T_INT64}, {.name = "v", .type = DLD_T_STRING, .nullable = true}};
    struct dld_batch_builder *b = dld_batch_builder_new(specs, 2);
    struct ArrowSchema sc;
    struct ArrowArray arr;
    ck_assert_int_eq(dld_batch_finish(b, &sc, &arr), DLD_OK);
    char *cols = dld_schema_columns(&sc);
    ck_assert_str_eq(cols, "[{\"name\":\"id\",\"type\":\"l\",\"nullable\":false},{\"name\":\"v\",\"type\":\"u\",\"nullable\":true}]");
    free(cols);
    dld_arrow_release(&sc, &arr);
    dld_batch_builder_destroy(b);
}
END_TEST

static Suite *s_suite(void)
{
    Suite *s = suite_create("schema_drift");
    TCase *tc = tcase_create("drift");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, added_column, 0, 2);
    tcase_add_loop_test(tc, dropped_column, 0, 2);
    tcase_add_loop_test(tc, retyped_column, 0, 2);
    tcase_add_loop_test(tc, filter_column_retyped, 0, 2);
    tcase_add_test(tc, declared_columns_must_match);
    tcase_add_loop_test(tc, rewrite_version, 0, 2);
    tcase_add_test(tc, policy_validated);
    tcase_add_test(tc, widening_rules);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(s_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Windows: the SQL a plan shows, identifiers and injection attempts,
 * boundary ties, snapshot consistency, open transactions with and without
 * lag, updates moving rows forward, FULL operators, and connections cut
 * mid-window. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pg_test.h"

static PGconn *s_admin;
static void *s_inst;

static void s_setup(void)
{
    s_admin = pgt_admin();
    s_inst = pgt_open(NULL);
}

static void s_teardown(void)
{
    if (s_inst)
        pgt_vt->close(s_inst);
    s_inst = NULL;
    PQfinish(s_admin);
    pgt_log_clear();
}

/* Extracts and returns the rows; asserts success. */
static void s_run(void *inst, const struct dld_extract_request *req, struct dld_extract_info *info,
                  struct pgt_rows *got)
{
    struct dld_error e = pgt_err();
    int rc = pgt_extract(inst, req, info, got, &e);
    ck_assert_msg(rc == DLD_OK, "extract: %s (%s)", e.message, dld_code_name(rc));
}

/* "1,2,3": the first column of every row */
static char *s_ids(const struct pgt_rows *r)
{
    size_t cap = 16 + r->nrows * 24;
    char *s = calloc(1, cap);
    for (size_t i = 0; i < r->nrows; i++) {
        const char *v = pgt_cell(r, i, 0);
        snprintf(s + strlen(s), cap - strlen(s), "%s%s", i ? "," : "", v ? v : "NULL");
    }
    return s;
}

static void s_assert_ids(const struct pgt_rows *r, const char *want, const char *what)
{
    char *ids = s_ids(r);
    ck_assert_msg(!strcmp(ids, want), "%s: rows %s, expected %s", what, ids, want);
    free(ids);
}

START_TEST(test_plan_sql)
{
    pgt_exec(s_admin, "DROP TABLE IF EXISTS plan_t; CREATE TABLE plan_t (id int, v text);"
                      "INSERT INTO plan_t SELECT g, 'v' || g FROM generate_series(1, 30) g");
    struct dld_table t = pgt_table("public", "plan_t", "id");
    struct dld_extract_request req = pgt_req(&t, DLD_MODE_DELTA, "10", 0, "20");
    struct dld_extract_info info;
    struct pgt_rows got;
    s_run(s_inst, &req, &info, &got);
    ck_assert_str_eq(info.query,
                     "COPY (SELECT \"id\", \"v\" FROM \"public\".\"plan_t\" WHERE \"id\" > '10' AND \"id\" <= '20')"
                     " TO STDOUT (FORMAT binary)");
    ck_assert_str_eq(info.high, "20");
    ck_assert_msg(!strncmp(info.snapshot, "REPEATABLE READ READ ONLY snapshot ", 35), "%s", info.snapshot);
    ck_assert_uint_eq(got.nrows, 10);
    s_assert_ids(&got, "11,12,13,14,15,16,17,18,19,20", "(10, 20]");
    pgt_rows_free(&got);
    pgt_info_free(&info);

    /* captured high mark: the plan lists the capture query and its values */
    req = pgt_req(&t, DLD_MODE_DELTA, "10", 1, NULL);
    s_run(s_inst, &req, &info, &got);
    ck_assert_str_eq(info.high, "30");
    ck_assert_str_eq(info.query,
                     "COPY (SELECT \"id\", \"v\" FROM \"public\".\"plan_t\" WHERE \"id\" >= '10' AND \"id\" <= '30')"
                     " TO STDOUT (FORMAT binary)\n"
                     "-- high mark: SELECT max(\"id\")::text FROM \"public\".\"plan_t\" WHERE \"id\" >= $1 -- $1='10'");
    ck_assert_uint_eq(got.nrows, 21);
    pgt_rows_free(&got);
    pgt_info_free(&info);
}
END_TEST

START_TEST(test_identifiers)
{
    pgt_exec(s_admin, "DROP SCHEMA IF EXISTS \"Mixed Schema\" CASCADE; CREATE SCHEMA \"Mixed Schema\";"
                      "CREATE TABLE \"Mixed Schema\".\"Order \"\"Items\"\"\" (\"Id\" int, \"Updated At\" timestamptz,"
                      " \"select\" text, \"UPPER\" int);"
                      "INSERT INTO \"Mixed Schema\".\"Order \"\"Items\"\"\" VALUES"
                      " (1, '2024-01-01 00:00:00+00', 'a', 10), (2, '2024-01-02 00:00:00+00', 'b', 20),"
                      " (3, '2024-01-03 00:00:00+00', NULL, 30);"
                      "DROP TABLE IF EXISTS upper_case_item; CREATE TABLE upper_case_item (id int, v int);"
                      "INSERT INTO upper_case_item VALUES (1, 1), (2, 2)");
    struct dld_table t = pgt_table("Mixed Schema", "Order \"Items\"", "Updated At");
    struct dld_extract_request req = pgt_req(&t, DLD_MODE_DELTA, "2024-01-01 00:00:00+00", 0, NULL);
    struct dld_extract_info info;
    struct pgt_rows got;
    s_run(s_inst, &req, &info, &got);
    ck_assert_msg(strstr(info.query, "FROM \"Mixed Schema\".\"Order \"\"Items\"\"\" WHERE \"Updated At\" > "),
                  "%s", info.query);
    ck_assert_msg(strstr(info.query, "SELECT \"Id\", \"Updated At\", \"select\", \"UPPER\""), "%s", info.query);
    ck_assert_str_eq(info.high, "2024-01-03 00:00:00+00");
    s_assert_ids(&got, "2,3", "mixed case");
    ck_assert_str_eq(got.names[1], "Updated At");
    pgt_rows_free(&got);
    pgt_info_free(&info);

    /* an item spelled in upper case (Oracle habit) finds the folded names */
    t = pgt_table("PUBLIC", "UPPER_CASE_ITEM", "ID");
    req = pgt_req(&t, DLD_MODE_DELTA, "1", 0, NULL);
    s_run(s_inst, &req, &info, &got);
    s_assert_ids(&got, "2", "case-insensitive item");
    ck_assert_msg(strstr(info.query, "\"public\".\"upper_case_item\""), "%s", info.query);
    pgt_rows_free(&got);
    pgt_info_free(&info);
}
END_TEST

static void s_victim_alive(void)
{
    char *n = pgt_value(s_admin, "SELECT count(*) FROM victim");
    ck_assert_str_eq(n, "2");
    free(n);
}

static int s_try(const struct dld_table *t, uint32_t mode, const char *low, struct dld_error *e, struct pgt_rows *got,
                 struct dld_extract_info *info)
{
    struct dld_extract_request req = pgt_req(t, mode, low, 0, mode == DLD_MODE_FULL ? NULL : "100");
    *e = pgt_err();
    int rc = pgt_extract(s_inst, &req, info, got, e);
    if (rc) {
        /* a window may fail after its plan: nothing of it is kept */
        pgt_info_free(info);
        pgt_rows_free(got);
    }
    return rc;
}

START_TEST(test_injection)
{
    pgt_exec(s_admin, "DROP TABLE IF EXISTS victim; CREATE TABLE victim (id int); INSERT INTO victim VALUES (1), (2);"
                      "DROP TABLE IF EXISTS \"inj\"\"; DROP TABLE victim; --\";"
                      "CREATE TABLE \"inj\"\"; DROP TABLE victim; --\" (id int, \"c\"\"); DROP TABLE victim; --\" text);"
                      "INSERT INTO \"inj\"\"; DROP TABLE victim; --\" VALUES (1, 'x'), (2, 'it''s')");
    struct dld_error e;
    struct pgt_rows got;
    struct dld_extract_info info;

    /* a table name carrying SQL names no table */
    struct dld_table t = pgt_table("public", "victim; DROP TABLE victim; --", "id");
    int rc = s_try(&t, DLD_MODE_DELTA, "0", &e, &got, &info);
    ck_assert_int_eq(rc, DLD_ERR_NOT_FOUND);
    ck_assert_msg(strstr(e.message, "not found"), "%s", e.message);
    s_victim_alive();

    /* so does a filter column carrying SQL */
    t = pgt_table("public", "victim", "id\" > 0; DROP TABLE victim; --");
    rc = s_try(&t, DLD_MODE_DELTA, "0", &e, &got, &info);
    ck_assert_int_eq(rc, DLD_ERR_CONFIG);
    s_victim_alive();

    /* a table that really has such names is read, its names quoted */
    t = pgt_table("public", "inj\"; DROP TABLE victim; --", "id");
    rc = s_try(&t, DLD_MODE_DELTA, "0", &e, &got, &info);
    ck_assert_msg(rc == DLD_OK, "%s", e.message);
    s_assert_ids(&got, "1,2", "table with hostile names");
    ck_assert_str_eq(pgt_cell(&got, 1, 1), "it's");
    ck_assert_msg(strstr(info.query, "\"c\"\"); DROP TABLE victim; --\""), "%s", info.query);
    pgt_rows_free(&got);
    pgt_info_free(&info);
    s_victim_alive();

    /* values are literals, never SQL: a number column refuses the text ... */
    t = pgt_table("public", "victim", "id");
    rc = s_try(&t, DLD_MODE_DELTA, "0'; DROP TABLE victim; --", &e, &got, &info);
    ck_assert_int_eq(rc, DLD_ERR_CONFIG);
    ck_assert_str_eq(e.upstream_code, "22P02");
    s_victim_alive();
    /* ... and a text column compares with it as a plain string */
    pgt_exec(s_admin, "DROP TABLE IF EXISTS textkey; CREATE TABLE textkey (k text); INSERT INTO textkey VALUES ('a'), ('b')");
    t = pgt_table("public", "textkey", "k");
    t.filter_operator = "eq";
    t.start_value = "a' OR '1'='1";
    rc = s_try(&t, DLD_MODE_FULL, NULL, &e, &got, &info);
    ck_assert_msg(rc == DLD_OK, "%s", e.message);
    ck_assert_uint_eq(got.nrows, 0);
    ck_assert_msg(strstr(info.query, "WHERE \"k\" = 'a'' OR ''1''=''1'"), "%s", info.query);
    pgt_rows_free(&got);
    pgt_info_free(&info);

    /* what no quoting can make meaningful is refused before any SQL */
    t = pgt_table("public", "bad\nname", NULL);
    rc = s_try(&t, DLD_MODE_FULL, NULL, &e, &got, &info);
    ck_assert_int_eq(rc, DLD_ERR_CONFIG);
    s_victim_alive();
}
END_TEST

START_TEST(test_boundary_ties)
{
    pgt_exec(s_admin, "DROP TABLE IF EXISTS ties; CREATE TABLE ties (id int, k int);"
                      "INSERT INTO ties VALUES (1, 1), (2, 2), (3, 2), (4, 2), (5, 3), (6, 3), (7, 5)");
    struct dld_table t = pgt_table("public", "ties", "k");
    struct dld_extract_info info;
    struct pgt_rows got;
    /* first run: [startvalue, 3] takes every row tied at 3 */
    struct dld_extract_request req = pgt_req(&t, DLD_MODE_DELTA, "2", 1, "3");
    s_run(s_inst, &req, &info, &got);
    s_assert_ids(&got, "2,3,4,5,6", "[2, 3]");
    pgt_rows_free(&got);
    pgt_info_free(&info);
    /* next: (3, max] takes none of them again */
    req = pgt_req(&t, DLD_MODE_DELTA, "3", 0, NULL);
    s_run(s_inst, &req, &info, &got);
    s_assert_ids(&got, "7", "(3, max]");
    ck_assert_str_eq(info.high, "5");
    pgt_rows_free(&got);
    pgt_info_free(&info);
    /* a delta `between` caps its high mark at endvalue */
    t.filter_operator = "between";
    t.start_value = "1";
    t.end_value = "4";
    req = pgt_req(&t, DLD_MODE_DELTA, "2", 0, NULL);
    s_run(s_inst, &req, &info, &got);
    s_assert_ids(&got, "5,6", "between capped at 4");
    ck_assert_str_eq(info.high, "3");
    ck_assert_msg(strstr(info.query, "WHERE \"k\" > $1 AND \"k\" <= $2 -- $1='2', $2='4'"), "%s", info.query);
    pgt_rows_free(&got);
    pgt_info_free(&info);
    t.filter_operator = NULL;
    t.start_value = t.end_value = NULL;
    /* and with nothing above the watermark there is nothing to load */
    req = pgt_req(&t, DLD_MODE_DELTA, "5", 0, NULL);
    s_run(s_inst, &req, &info, &got);
    ck_assert_ptr_null(info.high);
    ck_assert_int_eq(got.batches, 0);
    pgt_rows_free(&got);
    pgt_info_free(&info);
}
END_TEST

START_TEST(test_snapshot_consistency)
{
    pgt_exec(s_admin, "DROP TABLE IF EXISTS snap; CREATE TABLE snap (id int, v text);"
                      "INSERT INTO snap SELECT g, 'old' FROM generate_series(1, 100) g");
    struct dld_table t = pgt_table("public", "snap", "id");
    struct dld_extract_request req = pgt_req(&t, DLD_MODE_DELTA, NULL, 0, NULL);
    struct dld_extract_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    struct ArrowSchema declared = {0}; /* ABI 1.2: the columns, read in the plan's snapshot */
    info.schema = &declared;
    void *cur = NULL;
    struct dld_error e = pgt_err();
    ck_assert_msg(pgt_vt->extract_begin(s_inst, &req, &info, &cur, &e) == DLD_OK, "%s", e.message);
    ck_assert_str_eq(info.high, "100");
    ck_assert_ptr_nonnull(declared.release);
    ck_assert_int_eq(declared.n_children, 2);
    ck_assert_str_eq(declared.children[0]->name, "id");
    ck_assert_str_eq(declared.children[0]->format, "i");
    ck_assert_str_eq(declared.children[1]->name, "v");
    ck_assert_str_eq(declared.children[1]->format, "u");
    /* the world moves on after the plan ... */
    pgt_exec(s_admin, "INSERT INTO snap SELECT g, 'new' FROM generate_series(101, 200) g;"
                      "DELETE FROM snap WHERE id <= 10; UPDATE snap SET v = 'changed' WHERE id = 50");
    /* ... but the rows are those the plan saw */
    int64_t rows = 0;
    int rc;
    for (;;) {
        struct ArrowSchema s;
        struct ArrowArray a;
        rc = pgt_vt->extract_next(cur, &s, &a, &e);
        if (rc != DLD_OK)
            break;
        rows += a.length;
        ck_assert_str_eq(s.children[1]->format, declared.children[1]->format);
        ck_assert_int_eq(s.children[1]->flags, declared.children[1]->flags);
        const struct ArrowArray *v = a.children[1];
        const int32_t *off = v->buffers[1];
        for (int64_t i = 0; i < a.length; i++)
            ck_assert_msg(off[i + 1] - off[i] == 3 && !memcmp((const char *)v->buffers[2] + off[i], "old", 3),
                          "a row changed after the plan was read");
        dld_arrow_release(&s, &a);
    }
    ck_assert_msg(rc == DLD_DONE, "%s", e.message);
    pgt_vt->extract_end(cur);
    ck_assert_int_eq(rows, 100);
    declared.release(&declared);
    pgt_info_free(&info);
}
END_TEST

/* A transaction open while the window is planned inserts a row whose
 * timestamp is older than rows already committed. */
static void s_open_txn_case(int64_t lag, const char *want_first, const char *want_second)
{
    pgt_exec(s_admin, "DROP TABLE IF EXISTS ot; CREATE TABLE ot (id int, ts timestamptz);"
                      "INSERT INTO ot VALUES (1, clock_timestamp() - interval '100 seconds'),"
                      " (2, clock_timestamp() - interval '1 second')");
    PGconn *other = pgt_admin();
    pgt_exec(other, "BEGIN; INSERT INTO ot VALUES (3, clock_timestamp() - interval '2 seconds')");
    struct dld_table t = pgt_table("public", "ot", "ts");
    t.lag_seconds = lag;
    struct dld_extract_request req = pgt_req(&t, DLD_MODE_DELTA, NULL, 0, NULL);
    struct dld_extract_info info;
    struct pgt_rows got;
    s_run(s_inst, &req, &info, &got);
    s_assert_ids(&got, want_first, "first window");
    char *high = strdup(info.high);
    pgt_rows_free(&got);
    pgt_info_free(&info);
    pgt_exec(other, "COMMIT");
    PQfinish(other);
    /* the next window runs once the lag has passed: lag 0 stands for "later" */
    t.lag_seconds = 0;
    req = pgt_req(&t, DLD_MODE_DELTA, high, 0, NULL);
    s_run(s_inst, &req, &info, &got);
    s_assert_ids(&got, want_second, "second window");
    pgt_rows_free(&got);
    pgt_info_free(&info);
    free(high);
}

START_TEST(test_open_transaction_without_lag)
{
    /* row 3 commits below the first window's high mark: it is never loaded.
     * This is the case docs/postgres.md tells users to set a lag for. */
    s_open_txn_case(0, "1,2", "");
}
END_TEST

START_TEST(test_open_transaction_with_lag)
{
    /* a 30 s lag keeps the high mark below the open transaction's row */
    s_open_txn_case(30, "1", "2,3");
}
END_TEST

START_TEST(test_lag_needs_time_column)
{
    pgt_exec(s_admin, "DROP TABLE IF EXISTS lagint; CREATE TABLE lagint (id int); INSERT INTO lagint VALUES (1)");
    struct dld_table t = pgt_table("public", "lagint", "id");
    t.lag_seconds = 60;
    struct dld_extract_request req = pgt_req(&t, DLD_MODE_DELTA, NULL, 0, NULL);
    struct dld_extract_info info;
    struct pgt_rows got;
    struct dld_error e = pgt_err();
    ck_assert_int_eq(pgt_extract(s_inst, &req, &info, &got, &e), DLD_ERR_CONFIG);
    ck_assert_msg(strstr(e.message, "lag applies to date and timestamp"), "%s", e.message);
    /* a date column takes it */
    pgt_exec(s_admin, "DROP TABLE IF EXISTS lagdate; CREATE TABLE lagdate (id int, d date);"
                      "INSERT INTO lagdate VALUES (1, current_date - 10), (2, current_date)");
    t = pgt_table("public", "lagdate", "d");
    t.lag_seconds = 86400 * 2;
    req = pgt_req(&t, DLD_MODE_DELTA, NULL, 0, NULL);
    s_run(s_inst, &req, &info, &got);
    s_assert_ids(&got, "1", "date lag");
    pgt_rows_free(&got);
    pgt_info_free(&info);
}
END_TEST

START_TEST(test_update_moves_row)
{
    pgt_exec(s_admin, "DROP TABLE IF EXISTS upd; CREATE TABLE upd (id int, v text, ts int);"
                      "INSERT INTO upd VALUES (1, 'a', 10), (2, 'b', 20)");
    struct dld_table t = pgt_table("public", "upd", "ts");
    struct dld_extract_request req = pgt_req(&t, DLD_MODE_DELTA, NULL, 0, NULL);
    struct dld_extract_info info;
    struct pgt_rows got;
    s_run(s_inst, &req, &info, &got);
    s_assert_ids(&got, "1,2", "first window");
    ck_assert_str_eq(info.high, "20");
    pgt_rows_free(&got);
    pgt_info_free(&info);
    pgt_exec(s_admin, "UPDATE upd SET v = 'a2', ts = 30 WHERE id = 1");
    req = pgt_req(&t, DLD_MODE_DELTA, "20", 0, NULL);
    s_run(s_inst, &req, &info, &got);
    s_assert_ids(&got, "1", "second window");
    ck_assert_str_eq(pgt_cell(&got, 0, 1), "a2");
    ck_assert_str_eq(info.high, "30");
    pgt_rows_free(&got);
    pgt_info_free(&info);
}
END_TEST

START_TEST(test_full_operators)
{
    pgt_exec(s_admin, "DROP TABLE IF EXISTS ops; CREATE TABLE ops (id int, k int);"
                      "INSERT INTO ops VALUES (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, NULL)");
    static const struct {
        const char *op, *start, *end, *ids;
    } cases[] = {
        {"eq", "3", NULL, "3"},         {"noteq", "3", NULL, "1,2,4,5"}, {"lte", "2", NULL, "1,2"},
        {"ste", "2", NULL, "1,2"},      {"gte", "4", NULL, "4,5"},       {"null", NULL, NULL, "6"},
        {"notnull", NULL, NULL, "1,2,3,4,5"}, {"between", "2", "4", "2,3,4"}, {"notbetween", "2", "4", "1,5"},
        {NULL, NULL, NULL, "1,2,3,4,5,6"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct dld_table t = pgt_table("public", "ops", "k");
        t.filter_operator = cases[i].op;
        t.start_value = cases[i].start;
        t.end_value = cases[i].end;
        struct dld_extract_request req = pgt_req(&t, DLD_MODE_FULL, NULL, 0, NULL);
        struct dld_extract_info info;
        struct pgt_rows got;
        s_run(s_inst, &req, &info, &got);
        s_assert_ids(&got, cases[i].ids, cases[i].op ? cases[i].op : "no operator");
        pgt_rows_free(&got);
        pgt_info_free(&info);
    }
    /* a whole table without a filter column */
    struct dld_table t = pgt_table("public", "ops", NULL);
    struct dld_extract_request req = pgt_req(&t, DLD_MODE_FULL, NULL, 0, NULL);
    struct dld_extract_info info;
    struct pgt_rows got;
    s_run(s_inst, &req, &info, &got);
    ck_assert_uint_eq(got.nrows, 6);
    ck_assert_msg(!strstr(info.query, "WHERE"), "%s", info.query);
    pgt_rows_free(&got);
    pgt_info_free(&info);
    /* refused: unknown operator, missing values, delta without a column */
    struct dld_error e = pgt_err();
    t = pgt_table("public", "ops", "k");
    t.filter_operator = "like";
    t.start_value = "1";
    ck_assert_int_eq(pgt_extract(s_inst, &req, &info, &got, &e), DLD_ERR_CONFIG);
    ck_assert_msg(strstr(e.message, "unknown filteroperator"), "%s", e.message);
    t.filter_operator = "between";
    e = pgt_err();
    ck_assert_int_eq(pgt_extract(s_inst, &req, &info, &got, &e), DLD_ERR_CONFIG);
    ck_assert_msg(strstr(e.message, "needs an endvalue"), "%s", e.message);
    t = pgt_table("public", "ops", NULL);
    req = pgt_req(&t, DLD_MODE_DELTA, NULL, 0, NULL);
    e = pgt_err();
    ck_assert_int_eq(pgt_extract(s_inst, &req, &info, &got, &e), DLD_ERR_CONFIG);
}
END_TEST

START_TEST(test_batches_and_empty_windows)
{
    pgt_exec(s_admin, "DROP TABLE IF EXISTS many; CREATE TABLE many (id int, v text, x float8);"
                      "INSERT INTO many SELECT g, md5(g::text), g / 7.0 FROM generate_series(1, 25000) g;"
                      "DROP TABLE IF EXISTS empty_t; CREATE TABLE empty_t (id int, v text)");
    struct dld_table t = pgt_table("public", "many", "id");
    struct dld_extract_request req = pgt_req(&t, DLD_MODE_DELTA, NULL, 0, NULL);
    struct dld_extract_info info;
    struct pgt_rows got, want;
    s_run(s_inst, &req, &info, &got);
    ck_assert_int_eq(got.batches, 25);
    pgt_query(s_admin, "SELECT id::text, v, encode(float8send(x), 'hex') FROM many", &want, true);
    pgt_assert_same(&got, &want, "25 batches");
    pgt_rows_free(&got);
    pgt_rows_free(&want);
    pgt_info_free(&info);

    /* a backfill window with no rows still hands over the schema, once */
    t = pgt_table("public", "empty_t", "id");
    req = pgt_req(&t, DLD_MODE_BACKFILL, "1", 1, "5");
    s_run(s_inst, &req, &info, &got);
    ck_assert_int_eq(got.batches, 1);
    ck_assert_uint_eq(got.nrows, 0);
    ck_assert_uint_eq(got.ncols, 2);
    ck_assert_str_eq(got.formats[1], "u");
    pgt_rows_free(&got);
    pgt_info_free(&info);
}
END_TEST

/* Reads one batch of a large window, lets `cut` break the session, and
 * checks that the window fails as retryable and the next one succeeds. */
static void s_cut_mid_window(void (*cut)(void), const char *what)
{
    pgt_exec(s_admin, "DROP TABLE IF EXISTS big; CREATE TABLE big (id int, pad text);"
                      "INSERT INTO big SELECT g, repeat('x', 200) FROM generate_series(1, 200000) g");
    const char *opts[] = {"application_name", "dld-cut-test", NULL};
    void *inst = pgt_open(opts);
    struct dld_table t = pgt_table("public", "big", "id");
    struct dld_extract_request req = pgt_req(&t, DLD_MODE_DELTA, "0", 0, NULL);
    struct dld_extract_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    void *cur = NULL;
    struct dld_error e = pgt_err();
    ck_assert_msg(pgt_vt->extract_begin(inst, &req, &info, &cur, &e) == DLD_OK, "%s", e.message);
    struct ArrowSchema s;
    struct ArrowArray a;
    ck_assert_int_eq(pgt_vt->extract_next(cur, &s, &a, &e), DLD_OK);
    dld_arrow_release(&s, &a);
    cut();
    int rc;
    int64_t rows = 1000;
    while ((rc = pgt_vt->extract_next(cur, &s, &a, &e)) == DLD_OK) {
        rows += a.length;
        dld_arrow_release(&s, &a);
    }
    pgt_vt->extract_end(cur);
    pgt_info_free(&info);
    ck_assert_msg(rc == DLD_ERR_RETRY, "%s: window ended with %s after %lld rows: %s", what, dld_code_name(rc),
                  (long long)rows, e.message);
    ck_assert_msg(e.retryable, "%s: not marked retryable", what);
    ck_assert_msg(strstr(e.message, "connection lost"), "%s: %s", what, e.message);
    ck_assert_msg(e.upstream_code[0], "%s: no SQLSTATE", what);
    ck_assert_msg(rows < 200000, "%s: the whole window arrived before the cut", what);

    /* the same instance reconnects and reads the whole window */
    struct pgt_rows got;
    req = pgt_req(&t, DLD_MODE_DELTA, "0", 0, NULL);
    e = pgt_err();
    rc = pgt_extract(inst, &req, &info, &got, &e);
    ck_assert_msg(rc == DLD_OK, "%s: next window: %s", what, e.message);
    ck_assert_uint_eq(got.nrows, 200000);
    ck_assert_str_eq(info.high, "200000");
    pgt_rows_free(&got);
    pgt_info_free(&info);
    pgt_vt->close(inst);
}

static void s_terminate(void)
{
    char *n = pgt_value(s_admin, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                                 " WHERE application_name = 'dld-cut-test' AND backend_type = 'client backend'");
    ck_assert_str_eq(n, "1");
    free(n);
}

static void s_restart(void)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s/tests/servers/pg.sh restart %s", getenv("DLD_SOURCE_DIR"), getenv("DLD_PG_DIR"));
    ck_assert_int_eq(system(cmd), 0);
    PQfinish(s_admin);
    s_admin = pgt_admin();
}

START_TEST(test_killed_connection)
{
    s_cut_mid_window(s_terminate, "pg_terminate_backend");
}
END_TEST

START_TEST(test_server_restart)
{
    ck_assert_msg(getenv("DLD_SOURCE_DIR") != NULL, "DLD_SOURCE_DIR not set");
    s_cut_mid_window(s_restart, "server restart");
}
END_TEST

START_TEST(test_statement_timeout)
{
    pgt_exec(s_admin, "CREATE OR REPLACE FUNCTION slow_id(int) RETURNS int LANGUAGE plpgsql AS"
                      " 'BEGIN PERFORM pg_sleep(0.3); RETURN $1; END';"
                      "CREATE OR REPLACE VIEW slow_v AS SELECT slow_id(g) AS id FROM generate_series(1, 10) g");
    const char *opts[] = {"statement_timeout", "500", NULL};
    void *inst = pgt_open(opts);
    struct dld_table t = pgt_table("public", "slow_v", NULL);
    struct dld_extract_request req = pgt_req(&t, DLD_MODE_FULL, NULL, 0, NULL);
    struct dld_extract_info info;
    struct pgt_rows got;
    struct dld_error e = pgt_err();
    int rc = pgt_extract(inst, &req, &info, &got, &e);
    ck_assert_int_eq(rc, DLD_ERR_RETRY);
    ck_assert_str_eq(e.upstream_code, "57014");
    pgt_rows_free(&got);
    pgt_info_free(&info);
    pgt_vt->close(inst);
}
END_TEST

/* Rows written 120 s and 10 s ago in a zone's wall clock, into a
 * `timestamp without time zone` column. */
static void s_naive_rows(const char *table, const char *zone)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "DROP TABLE IF EXISTS %s; CREATE TABLE %s (id int, ts timestamp);"
             "INSERT INTO %s VALUES (1, (now() AT TIME ZONE '%s') - interval '120 seconds'),"
             " (2, (now() AT TIME ZONE '%s') - interval '10 seconds')",
             table, table, table, zone, zone);
    pgt_exec(s_admin, sql);
}

START_TEST(test_writer_time_zone)
{
    struct dld_extract_info info;
    struct pgt_rows got;
    /* writers in São Paulo (UTC-3, no daylight saving since 2019) */
    s_naive_rows("naive_west", "America/Sao_Paulo");
    struct dld_table t = pgt_table("public", "naive_west", "ts");
    t.lag_seconds = 60;
    struct dld_extract_request req = pgt_req(&t, DLD_MODE_DELTA, NULL, 0, NULL);
    /* taken for UTC, the bound is three hours ahead of the writers' clock:
     * the lag holds back nothing (row 2 is 10 s old) */
    s_run(s_inst, &req, &info, &got);
    s_assert_ids(&got, "1,2", "writers taken for UTC");
    ck_assert_msg(strstr(info.query, "\"ts\" <= (now() - $1::interval) AT TIME ZONE $2::text -- $1='60 seconds', "
                                     "$2='UTC'"),
                  "%s", info.query);
    pgt_rows_free(&got);
    pgt_info_free(&info);
    const char *west[] = {"writer_time_zone", "America/Sao_Paulo", NULL};
    void *inst = pgt_open(west);
    s_run(inst, &req, &info, &got);
    s_assert_ids(&got, "1", "writers in America/Sao_Paulo");
    char *want = pgt_value(s_admin, "SELECT ts::text FROM naive_west WHERE id = 1");
    ck_assert_str_eq(info.high, want);
    free(want);
    ck_assert_msg(strstr(info.query, "$2='America/Sao_Paulo'"), "%s", info.query);
    pgt_rows_free(&got);
    pgt_info_free(&info);
    pgt_vt->close(inst);

    /* writers in Tokyo (UTC+9): taken for UTC, nothing of the last nine hours loads */
    s_naive_rows("naive_east", "Asia/Tokyo");
    t = pgt_table("public", "naive_east", "ts");
    t.lag_seconds = 60;
    req = pgt_req(&t, DLD_MODE_DELTA, NULL, 0, NULL);
    s_run(s_inst, &req, &info, &got);
    s_assert_ids(&got, "", "writers taken for UTC");
    ck_assert_ptr_null(info.high);
    pgt_rows_free(&got);
    pgt_info_free(&info);
    /* the name is matched as the server spells it */
    const char *east[] = {"writer_time_zone", "asia/tokyo", NULL};
    inst = pgt_open(east);
    s_run(inst, &req, &info, &got);
    s_assert_ids(&got, "1", "writers in Asia/Tokyo");
    ck_assert_msg(strstr(info.query, "$2='Asia/Tokyo'"), "%s", info.query);
    pgt_rows_free(&got);
    pgt_info_free(&info);

    /* timestamptz columns are instants: the zone plays no part */
    pgt_exec(s_admin, "DROP TABLE IF EXISTS tz_inst; CREATE TABLE tz_inst (id int, ts timestamptz);"
                      "INSERT INTO tz_inst VALUES (1, now() - interval '120 seconds'), (2, now() - interval '10 seconds')");
    t = pgt_table("public", "tz_inst", "ts");
    t.lag_seconds = 60;
    req = pgt_req(&t, DLD_MODE_DELTA, NULL, 0, NULL);
    s_run(inst, &req, &info, &got);
    s_assert_ids(&got, "1", "timestamptz");
    ck_assert_msg(strstr(info.query, "\"ts\" <= now() - $1::interval -- $1='60 seconds'"), "%s", info.query);
    pgt_rows_free(&got);
    pgt_info_free(&info);
    pgt_vt->close(inst);
}
END_TEST

START_TEST(test_writer_time_zone_unknown)
{
    static const char *const bad[] = {"Mars/Olympus_Mons", "CEST", "+02:00", "Europe/Berlin'; SELECT 1; --"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *opts[] = {"writer_time_zone", bad[i], NULL};
        struct dld_error e = pgt_err();
        ck_assert_int_eq(pgt_open_rc(opts, &e), DLD_ERR_CONFIG);
        char want[128];
        snprintf(want, sizeof want, "writer_time_zone '%s' is not a time zone", bad[i]);
        ck_assert_msg(strstr(e.message, want), "%s", e.message);
    }
    const char *berlin[] = {"writer_time_zone", "Europe/Berlin", NULL};
    struct dld_error e = pgt_err();
    ck_assert_msg(pgt_open_rc(berlin, &e) == DLD_OK, "%s", e.message);
}
END_TEST

Suite *pgt_suite_window(void)
{
    Suite *s = suite_create("postgres windows");
    TCase *tc = tcase_create("windows");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_plan_sql);
    tcase_add_test(tc, test_identifiers);
    tcase_add_test(tc, test_injection);
    tcase_add_test(tc, test_boundary_ties);
    tcase_add_test(tc, test_snapshot_consistency);
    tcase_add_test(tc, test_open_transaction_without_lag);
    tcase_add_test(tc, test_open_transaction_with_lag);
    tcase_add_test(tc, test_lag_needs_time_column);
    tcase_add_test(tc, test_writer_time_zone);
    tcase_add_test(tc, test_writer_time_zone_unknown);
    tcase_add_test(tc, test_update_moves_row);
    tcase_add_test(tc, test_full_operators);
    tcase_add_test(tc, test_batches_and_empty_windows);
    tcase_add_test(tc, test_killed_connection);
    tcase_add_test(tc, test_server_restart);
    tcase_add_test(tc, test_statement_timeout);
    suite_add_tcase(s, tc);
    return s;
}

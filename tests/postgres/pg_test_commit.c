/* Commit-order windows (`"filteroperator": "commit"`) against the real
 * server, with sessions held open by the test: a late-committing
 * transaction that took a smaller sequence value (and the same case with a
 * plain `seq` filter, pinned: its row is lost), updates of old rows,
 * deletes (not captured), a transaction open across several windows, an
 * aborted transaction and a rolled-back savepoint, frozen rows, the same
 * window again, the plan's text with the epoch arithmetic of a cluster whose
 * counter is in epoch 3 (pg_server_start sets PG_XID_EPOCH), refusals, and
 * the plan's note on filter columns a sequence or a clock fills. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pg_test.h"

static PGconn *s_admin;
static void *s_inst;
static int s_held[4]; /* backend pids of the sessions a test holds open (s_hold) */

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
    memset(s_held, 0, sizeof s_held);
}

/* Sessions the test holds open on purpose; any other transaction with an
 * xid (autovacuum's ANALYZE writing statistics) would hold the horizon
 * back for a moment: windows wait until there is none. */
static void s_hold(PGconn *c, int slot)
{
    s_held[slot] = c ? PQbackendPID(c) : 0;
}

static void s_quiet(void)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
             " AND pid NOT IN (%d, %d, %d, %d)",
             s_held[0], s_held[1], s_held[2], s_held[3]);
    for (int i = 0; i < 500; i++) {
        char *n = pgt_value(s_admin, sql);
        bool none = !strcmp(n, "0");
        free(n);
        if (none)
            return;
        usleep(10000);
    }
    ck_abort_msg("another transaction kept its xid for 5 s");
}

static struct dld_table s_item(const char *table)
{
    struct dld_table t = pgt_table("public", table, NULL);
    t.filter_operator = "commit";
    return t;
}

/* One commit-order window from `low` (NULL: the first). Returns the ids it
 * read ("1,2,3"); *high gets the horizon (NULL: nothing to load). */
static char *s_window(const char *table, const char *low, char **high)
{
    struct dld_table t = s_item(table);
    struct dld_extract_request req = pgt_req(&t, DLD_MODE_DELTA, low, low == NULL, NULL);
    struct dld_extract_info info;
    struct pgt_rows got;
    struct dld_error e = pgt_err();
    s_quiet();
    int rc = pgt_extract(s_inst, &req, &info, &got, &e);
    ck_assert_msg(rc == DLD_OK, "commit window of %s from %s: %s (%s)", table, low ? low : "-inf", e.message,
                  dld_code_name(rc));
    *high = info.high ? strdup(info.high) : NULL;
    size_t cap = 16 + got.nrows * 24;
    char *ids = calloc(1, cap);
    for (size_t i = 0; i < got.nrows; i++)
        snprintf(ids + strlen(ids), cap - strlen(ids), "%s%s", i ? "," : "", pgt_cell(&got, i, 0));
    pgt_rows_free(&got);
    pgt_info_free(&info);
    return ids;
}

/* The next window after `*wm`, which moves to its horizon when it had one
 * (as the engine does once the window is committed). */
static void s_next(const char *table, char **wm, const char *want, const char *what)
{
    char *high = NULL;
    char *ids = s_window(table, *wm, &high);
    ck_assert_msg(!strcmp(ids, want), "%s: rows %s, expected %s", what, ids, want);
    if (high) {
        free(*wm);
        *wm = high;
    }
    free(ids);
}

static uint64_t s_u64(const char *text)
{
    ck_assert_ptr_nonnull(text);
    return strtoull(text, NULL, 10);
}

static char *s_xid(PGconn *c)
{
    return pgt_value(c, "SELECT pg_current_xact_id()::text");
}

START_TEST(test_late_commit_sequence)
{
    pgt_exec(s_admin, "DROP TABLE IF EXISTS late; CREATE TABLE late (id bigserial PRIMARY KEY, v text);"
                      "INSERT INTO late (v) VALUES ('seed1'), ('seed2')");
    PGconn *a = pgt_admin(), *b = pgt_admin();
    /* A takes the next sequence value and stays open; B takes a later one and commits */
    s_hold(a, 0);
    s_hold(b, 1);
    pgt_exec(a, "BEGIN; INSERT INTO late (v) VALUES ('A')");
    char *xa = s_xid(a);
    pgt_exec(b, "INSERT INTO late (v) VALUES ('B')");
    char *wm = NULL;
    char *high = NULL;
    char *ids = s_window("late", NULL, &high);
    /* A holds the horizon: B committed above it and waits with A */
    ck_assert_str_eq(ids, "1,2");
    ck_assert_msg(s_u64(high) <= s_u64(xa), "horizon %s above the open transaction %s", high, xa);
    ck_assert_msg(s_u64(high) > (UINT64_C(3) << 32), "horizon %s is not in epoch 3 (PG_XID_EPOCH)", high);
    wm = high;
    free(ids);
    pgt_exec(a, "COMMIT");
    s_next("late", &wm, "3,4", "after A commits: A's and B's rows, once");
    ck_assert_msg(s_u64(wm) > s_u64(xa), "horizon %s has not passed A (%s)", wm, xa);
    s_next("late", &wm, "", "nothing new");
    free(wm);
    free(xa);
    PQfinish(a);
    PQfinish(b);
}
END_TEST

/* The same interleaving with a plain delta over the sequence column: the
 * limitation docs/semantics.md states ("Consistency of the high mark"). */
START_TEST(test_late_commit_seq_filter_loses_row)
{
    pgt_exec(s_admin, "DROP TABLE IF EXISTS lateseq; CREATE TABLE lateseq (id bigserial PRIMARY KEY, v text);"
                      "INSERT INTO lateseq (v) VALUES ('seed1'), ('seed2')");
    PGconn *a = pgt_admin(), *b = pgt_admin();
    pgt_exec(a, "BEGIN; INSERT INTO lateseq (v) VALUES ('A')"); /* id 3 */
    pgt_exec(b, "INSERT INTO lateseq (v) VALUES ('B')");          /* id 4, committed */
    struct dld_table t = pgt_table("public", "lateseq", "id");
    struct dld_extract_request req = pgt_req(&t, DLD_MODE_DELTA, NULL, 0, NULL);
    struct dld_extract_info info;
    struct pgt_rows got;
    struct dld_error e = pgt_err();
    ck_assert_int_eq(pgt_extract(s_inst, &req, &info, &got, &e), DLD_OK);
    ck_assert_uint_eq(got.nrows, 3); /* 1, 2, 4 */
    ck_assert_str_eq(info.high, "4");
    /* plan says which guarantee applies to a sequence-filled column */
    ck_assert_msg(strstr(info.query, "-- guarantee: filter order only: id is filled by a sequence (nextval("),
                  "%s", info.query);
    pgt_rows_free(&got);
    pgt_info_free(&info);
    pgt_exec(a, "COMMIT");
    req = pgt_req(&t, DLD_MODE_DELTA, "4", 0, NULL);
    ck_assert_int_eq(pgt_extract(s_inst, &req, &info, &got, &e), DLD_OK);
    /* A's row (id 3) is below the watermark for good */
    ck_assert_uint_eq(got.nrows, 0);
    ck_assert_ptr_null(info.high);
    pgt_rows_free(&got);
    pgt_info_free(&info);
    char *n = pgt_value(s_admin, "SELECT count(*) FROM lateseq WHERE id = 3");
    ck_assert_str_eq(n, "1");
    free(n);
    PQfinish(a);
    PQfinish(b);
}
END_TEST

START_TEST(test_updates_and_deletes)
{
    pgt_exec(s_admin, "DROP TABLE IF EXISTS ud; CREATE TABLE ud (id int PRIMARY KEY, v text);"
                      "INSERT INTO ud SELECT g, 'v' || g FROM generate_series(1, 10) g");
    char *wm = NULL;
    s_next("ud", &wm, "1,2,3,4,5,6,7,8,9,10", "first window: the whole table");
    /* an update of old rows is a new row version: captured, with no filter column */
    pgt_exec(s_admin, "UPDATE ud SET v = 'changed' WHERE id IN (2, 7)");
    /* a delete leaves nothing to read: not captured */
    pgt_exec(s_admin, "DELETE FROM ud WHERE id IN (3, 9)");
    /* an update that deletes and re-inserts in one transaction: the new version */
    pgt_exec(s_admin, "BEGIN; DELETE FROM ud WHERE id = 5; INSERT INTO ud VALUES (5, 'again'); COMMIT");
    struct dld_table t = s_item("ud");
    struct dld_extract_request req = pgt_req(&t, DLD_MODE_DELTA, wm, 0, NULL);
    struct dld_extract_info info;
    struct pgt_rows got;
    struct dld_error e = pgt_err();
    s_quiet();
    ck_assert_int_eq(pgt_extract(s_inst, &req, &info, &got, &e), DLD_OK);
    ck_assert_uint_eq(got.nrows, 3);
    ck_assert_str_eq(pgt_cell(&got, 0, 0), "2");
    ck_assert_str_eq(pgt_cell(&got, 0, 1), "changed");
    ck_assert_str_eq(pgt_cell(&got, 1, 0), "5");
    ck_assert_str_eq(pgt_cell(&got, 1, 1), "again");
    ck_assert_str_eq(pgt_cell(&got, 2, 0), "7");
    free(wm);
    wm = strdup(info.high);
    pgt_rows_free(&got);
    pgt_info_free(&info);
    s_next("ud", &wm, "", "nothing new");
    free(wm);
}
END_TEST

START_TEST(test_long_transaction_spans_windows)
{
    pgt_exec(s_admin, "DROP TABLE IF EXISTS longt; CREATE TABLE longt (id int, v text);"
                      "INSERT INTO longt VALUES (1, 'before')");
    char *wm = NULL;
    s_next("longt", &wm, "1", "first window");
    PGconn *a = pgt_admin();
    s_hold(a, 0);
    pgt_exec(a, "BEGIN; INSERT INTO longt VALUES (100, 'long')");
    char *held = strdup(wm);
    /* three windows while A stays open; others commit meanwhile. Their rows
     * wait behind A's horizon, the windows are empty and nothing moves. */
    for (int i = 2; i <= 4; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "INSERT INTO longt VALUES (%d, 'while A is open')", i);
        pgt_exec(s_admin, sql);
        char *high = NULL;
        char *ids = s_window("longt", wm, &high);
        ck_assert_msg(!strcmp(ids, ""), "window %d while A is open read %s", i, ids);
        if (high) { /* the horizon may have passed transactions before A began */
            free(wm);
            wm = high;
        }
        free(ids);
    }
    pgt_exec(a, "INSERT INTO longt VALUES (101, 'long, later statement'); COMMIT");
    s_next("longt", &wm, "2,3,4,100,101", "after A: everything committed meanwhile, once");
    s_next("longt", &wm, "", "nothing new");
    free(held);
    free(wm);
    PQfinish(a);
}
END_TEST

START_TEST(test_aborted_transactions)
{
    pgt_exec(s_admin, "DROP TABLE IF EXISTS ab; CREATE TABLE ab (id int, v text)");
    char *wm = NULL;
    s_next("ab", &wm, "", "first window of an empty table");
    PGconn *a = pgt_admin();
    s_hold(a, 0);
    pgt_exec(a, "BEGIN; INSERT INTO ab VALUES (1, 'rolled back')");
    pgt_exec(s_admin, "INSERT INTO ab VALUES (2, 'committed')");
    s_next("ab", &wm, "", "A open: B waits");
    pgt_exec(a, "ROLLBACK");
    /* a savepoint rolled back inside a committed transaction: its rows are gone, the rest stays */
    pgt_exec(s_admin, "BEGIN; INSERT INTO ab VALUES (3, 'kept'); SAVEPOINT s; INSERT INTO ab VALUES (4, 'undone');"
                      " ROLLBACK TO s; INSERT INTO ab VALUES (5, 'after the savepoint'); COMMIT");
    s_next("ab", &wm, "2,3,5", "aborted and rolled-back rows never appear");
    s_next("ab", &wm, "", "nothing new");
    free(wm);
    PQfinish(a);
}
END_TEST

START_TEST(test_frozen_rows)
{
    pgt_exec(s_admin, "DROP TABLE IF EXISTS fr; CREATE TABLE fr (id int, v text);"
                      "INSERT INTO fr SELECT g, 'old' FROM generate_series(1, 50) g");
    char *wm = NULL;
    s_next("fr", &wm, "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,"
                      "35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50",
           "first window");
    /* freezing keeps the raw xmin (PostgreSQL >= 9.4): frozen rows stay in the window of their transaction */
    pgt_exec(s_admin, "VACUUM (FREEZE) fr");
    char *frozen = pgt_value(s_admin, "SELECT count(*) FROM fr WHERE xmin::text::bigint >= 3");
    ck_assert_str_eq(frozen, "50");
    free(frozen);
    pgt_exec(s_admin, "INSERT INTO fr VALUES (51, 'new')");
    s_next("fr", &wm, "51", "after VACUUM FREEZE: only the new row");
    free(wm);
}
END_TEST

START_TEST(test_same_window_again)
{
    pgt_exec(s_admin, "DROP TABLE IF EXISTS again; CREATE TABLE again (id int, v text);"
                      "INSERT INTO again VALUES (1, 'a')");
    char *wm = NULL;
    s_next("again", &wm, "1", "first window");
    pgt_exec(s_admin, "INSERT INTO again VALUES (2, 'b')");
    char *h2 = NULL;
    free(s_window("again", wm, &h2));
    ck_assert_ptr_nonnull(h2);
    pgt_exec(s_admin, "INSERT INTO again VALUES (3, 'c')");
    /* the engine asks for the interrupted window again: its horizon is kept */
    struct dld_table t = s_item("again");
    struct dld_extract_request req = pgt_req(&t, DLD_MODE_DELTA, wm, 0, h2);
    struct dld_extract_info info;
    struct pgt_rows got;
    struct dld_error e = pgt_err();
    s_quiet();
    ck_assert_int_eq(pgt_extract(s_inst, &req, &info, &got, &e), DLD_OK);
    ck_assert_str_eq(info.high, h2);
    ck_assert_uint_eq(got.nrows, 1);
    ck_assert_str_eq(pgt_cell(&got, 0, 0), "2");
    pgt_rows_free(&got);
    pgt_info_free(&info);
    s_next("again", &h2, "3", "the next window");
    free(wm);
    free(h2);
}
END_TEST

START_TEST(test_plan_text_epoch)
{
    pgt_exec(s_admin, "DROP TABLE IF EXISTS planc; CREATE TABLE planc (id int, v text); INSERT INTO planc VALUES (1, 'x')");
    char *wm = NULL;
    s_next("planc", &wm, "1", "first window");
    pgt_exec(s_admin, "INSERT INTO planc VALUES (2, 'y')");
    struct dld_table t = s_item("planc");
    struct dld_extract_request req = pgt_req(&t, DLD_MODE_DELTA, wm, 0, NULL);
    struct dld_extract_info info;
    struct pgt_rows got;
    struct dld_error e = pgt_err();
    s_quiet();
    ck_assert_int_eq(pgt_extract(s_inst, &req, &info, &got, &e), DLD_OK);
    ck_assert_uint_eq(got.nrows, 1);
    uint64_t low = s_u64(wm), high = s_u64(info.high);
    /* the cluster runs in epoch 3: the xmin condition is on the low 32 bits */
    ck_assert_uint_eq(low >> 32, 3);
    ck_assert_uint_eq(high >> 32, 3);
    char want[512];
    snprintf(want, sizeof want,
             "COPY (SELECT \"id\", \"v\" FROM \"public\".\"planc\" WHERE xmin::text::bigint BETWEEN %" PRIu64
             " AND %" PRIu64 ") TO STDOUT (FORMAT binary)\n-- commit order: rows whose inserting or updating "
             "transaction has xid8 in [%s, %s); horizon %s = pg_snapshot_xmin(pg_current_snapshot()), xmax ",
             low & 0xffffffffu, (high - 1) & 0xffffffffu, wm, info.high, info.high);
    ck_assert_msg(!strncmp(info.query, want, strlen(want)), "plan:\n%s\nexpected to start with:\n%s", info.query, want);
    ck_assert_msg(strstr(info.query, "\n-- guarantee: commit order: every row version committed below the horizon"),
                  "%s", info.query);
    ck_assert_msg(strstr(info.query, "\n-- cost: a scan of the whole table"), "%s", info.query);
    ck_assert_msg(!strncmp(info.snapshot, "REPEATABLE READ READ ONLY snapshot ", 35), "%s", info.snapshot);
    /* the horizon is the snapshot's xmin, as the snapshot text shows it */
    char xmin[40];
    snprintf(xmin, sizeof xmin, " %s:", info.high);
    ck_assert_msg(strstr(info.snapshot, xmin), "snapshot %s, horizon %s", info.snapshot, info.high);
    pgt_rows_free(&got);
    pgt_info_free(&info);
    free(wm);
}
END_TEST

START_TEST(test_refusals)
{
    pgt_exec(s_admin, "DROP TABLE IF EXISTS refc CASCADE; CREATE TABLE refc (id int);"
                      "CREATE VIEW refc_v AS SELECT * FROM refc");
    struct dld_extract_info info;
    struct pgt_rows got;
    struct {
        const char *table, *low, *want;
        uint32_t mode;
        int code;
    } cases[] = {
        {"refc_v", NULL, "which the view", DLD_MODE_DELTA, DLD_ERR_UNSUPPORTED},
        {"refc", "2024-05-01", "is not an xid8 horizon", DLD_MODE_DELTA, DLD_ERR_CONFIG},
        {"refc", "999999999999999999", "is above every transaction id", DLD_MODE_DELTA, DLD_ERR_CONFIG},
        {"refc", "1", "delta windows only", DLD_MODE_BACKFILL, DLD_ERR_UNSUPPORTED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct dld_table t = s_item(cases[i].table);
        struct dld_extract_request req = pgt_req(&t, cases[i].mode, cases[i].low, 0, cases[i].low ? "5" : NULL);
        if (cases[i].mode == DLD_MODE_DELTA)
            req.high = NULL;
        struct dld_error e = pgt_err();
        int rc = pgt_extract(s_inst, &req, &info, &got, &e);
        ck_assert_msg(rc == cases[i].code, "case %zu: %s (%s)", i, e.message, dld_code_name(rc));
        ck_assert_msg(strstr(e.message, cases[i].want), "case %zu: %s", i, e.message);
    }
}
END_TEST

START_TEST(test_fill_notes)
{
    pgt_exec(s_admin, "DROP TABLE IF EXISTS fills; CREATE TABLE fills (id int GENERATED ALWAYS AS IDENTITY,"
                      " ts timestamptz DEFAULT now(), n int); INSERT INTO fills (n) VALUES (1)");
    struct {
        const char *col, *want;
    } cases[] = {
        {"id", "-- guarantee: filter order only: id is filled by a sequence (identity)"},
        {"ts", "-- guarantee: filter order only: ts defaults to now(), a clock read before commit"},
        {"n", NULL},
    };
    for (size_t i = 0; i < 3; i++) {
        struct dld_table t = pgt_table("public", "fills", cases[i].col);
        struct dld_extract_request req = pgt_req(&t, DLD_MODE_DELTA, NULL, 0, NULL);
        struct dld_extract_info info;
        struct pgt_rows got;
        struct dld_error e = pgt_err();
        ck_assert_int_eq(pgt_extract(s_inst, &req, &info, &got, &e), DLD_OK);
        if (cases[i].want)
            ck_assert_msg(strstr(info.query, cases[i].want), "%s: %s", cases[i].col, info.query);
        else
            ck_assert_msg(!strstr(info.query, "guarantee"), "%s: %s", cases[i].col, info.query);
        pgt_rows_free(&got);
        pgt_info_free(&info);
    }
}
END_TEST

Suite *pgt_suite_commit(void)
{
    Suite *s = suite_create("postgres commit order");
    TCase *tc = tcase_create("commit");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_late_commit_sequence);
    tcase_add_test(tc, test_late_commit_seq_filter_loses_row);
    tcase_add_test(tc, test_updates_and_deletes);
    tcase_add_test(tc, test_long_transaction_spans_windows);
    tcase_add_test(tc, test_aborted_transactions);
    tcase_add_test(tc, test_frozen_rows);
    tcase_add_test(tc, test_same_window_again);
    tcase_add_test(tc, test_plan_text_epoch);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_fill_notes);
    suite_add_tcase(s, tc);
    return s;
}

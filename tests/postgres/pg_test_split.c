/* A window split over several connections sharing one snapshot (options
 * parallel and split_min_rows, plugins/source-postgres/pg_split.c): the
 * same rows as one connection, full and delta; changes committed after the
 * window's snapshot unseen by every range; the connections really open;
 * a window below the threshold on one connection; a bad value in one
 * range and a range's backend terminated fail the window with that range's
 * message, and the next extraction reads every row once; an interrupt
 * stops every reader and closes the extra connections. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg_test.h"

static PGconn *s_admin;

/* 40,000 rows over ~400 heap blocks: every range has rows */
static void s_make_table(void)
{
    pgt_exec(s_admin, "DROP TABLE IF EXISTS split_t CASCADE");
    pgt_exec(s_admin, "CREATE TABLE split_t (id bigint PRIMARY KEY, v text, n numeric(12,2), ts timestamptz)");
    pgt_exec(s_admin, "INSERT INTO split_t SELECT g, 'row ' || md5(g::text), g / 7.0,"
                      " timestamptz '2024-01-01 00:00:00+00' + g * interval '1 s' FROM generate_series(1, 40000) g");
    pgt_exec(s_admin, "UPDATE split_t SET v = NULL WHERE id % 97 = 0");
    pgt_exec(s_admin, "VACUUM ANALYZE split_t");
}

static void s_setup(void)
{
    s_admin = pgt_admin();
    s_make_table();
}

static void s_teardown(void)
{
    PQfinish(s_admin);
    s_admin = NULL;
}

static const char *const s_split4[] = {"parallel", "4", "split_min_rows", "1", NULL};

static const char s_want_sql[] =
    "SELECT id::text, v, n::text, (extract(epoch FROM ts) * 1000000)::bigint::text FROM split_t";

/* backends of this application name, optionally in a state */
static int s_backends(const char *app, const char *extra)
{
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_stat_activity WHERE application_name = '%s'%s", app,
             extra ? extra : "");
    char *v = pgt_value(s_admin, sql);
    int n = atoi(v);
    free(v);
    return n;
}

/* backends as s_backends once at most `most` remain: a closed connection's
 * backend leaves pg_stat_activity a moment after the client hung up */
static int s_backends_left(const char *app, const char *extra, int most)
{
    int n = s_backends(app, extra);
    for (int i = 0; i < 100 && n > most; i++) {
        struct timespec ms = {0, 50000000};
        nanosleep(&ms, NULL);
        n = s_backends(app, extra);
    }
    return n;
}

/* begins a full window of table `name` on inst (asserted) */
static void s_begin(void *inst, const char *name, struct dld_table *t, struct dld_extract_request *req,
                    struct dld_extract_info *info, struct dld_error *e, void **cur)
{
    *t = pgt_table("public", name, "id");
    *req = pgt_req(t, DLD_MODE_FULL, NULL, 0, NULL);
    memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;
    *e = pgt_err();
    *cur = NULL;
    ck_assert_int_eq(pgt_vt->extract_begin(inst, req, info, cur, e), DLD_OK);
}

/* extraction rows rendered like s_want_sql: id, v, n, ts as microseconds */
static void s_same_as_table(const struct pgt_rows *got, const char *what)
{
    struct pgt_rows want;
    pgt_query(s_admin, s_want_sql, &want, true);
    ck_assert_uint_eq(got->nrows, want.nrows);
    for (size_t i = 0; i < want.nrows; i++) {
        ck_assert_str_eq(pgt_cell(got, i, 0), pgt_cell(&want, i, 0));
        const char *v = pgt_cell(got, i, 1), *w = pgt_cell(&want, i, 1);
        ck_assert_msg((v == NULL) == (w == NULL) && (!v || !strcmp(v, w)), "%s: row %zu: v", what, i);
        ck_assert_msg(!strcmp(pgt_cell(got, i, 2), pgt_cell(&want, i, 2)), "%s: row %zu: n %s != %s", what, i,
                      pgt_cell(got, i, 2), pgt_cell(&want, i, 2));
        ck_assert_msg(!strcmp(pgt_cell(got, i, 3), pgt_cell(&want, i, 3)), "%s: row %zu: ts %s != %s", what, i,
                      pgt_cell(got, i, 3), pgt_cell(&want, i, 3));
    }
    pgt_rows_free(&want);
}

START_TEST(test_split_full_and_delta)
{
    void *one = pgt_open(NULL), *four = pgt_open(s_split4);
    struct dld_table t = pgt_table("public", "split_t", "id");
    struct dld_extract_request req = pgt_req(&t, DLD_MODE_FULL, NULL, 0, NULL);
    struct dld_extract_info info1, info4;
    struct pgt_rows got1, got4;
    struct dld_error e = pgt_err();
    ck_assert_int_eq(pgt_extract(one, &req, &info1, &got1, &e), DLD_OK);
    ck_assert_int_eq(pgt_extract(four, &req, &info4, &got4, &e), DLD_OK);
    ck_assert_msg(strstr(info4.query, "-- split: 4 connections sharing this snapshot"), "%s", info4.query);
    ck_assert_msg(!strstr(info1.query, "-- split") && !strstr(info1.query, "one connection"), "%s", info1.query);
    ck_assert_uint_eq(got4.nrows, 40000);
    pgt_assert_same(&got4, &got1, "full, parallel 4 vs 1");
    s_same_as_table(&got4, "full, parallel 4");
    pgt_rows_free(&got1);
    pgt_rows_free(&got4);
    pgt_info_free(&info1);
    pgt_info_free(&info4);

    /* delta: (12345, captured high], and a fixed (100, 30000] */
    req = pgt_req(&t, DLD_MODE_DELTA, "12345", 0, NULL);
    ck_assert_int_eq(pgt_extract(one, &req, &info1, &got1, &e), DLD_OK);
    ck_assert_int_eq(pgt_extract(four, &req, &info4, &got4, &e), DLD_OK);
    ck_assert_msg(strstr(info4.query, "-- split: 4 connections"), "%s", info4.query);
    ck_assert_str_eq(info4.high, "40000");
    ck_assert_uint_eq(got4.nrows, 40000 - 12345);
    pgt_assert_same(&got4, &got1, "delta, parallel 4 vs 1");
    pgt_rows_free(&got1);
    pgt_rows_free(&got4);
    pgt_info_free(&info1);
    pgt_info_free(&info4);
    req = pgt_req(&t, DLD_MODE_DELTA, "100", 0, "30000");
    ck_assert_int_eq(pgt_extract(four, &req, &info4, &got4, &e), DLD_OK);
    ck_assert_uint_eq(got4.nrows, 29900);
    ck_assert_str_eq(pgt_cell(&got4, 0, 0), "101");
    ck_assert_str_eq(pgt_cell(&got4, got4.nrows - 1, 0), "30000");
    pgt_rows_free(&got4);
    pgt_info_free(&info4);
    pgt_vt->close(one);
    pgt_vt->close(four);
}
END_TEST

/* Changes committed between the window's snapshot (extract_begin) and the
 * extra connections' start (the first extract_next) are seen by none. */
START_TEST(test_split_snapshot_and_connections)
{
    const char *opts[] = {"parallel", "4", "split_min_rows", "1", "application_name", "dld_split_snap", NULL};
    void *inst = pgt_open(opts);
    struct pgt_rows want;
    pgt_query(s_admin, "SELECT id::text, v FROM split_t", &want, true);
    struct dld_table t;
    struct dld_extract_request req;
    struct dld_extract_info info;
    struct dld_error e;
    void *cur;
    s_begin(inst, "split_t", &t, &req, &info, &e, &cur);
    ck_assert_int_eq(s_backends("dld_split_snap", NULL), 1);
    pgt_exec(s_admin, "UPDATE split_t SET v = 'changed' WHERE id % 5 = 0");
    pgt_exec(s_admin, "DELETE FROM split_t WHERE id % 11 = 0");
    pgt_exec(s_admin, "INSERT INTO split_t SELECT g, 'new', 0, now() FROM generate_series(40001, 45000) g");
    int64_t rows = 0, changed = 0, news = 0;
    int batches = 0;
    bool four = false;
    for (;;) {
        struct ArrowSchema schema;
        struct ArrowArray batch;
        memset(&schema, 0, sizeof schema);
        memset(&batch, 0, sizeof batch);
        int rc = pgt_vt->extract_next(cur, &schema, &batch, &e);
        if (rc == DLD_DONE)
            break;
        ck_assert_msg(rc == DLD_OK, "%s", e.message);
        if (batches++ == 0) /* every range's connection is open, its snapshot imported */
            four = s_backends("dld_split_snap", NULL) == 4 &&
                   s_backends("dld_split_snap", " AND query LIKE 'COPY %ctid%'") == 4;
        rows += batch.length;
        /* column v (1) of each row: 'changed' or 'new' would be after the snapshot */
        const struct ArrowArray *v = batch.children[1];
        const int32_t *off = v->buffers[1];
        const char *data = v->buffers[2];
        for (int64_t i = 0; i < v->length; i++) {
            size_t len = (size_t)(off[v->offset + i + 1] - off[v->offset + i]);
            const char *s = data + off[v->offset + i];
            if (len == 7 && !memcmp(s, "changed", 7))
                changed++;
            if (len == 3 && !memcmp(s, "new", 3))
                news++;
        }
        dld_arrow_release(&schema, &batch);
    }
    pgt_vt->extract_end(cur);
    ck_assert_msg(four, "the split window did not have 4 connections running a ctid COPY");
    ck_assert_int_eq(rows, (int64_t)want.nrows);
    ck_assert_int_eq(changed, 0);
    ck_assert_int_eq(news, 0);
    ck_assert_int_ge(batches, 4);
    /* the extra connections are closed; the instance's own one stays, idle */
    ck_assert_int_eq(s_backends_left("dld_split_snap", NULL, 1), 1);
    ck_assert_int_eq(s_backends("dld_split_snap", " AND state = 'idle'"), 1);
    pgt_info_free(&info);
    pgt_rows_free(&want);
    pgt_vt->close(inst);
    /* the next window sees the changes */
    inst = pgt_open(s_split4);
    struct pgt_rows after;
    ck_assert_int_eq(pgt_extract(inst, &req, &info, &after, &e), DLD_OK);
    s_same_as_table(&after, "after the changes");
    pgt_rows_free(&after);
    pgt_info_free(&info);
    pgt_vt->close(inst);
    s_make_table(); /* the table as the other tests expect it */
}
END_TEST

START_TEST(test_split_below_threshold)
{
    const char *opts[] = {"parallel", "4", "split_min_rows", "1000000", "application_name", "dld_split_small", NULL};
    void *inst = pgt_open(opts);
    struct dld_table t;
    struct dld_extract_request req;
    struct dld_extract_info info;
    struct dld_error e;
    void *cur;
    s_begin(inst, "split_t", &t, &req, &info, &e, &cur);
    ck_assert_msg(strstr(info.query, "-- one connection (parallel 4): estimated ") &&
                      strstr(info.query, " rows < split_min_rows 1000000"),
                  "%s", info.query);
    struct ArrowSchema schema;
    struct ArrowArray batch;
    memset(&schema, 0, sizeof schema);
    memset(&batch, 0, sizeof batch);
    ck_assert_int_eq(pgt_vt->extract_next(cur, &schema, &batch, &e), DLD_OK);
    dld_arrow_release(&schema, &batch);
    ck_assert_int_eq(s_backends("dld_split_small", NULL), 1);
    pgt_vt->extract_end(cur);
    pgt_info_free(&info);
    /* a view is never split */
    pgt_exec(s_admin, "CREATE OR REPLACE VIEW split_v AS SELECT * FROM split_t");
    const char *opts4[] = {"parallel", "4", "split_min_rows", "1", NULL};
    void *four = pgt_open(opts4);
    struct dld_table tv = pgt_table("public", "split_v", "id");
    req = pgt_req(&tv, DLD_MODE_FULL, NULL, 0, NULL);
    struct pgt_rows got;
    ck_assert_int_eq(pgt_extract(four, &req, &info, &got, &e), DLD_OK);
    ck_assert_msg(strstr(info.query, "-- one connection (parallel 4): a view"), "%s", info.query);
    ck_assert_uint_eq(got.nrows, 40000);
    pgt_rows_free(&got);
    pgt_info_free(&info);
    pgt_vt->close(four);
    pgt_vt->close(inst);
    /* parallel is bounded */
    const char *bad[] = {"parallel", "9", NULL};
    ck_assert_int_eq(pgt_open_rc(bad, &e), DLD_ERR_CONFIG);
    ck_assert_msg(strstr(e.message, "parallel must be 1..8"), "%s", e.message);
}
END_TEST

/* A value the decoder refuses, in the last range only: the window fails
 * with that range's message; without it the next extraction reads all. */
START_TEST(test_split_bad_value_in_one_range)
{
    pgt_exec(s_admin, "DROP TABLE IF EXISTS split_bad");
    pgt_exec(s_admin, "CREATE TABLE split_bad (id int PRIMARY KEY, x numeric, pad text)");
    pgt_exec(s_admin, "INSERT INTO split_bad SELECT g, g, repeat('p', 100) FROM generate_series(1, 20000) g");
    pgt_exec(s_admin, "INSERT INTO split_bad VALUES (20001, 1e40, 'the last block')");
    pgt_exec(s_admin, "VACUUM ANALYZE split_bad");
    void *inst = pgt_open(s_split4);
    struct dld_table t = pgt_table("public", "split_bad", "id");
    struct dld_extract_request req = pgt_req(&t, DLD_MODE_FULL, NULL, 0, NULL);
    struct dld_extract_info info;
    struct pgt_rows got;
    struct dld_error e = pgt_err();
    int rc = pgt_extract(inst, &req, &info, &got, &e);
    ck_assert_int_ne(rc, DLD_OK);
    ck_assert_msg(strstr(e.message, "split range 4 of 4"), "%s", e.message);
    ck_assert_msg(strstr(e.message, "x"), "%s", e.message);
    pgt_rows_free(&got);
    pgt_info_free(&info);
    pgt_exec(s_admin, "DELETE FROM split_bad WHERE id = 20001");
    e = pgt_err();
    ck_assert_int_eq(pgt_extract(inst, &req, &info, &got, &e), DLD_OK);
    ck_assert_msg(strstr(info.query, "-- split: 4 connections"), "%s", info.query);
    ck_assert_uint_eq(got.nrows, 20000);
    for (size_t i = 0; i < got.nrows; i++) { /* sorted by id: each once */
        char want[24];
        snprintf(want, sizeof want, "%zu", i + 1);
        ck_assert_str_eq(pgt_cell(&got, i, 0), want);
    }
    pgt_rows_free(&got);
    pgt_info_free(&info);
    pgt_vt->close(inst);
    pgt_exec(s_admin, "DROP TABLE split_bad");
}
END_TEST

/* A table big enough that the ranges' COPYs are still running while the
 * consumer waits (the readers hold one batch each, the server blocks on
 * the socket). */
static void s_big_table(void)
{
    pgt_exec(s_admin, "DROP TABLE IF EXISTS split_big");
    pgt_exec(s_admin, "CREATE TABLE split_big (id int PRIMARY KEY, pad text)");
    pgt_exec(s_admin, "INSERT INTO split_big SELECT g, repeat(md5(g::text), 6) FROM generate_series(1, 200000) g");
    pgt_exec(s_admin, "VACUUM ANALYZE split_big");
}

static int s_next(void *cur, struct dld_error *e, int64_t *rows)
{
    struct ArrowSchema schema;
    struct ArrowArray batch;
    memset(&schema, 0, sizeof schema);
    memset(&batch, 0, sizeof batch);
    int rc = pgt_vt->extract_next(cur, &schema, &batch, e);
    if (rc == DLD_OK) {
        *rows += batch.length;
        dld_arrow_release(&schema, &batch);
    }
    return rc;
}

START_TEST(test_split_backend_terminated)
{
    s_big_table();
    const char *opts[] = {"parallel", "4", "split_min_rows", "1", "application_name", "dld_split_kill", NULL};
    void *inst = pgt_open(opts);
    struct dld_table t;
    struct dld_extract_request req;
    struct dld_extract_info info;
    struct dld_error e;
    void *cur;
    s_begin(inst, "split_big", &t, &req, &info, &e, &cur);
    int64_t rows = 0;
    ck_assert_int_eq(s_next(cur, &e, &rows), DLD_OK);
    /* the second range's backend (its COPY has both bounds and starts above block 0) */
    char *killed = pgt_value(s_admin, "SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity"
                                      " WHERE application_name = 'dld_split_kill' AND state = 'active'"
                                      " AND query LIKE 'COPY %ctid >= %ctid < %'"
                                      " ORDER BY query LIMIT 1");
    ck_assert_str_eq(killed, "true");
    free(killed);
    int rc;
    while ((rc = s_next(cur, &e, &rows)) == DLD_OK)
        ck_assert_int_lt(rows, 200000);
    ck_assert_int_eq(rc, DLD_ERR_RETRY);
    ck_assert_msg(strstr(e.message, "split range 2 of 4") && strstr(e.message, "connection lost"), "%s",
                  e.message);
    pgt_vt->extract_end(cur);
    pgt_info_free(&info);
    /* every extra connection closed, none left in a transaction */
    ck_assert_int_le(s_backends_left("dld_split_kill", NULL, 1), 1);
    ck_assert_int_eq(s_backends("dld_split_kill", " AND state <> 'idle'"), 0);
    /* the next window reads every row once */
    struct pgt_rows got;
    ck_assert_int_eq(pgt_extract(inst, &req, &info, &got, &e), DLD_OK);
    ck_assert_uint_eq(got.nrows, 200000);
    for (size_t i = 1; i < got.nrows; i++)
        ck_assert_int_eq(atoi(pgt_cell(&got, i, 0)), atoi(pgt_cell(&got, i - 1, 0)) + 1);
    pgt_rows_free(&got);
    pgt_info_free(&info);
    pgt_vt->close(inst);
}
END_TEST

/* set by this thread or the lock watcher, read by the plugin: atomic */
static int s_interrupted;

static void s_interrupt(int on)
{
    __atomic_store_n(&s_interrupted, on, __ATOMIC_RELEASE);
}

static int s_cancelled_flag(void)
{
    return __atomic_load_n(&s_interrupted, __ATOMIC_ACQUIRE);
}

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static volatile double s_interrupted_at;

/* Interrupts (the host's cancelled()) once a range's COPY waits on a lock. */
static void *s_watch_lock(void *arg)
{
    (void)arg;
    PGconn *c = pgt_admin();
    s_interrupted_at = 0;
    double start = s_now();
    while (s_now() - start < 10) {
        PGresult *r = PQexec(c, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'dld_split_int'"
                                " AND wait_event_type = 'Lock'");
        bool waiting = PQresultStatus(r) == PGRES_TUPLES_OK && atoi(PQgetvalue(r, 0, 0)) >= 1;
        PQclear(r);
        if (waiting) {
            s_interrupted_at = s_now();
            s_interrupt(1);
            break;
        }
        struct timespec ms = {0, 20000000};
        nanosleep(&ms, NULL);
    }
    PQfinish(c);
    return NULL;
}

/* An interrupt while the split COPYs run: the readers are stopped, the
 * extra connections closed, within the usual bounds. A range held behind a
 * lock (its COPY waits in the server) is cancelled there too. */
START_TEST(test_split_interrupt)
{
    s_big_table();
    const char *opts[] = {"parallel", "4", "split_min_rows", "1", "application_name", "dld_split_int", NULL};
    void *inst = pgt_open(opts);
    /* pgt_open's host, whose cancelled() now reads s_interrupted */
    struct dld_host *host = (struct dld_host *)pgt_host();
    host->cancelled = s_cancelled_flag;
    struct dld_table t = pgt_table("public", "split_big", "id");
    struct dld_extract_request req = pgt_req(&t, DLD_MODE_FULL, NULL, 0, NULL);
    struct dld_extract_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    struct dld_error e = pgt_err();
    void *cur = NULL;
    int64_t rows = 0;

    /* 1. between batches: extract_end stops four running readers */
    s_interrupt(0);
    ck_assert_int_eq(pgt_vt->extract_begin(inst, &req, &info, &cur, &e), DLD_OK);
    ck_assert_int_eq(s_next(cur, &e, &rows), DLD_OK);
    ck_assert_int_eq(s_backends("dld_split_int", " AND state = 'active'"), 4);
    s_interrupt(1);
    double t0 = s_now();
    pgt_vt->extract_end(cur);
    double took = s_now() - t0;
    ck_assert_msg(took < 2.0, "extract_end took %.2f s", took);
    ck_assert_int_le(s_backends_left("dld_split_int", NULL, 1), 1);
    ck_assert_int_eq(s_backends("dld_split_int", " AND state <> 'idle'"), 0);
    pgt_info_free(&info);

    /* 2. a range's COPY waiting for a lock: the interrupt cancels it */
    s_interrupt(0);
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    ck_assert_int_eq(pgt_vt->extract_begin(inst, &req, &info, &cur, &e), DLD_OK);
    /* the window's transaction holds its lock (EXPLAIN); an exclusive
     * request queues behind it and the extra ranges' COPYs behind that */
    PGconn *locker = pgt_admin();
    pgt_exec(locker, "BEGIN");
    ck_assert_int_eq(PQsendQuery(locker, "LOCK TABLE split_big IN ACCESS EXCLUSIVE MODE"), 1);
    pthread_t watcher;
    ck_assert_int_eq(pthread_create(&watcher, NULL, s_watch_lock, NULL), 0);
    rows = 0;
    int rc = s_next(cur, &e, &rows);
    double end = s_now();
    pthread_join(watcher, NULL);
    ck_assert_msg(s_interrupted_at > 0, "no range's COPY waited on the lock");
    ck_assert_int_eq(rc, DLD_ERR_RETRY);
    ck_assert_msg(strstr(e.message, "interrupted by a signal"), "%s", e.message);
    ck_assert_msg(end - s_interrupted_at < 2.0, "extract_next took %.2f s after the interrupt", end - s_interrupted_at);
    pgt_vt->extract_end(cur);
    pgt_info_free(&info);
    ck_assert_int_eq(s_backends_left("dld_split_int", " AND wait_event_type = 'Lock'", 0), 0);
    ck_assert_int_le(s_backends_left("dld_split_int", NULL, 1), 1);
    PGresult *res;
    while ((res = PQgetResult(locker)) != NULL) /* the lock, granted once the window let go */
        PQclear(res);
    pgt_exec(locker, "COMMIT");
    PQfinish(locker);

    /* 3. the instance reads the window in full afterwards */
    s_interrupt(0);
    struct pgt_rows got;
    ck_assert_int_eq(pgt_extract(inst, &req, &info, &got, &e), DLD_OK);
    ck_assert_uint_eq(got.nrows, 200000);
    pgt_rows_free(&got);
    pgt_info_free(&info);
    pgt_vt->close(inst);
    pgt_host(); /* the default cancelled() again */
    pgt_exec(s_admin, "DROP TABLE split_big");
}
END_TEST

Suite *pgt_suite_split(void)
{
    Suite *s = suite_create("split");
    TCase *tc = tcase_create("split");
    tcase_add_unchecked_fixture(tc, s_setup, s_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_split_full_and_delta);
    tcase_add_test(tc, test_split_snapshot_and_connections);
    tcase_add_test(tc, test_split_below_threshold);
    tcase_add_test(tc, test_split_bad_value_in_one_range);
    tcase_add_test(tc, test_split_backend_terminated);
    tcase_add_test(tc, test_split_interrupt);
    suite_add_tcase(s, tc);
    return s;
}

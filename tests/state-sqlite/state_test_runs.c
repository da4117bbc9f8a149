/* Runs, commits, watermarks and history. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "state_test.h"

static int64_t s_lease(const char *table)
{
    struct dld_error e = state_test_err();
    int64_t tok = 0;
    ck_assert_int_eq(vt->lease_acquire(inst, table, "host:1", 600000, &tok, &e), DLD_OK);
    return tok;
}

START_TEST(watermark_get_set_clear)
{
    struct dld_error e = state_test_err();
    struct dld_watermark wm = {.struct_size = sizeof(wm)};
    ck_assert_int_eq(vt->watermark_get(inst, "never", &wm, &e), DLD_OK);
    ck_assert_ptr_null(wm.value);
    ck_assert_int_eq(wm.load_id, 0);

    int64_t tok = s_lease("t");
    dld_test_clock_set(1700000000000);
    ck_assert_int_eq(vt->watermark_set(inst, "t", "2024-05-01 00:00:00", tok, &e), DLD_OK);
    ck_assert_int_eq(vt->watermark_get(inst, "t", &wm, &e), DLD_OK);
    ck_assert_str_eq(wm.value, "2024-05-01 00:00:00");
    ck_assert_int_eq(wm.load_id, 0);
    ck_assert_int_eq(wm.updated_ms, 1700000000000);
    dld_watermark_clean_up(dld_test_host(), &wm);

    ck_assert_int_eq(vt->watermark_set(inst, "t", NULL, tok, &e), DLD_OK);
    ck_assert_int_eq(vt->watermark_get(inst, "t", &wm, &e), DLD_OK);
    ck_assert_ptr_null(wm.value);
    /* without any lease */
    e = state_test_err();
    ck_assert_int_eq(vt->watermark_set(inst, "other", "1", 1, &e), DLD_ERR_CONFLICT);
}
END_TEST

START_TEST(run_record_upsert_and_last)
{
    struct dld_error e = state_test_err();
    struct dld_run out = {.struct_size = sizeof(out)};
    ck_assert_int_eq(vt->run_last(inst, "t", &out, &e), DLD_ERR_NOT_FOUND);

    int64_t tok = s_lease("t");
    struct dld_run r = state_test_run("t", 41, DLD_RUN_PLANNED, "100", "200", 5000);
    r.mode = DLD_MODE_BACKFILL;
    r.low_inclusive = 1;
    r.info_json = (char *)"{\"query\":\"SELECT 1\",\"snapshot\":7}";
    ck_assert_int_eq(vt->run_record(inst, &r, tok, &e), DLD_OK);
    /* a later load_id with an earlier start: run_last goes by load_id */
    struct dld_run r2 = state_test_run("t", 42, DLD_RUN_PLANNED, "200", "300", 1000);
    ck_assert_int_eq(vt->run_record(inst, &r2, tok, &e), DLD_OK);
    ck_assert_int_eq(vt->run_last(inst, "t", &out, &e), DLD_OK);
    ck_assert_int_eq(out.load_id, 42);
    dld_run_clean_up(dld_test_host(), &out);

    /* update 41 in place: the whole record, except info/owner kept when NULL */
    r.status = DLD_RUN_FAILED;
    r.error = (char *)"ORA-03113: end-of-file on communication channel";
    r.rows = 12;
    r.ended_ms = 6500;
    r.info_json = NULL;
    r.owner = NULL;
    ck_assert_int_eq(vt->run_record(inst, &r, tok, &e), DLD_OK);
    char *hist = NULL;
    ck_assert_int_eq(vt->history(inst, "t", 0, &hist, &e), DLD_OK);
    cJSON *arr = cJSON_Parse(hist);
    ck_assert_int_eq(cJSON_GetArraySize(arr), 2);
    cJSON *h41 = cJSON_GetArrayItem(arr, 0); /* started 5000: newest */
    ck_assert_int_eq(cJSON_GetObjectItem(h41, "load_id")->valueint, 41);
    ck_assert_str_eq(cJSON_GetObjectItem(h41, "status")->valuestring, "failed");
    ck_assert_str_eq(cJSON_GetObjectItem(h41, "mode")->valuestring, "backfill");
    ck_assert_str_eq(cJSON_GetObjectItem(h41, "error")->valuestring, r.error);
    ck_assert_str_eq(cJSON_GetObjectItem(h41, "owner")->valuestring, "host:1");
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(h41, "low_inclusive")));
    ck_assert_int_eq(cJSON_GetObjectItem(h41, "rows")->valueint, 12);
    ck_assert_int_eq(cJSON_GetObjectItem(h41, "duration_ms")->valueint, 1500);
    cJSON *info = cJSON_GetObjectItem(h41, "info");
    ck_assert(cJSON_IsObject(info));
    ck_assert_int_eq(cJSON_GetObjectItem(info, "snapshot")->valueint, 7);
    cJSON *h42 = cJSON_GetArrayItem(arr, 1);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(h42, "ended_ms")));
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(h42, "duration_ms")));
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(h42, "error")));
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(h42, "info")));
    ck_assert_str_eq(cJSON_GetObjectItem(h42, "low")->valuestring, "200");
    cJSON_Delete(arr);
    free(hist);

    /* run_last returns every field */
    ck_assert_int_eq(vt->run_record(inst, &(struct dld_run){.struct_size = sizeof(struct dld_run),
                                                            .table = (char *)"t",
                                                            .load_id = 43,
                                                            .mode = DLD_MODE_FULL,
                                                            .status = DLD_RUN_NOOP,
                                                            .rows = 1,
                                                            .bytes = 2,
                                                            .files = 3,
                                                            .started_ms = 10,
                                                            .ended_ms = 20},
                                     tok, &e),
                     DLD_OK);
    ck_assert_int_eq(vt->run_last(inst, "t", &out, &e), DLD_OK);
    ck_assert_str_eq(out.table, "t");
    ck_assert_int_eq(out.load_id, 43);
    ck_assert_uint_eq(out.mode, DLD_MODE_FULL);
    ck_assert_uint_eq(out.status, DLD_RUN_NOOP);
    ck_assert_ptr_null(out.low);
    ck_assert_ptr_null(out.high);
    ck_assert_ptr_null(out.owner);
    ck_assert_int_eq(out.bytes, 2);
    ck_assert_int_eq(out.files, 3);
    ck_assert_int_eq(out.ended_ms, 20);
    dld_run_clean_up(dld_test_host(), &out);
}
END_TEST

START_TEST(run_bad_input)
{
    int64_t tok = s_lease("t");
    struct dld_error e = state_test_err();
    struct dld_run r = state_test_run("t", 1, 0, NULL, "1", 1);
    ck_assert_int_eq(vt->run_record(inst, &r, tok, &e), DLD_ERR_CONFIG);
    r.status = DLD_RUN_PLANNED;
    r.mode = 9;
    ck_assert_int_eq(vt->run_record(inst, &r, tok, &e), DLD_ERR_CONFIG);
    r.mode = DLD_MODE_DELTA;
    r.info_json = (char *)"not json";
    ck_assert_int_eq(vt->run_record(inst, &r, tok, &e), DLD_ERR_CONFIG);
    r.info_json = NULL;
    r.high = NULL;
    ck_assert_int_eq(vt->run_commit(inst, &r, 1, tok, &e), DLD_ERR_CONFIG);
    ck_assert_msg(strstr(e.message, "high"), "%s", e.message);
}
END_TEST

START_TEST(run_commit_moves_run_and_watermark)
{
    struct dld_error e = state_test_err();
    int64_t tok = s_lease("t");
    struct dld_run r = state_test_run("t", 7, DLD_RUN_PLANNED, "10", "20", 1000);
    ck_assert_int_eq(vt->run_record(inst, &r, tok, &e), DLD_OK);
    r.status = DLD_RUN_PUBLISHED;
    ck_assert_int_eq(vt->run_record(inst, &r, tok, &e), DLD_OK);
    r.rows = 500;
    r.bytes = 12345;
    r.files = 2;
    r.ended_ms = 3000;
    ck_assert_int_eq(vt->run_commit(inst, &r, 1, tok, &e), DLD_OK);

    struct dld_run out = {.struct_size = sizeof(out)};
    ck_assert_int_eq(vt->run_last(inst, "t", &out, &e), DLD_OK);
    ck_assert_uint_eq(out.status, DLD_RUN_COMMITTED); /* whatever status the caller passed */
    ck_assert_int_eq(out.rows, 500);
    ck_assert_int_eq(out.bytes, 12345);
    ck_assert_int_eq(out.ended_ms, 3000);
    dld_run_clean_up(dld_test_host(), &out);
    struct dld_watermark wm = {.struct_size = sizeof(wm)};
    ck_assert_int_eq(vt->watermark_get(inst, "t", &wm, &e), DLD_OK);
    ck_assert_str_eq(wm.value, "20");
    ck_assert_int_eq(wm.load_id, 7);
    dld_watermark_clean_up(dld_test_host(), &wm);

    /* advance = 0 (a full load): committed, watermark untouched */
    struct dld_run full = state_test_run("t", 8, DLD_RUN_PUBLISHED, NULL, "99", 4000);
    full.mode = DLD_MODE_FULL;
    ck_assert_int_eq(vt->run_commit(inst, &full, 0, tok, &e), DLD_OK);
    ck_assert_int_eq(vt->run_last(inst, "t", &out, &e), DLD_OK);
    ck_assert_uint_eq(out.status, DLD_RUN_COMMITTED);
    ck_assert_int_eq(out.load_id, 8);
    dld_run_clean_up(dld_test_host(), &out);
    ck_assert_int_eq(vt->watermark_get(inst, "t", &wm, &e), DLD_OK);
    ck_assert_str_eq(wm.value, "20");
    dld_watermark_clean_up(dld_test_host(), &wm);
}
END_TEST

/* Fault injection: the watermark write fails inside run_commit (a trigger
 * raises), so the run row must not have moved either. */
START_TEST(run_commit_is_atomic)
{
    struct dld_error e = state_test_err();
    int64_t tok = s_lease("t");
    struct dld_run r = state_test_run("t", 7, DLD_RUN_PUBLISHED, "10", "20", 1000);
    ck_assert_int_eq(vt->run_record(inst, &r, tok, &e), DLD_OK);

    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(db_path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db,
                                  "CREATE TRIGGER fail_wm BEFORE INSERT ON watermarks "
                                  "BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    r.rows = 99;
    ck_assert_int_eq(vt->run_commit(inst, &r, 1, tok, &e), DLD_ERR_FATAL);
    ck_assert_msg(strstr(e.message, "injected failure"), "%s", e.message);
    ck_assert_str_eq(e.upstream_code, "SQLITE_CONSTRAINT");

    struct dld_run out = {.struct_size = sizeof(out)};
    ck_assert_int_eq(vt->run_last(inst, "t", &out, &e), DLD_OK);
    ck_assert_uint_eq(out.status, DLD_RUN_PUBLISHED);
    ck_assert_int_eq(out.rows, 0);
    dld_run_clean_up(dld_test_host(), &out);
    struct dld_watermark wm = {.struct_size = sizeof(wm)};
    ck_assert_int_eq(vt->watermark_get(inst, "t", &wm, &e), DLD_OK);
    ck_assert_ptr_null(wm.value);

    /* the instance is usable after the failed transaction */
    ck_assert_int_eq(sqlite3_exec(db, "DROP TRIGGER fail_wm", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    e = state_test_err();
    ck_assert_int_eq(vt->run_commit(inst, &r, 1, tok, &e), DLD_OK);
    ck_assert_int_eq(vt->watermark_get(inst, "t", &wm, &e), DLD_OK);
    ck_assert_str_eq(wm.value, "20");
    dld_watermark_clean_up(dld_test_host(), &wm);
}
END_TEST

START_TEST(history_order_and_limit)
{
    struct dld_error e = state_test_err();
    int64_t ta = s_lease("a"), tb = s_lease("b");
    /* (table, load_id, started_ms) */
    struct {
        const char *table;
        int64_t id, started;
    } rows[] = {{"a", 1, 100}, {"a", 2, 300}, {"b", 1, 200}, {"b", 5, 300}, {"a", 3, 300}, {"b", 2, 50}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct dld_run r = state_test_run(rows[i].table, rows[i].id, DLD_RUN_COMMITTED, NULL, "x", rows[i].started);
        ck_assert_int_eq(vt->run_record(inst, &r, rows[i].table[0] == 'a' ? ta : tb, &e), DLD_OK);
    }
    /* started_ms desc, then load_id desc */
    const char *want_t[] = {"b", "a", "a", "b", "a", "b"};
    int want_id[] = {5, 3, 2, 1, 1, 2};
    char *hist = NULL;
    ck_assert_int_eq(vt->history(inst, NULL, 0, &hist, &e), DLD_OK);
    cJSON *arr = cJSON_Parse(hist);
    ck_assert_int_eq(cJSON_GetArraySize(arr), 6);
    for (int i = 0; i < 6; i++) {
        cJSON *o = cJSON_GetArrayItem(arr, i);
        ck_assert_str_eq(cJSON_GetObjectItem(o, "table")->valuestring, want_t[i]);
        ck_assert_int_eq(cJSON_GetObjectItem(o, "load_id")->valueint, want_id[i]);
    }
    cJSON_Delete(arr);
    free(hist);

    ck_assert_int_eq(vt->history(inst, "a", 2, &hist, &e), DLD_OK);
    arr = cJSON_Parse(hist);
    ck_assert_int_eq(cJSON_GetArraySize(arr), 2);
    ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "load_id")->valueint, 3);
    ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 1), "load_id")->valueint, 2);
    cJSON_Delete(arr);
    free(hist);

    ck_assert_int_eq(vt->history(inst, "nobody", 10, &hist, &e), DLD_OK);
    ck_assert_str_eq(hist, "[]");
    free(hist);

    struct dld_run out = {.struct_size = sizeof(out)};
    ck_assert_int_eq(vt->run_last(inst, "b", &out, &e), DLD_OK);
    ck_assert_int_eq(out.load_id, 5);
    dld_run_clean_up(dld_test_host(), &out);
}
END_TEST

void state_test_add_runs(TCase *tc)
{
    tcase_add_test(tc, watermark_get_set_clear);
    tcase_add_test(tc, run_record_upsert_and_last);
    tcase_add_test(tc, run_bad_input);
    tcase_add_test(tc, run_commit_moves_run_and_watermark);
    tcase_add_test(tc, run_commit_is_atomic);
    tcase_add_test(tc, history_order_and_limit);
}

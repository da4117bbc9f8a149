/* source-sqlite suite: windows through the vtable, the same cases through
 * the .so (dlopen) and through the builtin entry.
 *
 * What is checked: values are bound by the filter column's storage class (a
 * column without a declared type loads), text times in several forms are
 * compared as instants (every row once across windows), the lag bound is
 * written in the values' own form, and a value that does not fit the column
 * is refused naming table, column and value. */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <deltaload/deltaload.h>

#include "test_host.h"

/* defined by the builtin object (plugins/source-sqlite, -DDLD_BUILTIN) */
int dld_builtin_entry_source_sqlite(const struct dld_host *host, const struct dld_plugin **out);

/* 2026-03-01T12:00:00Z */
#define S_NOW_MS INT64_C(1772366400000)

static const struct dld_source_vtable *vt;
static const struct dld_plugin *s_plugin;
static void *s_so;
static void *inst;
static char s_dir[400];
static char s_db[512];

static void s_sql(const char *sql)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(s_db, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, msg ? msg : "?");
    sqlite3_close(db);
}

static void s_setup_common(void)
{
    ck_assert_ptr_nonnull(s_plugin);
    vt = s_plugin->vtable;
    ck_assert_int_eq(dld_test_tmpdir(s_dir, sizeof s_dir, "source-sqlite"), 0);
    snprintf(s_db, sizeof s_db, "%s/src.db", s_dir);
    s_sql("CREATE TABLE IF NOT EXISTS placeholder(x)");
    dld_test_clock_real();
    const char *opts[] = {"path", s_db, NULL};
    struct dld_error e;
    dld_error_init(&e);
    inst = NULL;
    ck_assert_msg(vt->open(dld_test_host(), opts, &inst, &e) == DLD_OK, "open: %s", e.message);
}

static void s_setup_so(void)
{
    s_so = dld_test_plugin_load("source", "sqlite", &s_plugin);
    ck_assert_msg(s_so != NULL, "could not load dld-source-sqlite.so from $DLD_PLUGIN_DIR");
    s_setup_common();
}

static void s_setup_builtin(void)
{
    ck_assert_int_eq(dld_builtin_entry_source_sqlite(dld_test_host(), &s_plugin), DLD_OK);
    s_setup_common();
}

static void s_teardown(void)
{
    if (inst)
        vt->close(inst);
    inst = NULL;
    dld_test_clock_real();
    if (s_so)
        dld_test_plugin_unload(s_so);
    s_so = NULL;
    if (getenv("DLD_KEEP_TMP") == NULL)
        dld_test_rmtree(s_dir);
}

static struct dld_table s_table(const char *table, const char *column)
{
    struct dld_table t;
    memset(&t, 0, sizeof t);
    t.struct_size = sizeof t;
    t.target_table_name = table;
    t.source_schema = "main";
    t.source_table = table;
    t.filter_column = column;
    t.filter_operator = column ? "gte" : NULL;
    t.output_prefix = "";
    t.active = 1;
    return t;
}

static struct dld_extract_request s_req(const struct dld_table *t, uint32_t mode, const char *low, int inclusive,
                                        const char *high)
{
    struct dld_extract_request r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    r.table = t;
    r.mode = mode;
    r.low = low;
    r.low_inclusive = inclusive;
    r.high = high;
    r.batch_rows = 2;
    return r;
}

/* One window: the ids (first column, int64) of its rows, sorted, as "1,2,3". */
struct win {
    int rc;
    char ids[1024];
    char high[128];  /* "(null)" when nothing to load */
    char query[4096];
    struct dld_error err;
};

static int s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static struct win s_run(const struct dld_extract_request *req)
{
    struct win w;
    memset(&w, 0, sizeof w);
    dld_error_init(&w.err);
    struct dld_extract_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    struct ArrowSchema declared = {0}; /* ABI 1.2: every window declares its columns */
    info.schema = &declared;
    void *cur = NULL;
    w.rc = vt->extract_begin(inst, req, &info, &cur, &w.err);
    if (w.rc != DLD_OK) {
        ck_assert_ptr_null(declared.release); /* nothing handed over on failure */
        return w;
    }
    ck_assert_ptr_nonnull(declared.release);
    snprintf(w.high, sizeof w.high, "%s", info.high ? info.high : "(null)");
    snprintf(w.query, sizeof w.query, "%s", info.query ? info.query : "");
    free(info.high);
    free(info.query);
    free(info.snapshot);
    int64_t ids[256];
    size_t n = 0;
    for (;;) {
        struct ArrowSchema schema;
        struct ArrowArray batch;
        memset(&schema, 0, sizeof schema);
        memset(&batch, 0, sizeof batch);
        int rc = vt->extract_next(cur, &schema, &batch, &w.err);
        if (rc == DLD_DONE)
            break;
        if (rc != DLD_OK) {
            w.rc = rc;
            break;
        }
        ck_assert_str_eq(schema.children[0]->format, "l");
        ck_assert_int_eq(declared.n_children, schema.n_children); /* the batches have the declared columns */
        for (int64_t i = 0; i < schema.n_children; i++) {
            ck_assert_str_eq(declared.children[i]->name, schema.children[i]->name);
            ck_assert_str_eq(declared.children[i]->format, schema.children[i]->format);
            ck_assert_int_eq(declared.children[i]->flags, schema.children[i]->flags);
        }
        const struct ArrowArray *c = batch.children[0];
        for (int64_t i = 0; i < batch.length && n < 256; i++)
            ids[n++] = ((const int64_t *)c->buffers[1])[c->offset + i];
        dld_arrow_release(&schema, &batch);
    }
    vt->extract_end(cur);
    declared.release(&declared);
    qsort(ids, n, sizeof ids[0], s_cmp_i64);
    for (size_t i = 0; i < n; i++)
        snprintf(w.ids + strlen(w.ids), sizeof w.ids - strlen(w.ids), "%s%lld", i ? "," : "", (long long)ids[i]);
    return w;
}

static struct win s_ok(const struct dld_extract_request *req)
{
    struct win w = s_run(req);
    ck_assert_msg(w.rc == DLD_OK, "window failed (%s): %s", dld_code_name(w.rc), w.err.message);
    return w;
}

#define ASSERT_IDS(w, want) ck_assert_msg(!strcmp((w).ids, want), "rows %s, expected %s\n%s", (w).ids, want, (w).query)
#define ASSERT_HAS(text, needle) ck_assert_msg(strstr(text, needle) != NULL, "'%s' not in:\n%s", needle, text)
#define ASSERT_HASNT(text, needle) ck_assert_msg(strstr(text, needle) == NULL, "'%s' in:\n%s", needle, text)

/* ---- storage classes --------------------------------------------------------- */

START_TEST(untyped_column_with_integers_loads)
{
    /* no declared type: SQLite never converts a bound text to a number there */
    s_sql("CREATE TABLE u(id INTEGER, seq); INSERT INTO u VALUES (1, 1), (2, 2), (3, 3), (4, NULL)");
    struct dld_table t = s_table("u", "seq");
    struct dld_extract_request req = s_req(&t, DLD_MODE_DELTA, "1", 1, NULL);
    struct win w = s_ok(&req);
    ASSERT_IDS(w, "1,2,3");
    ck_assert_str_eq(w.high, "3");
    ASSERT_HAS(w.query, "\"seq\" >= ?1 AND \"seq\" <= ?2 -- ?1=1, ?2=3");

    s_sql("INSERT INTO u VALUES (5, 4), (6, 5)");
    req = s_req(&t, DLD_MODE_DELTA, "3", 0, NULL);
    w = s_ok(&req);
    ASSERT_IDS(w, "5,6");
    ck_assert_str_eq(w.high, "5");

    /* full operators bind the same way */
    t.filter_operator = "eq";
    t.start_value = "2";
    req = s_req(&t, DLD_MODE_FULL, NULL, 0, NULL);
    w = s_ok(&req);
    ASSERT_IDS(w, "2");
    t.filter_operator = "notbetween";
    t.end_value = "4";
    w = s_ok(&req);
    ASSERT_IDS(w, "1,6");
}
END_TEST

START_TEST(untyped_column_with_reals_keeps_every_digit)
{
    s_sql("CREATE TABLE r(id INTEGER, v); INSERT INTO r VALUES (1, 0.1), (2, 0.1 + 0.2), (3, 0.25)");
    struct dld_table t = s_table("r", "v");
    struct dld_extract_request req = s_req(&t, DLD_MODE_DELTA, "0.2", 0, NULL);
    struct win w = s_ok(&req);
    ASSERT_IDS(w, "2,3");
    /* 0.30000000000000004: the high mark reads back as the same double */
    ck_assert_str_eq(w.high, "0.30000000000000004");
    char high[128];
    snprintf(high, sizeof high, "%s", w.high);
    s_sql("INSERT INTO r VALUES (4, 0.3), (5, 0.5)");
    req = s_req(&t, DLD_MODE_DELTA, high, 0, NULL);
    w = s_ok(&req);
    ASSERT_IDS(w, "5");
}
END_TEST

START_TEST(mixed_storage_classes_refused)
{
    s_sql("CREATE TABLE m(id INTEGER, k); INSERT INTO m VALUES (1, 1), (2, 2), (3, 'x')");
    struct dld_table t = s_table("m", "k");
    struct dld_extract_request req = s_req(&t, DLD_MODE_DELTA, NULL, 0, NULL);
    struct win w = s_run(&req);
    ck_assert_int_eq(w.rc, DLD_ERR_CONFIG);
    ASSERT_HAS(w.err.message, "table m");
    ASSERT_HAS(w.err.message, "filter column k");
    ASSERT_HAS(w.err.message, "'1' and 'x'");
}
END_TEST

START_TEST(values_that_do_not_fit_are_refused)
{
    s_sql("CREATE TABLE orders(id INTEGER, seq INTEGER, ts DATETIME, d DATE);"
          "INSERT INTO orders VALUES (1, 1, '2026-01-01 10:00:00', '2026-01-01');"
          "CREATE TABLE empty_orders(id INTEGER, seq INTEGER, ts TIMESTAMP)");
    static const struct {
        const char *table, *column;
        uint32_t mode;
        const char *low;
        int inclusive;
        const char *high, *what;
    } cases[] = {
        {"orders", "seq", DLD_MODE_DELTA, "abc", 1, NULL, "startvalue 'abc'"},
        {"orders", "seq", DLD_MODE_DELTA, "abc", 0, NULL, "watermark (reset --to) 'abc'"},
        {"orders", "seq", DLD_MODE_BACKFILL, "1", 1, "zzz", "backfill upper bound 'zzz'"},
        {"orders", "seq", DLD_MODE_BACKFILL, "1e", 1, "5", "backfill lower bound '1e'"},
        {"orders", "ts", DLD_MODE_DELTA, "not-a-date", 1, NULL, "startvalue 'not-a-date'"},
        {"orders", "ts", DLD_MODE_BACKFILL, "2026-01-01", 1, "2026-13-01", "backfill upper bound '2026-13-01'"},
        {"orders", "d", DLD_MODE_DELTA, "yesterday", 0, NULL, "'yesterday'"},
        /* no rows yet: the declared type decides */
        {"empty_orders", "seq", DLD_MODE_DELTA, "abc", 1, NULL, "startvalue 'abc'"},
        {"empty_orders", "ts", DLD_MODE_DELTA, "not-a-date", 1, NULL, "startvalue 'not-a-date'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct dld_table t = s_table(cases[i].table, cases[i].column);
        struct dld_extract_request req = s_req(&t, cases[i].mode, cases[i].low, cases[i].inclusive, cases[i].high);
        struct win w = s_run(&req);
        ck_assert_msg(w.rc == DLD_ERR_CONFIG, "case %zu: %s (%s)", i, dld_code_name(w.rc), w.err.message);
        char table[200], column[200];
        snprintf(table, sizeof table, "table %s:", cases[i].table);
        snprintf(column, sizeof column, "filter column %s (", cases[i].column);
        ASSERT_HAS(w.err.message, table);
        ASSERT_HAS(w.err.message, column);
        ASSERT_HAS(w.err.message, cases[i].what);
    }
    /* a full operator's startvalue too */
    struct dld_table t = s_table("orders", "seq");
    t.filter_operator = "eq";
    t.start_value = "abc";
    struct dld_extract_request req = s_req(&t, DLD_MODE_FULL, NULL, 0, NULL);
    struct win w = s_run(&req);
    ck_assert_int_eq(w.rc, DLD_ERR_CONFIG);
    ASSERT_HAS(w.err.message, "startvalue 'abc' does not fit filter column seq (INTEGER");
    /* what fits is taken: a number on an INTEGER column, any time form on a DATETIME one */
    t = s_table("orders", "ts");
    req = s_req(&t, DLD_MODE_DELTA, "2026-01-01T09:00:00Z", 1, NULL);
    w = s_ok(&req);
    ASSERT_IDS(w, "1");
    t = s_table("orders", "seq");
    req = s_req(&t, DLD_MODE_DELTA, "0.5", 0, NULL);
    w = s_ok(&req);
    ASSERT_IDS(w, "1");
}
END_TEST

/* ---- time columns -------------------------------------------------------------- */

START_TEST(mixed_offsets_every_row_once)
{
    /* as text, '2026-01-01T10:00+02:00' (08:00Z) sorts last: a high mark
     * taken as text would be it, and 09:45Z, inserted later, would sort
     * below it and never load */
    s_sql("CREATE TABLE ev(id INTEGER, ts DATETIME);"
          "INSERT INTO ev VALUES (1, '2026-01-01T09:00Z'), (2, '2026-01-01T10:00+02:00'), (3, '2026-01-01T09:30Z')");
    struct dld_table t = s_table("ev", "ts");
    struct dld_extract_request req = s_req(&t, DLD_MODE_DELTA, NULL, 0, NULL);
    struct win w = s_ok(&req);
    ASSERT_IDS(w, "1,2,3");
    ck_assert_str_eq(w.high, "2026-01-01T09:30Z"); /* the latest instant, as written */
    ASSERT_HAS(w.query, "dld_instant_us(\"ts\") <= dld_instant_us(?1)");
    char high[128];
    snprintf(high, sizeof high, "%s", w.high);

    s_sql("INSERT INTO ev VALUES (4, '2026-01-01T09:45Z'), (5, '2026-01-01T11:50+02:00'),"
          " (6, '2026-01-01 09:40:00'), (7, '2026-01-01T09:20Z')");
    req = s_req(&t, DLD_MODE_DELTA, high, 0, NULL);
    w = s_ok(&req);
    /* 7 (09:20Z) committed below the first high mark: the case lag is for */
    ASSERT_IDS(w, "4,5,6");
    ck_assert_str_eq(w.high, "2026-01-01T11:50+02:00");
    snprintf(high, sizeof high, "%s", w.high);
    req = s_req(&t, DLD_MODE_DELTA, high, 0, NULL);
    w = s_ok(&req);
    ASSERT_IDS(w, "");
    ck_assert_str_eq(w.high, "(null)");

    /* the same instants compare equal whatever their form: eq finds both */
    t.filter_operator = "eq";
    t.start_value = "2026-01-01T08:00:00Z";
    req = s_req(&t, DLD_MODE_FULL, NULL, 0, NULL);
    w = s_ok(&req);
    ASSERT_IDS(w, "2");
}
END_TEST

START_TEST(uniform_form_compares_as_text)
{
    s_sql("CREATE TABLE un(id INTEGER, ts TIMESTAMP); CREATE INDEX un_ts ON un(ts);"
          "INSERT INTO un VALUES (1, '2026-01-01T08:00:00Z'), (2, '2026-01-01T09:00:00Z'), (3, '2026-01-01T10:00:00Z')");
    struct dld_table t = s_table("un", "ts");
    struct dld_extract_request req = s_req(&t, DLD_MODE_DELTA, "2026-01-01T08:00:00Z", 0, NULL);
    struct win w = s_ok(&req);
    ASSERT_IDS(w, "2,3");
    ASSERT_HASNT(w.query, "dld_instant_us");
    ASSERT_HAS(w.query, "\"ts\" > ?1 AND \"ts\" <= ?2 -- ?1='2026-01-01T08:00:00Z', ?2='2026-01-01T10:00:00Z'");
    /* a bound in another form (reset --to with a space, an offset) is compared as an instant */
    req = s_req(&t, DLD_MODE_DELTA, "2026-01-01 10:30:00+02:00", 0, NULL);
    w = s_ok(&req);
    ASSERT_IDS(w, "2,3");
    ASSERT_HAS(w.query, "dld_instant_us(\"ts\") > dld_instant_us(?1)");
    /* Unix seconds too: 2026-01-01T09:00:00Z */
    req = s_req(&t, DLD_MODE_BACKFILL, "1767258000", 1, "2026-01-01T09:00:00Z");
    w = s_ok(&req);
    ASSERT_IDS(w, "2");
}
END_TEST

START_TEST(integer_and_text_times_mixed)
{
    /* 1767258000 = 2026-01-01T09:00:00Z (Unix seconds, as the rows load) */
    s_sql("CREATE TABLE it(id INTEGER, ts DATETIME);"
          "INSERT INTO it VALUES (1, 1767258000), (2, '2026-01-01T08:30:00Z'), (3, '2026-01-01 09:30:00')");
    struct dld_table t = s_table("it", "ts");
    struct dld_extract_request req = s_req(&t, DLD_MODE_DELTA, "2026-01-01T08:45:00Z", 0, NULL);
    struct win w = s_ok(&req);
    ASSERT_IDS(w, "1,3");
    ck_assert_str_eq(w.high, "2026-01-01 09:30:00");
    s_sql("INSERT INTO it VALUES (4, 1767261600)"); /* 10:00Z */
    req = s_req(&t, DLD_MODE_DELTA, "2026-01-01 09:30:00", 0, NULL);
    w = s_ok(&req);
    ASSERT_IDS(w, "4");
    ck_assert_str_eq(w.high, "1767261600");
    req = s_req(&t, DLD_MODE_DELTA, "1767261600", 0, NULL);
    w = s_ok(&req);
    ASSERT_IDS(w, "");
}
END_TEST

/* the high-mark query's lag bound, as listed in the plan */
static void s_lag_case(const char *table, const char *decl, const char *values, int64_t lag, const char *want_bound,
                       const char *want_ids)
{
    char sql[1024];
    snprintf(sql, sizeof sql, "CREATE TABLE %s(id INTEGER, ts %s); INSERT INTO %s VALUES %s", table, decl, table,
             values);
    s_sql(sql);
    dld_test_clock_set(S_NOW_MS);
    struct dld_table t = s_table(table, "ts");
    t.lag_seconds = lag;
    struct dld_extract_request req = s_req(&t, DLD_MODE_DELTA, NULL, 0, NULL);
    struct win w = s_ok(&req);
    ASSERT_HAS(w.query, want_bound);
    ASSERT_IDS(w, want_ids);
}

START_TEST(lag_bound_in_the_values_form)
{
    /* now = 2026-03-01T12:00:00Z, lag 60 s: the bound is 11:59:00 UTC */
    s_lag_case("l_t", "DATETIME", "(1, '2026-03-01T11:58:00'), (2, '2026-03-01T11:59:30')", 60,
               "-- high mark: SELECT max(\"ts\") FROM \"main\".\"l_t\" WHERE \"ts\" IS NOT NULL AND \"ts\" <= ?1"
               " -- ?1='2026-03-01T11:59:00'",
               "1");
    s_lag_case("l_space", "DATETIME", "(1, '2026-03-01 11:58:59.999'), (2, '2026-03-01 11:59:00.001')", 60,
               "?1='2026-03-01 11:59:00.000'", "1");
    s_lag_case("l_offset", "TIMESTAMP", "(1, '2026-03-01T13:58:00.000000+02:00'), (2, '2026-03-01T13:59:30.500000+02:00')",
               60, "?1='2026-03-01T13:59:00.000000+02:00'", "1");
    s_lag_case("l_zulu", "TIMESTAMP", "(1, '2026-03-01T11:58Z'), (2, '2026-03-01T11:59Z'), (3, '2026-03-01T12:00Z')",
               60, "?1='2026-03-01T11:59Z'", "1,2");
    s_lag_case("l_west", "DATETIME", "(1, '2026-03-01T06:58:00-05:00'), (2, '2026-03-01T06:59:01-05:00')", 60,
               "?1='2026-03-01T06:59:00-05:00'", "1");
    /* Unix seconds: now - 60 */
    s_lag_case("l_unix", "DATETIME", "(1, 1772366280), (2, 1772366370)", 60, "?1=1772366340", "1");
    s_lag_case("l_date", "DATE", "(1, '2026-02-27'), (2, '2026-02-28'), (3, '2026-03-01')", 86400,
               "?1='2026-02-28'", "1,2");
    /* several forms: compared as instants, the bound in UTC */
    s_lag_case("l_mixed", "DATETIME", "(1, '2026-03-01T13:58:00+02:00'), (2, '2026-03-01T11:59:30Z')", 60,
               "dld_instant_us(\"ts\") <= dld_instant_us(?1) ORDER BY dld_instant_us(\"ts\") DESC, \"ts\" DESC LIMIT 1"
               " -- ?1='2026-03-01T11:59:00.000000Z'",
               "1");
}
END_TEST

START_TEST(lag_needs_a_time_column)
{
    s_sql("CREATE TABLE lagint(id INTEGER, seq INTEGER); INSERT INTO lagint VALUES (1, 1)");
    struct dld_table t = s_table("lagint", "seq");
    t.lag_seconds = 60;
    struct dld_extract_request req = s_req(&t, DLD_MODE_DELTA, NULL, 0, NULL);
    struct win w = s_run(&req);
    ck_assert_int_eq(w.rc, DLD_ERR_CONFIG);
    ASSERT_HAS(w.err.message, "lag applies to DATE/DATETIME/TIMESTAMP");
}
END_TEST

/* issue 17: SQLite has no commit clock per row; the operator is refused by name */
START_TEST(commit_operator_refused)
{
    s_sql("CREATE TABLE commitless(id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT); INSERT INTO commitless(v) VALUES ('a')");
    struct dld_table t = s_table("commitless", NULL);
    t.filter_operator = "commit";
    struct dld_extract_request req = s_req(&t, DLD_MODE_DELTA, NULL, 0, NULL);
    struct win w = s_run(&req);
    ck_assert_int_eq(w.rc, DLD_ERR_UNSUPPORTED);
    ASSERT_HAS(w.err.message, "filteroperator \"commit\" is not available");
    ASSERT_HAS(w.err.message, "one write transaction at a time");
}
END_TEST

static void s_add_cases(TCase *tc)
{
    tcase_add_test(tc, untyped_column_with_integers_loads);
    tcase_add_test(tc, untyped_column_with_reals_keeps_every_digit);
    tcase_add_test(tc, mixed_storage_classes_refused);
    tcase_add_test(tc, values_that_do_not_fit_are_refused);
    tcase_add_test(tc, mixed_offsets_every_row_once);
    tcase_add_test(tc, uniform_form_compares_as_text);
    tcase_add_test(tc, integer_and_text_times_mixed);
    tcase_add_test(tc, lag_bound_in_the_values_form);
    tcase_add_test(tc, lag_needs_a_time_column);
    tcase_add_test(tc, commit_operator_refused);
}

int main(void)
{
    Suite *s = suite_create("source-sqlite");
    TCase *so = tcase_create("so");
    tcase_add_checked_fixture(so, s_setup_so, s_teardown);
    s_add_cases(so);
    suite_add_tcase(s, so);
    TCase *builtin = tcase_create("builtin");
    tcase_add_checked_fixture(builtin, s_setup_builtin, s_teardown);
    s_add_cases(builtin);
    suite_add_tcase(s, builtin);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

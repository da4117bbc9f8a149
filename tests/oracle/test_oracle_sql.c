/*
 * Statement generation of the Oracle source, without a client library:
 * identifier quoting, watermark normalization, every FULL-mode operator,
 * the delta/backfill window and high-mark statements for every kind of
 * filter column, and commit-order windows (statements, SCN arithmetic).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ora_internal.h"

static struct dld_error s_err;

static void s_setup(void)
{
    memset(&s_err, 0, sizeof(s_err));
    s_err.struct_size = sizeof(s_err);
}

/* ---- identifiers ------------------------------------------------------------------ */

START_TEST(ident_fold_and_verbatim)
{
    char q[300];
    static const struct {
        const char *in;
        bool fold;
        const char *out;
    } cases[] = {
        {"orders_rds", true, "\"ORDERS_RDS\""},   /* the example table */
        {"dwh", true, "\"DWH\""},
        {"row_id", true, "\"ROW_ID\""},
        {"Order$Items#2", true, "\"ORDER$ITEMS#2\""}, /* valid unquoted: folds */
        {"order items", true, "\"order items\""},   /* a space: only reachable quoted, verbatim */
        {"2fast", true, "\"2fast\""},               /* digit first */
        {"straße", true, "\"straße\""},            /* non-ASCII */
        {"_x", true, "\"_x\""},                     /* underscore first */
        {"orders_rds", false, "\"orders_rds\""},    /* fold_identifiers=false */
        {"DROP TABLE x; --", true, "\"DROP TABLE x; --\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(dld_ora_ident_quote("sourceTable", cases[i].in, cases[i].fold, q, sizeof(q), &s_err), 0);
        ck_assert_str_eq(q, cases[i].out);
    }
}
END_TEST

START_TEST(ident_refused)
{
    char q[300];
    ck_assert_int_eq(dld_ora_ident_quote("sourceTable", "a\"b", true, q, sizeof(q), &s_err), DLD_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(s_err.message, "double quote"));
    ck_assert_int_eq(dld_ora_ident_quote("sourceTable", "", true, q, sizeof(q), &s_err), DLD_ERR_CONFIG);
    ck_assert_int_eq(dld_ora_ident_quote("sourceTable", "a\nb", true, q, sizeof(q), &s_err), DLD_ERR_CONFIG);
    char long_name[200];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    ck_assert_int_eq(dld_ora_ident_quote("sourceTable", long_name, true, q, sizeof(q), &s_err), DLD_ERR_CONFIG);
}
END_TEST

/* ---- normalization --------------------------------------------------------------- */

START_TEST(normalize_values)
{
    static const struct {
        int kind;
        const char *in, *out;
    } ok[] = {
        {DLD_ORA_WM_NUMBER, "42", "42"},
        {DLD_ORA_WM_NUMBER, "-0012.500", "-12.5"},
        {DLD_ORA_WM_NUMBER, "1e3", "1000"},
        {DLD_ORA_WM_NUMBER, "1.0E-003", "0.001"},
        {DLD_ORA_WM_NUMBER, ".5", "0.5"},
        {DLD_ORA_WM_NUMBER, "-0", "0"},
        {DLD_ORA_WM_NUMBER, "12345678901234567890123456789012345678", "12345678901234567890123456789012345678"},
        {DLD_ORA_WM_DATE, "2024-05-01", "2024-05-01T00:00:00"},
        {DLD_ORA_WM_DATE, "2024-05-01 10:11:12", "2024-05-01T10:11:12"},
        {DLD_ORA_WM_DATE, "2024-02-29T23:59", "2024-02-29T23:59:00"},
        {DLD_ORA_WM_TIMESTAMP, "2024-05-01T10:11:12.5", "2024-05-01T10:11:12.500000000"},
        {DLD_ORA_WM_TIMESTAMP, "2024-05-01T10:11:12.123456789", "2024-05-01T10:11:12.123456789"},
        {DLD_ORA_WM_TIMESTAMP_TZ, "2024-05-01T10:11:12Z", "2024-05-01T10:11:12.000000000+00:00"},
        {DLD_ORA_WM_TIMESTAMP_TZ, "2024-05-01T10:11:12.25-07:00", "2024-05-01T10:11:12.250000000-07:00"},
        {DLD_ORA_WM_TIMESTAMP_TZ, "2024-05-01 10:11:12+0530", "2024-05-01T10:11:12.000000000+05:30"},
        {DLD_ORA_WM_TIMESTAMP_LTZ, "2024-05-01", "2024-05-01T00:00:00.000000000+00:00"},
        {DLD_ORA_WM_TEXT, "  x'y ", "  x'y "},
    };
    char out[200];
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int rc = dld_ora_wm_normalize(ok[i].kind, "startvalue", ok[i].in, out, sizeof(out), &s_err);
        ck_assert_msg(rc == 0, "%s: %s", ok[i].in, s_err.message);
        ck_assert_str_eq(out, ok[i].out);
    }
    static const struct {
        int kind;
        const char *in, *why;
    } bad[] = {
        {DLD_ORA_WM_NUMBER, "12a", "not a number"},
        {DLD_ORA_WM_NUMBER, "", "not a number"},
        {DLD_ORA_WM_NUMBER, "1' OR '1'='1", "not a number"},
        {DLD_ORA_WM_DATE, "2024-02-30", "not a date"},
        {DLD_ORA_WM_DATE, "2024-05-01T10:00:00.5", "fractional seconds"},
        {DLD_ORA_WM_DATE, "2024-05-01T10:00:00Z", "time zone"},
        {DLD_ORA_WM_TIMESTAMP, "2024-05-01T10:00:00+01:00", "time zone"},
        {DLD_ORA_WM_TIMESTAMP, "01/05/2024", "not a timestamp"},
        {DLD_ORA_WM_TIMESTAMP_TZ, "2024-05-01T25:00:00Z", "not a timestamp"},
        {DLD_ORA_WM_TIMESTAMP, "2024-05-01T10:00:00.1234567890", "not a timestamp"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = dld_ora_wm_normalize(bad[i].kind, "startvalue", bad[i].in, out, sizeof(out), &s_err);
        ck_assert_int_eq(rc, DLD_ERR_CONFIG);
        ck_assert_msg(strstr(s_err.message, bad[i].why) != NULL, "%s: %s", bad[i].in, s_err.message);
    }
}
END_TEST

/* ---- FULL mode: every operator ------------------------------------------------------ */

static void s_full(const char *op, const char *v1, const char *v2, int kind, const char *want_where,
                   int want_binds)
{
    struct dld_ora_query_spec q = {.table_sql = "\"DWH\".\"ORDERS_RDS\"", .select_list = "\"ROW_ID\", \"AMT\"",
                                   .filter_sql = "\"ROW_ID\"", .kind = kind, .mode = DLD_MODE_FULL, .op = op,
                                   .v1 = v1, .v2 = v2};
    struct dld_ora_stmt s;
    int rc = dld_ora_sql_extract(&q, &s, &s_err);
    ck_assert_msg(rc == 0, "%s: %s", op, s_err.message);
    char want[600];
    snprintf(want, sizeof(want), "SELECT \"ROW_ID\", \"AMT\" FROM \"DWH\".\"ORDERS_RDS\"%s", want_where);
    ck_assert_str_eq(s.sql, want);
    ck_assert_int_eq(s.nbinds, want_binds);
    if (want_binds >= 1)
        ck_assert_str_eq(s.binds[0], v1);
    if (want_binds == 2)
        ck_assert_str_eq(s.binds[1], v2);
    dld_ora_stmt_clean_up(&s);
}

START_TEST(full_every_operator)
{
    const int N = DLD_ORA_WM_NUMBER;
    s_full("eq", "5", NULL, N, " WHERE \"ROW_ID\" = TO_NUMBER(:1)", 1);
    s_full("noteq", "5", NULL, N, " WHERE \"ROW_ID\" <> TO_NUMBER(:1)", 1);
    s_full("lte", "5", NULL, N, " WHERE \"ROW_ID\" <= TO_NUMBER(:1)", 1);
    s_full("ste", "5", NULL, N, " WHERE \"ROW_ID\" <= TO_NUMBER(:1)", 1);
    s_full("gte", "5", NULL, N, " WHERE \"ROW_ID\" >= TO_NUMBER(:1)", 1);
    s_full("null", NULL, NULL, N, " WHERE \"ROW_ID\" IS NULL", 0);
    s_full("notnull", NULL, NULL, N, " WHERE \"ROW_ID\" IS NOT NULL", 0);
    s_full("between", "5", "9", N, " WHERE \"ROW_ID\" BETWEEN TO_NUMBER(:1) AND TO_NUMBER(:2)", 2);
    s_full("notbetween", "5", "9", N, " WHERE \"ROW_ID\" NOT BETWEEN TO_NUMBER(:1) AND TO_NUMBER(:2)", 2);
    s_full(NULL, NULL, NULL, N, "", 0); /* no operator: the whole table */
    s_full("eq", "2024-05-01T00:00:00", NULL, DLD_ORA_WM_DATE,
           " WHERE \"ROW_ID\" = TO_DATE(:1, 'YYYY-MM-DD\"T\"HH24:MI:SS')", 1);
    s_full("gte", "x", NULL, DLD_ORA_WM_TEXT, " WHERE \"ROW_ID\" >= :1", 1);
}
END_TEST

START_TEST(full_errors)
{
    struct dld_ora_query_spec q = {.table_sql = "\"T\"", .select_list = "*", .filter_sql = "\"C\"",
                                   .kind = DLD_ORA_WM_NUMBER, .mode = DLD_MODE_FULL, .op = "like", .v1 = "1"};
    struct dld_ora_stmt s;
    ck_assert_int_eq(dld_ora_sql_extract(&q, &s, &s_err), DLD_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(s_err.message, "'like'"));
    q.op = "eq";
    q.v1 = NULL;
    ck_assert_int_eq(dld_ora_sql_extract(&q, &s, &s_err), DLD_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(s_err.message, "startvalue"));
    q.op = "between";
    q.v1 = "1";
    ck_assert_int_eq(dld_ora_sql_extract(&q, &s, &s_err), DLD_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(s_err.message, "endvalue"));
    ck_assert_ptr_null(s.sql);
}
END_TEST

/* ---- DELTA / BACKFILL windows for every kind of filter column ------------------------- */

struct s_kind_case {
    int kind;
    const char *low, *high;
    const char *expr1, *expr2; /* the conversion of :2 and :3 */
    const char *max_expr;
    const char *now;           /* lag: the server clock used */
};

static const struct s_kind_case s_kinds[] = {
    {DLD_ORA_WM_NUMBER, "100", "250.5", "TO_NUMBER(:2)", "TO_NUMBER(:3)", "TO_CHAR(MAX(\"C\"), 'TM9')", NULL},
    {DLD_ORA_WM_DATE, "2024-05-01T00:00:00", "2024-05-02T00:00:00",
     "TO_DATE(:2, 'YYYY-MM-DD\"T\"HH24:MI:SS')", "TO_DATE(:3, 'YYYY-MM-DD\"T\"HH24:MI:SS')",
     "TO_CHAR(MAX(\"C\"), 'YYYY-MM-DD\"T\"HH24:MI:SS')", "SYSDATE"},
    {DLD_ORA_WM_TIMESTAMP, "2024-05-01T00:00:00.000000000", "2024-05-02T00:00:00.000000000",
     "TO_TIMESTAMP(:2, 'YYYY-MM-DD\"T\"HH24:MI:SS.FF9')", "TO_TIMESTAMP(:3, 'YYYY-MM-DD\"T\"HH24:MI:SS.FF9')",
     "TO_CHAR(MAX(\"C\"), 'YYYY-MM-DD\"T\"HH24:MI:SS.FF9')", "CAST(SYSTIMESTAMP AS TIMESTAMP)"},
    {DLD_ORA_WM_TIMESTAMP_TZ, "2024-05-01T00:00:00.000000000+00:00", "2024-05-02T00:00:00.000000000+00:00",
     "TO_TIMESTAMP_TZ(:2, 'YYYY-MM-DD\"T\"HH24:MI:SS.FF9TZH:TZM')",
     "TO_TIMESTAMP_TZ(:3, 'YYYY-MM-DD\"T\"HH24:MI:SS.FF9TZH:TZM')",
     "TO_CHAR(SYS_EXTRACT_UTC(MAX(\"C\")), 'YYYY-MM-DD\"T\"HH24:MI:SS.FF9\"Z\"')", "SYSTIMESTAMP"},
    {DLD_ORA_WM_TIMESTAMP_LTZ, "2024-05-01T00:00:00.000000000+00:00", "2024-05-02T00:00:00.000000000+00:00",
     "TO_TIMESTAMP_TZ(:2, 'YYYY-MM-DD\"T\"HH24:MI:SS.FF9TZH:TZM')",
     "TO_TIMESTAMP_TZ(:3, 'YYYY-MM-DD\"T\"HH24:MI:SS.FF9TZH:TZM')",
     "TO_CHAR(SYS_EXTRACT_UTC(CAST(MAX(\"C\") AS TIMESTAMP WITH TIME ZONE)), "
     "'YYYY-MM-DD\"T\"HH24:MI:SS.FF9\"Z\"')",
     "SYSTIMESTAMP"},
    {DLD_ORA_WM_TEXT, "a", "m", ":2", ":3", "MAX(\"C\")", NULL},
};

START_TEST(delta_window_every_kind)
{
    const struct s_kind_case *k = &s_kinds[_i];
    for (int incl = 0; incl <= 1; incl++) {
        struct dld_ora_query_spec q = {.table_sql = "\"S\".\"T\"", .select_list = "\"C\", \"D\"",
                                       .filter_sql = "\"C\"", .kind = k->kind, .mode = DLD_MODE_DELTA,
                                       .low = k->low, .low_inclusive = incl, .high = k->high, .scn = "987654"};
        struct dld_ora_stmt s;
        ck_assert_int_eq(dld_ora_sql_extract(&q, &s, &s_err), 0);
        char want[800];
        snprintf(want, sizeof(want),
                 "SELECT \"C\", \"D\" FROM \"S\".\"T\" AS OF SCN TO_NUMBER(:1) WHERE \"C\" %s %s AND \"C\" <= %s",
                 incl ? ">=" : ">", k->expr1, k->expr2);
        ck_assert_str_eq(s.sql, want);
        ck_assert_int_eq(s.nbinds, 3);
        ck_assert_str_eq(s.binds[0], "987654");
        ck_assert_str_eq(s.binds[1], k->low);
        ck_assert_str_eq(s.binds[2], k->high);
        ck_assert_str_eq(s.roles[0], "scn");
        ck_assert_str_eq(s.roles[1], "low");
        ck_assert_str_eq(s.roles[2], "high");
        dld_ora_stmt_clean_up(&s);
    }
    /* first run: no lower bound; backfill builds the same statement; read-only consistency: no AS OF */
    struct dld_ora_query_spec q = {.table_sql = "\"S\".\"T\"", .select_list = "\"C\"", .filter_sql = "\"C\"",
                                   .kind = k->kind, .mode = DLD_MODE_BACKFILL, .high = k->high};
    struct dld_ora_stmt s;
    ck_assert_int_eq(dld_ora_sql_extract(&q, &s, &s_err), 0);
    char want[600], e1[200];
    /* without the SCN bind the high mark is :1 */
    snprintf(e1, sizeof(e1), "%s", k->expr1);
    char *colon = strstr(e1, ":2");
    colon[1] = '1';
    snprintf(want, sizeof(want), "SELECT \"C\" FROM \"S\".\"T\" WHERE \"C\" <= %s", e1);
    ck_assert_str_eq(s.sql, want);
    ck_assert_int_eq(s.nbinds, 1);
    dld_ora_stmt_clean_up(&s);
}
END_TEST

START_TEST(high_mark_every_kind)
{
    const struct s_kind_case *k = &s_kinds[_i];
    struct dld_ora_query_spec q = {.table_sql = "\"S\".\"T\"", .filter_sql = "\"C\"", .kind = k->kind,
                                   .mode = DLD_MODE_DELTA, .low = k->low, .scn = "42"};
    struct dld_ora_stmt s;
    ck_assert_int_eq(dld_ora_sql_high_mark(&q, &s, &s_err), 0);
    char want[900];
    snprintf(want, sizeof(want), "SELECT %s FROM \"S\".\"T\" AS OF SCN TO_NUMBER(:1) WHERE \"C\" > %s", k->max_expr,
             k->expr1);
    ck_assert_str_eq(s.sql, want);
    ck_assert_int_eq(s.nbinds, 2);
    dld_ora_stmt_clean_up(&s);

    q.lag_seconds = 300;
    if (k->now == NULL) {
        ck_assert_int_eq(dld_ora_sql_high_mark(&q, &s, &s_err), DLD_ERR_CONFIG);
        ck_assert_ptr_nonnull(strstr(s_err.message, "lag applies to DATE and TIMESTAMP"));
        return;
    }
    ck_assert_int_eq(dld_ora_sql_high_mark(&q, &s, &s_err), 0);
    snprintf(want, sizeof(want),
             "SELECT %s FROM \"S\".\"T\" AS OF SCN TO_NUMBER(:1) WHERE \"C\" > %s AND \"C\" <= %s - "
             "NUMTODSINTERVAL(TO_NUMBER(:3), 'SECOND')",
             k->max_expr, k->expr1, k->now);
    ck_assert_str_eq(s.sql, want);
    ck_assert_int_eq(s.nbinds, 3);
    ck_assert_str_eq(s.binds[2], "300");
    char *listing = dld_ora_stmt_listing(&s);
    ck_assert_ptr_nonnull(strstr(listing, "  -- binds: :1 = '42' (scn), :2 = '"));
    ck_assert_ptr_nonnull(strstr(listing, ":3 = '300' (lag seconds)"));
    free(listing);
    dld_ora_stmt_clean_up(&s);

    /* no watermark yet, no SCN (read-only transaction): no WHERE but the lag */
    struct dld_ora_query_spec q2 = {.table_sql = "\"T\"", .filter_sql = "\"C\"", .kind = k->kind,
                                    .mode = DLD_MODE_DELTA};
    ck_assert_int_eq(dld_ora_sql_high_mark(&q2, &s, &s_err), 0);
    snprintf(want, sizeof(want), "SELECT %s FROM \"T\"", k->max_expr);
    ck_assert_str_eq(s.sql, want);
    ck_assert_int_eq(s.nbinds, 0);
    dld_ora_stmt_clean_up(&s);
}
END_TEST

/* a delta `between` caps the captured high mark at endvalue */
START_TEST(high_mark_between_capped_at_endvalue)
{
    struct dld_ora_query_spec q = {.table_sql = "\"T\"", .filter_sql = "\"C\"", .kind = DLD_ORA_WM_NUMBER,
                                   .mode = DLD_MODE_DELTA, .low = "10", .op = "between", .v2 = "500"};
    struct dld_ora_stmt s;
    ck_assert_int_eq(dld_ora_sql_high_mark(&q, &s, &s_err), 0);
    ck_assert_str_eq(s.sql, "SELECT TO_CHAR(MAX(\"C\"), 'TM9') FROM \"T\" WHERE \"C\" > TO_NUMBER(:1) AND \"C\" <= "
                            "TO_NUMBER(:2)");
    ck_assert_int_eq(s.nbinds, 2);
    ck_assert_str_eq(s.binds[1], "500");
    dld_ora_stmt_clean_up(&s);
}
END_TEST

START_TEST(listing_quotes_values)
{
    struct dld_ora_query_spec q = {.table_sql = "\"T\"", .select_list = "\"C\"", .filter_sql = "\"C\"",
                                   .kind = DLD_ORA_WM_TEXT, .mode = DLD_MODE_FULL, .op = "eq", .v1 = "O'Brien"};
    struct dld_ora_stmt s;
    ck_assert_int_eq(dld_ora_sql_extract(&q, &s, &s_err), 0);
    /* the value is bound, never part of the SQL text */
    ck_assert_ptr_null(strstr(s.sql, "Brien"));
    char *l = dld_ora_stmt_listing(&s);
    ck_assert_str_eq(l, "SELECT \"C\" FROM \"T\" WHERE \"C\" = :1  -- binds: :1 = 'O''Brien' (startvalue)");
    free(l);
    dld_ora_stmt_clean_up(&s);
}
END_TEST

START_TEST(select_items)
{
    struct dld_ora_buf b;
    dld_ora_buf_init(&b);
    dld_ora_sql_select_item(&b, "\"A\"", DLD_ORA_SELECT_PLAIN);
    dld_ora_buf_add(&b, ", ");
    dld_ora_sql_select_item(&b, "\"RID\"", DLD_ORA_SELECT_ROWID_TEXT);
    dld_ora_buf_add(&b, ", ");
    dld_ora_sql_select_item(&b, "\"IV\"", DLD_ORA_SELECT_TO_CHAR);
    char *s = dld_ora_buf_take(&b);
    ck_assert_str_eq(s, "\"A\", ROWIDTOCHAR(\"RID\") AS \"RID\", TO_CHAR(\"IV\") AS \"IV\"");
    free(s);
    struct dld_ora_stmt d;
    ck_assert_int_eq(dld_ora_sql_describe("\"DWH\".\"ORDERS_RDS\"", &d, &s_err), 0);
    ck_assert_str_eq(d.sql, "SELECT * FROM \"DWH\".\"ORDERS_RDS\" WHERE 1 = 0");
    dld_ora_stmt_clean_up(&d);
}
END_TEST

START_TEST(delta_needs_filter_and_high)
{
    struct dld_ora_query_spec q = {.table_sql = "\"T\"", .select_list = "\"C\"", .kind = DLD_ORA_WM_NUMBER,
                                   .mode = DLD_MODE_DELTA, .high = "5"};
    struct dld_ora_stmt s;
    ck_assert_int_eq(dld_ora_sql_extract(&q, &s, &s_err), DLD_ERR_CONFIG);
    q.filter_sql = "\"C\"";
    q.high = NULL;
    ck_assert_int_eq(dld_ora_sql_extract(&q, &s, &s_err), DLD_ERR_FATAL);
    ck_assert_int_eq(dld_ora_sql_high_mark(&(struct dld_ora_query_spec){.table_sql = "\"T\"", .lag_seconds = 0,
                                                                        .kind = DLD_ORA_WM_NUMBER},
                                           &s, &s_err),
                     DLD_ERR_CONFIG);
}
END_TEST

/* ---- commit order (filteroperator "commit") ---------------------------------------- */

START_TEST(commit_extract_statements)
{
    struct dld_ora_query_spec q = {.table_sql = "\"APP\".\"T\"", .select_list = "\"ID\", \"V\"",
                                   .mode = DLD_MODE_DELTA, .commit = true, .low = "48213077"};
    struct dld_ora_stmt s;
    /* later windows: above the watermark, no upper bound, no AS OF */
    ck_assert_int_eq(dld_ora_sql_extract(&q, &s, &s_err), 0);
    ck_assert_str_eq(s.sql, "SELECT \"ID\", \"V\" FROM \"APP\".\"T\" WHERE ORA_ROWSCN > TO_NUMBER(:1)");
    ck_assert_int_eq(s.nbinds, 1);
    ck_assert_str_eq(s.binds[0], "48213077");
    ck_assert_str_eq(s.roles[0], "low");
    dld_ora_stmt_clean_up(&s);
    /* a startvalue is inclusive */
    q.low_inclusive = true;
    ck_assert_int_eq(dld_ora_sql_extract(&q, &s, &s_err), 0);
    ck_assert_str_eq(s.sql, "SELECT \"ID\", \"V\" FROM \"APP\".\"T\" WHERE ORA_ROWSCN >= TO_NUMBER(:1)");
    dld_ora_stmt_clean_up(&s);
    /* the first window: the whole table */
    q.low = NULL;
    ck_assert_int_eq(dld_ora_sql_extract(&q, &s, &s_err), 0);
    ck_assert_str_eq(s.sql, "SELECT \"ID\", \"V\" FROM \"APP\".\"T\"");
    ck_assert_int_eq(s.nbinds, 0);
    dld_ora_stmt_clean_up(&s);
    /* never with AS OF SCN (ORA_ROWSCN is not supported in flashback queries), a filter column or another mode */
    q.scn = "1";
    ck_assert_int_eq(dld_ora_sql_extract(&q, &s, &s_err), DLD_ERR_FATAL);
    q.scn = NULL;
    q.filter_sql = "\"ID\"";
    ck_assert_int_eq(dld_ora_sql_extract(&q, &s, &s_err), DLD_ERR_FATAL);
    q.filter_sql = NULL;
    q.mode = DLD_MODE_BACKFILL;
    ck_assert_int_eq(dld_ora_sql_extract(&q, &s, &s_err), DLD_ERR_FATAL);
}
END_TEST

START_TEST(commit_dependencies_statement)
{
    struct dld_ora_stmt s;
    ck_assert_int_eq(dld_ora_sql_dependencies("DWH", "ORDERS_RDS", &s, &s_err), 0);
    ck_assert_str_eq(s.sql, "SELECT DEPENDENCIES FROM ALL_TABLES WHERE OWNER = NVL(:1, SYS_CONTEXT('USERENV', "
                            "'CURRENT_SCHEMA')) AND TABLE_NAME = :2");
    ck_assert_str_eq(s.binds[0], "DWH");
    ck_assert_str_eq(s.binds[1], "ORDERS_RDS");
    dld_ora_stmt_clean_up(&s);
    /* no schema: bound as '' (NULL to Oracle), the current schema */
    ck_assert_int_eq(dld_ora_sql_dependencies("", "T", &s, &s_err), 0);
    ck_assert_str_eq(s.binds[0], "");
    dld_ora_stmt_clean_up(&s);
}
END_TEST

START_TEST(scn_parse)
{
    uint64_t v;
    ck_assert(dld_ora_scn_parse("0", &v) && v == 0);
    ck_assert(dld_ora_scn_parse("48213077", &v) && v == 48213077);
    ck_assert(dld_ora_scn_parse("281474976710656", &v) && v == 281474976710656ull);       /* 2^48: past the old limit */
    ck_assert(dld_ora_scn_parse("18446744073709551615", &v) && v == 18446744073709551615ull); /* big SCN: 2^64 - 1 */
    ck_assert(!dld_ora_scn_parse("18446744073709551616", &v));
    ck_assert(!dld_ora_scn_parse("99999999999999999999", &v));
    ck_assert(!dld_ora_scn_parse("", &v));
    ck_assert(!dld_ora_scn_parse("-1", &v));
    ck_assert(!dld_ora_scn_parse("1e3", &v));
    ck_assert(!dld_ora_scn_parse("12.5", &v));
    ck_assert(!dld_ora_scn_parse("2024-05-01T10:00:00", &v));
    ck_assert(!dld_ora_scn_parse(NULL, &v));
}
END_TEST

START_TEST(commit_window_arithmetic)
{
    char high[32];
    bool empty;
    /* a later window: high is the SCN read before the snapshot */
    ck_assert_int_eq(dld_ora_commit_window("1000", "1532", NULL, high, sizeof(high), &empty, &s_err), 0);
    ck_assert_str_eq(high, "1532");
    ck_assert(!empty);
    /* the first window */
    ck_assert_int_eq(dld_ora_commit_window(NULL, "1532", NULL, high, sizeof(high), &empty, &s_err), 0);
    ck_assert_str_eq(high, "1532");
    ck_assert(!empty);
    /* nothing committed since the watermark */
    ck_assert_int_eq(dld_ora_commit_window("1532", "1532", NULL, high, sizeof(high), &empty, &s_err), 0);
    ck_assert(empty);
    /* the same window again keeps its mark; one recorded above the current SCN is capped */
    ck_assert_int_eq(dld_ora_commit_window("1000", "2000", "1532", high, sizeof(high), &empty, &s_err), 0);
    ck_assert_str_eq(high, "1532");
    ck_assert_int_eq(dld_ora_commit_window("1000", "1400", "1532", high, sizeof(high), &empty, &s_err), 0);
    ck_assert_str_eq(high, "1400");
    /* compared as numbers, not text: 999 < 1000, and past 2^48 */
    ck_assert_int_eq(dld_ora_commit_window("999", "1000", NULL, high, sizeof(high), &empty, &s_err), 0);
    ck_assert(!empty);
    ck_assert_int_eq(dld_ora_commit_window("281474976710655", "281474976710656", NULL, high, sizeof(high), &empty,
                                           &s_err),
                     0);
    ck_assert_str_eq(high, "281474976710656");
    ck_assert(!empty);
    ck_assert_int_eq(dld_ora_commit_window("18446744073709551614", "18446744073709551615", NULL, high, sizeof(high),
                                           &empty, &s_err),
                     0);
    ck_assert_str_eq(high, "18446744073709551615");
    /* refusals */
    ck_assert_int_eq(dld_ora_commit_window("2024-05-01", "1532", NULL, high, sizeof(high), &empty, &s_err),
                     DLD_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(s_err.message, "is not an SCN"));
    ck_assert_int_eq(dld_ora_commit_window("9000", "1532", NULL, high, sizeof(high), &empty, &s_err), DLD_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(s_err.message, "above the database's current SCN"));
    ck_assert_int_eq(dld_ora_commit_window("1", "x", NULL, high, sizeof(high), &empty, &s_err), DLD_ERR_FATAL);
    ck_assert_int_eq(dld_ora_commit_window("1", "5", "abc", high, sizeof(high), &empty, &s_err), DLD_ERR_CONFIG);
}
END_TEST

static Suite *s_suite(void)
{
    Suite *s = suite_create("oracle_sql");
    TCase *tc = tcase_create("sql");
    tcase_add_checked_fixture(tc, s_setup, NULL);
    tcase_add_test(tc, ident_fold_and_verbatim);
    tcase_add_test(tc, ident_refused);
    tcase_add_test(tc, normalize_values);
    tcase_add_test(tc, full_every_operator);
    tcase_add_test(tc, full_errors);
    tcase_add_loop_test(tc, delta_window_every_kind, 0, (int)(sizeof(s_kinds) / sizeof(s_kinds[0])));
    tcase_add_loop_test(tc, high_mark_every_kind, 0, (int)(sizeof(s_kinds) / sizeof(s_kinds[0])));
    tcase_add_test(tc, listing_quotes_values);
    tcase_add_test(tc, high_mark_between_capped_at_endvalue);
    tcase_add_test(tc, select_items);
    tcase_add_test(tc, delta_needs_filter_and_high);
    tcase_add_test(tc, commit_extract_statements);
    tcase_add_test(tc, commit_dependencies_statement);
    tcase_add_test(tc, scn_parse);
    tcase_add_test(tc, commit_window_arithmetic);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(s_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

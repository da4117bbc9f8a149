/* The type matrix: every mapped type with NULLs and edge values, read
 * through the plugin and compared with the server's own rendering of the
 * same values (see s_render in pg_test_util.c for the canonical forms). */
#include <stdlib.h>
#include <string.h>

#include "pg_test.h"

static PGconn *s_admin;
static void *s_inst;

static const char *const s_setup_sql =
    "DROP TABLE IF EXISTS types_t; DROP TYPE IF EXISTS mood; DROP DOMAIN IF EXISTS posint;"
    "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');"
    "CREATE DOMAIN posint AS integer CHECK (VALUE > 0);"
    "CREATE TABLE types_t (id int PRIMARY KEY, c_int2 int2, c_int4 int4, c_int8 int8,"
    " c_num numeric(12,3), c_num_free numeric, c_num_big numeric(50,10), c_num_neg numeric(5,-2),"
    " c_f4 float4, c_f8 float8, c_bool bool, c_text text, c_varchar varchar(20), c_char char(5),"
    " c_bytea bytea, c_date date, c_time time, c_ts timestamp, c_tstz timestamptz, c_interval interval,"
    " c_uuid uuid, c_json json, c_jsonb jsonb, c_enum mood, c_int_arr int[], c_text_arr text[],"
    " c_inet inet, c_dom posint);"
    "INSERT INTO types_t (id) VALUES (1);"
    "INSERT INTO types_t VALUES (2, -32768, -2147483648, -9223372036854775808, -999999999.999,"
    " -12345678901234567890.123456789, '-1234567890123456789012345678901234567890.0123456789', -99900,"
    " '-Infinity', '-0', false, '', 'é漢字', 'ab', '\\x00ff', '0001-01-01', '00:00:00', '0001-01-01 00:00:00',"
    " '1900-01-01 00:00:00+05:30', '-1 year -2 days', '00000000-0000-0000-0000-000000000000', '[]', '{}',"
    " 'sad', '{}', '{NULL,\"a,b\",\"q\\\"uote\"}', '10.0.0.1/8', 1);"
    "INSERT INTO types_t VALUES (3, 32767, 2147483647, 9223372036854775807, 999999999.999, 0.000000001,"
    " '1234567890123456789012345678901234567890.0123456789', 99900, 'NaN', 1e308, true,"
    " E'a\\tb\\nc''\"\\\\', 'x', 'abcde', decode(repeat('ab', 50000), 'hex'), '9999-12-31', '24:00:00',"
    " '9999-12-31 23:59:59.999999', '2024-02-29 12:34:56.789012+00', 'P1Y2M3DT4H5M6.5S',"
    " 'ffffffff-ffff-ffff-ffff-ffffffffffff', '{\"a\": [1, 2.5, null]}', '{\"b\": {\"c\": true}, \"a\": 1}',"
    " 'happy', '{{1,2},{3,NULL}}', '{}', '::1', 2147483647);"
    "INSERT INTO types_t (id, c_f4, c_f8, c_num, c_num_free, c_date, c_ts, c_tstz, c_time) VALUES"
    " (4, '-0', 'Infinity', 0, -0.5, 'infinity', '-infinity', 'infinity', '23:59:59.999999'),"
    " (5, 3.14159, 2.718281828459045, 12.5, 42, '2000-01-01', '2000-01-01 00:00:00', '1970-01-01 00:00:00+00',"
    " '12:00:00'),"
    " (6, 1e-38, 5e-324, -0.001, 12345678901234567890123456789.123456789, '1969-12-31',"
    " '1969-12-31 23:59:59.999999', '2038-01-19 03:14:08+00', '00:00:00.000001');"
    "ANALYZE types_t";

/* What the server says each value is, in the canonical text of s_render. */
static const char *const s_expect_sql =
    "SELECT id::text, c_int2::text, c_int4::text, c_int8::text, c_num::text, c_num_free::numeric(38,9)::text,"
    " c_num_big::text, c_num_neg::numeric(7,0)::text,"
    " encode(float4send(c_f4), 'hex'), encode(float8send(c_f8), 'hex'), c_bool::text, c_text, c_varchar,"
    " c_char::text || repeat(' ', 5 - octet_length(c_char::text)), encode(c_bytea, 'hex'),"
    " CASE WHEN isfinite(c_date) THEN (c_date - date '1970-01-01')::text END,"
    " (extract(epoch FROM c_time) * 1000000)::bigint::text,"
    " CASE WHEN isfinite(c_ts) THEN (extract(epoch FROM c_ts) * 1000000)::bigint::text END,"
    " CASE WHEN isfinite(c_tstz) THEN (extract(epoch FROM c_tstz) * 1000000)::bigint::text END,"
    " c_interval::text, c_uuid::text, c_json::text, c_jsonb::text, c_enum::text, to_json(c_int_arr)::text,"
    " to_json(c_text_arr)::text, c_inet::text, c_dom::text FROM types_t";

static const char *const s_formats[] = {
    "i", "s", "i", "l", "d:12,3", "d:38,9", "u", "d:7,0", "f", "g", "b", "u", "u", "u", "z",
    "tdD", "ttu", "tsu:", "tsu:UTC", "u", "u", "u", "u", "u", "u", "u", "u", "i",
};

static void s_setup(void)
{
    s_admin = pgt_admin();
    s_inst = pgt_open(NULL);
}

static void s_teardown(void)
{
    pgt_vt->close(s_inst);
    PQfinish(s_admin);
    pgt_log_clear();
}

START_TEST(test_type_matrix)
{
    pgt_exec(s_admin, s_setup_sql);
    pgt_log_clear();
    struct dld_table t = pgt_table("public", "types_t", NULL);
    struct dld_extract_request req = pgt_req(&t, DLD_MODE_FULL, NULL, 0, NULL);
    struct dld_extract_info info;
    struct pgt_rows got, want;
    struct dld_error e = pgt_err();
    ck_assert_msg(pgt_extract(s_inst, &req, &info, &got, &e) == DLD_OK, "%s", e.message);
    pgt_query(s_admin, s_expect_sql, &want, true);
    ck_assert_uint_eq(got.ncols, sizeof s_formats / sizeof s_formats[0]);
    for (size_t j = 0; j < got.ncols; j++)
        ck_assert_msg(!strcmp(got.formats[j], s_formats[j]), "column %s: Arrow format %s, expected %s",
                      got.names[j], got.formats[j], s_formats[j]);
    pgt_assert_same(&got, &want, "type matrix");

    /* a few values spelled out, so the comparison is not only with the
     * server's rendering through the same kind of cast */
    ck_assert_str_eq(pgt_cell(&got, 2, pgt_col(&got, "c_int_arr")), "[[1,2],[3,null]]");
    ck_assert_str_eq(pgt_cell(&got, 1, pgt_col(&got, "c_text_arr")), "[null,\"a,b\",\"q\\\"uote\"]");
    ck_assert_str_eq(pgt_cell(&got, 2, pgt_col(&got, "c_interval")), "P1Y2M3DT4H5M6.5S");
    ck_assert_str_eq(pgt_cell(&got, 4, pgt_col(&got, "c_tstz")), "0");
    ck_assert_str_eq(pgt_cell(&got, 4, pgt_col(&got, "c_date")), "10957");
    ck_assert_str_eq(pgt_cell(&got, 1, pgt_col(&got, "c_tstz")), "-2209008600000000");
    ck_assert_str_eq(pgt_cell(&got, 2, pgt_col(&got, "c_jsonb")), "{\"a\": 1, \"b\": {\"c\": true}}");
    ck_assert_str_eq(pgt_cell(&got, 1, pgt_col(&got, "c_char")), "ab   ");
    ck_assert_str_eq(pgt_cell(&got, 2, pgt_col(&got, "c_num_big")), "1234567890123456789012345678901234567890.0123456789");
    ck_assert_ptr_null(pgt_cell(&got, 3, pgt_col(&got, "c_date"))); /* infinity → NULL */
    ck_assert_ptr_null(pgt_cell(&got, 0, pgt_col(&got, "c_int4")));
    ck_assert_str_eq(pgt_cell(&got, 2, pgt_col(&got, "c_f4")), "7fc00000"); /* NaN */

    /* unknown type and a too-wide numeric are read as text, with a warning */
    ck_assert_msg(pgt_logged("c_inet has type inet"), "no warning for the inet column");
    ck_assert_msg(pgt_logged("c_num_big is numeric(50,10)"), "no warning for numeric(50,10)");
    ck_assert_msg(pgt_logged("c_date: 1 value(s) were +-infinity"), "no warning for infinite dates");
    ck_assert_ptr_null(info.high); /* FULL has no high mark */
    pgt_rows_free(&got);
    pgt_rows_free(&want);
    pgt_info_free(&info);
}
END_TEST

static int s_extract_rc(void *inst, const char *table, struct dld_error *e, struct pgt_rows *got)
{
    struct dld_table t = pgt_table("public", table, NULL);
    struct dld_extract_request req = pgt_req(&t, DLD_MODE_FULL, NULL, 0, NULL);
    struct dld_extract_info info;
    int rc = pgt_extract(inst, &req, &info, got, e);
    pgt_info_free(&info);
    return rc;
}

START_TEST(test_numeric_limits)
{
    pgt_exec(s_admin, "DROP TABLE IF EXISTS num_nan, num_third, num_huge;"
                      "CREATE TABLE num_nan (id int, v numeric(10,2)); INSERT INTO num_nan VALUES (1, 1.5), (2, 'NaN');"
                      "CREATE TABLE num_third (id int, v numeric); INSERT INTO num_third VALUES (1, 1::numeric / 3);"
                      "CREATE TABLE num_huge (id int, v numeric); INSERT INTO num_huge VALUES (1, 1e30)");
    struct pgt_rows got;
    struct dld_error e = pgt_err();
    int rc = s_extract_rc(s_inst, "num_nan", &e, &got);
    ck_assert_int_eq(rc, DLD_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(e.message, "column v") && strstr(e.message, "NaN"), "%s", e.message);
    pgt_rows_free(&got);

    e = pgt_err();
    rc = s_extract_rc(s_inst, "num_third", &e, &got);
    ck_assert_int_eq(rc, DLD_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(e.message, "more than 9 fractional digits"), "%s", e.message);
    pgt_rows_free(&got);

    e = pgt_err();
    rc = s_extract_rc(s_inst, "num_huge", &e, &got); /* 1e30 at scale 9 needs 40 digits */
    ck_assert_int_eq(rc, DLD_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(e.message, "more than 38 digits"), "%s", e.message);
    pgt_rows_free(&got);

    /* the same instance still works after those failures */
    e = pgt_err();
    pgt_exec(s_admin, "DELETE FROM num_nan WHERE id = 2");
    ck_assert_msg(s_extract_rc(s_inst, "num_nan", &e, &got) == DLD_OK, "%s", e.message);
    ck_assert_str_eq(pgt_cell(&got, 0, 1), "1.50");
    pgt_rows_free(&got);

    const char *wide[] = {"numeric_scale", "20", NULL};
    void *inst = pgt_open(wide);
    e = pgt_err();
    ck_assert_msg(s_extract_rc(inst, "num_third", &e, &got) == DLD_OK, "%s", e.message);
    ck_assert_str_eq(got.formats[1], "d:38,20");
    ck_assert_str_eq(pgt_cell(&got, 0, 1), "0.33333333333333333333");
    pgt_rows_free(&got);
    pgt_vt->close(inst);

    const char *text[] = {"unconstrained_numeric", "text", NULL};
    inst = pgt_open(text);
    e = pgt_err();
    ck_assert_msg(s_extract_rc(inst, "num_huge", &e, &got) == DLD_OK, "%s", e.message);
    ck_assert_str_eq(got.formats[1], "u");
    ck_assert_str_eq(pgt_cell(&got, 0, 1), "1000000000000000000000000000000");
    pgt_rows_free(&got);
    pgt_vt->close(inst);
}
END_TEST

Suite *pgt_suite_types(void)
{
    Suite *s = suite_create("postgres types");
    TCase *tc = tcase_create("types");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_type_matrix);
    tcase_add_test(tc, test_numeric_limits);
    suite_add_tcase(s, tc);
    return s;
}

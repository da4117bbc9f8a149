/*
 * Conversions from OCI's external formats to Arrow values, against byte
 * vectors from Oracle's documentation (each vector names its source), and
 * the type mapping table of docs/oracle.md.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "ora_internal.h"
#include "ora_oci.h"

static struct dld_error s_err;

static void s_setup(void)
{
    memset(&s_err, 0, sizeof(s_err));
    s_err.struct_size = sizeof(s_err);
}

/* ---- NUMBER / VARNUM ---------------------------------------------------------------
 * "VARNUM Examples" table, Oracle Call Interface Programmer's Guide, chapter
 * "Data Types" (also Oracle C++ Call Interface Programmer's Guide, Table 4-4):
 * decimal value, length byte, exponent byte, mantissa bytes, terminator byte. */
static const struct {
    long long value;
    uint8_t bytes[8]; /* length byte first, as VARNUM carries it */
} s_varnum_doc[] = {
    {0, {1, 128}},
    {5, {2, 193, 6}},
    {-5, {3, 62, 96, 102}},
    {2767, {3, 194, 28, 68}},
    {-2767, {4, 61, 74, 34, 102}},
    {100000, {2, 195, 11}},
    {1234567, {5, 196, 2, 24, 46, 68}},
};

START_TEST(varnum_doc_table)
{
    const uint8_t *b = s_varnum_doc[_i].bytes;
    __int128 v = -1;
    ck_assert_int_eq(dld_ora_number_decode(b + 1, b[0], 38, 0, &v), 0);
    ck_assert(v == (__int128)s_varnum_doc[_i].value);
    /* the same value at scale 2: two more digits, still exact */
    ck_assert_int_eq(dld_ora_number_decode(b + 1, b[0], 38, 2, &v), 0);
    ck_assert(v == (__int128)s_varnum_doc[_i].value * 100);
    char text[64];
    ck_assert_int_eq(dld_ora_number_to_text(b + 1, b[0], text, sizeof(text)), 0);
    char want[32];
    snprintf(want, sizeof(want), "%lld", s_varnum_doc[_i].value);
    ck_assert_str_eq(text, want);
}
END_TEST

START_TEST(varnum_precision_overflow_is_an_error)
{
    /* 1234567 (7 digits) into NUMBER precision 6: refused, not truncated */
    const uint8_t *b = s_varnum_doc[6].bytes;
    __int128 v = 0;
    ck_assert_int_eq(dld_ora_number_decode(b + 1, b[0], 6, 0, &v), DLD_ERR_UNSUPPORTED);
    ck_assert_int_eq(dld_ora_number_decode(b + 1, b[0], 7, 0, &v), 0);
    ck_assert(v == 1234567);
    /* 100000 at scale 33 needs 39 digits: more than decimal128's 38 */
    b = s_varnum_doc[5].bytes;
    ck_assert_int_eq(dld_ora_number_decode(b + 1, b[0], 38, 33, &v), DLD_ERR_UNSUPPORTED);
}
END_TEST

/* Fractions. The documentation's table has none, so these are DUMP()
 * outputs of an Oracle database quoted by Jonathan Lewis, "How are numbers
 * stored" (jlcomp.demon.co.uk/number_format.html): c3 02 2e = 14500,
 * be 2e 3d = 0.0000456, 40 1c 3d 66 = -0.00734; and from a comp.databases.
 * oracle.misc post (2000-07-17): C4 0D 23 39 4F = 12345678,
 * 3B 59 43 2D 17 66 = -12345678. */
START_TEST(varnum_fractions)
{
    static const uint8_t a[] = {0xc3, 0x02, 0x2e}, b[] = {0xbe, 0x2e, 0x3d}, c[] = {0x40, 0x1c, 0x3d, 0x66},
                         d[] = {0xC4, 0x0D, 0x23, 0x39, 0x4F}, e[] = {0x3B, 0x59, 0x43, 0x2D, 0x17, 0x66};
    __int128 v;
    char t[64];
    ck_assert_int_eq(dld_ora_number_decode(a, sizeof(a), 38, 0, &v), 0);
    ck_assert(v == 14500);
    ck_assert_int_eq(dld_ora_number_decode(b, sizeof(b), 38, 7, &v), 0);
    ck_assert(v == 456);
    /* 0.0000456 at scale 6 would have to be rounded: refused */
    ck_assert_int_eq(dld_ora_number_decode(b, sizeof(b), 38, 6, &v), DLD_ERR_UNSUPPORTED);
    ck_assert_int_eq(dld_ora_number_to_text(b, sizeof(b), t, sizeof(t)), 0);
    ck_assert_str_eq(t, "0.0000456");
    ck_assert_int_eq(dld_ora_number_decode(c, sizeof(c), 38, 5, &v), 0);
    ck_assert(v == -734);
    ck_assert_int_eq(dld_ora_number_decode(c, sizeof(c), 38, 4, &v), DLD_ERR_UNSUPPORTED);
    ck_assert_int_eq(dld_ora_number_to_text(c, sizeof(c), t, sizeof(t)), 0);
    ck_assert_str_eq(t, "-0.00734");
    ck_assert_int_eq(dld_ora_number_decode(d, sizeof(d), 38, 0, &v), 0);
    ck_assert(v == 12345678);
    ck_assert_int_eq(dld_ora_number_decode(e, sizeof(e), 38, 0, &v), 0);
    ck_assert(v == -12345678);
    ck_assert_int_eq(dld_ora_number_to_text(e, sizeof(e), t, sizeof(t)), 0);
    ck_assert_str_eq(t, "-12345678");
}
END_TEST

START_TEST(varnum_38_digits_and_malformed)
{
    /* 38 nines: exponent 0xC1 + 18 (19 base-100 digits of 99 = mantissa 100) —
     * built by the documented rule: positive digit + 1, exponent 193 + power */
    uint8_t n[20];
    n[0] = 193 + 18;
    for (int i = 1; i <= 19; i++)
        n[i] = 100;
    __int128 v;
    ck_assert_int_eq(dld_ora_number_decode(n, 20, 38, 0, &v), 0);
    __int128 want = 0;
    for (int i = 0; i < 38; i++)
        want = want * 10 + 9;
    ck_assert(v == want);
    ck_assert_int_eq(dld_ora_number_decode(n, 20, 37, 0, &v), DLD_ERR_UNSUPPORTED);
    /* infinities (1 byte 0x00, 2 bytes FF 65, as imported from Oracle 5) */
    static const uint8_t ninf[] = {0x00}, pinf[] = {0xFF, 0x65}, bad[] = {0xC1, 0xC8};
    ck_assert_int_eq(dld_ora_number_decode(ninf, 1, 38, 0, &v), DLD_ERR_UNSUPPORTED);
    ck_assert_int_eq(dld_ora_number_decode(pinf, 2, 38, 0, &v), DLD_ERR_UNSUPPORTED);
    ck_assert_int_eq(dld_ora_number_decode(bad, 2, 38, 0, &v), DLD_ERR_FATAL);
    ck_assert_int_eq(dld_ora_number_decode(n, 0, 38, 0, &v), DLD_ERR_FATAL);
}
END_TEST

/* ---- DATE ----------------------------------------------------------------------------
 * Oracle Call Interface Programmer's Guide, "DATE" external data type,
 * "Format of the DATE Data Type": 30-NOV-1992, 3:17 PM is
 * 119 192 11 30 16 18 1. */
START_TEST(date_doc_example)
{
    static const uint8_t b[7] = {119, 192, 11, 30, 16, 18, 1};
    int64_t s;
    ck_assert_int_eq(dld_ora_date_decode(b, &s), 0);
    ck_assert_int_eq(s, 723136620LL); /* 1992-11-30T15:17:00 */
}
END_TEST

START_TEST(date_calendar_edges)
{
    int64_t a, b;
    /* the Gregorian reform: Oracle's calendar goes from 1582-10-04 (Julian)
     * straight to 1582-10-15 (Gregorian), one day apart */
    static const uint8_t before[7] = {115, 182, 10, 4, 1, 1, 1}, after[7] = {115, 182, 10, 15, 1, 1, 1};
    ck_assert_int_eq(dld_ora_date_decode(before, &a), 0);
    ck_assert_int_eq(dld_ora_date_decode(after, &b), 0);
    ck_assert_int_eq(b - a, 86400);
    ck_assert_int_eq(b / 86400, -141427);
    /* no year 0: 31 December 1 BC (century 100, year 99 by the excess-100
     * rule) is the day before 1 January AD 1 (century 100, year 101) */
    static const uint8_t bc1[7] = {100, 99, 12, 31, 1, 1, 1}, ad1[7] = {100, 101, 1, 1, 1, 1, 1};
    ck_assert_int_eq(dld_ora_date_decode(bc1, &a), 0);
    ck_assert_int_eq(dld_ora_date_decode(ad1, &b), 0);
    ck_assert_int_eq(b - a, 86400);
    /* DATE's minimum, 4712 BC (century 53, year 88), decodes */
    static const uint8_t min[7] = {53, 88, 1, 1, 1, 1, 1};
    ck_assert_int_eq(dld_ora_date_decode(min, &a), 0);
    ck_assert_int_lt(a, b);
    /* 9999-12-31 23:59:59, DATE's maximum */
    static const uint8_t max[7] = {199, 199, 12, 31, 24, 60, 60};
    ck_assert_int_eq(dld_ora_date_decode(max, &a), 0);
    ck_assert_int_eq(a, 253402300799LL);
    static const uint8_t bad[7] = {119, 192, 13, 30, 16, 18, 1};
    ck_assert_int_eq(dld_ora_date_decode(bad, &a), DLD_ERR_FATAL);
}
END_TEST

/* ---- TIMESTAMP WITH TIME ZONE -------------------------------------------------------
 * OCI hands zoned timestamps over through OCIDateTime descriptors whose
 * accessors return the wall-clock time in the value's zone and the zone's
 * offset; the conversion to Arrow's UTC count is this function.
 * Oracle Database SQL Language Reference, SYS_EXTRACT_UTC:
 * SYS_EXTRACT_UTC(TIMESTAMP '2000-03-28 11:30:00.00 -08:00') = 28-MAR-00 07.30.00 PM. */
START_TEST(tstz_doc_example)
{
    struct dld_ora_datetime dt = {.year = 2000, .month = 3, .day = 28, .hour = 11, .minute = 30, .tz_minutes = -480};
    int64_t v;
    ck_assert_int_eq(dld_ora_datetime_to_unit(&dt, DLD_UNIT_MICRO, &v), 0);
    ck_assert_int_eq(v, 954271800LL * 1000000);
    ck_assert_int_eq(dld_ora_datetime_to_unit(&dt, DLD_UNIT_SECOND, &v), 0);
    ck_assert_int_eq(v, 954271800LL);
    /* fractional seconds: nanoseconds kept in NANO, whole microseconds in MICRO */
    dt.nanos = 890565123;
    ck_assert_int_eq(dld_ora_datetime_to_unit(&dt, DLD_UNIT_NANO, &v), 0);
    ck_assert_int_eq(v, 954271800LL * 1000000000 + 890565123);
    ck_assert_int_eq(dld_ora_datetime_to_unit(&dt, DLD_UNIT_MICRO, &v), 0);
    ck_assert_int_eq(v, 954271800LL * 1000000 + 890565);
    /* a half-hour zone east of UTC */
    struct dld_ora_datetime ist = {.year = 2000, .month = 3, .day = 29, .hour = 1, .minute = 0, .tz_minutes = 330};
    ck_assert_int_eq(dld_ora_datetime_to_unit(&ist, DLD_UNIT_SECOND, &v), 0);
    ck_assert_int_eq(v, 954271800LL);
    /* nanoseconds since 1970 end in 2262: an error, not a wrap-around */
    struct dld_ora_datetime far = {.year = 2300, .month = 1, .day = 1};
    ck_assert_int_eq(dld_ora_datetime_to_unit(&far, DLD_UNIT_NANO, &v), DLD_ERR_UNSUPPORTED);
    ck_assert_int_eq(dld_ora_datetime_to_unit(&far, DLD_UNIT_MICRO, &v), 0);
    struct dld_ora_datetime badm = {.year = 2000, .month = 13, .day = 1};
    ck_assert_int_eq(dld_ora_datetime_to_unit(&badm, DLD_UNIT_MICRO, &v), DLD_ERR_FATAL);
}
END_TEST

/* ---- the type mapping table of docs/oracle.md ---------------------------------------- */

START_TEST(type_table)
{
    static const struct {
        struct dld_ora_desc d;
        int fetch;
        uint32_t type;
        int32_t precision, scale;
        uint32_t unit;
        const char *tz;
        int wm;
    } rows[] = {
        {{DLD_SQLT_NUM, 10, 0, 22, 0, 1}, DLD_ORA_F_INT64, DLD_T_INT64, 0, 0, 0, NULL, DLD_ORA_WM_NUMBER},
        {{DLD_SQLT_NUM, 18, 0, 22, 0, 1}, DLD_ORA_F_INT64, DLD_T_INT64, 0, 0, 0, NULL, DLD_ORA_WM_NUMBER},
        {{DLD_SQLT_NUM, 19, 0, 22, 0, 1}, DLD_ORA_F_DECIMAL, DLD_T_DECIMAL128, 19, 0, 0, NULL, DLD_ORA_WM_NUMBER},
        {{DLD_SQLT_NUM, 12, 2, 22, 0, 1}, DLD_ORA_F_DECIMAL, DLD_T_DECIMAL128, 12, 2, 0, NULL, DLD_ORA_WM_NUMBER},
        {{DLD_SQLT_NUM, 2, 5, 22, 0, 1}, DLD_ORA_F_DECIMAL, DLD_T_DECIMAL128, 5, 5, 0, NULL, DLD_ORA_WM_NUMBER},
        {{DLD_SQLT_NUM, 10, -2, 22, 0, 1}, DLD_ORA_F_INT64, DLD_T_INT64, 0, 0, 0, NULL, DLD_ORA_WM_NUMBER},
        {{DLD_SQLT_NUM, 0, -127, 22, 0, 1}, DLD_ORA_F_DECIMAL, DLD_T_DECIMAL128, 38, 7, 0, NULL, DLD_ORA_WM_NUMBER},
        {{DLD_SQLT_NUM, 126, -127, 22, 0, 1}, DLD_ORA_F_DECIMAL, DLD_T_DECIMAL128, 38, 7, 0, NULL, DLD_ORA_WM_NUMBER},
        {{DLD_SQLT_NUM, 0, 0, 22, 0, 1}, DLD_ORA_F_DECIMAL, DLD_T_DECIMAL128, 38, 0, 0, NULL, DLD_ORA_WM_NUMBER},
        {{DLD_SQLT_IBFLOAT, 0, 0, 4, 0, 1}, DLD_ORA_F_FLOAT, DLD_T_FLOAT32, 0, 0, 0, NULL, DLD_ORA_WM_NUMBER},
        {{DLD_SQLT_IBDOUBLE, 0, 0, 8, 0, 1}, DLD_ORA_F_DOUBLE, DLD_T_FLOAT64, 0, 0, 0, NULL, DLD_ORA_WM_NUMBER},
        {{DLD_SQLT_CHR, 0, 0, 80, 20, 1}, DLD_ORA_F_TEXT, DLD_T_STRING, 0, 0, 0, NULL, DLD_ORA_WM_TEXT},
        {{DLD_SQLT_CHR, 0, 0, 40, 20, 2}, DLD_ORA_F_TEXT, DLD_T_STRING, 0, 0, 0, NULL, DLD_ORA_WM_TEXT},
        {{DLD_SQLT_AFC, 0, 0, 10, 10, 1}, DLD_ORA_F_TEXT, DLD_T_STRING, 0, 0, 0, NULL, DLD_ORA_WM_TEXT},
        {{DLD_SQLT_CLOB, 0, 0, 4000, 0, 1}, DLD_ORA_F_CLOB, DLD_T_STRING, 0, 0, 0, NULL, 0},
        {{DLD_SQLT_CLOB, 0, 0, 4000, 0, 2}, DLD_ORA_F_CLOB, DLD_T_STRING, 0, 0, 0, NULL, 0},
        {{DLD_SQLT_BLOB, 0, 0, 4000, 0, 1}, DLD_ORA_F_BLOB, DLD_T_BINARY, 0, 0, 0, NULL, 0},
        {{DLD_SQLT_BIN, 0, 0, 16, 0, 1}, DLD_ORA_F_RAW, DLD_T_BINARY, 0, 0, 0, NULL, 0},
        {{DLD_SQLT_DAT, 0, 0, 7, 0, 1}, DLD_ORA_F_DATE, DLD_T_TIMESTAMP, 0, 0, DLD_UNIT_SECOND, NULL, DLD_ORA_WM_DATE},
        {{DLD_SQLT_TIMESTAMP, 0, 6, 11, 0, 1}, DLD_ORA_F_TIMESTAMP, DLD_T_TIMESTAMP, 0, 0, DLD_UNIT_MICRO, NULL,
         DLD_ORA_WM_TIMESTAMP},
        {{DLD_SQLT_TIMESTAMP, 0, 9, 11, 0, 1}, DLD_ORA_F_TIMESTAMP, DLD_T_TIMESTAMP, 0, 0, DLD_UNIT_NANO, NULL,
         DLD_ORA_WM_TIMESTAMP},
        {{DLD_SQLT_TIMESTAMP_TZ, 0, 6, 13, 0, 1}, DLD_ORA_F_TIMESTAMP, DLD_T_TIMESTAMP, 0, 0, DLD_UNIT_MICRO, "UTC",
         DLD_ORA_WM_TIMESTAMP_TZ},
        {{DLD_SQLT_TIMESTAMP_LTZ, 0, 3, 11, 0, 1}, DLD_ORA_F_TIMESTAMP, DLD_T_TIMESTAMP, 0, 0, DLD_UNIT_MICRO, "UTC",
         DLD_ORA_WM_TIMESTAMP_LTZ},
        {{DLD_SQLT_INTERVAL_DS, 2, 6, 11, 0, 1}, DLD_ORA_F_TEXT, DLD_T_STRING, 0, 0, 0, NULL, 0},
        {{DLD_SQLT_INTERVAL_YM, 2, 0, 5, 0, 1}, DLD_ORA_F_TEXT, DLD_T_STRING, 0, 0, 0, NULL, 0},
        {{DLD_SQLT_RDD, 0, 0, 10, 0, 1}, DLD_ORA_F_TEXT, DLD_T_STRING, 0, 0, 0, NULL, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct dld_ora_mapping m;
        ck_assert_msg(dld_ora_type_map(&rows[i].d, 7, false, &m, &s_err) == 0, "row %zu: %s", i, s_err.message);
        ck_assert_msg(m.fetch == rows[i].fetch && m.type == rows[i].type, "row %zu: fetch %d type %u", i, m.fetch,
                      m.type);
        ck_assert_int_eq(m.precision, rows[i].precision);
        ck_assert_int_eq(m.scale, rows[i].scale);
        ck_assert_int_eq(m.unit, rows[i].unit);
        ck_assert_msg((m.tz == NULL) == (rows[i].tz == NULL), "row %zu tz", i);
        ck_assert_int_eq(m.wm_kind, rows[i].wm);
        ck_assert_uint_gt(m.width, 0);
    }
    /* text buffers hold 4 UTF-8 bytes per character */
    struct dld_ora_mapping m;
    struct dld_ora_desc vc = {DLD_SQLT_CHR, 0, 0, 20, 20, 1};
    ck_assert_int_eq(dld_ora_type_map(&vc, 10, false, &m, &s_err), 0);
    ck_assert_uint_eq(m.width, 80);
    ck_assert_int_eq(m.dty, DLD_SQLT_CHR);
    /* interval and rowid are selected as text */
    struct dld_ora_desc iv = {DLD_SQLT_INTERVAL_DS, 2, 6, 11, 0, 1};
    ck_assert_int_eq(dld_ora_type_map(&iv, 10, false, &m, &s_err), 0);
    ck_assert_int_eq(m.select_as, DLD_ORA_SELECT_TO_CHAR);
    /* the companion offset column is asked for with tz_offset_columns */
    struct dld_ora_desc tz = {DLD_SQLT_TIMESTAMP_TZ, 0, 6, 13, 0, 1};
    ck_assert_int_eq(dld_ora_type_map(&tz, 10, true, &m, &s_err), 0);
    ck_assert(m.tz_companion && m.zoned);
    /* what is not read, and says so */
    struct dld_ora_desc lng = {DLD_SQLT_LNG, 0, 0, 0, 0, 1}, obj = {108, 0, 0, 0, 0, 1},
                        big = {DLD_SQLT_NUM, 3, 50, 22, 0, 1};
    ck_assert_int_eq(dld_ora_type_map(&lng, 10, false, &m, &s_err), DLD_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(s_err.message, "LONG"));
    ck_assert_int_eq(dld_ora_type_map(&obj, 10, false, &m, &s_err), DLD_ERR_UNSUPPORTED);
    ck_assert_int_eq(dld_ora_type_map(&big, 10, false, &m, &s_err), DLD_ERR_UNSUPPORTED);
    ck_assert_int_eq(dld_ora_type_map(&vc, 39, false, &m, &s_err), DLD_ERR_CONFIG);
}
END_TEST

START_TEST(ora_error_classes)
{
    ck_assert_int_eq(dld_ora_classify(3113), DLD_ERR_RETRY);
    ck_assert_int_eq(dld_ora_classify(3114), DLD_ERR_RETRY);
    ck_assert_int_eq(dld_ora_classify(12541), DLD_ERR_RETRY);
    ck_assert_int_eq(dld_ora_classify(1555), DLD_ERR_RETRY);
    ck_assert_int_eq(dld_ora_classify(1017), DLD_ERR_AUTH);
    ck_assert_int_eq(dld_ora_classify(28000), DLD_ERR_AUTH);
    ck_assert_int_eq(dld_ora_classify(942), DLD_ERR_NOT_FOUND);
    ck_assert_int_eq(dld_ora_classify(18), DLD_ERR_THROTTLED);
    ck_assert_int_eq(dld_ora_classify(12154), DLD_ERR_CONFIG);
    ck_assert_int_eq(dld_ora_classify(600), DLD_ERR_FATAL);
}
END_TEST

static Suite *s_suite(void)
{
    Suite *s = suite_create("oracle_decode");
    TCase *tc = tcase_create("decode");
    tcase_add_checked_fixture(tc, s_setup, NULL);
    tcase_add_loop_test(tc, varnum_doc_table, 0, (int)(sizeof(s_varnum_doc) / sizeof(s_varnum_doc[0])));
    tcase_add_test(tc, varnum_precision_overflow_is_an_error);
    tcase_add_test(tc, varnum_fractions);
    tcase_add_test(tc, varnum_38_digits_and_malformed);
    tcase_add_test(tc, date_doc_example);
    tcase_add_test(tc, date_calendar_edges);
    tcase_add_test(tc, tstz_doc_example);
    tcase_add_test(tc, type_table);
    tcase_add_test(tc, ora_error_classes);
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

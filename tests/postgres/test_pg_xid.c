/*
 * Commit-order windows of source-postgres: the xid8 arithmetic of
 * plugins/source-postgres/pg_xid.c, linked directly (no server). The SQL
 * conditions are checked against a reference written from the definition:
 * a row belongs to the window [low, high) when the xid8 its 32-bit xmin
 * widens to (the largest xid8 <= the snapshot's xmax with those low bits)
 * is in it -- across epoch boundaries, for every raw value near the
 * boundaries and for random ones.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "pg_xid.h"

#define E (UINT64_C(1) << 32)

START_TEST(parse_xid8)
{
    uint64_t v;
    ck_assert(dld_pg_xid8_parse("0", &v) && v == 0);
    ck_assert(dld_pg_xid8_parse("4294967296", &v) && v == E);
    ck_assert(dld_pg_xid8_parse("9223372036854775807", &v) && v == INT64_MAX);
    ck_assert(!dld_pg_xid8_parse("9223372036854775808", &v));
    ck_assert(!dld_pg_xid8_parse("", &v));
    ck_assert(!dld_pg_xid8_parse("-1", &v));
    ck_assert(!dld_pg_xid8_parse("+1", &v));
    ck_assert(!dld_pg_xid8_parse("12a", &v));
    ck_assert(!dld_pg_xid8_parse(" 12", &v));
    ck_assert(!dld_pg_xid8_parse("2024-05-01", &v));
    ck_assert(!dld_pg_xid8_parse(NULL, &v));
}
END_TEST

START_TEST(widen)
{
    /* turn 0 */
    ck_assert_uint_eq(dld_pg_xid_widen(1000, 5000), 1000);
    ck_assert_uint_eq(dld_pg_xid_widen(4999, 5000), 4999);
    /* turn 1, 10 past the boundary: an xid above the low bits is of turn 0 */
    ck_assert_uint_eq(dld_pg_xid_widen(5, E + 10), E + 5);
    ck_assert_uint_eq(dld_pg_xid_widen(UINT32_MAX, E + 10), E - 1);
    ck_assert_uint_eq(dld_pg_xid_widen(3000000000u, E + 10), 3000000000u);
    /* turn 7 */
    ck_assert_uint_eq(dld_pg_xid_widen(100, 7 * E + 200), 7 * E + 100);
    ck_assert_uint_eq(dld_pg_xid_widen(300, 7 * E + 200), 6 * E + 300);
    /* permanent ids stay what they are: older than everything */
    for (uint32_t x = 0; x < 3; x++)
        ck_assert_uint_eq(dld_pg_xid_widen(x, 7 * E + 200), x);
}
END_TEST

/* the definition: has_low false = everything below high (permanent ids too) */
static bool s_reference(bool has_low, uint64_t low, uint64_t high, uint64_t next, uint32_t raw)
{
    if (high > next)
        high = next;
    uint64_t w = dld_pg_xid_widen(raw, next);
    if (raw < 3)
        return !has_low || low < 3; /* only a window from the very beginning */
    return (!has_low || w >= low) && w < high;
}

static void s_check_raw(bool has_low, uint64_t low, uint64_t high, uint64_t next, uint32_t raw,
                        const struct dld_pg_xid_ranges *r)
{
    if (raw >= 3 && dld_pg_xid_widen(raw, next) >= next)
        return; /* not handed out yet (or never, in turn 0): no visible row carries it */
    bool want = s_reference(has_low, low, high, next, raw), got = dld_pg_xid_ranges_match(r, raw);
    ck_assert_msg(want == got, "window [%s%" PRIu64 ", %" PRIu64 ") next %" PRIu64 ": raw %" PRIu32 " (xid8 %" PRIu64
                               ") %s, expected %s",
                  has_low ? "" : "-inf/", low, high, next, raw, dld_pg_xid_widen(raw, next), got ? "in" : "out",
                  want ? "in" : "out");
}

/* every raw value near the interesting points, plus random ones */
static void s_check_window(bool has_low, uint64_t low, uint64_t high, uint64_t next)
{
    struct dld_pg_xid_ranges r;
    dld_pg_xid_window(has_low, low, high, next, &r);
    uint32_t points[] = {0, 3, (uint32_t)low, (uint32_t)high, (uint32_t)next, UINT32_MAX};
    for (size_t p = 0; p < sizeof points / sizeof points[0]; p++)
        for (int64_t d = -5; d <= 5; d++)
            s_check_raw(has_low, low, high, next, (uint32_t)((int64_t)points[p] + d), &r);
    for (int i = 0; i < 2000; i++)
        s_check_raw(has_low, low, high, next, (uint32_t)random() ^ ((uint32_t)random() << 16), &r);
}

START_TEST(windows_across_epochs)
{
    srandom(17);
    /* plain windows in turn 0 */
    s_check_window(true, 1000, 1532, 1540);
    s_check_window(false, 0, 1532, 1540);
    s_check_window(false, 0, 1540, 1540); /* nothing running: the whole table */
    /* the turn boundary inside the window, inside [horizon, xmax), at its edges */
    s_check_window(true, E - 100, E + 5, E + 10);
    s_check_window(true, E - 100, E - 1, E + 10);
    s_check_window(true, E - 100, E, E + 10);
    s_check_window(true, E, E + 3, E + 10);   /* E+0..E+2 are never handed out */
    s_check_window(true, E - 1, E + 4, E + 10);
    s_check_window(false, 0, E - 5, E + 10);  /* the open transactions straddle the boundary */
    s_check_window(false, 0, E + 5, E + 10);
    s_check_window(true, 5 * E - 7, 5 * E + 123456, 5 * E + 123999);
    /* a watermark more than a turn behind: what a row's xmin can still tell */
    s_check_window(true, 1000, 3 * E + 50, 3 * E + 60);
    s_check_window(true, 2 * E + 10, 3 * E + 50, 3 * E + 60);
    /* nothing new */
    s_check_window(true, 1532, 1532, 1540);
    s_check_window(true, E + 7, E + 7, E + 9);
    /* a horizon recorded above this snapshot's xmax is capped */
    s_check_window(true, 1000, 2000, 1540);
    /* random windows of random sizes in random turns */
    for (int i = 0; i < 300; i++) {
        uint64_t next = ((uint64_t)(random() % 9) << 32) + (uint64_t)random() % E + 3;
        uint64_t span = (uint64_t)random() % (i % 3 ? 100000 : (E - 1));
        uint64_t high = next - (uint64_t)random() % 1000;
        if (high > next || high < 3)
            high = next;
        uint64_t low = high > span ? high - span : 3;
        s_check_window(i % 7 != 0, low, high, next);
    }
}
END_TEST

START_TEST(sql_text)
{
    struct dld_pg_xid_ranges r;
    char sql[256];
    dld_pg_xid_window(true, 1000, 1532, 1540, &r);
    dld_pg_xid_ranges_sql(&r, sql, sizeof sql);
    ck_assert_str_eq(sql, "xmin::text::bigint BETWEEN 1000 AND 1531");
    dld_pg_xid_window(false, 0, 1532, 1540, &r);
    dld_pg_xid_ranges_sql(&r, sql, sizeof sql);
    ck_assert_str_eq(sql, "NOT (xmin::text::bigint BETWEEN 1532 AND 1539)");
    dld_pg_xid_window(false, 0, 1540, 1540, &r);
    dld_pg_xid_ranges_sql(&r, sql, sizeof sql);
    ck_assert_str_eq(sql, "");
    dld_pg_xid_window(true, E - 100, E + 5, E + 10, &r);
    dld_pg_xid_ranges_sql(&r, sql, sizeof sql);
    ck_assert_str_eq(sql, "(xmin::text::bigint BETWEEN 4294967196 AND 4294967295 OR xmin::text::bigint BETWEEN 3 AND 4)");
    dld_pg_xid_window(true, 1532, 1532, 1540, &r);
    ck_assert(r.empty);
    dld_pg_xid_ranges_sql(&r, sql, sizeof sql);
    ck_assert_str_eq(sql, "false");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("postgres xid8 windows");
    TCase *tc = tcase_create("arithmetic");
    tcase_add_test(tc, parse_xid8);
    tcase_add_test(tc, widen);
    tcase_add_test(tc, windows_across_epochs);
    tcase_add_test(tc, sql_text);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

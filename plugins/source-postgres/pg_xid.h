/*
 * Commit-order windows (`"filteroperator": "commit"`): the arithmetic that
 * turns a window of 64-bit transaction ids (xid8) into conditions on the
 * 32-bit `xmin` a row carries. Pure: no libpq, linked directly by the
 * unit test (tests/postgres/test_pg_xid.c).
 *
 * A row's xmin is the 32-bit id of the transaction that inserted or last
 * updated it; the xid8 of that transaction is epoch << 32 | xmin. The epoch
 * is not stored with the row: it is recovered from the snapshot's xmax N
 * (every xid visible in the snapshot is below N) by taking the largest
 * xid8 <= N with those low 32 bits ("widening", as PostgreSQL's own
 * xid8funcs.c does for snapshot members). That is exact for every row
 * whose transaction is less than 2^32 transactions old. Ids 0, 1, 2 are
 * permanent (invalid, bootstrap, frozen before 9.4) and older than
 * everything; the counter never hands them out (after 2^32 - 1 comes 3).
 *
 * A window is [low, high) in xid8: low is the previous window's horizon
 * (absent for the first window), high this snapshot's horizon
 * pg_snapshot_xmin(): every transaction below it has ended, so the rows it
 * committed are all visible, and a transaction still running is at or
 * above it and falls into a later window.
 */
#ifndef DLD_PG_XID_H
#define DLD_PG_XID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DLD_PG_XID_FIRST_NORMAL 3u

/* xid8 text (decimal, as PostgreSQL prints it) to a number; false when the
 * text is not a plain unsigned decimal that fits 63 bits (xid8 values
 * PostgreSQL hands out stay far below). */
bool dld_pg_xid8_parse(const char *text, uint64_t *out);

/* The xid8 of a 32-bit xid seen in a snapshot whose xmax is `next`. */
uint64_t dld_pg_xid_widen(uint32_t xid, uint64_t next);

/* Which raw 32-bit xmin values a window selects:
 *   negate == false: xmin in one of the ranges;
 *   negate == true:  xmin in none of them (the first window: everything
 *                    but the transactions at or above the horizon);
 *   all:   no condition at all (a first window with nothing running);
 *   empty: nothing can match. */
struct dld_pg_xid_ranges {
    bool negate, all, empty;
    int n;
    uint32_t lo[2], hi[2]; /* inclusive */
};

/* The raw conditions of the window [low, high) (has_low false: everything
 * below high, the permanent ids included) for a snapshot with xmax `next`.
 * high is capped at next. */
void dld_pg_xid_window(bool has_low, uint64_t low, uint64_t high, uint64_t next, struct dld_pg_xid_ranges *out);

/* Whether a raw xmin passes those conditions (what the SQL says, in C). */
bool dld_pg_xid_ranges_match(const struct dld_pg_xid_ranges *r, uint32_t xmin);

/* The SQL condition on `xmin::text::bigint`, written into out (at least
 * 200 bytes): "" for `all`, "false" for `empty`. */
void dld_pg_xid_ranges_sql(const struct dld_pg_xid_ranges *r, char *out, size_t cap);

#endif

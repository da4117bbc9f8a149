/* Commit-order windows: xid8 arithmetic. See pg_xid.h. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_xid.h"

#define S_EPOCH 0x100000000ull /* 2^32: one turn of the 32-bit counter */

bool dld_pg_xid8_parse(const char *text, uint64_t *out)
{
    if (text == NULL || !isdigit((unsigned char)text[0]) || strlen(text) > 19)
        return false;
    for (const char *p = text; *p; p++)
        if (!isdigit((unsigned char)*p))
            return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end || v > (unsigned long long)INT64_MAX)
        return false;
    *out = (uint64_t)v;
    return true;
}

uint64_t dld_pg_xid_widen(uint32_t xid, uint64_t next)
{
    if (xid < DLD_PG_XID_FIRST_NORMAL)
        return xid; /* permanent: older than every transaction */
    uint64_t epoch = next >> 32;
    if (xid > (uint32_t)next) {
        /* above the counter's low bits: it was handed out in the previous
         * turn; in turn 0 such an xid cannot be in the snapshot at all, and
         * taking it as turn 0 puts it at or above next, outside every window */
        if (epoch == 0)
            return xid;
        epoch--;
    }
    return epoch << 32 | xid;
}

/* Raw ranges of the normal xids whose widened value is in [a, b), where
 * b - a < 2^32 (the caller clamps a). Values 0..2 are never handed out. */
static void s_ranges(uint64_t a, uint64_t b, struct dld_pg_xid_ranges *out)
{
    out->n = 0;
    if (a >= b)
        return;
    uint64_t last = b - 1;
    uint32_t lo = (uint32_t)a, hi = (uint32_t)last;
    uint32_t los[2], his[2];
    int n = 0;
    if ((a >> 32) == (last >> 32)) {
        los[n] = lo, his[n++] = hi;
    } else {
        los[n] = lo, his[n++] = UINT32_MAX;
        los[n] = 0, his[n++] = hi;
    }
    for (int i = 0; i < n; i++) {
        if (los[i] < DLD_PG_XID_FIRST_NORMAL)
            los[i] = DLD_PG_XID_FIRST_NORMAL;
        if (los[i] <= his[i]) {
            out->lo[out->n] = los[i];
            out->hi[out->n++] = his[i];
        }
    }
}

void dld_pg_xid_window(bool has_low, uint64_t low, uint64_t high, uint64_t next, struct dld_pg_xid_ranges *out)
{
    memset(out, 0, sizeof *out);
    if (high > next)
        high = next;
    /* the lowest xid8 a normal xid can widen to: next - (2^32 - 1) */
    uint64_t floor = next >= S_EPOCH - 1 ? next - (S_EPOCH - 1) : 0;
    if (!has_low || low < DLD_PG_XID_FIRST_NORMAL) {
        /* everything below the horizon: all rows but those of the
         * transactions in [high, next) -- expressed as that exclusion, so
         * the permanent ids and every older turn are included */
        s_ranges(high > floor ? high : floor, next, out);
        if (out->n == 0)
            out->all = true;
        else
            out->negate = true;
        return;
    }
    uint64_t from = low > floor ? low : floor;
    s_ranges(from, high, out);
    if (out->n == 0)
        out->empty = true;
}

bool dld_pg_xid_ranges_match(const struct dld_pg_xid_ranges *r, uint32_t xmin)
{
    if (r->all)
        return true;
    if (r->empty)
        return false;
    bool in = false;
    for (int i = 0; i < r->n; i++)
        in |= xmin >= r->lo[i] && xmin <= r->hi[i];
    return r->negate ? !in : in;
}

void dld_pg_xid_ranges_sql(const struct dld_pg_xid_ranges *r, char *out, size_t cap)
{
    if (r->all) {
        snprintf(out, cap, "%s", "");
        return;
    }
    if (r->empty) {
        snprintf(out, cap, "%s", "false");
        return;
    }
    size_t len = 0;
    out[0] = '\0';
    if (r->negate)
        len += (size_t)snprintf(out + len, cap - len, "NOT (");
    else if (r->n > 1)
        len += (size_t)snprintf(out + len, cap - len, "(");
    for (int i = 0; i < r->n && len < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%sxmin::text::bigint BETWEEN %" PRIu32 " AND %" PRIu32,
                                i ? " OR " : "", r->lo[i], r->hi[i]);
    if (len < cap && (r->negate || r->n > 1))
        snprintf(out + len, cap - len, ")");
}

/* Statistics. Signed integers, dates, times, timestamps and decimals
 * compare as signed numbers; unsigned integers as unsigned; byte arrays
 * byte-wise unsigned; floats numerically with NaN left out (and counted),
 * and a zero min written as -0.0, a zero max as +0.0, so a reader that
 * prunes on them never drops a row holding the other zero. */
#include "stats.h"

#include <math.h>
#include <string.h>

void dld_pq_stats_reset(struct dld_pq_stats *s)
{
    s->null_count = 0;
    s->nan_count = 0;
    s->has = false;
    s->bmin.len = 0;
    s->bmax.len = 0;
}

void dld_pq_stats_clean_up(struct dld_pq_stats *s)
{
    dld_pq_buf_clean_up(&s->bmin);
    dld_pq_buf_clean_up(&s->bmax);
    memset(s, 0, sizeof(*s));
}

void dld_pq_stats_i32(struct dld_pq_stats *s, const int32_t *v, size_t n, bool unsigned_order)
{
    if (n == 0)
        return;
    if (unsigned_order) {
        uint64_t lo = s->has ? s->min.u : UINT64_MAX, hi = s->has ? s->max.u : 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t x = (uint32_t)v[i];
            lo = x < lo ? x : lo;
            hi = x > hi ? x : hi;
        }
        s->min.u = lo;
        s->max.u = hi;
    } else {
        int64_t lo = s->has ? s->min.i : INT64_MAX, hi = s->has ? s->max.i : INT64_MIN;
        for (size_t i = 0; i < n; i++) {
            lo = v[i] < lo ? v[i] : lo;
            hi = v[i] > hi ? v[i] : hi;
        }
        s->min.i = lo;
        s->max.i = hi;
    }
    s->has = true;
}

void dld_pq_stats_i64(struct dld_pq_stats *s, const int64_t *v, size_t n, bool unsigned_order)
{
    if (n == 0)
        return;
    if (unsigned_order) {
        uint64_t lo = s->has ? s->min.u : UINT64_MAX, hi = s->has ? s->max.u : 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t x = (uint64_t)v[i];
            lo = x < lo ? x : lo;
            hi = x > hi ? x : hi;
        }
        s->min.u = lo;
        s->max.u = hi;
    } else {
        int64_t lo = s->has ? s->min.i : INT64_MAX, hi = s->has ? s->max.i : INT64_MIN;
        for (size_t i = 0; i < n; i++) {
            lo = v[i] < lo ? v[i] : lo;
            hi = v[i] > hi ? v[i] : hi;
        }
        s->min.i = lo;
        s->max.i = hi;
    }
    s->has = true;
}

void dld_pq_stats_f64(struct dld_pq_stats *s, const double *v, size_t n)
{
    double lo = s->has ? s->min.d : INFINITY, hi = s->has ? s->max.d : -INFINITY;
    bool any = s->has;
    for (size_t i = 0; i < n; i++) {
        double x = v[i];
        if (isnan(x)) {
            s->nan_count++;
            continue;
        }
        any = true;
        lo = x < lo ? x : lo;
        hi = x > hi ? x : hi;
    }
    if (any) {
        s->min.d = lo;
        s->max.d = hi;
        s->has = true;
    }
}

void dld_pq_stats_f32(struct dld_pq_stats *s, const float *v, size_t n)
{
    /* a float widens to double exactly, so one code path serves both */
    double lo = s->has ? s->min.d : INFINITY, hi = s->has ? s->max.d : -INFINITY;
    bool any = s->has;
    for (size_t i = 0; i < n; i++) {
        float x = v[i];
        if (isnan(x)) {
            s->nan_count++;
            continue;
        }
        any = true;
        lo = x < lo ? x : lo;
        hi = x > hi ? x : hi;
    }
    if (any) {
        s->min.d = lo;
        s->max.d = hi;
        s->has = true;
    }
}

void dld_pq_stats_i128(struct dld_pq_stats *s, const __int128 *v, size_t n)
{
    if (n == 0)
        return;
    __int128 lo = s->has ? s->min.q : v[0], hi = s->has ? s->max.q : v[0];
    for (size_t i = 0; i < n; i++) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    s->min.q = lo;
    s->max.q = hi;
    s->has = true;
}

void dld_pq_stats_bool(struct dld_pq_stats *s, const uint8_t *v, size_t n)
{
    if (n == 0)
        return;
    int64_t lo = s->has ? s->min.i : 1, hi = s->has ? s->max.i : 0;
    for (size_t i = 0; i < n; i++) {
        lo &= v[i];
        hi |= v[i];
    }
    s->min.i = lo;
    s->max.i = hi;
    s->has = true;
}

static int s_cmp_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t m = alen < blen ? alen : blen;
    int c = m ? memcmp(a, b, m) : 0;
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

int dld_pq_stats_bytes(struct dld_pq_stats *s, const struct dld_pq_view *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = v[i].ptr;
        size_t len = v[i].len;
        if (!s->has) {
            s->bmin.len = s->bmax.len = 0;
            if (dld_pq_buf_append(&s->bmin, p, len) || dld_pq_buf_append(&s->bmax, p, len))
                return -1;
            s->has = true;
            continue;
        }
        if (s_cmp_bytes(p, len, s->bmin.data, s->bmin.len) < 0) {
            s->bmin.len = 0;
            if (dld_pq_buf_append(&s->bmin, p, len))
                return -1;
        } else if (s_cmp_bytes(p, len, s->bmax.data, s->bmax.len) > 0) {
            s->bmax.len = 0;
            if (dld_pq_buf_append(&s->bmax, p, len))
                return -1;
        }
    }
    return 0;
}

static int s_put_le(struct dld_pq_buf *b, uint64_t v, int nbytes)
{
    if (dld_pq_buf_reserve(b, (size_t)nbytes))
        return -1;
    for (int i = 0; i < nbytes; i++)
        dld_pq_buf_put_u8(b, (uint8_t)(v >> (8 * i)));
    return 0;
}

static int s_put_be128(struct dld_pq_buf *b, __int128 v, int nbytes)
{
    if (dld_pq_buf_reserve(b, (size_t)nbytes))
        return -1;
    for (int i = nbytes - 1; i >= 0; i--)
        dld_pq_buf_put_u8(b, (uint8_t)((unsigned __int128)v >> (8 * i)));
    return 0;
}

/* the longest prefix of at most `limit` bytes that does not split a
 * UTF-8 sequence (for strings) */
static size_t s_cut(const uint8_t *p, size_t len, size_t limit, bool utf8)
{
    if (len <= limit)
        return len;
    size_t n = limit;
    while (utf8 && n > 0 && (p[n] & 0xC0) == 0x80)
        n--;
    return n;
}

static int s_bytes_minmax(const struct dld_pq_stats *s, const struct dld_pq_coldesc *d, struct dld_pq_stats_out *o)
{
    bool utf8 = d->logical == DLD_PQ_LT_STRING;
    size_t n = s_cut(s->bmin.data, s->bmin.len, DLD_PQ_STATS_MAX_BYTES, utf8);
    if (dld_pq_buf_append(&o->min, s->bmin.data, n))
        return -1;
    o->has_min = true;
    o->min_exact = n == s->bmin.len;

    if (s->bmax.len <= DLD_PQ_STATS_MAX_BYTES) {
        if (dld_pq_buf_append(&o->max, s->bmax.data, s->bmax.len))
            return -1;
        o->has_max = o->max_exact = true;
        return 0;
    }
    /* An upper bound: a prefix whose last byte is raised by one. For a
     * string only an ASCII byte below 0x7F is raised, which keeps the
     * bound valid UTF-8; without one, no max is written. */
    n = s_cut(s->bmax.data, s->bmax.len, DLD_PQ_STATS_MAX_BYTES, utf8);
    while (n > 0) {
        uint8_t c = s->bmax.data[n - 1];
        if (utf8 ? c < 0x7F : c < 0xFF)
            break;
        n--;
    }
    if (n == 0)
        return 0;
    if (dld_pq_buf_append(&o->max, s->bmax.data, n))
        return -1;
    o->max.data[n - 1]++;
    o->has_max = true;
    o->max_exact = false;
    return 0;
}

int dld_pq_stats_encode(const struct dld_pq_stats *s, const struct dld_pq_coldesc *d, struct dld_pq_stats_out *o)
{
    o->min.len = o->max.len = 0;
    o->has_min = o->has_max = false;
    o->min_exact = o->max_exact = true;
    o->null_count = s->null_count;
    o->nan_count = s->nan_count;
    o->has_nan_count = d->phys == DLD_PQ_FLOAT || d->phys == DLD_PQ_DOUBLE;
    if (!s->has)
        return 0; /* all null, or all NaN: no min/max, as the spec asks */
    int rc = 0;
    switch (d->phys) {
    case DLD_PQ_BOOLEAN:
        rc = s_put_le(&o->min, (uint64_t)s->min.i, 1) || s_put_le(&o->max, (uint64_t)s->max.i, 1);
        break;
    case DLD_PQ_INT32:
        if (d->src == DLD_PQ_SRC_DEC128) /* decimal values are held as __int128 */
            rc = s_put_le(&o->min, (uint64_t)(int64_t)s->min.q, 4) || s_put_le(&o->max, (uint64_t)(int64_t)s->max.q, 4);
        else
            rc = s_put_le(&o->min, s->min.u, 4) || s_put_le(&o->max, s->max.u, 4);
        break;
    case DLD_PQ_INT64:
        if (d->src == DLD_PQ_SRC_DEC128)
            rc = s_put_le(&o->min, (uint64_t)(int64_t)s->min.q, 8) || s_put_le(&o->max, (uint64_t)(int64_t)s->max.q, 8);
        else
            rc = s_put_le(&o->min, s->min.u, 8) || s_put_le(&o->max, s->max.u, 8);
        break;
    case DLD_PQ_FLOAT:
    case DLD_PQ_DOUBLE: {
        double lo = s->min.d == 0.0 ? -0.0 : s->min.d;
        double hi = s->max.d == 0.0 ? +0.0 : s->max.d;
        if (d->phys == DLD_PQ_FLOAT) {
            float flo = (float)lo, fhi = (float)hi;
            uint32_t a, b;
            memcpy(&a, &flo, 4);
            memcpy(&b, &fhi, 4);
            rc = s_put_le(&o->min, a, 4) || s_put_le(&o->max, b, 4);
        } else {
            uint64_t a, b;
            memcpy(&a, &lo, 8);
            memcpy(&b, &hi, 8);
            rc = s_put_le(&o->min, a, 8) || s_put_le(&o->max, b, 8);
        }
        break;
    }
    case DLD_PQ_FLBA:
        rc = s_put_be128(&o->min, s->min.q, d->type_length) || s_put_be128(&o->max, s->max.q, d->type_length);
        break;
    default:
        return s_bytes_minmax(s, d, o);
    }
    if (rc)
        return -1;
    o->has_min = o->has_max = true;
    return 0;
}

void dld_pq_stats_out_clean_up(struct dld_pq_stats_out *o)
{
    dld_pq_buf_clean_up(&o->min);
    dld_pq_buf_clean_up(&o->max);
}

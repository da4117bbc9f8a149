/*
 * Decoder for PostgreSQL's binary COPY format (see the COPY reference page,
 * "Binary Format"):
 *
 *   header   "PGCOPY\n\377\r\n\0", int32 flags, int32 extension length, extension
 *   tuple    int16 field count, then per field int32 length (-1 = NULL) + bytes
 *   trailer  int16 -1
 *
 * All integers are big-endian. Values are the types' binary send forms:
 * numeric as base-10000 digits, dates as days and timestamps as
 * microseconds since 2000-01-01. The decoder does not rely on how the
 * server splits CopyData messages (today: header with the first row, one
 * row per message); a tuple cut across messages is carried over.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "pg_internal.h"

#define PG_EPOCH_DAYS 10957                 /* 1970-01-01 → 2000-01-01 */
#define PG_EPOCH_US INT64_C(946684800000000) /* the same in microseconds */

static const char s_signature[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0'};

struct dld_pg_copy {
    const struct dld_pg_table *pt;
    struct dld_batch_builder *b;
    bool header_done;
    bool done;
    char *carry;
    size_t carry_len, carry_cap;
    int64_t *nulled;
};

static inline uint16_t s_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t s_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t s_be64(const uint8_t *p)
{
    return ((uint64_t)s_be32(p) << 32) | s_be32(p + 4);
}

struct dld_pg_copy *dld_pg_copy_new(const struct dld_pg_table *pt, struct dld_batch_builder *b)
{
    struct dld_pg_copy *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->nulled = calloc(pt->ncols ? pt->ncols : 1, sizeof *c->nulled);
    if (!c->nulled) {
        free(c);
        return NULL;
    }
    c->pt = pt;
    c->b = b;
    return c;
}

void dld_pg_copy_destroy(struct dld_pg_copy *c)
{
    if (!c)
        return;
    free(c->carry);
    free(c->nulled);
    free(c);
}

int64_t dld_pg_copy_nulled(const struct dld_pg_copy *c, size_t col)
{
    return col < c->pt->ncols ? c->nulled[col] : 0;
}

bool dld_pg_copy_complete(const struct dld_pg_copy *c)
{
    return c->done && c->carry_len == 0;
}

static int s_bad(struct dld_error *err, const struct dld_pg_column *col, const char *why)
{
    return dld_error_set(err, DLD_ERR_FATAL, "postgres: binary COPY: column %s (%s): %s",
                         col ? col->name : "-", col ? col->type_name : "-", why);
}

static const unsigned __int128 s_one = 1;

static unsigned __int128 s_pow10(int n)
{
    unsigned __int128 v = s_one;
    while (n-- > 0)
        v *= 10;
    return v;
}

/* numeric_send: int16 ndigits, int16 weight, uint16 sign, uint16 dscale,
 * then ndigits base-10000 digits; digit i is worth 10000^(weight - i).
 * The unscaled decimal is value * 10^scale, exact or refused. */
static int s_numeric(const uint8_t *p, int32_t len, const struct dld_pg_column *col, __int128 *out,
                     struct dld_error *err)
{
    if (len < 8)
        return s_bad(err, col, "numeric shorter than its header");
    int ndigits = s_be16(p);
    int weight = (int16_t)s_be16(p + 2);
    uint16_t sign = s_be16(p + 4);
    if (len != 8 + 2 * ndigits)
        return s_bad(err, col, "numeric length does not match its digit count");
    if (sign == 0xC000 || sign == 0xD000 || sign == 0xF000)
        return dld_error_set(err, DLD_ERR_UNSUPPORTED,
                             "postgres: column %s (%s): %s has no decimal value; use unconstrained_numeric=text "
                             "or filter it out",
                             col->name, col->type_name, sign == 0xC000 ? "NaN" : "Infinity");
    int32_t precision = col->spec.precision, scale = col->spec.scale;
    if (precision <= 18) {
        /* the same rules in 64 bits: a product and a compare instead of
         * 128-bit division per digit (most decimals are this narrow) */
        static const uint64_t p10[20] = {
            1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull, 100000000ull,
            1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull, 10000000000000ull,
            100000000000000ull, 1000000000000000ull, 10000000000000000ull, 100000000000000000ull,
            1000000000000000000ull, 10000000000000000000ull,
        };
        uint64_t lim64 = p10[precision < 0 ? 0 : precision], acc64 = 0;
        for (int i = 0; i < ndigits; i++) {
            unsigned d = s_be16(p + 8 + 2 * i);
            if (d > 9999)
                return s_bad(err, col, "numeric digit out of range");
            int x = 4 * (weight - i) + scale;
            unsigned mult = 10000;
            if (x < 0) {
                unsigned r;
                switch (x) {
                case -1: r = d % 10; d /= 10; mult = 1000; break;
                case -2: r = d % 100; d /= 100; mult = 100; break;
                case -3: r = d % 1000; d /= 1000; mult = 10; break;
                default: r = d; d = 0; mult = 0; break; /* x <= -4: the digit must be 0 */
                }
                if (r)
                    goto too_precise;
                if (mult == 0)
                    continue;
            }
            unsigned __int128 t = (unsigned __int128)acc64 * mult + d;
            if (t >= lim64)
                goto too_large;
            acc64 = (uint64_t)t;
            if (i == ndigits - 1 && x > 0) {
                if (x > 38)
                    goto too_large;
                if (x > 19) {
                    if (acc64)
                        goto too_large;
                } else {
                    t = (unsigned __int128)acc64 * p10[x];
                    if (t >= lim64)
                        goto too_large;
                    acc64 = (uint64_t)t;
                }
            }
        }
        *out = sign == 0x4000 ? -(__int128)acc64 : (__int128)acc64;
        return DLD_OK;
    }
    unsigned __int128 lim = s_pow10(precision); /* |unscaled| < 10^precision */
    unsigned __int128 acc = 0;
    for (int i = 0; i < ndigits; i++) {
        unsigned d = s_be16(p + 8 + 2 * i);
        if (d > 9999)
            return s_bad(err, col, "numeric digit out of range");
        int x = 4 * (weight - i) + scale; /* decimal exponent of this digit in the unscaled value */
        unsigned mult = 10000;
        if (x < 0) {
            if (x <= -4) {
                if (d)
                    goto too_precise;
                continue;
            }
            unsigned div = x == -1 ? 10 : x == -2 ? 100 : 1000;
            if (d % div)
                goto too_precise;
            d /= div;
            mult = 10000 / div;
        }
        if (d > lim - 1 || acc > (lim - 1 - d) / mult)
            goto too_large;
        acc = acc * mult + d;
        if (i == ndigits - 1 && x > 0) {
            if (x > 38)
                goto too_large;
            unsigned __int128 m = s_pow10(x);
            if (acc > (lim - 1) / m)
                goto too_large;
            acc *= m;
        }
    }
    *out = sign == 0x4000 ? -(__int128)acc : (__int128)acc;
    return DLD_OK;
too_precise:
    return dld_error_set(err, DLD_ERR_UNSUPPORTED,
                         "postgres: column %s (%s): a value has more than %d fractional digits and would be rounded; "
                         "raise numeric_scale or use unconstrained_numeric=text",
                         col->name, col->type_name, scale);
too_large:
    return dld_error_set(err, DLD_ERR_UNSUPPORTED,
                         "postgres: column %s (%s): a value needs more than %d digits, more than decimal(%d,%d) holds; "
                         "use unconstrained_numeric=text",
                         col->name, col->type_name, precision, precision, scale);
}

static void s_uuid(const uint8_t *p, char out[36])
{
    static const char hex[] = "0123456789abcdef";
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[p[i] >> 4];
        out[o++] = hex[p[i] & 15];
    }
}

static int s_fixed(struct dld_error *err, const struct dld_pg_column *col, int32_t len, int32_t want)
{
    if (len != want)
        return s_bad(err, col, "unexpected binary length");
    return DLD_OK;
}

static int s_field(struct dld_pg_copy *c, size_t i, const uint8_t *p, int32_t len, struct dld_error *err)
{
    const struct dld_pg_column *col = &c->pt->cols[i];
    struct dld_batch_builder *b = c->b;
    int rc;
    switch (col->kind) {
    case DLD_PG_BOOL:
        if ((rc = s_fixed(err, col, len, 1)))
            return rc;
        return dld_batch_append_bool(b, i, p[0] != 0);
    case DLD_PG_INT2:
        if ((rc = s_fixed(err, col, len, 2)))
            return rc;
        return dld_batch_append_int(b, i, (int16_t)s_be16(p));
    case DLD_PG_INT4:
        if ((rc = s_fixed(err, col, len, 4)))
            return rc;
        return dld_batch_append_int(b, i, (int32_t)s_be32(p));
    case DLD_PG_INT8:
        if ((rc = s_fixed(err, col, len, 8)))
            return rc;
        return dld_batch_append_int(b, i, (int64_t)s_be64(p));
    case DLD_PG_FLOAT4: {
        if ((rc = s_fixed(err, col, len, 4)))
            return rc;
        uint32_t u = s_be32(p);
        float f;
        memcpy(&f, &u, sizeof f);
        return dld_batch_append_double(b, i, f);
    }
    case DLD_PG_FLOAT8: {
        if ((rc = s_fixed(err, col, len, 8)))
            return rc;
        uint64_t u = s_be64(p);
        double d;
        memcpy(&d, &u, sizeof d);
        return dld_batch_append_double(b, i, d);
    }
    case DLD_PG_NUMERIC: {
        __int128 v = 0;
        if ((rc = s_numeric(p, len, col, &v, err)))
            return rc;
        return dld_batch_append_decimal(b, i, v);
    }
    case DLD_PG_TEXT:
        return dld_batch_append_bytes(b, i, p, (size_t)len);
    case DLD_PG_JSONB:
        if (len < 1 || p[0] != 1)
            return s_bad(err, col, "unknown jsonb version");
        return dld_batch_append_bytes(b, i, p + 1, (size_t)len - 1);
    case DLD_PG_BYTEA:
        return dld_batch_append_bytes(b, i, p, (size_t)len);
    case DLD_PG_UUID: {
        if ((rc = s_fixed(err, col, len, 16)))
            return rc;
        char s[36];
        s_uuid(p, s);
        return dld_batch_append_bytes(b, i, s, sizeof s);
    }
    case DLD_PG_DATE: {
        if ((rc = s_fixed(err, col, len, 4)))
            return rc;
        int32_t d = (int32_t)s_be32(p);
        if (d == INT32_MAX || d == INT32_MIN || d > INT32_MAX - PG_EPOCH_DAYS) {
            c->nulled[i]++; /* +-infinity */
            return dld_batch_append_null(b, i);
        }
        return dld_batch_append_int(b, i, (int64_t)d + PG_EPOCH_DAYS);
    }
    case DLD_PG_TIME:
        if ((rc = s_fixed(err, col, len, 8)))
            return rc;
        return dld_batch_append_int(b, i, (int64_t)s_be64(p));
    case DLD_PG_TIMESTAMP: {
        if ((rc = s_fixed(err, col, len, 8)))
            return rc;
        int64_t us = (int64_t)s_be64(p), v;
        /* +-infinity, or a year near 294276 that overflows the epoch shift */
        if (us == INT64_MAX || us == INT64_MIN || __builtin_add_overflow(us, PG_EPOCH_US, &v)) {
            c->nulled[i]++;
            return dld_batch_append_null(b, i);
        }
        return dld_batch_append_int(b, i, v);
    }
    default:
        return s_bad(err, col, "no decoder for this column");
    }
}

/* Length of the complete tuple starting at p (count already checked), or 0
 * if it continues past end. */
static size_t s_tuple_len(const uint8_t *p, const uint8_t *end, size_t ncols)
{
    const uint8_t *q = p + 2;
    for (size_t i = 0; i < ncols; i++) {
        if (end - q < 4)
            return 0;
        int32_t len = (int32_t)s_be32(q);
        q += 4;
        if (len > 0) {
            if (end - q < len)
                return 0;
            q += len;
        }
    }
    return (size_t)(q - p);
}

/* Decodes what it can from [p, end); returns bytes consumed in *used. */
static int s_parse(struct dld_pg_copy *c, const uint8_t *p, const uint8_t *end, size_t *used, struct dld_error *err)
{
    const uint8_t *start = p;
    size_t ncols = c->pt->ncols;
    int rc = DLD_OK;
    if (!c->header_done) {
        if (end - p < 19)
            goto out;
        if (memcmp(p, s_signature, sizeof s_signature))
            return s_bad(err, NULL, "not a binary COPY stream (bad signature)");
        uint32_t flags = s_be32(p + 11);
        if (flags & 0xffff0000u & ~(1u << 16))
            return s_bad(err, NULL, "binary COPY header has unknown critical flags");
        if (flags & (1u << 16))
            return s_bad(err, NULL, "binary COPY stream includes OIDs");
        uint32_t ext = s_be32(p + 15);
        if ((size_t)(end - p) < 19 + (size_t)ext)
            goto out;
        p += 19 + ext;
        c->header_done = true;
    }
    while (!c->done && end - p >= 2) {
        int16_t count = (int16_t)s_be16(p);
        if (count == -1) {
            p += 2;
            c->done = true;
            break;
        }
        if (count < 0 || (size_t)count != ncols)
            return s_bad(err, NULL, "tuple field count differs from the table's columns");
        size_t tl = s_tuple_len(p, end, ncols);
        if (!tl)
            break;
        const uint8_t *q = p + 2;
        for (size_t i = 0; i < ncols; i++) {
            int32_t len = (int32_t)s_be32(q);
            q += 4;
            if (len < 0) {
                if (len != -1)
                    return s_bad(err, &c->pt->cols[i], "negative field length");
                rc = dld_batch_append_null(c->b, i);
            } else {
                rc = s_field(c, i, q, len, err);
                q += len;
            }
            if (rc) {
                if (!err->message[0])
                    dld_error_set(err, rc, "postgres: column %s: cannot append a value", c->pt->cols[i].name);
                return rc;
            }
        }
        if ((rc = dld_batch_end_row(c->b)))
            return dld_error_set(err, rc, "postgres: a row could not be completed");
        p += tl;
    }
out:
    *used = (size_t)(p - start);
    return DLD_OK;
}

static int s_keep(struct dld_pg_copy *c, const char *data, size_t len)
{
    if (c->carry_len + len > c->carry_cap) {
        size_t cap = c->carry_cap ? c->carry_cap : 4096;
        while (cap < c->carry_len + len)
            cap *= 2;
        char *n = realloc(c->carry, cap);
        if (!n)
            return -1;
        c->carry = n;
        c->carry_cap = cap;
    }
    memmove(c->carry + c->carry_len, data, len);
    c->carry_len += len;
    return 0;
}

int dld_pg_copy_feed(struct dld_pg_copy *c, const char *data, size_t len, struct dld_error *err)
{
    if (c->done) {
        if (len)
            return s_bad(err, NULL, "data after the binary COPY trailer");
        return DLD_DONE;
    }
    const char *buf = data;
    size_t n = len;
    if (c->carry_len) {
        if (s_keep(c, data, len))
            return dld_error_set(err, DLD_ERR_FATAL, "postgres: out of memory");
        buf = c->carry;
        n = c->carry_len;
    }
    size_t used = 0;
    int rc = s_parse(c, (const uint8_t *)buf, (const uint8_t *)buf + n, &used, err);
    if (rc)
        return rc;
    if (buf == c->carry) {
        memmove(c->carry, c->carry + used, n - used);
        c->carry_len = n - used;
    } else if (used < n && s_keep(c, buf + used, n - used)) {
        return dld_error_set(err, DLD_ERR_FATAL, "postgres: out of memory");
    }
    if (c->done && c->carry_len)
        return s_bad(err, NULL, "data after the binary COPY trailer");
    return c->done ? DLD_DONE : DLD_OK;
}

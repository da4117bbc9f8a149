/* Arrow type → Parquet column. The choices follow LogicalTypes.md:
 * decimals use the smallest physical type their precision fits (INT32 up
 * to 9 digits, INT64 up to 18, else the fewest bytes of a big-endian
 * FIXED_LEN_BYTE_ARRAY), Parquet has no seconds unit so seconds become
 * milliseconds, and the legacy ConvertedType is written next to the
 * LogicalType wherever one exists, local timestamps and times included,
 * as the spec asks for the sake of older readers. */
#include "schema.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <deltaload/sdk.h>

/* ConvertedType values */
enum {
    S_CT_UTF8 = 0, S_CT_DECIMAL = 5, S_CT_DATE = 6, S_CT_TIME_MILLIS = 7, S_CT_TIME_MICROS = 8,
    S_CT_TIMESTAMP_MILLIS = 9, S_CT_TIMESTAMP_MICROS = 10, S_CT_UINT_8 = 11, S_CT_INT_8 = 15,
};

static void s_integer(struct dld_pq_coldesc *d, enum dld_pq_src src, int bits, bool is_signed)
{
    d->src = src;
    d->phys = bits == 64 ? DLD_PQ_INT64 : DLD_PQ_INT32;
    d->logical = DLD_PQ_LT_INTEGER;
    d->bit_width = bits;
    d->is_signed = is_signed;
    d->unsigned_order = !is_signed;
    int log2 = bits == 8 ? 0 : bits == 16 ? 1 : bits == 32 ? 2 : 3;
    d->converted = (is_signed ? S_CT_INT_8 : S_CT_UINT_8) + log2;
}

/* the smallest n with 10^p - 1 < 2^(8n-1) */
static int32_t s_decimal_bytes(__int128 limit)
{
    for (int32_t n = 1; n < 16; n++)
        if (limit < ((__int128)1 << (8 * n - 1)))
            return n;
    return 16;
}

/* formats handled here because dld_arrow_column_spec has no type for
 * them: unsigned integers and 64-bit-offset strings/binaries */
static bool s_extra(const struct ArrowSchema *child, struct dld_pq_coldesc *d)
{
    const char *f = child->format;
    if (!f || !f[0] || f[1])
        return false;
    switch (f[0]) {
    case 'C': s_integer(d, DLD_PQ_SRC_U8, 8, false); return true;
    case 'S': s_integer(d, DLD_PQ_SRC_U16, 16, false); return true;
    case 'I': s_integer(d, DLD_PQ_SRC_U32, 32, false); return true;
    case 'L': s_integer(d, DLD_PQ_SRC_U64, 64, false); return true;
    case 'U':
        d->src = DLD_PQ_SRC_BIN64;
        d->phys = DLD_PQ_BYTE_ARRAY;
        d->logical = DLD_PQ_LT_STRING;
        d->converted = S_CT_UTF8;
        return true;
    case 'Z':
        d->src = DLD_PQ_SRC_BIN64;
        d->phys = DLD_PQ_BYTE_ARRAY;
        return true;
    default: return false;
    }
}

/* ts_unit: 0 keeps the source unit (seconds become ms), 1 writes ms, 2 us
 * (Iceberg's unit). Finer units are floor-divided, coarser multiplied (a
 * value that overflows is refused by the value conversion). */
static void s_timestamp(struct dld_pq_coldesc *d, const struct dld_column_spec *spec, int ts_unit)
{
    d->src = DLD_PQ_SRC_I64;
    d->phys = DLD_PQ_INT64;
    d->logical = DLD_PQ_LT_TIMESTAMP;
    d->utc = spec->tz != NULL && spec->tz[0] != '\0';
    int src; /* 0 s, 1 ms, 2 us, 3 ns */
    switch (spec->unit) {
    case DLD_UNIT_SECOND: src = 0; break;
    case DLD_UNIT_MILLI: src = 1; break;
    case DLD_UNIT_MICRO: src = 2; break;
    default: src = 3; break;
    }
    int to = ts_unit == 0 ? (src == 0 ? 1 : src) : ts_unit;
    static const int64_t pow1000[] = {1, 1000, 1000000, 1000000000};
    if (to > src)
        d->mul = pow1000[to - src];
    else if (to < src)
        d->div = pow1000[src - to];
    d->unit = to;
    d->converted = d->unit == 1 ? S_CT_TIMESTAMP_MILLIS : d->unit == 2 ? S_CT_TIMESTAMP_MICROS : -1;
}

/* The Arrow field metadata value of "PARQUET:field_id" (pyarrow's key for
 * Parquet field ids), or -1. The metadata is int32 n, then n times int32
 * key length, key, int32 value length, value (native byte order). */
static int32_t s_field_id(const struct ArrowSchema *child)
{
    const char *p = child->metadata;
    if (p == NULL)
        return -1;
    int32_t n, kl, vl;
    memcpy(&n, p, 4);
    p += 4;
    for (int32_t i = 0; i < n; i++) {
        memcpy(&kl, p, 4);
        p += 4;
        const char *key = p;
        p += kl;
        memcpy(&vl, p, 4);
        p += 4;
        if (kl == 16 && memcmp(key, "PARQUET:field_id", 16) == 0 && vl > 0 && vl < 12) {
            char buf[12];
            memcpy(buf, p, (size_t)vl);
            buf[vl] = '\0';
            char *end;
            long v = strtol(buf, &end, 10);
            return *end == '\0' && v >= 0 && v <= INT32_MAX ? (int32_t)v : -1;
        }
        p += vl;
    }
    return -1;
}

int dld_pq_coldesc_from_arrow(const struct ArrowSchema *child, int ts_unit, struct dld_pq_coldesc *d,
                              struct dld_error *err)
{
    memset(d, 0, sizeof(*d));
    d->converted = -1;
    d->field_id = s_field_id(child);
    d->name = child->name ? child->name : "";
    d->nullable = (child->flags & ARROW_FLAG_NULLABLE) != 0;
    if (child->n_children != 0 || child->dictionary != NULL)
        return dld_error_set(err, DLD_ERR_UNSUPPORTED, "column %s: nested and dictionary Arrow columns are not supported by the Parquet writer", d->name);
    if (s_extra(child, d))
        return DLD_OK;

    struct dld_column_spec spec;
    int rc = dld_arrow_column_spec(child, &spec, err);
    if (rc != DLD_OK)
        return rc;
    switch (spec.type) {
    case DLD_T_BOOL:
        d->src = DLD_PQ_SRC_BOOL;
        d->phys = DLD_PQ_BOOLEAN;
        break;
    case DLD_T_INT8: s_integer(d, DLD_PQ_SRC_I8, 8, true); break;
    case DLD_T_INT16: s_integer(d, DLD_PQ_SRC_I16, 16, true); break;
    case DLD_T_INT32: s_integer(d, DLD_PQ_SRC_I32, 32, true); break;
    case DLD_T_INT64: s_integer(d, DLD_PQ_SRC_I64, 64, true); break;
    case DLD_T_FLOAT32:
        d->src = DLD_PQ_SRC_F32;
        d->phys = DLD_PQ_FLOAT;
        break;
    case DLD_T_FLOAT64:
        d->src = DLD_PQ_SRC_F64;
        d->phys = DLD_PQ_DOUBLE;
        break;
    case DLD_T_STRING:
    case DLD_T_BINARY:
        d->src = DLD_PQ_SRC_BIN32;
        d->phys = DLD_PQ_BYTE_ARRAY;
        if (spec.type == DLD_T_STRING) {
            d->logical = DLD_PQ_LT_STRING;
            d->converted = S_CT_UTF8;
        }
        break;
    case DLD_T_DECIMAL128: {
        d->src = DLD_PQ_SRC_DEC128;
        d->logical = DLD_PQ_LT_DECIMAL;
        d->converted = S_CT_DECIMAL;
        d->precision = spec.precision;
        d->scale = spec.scale;
        __int128 limit = 1;
        for (int i = 0; i < spec.precision; i++)
            limit *= 10;
        d->dec_limit = limit - 1;
        if (spec.precision <= 9) {
            d->phys = DLD_PQ_INT32;
        } else if (spec.precision <= 18) {
            d->phys = DLD_PQ_INT64;
        } else {
            d->phys = DLD_PQ_FLBA;
            d->type_length = s_decimal_bytes(d->dec_limit);
        }
        break;
    }
    case DLD_T_DATE32:
        d->src = DLD_PQ_SRC_I32;
        d->phys = DLD_PQ_INT32;
        d->logical = DLD_PQ_LT_DATE;
        d->converted = S_CT_DATE;
        break;
    case DLD_T_TIMESTAMP:
        s_timestamp(d, &spec, ts_unit);
        break;
    case DLD_T_TIME32:
        /* seconds or milliseconds since midnight; Parquet's smallest unit is ms */
        d->src = DLD_PQ_SRC_I32;
        d->phys = DLD_PQ_INT32;
        d->logical = DLD_PQ_LT_TIME;
        d->unit = 1;
        d->mul = spec.unit == DLD_UNIT_SECOND ? 1000 : 1;
        d->converted = S_CT_TIME_MILLIS;
        break;
    case DLD_T_TIME64:
        d->src = DLD_PQ_SRC_I64;
        d->phys = DLD_PQ_INT64;
        d->logical = DLD_PQ_LT_TIME;
        d->unit = spec.unit == DLD_UNIT_MICRO ? 2 : 3;
        d->converted = d->unit == 2 ? S_CT_TIME_MICROS : -1;
        break;
    default:
        return dld_error_set(err, DLD_ERR_UNSUPPORTED, "column %s: type %u is not supported by the Parquet writer",
                             d->name, (unsigned)spec.type);
    }
    return DLD_OK;
}

static void s_time_unit(struct dld_pq_thrift *t, int unit)
{
    dld_pq_thrift_struct_begin(t, 2); /* unit: TimeUnit union */
    dld_pq_thrift_struct_begin(t, (int16_t)unit);
    dld_pq_thrift_struct_end(t);
    dld_pq_thrift_struct_end(t);
}

static void s_logical(struct dld_pq_thrift *t, const struct dld_pq_coldesc *d)
{
    dld_pq_thrift_struct_begin(t, 10); /* SchemaElement.logicalType */
    dld_pq_thrift_struct_begin(t, (int16_t)d->logical);
    switch (d->logical) {
    case DLD_PQ_LT_DECIMAL:
        dld_pq_thrift_i32(t, 1, d->scale);
        dld_pq_thrift_i32(t, 2, d->precision);
        break;
    case DLD_PQ_LT_TIME:
    case DLD_PQ_LT_TIMESTAMP:
        dld_pq_thrift_bool(t, 1, d->utc);
        s_time_unit(t, d->unit);
        break;
    case DLD_PQ_LT_INTEGER:
        dld_pq_thrift_byte(t, 1, (int8_t)d->bit_width);
        dld_pq_thrift_bool(t, 2, d->is_signed);
        break;
    default: /* STRING, DATE: empty structs */
        break;
    }
    dld_pq_thrift_struct_end(t);
    dld_pq_thrift_struct_end(t);
}

void dld_pq_schema_element(struct dld_pq_thrift *t, const struct dld_pq_coldesc *d)
{
    dld_pq_thrift_elem_struct_begin(t);
    dld_pq_thrift_i32(t, 1, d->phys);
    if (d->phys == DLD_PQ_FLBA)
        dld_pq_thrift_i32(t, 2, d->type_length);
    dld_pq_thrift_i32(t, 3, d->nullable ? 1 : 0); /* OPTIONAL : REQUIRED */
    dld_pq_thrift_string(t, 4, d->name);
    if (d->converted >= 0)
        dld_pq_thrift_i32(t, 6, d->converted);
    if (d->logical == DLD_PQ_LT_DECIMAL) {
        dld_pq_thrift_i32(t, 7, d->scale);
        dld_pq_thrift_i32(t, 8, d->precision);
    }
    if (d->field_id >= 0)
        dld_pq_thrift_i32(t, 9, d->field_id);
    if (d->logical != DLD_PQ_LT_NONE)
        s_logical(t, d);
    dld_pq_thrift_struct_end(t);
}

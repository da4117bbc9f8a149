/*
 * PostgreSQL type → Arrow type. The table in docs/postgres.md is this
 * function in prose; keep them together.
 *
 * Types PostgreSQL can send in a binary form we decode ourselves are read
 * in binary (no text parsing on either side). Everything else is cast to
 * text in the SELECT list, so an unknown type can never crash the decoder:
 * it arrives as the server's own text output.
 */
#include <string.h>

#include "pg_internal.h"

/* Built-in type OIDs (fixed in pg_type.dat since PostgreSQL 7). */
enum {
    PG_BOOLOID = 16,
    PG_BYTEAOID = 17,
    PG_NAMEOID = 19,
    PG_INT8OID = 20,
    PG_INT2OID = 21,
    PG_INT4OID = 23,
    PG_TEXTOID = 25,
    PG_JSONOID = 114,
    PG_FLOAT4OID = 700,
    PG_FLOAT8OID = 701,
    PG_BPCHAROID = 1042,
    PG_VARCHAROID = 1043,
    PG_DATEOID = 1082,
    PG_TIMEOID = 1083,
    PG_TIMESTAMPOID = 1114,
    PG_TIMESTAMPTZOID = 1184,
    PG_INTERVALOID = 1186,
    PG_NUMERICOID = 1700,
    PG_UUIDOID = 2950,
    PG_JSONBOID = 3802,
};

#define DLD_DECIMAL_MAX_PRECISION 38

static void s_set(struct dld_pg_column *c, uint32_t kind, uint32_t sel, uint32_t type)
{
    c->kind = kind;
    c->select = sel;
    c->spec.type = type;
}

/* numeric(p,s) typmod: ((p << 16) | (s & 0x7ff)) + 4; since PostgreSQL 15
 * the scale is an 11-bit signed value and may be negative or exceed p. */
static void s_numeric(const struct dld_pg_settings *st, struct dld_pg_column *c)
{
    if (c->typmod < 4) {
        if (st->unconstrained_text) {
            s_set(c, DLD_PG_TEXT, DLD_PG_SEL_TEXT, DLD_T_STRING);
            return;
        }
        s_set(c, DLD_PG_NUMERIC, DLD_PG_SEL_PLAIN, DLD_T_DECIMAL128);
        c->spec.precision = DLD_DECIMAL_MAX_PRECISION;
        c->spec.scale = st->numeric_scale;
        return;
    }
    int32_t t = c->typmod - 4;
    int32_t p = (t >> 16) & 0xffff;
    int32_t s = ((t & 0x7ff) ^ 1024) - 1024;
    int32_t ap = p, as = s;
    if (s < 0) {
        ap = p - s; /* numeric(2,-3) holds up to 99000: five integer digits */
        as = 0;
    } else if (s > p) {
        ap = s; /* numeric(3,5) holds up to 0.00999 */
    }
    if (ap > DLD_DECIMAL_MAX_PRECISION) {
        /* exact decimal text rather than a rounded or failing decimal128 */
        s_set(c, DLD_PG_TEXT, DLD_PG_SEL_TEXT, DLD_T_STRING);
        return;
    }
    s_set(c, DLD_PG_NUMERIC, DLD_PG_SEL_PLAIN, DLD_T_DECIMAL128);
    c->spec.precision = ap;
    c->spec.scale = as;
}

bool dld_pg_map_type(const struct dld_pg_settings *st, struct dld_pg_column *c, char typtype, char typcategory)
{
    memset(&c->spec, 0, sizeof c->spec);
    c->spec.name = c->name;
    c->spec.nullable = !c->not_null;
    bool known = true;

    if (typcategory == 'A') {
        s_set(c, DLD_PG_TEXT, DLD_PG_SEL_JSON, DLD_T_STRING);
    } else if (typtype == 'e') {
        /* an enum's binary form is its label */
        s_set(c, DLD_PG_TEXT, DLD_PG_SEL_PLAIN, DLD_T_STRING);
    } else {
        switch (c->type_oid) {
        case PG_BOOLOID: s_set(c, DLD_PG_BOOL, DLD_PG_SEL_PLAIN, DLD_T_BOOL); break;
        case PG_INT2OID: s_set(c, DLD_PG_INT2, DLD_PG_SEL_PLAIN, DLD_T_INT16); break;
        case PG_INT4OID: s_set(c, DLD_PG_INT4, DLD_PG_SEL_PLAIN, DLD_T_INT32); break;
        case PG_INT8OID: s_set(c, DLD_PG_INT8, DLD_PG_SEL_PLAIN, DLD_T_INT64); break;
        case PG_FLOAT4OID: s_set(c, DLD_PG_FLOAT4, DLD_PG_SEL_PLAIN, DLD_T_FLOAT32); break;
        case PG_FLOAT8OID: s_set(c, DLD_PG_FLOAT8, DLD_PG_SEL_PLAIN, DLD_T_FLOAT64); break;
        case PG_NUMERICOID: s_numeric(st, c); break;
        case PG_TEXTOID:
        case PG_VARCHAROID:
        case PG_BPCHAROID:
        case PG_NAMEOID:
        case PG_JSONOID: s_set(c, DLD_PG_TEXT, DLD_PG_SEL_PLAIN, DLD_T_STRING); break;
        case PG_JSONBOID: s_set(c, DLD_PG_JSONB, DLD_PG_SEL_PLAIN, DLD_T_STRING); break;
        case PG_BYTEAOID: s_set(c, DLD_PG_BYTEA, DLD_PG_SEL_PLAIN, DLD_T_BINARY); break;
        case PG_UUIDOID: s_set(c, DLD_PG_UUID, DLD_PG_SEL_PLAIN, DLD_T_STRING); break;
        case PG_DATEOID: s_set(c, DLD_PG_DATE, DLD_PG_SEL_PLAIN, DLD_T_DATE32); break;
        case PG_TIMEOID:
            s_set(c, DLD_PG_TIME, DLD_PG_SEL_PLAIN, DLD_T_TIME64);
            c->spec.unit = DLD_UNIT_MICRO;
            break;
        case PG_TIMESTAMPOID:
        case PG_TIMESTAMPTZOID:
            s_set(c, DLD_PG_TIMESTAMP, DLD_PG_SEL_PLAIN, DLD_T_TIMESTAMP);
            c->spec.unit = DLD_UNIT_MICRO;
            c->spec.tz = c->type_oid == PG_TIMESTAMPTZOID ? "UTC" : NULL;
            break;
        case PG_INTERVALOID:
            /* Arrow's interval types have no Parquet counterpart every
             * reader agrees on; ISO 8601 text (IntervalStyle iso_8601) is exact */
            s_set(c, DLD_PG_TEXT, DLD_PG_SEL_TEXT, DLD_T_STRING);
            break;
        default:
            s_set(c, DLD_PG_TEXT, DLD_PG_SEL_TEXT, DLD_T_STRING);
            known = false;
            break;
        }
    }
    /* +-infinity dates and timestamps have no Arrow value and load as NULL */
    if (c->kind == DLD_PG_DATE || c->kind == DLD_PG_TIMESTAMP)
        c->spec.nullable = true;
    return known;
}

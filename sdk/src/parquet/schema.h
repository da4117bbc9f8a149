/* Internal: how one Arrow column becomes one Parquet column (physical
 * type, logical and legacy converted type, value conversion), and the
 * footer's SchemaElement for it. */
#ifndef DLD_PQ_SCHEMA_H
#define DLD_PQ_SCHEMA_H

#include <stdbool.h>
#include <stdint.h>

#include <deltaload/abi.h>
#include <deltaload/arrow_c.h>

#include "thrift.h"

/* Parquet physical types (parquet.thrift Type) */
enum dld_pq_phys {
    DLD_PQ_BOOLEAN = 0,
    DLD_PQ_INT32 = 1,
    DLD_PQ_INT64 = 2,
    DLD_PQ_FLOAT = 4,
    DLD_PQ_DOUBLE = 5,
    DLD_PQ_BYTE_ARRAY = 6,
    DLD_PQ_FLBA = 7,
};

/* the Arrow layout values are read from */
enum dld_pq_src {
    DLD_PQ_SRC_BOOL,
    DLD_PQ_SRC_I8, DLD_PQ_SRC_U8, DLD_PQ_SRC_I16, DLD_PQ_SRC_U16,
    DLD_PQ_SRC_I32, DLD_PQ_SRC_U32, DLD_PQ_SRC_I64, DLD_PQ_SRC_U64,
    DLD_PQ_SRC_F32, DLD_PQ_SRC_F64,
    DLD_PQ_SRC_BIN32, DLD_PQ_SRC_BIN64, /* int32 / int64 offsets */
    DLD_PQ_SRC_DEC128,
};

/* LogicalType union members we write (parquet.thrift field ids) */
enum dld_pq_logical {
    DLD_PQ_LT_NONE = 0,
    DLD_PQ_LT_STRING = 1,
    DLD_PQ_LT_DECIMAL = 5,
    DLD_PQ_LT_DATE = 6,
    DLD_PQ_LT_TIME = 7,
    DLD_PQ_LT_TIMESTAMP = 8,
    DLD_PQ_LT_INTEGER = 10,
};

struct dld_pq_coldesc {
    const char *name;         /* borrowed from the schema */
    enum dld_pq_phys phys;
    int32_t type_length;      /* FIXED_LEN_BYTE_ARRAY only */
    bool nullable;
    bool unsigned_order;      /* statistics compare as unsigned */
    enum dld_pq_src src;
    int64_t mul;              /* > 1: values are multiplied (seconds → ms) */
    int64_t div;              /* > 1: values are floor-divided (us/ns → ms) */
    enum dld_pq_logical logical;
    int converted;            /* ConvertedType, -1 for none */
    int32_t precision, scale; /* decimal */
    __int128 dec_limit;       /* decimal: 10^precision - 1 */
    int bit_width;            /* integer */
    bool is_signed;           /* integer */
    bool utc;                 /* time/timestamp isAdjustedToUTC */
    int unit;                 /* TimeUnit member: 1 MILLIS, 2 MICROS, 3 NANOS */
    int32_t field_id;         /* SchemaElement.field_id (Iceberg), -1: none */
};

/* Fills d from one child of the batch schema. ts_unit: the writer's
 * timestamp_unit option (0 native, 1 ms, 2 us). An Arrow field metadata
 * key "PARQUET:field_id" (as pyarrow writes it) becomes the column's
 * field_id. DLD_ERR_UNSUPPORTED names the column. */
int dld_pq_coldesc_from_arrow(const struct ArrowSchema *child, int ts_unit, struct dld_pq_coldesc *d,
                              struct dld_error *err);

/* one SchemaElement (a list element of FileMetaData.schema) */
void dld_pq_schema_element(struct dld_pq_thrift *t, const struct dld_pq_coldesc *d);

#endif

/* Internal: Iceberg partition transforms for the item attribute
 * "partition_by" (iceberg_partition.c; docs/iceberg.md, "Partitioning").
 *
 * What is here: parsing "partition_by" ("day(updated_at)", "bucket(16, id)",
 * identity/year/month/hour, one string or an array of them), checking it
 * against a load's Arrow schema, the transforms computed per row exactly as
 * the Iceberg spec defines them (bucket = murmur3_x86_32 of the value's
 * single-value hash serialization, masked and taken mod N; year/month/day/
 * hour = whole units since 1970-01-01 00:00 UTC, floored), the partition
 * path segment of a value ("updated_at_day=2026-11-30") and the spec's
 * JSON ("partition-specs" entry).
 *
 * The lake layer (lake_partition.c) routes each row to its partition's data file
 * with these; the manifests' partition record is iceberg_avro.c's.
 */
#ifndef DLD_ICEBERG_PARTITION_H
#define DLD_ICEBERG_PARTITION_H

#include <stddef.h>
#include <stdint.h>

#include <deltaload/arrow_c.h>
#include <deltaload/sdk.h>

enum dld_ice_transform {
    DLD_ICE_IDENTITY,
    DLD_ICE_BUCKET,
    DLD_ICE_YEAR,
    DLD_ICE_MONTH,
    DLD_ICE_DAY,
    DLD_ICE_HOUR,
};

struct dld_ice_partition_field {
    char *source;                  /* the source column's name */
    enum dld_ice_transform transform;
    int32_t n;                     /* bucket: the number of buckets */
    char *name;                    /* the partition field's name: "id_bucket", "updated_at_day", the column for identity */
};

/* The item's "partition_by": a transform or an array of them. *fields NULL
 * and *n 0 when the item has none. DLD_ERR_CONFIG naming the text when
 * malformed or when two fields have the same name. */
int dld_ice_partition_parse(const char *item_json, struct dld_ice_partition_field **fields, int *n,
                            struct dld_error *err);
void dld_ice_partition_free(struct dld_ice_partition_field *fields, int n);

/* Every field's source is a column of the schema (a struct) whose Arrow
 * type the transform accepts; *columns[i]: the column index of field i
 * (malloc'ed). DLD_ERR_CONFIG naming the column otherwise. */
int dld_ice_partition_check(const struct dld_ice_partition_field *fields, int n, const struct ArrowSchema *schema,
                            int **columns, struct dld_error *err);

/* A partition value of one row: null, or the transform's result (an int
 * for bucket/year/month/day/hour; identity keeps the source value: an
 * integer, or bytes borrowed from the batch for strings and binary). */
struct dld_ice_pvalue {
    int is_null;
    int64_t i;
    const unsigned char *bytes;
    size_t len;
};

/* The value of field f for row `row` of column array `col` (of Arrow type
 * `type`; the array's offset is honoured). f and type passed
 * dld_ice_partition_check. */
int dld_ice_partition_value(const struct dld_ice_partition_field *f, const struct ArrowSchema *type,
                            const struct ArrowArray *col, int64_t row, struct dld_ice_pvalue *out,
                            struct dld_error *err);

/* "name=value" as Iceberg names partition directories (the value's human
 * string: 2026-11-30 for day, 2026-11 for month, 2026-11-30-10 for hour,
 * the number for bucket and identity of an integer, "null"; field name and value
 * URL-encoded), malloc'ed. `type`: the source column's Arrow type. */
char *dld_ice_partition_path(const struct dld_ice_partition_field *f, const struct ArrowSchema *type,
                             const struct dld_ice_pvalue *v);

/* The spec's JSON {"spec-id": spec_id, "fields": [{"name", "transform",
 * "source-id", "field-id": 1000 + i}]}, malloc'ed. source_ids[i]: the
 * Iceberg field id of field i's source column. */
char *dld_ice_partition_spec_json(const struct dld_ice_partition_field *fields, int n, const int32_t *source_ids,
                                  int spec_id);

/* ---- the spec's functions (Iceberg spec, "Appendix B: 32-bit Hash Requirements") ------------ */
uint32_t dld_ice_murmur3_32(const void *data, size_t len, uint32_t seed);
/* hash of int, long, date, time, timestamp (micros): the 8 little-endian bytes of the long */
int32_t dld_ice_hash_long(int64_t v);
/* hash of a decimal: its unscaled value, minimal big-endian two's complement bytes */
int32_t dld_ice_hash_decimal(const unsigned char *le16);
/* (hash & Integer.MAX_VALUE) % n */
int32_t dld_ice_bucket(int32_t hash, int32_t n);
/* floor division of a time value into whole days/hours since the epoch */
int64_t dld_ice_floor_div(int64_t a, int64_t b);
/* months since 1970-01 of a day number since 1970-01-01 */
int32_t dld_ice_months_from_days(int64_t days);

#endif

/* Internal: column statistics of Iceberg data files (iceberg_stats.c),
 * from the Parquet writer's statistics, in Iceberg's single-value
 * serialization, and their round trip through deltaload's manifest (for a
 * roll-forward, whose manifest must have the same bytes). */
#ifndef DLD_ICEBERG_STATS_H
#define DLD_ICEBERG_STATS_H

#include <cjson/cJSON.h>
#include <deltaload/format.h>
#include <deltaload/iceberg.h>

/* The statistics of a finished Parquet file written from schema (its
 * columns' field ids in ids). Columns without bounds Iceberg can state
 * keep their counts only. */
int dld_ice_file_stats(const struct dld_format_writer *w, const struct ArrowSchema *schema, const int32_t *ids,
                       struct dld_iceberg_file_stats *out, struct dld_error *err);
void dld_ice_file_stats_clean_up(struct dld_iceberg_file_stats *s);

/* [[{"id":1,"values":n,"nulls":n,"lower":"<hex>","upper":"<hex>"}, ...] per file] */
cJSON *dld_ice_file_stats_json(const struct dld_iceberg_file_stats *v, int n);
/* back from that JSON: *out has n entries (malloc'ed; free with dld_ice_file_stats_free) */
int dld_ice_file_stats_parse(const cJSON *json, int n, struct dld_iceberg_file_stats **out);
void dld_ice_file_stats_free(struct dld_iceberg_file_stats *v, int n);

#endif

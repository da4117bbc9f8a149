/* source-sqlite: declared column types → Arrow columns, and value conversion. */
#ifndef DLD_SOURCE_SQLITE_TYPES_H
#define DLD_SOURCE_SQLITE_TYPES_H

#include <sqlite3.h>

#include <deltaload/sdk.h>

/* Maps a declared type (sqlite3_column_decltype, may be NULL) to a column spec. */
void dld_sqlite_map_decltype(const char *decltype, struct dld_column_spec *spec);

/* Appends column `i` of the current row of `stmt` to builder column `col`. */
int dld_sqlite_append(struct dld_batch_builder *b, size_t col, const struct dld_column_spec *spec, sqlite3_stmt *stmt,
                      int i, struct dld_error *err);

/* "2024-01-02 03:04:05.123456" (T or space, optional Z or ±HH:MM) → µs since the epoch (UTC). */
int dld_sqlite_parse_timestamp(const char *s, int64_t *us);
/* "2024-01-02" → days since the epoch */
int dld_sqlite_parse_date(const char *s, int32_t *days);

#endif

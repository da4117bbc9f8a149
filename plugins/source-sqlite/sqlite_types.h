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

/* The form of a time text: its digits before the zone as '9', the zone
 * ("Z", "+02:00") as written: "2026-01-01T10:00+02:00" → "9999-99-99T99:99+02:00".
 * Two texts of one form order as text the way their instants order.
 * Returns 0, or -1 when s is not a timestamp dld_sqlite_parse_timestamp reads. */
int dld_sqlite_time_form(const char *s, char *out, size_t cap);
/* Writes the instant `us` (µs since the epoch, UTC) in a form made by
 * dld_sqlite_time_form, rounded down to the form's precision, at the form's
 * offset. Returns 0, or -1 if it does not fit. */
int dld_sqlite_time_render(const char *form, int64_t us, char *out, size_t cap);

#endif

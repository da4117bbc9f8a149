/*
 * A controller item as plugins see it: one table to load and how.
 * Attribute names follow the AWS pattern deltaload replaces, so existing
 * DynamoDB controller items work unchanged (including its `ouputs3Prefix`
 * typo; `outputPrefix` is accepted too).
 *
 * Ownership: every pointer is borrowed from the host for the call only.
 * Identifiers (source_schema, source_table, filter_column) have passed
 * dld_ident_check() but are NOT quoted: each source quotes them by its own
 * database's rules. Values (start_value, end_value, window bounds) must be
 * bound as parameters, never spliced into SQL.
 */
#ifndef DELTALOAD_TABLE_H
#define DELTALOAD_TABLE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dld_table {
    uint32_t struct_size;
    const char *target_table_name;  /* targetTableName: the item's key */
    const char *source_schema;      /* sourceSchema (may be "" for SQLite's main) */
    const char *source_table;       /* sourceTable */
    const char *filter_column;      /* filtercolumn, NULL: no filter column */
    const char *filter_operator;    /* filteroperator, canonical lower case, NULL when no filter;
                                     * "commit" (no filter_column, DLD_MODE_DELTA): windows over the
                                     * source's commit clock; a source without one refuses it by name */
    const char *start_value;        /* startvalue as stored, may be NULL */
    const char *end_value;          /* endvalue as stored, may be NULL */
    const char *output_prefix;      /* ouputs3Prefix / outputPrefix, may be "" */
    int32_t active;                 /* activeflag == "Y" */
    int64_t lag_seconds;            /* lag: hold the high mark back (timestamp columns) */
    const char *item_json;          /* the whole item as JSON text, for plugin-specific attributes */
};

/* How a load selects rows. */
enum dld_mode {
    /* delta: filter_column in (low, high] (or [low, high] on the first run):
     * each row loaded once across runs; the watermark moves to high. */
    DLD_MODE_DELTA = 1,
    /* full: the item's operator and values applied as they are (eq, noteq,
     * lte, null, ...), or the whole table without a filter column; every
     * run is a complete snapshot and the watermark does not move. */
    DLD_MODE_FULL = 2,
    /* backfill: like delta over an explicit [low, high]; watermark untouched. */
    DLD_MODE_BACKFILL = 3,
};

#ifdef __cplusplus
}
#endif
#endif

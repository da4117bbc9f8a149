/*
 * Source plugins: read one table's rows for one window of its filter column
 * and hand them over as Arrow batches.
 *
 * Call sequence per load (one thread at a time per instance):
 *   open → extract_begin → extract_next … until DLD_DONE → extract_end → … → close
 * extract_begin opens the read snapshot, captures the high mark inside it
 * (when the request leaves high NULL) and returns the exact query text; the
 * host records the window before it asks for the first row. `plan` is
 * extract_begin + extract_end with no extract_next.
 *
 * Duties (the host checks those marked *, core/contract.c, and fails the
 * table naming the plugin; `deltaload plugins check` tests all of them):
 *   - DELTA/BACKFILL rows: filter_column > low (>= when low_inclusive, no
 *     bound when low is NULL) and <= high.
 *   - * A captured high mark is the maximum of the column over the rows
 *     above the low bound ONLY (c > low, or >= when inclusive), held back
 *     by lag; NULL when there is no such row -- never low itself, never a
 *     value below it (that would move the watermark backwards).
 *   - * `between` (table->filter_operator): the captured high mark never
 *     passes table->end_value; once low reaches it, high is NULL.
 *   - * A request with high set (a retry, a backfill): that high is the
 *     high mark in force; never return one above it.
 *   - An empty window with a fixed high (request high set, or FULL): one
 *     empty batch (schema, zero rows), then DLD_DONE, so the schema is known.
 *   - lag_seconds > 0 applies to date/time columns: refuse it on any other
 *     column with DLD_ERR_CONFIG naming the table and the column.
 *   - FULL mode: every operator of table.h (eq, noteq, lte/ste, null,
 *     notnull, notbetween) and no filter column (the whole table);
 *     DLD_ERR_CONFIG for an operator it does not know (a newer host may
 *     add one).
 *   - * extract_next: DLD_OK always with both release callbacks set and a
 *     struct array with one child per schema column; every batch of a load
 *     has the first batch's column names and types; the end is DLD_DONE
 *     with nothing filled.
 *   - * Every failure returns a negative enum dld_code with a message.
 *   - Interrupts: the host checks host->cancelled() between batches; a call
 *     that can wait long (a query, a network read, a retry loop) polls it or
 *     cancels its statement and returns DLD_ERR_RETRY with a message within
 *     about a second. Never DLD_DONE for a read cut short; extract_end
 *     after it frees everything and leaves the instance usable.
 * Values are compared in the column's type; the host's own comparison
 * (numbers as numbers, ISO-8601 as instants, else text) is in
 * docs/plugin-authoring.md "What the host checks".
 *
 * Lifetimes: `req`, `req->table` and every string in them are borrowed for
 * extract_begin only -- a cursor copies what extract_next needs. `host`
 * (open) lives until the plugin is unloaded and may be kept (abi.h).
 */
#ifndef DELTALOAD_SOURCE_H
#define DELTALOAD_SOURCE_H

#include "abi.h"
#include "arrow_c.h"
#include "table.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dld_extract_request {
    uint32_t struct_size;
    const struct dld_table *table;
    uint32_t mode;            /* enum dld_mode */
    /* DELTA and BACKFILL: filter_column > low (>= when low_inclusive), NULL = no lower bound */
    const char *low;
    int32_t low_inclusive;
    /* DELTA and BACKFILL: filter_column <= high. NULL: capture the current
     * maximum (held back by table->lag_seconds) inside the read snapshot. */
    const char *high;
    uint32_t batch_rows;      /* rows per Arrow batch the host would like */
};

/* Filled by extract_begin; every string is host->alloc'ed (host frees). */
struct dld_extract_info {
    uint32_t struct_size;
    char *high;       /* the high mark in force: captured or the request's; NULL if nothing to load */
    char *query;      /* the exact statement, with its bound parameters listed */
    char *snapshot;   /* what makes the read consistent (SCN, xid, "sqlite read txn"), or NULL */
    /* ---- ABI 1.2 (DLD_HAS; optional for a source) ---- */
    /* Set by the host (its own zeroed struct) or NULL. When set, a source
     * that can fills it on DLD_OK with the columns the query reads, exactly
     * as its batches will carry them, without reading a row (the host
     * releases it; dld_extract_info_schema does this from a batch builder).
     * The host compares it with the previous load's columns before any row
     * is read (docs/reliability.md "Schema drift"); left unfilled, the host
     * reads the first batch before the target sees anything instead. */
    struct ArrowSchema *schema;
};

struct dld_source_vtable {
    uint32_t struct_size;
    /* options: NULL-terminated key/value pairs (see abi.h) */
    int (*open)(const struct dld_host *host, const char *const *options, void **inst, struct dld_error *err);
    void (*close)(void *inst);
    int (*extract_begin)(void *inst, const struct dld_extract_request *req, struct dld_extract_info *info,
                         void **cursor, struct dld_error *err);
    /* Fills *schema and *batch (a struct array, one child per column) owned
     * by the caller, who calls their release callbacks. Returns DLD_OK with a
     * batch, DLD_DONE at the end (nothing filled), or an error. */
    int (*extract_next)(void *cursor, struct ArrowSchema *schema, struct ArrowArray *batch, struct dld_error *err);
    /* Ends the snapshot and frees the cursor; safe after an error. */
    void (*extract_end)(void *cursor);
};

#if UINTPTR_MAX == 0xffffffffffffffffu
DLD_PIN(struct dld_source_vtable, open, 8);
DLD_PIN(struct dld_source_vtable, extract_end, 40);
DLD_PIN(struct dld_extract_request, low, 24);
DLD_PIN(struct dld_extract_info, schema, 32);
#endif

#ifdef __cplusplus
}
#endif
#endif

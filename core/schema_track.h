/*
 * Schema tracking (issue 13): every load records the source columns it
 * read, and before a row reaches the target they are compared with those
 * of the table's last committed load; the table's schema_change policy
 * decides what a difference does. See docs/reliability.md "Schema drift".
 *
 * Columns are kept as a canonical JSON array, in the source's order:
 *   [{"name":"id","type":"l","nullable":false}, ...]
 * ("type" is the Arrow C format string), in the run's info ("columns") and
 * in the load's manifest (struct dld_load.columns, ABI 1.2).
 *
 * Compared by column name (order and nullability are not changes):
 *   - the filter column's type changed: the window fails, whatever the
 *     policy (its comparison would change meaning: the int → text);
 *   - fail (the default): any column added, dropped or retyped fails the
 *     window naming them; nothing is written, the watermark stays;
 *   - evolve: added columns and dropped columns are accepted (rows from
 *     then on carry the new set; readers by name see NULL where a file has
 *     no value), a type only when it widens (int8→16→32→64, the unsigned
 *     ones likewise, float→double, decimal(P,S)→decimal(P',S) with P' > P);
 *     any other retype fails naming the column.
 */
#ifndef DLD_CORE_SCHEMA_TRACK_H
#define DLD_CORE_SCHEMA_TRACK_H

#include <stdbool.h>
#include <stddef.h>

#include <deltaload/deltaload.h>

enum dld_schema_policy {
    DLD_SCHEMA_UNSET = -1,  /* an item without schema_change: the config's default */
    DLD_SCHEMA_FAIL = 0,
    DLD_SCHEMA_EVOLVE = 1,
    DLD_SCHEMA_REWRITE = 2, /* any change: the window is loaded from the beginning into a new table version */
};

/* "fail" / "evolve" / "rewrite" → the policy; DLD_ERR_CONFIG naming `where` otherwise. */
int dld_schema_policy_parse(const char *text, const char *where, int *policy, struct dld_error *err);
const char *dld_schema_policy_name(int policy);

/* The canonical JSON of a struct schema's columns (malloc'ed), NULL when
 * out of memory or not a struct schema. */
char *dld_schema_columns(const struct ArrowSchema *schema);

/* The first batch of a source that declared its columns in extract_begin
 * must carry exactly those (names, types, nullability, order). */
int dld_schema_check_batch(const char *declared, const struct ArrowSchema *batch_schema, const char *plugin,
                           struct dld_error *err);

/* The one check the engine makes: compares `columns` (this load's) with
 * those of the table's last committed load in the state store, under
 * `policy`. DLD_OK: go ahead, and *note (malloc'ed, or NULL when nothing
 * changed) says what evolved -- or, under rewrite, what changed, and
 * *rewrite is set: the window must be a rewrite into a new table version.
 * DLD_ERR_CONFIG: the message names the columns; nothing may be written. */
int dld_schema_track(const struct dld_state_vtable *st, void *state, const char *table, const char *filter_column,
                     const char *columns, int policy, char **note, bool *rewrite, struct dld_error *err);

/* What the comparison and the table version need of the table's newest
 * committed run, read once per attempt (the engine holds the lease, so it
 * cannot change under the attempt). */
struct dld_last_committed {
    char *columns;   /* its columns (JSON), or NULL: none committed, or recorded before columns were */
    int64_t load_id; /* 0: no committed load */
    int64_t version; /* its table version; 1 when none */
};
int dld_last_committed_read(const struct dld_state_vtable *st, void *state, const char *table,
                            struct dld_last_committed *out, struct dld_error *err);
void dld_last_committed_clean_up(struct dld_last_committed *last);
/* dld_schema_track with the last committed run already read */
int dld_schema_compare(const struct dld_last_committed *last, const char *filter_column, const char *columns,
                       int policy, char **note, bool *rewrite, struct dld_error *err);

/* ---- table versions (schema_change rewrite) ----------------------------------------------
 *
 * A table starts at version 1; a rewrite loads it from the beginning into
 * version N+1. Each run records the version it writes ("table_version" in
 * its info; absent: 1), and a rewrite also the watermark it replaces
 * ("rewrite": {"watermark": ...}), which its commit expects instead of its
 * own low bound. The table's version is that of its newest committed run:
 * a rewrite that never committed leaves the version unchanged, so the next
 * run detects the change again and rewrites again. Version N's folder is
 * the targetTableName with "__vN" appended (none for 1; letters, digits
 * and "_" only, so S3 keys, Glue and Athena take it as it is): every target
 * derives its location from the struct dld_table the engine hands it. */

/* The version of the newest committed run of `table` (1 when none). */
int dld_table_version(const struct dld_state_vtable *st, void *state, const char *table, int64_t *version,
                      struct dld_error *err);
/* The version a run recorded (1 when it recorded none). */
int64_t dld_run_table_version(const char *info_json);
/* A rewrite run: true, and *watermark (malloc'ed, NULL: none) the watermark
 * it replaces. */
bool dld_run_rewrite_watermark(const char *info_json, char **watermark);
/* The target folder name of a version into buf ("t", "t__v2"). */
void dld_table_version_name(const char *name, int64_t version, char *buf, size_t cap);
/* info_json with "table_version" and, for a rewrite, "rewrite" added (malloc'ed; NULL when out of memory). */
char *dld_table_version_info(const char *info_json, int64_t version, bool rewrite, const char *watermark);

/* info_json with "columns" (as JSON) and, when note is not NULL,
 * "schema_change" added (malloc'ed; NULL when out of memory). */
char *dld_schema_info_add(const char *info_json, const char *columns, const char *note);

#endif

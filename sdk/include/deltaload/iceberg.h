/*
 * Apache Iceberg output for the lake layer (lake.h): with the target option
 * "table_format": "iceberg" a table's folder is also an Iceberg table
 * (format version 2) in a file-system catalog, and every committed load is
 * one snapshot of it. See docs/iceberg.md.
 *
 *   <table>/LOAD00000042-<uid>-0001.parquet            data files (field ids in the Parquet schema)
 *   <table>/_manifests/LOAD00000042-<uid>.json         deltaload's manifest: still the fencing slot
 *   <table>/metadata/LOAD00000042-<uid>-m0.avro        the load's Iceberg manifest (written once)
 *   <table>/metadata/snap-<id>-<seq>-<uid>.avro        a manifest list (one per commit attempt)
 *   <table>/metadata/v7.metadata.json                  table metadata, created with put_if_absent
 *   <table>/metadata/version-hint.text                 "7", replaced after each commit
 *
 * Order inside publish: the data files are promoted, deltaload's manifest
 * slot is claimed as published (the one atomic fact that fences a stalled
 * holder against a discard), then the snapshot is committed. A load whose
 * slot says published but whose snapshot is missing (a crash between the
 * two) is rolled forward by the next publish, discard conflict or
 * is_published of that load: the snapshot is looked up by the load uid in
 * the snapshot summaries first, so it is never added twice. Nothing of a
 * load that is not published ever reaches the Iceberg metadata.
 *
 * Avro (manifests, manifest lists) is encoded with Apache Avro C.
 * Strings returned are malloc'ed; free() them.
 */
#ifndef DELTALOAD_ICEBERG_H
#define DELTALOAD_ICEBERG_H

#include <stdint.h>

#include "arrow_c.h"
#include "lake.h"

#ifdef __cplusplus
extern "C" {
#endif

/* *on: 1 when the options ask for "table_format": "iceberg", 0 for "files"
 * or none. DLD_ERR_CONFIG for another value, or iceberg with a format other
 * than parquet. */
int dld_iceberg_option(const char *const *options, int *on, struct dld_error *err);

/* The Iceberg schema (a JSON struct object with "schema-id": 0 and field
 * ids) of a batch schema. table_schema_json: the table's current schema
 * (NULL for a new table): columns found there by name keep their id and
 * must have the same type; a column the table lacks is refused
 * (DLD_ERR_UNSUPPORTED, naming it: schema evolution is not done yet). A
 * table column the load lacks must be optional (its values read as null).
 * *ids[i]: the field id of column i. */
int dld_iceberg_schema_from_arrow(const struct ArrowSchema *arrow, const char *table_schema_json, char **schema_json,
                                  int32_t **ids, struct dld_error *err);

/* A copy of a struct schema whose children carry the Arrow field metadata
 * "PARQUET:field_id" (which the SDK's Parquet writer writes as field_id).
 * Release dst with dst->release. */
int dld_iceberg_arrow_with_ids(const struct ArrowSchema *src, const int32_t *ids, struct ArrowSchema *dst,
                               struct dld_error *err);

/* The table's newest metadata: *version (0 and *json NULL when there is no
 * table yet) from version-hint.text, then probing v<N+1> onwards (the hint
 * may lag), or from a listing of metadata/ when there is no hint. */
int dld_iceberg_current(const struct dld_lake_storage *st, const char *dir, int64_t *version, char **json,
                        struct dld_error *err);
/* The current schema object of a metadata text, printed (malloc'ed), or NULL. */
char *dld_iceberg_current_schema(const char *metadata_json);

/* What a commit needs to know about a load. */
struct dld_iceberg_load {
    int64_t load_id;
    const char *load_uid;          /* required: the snapshot is found by it */
    const char *mode;              /* "delta", "full", "backfill" */
    const char *window_column, *low, *high;
    int low_inclusive;
    const char *table_name, *source_table;
    const char *schema_json;       /* from dld_iceberg_schema_from_arrow; NULL: the table's current one */
    const struct dld_lake_file *files;
    int nfiles;
    int overwrite;                 /* full-snapshot load: the snapshot replaces the table's contents */
    int64_t now_ms;
};

/* Commits the load as one snapshot unless the table has one with its load
 * uid already. A commit that loses the race for v<N+1> re-reads the table
 * and tries again on the new version (the load's manifest is written once;
 * only the manifest list and the metadata are written per attempt). */
int dld_iceberg_commit(const struct dld_lake_storage *st, const char *dir, const struct dld_iceberg_load *load,
                       struct dld_error *err);

/* Rolls a published load forward from its deltaload manifest (which
 * publish annotated with "table_format": "iceberg" and "iceberg_schema").
 * A manifest without that annotation: nothing to do. */
int dld_iceberg_commit_manifest(const struct dld_lake_storage *st, const char *dir, const char *manifest_json,
                                size_t len, int64_t now_ms, struct dld_error *err);

/* The published manifest text with the Iceberg annotation added (malloc'ed). */
char *dld_iceberg_manifest_annotate(const char *manifest_json, const char *schema_json);

#ifdef __cplusplus
}
#endif
#endif

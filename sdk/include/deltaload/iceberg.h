/*
 * Apache Iceberg output for the lake layer (lake.h): with the target option
 * "table_format": "iceberg" a table's folder is also an Iceberg table
 * (format version 2) in a file-system catalog, and every committed load is
 * one snapshot of it. See docs/iceberg.md.
 *
 *   <table>/LOAD00000042-<uid>-0001.parquet            data files (field ids in the Parquet schema)
 *   <table>/data/<field>=<value>/LOAD…-0001.parquet    a partitioned table's (partition_by)
 *   <table>/_manifests/LOAD00000042-<uid>.json         deltaload's manifest: still the fencing slot
 *   <table>/metadata/LOAD00000042-<uid>-m0.avro        the load's Iceberg manifest (written once)
 *   <table>/metadata/snap-<id>-<seq>-<uid>.avro        a manifest list (one per commit attempt)
 *   <table>/metadata/v7.metadata.json                  table metadata, created with put_if_absent
 *   <table>/metadata/version-hint.text                 "7", replaced after each commit
 * With a catalog (AWS Glue, struct dld_iceberg_catalog below) the catalog
 * points at the current metadata file, named v7-<uid>.metadata.json, and
 * there is no version-hint.text.
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
 *
 * SDK layer: lake (libdeltaload_sdk_lake.a; pkg-config deltaload-sdk-lake; CMake
 * component lake, deltaload::sdk-lake). Not included by deltaload.h.
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

/* The table's schema after a load of this batch schema: the table schema
 * of dld_iceberg_schema_evolve (below), without the files' own schema. */
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

/* A delete file of a load (merge_key upserts, docs/iceberg.md#upserts). */
struct dld_iceberg_delete {
    const char *name;              /* relative to the table directory */
    int64_t rows, bytes;
    int32_t content;               /* 1: position deletes, 2: equality deletes */
    const int32_t *equality_ids;   /* content 2: the key's field ids */
    int n_equality_ids;
};

/* Column statistics of a data file for its manifest entry (value_counts,
 * null_value_counts, lower_bounds, upper_bounds; iceberg_stats.c). */
#define DLD_ICEBERG_BOUND_MAX 80
struct dld_iceberg_column_stats {
    int32_t field_id;
    int64_t values, nulls;
    int has_lower, has_upper;
    /* Iceberg's single-value serialization (bounds of strings and binary may be shortened) */
    unsigned char lower[DLD_ICEBERG_BOUND_MAX], upper[DLD_ICEBERG_BOUND_MAX];
    size_t lower_len, upper_len;
};
struct dld_iceberg_file_stats {
    struct dld_iceberg_column_stats *cols;
    int ncols;
};

/* ---- catalogs -------------------------------------------------------------------------
 * The catalog holds the pointer to a table's current metadata file. Without
 * one (storage->catalog NULL) it is the file system: version-hint.text and
 * v<N>.metadata.json created with put_if_absent. With one (AWS Glue), the
 * catalog's pointer is the truth: metadata files are named
 * v<N>-<load uid>.metadata.json (only that load writes that name) and a
 * commit is the catalog's compare-and-swap from the pointer read to the new
 * file; a lost swap re-reads and retries without rewriting data files. */
struct dld_iceberg_catalog {
    void *ctx;
    /* The table's current metadata location (absolute, malloc'ed; NULL when
     * the catalog has no such table) and the catalog's version of the entry
     * (malloc'ed or NULL), handed back to swap. */
    int (*current)(void *ctx, const char *dir, const char *table_location, char **metadata_location,
                   char **version, struct dld_error *err);
    /* Points the table at new_location if it still is at prev_location and
     * version (version NULL: creates the entry; prev_location is then the
     * file-system catalog's metadata the table is adopted from, or NULL for a
     * new table). A table with no catalog entry but file-system metadata
     * (version-hint.text) is adopted: its history goes on. schema_json: the
     * table's current Iceberg schema, for catalogs that show columns.
     * DLD_ERR_CONFLICT when the entry moved (or was created) meanwhile. */
    int (*swap)(void *ctx, const char *dir, const char *table_location, const char *version,
                const char *prev_location, const char *new_location, const char *schema_json,
                struct dld_error *err);
    void (*destroy)(void *ctx);
};

/* AWS Glue Data Catalog (src/aws/iceberg_glue.c, in the AWS layer: link
 * dld_sdk_aws): a Glue table per lake table in
 * `database`, named after the last component of the table's directory
 * (lower case), with the Parameters Athena reads (table_type ICEBERG,
 * metadata_location, previous_metadata_location). `client` is an AWS client
 * for the service "glue" (JSON 1.1), borrowed for the catalog's life. */
struct dld_aws_client;
struct dld_iceberg_catalog *dld_iceberg_glue_new(struct dld_aws_client *client, const char *database,
                                                 const struct dld_host *host, struct dld_error *err);
/* calls destroy and frees; NULL is fine */
void dld_iceberg_catalog_destroy(struct dld_iceberg_catalog *c);
/* The Glue table name of a lake table directory ("raw/main/Orders" → "orders"), malloc'ed. */
char *dld_iceberg_glue_table_name(const char *dir);

/* What a commit needs to know about a load. */
struct dld_iceberg_load {
    int64_t load_id;
    const char *load_uid;          /* required: the snapshot is found by it */
    const char *mode;              /* "delta", "full", "backfill" */
    const char *window_column, *low, *high;
    int low_inclusive;
    const char *table_name, *source_table;
    const char *schema_json;       /* the table's schema after the load (dld_iceberg_schema_evolve); NULL: the current one */
    const struct dld_lake_file *files;
    int nfiles;
    int overwrite;                 /* full-snapshot load: the snapshot replaces the table's contents */
    int64_t now_ms;
    /* merge_key upserts: delete files committed in the same snapshot as
     * the data files, in a delete manifest (same sequence number, so an
     * equality delete applies to older data files only) */
    const struct dld_iceberg_delete *deletes;
    int ndeletes;
    /* per data file (parallel to files), or NULL: the columns' statistics */
    const struct dld_iceberg_file_stats *file_stats;
    /* partition_by (docs/iceberg.md#partitioning-partition_by): the table's partition
     * spec {"spec-id": 0, "fields": [...]} (NULL: unpartitioned) and, per
     * data file, its partition values as a JSON array of strings (decimal
     * text for the int and long results, the value for identity strings)
     * and nulls, one per spec field */
    const char *partition_spec;
    const char *const *file_partitions;
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
/* The same, also recording the load's delete files ("iceberg_deletes") and
 * its data files' column statistics ("iceberg_stats", parallel to the
 * files; NULL: none) for a roll-forward, whose Iceberg manifests must be the
 * same bytes. */
char *dld_iceberg_manifest_annotate_deletes(const char *manifest_json, const char *schema_json,
                                            const struct dld_iceberg_delete *deletes, int ndeletes,
                                            const struct dld_iceberg_file_stats *stats, int nstats);

/* The same manifest text with a partitioned load's spec and its data
 * files' partition values (parallel to the files) recorded as
 * "iceberg_partition_spec" and "iceberg_partitions" (malloc'ed). */
char *dld_iceberg_manifest_annotate_partitions(const char *manifest_json, const char *spec_json,
                                               const char *const *file_partitions, int nfiles);

/* Schema evolution: the table's next schema for a batch schema.
 * table_schema_json: the table's current schema (NULL: a new table).
 * Columns are matched by name and keep their field id; a column the table
 * lacks is added (a new id, optional); a wider type follows Iceberg's
 * promotion rules (int to long, float to double, decimal(P,S) to
 * decimal(P',S) with P' > P) and a narrower one is read as the table's; a
 * table column the load lacks stays, and becomes optional; anything else is
 * DLD_ERR_UNSUPPORTED naming the column. *table_schema: the table's schema
 * after the load (its "schema-id" the current one's, plus 1 when it
 * changed); *file_schema: the schema of the load's files (its columns with
 * their ids and their own types); *ids[i]: the field id of column i. */
int dld_iceberg_schema_evolve(const struct ArrowSchema *arrow, const char *table_schema_json, char **table_schema,
                              char **file_schema, int32_t **ids, struct dld_error *err);

#ifdef __cplusplus
}
#endif
#endif

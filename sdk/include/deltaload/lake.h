/*
 * The lake layer: everything a target does to a lake except moving bytes,
 * written once so that every target (file, s3, a third party's) names,
 * publishes, fences and discards loads the same way.
 *
 *   <root>/<ouputs3Prefix>/<sourceSchema>/<targetTableName>/LOAD00000042-3f9a0c1d2b4e6f70-0001.parquet
 *   <root>/<ouputs3Prefix>/<sourceSchema>/<targetTableName>/_manifests/LOAD00000042-3f9a0c1d2b4e6f70.json
 *
 * A load's files and manifest carry its load uid (16 hex digits, random per
 * load, chosen by the engine): two state stores, or a state store lost and
 * recreated, can reuse load ids but never names. Lakes written before ABI
 * 1.1 (no uid: LOAD00000042-0001.parquet, _manifests/LOAD00000042.json) are
 * read and recovered with their old names ("legacy" below).
 *
 * The manifest is the one atomic fact. Its slot is claimed exactly once with
 * a create-only write (storage->put_if_absent):
 *   - publish writes {"status": "published", "files": [...]}: the load is
 *     visible;
 *   - discard writes {"status": "aborted", "files": []} before removing any
 *     file: from then on a late publish of that load (a holder that stalled
 *     past its lease) is refused with DLD_ERR_CONFLICT.
 * When the slot is already taken the layer reads it back: the same load's
 * own published manifest (a retried write whose first response was lost)
 * counts as success for publish; an aborted one counts as success for
 * discard; anything else is DLD_ERR_CONFLICT.
 *
 * Data files become visible before the manifest (storage->promote). Readers
 * must find files through the manifests: a reader that lists the folder can
 * see files of a load in flight, of a load being discarded, or of a load
 * whose publish was refused (removed right after, best effort).
 *
 * Strings returned here are malloc'ed (libc) and freed with free(): they
 * never cross the plugin boundary.
 *
 * SDK layer: lake (libdeltaload_sdk_lake.a; pkg-config deltaload-sdk-lake; CMake
 * component lake, deltaload::sdk-lake). Not included by deltaload.h.
 */
#ifndef DELTALOAD_LAKE_H
#define DELTALOAD_LAKE_H

#include <stddef.h>
#include <stdint.h>

#include "format.h"
#include "target.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- names ----------------------------------------------------------------- */

/* "<prefix>/<schema>/<table>" with empty parts skipped and no leading or
 * trailing '/'. Parts that are "." or ".." or contain '/' characters other
 * than the prefix's own separators are refused (DLD_ERR_CONFIG) so an item
 * cannot write outside its root. */
int dld_lake_table_dir(const struct dld_table *t, char **out, struct dld_error *err);
/* Wherever a uid is taken, NULL or "" means a legacy load (no uid). */
/* "LOAD00000042-<uid>-0001.parquet"; uid NULL: legacy "LOAD00000042-0001.parquet" */
char *dld_lake_file_name(int64_t load_id, const char *uid, int part, const char *extension);
/* "_manifests/LOAD00000042-<uid>.json"; uid NULL: legacy "_manifests/LOAD00000042.json" */
char *dld_lake_manifest_name(int64_t load_id, const char *uid);
/* true if `name` (a path; only its last segment is looked at) is a data file
 * or the manifest of exactly this load (uid NULL: of the legacy load) */
int dld_lake_name_is_load(const char *name, int64_t load_id, const char *uid);
/* A new random load uid (16 lower-case hex digits) into buf[17], from the
 * kernel's random source. DLD_ERR_FATAL if it cannot be read. */
int dld_lake_new_uid(char buf[17], struct dld_error *err);
/* true for 16 lower-case hex digits */
int dld_lake_uid_valid(const char *uid);

/* ---- manifests ---------------------------------------------------------------- */
struct dld_lake_file {
    const char *name;  /* file name relative to the table directory */
    int64_t rows;
    int64_t bytes;
};

/* Published manifest JSON text (malloc'ed): table, load id and uid, lease
 * token, mode, window, snapshot, format, files with rows and bytes, totals,
 * writer, created time, "status": "published". */
char *dld_lake_manifest_json(const struct dld_load *load, const char *format, const struct dld_lake_file *files,
                             int nfiles, int64_t created_ms);
/* The "aborted" manifest discard claims the slot with (lists no files). */
char *dld_lake_tombstone_json(const struct dld_load *load, int64_t created_ms);

/* What the layer reads back from a manifest. Strings are malloc'ed and
 * freed by dld_lake_manifest_info_clean_up. */
struct dld_lake_manifest_info {
    int64_t load_id;
    char *load_uid;       /* NULL for a legacy manifest */
    int64_t lease_token;  /* 0 when absent */
    int published;        /* 1: "published" (or a legacy manifest), 0: "aborted" */
    char *mode, *low, *high;
    int low_inclusive;
    int64_t rows, bytes, files, created_ms;
};
/* DLD_ERR_FATAL with a message naming `what` when the text is not a manifest. */
int dld_lake_manifest_parse(const char *json, size_t len, const char *what, struct dld_lake_manifest_info *out,
                            struct dld_error *err);
void dld_lake_manifest_info_clean_up(struct dld_lake_manifest_info *info);

/* Key/value pairs every data file carries in its metadata (Parquet
 * key_value_metadata): deltaload.writer, deltaload.table,
 * deltaload.source_table, deltaload.load_id, deltaload.load_uid,
 * deltaload.mode, deltaload.window_low, deltaload.window_low_inclusive,
 * deltaload.window_high (the window keys only when set). NULL-terminated,
 * malloc'ed array of malloc'ed strings; free with dld_lake_metadata_free. */
char **dld_lake_file_metadata(const struct dld_load *load);
void dld_lake_metadata_free(char **kv);

/* A deep copy of a borrowed load (and its table) that the copy owns. */
struct dld_load *dld_load_copy(const struct dld_load *load);
void dld_load_copy_free(struct dld_load *copy);

/* ---- storage: what a target built on the layer provides ------------------------
 * Every path is relative to the target's root: `dir` is the table directory
 * from dld_lake_table_dir (a backend prepends its own root or key prefix),
 * `name` a name inside it ("LOAD...parquet", "_manifests/LOAD...json", or a
 * partitioned Iceberg table's "data/<field>=<value>/.../LOAD...parquet").
 * Every call returns a dld_code and fills err; retryable failures say so. */
struct dld_iceberg_catalog;
struct dld_lake_storage {
    uint32_t struct_size;
    void *ctx;
    /* Starts a data file. The bytes go to *sink; the file may be staged
     * (file: _staging/) or written under its final name (s3). */
    int (*file_open)(void *ctx, const char *dir, const char *name, const char *content_type, void **file,
                     struct dld_sink *sink, struct dld_error *err);
    /* Completes the file durably (fsync, CompleteMultipartUpload); *bytes
     * its size. Frees `file` whatever the outcome. */
    int (*file_close)(void *ctx, void *file, int64_t *bytes, struct dld_error *err);
    /* Gives an unfinished file up (aborts its upload) and frees `file`. */
    void (*file_abandon)(void *ctx, void *file);
    /* Makes completed data files visible under their final names (file:
     * renames out of staging and fsyncs the directory; s3: nothing to do).
     * Idempotent. NULL when files are written in place. */
    int (*promote)(void *ctx, const char *dir, const char *const *names, int n, struct dld_error *err);
    /* Creates dir/name holding data only if nothing exists under that name
     * (file: link()/O_EXCL; s3: PutObject with If-None-Match: *), durably.
     * DLD_ERR_CONFLICT, not retryable, when something already exists. */
    int (*put_if_absent)(void *ctx, const char *dir, const char *name, const void *data, size_t len,
                         struct dld_error *err);
    /* Reads a small object (a manifest) into *data (malloc'ed, NUL-terminated).
     * DLD_ERR_NOT_FOUND when it does not exist. */
    int (*get)(void *ctx, const char *dir, const char *name, char **data, size_t *len, struct dld_error *err);
    /* Calls fn for every name under dir that starts with `prefix` (which may
     * contain one '/', as in "_manifests/LOAD"), staged copies included
     * (reported under their final name); fn returns non-zero to stop. A
     * missing dir lists nothing. The prefix "data/" lists every file below
     * dir/data/ at any depth ("data/id_bucket=3/LOAD…parquet"): the data
     * files of a partitioned Iceberg table, whose names (in file_open,
     * promote, remove) have folders. */
    int (*list)(void *ctx, const char *dir, const char *prefix, int (*fn)(void *fnctx, const char *name),
                void *fnctx, struct dld_error *err);
    /* Removes these names (staged copies and unfinished uploads included);
     * a name that does not exist is not an error. */
    int (*remove)(void *ctx, const char *dir, const char *const *names, int n, struct dld_error *err);
    /* Optional: the clock for the manifests' created_ms (pass host->now_ms);
     * NULL: the system's wall clock. */
    int64_t (*now_ms)(void);
    /* Optional (table_format iceberg): writes dir/name, replacing what is
     * there, so that a reader sees the old or the new bytes (file: a
     * temporary file renamed over it; s3: PutObject). NULL: the layer
     * removes the name and calls put_if_absent. */
    int (*put)(void *ctx, const char *dir, const char *name, const void *data, size_t len, struct dld_error *err);
    /* Optional, required by table_format iceberg, whose metadata holds
     * absolute locations: the URI of dir, malloc'ed, no trailing '/'
     * ("file:///srv/lake/raw/main/orders", "s3://bucket/prefix/raw/main/orders"). */
    char *(*location)(void *ctx, const char *dir);
    /* Optional (table_format iceberg): the catalog that points at each
     * table's current metadata file (iceberg.h; AWS Glue: "catalog": "glue").
     * NULL: the file-system catalog (version-hint.text). Borrowed. */
    const struct dld_iceberg_catalog *catalog;
};

/* ---- a load through the layer ------------------------------------------------------
 * Each maps one target vtable call; a target's vtable functions call these.
 * `options` are the target's key/value options (format, writer options,
 * max_file_size), borrowed for the lake load's life. */
struct dld_lake_load;
int dld_lake_load_begin(const struct dld_lake_storage *storage, const char *const *options,
                        const struct dld_load *load, struct dld_lake_load **out, struct dld_error *err);
/* Skips empty batches; opens a file on the first row and a new one once the
 * current reaches max_file_size; refuses a batch whose schema differs from
 * the first batch's (DLD_ERR_UNSUPPORTED, naming the column). */
int dld_lake_load_write(struct dld_lake_load *l, const struct ArrowSchema *schema, const struct ArrowArray *batch,
                        struct dld_error *err);
/* Closes the last file. A load with no rows has no files. */
int dld_lake_load_finish(struct dld_lake_load *l, struct dld_load_stats *stats, struct dld_error *err);
/* promote, then claim the manifest slot (see the top of this file). On
 * DLD_ERR_CONFLICT because the load was discarded (the slot holds its
 * "aborted" manifest, also found when promote failed because the discard
 * removed the staged files) the load's files are removed again (best
 * effort). A legacy load whose slot holds another manifest gets
 * DLD_ERR_CONFLICT and nothing is removed: its names are that load's too.
 * Calling it again after a failure is safe. */
int dld_lake_load_publish(struct dld_lake_load *l, struct dld_error *err);
/* Frees; abandons an unfinished file. Files stay as they are. */
void dld_lake_load_free(struct dld_lake_load *l);

/* Claims the manifest slot as aborted, then removes the load's files.
 * DLD_ERR_CONFLICT (nothing removed) when the load is published. A legacy
 * load (load_uid NULL) has no slot to claim: its files and manifest are
 * removed. Idempotent. */
int dld_lake_discard(const struct dld_lake_storage *storage, const struct dld_load *load, struct dld_error *err);
/* *published: the load's own published manifest exists. */
int dld_lake_is_published(const struct dld_lake_storage *storage, const struct dld_load *load, int *published,
                          struct dld_error *err);
/* Every manifest of the table as a JSON array text (malloc'ed), by load_id;
 * each element is the manifest object as stored. Data files of a uid load
 * that has no manifest at all are listed too, one element per load:
 * {"load_id", "load_uid", "status": "orphaned", "orphaned": true, "files"};
 * files still present beside an aborted manifest (a discard that did not
 * finish) are added to it as "leftover_files". */
int dld_lake_manifest_list(const struct dld_lake_storage *storage, const struct dld_table *table, char **json,
                           struct dld_error *err);

/* `deltaload lake expire` for a table_format iceberg table
 * (sdk/src/iceberg_expire.c, docs/iceberg.md#expire): expires the snapshots
 * whose timestamp is before cutoff_ms (never the current one), commits the
 * metadata without them, then removes the manifest lists of the expired
 * snapshots and the data files, delete files and manifests of the loads
 * those snapshots added that no remaining snapshot references. Files of a
 * load without a snapshot (in flight, unfinished, not rolled forward yet)
 * are never touched. dry_run: only the report. *report: a JSON object
 * (malloc'ed). DLD_ERR_NOT_FOUND when the table has no Iceberg metadata. */
int dld_lake_expire(const struct dld_lake_storage *storage, const struct dld_table *table, int64_t cutoff_ms,
                    int dry_run, char **report, struct dld_error *err);

#ifdef __cplusplus
}
#endif
#endif

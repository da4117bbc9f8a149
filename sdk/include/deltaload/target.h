/*
 * Target plugins: write a load's batches as files and publish them.
 *
 * Per load: load_begin → load_write … → load_finish (files complete and
 * durable: "staged") → load_publish (files visible, manifest written last:
 * the manifest is the target's atomic "published" marker) → load_free.
 * Recovery after a crash uses the instance-level calls: load_is_published
 * (does the manifest of that load exist?) and load_discard (remove every file
 * of that load, staged or visible; idempotent).
 *
 * Layout: <root>/<output_prefix>/<source_schema>/<target_table_name>/
 *   LOAD<8-digit load id>-<load uid>-<4-digit part>.<ext>
 *   _manifests/LOAD<8-digit load id>-<load uid>.json
 *
 * Identity and fencing (ABI 1.1, see docs/semantics.md): a load is named by
 * its load uid, random per load, so no two state stores (or a state store
 * that was lost and recreated) can ever name the same files. The manifest
 * slot of a load is claimed exactly once, with a create-only write: either
 * by load_publish (the load becomes visible) or by load_discard (an
 * "aborted" manifest that lists no files). Whoever comes second loses:
 * a stalled holder that publishes after another process discarded its load
 * gets DLD_ERR_CONFLICT and its files are never referenced; a discard that
 * comes after the publish gets DLD_ERR_CONFLICT and removes nothing.
 * A target never removes or overwrites files of a load it was not asked
 * about. The SDK's lake layer (lake.h) implements all of this once; a
 * target built on it only provides storage primitives.
 *
 * Duties the conformance kit (`deltaload plugins check`) tests: publish
 * repeated after a lost response succeeds; discard of a published load is
 * DLD_ERR_CONFLICT and removes nothing; discard after a partial write (no
 * load_finish) and discard repeated succeed; publish after a discard is
 * DLD_ERR_CONFLICT; load_is_published is 0 for a load never written.
 * Lifetimes: `load`, `load->table` and their strings are borrowed for the
 * call they are passed to; the handle copies what it keeps.
 */
#ifndef DELTALOAD_TARGET_H
#define DELTALOAD_TARGET_H

#include "abi.h"
#include "arrow_c.h"
#include "table.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dld_load {
    uint32_t struct_size;
    const struct dld_table *table;
    int64_t load_id;          /* per table, increasing */
    uint32_t mode;            /* enum dld_mode */
    const char *low;          /* window, for the manifest and file metadata */
    int32_t low_inclusive;
    const char *high;
    const char *snapshot;     /* source's consistency token, or NULL */
    int64_t started_ms;
    /* ---- ABI 1.1 (read only when struct_size covers them: DLD_HAS) ---- */
    const char *load_uid;     /* 16 lower-case hex digits, random per load; NULL from a 1.0 host */
    int64_t lease_token;      /* fencing token of the lease the load runs under (written to the manifest) */
    /* ---- ABI 1.2 (DLD_HAS) ---- */
    const char *columns;      /* the source columns the load read, as the host's canonical JSON array
                               * ([{"name","type" (Arrow format),"nullable"}, ...]) for the manifest; or NULL */
};

struct dld_load_stats {
    uint32_t struct_size;
    int64_t rows;
    int64_t bytes;   /* bytes written to the lake */
    int64_t files;
};

struct dld_target_vtable {
    uint32_t struct_size;
    int (*open)(const struct dld_host *host, const char *const *options, void **inst, struct dld_error *err);
    void (*close)(void *inst);
    int (*load_begin)(void *inst, const struct dld_load *load, void **handle, struct dld_error *err);
    /* The batch is borrowed: the target copies what it keeps. */
    int (*load_write)(void *handle, const struct ArrowSchema *schema, const struct ArrowArray *batch,
                      struct dld_error *err);
    int (*load_finish)(void *handle, struct dld_load_stats *stats, struct dld_error *err);
    int (*load_publish)(void *handle, struct dld_error *err);
    /* Frees the handle; files stay as they are (discard is explicit). */
    void (*load_free)(void *handle);
    int (*load_discard)(void *inst, const struct dld_load *load, struct dld_error *err);
    /* *published is set only for a manifest that carries this load's uid and
     * lists files ("aborted" manifests written by load_discard do not count). */
    int (*load_is_published)(void *inst, const struct dld_load *load, int *published, struct dld_error *err);
    /* ---- ABI 1.1, optional (the host checks struct_size and NULL) ---- */
    /* Every manifest of the table (published and aborted), as a JSON array of
     * the manifest objects, sorted by load_id; "[]" for an empty or missing
     * folder; loads with files but no manifest as {"load_id", "load_uid",
     * "status": "orphaned", "files"} (see lake.h). host->alloc'ed. Used by `deltaload state rebuild` and by the
     * check that refuses to load a table the state store has no record of
     * while its lake folder holds loads. */
    int (*manifest_list)(void *inst, const struct dld_table *table, char **manifests_json, struct dld_error *err);
    /* ---- ABI 1.2, optional ---- */
    /* `deltaload lake expire` (table_format iceberg): expires the table's
     * snapshots older than cutoff_ms (epoch ms; the current snapshot always
     * stays), writes the metadata without them, then removes the files of the
     * loads only those snapshots referenced (docs/iceberg.md#expire).
     * dry_run: nothing is written or removed. *report_json: a JSON object,
     * host->alloc'ed. DLD_ERR_UNSUPPORTED for a table that is not Iceberg. */
    int (*lake_expire)(void *inst, const struct dld_table *table, int64_t cutoff_ms, int dry_run, char **report_json,
                       struct dld_error *err);
};

#if UINTPTR_MAX == 0xffffffffffffffffu
DLD_PIN(struct dld_target_vtable, open, 8);
DLD_PIN(struct dld_target_vtable, load_is_published, 72);
DLD_PIN(struct dld_target_vtable, manifest_list, 80);
DLD_PIN(struct dld_target_vtable, lake_expire, 88);
DLD_PIN(struct dld_load, started_ms, 64);
DLD_PIN(struct dld_load, load_uid, 72);
DLD_PIN(struct dld_load, lease_token, 80);
DLD_PIN(struct dld_load, columns, 88);
#endif

#ifdef __cplusplus
}
#endif
#endif

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
 *   LOAD<8-digit load id>-<4-digit part>.<ext>
 *   _manifests/LOAD<8-digit load id>.json
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
    int (*load_is_published)(void *inst, const struct dld_load *load, int *published, struct dld_error *err);
};

#if UINTPTR_MAX == 0xffffffffffffffffu
DLD_PIN(struct dld_target_vtable, open, 8);
DLD_PIN(struct dld_target_vtable, load_is_published, 72);
#endif

#ifdef __cplusplus
}
#endif
#endif

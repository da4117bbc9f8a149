/*
 * The lake layout and manifests, shared by every target so that a lake
 * written by `file` and one written by `s3` look the same:
 *
 *   <root>/<ouputs3Prefix>/<sourceSchema>/<targetTableName>/LOAD00000042-0001.parquet
 *   <root>/<ouputs3Prefix>/<sourceSchema>/<targetTableName>/_manifests/LOAD00000042.json
 *
 * The manifest is written last: its presence is what "published" means.
 * Strings returned here are malloc'ed (libc) and freed by the caller with
 * free(): they never cross the plugin boundary.
 */
#ifndef DELTALOAD_LAKE_H
#define DELTALOAD_LAKE_H

#include <stdint.h>

#include "target.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "<prefix>/<schema>/<table>" with empty parts skipped and no leading or
 * trailing '/'. Parts that are "." or ".." or contain '/' characters other
 * than the prefix's own separators are refused (DLD_ERR_CONFIG) so an item
 * cannot write outside its root. */
int dld_lake_table_dir(const struct dld_table *t, char **out, struct dld_error *err);
/* "LOAD00000042-0001.parquet" */
char *dld_lake_file_name(int64_t load_id, int part, const char *extension);
/* "_manifests/LOAD00000042.json" */
char *dld_lake_manifest_name(int64_t load_id);
/* true if `name` (a file name without directory) belongs to load_id */
int dld_lake_name_is_load(const char *name, int64_t load_id);

struct dld_lake_file {
    const char *name;  /* file name relative to the table directory */
    int64_t rows;
    int64_t bytes;
};

/* Manifest JSON text (malloc'ed): table, load id, mode, window, snapshot,
 * format, files with rows and bytes, totals, writer, created time. */
char *dld_lake_manifest_json(const struct dld_load *load, const char *format, const struct dld_lake_file *files,
                             int nfiles, int64_t created_ms);

#ifdef __cplusplus
}
#endif
#endif

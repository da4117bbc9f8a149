/* Internal: the Avro side of the Iceberg output (iceberg_avro.c). */
#ifndef DLD_ICEBERG_INTERNAL_H
#define DLD_ICEBERG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <deltaload/iceberg.h>

/* one manifest_file entry of a manifest list (Iceberg spec, v2) */
struct dld_ice_mf {
    char *path;
    int64_t length;
    int32_t spec_id, content;
    int64_t seq, min_seq, snapshot_id;
    int32_t added_files, existing_files, deleted_files;
    int64_t added_rows, existing_rows, deleted_rows;
};

void dld_ice_mf_free(struct dld_ice_mf *v, int n);
/* Decodes a manifest list (any writer's: fields are found by name). */
int dld_ice_read_manifest_list(const char *data, size_t len, const char *what, struct dld_ice_mf **out, int *n,
                               struct dld_error *err);
/* A manifest list file (malloc'ed bytes). parent_id < 0: none. */
int dld_ice_write_manifest_list(const struct dld_ice_mf *v, int n, int64_t snapshot_id, int64_t parent_id, int64_t seq,
                                void **out, size_t *len, struct dld_error *err);
/* The load's data manifest: its files ADDED, snapshot id and sequence
 * numbers inherited (null), so the bytes do not depend on the commit attempt. */
int dld_ice_write_manifest(const char *location, const char *schema_json, const struct dld_iceberg_load *ld, void **out,
                           size_t *len, struct dld_error *err);

#endif

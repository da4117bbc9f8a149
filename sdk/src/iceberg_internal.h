/* Internal: the Avro side of the Iceberg output (iceberg_avro.c). */
#ifndef DLD_ICEBERG_INTERNAL_H
#define DLD_ICEBERG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <deltaload/iceberg.h>

/* a manifest's summary of one partition field (manifest_file.partitions,
 * field_summary): its bounds in Iceberg's single-value serialization */
struct dld_ice_fsum {
    bool contains_null;
    unsigned char *lower, *upper; /* NULL: no bound (every value null) */
    size_t lower_len, upper_len;
};

/* one manifest_file entry of a manifest list (Iceberg spec, v2) */
struct dld_ice_mf {
    char *path;
    int64_t length;
    int32_t spec_id, content;
    int64_t seq, min_seq, snapshot_id;
    int32_t added_files, existing_files, deleted_files;
    int64_t added_rows, existing_rows, deleted_rows;
    struct dld_ice_fsum *parts;   /* per partition field; NULL: no summaries (unpartitioned) */
    int nparts;
};

/* The summaries of a partitioned load's data manifest: per field of the
 * spec, whether a file has the null value and the lowest and highest
 * value (ld->partition_spec, ld->file_partitions; schema_json: the table
 * schema, for identity's type). *parts NULL when unpartitioned. */
int dld_ice_partition_summaries(const struct dld_iceberg_load *ld, const char *schema_json,
                                struct dld_ice_fsum **parts, int *nparts, struct dld_error *err);
void dld_ice_fsum_free(struct dld_ice_fsum *v, int n);

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

/* maintenance (iceberg_expire.c): the current metadata with its location
 * (and the catalog's version of the entry, NULL without a catalog) */
int dld_ice_current_ex(const struct dld_lake_storage *st, const char *dir, int64_t *version, char **json, char **loc,
                       char **cat_version, struct dld_error *err);
/* metadata printed with exact 64-bit integers (malloc'ed; NULL: out of memory) */
struct cJSON;
char *dld_ice_print_metadata(struct cJSON *m);
/* makes json the table's metadata version+1 (file system: create-only v<N+1>
 * and the hint; catalog: v<N+1>-<uid> and the swap). *lost: another commit
 * took the version first; read again. */
int dld_ice_put_metadata(const struct dld_lake_storage *st, const char *dir, int64_t version, const char *cur_loc,
                         const char *cat_version, const char *json, const char *uid, bool *lost, struct dld_error *err);

/* A growing byte buffer for the Iceberg writers (Avro containers, the
 * equality-delete key arena). Appends after a failed allocation are dropped
 * and `oom` stays set, so a caller checks once at the end. */
struct dld_ice_buf {
    char *p;
    size_t n, cap;
    bool oom;
};
void dld_ice_buf_put(struct dld_ice_buf *b, const void *data, size_t len);

/* The lake storage's clock when it has one (now_ms, a test seam), else the
 * wall clock, in ms (lake.c). */
int64_t dld_lake_storage_now_ms(const struct dld_lake_storage *st);

#endif

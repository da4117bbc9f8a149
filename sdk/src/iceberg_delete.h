/* Internal: merge_key upserts for table_format iceberg (iceberg_delete.c).
 *
 * A load with a merge key writes, besides its data files:
 *   - an equality-delete file (LOAD…-<uid>-d0001.parquet) holding the key
 *     columns of every row it loads: committed in the same snapshot as the
 *     data, with the same sequence number, it deletes the older versions of
 *     those keys in earlier snapshots and none of the load's own rows (an
 *     equality delete applies to data files of lower sequence numbers only);
 *   - a position-delete file (LOAD…-<uid>-d0002.parquet) when the load
 *     itself holds two versions of one key: every version but the one with
 *     the highest filter value (the last one read among equals) is deleted
 *     by position, so a reader sees one version of each key.
 */
#ifndef DLD_ICEBERG_DELETE_H
#define DLD_ICEBERG_DELETE_H

#include <stdint.h>

#include <deltaload/iceberg.h>

/* The item's "merge_key": a string or an array of strings (column names).
 * *keys NULL and *n 0 when the item has none. DLD_ERR_CONFIG when malformed. */
int dld_ice_merge_key(const char *item_json, char ***keys, int *n, struct dld_error *err);
void dld_ice_merge_key_free(char **keys, int n);

struct dld_ice_upsert;

/* Starts the delete side of a load. schema: the load's columns with field
 * ids (what the data files are written with); ids: their field ids; keys:
 * the merge key columns (looked up by name in schema: a missing one fails
 * naming it); filter_column: the item's filter column or NULL; equality:
 * write the equality-delete file (0 for a full load, whose snapshot replaces
 * the table anyway); wopts: the Parquet writer's options. Borrows st, dir,
 * schema and wopts for its life. */
int dld_ice_upsert_new(const struct dld_lake_storage *st, const char *dir, int64_t load_id, const char *uid,
                       const struct ArrowSchema *schema, const int32_t *ids, char **keys, int nkeys,
                       const char *filter_column, int equality, const char *const *wopts, struct dld_ice_upsert **out,
                       struct dld_error *err);
/* The rows of a batch (a view: its offset is honoured) as they are written
 * to data file number file_index (0-based) from row first_row of that file. */
int dld_ice_upsert_rows(struct dld_ice_upsert *u, const struct ArrowArray *batch, int file_index, int64_t first_row,
                        struct dld_error *err);
/* Completes the delete files; location: the table's URI; data: the load's
 * data file names by index (for the position deletes' file_path). */
int dld_ice_upsert_finish(struct dld_ice_upsert *u, const char *location, const struct dld_lake_file *data, int ndata,
                          struct dld_error *err);
/* The completed delete files (valid until free). */
const struct dld_iceberg_delete *dld_ice_upsert_deletes(const struct dld_ice_upsert *u, int *n);
/* Frees; abandons an unfinished delete file. */
void dld_ice_upsert_free(struct dld_ice_upsert *u);

/* Delete manifest (content "deletes") of a load's delete files, entries
 * ADDED with inherited snapshot id and sequence numbers (iceberg_avro.c). */
int dld_ice_write_delete_manifest(const char *location, const char *schema_json, const struct dld_iceberg_load *ld,
                                  void **out, size_t *len, struct dld_error *err);

#endif

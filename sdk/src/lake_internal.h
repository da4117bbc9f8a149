/* Internal: what the lake layer's two halves share: lake.c (a load's
 * files, manifests and the fenced publish / discard) and lake_partition.c
 * (partition_by: a batch's rows routed to a file per partition value). */
#ifndef DLD_LAKE_INTERNAL_H
#define DLD_LAKE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <deltaload/iceberg.h>
#include <deltaload/lake.h>
#include <deltaload/sdk.h>

#include "iceberg_partition.h"

/* a partitioned table's data files: data/<field>=<value>/.../LOAD…; storage->list
 * of this prefix lists every name below it, at any depth */
#define DLD_LAKE_PARTITIONED_DIR "data/"

struct dld_ice_upsert; /* iceberg_delete.h */

/* a data file being written and its writer */
struct dld_lake_out {
    char *name;
    void *file;
    struct dld_sink sink;          /* the writer borrows it: it must not move */
    struct dld_format_writer *writer;
};

/* partition_by: one partition value of the load (docs/iceberg.md#partitioning-partition_by) */
struct dld_lake_part {
    unsigned char *key;            /* the encoded values (lake_partition.c, s_part_key) */
    size_t klen;
    char *dir;                     /* "data/<field>=<value>/.../": where its files go */
    char *values;                  /* its values for the manifests (iceberg.h file_partitions) */
    struct dld_lake_out *out;      /* the open file, NULL when none */
    uint64_t used;                 /* when a row last went to it (least recently used closes first) */
    uint64_t gen;                  /* the batch its slot and nruns are of */
    int slot, nruns;               /* its order of appearance in that batch, its runs there */
};

/* rows [start, start + n) of a batch, all of one partition */
struct dld_lake_run {
    struct dld_lake_part *part;
    int64_t start, n;
};

/* a load through the layer (lake.h's dld_lake_load_begin .. free) */
struct dld_lake_load {
    struct dld_lake_storage st;    /* a copy: the target's may live on its stack */
    const char *const *options;    /* borrowed for the load's life */
    const char *format, *extension, *content_type;
    int64_t max_file_size;
    struct dld_load *load;         /* our own copy */
    const char *uid;               /* load->load_uid, NULL for a legacy load */
    char *dir;
    char **meta;                   /* file metadata, the same for every file */
    struct ArrowSchema schema;     /* the first non-empty batch's schema; the writers borrow it */
    struct dld_lake_file *files;   /* completed files, names malloc'ed */
    int nfiles, cap;
    int nopened;                   /* files opened so far: the next file's number - 1 */
    struct dld_lake_out out;       /* the file being written (unpartitioned) */
    bool finished;
    /* partition_by (iceberg_partition.h): the fields, their columns, the
     * partition values seen in this load (a hash table of indices into parts) */
    struct dld_ice_partition_field *pfields;
    int npf;
    int *pcols;
    char *pspec;                   /* the spec's JSON, from the first file on */
    struct dld_lake_part **parts;
    int nparts, parts_cap;
    int *ptab;                     /* open addressing, -1 empty; ptab_cap a power of 2 */
    int ptab_cap;
    int nopen, max_open;
    uint64_t tick;
    struct dld_lake_run *runs;     /* the current batch's runs */
    int nruns, runs_cap, nslots;
    uint64_t gen;                  /* batches written so far */
    unsigned char *kbuf;           /* a row's key */
    size_t kcap;
    const char **file_parts;       /* per completed file: its partition's values (borrowed), for the manifests */
    /* table_format iceberg (iceberg.h) */
    bool iceberg;
    char **wopts;                  /* the writer's options: timestamp_unit=us */
    char *ice_schema;              /* the Iceberg schema of the files, from the first file on */
    int32_t *ice_ids;              /* field id of each column */
    struct ArrowSchema ice_arrow;  /* l->schema with PARQUET:field_id, what the writer gets */
    char **ice_meta;               /* l->meta + iceberg.schema */
    char *ice_file_schema;         /* the Iceberg schema of the files' own columns (iceberg.schema) */
    char **merge_keys;             /* the item's merge_key columns (upserts), NULL: append only */
    int nmerge;
    struct dld_ice_upsert *ice_up; /* the load's delete files (iceberg_delete.h) */
    bool ice_has_rows;             /* the table's current snapshot has rows (when the schema was read) */
    struct dld_iceberg_file_stats *ice_stats; /* per completed file (room for cap), for the manifests */
    char *ice_table_spec;          /* the table's default partition spec's fields (NULL: no table yet) */
    bool ice_table_empty;          /* the table's schema has no columns (nothing was ever written) */
};

/* ---- lake.c: the write path ------------------------------------------------------------------- */

/* Writes rows [start, start + count) of the batch to o's file, opening one
 * as needed and rolling it at max_file_size; part: the partition the rows
 * are of (its folder), NULL for an unpartitioned load. */
int dld_lake_write_rows(struct dld_lake_load *l, struct dld_lake_out *o, const struct dld_lake_part *part,
                        const struct ArrowArray *batch, int64_t start, int64_t count, struct dld_error *err);
/* Finishes o's file, if one is open, and adds it to the load's files. */
int dld_lake_close_file(struct dld_lake_load *l, struct dld_lake_out *o, const struct dld_lake_part *part,
                        struct dld_error *err);

/* ---- lake_partition.c: partition_by ----------------------------------------------------------- */

/* Writes a batch of a partitioned load (l->npf > 0; l->pcols known). */
int dld_lake_write_partitioned(struct dld_lake_load *l, const struct ArrowArray *batch, struct dld_error *err);
/* Closes every partition's open file (the load's finish). */
int dld_lake_parts_close(struct dld_lake_load *l, struct dld_error *err);
/* Frees the partitions, abandoning the files still open. */
void dld_lake_parts_free(struct dld_lake_load *l);

#endif

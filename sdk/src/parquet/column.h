/* Internal: the writer of one column chunk. Values arrive a slice of rows
 * at a time, are encoded into data pages (dictionary indices or PLAIN,
 * with RLE definition levels for nullable columns), handed to the
 * compression pool and kept, compressed, until the row group is flushed,
 * when the dictionary page and the data pages go to the sink together. */
#ifndef DLD_PQ_COLUMN_H
#define DLD_PQ_COLUMN_H

#include <stdbool.h>
#include <stdint.h>

#include <deltaload/format.h>

#include "compress.h"
#include "cpool.h"
#include "dict.h"
#include "pq_buf.h"
#include "schema.h"
#include "stats.h"

/* rows handed to a column at once: bounds the scratch arrays */
#define DLD_PQ_SLICE 4096
/* rows per data page at most, whatever their size */
#define DLD_PQ_PAGE_MAX_ROWS 262144

struct dld_pq_column_opts {
    size_t page_size; /* target encoded bytes per data page */
    size_t dict_max;  /* a dictionary larger than this falls back to PLAIN; 0 = never use one */
    struct dld_pq_cpool *pool;
};

/* what the footer needs of one finished column chunk */
struct dld_pq_chunk_meta {
    int64_t num_values;
    int64_t total_uncompressed; /* page headers included, as the spec counts */
    int64_t total_compressed;
    int64_t data_page_offset;
    int64_t dict_page_offset; /* -1: no dictionary page */
    int32_t dict_data_pages;  /* data pages encoded RLE_DICTIONARY */
    int32_t plain_data_pages;
    struct dld_pq_stats_out stats;
};

struct dld_pq_column {
    const struct dld_pq_coldesc *d;
    const struct dld_pq_column_opts *o;
    bool dict_mode; /* values of the open page go through the dictionary */
    bool dict_used; /* some finished page of this chunk did */
    bool dict_off;  /* the dictionary did not pay for this column: PLAIN from now on */
    struct dld_pq_dict dict;
    struct dld_pq_buf vals; /* open page: PLAIN bytes, or uint32 dictionary indices */
    struct dld_pq_buf defs; /* open page: validity bitmap = the definition levels */
    uint32_t page_rows;
    uint32_t page_values; /* non-null values in the open page */
    size_t page_plain;    /* PLAIN size of the open page's values (dictionary mode) */
    struct dld_pq_buf scratch; /* indices rewritten as PLAIN */
    /* the chunk's data pages, in order, as compression jobs; jobs below
     * nfenced are done and counted at their compressed size */
    struct dld_pq_page_job **jobs;
    size_t njobs, jobs_cap, nfenced;
    struct dld_pq_page_job *dict_job; /* between close and flush */
    uint64_t fenced_bytes;  /* header + compressed bytes of jobs[0..nfenced) */
    uint64_t unfenced_raw;  /* uncompressed bytes of the other jobs (and the dictionary page's) */
    int64_t chunk_rows;
    int64_t chunk_raw; /* uncompressed page bodies so far: sizes the row group, whatever the timing */
    int32_t dict_data_pages, plain_data_pages;
    struct dld_pq_stats stats;
    /* scratch for one slice: values as read from Arrow, then narrowed */
    void *wide;
    void *narrow;
    uint32_t *idx;
    struct dld_pq_view *views;
};

int dld_pq_column_init(struct dld_pq_column *c, const struct dld_pq_coldesc *d, const struct dld_pq_column_opts *o);
void dld_pq_column_clean_up(struct dld_pq_column *c);
/* Encodes rows [start, start+n) of one child array (start counts from the
 * child's own offset), n <= DLD_PQ_SLICE. */
int dld_pq_column_write(struct dld_pq_column *c, const struct ArrowArray *a, int64_t start, int64_t n,
                        struct dld_error *err);
/* uncompressed bytes of the chunk so far (page bodies, headers not
 * counted), open page and dictionary included */
uint64_t dld_pq_column_raw_size(const struct dld_pq_column *c);
/* bytes held in memory for the chunk: pages up to the last fence at their
 * compressed size, later ones at their uncompressed size */
uint64_t dld_pq_column_held(const struct dld_pq_column *c);
/* counts the pages submitted before fence (all done: the caller waited) at
 * their compressed size */
void dld_pq_column_fence(struct dld_pq_column *c, uint64_t fence);
/* Ends the chunk: the open page and the dictionary page go to the pool.
 * Then wait for the pool, then flush. */
int dld_pq_column_close(struct dld_pq_column *c, struct dld_error *err);
/* Writes the closed chunk to the sink at file position *pos (advanced),
 * fills meta, and readies the column for the next row group. Every job
 * of the chunk must be done. */
int dld_pq_column_flush(struct dld_pq_column *c, const struct dld_sink *sink, uint64_t *pos,
                        struct dld_pq_chunk_meta *meta, struct dld_error *err);

#endif

/* Internal: compresses the writer's pages, in the writer's own thread or on
 * worker threads shared by every writer of the process.
 *
 * A column hands each finished page over as a job and goes on encoding; the
 * job comes back as header + compressed body, which the column keeps until
 * the row group is flushed. What ends up in the file does not depend on the
 * number of threads nor on the other writers: each page is compressed on
 * its own (its writer's codec, its level, same bytes in), and the column
 * writes its jobs in the order it made them.
 *
 * Each writer has its own pool (its queue, buffers and slabs); the workers
 * are process-wide: started by the first writer that submits a page, as many
 * as the largest `threads` a registered writer asked for, stopped when the
 * last pool is destroyed. They serve the writers' queues round-robin, so a
 * small table is not stuck behind a big one's backlog (cpool.c).
 *
 * Thread-safety: every function taking a pool is called from that
 * writer's thread only (any thread for carve); the workers touch a job only
 * between submit and the wait that covers it, and the shared lists only
 * under the process-wide mutex. */
#ifndef DLD_PQ_CPOOL_H
#define DLD_PQ_CPOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "compress.h"
#include "pq_buf.h"

struct dld_pq_page_job {
    /* in: filled by the column before submit */
    struct dld_pq_buf body; /* the page, uncompressed (a buffer the pool lends) */
    int page_type;          /* DATA_PAGE 0, DICTIONARY_PAGE 2 */
    int32_t num_values;
    int encoding; /* data pages: the values' encoding */
    uint64_t seq; /* submission order, set by submit */
    uint64_t pick; /* tests: the how-many-th job a worker took (process-wide); UINT64_MAX if none did */
    /* out: valid once a wait covers seq */
    uint8_t *out; /* page header + compressed body, exactly out_len bytes, carved from the pool's slabs */
    size_t out_len, hdr_len, body_len;
    const char *msg; /* why it failed (static text); NULL when it did not */
    struct dld_pq_page_job *next; /* queue / free list link */
    struct dld_pq_cpool *pool;
};

struct dld_pq_cpool;

/* threads <= 1, or codec none: no workers, pages are compressed at submit.
 * Otherwise the pool uses the process's shared workers, started at the
 * first submit (up to `threads` of them if fewer run), with at most
 * 2 * threads of its jobs queued. NULL when out of memory. */
struct dld_pq_cpool *dld_pq_cpool_new(enum dld_pq_codec codec, int level, int threads);
/* Unregisters and frees the pool, after stop; the last pool of the process
 * stops and joins the shared workers.
 * Jobs belong to the columns: free them with dld_pq_cpool_job_free first,
 * or after dld_pq_cpool_stop. */
void dld_pq_cpool_destroy(struct dld_pq_cpool *p);
/* Drops this pool's queued jobs (not run) and waits for those a worker is
 * running: no worker holds one of its pages from here on; later submits
 * compress in the caller's thread. */
void dld_pq_cpool_stop(struct dld_pq_cpool *p);

/* a job with an empty body buffer to fill; NULL when out of memory */
struct dld_pq_page_job *dld_pq_cpool_job_new(struct dld_pq_cpool *p);
void dld_pq_cpool_job_free(struct dld_pq_cpool *p, struct dld_pq_page_job *job);
/* Queues the job, or runs it here when there are no workers (threads <= 1,
 * codec none, or none could be started). With the queue full, runs the
 * oldest queued job here first. */
void dld_pq_cpool_submit(struct dld_pq_cpool *p, struct dld_pq_page_job *job);
/* the seq the next submitted job will get */
uint64_t dld_pq_cpool_next_seq(const struct dld_pq_cpool *p);
/* Returns once every job with seq < fence is done; runs queued ones itself
 * meanwhile rather than sleep. */
void dld_pq_cpool_wait_below(struct dld_pq_cpool *p, uint64_t fence);
/* The lagging fence behind the writer's size(): waits for the jobs
 * submitted before the previous call, returns that seq (every job below it
 * is done) and moves the mark to now. Deterministic whatever the timing, so
 * size() is too. */
uint64_t dld_pq_cpool_fence(struct dld_pq_cpool *p);

/* n bytes for a job's out, from the pool's slabs: bump allocation in
 * chunks of a few MiB, given back all at once when the last job holding
 * some is freed (a row group's flush), then reused: no allocation per
 * page, and memory near the row group's compressed bytes. NULL when out of
 * memory. Any thread. */
uint8_t *dld_pq_cpool_carve(struct dld_pq_cpool *p, size_t n);

/* reusable buffers of one compressing thread */
struct dld_pq_page_scratch {
    struct dld_pq_buf comp, hdr;
};

/* Compresses job->body with c into job->out (the page header first).
 * 0, or -1 with job->msg set. Any thread, each with its own c and s. */
int dld_pq_page_encode(struct dld_pq_compressor *c, struct dld_pq_page_scratch *s, struct dld_pq_page_job *job);
void dld_pq_page_scratch_clean_up(struct dld_pq_page_scratch *s);

/* tests: while held, workers take no job (the writers' own threads still
 * compress theirs when they would wait); the number of workers running;
 * the number of jobs workers have taken so far */
void dld_pq_cpool_debug_hold(bool hold);
int dld_pq_cpool_debug_workers(void);
uint64_t dld_pq_cpool_debug_picks(void);

#endif

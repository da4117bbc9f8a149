/* The Parquet format writer (dld_format_parquet, behind format.h).
 *
 * Layout written: "PAR1", then per row group each column chunk in schema
 * order (dictionary page, data pages), then the Thrift compact FileMetaData,
 * its length (4 bytes LE) and "PAR1". Batches are cut into slices of
 * DLD_PQ_SLICE rows; after each slice the row group is flushed once its
 * uncompressed size reaches row_group_size, so memory stays near one row
 * group (compressed) whatever the batch or table size. Pages are compressed
 * by a small pool of threads (cpool.h) while the batches go on being
 * encoded; the file is the same whatever the number of threads. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <deltaload/sdk.h>

#include "../format_impl.h"
#include "column.h"
#include "compress.h"
#include "cpool.h"
#include "schema.h"
#include "thrift.h"

#ifdef DLD_VERSION
#define S_CREATED_BY "deltaload version " DLD_VERSION
#else
#define S_CREATED_BY "deltaload"
#endif

#define S_DEFAULT_ROW_GROUP (64 * 1024 * 1024)
#define S_DEFAULT_BUDGET (256 * 1024 * 1024)
#define S_DEFAULT_PAGE (1024 * 1024)
#define S_DEFAULT_DICT_MAX (1024 * 1024)
#define S_MAX_THREADS 64
#define S_DEFAULT_MAX_THREADS 4

struct s_row_group {
    int64_t rows;
    int64_t file_offset;
    int64_t total_uncompressed;
    int64_t total_compressed;
    struct dld_pq_chunk_meta *chunks; /* one per column */
};

struct s_writer {
    struct dld_sink sink;
    uint64_t pos; /* bytes handed to the sink */
    size_t ncols;
    struct dld_pq_coldesc *descs;
    struct dld_pq_column *cols;
    struct dld_pq_column_opts opts;
    enum dld_pq_codec codec;
    struct dld_pq_cpool *pool;
    uint64_t row_group_size;
    uint64_t page_size;     /* as configured; opts.page_size is the share in force */
    uint64_t memory_budget; /* for every writer open in this process (see s_open_writers) */
    bool counted;           /* counted in s_open_writers */
    int64_t rg_rows;
    int64_t rows;
    struct s_row_group *rgs;
    size_t nrgs, rgs_cap;
    char **kv; /* key, value, key, value ... (copies) */
    size_t nkv;
    bool failed;
    bool finished;
    bool flushing; /* size() called from the sink during a flush leaves the fence alone */
};

static void s_destroy(void *impl);

/* ---- memory shared by the open writers --------------------------------------------
 * Several tables loading at once each have a writer in this process (one
 * target plugin, one copy of this library). What a writer holds grows with
 * its row group (compressed pages until the flush), its page size (an open
 * page per column, pages queued for compression); so those are divided
 * among the writers open at the moment: with
 * N open, a writer flushes its row group at min(row_group_size,
 * memory_budget / 4 / N) uncompressed bytes, closes pages at
 * min(page_size, memory_budget / 64 / N). The compressing threads are not
 * divided: the writers share one set of them (cpool.c), each writer with at
 * most 2 pages per thread queued, i.e. at most memory_budget / 8 of queued
 * pages in all with the defaults. One writer
 * alone, with the defaults, is not affected (256 MiB / 4 = 64 MiB, the
 * default row group). The shares follow N as loads start and end, so with
 * several loads running the row group boundaries depend on timing; the
 * rows, their order and the values never do. */
static int s_open_writers;

static uint64_t s_share(const struct s_writer *w, uint64_t configured, uint64_t fraction, uint64_t floor)
{
    int n = __atomic_load_n(&s_open_writers, __ATOMIC_RELAXED);
    uint64_t share = w->memory_budget / fraction / (uint64_t)(n > 1 ? n : 1);
    share = share > floor ? share : floor;
    return configured < share ? configured : share;
}

/* the row group size in force */
static uint64_t s_rg_limit(const struct s_writer *w)
{
    return s_share(w, w->row_group_size, 4, 1024 * 1024);
}

/* ---- options ------------------------------------------------------------------ */

static int s_opt_size(const char *const *options, const char *name, int64_t dflt, int64_t min, int64_t *out,
                      struct dld_error *err)
{
    const char *v = dld_opt_get(options, name);
    if (v == NULL || *v == '\0') {
        *out = dflt;
        return DLD_OK;
    }
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || *end || x < min)
        return dld_error_set(err, DLD_ERR_CONFIG, "parquet option %s: expected a whole number of bytes >= %lld, got '%s'",
                             name, (long long)min, v);
    *out = x;
    return DLD_OK;
}

static int s_options(struct s_writer *w, const char *const *options, int *ts_unit, struct dld_error *err)
{
    const char *v = dld_opt_get(options, "compression");
    enum dld_pq_codec codec = DLD_PQ_ZSTD;
    if (v && *v && dld_pq_codec_from_name(v, &codec))
        return dld_error_set(err, DLD_ERR_CONFIG, "parquet option compression: '%s' is not one of zstd, snappy, gzip, none", v);
    int lo, hi, level;
    bool has_levels = dld_pq_codec_level_range(codec, &lo, &hi, &level) == 0;
    v = dld_opt_get(options, "compression_level");
    if (v && *v) {
        char *end;
        long x = strtol(v, &end, 10);
        if (!has_levels)
            return dld_error_set(err, DLD_ERR_CONFIG, "parquet option compression_level: %s has no levels",
                                 dld_pq_codec_name(codec));
        if (*end || x < lo || x > hi)
            return dld_error_set(err, DLD_ERR_CONFIG, "parquet option compression_level: %s takes %d..%d, got '%s'",
                                 dld_pq_codec_name(codec), lo, hi, v);
        level = (int)x;
    }
    /* default: one compressing thread per CPU, a few at most. The threads
     * are shared by every writer of the process (cpool.c): several tables
     * loading at once still run min(CPUs, 4) of them in all. */
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int64_t threads = ncpu < 1 ? 1 : ncpu > S_DEFAULT_MAX_THREADS ? S_DEFAULT_MAX_THREADS : ncpu;
    v = dld_opt_get(options, "compression_threads");
    if (v && *v) {
        char *end;
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (errno || *end || x < 1 || x > S_MAX_THREADS)
            return dld_error_set(err, DLD_ERR_CONFIG, "parquet option compression_threads: expected 1..%d, got '%s'",
                                 S_MAX_THREADS, v);
        threads = x;
    }
    w->codec = codec;
    w->pool = dld_pq_cpool_new(codec, level, (int)threads);
    if (!w->pool)
        return dld_error_set(err, DLD_ERR_FATAL, "parquet: cannot set up %s compression", dld_pq_codec_name(codec));

    int64_t rg = 0, page = 0, dict = 0, budget = 0;
    int rc = s_opt_size(options, "row_group_size", S_DEFAULT_ROW_GROUP, 1024, &rg, err);
    if (rc == DLD_OK)
        rc = s_opt_size(options, "memory_budget", S_DEFAULT_BUDGET, 1024 * 1024, &budget, err);
    if (rc == DLD_OK)
        rc = s_opt_size(options, "page_size", S_DEFAULT_PAGE, 1024, &page, err);
    if (rc == DLD_OK)
        rc = s_opt_size(options, "dictionary_max_bytes", S_DEFAULT_DICT_MAX, 0, &dict, err);
    if (rc != DLD_OK)
        return rc;
    if (page > INT32_MAX / 2)
        return dld_error_set(err, DLD_ERR_CONFIG, "parquet option page_size: at most %d bytes", INT32_MAX / 2);
    w->row_group_size = (uint64_t)rg;
    w->memory_budget = (uint64_t)budget;
    w->page_size = (uint64_t)page;
    w->opts.page_size = (size_t)s_share(w, w->page_size, 64, 64 * 1024);
    w->opts.dict_max = (size_t)dict;
    w->opts.pool = w->pool;

    v = dld_opt_get(options, "timestamp_unit");
    *ts_unit = 0;
    if (v && *v) {
        if (!strcasecmp(v, "ms"))
            *ts_unit = 1;
        else if (!strcasecmp(v, "us"))
            *ts_unit = 2;
        else if (strcasecmp(v, "native"))
            return dld_error_set(err, DLD_ERR_CONFIG, "parquet option timestamp_unit: '%s' is not one of native, ms, us", v);
    }
    return DLD_OK;
}

/* ---- create -------------------------------------------------------------------- */

static int s_copy_metadata(struct s_writer *w, const char *const *metadata, struct dld_error *err)
{
    size_t n = 0;
    while (metadata && metadata[n] && metadata[n + 1])
        n += 2;
    if (metadata && metadata[n])
        return dld_error_set(err, DLD_ERR_FATAL, "parquet: metadata key '%s' has no value", metadata[n]);
    w->kv = calloc(n + 1, sizeof(char *));
    if (!w->kv)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    for (size_t i = 0; i < n; i++)
        if ((w->kv[i] = strdup(metadata[i])) == NULL)
            return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    w->nkv = n;
    return DLD_OK;
}

static void *s_create(const char *const *options, const struct ArrowSchema *schema, const struct dld_sink *sink,
                      const char *const *metadata, struct dld_error *err)
{
    if (schema == NULL || schema->format == NULL || strcmp(schema->format, "+s") != 0) {
        dld_error_set(err, DLD_ERR_UNSUPPORTED, "parquet: the batch schema must be an Arrow struct (+s)");
        return NULL;
    }
    if (schema->n_children < 1) {
        dld_error_set(err, DLD_ERR_UNSUPPORTED, "parquet: a file needs at least one column");
        return NULL;
    }
    struct s_writer *w = calloc(1, sizeof(*w));
    if (!w) {
        dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        return NULL;
    }
    w->sink = *sink;
    __atomic_add_fetch(&s_open_writers, 1, __ATOMIC_RELAXED);
    w->counted = true;
    int ts_unit;
    if (s_options(w, options, &ts_unit, err) || s_copy_metadata(w, metadata, err))
        goto fail;
    w->ncols = (size_t)schema->n_children;
    w->descs = calloc(w->ncols, sizeof(*w->descs));
    w->cols = calloc(w->ncols, sizeof(*w->cols));
    if (!w->descs || !w->cols) {
        dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < w->ncols; i++) {
        if (dld_pq_coldesc_from_arrow(schema->children[i], ts_unit, &w->descs[i], err))
            goto fail;
        if (dld_pq_column_init(&w->cols[i], &w->descs[i], &w->opts)) {
            dld_error_set(err, DLD_ERR_FATAL, "out of memory");
            goto fail;
        }
    }
    return w;
fail:
    s_destroy(w);
    return NULL;
}

/* ---- writing --------------------------------------------------------------------- */

static int s_sink_write(struct s_writer *w, const void *p, size_t n, struct dld_error *err)
{
    int rc = w->sink.write(w->sink.ctx, p, n, err);
    if (rc == DLD_OK)
        w->pos += n;
    return rc;
}

static int s_magic(struct s_writer *w, struct dld_error *err)
{
    return w->pos == 0 ? s_sink_write(w, "PAR1", 4, err) : DLD_OK;
}

static uint64_t s_raw_size(const struct s_writer *w)
{
    uint64_t n = 0;
    for (size_t i = 0; i < w->ncols; i++)
        n += dld_pq_column_raw_size(&w->cols[i]);
    return n;
}

static int s_flush_row_group(struct s_writer *w, struct dld_error *err)
{
    if (w->rg_rows == 0)
        return DLD_OK;
    int rc = s_magic(w, err);
    if (rc != DLD_OK)
        return rc;
    if (w->nrgs == w->rgs_cap) {
        size_t cap = w->rgs_cap ? w->rgs_cap * 2 : 8;
        struct s_row_group *r = realloc(w->rgs, cap * sizeof(*r));
        if (!r)
            return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        w->rgs = r;
        w->rgs_cap = cap;
    }
    struct s_row_group *rg = &w->rgs[w->nrgs];
    memset(rg, 0, sizeof(*rg));
    rg->chunks = calloc(w->ncols, sizeof(*rg->chunks));
    if (!rg->chunks)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    w->nrgs++;
    rg->rows = w->rg_rows;
    rg->file_offset = (int64_t)w->pos;
    /* the last pages and the dictionaries join the queue; once all are
     * compressed the chunks go out in schema order */
    for (size_t i = 0; i < w->ncols; i++)
        if ((rc = dld_pq_column_close(&w->cols[i], err)) != DLD_OK)
            return rc;
    dld_pq_cpool_wait_below(w->pool, dld_pq_cpool_next_seq(w->pool));
    w->flushing = true;
    for (size_t i = 0; i < w->ncols; i++) {
        /* the column writes through our sink; pos is kept by it */
        uint64_t pos = w->pos;
        rc = dld_pq_column_flush(&w->cols[i], &w->sink, &pos, &rg->chunks[i], err);
        if (rc != DLD_OK) {
            w->flushing = false;
            return rc;
        }
        w->pos = pos;
        rg->total_uncompressed += rg->chunks[i].total_uncompressed;
        rg->total_compressed += rg->chunks[i].total_compressed;
    }
    w->flushing = false;
    w->rg_rows = 0;
    return DLD_OK;
}

/* PLAIN bytes of rows [row, row+n) of the batch: widths for fixed-size
 * columns, offset differences for strings (O(1) per column) */
static uint64_t s_slice_bytes(const struct s_writer *w, const struct ArrowArray *batch, int64_t row, int64_t n)
{
    uint64_t total = 0;
    for (size_t i = 0; i < w->ncols; i++) {
        const struct dld_pq_coldesc *d = &w->descs[i];
        const struct ArrowArray *a = batch->children[i];
        int64_t lo = a->offset + batch->offset + row, hi = lo + n;
        if (d->src == DLD_PQ_SRC_BIN32 && a->n_buffers > 1 && a->buffers[1])
            total += (uint64_t)(((const int32_t *)a->buffers[1])[hi] - ((const int32_t *)a->buffers[1])[lo]);
        else if (d->src == DLD_PQ_SRC_BIN64 && a->n_buffers > 1 && a->buffers[1])
            total += (uint64_t)(((const int64_t *)a->buffers[1])[hi] - ((const int64_t *)a->buffers[1])[lo]);
        total += (uint64_t)n * (d->phys == DLD_PQ_FLBA ? (uint64_t)d->type_length : 8);
    }
    return total;
}

/* Rows for the next slice: DLD_PQ_SLICE, fewer when they would overshoot
 * the row group by much (very long strings), at least one. */
static int64_t s_slice_rows(const struct s_writer *w, const struct ArrowArray *batch, int64_t row)
{
    int64_t n = batch->length - row < DLD_PQ_SLICE ? batch->length - row : DLD_PQ_SLICE;
    uint64_t raw = s_raw_size(w);
    uint64_t limit = s_rg_limit(w);
    uint64_t room = limit > raw ? limit - raw : 0;
    room = room > w->opts.page_size ? room : w->opts.page_size;
    while (n > 1 && s_slice_bytes(w, batch, row, n) > room)
        n /= 2;
    return n;
}

static int s_write(void *impl, const struct ArrowArray *batch, struct dld_error *err)
{
    struct s_writer *w = impl;
    if (w->failed || w->finished)
        return dld_error_set(err, DLD_ERR_FATAL, "parquet: writer is %s", w->failed ? "in a failed state" : "finished");
    if (batch == NULL || batch->n_children != (int64_t)w->ncols)
        return dld_error_set(err, DLD_ERR_FATAL, "parquet: batch has %lld columns, the schema %zu",
                             batch ? (long long)batch->n_children : 0LL, w->ncols);
    if (batch->null_count > 0 || batch->length < 0)
        return dld_error_set(err, DLD_ERR_UNSUPPORTED, "parquet: null rows at the batch level are not supported");
    for (size_t i = 0; i < w->ncols; i++)
        if (batch->children[i]->length < batch->offset + batch->length)
            return dld_error_set(err, DLD_ERR_FATAL, "parquet: column %s is shorter than the batch", w->descs[i].name);

    /* the page size in force for the pages this batch opens (s_share) */
    w->opts.page_size = (size_t)s_share(w, w->page_size, 64, 64 * 1024);
    for (int64_t row = 0; row < batch->length;) {
        int64_t n = s_slice_rows(w, batch, row);
        for (size_t i = 0; i < w->ncols; i++) {
            int rc = dld_pq_column_write(&w->cols[i], batch->children[i], batch->offset + row, n, err);
            if (rc != DLD_OK) {
                w->failed = true;
                return rc;
            }
        }
        row += n;
        w->rg_rows += n;
        w->rows += n;
        if (s_raw_size(w) >= s_rg_limit(w)) {
            int rc = s_flush_row_group(w, err);
            if (rc != DLD_OK) {
                w->failed = true;
                return rc;
            }
        }
    }
    return DLD_OK;
}

/* Pages submitted before the previous call count at their compressed size
 * (waiting for them if need be: they normally are done, a batch ago),
 * later ones at their uncompressed size. Any other rule would make the
 * answer, and so where a target rolls to a new file, depend on timing. */
static uint64_t s_size(const void *impl)
{
    const struct s_writer *w = impl;
    if (!w->flushing && !w->failed) {
        uint64_t fence = dld_pq_cpool_fence(w->pool);
        for (size_t i = 0; i < w->ncols; i++)
            dld_pq_column_fence(&w->cols[i], fence);
    }
    uint64_t n = w->pos ? w->pos : 4;
    for (size_t i = 0; i < w->ncols; i++)
        n += dld_pq_column_held(&w->cols[i]);
    return n;
}

/* ---- footer ------------------------------------------------------------------------- */

static void s_statistics(struct dld_pq_thrift *t, const struct dld_pq_stats_out *s)
{
    dld_pq_thrift_struct_begin(t, 12); /* ColumnMetaData.statistics */
    dld_pq_thrift_i64(t, 3, s->null_count);
    if (s->has_max)
        dld_pq_thrift_binary(t, 5, s->max.data, s->max.len);
    if (s->has_min)
        dld_pq_thrift_binary(t, 6, s->min.data, s->min.len);
    if (s->has_max)
        dld_pq_thrift_bool(t, 7, s->max_exact);
    if (s->has_min)
        dld_pq_thrift_bool(t, 8, s->min_exact);
    if (s->has_nan_count)
        dld_pq_thrift_i64(t, 9, s->nan_count);
    dld_pq_thrift_struct_end(t);
}

static void s_page_stat(struct dld_pq_thrift *t, int page_type, int encoding, int32_t count)
{
    dld_pq_thrift_elem_struct_begin(t);
    dld_pq_thrift_i32(t, 1, page_type);
    dld_pq_thrift_i32(t, 2, encoding);
    dld_pq_thrift_i32(t, 3, count);
    dld_pq_thrift_struct_end(t);
}

static void s_column_chunk(struct s_writer *w, struct dld_pq_thrift *t, const struct dld_pq_coldesc *d,
                           const struct dld_pq_chunk_meta *m)
{
    enum { PLAIN = 0, RLE = 3, RLE_DICTIONARY = 8, DATA_PAGE = 0, DICTIONARY_PAGE = 2 };
    dld_pq_thrift_elem_struct_begin(t);
    dld_pq_thrift_i64(t, 2, 0); /* file_offset: deprecated, 0 as the spec asks */
    dld_pq_thrift_struct_begin(t, 3); /* ColumnMetaData */
    dld_pq_thrift_i32(t, 1, d->phys);
    int encs[3], nenc = 0;
    if (m->dict_page_offset >= 0 || m->plain_data_pages > 0)
        encs[nenc++] = PLAIN;
    encs[nenc++] = RLE;
    if (m->dict_data_pages > 0)
        encs[nenc++] = RLE_DICTIONARY;
    dld_pq_thrift_list_begin(t, 2, DLD_PQ_T_I32, (uint32_t)nenc);
    for (int i = 0; i < nenc; i++)
        dld_pq_thrift_elem_i32(t, encs[i]);
    dld_pq_thrift_list_begin(t, 3, DLD_PQ_T_BINARY, 1);
    dld_pq_thrift_elem_binary(t, d->name, strlen(d->name));
    dld_pq_thrift_i32(t, 4, w->codec);
    dld_pq_thrift_i64(t, 5, m->num_values);
    dld_pq_thrift_i64(t, 6, m->total_uncompressed);
    dld_pq_thrift_i64(t, 7, m->total_compressed);
    dld_pq_thrift_i64(t, 9, m->data_page_offset);
    if (m->dict_page_offset >= 0)
        dld_pq_thrift_i64(t, 11, m->dict_page_offset);
    s_statistics(t, &m->stats);
    uint32_t nstats = (m->dict_page_offset >= 0) + (m->dict_data_pages > 0) + (m->plain_data_pages > 0);
    dld_pq_thrift_list_begin(t, 13, DLD_PQ_T_STRUCT, nstats); /* encoding_stats */
    if (m->dict_page_offset >= 0)
        s_page_stat(t, DICTIONARY_PAGE, PLAIN, 1);
    if (m->dict_data_pages > 0)
        s_page_stat(t, DATA_PAGE, RLE_DICTIONARY, m->dict_data_pages);
    if (m->plain_data_pages > 0)
        s_page_stat(t, DATA_PAGE, PLAIN, m->plain_data_pages);
    dld_pq_thrift_struct_end(t); /* ColumnMetaData */
    dld_pq_thrift_struct_end(t); /* ColumnChunk */
}

static int s_footer(struct s_writer *w, struct dld_pq_buf *out)
{
    struct dld_pq_thrift t;
    dld_pq_thrift_init(&t, out);
    dld_pq_thrift_message_begin(&t);
    dld_pq_thrift_i32(&t, 1, 2); /* version */
    dld_pq_thrift_list_begin(&t, 2, DLD_PQ_T_STRUCT, (uint32_t)w->ncols + 1);
    dld_pq_thrift_elem_struct_begin(&t); /* the root: a group of all columns */
    dld_pq_thrift_string(&t, 4, "schema");
    dld_pq_thrift_i32(&t, 5, (int32_t)w->ncols);
    dld_pq_thrift_struct_end(&t);
    for (size_t i = 0; i < w->ncols; i++)
        dld_pq_schema_element(&t, &w->descs[i]);
    dld_pq_thrift_i64(&t, 3, w->rows);
    dld_pq_thrift_list_begin(&t, 4, DLD_PQ_T_STRUCT, (uint32_t)w->nrgs);
    for (size_t r = 0; r < w->nrgs; r++) {
        const struct s_row_group *rg = &w->rgs[r];
        dld_pq_thrift_elem_struct_begin(&t);
        dld_pq_thrift_list_begin(&t, 1, DLD_PQ_T_STRUCT, (uint32_t)w->ncols);
        for (size_t i = 0; i < w->ncols; i++)
            s_column_chunk(w, &t, &w->descs[i], &rg->chunks[i]);
        dld_pq_thrift_i64(&t, 2, rg->total_uncompressed);
        dld_pq_thrift_i64(&t, 3, rg->rows);
        dld_pq_thrift_i64(&t, 5, rg->file_offset);
        dld_pq_thrift_i64(&t, 6, rg->total_compressed);
        dld_pq_thrift_struct_end(&t);
    }
    if (w->nkv > 0) {
        dld_pq_thrift_list_begin(&t, 5, DLD_PQ_T_STRUCT, (uint32_t)(w->nkv / 2));
        for (size_t i = 0; i < w->nkv; i += 2) {
            dld_pq_thrift_elem_struct_begin(&t);
            dld_pq_thrift_string(&t, 1, w->kv[i]);
            dld_pq_thrift_string(&t, 2, w->kv[i + 1]);
            dld_pq_thrift_struct_end(&t);
        }
    }
    dld_pq_thrift_string(&t, 6, S_CREATED_BY);
    /* TYPE_ORDER for every column: tells readers min_value/max_value
     * follow each logical type's order */
    dld_pq_thrift_list_begin(&t, 7, DLD_PQ_T_STRUCT, (uint32_t)w->ncols);
    for (size_t i = 0; i < w->ncols; i++) {
        dld_pq_thrift_elem_struct_begin(&t);
        dld_pq_thrift_struct_begin(&t, 1);
        dld_pq_thrift_struct_end(&t);
        dld_pq_thrift_struct_end(&t);
    }
    dld_pq_thrift_struct_end(&t);
    return t.oom || t.error ? -1 : 0;
}

static int s_finish(void *impl, struct dld_error *err)
{
    struct s_writer *w = impl;
    if (w->failed || w->finished)
        return dld_error_set(err, DLD_ERR_FATAL, "parquet: writer is %s", w->failed ? "in a failed state" : "finished");
    int rc = s_flush_row_group(w, err);
    if (rc == DLD_OK)
        rc = s_magic(w, err);
    if (rc != DLD_OK) {
        w->failed = true;
        return rc;
    }
    struct dld_pq_buf footer = { 0 };
    if (s_footer(w, &footer) || dld_pq_buf_reserve(&footer, 8)) {
        dld_pq_buf_clean_up(&footer);
        w->failed = true;
        return dld_error_set(err, DLD_ERR_FATAL, "parquet: out of memory writing the footer");
    }
    uint32_t len = (uint32_t)footer.len;
    dld_pq_buf_put_le32(&footer, len);
    memcpy(footer.data + footer.len, "PAR1", 4);
    footer.len += 4;
    rc = s_sink_write(w, footer.data, footer.len, err);
    dld_pq_buf_clean_up(&footer);
    if (rc != DLD_OK) {
        w->failed = true;
        return rc;
    }
    w->finished = true;
    return DLD_OK;
}

static void s_destroy(void *impl)
{
    struct s_writer *w = impl;
    if (!w)
        return;
    if (w->counted)
        __atomic_sub_fetch(&s_open_writers, 1, __ATOMIC_RELAXED);
    dld_pq_cpool_stop(w->pool); /* no worker holds a page from here on */
    for (size_t i = 0; w->cols && i < w->ncols; i++)
        dld_pq_column_clean_up(&w->cols[i]);
    for (size_t r = 0; r < w->nrgs; r++) {
        for (size_t i = 0; i < w->ncols; i++)
            dld_pq_stats_out_clean_up(&w->rgs[r].chunks[i].stats);
        free(w->rgs[r].chunks);
    }
    for (size_t i = 0; w->kv && i < w->nkv; i++)
        free(w->kv[i]);
    free(w->kv);
    free(w->rgs);
    free(w->cols);
    free(w->descs);
    dld_pq_cpool_destroy(w->pool);
    free(w);
}

/* ---- statistics over the file (dld_format_writer_column_stats) ---------------------- */

/* PLAIN-encoded values of one column compared in its sort order */
static int s_plain_cmp(const struct dld_pq_coldesc *d, const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    switch (d->phys) {
    case DLD_PQ_BOOLEAN:
        return (a[0] & 1) - (b[0] & 1);
    case DLD_PQ_INT32: {
        int32_t x, y;
        memcpy(&x, a, 4);
        memcpy(&y, b, 4);
        if (d->unsigned_order)
            return (uint32_t)x < (uint32_t)y ? -1 : (uint32_t)x > (uint32_t)y;
        return x < y ? -1 : x > y;
    }
    case DLD_PQ_INT64: {
        int64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (d->unsigned_order)
            return (uint64_t)x < (uint64_t)y ? -1 : (uint64_t)x > (uint64_t)y;
        return x < y ? -1 : x > y;
    }
    case DLD_PQ_FLOAT: {
        float x, y;
        memcpy(&x, a, 4);
        memcpy(&y, b, 4);
        return x < y ? -1 : x > y;
    }
    case DLD_PQ_DOUBLE: {
        double x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        return x < y ? -1 : x > y;
    }
    default:
        break;
    }
    if (d->phys == DLD_PQ_FLBA && d->logical == DLD_PQ_LT_DECIMAL && an > 0 && bn > 0 && (a[0] ^ b[0]) & 0x80)
        return (a[0] & 0x80) ? -1 : 1; /* big-endian two's complement: the sign decides first */
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : an < bn ? -1 : an > bn;
}

static int s_column_stats(const void *impl, size_t col, struct dld_format_column_stats *out)
{
    const struct s_writer *w = impl;
    if (col >= w->ncols)
        return DLD_ERR_NOT_FOUND;
    const struct dld_pq_coldesc *d = &w->descs[col];
    for (size_t r = 0; r < w->nrgs; r++) {
        const struct dld_pq_chunk_meta *m = &w->rgs[r].chunks[col];
        out->values += m->num_values;
        out->nulls += m->stats.null_count;
        const struct dld_pq_stats_out *s = &m->stats;
        if (s->has_min && (!out->has_min || s_plain_cmp(d, s->min.data, s->min.len, out->min, out->min_len) < 0)) {
            out->has_min = 1;
            out->min = s->min.data;
            out->min_len = s->min.len;
        }
        if (s->has_max && (!out->has_max || s_plain_cmp(d, s->max.data, s->max.len, out->max, out->max_len) > 0)) {
            out->has_max = 1;
            out->max = s->max.data;
            out->max_len = s->max.len;
        }
    }
    return DLD_OK;
}

const struct dld_format_impl dld_format_parquet = {
    .name = "parquet",
    .extension = "parquet",
    .create = s_create,
    .write = s_write,
    .size = s_size,
    .finish = s_finish,
    .destroy = s_destroy,
    .column_stats = s_column_stats,
};

/* One column chunk: slices of rows → data pages → the sink.
 *
 * Dictionary first, PLAIN after: every column but booleans starts a chunk
 * by collecting a dictionary; once the dictionary's PLAIN size passes
 * dict_max the open page is closed as a dictionary page and the rest of
 * the chunk is written PLAIN (what the spec calls the fallback; readers
 * handle a chunk mixing both). A finished page goes to the compression
 * pool (cpool.h) and the column goes on encoding; the chunk's pages stay in
 * memory, compressed, until the row group is flushed, because the
 * dictionary page must come first in the file and is only complete at the
 * end. */
#include "column.h"

#include <stdlib.h>
#include <string.h>

#include <deltaload/sdk.h>

#include "arrow_read.h"
#include "rle.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the Parquet writer copies little-endian values as they are in memory"
#endif

enum { S_PAGE_DATA = 0, S_PAGE_DICTIONARY = 2 };
enum { S_ENC_PLAIN = 0, S_ENC_RLE = 3, S_ENC_RLE_DICTIONARY = 8 };

static int s_oom(struct dld_error *err, const struct dld_pq_column *c)
{
    return dld_error_set(err, DLD_ERR_FATAL, "column %s: out of memory in the Parquet writer", c->d->name);
}

static bool s_dict_allowed(const struct dld_pq_column *c)
{
    return c->o->dict_max > 0 && c->d->phys != DLD_PQ_BOOLEAN && !c->dict_off;
}

static int s_dict_width(const struct dld_pq_coldesc *d)
{
    switch (d->phys) {
    case DLD_PQ_INT32:
    case DLD_PQ_FLOAT: return 4;
    case DLD_PQ_INT64:
    case DLD_PQ_DOUBLE: return 8;
    case DLD_PQ_FLBA: return 16;
    default: return 0;
    }
}

int dld_pq_column_init(struct dld_pq_column *c, const struct dld_pq_coldesc *d, const struct dld_pq_column_opts *o)
{
    memset(c, 0, sizeof(*c));
    c->d = d;
    c->o = o;
    c->dict_mode = s_dict_allowed(c);
    c->wide = malloc(DLD_PQ_SLICE * 16);
    c->narrow = malloc(DLD_PQ_SLICE * 8);
    c->idx = malloc(DLD_PQ_SLICE * sizeof(*c->idx));
    c->views = malloc(DLD_PQ_SLICE * sizeof(*c->views));
    if (!c->wide || !c->narrow || !c->idx || !c->views)
        return -1;
    if (s_dict_allowed(c) && dld_pq_dict_init(&c->dict, s_dict_width(d)))
        return -1;
    return 0;
}

void dld_pq_column_clean_up(struct dld_pq_column *c)
{
    dld_pq_dict_clean_up(&c->dict);
    dld_pq_buf_clean_up(&c->vals);
    dld_pq_buf_clean_up(&c->defs);
    dld_pq_buf_clean_up(&c->scratch);
    /* the pool is stopped by now (writer.c): no worker holds these */
    for (size_t i = 0; c->o && i < c->njobs; i++)
        dld_pq_cpool_job_free(c->o->pool, c->jobs[i]);
    if (c->o)
        dld_pq_cpool_job_free(c->o->pool, c->dict_job);
    free(c->jobs);
    dld_pq_stats_clean_up(&c->stats);
    free(c->wide);
    free(c->narrow);
    free(c->idx);
    free(c->views);
    memset(c, 0, sizeof(*c));
}

/* ---- sizes ------------------------------------------------------------------ */

static size_t s_open_page_size(const struct dld_pq_column *c)
{
    size_t v;
    if (c->dict_mode)
        v = ((size_t)c->page_values * (size_t)dld_pq_bit_width(c->dict.count ? c->dict.count - 1 : 0) + 7) / 8;
    else
        v = c->vals.len;
    return v + (c->d->nullable ? c->page_rows / 8 : 0);
}

uint64_t dld_pq_column_raw_size(const struct dld_pq_column *c)
{
    uint64_t dict = (c->dict_mode || c->dict_used) ? c->dict.keys.len : 0;
    return (uint64_t)c->chunk_raw + s_open_page_size(c) + dict;
}

uint64_t dld_pq_column_held(const struct dld_pq_column *c)
{
    uint64_t dict = (c->dict_mode || c->dict_used) ? c->dict.keys.len : 0;
    return c->fenced_bytes + c->unfenced_raw + s_open_page_size(c) + dict;
}

void dld_pq_column_fence(struct dld_pq_column *c, uint64_t fence)
{
    for (; c->nfenced < c->njobs && c->jobs[c->nfenced]->seq < fence; c->nfenced++) {
        const struct dld_pq_page_job *j = c->jobs[c->nfenced];
        c->fenced_bytes += j->out_len;
        c->unfenced_raw -= j->body_len;
    }
}

/* ---- pages ------------------------------------------------------------------ */

/* a page body to fill, from the pool */
static struct dld_pq_page_job *s_job(struct dld_pq_column *c)
{
    if (c->njobs == c->jobs_cap) {
        size_t cap = c->jobs_cap ? c->jobs_cap * 2 : 16;
        struct dld_pq_page_job **j = realloc(c->jobs, cap * sizeof(*j));
        if (!j)
            return NULL;
        c->jobs = j;
        c->jobs_cap = cap;
    }
    return dld_pq_cpool_job_new(c->o->pool);
}

/* the filled page goes to be compressed (appended to the chunk's jobs, or
 * kept aside when it is the dictionary page) */
static void s_submit(struct dld_pq_column *c, struct dld_pq_page_job *j, int page_type, int32_t num_values,
                     int encoding)
{
    j->page_type = page_type;
    j->num_values = num_values;
    j->encoding = encoding;
    /* counted now, from the uncompressed size: the same whatever the threads */
    j->body_len = j->body.len;
    c->unfenced_raw += j->body.len;
    if (page_type == S_PAGE_DATA) {
        c->chunk_raw += (int64_t)j->body.len;
        c->jobs[c->njobs++] = j;
    } else {
        c->dict_job = j;
    }
    dld_pq_cpool_submit(c->o->pool, j);
}

/* Whether the first page of a chunk is smaller with its dictionary than
 * PLAIN (the test parquet-mr makes). Mostly-distinct columns (ids,
 * timestamps, amounts, free text) fail it: their dictionary is as big as
 * the values and the indices come on top, and compress worse than PLAIN. */
static bool s_dict_pays(const struct dld_pq_column *c)
{
    size_t bits = (size_t)dld_pq_bit_width(c->dict.count ? c->dict.count - 1 : 0);
    size_t encoded = c->dict.keys.len + ((size_t)c->page_values * bits + 7) / 8;
    return encoded < c->page_plain;
}

/* rewrites the open page's indices as PLAIN values */
static int s_indices_to_plain(struct dld_pq_column *c, struct dld_error *err)
{
    struct dld_pq_buf *out = &c->scratch;
    const uint32_t *idx = (const uint32_t *)(void *)c->vals.data;
    out->len = 0;
    if (dld_pq_buf_reserve(out, c->page_plain))
        return s_oom(err, c);
    for (uint32_t i = 0; i < c->page_values; i++) {
        if (c->dict.width == 0) {
            struct dld_pq_view v = dld_pq_dict_string(&c->dict, idx[i]);
            dld_pq_buf_put_le32(out, v.len);
            memcpy(out->data + out->len, v.ptr, v.len);
            out->len += v.len;
        } else if (c->d->phys == DLD_PQ_FLBA) {
            __int128 q;
            memcpy(&q, c->dict.keys.data + (size_t)idx[i] * 16, 16);
            for (int j = c->d->type_length - 1; j >= 0; j--)
                dld_pq_buf_put_u8(out, (uint8_t)((unsigned __int128)q >> (8 * j)));
        } else {
            size_t w = (size_t)c->dict.width;
            memcpy(out->data + out->len, c->dict.keys.data + (size_t)idx[i] * w, w);
            out->len += w;
        }
    }
    struct dld_pq_buf t = c->vals;
    c->vals = *out;
    *out = t;
    return DLD_OK;
}

/* closes the open page and hands it to the pool */
static int s_finish_page(struct dld_pq_column *c, struct dld_error *err)
{
    if (c->page_rows == 0)
        return DLD_OK;
    if (c->dict_mode && !c->dict_used && c->page_values > 0 && !s_dict_pays(c)) {
        /* abandoned before any page used it: no dictionary page at all,
         * and none tried again for this column in this file */
        int rc = s_indices_to_plain(c, err);
        if (rc != DLD_OK)
            return rc;
        c->dict_mode = false;
        c->dict_off = true;
        /* never used again in this file: give the dictionary and the
         * rewrite buffer back now (a few MiB per high-cardinality column,
         * held for the whole load otherwise) */
        dld_pq_dict_clean_up(&c->dict);
        dld_pq_buf_clean_up(&c->scratch);
    }
    struct dld_pq_page_job *j = s_job(c);
    if (!j)
        return s_oom(err, c);
    struct dld_pq_buf *b = &j->body;
    if (c->d->nullable) {
        if (dld_pq_buf_reserve(b, 4))
            goto oom;
        b->len = 4;
        if (dld_pq_rle_encode_bitmap(c->defs.data, c->page_rows, b))
            goto oom;
        uint32_t n = (uint32_t)(b->len - 4);
        b->len = 0;
        dld_pq_buf_put_le32(b, n); /* v1 pages prefix the levels with their length */
        b->len = n + 4;
    }
    int encoding = S_ENC_PLAIN;
    if (c->dict_mode && c->page_values > 0) {
        int w = dld_pq_bit_width(c->dict.count - 1);
        if (dld_pq_buf_reserve(b, 1))
            goto oom;
        dld_pq_buf_put_u8(b, (uint8_t)w);
        if (dld_pq_rle_encode((const uint32_t *)(void *)c->vals.data, c->page_values, w, b))
            goto oom;
        encoding = S_ENC_RLE_DICTIONARY;
        c->dict_used = true;
        c->dict_data_pages++;
    } else {
        /* also a dictionary-mode page holding only nulls: no indices */
        if (b->len == 0) {
            /* no levels: the values are the body, handed over without a copy */
            struct dld_pq_buf t = *b;
            *b = c->vals;
            c->vals = t;
        } else if (dld_pq_buf_append(b, c->vals.data, c->vals.len)) {
            goto oom;
        }
        c->plain_data_pages++;
    }
    s_submit(c, j, S_PAGE_DATA, (int32_t)c->page_rows, encoding);
    c->vals.len = 0;
    c->defs.len = 0;
    c->page_rows = 0;
    c->page_values = 0;
    c->page_plain = 0;
    return DLD_OK;
oom:
    dld_pq_cpool_job_free(c->o->pool, j);
    return s_oom(err, c);
}

/* ---- values ------------------------------------------------------------------ */

static void s_set_bits(uint8_t *dst, size_t off, size_t n)
{
    for (; n > 0 && (off & 7); n--, off++)
        dst[off >> 3] |= (uint8_t)(1u << (off & 7));
    memset(dst + (off >> 3), 0xFF, n / 8);
    off += n / 8 * 8;
    for (n %= 8; n > 0; n--, off++)
        dst[off >> 3] |= (uint8_t)(1u << (off & 7));
}

/* definition levels of the rows: the validity bits, as they are */
static int s_levels(struct dld_pq_column *c, const struct ArrowArray *a, int64_t start, int64_t rows, size_t k,
                    struct dld_error *err)
{
    if (!c->d->nullable) {
        if ((int64_t)k != rows)
            return dld_error_set(err, DLD_ERR_FATAL, "column %s is not nullable, but the batch holds a null", c->d->name);
        return DLD_OK;
    }
    size_t need = ((size_t)c->page_rows + (size_t)rows + 7) / 8;
    if (need > c->defs.len) {
        if (dld_pq_buf_reserve(&c->defs, need - c->defs.len))
            return s_oom(err, c);
        memset(c->defs.data + c->defs.len, 0, need - c->defs.len);
        c->defs.len = need;
    }
    const uint8_t *bm = dld_pq_validity(a);
    if (bm)
        dld_pq_bits_copy(c->defs.data, c->page_rows, bm, (size_t)(a->offset + start), (size_t)rows);
    else
        s_set_bits(c->defs.data, c->page_rows, (size_t)rows);
    return DLD_OK;
}

/* PLAIN encoding of k physical values */
static int s_plain(struct dld_pq_column *c, const void *v, size_t k, struct dld_error *err)
{
    struct dld_pq_buf *b = &c->vals;
    switch (c->d->phys) {
    case DLD_PQ_BOOLEAN: {
        /* bit-packed, LSB first, continuing the page's bit position */
        size_t need = ((size_t)c->page_values + k + 7) / 8;
        if (need > b->len) {
            if (dld_pq_buf_reserve(b, need - b->len))
                return s_oom(err, c);
            memset(b->data + b->len, 0, need - b->len);
            b->len = need;
        }
        const uint8_t *x = v;
        for (size_t i = 0; i < k; i++) {
            size_t bit = (size_t)c->page_values + i;
            b->data[bit >> 3] |= (uint8_t)(x[i] << (bit & 7));
        }
        return DLD_OK;
    }
    case DLD_PQ_INT32:
    case DLD_PQ_FLOAT:
        return dld_pq_buf_append(b, v, k * 4) ? s_oom(err, c) : DLD_OK;
    case DLD_PQ_INT64:
    case DLD_PQ_DOUBLE:
        return dld_pq_buf_append(b, v, k * 8) ? s_oom(err, c) : DLD_OK;
    case DLD_PQ_FLBA: {
        size_t w = (size_t)c->d->type_length;
        if (dld_pq_buf_reserve(b, k * w))
            return s_oom(err, c);
        const __int128 *q = v;
        for (size_t i = 0; i < k; i++)
            for (size_t j = 0; j < w; j++) /* big-endian two's complement */
                dld_pq_buf_put_u8(b, (uint8_t)((unsigned __int128)q[i] >> (8 * (w - 1 - j))));
        return DLD_OK;
    }
    default: {
        const struct dld_pq_view *s = v;
        size_t total = 0;
        for (size_t i = 0; i < k; i++)
            total += 4 + (size_t)s[i].len;
        if (dld_pq_buf_reserve(b, total))
            return s_oom(err, c);
        for (size_t i = 0; i < k; i++) {
            dld_pq_buf_put_le32(b, s[i].len);
            memcpy(b->data + b->len, s[i].ptr, s[i].len);
            b->len += s[i].len;
        }
        return DLD_OK;
    }
    }
}

/* dictionary indices of k physical values, appended to the open page */
static int s_dict(struct dld_pq_column *c, const void *v, size_t k, struct dld_error *err)
{
    uint32_t before = c->dict.count;
    int rc;
    switch (c->dict.width) {
    case 4: rc = dld_pq_dict_put32(&c->dict, v, k, c->idx); break;
    case 8: rc = dld_pq_dict_put64(&c->dict, v, k, c->idx); break;
    case 16: rc = dld_pq_dict_put128(&c->dict, v, k, c->idx); break;
    default: rc = dld_pq_dict_put_bytes(&c->dict, v, k, c->idx); break;
    }
    if (rc || dld_pq_buf_append(&c->vals, c->idx, k * sizeof(uint32_t)))
        return s_oom(err, c);
    if (c->dict.width == 0) {
        const struct dld_pq_view *s = v;
        for (size_t i = 0; i < k; i++)
            c->page_plain += 4 + (size_t)s[i].len;
    } else {
        c->page_plain += k * (c->d->phys == DLD_PQ_FLBA ? (size_t)c->d->type_length : (size_t)c->dict.width);
    }
    if (c->dict.width == 0) {
        /* string statistics from the new entries only: the min and max of
         * the distinct values are those of all values */
        for (uint32_t i = before; i < c->dict.count; i++) {
            struct dld_pq_view e = dld_pq_dict_string(&c->dict, i);
            if (dld_pq_stats_bytes(&c->stats, &e, 1))
                return s_oom(err, c);
        }
    }
    return DLD_OK;
}

/* statistics (all but strings in dictionary mode) and narrowing; returns
 * the values in their physical form */
static const void *s_prepare(struct dld_pq_column *c, size_t k, struct dld_error *err)
{
    const struct dld_pq_coldesc *d = c->d;
    switch (d->src) {
    case DLD_PQ_SRC_BOOL: dld_pq_stats_bool(&c->stats, c->wide, k); return c->wide;
    case DLD_PQ_SRC_F32: dld_pq_stats_f32(&c->stats, c->wide, k); return c->wide;
    case DLD_PQ_SRC_F64: dld_pq_stats_f64(&c->stats, c->wide, k); return c->wide;
    case DLD_PQ_SRC_I64:
    case DLD_PQ_SRC_U64: dld_pq_stats_i64(&c->stats, c->wide, k, d->unsigned_order); return c->wide;
    case DLD_PQ_SRC_BIN32:
    case DLD_PQ_SRC_BIN64:
        if (!c->dict_mode && dld_pq_stats_bytes(&c->stats, c->views, k)) {
            s_oom(err, c);
            return NULL;
        }
        return c->views;
    case DLD_PQ_SRC_DEC128: {
        const __int128 *q = c->wide;
        dld_pq_stats_i128(&c->stats, q, k);
        if (d->phys == DLD_PQ_INT32) {
            int32_t *n = c->narrow;
            for (size_t i = 0; i < k; i++)
                n[i] = (int32_t)q[i];
            return n;
        }
        if (d->phys == DLD_PQ_INT64) {
            int64_t *n = c->narrow;
            for (size_t i = 0; i < k; i++)
                n[i] = (int64_t)q[i];
            return n;
        }
        return q;
    }
    default: dld_pq_stats_i32(&c->stats, c->wide, k, d->unsigned_order); return c->wide;
    }
}

static int s_write_some(struct dld_pq_column *c, const struct ArrowArray *a, int64_t start, int64_t n,
                        int64_t *taken, struct dld_error *err)
{
    size_t k;
    size_t cap = c->o->page_size > c->vals.len ? c->o->page_size - c->vals.len : 1;
    int rc = dld_pq_read_values(c->d, a, start, n, cap, c->wide, c->views, taken, &k, err);
    if (rc == DLD_OK)
        rc = s_levels(c, a, start, *taken, k, err);
    if (rc != DLD_OK)
        return rc;
    const void *v = s_prepare(c, k, err);
    if (v == NULL)
        return err->code;
    rc = c->dict_mode ? s_dict(c, v, k, err) : s_plain(c, v, k, err);
    if (rc != DLD_OK)
        return rc;
    c->page_rows += (uint32_t)*taken;
    c->page_values += (uint32_t)k;
    c->chunk_rows += *taken;
    c->stats.null_count += *taken - (int64_t)k;

    if (c->dict_mode && c->dict.keys.len > c->o->dict_max) {
        /* fallback: what is in the page keeps its indices, the rest of
         * the chunk goes PLAIN */
        rc = s_finish_page(c, err);
        c->dict_mode = false;
        return rc;
    }
    if (s_open_page_size(c) >= c->o->page_size || c->page_rows >= DLD_PQ_PAGE_MAX_ROWS - DLD_PQ_SLICE)
        return s_finish_page(c, err);
    return DLD_OK;
}

int dld_pq_column_write(struct dld_pq_column *c, const struct ArrowArray *a, int64_t start, int64_t n,
                        struct dld_error *err)
{
    /* byte arrays may stop early at a page's worth of bytes */
    while (n > 0) {
        int64_t taken;
        int rc = s_write_some(c, a, start, n, &taken, err);
        if (rc != DLD_OK)
            return rc;
        start += taken;
        n -= taken;
    }
    return DLD_OK;
}

/* ---- flush ------------------------------------------------------------------- */

/* the dictionary page: fixed-width keys are the little-endian values,
 * strings are stored length-prefixed, both already PLAIN; decimals as
 * FIXED_LEN_BYTE_ARRAY are turned big-endian */
static int s_dict_page(struct dld_pq_column *c, struct dld_error *err)
{
    struct dld_pq_page_job *j = dld_pq_cpool_job_new(c->o->pool);
    if (!j)
        return s_oom(err, c);
    struct dld_pq_buf *b = &j->body;
    if (c->d->phys == DLD_PQ_FLBA) {
        size_t w = (size_t)c->d->type_length;
        if (dld_pq_buf_reserve(b, (size_t)c->dict.count * w)) {
            dld_pq_cpool_job_free(c->o->pool, j);
            return s_oom(err, c);
        }
        for (uint32_t i = 0; i < c->dict.count; i++) {
            __int128 q;
            memcpy(&q, c->dict.keys.data + (size_t)i * 16, 16);
            for (size_t k = 0; k < w; k++)
                dld_pq_buf_put_u8(b, (uint8_t)((unsigned __int128)q >> (8 * (w - 1 - k))));
        }
    } else if (dld_pq_buf_append(b, c->dict.keys.data, c->dict.keys.len)) {
        dld_pq_cpool_job_free(c->o->pool, j);
        return s_oom(err, c);
    }
    s_submit(c, j, S_PAGE_DICTIONARY, (int32_t)c->dict.count, S_ENC_PLAIN);
    return DLD_OK;
}

int dld_pq_column_close(struct dld_pq_column *c, struct dld_error *err)
{
    int rc = s_finish_page(c, err);
    if (rc == DLD_OK && c->dict_used)
        rc = s_dict_page(c, err);
    return rc;
}

static int s_write_job(struct dld_pq_column *c, const struct dld_pq_page_job *j, const struct dld_sink *sink,
                       uint64_t *pos, struct dld_pq_chunk_meta *meta, struct dld_error *err)
{
    if (j->msg)
        return dld_error_set(err, DLD_ERR_FATAL, "column %s: %s", c->d->name, j->msg);
    int rc = sink->write(sink->ctx, j->out, j->out_len, err);
    if (rc != DLD_OK)
        return rc;
    *pos += j->out_len;
    meta->total_uncompressed += (int64_t)(j->hdr_len + j->body_len);
    meta->total_compressed += (int64_t)j->out_len;
    return DLD_OK;
}

int dld_pq_column_flush(struct dld_pq_column *c, const struct dld_sink *sink, uint64_t *pos,
                        struct dld_pq_chunk_meta *meta, struct dld_error *err)
{
    int rc = DLD_OK;
    meta->total_uncompressed = meta->total_compressed = 0;
    meta->dict_page_offset = -1;
    if (c->dict_job) {
        meta->dict_page_offset = (int64_t)*pos;
        if ((rc = s_write_job(c, c->dict_job, sink, pos, meta, err)) != DLD_OK)
            return rc;
    }
    meta->data_page_offset = (int64_t)*pos;
    for (size_t i = 0; i < c->njobs; i++)
        if ((rc = s_write_job(c, c->jobs[i], sink, pos, meta, err)) != DLD_OK)
            return rc;
    meta->num_values = c->chunk_rows;
    meta->dict_data_pages = c->dict_data_pages;
    meta->plain_data_pages = c->plain_data_pages;
    if (dld_pq_stats_encode(&c->stats, c->d, &meta->stats))
        return s_oom(err, c);

    /* ready for the next row group: a fresh dictionary attempt */
    for (size_t i = 0; i < c->njobs; i++)
        dld_pq_cpool_job_free(c->o->pool, c->jobs[i]);
    dld_pq_cpool_job_free(c->o->pool, c->dict_job);
    c->dict_job = NULL;
    c->njobs = c->nfenced = 0;
    c->fenced_bytes = c->unfenced_raw = 0;
    c->chunk_rows = c->chunk_raw = 0;
    c->dict_data_pages = c->plain_data_pages = 0;
    c->dict_used = false;
    c->dict_mode = s_dict_allowed(c);
    if (c->dict_mode)
        dld_pq_dict_reset(&c->dict);
    dld_pq_stats_reset(&c->stats);
    return DLD_OK;
}

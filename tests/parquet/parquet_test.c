/* Parquet writer suite: encoder units (RLE hybrid, Thrift compact), option
 * and input errors, size accounting, and the fixture files that the node
 * scripts read back with DuckDB and hyparquet (verify.mjs): every type
 * with its edge values, each codec, dictionary fallback, a very long
 * string, zero-row and all-null files. The expectations are written next
 * to the files (expectations.json) from the same values the batches were
 * built from. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <deltaload/format.h>
#include <deltaload/sdk.h>

#include "parquet/rle.h"
#include "parquet/thrift.h"
#include "pq_arrow.h"
#include "pq_data.h"
#include "pq_threads.h"

/* ---- sinks ----------------------------------------------------------------- */

struct mem_sink {
    uint8_t *data;
    size_t len, cap;
    int fail_after; /* fail the Nth write (1-based); 0 never */
    int writes;
    struct dld_format_writer *watch; /* if set: the most it held at any write */
    size_t peak_held;
};

static int s_mem_write(void *ctx, const void *p, size_t n, struct dld_error *err)
{
    struct mem_sink *m = ctx;
    if (m->watch) {
        size_t held = (size_t)(dld_format_writer_size(m->watch) - m->len);
        m->peak_held = held > m->peak_held ? held : m->peak_held;
    }
    if (m->fail_after && ++m->writes >= m->fail_after)
        return dld_error_set(err, DLD_ERR_RETRY, "disk full (injected)");
    if (m->len + n > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->len + n)
            cap *= 2;
        m->data = realloc(m->data, cap);
        m->cap = cap;
    }
    memcpy(m->data + m->len, p, n);
    m->len += n;
    return DLD_OK;
}

static int s_file_write(void *ctx, const void *p, size_t n, struct dld_error *err)
{
    if (fwrite(p, 1, n, ctx) != n)
        return dld_error_set(err, DLD_ERR_FATAL, "write failed: %s", strerror(errno));
    return DLD_OK;
}

static struct dld_error s_err(void)
{
    struct dld_error e;
    memset(&e, 0, sizeof(e));
    e.struct_size = sizeof(e);
    return e;
}

/* ---- RLE / bit-packing hybrid ---------------------------------------------------- */

/* an independent decoder, straight from Encodings.md */
static size_t s_rle_decode(const uint8_t *p, size_t n, int width, uint32_t *out, size_t want)
{
    size_t i = 0, got = 0;
    while (i < n && got < want) {
        uint64_t h = 0;
        int shift = 0;
        do {
            h |= (uint64_t)(p[i] & 0x7f) << shift;
            shift += 7;
        } while (p[i++] & 0x80);
        if (h & 1) {
            size_t count = (size_t)(h >> 1) * 8;
            uint64_t bitpos = 0;
            for (size_t k = 0; k < count; k++) {
                uint32_t v = 0;
                for (int b = 0; b < width; b++, bitpos++)
                    v |= (uint32_t)((p[i + bitpos / 8] >> (bitpos % 8)) & 1) << b;
                if (got < want)
                    out[got++] = v;
            }
            i += (size_t)(h >> 1) * (size_t)width;
        } else {
            uint32_t v = 0;
            for (int b = 0; b < (width + 7) / 8; b++)
                v |= (uint32_t)p[i++] << (8 * b);
            for (size_t k = 0; k < (h >> 1) && got < want; k++)
                out[got++] = v;
        }
    }
    return got;
}

START_TEST(rle_known_bytes)
{
    struct dld_pq_buf b = { 0 };
    uint32_t eight5[8] = { 5, 5, 5, 5, 5, 5, 5, 5 };
    ck_assert_int_eq(dld_pq_rle_encode(eight5, 8, 3, &b), 0);
    ck_assert_uint_eq(b.len, 2);
    ck_assert_uint_eq(b.data[0], 8 << 1); /* rle run of 8 */
    ck_assert_uint_eq(b.data[1], 5);

    /* the example of Encodings.md: 0..7 at width 3 */
    b.len = 0;
    uint32_t seq[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };
    ck_assert_int_eq(dld_pq_rle_encode(seq, 8, 3, &b), 0);
    ck_assert_uint_eq(b.len, 4);
    ck_assert_uint_eq(b.data[0], 1 << 1 | 1);
    ck_assert_uint_eq(b.data[1], 0x88);
    ck_assert_uint_eq(b.data[2], 0xC6);
    ck_assert_uint_eq(b.data[3], 0xFA);

    /* 20 set bits: one run */
    b.len = 0;
    uint8_t ones[3] = { 0xff, 0xff, 0x0f };
    ck_assert_int_eq(dld_pq_rle_encode_bitmap(ones, 20, &b), 0);
    ck_assert_uint_eq(b.len, 2);
    ck_assert_uint_eq(b.data[0], 20 << 1);
    ck_assert_uint_eq(b.data[1], 1);
    dld_pq_buf_clean_up(&b);
}
END_TEST

START_TEST(rle_round_trip_random)
{
    uint64_t seed = 42;
    struct dld_pq_buf b = { 0 };
    for (int iter = 0; iter < 300; iter++) {
        size_t n = 1 + (size_t)(iter * 37 % 3000);
        int width = 1 + iter % 20;
        uint32_t *v = malloc(n * sizeof(*v)), *back = malloc((n + 8) * sizeof(*v));
        uint32_t mask = width == 32 ? UINT32_MAX : (1u << width) - 1;
        size_t i = 0;
        while (i < n) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            size_t run = (seed >> 60) < 6 ? 1 : 1 + (seed >> 33) % 40; /* mix literals and runs */
            uint32_t x = (uint32_t)(seed >> 17) & mask;
            for (size_t k = 0; k < run && i < n; k++, i++)
                v[i] = (seed >> 59) & 1 ? x : (uint32_t)((seed >> 7) + k * 2654435761u) & mask;
        }
        b.len = 0;
        ck_assert_int_eq(dld_pq_rle_encode(v, n, width, &b), 0);
        ck_assert_uint_eq(s_rle_decode(b.data, b.len, width, back, n), n);
        for (i = 0; i < n; i++)
            ck_assert_msg(v[i] == back[i], "iter %d width %d: value %zu is %u, decoded %u", iter, width, i, v[i], back[i]);

        /* the same as one-bit levels from a bitmap */
        uint8_t *bits = calloc((n + 7) / 8 + 1, 1);
        for (i = 0; i < n; i++)
            if (v[i] & 1)
                bits[i / 8] |= (uint8_t)(1u << (i % 8));
        b.len = 0;
        ck_assert_int_eq(dld_pq_rle_encode_bitmap(bits, n, &b), 0);
        ck_assert_uint_eq(s_rle_decode(b.data, b.len, 1, back, n), n);
        for (i = 0; i < n; i++)
            ck_assert_msg((v[i] & 1) == back[i], "bitmap iter %d: level %zu", iter, i);
        free(bits);
        free(v);
        free(back);
    }
    dld_pq_buf_clean_up(&b);
}
END_TEST

START_TEST(thrift_known_bytes)
{
    struct dld_pq_buf b = { 0 };
    struct dld_pq_thrift t;
    dld_pq_thrift_init(&t, &b);
    dld_pq_thrift_message_begin(&t);
    dld_pq_thrift_i32(&t, 1, 1);      /* 0x15 0x02 */
    dld_pq_thrift_i64(&t, 3, -1);     /* delta 2, i64: 0x26 0x01 */
    dld_pq_thrift_bool(&t, 4, true);  /* 0x11 */
    dld_pq_thrift_string(&t, 20, "ab"); /* delta 16: long form 0x08, zigzag(20)=0x28, len, bytes */
    dld_pq_thrift_list_begin(&t, 21, DLD_PQ_T_I32, 2); /* 0x19 0x25 */
    dld_pq_thrift_elem_i32(&t, -2);   /* 0x03 */
    dld_pq_thrift_elem_i32(&t, 300);  /* zigzag 600 = 0xd8 0x04 */
    dld_pq_thrift_struct_end(&t);
    const uint8_t want[] = { 0x15, 0x02, 0x26, 0x01, 0x11, 0x08, 0x28, 0x02, 'a', 'b', 0x19, 0x25, 0x03, 0xd8, 0x04, 0x00 };
    ck_assert(!t.oom && !t.error);
    ck_assert_uint_eq(b.len, sizeof(want));
    ck_assert_mem_eq(b.data, want, sizeof(want));
    dld_pq_buf_clean_up(&b);
}
END_TEST

/* ---- options and input errors ---------------------------------------------------- */

static struct tarr s_one_col[1];
static struct tbatch s_one;

static void s_one_setup(const char *format, bool nullable)
{
    tarr_init(&s_one_col[0], "c", format, nullable);
    tbatch_init(&s_one, s_one_col, 1);
}

static void s_one_teardown(void)
{
    tarr_clean_up(&s_one_col[0]);
    tbatch_clean_up(&s_one);
}

static int s_try_options(const char *const *opts, struct dld_error *e)
{
    s_one_setup("l", true);
    tbatch_seal(&s_one, 0, 0);
    struct mem_sink m = { 0 };
    struct dld_sink sink = { &m, s_mem_write };
    struct dld_format_writer *w = dld_format_writer_new("parquet", opts, &s_one.sch, &sink, NULL, e);
    int rc = w ? DLD_OK : e->code;
    dld_format_writer_destroy(w);
    free(m.data);
    s_one_teardown();
    return rc;
}

START_TEST(bad_options)
{
    struct {
        const char *k, *v, *needle;
    } cases[] = {
        { "compression", "lz4", "not one of" },
        { "compression_level", "99", "takes" },
        { "compression_level", "x", "takes" },
        { "timestamp_unit", "ns", "timestamp_unit" },
        { "row_group_size", "abc", "row_group_size" },
        { "row_group_size", "10", ">= 1024" },
        { "dictionary_max_bytes", "-1", "dictionary_max_bytes" },
        { "page_size", "12x", "page_size" },
        { "compression_threads", "0", "compression_threads" },
        { "compression_threads", "65", "1..64" },
        { "compression_threads", "two", "compression_threads" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *opts[] = { cases[i].k, cases[i].v, NULL };
        struct dld_error e = s_err();
        ck_assert_int_eq(s_try_options(opts, &e), DLD_ERR_CONFIG);
        ck_assert_msg(strstr(e.message, cases[i].needle), "%s=%s: message '%s'", cases[i].k, cases[i].v, e.message);
    }
    const char *level_for_snappy[] = { "compression", "snappy", "compression_level", "3", NULL };
    struct dld_error e = s_err();
    ck_assert_int_eq(s_try_options(level_for_snappy, &e), DLD_ERR_CONFIG);
    const char *good[] = { "compression", "gzip", "compression_level", "9", "timestamp_unit", "ms", "row_group_size", "1048576", NULL };
    e = s_err();
    ck_assert_int_eq(s_try_options(good, &e), DLD_OK);
}
END_TEST

START_TEST(null_in_required_column)
{
    s_one_setup("l", false);
    int64_t x = 5;
    tarr_fixed(&s_one_col[0], &x);
    tarr_null(&s_one_col[0]);
    tbatch_seal(&s_one, 0, 2);
    struct mem_sink m = { 0 };
    struct dld_sink sink = { &m, s_mem_write };
    struct dld_error e = s_err();
    struct dld_format_writer *w = dld_format_writer_new("parquet", NULL, &s_one.sch, &sink, NULL, &e);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(dld_format_writer_write(w, &s_one.arr, &e), DLD_ERR_FATAL);
    ck_assert_msg(strstr(e.message, "not nullable"), "%s", e.message);
    /* a failed writer refuses to go on rather than write a torn file */
    ck_assert_int_ne(dld_format_writer_finish(w, &e), DLD_OK);
    dld_format_writer_destroy(w);
    free(m.data);
    s_one_teardown();
}
END_TEST

START_TEST(decimal_beyond_precision)
{
    s_one_setup("d:5,2", true);
    __int128 q = 100000; /* 1000.00 needs 6 digits */
    tarr_fixed(&s_one_col[0], &q);
    tbatch_seal(&s_one, 0, 1);
    struct mem_sink m = { 0 };
    struct dld_sink sink = { &m, s_mem_write };
    struct dld_error e = s_err();
    struct dld_format_writer *w = dld_format_writer_new("parquet", NULL, &s_one.sch, &sink, NULL, &e);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(dld_format_writer_write(w, &s_one.arr, &e), DLD_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(e.message, "1000.00") && strstr(e.message, "decimal(5,2)"), "%s", e.message);
    dld_format_writer_destroy(w);
    free(m.data);
    s_one_teardown();
}
END_TEST

START_TEST(unsupported_type)
{
    s_one_setup("+l", true); /* a list column */
    tbatch_seal(&s_one, 0, 0);
    struct mem_sink m = { 0 };
    struct dld_sink sink = { &m, s_mem_write };
    struct dld_error e = s_err();
    struct dld_format_writer *w = dld_format_writer_new("parquet", NULL, &s_one.sch, &sink, NULL, &e);
    ck_assert_ptr_null(w);
    ck_assert_int_eq(e.code, DLD_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(e.message, "c"), "%s", e.message);
    free(m.data);
    s_one_teardown();
}
END_TEST

START_TEST(sink_failure_propagates)
{
    s_one_setup("l", true);
    for (int64_t i = 0; i < 1000; i++)
        tarr_fixed(&s_one_col[0], &i);
    tbatch_seal(&s_one, 0, 1000);
    struct mem_sink m = { 0 };
    m.fail_after = 2;
    struct dld_sink sink = { &m, s_mem_write };
    struct dld_error e = s_err();
    struct dld_format_writer *w = dld_format_writer_new("parquet", NULL, &s_one.sch, &sink, NULL, &e);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(dld_format_writer_write(w, &s_one.arr, &e), DLD_OK);
    ck_assert_int_eq(dld_format_writer_finish(w, &e), DLD_ERR_RETRY);
    ck_assert_msg(strstr(e.message, "injected"), "%s", e.message);
    dld_format_writer_destroy(w);
    free(m.data);
    s_one_teardown();
}
END_TEST

/* size() is bytes handed to the sink plus bytes buffered; row groups are
 * flushed as they fill, so what is buffered stays near row_group_size */
START_TEST(size_and_bounded_memory)
{
    s_one_setup("l", true);
    for (int64_t i = 0; i < 100000; i++)
        tarr_fixed(&s_one_col[0], &(int64_t){ i * 7919 % 1000003 });
    tbatch_seal(&s_one, 0, 100000);
    struct mem_sink m = { 0 };
    struct dld_sink sink = { &m, s_mem_write };
    struct dld_error e = s_err();
    const char *opts[] = { "row_group_size", "65536", "compression", "none", NULL };
    struct dld_format_writer *w = dld_format_writer_new("parquet", opts, &s_one.sch, &sink, NULL, &e);
    ck_assert_ptr_nonnull(w);
    uint64_t before = dld_format_writer_size(w);
    size_t max_held = 0;
    m.watch = w;
    for (int round = 0; round < 20; round++) {
        ck_assert_int_eq(dld_format_writer_write(w, &s_one.arr, &e), DLD_OK);
        uint64_t size = dld_format_writer_size(w);
        ck_assert_uint_ge(size, m.len);
        size_t held = (size_t)(size - m.len);
        max_held = held > max_held ? held : max_held;
    }
    /* 2M rows of 8 bytes = 16 MB went through; never more than about two
     * row groups held */
    ck_assert_uint_gt(m.len, 8 * 1000 * 1000);
    ck_assert_uint_lt(max_held, 3 * 65536);
    ck_assert_uint_lt(m.peak_held, 3 * 65536);
    m.watch = NULL;
    ck_assert_uint_gt(dld_format_writer_size(w), before);
    ck_assert_int_eq(dld_format_writer_rows(w), 2000000);
    ck_assert_int_eq(dld_format_writer_finish(w, &e), DLD_OK);
    ck_assert_uint_eq(dld_format_writer_size(w), m.len);
    ck_assert_mem_eq(m.data, "PAR1", 4);
    ck_assert_mem_eq(m.data + m.len - 4, "PAR1", 4);
    dld_format_writer_destroy(w);
    free(m.data);
    s_one_teardown();
}
END_TEST

/* a batch of big values is cut into slices that keep to the row group size */
START_TEST(long_values_bounded_memory)
{
    s_one_setup("u", true);
    size_t len = 512 * 1024;
    char *v = malloc(len);
    for (int r = 0; r < 64; r++) {
        for (size_t i = 0; i < len; i++)
            v[i] = (char)('a' + (i * 7 + (size_t)r * 13 + i / 3) % 26);
        tarr_bytes(&s_one_col[0], v, len);
    }
    free(v);
    tbatch_seal(&s_one, 0, 64);
    struct mem_sink m = { 0 };
    struct dld_sink sink = { &m, s_mem_write };
    struct dld_error e = s_err();
    const char *opts[] = { "row_group_size", "4194304", "compression", "none", NULL };
    struct dld_format_writer *w = dld_format_writer_new("parquet", opts, &s_one.sch, &sink, NULL, &e);
    ck_assert_ptr_nonnull(w);
    /* 32 MiB in one batch; the peak is seen from the sink, as row groups
     * are flushed */
    m.watch = w;
    ck_assert_int_eq(dld_format_writer_write(w, &s_one.arr, &e), DLD_OK);
    ck_assert_msg(m.peak_held < 4194304 + 2 * 1048576, "held %zu bytes while writing one 32 MiB batch", m.peak_held);
    m.watch = NULL;
    ck_assert_uint_gt(m.len, 24u * 1048576);
    ck_assert_int_eq(dld_format_writer_finish(w, &e), DLD_OK);
    dld_format_writer_destroy(w);
    free(m.data);
    s_one_teardown();
}
END_TEST

/* memory_budget is shared by the writers open at once: with N open each
 * flushes its row group at memory_budget / 4 / N (writer.c, s_share); one
 * writer alone keeps the whole share, and the share comes back once the
 * others are gone */
static size_t s_peak_held_writing(const char *const *opts)
{
    struct mem_sink m = { 0 };
    struct dld_sink sink = { &m, s_mem_write };
    struct dld_error e = s_err();
    struct dld_format_writer *w = dld_format_writer_new("parquet", opts, &s_one.sch, &sink, NULL, &e);
    ck_assert_ptr_nonnull(w);
    m.watch = w;
    for (int round = 0; round < 12; round++) /* 1.2M rows of 8 bytes: 9.6 MB */
        ck_assert_int_eq(dld_format_writer_write(w, &s_one.arr, &e), DLD_OK);
    m.watch = NULL;
    ck_assert_int_eq(dld_format_writer_finish(w, &e), DLD_OK);
    ck_assert_int_eq(dld_format_writer_rows(w), 1200000);
    dld_format_writer_destroy(w);
    free(m.data);
    return m.peak_held;
}

START_TEST(writers_share_memory_budget)
{
    s_one_setup("l", true);
    for (int64_t i = 0; i < 100000; i++)
        tarr_fixed(&s_one_col[0], &(int64_t){ i * 7919 % 1000003 });
    tbatch_seal(&s_one, 0, 100000);
    const size_t MiB = 1048576;
    /* 16 MiB: row groups of 4 MiB alone, 1 MiB with three more writers open */
    const char *opts[] = { "memory_budget", "16777216", "compression", "none", NULL };
    size_t alone = s_peak_held_writing(opts);
    ck_assert_msg(alone > 3 * MiB && alone < 5 * MiB, "alone: held %zu bytes", alone);

    struct mem_sink others[3] = { { 0 } };
    struct dld_format_writer *ow[3];
    struct dld_error e = s_err();
    for (int i = 0; i < 3; i++) {
        struct dld_sink sink = { &others[i], s_mem_write };
        ck_assert_ptr_nonnull(ow[i] = dld_format_writer_new("parquet", opts, &s_one.sch, &sink, NULL, &e));
    }
    size_t shared = s_peak_held_writing(opts);
    ck_assert_msg(shared > MiB / 2 && shared < MiB + MiB / 2, "four open: held %zu bytes", shared);
    /* a row group size below the share is kept as it is */
    const char *small[] = { "memory_budget", "16777216", "row_group_size", "262144", "compression", "none", NULL };
    ck_assert_uint_lt(s_peak_held_writing(small), 262144 + 65536);
    for (int i = 0; i < 3; i++) {
        dld_format_writer_destroy(ow[i]);
        free(others[i].data);
    }
    size_t again = s_peak_held_writing(opts);
    ck_assert_msg(again > 3 * MiB && again < 5 * MiB, "alone again: held %zu bytes", again);
    s_one_teardown();
}
END_TEST

/* ---- fixture files for the readers ------------------------------------------------ */

static const char *s_dir(void)
{
    const char *d = getenv("PQ_FIXTURE_DIR");
    return d && *d ? d : "parquet-fixtures";
}

static cJSON *s_expect; /* { "files": [...] } */

struct fixture {
    const char *file;
    const struct tspec *cols;
    size_t ncols;
    const char *const *options;
    bool ts_millis;
    int64_t rows;          /* rows 0..rows-1 of the generators */
    int64_t rows_per_batch;
    bool slice;            /* second half through a struct offset */
    int min_row_groups;
    bool (*gen)(const struct tspec *c, size_t ci, int64_t row, union tval *v, char *buf);
    const char *expect_json; /* extra checks for the readers, or NULL */
};

static const char *const s_kv[] = { "deltaload.writer", "deltaload test", "deltaload.table", "sales.orders",
                                    "deltaload.window", "(0, 42]", NULL };

/* builds rows [from, to) of every column into cols and the expectations */
static void s_fill(const struct fixture *f, struct tarr *cols, int64_t from, int64_t to, cJSON **values, bool record)
{
    char buf[256];
    for (size_t ci = 0; ci < f->ncols; ci++) {
        for (int64_t r = from; r < to; r++) {
            union tval v;
            bool nn = f->gen(&f->cols[ci], ci, r, &v, buf);
            pq_append(&cols[ci], &f->cols[ci], nn, &v);
            if (record)
                cJSON_AddItemToArray(values[ci], pq_json_value(&f->cols[ci], nn, &v, f->ts_millis));
        }
    }
}

static void s_write_fixture(const struct fixture *f)
{
    char path[4096], tn[64];
    snprintf(path, sizeof(path), "%s/%s", s_dir(), f->file);
    FILE *fp = fopen(path, "wb");
    ck_assert_msg(fp != NULL, "%s: %s", path, strerror(errno));
    struct dld_sink sink = { fp, s_file_write };

    cJSON *entry = cJSON_CreateObject();
    cJSON_AddStringToObject(entry, "file", f->file);
    cJSON *opts = cJSON_AddObjectToObject(entry, "options");
    for (size_t i = 0; f->options && f->options[i]; i += 2)
        cJSON_AddStringToObject(opts, f->options[i], f->options[i + 1]);
    cJSON *kv = cJSON_AddObjectToObject(entry, "kv");
    for (size_t i = 0; s_kv[i]; i += 2)
        cJSON_AddStringToObject(kv, s_kv[i], s_kv[i + 1]);
    cJSON_AddNumberToObject(entry, "min_row_groups", f->min_row_groups);
    if (f->expect_json)
        cJSON_AddItemToObject(entry, "expect", cJSON_Parse(f->expect_json));
    cJSON *jcols = cJSON_AddArrayToObject(entry, "columns");
    cJSON **values = calloc(f->ncols, sizeof(*values));
    for (size_t ci = 0; ci < f->ncols; ci++) {
        cJSON *jc = cJSON_CreateObject();
        cJSON_AddStringToObject(jc, "name", f->cols[ci].name);
        cJSON_AddStringToObject(jc, "type", pq_type_name(&f->cols[ci], f->ts_millis, tn, sizeof(tn)));
        cJSON_AddBoolToObject(jc, "nullable", f->cols[ci].nullable);
        values[ci] = cJSON_AddArrayToObject(jc, "values");
        cJSON_AddItemToArray(jcols, jc);
    }

    struct tarr *cols = calloc(f->ncols, sizeof(*cols));
    struct tbatch b;
    struct dld_error e = s_err();
    struct dld_format_writer *w = NULL;
    int64_t written = 0;
    for (int64_t start = 0; start < f->rows || w == NULL; start += f->rows_per_batch) {
        int64_t end = start + f->rows_per_batch < f->rows ? start + f->rows_per_batch : f->rows;
        bool sliced = f->slice && start > 0 && start % (2 * f->rows_per_batch) != 0;
        for (size_t ci = 0; ci < f->ncols; ci++)
            tarr_init(&cols[ci], f->cols[ci].name, f->cols[ci].format, f->cols[ci].nullable);
        tbatch_init(&b, cols, f->ncols);
        int64_t pad = sliced ? 37 : 0;
        /* a sliced batch carries rows it must not write on both sides */
        if (pad)
            s_fill(f, cols, start + 100000, start + 100000 + pad, values, false);
        s_fill(f, cols, start, end, values, true);
        if (pad)
            s_fill(f, cols, start + 200000, start + 200000 + 11, values, false);
        tbatch_seal(&b, pad, end - start);
        if (w == NULL) {
            w = dld_format_writer_new("parquet", f->options, &b.sch, &sink, s_kv, &e);
            ck_assert_msg(w != NULL, "%s: %s", f->file, e.message);
            /* a zero-row batch first: must write nothing and break nothing */
            struct tarr *zc = calloc(f->ncols, sizeof(*zc));
            struct tbatch zb;
            for (size_t ci = 0; ci < f->ncols; ci++)
                tarr_init(&zc[ci], f->cols[ci].name, f->cols[ci].format, f->cols[ci].nullable);
            tbatch_init(&zb, zc, f->ncols);
            tbatch_seal(&zb, 0, 0);
            ck_assert_int_eq(dld_format_writer_write(w, &zb.arr, &e), DLD_OK);
            for (size_t ci = 0; ci < f->ncols; ci++)
                tarr_clean_up(&zc[ci]);
            tbatch_clean_up(&zb);
            free(zc);
        }
        if (end > start) {
            int rc = dld_format_writer_write(w, &b.arr, &e);
            ck_assert_msg(rc == DLD_OK, "%s: %s", f->file, e.message);
            written += end - start;
        }
        for (size_t ci = 0; ci < f->ncols; ci++)
            tarr_clean_up(&cols[ci]);
        tbatch_clean_up(&b);
        if (end >= f->rows)
            break;
    }
    ck_assert_int_eq(dld_format_writer_rows(w), written);
    ck_assert_int_eq(dld_format_writer_finish(w, &e), DLD_OK);
    uint64_t size = dld_format_writer_size(w);
    dld_format_writer_destroy(w);
    ck_assert_int_eq(fclose(fp), 0);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq((uint64_t)st.st_size, size);
    cJSON_AddNumberToObject(entry, "rows", (double)written);
    cJSON_AddItemToArray(cJSON_GetObjectItem(s_expect, "files"), entry);
    free(cols);
    free(values);
}

/* grow*: each value four times, so a dictionary pays at first and then
 * outgrows dictionary_max_bytes (fallback to PLAIN mid-chunk); distinct:
 * all different, so the dictionary is dropped before its first page;
 * few*: stays a dictionary */
static const struct tspec s_dict_cols[] = {
    { "grow", "u", true, K_STR, 0, 0, 0, 0, false },
    { "few", "u", true, K_STR, 0, 0, 0, 0, false },
    { "grow_i64", "l", false, K_INT, 64, 0, 0, 0, false },
    { "few_dec", "d:12,2", true, K_DEC, 0, 12, 2, 0, false },
    { "distinct", "u", false, K_STR, 0, 0, 0, 0, false },
    { "grow_dec38", "d:38,3", true, K_DEC, 0, 38, 3, 0, false },
};

static bool s_dict_gen(const struct tspec *c, size_t ci, int64_t row, union tval *v, char *buf)
{
    if (c->nullable && row % 17 == 3)
        return false;
    switch (ci) {
    case 0:
        v->s.n = (size_t)snprintf(buf, 256, "customer-%08lld-%s", (long long)(row / 4 * 7919 % 100003), "ünïcode-padding-text");
        v->s.p = (const uint8_t *)buf;
        return true;
    case 1:
        v->s.n = (size_t)snprintf(buf, 256, "status-%lld", (long long)(row % 10));
        v->s.p = (const uint8_t *)buf;
        return true;
    case 2: v->i = row / 4 * 1000003 - 7; return true;
    case 3: v->q = (row % 5) * 1999 - 3000; return true;
    case 4:
        v->s.n = (size_t)snprintf(buf, 256, "%08llx-unique", (unsigned long long)(row * 2654435761u));
        v->s.p = (const uint8_t *)buf;
        return true;
    default: v->q = -(__int128)(row / 4) * 100000000000000003LL * 1000; return true;
    }
}

static const struct tspec s_long_cols[] = {
    { "id", "i", false, K_INT, 32, 0, 0, 0, false },
    { "s", "u", true, K_STR, 0, 0, 0, 0, false },
    { "s2", "u", true, K_STR, 0, 0, 0, 0, false },
    { "blob", "z", true, K_BIN, 0, 0, 0, 0, false },
};

static char *s_long_text;   /* "é" x 1.5 Mi + "!" */
static uint8_t *s_long_blob;
#define S_LONG_LEN (3 * 1024 * 1024 + 1)

/* Statistics of long values are cut to 64 bytes: s has a long min (cut,
 * inexact) and a long all-multi-byte max (no valid bound: omitted); s2 a
 * long max ending in ASCII (cut and raised); blob a long max of 0xFF
 * bytes first (raised past them). */
static bool s_long_gen(const struct tspec *c, size_t ci, int64_t row, union tval *v, char *buf)
{
    static char as[101], zs[160];
    if (!as[0]) {
        memset(as, 'a', 100);
        memset(zs, 'z', 150);
        memcpy(zs + 150, "é", 2);
    }
    (void)c;
    (void)buf;
    const char *text = NULL;
    size_t n = 0;
    switch (ci) {
    case 0: v->i = (int32_t)row; return true;
    case 1:
        if (row == 3)
            return false;
        text = row == 0 ? as : row == 1 ? s_long_text : "zz-short";
        n = row == 1 ? S_LONG_LEN : strlen(text);
        break;
    case 2:
        text = row == 0 ? "m" : row == 1 ? zs : row == 2 ? "b" : "c";
        n = strlen(text);
        break;
    default:
        if (row == 3)
            return false;
        if (row == 1) {
            v->s.p = s_long_blob;
            v->s.n = S_LONG_LEN;
            return true;
        }
        text = row == 0 ? "" : "\x10\x20";
        n = strlen(text);
        break;
    }
    v->s.p = (const uint8_t *)text;
    v->s.n = n;
    return true;
}

static const struct tspec s_float_cols[] = {
    { "zeros_pos", "g", true, K_F64, 0, 0, 0, 0, false },
    { "zeros_neg", "g", true, K_F64, 0, 0, 0, 0, false },
    { "nan_only", "g", true, K_F64, 0, 0, 0, 0, false },
    { "nan_only_f32", "f", true, K_F32, 0, 0, 0, 0, false },
    { "all_null_str", "u", true, K_STR, 0, 0, 0, 0, false },
    { "all_null_dec", "d:38,5", true, K_DEC, 0, 38, 5, 0, false },
    { "bools_false", "b", true, K_BOOL, 0, 0, 0, 0, false },
};

static bool s_float_gen(const struct tspec *c, size_t ci, int64_t row, union tval *v, char *buf)
{
    (void)c;
    (void)buf;
    switch (ci) {
    case 0: v->d = row % 3 == 0 ? 0.0 : row % 3 == 1 ? -0.0 : 2.5; return true; /* min 0 → -0.0 */
    case 1: v->d = row % 3 == 0 ? -0.0 : row % 3 == 1 ? 0.0 : -2.5; return true; /* max 0 → +0.0 */
    case 2:
    case 3: v->d = NAN; return row % 4 != 0;
    case 6: v->b = false; return row % 2 == 0;
    default: return false;
    }
}

START_TEST(write_fixtures)
{
    mkdir(s_dir(), 0777);
    s_expect = cJSON_CreateObject();
    cJSON_AddArrayToObject(s_expect, "files");
    s_long_text = malloc(S_LONG_LEN);
    for (size_t i = 0; i + 2 <= S_LONG_LEN; i += 2)
        memcpy(s_long_text + i, "é", 2);
    s_long_text[S_LONG_LEN - 1] = '!';
    s_long_blob = malloc(S_LONG_LEN);
    for (size_t i = 0; i < S_LONG_LEN; i++)
        s_long_blob[i] = (uint8_t)(0xFF - (i * 31 >> 3));

    static const char *const o_zstd[] = { "compression", "zstd", "row_group_size", "65536", "page_size", "8192", NULL };
    static const char *const o_snappy[] = { "compression", "snappy", "row_group_size", "65536", "page_size", "8192", NULL };
    static const char *const o_gzip[] = { "compression", "gzip", "compression_level", "9", "row_group_size", "65536", "page_size", "8192", NULL };
    static const char *const o_none[] = { "compression", "none", "row_group_size", "65536", "page_size", "8192", NULL };
    static const char *const o_ms[] = { "timestamp_unit", "ms", NULL };
    static const char *const o_dict[] = { "dictionary_max_bytes", "65536", NULL };
    struct fixture fx[] = {
        { "all_zstd.parquet", pq_all_types, pq_all_types_n, o_zstd, false, 6000, 1500, true, 2, pq_gen, NULL },
        { "all_snappy.parquet", pq_all_types, pq_all_types_n, o_snappy, false, 6000, 1500, true, 2, pq_gen, NULL },
        { "all_gzip.parquet", pq_all_types, pq_all_types_n, o_gzip, false, 6000, 1500, true, 2, pq_gen, NULL },
        { "all_none.parquet", pq_all_types, pq_all_types_n, o_none, false, 6000, 1500, true, 2, pq_gen, NULL },
        { "all_defaults.parquet", pq_all_types, pq_all_types_n, NULL, false, 5000, 5000, false, 1, pq_gen, NULL },
        { "all_ts_ms.parquet", pq_all_types, pq_all_types_n, o_ms, true, 3000, 1000, false, 1, pq_gen, NULL },
        { "empty.parquet", pq_all_types, pq_all_types_n, NULL, false, 0, 1, false, 0, pq_gen, NULL },
        { "dict_overflow.parquet", s_dict_cols, 6, o_dict, false, 60000, 10000, true, 1, s_dict_gen,
          "{\"grow\":{\"data_page_encodings\":[\"RLE_DICTIONARY\",\"PLAIN\"]},"
          "\"grow_i64\":{\"data_page_encodings\":[\"RLE_DICTIONARY\",\"PLAIN\"]},"
          "\"grow_dec38\":{\"data_page_encodings\":[\"RLE_DICTIONARY\",\"PLAIN\"]},"
          "\"distinct\":{\"data_page_encodings\":[\"PLAIN\"]},"
          "\"few\":{\"data_page_encodings\":[\"RLE_DICTIONARY\"]},"
          "\"few_dec\":{\"data_page_encodings\":[\"RLE_DICTIONARY\"]}}" },
        { "long_string.parquet", s_long_cols, 4, NULL, false, 4, 4, false, 1, s_long_gen, NULL },
        { "float_rules.parquet", s_float_cols, 7, NULL, false, 100, 100, false, 1, s_float_gen, NULL },
    };
    for (size_t i = 0; i < sizeof(fx) / sizeof(fx[0]); i++)
        s_write_fixture(&fx[i]);

    char path[4096];
    snprintf(path, sizeof(path), "%s/expectations.json", s_dir());
    char *text = cJSON_PrintUnformatted(s_expect);
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    fputs(text, fp);
    ck_assert_int_eq(fclose(fp), 0);
    free(text);
    cJSON_Delete(s_expect);
    free(s_long_text);
    free(s_long_blob);
}
END_TEST

static Suite *s_suite(void)
{
    Suite *s = suite_create("parquet");
    TCase *tc = tcase_create("encoders");
    tcase_add_test(tc, rle_known_bytes);
    tcase_add_test(tc, rle_round_trip_random);
    tcase_add_test(tc, thrift_known_bytes);
    suite_add_tcase(s, tc);
    tc = tcase_create("writer");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, bad_options);
    tcase_add_test(tc, null_in_required_column);
    tcase_add_test(tc, decimal_beyond_precision);
    tcase_add_test(tc, unsupported_type);
    tcase_add_test(tc, sink_failure_propagates);
    tcase_add_test(tc, size_and_bounded_memory);
    tcase_add_test(tc, long_values_bounded_memory);
    tcase_add_test(tc, writers_share_memory_budget);
    tcase_add_test(tc, write_fixtures);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, pq_threads_tcase());
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(s_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

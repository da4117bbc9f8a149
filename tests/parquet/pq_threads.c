/* compression_threads: the same rows written with 1 thread (pages
 * compressed in the writer's thread) and with several must give the same
 * bytes and the same size() after every write (where a target rolls to a
 * new file depends on it). The data makes many small pages and several row
 * groups, dictionaries that pay, one dropped before its first page and one
 * that falls back mid-chunk, nulls, and values longer than a page. Also: a
 * sink failing mid-file, and a writer destroyed with pages in flight (the
 * sanitizer build checks nothing leaks or races into freed memory). */
#include "pq_threads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <deltaload/format.h>
#include <deltaload/sdk.h>

#include "pq_arrow.h"

#define S_ROWS 120000
#define S_NCOLS 6
#define S_WRITES 64

struct s_out {
    uint8_t *data;
    size_t len, cap;
    int fail_at; /* fail this write (1-based); 0 never */
    int writes;
};

static int s_write(void *ctx, const void *p, size_t n, struct dld_error *err)
{
    struct s_out *o = ctx;
    if (o->fail_at && ++o->writes == o->fail_at)
        return dld_error_set(err, DLD_ERR_RETRY, "disk full (injected)");
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 65536;
        while (cap < o->len + n)
            cap *= 2;
        o->data = realloc(o->data, cap);
        ck_assert_ptr_nonnull(o->data);
        o->cap = cap;
    }
    memcpy(o->data + o->len, p, n);
    o->len += n;
    return DLD_OK;
}

static struct tarr s_cols[S_NCOLS];
static struct tbatch s_batch;

static void s_build(void)
{
    tarr_init(&s_cols[0], "id", "l", false);
    tarr_init(&s_cols[1], "cat", "i", true);
    tarr_init(&s_cols[2], "word", "u", true);
    tarr_init(&s_cols[3], "amount", "d:12,2", true);
    tarr_init(&s_cols[4], "score", "g", false);
    tarr_init(&s_cols[5], "flag", "b", false);
    char *big = malloc(40000);
    ck_assert_ptr_nonnull(big);
    for (int i = 0; i < 40000; i++)
        big[i] = (char)('a' + i * 7 % 26);
    uint64_t x = 88172645463325252ull;
    for (int64_t i = 0; i < S_ROWS; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        tarr_fixed(&s_cols[0], &i);
        if (i % 13 == 5)
            tarr_null(&s_cols[1]);
        else
            tarr_fixed(&s_cols[1], &(int32_t){ (int32_t)(i * 7 % 50) });
        if (i % 11 == 3) {
            tarr_null(&s_cols[2]);
        } else if (i % 9000 == 17) {
            tarr_bytes(&s_cols[2], big, 20000 + (size_t)(i % 20000)); /* longer than a page */
        } else {
            char w[32]; /* a vocabulary that outgrows dictionary_max_bytes within a row group */
            int n = snprintf(w, sizeof(w), "word-%llu", (unsigned long long)(x % (i < S_ROWS / 2 ? 300 : 30000)));
            tarr_bytes(&s_cols[2], w, (size_t)n);
        }
        if (i % 17 == 2) {
            tarr_null(&s_cols[3]);
        } else {
            __int128 v = (__int128)(x % 2000000000) - 1000000000;
            tarr_fixed(&s_cols[3], &v);
        }
        tarr_fixed(&s_cols[4], &(double){ (double)i / 13.0 });
        tarr_bool(&s_cols[5], x % 5 != 0);
    }
    free(big);
    tbatch_init(&s_batch, s_cols, S_NCOLS);
    tbatch_seal(&s_batch, 0, S_ROWS);
}

static void s_free(void)
{
    for (int i = 0; i < S_NCOLS; i++)
        tarr_clean_up(&s_cols[i]);
    tbatch_clean_up(&s_batch);
}

/* writes the rows in uneven slices; sizes[k] = size() after write k */
static int s_run(const char *codec, const char *threads, struct s_out *o, uint64_t sizes[S_WRITES + 1],
                 struct dld_error *e)
{
    const char *opts[] = { "compression", codec, "compression_threads", threads, "row_group_size", "262144",
                           "page_size", "8192", "dictionary_max_bytes", "16384", NULL };
    struct dld_format_writer *w = dld_format_writer_new("parquet", opts, &s_batch.sch, &(struct dld_sink){ o, s_write },
                                                        NULL, e);
    ck_assert_msg(w != NULL, "%s", e->message);
    int rc = DLD_OK;
    int64_t row = 0;
    for (int k = 0; k < S_WRITES && row < S_ROWS && rc == DLD_OK; k++) {
        int64_t n = k % 4 == 0 ? 1 : k % 4 == 1 ? 777 : k % 4 == 2 ? 3001 : 9000;
        if (row + n > S_ROWS || k == S_WRITES - 1)
            n = S_ROWS - row;
        tbatch_seal(&s_batch, row, n);
        rc = dld_format_writer_write(w, &s_batch.arr, e);
        row += n;
        if (sizes)
            sizes[k] = dld_format_writer_size(w);
    }
    if (rc == DLD_OK)
        rc = dld_format_writer_finish(w, e);
    if (rc == DLD_OK && sizes)
        sizes[S_WRITES] = dld_format_writer_size(w);
    if (rc == DLD_OK)
        ck_assert_int_eq(dld_format_writer_rows(w), S_ROWS);
    dld_format_writer_destroy(w);
    return rc;
}

START_TEST(same_file_whatever_the_threads)
{
    s_build();
    const char *codecs[] = { "zstd", "snappy", "gzip", "none" };
    for (size_t c = 0; c < sizeof(codecs) / sizeof(codecs[0]); c++) {
        struct s_out one = { 0 };
        uint64_t sizes1[S_WRITES + 1] = { 0 };
        struct dld_error e;
        dld_error_init(&e);
        ck_assert_int_eq(s_run(codecs[c], "1", &one, sizes1, &e), DLD_OK);
        /* many pages and row groups, or the comparison proves little */
        ck_assert_uint_gt(one.len, 262144);
        ck_assert_uint_eq(sizes1[S_WRITES], one.len);
        const char *threads[] = { "2", "3", "8" };
        for (size_t t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
            struct s_out many = { 0 };
            uint64_t sizes[S_WRITES + 1] = { 0 };
            ck_assert_int_eq(s_run(codecs[c], threads[t], &many, sizes, &e), DLD_OK);
            ck_assert_msg(many.len == one.len, "%s, %s threads: %zu bytes, 1 thread: %zu", codecs[c], threads[t],
                          many.len, one.len);
            ck_assert_msg(memcmp(many.data, one.data, one.len) == 0, "%s, %s threads: the bytes differ", codecs[c],
                          threads[t]);
            for (int k = 0; k <= S_WRITES; k++)
                ck_assert_msg(sizes[k] == sizes1[k], "%s, %s threads: size() after write %d is %llu, with 1 thread %llu",
                              codecs[c], threads[t], k, (unsigned long long)sizes[k], (unsigned long long)sizes1[k]);
            free(many.data);
        }
        free(one.data);
    }
    s_free();
}
END_TEST

/* a failing sink, at several points, with pages still being compressed */
START_TEST(sink_failure_with_threads)
{
    s_build();
    for (int fail_at = 1; fail_at < 200; fail_at += 37) {
        struct s_out o = { .fail_at = fail_at };
        struct dld_error e;
        dld_error_init(&e);
        ck_assert_int_eq(s_run("zstd", "4", &o, NULL, &e), DLD_ERR_RETRY);
        ck_assert_msg(strstr(e.message, "injected") != NULL, "%s", e.message);
        free(o.data);
    }
    s_free();
}
END_TEST

/* destroyed without finish, pages queued and in flight */
START_TEST(destroy_with_pages_in_flight)
{
    s_build();
    for (int rounds = 1; rounds <= 3; rounds++) {
        struct s_out o = { 0 };
        struct dld_error e;
        dld_error_init(&e);
        const char *opts[] = { "compression", "gzip", "compression_threads", "3", "page_size", "4096", NULL };
        struct dld_format_writer *w = dld_format_writer_new("parquet", opts, &s_batch.sch,
                                                            &(struct dld_sink){ &o, s_write }, NULL, &e);
        ck_assert_ptr_nonnull(w);
        for (int k = 0; k < rounds; k++) {
            tbatch_seal(&s_batch, k * 20000, 20000);
            ck_assert_int_eq(dld_format_writer_write(w, &s_batch.arr, &e), DLD_OK);
        }
        dld_format_writer_destroy(w);
        free(o.data);
    }
    s_free();
}
END_TEST

TCase *pq_threads_tcase(void)
{
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, same_file_whatever_the_threads);
    tcase_add_test(tc, sink_failure_with_threads);
    tcase_add_test(tc, destroy_with_pages_in_flight);
    return tc;
}

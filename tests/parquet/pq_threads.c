/* compression_threads: the same rows written with 1 thread (pages
 * compressed in the writer's thread) and with several must give the same
 * bytes and the same size() after every write (where a target rolls to a
 * new file depends on it). The data makes many small pages and several row
 * groups, dictionaries that pay, one dropped before its first page and one
 * that falls back mid-chunk, nulls, and values longer than a page. Also: a
 * sink failing mid-file, and a writer destroyed with pages in flight (the
 * sanitizer build checks nothing leaks or races into freed memory).
 * Several writers at once share the process's compression threads: their
 * number stays bounded, each file is the one its writer makes alone, and a
 * small writer's pages are not queued behind a big one's backlog. */
#include "pq_threads.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <deltaload/format.h>
#include <deltaload/sdk.h>

#include "parquet/cpool.h"
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

/* threads of this process */
static int s_tasks(void)
{
    DIR *d = opendir("/proc/self/task");
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void *s_nothing(void *arg)
{
    return arg;
}

#define S_NW 4

/* four writers with different codecs, written in turns, all asking for 3
 * threads: 3 workers in the process, not 12, and every file the same bytes
 * as the one written alone with no worker (the single-writer file is the
 * one the readers check, see same_file_whatever_the_threads) */
START_TEST(writers_share_one_pool)
{
    s_build();
    const char *codecs[S_NW][2] = { { "zstd", "3" }, { "snappy", NULL }, { "gzip", "6" }, { "zstd", "9" } };
    struct s_out alone[S_NW] = { 0 }, shared[S_NW] = { 0 };
    struct dld_error e;
    dld_error_init(&e);
    /* a thread started and joined first: a sanitizer runtime starts its
     * own helper thread at the first pthread_create, which is not ours */
    pthread_t t0;
    ck_assert_int_eq(pthread_create(&t0, NULL, s_nothing, NULL), 0);
    pthread_join(t0, NULL);
    int base = s_tasks();
    struct dld_format_writer *w[S_NW][2];
    for (int k = 0; k < S_NW; k++) {
        for (int pass = 0; pass < 2; pass++) {
            const char *opts[] = { "compression", codecs[k][0], "compression_threads", pass ? "3" : "1", "page_size",
                                   "8192", "row_group_size", "262144", codecs[k][1] ? "compression_level" : NULL,
                                   codecs[k][1], NULL };
            w[k][pass] = dld_format_writer_new("parquet", opts, &s_batch.sch,
                                               &(struct dld_sink){ pass ? &shared[k] : &alone[k], s_write }, NULL, &e);
            ck_assert_msg(w[k][pass] != NULL, "%s", e.message);
        }
    }
    /* the memory_budget shares change with the number of writers open:
     * all eight stay open until the end, so both passes see the same */
    int peak = 0;
    for (int64_t row = 0, k = 0; row < S_ROWS; k++) {
        int64_t n = k % 3 == 0 ? 501 : k % 3 == 1 ? 7000 : 2500;
        n = row + n > S_ROWS ? S_ROWS - row : n;
        tbatch_seal(&s_batch, row, n);
        for (int i = 0; i < S_NW; i++)
            for (int pass = 0; pass < 2; pass++)
                ck_assert_int_eq(dld_format_writer_write(w[i][pass], &s_batch.arr, &e), DLD_OK);
        row += n;
        int t = s_tasks();
        peak = t > peak ? t : peak;
    }
    ck_assert_int_eq(dld_pq_cpool_debug_workers(), 3);
    ck_assert_msg(peak <= base + 3, "%d threads with %d before: more than the 3 shared workers", peak, base);
    for (int i = 0; i < S_NW; i++)
        for (int pass = 0; pass < 2; pass++)
            ck_assert_int_eq(dld_format_writer_finish(w[i][pass], &e), DLD_OK);
    for (int i = 0; i < S_NW; i++) {
        ck_assert_uint_gt(alone[i].len, 262144);
        ck_assert_msg(shared[i].len == alone[i].len && memcmp(shared[i].data, alone[i].data, alone[i].len) == 0,
                      "%s/%s: the file written beside others differs from the one written alone", codecs[i][0],
                      codecs[i][1] ? codecs[i][1] : "-");
        /* files of different codecs differ: each job used its own writer's codec */
        if (i > 0)
            ck_assert_msg(shared[i].len != shared[0].len || memcmp(shared[i].data, shared[0].data, shared[0].len),
                          "writer %d wrote the same bytes as writer 0", i);
    }
    for (int i = 0; i < S_NW; i++)
        for (int pass = 0; pass < 2; pass++)
            dld_format_writer_destroy(w[i][pass]);
    /* the last writer took the workers with it */
    ck_assert_int_eq(dld_pq_cpool_debug_workers(), 0);
    ck_assert_int_eq(s_tasks(), base);
    for (int i = 0; i < S_NW; i++) {
        free(alone[i].data);
        free(shared[i].data);
    }
    s_free();
}
END_TEST

static struct dld_pq_page_job *s_job(struct dld_pq_cpool *p, int i)
{
    struct dld_pq_page_job *j = dld_pq_cpool_job_new(p);
    ck_assert_ptr_nonnull(j);
    for (int k = 0; k < 2000; k++) {
        uint32_t v = (uint32_t)(i * 7919 + k % 97);
        ck_assert_int_eq(dld_pq_buf_append(&j->body, &v, sizeof(v)), 0);
    }
    j->page_type = 0;
    j->num_values = 2000;
    dld_pq_cpool_submit(p, j);
    return j;
}

/* fairness, deterministically: the workers are held while a big writer
 * queues its whole allowance and a small one a single page; released, they
 * serve the writers in turn, so the small writer's page is among the first
 * two taken, not behind the big one's four (a shared FIFO would make it
 * the fifth) */
START_TEST(small_writer_not_behind_big_backlog)
{
    int lo, hi, zl;
    dld_pq_codec_level_range(DLD_PQ_ZSTD, &lo, &hi, &zl);
    struct dld_pq_cpool *big = dld_pq_cpool_new(DLD_PQ_ZSTD, zl, 2);
    struct dld_pq_cpool *small = dld_pq_cpool_new(DLD_PQ_GZIP, 6, 2);
    ck_assert_ptr_nonnull(big);
    ck_assert_ptr_nonnull(small);
    dld_pq_cpool_debug_hold(true);
    uint64_t picks = dld_pq_cpool_debug_picks();
    struct dld_pq_page_job *bj[4], *sj;
    for (int i = 0; i < 4; i++)
        bj[i] = s_job(big, i); /* 4 = the big pool's queue (2 per thread): nothing runs yet */
    sj = s_job(small, 99);
    ck_assert_int_eq(dld_pq_cpool_debug_workers(), 2);
    dld_pq_cpool_debug_hold(false);
    /* let the workers take all five (a wait now would run queued ones here) */
    for (int ms = 0; dld_pq_cpool_debug_picks() < picks + 5; ms++) {
        ck_assert_msg(ms < 30000, "the workers took %d of 5 jobs in 30 s",
                      (int)(dld_pq_cpool_debug_picks() - picks));
        nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
    }
    dld_pq_cpool_wait_below(small, dld_pq_cpool_next_seq(small));
    dld_pq_cpool_wait_below(big, dld_pq_cpool_next_seq(big));
    int before = 0;
    for (int i = 0; i < 4; i++) {
        ck_assert_ptr_nonnull(bj[i]->out);
        ck_assert_ptr_null(bj[i]->msg);
        before += bj[i]->pick < sj->pick;
        if (i > 0) /* one writer's jobs are taken in its order */
            ck_assert_uint_gt(bj[i]->pick, bj[i - 1]->pick);
    }
    ck_assert_ptr_nonnull(sj->out);
    ck_assert_ptr_null(sj->msg);
    ck_assert_msg(before <= 1, "the small writer's page was taken after %d of the big writer's", before);
    for (int i = 0; i < 4; i++)
        dld_pq_cpool_job_free(big, bj[i]);
    dld_pq_cpool_job_free(small, sj);
    dld_pq_cpool_destroy(big);
    ck_assert_int_eq(dld_pq_cpool_debug_workers(), 2); /* small still holds them */
    dld_pq_cpool_destroy(small);
    ck_assert_int_eq(dld_pq_cpool_debug_workers(), 0);
}
END_TEST

TCase *pq_threads_tcase(void)
{
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, same_file_whatever_the_threads);
    tcase_add_test(tc, sink_failure_with_threads);
    tcase_add_test(tc, destroy_with_pages_in_flight);
    tcase_add_test(tc, writers_share_one_pool);
    tcase_add_test(tc, small_writer_not_behind_big_backlog);
    return tc;
}

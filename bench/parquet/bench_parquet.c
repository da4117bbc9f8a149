/* Parquet encode benchmark driver: builds N rows of a typical table as
 * Arrow batches with the SDK's batch builder (not timed), then times our
 * writer turning them into one file (timed: write + finish, file I/O
 * included, as DuckDB's COPY includes it).
 *
 *   bench_parquet <rows> <out.parquet> [option value ...]
 *
 * Prints one JSON line: rows, seconds, bytes, rows_per_s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <deltaload/format.h>
#include <deltaload/sdk.h>

#define BATCH_ROWS 65536

static uint64_t s_rng = 0x2545F4914F6CDD1Dull;
static uint64_t s_next(void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

static const char *const s_cities[] = {
    "Amsterdam", "Berlin", "Chicago", "Dublin", "Edinburgh", "Frankfurt", "Geneva", "Helsinki", "Istanbul",
    "Johannesburg", "Kyoto", "Lisbon", "Madrid", "Nairobi", "Oslo", "Paris", "Quebec", "Rome", "Stockholm",
    "Toronto", "Utrecht", "Vienna", "Warsaw", "Xiamen", "Yokohama", "Zurich",
};
static const char *const s_words[] = {
    "order", "shipped", "customer", "requested", "delivery", "before", "the", "weekend", "please", "call",
    "invoice", "attached", "payment", "received", "thanks", "for", "your", "patience", "item", "backordered",
    "will", "arrive", "next", "week", "gift", "wrap", "fragile", "handle", "with", "care", "leave", "at",
    "door", "signature", "required", "discount", "applied", "loyalty", "member", "since", "address", "changed",
    "contact", "support", "if", "questions", "refund", "issued", "partial", "return",
};

static int s_build(int64_t rows, struct ArrowSchema *schema, struct ArrowArray **batches, size_t *nbatches)
{
    struct dld_column_spec cols[] = {
        { .name = "id", .type = DLD_T_INT64 },
        { .name = "created_at", .type = DLD_T_TIMESTAMP, .unit = DLD_UNIT_MICRO, .nullable = true },
        { .name = "amount", .type = DLD_T_DECIMAL128, .precision = 12, .scale = 2, .nullable = true },
        { .name = "city", .type = DLD_T_STRING, .nullable = true },
        { .name = "paid", .type = DLD_T_BOOL, .nullable = true },
        { .name = "comment", .type = DLD_T_STRING, .nullable = true },
    };
    struct dld_batch_builder *b = dld_batch_builder_new(cols, 6);
    if (!b)
        return -1;
    size_t n = (size_t)((rows + BATCH_ROWS - 1) / BATCH_ROWS);
    struct ArrowArray *arr = calloc(n ? n : 1, sizeof(*arr));
    int64_t ts = 1704067200000000LL; /* 2024-01-01 */
    char text[512];
    size_t k = 0;
    for (int64_t r = 0; r < rows; r++) {
        uint64_t h = s_next();
        ts += 200000 + (int64_t)(h % 1600000); /* ~1 s apart, rising */
        dld_batch_append_int(b, 0, 1000000000 + r);
        dld_batch_append_int(b, 1, ts);
        dld_batch_append_decimal(b, 2, (__int128)((h >> 8) % 2000000) + (h % 7 == 0 ? (__int128)((h >> 20) % 90000000) : 0));
        const char *city = s_cities[(h >> 32) % 26];
        int len = snprintf(text, sizeof(text), "%s-%02u", city, (unsigned)((h >> 40) % 40));
        dld_batch_append_bytes(b, 3, text, (size_t)len);
        dld_batch_append_bool(b, 4, (h >> 50) % 5 != 0);
        if ((h >> 52) % 10 < 3) {
            dld_batch_append_null(b, 5);
        } else {
            size_t words = 8 + (s_next() % 40), pos = 0;
            for (size_t w = 0; w < words && pos < sizeof(text) - 32; w++)
                pos += (size_t)snprintf(text + pos, sizeof(text) - pos, "%s%s", w ? " " : "", s_words[s_next() % 50]);
            dld_batch_append_bytes(b, 5, text, pos);
        }
        dld_batch_end_row(b);
        if (dld_batch_rows(b) == BATCH_ROWS || r == rows - 1) {
            struct ArrowSchema s;
            if (dld_batch_finish(b, &s, &arr[k++]))
                return -1;
            if (k == 1)
                *schema = s;
            else
                dld_arrow_release(&s, NULL);
        }
    }
    dld_batch_builder_destroy(b);
    *batches = arr;
    *nbatches = k;
    return 0;
}

static int s_write(void *ctx, const void *p, size_t n, struct dld_error *err)
{
    if (fwrite(p, 1, n, ctx) != n)
        return dld_error_set(err, DLD_ERR_FATAL, "write failed");
    return DLD_OK;
}

static double s_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc % 2 == 0) {
        fprintf(stderr, "usage: %s <rows> <out.parquet> [option value ...]\n", argv[0]);
        return 2;
    }
    int64_t rows = atoll(argv[1]);
    struct ArrowSchema schema;
    struct ArrowArray *batches;
    size_t n;
    if (rows < 1 || s_build(rows, &schema, &batches, &n)) {
        fprintf(stderr, "cannot build the batches\n");
        return 1;
    }
    const char **opts = calloc((size_t)argc, sizeof(char *));
    for (int i = 3; i < argc; i++)
        opts[i - 3] = argv[i];

    /* BENCH_REPEAT=k writes the file k times (for profiling the writer
     * apart from the data generation); the best time is reported */
    int repeat = getenv("BENCH_REPEAT") ? atoi(getenv("BENCH_REPEAT")) : 1;
    double best = 1e30;
    uint64_t bytes = 0;
    for (int k = 0; k < (repeat > 0 ? repeat : 1); k++) {
        FILE *fp = fopen(argv[2], "wb");
        if (!fp) {
            perror(argv[2]);
            return 1;
        }
        struct dld_sink sink = { fp, s_write };
        struct dld_error err;
        dld_error_init(&err);
        const char *meta[] = { "deltaload.writer", "bench", NULL };
        double t0 = s_now();
        struct dld_format_writer *w = dld_format_writer_new("parquet", opts, &schema, &sink, meta, &err);
        int rc = w ? DLD_OK : err.code;
        for (size_t i = 0; rc == DLD_OK && i < n; i++)
            rc = dld_format_writer_write(w, &batches[i], &err);
        if (rc == DLD_OK)
            rc = dld_format_writer_finish(w, &err);
        if (fclose(fp))
            rc = DLD_ERR_FATAL;
        double t1 = s_now();
        if (rc != DLD_OK) {
            fprintf(stderr, "write failed: %s\n", err.message);
            return 1;
        }
        bytes = dld_format_writer_size(w);
        dld_format_writer_destroy(w);
        best = t1 - t0 < best ? t1 - t0 : best;
    }
    printf("{\"rows\": %lld, \"seconds\": %.4f, \"bytes\": %llu, \"rows_per_s\": %.0f}\n", (long long)rows, best,
           (unsigned long long)bytes, (double)rows / best);
    for (size_t i = 0; i < n; i++)
        dld_arrow_release(NULL, &batches[i]);
    dld_arrow_release(&schema, NULL);
    free(batches);
    free(opts);
    return 0;
}

/*
 * File format writers shared by every target (file, s3, ...): a writer
 * turns Arrow batches into the bytes of one file and pushes them into a
 * sink, so a target can stream to disk or to a multipart upload without
 * holding a file in memory.
 *
 * Ownership: the writer borrows the schema for its whole life (the caller
 * keeps it alive) and each batch for the call only. The sink is borrowed.
 *
 * SDK layer: lake (libdeltaload_sdk_lake.a; pkg-config deltaload-sdk-lake; CMake
 * component lake, deltaload::sdk-lake). Not included by deltaload.h.
 */
#ifndef DELTALOAD_FORMAT_H
#define DELTALOAD_FORMAT_H

#include <stdint.h>

#include "abi.h"
#include "arrow_c.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The option rows every target declares for its files: format, the Parquet
 * and CSV writer options, and max_file_size (targets roll files with
 * dld_format_writer_size). A macro, because each plugin's option table is
 * its own static array: put DLD_FORMAT_OPTION_ROWS among the rows. */
#define DLD_FORMAT_OPTION_ROWS                                                                                    \
    {"format", DLD_OPT_STRING, 0, "parquet", "parquet|csv", "File format of the data files.", NULL},              \
    {"compression", DLD_OPT_STRING, 0, "zstd", "zstd|snappy|gzip|none", "Parquet compression codec.", NULL},      \
    {"compression_level", DLD_OPT_INT, 0, NULL, NULL,                                                            \
     "Parquet: codec level (zstd 1-22, default 3; gzip 1-9, default 6); unset uses the codec's default.", NULL}, \
    {"row_group_size", DLD_OPT_INT, 0, "67108864", NULL, "Parquet: target uncompressed bytes per row group.",     \
     NULL},                                                                                                       \
    {"page_size", DLD_OPT_INT, 0, NULL, NULL, "Parquet: target uncompressed bytes per data page (default 1 MiB).", \
     NULL},                                                                                                       \
    {"memory_budget", DLD_OPT_INT, 0, "268435456", NULL,                                                         \
     "Parquet: bytes shared by the files being written at once: with N open, each uses row groups of at most "   \
     "memory_budget/4/N, pages of at most memory_budget/64/N and fewer compressing threads (docs/parquet.md).",  \
     NULL},                                                                                                       \
    {"compression_threads", DLD_OPT_INT, 0, NULL, NULL,                                                          \
     "Parquet: threads compressing pages (1-64; default: online CPUs, at most 4; 1 compresses in the writer's "  \
     "thread). The file is the same whatever the value.",                                                         \
     NULL},                                                                                                       \
    {"dictionary_max_bytes", DLD_OPT_INT, 0, NULL, NULL,                                                         \
     "Parquet: a column chunk's dictionary may grow to this many bytes before the rest of the chunk is written " \
     "PLAIN (default 1 MiB).",                                                                                    \
     NULL},                                                                                                       \
    {"timestamp_unit", DLD_OPT_STRING, 0, "native", "native|ms|us",                                             \
     "Parquet: write timestamps in their source unit, in milliseconds for engines that read nothing finer, or "  \
     "in microseconds (what table_format iceberg writes).",                                                      \
     NULL},                                                                                                       \
    {"table_format", DLD_OPT_STRING, 0, "files", "files|iceberg",                                                \
     "files: a folder of data files with deltaload's manifests; iceberg: also an Apache Iceberg table (format "  \
     "version 2, file-system catalog), one snapshot per committed load (docs/iceberg.md). Needs format parquet.", \
     NULL},                                                                                                       \
    {"csv_header", DLD_OPT_BOOL, 0, "true", NULL, "CSV: write a header line with the column names.", NULL},      \
    {"max_file_size", DLD_OPT_INT, 0, "268435456", NULL,                                                         \
     "Start a new file (LOAD...-0002, ...) once the current one reaches this many bytes.", NULL},                \
    {"max_open_partitions", DLD_OPT_INT, 0, "32", NULL,                                                          \
     "table_format iceberg with an item's partition_by: data files a load keeps open at once, one per "          \
     "partition value; one more closes the least recently used (docs/iceberg.md, Partitioning).",                \
     NULL}

struct dld_sink {
    void *ctx;
    int (*write)(void *ctx, const void *data, size_t len, struct dld_error *err);
};

struct dld_format_writer;

/* format: "csv" or "parquet". options: the target's key/value options; the
 * writers read "compression", "row_group_size", "timestamp_unit",
 * "csv_header", ... (see docs/configuration.md). metadata: NULL-terminated
 * key/value pairs stored in the file where the format allows (Parquet). */
struct dld_format_writer *dld_format_writer_new(const char *format, const char *const *options,
                                                const struct ArrowSchema *schema, const struct dld_sink *sink,
                                                const char *const *metadata, struct dld_error *err);
int dld_format_writer_write(struct dld_format_writer *w, const struct ArrowArray *batch, struct dld_error *err);
/* bytes handed to the sink so far plus what is buffered: for rolling files */
uint64_t dld_format_writer_size(const struct dld_format_writer *w);
int64_t dld_format_writer_rows(const struct dld_format_writer *w);
/* flushes everything and writes the trailer (Parquet footer) */
int dld_format_writer_finish(struct dld_format_writer *w, struct dld_error *err);
/* Statistics of top-level column col over the whole finished file (Parquet;
 * DLD_ERR_UNSUPPORTED for other formats, DLD_ERR_NOT_FOUND past the last
 * column): for table_format iceberg's manifests. Valid until destroy. */
struct dld_format_column_stats {
    int64_t values;         /* values, nulls included */
    int64_t nulls;
    int has_min, has_max;   /* bounds of the non-null, non-NaN values */
    const void *min, *max;  /* Parquet's PLAIN encoding (byte arrays: the bytes, no length); a long byte array's
                             * bounds are shortened (the min to a prefix, the max to a prefix with its last byte
                             * raised): still bounds */
    size_t min_len, max_len;
};
int dld_format_writer_column_stats(const struct dld_format_writer *w, size_t col, struct dld_format_column_stats *out);
void dld_format_writer_destroy(struct dld_format_writer *w);
/* "csv" → "csv", "parquet" → "parquet"; NULL for an unknown format */
const char *dld_format_extension(const char *format);

#ifdef __cplusplus
}
#endif
#endif

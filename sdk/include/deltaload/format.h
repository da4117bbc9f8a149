/*
 * File format writers shared by every target (file, s3, ...): a writer
 * turns Arrow batches into the bytes of one file and pushes them into a
 * sink, so a target can stream to disk or to a multipart upload without
 * holding a file in memory.
 *
 * Ownership: the writer borrows the schema for its whole life (the caller
 * keeps it alive) and each batch for the call only. The sink is borrowed.
 */
#ifndef DELTALOAD_FORMAT_H
#define DELTALOAD_FORMAT_H

#include <stdint.h>

#include "abi.h"
#include "arrow_c.h"

#ifdef __cplusplus
extern "C" {
#endif

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
void dld_format_writer_destroy(struct dld_format_writer *w);
/* "csv" → "csv", "parquet" → "parquet"; NULL for an unknown format */
const char *dld_format_extension(const char *format);

#ifdef __cplusplus
}
#endif
#endif

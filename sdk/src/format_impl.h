/* Internal: one file format behind the dld_format_writer API (format.h).
 * format.c dispatches by name to the table of these. */
#ifndef DLD_FORMAT_IMPL_H
#define DLD_FORMAT_IMPL_H

#include <deltaload/format.h>

struct dld_format_impl {
    const char *name;
    const char *extension;
    void *(*create)(const char *const *options, const struct ArrowSchema *schema, const struct dld_sink *sink,
                    const char *const *metadata, struct dld_error *err);
    int (*write)(void *impl, const struct ArrowArray *batch, struct dld_error *err);
    /* bytes handed to the sink plus bytes buffered */
    uint64_t (*size)(const void *impl);
    int (*finish)(void *impl, struct dld_error *err);
    void (*destroy)(void *impl);
    /* optional: statistics of column col of the finished file (format.h) */
    int (*column_stats)(const void *impl, size_t col, struct dld_format_column_stats *out);
};

extern const struct dld_format_impl dld_format_csv;
extern const struct dld_format_impl dld_format_parquet;

#endif

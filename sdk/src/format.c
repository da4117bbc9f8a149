/* dld_format_writer (format.h): dispatch by format name to the writers. */
#include <stdlib.h>
#include <string.h>

#include "format_impl.h"
#include <deltaload/sdk.h>

static const struct dld_format_impl *const s_formats[] = {
    &dld_format_csv,
    &dld_format_parquet,
};

struct dld_format_writer {
    const struct dld_format_impl *impl;
    void *state;
    int64_t rows;
};

static const struct dld_format_impl *s_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof(s_formats) / sizeof(s_formats[0]); i++)
        if (strcmp(s_formats[i]->name, name) == 0)
            return s_formats[i];
    return NULL;
}

const char *dld_format_extension(const char *format)
{
    const struct dld_format_impl *f = s_find(format);
    return f ? f->extension : NULL;
}

struct dld_format_writer *dld_format_writer_new(const char *format, const char *const *options,
                                                const struct ArrowSchema *schema, const struct dld_sink *sink,
                                                const char *const *metadata, struct dld_error *err)
{
    const struct dld_format_impl *f = s_find(format);
    if (f == NULL) {
        dld_error_set(err, DLD_ERR_CONFIG, "unknown output format '%s'", format ? format : "(null)");
        return NULL;
    }
    struct dld_format_writer *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        return NULL;
    }
    w->impl = f;
    w->state = f->create(options, schema, sink, metadata, err);
    if (w->state == NULL) {
        free(w);
        return NULL;
    }
    return w;
}

int dld_format_writer_write(struct dld_format_writer *w, const struct ArrowArray *batch, struct dld_error *err)
{
    int rc = w->impl->write(w->state, batch, err);
    if (rc == DLD_OK)
        w->rows += batch->length;
    return rc;
}

uint64_t dld_format_writer_size(const struct dld_format_writer *w) { return w->impl->size(w->state); }
int64_t dld_format_writer_rows(const struct dld_format_writer *w) { return w->rows; }
int dld_format_writer_finish(struct dld_format_writer *w, struct dld_error *err) { return w->impl->finish(w->state, err); }

int dld_format_writer_column_stats(const struct dld_format_writer *w, size_t col, struct dld_format_column_stats *out)
{
    memset(out, 0, sizeof(*out));
    return w->impl->column_stats ? w->impl->column_stats(w->state, col, out) : DLD_ERR_UNSUPPORTED;
}

void dld_format_writer_destroy(struct dld_format_writer *w)
{
    if (w == NULL)
        return;
    w->impl->destroy(w->state);
    free(w);
}

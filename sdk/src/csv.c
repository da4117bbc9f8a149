/*
 * CSV writer (RFC 4180): a header line, comma separated, fields quoted when
 * they hold a comma, quote, CR or LF. NULL is an empty unquoted field and an
 * empty string is "" so the two stay distinguishable. Timestamps are ISO
 * 8601, binary is hex with a \x prefix (PostgreSQL's bytea text form),
 * floats round-trip (%.17g), NaN/Infinity spelled as most readers accept.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format_impl.h"
#include <deltaload/sdk.h>

#define S_FLUSH_AT (1u << 20)

struct s_csv {
    struct dld_sink sink;
    size_t ncols;
    struct dld_column_spec *specs;
    char *buf;
    size_t len, cap;
    uint64_t flushed;
};

static int s_grow(struct s_csv *w, size_t extra)
{
    if (w->len + extra <= w->cap)
        return 0;
    size_t cap = w->cap ? w->cap : S_FLUSH_AT * 2;
    while (cap < w->len + extra)
        cap *= 2;
    char *p = realloc(w->buf, cap);
    if (p == NULL)
        return -1;
    w->buf = p;
    w->cap = cap;
    return 0;
}

static int s_put(struct s_csv *w, const char *s, size_t n)
{
    if (s_grow(w, n))
        return -1;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    return 0;
}

static int s_put_quoted(struct s_csv *w, const char *s, size_t n, bool force)
{
    bool q = force;
    for (size_t i = 0; i < n && !q; i++)
        q = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!q)
        return s_put(w, s, n);
    if (s_grow(w, 2 * n + 2))
        return -1;
    w->buf[w->len++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            w->buf[w->len++] = '"';
        w->buf[w->len++] = s[i];
    }
    w->buf[w->len++] = '"';
    return 0;
}

static int s_flush(struct s_csv *w, struct dld_error *err)
{
    if (w->len == 0)
        return DLD_OK;
    int rc = w->sink.write(w->sink.ctx, w->buf, w->len, err);
    if (rc == DLD_OK) {
        w->flushed += w->len;
        w->len = 0;
    }
    return rc;
}

static void s_destroy(void *impl)
{
    struct s_csv *w = impl;
    if (w == NULL)
        return;
    free(w->specs);
    free(w->buf);
    free(w);
}

static void *s_create(const char *const *options, const struct ArrowSchema *schema, const struct dld_sink *sink,
                      const char *const *metadata, struct dld_error *err)
{
    struct s_csv *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->sink = *sink;
    w->ncols = (size_t)schema->n_children;
    w->specs = calloc(w->ncols ? w->ncols : 1, sizeof(*w->specs));
    if (w->specs == NULL)
        goto fail;
    for (size_t i = 0; i < w->ncols; i++)
        if (dld_arrow_column_spec(schema->children[i], &w->specs[i], err) != DLD_OK)
            goto fail;
    if (dld_opt_bool(options, "csv_header", true)) {
        for (size_t i = 0; i < w->ncols; i++) {
            const char *name = w->specs[i].name;
            if ((i && s_put(w, ",", 1)) || s_put_quoted(w, name, strlen(name), false))
                goto fail;
        }
        if (s_put(w, "\n", 1))
            goto fail;
    }
    return w;
fail:
    if (err && err->code == 0)
        dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    s_destroy(w);
    return NULL;
}

static int s_put_value(struct s_csv *w, const struct dld_column_spec *sp, const struct ArrowArray *col, int64_t row)
{
    if (dld_arrow_is_null(col, row))
        return 0;
    int64_t i = row + col->offset;
    char tmp[96];
    size_t n = 0;
    const void *data = col->buffers[1];
    switch (sp->type) {
    case DLD_T_BOOL: {
        bool v = ((const uint8_t *)data)[i >> 3] & (1u << (i & 7));
        return s_put(w, v ? "true" : "false", v ? 4 : 5);
    }
    case DLD_T_INT8: n = (size_t)snprintf(tmp, sizeof tmp, "%d", ((const int8_t *)data)[i]); break;
    case DLD_T_INT16: n = (size_t)snprintf(tmp, sizeof tmp, "%d", ((const int16_t *)data)[i]); break;
    case DLD_T_INT32: n = (size_t)snprintf(tmp, sizeof tmp, "%" PRId32, ((const int32_t *)data)[i]); break;
    case DLD_T_INT64: n = (size_t)snprintf(tmp, sizeof tmp, "%" PRId64, ((const int64_t *)data)[i]); break;
    case DLD_T_FLOAT32: case DLD_T_FLOAT64: {
        double v = sp->type == DLD_T_FLOAT32 ? ((const float *)data)[i] : ((const double *)data)[i];
        if (isnan(v))
            n = (size_t)snprintf(tmp, sizeof tmp, "NaN");
        else if (isinf(v))
            n = (size_t)snprintf(tmp, sizeof tmp, v > 0 ? "Infinity" : "-Infinity");
        else
            n = (size_t)snprintf(tmp, sizeof tmp, sp->type == DLD_T_FLOAT32 ? "%.9g" : "%.17g", v);
        break;
    }
    case DLD_T_STRING: case DLD_T_BINARY: {
        const int32_t *off = data;
        const char *bytes = (const char *)col->buffers[2] + off[i];
        size_t len = (size_t)(off[i + 1] - off[i]);
        if (sp->type == DLD_T_STRING)
            return s_put_quoted(w, bytes, len, len == 0);
        if (s_grow(w, 2 * len + 2))
            return -1;
        static const char hex[] = "0123456789abcdef";
        w->buf[w->len++] = '\\';
        w->buf[w->len++] = 'x';
        for (size_t k = 0; k < len; k++) {
            w->buf[w->len++] = hex[(unsigned char)bytes[k] >> 4];
            w->buf[w->len++] = hex[(unsigned char)bytes[k] & 15];
        }
        return 0;
    }
    case DLD_T_DECIMAL128: {
        __int128 v;
        memcpy(&v, (const char *)data + 16 * i, 16);
        n = dld_decimal_format(v, sp->scale, tmp);
        break;
    }
    case DLD_T_DATE32: n = dld_format_date(((const int32_t *)data)[i], tmp, sizeof tmp); break;
    case DLD_T_TIMESTAMP:
        n = dld_format_timestamp(((const int64_t *)data)[i], sp->unit, sp->tz != NULL, tmp, sizeof tmp);
        break;
    case DLD_T_TIME32: n = dld_format_time(((const int32_t *)data)[i], sp->unit, tmp, sizeof tmp); break;
    case DLD_T_TIME64: n = dld_format_time(((const int64_t *)data)[i], sp->unit, tmp, sizeof tmp); break;
    default: return -1;
    }
    return s_put(w, tmp, n);
}

static int s_write(void *impl, const struct ArrowArray *batch, struct dld_error *err)
{
    struct s_csv *w = impl;
    if ((size_t)batch->n_children != w->ncols)
        return dld_error_set(err, DLD_ERR_FATAL, "batch has %" PRId64 " columns, the file %zu", batch->n_children,
                             w->ncols);
    for (int64_t r = 0; r < batch->length; r++) {
        for (size_t c = 0; c < w->ncols; c++) {
            if ((c && s_put(w, ",", 1)) || s_put_value(w, &w->specs[c], batch->children[c], r + batch->offset))
                return dld_error_set(err, DLD_ERR_FATAL, "out of memory writing CSV");
        }
        if (s_put(w, "\n", 1))
            return dld_error_set(err, DLD_ERR_FATAL, "out of memory writing CSV");
        if (w->len >= S_FLUSH_AT) {
            int rc = s_flush(w, err);
            if (rc)
                return rc;
        }
    }
    return DLD_OK;
}

static uint64_t s_size(const void *impl)
{
    const struct s_csv *w = impl;
    return w->flushed + w->len;
}

static int s_finish(void *impl, struct dld_error *err) { return s_flush(impl, err); }

const struct dld_format_impl dld_format_csv = {
    .name = "csv",
    .extension = "csv",
    .create = s_create,
    .write = s_write,
    .size = s_size,
    .finish = s_finish,
    .destroy = s_destroy,
};

/*
 * Example source plugin: a table of `rows` generated rows (id, label),
 * whose filter column is `id`. It shows the whole contract of a source:
 * the descriptor, declared options, the window (low, high], capturing the
 * high mark, and building Arrow batches with the SDK's builder.
 */
#include <stdio.h>
#include <stdlib.h>

#include <deltaload/deltaload.h>

static const struct dld_option s_options[] = {
    {"rows", DLD_OPT_INT, DLD_OPTF_REQUIRED, NULL, NULL, "How many rows the table has (ids 1..rows).", NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL},
};

struct s_counter {
    const struct dld_host *host;
    int64_t rows;
};

struct s_cursor {
    struct dld_batch_builder *b;
    int64_t next, last;
    uint32_t batch_rows;
};

static int s_open(const struct dld_host *host, const char *const *options, void **inst, struct dld_error *err)
{
    struct s_counter *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    c->host = host;
    c->rows = dld_opt_int(options, "rows", 0);
    *inst = c;
    return DLD_OK;
}

static void s_close(void *inst) { free(inst); }

static int s_begin(void *inst, const struct dld_extract_request *req, struct dld_extract_info *info, void **cursor,
                   struct dld_error *err)
{
    struct s_counter *c = inst;
    int64_t low = req->low ? atoll(req->low) + (req->low_inclusive ? 0 : 1) : 1;
    int64_t high = req->high ? atoll(req->high) : c->rows;
    if (req->mode == DLD_MODE_FULL)
        low = 1, high = c->rows;
    struct s_cursor *cur = calloc(1, sizeof(*cur));
    static const struct dld_column_spec cols[] = {
        {.name = "id", .type = DLD_T_INT64}, {.name = "label", .type = DLD_T_STRING, .nullable = true}};
    cur->b = dld_batch_builder_new(cols, 2);
    cur->next = low < 1 ? 1 : low;
    cur->last = high;
    cur->batch_rows = req->batch_rows ? req->batch_rows : 1024;
    /* write only what the host's info has room for (DLD_SET skips, and does
     * not even evaluate, a member beyond its struct_size) */
    if (req->mode != DLD_MODE_FULL && cur->next <= cur->last) /* NULL high: nothing in range */
        DLD_SET(info, struct dld_extract_info, high, dld_host_sprintf(c->host, "%lld", (long long)high));
    DLD_SET(info, struct dld_extract_info, query,
            dld_host_sprintf(c->host, "ids %lld..%lld", (long long)cur->next, (long long)cur->last));
    *cursor = cur;
    return DLD_OK;
}

static int s_next(void *cursor, struct ArrowSchema *schema, struct ArrowArray *batch, struct dld_error *err)
{
    struct s_cursor *cur = cursor;
    if (cur->next > cur->last)
        return DLD_DONE;
    for (uint32_t i = 0; i < cur->batch_rows && cur->next <= cur->last; i++, cur->next++) {
        char label[32];
        int n = snprintf(label, sizeof label, "row %lld", (long long)cur->next);
        dld_batch_append_int(cur->b, 0, cur->next);
        if (cur->next % 10 == 0)
            dld_batch_append_null(cur->b, 1);
        else
            dld_batch_append_bytes(cur->b, 1, label, (size_t)n);
        if (dld_batch_end_row(cur->b) != DLD_OK)
            return dld_error_set(err, DLD_ERR_FATAL, "builder out of step");
    }
    return dld_batch_finish(cur->b, schema, batch) == DLD_OK ? DLD_OK : dld_error_set(err, DLD_ERR_FATAL, "out of memory");
}

static void s_end(void *cursor)
{
    struct s_cursor *cur = cursor;
    dld_batch_builder_destroy(cur->b);
    free(cur);
}

static const struct dld_source_vtable s_vtable = {
    .struct_size = sizeof(struct dld_source_vtable),
    .open = s_open,
    .close = s_close,
    .extract_begin = s_begin,
    .extract_next = s_next,
    .extract_end = s_end,
};

static const struct dld_plugin s_plugin = {
    .struct_size = sizeof(struct dld_plugin),
    .abi_major = DLD_ABI_MAJOR,
    .abi_minor = DLD_ABI_MINOR,
    .kind = DLD_KIND_SOURCE,
    .name = "counter",
    .version = "1.0.0",
    .description = "Example: a generated table of N rows (id, label)",
    .options = s_options,
    .vtable = &s_vtable,
};

DLD_PLUGIN_DEFINE(source_counter, s_plugin);

/*
 * Example source plugin: a table of `rows` generated rows (id, label),
 * whose filter column is `id`. It shows the whole contract of a source
 * (source.h, "Duties"): the descriptor, declared options, the window
 * (low, high], capturing the high mark over the rows above the low bound
 * only, the `between` cap at endvalue, refusing `lag` on a column that is
 * not a time, every full-mode operator, one empty batch for an empty
 * window, and building Arrow batches with the SDK's builder.
 * Check it with the conformance kit:
 *   deltaload plugins check dld-source-counter.so --options '{"rows": 100}' --table t --filter-column id
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <deltaload/deltaload.h>

static const struct dld_option s_options[] = {
    {"rows", DLD_OPT_INT, DLD_OPTF_REQUIRED, NULL, NULL, "How many rows the table has (ids 1..rows).", NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL},
};

struct s_counter {
    /* the host table lives until the plugin is unloaded (abi.h): keeping it
     * is allowed; everything else open() receives is borrowed for the call */
    const struct dld_host *host;
    int64_t rows;
};

/* full mode: which ids an operator keeps (the values are copied out of the
 * request, which is borrowed for extract_begin only) */
enum s_op { OP_ALL, OP_EQ, OP_NOTEQ, OP_LTE, OP_NONE, OP_NOTBETWEEN };

struct s_cursor {
    struct dld_batch_builder *b;
    int64_t next, last;
    uint32_t batch_rows;
    enum s_op op;
    int64_t v1, v2;
    bool sent; /* a batch was handed over (an empty window still sends one) */
};

static bool s_keep(const struct s_cursor *c, int64_t id)
{
    switch (c->op) {
    case OP_EQ: return id == c->v1;
    case OP_NOTEQ: return id != c->v1;
    case OP_LTE: return id <= c->v1;
    case OP_NONE: return false;
    case OP_NOTBETWEEN: return id < c->v1 || id > c->v2;
    default: return true;
    }
}

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
    const struct dld_table *t = req->table;
    const char *op = t->filter_operator;
    if (t->filter_column && strcmp(t->filter_column, "id") != 0)
        return dld_error_set(err, DLD_ERR_CONFIG, "table %s: the filter column must be id, not %s",
                             t->target_table_name, t->filter_column);
    /* lag holds back a time column's high mark; id is not a time */
    if (req->mode == DLD_MODE_DELTA && t->lag_seconds > 0)
        return dld_error_set(err, DLD_ERR_CONFIG, "table %s: lag applies to date/time filter columns; id is not one",
                             t->target_table_name);
    struct s_cursor *cur = calloc(1, sizeof(*cur));
    if (cur == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    int64_t low = req->low ? atoll(req->low) + (req->low_inclusive ? 0 : 1) : 1;
    int64_t high = c->rows;
    if (req->high)
        high = atoll(req->high); /* a fixed high is the high mark in force */
    else if (op && !strcmp(op, "between") && t->end_value && atoll(t->end_value) < high)
        high = atoll(t->end_value); /* between: never past endvalue */
    if (req->mode == DLD_MODE_FULL) {
        low = 1, high = c->rows;
        cur->op = OP_ALL;
        int64_t sv = t->start_value ? atoll(t->start_value) : 0, ev = t->end_value ? atoll(t->end_value) : 0;
        if (op == NULL || !t->filter_column)
            cur->op = OP_ALL;
        else if (!strcmp(op, "eq"))
            cur->op = OP_EQ, cur->v1 = sv;
        else if (!strcmp(op, "noteq"))
            cur->op = OP_NOTEQ, cur->v1 = sv;
        else if (!strcmp(op, "lte") || !strcmp(op, "ste"))
            cur->op = OP_LTE, cur->v1 = sv;
        else if (!strcmp(op, "null"))
            cur->op = OP_NONE; /* id is never NULL */
        else if (!strcmp(op, "notnull"))
            cur->op = OP_ALL;
        else if (!strcmp(op, "notbetween"))
            cur->op = OP_NOTBETWEEN, cur->v1 = sv, cur->v2 = ev;
        else {
            free(cur);
            return dld_error_set(err, DLD_ERR_CONFIG, "table %s: unknown filteroperator %s", t->target_table_name, op);
        }
    }
    static const struct dld_column_spec cols[] = {
        {.name = "id", .type = DLD_T_INT64}, {.name = "label", .type = DLD_T_STRING, .nullable = true}};
    cur->b = dld_batch_builder_new(cols, 2);
    if (cur->b == NULL) {
        free(cur);
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    cur->next = low < 1 ? 1 : low;
    cur->last = high;
    cur->batch_rows = req->batch_rows ? req->batch_rows : 1024;
    /* The captured high mark is the maximum id above the low bound only:
     * NULL when there is none (never low itself). Write only what the
     * host's info has room for (DLD_SET skips, and does not even evaluate,
     * a member beyond its struct_size). */
    if (req->mode != DLD_MODE_FULL && cur->next <= cur->last)
        DLD_SET(info, struct dld_extract_info, high, dld_host_sprintf(c->host, "%lld", (long long)high));
    else if (req->mode != DLD_MODE_FULL && req->high)
        DLD_SET(info, struct dld_extract_info, high, dld_host_strdup(c->host, req->high));
    DLD_SET(info, struct dld_extract_info, query,
            dld_host_sprintf(c->host, "ids %lld..%lld", (long long)cur->next, (long long)cur->last));
    *cursor = cur;
    return DLD_OK;
}

static int s_next(void *cursor, struct ArrowSchema *schema, struct ArrowArray *batch, struct dld_error *err)
{
    struct s_cursor *cur = cursor;
    if (cur->next > cur->last && cur->sent)
        return DLD_DONE; /* an empty window still handed over one empty batch, for the schema */
    for (uint32_t i = 0; i < cur->batch_rows && cur->next <= cur->last; cur->next++) {
        if (!s_keep(cur, cur->next))
            continue;
        char label[32];
        int n = snprintf(label, sizeof label, "row %lld", (long long)cur->next);
        dld_batch_append_int(cur->b, 0, cur->next);
        if (cur->next % 10 == 0)
            dld_batch_append_null(cur->b, 1);
        else
            dld_batch_append_bytes(cur->b, 1, label, (size_t)n);
        if (dld_batch_end_row(cur->b) != DLD_OK)
            return dld_error_set(err, DLD_ERR_FATAL, "builder out of step");
        i++;
    }
    if (cur->sent && dld_batch_rows(cur->b) == 0)
        return DLD_DONE;
    cur->sent = true;
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

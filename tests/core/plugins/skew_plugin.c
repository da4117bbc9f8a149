/*
 * Plugins built for another ABI minor than the host, for the version-skew
 * tests (abi.h, "version skew between host and plugin"). One source, built
 * into several .so files with -D switches (see ../CMakeLists.txt):
 *   SKEW_NEWER   source "newer", built as if for minor DLD_ABI_MINOR + 1: a
 *                longer descriptor, a source vtable with an appended member,
 *                and its own longer views of dld_extract_request and
 *                dld_extract_info, used only as far as the host's struct_size
 *                reaches (dld_struct_copy, DLD_SET). Table: ids 1..rows,
 *                filter column id.
 *     SKEW_NEEDS_HOST_MINOR=n  ... and its entry refuses a host older than
 *                minor n (PLUGIN_NAME names it).
 *   SKEW_OLDER   target "older", built for minor 0: abi_minor 0 and a
 *                vtable that ends where 1.1 appended manifest_list. It keeps
 *                no data files: load_publish appends "load <id> rows <n>"
 *                to the file `path`, which load_is_published reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <deltaload/deltaload.h>

#if defined(SKEW_NEWER)
#ifndef PLUGIN_NAME
#define PLUGIN_NAME "newer"
#endif

/* ---- the ABI as "the next minor" has it: today's structs with members appended */
struct next_extract_request {
    uint32_t struct_size;
    const struct dld_table *table;
    uint32_t mode;
    const char *low;
    int32_t low_inclusive;
    const char *high;
    uint32_t batch_rows;
    const char *sample;       /* next minor: a sampling clause, NULL = all rows */
};
struct next_extract_info {
    uint32_t struct_size;
    char *high;
    char *query;
    char *snapshot;
    struct ArrowSchema *schema; /* 1.2 */
    char *estimate;           /* next minor: the source's row estimate, as text */
};
struct next_source_vtable {
    struct dld_source_vtable v1;
    int (*estimate)(void *inst, const struct dld_extract_request *req, int64_t *rows, struct dld_error *err);
};
struct next_plugin {
    struct dld_plugin v1;
    const char *homepage;     /* next minor: a descriptor member */
};
_Static_assert(offsetof(struct next_extract_request, batch_rows) == offsetof(struct dld_extract_request, batch_rows),
               "next_extract_request must extend dld_extract_request");
_Static_assert(offsetof(struct next_extract_info, schema) == offsetof(struct dld_extract_info, schema),
               "next_extract_info must extend dld_extract_info");
_Static_assert(sizeof(struct next_extract_info) > sizeof(struct dld_extract_info), "an appended member");

struct s_src {
    const struct dld_host *host;
    int64_t rows;
};
struct s_cur {
    struct dld_batch_builder *b;
    int64_t next, last;
    uint32_t batch_rows;
};

static const struct dld_option s_opts[] = {
    {"rows", DLD_OPT_INT, 0, "5", NULL, "how many rows the table has (ids 1..rows)", NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL},
};

static int s_open(const struct dld_host *host, const char *const *options, void **inst, struct dld_error *err)
{
    struct s_src *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    s->host = host;
    s->rows = dld_opt_int(options, "rows", 5);
    *inst = s;
    return DLD_OK;
}
static void s_close(void *inst) { free(inst); }

static void s_window(const struct s_src *s, const struct next_extract_request *req, int64_t *low, int64_t *high)
{
    *low = req->low ? atoll(req->low) + (req->low_inclusive ? 0 : 1) : 1;
    *high = req->high ? atoll(req->high) : s->rows;
    if (req->mode == DLD_MODE_FULL)
        *low = 1, *high = s->rows;
    if (*low < 1)
        *low = 1;
}

static int s_begin(void *inst, const struct dld_extract_request *host_req, struct dld_extract_info *host_info,
                   void **cursor, struct dld_error *err)
{
    struct s_src *s = inst;
    /* members the host does not have (sample, from a host of today's minor) read as NULL */
    struct next_extract_request req;
    dld_struct_copy(&req, sizeof req, host_req);
    /* the host's info is only as long as its struct_size says: DLD_SET skips the rest */
    struct next_extract_info *info = (struct next_extract_info *)host_info;
    struct s_cur *cur = calloc(1, sizeof(*cur));
    static const struct dld_column_spec cols[] = {{.name = "id", .type = DLD_T_INT64},
                                                  {.name = "label", .type = DLD_T_STRING, .nullable = true}};
    if (cur == NULL || (cur->b = dld_batch_builder_new(cols, 2)) == NULL) {
        free(cur);
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    s_window(s, &req, &cur->next, &cur->last);
    cur->batch_rows = req.batch_rows ? req.batch_rows : 1024;
    int64_t n = cur->last >= cur->next ? cur->last - cur->next + 1 : 0;
    if (req.mode != DLD_MODE_FULL && n > 0) /* NULL high: nothing in range */
        DLD_SET(info, struct next_extract_info, high, dld_host_sprintf(s->host, "%lld", (long long)cur->last));
    DLD_SET(info, struct next_extract_info, query,
            dld_host_sprintf(s->host, "newer: ids %lld..%lld%s", (long long)cur->next, (long long)cur->last,
                             req.sample ? " sampled" : ""));
    DLD_SET(info, struct next_extract_info, snapshot, dld_host_strdup(s->host, "generated"));
    DLD_SET(info, struct next_extract_info, estimate, dld_host_sprintf(s->host, "%lld rows", (long long)n));
    *cursor = cur;
    return DLD_OK;
}

static int s_next(void *cursor, struct ArrowSchema *schema, struct ArrowArray *batch, struct dld_error *err)
{
    struct s_cur *cur = cursor;
    if (cur->next > cur->last)
        return DLD_DONE;
    for (uint32_t i = 0; i < cur->batch_rows && cur->next <= cur->last; i++, cur->next++) {
        char label[32];
        int n = snprintf(label, sizeof label, "row %lld", (long long)cur->next);
        dld_batch_append_int(cur->b, 0, cur->next);
        dld_batch_append_bytes(cur->b, 1, label, (size_t)n);
        if (dld_batch_end_row(cur->b) != DLD_OK)
            return dld_error_set(err, DLD_ERR_FATAL, "builder out of step");
    }
    return dld_batch_finish(cur->b, schema, batch) == DLD_OK ? DLD_OK : dld_error_set(err, DLD_ERR_FATAL, "out of memory");
}

static void s_end(void *cursor)
{
    struct s_cur *cur = cursor;
    dld_batch_builder_destroy(cur->b);
    free(cur);
}

static int s_estimate(void *inst, const struct dld_extract_request *host_req, int64_t *rows, struct dld_error *err)
{
    struct next_extract_request req;
    dld_struct_copy(&req, sizeof req, host_req);
    int64_t low, high;
    s_window(inst, &req, &low, &high);
    *rows = high >= low ? high - low + 1 : 0;
    return DLD_OK;
}

static const struct next_source_vtable s_vt = {
    .v1 = {.struct_size = sizeof(struct next_source_vtable), .open = s_open, .close = s_close,
           .extract_begin = s_begin, .extract_next = s_next, .extract_end = s_end},
    .estimate = s_estimate,
};

static const struct next_plugin s_plugin = {
    .v1 = {.struct_size = sizeof(struct next_plugin), .abi_major = DLD_ABI_MAJOR, .abi_minor = DLD_ABI_MINOR + 1,
           .kind = DLD_KIND_SOURCE, .name = PLUGIN_NAME, .version = "0.0.1",
           .description = "test source built for the next ABI minor", .options = s_opts, .vtable = &s_vt},
    .homepage = "https://example.invalid/newer",
};

#ifdef SKEW_NEEDS_HOST_MINOR
/* a plugin that cannot work without the newer members refuses an older host */
static int s_check_host(const struct dld_host *host)
{
    return host->abi_minor >= (SKEW_NEEDS_HOST_MINOR) ? DLD_OK : DLD_ERR_UNSUPPORTED;
}
DLD_PLUGIN_DEFINE_INIT(skew, s_plugin.v1, s_check_host);
#else
DLD_PLUGIN_DEFINE(skew, s_plugin.v1);
#endif

#elif defined(SKEW_OLDER)

struct s_tgt {
    const struct dld_host *host;
    char *path;
};
struct s_load {
    struct s_tgt *t;
    int64_t load_id, rows;
};

static const struct dld_option s_opts[] = {
    {"path", DLD_OPT_STRING, DLD_OPTF_REQUIRED, NULL, NULL, "file the published loads are listed in", NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL},
};

static int s_open(const struct dld_host *host, const char *const *options, void **inst, struct dld_error *err)
{
    struct s_tgt *t = calloc(1, sizeof(*t));
    if (t == NULL || (t->path = strdup(dld_opt_get(options, "path"))) == NULL) {
        free(t);
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    t->host = host;
    *inst = t;
    return DLD_OK;
}
static void s_close(void *inst)
{
    struct s_tgt *t = inst;
    free(t->path);
    free(t);
}
static int s_begin(void *inst, const struct dld_load *load, void **handle, struct dld_error *err)
{
    struct s_load *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    h->t = inst;
    h->load_id = load->load_id; /* a 1.0 member: every host has it */
    *handle = h;
    return DLD_OK;
}
static int s_write(void *handle, const struct ArrowSchema *schema, const struct ArrowArray *batch, struct dld_error *err)
{
    ((struct s_load *)handle)->rows += batch->length;
    return DLD_OK;
}
static int s_finish(void *handle, struct dld_load_stats *stats, struct dld_error *err)
{
    struct s_load *h = handle;
    struct dld_load_stats mine = {.struct_size = sizeof(mine), .rows = h->rows, .bytes = 0, .files = 0};
    dld_struct_copy(stats, stats->struct_size, &mine);
    return DLD_OK;
}
static int s_publish(void *handle, struct dld_error *err)
{
    struct s_load *h = handle;
    FILE *f = fopen(h->t->path, "a");
    if (f == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "older: cannot open %s", h->t->path);
    fprintf(f, "load %lld rows %lld\n", (long long)h->load_id, (long long)h->rows);
    return fclose(f) == 0 ? DLD_OK : dld_error_set(err, DLD_ERR_FATAL, "older: cannot write %s", h->t->path);
}
static void s_free(void *handle) { free(handle); }
static int s_discard(void *inst, const struct dld_load *load, struct dld_error *err) { return DLD_OK; }
static int s_is_published(void *inst, const struct dld_load *load, int *published, struct dld_error *err)
{
    struct s_tgt *t = inst;
    *published = 0;
    FILE *f = fopen(t->path, "r");
    long long id, rows;
    while (f && fscanf(f, "load %lld rows %lld\n", &id, &rows) == 2)
        if (id == load->load_id)
            *published = 1;
    if (f)
        fclose(f);
    return DLD_OK;
}

/* as compiled against the 1.0 headers: the vtable ends before manifest_list */
static const struct dld_target_vtable s_vt = {
    .struct_size = offsetof(struct dld_target_vtable, manifest_list),
    .open = s_open,
    .close = s_close,
    .load_begin = s_begin,
    .load_write = s_write,
    .load_finish = s_finish,
    .load_publish = s_publish,
    .load_free = s_free,
    .load_discard = s_discard,
    .load_is_published = s_is_published,
};

static const struct dld_plugin s_plugin = {
    .struct_size = sizeof(struct dld_plugin),
    .abi_major = DLD_ABI_MAJOR,
    .abi_minor = 0,
    .kind = DLD_KIND_TARGET,
    .name = "older",
    .version = "0.0.1",
    .description = "test target built for ABI 1.0 (no manifest_list)",
    .options = s_opts,
    .vtable = &s_vt,
};

DLD_PLUGIN_DEFINE(skew, s_plugin);
#else
#error "build with SKEW_NEWER or SKEW_OLDER"
#endif

/* Helpers of the source-postgres suite: connections, extraction into text
 * cells, comparisons. Arrow values are rendered in a canonical text that
 * the server can produce independently (see pgt_render), so every check
 * compares the plugin's decoding with PostgreSQL's own output. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_test.h"

const struct dld_source_vtable *pgt_vt;

/* ---- host with a log we can inspect ------------------------------------- */
static struct dld_host s_host;
static char *s_log[256];
static int s_nlog;

static void s_log_fn(int level, const char *plugin, const char *message)
{
    if (s_nlog < 256)
        s_log[s_nlog++] = strdup(message);
    dld_test_host()->log(level, plugin, message);
}

const struct dld_host *pgt_host(void)
{
    s_host = *dld_test_host();
    s_host.log = s_log_fn;
    return &s_host;
}

bool pgt_logged(const char *needle)
{
    for (int i = 0; i < s_nlog; i++)
        if (strstr(s_log[i], needle))
            return true;
    return false;
}

void pgt_log_clear(void)
{
    for (int i = 0; i < s_nlog; i++)
        free(s_log[i]);
    s_nlog = 0;
}

struct dld_error pgt_err(void)
{
    struct dld_error e;
    dld_error_init(&e);
    return e;
}

/* ---- the cluster ----------------------------------------------------------------- */
static char *s_read_file(const char *name)
{
    const char *dir = getenv("DLD_PG_DIR");
    ck_assert_msg(dir != NULL, "DLD_PG_DIR is not set (the pg_server fixture starts the cluster)");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    char buf[1024];
    char *ok = fgets(buf, sizeof buf, f);
    fclose(f);
    ck_assert_ptr_nonnull(ok);
    buf[strcspn(buf, "\n")] = '\0';
    return strdup(buf);
}

PGconn *pgt_admin(void)
{
    char *port = s_read_file("postmaster.port");
    char conninfo[1200];
    snprintf(conninfo, sizeof conninfo, "host=%s/sock port=%s user=postgres dbname=postgres", getenv("DLD_PG_DIR"),
             port);
    free(port);
    PGconn *c = PQconnectdb(conninfo);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "admin connection: %s", PQerrorMessage(c));
    PQclear(PQexec(c, "SET IntervalStyle = iso_8601; SET TimeZone = 'UTC'; SET client_min_messages = warning"));
    return c;
}

void pgt_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

static int s_cmp_cells(const char *x, const char *y)
{
    if (!x || !y)
        return (x != NULL) - (y != NULL);
    char *ex, *ey;
    long long ix = strtoll(x, &ex, 10), iy = strtoll(y, &ey, 10);
    if (!*ex && !*ey && *x && *y)
        return (ix > iy) - (ix < iy);
    return strcmp(x, y);
}

static size_t s_sort_ncols;
static int s_cmp_rows(const void *a, const void *b)
{
    char *const *x = *(char **const *)a, *const *y = *(char **const *)b;
    for (size_t k = 0; k < s_sort_ncols; k++) {
        int c = s_cmp_cells(x[k], y[k]);
        if (c)
            return c;
    }
    return 0;
}

/* sorts rows by their cells, first column first (ids compare as numbers) */
static void s_sort(struct pgt_rows *r)
{
    if (r->nrows < 2)
        return;
    char ***rows = malloc(r->nrows * sizeof *rows);
    char **copy = malloc(r->nrows * r->ncols * sizeof *copy);
    memcpy(copy, r->cells, r->nrows * r->ncols * sizeof *copy);
    for (size_t i = 0; i < r->nrows; i++)
        rows[i] = copy + i * r->ncols;
    s_sort_ncols = r->ncols;
    qsort(rows, r->nrows, sizeof *rows, s_cmp_rows);
    for (size_t i = 0; i < r->nrows; i++)
        memcpy(r->cells + i * r->ncols, rows[i], r->ncols * sizeof *copy);
    free(rows);
    free(copy);
}

void pgt_query(PGconn *c, const char *sql, struct pgt_rows *out, bool sort)
{
    memset(out, 0, sizeof *out);
    PGresult *r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
    out->nrows = (size_t)PQntuples(r);
    out->ncols = (size_t)PQnfields(r);
    out->cells = calloc(out->nrows * out->ncols + 1, sizeof(char *));
    out->names = calloc(out->ncols + 1, sizeof(char *));
    for (size_t j = 0; j < out->ncols; j++)
        out->names[j] = strdup(PQfname(r, (int)j));
    for (size_t i = 0; i < out->nrows; i++)
        for (size_t j = 0; j < out->ncols; j++)
            out->cells[i * out->ncols + j] =
                PQgetisnull(r, (int)i, (int)j) ? NULL : strdup(PQgetvalue(r, (int)i, (int)j));
    PQclear(r);
    if (sort)
        s_sort(out);
}

char *pgt_value(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) >= 1, "%s: %s", sql, PQerrorMessage(c));
    char *v = PQgetisnull(r, 0, 0) ? NULL : strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static void *s_open(const char *const *extra, int *rc, struct dld_error *err)
{
    char *conninfo = s_read_file("conninfo");
    char *password = s_read_file("password");
    const char *opts[64];
    size_t n = 0;
    bool own_conninfo = false, own_password = false;
    for (size_t i = 0; extra && extra[i]; i += 2) {
        own_conninfo |= !strcmp(extra[i], "conninfo");
        own_password |= !strcmp(extra[i], "password");
    }
    if (!own_conninfo) {
        opts[n++] = "conninfo";
        opts[n++] = conninfo;
    }
    if (!own_password) {
        opts[n++] = "password";
        opts[n++] = password;
    }
    for (size_t i = 0; extra && extra[i] && n < 60; i += 2) {
        opts[n++] = extra[i];
        opts[n++] = extra[i + 1];
    }
    opts[n] = NULL;
    void *inst = NULL;
    *rc = pgt_vt->open(pgt_host(), opts, &inst, err);
    free(conninfo);
    free(password);
    return inst;
}

int pgt_open_rc(const char *const *extra, struct dld_error *err)
{
    int rc;
    void *inst = s_open(extra, &rc, err);
    if (inst)
        pgt_vt->close(inst);
    return rc;
}

void *pgt_open(const char *const *extra)
{
    struct dld_error e = pgt_err();
    int rc;
    void *inst = s_open(extra, &rc, &e);
    ck_assert_msg(rc == DLD_OK && inst, "open: %s", e.message);
    return inst;
}

struct dld_table pgt_table(const char *schema, const char *table, const char *filter)
{
    struct dld_table t;
    memset(&t, 0, sizeof t);
    t.struct_size = sizeof t;
    t.target_table_name = table;
    t.source_schema = schema;
    t.source_table = table;
    t.filter_column = filter;
    t.output_prefix = "";
    t.active = 1;
    return t;
}

struct dld_extract_request pgt_req(const struct dld_table *t, uint32_t mode, const char *low, int inclusive,
                                   const char *high)
{
    struct dld_extract_request r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    r.table = t;
    r.mode = mode;
    r.low = low;
    r.low_inclusive = inclusive;
    r.high = high;
    r.batch_rows = 1000;
    return r;
}

/* ---- rendering Arrow values ------------------------------------------------------- */
static char *s_hex(const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char *s = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = hex[p[i] >> 4];
        s[2 * i + 1] = hex[p[i] & 15];
    }
    s[2 * n] = '\0';
    return s;
}

static char *s_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *s_fmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

/* The canonical text of one value:
 *   b → true/false; s/i/l and dates (days), times and timestamps (us) →
 *   decimal integers; f/g → big-endian hex of the IEEE bits (as float4send
 *   and float8send); d:p,s → decimal text with s digits; u → the text;
 *   z → hex. */
static char *s_render(const char *format, const struct ArrowArray *a, int64_t row)
{
    if (dld_arrow_is_null(a, row))
        return NULL;
    int64_t i = row + a->offset;
    const void *v = a->buffers[1];
    switch (format[0]) {
    case 'b': return strdup((((const uint8_t *)v)[i >> 3] >> (i & 7)) & 1 ? "true" : "false");
    case 's': return s_fmt("%d", ((const int16_t *)v)[i]);
    case 'i': return s_fmt("%d", ((const int32_t *)v)[i]);
    case 'l': return s_fmt("%" PRId64, ((const int64_t *)v)[i]);
    case 'f': {
        uint32_t u;
        memcpy(&u, (const char *)v + 4 * i, 4);
        u = __builtin_bswap32(u);
        return s_hex((const uint8_t *)&u, 4);
    }
    case 'g': {
        uint64_t u;
        memcpy(&u, (const char *)v + 8 * i, 8);
        u = __builtin_bswap64(u);
        return s_hex((const uint8_t *)&u, 8);
    }
    case 'd': {
        int p = 0, s = 0;
        sscanf(format, "d:%d,%d", &p, &s);
        __int128 x;
        memcpy(&x, (const char *)v + 16 * i, 16);
        char buf[64];
        dld_decimal_format(x, s, buf);
        return strdup(buf);
    }
    case 'u':
    case 'z': {
        const int32_t *off = a->buffers[1];
        const char *data = a->buffers[2];
        size_t n = (size_t)(off[i + 1] - off[i]);
        if (format[0] == 'z')
            return s_hex((const uint8_t *)data + off[i], n);
        char *s = malloc(n + 1);
        memcpy(s, data + off[i], n);
        s[n] = '\0';
        return s;
    }
    case 't':
        if (format[1] == 'd')
            return s_fmt("%d", ((const int32_t *)v)[i]);
        return s_fmt("%" PRId64, ((const int64_t *)v)[i]);
    default: return strdup("?unsupported-format?");
    }
}

static void s_append_batch(struct pgt_rows *out, const struct ArrowSchema *schema, const struct ArrowArray *batch)
{
    if (!out->names) {
        out->ncols = (size_t)schema->n_children;
        out->names = calloc(out->ncols + 1, sizeof(char *));
        out->formats = calloc(out->ncols + 1, sizeof(char *));
        for (size_t j = 0; j < out->ncols; j++) {
            out->names[j] = strdup(schema->children[j]->name);
            out->formats[j] = strdup(schema->children[j]->format);
        }
    }
    ck_assert_int_eq(batch->n_children, (int64_t)out->ncols);
    size_t n = (size_t)batch->length;
    out->cells = realloc(out->cells, (out->nrows + n) * out->ncols * sizeof(char *) + sizeof(char *));
    for (size_t r = 0; r < n; r++)
        for (size_t j = 0; j < out->ncols; j++) {
            ck_assert_int_eq(batch->children[j]->length, batch->length);
            out->cells[(out->nrows + r) * out->ncols + j] =
                s_render(out->formats[j], batch->children[j], (int64_t)r);
        }
    out->nrows += n;
}

int pgt_extract(void *inst, const struct dld_extract_request *req, struct dld_extract_info *info,
                struct pgt_rows *out, struct dld_error *err)
{
    memset(out, 0, sizeof *out);
    memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;
    void *cur = NULL;
    int rc = pgt_vt->extract_begin(inst, req, info, &cur, err);
    if (rc)
        return rc;
    for (;;) {
        struct ArrowSchema schema;
        struct ArrowArray batch;
        memset(&schema, 0, sizeof schema);
        memset(&batch, 0, sizeof batch);
        rc = pgt_vt->extract_next(cur, &schema, &batch, err);
        if (rc != DLD_OK)
            break;
        out->batches++;
        s_append_batch(out, &schema, &batch);
        dld_arrow_release(&schema, &batch);
    }
    pgt_vt->extract_end(cur);
    s_sort(out);
    return rc == DLD_DONE ? DLD_OK : rc;
}

void pgt_info_free(struct dld_extract_info *info)
{
    free(info->high);
    free(info->query);
    free(info->snapshot);
    memset(info, 0, sizeof *info);
}

void pgt_rows_free(struct pgt_rows *r)
{
    for (size_t i = 0; r->cells && i < r->nrows * r->ncols; i++)
        free(r->cells[i]);
    for (size_t j = 0; r->names && j < r->ncols; j++)
        free(r->names[j]);
    for (size_t j = 0; r->formats && j < r->ncols; j++)
        free(r->formats[j]);
    free(r->cells);
    free(r->names);
    free(r->formats);
    memset(r, 0, sizeof *r);
}

const char *pgt_cell(const struct pgt_rows *r, size_t row, size_t col)
{
    ck_assert_uint_lt(row, r->nrows);
    ck_assert_uint_lt(col, r->ncols);
    return r->cells[row * r->ncols + col];
}

int pgt_col(const struct pgt_rows *r, const char *name)
{
    for (size_t j = 0; j < r->ncols; j++)
        if (!strcmp(r->names[j], name))
            return (int)j;
    ck_abort_msg("no column %s", name);
    return -1;
}

void pgt_assert_same(const struct pgt_rows *got, const struct pgt_rows *want, const char *what)
{
    ck_assert_msg(got->nrows == want->nrows, "%s: %zu rows, expected %zu", what, got->nrows, want->nrows);
    ck_assert_msg(got->ncols == want->ncols, "%s: %zu columns, expected %zu", what, got->ncols, want->ncols);
    for (size_t i = 0; i < got->nrows; i++)
        for (size_t j = 0; j < got->ncols; j++) {
            const char *g = got->cells[i * got->ncols + j], *w = want->cells[i * want->ncols + j];
            ck_assert_msg((g == NULL) == (w == NULL) && (!g || !strcmp(g, w)),
                          "%s: row %zu column %s: got %s, expected %s", what, i,
                          got->names ? got->names[j] : "?", g ? g : "NULL", w ? w : "NULL");
        }
}

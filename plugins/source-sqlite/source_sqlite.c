/*
 * source-sqlite: reads a table of an SQLite database file. The embedded
 * default source: no server needed.
 *
 * Consistency: extract_begin opens a read transaction and captures the
 * high mark with its first statement; the rows are read in the same
 * transaction, so they agree with the high mark whatever writers do
 * meanwhile (in WAL mode writers go on; in rollback-journal mode they wait
 * until the load ends).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include <deltaload/deltaload.h>

#include "sqlite_types.h"

#define S_NAME "sqlite"

static const struct dld_option s_options[] = {
    {"path", DLD_OPT_STRING, DLD_OPTF_REQUIRED, NULL, NULL, "SQLite database file to read (opened read-only).", NULL},
    {"attach", DLD_OPT_JSON, 0, NULL, NULL,
     "Extra databases to attach read-only, as {\"schema\": \"/path/file.db\"}; a controller item's sourceSchema "
     "names main, temp or one of these.", NULL},
    {"busy_timeout_ms", DLD_OPT_INT, 0, "10000", NULL, "How long to wait for a writer's lock before failing (retryable).",
     NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL},
};

struct s_source {
    const struct dld_host *host;
    sqlite3 *db;
};

struct s_cursor {
    struct s_source *src;
    sqlite3_stmt *stmt;
    struct dld_batch_builder *builder;
    struct dld_column_spec *specs;
    char **names;
    size_t ncols;
    uint32_t batch_rows;
    bool done;
    bool in_txn;
};

static int s_sqlite_error(struct dld_error *err, sqlite3 *db, int rc, const char *what)
{
    int code = (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) ? DLD_ERR_RETRY : DLD_ERR_FATAL;
    dld_error_set(err, code, "%s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    dld_error_upstream(err, 0, sqlite3_errstr(rc), NULL);
    return code;
}

static int s_open(const struct dld_host *host, const char *const *options, void **inst, struct dld_error *err)
{
    if (!dld_host_usable(host))
        return dld_error_set(err, DLD_ERR_UNSUPPORTED, "source-sqlite needs a complete host table (ABI %d)", DLD_ABI_MAJOR);
    const char *path = dld_opt_get(options, "path");
    struct s_source *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    s->host = host;
    int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        dld_error_set(err, DLD_ERR_CONFIG, "cannot open SQLite database %s: %s", path,
                      s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        sqlite3_close(s->db);
        free(s);
        return DLD_ERR_CONFIG;
    }
    sqlite3_busy_timeout(s->db, (int)dld_opt_int(options, "busy_timeout_ms", 10000));
    const char *attach = dld_opt_get(options, "attach");
    if (attach) {
        cJSON *a = cJSON_Parse(attach);
        rc = cJSON_IsObject(a) ? SQLITE_OK : SQLITE_MISUSE;
        for (cJSON *c = a ? a->child : NULL; c && rc == SQLITE_OK; c = c->next) {
            sqlite3_stmt *st = NULL;
            if (!cJSON_IsString(c)) {
                rc = SQLITE_MISUSE;
                break;
            }
            /* both the file and the schema name are bound, never spliced */
            rc = sqlite3_prepare_v2(s->db, "ATTACH DATABASE ?1 AS ?2", -1, &st, NULL);
            if (rc == SQLITE_OK) {
                char uri[4096];
                snprintf(uri, sizeof uri, "%s", c->valuestring);
                sqlite3_bind_text(st, 1, uri, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 2, c->string, -1, SQLITE_TRANSIENT);
                rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(s->db);
            }
            sqlite3_finalize(st);
        }
        cJSON_Delete(a);
        if (rc != SQLITE_OK) {
            dld_error_set(err, DLD_ERR_CONFIG, "option attach: must be {\"schema\": \"file\"} of readable databases (%s)",
                          sqlite3_errmsg(s->db));
            sqlite3_close(s->db);
            free(s);
            return DLD_ERR_CONFIG;
        }
    }
    *inst = s;
    return DLD_OK;
}

static void s_close(void *inst)
{
    struct s_source *s = inst;
    if (s == NULL)
        return;
    sqlite3_close(s->db);
    free(s);
}

/* SQLite identifier quoting: wrap in double quotes, double any inside. */
static void s_quote(char *out, size_t cap, const char *ident)
{
    size_t o = 0;
    out[o++] = '"';
    for (const char *p = ident; *p && o + 3 < cap; p++) {
        if (*p == '"')
            out[o++] = '"';
        out[o++] = *p;
    }
    out[o++] = '"';
    out[o] = '\0';
}

/* Text of a query with a growable buffer. */
struct s_sql {
    char *s;
    size_t len, cap;
};

static void s_add(struct s_sql *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_add(struct s_sql *q, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (q->len + (size_t)n + 1 > q->cap) {
        size_t cap = (q->len + (size_t)n + 1) * 2;
        char *p = realloc(q->s, cap);
        if (p == NULL)
            return;
        q->s = p;
        q->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(q->s + q->len, q->cap - q->len, fmt, ap);
    va_end(ap);
    q->len += (size_t)n;
}

/* The values bound to ?1, ?2, ... in order */
struct s_binds {
    const char *v[4];
    int n;
};

/* WHERE clause of the window (see docs/semantics.md) */
static int s_where(const struct dld_extract_request *req, const char *col, const char *lag_bound, struct s_sql *q,
                   struct s_binds *b, bool for_high, struct dld_error *err)
{
    const struct dld_table *t = req->table;
    if (req->mode == DLD_MODE_FULL) {
        const char *op = t->filter_operator;
        if (col[0] == '\0' || op == NULL)
            return DLD_OK;
        if (!strcmp(op, "eq")) { s_add(q, " WHERE %s = ?1", col); b->v[b->n++] = t->start_value; }
        else if (!strcmp(op, "noteq")) { s_add(q, " WHERE %s <> ?1", col); b->v[b->n++] = t->start_value; }
        else if (!strcmp(op, "lte")) { s_add(q, " WHERE %s <= ?1", col); b->v[b->n++] = t->start_value; }
        else if (!strcmp(op, "null")) s_add(q, " WHERE %s IS NULL", col);
        else if (!strcmp(op, "notnull")) s_add(q, " WHERE %s IS NOT NULL", col);
        else if (!strcmp(op, "notbetween")) {
            s_add(q, " WHERE %s NOT BETWEEN ?1 AND ?2", col);
            b->v[b->n++] = t->start_value;
            b->v[b->n++] = t->end_value;
        } else
            return dld_error_set(err, DLD_ERR_CONFIG, "filteroperator %s is not a full-load operator", op);
        return DLD_OK;
    }
    if (col[0] == '\0')
        return dld_error_set(err, DLD_ERR_CONFIG, "a delta load needs a filtercolumn");
    const char *glue = " WHERE";
    s_add(q, "%s %s IS NOT NULL", glue, col);
    glue = " AND";
    if (req->low) {
        s_add(q, "%s %s %s ?%d", glue, col, req->low_inclusive ? ">=" : ">", b->n + 1);
        b->v[b->n++] = req->low;
    }
    if (!for_high && req->high) {
        s_add(q, "%s %s <= ?%d", glue, col, b->n + 1);
        b->v[b->n++] = req->high;
    }
    if (for_high) {
        /* between: the window never passes endvalue */
        if (t->filter_operator && !strcmp(t->filter_operator, "between") && t->end_value) {
            s_add(q, "%s %s <= ?%d", glue, col, b->n + 1);
            b->v[b->n++] = t->end_value;
        }
        if (lag_bound)
            s_add(q, "%s %s <= %s", glue, col, lag_bound);
    }
    return DLD_OK;
}

static char *s_query_text(const struct dld_host *host, const char *sql, const struct s_binds *b)
{
    struct s_sql q = {0};
    s_add(&q, "%s", sql);
    for (int i = 0; i < b->n; i++) {
        s_add(&q, "%s?%d='", i ? ", " : " -- ", i + 1);
        for (const char *p = b->v[i] ? b->v[i] : ""; *p; p++)
            s_add(&q, *p == '\'' ? "''" : "%c", *p);
        s_add(&q, "'");
    }
    char *out = dld_host_strdup(host, q.s ? q.s : "");
    free(q.s);
    return out;
}

static int s_prepare(struct s_source *s, const char *sql, const struct s_binds *b, sqlite3_stmt **st,
                     struct dld_error *err)
{
    int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
    if (rc != SQLITE_OK)
        return s_sqlite_error(err, s->db, rc, "preparing the query");
    for (int i = 0; i < b->n; i++)
        sqlite3_bind_text(*st, i + 1, b->v[i], -1, SQLITE_TRANSIENT);
    return DLD_OK;
}

static void s_cursor_free(struct s_cursor *c)
{
    if (c == NULL)
        return;
    sqlite3_finalize(c->stmt);
    if (c->in_txn)
        sqlite3_exec(c->src->db, "COMMIT", NULL, NULL, NULL);
    dld_batch_builder_destroy(c->builder);
    for (size_t i = 0; i < c->ncols; i++)
        free(c->names[i]);
    free(c->names);
    free(c->specs);
    free(c);
}

/* Column types from a LIMIT 0 statement's declared types. */
static int s_describe(struct s_cursor *c, const char *from, struct dld_error *err)
{
    char sql[1024];
    snprintf(sql, sizeof sql, "SELECT * FROM %s LIMIT 0", from);
    sqlite3_stmt *st = NULL;
    struct s_binds none = {0};
    int rc = s_prepare(c->src, sql, &none, &st, err);
    if (rc)
        return rc;
    c->ncols = (size_t)sqlite3_column_count(st);
    c->specs = calloc(c->ncols ? c->ncols : 1, sizeof(*c->specs));
    c->names = calloc(c->ncols ? c->ncols : 1, sizeof(*c->names));
    for (size_t i = 0; c->specs && c->names && i < c->ncols; i++) {
        c->names[i] = strdup(sqlite3_column_name(st, (int)i));
        c->specs[i].name = c->names[i];
        dld_sqlite_map_decltype(sqlite3_column_decltype(st, (int)i), &c->specs[i]);
    }
    sqlite3_finalize(st);
    c->builder = c->specs ? dld_batch_builder_new(c->specs, c->ncols) : NULL;
    return c->builder ? DLD_OK : dld_error_set(err, DLD_ERR_FATAL, "out of memory");
}

static int s_column_type(struct s_cursor *c, const char *column, uint32_t *type)
{
    for (size_t i = 0; i < c->ncols; i++)
        if (!strcmp(c->names[i], column)) {
            *type = c->specs[i].type;
            return 0;
        }
    return -1;
}

static int s_extract_begin(void *inst, const struct dld_extract_request *req, struct dld_extract_info *info,
                           void **cursor, struct dld_error *err)
{
    struct s_source *s = inst;
    const struct dld_table *t = req->table;
    int rc;
    if ((rc = dld_ident_check("sourceTable", t->source_table, err)) ||
        (t->filter_column && (rc = dld_ident_check("filtercolumn", t->filter_column, err))))
        return rc;
    const char *schema = t->source_schema && t->source_schema[0] ? t->source_schema : "main";
    /* the schema must be a database of this connection (main, temp, attached) */
    bool known = false;
    for (int i = 0; !known && sqlite3_db_name(s->db, i); i++)
        known = strcmp(sqlite3_db_name(s->db, i), schema) == 0;
    if (!known)
        return dld_error_set(err, DLD_ERR_CONFIG,
                             "sourceSchema '%s' is not a database of this SQLite source: use \"\", \"main\" or a "
                             "schema attached with the attach option",
                             schema);
    char qs[300], qt[300], qc[300] = "", from[620];
    s_quote(qs, sizeof qs, schema);
    s_quote(qt, sizeof qt, t->source_table);
    if (t->filter_column)
        s_quote(qc, sizeof qc, t->filter_column);
    snprintf(from, sizeof from, "%s.%s", qs, qt);

    struct s_cursor *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    c->src = s;
    c->batch_rows = req->batch_rows ? req->batch_rows : 65536;
    rc = sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        s_cursor_free(c);
        return s_sqlite_error(err, s->db, rc, "starting a read transaction");
    }
    c->in_txn = true;
    if ((rc = s_describe(c, from, err)))
        goto fail;
    uint32_t ctype = 0;
    if (t->filter_column && s_column_type(c, t->filter_column, &ctype) != 0) {
        rc = dld_error_set(err, DLD_ERR_CONFIG, "table %s has no column named %s", t->source_table, t->filter_column);
        goto fail;
    }
    char lag_bound[96] = "";
    if (req->mode == DLD_MODE_DELTA && t->lag_seconds > 0) {
        /* the lag holds the high mark back from now; only meaningful for time columns */
        if (ctype == DLD_T_TIMESTAMP)
            snprintf(lag_bound, sizeof lag_bound, "strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now', '-%lld seconds')",
                     (long long)t->lag_seconds);
        else if (ctype == DLD_T_DATE32)
            snprintf(lag_bound, sizeof lag_bound, "date('now', '-%lld seconds')", (long long)t->lag_seconds);
        else {
            rc = dld_error_set(err, DLD_ERR_CONFIG, "lag applies to DATE/DATETIME/TIMESTAMP filter columns; %s is not one",
                               t->filter_column);
            goto fail;
        }
    }
    char *high = NULL;
    if (req->mode != DLD_MODE_FULL && req->high == NULL) {
        struct s_sql q = {0};
        struct s_binds b = {0};
        s_add(&q, "SELECT max(%s) FROM %s", qc, from);
        rc = s_where(req, qc, lag_bound[0] ? lag_bound : NULL, &q, &b, true, err);
        sqlite3_stmt *st = NULL;
        if (rc == DLD_OK)
            rc = s_prepare(s, q.s, &b, &st, err);
        free(q.s);
        if (rc)
            goto fail;
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
            high = dld_host_strdup(s->host, (const char *)sqlite3_column_text(st, 0));
        else if (step != SQLITE_ROW)
            rc = s_sqlite_error(err, s->db, step, "reading the high mark");
        sqlite3_finalize(st);
        if (rc)
            goto fail;
    } else if (req->high) {
        high = dld_host_strdup(s->host, req->high);
    }
    info->high = high;
    struct dld_extract_request fixed = *req;
    fixed.high = high;
    struct s_sql q = {0};
    struct s_binds b = {0};
    s_add(&q, "SELECT * FROM %s", from);
    rc = s_where(&fixed, qc, NULL, &q, &b, false, err);
    if (rc == DLD_OK && (req->mode == DLD_MODE_FULL || high))
        rc = s_prepare(s, q.s, &b, &c->stmt, err);
    if (rc == DLD_OK) {
        info->query = s_query_text(s->host, q.s, &b);
        info->snapshot = dld_host_strdup(s->host, "sqlite read transaction");
    }
    free(q.s);
    if (rc)
        goto fail;
    c->done = c->stmt == NULL; /* nothing in range */
    *cursor = c;
    return DLD_OK;
fail:
    s->host->free(info->high);
    info->high = NULL;
    s_cursor_free(c);
    return rc;
}

static int s_extract_next(void *cursor, struct ArrowSchema *schema, struct ArrowArray *batch, struct dld_error *err)
{
    struct s_cursor *c = cursor;
    if (c->done)
        return DLD_DONE;
    while (dld_batch_rows(c->builder) < c->batch_rows) {
        int rc = sqlite3_step(c->stmt);
        if (rc == SQLITE_DONE) {
            c->done = true;
            break;
        }
        if (rc != SQLITE_ROW)
            return s_sqlite_error(err, c->src->db, rc, "reading rows");
        for (size_t i = 0; i < c->ncols; i++) {
            rc = dld_sqlite_append(c->builder, i, &c->specs[i], c->stmt, (int)i, err);
            if (rc != DLD_OK)
                return err->code ? rc : dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        }
        if (dld_batch_end_row(c->builder) != DLD_OK)
            return dld_error_set(err, DLD_ERR_FATAL, "batch builder out of step");
    }
    if (dld_batch_rows(c->builder) == 0)
        return DLD_DONE;
    if (dld_batch_finish(c->builder, schema, batch) != DLD_OK)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    return DLD_OK;
}

static void s_extract_end(void *cursor) { s_cursor_free(cursor); }

static const struct dld_source_vtable s_vtable = {
    .struct_size = sizeof(struct dld_source_vtable),
    .open = s_open,
    .close = s_close,
    .extract_begin = s_extract_begin,
    .extract_next = s_extract_next,
    .extract_end = s_extract_end,
};

static const struct dld_plugin s_plugin = {
    .struct_size = sizeof(struct dld_plugin),
    .abi_major = DLD_ABI_MAJOR,
    .abi_minor = DLD_ABI_MINOR,
    .kind = DLD_KIND_SOURCE,
    .capabilities = DLD_CAP_SNAPSHOT,
    .name = S_NAME,
    .version = "0.1.0",
    .description = "SQLite database file (embedded, no server): one read transaction per load",
    .options = s_options,
    .vtable = &s_vtable,
};

DLD_PLUGIN_ENTRY(source_sqlite)
{
    if (!dld_host_usable(host))
        return DLD_ERR_UNSUPPORTED;
    *out = &s_plugin;
    return DLD_OK;
}

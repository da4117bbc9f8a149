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
#include "sqlite_window.h"

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
    char *filter_decl; /* declared type of the filter column */
    size_t ncols;
    uint32_t batch_rows;
    bool done;
    bool sent;   /* a batch was handed over (an empty window still gets one, with the schema) */
    bool in_txn;
};

/* source.h "Interrupts": SQLite calls this every few thousand VM steps; a
 * non-zero answer stops the statement with SQLITE_INTERRUPT, so a long query
 * (a high mark over an unindexed column, a big sort) ends within
 * milliseconds of SIGINT/SIGTERM instead of running to completion. */
static int s_progress(void *ctx)
{
    const struct dld_host *host = ctx;
    return host->cancelled != NULL && host->cancelled();
}

static int s_sqlite_error(struct dld_error *err, sqlite3 *db, int rc, const char *what)
{
    if (rc == SQLITE_INTERRUPT)
        return dld_error_set(err, DLD_ERR_RETRY, "%s: interrupted by a signal (statement stopped)", what);
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
    sqlite3_progress_handler(s->db, 10000, s_progress, (void *)host);
    rc = dld_sq_register_functions(s->db);
    if (rc != SQLITE_OK) {
        dld_error_set(err, DLD_ERR_FATAL, "cannot register dld_instant_us: %s", sqlite3_errmsg(s->db));
        sqlite3_close(s->db);
        free(s);
        return DLD_ERR_FATAL;
    }
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

static int s_prepare(struct s_source *s, const char *sql, const struct dld_sq_binds *b, sqlite3_stmt **st,
                     struct dld_error *err)
{
    int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
    if (rc != SQLITE_OK)
        return s_sqlite_error(err, s->db, rc, "preparing the query");
    if (b)
        dld_sq_bind_all(*st, b);
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
    free(c->filter_decl);
    free(c);
}

/* Column types from a LIMIT 0 statement's declared types. */
static int s_describe(struct s_cursor *c, const char *from, const char *filter, struct dld_error *err)
{
    char sql[1024];
    snprintf(sql, sizeof sql, "SELECT * FROM %s LIMIT 0", from);
    sqlite3_stmt *st = NULL;
    int rc = s_prepare(c->src, sql, NULL, &st, err);
    if (rc)
        return rc;
    c->ncols = (size_t)sqlite3_column_count(st);
    c->specs = calloc(c->ncols ? c->ncols : 1, sizeof(*c->specs));
    c->names = calloc(c->ncols ? c->ncols : 1, sizeof(*c->names));
    for (size_t i = 0; c->specs && c->names && i < c->ncols; i++) {
        c->names[i] = strdup(sqlite3_column_name(st, (int)i));
        c->specs[i].name = c->names[i];
        const char *decl = sqlite3_column_decltype(st, (int)i);
        dld_sqlite_map_decltype(decl, &c->specs[i]);
        if (filter && c->names[i] && !strcmp(c->names[i], filter) && !c->filter_decl)
            c->filter_decl = strdup(decl ? decl : "");
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

static int s_extract_begin(void *inst, const struct dld_extract_request *req, struct dld_extract_info *host_info,
                           void **cursor, struct dld_error *err)
{
    struct s_source *s = inst;
    /* filled at this plugin's size, handed over as far as the host's struct_size reaches */
    struct dld_extract_info got = {.struct_size = sizeof(got)}, *info = &got;
    const struct dld_table *t = req->table;
    int rc;
    if (t->filter_operator && !strcmp(t->filter_operator, "commit"))
        return dld_error_set(err, DLD_ERR_UNSUPPORTED,
                             "sqlite: table %s: filteroperator \"commit\" is not available: SQLite keeps no commit "
                             "clock with a row (no transaction id, no commit number). It runs one write transaction "
                             "at a time, so a column the writing transaction itself fills (INTEGER PRIMARY KEY "
                             "AUTOINCREMENT, a counter a trigger bumps) is already in commit order: use it with "
                             "\"filteroperator\": \"gte\" (docs/plugins/source-sqlite.md)",
                             t->target_table_name ? t->target_table_name : t->source_table);
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
    if ((rc = s_describe(c, from, t->filter_column, err)))
        goto fail;
    uint32_t ctype = 0;
    if (t->filter_column && s_column_type(c, t->filter_column, &ctype) != 0) {
        rc = dld_error_set(err, DLD_ERR_CONFIG, "table %s has no column named %s", t->source_table, t->filter_column);
        goto fail;
    }
    struct dld_sq_window w = {
        .db = s->db,
        .host = s->host,
        .req = req,
        .from = from,
        .qc = qc,
        .column = t->filter_column ? t->filter_column : "",
        .decl = c->filter_decl ? c->filter_decl : "",
        .ctype = ctype,
    };
    if ((rc = dld_sq_window_plan(&w, err)))
        goto fail;
    char *high = NULL;
    struct dld_sq_sql note = {0};
    if (req->mode != DLD_MODE_FULL && req->high == NULL) {
        struct dld_sq_sql q = {0};
        struct dld_sq_binds b = {0};
        rc = dld_sq_high_sql(&w, &q, &b, err);
        sqlite3_stmt *st = NULL;
        if (rc == DLD_OK)
            rc = s_prepare(s, q.s, &b, &st, err);
        if (rc == DLD_OK) {
            /* the plan shows how the high mark was taken, lag bound included */
            dld_sq_add(&note, "\n-- high mark: %s", q.s);
            dld_sq_describe_binds(&note, &b);
        }
        free(q.s);
        if (rc)
            goto fail;
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            high = dld_sq_capture_high(&w, st);
        else if (step != SQLITE_DONE)
            rc = s_sqlite_error(err, s->db, step, "reading the high mark");
        sqlite3_finalize(st);
        if (rc) {
            free(note.s);
            goto fail;
        }
    } else if (req->high) {
        high = dld_host_strdup(s->host, req->high);
    }
    info->high = high;
    struct dld_sq_sql q = {0};
    struct dld_sq_binds b = {0};
    dld_sq_add(&q, "SELECT * FROM %s", from);
    rc = dld_sq_rows_where(&w, &q, &b, err);
    if (rc == DLD_OK && (req->mode == DLD_MODE_FULL || high))
        rc = s_prepare(s, q.s, &b, &c->stmt, err);
    if (rc == DLD_OK) {
        dld_sq_describe_binds(&q, &b);
        if (note.s)
            dld_sq_add(&q, "%s", note.s);
        rc = q.oom ? dld_error_set(err, DLD_ERR_FATAL, "out of memory") : DLD_OK;
    }
    if (rc == DLD_OK) {
        info->query = dld_host_strdup(s->host, q.s);
        info->snapshot = dld_host_strdup(s->host, "sqlite read transaction");
    }
    free(q.s);
    free(note.s);
    if (rc)
        goto fail;
    c->done = c->stmt == NULL; /* nothing in range */
    if ((rc = dld_extract_info_schema(host_info, c->builder, err))) /* the columns, if the host asks (1.2) */
        goto fail;
    dld_extract_info_put(s->host, host_info, info);
    *cursor = c;
    return DLD_OK;
fail:
    dld_extract_info_clean_up(s->host, info);
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
    /* source.h: an empty window yields exactly one empty batch, so the
     * target still learns the columns */
    if (dld_batch_rows(c->builder) == 0 && c->sent)
        return DLD_DONE;
    if (dld_batch_finish(c->builder, schema, batch) != DLD_OK)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    c->sent = true;
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

DLD_PLUGIN_DEFINE(source_sqlite, s_plugin);

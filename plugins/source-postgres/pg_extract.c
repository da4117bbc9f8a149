/*
 * One window: a REPEATABLE READ READ ONLY transaction in which the catalog
 * is read, the high mark captured and the rows streamed by a binary COPY of
 * the window's query. In REPEATABLE READ every statement of the
 * transaction sees the snapshot taken by its first statement, so the plan
 * (high mark) and the rows agree whatever commits in between.
 *
 * Memory: one CopyData message (one row) from libpq at a time, decoded
 * straight into the batch builder; a batch is handed over when it reaches
 * batch_rows or batch_bytes, whichever comes first. The window's size does
 * not matter: at most three batches exist (one being decoded, one waiting
 * in the hand-over slot, one with the engine).
 *
 * Why a reader thread: the engine encodes and compresses a batch before it
 * asks for the next. Read in that same thread, the socket buffer fills
 * while the batch is encoded and the server stops producing; server and
 * client then take turns instead of working at once (measured: 3.9 s for
 * 2 M rows where either side alone needs 1.5 s). The reader keeps draining
 * the COPY while the engine writes. The connection belongs to the reader
 * from the start of the COPY until it is joined.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_internal.h"

#define DLD_PG_DEFAULT_BATCH_ROWS 65536

struct dld_pg_cursor {
    struct dld_pg_instance *pg;
    char *target_name;
    struct dld_pg_table table;
    struct dld_batch_builder *builder;
    struct dld_pg_copy *copy;
    char *copy_sql;
    uint32_t batch_rows;
    bool in_txn;
    bool nothing;        /* captured high mark is NULL: no rows to read */
    bool copy_started;
    bool copy_finished;  /* the server said COPY is complete */
    bool emitted;        /* at least one batch handed over */
    int64_t rows;
    /* the reader thread and its one-batch hand-over slot (pg_extract.c's
     * header comment says why) */
    pthread_t reader;
    bool reader_running;
    PGcancel *cancel;         /* made before the reader starts: PQcancel is thread-safe, PQgetCancel is not */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool sync_ready;
    int stop;                 /* atomic: the consumer wants the reader gone */
    bool slot_full;
    struct ArrowSchema slot_schema;
    struct ArrowArray slot_batch;
    bool reader_done;
    int reader_rc;
    struct dld_error reader_err;
};

static void s_cursor_free(struct dld_pg_cursor *cur)
{
    if (cur->cancel)
        PQfreeCancel(cur->cancel);
    if (cur->sync_ready) {
        dld_arrow_release(&cur->slot_schema, &cur->slot_batch);
        pthread_mutex_destroy(&cur->mu);
        pthread_cond_destroy(&cur->cv);
    }
    dld_pg_copy_destroy(cur->copy);
    if (cur->builder)
        dld_batch_builder_destroy(cur->builder);
    dld_pg_table_clean_up(&cur->table);
    free(cur->copy_sql);
    free(cur->target_name);
    free(cur);
}

/* Leaves the connection idle, or closes it when that cannot be done
 * quickly: a COPY abandoned half way is cancelled, not read to its end. */
static void s_finish_txn(struct dld_pg_cursor *cur)
{
    PGconn *conn = cur->pg->conn;
    if (!conn || PQstatus(conn) != CONNECTION_OK)
        return;
    if (cur->copy_started && !cur->copy_finished) {
        PGcancel *cn = PQgetCancel(conn);
        char buf[256];
        if (cn) {
            PQcancel(cn, buf, sizeof buf);
            PQfreeCancel(cn);
        }
        char *row;
        int n;
        while ((n = PQgetCopyData(conn, &row, 0)) > 0)
            PQfreemem(row);
        PGresult *res;
        while ((res = PQgetResult(conn)) != NULL)
            PQclear(res);
    }
    if (cur->in_txn && PQstatus(conn) == CONNECTION_OK) {
        PGresult *res = PQexec(conn, "ROLLBACK");
        PQclear(res);
    }
    cur->in_txn = false;
    if (PQstatus(conn) != CONNECTION_OK || PQtransactionStatus(conn) != PQTRANS_IDLE) {
        /* ensure_connected reconnects on the next window */
        PQfinish(conn);
        cur->pg->conn = NULL;
    }
}

static int s_capture_high(struct dld_pg_cursor *cur, const struct dld_extract_request *req, char **high,
                          struct dld_pg_buf *note, struct dld_error *err)
{
    struct dld_pg_buf sql = {0};
    const char *params[4];
    char lag[48];
    int nparams = 0;
    int rc = dld_pg_high_sql(&sql, cur->pg->conn, &cur->table, req, &cur->pg->settings, &nparams, params, lag,
                             sizeof lag, err);
    if (rc) {
        dld_pg_buf_clean_up(&sql);
        return rc;
    }
    PGresult *res = PQexecParams(cur->pg->conn, sql.data, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        rc = dld_pg_error(err, cur->pg->conn, res, "capturing the high mark");
        PQclear(res);
        dld_pg_buf_clean_up(&sql);
        return rc;
    }
    *high = PQgetisnull(res, 0, 0) ? NULL : strdup(PQgetvalue(res, 0, 0));
    bool oom = !PQgetisnull(res, 0, 0) && !*high;
    PQclear(res);
    /* "-- high mark: SELECT ... -- $1='..'" for the plan */
    dld_pg_buf_appendf(note, "\n-- high mark: %s", sql.data);
    for (int i = 0; i < nparams; i++) {
        dld_pg_buf_append(note, i ? ", " : " -- ");
        dld_pg_buf_appendf(note, "$%d=", i + 1);
        rc = dld_pg_append_literal(note, cur->pg->conn, params[i], err);
        if (rc)
            break;
    }
    dld_pg_buf_clean_up(&sql);
    if (oom)
        return dld_error_set(err, DLD_ERR_FATAL, "postgres: out of memory");
    return rc;
}

static int s_snapshot(struct dld_pg_cursor *cur, char **out, struct dld_error *err)
{
    PGresult *res = PQexec(cur->pg->conn, "SELECT pg_catalog.pg_current_snapshot()::text");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        int rc = dld_pg_error(err, cur->pg->conn, res, "reading the snapshot");
        PQclear(res);
        return rc;
    }
    *out = dld_host_sprintf(cur->pg->host, "REPEATABLE READ READ ONLY snapshot %s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return DLD_OK;
}

static int s_begin(struct dld_pg_cursor *cur, const struct dld_extract_request *req, struct dld_extract_info *info,
                   struct dld_error *err)
{
    struct dld_pg_instance *pg = cur->pg;
    int rc = dld_pg_ensure_connected(pg, err);
    if (rc)
        return rc;
    if ((rc = dld_pg_exec(pg->conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL,
                          "starting the read transaction", err)))
        return rc;
    cur->in_txn = true;
    /* the first statement fixes the snapshot every later one reads */
    if ((rc = s_snapshot(cur, &info->snapshot, err)))
        return rc;
    if ((rc = dld_pg_table_describe(pg, req->table, &cur->table, err)))
        return rc;

    struct dld_pg_buf note = {0};
    char *high = NULL;
    bool captured = false;
    if (req->mode != DLD_MODE_FULL) {
        if (req->high) {
            high = strdup(req->high);
            if (!high)
                rc = dld_error_set(err, DLD_ERR_FATAL, "postgres: out of memory");
        } else {
            rc = s_capture_high(cur, req, &high, &note, err);
            captured = true;
            cur->nothing = rc == DLD_OK && high == NULL;
        }
    }
    struct dld_pg_buf sql = {0};
    if (!rc && cur->nothing)
        dld_pg_buf_append(&sql, "-- nothing to load: no row above the watermark");
    else if (!rc)
        rc = dld_pg_copy_sql(&sql, pg->conn, &cur->table, req, high, err);
    if (!rc) {
        if (captured)
            dld_pg_buf_append(&sql, note.data ? note.data : "");
        if (sql.oom)
            rc = dld_error_set(err, DLD_ERR_FATAL, "postgres: out of memory");
    }
    if (!rc) {
        info->query = dld_host_strdup(pg->host, sql.data);
        info->high = dld_host_strdup(pg->host, high);
        /* the statement sent is the text without the trailing note */
        cur->copy_sql = sql.data;
        if (captured && note.data)
            cur->copy_sql[sql.len - note.len] = '\0';
        sql.data = NULL;
    }
    free(high);
    dld_pg_buf_clean_up(&note);
    dld_pg_buf_clean_up(&sql);
    return rc;
}

static int s_make_builder(struct dld_pg_cursor *cur, struct dld_error *err)
{
    size_t n = cur->table.ncols;
    struct dld_column_spec *specs = calloc(n, sizeof *specs);
    if (!specs)
        return dld_error_set(err, DLD_ERR_FATAL, "postgres: out of memory");
    for (size_t i = 0; i < n; i++)
        specs[i] = cur->table.cols[i].spec;
    cur->builder = dld_batch_builder_new(specs, n);
    free(specs);
    if (!cur->builder)
        return dld_error_set(err, DLD_ERR_FATAL, "postgres: cannot build a batch for %s", cur->table.qualified);
    cur->copy = dld_pg_copy_new(&cur->table, cur->builder);
    if (!cur->copy)
        return dld_error_set(err, DLD_ERR_FATAL, "postgres: out of memory");
    return DLD_OK;
}

int dld_pg_extract_begin(void *inst, const struct dld_extract_request *req, struct dld_extract_info *host_info,
                         void **cursor, struct dld_error *err)
{
    struct dld_pg_instance *pg = inst;
    /* filled at this plugin's size, handed over as far as the host's struct_size reaches */
    struct dld_extract_info got = {.struct_size = sizeof(got)}, *info = &got;
    *cursor = NULL;
    if (!req || !req->table || !req->table->source_table)
        return dld_error_set(err, DLD_ERR_CONFIG, "postgres: the request names no table");
    if (req->mode != DLD_MODE_DELTA && req->mode != DLD_MODE_FULL && req->mode != DLD_MODE_BACKFILL)
        return dld_error_set(err, DLD_ERR_UNSUPPORTED, "postgres: unknown load mode %u", req->mode);
    struct dld_pg_cursor *cur = calloc(1, sizeof *cur);
    if (!cur)
        return dld_error_set(err, DLD_ERR_FATAL, "postgres: out of memory");
    cur->pg = pg;
    cur->table.filter_index = -1;
    cur->batch_rows = req->batch_rows ? req->batch_rows : DLD_PG_DEFAULT_BATCH_ROWS;
    cur->target_name = strdup(req->table->target_table_name ? req->table->target_table_name : req->table->source_table);
    int rc = cur->target_name ? DLD_OK : dld_error_set(err, DLD_ERR_FATAL, "postgres: out of memory");
    if (!rc)
        rc = s_begin(cur, req, info, err);
    if (!rc)
        rc = s_make_builder(cur, err);
    if (rc) {
        /* a failed begin hands nothing over: the host need not free info */
        dld_extract_info_clean_up(pg->host, info);
        dld_error_prefix(err, "table %s", cur->target_name ? cur->target_name : "?");
        s_finish_txn(cur);
        s_cursor_free(cur);
        return rc;
    }
    dld_log(pg->host, DLD_LOG_DEBUG, DLD_PG_NAME, "table %s: %s", cur->target_name, cur->copy_sql);
    dld_extract_info_put(pg->host, host_info, info);
    *cursor = cur;
    return DLD_OK;
}

static int s_start_copy(struct dld_pg_cursor *cur, struct dld_error *err)
{
    PGresult *res = PQexec(cur->pg->conn, cur->copy_sql);
    if (PQresultStatus(res) != PGRES_COPY_OUT) {
        int rc = dld_pg_error(err, cur->pg->conn, res, "starting the window's COPY");
        PQclear(res);
        return rc;
    }
    PQclear(res);
    cur->copy_started = true;
    return DLD_OK;
}

/* The server ended the COPY: check how. */
static int s_copy_end(struct dld_pg_cursor *cur, struct dld_error *err)
{
    PGconn *conn = cur->pg->conn;
    PGresult *res = PQgetResult(conn);
    int rc = DLD_OK;
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = dld_pg_error(err, conn, res, "reading the window");
    PQclear(res);
    while ((res = PQgetResult(conn)) != NULL)
        PQclear(res);
    cur->copy_finished = true;
    if (!rc && !dld_pg_copy_complete(cur->copy))
        rc = dld_error_set(err, DLD_ERR_RETRY, "postgres: the COPY stream ended without its trailer");
    return rc;
}

static void s_report_nulled(struct dld_pg_cursor *cur)
{
    for (size_t i = 0; i < cur->table.ncols; i++) {
        int64_t n = dld_pg_copy_nulled(cur->copy, i);
        if (n)
            dld_log(cur->pg->host, DLD_LOG_WARN, DLD_PG_NAME,
                    "table %s: column %s: %lld value(s) were +-infinity or beyond Arrow's range and were loaded as NULL",
                    cur->target_name, cur->table.cols[i].name, (long long)n);
    }
}

static bool s_stopping(struct dld_pg_cursor *cur)
{
    return __atomic_load_n(&cur->stop, __ATOMIC_ACQUIRE) != 0;
}

/* Reader thread: fills the builder until a batch is complete or the COPY
 * ends. Owns the connection, the decoder and the builder while it runs. */
static int s_fill_batch(struct dld_pg_cursor *cur, struct dld_error *err)
{
    PGconn *conn = cur->pg->conn;
    int64_t max_bytes = cur->pg->settings.batch_bytes;
    unsigned polls = 0;
    int rc;
    while (!cur->copy_finished && dld_batch_rows(cur->builder) < (int64_t)cur->batch_rows) {
        /* the byte bound costs a walk over the columns: look every 64 rows */
        if ((++polls & 63) == 0) {
            if ((int64_t)dld_batch_bytes(cur->builder) >= max_bytes)
                break;
            if (s_stopping(cur))
                return dld_error_set(err, DLD_ERR_RETRY, "postgres: extraction stopped");
        }
        char *msg = NULL;
        int n = PQgetCopyData(conn, &msg, 0);
        if (n > 0) {
            rc = dld_pg_copy_feed(cur->copy, msg, (size_t)n, err);
            PQfreemem(msg);
            if (rc < 0)
                return rc;
        } else if (n == -1) {
            if ((rc = s_copy_end(cur, err)))
                return rc;
        } else {
            return dld_pg_error(err, conn, NULL, "reading the window");
        }
    }
    return DLD_OK;
}

static void *s_reader(void *arg)
{
    struct dld_pg_cursor *cur = arg;
    struct dld_error err;
    dld_error_init(&err);
    int rc = DLD_OK;
    for (;;) {
        if ((rc = s_fill_batch(cur, &err)))
            break;
        int64_t rows = dld_batch_rows(cur->builder);
        if (rows == 0 && cur->copy_finished && cur->emitted)
            break; /* an empty window still hands over its schema, once */
        struct ArrowSchema schema;
        struct ArrowArray batch;
        memset(&schema, 0, sizeof schema);
        memset(&batch, 0, sizeof batch);
        if ((rc = dld_batch_finish(cur->builder, &schema, &batch))) {
            dld_error_set(&err, rc, "postgres: cannot finish a batch");
            break;
        }
        cur->emitted = true;
        pthread_mutex_lock(&cur->mu);
        while (cur->slot_full && !s_stopping(cur))
            pthread_cond_wait(&cur->cv, &cur->mu);
        if (s_stopping(cur)) {
            pthread_mutex_unlock(&cur->mu);
            dld_arrow_release(&schema, &batch);
            break;
        }
        cur->slot_schema = schema;
        cur->slot_batch = batch;
        cur->slot_full = true;
        pthread_cond_broadcast(&cur->cv);
        pthread_mutex_unlock(&cur->mu);
        if (cur->copy_finished)
            break;
    }
    pthread_mutex_lock(&cur->mu);
    cur->reader_done = true;
    cur->reader_rc = rc;
    cur->reader_err = err;
    pthread_cond_broadcast(&cur->cv);
    pthread_mutex_unlock(&cur->mu);
    return NULL;
}

/* Stops and joins the reader; a reader blocked on the socket is woken by
 * cancelling the COPY (PQcancel is safe from another thread). */
static void s_reader_stop(struct dld_pg_cursor *cur)
{
    if (!cur->reader_running)
        return;
    __atomic_store_n(&cur->stop, 1, __ATOMIC_RELEASE);
    pthread_mutex_lock(&cur->mu);
    bool done = cur->reader_done;
    pthread_cond_broadcast(&cur->cv);
    pthread_mutex_unlock(&cur->mu);
    if (!done && cur->cancel) {
        char buf[256];
        PQcancel(cur->cancel, buf, sizeof buf);
    }
    pthread_join(cur->reader, NULL);
    cur->reader_running = false;
}

static int s_start_reader(struct dld_pg_cursor *cur, struct dld_error *err)
{
    if (!cur->sync_ready) {
        if (pthread_mutex_init(&cur->mu, NULL))
            return dld_error_set(err, DLD_ERR_FATAL, "postgres: cannot create a mutex");
        if (pthread_cond_init(&cur->cv, NULL)) {
            pthread_mutex_destroy(&cur->mu);
            return dld_error_set(err, DLD_ERR_FATAL, "postgres: cannot create a condition variable");
        }
        cur->sync_ready = true;
    }
    cur->cancel = PQgetCancel(cur->pg->conn);
    if (pthread_create(&cur->reader, NULL, s_reader, cur))
        return dld_error_set(err, DLD_ERR_FATAL, "postgres: cannot start the reader thread");
    cur->reader_running = true;
    return DLD_OK;
}

int dld_pg_extract_next(void *cursor, struct ArrowSchema *schema, struct ArrowArray *batch, struct dld_error *err)
{
    struct dld_pg_cursor *cur = cursor;
    if (cur->nothing)
        return DLD_DONE;
    int rc;
    if (!cur->pg->conn)
        return dld_error_set(err, DLD_ERR_RETRY, "postgres: table %s: the connection was closed", cur->target_name);
    if (!cur->copy_started) {
        if ((rc = s_start_copy(cur, err)) || (rc = s_start_reader(cur, err)))
            goto fail;
    }
    if (!cur->reader_running && !cur->sync_ready)
        return DLD_DONE;
    pthread_mutex_lock(&cur->mu);
    while (!cur->slot_full && !cur->reader_done)
        pthread_cond_wait(&cur->cv, &cur->mu);
    if (cur->slot_full) {
        *schema = cur->slot_schema;
        *batch = cur->slot_batch;
        memset(&cur->slot_schema, 0, sizeof cur->slot_schema);
        memset(&cur->slot_batch, 0, sizeof cur->slot_batch);
        cur->slot_full = false;
        cur->rows += batch->length;
        pthread_cond_broadcast(&cur->cv);
        pthread_mutex_unlock(&cur->mu);
        return DLD_OK;
    }
    pthread_mutex_unlock(&cur->mu);
    if (cur->reader_running) {
        pthread_join(cur->reader, NULL);
        cur->reader_running = false;
    }
    if ((rc = cur->reader_rc)) {
        /* field by field: the host's error object may be smaller than ours */
        dld_error_set(err, rc, "%s", cur->reader_err.message);
        dld_error_upstream(err, 0, cur->reader_err.upstream_code[0] ? cur->reader_err.upstream_code : NULL, NULL);
        cur->reader_rc = DLD_OK; /* reported once */
        goto fail;
    }
    s_report_nulled(cur);
    return DLD_DONE;
fail:
    dld_error_prefix(err, "table %s", cur->target_name);
    return rc;
}

void dld_pg_extract_end(void *cursor)
{
    struct dld_pg_cursor *cur = cursor;
    if (!cur)
        return;
    s_reader_stop(cur);
    s_finish_txn(cur);
    s_cursor_free(cur);
}

/*
 * One window: a REPEATABLE READ READ ONLY transaction in which the catalog
 * is read, the high mark captured and the rows streamed by a binary COPY of
 * the window's query. In REPEATABLE READ every statement of the
 * transaction sees the snapshot taken by its first statement, so the plan
 * (high mark) and the rows agree whatever commits in between.
 *
 * A commit-order window (`"filteroperator": "commit"`, docs/postgres.md)
 * has no filter column: the first statement also reads the snapshot's
 * xmin (the horizon, the window's high mark) and xmax, and the window is
 * the rows whose xmin widens to an xid8 in [watermark, horizon) (pg_xid.c).
 *
 * Memory: one CopyData message (one row) from libpq at a time, decoded
 * straight into the batch builder; a batch is handed over when it reaches
 * batch_rows or batch_bytes, whichever comes first. The window's size does
 * not matter: at most N + 2 batches exist (one being decoded per
 * connection, one waiting in the hand-over slot, one with the engine); N is
 * 1 unless the window is split (option `parallel`, pg_split.c), whose
 * readers fill batches of batch_rows / N rows and batch_bytes / N bytes.
 *
 * Why a reader thread: the engine encodes and compresses a batch before it
 * asks for the next. Read in that same thread, the socket buffer fills
 * while the batch is encoded and the server stops producing; server and
 * client then take turns instead of working at once (measured: 3.9 s for
 * 2 M rows where either side alone needs 1.5 s). The reader keeps draining
 * the COPY while the engine writes. The connection belongs to the reader
 * from the start of the COPY until it is joined.
 *
 * A split window (pg_split.c) has one range per connection: the window's
 * own (range 0) and extra ones that import its snapshot; each range has
 * its reader thread, decoder and builder, and all of them hand batches to
 * the same slot. The first reader to fail decides the window's error; the
 * others are then cancelled and joined, and the extra connections are
 * closed (they hold nothing but the imported snapshot).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg_internal.h"
#include "pg_xid.h"

#define DLD_PG_DEFAULT_BATCH_ROWS 65536
/* a split window's readers each fill batch_rows / N rows, but not fewer than this */
#define S_MIN_SPLIT_BATCH_ROWS 4096

/* One range of a window and the connection that reads it. */
struct s_range {
    struct dld_pg_cursor *cur;
    size_t index;
    struct dld_pg_instance own; /* extra ranges: a connection of their own (parameters borrowed from the instance) */
    struct dld_pg_instance *pg; /* range 0: the cursor's instance (the window's transaction); others: &own */
    char *copy_sql;
    struct dld_batch_builder *builder;
    struct dld_pg_copy *copy;
    PGcancel *cancel;           /* made before the reader starts: PQcancel is thread-safe, PQgetCancel is not */
    bool in_txn;                /* extra ranges: the imported snapshot's transaction */
    bool copy_started;
    bool copy_finished;         /* the server said COPY is complete */
    pthread_t reader;
    bool reader_running;
    bool reader_done;           /* under the cursor's mu */
};

struct dld_pg_cursor {
    struct dld_pg_instance *pg;
    char *target_name;
    struct dld_pg_table table;
    struct s_range *ranges;
    size_t nranges;
    char *snapshot_id;   /* pg_export_snapshot() of a split window */
    uint32_t batch_rows;
    int64_t batch_bytes;
    bool in_txn;
    bool nothing;        /* captured high mark is NULL: no rows to read */
    bool started;        /* the COPYs were started (or tried) */
    bool nulled_reported;
    int64_t rows;
    int64_t handed;      /* batches handed to the engine */
    /* the readers and their one-batch hand-over slot (pg_extract.c's
     * header comment says why) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool sync_ready;
    int stop;                 /* atomic: the consumer wants the readers gone */
    bool slot_full;
    struct ArrowSchema slot_schema;
    struct ArrowArray slot_batch;
    size_t live;              /* readers not done */
    int reader_rc;            /* the first reader's failure */
    struct dld_error reader_err;
};

static void s_cursor_free(struct dld_pg_cursor *cur)
{
    for (size_t i = 0; i < cur->nranges; i++) {
        struct s_range *r = &cur->ranges[i];
        if (r->cancel)
            PQfreeCancel(r->cancel);
        dld_pg_copy_destroy(r->copy);
        if (r->builder)
            dld_batch_builder_destroy(r->builder);
        free(r->copy_sql);
    }
    free(cur->ranges);
    if (cur->sync_ready) {
        dld_arrow_release(&cur->slot_schema, &cur->slot_batch);
        pthread_mutex_destroy(&cur->mu);
        pthread_cond_destroy(&cur->cv);
    }
    dld_pg_table_clean_up(&cur->table);
    free(cur->snapshot_id);
    free(cur->target_name);
    free(cur);
}

/* A COPY abandoned half way is cancelled, not read to its end. */
static void s_abandon_copy(struct s_range *r)
{
    PGconn *conn = r->pg->conn;
    if (!r->copy_started || r->copy_finished || !conn || PQstatus(conn) != CONNECTION_OK)
        return;
    PGcancel *cn = PQgetCancel(conn);
    char buf[256];
    if (cn) {
        PQcancel(cn, buf, sizeof buf);
        PQfreeCancel(cn);
    }
    if (r->index > 0)
        return; /* the connection is closed next: nothing to drain */
    char *row;
    int n;
    while ((n = PQgetCopyData(conn, &row, 0)) > 0)
        PQfreemem(row);
    PGresult *res;
    while ((res = PQgetResult(conn)) != NULL)
        PQclear(res);
}

/* Closes the extra connections and leaves the window's own idle, or closes
 * it when that cannot be done quickly. */
static void s_finish_txn(struct dld_pg_cursor *cur)
{
    for (size_t i = 1; i < cur->nranges; i++) {
        struct s_range *r = &cur->ranges[i];
        s_abandon_copy(r);
        if (r->own.conn)
            PQfinish(r->own.conn); /* the server rolls the imported snapshot's transaction back */
        r->own.conn = NULL;
        r->in_txn = false;
    }
    PGconn *conn = cur->pg->conn;
    if (!conn || PQstatus(conn) != CONNECTION_OK)
        return;
    if (cur->nranges)
        s_abandon_copy(&cur->ranges[0]);
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
    PGresult *res = dld_pg_query(cur->pg, sql.data, nparams, params);
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

/* What the read snapshot says, from the transaction's first statement
 * (which fixes the snapshot every later statement reads). */
struct s_snap {
    char text[160];           /* pg_current_snapshot(): xmin:xmax:xip */
    uint64_t xmin, xmax;      /* as xid8: the horizon and the next xid */
    bool in_recovery;
};

static int s_snapshot(struct dld_pg_cursor *cur, struct s_snap *snap, char **out, struct dld_error *err)
{
    PGresult *res = dld_pg_query(cur->pg,
                                 "SELECT s::text, pg_catalog.pg_snapshot_xmin(s)::text,"
                                 " pg_catalog.pg_snapshot_xmax(s)::text, pg_catalog.pg_is_in_recovery()"
                                 " FROM pg_catalog.pg_current_snapshot() s",
                                 0, NULL);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        int rc = dld_pg_error(err, cur->pg->conn, res, "reading the snapshot");
        PQclear(res);
        return rc;
    }
    snprintf(snap->text, sizeof snap->text, "%s", PQgetvalue(res, 0, 0));
    bool ok = dld_pg_xid8_parse(PQgetvalue(res, 0, 1), &snap->xmin) &&
              dld_pg_xid8_parse(PQgetvalue(res, 0, 2), &snap->xmax);
    snap->in_recovery = PQgetvalue(res, 0, 3)[0] == 't';
    PQclear(res);
    if (!ok)
        return dld_error_set(err, DLD_ERR_FATAL, "postgres: the snapshot's xmin/xmax are not xid8 numbers");
    *out = dld_host_sprintf(cur->pg->host, "REPEATABLE READ READ ONLY snapshot %s", snap->text);
    return DLD_OK;
}

static bool s_is_commit(const struct dld_table *t)
{
    return t->filter_operator && !strcmp(t->filter_operator, "commit");
}

/* Refusals of a commit-order window that need no server (docs/postgres.md,
 * "Commit order"). */
static int s_commit_check(struct dld_pg_cursor *cur, const struct dld_extract_request *req, struct dld_error *err)
{
    const struct dld_table *t = req->table;
    if (req->mode != DLD_MODE_DELTA)
        return dld_error_set(err, DLD_ERR_UNSUPPORTED,
                             "postgres: table %s: filteroperator commit loads delta windows only (a backfill needs a "
                             "filter column; `deltaload reset --table %s --to XID8` reloads from a horizon)",
                             t->target_table_name, t->target_table_name);
    if (t->filter_column && *t->filter_column)
        return dld_error_set(err, DLD_ERR_CONFIG, "postgres: table %s: filteroperator commit takes no filtercolumn",
                             t->target_table_name);
    int version = PQserverVersion(cur->pg->conn);
    if (version < 130000)
        return dld_error_set(err, DLD_ERR_UNSUPPORTED,
                             "postgres: table %s: filteroperator commit needs PostgreSQL 13 or later (xid8 snapshots); "
                             "the server is %d.%d",
                             t->target_table_name, version / 10000, version % 10000);
    return DLD_OK;
}

/* A commit-order window: [low, horizon) over the xid8 of each row's xmin,
 * the horizon being the snapshot's xmin (every transaction below it has
 * ended; one still running is at or above it and a later window takes its
 * rows). Fills the table's condition, *high and the plan's note. */
static int s_commit_window(struct dld_pg_cursor *cur, const struct dld_extract_request *req, const struct s_snap *snap,
                           char **high, struct dld_pg_buf *note, struct dld_error *err)
{
    const struct dld_table *t = req->table;
    struct dld_pg_table *pt = &cur->table;
    if (snap->in_recovery)
        return dld_error_set(err, DLD_ERR_UNSUPPORTED,
                             "postgres: table %s: filteroperator commit is refused on a standby (pg_is_in_recovery()): "
                             "read the primary (docs/postgres.md, \"Commit order\")",
                             t->target_table_name);
    if (pt->relkind != 'r' && pt->relkind != 'p' && pt->relkind != 'm')
        return dld_error_set(err, DLD_ERR_UNSUPPORTED,
                             "postgres: table %s: filteroperator commit reads each row's xmin, which %s %s has not: "
                             "point the item at the table itself",
                             t->target_table_name, pt->relkind == 'v' ? "the view" : "the foreign table", pt->qualified);
    uint64_t low = 0, high_v = snap->xmin;
    bool has_low = req->low != NULL;
    if (has_low && !dld_pg_xid8_parse(req->low, &low))
        return dld_error_set(err, DLD_ERR_CONFIG,
                             "postgres: table %s: the watermark '%s' is not an xid8 horizon (a commit item's watermark "
                             "is a transaction id; after changing an item's operator, `deltaload reset --table %s "
                             "--clear` loads the table anew, or `--to` the horizon to start from)",
                             t->target_table_name, req->low, t->target_table_name);
    if (has_low && low > snap->xmax)
        return dld_error_set(err, DLD_ERR_CONFIG,
                             "postgres: table %s: the watermark %s is above every transaction id the server has "
                             "handed out (next: %llu): a watermark of another kind or another cluster? "
                             "(`deltaload reset --table %s --clear` loads the table anew)",
                             t->target_table_name, req->low, (unsigned long long)snap->xmax, t->target_table_name);
    if (req->high) {
        /* the same window again (an interrupted load): its horizon, which
         * this later snapshot's horizon can only have passed */
        uint64_t again;
        if (!dld_pg_xid8_parse(req->high, &again))
            return dld_error_set(err, DLD_ERR_CONFIG, "postgres: table %s: the recorded horizon '%s' is not an xid8",
                                 t->target_table_name, req->high);
        if (again <= snap->xmin)
            high_v = again;
        else
            dld_log(cur->pg->host, DLD_LOG_WARN, DLD_PG_NAME,
                    "table %s: the recorded horizon %s is above this snapshot's (%llu): the window ends at %llu",
                    t->target_table_name, req->high, (unsigned long long)snap->xmin, (unsigned long long)snap->xmin);
    }
    char hbuf[32];
    snprintf(hbuf, sizeof hbuf, "%llu", (unsigned long long)high_v);
    static const char guarantee[] =
        "\n-- guarantee: commit order: every row version committed below the horizon, once; a transaction still "
        "open is loaded by a later window; deletes are not captured; a row unchanged for 2^32 transactions comes "
        "again (docs/postgres.md)";
    struct dld_pg_xid_ranges r;
    dld_pg_xid_window(has_low, low, high_v, snap->xmax, &r);
    if (r.empty || (has_low && low >= high_v)) {
        cur->nothing = true; /* no transaction ended since the last window */
        dld_pg_buf_appendf(note, "\n-- commit order: no transaction ended since horizon %s (horizon now %s)", req->low,
                           hbuf);
        dld_pg_buf_append(note, guarantee);
        return DLD_OK;
    }
    char cond[256];
    dld_pg_xid_ranges_sql(&r, cond, sizeof cond);
    pt->commit_where = strdup(cond);
    *high = strdup(hbuf);
    if (!pt->commit_where || !*high)
        return dld_error_set(err, DLD_ERR_FATAL, "postgres: out of memory");
    char from[64];
    snprintf(from, sizeof from, "%s", has_low ? req->low : "-inf");
    dld_pg_buf_appendf(note,
                       "\n-- commit order: rows whose inserting or updating transaction has xid8 in [%s, %s); "
                       "horizon %s = pg_snapshot_xmin(pg_current_snapshot()), xmax %llu; xmin widened to xid8 "
                       "with the snapshot's epoch",
                       from, hbuf, hbuf, (unsigned long long)snap->xmax);
    dld_pg_buf_append(note, guarantee);
    dld_pg_buf_append(note, "\n-- cost: a scan of the whole table per window (xmin cannot be indexed)");
    return DLD_OK;
}

/* For a delta over a filter column that a sequence or a clock fills: which
 * guarantee applies (docs/semantics.md, "Consistency of the high mark"). */
static void s_fill_note(const struct dld_pg_cursor *cur, const struct dld_extract_request *req, struct dld_pg_buf *note)
{
    const struct dld_pg_table *pt = &cur->table;
    if (req->mode == DLD_MODE_FULL || pt->filter_index < 0)
        return;
    const struct dld_pg_column *c = &pt->cols[pt->filter_index];
    if (c->fill == DLD_PG_FILL_SEQUENCE)
        dld_pg_buf_appendf(note,
                           "\n-- guarantee: filter order only: %s is filled by a sequence (%s), in the order rows "
                           "are written, not committed: a transaction that commits after one holding a larger value "
                           "leaves rows at or below the high mark, and no later window reads them. "
                           "\"filteroperator\": \"commit\" follows commit order (docs/semantics.md)",
                           c->name, c->fill_expr ? c->fill_expr : "nextval");
    else if (c->fill == DLD_PG_FILL_CLOCK)
        dld_pg_buf_appendf(note,
                           "\n-- guarantee: filter order only: %s defaults to %s, a clock read before commit: rows of "
                           "a transaction longer than the lag (%lld s) land at or below the high mark, and no later "
                           "window reads them. \"filteroperator\": \"commit\" follows commit order "
                           "(docs/semantics.md)",
                           c->name, c->fill_expr ? c->fill_expr : "a clock", (long long)req->table->lag_seconds);
}

static int s_begin(struct dld_pg_cursor *cur, const struct dld_extract_request *req, struct dld_extract_info *info,
                   struct dld_error *err)
{
    struct dld_pg_instance *pg = cur->pg;
    int rc = dld_pg_ensure_connected(pg, err);
    if (rc)
        return rc;
    bool commit = s_is_commit(req->table);
    if (commit && (rc = s_commit_check(cur, req, err)))
        return rc;
    if ((rc = dld_pg_exec(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL,
                          "starting the read transaction", err)))
        return rc;
    cur->in_txn = true;
    /* the first statement fixes the snapshot every later one reads */
    struct s_snap snap;
    if ((rc = s_snapshot(cur, &snap, &info->snapshot, err)))
        return rc;
    if ((rc = dld_pg_table_describe(pg, req->table, &cur->table, err)))
        return rc;

    struct dld_pg_buf note = {0};
    char *high = NULL;
    if (commit) {
        rc = s_commit_window(cur, req, &snap, &high, &note, err);
    } else if (req->mode != DLD_MODE_FULL) {
        if (req->high) {
            high = strdup(req->high);
            if (!high)
                rc = dld_error_set(err, DLD_ERR_FATAL, "postgres: out of memory");
        } else {
            rc = s_capture_high(cur, req, &high, &note, err);
            cur->nothing = rc == DLD_OK && high == NULL;
        }
        if (!rc)
            s_fill_note(cur, req, &note);
    }
    char **conds = NULL;
    size_t nconds = 1;
    if (!rc && !cur->nothing)
        rc = dld_pg_split_plan(pg, &cur->table, req, high, &conds, &nconds, &note, err);
    struct dld_pg_buf sql = {0};
    if (!rc && cur->nothing)
        dld_pg_buf_append(&sql, commit ? "-- nothing to load" : "-- nothing to load: no row above the watermark");
    else if (!rc)
        rc = dld_pg_copy_sql(&sql, pg->conn, &cur->table, req, high, NULL, err);
    if (!rc && !cur->nothing) {
        cur->ranges = calloc(nconds, sizeof *cur->ranges);
        if (!cur->ranges)
            rc = dld_error_set(err, DLD_ERR_FATAL, "postgres: out of memory");
        else
            cur->nranges = nconds;
        for (size_t i = 0; !rc && i < nconds; i++) {
            struct s_range *r = &cur->ranges[i];
            r->cur = cur;
            r->index = i;
            r->pg = pg;
            if (i > 0) { /* same parameters and settings, a connection of its own */
                r->own = *pg;
                r->own.conn = NULL;
                r->pg = &r->own;
            }
            struct dld_pg_buf one = {0};
            if (conds)
                rc = dld_pg_copy_sql(&one, pg->conn, &cur->table, req, high, conds[i], err);
            else
                dld_pg_buf_append(&one, sql.data);
            if (!rc && one.oom)
                rc = dld_error_set(err, DLD_ERR_FATAL, "postgres: out of memory");
            r->copy_sql = rc ? NULL : one.data;
            if (rc)
                dld_pg_buf_clean_up(&one);
        }
    }
    dld_pg_split_free(conds, nconds);
    /* N readers share one batch's budget, as the engine's loads share
     * batch_rows: the batches in flight stay near one connection's */
    cur->batch_bytes = pg->settings.batch_bytes;
    if (cur->nranges > 1) {
        uint32_t least = cur->batch_rows < S_MIN_SPLIT_BATCH_ROWS ? cur->batch_rows : S_MIN_SPLIT_BATCH_ROWS;
        uint32_t rows = cur->batch_rows / (uint32_t)cur->nranges;
        cur->batch_rows = rows > least ? rows : least;
        int64_t bytes = cur->batch_bytes / (int64_t)cur->nranges;
        cur->batch_bytes = bytes < 4096 ? 4096 : bytes;
    }
    if (!rc && cur->nranges > 1) {
        /* the snapshot every extra connection imports; valid while this
         * transaction is open, i.e. until extract_end */
        PGresult *res = dld_pg_query(pg, "SELECT pg_catalog.pg_export_snapshot()", 0, NULL);
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
            rc = dld_pg_error(err, pg->conn, res, "exporting the snapshot");
        else if (!(cur->snapshot_id = strdup(PQgetvalue(res, 0, 0))))
            rc = dld_error_set(err, DLD_ERR_FATAL, "postgres: out of memory");
        PQclear(res);
    }
    if (!rc) {
        dld_pg_buf_append(&sql, note.data ? note.data : "");
        if (sql.oom || note.oom)
            rc = dld_error_set(err, DLD_ERR_FATAL, "postgres: out of memory");
    }
    if (!rc) {
        info->query = dld_host_strdup(pg->host, sql.data);
        info->high = dld_host_strdup(pg->host, high);
    }
    free(high);
    dld_pg_buf_clean_up(&note);
    dld_pg_buf_clean_up(&sql);
    return rc;
}

static int s_make_builder(struct dld_pg_cursor *cur, struct s_range *r, struct dld_error *err)
{
    size_t n = cur->table.ncols;
    struct dld_column_spec *specs = calloc(n, sizeof *specs);
    if (!specs)
        return dld_error_set(err, DLD_ERR_FATAL, "postgres: out of memory");
    for (size_t i = 0; i < n; i++)
        specs[i] = cur->table.cols[i].spec;
    r->builder = dld_batch_builder_new(specs, n);
    free(specs);
    if (!r->builder)
        return dld_error_set(err, DLD_ERR_FATAL, "postgres: cannot build a batch for %s", cur->table.qualified);
    r->copy = dld_pg_copy_new(&cur->table, r->builder);
    if (!r->copy)
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
    struct dld_batch_builder *columns = NULL;
    if (!rc && cur->nranges) {
        rc = s_make_builder(cur, &cur->ranges[0], err);
        columns = cur->ranges[0].builder;
    } else if (!rc) { /* nothing to read: a builder for the columns only */
        struct s_range none = {0};
        rc = s_make_builder(cur, &none, err);
        if (!rc)
            rc = dld_extract_info_schema(host_info, none.builder, err);
        dld_pg_copy_destroy(none.copy);
        if (none.builder)
            dld_batch_builder_destroy(none.builder);
    }
    if (!rc && columns) /* the columns, if the host asks (1.2), in the snapshot the rows are read in */
        rc = dld_extract_info_schema(host_info, columns, err);
    if (rc) {
        /* a failed begin hands nothing over: the host need not free info */
        dld_extract_info_clean_up(pg->host, info);
        dld_error_prefix(err, "table %s", cur->target_name ? cur->target_name : "?");
        s_finish_txn(cur);
        s_cursor_free(cur);
        return rc;
    }
    for (size_t i = 0; i < cur->nranges; i++)
        dld_log(pg->host, DLD_LOG_DEBUG, DLD_PG_NAME, "table %s: %s", cur->target_name, cur->ranges[i].copy_sql);
    dld_extract_info_put(pg->host, host_info, info);
    *cursor = cur;
    return DLD_OK;
}

static int s_start_copy(struct s_range *r, struct dld_error *err)
{
    PGresult *res = dld_pg_query(r->pg, r->copy_sql, 0, NULL);
    if (PQresultStatus(res) != PGRES_COPY_OUT) {
        int rc = dld_pg_error(err, r->pg->conn, res, "starting the window's COPY");
        PQclear(res);
        return rc;
    }
    PQclear(res);
    r->copy_started = true;
    return DLD_OK;
}

/* An extra range's connection: the window's snapshot imported. */
static int s_open_range(struct dld_pg_cursor *cur, struct s_range *r, struct dld_error *err)
{
    int rc = dld_pg_connect(r->pg, err);
    if (!rc)
        rc = dld_pg_exec(r->pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL,
                         "starting a split range's transaction", err);
    if (rc)
        return rc;
    r->in_txn = true;
    struct dld_pg_buf sql = {0};
    dld_pg_buf_append(&sql, "SET TRANSACTION SNAPSHOT ");
    rc = dld_pg_append_literal(&sql, r->pg->conn, cur->snapshot_id, err);
    if (!rc && sql.oom)
        rc = dld_error_set(err, DLD_ERR_FATAL, "postgres: out of memory");
    if (!rc)
        rc = dld_pg_exec(r->pg, sql.data, 0, NULL, "importing the window's snapshot", err);
    dld_pg_buf_clean_up(&sql);
    if (!rc)
        rc = s_make_builder(cur, r, err);
    return rc;
}

/* The server ended the COPY: check how. */
static int s_copy_end(struct s_range *r, struct dld_error *err)
{
    PGconn *conn = r->pg->conn;
    PGresult *res = PQgetResult(conn);
    int rc = DLD_OK;
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = dld_pg_error(err, conn, res, "reading the window");
    PQclear(res);
    while ((res = PQgetResult(conn)) != NULL)
        PQclear(res);
    r->copy_finished = true;
    if (!rc && !dld_pg_copy_complete(r->copy))
        rc = dld_error_set(err, DLD_ERR_RETRY, "postgres: the COPY stream ended without its trailer");
    return rc;
}

static void s_report_nulled(struct dld_pg_cursor *cur)
{
    for (size_t i = 0; i < cur->table.ncols; i++) {
        int64_t n = 0;
        for (size_t k = 0; k < cur->nranges; k++)
            n += cur->ranges[k].copy ? dld_pg_copy_nulled(cur->ranges[k].copy, i) : 0;
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
 * ends. Owns its range's connection, decoder and builder while it runs. */
static int s_fill_batch(struct s_range *r, struct dld_error *err)
{
    struct dld_pg_cursor *cur = r->cur;
    PGconn *conn = r->pg->conn;
    int64_t max_bytes = cur->batch_bytes;
    unsigned polls = 0;
    int rc;
    while (!r->copy_finished && dld_batch_rows(r->builder) < (int64_t)cur->batch_rows) {
        /* the byte bound costs a walk over the columns: look every 64 rows */
        if ((++polls & 63) == 0) {
            if ((int64_t)dld_batch_bytes(r->builder) >= max_bytes)
                break;
            if (s_stopping(cur))
                return dld_error_set(err, DLD_ERR_RETRY, "postgres: extraction stopped");
        }
        char *msg = NULL;
        int n = PQgetCopyData(conn, &msg, 0);
        if (n > 0) {
            rc = dld_pg_copy_feed(r->copy, msg, (size_t)n, err);
            PQfreemem(msg);
            if (rc < 0)
                return rc;
        } else if (n == -1) {
            if ((rc = s_copy_end(r, err)))
                return rc;
        } else {
            return dld_pg_error(err, conn, NULL, "reading the window");
        }
    }
    return DLD_OK;
}

static void *s_reader(void *arg)
{
    struct s_range *r = arg;
    struct dld_pg_cursor *cur = r->cur;
    struct dld_error err;
    dld_error_init(&err);
    int rc = DLD_OK;
    for (;;) {
        if ((rc = s_fill_batch(r, &err)))
            break;
        if (dld_batch_rows(r->builder) == 0) {
            if (r->copy_finished)
                break; /* an empty window's one empty batch is the consumer's (extract_next) */
            continue;
        }
        struct ArrowSchema schema;
        struct ArrowArray batch;
        memset(&schema, 0, sizeof schema);
        memset(&batch, 0, sizeof batch);
        if ((rc = dld_batch_finish(r->builder, &schema, &batch))) {
            dld_error_set(&err, rc, "postgres: cannot finish a batch");
            break;
        }
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
        if (r->copy_finished)
            break;
    }
    pthread_mutex_lock(&cur->mu);
    r->reader_done = true;
    cur->live--;
    if (rc && !cur->reader_rc && !s_stopping(cur)) {
        /* the first failure is the window's; the consumer stops the others */
        cur->reader_rc = rc;
        cur->reader_err = err;
        if (cur->nranges > 1)
            dld_error_prefix(&cur->reader_err, "split range %zu of %zu", r->index + 1, cur->nranges);
    }
    pthread_cond_broadcast(&cur->cv);
    pthread_mutex_unlock(&cur->mu);
    return NULL;
}

/* Stops and joins the readers; a reader blocked on its socket is woken by
 * cancelling its COPY (PQcancel is safe from another thread). */
static void s_readers_stop(struct dld_pg_cursor *cur)
{
    if (!cur->sync_ready)
        return;
    __atomic_store_n(&cur->stop, 1, __ATOMIC_RELEASE);
    pthread_mutex_lock(&cur->mu);
    pthread_cond_broadcast(&cur->cv);
    bool done[DLD_PG_MAX_PARALLEL] = {0};
    for (size_t i = 0; i < cur->nranges; i++)
        done[i] = cur->ranges[i].reader_done;
    pthread_mutex_unlock(&cur->mu);
    for (size_t i = 0; i < cur->nranges; i++) {
        struct s_range *r = &cur->ranges[i];
        if (r->reader_running && !done[i] && r->cancel) {
            char buf[256];
            PQcancel(r->cancel, buf, sizeof buf);
        }
    }
    for (size_t i = 0; i < cur->nranges; i++) {
        struct s_range *r = &cur->ranges[i];
        if (r->reader_running)
            pthread_join(r->reader, NULL);
        r->reader_running = false;
    }
}

/* Opens the extra ranges, starts every COPY, then the readers. */
static int s_start(struct dld_pg_cursor *cur, struct dld_error *err)
{
    cur->started = true;
    int rc;
    for (size_t i = 1; i < cur->nranges; i++) {
        if ((rc = s_open_range(cur, &cur->ranges[i], err))) {
            dld_error_prefix(err, "split range %zu of %zu", i + 1, cur->nranges);
            return rc;
        }
    }
    for (size_t i = 0; i < cur->nranges; i++) {
        if ((rc = s_start_copy(&cur->ranges[i], err))) {
            if (cur->nranges > 1)
                dld_error_prefix(err, "split range %zu of %zu", i + 1, cur->nranges);
            return rc;
        }
    }
    if (pthread_mutex_init(&cur->mu, NULL))
        return dld_error_set(err, DLD_ERR_FATAL, "postgres: cannot create a mutex");
    if (pthread_cond_init(&cur->cv, NULL)) {
        pthread_mutex_destroy(&cur->mu);
        return dld_error_set(err, DLD_ERR_FATAL, "postgres: cannot create a condition variable");
    }
    cur->sync_ready = true;
    for (size_t i = 0; i < cur->nranges; i++) {
        struct s_range *r = &cur->ranges[i];
        r->cancel = PQgetCancel(r->pg->conn);
        pthread_mutex_lock(&cur->mu);
        cur->live++;
        pthread_mutex_unlock(&cur->mu);
        if (pthread_create(&r->reader, NULL, s_reader, r)) {
            pthread_mutex_lock(&cur->mu);
            cur->live--;
            pthread_mutex_unlock(&cur->mu);
            return dld_error_set(err, DLD_ERR_FATAL, "postgres: cannot start a reader thread");
        }
        r->reader_running = true;
    }
    return DLD_OK;
}

int dld_pg_extract_next(void *cursor, struct ArrowSchema *schema, struct ArrowArray *batch, struct dld_error *err)
{
    struct dld_pg_cursor *cur = cursor;
    if (cur->nothing || cur->nranges == 0)
        return DLD_DONE;
    int rc;
    if (!cur->pg->conn)
        return dld_error_set(err, DLD_ERR_RETRY, "postgres: table %s: the connection was closed", cur->target_name);
    if (!cur->started) {
        if ((rc = s_start(cur, err)))
            goto fail;
    }
    if (!cur->sync_ready)
        return dld_error_set(err, DLD_ERR_RETRY, "postgres: table %s: the window's COPY could not be started",
                             cur->target_name);
    pthread_mutex_lock(&cur->mu);
    while (!cur->slot_full && cur->live > 0 && !cur->reader_rc) {
        /* wake every 200 ms: SIGINT/SIGTERM cancels a COPY that hangs */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 200000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&cur->cv, &cur->mu, &until);
        const struct dld_host *host = cur->pg->host;
        if (!cur->slot_full && cur->live > 0 && !cur->reader_rc && host && host->cancelled && host->cancelled()) {
            pthread_mutex_unlock(&cur->mu);
            s_readers_stop(cur); /* PQcancel wakes a reader blocked on the socket */
            rc = dld_error_set(err, DLD_ERR_RETRY, "postgres: extraction interrupted by a signal (COPY cancelled)");
            goto fail;
        }
    }
    if (cur->reader_rc) {
        pthread_mutex_unlock(&cur->mu);
        s_readers_stop(cur);
        rc = cur->reader_rc;
        /* field by field: the host's error object may be smaller than ours */
        dld_error_set(err, rc, "%s", cur->reader_err.message);
        dld_error_upstream(err, 0, cur->reader_err.upstream_code[0] ? cur->reader_err.upstream_code : NULL, NULL);
        goto fail;
    }
    if (cur->slot_full) {
        *schema = cur->slot_schema;
        *batch = cur->slot_batch;
        memset(&cur->slot_schema, 0, sizeof cur->slot_schema);
        memset(&cur->slot_batch, 0, sizeof cur->slot_batch);
        cur->slot_full = false;
        cur->rows += batch->length;
        cur->handed++;
        pthread_cond_broadcast(&cur->cv);
        pthread_mutex_unlock(&cur->mu);
        return DLD_OK;
    }
    pthread_mutex_unlock(&cur->mu);
    s_readers_stop(cur); /* every reader is done: this only joins them */
    if (cur->handed == 0) {
        /* an empty window still hands over its schema, once */
        if ((rc = dld_batch_finish(cur->ranges[0].builder, schema, batch))) {
            dld_error_set(err, rc, "postgres: cannot finish a batch");
            goto fail;
        }
        cur->handed++;
        return DLD_OK;
    }
    if (!cur->nulled_reported) {
        cur->nulled_reported = true;
        s_report_nulled(cur);
    }
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
    s_readers_stop(cur);
    s_finish_txn(cur);
    s_cursor_free(cur);
}

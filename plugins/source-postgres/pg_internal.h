/*
 * source-postgres internals: one connection per instance, a catalog
 * description of the table, the SQL of a window and the binary COPY decoder.
 * Everything here is private to the plugin (hidden visibility).
 */
#ifndef DLD_PG_INTERNAL_H
#define DLD_PG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include <deltaload/deltaload.h>

#define DLD_PG_NAME "postgres"

/* How a column's binary COPY field becomes an Arrow value. */
enum dld_pg_kind {
    DLD_PG_BOOL = 1,
    DLD_PG_INT2,
    DLD_PG_INT4,
    DLD_PG_INT8,
    DLD_PG_FLOAT4,
    DLD_PG_FLOAT8,
    DLD_PG_NUMERIC,   /* decimal128 at the column's precision/scale */
    DLD_PG_TEXT,      /* UTF-8 bytes as sent (text, varchar, enum, json, and every ::text cast) */
    DLD_PG_JSONB,     /* version byte 1, then the JSON text */
    DLD_PG_BYTEA,
    DLD_PG_UUID,      /* 16 bytes, formatted 8-4-4-4-12 */
    DLD_PG_DATE,      /* int32 days since 2000-01-01 */
    DLD_PG_TIME,      /* int64 us since midnight */
    DLD_PG_TIMESTAMP, /* int64 us since 2000-01-01 (UTC for timestamptz) */
};

/* How the column appears in the SELECT list. */
enum dld_pg_select {
    DLD_PG_SEL_PLAIN = 0,  /* "col" */
    DLD_PG_SEL_TEXT = 1,   /* "col"::text */
    DLD_PG_SEL_JSON = 2,   /* to_json("col")::text (arrays) */
};

/* How a column is filled when a row is written (its default or identity):
 * what `plan` says about a filter column's guarantee. */
enum dld_pg_fill {
    DLD_PG_FILL_OTHER = 0,
    DLD_PG_FILL_SEQUENCE, /* nextval(...) or an identity column: call order, not commit order */
    DLD_PG_FILL_CLOCK,    /* now(), clock_timestamp(), CURRENT_TIMESTAMP, ...: read before commit */
};

struct dld_pg_column {
    char *name;          /* as in the catalog, unquoted */
    char *type_name;     /* format_type(), for docs, warnings and errors */
    uint32_t type_oid;   /* after resolving a domain to its base type */
    int32_t typmod;
    bool not_null;
    uint32_t kind;       /* enum dld_pg_kind */
    uint32_t select;     /* enum dld_pg_select */
    uint32_t fill;       /* enum dld_pg_fill */
    char *fill_expr;     /* the default expression (or "identity"), for the plan's note; may be NULL */
    struct dld_column_spec spec;
};

struct dld_pg_table {
    struct dld_pg_column *cols;
    size_t ncols;
    char *qualified;     /* "schema"."table", quoted by libpq */
    int filter_index;    /* index of the filter column in cols, -1 if none */
    char relkind;        /* pg_class.relkind: 'r' table, 'p' partitioned, 'm' matview, 'v' view, 'f' foreign */
    /* a commit-order window: its condition on xmin (pg_xid.c), "" for the
     * whole table; NULL for every other kind of window */
    char *commit_where;
};

/* Tuning and type options read at open. */
struct dld_pg_settings {
    bool unconstrained_text;  /* unconstrained_numeric == "text" */
    int32_t numeric_scale;    /* scale of unconstrained numeric as decimal */
    int64_t batch_bytes;      /* finish a batch when this much is buffered */
    int64_t statement_timeout_ms;
    /* where writers of naive timestamps live (IANA name, checked at open
     * against pg_timezone_names): lag bounds of timestamp and date columns
     * are that zone's wall clock */
    char writer_time_zone[128];
    /* a big window read over this many connections sharing one snapshot
     * (pg_split.c); 1: one connection */
    int parallel;
    int64_t split_min_rows;   /* ... when the planner estimates at least this many rows */
};

struct dld_pg_instance {
    const struct dld_host *host;
    PGconn *conn;
    char **keys;       /* libpq keywords/values kept for reconnects */
    char **values;
    struct dld_pg_settings settings;
};

/* ---- pg_conn.c ---------------------------------------------------------- */
int dld_pg_connect(struct dld_pg_instance *pg, struct dld_error *err);
/* Reconnects when the connection was lost since the last call. */
int dld_pg_ensure_connected(struct dld_pg_instance *pg, struct dld_error *err);
void dld_pg_conn_params_free(struct dld_pg_instance *pg);
int dld_pg_conn_params_init(struct dld_pg_instance *pg, const char *const *options, struct dld_error *err);
/* Fills err from a failed result (or the connection when res is NULL):
 * SQLSTATE as upstream code, lost connections as DLD_ERR_RETRY. */
int dld_pg_error(struct dld_error *err, PGconn *conn, const PGresult *res, const char *what);
/* Maps a SQLSTATE (may be NULL) to a dld_code. */
int dld_pg_code_for_sqlstate(const char *sqlstate, bool connection_lost);
/* Runs a command that returns no rows (parameters optional). */
/* Runs one statement like PQexec/PQexecParams (nparams 0: PQexec), but a
 * signal (the host's cancelled) cancels it on the server within ~0.1 s. */
PGresult *dld_pg_query(struct dld_pg_instance *pg, const char *sql, int nparams, const char *const *params);
int dld_pg_exec(struct dld_pg_instance *pg, const char *sql, int nparams, const char *const *params, const char *what,
                struct dld_error *err);

/* ---- pg_catalog.c --------------------------------------------------------- */
/* Describes schema.table from the catalog (inside the read transaction) and
 * maps every column to an Arrow type. Logs a warning for each column of a
 * type the plugin does not know (it is read as text). */
int dld_pg_table_describe(struct dld_pg_instance *pg, const struct dld_table *t, struct dld_pg_table *out,
                          struct dld_error *err);
void dld_pg_table_clean_up(struct dld_pg_table *t);
/* enum dld_pg_fill of a column default as pg_get_expr prints it ("identity"
 * for an identity column); NULL is DLD_PG_FILL_OTHER */
uint32_t dld_pg_fill_kind(const char *expr);

/* ---- pg_types.c ----------------------------------------------------------- */
/* Chooses kind, select and Arrow spec for a column from its base type.
 * Returns false when the type is unknown (the column is then read as text). */
bool dld_pg_map_type(const struct dld_pg_settings *s, struct dld_pg_column *c, char typtype, char typcategory);

/* ---- pg_sql.c --------------------------------------------------------------- */
/* A growable string; the SQL builders append to it. */
struct dld_pg_buf {
    char *data;
    size_t len, cap;
    bool oom;
};
void dld_pg_buf_append(struct dld_pg_buf *b, const char *s);
void dld_pg_buf_appendf(struct dld_pg_buf *b, const char *fmt, ...) DLD_PRINTF(2, 3);
void dld_pg_buf_clean_up(struct dld_pg_buf *b);
/* PQescapeIdentifier into the buffer, after dld_ident_check. */
int dld_pg_append_ident(struct dld_pg_buf *b, PGconn *conn, const char *what, const char *ident,
                        struct dld_error *err);
/* PQescapeLiteral into the buffer. */
int dld_pg_append_literal(struct dld_pg_buf *b, PGconn *conn, const char *value, struct dld_error *err);

/* The WHERE clause of a request (with a leading " WHERE ", or nothing);
 * for a commit-order window, pt->commit_where.
 * Values are escaped by libpq as literals of unknown type, which PostgreSQL
 * resolves to the filter column's own type. */
int dld_pg_where(struct dld_pg_buf *b, PGconn *conn, const struct dld_pg_table *pt, const struct dld_extract_request *req,
                 const char *high, struct dld_error *err);
/* COPY (SELECT <columns> FROM <table> <where>) TO STDOUT (FORMAT binary);
 * range (may be NULL) is ANDed to the window's condition (pg_split.c). */
int dld_pg_copy_sql(struct dld_pg_buf *b, PGconn *conn, const struct dld_pg_table *pt,
                    const struct dld_extract_request *req, const char *high, const char *range,
                    struct dld_error *err);
/* SELECT max(col)::text FROM table WHERE col > $1 [AND col <= endvalue for a
 * `between` item] [AND col <= now() - lag, or for timestamp/date columns
 * (now() - lag) AT TIME ZONE writer_time_zone], with its parameter values
 * (at most 4; borrowed from req, lagbuf or the settings). */
int dld_pg_high_sql(struct dld_pg_buf *b, PGconn *conn, const struct dld_pg_table *pt,
                    const struct dld_extract_request *req, const struct dld_pg_settings *settings, int *nparams,
                    const char **params, char *lagbuf, size_t lagcap, struct dld_error *err);

/* ---- pg_split.c ------------------------------------------------------------- */
#define DLD_PG_MAX_PARALLEL 8
/* Whether a window is read over several connections and how: *conds gets
 * *n disjoint conditions (ranges of heap blocks) whose union is the whole
 * table, or NULL and *n = 1 when the window stays on one connection. A line
 * saying which and why goes to note (the plan). Runs in the window's
 * transaction. Free *conds with dld_pg_split_free. */
int dld_pg_split_plan(struct dld_pg_instance *pg, const struct dld_pg_table *pt, const struct dld_extract_request *req,
                      const char *high, char ***conds, size_t *n, struct dld_pg_buf *note, struct dld_error *err);
void dld_pg_split_free(char **conds, size_t n);

/* ---- pg_extract.c (the vtable's extraction members) ------------------------- */
int dld_pg_extract_begin(void *inst, const struct dld_extract_request *req, struct dld_extract_info *info,
                         void **cursor, struct dld_error *err);
int dld_pg_extract_next(void *cursor, struct ArrowSchema *schema, struct ArrowArray *batch, struct dld_error *err);
void dld_pg_extract_end(void *cursor);

/* ---- pg_copy.c ---------------------------------------------------------------- */
/* Streaming decoder of PostgreSQL's binary COPY format into a batch builder.
 * Fed raw CopyData messages in order, whatever their boundaries. */
struct dld_pg_copy;
struct dld_pg_copy *dld_pg_copy_new(const struct dld_pg_table *pt, struct dld_batch_builder *b);
void dld_pg_copy_destroy(struct dld_pg_copy *c);
/* Decodes every complete tuple in data (keeping a partial one for the next
 * call). Returns DLD_OK, DLD_DONE once the trailer was read, or an error. */
int dld_pg_copy_feed(struct dld_pg_copy *c, const char *data, size_t len, struct dld_error *err);
/* Rows whose value could not be represented and were loaded as NULL
 * (date/timestamp +-infinity), per column; NULL-free reporting is the caller's. */
int64_t dld_pg_copy_nulled(const struct dld_pg_copy *c, size_t col);
/* true once the trailer was seen and nothing is left over */
bool dld_pg_copy_complete(const struct dld_pg_copy *c);

#endif

/*
 * The SQL of a window. Identifiers from the controller item pass
 * dld_ident_check and are quoted by PQescapeIdentifier; values are bound as
 * parameters where the protocol allows it (the high-mark query) and escaped
 * by PQescapeLiteral where it does not: COPY is a utility statement and
 * takes no parameters. A literal is left untyped ('10', not '10'::int), so
 * PostgreSQL gives it the filter column's own type, exactly as it does a
 * parameter whose type is unspecified.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_internal.h"

static void s_reserve(struct dld_pg_buf *b, size_t extra)
{
    if (b->oom || b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return;
    }
    b->data = p;
    b->cap = cap;
}

void dld_pg_buf_append(struct dld_pg_buf *b, const char *s)
{
    size_t n = strlen(s);
    s_reserve(b, n);
    if (b->oom)
        return;
    memcpy(b->data + b->len, s, n + 1);
    b->len += n;
}

void dld_pg_buf_appendf(struct dld_pg_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    s_reserve(b, (size_t)n);
    if (b->oom)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void dld_pg_buf_clean_up(struct dld_pg_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

int dld_pg_append_ident(struct dld_pg_buf *b, PGconn *conn, const char *what, const char *ident,
                        struct dld_error *err)
{
    /* names read back from the catalog (what == NULL) need no check: they
     * exist, and quoting makes any of them safe */
    int rc = what ? dld_ident_check(what, ident, err) : DLD_OK;
    if (rc)
        return rc;
    char *q = PQescapeIdentifier(conn, ident, strlen(ident));
    if (!q)
        return dld_pg_error(err, conn, NULL, what ? what : "quoting a column name");
    dld_pg_buf_append(b, q);
    PQfreemem(q);
    return DLD_OK;
}

int dld_pg_append_literal(struct dld_pg_buf *b, PGconn *conn, const char *value, struct dld_error *err)
{
    char *q = PQescapeLiteral(conn, value, strlen(value));
    if (!q)
        return dld_pg_error(err, conn, NULL, "escaping a value");
    dld_pg_buf_append(b, q);
    PQfreemem(q);
    return DLD_OK;
}

static const char *s_filter_name(const struct dld_pg_table *pt)
{
    return pt->filter_index >= 0 ? pt->cols[pt->filter_index].name : NULL;
}

static int s_cmp(struct dld_pg_buf *b, PGconn *conn, const char *col, const char *op, const char *value,
                 struct dld_error *err)
{
    int rc = dld_pg_append_ident(b, conn, NULL, col, err);
    if (rc)
        return rc;
    dld_pg_buf_appendf(b, " %s ", op);
    return dld_pg_append_literal(b, conn, value, err);
}

static int s_need(const struct dld_table *t, const char *op, bool end, struct dld_error *err)
{
    if (!t->start_value)
        return dld_error_set(err, DLD_ERR_CONFIG, "postgres: table %s: filteroperator %s needs a startvalue",
                             t->target_table_name, op);
    if (end && !t->end_value)
        return dld_error_set(err, DLD_ERR_CONFIG, "postgres: table %s: filteroperator %s needs an endvalue",
                             t->target_table_name, op);
    return DLD_OK;
}

/* FULL: the item's operator applied as it is. */
static int s_where_full(struct dld_pg_buf *b, PGconn *conn, const struct dld_pg_table *pt, const struct dld_table *t,
                        struct dld_error *err)
{
    const char *col = s_filter_name(pt);
    const char *op = t->filter_operator;
    if (!col || !op || !*op)
        return DLD_OK; /* no filter: the whole table */
    int rc;
    dld_pg_buf_append(b, " WHERE ");
    if (!strcmp(op, "null") || !strcmp(op, "notnull")) {
        rc = dld_pg_append_ident(b, conn, NULL, col, err);
        dld_pg_buf_append(b, !strcmp(op, "null") ? " IS NULL" : " IS NOT NULL");
        return rc;
    }
    static const struct {
        const char *name, *sql;
    } ops[] = {{"eq", "="}, {"noteq", "<>"}, {"lte", "<="}, {"ste", "<="}, {"gte", ">="}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (!strcmp(op, ops[i].name)) {
            if ((rc = s_need(t, op, false, err)))
                return rc;
            return s_cmp(b, conn, col, ops[i].sql, t->start_value, err);
        }
    }
    if (!strcmp(op, "between") || !strcmp(op, "notbetween")) {
        if ((rc = s_need(t, op, true, err)))
            return rc;
        if ((rc = s_cmp(b, conn, col, !strcmp(op, "between") ? "BETWEEN" : "NOT BETWEEN", t->start_value, err)))
            return rc;
        dld_pg_buf_append(b, " AND ");
        return dld_pg_append_literal(b, conn, t->end_value, err);
    }
    return dld_error_set(err, DLD_ERR_CONFIG,
                         "postgres: table %s: unknown filteroperator '%s' (eq, noteq, lte, ste, gte, null, notnull, "
                         "between, notbetween)",
                         t->target_table_name, op);
}

int dld_pg_where(struct dld_pg_buf *b, PGconn *conn, const struct dld_pg_table *pt, const struct dld_extract_request *req,
                 const char *high, struct dld_error *err)
{
    const struct dld_table *t = req->table;
    if (pt->commit_where) {
        /* commit order: the window's xids, computed by pg_xid.c from the
         * snapshot (numbers only, nothing from the item) */
        if (pt->commit_where[0])
            dld_pg_buf_appendf(b, " WHERE %s", pt->commit_where);
        return DLD_OK;
    }
    if (req->mode == DLD_MODE_FULL)
        return s_where_full(b, conn, pt, t, err);
    const char *col = s_filter_name(pt);
    if (!col)
        return dld_error_set(err, DLD_ERR_CONFIG, "postgres: table %s: a delta or backfill load needs a filtercolumn",
                             t->target_table_name);
    int rc = DLD_OK;
    const char *sep = " WHERE ";
    if (req->low) {
        dld_pg_buf_append(b, sep);
        rc = s_cmp(b, conn, col, req->low_inclusive ? ">=" : ">", req->low, err);
        sep = " AND ";
    }
    if (!rc && high) {
        dld_pg_buf_append(b, sep);
        rc = s_cmp(b, conn, col, "<=", high, err);
    }
    return rc;
}

int dld_pg_copy_sql(struct dld_pg_buf *b, PGconn *conn, const struct dld_pg_table *pt,
                    const struct dld_extract_request *req, const char *high, const char *range,
                    struct dld_error *err)
{
    dld_pg_buf_append(b, "COPY (SELECT ");
    for (size_t i = 0; i < pt->ncols; i++) {
        const struct dld_pg_column *c = &pt->cols[i];
        if (i)
            dld_pg_buf_append(b, ", ");
        if (c->select == DLD_PG_SEL_JSON)
            dld_pg_buf_append(b, "to_json(");
        int rc = dld_pg_append_ident(b, conn, NULL, c->name, err);
        if (rc)
            return rc;
        if (c->select == DLD_PG_SEL_JSON)
            dld_pg_buf_append(b, ")::text");
        else if (c->select == DLD_PG_SEL_TEXT)
            dld_pg_buf_append(b, "::text");
    }
    dld_pg_buf_appendf(b, " FROM %s", pt->qualified);
    struct dld_pg_buf where = {0};
    int rc = dld_pg_where(&where, conn, pt, req, high, err);
    if (rc) {
        dld_pg_buf_clean_up(&where);
        return rc;
    }
    if (range && where.len) /* " WHERE <cond>": the window's condition in parentheses, then the range */
        dld_pg_buf_appendf(b, " WHERE (%s) AND %s", where.data + strlen(" WHERE "), range);
    else if (range)
        dld_pg_buf_appendf(b, " WHERE %s", range);
    else if (where.len)
        dld_pg_buf_append(b, where.data);
    if (where.oom)
        b->oom = true;
    dld_pg_buf_clean_up(&where);
    dld_pg_buf_append(b, ") TO STDOUT (FORMAT binary)");
    if (b->oom)
        return dld_error_set(err, DLD_ERR_FATAL, "postgres: out of memory");
    return DLD_OK;
}

int dld_pg_high_sql(struct dld_pg_buf *b, PGconn *conn, const struct dld_pg_table *pt,
                    const struct dld_extract_request *req, const struct dld_pg_settings *settings, int *nparams,
                    const char **params, char *lagbuf, size_t lagcap, struct dld_error *err)
{
    const struct dld_table *t = req->table;
    const char *col = s_filter_name(pt);
    if (!col)
        return dld_error_set(err, DLD_ERR_CONFIG, "postgres: table %s: a delta or backfill load needs a filtercolumn",
                             t->target_table_name);
    const struct dld_pg_column *fc = &pt->cols[pt->filter_index];
    *nparams = 0;
    dld_pg_buf_append(b, "SELECT max(");
    int rc = dld_pg_append_ident(b, conn, NULL, col, err);
    if (rc)
        return rc;
    dld_pg_buf_appendf(b, ")::text FROM %s", pt->qualified);
    const char *sep = " WHERE ";
    if (req->low) {
        dld_pg_buf_append(b, sep);
        if ((rc = dld_pg_append_ident(b, conn, NULL, col, err)))
            return rc;
        dld_pg_buf_appendf(b, " %s $%d", req->low_inclusive ? ">=" : ">", *nparams + 1);
        params[(*nparams)++] = req->low;
        sep = " AND ";
    }
    if (t->filter_operator && !strcmp(t->filter_operator, "between") && t->end_value) {
        /* a delta `between` never moves its window past endvalue */
        dld_pg_buf_append(b, sep);
        if ((rc = dld_pg_append_ident(b, conn, NULL, col, err)))
            return rc;
        dld_pg_buf_appendf(b, " <= $%d", *nparams + 1);
        params[(*nparams)++] = t->end_value;
        sep = " AND ";
    }
    if (t->lag_seconds > 0) {
        bool instant = fc->kind == DLD_PG_TIMESTAMP && fc->spec.tz;
        if (fc->kind != DLD_PG_TIMESTAMP && fc->kind != DLD_PG_DATE)
            return dld_error_set(err, DLD_ERR_CONFIG,
                                 "postgres: table %s: lag applies to date and timestamp filter columns; %s is %s "
                                 "(see docs/postgres.md, \"Consistency and lag\")",
                                 t->target_table_name, col, fc->type_name);
        dld_pg_buf_append(b, sep);
        if ((rc = dld_pg_append_ident(b, conn, NULL, col, err)))
            return rc;
        snprintf(lagbuf, lagcap, "%lld seconds", (long long)t->lag_seconds);
        int lag_param = ++*nparams;
        params[lag_param - 1] = lagbuf;
        if (instant) {
            /* timestamptz: instants, no zone involved */
            dld_pg_buf_appendf(b, " <= now() - $%d::interval", lag_param);
        } else {
            /* timestamp/date: the wall clock of the writers' zone at the
             * instant now - lag (the interval is taken from the instant, so a
             * daylight-saving change inside the lag does not shorten it) */
            const char *zone = settings && settings->writer_time_zone[0] ? settings->writer_time_zone : "UTC";
            int tz_param = ++*nparams;
            params[tz_param - 1] = zone;
            if (fc->kind == DLD_PG_DATE)
                dld_pg_buf_appendf(b, " <= ((now() - $%d::interval) AT TIME ZONE $%d::text)::date", lag_param,
                                   tz_param);
            else
                dld_pg_buf_appendf(b, " <= (now() - $%d::interval) AT TIME ZONE $%d::text", lag_param, tz_param);
        }
    }
    if (b->oom)
        return dld_error_set(err, DLD_ERR_FATAL, "postgres: out of memory");
    return DLD_OK;
}

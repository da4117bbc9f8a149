/*
 * One load from Oracle: fix the consistent point (an SCN for flashback
 * queries, or a read-only transaction), capture the high mark inside it,
 * then array-fetch the window straight into Arrow batches.
 *
 * Each OCI array fetch fills one Arrow batch: the define buffers hold
 * `rows` rows, where rows is the host's batch size lowered until one fetch's
 * buffers fit in fetch_memory_mb; OCI prefetches as many rows again so the
 * next network round trip overlaps the conversion of this batch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ora_source.h"

struct s_col {
    char name[132];
    char quoted[272];
    struct dld_ora_desc d;
    bool nullable;
    struct dld_ora_mapping m;
    size_t out;   /* builder column */
    size_t tzout; /* builder column of the offset companion */
    uint8_t *buf;
    void **desc;  /* timestamp / LOB descriptors, one per row */
    int16_t *ind;
    uint32_t *rlen;
    uint16_t *rcode;
};

struct dld_ora_cursor {
    struct dld_ora_source *src;
    struct s_col *cols;
    size_t ncols;
    struct dld_ora_stmt extract;
    void *stmt;
    uint32_t rows; /* per fetch */
    bool empty, executed, done;
    bool read_only_txn;
    struct dld_batch_builder *builder;
    uint8_t *lob_buf;
    size_t lob_cap;
};

static void s_cols_free(struct dld_ora_cursor *c)
{
    const struct dld_ora_oci *oci = &c->src->oci;
    for (size_t i = 0; c->cols && i < c->ncols; i++) {
        struct s_col *col = &c->cols[i];
        for (uint32_t r = 0; col->desc && r < c->rows; r++)
            if (col->desc[r])
                oci->DescriptorFree(col->desc[r], col->m.dtype_desc);
        free(col->desc);
        free(col->buf);
        free(col->ind);
        free(col->rlen);
        free(col->rcode);
    }
    free(c->cols);
    c->cols = NULL;
    c->ncols = 0;
}

void dld_ora_extract_end(struct dld_ora_cursor *c)
{
    if (c == NULL)
        return;
    struct dld_ora_source *src = c->src;
    if (c->stmt != NULL)
        src->oci.StmtRelease(c->stmt, src->errh, NULL, 0, DLD_OCI_DEFAULT);
    /* ends a read-only transaction; harmless otherwise (nothing is written) */
    if (src->in_session && !src->broken)
        src->oci.TransRollback(src->svc, src->errh, DLD_OCI_DEFAULT);
    s_cols_free(c);
    dld_ora_stmt_clean_up(&c->extract);
    dld_batch_builder_destroy(c->builder);
    free(c->lob_buf);
    free(c);
    if (src->broken)
        dld_ora_disconnect(src);
}

/* ---- describe ------------------------------------------------------------------- */

static int s_attr(struct dld_ora_source *src, void *param, void *val, uint32_t attr, const char *what,
                  struct dld_error *err)
{
    return dld_ora_check(src, src->oci.AttrGet(param, DLD_OCI_DTYPE_PARAM, val, NULL, attr, src->errh), what, err);
}

static int s_describe(struct dld_ora_cursor *c, const char *table_sql, struct dld_error *err)
{
    struct dld_ora_source *src = c->src;
    const struct dld_ora_oci *oci = &src->oci;
    struct dld_ora_stmt d;
    int rc = dld_ora_sql_describe(table_sql, &d, err);
    if (rc != DLD_OK)
        return rc;
    void *stmt = NULL;
    rc = dld_ora_check(src, oci->StmtPrepare2(src->svc, &stmt, src->errh, d.sql, (uint32_t)strlen(d.sql), NULL, 0,
                                              DLD_OCI_NTV_SYNTAX, DLD_OCI_DEFAULT),
                       "preparing the describe statement", err);
    if (rc == DLD_OK)
        rc = dld_ora_check(src,
                           DLD_ORA_CALL(src, oci->StmtExecute(src->svc, stmt, src->errh, 0, 0, NULL, NULL,
                                                              DLD_OCI_DESCRIBE_ONLY)),
                           "describing the table", err);
    uint32_t n = 0;
    if (rc == DLD_OK)
        rc = dld_ora_check(src, oci->AttrGet(stmt, DLD_OCI_HTYPE_STMT, &n, NULL, DLD_OCI_ATTR_PARAM_COUNT, src->errh),
                           "counting the table's columns", err);
    if (rc == DLD_OK && n == 0)
        rc = dld_error_set(err, DLD_ERR_NOT_FOUND, "%s has no columns", table_sql);
    if (rc == DLD_OK) {
        c->cols = calloc(n, sizeof(*c->cols));
        if (c->cols == NULL)
            rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        else
            c->ncols = n;
    }
    for (uint32_t i = 0; rc == DLD_OK && i < n; i++) {
        struct s_col *col = &c->cols[i];
        void *param = NULL;
        char *name = NULL;
        uint32_t name_len = 0;
        uint8_t nullok = 1;
        rc = dld_ora_check(src, oci->ParamGet(stmt, DLD_OCI_HTYPE_STMT, src->errh, &param, i + 1),
                           "reading a column description", err);
        if (rc == DLD_OK)
            rc = dld_ora_check(src, oci->AttrGet(param, DLD_OCI_DTYPE_PARAM, &name, &name_len, DLD_OCI_ATTR_NAME,
                                                 src->errh),
                               "reading a column name", err);
        if (rc == DLD_OK)
            rc = s_attr(src, param, &col->d.dtype, DLD_OCI_ATTR_DATA_TYPE, "reading a column type", err);
        if (rc == DLD_OK)
            rc = s_attr(src, param, &col->d.precision, DLD_OCI_ATTR_PRECISION, "reading a precision", err);
        if (rc == DLD_OK)
            rc = s_attr(src, param, &col->d.scale, DLD_OCI_ATTR_SCALE, "reading a scale", err);
        if (rc == DLD_OK)
            rc = s_attr(src, param, &col->d.size, DLD_OCI_ATTR_DATA_SIZE, "reading a column size", err);
        if (rc == DLD_OK)
            rc = s_attr(src, param, &nullok, DLD_OCI_ATTR_IS_NULL, "reading nullability", err);
        if (rc == DLD_OK && (col->d.dtype == DLD_SQLT_CHR || col->d.dtype == DLD_SQLT_AFC ||
                             col->d.dtype == DLD_SQLT_CLOB)) {
            rc = s_attr(src, param, &col->d.csform, DLD_OCI_ATTR_CHARSET_FORM, "reading a charset form", err);
            if (rc == DLD_OK && col->d.dtype != DLD_SQLT_CLOB)
                rc = s_attr(src, param, &col->d.char_size, DLD_OCI_ATTR_CHAR_SIZE, "reading a column length", err);
        }
        if (param != NULL)
            oci->DescriptorFree(param, DLD_OCI_DTYPE_PARAM);
        if (rc != DLD_OK)
            break;
        if (name_len >= sizeof(col->name))
            name_len = sizeof(col->name) - 1;
        memcpy(col->name, name, name_len);
        col->name[name_len] = '\0';
        col->nullable = nullok != 0;
        /* names come back exactly as stored: quote them verbatim */
        rc = dld_ora_ident_quote("column", col->name, false, col->quoted, sizeof(col->quoted), err);
        if (rc == DLD_OK) {
            rc = dld_ora_type_map(&col->d, src->o.number_scale, src->o.tz_offset_columns, &col->m, err);
            if (rc != DLD_OK)
                dld_error_prefix(err, "column %s of %s", col->quoted, table_sql);
        }
    }
    if (stmt != NULL)
        oci->StmtRelease(stmt, src->errh, NULL, 0, DLD_OCI_DEFAULT);
    if (rc != DLD_OK && rc != DLD_ERR_UNSUPPORTED)
        dld_error_prefix(err, "%s", d.sql);
    dld_ora_stmt_clean_up(&d);
    return rc;
}

/* ---- buffers ---------------------------------------------------------------------- */

static int s_plan_buffers(struct dld_ora_cursor *c, uint32_t batch_rows, struct dld_error *err)
{
    struct dld_ora_source *src = c->src;
    size_t row_bytes = 0;
    for (size_t i = 0; i < c->ncols; i++)
        row_bytes += c->cols[i].m.width + sizeof(int16_t) + sizeof(uint32_t) + sizeof(uint16_t);
    uint64_t want = src->o.fetch_rows > 0 ? (uint64_t)src->o.fetch_rows : (batch_rows ? batch_rows : 10000);
    uint64_t fit = (uint64_t)src->o.fetch_memory / (row_bytes ? row_bytes : 1);
    if (fit < 1)
        fit = 1;
    c->rows = (uint32_t)(want < fit ? want : fit);
    if (c->rows > 1000000)
        c->rows = 1000000;
    if (c->rows < want)
        dld_log(src->host, DLD_LOG_DEBUG, DLD_ORA_PLUGIN,
                "%u rows per fetch (rows of %zu bytes in fetch_memory_mb=%lld)", c->rows, row_bytes,
                (long long)(src->o.fetch_memory >> 20));
    for (size_t i = 0; i < c->ncols; i++) {
        struct s_col *col = &c->cols[i];
        col->buf = calloc(c->rows, col->m.width);
        col->ind = calloc(c->rows, sizeof(*col->ind));
        col->rlen = calloc(c->rows, sizeof(*col->rlen));
        col->rcode = calloc(c->rows, sizeof(*col->rcode));
        if (col->buf == NULL || col->ind == NULL || col->rlen == NULL || col->rcode == NULL)
            return dld_error_set(err, DLD_ERR_FATAL, "out of memory for %u rows of %zu bytes", c->rows, row_bytes);
        if (col->m.dtype_desc != 0) {
            col->desc = calloc(c->rows, sizeof(void *));
            if (col->desc == NULL)
                return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
            for (uint32_t r = 0; r < c->rows; r++)
                if (src->oci.DescriptorAlloc(src->env, &col->desc[r], col->m.dtype_desc, 0, NULL) != DLD_OCI_SUCCESS)
                    return dld_error_set(err, DLD_ERR_FATAL, "cannot allocate OCI descriptors for column %s",
                                         col->quoted);
        }
    }
    return DLD_OK;
}

static int s_builder(struct dld_ora_cursor *c, struct dld_error *err)
{
    size_t n = 0;
    for (size_t i = 0; i < c->ncols; i++)
        n += c->cols[i].m.tz_companion ? 2 : 1;
    struct dld_column_spec *specs = calloc(n, sizeof(*specs));
    char (*tznames)[160] = calloc(c->ncols, sizeof(*tznames));
    if (specs == NULL || tznames == NULL) {
        free(specs);
        free(tznames);
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < c->ncols; i++) {
        struct s_col *col = &c->cols[i];
        col->out = k;
        specs[k++] = (struct dld_column_spec){.name = col->name, .type = col->m.type, .precision = col->m.precision,
                                              .scale = col->m.scale, .unit = col->m.unit, .tz = col->m.tz,
                                              .nullable = col->nullable};
        if (col->m.tz_companion) {
            snprintf(tznames[i], sizeof(tznames[i]), "%s_TZ_OFFSET", col->name);
            col->tzout = k;
            specs[k++] = (struct dld_column_spec){.name = tznames[i], .type = DLD_T_INT32, .nullable = col->nullable};
        }
    }
    c->builder = dld_batch_builder_new(specs, n);
    free(specs);
    free(tznames);
    if (c->builder == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "cannot create the batch builder (out of memory or bad column type)");
    return DLD_OK;
}

/* ---- begin ----------------------------------------------------------------------- */

static int s_prepare_extract(struct dld_ora_cursor *c, struct dld_error *err)
{
    struct dld_ora_source *src = c->src;
    const struct dld_ora_oci *oci = &src->oci;
    const char *sql = c->extract.sql;
    int rc = dld_ora_check(src, oci->StmtPrepare2(src->svc, &c->stmt, src->errh, sql, (uint32_t)strlen(sql), NULL, 0,
                                                  DLD_OCI_NTV_SYNTAX, DLD_OCI_DEFAULT),
                           "preparing the extract statement", err);
    for (int i = 0; rc == DLD_OK && i < c->extract.nbinds; i++) {
        void *bind = NULL;
        rc = dld_ora_check(src, oci->BindByPos2(c->stmt, &bind, src->errh, (uint32_t)(i + 1), c->extract.binds[i],
                                                (int64_t)strlen(c->extract.binds[i]), DLD_SQLT_CHR, NULL, NULL, NULL,
                                                0, NULL, DLD_OCI_DEFAULT),
                           "binding a window bound", err);
    }
    for (size_t i = 0; rc == DLD_OK && i < c->ncols; i++) {
        struct s_col *col = &c->cols[i];
        void *def = NULL;
        void *valuep = col->desc ? (void *)col->desc : (void *)col->buf;
        rc = dld_ora_check(src, oci->DefineByPos2(c->stmt, &def, src->errh, (uint32_t)(i + 1), valuep,
                                                  (int64_t)col->m.width, col->m.dty, col->ind,
                                                  col->desc ? NULL : col->rlen, col->desc ? NULL : col->rcode,
                                                  DLD_OCI_DEFAULT),
                           "defining a column", err);
        if (rc != DLD_OK)
            dld_error_prefix(err, "column %s", col->quoted);
    }
    uint32_t prefetch = c->rows;
    if (rc == DLD_OK)
        rc = dld_ora_check(src, oci->AttrSet(c->stmt, DLD_OCI_HTYPE_STMT, &prefetch, 0, DLD_OCI_ATTR_PREFETCH_ROWS,
                                             src->errh),
                           "setting prefetch rows", err);
    return rc;
}

static char *s_host_listing(const struct dld_host *host, const struct dld_ora_stmt *hm,
                            const struct dld_ora_stmt *ex)
{
    char *a = hm && hm->sql ? dld_ora_stmt_listing(hm) : NULL;
    char *b = ex && ex->sql ? dld_ora_stmt_listing(ex) : NULL;
    char *out = dld_host_sprintf(host, "%s%s%s%s%s", a ? "high mark: " : "", a ? a : "", a && b ? "\n" : "",
                                 b ? "extract: " : "", b ? b : (a ? "" : "(none)"));
    free(a);
    free(b);
    return out;
}

/* Whether the table's ORA_ROWSCN is per row (created with ROWDEPENDENCIES)
 * or per block, for the load's mark. A lookup that fails (no privilege on
 * the dictionary view, a stand-in that does not know it) is logged and
 * taken as per block: the mark then says more rows may come again, never
 * fewer. */
static const char *s_rowscn_granularity(struct dld_ora_source *src, const char *schema_q, const char *table_q)
{
    static const char *const per_row = "per row (ROWDEPENDENCIES)";
    static const char *const per_block = "per block (NOROWDEPENDENCIES): unchanged rows sharing a block with a "
                                         "changed one come again";
    char owner[272] = "", table[272] = "", got[32] = "";
    /* the quoted names without their quotes: what the dictionary stores */
    if (*schema_q)
        snprintf(owner, sizeof(owner), "%.*s", (int)strlen(schema_q) - 2, schema_q + 1);
    snprintf(table, sizeof(table), "%.*s", (int)strlen(table_q) - 2, table_q + 1);
    struct dld_ora_stmt st;
    struct dld_error e;
    dld_error_init(&e);
    bool is_null = true;
    int rc = dld_ora_sql_dependencies(owner, table, &st, &e);
    if (rc == DLD_OK)
        rc = dld_ora_exec(src, &st, got, sizeof(got), &is_null, &e);
    dld_ora_stmt_clean_up(&st);
    if (rc != DLD_OK || is_null) {
        dld_log(src->host, DLD_LOG_WARN, DLD_ORA_PLUGIN,
                "%s: cannot tell whether the table has ROWDEPENDENCIES (%s); taking ORA_ROWSCN as per block", table_q,
                rc != DLD_OK ? e.message : "not in ALL_TABLES");
        return per_block;
    }
    return !strcmp(got, "ENABLED") ? per_row : per_block;
}

/* The plan of a commit-order window: the SCN, the statement, the guarantee. */
static char *s_commit_listing(const struct dld_host *host, const char *scn, const char *low,
                              const struct dld_ora_stmt *ex, const char *granularity)
{
    char *b = ex && ex->sql ? dld_ora_stmt_listing(ex) : NULL;
    char since[96] = "every row";
    if (low)
        snprintf(since, sizeof(since), "every row changed by a transaction committed above SCN %s", low);
    char *out = dld_host_sprintf(
        host,
        "horizon: SELECT TO_CHAR(CURRENT_SCN) FROM V$DATABASE = %s, read before SET TRANSACTION READ ONLY\n"
        "extract: %s\n"
        "-- guarantee: commit order, at least once: %s is read (ORA_ROWSCN is never below the commit SCN); "
        "ORA_ROWSCN %s; a row committed between the SCN read and the transaction's start, or whose ORA_ROWSCN "
        "reads above its commit SCN, comes again in the next window; deletes are not captured\n"
        "-- cost: a scan of the whole table per window (ORA_ROWSCN cannot be indexed)",
        scn, b ? b : "(nothing: no transaction committed since the watermark)", since, granularity);
    free(b);
    return out;
}

int dld_ora_extract_begin(struct dld_ora_source *src, const struct dld_extract_request *req,
                          struct dld_extract_info *info, struct dld_ora_cursor **out, struct dld_error *err)
{
    const struct dld_table *t = req->table;
    char schema_q[272] = "", table_q[272], filter_q[272], table_sql[560];
    int rc;
    *out = NULL;
    if (t == NULL || t->source_table == NULL)
        return dld_error_set(err, DLD_ERR_CONFIG, "the controller item names no sourceTable");
    bool fold = src->o.fold_identifiers;
    if (t->source_schema != NULL && *t->source_schema) {
        rc = dld_ora_ident_quote("sourceSchema", t->source_schema, fold, schema_q, sizeof(schema_q), err);
        if (rc != DLD_OK)
            return rc;
    }
    rc = dld_ora_ident_quote("sourceTable", t->source_table, fold, table_q, sizeof(table_q), err);
    if (rc != DLD_OK)
        return rc;
    snprintf(table_sql, sizeof(table_sql), "%s%s%s", schema_q, *schema_q ? "." : "", table_q);
    bool has_filter = t->filter_column != NULL && *t->filter_column;
    if (has_filter) {
        rc = dld_ora_ident_quote("filtercolumn", t->filter_column, fold, filter_q, sizeof(filter_q), err);
        if (rc != DLD_OK)
            return rc;
    }
    bool commit = t->filter_operator != NULL && !strcmp(t->filter_operator, "commit");
    if (commit && has_filter)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: filteroperator commit takes no filtercolumn", table_sql);
    if (commit && req->mode != DLD_MODE_DELTA)
        return dld_error_set(err, DLD_ERR_UNSUPPORTED,
                             "%s: filteroperator commit loads delta windows only (a backfill needs a filter column; "
                             "`deltaload reset --to SCN` reloads from an SCN)",
                             table_sql);
    if (req->mode != DLD_MODE_FULL && !has_filter && !commit)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: a delta or backfill load needs a filtercolumn", table_sql);

    rc = dld_ora_connect(src, err);
    if (rc != DLD_OK)
        return rc;
    struct dld_ora_cursor *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    c->src = src;
    struct dld_ora_stmt scn_stmt = {0}, hm = {0};
    char scn[64] = "", high[200] = "", low[200] = "", v1[200] = "", v2[200] = "";
    bool is_null = false;

    /* 1. the consistent point, before anything is read. Commit order: the
     * SCN first, then the read-only transaction, whatever `consistency`
     * says (ORA_ROWSCN is not supported in AS OF queries) */
    if (commit) {
        scn_stmt.sql = "SELECT TO_CHAR(CURRENT_SCN) FROM V$DATABASE";
        rc = dld_ora_exec(src, &scn_stmt, scn, sizeof(scn), &is_null, err);
        if (rc == DLD_OK && (is_null || !*scn))
            rc = dld_error_set(err, DLD_ERR_FATAL, "V$DATABASE returned no CURRENT_SCN");
        else if (rc == DLD_ERR_NOT_FOUND || rc == DLD_ERR_AUTH)
            dld_error_prefix(err, "filteroperator commit reads the current SCN: it needs SELECT on V_$DATABASE "
                                  "(GRANT SELECT ON V_$DATABASE TO <user>)");
        if (rc == DLD_OK) {
            struct dld_ora_stmt ro = {.sql = "SET TRANSACTION READ ONLY"};
            rc = dld_ora_exec(src, &ro, NULL, 0, NULL, err);
            c->read_only_txn = rc == DLD_OK;
        }
    } else if (src->o.consistency == DLD_ORA_READ_ONLY) {
        struct dld_ora_stmt ro = {.sql = "SET TRANSACTION READ ONLY"};
        rc = dld_ora_exec(src, &ro, NULL, 0, NULL, err);
        c->read_only_txn = rc == DLD_OK;
    } else {
        scn_stmt.sql = "SELECT TO_CHAR(CURRENT_SCN) FROM V$DATABASE";
        rc = dld_ora_exec(src, &scn_stmt, scn, sizeof(scn), &is_null, err);
        if (rc == DLD_OK && (is_null || !*scn))
            rc = dld_error_set(err, DLD_ERR_FATAL, "V$DATABASE returned no CURRENT_SCN");
        else if (rc == DLD_ERR_NOT_FOUND || rc == DLD_ERR_AUTH)
            dld_error_prefix(err, "reading the current SCN needs SELECT on V_$DATABASE (GRANT SELECT ON "
                                  "V_$DATABASE TO <user>) and flashback queries need FLASHBACK on the table; "
                                  "or set consistency=read_only");
    }
    /* 2. what the table looks like */
    if (rc == DLD_OK)
        rc = s_describe(c, table_sql, err);
    struct s_col *fcol = NULL;
    if (rc == DLD_OK && has_filter) {
        for (size_t i = 0; i < c->ncols && fcol == NULL; i++)
            if (strcmp(c->cols[i].quoted, filter_q) == 0)
                fcol = &c->cols[i];
        if (fcol == NULL)
            rc = dld_error_set(err, DLD_ERR_CONFIG, "filtercolumn %s (looked up as %s) is not a column of %s",
                               t->filter_column, filter_q, table_sql);
        else if (fcol->m.wm_kind == 0)
            rc = dld_error_set(err, DLD_ERR_UNSUPPORTED,
                               "filtercolumn %s is a %s column; a filter column must be a NUMBER, DATE, TIMESTAMP "
                               "or character column",
                               filter_q, fcol->m.oracle_name);
    }
    int kind = fcol ? fcol->m.wm_kind : 0;
    struct dld_ora_query_spec q = {.table_sql = table_sql, .filter_sql = has_filter ? filter_q : NULL,
                                   .kind = kind, .mode = req->mode, .scn = *scn && !commit ? scn : NULL,
                                   .lag_seconds = t->lag_seconds, .commit = commit};
    const char *granularity = NULL;
    /* 3. the window's bounds, normalized for their binds */
    if (rc == DLD_OK && commit) {
        rc = dld_ora_commit_window(req->low, scn, req->high, high, sizeof(high), &c->empty, err);
        q.low = req->low;
        q.low_inclusive = req->low_inclusive != 0;
        if (rc == DLD_OK)
            granularity = s_rowscn_granularity(src, schema_q, table_q);
    } else if (rc == DLD_OK && req->mode == DLD_MODE_FULL && has_filter && t->filter_operator != NULL) {
        q.op = t->filter_operator;
        if (t->start_value != NULL)
            rc = dld_ora_wm_normalize(kind, "startvalue", t->start_value, v1, sizeof(v1), err);
        if (rc == DLD_OK && t->end_value != NULL)
            rc = dld_ora_wm_normalize(kind, "endvalue", t->end_value, v2, sizeof(v2), err);
        q.v1 = t->start_value ? v1 : NULL;
        q.v2 = t->end_value ? v2 : NULL;
    } else if (rc == DLD_OK && req->mode != DLD_MODE_FULL) {
        if (req->low != NULL) {
            rc = dld_ora_wm_normalize(kind, "low watermark", req->low, low, sizeof(low), err);
            q.low = low;
            q.low_inclusive = req->low_inclusive != 0;
        }
        if (rc == DLD_OK && t->filter_operator && !strcmp(t->filter_operator, "between") && t->end_value) {
            rc = dld_ora_wm_normalize(kind, "endvalue", t->end_value, v2, sizeof(v2), err);
            q.op = "between";
            q.v2 = v2;
        }
        if (rc == DLD_OK && req->high != NULL) {
            rc = dld_ora_wm_normalize(kind, "high watermark", req->high, high, sizeof(high), err);
            q.high = high;
        } else if (rc == DLD_OK) {
            /* 4. the high mark, read at the same consistent point */
            rc = dld_ora_sql_high_mark(&q, &hm, err);
            char got[200] = "";
            if (rc == DLD_OK)
                rc = dld_ora_exec(src, &hm, got, sizeof(got), &is_null, err);
            if (rc == DLD_OK && is_null)
                c->empty = true; /* nothing above the watermark */
            else if (rc == DLD_OK) {
                rc = dld_ora_wm_normalize(kind, "captured high mark", got, high, sizeof(high), err);
                q.high = high;
            }
        }
    }
    /* 5. the extract statement, prepared with its binds; executed by the first next */
    struct dld_ora_buf list;
    dld_ora_buf_init(&list);
    for (size_t i = 0; rc == DLD_OK && i < c->ncols; i++) {
        if (i)
            dld_ora_buf_add(&list, ", ");
        dld_ora_sql_select_item(&list, c->cols[i].quoted, c->cols[i].m.select_as);
    }
    char *select_list = rc == DLD_OK ? dld_ora_buf_take(&list) : NULL;
    dld_ora_buf_clean_up(&list);
    if (rc == DLD_OK && select_list == NULL)
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    q.select_list = select_list;
    if (rc == DLD_OK && (!c->empty || req->mode == DLD_MODE_FULL))
        rc = dld_ora_sql_extract(&q, &c->extract, err);
    free(select_list);
    if (rc == DLD_OK && !c->empty)
        rc = s_plan_buffers(c, req->batch_rows, err);
    if (rc == DLD_OK && !c->empty)
        rc = s_builder(c, err);
    if (rc == DLD_OK && !c->empty)
        rc = s_prepare_extract(c, err);
    if (rc == DLD_OK && commit) {
        info->high = c->empty ? NULL : dld_host_strdup(src->host, high);
        info->query = s_commit_listing(src->host, scn, req->low, c->extract.sql ? &c->extract : NULL, granularity);
        /* the mark a reader (or an upsert) goes by: rows may come again */
        info->snapshot = dld_host_sprintf(src->host,
                                          "SCN %s read before a read-only transaction; ORA_ROWSCN %s: at least once",
                                          scn, granularity);
        if (info->query == NULL || info->snapshot == NULL || (info->high == NULL && !c->empty))
            rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    } else if (rc == DLD_OK) {
        info->high = req->mode == DLD_MODE_FULL || c->empty ? NULL : dld_host_strdup(src->host, high);
        info->query = s_host_listing(src->host, hm.sql ? &hm : NULL, c->extract.sql ? &c->extract : NULL);
        info->snapshot = *scn ? dld_host_sprintf(src->host, "SCN %s", scn)
                                   : dld_host_strdup(src->host, "read-only transaction");
        if (info->query == NULL || info->snapshot == NULL || (info->high == NULL && !c->empty &&
                                                              req->mode != DLD_MODE_FULL))
            rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    dld_ora_stmt_clean_up(&hm);
    /* the columns, if the host asks (1.2; source_oracle.c passes its pointer
     * in info->schema); an empty window has no builder: the host then goes
     * by the first batch */
    if (rc == DLD_OK && c->builder)
        rc = dld_extract_info_schema(info, c->builder, err);
    if (rc != DLD_OK) {
        dld_error_prefix(err, "%s", table_sql);
        dld_ora_extract_end(c);
        return rc;
    }
    *out = c;
    return DLD_OK;
}

/* ---- fetch ----------------------------------------------------------------------- */

static int s_lob(struct dld_ora_cursor *c, struct s_col *col, uint32_t r, struct dld_error *err)
{
    struct dld_ora_source *src = c->src;
    const struct dld_ora_oci *oci = &src->oci;
    bool clob = col->m.fetch == DLD_ORA_F_CLOB;
    size_t len = 0;
    uint8_t piece = DLD_OCI_FIRST_PIECE;
    const size_t chunk = 1u << 16;
    for (;;) {
        if (c->lob_cap < len + chunk) {
            size_t cap = c->lob_cap ? c->lob_cap * 2 : chunk * 2;
            while (cap < len + chunk)
                cap *= 2;
            uint8_t *p = realloc(c->lob_buf, cap);
            if (p == NULL)
                return dld_error_set(err, DLD_ERR_FATAL, "out of memory reading %s", col->quoted);
            c->lob_buf = p;
            c->lob_cap = cap;
        }
        /* amounts 0: read to the end, piece by piece (polling mode) */
        uint64_t bytes = 0, chars = 0;
        int st = DLD_ORA_CALL(src, oci->LobRead2(src->svc, src->errh, col->desc[r], &bytes, clob ? &chars : NULL, 1,
                                                 c->lob_buf + len, chunk, piece, NULL, NULL,
                                                 clob ? DLD_OCI_AL32UTF8 : 0,
                                                 clob ? col->d.csform : DLD_SQLCS_IMPLICIT));
        if (st != DLD_OCI_SUCCESS && st != DLD_OCI_NEED_DATA) {
            int rc = dld_ora_check(src, st, "reading a LOB", err);
            dld_error_prefix(err, "column %s", col->quoted);
            return rc;
        }
        len += bytes;
        if ((int64_t)len > c->src->o.lob_max_bytes) {
            /* the polling read is left unfinished: drop the connection after this load */
            src->broken = true;
            return dld_error_set(err, DLD_ERR_UNSUPPORTED,
                                 "column %s: a %s value is larger than lob_max_bytes=%lld; raise the option to "
                                 "load it",
                                 col->quoted, col->m.oracle_name, (long long)c->src->o.lob_max_bytes);
        }
        if (st == DLD_OCI_SUCCESS)
            break;
        piece = DLD_OCI_NEXT_PIECE;
    }
    if (dld_batch_append_bytes(c->builder, col->out, c->lob_buf, len) != DLD_OK)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    return DLD_OK;
}

static int s_timestamp(struct dld_ora_cursor *c, struct s_col *col, uint32_t r, struct dld_error *err)
{
    struct dld_ora_source *src = c->src;
    const struct dld_ora_oci *oci = &src->oci;
    int16_t y = 0;
    uint8_t mo = 0, d = 0, h = 0, mi = 0, s = 0;
    uint32_t ns = 0;
    int8_t tzh = 0, tzm = 0;
    int rc = dld_ora_check(src, oci->DateTimeGetDate(src->sess, src->errh, col->desc[r], &y, &mo, &d),
                           "reading a timestamp's date", err);
    if (rc == DLD_OK)
        rc = dld_ora_check(src, oci->DateTimeGetTime(src->sess, src->errh, col->desc[r], &h, &mi, &s, &ns),
                           "reading a timestamp's time", err);
    if (rc == DLD_OK && col->m.zoned)
        rc = dld_ora_check(src, oci->DateTimeGetTimeZoneOffset(src->sess, src->errh, col->desc[r], &tzh, &tzm),
                           "reading a time zone offset", err);
    if (rc != DLD_OK)
        return rc;
    /* OCI counts years as Oracle does (1 BC = -1); the conversion wants
     * astronomical years (1 BC = 0). The offset's minutes carry its sign. */
    struct dld_ora_datetime dt = {.year = y < 0 ? y + 1 : y, .month = mo, .day = d, .hour = h, .minute = mi,
                                  .second = s, .nanos = ns, .tz_minutes = tzh * 60 + tzm};
    int64_t v;
    rc = dld_ora_datetime_to_unit(&dt, col->m.unit, &v);
    if (rc != DLD_OK)
        return dld_error_set(err, rc, "column %s: %04d-%02u-%02u %02u:%02u:%02u.%09u %+03d:%02d %s", col->quoted, y,
                             mo, d, h, mi, s, ns, tzh, abs(tzm),
                             rc == DLD_ERR_UNSUPPORTED ? "is outside what nanoseconds since 1970 can hold"
                                                       : "is not a valid timestamp");
    if (dld_batch_append_int(c->builder, col->out, v) != DLD_OK ||
        (col->m.tz_companion && dld_batch_append_int(c->builder, col->tzout, dt.tz_minutes) != DLD_OK))
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    return DLD_OK;
}

static int s_value(struct dld_ora_cursor *c, struct s_col *col, uint32_t r, struct dld_error *err)
{
    const uint8_t *p = col->buf + (size_t)r * col->m.width;
    int rc = DLD_OK;
    if (col->ind[r] == DLD_OCI_IND_NULL) {
        rc = dld_batch_append_null(c->builder, col->out);
        if (rc == DLD_OK && col->m.tz_companion)
            rc = dld_batch_append_null(c->builder, col->tzout);
        return rc == DLD_OK ? DLD_OK : dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    if (!col->desc && col->rcode[r] != 0)
        return dld_error_set(err, DLD_ERR_FATAL, "column %s: ORA-%05u while fetching (value truncated?)", col->quoted,
                             col->rcode[r]);
    switch (col->m.fetch) {
    case DLD_ORA_F_INT64:
    case DLD_ORA_F_DECIMAL: {
        __int128 v;
        int32_t prec = col->m.fetch == DLD_ORA_F_INT64 ? 18 : col->m.precision;
        int32_t scale = col->m.fetch == DLD_ORA_F_INT64 ? 0 : col->m.scale;
        /* VARNUM: byte 0 is the length of what follows */
        rc = p[0] >= 1 && p[0] <= 21 ? dld_ora_number_decode(p + 1, p[0], prec, scale, &v) : DLD_ERR_FATAL;
        if (rc != DLD_OK) {
            char text[64] = "?";
            dld_ora_number_to_text(p + 1, p[0], text, sizeof(text));
            return dld_error_set(err, rc == DLD_ERR_UNSUPPORTED ? DLD_ERR_UNSUPPORTED : DLD_ERR_FATAL,
                                 "column %s: %s does not fit %s(%d,%d) without rounding%s", col->quoted, text,
                                 col->m.fetch == DLD_ORA_F_INT64 ? "int64 from NUMBER" : "decimal", prec, scale,
                                 col->d.scale == -127 ? " (raise number_scale for NUMBER columns without a scale)"
                                                      : "");
        }
        rc = col->m.fetch == DLD_ORA_F_INT64 ? dld_batch_append_int(c->builder, col->out, (int64_t)v)
                                             : dld_batch_append_decimal(c->builder, col->out, v);
        break;
    }
    case DLD_ORA_F_FLOAT: {
        float f;
        memcpy(&f, p, sizeof(f));
        rc = dld_batch_append_double(c->builder, col->out, f);
        break;
    }
    case DLD_ORA_F_DOUBLE: {
        double d;
        memcpy(&d, p, sizeof(d));
        rc = dld_batch_append_double(c->builder, col->out, d);
        break;
    }
    case DLD_ORA_F_TEXT:
    case DLD_ORA_F_RAW:
        rc = dld_batch_append_bytes(c->builder, col->out, p, col->rlen[r]);
        break;
    case DLD_ORA_F_DATE: {
        int64_t secs;
        if (dld_ora_date_decode(p, &secs) != DLD_OK)
            return dld_error_set(err, DLD_ERR_FATAL, "column %s: malformed DATE bytes %u,%u,%u,%u,%u,%u,%u",
                                 col->quoted, p[0], p[1], p[2], p[3], p[4], p[5], p[6]);
        rc = dld_batch_append_int(c->builder, col->out, secs);
        break;
    }
    case DLD_ORA_F_TIMESTAMP:
        return s_timestamp(c, col, r, err);
    case DLD_ORA_F_CLOB:
    case DLD_ORA_F_BLOB:
        return s_lob(c, col, r, err);
    default:
        return dld_error_set(err, DLD_ERR_FATAL, "column %s: no fetch strategy", col->quoted);
    }
    return rc == DLD_OK ? DLD_OK : dld_error_set(err, DLD_ERR_FATAL, "out of memory");
}

int dld_ora_extract_next(struct dld_ora_cursor *c, struct ArrowSchema *schema, struct ArrowArray *batch,
                         struct dld_error *err)
{
    struct dld_ora_source *src = c->src;
    const struct dld_ora_oci *oci = &src->oci;
    if (c->empty || c->done)
        return DLD_DONE;
    if (src->host->cancelled != NULL && src->host->cancelled())
        return dld_error_set(err, DLD_ERR_RETRY, "cancelled by the host");
    int rc;
    if (!c->executed) {
        rc = dld_ora_check(src,
                           DLD_ORA_CALL(src, oci->StmtExecute(src->svc, c->stmt, src->errh, 0, 0, NULL, NULL,
                                                              DLD_OCI_DEFAULT)),
                           "running the extract statement", err);
        if (rc != DLD_OK)
            return rc;
        c->executed = true;
    }
    int st = DLD_ORA_CALL(src, oci->StmtFetch2(c->stmt, src->errh, c->rows, DLD_OCI_FETCH_NEXT, 0, DLD_OCI_DEFAULT));
    if (st != DLD_OCI_NO_DATA) {
        rc = dld_ora_check(src, st, "fetching rows", err);
        if (rc != DLD_OK)
            return rc;
    }
    uint32_t got = 0;
    rc = dld_ora_check(src, oci->AttrGet(c->stmt, DLD_OCI_HTYPE_STMT, &got, NULL, DLD_OCI_ATTR_ROWS_FETCHED, src->errh),
                       "counting fetched rows", err);
    if (rc != DLD_OK)
        return rc;
    if (st == DLD_OCI_NO_DATA || got < c->rows)
        c->done = true;
    if (got == 0)
        return DLD_DONE;
    for (uint32_t r = 0; r < got; r++) {
        for (size_t i = 0; i < c->ncols; i++) {
            rc = s_value(c, &c->cols[i], r, err);
            if (rc != DLD_OK)
                return rc;
        }
        if (dld_batch_end_row(c->builder) != DLD_OK)
            return dld_error_set(err, DLD_ERR_FATAL, "a row was left incomplete");
    }
    if (dld_batch_finish(c->builder, schema, batch) != DLD_OK)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory finishing a batch");
    return DLD_OK;
}

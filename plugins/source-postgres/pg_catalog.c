/*
 * The table's columns from the catalog, so the Arrow schema is known before
 * any row arrives (even for an empty window) and the filter column's type
 * is the one PostgreSQL will compare with.
 *
 * Names from the controller item are looked up as bound parameters, never
 * spliced: an item whose table name is an SQL injection attempt simply names
 * no table. An exact match wins; otherwise a single case-insensitive match
 * is accepted, because items written for Oracle usually spell names in
 * upper case while PostgreSQL folds unquoted names to lower case.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pg_internal.h"

static const char *const s_rel_sql =
    "SELECT c.oid::text, n.nspname, c.relname, (c.relname = $2 AND n.nspname = $1) AS exact, c.relkind"
    " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p') AND lower(c.relname) = lower($2)"
    " AND CASE WHEN $1 = '' THEN pg_catalog.pg_table_is_visible(c.oid) ELSE lower(n.nspname) = lower($1) END"
    " ORDER BY 4 DESC";

static const char *const s_cols_sql =
    "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,"
    " b.oid, CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END, b.typtype, b.typcategory,"
    " CASE WHEN a.attidentity <> '' THEN 'identity' ELSE pg_catalog.pg_get_expr(d.adbin, d.adrelid) END"
    " FROM pg_catalog.pg_attribute a"
    " JOIN pg_catalog.pg_type t ON t.oid = a.atttypid"
    " LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
    " JOIN pg_catalog.pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END"
    " WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";

uint32_t dld_pg_fill_kind(const char *expr)
{
    if (expr == NULL)
        return DLD_PG_FILL_OTHER;
    if (!strcmp(expr, "identity") || strstr(expr, "nextval("))
        return DLD_PG_FILL_SEQUENCE;
    /* how pg_get_expr prints the clock functions and SQL-standard keywords */
    static const char *const clocks[] = {"now()", "clock_timestamp()", "statement_timestamp()",
                                         "transaction_timestamp()", "timeofday()", "CURRENT_TIMESTAMP",
                                         "LOCALTIMESTAMP", "CURRENT_DATE", "CURRENT_TIME", "LOCALTIME"};
    for (size_t i = 0; i < sizeof clocks / sizeof clocks[0]; i++)
        if (strstr(expr, clocks[i]))
            return DLD_PG_FILL_CLOCK;
    return DLD_PG_FILL_OTHER;
}

void dld_pg_table_clean_up(struct dld_pg_table *t)
{
    for (size_t i = 0; i < t->ncols; i++) {
        free(t->cols[i].name);
        free(t->cols[i].type_name);
        free(t->cols[i].fill_expr);
    }
    free(t->cols);
    free(t->qualified);
    free(t->commit_where);
    memset(t, 0, sizeof *t);
    t->filter_index = -1;
}

static int s_find_relation(struct dld_pg_instance *pg, const struct dld_table *t, char *oid, size_t oidcap,
                           struct dld_pg_table *out, struct dld_error *err)
{
    const char *schema = t->source_schema ? t->source_schema : "";
    const char *params[] = {schema, t->source_table};
    PGresult *res = dld_pg_query(pg, s_rel_sql, 2, params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        int rc = dld_pg_error(err, pg->conn, res, "looking up the table");
        PQclear(res);
        return rc;
    }
    int n = PQntuples(res);
    bool exact = n > 0 && PQgetvalue(res, 0, 3)[0] == 't';
    if (n == 0 || (!exact && n > 1)) {
        PQclear(res);
        return dld_error_set(err, n ? DLD_ERR_CONFIG : DLD_ERR_NOT_FOUND,
                             "postgres: table %s: %s%s%s %s (or no privilege to see it)", t->target_table_name,
                             *schema ? schema : "", *schema ? "." : "", t->source_table,
                             n ? "matches several tables that differ only in case" : "not found");
    }
    snprintf(oid, oidcap, "%s", PQgetvalue(res, 0, 0));
    out->relkind = PQgetvalue(res, 0, 4)[0];
    char *ns = PQescapeIdentifier(pg->conn, PQgetvalue(res, 0, 1), strlen(PQgetvalue(res, 0, 1)));
    char *rel = PQescapeIdentifier(pg->conn, PQgetvalue(res, 0, 2), strlen(PQgetvalue(res, 0, 2)));
    PQclear(res);
    if (!ns || !rel) {
        PQfreemem(ns);
        PQfreemem(rel);
        return dld_pg_error(err, pg->conn, NULL, "quoting the table name");
    }
    size_t len = strlen(ns) + strlen(rel) + 2;
    char *q = malloc(len);
    if (q)
        snprintf(q, len, "%s.%s", ns, rel);
    PQfreemem(ns);
    PQfreemem(rel);
    if (!q)
        return dld_error_set(err, DLD_ERR_FATAL, "postgres: out of memory");
    out->qualified = q;
    return DLD_OK;
}

static int s_find_filter(const struct dld_table *t, struct dld_pg_table *out, struct dld_error *err)
{
    out->filter_index = -1;
    if (!t->filter_column || !*t->filter_column)
        return DLD_OK;
    int folded = -1, nfolded = 0;
    for (size_t i = 0; i < out->ncols; i++) {
        if (!strcmp(out->cols[i].name, t->filter_column)) {
            out->filter_index = (int)i;
            return DLD_OK;
        }
        if (!strcasecmp(out->cols[i].name, t->filter_column)) {
            folded = (int)i;
            nfolded++;
        }
    }
    if (nfolded == 1) {
        out->filter_index = folded;
        return DLD_OK;
    }
    return dld_error_set(err, DLD_ERR_CONFIG, "postgres: table %s: filtercolumn %s %s in %s", t->target_table_name,
                         t->filter_column, nfolded ? "matches several columns that differ only in case" : "not found",
                         out->qualified);
}

int dld_pg_table_describe(struct dld_pg_instance *pg, const struct dld_table *t, struct dld_pg_table *out,
                          struct dld_error *err)
{
    memset(out, 0, sizeof *out);
    out->filter_index = -1;
    int rc;
    if (t->source_schema && *t->source_schema && (rc = dld_ident_check("sourceSchema", t->source_schema, err)))
        return rc;
    if (!t->source_table || !*t->source_table)
        return dld_error_set(err, DLD_ERR_CONFIG, "postgres: table %s: sourceTable is empty", t->target_table_name);
    if ((rc = dld_ident_check("sourceTable", t->source_table, err)))
        return rc;
    if (t->filter_column && *t->filter_column && (rc = dld_ident_check("filtercolumn", t->filter_column, err)))
        return rc;

    char oid[32];
    if ((rc = s_find_relation(pg, t, oid, sizeof oid, out, err)))
        goto fail;
    const char *params[] = {oid};
    PGresult *res = dld_pg_query(pg, s_cols_sql, 1, params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = dld_pg_error(err, pg->conn, res, "reading the table's columns");
        PQclear(res);
        goto fail;
    }
    int n = PQntuples(res);
    if (n == 0) {
        PQclear(res);
        rc = dld_error_set(err, DLD_ERR_CONFIG, "postgres: table %s: %s has no columns", t->target_table_name,
                           out->qualified);
        goto fail;
    }
    out->cols = calloc((size_t)n, sizeof *out->cols);
    if (!out->cols) {
        PQclear(res);
        rc = dld_error_set(err, DLD_ERR_FATAL, "postgres: out of memory");
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        struct dld_pg_column *c = &out->cols[i];
        out->ncols++;
        c->name = strdup(PQgetvalue(res, i, 0));
        c->type_name = strdup(PQgetvalue(res, i, 1));
        if (!c->name || !c->type_name) {
            PQclear(res);
            rc = dld_error_set(err, DLD_ERR_FATAL, "postgres: out of memory");
            goto fail;
        }
        c->not_null = PQgetvalue(res, i, 2)[0] == 't';
        if (!PQgetisnull(res, i, 7)) {
            c->fill_expr = strdup(PQgetvalue(res, i, 7));
            c->fill = dld_pg_fill_kind(c->fill_expr);
        }
        c->type_oid = (uint32_t)strtoul(PQgetvalue(res, i, 3), NULL, 10);
        c->typmod = (int32_t)strtol(PQgetvalue(res, i, 4), NULL, 10);
        char typtype = PQgetvalue(res, i, 5)[0];
        char typcategory = PQgetvalue(res, i, 6)[0];
        /* a domain over a domain still has typtype 'd' here: read as text */
        bool known = typtype != 'd' && dld_pg_map_type(&pg->settings, c, typtype, typcategory);
        if (typtype == 'd')
            dld_pg_map_type(&pg->settings, c, typtype, 0);
        if (!known)
            dld_log(pg->host, DLD_LOG_WARN, DLD_PG_NAME,
                    "table %s: column %s has type %s, which has no Arrow mapping; it is read as text",
                    t->target_table_name, c->name, c->type_name);
        else if (c->kind == DLD_PG_TEXT && c->select == DLD_PG_SEL_TEXT && c->type_oid == 1700 && c->typmod >= 4)
            dld_log(pg->host, DLD_LOG_WARN, DLD_PG_NAME,
                    "table %s: column %s is %s, wider than a 38-digit decimal; it is read as exact decimal text",
                    t->target_table_name, c->name, c->type_name);
    }
    PQclear(res);
    if ((rc = s_find_filter(t, out, err)))
        goto fail;
    return DLD_OK;
fail:
    dld_pg_table_clean_up(out);
    return rc;
}

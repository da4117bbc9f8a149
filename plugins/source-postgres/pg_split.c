/*
 * Splitting a big window over several connections (option `parallel`).
 *
 * The window's connection exports its snapshot (pg_export_snapshot) and
 * every extra connection imports it (SET TRANSACTION SNAPSHOT), so all of
 * them see exactly the rows the window's own transaction sees; each COPYs
 * the window's query ANDed with one range of the table's heap blocks:
 *
 *   ctid < '(b1,0)'   ctid >= '(b1,0)' AND ctid < '(b2,0)'   ...   ctid >= '(bn-1,0)'
 *
 * Why blocks and not ranges of the filter column or key: a block range is
 * disjoint and complete by construction (every row version has exactly one
 * ctid), whatever the column's type, NULLs, duplicates or skew, and needs
 * no quantiles (a scan of its own); PostgreSQL 14 reads it with a TID Range
 * Scan, each connection touching only its own blocks. The block count is
 * read now (pg_relation_size is not transactional), but the last range is
 * open-ended, so blocks added since hold nothing missed (and no row of this
 * snapshot can be in them anyway); a count that is too small only makes the
 * last range bigger.
 *
 * A window is split only when worth it: parallel > 1, a plain table or a
 * materialized view (a view or foreign table has no ctid, a partitioned
 * table's ctid is per partition), PostgreSQL 14 or later (before that a
 * ctid range is a filter over a full scan per connection), not a
 * commit-order window (already a scan of the whole table filtered on
 * xmin; kept on one connection), and the planner's estimate of the
 * window's rows (EXPLAIN) at least split_min_rows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_internal.h"

void dld_pg_split_free(char **conds, size_t n)
{
    for (size_t i = 0; conds && i < n; i++)
        free(conds[i]);
    free(conds);
}

/* The planner's estimate of the window's rows: "rows=N" on EXPLAIN's first line. */
static int s_estimate(struct dld_pg_instance *pg, const struct dld_pg_table *pt, const struct dld_extract_request *req,
                      const char *high, int64_t *rows, struct dld_error *err)
{
    struct dld_pg_buf sql = {0};
    dld_pg_buf_appendf(&sql, "EXPLAIN SELECT 1 FROM %s", pt->qualified);
    int rc = dld_pg_where(&sql, pg->conn, pt, req, high, err);
    if (!rc && sql.oom)
        rc = dld_error_set(err, DLD_ERR_FATAL, "postgres: out of memory");
    if (rc) {
        dld_pg_buf_clean_up(&sql);
        return rc;
    }
    PGresult *res = dld_pg_query(pg, sql.data, 0, NULL);
    dld_pg_buf_clean_up(&sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1) {
        rc = dld_pg_error(err, pg->conn, res, "estimating the window's rows");
        PQclear(res);
        return rc;
    }
    const char *p = strstr(PQgetvalue(res, 0, 0), " rows=");
    *rows = p ? strtoll(p + 6, NULL, 10) : 0;
    PQclear(res);
    return DLD_OK;
}

static int s_blocks(struct dld_pg_instance *pg, const struct dld_pg_table *pt, int64_t *blocks, struct dld_error *err)
{
    const char *params[] = {pt->qualified};
    PGresult *res = dld_pg_query(pg,
                                 "SELECT pg_catalog.pg_relation_size($1::regclass)"
                                 " / pg_catalog.current_setting('block_size')::bigint",
                                 1, params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        int rc = dld_pg_error(err, pg->conn, res, "reading the table's size");
        PQclear(res);
        return rc;
    }
    *blocks = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return DLD_OK;
}

int dld_pg_split_plan(struct dld_pg_instance *pg, const struct dld_pg_table *pt, const struct dld_extract_request *req,
                      const char *high, char ***conds, size_t *n, struct dld_pg_buf *note, struct dld_error *err)
{
    *conds = NULL;
    *n = 1;
    int want = pg->settings.parallel;
    if (want <= 1)
        return DLD_OK;
    const char *why = NULL;
    if (pt->commit_where)
        why = "a commit-order window";
    else if (pt->relkind != 'r' && pt->relkind != 'm')
        why = pt->relkind == 'v' ? "a view" : pt->relkind == 'p' ? "a partitioned table" : "not a plain table";
    else if (PQserverVersion(pg->conn) < 140000)
        why = "the server is older than PostgreSQL 14 (no TID range scan)";
    if (why) {
        dld_pg_buf_appendf(note, "\n-- one connection (parallel %d): %s", want, why);
        return DLD_OK;
    }
    int64_t rows = 0, blocks = 0;
    int rc = s_estimate(pg, pt, req, high, &rows, err);
    if (!rc && rows >= pg->settings.split_min_rows)
        rc = s_blocks(pg, pt, &blocks, err);
    if (rc)
        return rc;
    if (rows < pg->settings.split_min_rows) {
        dld_pg_buf_appendf(note, "\n-- one connection (parallel %d): estimated %lld rows < split_min_rows %lld", want,
                           (long long)rows, (long long)pg->settings.split_min_rows);
        return DLD_OK;
    }
    if (blocks < 2) {
        dld_pg_buf_appendf(note, "\n-- one connection (parallel %d): %lld heap block(s)", want, (long long)blocks);
        return DLD_OK;
    }
    size_t parts = (size_t)(blocks < want ? blocks : want);
    char **list = calloc(parts, sizeof *list);
    if (!list)
        return dld_error_set(err, DLD_ERR_FATAL, "postgres: out of memory");
    dld_pg_buf_appendf(note,
                       "\n-- split: %zu connections sharing this snapshot (pg_export_snapshot), estimated %lld rows >= "
                       "split_min_rows %lld, %lld heap blocks:",
                       parts, (long long)rows, (long long)pg->settings.split_min_rows, (long long)blocks);
    for (size_t i = 0; i < parts; i++) {
        /* blocks * i / parts: equal shares, the first range from block 0 */
        long long lo = (long long)(blocks * (int64_t)i / (int64_t)parts);
        long long hi = (long long)(blocks * (int64_t)(i + 1) / (int64_t)parts);
        char buf[96];
        if (i == 0)
            snprintf(buf, sizeof buf, "ctid < '(%lld,0)'", hi);
        else if (i + 1 == parts)
            snprintf(buf, sizeof buf, "ctid >= '(%lld,0)'", lo);
        else
            snprintf(buf, sizeof buf, "ctid >= '(%lld,0)' AND ctid < '(%lld,0)'", lo, hi);
        list[i] = strdup(buf);
        if (!list[i]) {
            dld_pg_split_free(list, parts);
            return dld_error_set(err, DLD_ERR_FATAL, "postgres: out of memory");
        }
        dld_pg_buf_appendf(note, "%s %s", i ? " |" : "", buf);
    }
    *conds = list;
    *n = parts;
    return DLD_OK;
}

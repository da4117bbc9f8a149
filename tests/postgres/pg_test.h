/* source-postgres suite: shared helpers. The plugin is dlopen'ed from
 * $DLD_PLUGIN_DIR and driven through its vtable against the throwaway
 * cluster started by tests/servers/pg.sh (directory in $DLD_PG_DIR). */
#ifndef DLD_PG_TEST_H
#define DLD_PG_TEST_H

#include <check.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include <deltaload/deltaload.h>

#include "test_host.h"

/* A result as text cells: NULL pointer = SQL NULL. */
struct pgt_rows {
    size_t nrows, ncols;
    char **cells;   /* nrows * ncols */
    char **names;   /* ncols */
    char **formats; /* Arrow formats (extraction) or NULL (queries) */
    int batches;    /* batches returned, empty ones included */
};

extern const struct dld_source_vtable *pgt_vt;

/* The host the plugin gets: the test host, with log lines also kept. */
const struct dld_host *pgt_host(void);
/* true if a logged line contains needle; pgt_log_clear forgets them */
bool pgt_logged(const char *needle);
void pgt_log_clear(void);

/* Admin connection over the cluster's socket (trust). */
PGconn *pgt_admin(void);
void pgt_exec(PGconn *c, const char *sql);
/* rows of a query as text, sorted by the first column when sort is true */
void pgt_query(PGconn *c, const char *sql, struct pgt_rows *out, bool sort);
char *pgt_value(PGconn *c, const char *sql); /* first cell, malloc'ed, NULL for SQL NULL */

/* Plugin instance with the cluster's conninfo + password; extra options
 * appended (NULL-terminated pairs, may be NULL). */
void *pgt_open(const char *const *extra);
int pgt_open_rc(const char *const *extra, struct dld_error *err);

/* A controller item with the fields tests vary. */
struct dld_table pgt_table(const char *schema, const char *table, const char *filter);
struct dld_extract_request pgt_req(const struct dld_table *t, uint32_t mode, const char *low, int inclusive,
                                   const char *high);

/* Runs extract_begin..DONE..extract_end; rows rendered as canonical text
 * (see pgt_render) and sorted by the first column. info strings are kept
 * in info (free with pgt_info_free). Returns the first failing code. */
int pgt_extract(void *inst, const struct dld_extract_request *req, struct dld_extract_info *info,
                struct pgt_rows *out, struct dld_error *err);
void pgt_info_free(struct dld_extract_info *info);
void pgt_rows_free(struct pgt_rows *r);
const char *pgt_cell(const struct pgt_rows *r, size_t row, size_t col);
int pgt_col(const struct pgt_rows *r, const char *name);
/* ck_assert that both have the same rows, cell by cell (names not compared) */
void pgt_assert_same(const struct pgt_rows *got, const struct pgt_rows *want, const char *what);

struct dld_error pgt_err(void);

Suite *pgt_suite_types(void);
Suite *pgt_suite_window(void);
Suite *pgt_suite_conn(void);
Suite *pgt_suite_commit(void);
Suite *pgt_suite_split(void);

#endif

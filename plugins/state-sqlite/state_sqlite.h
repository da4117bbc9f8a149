/* Internal to the state-sqlite plugin: the instance and the SQLite helpers
 * shared by its files. Not part of the SDK. */
#ifndef DLD_STATE_SQLITE_H
#define DLD_STATE_SQLITE_H

#include <sqlite3.h>

#include <deltaload/abi.h>
#include <deltaload/state.h>

#define DLD_STATE_SQLITE_NAME "state-sqlite"

/* One open database; used by one thread at a time (no DLD_CAP_THREAD_SAFE). */
struct dld_state_sqlite {
    const struct dld_host *host;
    sqlite3 *db;
};

/* Fills err from the connection's last error (or rc when there is no
 * connection) and returns the dld code: SQLITE_BUSY/LOCKED (the busy timeout
 * ran out) become DLD_ERR_RETRY, everything else DLD_ERR_FATAL. Call it
 * before anything else touches the connection, or the message is lost. */
int dld_state_sqlite_fail(struct dld_state_sqlite *s, int rc, const char *what, struct dld_error *err);
/* "SQLITE_BUSY" for a result code (primary part), for upstream_code */
const char *dld_state_sqlite_code_name(int rc);

/* Opens (creating if missing) and brings the schema up to date. */
int dld_state_sqlite_db_open(struct dld_state_sqlite *s, const char *path, int64_t busy_timeout_ms,
                             struct dld_error *err);

int dld_state_sqlite_prepare(struct dld_state_sqlite *s, const char *sql, sqlite3_stmt **st, struct dld_error *err);
/* binds a string or, for NULL, an SQL NULL (always SQLITE_TRANSIENT) */
void dld_state_sqlite_bind_text(sqlite3_stmt *st, int idx, const char *v);
/* Steps a statement that returns no rows (or whose rows are ignored), then
 * finalizes it. */
int dld_state_sqlite_run(struct dld_state_sqlite *s, sqlite3_stmt *st, const char *what, struct dld_error *err);

/* Write transactions take the write lock up front (BEGIN IMMEDIATE), so two
 * processes never both read then both try to write (which SQLite can only
 * resolve by failing one with SQLITE_BUSY, bypassing the busy timeout). */
int dld_state_sqlite_begin(struct dld_state_sqlite *s, struct dld_error *err);
int dld_state_sqlite_commit(struct dld_state_sqlite *s, struct dld_error *err);
/* no-op outside a transaction; keeps err as it is */
void dld_state_sqlite_rollback(struct dld_state_sqlite *s);

/* Inside a transaction: DLD_OK when `token` is the table's current,
 * unexpired lease; DLD_ERR_CONFLICT (saying why) otherwise. */
int dld_state_sqlite_check_token(struct dld_state_sqlite *s, const char *table, int64_t token,
                                 struct dld_error *err);
/* "2026-11-24T17:30:00.123Z" */
void dld_state_sqlite_format_ms(int64_t ms, char *buf, size_t cap);

/* state_runs.c */
int dld_state_sqlite_run_record(void *inst, const struct dld_run *run, int64_t token, struct dld_error *err);
int dld_state_sqlite_run_last(void *inst, const char *table, struct dld_run *out, struct dld_error *err);
int dld_state_sqlite_run_commit(void *inst, const struct dld_run *run, int32_t advance, int64_t token,
                                struct dld_error *err);
int dld_state_sqlite_runs_unfinished(void *inst, const char *table, int (*each)(void *ctx, const struct dld_run *run),
                                     void *ctx, struct dld_error *err);
int dld_state_sqlite_runs_history(void *inst, const char *table, int32_t limit,
                                  int (*each)(void *ctx, const struct dld_run *run), void *ctx, struct dld_error *err);
int dld_state_sqlite_history(void *inst, const char *table, int32_t limit, char **runs_json,
                             struct dld_error *err);

#endif

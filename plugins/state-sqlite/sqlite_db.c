/* SQLite plumbing for the state store: opening and schema, transactions,
 * the fencing check and the mapping of SQLite errors to dld codes. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <deltaload/sdk.h>

#include "state_sqlite.h"

/* Bumped when the tables change; a file written by a newer plugin is
 * refused rather than misread. */
#define SCHEMA_VERSION 1
#define S_XSTR(x) #x
#define S_STR(x) S_XSTR(x)

static const char s_schema[] =
    "CREATE TABLE IF NOT EXISTS items("
    "  name TEXT PRIMARY KEY NOT NULL,"
    "  item_json TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS leases("
    "  table_name TEXT PRIMARY KEY NOT NULL,"
    "  owner TEXT NOT NULL,"
    "  token INTEGER NOT NULL,"
    "  expires_ms INTEGER NOT NULL);"
    /* survives release so a token is never handed out twice (fencing) */
    "CREATE TABLE IF NOT EXISTS lease_tokens("
    "  table_name TEXT PRIMARY KEY NOT NULL,"
    "  last_token INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS watermarks("
    "  table_name TEXT PRIMARY KEY NOT NULL,"
    "  value TEXT,"
    "  load_id INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS runs("
    "  table_name TEXT NOT NULL,"
    "  load_id INTEGER NOT NULL,"
    "  mode INTEGER NOT NULL,"
    "  status INTEGER NOT NULL,"
    "  low TEXT,"
    "  low_inclusive INTEGER NOT NULL DEFAULT 0,"
    "  high TEXT,"
    "  rows INTEGER NOT NULL DEFAULT 0,"
    "  bytes INTEGER NOT NULL DEFAULT 0,"
    "  files INTEGER NOT NULL DEFAULT 0,"
    "  started_ms INTEGER NOT NULL DEFAULT 0,"
    "  ended_ms INTEGER NOT NULL DEFAULT 0,"
    "  error TEXT,"
    "  owner TEXT,"
    "  info_json TEXT,"
    "  PRIMARY KEY(table_name, load_id));"
    "CREATE INDEX IF NOT EXISTS runs_by_start ON runs(started_ms DESC, load_id DESC);";

const char *dld_state_sqlite_code_name(int rc)
{
    static const char *const names[] = {
        "SQLITE_OK",        "SQLITE_ERROR",    "SQLITE_INTERNAL", "SQLITE_PERM",     "SQLITE_ABORT",
        "SQLITE_BUSY",      "SQLITE_LOCKED",   "SQLITE_NOMEM",    "SQLITE_READONLY", "SQLITE_INTERRUPT",
        "SQLITE_IOERR",     "SQLITE_CORRUPT",  "SQLITE_NOTFOUND", "SQLITE_FULL",     "SQLITE_CANTOPEN",
        "SQLITE_PROTOCOL",  "SQLITE_EMPTY",    "SQLITE_SCHEMA",   "SQLITE_TOOBIG",   "SQLITE_CONSTRAINT",
        "SQLITE_MISMATCH",  "SQLITE_MISUSE",   "SQLITE_NOLFS",    "SQLITE_AUTH",     "SQLITE_FORMAT",
        "SQLITE_RANGE",     "SQLITE_NOTADB",   "SQLITE_NOTICE",   "SQLITE_WARNING",
    };
    int primary = rc & 0xff;
    if (primary >= 0 && (size_t)primary < sizeof(names) / sizeof(names[0]))
        return names[primary];
    if (primary == SQLITE_ROW)
        return "SQLITE_ROW";
    if (primary == SQLITE_DONE)
        return "SQLITE_DONE";
    return "SQLITE_UNKNOWN";
}

int dld_state_sqlite_fail(struct dld_state_sqlite *s, int rc, const char *what, struct dld_error *err)
{
    int primary = rc & 0xff;
    int code = (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) ? DLD_ERR_RETRY : DLD_ERR_FATAL;
    const char *msg = (s != NULL && s->db != NULL) ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    if (code == DLD_ERR_RETRY)
        dld_error_set(err, code, "%s: %s: %s (another process held the database past the busy timeout)",
                      DLD_STATE_SQLITE_NAME, what, msg);
    else
        dld_error_set(err, code, "%s: %s: %s", DLD_STATE_SQLITE_NAME, what, msg);
    dld_error_upstream(err, 0, dld_state_sqlite_code_name(rc), NULL);
    return code;
}

int dld_state_sqlite_prepare(struct dld_state_sqlite *s, const char *sql, sqlite3_stmt **st, struct dld_error *err)
{
    int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
    if (rc != SQLITE_OK) {
        *st = NULL;
        return dld_state_sqlite_fail(s, rc, "preparing a statement", err);
    }
    return DLD_OK;
}

void dld_state_sqlite_bind_text(sqlite3_stmt *st, int idx, const char *v)
{
    if (v == NULL)
        sqlite3_bind_null(st, idx);
    else
        sqlite3_bind_text(st, idx, v, -1, SQLITE_TRANSIENT);
}

int dld_state_sqlite_run(struct dld_state_sqlite *s, sqlite3_stmt *st, const char *what, struct dld_error *err)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    }
    int ret = DLD_OK;
    if (rc != SQLITE_DONE)
        ret = dld_state_sqlite_fail(s, rc, what, err);
    sqlite3_finalize(st);
    return ret;
}

static int s_exec(struct dld_state_sqlite *s, const char *sql, const char *what, struct dld_error *err)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return dld_state_sqlite_fail(s, rc, what, err);
    return DLD_OK;
}

int dld_state_sqlite_begin(struct dld_state_sqlite *s, struct dld_error *err)
{
    return s_exec(s, "BEGIN IMMEDIATE", "starting a write transaction", err);
}

int dld_state_sqlite_commit(struct dld_state_sqlite *s, struct dld_error *err)
{
    int ret = s_exec(s, "COMMIT", "committing", err);
    if (ret != DLD_OK)
        dld_state_sqlite_rollback(s);
    return ret;
}

void dld_state_sqlite_rollback(struct dld_state_sqlite *s)
{
    if (s->db != NULL && !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

void dld_state_sqlite_format_ms(int64_t ms, char *buf, size_t cap)
{
    time_t secs = (time_t)(ms / 1000);
    int frac = (int)(ms % 1000);
    if (frac < 0) {
        frac += 1000;
        secs -= 1;
    }
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL) {
        snprintf(buf, cap, "%" PRId64 " ms", ms);
        return;
    }
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

int dld_state_sqlite_check_token(struct dld_state_sqlite *s, const char *table, int64_t token,
                                 struct dld_error *err)
{
    sqlite3_stmt *st;
    int ret = dld_state_sqlite_prepare(s, "SELECT owner, token, expires_ms FROM leases WHERE table_name = ?1", &st, err);
    if (ret != DLD_OK)
        return ret;
    dld_state_sqlite_bind_text(st, 1, table);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_finalize(st);
        return dld_error_set(err, DLD_ERR_CONFLICT,
                             "%s: table '%s' has no lease: token %" PRId64 " was released or never acquired",
                             DLD_STATE_SQLITE_NAME, table, token);
    }
    if (rc != SQLITE_ROW) {
        ret = dld_state_sqlite_fail(s, rc, "reading the lease", err);
        sqlite3_finalize(st);
        return ret;
    }
    const char *owner = (const char *)sqlite3_column_text(st, 0);
    int64_t current = sqlite3_column_int64(st, 1);
    int64_t expires = sqlite3_column_int64(st, 2);
    char when[48];
    dld_state_sqlite_format_ms(expires, when, sizeof(when));
    if (current != token)
        ret = dld_error_set(err, DLD_ERR_CONFLICT,
                            "%s: lease of table '%s' was taken over: token %" PRId64 " is stale, '%s' holds token %" PRId64,
                            DLD_STATE_SQLITE_NAME, table, token, owner ? owner : "", current);
    else if (expires < s->host->now_ms())
        ret = dld_error_set(err, DLD_ERR_CONFLICT, "%s: lease of table '%s' (token %" PRId64 ") expired at %s",
                            DLD_STATE_SQLITE_NAME, table, token, when);
    sqlite3_finalize(st);
    return ret;
}

static int s_schema_version(struct dld_state_sqlite *s, int *version, struct dld_error *err)
{
    sqlite3_stmt *st;
    int ret = dld_state_sqlite_prepare(s, "PRAGMA user_version", &st, err);
    if (ret != DLD_OK)
        return ret;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *version = sqlite3_column_int(st, 0);
    else
        ret = dld_state_sqlite_fail(s, rc, "reading the schema version", err);
    sqlite3_finalize(st);
    return ret;
}

static int s_journal_wal(struct dld_state_sqlite *s, const char *path, struct dld_error *err)
{
    sqlite3_stmt *st;
    int ret = dld_state_sqlite_prepare(s, "PRAGMA journal_mode=WAL", &st, err);
    if (ret != DLD_OK)
        return ret;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        ret = dld_state_sqlite_fail(s, rc, "switching to WAL mode", err);
    } else {
        const char *mode = (const char *)sqlite3_column_text(st, 0);
        /* Some file systems cannot do WAL; the rollback journal is still
         * correct (only slower for concurrent readers), so say so and go on. */
        if (mode == NULL || strcmp(mode, "wal") != 0)
            dld_log(s->host, DLD_LOG_WARN, DLD_STATE_SQLITE_NAME, "%s: journal mode is '%s', not WAL", path,
                    mode ? mode : "?");
    }
    sqlite3_finalize(st);
    return ret;
}

int dld_state_sqlite_db_open(struct dld_state_sqlite *s, const char *path, int64_t busy_timeout_ms,
                             struct dld_error *err)
{
    int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        int ret = dld_state_sqlite_fail(s, rc, "opening the database", err);
        dld_error_prefix(err, "%s", path);
        sqlite3_close_v2(s->db); /* a handle is returned even on failure */
        s->db = NULL;
        return ret;
    }
    sqlite3_extended_result_codes(s->db, 1);
    if (busy_timeout_ms > INT32_MAX)
        busy_timeout_ms = INT32_MAX;
    sqlite3_busy_timeout(s->db, (int)busy_timeout_ms);

    /* an in-memory store (plan on an absent file) has no journal to switch */
    int ret = strcmp(path, ":memory:") == 0 ? DLD_OK : s_journal_wal(s, path, err);
    /* FULL: a commit that returned is on disk, so a committed watermark
     * survives a power cut (NORMAL would only keep the file consistent). */
    if (ret == DLD_OK)
        ret = s_exec(s, "PRAGMA synchronous=FULL", "setting synchronous", err);
    /* Read first: an up-to-date file needs no write lock, so opening does
     * not wait behind another process's write. */
    int version = 0;
    if (ret == DLD_OK)
        ret = s_schema_version(s, &version, err);
    if (ret == DLD_OK && version < SCHEMA_VERSION) {
        ret = dld_state_sqlite_begin(s, err);
        /* again under the lock: another process may have just created it */
        if (ret == DLD_OK)
            ret = s_schema_version(s, &version, err);
        if (ret == DLD_OK && version < SCHEMA_VERSION) {
            ret = s_exec(s, s_schema, "creating the tables", err);
            if (ret == DLD_OK)
                ret = s_exec(s, "PRAGMA user_version=" S_STR(SCHEMA_VERSION), "setting the schema version", err);
        }
        if (ret == DLD_OK)
            ret = dld_state_sqlite_commit(s, err);
    }
    if (ret == DLD_OK && version > SCHEMA_VERSION)
        ret = dld_error_set(err, DLD_ERR_CONFIG,
                            "%s: schema version %d was written by a newer deltaload (this one knows %d)",
                            DLD_STATE_SQLITE_NAME, version, SCHEMA_VERSION);
    if (ret != DLD_OK) {
        dld_state_sqlite_rollback(s);
        dld_error_prefix(err, "%s", path);
        sqlite3_close_v2(s->db);
        s->db = NULL;
    }
    return ret;
}

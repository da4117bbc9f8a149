/* state-sqlite: the embedded default state store. Controller items, leases,
 * watermarks and run history in one SQLite file that several deltaload
 * processes on one machine may share: WAL mode, a busy timeout, and every
 * write in its own BEGIN IMMEDIATE transaction. Not for several machines
 * (SQLite over a network file system is not safe), hence no
 * DLD_CAP_SHARED_STATE. This file: descriptor, open/close, items, leases,
 * watermarks; runs and history are in state_runs.c. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <deltaload/sdk.h>

#include "state_sqlite.h"

static int s_open(const struct dld_host *host, const char *const *options, void **inst, struct dld_error *err)
{
    *inst = NULL;
    if (!dld_host_usable(host))
        return dld_error_set(err, DLD_ERR_FATAL, "%s: the host function table is incomplete", DLD_STATE_SQLITE_NAME);
    const char *path = dld_opt_get(options, "path");
    if (path == NULL || path[0] == '\0')
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: option 'path' (the database file) is required",
                             DLD_STATE_SQLITE_NAME);
    int64_t busy = dld_opt_int(options, "busy_timeout_ms", 10000);
    if (busy < 0)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: option 'busy_timeout_ms' must be >= 0, not %" PRId64,
                             DLD_STATE_SQLITE_NAME, busy);
    struct dld_state_sqlite *s = host->alloc(sizeof(*s));
    if (s == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "%s: out of memory", DLD_STATE_SQLITE_NAME);
    memset(s, 0, sizeof(*s));
    s->host = host;
    /* read_only (what `plan` sets): an absent file is not created; the
     * store reads as empty from an in-memory database that vanishes on close */
    if (dld_opt_bool(options, "read_only", false) && access(path, F_OK) != 0 && errno == ENOENT) {
        dld_log(host, DLD_LOG_INFO, DLD_STATE_SQLITE_NAME,
                "%s does not exist yet: reading an empty store (read_only: nothing is created)", path);
        path = ":memory:";
    }
    int ret = dld_state_sqlite_db_open(s, path, busy, err);
    if (ret != DLD_OK) {
        host->free(s);
        return ret;
    }
    *inst = s;
    return DLD_OK;
}

static void s_close(void *inst)
{
    struct dld_state_sqlite *s = inst;
    if (s == NULL)
        return;
    sqlite3_close_v2(s->db);
    s->host->free(s);
}

/* ---- controller items ------------------------------------------------------ */

static int s_item_put(void *inst, const char *name, const char *item_json, struct dld_error *err)
{
    struct dld_state_sqlite *s = inst;
    if (name == NULL || name[0] == '\0' || item_json == NULL)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: item_put needs a name and the item's JSON",
                             DLD_STATE_SQLITE_NAME);
    /* Kept verbatim (attribute order, unicode escapes, the `ouputs3Prefix`
     * typo) but only once it is known to be a JSON object, so item_list can
     * join the stored texts into an array without re-encoding them. */
    cJSON *parsed = cJSON_Parse(item_json);
    int is_object = cJSON_IsObject(parsed);
    cJSON_Delete(parsed);
    if (!is_object)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: item '%s' is not a JSON object", DLD_STATE_SQLITE_NAME, name);

    sqlite3_stmt *st;
    int ret = dld_state_sqlite_prepare(s,
                                       "INSERT INTO items(name, item_json) VALUES(?1, ?2) "
                                       "ON CONFLICT(name) DO UPDATE SET item_json = excluded.item_json",
                                       &st, err);
    if (ret != DLD_OK)
        return ret;
    dld_state_sqlite_bind_text(st, 1, name);
    dld_state_sqlite_bind_text(st, 2, item_json);
    /* a single statement is its own (autocommit) transaction */
    return dld_state_sqlite_run(s, st, "writing an item", err);
}

static int s_item_get(void *inst, const char *name, char **item_json, struct dld_error *err)
{
    struct dld_state_sqlite *s = inst;
    *item_json = NULL;
    sqlite3_stmt *st;
    int ret = dld_state_sqlite_prepare(s, "SELECT item_json FROM items WHERE name = ?1", &st, err);
    if (ret != DLD_OK)
        return ret;
    dld_state_sqlite_bind_text(st, 1, name);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *item_json = dld_host_strdup(s->host, (const char *)sqlite3_column_text(st, 0));
        if (*item_json == NULL)
            ret = dld_error_set(err, DLD_ERR_FATAL, "%s: out of memory", DLD_STATE_SQLITE_NAME);
    } else if (rc == SQLITE_DONE) {
        ret = dld_error_set(err, DLD_ERR_NOT_FOUND, "%s: no item named '%s'", DLD_STATE_SQLITE_NAME, name);
    } else {
        ret = dld_state_sqlite_fail(s, rc, "reading an item", err);
    }
    sqlite3_finalize(st);
    return ret;
}

/* Appends to a host-allocated growing string. */
struct s_buf {
    const struct dld_host *host;
    char *data;
    size_t len, cap;
};

static int s_buf_add(struct s_buf *b, const char *text, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = b->host->realloc(b->data, cap);
        if (p == NULL)
            return -1;
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, text, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

static int s_item_list(void *inst, char **items_json, struct dld_error *err)
{
    struct dld_state_sqlite *s = inst;
    *items_json = NULL;
    sqlite3_stmt *st;
    int ret = dld_state_sqlite_prepare(s, "SELECT item_json FROM items ORDER BY name", &st, err);
    if (ret != DLD_OK)
        return ret;
    struct s_buf b = {.host = s->host};
    int rc = SQLITE_DONE, n = 0, oom = s_buf_add(&b, "[", 1);
    while (!oom && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(st, 0);
        int len = sqlite3_column_bytes(st, 0);
        if (n++ > 0)
            oom = s_buf_add(&b, ",", 1);
        if (!oom)
            oom = s_buf_add(&b, text ? text : "null", text ? (size_t)len : 4);
    }
    if (oom)
        ret = dld_error_set(err, DLD_ERR_FATAL, "%s: out of memory", DLD_STATE_SQLITE_NAME);
    else if (rc != SQLITE_DONE)
        ret = dld_state_sqlite_fail(s, rc, "listing items", err);
    else if (s_buf_add(&b, "]", 1))
        ret = dld_error_set(err, DLD_ERR_FATAL, "%s: out of memory", DLD_STATE_SQLITE_NAME);
    sqlite3_finalize(st);
    if (ret != DLD_OK) {
        s->host->free(b.data);
        return ret;
    }
    *items_json = b.data;
    return DLD_OK;
}

static int s_item_delete(void *inst, const char *name, struct dld_error *err)
{
    struct dld_state_sqlite *s = inst;
    sqlite3_stmt *st;
    int ret = dld_state_sqlite_prepare(s, "DELETE FROM items WHERE name = ?1", &st, err);
    if (ret != DLD_OK)
        return ret;
    dld_state_sqlite_bind_text(st, 1, name);
    ret = dld_state_sqlite_run(s, st, "deleting an item", err);
    if (ret == DLD_OK && sqlite3_changes(s->db) == 0)
        ret = dld_error_set(err, DLD_ERR_NOT_FOUND, "%s: no item named '%s'", DLD_STATE_SQLITE_NAME, name);
    return ret;
}

/* ---- leases --------------------------------------------------------------------- */

/* Inside the transaction: CONFLICT if someone else holds an unexpired lease. */
static int s_lease_free_for(struct dld_state_sqlite *s, const char *table, const char *owner, int64_t now,
                            struct dld_error *err)
{
    sqlite3_stmt *st;
    int ret = dld_state_sqlite_prepare(s, "SELECT owner, token, expires_ms FROM leases WHERE table_name = ?1", &st, err);
    if (ret != DLD_OK)
        return ret;
    dld_state_sqlite_bind_text(st, 1, table);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *holder = (const char *)sqlite3_column_text(st, 0);
        int64_t token = sqlite3_column_int64(st, 1);
        int64_t expires = sqlite3_column_int64(st, 2);
        char when[48];
        dld_state_sqlite_format_ms(expires, when, sizeof(when));
        if (holder == NULL)
            holder = "";
        /* An unexpired lease is refused to everyone, its own owner
         * included: an owner never retakes a lease it does not remember
         * holding (it would run beside the load that holds it). */
        if (expires >= now)
            ret = dld_error_set(err, DLD_ERR_CONFLICT,
                                "%s: table '%s' is leased by '%s'%s until %s (in %" PRId64 " ms)",
                                DLD_STATE_SQLITE_NAME, table, holder, strcmp(holder, owner) ? "" : " (this process)",
                                when, expires - now);
        else if (strcmp(holder, owner) != 0)
            dld_log(s->host, DLD_LOG_INFO, DLD_STATE_SQLITE_NAME,
                    "taking over table '%s': the lease of '%s' (token %" PRId64 ") expired at %s", table, holder,
                    token, when);
    } else if (rc != SQLITE_DONE) {
        ret = dld_state_sqlite_fail(s, rc, "reading the lease", err);
    }
    sqlite3_finalize(st);
    return ret;
}

static int s_next_token(struct dld_state_sqlite *s, const char *table, int64_t *token, struct dld_error *err)
{
    sqlite3_stmt *st;
    int ret = dld_state_sqlite_prepare(s,
                                       "INSERT INTO lease_tokens(table_name, last_token) VALUES(?1, 1) "
                                       "ON CONFLICT(table_name) DO UPDATE SET last_token = last_token + 1 "
                                       "RETURNING last_token",
                                       &st, err);
    if (ret != DLD_OK)
        return ret;
    dld_state_sqlite_bind_text(st, 1, table);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *token = sqlite3_column_int64(st, 0);
    else
        ret = dld_state_sqlite_fail(s, rc, "taking a lease token", err);
    sqlite3_finalize(st);
    return ret;
}

static int s_lease_acquire(void *inst, const char *table, const char *owner, int64_t ttl_ms, int64_t *token,
                           struct dld_error *err)
{
    struct dld_state_sqlite *s = inst;
    *token = 0;
    if (table == NULL || owner == NULL || ttl_ms <= 0)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: lease_acquire needs a table, an owner and a ttl > 0",
                             DLD_STATE_SQLITE_NAME);
    int ret = dld_state_sqlite_begin(s, err);
    if (ret != DLD_OK)
        return ret;
    /* the clock is read once the write lock is held, so no other process
     * can act between our view of "now" and our write */
    int64_t now = s->host->now_ms();
    int64_t next = 0;
    ret = s_lease_free_for(s, table, owner, now, err);
    if (ret == DLD_OK)
        ret = s_next_token(s, table, &next, err);
    if (ret == DLD_OK) {
        sqlite3_stmt *st;
        ret = dld_state_sqlite_prepare(s,
                                       "INSERT INTO leases(table_name, owner, token, expires_ms) VALUES(?1, ?2, ?3, ?4) "
                                       "ON CONFLICT(table_name) DO UPDATE SET owner = excluded.owner, "
                                       "token = excluded.token, expires_ms = excluded.expires_ms",
                                       &st, err);
        if (ret == DLD_OK) {
            dld_state_sqlite_bind_text(st, 1, table);
            dld_state_sqlite_bind_text(st, 2, owner);
            sqlite3_bind_int64(st, 3, next);
            sqlite3_bind_int64(st, 4, now + ttl_ms);
            ret = dld_state_sqlite_run(s, st, "writing the lease", err);
        }
    }
    if (ret == DLD_OK)
        ret = dld_state_sqlite_commit(s, err);
    if (ret != DLD_OK) {
        dld_state_sqlite_rollback(s);
        return ret;
    }
    *token = next;
    return DLD_OK;
}

/* state.h: ends the lease now when the host says its holder is dead; one
 * transaction, so the owner and token written are exactly those judged */
static int s_lease_break(void *inst, const char *table, int (*dead)(void *ctx, const char *owner), void *ctx,
                         struct dld_error *err)
{
    struct dld_state_sqlite *s = inst;
    if (table == NULL || dead == NULL)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: lease_break needs a table and a test", DLD_STATE_SQLITE_NAME);
    int ret = dld_state_sqlite_begin(s, err);
    if (ret != DLD_OK)
        return ret;
    sqlite3_stmt *st;
    ret = dld_state_sqlite_prepare(s, "SELECT owner, token FROM leases WHERE table_name = ?1", &st, err);
    char *holder = NULL;
    int64_t token = 0;
    if (ret == DLD_OK) {
        dld_state_sqlite_bind_text(st, 1, table);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL) {
            holder = dld_host_strdup(s->host, (const char *)sqlite3_column_text(st, 0));
            token = sqlite3_column_int64(st, 1);
            if (holder == NULL)
                ret = dld_error_set(err, DLD_ERR_FATAL, "%s: out of memory", DLD_STATE_SQLITE_NAME);
        } else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
            ret = dld_error_set(err, DLD_ERR_CONFLICT, "%s: table '%s' has no lease", DLD_STATE_SQLITE_NAME, table);
        } else {
            ret = dld_state_sqlite_fail(s, rc, "reading the lease", err);
        }
        sqlite3_finalize(st);
    }
    if (ret == DLD_OK && !dead(ctx, holder))
        ret = dld_error_set(err, DLD_ERR_CONFLICT, "%s: the holder of table '%s' ('%s') is alive or cannot be told",
                            DLD_STATE_SQLITE_NAME, table, holder);
    if (ret == DLD_OK)
        ret = dld_state_sqlite_prepare(
            s, "UPDATE leases SET expires_ms = ?4 WHERE table_name = ?1 AND owner = ?2 AND token = ?3", &st, err);
    if (ret == DLD_OK) {
        dld_state_sqlite_bind_text(st, 1, table);
        dld_state_sqlite_bind_text(st, 2, holder);
        sqlite3_bind_int64(st, 3, token);
        sqlite3_bind_int64(st, 4, s->host->now_ms() - 1);
        ret = dld_state_sqlite_run(s, st, "ending the lease", err);
    }
    if (ret == DLD_OK)
        ret = dld_state_sqlite_commit(s, err);
    if (ret != DLD_OK)
        dld_state_sqlite_rollback(s);
    else
        dld_log(s->host, DLD_LOG_INFO, DLD_STATE_SQLITE_NAME,
                "table '%s': lease of '%s' (token %" PRId64 ") ended, its holder is no longer running", table, holder,
                token);
    s->host->free(holder);
    return ret;
}

/* The token alone proves nobody took the lease over (a takeover always
 * takes a new token), so renewing a lease that expired but was not taken
 * over is allowed; release likewise. */
static int s_lease_check_current(struct dld_state_sqlite *s, const char *table, int64_t token, struct dld_error *err)
{
    sqlite3_stmt *st;
    int ret = dld_state_sqlite_prepare(s, "SELECT owner, token FROM leases WHERE table_name = ?1", &st, err);
    if (ret != DLD_OK)
        return ret;
    dld_state_sqlite_bind_text(st, 1, table);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        ret = dld_error_set(err, DLD_ERR_CONFLICT, "%s: table '%s' has no lease (token %" PRId64 " was released)",
                            DLD_STATE_SQLITE_NAME, table, token);
    else if (rc != SQLITE_ROW)
        ret = dld_state_sqlite_fail(s, rc, "reading the lease", err);
    else if (sqlite3_column_int64(st, 1) != token)
        ret = dld_error_set(err, DLD_ERR_CONFLICT,
                            "%s: lease of table '%s' was taken over: token %" PRId64 " is stale, '%s' holds token %" PRId64,
                            DLD_STATE_SQLITE_NAME, table, token, (const char *)sqlite3_column_text(st, 0),
                            (int64_t)sqlite3_column_int64(st, 1));
    sqlite3_finalize(st);
    return ret;
}

static int s_lease_renew(void *inst, const char *table, int64_t token, int64_t ttl_ms, struct dld_error *err)
{
    struct dld_state_sqlite *s = inst;
    if (table == NULL || ttl_ms <= 0)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: lease_renew needs a table and a ttl > 0", DLD_STATE_SQLITE_NAME);
    int ret = dld_state_sqlite_begin(s, err);
    if (ret != DLD_OK)
        return ret;
    ret = s_lease_check_current(s, table, token, err);
    if (ret == DLD_OK) {
        sqlite3_stmt *st;
        ret = dld_state_sqlite_prepare(s, "UPDATE leases SET expires_ms = ?2 WHERE table_name = ?1", &st, err);
        if (ret == DLD_OK) {
            dld_state_sqlite_bind_text(st, 1, table);
            sqlite3_bind_int64(st, 2, s->host->now_ms() + ttl_ms);
            ret = dld_state_sqlite_run(s, st, "renewing the lease", err);
        }
    }
    if (ret == DLD_OK)
        ret = dld_state_sqlite_commit(s, err);
    if (ret != DLD_OK)
        dld_state_sqlite_rollback(s);
    return ret;
}

static int s_lease_release(void *inst, const char *table, int64_t token, struct dld_error *err)
{
    struct dld_state_sqlite *s = inst;
    if (table == NULL)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: lease_release needs a table", DLD_STATE_SQLITE_NAME);
    int ret = dld_state_sqlite_begin(s, err);
    if (ret != DLD_OK)
        return ret;
    ret = s_lease_check_current(s, table, token, err);
    if (ret == DLD_OK) {
        sqlite3_stmt *st;
        /* lease_tokens keeps the counter: the next acquisition gets a new token */
        ret = dld_state_sqlite_prepare(s, "DELETE FROM leases WHERE table_name = ?1", &st, err);
        if (ret == DLD_OK) {
            dld_state_sqlite_bind_text(st, 1, table);
            ret = dld_state_sqlite_run(s, st, "releasing the lease", err);
        }
    }
    if (ret == DLD_OK)
        ret = dld_state_sqlite_commit(s, err);
    if (ret != DLD_OK)
        dld_state_sqlite_rollback(s);
    return ret;
}

/* ---- watermarks ------------------------------------------------------------------ */

static int s_watermark_get(void *inst, const char *table, struct dld_watermark *host_out, struct dld_error *err)
{
    struct dld_state_sqlite *s = inst;
    /* filled at this plugin's size, handed over as far as the host's struct_size reaches */
    struct dld_watermark wm = {.struct_size = sizeof(wm)}, *out = &wm;
    sqlite3_stmt *st;
    int ret = dld_state_sqlite_prepare(s, "SELECT value, load_id, updated_ms FROM watermarks WHERE table_name = ?1",
                                       &st, err);
    if (ret != DLD_OK)
        return ret;
    dld_state_sqlite_bind_text(st, 1, table);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *value = (const char *)sqlite3_column_text(st, 0);
        out->load_id = sqlite3_column_int64(st, 1);
        out->updated_ms = sqlite3_column_int64(st, 2);
        if (value != NULL && (out->value = dld_host_strdup(s->host, value)) == NULL)
            ret = dld_error_set(err, DLD_ERR_FATAL, "%s: out of memory", DLD_STATE_SQLITE_NAME);
    } else if (rc != SQLITE_DONE) {
        ret = dld_state_sqlite_fail(s, rc, "reading the watermark", err);
    }
    sqlite3_finalize(st);
    if (ret != DLD_OK)
        dld_watermark_clean_up(s->host, out);
    dld_watermark_put(s->host, host_out, out);
    return ret;
}

static int s_watermark_set(void *inst, const char *table, const char *value, int64_t token, struct dld_error *err)
{
    struct dld_state_sqlite *s = inst;
    if (table == NULL)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: watermark_set needs a table", DLD_STATE_SQLITE_NAME);
    int ret = dld_state_sqlite_begin(s, err);
    if (ret != DLD_OK)
        return ret;
    ret = dld_state_sqlite_check_token(s, table, token, err);
    if (ret == DLD_OK) {
        sqlite3_stmt *st;
        if (value == NULL) {
            ret = dld_state_sqlite_prepare(s, "DELETE FROM watermarks WHERE table_name = ?1", &st, err);
        } else {
            /* load_id 0: set by an operator, not by a load */
            ret = dld_state_sqlite_prepare(s,
                                           "INSERT INTO watermarks(table_name, value, load_id, updated_ms) "
                                           "VALUES(?1, ?2, 0, ?3) ON CONFLICT(table_name) DO UPDATE SET "
                                           "value = excluded.value, load_id = 0, updated_ms = excluded.updated_ms",
                                           &st, err);
        }
        if (ret == DLD_OK) {
            dld_state_sqlite_bind_text(st, 1, table);
            if (value != NULL) {
                dld_state_sqlite_bind_text(st, 2, value);
                sqlite3_bind_int64(st, 3, s->host->now_ms());
            }
            ret = dld_state_sqlite_run(s, st, "writing the watermark", err);
        }
    }
    if (ret == DLD_OK)
        ret = dld_state_sqlite_commit(s, err);
    if (ret != DLD_OK)
        dld_state_sqlite_rollback(s);
    return ret;
}

/* ---- descriptor -------------------------------------------------------------------- */

/* `deltaload state init`: the schema is created when the file is opened,
 * so there is nothing to create; report what is there. */
static int s_setup(void *inst, int32_t create, char **report, struct dld_error *err)
{
    struct dld_state_sqlite *s = inst;
    (void)create;
    sqlite3_stmt *st;
    int ret = dld_state_sqlite_prepare(s,
                                       "SELECT (SELECT user_version FROM pragma_user_version), "
                                       "(SELECT group_concat(name, ', ') FROM (SELECT name FROM sqlite_master "
                                       "WHERE type = 'table' ORDER BY name))",
                                       &st, err);
    if (ret != DLD_OK)
        return ret;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *file = sqlite3_db_filename(s->db, "main");
        *report = dld_host_sprintf(s->host, "%s: SQLite state store %s, schema version %d, tables: %s",
                                   DLD_STATE_SQLITE_NAME, file ? file : "", sqlite3_column_int(st, 0),
                                   (const char *)sqlite3_column_text(st, 1));
        if (*report == NULL)
            ret = dld_error_set(err, DLD_ERR_FATAL, "%s: out of memory", DLD_STATE_SQLITE_NAME);
    } else {
        ret = dld_state_sqlite_fail(s, rc, "reading the schema", err);
    }
    sqlite3_finalize(st);
    return ret;
}

static const struct dld_state_vtable s_vtable = {
    .struct_size = sizeof(struct dld_state_vtable),
    .open = s_open,
    .close = s_close,
    .item_put = s_item_put,
    .item_get = s_item_get,
    .item_list = s_item_list,
    .item_delete = s_item_delete,
    .lease_acquire = s_lease_acquire,
    .lease_renew = s_lease_renew,
    .lease_release = s_lease_release,
    .watermark_get = s_watermark_get,
    .watermark_set = s_watermark_set,
    .run_record = dld_state_sqlite_run_record,
    .run_last = dld_state_sqlite_run_last,
    .run_commit = dld_state_sqlite_run_commit,
    .history = dld_state_sqlite_history,
    .runs_unfinished = dld_state_sqlite_runs_unfinished,
    .runs_history = dld_state_sqlite_runs_history,
    .setup = s_setup,
    .lease_break = s_lease_break,
};

static const struct dld_option s_options[] = {
    {"path", DLD_OPT_STRING, DLD_OPTF_REQUIRED, NULL, NULL,
     "SQLite database file holding items, leases, watermarks and run history; created if missing (its "
     "directory must exist). Several processes on one machine may share it; do not put it on a network file "
     "system.",
     NULL},
    {"busy_timeout_ms", DLD_OPT_INT, 0, "10000", NULL,
     "How long a call waits for another process's write to finish before failing with a retryable error.", NULL},
    {"read_only", DLD_OPT_BOOL, 0, "false", NULL,
     "Create nothing: an absent file reads as an empty store. `deltaload plan` sets it, so planning never "
     "creates the state file.",
     NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL},
};

static const struct dld_plugin s_plugin = {
    .struct_size = sizeof(struct dld_plugin),
    .abi_major = DLD_ABI_MAJOR,
    .abi_minor = DLD_ABI_MINOR,
    .kind = DLD_KIND_STATE,
    .capabilities = 0,
    .name = "sqlite",
    .version = "0.1.0",
    .description = "Controller items, leases, watermarks and run history in a local SQLite file",
    .options = s_options,
    .vtable = &s_vtable,
};

DLD_PLUGIN_DEFINE(state_sqlite, s_plugin);

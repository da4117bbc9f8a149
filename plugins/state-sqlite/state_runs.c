/* state-sqlite: run records, the atomic commit (run row + watermark in one
 * transaction) and the history as JSON. */
#include <inttypes.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <deltaload/sdk.h>

#include "state_sqlite.h"

#define RUN_COLUMNS                                                                                               \
    "table_name, load_id, mode, status, low, low_inclusive, high, rows, bytes, files, started_ms, ended_ms, "    \
    "error, owner, info_json"

/* The run struct is the whole record: every column is overwritten, except
 * owner and info_json which a later call may leave NULL to keep them. */
static const char s_upsert_sql[] =
    "INSERT INTO runs(" RUN_COLUMNS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) "
    "ON CONFLICT(table_name, load_id) DO UPDATE SET mode = excluded.mode, status = excluded.status, "
    "low = excluded.low, low_inclusive = excluded.low_inclusive, high = excluded.high, rows = excluded.rows, "
    "bytes = excluded.bytes, files = excluded.files, started_ms = excluded.started_ms, "
    "ended_ms = excluded.ended_ms, error = excluded.error, owner = coalesce(excluded.owner, owner), "
    "info_json = coalesce(excluded.info_json, info_json)";

static const char *const s_mode_names[] = {NULL, "delta", "full", "backfill"};
static const char *const s_status_names[] = {NULL,        "planned", "staged", "published",
                                             "committed", "failed",  "aborted", "noop"};

static int s_check_run(const struct dld_run *run, struct dld_error *err)
{
    if (run == NULL || run->table == NULL || run->table[0] == '\0')
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: a run needs its table", DLD_STATE_SQLITE_NAME);
    if (run->mode < DLD_MODE_DELTA || run->mode > DLD_MODE_BACKFILL)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: run %" PRId64 " of '%s' has an unknown mode %u",
                             DLD_STATE_SQLITE_NAME, run->load_id, run->table, run->mode);
    if (run->status < DLD_RUN_PLANNED || run->status > DLD_RUN_NOOP)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: run %" PRId64 " of '%s' has an unknown status %u",
                             DLD_STATE_SQLITE_NAME, run->load_id, run->table, run->status);
    if (run->info_json != NULL) {
        cJSON *info = cJSON_Parse(run->info_json);
        int ok = cJSON_IsObject(info);
        cJSON_Delete(info);
        if (!ok)
            return dld_error_set(err, DLD_ERR_CONFIG, "%s: run %" PRId64 " of '%s': info_json is not a JSON object",
                                 DLD_STATE_SQLITE_NAME, run->load_id, run->table);
    }
    return DLD_OK;
}

static int s_upsert(struct dld_state_sqlite *s, const struct dld_run *run, uint32_t status, struct dld_error *err)
{
    sqlite3_stmt *st;
    int ret = dld_state_sqlite_prepare(s, s_upsert_sql, &st, err);
    if (ret != DLD_OK)
        return ret;
    dld_state_sqlite_bind_text(st, 1, run->table);
    sqlite3_bind_int64(st, 2, run->load_id);
    sqlite3_bind_int(st, 3, (int)run->mode);
    sqlite3_bind_int(st, 4, (int)status);
    dld_state_sqlite_bind_text(st, 5, run->low);
    sqlite3_bind_int(st, 6, run->low_inclusive ? 1 : 0);
    dld_state_sqlite_bind_text(st, 7, run->high);
    sqlite3_bind_int64(st, 8, run->rows);
    sqlite3_bind_int64(st, 9, run->bytes);
    sqlite3_bind_int64(st, 10, run->files);
    sqlite3_bind_int64(st, 11, run->started_ms);
    sqlite3_bind_int64(st, 12, run->ended_ms);
    dld_state_sqlite_bind_text(st, 13, run->error);
    dld_state_sqlite_bind_text(st, 14, run->owner);
    dld_state_sqlite_bind_text(st, 15, run->info_json);
    return dld_state_sqlite_run(s, st, "writing the run", err);
}

int dld_state_sqlite_run_record(void *inst, const struct dld_run *run, int64_t token, struct dld_error *err)
{
    struct dld_state_sqlite *s = inst;
    int ret = s_check_run(run, err);
    if (ret != DLD_OK)
        return ret;
    ret = dld_state_sqlite_begin(s, err);
    if (ret != DLD_OK)
        return ret;
    ret = dld_state_sqlite_check_token(s, run->table, token, err);
    if (ret == DLD_OK)
        ret = s_upsert(s, run, run->status, err);
    if (ret == DLD_OK)
        ret = dld_state_sqlite_commit(s, err);
    if (ret != DLD_OK)
        dld_state_sqlite_rollback(s);
    return ret;
}

int dld_state_sqlite_run_commit(void *inst, const struct dld_run *run, int32_t advance, int64_t token,
                                struct dld_error *err)
{
    struct dld_state_sqlite *s = inst;
    int ret = s_check_run(run, err);
    if (ret != DLD_OK)
        return ret;
    if (advance && run->high == NULL)
        return dld_error_set(err, DLD_ERR_CONFIG,
                             "%s: run %" PRId64 " of '%s' has no high mark to advance the watermark to",
                             DLD_STATE_SQLITE_NAME, run->load_id, run->table);
    ret = dld_state_sqlite_begin(s, err);
    if (ret != DLD_OK)
        return ret;
    ret = dld_state_sqlite_check_token(s, run->table, token, err);
    if (ret == DLD_OK)
        ret = s_upsert(s, run, DLD_RUN_COMMITTED, err);
    if (ret == DLD_OK && advance) {
        sqlite3_stmt *st;
        ret = dld_state_sqlite_prepare(s,
                                       "INSERT INTO watermarks(table_name, value, load_id, updated_ms) "
                                       "VALUES(?1, ?2, ?3, ?4) ON CONFLICT(table_name) DO UPDATE SET "
                                       "value = excluded.value, load_id = excluded.load_id, "
                                       "updated_ms = excluded.updated_ms",
                                       &st, err);
        if (ret == DLD_OK) {
            dld_state_sqlite_bind_text(st, 1, run->table);
            dld_state_sqlite_bind_text(st, 2, run->high);
            sqlite3_bind_int64(st, 3, run->load_id);
            sqlite3_bind_int64(st, 4, s->host->now_ms());
            ret = dld_state_sqlite_run(s, st, "advancing the watermark", err);
        }
    }
    if (ret == DLD_OK)
        ret = dld_state_sqlite_commit(s, err);
    if (ret != DLD_OK)
        dld_state_sqlite_rollback(s);
    return ret;
}

/* Copies one row (RUN_COLUMNS order) into out; strings host->alloc'ed. */
static int s_run_from_row(struct dld_state_sqlite *s, sqlite3_stmt *st, struct dld_run *host_out,
                          struct dld_error *err)
{
    const struct dld_host *h = s->host;
    /* filled at this plugin's size, handed over as far as the host's struct_size reaches */
    struct dld_run run = {.struct_size = sizeof(run)}, *out = &run;
    out->load_id = sqlite3_column_int64(st, 1);
    out->mode = (uint32_t)sqlite3_column_int(st, 2);
    out->status = (uint32_t)sqlite3_column_int(st, 3);
    out->low_inclusive = sqlite3_column_int(st, 5);
    out->rows = sqlite3_column_int64(st, 7);
    out->bytes = sqlite3_column_int64(st, 8);
    out->files = sqlite3_column_int64(st, 9);
    out->started_ms = sqlite3_column_int64(st, 10);
    out->ended_ms = sqlite3_column_int64(st, 11);
    struct {
        char **dst;
        int col;
    } strs[] = {{&out->table, 0}, {&out->low, 4}, {&out->high, 6}, {&out->error, 12}, {&out->owner, 13},
                {&out->info_json, 14}};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        const char *v = (const char *)sqlite3_column_text(st, strs[i].col);
        if (v != NULL && (*strs[i].dst = dld_host_strdup(h, v)) == NULL) {
            dld_run_clean_up(h, out);
            return dld_error_set(err, DLD_ERR_FATAL, "%s: out of memory", DLD_STATE_SQLITE_NAME);
        }
    }
    dld_run_put(h, host_out, out);
    return DLD_OK;
}

int dld_state_sqlite_run_last(void *inst, const char *table, struct dld_run *out, struct dld_error *err)
{
    struct dld_state_sqlite *s = inst;
    sqlite3_stmt *st;
    int ret = dld_state_sqlite_prepare(s,
                                       "SELECT " RUN_COLUMNS " FROM runs WHERE table_name = ?1 "
                                       "ORDER BY load_id DESC LIMIT 1",
                                       &st, err);
    if (ret != DLD_OK)
        return ret;
    dld_state_sqlite_bind_text(st, 1, table);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        ret = s_run_from_row(s, st, out, err);
    else if (rc == SQLITE_DONE)
        ret = dld_error_set(err, DLD_ERR_NOT_FOUND, "%s: table '%s' has no runs", DLD_STATE_SQLITE_NAME, table);
    else
        ret = dld_state_sqlite_fail(s, rc, "reading the last run", err);
    sqlite3_finalize(st);
    return ret;
}

static void s_add_text(cJSON *obj, const char *key, sqlite3_stmt *st, int col)
{
    const char *v = (const char *)sqlite3_column_text(st, col);
    if (v == NULL)
        cJSON_AddNullToObject(obj, key);
    else
        cJSON_AddStringToObject(obj, key, v);
}

/* 0 (not yet ended) reads as null rather than as the epoch */
static void s_add_ms(cJSON *obj, const char *key, int64_t v)
{
    if (v == 0)
        cJSON_AddNullToObject(obj, key);
    else
        cJSON_AddNumberToObject(obj, key, (double)v);
}

static const char *s_name(const char *const *names, size_t n, int v)
{
    return (v > 0 && (size_t)v < n) ? names[v] : "unknown";
}

static cJSON *s_run_json(sqlite3_stmt *st)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    int64_t started = sqlite3_column_int64(st, 10), ended = sqlite3_column_int64(st, 11);
    s_add_text(o, "table", st, 0);
    cJSON_AddNumberToObject(o, "load_id", (double)sqlite3_column_int64(st, 1));
    cJSON_AddStringToObject(o, "mode", s_name(s_mode_names, 4, sqlite3_column_int(st, 2)));
    cJSON_AddStringToObject(o, "status", s_name(s_status_names, 8, sqlite3_column_int(st, 3)));
    s_add_text(o, "low", st, 4);
    cJSON_AddBoolToObject(o, "low_inclusive", sqlite3_column_int(st, 5) != 0);
    s_add_text(o, "high", st, 6);
    cJSON_AddNumberToObject(o, "rows", (double)sqlite3_column_int64(st, 7));
    cJSON_AddNumberToObject(o, "bytes", (double)sqlite3_column_int64(st, 8));
    cJSON_AddNumberToObject(o, "files", (double)sqlite3_column_int64(st, 9));
    s_add_ms(o, "started_ms", started);
    s_add_ms(o, "ended_ms", ended);
    if (started != 0 && ended != 0)
        cJSON_AddNumberToObject(o, "duration_ms", (double)(ended - started));
    else
        cJSON_AddNullToObject(o, "duration_ms");
    s_add_text(o, "error", st, 12);
    s_add_text(o, "owner", st, 13);
    const char *info = (const char *)sqlite3_column_text(st, 14);
    cJSON *parsed = info ? cJSON_Parse(info) : NULL;
    cJSON_AddItemToObject(o, "info", parsed ? parsed : cJSON_CreateNull());
    return o;
}

static int s_runs_json(struct dld_state_sqlite *s, sqlite3_stmt *st, char **runs_json, struct dld_error *err);

/* The runs of one table (or all: table NULL), newest first, at most limit
 * (0: all): the query behind both history (JSON) and runs_history (typed). */
static int s_history_stmt(struct dld_state_sqlite *s, const char *table, int32_t limit, sqlite3_stmt **st,
                          struct dld_error *err)
{
    int ret = dld_state_sqlite_prepare(s,
                                       "SELECT " RUN_COLUMNS " FROM runs WHERE ?1 IS NULL OR table_name = ?1 "
                                       "ORDER BY started_ms DESC, load_id DESC, table_name LIMIT ?2",
                                       st, err);
    if (ret != DLD_OK)
        return ret;
    dld_state_sqlite_bind_text(*st, 1, table);
    sqlite3_bind_int(*st, 2, limit > 0 ? limit : -1); /* -1: no limit */
    return DLD_OK;
}

int dld_state_sqlite_history(void *inst, const char *table, int32_t limit, char **runs_json, struct dld_error *err)
{
    struct dld_state_sqlite *s = inst;
    *runs_json = NULL;
    sqlite3_stmt *st;
    int ret = s_history_stmt(s, table, limit, &st, err);
    return ret != DLD_OK ? ret : s_runs_json(s, st, runs_json, err);
}

/* Hands every row of st to each (a borrowed run); finalizes st. */
static int s_each_run(struct dld_state_sqlite *s, sqlite3_stmt *st, int (*each)(void *ctx, const struct dld_run *run),
                      void *ctx, struct dld_error *err)
{
    int ret = DLD_OK, rc = SQLITE_DONE;
    while (ret == DLD_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct dld_run run = {.struct_size = sizeof(run)};
        if ((ret = s_run_from_row(s, st, &run, err)) != DLD_OK)
            break;
        ret = each(ctx, &run);
        dld_run_clean_up(s->host, &run);
    }
    if (ret == DLD_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        ret = dld_state_sqlite_fail(s, rc, "reading runs", err);
    sqlite3_finalize(st);
    return ret;
}

int dld_state_sqlite_runs_unfinished(void *inst, const char *table, int (*each)(void *ctx, const struct dld_run *run),
                                     void *ctx, struct dld_error *err)
{
    struct dld_state_sqlite *s = inst;
    sqlite3_stmt *st;
    int ret = dld_state_sqlite_prepare(s,
                                       "SELECT " RUN_COLUMNS " FROM runs WHERE table_name = ?1 "
                                       "AND status IN (1, 2, 3) ORDER BY load_id",
                                       &st, err);
    if (ret != DLD_OK)
        return ret;
    dld_state_sqlite_bind_text(st, 1, table);
    return s_each_run(s, st, each, ctx, err);
}

int dld_state_sqlite_runs_history(void *inst, const char *table, int32_t limit,
                                  int (*each)(void *ctx, const struct dld_run *run), void *ctx, struct dld_error *err)
{
    struct dld_state_sqlite *s = inst;
    sqlite3_stmt *st;
    int ret = s_history_stmt(s, table, limit, &st, err);
    return ret != DLD_OK ? ret : s_each_run(s, st, each, ctx, err);
}

/* Steps st to the end, as a JSON array of runs; finalizes st. */
static int s_runs_json(struct dld_state_sqlite *s, sqlite3_stmt *st, char **runs_json, struct dld_error *err)
{
    int ret = DLD_OK;
    cJSON *arr = cJSON_CreateArray();
    int rc = SQLITE_DONE, oom = arr == NULL;
    while (!oom && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *o = s_run_json(st);
        if (o == NULL)
            oom = 1;
        else
            cJSON_AddItemToArray(arr, o);
    }
    if (!oom && rc != SQLITE_DONE)
        ret = dld_state_sqlite_fail(s, rc, "reading the history", err);
    sqlite3_finalize(st);
    if (ret == DLD_OK && !oom) {
        char *text = cJSON_PrintUnformatted(arr);
        if (text != NULL) {
            *runs_json = dld_host_strdup(s->host, text);
            cJSON_free(text);
        }
        if (*runs_json == NULL)
            oom = 1;
    }
    cJSON_Delete(arr);
    if (ret == DLD_OK && oom)
        ret = dld_error_set(err, DLD_ERR_FATAL, "%s: out of memory", DLD_STATE_SQLITE_NAME);
    return ret;
}

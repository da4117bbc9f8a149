/* state-dynamodb: run records in the history table, the fenced transitions
 * (one TransactWriteItems: the controller item, conditioned on the lease
 * token, and the run item) and the history read back newest first. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddb_internal.h"

static const char *const s_mode_names[] = {NULL, "delta", "full", "backfill"};
static const char *const s_status_names[] = {NULL,        "planned", "staged", "published",
                                             "committed", "failed",  "aborted", "noop"};

static const char *s_name(const char *const *names, size_t n, uint32_t v)
{
    return (v > 0 && v < n) ? names[v] : "unknown";
}

static uint32_t s_code(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 1; name && i < n; i++)
        if (!strcmp(names[i], name))
            return (uint32_t)i;
    return 0;
}

static int s_check_run(const struct dld_run *run, struct dld_error *err)
{
    if (run->table == NULL || run->table[0] == '\0')
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: a run needs its table", DDB_NAME);
    if (run->mode < DLD_MODE_DELTA || run->mode > DLD_MODE_BACKFILL)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: run %" PRId64 " of '%s' has an unknown mode %u", DDB_NAME,
                             run->load_id, run->table, run->mode);
    if (run->status < DLD_RUN_PLANNED || run->status > DLD_RUN_NOOP)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: run %" PRId64 " of '%s' has an unknown status %u", DDB_NAME,
                             run->load_id, run->table, run->status);
    if (run->info_json != NULL) {
        cJSON *info = cJSON_Parse(run->info_json);
        int ok = cJSON_IsObject(info);
        cJSON_Delete(info);
        if (!ok)
            return dld_error_set(err, DLD_ERR_CONFIG, "%s: run %" PRId64 " of '%s': info_json is not a JSON object",
                                 DDB_NAME, run->load_id, run->table);
    }
    return DLD_OK;
}

static void s_set_i64_text(struct ddb_expr *e, const char *attr, int64_t v)
{
    char text[32];
    snprintf(text, sizeof text, "%" PRId64, v);
    ddb_x_set_s(e, attr, text);
}

/* The controller item's share of a transition: the last-run bookkeeping
 * (strings, as every attribute of that table), the watermark and its mirror
 * in startvalue when a delta commits; fenced by the lease token. */
static cJSON *s_controller_update(struct ddb *d, const struct dld_run *run, uint32_t status, int32_t advance,
                                  int64_t token, int64_t now, struct dld_error *err)
{
    struct ddb_expr e;
    ddb_expr_init(&e);
    s_set_i64_text(&e, A_LAST_LOAD, run->load_id);
    ddb_x_set_s(&e, A_LAST_MODE, s_name(s_mode_names, 4, run->mode));
    ddb_x_set_s(&e, A_LAST_STATUS, s_name(s_status_names, 8, status));
    ddb_x_set_s(&e, A_LAST_LOW, run->low);
    ddb_x_set_s(&e, A_LAST_HIGH, run->high);
    s_set_i64_text(&e, A_LAST_ROWS, run->rows);
    s_set_i64_text(&e, A_LAST_BYTES, run->bytes);
    s_set_i64_text(&e, A_LAST_FILES, run->files);
    s_set_i64_text(&e, A_LAST_STARTED, run->started_ms);
    s_set_i64_text(&e, A_LAST_ENDED, run->ended_ms);
    ddb_x_set_s(&e, A_LAST_ERROR, run->error);
    if (advance) {
        ddb_x_set_s(&e, A_WM, run->high);
        s_set_i64_text(&e, A_WM_LOAD, run->load_id);
        s_set_i64_text(&e, A_WM_UPDATED, now);
        /* the replaced tooling writes the new filter value here; keeping it
         * lets a team switch back */
        ddb_x_set_s(&e, A_STARTVALUE, run->high);
    }
    ddb_fence(d, &e, token);
    cJSON *u = cJSON_CreateObject();
    if (u == NULL) {
        ddb_expr_free(&e);
        ddb_oom(err);
        return NULL;
    }
    cJSON_AddStringToObject(u, "TableName", d->table);
    cJSON_AddItemToObject(u, "Key", ddb_key(run->table));
    cJSON_AddStringToObject(u, "ReturnValuesOnConditionCheckFailure", "ALL_OLD");
    if (ddb_x_apply(&e, u, err) != DLD_OK) {
        cJSON_Delete(u);
        u = NULL;
    }
    ddb_expr_free(&e);
    return u;
}

/* The run item: every member overwritten, except owner and info_json which
 * a later call may leave NULL to keep them (as state-sqlite); each
 * transition appended to `transitions`; expires_at moved on. */
static cJSON *s_run_update(struct ddb *d, const struct dld_run *run, uint32_t status, int64_t token, int64_t now,
                           struct dld_error *err)
{
    struct ddb_expr e;
    ddb_expr_init(&e);
    ddb_x_set_s(&e, H_MODE, s_name(s_mode_names, 4, run->mode));
    ddb_x_set_s(&e, H_STATUS, s_name(s_status_names, 8, status));
    ddb_x_set_s(&e, H_LOW, run->low);
    cJSON *b = cJSON_CreateObject();
    if (b != NULL)
        cJSON_AddBoolToObject(b, "BOOL", run->low_inclusive != 0);
    ddb_x_set(&e, H_LOW_INCL, b);
    ddb_x_set_s(&e, H_HIGH, run->high);
    ddb_x_set_n(&e, H_ROWS, run->rows);
    ddb_x_set_n(&e, H_BYTES, run->bytes);
    ddb_x_set_n(&e, H_FILES, run->files);
    ddb_x_set_n(&e, H_STARTED, run->started_ms);
    ddb_x_set_n(&e, H_ENDED, run->ended_ms);
    ddb_x_set_s(&e, H_ERROR, run->error);
    if (run->owner != NULL)
        ddb_x_set_s(&e, H_OWNER, run->owner);
    if (run->info_json != NULL)
        ddb_x_set_s(&e, H_INFO, run->info_json);
    ddb_x_set_n(&e, H_UPDATED, now);
    ddb_x_set_n(&e, H_TOKEN, token);
    if (d->history_ttl_days > 0)
        ddb_x_set_n(&e, H_TTL, now / 1000 + d->history_ttl_days * 86400);
    else
        ddb_x_set(&e, H_TTL, NULL);
    /* transitions: [{status, at_ms, token}, ...] */
    cJSON *t = cJSON_CreateObject(), *m = cJSON_CreateObject(), *l = cJSON_CreateObject(),
          *empty = cJSON_CreateObject();
    cJSON *la = cJSON_CreateArray(), *ea = cJSON_CreateArray();
    if (t && m && l && empty && la && ea) {
        cJSON_AddItemToObject(m, "status", ddb_s(s_name(s_status_names, 8, status)));
        cJSON_AddItemToObject(m, "at_ms", ddb_n(now));
        cJSON_AddItemToObject(m, "token", ddb_n(token));
        cJSON_AddItemToObject(t, "M", m);
        cJSON_AddItemToArray(la, t);
        cJSON_AddItemToObject(l, "L", la);
        cJSON_AddItemToObject(empty, "L", ea);
        ddb_x_name(&e, H_TRANSITIONS);
        ddb_x_value(&e, ":transition", l);
        ddb_x_value(&e, ":no_transitions", empty);
        ddb_x_set_raw(&e, "#" H_TRANSITIONS " = list_append(if_not_exists(#" H_TRANSITIONS ", :no_transitions), "
                          ":transition)");
    } else {
        cJSON_Delete(t);
        cJSON_Delete(m);
        cJSON_Delete(l);
        cJSON_Delete(empty);
        cJSON_Delete(la);
        cJSON_Delete(ea);
        e.cond.failed = true;
    }
    cJSON *u = cJSON_CreateObject();
    if (u == NULL) {
        ddb_expr_free(&e);
        ddb_oom(err);
        return NULL;
    }
    cJSON_AddStringToObject(u, "TableName", d->history_table);
    cJSON_AddItemToObject(u, "Key", ddb_run_key(run->table, run->load_id));
    if (ddb_x_apply(&e, u, err) != DLD_OK) {
        cJSON_Delete(u);
        u = NULL;
    }
    ddb_expr_free(&e);
    return u;
}

/* One transaction: the controller item (fenced) and the run item. */
static int s_transition(struct ddb *d, const struct dld_run *run, uint32_t status, int32_t advance, int64_t token,
                        struct dld_error *err)
{
    int64_t now = d->host->now_ms();
    cJSON *cu = s_controller_update(d, run, status, advance, token, now, err);
    if (cu == NULL)
        return err->code ? err->code : DLD_ERR_FATAL;
    cJSON *hu = s_run_update(d, run, status, token, now, err);
    if (hu == NULL) {
        cJSON_Delete(cu);
        return err->code ? err->code : DLD_ERR_FATAL;
    }
    cJSON *body = cJSON_CreateObject(), *items = cJSON_CreateArray(), *a = cJSON_CreateObject(),
          *b = cJSON_CreateObject();
    if (!body || !items || !a || !b) {
        cJSON_Delete(body);
        cJSON_Delete(items);
        cJSON_Delete(a);
        cJSON_Delete(b);
        cJSON_Delete(cu);
        cJSON_Delete(hu);
        return ddb_oom(err);
    }
    cJSON_AddItemToObject(a, "Update", cu);
    cJSON_AddItemToObject(b, "Update", hu);
    cJSON_AddItemToArray(items, a);
    cJSON_AddItemToArray(items, b);
    cJSON_AddItemToObject(body, "TransactItems", items);
    char what[600];
    snprintf(what, sizeof what, "'%s' and '%s'", d->table, d->history_table);
    cJSON *failure = NULL;
    int rc = ddb_call(d, "TransactWriteItems", what, body, true, NULL, &failure, NULL, err);
    if (rc == DLD_ERR_CONFLICT) {
        const cJSON *reasons = cJSON_GetObjectItemCaseSensitive(failure, "CancellationReasons");
        const cJSON *first = cJSON_GetArrayItem(reasons, 0);
        const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(first, "Code"));
        if (code != NULL && !strcmp(code, "ConditionalCheckFailed"))
            rc = ddb_fence_lost(d, run->table, token, cJSON_GetObjectItemCaseSensitive(first, "Item"), err);
    }
    cJSON_Delete(failure);
    if (rc != DLD_OK)
        dld_error_prefix(err, "load %" PRId64 " of '%s' (%s)", run->load_id, run->table,
                         s_name(s_status_names, 8, status));
    return rc;
}

int ddb_run_record(void *inst, const struct dld_run *borrowed, int64_t token, struct dld_error *err)
{
    struct ddb *d = inst;
    if (borrowed == NULL)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: run_record needs a run", DDB_NAME);
    struct dld_run run;
    dld_struct_copy(&run, sizeof run, borrowed);
    int rc = s_check_run(&run, err);
    if (rc)
        return rc;
    return s_transition(d, &run, run.status, 0, token, err);
}

int ddb_run_commit(void *inst, const struct dld_run *borrowed, int32_t advance, int64_t token, struct dld_error *err)
{
    struct ddb *d = inst;
    if (borrowed == NULL)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: run_commit needs a run", DDB_NAME);
    struct dld_run run;
    dld_struct_copy(&run, sizeof run, borrowed);
    int rc = s_check_run(&run, err);
    if (rc)
        return rc;
    if (advance && run.high == NULL)
        return dld_error_set(err, DLD_ERR_CONFIG,
                             "%s: run %" PRId64 " of '%s' has no high mark to advance the watermark to", DDB_NAME,
                             run.load_id, run.table);
    return s_transition(d, &run, DLD_RUN_COMMITTED, advance, token, err);
}

/* ---- reading runs -------------------------------------------------------------------------- */

/* A history item into run (plugin-sized, strings host->alloc'ed). */
static int s_run_from_item(struct ddb *d, const cJSON *item, struct dld_run *run, struct dld_error *err)
{
    memset(run, 0, sizeof(*run));
    run->struct_size = sizeof(*run);
    ddb_get_int(item, H_LOAD_ID, &run->load_id);
    run->mode = s_code(s_mode_names, 4, ddb_get_s(item, H_MODE));
    run->status = s_code(s_status_names, 8, ddb_get_s(item, H_STATUS));
    const cJSON *incl = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(item, H_LOW_INCL), "BOOL");
    run->low_inclusive = cJSON_IsTrue(incl) ? 1 : 0;
    ddb_get_int(item, H_ROWS, &run->rows);
    ddb_get_int(item, H_BYTES, &run->bytes);
    ddb_get_int(item, H_FILES, &run->files);
    ddb_get_int(item, H_STARTED, &run->started_ms);
    ddb_get_int(item, H_ENDED, &run->ended_ms);
    struct {
        char **dst;
        const char *attr;
    } strs[] = {{&run->table, DDB_KEY}, {&run->low, H_LOW},     {&run->high, H_HIGH},
                {&run->error, H_ERROR}, {&run->owner, H_OWNER}, {&run->info_json, H_INFO}};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        const char *v = ddb_get_s(item, strs[i].attr);
        if (v != NULL && (*strs[i].dst = dld_host_strdup(d->host, v)) == NULL) {
            dld_run_clean_up(d->host, run);
            return ddb_oom(err);
        }
    }
    return DLD_OK;
}

/* Query of one table's runs, page by page; calls each(ctx, item) until it
 * returns non-zero. forward: oldest first. filter_unfinished: planned,
 * staged and published only. limit 0: all. */
static int s_query(struct ddb *d, const char *table, bool forward, bool filter_unfinished, bool consistent,
                   int32_t limit, int (*each)(struct ddb *d, void *ctx, const cJSON *item), void *ctx,
                   struct dld_error *err)
{
    cJSON *start = NULL;
    int rc = DLD_OK, seen = 0;
    char what[300];
    snprintf(what, sizeof what, "'%s'", d->history_table);
    do {
        struct ddb_expr e;
        ddb_expr_init(&e);
        ddb_x_name(&e, DDB_KEY);
        ddb_x_value(&e, ":table", ddb_s(table));
        if (filter_unfinished) {
            ddb_x_name(&e, H_STATUS);
            ddb_x_value(&e, ":planned", ddb_s("planned"));
            ddb_x_value(&e, ":staged", ddb_s("staged"));
            ddb_x_value(&e, ":published", ddb_s("published"));
        }
        cJSON *req = cJSON_CreateObject();
        if (req == NULL || e.cond.failed) {
            cJSON_Delete(req);
            cJSON_Delete(start);
            ddb_expr_free(&e);
            return ddb_oom(err);
        }
        cJSON_AddStringToObject(req, "TableName", d->history_table);
        cJSON_AddStringToObject(req, "KeyConditionExpression", "#" DDB_KEY " = :table");
        if (filter_unfinished)
            cJSON_AddStringToObject(req, "FilterExpression", "#" H_STATUS " IN (:planned, :staged, :published)");
        cJSON_AddItemToObject(req, "ExpressionAttributeNames", e.names);
        cJSON_AddItemToObject(req, "ExpressionAttributeValues", e.values);
        e.names = e.values = NULL;
        ddb_expr_free(&e);
        cJSON_AddBoolToObject(req, "ScanIndexForward", forward);
        cJSON_AddBoolToObject(req, "ConsistentRead", consistent);
        if (limit > 0 && !filter_unfinished)
            cJSON_AddNumberToObject(req, "Limit", (double)(limit - seen));
        if (start != NULL)
            cJSON_AddItemToObject(req, "ExclusiveStartKey", start);
        start = NULL;
        cJSON *out = NULL;
        if ((rc = ddb_call(d, "Query", what, req, true, &out, NULL, NULL, err)))
            break;
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(out, "Items");
        for (const cJSON *it = items ? items->child : NULL; it && rc == DLD_OK; it = it->next) {
            rc = each(d, ctx, it);
            if (limit > 0 && ++seen >= limit && rc == DLD_OK)
                rc = DLD_DONE;
        }
        start = cJSON_DetachItemFromObjectCaseSensitive(out, "LastEvaluatedKey");
        cJSON_Delete(out);
    } while (rc == DLD_OK && start != NULL);
    cJSON_Delete(start);
    return rc == DLD_DONE ? DLD_OK : rc;
}

struct s_last {
    struct dld_run *out;
    bool found;
};

static int s_take_last(struct ddb *d, void *ctx, const cJSON *item)
{
    struct s_last *l = ctx;
    struct dld_run run;
    struct dld_error err;
    dld_error_init(&err);
    if (s_run_from_item(d, item, &run, &err) != DLD_OK)
        return DLD_ERR_FATAL;
    dld_run_put(d->host, l->out, &run);
    l->found = true;
    return DLD_DONE;
}

int ddb_run_last(void *inst, const char *table, struct dld_run *out, struct dld_error *err)
{
    struct ddb *d = inst;
    struct s_last l = {.out = out};
    int rc = s_query(d, table, false, false, true, 1, s_take_last, &l, err);
    if (rc == DLD_ERR_FATAL && !l.found)
        return ddb_oom(err);
    if (rc)
        return rc;
    if (!l.found)
        return dld_error_set(err, DLD_ERR_NOT_FOUND, "%s: table '%s' has no runs", DDB_NAME, table);
    return DLD_OK;
}

struct s_each {
    int (*each)(void *ctx, const struct dld_run *run);
    void *ctx;
    int stopped; /* the callback's non-zero answer */
};

static int s_hand_over(struct ddb *d, void *ctx, const cJSON *item)
{
    struct s_each *e = ctx;
    struct dld_run run;
    struct dld_error err;
    dld_error_init(&err);
    if (s_run_from_item(d, item, &run, &err) != DLD_OK)
        return DLD_ERR_FATAL;
    int rc = e->each(e->ctx, &run);
    dld_run_clean_up(d->host, &run);
    if (rc != 0) {
        e->stopped = rc;
        return DLD_DONE;
    }
    return DLD_OK;
}

int ddb_runs_unfinished(void *inst, const char *table, int (*each)(void *ctx, const struct dld_run *run), void *ctx,
                        struct dld_error *err)
{
    struct ddb *d = inst;
    struct s_each e = {.each = each, .ctx = ctx};
    /* always consistent: recovery settles exactly what is recorded */
    int rc = s_query(d, table, true, true, true, 0, s_hand_over, &e, err);
    if (rc == DLD_ERR_FATAL && err->message[0] == '\0')
        return ddb_oom(err);
    return rc ? rc : e.stopped;
}

/* ---- history ------------------------------------------------------------------------------------ */

struct s_runs {
    struct dld_run *v;
    size_t n, cap;
};

static int s_collect(struct ddb *d, void *ctx, const cJSON *item)
{
    struct s_runs *r = ctx;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        struct dld_run *p = realloc(r->v, cap * sizeof(*p));
        if (p == NULL)
            return DLD_ERR_FATAL;
        r->v = p;
        r->cap = cap;
    }
    struct dld_error err;
    dld_error_init(&err);
    if (s_run_from_item(d, item, &r->v[r->n], &err) != DLD_OK)
        return DLD_ERR_FATAL;
    r->n++;
    return DLD_OK;
}

/* newest first: started_ms, then load_id, descending; then by table */
static int s_newest_first(const void *a, const void *b)
{
    const struct dld_run *x = a, *y = b;
    if (x->started_ms != y->started_ms)
        return x->started_ms > y->started_ms ? -1 : 1;
    if (x->load_id != y->load_id)
        return x->load_id > y->load_id ? -1 : 1;
    return strcmp(x->table ? x->table : "", y->table ? y->table : "");
}

/* Every run of every table: Scan, all pages. */
static int s_scan_all(struct ddb *d, struct s_runs *r, struct dld_error *err)
{
    cJSON *start = NULL;
    int rc = DLD_OK;
    char what[300];
    snprintf(what, sizeof what, "'%s'", d->history_table);
    do {
        cJSON *req = cJSON_CreateObject();
        if (req == NULL) {
            rc = ddb_oom(err);
            break;
        }
        cJSON_AddStringToObject(req, "TableName", d->history_table);
        cJSON_AddBoolToObject(req, "ConsistentRead", d->consistent_read);
        if (d->scan_page_size > 0)
            cJSON_AddNumberToObject(req, "Limit", (double)d->scan_page_size);
        if (start != NULL)
            cJSON_AddItemToObject(req, "ExclusiveStartKey", start);
        start = NULL;
        cJSON *out = NULL;
        if ((rc = ddb_call(d, "Scan", what, req, true, &out, NULL, NULL, err)))
            break;
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(out, "Items");
        for (const cJSON *it = items ? items->child : NULL; it && rc == DLD_OK; it = it->next)
            if (s_collect(d, r, it) != DLD_OK)
                rc = ddb_oom(err);
        start = cJSON_DetachItemFromObjectCaseSensitive(out, "LastEvaluatedKey");
        cJSON_Delete(out);
    } while (rc == DLD_OK && start != NULL);
    cJSON_Delete(start);
    return rc;
}

int ddb_runs_history(void *inst, const char *table, int32_t limit, int (*each)(void *ctx, const struct dld_run *run),
                     void *ctx, struct dld_error *err)
{
    struct ddb *d = inst;
    if (table != NULL) {
        /* one table: its runs by load_id, newest first (a table's load ids
         * are handed out in the order its loads start) */
        struct s_each e = {.each = each, .ctx = ctx};
        int rc = s_query(d, table, false, false, d->consistent_read, limit, s_hand_over, &e, err);
        if (rc == DLD_ERR_FATAL && err->message[0] == '\0')
            return ddb_oom(err);
        return rc ? rc : e.stopped;
    }
    struct s_runs r = {0};
    int rc = s_scan_all(d, &r, err);
    if (rc == DLD_OK && r.n > 1)
        qsort(r.v, r.n, sizeof(*r.v), s_newest_first);
    size_t n = limit > 0 && (size_t)limit < r.n ? (size_t)limit : r.n;
    for (size_t i = 0; rc == DLD_OK && i < n; i++)
        rc = each(ctx, &r.v[i]);
    for (size_t i = 0; i < r.n; i++)
        dld_run_clean_up(d->host, &r.v[i]);
    free(r.v);
    return rc;
}

/* The JSON member (required in ABI 1.x): state-sqlite's keys exactly. */
static void s_add_text(cJSON *o, const char *key, const char *v)
{
    if (v == NULL)
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddStringToObject(o, key, v);
}

static void s_add_ms(cJSON *o, const char *key, int64_t v)
{
    if (v == 0)
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddNumberToObject(o, key, (double)v);
}

static int s_add_json(void *ctx, const struct dld_run *r)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return DLD_ERR_FATAL;
    s_add_text(o, "table", r->table);
    cJSON_AddNumberToObject(o, "load_id", (double)r->load_id);
    cJSON_AddStringToObject(o, "mode", s_name(s_mode_names, 4, r->mode));
    cJSON_AddStringToObject(o, "status", s_name(s_status_names, 8, r->status));
    s_add_text(o, "low", r->low);
    cJSON_AddBoolToObject(o, "low_inclusive", r->low_inclusive != 0);
    s_add_text(o, "high", r->high);
    cJSON_AddNumberToObject(o, "rows", (double)r->rows);
    cJSON_AddNumberToObject(o, "bytes", (double)r->bytes);
    cJSON_AddNumberToObject(o, "files", (double)r->files);
    s_add_ms(o, "started_ms", r->started_ms);
    s_add_ms(o, "ended_ms", r->ended_ms);
    if (r->started_ms != 0 && r->ended_ms != 0)
        cJSON_AddNumberToObject(o, "duration_ms", (double)(r->ended_ms - r->started_ms));
    else
        cJSON_AddNullToObject(o, "duration_ms");
    s_add_text(o, "error", r->error);
    s_add_text(o, "owner", r->owner);
    cJSON *info = r->info_json ? cJSON_Parse(r->info_json) : NULL;
    cJSON_AddItemToObject(o, "info", info ? info : cJSON_CreateNull());
    cJSON_AddItemToArray(ctx, o);
    return DLD_OK;
}

int ddb_history(void *inst, const char *table, int32_t limit, char **runs_json, struct dld_error *err)
{
    struct ddb *d = inst;
    *runs_json = NULL;
    cJSON *arr = cJSON_CreateArray();
    if (arr == NULL)
        return ddb_oom(err);
    int rc = ddb_runs_history(d, table, limit, s_add_json, arr, err);
    if (rc == DLD_ERR_FATAL && err->message[0] == '\0')
        rc = ddb_oom(err);
    if (rc == DLD_OK) {
        char *text = cJSON_PrintUnformatted(arr);
        *runs_json = text ? dld_host_strdup(d->host, text) : NULL;
        cJSON_free(text);
        if (*runs_json == NULL)
            rc = ddb_oom(err);
    }
    cJSON_Delete(arr);
    return rc;
}

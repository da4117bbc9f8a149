/*
 * The delta-load state machine, per table, one window at a time:
 *
 *   claim (lease) → recover a dead attempt → plan (fix the window inside the
 *   source's read snapshot, record it) → extract + write (stage) → publish →
 *   commit (watermark := high, with statistics) → release
 *
 * Every transition is written to the state store before the next step
 * starts, so a process killed anywhere leaves a record the next run acts on:
 *   PLANNED / STAGED  → the target's files of that load are discarded and
 *                       the same window is loaded again;
 *   PUBLISHED, or STAGED with the target's manifest present
 *                     → the window is committed, not loaded twice.
 * The watermark only moves in run_commit, after the target has published,
 * and only forward: a delta window that yields no rows commits nothing.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "engine.h"
#include "host.h"

#define S_COMPONENT "engine"

const char *dld_outcome_name(int o)
{
    static const char *n[] = {"?", "committed", "noop", "failed", "leased", "inactive", "planned"};
    return o >= 1 && o <= 6 ? n[o] : "?";
}

const char *dld_run_status_name(uint32_t s)
{
    static const char *n[] = {"?", "planned", "staged", "published", "committed", "failed", "aborted", "noop"};
    return s >= 1 && s <= 7 ? n[s] : "?";
}

const char *dld_mode_name(uint32_t m)
{
    return m == DLD_MODE_DELTA ? "delta" : m == DLD_MODE_FULL ? "full" : m == DLD_MODE_BACKFILL ? "backfill" : "?";
}

const char *dld_engine_owner(void)
{
    static char owner[300];
    if (owner[0] == '\0') {
        char host[256] = "localhost";
        gethostname(host, sizeof host - 1);
        snprintf(owner, sizeof owner, "%s:%ld", host, (long)getpid());
    }
    return owner;
}

static char *s_dup(const char *s) { return s ? strdup(s) : NULL; }

/* ---- per-worker plugin instances ------------------------------------------------ */
struct s_instances {
    struct dld_config *cfg;
    void *source, *target, *state;
};

static int s_open(struct dld_config *cfg, uint32_t kind, void **inst, struct dld_error *err)
{
    struct dld_plugin_conf *pc = &cfg->kinds[kind];
    const struct dld_host *host = dld_core_host();
    const char *const *kv = (const char *const *)pc->kv;
    int rc;
    switch (kind) {
    case DLD_KIND_SOURCE: rc = pc->loaded.vt.source.open(host, kv, inst, err); break;
    case DLD_KIND_TARGET: rc = pc->loaded.vt.target.open(host, kv, inst, err); break;
    case DLD_KIND_STATE: rc = pc->loaded.vt.state.open(host, kv, inst, err); break;
    default: rc = pc->loaded.vt.scheduler.open(host, kv, inst, err); break;
    }
    if (rc != DLD_OK)
        dld_error_prefix(err, "%s plugin %s", dld_kind_name(kind), pc->plugin);
    return rc;
}

static void s_close_all(struct s_instances *in)
{
    if (in->source)
        in->cfg->kinds[DLD_KIND_SOURCE].loaded.vt.source.close(in->source);
    if (in->target)
        in->cfg->kinds[DLD_KIND_TARGET].loaded.vt.target.close(in->target);
    if (in->state)
        in->cfg->kinds[DLD_KIND_STATE].loaded.vt.state.close(in->state);
    in->source = in->target = in->state = NULL;
}

/* ---- one load ------------------------------------------------------------------- */
struct s_load {
    struct s_instances *in;
    const struct dld_source_vtable *src;
    const struct dld_target_vtable *tgt;
    const struct dld_state_vtable *st;
    const struct dld_item *item;
    const struct dld_run_request *req;
    struct dld_table_result *res;
    int64_t token;
    int64_t last_renew_ms;
    struct dld_run run;       /* the record kept in the state store; strings owned here */
    char *retry_high;         /* high mark of an interrupted attempt to load again */
    bool retry_inclusive_known;
};

static int s_renew_if_due(struct s_load *l, struct dld_error *err)
{
    int64_t now = dld_core_now_ms();
    int64_t ttl = l->in->cfg->engine.lease_ttl_ms;
    if (now - l->last_renew_ms < ttl / 3)
        return DLD_OK;
    int rc = l->st->lease_renew(l->in->state, l->item->name, l->token, ttl, err);
    if (rc == DLD_OK)
        l->last_renew_ms = now;
    else
        dld_error_prefix(err, "renewing the lease");
    return rc;
}

static int s_record(struct s_load *l, uint32_t status, struct dld_error *err)
{
    /* a slow step (a long high-mark query, a big upload) may have eaten
     * into the lease: renew it first when due, so the record is not refused */
    int rc = s_renew_if_due(l, err);
    if (rc)
        return rc;
    l->run.status = status;
    l->run.ended_ms = dld_core_now_ms();
    rc = l->st->run_record(l->in->state, &l->run, l->token, err);
    if (rc)
        dld_error_prefix(err, "recording %s", dld_run_status_name(status));
    return rc;
}

static void s_load_view(const struct s_load *l, const struct dld_run *run, struct dld_load *load)
{
    *load = (struct dld_load){
        .struct_size = sizeof(*load),
        .table = &l->item->t,
        .load_id = run->load_id,
        .mode = run->mode,
        .low = run->low,
        .low_inclusive = run->low_inclusive,
        .high = run->high,
        .snapshot = l->res->snapshot,
        .started_ms = run->started_ms,
    };
}

/* A previous attempt died between PLANNED and COMMITTED: finish or undo it. */
static int s_recover(struct s_load *l, struct dld_error *err)
{
    struct dld_run last = {.struct_size = sizeof(last)};
    int rc = l->st->run_last(l->in->state, l->item->name, &last, err);
    if (rc == DLD_ERR_NOT_FOUND) {
        dld_error_init(err);
        l->run.load_id = 1;
        return DLD_OK;
    }
    if (rc)
        return rc;
    l->run.load_id = last.load_id + 1;
    if (last.status == DLD_RUN_FAILED && !l->req->plan_only) {
        /* A failed load's files were removed when it failed, unless that
         * clean-up failed too (the target was unreachable). Discarding is
         * idempotent, so do it again before anything else: until it
         * succeeds the table makes no progress and keeps saying why. */
        struct dld_load load;
        s_load_view(l, &last, &load);
        rc = l->tgt->load_discard(l->in->target, &load, err);
        if (rc)
            dld_error_prefix(err, "removing the files of failed load %lld", (long long)last.load_id);
        dld_run_clean_up(dld_core_host(), &last);
        return rc;
    }
    bool interrupted = last.status == DLD_RUN_PLANNED || last.status == DLD_RUN_STAGED ||
                       last.status == DLD_RUN_PUBLISHED;
    if (!interrupted || l->req->plan_only) {
        if (interrupted && l->req->plan_only)
            l->res->recovery = s_dup("an interrupted load will be recovered by the next run");
        dld_run_clean_up(dld_core_host(), &last);
        return DLD_OK;
    }
    struct dld_load load;
    s_load_view(l, &last, &load);
    int published = last.status == DLD_RUN_PUBLISHED;
    if (!published && (rc = l->tgt->load_is_published(l->in->target, &load, &published, err)))
        goto out;
    char msg[512];
    if (published) {
        /* the files are visible: make the state agree instead of loading again */
        last.ended_ms = dld_core_now_ms();
        rc = l->st->run_commit(l->in->state, &last, last.mode == DLD_MODE_DELTA, l->token, err);
        snprintf(msg, sizeof msg, "load %lld (%s) was published but not committed: committed it",
                 (long long)last.load_id, dld_run_status_name(last.status));
    } else {
        if ((rc = l->tgt->load_discard(l->in->target, &load, err)))
            goto out;
        uint32_t was = last.status;
        last.status = DLD_RUN_ABORTED;
        last.ended_ms = dld_core_now_ms();
        free(last.error);
        last.error = strdup("interrupted; files removed by recovery");
        rc = l->st->run_record(l->in->state, &last, l->token, err);
        /* retry the same window (same high mark) if it was a delta */
        if (rc == DLD_OK && last.mode == DLD_MODE_DELTA && last.high)
            l->retry_high = strdup(last.high);
        snprintf(msg, sizeof msg, "load %lld was interrupted at %s: removed its files%s", (long long)last.load_id,
                 dld_run_status_name(was), l->retry_high ? ", loading the same window again" : "");
    }
    if (rc == DLD_OK) {
        dld_core_logf(DLD_LOG_WARN, l->item->name, "recovery: %s", msg);
        l->res->recovery = strdup(msg);
    }
out:
    dld_run_clean_up(dld_core_host(), &last);
    if (rc)
        dld_error_prefix(err, "recovering load %lld", (long long)(l->run.load_id - 1));
    return rc;
}

static char *s_info_json(const struct dld_extract_info *info)
{
    cJSON *o = cJSON_CreateObject();
    if (info->query)
        cJSON_AddStringToObject(o, "query", info->query);
    if (info->snapshot)
        cJSON_AddStringToObject(o, "snapshot", info->snapshot);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* Streams batches from source to target; returns rows written. */
static int s_stream(struct s_load *l, void *cursor, void *handle, struct dld_error *err)
{
    int64_t rows = 0;
    for (;;) {
        if (dld_core_cancelled())
            return dld_error_set(err, DLD_ERR_RETRY, "interrupted by a signal");
        struct ArrowSchema schema = {0};
        struct ArrowArray batch = {0};
        int rc = l->src->extract_next(cursor, &schema, &batch, err);
        if (rc == DLD_DONE)
            break;
        if (rc != DLD_OK) {
            dld_error_prefix(err, "reading %s", l->item->table);
            return rc;
        }
        rc = l->tgt->load_write(handle, &schema, &batch, err);
        rows += batch.length;
        dld_arrow_release(&schema, &batch);
        if (rc != DLD_OK) {
            dld_error_prefix(err, "writing");
            return rc;
        }
        dld_progress_update(l->item->name, rows, l->run.started_ms);
        if ((rc = s_renew_if_due(l, err)))
            return rc;
    }
    l->run.rows = rows;
    return DLD_OK;
}

/* One attempt at one window: plan → extract/write → publish → commit. */
static int s_attempt(struct s_load *l, struct dld_error *err)
{
    struct dld_item const *it = l->item;
    struct dld_table_result *res = l->res;
    const struct dld_host *host = dld_core_host();
    struct dld_watermark wm = {.struct_size = sizeof(wm)};
    int rc;
    uint32_t mode = l->req->backfill_from ? DLD_MODE_BACKFILL : it->mode;
    const char *low = NULL, *high = NULL;
    int low_inclusive = 0;
    if (mode == DLD_MODE_DELTA) {
        if ((rc = l->st->watermark_get(l->in->state, it->name, &wm, err)))
            return rc;
        low = wm.value ? wm.value : it->start;
        low_inclusive = wm.value == NULL; /* the item's startvalue is inclusive, a watermark exclusive */
        high = l->retry_high;
    } else if (mode == DLD_MODE_BACKFILL) {
        low = l->req->backfill_from;
        low_inclusive = 1;
        high = l->req->backfill_to;
    }
    struct dld_extract_request xr = {
        .struct_size = sizeof(xr),
        .table = &it->t,
        .mode = mode,
        .low = low,
        .low_inclusive = low_inclusive,
        .high = high,
        .batch_rows = (uint32_t)l->in->cfg->engine.batch_rows,
    };
    struct dld_extract_info info = {.struct_size = sizeof(info)};
    struct dld_load load = {0};
    void *cursor = NULL, *handle = NULL;
    l->run.mode = mode;
    l->run.started_ms = dld_core_now_ms();
    rc = l->src->extract_begin(l->in->source, &xr, &info, &cursor, err);
    if (rc != DLD_OK) {
        dld_error_prefix(err, "planning %s", it->name);
        free(l->run.low);
        l->run.low = s_dup(low);
        l->run.low_inclusive = low_inclusive;
        if (l->req->plan_only)
            goto done;
        goto fail; /* recorded as a failed load, so status and history show why */
    }
    /* the window is fixed now: record it before reading any row */
    free(l->run.low);
    free(l->run.high);
    free(l->run.info_json);
    l->run.low = s_dup(low);
    l->run.low_inclusive = low_inclusive;
    l->run.high = s_dup(info.high);
    l->run.info_json = s_info_json(&info);
    res->mode = mode;
    res->load_id = l->run.load_id;
    free(res->low), free(res->high), free(res->query), free(res->snapshot);
    res->low = s_dup(low);
    res->low_inclusive = low_inclusive;
    res->high = s_dup(info.high);
    res->query = s_dup(info.query);
    res->snapshot = s_dup(info.snapshot);
    if (l->req->plan_only) {
        res->outcome = DLD_OUT_PLANNED;
        goto done;
    }
    if (mode != DLD_MODE_FULL && info.high == NULL) {
        /* nothing at all in range: no files, nothing moves */
        rc = s_record(l, DLD_RUN_NOOP, err);
        res->outcome = DLD_OUT_NOOP;
        goto done;
    }
    if ((rc = s_record(l, DLD_RUN_PLANNED, err)))
        goto done;
    s_load_view(l, &l->run, &load);
    if ((rc = l->tgt->load_begin(l->in->target, &load, &handle, err))) {
        dld_error_prefix(err, "starting the load");
        goto fail;
    }
    if ((rc = s_stream(l, cursor, handle, err)))
        goto fail;
    l->src->extract_end(cursor);
    cursor = NULL;
    if (mode != DLD_MODE_FULL && l->run.rows == 0) {
        /* An empty delta window commits nothing: the watermark must never
         * move without rows behind it (a lag or a clock may put high below
         * the watermark, and moving back would load rows twice). */
        l->tgt->load_free(handle);
        handle = NULL;
        if ((rc = l->tgt->load_discard(l->in->target, &load, err)))
            goto fail;
        rc = s_record(l, DLD_RUN_NOOP, err);
        res->outcome = DLD_OUT_NOOP;
        goto done;
    }
    struct dld_load_stats stats = {.struct_size = sizeof(stats)};
    if ((rc = l->tgt->load_finish(handle, &stats, err))) {
        dld_error_prefix(err, "finishing files");
        goto fail;
    }
    l->run.bytes = stats.bytes;
    l->run.files = stats.files;
    if ((rc = s_record(l, DLD_RUN_STAGED, err)))
        goto fail;
    if ((rc = l->tgt->load_publish(handle, err))) {
        dld_error_prefix(err, "publishing");
        goto fail;
    }
    if ((rc = s_record(l, DLD_RUN_PUBLISHED, err)))
        goto done; /* published but unrecorded: recovery commits it; never discard visible files here */
    l->run.ended_ms = dld_core_now_ms();
    if ((rc = s_renew_if_due(l, err)) == DLD_OK)
        rc = l->st->run_commit(l->in->state, &l->run, mode == DLD_MODE_DELTA, l->token, err);
    if (rc) {
        dld_error_prefix(err, "committing");
        goto done; /* as above: the next run's recovery commits */
    }
    l->run.status = DLD_RUN_COMMITTED;
    res->outcome = DLD_OUT_COMMITTED;
    goto done;
fail:
    if (handle) {
        l->tgt->load_free(handle);
        handle = NULL;
    }
    {
        struct dld_error derr;
        dld_error_init(&derr);
        if (load.table != NULL && l->tgt->load_discard(l->in->target, &load, &derr) != DLD_OK)
            dld_core_logf(DLD_LOG_ERROR, it->name, "could not remove the files of failed load %lld: %s",
                          (long long)l->run.load_id, derr.message);
        free(l->run.error);
        l->run.error = strdup(err->message);
        struct dld_error rerr;
        dld_error_init(&rerr);
        if (s_record(l, DLD_RUN_FAILED, &rerr) != DLD_OK)
            dld_core_logf(DLD_LOG_ERROR, it->name, "could not record the failure: %s", rerr.message);
    }
done:
    if (handle)
        l->tgt->load_free(handle);
    if (cursor)
        l->src->extract_end(cursor);
    res->rows = l->run.rows;
    res->bytes = l->run.bytes;
    res->files = l->run.files;
    host->free(info.high);
    host->free(info.query);
    host->free(info.snapshot);
    dld_watermark_clean_up(host, &wm);
    return rc;
}

static void s_load_table(struct s_instances *in, const struct dld_item *item, const struct dld_run_request *req,
                         struct dld_table_result *res)
{
    struct dld_config *cfg = in->cfg;
    struct s_load l = {
        .in = in,
        .src = &cfg->kinds[DLD_KIND_SOURCE].loaded.vt.source,
        .tgt = &cfg->kinds[DLD_KIND_TARGET].loaded.vt.target,
        .st = &cfg->kinds[DLD_KIND_STATE].loaded.vt.state,
        .item = item,
        .req = req,
        .res = res,
    };
    l.run.struct_size = sizeof(l.run);
    l.run.table = item->name;
    l.run.owner = (char *)dld_engine_owner();
    struct dld_error err;
    dld_error_init(&err);
    res->started_ms = dld_core_now_ms();
    int rc = DLD_OK;
    bool leased = false;
    if (!req->plan_only) {
        rc = l.st->lease_acquire(in->state, item->name, dld_engine_owner(), cfg->engine.lease_ttl_ms, &l.token, &err);
        if (rc == DLD_ERR_CONFLICT) {
            res->outcome = DLD_OUT_LEASED;
            res->error = strdup(err.message);
            dld_core_logf(DLD_LOG_WARN, item->name, "skipped: %s", err.message);
            goto out;
        }
        if (rc)
            goto failed;
        leased = true;
        l.last_renew_ms = dld_core_now_ms();
    }
    if ((rc = s_recover(&l, &err)))
        goto failed;
    for (int attempt = 0;; attempt++) {
        /* a fresh record for every attempt; strings of the previous one go */
        free(l.run.error);
        l.run.error = NULL;
        l.run.rows = l.run.bytes = l.run.files = 0;
        rc = s_attempt(&l, &err);
        if (rc == DLD_OK || !err.retryable || attempt >= cfg->engine.retries || req->plan_only ||
            dld_core_cancelled())
            break;
        dld_core_logf(DLD_LOG_WARN, item->name, "load %lld failed (%s), retrying the same window: %s",
                      (long long)l.run.load_id, dld_code_name(rc), err.message);
        /* retry the same window as a new load */
        if (l.run.mode == DLD_MODE_DELTA && l.run.high && !l.retry_high)
            l.retry_high = strdup(l.run.high);
        l.run.load_id++;
        dld_error_init(&err);
        sleep((unsigned)(1 + attempt));
    }
    if (rc == DLD_OK)
        goto out;
failed:
    res->outcome = DLD_OUT_FAILED;
    res->error = strdup(err.message[0] ? err.message : dld_code_name(rc));
    dld_core_logf(DLD_LOG_ERROR, item->name, "failed: %s", res->error);
out:
    if (leased) {
        struct dld_error rerr;
        dld_error_init(&rerr);
        if (l.st->lease_release(in->state, item->name, l.token, &rerr) != DLD_OK)
            dld_core_logf(DLD_LOG_WARN, item->name, "could not release the lease: %s", rerr.message);
    }
    dld_progress_clear();
    res->ended_ms = dld_core_now_ms();
    free(l.run.low);
    free(l.run.high);
    free(l.run.error);
    free(l.run.info_json);
    free(l.retry_high);
}

/* ---- the worker pool ---------------------------------------------------------------- */
struct s_pool {
    struct dld_config *cfg;
    const struct dld_run_request *req;
    struct dld_item *items;
    struct dld_table_result *results;
    int n;
    int next;
    pthread_mutex_t lock;
};

static void s_log_result(const struct dld_table_result *r)
{
    double secs = (double)(r->ended_ms - r->started_ms) / 1000.0;
    switch (r->outcome) {
    case DLD_OUT_COMMITTED:
        dld_core_logf(DLD_LOG_INFO, r->name, "load %lld committed: %lld rows, %lld files, %lld bytes in %.2fs, window %s%s, %s]",
                      (long long)r->load_id, (long long)r->rows, (long long)r->files, (long long)r->bytes, secs,
                      r->low && r->low_inclusive ? "[" : "(", r->low ? r->low : "-inf", r->high ? r->high : "+inf");
        break;
    case DLD_OUT_NOOP:
        dld_core_logf(DLD_LOG_INFO, r->name, "nothing new (load %lld)", (long long)r->load_id);
        break;
    default:
        break;
    }
}

static void *s_worker(void *arg)
{
    struct s_pool *p = arg;
    struct s_instances in = {.cfg = p->cfg};
    struct dld_error err;
    dld_error_init(&err);
    int open_rc = s_open(p->cfg, DLD_KIND_STATE, &in.state, &err);
    if (open_rc == DLD_OK)
        open_rc = s_open(p->cfg, DLD_KIND_SOURCE, &in.source, &err);
    if (open_rc == DLD_OK && !p->req->plan_only)
        open_rc = s_open(p->cfg, DLD_KIND_TARGET, &in.target, &err);
    for (;;) {
        pthread_mutex_lock(&p->lock);
        int i = p->next < p->n ? p->next++ : -1;
        pthread_mutex_unlock(&p->lock);
        if (i < 0)
            break;
        struct dld_table_result *res = &p->results[i];
        if (open_rc != DLD_OK) {
            res->outcome = DLD_OUT_FAILED;
            res->error = strdup(err.message);
            res->started_ms = res->ended_ms = dld_core_now_ms();
            continue;
        }
        s_load_table(&in, &p->items[i], p->req, res);
        s_log_result(res);
    }
    s_close_all(&in);
    return NULL;
}

int dld_engine_sync_items(struct dld_config *cfg, void *state_inst, struct dld_error *err)
{
    const struct dld_state_vtable *st = &cfg->kinds[DLD_KIND_STATE].loaded.vt.state;
    for (const cJSON *t = cfg->tables ? cfg->tables->child : NULL; t; t = t->next) {
        struct dld_item it;
        int rc = dld_item_parse(t, &it, err);
        if (rc) {
            dld_error_prefix(err, "%s: tables", cfg->path);
            return rc;
        }
        rc = st->item_put(state_inst, it.name, it.item_json, err);
        dld_item_clean_up(&it);
        if (rc)
            return rc;
    }
    return DLD_OK;
}

/* Replaces or adds the config's items in a stored item list (JSON array). */
static void s_overlay_config_items(struct dld_config *cfg, cJSON *arr)
{
    for (const cJSON *t = cfg->tables ? cfg->tables->child : NULL; t; t = t->next) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "targetTableName"));
        int i = 0;
        cJSON *c = arr->child;
        for (; c; c = c->next, i++) {
            const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "targetTableName"));
            if (name && n && !strcmp(name, n))
                break;
        }
        if (c)
            cJSON_ReplaceItemInArray(arr, i, cJSON_Duplicate(t, 1));
        else
            cJSON_AddItemToArray(arr, cJSON_Duplicate(t, 1));
    }
}

static bool s_selected(const struct dld_run_request *req, const char *name)
{
    if (req->tables == NULL)
        return true;
    for (size_t i = 0; req->tables[i]; i++)
        if (strcmp(req->tables[i], name) == 0)
            return true;
    return false;
}

int dld_engine_run(struct dld_config *cfg, const struct dld_run_request *req, struct dld_table_result **results,
                   int *nresults, struct dld_error *err)
{
    *results = NULL;
    *nresults = 0;
    int rc;
    uint32_t kinds[] = {DLD_KIND_STATE, DLD_KIND_SOURCE, DLD_KIND_TARGET};
    for (size_t k = 0; k < (req->plan_only ? 2u : 3u); k++)
        if ((rc = dld_config_plugin(cfg, kinds[k], err)))
            return rc;
    const struct dld_state_vtable *st = &cfg->kinds[DLD_KIND_STATE].loaded.vt.state;
    void *state = NULL;
    if ((rc = s_open(cfg, DLD_KIND_STATE, &state, err)))
        return rc;
    char *list = NULL;
    if (!req->plan_only && (rc = dld_engine_sync_items(cfg, state, err))) {
        st->close(state);
        return rc;
    }
    rc = st->item_list(state, &list, err);
    st->close(state);
    if (rc)
        return rc;
    cJSON *arr = cJSON_Parse(list);
    free(list);
    if (!cJSON_IsArray(arr)) {
        cJSON_Delete(arr);
        return dld_error_set(err, DLD_ERR_FATAL, "the state store returned a malformed item list");
    }
    if (req->plan_only)
        s_overlay_config_items(cfg, arr); /* plan writes nothing, so show the config's items as run would store them */
    int cap = cJSON_GetArraySize(arr);
    struct s_pool pool = {.cfg = cfg, .req = req};
    pool.items = calloc((size_t)cap + 1, sizeof(*pool.items));
    pool.results = calloc((size_t)cap + 1, sizeof(*pool.results));
    pthread_mutex_init(&pool.lock, NULL);
    /* results for items that cannot run are filled here; runnable ones are
     * packed first so workers take them from the front */
    struct dld_table_result *skipped = calloc((size_t)cap + 1, sizeof(*skipped));
    int nskipped = 0;
    for (const cJSON *c = arr->child; c; c = c->next) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "targetTableName");
        const char *n = cJSON_IsString(name) ? name->valuestring : "(unnamed)";
        if (!s_selected(req, n))
            continue;
        struct dld_error ierr;
        dld_error_init(&ierr);
        struct dld_item it;
        if (dld_item_parse(c, &it, &ierr) != DLD_OK) {
            struct dld_table_result *r = &skipped[nskipped++];
            r->name = strdup(n);
            r->outcome = DLD_OUT_FAILED;
            r->error = strdup(ierr.message);
            r->started_ms = r->ended_ms = dld_core_now_ms();
            dld_core_logf(DLD_LOG_ERROR, n, "refused: %s", ierr.message);
            continue;
        }
        if (!it.active) {
            if (req->tables) { /* named explicitly: say why nothing happens */
                struct dld_table_result *r = &skipped[nskipped++];
                r->name = strdup(n);
                r->outcome = DLD_OUT_INACTIVE;
                r->error = strdup("activeflag is N; `deltaload tables enable` it first");
            }
            dld_item_clean_up(&it);
            continue;
        }
        pool.results[pool.n].name = strdup(it.name);
        pool.items[pool.n++] = it;
    }
    cJSON_Delete(arr);
    for (size_t i = 0; req->tables && req->tables[i]; i++) {
        bool found = false;
        for (int j = 0; j < pool.n && !found; j++)
            found = strcmp(pool.items[j].name, req->tables[i]) == 0;
        for (int j = 0; j < nskipped && !found; j++)
            found = strcmp(skipped[j].name, req->tables[i]) == 0;
        if (!found) {
            rc = dld_error_set(err, DLD_ERR_NOT_FOUND, "no controller item named '%s' (see `deltaload tables list`)",
                               req->tables[i]);
            goto cleanup;
        }
    }
    int nthreads = cfg->engine.parallelism < pool.n ? cfg->engine.parallelism : pool.n;
    pthread_t threads[64];
    for (int i = 0; i < nthreads; i++)
        pthread_create(&threads[i], NULL, s_worker, &pool);
    for (int i = 0; i < nthreads; i++)
        pthread_join(threads[i], NULL);
    for (int i = 0; i < nskipped; i++)
        pool.results[pool.n + i] = skipped[i];
    *results = pool.results;
    *nresults = pool.n + nskipped;
    pool.results = NULL;
    nskipped = 0;
    rc = DLD_OK;
cleanup:
    for (int i = 0; i < pool.n; i++)
        dld_item_clean_up(&pool.items[i]);
    free(pool.items);
    if (pool.results)
        dld_results_free(pool.results, pool.n);
    if (nskipped)
        dld_results_free(skipped, nskipped);
    else
        free(skipped);
    pthread_mutex_destroy(&pool.lock);
    return rc;
}

void dld_results_free(struct dld_table_result *r, int n)
{
    for (int i = 0; i < n; i++) {
        free(r[i].name);
        free(r[i].low);
        free(r[i].high);
        free(r[i].query);
        free(r[i].snapshot);
        free(r[i].recovery);
        free(r[i].error);
    }
    free(r);
}

/*
 * The delta-load state machine, per table, one window at a time:
 *
 *   claim (lease) → recover every unfinished load → plan (fix the window
 *   inside the source's read snapshot, record it) → extract + write (stage)
 *   → check the lease → publish → commit (watermark := high) → release
 *
 * Every transition is written to the state store before the next step
 * starts, so a process killed anywhere leaves a record the next run acts
 * on. What a failure of each step does, whether this process may try the
 * window again, and what recovery does with each unfinished status is the
 * transition table below (s_steps and s_recovery): the one place those
 * rules live. docs/semantics.md prints the same table.
 *
 * A load's identity on the target is its load uid (random, recorded in the
 * run's info_json before any file is written); its manifest slot is claimed
 * exactly once, by publish or by discard (lake.h), which is what fences a
 * holder that stalled past its lease. The watermark only moves in
 * run_commit, after the target has published, only forward, and never over
 * an operator's reset.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <deltaload/lake.h>

#include "engine.h"
#include "heartbeat.h"
#include "host.h"
#include "runs.h"
#include "schema_track.h"

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

/* host:pid:random:proc. The random part keeps two processes that share a
 * host name and a pid (containers all running as PID 1) apart; proc (start
 * time, boot and pid namespace: heartbeat.c) lets a later run on this
 * machine see that the holder of a lease died. Computed once, before any
 * worker thread reads it. */
static char s_owner[400];
static pthread_once_t s_owner_once = PTHREAD_ONCE_INIT;
static void s_owner_init(void)
{
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    char uid[17] = "0000000000000000";
    struct dld_error err;
    dld_error_init(&err);
    if (dld_lake_new_uid(uid, &err) != DLD_OK) /* no random source: pid and time still differ */
        snprintf(uid, sizeof uid, "%016llx", (unsigned long long)dld_core_now_ms());
    char proc[64];
    dld_owner_proc_id((long)getpid(), proc, sizeof proc);
    snprintf(s_owner, sizeof s_owner, "%s:%ld:%.8s%s%s", host, (long)getpid(), uid, proc[0] ? ":" : "", proc);
}

const char *dld_engine_owner(void)
{
    pthread_once(&s_owner_once, s_owner_init);
    return s_owner;
}

static char *s_dup(const char *s) { return s ? strdup(s) : NULL; }

/* ---- the transition table ------------------------------------------------------
 *
 * Steps of one attempt, in order. For each: the status the state store
 * holds while it runs, what may be on the target if it fails, how this
 * process settles the load after a failure, and whether it may then try
 * again (after a retryable error, within engine.retries):
 *   RETRY_WINDOW   a new load of the same window: nothing of the failed
 *                  load is left (never once anything may be visible);
 *   RETRY_RECOVER  run recovery first: it commits the load if it was
 *                  published (the cycle ends there) or discards it, and
 *                  only then is the window loaded again;
 *   RETRY_NEVER    stop; the next run's recovery settles it.
 * Before any new attempt recovery runs again, so a load whose discard
 * failed holds the table until the discard succeeds.
 */
enum s_step {
    S_PLAN,              /* extract_begin: the source fixes the window */
    S_RECORD_PLANNED,
    S_SCHEMA,            /* the columns compared with the last committed load's (schema_track.h); under
                          * schema_change rewrite a change sends the attempt back to S_PLAN, once, to
                          * plan the window from the beginning for the next table version */
    S_WRITE,             /* load_begin, extract_next / load_write, load_finish */
    S_RECORD_STAGED,
    S_FENCE,             /* the lease re-checked right before publish */
    S_PUBLISH,
    S_RECORD_PUBLISHED,
    S_COMMIT,            /* run_commit: the watermark moves */
};
enum s_settle {
    SETTLE_RECORD_FAILED, /* nothing reached the target: record FAILED */
    SETTLE_DISCARD,       /* unpublished files may exist: discard (claims the manifest slot), then FAILED */
    SETTLE_ASK_TARGET,    /* published or not is unknown: published → commit, else as SETTLE_DISCARD */
    SETTLE_LEAVE,         /* published: only a commit may follow; recovery makes it */
};
enum s_retry { RETRY_WINDOW, RETRY_RECOVER, RETRY_NEVER };

static const struct s_step_rule {
    const char *name;
    uint32_t store_holds;     /* 0: no record of this load yet (or a lost one) */
    const char *target_holds;
    enum s_settle settle;
    enum s_retry retry;
} s_steps[] = {
    /* step                  name                   store holds          target holds            on failure             retry */
    [S_PLAN]             = {"planning",            0,                   "nothing",              SETTLE_RECORD_FAILED, RETRY_WINDOW},
    [S_RECORD_PLANNED]   = {"recording planned",   0,                   "nothing",              SETTLE_RECORD_FAILED, RETRY_WINDOW},
    [S_SCHEMA]           = {"checking the columns", DLD_RUN_PLANNED,    "nothing",              SETTLE_RECORD_FAILED, RETRY_WINDOW},
    [S_WRITE]            = {"writing",             DLD_RUN_PLANNED,     "unpublished files",    SETTLE_DISCARD,       RETRY_WINDOW},
    [S_RECORD_STAGED]    = {"recording staged",    DLD_RUN_PLANNED,     "unpublished files",    SETTLE_DISCARD,       RETRY_WINDOW},
    [S_FENCE]            = {"checking the lease",  DLD_RUN_STAGED,      "unpublished files",    SETTLE_DISCARD,       RETRY_WINDOW},
    [S_PUBLISH]          = {"publishing",          DLD_RUN_STAGED,      "files, maybe manifest", SETTLE_ASK_TARGET,   RETRY_RECOVER},
    [S_RECORD_PUBLISHED] = {"recording published", DLD_RUN_STAGED,      "published load",       SETTLE_LEAVE,         RETRY_RECOVER},
    [S_COMMIT]           = {"committing",          DLD_RUN_PUBLISHED,   "published load",       SETTLE_LEAVE,         RETRY_RECOVER},
};

/* Recovery: what the next run (or this one, before a retry) does with each
 * status that is not final, for every such run of the table in load order.
 * COMMITTED, FAILED, ABORTED and NOOP are final. */
static const struct s_recovery_rule {
    uint32_t status;
    enum s_settle settle; /* final status after a discard: ABORTED */
} s_recovery[] = {
    {DLD_RUN_PLANNED, SETTLE_ASK_TARGET},   /* a stalled holder may still publish: the discard's claim fences it */
    {DLD_RUN_STAGED, SETTLE_ASK_TARGET},
    {DLD_RUN_PUBLISHED, SETTLE_LEAVE},      /* LEAVE in recovery means: commit it */
};

/* ---- per-worker plugin instances ------------------------------------------------ */
struct s_instances {
    struct dld_config *cfg;
    void *source, *target, *state;
    void *beat_state; /* the heartbeat thread's own state instance */
    uint32_t batch_rows; /* asked of the source: engine.batch_rows shared by the loads running at once */
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
    if (in->beat_state)
        in->cfg->kinds[DLD_KIND_STATE].loaded.vt.state.close(in->beat_state);
    in->source = in->target = in->state = in->beat_state = NULL;
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
    struct dld_heartbeat beat;
    struct dld_run run;       /* the record kept in the state store; strings owned here */
    char uid[17];             /* the attempt's load uid */
    enum s_step step;         /* the step that failed, when an attempt fails */
    char *retry_high;         /* high mark of an interrupted attempt to load again */
    bool recovered_commit;    /* the last recovery committed a published load */
    /* the attempt's columns (schema_track.h): declared by the source in
     * extract_begin, or taken from its first batch, read before the target
     * sees anything and handed to it first */
    char *columns;
    struct dld_last_committed last; /* the table's newest committed run, read once per attempt */
    bool declared;            /* columns came from extract_begin: the first batch must match */
    bool first_pending, first_done;
    struct ArrowSchema first_schema;
    struct ArrowArray first_batch;
    /* schema_change rewrite (schema_track.h "table versions"): the check
     * asked for one; the table the target is handed for a run's version */
    bool rewrite_due;
    struct dld_table vtable;
    char vname[160];
};

/* The load's uid, from the run's info_json ("load_uid"); NULL for a run
 * written before ABI 1.1 (legacy names on the target). malloc'ed. */
static char *s_run_uid(const struct dld_run *run)
{
    cJSON *info = run->info_json ? cJSON_Parse(run->info_json) : NULL;
    const char *u = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(info, "load_uid"));
    char *out = u && dld_lake_uid_valid(u) ? strdup(u) : NULL;
    cJSON_Delete(info);
    return out;
}

static void s_load_view(struct s_load *l, const struct dld_run *run, const char *uid, struct dld_load *load)
{
    /* the location of the version the run recorded (a rewrite's own; recovery
     * finds the same place) */
    l->vtable = l->item->t;
    dld_table_version_name(l->item->t.target_table_name, dld_run_table_version(run->info_json), l->vname,
                           sizeof l->vname);
    l->vtable.target_table_name = l->vname;
    *load = (struct dld_load){
        .struct_size = sizeof(*load),
        .table = &l->vtable,
        .load_id = run->load_id,
        .mode = run->mode,
        .low = run->low,
        .low_inclusive = run->low_inclusive,
        .high = run->high,
        .snapshot = l->res->snapshot,
        .started_ms = run->started_ms,
        .load_uid = uid,
        .lease_token = l->token,
    };
}

/* The lease, checked now with the store (not only by the heartbeat): the
 * fence right before the target is asked to publish. */
static int s_fence(struct s_load *l, struct dld_error *err)
{
    char why[1100];
    if (dld_heartbeat_lost(&l->beat, why, sizeof why))
        return dld_error_set(err, DLD_ERR_CONFLICT, "%s", why);
    int rc = l->st->lease_renew(l->in->state, l->item->name, l->token, l->in->cfg->engine.lease_ttl_ms, err);
    if (rc)
        dld_error_prefix(err, "checking the lease");
    return rc;
}

static int s_record(struct s_load *l, struct dld_run *run, uint32_t status, struct dld_error *err)
{
    run->status = status;
    run->ended_ms = dld_core_now_ms();
    int rc = l->st->run_record(l->in->state, run, l->token, err);
    if (rc)
        dld_error_prefix(err, "recording %s", dld_run_status_name(status));
    return rc;
}

/* Commits a published load: the run becomes COMMITTED and, for a delta,
 * the watermark its high mark -- unless the watermark is no longer the one
 * the load started from (an operator's reset while the load was published
 * but not committed): then the load is committed and the reset stands. */
static int s_commit(struct s_load *l, struct dld_run *run, struct dld_error *err)
{
    int32_t advance = run->mode == DLD_MODE_DELTA && run->high != NULL;
    if (advance) {
        struct dld_watermark wm = {.struct_size = sizeof(wm)};
        int rc = l->st->watermark_get(l->in->state, l->item->name, &wm, err);
        if (rc)
            return rc;
        char *replaced = NULL; /* a rewrite expects the watermark it replaces, not its own low bound */
        const char *expected = dld_run_rewrite_watermark(run->info_json, &replaced) ? replaced
                               : run->low_inclusive                                  ? NULL
                                                                                     : run->low;
        bool same = (wm.value == NULL && expected == NULL) || (wm.value && expected && !strcmp(wm.value, expected));
        if (!same) {
            advance = 0;
            dld_core_logf(DLD_LOG_WARN, l->item->name,
                          "the watermark was changed to %s while load %lld was published but not committed: "
                          "committing the load and leaving the watermark as set",
                          wm.value ? wm.value : "(cleared)", (long long)run->load_id);
        }
        dld_watermark_clean_up(dld_core_host(), &wm);
        free(replaced);
    }
    run->ended_ms = dld_core_now_ms();
    int rc = l->st->run_commit(l->in->state, run, advance, l->token, err);
    if (rc)
        dld_error_prefix(err, "committing");
    else
        run->status = DLD_RUN_COMMITTED;
    return rc;
}

/* Settles a load that did not reach COMMITTED, as its rule says. `final`
 * is the status a discarded load ends in (FAILED in the failing process,
 * ABORTED in recovery). *what says what happened, for the log. Returns
 * non-zero when the load could not be settled: it stays as recorded and
 * recovery tries again; the table makes no progress meanwhile. */
static int s_settle(struct s_load *l, struct dld_run *run, enum s_settle how, uint32_t final, const char **what,
                    struct dld_error *err)
{
    char *uid = s_run_uid(run);
    struct dld_load load;
    s_load_view(l, run, uid, &load);
    int rc = DLD_OK, published = 0;
    *what = "left for recovery";
    switch (how) {
    case SETTLE_LEAVE:
        goto out;
    case SETTLE_RECORD_FAILED:
        rc = s_record(l, run, final, err);
        *what = "recorded as failed";
        goto out;
    case SETTLE_ASK_TARGET:
        if ((rc = l->tgt->load_is_published(l->in->target, &load, &published, err))) {
            dld_error_prefix(err, "asking the target whether load %lld was published", (long long)run->load_id);
            goto out;
        }
        if (published) {
            rc = s_commit(l, run, err);
            *what = "it was published: committed it";
            goto out;
        }
        /* fall through */
    case SETTLE_DISCARD:
        rc = l->tgt->load_discard(l->in->target, &load, err);
        if (rc == DLD_ERR_CONFLICT) {
            /* the slot was taken by a publish after all (a holder that was
             * still running): the load is visible, so it is committed */
            int p = 0;
            struct dld_error perr;
            dld_error_init(&perr);
            if (l->tgt->load_is_published(l->in->target, &load, &p, &perr) == DLD_OK && p) {
                dld_error_init(err);
                rc = s_commit(l, run, err);
                *what = "it was published meanwhile: committed it";
                goto out;
            }
        }
        if (rc) {
            dld_error_prefix(err, "removing the files of load %lld", (long long)run->load_id);
            goto out;
        }
        rc = s_record(l, run, final, err);
        *what = "removed its files";
        goto out;
    }
out:
    free(uid);
    return rc;
}

static int s_cmp_load_id(const void *a, const void *b)
{
    int64_t x = ((const struct dld_run *)a)->load_id, y = ((const struct dld_run *)b)->load_id;
    return x < y ? -1 : x > y;
}

/* The table's runs that are not final, in load order (*n of them). */
struct s_runs {
    struct dld_run *runs;
    int n, cap;
};

/* runs_unfinished's iterator: a deep copy of the borrowed run */
static int s_keep_run(void *ctx, const struct dld_run *borrowed)
{
    struct s_runs *rs = ctx;
    if (rs->n == rs->cap) {
        int cap = rs->cap ? rs->cap * 2 : 4;
        struct dld_run *grown = realloc(rs->runs, (size_t)cap * sizeof(*grown));
        if (!grown)
            return DLD_ERR_FATAL;
        rs->runs = grown;
        rs->cap = cap;
    }
    struct dld_run *r = &rs->runs[rs->n];
    dld_struct_copy(r, sizeof(*r), borrowed); /* members a shorter record lacks read as zero */
    char **strs[] = {&r->table, &r->low, &r->high, &r->error, &r->owner, &r->info_json};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (*strs[i] && !(*strs[i] = strdup(*strs[i]))) {
            for (size_t k = 0; k < i; k++)
                free(*strs[k]);
            for (size_t k = i + 1; k < sizeof strs / sizeof strs[0]; k++)
                *strs[k] = NULL;
            return DLD_ERR_FATAL;
        }
    rs->n++;
    return DLD_OK;
}

/* From history's JSON, for a store without runs_unfinished. */
static int s_unfinished_from_history(struct s_load *l, struct s_runs *rs, struct dld_error *err)
{
    cJSON *arr = NULL;
    int rc = dld_history_json(l->st, l->in->state, l->item->name, 0, &arr, err);
    for (const cJSON *o = arr ? arr->child : NULL; o && rc == DLD_OK; o = o->next) {
        struct dld_run r;
        if (dld_run_from_json(o, l->item->name, &r) != DLD_OK)
            rc = dld_error_set(err, DLD_ERR_FATAL, "the state store returned a malformed run of '%s'", l->item->name);
        else if ((r.status == DLD_RUN_PLANNED || r.status == DLD_RUN_STAGED || r.status == DLD_RUN_PUBLISHED) &&
                 s_keep_run(rs, &r) != DLD_OK)
            rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        dld_run_clean_up(dld_core_host(), &r);
    }
    cJSON_Delete(arr);
    return rc;
}

static int s_unfinished(struct s_load *l, struct dld_run **out, int *n, struct dld_error *err)
{
    struct s_runs rs = {0};
    int rc;
    if (l->st->runs_unfinished) {
        rc = l->st->runs_unfinished(l->in->state, l->item->name, s_keep_run, &rs, err);
        if (rc && err->message[0] == '\0')
            dld_error_set(err, rc, "reading the unfinished runs of '%s'", l->item->name);
    } else {
        rc = s_unfinished_from_history(l, &rs, err);
    }
    if (rc == DLD_OK) {
        if (rs.n > 1) /* qsort of NULL, 0 is undefined */
            qsort(rs.runs, (size_t)rs.n, sizeof(*rs.runs), s_cmp_load_id);
    } else {
        for (int i = 0; i < rs.n; i++)
            dld_run_clean_up(dld_core_host(), &rs.runs[i]);
        free(rs.runs);
        rs.runs = NULL;
        rs.n = 0;
    }
    *out = rs.runs;
    *n = rs.n;
    return rc;
}

/* The state store has no record of the table: refuse when its lake folder
 * already holds published loads (a lost or a second state store would load
 * them all again, and restart load ids). */
static int s_check_lake_unclaimed(struct s_load *l, struct dld_error *err)
{
    if (l->tgt->manifest_list == NULL)
        return DLD_OK; /* a target built for ABI 1.0: nothing to ask */
    char *json = NULL;
    int rc = l->tgt->manifest_list(l->in->target, &l->item->t, &json, err);
    if (rc) {
        dld_error_prefix(err, "listing the lake's manifests");
        return rc;
    }
    cJSON *arr = cJSON_Parse(json);
    dld_core_host()->free(json);
    int published = 0, orphaned = 0;
    int64_t newest = 0;
    for (const cJSON *m = cJSON_IsArray(arr) ? arr->child : NULL; m; m = m->next) {
        const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "status"));
        orphaned += status && !strcmp(status, "orphaned");
        if (status && strcmp(status, "published"))
            continue;
        published++;
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "load_id");
        if (cJSON_IsNumber(id) && id->valuedouble > (double)newest)
            newest = (int64_t)id->valuedouble;
    }
    cJSON_Delete(arr);
    if (published == 0 && orphaned == 0)
        return DLD_OK;
    if (published == 0)
        return dld_error_set(err, DLD_ERR_CONFLICT,
                             "the state store has no record of table '%s' but its lake folder holds the files of %d "
                             "load(s) that never published (their record went with a lost state store). Remove them "
                             "with `deltaload state rebuild --table %s` (or point the config at the state store that "
                             "wrote them)",
                             l->item->name, orphaned, l->item->name);
    return dld_error_set(err, DLD_ERR_CONFLICT,
                         "the state store has no record of table '%s' but its lake folder holds %d published load(s) "
                         "(newest: load %lld); loading now would load them again. Restore the watermark and history "
                         "from the lake with `deltaload state rebuild --table %s` (or point the config at the state "
                         "store that wrote them)",
                         l->item->name, published, (long long)newest, l->item->name);
}

/* Settles every unfinished load of the table, in load order, before any new
 * load starts; sets the next load id. */
static int s_recover(struct s_load *l, struct dld_error *err)
{
    l->recovered_commit = false;
    struct dld_run last = {.struct_size = sizeof(last)};
    int rc = l->st->run_last(l->in->state, l->item->name, &last, err);
    if (rc == DLD_ERR_NOT_FOUND) {
        dld_error_init(err);
        l->run.load_id = 1;
        return l->req->plan_only ? DLD_OK : s_check_lake_unclaimed(l, err);
    }
    if (rc)
        return rc;
    l->run.load_id = last.load_id + 1;
    char *last_uid = s_run_uid(&last);
    bool legacy_failed = last.status == DLD_RUN_FAILED && last_uid == NULL;
    free(last_uid);
    if (legacy_failed && !l->req->plan_only) {
        /* Written before ABI 1.1, a FAILED record did not promise that its
         * files were gone (the clean-up could have failed): discarding is
         * idempotent, so do it again, as that version did. */
        struct dld_load load;
        s_load_view(l, &last, NULL, &load);
        rc = l->tgt->load_discard(l->in->target, &load, err);
        if (rc)
            dld_error_prefix(err, "removing the files of failed load %lld", (long long)last.load_id);
    }
    dld_run_clean_up(dld_core_host(), &last);
    if (rc)
        return rc;

    struct dld_run *runs = NULL;
    int n = 0;
    if ((rc = s_unfinished(l, &runs, &n, err)))
        return rc;
    if (n > 0 && l->req->plan_only) {
        l->res->recovery = s_dup("an interrupted load will be recovered by the next run");
        goto out;
    }
    for (int i = 0; i < n && rc == DLD_OK; i++) {
        struct dld_run *r = &runs[i];
        enum s_settle how = SETTLE_ASK_TARGET;
        for (size_t k = 0; k < sizeof s_recovery / sizeof s_recovery[0]; k++)
            if (s_recovery[k].status == r->status)
                how = s_recovery[k].settle;
        uint32_t was = r->status;
        const char *what = NULL;
        if (how == SETTLE_LEAVE) {
            rc = s_commit(l, r, err); /* recorded as published: commit it */
            what = "it was published: committed it";
        } else {
            free(r->error);
            r->error = strdup("interrupted; settled by recovery");
            rc = s_settle(l, r, how, DLD_RUN_ABORTED, &what, err);
        }
        if (rc)
            break;
        if (r->status == DLD_RUN_COMMITTED)
            l->recovered_commit = true;
        else if (r->mode == DLD_MODE_DELTA && r->high && i == n - 1) {
            free(l->retry_high); /* load the same window (same high mark) again */
            l->retry_high = strdup(r->high);
        }
        char msg[512];
        snprintf(msg, sizeof msg, "load %lld was interrupted at %s: %s%s", (long long)r->load_id,
                 dld_run_status_name(was), what,
                 r->status == DLD_RUN_ABORTED && l->retry_high && i == n - 1 ? ", loading the same window again" : "");
        dld_core_logf(DLD_LOG_WARN, l->item->name, "recovery: %s", msg);
        free(l->res->recovery);
        l->res->recovery = strdup(msg);
    }
    if (rc)
        dld_error_prefix(err, "recovering load %lld", (long long)(n ? runs[n - 1].load_id : 0));
out:
    for (int i = 0; i < n; i++)
        dld_run_clean_up(dld_core_host(), &runs[i]);
    free(runs);
    return rc;
}

static char *s_info_json(const struct dld_extract_info *info, const char *uid)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    if (info->query)
        cJSON_AddStringToObject(o, "query", info->query);
    if (info->snapshot)
        cJSON_AddStringToObject(o, "snapshot", info->snapshot);
    cJSON_AddStringToObject(o, "load_uid", uid);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* Streams batches from source to target; sets the run's rows. */
static int s_stream(struct s_load *l, void *cursor, void *handle, struct dld_error *err)
{
    int64_t rows = 0;
    char why[1100];
    bool first = true;
    for (;;) {
        if (dld_core_cancelled())
            return dld_error_set(err, DLD_ERR_FATAL, "interrupted by a signal");
        if (dld_heartbeat_lost(&l->beat, why, sizeof why))
            return dld_error_set(err, DLD_ERR_CONFLICT, "%s", why);
        struct ArrowSchema schema = {0};
        struct ArrowArray batch = {0};
        int rc = DLD_DONE;
        if (l->first_pending) { /* the batch s_columns_first_batch read */
            schema = l->first_schema, batch = l->first_batch;
            l->first_schema = (struct ArrowSchema){0}, l->first_batch = (struct ArrowArray){0};
            l->first_pending = false;
            rc = DLD_OK;
        } else if (!l->first_done) { /* (unless s_columns_first_batch saw the end) */
            rc = l->src->extract_next(cursor, &schema, &batch, err);
            if (rc == DLD_OK && l->declared && first &&
                (rc = dld_schema_check_batch(l->columns, &schema, l->in->cfg->kinds[DLD_KIND_SOURCE].plugin, err)))
                dld_arrow_release(&schema, &batch);
        }
        first = false;
        if (rc == DLD_DONE)
            break;
        if (rc != DLD_OK) {
            dld_arrow_release(&schema, &batch);
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
    }
    l->run.rows = rows;
    return DLD_OK;
}

/* The attempt's columns (l->columns) compared with the last committed
 * load's, before the target sees a row: right after extract_begin when the
 * source declared them (ABI 1.2; an empty window is checked too, since a
 * retyped filter column can make a window look empty), else at S_SCHEMA. */
static int s_columns_check(struct s_load *l, struct dld_error *err)
{
    char *note = NULL;
    int policy = l->item->schema_change != DLD_SCHEMA_UNSET ? l->item->schema_change : l->in->cfg->engine.schema_change;
    bool rewrite = false;
    int rc = dld_schema_compare(&l->last, l->item->column, l->columns, policy, &note, &rewrite, err);
    l->rewrite_due = rewrite;
    /* recorded with the run either way: status and history show what was read */
    char *info = dld_schema_info_add(l->run.info_json, l->columns, note);
    if (info) {
        free(l->run.info_json);
        l->run.info_json = info;
    }
    if (note && !rewrite)
        dld_core_logf(DLD_LOG_WARN, l->item->name, "schema_change evolve: %s", note);
    free(note);
    return rc;
}

/* S_SCHEMA, for a source that did not declare its columns: its first batch
 * is read now (the window is recorded; the target has seen nothing) and
 * s_stream writes it first. */
static int s_columns_first_batch(struct s_load *l, void *cursor, struct dld_error *err)
{
    int rc = l->src->extract_next(cursor, &l->first_schema, &l->first_batch, err);
    if (rc == DLD_DONE) {
        l->first_done = true; /* no rows and no schema: nothing to compare */
        return DLD_OK;
    }
    if (rc != DLD_OK) {
        dld_arrow_release(&l->first_schema, &l->first_batch);
        dld_error_prefix(err, "reading %s", l->item->table);
        return rc;
    }
    l->first_pending = true;
    if ((l->columns = dld_schema_columns(&l->first_schema)) == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    return s_columns_check(l, err);
}

/* schema_change rewrite: the columns changed, so the window planned as a
 * delta is dropped (nothing was written) and planned again from the
 * beginning, for version+1 (schema_track.h "table versions"). */
static int s_rewrite_begin(struct s_load *l, uint32_t mode, int64_t version, void **cursor, struct dld_extract_info *info,
                           struct ArrowSchema *declared, struct dld_watermark *wm, struct dld_error *err)
{
    const struct dld_host *host = dld_core_host();
    char where[200];
    dld_table_version_name(l->item->t.target_table_name, version + 1, where, sizeof where);
    if (mode == DLD_MODE_BACKFILL)
        return dld_error_set(err, DLD_ERR_CONFIG,
                             "the columns changed and schema_change rewrite loads the table from the beginning into "
                             "version %lld: run it (not a backfill) first (docs/reliability.md#schema-drift)",
                             (long long)version + 1);
    dld_core_logf(DLD_LOG_WARN, l->item->name,
                  "schema_change rewrite: the columns changed; the window %s a load from the beginning into version "
                  "%lld (%s)",
                  l->req->plan_only ? "would be" : "is", (long long)version + 1, where);
    l->src->extract_end(*cursor);
    *cursor = NULL;
    host->free(info->high);
    host->free(info->query);
    host->free(info->snapshot);
    *info = (struct dld_extract_info){.struct_size = sizeof(*info), .schema = declared};
    dld_arrow_release(declared, NULL);
    *declared = (struct ArrowSchema){0};
    dld_arrow_release(&l->first_schema, &l->first_batch);
    l->first_pending = l->first_done = false;
    dld_watermark_clean_up(host, wm);
    *wm = (struct dld_watermark){.struct_size = sizeof(*wm)};
    return DLD_OK;
}

/* One attempt at one window: plan → extract/write → publish → commit. On
 * failure l->step names the step, and the load is settled by its rule. */
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
    int64_t version = 1;
    bool rewrite = false; /* schema_change rewrite: this window loads version+1 from the beginning */
    l->step = S_PLAN;
    dld_last_committed_clean_up(&l->last);
    if ((rc = dld_lake_new_uid(l->uid, err)) ||
        (rc = dld_last_committed_read(l->st, l->in->state, it->name, &l->last, err)))
        return rc;
    version = l->last.version;
replan:
    l->rewrite_due = false;
    if (mode == DLD_MODE_DELTA) {
        if ((rc = l->st->watermark_get(l->in->state, it->name, &wm, err)))
            return rc;
        low = wm.value && !rewrite ? wm.value : it->start;
        low_inclusive = wm.value == NULL || rewrite; /* the item's startvalue is inclusive, a watermark exclusive */
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
        .batch_rows = l->in->batch_rows,
    };
    struct ArrowSchema declared = {0};
    struct dld_extract_info info = {.struct_size = sizeof(info), .schema = &declared};
    struct dld_load load = {0};
    void *cursor = NULL, *handle = NULL;
    l->run.mode = mode;
    l->run.status = 0;
    l->run.started_ms = dld_core_now_ms();
    free(l->run.high);
    l->run.high = NULL;
    free(l->run.low);
    l->run.low = s_dup(low);
    l->run.low_inclusive = low_inclusive;
    free(l->run.info_json);
    l->run.info_json = NULL;
    free(l->columns);
    l->columns = NULL;
    l->first_pending = l->first_done = false;
    rc = l->src->extract_begin(l->in->source, &xr, &info, &cursor, err);
    if (rc != DLD_OK) {
        dld_error_prefix(err, "planning %s", it->name);
        if (l->req->plan_only)
            goto done;
        /* a retyped filter column can break the plan itself (a text high
         * mark below the low bound): when the source handed its columns
         * over, a schema change is the cause to name */
        struct dld_error serr;
        dld_error_init(&serr);
        if (declared.release && (l->columns = dld_schema_columns(&declared)) &&
            s_columns_check(l, &serr) == DLD_ERR_CONFIG)
            *err = serr;
        goto fail; /* recorded as a failed load, so status and history show why */
    }
    /* the window is fixed now: record it, and the load's uid, before reading any row */
    l->run.high = s_dup(info.high);
    l->run.info_json = s_info_json(&info, l->uid);
    if (l->run.info_json) { /* the version this run writes: its location, for this process and recovery */
        char *vi = dld_table_version_info(l->run.info_json, version + rewrite, rewrite, wm.value);
        free(l->run.info_json);
        l->run.info_json = vi;
    }
    l->declared = declared.release != NULL;
    if (l->declared && (l->columns = dld_schema_columns(&declared)) == NULL)
        l->declared = false; /* out of memory: the first batch tells */
    res->mode = mode;
    res->load_id = l->run.load_id;
    free(res->low), free(res->high), free(res->query), free(res->snapshot);
    res->low = s_dup(low);
    res->low_inclusive = low_inclusive;
    res->high = s_dup(info.high);
    res->query = s_dup(info.query);
    res->snapshot = s_dup(info.snapshot);
    if (l->declared && (rc = s_columns_check(l, err))) { /* `plan` shows it too */
        if (l->req->plan_only)
            goto done;
        goto fail;
    }
    if (l->rewrite_due && !rewrite) { /* `plan` shows the rewrite's window */
        if ((rc = s_rewrite_begin(l, mode, version, &cursor, &info, &declared, &wm, err))) {
            if (l->req->plan_only)
                goto done;
            goto fail;
        }
        rewrite = true;
        goto replan;
    }
    if (l->req->plan_only) {
        res->outcome = DLD_OUT_PLANNED;
        goto done;
    }
    if (l->run.info_json == NULL) {
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        goto fail;
    }
    if (mode != DLD_MODE_FULL && info.high == NULL) {
        /* nothing at all in range: no files, nothing moves */
        l->step = S_RECORD_PLANNED;
        if ((rc = s_record(l, &l->run, DLD_RUN_NOOP, err)))
            goto fail;
        res->outcome = DLD_OUT_NOOP;
        goto done;
    }
    l->step = S_RECORD_PLANNED;
    if ((rc = s_record(l, &l->run, DLD_RUN_PLANNED, err)))
        goto fail;
    l->step = S_SCHEMA;
    if (!l->declared && (rc = s_columns_first_batch(l, cursor, err)))
        goto fail;
    if (l->rewrite_due && !rewrite) { /* recorded planned with the delta window: recorded again, as the rewrite */
        if ((rc = s_rewrite_begin(l, mode, version, &cursor, &info, &declared, &wm, err)))
            goto fail;
        rewrite = true;
        goto replan;
    }
    l->step = S_WRITE;
    s_load_view(l, &l->run, l->uid, &load);
    load.columns = l->columns;
    if ((rc = l->tgt->load_begin(l->in->target, &load, &handle, err))) {
        dld_error_prefix(err, "starting the load");
        goto fail;
    }
    if ((rc = s_stream(l, cursor, handle, err)))
        goto fail;
    l->src->extract_end(cursor);
    cursor = NULL;
    struct dld_load_stats stats = {.struct_size = sizeof(stats)};
    if ((rc = l->tgt->load_finish(handle, &stats, err))) {
        dld_error_prefix(err, "finishing files");
        goto fail;
    }
    if (mode != DLD_MODE_FULL && l->run.rows == 0) {
        /* An empty delta window commits nothing: the watermark must never
         * move without rows behind it (a lag or a clock may put high below
         * the watermark, and moving back would load rows twice). */
        l->tgt->load_free(handle);
        handle = NULL;
        const char *what;
        rc = stats.files > 0 ? s_settle(l, &l->run, SETTLE_DISCARD, DLD_RUN_NOOP, &what, err)
                             : s_record(l, &l->run, DLD_RUN_NOOP, err);
        if (rc)
            goto fail;
        res->outcome = DLD_OUT_NOOP;
        goto done;
    }
    l->run.bytes = stats.bytes;
    l->run.files = stats.files;
    l->step = S_RECORD_STAGED;
    if ((rc = s_record(l, &l->run, DLD_RUN_STAGED, err)))
        goto fail;
    l->step = S_FENCE;
    if ((rc = s_fence(l, err)))
        goto fail;
    l->step = S_PUBLISH;
    if ((rc = l->tgt->load_publish(handle, err))) {
        dld_error_prefix(err, "publishing");
        goto fail;
    }
    l->tgt->load_free(handle);
    handle = NULL;
    l->step = S_RECORD_PUBLISHED;
    if ((rc = s_record(l, &l->run, DLD_RUN_PUBLISHED, err)))
        goto fail;
    l->step = S_COMMIT;
    if ((rc = s_commit(l, &l->run, err)))
        goto fail;
    res->outcome = DLD_OUT_COMMITTED;
    goto done;
fail:
    if (handle) {
        l->tgt->load_free(handle);
        handle = NULL;
    }
    if (cursor) {
        l->src->extract_end(cursor);
        cursor = NULL;
    }
    {
        const struct s_step_rule *r = &s_steps[l->step];
        free(l->run.error);
        l->run.error = strdup(err->message);
        struct dld_error serr;
        dld_error_init(&serr);
        const char *what = NULL;
        if (s_settle(l, &l->run, r->settle, DLD_RUN_FAILED, &what, &serr) != DLD_OK) {
            dld_core_logf(DLD_LOG_ERROR, it->name, "load %lld failed %s (%s) and could not be settled: %s",
                          (long long)l->run.load_id, r->name, r->target_holds, serr.message);
            what = "left for recovery";
            if (r->store_holds != 0) {
                /* keep the status (recovery settles it) but say why, so
                 * status and history show the error while it waits */
                char *msg = NULL;
                if (asprintf(&msg, "%s (not yet cleaned up: %s)", err->message, serr.message) >= 0) {
                    free(l->run.error);
                    l->run.error = msg;
                }
                dld_error_init(&serr);
                if (s_record(l, &l->run, r->store_holds, &serr) != DLD_OK)
                    dld_core_logf(DLD_LOG_WARN, it->name, "could not record the error either: %s", serr.message);
            }
        }
        dld_core_logf(DLD_LOG_WARN, it->name, "load %lld failed %s (target holds: %s): %s", (long long)l->run.load_id,
                      r->name, r->target_holds, what);
        if (l->run.status == DLD_RUN_COMMITTED) {
            /* published after all and committed by the settling */
            dld_error_init(err);
            rc = DLD_OK;
            res->outcome = DLD_OUT_COMMITTED;
        }
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
    dld_arrow_release(&declared, NULL);
    dld_arrow_release(&l->first_schema, &l->first_batch);
    l->first_pending = false;
    dld_watermark_clean_up(host, &wm);
    return rc;
}

/* Waits before a retry, in short steps; false when a signal asked to stop
 * meanwhile (a retry never starts after SIGINT/SIGTERM). */
static bool s_backoff(int64_t delay_ms, int attempt)
{
    int64_t end = dld_core_now_ms() + delay_ms * (1 + attempt);
    while (!dld_core_cancelled() && dld_core_now_ms() < end)
        usleep(20 * 1000);
    return !dld_core_cancelled();
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
        rc = dld_lease_acquire(l.st, in->state, item->name, cfg->engine.lease_ttl_ms, &l.token, &err);
        if (rc == DLD_ERR_CONFLICT) {
            res->outcome = DLD_OUT_LEASED;
            res->error = strdup(err.message);
            dld_core_logf(DLD_LOG_WARN, item->name, "skipped: %s", err.message);
            goto out;
        }
        if (rc)
            goto failed;
        leased = true;
        if (dld_heartbeat_start(&l.beat, l.st, in->beat_state, item->name, l.token, cfg->engine.lease_ttl_ms))
            dld_core_logf(DLD_LOG_WARN, item->name, "no lease heartbeat (could not start it): the lease is only "
                                                    "checked before publishing");
    }
    /* recovery, retried like a load after a retryable error (a lost
     * response of its commit, a busy store) */
    for (int attempt = 0; (rc = s_recover(&l, &err)) != DLD_OK; attempt++) {
        if (!err.retryable || attempt >= cfg->engine.retries || req->plan_only)
            goto failed;
        dld_core_logf(DLD_LOG_WARN, item->name, "recovery failed (%s), trying again: %s", dld_code_name(rc),
                      err.message);
        if (!s_backoff(cfg->engine.retry_delay_ms, attempt))
            goto failed;
        dld_error_init(&err);
    }
    for (int attempt = 0;; attempt++) {
        /* a fresh record for every attempt; strings of the previous one go */
        free(l.run.error);
        l.run.error = NULL;
        l.run.rows = l.run.bytes = l.run.files = 0;
        rc = s_attempt(&l, &err);
        if (rc == DLD_OK || req->plan_only)
            break;
        const struct s_step_rule *r = &s_steps[l.step];
        if (!err.retryable || attempt >= cfg->engine.retries || r->retry == RETRY_NEVER || dld_core_cancelled())
            break;
        dld_core_logf(DLD_LOG_WARN, item->name, "load %lld failed %s (%s), %s: %s", (long long)l.run.load_id, r->name,
                      dld_code_name(rc), r->retry == RETRY_WINDOW ? "retrying the same window" : "recovering it",
                      err.message);
        if (r->retry == RETRY_WINDOW && l.run.mode == DLD_MODE_DELTA && l.run.high && !l.retry_high)
            l.retry_high = strdup(l.run.high);
        if (!s_backoff(cfg->engine.retry_delay_ms, attempt))
            break;
        struct dld_error rerr;
        dld_error_init(&rerr);
        /* recovery first: it settles what the failed attempt left (and
         * holds the table while a discard keeps failing) */
        if ((rc = s_recover(&l, &rerr))) {
            err = rerr;
            break;
        }
        if (l.recovered_commit) { /* the failed load was published: committed by recovery */
            rc = DLD_OK;
            res->outcome = DLD_OUT_COMMITTED;
            break;
        }
        /* nothing of the failed load is left on the target now: the same
         * window may be loaded again as a new load */
        dld_error_init(&err);
    }
    if (rc == DLD_OK)
        goto out;
failed:
    res->outcome = DLD_OUT_FAILED;
    res->error = strdup(err.message[0] ? err.message : dld_code_name(rc));
    dld_core_logf(DLD_LOG_ERROR, item->name, "failed: %s", res->error ? res->error : "");
out:
    dld_heartbeat_stop(&l.beat);
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
    free(l.columns);
    dld_last_committed_clean_up(&l.last);
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

/* The rows a batch asks for while `running` loads run at once: batch_rows
 * divided among them (at least 4,096, or batch_rows when that is smaller),
 * so the batches in flight, the bulk of a load's memory with the row
 * group, stay near one load's whatever the parallelism (docs/configuration.md). */
static uint32_t s_batch_rows(int batch_rows, int running)
{
    int share = running > 1 ? batch_rows / running : batch_rows;
    int floor = batch_rows < 4096 ? batch_rows : 4096;
    return (uint32_t)(share > floor ? share : floor);
}

static void *s_worker(void *arg)
{
    struct s_pool *p = arg;
    struct s_instances in = {.cfg = p->cfg};
    in.batch_rows = s_batch_rows(p->cfg->engine.batch_rows,
                                 p->cfg->engine.parallelism < p->n ? p->cfg->engine.parallelism : p->n);
    struct dld_error err;
    dld_error_init(&err);
    int open_rc = s_open(p->cfg, DLD_KIND_STATE, &in.state, &err);
    if (open_rc == DLD_OK)
        open_rc = s_open(p->cfg, DLD_KIND_SOURCE, &in.source, &err);
    if (open_rc == DLD_OK && !p->req->plan_only)
        open_rc = s_open(p->cfg, DLD_KIND_TARGET, &in.target, &err);
    if (open_rc == DLD_OK && !p->req->plan_only)
        open_rc = s_open(p->cfg, DLD_KIND_STATE, &in.beat_state, &err);
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

/* plan writes nothing: a state store that declares the BOOL option
 * `read_only` (state-sqlite does) gets it set, so it creates no file and
 * writes nothing; an absent store then reads as an empty one. */
static void s_state_read_only(struct dld_config *cfg)
{
    char **kv = cfg->kinds[DLD_KIND_STATE].kv;
    for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2) {
        char *t = strcmp(kv[i], "read_only") == 0 ? strdup("true") : NULL;
        if (t) {
            free(kv[i + 1]);
            kv[i + 1] = t;
        }
    }
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
    if (req->plan_only)
        s_state_read_only(cfg);
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
    /* results for items that cannot run are filled here; runnable ones are
     * packed first so workers take them from the front */
    struct dld_table_result *skipped = calloc((size_t)cap + 1, sizeof(*skipped));
    int nskipped = 0;
    if (!pool.items || !pool.results || !skipped) {
        free(pool.items);
        free(pool.results);
        free(skipped);
        cJSON_Delete(arr);
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    pthread_mutex_init(&pool.lock, NULL);
    for (const cJSON *c = arr->child; c; c = c->next) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "targetTableName");
        const char *n = cJSON_IsString(name) ? name->valuestring : "(unnamed)";
        if (!s_selected(req, n))
            continue;
        struct dld_error ierr;
        dld_error_init(&ierr);
        /* two items of one name (a store written by other tooling): neither
         * runs, since which one is meant cannot be told */
        int same = 0;
        for (const cJSON *o = arr->child; o && cJSON_IsString(name); o = o->next) {
            const char *on = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "targetTableName"));
            same += on != NULL && strcmp(n, on) == 0;
        }
        struct dld_item it;
        if (same > 1)
            dld_error_set(&ierr, DLD_ERR_CONFIG, "the state store holds %d controller items named '%s': remove all but one",
                          same, n);
        if (same > 1 || dld_item_parse(c, &it, &ierr) != DLD_OK) {
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
    if (nthreads > 64)
        nthreads = 64;
    if (pool.n > 0)
        dld_core_logf(DLD_LOG_DEBUG, S_COMPONENT, "%d load(s) at once: each asks for batches of %u rows (engine.batch_rows %d)",
                      nthreads, s_batch_rows(cfg->engine.batch_rows, nthreads), cfg->engine.batch_rows);
    pthread_t threads[64];
    int started = 0;
    for (int i = 0; i < nthreads; i++) {
        int e = pthread_create(&threads[started], NULL, s_worker, &pool);
        if (e == 0)
            started++;
        else
            dld_core_logf(DLD_LOG_WARN, S_COMPONENT, "could not start worker thread %d of %d: %s", i + 1, nthreads,
                          strerror(e));
    }
    /* with no thread at all the tables still run, one after another, here;
     * with fewer, the ones started take every table between them */
    if (started == 0 && pool.n > 0)
        s_worker(&pool);
    for (int i = 0; i < started; i++)
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

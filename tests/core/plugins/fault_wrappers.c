/*
 * Fault-injection plugins for the exactly-once tests: a state store and a
 * target that forward every call to a real plugin (loaded from the `inner`
 * .so) and make ONE call of the process fail at a named step, the way a
 * dropped connection, a refused request or a response lost on the way back
 * would. Built twice: -DFAULT_STATE gives dld-state-fault.so, -DFAULT_TARGET
 * gives dld-target-fault.so. (crash_wrappers.c kills the process instead.)
 *
 * Both:   fail_at    the step (below); "none" injects nothing
 *         fail_kind  retry: DLD_ERR_RETRY before the call (nothing happened)
 *                    fatal: DLD_ERR_FATAL before the call
 *                    lost:  the call is made, then DLD_ERR_RETRY is returned
 *                           as if its response was lost on the way back
 *         fail_nth   fail the Nth call of that step (default 1); only that one
 *         fail_at and fail_kind may be comma lists ("publish,is_published"
 *         with "lost,retry"): a step that must fail first so that the one
 *         under test is reached at all; each fails once.
 * state:  fail_at = record_planned | record_staged | record_published |
 *         record_failed | record_aborted | record_noop (run_record, told apart
 *         by run->status) | commit (run_commit) | lease_renew. lease_renew
 *         counts only the calls of an instance that has recorded a run: the
 *         engine's fence check right before publish, not the heartbeat thread
 *         (which renews through a state instance of its own that never
 *         records anything).
 * target: fail_at = begin | write | finish | publish | is_published;
 *         discard_fails: the first load_discard of the process returns
 *         DLD_ERR_RETRY without doing anything;
 *         stop_in = publish: SIGSTOP right before forwarding load_publish
 *         (after the engine's fence check), for the stalled-holder test;
 *         write_sleep_ms: every load_write sleeps this long (a slow load);
 *         inner_options: a JSON object of more options for the inner
 *         plugin (s3's bucket, endpoint, ...).
 *
 * Every member of the inner vtable is forwarded, the optional ABI 1.1 ones
 * (state runs_unfinished, runs_history, setup; target manifest_list)
 * included, checked against the inner vtable's struct_size and NULL: when
 * the inner plugin lacks one, the wrapper does what the host would do
 * without it (runs from history's JSON; no manifests; setup unsupported).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <deltaload/deltaload.h>

static const struct dld_plugin *s_inner;
static const struct dld_host *s_host;

static int s_load_inner(const char *path, uint32_t kind, struct dld_error *err)
{
    if (__atomic_load_n(&s_inner, __ATOMIC_ACQUIRE))
        return DLD_OK;
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&mu);
    int rc = DLD_OK;
    if (s_inner == NULL) {
        void *dl = path ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
        dld_plugin_entry_fn entry = NULL;
        const struct dld_plugin *p = NULL;
        if (dl == NULL) {
            rc = dld_error_set(err, DLD_ERR_CONFIG, "fault wrapper: cannot load %s: %s", path ? path : "(no inner)",
                               path ? dlerror() : "option inner missing");
        } else {
            *(void **)&entry = dlsym(dl, DLD_PLUGIN_ENTRY_SYMBOL);
            if (entry == NULL || entry(s_host, &p) != 0 || p == NULL || p->kind != kind)
                rc = dld_error_set(err, DLD_ERR_CONFIG, "fault wrapper: %s is not a plugin of the right kind", path);
            else
                __atomic_store_n(&s_inner, p, __ATOMIC_RELEASE);
        }
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

/* inner options: everything but the wrapper's own keys, plus the members
 * of `inner_options` (a JSON object, for an inner plugin whose options the
 * wrapper does not declare, such as s3's). Every string is a copy: free
 * with s_free_kv once the inner open returned (plugins copy their options). */
static void s_free_kv(char **kv)
{
    for (size_t i = 0; kv && kv[i]; i++)
        free(kv[i]);
    free(kv);
}

static char **s_inner_options(const char *const *options)
{
    static const char *own[] = {"inner", "fail_at", "fail_kind", "fail_nth", "discard_fails", "stop_in",
                                "inner_options", "write_sleep_ms", "duplicate_item", NULL};
    size_t n = 0;
    while (options[n])
        n++;
    cJSON *extra = cJSON_Parse(dld_opt_get(options, "inner_options") ? dld_opt_get(options, "inner_options") : "{}");
    n += 2 * (size_t)cJSON_GetArraySize(extra);
    char **kv = calloc(n + 1, sizeof(char *));
    if (kv == NULL) {
        cJSON_Delete(extra);
        return NULL;
    }
    size_t k = 0;
    bool oom = false;
    for (size_t i = 0; options[i]; i += 2) {
        int skip = 0;
        for (int j = 0; own[j]; j++)
            skip |= !strcmp(options[i], own[j]);
        if (!skip) {
            oom |= !(kv[k++] = strdup(options[i]));
            oom |= !(kv[k++] = strdup(options[i + 1]));
        }
    }
    for (const cJSON *c = extra ? extra->child : NULL; c; c = c->next) {
        oom |= !(kv[k++] = strdup(c->string));
        kv[k++] = cJSON_IsString(c) ? strdup(c->valuestring) : cJSON_PrintUnformatted(c);
        oom |= kv[k - 1] == NULL;
    }
    cJSON_Delete(extra);
    if (oom) {
        s_free_kv(kv);
        return NULL;
    }
    return kv;
}

enum s_kind { K_RETRY, K_FATAL, K_LOST };

/* The faults of the process: each fails the Nth call of its step, once.
 * fail_at and fail_kind may be lists ("publish,is_published" with
 * "lost,retry"): a step that has to fail first so that another is reached
 * at all. Every instance of the process shares the counts. */
#define S_MAX_FAULTS 4
static struct s_fault {
    int step;
    enum s_kind kind;
    long calls;
} s_faults[S_MAX_FAULTS];
static int s_nfaults;
static long s_nth = 1;

static int s_kind_parse(const char *s, size_t len, enum s_kind *out, struct dld_error *err)
{
    if (len == 5 && !strncmp(s, "retry", 5))
        *out = K_RETRY;
    else if (len == 5 && !strncmp(s, "fatal", 5))
        *out = K_FATAL;
    else if (len == 4 && !strncmp(s, "lost", 4))
        *out = K_LOST;
    else
        return dld_error_set(err, DLD_ERR_CONFIG, "fault wrapper: fail_kind must be retry, fatal or lost, not '%.*s'",
                             (int)len, s);
    return DLD_OK;
}

static int s_step_parse(const char *s, size_t len, const char *const *steps, int *out, struct dld_error *err)
{
    for (int i = 0; steps[i]; i++)
        if (strlen(steps[i]) == len && !strncmp(s, steps[i], len)) {
            *out = i;
            return DLD_OK;
        }
    return dld_error_set(err, DLD_ERR_CONFIG, "fault wrapper: unknown fail_at '%.*s'", (int)len, s);
}

/* The fault for this call of `step`, or NULL: the call to fail. */
static const struct s_fault *s_due(int step)
{
    for (int i = 0; i < s_nfaults; i++)
        if (s_faults[i].step == step && __atomic_add_fetch(&s_faults[i].calls, 1, __ATOMIC_SEQ_CST) == s_nth)
            return &s_faults[i];
    return NULL;
}

static int s_fail(const struct s_fault *f, const char *const *steps, struct dld_error *err)
{
    const char *what = steps[f->step];
    fprintf(stderr, "fault wrapper: injected %s at %s\n",
            f->kind == K_LOST ? "lost response" : f->kind == K_FATAL ? "fatal error" : "retryable error", what);
    fflush(stderr);
    if (f->kind == K_LOST)
        return dld_error_set(err, DLD_ERR_RETRY, "fault wrapper: response lost at %s", what);
    if (f->kind == K_RETRY)
        return dld_error_set(err, DLD_ERR_RETRY, "fault wrapper: transient failure at %s", what);
    return dld_error_set(err, DLD_ERR_FATAL, "fault wrapper: fatal failure at %s", what);
}

/* Before a call of `step`: returns now with the injected error (kinds retry
 * and fatal), or sets *lost when the call is to be made and its response
 * then lost (kind lost). */
#define INJECT(step, steps, err, lost)                                    \
    do {                                                                  \
        *(lost) = s_due(step);                                            \
        if (*(lost) && (*(lost))->kind != K_LOST)                         \
            return s_fail(*(lost), (steps), (err));                       \
    } while (0)

static int s_configure(const char *const *options, const char *const *steps, struct dld_error *err)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static bool done;
    struct s_fault faults[S_MAX_FAULTS];
    int n = 0, rc = DLD_OK;
    const char *at = dld_opt_get(options, "fail_at"), *kinds = dld_opt_get(options, "fail_kind");
    if (at == NULL || !strcmp(at, "none"))
        at = "";
    if (kinds == NULL)
        kinds = "retry";
    for (const char *p = at, *k = kinds; *p && rc == DLD_OK; n++) {
        if (n == S_MAX_FAULTS)
            return dld_error_set(err, DLD_ERR_CONFIG, "fault wrapper: at most %d steps in fail_at", S_MAX_FAULTS);
        size_t len = strcspn(p, ","), klen = strcspn(k, ",");
        faults[n] = (struct s_fault){0};
        rc = s_step_parse(p, len, steps, &faults[n].step, err);
        if (rc == DLD_OK)
            rc = s_kind_parse(k, klen, &faults[n].kind, err); /* the last kind applies to the rest */
        p += len + (p[len] == ',');
        if (k[klen] == ',')
            k += klen + 1;
    }
    if (rc)
        return rc;
    /* the first open configures the process (every instance has the same options) */
    pthread_mutex_lock(&mu);
    if (!done) {
        done = true;
        memcpy(s_faults, faults, sizeof(faults[0]) * (size_t)n);
        s_nth = dld_opt_int(options, "fail_nth", 1);
        __atomic_store_n(&s_nfaults, n, __ATOMIC_SEQ_CST);
    }
    pthread_mutex_unlock(&mu);
    return DLD_OK;
}

#ifdef FAULT_STATE
enum { S_RECORD_PLANNED, S_RECORD_STAGED, S_RECORD_PUBLISHED, S_RECORD_COMMITTED, S_RECORD_FAILED, S_RECORD_ABORTED,
       S_RECORD_NOOP, S_COMMIT, S_LEASE_RENEW };
static const char *const s_steps[] = {"record_planned", "record_staged", "record_published", "record_committed",
                                      "record_failed",  "record_aborted", "record_noop",     "commit",
                                      "lease_renew",    NULL};
struct s_w {
    void *inner;
    bool records; /* this instance recorded a run: it is a load's own, not the heartbeat's */
    char *duplicate_item; /* item_list returns this item twice (a store written by other tooling) */
};
#define VT ((const struct dld_state_vtable *)s_inner->vtable)
#define INNER(i) (((struct s_w *)(i))->inner)

static int s_open(const struct dld_host *host, const char *const *options, void **inst, struct dld_error *err)
{
    s_host = host;
    int rc = s_load_inner(dld_opt_get(options, "inner"), DLD_KIND_STATE, err);
    if (rc == DLD_OK)
        rc = s_configure(options, s_steps, err);
    if (rc)
        return rc;
    struct s_w *w = calloc(1, sizeof(*w));
    char **kv = s_inner_options(options);
    if (w == NULL || kv == NULL) {
        free(w);
        s_free_kv(kv);
        return dld_error_set(err, DLD_ERR_FATAL, "fault wrapper: out of memory");
    }
    rc = VT->open(host, (const char *const *)kv, &w->inner, err);
    s_free_kv(kv);
    if (rc) {
        free(w);
        return rc;
    }
    const char *dup = dld_opt_get(options, "duplicate_item");
    w->duplicate_item = dup && *dup ? strdup(dup) : NULL;
    *inst = w;
    return DLD_OK;
}
static void s_close(void *inst)
{
    struct s_w *w = inst;
    VT->close(w->inner);
    free(w->duplicate_item);
    free(w);
}

static int s_item_put(void *i, const char *n, const char *j, struct dld_error *e) { return VT->item_put(INNER(i), n, j, e); }
static int s_item_get(void *i, const char *n, char **j, struct dld_error *e) { return VT->item_get(INNER(i), n, j, e); }
static int s_item_list(void *i, char **j, struct dld_error *e)
{
    struct s_w *w = i;
    int rc = VT->item_list(w->inner, j, e);
    if (rc || w->duplicate_item == NULL)
        return rc;
    cJSON *arr = cJSON_Parse(*j);
    for (cJSON *c = arr ? arr->child : NULL; c; c = c->next) {
        const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "targetTableName"));
        if (n && !strcmp(n, w->duplicate_item)) {
            cJSON_AddItemToArray(arr, cJSON_Duplicate(c, 1));
            break;
        }
    }
    char *text = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    if (text) {
        s_host->free(*j);
        *j = dld_host_strdup(s_host, text);
        free(text);
    }
    return *j ? DLD_OK : dld_error_set(e, DLD_ERR_FATAL, "fault wrapper: out of memory");
}
static int s_item_delete(void *i, const char *n, struct dld_error *e) { return VT->item_delete(INNER(i), n, e); }
static int s_lease_acquire(void *i, const char *t, const char *o, int64_t ttl, int64_t *tok, struct dld_error *e)
{
    return VT->lease_acquire(INNER(i), t, o, ttl, tok, e);
}
static int s_lease_renew(void *i, const char *t, int64_t tok, int64_t ttl, struct dld_error *e)
{
    struct s_w *w = i;
    const struct s_fault *after = NULL;
    if (w->records)
        INJECT(S_LEASE_RENEW, s_steps, e, &after);
    int rc = VT->lease_renew(w->inner, t, tok, ttl, e);
    return after ? s_fail(after, s_steps, e) : rc;
}
static int s_lease_release(void *i, const char *t, int64_t tok, struct dld_error *e)
{
    return VT->lease_release(INNER(i), t, tok, e);
}
static int s_wm_get(void *i, const char *t, struct dld_watermark *o, struct dld_error *e)
{
    return VT->watermark_get(INNER(i), t, o, e);
}
static int s_wm_set(void *i, const char *t, const char *v, int64_t tok, struct dld_error *e)
{
    return VT->watermark_set(INNER(i), t, v, tok, e);
}
static int s_run_record(void *i, const struct dld_run *r, int64_t tok, struct dld_error *e)
{
    struct s_w *w = i;
    w->records = true;
    int step = r->status >= DLD_RUN_PLANNED && r->status <= DLD_RUN_NOOP ? (int)r->status - 1 : -1;
    const struct s_fault *after = NULL;
    INJECT(step, s_steps, e, &after);
    int rc = VT->run_record(w->inner, r, tok, e);
    return after ? s_fail(after, s_steps, e) : rc;
}
static int s_run_last(void *i, const char *t, struct dld_run *o, struct dld_error *e) { return VT->run_last(INNER(i), t, o, e); }
static int s_run_commit(void *i, const struct dld_run *r, int32_t adv, int64_t tok, struct dld_error *e)
{
    struct s_w *w = i;
    w->records = true;
    const struct s_fault *after = NULL;
    INJECT(S_COMMIT, s_steps, e, &after);
    int rc = VT->run_commit(w->inner, r, adv, tok, e);
    return after ? s_fail(after, s_steps, e) : rc;
}
static int s_history(void *i, const char *t, int32_t l, char **j, struct dld_error *e) { return VT->history(INNER(i), t, l, j, e); }
/* The optional 1.1 members, forwarded when the inner store has them; else
 * emulated from its history JSON (what the host does without them). */
static bool s_status_unfinished(uint32_t s) { return s == DLD_RUN_PLANNED || s == DLD_RUN_STAGED || s == DLD_RUN_PUBLISHED; }
static uint32_t s_name_ix(const char *v, const char *const *names, uint32_t n)
{
    for (uint32_t k = 1; v && k < n; k++)
        if (!strcmp(v, names[k]))
            return k;
    return 0;
}
static int64_t s_num(const cJSON *o, const char *k)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(n) ? (int64_t)n->valuedouble : 0;
}
static int s_by_load_id(const void *a, const void *b)
{
    int64_t x = s_num(*(const cJSON *const *)a, "load_id"), y = s_num(*(const cJSON *const *)b, "load_id");
    return x < y ? -1 : x > y;
}
static int s_each_from_history(void *i, const char *t, int32_t limit, bool unfinished,
                               int (*each)(void *ctx, const struct dld_run *run), void *ctx, struct dld_error *e)
{
    static const char *const modes[] = {"", "delta", "full", "backfill"};
    static const char *const statuses[] = {"", "planned", "staged", "published", "committed", "failed", "aborted", "noop"};
    char *json = NULL;
    int rc = VT->history(INNER(i), t, unfinished ? 0 : limit, &json, e);
    if (rc)
        return rc;
    cJSON *arr = cJSON_Parse(json);
    s_host->free(json);
    int n = cJSON_GetArraySize(arr);
    const cJSON **v = calloc((size_t)n + 1, sizeof(*v));
    if (!cJSON_IsArray(arr) || v == NULL) {
        cJSON_Delete(arr);
        free(v);
        return dld_error_set(e, DLD_ERR_FATAL, "fault wrapper: the inner store returned a malformed history");
    }
    int k = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, arr) v[k++] = o;
    if (unfinished) /* history is newest first; runs_unfinished goes in load order */
        qsort(v, (size_t)k, sizeof(*v), s_by_load_id);
    for (int x = 0; x < k && rc == DLD_OK; x++) {
        o = v[x];
        cJSON *info = cJSON_GetObjectItemCaseSensitive(o, "info");
        char *info_text = cJSON_IsObject(info) ? cJSON_PrintUnformatted(info) : NULL;
        struct dld_run run = {
            .struct_size = sizeof(run),
            .table = (char *)cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "table")),
            .load_id = s_num(o, "load_id"),
            .mode = s_name_ix(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "mode")), modes, 4),
            .status = s_name_ix(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "status")), statuses, 8),
            .low = (char *)cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "low")),
            .low_inclusive = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "low_inclusive")),
            .high = (char *)cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "high")),
            .rows = s_num(o, "rows"),
            .bytes = s_num(o, "bytes"),
            .files = s_num(o, "files"),
            .started_ms = s_num(o, "started_ms"),
            .ended_ms = s_num(o, "ended_ms"),
            .error = (char *)cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "error")),
            .owner = (char *)cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "owner")),
            .info_json = info_text,
        };
        if (!unfinished || s_status_unfinished(run.status))
            rc = each(ctx, &run);
        cJSON_free(info_text);
    }
    free(v);
    cJSON_Delete(arr);
    return rc;
}
static int s_runs_unfinished(void *i, const char *t, int (*each)(void *ctx, const struct dld_run *run), void *ctx,
                             struct dld_error *e)
{
    if (DLD_HAS(VT, struct dld_state_vtable, runs_unfinished) && VT->runs_unfinished)
        return VT->runs_unfinished(INNER(i), t, each, ctx, e);
    return s_each_from_history(i, t, 0, true, each, ctx, e);
}
static int s_runs_history(void *i, const char *t, int32_t limit, int (*each)(void *ctx, const struct dld_run *run),
                          void *ctx, struct dld_error *e)
{
    if (DLD_HAS(VT, struct dld_state_vtable, runs_history) && VT->runs_history)
        return VT->runs_history(INNER(i), t, limit, each, ctx, e);
    return s_each_from_history(i, t, limit, false, each, ctx, e);
}
static int s_setup(void *i, int32_t create, char **report, struct dld_error *e)
{
    if (DLD_HAS(VT, struct dld_state_vtable, setup) && VT->setup)
        return VT->setup(INNER(i), create, report, e);
    return dld_error_set(e, DLD_ERR_UNSUPPORTED, "fault wrapper: the inner state plugin %s has no setup",
                         s_inner->name);
}

static const struct dld_state_vtable s_vt = {
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
    .watermark_get = s_wm_get,
    .watermark_set = s_wm_set,
    .run_record = s_run_record,
    .run_last = s_run_last,
    .run_commit = s_run_commit,
    .history = s_history,
    .runs_unfinished = s_runs_unfinished,
    .runs_history = s_runs_history,
    .setup = s_setup,
};
static const struct dld_option s_opts[] = {
    {"inner", DLD_OPT_STRING, DLD_OPTF_REQUIRED, NULL, NULL, "the real state plugin (.so)", NULL},
    {"path", DLD_OPT_STRING, DLD_OPTF_REQUIRED, NULL, NULL, "passed to the inner plugin", NULL},
    {"busy_timeout_ms", DLD_OPT_INT, 0, NULL, NULL, "passed to the inner plugin", NULL},
    {"fail_at", DLD_OPT_STRING, 0, "none", NULL,
     "none|record_planned|record_staged|record_published|record_failed|record_aborted|record_noop|commit|lease_renew",
     NULL},
    {"fail_kind", DLD_OPT_STRING, 0, "retry", NULL,
     "retry|fatal|lost: what the failing call does (a list: one kind per fail_at step)", NULL},
    {"fail_nth", DLD_OPT_INT, 0, "1", NULL, "fail the Nth call of that step", NULL},
    {"duplicate_item", DLD_OPT_STRING, 0, NULL, NULL, "item_list returns the item of this name twice", NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL},
};
static const struct dld_plugin s_plugin = {sizeof(struct dld_plugin), DLD_ABI_MAJOR, DLD_ABI_MINOR, DLD_KIND_STATE, 0,
    "fault", "test", "fault injection: one failed or lost state-store call", s_opts, &s_vt};
#endif

#ifdef FAULT_TARGET
enum { T_BEGIN, T_WRITE, T_FINISH, T_PUBLISH, T_IS_PUBLISHED };
static const char *const s_steps[] = {"begin", "write", "finish", "publish", "is_published", NULL};
struct s_w {
    void *inner;
    bool discard_fails;
    long write_sleep_ms; /* a slow target: every load_write sleeps this long */
    bool stop_in_publish;
};
struct s_h {
    struct s_w *w;
    void *inner;
};
static bool s_discard_failed; /* the one discard failure of the process happened */
#define VT ((const struct dld_target_vtable *)s_inner->vtable)

static int s_open(const struct dld_host *host, const char *const *options, void **inst, struct dld_error *err)
{
    s_host = host;
    int rc = s_load_inner(dld_opt_get(options, "inner"), DLD_KIND_TARGET, err);
    if (rc == DLD_OK)
        rc = s_configure(options, s_steps, err);
    if (rc)
        return rc;
    const char *stop = dld_opt_get(options, "stop_in");
    if (stop && strcmp(stop, "none") && strcmp(stop, "publish"))
        return dld_error_set(err, DLD_ERR_CONFIG, "fault wrapper: stop_in must be none or publish");
    struct s_w *w = calloc(1, sizeof(*w));
    char **kv = s_inner_options(options);
    if (w == NULL || kv == NULL) {
        free(w);
        s_free_kv(kv);
        return dld_error_set(err, DLD_ERR_FATAL, "fault wrapper: out of memory");
    }
    w->discard_fails = dld_opt_bool(options, "discard_fails", false);
    w->write_sleep_ms = dld_opt_int(options, "write_sleep_ms", 0);
    w->stop_in_publish = stop && !strcmp(stop, "publish");
    rc = VT->open(host, (const char *const *)kv, &w->inner, err);
    s_free_kv(kv);
    if (rc) {
        free(w);
        return rc;
    }
    *inst = w;
    return DLD_OK;
}
static void s_close(void *inst)
{
    struct s_w *w = inst;
    VT->close(w->inner);
    free(w);
}
static int s_begin(void *inst, const struct dld_load *l, void **handle, struct dld_error *e)
{
    const struct s_fault *after = NULL;
    INJECT(T_BEGIN, s_steps, e, &after);
    struct s_h *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return dld_error_set(e, DLD_ERR_FATAL, "fault wrapper: out of memory");
    h->w = inst;
    int rc = VT->load_begin(h->w->inner, l, &h->inner, e);
    if (rc == DLD_OK && after) {
        /* begun, but the engine never hears of the handle */
        VT->load_free(h->inner);
        rc = s_fail(after, s_steps, e);
    }
    if (rc) {
        free(h);
        return rc;
    }
    *handle = h;
    return DLD_OK;
}
static int s_write(void *handle, const struct ArrowSchema *s, const struct ArrowArray *a, struct dld_error *e)
{
    struct s_h *h = handle;
    const struct s_fault *after = NULL;
    INJECT(T_WRITE, s_steps, e, &after);
    if (h->w->write_sleep_ms > 0)
        usleep((useconds_t)h->w->write_sleep_ms * 1000);
    int rc = VT->load_write(h->inner, s, a, e);
    return after ? s_fail(after, s_steps, e) : rc;
}
static int s_finish(void *handle, struct dld_load_stats *st, struct dld_error *e)
{
    struct s_h *h = handle;
    const struct s_fault *after = NULL;
    INJECT(T_FINISH, s_steps, e, &after);
    int rc = VT->load_finish(h->inner, st, e);
    return after ? s_fail(after, s_steps, e) : rc;
}
static int s_publish(void *handle, struct dld_error *e)
{
    struct s_h *h = handle;
    if (h->w->stop_in_publish) {
        fprintf(stderr, "fault wrapper: SIGSTOP before publish\n");
        fflush(stderr);
        raise(SIGSTOP);
    }
    const struct s_fault *after = NULL;
    INJECT(T_PUBLISH, s_steps, e, &after);
    int rc = VT->load_publish(h->inner, e);
    return after ? s_fail(after, s_steps, e) : rc;
}
static void s_free(void *handle)
{
    struct s_h *h = handle;
    VT->load_free(h->inner);
    free(h);
}
static int s_discard(void *inst, const struct dld_load *l, struct dld_error *e)
{
    struct s_w *w = inst;
    if (w->discard_fails && !__atomic_exchange_n(&s_discard_failed, true, __ATOMIC_SEQ_CST)) {
        fprintf(stderr, "fault wrapper: injected discard failure\n");
        fflush(stderr);
        return dld_error_set(e, DLD_ERR_RETRY, "fault wrapper: transient failure at discard");
    }
    return VT->load_discard(w->inner, l, e);
}
static int s_is_published(void *inst, const struct dld_load *l, int *p, struct dld_error *e)
{
    const struct s_fault *after = NULL;
    INJECT(T_IS_PUBLISHED, s_steps, e, &after);
    int rc = VT->load_is_published(((struct s_w *)inst)->inner, l, p, e);
    return after ? s_fail(after, s_steps, e) : rc;
}
static int s_manifest_list(void *inst, const struct dld_table *t, char **json, struct dld_error *e)
{
    if (DLD_HAS(VT, struct dld_target_vtable, manifest_list) && VT->manifest_list)
        return VT->manifest_list(((struct s_w *)inst)->inner, t, json, e);
    /* what the host does without it: nothing to ask, so nothing listed */
    *json = s_host->alloc(3);
    if (*json == NULL)
        return dld_error_set(e, DLD_ERR_FATAL, "fault wrapper: out of memory");
    memcpy(*json, "[]", 3);
    return DLD_OK;
}
static const struct dld_target_vtable s_vt = {
    .struct_size = sizeof(struct dld_target_vtable),
    .open = s_open,
    .close = s_close,
    .load_begin = s_begin,
    .load_write = s_write,
    .load_finish = s_finish,
    .load_publish = s_publish,
    .load_free = s_free,
    .load_discard = s_discard,
    .load_is_published = s_is_published,
    .manifest_list = s_manifest_list,
};
static const struct dld_option s_opts[] = {
    {"inner", DLD_OPT_STRING, DLD_OPTF_REQUIRED, NULL, NULL, "the real target plugin (.so)", NULL},
    {"path", DLD_OPT_STRING, 0, NULL, NULL, "passed on", NULL},
    {"inner_options", DLD_OPT_JSON, 0, NULL, NULL, "more options passed on (a JSON object)", NULL},
    {"format", DLD_OPT_STRING, 0, NULL, NULL, "passed on", NULL},
    {"fsync", DLD_OPT_BOOL, 0, NULL, NULL, "passed on", NULL},
    {"max_file_size", DLD_OPT_INT, 0, NULL, NULL, "passed on", NULL},
    {"compression", DLD_OPT_STRING, 0, NULL, NULL, "passed on", NULL},
    {"fail_at", DLD_OPT_STRING, 0, "none", NULL, "none|begin|write|finish|publish|is_published", NULL},
    {"fail_kind", DLD_OPT_STRING, 0, "retry", NULL,
     "retry|fatal|lost: what the failing call does (a list: one kind per fail_at step)", NULL},
    {"fail_nth", DLD_OPT_INT, 0, "1", NULL, "fail the Nth call of that step", NULL},
    {"discard_fails", DLD_OPT_BOOL, 0, "false", NULL, "the first load_discard of the process fails (retryable)", NULL},
    {"write_sleep_ms", DLD_OPT_INT, 0, "0", NULL, "sleep this long in every load_write (a slow target)", NULL},
    {"stop_in", DLD_OPT_STRING, 0, "none", "none|publish", "SIGSTOP the process right before load_publish", NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL},
};
static const struct dld_plugin s_plugin = {sizeof(struct dld_plugin), DLD_ABI_MAJOR, DLD_ABI_MINOR, DLD_KIND_TARGET, 0,
    "fault", "test", "fault injection: one failed or lost target call", s_opts, &s_vt};
#endif

static int s_keep_host(const struct dld_host *host)
{
    s_host = host;
    return DLD_OK;
}
DLD_PLUGIN_DEFINE_INIT(fault, s_plugin, s_keep_host);

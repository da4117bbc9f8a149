/*
 * Fault-injection plugins for the crash tests: a state store and a target
 * that forward every call to a real plugin (loaded from the `inner` .so)
 * and kill the whole process with SIGKILL at a chosen point, the way a
 * power cut or the OOM killer would. Built twice: -DCRASH_STATE gives
 * dld-state-crash.so, -DCRASH_TARGET gives dld-target-crash.so.
 *
 * state: kill_at=N kills at the Nth state-changing call (run_record,
 *        run_commit, watermark_set) of the process, kill_point=before|after it.
 * target: kill_in=write|finish|publish|discard|stop kills (or, for "stop",
 *        SIGSTOPs: the process then holds its lease) at that call, after
 *        kill_after_writes batches for "write".
 * Both:  inner_options, a JSON object of more options for the inner plugin
 *        (s3's bucket and endpoint, dynamodb's tables: tests/campaign).
 */
#include <dlfcn.h>
#include <stdbool.h>
#include <signal.h>
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
    if (s_inner)
        return DLD_OK;
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL)
        return dld_error_set(err, DLD_ERR_CONFIG, "crash wrapper: cannot load %s: %s", path, dlerror());
    dld_plugin_entry_fn entry;
    *(void **)&entry = dlsym(dl, DLD_PLUGIN_ENTRY_SYMBOL);
    if (entry == NULL || entry(s_host, &s_inner) != 0 || s_inner->kind != kind)
        return dld_error_set(err, DLD_ERR_CONFIG, "crash wrapper: %s is not a plugin of the right kind", path);
    return DLD_OK;
}

/* inner options: everything but the wrapper's own keys, plus the members
 * of `inner_options` (a JSON object, for an inner plugin whose options the
 * wrapper does not declare: s3's, dynamodb's; tests/campaign). Every string
 * is a copy: free with s_free_kv once the inner open returned. */
static void s_free_kv(char **kv)
{
    for (size_t i = 0; kv && kv[i]; i++)
        free(kv[i]);
    free(kv);
}

static char **s_inner_options(const char *const *options)
{
    static const char *own[] = {"inner", "kill_at", "kill_point", "kill_in", "kill_after_writes", "inner_options", NULL};
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

static void s_die(const char *where)
{
    fprintf(stderr, "crash wrapper: SIGKILL at %s\n", where);
    fflush(stderr);
    raise(SIGKILL);
}

#ifdef CRASH_STATE
struct s_w {
    void *inner;
    long kill_at;
    int after;
};
static long s_calls;
#define VT ((const struct dld_state_vtable *)s_inner->vtable)

static int s_open(const struct dld_host *host, const char *const *options, void **inst, struct dld_error *err)
{
    s_host = host;
    int rc = s_load_inner(dld_opt_get(options, "inner"), DLD_KIND_STATE, err);
    if (rc)
        return rc;
    struct s_w *w = calloc(1, sizeof(*w));
    w->kill_at = dld_opt_int(options, "kill_at", 0);
    w->after = !strcmp(dld_opt_get(options, "kill_point"), "after");
    char **kv = s_inner_options(options);
    rc = kv ? VT->open(host, (const char *const *)kv, &w->inner, err)
            : dld_error_set(err, DLD_ERR_FATAL, "crash wrapper: out of memory");
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
/* counts state-changing calls; dies before or after the chosen one */
#define MUTATE(w, what, call)                                                 \
    do {                                                                      \
        long n_ = __atomic_add_fetch(&s_calls, 1, __ATOMIC_SEQ_CST);          \
        if ((w)->kill_at == n_ && !(w)->after)                                \
            s_die("before " what);                                            \
        int rc_ = (call);                                                     \
        if ((w)->kill_at == n_ && (w)->after)                                 \
            s_die("after " what);                                             \
        return rc_;                                                           \
    } while (0)

static int s_item_put(void *i, const char *n, const char *j, struct dld_error *e) { return VT->item_put(((struct s_w *)i)->inner, n, j, e); }
static int s_item_get(void *i, const char *n, char **j, struct dld_error *e) { return VT->item_get(((struct s_w *)i)->inner, n, j, e); }
static int s_item_list(void *i, char **j, struct dld_error *e) { return VT->item_list(((struct s_w *)i)->inner, j, e); }
static int s_item_delete(void *i, const char *n, struct dld_error *e) { return VT->item_delete(((struct s_w *)i)->inner, n, e); }
static int s_lease_acquire(void *i, const char *t, const char *o, int64_t ttl, int64_t *tok, struct dld_error *e) { return VT->lease_acquire(((struct s_w *)i)->inner, t, o, ttl, tok, e); }
static int s_lease_renew(void *i, const char *t, int64_t tok, int64_t ttl, struct dld_error *e) { return VT->lease_renew(((struct s_w *)i)->inner, t, tok, ttl, e); }
static int s_lease_release(void *i, const char *t, int64_t tok, struct dld_error *e) { return VT->lease_release(((struct s_w *)i)->inner, t, tok, e); }
static int s_wm_get(void *i, const char *t, struct dld_watermark *o, struct dld_error *e) { return VT->watermark_get(((struct s_w *)i)->inner, t, o, e); }
static int s_wm_set(void *i, const char *t, const char *v, int64_t tok, struct dld_error *e) { struct s_w *w = i; MUTATE(w, "watermark_set", VT->watermark_set(w->inner, t, v, tok, e)); }
static int s_run_record(void *i, const struct dld_run *r, int64_t tok, struct dld_error *e) { struct s_w *w = i; MUTATE(w, "run_record", VT->run_record(w->inner, r, tok, e)); }
static int s_run_last(void *i, const char *t, struct dld_run *o, struct dld_error *e) { return VT->run_last(((struct s_w *)i)->inner, t, o, e); }
static int s_run_commit(void *i, const struct dld_run *r, int32_t adv, int64_t tok, struct dld_error *e) { struct s_w *w = i; MUTATE(w, "run_commit", VT->run_commit(w->inner, r, adv, tok, e)); }
static int s_history(void *i, const char *t, int32_t l, char **j, struct dld_error *e) { return VT->history(((struct s_w *)i)->inner, t, l, j, e); }

/* The 1.0 members; the optional ones appended since stay NULL, so the host
 * takes its fallbacks (the inner store's extras are not forwarded). */
static const struct dld_state_vtable s_vt = {
    .struct_size = sizeof(struct dld_state_vtable), .open = s_open, .close = s_close, .item_put = s_item_put,
    .item_get = s_item_get, .item_list = s_item_list, .item_delete = s_item_delete, .lease_acquire = s_lease_acquire,
    .lease_renew = s_lease_renew, .lease_release = s_lease_release, .watermark_get = s_wm_get,
    .watermark_set = s_wm_set, .run_record = s_run_record, .run_last = s_run_last, .run_commit = s_run_commit,
    .history = s_history,
};
static const struct dld_option s_opts[] = {
    {"inner", DLD_OPT_STRING, DLD_OPTF_REQUIRED, NULL, NULL, "the real state plugin (.so)", NULL},
    {"path", DLD_OPT_STRING, 0, NULL, NULL, "passed to the inner plugin", NULL},
    {"inner_options", DLD_OPT_JSON, 0, NULL, NULL, "more options passed on (a JSON object)", NULL},
    {"kill_at", DLD_OPT_INT, 0, "0", NULL, "Nth state-changing call to die at (0: never)", NULL},
    {"kill_point", DLD_OPT_STRING, 0, "before", "before|after", "die before or after that call", NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL},
};
static const struct dld_plugin s_plugin = {sizeof(struct dld_plugin), DLD_ABI_MAJOR, DLD_ABI_MINOR, DLD_KIND_STATE, 0,
    "crash", "test", "fault injection: SIGKILL at a chosen state transition", s_opts, &s_vt};
#endif

#ifdef CRASH_TARGET
struct s_w {
    void *inner;
    const char *kill_in;
    long after_writes;
    long writes;
    bool fail_write, fail_discard; /* fail (not die) in these calls */
    long finish_sleep_ms;          /* a slow load_finish (a big last upload) */
};
struct s_h {
    struct s_w *w;
    void *inner;
};
#define VT ((const struct dld_target_vtable *)s_inner->vtable)

static int s_open(const struct dld_host *host, const char *const *options, void **inst, struct dld_error *err)
{
    s_host = host;
    int rc = s_load_inner(dld_opt_get(options, "inner"), DLD_KIND_TARGET, err);
    if (rc)
        return rc;
    struct s_w *w = calloc(1, sizeof(*w));
    w->kill_in = strdup(dld_opt_get(options, "kill_in"));
    w->after_writes = dld_opt_int(options, "kill_after_writes", 0);
    w->fail_write = dld_opt_bool(options, "fail_write", false);
    w->fail_discard = dld_opt_bool(options, "fail_discard", false);
    w->finish_sleep_ms = dld_opt_int(options, "finish_sleep_ms", 0);
    char **kv = s_inner_options(options);
    rc = kv ? VT->open(host, (const char *const *)kv, &w->inner, err)
            : dld_error_set(err, DLD_ERR_FATAL, "crash wrapper: out of memory");
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
    free((char *)w->kill_in);
    free(w);
}
static void s_maybe(struct s_w *w, const char *point)
{
    if (!strcmp(w->kill_in, point))
        s_die(point);
    if (!strcmp(w->kill_in, "stop") && !strcmp(point, "finish")) {
        fprintf(stderr, "crash wrapper: SIGSTOP at finish\n");
        raise(SIGSTOP);
    }
}
static int s_begin(void *inst, const struct dld_load *l, void **handle, struct dld_error *e)
{
    struct s_h *h = calloc(1, sizeof(*h));
    h->w = inst;
    int rc = VT->load_begin(h->w->inner, l, &h->inner, e);
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
    int rc = VT->load_write(h->inner, s, a, e);
    if (++h->w->writes >= h->w->after_writes) {
        s_maybe(h->w, "write");
        if (h->w->fail_write && rc == DLD_OK)
            return dld_error_set(e, DLD_ERR_FATAL, "crash wrapper: injected write failure");
    }
    return rc;
}
static int s_finish(void *handle, struct dld_load_stats *st, struct dld_error *e)
{
    struct s_h *h = handle;
    if (h->w->finish_sleep_ms > 0)
        usleep((useconds_t)h->w->finish_sleep_ms * 1000);
    int rc = VT->load_finish(h->inner, st, e);
    s_maybe(h->w, "finish");
    return rc;
}
static int s_publish(void *handle, struct dld_error *e)
{
    struct s_h *h = handle;
    int rc = VT->load_publish(h->inner, e);
    s_maybe(h->w, "publish");
    return rc;
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
    s_maybe(w, "discard");
    if (w->fail_discard)
        return dld_error_set(e, DLD_ERR_RETRY, "crash wrapper: injected discard failure");
    return VT->load_discard(w->inner, l, e);
}
static int s_is_published(void *inst, const struct dld_load *l, int *p, struct dld_error *e)
{
    return VT->load_is_published(((struct s_w *)inst)->inner, l, p, e);
}
/* optional (ABI 1.1): an inner target without it lists nothing, which is what the host assumes then */
static int s_manifest_list(void *inst, const struct dld_table *t, char **json, struct dld_error *e)
{
    if (!DLD_HAS(VT, struct dld_target_vtable, manifest_list) || VT->manifest_list == NULL) {
        *json = dld_host_strdup(s_host, "[]");
        return *json ? DLD_OK : dld_error_set(e, DLD_ERR_FATAL, "crash wrapper: out of memory");
    }
    return VT->manifest_list(((struct s_w *)inst)->inner, t, json, e);
}
/* optional (ABI 1.2): passed on when the inner target has it */
static int s_lake_expire(void *inst, const struct dld_table *t, int64_t cutoff_ms, int dry_run, char **json,
                         struct dld_error *e)
{
    if (!DLD_HAS(VT, struct dld_target_vtable, lake_expire) || VT->lake_expire == NULL)
        return dld_error_set(e, DLD_ERR_UNSUPPORTED, "crash wrapper: the inner target cannot expire snapshots");
    return VT->lake_expire(((struct s_w *)inst)->inner, t, cutoff_ms, dry_run, json, e);
}
static const struct dld_target_vtable s_vt = {sizeof(struct dld_target_vtable), s_open, s_close, s_begin, s_write,
                                              s_finish, s_publish, s_free, s_discard, s_is_published,
                                              s_manifest_list, s_lake_expire};
static const struct dld_option s_opts[] = {
    {"inner", DLD_OPT_STRING, DLD_OPTF_REQUIRED, NULL, NULL, "the real target plugin (.so)", NULL},
    {"path", DLD_OPT_STRING, 0, NULL, NULL, "passed on", NULL},
    {"inner_options", DLD_OPT_JSON, 0, NULL, NULL, "more options passed on (a JSON object)", NULL},
    {"format", DLD_OPT_STRING, 0, "csv", NULL, "passed on", NULL},
    {"fsync", DLD_OPT_BOOL, 0, "false", NULL, "passed on", NULL},
    {"max_file_size", DLD_OPT_INT, 0, "268435456", NULL, "passed on", NULL},
    {"table_format", DLD_OPT_STRING, 0, "files", NULL, "passed on (tests/iceberg)", NULL},
    {"kill_in", DLD_OPT_STRING, 0, "none", "none|write|finish|publish|discard|stop", "where to die", NULL},
    {"kill_after_writes", DLD_OPT_INT, 0, "1", NULL, "for kill_in=write and fail_write: after this many batches", NULL},
    {"fail_write", DLD_OPT_BOOL, 0, "false", NULL, "return an error from load_write (after kill_after_writes)", NULL},
    {"fail_discard", DLD_OPT_BOOL, 0, "false", NULL, "return an error from load_discard", NULL},
    {"finish_sleep_ms", DLD_OPT_INT, 0, "0", NULL, "sleep this long in load_finish", NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL},
};
static const struct dld_plugin s_plugin = {sizeof(struct dld_plugin), DLD_ABI_MAJOR, DLD_ABI_MINOR, DLD_KIND_TARGET, 0,
    "crash", "test", "fault injection: SIGKILL inside a target call", s_opts, &s_vt};
#endif

static int s_keep_host(const struct dld_host *host)
{
    s_host = host;
    return DLD_OK;
}
DLD_PLUGIN_DEFINE_INIT(crash, s_plugin, s_keep_host);

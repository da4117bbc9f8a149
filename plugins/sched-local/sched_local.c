/* scheduler-local: decides in-process when the daemon runs a cycle, from an
 * EventBridge schedule expression (rate(...), cron(...) or at(...)), so a schedule
 * written for the replaced AWS pattern works unchanged. The parsing and
 * evaluation live in the SDK (deltaload/schedule.h) so the eventbridge
 * scheduler validates expressions with the same code. */
#include <string.h>

#include <deltaload/schedule.h>
#include <deltaload/scheduler.h>
#include <deltaload/sdk.h>

#define PLUGIN "scheduler-local"

struct s_local {
    const struct dld_host *host;
    struct dld_schedule sched;
    /* rate(): periods count from the first next_fire call (the daemon's
     * start), as EventBridge counts them from the rule's creation */
    int anchored;
    int64_t anchor_ms;
};

static int s_open(const struct dld_host *host, const char *const *options, void **inst, struct dld_error *err)
{
    *inst = NULL;
    if (!dld_host_usable(host))
        return dld_error_set(err, DLD_ERR_FATAL, "%s: the host function table is incomplete", PLUGIN);
    const char *expr = dld_opt_get(options, "expression");
    if (expr == NULL || expr[0] == '\0')
        return dld_error_set(err, DLD_ERR_CONFIG,
                             "%s: option 'expression' is required, e.g. rate(1 hour) or cron(0 2 * * ? *)", PLUGIN);
    struct s_local *l = host->alloc(sizeof(*l));
    if (l == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "%s: out of memory", PLUGIN);
    memset(l, 0, sizeof(*l));
    l->host = host;
    int ret = dld_schedule_parse(&l->sched, expr, err);
    if (ret == DLD_OK)
        ret = dld_schedule_set_timezone(&l->sched, dld_opt_get(options, "timezone"), err);
    if (ret != DLD_OK) {
        dld_error_prefix(err, "%s: option 'expression'", PLUGIN);
        host->free(l);
        return ret;
    }
    *inst = l;
    return DLD_OK;
}

static void s_close(void *inst)
{
    struct s_local *l = inst;
    if (l != NULL)
        l->host->free(l);
}

static int s_next_fire(void *inst, int64_t after_ms, int64_t *next_ms, struct dld_error *err)
{
    struct s_local *l = inst;
    if (!l->anchored) {
        l->anchored = 1;
        l->anchor_ms = after_ms;
    }
    int ret = dld_schedule_next(&l->sched, l->anchor_ms, after_ms, next_ms);
    if (ret < 0)
        return dld_error_set(err, ret, "%s: the schedule could not be evaluated", PLUGIN);
    return ret;
}

static int s_describe(void *inst, char **text, struct dld_error *err)
{
    struct s_local *l = inst;
    char buf[512];
    dld_schedule_describe(&l->sched, buf, sizeof(buf));
    *text = dld_host_strdup(l->host, buf);
    if (*text == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "%s: out of memory", PLUGIN);
    return DLD_OK;
}

static const struct dld_scheduler_vtable s_vtable = {
    .struct_size = sizeof(struct dld_scheduler_vtable),
    .open = s_open,
    .close = s_close,
    .next_fire = s_next_fire,
    .deploy = NULL, /* nothing to deploy: the daemon itself is the scheduler */
    .describe = s_describe,
};

static const struct dld_option s_options[] = {
    {"expression", DLD_OPT_STRING, DLD_OPTF_REQUIRED, NULL, NULL,
     "EventBridge schedule expression: rate(N minute(s)|hour(s)|day(s)), cron(min hour day-of-month month "
     "day-of-week year) or at(yyyy-mm-ddThh:mm:ss). rate periods count from the daemon's start.",
     NULL},
    {"timezone", DLD_OPT_STRING, 0, "UTC", NULL,
     "Time zone of cron and at(): UTC, a fixed offset such as +02:00, or an IANA name such as Europe/Berlin "
     "(system tzdata; daylight saving as EventBridge Scheduler: a skipped time does not fire, a repeated one "
     "fires once).",
     NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL},
};

static const struct dld_plugin s_plugin = {
    .struct_size = sizeof(struct dld_plugin),
    .abi_major = DLD_ABI_MAJOR,
    .abi_minor = DLD_ABI_MINOR,
    .kind = DLD_KIND_SCHEDULER,
    .capabilities = 0,
    .name = "local",
    .version = "0.1.0",
    .description = "Runs cycles in-process on an EventBridge rate(), cron() or at() schedule",
    .options = s_options,
    .vtable = &s_vtable,
};

DLD_PLUGIN_DEFINE(sched_local, s_plugin);

#if defined(DLD_BUILTIN)
/* The core's builtin list names entries dld_builtin_entry_<kind>_<name>;
 * this plugin's identifier is the shorter sched_local, so answer to both. */
int dld_builtin_entry_scheduler_local(const struct dld_host *host, const struct dld_plugin **out);
int dld_builtin_entry_scheduler_local(const struct dld_host *host, const struct dld_plugin **out)
{
    return dld_builtin_entry_sched_local(host, out);
}
#endif

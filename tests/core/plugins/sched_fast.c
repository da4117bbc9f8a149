/*
 * Test scheduler: fires every `interval_ms` milliseconds, so daemon tests
 * take seconds instead of the minute that rate(1 minute) needs. Built as
 * dld-scheduler-fast.so for the tests only.
 */
#include <stdlib.h>

#include <deltaload/deltaload.h>

static int s_open(const struct dld_host *host, const char *const *options, void **inst, struct dld_error *err)
{
    int64_t *ms = malloc(sizeof(*ms));
    if (ms == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    *ms = dld_opt_int(options, "interval_ms", 200);
    *inst = ms;
    return DLD_OK;
}
static void s_close(void *inst) { free(inst); }
static int s_next(void *inst, int64_t after_ms, int64_t *next_ms, struct dld_error *err)
{
    *next_ms = after_ms + *(int64_t *)inst;
    return DLD_OK;
}
static const struct dld_scheduler_vtable s_vt = {
    .struct_size = sizeof(struct dld_scheduler_vtable), .open = s_open, .close = s_close, .next_fire = s_next};
static const struct dld_option s_opts[] = {
    {"interval_ms", DLD_OPT_INT, 0, "200", NULL, "period", NULL}, {NULL, 0, 0, NULL, NULL, NULL, NULL}};
static const struct dld_plugin s_plugin = {sizeof(struct dld_plugin), DLD_ABI_MAJOR, DLD_ABI_MINOR,
    DLD_KIND_SCHEDULER, 0, "fast", "test", "test scheduler: fires every interval_ms", s_opts, &s_vt};

DLD_PLUGIN_DEFINE(sched_fast, s_plugin);

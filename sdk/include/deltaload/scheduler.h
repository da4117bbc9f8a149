/*
 * Scheduler plugins: decide when a cycle runs. The `local` scheduler
 * computes fire times in-process from an EventBridge-style expression
 * (`rate(1 hour)`, `cron(0 * * * ? *)`); a remote one (EventBridge) also
 * deploys the schedule to a service with `deploy`.
 */
#ifndef DELTALOAD_SCHEDULER_H
#define DELTALOAD_SCHEDULER_H

#include "abi.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dld_scheduler_vtable {
    uint32_t struct_size;
    int (*open)(const struct dld_host *host, const char *const *options, void **inst, struct dld_error *err);
    void (*close)(void *inst);
    /* The first fire time strictly after after_ms (UTC, ms). DLD_DONE when
     * the expression never fires again. */
    int (*next_fire)(void *inst, int64_t after_ms, int64_t *next_ms, struct dld_error *err);
    /* Optional (NULL for local): register the schedule with a remote
     * service so that it runs `command` (JSON describing what to invoke). */
    int (*deploy)(void *inst, const char *command_json, char **result_json, struct dld_error *err);
    /* Optional: a one-line human description of the schedule (host->alloc'ed). */
    int (*describe)(void *inst, char **text, struct dld_error *err);
};

#if UINTPTR_MAX == 0xffffffffffffffffu
DLD_PIN(struct dld_scheduler_vtable, open, 8);
DLD_PIN(struct dld_scheduler_vtable, describe, 40);
#endif

#ifdef __cplusplus
}
#endif
#endif

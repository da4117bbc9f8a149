/*
 * Scheduler plugins: decide when a cycle runs. The `local` scheduler
 * computes fire times in-process from an EventBridge-style expression
 * (`rate(1 hour)`, `cron(0 * * * ? *)`); a remote one (EventBridge) also
 * deploys the schedule to a service with `deploy`, and since ABI 1.1 reads
 * it back with `show` and deletes it with `remove` (`deltaload schedule
 * deploy|show|remove`).
 *
 * JSON exchanged with deploy/show/remove (all strings host->alloc'ed):
 *   command_json (deploy, from the host):
 *     {"config": "/etc/deltaload.json" or null, "tables": ["orders", ...] or []}
 *   result_json (deploy): {"action": "created"|"updated"|"unchanged",
 *     "name": ..., "arn": ..., "differences": [...]}
 *   result_json (show): {"deployed": {...} or null, "differences":
 *     [{"field": ..., "deployed": ..., "config": ...}], "in_sync": bool}
 *   result_json (remove): {"removed": bool, "name": ...}
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
     * the expression never fires again. The host refuses a *next_ms that is
     * not after after_ms (core/contract.c); fire times are monotonic in
     * after_ms (the conformance kit tests both). */
    int (*next_fire)(void *inst, int64_t after_ms, int64_t *next_ms, struct dld_error *err);
    /* Optional (NULL for local): register the schedule with a remote
     * service so that it runs `command` (JSON describing what to invoke). */
    int (*deploy)(void *inst, const char *command_json, char **result_json, struct dld_error *err);
    /* Optional: a one-line human description of the schedule (host->alloc'ed). */
    int (*describe)(void *inst, char **text, struct dld_error *err);
    /* ---- ABI 1.1, optional: appended; a plugin built for 1.0 reads as NULL */
    /* What is deployed, and what differs from the configuration (JSON
     * above). DLD_OK with "deployed": null when nothing is. */
    int (*show)(void *inst, char **result_json, struct dld_error *err);
    /* Deletes the deployed schedule (and, for rules, its targets).
     * DLD_OK with "removed": false when there was none. */
    int (*remove)(void *inst, char **result_json, struct dld_error *err);
};

#if UINTPTR_MAX == 0xffffffffffffffffu
DLD_PIN(struct dld_scheduler_vtable, open, 8);
DLD_PIN(struct dld_scheduler_vtable, describe, 40);
DLD_PIN(struct dld_scheduler_vtable, show, 48);
DLD_PIN(struct dld_scheduler_vtable, remove, 56);
#endif

#ifdef __cplusplus
}
#endif
#endif

/*
 * The delta-load state machine (engine.c) and the worker pool that runs it
 * over the selected tables. See docs/semantics.md for what each step means.
 */
#ifndef DLD_CORE_ENGINE_H
#define DLD_CORE_ENGINE_H

#include <stdbool.h>

#include "config.h"
#include "items.h"

/* What happened to one table in one cycle. */
enum dld_outcome {
    DLD_OUT_COMMITTED = 1,  /* a window was loaded and committed */
    DLD_OUT_NOOP,           /* nothing new */
    DLD_OUT_FAILED,         /* error recorded, watermark unchanged */
    DLD_OUT_LEASED,         /* another process holds the table's lease */
    DLD_OUT_INACTIVE,       /* activeflag N (only when named with --table) */
    DLD_OUT_PLANNED,        /* plan only */
};

struct dld_table_result {
    char *name;
    int outcome;            /* enum dld_outcome */
    int64_t load_id;
    uint32_t mode;
    char *low;
    int low_inclusive;
    char *high;
    char *query;
    char *snapshot;
    char *recovery;         /* what recovery did before this load, or NULL */
    int64_t rows, bytes, files;
    int64_t started_ms, ended_ms;
    char *error;
};

struct dld_run_request {
    const char *const *tables;  /* NULL-terminated names, NULL = every active table */
    bool plan_only;
    const char *backfill_from;  /* backfill: one table, inclusive bounds, watermark untouched */
    const char *backfill_to;
};

/* Upserts the config's tables into the state store (validating each). */
int dld_engine_sync_items(struct dld_config *cfg, void *state_inst, struct dld_error *err);

/* Runs one cycle. results: one per selected table (caller frees with
 * dld_results_free). Returns DLD_OK when the cycle ran (even if tables
 * failed), an error for problems that stop everything (config, plugins). */
int dld_engine_run(struct dld_config *cfg, const struct dld_run_request *req, struct dld_table_result **results,
                   int *nresults, struct dld_error *err);
void dld_results_free(struct dld_table_result *r, int n);
const char *dld_outcome_name(int outcome);
const char *dld_run_status_name(uint32_t status);
const char *dld_mode_name(uint32_t mode);

/* "host:pid", the owner recorded in leases and runs */
const char *dld_engine_owner(void);

#endif

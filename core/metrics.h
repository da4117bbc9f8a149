/*
 * Operator views of the state store: per-table statistics gathered from the
 * controller items, watermarks and run history (shared by `status`, the
 * metrics file, notifications and the HTML report), and their rendering in
 * the Prometheus text exposition format (docs/operations.md lists every
 * metric). Not thread-safe; called between cycles.
 */
#ifndef DLD_CORE_METRICS_H
#define DLD_CORE_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "config.h"

struct dld_table_stats {
    char *table;
    bool active;
    char *watermark;              /* committed watermark text, NULL if none */
    int64_t watermark_load_id;
    int64_t watermark_set_ms;     /* when the watermark was committed (its load's end), 0 if unknown */
    char *source_high;            /* the source's maximum read by the newest load that read one, or NULL */
    int64_t rows_total, bytes_total, files_total; /* committed loads in the history */
    int64_t loads_committed, loads_failed, loads_noop, loads_aborted;
    uint32_t last_status;         /* enum dld_run_status of the newest load, 0 if none */
    int64_t last_load_id, last_started_ms, last_ended_ms;
    int64_t last_rows;
    char *last_error;
    int64_t last_success_ms;      /* end of the newest committed or noop load, 0 if none */
    int consecutive_failures;     /* failed or aborted loads since the newest success */
};

/* Reads every controller item (or only `only`) with its watermark and whole
 * history. *out is malloc'ed; free with dld_table_stats_free. DLD_ERR_NOT_FOUND
 * when `only` names no item. */
int dld_table_stats_collect(const struct dld_state_vtable *vt, void *st, const char *only,
                            struct dld_table_stats **out, int *n, struct dld_error *err);
void dld_table_stats_free(struct dld_table_stats *s, int n);

/* A watermark or column value as a number: plain decimal numbers, and ISO
 * 8601 date/times ("2024-05-01", "2024-05-01T10:00:00[.fff][Z|+hh:mm]") as
 * seconds since the epoch (*is_time set). false when neither. */
bool dld_value_number(const char *s, double *out, bool *is_time);

/* The Prometheus text (format 0.0.4) for the stats; malloc'ed. */
char *dld_metrics_render(const struct dld_table_stats *s, int n, int64_t now_ms);

/* Writes text to path atomically (a temporary file beside it, fsync, rename). */
int dld_metrics_write_file(const char *path, const char *text, struct dld_error *err);

/* The config's "metrics" object: {"path": FILE}. Checks its shape; *path is
 * borrowed from the config (NULL when there is no metrics block). */
int dld_metrics_conf(const cJSON *root, const char **path, struct dld_error *err);

/* After a cycle: when the config asks for a metrics file, opens the state
 * store, gathers the stats and writes the file. Failures are logged, never
 * returned: metrics never fail a load. */
void dld_metrics_after_cycle(struct dld_config *cfg);

struct dld_table_result;
/* Everything operators get after a cycle (run, backfill, each daemon cycle):
 * the metrics file, then the notifications. Never fails the cycle. */
void dld_ops_after_cycle(struct dld_config *cfg, const struct dld_table_result *res, int n);
/* Checks the shape of the config's "metrics" and "notify" blocks. */
int dld_ops_conf_check(const cJSON *root, struct dld_error *err);

#endif

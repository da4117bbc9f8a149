/* Run records formatted by the core (runs.c). */
#ifndef DLD_CORE_RUNS_H
#define DLD_CORE_RUNS_H

#include <cjson/cJSON.h>
#include <deltaload/deltaload.h>

/* The JSON object `history --json` prints for one run. */
cJSON *dld_run_json(const struct dld_run *run);
/* The inverse of dld_run_json (strings malloc'ed; dld_run_clean_up frees
 * them); DLD_ERR_FATAL when o is not a run. */
int dld_run_from_json(const cJSON *o, const char *table, struct dld_run *run);
/* Runs newest first as a JSON array: from the store's typed runs_history
 * when it has one, else from its history JSON. */
int dld_history_json(const struct dld_state_vtable *vt, void *inst, const char *table, int32_t limit, cJSON **out,
                     struct dld_error *err);

#endif

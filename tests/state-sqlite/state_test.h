/* Shared by the state-sqlite test files: the plugin under test (loaded
 * either way by the fixture) and one open instance on a fresh file. */
#ifndef DLD_STATE_TEST_H
#define DLD_STATE_TEST_H

#include <check.h>

#include <deltaload/sdk.h>

#include "test_host.h"

extern const struct dld_state_vtable *vt;
extern void *inst;
extern char db_path[];

/* opens another instance on the same file (busy_timeout_ms as given) */
void *state_test_open(const char *busy_ms);
/* a dld_error ready to be filled */
struct dld_error state_test_err(void);
/* a run with its strings borrowed from the arguments */
struct dld_run state_test_run(const char *table, int64_t load_id, uint32_t status, const char *low, const char *high,
                              int64_t started_ms);

void state_test_add_items(TCase *tc);
void state_test_add_leases(TCase *tc);
void state_test_add_runs(TCase *tc);

#endif

/* The conformance kit (`deltaload plugins check`), shared by its files:
 * cmd_check.c (the command, targets, state stores, schedulers) and
 * cmd_check_source.c (sources: the fixture table, windows, types,
 * cancellation). */
#ifndef DLD_CORE_CMD_CHECK_H
#define DLD_CORE_CMD_CHECK_H

#include <limits.h>
#include <stdbool.h>

#include <cjson/cJSON.h>
#include <deltaload/deltaload.h>

#include "loader.h"

struct k_ctx {
    const struct dld_loaded *p;
    char **kv;
    char scratch[PATH_MAX];
    int pass, fail, skip;
    cJSON *results;
    bool json;
    bool scratch_sqlite;                 /* --scratch-sqlite */
    const char *table, *column, *schema; /* --table, --filter-column, --schema */
    const char *slow_table;              /* --slow-table */
};

enum { K_PASS = 0, K_FAIL = 1, K_SKIP = 2 };

/* records one result: status K_PASS/K_FAIL/K_SKIP, detail printed unless PASS */
__attribute__((format(printf, 4, 5))) void dld_kit_result(struct k_ctx *k, const char *test, int status,
                                                          const char *fmt, ...);

/* the source tests (cmd_check_source.c) */
void dld_kit_source(struct k_ctx *k);
/* prints the fixture table as SQL of a dialect (sqlite, postgres, oracle);
 * DLD_EXIT_USAGE for an unknown dialect */
int dld_kit_print_fixture(const char *dialect, const char *table);

#endif

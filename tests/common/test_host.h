/* Helpers shared by the Check suites. Not thread-safe (tests are single
 * threaded or fork). */
#ifndef DLD_TEST_HOST_H
#define DLD_TEST_HOST_H

#include <stddef.h>
#include <stdint.h>

#include <deltaload/abi.h>

/* A complete host table: malloc/realloc/free, log to stderr (levels up to
 * DLD_TEST_LOG=0..3, default WARN), now_ms from the test clock. */
const struct dld_host *dld_test_host(void);

/* The test clock: real time until set; once set it stays where it is put. */
void dld_test_clock_set(int64_t ms);
void dld_test_clock_advance(int64_t ms);
void dld_test_clock_real(void);
int64_t dld_test_real_ms(void);

/* dlopen's $DLD_PLUGIN_DIR/dld-<kind>-<name>.so and calls its entry with
 * dld_test_host(). Returns the dlopen handle (close with dld_test_plugin_unload)
 * or NULL with a reason printed to stderr. */
void *dld_test_plugin_load(const char *kind, const char *name, const struct dld_plugin **out);
void dld_test_plugin_unload(void *handle);

/* A fresh directory under $TMPDIR (or /tmp), written into buf. 0 on success. */
int dld_test_tmpdir(char *buf, size_t cap, const char *tag);
/* Removes a directory tree made by the test (best effort). */
void dld_test_rmtree(const char *path);

/* A NULL-terminated key/value options array from a brace list:
 *   const char *opts[] = DLD_TEST_OPTS("path", p, "x", "1"); */
#define DLD_TEST_OPTS(...) {__VA_ARGS__, NULL}

#endif

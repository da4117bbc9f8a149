/* Helpers for the state-dynamodb suites: the test servers' state
 * (start.sh), proxy control, raw DynamoDB calls through the proxy (signed
 * with the SDK's client, as any other caller), the plugin opened through the
 * test host, and the deltaload binary run in the background. */
#ifndef DLD_DDB_TEST_UTIL_H
#define DLD_DDB_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>
#include <deltaload/sdk.h>

struct ddbt_servers {
    char endpoint[128]; /* the verifying proxy */
    char akid[64];
    char secret[128];
};
/* reads $DLD_DDB_STATE/servers.json; false (and prints why) if absent */
bool ddbt_servers(struct ddbt_servers *out);
/* proxy control: POST/DELETE/GET on /__proxy/<what>; the body (malloc) */
char *ddbt_proxy(const struct ddbt_servers *s, const char *method, const char *what, const char *json);
/* a number from the proxy's stats ("requests", "rejected", "faults",
 * "kills", "byOp.TransactWriteItems", "faultsPending") */
int64_t ddbt_stat(const struct ddbt_servers *s, const char *name);
/* one DynamoDB call through the proxy; the answer (caller deletes) and its
 * HTTP status */
cJSON *ddbt_call(const struct ddbt_servers *s, const char *op, const char *json, int *status);
/* PutItem of a DynamoDB-JSON item text; aborts the test unless 200 */
void ddbt_put_raw(const struct ddbt_servers *s, const char *table, const char *item_json);
/* GetItem (consistent) of the controller item; NULL if absent */
cJSON *ddbt_get_raw(const struct ddbt_servers *s, const char *table, const char *name);
/* a string attribute of a raw item (static buffer), NULL if absent */
const char *ddbt_attr(const cJSON *item, const char *attr);

/* The plugin through the test host (dlopen of dld-state-dynamodb.so).
 * Options: the proxy endpoint and keys, these table names, fast retries,
 * plus extra key/value pairs (NULL-terminated, may be NULL). */
struct ddbt_plugin {
    void *dl;
    const struct dld_plugin *desc;
    const struct dld_state_vtable *vt;
};
void ddbt_plugin_load(struct ddbt_plugin *p);
void ddbt_plugin_unload(struct ddbt_plugin *p);
void *ddbt_open(const struct ddbt_plugin *p, const struct ddbt_servers *s, const char *table, const char *history,
                const char *const *extra, struct dld_error *err);
/* opens and runs setup(create=1); aborts the test on failure */
void *ddbt_open_setup(const struct ddbt_plugin *p, const struct ddbt_servers *s, const char *table,
                      const char *history);

/* A unique name for this test's tables: "<tag>_<pid>_<n>" (static buffer
 * per call slot: copy it). */
void ddbt_unique(char *buf, size_t cap, const char *tag);

/* The deltaload binary ($DLD_BIN) started in dir with args (NULL-terminated),
 * output to <dir>/<out>; returns the pid. ddbt_wait returns its exit code
 * (128+signal when killed). */
pid_t ddbt_spawn(const char *dir, const char *out, const char *const *args);
/* The same, but the child waits before exec until ddbt_go(*gate): the test
 * can hand its pid to the proxy (a kill or stop fault) first. */
pid_t ddbt_spawn_gated(const char *dir, const char *out, const char *const *args, int *gate);
void ddbt_go(int gate);
int ddbt_wait(pid_t pid);
char *ddbt_slurp(const char *path);

#endif

/*
 * The Oracle source instance: options, the loaded client library, the
 * connection, and the cursor of one load. Internal to the plugin.
 *
 * Thread-safety: one instance is used by one thread at a time (the host
 * opens one per worker); the OCI environment is created per instance.
 */
#ifndef DLD_ORA_SOURCE_H
#define DLD_ORA_SOURCE_H

#include <pthread.h>

#include <deltaload/source.h>

#include "ora_internal.h"
#include "ora_oci.h"

#define DLD_ORA_PLUGIN "source-oracle"

enum dld_ora_consistency { DLD_ORA_FLASHBACK = 1, DLD_ORA_READ_ONLY = 2 };

struct dld_ora_opts {
    char *connect, *user, *password, *lib_dir, *tns_admin, *wallet_dir;
    bool external_auth, fold_identifiers, tz_offset_columns;
    int consistency;
    int64_t call_timeout_ms, fetch_rows, fetch_memory, lob_max_bytes;
    int32_t number_scale;
};

struct dld_ora_source {
    const struct dld_host *host;
    struct dld_ora_opts o;
    struct dld_ora_oci oci;
    void *env, *errh, *srv, *svc, *sess;
    bool attached, in_session;
    bool broken; /* a lost connection or an abandoned LOB read: reconnect before the next load */
    /* the interrupt watcher (ora_conn.c): OCIBreak on the host's cancel
     * while a blocking call runs */
    void *break_errh;
    pthread_t watch;
    pthread_mutex_t watch_mu;
    pthread_cond_t watch_cv;
    bool watching, watch_stop, in_call, break_sent;
};

/* ---- interrupts (ora_conn.c) ---------------------------------------------------- */
/* Starts/stops the instance's watcher thread (open/close). */
void dld_ora_watch_start(struct dld_ora_source *src);
void dld_ora_watch_stop(struct dld_ora_source *src);
/* Around every call that may block on the network. */
void dld_ora_call_begin(struct dld_ora_source *src);
int dld_ora_call_end(struct dld_ora_source *src, int status);
/* A blocking OCI call that a signal interrupts: DLD_ORA_CALL(src, oci->X(...)) */
#define DLD_ORA_CALL(src, expr) dld_ora_call_end((src), (dld_ora_call_begin(src), (expr)))

/* ---- connection (ora_conn.c) -------------------------------------------------- */
/* Turns a failed OCI status into an error: ORA- code and text from the
 * error handle, classified (ora_errcode.c); marks the connection broken
 * when the error is a lost connection. Returns DLD_OK for success
 * statuses. `what` says which step failed. */
int dld_ora_check(struct dld_ora_source *src, int status, const char *what, struct dld_error *err);
int dld_ora_connect(struct dld_ora_source *src, struct dld_error *err);
void dld_ora_disconnect(struct dld_ora_source *src);
/* Runs one statement with text binds. When `out` is set, the statement is
 * a query returning one text column of one row: the value is written there
 * and *is_null tells whether it was NULL. */
int dld_ora_exec(struct dld_ora_source *src, const struct dld_ora_stmt *s, char *out, size_t cap, bool *is_null,
                 struct dld_error *err);

/* ---- one load (ora_cursor.c) ----------------------------------------------------- */
struct dld_ora_cursor;
int dld_ora_extract_begin(struct dld_ora_source *src, const struct dld_extract_request *req,
                          struct dld_extract_info *info, struct dld_ora_cursor **out, struct dld_error *err);
int dld_ora_extract_next(struct dld_ora_cursor *c, struct ArrowSchema *schema, struct ArrowArray *batch,
                         struct dld_error *err);
void dld_ora_extract_end(struct dld_ora_cursor *c);

#endif

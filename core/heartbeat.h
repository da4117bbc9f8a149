/* The lease heartbeat (heartbeat.c): renews a table's lease at a third of
 * its TTL from its own thread while a load runs. */
#ifndef DLD_CORE_HEARTBEAT_H
#define DLD_CORE_HEARTBEAT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <deltaload/deltaload.h>

struct dld_heartbeat {
    const struct dld_state_vtable *st;
    void *state;          /* the heartbeat's own instance (borrowed) */
    const char *table;    /* borrowed for the heartbeat's life */
    int64_t token, ttl_ms;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool running, stop;
    int lost;             /* read and written atomically */
    int64_t last_ok_ms;
    char why[1100];
};

/* DLD_ERR_FATAL when no thread could be started (the load goes on without). */
int dld_heartbeat_start(struct dld_heartbeat *hb, const struct dld_state_vtable *st, void *state, const char *table,
                        int64_t token, int64_t ttl_ms);
/* true once the lease is known lost; copies the reason */
bool dld_heartbeat_lost(struct dld_heartbeat *hb, char *why, size_t cap);
void dld_heartbeat_stop(struct dld_heartbeat *hb);

/* The process part of a lease owner, "STARTTIME.HASH" (heartbeat.c says
 * why), for pid's process, or "" when /proc cannot tell. */
void dld_owner_proc_id(long pid, char *buf, size_t cap);
/* For state.h's lease_break: non-zero when owner (host:pid:rand:proc) is a
 * process of this machine, boot and pid namespace that no longer exists.
 * ctx is this process's own owner string. */
int dld_owner_dead(void *ctx, const char *owner);
/* lease_acquire as this process (dld_engine_owner); on a conflict with a
 * holder that died on this machine, asks the store to end that lease
 * (state.h lease_break) and tries once more. Without lease_break, or with a
 * live holder, the conflict stands (the TTL applies). */
int dld_lease_acquire(const struct dld_state_vtable *st, void *inst, const char *table, int64_t ttl_ms,
                      int64_t *token, struct dld_error *err);

#endif

/*
 * The lease heartbeat: while a table's load runs, a thread renews its lease
 * at a third of the TTL, so a slow step (a long high-mark query, a big
 * upload retried for minutes) never lets the lease lapse, and notices when
 * the lease was lost (taken over by another process after a stall) so the
 * load stops at its next batch instead of writing on.
 *
 * The thread has its own state-store instance: instances are used by one
 * thread at a time (abi.h), and the load's thread is busy with its own.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "heartbeat.h"
#include "host.h"

static void *s_beat(void *arg)
{
    struct dld_heartbeat *hb = arg;
    int64_t period = hb->ttl_ms / 3 > 0 ? hb->ttl_ms / 3 : 1;
    pthread_mutex_lock(&hb->mu);
    while (!hb->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (period % 1000) * 1000000;
        ts.tv_sec += (time_t)(period / 1000 + ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        int w = 0;
        while (!hb->stop && w != ETIMEDOUT)
            w = pthread_cond_timedwait(&hb->cv, &hb->mu, &ts);
        if (hb->stop)
            break;
        pthread_mutex_unlock(&hb->mu);
        struct dld_error err;
        dld_error_init(&err);
        int rc = hb->st->lease_renew(hb->state, hb->table, hb->token, hb->ttl_ms, &err);
        int64_t now = dld_core_now_ms();
        pthread_mutex_lock(&hb->mu);
        if (rc == DLD_OK) {
            hb->last_ok_ms = now;
        } else if (rc == DLD_ERR_CONFLICT || now - hb->last_ok_ms >= hb->ttl_ms) {
            /* taken over, or not renewed for a whole TTL (it may have been) */
            snprintf(hb->why, sizeof hb->why, "the lease was lost: %s", err.message);
            __atomic_store_n(&hb->lost, 1, __ATOMIC_SEQ_CST);
            dld_core_logf(DLD_LOG_ERROR, hb->table, "%s; the load stops at its next batch", hb->why);
            break;
        } else {
            dld_core_logf(DLD_LOG_WARN, hb->table, "renewing the lease failed, trying again: %s", err.message);
        }
    }
    pthread_mutex_unlock(&hb->mu);
    return NULL;
}

int dld_heartbeat_start(struct dld_heartbeat *hb, const struct dld_state_vtable *st, void *state, const char *table,
                        int64_t token, int64_t ttl_ms)
{
    memset(hb, 0, sizeof(*hb));
    hb->st = st;
    hb->state = state;
    hb->table = table;
    hb->token = token;
    hb->ttl_ms = ttl_ms;
    hb->last_ok_ms = dld_core_now_ms();
    pthread_mutex_init(&hb->mu, NULL);
    pthread_cond_init(&hb->cv, NULL);
    if (state == NULL || pthread_create(&hb->thread, NULL, s_beat, hb) != 0) {
        /* no heartbeat: the engine still renews before each recorded step */
        pthread_cond_destroy(&hb->cv);
        pthread_mutex_destroy(&hb->mu);
        return DLD_ERR_FATAL;
    }
    hb->running = true;
    return DLD_OK;
}

bool dld_heartbeat_lost(struct dld_heartbeat *hb, char *why, size_t cap)
{
    if (!hb->running || !__atomic_load_n(&hb->lost, __ATOMIC_SEQ_CST))
        return false;
    if (why) {
        pthread_mutex_lock(&hb->mu);
        snprintf(why, cap, "%s", hb->why);
        pthread_mutex_unlock(&hb->mu);
    }
    return true;
}

void dld_heartbeat_stop(struct dld_heartbeat *hb)
{
    if (!hb->running)
        return;
    pthread_mutex_lock(&hb->mu);
    hb->stop = true;
    pthread_cond_signal(&hb->cv);
    pthread_mutex_unlock(&hb->mu);
    pthread_join(hb->thread, NULL);
    pthread_cond_destroy(&hb->cv);
    pthread_mutex_destroy(&hb->mu);
    hb->running = false;
}

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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
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

/* ---- is a lease's owner a dead process of this machine? ------------------------------
 * Owners are host:pid:rand:STARTTIME.HASH. A lease of a process that was
 * SIGKILLed (or crashed) would otherwise block its table for the whole TTL.
 * Declaring a live process dead is the one mistake that matters (two loads
 * of one table would run; fencing tokens still stop the stale one's writes,
 * but its work is lost), so every doubt answers "alive" and the TTL applies:
 *   - HASH folds /proc/sys/kernel/random/boot_id and the pid namespace
 *     (/proc/self/ns/pid) together. Equal hashes mean the same boot of the
 *     same machine in the same pid namespace, so the pid names the same
 *     process table. A host name alone is not enough: two machines may
 *     share one, and containers with the host's name (--uts=host) have
 *     their own pids, where kill(pid, 0) would say ESRCH of a live process.
 *   - STARTTIME (field 22 of /proc/PID/stat, clock ticks since boot) guards
 *     against pid reuse: a pid and its start time never change while a
 *     process lives, so a different start time at that pid means the holder
 *     is gone and another process took its number.
 *   - kill(pid, 0) == -1 with ESRCH: no such process. EPERM (another user's
 *     process) means it exists; its start time decides if readable.
 * Owners without the fourth part (older versions, other tools), or when
 * /proc cannot be read, are never judged dead. */
static int s_read_small(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n > 0 ? 0 : -1;
}

/* field 22 of /proc/PID/stat; the command name (field 2) may hold spaces
 * and parentheses, so count from the last ')' */
static int s_start_time(long pid, unsigned long long *start)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    if (s_read_small(path, text, sizeof text))
        return -1;
    const char *p = strrchr(text, ')');
    if (p == NULL)
        return -1;
    p++;
    for (int field = 3; field < 22; field++) { /* skip fields 3..21 */
        while (*p == ' ')
            p++;
        while (*p && *p != ' ')
            p++;
    }
    char *end;
    errno = 0;
    *start = strtoull(p, &end, 10);
    return errno || end == p ? -1 : 0;
}

static int s_machine_hash(unsigned long long *h)
{
    char boot[128], ns[128];
    if (s_read_small("/proc/sys/kernel/random/boot_id", boot, sizeof boot))
        return -1;
    ssize_t n = readlink("/proc/self/ns/pid", ns, sizeof ns - 1);
    if (n <= 0)
        return -1;
    ns[n] = '\0';
    unsigned long long x = 1469598103934665603ull; /* FNV-1a, 64 bits */
    for (const char *s = boot; *s; s++)
        if (*s != '\n')
            x = (x ^ (unsigned char)*s) * 1099511628211ull;
    x = (x ^ '|') * 1099511628211ull;
    for (const char *s = ns; *s; s++)
        x = (x ^ (unsigned char)*s) * 1099511628211ull;
    *h = x;
    return 0;
}

void dld_owner_proc_id(long pid, char *buf, size_t cap)
{
    unsigned long long start, h;
    if (cap == 0)
        return;
    buf[0] = '\0';
    if (s_start_time(pid, &start) == 0 && s_machine_hash(&h) == 0)
        snprintf(buf, cap, "%llu.%016llx", start, h);
}

/* splits host:pid:rand:proc; false unless all four are there */
static bool s_owner_parts(const char *owner, const char **host, size_t *hostlen, long *pid, const char **proc)
{
    const char *c1 = strchr(owner, ':');
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    const char *c3 = c2 ? strchr(c2 + 1, ':') : NULL;
    if (c3 == NULL || strchr(c3 + 1, ':') || c3[1] == '\0')
        return false;
    char *end;
    errno = 0;
    long v = strtol(c1 + 1, &end, 10);
    if (errno || end != c2 || v <= 0)
        return false;
    *host = owner;
    *hostlen = (size_t)(c1 - owner);
    *pid = v;
    *proc = c3 + 1;
    return true;
}

int dld_owner_dead(void *ctx, const char *owner)
{
    const char *self = ctx, *h1, *h2, *p1, *p2;
    size_t n1, n2;
    long pid, self_pid;
    if (owner == NULL || self == NULL || !s_owner_parts(owner, &h1, &n1, &pid, &p1) ||
        !s_owner_parts(self, &h2, &n2, &self_pid, &p2))
        return 0;
    const char *dot1 = strchr(p1, '.'), *dot2 = strchr(p2, '.');
    if (n1 != n2 || memcmp(h1, h2, n1) != 0 || dot1 == NULL || dot2 == NULL || strcmp(dot1, dot2) != 0)
        return 0; /* another machine, boot or pid namespace: cannot tell */
    char *end;
    errno = 0;
    unsigned long long recorded = strtoull(p1, &end, 10);
    if (errno || end != dot1)
        return 0;
    if (kill((pid_t)pid, 0) == -1 && errno == ESRCH)
        return 1;
    unsigned long long now;
    return s_start_time(pid, &now) == 0 && now != recorded;
}

int dld_lease_acquire(const struct dld_state_vtable *st, void *inst, const char *table, int64_t ttl_ms,
                      int64_t *token, struct dld_error *err)
{
    const char *self = dld_engine_owner();
    int rc = st->lease_acquire(inst, table, self, ttl_ms, token, err);
    if (rc != DLD_ERR_CONFLICT || st->lease_break == NULL)
        return rc;
    struct dld_error berr;
    dld_error_init(&berr);
    if (st->lease_break(inst, table, dld_owner_dead, (void *)self, &berr) != DLD_OK)
        return rc; /* a live holder (or one that cannot be told): the conflict stands */
    dld_core_logf(DLD_LOG_WARN, table, "the holder of its lease is no longer running: taking it over");
    dld_error_init(err);
    return st->lease_acquire(inst, table, self, ttl_ms, token, err);
}

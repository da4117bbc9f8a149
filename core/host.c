/* Host function table, logging and the progress line. */
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <deltaload/sdk.h>

#include "host.h"

static int s_level = DLD_LOG_INFO;
static bool s_json;
static pthread_mutex_t s_log_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t s_cancel;
static bool s_progress_shown;
static int64_t s_progress_last_ms;

int64_t dld_core_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void dld_core_log_setup(int level, bool json)
{
    s_level = level;
    s_json = json;
}

bool dld_core_log_json(void) { return s_json; }

/* ---- secrets: the last line of redaction ---------------------------------------- */
#define S_MAX_SECRETS 64
static pthread_mutex_t s_secret_lock = PTHREAD_MUTEX_INITIALIZER;
static char *s_secrets[S_MAX_SECRETS + 1];
static size_t s_nsecrets;

void dld_core_secret_add(const char *value)
{
    if (value == NULL || strlen(value) < DLD_REDACT_MIN_SECRET)
        return;
    pthread_mutex_lock(&s_secret_lock);
    bool have = false;
    for (size_t i = 0; i < s_nsecrets && !have; i++)
        have = strcmp(s_secrets[i], value) == 0;
    if (!have && s_nsecrets < S_MAX_SECRETS) {
        char *copy = strdup(value);
        if (copy)
            s_secrets[s_nsecrets++] = copy;
    }
    pthread_mutex_unlock(&s_secret_lock);
}

void dld_core_redact(char *buf, size_t cap)
{
    pthread_mutex_lock(&s_secret_lock);
    dld_redact(buf, cap, (const char *const *)s_secrets);
    pthread_mutex_unlock(&s_secret_lock);
}

static void s_emit(int level, const char *who, const char *text)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    if (level > s_level)
        return;
    char msg[4096];
    snprintf(msg, sizeof msg, "%s", text);
    dld_core_redact(msg, sizeof msg);
    int64_t now = dld_core_now_ms();
    time_t secs = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    pthread_mutex_lock(&s_log_lock);
    if (s_progress_shown) {
        fputs("\r\033[K", stderr);
        s_progress_shown = false;
    }
    if (s_json) {
        cJSON *o = cJSON_CreateObject();
        char t[48];
        snprintf(t, sizeof t, "%s.%03dZ", ts, (int)(now % 1000));
        cJSON_AddStringToObject(o, "time", t);
        cJSON_AddStringToObject(o, "level", names[level < 0 ? 0 : level > 3 ? 3 : level]);
        cJSON_AddStringToObject(o, "component", who ? who : "deltaload");
        cJSON_AddStringToObject(o, "message", msg);
        char *s = cJSON_PrintUnformatted(o);
        fprintf(stderr, "%s\n", s);
        free(s);
        cJSON_Delete(o);
    } else {
        fprintf(stderr, "%s.%03dZ %-5s %s: %s\n", ts, (int)(now % 1000), names[level < 0 ? 0 : level > 3 ? 3 : level],
                who ? who : "deltaload", msg);
    }
    pthread_mutex_unlock(&s_log_lock);
}

void dld_core_logf(int level, const char *who, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s_emit(level, who, msg);
}

static void s_host_log(int level, const char *plugin, const char *message) { s_emit(level, plugin, message); }

static void s_on_signal(int sig)
{
    (void)sig;
    s_cancel = 1;
}

static volatile sig_atomic_t s_reload;
static void s_on_hup(int sig)
{
    (void)sig;
    s_reload = 1;
}

void dld_core_install_reload_signal(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_hup;
    sigaction(SIGHUP, &sa, NULL);
}

bool dld_core_take_reload(void)
{
    if (!s_reload)
        return false;
    s_reload = 0;
    return true;
}

void dld_core_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* A peer that closes a connection must give an error, not kill the
     * process: libcurl runs with CURLOPT_NOSIGNAL (threads), so it cannot
     * block SIGPIPE itself, and libpq's own blocking is per call. */
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

int dld_core_cancelled(void) { return s_cancel; }

static const struct dld_host s_host = {
    .struct_size = sizeof(struct dld_host),
    .abi_major = DLD_ABI_MAJOR,
    .abi_minor = DLD_ABI_MINOR,
    .alloc = malloc,
    .realloc = realloc,
    .free = free,
    .log = s_host_log,
    .now_ms = dld_core_now_ms,
    .cancelled = dld_core_cancelled,
};

const struct dld_host *dld_core_host(void) { return &s_host; }

void dld_progress_update(const char *table, int64_t rows, int64_t started_ms)
{
    static int tty = -1;
    if (tty < 0)
        tty = isatty(STDERR_FILENO);
    if (!tty)
        return;
    int64_t now = dld_core_now_ms();
    pthread_mutex_lock(&s_log_lock);
    if (now - s_progress_last_ms >= 200) {
        s_progress_last_ms = now;
        double secs = (double)(now - started_ms) / 1000.0;
        fprintf(stderr, "\r\033[K%s: %lld rows, %.0f rows/s", table, (long long)rows,
                secs > 0 ? (double)rows / secs : 0.0);
        s_progress_shown = true;
    }
    pthread_mutex_unlock(&s_log_lock);
}

void dld_progress_clear(void)
{
    pthread_mutex_lock(&s_log_lock);
    if (s_progress_shown) {
        fputs("\r\033[K", stderr);
        s_progress_shown = false;
    }
    pthread_mutex_unlock(&s_log_lock);
}

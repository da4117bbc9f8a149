/* Shared test helpers: host table, clock, plugin loading, temp dirs. */
#include "test_host.h"

#include <dlfcn.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t s_clock_ms; /* 0: real time */

int64_t dld_test_real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void dld_test_clock_set(int64_t ms)
{
    s_clock_ms = ms;
}

void dld_test_clock_advance(int64_t ms)
{
    if (s_clock_ms == 0)
        s_clock_ms = dld_test_real_ms();
    s_clock_ms += ms;
}

void dld_test_clock_real(void)
{
    s_clock_ms = 0;
}

static int64_t s_now_ms(void)
{
    return s_clock_ms ? s_clock_ms : dld_test_real_ms();
}

static void s_log(int level, const char *plugin, const char *message)
{
    static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    const char *env = getenv("DLD_TEST_LOG");
    int max = env ? atoi(env) : DLD_LOG_WARN;
    if (level <= max)
        fprintf(stderr, "[%s] %s: %s\n", (level >= 0 && level <= 3) ? names[level] : "?", plugin ? plugin : "-",
                message);
}

static int s_cancelled(void)
{
    return 0;
}

static const struct dld_host s_host = {
    .struct_size = sizeof(struct dld_host),
    .abi_major = DLD_ABI_MAJOR,
    .abi_minor = DLD_ABI_MINOR,
    .alloc = malloc,
    .realloc = realloc,
    .free = free,
    .log = s_log,
    .now_ms = s_now_ms,
    .cancelled = s_cancelled,
};

const struct dld_host *dld_test_host(void)
{
    return &s_host;
}

void *dld_test_plugin_load(const char *kind, const char *name, const struct dld_plugin **out)
{
    const char *dir = getenv("DLD_PLUGIN_DIR");
    char path[4096];
    *out = NULL;
    if (dir == NULL) {
        fprintf(stderr, "DLD_PLUGIN_DIR is not set (run the test through ctest)\n");
        return NULL;
    }
    snprintf(path, sizeof(path), "%s/dld-%s-%s.so", dir, kind, name);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        return NULL;
    }
    dld_plugin_entry_fn entry = (dld_plugin_entry_fn)dlsym(h, DLD_PLUGIN_ENTRY_SYMBOL);
    if (entry == NULL || entry(&s_host, out) != 0 || *out == NULL) {
        fprintf(stderr, "%s: no usable %s\n", path, DLD_PLUGIN_ENTRY_SYMBOL);
        dlclose(h);
        *out = NULL;
        return NULL;
    }
    return h;
}

void dld_test_plugin_unload(void *handle)
{
    if (handle != NULL)
        dlclose(handle);
}

int dld_test_tmpdir(char *buf, size_t cap, const char *tag)
{
    const char *base = getenv("TMPDIR");
    snprintf(buf, cap, "%s/dld-%s-XXXXXX", base && base[0] ? base : "/tmp", tag ? tag : "test");
    return mkdtemp(buf) ? 0 : -1;
}

static int s_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void dld_test_rmtree(const char *path)
{
    if (path != NULL && path[0] != '\0')
        nftw(path, s_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * Plugin loading and ABI checks. The checks follow PostgreSQL's magic block
 * (say exactly which field differs and what each side has) and SQLite's
 * versioned vtables (copy what the plugin declared into zeroed host structs;
 * test optional members for NULL afterwards).
 *
 * Minor skew (abi.h, "version skew between host and plugin"): any minor of
 * our major loads. A plugin built for a newer minor may declare a larger
 * descriptor and vtable: we copy the members we know and ignore the rest.
 * One built for an older minor declares smaller ones: the members it lacks
 * stay NULL/zero in our copies, and callers test optional members for NULL.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "builtin_list.h"
#include "contract.h"
#include "host.h"
#include "loader.h"

static const char *const s_kind_names[] = {NULL, "source", "target", "state", "scheduler"};

const char *dld_kind_name(uint32_t kind) { return kind >= 1 && kind <= 4 ? s_kind_names[kind] : "unknown"; }

int dld_kind_from_name(const char *name)
{
    for (int k = 1; k <= 4; k++)
        if (strcmp(name, s_kind_names[k]) == 0)
            return k;
    return 0;
}

static int s_parse_file_name(const char *file, int *kind, char *name, size_t cap);

/* ---- built-in plugins ---------------------------------------------------------- */
#define X(kind, name) int dld_builtin_entry_##kind##_##name(const struct dld_host *, const struct dld_plugin **);
DLD_BUILTIN_PLUGINS(X)
#undef X
/* the scheduler kind's entry is spelled sched_<name> by convention */
struct s_builtin {
    const char *kind, *name;
    dld_plugin_entry_fn entry;
};
#define X(kind, name) {#kind, #name, dld_builtin_entry_##kind##_##name},
static const struct s_builtin s_builtins[] = {DLD_BUILTIN_PLUGINS(X){NULL, NULL, NULL}};
#undef X

/* ---- descriptor checks ------------------------------------------------------------ */
/* Members each kind must have, as offsets inside its vtable; the loader refuses
 * a plugin whose declared vtable is too short for them or leaves one NULL. */
struct s_required {
    const char *member;
    size_t offset;
};
#define R(type, m) {#m, offsetof(struct type, m)}
static const struct s_required s_req_source[] = {R(dld_source_vtable, open), R(dld_source_vtable, close),
    R(dld_source_vtable, extract_begin), R(dld_source_vtable, extract_next), R(dld_source_vtable, extract_end), {0, 0}};
static const struct s_required s_req_target[] = {R(dld_target_vtable, open), R(dld_target_vtable, close),
    R(dld_target_vtable, load_begin), R(dld_target_vtable, load_write), R(dld_target_vtable, load_finish),
    R(dld_target_vtable, load_publish), R(dld_target_vtable, load_free), R(dld_target_vtable, load_discard),
    R(dld_target_vtable, load_is_published), {0, 0}};
static const struct s_required s_req_state[] = {R(dld_state_vtable, open), R(dld_state_vtable, close),
    R(dld_state_vtable, item_put), R(dld_state_vtable, item_get), R(dld_state_vtable, item_list),
    R(dld_state_vtable, item_delete), R(dld_state_vtable, lease_acquire), R(dld_state_vtable, lease_renew),
    R(dld_state_vtable, lease_release), R(dld_state_vtable, watermark_get), R(dld_state_vtable, watermark_set),
    R(dld_state_vtable, run_record), R(dld_state_vtable, run_last), R(dld_state_vtable, run_commit),
    R(dld_state_vtable, history), {0, 0}};
static const struct s_required s_req_scheduler[] = {R(dld_scheduler_vtable, open), R(dld_scheduler_vtable, close),
    R(dld_scheduler_vtable, next_fire), {0, 0}};
#undef R

static const struct s_required *s_required_for(uint32_t kind, size_t *host_size)
{
    switch (kind) {
    case DLD_KIND_SOURCE: *host_size = sizeof(struct dld_source_vtable); return s_req_source;
    case DLD_KIND_TARGET: *host_size = sizeof(struct dld_target_vtable); return s_req_target;
    case DLD_KIND_STATE: *host_size = sizeof(struct dld_state_vtable); return s_req_state;
    case DLD_KIND_SCHEDULER: *host_size = sizeof(struct dld_scheduler_vtable); return s_req_scheduler;
    default: *host_size = 0; return NULL;
    }
}

static int s_check(const char *path, dld_plugin_entry_fn entry, uint32_t kind, const char *name, struct dld_loaded *out,
                   struct dld_error *err)
{
    const struct dld_plugin *d = NULL;
    /* a crash inside the entry is named (contract.h) */
    struct dld_call_record saved = dld_contract_enter(dld_kind_name(kind), name, path, "dld_plugin_entry", NULL);
    int rc = entry(dld_core_host(), &d);
    dld_contract_leave(saved);
    if (rc != 0)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: the plugin refused this deltaload (ABI %d.%d): its entry returned %d (%s)",
                             path, DLD_ABI_MAJOR, DLD_ABI_MINOR, rc, dld_code_name(rc));
    if (d == NULL)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: the entry function returned no descriptor", path);
    /* The first fields are frozen across every major, so they can be read
     * before the major is known to match. */
    if (d->struct_size < offsetof(struct dld_plugin, kind))
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: descriptor size %u is too small to hold an ABI version",
                             path, d->struct_size);
    if (d->abi_major != DLD_ABI_MAJOR)
        return dld_error_set(err, DLD_ERR_CONFIG,
                             "%s: built for plugin ABI major %u (ABI %u.%u), this deltaload has ABI major %d (ABI %d.%d); "
                             "rebuild the plugin against this SDK",
                             path, d->abi_major, d->abi_major, d->abi_minor, DLD_ABI_MAJOR, DLD_ABI_MAJOR, DLD_ABI_MINOR);
    if (d->struct_size < offsetof(struct dld_plugin, vtable) + sizeof(void *))
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: descriptor size %u is smaller than ABI %d.0's %zu bytes", path,
                             d->struct_size, DLD_ABI_MAJOR, offsetof(struct dld_plugin, vtable) + sizeof(void *));
    memset(out, 0, sizeof(*out));
    size_t n = d->struct_size < sizeof(out->desc) ? d->struct_size : sizeof(out->desc);
    memcpy(&out->desc, d, n);
    out->desc.struct_size = sizeof(out->desc);
    out->plugin_abi_minor = d->abi_minor;
    if (out->desc.kind != kind)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: the file name says kind '%s' but the plugin declares kind '%s' (%u)",
                             path, dld_kind_name(kind), dld_kind_name(out->desc.kind), out->desc.kind);
    if (out->desc.name == NULL || strcmp(out->desc.name, name) != 0)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: the file name says plugin '%s' but the plugin calls itself '%s'",
                             path, name, out->desc.name ? out->desc.name : "(null)");
    if (out->desc.vtable == NULL)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: the plugin has no %s vtable", path, dld_kind_name(kind));
    size_t host_size;
    const struct s_required *req = s_required_for(kind, &host_size);
    uint32_t vt_size = *(const uint32_t *)out->desc.vtable;
    /* a newer minor's vtable is longer than ours: copy the part we know, and
     * let our copy's struct_size say how much of it the plugin declared */
    size_t known = vt_size < host_size ? vt_size : host_size;
    memcpy(&out->vt, out->desc.vtable, known);
    if (known >= sizeof(uint32_t))
        out->vt.source.struct_size = (uint32_t)known;
    for (; req->member; req++) {
        if (vt_size < req->offset + sizeof(void *))
            return dld_error_set(err, DLD_ERR_CONFIG, "%s: the %s vtable is %u bytes, too small to hold required member %s",
                                 path, dld_kind_name(kind), vt_size, req->member);
        void *fn;
        memcpy(&fn, (const char *)&out->vt + req->offset, sizeof fn);
        if (fn == NULL)
            return dld_error_set(err, DLD_ERR_CONFIG, "%s: required member %s of the %s vtable is missing (NULL)", path,
                                 req->member, dld_kind_name(kind));
    }
    /* the option table: unique names, known types and flags, defaults of
     * their type and among the choices, reserved NULL (contract.c) */
    char why[512];
    if (dld_contract_check_options(out->desc.options, why, sizeof why) != 0)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: %s plugin '%s' refused: its option table is wrong: %s", path,
                             dld_kind_name(kind), name, why);
    out->kind = kind;
    return DLD_OK;
}

int dld_loader_load_file(const char *path, uint32_t kind, const char *name, struct dld_loaded *out,
                         struct dld_error *err)
{
    /* RTLD_LOCAL: plugins must not see each other's symbols (each links its
     * own copy of the SDK support library). A crash in its constructors is
     * named (contract.h). */
    dld_contract_install_crash_handler();
    struct dld_call_record saved = dld_contract_enter(dld_kind_name(kind), name, path, "dlopen (constructors)", NULL);
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    dld_contract_leave(saved);
    if (dl == NULL)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: cannot load: %s", path, dlerror());
    dld_plugin_entry_fn entry;
    *(void **)&entry = dlsym(dl, DLD_PLUGIN_ENTRY_SYMBOL);
    if (entry == NULL) {
        dlclose(dl);
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: not a deltaload plugin: no exported %s() function", path,
                             DLD_PLUGIN_ENTRY_SYMBOL);
    }
    int rc = s_check(path, entry, kind, name, out, err);
    if (rc != DLD_OK) {
        dlclose(dl);
        memset(out, 0, sizeof(*out));
        return rc;
    }
    out->dl = dl;
    out->path = strdup(path);
    return DLD_OK;
}

/* ---- probe cache ------------------------------------------------------------------ */
/* Probing forks and loads the file in a child: a few milliseconds of every
 * `run` (docs/benchmarks.md), paid again for files that passed last time.
 * So a file that passed the probe and then loaded is remembered, per file
 * identity, in $XDG_CACHE_HOME/deltaload/probe (~/.cache/deltaload/probe),
 * one small file per plugin path. The identity is the plugin file's device,
 * inode, size, mtime and ctime (ns), its kind, name and path, and the same
 * of the deltaload executable: a rebuilt, replaced, touched or chmod-ed
 * plugin or a new deltaload is probed again. Entries are trusted only when
 * owned by this user and not writable by others, and for a day at most (the
 * libraries a plugin links are not part of the identity). Only `run`'s
 * loads use it; `plugins list` and `plugins check` always probe.
 * DELTALOAD_PROBE_CACHE=0 switches it off. Every failure here just means
 * "probe". */
#define S_PROBE_CACHE_TTL (24 * 3600)

static bool s_probe_cache_on(void)
{
    const char *v = getenv("DELTALOAD_PROBE_CACHE");
    return !(v && (!strcmp(v, "0") || !strcasecmp(v, "off") || !strcasecmp(v, "no") || !strcasecmp(v, "false")));
}

/* the cache directory, created (0700) when create is set; false when there is none */
static bool s_probe_cache_dir(char *dir, size_t cap, bool create)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (xdg && xdg[0] == '/')
        n = snprintf(dir, cap, "%s/deltaload", xdg);
    else if (home && home[0] == '/')
        n = snprintf(dir, cap, "%s/.cache/deltaload", home);
    else
        return false;
    if (n < 0 || (size_t)n + sizeof "/probe" > cap)
        return false;
    if (create) {
        /* the parent (~/.cache) may not exist yet either */
        char *slash = strrchr(dir, '/');
        *slash = '\0';
        (void)mkdir(dir, 0700);
        *slash = '/';
        (void)mkdir(dir, 0700);
    }
    strcat(dir, "/probe");
    if (create && mkdir(dir, 0700) != 0 && errno != EEXIST)
        return false;
    return true;
}

static void s_ident(char *out, size_t cap, const struct stat *st)
{
    snprintf(out, cap, "%llu:%llu:%lld:%lld.%09ld:%lld.%09ld", (unsigned long long)st->st_dev,
             (unsigned long long)st->st_ino, (long long)st->st_size, (long long)st->st_mtim.tv_sec,
             st->st_mtim.tv_nsec, (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
}

/* key: what a hit must match exactly; entry: the cache file for this path
 * (entry[0] == 0 when there is no cache). False when there is nothing to look up. */
static bool s_probe_cache_key(const char *path, uint32_t kind, const char *name, char *key, size_t kcap, char *entry,
                              size_t ecap)
{
    entry[0] = '\0';
    if (!s_probe_cache_on())
        return false;
    struct stat exe, so;
    if (stat("/proc/self/exe", &exe) != 0 || stat(path, &so) != 0 || !S_ISREG(so.st_mode))
        return false;
    char dir[PATH_MAX], ie[128], is[128];
    if (!s_probe_cache_dir(dir, sizeof dir, false))
        return false;
    s_ident(ie, sizeof ie, &exe);
    s_ident(is, sizeof is, &so);
#ifdef DLD_VERSION
    const char *version = DLD_VERSION;
#else
    const char *version = "?";
#endif
    int n = snprintf(key, kcap, "deltaload probe cache 1\nhost %s %s abi %d.%d\nplugin %s %s %s\nfile %s\n", version,
                     ie, DLD_ABI_MAJOR, DLD_ABI_MINOR, dld_kind_name(kind), name, is, path);
    if (n < 0 || (size_t)n >= kcap)
        return false;
    /* one entry per plugin path (FNV-1a of it): a changed file replaces its entry */
    uint64_t h = 1469598103934665603ull;
    for (const char *p = path; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    n = snprintf(entry, ecap, "%s/%016llx", dir, (unsigned long long)h);
    if (n < 0 || (size_t)n >= ecap) {
        entry[0] = '\0';
        return false;
    }
    return true;
}

static bool s_probe_cache_hit(const char *entry, const char *key)
{
    int fd = open(entry, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat st;
    char buf[PATH_MAX + 512];
    size_t klen = strlen(key);
    bool hit = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() && !(st.st_mode & 022) &&
               st.st_mtime <= time(NULL) && time(NULL) - st.st_mtime < S_PROBE_CACHE_TTL &&
               (size_t)st.st_size == klen && klen <= sizeof buf && read(fd, buf, klen) == (ssize_t)klen &&
               memcmp(buf, key, klen) == 0;
    close(fd);
    return hit;
}

/* written whole to a temporary file and renamed: readers see the old entry or the new one */
static void s_probe_cache_put(const char *entry, const char *key)
{
    char dir[PATH_MAX], tmp[PATH_MAX + 64];
    if (!s_probe_cache_dir(dir, sizeof dir, true))
        return;
    int n = snprintf(tmp, sizeof tmp, "%s.%ld.tmp", entry, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp)
        return;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    size_t len = strlen(key);
    bool ok = write(fd, key, len) == (ssize_t)len;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, entry) != 0)
        unlink(tmp);
}

int dld_loader_load(uint32_t kind, const char *name, const char *const *dirs, struct dld_loaded *out,
                    struct dld_error *err)
{
    char path[PATH_MAX];
    for (size_t i = 0; dirs && dirs[i]; i++) {
        snprintf(path, sizeof path, "%s/dld-%s-%s.so", dirs[i], dld_kind_name(kind), name);
        if (access(path, F_OK) == 0) {
            /* the first file of that name is the plugin, refused or not:
             * `plugins list` resolves the same way (later copies are shadowed) */
            /* a file that passed the probe before, unchanged, is not
             * probed again (probe cache below) */
            char key[PATH_MAX + 512], entry[PATH_MAX + 64];
            bool cached = s_probe_cache_key(path, kind, name, key, sizeof key, entry, sizeof entry) &&
                          s_probe_cache_hit(entry, key);
            int rc = cached ? DLD_OK : dld_loader_probe(path, kind, name, err);
            if (rc == DLD_OK)
                rc = dld_loader_load_file(path, kind, name, out, err);
            if (rc == DLD_OK && !cached && entry[0])
                s_probe_cache_put(entry, key);
            if (rc == DLD_OK)
                dld_contract_wrap(out); /* every call checked at the boundary */
            return rc;
        }
    }
    for (const struct s_builtin *b = s_builtins; b->kind; b++) {
        const char *bk = strcmp(b->kind, "sched") == 0 ? "scheduler" : b->kind;
        if (strcmp(bk, dld_kind_name(kind)) == 0 && strcmp(b->name, name) == 0) {
            int rc = s_check("(built in)", b->entry, kind, name, out, err);
            if (rc == DLD_OK) {
                out->path = strdup("(built in)");
                dld_contract_wrap(out);
            }
            return rc;
        }
    }
    size_t len = 0;
    char tried[1024] = "";
    for (size_t i = 0; dirs && dirs[i] && len < sizeof tried; i++)
        len += (size_t)snprintf(tried + len, sizeof tried - len, "%s%s", i ? ", " : "", dirs[i]);
    return dld_error_set(err, DLD_ERR_CONFIG,
                         "unknown %s plugin '%s': no dld-%s-%s.so in [%s] and no built-in plugin of that name "
                         "(see `deltaload plugins list`)",
                         dld_kind_name(kind), name, dld_kind_name(kind), name, tried);
}

void dld_loader_unload(struct dld_loaded *p)
{
    if (p == NULL)
        return;
    dld_contract_unwrap(p);
    if (p->dl)
        dlclose(p->dl);
    free(p->path);
    memset(p, 0, sizeof(*p));
}

/* Loads the file in a child process first, so that a file that crashes or
 * hangs while loading (constructors, entry, checks) is refused with the
 * reason instead of taking this process down. */
static unsigned s_probes;

unsigned dld_loader_probe_count(void) { return s_probes; }

int dld_loader_probe(const char *path, uint32_t kind, const char *name, struct dld_error *err)
{
    s_probes++;
    int fds[2];
    if (pipe(fds) != 0)
        return DLD_OK; /* cannot probe: the load itself decides */
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return DLD_OK;
    }
    if (pid == 0) {
        close(fds[0]);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        dld_contract_crash_fd(fds[1]);
        alarm(10);
        struct dld_loaded p;
        struct dld_error e;
        dld_error_init(&e);
        int rc = dld_loader_load_file(path, kind, name, &p, &e);
        char out[sizeof e.message + 2];
        int n = snprintf(out, sizeof out, "%c%s", rc == DLD_OK ? 'K' : 'E', rc == DLD_OK ? "" : e.message);
        if (write(fds[1], out, (size_t)n) < 0)
            _exit(3);
        _exit(0);
    }
    close(fds[1]);
    char buf[2048];
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fds[0], buf + len, sizeof buf - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
        if (len == sizeof buf - 1)
            break;
    }
    buf[len] = '\0';
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    bool crashed = !strncmp(buf, "deltaload: fatal signal", 23); /* the crash report (a sanitizer then exits) */
    if (WIFSIGNALED(status) || crashed) {
        char *msg = buf;
        if (!strncmp(msg, "deltaload: ", 11))
            msg += 11;
        char *nl = strchr(msg, '\n');
        if (nl)
            *nl = '\0';
        if (!WIFSIGNALED(status))
            return dld_error_set(err, DLD_ERR_CONFIG, "%s: loading it crashed the process (exit status %d): %s", path,
                                 WIFEXITED(status) ? WEXITSTATUS(status) : -1, msg);
        int sig = WTERMSIG(status);
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: loading it %s (signal %d, %s)%s%s", path,
                             sig == SIGALRM ? "did not finish within 10 s" : "crashed the process", sig, strsignal(sig),
                             msg[0] ? ": " : "", msg);
    }
    if (len > 0 && buf[0] == 'E')
        return dld_error_set(err, DLD_ERR_CONFIG, "%s", buf + 1);
    if (len == 0 || buf[0] != 'K' || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: the process that tried to load it ended (status %d) "
                             "without an answer (a constructor or the entry called exit?)", path,
                             WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return DLD_OK;
}

/* "dld-<kind>-<name>.so" → kind, name */
int dld_loader_parse_file_name(const char *file, int *kind, char *name, size_t cap)
{
    return s_parse_file_name(file, kind, name, cap);
}

static int s_parse_file_name(const char *file, int *kind, char *name, size_t cap)
{
    size_t n = strlen(file);
    if (strncmp(file, "dld-", 4) != 0 || n < 8 || strcmp(file + n - 3, ".so") != 0)
        return -1;
    const char *k = file + 4;
    const char *dash = strchr(k, '-');
    if (dash == NULL)
        return -1;
    char kind_name[16];
    size_t kn = (size_t)(dash - k);
    if (kn >= sizeof kind_name)
        return -1;
    memcpy(kind_name, k, kn);
    kind_name[kn] = '\0';
    *kind = dld_kind_from_name(kind_name);
    size_t nn = (size_t)(file + n - 3 - (dash + 1));
    if (*kind == 0 || nn == 0 || nn >= cap)
        return -1;
    memcpy(name, dash + 1, nn);
    name[nn] = '\0';
    return 0;
}

static int s_cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void dld_loader_list(const char *const *dirs, dld_loader_visit_fn fn, void *ctx)
{
    for (size_t i = 0; dirs && dirs[i]; i++) {
        DIR *d = opendir(dirs[i]);
        if (d == NULL)
            continue;
        char **names = NULL;
        size_t count = 0;
        for (struct dirent *e; (e = readdir(d));) {
            if (strncmp(e->d_name, "dld-", 4) != 0)
                continue;
            char **tmp = realloc(names, (count + 1) * sizeof(*names));
            if (tmp == NULL)
                break;
            names = tmp;
            names[count++] = strdup(e->d_name);
        }
        closedir(d);
        qsort(names, count, sizeof(*names), s_cmp_str);
        for (size_t j = 0; j < count; j++) {
            char path[PATH_MAX], name[128];
            int kind;
            snprintf(path, sizeof path, "%s/%s", dirs[i], names[j]);
            struct dld_error err;
            dld_error_init(&err);
            struct dld_loaded p;
            if (s_parse_file_name(names[j], &kind, name, sizeof name) != 0) {
                dld_error_set(&err, DLD_ERR_CONFIG, "%s: not named dld-<kind>-<name>.so", path);
                fn(ctx, path, NULL, &err);
            } else if (dld_loader_probe(path, (uint32_t)kind, name, &err) == DLD_OK &&
                       dld_loader_load_file(path, (uint32_t)kind, name, &p, &err) == DLD_OK) {
                fn(ctx, path, &p, NULL);
                dld_loader_unload(&p);
            } else {
                fn(ctx, path, NULL, &err);
            }
            free(names[j]);
        }
        free(names);
    }
    for (const struct s_builtin *b = s_builtins; b->kind; b++) {
        const char *bk = strcmp(b->kind, "sched") == 0 ? "scheduler" : b->kind;
        struct dld_error err;
        dld_error_init(&err);
        struct dld_loaded p;
        if (s_check("(built in)", b->entry, (uint32_t)dld_kind_from_name(bk), b->name, &p, &err) == DLD_OK)
            fn(ctx, "(built in)", &p, NULL);
        else
            fn(ctx, "(built in)", NULL, &err);
    }
}

const char *const *dld_loader_default_dirs(void)
{
    static char *dirs[16];
    static int done;
    if (done)
        return (const char *const *)dirs;
    done = 1;
    int n = 0;
    const char *env = getenv("DELTALOAD_PLUGIN_PATH");
    if (env && *env) {
        char *copy = strdup(env), *save = NULL;
        for (char *tok = strtok_r(copy, ":", &save); tok && n < 12; tok = strtok_r(NULL, ":", &save))
            dirs[n++] = strdup(tok);
        free(copy);
    }
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            if (asprintf(&dirs[n], "%s/plugins", exe) > 0)
                n++;
            if (asprintf(&dirs[n], "%s/../lib/deltaload/plugins", exe) > 0)
                n++;
        }
    }
    dirs[n++] = strdup(DLD_PLUGIN_INSTALL_DIR);
    dirs[n] = NULL;
    return (const char *const *)dirs;
}

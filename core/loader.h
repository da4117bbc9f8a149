/*
 * Plugin loader: finds dld-<kind>-<name>.so in the plugin directories (or a
 * plugin compiled into the core), checks its descriptor and copies it into
 * zeroed host-owned structs, so members appended in later ABI minors read
 * as NULL. Not thread-safe: load everything before starting workers.
 */
#ifndef DLD_CORE_LOADER_H
#define DLD_CORE_LOADER_H

#include <deltaload/deltaload.h>

struct dld_loaded {
    char *path;                 /* file loaded, or "(built in)" */
    void *dl;                   /* dlopen handle, NULL for built-ins */
    uint32_t kind;
    uint32_t plugin_abi_minor;
    struct dld_plugin desc;     /* host copy */
    union {
        struct dld_source_vtable source;
        struct dld_target_vtable target;
        struct dld_state_vtable state;
        struct dld_scheduler_vtable scheduler;
    } vt;                       /* host copy, zero past what the plugin declared */
};

const char *dld_kind_name(uint32_t kind);      /* "source", "target", "state", "scheduler" */
int dld_kind_from_name(const char *name);       /* 0 if unknown */

/* Search order: each of dirs (NULL-terminated), then the plugins built into
 * the core. The first file of that kind and name is the plugin: when it is
 * refused, the load fails (later copies are shadowed, as `plugins list`
 * shows). The returned vtable is wrapped by the host's checks (contract.h). On failure returns a dld_code and writes a message naming the
 * file and the reason into err. */
int dld_loader_load(uint32_t kind, const char *name, const char *const *dirs, struct dld_loaded *out,
                    struct dld_error *err);
/* Loads one file; kind/name are what the file name says. */
int dld_loader_load_file(const char *path, uint32_t kind, const char *name, struct dld_loaded *out,
                         struct dld_error *err);
void dld_loader_unload(struct dld_loaded *p);

/* Calls fn for every plugin found in dirs and built in (loaded ones and
 * refused ones: err set, p NULL). */
typedef void (*dld_loader_visit_fn)(void *ctx, const char *path, const struct dld_loaded *p,
                                    const struct dld_error *err);
void dld_loader_list(const char *const *dirs, dld_loader_visit_fn fn, void *ctx);

/* Loads the file in a child process (constructors, entry, checks) and
 * reports how that went: DLD_OK, or DLD_ERR_CONFIG naming the file and the
 * reason, a crash or a hang included. dld_loader_list probes every file
 * before loading it; dld_loader_load too, unless the probe cache knows the
 * file passed before. */
int dld_loader_probe(const char *path, uint32_t kind, const char *name, struct dld_error *err);
/* Probes made by this process so far (tests: dld_loader_load skips the
 * probe for a file that passed it before, unchanged; see loader.c's probe
 * cache, $XDG_CACHE_HOME/deltaload/probe, DELTALOAD_PROBE_CACHE=0 to disable). */
unsigned dld_loader_probe_count(void);
/* "dld-<kind>-<name>.so" → kind, name; -1 when the file is not so named. */
int dld_loader_parse_file_name(const char *file, int *kind, char *name, size_t cap);

/* The default directory list: $DELTALOAD_PLUGIN_PATH (colon separated),
 * <dir of the executable>/plugins, <dir of the executable>/../lib/deltaload/plugins,
 * the install directory. Returned array and strings are static. */
const char *const *dld_loader_default_dirs(void);

#endif

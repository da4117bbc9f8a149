/*
 * deltaload plugin ABI: the contract between the core (the host) and a plugin.
 *
 * Model: PostgreSQL's magic block (an exported *function*, compared field by
 * field), SQLite's versioned vtables (each starts with its own size; members
 * are only ever appended; the host tests optional members for NULL) and
 * OpenSSL 3's dispatch tables (the host hands the plugin its functions, so a
 * plugin never links back into the core).
 *
 * Ownership (AWS Common Runtime rule):
 *   - whoever allocates frees; every pointer argument is borrowed for the
 *     duration of the call only -- except `const struct dld_host *host`
 *     (entry and open), which is static in the host and valid until the
 *     plugin is unloaded: a plugin keeps it to allocate, log and read the
 *     clock in later calls;
 *   - the descriptor, its option table and its vtable are static in the plugin
 *     and never freed;
 *   - error objects are owned by the host; plugins fill them;
 *   - strings a plugin returns through a `char **` out-parameter are allocated
 *     with host->alloc and freed by the host with host->free.
 *
 * Thread-safety: an instance (the `void *inst` returned by open) is used by
 * one thread at a time unless the plugin sets DLD_CAP_THREAD_SAFE; the host
 * opens one instance per worker otherwise.
 */
#ifndef DELTALOAD_ABI_H
#define DELTALOAD_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A major mismatch is refused by the loader. The minor is bumped when
 * members are appended to any struct below; older plugins then read as
 * having those members NULL/zero. What a minor may add, and nothing else:
 * members appended to structs that start with struct_size (vtables and
 * their optional members, the descriptor, dld_host, dld_load, dld_run,
 * dld_extract_info, ...); values of enum dld_capability, dld_run_status,
 * dld_mode and dld_option_type. A plugin treats a value it does not know as
 * unsupported (DLD_ERR_UNSUPPORTED/DLD_ERR_CONFIG with a message). enum
 * dld_code and struct dld_option are closed for major 1. The host checks
 * return codes and what each call hands back (docs/plugin-authoring.md,
 * "What the host checks").
 *   1.0  first release
 *   1.1  struct dld_load: load_uid, lease_token (fenced, store-independent
 *        load identity); dld_target_vtable: manifest_list;
 *        dld_state_vtable: runs_unfinished, runs_history, setup (optional)
 *   1.2  struct dld_extract_info: schema (host-provided, optional for a
 *        source: the columns before any row); struct dld_load: columns;
 *        dld_state_vtable: lease_break (optional); dld_target_vtable:
 *        lake_expire (optional) */
#define DLD_ABI_MAJOR 1
#define DLD_ABI_MINOR 2

/* ---- plugin kinds ---------------------------------------------------- */
enum dld_kind {
    DLD_KIND_SOURCE = 1,
    DLD_KIND_TARGET = 2,
    DLD_KIND_STATE = 3,
    DLD_KIND_SCHEDULER = 4,
};

/* ---- return codes ------------------------------------------------------
 * Every fallible call returns one of these: 0 on success, DLD_DONE for
 * "no more data", a negative code on failure (and fills the error object). */
enum dld_code {
    DLD_OK = 0,
    DLD_DONE = 1,
    DLD_ERR_RETRY = -1,       /* transient: the same call may succeed later */
    DLD_ERR_THROTTLED = -2,   /* the service asked us to slow down */
    DLD_ERR_CONFLICT = -3,    /* a conditional write lost (lease held, version moved) */
    DLD_ERR_NOT_FOUND = -4,
    DLD_ERR_AUTH = -5,        /* credentials missing or refused */
    DLD_ERR_CONFIG = -6,      /* bad option, bad controller item, bad identifier */
    DLD_ERR_UNSUPPORTED = -7, /* type or feature this plugin cannot handle */
    DLD_ERR_FATAL = -8,       /* anything else; not worth retrying */
};

/* ---- error object (host-owned) -----------------------------------------
 * The host allocates and zeroes it and sets struct_size; a plugin writes
 * only the members that fit inside struct_size (the SDK helpers in
 * <deltaload/sdk.h> do that). No thread-local error state crosses the
 * boundary. */
struct dld_error {
    uint32_t struct_size;
    int32_t code;             /* enum dld_code */
    int32_t retryable;        /* non-zero: the engine may retry the step */
    int32_t http_status;      /* upstream HTTP status, 0 if none */
    char message[1024];       /* what went wrong, for a human; never a secret */
    char upstream_code[64];   /* AWS error code, SQLSTATE, OCI error, ... */
    char request_id[128];     /* upstream request id, if any */
};

/* ---- host function table -----------------------------------------------
 * Handed to dld_plugin_entry and to every open(). alloc/realloc/free form a
 * set: a plugin refuses a host whose set is incomplete. */
enum dld_log_level { DLD_LOG_ERROR = 0, DLD_LOG_WARN = 1, DLD_LOG_INFO = 2, DLD_LOG_DEBUG = 3 };

struct dld_host {
    uint32_t struct_size;
    uint16_t abi_major, abi_minor;
    void *(*alloc)(size_t size);
    void *(*realloc)(void *ptr, size_t size);
    void (*free)(void *ptr);
    /* message is already formatted; the host adds time, level and plugin */
    void (*log)(int level, const char *plugin, const char *message);
    int64_t (*now_ms)(void);   /* wall clock, ms since the epoch */
    /* non-zero once the host wants long loops to stop (signal, deadline) */
    int (*cancelled)(void);
};

/* ---- declared options ----------------------------------------------------
 * The plugin's option table doubles as its documentation (`deltaload plugins
 * describe`). The host validates the user's options against it, fills in
 * defaults, and hands the plugin a NULL-terminated array of key/value string
 * pairs: { "path", "/tmp/x", "format", "csv", NULL }. Values of typed options
 * are already checked (an INT parses as int64, a BOOL is "true"/"false").
 * This struct is frozen for ABI major 1 (it is laid out in arrays). */
enum dld_option_type {
    DLD_OPT_STRING = 1,
    DLD_OPT_INT = 2,
    DLD_OPT_BOOL = 3,
    DLD_OPT_DOUBLE = 4,
    DLD_OPT_JSON = 5, /* any JSON value, passed on as JSON text */
};
enum dld_option_flags {
    DLD_OPTF_REQUIRED = 1u << 0,
    DLD_OPTF_SECRET = 1u << 1, /* never printed in logs, errors or status */
};
struct dld_option {
    const char *name;
    uint32_t type;          /* enum dld_option_type */
    uint32_t flags;         /* enum dld_option_flags */
    const char *default_value; /* NULL: no default */
    const char *choices;    /* "a|b|c" for enumerated strings, or NULL */
    const char *help;       /* one or two sentences */
    const void *reserved;   /* must be NULL */
};

/* ---- capability bits (features that are not functions, as curl's TLS
 * backends declare them) --------------------------------------------------- */
enum dld_capability {
    DLD_CAP_THREAD_SAFE = 1u << 0,      /* one instance may serve many threads */
    DLD_CAP_SNAPSHOT = 1u << 1,         /* source: high mark and rows read one snapshot */
    DLD_CAP_SHARED_STATE = 1u << 2,     /* state: safe for several machines at once */
    DLD_CAP_REMOTE_SCHEDULE = 1u << 3,  /* scheduler: deploys a schedule to a service */
};

/* ---- the descriptor ------------------------------------------------------ */
struct dld_plugin {
    uint32_t struct_size;       /* sizeof(struct dld_plugin) as compiled into the plugin */
    uint16_t abi_major, abi_minor;
    uint32_t kind;              /* enum dld_kind */
    uint32_t capabilities;      /* enum dld_capability bits */
    const char *name;           /* must match the file: dld-<kind>-<name>.so */
    const char *version;
    const char *description;
    const struct dld_option *options; /* terminated by an entry with name == NULL */
    const void *vtable;         /* struct dld_<kind>_vtable, starting with its struct_size */
};

/* The one exported symbol. Returns 0 and sets *out to a static descriptor,
 * or a negative dld_code when the plugin refuses the host (too old an ABI,
 * incomplete host table). */
typedef int (*dld_plugin_entry_fn)(const struct dld_host *host, const struct dld_plugin **out);
#define DLD_PLUGIN_ENTRY_SYMBOL "dld_plugin_entry"

/* Plugins define their entry with DLD_PLUGIN_ENTRY(name). Built as a shared
 * object it is the exported dld_plugin_entry; compiled into the core
 * (-DDLD_BUILTIN) it gets a unique name so several plugins can link into one
 * binary. */
#if defined(DLD_BUILTIN)
/* the prototype first keeps -Wmissing-prototypes quiet */
#define DLD_PLUGIN_ENTRY(ident)                                                                  \
    int dld_builtin_entry_##ident(const struct dld_host *host, const struct dld_plugin **out); \
    int dld_builtin_entry_##ident(const struct dld_host *host, const struct dld_plugin **out)
#else
#if defined(__GNUC__)
#define DLD_EXPORT __attribute__((visibility("default")))
#else
#define DLD_EXPORT
#endif
#define DLD_PLUGIN_ENTRY(ident)                                                             \
    DLD_EXPORT int dld_plugin_entry(const struct dld_host *host, const struct dld_plugin **out); \
    DLD_EXPORT int dld_plugin_entry(const struct dld_host *host, const struct dld_plugin **out)
#endif

/* Pin the layouts: appending is allowed, moving is not (SQLite once changed
 * sqlite3_module without bumping its version; this makes that a build error). */
#define DLD_PIN(type, member, off) _Static_assert(offsetof(type, member) == (off), #type "." #member " moved: ABI break")
#if UINTPTR_MAX == 0xffffffffffffffffu
DLD_PIN(struct dld_plugin, struct_size, 0);
DLD_PIN(struct dld_plugin, abi_major, 4);
DLD_PIN(struct dld_plugin, kind, 8);
DLD_PIN(struct dld_plugin, name, 16);
DLD_PIN(struct dld_plugin, options, 40);
DLD_PIN(struct dld_plugin, vtable, 48);
_Static_assert(sizeof(struct dld_option) == 48, "struct dld_option is frozen for ABI major 1");
DLD_PIN(struct dld_host, alloc, 8);
DLD_PIN(struct dld_host, log, 32);
DLD_PIN(struct dld_error, message, 16);
#endif

/* ---- version skew between host and plugin -------------------------------
 * One major, any minors. The loader refuses another major (naming both
 * versions) and loads a plugin of any minor of its own major:
 *
 *   plugin built for a NEWER minor than the host:
 *     loads. The host copies only the descriptor and vtable members it
 *     knows (a larger struct_size is fine; what lies beyond is ignored) and
 *     never calls members it does not know. The plugin must not assume the
 *     host has the newer members of the structs the host passes or expects
 *     filled (dld_load, dld_extract_info, dld_run, ...): it reads and writes
 *     a member only when the host's struct_size covers it (DLD_HAS below,
 *     dld_struct_copy and the *_put helpers in sdk.h). host->abi_minor says
 *     which minor the host has; a plugin that cannot work without a newer
 *     host refuses it in its entry (DLD_PLUGIN_DEFINE_INIT in sdk.h), and
 *     the loader then names the plugin and the host's ABI.
 *   plugin built for an OLDER minor than the host:
 *     loads. Vtable and descriptor members it lacks read as NULL/zero in the
 *     host's copy (the loader copies into zeroed structs); the optional ones
 *     (e.g. dld_target_vtable.manifest_list, 1.1) are tested for NULL before
 *     every call and the host falls back or reports the feature as missing.
 *     The structs the host passes have the host's (larger) struct_size; a
 *     plugin ignores members it does not know.
 *   required members (those of 1.0) are checked at load: a vtable too short
 *   for one, or one left NULL, is refused with the member's name.
 *
 * DLD_HAS(ptr, type, member): the struct at ptr (non-NULL), whose struct_size
 * the other side set, is large enough to hold member of type. A plugin
 * writes a member of an output struct, or reads a member of a borrowed one
 * appended after 1.0, only when DLD_HAS says so:
 *     if (DLD_HAS(load, struct dld_load, load_uid) && load->load_uid) ...
 *     DLD_SET(info, struct dld_extract_info, query, text);  // skipped if it does not fit
 * DLD_SET does not evaluate value when the member does not fit, so nothing
 * is allocated for a member the host cannot see. */
#define DLD_MEMBER_END(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))
#define DLD_HAS(ptr, type, member) ((size_t)(ptr)->struct_size >= DLD_MEMBER_END(type, member))
#define DLD_SET(ptr, type, member, value)       \
    do {                                        \
        if (DLD_HAS(ptr, type, member))         \
            (ptr)->member = (value);            \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif

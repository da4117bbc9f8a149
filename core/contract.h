/*
 * The host's side of the plugin contract: what every plugin call hands back
 * is checked at the boundary, and a fatal signal inside a plugin call is
 * named before the process dies.
 *
 * The loader wraps every plugin it returns (dld_loader_load, and the
 * conformance kit's own loads): the host copy of the vtable points at
 * checking wrappers that call the plugin's functions, so every caller (the
 * engine, the state commands, the daemon's scheduler) gets the checks
 * without a line of its own. Optional members the plugin left NULL stay
 * NULL. What is checked, and the error each violation becomes, is listed in
 * docs/plugin-authoring.md ("What the host checks").
 *
 * Values of a filter column arrive as text; dld_contract_compare orders two
 * of them in the column's type as far as the text tells it:
 *   - both numbers (optional sign, digits, optional fraction/exponent):
 *     compared as numbers (integers exactly, others as long double);
 *   - both ISO-8601 dates or date-times (YYYY-MM-DD[(T| )hh:mm[:ss[.f]]]
 *     [Z|+hh[:mm]|-hh[:mm]]): compared as instants (a value without an
 *     offset is taken as UTC);
 *   - otherwise: as text, byte by byte.
 */
#ifndef DLD_CORE_CONTRACT_H
#define DLD_CORE_CONTRACT_H

#include <stddef.h>

#include "loader.h"

struct dld_cli;

/* Replaces p's vtable members by checking wrappers (in place). Returns
 * DLD_OK, or DLD_ERR_FATAL when too many plugins are wrapped at once (the
 * plugin then stays unwrapped and a warning is logged). Idempotent. */
int dld_contract_wrap(struct dld_loaded *p);
/* Releases what dld_contract_wrap took; called by dld_loader_unload. */
void dld_contract_unwrap(struct dld_loaded *p);

/* <0, 0, >0 as a is below, equal to, above b (rule above). */
int dld_contract_compare(const char *a, const char *b);

/* Checks a plugin's option table: names unique and non-empty, known
 * types, no unknown flags, defaults parse as their type and are among the
 * choices, reserved NULL. Returns 0, or -1 with why filled. */
int dld_contract_check_options(const struct dld_option *opts, char *why, size_t cap);

/* ---- the current plugin call of this thread (for the crash report) ---------
 * Written before each plugin call and restored after it; read by the fatal
 * signal handler, which only uses write(2). Strings must outlive the call. */
struct dld_call_record {
    const char *kind;   /* "source", ... */
    const char *plugin; /* plugin name */
    const char *path;   /* file, or "(built in)" */
    const char *call;   /* "extract_next", "dlopen (constructors)", ... */
    const char *table;  /* targetTableName, or NULL */
};
/* Sets the record, returning the previous one (to restore with _leave).
 * A thread's first call also gives it an alternate signal stack, so a
 * stack overflow inside the plugin is reported too. */
struct dld_call_record dld_contract_enter(const char *kind, const char *plugin, const char *path, const char *call,
                                          const char *table);
void dld_contract_leave(struct dld_call_record saved);
/* Installs the handler for SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGABRT
 * (once; done by dld_contract_wrap and the loader). The report goes to
 * fd (2 unless a probe process redirects it). */
void dld_contract_install_crash_handler(void);
void dld_contract_crash_fd(int fd);

/* `deltaload plugins check FILE.so [--options JSON] [--json]` (cmd_check.c) */
int dld_cmd_plugins_check(struct dld_cli *cli);

#endif

/*
 * The SDK's core layer (libdeltaload_sdk.a, linked into each plugin so a
 * plugin needs nothing from the core at link time; libc and pthread only):
 * errors, options, logging, identifiers, Arrow batch builders and value
 * codecs. The other layers are libraries of their own: format writers,
 * the lake and Iceberg in format.h, lake.h, iceberg.h (lake); AWS support
 * in aws.h (aws); schedule expressions in schedule.h (schedule).
 *
 * Thread-safety: every function here is safe to call from several threads
 * on different objects; one builder is used by one thread at a time.
 */
#ifndef DELTALOAD_SDK_H
#define DELTALOAD_SDK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abi.h"
#include "arrow_c.h"
#include "state.h"
#include "table.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define DLD_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define DLD_PRINTF(a, b)
#endif

/* ---- errors ---------------------------------------------------------------- */
/* Sets code, retryable (true for RETRY and THROTTLED) and the message; returns code. */
int dld_error_set(struct dld_error *err, int code, const char *fmt, ...) DLD_PRINTF(3, 4);
/* Adds upstream detail (any may be 0/NULL). */
void dld_error_upstream(struct dld_error *err, int http_status, const char *upstream_code, const char *request_id);
void dld_error_init(struct dld_error *err);
/* Prefixes the message with "prefix: " (context added by callers up the stack). */
void dld_error_prefix(struct dld_error *err, const char *fmt, ...) DLD_PRINTF(2, 3);
const char *dld_code_name(int code);

/* ---- host helpers ---------------------------------------------------------- */
/* true when the host table has everything a plugin of this SDK needs */
bool dld_host_usable(const struct dld_host *host);
void dld_log(const struct dld_host *host, int level, const char *plugin, const char *fmt, ...) DLD_PRINTF(4, 5);
char *dld_host_strdup(const struct dld_host *host, const char *s);           /* NULL stays NULL */
char *dld_host_sprintf(const struct dld_host *host, const char *fmt, ...) DLD_PRINTF(2, 3);
/* frees the strings of a run / watermark filled by a plugin, then zeroes them */
void dld_run_clean_up(const struct dld_host *host, struct dld_run *run);
void dld_watermark_clean_up(const struct dld_host *host, struct dld_watermark *wm);

/* ---- plugin entry -------------------------------------------------------------
 * DLD_PLUGIN_DEFINE(ident, descriptor); defines the plugin's one exported
 * entry (DLD_PLUGIN_ENTRY, abi.h) the same way in every plugin: it refuses a
 * host with another ABI major or an incomplete host table (dld_host_usable)
 * with DLD_ERR_UNSUPPORTED and *out = NULL, and otherwise sets *out to
 * &descriptor (a static struct dld_plugin). DLD_PLUGIN_DEFINE_INIT adds
 * init(host), called once the host passed those checks; a non-zero return
 * refuses the host with that code (use it to keep the host table, or to
 * refuse a host whose abi_minor is too old for the plugin). */
typedef int (*dld_plugin_init_fn)(const struct dld_host *host);
int dld_plugin_accept(const struct dld_host *host, const struct dld_plugin *descriptor, dld_plugin_init_fn init,
                      const struct dld_plugin **out);
#define DLD_PLUGIN_DEFINE_INIT(ident, descriptor, init)                  \
    DLD_PLUGIN_ENTRY(ident)                                              \
    {                                                                    \
        return dld_plugin_accept(host, &(descriptor), (init), out);      \
    }                                                                    \
    _Static_assert(sizeof(descriptor) >= sizeof(struct dld_plugin), #descriptor " is not a plugin descriptor")
#define DLD_PLUGIN_DEFINE(ident, descriptor) DLD_PLUGIN_DEFINE_INIT(ident, descriptor, NULL)

/* ---- structs of another size (the host's may be older or newer) ---------------
 * dld_struct_copy copies a struct that starts with its uint32_t struct_size
 * (src, whose size src->struct_size says) into dst of dst_size bytes: it
 * copies min(src->struct_size, dst_size) bytes, zeroes the rest of dst and
 * sets dst's struct_size to dst_size. Returns the bytes taken from src.
 *   borrowed input:  struct dld_load l; dld_struct_copy(&l, sizeof l, load);
 *                    (members the host does not have read as NULL/zero)
 *   output:          dld_struct_copy(stats, stats->struct_size, &mine);
 *                    (writes exactly as much as the host's struct holds)
 * Never copy a borrowed struct by value (`*load`): that reads past a
 * shorter host struct. */
size_t dld_struct_copy(void *dst, size_t dst_size, const void *src);

/* Hands an output struct the plugin filled at its own size (src, strings
 * host->alloc'ed) over to the host's dst: writes only what dst->struct_size
 * covers, frees (host->free) the strings of members dst has no room for,
 * and leaves src zeroed (its struct_size kept): ownership moved. */
struct dld_extract_info;
void dld_extract_info_put(const struct dld_host *host, struct dld_extract_info *dst, struct dld_extract_info *src);
void dld_run_put(const struct dld_host *host, struct dld_run *dst, struct dld_run *src);
void dld_watermark_put(const struct dld_host *host, struct dld_watermark *dst, struct dld_watermark *src);
/* frees the strings of an extract info (those its struct_size covers), then NULLs them */
void dld_extract_info_clean_up(const struct dld_host *host, struct dld_extract_info *info);
/* ABI 1.2: when the host asked for the columns (host_info->schema set and
 * inside its struct_size), fills them from the builder's columns (an empty
 * batch's schema; the builder is left as it was). DLD_OK when not asked. */
struct dld_batch_builder;
int dld_extract_info_schema(const struct dld_extract_info *host_info, struct dld_batch_builder *b, struct dld_error *err);

/* ---- options (key/value pairs from the host) ---------------------------------- */
const char *dld_opt_get(const char *const *options, const char *name); /* NULL if absent */
int64_t dld_opt_int(const char *const *options, const char *name, int64_t fallback);
bool dld_opt_bool(const char *const *options, const char *name, bool fallback);
double dld_opt_double(const char *const *options, const char *name, double fallback);

/* ---- identifiers from controller items ------------------------------------- */
/* Accepts 1..128 bytes of valid UTF-8 without control characters or NUL.
 * Quoting is the source's job (each database has its own rules); this only
 * keeps out what no quoting rule can make safe or meaningful. */
int dld_ident_check(const char *what, const char *ident, struct dld_error *err);

/* ---- path-like values (key prefixes, relative folders) --------------------- */
/* Accepts "" and relative paths of '/'-separated segments, each a valid
 * identifier (dld_ident_check: UTF-8, no control characters, <= 128 bytes),
 * none "." or ".." or empty, no '\\' anywhere, <= DLD_PATH_MAX_BYTES in
 * all; leading and trailing '/' are allowed (callers trim them). Call it
 * when the value is set (open, item parse), not when a request is built. */
#define DLD_PATH_MAX_BYTES 512
int dld_path_check(const char *what, const char *value, struct dld_error *err);

/* ---- redaction of secrets (sdk/src/redact.c) -------------------------------- */
/* Every message that comes from a library (libpq, OCI, libcurl) passes
 * through this before it becomes an error or a log line. Removes, in place
 * (buf holds cap bytes; the result is cut to fit), each value of `secrets`
 * (NULL-terminated, may be NULL; values shorter than DLD_REDACT_MIN_SECRET
 * bytes are skipped) and whatever looks like a password: the value after
 * `password=`, `passwd=`, `pwd=`, `...secret...=`, `...token...=` (quoted or
 * not) and the password of a URI's `user:pass@`. Each becomes "********".
 * Returns the new length. */
#define DLD_REDACT_MIN_SECRET 3
size_t dld_redact(char *buf, size_t cap, const char *const *secrets);
/* the same on a copy (malloc'ed; NULL for NULL or out of memory) */
char *dld_redact_dup(const char *text, const char *const *secrets);
/* the same on err->message */
void dld_redact_error(struct dld_error *err, const char *const *secrets);
/* The passwords a conninfo or URI holds (key=value or user:pass@), for the
 * `secrets` list: a NULL-terminated malloc'ed list (never NULL unless out of
 * memory) to free with dld_redact_list_free. An unquoted `password=Abc Def`
 * gives "Abc" and "Def" (libpq reads the first and complains about the
 * second, quoting it). */
char **dld_redact_conninfo_secrets(const char *conninfo);
void dld_redact_list_free(char **list);

/* ---- column types ------------------------------------------------------------ */
enum dld_type {
    DLD_T_BOOL = 1,
    DLD_T_INT8, DLD_T_INT16, DLD_T_INT32, DLD_T_INT64,
    DLD_T_FLOAT32, DLD_T_FLOAT64,
    DLD_T_STRING,     /* UTF-8 */
    DLD_T_BINARY,
    DLD_T_DECIMAL128, /* precision 1..38, scale 0..precision; value is an __int128 unscaled */
    DLD_T_DATE32,     /* days since 1970-01-01 */
    DLD_T_TIMESTAMP,  /* int64 in `unit` since the epoch; tz NULL = local/naive, "UTC" = adjusted */
    DLD_T_TIME64,     /* int64 in `unit` (us or ns) since midnight */
    DLD_T_TIME32,     /* int32 in `unit` (s or ms) since midnight */
};
enum dld_time_unit { DLD_UNIT_SECOND = 0, DLD_UNIT_MILLI = 1, DLD_UNIT_MICRO = 2, DLD_UNIT_NANO = 3 };

struct dld_column_spec {
    const char *name;
    uint32_t type;       /* enum dld_type */
    int32_t precision;   /* decimal */
    int32_t scale;       /* decimal */
    uint32_t unit;       /* enum dld_time_unit, timestamp/time */
    const char *tz;      /* timestamp: NULL or "UTC" */
    bool nullable;
};

/* Parses an Arrow format string (+ name/flags) into a spec. The spec's
 * strings point into the schema. DLD_ERR_UNSUPPORTED for other types. */
int dld_arrow_column_spec(const struct ArrowSchema *child, struct dld_column_spec *spec, struct dld_error *err);

/* ---- batch builder ------------------------------------------------------------
 * Builds one struct-typed ArrowArray per batch. Append one value per column
 * per row (in any column order), then dld_batch_end_row. finish moves the
 * buffers into the Arrow structs (their release frees them) and resets the
 * builder for the next batch with the same columns. */
struct dld_batch_builder;
struct dld_batch_builder *dld_batch_builder_new(const struct dld_column_spec *cols, size_t ncols);
void dld_batch_builder_destroy(struct dld_batch_builder *b);
size_t dld_batch_columns(const struct dld_batch_builder *b);
int64_t dld_batch_rows(const struct dld_batch_builder *b);
size_t dld_batch_bytes(const struct dld_batch_builder *b); /* buffered payload, for memory bounds */
int dld_batch_append_null(struct dld_batch_builder *b, size_t col);
int dld_batch_append_bool(struct dld_batch_builder *b, size_t col, bool v);
/* integers of every width, date32, time32/64 and timestamp */
int dld_batch_append_int(struct dld_batch_builder *b, size_t col, int64_t v);
int dld_batch_append_double(struct dld_batch_builder *b, size_t col, double v); /* float32 or float64 */
int dld_batch_append_bytes(struct dld_batch_builder *b, size_t col, const void *data, size_t len); /* string/binary */
int dld_batch_append_decimal(struct dld_batch_builder *b, size_t col, __int128 unscaled);
/* Returns DLD_ERR_FATAL if a column of this row was not appended. */
int dld_batch_end_row(struct dld_batch_builder *b);
int dld_batch_finish(struct dld_batch_builder *b, struct ArrowSchema *schema, struct ArrowArray *array);

/* Deep copy of a schema (format, name, metadata-less, children), with its
 * own release: for a target that keeps a batch's schema past the call. */
int dld_arrow_schema_copy(const struct ArrowSchema *src, struct ArrowSchema *dst);

/* Safe release helpers: call release if set. */
void dld_arrow_release(struct ArrowSchema *schema, struct ArrowArray *array);

/* ---- reading a batch (targets) ------------------------------------------------ */
static inline bool dld_arrow_is_null(const struct ArrowArray *col, int64_t row)
{
    const uint8_t *validity = (const uint8_t *)col->buffers[0];
    int64_t i = row + col->offset;
    return validity != NULL && !(validity[i >> 3] & (1u << (i & 7)));
}

/* ---- value codecs ----------------------------------------------------------------- */
/* "-123.45" with scale 2 → -12345. DLD_ERR_CONFIG on syntax, DLD_ERR_UNSUPPORTED
 * when the value needs more than `precision` digits or more fractional digits
 * than `scale` (never silently rounded). */
int dld_decimal_parse(const char *text, size_t len, int32_t precision, int32_t scale, __int128 *out,
                      struct dld_error *err);
/* writes the decimal text of unscaled/10^scale into buf (at least 42 bytes) */
size_t dld_decimal_format(__int128 unscaled, int32_t scale, char *buf);
/* civil date <-> days since the epoch (proleptic Gregorian) */
int64_t dld_days_from_civil(int64_t y, unsigned m, unsigned d);
void dld_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);
/* ISO-8601 text of a timestamp / date / time value in `unit` */
size_t dld_format_timestamp(int64_t v, uint32_t unit, bool utc, char *buf, size_t cap);
size_t dld_format_date(int32_t days, char *buf, size_t cap);
size_t dld_format_time(int64_t v, uint32_t unit, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif

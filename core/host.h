/* The host side of the ABI: the function table handed to plugins, logging,
 * and the progress line. Thread-safe. */
#ifndef DLD_CORE_HOST_H
#define DLD_CORE_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <deltaload/abi.h>

const struct dld_host *dld_core_host(void);

/* log level threshold (DLD_LOG_*) and whether lines are JSON */
void dld_core_log_setup(int level, bool json);
void dld_core_logf(int level, const char *who, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int64_t dld_core_now_ms(void);

/* Configured secrets (secret options, passwords found in any option's
 * conninfo or URI): the last line of redaction, applied to every log line
 * and to the errors the CLI prints (dld_redact, sdk.h). Values are copied;
 * at most 64 are kept. */
void dld_core_secret_add(const char *value);
void dld_core_redact(char *buf, size_t cap);
bool dld_core_log_json(void);

/* Set by SIGINT/SIGTERM: long loops stop at the next batch. */
void dld_core_install_signals(void);
int dld_core_cancelled(void);
/* SIGHUP (the daemon only; other commands keep the default action): sets a
 * flag that dld_core_take_reload returns and clears. */
void dld_core_install_reload_signal(void);
bool dld_core_take_reload(void);

/* Live progress on a TTY (stderr): one line rewritten in place, at most a few
 * times a second. No-ops when stderr is not a terminal. */
void dld_progress_update(const char *table, int64_t rows, int64_t started_ms);
void dld_progress_clear(void);

#endif

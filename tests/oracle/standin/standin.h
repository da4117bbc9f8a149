/*
 * Control interface of the STAND-IN client library (libclntsh-standin.c).
 *
 * This is not Oracle's client and talks to no database. It implements the
 * few OCI entry points the Oracle source plugin calls, with scripted
 * results, so the tests can check the plugin's call sequence, its buffer
 * handling and its error paths on a machine where Oracle's client cannot be
 * installed. It is built as libclntsh.so only so that the plugin, pointed
 * at its directory with oracle_client_lib_dir, loads it like the real one.
 *
 * A test dlopens the same file and calls these through dlsym.
 */
#ifndef DLD_STANDIN_H
#define DLD_STANDIN_H

#include <stddef.h>
#include <stdint.h>

struct standin_col {
    const char *name;
    uint16_t dtype;     /* SQLT code describe reports */
    int16_t precision;
    int8_t scale;
    uint16_t size, char_size;
    uint8_t csform;
    uint8_t nullable;
};

/* One value in the form OCI hands it over: VARNUM payload without the
 * length byte, 7-byte DATE, the 11/13-byte timestamp layouts, native
 * float/double, UTF-8 text, raw bytes. bytes == NULL is SQL NULL. */
struct standin_cell {
    const uint8_t *bytes;
    size_t len;
};

typedef void (*standin_reset_fn)(void);
/* columns of the table and the rows the extract statement returns
 * (row-major, ncols cells per row); the arrays must outlive the test */
typedef void (*standin_table_fn)(const struct standin_col *cols, int ncols, const struct standin_cell *cells,
                                 int nrows);
/* the text the SCN query and the high-mark query return (NULL = SQL NULL) */
typedef void (*standin_values_fn)(const char *scn, const char *high_mark);
/* what ALL_TABLES.DEPENDENCIES says for the table ("ENABLED", "DISABLED";
 * NULL: no row). Reset to "DISABLED". */
typedef void (*standin_dependencies_fn)(const char *value);
/* the password SessionBegin accepts */
typedef void (*standin_password_fn)(const char *password);
/* the `nth` call (1-based, counted from the last reset) of `call`
 * (e.g. "OCIStmtFetch2") fails with ORA-`code`; a negative code makes it
 * hang until OCIBreak (at most 10 s) and then fail with ORA-(-code) */
typedef void (*standin_fail_fn)(const char *call, int nth, int code);
/* everything called since the reset, one line per call */
typedef const char *(*standin_log_fn)(void);
/* handles and descriptors allocated and not yet freed */
typedef int (*standin_live_fn)(void);

#endif

/* source-sqlite: the SQL of a window, with every value bound by the filter
 * column's storage class (see sqlite_window.c). */
#ifndef DLD_SOURCE_SQLITE_WINDOW_H
#define DLD_SOURCE_SQLITE_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include <deltaload/deltaload.h>

/* A growable SQL text; oom is set once an append failed. */
struct dld_sq_sql {
    char *s;
    size_t len, cap;
    bool oom;
};
void dld_sq_add(struct dld_sq_sql *q, const char *fmt, ...) DLD_PRINTF(2, 3);

/* One bound value: SQLITE_INTEGER (i), SQLITE_FLOAT (d) or SQLITE_TEXT (text, borrowed). */
struct dld_sq_bind {
    int kind;
    const char *text;
    int64_t i;
    double d;
};
#define DLD_SQ_MAX_BINDS 6
struct dld_sq_binds {
    struct dld_sq_bind v[DLD_SQ_MAX_BINDS];
    int n;
};
void dld_sq_bind_all(sqlite3_stmt *st, const struct dld_sq_binds *b);
/* " -- ?1=42, ?2='2026-01-01T10:00Z'" (numbers bare, text quoted) */
void dld_sq_describe_binds(struct dld_sq_sql *q, const struct dld_sq_binds *b);

/* What the values of the filter column are, as the window compares them. */
enum dld_sq_class {
    DLD_SQ_NONE = 0, /* no value yet (empty table or only NULLs) */
    DLD_SQ_NUM,      /* integers and reals: compared numerically */
    DLD_SQ_TEXT,
    DLD_SQ_BLOB,
    DLD_SQ_MIXED,    /* numbers and text: SQLite orders every number before every text */
};

struct dld_sq_window {
    /* set by the caller */
    sqlite3 *db;
    const struct dld_host *host;
    const struct dld_extract_request *req;
    const char *from;    /* "schema"."table", quoted */
    const char *qc;      /* filter column, quoted ("" without one) */
    const char *column;  /* filter column as named by the item */
    const char *decl;    /* its declared type ("" when none) */
    uint32_t ctype;      /* its Arrow type (from the declared type) */
    /* filled by dld_sq_window_plan */
    bool time;           /* DATE, DATETIME or TIMESTAMP column */
    int vclass;          /* enum dld_sq_class */
    bool normalise;      /* compare dld_instant_us(col): the time values are in several forms */
    char form[64];       /* the one form of the text time values ("9999-99-99T99:99:99Z"), "" if none */
    char examples[2][96];/* two values of different forms, for the log */
    int64_t unreadable;  /* time values dld_instant_us cannot read (normalise only) */
    bool has_low, has_high, has_start, has_end, has_lag;
    struct dld_sq_bind low, high, start, end, lag;
    char lag_text[64];
    char high_text[40];  /* captured REAL high mark, %.17g */
};

/* Registers dld_instant_us(x) on a connection: µs since the epoch (UTC) of a
 * time value (text as the source reads it, integers as Unix seconds), NULL
 * for anything else. */
int dld_sq_register_functions(sqlite3 *db);

/* Inspects the filter column's values inside the read transaction, checks
 * and converts every value of the request (low, high, startvalue,
 * endvalue) and the lag bound. DLD_ERR_CONFIG names table, column and value. */
int dld_sq_window_plan(struct dld_sq_window *w, struct dld_error *err);
/* SELECT max(col) ... (or the latest instant) with its binds. */
int dld_sq_high_sql(const struct dld_sq_window *w, struct dld_sq_sql *q, struct dld_sq_binds *b,
                    struct dld_error *err);
/* Takes the captured high mark from column 0 of the current row of st: its
 * text (host-allocated) and, in w, how it is bound. */
char *dld_sq_capture_high(struct dld_sq_window *w, sqlite3_stmt *st);
/* " WHERE ..." of the rows query (high bound as set) with its binds. */
int dld_sq_rows_where(const struct dld_sq_window *w, struct dld_sq_sql *q, struct dld_sq_binds *b,
                      struct dld_error *err);

#endif

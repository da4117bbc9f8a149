/*
 * Internal interfaces of the Oracle source: the pure parts (identifier
 * quoting, SQL generation, value decoding) that the tests link directly,
 * without an Oracle client library.
 *
 * Thread-safety: every function here works on its arguments only.
 * Ownership: strings returned in struct dld_ora_stmt are malloc'ed and freed
 * with dld_ora_stmt_clean_up.
 */
#ifndef DLD_ORA_INTERNAL_H
#define DLD_ORA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <deltaload/sdk.h>

/* ---- a growing text buffer (malloc-based) ------------------------------- */
struct dld_ora_buf {
    char *data;
    size_t len, cap;
    bool failed; /* an allocation failed; data is unusable */
};
void dld_ora_buf_init(struct dld_ora_buf *b);
void dld_ora_buf_clean_up(struct dld_ora_buf *b);
void dld_ora_buf_add(struct dld_ora_buf *b, const char *s);
void dld_ora_buf_addn(struct dld_ora_buf *b, const char *s, size_t n);
void dld_ora_buf_printf(struct dld_ora_buf *b, const char *fmt, ...) DLD_PRINTF(2, 3);
/* hands the text over (caller frees); NULL if an allocation failed */
char *dld_ora_buf_take(struct dld_ora_buf *b);

/* ---- identifiers -----------------------------------------------------------
 * Oracle's rule: an unquoted name is folded to upper case; a quoted name is
 * used exactly. A controller item's name that is a valid unquoted identifier
 * (ASCII letter first, then letters, digits, _ $ #) is folded to upper case,
 * as if it had been typed unquoted in SQL*Plus; anything else (lower case
 * after a digit, spaces, dashes, non-ASCII) is used verbatim. With
 * fold == false every name is used verbatim. The result is always quoted.
 * A double quote inside a name is refused: Oracle cannot quote it. */
bool dld_ora_ident_is_plain(const char *ident);
/* Writes "NAME" into out (at least 2 * 128 + 3 bytes is always enough). */
int dld_ora_ident_quote(const char *what, const char *ident, bool fold, char *out, size_t cap,
                        struct dld_error *err);

/* ---- watermark kinds --------------------------------------------------------
 * How a filter column's values are compared and written as text. */
enum dld_ora_wm_kind {
    DLD_ORA_WM_NUMBER = 1,       /* NUMBER, FLOAT, BINARY_FLOAT/DOUBLE */
    DLD_ORA_WM_DATE,             /* DATE: to the second, no time zone */
    DLD_ORA_WM_TIMESTAMP,        /* TIMESTAMP(n): no time zone */
    DLD_ORA_WM_TIMESTAMP_TZ,     /* TIMESTAMP WITH TIME ZONE: compared as instants, text in UTC */
    DLD_ORA_WM_TIMESTAMP_LTZ,    /* TIMESTAMP WITH LOCAL TIME ZONE: likewise */
    DLD_ORA_WM_TEXT,             /* VARCHAR2, CHAR, NVARCHAR2, NCHAR: compared as strings */
};
const char *dld_ora_wm_kind_name(int kind);
bool dld_ora_wm_is_time(int kind);

/* Normalizes a watermark / start value to the canonical text the bind
 * expression reads (see dld_ora_bind_expr):
 *   NUMBER        "-12.5", "1e3" → "-12.5", "1000" (plain decimal)
 *   DATE          "2024-05-01", "2024-05-01 10:00:00", "2024-05-01T10:00:00" → "2024-05-01T10:00:00"
 *   TIMESTAMP     ... → "2024-05-01T10:00:00.000000000"
 *   TIMESTAMP TZ  ... "Z" / "+02:00" / none (UTC) → "2024-05-01T10:00:00.000000000+00:00"
 *   TEXT          as is
 * DLD_ERR_CONFIG with a message naming `what` for anything else. */
int dld_ora_wm_normalize(int kind, const char *what, const char *text, char *out, size_t cap,
                         struct dld_error *err);
/* The SQL expression that turns bind :n (text) into the column's type. */
void dld_ora_bind_expr(struct dld_ora_buf *b, int kind, int n);

/* ---- statements ------------------------------------------------------------ */
#define DLD_ORA_MAX_BINDS 8
struct dld_ora_stmt {
    char *sql;
    int nbinds;
    char *binds[DLD_ORA_MAX_BINDS];       /* text bound to :1 .. :n */
    const char *roles[DLD_ORA_MAX_BINDS]; /* what each bind is, for the listing */
};
void dld_ora_stmt_clean_up(struct dld_ora_stmt *s);
/* "<sql>  -- binds: :1 = 'x' (low), :2 = 'y' (high)"; NULL on allocation failure */
char *dld_ora_stmt_listing(const struct dld_ora_stmt *s);

struct dld_ora_query_spec {
    const char *table_sql;       /* "SCHEMA"."TABLE", already quoted */
    const char *select_list;     /* column expressions, already quoted */
    const char *filter_sql;      /* quoted filter column, NULL = none */
    int kind;                    /* enum dld_ora_wm_kind of the filter column */
    uint32_t mode;               /* enum dld_mode */
    const char *op;              /* FULL: filter operator, canonical lower case, NULL = whole table;
                                  * DELTA: "between" caps the high mark at v2 */
    const char *v1, *v2;         /* FULL: normalized start / end value; DELTA between: v2 = endvalue */
    const char *low;             /* DELTA/BACKFILL: normalized, NULL = unbounded */
    bool low_inclusive;
    const char *high;            /* DELTA/BACKFILL: normalized, NULL in the high-mark query */
    int64_t lag_seconds;         /* high-mark query only; time kinds only */
    const char *scn;             /* flashback SCN (digits), NULL = read the current state */
    bool commit;                 /* filteroperator "commit": rows by ORA_ROWSCN above low, no
                                  * filter column, no upper bound, no AS OF (see dld_ora_commit_window) */
};
/* SELECT <list> FROM <table> [AS OF SCN] [WHERE ...]: the rows of the window. */
int dld_ora_sql_extract(const struct dld_ora_query_spec *q, struct dld_ora_stmt *out, struct dld_error *err);
/* The high mark: the filter column's maximum above low (and below the lag),
 * as text in the canonical format; NULL when there is nothing new. */
int dld_ora_sql_high_mark(const struct dld_ora_query_spec *q, struct dld_ora_stmt *out, struct dld_error *err);
/* ---- commit order (filteroperator "commit") -------------------------------------
 * Oracle stamps each row with ORA_ROWSCN, never below the commit SCN of the
 * transaction that last changed it (per row on tables created with
 * ROWDEPENDENCIES, per block otherwise, and possibly above the exact SCN).
 * A window reads the current SCN H *before* its read-only transaction
 * starts, then every row with ORA_ROWSCN > low (>= for a startvalue) in
 * that transaction, with no upper bound: a row committed at or below H is
 * visible and has ORA_ROWSCN > low; one committed later either is visible
 * too (and comes again in the next window) or commits above H and comes in
 * the next window. At least once, never lost. ORA_ROWSCN is not supported
 * in flashback (AS OF) queries, so this mode never uses AS OF SCN. */
/* SCN text: plain decimal digits that fit 64 bits */
bool dld_ora_scn_parse(const char *text, uint64_t *out);
/* The window of a commit-order load. low: the watermark or startvalue (NULL
 * = the whole table); now: CURRENT_SCN read before the snapshot; again: the
 * recorded high mark of an interrupted load (NULL if none), kept unless it
 * is above now. Writes the high mark the load commits into high (digits)
 * and sets *empty when no transaction can have committed since low. */
int dld_ora_commit_window(const char *low, const char *now, const char *again, char *high, size_t cap, bool *empty,
                          struct dld_error *err);
/* SELECT DEPENDENCIES FROM ALL_TABLES ...: whether ORA_ROWSCN is per row
 * (ENABLED) for the table; owner and table are bound unquoted, owner ""
 * (NULL to Oracle) meaning the current schema. */
int dld_ora_sql_dependencies(const char *owner, const char *table, struct dld_ora_stmt *out, struct dld_error *err);

/* One select-list item: the quoted column, or a conversion to text for
 * types kept as text (ROWID, UROWID, INTERVAL), aliased to the column name. */
enum dld_ora_select_as { DLD_ORA_SELECT_PLAIN = 0, DLD_ORA_SELECT_ROWID_TEXT, DLD_ORA_SELECT_TO_CHAR };
void dld_ora_sql_select_item(struct dld_ora_buf *b, const char *quoted, int as);
/* SELECT * FROM <table> WHERE 1 = 0: described, never fetched. */
int dld_ora_sql_describe(const char *table_sql, struct dld_ora_stmt *out, struct dld_error *err);

/* ---- value decoding (OCI's external formats) -------------------------------
 * VARNUM / OCINumber: byte 0 is the length, then the exponent byte and up to
 * 20 base-100 mantissa bytes (negative numbers: 101 - digit, then 102).
 * `num` points at the exponent byte, `len` is the value of the length byte.
 * Converts exactly to an unscaled integer at `scale` with at most
 * `precision` digits; DLD_ERR_UNSUPPORTED when the value has more
 * fractional digits than `scale`, more digits than `precision`, or is one of
 * the infinities; DLD_ERR_FATAL for malformed bytes. Never rounds. */
int dld_ora_number_decode(const uint8_t *num, size_t len, int32_t precision, int32_t scale, __int128 *out);
/* the same value as decimal text (for messages and high marks in tests) */
int dld_ora_number_to_text(const uint8_t *num, size_t len, char *out, size_t cap);

/* The 7-byte DATE: century+100, year+100, month, day, hour+1, minute+1,
 * second+1. Writes seconds since 1970-01-01T00:00:00 (no time zone).
 * Dates before 1582-10-15 are Julian-calendar dates, as Oracle keeps them,
 * converted to the proleptic Gregorian count Arrow uses. */
int dld_ora_date_decode(const uint8_t b[7], int64_t *seconds);

/* Calendar parts (as OCIDateTimeGet* return them: the wall-clock time in the
 * value's own zone, nanoseconds, and the zone's offset) to a count of `unit`
 * since the epoch in UTC. DLD_ERR_UNSUPPORTED when the instant does not fit
 * the unit (nanoseconds cover 1677..2262). */
struct dld_ora_datetime {
    int32_t year;       /* astronomical: 0 = 1 BC (Oracle's -1) */
    uint8_t month, day, hour, minute, second;
    uint32_t nanos;
    int32_t tz_minutes; /* offset east of UTC; 0 for types without a zone */
};
int64_t dld_ora_days_from_date(int32_t year, unsigned month, unsigned day);
int dld_ora_datetime_to_unit(const struct dld_ora_datetime *dt, uint32_t unit, int64_t *out);

/* ---- type mapping -------------------------------------------------------------
 * What describe says about a column (OCI implicit describe attributes) and
 * how it is fetched and typed in Arrow. The table in docs/oracle.md is this
 * function in prose. */
struct dld_ora_desc {
    uint16_t dtype;      /* OCI_ATTR_DATA_TYPE (SQLT_* code) */
    int16_t precision;   /* OCI_ATTR_PRECISION */
    int8_t scale;        /* OCI_ATTR_SCALE; fractional-second precision for timestamps */
    uint16_t size;       /* OCI_ATTR_DATA_SIZE, bytes */
    uint16_t char_size;  /* OCI_ATTR_CHAR_SIZE, characters */
    uint8_t csform;      /* OCI_ATTR_CHARSET_FORM: 1 implicit, 2 NCHAR */
};
enum dld_ora_fetch {
    DLD_ORA_F_INT64 = 1,   /* VARNUM → int64 */
    DLD_ORA_F_DECIMAL,     /* VARNUM → decimal128(p, s) */
    DLD_ORA_F_FLOAT,       /* SQLT_BFLOAT → float32 */
    DLD_ORA_F_DOUBLE,      /* SQLT_BDOUBLE → float64 */
    DLD_ORA_F_TEXT,        /* SQLT_CHR → utf8 */
    DLD_ORA_F_RAW,         /* SQLT_BIN → binary */
    DLD_ORA_F_DATE,        /* SQLT_DAT → timestamp[s] */
    DLD_ORA_F_TIMESTAMP,   /* OCIDateTime → timestamp[us|ns] (tz "UTC" for the zoned kinds) */
    DLD_ORA_F_CLOB,        /* LOB locator, streamed → utf8 */
    DLD_ORA_F_BLOB,        /* LOB locator, streamed → binary */
};
struct dld_ora_mapping {
    int fetch;           /* enum dld_ora_fetch */
    uint16_t dty;        /* SQLT code defined for fetching */
    uint32_t dtype_desc; /* OCI_DTYPE_* of the descriptors (timestamps, LOBs), 0 for plain buffers */
    size_t width;        /* bytes per row in the define buffer */
    int select_as;       /* enum dld_ora_select_as */
    int wm_kind;         /* enum dld_ora_wm_kind, 0 if the column cannot be a filter column */
    bool zoned;          /* TIMESTAMP WITH (LOCAL) TIME ZONE: read the offset */
    bool tz_companion;   /* add <name>_TZ_OFFSET (int32 minutes east of UTC) */
    uint32_t type;       /* enum dld_type */
    int32_t precision, scale;
    uint32_t unit;
    const char *tz;
    const char *oracle_name; /* "NUMBER", "TIMESTAMP WITH TIME ZONE", ... for messages */
};
/* DLD_ERR_UNSUPPORTED naming the type for what is not read (LONG, objects). */
int dld_ora_type_map(const struct dld_ora_desc *d, int32_t number_scale, bool tz_offset_columns,
                     struct dld_ora_mapping *m, struct dld_error *err);

/* ---- error classification ---------------------------------------------------
 * ORA-nnnnn → enum dld_code: lost connections and instance restarts are
 * DLD_ERR_RETRY, refused credentials DLD_ERR_AUTH, a missing table
 * DLD_ERR_NOT_FOUND, exhausted sessions DLD_ERR_THROTTLED, the rest FATAL. */
int dld_ora_classify(int32_t ora_code);

#endif

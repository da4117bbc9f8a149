/*
 * The statements the Oracle source runs, built from quoted identifiers and
 * numbered bind variables only: a value from a controller item or a
 * watermark never becomes SQL text. Every value is bound as text and turned
 * into the filter column's type by a fixed conversion (TO_NUMBER,
 * TO_TIMESTAMP with an explicit format), so the comparison happens in the
 * column's own type on the server and an index on it can be used.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ora_internal.h"

#define S_FMT_DATE "YYYY-MM-DD\"T\"HH24:MI:SS"
#define S_FMT_TS "YYYY-MM-DD\"T\"HH24:MI:SS.FF9"

const char *dld_ora_wm_kind_name(int kind)
{
    switch (kind) {
    case DLD_ORA_WM_NUMBER: return "number";
    case DLD_ORA_WM_DATE: return "date";
    case DLD_ORA_WM_TIMESTAMP: return "timestamp";
    case DLD_ORA_WM_TIMESTAMP_TZ: return "timestamp with time zone";
    case DLD_ORA_WM_TIMESTAMP_LTZ: return "timestamp with local time zone";
    case DLD_ORA_WM_TEXT: return "text";
    default: return "unknown";
    }
}

bool dld_ora_wm_is_time(int kind)
{
    return kind == DLD_ORA_WM_DATE || kind == DLD_ORA_WM_TIMESTAMP || kind == DLD_ORA_WM_TIMESTAMP_TZ ||
           kind == DLD_ORA_WM_TIMESTAMP_LTZ;
}

/* ---- normalization ---------------------------------------------------------- */

/* Plain decimal text of [+-]digits[.digits][e[+-]digits]. */
static int s_norm_number(const char *what, const char *t, char *out, size_t cap, struct dld_error *err)
{
    const char *p = t;
    while (isspace((unsigned char)*p))
        p++;
    bool neg = false;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    char digits[160];
    size_t nd = 0;
    long point = -1; /* digits before the decimal point */
    bool any = false;
    for (; *p; p++) {
        if (isdigit((unsigned char)*p)) {
            if (nd + 1 >= sizeof(digits))
                goto bad;
            digits[nd++] = *p;
            any = true;
        } else if (*p == '.' && point < 0) {
            point = (long)nd;
        } else {
            break;
        }
    }
    if (!any)
        goto bad;
    if (point < 0)
        point = (long)nd;
    if (*p == 'e' || *p == 'E') {
        char *end;
        long e = strtol(p + 1, &end, 10);
        if (end == p + 1 || e > 130 || e < -130)
            goto bad;
        point += e;
        p = end;
    }
    while (isspace((unsigned char)*p))
        p++;
    if (*p != '\0')
        goto bad;
    /* trim leading zeros of the integer part and trailing zeros of the fraction */
    size_t first = 0;
    while (first < nd && (long)first < point && digits[first] == '0')
        first++;
    size_t last = nd;
    while (last > 0 && (long)last > point && digits[last - 1] == '0')
        last--;
    char buf[400];
    size_t n = 0;
    bool zero = true;
    for (size_t i = first; i < last; i++)
        if (digits[i] != '0')
            zero = false;
    if (neg && !zero)
        buf[n++] = '-';
    if (point <= (long)first) {
        buf[n++] = '0';
    } else {
        for (long i = (long)first; i < point; i++)
            buf[n++] = i < (long)nd ? digits[i] : '0';
    }
    if ((long)last > point) {
        buf[n++] = '.';
        for (long i = point; i < (long)last; i++)
            buf[n++] = i < 0 ? '0' : digits[i];
    }
    buf[n] = '\0';
    if (n + 1 > cap)
        goto bad;
    memcpy(out, buf, n + 1);
    return DLD_OK;
bad:
    return dld_error_set(err, DLD_ERR_CONFIG, "%s '%s' is not a number (expected digits, a '.', an exponent)",
                         what, t);
}

static int s_digits(const char **p, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        x = x * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *v = x;
    return 0;
}

static int s_month_days(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
}

/* YYYY-MM-DD[(T| )HH:MI[:SS[.f{1,9}]]][Z|(+|-)HH[:]MM] */
static int s_norm_time(int kind, const char *what, const char *t, char *out, size_t cap, struct dld_error *err)
{
    const char *p = t;
    int y, mo, d, h = 0, mi = 0, s = 0, tz = 0;
    char frac[10] = "000000000";
    bool has_frac = false, has_zone = false;
    while (isspace((unsigned char)*p))
        p++;
    if (s_digits(&p, 4, &y) || *p++ != '-' || s_digits(&p, 2, &mo) || *p++ != '-' || s_digits(&p, 2, &d))
        goto bad;
    if (*p == 'T' || *p == ' ') {
        p++;
        if (s_digits(&p, 2, &h) || *p++ != ':' || s_digits(&p, 2, &mi))
            goto bad;
        if (*p == ':') {
            p++;
            if (s_digits(&p, 2, &s))
                goto bad;
            if (*p == '.' || *p == ',') {
                p++;
                int n = 0;
                while (isdigit((unsigned char)*p)) {
                    if (n == 9)
                        goto bad;
                    frac[n++] = *p++;
                    if (frac[n - 1] != '0')
                        has_frac = true;
                }
                if (n == 0)
                    goto bad;
            }
        }
    }
    if (*p == 'Z' || *p == 'z') {
        has_zone = true;
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, zh, zm;
        if (s_digits(&p, 2, &zh))
            goto bad;
        if (*p == ':')
            p++;
        if (s_digits(&p, 2, &zm) || zh > 14 || zm > 59)
            goto bad;
        tz = sign * (zh * 60 + zm);
        has_zone = true;
    }
    while (isspace((unsigned char)*p))
        p++;
    if (*p != '\0' || y < 1 || mo < 1 || mo > 12 || d < 1 || d > s_month_days(y, mo) || h > 23 || mi > 59 ||
        s > 59)
        goto bad;
    if (has_zone && (kind == DLD_ORA_WM_DATE || kind == DLD_ORA_WM_TIMESTAMP))
        return dld_error_set(err, DLD_ERR_CONFIG,
                             "%s '%s' has a time zone, but the filter column is a %s, which holds wall-clock "
                             "times without one",
                             what, t, dld_ora_wm_kind_name(kind));
    if (has_frac && kind == DLD_ORA_WM_DATE)
        return dld_error_set(err, DLD_ERR_CONFIG,
                             "%s '%s' has fractional seconds, but the filter column is a DATE (whole seconds)",
                             what, t);
    int n;
    if (kind == DLD_ORA_WM_DATE)
        n = snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d", y, mo, d, h, mi, s);
    else if (kind == DLD_ORA_WM_TIMESTAMP)
        n = snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%s", y, mo, d, h, mi, s, frac);
    else
        n = snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%s%c%02d:%02d", y, mo, d, h, mi, s, frac,
                     tz < 0 ? '-' : '+', abs(tz) / 60, abs(tz) % 60);
    if (n < 0 || (size_t)n >= cap)
        goto bad;
    return DLD_OK;
bad:
    return dld_error_set(err, DLD_ERR_CONFIG,
                         "%s '%s' is not a %s value (expected YYYY-MM-DD, optionally THH:MI:SS[.fraction]%s)", what,
                         t, dld_ora_wm_kind_name(kind),
                         kind == DLD_ORA_WM_TIMESTAMP_TZ || kind == DLD_ORA_WM_TIMESTAMP_LTZ
                             ? " and Z or +HH:MM (UTC when absent)"
                             : "");
}

int dld_ora_wm_normalize(int kind, const char *what, const char *text, char *out, size_t cap,
                         struct dld_error *err)
{
    if (text == NULL)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s is missing", what);
    switch (kind) {
    case DLD_ORA_WM_NUMBER:
        return s_norm_number(what, text, out, cap, err);
    case DLD_ORA_WM_DATE:
    case DLD_ORA_WM_TIMESTAMP:
    case DLD_ORA_WM_TIMESTAMP_TZ:
    case DLD_ORA_WM_TIMESTAMP_LTZ:
        return s_norm_time(kind, what, text, out, cap, err);
    case DLD_ORA_WM_TEXT:
        if (strlen(text) + 1 > cap)
            return dld_error_set(err, DLD_ERR_CONFIG, "%s is longer than %zu bytes", what, cap - 1);
        memcpy(out, text, strlen(text) + 1);
        return DLD_OK;
    default:
        return dld_error_set(err, DLD_ERR_UNSUPPORTED, "%s: the filter column's type cannot be compared", what);
    }
}

void dld_ora_bind_expr(struct dld_ora_buf *b, int kind, int n)
{
    switch (kind) {
    case DLD_ORA_WM_NUMBER:
        dld_ora_buf_printf(b, "TO_NUMBER(:%d)", n);
        break;
    case DLD_ORA_WM_DATE:
        dld_ora_buf_printf(b, "TO_DATE(:%d, '" S_FMT_DATE "')", n);
        break;
    case DLD_ORA_WM_TIMESTAMP:
        dld_ora_buf_printf(b, "TO_TIMESTAMP(:%d, '" S_FMT_TS "')", n);
        break;
    case DLD_ORA_WM_TIMESTAMP_TZ:
    case DLD_ORA_WM_TIMESTAMP_LTZ:
        dld_ora_buf_printf(b, "TO_TIMESTAMP_TZ(:%d, '" S_FMT_TS "TZH:TZM')", n);
        break;
    default:
        dld_ora_buf_printf(b, ":%d", n);
        break;
    }
}

/* ---- statements ---------------------------------------------------------------- */

void dld_ora_stmt_clean_up(struct dld_ora_stmt *s)
{
    free(s->sql);
    for (int i = 0; i < s->nbinds; i++)
        free(s->binds[i]);
    memset(s, 0, sizeof(*s));
}

char *dld_ora_stmt_listing(const struct dld_ora_stmt *s)
{
    struct dld_ora_buf b;
    dld_ora_buf_init(&b);
    dld_ora_buf_add(&b, s->sql);
    for (int i = 0; i < s->nbinds; i++) {
        dld_ora_buf_printf(&b, "%s:%d = '", i == 0 ? "  -- binds: " : ", ", i + 1);
        for (const char *p = s->binds[i]; *p; p++)
            dld_ora_buf_add(&b, *p == '\'' ? "''" : (char[]){*p, 0});
        dld_ora_buf_printf(&b, "' (%s)", s->roles[i]);
    }
    return dld_ora_buf_take(&b);
}

/* Adds a bind and writes its conversion expression. */
static int s_bind(struct dld_ora_stmt *s, struct dld_ora_buf *b, int kind, const char *value, const char *role)
{
    if (s->nbinds == DLD_ORA_MAX_BINDS)
        return DLD_ERR_FATAL;
    char *v = strdup(value);
    if (v == NULL)
        return DLD_ERR_FATAL;
    s->binds[s->nbinds] = v;
    s->roles[s->nbinds] = role;
    s->nbinds++;
    dld_ora_bind_expr(b, kind, s->nbinds);
    return DLD_OK;
}

static int s_finish(struct dld_ora_stmt *s, struct dld_ora_buf *b, int rc, struct dld_error *err)
{
    if (rc == DLD_OK) {
        s->sql = dld_ora_buf_take(b);
        if (s->sql != NULL)
            return DLD_OK;
    }
    dld_ora_buf_clean_up(b);
    dld_ora_stmt_clean_up(s);
    if (rc == DLD_OK || rc == DLD_ERR_FATAL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory (or too many binds) building a statement");
    return rc;
}

static void s_from(struct dld_ora_stmt *s, struct dld_ora_buf *b, const struct dld_ora_query_spec *q, int *rc)
{
    dld_ora_buf_printf(b, " FROM %s", q->table_sql);
    if (q->scn != NULL) {
        dld_ora_buf_add(b, " AS OF SCN ");
        if (*rc == DLD_OK)
            *rc = s_bind(s, b, DLD_ORA_WM_NUMBER, q->scn, "scn");
    }
}

int dld_ora_sql_describe(const char *table_sql, struct dld_ora_stmt *out, struct dld_error *err)
{
    struct dld_ora_buf b;
    memset(out, 0, sizeof(*out));
    dld_ora_buf_init(&b);
    dld_ora_buf_printf(&b, "SELECT * FROM %s WHERE 1 = 0", table_sql);
    return s_finish(out, &b, DLD_OK, err);
}

void dld_ora_sql_select_item(struct dld_ora_buf *b, const char *quoted, int as)
{
    if (as == DLD_ORA_SELECT_ROWID_TEXT)
        dld_ora_buf_printf(b, "ROWIDTOCHAR(%s) AS %s", quoted, quoted);
    else if (as == DLD_ORA_SELECT_TO_CHAR)
        dld_ora_buf_printf(b, "TO_CHAR(%s) AS %s", quoted, quoted);
    else
        dld_ora_buf_add(b, quoted);
}

static int s_full_where(struct dld_ora_stmt *s, struct dld_ora_buf *b, const struct dld_ora_query_spec *q,
                        struct dld_error *err)
{
    static const struct {
        const char *op, *sql;
        int values;
    } ops[] = {
        {"eq", " = ", 1},          {"noteq", " <> ", 1},       {"lte", " <= ", 1},
        {"ste", " <= ", 1},        {"gte", " >= ", 1},         {"null", " IS NULL", 0},
        {"notnull", " IS NOT NULL", 0}, {"between", " BETWEEN ", 2}, {"notbetween", " NOT BETWEEN ", 2},
    };
    if (q->filter_sql == NULL || q->op == NULL)
        return DLD_OK; /* the whole table */
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        if (strcmp(q->op, ops[i].op) != 0)
            continue;
        if (ops[i].values >= 1 && q->v1 == NULL)
            return dld_error_set(err, DLD_ERR_CONFIG, "filteroperator %s needs a startvalue", q->op);
        if (ops[i].values == 2 && q->v2 == NULL)
            return dld_error_set(err, DLD_ERR_CONFIG, "filteroperator %s needs a startvalue and an endvalue",
                                 q->op);
        dld_ora_buf_printf(b, " WHERE %s%s", q->filter_sql, ops[i].sql);
        int rc = DLD_OK;
        if (ops[i].values >= 1)
            rc = s_bind(s, b, q->kind, q->v1, "startvalue");
        if (rc == DLD_OK && ops[i].values == 2) {
            dld_ora_buf_add(b, " AND ");
            rc = s_bind(s, b, q->kind, q->v2, "endvalue");
        }
        return rc;
    }
    return dld_error_set(err, DLD_ERR_CONFIG,
                         "filteroperator '%s' is not one of eq, noteq, lte, ste, gte, null, notnull, between, "
                         "notbetween",
                         q->op);
}

/* ---- commit order ------------------------------------------------------------ */

bool dld_ora_scn_parse(const char *text, uint64_t *out)
{
    if (text == NULL || !*text || strlen(text) > 20)
        return false;
    uint64_t v = 0;
    for (const char *p = text; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return false;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

int dld_ora_commit_window(const char *low, const char *now, const char *again, char *high, size_t cap, bool *empty,
                          struct dld_error *err)
{
    uint64_t l = 0, n, h;
    *empty = false;
    if (low != NULL && !dld_ora_scn_parse(low, &l))
        return dld_error_set(err, DLD_ERR_CONFIG,
                             "the watermark '%s' is not an SCN (a commit item's watermark is a system change "
                             "number; after changing an item's operator, `deltaload reset --clear` loads the table "
                             "anew, or `--to` the SCN to start from)",
                             low);
    if (!dld_ora_scn_parse(now, &n))
        return dld_error_set(err, DLD_ERR_FATAL, "V$DATABASE returned CURRENT_SCN '%s', not a number", now);
    if (low != NULL && l > n)
        return dld_error_set(err, DLD_ERR_CONFIG,
                             "the watermark %s is above the database's current SCN %s: a watermark of another kind "
                             "or another database? (`deltaload reset --clear` loads the table anew)",
                             low, now);
    h = n;
    if (again != NULL) {
        uint64_t a;
        if (!dld_ora_scn_parse(again, &a))
            return dld_error_set(err, DLD_ERR_CONFIG, "the recorded high mark '%s' is not an SCN", again);
        if (a < h)
            h = a; /* the same window again: the rows read now are a superset, and its mark is kept */
    }
    if (low != NULL && h <= l)
        *empty = true; /* nothing committed since the watermark */
    if (snprintf(high, cap, "%llu", (unsigned long long)h) >= (int)cap)
        return dld_error_set(err, DLD_ERR_FATAL, "high mark buffer too small");
    return DLD_OK;
}

int dld_ora_sql_dependencies(const char *owner, const char *table, struct dld_ora_stmt *out, struct dld_error *err)
{
    struct dld_ora_buf b;
    int rc = DLD_OK;
    memset(out, 0, sizeof(*out));
    dld_ora_buf_init(&b);
    dld_ora_buf_add(&b, "SELECT DEPENDENCIES FROM ALL_TABLES WHERE OWNER = NVL(");
    rc = s_bind(out, &b, DLD_ORA_WM_TEXT, owner ? owner : "", "owner");
    dld_ora_buf_add(&b, ", SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA')) AND TABLE_NAME = ");
    if (rc == DLD_OK)
        rc = s_bind(out, &b, DLD_ORA_WM_TEXT, table, "table");
    return s_finish(out, &b, rc, err);
}

int dld_ora_sql_extract(const struct dld_ora_query_spec *q, struct dld_ora_stmt *out, struct dld_error *err)
{
    struct dld_ora_buf b;
    int rc = DLD_OK;
    memset(out, 0, sizeof(*out));
    dld_ora_buf_init(&b);
    dld_ora_buf_printf(&b, "SELECT %s", q->select_list);
    if (q->commit) {
        /* no AS OF: ORA_ROWSCN is not supported in flashback queries; the
         * read-only transaction is the snapshot. No upper bound: ORA_ROWSCN
         * may read above the exact commit SCN, and a bound could drop such a
         * row for good. */
        if (q->scn != NULL || q->filter_sql != NULL || q->mode != DLD_MODE_DELTA)
            return s_finish(out, &b, dld_error_set(err, DLD_ERR_FATAL, "a commit-order window takes no SCN, "
                                                                       "filter column or mode but delta"), err);
        dld_ora_buf_printf(&b, " FROM %s", q->table_sql);
        if (q->low != NULL) {
            dld_ora_buf_add(&b, q->low_inclusive ? " WHERE ORA_ROWSCN >= " : " WHERE ORA_ROWSCN > ");
            rc = s_bind(out, &b, DLD_ORA_WM_NUMBER, q->low, "low");
        }
        return s_finish(out, &b, rc, err);
    }
    s_from(out, &b, q, &rc);
    if (rc == DLD_OK && q->mode == DLD_MODE_FULL) {
        rc = s_full_where(out, &b, q, err);
    } else if (rc == DLD_OK) {
        if (q->filter_sql == NULL)
            return s_finish(out, &b, dld_error_set(err, DLD_ERR_CONFIG,
                                                   "a delta or backfill load needs a filtercolumn"), err);
        if (q->high == NULL)
            return s_finish(out, &b, dld_error_set(err, DLD_ERR_FATAL, "extract statement without a high mark"),
                            err);
        dld_ora_buf_printf(&b, " WHERE %s", q->filter_sql);
        if (q->low != NULL) {
            dld_ora_buf_add(&b, q->low_inclusive ? " >= " : " > ");
            rc = s_bind(out, &b, q->kind, q->low, "low");
            dld_ora_buf_printf(&b, " AND %s", q->filter_sql);
        }
        dld_ora_buf_add(&b, " <= ");
        if (rc == DLD_OK)
            rc = s_bind(out, &b, q->kind, q->high, "high");
    }
    return s_finish(out, &b, rc, err);
}

int dld_ora_sql_high_mark(const struct dld_ora_query_spec *q, struct dld_ora_stmt *out, struct dld_error *err)
{
    struct dld_ora_buf b;
    int rc = DLD_OK;
    memset(out, 0, sizeof(*out));
    if (q->filter_sql == NULL)
        return dld_error_set(err, DLD_ERR_CONFIG, "a delta or backfill load needs a filtercolumn");
    if (q->lag_seconds < 0)
        return dld_error_set(err, DLD_ERR_CONFIG, "lag must not be negative");
    if (q->lag_seconds > 0 && !dld_ora_wm_is_time(q->kind))
        return dld_error_set(err, DLD_ERR_CONFIG,
                             "lag applies to DATE and TIMESTAMP filter columns; %s is a %s column", q->filter_sql,
                             dld_ora_wm_kind_name(q->kind));
    dld_ora_buf_init(&b);
    const char *c = q->filter_sql;
    switch (q->kind) {
    case DLD_ORA_WM_NUMBER:
        dld_ora_buf_printf(&b, "SELECT TO_CHAR(MAX(%s), 'TM9')", c);
        break;
    case DLD_ORA_WM_DATE:
        dld_ora_buf_printf(&b, "SELECT TO_CHAR(MAX(%s), '" S_FMT_DATE "')", c);
        break;
    case DLD_ORA_WM_TIMESTAMP:
        dld_ora_buf_printf(&b, "SELECT TO_CHAR(MAX(%s), '" S_FMT_TS "')", c);
        break;
    case DLD_ORA_WM_TIMESTAMP_TZ:
        dld_ora_buf_printf(&b, "SELECT TO_CHAR(SYS_EXTRACT_UTC(MAX(%s)), '" S_FMT_TS "\"Z\"')", c);
        break;
    case DLD_ORA_WM_TIMESTAMP_LTZ:
        dld_ora_buf_printf(&b,
                           "SELECT TO_CHAR(SYS_EXTRACT_UTC(CAST(MAX(%s) AS TIMESTAMP WITH TIME ZONE)), '" S_FMT_TS
                           "\"Z\"')",
                           c);
        break;
    default:
        dld_ora_buf_printf(&b, "SELECT MAX(%s)", c);
        break;
    }
    s_from(out, &b, q, &rc);
    const char *glue = " WHERE ";
    if (rc == DLD_OK && q->low != NULL) {
        dld_ora_buf_printf(&b, "%s%s%s", glue, c, q->low_inclusive ? " >= " : " > ");
        rc = s_bind(out, &b, q->kind, q->low, "low");
        glue = " AND ";
    }
    if (rc == DLD_OK && q->mode != DLD_MODE_FULL && q->op && !strcmp(q->op, "between") && q->v2) {
        /* a delta `between` never moves its window past endvalue */
        dld_ora_buf_printf(&b, "%s%s <= ", glue, c);
        rc = s_bind(out, &b, q->kind, q->v2, "endvalue");
        glue = " AND ";
    }
    if (rc == DLD_OK && q->lag_seconds > 0) {
        /* the server's clock in the server's zone, as SYSDATE/SYSTIMESTAMP
         * writers fill such columns */
        const char *now = q->kind == DLD_ORA_WM_DATE        ? "SYSDATE"
                          : q->kind == DLD_ORA_WM_TIMESTAMP ? "CAST(SYSTIMESTAMP AS TIMESTAMP)"
                                                            : "SYSTIMESTAMP";
        char lag[32];
        snprintf(lag, sizeof(lag), "%lld", (long long)q->lag_seconds);
        dld_ora_buf_printf(&b, "%s%s <= %s - NUMTODSINTERVAL(", glue, c, now);
        rc = s_bind(out, &b, DLD_ORA_WM_NUMBER, lag, "lag seconds");
        dld_ora_buf_add(&b, ", 'SECOND')");
    }
    return s_finish(out, &b, rc, err);
}

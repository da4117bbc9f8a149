/*
 * source-sqlite: the SQL of a window, compared the way the values mean.
 *
 * SQLite compares by storage class, whatever the declared type: a text
 * bound value against a column without a declared type never equals an
 * integer (every number orders before every text), and text timestamps are
 * compared as text, which orders instants only while every value has one
 * form (same separator, precision and zone). So, inside the read
 * transaction, before the high mark:
 *
 *  - the filter column's values are inspected: min/max storage class for
 *    most columns (cheap with an index); for DATE/DATETIME/TIMESTAMP
 *    columns every value's form ("9999-99-99T99:99Z", "integer"), one pass
 *    over the column;
 *  - every value of the request is bound in the values' own class
 *    (integers as integers, reals as reals, text as text), and refused with
 *    DLD_ERR_CONFIG when it cannot fit (`abc` for integers, `not-a-date`
 *    for a time column);
 *  - time values in more than one form (mixed offsets, `T` and space,
 *    integers and text), or a bound of another form than the values, are
 *    compared on their instants: dld_instant_us(col) against
 *    dld_instant_us(?n); the rows and the high mark stay the original
 *    values;
 *  - the lag bound is written in the values' own form (or compared as an
 *    instant).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_types.h"
#include "sqlite_window.h"

#define S_NAME "sqlite"
#define S_INSTANT "dld_instant_us"
/* how the values are compared once normalised: µs, UTC */
#define S_CANONICAL_FORM "9999-99-99T99:99:99.999999Z"

void dld_sq_add(struct dld_sq_sql *q, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || q->oom) {
        q->oom = true;
        return;
    }
    if (q->len + (size_t)n + 1 > q->cap) {
        size_t cap = (q->len + (size_t)n + 1) * 2;
        char *p = realloc(q->s, cap);
        if (p == NULL) {
            q->oom = true;
            return;
        }
        q->s = p;
        q->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(q->s + q->len, q->cap - q->len, fmt, ap);
    va_end(ap);
    q->len += (size_t)n;
}

void dld_sq_bind_all(sqlite3_stmt *st, const struct dld_sq_binds *b)
{
    for (int i = 0; i < b->n; i++) {
        const struct dld_sq_bind *v = &b->v[i];
        if (v->kind == SQLITE_INTEGER)
            sqlite3_bind_int64(st, i + 1, v->i);
        else if (v->kind == SQLITE_FLOAT)
            sqlite3_bind_double(st, i + 1, v->d);
        else
            sqlite3_bind_text(st, i + 1, v->text ? v->text : "", -1, SQLITE_TRANSIENT);
    }
}

void dld_sq_describe_binds(struct dld_sq_sql *q, const struct dld_sq_binds *b)
{
    for (int i = 0; i < b->n; i++) {
        const struct dld_sq_bind *v = &b->v[i];
        dld_sq_add(q, "%s?%d=", i ? ", " : " -- ", i + 1);
        if (v->kind == SQLITE_INTEGER) {
            dld_sq_add(q, "%lld", (long long)v->i);
        } else if (v->kind == SQLITE_FLOAT) {
            dld_sq_add(q, "%.17g", v->d);
        } else {
            dld_sq_add(q, "'");
            for (const char *p = v->text ? v->text : ""; *p; p++)
                dld_sq_add(q, *p == '\'' ? "''" : "%c", *p);
            dld_sq_add(q, "'");
        }
    }
}

/* ---- dld_instant_us ------------------------------------------------------- */
static void s_fn_instant(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    int64_t us;
    switch (sqlite3_value_type(argv[0])) {
    case SQLITE_INTEGER: {
        int64_t s = sqlite3_value_int64(argv[0]);
        if (s > -INT64_C(9000000000000) && s < INT64_C(9000000000000))
            sqlite3_result_int64(ctx, s * 1000000);
        else
            sqlite3_result_null(ctx);
        return;
    }
    case SQLITE_TEXT:
        if (dld_sqlite_parse_timestamp((const char *)sqlite3_value_text(argv[0]), &us) == 0) {
            sqlite3_result_int64(ctx, us);
            return;
        }
        break;
    default:
        break;
    }
    sqlite3_result_null(ctx);
}

int dld_sq_register_functions(sqlite3 *db)
{
    return sqlite3_create_function_v2(db, S_INSTANT, 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                      s_fn_instant, NULL, NULL, NULL);
}

/* ---- values --------------------------------------------------------------- */
static bool s_int(const char *v, int64_t *out)
{
    if (v[0] == '\0' || isspace((unsigned char)v[0]))
        return false;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (*end != '\0' || errno != 0)
        return false;
    *out = x;
    return true;
}

static bool s_real(const char *v, double *out)
{
    if (!(isdigit((unsigned char)v[0]) || v[0] == '-' || v[0] == '+' || v[0] == '.') || strpbrk(v, "xX"))
        return false;
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (*end != '\0' || end == v || !isfinite(d))
        return false;
    *out = d;
    return true;
}

static const char *s_table(const struct dld_sq_window *w)
{
    const struct dld_table *t = w->req->table;
    return t->source_table ? t->source_table : "?";
}

static void s_copy_example(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
    const char *text = (const char *)sqlite3_column_text(st, col);
    snprintf(dst, cap, "%s", text ? text : "");
    if (strlen(text ? text : "") >= cap && cap > 4)
        memcpy(dst + cap - 4, "...", 4);
}

static int s_class_of(int storage)
{
    switch (storage) {
    case SQLITE_INTEGER:
    case SQLITE_FLOAT: return DLD_SQ_NUM;
    case SQLITE_TEXT: return DLD_SQ_TEXT;
    case SQLITE_BLOB: return DLD_SQ_BLOB;
    default: return DLD_SQ_NONE;
    }
}

static int s_step_error(struct dld_sq_window *w, int rc, const char *what, struct dld_error *err)
{
    if (rc == SQLITE_INTERRUPT) /* the source's progress handler saw SIGINT/SIGTERM */
        return dld_error_set(err, DLD_ERR_RETRY, "table %s: %s: interrupted by a signal (statement stopped)",
                             s_table(w), what);
    int code = (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) ? DLD_ERR_RETRY : DLD_ERR_FATAL;
    dld_error_set(err, code, "table %s: %s: %s", s_table(w), what, sqlite3_errmsg(w->db));
    dld_error_upstream(err, 0, sqlite3_errstr(rc), NULL);
    return code;
}

/* Most columns: the storage classes of the smallest and the largest value
 * (SQLite orders numbers < text < blobs), each found through an index on
 * the column when there is one. */
static int s_profile_plain(struct dld_sq_window *w, struct dld_error *err)
{
    struct dld_sq_sql q = {0};
    dld_sq_add(&q, "SELECT typeof(a), a, typeof(b), b FROM (SELECT min(%s) AS a FROM %s), (SELECT max(%s) AS b FROM %s)",
               w->qc, w->from, w->qc, w->from);
    if (q.oom) {
        free(q.s);
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(w->db, q.s, -1, &st, NULL);
    free(q.s);
    if (rc != SQLITE_OK)
        return s_step_error(w, rc, "inspecting the filter column", err);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rc = s_step_error(w, rc, "inspecting the filter column", err);
        sqlite3_finalize(st);
        return rc;
    }
    int lo = s_class_of(sqlite3_column_type(st, 1)), hi = s_class_of(sqlite3_column_type(st, 3));
    w->vclass = lo == hi ? lo : DLD_SQ_MIXED;
    s_copy_example(w->examples[0], sizeof w->examples[0], st, 1);
    s_copy_example(w->examples[1], sizeof w->examples[1], st, 3);
    sqlite3_finalize(st);
    return DLD_OK;
}

/* Time columns: the form of every value, in one pass. */
static int s_profile_time(struct dld_sq_window *w, struct dld_error *err)
{
    struct dld_sq_sql q = {0};
    dld_sq_add(&q, "SELECT %s FROM %s WHERE %s IS NOT NULL", w->qc, w->from, w->qc);
    if (q.oom) {
        free(q.s);
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(w->db, q.s, -1, &st, NULL);
    free(q.s);
    if (rc != SQLITE_OK)
        return s_step_error(w, rc, "inspecting the filter column", err);
    char forms[2][64];
    int nforms = 0, bad_class = DLD_SQ_NONE;
    bool any_int = false;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int cls = sqlite3_column_type(st, 0);
        char f[64];
        if (cls == SQLITE_INTEGER) {
            strcpy(f, "integer");
            any_int = true;
        } else if (cls != SQLITE_TEXT ||
                   dld_sqlite_time_form((const char *)sqlite3_column_text(st, 0), f, sizeof f) != 0) {
            if (w->unreadable++ == 0)
                bad_class = s_class_of(cls);
            continue;
        }
        if (nforms == 0 || (nforms == 1 && strcmp(f, forms[0]) != 0)) {
            memcpy(forms[nforms], f, sizeof f);
            s_copy_example(w->examples[nforms], sizeof w->examples[0], st, 0);
            nforms++;
        }
    }
    if (rc != SQLITE_DONE) {
        rc = s_step_error(w, rc, "inspecting the filter column", err);
        sqlite3_finalize(st);
        return rc;
    }
    sqlite3_finalize(st);
    if (nforms == 0) {
        w->vclass = bad_class; /* nothing readable: compared as SQLite does (the rows fail to load) */
    } else if (nforms == 1) {
        w->vclass = any_int ? DLD_SQ_NUM : DLD_SQ_TEXT;
        if (!any_int)
            snprintf(w->form, sizeof w->form, "%s", forms[0]);
    } else {
        w->vclass = any_int ? DLD_SQ_MIXED : DLD_SQ_TEXT;
        w->normalise = true;
    }
    return DLD_OK;
}

static const char *s_time_expect =
    "expected a time YYYY-MM-DD[ T]HH:MM[:SS[.ffffff]][Z|+HH:MM] (or YYYY-MM-DD, or Unix seconds)";

/* Binds one value of the request in the column's terms; *mismatch when it
 * is a time of another form than the column's text values. */
static int s_convert(struct dld_sq_window *w, const char *what, const char *v, struct dld_sq_bind *b, bool *mismatch,
                     struct dld_error *err)
{
    int64_t i;
    double d;
    memset(b, 0, sizeof *b);
    b->kind = SQLITE_TEXT;
    b->text = v;
    const char *decl = w->decl && w->decl[0] ? w->decl : "no declared type";
    if (w->time) {
        int64_t us;
        char f[64];
        if (s_int(v, &i)) { /* Unix seconds */
            b->kind = SQLITE_INTEGER;
            b->i = i;
            if (w->vclass == DLD_SQ_TEXT && !w->normalise)
                *mismatch = true;
            return DLD_OK;
        }
        if (dld_sqlite_parse_timestamp(v, &us) != 0)
            return dld_error_set(err, DLD_ERR_CONFIG, "table %s: %s '%s' does not fit filter column %s (%s): %s",
                                 s_table(w), what, v, w->column, decl, s_time_expect);
        if (w->vclass == DLD_SQ_NUM && !w->normalise) { /* the column holds Unix seconds */
            if (us % 1000000 == 0) {
                b->kind = SQLITE_INTEGER;
                b->i = us / 1000000;
            } else {
                b->kind = SQLITE_FLOAT;
                b->d = (double)us / 1e6;
            }
            return DLD_OK;
        }
        if (w->vclass == DLD_SQ_TEXT && w->form[0] && !w->normalise &&
            (dld_sqlite_time_form(v, f, sizeof f) != 0 || strcmp(f, w->form) != 0))
            *mismatch = true;
        return DLD_OK;
    }
    bool numeric_decl = w->ctype == DLD_T_INT64 || w->ctype == DLD_T_FLOAT64 || w->ctype == DLD_T_DECIMAL128;
    if (w->vclass == DLD_SQ_NUM || w->vclass == DLD_SQ_MIXED || (w->vclass == DLD_SQ_NONE && numeric_decl)) {
        if (s_int(v, &i)) {
            b->kind = SQLITE_INTEGER;
            b->i = i;
        } else if (s_real(v, &d)) {
            b->kind = SQLITE_FLOAT;
            b->d = d;
        } else if (w->vclass != DLD_SQ_MIXED) {
            return dld_error_set(err, DLD_ERR_CONFIG,
                                 "table %s: %s '%s' does not fit filter column %s (%s, its values are numbers): "
                                 "expected a number",
                                 s_table(w), what, v, w->column, decl);
        }
    }
    return DLD_OK;
}

static const char *s_low_what(const struct dld_extract_request *req)
{
    if (req->mode == DLD_MODE_BACKFILL)
        return "backfill lower bound";
    return req->low_inclusive ? "startvalue" : "watermark (reset --to)";
}

static int s_lag_bound(struct dld_sq_window *w, struct dld_error *err)
{
    const struct dld_table *t = w->req->table;
    if (!w->time)
        return dld_error_set(err, DLD_ERR_CONFIG,
                             "table %s: lag applies to DATE/DATETIME/TIMESTAMP filter columns; %s is not one",
                             s_table(w), w->column);
    int64_t now_us = w->host->now_ms() * 1000;
    int64_t bound_us = now_us - t->lag_seconds * INT64_C(1000000);
    memset(&w->lag, 0, sizeof w->lag);
    w->has_lag = true;
    if (!w->normalise && (w->vclass == DLD_SQ_NUM)) {
        w->lag.kind = SQLITE_INTEGER;
        w->lag.i = bound_us / 1000000 - (bound_us % 1000000 < 0);
        return DLD_OK;
    }
    const char *form = w->normalise ? S_CANONICAL_FORM
                       : w->form[0] ? w->form
                       : w->ctype == DLD_T_DATE32 ? "9999-99-99" : "9999-99-99 99:99:99";
    if (dld_sqlite_time_render(form, bound_us, w->lag_text, sizeof w->lag_text) != 0)
        return dld_error_set(err, DLD_ERR_CONFIG, "table %s: lag %lld s: the bound is out of range", s_table(w),
                             (long long)t->lag_seconds);
    w->lag.kind = SQLITE_TEXT;
    w->lag.text = w->lag_text;
    return DLD_OK;
}

int dld_sq_window_plan(struct dld_sq_window *w, struct dld_error *err)
{
    const struct dld_extract_request *req = w->req;
    const struct dld_table *t = req->table;
    const char *op = t->filter_operator;
    bool full = req->mode == DLD_MODE_FULL;
    const char *start = NULL, *end = NULL;
    w->time = w->ctype == DLD_T_TIMESTAMP || w->ctype == DLD_T_DATE32;
    if (full) {
        if (w->qc[0] == '\0' || op == NULL || !strcmp(op, "null") || !strcmp(op, "notnull"))
            return DLD_OK;
        if (!strcmp(op, "eq") || !strcmp(op, "noteq") || !strcmp(op, "lte") || !strcmp(op, "ste")) {
            start = t->start_value;
        } else if (!strcmp(op, "notbetween")) {
            start = t->start_value;
            end = t->end_value;
            if (!end)
                return dld_error_set(err, DLD_ERR_CONFIG, "table %s: filteroperator notbetween needs an endvalue",
                                     s_table(w));
        } else {
            return dld_error_set(err, DLD_ERR_CONFIG, "filteroperator %s is not a full-load operator", op);
        }
        if (!start)
            return dld_error_set(err, DLD_ERR_CONFIG, "table %s: filteroperator %s needs a startvalue", s_table(w), op);
    } else {
        if (w->qc[0] == '\0')
            return dld_error_set(err, DLD_ERR_CONFIG, "a delta load needs a filtercolumn");
        if (op && !strcmp(op, "between") && t->end_value && req->high == NULL)
            end = t->end_value;
    }
    int rc = w->time ? s_profile_time(w, err) : s_profile_plain(w, err);
    if (rc)
        return rc;
    if (!full && w->vclass == DLD_SQ_MIXED && !w->normalise)
        return dld_error_set(err, DLD_ERR_CONFIG,
                             "table %s: filter column %s holds values of different storage classes ('%s' and '%s'): "
                             "SQLite orders every number before every text, so a window would skip rows; make the "
                             "column's values one type (give it a declared type such as INTEGER or TEXT)",
                             s_table(w), w->column, w->examples[0], w->examples[1]);
    bool mismatch = false;
    if (!full && req->low && (rc = s_convert(w, s_low_what(req), req->low, &w->low, &mismatch, err)))
        return rc;
    w->has_low = !full && req->low;
    if (!full && req->high &&
        (rc = s_convert(w, req->mode == DLD_MODE_BACKFILL ? "backfill upper bound" : "high mark", req->high, &w->high,
                        &mismatch, err)))
        return rc;
    w->has_high = !full && req->high;
    if (start && (rc = s_convert(w, "startvalue", start, &w->start, &mismatch, err)))
        return rc;
    w->has_start = start != NULL;
    if (end && (rc = s_convert(w, "endvalue", end, &w->end, &mismatch, err)))
        return rc;
    w->has_end = end != NULL;
    if (mismatch) {
        /* a bound of another form than the values: text order would not be time order */
        w->normalise = true;
        dld_log(w->host, DLD_LOG_INFO, S_NAME,
                "table %s: a bound of column %s is written in another form than its values (%s): comparing instants",
                s_table(w), w->column, w->form);
    } else if (w->normalise) {
        dld_log(w->host, DLD_LOG_INFO, S_NAME,
                "table %s: column %s holds times in more than one form (e.g. '%s' and '%s'): the window compares "
                "their instants (" S_INSTANT "), which reads the whole column",
                s_table(w), w->column, w->examples[0], w->examples[1]);
    }
    if (w->normalise && w->unreadable)
        dld_log(w->host, DLD_LOG_WARN, S_NAME,
                "table %s: column %s: %lld value(s) are not times this source reads; they belong to no window",
                s_table(w), w->column, (long long)w->unreadable);
    if (req->mode == DLD_MODE_DELTA && t->lag_seconds > 0 && (rc = s_lag_bound(w, err)))
        return rc;
    return DLD_OK;
}

/* ---- SQL -------------------------------------------------------------------- */
static int s_push(struct dld_sq_binds *b, const struct dld_sq_bind *v, struct dld_error *err)
{
    if (b->n >= DLD_SQ_MAX_BINDS)
        return dld_error_set(err, DLD_ERR_FATAL, "source-sqlite: too many bound values");
    b->v[b->n++] = *v;
    return DLD_OK;
}

/* "<glue> col <op> ?n", on instants when normalised */
static int s_cmp(const struct dld_sq_window *w, struct dld_sq_sql *q, struct dld_sq_binds *b, const char *glue,
                 const char *op, const struct dld_sq_bind *v, struct dld_error *err)
{
    int rc = s_push(b, v, err);
    if (rc)
        return rc;
    if (w->normalise)
        dld_sq_add(q, "%s " S_INSTANT "(%s) %s " S_INSTANT "(?%d)", glue, w->qc, op, b->n);
    else
        dld_sq_add(q, "%s %s %s ?%d", glue, w->qc, op, b->n);
    return DLD_OK;
}

static void s_not_null(const struct dld_sq_window *w, struct dld_sq_sql *q)
{
    if (w->normalise)
        dld_sq_add(q, " WHERE " S_INSTANT "(%s) IS NOT NULL", w->qc);
    else
        dld_sq_add(q, " WHERE %s IS NOT NULL", w->qc);
}

int dld_sq_high_sql(const struct dld_sq_window *w, struct dld_sq_sql *q, struct dld_sq_binds *b,
                    struct dld_error *err)
{
    int rc = DLD_OK;
    if (w->normalise)
        dld_sq_add(q, "SELECT %s FROM %s", w->qc, w->from);
    else
        dld_sq_add(q, "SELECT max(%s) FROM %s", w->qc, w->from);
    s_not_null(w, q);
    if (w->has_low)
        rc = s_cmp(w, q, b, " AND", w->req->low_inclusive ? ">=" : ">", &w->low, err);
    /* between: the window never passes endvalue */
    if (!rc && w->has_end)
        rc = s_cmp(w, q, b, " AND", "<=", &w->end, err);
    if (!rc && w->has_lag)
        rc = s_cmp(w, q, b, " AND", "<=", &w->lag, err);
    if (w->normalise)
        dld_sq_add(q, " ORDER BY " S_INSTANT "(%s) DESC, %s DESC LIMIT 1", w->qc, w->qc);
    if (!rc && q->oom)
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    return rc;
}

char *dld_sq_capture_high(struct dld_sq_window *w, sqlite3_stmt *st)
{
    int cls = sqlite3_column_type(st, 0);
    if (cls == SQLITE_NULL)
        return NULL;
    memset(&w->high, 0, sizeof w->high);
    char *text;
    if (cls == SQLITE_INTEGER) {
        w->high.kind = SQLITE_INTEGER;
        w->high.i = sqlite3_column_int64(st, 0);
        text = dld_host_strdup(w->host, (const char *)sqlite3_column_text(st, 0));
    } else if (cls == SQLITE_FLOAT) {
        /* every digit, so the watermark reads back as the same double */
        w->high.kind = SQLITE_FLOAT;
        w->high.d = sqlite3_column_double(st, 0);
        snprintf(w->high_text, sizeof w->high_text, "%.17g", w->high.d);
        text = dld_host_strdup(w->host, w->high_text);
    } else {
        text = dld_host_strdup(w->host, (const char *)sqlite3_column_text(st, 0));
        w->high.kind = SQLITE_TEXT;
        w->high.text = text;
    }
    w->has_high = text != NULL;
    return text;
}

int dld_sq_rows_where(const struct dld_sq_window *w, struct dld_sq_sql *q, struct dld_sq_binds *b,
                      struct dld_error *err)
{
    const struct dld_extract_request *req = w->req;
    int rc = DLD_OK;
    if (req->mode == DLD_MODE_FULL) {
        const char *op = req->table->filter_operator;
        if (w->qc[0] == '\0' || op == NULL)
            return DLD_OK;
        if (!strcmp(op, "null")) {
            dld_sq_add(q, " WHERE %s IS NULL", w->qc);
        } else if (!strcmp(op, "notnull")) {
            dld_sq_add(q, " WHERE %s IS NOT NULL", w->qc);
        } else if (!strcmp(op, "eq")) {
            rc = s_cmp(w, q, b, " WHERE", "=", &w->start, err);
        } else if (!strcmp(op, "noteq")) {
            rc = s_cmp(w, q, b, " WHERE", "<>", &w->start, err);
        } else if (!strcmp(op, "lte") || !strcmp(op, "ste")) {
            rc = s_cmp(w, q, b, " WHERE", "<=", &w->start, err);
        } else if (!strcmp(op, "notbetween")) {
            if ((rc = s_push(b, &w->start, err)) || (rc = s_push(b, &w->end, err)))
                return rc;
            if (w->normalise)
                dld_sq_add(q, " WHERE " S_INSTANT "(%s) NOT BETWEEN " S_INSTANT "(?%d) AND " S_INSTANT "(?%d)", w->qc,
                           b->n - 1, b->n);
            else
                dld_sq_add(q, " WHERE %s NOT BETWEEN ?%d AND ?%d", w->qc, b->n - 1, b->n);
        } else {
            return dld_error_set(err, DLD_ERR_CONFIG, "filteroperator %s is not a full-load operator", op);
        }
    } else {
        s_not_null(w, q);
        if (w->has_low)
            rc = s_cmp(w, q, b, " AND", req->low_inclusive ? ">=" : ">", &w->low, err);
        if (!rc && w->has_high)
            rc = s_cmp(w, q, b, " AND", "<=", &w->high, err);
    }
    if (!rc && q->oom)
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    return rc;
}

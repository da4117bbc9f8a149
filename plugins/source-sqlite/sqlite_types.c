/*
 * SQLite stores values by storage class, whatever the declared type; the
 * Arrow schema is fixed by the declared type (SQLite's own affinity rules,
 * refined for dates and decimals), and each value is converted or refused
 * with the row's column named. Never a silent change of value.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sqlite_types.h"

static bool s_has(const char *decl, const char *word) { return strcasestr(decl, word) != NULL; }

void dld_sqlite_map_decltype(const char *decl, struct dld_column_spec *spec)
{
    spec->nullable = true;
    spec->type = DLD_T_STRING;
    if (decl == NULL || *decl == '\0')
        return; /* no declared type: values of any class, kept as text */
    if (s_has(decl, "BOOL")) {
        spec->type = DLD_T_BOOL;
    } else if (s_has(decl, "INT")) {
        spec->type = DLD_T_INT64;
    } else if (s_has(decl, "DECIMAL") || s_has(decl, "NUMERIC")) {
        int p = 0, s = 0;
        const char *paren = strchr(decl, '(');
        if (paren && sscanf(paren, "(%d,%d)", &p, &s) >= 1 && p >= 1 && p <= 38 && s >= 0 && s <= p) {
            spec->type = DLD_T_DECIMAL128;
            spec->precision = p;
            spec->scale = s;
        } else {
            spec->type = DLD_T_FLOAT64; /* NUMERIC without (p,s): SQLite keeps an integer or a double */
        }
    } else if (s_has(decl, "DATETIME") || s_has(decl, "TIMESTAMP")) {
        spec->type = DLD_T_TIMESTAMP;
        spec->unit = DLD_UNIT_MICRO;
    } else if (s_has(decl, "DATE")) {
        spec->type = DLD_T_DATE32;
    } else if (s_has(decl, "CHAR") || s_has(decl, "CLOB") || s_has(decl, "TEXT")) {
        spec->type = DLD_T_STRING;
    } else if (s_has(decl, "BLOB")) {
        spec->type = DLD_T_BINARY;
    } else if (s_has(decl, "REAL") || s_has(decl, "FLOA") || s_has(decl, "DOUB")) {
        spec->type = DLD_T_FLOAT64;
    }
}

static int s_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int dld_sqlite_parse_date(const char *s, int32_t *days)
{
    int y, m, d;
    if (strlen(s) < 10 || s_digits(s, 4, &y) || s[4] != '-' || s_digits(s + 5, 2, &m) || s[7] != '-' ||
        s_digits(s + 8, 2, &d) || m < 1 || m > 12 || d < 1 || d > 31)
        return -1;
    *days = (int32_t)dld_days_from_civil(y, (unsigned)m, (unsigned)d);
    return 0;
}

int dld_sqlite_parse_timestamp(const char *s, int64_t *us)
{
    int32_t days;
    if (dld_sqlite_parse_date(s, &days))
        return -1;
    int64_t secs = (int64_t)days * 86400, frac = 0;
    const char *p = s + 10;
    if (*p == 'T' || *p == ' ') {
        int hh, mm, ss = 0;
        if (s_digits(p + 1, 2, &hh) || p[3] != ':' || s_digits(p + 4, 2, &mm) || hh > 23 || mm > 59)
            return -1;
        p += 6;
        if (*p == ':') {
            if (s_digits(p + 1, 2, &ss) || ss > 60)
                return -1;
            p += 3;
        }
        secs += hh * 3600 + mm * 60 + ss;
        if (*p == '.') {
            int n = 0;
            for (p++; isdigit((unsigned char)*p); p++, n++)
                if (n < 6)
                    frac = frac * 10 + (*p - '0');
            if (n == 0)
                return -1;
            for (; n < 6; n++)
                frac *= 10;
        }
    }
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om = 0;
        if (s_digits(p + 1, 2, &oh))
            return -1;
        const char *q = p + 3;
        if (*q == ':')
            q++;
        if (*q && s_digits(q, 2, &om))
            return -1;
        int off = (oh * 60 + om) * 60;
        secs -= *p == '+' ? off : -off; /* to UTC */
        p = *q ? q + 2 : q;
    }
    if (*p != '\0')
        return -1;
    *us = secs * 1000000 + frac;
    return 0;
}

static int s_bad(struct dld_error *err, const struct dld_column_spec *spec, const char *what, const char *text)
{
    return dld_error_set(err, DLD_ERR_UNSUPPORTED, "column %s: %s '%.60s'", spec->name, what, text ? text : "");
}

int dld_sqlite_append(struct dld_batch_builder *b, size_t col, const struct dld_column_spec *spec, sqlite3_stmt *stmt,
                      int i, struct dld_error *err)
{
    int cls = sqlite3_column_type(stmt, i);
    if (cls == SQLITE_NULL)
        return dld_batch_append_null(b, col);
    const char *text = (const char *)sqlite3_column_text(stmt, i);
    switch (spec->type) {
    case DLD_T_BOOL:
        if (cls == SQLITE_INTEGER)
            return dld_batch_append_bool(b, col, sqlite3_column_int64(stmt, i) != 0);
        if (!strcasecmp(text, "true") || !strcasecmp(text, "t") || !strcmp(text, "1"))
            return dld_batch_append_bool(b, col, true);
        if (!strcasecmp(text, "false") || !strcasecmp(text, "f") || !strcmp(text, "0"))
            return dld_batch_append_bool(b, col, false);
        return s_bad(err, spec, "not a boolean:", text);
    case DLD_T_INT64:
        if (cls == SQLITE_INTEGER)
            return dld_batch_append_int(b, col, sqlite3_column_int64(stmt, i));
        if (cls == SQLITE_FLOAT) {
            double d = sqlite3_column_double(stmt, i);
            if (d == floor(d) && fabs(d) < 9.2e18)
                return dld_batch_append_int(b, col, (int64_t)d);
        }
        return s_bad(err, spec, "not an integer:", text);
    case DLD_T_FLOAT64:
        if (cls == SQLITE_INTEGER || cls == SQLITE_FLOAT)
            return dld_batch_append_double(b, col, sqlite3_column_double(stmt, i));
        return s_bad(err, spec, "not a number:", text);
    case DLD_T_DECIMAL128: {
        __int128 v;
        char buf[64];
        if (cls == SQLITE_FLOAT) /* shortest text that reads back as the same double */
            snprintf(buf, sizeof buf, "%.15g", sqlite3_column_double(stmt, i)), text = buf;
        int rc = dld_decimal_parse(text, strlen(text), spec->precision, spec->scale, &v, err);
        if (rc != DLD_OK) {
            dld_error_prefix(err, "column %s", spec->name);
            return rc;
        }
        return dld_batch_append_decimal(b, col, v);
    }
    case DLD_T_DATE32: {
        int32_t days;
        if (cls == SQLITE_TEXT && dld_sqlite_parse_date(text, &days) == 0 && text[10] == '\0')
            return dld_batch_append_int(b, col, days);
        return s_bad(err, spec, "not a date (YYYY-MM-DD):", text);
    }
    case DLD_T_TIMESTAMP: {
        int64_t us;
        if (cls == SQLITE_INTEGER) /* unix seconds, as SQLite's unixepoch() gives */
            return dld_batch_append_int(b, col, sqlite3_column_int64(stmt, i) * 1000000);
        if (cls == SQLITE_TEXT && dld_sqlite_parse_timestamp(text, &us) == 0)
            return dld_batch_append_int(b, col, us);
        return s_bad(err, spec, "not a timestamp (YYYY-MM-DD HH:MM:SS[.ffffff][Z|±HH:MM]):", text);
    }
    case DLD_T_BINARY:
        return dld_batch_append_bytes(b, col, sqlite3_column_blob(stmt, i), (size_t)sqlite3_column_bytes(stmt, i));
    default: /* strings: any storage class, as SQLite's own text form */
        return dld_batch_append_bytes(b, col, text, (size_t)sqlite3_column_bytes(stmt, i));
    }
}

/* where the zone of a time text starts (its length when it has none) */
static size_t s_zone_at(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 10; i < n; i++)
        if (s[i] == 'Z' || s[i] == '+' || s[i] == '-')
            return i;
    return n;
}

int dld_sqlite_time_form(const char *s, char *out, size_t cap)
{
    int64_t us;
    size_t n = strlen(s);
    if (n + 1 > cap || dld_sqlite_parse_timestamp(s, &us) != 0)
        return -1;
    size_t z = s_zone_at(s);
    for (size_t i = 0; i < n; i++)
        out[i] = i < z && isdigit((unsigned char)s[i]) ? '9' : s[i];
    out[n] = '\0';
    return 0;
}

static int64_t s_floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

int dld_sqlite_time_render(const char *form, int64_t us, char *out, size_t cap)
{
    size_t n = strlen(form), z = s_zone_at(form);
    int64_t off = 0; /* seconds east of UTC */
    if (z < n && form[z] != 'Z') {
        int oh = 0, om = 0;
        if (s_digits(form + z + 1, 2, &oh))
            return -1;
        const char *q = form + z + 3;
        if (*q == ':')
            q++;
        if (*q && s_digits(q, 2, &om))
            return -1;
        off = (oh * 60 + om) * 60 * (form[z] == '-' ? -1 : 1);
    }
    int64_t local = us + off * 1000000;
    int64_t days = s_floor_div(local, 86400 * INT64_C(1000000));
    int64_t in_day = local - days * 86400 * INT64_C(1000000);
    int64_t y;
    unsigned m, d;
    dld_civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999)
        return -1;
    char buf[96];
    int len = snprintf(buf, sizeof buf, "%04d-%02u-%02u", (int)y, m, d);
    if (z > 10) {
        int64_t secs = in_day / 1000000, frac = in_day % 1000000;
        len += snprintf(buf + len, sizeof buf - (size_t)len, "%c%02d:%02d", form[10], (int)(secs / 3600),
                        (int)(secs / 60 % 60));
        if (z > 16 && form[16] == ':')
            len += snprintf(buf + len, sizeof buf - (size_t)len, ":%02d", (int)(secs % 60));
        if (z > 19 && form[19] == '.') {
            char digits[8];
            snprintf(digits, sizeof digits, "%06lld", (long long)frac);
            buf[len++] = '.';
            for (size_t i = 20; i < z && len < 80; i++)
                buf[len++] = i - 20 < 6 ? digits[i - 20] : '0';
            buf[len] = '\0';
        }
    }
    if ((size_t)len + (n - z) + 1 > cap)
        return -1;
    snprintf(out, cap, "%s%s", buf, form + z);
    return 0;
}

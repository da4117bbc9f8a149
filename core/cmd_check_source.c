/*
 * The conformance kit's source tests (`deltaload plugins check` on a
 * source). They run on the kit's own fixture table, whose every row the kit
 * knows, so each window is checked row by row (which ids, no duplicates),
 * not only by count:
 *
 *   - the sqlite source, or any source given --scratch-sqlite: the kit
 *     creates the fixture itself in the SQLite file named by `path`;
 *   - any other source: the author creates it on their server from
 *     `deltaload plugins check --fixture DIALECT` and names it with --table
 *     (and --schema);
 *   - a source that cannot host the fixture (its data is generated, like
 *     the SDK's counter): --table NAME --filter-column COL runs the window
 *     tests against values the kit first reads from that table.
 *
 * Fixture: FX_ROWS rows, id 1..FX_ROWS; seq = id / 2 (every value but the
 * first and the last twice: ties on every bound); ts = 2024-01-01 plus seq
 * minutes (a time column with the same ties); val NULL on every 9th row;
 * one column per type the kit round-trips (s_cases), all NULL on every 10th
 * row. Tests: windows and ties, empty windows, between at endvalue, lag,
 * every full-mode operator, commit order, each type family, the 1.2
 * extract_info.schema, and interrupts. Every instance is opened with the
 * kit's own host table, whose `cancelled` the kit raises: between two
 * batches, and (--slow-table) from a thread while a call waits on a view
 * that blocks. Expected values and what each test accepts:
 * docs/plugin-authoring.md "The conformance kit".
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sqlite3.h>

#include "cli.h"
#include "cmd_check.h"
#include "contract.h"
#include "host.h"

#define FX_ROWS 120
#define FX_CALL_MS 2000 /* "promptly": the longest call the kit accepts after an interrupt */

/* one row's typed values, cycled over the rows (row i uses case i % 10 - 1;
 * i % 10 == 0 is the all-NULL row). Text, as the fixture's SQL writes it. */
static const struct {
    const char *i32, *i64, *num, *dbl, *txt;
    int boolean;
    const char *date, *ts, *tstz, *hex;
} s_cases[9] = {
    {"0", "0", "0", "0", "", 1, "2024-02-29", "2024-01-01 00:00:00", "2024-03-05 12:34:56.5+02:00", ""},
    {"1", "9223372036854775807", "1.5", "1.5", "plain", 0, "1970-01-01", "1999-12-31 23:59:59.999999",
     "2024-01-01 00:00:00+00:00", "00"},
    {"-1", "-9223372036854775807", "-1.5", "-2.25", "na\xc3\xafve caf\xc3\xa9", 1, "1969-12-31", "1970-01-01 00:00:00",
     "1999-12-31 23:00:00-05:00", "ff00"},
    {"2147483647", "4294967296", "123456789.123", "1e+300", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 0, "2000-01-01",
     "2038-01-19 03:14:08", "1970-01-01 00:00:00+00:00", "deadbeef"},
    {"-2147483648", "1", "-0.001", "-1e-300", "emoji \xf0\x9f\x8e\x89", 1, "9999-12-31", "1969-07-20 20:17:40.5",
     "2024-06-30 23:59:59.999999+14:00", "000102030405060708090a"},
    {"42", "-1", "0.1", "3.141592653589793", "it's quoted", 0, "1900-03-01", "2000-02-29 12:00:00",
     "1969-12-31 23:59:59-01:30", "7f"},
    {"7", "1234567890123", "999999999.999", "0.1", "back\\slash", 1, "2038-01-19", "1900-01-01 00:00:01",
     "2000-01-01 00:00:00+05:45", "80"},
    {"-99", "-42", "42", "1e+15", "trailing space ", 0, "1999-12-31", "2024-06-15 08:30:00.123",
     "2024-11-03 01:30:00-04:00", "ffffffff"},
    {"123456", "7", "3.14", "-7", "x", 1, "2024-12-31", "9999-12-31 23:59:59", "2038-01-19 03:14:07+00:00", "c3a9"},
};

static int64_t fx_seq(int i) { return i / 2; }
static bool fx_val_null(int i) { return i % 9 == 0; }
static int fx_case(int i) { return i % 10 == 0 ? -1 : i % 10 - 1; }

static const struct dld_host *H(void) { return dld_core_host(); }

/* ---- the fixture as SQL ----------------------------------------------------------- */
enum { D_SQLITE, D_POSTGRES, D_ORACLE };

static void s_sql_text(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', f);
        fputc(*s, f);
    }
    fputc('\'', f);
}

static void s_sql_ts(FILE *f, int d, const char *kw, const char *s)
{
    if (d != D_ORACLE) {
        s_sql_text(f, s);
        return;
    }
    /* Oracle: typed literals (its default formats are not ISO), a space before the zone */
    char buf[64];
    snprintf(buf, sizeof buf, "%s", s);
    size_t n = strlen(buf);
    if (!strcmp(kw, "TIMESTAMP") && n > 19)
        for (size_t i = 19; i < n; i++)
            if (buf[i] == '+' || buf[i] == '-') {
                memmove(buf + i + 1, buf + i, n - i + 1);
                buf[i] = ' ';
                break;
            }
    fprintf(f, "%s ", kw);
    s_sql_text(f, buf);
}

static char *s_fixture_sql(int d, const char *table)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (f == NULL)
        return NULL;
    static const char *types[3][14] = {
        {"INTEGER NOT NULL PRIMARY KEY", "BIGINT NOT NULL", "TIMESTAMP NOT NULL", "VARCHAR(40)", "INTEGER", "BIGINT",
         "NUMERIC(12,3)", "DOUBLE PRECISION", "VARCHAR(40)", "BOOLEAN", "DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE",
         "BLOB"},
        {"INTEGER NOT NULL PRIMARY KEY", "BIGINT NOT NULL", "TIMESTAMP NOT NULL", "VARCHAR(40)", "INTEGER", "BIGINT",
         "NUMERIC(12,3)", "DOUBLE PRECISION", "VARCHAR(40)", "BOOLEAN", "DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE",
         "BYTEA"},
        {"NUMBER(10) NOT NULL PRIMARY KEY", "NUMBER(19) NOT NULL", "TIMESTAMP NOT NULL", "VARCHAR2(40 CHAR)",
         "NUMBER(10)", "NUMBER(19)", "NUMBER(12,3)", "BINARY_DOUBLE", "VARCHAR2(40 CHAR)", "NUMBER(1)", "DATE",
         "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "RAW(32)"},
    };
    static const char *names[14] = {"id",    "seq",   "ts",    "val",  "c_int",  "c_big", "c_num",
                                    "c_dbl", "c_txt", "c_bool", "c_date", "c_ts", "c_tstz", "c_bytes"};
    fprintf(f, "-- the deltaload conformance kit's fixture table (deltaload plugins check --fixture)\n");
    if (d != D_ORACLE)
        fprintf(f, "DROP TABLE IF EXISTS %s;\n", table);
    fprintf(f, "CREATE TABLE %s (", table);
    for (int c = 0; c < 14; c++)
        fprintf(f, "%s%s %s", c ? ", " : "", names[c], types[d][c]);
    fprintf(f, ");\n");
    for (int i = 1; i <= FX_ROWS; i++) {
        int64_t s = fx_seq(i);
        fprintf(f, "INSERT INTO %s VALUES (%d, %lld, ", table, i, (long long)s);
        char ts[48];
        snprintf(ts, sizeof ts, "2024-01-01 %02d:%02d:00", (int)(s / 60 % 24), (int)(s % 60));
        s_sql_ts(f, d, "TIMESTAMP", ts);
        fputs(", ", f);
        if (fx_val_null(i)) {
            fputs("NULL", f);
        } else {
            char v[16];
            snprintf(v, sizeof v, "v%d", i);
            s_sql_text(f, v);
        }
        int k = fx_case(i);
        if (k < 0) {
            fputs(", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);\n", f);
            continue;
        }
        /* Oracle: a BINARY_DOUBLE literal (d), 1e+300 is past NUMBER's range */
        fprintf(f, ", %s, %s, %s, %s%s, ", s_cases[k].i32, s_cases[k].i64, s_cases[k].num, s_cases[k].dbl,
                d == D_ORACLE ? "d" : "");
        s_sql_text(f, s_cases[k].txt);
        if (d == D_POSTGRES)
            fprintf(f, ", %s, ", s_cases[k].boolean ? "TRUE" : "FALSE");
        else
            fprintf(f, ", %d, ", s_cases[k].boolean);
        if (d == D_ORACLE)
            fprintf(f, "DATE '%s'", s_cases[k].date);
        else
            s_sql_text(f, s_cases[k].date);
        fputs(", ", f);
        s_sql_ts(f, d, "TIMESTAMP", s_cases[k].ts);
        fputs(", ", f);
        s_sql_ts(f, d, "TIMESTAMP", s_cases[k].tstz);
        if (d == D_SQLITE)
            fprintf(f, ", X'%s');\n", s_cases[k].hex);
        else if (d == D_POSTGRES)
            fprintf(f, ", '\\x%s');\n", s_cases[k].hex);
        else
            fprintf(f, ", HEXTORAW('%s'));\n", s_cases[k].hex);
    }
    if (d == D_ORACLE)
        fputs("COMMIT;\n", f);
    fclose(f);
    return out;
}

static int s_dialect(const char *name)
{
    return !strcmp(name, "sqlite") ? D_SQLITE : !strcmp(name, "postgres") ? D_POSTGRES : !strcmp(name, "oracle") ? D_ORACLE : -1;
}

int dld_kit_print_fixture(const char *dialect, const char *table)
{
    int d = s_dialect(dialect);
    if (d < 0) {
        fprintf(stderr, "deltaload: --fixture %s: the dialects are sqlite, postgres and oracle\n", dialect);
        return DLD_EXIT_USAGE;
    }
    for (const char *p = table; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.') {
            fprintf(stderr, "deltaload: --table %s: letters, digits, '_' and '.' only\n", table);
            return DLD_EXIT_USAGE;
        }
    char *sql = s_fixture_sql(d, table);
    if (sql == NULL)
        return DLD_EXIT_RUNTIME;
    fputs(sql, stdout);
    free(sql);
    return DLD_EXIT_OK;
}

/* ---- reading Arrow values --------------------------------------------------------- */
enum { V_NULL, V_INT, V_DEC, V_DBL, V_STR, V_BIN, V_BOOL, V_DATE, V_TS, V_OTHER };
struct fx_val {
    int kind;
    int64_t i;        /* V_INT, V_BOOL, V_DATE (days), V_TS (microseconds) */
    __int128 dec;     /* V_DEC */
    int scale;        /* V_DEC */
    double d;         /* V_DBL */
    const char *p;    /* V_STR, V_BIN */
    size_t len;
    bool tz;          /* V_TS: the type has a time zone */
};

static bool s_bit(const void *buf, int64_t i) { return ((const uint8_t *)buf)[i >> 3] & (1u << (i & 7)); }

static void s_cell(const struct ArrowSchema *s, const struct ArrowArray *a, int64_t row, struct fx_val *v)
{
    memset(v, 0, sizeof *v);
    if (dld_arrow_is_null(a, row)) {
        v->kind = V_NULL;
        return;
    }
    const char *f = s->format;
    int64_t r = row + a->offset;
    const void *b1 = a->n_buffers > 1 ? a->buffers[1] : NULL;
    v->kind = V_INT;
    switch (f[0]) {
    case 'c': v->i = ((const int8_t *)b1)[r]; return;
    case 'C': v->i = ((const uint8_t *)b1)[r]; return;
    case 's': v->i = ((const int16_t *)b1)[r]; return;
    case 'S': v->i = ((const uint16_t *)b1)[r]; return;
    case 'i': v->i = ((const int32_t *)b1)[r]; return;
    case 'I': v->i = ((const uint32_t *)b1)[r]; return;
    case 'l': v->i = ((const int64_t *)b1)[r]; return;
    case 'L': v->i = (int64_t)((const uint64_t *)b1)[r]; return;
    case 'b': v->kind = V_BOOL, v->i = s_bit(b1, r); return;
    case 'f': v->kind = V_DBL, v->d = ((const float *)b1)[r]; return;
    case 'g': v->kind = V_DBL, v->d = ((const double *)b1)[r]; return;
    case 'u':
    case 'z': {
        const int32_t *off = b1;
        v->kind = f[0] == 'u' ? V_STR : V_BIN;
        v->p = (const char *)a->buffers[2] + off[r];
        v->len = (size_t)(off[r + 1] - off[r]);
        return;
    }
    case 'U':
    case 'Z': {
        const int64_t *off = b1;
        v->kind = f[0] == 'U' ? V_STR : V_BIN;
        v->p = (const char *)a->buffers[2] + off[r];
        v->len = (size_t)(off[r + 1] - off[r]);
        return;
    }
    case 'd': {
        int p = 0, sc = 0, bits = 128;
        if (sscanf(f, "d:%d,%d,%d", &p, &sc, &bits) < 2 || bits != 128)
            break;
        memcpy(&v->dec, (const char *)b1 + 16 * r, 16);
        v->kind = V_DEC;
        v->scale = sc;
        return;
    }
    case 't':
        if (!strcmp(f, "tdD")) {
            v->kind = V_DATE, v->i = ((const int32_t *)b1)[r];
            return;
        }
        if (!strcmp(f, "tdm")) {
            int64_t ms = ((const int64_t *)b1)[r];
            v->kind = V_DATE, v->i = ms / 86400000 - (ms % 86400000 < 0);
            return;
        }
        if (f[1] == 's' && f[2] && f[3] == ':') {
            int64_t x = ((const int64_t *)b1)[r];
            v->kind = V_TS;
            v->i = f[2] == 's' ? x * 1000000 : f[2] == 'm' ? x * 1000 : f[2] == 'u' ? x : x / 1000;
            v->tz = f[4] != '\0';
            return;
        }
        break;
    default: break;
    }
    v->kind = V_OTHER;
}

/* text → microseconds since the epoch: "YYYY-MM-DD[ T]HH:MM[:SS[.f]][Z|±HH[:MM]]",
 * the zone (when there is one) taken off; -1 on anything else */
static int s_parse_ts(const char *s, size_t n, int64_t *us)
{
    char buf[64];
    if (n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    int y, mo, d, h = 0, mi = 0, sec = 0, used = 0;
    if (sscanf(buf, "%4d-%2d-%2d%n", &y, &mo, &d, &used) != 3)
        return -1;
    const char *p = buf + used;
    int64_t frac = 0;
    if (*p == ' ' || *p == 'T') {
        int u2 = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &u2) != 2)
            return -1;
        p += 1 + u2;
        if (*p == ':') {
            if (sscanf(p + 1, "%2d%n", &sec, &u2) != 1)
                return -1;
            p += 1 + u2;
        }
        if (*p == '.') {
            int nd = 0;
            for (p++; isdigit((unsigned char)*p); p++, nd++)
                if (nd < 6)
                    frac = frac * 10 + (*p - '0');
            for (; nd < 6; nd++)
                frac *= 10;
        }
    }
    int64_t off = 0;
    while (*p == ' ')
        p++;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh = 0, om = 0, u3 = 0;
        if (sscanf(p + 1, "%2d%n", &oh, &u3) != 1)
            return -1;
        const char *q = p + 1 + u3;
        if (*q == ':')
            q++;
        if (isdigit((unsigned char)*q) && sscanf(q, "%2d", &om) == 1)
            q += 2;
        off = (oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
        p = q;
    }
    if (*p)
        return -1;
    *us = (dld_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec - off) * 1000000 + frac;
    return 0;
}

/* a value as an exact integer (ints, decimals with a whole value, integer text) */
static bool s_as_int(const struct fx_val *v, int64_t *out)
{
    if (v->kind == V_INT || v->kind == V_BOOL) {
        *out = v->i;
        return true;
    }
    if (v->kind == V_DEC) {
        __int128 x = v->dec;
        for (int s = 0; s < v->scale; s++) {
            if (x % 10)
                return false;
            x /= 10;
        }
        *out = (int64_t)x;
        return (__int128)*out == x;
    }
    if (v->kind == V_STR && v->len > 0 && v->len < 32) {
        char buf[32], *end;
        memcpy(buf, v->p, v->len);
        buf[v->len] = '\0';
        errno = 0;
        long long x = strtoll(buf, &end, 10);
        *out = x;
        return *end == '\0' && errno == 0;
    }
    return false;
}

/* a value rescaled to `scale` decimal places, exactly (no rounding) */
static bool s_as_dec(const struct fx_val *v, int scale, __int128 *out)
{
    struct dld_error e;
    dld_error_init(&e);
    if (v->kind == V_INT) {
        __int128 x = v->i;
        for (int s = 0; s < scale; s++)
            x *= 10;
        *out = x;
        return true;
    }
    if (v->kind == V_DEC) {
        __int128 x = v->dec;
        int s = v->scale;
        for (; s < scale; s++)
            x *= 10;
        for (; s > scale; s--) {
            if (x % 10)
                return false;
            x /= 10;
        }
        *out = x;
        return true;
    }
    if (v->kind == V_STR)
        return dld_decimal_parse(v->p, v->len, 38, scale, out, &e) == DLD_OK;
    if (v->kind == V_DBL) { /* a double is accepted when it is the nearest one to the decimal */
        double scaled = v->d;
        for (int s = 0; s < scale; s++)
            scaled *= 10;
        double r = nearbyint(scaled);
        if (fabs(scaled - r) > 1e-6 * fmax(1.0, fabs(r)) || fabs(r) > 9e15)
            return false;
        *out = (__int128)(int64_t)r;
        return true;
    }
    return false;
}

static void s_describe(const struct fx_val *v, char *buf, size_t cap)
{
    char dec[48];
    switch (v->kind) {
    case V_NULL: snprintf(buf, cap, "NULL"); break;
    case V_INT: snprintf(buf, cap, "%lld", (long long)v->i); break;
    case V_BOOL: snprintf(buf, cap, "%s", v->i ? "true" : "false"); break;
    case V_DEC: dld_decimal_format(v->dec, v->scale, dec), snprintf(buf, cap, "decimal %s", dec); break;
    case V_DBL: snprintf(buf, cap, "%.17g", v->d); break;
    case V_STR: snprintf(buf, cap, "'%.*s'", (int)(v->len > 40 ? 40 : v->len), v->p); break;
    case V_BIN: {
        size_t n = snprintf(buf, cap, "bytes ");
        for (size_t i = 0; i < v->len && n + 3 < cap && i < 16; i++)
            n += snprintf(buf + n, cap - n, "%02x", (unsigned char)v->p[i]);
        break;
    }
    case V_DATE: dld_format_date((int32_t)v->i, buf, cap); break;
    case V_TS: dld_format_timestamp(v->i, DLD_UNIT_MICRO, v->tz, buf, cap); break;
    default: snprintf(buf, cap, "a value of an unexpected Arrow type"); break;
    }
}

/* one type family: does the Arrow value v match case k of the fixture? */
enum { F_INT32, F_INT64, F_NUM, F_DBL, F_TXT, F_BOOL, F_DATE, F_TS, F_TSTZ, F_BYTES, F_N };
static const struct {
    const char *column, *test;
} s_fam[F_N] = {
    {"c_int", "types: INTEGER"},
    {"c_big", "types: BIGINT"},
    {"c_num", "types: NUMERIC(12,3) exact"},
    {"c_dbl", "types: DOUBLE PRECISION exact"},
    {"c_txt", "types: text (non-ASCII, quotes, empty string)"},
    {"c_bool", "types: BOOLEAN"},
    {"c_date", "types: DATE"},
    {"c_ts", "types: TIMESTAMP"},
    {"c_tstz", "types: TIMESTAMP WITH TIME ZONE (the instant)"},
    {"c_bytes", "types: bytes"},
};

static bool s_matches(int fam, int k, const struct fx_val *v)
{
    int64_t x, want;
    switch (fam) {
    case F_INT32:
    case F_INT64:
        want = strtoll(fam == F_INT32 ? s_cases[k].i32 : s_cases[k].i64, NULL, 10);
        return v->kind != V_BOOL && s_as_int(v, &x) && x == want;
    case F_NUM: {
        __int128 got, exp;
        struct dld_error e;
        dld_error_init(&e);
        return dld_decimal_parse(s_cases[k].num, strlen(s_cases[k].num), 38, 3, &exp, &e) == DLD_OK &&
               s_as_dec(v, 3, &got) && got == exp;
    }
    case F_DBL: {
        double exp = strtod(s_cases[k].dbl, NULL);
        if (v->kind == V_DBL)
            return v->d == exp;
        if (v->kind == V_STR) {
            char buf[64];
            snprintf(buf, sizeof buf, "%.*s", (int)(v->len < 63 ? v->len : 63), v->p);
            return strtod(buf, NULL) == exp;
        }
        return false;
    }
    case F_TXT:
        return v->kind == V_STR && v->len == strlen(s_cases[k].txt) && !memcmp(v->p, s_cases[k].txt, v->len);
    case F_BOOL: {
        int b = -1; /* what the value says: 1 true, 0 false, -1 not a boolean */
        if (v->kind == V_BOOL)
            b = (int)v->i;
        else if (v->kind == V_STR && v->len > 0 && v->len <= 5) {
            char t[8];
            for (size_t i = 0; i < v->len; i++)
                t[i] = (char)tolower((unsigned char)v->p[i]);
            t[v->len] = '\0';
            b = !strcmp(t, "t") || !strcmp(t, "true") || !strcmp(t, "1") ? 1
                : !strcmp(t, "f") || !strcmp(t, "false") || !strcmp(t, "0") ? 0 : -1;
        } else if (s_as_int(v, &x) && (x == 0 || x == 1)) /* Oracle's NUMBER(1) */
            b = (int)x;
        return b == s_cases[k].boolean;
    }
    case F_DATE: {
        int64_t us;
        if (s_parse_ts(s_cases[k].date, strlen(s_cases[k].date), &us))
            return false;
        if (v->kind == V_DATE)
            return v->i * 86400000000LL == us;
        if (v->kind == V_TS) /* a date as a timestamp at midnight (Oracle's DATE) */
            return v->i == us;
        return v->kind == V_STR && s_parse_ts(v->p, v->len, &x) == 0 && x == us;
    }
    case F_TS:
    case F_TSTZ: {
        const char *t = fam == F_TS ? s_cases[k].ts : s_cases[k].tstz;
        if (s_parse_ts(t, strlen(t), &want))
            return false;
        /* a naive timestamp: the wall clock, with or without a zone on the type;
         * with a zone: the instant (Arrow's values are UTC), whatever zone
         * the source names */
        if (v->kind == V_TS)
            return v->i == want;
        return v->kind == V_STR && s_parse_ts(v->p, v->len, &x) == 0 && x == want;
    }
    case F_BYTES: {
        size_t n = strlen(s_cases[k].hex) / 2;
        if (v->kind != V_BIN || v->len != n)
            return false;
        for (size_t i = 0; i < n; i++) {
            unsigned byte;
            if (sscanf(s_cases[k].hex + 2 * i, "%2x", &byte) != 1 || (unsigned char)v->p[i] != byte)
                return false;
        }
        return true;
    }
    default: return false;
    }
}

/* the child of a batch named `name`, case-insensitively (Oracle folds to upper case) */
static int64_t s_col(const struct ArrowSchema *s, const char *name)
{
    for (int64_t c = 0; c < s->n_children; c++)
        if (s->children[c]->name && !strcasecmp(s->children[c]->name, name))
            return c;
    return -1;
}

/* ---- running a window ------------------------------------------------------------- */
struct k_window {
    int rc;
    char *high;
    int64_t rows, batches;
    char why[1100];
    /* fixture runs: how often each id came back; ids the kit could not read */
    int seen[FX_ROWS + 1];
    int64_t stray;
    /* types: per family, rows checked and the first mismatches */
    int checked[F_N], bad[F_N];
    char bad_text[F_N][400];
    bool missing[F_N];
    /* extract_info.schema (1.2): 0 not filled, 1 the batches' columns, -1 other columns */
    int info_schema;
    char info_schema_why[200];
};

struct k_src {
    struct k_ctx *k;
    const struct dld_source_vtable *vt;
    void *inst;
    struct dld_table t;
    bool fixture; /* ids tracked and checked */
};

/* the fixture's value of family f in case k (k < 0: the NULL row), as s_describe writes values */
static void s_case_text(int f, int k, char *buf, size_t cap)
{
    if (k < 0) {
        snprintf(buf, cap, "NULL");
        return;
    }
    const char *t = f == F_INT32 ? s_cases[k].i32 : f == F_INT64 ? s_cases[k].i64 : f == F_NUM ? s_cases[k].num
                    : f == F_DBL ? s_cases[k].dbl : f == F_DATE ? s_cases[k].date : f == F_TS ? s_cases[k].ts
                    : f == F_TSTZ ? s_cases[k].tstz : "";
    if (f == F_TXT)
        snprintf(buf, cap, "'%s'", s_cases[k].txt);
    else if (f == F_BYTES)
        snprintf(buf, cap, "bytes %s", s_cases[k].hex);
    else if (f == F_BOOL)
        snprintf(buf, cap, "%s", s_cases[k].boolean ? "true" : "false");
    else
        snprintf(buf, cap, "%s", t);
}

static void s_check_types(struct k_window *w, const struct ArrowSchema *s, const struct ArrowArray *a, int64_t idc)
{
    for (int f = 0; f < F_N; f++) {
        int64_t c = s_col(s, s_fam[f].column);
        if (c < 0) {
            w->missing[f] = true;
            continue;
        }
        for (int64_t r = 0; r < a->length; r++) {
            struct fx_val idv, v;
            int64_t id;
            s_cell(s->children[idc], a->children[idc], r, &idv);
            if (!s_as_int(&idv, &id) || id < 1 || id > FX_ROWS)
                continue;
            s_cell(s->children[c], a->children[c], r, &v);
            int k = fx_case((int)id);
            bool ok = k < 0 ? v.kind == V_NULL : v.kind != V_NULL && s_matches(f, k, &v);
            w->checked[f]++;
            if (ok)
                continue;
            if (w->bad[f]++ < 3) { /* the first few, as "id N: got (format) for want" */
                char got[96], want[96];
                s_describe(&v, got, sizeof got);
                s_case_text(f, k, want, sizeof want);
                size_t n = strlen(w->bad_text[f]);
                snprintf(w->bad_text[f] + n, sizeof w->bad_text[f] - n, "%sid %lld: %s (%s) for %s", n ? "; " : "",
                         (long long)id, got, s->children[c]->format, want);
            }
        }
    }
}

/* extract_info.schema against the first batch's schema: names, formats, nullability */
static void s_compare_columns(const struct ArrowSchema *cols, const struct ArrowSchema *batch, struct k_window *w)
{
    w->info_schema = 1;
    if (cols->n_children != batch->n_children) {
        w->info_schema = -1;
        snprintf(w->info_schema_why, sizeof w->info_schema_why, "%lld columns, the batches %lld",
                 (long long)cols->n_children, (long long)batch->n_children);
        return;
    }
    for (int64_t c = 0; c < cols->n_children; c++) {
        const struct ArrowSchema *a = cols->children[c], *b = batch->children[c];
        bool an = a->flags & ARROW_FLAG_NULLABLE, bn = b->flags & ARROW_FLAG_NULLABLE;
        if (strcmp(a->name ? a->name : "", b->name ? b->name : "") || strcmp(a->format, b->format) || an != bn) {
            w->info_schema = -1;
            snprintf(w->info_schema_why, sizeof w->info_schema_why, "column %lld: %s %s%s, the batches %s %s%s",
                     (long long)c, a->name ? a->name : "-", a->format, an ? " nullable" : "", b->name ? b->name : "-",
                     b->format, bn ? " nullable" : "");
            return;
        }
    }
}

/* one extract: begin, every batch, end; `types` checks the typed columns */
static void s_extract(struct k_src *src, uint32_t mode, const char *low, int inclusive, const char *high, bool types,
                      struct k_window *w)
{
    memset(w, 0, sizeof *w);
    struct dld_error e;
    dld_error_init(&e);
    struct dld_extract_request req = {.struct_size = sizeof req, .table = &src->t, .mode = mode, .low = low,
                                      .low_inclusive = inclusive, .high = high, .batch_rows = 7};
    struct dld_extract_info info = {.struct_size = sizeof info};
    struct ArrowSchema cols = {0};
    if (types)
        info.schema = &cols; /* the columns before any row, if the source can (1.2) */
    void *cur = NULL;
    w->rc = src->vt->extract_begin(src->inst, &req, &info, &cur, &e);
    while (w->rc == DLD_OK) {
        struct ArrowSchema s = {0};
        struct ArrowArray a = {0};
        int rc = src->vt->extract_next(cur, &s, &a, &e);
        if (rc == DLD_DONE)
            break;
        if (rc != DLD_OK) {
            w->rc = rc;
            dld_arrow_release(&s, &a);
            break;
        }
        w->rows += a.length;
        if (w->batches++ == 0 && cols.release)
            s_compare_columns(&cols, &s, w);
        int64_t idc = src->fixture ? s_col(&s, "id") : -1;
        for (int64_t r = 0; src->fixture && r < a.length; r++) {
            struct fx_val v;
            int64_t id;
            if (idc >= 0)
                s_cell(s.children[idc], a.children[idc], r, &v);
            if (idc >= 0 && s_as_int(&v, &id) && id >= 1 && id <= FX_ROWS)
                w->seen[id]++;
            else
                w->stray++;
        }
        if (types && idc >= 0)
            s_check_types(w, &s, &a, idc);
        dld_arrow_release(&s, &a);
    }
    if (cur)
        src->vt->extract_end(cur);
    w->high = info.high ? strdup(info.high) : NULL;
    info.schema = NULL;
    dld_extract_info_clean_up(H(), &info);
    if (cols.release)
        cols.release(&cols);
    snprintf(w->why, sizeof w->why, "%s", e.message);
}

/* the ids a window returned against the ids `want` says; "" when exact */
static void s_id_diff(const struct k_window *w, bool (*want)(int i, const void *ctx), const void *ctx, char *out,
                      size_t cap)
{
    size_t n = 0;
    int missing = 0, extra = 0, dup = 0;
    char m[200] = "", x[200] = "", d[200] = "";
    for (int i = 1; i <= FX_ROWS; i++) {
        bool in = want(i, ctx);
        if (in && w->seen[i] == 0 && missing++ < 8)
            snprintf(m + strlen(m), sizeof m - strlen(m), "%s%d", strlen(m) ? "," : "", i);
        if (!in && w->seen[i] > 0 && extra++ < 8)
            snprintf(x + strlen(x), sizeof x - strlen(x), "%s%d", strlen(x) ? "," : "", i);
        if (w->seen[i] > 1 && dup++ < 8)
            snprintf(d + strlen(d), sizeof d - strlen(d), "%s%d", strlen(d) ? "," : "", i);
    }
    out[0] = '\0';
    if (missing)
        n += snprintf(out + n, cap - n, "%d rows missing (id %s%s) ", missing, m, missing > 8 ? ",..." : "");
    if (extra && n < cap)
        n += snprintf(out + n, cap - n, "%d rows outside the window (id %s%s) ", extra, x, extra > 8 ? ",..." : "");
    if (dup && n < cap)
        n += snprintf(out + n, cap - n, "%d rows twice (id %s%s) ", dup, d, dup > 8 ? ",..." : "");
    if (w->stray && n < cap)
        snprintf(out + n, cap - n, "%lld rows without a fixture id ", (long long)w->stray);
}

/* predicates over fixture rows */
struct fx_range {
    int64_t lo, hi; /* seq in [lo, hi]; INT64_MIN/MAX for open ends */
};
static bool p_seq_range(int i, const void *ctx)
{
    const struct fx_range *r = ctx;
    return fx_seq(i) >= r->lo && fx_seq(i) <= r->hi;
}
static bool p_none(int i, const void *ctx) { return (void)i, (void)ctx, false; }
static bool p_all(int i, const void *ctx) { return (void)i, (void)ctx, true; }
static bool p_val_null(int i, const void *ctx) { return (void)ctx, fx_val_null(i); }
static bool p_val_notnull(int i, const void *ctx) { return (void)ctx, !fx_val_null(i); }
static bool p_seq_not(int i, const void *ctx)
{
    const struct fx_range *r = ctx;
    return !(fx_seq(i) >= r->lo && fx_seq(i) <= r->hi);
}

/* runs a window and records PASS/FAIL: rc OK, the high mark (want_high:
 * NULL = none expected, "*" = any), and exactly the ids of `want` */
static void s_window_test(struct k_src *src, const char *test, uint32_t mode, const char *low, int inclusive,
                          const char *high, const char *want_high, bool (*want)(int, const void *), const void *ctx,
                          int want_batches)
{
    struct k_window *w = calloc(1, sizeof *w);
    if (w == NULL)
        return;
    s_extract(src, mode, low, inclusive, high, false, w);
    char diff[900];
    s_id_diff(w, want, ctx, diff, sizeof diff);
    bool high_ok = want_high == NULL ? w->high == NULL
                                     : !strcmp(want_high, "*") ? w->high != NULL
                                                                : w->high && !strcmp(w->high, want_high);
    bool ok = w->rc == DLD_OK && high_ok && diff[0] == '\0' && (want_batches < 0 || w->batches == want_batches);
    dld_kit_result(src->k, test, ok ? K_PASS : K_FAIL, "rc %s, high %s (want %s), %lld rows in %lld batches%s; %s%s",
                   dld_code_name(w->rc), w->high ? w->high : "NULL", want_high ? want_high : "NULL", (long long)w->rows,
                   (long long)w->batches, want_batches >= 0 ? " (want 1 empty batch)" : "", diff, w->why);
    free(w->high);
    free(w);
}

/* ---- cancellation ------------------------------------------------------------------ */
static atomic_int s_interrupt;
static int s_kit_cancelled(void) { return atomic_load(&s_interrupt) || dld_core_cancelled(); }
static struct dld_host s_kit_host;

static void k_cancel(struct k_src *src)
{
    const char *T1 = "interrupt between batches: the source stops promptly",
               *T2 = "extract_end after an interrupt is safe and prompt",
               *T3 = "the instance works after an interrupted extract";
    struct dld_error e;
    dld_error_init(&e);
    struct dld_table t = src->t;
    t.filter_column = NULL;
    t.filter_operator = NULL;
    struct dld_extract_request req = {.struct_size = sizeof req, .table = &t, .mode = DLD_MODE_FULL, .batch_rows = 7};
    struct dld_extract_info info = {.struct_size = sizeof info};
    void *cur = NULL;
    int64_t rows = 0, slowest = 0, calls = 0;
    int rc = src->vt->extract_begin(src->inst, &req, &info, &cur, &e);
    struct ArrowSchema s = {0};
    struct ArrowArray a = {0};
    if (rc == DLD_OK)
        rc = src->vt->extract_next(cur, &s, &a, &e);
    if (rc != DLD_OK) {
        dld_kit_result(src->k, T1, K_FAIL, "the first batch of the whole table: %s %s", dld_code_name(rc), e.message);
        dld_arrow_release(&s, &a);
        if (cur)
            src->vt->extract_end(cur);
        dld_extract_info_clean_up(H(), &info);
        dld_kit_result(src->k, T2, K_SKIP, "no extract to interrupt");
        dld_kit_result(src->k, T3, K_SKIP, "no extract to interrupt");
        return;
    }
    rows = a.length;
    dld_arrow_release(&s, &a);
    /* the host would stop asking now; the kit goes on asking, to see what the
     * source does once host->cancelled() says so */
    atomic_store(&s_interrupt, 1);
    for (;;) {
        int64_t t0 = dld_core_now_ms();
        rc = src->vt->extract_next(cur, &s, &a, &e);
        int64_t took = dld_core_now_ms() - t0;
        slowest = took > slowest ? took : slowest;
        calls++;
        if (rc == DLD_OK)
            rows += a.length;
        dld_arrow_release(&s, &a);
        if (rc != DLD_OK || calls > FX_ROWS + 2 || took > FX_CALL_MS)
            break;
    }
    int status = K_PASS;
    char why[1300] = "";
    if (slowest > FX_CALL_MS) {
        status = K_FAIL;
        snprintf(why, sizeof why, "a call after the interrupt took %lld ms (the kit accepts %d)", (long long)slowest,
                 FX_CALL_MS);
    } else if (rc == DLD_DONE && rows != FX_ROWS) {
        status = K_FAIL;
        snprintf(why, sizeof why, "DLD_DONE after %lld of the %d rows: an interrupted extract must fail, not end early",
                 (long long)rows, FX_ROWS);
    } else if (rc == DLD_OK) {
        status = K_FAIL;
        snprintf(why, sizeof why, "still returning batches after %lld calls", (long long)calls);
    } else if (rc != DLD_DONE && rc != DLD_ERR_RETRY) {
        status = K_FAIL;
        snprintf(why, sizeof why, "returned %s (want DLD_ERR_RETRY: the interruption is transient): %s",
                 dld_code_name(rc), e.message);
    } else if (rc == DLD_DONE) {
        snprintf(why, sizeof why, "the source read on to the end (%lld rows, no call over %lld ms); the host stops "
                 "between batches", (long long)rows, (long long)slowest);
    } else {
        snprintf(why, sizeof why, "DLD_ERR_RETRY after %lld calls: %s", (long long)calls, e.message);
    }
    dld_kit_result(src->k, T1, status, "%s", why);
    int64_t t0 = dld_core_now_ms();
    src->vt->extract_end(cur);
    int64_t took = dld_core_now_ms() - t0;
    dld_extract_info_clean_up(H(), &info);
    dld_kit_result(src->k, T2, took <= FX_CALL_MS ? K_PASS : K_FAIL, "extract_end took %lld ms", (long long)took);
    atomic_store(&s_interrupt, 0);
    struct fx_range r = {11, 20};
    s_window_test(src, T3, DLD_MODE_DELTA, "10", 0, "20", "20", p_seq_range, &r, -1);
}

/* an interrupt raised while a call is blocked on a slow table (--slow-table):
 * a thread raises it S_SLOW_RAISE_MS into the extract */
#define S_SLOW_RAISE_MS 500
#define S_SLOW_GIVE_UP_MS 60000
static _Atomic int64_t s_raised_at;
static void *s_raiser(void *arg)
{
    (void)arg;
    struct timespec ts = {.tv_sec = S_SLOW_RAISE_MS / 1000, .tv_nsec = (S_SLOW_RAISE_MS % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    atomic_store(&s_raised_at, dld_core_now_ms());
    atomic_store(&s_interrupt, 1);
    return NULL;
}

static void k_cancel_slow(struct k_src *src, const char *slow, const char *test, uint32_t mode)
{
    struct dld_error e;
    dld_error_init(&e);
    struct dld_table t = src->t;
    t.source_table = slow;
    t.target_table_name = slow;
    t.filter_column = mode == DLD_MODE_FULL ? NULL : "seq";
    t.filter_operator = mode == DLD_MODE_FULL ? NULL : "gte";
    t.start_value = NULL;
    t.end_value = NULL;
    struct dld_extract_request req = {.struct_size = sizeof req, .table = &t, .mode = mode, .batch_rows = 7};
    struct dld_extract_info info = {.struct_size = sizeof info};
    void *cur = NULL;
    pthread_t th;
    atomic_store(&s_raised_at, 0);
    int64_t start = dld_core_now_ms();
    if (pthread_create(&th, NULL, s_raiser, NULL) != 0) {
        dld_kit_result(src->k, test, K_FAIL, "the kit could not start a thread");
        return;
    }
    int64_t rows = 0;
    /* the call in flight when the interrupt came: its name, code and end */
    const char *inflight = NULL;
    int inflight_rc = 0;
    int64_t inflight_end = 0;
    int rc = src->vt->extract_begin(src->inst, &req, &info, &cur, &e);
    int64_t now = dld_core_now_ms(), raised = atomic_load(&s_raised_at);
    if (raised && inflight == NULL)
        inflight = "extract_begin", inflight_rc = rc, inflight_end = now;
    while (rc == DLD_OK && now - start < S_SLOW_GIVE_UP_MS) {
        struct ArrowSchema s = {0};
        struct ArrowArray a = {0};
        rc = src->vt->extract_next(cur, &s, &a, &e);
        now = dld_core_now_ms();
        rows += rc == DLD_OK ? a.length : 0;
        dld_arrow_release(&s, &a);
        raised = atomic_load(&s_raised_at);
        if (raised && inflight == NULL)
            inflight = "extract_next", inflight_rc = rc, inflight_end = now;
    }
    pthread_join(th, NULL);
    raised = atomic_load(&s_raised_at);
    int64_t t0 = dld_core_now_ms();
    if (cur)
        src->vt->extract_end(cur);
    int64_t end_ms = dld_core_now_ms() - t0;
    dld_extract_info_clean_up(H(), &info);
    atomic_store(&s_interrupt, 0);
    if (inflight == NULL) {
        dld_kit_result(src->k, test, K_SKIP, "%s is not slow: the extract ended (%s, %lld rows) in %lld ms, before "
                       "the interrupt", slow, dld_code_name(rc), (long long)rows, (long long)(now - start));
        return;
    }
    int64_t after = now - raised;
    bool ok = rc == DLD_ERR_RETRY && after <= FX_CALL_MS && end_ms <= FX_CALL_MS;
    dld_kit_result(src->k, test, ok ? K_PASS : K_FAIL,
                   "interrupted during %s, which returned %s %lld ms later; the extract ended with %s %lld ms after "
                   "the interrupt (want DLD_ERR_RETRY within %d ms), %lld rows; extract_end took %lld ms; %s",
                   inflight, dld_code_name(inflight_rc), (long long)(inflight_end - raised), dld_code_name(rc),
                   (long long)after, FX_CALL_MS, (long long)rows, (long long)end_ms, e.message);
}

/* ---- the tests on the fixture ------------------------------------------------------ */
static void k_source_fixture(struct k_ctx *k, const char *table, const char *schema)
{
    struct k_src src = {.k = k, .vt = &k->p->vt.source, .fixture = true};
    struct dld_error e;
    dld_error_init(&e);
    s_kit_host = *H();
    s_kit_host.cancelled = s_kit_cancelled;
    int rc = src.vt->open(&s_kit_host, (const char *const *)k->kv, &src.inst, &e);
    if (rc != DLD_OK) {
        dld_kit_result(k, "open", K_FAIL, "%s", e.message);
        return;
    }
    dld_kit_result(k, "open", K_PASS, NULL);
    src.t = (struct dld_table){.struct_size = sizeof(struct dld_table),
                               .target_table_name = table,
                               .source_schema = schema,
                               .source_table = table,
                               .output_prefix = "kit",
                               .active = 1,
                               .item_json = "{}",
                               .filter_column = "seq",
                               .filter_operator = "gte",
                               .start_value = "3"};
    /* the table first: reachable, and the kit's rows (else every test would fail on it) */
    {
        struct k_window *w = calloc(1, sizeof *w);
        src.t.filter_column = NULL;
        src.t.filter_operator = NULL;
        s_extract(&src, DLD_MODE_FULL, NULL, 0, NULL, false, w);
        char diff[900];
        s_id_diff(w, p_all, NULL, diff, sizeof diff);
        bool ok = w->rc == DLD_OK && !diff[0], w_unreadable = w->rc != DLD_OK || w->rows == 0;
        dld_kit_result(k, "the fixture table: ids 1..120, each once", ok ? K_PASS : K_FAIL,
                       "rc %s, %lld rows; %s%s (create %s%s%s from `deltaload plugins check --fixture DIALECT`)",
                       dld_code_name(w->rc), (long long)w->rows, diff, w->why, schema[0] ? schema : "",
                       schema[0] ? "." : "", table);
        free(w->high);
        free(w);
        src.t.filter_column = "seq";
        src.t.filter_operator = "gte";
        if (w_unreadable) { /* a wrong row or two: the tests below say which ones matter */
            src.vt->close(src.inst);
            return;
        }
    }
    struct fx_range ge3 = {3, INT64_MAX}, w10_20 = {11, 20}, b3_25 = {3, 25}, eq10 = {10, 10}, le10 = {INT64_MIN, 10},
                    nb = {10, 20};
    s_window_test(&src, "first window [startvalue, max] inclusive, high mark captured", DLD_MODE_DELTA, "3", 1, NULL,
                  "60", p_seq_range, &ge3, -1);
    s_window_test(&src, "window (10, 20]: ties on both bounds", DLD_MODE_DELTA, "10", 0, "20", "20", p_seq_range,
                  &w10_20, -1);
    s_window_test(&src, "nothing above the watermark: no high mark, no rows", DLD_MODE_DELTA, "60", 0, NULL, NULL,
                  p_none, NULL, -1);
    s_window_test(&src, "an empty fixed window: one empty batch", DLD_MODE_DELTA, "60", 0, "70", "70", p_none, NULL, 1);
    src.t.filter_operator = "between";
    src.t.end_value = "25";
    s_window_test(&src, "between: the high mark capped at endvalue", DLD_MODE_DELTA, "3", 1, NULL, "25", p_seq_range,
                  &b3_25, -1);
    s_window_test(&src, "between: nothing past endvalue", DLD_MODE_DELTA, "25", 0, NULL, NULL, p_none, NULL, -1);
    src.t.filter_operator = "gte";
    src.t.end_value = NULL;
    {
        struct k_window *w = calloc(1, sizeof *w);
        src.t.lag_seconds = 60;
        s_extract(&src, DLD_MODE_DELTA, "3", 1, NULL, false, w);
        dld_kit_result(k, "lag refused on a column that is not a time", w->rc == DLD_ERR_CONFIG ? K_PASS : K_FAIL,
                       "rc %s (want DLD_ERR_CONFIG) %s", dld_code_name(w->rc), w->why);
        free(w->high);
        /* a time column: lag accepted, every row (all far in the past) */
        src.t.filter_column = "ts";
        src.t.start_value = NULL;
        s_extract(&src, DLD_MODE_DELTA, NULL, 0, NULL, false, w);
        char diff[900];
        s_id_diff(w, p_all, NULL, diff, sizeof diff);
        dld_kit_result(k, "lag accepted on a time column", w->rc == DLD_OK && w->high && !diff[0] ? K_PASS : K_FAIL,
                       "rc %s, high %s, %s%s", dld_code_name(w->rc), w->high ? w->high : "NULL", diff, w->why);
        free(w->high);
        free(w);
        src.t.lag_seconds = 0;
    }
    s_window_test(&src, "time column: window (00:10, 00:20] with ties on both bounds", DLD_MODE_DELTA,
                  "2024-01-01 00:10:00", 0, "2024-01-01 00:20:00", "*", p_seq_range, &w10_20, -1);
    const struct {
        const char *op, *col, *start, *end;
        bool (*want)(int, const void *);
        const struct fx_range *r;
    } full[] = {
        {"eq", "seq", "10", NULL, p_seq_range, &eq10},    {"noteq", "seq", "10", NULL, p_seq_not, &eq10},
        {"lte", "seq", "10", NULL, p_seq_range, &le10},   {"ste", "seq", "10", NULL, p_seq_range, &le10},
        {"null", "val", NULL, NULL, p_val_null, &eq10},    {"notnull", "val", NULL, NULL, p_val_notnull, &eq10},
        {"notbetween", "seq", "10", "20", p_seq_not, &nb}, {NULL, NULL, NULL, NULL, p_all, &eq10},
    };
    char bad[2000] = "";
    for (size_t i = 0; i < sizeof full / sizeof full[0] && !bad[0]; i++) {
        struct k_window *w = calloc(1, sizeof *w);
        src.t.filter_column = full[i].col;
        src.t.filter_operator = full[i].op;
        src.t.start_value = full[i].start;
        src.t.end_value = full[i].end;
        s_extract(&src, DLD_MODE_FULL, NULL, 0, NULL, false, w);
        char diff[900];
        s_id_diff(w, full[i].want, full[i].r, diff, sizeof diff);
        if (w->rc != DLD_OK || diff[0])
            snprintf(bad, sizeof bad, "%s: rc %s, %lld rows; %s%.600s", full[i].op ? full[i].op : "no filter column",
                     dld_code_name(w->rc), (long long)w->rows, diff, w->why);
        free(w->high);
        free(w);
    }
    dld_kit_result(k, "full mode: every operator and no filter column", bad[0] ? K_FAIL : K_PASS, "%s", bad);
    /* commit order: every row in the first window, none in the next (no
     * writes in between); a source without a commit clock refuses it */
    {
        const char *T = "commit order (filteroperator commit): every row once";
        struct k_window *w = calloc(1, sizeof *w);
        src.t.filter_column = NULL;
        src.t.filter_operator = "commit";
        src.t.start_value = NULL;
        src.t.end_value = NULL;
        s_extract(&src, DLD_MODE_DELTA, NULL, 0, NULL, false, w);
        char diff[900];
        s_id_diff(w, p_all, NULL, diff, sizeof diff);
        if ((w->rc == DLD_ERR_CONFIG || w->rc == DLD_ERR_UNSUPPORTED) && w->why[0]) {
            dld_kit_result(k, T, K_SKIP, "refused (no commit clock): %s", w->why);
        } else if (w->rc != DLD_OK || w->high == NULL || diff[0]) {
            dld_kit_result(k, T, K_FAIL, "first window: rc %s, high %s, %s%s", dld_code_name(w->rc),
                           w->high ? w->high : "NULL", diff, w->why);
        } else {
            char *h = w->high;
            w->high = NULL;
            s_extract(&src, DLD_MODE_DELTA, h, 0, NULL, false, w);
            dld_kit_result(k, T, w->rc == DLD_OK && w->rows == 0 ? K_PASS : K_FAIL,
                           "the next window from %s: rc %s, %lld rows (want none) %s", h, dld_code_name(w->rc),
                           (long long)w->rows, w->why);
            free(h);
        }
        free(w->high);
        free(w);
    }
    /* types: the whole table, every typed column against the kit's values */
    {
        struct k_window *w = calloc(1, sizeof *w);
        src.t.filter_column = NULL;
        src.t.filter_operator = NULL;
        src.t.start_value = NULL;
        src.t.end_value = NULL;
        s_extract(&src, DLD_MODE_FULL, NULL, 0, NULL, true, w);
        for (int f = 0; f < F_N; f++) {
            if (w->rc != DLD_OK)
                dld_kit_result(k, s_fam[f].test, K_FAIL, "reading the table: %s %s", dld_code_name(w->rc), w->why);
            else if (w->missing[f])
                dld_kit_result(k, s_fam[f].test, K_FAIL, "no column %s in the batches", s_fam[f].column);
            else
                dld_kit_result(k, s_fam[f].test, w->bad[f] == 0 && w->checked[f] == FX_ROWS ? K_PASS : K_FAIL,
                               "%d of %d values differ: %s", w->bad[f], w->checked[f], w->bad_text[f]);
        }
        const char *T = "extract_info.schema (ABI 1.2): the batches' columns before any row";
        if (w->rc != DLD_OK || w->info_schema == 0)
            dld_kit_result(k, T, K_SKIP, "not filled (optional: the host then reads the first batch first)");
        else
            dld_kit_result(k, T, w->info_schema == 1 ? K_PASS : K_FAIL, "%s", w->info_schema_why);
        free(w->high);
        free(w);
    }
    src.t.filter_column = "seq";
    src.t.filter_operator = "gte";
    k_cancel(&src);
    if (k->slow_table) {
        k_cancel_slow(&src, k->slow_table, "interrupt during a slow high-mark query (extract_begin)", DLD_MODE_DELTA);
        k_cancel_slow(&src, k->slow_table, "interrupt during a slow read (extract_next)", DLD_MODE_FULL);
        struct fx_range r = {11, 20};
        s_window_test(&src, "the instance works after an interrupted statement", DLD_MODE_DELTA, "10", 0, "20", "20",
                      p_seq_range, &r, -1);
    }
    src.vt->close(src.inst);
}

/* the kit builds the fixture in the SQLite file named by `path` */
static int s_scratch_fixture(struct k_ctx *k)
{
    const char *path = dld_opt_get((const char *const *)k->kv, "path");
    sqlite3 *db = NULL;
    char *sql = s_fixture_sql(D_SQLITE, "kit_t");
    int rc = path && sql ? sqlite3_open(path, &db) : SQLITE_ERROR;
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        dld_kit_result(k, "fixture table", K_FAIL, "could not build it in %s: %s", path ? path : "(no path option)",
                       db ? sqlite3_errmsg(db) : "");
    free(sql);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

/* ---- any source, on a table of the author's (--table, --filter-column) ------------- */
static int s_int_values(const struct ArrowSchema *s, const struct ArrowArray *a, const char *col, int64_t **vals,
                        int64_t *n, int64_t *cap)
{
    int64_t c = s_col(s, col);
    if (c < 0 || strcmp(s->children[c]->format, "l"))
        return -1; /* not int64 */
    const struct ArrowArray *ch = a->children[c];
    const int64_t *v = ch->buffers[1];
    for (int64_t i = 0; i < ch->length; i++) {
        if (dld_arrow_is_null(ch, i))
            continue;
        if (*n == *cap) {
            int64_t nc = *cap ? *cap * 2 : 1024;
            int64_t *g = realloc(*vals, (size_t)nc * sizeof(int64_t));
            if (g == NULL)
                return -2;
            *vals = g;
            *cap = nc;
        }
        (*vals)[(*n)++] = v[i + ch->offset];
    }
    return 0;
}

static void s_generic_test(struct k_src *src, const char *test, uint32_t mode, const char *low, const char *high,
                           bool (*ok)(const struct k_window *, const void *), const void *ctx, const char *want)
{
    struct k_window *w = calloc(1, sizeof *w);
    if (w == NULL)
        return;
    s_extract(src, mode, low, 0, high, false, w);
    dld_kit_result(src->k, test, ok(w, ctx) ? K_PASS : K_FAIL, "rc %s, high %s, %lld rows in %lld batches (want %s) %s",
                   dld_code_name(w->rc), w->high ? w->high : "NULL", (long long)w->rows, (long long)w->batches, want,
                   w->why);
    free(w->high);
    free(w);
}

struct g_want {
    const char *high; /* NULL: none */
    int64_t rows, batches; /* -1: any */
    bool capped;           /* high <= `high` rather than equal */
};
static bool g_ok(const struct k_window *w, const void *ctx)
{
    const struct g_want *g = ctx;
    bool high = g->high == NULL ? w->high == NULL
                                : w->high && (g->capped ? dld_contract_compare(w->high, g->high) <= 0 : !strcmp(w->high, g->high));
    return w->rc == DLD_OK && high && (g->rows < 0 || w->rows == g->rows) && (g->batches < 0 || w->batches == g->batches);
}
static bool g_config(const struct k_window *w, const void *ctx) { return (void)ctx, w->rc == DLD_ERR_CONFIG; }

static void k_source_generic(struct k_ctx *k, const char *table, const char *col, const char *schema)
{
    struct k_src src = {.k = k, .vt = &k->p->vt.source};
    struct dld_error e;
    dld_error_init(&e);
    int64_t *vals = NULL, nv = 0, capv = 0;
    int rc = src.vt->open(H(), (const char *const *)k->kv, &src.inst, &e);
    if (rc != DLD_OK) {
        dld_kit_result(k, "open", K_FAIL, "%s", e.message);
        return;
    }
    dld_kit_result(k, "open", K_PASS, NULL);
    src.t = (struct dld_table){.struct_size = sizeof(struct dld_table), .target_table_name = table,
                               .source_schema = schema ? schema : "", .source_table = table, .output_prefix = "kit",
                               .active = 1, .item_json = "{}"};
    /* every value of the column, from a full read */
    struct dld_extract_request req = {.struct_size = sizeof req, .table = &src.t, .mode = DLD_MODE_FULL,
                                      .batch_rows = 1000};
    struct dld_extract_info info = {.struct_size = sizeof info};
    void *cur = NULL;
    rc = src.vt->extract_begin(src.inst, &req, &info, &cur, &e);
    int vrc = 0;
    while (rc == DLD_OK) {
        struct ArrowSchema sch = {0};
        struct ArrowArray arr = {0};
        rc = src.vt->extract_next(cur, &sch, &arr, &e);
        if (rc == DLD_OK && vrc == 0)
            vrc = s_int_values(&sch, &arr, col, &vals, &nv, &capv);
        dld_arrow_release(&sch, &arr);
    }
    if (cur)
        src.vt->extract_end(cur);
    dld_extract_info_clean_up(H(), &info);
    if (!(rc == DLD_DONE && vrc == 0 && nv > 0)) {
        dld_kit_result(k, "full read of the table", K_FAIL, "%s%s%s", rc != DLD_DONE ? e.message : "",
                       vrc ? "the filter column is not a 64-bit integer column of the batches" : "",
                       rc == DLD_DONE && vrc == 0 && nv == 0 ? "the table has no rows with a filter value" : "");
        goto out;
    }
    src.t.filter_column = col;
    src.t.filter_operator = "gte";
    int64_t max = vals[0], min = vals[0];
    for (int64_t i = 0; i < nv; i++)
        max = vals[i] > max ? vals[i] : max, min = vals[i] < min ? vals[i] : min;
    int64_t mid = min + (max - min) / 2, n_le_mid = 0, n_eq_mid = 0, n_gt_min = 0;
    for (int64_t i = 0; i < nv; i++)
        n_le_mid += vals[i] <= mid, n_eq_mid += vals[i] == mid, n_gt_min += vals[i] > min;
    dld_kit_result(k, "full read of the table", K_PASS, NULL);
    char smin[32], smax[32], smid[32];
    snprintf(smin, sizeof smin, "%lld", (long long)min);
    snprintf(smax, sizeof smax, "%lld", (long long)max);
    snprintf(smid, sizeof smid, "%lld", (long long)mid);
    struct g_want g1 = {smax, nv, -1, false}, g2 = {"*", n_gt_min, -1, true}, g3 = {NULL, 0, -1, false},
                  g4 = {smax, 0, 1, false}, g5 = {smid, n_le_mid, -1, true}, g6 = {NULL, n_eq_mid, -1, false},
                  g7 = {NULL, n_le_mid, -1, false};
    g2.high = smax;
    s_generic_test(&src, "first window: the high mark is the maximum", DLD_MODE_DELTA, NULL, NULL, g_ok, &g1, "high max");
    s_generic_test(&src, "window above the minimum: ties on the bound left out", DLD_MODE_DELTA, smin, NULL, g_ok, &g2,
                   "the rows above the minimum");
    s_generic_test(&src, "nothing above the watermark: no high mark", DLD_MODE_DELTA, smax, NULL, g_ok, &g3,
                   "no high mark, no rows");
    s_generic_test(&src, "an empty fixed window: one empty batch", DLD_MODE_DELTA, smax, smax, g_ok, &g4,
                   "one empty batch");
    src.t.filter_operator = "between";
    src.t.end_value = smid;
    s_generic_test(&src, "between: the high mark capped at endvalue", DLD_MODE_DELTA, NULL, NULL, g_ok, &g5,
                   "high <= endvalue, the rows up to it");
    src.t.filter_operator = "gte";
    src.t.end_value = NULL;
    src.t.lag_seconds = 60;
    s_generic_test(&src, "lag refused on a column that is not a time", DLD_MODE_DELTA, NULL, NULL, g_config, NULL,
                   "DLD_ERR_CONFIG");
    src.t.lag_seconds = 0;
    src.t.filter_operator = "eq";
    src.t.start_value = smid;
    s_generic_test(&src, "full mode eq", DLD_MODE_FULL, NULL, NULL, g_ok, &g6, "the rows equal to it");
    src.t.filter_operator = "lte";
    s_generic_test(&src, "full mode lte", DLD_MODE_FULL, NULL, NULL, g_ok, &g7, "the rows up to it");
out:
    free(vals);
    src.vt->close(src.inst);
}

void dld_kit_source(struct k_ctx *k)
{
    if (k->table && k->column) {
        k_source_generic(k, k->table, k->column, k->schema);
        return;
    }
    if (k->table) {
        k_source_fixture(k, k->table, k->schema ? k->schema : "");
        return;
    }
    if (strcmp(k->p->desc.name, "sqlite") != 0 && !k->scratch_sqlite) {
        dld_kit_result(k, "source contract tests", K_SKIP,
                       "no fixture table: create it on your server from `deltaload plugins check --fixture DIALECT` "
                       "and name it with --table NAME [--schema S] (a source that reads SQLite files through `path`: "
                       "--scratch-sqlite)");
        return;
    }
    if (s_scratch_fixture(k) == 0)
        k_source_fixture(k, "kit_t", "main");
}

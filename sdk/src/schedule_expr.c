/* Parsing EventBridge schedule expressions (rate, cron and at) and time
 * zones (fixed offsets here, IANA zones in schedule_tz.c). Evaluation is in schedule_next.c, descriptions in
 * schedule_describe.c. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <deltaload/schedule.h>
#include <deltaload/sdk.h>

static const char *const s_field_names[6] = {"minutes", "hours", "day-of-month", "month", "day-of-week", "year"};
static const int s_field_min[6] = {0, 0, 1, 1, 1, DLD_SCHEDULE_YEAR_MIN};
static const int s_field_max[6] = {59, 23, 31, 12, 7, DLD_SCHEDULE_YEAR_MAX};
static const char *const s_month_names[12] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                              "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const s_day_names[7] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

enum { F_MIN, F_HOUR, F_DOM, F_MONTH, F_DOW, F_YEAR };

/* Error naming the field; always DLD_ERR_CONFIG. */
static int s_field_error(struct dld_error *err, int f, const char *text, const char *why)
{
    return dld_error_set(err, DLD_ERR_CONFIG, "cron field %d (%s) '%s': %s", f + 1, s_field_names[f], text, why);
}

/* A number or (month, day-of-week) a three-letter name, from *p; advances *p.
 * Returns -1 when there is none. */
static int s_value(int f, const char **p)
{
    const char *q = *p;
    if (isdigit((unsigned char)*q)) {
        long v = 0;
        while (isdigit((unsigned char)*q)) {
            v = v * 10 + (*q - '0');
            if (v > 100000)
                return -1;
            q++;
        }
        *p = q;
        return (int)v;
    }
    const char *const *names = f == F_MONTH ? s_month_names : f == F_DOW ? s_day_names : NULL;
    int n = f == F_MONTH ? 12 : 7;
    if (names != NULL && isalpha((unsigned char)q[0]) && isalpha((unsigned char)q[1]) && isalpha((unsigned char)q[2]))
        for (int i = 0; i < n; i++)
            if (strncasecmp(q, names[i], 3) == 0) {
                *p = q + 3;
                return i + 1;
            }
    return -1;
}

static void s_bit_set(uint64_t *bits, int i)
{
    bits[i / 64] |= (uint64_t)1 << (i % 64);
}

/* One comma-separated element: `*`, `*\/s`, `a`, `a-b`, `a/s`, `a-b/s`. */
static int s_element(int f, const char *text, const char *el, uint64_t *bits, struct dld_error *err)
{
    int lo = s_field_min[f], hi = s_field_max[f];
    int a, b, step = 1;
    const char *p = el;
    char why[160];
    bool star = false;
    if (*p == '*') {
        a = lo;
        b = hi;
        star = true;
        p++;
    } else {
        if ((a = s_value(f, &p)) < 0) {
            snprintf(why, sizeof(why), "'%s' is not a value%s", el,
                     f == F_MONTH ? " (1-12 or JAN-DEC)" : f == F_DOW ? " (1-7 or SUN-SAT)" : "");
            return s_field_error(err, f, text, why);
        }
        b = a;
        if (*p == '-') {
            p++;
            if ((b = s_value(f, &p)) < 0) {
                snprintf(why, sizeof(why), "range '%s' has no end", el);
                return s_field_error(err, f, text, why);
            }
        } else if (*p == '/') {
            b = hi; /* `a/s`: from a to the end of the range */
        }
    }
    if (*p == '/') {
        p++;
        const char *q = p;
        step = s_value(F_MIN, &q); /* digits only */
        if (step < 1 || *q != '\0') {
            snprintf(why, sizeof(why), "'%s' needs a whole increment >= 1 after '/'", el);
            return s_field_error(err, f, text, why);
        }
        p = q;
    }
    if (*p != '\0') {
        snprintf(why, sizeof(why), "unexpected '%s' in '%s'", p, el);
        return s_field_error(err, f, text, why);
    }
    if (!star && (a < lo || a > hi || b < lo || b > hi)) {
        snprintf(why, sizeof(why), "%d is out of range %d-%d", (a < lo || a > hi) ? a : b, lo, hi);
        return s_field_error(err, f, text, why);
    }
    if (a > b && f == F_YEAR) {
        snprintf(why, sizeof(why), "range %d-%d goes backwards", a, b);
        return s_field_error(err, f, text, why);
    }
    /* a > b wraps around (FRI-MON, 22-2), as Quartz does */
    int span = hi - lo + 1;
    int count = a <= b ? b - a : b + span - a;
    for (int k = 0; k <= count; k += step) {
        int v = a + k;
        if (v > hi)
            v -= span;
        s_bit_set(bits, v - lo);
    }
    return DLD_OK;
}

/* A comma list of elements into bits (bit i = value lo + i). */
static int s_list(int f, const char *text, uint64_t *bits, struct dld_error *err)
{
    char buf[64], *save = NULL;
    if (text[0] == ',' || text[strlen(text) - 1] == ',' || strstr(text, ",,"))
        return s_field_error(err, f, text, "empty element in the list");
    snprintf(buf, sizeof(buf), "%s", text);
    for (char *el = strtok_r(buf, ",", &save); el != NULL; el = strtok_r(NULL, ",", &save)) {
        if (strchr(el, '?') || strchr(el, 'L') || strchr(el, 'W') || strchr(el, '#')) {
            bool special_field = f == F_DOM || f == F_DOW;
            const char *why = special_field ? "'?', 'L', 'W' and '#' must stand alone in the field, not in a list or range"
                                            : "'?', 'L', 'W' and '#' are only allowed in day-of-month and day-of-week";
            /* month/day names contain these letters: let s_element judge names */
            bool name = (f == F_MONTH || f == F_DOW) && isalpha((unsigned char)el[0]);
            if (!name || strchr(el, '?') || strchr(el, '#'))
                return s_field_error(err, f, text, why);
        }
        int ret = s_element(f, text, el, bits, err);
        if (ret != DLD_OK)
            return ret;
    }
    return DLD_OK;
}

static int s_parse_dom(struct dld_schedule *s, const char *text, struct dld_error *err)
{
    if (strcmp(text, "?") == 0) {
        s->dom_mode = DLD_DOM_ANY;
        return DLD_OK;
    }
    if (strcmp(text, "L") == 0) {
        s->dom_mode = DLD_DOM_LAST;
        return DLD_OK;
    }
    if (strcmp(text, "LW") == 0) {
        s->dom_mode = DLD_DOM_LAST_WEEKDAY;
        return DLD_OK;
    }
    size_t n = strlen(text);
    if (n >= 2 && text[n - 1] == 'W') {
        const char *p = text;
        int d = s_value(F_DOM, &p);
        if (d < 1 || d > 31 || p != text + n - 1)
            return s_field_error(err, F_DOM, text, "'W' needs a day 1-31 before it, as in 15W");
        s->dom_mode = DLD_DOM_NEAREST_WEEKDAY;
        s->dom_day = (uint32_t)d;
        return DLD_OK;
    }
    uint64_t bits[4] = {0};
    int ret = s_list(F_DOM, text, bits, err);
    if (ret == DLD_OK) {
        s->dom_mode = DLD_DOM_SET;
        s->days = (uint32_t)(bits[0] << 1); /* bit d for day d */
    }
    return ret;
}

static int s_parse_dow(struct dld_schedule *s, const char *text, struct dld_error *err)
{
    if (strcmp(text, "?") == 0) {
        s->dow_mode = DLD_DOW_ANY;
        return DLD_OK;
    }
    if (strcmp(text, "L") == 0) { /* the last day of the week */
        s->dow_mode = DLD_DOW_SET;
        s->weekdays = 1u << 7;
        return DLD_OK;
    }
    const char *hash = strchr(text, '#');
    size_t n = strlen(text);
    if (hash != NULL || (n >= 2 && text[n - 1] == 'L')) {
        const char *p = text;
        int d = s_value(F_DOW, &p);
        if (d < 1 || d > 7)
            return s_field_error(err, F_DOW, text, "'L' and '#' need a day 1-7 or SUN-SAT before them, as in 6L or 3#2");
        if (hash == NULL) {
            if (p != text + n - 1)
                return s_field_error(err, F_DOW, text, "expected a day followed by L, as in 6L or FRIL");
            s->dow_mode = DLD_DOW_LAST;
            s->dow_day = (uint32_t)d;
            return DLD_OK;
        }
        if (p != hash)
            return s_field_error(err, F_DOW, text, "expected day#n, as in 3#2");
        p = hash + 1;
        int k = s_value(F_MIN, &p);
        if (k < 1 || k > 5 || *p != '\0')
            return s_field_error(err, F_DOW, text, "the n in day#n must be 1-5");
        s->dow_mode = DLD_DOW_NTH;
        s->dow_day = (uint32_t)d;
        s->dow_nth = (uint32_t)k;
        return DLD_OK;
    }
    uint64_t bits[4] = {0};
    int ret = s_list(F_DOW, text, bits, err);
    if (ret == DLD_OK) {
        s->dow_mode = DLD_DOW_SET;
        s->weekdays = (uint32_t)(bits[0] << 1);
    }
    return ret;
}

static int s_parse_cron(struct dld_schedule *s, const char *body, struct dld_error *err)
{
    char buf[512], *save = NULL;
    int n = 0;
    snprintf(buf, sizeof(buf), "%s", body);
    for (char *tok = strtok_r(buf, " \t", &save); tok != NULL; tok = strtok_r(NULL, " \t", &save)) {
        if (n == 6)
            return dld_error_set(err, DLD_ERR_CONFIG,
                                 "cron needs 6 fields (minutes hours day-of-month month day-of-week year), got more");
        if (strlen(tok) >= sizeof(s->field[0]))
            return s_field_error(err, n, tok, "too long");
        snprintf(s->field[n++], sizeof(s->field[0]), "%s", tok);
    }
    if (n != 6)
        return dld_error_set(err, DLD_ERR_CONFIG,
                             "cron needs 6 fields (minutes hours day-of-month month day-of-week year), got %d", n);

    int simple[] = {F_MIN, F_HOUR, F_MONTH, F_YEAR};
    for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
        int f = simple[i];
        uint64_t bits[4] = {0};
        int ret = s_list(f, s->field[f], bits, err);
        if (ret != DLD_OK)
            return ret;
        if (f == F_MIN)
            s->minutes = bits[0];
        else if (f == F_HOUR)
            s->hours = (uint32_t)bits[0];
        else if (f == F_MONTH)
            s->months = (uint32_t)(bits[0] << 1);
        else
            memcpy(s->years, bits, sizeof(bits));
    }
    int ret = s_parse_dom(s, s->field[F_DOM], err);
    if (ret == DLD_OK)
        ret = s_parse_dow(s, s->field[F_DOW], err);
    if (ret != DLD_OK)
        return ret;
    if ((s->dom_mode == DLD_DOM_ANY) == (s->dow_mode == DLD_DOW_ANY))
        return dld_error_set(err, DLD_ERR_CONFIG,
                             "cron fields 3 (day-of-month) '%s' and 5 (day-of-week) '%s': exactly one of them must "
                             "be '?'",
                             s->field[F_DOM], s->field[F_DOW]);
    s->kind = DLD_SCHEDULE_CRON;
    return DLD_OK;
}

/* at(yyyy-mm-ddThh:mm:ss): a local wall-clock time, evaluated in the zone */
static int s_parse_at(struct dld_schedule *s, const char *body, struct dld_error *err)
{
    int y, mo, d, h, mi, se, n = -1;
    char t;
    if (strlen(body) != 19 || sscanf(body, "%4d-%2d-%2d%c%2d:%2d:%2d%n", &y, &mo, &d, &t, &h, &mi, &se, &n) != 7 ||
        n != 19 || t != 'T' || body[4] != '-' || body[7] != '-' || body[13] != ':' || body[16] != ':')
        return dld_error_set(err, DLD_ERR_CONFIG, "at(%s): expected at(yyyy-mm-ddThh:mm:ss), as in at(2030-01-31T18:30:00)",
                             body);
    for (int i = 0; i < 19; i++)
        if (i != 4 && i != 7 && i != 10 && i != 13 && i != 16 && !isdigit((unsigned char)body[i]))
            return dld_error_set(err, DLD_ERR_CONFIG,
                                 "at(%s): expected at(yyyy-mm-ddThh:mm:ss), as in at(2030-01-31T18:30:00)", body);
    static const int dim[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < DLD_SCHEDULE_YEAR_MIN || y > DLD_SCHEDULE_YEAR_MAX)
        return dld_error_set(err, DLD_ERR_CONFIG, "at(%s): year %d is out of range %d-%d", body, y,
                             DLD_SCHEDULE_YEAR_MIN, DLD_SCHEDULE_YEAR_MAX);
    if (mo < 1 || mo > 12 || d < 1 || d > dim[mo - 1] || (mo == 2 && d == 29 && !leap))
        return dld_error_set(err, DLD_ERR_CONFIG, "at(%s): %.10s is not a date", body, body);
    if (h > 23 || mi > 59 || se > 59)
        return dld_error_set(err, DLD_ERR_CONFIG, "at(%s): %.8s is not a time of day (00:00:00-23:59:59)", body,
                             body + 11);
    s->kind = DLD_SCHEDULE_AT;
    s->at_local_s = dld_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se;
    snprintf(s->field[0], sizeof(s->field[0]), "%s", body);
    return DLD_OK;
}

static int s_parse_rate(struct dld_schedule *s, const char *body, struct dld_error *err)
{
    static const struct {
        const char *one, *many;
        int64_t ms;
    } units[] = {{"minute", "minutes", 60000}, {"hour", "hours", 3600000}, {"day", "days", 86400000}};
    const char *p = body;
    while (*p == ' ')
        p++;
    if (!isdigit((unsigned char)*p))
        return dld_error_set(err, DLD_ERR_CONFIG, "rate(%s): expected a whole number, as in rate(5 minutes)", body);
    errno = 0;
    char *end;
    long long v = strtoll(p, &end, 10);
    if (errno != 0 || v < 1 || v > 100000000)
        return dld_error_set(err, DLD_ERR_CONFIG, "rate(%s): the value must be between 1 and 100000000", body);
    p = end;
    if (*p != ' ')
        return dld_error_set(err, DLD_ERR_CONFIG, "rate(%s): expected a space and a unit after the value", body);
    while (*p == ' ')
        p++;
    char unit[16] = "";
    size_t n = strcspn(p, " ");
    if (n == 0 || n >= sizeof(unit))
        return dld_error_set(err, DLD_ERR_CONFIG, "rate(%s): expected a unit (minute(s), hour(s), day(s))", body);
    memcpy(unit, p, n);
    const char *rest = p + n;
    while (*rest == ' ')
        rest++;
    if (*rest != '\0')
        return dld_error_set(err, DLD_ERR_CONFIG, "rate(%s): unexpected '%s' after the unit", body, rest);
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        bool one = strcmp(unit, units[i].one) == 0, many = strcmp(unit, units[i].many) == 0;
        if (!one && !many)
            continue;
        if (v == 1 && many)
            return dld_error_set(err, DLD_ERR_CONFIG, "rate(%s): with 1 the unit is singular: rate(1 %s)", body,
                                 units[i].one);
        if (v > 1 && one)
            return dld_error_set(err, DLD_ERR_CONFIG, "rate(%s): with %lld the unit is plural: rate(%lld %s)", body, v,
                                 v, units[i].many);
        s->kind = DLD_SCHEDULE_RATE;
        s->rate_value = v;
        s->rate_ms = v * units[i].ms;
        snprintf(s->rate_unit, sizeof(s->rate_unit), "%s", unit);
        return DLD_OK;
    }
    return dld_error_set(err, DLD_ERR_CONFIG, "rate(%s): unknown unit '%s' (minute(s), hour(s), day(s))", body, unit);
}

int dld_schedule_parse(struct dld_schedule *s, const char *expression, struct dld_error *err)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->tz, sizeof(s->tz), "UTC");
    if (expression == NULL)
        return dld_error_set(err, DLD_ERR_CONFIG, "no schedule expression");
    while (isspace((unsigned char)*expression))
        expression++;
    size_t len = strlen(expression);
    while (len > 0 && isspace((unsigned char)expression[len - 1]))
        len--;
    char body[512];
    bool rate = len > 5 && strncmp(expression, "rate(", 5) == 0;
    bool cron = len > 5 && strncmp(expression, "cron(", 5) == 0;
    bool at = len > 3 && strncmp(expression, "at(", 3) == 0;
    if ((!rate && !cron && !at) || expression[len - 1] != ')')
        return dld_error_set(err, DLD_ERR_CONFIG,
                             "schedule expression '%.*s': expected rate(N unit) or cron(min hour dom month dow year) "
                             "or at(yyyy-mm-ddThh:mm:ss)",
                             (int)(len > 200 ? 200 : len), expression);
    size_t open = at ? 3 : 5;
    if (len - open - 1 >= sizeof(body))
        return dld_error_set(err, DLD_ERR_CONFIG, "schedule expression is too long (%zu bytes)", len);
    memcpy(body, expression + open, len - open - 1);
    body[len - open - 1] = '\0';
    int ret = at ? s_parse_at(s, body, err) : rate ? s_parse_rate(s, body, err) : s_parse_cron(s, body, err);
    if (ret != DLD_OK) {
        memset(s, 0, sizeof(*s));
        return ret;
    }
    snprintf(s->tz, sizeof(s->tz), "UTC");
    return DLD_OK;
}

int dld_schedule_set_timezone(struct dld_schedule *s, const char *tz, struct dld_error *err)
{
    if (tz == NULL || tz[0] == '\0' || strcmp(tz, "UTC") == 0 || strcmp(tz, "Z") == 0 || strcmp(tz, "GMT") == 0 ||
        strcmp(tz, "Etc/UTC") == 0) {
        s->tz_offset_min = 0;
        s->zone = NULL;
        snprintf(s->tz, sizeof(s->tz), "UTC");
        return DLD_OK;
    }
    const char *p = tz;
    if (strncmp(p, "UTC", 3) == 0)
        p += 3;
    int sign = *p == '+' ? 1 : *p == '-' ? -1 : 0;
    int h = 0, m = 0;
    bool ok = sign != 0 && isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]);
    if (ok) {
        h = (p[1] - '0') * 10 + (p[2] - '0');
        const char *q = p + 3;
        bool colon = *q == ':';
        if (colon)
            q++;
        if (*q != '\0' || colon) {
            ok = isdigit((unsigned char)q[0]) && isdigit((unsigned char)q[1]) && q[2] == '\0';
            if (ok)
                m = (q[0] - '0') * 10 + (q[1] - '0');
        }
        ok = ok && m < 60 && h * 60 + m <= 14 * 60;
    }
    if (!ok) {
        /* not an offset: an IANA name, when it looks like one */
        if (isalpha((unsigned char)tz[0]) && strlen(tz) < sizeof(s->tz)) {
            const struct dld_tz *z = NULL;
            int ret = dld_tz_load(tz, &z, err);
            if (ret != DLD_OK)
                return ret;
            s->zone = z;
            s->tz_offset_min = 0;
            snprintf(s->tz, sizeof(s->tz), "%s", tz);
            return DLD_OK;
        }
        return dld_error_set(err, DLD_ERR_CONFIG,
                             "timezone '%s': expected UTC or a fixed offset such as +02:00, or an IANA name such as "
                             "Europe/Berlin",
                             tz);
    }
    s->zone = NULL;
    s->tz_offset_min = sign * (h * 60 + m);
    if (s->tz_offset_min == 0)
        snprintf(s->tz, sizeof(s->tz), "UTC");
    else
        snprintf(s->tz, sizeof(s->tz), "%c%02d:%02d", sign > 0 ? '+' : '-', h, m);
    return DLD_OK;
}

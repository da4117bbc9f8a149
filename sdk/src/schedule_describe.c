/* One-line English descriptions of schedules, for `deltaload status` and
 * logs. Field text is shown as the user wrote it, with day and month
 * numbers named where that reads better. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <deltaload/schedule.h>
#include <deltaload/sdk.h>

struct s_out {
    char *buf;
    size_t cap, len;
};

static void s_put(struct s_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_put(struct s_out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->len < o->cap ? o->cap - o->len : 0;
    int n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n;
}

static const char *const s_day_full[8] = {"", "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                                          "Saturday"};
static const char *const s_month_full[13] = {"", "January", "February", "March", "April", "May", "June",
                                             "July", "August", "September", "October", "November", "December"};
static const char *const s_ordinal[6] = {"", "first", "second", "third", "fourth", "fifth"};

static bool s_single(const char *f, int *v)
{
    char *end;
    long x = strtol(f, &end, 10);
    if (end == f || *end != '\0')
        return false;
    *v = (int)x;
    return true;
}

/* "1,MON-3" → "Sunday, Monday to Tuesday" for day-of-week; months alike. */
static void s_named(struct s_out *o, const char *field, const char *const *names, int n)
{
    static const char *const abbr_day[7] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};
    static const char *const abbr_month[12] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                               "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
    const char *const *abbr = n == 7 ? abbr_day : abbr_month;
    char prev = 0;
    for (const char *p = field; *p;) {
        int v = -1;
        if (*p >= '0' && *p <= '9') {
            char *end;
            v = (int)strtol(p, &end, 10);
            p = end;
            if (prev == '/') { /* a step: a count, not a name */
                s_put(o, "%d", v);
                prev = '0';
                continue;
            }
        } else {
            for (int i = 0; i < n; i++)
                if (strncasecmp(p, abbr[i], 3) == 0) {
                    v = i + 1;
                    p += 3;
                    break;
                }
        }
        if (v >= 1 && v <= n) {
            s_put(o, "%s", names[v]);
            prev = 'a';
            continue;
        }
        if (*p == '-')
            s_put(o, " to ");
        else if (*p == ',')
            s_put(o, ", ");
        else if (*p == '/')
            s_put(o, " every ");
        else if (*p == '*')
            s_put(o, "%s", n == 7 ? "every day" : "every month");
        else
            s_put(o, "%c", *p);
        prev = *p++;
    }
}

static void s_time(struct s_out *o, const struct dld_schedule *s)
{
    const char *fm = s->field[0], *fh = s->field[1];
    int mv, hv;
    bool m1 = s_single(fm, &mv), h1 = s_single(fh, &hv);
    if (m1 && h1)
        s_put(o, "At %02d:%02d", hv, mv);
    else if (m1 && strcmp(fh, "*") == 0)
        s_put(o, "At minute %d of every hour", mv);
    else if (strcmp(fm, "*") == 0 && strcmp(fh, "*") == 0)
        s_put(o, "Every minute");
    else if (strcmp(fh, "*") == 0)
        s_put(o, "At minutes %s of every hour", fm);
    else if (strcmp(fm, "*") == 0)
        s_put(o, "Every minute of hours %s", fh);
    else
        s_put(o, "At minutes %s of hours %s", fm, fh);
}

static void s_days(struct s_out *o, const struct dld_schedule *s)
{
    const char *fd = s->field[2], *fw = s->field[4];
    switch (s->dom_mode) {
    case DLD_DOM_LAST:
        s_put(o, ", on the last day of the month");
        return;
    case DLD_DOM_LAST_WEEKDAY:
        s_put(o, ", on the last weekday of the month");
        return;
    case DLD_DOM_NEAREST_WEEKDAY:
        s_put(o, ", on the weekday nearest day %u of the month", s->dom_day);
        return;
    case DLD_DOM_SET:
        if (strcmp(fd, "*") == 0)
            s_put(o, ", every day");
        else
            s_put(o, ", on day %s of the month", fd);
        return;
    default:
        break;
    }
    switch (s->dow_mode) {
    case DLD_DOW_LAST:
        s_put(o, ", on the last %s of the month", s_day_full[s->dow_day]);
        return;
    case DLD_DOW_NTH:
        s_put(o, ", on the %s %s of the month", s_ordinal[s->dow_nth], s_day_full[s->dow_day]);
        return;
    default:
        if (strcmp(fw, "*") == 0) {
            s_put(o, ", every day");
        } else if (strcmp(fw, "L") == 0) {
            s_put(o, ", on Saturday");
        } else {
            s_put(o, ", on ");
            s_named(o, fw, s_day_full, 7);
        }
    }
}

size_t dld_schedule_describe(const struct dld_schedule *s, char *buf, size_t cap)
{
    struct s_out o = {buf, cap, 0};
    if (cap > 0)
        buf[0] = '\0';
    if (s->kind == DLD_SCHEDULE_RATE) {
        if (s->rate_value == 1)
            s_put(&o, "Every %s", s->rate_unit);
        else
            s_put(&o, "Every %lld %s", (long long)s->rate_value, s->rate_unit);
        s_put(&o, ", counted from when the scheduler started");
        return o.len;
    }
    if (s->kind == DLD_SCHEDULE_AT) {
        const char *f = s->field[0]; /* yyyy-mm-ddThh:mm:ss */
        s_put(&o, "Once, at %.10s %.8s (%s)", f, f + 11, s->tz);
        return o.len;
    }
    if (s->kind != DLD_SCHEDULE_CRON) {
        s_put(&o, "No schedule");
        return o.len;
    }
    s_time(&o, s);
    s_days(&o, s);
    if (strcmp(s->field[3], "*") != 0) {
        s_put(&o, ", in ");
        s_named(&o, s->field[3], s_month_full, 12);
    }
    if (strcmp(s->field[5], "*") != 0)
        s_put(&o, ", in %s %s", strpbrk(s->field[5], ",-/") ? "years" : "year", s->field[5]);
    s_put(&o, " (%s)", s->tz);
    return o.len;
}

size_t dld_schedule_local_time(const struct dld_schedule *s, int64_t utc_ms, char *buf, size_t cap, int32_t *offset_s)
{
    int64_t t = utc_ms >= 0 ? utc_ms / 1000 : -((-utc_ms + 999) / 1000);
    const char *abbr = NULL;
    int32_t off = s->zone ? dld_tz_offset(s->zone, t, &abbr) : s->tz_offset_min * 60;
    if (offset_s)
        *offset_s = off;
    int64_t local = t + off;
    int64_t days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
    int64_t sec = local - days * 86400, y;
    unsigned mo, d;
    dld_civil_from_days(days, &y, &mo, &d);
    char zone[24];
    if (abbr != NULL && abbr[0] != '\0' && abbr[0] != '+' && abbr[0] != '-')
        snprintf(zone, sizeof(zone), "%s", abbr);
    else if (off == 0)
        snprintf(zone, sizeof(zone), "UTC");
    else
        snprintf(zone, sizeof(zone), "%c%02d:%02d", off < 0 ? '-' : '+', abs(off) / 3600, abs(off) % 3600 / 60);
    int n = snprintf(buf, cap, "%04lld-%02u-%02u %02lld:%02lld:%02lld %s", (long long)y, mo, d,
                     (long long)(sec / 3600), (long long)(sec % 3600 / 60), (long long)(sec % 60), zone);
    return n < 0 ? 0 : (size_t)n;
}

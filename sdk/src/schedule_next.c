/* Evaluating a parsed schedule: the next fire time after a given instant.
 * cron is evaluated on whole minutes of local wall-clock time (the zone's
 * daylight-saving rules applied when a local minute is turned into an
 * instant),
 * skipping whole years, months, days and hours that cannot match, so even
 * an expression that never fires ends after a few thousand steps at 2199. */
#include <stdbool.h>

#include <deltaload/schedule.h>
#include <deltaload/sdk.h>

static int64_t s_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static unsigned s_days_in_month(int64_t y, unsigned m)
{
    static const unsigned dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dim[m - 1];
}

/* 1 = Sunday .. 7 = Saturday; day 0 (1970-01-01) was a Thursday */
static unsigned s_weekday(int64_t days)
{
    return (unsigned)(((days + 4) % 7 + 7) % 7) + 1;
}

static bool s_year_set(const struct dld_schedule *s, int64_t y)
{
    if (y < DLD_SCHEDULE_YEAR_MIN || y > DLD_SCHEDULE_YEAR_MAX)
        return false;
    int i = (int)(y - DLD_SCHEDULE_YEAR_MIN);
    return (s->years[i / 64] >> (i % 64)) & 1;
}

/* The weekday (Mon-Fri) nearest `day`, without leaving the month. */
static unsigned s_nearest_weekday(int64_t y, unsigned m, unsigned day)
{
    unsigned last = s_days_in_month(y, m);
    unsigned wd = s_weekday(dld_days_from_civil(y, m, day));
    if (wd == 7) /* Saturday: the Friday before, or Monday if that leaves the month */
        return day > 1 ? day - 1 : day + 2;
    if (wd == 1) /* Sunday: the Monday after, or Friday if that leaves the month */
        return day < last ? day + 1 : day - 2;
    return day;
}

static bool s_day_matches(const struct dld_schedule *s, int64_t days, int64_t y, unsigned m, unsigned d)
{
    unsigned last = s_days_in_month(y, m);
    switch (s->dom_mode) {
    case DLD_DOM_SET:
        return (s->days >> d) & 1;
    case DLD_DOM_LAST:
        return d == last;
    case DLD_DOM_LAST_WEEKDAY:
        return d == s_nearest_weekday(y, m, last);
    case DLD_DOM_NEAREST_WEEKDAY:
        /* a day the month does not have (31W in April) never fires */
        return s->dom_day <= last && d == s_nearest_weekday(y, m, s->dom_day);
    default:
        break;
    }
    unsigned wd = s_weekday(days);
    switch (s->dow_mode) {
    case DLD_DOW_SET:
        return (s->weekdays >> wd) & 1;
    case DLD_DOW_LAST:
        return wd == s->dow_day && d + 7 > last;
    case DLD_DOW_NTH:
        return wd == s->dow_day && (d - 1) / 7 + 1 == s->dow_nth;
    default:
        return false;
    }
}

static int s_next_rate(const struct dld_schedule *s, int64_t anchor_ms, int64_t after_ms, int64_t *next_ms)
{
    int64_t k = after_ms < anchor_ms ? 1 : s_floor_div(after_ms - anchor_ms, s->rate_ms) + 1;
    if (k < 1)
        k = 1;
    *next_ms = anchor_ms + k * s->rate_ms;
    return DLD_OK;
}

/* The first local minute >= m (minutes since 1970-01-01T00:00 local) that
 * matches the cron fields; DLD_DONE when none is left. */
static int s_next_local_minute(const struct dld_schedule *s, int64_t m, int64_t *out)
{
    for (;;) {
        int64_t days = s_floor_div(m, 1440);
        int64_t mod = m - days * 1440;
        unsigned hour = (unsigned)(mod / 60), minute = (unsigned)(mod % 60);
        int64_t y;
        unsigned mo, d;
        dld_civil_from_days(days, &y, &mo, &d);
        if (y > DLD_SCHEDULE_YEAR_MAX)
            return DLD_DONE;
        if (!s_year_set(s, y)) {
            int64_t ny = y < DLD_SCHEDULE_YEAR_MIN ? DLD_SCHEDULE_YEAR_MIN : y + 1;
            while (ny <= DLD_SCHEDULE_YEAR_MAX && !s_year_set(s, ny))
                ny++;
            if (ny > DLD_SCHEDULE_YEAR_MAX)
                return DLD_DONE;
            m = dld_days_from_civil(ny, 1, 1) * 1440;
            continue;
        }
        if (!((s->months >> mo) & 1)) {
            m = (mo == 12 ? dld_days_from_civil(y + 1, 1, 1) : dld_days_from_civil(y, mo + 1, 1)) * 1440;
            continue;
        }
        if (!s_day_matches(s, days, y, mo, d)) {
            m = (days + 1) * 1440;
            continue;
        }
        if (!((s->hours >> hour) & 1)) {
            m = days * 1440 + (hour + 1) * 60; /* hour 23 rolls into the next day */
            continue;
        }
        if (!((s->minutes >> minute) & 1)) {
            unsigned nm = minute + 1;
            while (nm < 60 && !((s->minutes >> nm) & 1))
                nm++;
            m = days * 1440 + hour * 60 + nm; /* nm == 60: the next hour */
            continue;
        }
        *out = m;
        return DLD_OK;
    }
}

/* local minus UTC at utc_s, in seconds */
static int64_t s_offset_s(const struct dld_schedule *s, int64_t utc_s)
{
    return s->zone ? dld_tz_offset(s->zone, utc_s, NULL) : (int64_t)s->tz_offset_min * 60;
}

/* The instant a local time stands for, as EventBridge Scheduler reads it: a
 * time skipped by a spring-forward change has none (false); a time repeated
 * by a fall-back change is its first occurrence. */
static bool s_local_to_utc(const struct dld_schedule *s, int64_t local_s, int64_t *utc_s)
{
    if (s->zone == NULL) {
        *utc_s = local_s - (int64_t)s->tz_offset_min * 60;
        return true;
    }
    int64_t t[2];
    if (dld_tz_from_local(s->zone, local_s, t) == 0)
        return false;
    *utc_s = t[0];
    return true;
}

static int s_next_cron(const struct dld_schedule *s, int64_t after_ms, int64_t *next_ms)
{
    int64_t after_s = s_floor_div(after_ms, 1000);
    /* the first candidate: the next whole local minute strictly after after_ms */
    int64_t m = s_floor_div(after_ms + s_offset_s(s, after_s) * 1000, 60000) + 1;
    for (;;) {
        int64_t lm;
        int ret = s_next_local_minute(s, m, &lm);
        if (ret != DLD_OK)
            return ret;
        int64_t utc_s;
        /* skipped (a DST gap), or a repeated time whose first occurrence is
         * already past: it fired, or would have, once; look further */
        if (!s_local_to_utc(s, lm * 60, &utc_s) || utc_s * 1000 <= after_ms) {
            m = lm + 1;
            continue;
        }
        *next_ms = utc_s * 1000;
        return DLD_OK;
    }
}

static int s_next_at(const struct dld_schedule *s, int64_t after_ms, int64_t *next_ms)
{
    int64_t utc_s;
    if (!s_local_to_utc(s, s->at_local_s, &utc_s) || utc_s * 1000 <= after_ms)
        return DLD_DONE; /* past, or a local time that daylight saving skips */
    *next_ms = utc_s * 1000;
    return DLD_OK;
}

int dld_schedule_next(const struct dld_schedule *s, int64_t anchor_ms, int64_t after_ms, int64_t *next_ms)
{
    if (s->kind == DLD_SCHEDULE_RATE)
        return s_next_rate(s, anchor_ms, after_ms, next_ms);
    if (s->kind == DLD_SCHEDULE_CRON)
        return s_next_cron(s, after_ms, next_ms);
    if (s->kind == DLD_SCHEDULE_AT)
        return s_next_at(s, after_ms, next_ms);
    return DLD_ERR_FATAL;
}

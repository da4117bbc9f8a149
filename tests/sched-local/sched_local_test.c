/* scheduler-local: expression → fire times, tables of cases written by hand
 * (calendar facts checked against a printed calendar), run through the
 * dlopen'ed .so and through the builtin object. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include <deltaload/schedule.h>
#include <deltaload/scheduler.h>
#include <deltaload/sdk.h>

#include "test_host.h"

int dld_builtin_entry_sched_local(const struct dld_host *host, const struct dld_plugin **out);

static const struct dld_plugin *s_plugin;
static const struct dld_scheduler_vtable *vt;
static void *s_so;

/* "2024-01-31T23:30:00Z" (seconds and ".mmm" optional) → ms; "DONE" → -1 */
static int64_t s_ms(const char *iso)
{
    if (strcmp(iso, "DONE") == 0)
        return -1;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int ms = 0, n = sscanf(iso, "%d-%d-%dT%d:%d:%d.%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                           &tm.tm_sec, &ms);
    ck_assert_msg(n >= 5, "bad time in test table: %s", iso);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

static void s_iso(int64_t ms, char *buf, size_t cap)
{
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void *s_open(const char *expr, const char *tz, struct dld_error *e)
{
    const char *opts[] = {"expression", expr, "timezone", tz ? tz : "UTC", NULL};
    void *inst = NULL;
    dld_error_init(e);
    int rc = vt->open(dld_test_host(), opts, &inst, e);
    if (rc != DLD_OK)
        ck_assert_ptr_null(inst);
    return rc == DLD_OK ? inst : NULL;
}

struct fire_case {
    const char *expr, *tz, *after;
    const char *next[6]; /* each strictly after the one before; "DONE" ends */
};

static const struct fire_case s_fire[] = {
    /* strictly after: exactly on a fire time moves to the next one */
    {"cron(0 12 * * ? *)", NULL, "2024-01-01T12:00:00Z", {"2024-01-02T12:00:00Z", "2024-01-03T12:00:00Z"}},
    {"cron(0 12 * * ? *)", NULL, "2024-01-01T11:59:59.999Z", {"2024-01-01T12:00:00Z"}},
    {"cron(* * * * ? *)", NULL, "2024-01-01T00:00:30Z", {"2024-01-01T00:01:00Z", "2024-01-01T00:02:00Z"}},
    /* AWS's documented example: 10:15 on the last Friday of each month, 2022-2023 */
    {"cron(15 10 ? * 6L 2022-2023)", NULL, "2022-12-31T00:00:00Z",
     {"2023-01-27T10:15:00Z", "2023-02-24T10:15:00Z", "2023-03-31T10:15:00Z"}},
    {"cron(15 10 ? * 6L 2022-2023)", NULL, "2023-12-29T10:15:00Z", {"DONE"}},
    /* last day of the month, leap and common years */
    {"cron(0 0 L * ? *)", NULL, "2024-01-31T00:00:00Z",
     {"2024-02-29T00:00:00Z", "2024-03-31T00:00:00Z", "2024-04-30T00:00:00Z"}},
    {"cron(0 0 L * ? *)", NULL, "2023-01-31T00:00:00Z", {"2023-02-28T00:00:00Z"}},
    {"cron(0 0 L 2 ? *)", NULL, "2099-03-01T00:00:00Z", {"2100-02-28T00:00:00Z", "2101-02-28T00:00:00Z"}},
    /* Feb 29 only in leap years; 2100 is not one */
    {"cron(0 0 29 2 ? *)", NULL, "2021-01-01T00:00:00Z", {"2024-02-29T00:00:00Z", "2028-02-29T00:00:00Z"}},
    {"cron(0 0 29 2 ? *)", NULL, "2096-02-29T00:00:00Z", {"2104-02-29T00:00:00Z"}},
    /* day 31 skips the short months */
    {"cron(30 23 31 * ? *)", NULL, "2024-01-31T23:30:00Z", {"2024-03-31T23:30:00Z", "2024-05-31T23:30:00Z"}},
    /* W: 2024-06-15 is a Saturday (→ Fri 14th), 2024-09-15 a Sunday (→ Mon 16th) */
    {"cron(0 9 15W * ? *)", NULL, "2024-05-01T00:00:00Z",
     {"2024-05-15T09:00:00Z", "2024-06-14T09:00:00Z", "2024-07-15T09:00:00Z", "2024-08-15T09:00:00Z",
      "2024-09-16T09:00:00Z"}},
    /* 1W on Saturday 2024-06-01 goes forward to Monday the 3rd (not into May) */
    {"cron(0 9 1W * ? *)", NULL, "2024-05-20T00:00:00Z", {"2024-06-03T09:00:00Z"}},
    /* 31W on Sunday 2024-03-31 goes back to Friday the 29th; April has no 31st */
    {"cron(0 9 31W * ? *)", NULL, "2024-03-01T00:00:00Z", {"2024-03-29T09:00:00Z", "2024-05-31T09:00:00Z"}},
    /* LW: last weekday; 2024-03-31 is a Sunday */
    {"cron(0 18 LW * ? *)", NULL, "2024-03-01T00:00:00Z",
     {"2024-03-29T18:00:00Z", "2024-04-30T18:00:00Z", "2024-05-31T18:00:00Z"}},
    /* #: second Tuesday; fifth Monday exists only in some months */
    {"cron(0 8 ? * 3#2 *)", NULL, "2024-01-01T00:00:00Z",
     {"2024-01-09T08:00:00Z", "2024-02-13T08:00:00Z", "2024-03-12T08:00:00Z"}},
    {"cron(0 8 ? * MON#5 *)", NULL, "2024-01-01T08:00:00Z", {"2024-01-29T08:00:00Z", "2024-04-29T08:00:00Z"}},
    /* L alone in day-of-week: Saturday */
    {"cron(0 0 ? * L *)", NULL, "2024-01-01T00:00:00Z", {"2024-01-06T00:00:00Z", "2024-01-13T00:00:00Z"}},
    /* business hours, jumping the weekend */
    {"cron(*/15 9-17 ? * MON-FRI *)", NULL, "2024-01-05T17:45:00Z", {"2024-01-08T09:00:00Z", "2024-01-08T09:15:00Z"}},
    /* 1 = SUN, 7 = SAT */
    {"cron(0 12 ? * 1,7 *)", NULL, "2024-01-01T00:00:00Z",
     {"2024-01-06T12:00:00Z", "2024-01-07T12:00:00Z", "2024-01-13T12:00:00Z"}},
    /* wrapping ranges */
    {"cron(0 22-2 * * ? *)", NULL, "2024-01-01T02:00:00Z",
     {"2024-01-01T22:00:00Z", "2024-01-01T23:00:00Z", "2024-01-02T00:00:00Z", "2024-01-02T01:00:00Z",
      "2024-01-02T02:00:00Z", "2024-01-02T22:00:00Z"}},
    {"cron(0 0 ? * FRI-MON *)", NULL, "2024-01-02T00:00:00Z",
     {"2024-01-05T00:00:00Z", "2024-01-06T00:00:00Z", "2024-01-07T00:00:00Z", "2024-01-08T00:00:00Z",
      "2024-01-12T00:00:00Z"}},
    /* names and steps */
    {"cron(0 0 1 JAN,jul ? *)", NULL, "2024-01-01T00:00:00Z", {"2024-07-01T00:00:00Z", "2025-01-01T00:00:00Z"}},
    {"cron(5/20 * * * ? *)", NULL, "2024-01-01T00:00:00Z",
     {"2024-01-01T00:05:00Z", "2024-01-01T00:25:00Z", "2024-01-01T00:45:00Z", "2024-01-01T01:05:00Z"}},
    {"cron(0 0 1/10 * ? *)", NULL, "2024-02-01T00:00:00Z",
     {"2024-02-11T00:00:00Z", "2024-02-21T00:00:00Z", "2024-03-01T00:00:00Z"}},
    {"cron(0 6 ? 2-12/5 MON#1 2024/2)", NULL, "2024-01-01T00:00:00Z",
     {"2024-02-05T06:00:00Z", "2024-07-01T06:00:00Z", "2024-12-02T06:00:00Z", "2026-02-02T06:00:00Z"}},
    /* year limits */
    {"cron(59 23 31 12 ? 2199)", NULL, "2199-12-31T23:58:00Z", {"2199-12-31T23:59:00Z", "DONE"}},
    {"cron(0 0 1 1 ? 1970)", NULL, "1969-06-01T00:00:00Z", {"1970-01-01T00:00:00Z", "DONE"}},
    {"cron(0 0 * * ? 2020)", NULL, "2024-01-01T00:00:00Z", {"DONE"}},
    {"cron(0 0 30 2 ? *)", NULL, "2024-01-01T00:00:00Z", {"DONE"}}, /* never: Feb 30 */
    /* fixed offsets */
    {"cron(0 9 * * ? *)", "+02:00", "2024-01-01T00:00:00Z", {"2024-01-01T07:00:00Z", "2024-01-02T07:00:00Z"}},
    {"cron(0 9 * * ? *)", "-05:30", "2024-01-01T00:00:00Z", {"2024-01-01T14:30:00Z"}},
    {"cron(0 0 1 * ? *)", "+02:00", "2024-01-15T00:00:00Z", {"2024-01-31T22:00:00Z", "2024-02-29T22:00:00Z"}},
    {"cron(0 0 ? * MON *)", "UTC-0800", "2024-01-01T07:59:00Z", {"2024-01-01T08:00:00Z", "2024-01-08T08:00:00Z"}},
    /* IANA zones (tests/sched-local/tzdata.zi). US daylight saving 2024:
     * Sun Mar 10 02:00 EST -> 03:00 EDT, Sun Nov 3 02:00 EDT -> 01:00 EST;
     * 2025: Mar 9, Nov 2. EU 2024: Sun Mar 31 01:00Z (02:00 CET -> 03:00
     * CEST), Sun Oct 27 01:00Z (03:00 CEST -> 02:00 CET). EST = -5, EDT =
     * -4, CET = +1, CEST = +2. */
    /* 09:00 New York is 14:00Z in winter, 13:00Z from the change on */
    {"cron(0 9 * * ? *)", "America/New_York", "2024-03-08T15:00:00Z",
     {"2024-03-09T14:00:00Z", "2024-03-10T13:00:00Z", "2024-03-11T13:00:00Z"}},
    /* a time the spring-forward change skips does not fire that day */
    {"cron(30 2 * * ? *)", "America/New_York", "2024-03-09T00:00:00Z",
     {"2024-03-09T07:30:00Z", "2024-03-11T06:30:00Z", "2024-03-12T06:30:00Z"}},
    {"cron(15 2 ? * SUN *)", "America/New_York", "2025-03-01T00:00:00Z",
     {"2025-03-02T07:15:00Z", "2025-03-16T06:15:00Z"}},
    {"cron(0 * * * ? *)", "America/New_York", "2024-03-10T06:30:00Z",
     {"2024-03-10T07:00:00Z", "2024-03-10T08:00:00Z"}}, /* 01:30 EST -> 03:00 EDT, 04:00 EDT */
    /* a time the fall-back change repeats fires once, at its first occurrence */
    {"cron(30 1 * * ? *)", "America/New_York", "2024-11-02T12:00:00Z",
     {"2024-11-03T05:30:00Z", "2024-11-04T06:30:00Z"}},
    {"cron(0 * * * ? *)", "America/New_York", "2024-11-03T04:30:00Z",
     {"2024-11-03T05:00:00Z", "2024-11-03T07:00:00Z", "2024-11-03T08:00:00Z"}}, /* 01:00 EDT, 02:00 EST, 03:00 EST */
    /* asked from inside the repeated hour (01:10 EST): nothing until 02:00 EST */
    {"cron(*/20 * * * ? *)", "America/New_York", "2024-11-03T06:10:00Z", {"2024-11-03T07:00:00Z"}},
    /* beyond the transitions a file lists (2037 in "fat" files): the footer rule */
    {"cron(0 12 1 1,7 ? *)", "America/New_York", "2049-12-01T00:00:00Z",
     {"2050-01-01T17:00:00Z", "2050-07-01T16:00:00Z", "2051-01-01T17:00:00Z"}},
    /* Berlin */
    {"cron(30 2 * * ? *)", "Europe/Berlin", "2024-03-30T00:00:00Z",
     {"2024-03-30T01:30:00Z", "2024-04-01T00:30:00Z"}},
    {"cron(30 2 * * ? *)", "Europe/Berlin", "2024-10-26T12:00:00Z",
     {"2024-10-27T00:30:00Z", "2024-10-28T01:30:00Z"}},
    {"cron(*/30 * * * ? *)", "Europe/Berlin", "2024-10-27T00:10:00Z",
     {"2024-10-27T00:30:00Z", "2024-10-27T02:00:00Z", "2024-10-27T02:30:00Z"}}, /* 02:30 CEST, 03:00 CET, 03:30 CET */
    /* month ends and a leap day in local time */
    {"cron(0 0 L * ? *)", "Europe/Berlin", "2024-02-01T00:00:00Z",
     {"2024-02-28T23:00:00Z", "2024-03-30T23:00:00Z", "2024-04-29T22:00:00Z"}},
    {"cron(0 8 ? * 2#1 *)", "Europe/Berlin", "2030-03-01T00:00:00Z", {"2030-03-04T07:00:00Z", "2030-04-01T06:00:00Z"}},
    /* the southern hemisphere (a zone whose "slim" file has no transitions,
     * only the footer): AEDT (+11) in January, AEST (+10) in July */
    {"cron(0 12 15 1,7 ? *)", "Australia/Sydney", "2024-01-01T00:00:00Z",
     {"2024-01-15T01:00:00Z", "2024-07-15T02:00:00Z", "2025-01-15T01:00:00Z"}},
    /* rate counts elapsed time: a day is 24 hours across a change */
    {"rate(1 day)", "America/New_York", "2024-03-09T12:00:00Z", {"2024-03-10T12:00:00Z", "2024-03-11T12:00:00Z"}},
    /* at(): once, in the zone; past or skipped never fires */
    {"at(2030-01-31T18:30:00)", NULL, "2024-01-01T00:00:00Z", {"2030-01-31T18:30:00Z", "DONE"}},
    {"at(2024-07-01T09:00:00)", "Europe/Berlin", "2024-01-01T00:00:00Z", {"2024-07-01T07:00:00Z", "DONE"}},
    {"at(2024-07-01T09:00:00)", "Europe/Berlin", "2024-07-01T07:00:00Z", {"DONE"}},
    {"at(2024-05-01T12:00:00)", "+02:00", "2024-01-01T00:00:00Z", {"2024-05-01T10:00:00Z"}},
    {"at(2024-03-10T02:30:00)", "America/New_York", "2024-01-01T00:00:00Z", {"DONE"}},
    {"at(2024-11-03T01:30:00)", "America/New_York", "2024-01-01T00:00:00Z", {"2024-11-03T05:30:00Z", "DONE"}},
    {"at(2024-02-29T23:59:59)", NULL, "2024-02-29T23:59:58Z", {"2024-02-29T23:59:59Z", "DONE"}},
};

START_TEST(fire_times)
{
    const struct fire_case *c = &s_fire[_i];
    struct dld_error e;
    void *inst = s_open(c->expr, c->tz, &e);
    ck_assert_msg(inst != NULL, "%s: %s", c->expr, e.message);
    int64_t after = s_ms(c->after);
    for (int k = 0; k < 6 && c->next[k] != NULL; k++) {
        int64_t want = s_ms(c->next[k]), got = 0;
        dld_error_init(&e);
        int rc = vt->next_fire(inst, after, &got, &e);
        char gbuf[40] = "DONE";
        if (rc == DLD_OK)
            s_iso(got, gbuf, sizeof(gbuf));
        if (want < 0) {
            ck_assert_msg(rc == DLD_DONE, "%s tz %s after %s: expected DONE, got %s (rc %d)", c->expr, c->tz,
                          c->after, gbuf, rc);
            break;
        }
        ck_assert_msg(rc == DLD_OK && got == want, "%s tz %s: fire %d: expected %s, got %s (rc %d)", c->expr,
                      c->tz ? c->tz : "UTC", k + 1, c->next[k], gbuf, rc);
        after = got;
    }
    vt->close(inst);
}
END_TEST

START_TEST(rate_anchored_at_first_call)
{
    struct dld_error e;
    void *inst = s_open("rate(5 minutes)", NULL, &e);
    ck_assert_ptr_nonnull(inst);
    int64_t t0 = s_ms("2024-01-01T00:00:10Z"), got;
    ck_assert_int_eq(vt->next_fire(inst, t0, &got, &e), DLD_OK);
    ck_assert_int_eq(got, t0 + 300000);
    ck_assert_int_eq(vt->next_fire(inst, got, &got, &e), DLD_OK);
    ck_assert_int_eq(got, t0 + 600000);
    /* a late wake-up: the next period boundary, not now + 5 min */
    ck_assert_int_eq(vt->next_fire(inst, t0 + 12 * 60000, &got, &e), DLD_OK);
    ck_assert_int_eq(got, t0 + 15 * 60000);
    ck_assert_int_eq(vt->next_fire(inst, t0 + 15 * 60000 - 1, &got, &e), DLD_OK);
    ck_assert_int_eq(got, t0 + 15 * 60000);
    vt->close(inst);

    static const struct {
        const char *expr;
        int64_t period;
    } rates[] = {{"rate(1 minute)", 60000},  {"rate(1 hour)", 3600000},   {"rate(3 hours)", 10800000},
                 {"rate(1 day)", 86400000}, {"rate(2 days)", 172800000}, {" rate( 7  minutes ) ", 420000}};
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        inst = s_open(rates[i].expr, NULL, &e);
        ck_assert_msg(inst != NULL, "%s: %s", rates[i].expr, e.message);
        ck_assert_int_eq(vt->next_fire(inst, 1000, &got, &e), DLD_OK);
        ck_assert_int_eq(got, 1000 + rates[i].period);
        vt->close(inst);
    }
}
END_TEST

struct bad_case {
    const char *expr, *tz, *message;
};

static const struct bad_case s_bad[] = {
    {"cron(0 12 * * * *)", NULL, "exactly one of them must be '?'"},
    {"cron(0 12 ? * ? *)", NULL, "exactly one of them must be '?'"},
    {"cron(60 12 * * ? *)", NULL, "cron field 1 (minutes) '60': 60 is out of range 0-59"},
    {"cron(0 24 * * ? *)", NULL, "cron field 2 (hours) '24': 24 is out of range 0-23"},
    {"cron(0 0 32 * ? *)", NULL, "cron field 3 (day-of-month) '32': 32 is out of range 1-31"},
    {"cron(0 0 0 * ? *)", NULL, "cron field 3 (day-of-month) '0': 0 is out of range 1-31"},
    {"cron(0 0 ? 13 MON *)", NULL, "cron field 4 (month) '13': 13 is out of range 1-12"},
    {"cron(0 0 ? JANUARY MON *)", NULL, "cron field 4 (month) 'JANUARY': unexpected 'UARY'"},
    {"cron(0 0 ? * 8 *)", NULL, "cron field 5 (day-of-week) '8': 8 is out of range 1-7"},
    {"cron(0 0 ? * FOO *)", NULL, "cron field 5 (day-of-week) 'FOO': 'FOO' is not a value (1-7 or SUN-SAT)"},
    {"cron(0 0 1 * ? 1969)", NULL, "cron field 6 (year) '1969': 1969 is out of range 1970-2199"},
    {"cron(0 0 1 * ? 2200)", NULL, "cron field 6 (year) '2200': 2200 is out of range 1970-2199"},
    {"cron(0 0 1 * ? 2025-2024)", NULL, "range 2025-2024 goes backwards"},
    {"cron(0 0 * * ?)", NULL, "cron needs 6 fields (minutes hours day-of-month month day-of-week year), got 5"},
    {"cron(0 0 * * ? * *)", NULL, "got more"},
    {"cron(0 0 32W * ? *)", NULL, "cron field 3 (day-of-month) '32W': 'W' needs a day 1-31"},
    {"cron(0 0 ? * 9#2 *)", NULL, "cron field 5 (day-of-week) '9#2'"},
    {"cron(0 0 ? * 2#6 *)", NULL, "the n in day#n must be 1-5"},
    {"cron(0 0 L,15 * ? *)", NULL, "cron field 3 (day-of-month) 'L,15': '?', 'L', 'W' and '#' must stand alone"},
    {"cron(L 0 * * ? *)", NULL, "cron field 1 (minutes) 'L': '?', 'L', 'W' and '#' are only allowed in day-of-month"},
    {"cron(*/0 0 * * ? *)", NULL, "cron field 1 (minutes) '*/0': '*/0' needs a whole increment >= 1"},
    {"cron(0 0 1, * ? *)", NULL, "cron field 3 (day-of-month) '1,': empty element"},
    {"cron(0 0-x * * ? *)", NULL, "cron field 2 (hours) '0-x': range '0-x' has no end"},
    {"rate(1 minutes)", NULL, "with 1 the unit is singular: rate(1 minute)"},
    {"rate(5 minute)", NULL, "with 5 the unit is plural: rate(5 minutes)"},
    {"rate(0 minutes)", NULL, "the value must be between 1 and"},
    {"rate(5 seconds)", NULL, "unknown unit 'seconds'"},
    {"rate(five minutes)", NULL, "expected a whole number"},
    {"rate(5)", NULL, "expected a space and a unit"},
    {"every 5 minutes", NULL, "expected rate(N unit) or cron("},
    {"at(2024-02-30T10:00:00)", NULL, "at(2024-02-30T10:00:00): 2024-02-30 is not a date"},
    {"at(2023-02-29T10:00:00)", NULL, "2023-02-29 is not a date"},
    {"at(2024-01-01T24:00:00)", NULL, "24:00:00 is not a time of day"},
    {"at(2024-01-01 10:00:00)", NULL, "expected at(yyyy-mm-ddThh:mm:ss)"},
    {"at(2024-1-01T10:00:00)", NULL, "expected at(yyyy-mm-ddThh:mm:ss)"},
    {"at(2200-01-01T00:00:00)", NULL, "year 2200 is out of range 1970-2199"},
    {"at(2024-01-01T10:00)", NULL, "expected at(yyyy-mm-ddThh:mm:ss)"},
    {"rate(5 minutes", NULL, "expected rate(N unit) or cron("},
    {"", NULL, "option 'expression' is required"},
    {"rate(1 hour)", "Europe/Atlantis", "timezone 'Europe/Atlantis': unknown time zone"},
    {"rate(1 hour)", "Europe/../Berlin", "expected UTC or a fixed offset"},
    {"rate(1 hour)", "/etc/localtime", "expected UTC or a fixed offset"},
    {"rate(1 hour)", "+15:00", "expected UTC or a fixed offset"},
    {"rate(1 hour)", "+02:60", "expected UTC or a fixed offset"},
    {"rate(1 hour)", "+2:00", "expected UTC or a fixed offset"},
};

START_TEST(bad_expressions)
{
    const struct bad_case *c = &s_bad[_i];
    struct dld_error e;
    void *inst = s_open(c->expr, c->tz, &e);
    ck_assert_msg(inst == NULL, "'%s' (tz %s) was accepted", c->expr, c->tz ? c->tz : "UTC");
    ck_assert_int_eq(e.code, DLD_ERR_CONFIG);
    ck_assert_msg(strstr(e.message, c->message) != NULL, "'%s': message '%s' lacks '%s'", c->expr, e.message,
                  c->message);
}
END_TEST

static const struct {
    const char *expr, *tz, *text;
} s_desc[] = {
    {"rate(1 hour)", NULL, "Every hour, counted from when the scheduler started"},
    {"rate(15 minutes)", NULL, "Every 15 minutes, counted from when the scheduler started"},
    {"cron(0 12 * * ? *)", NULL, "At 12:00, every day (UTC)"},
    {"cron(15 10 ? * 6L 2022-2023)", NULL, "At 10:15, on the last Friday of the month, in years 2022-2023 (UTC)"},
    {"cron(0 8 ? * MON-FRI *)", "+02:00", "At 08:00, on Monday to Friday (+02:00)"},
    {"cron(0 9 15W * ? *)", NULL, "At 09:00, on the weekday nearest day 15 of the month (UTC)"},
    {"cron(0 8 ? JAN,7 3#2 *)", NULL, "At 08:00, on the second Tuesday of the month, in January, July (UTC)"},
    {"cron(0 0 L * ? *)", NULL, "At 00:00, on the last day of the month (UTC)"},
    {"cron(*/5 * * * ? *)", NULL, "At minutes */5 of every hour, every day (UTC)"},
    {"cron(30 * ? * 1,7 2030)", NULL, "At minute 30 of every hour, on Sunday, Saturday, in year 2030 (UTC)"},
    {"cron(0 9 * * ? *)", "America/New_York", "At 09:00, every day (America/New_York)"},
    {"at(2030-01-31T18:30:00)", "Europe/Berlin", "Once, at 2030-01-31 18:30:00 (Europe/Berlin)"},
};

/* the SDK's zone functions directly: offsets, abbreviations, skipped and
 * repeated local times */
START_TEST(zone_functions)
{
    /* the zones come from the build tree (tzdata.zi), never the machine's */
    ck_assert_msg(getenv("TZDIR") != NULL && strstr(getenv("TZDIR"), "zoneinfo-") != NULL, "TZDIR is not set");
    const struct dld_tz *z = NULL;
    struct dld_error e;
    dld_error_init(&e);
    ck_assert_int_eq(dld_tz_load("America/New_York", &z, &e), DLD_OK);
    const char *abbr = NULL;
    ck_assert_int_eq(dld_tz_offset(z, s_ms("2024-01-15T12:00:00Z") / 1000, &abbr), -5 * 3600);
    ck_assert_str_eq(abbr, "EST");
    ck_assert_int_eq(dld_tz_offset(z, s_ms("2024-07-15T12:00:00Z") / 1000, &abbr), -4 * 3600);
    ck_assert_str_eq(abbr, "EDT");
    /* the instant of the change */
    ck_assert_int_eq(dld_tz_offset(z, s_ms("2024-03-10T06:59:59Z") / 1000, NULL), -5 * 3600);
    ck_assert_int_eq(dld_tz_offset(z, s_ms("2024-03-10T07:00:00Z") / 1000, NULL), -4 * 3600);
    int64_t t[2];
    /* local 2024-03-10 02:30 does not exist; 2024-11-03 01:30 exists twice */
    ck_assert_int_eq(dld_tz_from_local(z, s_ms("2024-03-10T02:30:00Z") / 1000, t), 0);
    ck_assert_int_eq(dld_tz_from_local(z, s_ms("2024-11-03T01:30:00Z") / 1000, t), 2);
    ck_assert_int_eq(t[0], s_ms("2024-11-03T05:30:00Z") / 1000);
    ck_assert_int_eq(t[1], s_ms("2024-11-03T06:30:00Z") / 1000);
    ck_assert_int_eq(dld_tz_from_local(z, s_ms("2024-11-03T03:30:00Z") / 1000, t), 1);
    ck_assert_int_eq(t[0], s_ms("2024-11-03T08:30:00Z") / 1000);
    /* loaded once: the same zone object */
    const struct dld_tz *z2 = NULL;
    ck_assert_int_eq(dld_tz_load("America/New_York", &z2, &e), DLD_OK);
    ck_assert_ptr_eq(z, z2);

    struct dld_schedule sc;
    ck_assert_int_eq(dld_schedule_parse(&sc, "cron(0 9 * * ? *)", &e), DLD_OK);
    ck_assert_int_eq(dld_schedule_set_timezone(&sc, "Europe/Berlin", &e), DLD_OK);
    char buf[64];
    int32_t off = 0;
    dld_schedule_local_time(&sc, s_ms("2024-10-27T00:30:00Z"), buf, sizeof(buf), &off);
    ck_assert_str_eq(buf, "2024-10-27 02:30:00 CEST");
    ck_assert_int_eq(off, 7200);
    dld_schedule_local_time(&sc, s_ms("2024-10-27T01:30:00Z"), buf, sizeof(buf), &off);
    ck_assert_str_eq(buf, "2024-10-27 02:30:00 CET");
    ck_assert_int_eq(off, 3600);
    ck_assert_int_eq(dld_schedule_set_timezone(&sc, "-05:30", &e), DLD_OK);
    dld_schedule_local_time(&sc, s_ms("2024-01-01T00:00:00Z"), buf, sizeof(buf), NULL);
    ck_assert_str_eq(buf, "2023-12-31 18:30:00 -05:30");
}
END_TEST

START_TEST(descriptions)
{
    struct dld_error e;
    void *inst = s_open(s_desc[_i].expr, s_desc[_i].tz, &e);
    ck_assert_msg(inst != NULL, "%s: %s", s_desc[_i].expr, e.message);
    char *text = NULL;
    ck_assert_int_eq(vt->describe(inst, &text, &e), DLD_OK);
    ck_assert_str_eq(text, s_desc[_i].text);
    free(text);
    vt->close(inst);
}
END_TEST

START_TEST(descriptor)
{
    ck_assert_uint_eq(s_plugin->kind, DLD_KIND_SCHEDULER);
    ck_assert_str_eq(s_plugin->name, "local");
    ck_assert_uint_eq(vt->struct_size, sizeof(struct dld_scheduler_vtable));
    ck_assert_ptr_nonnull(vt->open);
    ck_assert_ptr_nonnull(vt->close);
    ck_assert_ptr_nonnull(vt->next_fire);
    ck_assert_ptr_nonnull(vt->describe);
    ck_assert_ptr_null(vt->deploy);
    ck_assert_str_eq(s_plugin->options[0].name, "expression");
    ck_assert(s_plugin->options[0].flags & DLD_OPTF_REQUIRED);
    ck_assert_str_eq(s_plugin->options[1].name, "timezone");
    ck_assert_str_eq(s_plugin->options[1].default_value, "UTC");
}
END_TEST

static void s_setup_so(void)
{
    s_so = dld_test_plugin_load("scheduler", "local", &s_plugin);
    ck_assert_msg(s_so != NULL, "could not load dld-scheduler-local.so from $DLD_PLUGIN_DIR");
    vt = s_plugin->vtable;
}

static void s_setup_builtin(void)
{
    ck_assert_int_eq(dld_builtin_entry_sched_local(dld_test_host(), &s_plugin), DLD_OK);
    vt = s_plugin->vtable;
}

static void s_teardown(void)
{
    dld_test_plugin_unload(s_so);
    s_so = NULL;
}

static TCase *s_tcase(const char *name, void (*setup)(void))
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, setup, s_teardown);
    tcase_add_test(tc, descriptor);
    tcase_add_loop_test(tc, fire_times, 0, (int)(sizeof(s_fire) / sizeof(s_fire[0])));
    tcase_add_test(tc, rate_anchored_at_first_call);
    tcase_add_loop_test(tc, bad_expressions, 0, (int)(sizeof(s_bad) / sizeof(s_bad[0])));
    tcase_add_loop_test(tc, descriptions, 0, (int)(sizeof(s_desc) / sizeof(s_desc[0])));
    tcase_add_test(tc, zone_functions);
    return tc;
}

int main(void)
{
    Suite *s = suite_create("sched-local");
    suite_add_tcase(s, s_tcase("dlopen", s_setup_so));
    suite_add_tcase(s, s_tcase("builtin", s_setup_builtin));
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * Schedule expressions in Amazon EventBridge's syntax, parsed and evaluated
 * in-process: the `local` scheduler fires from them and the `eventbridge`
 * scheduler validates them before deploying.
 *
 *   rate(N minute|minutes|hour|hours|day|days)   N >= 1; singular only for 1
 *   cron(Minutes Hours Day-of-month Month Day-of-week Year)
 *   at(yyyy-mm-ddThh:mm:ss)                      once, in the schedule's time zone
 *
 * cron fields accept `*` `,` `-` `/`; month names JAN-DEC; day names SUN-SAT
 * (1 = SUN .. 7 = SAT); years 1970-2199. Exactly one of day-of-month and
 * day-of-week is `?`. Day-of-month also takes `L` (last day), `LW` (last
 * weekday) and `15W` (weekday nearest the 15th, within the month);
 * day-of-week takes `L` (Saturday, the last day of the week), `5L` (last
 * Thursday of the month) and `3#2` (second Tuesday). Ranges may wrap
 * (`FRI-MON`, `22-2`) except in the year field. These special forms stand
 * alone in their field (not inside a list).
 *
 * cron and at() are evaluated in the schedule's time zone: UTC, a fixed
 * offset ("+02:00") or an IANA name ("Europe/Berlin") read from the system's
 * tzdata (TZif files under $TZDIR or /usr/share/zoneinfo, with the POSIX TZ
 * footer for years past the last listed transition). Daylight saving as
 * EventBridge Scheduler documents it: a local time that a spring-forward
 * change skips does not fire that day; a local time that a fall-back change
 * repeats fires once, at its first occurrence. rate() counts elapsed time
 * (a day is 24 hours) and ignores the zone.
 *
 * The struct is caller-allocated and needs no clean-up: a zone is loaded
 * once per process into a cache that lives until exit. Thread-safe for
 * concurrent reads once parsed.
 *
 * SDK layer: schedule (libdeltaload_sdk_schedule.a; pkg-config deltaload-sdk-schedule; CMake
 * component schedule, deltaload::sdk-schedule). Not included by deltaload.h.
 */
#ifndef DELTALOAD_SCHEDULE_H
#define DELTALOAD_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "abi.h"

#ifdef __cplusplus
extern "C" {
#endif

enum dld_schedule_kind { DLD_SCHEDULE_RATE = 1, DLD_SCHEDULE_CRON = 2, DLD_SCHEDULE_AT = 3 };

enum dld_schedule_dom {
    DLD_DOM_ANY = 0,             /* `?` */
    DLD_DOM_SET = 1,             /* days bitset */
    DLD_DOM_LAST = 2,            /* `L` */
    DLD_DOM_LAST_WEEKDAY = 3,    /* `LW` */
    DLD_DOM_NEAREST_WEEKDAY = 4, /* `15W`: dom_day */
};
enum dld_schedule_dow {
    DLD_DOW_ANY = 0, /* `?` */
    DLD_DOW_SET = 1, /* weekdays bitset */
    DLD_DOW_LAST = 2, /* `5L`: last dow_day of the month */
    DLD_DOW_NTH = 3,  /* `3#2`: dow_nth-th dow_day of the month */
};

#define DLD_SCHEDULE_YEAR_MIN 1970
#define DLD_SCHEDULE_YEAR_MAX 2199

struct dld_tz; /* a loaded IANA time zone (opaque) */

struct dld_schedule {
    uint32_t kind;             /* enum dld_schedule_kind */
    int64_t rate_ms;           /* rate: the period */
    int64_t rate_value;        /* rate: N as written */
    char rate_unit[16];        /* rate: "minute", "hours", ... as written */
    /* cron: bit v set when value v matches */
    uint64_t minutes;          /* 0..59 */
    uint32_t hours;            /* 0..23 */
    uint32_t days;             /* 1..31 (DLD_DOM_SET) */
    uint32_t months;           /* 1..12 */
    uint32_t weekdays;         /* 1..7, 1 = Sunday (DLD_DOW_SET) */
    uint64_t years[4];         /* bit (y - 1970) */
    uint32_t dom_mode, dom_day;
    uint32_t dow_mode, dow_day, dow_nth;
    int32_t tz_offset_min;     /* fixed offsets: local = UTC + offset */
    char tz[64];               /* "UTC", "+02:00" or an IANA name */
    char field[6][64];         /* cron fields as written, for descriptions */
    int64_t at_local_s;        /* at(): local wall-clock seconds since 1970-01-01T00:00 */
    const struct dld_tz *zone; /* IANA zone (process-wide cache), NULL for UTC or a fixed offset */
};

/* Parses an expression into s. DLD_ERR_CONFIG with a message naming the bad
 * field and why. The time zone is reset to UTC. */
int dld_schedule_parse(struct dld_schedule *s, const char *expression, struct dld_error *err);
/* "UTC", "Z", "GMT", "+02:00", "-0530", "+02", "UTC+02:00" (within +-14:00),
 * or an IANA zone name ("America/New_York") found as a TZif file under
 * $TZDIR or /usr/share/zoneinfo. DLD_ERR_CONFIG otherwise, saying why. */
int dld_schedule_set_timezone(struct dld_schedule *s, const char *tz, struct dld_error *err);
/* The first fire time strictly after after_ms (UTC ms). rate: fires at
 * anchor_ms + k * period (k >= 1); cron: whole minutes matching the fields in
 * the schedule's time zone (DST rules above); at(): its instant if it is
 * after after_ms. DLD_OK, or DLD_DONE when it never fires again (the year
 * field is exhausted, or at() has passed). */
int dld_schedule_next(const struct dld_schedule *s, int64_t anchor_ms, int64_t after_ms, int64_t *next_ms);
/* A one-line English description into buf (always NUL-terminated); returns
 * the length it needed, as snprintf does. */
size_t dld_schedule_describe(const struct dld_schedule *s, char *buf, size_t cap);
/* The schedule's local time of utc_ms: "2024-03-10 03:00:00 EDT" (the zone's
 * abbreviation, or the offset for fixed zones) into buf, always
 * NUL-terminated; *offset_s (may be NULL) gets local minus UTC. */
size_t dld_schedule_local_time(const struct dld_schedule *s, int64_t utc_ms, char *buf, size_t cap, int32_t *offset_s);

/* Time zones on their own (the scheduler plugins share the cache above).
 * dld_tz_load: DLD_ERR_CONFIG with the reason when the name is not a
 * readable TZif file; the zone stays valid until the process exits (or the
 * plugin linking this SDK copy is unloaded). */
int dld_tz_load(const char *name, const struct dld_tz **out, struct dld_error *err);
/* local minus UTC at the instant utc_s, and the abbreviation (borrowed) */
int32_t dld_tz_offset(const struct dld_tz *z, int64_t utc_s, const char **abbr);
/* The instants whose local time is local_s: 0 (a skipped time), 1, or 2 (a
 * repeated time; earliest first) of them into utc_s[2]. */
int dld_tz_from_local(const struct dld_tz *z, int64_t local_s, int64_t utc_s[2]);

#ifdef __cplusplus
}
#endif
#endif

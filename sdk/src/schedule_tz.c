/* IANA time zones from the system's tzdata: TZif files (RFC 8536, versions
 * 1-4) under $TZDIR or /usr/share/zoneinfo, with the POSIX TZ string of the
 * footer for instants after the last transition the file lists (zic's
 * "slim" files stop listing transitions once a rule is in force).
 *
 * Loaded zones are kept in a process-wide cache (a mutex-protected list)
 * that lives until exit (or until the image holding this SDK copy, e.g. a
 * plugin, is unloaded: s_free_cache), so a struct dld_schedule can point at one without
 * owning it. Leap-second ("right/") zones are refused. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <deltaload/schedule.h>
#include <deltaload/sdk.h>

#define TZ_MAX_FILE (1 << 20)

/* one half of a POSIX rule: Jn (1-365, no Feb 29), n (0-365), Mm.w.d */
struct tz_date {
    char kind; /* 'J', 'N', 'M' */
    int m, w, d, n;
    int32_t time_s; /* local time of the change, may be < 0 or > 24h */
};

struct tz_posix {
    bool valid;
    int32_t std_off, dst_off; /* local minus UTC */
    char std_abbr[16], dst_abbr[16];
    bool has_dst;
    struct tz_date start, end;
};

struct tz_type {
    int32_t utoff;
    bool isdst;
    char abbr[16];
};

struct dld_tz {
    struct dld_tz *next; /* the cache */
    char name[128];
    size_t ntrans, ntypes;
    int64_t *trans;
    unsigned char *trans_type;
    struct tz_type *types;
    struct tz_posix footer;
};

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dld_tz *s_cache;

static int64_t s_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    if (n == 4)
        return (int32_t)(uint32_t)v;
    return (int64_t)v;
}

/* ---- POSIX TZ strings ("EST5EDT,M3.2.0,M11.1.0", "<+0330>-3:30") ---------- */

static bool s_posix_name(const char **p, char *out, size_t cap)
{
    const char *q = *p;
    size_t n = 0;
    if (*q == '<') {
        q++;
        while (*q && *q != '>') {
            if (n + 1 < cap)
                out[n++] = *q;
            q++;
        }
        if (*q != '>')
            return false;
        q++;
    } else {
        while (isalpha((unsigned char)*q)) {
            if (n + 1 < cap)
                out[n++] = *q;
            q++;
        }
    }
    out[n] = '\0';
    if (n < 3 && !(n > 0 && **p == '<'))
        return false;
    *p = q;
    return true;
}

/* [+-]hh[:mm[:ss]] into seconds (hours up to 167 for rule times) */
static bool s_posix_time(const char **p, int32_t *out)
{
    const char *q = *p;
    int sign = 1;
    if (*q == '+' || *q == '-')
        sign = *q++ == '-' ? -1 : 1;
    if (!isdigit((unsigned char)*q))
        return false;
    long h = 0, m = 0, s = 0;
    while (isdigit((unsigned char)*q))
        h = h * 10 + (*q++ - '0');
    if (*q == ':') {
        q++;
        while (isdigit((unsigned char)*q))
            m = m * 10 + (*q++ - '0');
        if (*q == ':') {
            q++;
            while (isdigit((unsigned char)*q))
                s = s * 10 + (*q++ - '0');
        }
    }
    if (h > 167 || m > 59 || s > 59)
        return false;
    *out = (int32_t)(sign * (h * 3600 + m * 60 + s));
    *p = q;
    return true;
}

static bool s_posix_date(const char **p, struct tz_date *d)
{
    const char *q = *p;
    char *end;
    memset(d, 0, sizeof(*d));
    d->time_s = 7200; /* 02:00 by default */
    if (*q == 'M') {
        d->kind = 'M';
        d->m = (int)strtol(q + 1, &end, 10);
        if (*end != '.')
            return false;
        d->w = (int)strtol(end + 1, &end, 10);
        if (*end != '.')
            return false;
        d->d = (int)strtol(end + 1, &end, 10);
        if (d->m < 1 || d->m > 12 || d->w < 1 || d->w > 5 || d->d < 0 || d->d > 6)
            return false;
    } else if (*q == 'J') {
        d->kind = 'J';
        d->n = (int)strtol(q + 1, &end, 10);
        if (end == q + 1 || d->n < 1 || d->n > 365)
            return false;
    } else if (isdigit((unsigned char)*q)) {
        d->kind = 'N';
        d->n = (int)strtol(q, &end, 10);
        if (d->n < 0 || d->n > 365)
            return false;
    } else {
        return false;
    }
    q = end;
    if (*q == '/') {
        q++;
        if (!s_posix_time(&q, &d->time_s))
            return false;
    }
    *p = q;
    return true;
}

static bool s_posix_parse(const char *tz, struct tz_posix *r)
{
    memset(r, 0, sizeof(*r));
    const char *p = tz;
    int32_t off;
    if (!s_posix_name(&p, r->std_abbr, sizeof(r->std_abbr)) || !s_posix_time(&p, &off))
        return false;
    r->std_off = -off; /* POSIX offsets are west-positive */
    if (*p == '\0') {
        r->valid = true;
        return true;
    }
    if (!s_posix_name(&p, r->dst_abbr, sizeof(r->dst_abbr)))
        return false;
    r->has_dst = true;
    r->dst_off = r->std_off + 3600;
    if (*p != ',' && *p != '\0') {
        if (!s_posix_time(&p, &off))
            return false;
        r->dst_off = -off;
    }
    if (*p == '\0') { /* no rule: the US rules are the POSIX default */
        r->start = (struct tz_date){'M', 3, 2, 0, 0, 7200};
        r->end = (struct tz_date){'M', 11, 1, 0, 0, 7200};
        r->valid = true;
        return true;
    }
    if (*p++ != ',' || !s_posix_date(&p, &r->start) || *p++ != ',' || !s_posix_date(&p, &r->end) || *p != '\0')
        return false;
    r->valid = true;
    return true;
}

static bool s_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* days since the epoch of a rule date in year y */
static int64_t s_rule_day(const struct tz_date *d, int64_t y)
{
    if (d->kind == 'J') { /* 1..365, February 29 never counted */
        int64_t day = d->n - 1;
        if (s_leap(y) && d->n >= 60)
            day++;
        return dld_days_from_civil(y, 1, 1) + day;
    }
    if (d->kind == 'N')
        return dld_days_from_civil(y, 1, 1) + d->n;
    /* Mm.w.d: day d (0 = Sunday) of week w (5 = the last) of month m */
    int64_t first = dld_days_from_civil(y, (unsigned)d->m, 1);
    int wd_first = (int)(((first + 4) % 7 + 7) % 7); /* 0 = Sunday */
    int64_t day = first + ((d->d - wd_first + 7) % 7) + 7 * (d->w - 1);
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int last = dim[d->m - 1] + (d->m == 2 && s_leap(y) ? 1 : 0);
    while (day >= first + last)
        day -= 7;
    return day;
}

static int32_t s_posix_offset(const struct tz_posix *r, int64_t t, const char **abbr)
{
    if (!r->has_dst) {
        if (abbr)
            *abbr = r->std_abbr;
        return r->std_off;
    }
    int64_t y;
    unsigned mo, d;
    dld_civil_from_days((t + r->std_off) / 86400 - ((t + r->std_off) % 86400 < 0 ? 1 : 0), &y, &mo, &d);
    bool dst = false;
    /* the year of t and its neighbours, so changes near new year are seen */
    for (int64_t yy = y - 1; yy <= y + 1; yy++) {
        int64_t start = s_rule_day(&r->start, yy) * 86400 + r->start.time_s - r->std_off;
        int64_t end = s_rule_day(&r->end, yy) * 86400 + r->end.time_s - r->dst_off;
        if (start < end) {
            if (t >= start && t < end)
                dst = true;
        } else if (yy == y) { /* southern hemisphere: DST spans new year */
            dst = !(t >= end && t < start);
        }
    }
    if (abbr)
        *abbr = dst ? r->dst_abbr : r->std_abbr;
    return dst ? r->dst_off : r->std_off;
}

/* ---- TZif ------------------------------------------------------------------ */

static void s_free_zone(struct dld_tz *z)
{
    if (z == NULL)
        return;
    free(z->trans);
    free(z->trans_type);
    free(z->types);
    free(z);
}

/* The cache belongs to this copy of the SDK: a plugin links its own, and the
 * host dlclose()s the plugin once every instance (and with it every schedule
 * pointing into the cache) is closed, after which nothing could reach the
 * zones any more. Free them when this image is unloaded (or at exit). */
__attribute__((destructor)) static void s_free_cache(void)
{
    pthread_mutex_lock(&s_lock);
    struct dld_tz *z = s_cache;
    s_cache = NULL;
    pthread_mutex_unlock(&s_lock);
    while (z != NULL) {
        struct dld_tz *next = z->next;
        s_free_zone(z);
        z = next;
    }
}

/* Parses a TZif image; a short message into why on failure. */
static struct dld_tz *s_parse_tzif(const unsigned char *b, size_t len, const char **why)
{
    if (len < 44 || memcmp(b, "TZif", 4) != 0) {
        *why = "not a TZif file";
        return NULL;
    }
    int version = b[4] == 0 ? 1 : b[4] - '0';
    size_t pos = 0;
    int tsize = 4;
    for (int pass = 0; pass < 2; pass++) {
        if (pos + 44 > len) {
            *why = "truncated header";
            return NULL;
        }
        const unsigned char *h = b + pos;
        size_t isutcnt = (size_t)s_be(h + 20, 4), isstdcnt = (size_t)s_be(h + 24, 4), leapcnt = (size_t)s_be(h + 28, 4),
               timecnt = (size_t)s_be(h + 32, 4), typecnt = (size_t)s_be(h + 36, 4), charcnt = (size_t)s_be(h + 40, 4);
        if (timecnt > 100000 || typecnt == 0 || typecnt > 256 || charcnt > 65536 || leapcnt > 10000 ||
            isutcnt > 256 || isstdcnt > 256) {
            *why = "implausible counts";
            return NULL;
        }
        size_t data = timecnt * (size_t)tsize + timecnt + typecnt * 6 + charcnt + leapcnt * (size_t)(tsize + 4) +
                      isstdcnt + isutcnt;
        if (pos + 44 + data > len) {
            *why = "truncated data";
            return NULL;
        }
        if (pass == 0 && version >= 2) { /* skip the 32-bit block */
            pos += 44 + data;
            tsize = 8;
            continue;
        }
        if (leapcnt > 0) {
            *why = "leap-second zones are not supported";
            return NULL;
        }
        struct dld_tz *z = calloc(1, sizeof(*z));
        if (z == NULL) {
            *why = "out of memory";
            return NULL;
        }
        z->ntrans = timecnt;
        z->ntypes = typecnt;
        z->trans = calloc(timecnt + 1, sizeof(int64_t));
        z->trans_type = calloc(timecnt + 1, 1);
        z->types = calloc(typecnt, sizeof(struct tz_type));
        if (z->trans == NULL || z->trans_type == NULL || z->types == NULL) {
            s_free_zone(z);
            *why = "out of memory";
            return NULL;
        }
        const unsigned char *p = h + 44;
        for (size_t i = 0; i < timecnt; i++, p += tsize)
            z->trans[i] = s_be(p, tsize);
        for (size_t i = 0; i < timecnt; i++, p++) {
            if (*p >= typecnt) {
                s_free_zone(z);
                *why = "transition type out of range";
                return NULL;
            }
            z->trans_type[i] = *p;
        }
        const unsigned char *chars = p + typecnt * 6;
        for (size_t i = 0; i < typecnt; i++, p += 6) {
            z->types[i].utoff = (int32_t)s_be(p, 4);
            z->types[i].isdst = p[4] != 0;
            size_t ai = p[5];
            if (ai < charcnt)
                snprintf(z->types[i].abbr, sizeof(z->types[i].abbr), "%.*s", (int)strnlen((const char *)chars + ai,
                                                                                      charcnt - ai),
                         chars + ai);
        }
        pos += 44 + data;
        /* v2+: "\n<POSIX TZ>\n" */
        if (version >= 2 && pos < len && b[pos] == '\n') {
            const unsigned char *nl = memchr(b + pos + 1, '\n', len - pos - 1);
            if (nl != NULL && (size_t)(nl - (b + pos + 1)) < 128) {
                char tz[128];
                size_t n = (size_t)(nl - (b + pos + 1));
                memcpy(tz, b + pos + 1, n);
                tz[n] = '\0';
                if (n > 0 && !s_posix_parse(tz, &z->footer)) {
                    s_free_zone(z);
                    *why = "unreadable POSIX TZ footer";
                    return NULL;
                }
            }
        }
        return z;
    }
    *why = "unreadable";
    return NULL;
}

static bool s_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= 100 || name[0] == '/' || name[0] == '.')
        return false;
    for (const char *p = name; *p; p++) {
        if (!(isalnum((unsigned char)*p) || *p == '/' || *p == '_' || *p == '-' || *p == '+'))
            return false;
        if (p[0] == '/' && p[1] == '.')
            return false;
    }
    return true;
}

int dld_tz_load(const char *name, const struct dld_tz **out, struct dld_error *err)
{
    *out = NULL;
    if (name == NULL || !s_name_ok(name))
        return dld_error_set(err, DLD_ERR_CONFIG,
                             "timezone '%s': expected UTC or a fixed offset such as +02:00, or an IANA name such as "
                             "Europe/Berlin",
                             name ? name : "");
    pthread_mutex_lock(&s_lock);
    for (struct dld_tz *z = s_cache; z != NULL; z = z->next)
        if (strcmp(z->name, name) == 0) {
            pthread_mutex_unlock(&s_lock);
            *out = z;
            return DLD_OK;
        }
    pthread_mutex_unlock(&s_lock);

    const char *dir = getenv("TZDIR");
    if (dir == NULL || dir[0] == '\0')
        dir = "/usr/share/zoneinfo";
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return dld_error_set(err, DLD_ERR_CONFIG,
                             "timezone '%s': unknown time zone (no %s: %s; the zones come from the tzdata package, "
                             "or $TZDIR)",
                             name, path, strerror(errno));
    unsigned char *buf = malloc(TZ_MAX_FILE);
    size_t len = buf ? fread(buf, 1, TZ_MAX_FILE, f) : 0;
    fclose(f);
    if (buf == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "timezone '%s': out of memory", name);
    const char *why = "unreadable";
    struct dld_tz *z = s_parse_tzif(buf, len, &why);
    free(buf);
    if (z == NULL)
        return dld_error_set(err, DLD_ERR_CONFIG, "timezone '%s': %s: %s", name, path, why);
    snprintf(z->name, sizeof(z->name), "%s", name);
    pthread_mutex_lock(&s_lock);
    for (struct dld_tz *o = s_cache; o != NULL; o = o->next)
        if (strcmp(o->name, name) == 0) { /* another thread was first */
            pthread_mutex_unlock(&s_lock);
            s_free_zone(z);
            *out = o;
            return DLD_OK;
        }
    z->next = s_cache;
    s_cache = z;
    pthread_mutex_unlock(&s_lock);
    *out = z;
    return DLD_OK;
}

int32_t dld_tz_offset(const struct dld_tz *z, int64_t t, const char **abbr)
{
    if (z->ntrans == 0 || t < z->trans[0]) {
        /* before the first transition: type 0 (RFC 8536 3.2), or the
         * footer when the file lists no transitions at all */
        if (z->ntrans == 0 && z->footer.valid)
            return s_posix_offset(&z->footer, t, abbr);
        if (abbr)
            *abbr = z->types[0].abbr;
        return z->types[0].utoff;
    }
    if (t >= z->trans[z->ntrans - 1] && z->footer.valid)
        return s_posix_offset(&z->footer, t, abbr);
    size_t lo = 0, hi = z->ntrans; /* the last transition <= t */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    const struct tz_type *ty = &z->types[z->trans_type[lo]];
    if (abbr)
        *abbr = ty->abbr;
    return ty->utoff;
}

int dld_tz_from_local(const struct dld_tz *z, int64_t local_s, int64_t utc_s[2])
{
    /* the offsets in force a day either side cover any single change */
    int32_t offs[3] = {dld_tz_offset(z, local_s - 86400, NULL), dld_tz_offset(z, local_s, NULL),
                       dld_tz_offset(z, local_s + 86400, NULL)};
    int n = 0;
    for (int i = 0; i < 3; i++) {
        int64_t t = local_s - offs[i];
        if (dld_tz_offset(z, t, NULL) != offs[i])
            continue;
        bool dup = false;
        for (int k = 0; k < n; k++)
            dup |= utc_s[k] == t;
        if (!dup && n < 2)
            utc_s[n++] = t;
    }
    if (n == 2 && utc_s[1] < utc_s[0]) {
        int64_t x = utc_s[0];
        utc_s[0] = utc_s[1];
        utc_s[1] = x;
    }
    return n;
}

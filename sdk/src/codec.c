/* Value codecs shared by sources and writers: decimals, civil dates, ISO text. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <deltaload/sdk.h>

int dld_decimal_parse(const char *text, size_t len, int32_t precision, int32_t scale, __int128 *out,
                      struct dld_error *err)
{
    size_t i = 0;
    bool neg = false;
    while (i < len && text[i] == ' ')
        i++;
    if (i < len && (text[i] == '-' || text[i] == '+'))
        neg = text[i++] == '-';
    unsigned __int128 v = 0;
    int digits = 0, frac = 0, seen = 0;
    bool dot = false;
    for (; i < len; i++) {
        char ch = text[i];
        if (ch == '.' && !dot) {
            dot = true;
            continue;
        }
        if (ch < '0' || ch > '9')
            break;
        seen++;
        if (dot) {
            if (frac == scale) {
                if (ch != '0') /* never round silently */
                    return dld_error_set(err, DLD_ERR_UNSUPPORTED,
                                         "decimal %.*s has more than %d fractional digits", (int)len, text, scale);
                continue;
            }
            frac++;
        }
        if (v != 0 || ch != '0')
            digits++;
        if (digits > 38)
            return dld_error_set(err, DLD_ERR_UNSUPPORTED, "decimal %.*s has more than 38 digits", (int)len, text);
        v = v * 10 + (unsigned)(ch - '0');
    }
    while (i < len && text[i] == ' ')
        i++;
    if (i != len || seen == 0)
        return dld_error_set(err, DLD_ERR_CONFIG, "'%.*s' is not a decimal number", (int)len, text);
    for (; frac < scale; frac++) {
        v *= 10;
        if (v != 0)
            digits++;
    }
    if (digits > precision)
        return dld_error_set(err, DLD_ERR_UNSUPPORTED, "decimal %.*s does not fit decimal(%d,%d)", (int)len, text,
                             precision, scale);
    *out = neg ? -(__int128)v : (__int128)v;
    return DLD_OK;
}

size_t dld_decimal_format(__int128 unscaled, int32_t scale, char *buf)
{
    char tmp[48];
    int n = 0;
    bool neg = unscaled < 0;
    unsigned __int128 v = neg ? (unsigned __int128)(-(unscaled + 1)) + 1 : (unsigned __int128)unscaled;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    while (n <= scale)
        tmp[n++] = '0';
    size_t o = 0;
    if (neg)
        buf[o++] = '-';
    for (int i = n - 1; i >= 0; i--) {
        buf[o++] = tmp[i];
        if (i == scale && scale > 0)
            buf[o++] = '.';
    }
    buf[o] = '\0';
    return o;
}

/* Howard Hinnant's days_from_civil algorithm (proleptic Gregorian). */
int64_t dld_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void dld_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static const int64_t s_per_sec[] = {1, 1000, 1000000, 1000000000};
static const int s_frac_digits[] = {0, 3, 6, 9};

static int64_t s_floor_div(int64_t a, int64_t b, int64_t *rem)
{
    int64_t q = a / b, r = a % b;
    if (r < 0) {
        r += b;
        q--;
    }
    *rem = r;
    return q;
}

size_t dld_format_date(int32_t days, char *buf, size_t cap)
{
    int64_t y;
    unsigned m, d;
    dld_civil_from_days(days, &y, &m, &d);
    int n = snprintf(buf, cap, "%04" PRId64 "-%02u-%02u", y, m, d);
    return n < 0 ? 0 : (size_t)n;
}

size_t dld_format_time(int64_t v, uint32_t unit, char *buf, size_t cap)
{
    if (unit > DLD_UNIT_NANO)
        return 0;
    int64_t frac;
    int64_t secs = s_floor_div(v, s_per_sec[unit], &frac);
    int n = snprintf(buf, cap, "%02d:%02d:%02d", (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
    if (n > 0 && unit > 0 && (size_t)n < cap)
        n += snprintf(buf + n, cap - (size_t)n, ".%0*" PRId64, s_frac_digits[unit], frac);
    return n < 0 ? 0 : (size_t)n;
}

size_t dld_format_timestamp(int64_t v, uint32_t unit, bool utc, char *buf, size_t cap)
{
    if (unit > DLD_UNIT_NANO)
        return 0;
    int64_t frac, secs_of_day;
    int64_t secs = s_floor_div(v, s_per_sec[unit], &frac);
    int64_t days = s_floor_div(secs, 86400, &secs_of_day);
    size_t n = dld_format_date((int32_t)days, buf, cap);
    if (n + 1 >= cap)
        return n;
    buf[n++] = ' ';
    n += dld_format_time(secs_of_day * s_per_sec[unit] + frac, unit, buf + n, cap - n);
    if (utc && n + 1 < cap) {
        buf[n++] = 'Z';
        buf[n] = '\0';
    }
    return n;
}

/*
 * Decoding OCI's external formats into Arrow values, exactly.
 *
 * NUMBER arrives as VARNUM (SQLT_VNU): a length byte, the sign/exponent
 * byte, base-100 mantissa digits (Oracle Call Interface Programmer's Guide,
 * "Data Types", NUMBER and VARNUM). Decoding it ourselves rather than asking
 * OCI for a double or text keeps every digit and lets an overflow be an
 * error instead of a rounding.
 *
 * DATE arrives as the 7-byte SQLT_DAT (same guide, "DATE": century+100,
 * year+100, month, day, hour+1, minute+1, second+1).
 */
#include <stdio.h>
#include <string.h>

#include "ora_internal.h"

/* base-100 digits and the power of 100 of the first one */
struct s_num {
    bool negative;
    int exp100;         /* value = 0.d1d2... * 100^exp100 */
    int ndigits;
    uint8_t digits[20];
};

static int s_num_parse(const uint8_t *num, size_t len, struct s_num *n)
{
    memset(n, 0, sizeof(*n));
    if (len < 1 || len > 21)
        return DLD_ERR_FATAL;
    if (len == 1 && num[0] == 0x80)
        return DLD_OK; /* zero */
    if ((len == 1 && num[0] == 0x00) || (len == 2 && num[0] == 0xFF && num[1] == 0x65))
        return DLD_ERR_UNSUPPORTED; /* -infinity / +infinity (imports from Oracle 5) */
    n->negative = (num[0] & 0x80) == 0;
    uint8_t e = n->negative ? (uint8_t)~num[0] : num[0];
    n->exp100 = (int)(e & 0x7F) - 64;
    size_t end = len;
    if (n->negative && end > 1 && num[end - 1] == 102)
        end--; /* the terminator of negative numbers with fewer than 20 digits */
    for (size_t i = 1; i < end; i++) {
        int d = n->negative ? 101 - num[i] : num[i] - 1;
        if (d < 0 || d > 99)
            return DLD_ERR_FATAL;
        n->digits[n->ndigits++] = (uint8_t)d;
    }
    if (n->ndigits == 0)
        return DLD_ERR_FATAL;
    return DLD_OK;
}

int dld_ora_number_decode(const uint8_t *num, size_t len, int32_t precision, int32_t scale, __int128 *out)
{
    struct s_num n;
    int rc = s_num_parse(num, len, &n);
    if (rc != DLD_OK)
        return rc;
    if (precision < 1 || precision > 38 || scale < 0 || scale > 38)
        return DLD_ERR_FATAL;
    /* 10^0 .. 10^38; 10^38 < 2^127, so every sum below stays in range */
    unsigned __int128 pow10[39];
    pow10[0] = 1;
    for (int k = 1; k <= 38; k++)
        pow10[k] = pow10[k - 1] * 10;
    unsigned __int128 v = 0;
    for (int i = 0; i < n.ndigits; i++) {
        /* digit i (0-based) weighs 100^(exp100 - 1 - i); at `scale` that is 10^p */
        int p = 2 * (n.exp100 - 1 - i) + scale;
        unsigned d = n.digits[i];
        if (d == 0)
            continue;
        if (p <= -2)
            return DLD_ERR_UNSUPPORTED; /* more fractional digits than the scale holds */
        unsigned __int128 term;
        if (p == -1) {
            if (d % 10 != 0)
                return DLD_ERR_UNSUPPORTED;
            term = d / 10;
        } else if (p >= 38 || (p == 37 && d >= 10)) {
            return DLD_ERR_UNSUPPORTED; /* 10^38 or more: beyond any precision */
        } else {
            term = d * pow10[p];
        }
        v += term;
        if (v >= pow10[38])
            return DLD_ERR_UNSUPPORTED;
    }
    if (v >= pow10[precision])
        return DLD_ERR_UNSUPPORTED; /* more digits than the precision */
    *out = n.negative ? -(__int128)v : (__int128)v;
    return DLD_OK;
}

int dld_ora_number_to_text(const uint8_t *num, size_t len, char *out, size_t cap)
{
    struct s_num n;
    int rc = s_num_parse(num, len, &n);
    if (rc != DLD_OK)
        return rc;
    char dec[48];
    int nd = 0;
    for (int i = 0; i < n.ndigits; i++) {
        dec[nd++] = (char)('0' + n.digits[i] / 10);
        dec[nd++] = (char)('0' + n.digits[i] % 10);
    }
    int point = 2 * n.exp100; /* decimal digits before the point */
    char buf[200];
    size_t k = 0;
    if (n.ndigits == 0) {
        buf[k++] = '0';
    } else {
        if (n.negative)
            buf[k++] = '-';
        int first = 0;
        while (first < nd && first < point && dec[first] == '0')
            first++;
        int last = nd;
        while (last > 0 && last > point && dec[last - 1] == '0')
            last--;
        if (point <= first)
            buf[k++] = '0';
        for (int i = first; i < point; i++)
            buf[k++] = i < nd ? dec[i] : '0';
        if (last > point) {
            buf[k++] = '.';
            for (int i = point; i < last; i++)
                buf[k++] = i < 0 ? '0' : dec[i];
        }
    }
    buf[k] = '\0';
    if (k + 1 > cap)
        return DLD_ERR_FATAL;
    memcpy(out, buf, k + 1);
    return DLD_OK;
}

/* ---- dates ------------------------------------------------------------------ */

/* Oracle keeps dates before 1582-10-15 in the Julian calendar (the
 * Gregorian reform's cut-over); later ones in the Gregorian. */
int64_t dld_ora_days_from_date(int32_t year, unsigned month, unsigned day)
{
    bool julian = year < 1582 || (year == 1582 && (month < 10 || (month == 10 && day < 15)));
    if (!julian)
        return dld_days_from_civil(year, month, day);
    /* Julian day number of a Julian-calendar date; 2440588 is 1970-01-01 */
    int64_t a = (14 - (int64_t)month) / 12;
    int64_t y = (int64_t)year + 4800 - a;
    int64_t m = (int64_t)month + 12 * a - 3;
    int64_t jdn = (int64_t)day + (153 * m + 2) / 5 + 365 * y + y / 4 - 32083;
    return jdn - 2440588;
}

int dld_ora_date_decode(const uint8_t b[7], int64_t *seconds)
{
    if (b[0] < 53 || b[0] > 199 || b[1] < 1 || b[1] > 199 || b[2] < 1 || b[2] > 12 || b[3] < 1 || b[3] > 31 ||
        b[4] < 1 || b[4] > 24 || b[5] < 1 || b[5] > 60 || b[6] < 1 || b[6] > 60)
        return DLD_ERR_FATAL;
    /* Oracle's year: 1 BC is -1 (no year 0); astronomical numbering has 0 */
    int32_t year = ((int32_t)b[0] - 100) * 100 + ((int32_t)b[1] - 100);
    if (year == 0)
        return DLD_ERR_FATAL;
    if (year < 0)
        year += 1;
    struct dld_ora_datetime dt = {.year = year, .month = b[2], .day = b[3], .hour = (uint8_t)(b[4] - 1),
                                  .minute = (uint8_t)(b[5] - 1), .second = (uint8_t)(b[6] - 1)};
    return dld_ora_datetime_to_unit(&dt, DLD_UNIT_SECOND, seconds);
}

int dld_ora_datetime_to_unit(const struct dld_ora_datetime *dt, uint32_t unit, int64_t *out)
{
    if (dt->month < 1 || dt->month > 12 || dt->day < 1 || dt->day > 31 || dt->hour > 23 || dt->minute > 59 ||
        dt->second > 59 || dt->nanos > 999999999u || dt->tz_minutes < -15 * 60 || dt->tz_minutes > 15 * 60)
        return DLD_ERR_FATAL;
    int64_t days = dld_ora_days_from_date(dt->year, dt->month, dt->day);
    int64_t secs = days * 86400 + dt->hour * 3600 + dt->minute * 60 + dt->second - (int64_t)dt->tz_minutes * 60;
    switch (unit) {
    case DLD_UNIT_SECOND:
        *out = secs;
        return DLD_OK;
    case DLD_UNIT_MILLI:
        *out = secs * 1000 + dt->nanos / 1000000;
        return DLD_OK;
    case DLD_UNIT_MICRO:
        *out = secs * 1000000 + dt->nanos / 1000;
        return DLD_OK;
    case DLD_UNIT_NANO:
        /* int64 nanoseconds reach from 1677-09-21 to 2262-04-11 */
        if (secs < -9223372036LL || secs > 9223372035LL)
            return DLD_ERR_UNSUPPORTED;
        *out = secs * 1000000000LL + dt->nanos;
        return DLD_OK;
    default:
        return DLD_ERR_FATAL;
    }
}

/* Test values (see pq_data.h). Edge rows cover the limits of each type;
 * the rest come from a seeded hash so every run writes the same file. */
#include "pq_data.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct tspec pq_all_types[] = {
    { "b", "b", true, K_BOOL, 0, 0, 0, 0, false },
    { "i8", "c", true, K_INT, 8, 0, 0, 0, false },
    { "i16", "s", true, K_INT, 16, 0, 0, 0, false },
    { "i32", "i", true, K_INT, 32, 0, 0, 0, false },
    { "i64", "l", true, K_INT, 64, 0, 0, 0, false },
    { "u8", "C", true, K_UINT, 8, 0, 0, 0, false },
    { "u16", "S", true, K_UINT, 16, 0, 0, 0, false },
    { "u32", "I", true, K_UINT, 32, 0, 0, 0, false },
    { "u64", "L", true, K_UINT, 64, 0, 0, 0, false },
    { "f32", "f", true, K_F32, 0, 0, 0, 0, false },
    { "f64", "g", true, K_F64, 0, 0, 0, 0, false },
    { "str", "u", true, K_STR, 0, 0, 0, 0, false },
    { "lstr", "U", true, K_STR, 0, 0, 0, 0, false },
    { "bin", "z", true, K_BIN, 0, 0, 0, 0, false },
    { "dec4", "d:4,4", true, K_DEC, 0, 4, 4, 0, false },
    { "dec9", "d:9,2", true, K_DEC, 0, 9, 2, 0, false },
    { "dec18", "d:18,6", true, K_DEC, 0, 18, 6, 0, false },
    { "dec19", "d:19,0", true, K_DEC, 0, 19, 0, 0, false },
    { "dec38", "d:38,10", true, K_DEC, 0, 38, 10, 0, false },
    { "date", "tdD", true, K_DATE, 0, 0, 0, 0, false },
    { "ts_s", "tss:", true, K_TS, 0, 0, 0, 0, false },
    { "ts_ms_utc", "tsm:UTC", true, K_TS, 0, 0, 0, 1, true },
    { "ts_us", "tsu:", true, K_TS, 0, 0, 0, 2, false },
    { "ts_us_utc", "tsu:UTC", true, K_TS, 0, 0, 0, 2, true },
    { "ts_ns", "tsn:", true, K_TS, 0, 0, 0, 3, false },
    { "ts_ns_utc", "tsn:UTC", true, K_TS, 0, 0, 0, 3, true },
    { "t_s", "tts", true, K_TIME, 32, 0, 0, 0, false },
    { "t_ms", "ttm", true, K_TIME, 32, 0, 0, 1, false },
    { "t_us", "ttu", true, K_TIME, 64, 0, 0, 2, false },
    { "t_ns", "ttn", true, K_TIME, 64, 0, 0, 3, false },
    { "req_i64", "l", false, K_INT, 64, 0, 0, 0, false },
    { "req_str", "u", false, K_STR, 0, 0, 0, 0, false },
};
const size_t pq_all_types_n = sizeof(pq_all_types) / sizeof(pq_all_types[0]);

static uint64_t s_mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static __int128 s_pow10(int p)
{
    __int128 x = 1;
    while (p-- > 0)
        x *= 10;
    return x;
}

static const int64_t s_unit_per_s[] = { 1, 1000, 1000000, 1000000000 };

static const char *const s_words[] = {
    "alpha", "beta", "gamma", "delta", "Zürich", "naïve", "東京", "🙂", "x", "", "long-ish word here", "Ωmega",
};

#define S_N(a) (sizeof(a) / sizeof((a)[0]))

static bool s_edge(const struct tspec *c, int e, union tval *v, char *buf)
{
    switch (c->kind) {
    case K_BOOL: v->b = e % 2; return true;
    case K_INT: {
        int64_t lo = c->bits == 64 ? INT64_MIN : -((int64_t)1 << (c->bits - 1));
        int64_t hi = c->bits == 64 ? INT64_MAX : ((int64_t)1 << (c->bits - 1)) - 1;
        const int64_t t[] = { lo, hi, 0, -1, 1, lo + 1, hi - 1 };
        v->i = t[e % S_N(t)];
        return true;
    }
    case K_UINT: {
        uint64_t hi = c->bits == 64 ? UINT64_MAX : ((uint64_t)1 << c->bits) - 1;
        const uint64_t t[] = { 0, hi, 1, hi / 2 + 1, hi / 2, hi - 1 };
        v->u = t[e % S_N(t)];
        return true;
    }
    case K_F32: {
        const float t[] = { NAN, INFINITY, -INFINITY, -0.0f, 0.0f, FLT_MAX, -FLT_MAX, FLT_TRUE_MIN, 1.5f, -2.25f };
        v->d = t[e % S_N(t)];
        return true;
    }
    case K_F64: {
        const double t[] = { NAN, INFINITY, -INFINITY, -0.0, 0.0, DBL_MAX, -DBL_MAX, DBL_TRUE_MIN, 0.1, -1e300 };
        v->d = t[e % S_N(t)];
        return true;
    }
    case K_STR: {
        const char *t[] = { "", "héllo wörld", "☃ 𝄞 日本語 🙂", "a", "\x7f", "zzz", "A", "\xc3\xbf", "tab\there", "quote\"back\\slash" };
        const char *s = t[e % S_N(t)];
        v->s.p = (const uint8_t *)s;
        v->s.n = strlen(s);
        return true;
    }
    case K_BIN: {
        static const uint8_t t0[] = { 0 }, t1[] = { 0, 1, 0xff }, t2[] = { 0xff, 0xff }, t3[] = { 0x80 };
        const struct { const uint8_t *p; size_t n; } t[] = { { t0, 0 }, { t0, 1 }, { t1, 3 }, { t2, 2 }, { t3, 1 } };
        v->s.p = t[e % S_N(t)].p;
        v->s.n = t[e % S_N(t)].n;
        return true;
    }
    case K_DEC: {
        __int128 lim = s_pow10(c->p) - 1;
        const __int128 t[] = { lim, -lim, 0, -1, 1, lim - 1 };
        v->q = t[e % S_N(t)];
        return true;
    }
    case K_DATE: {
        const int64_t t[] = { 0, -719162, 2932896, -1, 1, 19000 };
        v->i = t[e % S_N(t)];
        return true;
    }
    case K_TS: {
        /* 0001-01-01 .. 9999-12-31 for s/ms/us; ns is int64, so +-2^62 */
        int64_t k = s_unit_per_s[c->unit];
        int64_t lo = c->unit == 3 ? -((int64_t)1 << 62) : -62135596800LL * k;
        int64_t hi = c->unit == 3 ? ((int64_t)1 << 62) : 253402300799LL * k + (k - 1);
        const int64_t t[] = { 0, -1, 1, lo, hi, 1700000000LL * k + k / 3, -k - 1 };
        v->i = t[e % S_N(t)];
        return true;
    }
    case K_TIME: {
        int64_t k = s_unit_per_s[c->unit];
        const int64_t t[] = { 0, 86400 * k - 1, 43200 * k + k / 7, 1 };
        v->i = t[e % S_N(t)];
        return true;
    }
    }
    (void)buf;
    return false;
}

static bool s_random(const struct tspec *c, size_t ci, int64_t row, union tval *v, char *buf)
{
    uint64_t h = s_mix((uint64_t)row * 131 + ci);
    uint64_t h2 = s_mix(h);
    if (c->nullable && h % 10 == 0)
        return false;
    switch (c->kind) {
    case K_BOOL: v->b = h2 & 1; return true;
    case K_INT:
        /* half the columns repeat a few values: dictionary-friendly */
        if (ci % 2)
            v->i = (int64_t)(h2 % 50) - 25;
        else if (c->bits < 64)
            v->i = (int64_t)(h2 << (64 - c->bits)) >> (64 - c->bits); /* sign-extended */
        else
            v->i = (int64_t)h2;
        return true;
    case K_UINT:
        v->u = c->bits == 64 ? h2 : h2 & (((uint64_t)1 << c->bits) - 1);
        return true;
    case K_F32:
        v->d = (float)((double)((int64_t)(h2 % 2000001) - 1000000) / 64.0);
        if (h2 % 97 == 0)
            v->d = NAN;
        return true;
    case K_F64:
        v->d = (double)((int64_t)(h2 % 20000001) - 10000000) / 1000.0;
        if (h2 % 89 == 0)
            v->d = NAN;
        return true;
    case K_STR: {
        size_t n = 0, words = 1 + h2 % 4;
        for (size_t w = 0; w < words; w++) {
            const char *s = s_words[s_mix(h2 + w) % S_N(s_words)];
            n += (size_t)snprintf(buf + n, 256 - n, "%s%s", w ? " " : "", s);
        }
        v->s.p = (const uint8_t *)buf;
        v->s.n = n;
        return true;
    }
    case K_BIN: {
        size_t n = h2 % 9;
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)(s_mix(h2 + i) & 0xff);
        v->s.p = (const uint8_t *)buf;
        v->s.n = n;
        return true;
    }
    case K_DEC: {
        __int128 lim = s_pow10(c->p) - 1;
        unsigned __int128 r = ((unsigned __int128)h2 << 64) | s_mix(h2 + 1);
        v->q = (__int128)(r % (unsigned __int128)(lim + 1));
        if (h & 2)
            v->q = -v->q;
        return true;
    }
    case K_DATE: v->i = (int64_t)(h2 % 3652059) - 719162; return true;
    case K_TS: {
        int64_t k = s_unit_per_s[c->unit];
        int64_t span = c->unit == 3 ? ((int64_t)1 << 62) : 253402300799LL;
        int64_t sec = (int64_t)(h2 % (uint64_t)span) - span / 4;
        v->i = c->unit == 3 ? sec : sec * k + (int64_t)(s_mix(h2) % (uint64_t)k);
        return true;
    }
    case K_TIME: v->i = (int64_t)(h2 % (uint64_t)(86400 * s_unit_per_s[c->unit])); return true;
    }
    return false;
}

bool pq_gen(const struct tspec *c, size_t ci, int64_t row, union tval *v, char *buf)
{
    if (row == 0 && c->nullable)
        return false;
    if (row < PQ_EDGE_ROWS)
        return s_edge(c, (int)(row > 0 ? row - 1 : 0), v, buf);
    return s_random(c, ci, row, v, buf);
}

void pq_append(struct tarr *a, const struct tspec *c, bool nonnull, const union tval *v)
{
    if (!nonnull) {
        tarr_null(a);
        return;
    }
    switch (c->kind) {
    case K_BOOL: tarr_bool(a, v->b); return;
    case K_F32: {
        float f = (float)v->d;
        tarr_fixed(a, &f);
        return;
    }
    case K_STR:
    case K_BIN: tarr_bytes(a, v->s.p, v->s.n); return;
    case K_DEC: tarr_fixed(a, &v->q); return;
    default: {
        /* integers of every width, dates, times, timestamps: little-endian
         * truncation of the int64 is the narrower value */
        int64_t x = v->i;
        tarr_fixed(a, &x);
        return;
    }
    }
}

static cJSON *s_i128(__int128 q)
{
    char buf[64], *p = buf + sizeof(buf);
    *--p = '\0';
    unsigned __int128 u = q < 0 ? -(unsigned __int128)q : (unsigned __int128)q;
    do {
        *--p = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    if (q < 0)
        *--p = '-';
    return cJSON_CreateString(p);
}

static cJSON *s_float(double d, bool single)
{
    char buf[64];
    if (isnan(d))
        return cJSON_CreateString("nan");
    if (isinf(d))
        return cJSON_CreateString(d > 0 ? "inf" : "-inf");
    if (d == 0)
        return cJSON_CreateString(signbit(d) ? "-0" : "0");
    snprintf(buf, sizeof(buf), single ? "%.9g" : "%.17g", d);
    return cJSON_CreateString(buf);
}

static int64_t s_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b < 0) ? q - 1 : q;
}

/* the unit a timestamp/time is stored in */
static int s_file_unit(const struct tspec *c, bool ts_millis)
{
    if (c->kind == K_TIME)
        return c->unit == 0 ? 1 : c->unit;
    if (c->unit == 0 || ts_millis)
        return 1;
    return c->unit;
}

cJSON *pq_json_value(const struct tspec *c, bool nonnull, const union tval *v, bool ts_millis)
{
    if (!nonnull)
        return cJSON_CreateNull();
    char buf[64];
    switch (c->kind) {
    case K_BOOL: return cJSON_CreateBool(v->b);
    case K_INT: return s_i128(v->i);
    case K_UINT:
        snprintf(buf, sizeof(buf), "%" PRIu64, v->u);
        return cJSON_CreateString(buf);
    case K_F32: return s_float((float)v->d, true);
    case K_F64: return s_float(v->d, false);
    case K_STR: {
        char *tmp = malloc(v->s.n + 1);
        memcpy(tmp, v->s.p, v->s.n);
        tmp[v->s.n] = '\0';
        cJSON *j = cJSON_CreateString(tmp);
        free(tmp);
        return j;
    }
    case K_BIN: {
        char *hex = malloc(v->s.n * 2 + 1);
        for (size_t i = 0; i < v->s.n; i++)
            sprintf(hex + 2 * i, "%02x", v->s.p[i]);
        hex[v->s.n * 2] = '\0';
        cJSON *j = cJSON_CreateString(hex);
        free(hex);
        return j;
    }
    case K_DEC: return s_i128(v->q);
    case K_DATE: return s_i128(v->i);
    case K_TS:
    case K_TIME: {
        int to = s_file_unit(c, ts_millis);
        int64_t x = v->i;
        if (to > c->unit)
            x *= s_unit_per_s[to] / s_unit_per_s[c->unit];
        else if (to < c->unit)
            x = s_floor_div(x, s_unit_per_s[c->unit] / s_unit_per_s[to]);
        return s_i128(x);
    }
    }
    return cJSON_CreateNull();
}

const char *pq_type_name(const struct tspec *c, bool ts_millis, char *buf, size_t cap)
{
    static const char *const units[] = { "s", "ms", "us", "ns" };
    switch (c->kind) {
    case K_BOOL: return "bool";
    case K_INT: snprintf(buf, cap, "int%d", c->bits); return buf;
    case K_UINT: snprintf(buf, cap, "uint%d", c->bits); return buf;
    case K_F32: return "float";
    case K_F64: return "double";
    case K_STR: return "string";
    case K_BIN: return "binary";
    case K_DEC: snprintf(buf, cap, "decimal(%d,%d)", c->p, c->s); return buf;
    case K_DATE: return "date";
    case K_TS: snprintf(buf, cap, "timestamp[%s,%s]", units[s_file_unit(c, ts_millis)], c->utc ? "utc" : "local"); return buf;
    case K_TIME: snprintf(buf, cap, "time[%s]", units[s_file_unit(c, ts_millis)]); return buf;
    }
    return "?";
}

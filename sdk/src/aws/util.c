/* Byte buffers, encodings, hashes and time parsing for the AWS code. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "aws_internal.h"

static bool s_reserve(struct dld_aws_buf *b, size_t extra)
{
    if (b->failed)
        return false;
    if (b->len + extra + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void dld_aws_buf_append(struct dld_aws_buf *b, const void *data, size_t len)
{
    if (!s_reserve(b, len))
        return;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void dld_aws_buf_puts(struct dld_aws_buf *b, const char *s)
{
    dld_aws_buf_append(b, s, strlen(s));
}

void dld_aws_buf_putc(struct dld_aws_buf *b, char c)
{
    dld_aws_buf_append(b, &c, 1);
}

void dld_aws_buf_printf(struct dld_aws_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !s_reserve(b, (size_t)n)) {
        b->failed = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static bool s_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

void dld_aws_buf_encode(struct dld_aws_buf *b, const char *s, size_t len, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    if (!s_reserve(b, len * 3))
        return;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (s_unreserved(c) || (keep_slash && c == '/')) {
            b->data[b->len++] = (char)c;
        } else {
            b->data[b->len++] = '%';
            b->data[b->len++] = hex[c >> 4];
            b->data[b->len++] = hex[c & 15];
        }
    }
    b->data[b->len] = '\0';
}

char *dld_aws_buf_take(struct dld_aws_buf *b)
{
    if (b->failed) {
        dld_aws_buf_clean_up(b);
        return NULL;
    }
    if (!b->data && !s_reserve(b, 0))
        return NULL;
    if (!b->data)
        return NULL;
    b->data[b->len] = '\0';
    char *p = b->data;
    memset(b, 0, sizeof(*b));
    return p;
}

void dld_aws_buf_clean_up(struct dld_aws_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

char *dld_aws_uri_encode(const char *s, size_t len, bool keep_slash)
{
    struct dld_aws_buf b = {0};
    dld_aws_buf_encode(&b, s, len, keep_slash);
    if (!b.data && !b.failed)
        dld_aws_buf_append(&b, "", 0);
    return dld_aws_buf_take(&b);
}

static int s_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *dld_aws_uri_decode(const char *s, size_t len, size_t *out_len)
{
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < len && (hi = s_hexval(s[i + 1])) >= 0 && (lo = s_hexval(s[i + 2])) >= 0) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    if (out_len)
        *out_len = o;
    return out;
}

void dld_aws_hex(const unsigned char *in, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * len] = '\0';
}

void dld_aws_sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data ? data : (const void *)"", len, md);
    dld_aws_hex(md, sizeof(md), hex);
}

void dld_aws_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len, unsigned char out[32])
{
    unsigned int out_len = 32;
    HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &out_len);
}

void dld_aws_format_amz_date(int64_t time_s, char buf[17])
{
    time_t t = (time_t)time_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 17, "%Y%m%dT%H%M%SZ", &tm);
}

char *dld_aws_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

char *dld_aws_strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *dld_aws_strtrim(const char *s, size_t len)
{
    while (len && isspace((unsigned char)*s)) {
        s++;
        len--;
    }
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    return dld_aws_strndup(s, len);
}

int64_t dld_aws_real_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void dld_aws_real_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

int64_t dld_aws_parse_iso8601(const char *s)
{
    if (!s)
        return -1;
    int y, mo, d, h, mi, sec;
    int n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
        return -1;
    const char *p = s + n;
    int64_t ms = 0;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (isdigit((unsigned char)*p)) {
            if (digits < 3)
                ms = ms * 10 + (*p - '0');
            digits++;
            p++;
        }
        while (digits < 3) {
            ms *= 10;
            digits++;
        }
    }
    int64_t offset_s = 0;
    if (*p == '+' || *p == '-') {
        int oh = 0, om = 0;
        if (sscanf(p + 1, "%2d:%2d", &oh, &om) < 1)
            return -1;
        offset_s = (oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
    } else if (*p != 'Z' && *p != 'z' && *p != '\0') {
        return -1;
    }
    int64_t days = dld_days_from_civil(y, (unsigned)mo, (unsigned)d);
    return ((days * 86400 + h * 3600 + mi * 60 + sec) - offset_s) * 1000 + ms;
}

int64_t dld_aws_parse_http_date(const char *s)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (!s)
        return -1;
    char mon[4] = {0};
    int d, y, h, mi, sec;
    const char *comma = strchr(s, ',');
    if (comma)
        s = comma + 1;
    if (sscanf(s, " %d %3s %d %d:%d:%d", &d, mon, &y, &h, &mi, &sec) != 6)
        return -1;
    const char *m = strstr(months, mon);
    if (!m || mon[0] == '\0')
        return -1;
    unsigned month = (unsigned)((m - months) / 3 + 1);
    return (dld_days_from_civil(y, month, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec) * 1000;
}

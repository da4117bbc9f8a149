/*
 * Iceberg partition transforms (iceberg_partition.h). The hash and the time
 * transforms follow the Iceberg table spec ("Partition Transforms" and
 * "Appendix B: 32-bit Hash Requirements"); the unit test checks the spec's
 * hash vectors.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "iceberg_partition.h"

/* ---- the spec's hash ----------------------------------------------------------------------- */

static uint32_t s_rotl(uint32_t x, int r)
{
    return (x << r) | (x >> (32 - r));
}

static uint32_t s_mix_k(uint32_t k)
{
    k *= 0xcc9e2d51u;
    k = s_rotl(k, 15);
    return k * 0x1b873593u;
}

uint32_t dld_ice_murmur3_32(const void *data, size_t len, uint32_t seed)
{
    const unsigned char *p = data;
    uint32_t h = seed;
    size_t blocks = len / 4;
    for (size_t i = 0; i < blocks; i++) {
        /* blocks are read little-endian whatever the host's byte order */
        uint32_t k = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
                     (uint32_t)p[4 * i + 3] << 24;
        h ^= s_mix_k(k);
        h = s_rotl(h, 13);
        h = h * 5 + 0xe6546b64u;
    }
    const unsigned char *tail = p + 4 * blocks;
    uint32_t k = 0;
    switch (len & 3) {
    case 3:
        k ^= (uint32_t)tail[2] << 16;
        /* fall through */
    case 2:
        k ^= (uint32_t)tail[1] << 8;
        /* fall through */
    case 1:
        k ^= tail[0];
        h ^= s_mix_k(k);
        break;
    default:
        break;
    }
    h ^= (uint32_t)len;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

int32_t dld_ice_hash_long(int64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)v >> (8 * i));
    return (int32_t)dld_ice_murmur3_32(b, 8, 0);
}

int32_t dld_ice_hash_decimal(const unsigned char *le16)
{
    unsigned char be[16];
    for (int i = 0; i < 16; i++)
        be[i] = le16[15 - i];
    /* Java's BigInteger.toByteArray: no redundant sign bytes */
    size_t skip = 0;
    while (skip + 1 < 16 && ((be[skip] == 0x00 && !(be[skip + 1] & 0x80)) || (be[skip] == 0xff && (be[skip + 1] & 0x80))))
        skip++;
    return (int32_t)dld_ice_murmur3_32(be + skip, 16 - skip, 0);
}

int32_t dld_ice_bucket(int32_t hash, int32_t n)
{
    return (int32_t)(((uint32_t)hash & 0x7fffffffu) % (uint32_t)n);
}

int64_t dld_ice_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* the civil date of a day number since 1970-01-01 (H. Hinnant's days_from_civil, inverted) */
static void s_civil(int64_t days, int64_t *y, int *m, int *d)
{
    int64_t z = days + 719468;
    int64_t era = dld_ice_floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int32_t dld_ice_months_from_days(int64_t days)
{
    int64_t y;
    int m, d;
    s_civil(days, &y, &m, &d);
    return (int32_t)((y - 1970) * 12 + (m - 1));
}

/* ---- parsing ------------------------------------------------------------------------------- */

static const char *const s_names[] = {"identity", "bucket", "year", "month", "day", "hour"};

static char *s_trim(const char *a, const char *b)
{
    while (a < b && isspace((unsigned char)*a))
        a++;
    while (b > a && isspace((unsigned char)b[-1]))
        b--;
    return strndup(a, (size_t)(b - a));
}

/* "day(updated_at)", "bucket(16, id)", "identity(region)" */
static int s_parse_one(const char *text, struct dld_ice_partition_field *f, struct dld_error *err)
{
    const char *open = strchr(text, '('), *close = strrchr(text, ')');
    char *name = NULL, *args = NULL;
    if (open == NULL || close == NULL || close < open || close[1] != '\0')
        goto bad;
    name = s_trim(text, open);
    args = s_trim(open + 1, close);
    if (name == NULL || args == NULL)
        goto oom;
    int t = -1;
    for (int i = 0; i < (int)(sizeof s_names / sizeof *s_names); i++)
        if (!strcmp(name, s_names[i]))
            t = i;
    if (t < 0)
        goto bad;
    f->transform = (enum dld_ice_transform)t;
    const char *col = args;
    if (f->transform == DLD_ICE_BUCKET) {
        char *end = NULL;
        long n = strtol(args, &end, 10);
        if (end == args || n < 1 || n > 1000000)
            goto bad;
        while (isspace((unsigned char)*end))
            end++;
        if (*end != ',')
            goto bad;
        f->n = (int32_t)n;
        col = end + 1;
    }
    f->source = s_trim(col, col + strlen(col));
    if (f->source == NULL)
        goto oom;
    if (!*f->source || strpbrk(f->source, "(),"))
        goto bad;
    if (f->transform == DLD_ICE_IDENTITY)
        f->name = strdup(f->source);
    else if (asprintf(&f->name, "%s_%s", f->source, s_names[f->transform]) < 0)
        f->name = NULL;
    if (f->name == NULL)
        goto oom;
    free(name);
    free(args);
    return DLD_OK;
bad:
    free(name);
    free(args);
    return dld_error_set(err, DLD_ERR_CONFIG,
                         "partition_by '%s': expected identity(col), bucket(N, col), year(col), month(col), day(col) or "
                         "hour(col)",
                         text);
oom:
    free(name);
    free(args);
    return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
}

void dld_ice_partition_free(struct dld_ice_partition_field *fields, int n)
{
    for (int i = 0; fields && i < n; i++) {
        free(fields[i].source);
        free(fields[i].name);
    }
    free(fields);
}

int dld_ice_partition_parse(const char *item_json, struct dld_ice_partition_field **fields, int *n,
                            struct dld_error *err)
{
    *fields = NULL;
    *n = 0;
    cJSON *item = item_json ? cJSON_Parse(item_json) : NULL;
    const cJSON *pb = cJSON_GetObjectItemCaseSensitive(item, "partition_by");
    if (pb == NULL || cJSON_IsNull(pb)) {
        cJSON_Delete(item);
        return DLD_OK;
    }
    int cnt = cJSON_IsString(pb) ? 1 : cJSON_IsArray(pb) ? cJSON_GetArraySize(pb) : 0;
    struct dld_ice_partition_field *v = cnt > 0 ? calloc((size_t)cnt, sizeof(*v)) : NULL;
    int rc = DLD_OK;
    if (cnt <= 0)
        rc = dld_error_set(err, DLD_ERR_CONFIG, "partition_by must be a transform such as \"day(updated_at)\" or a "
                                                "non-empty array of them");
    else if (v == NULL)
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    for (int i = 0; rc == DLD_OK && i < cnt; i++) {
        const cJSON *e = cJSON_IsString(pb) ? pb : cJSON_GetArrayItem(pb, i);
        if (!cJSON_IsString(e))
            rc = dld_error_set(err, DLD_ERR_CONFIG, "partition_by: every transform must be a string");
        else
            rc = s_parse_one(e->valuestring, &v[i], err);
        for (int j = 0; rc == DLD_OK && j < i; j++)
            if (!strcmp(v[j].name, v[i].name))
                rc = dld_error_set(err, DLD_ERR_CONFIG, "partition_by: two fields are named '%s'", v[i].name);
    }
    cJSON_Delete(item);
    if (rc) {
        dld_ice_partition_free(v, cnt);
        return rc;
    }
    *fields = v;
    *n = cnt;
    return DLD_OK;
}

/* ---- types --------------------------------------------------------------------------------- */

enum s_kind { S_NONE, S_INT, S_DATE32, S_DATE64, S_TS, S_STR, S_STR64, S_DEC };

static enum s_kind s_kind(const char *f)
{
    if (!strcmp(f, "c") || !strcmp(f, "s") || !strcmp(f, "i") || !strcmp(f, "l") || !strcmp(f, "C") ||
        !strcmp(f, "S") || !strcmp(f, "I"))
        return S_INT;
    if (!strcmp(f, "tdD"))
        return S_DATE32;
    if (!strcmp(f, "tdm"))
        return S_DATE64;
    if (!strncmp(f, "ts", 2) && strlen(f) >= 4 && f[3] == ':' && strchr("smun", f[2]))
        return S_TS;
    if (!strcmp(f, "u") || !strcmp(f, "z"))
        return S_STR;
    if (!strcmp(f, "U") || !strcmp(f, "Z"))
        return S_STR64;
    if (!strncmp(f, "d:", 2) && strchr(f + 2, ',') && strchr(strchr(f + 2, ',') + 1, ',') == NULL)
        return S_DEC; /* decimal128 (a third parameter is a bit width other than 128's default) */
    return S_NONE;
}

static bool s_accepts(enum dld_ice_transform t, enum s_kind k)
{
    switch (t) {
    case DLD_ICE_IDENTITY:
        return k == S_INT || k == S_DATE32 || k == S_STR || k == S_STR64;
    case DLD_ICE_BUCKET:
        return k != S_NONE;
    case DLD_ICE_YEAR:
    case DLD_ICE_MONTH:
    case DLD_ICE_DAY:
        return k == S_DATE32 || k == S_DATE64 || k == S_TS;
    case DLD_ICE_HOUR:
        return k == S_TS;
    }
    return false;
}

int dld_ice_partition_check(const struct dld_ice_partition_field *fields, int n, const struct ArrowSchema *schema,
                            int **columns, struct dld_error *err)
{
    int *c = calloc((size_t)(n > 0 ? n : 1), sizeof(*c));
    if (c == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    for (int i = 0; i < n; i++) {
        c[i] = -1;
        for (int64_t k = 0; k < schema->n_children && c[i] < 0; k++)
            if (schema->children[k]->name && !strcmp(schema->children[k]->name, fields[i].source))
                c[i] = (int)k;
        if (c[i] < 0) {
            free(c);
            return dld_error_set(err, DLD_ERR_CONFIG, "partition_by: '%s' is not a column of the load", fields[i].source);
        }
        const char *f = schema->children[c[i]]->format;
        if (!s_accepts(fields[i].transform, s_kind(f))) {
            free(c);
            return dld_error_set(err, DLD_ERR_CONFIG, "partition_by: %s(%s) does not apply to its Arrow type '%s'",
                                 s_names[fields[i].transform], fields[i].source, f);
        }
    }
    *columns = c;
    return DLD_OK;
}

/* ---- values -------------------------------------------------------------------------------- */

static int64_t s_micros(const char *f, int64_t v)
{
    switch (f[2]) {
    case 's':
        return v * 1000000;
    case 'm':
        return v * 1000;
    case 'n':
        return dld_ice_floor_div(v, 1000);
    default:
        return v;
    }
}

int dld_ice_partition_value(const struct dld_ice_partition_field *f, const struct ArrowSchema *type,
                            const struct ArrowArray *col, int64_t row, struct dld_ice_pvalue *out,
                            struct dld_error *err)
{
    memset(out, 0, sizeof(*out));
    int64_t at = col->offset + row;
    const uint8_t *valid = col->n_buffers > 0 ? col->buffers[0] : NULL;
    if (col->null_count != 0 && valid && !(valid[at / 8] & (1u << (at % 8)))) {
        out->is_null = 1;
        return DLD_OK;
    }
    const char *fmt = type->format;
    enum s_kind k = s_kind(fmt);
    const void *b1 = col->n_buffers > 1 ? col->buffers[1] : NULL;
    int64_t iv = 0; /* ints, days (dates), micros (timestamps) */
    switch (k) {
    case S_INT:
        switch (fmt[0]) {
        case 'c': iv = ((const int8_t *)b1)[at]; break;
        case 's': iv = ((const int16_t *)b1)[at]; break;
        case 'i': iv = ((const int32_t *)b1)[at]; break;
        case 'l': iv = ((const int64_t *)b1)[at]; break;
        case 'C': iv = ((const uint8_t *)b1)[at]; break;
        case 'S': iv = ((const uint16_t *)b1)[at]; break;
        default: iv = ((const uint32_t *)b1)[at]; break;
        }
        break;
    case S_DATE32:
        iv = ((const int32_t *)b1)[at];
        break;
    case S_DATE64:
        iv = dld_ice_floor_div(((const int64_t *)b1)[at], 86400000);
        break;
    case S_TS:
        iv = s_micros(fmt, ((const int64_t *)b1)[at]);
        break;
    case S_STR:
    case S_STR64: {
        const unsigned char *data = col->buffers[2];
        int64_t lo, hi;
        if (k == S_STR) {
            lo = ((const int32_t *)b1)[at];
            hi = ((const int32_t *)b1)[at + 1];
        } else {
            lo = ((const int64_t *)b1)[at];
            hi = ((const int64_t *)b1)[at + 1];
        }
        out->bytes = data + lo;
        out->len = (size_t)(hi - lo);
        if (f->transform == DLD_ICE_BUCKET)
            out->i = dld_ice_bucket((int32_t)dld_ice_murmur3_32(out->bytes, out->len, 0), f->n);
        return DLD_OK;
    }
    case S_DEC:
        out->i = dld_ice_bucket(dld_ice_hash_decimal((const unsigned char *)b1 + 16 * at), f->n);
        return DLD_OK;
    default:
        return dld_error_set(err, DLD_ERR_UNSUPPORTED, "partition_by: Arrow type '%s' is not supported", fmt);
    }
    bool days = k == S_DATE32 || k == S_DATE64;
    switch (f->transform) {
    case DLD_ICE_IDENTITY:
        out->i = iv;
        break;
    case DLD_ICE_BUCKET:
        /* dates hash their day number, timestamps their micros: both as a long */
        out->i = dld_ice_bucket(dld_ice_hash_long(iv), f->n);
        break;
    case DLD_ICE_DAY:
        out->i = days ? iv : dld_ice_floor_div(iv, 86400000000LL);
        break;
    case DLD_ICE_MONTH:
        out->i = dld_ice_months_from_days(days ? iv : dld_ice_floor_div(iv, 86400000000LL));
        break;
    case DLD_ICE_YEAR:
        out->i = dld_ice_floor_div(dld_ice_months_from_days(days ? iv : dld_ice_floor_div(iv, 86400000000LL)), 12);
        break;
    case DLD_ICE_HOUR:
        out->i = dld_ice_floor_div(iv, 3600000000LL);
        break;
    }
    return DLD_OK;
}

/* ---- paths and the spec -------------------------------------------------------------------- */

/* as Java's URLEncoder (UTF-8), which Iceberg's partition paths use */
static void s_url_encode(const unsigned char *s, size_t n, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (isalnum(c) || c == '.' || c == '-' || c == '*' || c == '_') {
            out[o++] = (char)c;
        } else if (c == ' ') {
            out[o++] = '+';
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
}

char *dld_ice_partition_path(const struct dld_ice_partition_field *f, const struct ArrowSchema *type,
                             const struct dld_ice_pvalue *v)
{
    char human[64];
    const unsigned char *val = (const unsigned char *)human;
    size_t vlen;
    enum s_kind k = s_kind(type->format);
    int64_t y;
    int m, d;
    if (v->is_null) {
        snprintf(human, sizeof human, "null");
    } else if (f->transform == DLD_ICE_IDENTITY && (k == S_STR || k == S_STR64)) {
        val = v->bytes;
    } else if (f->transform == DLD_ICE_DAY || (f->transform == DLD_ICE_IDENTITY && k == S_DATE32)) {
        s_civil(v->i, &y, &m, &d);
        snprintf(human, sizeof human, "%04" PRId64 "-%02d-%02d", y, m, d);
    } else if (f->transform == DLD_ICE_MONTH) {
        snprintf(human, sizeof human, "%04" PRId64 "-%02d", 1970 + dld_ice_floor_div(v->i, 12),
                 (int)(v->i - 12 * dld_ice_floor_div(v->i, 12)) + 1);
    } else if (f->transform == DLD_ICE_YEAR) {
        snprintf(human, sizeof human, "%04" PRId64, 1970 + v->i);
    } else if (f->transform == DLD_ICE_HOUR) {
        s_civil(dld_ice_floor_div(v->i, 24), &y, &m, &d);
        snprintf(human, sizeof human, "%04" PRId64 "-%02d-%02d-%02d", y, m, d, (int)(v->i - 24 * dld_ice_floor_div(v->i, 24)));
    } else {
        snprintf(human, sizeof human, "%" PRId64, v->i);
    }
    vlen = val == (const unsigned char *)human ? strlen(human) : v->len;
    size_t nlen = strlen(f->name);
    char *out = malloc(3 * (nlen + vlen) + 2);
    if (out == NULL)
        return NULL;
    s_url_encode((const unsigned char *)f->name, nlen, out);
    size_t o = strlen(out);
    out[o++] = '=';
    s_url_encode(val, vlen, out + o);
    return out;
}

char *dld_ice_partition_spec_json(const struct dld_ice_partition_field *fields, int n, const int32_t *source_ids,
                                  int spec_id)
{
    cJSON *spec = cJSON_CreateObject(), *arr = NULL;
    bool ok = spec && cJSON_AddNumberToObject(spec, "spec-id", spec_id) &&
              (arr = cJSON_AddArrayToObject(spec, "fields")) != NULL;
    for (int i = 0; ok && i < n; i++) {
        char t[32];
        if (fields[i].transform == DLD_ICE_BUCKET)
            snprintf(t, sizeof t, "bucket[%d]", (int)fields[i].n);
        else
            snprintf(t, sizeof t, "%s", s_names[fields[i].transform]);
        cJSON *o = cJSON_CreateObject();
        ok = o && cJSON_AddItemToArray(arr, o) && cJSON_AddStringToObject(o, "name", fields[i].name) &&
             cJSON_AddStringToObject(o, "transform", t) && cJSON_AddNumberToObject(o, "source-id", source_ids[i]) &&
             cJSON_AddNumberToObject(o, "field-id", 1000 + i);
    }
    char *out = ok ? cJSON_PrintUnformatted(spec) : NULL;
    cJSON_Delete(spec);
    return out;
}

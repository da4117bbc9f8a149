/*
 * Column statistics of Iceberg data files (iceberg_stats.h). The Parquet
 * writer keeps min, max and null counts per column chunk in Parquet's PLAIN
 * encoding; Iceberg's single-value serialization is the same bytes for
 * boolean, int, long, float, double, date, time, timestamp, string and
 * binary (little-endian numbers, the bytes of strings), and differs for
 * decimals: Iceberg wants the unscaled value as big-endian two's
 * complement in as few bytes as hold it, where Parquet stores INT32/INT64
 * little-endian (up to 18 digits) or fixed-length big-endian.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <deltaload/sdk.h>

#include "iceberg_stats.h"

/* big-endian two's complement without redundant sign bytes */
static size_t s_minimal_be(const unsigned char *be, size_t n, unsigned char *out)
{
    size_t skip = 0;
    while (skip + 1 < n && ((be[skip] == 0x00 && !(be[skip + 1] & 0x80)) || (be[skip] == 0xff && (be[skip + 1] & 0x80))))
        skip++;
    memcpy(out, be + skip, n - skip);
    return n - skip;
}

/* one bound of a column whose Arrow format is f: 0 when Iceberg cannot state it */
static int s_bound(const char *f, const unsigned char *plain, size_t n, unsigned char *out, size_t *len)
{
    if (!strncmp(f, "d:", 2)) {
        unsigned char be[16];
        if (n == 4 || n == 8) { /* INT32 / INT64 little-endian: sign-extend to 8 bytes, reverse */
            int64_t v;
            if (n == 4) {
                int32_t x;
                memcpy(&x, plain, 4);
                v = x;
            } else {
                memcpy(&v, plain, 8);
            }
            for (int i = 0; i < 8; i++)
                be[i] = (unsigned char)((uint64_t)v >> (56 - 8 * i));
            *len = s_minimal_be(be, 8, out);
            return 1;
        }
        if (n == 0 || n > 16)
            return 0;
        *len = s_minimal_be(plain, n, out);
        return 1;
    }
    if (n > DLD_ICEBERG_BOUND_MAX)
        return 0;
    if (n) /* the empty string's bound: no bytes (and maybe no pointer) */
        memcpy(out, plain, n);
    *len = n;
    return 1;
}

int dld_ice_file_stats(const struct dld_format_writer *w, const struct ArrowSchema *schema, const int32_t *ids,
                       struct dld_iceberg_file_stats *out, struct dld_error *err)
{
    memset(out, 0, sizeof(*out));
    int64_t n = schema->n_children;
    out->cols = calloc((size_t)n + 1, sizeof(*out->cols));
    if (out->cols == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        struct dld_format_column_stats s;
        if (dld_format_writer_column_stats(w, (size_t)i, &s) != DLD_OK)
            continue;
        const char *f = schema->children[i]->format ? schema->children[i]->format : "";
        struct dld_iceberg_column_stats *c = &out->cols[out->ncols++];
        c->field_id = ids[i];
        c->values = s.values;
        c->nulls = s.nulls;
        /* a float column's bounds leave NaN out (Parquet's do too); Iceberg wants the same */
        c->has_lower = s.has_min && s_bound(f, s.min, s.min_len, c->lower, &c->lower_len);
        c->has_upper = s.has_max && s_bound(f, s.max, s.max_len, c->upper, &c->upper_len);
    }
    return DLD_OK;
}

void dld_ice_file_stats_clean_up(struct dld_iceberg_file_stats *s)
{
    if (s) {
        free(s->cols);
        s->cols = NULL;
        s->ncols = 0;
    }
}

void dld_ice_file_stats_free(struct dld_iceberg_file_stats *v, int n)
{
    for (int i = 0; v && i < n; i++)
        dld_ice_file_stats_clean_up(&v[i]);
    free(v);
}

static void s_hex(const unsigned char *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
    out[2 * n] = '\0';
}

static size_t s_unhex(const char *s, unsigned char *out, size_t cap)
{
    size_t n = 0;
    for (; s && s[0] && s[1] && n < cap; s += 2) {
        unsigned v;
        if (sscanf(s, "%2x", &v) != 1)
            break;
        out[n++] = (unsigned char)v;
    }
    return n;
}

cJSON *dld_ice_file_stats_json(const struct dld_iceberg_file_stats *v, int n)
{
    cJSON *all = cJSON_CreateArray();
    for (int i = 0; all && i < n; i++) {
        cJSON *file = cJSON_CreateArray();
        if (!file || !cJSON_AddItemToArray(all, file)) {
            cJSON_Delete(file);
            cJSON_Delete(all);
            return NULL;
        }
        for (int k = 0; k < v[i].ncols; k++) {
            const struct dld_iceberg_column_stats *c = &v[i].cols[k];
            char hex[2 * DLD_ICEBERG_BOUND_MAX + 1];
            cJSON *o = cJSON_CreateObject();
            if (!o || !cJSON_AddItemToArray(file, o)) {
                cJSON_Delete(o);
                cJSON_Delete(all);
                return NULL;
            }
            bool ok = cJSON_AddNumberToObject(o, "id", c->field_id) &&
                      cJSON_AddNumberToObject(o, "values", (double)c->values) &&
                      cJSON_AddNumberToObject(o, "nulls", (double)c->nulls);
            if (ok && c->has_lower) {
                s_hex(c->lower, c->lower_len, hex);
                ok = cJSON_AddStringToObject(o, "lower", hex) != NULL;
            }
            if (ok && c->has_upper) {
                s_hex(c->upper, c->upper_len, hex);
                ok = cJSON_AddStringToObject(o, "upper", hex) != NULL;
            }
            if (!ok) {
                cJSON_Delete(all);
                return NULL;
            }
        }
    }
    return all;
}

int dld_ice_file_stats_parse(const cJSON *json, int n, struct dld_iceberg_file_stats **out)
{
    struct dld_iceberg_file_stats *v = calloc((size_t)n + 1, sizeof(*v));
    if (v == NULL)
        return DLD_ERR_FATAL;
    for (int i = 0; i < n; i++) {
        const cJSON *file = cJSON_GetArrayItem(json, i), *o;
        v[i].cols = calloc((size_t)cJSON_GetArraySize(file) + 1, sizeof(*v[i].cols));
        if (v[i].cols == NULL) {
            dld_ice_file_stats_free(v, n);
            return DLD_ERR_FATAL;
        }
        cJSON_ArrayForEach(o, file)
        {
            struct dld_iceberg_column_stats *c = &v[i].cols[v[i].ncols++];
            c->field_id = (int32_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "id"));
            c->values = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "values"));
            c->nulls = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "nulls"));
            const char *lo = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "lower"));
            const char *up = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "upper"));
            if ((c->has_lower = lo != NULL))
                c->lower_len = s_unhex(lo, c->lower, sizeof c->lower);
            if ((c->has_upper = up != NULL))
                c->upper_len = s_unhex(up, c->upper, sizeof c->upper);
        }
    }
    *out = v;
    return DLD_OK;
}

/*
 * Iceberg manifests and manifest lists as Avro object container files,
 * encoded with Apache Avro C (libavro). Avro C's file writer cannot store
 * the key/value metadata Iceberg requires in the header (schema,
 * partition-spec, format-version, content, ...), so the container is
 * assembled here from parts Avro C encodes: the header's metadata map, the
 * block counts and every record. The schemas carry Iceberg's field ids
 * ("field-id", "element-id") as the spec's Avro mapping asks.
 */
#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>
#include <cjson/cJSON.h>
#include <deltaload/sdk.h>

#include "iceberg_delete.h"
#include "iceberg_internal.h"

/* an optional map<int, T> of data_file as the spec writes maps whose keys
 * are not strings in Avro: an array of key/value records (logicalType map) */
#define S_MAP(name, id, kid, vtype, vid)                                                                               \
    "{\"name\":\"" name "\",\"type\":[\"null\",{\"type\":\"array\",\"logicalType\":\"map\",\"items\":{"                \
    "\"type\":\"record\",\"name\":\"k" #kid "_v" #vid "\",\"fields\":[{\"name\":\"key\",\"type\":\"int\",\"field-id\":" #kid \
    "},{\"name\":\"value\",\"type\":\"" vtype "\",\"field-id\":" #vid "}]}}],\"default\":null,\"field-id\":" #id "}"

/* manifest_entry of a v2 manifest for an unpartitioned table (the spec's
 * required fields plus the optional ones a reader of deltaload's files may
 * look for, left null) */
static const char s_entry_schema[] =
    "{\"type\":\"record\",\"name\":\"manifest_entry\",\"fields\":["
    "{\"name\":\"status\",\"type\":\"int\",\"field-id\":0},"
    "{\"name\":\"snapshot_id\",\"type\":[\"null\",\"long\"],\"default\":null,\"field-id\":1},"
    "{\"name\":\"sequence_number\",\"type\":[\"null\",\"long\"],\"default\":null,\"field-id\":3},"
    "{\"name\":\"file_sequence_number\",\"type\":[\"null\",\"long\"],\"default\":null,\"field-id\":4},"
    "{\"name\":\"data_file\",\"type\":{\"type\":\"record\",\"name\":\"r2\",\"fields\":["
    "{\"name\":\"content\",\"type\":\"int\",\"field-id\":134},"
    "{\"name\":\"file_path\",\"type\":\"string\",\"field-id\":100},"
    "{\"name\":\"file_format\",\"type\":\"string\",\"field-id\":101},"
    "{\"name\":\"partition\",\"type\":{\"type\":\"record\",\"name\":\"r102\",\"fields\":[]},\"field-id\":102},"
    "{\"name\":\"record_count\",\"type\":\"long\",\"field-id\":103},"
    "{\"name\":\"file_size_in_bytes\",\"type\":\"long\",\"field-id\":104},"
    S_MAP("value_counts", 109, 119, "long", 120) "," S_MAP("null_value_counts", 110, 121, "long", 122) ","
    S_MAP("lower_bounds", 125, 126, "bytes", 127) "," S_MAP("upper_bounds", 128, 129, "bytes", 130) ","
    "{\"name\":\"key_metadata\",\"type\":[\"null\",\"bytes\"],\"default\":null,\"field-id\":131},"
    "{\"name\":\"split_offsets\",\"type\":[\"null\",{\"type\":\"array\",\"items\":\"long\",\"element-id\":133}],"
    "\"default\":null,\"field-id\":132},"
    "{\"name\":\"equality_ids\",\"type\":[\"null\",{\"type\":\"array\",\"items\":\"int\",\"element-id\":136}],"
    "\"default\":null,\"field-id\":135},"
    "{\"name\":\"sort_order_id\",\"type\":[\"null\",\"int\"],\"default\":null,\"field-id\":140}"
    "]},\"field-id\":2}]}";

/* manifest_file of a v2 manifest list (partitions: the field summaries of
 * a partitioned table's data manifests, null otherwise) */
static const char s_list_schema[] =
    "{\"type\":\"record\",\"name\":\"manifest_file\",\"fields\":["
    "{\"name\":\"manifest_path\",\"type\":\"string\",\"field-id\":500},"
    "{\"name\":\"manifest_length\",\"type\":\"long\",\"field-id\":501},"
    "{\"name\":\"partition_spec_id\",\"type\":\"int\",\"field-id\":502},"
    "{\"name\":\"content\",\"type\":\"int\",\"field-id\":517},"
    "{\"name\":\"sequence_number\",\"type\":\"long\",\"field-id\":515},"
    "{\"name\":\"min_sequence_number\",\"type\":\"long\",\"field-id\":516},"
    "{\"name\":\"added_snapshot_id\",\"type\":\"long\",\"field-id\":503},"
    "{\"name\":\"added_files_count\",\"type\":\"int\",\"field-id\":504},"
    "{\"name\":\"existing_files_count\",\"type\":\"int\",\"field-id\":505},"
    "{\"name\":\"deleted_files_count\",\"type\":\"int\",\"field-id\":506},"
    "{\"name\":\"added_rows_count\",\"type\":\"long\",\"field-id\":512},"
    "{\"name\":\"existing_rows_count\",\"type\":\"long\",\"field-id\":513},"
    "{\"name\":\"deleted_rows_count\",\"type\":\"long\",\"field-id\":514},"
    "{\"name\":\"partitions\",\"type\":[\"null\",{\"type\":\"array\",\"items\":{\"type\":\"record\",\"name\":\"r508\","
    "\"fields\":[{\"name\":\"contains_null\",\"type\":\"boolean\",\"field-id\":509},"
    "{\"name\":\"contains_nan\",\"type\":[\"null\",\"boolean\"],\"default\":null,\"field-id\":518},"
    "{\"name\":\"lower_bound\",\"type\":[\"null\",\"bytes\"],\"default\":null,\"field-id\":510},"
    "{\"name\":\"upper_bound\",\"type\":[\"null\",\"bytes\"],\"default\":null,\"field-id\":511}]},"
    "\"element-id\":508}],\"default\":null,\"field-id\":507}"
    "]}";

/* the "schema-id" of a schema's JSON text (the manifests' header), "0" when absent */
static const char *s_schema_id(const char *schema_json, char buf[24])
{
    const char *p = schema_json ? strstr(schema_json, "\"schema-id\":") : NULL;
    snprintf(buf, 24, "%ld", p ? strtol(p + strlen("\"schema-id\":"), NULL, 10) : 0L);
    return buf;
}

static int s_avro_err(struct dld_error *err, const char *what)
{
    return dld_error_set(err, DLD_ERR_FATAL, "avro: %s: %s", what, avro_strerror());
}

void dld_ice_buf_put(struct dld_ice_buf *b, const void *data, size_t len)
{
    if (b->oom)
        return;
    if (b->n + len > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + len)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, len);
    b->n += len;
}

/* Appends the Avro binary encoding of value (with Avro C). */
static int s_encode(struct dld_ice_buf *b, avro_value_t *value, struct dld_error *err)
{
    size_t size = 0;
    if (avro_value_sizeof(value, &size))
        return s_avro_err(err, "sizing a value");
    char *tmp = malloc(size ? size : 1);
    if (tmp == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    avro_writer_t w = avro_writer_memory(tmp, (int64_t)size);
    int rc = w && avro_value_write(w, value) == 0 ? DLD_OK : s_avro_err(err, "encoding a value");
    if (rc == DLD_OK)
        dld_ice_buf_put(b, tmp, (size_t)avro_writer_tell(w));
    if (w)
        avro_writer_free(w);
    free(tmp);
    return rc;
}

static int s_encode_long(struct dld_ice_buf *b, int64_t v, struct dld_error *err)
{
    avro_schema_t s = avro_schema_long();
    avro_value_iface_t *iface = avro_generic_class_from_schema(s);
    avro_value_t value;
    int rc = iface && avro_generic_value_new(iface, &value) == 0 ? DLD_OK : s_avro_err(err, "a long");
    if (rc == DLD_OK) {
        avro_value_set_long(&value, v);
        rc = s_encode(b, &value, err);
        avro_value_decref(&value);
    }
    if (iface)
        avro_value_iface_decref(iface);
    avro_schema_decref(s);
    return rc;
}

/* 16 bytes from a seed (FNV-1a, twice): deterministic, so that a file
 * written again for the same load has the same bytes */
static void s_sync(const char *seed, unsigned char out[16])
{
    uint64_t h1 = 1469598103934665603ULL, h2 = 1099511628211ULL * 31;
    for (const unsigned char *p = (const unsigned char *)seed; *p; p++) {
        h1 = (h1 ^ *p) * 1099511628211ULL;
        h2 = (h2 ^ *p) * 1099511628211ULL + 0x9e3779b97f4a7c15ULL;
    }
    memcpy(out, &h1, 8);
    memcpy(out + 8, &h2, 8);
}

/* Header: magic, metadata map (avro.schema, avro.codec, then kv), sync. */
static int s_header(struct dld_ice_buf *b, const char *schema_json, const char *const *kv, const unsigned char sync[16],
                    struct dld_error *err)
{
    dld_ice_buf_put(b, "Obj\x01", 4);
    avro_schema_t bytes = avro_schema_bytes();
    avro_schema_t map = avro_schema_map(bytes);
    avro_value_iface_t *iface = avro_generic_class_from_schema(map);
    avro_value_t value;
    int rc = iface && avro_generic_value_new(iface, &value) == 0 ? DLD_OK : s_avro_err(err, "the header map");
    if (rc == DLD_OK) {
        avro_value_t e;
        rc |= avro_value_add(&value, "avro.schema", &e, NULL, NULL) ||
              avro_value_set_bytes(&e, (void *)schema_json, strlen(schema_json));
        rc |= avro_value_add(&value, "avro.codec", &e, NULL, NULL) || avro_value_set_bytes(&e, "null", 4);
        for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2)
            rc |= avro_value_add(&value, kv[i], &e, NULL, NULL) ||
                  avro_value_set_bytes(&e, (void *)kv[i + 1], strlen(kv[i + 1]));
        rc = rc ? s_avro_err(err, "the header map") : s_encode(b, &value, err);
        avro_value_decref(&value);
    }
    if (iface)
        avro_value_iface_decref(iface);
    avro_schema_decref(map);
    avro_schema_decref(bytes);
    dld_ice_buf_put(b, sync, 16);
    return rc;
}

/* One block holding all records (already encoded), then the sync marker. */
static int s_block(struct dld_ice_buf *b, int64_t count, const struct dld_ice_buf *records, const unsigned char sync[16],
                   struct dld_error *err)
{
    if (count == 0)
        return DLD_OK;
    int rc;
    if ((rc = s_encode_long(b, count, err)) || (rc = s_encode_long(b, (int64_t)records->n, err)))
        return rc;
    dld_ice_buf_put(b, records->p, records->n);
    dld_ice_buf_put(b, sync, 16);
    return DLD_OK;
}

static int s_finish(struct dld_ice_buf *b, struct dld_ice_buf *records, int rc, void **out, size_t *len, struct dld_error *err)
{
    free(records->p);
    if (rc == DLD_OK && b->oom)
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    if (rc) {
        free(b->p);
        return rc;
    }
    *out = b->p;
    *len = b->n;
    return DLD_OK;
}

#define S_SET(expr)                                                                                                    \
    do {                                                                                                               \
        if ((expr) != 0)                                                                                               \
            bad = 1;                                                                                                   \
    } while (0)

/* value_counts, null_value_counts, lower_bounds, upper_bounds of a data
 * file (NULL: null maps); non-zero when Avro C failed */
static int s_set_stats(avro_value_t *df, const struct dld_iceberg_file_stats *st)
{
    static const char *const maps[] = {"value_counts", "null_value_counts", "lower_bounds", "upper_bounds"};
    int bad = 0;
    for (int m = 0; m < 4; m++) {
        avro_value_t f, br, el, kv;
        S_SET(avro_value_get_by_name(df, maps[m], &f, NULL));
        if (st == NULL) {
            S_SET(avro_value_set_branch(&f, 0, &br));
            S_SET(avro_value_set_null(&br));
            continue;
        }
        S_SET(avro_value_set_branch(&f, 1, &br));
        for (int k = 0; k < st->ncols; k++) {
            const struct dld_iceberg_column_stats *c = &st->cols[k];
            if ((m == 2 && !c->has_lower) || (m == 3 && !c->has_upper))
                continue;
            S_SET(avro_value_append(&br, &el, NULL));
            S_SET(avro_value_get_by_name(&el, "key", &kv, NULL));
            S_SET(avro_value_set_int(&kv, c->field_id));
            S_SET(avro_value_get_by_name(&el, "value", &kv, NULL));
            if (m == 0)
                S_SET(avro_value_set_long(&kv, c->values));
            else if (m == 1)
                S_SET(avro_value_set_long(&kv, c->nulls));
            else if (m == 2)
                S_SET(avro_value_set_bytes(&kv, (void *)c->lower, c->lower_len));
            else
                S_SET(avro_value_set_bytes(&kv, (void *)c->upper, c->upper_len));
        }
    }
    return bad;
}

/* The end of a manifest (data or deletes): the container header with the
 * metadata Iceberg requires, the one block of entries, and the bytes out.
 * The sync marker is derived from the load uid so that a manifest written
 * again (a roll-forward) has the same bytes. */
static int s_manifest_end(struct dld_ice_buf *b, struct dld_ice_buf *records, int rc, const char *kind,
                          const char *load_uid, const char *schema_json, const char *content, int64_t count,
                          const char *entry_schema, const char *spec_fields, void **out, size_t *len,
                          struct dld_error *err)
{
    unsigned char sync[16];
    char seed[64];
    snprintf(seed, sizeof seed, "%s-%s", kind, load_uid);
    s_sync(seed, sync);
    char sid[24];
    const char *const kv[] = {"schema", schema_json, "schema-id", s_schema_id(schema_json, sid), "partition-spec",
                              spec_fields ? spec_fields : "[]", "partition-spec-id", "0", "format-version", "2",
                              "content", content, NULL};
    if (rc == DLD_OK)
        rc = s_header(b, entry_schema ? entry_schema : s_entry_schema, kv, sync, err);
    if (rc == DLD_OK)
        rc = s_block(b, count, records, sync, err);
    return s_finish(b, records, rc, out, len, err);
}

/* The part of a manifest entry every file shares: status ADDED with the
 * snapshot id and sequence numbers inherited (null), then data_file's
 * content (0 data, 1 position deletes, 2 equality deletes), path, format,
 * counts, and null key_metadata/split_offsets/sort_order_id. *df is left on
 * data_file for what differs (equality_ids, stats). Non-zero when Avro C
 * failed. */
static int s_entry_added(avro_value_t *rec, avro_value_t *df, int content, const char *path, int64_t rows,
                         int64_t bytes)
{
    int bad = 0;
    avro_value_t f, br;
    S_SET(avro_value_get_by_name(rec, "status", &f, NULL));
    S_SET(avro_value_set_int(&f, 1)); /* ADDED */
    static const char *const inherited[] = {"snapshot_id", "sequence_number", "file_sequence_number"};
    for (int k = 0; k < 3; k++) {
        S_SET(avro_value_get_by_name(rec, inherited[k], &f, NULL));
        S_SET(avro_value_set_branch(&f, 0, &br));
        S_SET(avro_value_set_null(&br));
    }
    S_SET(avro_value_get_by_name(rec, "data_file", df, NULL));
    S_SET(avro_value_get_by_name(df, "content", &f, NULL));
    S_SET(avro_value_set_int(&f, content));
    S_SET(avro_value_get_by_name(df, "file_path", &f, NULL));
    S_SET(avro_value_set_string(&f, path));
    S_SET(avro_value_get_by_name(df, "file_format", &f, NULL));
    S_SET(avro_value_set_string(&f, "PARQUET"));
    S_SET(avro_value_get_by_name(df, "record_count", &f, NULL));
    S_SET(avro_value_set_long(&f, rows));
    S_SET(avro_value_get_by_name(df, "file_size_in_bytes", &f, NULL));
    S_SET(avro_value_set_long(&f, bytes));
    static const char *const nulls[] = {"key_metadata", "split_offsets", "sort_order_id"};
    for (int k = 0; k < 3; k++) {
        S_SET(avro_value_get_by_name(df, nulls[k], &f, NULL));
        S_SET(avro_value_set_branch(&f, 0, &br));
        S_SET(avro_value_set_null(&br));
    }
    return bad;
}

/* ---- the partition record of a partitioned table (docs/iceberg.md, "Partitioning") ---------- */

enum s_ptype { S_P_INT, S_P_LONG, S_P_STRING };

/* The table's partition spec as the manifest needs it: the Avro fields of
 * the record data_file.partition (r102: one optional field per partition
 * field, field id 1000 + i, int for bucket/year/month/day/hour, the source
 * column's type for identity), the header's "partition-spec" (the spec's
 * fields array) and each field's value type. */
struct s_pspec {
    char *entry_schema; /* s_entry_schema with r102's fields */
    char *spec_fields;
    enum s_ptype *types;
    int n;
};

static void s_pspec_clean_up(struct s_pspec *p)
{
    free(p->entry_schema);
    free(p->spec_fields);
    free(p->types);
}

/* Avro names: [A-Za-z_][A-Za-z0-9_]*; others are made valid the way
 * Iceberg's Java writer does (AvroSchemaUtil.makeCompatibleName: '_x' and
 * the character's hex code, '_' before a leading digit) */
static void s_avro_name(struct dld_ice_buf *b, const char *name)
{
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || (*p >= '0' && *p <= '9');
        if (p == (const unsigned char *)name && *p >= '0' && *p <= '9') {
            dld_ice_buf_put(b, "_", 1);
        } else if (!ok) {
            char hex[8];
            int n = snprintf(hex, sizeof hex, "_x%X", *p);
            dld_ice_buf_put(b, hex, (size_t)n);
            continue;
        }
        dld_ice_buf_put(b, p, 1);
    }
}

static int s_pspec_make(const char *spec_json, const char *schema_json, struct s_pspec *out, struct dld_error *err)
{
    memset(out, 0, sizeof(*out));
    cJSON *spec = cJSON_Parse(spec_json), *schema = cJSON_Parse(schema_json ? schema_json : "{}");
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(spec, "fields"), *f;
    int n = cJSON_GetArraySize(fields), i = 0, rc = DLD_OK;
    struct dld_ice_buf b = {0};
    out->types = calloc((size_t)n + 1, sizeof(*out->types));
    out->spec_fields = fields ? cJSON_PrintUnformatted(fields) : NULL;
    if (!cJSON_IsArray(fields) || out->types == NULL || out->spec_fields == NULL)
        rc = dld_error_set(err, DLD_ERR_FATAL, "iceberg: the partition spec %s is not usable", spec_json);
    static const char r102[] = "{\"type\":\"record\",\"name\":\"r102\",\"fields\":[]}";
    const char *at = strstr(s_entry_schema, r102);
    dld_ice_buf_put(&b, s_entry_schema, (size_t)(at - s_entry_schema) + sizeof r102 - 3); /* up to '[' */
    const cJSON *walk = rc ? NULL : fields;
    cJSON_ArrayForEach(f, walk)
    {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "name"));
        const char *tr = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "transform"));
        const cJSON *src = cJSON_GetObjectItemCaseSensitive(f, "source-id"), *c;
        const char *stype = NULL;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(schema, "fields"))
        {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id");
            if (cJSON_IsNumber(id) && cJSON_IsNumber(src) && id->valueint == src->valueint)
                stype = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "type"));
        }
        const char *avro = "\"int\"";
        out->types[i] = S_P_INT;
        if (name == NULL || tr == NULL) {
            rc = dld_error_set(err, DLD_ERR_FATAL, "iceberg: the partition spec %s is not usable", spec_json);
            break;
        }
        if (strcmp(tr, "identity") == 0) {
            if (stype && strcmp(stype, "long") == 0) {
                avro = "\"long\"";
                out->types[i] = S_P_LONG;
            } else if (stype && strcmp(stype, "string") == 0) {
                avro = "\"string\"";
                out->types[i] = S_P_STRING;
            } else if (stype && strcmp(stype, "date") == 0) {
                avro = "{\"type\":\"int\",\"logicalType\":\"date\"}";
            } else if (!stype || strcmp(stype, "int") != 0) {
                rc = dld_error_set(err, DLD_ERR_UNSUPPORTED,
                                   "iceberg: partition field %s: identity of a %s column is not supported", name,
                                   stype ? stype : "missing");
                break;
            }
        } else if (strcmp(tr, "day") == 0) {
            avro = "{\"type\":\"int\",\"logicalType\":\"date\"}";
        }
        char head[64];
        dld_ice_buf_put(&b, i ? ",{\"name\":\"" : "{\"name\":\"", i ? 10 : 9);
        s_avro_name(&b, name);
        dld_ice_buf_put(&b, "\",\"type\":[\"null\",", 17);
        dld_ice_buf_put(&b, avro, strlen(avro));
        int hn = snprintf(head, sizeof head, "],\"default\":null,\"field-id\":%d}", 1000 + i);
        dld_ice_buf_put(&b, head, (size_t)hn);
        i++;
    }
    dld_ice_buf_put(&b, at + sizeof r102 - 3, strlen(at + sizeof r102 - 3) + 1); /* "]}" on, with the NUL */
    cJSON_Delete(spec);
    cJSON_Delete(schema);
    if (rc == DLD_OK && b.oom)
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    out->entry_schema = b.p;
    out->n = i;
    if (rc)
        s_pspec_clean_up(out);
    return rc;
}

/* data_file.partition of one file: its values (a JSON array of strings
 * and nulls, iceberg.h) by the field types; non-zero when Avro C failed or
 * the values do not fit the spec */
static int s_set_partition(avro_value_t *df, const struct s_pspec *p, const char *values_json)
{
    int bad = 0;
    avro_value_t part, f, br;
    cJSON *v = cJSON_Parse(values_json ? values_json : "[]");
    if (cJSON_GetArraySize(v) != p->n)
        bad = 1;
    S_SET(avro_value_get_by_name(df, "partition", &part, NULL));
    for (int k = 0; !bad && k < p->n; k++) {
        const char *s = cJSON_GetStringValue(cJSON_GetArrayItem(v, k));
        S_SET(avro_value_get_by_index(&part, (size_t)k, &f, NULL));
        if (s == NULL) {
            S_SET(avro_value_set_branch(&f, 0, &br));
            S_SET(avro_value_set_null(&br));
            continue;
        }
        S_SET(avro_value_set_branch(&f, 1, &br));
        if (p->types[k] == S_P_STRING)
            S_SET(avro_value_set_string(&br, s));
        else if (p->types[k] == S_P_LONG)
            S_SET(avro_value_set_long(&br, strtoll(s, NULL, 10)));
        else
            S_SET(avro_value_set_int(&br, (int32_t)strtol(s, NULL, 10)));
    }
    cJSON_Delete(v);
    return bad;
}

int dld_ice_write_manifest(const char *location, const char *schema_json, const struct dld_iceberg_load *ld, void **out,
                           size_t *len, struct dld_error *err)
{
    *out = NULL;
    *len = 0;
    struct s_pspec ps = {0};
    const char *partition_spec = ld->partition_spec;
    int rc = partition_spec ? s_pspec_make(partition_spec, schema_json, &ps, err) : DLD_OK;
    if (rc)
        return rc;
    const char *entry_schema = ps.entry_schema ? ps.entry_schema : s_entry_schema;
    avro_schema_t schema = NULL;
    if (avro_schema_from_json_length(entry_schema, strlen(entry_schema), &schema)) {
        s_pspec_clean_up(&ps);
        return s_avro_err(err, "the manifest_entry schema");
    }
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t rec;
    struct dld_ice_buf b = {0}, records = {0};
    bool have = iface && avro_generic_value_new(iface, &rec) == 0;
    rc = have ? DLD_OK : s_avro_err(err, "a manifest entry");
    for (int i = 0; rc == DLD_OK && i < ld->nfiles; i++) {
        int bad = 0;
        avro_value_t f, df, br;
        char *path = NULL;
        if (asprintf(&path, "%s/%s", location, ld->files[i].name) < 0) {
            rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
            break;
        }
        avro_value_reset(&rec);
        bad |= s_entry_added(&rec, &df, 0, path, ld->files[i].rows, ld->files[i].bytes);
        S_SET(avro_value_get_by_name(&df, "equality_ids", &f, NULL));
        S_SET(avro_value_set_branch(&f, 0, &br));
        S_SET(avro_value_set_null(&br));
        bad |= s_set_stats(&df, ld->file_stats ? &ld->file_stats[i] : NULL);
        if (ps.entry_schema)
            bad |= s_set_partition(&df, &ps, ld->file_partitions ? ld->file_partitions[i] : NULL);
        free(path);
        rc = bad ? s_avro_err(err, "filling a manifest entry") : s_encode(&records, &rec, err);
    }
    if (have)
        avro_value_decref(&rec);
    if (iface)
        avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    rc = s_manifest_end(&b, &records, rc, "manifest", ld->load_uid, schema_json, "data", ld->nfiles, ps.entry_schema,
                        ps.spec_fields, out, len, err);
    s_pspec_clean_up(&ps);
    return rc;
}

int dld_ice_write_manifest_list(const struct dld_ice_mf *v, int n, int64_t snapshot_id, int64_t parent_id, int64_t seq,
                                void **out, size_t *len, struct dld_error *err)
{
    *out = NULL;
    *len = 0;
    avro_schema_t schema = NULL;
    if (avro_schema_from_json_length(s_list_schema, sizeof s_list_schema - 1, &schema))
        return s_avro_err(err, "the manifest_file schema");
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t rec;
    struct dld_ice_buf b = {0}, records = {0};
    bool have = iface && avro_generic_value_new(iface, &rec) == 0;
    int rc = have ? DLD_OK : s_avro_err(err, "a manifest list entry");
    for (int i = 0; rc == DLD_OK && i < n; i++) {
        int bad = 0;
        avro_value_t f;
        avro_value_reset(&rec);
#define S_FIELD(name, setter, val)                                                                                     \
    S_SET(avro_value_get_by_name(&rec, name, &f, NULL));                                                               \
    S_SET(setter(&f, val))
        S_FIELD("manifest_path", avro_value_set_string, v[i].path);
        S_FIELD("manifest_length", avro_value_set_long, v[i].length);
        S_FIELD("partition_spec_id", avro_value_set_int, v[i].spec_id);
        S_FIELD("content", avro_value_set_int, v[i].content);
        S_FIELD("sequence_number", avro_value_set_long, v[i].seq);
        S_FIELD("min_sequence_number", avro_value_set_long, v[i].min_seq);
        S_FIELD("added_snapshot_id", avro_value_set_long, v[i].snapshot_id);
        S_FIELD("added_files_count", avro_value_set_int, v[i].added_files);
        S_FIELD("existing_files_count", avro_value_set_int, v[i].existing_files);
        S_FIELD("deleted_files_count", avro_value_set_int, v[i].deleted_files);
        S_FIELD("added_rows_count", avro_value_set_long, v[i].added_rows);
        S_FIELD("existing_rows_count", avro_value_set_long, v[i].existing_rows);
        S_FIELD("deleted_rows_count", avro_value_set_long, v[i].deleted_rows);
#undef S_FIELD
        avro_value_t br, el, x, xb;
        S_SET(avro_value_get_by_name(&rec, "partitions", &f, NULL));
        S_SET(avro_value_set_branch(&f, v[i].parts ? 1 : 0, &br));
        if (v[i].parts == NULL)
            S_SET(avro_value_set_null(&br));
        for (int k = 0; v[i].parts && k < v[i].nparts; k++) {
            const struct dld_ice_fsum *ps = &v[i].parts[k];
            S_SET(avro_value_append(&br, &el, NULL));
            S_SET(avro_value_get_by_name(&el, "contains_null", &x, NULL));
            S_SET(avro_value_set_boolean(&x, ps->contains_null));
            S_SET(avro_value_get_by_name(&el, "contains_nan", &x, NULL));
            S_SET(avro_value_set_branch(&x, 0, &xb));
            S_SET(avro_value_set_null(&xb));
            S_SET(avro_value_get_by_name(&el, "lower_bound", &x, NULL));
            S_SET(avro_value_set_branch(&x, ps->lower ? 1 : 0, &xb));
            S_SET(ps->lower ? avro_value_set_bytes(&xb, ps->lower, ps->lower_len) : avro_value_set_null(&xb));
            S_SET(avro_value_get_by_name(&el, "upper_bound", &x, NULL));
            S_SET(avro_value_set_branch(&x, ps->upper ? 1 : 0, &xb));
            S_SET(ps->upper ? avro_value_set_bytes(&xb, ps->upper, ps->upper_len) : avro_value_set_null(&xb));
        }
        rc = bad ? s_avro_err(err, "filling a manifest list entry") : s_encode(&records, &rec, err);
    }
    if (have)
        avro_value_decref(&rec);
    if (iface)
        avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    unsigned char sync[16];
    char seed[96], sid[24], pid[24], sq[24];
    snprintf(seed, sizeof seed, "list-%" PRId64 "-%" PRId64, snapshot_id, seq);
    s_sync(seed, sync);
    snprintf(sid, sizeof sid, "%" PRId64, snapshot_id);
    snprintf(pid, sizeof pid, "%" PRId64, parent_id);
    snprintf(sq, sizeof sq, "%" PRId64, seq);
    const char *const kv[] = {"snapshot-id", sid, "sequence-number", sq, "format-version", "2",
                              parent_id >= 0 ? "parent-snapshot-id" : NULL, pid, NULL};
    if (rc == DLD_OK)
        rc = s_header(&b, s_list_schema, kv, sync, err);
    if (rc == DLD_OK)
        rc = s_block(&b, n, &records, sync, err);
    return s_finish(&b, &records, rc, out, len, err);
}

void dld_ice_fsum_free(struct dld_ice_fsum *v, int n)
{
    for (int i = 0; v && i < n; i++) {
        free(v[i].lower);
        free(v[i].upper);
    }
    free(v);
}

void dld_ice_mf_free(struct dld_ice_mf *v, int n)
{
    for (int i = 0; v && i < n; i++) {
        free(v[i].path);
        dld_ice_fsum_free(v[i].parts, v[i].nparts);
    }
    free(v);
}

/* a copy of bytes (n may be 0), or NULL when out of memory */
static unsigned char *s_bytes_dup(const void *p, size_t n)
{
    unsigned char *b = malloc(n ? n : 1);
    if (b && n)
        memcpy(b, p, n);
    return b;
}

static int s_field(avro_value_t *rec, const char *name, avro_value_t *out);

/* manifest_file.partitions of a list entry (any writer's), kept to be
 * written again as they are; false when out of memory */
static bool s_read_summaries(avro_value_t *rec, struct dld_ice_mf *m)
{
    avro_value_t arr, el, x;
    size_t n = 0;
    if (s_field(rec, "partitions", &arr) || avro_value_get_type(&arr) != AVRO_ARRAY || avro_value_get_size(&arr, &n))
        return true; /* none */
    if ((m->parts = calloc(n + 1, sizeof(*m->parts))) == NULL)
        return false;
    m->nparts = (int)n;
    for (size_t k = 0; k < n; k++) {
        struct dld_ice_fsum *ps = &m->parts[k];
        if (avro_value_get_by_index(&arr, k, &el, NULL))
            continue;
        int b = 0;
        if (s_field(&el, "contains_null", &x) == 0 && avro_value_get_boolean(&x, &b) == 0)
            ps->contains_null = b != 0;
        const void *p;
        size_t len;
        if (s_field(&el, "lower_bound", &x) == 0 && avro_value_get_bytes(&x, &p, &len) == 0) {
            if ((ps->lower = s_bytes_dup(p, len)) == NULL)
                return false;
            ps->lower_len = len;
        }
        if (s_field(&el, "upper_bound", &x) == 0 && avro_value_get_bytes(&x, &p, &len) == 0) {
            if ((ps->upper = s_bytes_dup(p, len)) == NULL)
                return false;
            ps->upper_len = len;
        }
    }
    return true;
}

/* a partition value's single-value serialization: int 4 bytes and long 8
 * bytes little-endian, a string its UTF-8 bytes */
static size_t s_pvalue_bytes(enum s_ptype t, const char *s, unsigned char *buf)
{
    if (t == S_P_STRING)
        return 0; /* the text itself */
    int64_t v = strtoll(s, NULL, 10);
    size_t n = t == S_P_LONG ? 8 : 4;
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)((uint64_t)v >> (8 * i));
    return n;
}

/* a < b for partition values of type t */
static bool s_pvalue_less(enum s_ptype t, const char *a, const char *b)
{
    if (t == S_P_STRING)
        return strcmp(a, b) < 0; /* unsigned bytes: UTF-8 in code point order */
    return strtoll(a, NULL, 10) < strtoll(b, NULL, 10);
}

int dld_ice_partition_summaries(const struct dld_iceberg_load *ld, const char *schema_json,
                                struct dld_ice_fsum **parts, int *nparts, struct dld_error *err)
{
    *parts = NULL;
    *nparts = 0;
    if (ld->partition_spec == NULL || ld->nfiles == 0)
        return DLD_OK;
    struct s_pspec ps;
    int rc = s_pspec_make(ld->partition_spec, schema_json, &ps, err);
    if (rc)
        return rc;
    struct dld_ice_fsum *v = calloc((size_t)ps.n + 1, sizeof(*v));
    cJSON **vals = calloc((size_t)ld->nfiles + 1, sizeof(*vals));
    if (v == NULL || vals == NULL)
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    for (int i = 0; rc == DLD_OK && i < ld->nfiles; i++)
        if (cJSON_GetArraySize(vals[i] = cJSON_Parse(ld->file_partitions ? ld->file_partitions[i] : NULL)) != ps.n)
            rc = dld_error_set(err, DLD_ERR_FATAL,
                               "iceberg: load %" PRId64 ": file %d's partition values do not fit the spec", ld->load_id,
                               i);
    for (int k = 0; rc == DLD_OK && k < ps.n; k++) {
        const char *lo = NULL, *hi = NULL;
        for (int i = 0; i < ld->nfiles; i++) {
            const char *s = cJSON_GetStringValue(cJSON_GetArrayItem(vals[i], k));
            if (s == NULL) {
                v[k].contains_null = true;
                continue;
            }
            if (lo == NULL || s_pvalue_less(ps.types[k], s, lo))
                lo = s;
            if (hi == NULL || s_pvalue_less(ps.types[k], hi, s))
                hi = s;
        }
        if (lo == NULL)
            continue;
        unsigned char buf[8];
        size_t n = s_pvalue_bytes(ps.types[k], lo, buf);
        v[k].lower = n ? s_bytes_dup(buf, n) : s_bytes_dup(lo, strlen(lo));
        v[k].lower_len = n ? n : strlen(lo);
        n = s_pvalue_bytes(ps.types[k], hi, buf);
        v[k].upper = n ? s_bytes_dup(buf, n) : s_bytes_dup(hi, strlen(hi));
        v[k].upper_len = n ? n : strlen(hi);
        if (v[k].lower == NULL || v[k].upper == NULL)
            rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    for (int i = 0; vals && i < ld->nfiles; i++)
        cJSON_Delete(vals[i]);
    free(vals);
    int n = ps.n;
    s_pspec_clean_up(&ps);
    if (rc) {
        dld_ice_fsum_free(v, n);
        return rc;
    }
    *parts = v;
    *nparts = n;
    return DLD_OK;
}

/* a field of a record by name: 0 and *out, or -1 when absent or null */
static int s_field(avro_value_t *rec, const char *name, avro_value_t *out)
{
    avro_value_t f;
    if (avro_value_get_by_name(rec, name, &f, NULL) != 0)
        return -1;
    if (avro_value_get_type(&f) == AVRO_UNION) {
        avro_value_t br;
        if (avro_value_get_current_branch(&f, &br) != 0 || avro_value_get_type(&br) == AVRO_NULL)
            return -1;
        f = br;
    }
    *out = f;
    return 0;
}

static int64_t s_get_num(avro_value_t *rec, const char *name, int64_t dflt)
{
    avro_value_t f;
    if (s_field(rec, name, &f))
        return dflt;
    if (avro_value_get_type(&f) == AVRO_INT32) {
        int32_t v;
        return avro_value_get_int(&f, &v) == 0 ? v : dflt;
    }
    int64_t v;
    return avro_value_get_type(&f) == AVRO_INT64 && avro_value_get_long(&f, &v) == 0 ? v : dflt;
}

int dld_ice_read_manifest_list(const char *data, size_t len, const char *what, struct dld_ice_mf **out, int *n,
                               struct dld_error *err)
{
    *out = NULL;
    *n = 0;
    FILE *fp = fmemopen((void *)data, len, "rb");
    if (fp == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "fmemopen: %s", strerror(errno));
    avro_file_reader_t r = NULL;
    if (avro_file_reader_fp(fp, what, 1, &r)) {
        fclose(fp);
        return dld_error_set(err, DLD_ERR_FATAL, "iceberg: %s is not an Avro file: %s", what, avro_strerror());
    }
    avro_schema_t ws = avro_file_reader_get_writer_schema(r);
    avro_value_iface_t *iface = avro_generic_class_from_schema(ws);
    avro_value_t rec;
    bool have = iface && avro_generic_value_new(iface, &rec) == 0;
    int rc = have ? DLD_OK : s_avro_err(err, what);
    struct dld_ice_mf *v = NULL;
    int cnt = 0;
    while (rc == DLD_OK) {
        int e = avro_file_reader_read_value(r, &rec);
        if (e == EOF)
            break;
        if (e) {
            rc = dld_error_set(err, DLD_ERR_FATAL, "iceberg: reading %s: %s", what, avro_strerror());
            break;
        }
        avro_value_t f;
        const char *path = NULL;
        size_t plen = 0;
        if (s_field(&rec, "manifest_path", &f) || avro_value_get_string(&f, &path, &plen)) {
            rc = dld_error_set(err, DLD_ERR_FATAL, "iceberg: %s: an entry without manifest_path", what);
            break;
        }
        struct dld_ice_mf *g = realloc(v, (size_t)(cnt + 1) * sizeof(*v));
        if (g == NULL) {
            rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
            break;
        }
        v = g;
        struct dld_ice_mf *m = &v[cnt++];
        *m = (struct dld_ice_mf){
            .path = strdup(path),
            .length = s_get_num(&rec, "manifest_length", 0),
            .spec_id = (int32_t)s_get_num(&rec, "partition_spec_id", 0),
            .content = (int32_t)s_get_num(&rec, "content", 0),
            .seq = s_get_num(&rec, "sequence_number", 0),
            .min_seq = s_get_num(&rec, "min_sequence_number", 0),
            .snapshot_id = s_get_num(&rec, "added_snapshot_id", 0),
            .added_files = (int32_t)s_get_num(&rec, "added_files_count", 0),
            .existing_files = (int32_t)s_get_num(&rec, "existing_files_count", 0),
            .deleted_files = (int32_t)s_get_num(&rec, "deleted_files_count", 0),
            .added_rows = s_get_num(&rec, "added_rows_count", 0),
            .existing_rows = s_get_num(&rec, "existing_rows_count", 0),
            .deleted_rows = s_get_num(&rec, "deleted_rows_count", 0),
        };
        if (m->path == NULL || !s_read_summaries(&rec, m))
            rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    if (have)
        avro_value_decref(&rec);
    if (iface)
        avro_value_iface_decref(iface);
    /* avro_file_reader_get_writer_schema hands out a new reference
     * (avro_schema_incref in datafile.c): drop it */
    if (ws)
        avro_schema_decref(ws);
    avro_file_reader_close(r);
    if (rc) {
        dld_ice_mf_free(v, cnt);
        return rc;
    }
    *out = v;
    *n = cnt;
    return DLD_OK;
}

/* ---- delete manifests (merge_key upserts, iceberg_delete.h) ---------------------------------- */

int dld_ice_write_delete_manifest(const char *location, const char *schema_json, const struct dld_iceberg_load *ld,
                                  void **out, size_t *len, struct dld_error *err)
{
    *out = NULL;
    *len = 0;
    avro_schema_t schema = NULL;
    if (avro_schema_from_json_length(s_entry_schema, sizeof s_entry_schema - 1, &schema))
        return s_avro_err(err, "the manifest_entry schema");
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t rec;
    struct dld_ice_buf b = {0}, records = {0};
    bool have = iface && avro_generic_value_new(iface, &rec) == 0;
    int rc = have ? DLD_OK : s_avro_err(err, "a manifest entry");
    for (int i = 0; rc == DLD_OK && i < ld->ndeletes; i++) {
        const struct dld_iceberg_delete *d = &ld->deletes[i];
        int bad = 0;
        avro_value_t f, df, br, el;
        char *path = NULL;
        if (asprintf(&path, "%s/%s", location, d->name) < 0) {
            rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
            break;
        }
        avro_value_reset(&rec);
        bad |= s_entry_added(&rec, &df, d->content, path, d->rows, d->bytes);
        S_SET(avro_value_get_by_name(&df, "equality_ids", &f, NULL));
        if (d->content == 2) {
            S_SET(avro_value_set_branch(&f, 1, &br));
            for (int k = 0; k < d->n_equality_ids; k++) {
                S_SET(avro_value_append(&br, &el, NULL));
                S_SET(avro_value_set_int(&el, d->equality_ids[k]));
            }
        } else {
            S_SET(avro_value_set_branch(&f, 0, &br));
            S_SET(avro_value_set_null(&br));
        }
        bad |= s_set_stats(&df, NULL);
        free(path);
        rc = bad ? s_avro_err(err, "filling a delete manifest entry") : s_encode(&records, &rec, err);
    }
    if (have)
        avro_value_decref(&rec);
    if (iface)
        avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    return s_manifest_end(&b, &records, rc, "deletes", ld->load_uid, schema_json, "deletes", ld->ndeletes, NULL, NULL,
                          out, len, err);
}

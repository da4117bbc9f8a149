/*
 * Apache Iceberg output (iceberg.h): schemas with field ids, the table
 * metadata JSON and the file-system catalog commit. The Avro files are in
 * iceberg_avro.c.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <deltaload/iceberg.h>
#include <deltaload/sdk.h>

#include "iceberg_delete.h"
#include "iceberg_internal.h"
#include "iceberg_stats.h"

#define S_MAX_ATTEMPTS 64

static bool s_exact_numbers(cJSON *item);

int dld_iceberg_option(const char *const *options, int *on, struct dld_error *err)
{
    *on = 0;
    const char *v = dld_opt_get(options, "table_format");
    if (v == NULL || *v == '\0' || !strcasecmp(v, "files"))
        return DLD_OK;
    if (strcasecmp(v, "iceberg") != 0)
        return dld_error_set(err, DLD_ERR_CONFIG, "table_format '%s' is not one of files, iceberg", v);
    const char *format = dld_opt_get(options, "format");
    if (format && *format && strcasecmp(format, "parquet") != 0)
        return dld_error_set(err, DLD_ERR_CONFIG, "table_format iceberg needs format parquet (format is '%s')", format);
    *on = 1;
    return DLD_OK;
}

/* ---- schemas ------------------------------------------------------------------------ */

/* The Iceberg type of an Arrow column (its printed JSON: a string), or NULL
 * with *why set. */
static const char *s_ice_type(const struct ArrowSchema *c, char *buf, size_t cap, const char **why)
{
    const char *f = c->format ? c->format : "";
    *why = NULL;
    if (c->n_children != 0 || c->dictionary != NULL) {
        *why = "nested and dictionary columns are not supported";
        return NULL;
    }
    if (!strcmp(f, "b"))
        return "boolean";
    if (!strcmp(f, "c") || !strcmp(f, "s") || !strcmp(f, "i") || !strcmp(f, "C") || !strcmp(f, "S"))
        return "int";
    if (!strcmp(f, "l"))
        return "long";
    if (!strcmp(f, "I") || !strcmp(f, "L")) {
        *why = "Iceberg has no unsigned 32/64-bit integers (cast the column in the source query)";
        return NULL;
    }
    if (!strcmp(f, "f"))
        return "float";
    if (!strcmp(f, "g"))
        return "double";
    if (!strcmp(f, "u") || !strcmp(f, "U"))
        return "string";
    if (!strcmp(f, "z") || !strcmp(f, "Z"))
        return "binary";
    if (!strcmp(f, "tdD"))
        return "date";
    if (!strcmp(f, "ttu"))
        return "time";
    if (!strncmp(f, "ts", 2) && (f[2] == 's' || f[2] == 'm' || f[2] == 'u' || f[2] == 'n') && f[3] == ':')
        return f[4] ? "timestamptz" : "timestamp";
    if (!strncmp(f, "d:", 2)) {
        int p = 0, s = 0, bits = 128;
        if (sscanf(f + 2, "%d,%d,%d", &p, &s, &bits) >= 2 && bits == 128 && p >= 1 && p <= 38 && s >= 0 && s <= p) {
            snprintf(buf, cap, "decimal(%d, %d)", p, s);
            return buf;
        }
        *why = "only decimal128 with 1 to 38 digits and a scale from 0 to the precision";
        return NULL;
    }
    *why = "its Arrow type has no Iceberg counterpart here (time is written only from microsecond Arrow times)";
    return NULL;
}

static int64_t s_num(const cJSON *o, const char *key, int64_t dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : dflt;
}

static const char *s_strv(const cJSON *o, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

int dld_iceberg_schema_from_arrow(const struct ArrowSchema *arrow, const char *table_schema_json, char **schema_json,
                                  int32_t **ids, struct dld_error *err)
{
    char *file_schema = NULL;
    int rc = dld_iceberg_schema_evolve(arrow, table_schema_json, schema_json, &file_schema, ids, err);
    free(file_schema);
    return rc;
}

/* ---- schema evolution ---------------------------------------------------------------------- */

/* The table type a column of table type `have` takes when a load brings
 * `load` (Iceberg's type promotion: int to long, float to double, a decimal
 * to more digits of the same scale), printed into buf; NULL when Iceberg
 * cannot promote one into the other. A narrower load type keeps the
 * table's type: readers promote the file's values. */
static const char *s_promote(const char *have, const char *load, char *buf, size_t cap)
{
    if (!strcmp(have, load))
        return have;
    if ((!strcmp(have, "int") && !strcmp(load, "long")) || (!strcmp(have, "long") && !strcmp(load, "int")))
        return "long";
    if ((!strcmp(have, "float") && !strcmp(load, "double")) || (!strcmp(have, "double") && !strcmp(load, "float")))
        return "double";
    int p1, s1, p2, s2;
    if (sscanf(have, "decimal(%d,%d)", &p1, &s1) == 2 && sscanf(load, "decimal(%d,%d)", &p2, &s2) == 2 && s1 == s2) {
        snprintf(buf, cap, "decimal(%d, %d)", p1 > p2 ? p1 : p2, s1);
        return buf;
    }
    return NULL;
}

static cJSON *s_field_new(int32_t id, const char *name, bool required, const char *type)
{
    cJSON *f = cJSON_CreateObject();
    if (f && cJSON_AddNumberToObject(f, "id", id) && cJSON_AddStringToObject(f, "name", name) &&
        cJSON_AddBoolToObject(f, "required", required) && cJSON_AddStringToObject(f, "type", type))
        return f;
    cJSON_Delete(f);
    return NULL;
}

int dld_iceberg_schema_evolve(const struct ArrowSchema *arrow, const char *table_schema_json, char **table_schema,
                              char **file_schema, int32_t **ids, struct dld_error *err)
{
    *table_schema = *file_schema = NULL;
    *ids = NULL;
    cJSON *table = table_schema_json ? cJSON_Parse(table_schema_json) : NULL;
    if (table_schema_json && !cJSON_IsObject(table)) {
        cJSON_Delete(table);
        return dld_error_set(err, DLD_ERR_FATAL, "iceberg: the table's schema is not JSON");
    }
    const cJSON *tfields = cJSON_GetObjectItemCaseSensitive(table, "fields");
    int32_t next = 1;
    const cJSON *tf;
    cJSON_ArrayForEach(tf, tfields)
    {
        if ((int32_t)s_num(tf, "id", 0) >= next)
            next = (int32_t)s_num(tf, "id", 0) + 1;
    }
    int64_t schema_id = s_num(table, "schema-id", 0);
    cJSON *out = cJSON_CreateObject(), *file = cJSON_CreateObject();
    cJSON *ofields = cJSON_CreateArray(), *ffields = NULL;
    int32_t *v = calloc((size_t)arrow->n_children + 1, sizeof(*v));
    int rc = DLD_OK;
    if (!out || !file || !ofields || !v || !cJSON_AddStringToObject(file, "type", "struct") ||
        !cJSON_AddNumberToObject(file, "schema-id", 0) || !(ffields = cJSON_AddArrayToObject(file, "fields"))) {
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        goto out;
    }
    /* the table's fields first, in their order: kept, maybe widened */
    cJSON_ArrayForEach(tf, tfields)
    {
        cJSON *dup = cJSON_Duplicate(tf, 1);
        if (!dup || !cJSON_AddItemToArray(ofields, dup)) {
            rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
            goto out;
        }
    }
    for (int64_t i = 0; i < arrow->n_children && rc == DLD_OK; i++) {
        const struct ArrowSchema *c = arrow->children[i];
        const char *name = c->name ? c->name : "";
        char buf[64], wide[64];
        const char *why;
        const char *type = s_ice_type(c, buf, sizeof buf, &why);
        if (type == NULL) {
            rc = dld_error_set(err, DLD_ERR_UNSUPPORTED, "column '%s' (Arrow type '%s') cannot be written to Iceberg: %s",
                               name, c->format ? c->format : "", why);
            break;
        }
        bool nullable = (c->flags & ARROW_FLAG_NULLABLE) != 0;
        cJSON *of = NULL;
        cJSON_ArrayForEach(of, ofields)
        {
            if (s_strv(of, "name") && !strcmp(s_strv(of, "name"), name))
                break;
        }
        if (of != NULL) {
            const char *have = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(of, "type")) ? s_strv(of, "type") : "";
            const char *t = s_promote(have, type, wide, sizeof wide);
            if (t == NULL) {
                rc = dld_error_set(err, DLD_ERR_UNSUPPORTED,
                                   "column '%s' is %s in the load but %s in the Iceberg table: Iceberg cannot change "
                                   "one into the other (it promotes int to long, float to double and decimal(P,S) to "
                                   "decimal(P',S) with P' > P)",
                                   name, type, have);
                break;
            }
            if (strcmp(t, have) != 0 && !cJSON_ReplaceItemInObjectCaseSensitive(of, "type", cJSON_CreateString(t))) {
                rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
                break;
            }
            /* a required column the load may leave null becomes optional
             * (Iceberg allows required to optional, never back) */
            if (nullable && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(of, "required")))
                cJSON_ReplaceItemInObjectCaseSensitive(of, "required", cJSON_CreateFalse());
            v[i] = (int32_t)s_num(of, "id", 0);
        } else {
            /* a new column: a new id; optional, because the table's
             * older files do not have it (new tables take the load's flag) */
            v[i] = next++;
            cJSON *f = s_field_new(v[i], name, table ? false : !nullable, type);
            if (!f || !cJSON_AddItemToArray(ofields, f)) {
                cJSON_Delete(f);
                rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
                break;
            }
        }
        cJSON *ff = s_field_new(v[i], name, !nullable, type);
        if (!ff || !cJSON_AddItemToArray(ffields, ff)) {
            cJSON_Delete(ff);
            rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        }
    }
    if (rc)
        goto out;
    /* table columns the load lacks: they stay, null in the new files */
    cJSON *of;
    cJSON_ArrayForEach(of, ofields)
    {
        bool in_load = false;
        for (int64_t i = 0; i < arrow->n_children && !in_load; i++)
            in_load = v[i] == (int32_t)s_num(of, "id", -1);
        if (!in_load && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(of, "required")))
            cJSON_ReplaceItemInObjectCaseSensitive(of, "required", cJSON_CreateFalse());
    }
    bool changed = table && !cJSON_Compare(ofields, tfields, 1);
    if (!cJSON_AddStringToObject(out, "type", "struct") ||
        !cJSON_AddNumberToObject(out, "schema-id", (double)(table ? schema_id + (changed ? 1 : 0) : 0)) ||
        !cJSON_AddItemToObject(out, "fields", ofields)) {
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        goto out;
    }
    ofields = NULL; /* owned by out */
    if ((*table_schema = cJSON_PrintUnformatted(out)) == NULL || (*file_schema = cJSON_PrintUnformatted(file)) == NULL)
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
out:
    cJSON_Delete(ofields);
    cJSON_Delete(out);
    cJSON_Delete(file);
    cJSON_Delete(table);
    if (rc == DLD_OK) {
        *ids = v;
    } else {
        free(v);
        free(*table_schema);
        free(*file_schema);
        *table_schema = *file_schema = NULL;
    }
    return rc;
}

/* ---- an Arrow schema copy with field ids ------------------------------------------------- */

struct s_ids_schema {
    struct ArrowSchema *kids;  /* n children */
    struct ArrowSchema **ptrs;
    char **bufs;               /* per child: format, name, metadata in one allocation */
    int64_t n;
};

static void s_ids_release(struct ArrowSchema *s)
{
    struct s_ids_schema *p = s->private_data;
    if (p) {
        for (int64_t i = 0; i < p->n; i++)
            free(p->bufs ? p->bufs[i] : NULL);
        free(p->bufs);
        free(p->ptrs);
        free(p->kids);
        free(p);
    }
    s->release = NULL;
}

static void s_child_release(struct ArrowSchema *s)
{
    s->release = NULL; /* owned by the parent */
}

int dld_iceberg_arrow_with_ids(const struct ArrowSchema *src, const int32_t *ids, struct ArrowSchema *dst,
                               struct dld_error *err)
{
    memset(dst, 0, sizeof(*dst));
    struct s_ids_schema *p = calloc(1, sizeof(*p));
    int64_t n = src->n_children;
    if (p) {
        p->kids = calloc((size_t)n + 1, sizeof(*p->kids));
        p->ptrs = calloc((size_t)n + 1, sizeof(*p->ptrs));
        p->bufs = calloc((size_t)n + 1, sizeof(*p->bufs));
    }
    if (!p || !p->kids || !p->ptrs || !p->bufs) {
        if (p) {
            free(p->kids);
            free(p->ptrs);
            free(p->bufs);
        }
        free(p);
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    dst->format = "+s";
    dst->name = "";
    dst->n_children = n;
    dst->children = p->ptrs;
    dst->private_data = p;
    dst->release = s_ids_release;
    for (int64_t i = 0; i < n; i++) {
        const struct ArrowSchema *c = src->children[i];
        const char *format = c->format ? c->format : "", *name = c->name ? c->name : "";
        char id[16];
        int idl = snprintf(id, sizeof id, "%d", (int)ids[i]);
        static const char key[] = "PARQUET:field_id";
        int32_t kl = (int32_t)(sizeof key - 1), vl = idl, one = 1;
        size_t fl = strlen(format) + 1, nl = strlen(name) + 1, ml = 4 + 4 + (size_t)kl + 4 + (size_t)vl;
        char *b = malloc(fl + nl + ml);
        if (b == NULL) {
            p->n = i;
            s_ids_release(dst);
            return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        }
        p->bufs[i] = b;
        memcpy(b, format, fl);
        memcpy(b + fl, name, nl);
        char *m = b + fl + nl;
        memcpy(m, &one, 4);
        memcpy(m + 4, &kl, 4);
        memcpy(m + 8, key, (size_t)kl);
        memcpy(m + 8 + kl, &vl, 4);
        memcpy(m + 12 + kl, id, (size_t)vl);
        p->kids[i] = (struct ArrowSchema){.format = b, .name = b + fl, .metadata = m, .flags = c->flags,
                                          .release = s_child_release};
        p->ptrs[i] = &p->kids[i];
    }
    p->n = n;
    return DLD_OK;
}

/* ---- the catalog -------------------------------------------------------------------------- */

static void s_scratch(struct dld_error *e)
{
    dld_error_init(e);
}

static int s_pass_on(struct dld_error *err, const struct dld_error *from, int code)
{
    dld_error_set(err, code, "%s", from->message);
    if (err)
        err->retryable = from->retryable;
    return code;
}

/* "metadata/v12.metadata.json" → 12; 0 for other names. A catalog's
 * "v12-<uid>.metadata.json" counts when with_uid. */
static int64_t s_version_of_ex(const char *name, bool with_uid)
{
    const char *b = strrchr(name, '/');
    b = b ? b + 1 : name;
    if (b[0] != 'v' || b[1] < '1' || b[1] > '9')
        return 0;
    char *end;
    long long v = strtoll(b + 1, &end, 10);
    if (with_uid && *end == '-')
        end = strchr(end, '.') ? strchr(end, '.') : end;
    return strcmp(end, ".metadata.json") == 0 ? (int64_t)v : 0;
}

static int64_t s_version_of(const char *name)
{
    return s_version_of_ex(name, false);
}

static const struct dld_iceberg_catalog *s_catalog(const struct dld_lake_storage *st)
{
    return DLD_HAS(st, struct dld_lake_storage, catalog) ? st->catalog : NULL;
}

/* a name relative to the table directory from an absolute location inside it */
static const char *s_relative(const char *location, const char *table_location);
static int s_fs_current(const struct dld_lake_storage *st, const char *dir, int64_t *version, char **json,
                        struct dld_error *err);

/* The current metadata through the catalog: its pointer, the file it names
 * (read from the storage), and the catalog's version of the entry. */
static int s_catalog_current(const struct dld_lake_storage *st, const char *dir, int64_t *version, char **json,
                             char **meta_loc, char **cat_version, struct dld_error *err)
{
    const struct dld_iceberg_catalog *cat = s_catalog(st);
    char *location = st->location(st->ctx, dir), *loc = NULL, *cv = NULL;
    if (location == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    int rc = cat->current(cat->ctx, dir, location, &loc, &cv, err);
    if (rc == DLD_OK && loc == NULL) {
        /* The catalog has no entry: a table the file-system catalog kept
         * until now is adopted (its history goes on in the catalog), else
         * it is a new table. cv stays NULL: the swap creates the entry. */
        int64_t v = 0;
        char *text = NULL;
        free(cv);
        cv = NULL;
        if ((rc = s_fs_current(st, dir, &v, &text, err)) == DLD_OK && v > 0 &&
            asprintf(&loc, "%s/metadata/v%" PRId64 ".metadata.json", location, v) < 0) {
            loc = NULL;
            rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        }
        free(location);
        if (rc) {
            free(text);
            return rc;
        }
        *version = v;
        *json = text;
        if (meta_loc)
            *meta_loc = loc;
        else
            free(loc);
        if (cat_version)
            *cat_version = NULL;
        return DLD_OK;
    }
    const char *rel = rc == DLD_OK && loc ? s_relative(loc, location) : NULL;
    int64_t v = rel ? s_version_of_ex(rel, true) : 0;
    if (rc == DLD_OK && loc && (rel == NULL || v <= 0))
        rc = dld_error_set(err, DLD_ERR_UNSUPPORTED,
                           "iceberg: the catalog's metadata location %s is not a metadata file deltaload wrote under %s",
                           loc, location);
    char *text = NULL;
    size_t len = 0;
    if (rc == DLD_OK && rel) {
        struct dld_error e;
        dld_error_init(&e);
        if ((rc = st->get(st->ctx, dir, rel, &text, &len, &e))) {
            dld_error_set(err, rc == DLD_ERR_NOT_FOUND ? DLD_ERR_FATAL : rc, "iceberg: the catalog's %s: %s", loc,
                          e.message);
            if (err)
                err->retryable = e.retryable;
            rc = rc == DLD_ERR_NOT_FOUND ? DLD_ERR_FATAL : rc;
        }
    }
    free(location);
    if (rc) {
        free(loc);
        free(cv);
        return rc;
    }
    *version = v;
    *json = text;
    if (meta_loc)
        *meta_loc = loc;
    else
        free(loc);
    if (cat_version)
        *cat_version = cv;
    else
        free(cv);
    return DLD_OK;
}

static int s_max_version(void *ctx, const char *name)
{
    int64_t *max = ctx, v = s_version_of(name);
    if (v > *max)
        *max = v;
    return 0;
}

static char *s_meta_name(int64_t v)
{
    char *s = NULL;
    return asprintf(&s, "metadata/v%" PRId64 ".metadata.json", v) < 0 ? NULL : s;
}

int dld_iceberg_current(const struct dld_lake_storage *st, const char *dir, int64_t *version, char **json,
                        struct dld_error *err)
{
    *version = 0;
    *json = NULL;
    if (s_catalog(st))
        return s_catalog_current(st, dir, version, json, NULL, NULL, err);
    return s_fs_current(st, dir, version, json, err);
}

static int s_fs_current(const struct dld_lake_storage *st, const char *dir, int64_t *version, char **json,
                        struct dld_error *err)
{
    *version = 0;
    *json = NULL;
    struct dld_error e;
    s_scratch(&e);
    char *hint = NULL;
    size_t len = 0;
    int64_t v = 0;
    int rc = st->get(st->ctx, dir, "metadata/version-hint.text", &hint, &len, &e);
    if (rc == DLD_OK) {
        v = strtoll(hint, NULL, 10);
        free(hint);
        if (v < 0)
            v = 0;
    } else if (rc == DLD_ERR_NOT_FOUND) {
        if ((rc = st->list(st->ctx, dir, "metadata/v", s_max_version, &v, err)))
            return rc;
    } else {
        return s_pass_on(err, &e, rc);
    }
    /* the hint may lag behind the newest version: probe forward */
    char *text = NULL;
    if (v > 0) {
        char *name = s_meta_name(v);
        if (name == NULL)
            return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        s_scratch(&e);
        rc = st->get(st->ctx, dir, name, &text, &len, &e);
        free(name);
        if (rc == DLD_ERR_NOT_FOUND) {
            /* a hint ahead of the files (removed by hand?): fall back to a listing */
            int64_t lv = 0;
            if ((rc = st->list(st->ctx, dir, "metadata/v", s_max_version, &lv, err)))
                return rc;
            if (lv == 0)
                return DLD_OK;
            v = lv;
            name = s_meta_name(v);
            if (name == NULL)
                return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
            s_scratch(&e);
            rc = st->get(st->ctx, dir, name, &text, &len, &e);
            free(name);
        }
        if (rc)
            return s_pass_on(err, &e, rc);
    }
    for (;;) {
        char *name = s_meta_name(v + 1), *next = NULL;
        if (name == NULL) {
            free(text);
            return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        }
        s_scratch(&e);
        rc = st->get(st->ctx, dir, name, &next, &len, &e);
        free(name);
        if (rc == DLD_ERR_NOT_FOUND)
            break;
        if (rc) {
            free(text);
            return s_pass_on(err, &e, rc);
        }
        free(text);
        text = next;
        v++;
    }
    *version = v;
    *json = text;
    return DLD_OK;
}

static cJSON *s_current_schema(const cJSON *meta)
{
    int64_t cur = s_num(meta, "current-schema-id", 0);
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(meta, "schemas"))
    {
        if (s_num(s, "schema-id", 0) == cur)
            return (cJSON *)s;
    }
    return NULL;
}

char *dld_iceberg_current_schema(const char *metadata_json)
{
    cJSON *m = metadata_json ? cJSON_Parse(metadata_json) : NULL;
    cJSON *s = s_current_schema(m);
    char *out = s ? cJSON_PrintUnformatted(s) : NULL;
    cJSON_Delete(m);
    return out;
}

/* ---- commit --------------------------------------------------------------------------------- */

/* snapshot ids fit in 53 bits, so JSON readers that keep numbers as doubles
 * (cJSON, JavaScript) read them exactly */
static int64_t s_snapshot_id(const char *uid)
{
    uint64_t v = strtoull(uid, NULL, 16) & ((UINT64_C(1) << 53) - 1);
    return v ? (int64_t)v : 1;
}

static bool s_add_i64(cJSON *o, const char *key, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return cJSON_AddRawToObject(o, key, buf) != NULL;
}

static bool s_add_str_i64(cJSON *o, const char *key, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return cJSON_AddStringToObject(o, key, buf) != NULL;
}

/* the snapshot of this load uid in a metadata object, or NULL */
static const cJSON *s_find_snapshot(const cJSON *meta, const char *uid)
{
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(meta, "snapshots"))
    {
        const char *u = s_strv(cJSON_GetObjectItemCaseSensitive(s, "summary"), "deltaload.load-uid");
        if (u && !strcmp(u, uid))
            return s;
    }
    return NULL;
}

static const cJSON *s_snapshot_by_id(const cJSON *meta, int64_t id)
{
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(meta, "snapshots"))
    {
        if (s_num(s, "snapshot-id", -1) == id)
            return s;
    }
    return NULL;
}

/* a name relative to the table directory from an absolute location inside it */
static const char *s_relative(const char *location, const char *table_location)
{
    size_t n = strlen(table_location);
    if (strncmp(location, table_location, n) != 0 || location[n] != '/')
        return NULL;
    return location + n + 1;
}

static int s_new_uuid(char out[37], struct dld_error *err)
{
    char a[17], b[17];
    int rc;
    if ((rc = dld_lake_new_uid(a, err)) || (rc = dld_lake_new_uid(b, err)))
        return rc;
    /* version 4, variant 10 */
    snprintf(out, 37, "%.8s-%.4s-4%.3s-%c%.3s-%.12s", a, a + 8, a + 13, "89ab"[b[0] % 4], b + 1, b + 4);
    return DLD_OK;
}

/* writes name unless it exists; identical bytes already there count as written */
static int s_put_once(const struct dld_lake_storage *st, const char *dir, const char *name, const void *data,
                      size_t len, struct dld_error *err)
{
    struct dld_error e;
    s_scratch(&e);
    int rc = st->put_if_absent(st->ctx, dir, name, data, len, &e);
    if (rc == DLD_OK)
        return DLD_OK;
    if (rc != DLD_ERR_CONFLICT)
        return s_pass_on(err, &e, rc);
    char *old = NULL;
    size_t olen = 0;
    s_scratch(&e);
    if ((rc = st->get(st->ctx, dir, name, &old, &olen, &e)))
        return s_pass_on(err, &e, rc == DLD_ERR_NOT_FOUND ? DLD_ERR_RETRY : rc);
    bool same = olen == len && memcmp(old, data, len) == 0;
    free(old);
    return same ? DLD_OK
                : dld_error_set(err, DLD_ERR_FATAL, "%s/%s exists with other contents than this load's", dir, name);
}

/* A catalog's metadata file v<N>-<uid>: only this load writes that name,
 * and nobody reads it before the catalog points at it, so a leftover of an
 * earlier attempt is simply replaced. */
static int s_put_own(const struct dld_lake_storage *st, const char *dir, const char *name, const char *data,
                     struct dld_error *err)
{
    if (DLD_HAS(st, struct dld_lake_storage, put) && st->put)
        return st->put(st->ctx, dir, name, data, strlen(data), err);
    const char *const names[] = {name};
    int rc = st->remove(st->ctx, dir, names, 1, err);
    return rc ? rc : st->put_if_absent(st->ctx, dir, name, data, strlen(data), err);
}

static int s_put_hint(const struct dld_lake_storage *st, const char *dir, int64_t version, struct dld_error *err)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%" PRId64, version);
    if (DLD_HAS(st, struct dld_lake_storage, put) && st->put)
        return st->put(st->ctx, dir, "metadata/version-hint.text", buf, (size_t)n, err);
    const char *const names[] = {"metadata/version-hint.text"};
    int rc = st->remove(st->ctx, dir, names, 1, err);
    if (rc == DLD_OK) {
        struct dld_error e;
        s_scratch(&e);
        rc = st->put_if_absent(st->ctx, dir, names[0], buf, (size_t)n, &e);
        if (rc == DLD_ERR_CONFLICT)
            rc = DLD_OK; /* another committer wrote its own, as new or newer */
        else if (rc)
            s_pass_on(err, &e, rc);
    }
    return rc;
}

/* summary totals of the parent snapshot */
static int64_t s_total(const cJSON *parent, const char *key)
{
    const char *v = s_strv(cJSON_GetObjectItemCaseSensitive(parent, "summary"), key);
    return v ? strtoll(v, NULL, 10) : 0;
}

/* The summary's delete-file counters (merge_key upserts): the load's and
 * the totals on top of the parent's (NULL: an overwrite, or none). */
static bool s_delete_counters(cJSON *sum, const struct dld_iceberg_load *ld, const cJSON *parent)
{
    int64_t files = 0, eq = 0, pos = 0, eq_files = 0, pos_files = 0;
    for (int i = 0; i < ld->ndeletes; i++) {
        files++;
        if (ld->deletes[i].content == 2) {
            eq_files++;
            eq += ld->deletes[i].rows;
        } else {
            pos_files++;
            pos += ld->deletes[i].rows;
        }
    }
    bool ok = true;
    if (files)
        ok = s_add_str_i64(sum, "added-delete-files", files) &&
             (!eq_files || (s_add_str_i64(sum, "added-equality-delete-files", eq_files) &&
                            s_add_str_i64(sum, "added-equality-deletes", eq))) &&
             (!pos_files || (s_add_str_i64(sum, "added-position-delete-files", pos_files) &&
                             s_add_str_i64(sum, "added-position-deletes", pos)));
    return ok && s_add_str_i64(sum, "total-delete-files", s_total(parent, "total-delete-files") + files) &&
           s_add_str_i64(sum, "total-position-deletes", s_total(parent, "total-position-deletes") + pos) &&
           s_add_str_i64(sum, "total-equality-deletes", s_total(parent, "total-equality-deletes") + eq);
}

/* The new metadata object: the old one (or a new table) with the snapshot. */
static cJSON *s_new_metadata(const cJSON *old, const char *location, int64_t old_version, const char *old_loc,
                             const char *schema_json,
                             const struct dld_iceberg_load *ld, int64_t snap_id, int64_t seq, const char *list_loc,
                             int64_t added_rows, int64_t added_bytes, struct dld_error *err)
{
    cJSON *m = old ? cJSON_Duplicate(old, 1) : cJSON_CreateObject();
    cJSON *schema = schema_json ? cJSON_Parse(schema_json) : NULL;
    bool ok = m != NULL;
    if (!old && ok) {
        char uuid[37];
        if (s_new_uuid(uuid, err)) {
            cJSON_Delete(m);
            cJSON_Delete(schema);
            return NULL;
        }
        ok = cJSON_AddNumberToObject(m, "format-version", 2) && cJSON_AddStringToObject(m, "table-uuid", uuid) &&
             cJSON_AddStringToObject(m, "location", location);
        cJSON *specs = cJSON_AddArrayToObject(m, "partition-specs"), *spec = cJSON_CreateObject();
        ok = ok && specs && spec && cJSON_AddItemToArray(specs, spec) && cJSON_AddNumberToObject(spec, "spec-id", 0) &&
             cJSON_AddArrayToObject(spec, "fields") && cJSON_AddNumberToObject(m, "default-spec-id", 0) &&
             cJSON_AddNumberToObject(m, "last-partition-id", 999);
        /* (a partitioned load's spec replaces this one below) */
        cJSON *orders = cJSON_AddArrayToObject(m, "sort-orders"), *order = cJSON_CreateObject();
        ok = ok && orders && order && cJSON_AddItemToArray(orders, order) &&
             cJSON_AddNumberToObject(order, "order-id", 0) && cJSON_AddArrayToObject(order, "fields") &&
             cJSON_AddNumberToObject(m, "default-sort-order-id", 0);
        cJSON *props = cJSON_AddObjectToObject(m, "properties");
        ok = ok && props && cJSON_AddStringToObject(props, "write.format.default", "parquet") &&
             cJSON_AddStringToObject(props, "deltaload.table", ld->table_name ? ld->table_name : "") &&
             cJSON_AddStringToObject(props, "deltaload.source_table", ld->source_table ? ld->source_table : "");
        if (schema == NULL && ok) {
            /* a first load without rows: an empty schema */
            schema = cJSON_Parse("{\"type\":\"struct\",\"schema-id\":0,\"fields\":[]}");
        }
        cJSON *schemas = cJSON_AddArrayToObject(m, "schemas");
        ok = ok && schemas && schema && cJSON_AddItemToArray(schemas, schema) &&
             cJSON_AddNumberToObject(m, "current-schema-id", 0);
        if (ok)
            schema = NULL; /* owned by m */
    } else if (schema && !cJSON_Compare(cJSON_GetObjectItemCaseSensitive(schema, "fields"),
                                        cJSON_GetObjectItemCaseSensitive(s_current_schema(m), "fields"), 1)) {
        /* schema evolution: the load's schema follows the current one
         * (checked before) and becomes current under the next id */
        int64_t sid = -1;
        const cJSON *s;
        cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(m, "schemas"))
        {
            if (s_num(s, "schema-id", 0) > sid)
                sid = s_num(s, "schema-id", 0);
        }
        cJSON_DeleteItemFromObjectCaseSensitive(schema, "schema-id");
        cJSON *schemas = cJSON_GetObjectItemCaseSensitive(m, "schemas");
        cJSON_DeleteItemFromObjectCaseSensitive(m, "current-schema-id");
        ok = cJSON_AddNumberToObject(schema, "schema-id", (double)(sid + 1)) && schemas &&
             cJSON_AddItemToArray(schemas, schema) && cJSON_AddNumberToObject(m, "current-schema-id", (double)(sid + 1));
        if (ok)
            schema = NULL; /* owned by m */
    } else {
        cJSON_Delete(schema); /* the same fields as the current schema */
        schema = NULL;
    }
    /* partition_by: the table's one spec (id 0) is the load's; lake.c
     * refused the load before writing anything if the table has another
     * (partition evolution is not supported), so this changes the spec only
     * of a table that never had data (a first load without rows) */
    if (ok && ld->partition_spec) {
        cJSON *spec = cJSON_Parse(ld->partition_spec), *specs = cJSON_CreateArray();
        int nf = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, "fields"));
        cJSON *dflt = cJSON_CreateNumber(0), *last = cJSON_CreateNumber(999 + nf);
        ok = spec && specs && dflt && last && cJSON_AddItemToArray(specs, spec);
        if (ok)
            spec = NULL;
        static const char *const keys[] = {"partition-specs", "default-spec-id", "last-partition-id"};
        cJSON *vals[] = {specs, dflt, last};
        for (int k = 0; k < 3; k++) {
            if (ok) {
                cJSON_DeleteItemFromObjectCaseSensitive(m, keys[k]);
                ok = cJSON_AddItemToObject(m, keys[k], vals[k]);
            }
            if (ok)
                vals[k] = NULL;
            cJSON_Delete(vals[k]);
        }
        cJSON_Delete(spec);
    }
    if (!ok) {
        cJSON_Delete(m);
        cJSON_Delete(schema);
        dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        return NULL;
    }
    int32_t last_col = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(s_current_schema(m), "fields"))
    {
        if (s_num(f, "id", 0) > last_col)
            last_col = (int32_t)s_num(f, "id", 0);
    }
    if (s_num(m, "last-column-id", 0) > last_col)
        last_col = (int32_t)s_num(m, "last-column-id", 0);
    int64_t parent_id = s_num(m, "current-snapshot-id", -1);
    const cJSON *parent = parent_id >= 0 ? s_snapshot_by_id(m, parent_id) : NULL;
    int64_t ts = ld->now_ms;
    if (ts <= s_num(m, "last-updated-ms", 0))
        ts = s_num(m, "last-updated-ms", 0) + 1; /* timestamps never go back */

    cJSON *snap = cJSON_CreateObject(), *sum = NULL;
    ok = snap && s_add_i64(snap, "snapshot-id", snap_id) && (!parent || s_add_i64(snap, "parent-snapshot-id", parent_id)) &&
         s_add_i64(snap, "sequence-number", seq) && s_add_i64(snap, "timestamp-ms", ts) &&
         cJSON_AddStringToObject(snap, "manifest-list", list_loc) && (sum = cJSON_AddObjectToObject(snap, "summary")) &&
         cJSON_AddNumberToObject(snap, "schema-id", (double)s_num(m, "current-schema-id", 0));
    int64_t prev_rows = ld->overwrite ? 0 : s_total(parent, "total-records");
    int64_t prev_files = ld->overwrite ? 0 : s_total(parent, "total-data-files");
    int64_t prev_size = ld->overwrite ? 0 : s_total(parent, "total-files-size");
    ok = ok && cJSON_AddStringToObject(sum, "operation", ld->overwrite ? "overwrite" : "append") &&
         s_add_str_i64(sum, "added-data-files", ld->nfiles) && s_add_str_i64(sum, "added-records", added_rows) &&
         s_add_str_i64(sum, "added-files-size", added_bytes) &&
         (!ld->overwrite || !parent ||
          (s_add_str_i64(sum, "deleted-data-files", s_total(parent, "total-data-files")) &&
           s_add_str_i64(sum, "deleted-records", s_total(parent, "total-records")) &&
           s_add_str_i64(sum, "removed-files-size", s_total(parent, "total-files-size")))) &&
         s_add_str_i64(sum, "total-records", prev_rows + added_rows) &&
         s_add_str_i64(sum, "total-data-files", prev_files + ld->nfiles) &&
         s_add_str_i64(sum, "total-files-size", prev_size + added_bytes) &&
         s_delete_counters(sum, ld, ld->overwrite ? NULL : parent) &&
         s_add_str_i64(sum, "deltaload.load-id", ld->load_id) &&
         cJSON_AddStringToObject(sum, "deltaload.load-uid", ld->load_uid) &&
         cJSON_AddStringToObject(sum, "deltaload.mode", ld->mode ? ld->mode : "") &&
         (!ld->window_column || !*ld->window_column ||
          cJSON_AddStringToObject(sum, "deltaload.window-column", ld->window_column)) &&
         (!ld->low || (cJSON_AddStringToObject(sum, "deltaload.window-low", ld->low) &&
                       cJSON_AddStringToObject(sum, "deltaload.window-low-inclusive",
                                               ld->low_inclusive ? "true" : "false"))) &&
         (!ld->high || cJSON_AddStringToObject(sum, "deltaload.window-high", ld->high)) &&
         (!ld->high || !ld->mode || strcmp(ld->mode, "delta") != 0 ||
          cJSON_AddStringToObject(sum, "deltaload.watermark", ld->high));
    /* replace the changing top-level members */
    static const char *const replaced[] = {"last-sequence-number", "last-updated-ms", "last-column-id",
                                           "current-snapshot-id"};
    for (size_t i = 0; i < sizeof replaced / sizeof *replaced; i++)
        cJSON_DeleteItemFromObjectCaseSensitive(m, replaced[i]);
    ok = ok && s_add_i64(m, "last-sequence-number", seq) && s_add_i64(m, "last-updated-ms", ts) &&
         cJSON_AddNumberToObject(m, "last-column-id", last_col) && s_add_i64(m, "current-snapshot-id", snap_id);
    cJSON *snaps = cJSON_GetObjectItemCaseSensitive(m, "snapshots");
    if (!snaps)
        snaps = cJSON_AddArrayToObject(m, "snapshots");
    if (ok && snaps && cJSON_AddItemToArray(snaps, snap))
        snap = NULL;
    else
        ok = false;
    cJSON_DeleteItemFromObjectCaseSensitive(m, "refs");
    cJSON *refs = cJSON_AddObjectToObject(m, "refs"), *main_ref = refs ? cJSON_AddObjectToObject(refs, "main") : NULL;
    ok = ok && main_ref && s_add_i64(main_ref, "snapshot-id", snap_id) &&
         cJSON_AddStringToObject(main_ref, "type", "branch");
    cJSON *slog = cJSON_GetObjectItemCaseSensitive(m, "snapshot-log");
    if (!slog)
        slog = cJSON_AddArrayToObject(m, "snapshot-log");
    cJSON *se = cJSON_CreateObject();
    ok = ok && slog && se && cJSON_AddItemToArray(slog, se) && s_add_i64(se, "timestamp-ms", ts) &&
         s_add_i64(se, "snapshot-id", snap_id);
    cJSON *mlog = cJSON_GetObjectItemCaseSensitive(m, "metadata-log");
    if (!mlog)
        mlog = cJSON_AddArrayToObject(m, "metadata-log");
    if (ok && old) {
        char *prev = NULL;
        cJSON *me = cJSON_CreateObject();
        ok = mlog && me && cJSON_AddItemToArray(mlog, me) &&
             (old_loc ? (prev = strdup(old_loc)) != NULL
                      : asprintf(&prev, "%s/metadata/v%" PRId64 ".metadata.json", location, old_version) >= 0) &&
             s_add_i64(me, "timestamp-ms", s_num(old, "last-updated-ms", 0)) &&
             cJSON_AddStringToObject(me, "metadata-file", prev);
        free(prev);
    }
    cJSON_Delete(snap);
    if (!ok) {
        cJSON_Delete(m);
        dld_error_set(err, DLD_ERR_FATAL, "out of memory building the Iceberg metadata");
        return NULL;
    }
    return m;
}

/* The load's schema (ours) must be the table's current one (cs) or an
 * evolution of it: every current field still there with its id and name
 * and the same or a promoted type, new fields with ids above the current
 * ones. Anything else means the table changed under the load. */
static int s_schema_follows(const cJSON *cs, const cJSON *ours, struct dld_error *err)
{
    int64_t last = 0;
    const cJSON *g, *f;
    cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(cs, "fields"))
    {
        if (s_num(g, "id", 0) > last)
            last = s_num(g, "id", 0);
        const cJSON *match = NULL;
        cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(ours, "fields"))
        {
            if (s_num(f, "id", -1) == s_num(g, "id", -2))
                match = f;
        }
        char buf[64];
        const char *gt = s_strv(g, "type"), *ft = match ? s_strv(match, "type") : NULL;
        const char *t = gt && ft ? s_promote(gt, ft, buf, sizeof buf) : NULL;
        if (!match || !s_strv(g, "name") || !s_strv(match, "name") || strcmp(s_strv(g, "name"), s_strv(match, "name")) ||
            !t || strcmp(t, ft) != 0)
            return dld_error_set(err, DLD_ERR_UNSUPPORTED,
                                 "iceberg: column '%s' (field id %d) of the table's current schema does not match the "
                                 "load's",
                                 s_strv(g, "name") ? s_strv(g, "name") : "?", (int)s_num(g, "id", 0));
    }
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(ours, "fields"))
    {
        bool known = false;
        cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(cs, "fields"))
        {
            known = known || s_num(f, "id", -1) == s_num(g, "id", -2);
        }
        if (!known && s_num(f, "id", 0) <= last)
            return dld_error_set(err, DLD_ERR_UNSUPPORTED,
                                 "iceberg: column '%s' (field id %d) does not match the table's current schema",
                                 s_strv(f, "name") ? s_strv(f, "name") : "?", (int)s_num(f, "id", 0));
    }
    return DLD_OK;
}

/* Test seam (tests/iceberg, racing commits): with DLD_ICEBERG_TEST_BARRIER
 * set to a directory, a commit waits there after reading the table's
 * metadata until two commits have read it (or 20 s passed), so that both
 * try to create the same v<N+1>. Unset in production: one getenv. */
static void s_test_barrier(void)
{
    const char *dir = getenv("DLD_ICEBERG_TEST_BARRIER");
    if (dir == NULL || *dir == '\0')
        return;
    char path[4096];
    snprintf(path, sizeof path, "%s/ready-%ld", dir, (long)getpid());
    FILE *f = fopen(path, "w");
    if (f)
        fclose(f);
    for (int i = 0; i < 2000; i++) {
        int n = 0;
        DIR *d = opendir(dir);
        for (struct dirent *e = d ? readdir(d) : NULL; e; e = readdir(d))
            n += strncmp(e->d_name, "ready-", 6) == 0;
        if (d)
            closedir(d);
        if (n >= 2)
            return;
        usleep(10000);
    }
}

/* merge_key upserts: the load's delete manifest (written once, the same
 * bytes on every attempt) appended to the snapshot's manifests, with the
 * data's sequence number: its equality deletes apply to older data only. */
static int s_add_delete_manifest(const struct dld_lake_storage *st, const char *dir, const char *location,
                                 const struct dld_iceberg_load *ld, int64_t seq, int64_t snap_id, struct dld_ice_mf **mfs,
                                 int *nmf, int64_t *dmlen, struct dld_error *err)
{
    char *name = NULL, *loc = NULL;
    int rc = DLD_OK;
    if (asprintf(&name, "metadata/LOAD%08" PRId64 "-%s-m1.avro", ld->load_id, ld->load_uid) < 0)
        name = NULL;
    if (name == NULL || asprintf(&loc, "%s/%s", location, name) < 0) {
        free(name);
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    if (*dmlen < 0) {
        void *buf = NULL;
        size_t len = 0;
        if ((rc = dld_ice_write_delete_manifest(location, ld->schema_json ? ld->schema_json : "{}", ld, &buf, &len,
                                                err)) == DLD_OK &&
            (rc = s_put_once(st, dir, name, buf, len, err)) == DLD_OK)
            *dmlen = (int64_t)len;
        free(buf);
    }
    int64_t rows = 0;
    for (int i = 0; i < ld->ndeletes; i++)
        rows += ld->deletes[i].rows;
    struct dld_ice_mf *grown = rc ? NULL : realloc(*mfs, (size_t)(*nmf + 1) * sizeof(**mfs));
    if (rc == DLD_OK && grown == NULL)
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    if (rc == DLD_OK) {
        *mfs = grown;
        grown[(*nmf)++] = (struct dld_ice_mf){.path = loc, .length = *dmlen, .spec_id = 0, .content = 1, .seq = seq,
                                              .min_seq = seq, .snapshot_id = snap_id, .added_files = ld->ndeletes,
                                              .added_rows = rows};
        loc = NULL;
    }
    free(loc);
    free(name);
    return rc;
}

static char *s_catalog_meta_name(int64_t v, const char *uid)
{
    char *s = NULL;
    return asprintf(&s, "metadata/v%" PRId64 "-%s.metadata.json", v, uid) < 0 ? NULL : s;
}

/* The catalog step of a commit: writes the metadata file (a name of this
 * load's own), then swaps the catalog's pointer from the one read to it.
 * *lost when the pointer moved meanwhile: the caller reads again and builds
 * on top (the data files and the load's manifests stay as written). */
static int s_catalog_swap(const struct dld_lake_storage *st, const char *dir, const char *location,
                          const char *cat_version, const char *cur_loc, const char *vname, const char *lname,
                          const char *json, bool *lost, struct dld_error *err)
{
    const struct dld_iceberg_catalog *cat = s_catalog(st);
    char *new_loc = NULL, *schema = NULL;
    int rc = s_put_own(st, dir, vname, json, err);
    if (rc)
        return rc;
    if (asprintf(&new_loc, "%s/%s", location, vname) < 0)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    cJSON *m = cJSON_Parse(json);
    const cJSON *cs = s_current_schema(m);
    schema = cs ? cJSON_PrintUnformatted(cs) : NULL;
    cJSON_Delete(m);
    struct dld_error e;
    s_scratch(&e);
    rc = cat->swap(cat->ctx, dir, location, cat_version, cur_loc, new_loc, schema, &e);
    if (rc == DLD_ERR_CONFLICT) {
        /* The entry moved. Maybe to ours: a swap applied whose answer was
         * lost, retried with the version it had already replaced. Only a
         * pointer seen elsewhere lets our files go (never one it names). */
        char *now = NULL, *nv = NULL;
        s_scratch(&e);
        int crc = cat->current(cat->ctx, dir, location, &now, &nv, &e);
        rc = DLD_OK;
        if (crc == DLD_OK && now && !strcmp(now, new_loc)) {
            *lost = false; /* committed */
        } else {
            *lost = true; /* read again and build on top of the other commit */
            if (crc == DLD_OK) {
                const char *const names[] = {vname, lname};
                s_scratch(&e);
                st->remove(st->ctx, dir, names, lname ? 2 : 1, &e);
            }
        }
        free(now);
        free(nv);
    } else if (rc) {
        /* the swap may have happened (a timeout after Glue applied it): the
         * files stay, and a retried publish finds the snapshot by its uid */
        s_pass_on(err, &e, rc);
    }
    free(schema);
    free(new_loc);
    return rc;
}

int dld_iceberg_commit(const struct dld_lake_storage *st, const char *dir, const struct dld_iceberg_load *ld,
                       struct dld_error *err)
{
    if (!ld->load_uid || !dld_lake_uid_valid(ld->load_uid))
        return dld_error_set(err, DLD_ERR_FATAL, "iceberg: load %" PRId64 " has no load uid", ld->load_id);
    if (!DLD_HAS(st, struct dld_lake_storage, location) || !st->location)
        return dld_error_set(err, DLD_ERR_CONFIG, "iceberg: this target cannot tell the location of its files");
    char *location = st->location(st->ctx, dir);
    if (location == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    int64_t snap_id = s_snapshot_id(ld->load_uid);
    int64_t rows = 0, bytes = 0;
    for (int i = 0; i < ld->nfiles; i++) {
        rows += ld->files[i].rows;
        bytes += ld->files[i].bytes;
    }
    char *mname = NULL, *mloc = NULL;
    int64_t mlen = 0, dmlen = -1; /* the delete manifest's length once written */
    int rc = DLD_OK;
    bool manifest_written = false;
    const struct dld_iceberg_catalog *cat = s_catalog(st);
    for (int attempt = 0; attempt < S_MAX_ATTEMPTS; attempt++) {
        int64_t version = 0;
        char *text = NULL, *cur_loc = NULL, *cat_version = NULL; /* with a catalog: its pointer and version */
        if ((rc = cat ? s_catalog_current(st, dir, &version, &text, &cur_loc, &cat_version, err)
                      : dld_iceberg_current(st, dir, &version, &text, err)))
            break;
        if (attempt == 0)
            s_test_barrier();
        cJSON *meta = text ? cJSON_Parse(text) : NULL;
        free(text);
        if (version > 0 && !cJSON_IsObject(meta)) {
            cJSON_Delete(meta);
            free(cur_loc);
            free(cat_version);
            rc = dld_error_set(err, DLD_ERR_FATAL, "iceberg: %s/metadata/v%" PRId64 ".metadata.json is not JSON", dir,
                               version);
            break;
        }
        if (meta && s_num(meta, "format-version", 0) != 2) {
            cJSON_Delete(meta);
            free(cur_loc);
            free(cat_version);
            rc = dld_error_set(err, DLD_ERR_UNSUPPORTED, "iceberg: %s is not a format-version 2 table", location);
            break;
        }
        if (meta && s_find_snapshot(meta, ld->load_uid)) {
            /* committed already (a retried or recovered publish): make
             * sure the hint is not behind, and that is all */
            cJSON_Delete(meta);
            struct dld_error e;
            s_scratch(&e);
            if (!cat)
                s_put_hint(st, dir, version, &e);
            free(cur_loc);
            free(cat_version);
            rc = DLD_OK;
            goto done;
        }
        /* the schema must still be the table's (it was checked when the
         * first file was written; only deltaload writes this table) */
        if (meta && ld->schema_json) {
            cJSON *ours = cJSON_Parse(ld->schema_json);
            rc = s_schema_follows(s_current_schema(meta), ours, err);
            cJSON_Delete(ours);
            if (rc) {
                cJSON_Delete(meta);
                free(cur_loc);
                free(cat_version);
                break;
            }
        }
        int64_t seq = (meta ? s_num(meta, "last-sequence-number", 0) : 0) + 1;
        /* the manifests of the new snapshot: the parent's (append), then ours */
        struct dld_ice_mf *mfs = NULL;
        int nmf = 0;
        int64_t parent_id = meta ? s_num(meta, "current-snapshot-id", -1) : -1;
        const cJSON *parent = parent_id >= 0 ? s_snapshot_by_id(meta, parent_id) : NULL;
        if (!ld->overwrite && parent) {
            const char *pl = s_strv(parent, "manifest-list");
            const char *rel = pl ? s_relative(pl, location) : NULL;
            if (rel == NULL) {
                rc = dld_error_set(err, DLD_ERR_UNSUPPORTED,
                                   "iceberg: the manifest list %s of snapshot %" PRId64 " is not under %s", pl ? pl : "?",
                                   parent_id, location);
            } else {
                char *data = NULL;
                size_t len = 0;
                struct dld_error e;
                s_scratch(&e);
                if ((rc = st->get(st->ctx, dir, rel, &data, &len, &e)))
                    s_pass_on(err, &e, rc == DLD_ERR_NOT_FOUND ? DLD_ERR_FATAL : rc);
                else
                    rc = dld_ice_read_manifest_list(data, len, rel, &mfs, &nmf, err);
                free(data);
            }
        }
        if (rc == DLD_OK && ld->nfiles > 0 && !manifest_written) {
            /* the load's manifest: the same bytes on every attempt */
            void *buf = NULL;
            size_t len = 0;
            const char *schema_json = ld->schema_json;
            char *cur_schema = NULL;
            if (!schema_json) {
                cJSON *cs = s_current_schema(meta);
                schema_json = cur_schema = cs ? cJSON_PrintUnformatted(cs) : NULL;
            }
            free(mname);
            free(mloc);
            mname = mloc = NULL;
            if (asprintf(&mname, "metadata/LOAD%08" PRId64 "-%s-m0.avro", ld->load_id, ld->load_uid) < 0)
                mname = NULL;
            if (mname == NULL || asprintf(&mloc, "%s/%s", location, mname) < 0) {
                mloc = NULL;
                rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
            } else if ((rc = dld_ice_write_manifest(location, schema_json ? schema_json : "{}", ld, &buf, &len, err)) ==
                       DLD_OK) {
                rc = s_put_once(st, dir, mname, buf, len, err);
                mlen = (int64_t)len;
            }
            free(buf);
            free(cur_schema);
            if (rc == DLD_OK)
                manifest_written = true;
        }
        if (rc == DLD_OK && ld->nfiles > 0) {
            struct dld_ice_mf *grown = realloc(mfs, (size_t)(nmf + 1) * sizeof(*mfs));
            if (grown == NULL) {
                rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
            } else {
                mfs = grown;
                mfs[nmf++] = (struct dld_ice_mf){
                    .path = strdup(mloc), .length = mlen, .spec_id = 0, .content = 0, .seq = seq, .min_seq = seq,
                    .snapshot_id = snap_id, .added_files = ld->nfiles, .added_rows = rows};
                if (mfs[nmf - 1].path == NULL)
                    rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
                /* partition_by: the manifest's field summaries, for readers that prune manifests */
                char *cur_schema = NULL;
                if (rc == DLD_OK && ld->partition_spec) {
                    const cJSON *cs = ld->schema_json ? NULL : s_current_schema(meta);
                    cur_schema = cs ? cJSON_PrintUnformatted(cs) : NULL;
                    rc = dld_ice_partition_summaries(ld, ld->schema_json ? ld->schema_json : cur_schema,
                                                     &mfs[nmf - 1].parts, &mfs[nmf - 1].nparts, err);
                }
                free(cur_schema);
            }
        }
        /* (an overwrite has position deletes only: its own duplicates) */
        if (rc == DLD_OK && ld->ndeletes > 0)
            rc = s_add_delete_manifest(st, dir, location, ld, seq, snap_id, &mfs, &nmf, &dmlen, err);
        char *lname = NULL, *lloc = NULL;
        if (rc == DLD_OK &&
            (asprintf(&lname, "metadata/snap-%" PRId64 "-%" PRId64 "-%s.avro", snap_id, seq, ld->load_uid) < 0 ||
             asprintf(&lloc, "%s/%s", location, lname) < 0))
            rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        if (rc == DLD_OK) {
            void *buf = NULL;
            size_t len = 0;
            rc = dld_ice_write_manifest_list(mfs, nmf, snap_id, parent ? parent_id : -1, seq, &buf, &len, err);
            if (rc == DLD_OK)
                rc = s_put_once(st, dir, lname, buf, len, err);
            free(buf);
        }
        dld_ice_mf_free(mfs, nmf);
        char *json = NULL, *vname = NULL;
        if (rc == DLD_OK) {
            cJSON *next = s_new_metadata(meta, location, version, cur_loc, ld->schema_json, ld, snap_id, seq, lloc,
                                         rows, bytes, err);
            if (next == NULL)
                rc = err && err->code ? err->code : DLD_ERR_FATAL;
            else if (!s_exact_numbers(next) || (json = cJSON_Print(next)) == NULL ||
                     (vname = cat ? s_catalog_meta_name(version + 1, ld->load_uid) : s_meta_name(version + 1)) == NULL)
                rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
            cJSON_Delete(next);
        }
        cJSON_Delete(meta);
        bool lost = false;
        if (rc == DLD_OK && cat) {
            rc = s_catalog_swap(st, dir, location, cat_version, cur_loc, vname, lname, json, &lost, err);
        } else if (rc == DLD_OK) {
            struct dld_error e;
            s_scratch(&e);
            rc = st->put_if_absent(st->ctx, dir, vname, json, strlen(json), &e);
            if (rc == DLD_ERR_CONFLICT) {
                lost = true; /* another commit took v<N+1>: read again, try on top of it */
                rc = DLD_OK;
                const char *const names[] = {lname};
                s_scratch(&e);
                st->remove(st->ctx, dir, names, 1, &e); /* our list is referenced by nobody */
            } else if (rc) {
                s_pass_on(err, &e, rc);
            } else {
                s_scratch(&e);
                s_put_hint(st, dir, version + 1, &e); /* a hint that lags is corrected by probing */
            }
        }
        free(json);
        free(vname);
        free(lname);
        free(lloc);
        free(cur_loc);
        free(cat_version);
        if (rc || !lost)
            goto done;
    }
    if (rc == DLD_OK)
        rc = dld_error_set(err, DLD_ERR_RETRY, "iceberg: %d commits of load %" PRId64 " lost the race for the next "
                                               "metadata version", S_MAX_ATTEMPTS, ld->load_id);
done:
    if (rc)
        dld_error_prefix(err, "committing load %" PRId64 " to the Iceberg table %s", ld->load_id, location);
    free(mname);
    free(mloc);
    free(location);
    return rc;
}

/* cJSON prints large integers through a double with 15 significant digits:
 * print every integral number of 15 digits and more exactly (ids here stay
 * below 2^53, so the double holds them exactly). */
static bool s_exact_numbers(cJSON *item)
{
    for (cJSON *c = item ? item->child : NULL; c; c = c->next) {
        if (cJSON_IsNumber(c) && c->valuedouble == (double)(int64_t)c->valuedouble &&
            (c->valuedouble >= 1e14 || c->valuedouble <= -1e14)) {
            char buf[32], *s;
            snprintf(buf, sizeof buf, "%" PRId64, (int64_t)c->valuedouble);
            if ((s = strdup(buf)) == NULL)
                return false;
            c->type = cJSON_Raw;
            c->valuestring = s;
        } else if ((cJSON_IsObject(c) || cJSON_IsArray(c)) && !s_exact_numbers(c)) {
            return false;
        }
    }
    return true;
}

/* ---- for maintenance (iceberg_expire.c) ------------------------------------------------------- */

int dld_ice_current_ex(const struct dld_lake_storage *st, const char *dir, int64_t *version, char **json, char **loc,
                       char **cat_version, struct dld_error *err)
{
    *loc = *cat_version = NULL;
    if (s_catalog(st))
        return s_catalog_current(st, dir, version, json, loc, cat_version, err);
    int rc = dld_iceberg_current(st, dir, version, json, err);
    if (rc == DLD_OK && *version > 0) {
        char *location = st->location(st->ctx, dir);
        if (location == NULL || asprintf(loc, "%s/metadata/v%" PRId64 ".metadata.json", location, *version) < 0) {
            *loc = NULL;
            rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        }
        free(location);
    }
    return rc;
}

char *dld_ice_print_metadata(cJSON *m)
{
    return s_exact_numbers(m) ? cJSON_Print(m) : NULL;
}

int dld_ice_put_metadata(const struct dld_lake_storage *st, const char *dir, int64_t version, const char *cur_loc,
                         const char *cat_version, const char *json, const char *uid, bool *lost, struct dld_error *err)
{
    *lost = false;
    char *location = st->location(st->ctx, dir);
    char *vname = s_catalog(st) ? s_catalog_meta_name(version + 1, uid) : s_meta_name(version + 1);
    int rc = DLD_OK;
    if (location == NULL || vname == NULL) {
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    } else if (s_catalog(st)) {
        rc = s_catalog_swap(st, dir, location, cat_version, cur_loc, vname, NULL, json, lost, err);
    } else {
        struct dld_error e;
        s_scratch(&e);
        rc = st->put_if_absent(st->ctx, dir, vname, json, strlen(json), &e);
        if (rc == DLD_ERR_CONFLICT) {
            *lost = true;
            rc = DLD_OK;
        } else if (rc) {
            s_pass_on(err, &e, rc);
        } else {
            s_scratch(&e);
            s_put_hint(st, dir, version + 1, &e);
        }
    }
    free(vname);
    free(location);
    return rc;
}

char *dld_iceberg_manifest_annotate(const char *manifest_json, const char *schema_json)
{
    cJSON *m = cJSON_Parse(manifest_json);
    cJSON *s = schema_json ? cJSON_Parse(schema_json) : NULL;
    char *out = NULL;
    if (cJSON_IsObject(m) && cJSON_AddStringToObject(m, "table_format", "iceberg")) {
        if (s == NULL || cJSON_AddItemToObject(m, "iceberg_schema", s)) {
            s = NULL;
            out = cJSON_Print(m);
        }
    }
    cJSON_Delete(s);
    cJSON_Delete(m);
    return out;
}

char *dld_iceberg_manifest_annotate_deletes(const char *manifest_json, const char *schema_json,
                                            const struct dld_iceberg_delete *deletes, int ndeletes,
                                            const struct dld_iceberg_file_stats *stats, int nstats)
{
    char *base = dld_iceberg_manifest_annotate(manifest_json, schema_json);
    if (base == NULL || (ndeletes <= 0 && stats == NULL))
        return base;
    cJSON *m = cJSON_Parse(base), *arr = NULL, *sj = stats ? dld_ice_file_stats_json(stats, nstats) : NULL;
    free(base);
    bool ok = cJSON_IsObject(m) && (!stats || (sj && cJSON_AddItemToObject(m, "iceberg_stats", sj)));
    if (!ok)
        cJSON_Delete(sj);
    ok = ok && (ndeletes <= 0 || (arr = cJSON_AddArrayToObject(m, "iceberg_deletes")) != NULL);
    for (int i = 0; ok && i < ndeletes; i++) {
        cJSON *d = cJSON_CreateObject(), *ids = NULL;
        ok = d && cJSON_AddItemToArray(arr, d) && cJSON_AddStringToObject(d, "name", deletes[i].name) &&
             cJSON_AddNumberToObject(d, "rows", (double)deletes[i].rows) &&
             cJSON_AddNumberToObject(d, "bytes", (double)deletes[i].bytes) &&
             cJSON_AddNumberToObject(d, "content", deletes[i].content) &&
             (ids = cJSON_AddArrayToObject(d, "equality_ids")) != NULL;
        for (int k = 0; ok && k < deletes[i].n_equality_ids; k++)
            ok = cJSON_AddItemToArray(ids, cJSON_CreateNumber(deletes[i].equality_ids[k]));
    }
    char *out = ok ? cJSON_Print(m) : NULL;
    cJSON_Delete(m);
    return out;
}

char *dld_iceberg_manifest_annotate_partitions(const char *manifest_json, const char *spec_json,
                                               const char *const *file_partitions, int nfiles)
{
    cJSON *m = cJSON_Parse(manifest_json), *spec = cJSON_Parse(spec_json), *arr = NULL;
    bool ok = cJSON_IsObject(m) && spec && cJSON_AddItemToObject(m, "iceberg_partition_spec", spec);
    if (ok)
        spec = NULL;
    ok = ok && (arr = cJSON_AddArrayToObject(m, "iceberg_partitions")) != NULL;
    for (int i = 0; ok && i < nfiles; i++) {
        cJSON *v = cJSON_Parse(file_partitions[i]);
        ok = v && cJSON_AddItemToArray(arr, v);
        if (!ok)
            cJSON_Delete(v);
    }
    char *out = ok ? cJSON_Print(m) : NULL;
    cJSON_Delete(spec);
    cJSON_Delete(m);
    return out;
}

int dld_iceberg_commit_manifest(const struct dld_lake_storage *st, const char *dir, const char *manifest_json,
                                size_t len, int64_t now_ms, struct dld_error *err)
{
    cJSON *m = cJSON_ParseWithLength(manifest_json, len);
    const char *tf = s_strv(m, "table_format");
    if (!tf || strcmp(tf, "iceberg") != 0) {
        cJSON_Delete(m);
        return DLD_OK;
    }
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(m, "files");
    int n = cJSON_GetArraySize(files);
    struct dld_lake_file *v = calloc((size_t)n + 1, sizeof(*v));
    char *schema = NULL, *source = NULL;
    const cJSON *sj = cJSON_GetObjectItemCaseSensitive(m, "iceberg_schema");
    if (sj)
        schema = cJSON_PrintUnformatted(sj);
    if (v == NULL || (sj && schema == NULL)) {
        free(v);
        free(schema);
        cJSON_Delete(m);
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    int i = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, files)
    {
        v[i].name = s_strv(f, "name");
        v[i].rows = s_num(f, "rows", 0);
        v[i].bytes = s_num(f, "bytes", 0);
        if (v[i].name)
            i++;
    }
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(m, "window");
    const char *ss = s_strv(m, "sourceSchema"), *stb = s_strv(m, "sourceTable");
    if (asprintf(&source, "%s%s%s", ss ? ss : "", ss && *ss ? "." : "", stb ? stb : "") < 0)
        source = NULL;
    const char *mode = s_strv(m, "mode");
    struct dld_iceberg_load ld = {
        .load_id = s_num(m, "load_id", 0),
        .load_uid = s_strv(m, "load_uid"),
        .mode = mode,
        .window_column = s_strv(w, "column"),
        .low = s_strv(w, "low"),
        .high = s_strv(w, "high"),
        .low_inclusive = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(w, "low_inclusive")),
        .table_name = s_strv(m, "targetTableName"),
        .source_table = source,
        .schema_json = schema,
        .files = v,
        .nfiles = i,
        .overwrite = mode && !strcmp(mode, "full"),
        .now_ms = now_ms,
    };
    /* merge_key upserts: the delete files publish recorded */
    const cJSON *dels = cJSON_GetObjectItemCaseSensitive(m, "iceberg_deletes"), *d;
    int nd = cJSON_GetArraySize(dels), k = 0, nid = 0, rc = DLD_OK;
    cJSON_ArrayForEach(d, dels)
    {
        nid += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(d, "equality_ids"));
    }
    struct dld_iceberg_delete *dv = calloc((size_t)nd + 1, sizeof(*dv));
    int32_t *idv = calloc((size_t)nid + 1, sizeof(*idv)), *next_id = idv;
    if (dv == NULL || idv == NULL)
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    cJSON_ArrayForEach(d, dels)
    {
        if (rc || !s_strv(d, "name"))
            continue;
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(d, "equality_ids"), *id;
        dv[k] = (struct dld_iceberg_delete){.name = s_strv(d, "name"), .rows = s_num(d, "rows", 0),
                                            .bytes = s_num(d, "bytes", 0), .content = (int32_t)s_num(d, "content", 0),
                                            .equality_ids = next_id, .n_equality_ids = cJSON_GetArraySize(ids)};
        cJSON_ArrayForEach(id, ids)
        {
            *next_id++ = (int32_t)id->valuedouble;
        }
        k++;
    }
    ld.deletes = dv;
    ld.ndeletes = k;
    /* the data files' column statistics, when publish recorded them */
    struct dld_iceberg_file_stats *fs = NULL;
    const cJSON *stj = cJSON_GetObjectItemCaseSensitive(m, "iceberg_stats");
    if (rc == DLD_OK && cJSON_IsArray(stj) && cJSON_GetArraySize(stj) == i) {
        if (dld_ice_file_stats_parse(stj, i, &fs) != DLD_OK)
            rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        ld.file_stats = fs;
    }
    /* partition_by: the spec and the files' partition values publish recorded */
    const cJSON *pspec = cJSON_GetObjectItemCaseSensitive(m, "iceberg_partition_spec");
    const cJSON *parts = cJSON_GetObjectItemCaseSensitive(m, "iceberg_partitions");
    char *spec_text = NULL, **pv = NULL;
    if (rc == DLD_OK && pspec) {
        if (cJSON_GetArraySize(parts) != i)
            rc = dld_error_set(err, DLD_ERR_FATAL,
                               "iceberg: load %" PRId64 "'s manifest has %d partitions for %d files", ld.load_id,
                               cJSON_GetArraySize(parts), i);
        else if ((spec_text = cJSON_PrintUnformatted(pspec)) == NULL ||
                 (pv = calloc((size_t)i + 1, sizeof(*pv))) == NULL)
            rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        for (int f_at = 0; rc == DLD_OK && f_at < i; f_at++)
            if ((pv[f_at] = cJSON_PrintUnformatted(cJSON_GetArrayItem(parts, f_at))) == NULL)
                rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        ld.partition_spec = spec_text;
        ld.file_partitions = (const char *const *)pv;
    }
    if (rc == DLD_OK)
        rc = dld_iceberg_commit(st, dir, &ld, err);
    for (int f_at = 0; pv && f_at < i; f_at++)
        free(pv[f_at]);
    free(pv);
    free(spec_text);
    dld_ice_file_stats_free(fs, i);
    free(dv);
    free(idv);
    free(source);
    free(schema);
    free(v);
    cJSON_Delete(m);
    return rc;
}

/* The lake layer (lake.h) against an in-memory storage that can stall,
 * lose responses and be shared by two "processes"; then target-file (the
 * dlopen'ed .so) built on it, on a temporary directory. */
#include <check.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <deltaload/deltaload.h>
#include <deltaload/lake.h>

#include "test_host.h"

#define UID1 "3f9a0c1d2b4e6f70"
#define UID2 "00ff00ff00ff00ff"
#define UIDDIGITS "1234567890123456" /* a uid that is all digits */

/* ---- an in-memory storage ---------------------------------------------------------- */
struct mem_obj {
    char *key; /* dir "/" name */
    char *data;
    size_t len;
    bool staged; /* written by file_open/file_close, not promoted yet */
};

struct mem {
    struct mem_obj *v;
    int n, cap;
    int opens;                 /* file_open calls */
    char last_content_type[64];
    int lose_put_response;     /* the next put_if_absent stores, then reports a failure */
    void (*before_put)(void);  /* runs once before the next put_if_absent */
};

struct mem_file {
    struct mem *m;
    char *key;
    char *buf;
    size_t len, cap;
};

static struct mem g_mem;

static char *s_key(const char *dir, const char *name)
{
    char *k = NULL;
    ck_assert_int_ge(asprintf(&k, "%s/%s", dir, name), 0);
    return k;
}

static struct mem_obj *mem_find(struct mem *m, const char *key)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->v[i].key, key) == 0)
            return &m->v[i];
    return NULL;
}

static void mem_put(struct mem *m, const char *key, const char *data, size_t len, bool staged)
{
    struct mem_obj *o = mem_find(m, key);
    if (o == NULL) {
        if (m->n == m->cap) {
            m->cap = m->cap ? m->cap * 2 : 64;
            m->v = realloc(m->v, (size_t)m->cap * sizeof(*m->v));
            ck_assert_ptr_nonnull(m->v);
        }
        o = &m->v[m->n++];
        o->key = strdup(key);
    } else {
        free(o->data);
    }
    o->data = malloc(len + 1);
    memcpy(o->data, data, len);
    o->data[len] = '\0';
    o->len = len;
    o->staged = staged;
}

static void mem_del(struct mem *m, const char *key)
{
    struct mem_obj *o = mem_find(m, key);
    if (o == NULL)
        return;
    free(o->key);
    free(o->data);
    *o = m->v[--m->n];
}

static void mem_reset(struct mem *m)
{
    while (m->n)
        mem_del(m, m->v[0].key);
    free(m->v);
    memset(m, 0, sizeof(*m));
}

static int mem_sink_write(void *ctx, const void *data, size_t len, struct dld_error *err)
{
    struct mem_file *f = ctx;
    if (f->len + len > f->cap) {
        f->cap = (f->len + len) * 2;
        f->buf = realloc(f->buf, f->cap);
        ck_assert_ptr_nonnull(f->buf);
    }
    memcpy(f->buf + f->len, data, len);
    f->len += len;
    return DLD_OK;
}

static int mem_file_open(void *ctx, const char *dir, const char *name, const char *content_type, void **file,
                         struct dld_sink *sink, struct dld_error *err)
{
    struct mem *m = ctx;
    struct mem_file *f = calloc(1, sizeof(*f));
    f->m = m;
    f->key = s_key(dir, name);
    m->opens++;
    snprintf(m->last_content_type, sizeof m->last_content_type, "%s", content_type);
    *file = f;
    sink->ctx = f;
    sink->write = mem_sink_write;
    return DLD_OK;
}

static void mem_file_free(struct mem_file *f)
{
    free(f->key);
    free(f->buf);
    free(f);
}

static int mem_file_close(void *ctx, void *file, int64_t *bytes, struct dld_error *err)
{
    struct mem_file *f = file;
    mem_put(f->m, f->key, f->buf ? f->buf : "", f->len, true);
    *bytes = (int64_t)f->len;
    mem_file_free(f);
    return DLD_OK;
}

static void mem_file_abandon(void *ctx, void *file)
{
    mem_file_free(file);
}

static int mem_promote(void *ctx, const char *dir, const char *const *names, int n, struct dld_error *err)
{
    for (int i = 0; i < n; i++) {
        char *k = s_key(dir, names[i]);
        struct mem_obj *o = mem_find(ctx, k);
        free(k);
        if (o == NULL)
            return dld_error_set(err, DLD_ERR_FATAL, "promoting %s: no such file", names[i]);
        o->staged = false;
    }
    return DLD_OK;
}

static int mem_put_if_absent(void *ctx, const char *dir, const char *name, const void *data, size_t len,
                             struct dld_error *err)
{
    struct mem *m = ctx;
    if (m->before_put) {
        void (*fn)(void) = m->before_put;
        m->before_put = NULL;
        fn();
    }
    char *k = s_key(dir, name);
    int rc = DLD_OK;
    if (mem_find(m, k))
        rc = dld_error_set(err, DLD_ERR_CONFLICT, "%s exists", k);
    else
        mem_put(m, k, data, len, false);
    free(k);
    if (rc == DLD_OK && m->lose_put_response) {
        m->lose_put_response = 0;
        return dld_error_set(err, DLD_ERR_RETRY, "connection reset (the write went through)");
    }
    return rc;
}

static int mem_get(void *ctx, const char *dir, const char *name, char **data, size_t *len, struct dld_error *err)
{
    char *k = s_key(dir, name);
    struct mem_obj *o = mem_find(ctx, k);
    free(k);
    if (o == NULL || o->staged)
        return dld_error_set(err, DLD_ERR_NOT_FOUND, "%s: not found", name);
    *data = malloc(o->len + 1);
    memcpy(*data, o->data, o->len + 1);
    *len = o->len;
    return DLD_OK;
}

static int mem_list(void *ctx, const char *dir, const char *prefix, int (*fn)(void *fnctx, const char *name),
                    void *fnctx, struct dld_error *err)
{
    struct mem *m = ctx;
    size_t dl = strlen(dir);
    /* collect first: fn may not change the storage, but be safe */
    char **names = calloc((size_t)m->n + 1, sizeof(char *));
    int n = 0;
    for (int i = 0; i < m->n; i++) {
        const char *k = m->v[i].key;
        if (strncmp(k, dir, dl) == 0 && k[dl] == '/' && strncmp(k + dl + 1, prefix, strlen(prefix)) == 0)
            names[n++] = strdup(k + dl + 1);
    }
    int stop = 0;
    for (int i = 0; i < n; i++) {
        if (!stop)
            stop = fn(fnctx, names[i]);
        free(names[i]);
    }
    free(names);
    return DLD_OK;
}

static int mem_remove(void *ctx, const char *dir, const char *const *names, int n, struct dld_error *err)
{
    for (int i = 0; i < n; i++) {
        char *k = s_key(dir, names[i]);
        mem_del(ctx, k);
        free(k);
    }
    return DLD_OK;
}

static int64_t mem_now(void)
{
    return 1700000000000;
}

static const struct dld_lake_storage g_st = {
    .struct_size = sizeof(struct dld_lake_storage),
    .ctx = &g_mem,
    .file_open = mem_file_open,
    .file_close = mem_file_close,
    .file_abandon = mem_file_abandon,
    .promote = mem_promote,
    .put_if_absent = mem_put_if_absent,
    .get = mem_get,
    .list = mem_list,
    .remove = mem_remove,
    .now_ms = mem_now,
};

#define DIR_ "raw/sales/orders"

static bool mem_has(const char *name)
{
    char *k = s_key(DIR_, name);
    bool r = mem_find(&g_mem, k) != NULL;
    free(k);
    return r;
}

static bool mem_has_staged(const char *name)
{
    char *k = s_key(DIR_, name);
    struct mem_obj *o = mem_find(&g_mem, k);
    free(k);
    return o && o->staged;
}

static const char *mem_text(const char *name)
{
    char *k = s_key(DIR_, name);
    struct mem_obj *o = mem_find(&g_mem, k);
    free(k);
    return o ? o->data : NULL;
}

static int mem_count_prefix(const char *prefix)
{
    int n = 0;
    for (int i = 0; i < g_mem.n; i++)
        n += strncmp(g_mem.v[i].key, DIR_ "/", strlen(DIR_ "/")) == 0 &&
             strncmp(g_mem.v[i].key + strlen(DIR_ "/"), prefix, strlen(prefix)) == 0;
    return n;
}

/* ---- loads and batches ------------------------------------------------------------------ */
static const struct dld_table g_table = {
    .struct_size = sizeof(struct dld_table),
    .target_table_name = "orders",
    .source_schema = "sales",
    .source_table = "orders_src",
    .filter_column = "id",
    .filter_operator = "gte",
    .output_prefix = "raw",
    .active = 1,
};

static struct dld_load s_load(int64_t id, const char *uid)
{
    return (struct dld_load){
        .struct_size = sizeof(struct dld_load),
        .table = &g_table,
        .load_id = id,
        .mode = DLD_MODE_DELTA,
        .low = "10",
        .low_inclusive = 0,
        .high = "20",
        .snapshot = "snap-1",
        .started_ms = 1,
        .load_uid = uid,
        .lease_token = 7,
    };
}

static const struct dld_column_spec g_cols[] = {
    {.name = "id", .type = DLD_T_INT64},
    {.name = "name", .type = DLD_T_STRING, .nullable = true},
};
static const struct dld_column_spec g_cols_renamed[] = {
    {.name = "id", .type = DLD_T_INT64},
    {.name = "label", .type = DLD_T_STRING, .nullable = true},
};
static const struct dld_column_spec g_cols_retyped[] = {
    {.name = "id", .type = DLD_T_INT64},
    {.name = "name", .type = DLD_T_INT32, .nullable = true},
};
static const struct dld_column_spec g_cols_more[] = {
    {.name = "id", .type = DLD_T_INT64},
    {.name = "name", .type = DLD_T_STRING, .nullable = true},
    {.name = "amount", .type = DLD_T_FLOAT64, .nullable = true},
};

struct batch {
    struct ArrowSchema schema;
    struct ArrowArray array;
};

static void s_batch(struct batch *b, const struct dld_column_spec *cols, size_t ncols, int64_t first, int64_t n)
{
    struct dld_batch_builder *bb = dld_batch_builder_new(cols, ncols);
    ck_assert_ptr_nonnull(bb);
    for (int64_t i = first; i < first + n; i++) {
        for (size_t c = 0; c < ncols; c++) {
            if (cols[c].type == DLD_T_STRING) {
                char s[64];
                int len = snprintf(s, sizeof s, "row-%06lld", (long long)i);
                ck_assert_int_eq(dld_batch_append_bytes(bb, c, s, (size_t)len), DLD_OK);
            } else if (cols[c].type == DLD_T_FLOAT64) {
                ck_assert_int_eq(dld_batch_append_double(bb, c, (double)i / 4), DLD_OK);
            } else {
                ck_assert_int_eq(dld_batch_append_int(bb, c, i), DLD_OK);
            }
        }
        ck_assert_int_eq(dld_batch_end_row(bb), DLD_OK);
    }
    ck_assert_int_eq(dld_batch_finish(bb, &b->schema, &b->array), DLD_OK);
    dld_batch_builder_destroy(bb);
}

static void s_batch_release(struct batch *b)
{
    dld_arrow_release(&b->schema, &b->array);
}

static struct dld_error s_err(void)
{
    struct dld_error e;
    dld_error_init(&e);
    return e;
}

static const char *const g_csv_opts[] = {"format", "csv", "max_file_size", "268435456", NULL};

/* writes `batches` batches of `rows` rows (ids from first) and finishes */
static struct dld_lake_load *s_write_load(const struct dld_load *load, const char *const *opts, int batches,
                                          int64_t rows, int64_t first, struct dld_load_stats *stats)
{
    struct dld_error err = s_err();
    struct dld_lake_load *l = NULL;
    ck_assert_msg(dld_lake_load_begin(&g_st, opts, load, &l, &err) == DLD_OK, "%s", err.message);
    for (int i = 0; i < batches; i++) {
        struct batch b;
        s_batch(&b, g_cols, 2, first + i * rows, rows);
        ck_assert_msg(dld_lake_load_write(l, &b.schema, &b.array, &err) == DLD_OK, "%s", err.message);
        s_batch_release(&b);
    }
    struct dld_load_stats st = {.struct_size = sizeof st};
    ck_assert_msg(dld_lake_load_finish(l, &st, &err) == DLD_OK, "%s", err.message);
    if (stats)
        *stats = st;
    return l;
}

static int s_publish(const struct dld_load *load, int batches, int64_t rows, struct dld_error *err)
{
    struct dld_lake_load *l = s_write_load(load, g_csv_opts, batches, rows, 0, NULL);
    int rc = dld_lake_load_publish(l, err);
    dld_lake_load_free(l);
    return rc;
}

static int s_is_published(const struct dld_load *load)
{
    struct dld_error err = s_err();
    int published = -1;
    ck_assert_msg(dld_lake_is_published(&g_st, load, &published, &err) == DLD_OK, "%s", err.message);
    return published;
}

static void s_setup(void)
{
    mem_reset(&g_mem);
}

static void s_teardown(void)
{
    mem_reset(&g_mem);
}

/* ---- names ---------------------------------------------------------------------------- */
START_TEST(test_names)
{
    char *s;
    ck_assert_str_eq(s = dld_lake_file_name(42, NULL, 1, "parquet"), "LOAD00000042-0001.parquet");
    free(s);
    ck_assert_str_eq(s = dld_lake_file_name(42, "", 12, "csv"), "LOAD00000042-0012.csv");
    free(s);
    ck_assert_str_eq(s = dld_lake_file_name(42, UID1, 3, "csv"), "LOAD00000042-" UID1 "-0003.csv");
    free(s);
    ck_assert_str_eq(s = dld_lake_manifest_name(42, NULL), "_manifests/LOAD00000042.json");
    free(s);
    ck_assert_str_eq(s = dld_lake_manifest_name(42, UID1), "_manifests/LOAD00000042-" UID1 ".json");
    free(s);

    static const struct {
        const char *name;
        int64_t id;
        const char *uid;
        int expect;
    } cases[] = {
        {"LOAD00000042-0001.parquet", 42, NULL, 1},
        {"some/dir/LOAD00000042-9999.csv", 42, NULL, 1},
        {"LOAD00000042.json", 42, NULL, 1},
        {"_manifests/LOAD00000042.json", 42, NULL, 1},
        {"LOAD00000042-0001.parquet", 42, UID1, 0},         /* legacy name, uid load */
        {"LOAD00000042-" UID1 "-0001.parquet", 42, NULL, 0}, /* uid name, legacy load */
        {"LOAD00000042-" UIDDIGITS "-0001.csv", 42, NULL, 0},
        {"LOAD00000042-" UIDDIGITS "-0001.csv", 42, UIDDIGITS, 1},
        {"LOAD00000042-" UID1 "-0001.parquet", 42, UID1, 1},
        {"LOAD00000042-" UID1 "-0001.parquet", 42, UID2, 0},
        {"_manifests/LOAD00000042-" UID1 ".json", 42, UID1, 1},
        {"_manifests/LOAD00000042-" UID1 ".json", 42, NULL, 0},
        {"_manifests/LOAD00000042.json", 42, UID1, 0},
        {"LOAD00000420-0001.csv", 42, NULL, 0},
        {"LOAD00000042-0001.csv", 420, NULL, 0},
        {"LOAD00000004-0001.csv", 42, NULL, 0},
        {"LOAD00000042-001.csv", 42, NULL, 0},
        {"LOAD00000042-0001", 42, NULL, 0},
        {"LOAD00000042-0001.", 42, NULL, 0},
        {"LOAD00000042.json.0123456789abcdef.tmp", 42, NULL, 0},
        {"_manifests/LOAD00000042-" UID1 ".json.0123456789abcdef.tmp", 42, UID1, 0},
        {"LOAD00000042-" UID1 "-0001.csv", 42, "3F9A0C1D2B4E6F70", 0}, /* not a valid uid */
        {"LOAD123456789-0001.csv", 123456789, NULL, 1},
        /* delete files of an Iceberg upsert (iceberg_delete.h) belong to their load */
        {"LOAD00000042-" UID1 "-d0001.parquet", 42, UID1, 1},
        {"LOAD00000042-" UID1 "-d0002.parquet", 42, UID2, 0},
        {"LOAD00000042-d0001.parquet", 42, NULL, 0},
        {"LOAD00000042-" UID1 "-dd001.parquet", 42, UID1, 0},
        {"", 42, NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_msg(dld_lake_name_is_load(cases[i].name, cases[i].id, cases[i].uid) == cases[i].expect,
                      "%s load %lld uid %s: expected %d", cases[i].name, (long long)cases[i].id,
                      cases[i].uid ? cases[i].uid : "(legacy)", cases[i].expect);

    ck_assert(dld_lake_uid_valid(UID1));
    ck_assert(!dld_lake_uid_valid("3F9A0C1D2B4E6F70"));
    ck_assert(!dld_lake_uid_valid("3f9a0c1d2b4e6f7"));
    ck_assert(!dld_lake_uid_valid("3f9a0c1d2b4e6f700"));
    ck_assert(!dld_lake_uid_valid("3f9a0c1d2b4e6f7g"));
    ck_assert(!dld_lake_uid_valid(NULL));
    char a[17], b[17];
    struct dld_error err = s_err();
    ck_assert_int_eq(dld_lake_new_uid(a, &err), DLD_OK);
    ck_assert_int_eq(dld_lake_new_uid(b, &err), DLD_OK);
    ck_assert(dld_lake_uid_valid(a));
    ck_assert(dld_lake_uid_valid(b));
    ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(test_table_dir_checks)
{
    struct dld_error err = s_err();
    char *dir = NULL;
    ck_assert_int_eq(dld_lake_table_dir(&g_table, &dir, &err), DLD_OK);
    ck_assert_str_eq(dir, DIR_);
    free(dir);
    struct dld_table t = g_table;
    t.source_schema = "..";
    ck_assert_int_eq(dld_lake_table_dir(&t, &dir, &err), DLD_ERR_CONFIG);
    t = g_table;
    t.target_table_name = "a/b";
    ck_assert_int_eq(dld_lake_table_dir(&t, &dir, &err), DLD_ERR_CONFIG);
}
END_TEST

/* ---- manifests -------------------------------------------------------------------------- */
START_TEST(test_manifest_roundtrip)
{
    struct dld_load load = s_load(42, UID1);
    struct dld_lake_file files[] = {{"LOAD00000042-" UID1 "-0001.csv", 10, 100},
                                    {"LOAD00000042-" UID1 "-0002.csv", 5, 50}};
    char *json = dld_lake_manifest_json(&load, "csv", files, 2, 1234);
    ck_assert_ptr_nonnull(json);
    cJSON *m = cJSON_Parse(json);
    /* the keys of ABI 1.0 manifests are all still there */
    static const char *const keys[] = {"targetTableName", "sourceSchema", "sourceTable", "load_id", "mode",
                                       "window", "snapshot", "format", "files", "rows", "bytes", "created_ms",
                                       "writer", "load_uid", "lease_token", "status"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        ck_assert_msg(cJSON_GetObjectItemCaseSensitive(m, keys[i]) != NULL, "manifest lacks %s", keys[i]);
    ck_assert_str_eq(cJSON_GetObjectItem(m, "status")->valuestring, "published");
    ck_assert_str_eq(cJSON_GetObjectItem(m, "load_uid")->valuestring, UID1);
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "window"), "column")->valuestring, "id");
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(m, "files"), 1), "name")->valuestring,
                     files[1].name);
    cJSON_Delete(m);

    struct dld_error err = s_err();
    struct dld_lake_manifest_info info;
    ck_assert_int_eq(dld_lake_manifest_parse(json, strlen(json), "m", &info, &err), DLD_OK);
    ck_assert_int_eq(info.load_id, 42);
    ck_assert_str_eq(info.load_uid, UID1);
    ck_assert_int_eq(info.lease_token, 7);
    ck_assert_int_eq(info.published, 1);
    ck_assert_str_eq(info.mode, "delta");
    ck_assert_str_eq(info.low, "10");
    ck_assert_str_eq(info.high, "20");
    ck_assert_int_eq(info.low_inclusive, 0);
    ck_assert_int_eq(info.rows, 15);
    ck_assert_int_eq(info.bytes, 150);
    ck_assert_int_eq(info.files, 2);
    ck_assert_int_eq(info.created_ms, 1234);
    dld_lake_manifest_info_clean_up(&info);
    free(json);

    /* the tombstone */
    json = dld_lake_tombstone_json(&load, 99);
    ck_assert_int_eq(dld_lake_manifest_parse(json, strlen(json), "t", &info, &err), DLD_OK);
    ck_assert_int_eq(info.published, 0);
    ck_assert_str_eq(info.load_uid, UID1);
    ck_assert_int_eq(info.files, 0);
    ck_assert_int_eq(info.rows, 0);
    ck_assert_int_eq(info.bytes, 0);
    ck_assert_int_eq(info.lease_token, 7);
    dld_lake_manifest_info_clean_up(&info);
    m = cJSON_Parse(json);
    ck_assert_str_eq(cJSON_GetObjectItem(m, "status")->valuestring, "aborted");
    ck_assert(cJSON_IsArray(cJSON_GetObjectItem(m, "files")));
    ck_assert_ptr_nonnull(cJSON_GetObjectItem(m, "window"));
    cJSON_Delete(m);
    free(json);

    /* a legacy load: no load_uid key, still a status */
    load = s_load(3, NULL);
    json = dld_lake_manifest_json(&load, "parquet", NULL, 0, 5);
    m = cJSON_Parse(json);
    ck_assert_ptr_null(cJSON_GetObjectItem(m, "load_uid"));
    ck_assert_str_eq(cJSON_GetObjectItem(m, "status")->valuestring, "published");
    cJSON_Delete(m);
    ck_assert_int_eq(dld_lake_manifest_parse(json, strlen(json), "l", &info, &err), DLD_OK);
    ck_assert_ptr_null(info.load_uid);
    ck_assert_int_eq(info.published, 1);
    dld_lake_manifest_info_clean_up(&info);
    free(json);

    /* written by ABI 1.0 (no status, no uid): published */
    const char *old = "{\"targetTableName\":\"orders\",\"load_id\":5,\"mode\":\"full\",\"window\":{\"column\":\"\","
                      "\"low\":null,\"low_inclusive\":false,\"high\":null},\"format\":\"csv\",\"files\":[{\"name\":"
                      "\"LOAD00000005-0001.csv\",\"rows\":3,\"bytes\":30}],\"rows\":3,\"bytes\":30,\"created_ms\":1,"
                      "\"writer\":\"deltaload\"}";
    ck_assert_int_eq(dld_lake_manifest_parse(old, strlen(old), "old", &info, &err), DLD_OK);
    ck_assert_int_eq(info.published, 1);
    ck_assert_ptr_null(info.load_uid);
    ck_assert_int_eq(info.lease_token, 0);
    ck_assert_int_eq(info.files, 1);
    ck_assert_ptr_null(info.low);
    dld_lake_manifest_info_clean_up(&info);

    /* not manifests */
    static const char *const bad[] = {"[]", "{", "{\"load_id\":\"1\"}", "{\"load_id\":1,\"status\":\"maybe\"}",
                                      "{\"load_id\":1,\"load_uid\":\"XYZ\"}", "{\"load_id\":1,\"files\":3}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err = s_err();
        ck_assert_msg(dld_lake_manifest_parse(bad[i], strlen(bad[i]), "_manifests/x.json", &info, &err) ==
                          DLD_ERR_FATAL,
                      "%s parsed", bad[i]);
        ck_assert_msg(strstr(err.message, "_manifests/x.json") != NULL, "%s", err.message);
        ck_assert_ptr_null(info.load_uid);
    }
}
END_TEST

static const char *s_kv(char **kv, const char *key)
{
    for (size_t i = 0; kv[i]; i += 2)
        if (strcmp(kv[i], key) == 0)
            return kv[i + 1];
    return NULL;
}

START_TEST(test_file_metadata_and_copy)
{
    struct dld_load load = s_load(42, UID1);
    char **kv = dld_lake_file_metadata(&load);
    ck_assert_ptr_nonnull(kv);
    ck_assert_str_eq(s_kv(kv, "deltaload.writer"), "deltaload");
    ck_assert_str_eq(s_kv(kv, "deltaload.table"), "orders");
    ck_assert_str_eq(s_kv(kv, "deltaload.source_table"), "sales.orders_src");
    ck_assert_str_eq(s_kv(kv, "deltaload.load_id"), "42");
    ck_assert_str_eq(s_kv(kv, "deltaload.load_uid"), UID1);
    ck_assert_str_eq(s_kv(kv, "deltaload.mode"), "delta");
    ck_assert_str_eq(s_kv(kv, "deltaload.window_low"), "10");
    ck_assert_str_eq(s_kv(kv, "deltaload.window_low_inclusive"), "false");
    ck_assert_str_eq(s_kv(kv, "deltaload.window_high"), "20");
    dld_lake_metadata_free(kv);

    load = s_load(1, NULL);
    load.low = load.high = NULL;
    load.mode = DLD_MODE_FULL;
    kv = dld_lake_file_metadata(&load);
    ck_assert_ptr_null(s_kv(kv, "deltaload.load_uid"));
    ck_assert_ptr_null(s_kv(kv, "deltaload.window_low"));
    ck_assert_ptr_null(s_kv(kv, "deltaload.window_low_inclusive"));
    ck_assert_ptr_null(s_kv(kv, "deltaload.window_high"));
    ck_assert_str_eq(s_kv(kv, "deltaload.mode"), "full");
    dld_lake_metadata_free(kv);

    /* the copy owns its strings */
    char low[] = "10", uid[] = UID1, name[] = "orders";
    struct dld_table t = g_table;
    t.target_table_name = name;
    load = s_load(42, uid);
    load.table = &t;
    load.low = low;
    struct dld_load *c = dld_load_copy(&load);
    ck_assert_ptr_nonnull(c);
    low[0] = uid[0] = name[0] = 'X';
    ck_assert_str_eq(c->low, "10");
    ck_assert_str_eq(c->load_uid, UID1);
    ck_assert_str_eq(c->table->target_table_name, "orders");
    ck_assert_str_eq(c->table->output_prefix, "raw");
    ck_assert_int_eq(c->lease_token, 7);
    ck_assert_int_eq(c->struct_size, sizeof(struct dld_load));
    dld_load_copy_free(c);

    /* a 1.0 host's struct ends before load_uid: it is not read */
    load = s_load(42, UID1);
    load.struct_size = offsetof(struct dld_load, load_uid);
    c = dld_load_copy(&load);
    ck_assert_ptr_null(c->load_uid);
    ck_assert_int_eq(c->lease_token, 0);
    dld_load_copy_free(c);
}
END_TEST

/* ---- a load end to end ---------------------------------------------------------------- */
START_TEST(test_uid_load_end_to_end)
{
    struct dld_load load = s_load(42, UID1);
    struct dld_load_stats stats;
    struct dld_lake_load *l = s_write_load(&load, g_csv_opts, 3, 10, 0, &stats);
    ck_assert_int_eq(stats.rows, 30);
    ck_assert_int_eq(stats.files, 1);
    ck_assert_str_eq(g_mem.last_content_type, "text/csv");
    ck_assert(mem_has_staged("LOAD00000042-" UID1 "-0001.csv"));
    ck_assert_int_eq(stats.bytes, (int64_t)strlen(mem_text("LOAD00000042-" UID1 "-0001.csv")));
    ck_assert_int_eq(s_is_published(&load), 0);
    struct dld_error err = s_err();
    ck_assert_msg(dld_lake_load_publish(l, &err) == DLD_OK, "%s", err.message);
    dld_lake_load_free(l);
    ck_assert(mem_has("LOAD00000042-" UID1 "-0001.csv"));
    ck_assert(!mem_has_staged("LOAD00000042-" UID1 "-0001.csv"));
    const char *text = mem_text("_manifests/LOAD00000042-" UID1 ".json");
    ck_assert_ptr_nonnull(text);
    struct dld_lake_manifest_info info;
    ck_assert_int_eq(dld_lake_manifest_parse(text, strlen(text), "m", &info, &err), DLD_OK);
    ck_assert_int_eq(info.rows, 30);
    ck_assert_int_eq(info.files, 1);
    ck_assert_int_eq(info.created_ms, mem_now());
    ck_assert_str_eq(info.load_uid, UID1);
    dld_lake_manifest_info_clean_up(&info);
    ck_assert_str_eq(mem_text("LOAD00000042-" UID1 "-0001.csv"), "id,name\n0,row-000000\n1,row-000001\n2,row-000002\n"
                     "3,row-000003\n4,row-000004\n5,row-000005\n6,row-000006\n7,row-000007\n8,row-000008\n"
                     "9,row-000009\n10,row-000010\n11,row-000011\n12,row-000012\n13,row-000013\n14,row-000014\n"
                     "15,row-000015\n16,row-000016\n17,row-000017\n18,row-000018\n19,row-000019\n20,row-000020\n"
                     "21,row-000021\n22,row-000022\n23,row-000023\n24,row-000024\n25,row-000025\n26,row-000026\n"
                     "27,row-000027\n28,row-000028\n29,row-000029\n");
    ck_assert_int_eq(s_is_published(&load), 1);
    /* the same load id under another uid, and the legacy load 42, are not published */
    struct dld_load other = s_load(42, UID2);
    ck_assert_int_eq(s_is_published(&other), 0);
    other = s_load(42, NULL);
    ck_assert_int_eq(s_is_published(&other), 0);

    /* a Parquet load says so to the storage */
    const char *const popts[] = {"format", "parquet", NULL};
    load = s_load(43, UID2);
    l = s_write_load(&load, popts, 1, 5, 0, &stats);
    ck_assert_str_eq(g_mem.last_content_type, "application/vnd.apache.parquet");
    ck_assert(mem_has_staged("LOAD00000043-" UID2 "-0001.parquet"));
    ck_assert_int_eq(memcmp(mem_text("LOAD00000043-" UID2 "-0001.parquet"), "PAR1", 4), 0);
    dld_lake_load_free(l);

    /* an invalid uid is refused before anything is written */
    load = s_load(44, "../../etc/passwd");
    err = s_err();
    ck_assert_int_eq(dld_lake_load_begin(&g_st, g_csv_opts, &load, &l, &err), DLD_ERR_CONFIG);
    ck_assert_int_eq(dld_lake_discard(&g_st, &load, &err), DLD_ERR_CONFIG);
}
END_TEST

START_TEST(test_publish_then_discard_refused)
{
    struct dld_load load = s_load(42, UID1);
    struct dld_error err = s_err();
    ck_assert_msg(s_publish(&load, 2, 10, &err) == DLD_OK, "%s", err.message);
    int before = g_mem.n;
    err = s_err();
    ck_assert_int_eq(dld_lake_discard(&g_st, &load, &err), DLD_ERR_CONFLICT);
    ck_assert_msg(strstr(err.message, "load 42 is published; not removing its files") != NULL, "%s", err.message);
    ck_assert_int_eq(err.retryable, 0);
    ck_assert_int_eq(g_mem.n, before);
    ck_assert(mem_has("LOAD00000042-" UID1 "-0001.csv"));
    ck_assert_int_eq(s_is_published(&load), 1);
}
END_TEST

/* another process discards the load after it was staged: publish is refused */
START_TEST(test_discard_then_publish_refused)
{
    struct dld_load load = s_load(42, UID1);
    struct dld_lake_load *l = s_write_load(&load, g_csv_opts, 2, 10, 0, NULL);
    struct dld_error err = s_err();
    ck_assert_msg(dld_lake_discard(&g_st, &load, &err) == DLD_OK, "%s", err.message);
    ck_assert_int_eq(mem_count_prefix("LOAD"), 0);
    err = s_err();
    ck_assert_int_eq(dld_lake_load_publish(l, &err), DLD_ERR_CONFLICT);
    ck_assert_msg(strstr(err.message, "load 42 (uid " UID1 ") was aborted by another process") != NULL, "%s",
                  err.message);
    ck_assert_int_eq(err.retryable, 0);
    dld_lake_load_free(l);
    ck_assert_int_eq(mem_count_prefix("LOAD"), 0);
    ck_assert_int_eq(s_is_published(&load), 0);
    ck_assert_ptr_nonnull(strstr(mem_text("_manifests/LOAD00000042-" UID1 ".json"), "\"aborted\""));
}
END_TEST

/* the other process has claimed the slot (and stalled before removing
 * anything) while this one promoted: its promoted files are taken away */
START_TEST(test_tombstone_then_publish_removes_files)
{
    struct dld_load load = s_load(42, UID1);
    struct dld_lake_load *l = s_write_load(&load, g_csv_opts, 2, 10, 0, NULL);
    char *tomb = dld_lake_tombstone_json(&load, 1);
    struct dld_error err = s_err();
    ck_assert_int_eq(g_st.put_if_absent(&g_mem, DIR_, "_manifests/LOAD00000042-" UID1 ".json", tomb, strlen(tomb),
                                        &err),
                     DLD_OK);
    free(tomb);
    ck_assert(mem_has_staged("LOAD00000042-" UID1 "-0001.csv"));
    ck_assert_int_eq(dld_lake_load_publish(l, &err), DLD_ERR_CONFLICT);
    ck_assert_msg(strstr(err.message, "was aborted by another process") != NULL, "%s", err.message);
    dld_lake_load_free(l);
    ck_assert_int_eq(mem_count_prefix("LOAD"), 0);
    ck_assert_int_eq(mem_count_prefix("_manifests/"), 1);
}
END_TEST

/* a discard that runs between this publish's promote and its manifest */
static void s_discard_42(void)
{
    struct dld_load load = s_load(42, UID1);
    struct dld_error err = s_err();
    ck_assert_msg(dld_lake_discard(&g_st, &load, &err) == DLD_OK, "%s", err.message);
}

START_TEST(test_discard_during_publish)
{
    struct dld_load load = s_load(42, UID1);
    struct dld_lake_load *l = s_write_load(&load, g_csv_opts, 2, 10, 0, NULL);
    g_mem.before_put = s_discard_42;
    struct dld_error err = s_err();
    ck_assert_int_eq(dld_lake_load_publish(l, &err), DLD_ERR_CONFLICT);
    dld_lake_load_free(l);
    ck_assert_int_eq(mem_count_prefix("LOAD"), 0);
    ck_assert_int_eq(s_is_published(&load), 0);
}
END_TEST

START_TEST(test_publish_lost_response)
{
    struct dld_load load = s_load(42, UID1);
    struct dld_lake_load *l = s_write_load(&load, g_csv_opts, 2, 10, 0, NULL);
    g_mem.lose_put_response = 1;
    struct dld_error err = s_err();
    ck_assert_int_eq(dld_lake_load_publish(l, &err), DLD_ERR_RETRY);
    ck_assert_int_eq(err.retryable, 1);
    err = s_err();
    ck_assert_msg(dld_lake_load_publish(l, &err) == DLD_OK, "%s", err.message);
    ck_assert_msg(dld_lake_load_publish(l, &err) == DLD_OK, "%s", err.message);
    dld_lake_load_free(l);
    ck_assert(mem_has("LOAD00000042-" UID1 "-0001.csv"));
    ck_assert_int_eq(s_is_published(&load), 1);

    /* the same for a legacy load: the manifest's contents tell it is ours */
    load = s_load(7, NULL);
    l = s_write_load(&load, g_csv_opts, 1, 10, 0, NULL);
    g_mem.lose_put_response = 1;
    ck_assert_int_eq(dld_lake_load_publish(l, &err), DLD_ERR_RETRY);
    err = s_err();
    ck_assert_msg(dld_lake_load_publish(l, &err) == DLD_OK, "%s", err.message);
    dld_lake_load_free(l);
    /* another legacy load 7 (another state store) with other contents is refused,
     * and the files it shares names with are left alone */
    l = s_write_load(&load, g_csv_opts, 1, 3, 0, NULL);
    err = s_err();
    ck_assert_int_eq(dld_lake_load_publish(l, &err), DLD_ERR_CONFLICT);
    ck_assert_msg(strstr(err.message, "already holds another load's manifest") != NULL, "%s", err.message);
    dld_lake_load_free(l);
    ck_assert(mem_has("LOAD00000007-0001.csv"));
}
END_TEST

START_TEST(test_discard_twice)
{
    struct dld_load load = s_load(42, UID1);
    struct dld_lake_load *l = s_write_load(&load, g_csv_opts, 2, 10, 0, NULL);
    dld_lake_load_free(l); /* the process died after staging */
    ck_assert_int_eq(mem_count_prefix("LOAD"), 1);
    struct dld_error err = s_err();
    ck_assert_msg(dld_lake_discard(&g_st, &load, &err) == DLD_OK, "%s", err.message);
    ck_assert_msg(dld_lake_discard(&g_st, &load, &err) == DLD_OK, "%s", err.message);
    ck_assert_int_eq(mem_count_prefix("LOAD"), 0);
    ck_assert_int_eq(mem_count_prefix("_manifests/"), 1);
    ck_assert_int_eq(s_is_published(&load), 0);
    /* a load that never wrote anything */
    load = s_load(43, UID2);
    ck_assert_msg(dld_lake_discard(&g_st, &load, &err) == DLD_OK, "%s", err.message);
    ck_assert_msg(dld_lake_discard(&g_st, &load, &err) == DLD_OK, "%s", err.message);
    ck_assert_int_eq(mem_count_prefix("_manifests/"), 2);
}
END_TEST

START_TEST(test_legacy_discard_exact_names)
{
    static const char *const gone[] = {"LOAD00000042-0001.csv", "LOAD00000042-0002.parquet",
                                       "_manifests/LOAD00000042.json"};
    static const char *const kept[] = {"LOAD00000042-" UID1 "-0001.csv", "LOAD00000042-" UIDDIGITS "-0001.csv",
                                       "_manifests/LOAD00000042-" UID1 ".json", "LOAD00000420-0001.csv",
                                       "LOAD00000004-0001.csv", "LOAD00000043-0001.csv", "_manifests/LOAD00000043.json",
                                       "LOAD00000042-01.csv", "notes.txt"};
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++) {
        char *k = s_key(DIR_, gone[i]);
        mem_put(&g_mem, k, "x", 1, false);
        free(k);
    }
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        char *k = s_key(DIR_, kept[i]);
        mem_put(&g_mem, k, "{\"load_id\":42}", 14, false);
        free(k);
    }
    char *k = s_key(DIR_, "LOAD00000042-0003.csv");
    mem_put(&g_mem, k, "x", 1, true); /* staged */
    free(k);
    struct dld_load load = s_load(42, NULL);
    struct dld_error err = s_err();
    ck_assert_msg(dld_lake_discard(&g_st, &load, &err) == DLD_OK, "%s", err.message);
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
        ck_assert_msg(!mem_has(gone[i]), "%s is still there", gone[i]);
    ck_assert(!mem_has("LOAD00000042-0003.csv"));
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
        ck_assert_msg(mem_has(kept[i]), "%s was removed", kept[i]);
    ck_assert_int_eq(g_mem.n, (int)(sizeof kept / sizeof kept[0]));
    /* no tombstone for a legacy load; again is fine */
    ck_assert_msg(dld_lake_discard(&g_st, &load, &err) == DLD_OK, "%s", err.message);
    ck_assert_int_eq(g_mem.n, (int)(sizeof kept / sizeof kept[0]));

    /* the uid load 42 takes only its own */
    load = s_load(42, UID1);
    mem_del(&g_mem, DIR_ "/_manifests/LOAD00000042-" UID1 ".json");
    ck_assert_msg(dld_lake_discard(&g_st, &load, &err) == DLD_OK, "%s", err.message);
    ck_assert(!mem_has("LOAD00000042-" UID1 "-0001.csv"));
    ck_assert(mem_has("LOAD00000042-" UIDDIGITS "-0001.csv"));
    ck_assert(mem_has("LOAD00000043-0001.csv"));
}
END_TEST

/* ---- writing --------------------------------------------------------------------------- */
START_TEST(test_schema_drift_refused)
{
    struct dld_load load = s_load(42, UID1);
    struct dld_error err = s_err();
    struct dld_lake_load *l = NULL;
    ck_assert_int_eq(dld_lake_load_begin(&g_st, g_csv_opts, &load, &l, &err), DLD_OK);
    struct batch b;
    s_batch(&b, g_cols, 2, 0, 5);
    ck_assert_int_eq(dld_lake_load_write(l, &b.schema, &b.array, &err), DLD_OK);
    s_batch_release(&b);

    s_batch(&b, g_cols_renamed, 2, 5, 5);
    err = s_err();
    ck_assert_int_eq(dld_lake_load_write(l, &b.schema, &b.array, &err), DLD_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(err.message, "'label'") && strstr(err.message, "'name'"), "%s", err.message);
    s_batch_release(&b);

    s_batch(&b, g_cols_retyped, 2, 5, 5);
    err = s_err();
    ck_assert_int_eq(dld_lake_load_write(l, &b.schema, &b.array, &err), DLD_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(err.message, "column 'name'") && strstr(err.message, "'i'") && strstr(err.message, "'u'"),
                  "%s", err.message);
    s_batch_release(&b);

    s_batch(&b, g_cols_more, 3, 5, 5);
    err = s_err();
    ck_assert_int_eq(dld_lake_load_write(l, &b.schema, &b.array, &err), DLD_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(err.message, "'amount'") && strstr(err.message, "3 columns"), "%s", err.message);
    s_batch_release(&b);

    s_batch(&b, g_cols_more, 1, 5, 5); /* fewer columns */
    err = s_err();
    ck_assert_int_eq(dld_lake_load_write(l, &b.schema, &b.array, &err), DLD_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(err.message, "'name'") && strstr(err.message, "missing"), "%s", err.message);
    s_batch_release(&b);

    /* the load goes on with the first schema */
    s_batch(&b, g_cols, 2, 5, 5);
    ck_assert_int_eq(dld_lake_load_write(l, &b.schema, &b.array, &err), DLD_OK);
    s_batch_release(&b);
    struct dld_load_stats st = {.struct_size = sizeof st};
    ck_assert_int_eq(dld_lake_load_finish(l, &st, &err), DLD_OK);
    ck_assert_int_eq(st.rows, 10);
    dld_lake_load_free(l);
}
END_TEST

START_TEST(test_empty_batches_no_file)
{
    struct dld_load load = s_load(42, UID1);
    struct dld_error err = s_err();
    struct dld_lake_load *l = NULL;
    ck_assert_int_eq(dld_lake_load_begin(&g_st, g_csv_opts, &load, &l, &err), DLD_OK);
    for (int i = 0; i < 3; i++) {
        struct batch b;
        /* an empty batch fixes no schema either */
        s_batch(&b, i == 1 ? g_cols_more : g_cols, i == 1 ? 3 : 2, 0, 0);
        ck_assert_int_eq(dld_lake_load_write(l, &b.schema, &b.array, &err), DLD_OK);
        s_batch_release(&b);
    }
    struct dld_load_stats st = {.struct_size = sizeof st};
    ck_assert_int_eq(dld_lake_load_finish(l, &st, &err), DLD_OK);
    ck_assert_int_eq(st.files, 0);
    ck_assert_int_eq(st.rows, 0);
    ck_assert_int_eq(st.bytes, 0);
    ck_assert_int_eq(g_mem.opens, 0);
    ck_assert_msg(dld_lake_load_publish(l, &err) == DLD_OK, "%s", err.message);
    dld_lake_load_free(l);
    ck_assert_int_eq(mem_count_prefix("LOAD"), 0);
    const char *text = mem_text("_manifests/LOAD00000042-" UID1 ".json");
    struct dld_lake_manifest_info info;
    ck_assert_int_eq(dld_lake_manifest_parse(text, strlen(text), "m", &info, &err), DLD_OK);
    ck_assert_int_eq(info.published, 1);
    ck_assert_int_eq(info.files, 0);
    dld_lake_manifest_info_clean_up(&info);
    ck_assert_int_eq(s_is_published(&load), 1);

    /* empty batches around a real one: one file */
    load = s_load(43, UID1);
    ck_assert_int_eq(dld_lake_load_begin(&g_st, g_csv_opts, &load, &l, &err), DLD_OK);
    for (int i = 0; i < 3; i++) {
        struct batch b;
        s_batch(&b, g_cols, 2, 0, i == 1 ? 4 : 0);
        ck_assert_int_eq(dld_lake_load_write(l, &b.schema, &b.array, &err), DLD_OK);
        s_batch_release(&b);
    }
    ck_assert_int_eq(dld_lake_load_finish(l, &st, &err), DLD_OK);
    ck_assert_int_eq(st.files, 1);
    ck_assert_int_eq(st.rows, 4);
    dld_lake_load_free(l);
}
END_TEST

START_TEST(test_rolling_files)
{
    const char *const opts[] = {"format", "csv", "max_file_size", "1024", NULL};
    struct dld_load load = s_load(42, UID1);
    struct dld_load_stats st;
    /* 40 batches of 25 rows of ~18 bytes: ~450 bytes a batch, a file every third batch */
    struct dld_lake_load *l = s_write_load(&load, opts, 40, 25, 0, &st);
    ck_assert_int_eq(st.rows, 1000);
    ck_assert_int_ge(st.files, 10);
    int64_t bytes = 0;
    for (int i = 1; i <= st.files; i++) {
        char *name = dld_lake_file_name(42, UID1, i, "csv");
        const char *text = mem_text(name);
        ck_assert_msg(text != NULL, "%s missing", name);
        if (i < st.files)
            ck_assert_int_ge(strlen(text), 1024);
        ck_assert_int_eq(strncmp(text, "id,name\n", 8), 0); /* each file has its header */
        bytes += (int64_t)strlen(text);
        free(name);
    }
    ck_assert_int_eq(bytes, st.bytes);
    ck_assert_int_eq(mem_count_prefix("LOAD"), st.files);
    struct dld_error err = s_err();
    ck_assert_int_eq(dld_lake_load_publish(l, &err), DLD_OK);
    dld_lake_load_free(l);
    const char *text = mem_text("_manifests/LOAD00000042-" UID1 ".json");
    struct dld_lake_manifest_info info;
    ck_assert_int_eq(dld_lake_manifest_parse(text, strlen(text), "m", &info, &err), DLD_OK);
    ck_assert_int_eq(info.files, st.files);
    ck_assert_int_eq(info.rows, 1000);
    ck_assert_int_eq(info.bytes, st.bytes);
    dld_lake_manifest_info_clean_up(&info);
}
END_TEST

START_TEST(test_at_most_9999_files)
{
    const char *const opts[] = {"format", "csv", "max_file_size", "1024", "csv_header", "false", NULL};
    struct dld_load load = s_load(42, UID1);
    struct dld_error err = s_err();
    struct dld_lake_load *l = NULL;
    ck_assert_int_eq(dld_lake_load_begin(&g_st, opts, &load, &l, &err), DLD_OK);
    struct batch b;
    s_batch(&b, g_cols, 2, 100000, 60); /* ~1080 bytes: a file per batch or so (a batch splits where it overflows one) */
    int rc = DLD_OK, i = 0;
    for (; i < 10000 && rc == DLD_OK; i++)
        rc = dld_lake_load_write(l, &b.schema, &b.array, &err);
    s_batch_release(&b);
    ck_assert_int_eq(rc, DLD_ERR_CONFIG);
    ck_assert_int_gt(i, 9000); /* refused at the 10000th file, not before */
    ck_assert_msg(strstr(err.message, "9999 files") != NULL, "%s", err.message);
    dld_lake_load_free(l);
    ck_assert_int_eq(mem_count_prefix("LOAD"), 9999);
}
END_TEST

START_TEST(test_manifest_list_sorted)
{
    struct dld_error err = s_err();
    char *json = NULL;
    ck_assert_int_eq(dld_lake_manifest_list(&g_st, &g_table, &json, &err), DLD_OK);
    ck_assert_str_eq(json, "[]");
    free(json);

    struct dld_load l3 = s_load(3, UID2), l1 = s_load(1, NULL), l2 = s_load(2, UID1), l2b = s_load(2, UID2);
    ck_assert_int_eq(s_publish(&l3, 1, 3, &err), DLD_OK);
    ck_assert_int_eq(s_publish(&l1, 1, 1, &err), DLD_OK);
    ck_assert_int_eq(s_publish(&l2b, 1, 2, &err), DLD_OK);
    ck_assert_int_eq(dld_lake_discard(&g_st, &l2, &err), DLD_OK);
    /* a manifest being written, and a data file, are not listed */
    mem_put(&g_mem, DIR_ "/_manifests/LOAD00000009-" UID1 ".json.00112233aabbccdd.tmp", "{", 1, false);
    ck_assert_int_eq(dld_lake_manifest_list(&g_st, &g_table, &json, &err), DLD_OK);
    cJSON *a = cJSON_Parse(json);
    free(json);
    ck_assert(cJSON_IsArray(a));
    ck_assert_int_eq(cJSON_GetArraySize(a), 4);
    /* by load id, then uid */
    static const struct {
        int id;
        const char *uid, *status;
    } want[] = {{1, NULL, "published"}, {2, UID2, "published"}, {2, UID1, "aborted"}, {3, UID2, "published"}};
    for (int i = 0; i < 4; i++) {
        cJSON *m = cJSON_GetArrayItem(a, i);
        ck_assert_int_eq((int)cJSON_GetObjectItem(m, "load_id")->valuedouble, want[i].id);
        const char *uid = cJSON_GetStringValue(cJSON_GetObjectItem(m, "load_uid"));
        if (want[i].uid)
            ck_assert_str_eq(uid, want[i].uid);
        else
            ck_assert_ptr_null(uid);
        ck_assert_str_eq(cJSON_GetObjectItem(m, "status")->valuestring, want[i].status);
    }
    cJSON_Delete(a);

    /* an unreadable manifest is an error that names it */
    mem_put(&g_mem, DIR_ "/_manifests/LOAD00000010.json", "garbage", 7, false);
    err = s_err();
    ck_assert_int_eq(dld_lake_manifest_list(&g_st, &g_table, &json, &err), DLD_ERR_FATAL);
    ck_assert_msg(strstr(err.message, "_manifests/LOAD00000010.json") != NULL, "%s", err.message);
    ck_assert_ptr_null(json);
}
END_TEST

START_TEST(test_incomplete_storage_refused)
{
    struct dld_lake_storage st = g_st;
    st.put_if_absent = NULL;
    struct dld_load load = s_load(1, UID1);
    struct dld_error err = s_err();
    struct dld_lake_load *l = NULL;
    ck_assert_int_eq(dld_lake_load_begin(&st, g_csv_opts, &load, &l, &err), DLD_ERR_FATAL);
    ck_assert_ptr_null(l);
    st = g_st;
    st.struct_size = offsetof(struct dld_lake_storage, remove);
    ck_assert_int_eq(dld_lake_discard(&st, &load, &err), DLD_ERR_FATAL);
    /* a storage without the optional clock and promote still works */
    st = g_st;
    st.struct_size = offsetof(struct dld_lake_storage, now_ms);
    st.promote = NULL;
    const char *const opts[] = {"format", "nope", NULL};
    ck_assert_int_eq(dld_lake_load_begin(&st, opts, &load, &l, &err), DLD_ERR_CONFIG);
    const char *const small[] = {"max_file_size", "100", NULL};
    ck_assert_int_eq(dld_lake_load_begin(&st, small, &load, &l, &err), DLD_ERR_CONFIG);
    ck_assert_int_eq(dld_lake_load_begin(&st, g_csv_opts, &load, &l, &err), DLD_OK);
    struct batch b;
    s_batch(&b, g_cols, 2, 0, 3);
    ck_assert_int_eq(dld_lake_load_write(l, &b.schema, &b.array, &err), DLD_OK);
    s_batch_release(&b);
    struct dld_load_stats stats = {.struct_size = sizeof stats};
    ck_assert_int_eq(dld_lake_load_finish(l, &stats, &err), DLD_OK);
    ck_assert_int_eq(dld_lake_load_publish(l, &err), DLD_OK);
    dld_lake_load_free(l);
    struct dld_lake_manifest_info info;
    const char *text = mem_text("_manifests/LOAD00000001-" UID1 ".json");
    ck_assert_int_eq(dld_lake_manifest_parse(text, strlen(text), "m", &info, &err), DLD_OK);
    ck_assert_int_gt(info.created_ms, 1600000000000);
    dld_lake_manifest_info_clean_up(&info);
}
END_TEST

/* ---- target-file on the layer ---------------------------------------------------------- */
#ifdef DLD_TEST_TARGET_FILE
static void *g_dl;
static const struct dld_target_vtable *g_vt;
static char g_tmp[4096], g_table_dir[4200];

static void tf_setup(void)
{
    const struct dld_plugin *p = NULL;
    g_dl = dld_test_plugin_load("target", "file", &p);
    ck_assert_msg(g_dl != NULL, "cannot load dld-target-file.so");
    g_vt = p->vtable;
    ck_assert_int_ge(g_vt->struct_size, sizeof(struct dld_target_vtable));
    ck_assert_ptr_nonnull(g_vt->manifest_list);
    ck_assert_int_eq(dld_test_tmpdir(g_tmp, sizeof g_tmp, "lake"), 0);
    snprintf(g_table_dir, sizeof g_table_dir, "%s/root/" DIR_, g_tmp);
}

static void tf_teardown(void)
{
    dld_test_rmtree(g_tmp);
    dld_test_plugin_unload(g_dl);
}

static void *tf_open(void)
{
    char root[4200];
    snprintf(root, sizeof root, "%s/root", g_tmp); /* created by open */
    const char *opts[] = {"path", root, "format", "csv", "max_file_size", "268435456", "fsync", "true", NULL};
    struct dld_error err = s_err();
    void *inst = NULL;
    ck_assert_msg(g_vt->open(dld_test_host(), opts, &inst, &err) == DLD_OK, "%s", err.message);
    return inst;
}

static bool tf_exists(const char *fmt, ...)
{
    char rel[512], path[4800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    snprintf(path, sizeof path, "%s/%s", g_table_dir, rel);
    return access(path, F_OK) == 0;
}

/* entries of a sub-directory of the table folder ("" for the folder itself) */
static int tf_count(const char *sub, const char *suffix)
{
    char path[4800];
    snprintf(path, sizeof path, "%s/%s", g_table_dir, sub);
    DIR *d = opendir(path);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t len = strlen(e->d_name), sl = strlen(suffix);
        n += e->d_name[0] != '.' && len >= sl && strcmp(e->d_name + len - sl, suffix) == 0;
    }
    if (d)
        closedir(d);
    return n;
}

static void *tf_write(void *inst, const struct dld_load *load, int64_t rows)
{
    struct dld_error err = s_err();
    void *h = NULL;
    ck_assert_msg(g_vt->load_begin(inst, load, &h, &err) == DLD_OK, "%s", err.message);
    struct batch b;
    s_batch(&b, g_cols, 2, 0, rows);
    ck_assert_msg(g_vt->load_write(h, &b.schema, &b.array, &err) == DLD_OK, "%s", err.message);
    s_batch_release(&b);
    struct dld_load_stats st = {.struct_size = sizeof st};
    ck_assert_msg(g_vt->load_finish(h, &st, &err) == DLD_OK, "%s", err.message);
    ck_assert_int_eq(st.rows, rows);
    return h;
}

static int tf_published(void *inst, const struct dld_load *load)
{
    struct dld_error err = s_err();
    int published = -1;
    ck_assert_msg(g_vt->load_is_published(inst, load, &published, &err) == DLD_OK, "%s", err.message);
    return published;
}

START_TEST(test_file_target_uid_loads)
{
    void *a = tf_open(), *b = tf_open(); /* two processes sharing the lake */
    struct dld_error err = s_err();

    /* a load with a uid, published */
    struct dld_load l1 = s_load(1, UID1);
    void *h = tf_write(a, &l1, 10);
    ck_assert(tf_exists("_staging/LOAD00000001-" UID1 "-0001.csv"));
    ck_assert(!tf_exists("LOAD00000001-" UID1 "-0001.csv"));
    ck_assert_int_eq(tf_published(a, &l1), 0);
    ck_assert_msg(g_vt->load_publish(h, &err) == DLD_OK, "%s", err.message);
    g_vt->load_free(h);
    ck_assert(tf_exists("LOAD00000001-" UID1 "-0001.csv"));
    ck_assert(!tf_exists("_staging/LOAD00000001-" UID1 "-0001.csv"));
    ck_assert(tf_exists("_manifests/LOAD00000001-" UID1 ".json"));
    ck_assert_int_eq(tf_count("_manifests", ".tmp"), 0);
    ck_assert_int_eq(tf_published(b, &l1), 1);
    /* a discard after the publish is refused and removes nothing */
    ck_assert_int_eq(g_vt->load_discard(b, &l1, &err), DLD_ERR_CONFLICT);
    ck_assert_msg(strstr(err.message, "is published") != NULL, "%s", err.message);
    ck_assert(tf_exists("LOAD00000001-" UID1 "-0001.csv"));

    /* a stalled holder: staged, then the other process discards it */
    struct dld_load l2 = s_load(2, UID2);
    h = tf_write(a, &l2, 5);
    err = s_err();
    ck_assert_msg(g_vt->load_discard(b, &l2, &err) == DLD_OK, "%s", err.message);
    ck_assert(!tf_exists("_staging/LOAD00000002-" UID2 "-0001.csv"));
    ck_assert(tf_exists("_manifests/LOAD00000002-" UID2 ".json"));
    ck_assert_int_eq(g_vt->load_publish(h, &err), DLD_ERR_CONFLICT);
    ck_assert_msg(strstr(err.message, "aborted by another process") != NULL, "%s", err.message);
    g_vt->load_free(h);
    ck_assert(!tf_exists("LOAD00000002-" UID2 "-0001.csv"));
    ck_assert_int_eq(tf_published(a, &l2), 0);
    ck_assert_msg(g_vt->load_discard(a, &l2, &err) == DLD_OK, "%s", err.message); /* again: fine */

    /* promoted, then the tombstone claimed the slot: the promoted files go */
    struct dld_load l3 = s_load(3, UID1);
    h = tf_write(a, &l3, 5);
    char path[4800];
    snprintf(path, sizeof path, "%s/_manifests/LOAD00000003-" UID1 ".json", g_table_dir);
    char *tomb = dld_lake_tombstone_json(&l3, 1);
    FILE *fp = fopen(path, "w");
    fputs(tomb, fp);
    fclose(fp);
    free(tomb);
    ck_assert_int_eq(g_vt->load_publish(h, &err), DLD_ERR_CONFLICT);
    g_vt->load_free(h);
    ck_assert(!tf_exists("LOAD00000003-" UID1 "-0001.csv"));

    /* a manifest copy left by a process that died in put_if_absent is swept */
    snprintf(path, sizeof path, "%s/_manifests/LOAD00000004-" UID1 ".json.0011223344556677.tmp", g_table_dir);
    fp = fopen(path, "w");
    fputs("{", fp);
    fclose(fp);
    struct dld_load l4 = s_load(4, UID1);
    ck_assert_msg(g_vt->load_discard(a, &l4, &err) == DLD_OK, "%s", err.message);
    ck_assert_int_eq(tf_count("_manifests", ".tmp"), 0);

    /* every manifest, by load id */
    char *json = NULL;
    ck_assert_msg(g_vt->manifest_list(a, &g_table, &json, &err) == DLD_OK, "%s", err.message);
    cJSON *arr = cJSON_Parse(json);
    free(json); /* the test host's alloc is malloc */
    ck_assert_int_eq(cJSON_GetArraySize(arr), 4);
    for (int i = 0; i < 4; i++) {
        cJSON *m = cJSON_GetArrayItem(arr, i);
        ck_assert_int_eq((int)cJSON_GetObjectItem(m, "load_id")->valuedouble, i + 1);
        ck_assert_str_eq(cJSON_GetObjectItem(m, "status")->valuestring, i == 0 ? "published" : "aborted");
    }
    cJSON_Delete(arr);
    struct dld_table other = g_table;
    other.target_table_name = "never_loaded";
    ck_assert_msg(g_vt->manifest_list(a, &other, &json, &err) == DLD_OK, "%s", err.message);
    ck_assert_str_eq(json, "[]");
    free(json);

    /* the folder holds exactly what the published manifest lists */
    ck_assert_int_eq(tf_count("", ".csv"), 1);
    ck_assert_int_eq(tf_count("_staging", ""), 0);
    g_vt->close(a);
    g_vt->close(b);
}
END_TEST

START_TEST(test_file_target_legacy_loads)
{
    void *a = tf_open();
    struct dld_error err = s_err();
    struct dld_load l1 = s_load(1, NULL);
    void *h = tf_write(a, &l1, 4);
    ck_assert_msg(g_vt->load_publish(h, &err) == DLD_OK, "%s", err.message);
    g_vt->load_free(h);
    ck_assert(tf_exists("LOAD00000001-0001.csv"));
    ck_assert(tf_exists("_manifests/LOAD00000001.json"));
    ck_assert_int_eq(tf_published(a, &l1), 1);
    /* a 1.0 host's load (shorter struct): the same legacy load */
    struct dld_load old = s_load(1, UID1);
    old.struct_size = offsetof(struct dld_load, load_uid);
    ck_assert_int_eq(tf_published(a, &old), 1);

    /* load 2 died after staging in a lake written before the lake layer:
     * its files are in _staging/LOAD00000002/ */
    struct dld_load l2 = s_load(2, NULL);
    char path[4800];
    snprintf(path, sizeof path, "%s/_staging/LOAD00000002", g_table_dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/_staging/LOAD00000002/LOAD00000002-0001.csv", g_table_dir);
    FILE *fp = fopen(path, "w");
    fputs("id,name\n", fp);
    fclose(fp);
    /* and a uid load 2 of another state store sits next to it */
    struct dld_load u2 = s_load(2, UID2);
    h = tf_write(a, &u2, 3);
    ck_assert_msg(g_vt->load_publish(h, &err) == DLD_OK, "%s", err.message);
    g_vt->load_free(h);
    ck_assert_msg(g_vt->load_discard(a, &l2, &err) == DLD_OK, "%s", err.message);
    ck_assert(!tf_exists("_staging/LOAD00000002"));
    ck_assert(tf_exists("LOAD00000002-" UID2 "-0001.csv"));
    ck_assert(tf_exists("_manifests/LOAD00000002-" UID2 ".json"));

    /* a legacy discard takes the load's files and manifest (no tombstone) */
    ck_assert_msg(g_vt->load_discard(a, &l1, &err) == DLD_OK, "%s", err.message);
    ck_assert(!tf_exists("LOAD00000001-0001.csv"));
    ck_assert(!tf_exists("_manifests/LOAD00000001.json"));
    ck_assert_int_eq(tf_published(a, &l1), 0);
    ck_assert_msg(g_vt->load_discard(a, &l1, &err) == DLD_OK, "%s", err.message);
    g_vt->close(a);
}
END_TEST
#endif

int main(void)
{
    Suite *s = suite_create("lake");
    TCase *tc = tcase_create("layer");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_table_dir_checks);
    tcase_add_test(tc, test_manifest_roundtrip);
    tcase_add_test(tc, test_file_metadata_and_copy);
    tcase_add_test(tc, test_uid_load_end_to_end);
    tcase_add_test(tc, test_publish_then_discard_refused);
    tcase_add_test(tc, test_discard_then_publish_refused);
    tcase_add_test(tc, test_tombstone_then_publish_removes_files);
    tcase_add_test(tc, test_discard_during_publish);
    tcase_add_test(tc, test_publish_lost_response);
    tcase_add_test(tc, test_discard_twice);
    tcase_add_test(tc, test_legacy_discard_exact_names);
    tcase_add_test(tc, test_schema_drift_refused);
    tcase_add_test(tc, test_empty_batches_no_file);
    tcase_add_test(tc, test_rolling_files);
    tcase_add_test(tc, test_at_most_9999_files);
    tcase_add_test(tc, test_manifest_list_sorted);
    tcase_add_test(tc, test_incomplete_storage_refused);
    suite_add_tcase(s, tc);
#ifdef DLD_TEST_TARGET_FILE
    tc = tcase_create("target-file");
    tcase_add_checked_fixture(tc, tf_setup, tf_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_file_target_uid_loads);
    tcase_add_test(tc, test_file_target_legacy_loads);
    suite_add_tcase(s, tc);
#endif
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

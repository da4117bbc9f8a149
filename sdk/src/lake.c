/*
 * The lake layer (lake.h), shared by every target: names, manifests,
 * tombstones, the write path (batches → rolled files) and the fenced
 * publish / discard protocol. A target only moves bytes (struct
 * dld_lake_storage).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <deltaload/iceberg.h>
#include <deltaload/lake.h>
#include <deltaload/sdk.h>

#include "iceberg_delete.h"
#include "iceberg_internal.h"
#include "iceberg_partition.h"
#include "iceberg_stats.h"
#include "lake_internal.h"

#define S_MAX_FILES 9999
#define S_DEFAULT_MAX_FILE_SIZE 268435456
#define S_FIRST_SLICE_ROWS 8 /* rows written into a new file before its row size is known */
#define S_DEFAULT_MAX_OPEN_PARTITIONS 32

/* A path part must stay a single directory name inside the root. */
static int s_check_part(const char *what, const char *part, bool allow_slash, struct dld_error *err)
{
    if (part == NULL || *part == '\0')
        return DLD_OK;
    const char *p = part;
    while (*p) {
        const char *e = allow_slash ? strchr(p, '/') : NULL;
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return dld_error_set(err, DLD_ERR_CONFIG, "%s '%s' contains a '.' or '..' path segment", what, part);
        if (!allow_slash && memchr(p, '/', n))
            return dld_error_set(err, DLD_ERR_CONFIG, "%s '%s' contains '/'", what, part);
        if (memchr(p, '\\', n))
            return dld_error_set(err, DLD_ERR_CONFIG, "%s '%s' contains '\\'", what, part);
        p += n;
        while (*p == '/')
            p++;
    }
    return dld_ident_check(what, part, err);
}

static void s_append(char *buf, size_t *len, const char *part)
{
    if (part == NULL)
        return;
    while (*part == '/')
        part++;
    size_t n = strlen(part);
    while (n && part[n - 1] == '/')
        n--;
    if (n == 0)
        return;
    if (*len)
        buf[(*len)++] = '/';
    memcpy(buf + *len, part, n);
    *len += n;
    buf[*len] = '\0';
}

int dld_lake_table_dir(const struct dld_table *t, char **out, struct dld_error *err)
{
    int rc;
    if ((rc = s_check_part("ouputs3Prefix", t->output_prefix, true, err)) ||
        (rc = s_check_part("sourceSchema", t->source_schema, false, err)) ||
        (rc = s_check_part("targetTableName", t->target_table_name, false, err)))
        return rc;
    if (t->target_table_name == NULL || *t->target_table_name == '\0')
        return dld_error_set(err, DLD_ERR_CONFIG, "targetTableName is empty");
    size_t cap = 3 + strlen(t->output_prefix ? t->output_prefix : "") +
                 strlen(t->source_schema ? t->source_schema : "") + strlen(t->target_table_name);
    char *buf = malloc(cap + 1);
    if (buf == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    size_t len = 0;
    buf[0] = '\0';
    s_append(buf, &len, t->output_prefix);
    s_append(buf, &len, t->source_schema);
    s_append(buf, &len, t->target_table_name);
    *out = buf;
    return DLD_OK;
}

/* ---- names ------------------------------------------------------------------------- */

/* NULL and "" both mean "no uid" (a legacy load). */
static const char *s_norm_uid(const char *uid)
{
    return uid && *uid ? uid : NULL;
}

/* The load's uid, or NULL for a legacy load (or a 1.0 host's shorter struct). */
static const char *s_load_uid(const struct dld_load *load)
{
    return DLD_HAS(load, struct dld_load, load_uid) ? s_norm_uid(load->load_uid) : NULL;
}

static int64_t s_load_lease(const struct dld_load *load)
{
    return DLD_HAS(load, struct dld_load, lease_token) ? load->lease_token : 0;
}

/* the load's columns (ABI 1.2), NULL from an older host */
static const char *s_load_columns(const struct dld_load *load)
{
    return DLD_HAS(load, struct dld_load, columns) ? load->columns : NULL;
}

static int s_same_uid(const char *a, const char *b)
{
    a = s_norm_uid(a);
    b = s_norm_uid(b);
    return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

int dld_lake_uid_valid(const char *uid)
{
    if (uid == NULL)
        return 0;
    size_t n = 0;
    for (; uid[n]; n++)
        if (!((uid[n] >= '0' && uid[n] <= '9') || (uid[n] >= 'a' && uid[n] <= 'f')))
            return 0;
    return n == 16;
}

char *dld_lake_file_name(int64_t load_id, const char *uid, int part, const char *extension)
{
    char *s = NULL;
    int n = (uid = s_norm_uid(uid)) ? asprintf(&s, "LOAD%08" PRId64 "-%s-%04d.%s", load_id, uid, part, extension)
                                    : asprintf(&s, "LOAD%08" PRId64 "-%04d.%s", load_id, part, extension);
    return n < 0 ? NULL : s;
}

char *dld_lake_manifest_name(int64_t load_id, const char *uid)
{
    char *s = NULL;
    int n = (uid = s_norm_uid(uid)) ? asprintf(&s, "_manifests/LOAD%08" PRId64 "-%s.json", load_id, uid)
                                    : asprintf(&s, "_manifests/LOAD%08" PRId64 ".json", load_id);
    return n < 0 ? NULL : s;
}

/* Exact patterns, so that the legacy load 42 and a uid load 42 (or load 420)
 * never claim each other's files:
 *   legacy  LOAD00000042-dddd.<ext>          LOAD00000042.json
 *   uid     LOAD00000042-<uid>-dddd.<ext>    LOAD00000042-<uid>.json */
int dld_lake_name_is_load(const char *name, int64_t load_id, const char *uid)
{
    if (name == NULL)
        return 0;
    uid = s_norm_uid(uid);
    if (uid && !dld_lake_uid_valid(uid))
        return 0;
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    char head[40];
    int n = snprintf(head, sizeof head, "LOAD%08" PRId64, load_id);
    if (n < 0 || strncmp(base, head, (size_t)n) != 0)
        return 0;
    const char *p = base + n;
    if (uid == NULL && strcmp(p, ".json") == 0)
        return 1; /* the legacy manifest */
    if (*p++ != '-')
        return 0;
    if (uid) {
        if (strncmp(p, uid, 16) != 0)
            return 0;
        p += 16;
        if (strcmp(p, ".json") == 0)
            return 1; /* the manifest */
        if (*p++ != '-')
            return 0;
    }
    if (uid && *p == 'd')
        p++; /* a delete file of an Iceberg upsert: LOAD…-<uid>-d0001.parquet */
    for (int i = 0; i < 4; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return p[4] == '.' && p[5] != '\0';
}

/* reads exactly len random bytes from the kernel */
static int s_random_bytes(unsigned char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(buf + got, len - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got == len)
        return 0;
    /* getrandom(2) missing (old kernel) or filtered (seccomp): the device */
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    return got == len ? 0 : -1;
}

int dld_lake_new_uid(char buf[17], struct dld_error *err)
{
    unsigned char raw[8];
    buf[0] = '\0';
    if (s_random_bytes(raw, sizeof raw) != 0)
        return dld_error_set(err, DLD_ERR_FATAL, "cannot read the kernel's random source for a load uid: %s",
                             strerror(errno));
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof raw; i++) {
        buf[2 * i] = hex[raw[i] >> 4];
        buf[2 * i + 1] = hex[raw[i] & 15];
    }
    buf[16] = '\0';
    return DLD_OK;
}

/* ---- manifests ------------------------------------------------------------------------ */

static const char *s_mode_name(uint32_t mode)
{
    return mode == DLD_MODE_DELTA ? "delta" : mode == DLD_MODE_FULL ? "full" : mode == DLD_MODE_BACKFILL ? "backfill" : "?";
}

static const char *s_str(const char *s)
{
    return s ? s : "";
}

/* cJSON's Add* return NULL when out of memory (and accept a NULL parent):
 * one check at the end instead of one per key. */
static void s_ok(bool *ok, const void *added)
{
    if (added == NULL)
        *ok = false;
}

/* The keys a published manifest and a tombstone share: who the load is. */
static cJSON *s_manifest_head(const struct dld_load *load, const char *status, bool *ok)
{
    const struct dld_table *t = load->table;
    const char *uid = s_load_uid(load);
    cJSON *m = cJSON_CreateObject();
    s_ok(ok, m);
    s_ok(ok, cJSON_AddStringToObject(m, "targetTableName", s_str(t->target_table_name)));
    s_ok(ok, cJSON_AddStringToObject(m, "sourceSchema", s_str(t->source_schema)));
    s_ok(ok, cJSON_AddStringToObject(m, "sourceTable", s_str(t->source_table)));
    s_ok(ok, cJSON_AddNumberToObject(m, "load_id", (double)load->load_id));
    if (uid)
        s_ok(ok, cJSON_AddStringToObject(m, "load_uid", uid));
    s_ok(ok, cJSON_AddNumberToObject(m, "lease_token", (double)s_load_lease(load)));
    s_ok(ok, cJSON_AddStringToObject(m, "status", status));
    s_ok(ok, cJSON_AddStringToObject(m, "mode", s_mode_name(load->mode)));
    cJSON *w = cJSON_AddObjectToObject(m, "window");
    s_ok(ok, w);
    s_ok(ok, cJSON_AddStringToObject(w, "column", s_str(t->filter_column)));
    s_ok(ok, load->low ? cJSON_AddStringToObject(w, "low", load->low) : cJSON_AddNullToObject(w, "low"));
    s_ok(ok, cJSON_AddBoolToObject(w, "low_inclusive", load->low_inclusive));
    s_ok(ok, load->high ? cJSON_AddStringToObject(w, "high", load->high) : cJSON_AddNullToObject(w, "high"));
    if (load->snapshot)
        s_ok(ok, cJSON_AddStringToObject(m, "snapshot", load->snapshot));
    /* the source columns the load read (docs/reliability.md "Schema drift") */
    cJSON *cols = s_load_columns(load) ? cJSON_Parse(s_load_columns(load)) : NULL;
    if (!cJSON_IsArray(cols) || !cJSON_AddItemToObject(m, "columns", cols)) {
        *ok = *ok && !cJSON_IsArray(cols); /* a failed add is out of memory; no (valid) columns is fine */
        cJSON_Delete(cols);
    }
    return m;
}

static char *s_manifest_tail(cJSON *m, int64_t rows, int64_t bytes, int64_t created_ms, bool ok)
{
    s_ok(&ok, cJSON_AddNumberToObject(m, "rows", (double)rows));
    s_ok(&ok, cJSON_AddNumberToObject(m, "bytes", (double)bytes));
    s_ok(&ok, cJSON_AddNumberToObject(m, "created_ms", (double)created_ms));
    s_ok(&ok, cJSON_AddStringToObject(m, "writer", "deltaload"));
    char *s = ok ? cJSON_Print(m) : NULL;
    cJSON_Delete(m);
    return s;
}

char *dld_lake_manifest_json(const struct dld_load *load, const char *format, const struct dld_lake_file *files,
                             int nfiles, int64_t created_ms)
{
    bool ok = true;
    cJSON *m = s_manifest_head(load, "published", &ok);
    s_ok(&ok, cJSON_AddStringToObject(m, "format", s_str(format)));
    cJSON *arr = cJSON_AddArrayToObject(m, "files");
    s_ok(&ok, arr);
    int64_t rows = 0, bytes = 0;
    for (int i = 0; i < nfiles && ok; i++) {
        cJSON *f = cJSON_CreateObject();
        s_ok(&ok, f);
        s_ok(&ok, cJSON_AddStringToObject(f, "name", s_str(files[i].name)));
        s_ok(&ok, cJSON_AddNumberToObject(f, "rows", (double)files[i].rows));
        s_ok(&ok, cJSON_AddNumberToObject(f, "bytes", (double)files[i].bytes));
        if (f && !cJSON_AddItemToArray(arr, f)) {
            cJSON_Delete(f);
            ok = false;
        }
        rows += files[i].rows;
        bytes += files[i].bytes;
    }
    return s_manifest_tail(m, rows, bytes, created_ms, ok);
}

char *dld_lake_tombstone_json(const struct dld_load *load, int64_t created_ms)
{
    bool ok = true;
    cJSON *m = s_manifest_head(load, "aborted", &ok);
    s_ok(&ok, cJSON_AddArrayToObject(m, "files"));
    return s_manifest_tail(m, 0, 0, created_ms, ok);
}

void dld_lake_manifest_info_clean_up(struct dld_lake_manifest_info *info)
{
    if (info == NULL)
        return;
    free(info->load_uid);
    free(info->mode);
    free(info->low);
    free(info->high);
    memset(info, 0, sizeof(*info));
}

/* A string or null member: *out is a malloc'ed copy or NULL. -1: not a
 * string, -2: out of memory. */
static int s_get_str(const cJSON *obj, const char *key, char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (v == NULL || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v))
        return -1;
    return (*out = strdup(v->valuestring)) ? 0 : -2;
}

/* A number member (0 when absent); -1 when present and not a number. */
static int s_get_int(const cJSON *obj, const char *key, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = 0;
    if (v == NULL)
        return 0;
    if (!cJSON_IsNumber(v))
        return -1;
    *out = (int64_t)v->valuedouble;
    return 0;
}

int dld_lake_manifest_parse(const char *json, size_t len, const char *what, struct dld_lake_manifest_info *out,
                            struct dld_error *err)
{
    memset(out, 0, sizeof(*out));
    what = what ? what : "manifest";
    cJSON *m = json ? cJSON_ParseWithLength(json, len) : NULL;
    const char *bad = NULL;
    int rc;
    if (!cJSON_IsObject(m)) {
        bad = "not a JSON object";
        goto fail;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "load_id");
    if (!cJSON_IsNumber(id)) {
        bad = "no numeric load_id";
        goto fail;
    }
    out->load_id = (int64_t)id->valuedouble;
    if ((rc = s_get_str(m, "load_uid", &out->load_uid)) == -2)
        goto oom;
    if (rc || (out->load_uid && !dld_lake_uid_valid(out->load_uid))) {
        bad = "a load_uid that is not 16 lower-case hex digits";
        goto fail;
    }
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(m, "status");
    if (status == NULL)
        out->published = 1; /* written before ABI 1.1: its presence meant published */
    else if (cJSON_IsString(status) && strcmp(status->valuestring, "published") == 0)
        out->published = 1;
    else if (cJSON_IsString(status) && strcmp(status->valuestring, "aborted") == 0)
        out->published = 0;
    else {
        bad = "an unknown status (neither \"published\" nor \"aborted\")";
        goto fail;
    }
    if ((rc = s_get_str(m, "mode", &out->mode)) == -2)
        goto oom;
    if (rc) {
        bad = "a mode that is not a string";
        goto fail;
    }
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(m, "window");
    if (cJSON_IsObject(w)) {
        int a = s_get_str(w, "low", &out->low), b = s_get_str(w, "high", &out->high);
        if (a == -2 || b == -2)
            goto oom;
        if (a || b) {
            bad = "window bounds that are not strings";
            goto fail;
        }
        out->low_inclusive = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(w, "low_inclusive"));
    }
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(m, "files");
    if (files && !cJSON_IsArray(files)) {
        bad = "a files member that is not an array";
        goto fail;
    }
    out->files = cJSON_GetArraySize(files);
    if (s_get_int(m, "lease_token", &out->lease_token) || s_get_int(m, "rows", &out->rows) ||
        s_get_int(m, "bytes", &out->bytes) || s_get_int(m, "created_ms", &out->created_ms)) {
        bad = "a non-numeric lease_token, rows, bytes or created_ms";
        goto fail;
    }
    cJSON_Delete(m);
    return DLD_OK;
oom:
    cJSON_Delete(m);
    dld_lake_manifest_info_clean_up(out);
    return dld_error_set(err, DLD_ERR_FATAL, "out of memory reading %s", what);
fail:
    cJSON_Delete(m);
    dld_lake_manifest_info_clean_up(out);
    return dld_error_set(err, DLD_ERR_FATAL, "%s is not a deltaload manifest: %s", what, bad);
}

/* ---- file metadata --------------------------------------------------------------------- */

static bool s_kv_add(char **kv, int *n, const char *key, const char *value)
{
    kv[*n] = strdup(key);
    kv[*n + 1] = strdup(value ? value : "");
    if (kv[*n] == NULL || kv[*n + 1] == NULL) {
        free(kv[*n]);
        free(kv[*n + 1]);
        kv[*n] = kv[*n + 1] = NULL;
        return false;
    }
    *n += 2;
    return true;
}

char **dld_lake_file_metadata(const struct dld_load *load)
{
    enum { S_PAIRS = 9 };
    char **kv = calloc(2 * S_PAIRS + 1, sizeof(char *));
    if (kv == NULL)
        return NULL;
    const struct dld_table *t = load->table;
    const char *uid = s_load_uid(load);
    char id[32], *source = NULL;
    snprintf(id, sizeof id, "%" PRId64, load->load_id);
    const char *schema = s_str(t->source_schema);
    int n = 0;
    bool ok = asprintf(&source, "%s%s%s", schema, *schema ? "." : "", s_str(t->source_table)) >= 0;
    if (!ok)
        source = NULL;
    ok = ok && s_kv_add(kv, &n, "deltaload.writer", "deltaload") &&
         s_kv_add(kv, &n, "deltaload.table", t->target_table_name) &&
         s_kv_add(kv, &n, "deltaload.source_table", source) && s_kv_add(kv, &n, "deltaload.load_id", id) &&
         (uid == NULL || s_kv_add(kv, &n, "deltaload.load_uid", uid)) &&
         s_kv_add(kv, &n, "deltaload.mode", s_mode_name(load->mode)) &&
         (load->low == NULL || (s_kv_add(kv, &n, "deltaload.window_low", load->low) &&
                                s_kv_add(kv, &n, "deltaload.window_low_inclusive",
                                         load->low_inclusive ? "true" : "false"))) &&
         (load->high == NULL || s_kv_add(kv, &n, "deltaload.window_high", load->high));
    free(source);
    if (!ok) {
        dld_lake_metadata_free(kv);
        return NULL;
    }
    return kv;
}

void dld_lake_metadata_free(char **kv)
{
    if (kv == NULL)
        return;
    for (size_t i = 0; kv[i]; i++)
        free(kv[i]);
    free(kv);
}

/* ---- a copy of a borrowed load ------------------------------------------------------------ */

/* One block holds both, so dld_load_copy_free finds the table from the load. */
struct s_load_copy {
    struct dld_load load;
    struct dld_table table;
};

/* strdup that keeps NULL and reports a failed copy of a non-NULL string */
static const char *s_dup(const char *s, bool *ok)
{
    if (s == NULL)
        return NULL;
    char *d = strdup(s);
    if (d == NULL)
        *ok = false;
    return d;
}

struct dld_load *dld_load_copy(const struct dld_load *load)
{
    struct s_load_copy *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    const struct dld_table *t = load->table;
    /* copy only what the caller's (possibly older, shorter) table has */
    size_t tn = t->struct_size && t->struct_size < sizeof(c->table) ? t->struct_size : sizeof(c->table);
    memcpy(&c->table, t, tn);
    c->table.struct_size = sizeof(c->table);
    bool ok = true;
    c->table.target_table_name = s_dup(t->target_table_name, &ok);
    c->table.source_schema = s_dup(t->source_schema, &ok);
    c->table.source_table = s_dup(t->source_table, &ok);
    c->table.filter_column = s_dup(t->filter_column, &ok);
    c->table.filter_operator = s_dup(t->filter_operator, &ok);
    c->table.start_value = s_dup(t->start_value, &ok);
    c->table.end_value = s_dup(t->end_value, &ok);
    c->table.output_prefix = s_dup(t->output_prefix, &ok);
    c->table.item_json = s_dup(t->item_json, &ok);
    c->load = (struct dld_load){
        .struct_size = sizeof(c->load),
        .table = &c->table,
        .load_id = load->load_id,
        .mode = load->mode,
        .low = s_dup(load->low, &ok),
        .low_inclusive = load->low_inclusive,
        .high = s_dup(load->high, &ok),
        .snapshot = s_dup(load->snapshot, &ok),
        .started_ms = load->started_ms,
        .load_uid = s_dup(s_load_uid(load), &ok),
        .lease_token = s_load_lease(load),
        .columns = s_dup(s_load_columns(load), &ok),
    };
    if (!ok) {
        dld_load_copy_free(&c->load);
        return NULL;
    }
    return &c->load;
}

void dld_load_copy_free(struct dld_load *copy)
{
    if (copy == NULL)
        return;
    struct s_load_copy *c = (struct s_load_copy *)copy; /* load is the first member */
    free((char *)c->table.target_table_name);
    free((char *)c->table.source_schema);
    free((char *)c->table.source_table);
    free((char *)c->table.filter_column);
    free((char *)c->table.filter_operator);
    free((char *)c->table.start_value);
    free((char *)c->table.end_value);
    free((char *)c->table.output_prefix);
    free((char *)c->table.item_json);
    free((char *)c->load.low);
    free((char *)c->load.high);
    free((char *)c->load.snapshot);
    free((char *)c->load.load_uid);
    free((char *)c->load.columns);
    free(c);
}

/* ---- helpers around the storage ---------------------------------------------------------- */

static int s_storage_check(const struct dld_lake_storage *st, struct dld_error *err)
{
    if (st == NULL || !DLD_HAS(st, struct dld_lake_storage, remove) || !st->file_open || !st->file_close ||
        !st->file_abandon || !st->put_if_absent || !st->get || !st->list || !st->remove)
        return dld_error_set(err, DLD_ERR_FATAL, "the target's lake storage table is incomplete");
    return DLD_OK;
}

/* the storage's clock (a test seam), else the wall clock; iceberg_internal.h */
int64_t dld_lake_storage_now_ms(const struct dld_lake_storage *st)
{
    if (DLD_HAS(st, struct dld_lake_storage, now_ms) && st->now_ms)
        return st->now_ms();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A scratch error for calls whose failure may be expected (NOT_FOUND,
 * CONFLICT): the caller's error is filled only when the failure is passed on. */
static void s_scratch(struct dld_error *e)
{
    dld_error_init(e);
}

static int s_pass_on(struct dld_error *err, const struct dld_error *from, int code)
{
    dld_error_set(err, code, "%s", from->message);
    dld_error_upstream(err, from->http_status, from->upstream_code[0] ? from->upstream_code : NULL,
                       from->request_id[0] ? from->request_id : NULL);
    if (err)
        err->retryable = from->retryable;
    return code;
}

static int s_uid_check(const struct dld_load *load, struct dld_error *err)
{
    const char *uid = s_load_uid(load);
    if (uid && !dld_lake_uid_valid(uid))
        return dld_error_set(err, DLD_ERR_CONFIG, "load %" PRId64 ": load uid '%.40s' is not 16 lower-case hex digits",
                             load->load_id, uid);
    return DLD_OK;
}

/* Reads and parses the manifest in a load's slot. DLD_ERR_NOT_FOUND (err
 * untouched) when the slot is empty. */
static int s_read_slot(const struct dld_lake_storage *st, const char *dir, const char *mname,
                       struct dld_lake_manifest_info *info, struct dld_error *err)
{
    struct dld_error e;
    s_scratch(&e);
    char *data = NULL;
    size_t len = 0;
    int rc = st->get(st->ctx, dir, mname, &data, &len, &e);
    if (rc == DLD_ERR_NOT_FOUND)
        return rc;
    if (rc)
        return s_pass_on(err, &e, rc);
    char what[512];
    snprintf(what, sizeof what, "%s/%s", dir, mname);
    rc = dld_lake_manifest_parse(data, len, what, info, err);
    free(data);
    return rc;
}

/* A growing list of names, filled by storage->list. */
struct s_names {
    char **v;
    int n, cap;
    bool oom;
    int64_t load_id;   /* with filter: only names of this load */
    const char *uid;
    bool filter;
};

static int s_names_push(struct s_names *l, const char *name)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 16;
        char **v = realloc(l->v, (size_t)cap * sizeof(*v));
        if (v == NULL) {
            l->oom = true;
            return 1;
        }
        l->v = v;
        l->cap = cap;
    }
    if ((l->v[l->n] = strdup(name)) == NULL) {
        l->oom = true;
        return 1;
    }
    l->n++;
    return 0;
}

static int s_names_collect(void *ctx, const char *name)
{
    struct s_names *l = ctx;
    if (l->filter && !dld_lake_name_is_load(name, l->load_id, l->uid))
        return 0;
    return s_names_push(l, name);
}

static int s_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts and drops duplicates: a file that is both staged and promoted (a
 * crash in the middle of a promote) is listed twice. */
static void s_names_unique(struct s_names *l)
{
    if (l->n < 2)
        return;
    qsort(l->v, (size_t)l->n, sizeof(*l->v), s_name_cmp);
    int k = 1;
    for (int i = 1; i < l->n; i++) {
        if (strcmp(l->v[i], l->v[k - 1]) == 0)
            free(l->v[i]);
        else
            l->v[k++] = l->v[i];
    }
    l->n = k;
}

static void s_names_free(struct s_names *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* ---- a load through the layer ----------------------------------------------------------------- */
/* (struct dld_lake_load and the partitions' structs: lake_internal.h; partition_by's
 * routing of rows to files: lake_partition.c) */

static const char *s_content_type(const char *format)
{
    if (strcmp(format, "parquet") == 0)
        return "application/vnd.apache.parquet";
    if (strcmp(format, "csv") == 0)
        return "text/csv";
    return "application/octet-stream";
}

/* ---- table_format iceberg: the hooks (iceberg.h does the work) ---------------------------- */

static char **s_kv_copy_set(const char *const *kv, const char *key, const char *value)
{
    size_t n = 0;
    while (kv && kv[n] && kv[n + 1])
        n += 2;
    char **out = calloc(n + 3, sizeof(char *));
    if (out == NULL)
        return NULL;
    size_t k = 0;
    bool ok = true;
    for (size_t i = 0; i < n && ok; i += 2) {
        if (strcmp(kv[i], key) == 0)
            continue;
        ok = (out[k] = strdup(kv[i])) && (out[k + 1] = strdup(kv[i + 1]));
        k += 2;
    }
    ok = ok && (out[k] = strdup(key)) && (out[k + 1] = strdup(value));
    if (!ok) {
        dld_lake_metadata_free(out);
        return NULL;
    }
    return out;
}

static int s_ice_begin(struct dld_lake_load *l, struct dld_error *err)
{
    if (l->uid == NULL)
        return dld_error_set(err, DLD_ERR_CONFIG, "table_format iceberg needs load uids (a host of ABI 1.1 or later)");
    if (!DLD_HAS(&l->st, struct dld_lake_storage, location) || l->st.location == NULL)
        return dld_error_set(err, DLD_ERR_CONFIG, "table_format iceberg: this target does not support it");
    const char *tu = dld_opt_get(l->options, "timestamp_unit");
    if (tu && *tu && strcasecmp(tu, "native") != 0 && strcasecmp(tu, "us") != 0)
        return dld_error_set(err, DLD_ERR_CONFIG,
                             "table_format iceberg writes timestamps in microseconds: timestamp_unit '%s' is refused", tu);
    l->iceberg = true;
    if ((l->wopts = s_kv_copy_set(l->options, "timestamp_unit", "us")) == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    return DLD_OK;
}

/* The Iceberg schema for the load's columns, field ids taken from the
 * table's current schema by name. */
static int s_ice_schema(struct dld_lake_load *l, char **schema, char **file_schema, int32_t **ids,
                        struct dld_error *err)
{
    int64_t version = 0;
    char *meta = NULL;
    int rc = dld_iceberg_current(&l->st, l->dir, &version, &meta, err);
    if (rc)
        return rc;
    char *cur = dld_iceberg_current_schema(meta);
    /* an upsert into a table without rows needs no equality deletes (the
     * engine's lease keeps other loads of the table from committing meanwhile) */
    cJSON *m = meta ? cJSON_Parse(meta) : NULL;
    const cJSON *snap, *cs = cJSON_GetObjectItemCaseSensitive(m, "current-snapshot-id");
    l->ice_has_rows = false;
    cJSON_ArrayForEach(snap, cJSON_GetObjectItemCaseSensitive(m, "snapshots"))
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(snap, "snapshot-id");
        const char *total = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(snap, "summary"), "total-records"));
        if (cJSON_IsNumber(id) && cJSON_IsNumber(cs) && id->valuedouble == cs->valuedouble)
            l->ice_has_rows = !total || strcmp(total, "0") != 0;
    }
    /* the table's partition spec, for partition_by's check (s_ice_spec_check) */
    free(l->ice_table_spec);
    l->ice_table_spec = NULL;
    const cJSON *spec, *dflt = cJSON_GetObjectItemCaseSensitive(m, "default-spec-id");
    cJSON_ArrayForEach(spec, cJSON_GetObjectItemCaseSensitive(m, "partition-specs"))
    {
        const cJSON *sid = cJSON_GetObjectItemCaseSensitive(spec, "spec-id");
        if (!l->ice_table_spec && cJSON_IsNumber(sid) && (!cJSON_IsNumber(dflt) || sid->valueint == dflt->valueint))
            l->ice_table_spec = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(spec, "fields"));
    }
    if (m && !l->ice_table_spec)
        l->ice_table_spec = strdup("[]");
    l->ice_table_empty = cur == NULL || strstr(cur, "\"fields\":[]") != NULL;
    cJSON_Delete(m);
    free(meta);
    if (version > 0 && cur == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "iceberg: %s/metadata/v%" PRId64 ".metadata.json has no current schema",
                             l->dir, version);
    rc = dld_iceberg_schema_evolve(&l->schema, cur, schema, file_schema, ids, err);
    free(cur);
    if (rc)
        dld_error_prefix(err, "load %" PRId64, l->load->load_id);
    return rc;
}

/* partition_by: the load's spec (l->pspec), which must be the table's
 * (partition evolution is not supported): a table that has another spec,
 * or one while the item has none, refuses the load before anything is
 * written. A table that never had a column (created by a first load
 * without rows) takes the load's spec. */
static int s_ice_spec_check(struct dld_lake_load *l, struct dld_error *err)
{
    if (l->npf) {
        int32_t *src = calloc((size_t)l->npf, sizeof(*src));
        if (src == NULL)
            return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        for (int k = 0; k < l->npf; k++)
            src[k] = l->ice_ids[l->pcols[k]];
        free(l->pspec);
        l->pspec = dld_ice_partition_spec_json(l->pfields, l->npf, src, 0);
        free(src);
        if (l->pspec == NULL)
            return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    if (l->ice_table_spec == NULL || (l->ice_table_empty && strcmp(l->ice_table_spec, "[]") == 0))
        return DLD_OK; /* a new table: it gets the load's spec */
    cJSON *ours = l->pspec ? cJSON_Parse(l->pspec) : NULL, *theirs = cJSON_Parse(l->ice_table_spec);
    const cJSON *of = ours ? cJSON_GetObjectItemCaseSensitive(ours, "fields") : NULL;
    bool same = of ? cJSON_Compare(of, theirs, 1) : cJSON_GetArraySize(theirs) == 0;
    char *mine = of ? cJSON_PrintUnformatted(of) : NULL;
    int rc = DLD_OK;
    if (!same)
        rc = dld_error_set(err, DLD_ERR_CONFIG,
                           "item %s: partition_by does not match the Iceberg table's partition spec: the table has "
                           "%s, the item asks for %s; changing a table's partitioning is not supported (load into a "
                           "new table; docs/iceberg.md, \"Partitioning\")",
                           s_str(l->load->table->target_table_name), l->ice_table_spec, mine ? mine : "[]");
    free(mine);
    cJSON_Delete(ours);
    cJSON_Delete(theirs);
    return rc;
}

/* At the first file: the schema with field ids the writer gets. */
static int s_ice_first_file(struct dld_lake_load *l, struct dld_error *err)
{
    int rc;
    if ((rc = s_ice_schema(l, &l->ice_schema, &l->ice_file_schema, &l->ice_ids, err)) ||
        (rc = s_ice_spec_check(l, err)) ||
        (rc = dld_iceberg_arrow_with_ids(&l->schema, l->ice_ids, &l->ice_arrow, err))) {
        free(l->ice_schema); /* checked again at the next file, if there is one */
        l->ice_schema = NULL;
        return rc;
    }
    /* the files' own columns: readers map field ids to Parquet columns by it */
    l->ice_meta = s_kv_copy_set((const char *const *)l->meta, "iceberg.schema", l->ice_file_schema);
    if (l->ice_meta == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    if (l->nmerge > 0 &&
        (rc = dld_ice_upsert_new(&l->st, l->dir, l->load->load_id, l->uid, &l->ice_arrow, l->ice_ids, l->merge_keys,
                                 l->nmerge, l->load->table->filter_column,
                                 l->load->mode != DLD_MODE_FULL && l->ice_has_rows,
                                 (const char *const *)l->wopts, &l->ice_up, err)))
        dld_error_prefix(err, "load %" PRId64, l->load->load_id);
    return rc;
}

/* Before the slot is claimed: the table's schema must still be the one the
 * files were written with (a failure here discards the load; after the
 * claim it would hold the table). */
static int s_ice_precheck(struct dld_lake_load *l, struct dld_error *err)
{
    if (l->ice_schema == NULL)
        return DLD_OK; /* no rows: the snapshot keeps the table's schema */
    char *again = NULL, *again_file = NULL;
    int32_t *ids = NULL;
    int rc = s_ice_schema(l, &again, &again_file, &ids, err);
    if (rc == DLD_OK && memcmp(ids, l->ice_ids, (size_t)l->schema.n_children * sizeof(*ids)) != 0)
        rc = dld_error_set(err, DLD_ERR_CONFLICT,
                           "load %" PRId64 ": the Iceberg table's schema changed while the load was written",
                           l->load->load_id);
    free(again);
    free(again_file);
    free(ids);
    return rc;
}

static int s_ice_commit(struct dld_lake_load *l, struct dld_error *err)
{
    const struct dld_table *t = l->load->table;
    char *source = NULL;
    const char *schema = t->source_schema ? t->source_schema : "";
    if (asprintf(&source, "%s%s%s", schema, *schema ? "." : "", t->source_table ? t->source_table : "") < 0)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    struct dld_iceberg_load ld = {
        .load_id = l->load->load_id,
        .load_uid = l->uid,
        .mode = s_mode_name(l->load->mode),
        .window_column = t->filter_column,
        .low = l->load->low,
        .high = l->load->high,
        .low_inclusive = l->load->low_inclusive,
        .table_name = t->target_table_name,
        .source_table = source,
        .schema_json = l->ice_schema,
        .files = l->files,
        .nfiles = l->nfiles,
        .overwrite = l->load->mode == DLD_MODE_FULL,
        .now_ms = dld_lake_storage_now_ms(&l->st),
    };
    ld.deletes = dld_ice_upsert_deletes(l->ice_up, &ld.ndeletes);
    ld.file_stats = l->ice_stats;
    ld.partition_spec = l->pspec;
    ld.file_partitions = l->file_parts;
    int rc = dld_iceberg_commit(&l->st, l->dir, &ld, err);
    free(source);
    return rc;
}

int dld_lake_load_begin(const struct dld_lake_storage *storage, const char *const *options,
                        const struct dld_load *load, struct dld_lake_load **out, struct dld_error *err)
{
    *out = NULL;
    int rc;
    if ((rc = s_storage_check(storage, err)) || (rc = s_uid_check(load, err)))
        return rc;
    const char *format = dld_opt_get(options, "format");
    format = format ? format : "parquet";
    const char *ext = dld_format_extension(format);
    if (ext == NULL)
        return dld_error_set(err, DLD_ERR_CONFIG, "format '%s' is not available in this build", format);
    int64_t max = dld_opt_int(options, "max_file_size", S_DEFAULT_MAX_FILE_SIZE);
    if (max < 1024)
        return dld_error_set(err, DLD_ERR_CONFIG, "max_file_size must be at least 1024 bytes");
    struct dld_lake_load *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    dld_struct_copy(&l->st, sizeof(l->st), storage);
    l->options = options;
    l->format = format;
    l->extension = ext;
    l->content_type = s_content_type(format);
    l->max_file_size = max;
    if ((rc = dld_lake_table_dir(load->table, &l->dir, err))) {
        dld_lake_load_free(l);
        return rc;
    }
    l->load = dld_load_copy(load);
    l->meta = l->load ? dld_lake_file_metadata(l->load) : NULL;
    if (l->meta == NULL) {
        dld_lake_load_free(l);
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    l->uid = s_load_uid(l->load);
    int ice = 0;
    if ((rc = dld_iceberg_option(options, &ice, err))) {
        dld_lake_load_free(l);
        return rc;
    }
    if (ice && (rc = s_ice_begin(l, err))) {
        dld_lake_load_free(l);
        return rc;
    }
    if ((rc = dld_ice_merge_key(load->table->item_json, &l->merge_keys, &l->nmerge, err)) ||
        (l->nmerge > 0 && !ice &&
         (rc = dld_error_set(err, DLD_ERR_CONFIG,
                             "merge_key needs \"table_format\": \"iceberg\" (a folder of plain files cannot delete "
                             "older versions of a row)")))) {
        dld_error_prefix(err, "item %s", load->table->target_table_name ? load->table->target_table_name : "?");
        dld_lake_load_free(l);
        return rc;
    }
    /* partition_by (docs/iceberg.md#partitioning-partition_by): its syntax here, its
     * columns' types at the first batch, the table's spec at the first
     * file; all before anything is written */
    int64_t max_open = dld_opt_int(options, "max_open_partitions", S_DEFAULT_MAX_OPEN_PARTITIONS);
    if ((rc = dld_ice_partition_parse(load->table->item_json, &l->pfields, &l->npf, err)) ||
        (l->npf > 0 && !ice &&
         (rc = dld_error_set(err, DLD_ERR_CONFIG,
                             "partition_by needs \"table_format\": \"iceberg\" (a folder of plain files has no "
                             "partition spec)"))) ||
        (l->npf > 0 && l->nmerge > 0 &&
         (rc = dld_error_set(err, DLD_ERR_CONFIG,
                             "merge_key with partition_by is not supported: an equality delete would have to be "
                             "written once per partition (docs/iceberg.md, \"Partitioning\")"))) ||
        (l->npf > 0 && (max_open < 1 || max_open > 10000) &&
         (rc = dld_error_set(err, DLD_ERR_CONFIG, "max_open_partitions must be between 1 and 10000")))) {
        dld_error_prefix(err, "item %s", load->table->target_table_name ? load->table->target_table_name : "?");
        dld_lake_load_free(l);
        return rc;
    }
    l->max_open = (int)max_open;
    *out = l;
    return DLD_OK;
}

/* Two Arrow types are the same when their format strings and their
 * children (names and types) are. */
static bool s_type_same(const struct ArrowSchema *a, const struct ArrowSchema *b)
{
    if (strcmp(s_str(a->format), s_str(b->format)) != 0 || a->n_children != b->n_children)
        return false;
    for (int64_t i = 0; i < a->n_children; i++)
        if (strcmp(s_str(a->children[i]->name), s_str(b->children[i]->name)) != 0 ||
            !s_type_same(a->children[i], b->children[i]))
            return false;
    return true;
}

/* Every file of a load has the first batch's schema: the writers are built
 * on it, and a batch that does not match it would be misread (the CSV
 * writer indexed past the columns it knew). */
static int s_schema_check(const struct dld_lake_load *l, const struct ArrowSchema *s, struct dld_error *err)
{
    const struct ArrowSchema *first = &l->schema;
    int64_t n = first->n_children < s->n_children ? first->n_children : s->n_children;
    for (int64_t i = 0; i < n; i++) {
        const struct ArrowSchema *a = first->children[i], *b = s->children[i];
        if (strcmp(s_str(a->name), s_str(b->name)) != 0)
            return dld_error_set(err, DLD_ERR_UNSUPPORTED,
                                 "load %" PRId64 ": the schema changed during the load: column %" PRId64
                                 " is '%s', it was '%s' in the first batch",
                                 l->load->load_id, i + 1, s_str(b->name), s_str(a->name));
        if (!s_type_same(a, b))
            return dld_error_set(err, DLD_ERR_UNSUPPORTED,
                                 "load %" PRId64 ": the schema changed during the load: column '%s' has Arrow type "
                                 "'%s', it was '%s' in the first batch",
                                 l->load->load_id, s_str(b->name), s_str(b->format), s_str(a->format));
    }
    if (first->n_children != s->n_children) {
        const struct ArrowSchema *extra = s->n_children > n ? s->children[n] : first->children[n];
        return dld_error_set(err, DLD_ERR_UNSUPPORTED,
                             "load %" PRId64 ": the schema changed during the load: a batch has %" PRId64
                             " columns, the first had %" PRId64 " (column '%s' %s)",
                             l->load->load_id, s->n_children, first->n_children, s_str(extra->name),
                             s->n_children > n ? "is new" : "is missing");
    }
    return DLD_OK;
}

/* Opens a new data file for o: the load's next number, under the
 * partition's folder when there is one. */
static int s_file_open(struct dld_lake_load *l, struct dld_lake_out *o, const struct dld_lake_part *part,
                       struct dld_error *err)
{
    if (l->nopened >= S_MAX_FILES)
        return dld_error_set(err, DLD_ERR_CONFIG,
                             "load %" PRId64 " needs more than %d files: raise max_file_size%s", l->load->load_id,
                             S_MAX_FILES, l->npf ? " or max_open_partitions, or partition less finely" : "");
    /* room for this file's entry now, so that closing it cannot fail on
     * memory (files still open hold a place too: nfiles <= nopened) */
    if (l->nopened >= l->cap) {
        int cap = l->cap ? l->cap * 2 : 4;
        struct dld_lake_file *f = realloc(l->files, (size_t)cap * sizeof(*f));
        if (f == NULL)
            return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        l->files = f;
        if (l->iceberg) {
            struct dld_iceberg_file_stats *s = realloc(l->ice_stats, (size_t)cap * sizeof(*s));
            if (s == NULL)
                return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
            l->ice_stats = s;
        }
        if (l->npf) {
            const char **fp = realloc(l->file_parts, (size_t)cap * sizeof(*fp));
            if (fp == NULL)
                return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
            l->file_parts = fp;
        }
        l->cap = cap;
    }
    char *base = dld_lake_file_name(l->load->load_id, l->uid, l->nopened + 1, l->extension);
    if (base && part) {
        char *full = NULL;
        if (asprintf(&full, "%s%s", part->dir, base) < 0)
            full = NULL;
        free(base);
        base = full;
    }
    if ((o->name = base) == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    memset(&o->sink, 0, sizeof(o->sink));
    int rc = DLD_OK;
    if (l->iceberg && l->ice_schema == NULL && (rc = s_ice_first_file(l, err))) {
        free(o->name);
        o->name = NULL;
        return rc;
    }
    rc = l->st.file_open(l->st.ctx, l->dir, o->name, l->content_type, &o->file, &o->sink, err);
    if (rc == DLD_OK) {
        o->writer = l->iceberg ? dld_format_writer_new(l->format, (const char *const *)l->wopts, &l->ice_arrow,
                                                       &o->sink, (const char *const *)l->ice_meta, err)
                               : dld_format_writer_new(l->format, l->options, &l->schema, &o->sink,
                                                       (const char *const *)l->meta, err);
        if (o->writer == NULL) {
            rc = err && err->code ? err->code : DLD_ERR_FATAL;
            l->st.file_abandon(l->st.ctx, o->file);
            o->file = NULL;
        }
    }
    if (rc) {
        free(o->name);
        o->name = NULL;
        return rc;
    }
    l->nopened++;
    return DLD_OK;
}

/* Finishes o's file: trailer, then the storage makes it durable. */
int dld_lake_close_file(struct dld_lake_load *l, struct dld_lake_out *o, const struct dld_lake_part *part,
                        struct dld_error *err)
{
    if (o->writer == NULL)
        return DLD_OK;
    int rc = dld_format_writer_finish(o->writer, err);
    int64_t rows = dld_format_writer_rows(o->writer), bytes = 0;
    if (rc == DLD_OK && l->iceberg) /* value counts and bounds for the Iceberg manifest */
        rc = dld_ice_file_stats(o->writer, &l->ice_arrow, l->ice_ids, &l->ice_stats[l->nfiles], err);
    dld_format_writer_destroy(o->writer);
    o->writer = NULL;
    void *file = o->file;
    o->file = NULL;
    if (rc)
        l->st.file_abandon(l->st.ctx, file);
    else
        rc = l->st.file_close(l->st.ctx, file, &bytes, err);
    if (rc) {
        if (l->iceberg)
            dld_ice_file_stats_clean_up(&l->ice_stats[l->nfiles]);
        free(o->name);
        o->name = NULL;
        return rc;
    }
    if (l->npf)
        l->file_parts[l->nfiles] = part->values;
    l->files[l->nfiles++] = (struct dld_lake_file){o->name, rows, bytes};
    o->name = NULL;
    return DLD_OK;
}

/* Writes rows [start, start + count) of the batch to o's file, opening one
 * as needed. max_file_size holds inside a batch too: the rows are written
 * in slices (a view with its own offset and length; the writers honour the
 * struct array's offset), each sized by the bytes per row seen so far in
 * the file, and the file rolls between slices. */
int dld_lake_write_rows(struct dld_lake_load *l, struct dld_lake_out *o, const struct dld_lake_part *part,
                        const struct ArrowArray *batch, int64_t start, int64_t count, struct dld_error *err)
{
    int rc;
    int64_t done = 0;
    while (done < count) {
        if (o->writer == NULL && (rc = s_file_open(l, o, part, err)))
            return rc;
        int64_t left = count - done, n = left;
        uint64_t size = dld_format_writer_size(o->writer);
        int64_t rows = dld_format_writer_rows(o->writer);
        if (rows <= 0) {
            n = left < S_FIRST_SLICE_ROWS ? left : S_FIRST_SLICE_ROWS; /* learn the row size first */
        } else {
            uint64_t per_row = size / (uint64_t)rows;
            uint64_t room = size < (uint64_t)l->max_file_size ? (uint64_t)l->max_file_size - size : 0;
            uint64_t fit = per_row ? room / per_row : (uint64_t)left;
            n = fit < 1 ? 1 : fit < (uint64_t)left ? (int64_t)fit : left;
        }
        struct ArrowArray view = *batch; /* borrowed buffers and children: never released through the view */
        view.offset = batch->offset + start + done;
        view.length = n;
        view.release = NULL;
        view.private_data = NULL;
        const struct ArrowArray *slice = n == batch->length ? batch : &view;
        if (l->ice_up &&
            (rc = dld_ice_upsert_rows(l->ice_up, slice, l->nfiles, dld_format_writer_rows(o->writer), err)))
            return rc;
        if ((rc = dld_format_writer_write(o->writer, slice, err)))
            return rc;
        done += n;
        if (dld_format_writer_size(o->writer) >= (uint64_t)l->max_file_size &&
            (rc = dld_lake_close_file(l, o, part, err)))
            return rc; /* the next slice or batch starts a new file */
    }
    return DLD_OK;
}

int dld_lake_load_write(struct dld_lake_load *l, const struct ArrowSchema *schema, const struct ArrowArray *batch,
                        struct dld_error *err)
{
    int rc;
    if (l->finished)
        return dld_error_set(err, DLD_ERR_FATAL, "load %" PRId64 ": write after finish", l->load->load_id);
    if (schema == NULL || batch == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "load %" PRId64 ": write without a batch", l->load->load_id);
    if (batch->length == 0)
        return DLD_OK; /* nothing to write: an empty batch opens no file */
    if (batch->n_children != schema->n_children)
        return dld_error_set(err, DLD_ERR_UNSUPPORTED,
                             "load %" PRId64 ": a batch has %" PRId64 " columns but its schema %" PRId64,
                             l->load->load_id, batch->n_children, schema->n_children);
    if (l->schema.release == NULL) {
        if (dld_arrow_schema_copy(schema, &l->schema) != DLD_OK)
            return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        /* partition_by's columns and types, before any file is opened */
        if (l->npf && (rc = dld_ice_partition_check(l->pfields, l->npf, &l->schema, &l->pcols, err))) {
            dld_error_prefix(err, "item %s", s_str(l->load->table->target_table_name));
            return rc;
        }
    } else if ((rc = s_schema_check(l, schema, err))) {
        return rc;
    }
    if (l->npf)
        return dld_lake_write_partitioned(l, batch, err);
    return dld_lake_write_rows(l, &l->out, NULL, batch, 0, batch->length, err);
}

int dld_lake_load_finish(struct dld_lake_load *l, struct dld_load_stats *stats, struct dld_error *err)
{
    int rc = dld_lake_close_file(l, &l->out, NULL, err);
    if (rc == DLD_OK)
        rc = dld_lake_parts_close(l, err);
    if (rc)
        return rc;
    if (l->ice_up) {
        char *location = l->st.location(l->st.ctx, l->dir);
        rc = location ? dld_ice_upsert_finish(l->ice_up, location, l->files, l->nfiles, err)
                      : dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        free(location);
        if (rc)
            return rc;
    }
    l->finished = true;
    struct dld_load_stats mine = {.struct_size = sizeof(mine), .files = l->nfiles};
    for (int i = 0; i < l->nfiles; i++) {
        mine.rows += l->files[i].rows;
        mine.bytes += l->files[i].bytes;
    }
    /* the caller's struct may be of another minor: fill what it has */
    dld_struct_copy(stats, stats->struct_size, &mine);
    return DLD_OK;
}

/* The slot was taken when publish tried to claim it. */
static int s_publish_conflict(struct dld_lake_load *l, const char *mname, const char *const *names,
                              struct dld_error *err)
{
    int64_t id = l->load->load_id;
    struct dld_lake_manifest_info info;
    int rc = s_read_slot(&l->st, l->dir, mname, &info, err);
    if (rc == DLD_ERR_NOT_FOUND)
        return dld_error_set(err, DLD_ERR_RETRY,
                             "load %" PRId64 ": its manifest %s/%s exists but could not be read back", id, l->dir,
                             mname);
    if (rc)
        return rc;
    int64_t rows = 0, bytes = 0;
    for (int i = 0; i < l->nfiles; i++) {
        rows += l->files[i].rows;
        bytes += l->files[i].bytes;
    }
    bool own = info.published && info.load_id == id && s_same_uid(info.load_uid, l->uid);
    /* a legacy name does not tell two loads with the same id apart: the
     * contents have to */
    if (own && l->uid == NULL)
        own = info.files == l->nfiles && info.rows == rows && info.bytes == bytes;
    bool aborted = !info.published && s_same_uid(info.load_uid, l->uid);
    dld_lake_manifest_info_clean_up(&info);
    if (own)
        return DLD_OK; /* a retried write whose first response was lost */
    if (aborted && l->uid) {
        /* Nobody will ever reference these files: take them away again.
         * Best effort; a reader goes by manifests and the tombstone says
         * the load is aborted. */
        struct dld_error e;
        s_scratch(&e);
        if (l->nfiles > 0)
            l->st.remove(l->st.ctx, l->dir, names, l->nfiles, &e);
        return dld_error_set(err, DLD_ERR_CONFLICT,
                             "load %" PRId64 " (uid %s) was aborted by another process (its lease was taken over): "
                             "publish refused",
                             id, l->uid);
    }
    /* Another load's manifest under this name (only legacy names can
     * collide): its files may carry the same names, so nothing is removed. */
    return dld_error_set(err, DLD_ERR_CONFLICT,
                         "load %" PRId64 ": %s/%s already holds another load's manifest (a lake shared by two state "
                         "stores?): publish refused",
                         id, l->dir, mname);
}

int dld_lake_load_publish(struct dld_lake_load *l, struct dld_error *err)
{
    if (!l->finished)
        return dld_error_set(err, DLD_ERR_FATAL, "load %" PRId64 ": publish before finish", l->load->load_id);
    int rc = DLD_OK;
    if (l->iceberg && (rc = s_ice_precheck(l, err)))
        return rc;
    int ndel = 0;
    const struct dld_iceberg_delete *del = dld_ice_upsert_deletes(l->ice_up, &ndel);
    const char **names = calloc((size_t)(l->nfiles + ndel) + 1, sizeof(*names));
    char *mname = dld_lake_manifest_name(l->load->load_id, l->uid);
    char *json = dld_lake_manifest_json(l->load, l->format, l->files, l->nfiles, dld_lake_storage_now_ms(&l->st));
    if (json && l->iceberg) {
        /* what a roll-forward needs to commit the snapshot (is_published) */
        char *annotated = dld_iceberg_manifest_annotate_deletes(json, l->ice_schema, del, ndel, l->ice_stats,
                                                                 l->nfiles);
        free(json);
        json = annotated;
        if (json && l->pspec) { /* and the partition values of each file */
            annotated = dld_iceberg_manifest_annotate_partitions(json, l->pspec, l->file_parts, l->nfiles);
            free(json);
            json = annotated;
        }
    }
    if (names == NULL || mname == NULL || json == NULL)
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    for (int i = 0; rc == DLD_OK && i < l->nfiles; i++)
        names[i] = l->files[i].name;
    for (int i = 0; rc == DLD_OK && i < ndel; i++)
        names[l->nfiles + i] = del[i].name; /* delete files are promoted with the data */
    if (rc == DLD_OK && l->st.promote && l->nfiles + ndel > 0 &&
        (rc = l->st.promote(l->st.ctx, l->dir, names, l->nfiles + ndel, err))) {
        /* Staged files that went missing are what a discard by another
         * process leaves: say so if the slot holds its tombstone. */
        struct dld_lake_manifest_info info;
        struct dld_error e;
        s_scratch(&e);
        if (s_read_slot(&l->st, l->dir, mname, &info, &e) == DLD_OK) {
            bool aborted = !info.published && s_same_uid(info.load_uid, l->uid) && l->uid;
            dld_lake_manifest_info_clean_up(&info);
            if (aborted)
                rc = s_publish_conflict(l, mname, names, err);
        }
    } else if (rc == DLD_OK) {
        struct dld_error e;
        s_scratch(&e);
        rc = l->st.put_if_absent(l->st.ctx, l->dir, mname, json, strlen(json), &e);
        if (rc == DLD_ERR_CONFLICT)
            rc = s_publish_conflict(l, mname, names, err);
        else if (rc)
            s_pass_on(err, &e, rc);
    }
    /* The slot says published: the snapshot follows. If this fails the
     * load is published without its snapshot; the engine asks
     * is_published, which commits it (so does a retried publish). */
    if (rc == DLD_OK && l->iceberg)
        rc = s_ice_commit(l, err);
    free(names);
    free(mname);
    free(json);
    return rc;
}

void dld_lake_load_free(struct dld_lake_load *l)
{
    if (l == NULL)
        return;
    dld_format_writer_destroy(l->out.writer);
    if (l->out.file)
        l->st.file_abandon(l->st.ctx, l->out.file);
    free(l->out.name);
    dld_lake_parts_free(l);
    free(l->file_parts);
    free(l->pcols);
    free(l->pspec);
    free(l->ice_table_spec);
    dld_ice_partition_free(l->pfields, l->npf);
    if (l->schema.release)
        l->schema.release(&l->schema);
    for (int i = 0; i < l->nfiles; i++)
        free((char *)l->files[i].name);
    free(l->files);
    dld_lake_metadata_free(l->meta);
    dld_lake_metadata_free(l->wopts);
    dld_lake_metadata_free(l->ice_meta);
    free(l->ice_schema);
    free(l->ice_file_schema);
    dld_ice_upsert_free(l->ice_up);
    for (int i = 0; l->ice_stats && i < l->nfiles; i++)
        dld_ice_file_stats_clean_up(&l->ice_stats[i]);
    free(l->ice_stats);
    dld_ice_merge_key_free(l->merge_keys, l->nmerge);
    free(l->ice_ids);
    if (l->ice_arrow.release)
        l->ice_arrow.release(&l->ice_arrow);
    dld_load_copy_free(l->load);
    free(l->dir);
    free(l);
}

/* ---- recovery: discard, is_published, manifest_list ------------------------------------------- */

/* Claims the slot of a uid load with a tombstone. DLD_OK when the slot now
 * says "aborted" (ours or an earlier discard's). */
static int s_claim_aborted(const struct dld_lake_storage *st, const char *dir, const char *mname,
                           const struct dld_load *load, struct dld_error *err)
{
    char *tomb = dld_lake_tombstone_json(load, dld_lake_storage_now_ms(st));
    if (tomb == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    struct dld_error e;
    s_scratch(&e);
    int rc = st->put_if_absent(st->ctx, dir, mname, tomb, strlen(tomb), &e);
    free(tomb);
    if (rc == DLD_OK)
        return DLD_OK;
    if (rc != DLD_ERR_CONFLICT)
        return s_pass_on(err, &e, rc);
    struct dld_lake_manifest_info info;
    rc = s_read_slot(st, dir, mname, &info, err);
    if (rc == DLD_ERR_NOT_FOUND)
        return dld_error_set(err, DLD_ERR_RETRY,
                             "load %" PRId64 ": its manifest %s/%s exists but could not be read back", load->load_id,
                             dir, mname);
    if (rc)
        return rc;
    int published = info.published;
    dld_lake_manifest_info_clean_up(&info);
    if (published)
        return dld_error_set(err, DLD_ERR_CONFLICT, "load %" PRId64 " is published; not removing its files",
                             load->load_id);
    return DLD_OK;
}

int dld_lake_discard(const struct dld_lake_storage *storage, const struct dld_load *load, struct dld_error *err)
{
    int rc;
    if ((rc = s_storage_check(storage, err)) || (rc = s_uid_check(load, err)))
        return rc;
    const char *uid = s_load_uid(load);
    char *dir = NULL, *mname = NULL, *prefix = NULL;
    struct s_names found = {.filter = true, .load_id = load->load_id, .uid = uid};
    if ((rc = dld_lake_table_dir(load->table, &dir, err)))
        return rc;
    mname = dld_lake_manifest_name(load->load_id, uid);
    int n = uid ? asprintf(&prefix, "LOAD%08" PRId64 "-%s-", load->load_id, uid)
                : asprintf(&prefix, "LOAD%08" PRId64 "-", load->load_id);
    if (n < 0)
        prefix = NULL;
    if (mname == NULL || prefix == NULL) {
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        goto out;
    }
    if (uid) {
        /* from here on a late publish of this load is refused */
        if ((rc = s_claim_aborted(storage, dir, mname, load, err)))
            goto out;
    } else {
        /* A legacy load has no slot to claim. Its manifest goes first: a
         * manifest that outlived its files would read as published. */
        const char *const m[] = {mname};
        if ((rc = storage->remove(storage->ctx, dir, m, 1, err)))
            goto out;
    }
    /* the load's files, and those in a partitioned table's partition folders */
    if ((rc = storage->list(storage->ctx, dir, prefix, s_names_collect, &found, err)) ||
        (rc = storage->list(storage->ctx, dir, DLD_LAKE_PARTITIONED_DIR, s_names_collect, &found, err)))
        goto out;
    if (found.oom) {
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        goto out;
    }
    s_names_unique(&found);
    if (found.n > 0)
        rc = storage->remove(storage->ctx, dir, (const char *const *)found.v, found.n, err);
out:
    if (rc)
        dld_error_prefix(err, "discarding load %" PRId64, load->load_id);
    s_names_free(&found);
    free(prefix);
    free(mname);
    free(dir);
    return rc;
}

/* A published load of an Iceberg table whose snapshot is missing (publish
 * died between the slot and the commit) gets it now: published means
 * visible, in the table too. Until that succeeds the load is not reported
 * published (and the engine leaves it for recovery). */
static int s_ice_roll_forward(const struct dld_lake_storage *st, const char *dir, const char *mname, int *published,
                              struct dld_error *err)
{
    struct dld_error e;
    s_scratch(&e);
    char *data = NULL;
    size_t len = 0;
    int rc = st->get(st->ctx, dir, mname, &data, &len, &e);
    if (rc)
        return s_pass_on(err, &e, rc == DLD_ERR_NOT_FOUND ? DLD_ERR_RETRY : rc);
    rc = dld_iceberg_commit_manifest(st, dir, data, len, dld_lake_storage_now_ms(st), err);
    free(data);
    if (rc)
        *published = 0;
    return rc;
}

int dld_lake_is_published(const struct dld_lake_storage *storage, const struct dld_load *load, int *published,
                          struct dld_error *err)
{
    int rc;
    *published = 0;
    if ((rc = s_storage_check(storage, err)) || (rc = s_uid_check(load, err)))
        return rc;
    const char *uid = s_load_uid(load);
    char *dir = NULL;
    if ((rc = dld_lake_table_dir(load->table, &dir, err)))
        return rc;
    char *mname = dld_lake_manifest_name(load->load_id, uid);
    struct dld_lake_manifest_info info;
    if (mname == NULL)
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    else if ((rc = s_read_slot(storage, dir, mname, &info, err)) == DLD_ERR_NOT_FOUND)
        rc = DLD_OK;
    else if (rc == DLD_OK) {
        *published = info.published && info.load_id == load->load_id && s_same_uid(info.load_uid, uid);
        dld_lake_manifest_info_clean_up(&info);
        if (*published && uid)
            rc = s_ice_roll_forward(storage, dir, mname, published, err);
    }
    free(mname);
    free(dir);
    return rc;
}

struct s_listed {
    int64_t load_id;
    char *uid;
    cJSON *manifest;
};

static int s_listed_cmp(const void *pa, const void *pb)
{
    const struct s_listed *a = pa, *b = pb;
    if (a->load_id != b->load_id)
        return a->load_id < b->load_id ? -1 : 1;
    /* a legacy manifest (no uid) before the uid ones of the same id */
    if (a->uid == NULL || b->uid == NULL)
        return (a->uid != NULL) - (b->uid != NULL);
    return strcmp(a->uid, b->uid);
}

static bool s_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* "LOAD00000042-<uid>-0001.ext" → 42 and the uid (uid names only; also
 * under a partitioned table's data/ folder) */
static bool s_parse_data_name(const char *name, int64_t *load_id, char uid[17])
{
    if (strncmp(name, DLD_LAKE_PARTITIONED_DIR, strlen(DLD_LAKE_PARTITIONED_DIR)) == 0)
        name = strrchr(name, '/') + 1;
    if (strncmp(name, "LOAD", 4) != 0 || strchr(name, '/'))
        return false;
    const char *p = name + 4;
    int64_t id = 0;
    for (int i = 0; i < 8; i++, p++) {
        if (*p < '0' || *p > '9')
            return false;
        id = id * 10 + (*p - '0');
    }
    if (*p++ != '-' || strnlen(p, 17) < 17 || p[16] != '-')
        return false;
    memcpy(uid, p, 16);
    uid[16] = '\0';
    if (!dld_lake_uid_valid(uid))
        return false;
    *load_id = id;
    return true;
}

/* Data files of a load with no manifest at all -- a load whose process died
 * and whose state store was lost with the only record of it -- are listed
 * as {"status": "orphaned", "files": [...]}, so `state rebuild` can discard
 * them (claiming their manifest slot first, which fences a writer that may
 * still be running). *v grows; entries own their manifest object. */
static int s_add_orphans(const struct dld_lake_storage *storage, const char *dir, struct s_listed **v, int *nv,
                         struct dld_error *err)
{
    struct s_names files = {0};
    int rc = storage->list(storage->ctx, dir, "LOAD", s_names_collect, &files, err);
    if (rc == DLD_OK)
        rc = storage->list(storage->ctx, dir, DLD_LAKE_PARTITIONED_DIR, s_names_collect, &files, err);
    if (rc == DLD_OK && files.oom)
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    if (rc) {
        s_names_free(&files);
        return rc;
    }
    s_names_unique(&files);
    for (int i = 0; i < files.n && rc == DLD_OK; i++) {
        int64_t id;
        char uid[17];
        if (!s_parse_data_name(files.v[i], &id, uid))
            continue;
        struct s_listed *hit = NULL;
        for (int k = 0; k < *nv && !hit; k++)
            if ((*v)[k].load_id == id && (*v)[k].uid && !strcmp((*v)[k].uid, uid))
                hit = &(*v)[k];
        if (hit && hit->manifest && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(hit->manifest, "orphaned"))) {
            /* a published load's files are its own; files beside an aborted
             * manifest are left over from a discard that did not finish */
            const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(hit->manifest, "status"));
            if (st && !strcmp(st, "aborted")) {
                cJSON *left = cJSON_GetObjectItemCaseSensitive(hit->manifest, "leftover_files");
                if (!left)
                    left = cJSON_AddArrayToObject(hit->manifest, "leftover_files");
                if (!left || !cJSON_AddItemToArray(left, cJSON_CreateString(files.v[i])))
                    rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
            }
            continue;
        }
        if (!hit) {
            struct s_listed *grown = realloc(*v, (size_t)(*nv + 1) * sizeof(**v));
            cJSON *m = cJSON_CreateObject();
            char *u = strdup(uid);
            if (!grown || !m || !u) {
                if (grown)
                    *v = grown;
                cJSON_Delete(m);
                free(u);
                rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
                break;
            }
            *v = grown;
            hit = &(*v)[(*nv)++];
            *hit = (struct s_listed){.load_id = id, .uid = u, .manifest = m};
            cJSON_AddNumberToObject(m, "load_id", (double)id);
            cJSON_AddStringToObject(m, "load_uid", uid);
            cJSON_AddStringToObject(m, "status", "orphaned");
            cJSON_AddTrueToObject(m, "orphaned");
            cJSON_AddArrayToObject(m, "files");
        }
        cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(hit->manifest, "files"),
                             cJSON_CreateString(files.v[i]));
    }
    s_names_free(&files);
    return rc;
}

int dld_lake_manifest_list(const struct dld_lake_storage *storage, const struct dld_table *table, char **json,
                           struct dld_error *err)
{
    *json = NULL;
    int rc;
    if ((rc = s_storage_check(storage, err)))
        return rc;
    char *dir = NULL;
    if ((rc = dld_lake_table_dir(table, &dir, err)))
        return rc;
    struct s_names names = {0};
    struct s_listed *v = NULL;
    int nv = 0;
    cJSON *arr = NULL;
    if ((rc = storage->list(storage->ctx, dir, "_manifests/LOAD", s_names_collect, &names, err)))
        goto out;
    if (names.oom || (names.n > 0 && (v = calloc((size_t)names.n, sizeof(*v))) == NULL)) {
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        goto out;
    }
    s_names_unique(&names);
    for (int i = 0; i < names.n; i++) {
        /* temporary copies of a manifest being written are not manifests */
        if (!s_ends_with(names.v[i], ".json"))
            continue;
        struct dld_error e;
        s_scratch(&e);
        char *data = NULL;
        size_t len = 0;
        rc = storage->get(storage->ctx, dir, names.v[i], &data, &len, &e);
        if (rc == DLD_ERR_NOT_FOUND) {
            rc = DLD_OK; /* removed since it was listed (a legacy discard) */
            continue;
        }
        if (rc) {
            s_pass_on(err, &e, rc);
            goto out;
        }
        char what[512];
        snprintf(what, sizeof what, "%s/%s", dir, names.v[i]);
        struct dld_lake_manifest_info info;
        rc = dld_lake_manifest_parse(data, len, what, &info, err);
        if (rc == DLD_OK) {
            v[nv].manifest = cJSON_ParseWithLength(data, len);
            v[nv].load_id = info.load_id;
            v[nv].uid = info.load_uid;
            info.load_uid = NULL; /* moved */
            dld_lake_manifest_info_clean_up(&info);
            if (v[nv++].manifest == NULL)
                rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        }
        free(data);
        if (rc)
            goto out;
    }
    if ((rc = s_add_orphans(storage, dir, &v, &nv, err)))
        goto out;
    if (nv > 1)
        qsort(v, (size_t)nv, sizeof(*v), s_listed_cmp);
    if ((arr = cJSON_CreateArray()) == NULL) {
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        goto out;
    }
    for (int i = 0; i < nv; i++) {
        if (!cJSON_AddItemToArray(arr, v[i].manifest)) {
            rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
            goto out;
        }
        v[i].manifest = NULL; /* the array owns it */
    }
    if ((*json = cJSON_PrintUnformatted(arr)) == NULL)
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
out:
    if (rc)
        dld_error_prefix(err, "listing the manifests of %s", dir);
    cJSON_Delete(arr);
    for (int i = 0; i < nv; i++) {
        cJSON_Delete(v[i].manifest);
        free(v[i].uid);
    }
    free(v);
    s_names_free(&names);
    free(dir);
    return rc;
}

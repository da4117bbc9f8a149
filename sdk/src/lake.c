/* Lake layout and manifests (lake.h), shared by every target. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <deltaload/lake.h>
#include <deltaload/sdk.h>

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

char *dld_lake_file_name(int64_t load_id, int part, const char *extension)
{
    char *s = NULL;
    if (asprintf(&s, "LOAD%08" PRId64 "-%04d.%s", load_id, part, extension) < 0)
        return NULL;
    return s;
}

char *dld_lake_manifest_name(int64_t load_id)
{
    char *s = NULL;
    if (asprintf(&s, "_manifests/LOAD%08" PRId64 ".json", load_id) < 0)
        return NULL;
    return s;
}

int dld_lake_name_is_load(const char *name, int64_t load_id)
{
    char prefix[32];
    int n = snprintf(prefix, sizeof prefix, "LOAD%08" PRId64 "-", load_id);
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    if (strncmp(base, prefix, (size_t)n) == 0)
        return 1;
    /* the manifest itself: LOAD00000042.json */
    n = snprintf(prefix, sizeof prefix, "LOAD%08" PRId64 ".json", load_id);
    return strcmp(base, prefix) == 0;
}

static const char *s_mode_name(uint32_t mode)
{
    return mode == DLD_MODE_DELTA ? "delta" : mode == DLD_MODE_FULL ? "full" : mode == DLD_MODE_BACKFILL ? "backfill" : "?";
}

char *dld_lake_manifest_json(const struct dld_load *load, const char *format, const struct dld_lake_file *files,
                             int nfiles, int64_t created_ms)
{
    cJSON *m = cJSON_CreateObject();
    const struct dld_table *t = load->table;
    cJSON_AddStringToObject(m, "targetTableName", t->target_table_name);
    cJSON_AddStringToObject(m, "sourceSchema", t->source_schema ? t->source_schema : "");
    cJSON_AddStringToObject(m, "sourceTable", t->source_table ? t->source_table : "");
    cJSON_AddNumberToObject(m, "load_id", (double)load->load_id);
    cJSON_AddStringToObject(m, "mode", s_mode_name(load->mode));
    cJSON *w = cJSON_AddObjectToObject(m, "window");
    cJSON_AddStringToObject(w, "column", t->filter_column ? t->filter_column : "");
    if (load->low)
        cJSON_AddStringToObject(w, "low", load->low);
    else
        cJSON_AddNullToObject(w, "low");
    cJSON_AddBoolToObject(w, "low_inclusive", load->low_inclusive);
    if (load->high)
        cJSON_AddStringToObject(w, "high", load->high);
    else
        cJSON_AddNullToObject(w, "high");
    if (load->snapshot)
        cJSON_AddStringToObject(m, "snapshot", load->snapshot);
    cJSON_AddStringToObject(m, "format", format);
    cJSON *arr = cJSON_AddArrayToObject(m, "files");
    int64_t rows = 0, bytes = 0;
    for (int i = 0; i < nfiles; i++) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "name", files[i].name);
        cJSON_AddNumberToObject(f, "rows", (double)files[i].rows);
        cJSON_AddNumberToObject(f, "bytes", (double)files[i].bytes);
        cJSON_AddItemToArray(arr, f);
        rows += files[i].rows;
        bytes += files[i].bytes;
    }
    cJSON_AddNumberToObject(m, "rows", (double)rows);
    cJSON_AddNumberToObject(m, "bytes", (double)bytes);
    cJSON_AddNumberToObject(m, "created_ms", (double)created_ms);
    cJSON_AddStringToObject(m, "writer", "deltaload");
    char *s = cJSON_Print(m);
    cJSON_Delete(m);
    return s;
}

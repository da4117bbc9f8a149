/*
 * The AWS Glue Data Catalog as an Iceberg catalog (iceberg.h,
 * "catalog": "glue"): a Glue table per lake table whose Parameters say
 * table_type ICEBERG and metadata_location, which is what Athena (and the
 * Iceberg GlueCatalog of Spark/Trino) read. Requests are JSON 1.1
 * (POST /, X-Amz-Target AWSGlue.<Op>) signed for the service "glue" by the
 * SDK's AWS client (aws.h), which also retries throttling and 5xx.
 *
 * The commit is Glue's optimistic concurrency: UpdateTable with the
 * VersionId GetTable returned; Glue refuses it with
 * ConcurrentModificationException when the table changed meanwhile. A new
 * table is CreateTable (AlreadyExistsException when another commit created
 * it first). Both are reported as DLD_ERR_CONFLICT, and the commit loop in
 * iceberg.c reads again.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <deltaload/aws.h>
#include <deltaload/iceberg.h>
#include <deltaload/sdk.h>

struct glue {
    struct dld_iceberg_catalog cat;
    struct dld_aws_client *client;
    char *database;
    const struct dld_host *host;
};

char *dld_iceberg_glue_table_name(const char *dir)
{
    size_t n = strlen(dir);
    while (n > 0 && dir[n - 1] == '/')
        n--;
    size_t b = n;
    while (b > 0 && dir[b - 1] != '/')
        b--;
    char *s = strndup(dir + b, n - b);
    for (char *p = s; p && *p; p++)
        *p = (char)tolower((unsigned char)*p); /* Glue keeps names in lower case */
    return s;
}

static bool s_code_is(const struct dld_error *e, const char *code)
{
    return strcmp(e->upstream_code, code) == 0;
}

/* One Glue operation: body in, parsed answer out (*out may be NULL). */
static int s_call(struct glue *g, const char *op, cJSON *body, bool idempotent, cJSON **out, struct dld_error *err)
{
    if (out)
        *out = NULL;
    char target[64];
    snprintf(target, sizeof target, "AWSGlue.%s", op);
    const struct dld_aws_header headers[] = {
        {"Content-Type", "application/x-amz-json-1.1"},
        {"X-Amz-Target", target},
    };
    char *text = cJSON_PrintUnformatted(body);
    if (text == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    struct dld_aws_call call = {.method = "POST", .path = "/", .headers = headers, .nheaders = 2, .body = text,
                                .body_len = strlen(text), .idempotent = idempotent};
    struct dld_aws_http_response resp;
    memset(&resp, 0, sizeof resp);
    int rc = dld_aws_client_call(g->client, &call, &resp, err);
    free(text);
    if (rc == DLD_OK && out) {
        *out = resp.body && resp.body_len ? cJSON_ParseWithLength(resp.body, resp.body_len) : cJSON_CreateObject();
        if (*out == NULL)
            rc = dld_error_set(err, DLD_ERR_RETRY, "glue: %s: the answer is not JSON", op);
    }
    dld_aws_http_response_clean_up(&resp);
    return rc;
}

static const char *s_str(const cJSON *o, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* The catalog's "version" of an entry, opaque to iceberg.c: Glue's VersionId
 * and the table's Parameters, so that UpdateTable (which replaces the whole
 * TableInput) keeps parameters others added (a comment, tags of a data
 * catalog tool). */
static char *s_version_token(const cJSON *table)
{
    cJSON *tok = cJSON_CreateObject();
    const char *vid = s_str(table, "VersionId");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(table, "Parameters");
    char *out = NULL;
    if (tok && (!vid || cJSON_AddStringToObject(tok, "VersionId", vid)) &&
        (!params || cJSON_AddItemToObject(tok, "Parameters", cJSON_Duplicate(params, 1))))
        out = cJSON_PrintUnformatted(tok);
    cJSON_Delete(tok);
    return out;
}

static int s_current(void *ctx, const char *dir, const char *table_location, char **metadata_location,
                     char **version, struct dld_error *err)
{
    (void)table_location;
    struct glue *g = ctx;
    *metadata_location = *version = NULL;
    char *name = dld_iceberg_glue_table_name(dir);
    cJSON *body = cJSON_CreateObject(), *out = NULL;
    int rc = DLD_OK;
    if (!name || !body || !cJSON_AddStringToObject(body, "DatabaseName", g->database) ||
        !cJSON_AddStringToObject(body, "Name", name))
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    struct dld_error e;
    dld_error_init(&e);
    if (rc == DLD_OK && (rc = s_call(g, "GetTable", body, true, &out, &e))) {
        if (s_code_is(&e, "EntityNotFoundException") && strstr(e.message, "atabase") == NULL) {
            rc = DLD_OK; /* no such table yet: the first commit creates it */
        } else {
            dld_error_set(err, rc, "glue: GetTable %s.%s: %s", g->database, name ? name : "?", e.message);
            if (err) {
                err->retryable = e.retryable;
                snprintf(err->upstream_code, sizeof err->upstream_code, "%s", e.upstream_code);
            }
        }
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(out, "Table");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(t, "Parameters");
    const char *type = s_str(params, "table_type"), *loc = s_str(params, "metadata_location");
    if (rc == DLD_OK && t) {
        if (!type || strcasecmp(type, "ICEBERG") != 0 || !loc)
            rc = dld_error_set(err, DLD_ERR_CONFIG,
                               "glue: the table %s.%s exists and is not an Iceberg table (no Parameters table_type "
                               "ICEBERG and metadata_location)",
                               g->database, name);
        else if ((*metadata_location = strdup(loc)) == NULL || (*version = s_version_token(t)) == NULL)
            rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    if (rc) {
        free(*metadata_location);
        free(*version);
        *metadata_location = *version = NULL;
    }
    cJSON_Delete(out);
    cJSON_Delete(body);
    free(name);
    return rc;
}

/* an Iceberg type as the Hive type Athena shows in the table's columns */
static const char *s_hive_type(const char *t, char *buf, size_t n)
{
    static const char *const map[][2] = {{"boolean", "boolean"}, {"int", "int"},         {"long", "bigint"},
                                         {"float", "float"},     {"double", "double"},   {"date", "date"},
                                         {"timestamp", "timestamp"}, {"timestamptz", "timestamp"},
                                         {"string", "string"},   {"uuid", "string"},     {"time", "string"},
                                         {"binary", "binary"}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(t, map[i][0]))
            return map[i][1];
    if (!strncmp(t, "decimal(", 8)) {
        snprintf(buf, n, "%s", t);
        char *sp; /* Iceberg writes "decimal(10, 2)", Hive "decimal(10,2)" */
        while ((sp = strchr(buf, ' ')) != NULL)
            memmove(sp, sp + 1, strlen(sp));
        return buf;
    }
    if (!strncmp(t, "fixed[", 6))
        return "binary";
    return "string";
}

/* TableInput: what Athena needs to see the table (Iceberg's GlueCatalog writes the same) */
static cJSON *s_table_input(const char *name, const char *table_location, const char *prev, const char *loc,
                            const char *schema_json, const cJSON *old_params)
{
    cJSON *ti = cJSON_CreateObject(), *params, *sd, *cols, *schema = schema_json ? cJSON_Parse(schema_json) : NULL;
    bool ok = ti && cJSON_AddStringToObject(ti, "Name", name) &&
              cJSON_AddStringToObject(ti, "TableType", "EXTERNAL_TABLE") &&
              (params = cJSON_AddObjectToObject(ti, "Parameters"));
    /* the parameters the table had, except the ones the commit sets */
    const cJSON *p;
    cJSON_ArrayForEach(p, old_params)
    {
        if (ok && cJSON_IsString(p) && strcmp(p->string, "table_type") && strcmp(p->string, "metadata_location") &&
            strcmp(p->string, "previous_metadata_location"))
            ok = cJSON_AddStringToObject(params, p->string, p->valuestring) != NULL;
    }
    ok = ok &&
              cJSON_AddStringToObject(params, "table_type", "ICEBERG") &&
              cJSON_AddStringToObject(params, "metadata_location", loc) &&
              (!prev || cJSON_AddStringToObject(params, "previous_metadata_location", prev)) &&
              (sd = cJSON_AddObjectToObject(ti, "StorageDescriptor")) &&
              cJSON_AddStringToObject(sd, "Location", table_location) &&
              (cols = cJSON_AddArrayToObject(sd, "Columns"));
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(schema, "fields"))
    {
        const char *fn = s_str(f, "name"), *ft = s_str(f, "type");
        char buf[64];
        cJSON *c = cJSON_CreateObject();
        ok = ok && c && cJSON_AddItemToArray(cols, c) && fn && cJSON_AddStringToObject(c, "Name", fn) &&
             cJSON_AddStringToObject(c, "Type", ft ? s_hive_type(ft, buf, sizeof buf) : "string");
        if (!ok && c && !cols)
            cJSON_Delete(c);
    }
    cJSON_Delete(schema);
    if (!ok) {
        cJSON_Delete(ti);
        return NULL;
    }
    return ti;
}

static int s_swap(void *ctx, const char *dir, const char *table_location, const char *version, const char *prev,
                  const char *new_location, const char *schema_json, struct dld_error *err)
{
    struct glue *g = ctx;
    char *name = dld_iceberg_glue_table_name(dir);
    cJSON *tok = version ? cJSON_Parse(version) : NULL;
    const char *vid = s_str(tok, "VersionId");
    cJSON *body = cJSON_CreateObject(),
          *ti = name ? s_table_input(name, table_location, prev, new_location, schema_json,
                                     cJSON_GetObjectItemCaseSensitive(tok, "Parameters"))
                     : NULL;
    /* no version: the catalog has no entry yet (prev, if any, is the
     * file-system catalog's metadata the table is adopted from) */
    const char *op = version ? "UpdateTable" : "CreateTable";
    int rc = DLD_OK;
    if (!body || !ti || !cJSON_AddStringToObject(body, "DatabaseName", g->database) ||
        !cJSON_AddItemToObject(body, "TableInput", ti) ||
        (vid && !cJSON_AddStringToObject(body, "VersionId", vid))) {
        if (!cJSON_GetObjectItemCaseSensitive(body, "TableInput"))
            cJSON_Delete(ti);
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    struct dld_error e;
    dld_error_init(&e);
    /* not idempotent: after a timeout the swap may have happened, and the
     * caller finds out by reading the pointer again */
    if (rc == DLD_OK && (rc = s_call(g, op, body, false, NULL, &e))) {
        if (s_code_is(&e, "ConcurrentModificationException") || s_code_is(&e, "AlreadyExistsException"))
            rc = DLD_ERR_CONFLICT;
        dld_error_set(err, rc, "glue: %s %s.%s: %s", op, g->database, name, e.message);
        if (err) {
            err->retryable = rc == DLD_ERR_CONFLICT ? 0 : e.retryable;
            snprintf(err->upstream_code, sizeof err->upstream_code, "%s", e.upstream_code);
        }
    }
    if (rc == DLD_OK && g->host)
        dld_log(g->host, DLD_LOG_INFO, "glue", "%s.%s now at %s", g->database, name, new_location);
    cJSON_Delete(body);
    cJSON_Delete(tok);
    free(name);
    return rc;
}

static void s_destroy(void *ctx)
{
    struct glue *g = ctx;
    free(g->database);
    free(g);
}

struct dld_iceberg_catalog *dld_iceberg_glue_new(struct dld_aws_client *client, const char *database,
                                                 const struct dld_host *host, struct dld_error *err)
{
    if (client == NULL || database == NULL || *database == '\0') {
        dld_error_set(err, DLD_ERR_CONFIG, "catalog glue needs glue_database");
        return NULL;
    }
    struct glue *g = calloc(1, sizeof *g);
    if (g == NULL || (g->database = strdup(database)) == NULL) {
        free(g);
        dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        return NULL;
    }
    g->client = client;
    g->host = host;
    g->cat = (struct dld_iceberg_catalog){.ctx = g, .current = s_current, .swap = s_swap, .destroy = s_destroy};
    return &g->cat;
}

void dld_iceberg_catalog_destroy(struct dld_iceberg_catalog *c)
{
    if (c && c->destroy)
        c->destroy(c->ctx);
}

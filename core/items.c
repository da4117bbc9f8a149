/* Controller items: parse, validate, normalise. See docs/semantics.md. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "items.h"
#include "schema_track.h"

#include <deltaload/lake.h>

const char *const dld_item_known_attributes[] = {
    "targetTableName", "sourceSchema", "sourceTable", "filtercolumn", "filteroperator", "startvalue", "endvalue",
    "activeflag", "ouputs3Prefix", "outputPrefix", "replication_task_settings", "lag", "schema_change",
    "merge_key", "partition_by", NULL};

/* Item values may be JSON strings or numbers (DynamoDB's N); both become text. */
static int s_text(const cJSON *obj, const char *key, char **out, struct dld_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (v == NULL || cJSON_IsNull(v))
        return DLD_OK;
    if (cJSON_IsString(v)) {
        *out = strdup(v->valuestring);
    } else if (cJSON_IsNumber(v)) {
        char buf[64];
        if (v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) >= 9.007199254740992e15)
            /* a JSON number this large is rounded by the parser: a watermark must be exact */
            return dld_error_set(err, DLD_ERR_CONFIG,
                                 "attribute %s: an integer beyond 2^53 is not exact as a JSON number; write it as a "
                                 "string (\"%.0f\" was read)",
                                 key, v->valuedouble);
        if (v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 9.007199254740992e15)
            snprintf(buf, sizeof buf, "%lld", (long long)v->valuedouble);
        else
            snprintf(buf, sizeof buf, "%.17g", v->valuedouble);
        *out = strdup(buf);
    } else {
        return dld_error_set(err, DLD_ERR_CONFIG, "attribute %s must be a string or a number", key);
    }
    return *out ? DLD_OK : dld_error_set(err, DLD_ERR_FATAL, "out of memory");
}

static const char *const s_delta_ops[] = {"gte", "between", NULL};
static const char *const s_full_ops[] = {"lte", "eq", "noteq", "null", "notnull", "notbetween", NULL};

static bool s_in(const char *op, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(op, *list) == 0)
            return true;
    return false;
}

int dld_item_parse(const cJSON *obj, struct dld_item *it, struct dld_error *err)
{
    memset(it, 0, sizeof(*it));
    it->schema_change = DLD_SCHEMA_UNSET;
    if (!cJSON_IsObject(obj))
        return dld_error_set(err, DLD_ERR_CONFIG, "a controller item must be a JSON object");
    int rc;
    it->json = cJSON_Duplicate(obj, 1);
    char *active = NULL, *prefix2 = NULL;
    if ((rc = s_text(obj, "targetTableName", &it->name, err)) || (rc = s_text(obj, "sourceSchema", &it->schema, err)) ||
        (rc = s_text(obj, "sourceTable", &it->table, err)) || (rc = s_text(obj, "filtercolumn", &it->column, err)) ||
        (rc = s_text(obj, "filteroperator", &it->op, err)) || (rc = s_text(obj, "startvalue", &it->start, err)) ||
        (rc = s_text(obj, "endvalue", &it->end, err)) || (rc = s_text(obj, "activeflag", &active, err)) ||
        (rc = s_text(obj, "ouputs3Prefix", &it->prefix, err)) || (rc = s_text(obj, "outputPrefix", &prefix2, err)))
        goto out;
    const char *who = it->name ? it->name : "(no targetTableName)";
    if (it->name == NULL) {
        rc = dld_error_set(err, DLD_ERR_CONFIG, "controller item has no targetTableName");
        goto out;
    }
    if ((rc = dld_ident_check("targetTableName", it->name, err)))
        goto out;
    if (strchr(it->name, '/') || !strcmp(it->name, ".") || !strcmp(it->name, "..")) {
        rc = dld_error_set(err, DLD_ERR_CONFIG, "item %s: targetTableName may not contain '/' or be '.' or '..'", who);
        goto out;
    }
    /* `<name>__vN` is the folder of version N of table <name> (schema_change
     * rewrite, docs/reliability.md): a table of that name would share it */
    const char *ver = strstr(it->name, "__v");
    while (ver && strstr(ver + 1, "__v"))
        ver = strstr(ver + 1, "__v");
    if (ver && ver != it->name && ver[3] && strspn(ver + 3, "0123456789") == strlen(ver + 3)) {
        rc = dld_error_set(err, DLD_ERR_CONFIG,
                           "item %s: a targetTableName ending in __v<digits> is reserved for the versions a "
                           "schema_change rewrite creates (docs/reliability.md)",
                           who);
        goto out;
    }
    if (it->table == NULL) {
        rc = dld_error_set(err, DLD_ERR_CONFIG, "item %s: sourceTable is required", who);
        goto out;
    }
    if ((rc = dld_ident_check("sourceTable", it->table, err)) ||
        (it->schema && it->schema[0] && (rc = dld_ident_check("sourceSchema", it->schema, err))) ||
        (it->column && (rc = dld_ident_check("filtercolumn", it->column, err)))) {
        dld_error_prefix(err, "item %s", who);
        goto out;
    }
    if (prefix2 && it->prefix && strcmp(prefix2, it->prefix) != 0) {
        rc = dld_error_set(err, DLD_ERR_CONFIG, "item %s: ouputs3Prefix and outputPrefix disagree", who);
        goto out;
    }
    if (it->prefix == NULL) {
        it->prefix = prefix2;
        prefix2 = NULL;
    }
    if (it->schema == NULL)
        it->schema = strdup("");
    if (it->prefix == NULL)
        it->prefix = strdup("");
    if ((rc = dld_item_strict(obj, it, active, who, err)))
        goto out;
    it->active = true;
    if (active) {
        if (!strcasecmp(active, "Y"))
            it->active = true;
        else if (!strcasecmp(active, "N"))
            it->active = false;
        else {
            rc = dld_error_set(err, DLD_ERR_CONFIG, "item %s: activeflag must be Y or N", who);
            goto out;
        }
    }
    const cJSON *lag = cJSON_GetObjectItemCaseSensitive(obj, "lag");
    if (lag) {
        double v = cJSON_IsNumber(lag) ? lag->valuedouble : cJSON_IsString(lag) ? atof(lag->valuestring) : -1;
        if (v < 0 || v != floor(v) || v > 86400.0 * 365) {
            rc = dld_error_set(err, DLD_ERR_CONFIG, "item %s: lag must be a whole number of seconds", who);
            goto out;
        }
        it->lag_seconds = (int64_t)v;
    }
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(obj, "schema_change");
    if (sc) {
        char where[300];
        snprintf(where, sizeof where, "item %s", who);
        if ((rc = dld_schema_policy_parse(cJSON_GetStringValue(sc), where, &it->schema_change, err)))
            goto out;
    }
    if (it->op) {
        for (char *p = it->op; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        if (!strcmp(it->op, "ste")) { /* DMS's name for "smaller than or equal" */
            free(it->op);
            it->op = strdup("lte");
        }
    }
    if (it->op && !strcmp(it->op, "commit")) {
        /* issue 17: windows over the source's commit clock (PostgreSQL
         * xid8, Oracle SCN); the watermark is that clock's horizon, so
         * there is no column, no endvalue and no lag. A startvalue is a
         * horizon to start from (the DynamoDB store mirrors the watermark
         * into it). */
        const char *extra = it->column            ? "filtercolumn"
                            : it->end             ? "endvalue"
                            : it->lag_seconds > 0 ? "lag (a transaction still open is loaded by a later window)"
                                                  : NULL;
        if (extra) {
            rc = dld_error_set(err, DLD_ERR_CONFIG,
                               "item %s: filteroperator commit follows the source's commit order and takes no %s",
                               who, extra);
            goto out;
        }
        it->mode = DLD_MODE_DELTA;
    } else if (it->column == NULL) {
        if (it->op) {
            rc = dld_error_set(err, DLD_ERR_CONFIG, "item %s: filteroperator %s needs a filtercolumn", who, it->op);
            goto out;
        }
        it->mode = DLD_MODE_FULL;
    } else {
        if (it->op == NULL)
            it->op = strdup("gte");
        if (s_in(it->op, s_delta_ops)) {
            it->mode = DLD_MODE_DELTA;
        } else if (s_in(it->op, s_full_ops)) {
            it->mode = DLD_MODE_FULL;
        } else {
            rc = dld_error_set(err, DLD_ERR_CONFIG,
                               "item %s: unknown filteroperator '%s' (valid: gte, lte, ste, eq, noteq, null, notnull, "
                               "between, notbetween, commit)",
                               who, it->op);
            goto out;
        }
        bool two = !strcmp(it->op, "between") || !strcmp(it->op, "notbetween");
        bool none = !strcmp(it->op, "null") || !strcmp(it->op, "notnull");
        bool one = !two && !none && strcmp(it->op, "gte") != 0; /* gte may start unbounded */
        if ((two || one) && it->start == NULL) {
            rc = dld_error_set(err, DLD_ERR_CONFIG, "item %s: filteroperator %s needs a startvalue", who, it->op);
            goto out;
        }
        if (two && it->end == NULL) {
            rc = dld_error_set(err, DLD_ERR_CONFIG, "item %s: filteroperator %s needs an endvalue", who, it->op);
            goto out;
        }
    }
    it->item_json = cJSON_PrintUnformatted(it->json);
    it->t = (struct dld_table){
        .struct_size = sizeof(struct dld_table),
        .target_table_name = it->name,
        .source_schema = it->schema,
        .source_table = it->table,
        .filter_column = it->column,
        .filter_operator = it->op,
        .start_value = it->start,
        .end_value = it->end,
        .output_prefix = it->prefix,
        .active = it->active,
        .lag_seconds = it->lag_seconds,
        .item_json = it->item_json,
    };
    rc = DLD_OK;
out:
    free(active);
    free(prefix2);
    if (rc)
        dld_item_clean_up(it);
    return rc;
}

int dld_item_parse_text(const char *text, struct dld_item *it, struct dld_error *err)
{
    if (dld_json_has_nul(text, NULL)) {
        memset(it, 0, sizeof(*it));
        return dld_error_set(err, DLD_ERR_CONFIG, "stored controller item contains a NUL character (\\u0000)");
    }
    cJSON *obj = cJSON_Parse(text);
    if (obj == NULL) {
        memset(it, 0, sizeof(*it));
        return dld_error_set(err, DLD_ERR_CONFIG, "stored controller item is not valid JSON");
    }
    int rc = dld_item_parse(obj, it, err);
    cJSON_Delete(obj);
    return rc;
}

void dld_item_clean_up(struct dld_item *it)
{
    cJSON_Delete(it->json);
    char *strs[] = {it->item_json, it->name, it->schema, it->table, it->column, it->op, it->start, it->end, it->prefix};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        free(strs[i]);
    memset(it, 0, sizeof(*it));
}

/* ---- strict validation (issue 13): near-miss attribute names, control
 * characters and NUL, path-like values. Kept apart from the operator table. */

/* Optimal-string-alignment distance, capped: returns 2 for anything above 1. */
static int s_distance_le1(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > lb + 1 || lb > la + 1)
        return 2;
    size_t i = 0;
    while (i < la && i < lb && tolower((unsigned char)a[i]) == tolower((unsigned char)b[i]))
        i++;
    if (i == la && i == lb)
        return 0;
    const char *ra = a + i, *rb = b + i;
    if (la == lb) {
        if (!strcasecmp(ra + 1, rb + 1)) /* one substitution */
            return 1;
        if (la - i >= 2 && tolower((unsigned char)ra[0]) == tolower((unsigned char)rb[1]) &&
            tolower((unsigned char)ra[1]) == tolower((unsigned char)rb[0]) && !strcasecmp(ra + 2, rb + 2))
            return 1; /* adjacent transposition */
        return 2;
    }
    if (la > lb)
        return !strcasecmp(ra + 1, rb) ? 1 : 2; /* one deletion */
    return !strcasecmp(ra, rb + 1) ? 1 : 2;     /* one insertion */
}

int dld_item_attribute_check(const char *key, bool *known, struct dld_error *err)
{
    *known = false;
    for (int k = 0; dld_item_known_attributes[k]; k++) {
        if (!strcmp(key, dld_item_known_attributes[k])) {
            *known = true;
            return DLD_OK;
        }
    }
    for (int k = 0; dld_item_known_attributes[k]; k++) {
        const char *name = dld_item_known_attributes[k];
        if (!strcasecmp(key, name))
            return dld_error_set(err, DLD_ERR_CONFIG,
                                 "attribute '%s' differs from '%s' only by case (attribute names are case-sensitive)",
                                 key, name);
        /* short names ("lag") only by case: one edit of three letters is
         * another word ("log", "flag") an item may legitimately carry */
        if (strlen(name) >= 4 && s_distance_le1(key, name) <= 1)
            return dld_error_set(err, DLD_ERR_CONFIG,
                                 "attribute '%s' is one edit away from '%s': a misspelt attribute would be ignored "
                                 "(rename it, or use another name for a custom attribute)",
                                 key, name);
    }
    return DLD_OK;
}

/* A JSON text with a \u0000 escape inside a string (keys included): cJSON
 * stops the decoded string there, silently cutting the value. */
bool dld_json_has_nul(const char *text, size_t *offset)
{
    bool in_string = false;
    for (const char *p = text; p && *p; p++) {
        if (!in_string) {
            in_string = *p == '"';
            continue;
        }
        if (*p == '"') {
            in_string = false;
        } else if (*p == '\\') {
            if (p[1] == 'u' && p[2] == '0' && p[3] == '0' && p[4] == '0' && p[5] == '0') {
                if (offset)
                    *offset = (size_t)(p - text);
                return true;
            }
            if (p[1])
                p++; /* skip the escaped character (\" and \\ included) */
        }
    }
    return false;
}

static int s_no_control(const char *what, const char *who, const char *v, struct dld_error *err)
{
    for (const unsigned char *p = (const unsigned char *)v; p && *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return dld_error_set(err, DLD_ERR_CONFIG, "item %s: %s contains a control character (0x%02x) at byte %zu",
                                 who, what, *p, (size_t)(p - (const unsigned char *)v));
    return DLD_OK;
}

/* Everything about the item that is not the operator table: attribute
 * names, control characters in values, values without the column they
 * need, and the lake path built from it (never '.', '..' or '\'). */
int dld_item_strict(const cJSON *obj, struct dld_item *it, const char *active, const char *who,
                         struct dld_error *err)
{
    int rc;
    for (const cJSON *c = obj->child; c; c = c->next) {
        bool known;
        if ((rc = dld_item_attribute_check(c->string, &known, err))) {
            dld_error_prefix(err, "item %s", who);
            return rc;
        }
        if (s_no_control("an attribute name", who, c->string, err))
            return DLD_ERR_CONFIG;
    }
    const struct {
        const char *what, *v;
    } values[] = {{"startvalue", it->start}, {"endvalue", it->end},       {"filteroperator", it->op},
                  {"activeflag", active},    {"ouputs3Prefix", it->prefix}};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        if ((rc = s_no_control(values[i].what, who, values[i].v, err)))
            return rc;
    /* issue 17: a commit item's startvalue is a horizon of the source's
     * commit clock (xid8, SCN), compared with no column */
    bool commit = it->op && !strcasecmp(it->op, "commit");
    if (it->column == NULL && (it->end || (it->start && !commit)))
        return dld_error_set(err, DLD_ERR_CONFIG, "item %s: %s is set but there is no filtercolumn to compare it with",
                             who, it->start && !commit ? "startvalue" : "endvalue");
    struct dld_table t = {.struct_size = sizeof t,
                          .target_table_name = it->name,
                          .source_schema = it->schema,
                          .output_prefix = it->prefix};
    char *dir = NULL;
    if ((rc = dld_lake_table_dir(&t, &dir, err))) {
        dld_error_prefix(err, "item %s", who);
        return rc;
    }
    free(dir);
    return DLD_OK;
}

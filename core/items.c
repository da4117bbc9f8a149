/* Controller items: parse, validate, normalise. See docs/semantics.md. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "items.h"

const char *const dld_item_known_attributes[] = {
    "targetTableName", "sourceSchema", "sourceTable", "filtercolumn", "filteroperator", "startvalue", "endvalue",
    "activeflag", "ouputs3Prefix", "outputPrefix", "replication_task_settings", "lag", NULL};

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
    if (it->op) {
        for (char *p = it->op; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        if (!strcmp(it->op, "ste")) { /* DMS's name for "smaller than or equal" */
            free(it->op);
            it->op = strdup("lte");
        }
    }
    if (it->column == NULL) {
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
                               "between, notbetween)",
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

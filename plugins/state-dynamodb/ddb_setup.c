/* state-dynamodb: `deltaload state init` -- creates the controller and
 * history tables when they are missing (on-demand billing, waits until
 * ACTIVE), enables TTL on the history's expires_at, or checks the key
 * schemas of tables that exist and says what is wrong. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ddb_internal.h"

#define WAIT_ACTIVE_MS (10 * 60 * 1000)

static void s_sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)((ms % 1000) * 1000000)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static bool s_missing(const struct dld_error *err)
{
    return !strcmp(err->upstream_code, "ResourceNotFoundException");
}

/* DescribeTable; *table is its "Table" object (NULL when missing: rc OK) */
static int s_describe(struct ddb *d, const char *name, cJSON **table, struct dld_error *err)
{
    *table = NULL;
    cJSON *req = cJSON_CreateObject();
    if (req == NULL)
        return ddb_oom(err);
    cJSON_AddStringToObject(req, "TableName", name);
    char what[300];
    snprintf(what, sizeof what, "'%s'", name);
    cJSON *out = NULL;
    int rc = ddb_call(d, "DescribeTable", what, req, true, &out, NULL, NULL, err);
    if (rc != DLD_OK) {
        if (s_missing(err)) {
            dld_error_init(err);
            return DLD_OK;
        }
        return rc;
    }
    *table = cJSON_DetachItemFromObjectCaseSensitive(out, "Table");
    cJSON_Delete(out);
    return DLD_OK;
}

static const char *s_status(const cJSON *table)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(table, "TableStatus"));
    return s ? s : "?";
}

/* the type of an attribute in AttributeDefinitions, or "?" */
static const char *s_attr_type(const cJSON *table, const char *attr)
{
    const cJSON *defs = cJSON_GetObjectItemCaseSensitive(table, "AttributeDefinitions");
    for (const cJSON *a = defs ? defs->child : NULL; a; a = a->next) {
        const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "AttributeName"));
        if (n && !strcmp(n, attr)) {
            const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "AttributeType"));
            return t ? t : "?";
        }
    }
    return "?";
}

/* Appends what is wrong with the key schema to rep; true if all is right. */
static bool s_check_keys(const cJSON *table, const char *name, bool with_sort, struct ddb_buf *rep)
{
    const char *hash = NULL, *range = NULL;
    const cJSON *ks = cJSON_GetObjectItemCaseSensitive(table, "KeySchema");
    for (const cJSON *k = ks ? ks->child : NULL; k; k = k->next) {
        const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(k, "AttributeName"));
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(k, "KeyType"));
        if (n && t && !strcmp(t, "HASH"))
            hash = n;
        else if (n && t && !strcmp(t, "RANGE"))
            range = n;
    }
    bool ok = true;
    if (hash == NULL || strcmp(hash, DDB_KEY) != 0 || strcmp(s_attr_type(table, hash), "S") != 0) {
        ddb_buf_printf(rep, "  wrong: the partition key is %s%s%s%s, deltaload needs %s (S)\n", hash ? hash : "(none)",
                       hash ? " (" : "", hash ? s_attr_type(table, hash) : "", hash ? ")" : "", DDB_KEY);
        ok = false;
    }
    if (with_sort && (range == NULL || strcmp(range, H_LOAD_ID) != 0 || strcmp(s_attr_type(table, range), "N") != 0)) {
        ddb_buf_printf(rep, "  wrong: the sort key is %s%s%s%s, the history needs %s (N)\n", range ? range : "(none)",
                       range ? " (" : "", range ? s_attr_type(table, range) : "", range ? ")" : "", H_LOAD_ID);
        ok = false;
    }
    if (!with_sort && range != NULL) {
        ddb_buf_printf(rep, "  wrong: it has a sort key (%s); the controller table is keyed by %s alone\n", range,
                       DDB_KEY);
        ok = false;
    }
    if (!ok)
        ddb_buf_printf(rep, "  table '%s' cannot be used as is: point the option at another table name, or "
                            "recreate it with the keys above\n", name);
    return ok;
}

static int s_create(struct ddb *d, const char *name, bool with_sort, struct dld_error *err)
{
    cJSON *req = cJSON_CreateObject(), *defs = cJSON_CreateArray(), *keys = cJSON_CreateArray();
    if (!req || !defs || !keys) {
        cJSON_Delete(req);
        cJSON_Delete(defs);
        cJSON_Delete(keys);
        return ddb_oom(err);
    }
    const char *names[] = {DDB_KEY, H_LOAD_ID}, *types[] = {"S", "N"}, *kinds[] = {"HASH", "RANGE"};
    for (int i = 0; i < (with_sort ? 2 : 1); i++) {
        cJSON *a = cJSON_CreateObject(), *k = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "AttributeName", names[i]);
        cJSON_AddStringToObject(a, "AttributeType", types[i]);
        cJSON_AddStringToObject(k, "AttributeName", names[i]);
        cJSON_AddStringToObject(k, "KeyType", kinds[i]);
        cJSON_AddItemToArray(defs, a);
        cJSON_AddItemToArray(keys, k);
    }
    cJSON_AddStringToObject(req, "TableName", name);
    cJSON_AddItemToObject(req, "AttributeDefinitions", defs);
    cJSON_AddItemToObject(req, "KeySchema", keys);
    cJSON_AddStringToObject(req, "BillingMode", "PAY_PER_REQUEST");
    char what[300];
    snprintf(what, sizeof what, "'%s'", name);
    int rc = ddb_call(d, "CreateTable", what, req, false, NULL, NULL, NULL, err);
    if (rc != DLD_OK && !strcmp(err->upstream_code, "ResourceInUseException")) {
        /* another `state init` is creating it right now: wait for it */
        dld_error_init(err);
        rc = DLD_OK;
    }
    return rc;
}

/* One table: created, checked, waited for. Returns DLD_OK, or
 * DLD_ERR_NOT_FOUND (missing, create off), DLD_ERR_CONFIG (wrong keys), or a
 * call's error. */
static int s_table(struct ddb *d, const char *role, const char *name, bool with_sort, bool create,
                   struct ddb_buf *rep, struct dld_error *err)
{
    cJSON *t = NULL;
    int rc = s_describe(d, name, &t, err);
    if (rc)
        return rc;
    bool created = false;
    int64_t t0 = d->host->now_ms();
    if (t == NULL) {
        if (!create) {
            ddb_buf_printf(rep, "%s table '%s': missing (`deltaload state init` creates it)\n", role, name);
            return DLD_ERR_NOT_FOUND;
        }
        if ((rc = s_create(d, name, with_sort, err)))
            return rc;
        created = true;
        if ((rc = s_describe(d, name, &t, err)))
            return rc;
    }
    if (t != NULL) {
        struct ddb_buf why = {0};
        if (!s_check_keys(t, name, with_sort, &why)) {
            ddb_buf_printf(rep, "%s table '%s': exists (%s) with the wrong keys\n%s", role, name, s_status(t),
                           why.data ? why.data : "");
            ddb_buf_free(&why);
            cJSON_Delete(t);
            return DLD_ERR_CONFIG;
        }
        ddb_buf_free(&why);
    }
    /* wait for ACTIVE (a table just created, or being created by another) */
    while (create && (t == NULL || strcmp(s_status(t), "ACTIVE") != 0)) {
        if (d->host->now_ms() - t0 > WAIT_ACTIVE_MS) {
            cJSON_Delete(t);
            return dld_error_set(err, DLD_ERR_RETRY, "%s: table '%s' did not become ACTIVE within %d s", DDB_NAME,
                                 name, WAIT_ACTIVE_MS / 1000);
        }
        if (d->host->cancelled && d->host->cancelled()) {
            cJSON_Delete(t);
            return dld_error_set(err, DLD_ERR_RETRY, "%s: cancelled while waiting for table '%s'", DDB_NAME, name);
        }
        s_sleep_ms(250);
        cJSON_Delete(t);
        if ((rc = s_describe(d, name, &t, err)))
            return rc;
    }
    const char *billing = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(t, "BillingModeSummary"), "BillingMode"));
    if (created)
        ddb_buf_printf(rep, "%s table '%s': created (key %s (S)%s, on-demand billing), %s after %" PRId64 " ms\n", role,
                       name, DDB_KEY, with_sort ? ", sort key " H_LOAD_ID " (N)" : "", s_status(t),
                       d->host->now_ms() - t0);
    else
        ddb_buf_printf(rep, "%s table '%s': exists (key %s (S)%s, %s billing), %s\n", role, name, DDB_KEY,
                       with_sort ? ", sort key " H_LOAD_ID " (N)" : "", billing ? billing : "PROVISIONED",
                       s_status(t));
    cJSON_Delete(t);
    return DLD_OK;
}

/* TTL on the history's expires_at: reported, and enabled when creating. */
static void s_ttl(struct ddb *d, bool create, struct ddb_buf *rep)
{
    const char *name = d->history_table;
    if (d->history_ttl_days == 0) {
        ddb_buf_printf(rep, "history TTL: off (history_ttl_days is 0: history items do not carry %s)\n", H_TTL);
        return;
    }
    char what[300];
    snprintf(what, sizeof what, "'%s'", name);
    struct dld_error err;
    dld_error_init(&err);
    cJSON *req = cJSON_CreateObject();
    if (req != NULL)
        cJSON_AddStringToObject(req, "TableName", name);
    cJSON *out = NULL;
    const char *how = "aws dynamodb update-time-to-live --table-name %s --time-to-live-specification "
                      "Enabled=true,AttributeName=" H_TTL;
    char cmd[600];
    snprintf(cmd, sizeof cmd, how, name);
    if (ddb_call(d, "DescribeTimeToLive", what, req, true, &out, NULL, NULL, &err) != DLD_OK) {
        ddb_buf_printf(rep, "history TTL: unknown (%s); to enable it: %s\n", err.message, cmd);
        return;
    }
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(out, "TimeToLiveDescription");
    const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(desc, "TimeToLiveStatus"));
    const char *attr = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(desc, "AttributeName"));
    if (status && (!strcmp(status, "ENABLED") || !strcmp(status, "ENABLING"))) {
        if (attr && !strcmp(attr, H_TTL))
            ddb_buf_printf(rep, "history TTL: %s on %s (items expire %" PRId64 " days after their last write)\n",
                           status, H_TTL, d->history_ttl_days);
        else
            ddb_buf_printf(rep, "history TTL: %s on '%s', not on %s: history items written by deltaload do not "
                                "expire\n", status, attr ? attr : "?", H_TTL);
        cJSON_Delete(out);
        return;
    }
    cJSON_Delete(out);
    if (!create) {
        ddb_buf_printf(rep, "history TTL: %s (`deltaload state init` enables it on %s)\n", status ? status : "DISABLED",
                       H_TTL);
        return;
    }
    req = cJSON_CreateObject();
    cJSON *spec = cJSON_CreateObject();
    if (req == NULL || spec == NULL) {
        cJSON_Delete(req);
        cJSON_Delete(spec);
        ddb_buf_printf(rep, "history TTL: not enabled (out of memory)\n");
        return;
    }
    cJSON_AddStringToObject(req, "TableName", name);
    cJSON_AddBoolToObject(spec, "Enabled", 1);
    cJSON_AddStringToObject(spec, "AttributeName", H_TTL);
    cJSON_AddItemToObject(req, "TimeToLiveSpecification", spec);
    if (ddb_call(d, "UpdateTimeToLive", what, req, false, NULL, NULL, NULL, &err) != DLD_OK)
        ddb_buf_printf(rep, "history TTL: could not be enabled (%s); to enable it: %s\n", err.message, cmd);
    else
        ddb_buf_printf(rep, "history TTL: enabled on %s (items expire %" PRId64 " days after their last write)\n",
                       H_TTL, d->history_ttl_days);
}

int ddb_setup(void *inst, int32_t create, char **report, struct dld_error *err)
{
    struct ddb *d = inst;
    *report = NULL;
    struct ddb_buf rep = {0};
    ddb_buf_printf(&rep, "DynamoDB at %s, region %s\n", d->endpoint, d->region);
    struct dld_error terr;
    dld_error_init(&terr);
    int worst = DLD_OK;
    const char *roles[] = {"controller", "history"};
    const char *names[] = {d->table, d->history_table};
    bool history_ok = false;
    for (int i = 0; i < 2; i++) {
        dld_error_init(&terr);
        int rc = s_table(d, roles[i], names[i], i == 1, create != 0, &rep, &terr);
        if (rc == DLD_OK && i == 1)
            history_ok = true;
        if (rc != DLD_OK && rc != DLD_ERR_NOT_FOUND && rc != DLD_ERR_CONFIG) {
            /* the call itself failed (credentials, network): stop here */
            ddb_buf_free(&rep);
            dld_struct_copy(err, err->struct_size, &terr);
            return rc;
        }
        if (rc == DLD_ERR_CONFIG)
            worst = DLD_ERR_CONFIG;
        else if (rc == DLD_ERR_NOT_FOUND && worst == DLD_OK)
            worst = DLD_ERR_NOT_FOUND;
    }
    if (history_ok)
        s_ttl(d, create != 0, &rep);
    if (rep.failed) {
        ddb_buf_free(&rep);
        return ddb_oom(err);
    }
    *report = dld_host_strdup(d->host, rep.data);
    ddb_buf_free(&rep);
    if (*report == NULL)
        return ddb_oom(err);
    if (worst == DLD_ERR_CONFIG)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: a table exists with the wrong keys (see the report)", DDB_NAME);
    if (worst == DLD_ERR_NOT_FOUND)
        return dld_error_set(err, DLD_ERR_NOT_FOUND, "%s: tables are missing; `deltaload state init` creates them",
                             DDB_NAME);
    return DLD_OK;
}

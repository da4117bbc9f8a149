/* state-dynamodb: controller items, leases with fencing tokens and
 * watermarks in a DynamoDB controller table that the replaced AWS tooling
 * (etlConfiguration, partition key targetTableName, every attribute a
 * string) reads and writes too; the run history in a second table
 * (ddb_runs.c); `state init` in ddb_setup.c. Safe for many processes on
 * many machines (DLD_CAP_SHARED_STATE): every change of shared state is one
 * conditional write. The data model: docs/plugins/state-dynamodb.md. */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddb_internal.h"

/* Attributes the core interprets, in the order item_get prints them.
 * Absent from an item_put they are removed (the caller's item wins, as in
 * state-sqlite); every other attribute is kept unless it is given. */
static const char *const s_known[] = {"sourceTable", "sourceSchema", "filtercolumn", "filteroperator", "startvalue",
                                      "endvalue",    "activeflag",   "ouputs3Prefix", "outputPrefix",  "lag",
                                      NULL};

/* ---- open / close ------------------------------------------------------------------- */

static void s_free(struct ddb *d)
{
    if (d == NULL)
        return;
    dld_aws_client_destroy(d->client);
    dld_aws_credentials_provider_destroy(d->creds);
    free(d->table);
    free(d->history_table);
    free(d->region);
    free(d->endpoint);
    free(d);
}

static bool s_valid_table_name(const char *n)
{
    size_t len = strlen(n);
    if (len < 3 || len > 255)
        return false;
    for (const char *p = n; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
            return false;
    return true;
}

static int s_open(const struct dld_host *host, const char *const *options, void **inst, struct dld_error *err)
{
    *inst = NULL;
    if (!dld_host_usable(host))
        return dld_error_set(err, DLD_ERR_FATAL, "%s: the host function table is incomplete", DDB_NAME);
    struct ddb *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return ddb_oom(err);
    d->host = host;
    int rc = DLD_OK;
    const char *table = dld_opt_get(options, "table");
    const char *history = dld_opt_get(options, "history_table");
    const char *profile = dld_opt_get(options, "profile");
    const char *endpoint_opt = dld_opt_get(options, "endpoint");
    d->table = strdup(table ? table : "etlConfiguration");
    d->history_table = strdup(history ? history : "etlConfigurationHistory");
    d->scan_page_size = dld_opt_int(options, "scan_page_size", 0);
    d->history_ttl_days = dld_opt_int(options, "history_ttl_days", 400);
    d->consistent_read = dld_opt_bool(options, "consistent_read", true);
    int64_t attempts = dld_opt_int(options, "max_attempts", 5);
    d->retry_base_delay_ms = dld_opt_int(options, "retry_base_delay_ms", 100);
    if (d->table == NULL || d->history_table == NULL) {
        rc = ddb_oom(err);
        goto done;
    }
    if (!s_valid_table_name(d->table) || !s_valid_table_name(d->history_table)) {
        rc = dld_error_set(err, DLD_ERR_CONFIG,
                           "%s: table names are 3 to 255 characters of a-z A-Z 0-9 _ - . ('%s', '%s')", DDB_NAME,
                           d->table, d->history_table);
        goto done;
    }
    if (!strcmp(d->table, d->history_table)) {
        rc = dld_error_set(err, DLD_ERR_CONFIG, "%s: table and history_table must differ (both '%s')", DDB_NAME,
                           d->table);
        goto done;
    }
    if (d->scan_page_size < 0 || d->history_ttl_days < 0 || attempts < 1 || attempts > 100 ||
        d->retry_base_delay_ms < 1) {
        rc = dld_error_set(err, DLD_ERR_CONFIG,
                           "%s: scan_page_size and history_ttl_days must be >= 0, max_attempts 1 to 100, "
                           "retry_base_delay_ms >= 1",
                           DDB_NAME);
        goto done;
    }
    d->max_attempts = (int)attempts;
    rc = dld_aws_region_resolve(dld_opt_get(options, "region"), profile, &d->region, err);
    if (rc == DLD_ERR_CONFIG && endpoint_opt) {
        /* a local stand-in: any region signs */
        d->region = strdup("us-east-1");
        rc = d->region ? DLD_OK : ddb_oom(err);
    }
    if (rc)
        goto done;
    if ((rc = dld_aws_endpoint_resolve("DynamoDB", "dynamodb", endpoint_opt, d->region, profile, &d->endpoint, err)))
        goto done;
    struct dld_aws_credentials_options co = {
        .profile = profile, .access_key_id = dld_opt_get(options, "access_key_id"),
        .secret_access_key = dld_opt_get(options, "secret_access_key"),
        .session_token = dld_opt_get(options, "session_token"), .region = d->region, .host = host,
    };
    d->creds = dld_aws_credentials_provider_new(&co, err);
    if (d->creds == NULL) {
        rc = err->code ? err->code : DLD_ERR_FATAL;
        goto done;
    }
    struct dld_aws_client_options cl = {
        .service = "dynamodb", .region = d->region, .endpoint = d->endpoint, .credentials = d->creds,
        .http_options = {.ca_bundle = dld_opt_get(options, "ca_bundle"),
                         .no_verify_tls = !dld_opt_bool(options, "verify_tls", true),
                         .connect_timeout_ms = dld_opt_int(options, "connect_timeout_ms", 5000),
                         .timeout_ms = dld_opt_int(options, "request_timeout_ms", 30000)},
        .retry = {.max_attempts = d->max_attempts, .base_delay_ms = d->retry_base_delay_ms},
        .sign_flags = 0, .host = host, .log_name = "dynamodb",
    };
    d->client = dld_aws_client_new(&cl, err);
    if (d->client == NULL) {
        rc = err->code ? err->code : DLD_ERR_FATAL;
        goto done;
    }
    if (cl.http_options.no_verify_tls)
        dld_log(host, DLD_LOG_WARN, DDB_NAME, "verify_tls=false: TLS certificates are not checked");
    dld_log(host, DLD_LOG_DEBUG, DDB_NAME, "tables %s and %s at %s (region %s)", d->table, d->history_table,
            d->endpoint, d->region);
done:
    if (rc) {
        dld_error_prefix(err, "%s", DDB_NAME);
        s_free(d);
        return rc;
    }
    *inst = d;
    return DLD_OK;
}

static void s_close(void *inst)
{
    s_free(inst);
}

/* ---- reading the controller item ---------------------------------------------------- */

int ddb_get_item(struct ddb *d, const char *name, bool consistent, cJSON **item, struct dld_error *err)
{
    *item = NULL;
    cJSON *req = cJSON_CreateObject();
    if (req == NULL)
        return ddb_oom(err);
    cJSON_AddStringToObject(req, "TableName", d->table);
    cJSON_AddItemToObject(req, "Key", ddb_key(name));
    cJSON_AddBoolToObject(req, "ConsistentRead", consistent);
    cJSON *out = NULL;
    char what[300];
    snprintf(what, sizeof what, "'%s'", d->table);
    int rc = ddb_call(d, "GetItem", what, req, true, &out, NULL, NULL, err);
    if (rc)
        return rc;
    cJSON *it = cJSON_DetachItemFromObjectCaseSensitive(out, "Item");
    cJSON_Delete(out);
    if (cJSON_IsObject(it))
        *item = it;
    else
        cJSON_Delete(it);
    return DLD_OK;
}

/* ---- controller items ---------------------------------------------------------------- */

static bool s_is_typed_value(const cJSON *v)
{
    static const char *const types[] = {"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS", NULL};
    if (!cJSON_IsObject(v) || v->child == NULL || v->child->next != NULL)
        return false;
    for (int i = 0; types[i]; i++)
        if (!strcmp(v->child->string, types[i]))
            return true;
    return false;
}

/* An item_put value as a DynamoDB attribute value; NULL value_out = remove. */
static int s_put_value(const char *name, const cJSON *a, cJSON **value_out, struct dld_error *err)
{
    *value_out = NULL;
    if (cJSON_IsNull(a))
        return DLD_OK;
    if (cJSON_IsString(a)) {
        *value_out = ddb_s(a->valuestring);
    } else if (cJSON_IsNumber(a)) {
        /* stored as a string, like every attribute of the controller table */
        char text[64];
        if (a->valuedouble == floor(a->valuedouble) && fabs(a->valuedouble) < 9.007199254740992e15)
            snprintf(text, sizeof text, "%lld", (long long)a->valuedouble);
        else
            snprintf(text, sizeof text, "%.17g", a->valuedouble);
        *value_out = ddb_s(text);
    } else if (cJSON_IsBool(a)) {
        *value_out = cJSON_CreateObject();
        if (*value_out)
            cJSON_AddBoolToObject(*value_out, "BOOL", cJSON_IsTrue(a));
    } else if (s_is_typed_value(a)) {
        /* a non-string attribute as item_get shows it ({"N": "5"}): written back as it was */
        *value_out = cJSON_Duplicate(a, 1);
    } else {
        return dld_error_set(err, DLD_ERR_CONFIG,
                             "%s: item '%s': attribute %s must be a string (or a number, kept as its text)", DDB_NAME,
                             name, a->string);
    }
    return *value_out ? DLD_OK : ddb_oom(err);
}

static int s_item_put(void *inst, const char *name, const char *item_json, struct dld_error *err)
{
    struct ddb *d = inst;
    if (name == NULL || name[0] == '\0' || item_json == NULL)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: item_put needs a name and the item's JSON", DDB_NAME);
    cJSON *obj = cJSON_Parse(item_json);
    if (!cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: item '%s' is not a JSON object", DDB_NAME, name);
    }
    int rc = DLD_OK;
    struct ddb_expr e;
    ddb_expr_init(&e);
    for (const cJSON *a = obj->child; a && rc == DLD_OK; a = a->next) {
        if (!strcmp(a->string, DDB_KEY)) {
            if (!cJSON_IsString(a) || strcmp(a->valuestring, name) != 0)
                rc = dld_error_set(err, DLD_ERR_CONFIG, "%s: item '%s' carries another targetTableName", DDB_NAME,
                                   name);
            continue;
        }
        if (!strncmp(a->string, DDB_PREFIX, strlen(DDB_PREFIX))) {
            rc = dld_error_set(err, DLD_ERR_CONFIG,
                               "%s: item '%s': attribute names starting with %s are the store's own bookkeeping (%s)",
                               DDB_NAME, name, DDB_PREFIX, a->string);
            continue;
        }
        cJSON *v;
        if ((rc = s_put_value(name, a, &v, err)) == DLD_OK)
            ddb_x_set_user(&e, a->string, v);
    }
    for (int i = 0; s_known[i] && rc == DLD_OK; i++)
        if (!cJSON_HasObjectItem(obj, s_known[i]))
            ddb_x_set_user(&e, s_known[i], NULL);
    cJSON_Delete(obj);
    cJSON *req = rc == DLD_OK ? cJSON_CreateObject() : NULL;
    if (rc == DLD_OK && req == NULL)
        rc = ddb_oom(err);
    if (rc == DLD_OK) {
        cJSON_AddStringToObject(req, "TableName", d->table);
        cJSON_AddItemToObject(req, "Key", ddb_key(name));
        rc = ddb_x_apply(&e, req, err);
    }
    ddb_expr_free(&e);
    if (rc != DLD_OK) {
        cJSON_Delete(req);
        return rc;
    }
    char what[300];
    snprintf(what, sizeof what, "'%s'", d->table);
    /* a merge: attributes not named are untouched (unknown ones, and the
     * lease, watermark and last-run bookkeeping) */
    return ddb_call(d, "UpdateItem", what, req, true, NULL, NULL, NULL, err);
}

/* The item as the core sees it: the controller attributes (strings as
 * strings, any other type as its DynamoDB JSON, which the core's item
 * parser refuses by attribute name), without the dld_ bookkeeping. */
static cJSON *s_item_view(const cJSON *item)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    const char *order[16];
    size_t n = 0;
    order[n++] = DDB_KEY;
    for (int i = 0; s_known[i] && n < 15; i++)
        order[n++] = s_known[i];
    /* the known ones first, in the usual order; then the rest by name */
    size_t nrest = 0, cap = (size_t)cJSON_GetArraySize(item) + 1;
    const cJSON **rest = malloc(cap * sizeof(*rest));
    if (rest == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, order[i]);
        if (v == NULL)
            continue;
        const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "S"));
        cJSON_AddItemToObject(o, order[i], s && cJSON_GetArraySize(v) == 1 ? cJSON_CreateString(s)
                                                                          : cJSON_Duplicate(v, 1));
    }
    for (const cJSON *a = item->child; a; a = a->next) {
        bool listed = false;
        for (size_t i = 0; i < n && !listed; i++)
            listed = !strcmp(a->string, order[i]);
        if (listed || !strncmp(a->string, DDB_PREFIX, strlen(DDB_PREFIX)))
            continue;
        if (nrest < cap)
            rest[nrest++] = a;
    }
    for (size_t i = 1; i < nrest; i++) /* insertion sort: items have few attributes */
        for (size_t j = i; j > 0 && strcmp(rest[j - 1]->string, rest[j]->string) > 0; j--) {
            const cJSON *t = rest[j];
            rest[j] = rest[j - 1];
            rest[j - 1] = t;
        }
    for (size_t i = 0; i < nrest; i++) {
        const cJSON *v = rest[i];
        const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "S"));
        cJSON_AddItemToObject(o, v->string, s && cJSON_GetArraySize(v) == 1 ? cJSON_CreateString(s)
                                                                           : cJSON_Duplicate(v, 1));
    }
    free(rest);
    return o;
}

static int s_print_to_host(struct ddb *d, const cJSON *o, char **out, struct dld_error *err)
{
    char *text = cJSON_PrintUnformatted(o);
    *out = text ? dld_host_strdup(d->host, text) : NULL;
    cJSON_free(text);
    return *out ? DLD_OK : ddb_oom(err);
}

static int s_item_get(void *inst, const char *name, char **item_json, struct dld_error *err)
{
    struct ddb *d = inst;
    *item_json = NULL;
    cJSON *item;
    int rc = ddb_get_item(d, name, d->consistent_read, &item, err);
    if (rc)
        return rc;
    if (item == NULL)
        return dld_error_set(err, DLD_ERR_NOT_FOUND, "%s: no item named '%s' in table '%s'", DDB_NAME, name,
                             d->table);
    cJSON *view = s_item_view(item);
    cJSON_Delete(item);
    rc = view ? s_print_to_host(d, view, item_json, err) : ddb_oom(err);
    cJSON_Delete(view);
    return rc;
}

static int s_by_name(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    const char *nx = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, DDB_KEY));
    const char *ny = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(y, DDB_KEY));
    return strcmp(nx ? nx : "", ny ? ny : "");
}

/* Every item: Scan, page by page (LastEvaluatedKey), never only the first. */
static int s_item_list(void *inst, char **items_json, struct dld_error *err)
{
    struct ddb *d = inst;
    *items_json = NULL;
    cJSON **views = NULL;
    size_t n = 0, cap = 0;
    cJSON *start = NULL;
    int rc = DLD_OK, pages = 0;
    char what[300];
    snprintf(what, sizeof what, "'%s'", d->table);
    do {
        cJSON *req = cJSON_CreateObject();
        if (req == NULL) {
            rc = ddb_oom(err);
            break;
        }
        cJSON_AddStringToObject(req, "TableName", d->table);
        cJSON_AddBoolToObject(req, "ConsistentRead", d->consistent_read);
        if (d->scan_page_size > 0)
            cJSON_AddNumberToObject(req, "Limit", (double)d->scan_page_size);
        if (start != NULL)
            cJSON_AddItemToObject(req, "ExclusiveStartKey", start);
        start = NULL;
        cJSON *out = NULL;
        if ((rc = ddb_call(d, "Scan", what, req, true, &out, NULL, NULL, err)))
            break;
        pages++;
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(out, "Items");
        for (const cJSON *it = items ? items->child : NULL; it && rc == DLD_OK; it = it->next) {
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 64;
                cJSON **p = realloc(views, ncap * sizeof(*p));
                if (p == NULL) {
                    rc = ddb_oom(err);
                    break;
                }
                views = p;
                cap = ncap;
            }
            if ((views[n] = s_item_view(it)) == NULL)
                rc = ddb_oom(err);
            else
                n++;
        }
        start = cJSON_DetachItemFromObjectCaseSensitive(out, "LastEvaluatedKey");
        cJSON_Delete(out);
    } while (rc == DLD_OK && start != NULL);
    cJSON_Delete(start);
    if (rc == DLD_OK) {
        if (n > 1)
            qsort(views, n, sizeof(*views), s_by_name);
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; arr && i < n; i++) {
            cJSON_AddItemToArray(arr, views[i]);
            views[i] = NULL;
        }
        rc = arr ? s_print_to_host(d, arr, items_json, err) : ddb_oom(err);
        cJSON_Delete(arr);
        dld_log(d->host, DLD_LOG_DEBUG, DDB_NAME, "%zu item(s) in %d scan page(s) of '%s'", n, pages, d->table);
    }
    for (size_t i = 0; i < n; i++)
        cJSON_Delete(views[i]);
    free(views);
    return rc;
}

static int s_item_delete(void *inst, const char *name, struct dld_error *err)
{
    struct ddb *d = inst;
    cJSON *req = cJSON_CreateObject();
    if (req == NULL)
        return ddb_oom(err);
    struct ddb_expr e;
    ddb_expr_init(&e);
    ddb_x_name(&e, DDB_KEY);
    ddb_x_cond(&e, "attribute_exists(#%s)", DDB_KEY);
    cJSON_AddStringToObject(req, "TableName", d->table);
    cJSON_AddItemToObject(req, "Key", ddb_key(name));
    int rc = ddb_x_apply(&e, req, err);
    ddb_expr_free(&e);
    if (rc) {
        cJSON_Delete(req);
        return rc;
    }
    char what[300];
    snprintf(what, sizeof what, "'%s'", d->table);
    bool retried;
    rc = ddb_call(d, "DeleteItem", what, req, true, NULL, NULL, &retried, err);
    if (rc == DLD_ERR_CONFLICT && retried)
        return DLD_OK; /* an earlier attempt deleted it; its answer was lost */
    if (rc == DLD_ERR_CONFLICT)
        return dld_error_set(err, DLD_ERR_NOT_FOUND, "%s: no item named '%s' in table '%s'", DDB_NAME, name,
                             d->table);
    return rc;
}

/* ---- leases ------------------------------------------------------------------------------
 * On the controller item: dld_lease_owner, dld_lease_token and
 * dld_lease_expires_ms (the holder's clock + ttl). Taking a lease is a
 * compare-and-swap on exactly what was read (token, expiry, owner), so of
 * several processes that saw the same free or expired lease one wins. */

static bool s_parse_i64(const char *s, int64_t *out)
{
    if (s == NULL || *s == '\0')
        return false;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end)
        return false;
    *out = (int64_t)v;
    return true;
}

static void s_warn_skew(struct ddb *d, int64_t ttl_ms)
{
    if (!d->skew_known || d->skew_warned)
        return;
    int64_t skew = d->skew_ms < 0 ? -d->skew_ms : d->skew_ms;
    /* 1 s of resolution in the Date header; a third of the TTL is what a
     * renewing holder keeps in hand (docs: the clock-skew assumption) */
    if (skew > 1500 && skew > ttl_ms / 3) {
        d->skew_warned = true;
        dld_log(d->host, DLD_LOG_WARN, DDB_NAME,
                "this machine's clock is about %" PRId64 " ms %s DynamoDB's; leases compare expiry times written by "
                "other machines with this clock and assume skew well below a third of the lease TTL (%" PRId64
                " ms): synchronise the clock (NTP)",
                skew, d->skew_ms < 0 ? "ahead of" : "behind", ttl_ms);
    }
}

/* "leased by X until T (in N ms)" for an unexpired lease; NULL otherwise */
static bool s_leased(const cJSON *item, int64_t now, const char *owner, const char *table, struct dld_error *err)
{
    const char *holder = ddb_get_s(item, A_LEASE_OWNER);
    int64_t expires;
    if (holder == NULL || !s_parse_i64(ddb_get_s(item, A_LEASE_EXPIRES), &expires) || expires < now)
        return false;
    char when[48];
    ddb_format_ms(expires, when, sizeof when);
    /* An unexpired lease is refused to everyone, its own owner included:
     * an owner never retakes a lease it does not remember holding. */
    dld_error_set(err, DLD_ERR_CONFLICT, "%s: table '%s' is leased by '%s'%s until %s (in %" PRId64 " ms)", DDB_NAME,
                  table, holder, owner && !strcmp(holder, owner) ? " (this process)" : "", when, expires - now);
    return true;
}

static int s_lease_acquire(void *inst, const char *table, const char *owner, int64_t ttl_ms, int64_t *token,
                           struct dld_error *err)
{
    struct ddb *d = inst;
    *token = 0;
    if (table == NULL || owner == NULL || ttl_ms <= 0)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: lease_acquire needs a table, an owner and a ttl > 0", DDB_NAME);
    cJSON *item;
    int rc = ddb_get_item(d, table, true, &item, err);
    if (rc)
        return rc;
    if (item == NULL)
        return dld_error_set(err, DLD_ERR_NOT_FOUND,
                             "%s: no controller item named '%s' in table '%s' (a table's lease lives on its item)",
                             DDB_NAME, table, d->table);
    s_warn_skew(d, ttl_ms);
    int64_t now = d->host->now_ms();
    if (s_leased(item, now, owner, table, err)) {
        cJSON_Delete(item);
        return DLD_ERR_CONFLICT;
    }
    const char *old_owner = ddb_get_s(item, A_LEASE_OWNER);
    const char *old_token = ddb_get_s(item, A_LEASE_TOKEN);
    const char *old_expires = ddb_get_s(item, A_LEASE_EXPIRES);
    int64_t prev = 0, next;
    /* The first token of an item is the clock in ms, later ones count up:
     * an item deleted and created again never repeats a token. */
    if (s_parse_i64(old_token, &prev) && prev > 0)
        next = prev + 1;
    else
        next = now > 1 ? now : 1;
    if (old_owner != NULL && old_expires != NULL && strcmp(old_owner, owner) != 0) {
        int64_t exp = 0;
        char when[48];
        s_parse_i64(old_expires, &exp);
        ddb_format_ms(exp, when, sizeof when);
        dld_log(d->host, DLD_LOG_INFO, DDB_NAME,
                "taking over table '%s': the lease of '%s' (token %s) expired at %s", table, old_owner,
                old_token ? old_token : "?", when);
    }
    char next_text[32], exp_text[32];
    snprintf(next_text, sizeof next_text, "%" PRId64, next);
    ddb_expiry_text(now + ttl_ms, exp_text);

    struct ddb_expr e;
    ddb_expr_init(&e);
    ddb_x_set_s(&e, A_LEASE_OWNER, owner);
    ddb_x_set_s(&e, A_LEASE_TOKEN, next_text);
    ddb_x_set_s(&e, A_LEASE_EXPIRES, exp_text);
    ddb_x_name(&e, DDB_KEY);
    ddb_x_cond(&e, "attribute_exists(#%s)", DDB_KEY);
    /* compare-and-swap on what was read */
    const char *const attrs[] = {A_LEASE_TOKEN, A_LEASE_EXPIRES, A_LEASE_OWNER};
    const char *const olds[] = {old_token, old_expires, old_owner};
    const char *const phs[] = {":old_token", ":old_expires", ":old_owner"};
    for (int i = 0; i < 3; i++) {
        if (olds[i] != NULL) {
            ddb_x_value(&e, phs[i], ddb_s(olds[i]));
            ddb_x_cond(&e, "#%s = %s", attrs[i], phs[i]);
        } else {
            ddb_x_cond(&e, "attribute_not_exists(#%s)", attrs[i]);
        }
    }
    cJSON_Delete(item);
    cJSON *req = cJSON_CreateObject();
    if (req == NULL) {
        ddb_expr_free(&e);
        return ddb_oom(err);
    }
    cJSON_AddStringToObject(req, "TableName", d->table);
    cJSON_AddItemToObject(req, "Key", ddb_key(table));
    rc = ddb_x_apply(&e, req, err);
    ddb_expr_free(&e);
    if (rc) {
        cJSON_Delete(req);
        return rc;
    }
    char what[300];
    snprintf(what, sizeof what, "'%s'", d->table);
    cJSON *failure = NULL;
    rc = ddb_call(d, "UpdateItem", what, req, true, NULL, &failure, NULL, err);
    cJSON_Delete(failure);
    if (rc == DLD_ERR_CONFLICT) {
        /* someone else changed the lease between our read and our write, or
         * our own write took effect and its answer was lost */
        struct dld_error rerr;
        dld_error_init(&rerr);
        cJSON *now_item = NULL;
        if (ddb_get_item(d, table, true, &now_item, &rerr) == DLD_OK && now_item != NULL) {
            const char *o = ddb_get_s(now_item, A_LEASE_OWNER), *t = ddb_get_s(now_item, A_LEASE_TOKEN),
                       *x = ddb_get_s(now_item, A_LEASE_EXPIRES);
            /* exactly what we wrote (the owner is unique to this process, the
             * expiry to the millisecond): our write took effect and was sent
             * again (by the client's retry, or by libcurl itself, which
             * resends a request whose reused connection died unanswered) */
            if (o && t && x && !strcmp(o, owner) && !strcmp(t, next_text) && !strcmp(x, exp_text)) {
                cJSON_Delete(now_item);
                *token = next;
                return DLD_OK;
            }
            if (!s_leased(now_item, d->host->now_ms(), owner, table, err))
                dld_error_set(err, DLD_ERR_CONFLICT, "%s: the lease of table '%s' changed while it was being taken",
                              DDB_NAME, table);
        } else {
            dld_error_set(err, DLD_ERR_CONFLICT, "%s: the lease of table '%s' changed while it was being taken%s",
                          DDB_NAME, table, now_item == NULL && rerr.code == 0 ? " (its item was deleted)" : "");
        }
        cJSON_Delete(now_item);
        return DLD_ERR_CONFLICT;
    }
    if (rc)
        return rc;
    *token = next;
    return DLD_OK;
}

/* Why a write conditioned on `token` lost, in state-sqlite's words.
 * expired_counts: an expired lease is lost too (fenced writes; renew and
 * release accept a lease nobody took over). */
static int s_explain(struct ddb *d, const char *table, int64_t token, const cJSON *item, bool expired_counts,
                     struct dld_error *err)
{
    if (item == NULL)
        return dld_error_set(err, DLD_ERR_CONFLICT,
                             "%s: controller item '%s' no longer exists in table '%s': token %" PRId64 " is void",
                             DDB_NAME, table, d->table, token);
    const char *owner = ddb_get_s(item, A_LEASE_OWNER);
    int64_t current = 0, expires = 0;
    bool has_token = s_parse_i64(ddb_get_s(item, A_LEASE_TOKEN), &current);
    s_parse_i64(ddb_get_s(item, A_LEASE_EXPIRES), &expires);
    if (!has_token)
        return dld_error_set(err, DLD_ERR_CONFLICT,
                             "%s: table '%s' has no lease: token %" PRId64 " was released or never acquired", DDB_NAME,
                             table, token);
    if (current != token && owner != NULL)
        return dld_error_set(err, DLD_ERR_CONFLICT,
                             "%s: lease of table '%s' was taken over: token %" PRId64 " is stale, '%s' holds token %" PRId64,
                             DDB_NAME, table, token, owner, current);
    if (current != token)
        return dld_error_set(err, DLD_ERR_CONFLICT,
                             "%s: lease of table '%s' was taken over: token %" PRId64 " is stale (token %" PRId64
                             " was taken since, and released)",
                             DDB_NAME, table, token, current);
    if (owner == NULL)
        return dld_error_set(err, DLD_ERR_CONFLICT, "%s: table '%s' has no lease: token %" PRId64 " was released",
                             DDB_NAME, table, token);
    if (expired_counts && expires < d->host->now_ms()) {
        char when[48];
        ddb_format_ms(expires, when, sizeof when);
        return dld_error_set(err, DLD_ERR_CONFLICT, "%s: lease of table '%s' (token %" PRId64 ") expired at %s",
                             DDB_NAME, table, token, when);
    }
    return dld_error_set(err, DLD_ERR_CONFLICT,
                         "%s: lease of table '%s' (token %" PRId64 ") changed while writing; its write was refused",
                         DDB_NAME, table, token);
}

int ddb_fence_lost(struct ddb *d, const char *table, int64_t token, const cJSON *old_item, struct dld_error *err)
{
    if (old_item != NULL)
        return s_explain(d, table, token, old_item, true, err);
    cJSON *item = NULL;
    int rc = ddb_get_item(d, table, true, &item, err);
    if (rc)
        return rc;
    rc = s_explain(d, table, token, item, true, err);
    cJSON_Delete(item);
    return rc;
}

void ddb_fence(struct ddb *d, struct ddb_expr *e, int64_t token)
{
    char tok[32], now[32];
    snprintf(tok, sizeof tok, "%" PRId64, token);
    ddb_expiry_text(d->host->now_ms(), now);
    ddb_x_name(e, A_LEASE_TOKEN);
    ddb_x_name(e, A_LEASE_OWNER);
    ddb_x_name(e, A_LEASE_EXPIRES);
    ddb_x_value(e, ":fence_token", ddb_s(tok));
    ddb_x_value(e, ":fence_now", ddb_s(now));
    ddb_x_cond(e, "#%s = :fence_token AND attribute_exists(#%s) AND #%s >= :fence_now", A_LEASE_TOKEN, A_LEASE_OWNER,
               A_LEASE_EXPIRES);
}

/* state.h: ends the lease now when the host says its holder is dead. One
 * conditional UpdateItem on exactly the owner and token that were judged, so
 * a lease taken (or renewed by a new holder) meanwhile is untouched. */
static int s_lease_break(void *inst, const char *table, int (*dead)(void *ctx, const char *owner), void *ctx,
                         struct dld_error *err)
{
    struct ddb *d = inst;
    if (table == NULL || dead == NULL)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: lease_break needs a table and a test", DDB_NAME);
    cJSON *item;
    int rc = ddb_get_item(d, table, true, &item, err);
    if (rc)
        return rc;
    const char *owner = item ? ddb_get_s(item, A_LEASE_OWNER) : NULL;
    const char *token = item ? ddb_get_s(item, A_LEASE_TOKEN) : NULL;
    if (owner == NULL || token == NULL) {
        cJSON_Delete(item);
        return dld_error_set(err, DLD_ERR_CONFLICT, "%s: table '%s' has no lease", DDB_NAME, table);
    }
    if (!dead(ctx, owner)) {
        dld_error_set(err, DLD_ERR_CONFLICT, "%s: the holder of table '%s' ('%s') is alive or cannot be told", DDB_NAME,
                      table, owner);
        cJSON_Delete(item);
        return DLD_ERR_CONFLICT;
    }
    char exp_text[32];
    ddb_expiry_text(d->host->now_ms() - 1, exp_text);
    struct ddb_expr e;
    ddb_expr_init(&e);
    ddb_x_set_s(&e, A_LEASE_EXPIRES, exp_text);
    ddb_x_name(&e, A_LEASE_OWNER);
    ddb_x_name(&e, A_LEASE_TOKEN);
    ddb_x_value(&e, ":old_owner", ddb_s(owner));
    ddb_x_value(&e, ":old_token", ddb_s(token));
    ddb_x_cond(&e, "#%s = :old_owner", A_LEASE_OWNER);
    ddb_x_cond(&e, "#%s = :old_token", A_LEASE_TOKEN);
    cJSON *req = cJSON_CreateObject();
    if (req == NULL) {
        ddb_expr_free(&e);
        cJSON_Delete(item);
        return ddb_oom(err);
    }
    cJSON_AddStringToObject(req, "TableName", d->table);
    cJSON_AddItemToObject(req, "Key", ddb_key(table));
    rc = ddb_x_apply(&e, req, err);
    ddb_expr_free(&e);
    if (rc == DLD_OK) {
        char what[300];
        snprintf(what, sizeof what, "'%s'", d->table);
        cJSON *failure = NULL;
        rc = ddb_call(d, "UpdateItem", what, req, true, NULL, &failure, NULL, err);
        cJSON_Delete(failure);
        if (rc == DLD_ERR_CONFLICT)
            dld_error_set(err, DLD_ERR_CONFLICT, "%s: the lease of table '%s' changed while it was being ended",
                          DDB_NAME, table);
        else if (rc == DLD_OK)
            dld_log(d->host, DLD_LOG_INFO, DDB_NAME,
                    "table '%s': lease of '%s' (token %s) ended, its holder is no longer running", table, owner, token);
    } else {
        cJSON_Delete(req);
    }
    cJSON_Delete(item);
    return rc;
}

/* One conditional UpdateItem of the lease; `release` removes owner and
 * expiry, else the expiry moves to now + ttl. The token alone proves nobody
 * took the lease over (a takeover always takes a new token), so an expired
 * lease nobody took may still be renewed or released, as in state-sqlite. */
static int s_lease_update(struct ddb *d, const char *table, int64_t token, int64_t ttl_ms, bool release,
                          struct dld_error *err)
{
    char tok[32], exp[32];
    snprintf(tok, sizeof tok, "%" PRId64, token);
    struct ddb_expr e;
    ddb_expr_init(&e);
    if (release) {
        ddb_x_set(&e, A_LEASE_OWNER, NULL);
        ddb_x_set(&e, A_LEASE_EXPIRES, NULL);
    } else {
        ddb_expiry_text(d->host->now_ms() + ttl_ms, exp);
        ddb_x_set_s(&e, A_LEASE_EXPIRES, exp);
    }
    ddb_x_name(&e, A_LEASE_TOKEN);
    ddb_x_name(&e, A_LEASE_OWNER);
    ddb_x_value(&e, ":token", ddb_s(tok));
    ddb_x_cond(&e, "#%s = :token AND attribute_exists(#%s)", A_LEASE_TOKEN, A_LEASE_OWNER);
    cJSON *req = cJSON_CreateObject();
    if (req == NULL) {
        ddb_expr_free(&e);
        return ddb_oom(err);
    }
    cJSON_AddStringToObject(req, "TableName", d->table);
    cJSON_AddItemToObject(req, "Key", ddb_key(table));
    cJSON_AddStringToObject(req, "ReturnValuesOnConditionCheckFailure", "ALL_OLD");
    int rc = ddb_x_apply(&e, req, err);
    ddb_expr_free(&e);
    if (rc) {
        cJSON_Delete(req);
        return rc;
    }
    char what[300];
    snprintf(what, sizeof what, "'%s'", d->table);
    bool retried;
    cJSON *failure = NULL;
    rc = ddb_call(d, "UpdateItem", what, req, true, NULL, &failure, &retried, err);
    if (rc != DLD_ERR_CONFLICT) {
        cJSON_Delete(failure);
        return rc;
    }
    const cJSON *old = cJSON_GetObjectItemCaseSensitive(failure, "Item");
    cJSON *item = NULL;
    if (old == NULL || retried) {
        /* no item in the answer, or a retry: read what is there now */
        struct dld_error rerr;
        dld_error_init(&rerr);
        if ((rc = ddb_get_item(d, table, true, &item, &rerr)) != DLD_OK) {
            cJSON_Delete(failure);
            dld_struct_copy(err, err->struct_size, &rerr);
            return rc;
        }
        old = item;
    }
    int64_t current = 0;
    if (release && old != NULL && s_parse_i64(ddb_get_s(old, A_LEASE_TOKEN), &current) && current == token &&
        ddb_get_s(old, A_LEASE_OWNER) == NULL) {
        /* our token, released: only its holder releases it, so this was our
         * release, sent again after its answer was lost */
        rc = DLD_OK;
    } else {
        rc = s_explain(d, table, token, old, false, err);
    }
    cJSON_Delete(item);
    cJSON_Delete(failure);
    return rc;
}

static int s_lease_renew(void *inst, const char *table, int64_t token, int64_t ttl_ms, struct dld_error *err)
{
    if (table == NULL || ttl_ms <= 0)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: lease_renew needs a table and a ttl > 0", DDB_NAME);
    return s_lease_update(inst, table, token, ttl_ms, false, err);
}

static int s_lease_release(void *inst, const char *table, int64_t token, struct dld_error *err)
{
    if (table == NULL)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: lease_release needs a table", DDB_NAME);
    return s_lease_update(inst, table, token, 0, true, err);
}

/* ---- watermarks -------------------------------------------------------------------------- */

static int s_watermark_get(void *inst, const char *table, struct dld_watermark *host_out, struct dld_error *err)
{
    struct ddb *d = inst;
    struct dld_watermark wm = {.struct_size = sizeof(wm)};
    cJSON *item;
    /* always a consistent read: the commit compares it with the window's start */
    int rc = ddb_get_item(d, table, true, &item, err);
    if (rc == DLD_OK && item != NULL) {
        const char *v = ddb_get_s(item, A_WM);
        if (v != NULL) {
            ddb_get_int(item, A_WM_LOAD, &wm.load_id);
            ddb_get_int(item, A_WM_UPDATED, &wm.updated_ms);
            if ((wm.value = dld_host_strdup(d->host, v)) == NULL)
                rc = ddb_oom(err);
        }
    }
    cJSON_Delete(item);
    if (rc != DLD_OK)
        dld_watermark_clean_up(d->host, &wm);
    dld_watermark_put(d->host, host_out, &wm);
    return rc;
}

static int s_watermark_set(void *inst, const char *table, const char *value, int64_t token, struct dld_error *err)
{
    struct ddb *d = inst;
    if (table == NULL)
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: watermark_set needs a table", DDB_NAME);
    struct ddb_expr e;
    ddb_expr_init(&e);
    if (value != NULL) {
        char now[32];
        snprintf(now, sizeof now, "%" PRId64, d->host->now_ms());
        ddb_x_set_s(&e, A_WM, value);
        ddb_x_set_s(&e, A_WM_LOAD, "0"); /* set by an operator, not by a load */
        ddb_x_set_s(&e, A_WM_UPDATED, now);
        /* the replaced tooling reads its next lower bound here */
        ddb_x_set_s(&e, A_STARTVALUE, value);
    } else {
        /* cleared: the item's startvalue applies again (inclusive) */
        ddb_x_set(&e, A_WM, NULL);
        ddb_x_set(&e, A_WM_LOAD, NULL);
        ddb_x_set(&e, A_WM_UPDATED, NULL);
    }
    ddb_fence(d, &e, token);
    cJSON *req = cJSON_CreateObject();
    if (req == NULL) {
        ddb_expr_free(&e);
        return ddb_oom(err);
    }
    cJSON_AddStringToObject(req, "TableName", d->table);
    cJSON_AddItemToObject(req, "Key", ddb_key(table));
    cJSON_AddStringToObject(req, "ReturnValuesOnConditionCheckFailure", "ALL_OLD");
    int rc = ddb_x_apply(&e, req, err);
    ddb_expr_free(&e);
    if (rc) {
        cJSON_Delete(req);
        return rc;
    }
    char what[300];
    snprintf(what, sizeof what, "'%s'", d->table);
    bool retried;
    cJSON *failure = NULL;
    rc = ddb_call(d, "UpdateItem", what, req, true, NULL, &failure, &retried, err);
    if (rc == DLD_ERR_CONFLICT)
        rc = ddb_fence_lost(d, table, token, retried ? NULL : cJSON_GetObjectItemCaseSensitive(failure, "Item"), err);
    cJSON_Delete(failure);
    return rc;
}

/* ---- descriptor -------------------------------------------------------------------------- */

static const struct dld_state_vtable s_vtable = {
    .struct_size = sizeof(struct dld_state_vtable),
    .open = s_open,
    .close = s_close,
    .item_put = s_item_put,
    .item_get = s_item_get,
    .item_list = s_item_list,
    .item_delete = s_item_delete,
    .lease_acquire = s_lease_acquire,
    .lease_renew = s_lease_renew,
    .lease_release = s_lease_release,
    .watermark_get = s_watermark_get,
    .watermark_set = s_watermark_set,
    .run_record = ddb_run_record,
    .run_last = ddb_run_last,
    .run_commit = ddb_run_commit,
    .history = ddb_history,
    .runs_unfinished = ddb_runs_unfinished,
    .runs_history = ddb_runs_history,
    .setup = ddb_setup,
    .lease_break = s_lease_break,
};

static const struct dld_option s_options[] = {
    {"table", DLD_OPT_STRING, 0, "etlConfiguration", NULL,
     "Controller table: partition key targetTableName (S), one item per table to load, every attribute a string. "
     "Existing items of the replaced tooling are read as they are.",
     NULL},
    {"history_table", DLD_OPT_STRING, 0, "etlConfigurationHistory", NULL,
     "Run history table: partition key targetTableName (S), sort key load_id (N), one item per load attempt. "
     "`deltaload state init` creates both tables.",
     NULL},
    {"region", DLD_OPT_STRING, 0, NULL, NULL,
     "AWS region; default AWS_REGION, AWS_DEFAULT_REGION or the profile's region (us-east-1 when an endpoint is "
     "given and nothing else is).",
     NULL},
    {"endpoint", DLD_OPT_STRING, 0, NULL, NULL,
     "Endpoint URL for DynamoDB-compatible services or tests; default AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL, "
     "the profile's endpoint_url, else https://dynamodb.<region>.amazonaws.com.",
     NULL},
    {"profile", DLD_OPT_STRING, 0, NULL, NULL,
     "Profile of the shared AWS config/credentials files; default AWS_PROFILE or 'default'.", NULL},
    {"access_key_id", DLD_OPT_STRING, 0, NULL, NULL, "Static access key id (prefer the environment, a profile or a role).",
     NULL},
    {"secret_access_key", DLD_OPT_STRING, DLD_OPTF_SECRET, NULL, NULL, "Static secret access key.", NULL},
    {"session_token", DLD_OPT_STRING, DLD_OPTF_SECRET, NULL, NULL, "Session token for temporary static keys.", NULL},
    {"ca_bundle", DLD_OPT_STRING, 0, NULL, NULL, "CA bundle file for TLS verification (default: the system's).", NULL},
    {"verify_tls", DLD_OPT_BOOL, 0, "true", NULL, "Verify the server's TLS certificate. Leave on.", NULL},
    {"connect_timeout_ms", DLD_OPT_INT, 0, "5000", NULL, "Connection timeout.", NULL},
    {"request_timeout_ms", DLD_OPT_INT, 0, "30000", NULL, "Timeout of one request.", NULL},
    {"max_attempts", DLD_OPT_INT, 0, "5", NULL,
     "Attempts per request (retries with exponential backoff and full jitter on 5xx, throttling, timeouts and "
     "resets).",
     NULL},
    {"retry_base_delay_ms", DLD_OPT_INT, 0, "100", NULL, "Base of the exponential backoff.", NULL},
    {"scan_page_size", DLD_OPT_INT, 0, "0", NULL,
     "Items per Scan page when listing controller items (0: DynamoDB's own 1 MB pages). Every page is read.", NULL},
    {"history_ttl_days", DLD_OPT_INT, 0, "400", NULL,
     "Run history items carry expires_at (epoch seconds) this many days after their last write; enable TTL on "
     "that attribute (state init does) to have DynamoDB delete them. 0: no expiry.",
     NULL},
    {"consistent_read", DLD_OPT_BOOL, 0, "true", NULL,
     "Strongly consistent reads for listing items and history. Leases, watermarks and the runs recovery reads "
     "are always read consistently.",
     NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL},
};

static const struct dld_plugin s_plugin = {
    .struct_size = sizeof(struct dld_plugin),
    .abi_major = DLD_ABI_MAJOR,
    .abi_minor = DLD_ABI_MINOR,
    .kind = DLD_KIND_STATE,
    .capabilities = DLD_CAP_SHARED_STATE,
    .name = "dynamodb",
    .version = "0.1.0",
    .description = "Controller items (etlConfiguration-compatible), leases, watermarks and run history in DynamoDB, "
                   "for several machines at once",
    .options = s_options,
    .vtable = &s_vtable,
};

DLD_PLUGIN_DEFINE(state_dynamodb, s_plugin);

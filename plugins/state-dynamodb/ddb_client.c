/* state-dynamodb: DynamoDB calls over the SDK's AWS client (JSON protocol),
 * the mapping of DynamoDB's errors to dld codes, attribute values and
 * expression building. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* timegm, strptime */
#endif
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "ddb_internal.h"

/* ---- strings ------------------------------------------------------------------- */

static void s_buf_reserve(struct ddb_buf *b, size_t more)
{
    if (b->failed || b->len + more + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 128;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (p == NULL) {
        b->failed = true;
        return;
    }
    b->data = p;
    b->cap = cap;
}

void ddb_buf_puts(struct ddb_buf *b, const char *s)
{
    size_t n = strlen(s);
    s_buf_reserve(b, n);
    if (b->failed)
        return;
    memcpy(b->data + b->len, s, n + 1);
    b->len += n;
}

void ddb_buf_printf(struct ddb_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    s_buf_reserve(b, (size_t)n);
    if (b->failed)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void ddb_buf_free(struct ddb_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

void ddb_format_ms(int64_t ms, char *buf, size_t cap)
{
    time_t secs = (time_t)(ms / 1000);
    int frac = (int)(ms % 1000);
    if (frac < 0) {
        frac += 1000;
        secs -= 1;
    }
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL) {
        snprintf(buf, cap, "%" PRId64 " ms", ms);
        return;
    }
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

void ddb_expiry_text(int64_t ms, char buf[32])
{
    if (ms < 0)
        ms = 0;
    snprintf(buf, 32, "%015" PRId64, ms);
}

int ddb_oom(struct dld_error *err)
{
    return dld_error_set(err, DLD_ERR_FATAL, "%s: out of memory", DDB_NAME);
}

/* ---- attribute values ---------------------------------------------------------------- */

cJSON *ddb_s(const char *s)
{
    cJSON *o = cJSON_CreateObject();
    if (o != NULL)
        cJSON_AddStringToObject(o, "S", s);
    return o;
}

cJSON *ddb_n(int64_t v)
{
    char text[32];
    snprintf(text, sizeof text, "%" PRId64, v);
    cJSON *o = cJSON_CreateObject();
    if (o != NULL)
        cJSON_AddStringToObject(o, "N", text);
    return o;
}

cJSON *ddb_key(const char *name)
{
    cJSON *k = cJSON_CreateObject();
    if (k != NULL)
        cJSON_AddItemToObject(k, DDB_KEY, ddb_s(name));
    return k;
}

cJSON *ddb_run_key(const char *name, int64_t load_id)
{
    cJSON *k = ddb_key(name);
    if (k != NULL)
        cJSON_AddItemToObject(k, H_LOAD_ID, ddb_n(load_id));
    return k;
}

const char *ddb_get_s(const cJSON *item, const char *attr)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, attr);
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "S"));
}

bool ddb_get_int(const cJSON *item, const char *attr, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, attr);
    const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "N"));
    if (text == NULL)
        text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "S"));
    if (text == NULL || text[0] == '\0')
        return false;
    char *end;
    long long n = strtoll(text, &end, 10);
    if (*end != '\0')
        return false;
    *out = (int64_t)n;
    return true;
}

/* ---- expressions ------------------------------------------------------------------------ */

void ddb_expr_init(struct ddb_expr *e)
{
    memset(e, 0, sizeof(*e));
    e->names = cJSON_CreateObject();
    e->values = cJSON_CreateObject();
    if (e->names == NULL || e->values == NULL)
        e->cond.failed = true;
}

void ddb_expr_free(struct ddb_expr *e)
{
    cJSON_Delete(e->names);
    cJSON_Delete(e->values);
    ddb_buf_free(&e->set);
    ddb_buf_free(&e->remove);
    ddb_buf_free(&e->cond);
    memset(e, 0, sizeof(*e));
}

void ddb_x_name(struct ddb_expr *e, const char *attr)
{
    char ph[128];
    snprintf(ph, sizeof ph, "#%s", attr);
    if (e->names != NULL && !cJSON_HasObjectItem(e->names, ph) &&
        cJSON_AddStringToObject(e->names, ph, attr) == NULL)
        e->cond.failed = true;
}

void ddb_x_value(struct ddb_expr *e, const char *placeholder, cJSON *v)
{
    if (v == NULL || e->values == NULL) {
        cJSON_Delete(v);
        e->cond.failed = true;
        return;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(e->values, placeholder);
    cJSON_AddItemToObject(e->values, placeholder, v);
}

static void s_list_add(struct ddb_buf *b, const char *clause)
{
    if (b->len > 0)
        ddb_buf_puts(b, ", ");
    ddb_buf_puts(b, clause);
}

void ddb_x_set(struct ddb_expr *e, const char *attr, cJSON *v)
{
    char clause[300];
    ddb_x_name(e, attr);
    if (v == NULL) {
        snprintf(clause, sizeof clause, "#%s", attr);
        s_list_add(&e->remove, clause);
        return;
    }
    char ph[128];
    snprintf(ph, sizeof ph, ":%s", attr);
    ddb_x_value(e, ph, v);
    snprintf(clause, sizeof clause, "#%s = :%s", attr, attr);
    s_list_add(&e->set, clause);
}

void ddb_x_set_s(struct ddb_expr *e, const char *attr, const char *s)
{
    if (s == NULL) {
        ddb_x_set(e, attr, NULL);
        return;
    }
    cJSON *v = ddb_s(s);
    if (v == NULL)
        e->cond.failed = true;
    else
        ddb_x_set(e, attr, v);
}

void ddb_x_set_n(struct ddb_expr *e, const char *attr, int64_t n)
{
    cJSON *v = ddb_n(n);
    if (v == NULL)
        e->cond.failed = true;
    else
        ddb_x_set(e, attr, v);
}

void ddb_x_set_user(struct ddb_expr *e, const char *attr, cJSON *v)
{
    int i = e->nuser++;
    char name[32], value[32], clause[80];
    snprintf(name, sizeof name, "#u%d", i);
    snprintf(value, sizeof value, ":u%d", i);
    if (cJSON_AddStringToObject(e->names, name, attr) == NULL)
        e->cond.failed = true;
    if (v == NULL) {
        s_list_add(&e->remove, name);
        return;
    }
    ddb_x_value(e, value, v);
    snprintf(clause, sizeof clause, "%s = %s", name, value);
    s_list_add(&e->set, clause);
}

void ddb_x_set_raw(struct ddb_expr *e, const char *clause)
{
    s_list_add(&e->set, clause);
}

void ddb_x_cond(struct ddb_expr *e, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (e->cond.len > 0)
        ddb_buf_puts(&e->cond, " AND ");
    ddb_buf_puts(&e->cond, "(");
    ddb_buf_puts(&e->cond, text);
    ddb_buf_puts(&e->cond, ")");
}

int ddb_x_apply(struct ddb_expr *e, cJSON *req, struct dld_error *err)
{
    if (e->set.failed || e->remove.failed || e->cond.failed)
        return ddb_oom(err);
    if (e->set.len > 0 || e->remove.len > 0) {
        struct ddb_buf u = {0};
        if (e->set.len > 0) {
            ddb_buf_puts(&u, "SET ");
            ddb_buf_puts(&u, e->set.data);
        }
        if (e->remove.len > 0) {
            ddb_buf_puts(&u, u.len ? " REMOVE " : "REMOVE ");
            ddb_buf_puts(&u, e->remove.data);
        }
        if (u.failed || cJSON_AddStringToObject(req, "UpdateExpression", u.data) == NULL) {
            ddb_buf_free(&u);
            return ddb_oom(err);
        }
        ddb_buf_free(&u);
    }
    if (e->cond.len > 0 && cJSON_AddStringToObject(req, "ConditionExpression", e->cond.data) == NULL)
        return ddb_oom(err);
    if (e->names->child != NULL) {
        cJSON_AddItemToObject(req, "ExpressionAttributeNames", e->names);
        e->names = NULL;
    }
    if (e->values->child != NULL) {
        cJSON_AddItemToObject(req, "ExpressionAttributeValues", e->values);
        e->values = NULL;
    }
    return DLD_OK;
}

/* ---- calls ---------------------------------------------------------------------------------- */

/* The service's clock from its Date header ("Tue, 03 Jun 2025 10:00:00 GMT"). */
static void s_note_skew(struct ddb *d, const struct dld_aws_http_response *resp)
{
    const char *date = dld_aws_http_response_header(resp, "date");
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (date == NULL || strptime(date, "%a, %d %b %Y %H:%M:%S GMT", &tm) == NULL)
        return;
    int64_t server_ms = (int64_t)timegm(&tm) * 1000;
    int64_t local = d->host->now_ms();
    /* the header has whole seconds: the server's clock is in [t, t+1000) */
    int64_t skew = server_ms + 500 - local;
    d->skew_ms = skew;
    d->skew_known = true;
}

static void s_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)((ms % 1000) * 1000000)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static int64_t s_backoff_ms(const struct ddb *d, int attempt)
{
    int64_t ceiling = d->retry_base_delay_ms > 0 ? d->retry_base_delay_ms : 100;
    for (int i = 1; i < attempt && ceiling < 20000; i++)
        ceiling *= 2;
    if (ceiling > 20000)
        ceiling = 20000;
    uint64_t r = 0;
    if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
        r = (uint64_t)d->host->now_ms() * 2654435761u;
    return (int64_t)(r % (uint64_t)(ceiling + 1));
}

/* ClientRequestToken: the SDK client's own retries of one attempt send the
 * same body, so DynamoDB applies the transaction once even when an answer
 * was lost; a new attempt after a cancellation gets a new token. */
static int s_set_request_token(cJSON *body)
{
    unsigned char raw[16];
    char hex[33];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return -1;
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    cJSON_DeleteItemFromObjectCaseSensitive(body, "ClientRequestToken");
    return cJSON_AddStringToObject(body, "ClientRequestToken", hex) ? 0 : -1;
}

/* Cancellation reasons as "[None, ConditionalCheckFailed]". */
static void s_reasons_text(const cJSON *reasons, char *buf, size_t cap, bool *condition, bool *transient)
{
    *condition = false;
    *transient = true;
    size_t len = 0;
    buf[0] = '\0';
    len += (size_t)snprintf(buf + len, cap - len, "[");
    int i = 0;
    for (const cJSON *r = reasons ? reasons->child : NULL; r && len < cap; r = r->next, i++) {
        const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "Code"));
        const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "Message"));
        if (code == NULL)
            code = "?";
        if (!strcmp(code, "ConditionalCheckFailed"))
            *condition = true;
        if (strcmp(code, "None") && strcmp(code, "TransactionConflict") && strcmp(code, "ThrottlingError") &&
            strcmp(code, "ProvisionedThroughputExceeded") && strcmp(code, "RequestLimitExceeded"))
            *transient = false;
        len += (size_t)snprintf(buf + len, len < cap ? cap - len : 0, "%s%s%s%s%s", i ? ", " : "", code,
                                msg && strcmp(code, "None") ? " (" : "", msg && strcmp(code, "None") ? msg : "",
                                msg && strcmp(code, "None") ? ")" : "");
    }
    if (len < cap)
        snprintf(buf + len, cap - len, "]");
    if (i == 0)
        *transient = false;
}

int ddb_call(struct ddb *d, const char *op, const char *tables, cJSON *body, bool idempotent, cJSON **out,
             cJSON **failure, bool *retried, struct dld_error *host_err)
{
    /* worked on at this plugin's size, handed over at the host's */
    struct dld_error local, *err = &local;
    dld_error_init(err);
    if (out)
        *out = NULL;
    if (failure)
        *failure = NULL;
    if (retried)
        *retried = false;
    if (body == NULL)
        return ddb_oom(host_err);
    bool txn = strcmp(op, "TransactWriteItems") == 0;
    char target[80];
    snprintf(target, sizeof target, "DynamoDB_20120810.%s", op);
    struct dld_aws_header headers[] = {
        {"Content-Type", "application/x-amz-json-1.0"},
        {"X-Amz-Target", target},
    };
    int64_t client_retries = dld_aws_client_retries(d->client);
    int attempts = d->max_attempts > 0 ? d->max_attempts : 5;
    int rc = DLD_OK, attempt;
    for (attempt = 1;; attempt++) {
        if (txn && s_set_request_token(body) != 0) {
            rc = ddb_oom(err);
            break;
        }
        char *text = cJSON_PrintUnformatted(body);
        if (text == NULL) {
            rc = ddb_oom(err);
            break;
        }
        struct dld_aws_call call = {
            .method = "POST", .path = "/", .headers = headers, .nheaders = 2, .body = text,
            .body_len = strlen(text), .idempotent = idempotent || txn,
        };
        struct dld_aws_http_response resp;
        dld_error_init(err);
        rc = dld_aws_client_call(d->client, &call, &resp, err);
        free(text);
        if (resp.status != 0)
            s_note_skew(d, &resp);
        if (rc == DLD_OK) {
            if (out != NULL) {
                *out = cJSON_ParseWithLength(resp.body ? resp.body : "{}", resp.body ? resp.body_len : 2);
                if (*out == NULL)
                    rc = dld_error_set(err, DLD_ERR_RETRY, "%s: %s on %s: the answer is not JSON", DDB_NAME, op,
                                       tables);
            }
            dld_aws_http_response_clean_up(&resp);
            break;
        }
        const char *code = err->upstream_code;
        bool again = false;
        if (!strcmp(code, "TransactionConflictException")) {
            /* a single-item write racing a transaction on the same item */
            again = true;
        } else if (!strcmp(code, "TransactionCanceledException") || !strcmp(code, "ConditionalCheckFailedException")) {
            cJSON *answer = resp.body ? cJSON_ParseWithLength(resp.body, resp.body_len) : NULL;
            if (!strcmp(code, "ConditionalCheckFailedException")) {
                rc = DLD_ERR_CONFLICT;
            } else {
                char reasons[600];
                bool condition, transient;
                s_reasons_text(cJSON_GetObjectItemCaseSensitive(answer, "CancellationReasons"), reasons,
                               sizeof reasons, &condition, &transient);
                if (condition) {
                    rc = dld_error_set(err, DLD_ERR_CONFLICT, "transaction cancelled: %s", reasons);
                } else if (transient) {
                    again = true;
                    rc = dld_error_set(err, DLD_ERR_RETRY, "transaction cancelled: %s", reasons);
                } else {
                    rc = dld_error_set(err, DLD_ERR_FATAL, "transaction cancelled: %s", reasons);
                }
                dld_error_upstream(err, resp.status, "TransactionCanceledException", NULL);
            }
            if (rc == DLD_ERR_CONFLICT && failure != NULL) {
                *failure = answer;
                answer = NULL;
            }
            cJSON_Delete(answer);
        } else if (!strcmp(code, "ResourceNotFoundException")) {
            char upstream[400];
            snprintf(upstream, sizeof upstream, "%.399s", err->message);
            rc = dld_error_set(err, DLD_ERR_CONFIG,
                               "table %s does not exist in region %s at %s (`deltaload state init` creates it): %s",
                               tables, d->region, d->endpoint, upstream);
            dld_error_upstream(err, resp.status, "ResourceNotFoundException", NULL);
        }
        dld_aws_http_response_clean_up(&resp);
        if (again && attempt < attempts && !(d->host->cancelled && d->host->cancelled())) {
            int64_t delay = s_backoff_ms(d, attempt);
            dld_log(d->host, DLD_LOG_WARN, DDB_NAME, "%s on %s: %s (attempt %d of %d); retrying in %" PRId64 " ms", op,
                    tables, err->message, attempt, attempts, delay);
            s_sleep_ms(delay);
            continue;
        }
        if (again) {
            rc = DLD_ERR_RETRY;
            err->code = DLD_ERR_RETRY;
            err->retryable = 1;
            dld_error_prefix(err, "gave up after %d attempts", attempt);
        }
        break;
    }
    if (retried != NULL)
        *retried = attempt > 1 || dld_aws_client_retries(d->client) != client_retries;
    if (rc != DLD_OK) {
        dld_error_prefix(err, "%s: %s on %s", DDB_NAME, op, tables);
        dld_struct_copy(host_err, host_err->struct_size, err);
    }
    cJSON_Delete(body);
    return rc;
}

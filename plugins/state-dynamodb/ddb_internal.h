/* Internal to the state-dynamodb plugin: the instance, DynamoDB calls,
 * attribute values and expression building. Not part of the SDK.
 * The data model (attribute names on both tables) is in
 * docs/plugins/state-dynamodb.md; the names are defined here once. */
#ifndef DLD_STATE_DDB_INTERNAL_H
#define DLD_STATE_DDB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include <deltaload/aws.h>
#include <deltaload/sdk.h>

#define DDB_NAME "state-dynamodb"

/* ---- attribute names ------------------------------------------------------ */
#define DDB_KEY "targetTableName" /* partition key of both tables (S) */
/* controller item, engine bookkeeping: all strings (S), like every other
 * attribute of the controller table; stripped by item_get/item_list */
#define DDB_PREFIX "dld_"
#define A_LEASE_OWNER "dld_lease_owner"
#define A_LEASE_TOKEN "dld_lease_token"          /* decimal; kept after release */
#define A_LEASE_EXPIRES "dld_lease_expires_ms"   /* 15 digits, zero-padded: compares as a string */
#define A_WM "dld_watermark"
#define A_WM_LOAD "dld_watermark_load_id"
#define A_WM_UPDATED "dld_watermark_updated_ms"
#define A_LAST_LOAD "dld_last_load_id"
#define A_LAST_MODE "dld_last_mode"
#define A_LAST_STATUS "dld_last_status"
#define A_LAST_LOW "dld_last_low"
#define A_LAST_HIGH "dld_last_high"
#define A_LAST_ROWS "dld_last_rows"
#define A_LAST_BYTES "dld_last_bytes"
#define A_LAST_FILES "dld_last_files"
#define A_LAST_STARTED "dld_last_started_ms"
#define A_LAST_ENDED "dld_last_ended_ms"
#define A_LAST_ERROR "dld_last_error"
#define A_STARTVALUE "startvalue" /* mirrored from the committed watermark */
/* history item (sort key load_id, N) */
#define H_LOAD_ID "load_id"
#define H_MODE "mode"
#define H_STATUS "status"
#define H_LOW "low"
#define H_LOW_INCL "low_inclusive"
#define H_HIGH "high"
#define H_ROWS "rows"
#define H_BYTES "bytes"
#define H_FILES "files"
#define H_STARTED "started_ms"
#define H_ENDED "ended_ms"
#define H_ERROR "error"
#define H_OWNER "owner"
#define H_INFO "info_json"
#define H_UPDATED "updated_ms"
#define H_TOKEN "lease_token"
#define H_TRANSITIONS "transitions"
#define H_TTL "expires_at" /* epoch seconds: the attribute to enable TTL on */

/* ---- the instance ----------------------------------------------------------- */
/* One instance is used by one thread at a time (no DLD_CAP_THREAD_SAFE): the
 * engine opens one per worker and one per heartbeat. */
struct ddb {
    const struct dld_host *host;
    char *table;         /* controller table */
    char *history_table; /* run history */
    char *region, *endpoint;
    struct dld_aws_credentials_provider *creds;
    struct dld_aws_client *client;
    int64_t scan_page_size;   /* 0: DynamoDB's own 1 MB pages */
    int64_t history_ttl_days; /* 0: no TTL attribute */
    bool consistent_read;     /* item and history reads (lease, watermark and recovery reads always are) */
    int max_attempts;
    int64_t retry_base_delay_ms;
    int64_t skew_ms;          /* service clock minus ours, from the last answer's Date (1 s resolution) */
    bool skew_known, skew_warned;
};

/* ---- strings ------------------------------------------------------------------- */
struct ddb_buf {
    char *data;
    size_t len, cap;
    bool failed;
};
void ddb_buf_puts(struct ddb_buf *b, const char *s);
void ddb_buf_printf(struct ddb_buf *b, const char *fmt, ...) DLD_PRINTF(2, 3);
void ddb_buf_free(struct ddb_buf *b);

/* "2026-11-24T17:30:00.123Z" */
void ddb_format_ms(int64_t ms, char *buf, size_t cap);
/* the lease expiry as stored: 15 digits, zero-padded */
void ddb_expiry_text(int64_t ms, char buf[32]);
int ddb_oom(struct dld_error *err);

/* ---- attribute values ---------------------------------------------------------------- */
cJSON *ddb_s(const char *s); /* {"S": s} */
cJSON *ddb_n(int64_t v);     /* {"N": "v"} */
cJSON *ddb_key(const char *name);                   /* controller key */
cJSON *ddb_run_key(const char *name, int64_t load_id); /* history key */
/* the S value of item[attr], NULL if absent or not a string */
const char *ddb_get_s(const cJSON *item, const char *attr);
/* the N value (or a decimal S) of item[attr] */
bool ddb_get_int(const cJSON *item, const char *attr, int64_t *out);

/* ---- expressions ------------------------------------------------------------------------
 * Attribute names are always sent as placeholders (#name for this plugin's
 * own names, which are plain identifiers; #u<n> for an item's arbitrary
 * ones): many of them (status, owner, mode, rows, ...) are reserved words. */
struct ddb_expr {
    cJSON *names;  /* ExpressionAttributeNames */
    cJSON *values; /* ExpressionAttributeValues */
    struct ddb_buf set, remove, cond;
    int nuser;
};
void ddb_expr_init(struct ddb_expr *e);
void ddb_expr_free(struct ddb_expr *e);
/* registers #attr */
void ddb_x_name(struct ddb_expr *e, const char *attr);
/* registers a value placeholder (":x"); takes v */
void ddb_x_value(struct ddb_expr *e, const char *placeholder, cJSON *v);
/* SET #attr = :attr (takes v); v NULL: REMOVE #attr */
void ddb_x_set(struct ddb_expr *e, const char *attr, cJSON *v);
void ddb_x_set_s(struct ddb_expr *e, const char *attr, const char *s); /* NULL: REMOVE */
void ddb_x_set_n(struct ddb_expr *e, const char *attr, int64_t v);
/* an item's own attribute (any name): SET #u<n> = :u<n>, or REMOVE when v is NULL */
void ddb_x_set_user(struct ddb_expr *e, const char *attr, cJSON *v);
/* a raw SET clause ("#a = list_append(...)"); its names and values registered by the caller */
void ddb_x_set_raw(struct ddb_expr *e, const char *clause);
/* appends "AND (text)" to the condition */
void ddb_x_cond(struct ddb_expr *e, const char *fmt, ...) DLD_PRINTF(2, 3);
/* moves UpdateExpression, ConditionExpression, names and values into req */
int ddb_x_apply(struct ddb_expr *e, cJSON *req, struct dld_error *err);

/* ---- calls ----------------------------------------------------------------------------------
 * One DynamoDB operation (POST /, X-Amz-Target DynamoDB_20120810.<op>):
 * throttling, 5xx, timeouts (when idempotent) are retried by the SDK client;
 * TransactionConflict (an UpdateItem racing a transaction on the same item,
 * or a transaction cancelled only for that reason) is retried here with the
 * same backoff. `tables` names the table(s) the call touches, for errors.
 * On success *out (if given) is the answer. On a lost condition
 * (ConditionalCheckFailedException, or TransactionCanceledException with a
 * ConditionalCheckFailed reason) the code is DLD_ERR_CONFLICT and *failure
 * (if given) is the error body (its Item or CancellationReasons say why).
 * ResourceNotFoundException is DLD_ERR_CONFIG naming the table(s) and
 * `deltaload state init`. *retried says whether any attempt was repeated
 * (a conditional write may then have taken effect before its answer was
 * lost). body is consumed. */
int ddb_call(struct ddb *d, const char *op, const char *tables, cJSON *body, bool idempotent, cJSON **out,
             cJSON **failure, bool *retried, struct dld_error *err);

/* ---- fencing (ddb_state.c) -------------------------------------------------------------------- */
/* Adds the fence to e's condition: the table's lease has this token, an
 * owner, and has not expired by our clock. */
void ddb_fence(struct ddb *d, struct ddb_expr *e, int64_t token);
/* Explains a lost fence as state-sqlite does (taken over by whom, released,
 * expired, item gone) from the item in the failure (ReturnValuesOnCondition
 * CheckFailure) or, without one, a fresh read. Returns DLD_ERR_CONFLICT
 * (or the read's error). */
int ddb_fence_lost(struct ddb *d, const char *table, int64_t token, const cJSON *old_item, struct dld_error *err);
/* the controller item (consistent read) or NULL when absent */
int ddb_get_item(struct ddb *d, const char *name, bool consistent, cJSON **item, struct dld_error *err);

/* ---- runs (ddb_runs.c) and setup (ddb_setup.c) ------------------------------------------------ */
int ddb_run_record(void *inst, const struct dld_run *run, int64_t token, struct dld_error *err);
int ddb_run_last(void *inst, const char *table, struct dld_run *out, struct dld_error *err);
int ddb_run_commit(void *inst, const struct dld_run *run, int32_t advance, int64_t token, struct dld_error *err);
int ddb_history(void *inst, const char *table, int32_t limit, char **runs_json, struct dld_error *err);
int ddb_runs_unfinished(void *inst, const char *table, int (*each)(void *ctx, const struct dld_run *run), void *ctx,
                        struct dld_error *err);
int ddb_runs_history(void *inst, const char *table, int32_t limit, int (*each)(void *ctx, const struct dld_run *run),
                     void *ctx, struct dld_error *err);
int ddb_setup(void *inst, int32_t create, char **report, struct dld_error *err);

#endif

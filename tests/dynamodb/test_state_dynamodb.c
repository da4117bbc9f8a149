/*
 * state-dynamodb through its vtable (the test host loads the .so), against
 * dynalite behind the SigV4-verifying, fault-injecting proxy (servers.js):
 * setup, the issue's controller item verbatim, merges that keep unknown
 * attributes, paginated scans, leases with fencing and takeover, the
 * transactional commit, history, and throttling / 5xx / lost answers.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "ddb_test_util.h"
#include "test_host.h"

static struct ddbt_servers S;
static struct ddbt_plugin P;
static char CTL[96], HIST[96];

static void s_setup(void)
{
    ck_assert(ddbt_servers(&S));
    ddbt_plugin_load(&P);
    ddbt_unique(CTL, sizeof CTL, "ctl");
    ddbt_unique(HIST, sizeof HIST, "hist");
    free(ddbt_proxy(&S, "POST", "reset", "{}"));
    dld_test_clock_real();
}

static void s_teardown(void)
{
    free(ddbt_proxy(&S, "DELETE", "faults", NULL));
    ddbt_plugin_unload(&P);
    dld_test_clock_real();
}

static void s_fault(const char *json)
{
    free(ddbt_proxy(&S, "POST", "faults", json));
}

/* The issue's item, as today's tooling stores it. */
static const char s_issue_item[] =
    "{\"targetTableName\":{\"S\":\"orders_s3\"},\"sourceTable\":{\"S\":\"orders_rds\"},\"sourceSchema\":{\"S\":\"dwh\"},"
    "\"filtercolumn\":{\"S\":\"row_id\"},\"filteroperator\":{\"S\":\"lte\"},\"startvalue\":{\"S\":\"377145\"},"
    "\"endvalue\":{\"S\":\"377145\"},\"activeflag\":{\"S\":\"Y\"},\"ouputs3Prefix\":{\"S\":\"new_orders\"},"
    "\"replication_task_settings\":{\"S\":\"{\\\"Logging\\\": {\\\"EnableLogging\\\": true}}\"}}";

static struct dld_run s_run(const char *table, int64_t id, uint32_t status, const char *low, const char *high)
{
    struct dld_run r = {.struct_size = sizeof(r)};
    r.table = (char *)table;
    r.load_id = id;
    r.mode = DLD_MODE_DELTA;
    r.status = status;
    r.low = (char *)low;
    r.high = (char *)high;
    r.low_inclusive = low == NULL;
    r.rows = 10 * id;
    r.bytes = 1000 * id;
    r.files = 1;
    r.started_ms = 1700000000000 + id * 1000;
    r.ended_ms = r.started_ms + 500;
    r.owner = (char *)"host:1:abc";
    r.info_json = (char *)"{\"load_uid\":\"00112233aabbccdd\",\"query\":\"SELECT 1\"}";
    return r;
}

START_TEST(test_setup_creates_and_checks)
{
    struct dld_error err = {.struct_size = sizeof(err)};
    void *st = ddbt_open(&P, &S, CTL, HIST, NULL, &err);
    ck_assert_msg(st != NULL, "open: %s", err.message);
    ck_assert(P.desc->capabilities & DLD_CAP_SHARED_STATE);
    char *report = NULL;
    /* missing, create off: says so */
    int rc = P.vt->setup(st, 0, &report, &err);
    ck_assert_int_eq(rc, DLD_ERR_NOT_FOUND);
    ck_assert_msg(strstr(report, "missing") && strstr(report, "state init"), "%s", report);
    free(report);
    /* a run-time call on a missing table names it and state init */
    char *list = NULL;
    rc = P.vt->item_list(st, &list, &err);
    ck_assert_int_eq(rc, DLD_ERR_CONFIG);
    ck_assert_msg(strstr(err.message, CTL) && strstr(err.message, "deltaload state init"), "%s", err.message);
    /* created, on-demand, ACTIVE, TTL on */
    rc = P.vt->setup(st, 1, &report, &err);
    ck_assert_msg(rc == DLD_OK, "%s", err.message);
    ck_assert_msg(strstr(report, "created") && strstr(report, "on-demand") && strstr(report, "ACTIVE") &&
                      strstr(report, "enabled on expires_at"),
                  "%s", report);
    free(report);
    /* again: exists */
    rc = P.vt->setup(st, 1, &report, &err);
    ck_assert_msg(rc == DLD_OK, "%s", err.message);
    ck_assert_msg(strstr(report, "exists") && !strstr(report, "created"), "%s", report);
    free(report);
    P.vt->close(st);

    /* a table with the wrong keys: what is wrong is said */
    char bad[96], body[512];
    ddbt_unique(bad, sizeof bad, "wrongkeys");
    snprintf(body, sizeof body,
             "{\"TableName\":\"%s\",\"AttributeDefinitions\":[{\"AttributeName\":\"id\",\"AttributeType\":\"N\"}],"
             "\"KeySchema\":[{\"AttributeName\":\"id\",\"KeyType\":\"HASH\"}],\"BillingMode\":\"PAY_PER_REQUEST\"}",
             bad);
    int status = 0;
    cJSON_Delete(ddbt_call(&S, "CreateTable", body, &status));
    ck_assert_int_eq(status, 200);
    st = ddbt_open(&P, &S, bad, HIST, NULL, &err);
    ck_assert(st != NULL);
    rc = P.vt->setup(st, 1, &report, &err);
    ck_assert_int_eq(rc, DLD_ERR_CONFIG);
    ck_assert_msg(strstr(report, "partition key is id (N)") && strstr(report, "targetTableName (S)"), "%s", report);
    free(report);
    P.vt->close(st);
}
END_TEST

START_TEST(test_issue_item_verbatim_and_merge)
{
    void *st = ddbt_open_setup(&P, &S, CTL, HIST);
    ddbt_put_raw(&S, CTL, s_issue_item);
    struct dld_error err = {.struct_size = sizeof(err)};
    char *text = NULL;
    ck_assert_int_eq(P.vt->item_get(st, "orders_s3", &text, &err), DLD_OK);
    cJSON *got = cJSON_Parse(text);
    free(text);
    const char *want[][2] = {{"targetTableName", "orders_s3"}, {"sourceTable", "orders_rds"},
                             {"sourceSchema", "dwh"}, {"filtercolumn", "row_id"}, {"filteroperator", "lte"},
                             {"startvalue", "377145"}, {"endvalue", "377145"}, {"activeflag", "Y"},
                             {"ouputs3Prefix", "new_orders"},
                             {"replication_task_settings", "{\"Logging\": {\"EnableLogging\": true}}"}};
    ck_assert_int_eq(cJSON_GetArraySize(got), 10);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(got, want[i][0]));
        ck_assert_msg(v && !strcmp(v, want[i][1]), "%s: %s", want[i][0], v ? v : "(absent)");
    }
    /* a write through deltaload (tables set, config sync) keeps what it does
     * not know and its own bookkeeping: take a lease first, then put the
     * item without replication_task_settings, without endvalue, with a number */
    int64_t token = 0;
    ck_assert_int_eq(P.vt->lease_acquire(st, "orders_s3", "me:1:x", 60000, &token, &err), DLD_OK);
    cJSON_DeleteItemFromObject(got, "replication_task_settings");
    cJSON_DeleteItemFromObject(got, "endvalue");
    cJSON_ReplaceItemInObject(got, "startvalue", cJSON_CreateNumber(377146));
    text = cJSON_PrintUnformatted(got);
    ck_assert_msg(P.vt->item_put(st, "orders_s3", text, &err) == DLD_OK, "%s", err.message);
    free(text);
    cJSON_Delete(got);
    cJSON *raw = ddbt_get_raw(&S, CTL, "orders_s3");
    ck_assert_str_eq(ddbt_attr(raw, "replication_task_settings"), "{\"Logging\": {\"EnableLogging\": true}}");
    ck_assert_ptr_null(ddbt_attr(raw, "endvalue")); /* a known attribute left out is removed */
    ck_assert_str_eq(ddbt_attr(raw, "startvalue"), "377146"); /* numbers are stored as strings */
    char tok[32];
    snprintf(tok, sizeof tok, "%" PRId64, token);
    ck_assert_str_eq(ddbt_attr(raw, "dld_lease_token"), tok);
    ck_assert_str_eq(ddbt_attr(raw, "dld_lease_owner"), "me:1:x");
    cJSON_Delete(raw);
    /* the bookkeeping is not part of the item the core sees */
    ck_assert_int_eq(P.vt->item_get(st, "orders_s3", &text, &err), DLD_OK);
    ck_assert_msg(!strstr(text, "dld_"), "%s", text);
    free(text);
    /* and cannot be written through it */
    ck_assert_int_eq(P.vt->item_put(st, "orders_s3", "{\"sourceTable\":\"x\",\"dld_lease_token\":\"9\"}", &err),
                     DLD_ERR_CONFIG);
    ck_assert_int_eq(P.vt->item_put(st, "other", "{\"targetTableName\":\"orders_s3\"}", &err), DLD_ERR_CONFIG);
    /* a non-string attribute reads as its DynamoDB JSON and writes back as it was */
    ddbt_put_raw(&S, CTL,
                 "{\"targetTableName\":{\"S\":\"typed\"},\"sourceTable\":{\"S\":\"t\"},\"startvalue\":{\"N\":\"5\"},"
                 "\"tags\":{\"SS\":[\"a\",\"b\"]}}");
    ck_assert_int_eq(P.vt->item_get(st, "typed", &text, &err), DLD_OK);
    got = cJSON_Parse(text);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(got, "startvalue"), "N")), "5");
    ck_assert_msg(P.vt->item_put(st, "typed", text, &err) == DLD_OK, "%s", err.message);
    free(text);
    cJSON_Delete(got);
    raw = ddbt_get_raw(&S, CTL, "typed");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(raw, "startvalue"), "N")), "5");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(raw, "tags"), "SS")), 2);
    cJSON_Delete(raw);
    /* delete */
    ck_assert_int_eq(P.vt->item_delete(st, "typed", &err), DLD_OK);
    ck_assert_int_eq(P.vt->item_delete(st, "typed", &err), DLD_ERR_NOT_FOUND);
    ck_assert_int_eq(P.vt->item_get(st, "typed", &text, &err), DLD_ERR_NOT_FOUND);
    P.vt->close(st);
}
END_TEST

START_TEST(test_item_list_pages)
{
    void *setup = ddbt_open_setup(&P, &S, CTL, HIST);
    P.vt->close(setup);
    for (int i = 0; i < 23; i++) {
        char item[256];
        snprintf(item, sizeof item,
                 "{\"targetTableName\":{\"S\":\"t%02d\"},\"sourceTable\":{\"S\":\"src\"},\"notes\":{\"S\":\"n%d\"}}", i,
                 i);
        ddbt_put_raw(&S, CTL, item);
    }
    const char *extra[] = {"scan_page_size", "4", NULL};
    struct dld_error err = {.struct_size = sizeof(err)};
    void *st = ddbt_open(&P, &S, CTL, HIST, extra, &err);
    ck_assert(st != NULL);
    int64_t scans = ddbt_stat(&S, "byOp.Scan");
    char *text = NULL;
    ck_assert_int_eq(P.vt->item_list(st, &text, &err), DLD_OK);
    cJSON *arr = cJSON_Parse(text);
    free(text);
    ck_assert_int_eq(cJSON_GetArraySize(arr), 23);
    /* sorted by name, every page read */
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "targetTableName")), "t00");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 22), "targetTableName")), "t22");
    cJSON_Delete(arr);
    ck_assert_int_ge(ddbt_stat(&S, "byOp.Scan") - scans, 6);
    P.vt->close(st);
}
END_TEST

START_TEST(test_leases_fencing_takeover)
{
    void *a = ddbt_open_setup(&P, &S, CTL, HIST);
    struct dld_error err = {.struct_size = sizeof(err)};
    void *b = ddbt_open(&P, &S, CTL, HIST, NULL, &err);
    ddbt_put_raw(&S, CTL, "{\"targetTableName\":{\"S\":\"orders\"},\"sourceTable\":{\"S\":\"orders\"}}");
    int64_t ta = 0, tb = 0;
    /* no item, no lease */
    ck_assert_int_eq(P.vt->lease_acquire(a, "nosuch", "A", 1000, &ta, &err), DLD_ERR_NOT_FOUND);
    ck_assert_int_eq(P.vt->lease_acquire(a, "orders", "A", 1000, &ta, &err), DLD_OK);
    ck_assert_int_gt(ta, 0);
    /* refused to another, and to its own owner */
    ck_assert_int_eq(P.vt->lease_acquire(b, "orders", "B", 1000, &tb, &err), DLD_ERR_CONFLICT);
    ck_assert_msg(strstr(err.message, "leased by 'A'"), "%s", err.message);
    ck_assert_int_eq(P.vt->lease_acquire(a, "orders", "A", 1000, &tb, &err), DLD_ERR_CONFLICT);
    ck_assert_msg(strstr(err.message, "(this process)"), "%s", err.message);
    ck_assert_int_eq(P.vt->lease_renew(a, "orders", ta, 1000, &err), DLD_OK);
    struct dld_run r1 = s_run("orders", 1, DLD_RUN_PLANNED, NULL, "10");
    ck_assert_msg(P.vt->run_record(a, &r1, ta, &err) == DLD_OK, "%s", err.message);

    /* A stalls past its TTL: B's clock says expired, B takes over with a new token */
    dld_test_clock_set(dld_test_real_ms() + 5000);
    ck_assert_msg(P.vt->lease_acquire(b, "orders", "B", 60000, &tb, &err) == DLD_OK, "%s", err.message);
    ck_assert_int_eq(tb, ta + 1);
    /* every write of A's is refused now: run_record, run_commit, watermark_set, renew, release */
    r1.status = DLD_RUN_PUBLISHED;
    ck_assert_int_eq(P.vt->run_record(a, &r1, ta, &err), DLD_ERR_CONFLICT);
    ck_assert_msg(strstr(err.message, "taken over") && strstr(err.message, "'B'"), "%s", err.message);
    ck_assert_int_eq(P.vt->run_commit(a, &r1, 1, ta, &err), DLD_ERR_CONFLICT);
    ck_assert_msg(strstr(err.message, "taken over"), "%s", err.message);
    ck_assert_int_eq(P.vt->watermark_set(a, "orders", "99", ta, &err), DLD_ERR_CONFLICT);
    ck_assert_int_eq(P.vt->lease_renew(a, "orders", ta, 1000, &err), DLD_ERR_CONFLICT);
    ck_assert_int_eq(P.vt->lease_release(a, "orders", ta, &err), DLD_ERR_CONFLICT);
    /* nothing of A's moved: the run is still planned, no watermark */
    struct dld_run last = {.struct_size = sizeof(last)};
    ck_assert_int_eq(P.vt->run_last(b, "orders", &last, &err), DLD_OK);
    ck_assert_int_eq(last.status, DLD_RUN_PLANNED);
    dld_run_clean_up(dld_test_host(), &last);
    struct dld_watermark wm = {.struct_size = sizeof(wm)};
    ck_assert_int_eq(P.vt->watermark_get(b, "orders", &wm, &err), DLD_OK);
    ck_assert_ptr_null(wm.value);
    /* B works; releases; the next token is new */
    r1.status = DLD_RUN_ABORTED;
    ck_assert_int_eq(P.vt->run_record(b, &r1, tb, &err), DLD_OK);
    ck_assert_int_eq(P.vt->lease_release(b, "orders", tb, &err), DLD_OK);
    ck_assert_int_eq(P.vt->run_record(b, &r1, tb, &err), DLD_ERR_CONFLICT);
    ck_assert_msg(strstr(err.message, "released"), "%s", err.message);
    int64_t tc = 0;
    ck_assert_int_eq(P.vt->lease_acquire(a, "orders", "A2", 1000, &tc, &err), DLD_OK);
    ck_assert_int_eq(tc, tb + 1);
    /* an expired lease nobody took: fenced writes refused, renew allowed */
    dld_test_clock_set(dld_test_real_ms() + 20000);
    ck_assert_int_eq(P.vt->run_record(a, &r1, tc, &err), DLD_ERR_CONFLICT);
    ck_assert_msg(strstr(err.message, "expired"), "%s", err.message);
    ck_assert_int_eq(P.vt->lease_renew(a, "orders", tc, 60000, &err), DLD_OK);
    ck_assert_int_eq(P.vt->run_record(a, &r1, tc, &err), DLD_OK);
    ck_assert_int_eq(P.vt->lease_release(a, "orders", tc, &err), DLD_OK);
    P.vt->close(a);
    P.vt->close(b);
}
END_TEST

struct s_race {
    void *inst;
    char owner[32];
    int rc;
    int64_t token;
};

static void *s_racer(void *arg)
{
    struct s_race *r = arg;
    struct dld_error err = {.struct_size = sizeof(err)};
    r->rc = P.vt->lease_acquire(r->inst, "raced", r->owner, 60000, &r->token, &err);
    return NULL;
}

START_TEST(test_lease_race_one_winner)
{
    void *setup = ddbt_open_setup(&P, &S, CTL, HIST);
    ddbt_put_raw(&S, CTL, "{\"targetTableName\":{\"S\":\"raced\"},\"sourceTable\":{\"S\":\"x\"}}");
    enum { N = 8 };
    struct s_race r[N];
    struct dld_error err = {.struct_size = sizeof(err)};
    for (int round = 0; round < 3; round++) {
        pthread_t th[N];
        for (int i = 0; i < N; i++) {
            r[i].inst = ddbt_open(&P, &S, CTL, HIST, NULL, &err);
            ck_assert(r[i].inst != NULL);
            snprintf(r[i].owner, sizeof r[i].owner, "racer%d", i);
        }
        for (int i = 0; i < N; i++)
            pthread_create(&th[i], NULL, s_racer, &r[i]);
        int won = -1, wins = 0;
        for (int i = 0; i < N; i++) {
            pthread_join(th[i], NULL);
            if (r[i].rc == DLD_OK) {
                wins++;
                won = i;
            } else {
                ck_assert_int_eq(r[i].rc, DLD_ERR_CONFLICT);
            }
        }
        ck_assert_int_eq(wins, 1);
        ck_assert_int_eq(P.vt->lease_release(r[won].inst, "raced", r[won].token, &err), DLD_OK);
        for (int i = 0; i < N; i++)
            P.vt->close(r[i].inst);
    }
    P.vt->close(setup);
}
END_TEST

struct s_seen {
    int n;
    int64_t ids[64];
    uint32_t status[64];
};

static int s_each(void *ctx, const struct dld_run *run)
{
    struct s_seen *s = ctx;
    s->ids[s->n] = run->load_id;
    s->status[s->n++] = run->status;
    return 0;
}

START_TEST(test_runs_commit_history)
{
    void *st = ddbt_open_setup(&P, &S, CTL, HIST);
    ddbt_put_raw(&S, CTL,
                 "{\"targetTableName\":{\"S\":\"orders\"},\"sourceTable\":{\"S\":\"orders\"},\"filtercolumn\":{\"S\":"
                 "\"seq\"},\"startvalue\":{\"S\":\"1\"},\"notes\":{\"S\":\"kept\"}}");
    ddbt_put_raw(&S, CTL, "{\"targetTableName\":{\"S\":\"other\"},\"sourceTable\":{\"S\":\"other\"}}");
    struct dld_error err = {.struct_size = sizeof(err)};
    int64_t tok = 0, tok2 = 0;
    ck_assert_int_eq(P.vt->lease_acquire(st, "orders", "me", 60000, &tok, &err), DLD_OK);
    ck_assert_int_eq(P.vt->lease_acquire(st, "other", "me", 60000, &tok2, &err), DLD_OK);
    struct dld_run last = {.struct_size = sizeof(last)};
    ck_assert_int_eq(P.vt->run_last(st, "orders", &last, &err), DLD_ERR_NOT_FOUND);
    /* load 1 committed (advance), load 2 published, load 3 planned */
    struct dld_run r1 = s_run("orders", 1, DLD_RUN_PLANNED, NULL, "100");
    ck_assert_msg(P.vt->run_record(st, &r1, tok, &err) == DLD_OK, "%s", err.message);
    r1.status = DLD_RUN_STAGED;
    ck_assert_int_eq(P.vt->run_record(st, &r1, tok, &err), DLD_OK);
    r1.status = DLD_RUN_PUBLISHED;
    ck_assert_int_eq(P.vt->run_record(st, &r1, tok, &err), DLD_OK);
    ck_assert_msg(P.vt->run_commit(st, &r1, 1, tok, &err) == DLD_OK, "%s", err.message);
    struct dld_run r2 = s_run("orders", 2, DLD_RUN_PUBLISHED, "100", "200");
    ck_assert_int_eq(P.vt->run_record(st, &r2, tok, &err), DLD_OK);
    struct dld_run r3 = s_run("orders", 3, DLD_RUN_PLANNED, "200", "300");
    r3.owner = NULL; /* kept from before: none */
    ck_assert_int_eq(P.vt->run_record(st, &r3, tok, &err), DLD_OK);
    struct dld_run o1 = s_run("other", 1, DLD_RUN_FAILED, NULL, NULL);
    o1.mode = DLD_MODE_FULL;
    o1.error = (char *)"boom";
    o1.started_ms = 1700000000000 + 2500;
    ck_assert_int_eq(P.vt->run_record(st, &o1, tok2, &err), DLD_OK);

    /* watermark and its mirror in startvalue; the bookkeeping on the item */
    struct dld_watermark wm = {.struct_size = sizeof(wm)};
    ck_assert_int_eq(P.vt->watermark_get(st, "orders", &wm, &err), DLD_OK);
    ck_assert_str_eq(wm.value, "100");
    ck_assert_int_eq(wm.load_id, 1);
    dld_watermark_clean_up(dld_test_host(), &wm);
    cJSON *raw = ddbt_get_raw(&S, CTL, "orders");
    ck_assert_str_eq(ddbt_attr(raw, "startvalue"), "100");
    ck_assert_str_eq(ddbt_attr(raw, "notes"), "kept");
    ck_assert_str_eq(ddbt_attr(raw, "dld_last_load_id"), "3");
    ck_assert_str_eq(ddbt_attr(raw, "dld_last_status"), "planned");
    ck_assert_str_eq(ddbt_attr(raw, "dld_watermark_load_id"), "1");
    cJSON_Delete(raw);
    /* the run item: transitions, TTL, info kept verbatim */
    char body[512];
    snprintf(body, sizeof body,
             "{\"TableName\":\"%s\",\"Key\":{\"targetTableName\":{\"S\":\"orders\"},\"load_id\":{\"N\":\"1\"}},"
             "\"ConsistentRead\":true}",
             HIST);
    cJSON *got = ddbt_call(&S, "GetItem", body, NULL);
    cJSON *item = cJSON_GetObjectItem(got, "Item");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(item, "transitions"), "L")), 4);
    ck_assert_str_eq(ddbt_attr(item, "status"), "committed");
    ck_assert_str_eq(ddbt_attr(item, "info_json"), "{\"load_uid\":\"00112233aabbccdd\",\"query\":\"SELECT 1\"}");
    const char *exp = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(item, "expires_at"), "N"));
    ck_assert_ptr_nonnull(exp);
    int64_t days = (strtoll(exp, NULL, 10) - dld_test_real_ms() / 1000) / 86400;
    ck_assert_msg(days >= 399 && days <= 400, "expires_at %s", exp);
    cJSON_Delete(got);

    /* run_last, runs_unfinished (in load order), runs_history (newest first) */
    ck_assert_int_eq(P.vt->run_last(st, "orders", &last, &err), DLD_OK);
    ck_assert_int_eq(last.load_id, 3);
    ck_assert_str_eq(last.low, "200");
    ck_assert_ptr_null(last.owner);
    dld_run_clean_up(dld_test_host(), &last);
    struct s_seen seen = {0};
    ck_assert_int_eq(P.vt->runs_unfinished(st, "orders", s_each, &seen, &err), DLD_OK);
    ck_assert_int_eq(seen.n, 2);
    ck_assert_int_eq(seen.ids[0], 2);
    ck_assert_int_eq(seen.ids[1], 3);
    memset(&seen, 0, sizeof seen);
    ck_assert_int_eq(P.vt->runs_history(st, "orders", 2, s_each, &seen, &err), DLD_OK);
    ck_assert_int_eq(seen.n, 2);
    ck_assert_int_eq(seen.ids[0], 3);
    ck_assert_int_eq(seen.ids[1], 2);
    memset(&seen, 0, sizeof seen);
    ck_assert_int_eq(P.vt->runs_history(st, NULL, 0, s_each, &seen, &err), DLD_OK);
    ck_assert_int_eq(seen.n, 4); /* by start: orders 3, other 1, orders 2, orders 1 */
    ck_assert_int_eq(seen.ids[0], 3);
    ck_assert_int_eq(seen.ids[1], 1);
    ck_assert_int_eq(seen.status[1], DLD_RUN_FAILED);
    ck_assert_int_eq(seen.ids[2], 2);
    ck_assert_int_eq(seen.ids[3], 1);
    ck_assert_int_eq(seen.status[3], DLD_RUN_COMMITTED);
    /* the JSON member: state-sqlite's keys */
    char *json = NULL;
    ck_assert_int_eq(P.vt->history(st, NULL, 3, &json, &err), DLD_OK);
    cJSON *arr = cJSON_Parse(json);
    free(json);
    ck_assert_int_eq(cJSON_GetArraySize(arr), 3);
    const char *keys[] = {"table", "load_id", "mode", "status", "low", "low_inclusive", "high", "rows", "bytes",
                          "files", "started_ms", "ended_ms", "duration_ms", "error", "owner", "info"};
    cJSON *o = cJSON_GetArrayItem(arr, 1);
    ck_assert_int_eq(cJSON_GetArraySize(o), (int)(sizeof keys / sizeof keys[0]));
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        ck_assert_msg(cJSON_HasObjectItem(o, keys[i]), "missing %s", keys[i]);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(o, "error")), "boom");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "info"),
                                                              "load_uid")),
                     "00112233aabbccdd");
    cJSON_Delete(arr);

    /* operator reset: fenced; mirrored; clear leaves startvalue */
    ck_assert_int_eq(P.vt->watermark_set(st, "orders", "150", tok, &err), DLD_OK);
    raw = ddbt_get_raw(&S, CTL, "orders");
    ck_assert_str_eq(ddbt_attr(raw, "startvalue"), "150");
    ck_assert_str_eq(ddbt_attr(raw, "dld_watermark_load_id"), "0");
    cJSON_Delete(raw);
    ck_assert_int_eq(P.vt->watermark_set(st, "orders", NULL, tok, &err), DLD_OK);
    ck_assert_int_eq(P.vt->watermark_get(st, "orders", &wm, &err), DLD_OK);
    ck_assert_ptr_null(wm.value);
    ck_assert_int_eq(P.vt->watermark_get(st, "no-such-table", &wm, &err), DLD_OK);
    ck_assert_ptr_null(wm.value);
    P.vt->close(st);
}
END_TEST

START_TEST(test_throttling_5xx_lost_answers)
{
    void *st = ddbt_open_setup(&P, &S, CTL, HIST);
    ddbt_put_raw(&S, CTL, "{\"targetTableName\":{\"S\":\"orders\"},\"sourceTable\":{\"S\":\"orders\"}}");
    struct dld_error err = {.struct_size = sizeof(err)};
    char *text = NULL;
    int64_t faults = ddbt_stat(&S, "faults");
    /* throttling and 5xx, retried through the SDK's policy */
    s_fault("[{\"op\":\"GetItem\",\"action\":\"status\",\"status\":400,\"code\":\"ThrottlingException\",\"count\":2},"
            " {\"op\":\"Scan\",\"action\":\"status\",\"status\":500,\"code\":\"InternalServerError\",\"count\":1},"
            " {\"op\":\"UpdateItem\",\"action\":\"status\",\"status\":400,"
            "  \"code\":\"ProvisionedThroughputExceededException\",\"count\":2},"
            " {\"op\":\"TransactWriteItems\",\"action\":\"status\",\"status\":503,\"code\":\"ServiceUnavailable\","
            "  \"count\":1},"
            " {\"op\":\"Query\",\"action\":\"status\",\"status\":400,\"code\":\"ThrottlingException\",\"count\":1}]");
    ck_assert_int_eq(P.vt->item_get(st, "orders", &text, &err), DLD_OK);
    free(text);
    ck_assert_int_eq(P.vt->item_list(st, &text, &err), DLD_OK);
    free(text);
    int64_t tok = 0;
    ck_assert_msg(P.vt->lease_acquire(st, "orders", "me", 60000, &tok, &err) == DLD_OK, "%s", err.message);
    struct dld_run r = s_run("orders", 1, DLD_RUN_PLANNED, NULL, "5");
    ck_assert_msg(P.vt->run_record(st, &r, tok, &err) == DLD_OK, "%s", err.message);
    struct dld_run last = {.struct_size = sizeof(last)};
    ck_assert_int_eq(P.vt->run_last(st, "orders", &last, &err), DLD_OK);
    dld_run_clean_up(dld_test_host(), &last);
    ck_assert_int_eq(ddbt_stat(&S, "faults") - faults, 7);
    ck_assert_int_eq(ddbt_stat(&S, "faultsPending"), 0);

    /* a transaction cancelled only by a conflict with another write is retried */
    s_fault("{\"op\":\"TransactWriteItems\",\"action\":\"status\",\"status\":400,"
            "\"code\":\"TransactionCanceledException\",\"message\":\"Transaction cancelled\","
            "\"body\":{\"CancellationReasons\":[{\"Code\":\"TransactionConflict\",\"Message\":\"conflict\"},"
            "{\"Code\":\"None\"}]},\"count\":2}");
    r.status = DLD_RUN_STAGED;
    ck_assert_msg(P.vt->run_record(st, &r, tok, &err) == DLD_OK, "%s", err.message);
    ck_assert_int_eq(ddbt_stat(&S, "faultsPending"), 0);

    /* lost answers: the write happened, the answer never came; the retry of
     * the transaction (same ClientRequestToken) is applied once, the retried
     * lease write recognises its own effect */
    s_fault("{\"op\":\"TransactWriteItems\",\"action\":\"drop\",\"count\":1}");
    r.status = DLD_RUN_PUBLISHED;
    ck_assert_msg(P.vt->run_record(st, &r, tok, &err) == DLD_OK, "%s", err.message);
    char body[512];
    snprintf(body, sizeof body,
             "{\"TableName\":\"%s\",\"Key\":{\"targetTableName\":{\"S\":\"orders\"},\"load_id\":{\"N\":\"1\"}},"
             "\"ConsistentRead\":true}",
             HIST);
    cJSON *got = ddbt_call(&S, "GetItem", body, NULL);
    ck_assert_int_eq(
        cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(got, "Item"), "transitions"), "L")),
        3);
    cJSON_Delete(got);
    ck_assert_int_eq(P.vt->lease_release(st, "orders", tok, &err), DLD_OK);
    s_fault("{\"op\":\"UpdateItem\",\"action\":\"drop\",\"count\":1}");
    ck_assert_msg(P.vt->lease_acquire(st, "orders", "me", 60000, &tok, &err) == DLD_OK, "%s", err.message);
    s_fault("{\"op\":\"UpdateItem\",\"action\":\"drop\",\"count\":1}");
    ck_assert_msg(P.vt->lease_release(st, "orders", tok, &err) == DLD_OK, "%s", err.message);

    /* throttling that does not stop: a retryable error after max_attempts */
    s_fault("{\"op\":\"GetItem\",\"action\":\"status\",\"status\":400,\"code\":\"ThrottlingException\",\"count\":10}");
    int rc = P.vt->item_get(st, "orders", &text, &err);
    ck_assert_int_eq(rc, DLD_ERR_THROTTLED);
    ck_assert(err.retryable);
    ck_assert_msg(strstr(err.message, "ThrottlingException") && strstr(err.message, "5 attempts"), "%s", err.message);
    free(ddbt_proxy(&S, "DELETE", "faults", NULL));
    P.vt->close(st);
}
END_TEST

START_TEST(test_secret_never_printed)
{
    void *setup = ddbt_open_setup(&P, &S, CTL, HIST);
    P.vt->close(setup);
    /* a wrong secret: refused by the verifying proxy; the message names the
     * key id, never the secret */
    const char *secret = "Wr0ngSecretNeverToBePrinted/xyz";
    const char *opts[] = {"endpoint", S.endpoint, "region", "us-east-1", "access_key_id", S.akid,
                          "secret_access_key", secret, "table", CTL, "history_table", HIST,
                          "retry_base_delay_ms", "5", NULL};
    void *st = NULL;
    struct dld_error err = {.struct_size = sizeof(err)};
    ck_assert_int_eq(P.vt->open(dld_test_host(), opts, &st, &err), DLD_OK);
    char *text = NULL;
    int rc = P.vt->item_list(st, &text, &err);
    ck_assert_int_eq(rc, DLD_ERR_AUTH);
    ck_assert_msg(strstr(err.message, "InvalidSignatureException"), "%s", err.message);
    ck_assert_msg(!strstr(err.message, secret), "%s", err.message);
    P.vt->close(st);
    ck_assert_int_ge(ddbt_stat(&S, "rejected"), 1);
}
END_TEST

static Suite *s_suite(void)
{
    Suite *s = suite_create("state_dynamodb");
    TCase *t = tcase_create("vtable");
    tcase_add_checked_fixture(t, s_setup, s_teardown);
    tcase_set_timeout(t, 60);
    tcase_add_test(t, test_setup_creates_and_checks);
    tcase_add_test(t, test_issue_item_verbatim_and_merge);
    tcase_add_test(t, test_item_list_pages);
    tcase_add_test(t, test_leases_fencing_takeover);
    tcase_add_test(t, test_lease_race_one_winner);
    tcase_add_test(t, test_runs_commit_history);
    tcase_add_test(t, test_throttling_5xx_lost_answers);
    tcase_add_test(t, test_secret_never_printed);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(s_suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}

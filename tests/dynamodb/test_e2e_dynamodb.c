/*
 * End to end through the deltaload binary with DynamoDB state (dynalite
 * behind the verifying, fault-injecting proxy of servers.js): SQLite source
 * -> file target (CSV, read back through the manifests with the core suite's
 * lake reader).
 *
 *   - the issue's controller item, stored verbatim by today's tooling, loads
 *     and runs unchanged beside a delta table; status, history, the item's
 *     startvalue after a committed delta, unknown attributes kept;
 *   - more items than one Scan page, a wrongly typed and an incomplete item
 *     reported by table and attribute while the other tables run;
 *   - four processes started together on the same tables, three rounds:
 *     each window once (lake == every source row version);
 *   - throttling and 5xx injected through the proxy, retried;
 *   - kill -9 before and after every recorded transition, then a clean run;
 *   - a holder paused (SIGSTOP) past its lease while committing: another
 *     process takes over and settles the load; the paused commit, when it
 *     arrives, is refused.
 *
 * Every source table T has a trigger-kept T_v of every row version it ever
 * had; the property checked is lake(T) == T_v, exactly.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "ddb_test_util.h"
#include "e2e_util.h"
#include "test_host.h"

static struct ddbt_servers S;
static char s_dir[PATH_MAX], s_db[PATH_MAX + 16], CTL[96], HIST[96];

static void s_setup(void)
{
    ck_assert(ddbt_servers(&S));
    ck_assert_int_eq(dld_test_tmpdir(s_dir, sizeof s_dir, "ddb-e2e"), 0);
    snprintf(s_db, sizeof s_db, "%s/src.db", s_dir);
    ddbt_unique(CTL, sizeof CTL, "ctl");
    ddbt_unique(HIST, sizeof HIST, "hist");
    free(ddbt_proxy(&S, "POST", "reset", "{}"));
    /* the attached schema "dwh" of the issue's item */
    char dwh[PATH_MAX + 16];
    snprintf(dwh, sizeof dwh, "%s/dwh.db", s_dir);
    e2e_sql(dwh, "CREATE TABLE orders_rds(row_id INTEGER, amount TEXT);"
                 "WITH RECURSIVE n(i) AS (SELECT 377140 UNION ALL SELECT i+1 FROM n WHERE i < 377150) "
                 "INSERT INTO orders_rds SELECT i, 'a'||i FROM n;");
    /* the tables, as `deltaload state init` makes them */
    struct ddbt_plugin p;
    ddbt_plugin_load(&p);
    void *st = ddbt_open_setup(&p, &S, CTL, HIST);
    p.vt->close(st);
    ddbt_plugin_unload(&p);
}

static void s_teardown(void)
{
    free(ddbt_proxy(&S, "DELETE", "faults", NULL));
    if (getenv("DLD_KEEP_TMP") == NULL)
        dld_test_rmtree(s_dir);
    else
        fprintf(stderr, "kept %s\n", s_dir);
}

static void s_fault(const char *json)
{
    free(ddbt_proxy(&S, "POST", "faults", json));
}

static void s_config(int parallelism, const char *state_extra)
{
    char path[PATH_MAX + 32], text[8192];
    snprintf(path, sizeof path, "%s/deltaload.json", s_dir);
    snprintf(text, sizeof text,
             "{\"plugin_dirs\": [\"%s\"],\n"
             " \"source\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"src.db\", \"attach\": {\"dwh\": \"dwh.db\"}}},\n"
             " \"target\": {\"plugin\": \"file\", \"options\": {\"path\": \"lake\", \"format\": \"csv\", \"fsync\": false}},\n"
             " \"state\": {\"plugin\": \"dynamodb\", \"options\": {\"endpoint\": \"%s\", \"region\": \"us-east-1\",\n"
             "   \"access_key_id\": \"%s\", \"secret_access_key\": \"%s\", \"table\": \"%s\", \"history_table\": \"%s\",\n"
             "   \"retry_base_delay_ms\": 5%s}},\n"
             " \"engine\": {\"batch_rows\": 50, \"lease_ttl_seconds\": 1, \"parallelism\": %d}}\n",
             getenv("DLD_PLUGIN_DIR"), S.endpoint, S.akid, S.secret, CTL, HIST, state_extra ? state_extra : "",
             parallelism);
    e2e_write(path, text);
}

/* the secret never appears in what deltaload prints */
static void s_no_secret(const char *out)
{
    ck_assert_msg(strstr(out, S.secret) == NULL, "the secret access key was printed:\n%s", out);
}

static int s_run(const char *const *args)
{
    int rc = e2e_run(s_dir, args, 0);
    s_no_secret(e2e_output(s_dir));
    return rc;
}

/* A source table with a trigger-kept history of every row version. */
static void s_make_table(const char *t, int rows)
{
    char sql[2048];
    snprintf(sql, sizeof sql,
             "CREATE TABLE %s(id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, val TEXT);"
             "CREATE TABLE %s_v(id INTEGER, seq INTEGER, val TEXT);"
             "CREATE TRIGGER %s_i AFTER INSERT ON %s BEGIN INSERT INTO %s_v VALUES(NEW.id, NEW.seq, NEW.val); END;"
             "CREATE TRIGGER %s_u AFTER UPDATE ON %s BEGIN INSERT INTO %s_v VALUES(NEW.id, NEW.seq, NEW.val); END;"
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < %d) "
             "INSERT INTO %s SELECT i, (i+1)/2, 'v'||i FROM n;",
             t, t, t, t, t, t, t, t, rows, t);
    e2e_sql(s_db, sql);
}

/* Some rows change (to new, higher seq values), new rows arrive, two
 * sharing one seq (a tie at the next boundary). */
static void s_mutate(const char *t, int step)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "UPDATE %s SET seq = (SELECT max(seq)+1 FROM %s) + id, val = 'upd%d' WHERE id %% 7 = %d;"
             "INSERT INTO %s SELECT max(id)+1, (SELECT max(seq)+1 FROM %s), 'new%d-a' FROM %s;"
             "INSERT INTO %s SELECT max(id)+1, (SELECT max(seq) FROM %s), 'new%d-tie' FROM %s;",
             t, t, step, step % 7, t, t, step, t, t, t, step, t);
    e2e_sql(s_db, sql);
}

/* a delta item for source table src, as the replaced tooling stores it */
static void s_put_item(const char *target, const char *src, const char *extra)
{
    char item[1024];
    snprintf(item, sizeof item,
             "{\"targetTableName\":{\"S\":\"%s\"},\"sourceTable\":{\"S\":\"%s\"},\"sourceSchema\":{\"S\":\"main\"},"
             "\"filtercolumn\":{\"S\":\"seq\"},\"filteroperator\":{\"S\":\"gte\"},\"startvalue\":{\"S\":\"1\"},"
             "\"activeflag\":{\"S\":\"Y\"},\"ouputs3Prefix\":{\"S\":\"raw\"}%s}",
             target, src, extra ? extra : "");
    ddbt_put_raw(&S, CTL, item);
}

static void s_check_lake(const char *target, const char *src)
{
    char tdir[PATH_MAX + 64], sel[256];
    snprintf(tdir, sizeof tdir, "%s/lake/raw/main/%s", s_dir, target);
    snprintf(sel, sizeof sel, "SELECT id, seq, val FROM %s_v", src);
    const char *problem;
    char *lake = e2e_lake_rows(tdir, 3, &problem);
    char *want = e2e_source_rows(s_db, sel);
    ck_assert_msg(problem[0] == '\0', "%s: lake problem: %s", target, problem);
    ck_assert_msg(strcmp(lake, want) == 0, "%s: the lake is not every source row version once\nlake:\n%s\nwant:\n%s",
                  target, lake, want);
    free(lake);
    free(want);
}

static const char *const RUN[] = {"-c", "deltaload.json", "run", NULL};

START_TEST(test_issue_item_end_to_end)
{
    char dwh[PATH_MAX + 16];
    snprintf(dwh, sizeof dwh, "%s/dwh.db", s_dir);
    s_make_table("orders", 30);
    /* the issue's item, verbatim, and a delta table with an attribute
     * deltaload does not know */
    const char *issue_item =
        "{\"targetTableName\":{\"S\":\"orders_s3\"},\"sourceTable\":{\"S\":\"orders_rds\"},\"sourceSchema\":{\"S\":"
        "\"dwh\"},\"filtercolumn\":{\"S\":\"row_id\"},\"filteroperator\":{\"S\":\"lte\"},\"startvalue\":{\"S\":"
        "\"377145\"},\"endvalue\":{\"S\":\"377145\"},\"activeflag\":{\"S\":\"Y\"},\"ouputs3Prefix\":{\"S\":"
        "\"new_orders\"},\"replication_task_settings\":{\"S\":\"{\\\"Logging\\\": {\\\"EnableLogging\\\": true}}\"}}";
    ddbt_put_raw(&S, CTL, issue_item);
    s_put_item("orders_delta", "orders", ",\"owner_team\":{\"S\":\"payments\"}");
    cJSON *before = cJSON_Parse(issue_item);
    s_config(2, NULL);

    ck_assert_msg(s_run(RUN) == 0, "%s", e2e_output(s_dir));
    /* the full snapshot of the lte item: row_id <= 377145, under its ouputs3Prefix */
    char tdir[PATH_MAX + 64];
    snprintf(tdir, sizeof tdir, "%s/lake/new_orders/dwh/orders_s3", s_dir);
    const char *problem;
    char *lake = e2e_lake_rows(tdir, 2, &problem);
    char *want = e2e_source_rows(dwh, "SELECT row_id, amount FROM orders_rds WHERE row_id <= 377145");
    ck_assert_msg(problem[0] == '\0', "lake problem: %s", problem);
    ck_assert_str_eq(lake, want);
    free(lake);
    free(want);
    s_check_lake("orders_delta", "orders");

    /* a delta: the item's startvalue carries the committed high mark */
    s_mutate("orders", 1);
    ck_assert_msg(s_run(RUN) == 0, "%s", e2e_output(s_dir));
    s_check_lake("orders_delta", "orders");
    const char *max = e2e_sql_value(s_db, "SELECT max(seq) FROM orders");
    cJSON *item = ddbt_get_raw(&S, CTL, "orders_delta");
    ck_assert_str_eq(ddbt_attr(item, "startvalue"), max);
    ck_assert_str_eq(ddbt_attr(item, "dld_watermark"), max);
    ck_assert_str_eq(ddbt_attr(item, "owner_team"), "payments");
    ck_assert_str_eq(ddbt_attr(item, "dld_last_status"), "committed");
    ck_assert_str_eq(ddbt_attr(item, "dld_last_load_id"), "2");
    ck_assert_ptr_null(ddbt_attr(item, "dld_lease_owner")); /* released */
    cJSON_Delete(item);
    /* the issue's item: every attribute as it was (a full snapshot moves nothing) */
    item = ddbt_get_raw(&S, CTL, "orders_s3");
    for (const cJSON *a = before->child; a; a = a->next)
        ck_assert_msg(ddbt_attr(item, a->string) &&
                          !strcmp(ddbt_attr(item, a->string), cJSON_GetStringValue(cJSON_GetObjectItem(a, "S"))),
                      "attribute %s changed", a->string);
    ck_assert_str_eq(ddbt_attr(item, "dld_last_status"), "committed");
    cJSON_Delete(item);
    cJSON_Delete(before);

    /* status and history read from DynamoDB */
    const char *status_args[] = {"-c", "deltaload.json", "status", "--json", NULL};
    ck_assert_int_eq(s_run(status_args), 0);
    cJSON *st = cJSON_Parse(e2e_output(s_dir));
    ck_assert_msg(st != NULL, "%s", e2e_output(s_dir));
    int seen = 0;
    for (cJSON *t = cJSON_GetObjectItem(st, "tables")->child; t; t = t->next) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(t, "table"));
        cJSON *last = cJSON_GetObjectItem(t, "last_load");
        ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(last, "status")), "committed");
        if (!strcmp(name, "orders_delta")) {
            ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(t, "watermark")), max);
            seen++;
        } else if (!strcmp(name, "orders_s3")) {
            ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(t, "filteroperator")), "lte");
            ck_assert(cJSON_IsNull(cJSON_GetObjectItem(t, "watermark")) || !cJSON_GetObjectItem(t, "watermark"));
            seen++;
        }
    }
    ck_assert_int_eq(seen, 2);
    cJSON_Delete(st);
    const char *history_args[] = {"-c", "deltaload.json", "history", "--json", NULL};
    ck_assert_int_eq(s_run(history_args), 0);
    cJSON *h = cJSON_Parse(e2e_output(s_dir));
    cJSON *loads = cJSON_GetObjectItem(h, "loads");
    ck_assert_int_eq(cJSON_GetArraySize(loads), 4);
    double prev = 1e300;
    for (cJSON *r = loads->child; r; r = r->next) {
        double started = cJSON_GetNumberValue(cJSON_GetObjectItem(r, "started_ms"));
        ck_assert_msg(started <= prev, "history is not newest first");
        prev = started;
        ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(r, "status")), "committed");
        ck_assert_ptr_nonnull(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "info"), "load_uid")));
    }
    cJSON_Delete(h);
    const char *history_text[] = {"-c", "deltaload.json", "history", "--table", "orders_delta", NULL};
    ck_assert_int_eq(s_run(history_text), 0);
    ck_assert_msg(strstr(e2e_output(s_dir), "orders_delta") && !strstr(e2e_output(s_dir), "orders_s3"), "%s",
                  e2e_output(s_dir));
}
END_TEST

START_TEST(test_many_items_and_bad_ones)
{
    s_make_table("src", 12);
    for (int i = 0; i < 20; i++) {
        char name[16];
        snprintf(name, sizeof name, "p%02d", i);
        s_put_item(name, "src", NULL);
    }
    /* wrongly typed (a number where every attribute is a string), and one
     * without its sourceTable */
    ddbt_put_raw(&S, CTL,
                 "{\"targetTableName\":{\"S\":\"bad_typed\"},\"sourceTable\":{\"S\":\"src\"},\"filtercolumn\":{\"S\":"
                 "\"seq\"},\"startvalue\":{\"N\":\"5\"}}");
    ddbt_put_raw(&S, CTL, "{\"targetTableName\":{\"S\":\"bad_missing\"},\"filtercolumn\":{\"S\":\"seq\"}}");
    s_config(4, ", \"scan_page_size\": 3");
    int64_t scans = ddbt_stat(&S, "byOp.Scan");
    int rc = s_run(RUN);
    const char *out = e2e_output(s_dir);
    ck_assert_msg(rc == 1, "exit %d\n%s", rc, out);
    ck_assert_msg(ddbt_stat(&S, "byOp.Scan") - scans >= 8, "22 items in pages of 3 need 8 scans");
    /* each bad item named with its attribute; every other table loaded */
    char *line = strstr(out, "bad_typed");
    ck_assert_msg(line && strstr(line, "startvalue"), "%s", out);
    line = strstr(out, "bad_missing");
    ck_assert_msg(line && strstr(line, "sourceTable"), "%s", out);
    for (int i = 0; i < 20; i++) {
        char name[16];
        snprintf(name, sizeof name, "p%02d", i);
        s_check_lake(name, "src");
    }
}
END_TEST

START_TEST(test_four_processes_each_window_once)
{
    enum { TABLES = 6, PROCS = 4, ROUNDS = 3 };
    for (int t = 0; t < TABLES; t++) {
        char src[16], target[16];
        snprintf(src, sizeof src, "o%d", t);
        snprintf(target, sizeof target, "t%d", t);
        s_make_table(src, 40);
        s_put_item(target, src, NULL);
    }
    s_config(2, NULL);
    for (int round = 0; round < ROUNDS; round++) {
        pid_t pids[PROCS];
        for (int p = 0; p < PROCS; p++) {
            char out[32];
            snprintf(out, sizeof out, "proc%d.out", p);
            pids[p] = ddbt_spawn(s_dir, out, RUN);
        }
        for (int p = 0; p < PROCS; p++) {
            int rc = ddbt_wait(pids[p]);
            char path[PATH_MAX + 32];
            snprintf(path, sizeof path, "%s/proc%d.out", s_dir, p);
            char *out = ddbt_slurp(path);
            /* 0, or 4: another process held a table's lease */
            ck_assert_msg(rc == 0 || rc == 4, "round %d process %d: exit %d\n%s", round, p, rc, out ? out : "");
            s_no_secret(out ? out : "");
            free(out);
        }
        for (int t = 0; t < TABLES; t++) {
            char src[16];
            snprintf(src, sizeof src, "o%d", t);
            s_mutate(src, round + 1);
        }
    }
    /* a last single run picks up the last mutation */
    ck_assert_msg(s_run(RUN) == 0, "%s", e2e_output(s_dir));
    for (int t = 0; t < TABLES; t++) {
        char src[16], target[16];
        snprintf(src, sizeof src, "o%d", t);
        snprintf(target, sizeof target, "t%d", t);
        s_check_lake(target, src);
    }
    /* who did the work */
    const char *history_args[] = {"-c", "deltaload.json", "history", "--json", "--limit", "1000", NULL};
    ck_assert_int_eq(s_run(history_args), 0);
    cJSON *h = cJSON_Parse(e2e_output(s_dir));
    char owners[PROCS * ROUNDS + 2][128];
    int nowners = 0, committed = 0;
    for (cJSON *r = cJSON_GetObjectItem(h, "loads")->child; r; r = r->next) {
        const char *o = cJSON_GetStringValue(cJSON_GetObjectItem(r, "owner"));
        const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(r, "status"));
        committed += s && !strcmp(s, "committed");
        bool known = false;
        for (int i = 0; o && i < nowners && !known; i++)
            known = !strcmp(owners[i], o);
        if (o && !known && nowners < PROCS * ROUNDS + 2)
            snprintf(owners[nowners++], sizeof owners[0], "%s", o);
    }
    cJSON_Delete(h);
    fprintf(stderr, "four processes x %d rounds: %d committed loads by %d distinct processes\n", ROUNDS, committed,
            nowners);
    ck_assert_int_ge(committed, TABLES * (ROUNDS + 1));
}
END_TEST

START_TEST(test_throttling_and_5xx_retried)
{
    s_make_table("orders", 30);
    s_put_item("orders", "orders", NULL);
    s_config(1, NULL);
    s_fault("[{\"op\":\"Scan\",\"action\":\"status\",\"status\":400,\"code\":\"ThrottlingException\",\"count\":2},"
            " {\"op\":\"GetItem\",\"action\":\"status\",\"status\":500,\"code\":\"InternalServerError\",\"count\":2},"
            " {\"op\":\"UpdateItem\",\"action\":\"status\",\"status\":400,"
            "  \"code\":\"ProvisionedThroughputExceededException\",\"count\":2},"
            " {\"op\":\"TransactWriteItems\",\"action\":\"status\",\"status\":400,\"code\":\"ThrottlingException\","
            "  \"count\":2},"
            " {\"op\":\"TransactWriteItems\",\"action\":\"status\",\"status\":503,\"code\":\"ServiceUnavailable\","
            "  \"count\":1},"
            " {\"op\":\"Query\",\"action\":\"status\",\"status\":500,\"code\":\"InternalServerError\",\"count\":1}]");
    int64_t faults = ddbt_stat(&S, "faults");
    ck_assert_msg(s_run(RUN) == 0, "%s", e2e_output(s_dir));
    ck_assert_int_eq(ddbt_stat(&S, "faultsPending"), 0);
    ck_assert_int_eq(ddbt_stat(&S, "faults") - faults, 10);
    s_check_lake("orders", "orders");
    s_mutate("orders", 1);
    s_fault("{\"op\":\"TransactWriteItems\",\"action\":\"status\",\"status\":500,\"code\":\"InternalServerError\","
            "\"match\":\"committed\",\"count\":2}");
    ck_assert_msg(s_run(RUN) == 0, "%s", e2e_output(s_dir));
    s_check_lake("orders", "orders");
    ck_assert_int_eq(ddbt_stat(&S, "rejected"), 0); /* every request was correctly signed */
}
END_TEST

START_TEST(test_kill_at_every_transition)
{
    s_make_table("orders", 30);
    s_put_item("orders", "orders", NULL);
    s_config(1, NULL);
    ck_assert_msg(s_run(RUN) == 0, "%s", e2e_output(s_dir));
    const char *statuses[] = {"planned", "staged", "published", "committed"};
    const char *points[] = {"before", "after"};
    int step = 1;
    for (int s = 0; s < 4; s++) {
        for (int p = 0; p < 2; p++, step++) {
            s_mutate("orders", step);
            int gate;
            pid_t pid = ddbt_spawn_gated(s_dir, "killed.out", RUN, &gate);
            char fault[512];
            /* the transition's TransactWriteItems carries ":status":{"S":"<status>"} */
            snprintf(fault, sizeof fault,
                     "{\"op\":\"TransactWriteItems\",\"action\":\"kill\",\"pid\":%d,\"point\":\"%s\","
                     "\"match\":\"\\\":status\\\":\\\\{\\\"S\\\":\\\"%s\\\"\\\\}\",\"count\":1}",
                     (int)pid, points[p], statuses[s]);
            s_fault(fault);
            int64_t kills = ddbt_stat(&S, "kills");
            ddbt_go(gate);
            int rc = ddbt_wait(pid);
            ck_assert_msg(rc == 128 + SIGKILL, "%s %s: exit %d", points[p], statuses[s], rc);
            ck_assert_int_eq(ddbt_stat(&S, "kills") - kills, 1);
            usleep(1100 * 1000); /* its lease expires */
            ck_assert_msg(s_run(RUN) == 0, "after a kill %s %s:\n%s", points[p], statuses[s], e2e_output(s_dir));
            s_check_lake("orders", "orders");
        }
    }
    /* nothing is left unsettled */
    const char *history_args[] = {"-c", "deltaload.json", "history", "--json", "--limit", "1000", NULL};
    ck_assert_int_eq(s_run(history_args), 0);
    cJSON *h = cJSON_Parse(e2e_output(s_dir));
    for (cJSON *r = cJSON_GetObjectItem(h, "loads")->child; r; r = r->next) {
        const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(r, "status"));
        ck_assert_msg(strcmp(s, "planned") && strcmp(s, "staged") && strcmp(s, "published"), "load %g is %s",
                      cJSON_GetNumberValue(cJSON_GetObjectItem(r, "load_id")), s);
    }
    cJSON_Delete(h);
}
END_TEST

/* Issue 12: a run SIGKILLed while holding the lease (60 s TTL here) does not
 * block the next run: its holder is a dead process of this machine, so the
 * store's lease_break ends the lease at once. */
START_TEST(test_dead_holder_lease_released_at_once)
{
    s_make_table("orders", 30);
    s_put_item("orders", "orders", NULL);
    s_config(1, NULL);
    /* the same config with a TTL no test could wait out */
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/deltaload.json", s_dir);
    char *text = ddbt_slurp(path);
    char *ttl = text ? strstr(text, "\"lease_ttl_seconds\": 1,") : NULL;
    ck_assert_ptr_nonnull(ttl);
    memcpy(ttl, "\"lease_ttl_seconds\":60,", strlen("\"lease_ttl_seconds\":60,"));
    e2e_write(path, text);
    free(text);
    ck_assert_msg(s_run(RUN) == 0, "%s", e2e_output(s_dir));
    s_mutate("orders", 1);
    int gate;
    pid_t pid = ddbt_spawn_gated(s_dir, "killed.out", RUN, &gate);
    char fault[512];
    snprintf(fault, sizeof fault,
             "{\"op\":\"TransactWriteItems\",\"action\":\"kill\",\"pid\":%d,\"point\":\"after\","
             "\"match\":\"\\\":status\\\":\\\\{\\\"S\\\":\\\"published\\\"\\\\}\",\"count\":1}",
             (int)pid);
    s_fault(fault);
    ddbt_go(gate);
    ck_assert_int_eq(ddbt_wait(pid), 128 + SIGKILL);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_msg(s_run(RUN) == 0, "%s", e2e_output(s_dir));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert_msg(strstr(e2e_output(s_dir), "no longer running"), "%s", e2e_output(s_dir));
    ck_assert_msg(strstr(e2e_output(s_dir), "recovery"), "%s", e2e_output(s_dir));
    ck_assert_msg(t1.tv_sec - t0.tv_sec < 30, "the run waited %ld s", (long)(t1.tv_sec - t0.tv_sec));
    s_check_lake("orders", "orders");
}
END_TEST

START_TEST(test_paused_holder_commit_refused)
{
    s_make_table("orders", 30);
    s_put_item("orders", "orders", NULL);
    s_config(1, NULL);
    int gate;
    pid_t a = ddbt_spawn_gated(s_dir, "paused.out", RUN, &gate);
    char fault[512];
    snprintf(fault, sizeof fault,
             "{\"op\":\"TransactWriteItems\",\"action\":\"stop\",\"pid\":%d,"
             "\"match\":\"\\\":status\\\":\\\\{\\\"S\\\":\\\"committed\\\"\\\\}\",\"count\":1}",
             (int)a);
    s_fault(fault);
    ddbt_go(gate);
    for (int i = 0; i < 200 && ddbt_stat(&S, "stopped") < 1; i++)
        usleep(50 * 1000);
    ck_assert_int_eq(ddbt_stat(&S, "stopped"), 1);
    usleep(1300 * 1000); /* A's lease expires while it is stopped */
    /* B takes over: recovery commits A's published load */
    ck_assert_msg(s_run(RUN) == 0, "%s", e2e_output(s_dir));
    ck_assert_msg(strstr(e2e_output(s_dir), "recovery"), "%s", e2e_output(s_dir));
    s_check_lake("orders", "orders");
    /* A wakes up; its commit arrives now and is refused */
    kill(a, SIGCONT);
    free(ddbt_proxy(&S, "POST", "release", "{}"));
    int rc = ddbt_wait(a);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/paused.out", s_dir);
    char *out = ddbt_slurp(path);
    ck_assert_msg(rc != 0 && out && strstr(out, "taken over"), "exit %d\n%s", rc, out ? out : "");
    free(out);
    s_check_lake("orders", "orders");
    cJSON *item = ddbt_get_raw(&S, CTL, "orders");
    ck_assert_str_eq(ddbt_attr(item, "dld_watermark"), e2e_sql_value(s_db, "SELECT max(seq) FROM orders"));
    cJSON_Delete(item);
    s_mutate("orders", 1);
    ck_assert_msg(s_run(RUN) == 0, "%s", e2e_output(s_dir));
    s_check_lake("orders", "orders");
}
END_TEST

/* `deltaload state init` through the binary: --check reports missing
 * tables (exit 3), init creates them, a second init finds them, and a run
 * goes on the new tables. */
START_TEST(test_state_init_cli)
{
    ddbt_unique(CTL, sizeof CTL, "initctl");
    ddbt_unique(HIST, sizeof HIST, "inithist");
    s_config(1, NULL);
    const char *check[] = {"-c", "deltaload.json", "state", "init", "--check", NULL};
    int rc = s_run(check);
    ck_assert_msg(rc == 3, "exit %d: %s", rc, e2e_output(s_dir));
    ck_assert_msg(strstr(e2e_output(s_dir), "missing") && strstr(e2e_output(s_dir), "state init"), "%s",
                  e2e_output(s_dir));
    const char *init[] = {"-c", "deltaload.json", "state", "init", NULL};
    ck_assert_msg(s_run(init) == 0, "%s", e2e_output(s_dir));
    ck_assert_msg(strstr(e2e_output(s_dir), "created"), "%s", e2e_output(s_dir));
    ck_assert_msg(s_run(check) == 0, "%s", e2e_output(s_dir));
    ck_assert_msg(strstr(e2e_output(s_dir), "exists") && !strstr(e2e_output(s_dir), "missing"), "%s",
                  e2e_output(s_dir));
    s_make_table("ini_src", 10);
    s_put_item("ini", "ini_src", NULL);
    ck_assert_msg(s_run(RUN) == 0, "%s", e2e_output(s_dir));
    s_check_lake("ini", "ini_src");
}
END_TEST

/* A sqlite state store's items, history and watermark copied into DynamoDB
 * (`state copy --from`), the table going on from there without reloading
 * anything, then copied back into a new sqlite store, which goes on too. */
static void s_sqlite_config(const char *file, const char *db)
{
    char path[PATH_MAX + 32], text[4096];
    snprintf(path, sizeof path, "%s/%s", s_dir, file);
    snprintf(text, sizeof text,
             "{\"plugin_dirs\": [\"%s\"],\n"
             " \"source\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"src.db\"}},\n"
             " \"target\": {\"plugin\": \"file\", \"options\": {\"path\": \"lake\", \"format\": \"csv\", \"fsync\": false}},\n"
             " \"state\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"%s\"}},\n"
             " \"engine\": {\"batch_rows\": 50, \"lease_ttl_seconds\": 1}}\n",
             getenv("DLD_PLUGIN_DIR"), db);
    e2e_write(path, text);
}

/* `status --json` of table cp under config file: watermark and last load id */
static void s_cp_status(const char *file, char *wm, size_t cap, long *last)
{
    const char *args[] = {"-c", file, "--json", "status", "--table", "cp", NULL};
    ck_assert_msg(s_run(args) == 0, "%s", e2e_output(s_dir));
    cJSON *o = cJSON_Parse(e2e_output(s_dir));
    cJSON *t = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "tables"), 0);
    const char *w = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "watermark"));
    snprintf(wm, cap, "%s", w ? w : "");
    *last = (long)cJSON_GetNumberValue(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(t, "last_load"), "load_id"));
    cJSON_Delete(o);
}

START_TEST(test_copy_sqlite_to_dynamodb_and_back)
{
    s_make_table("cp_src", 40);
    s_sqlite_config("sqlite.json", "state.db");
    s_config(1, NULL);
    /* the item lives in the sqlite store only */
    const char *set[] = {"-c", "sqlite.json", "tables", "set", "cp", "sourceTable=cp_src", "sourceSchema=main",
                         "filtercolumn=seq", "filteroperator=gte", "startvalue=1", "activeflag=Y",
                         "ouputs3Prefix=raw", NULL};
    ck_assert_msg(s_run(set) == 0, "%s", e2e_output(s_dir));
    const char *run_sqlite[] = {"-c", "sqlite.json", "run", NULL};
    ck_assert_msg(s_run(run_sqlite) == 0, "%s", e2e_output(s_dir));
    s_mutate("cp_src", 1);
    ck_assert_msg(s_run(run_sqlite) == 0, "%s", e2e_output(s_dir));
    char wm_sqlite[64], wm_ddb[64];
    long last_sqlite, last_ddb;
    s_cp_status("sqlite.json", wm_sqlite, sizeof wm_sqlite, &last_sqlite);
    ck_assert_int_eq(last_sqlite, 2);

    /* sqlite -> DynamoDB */
    const char *copy[] = {"-c", "deltaload.json", "state", "copy", "--from", "sqlite.json", NULL};
    ck_assert_msg(s_run(copy) == 0, "%s", e2e_output(s_dir));
    ck_assert_msg(strstr(e2e_output(s_dir), "cp: copied the item, 2 run(s)"), "%s", e2e_output(s_dir));
    s_cp_status("deltaload.json", wm_ddb, sizeof wm_ddb, &last_ddb);
    ck_assert_str_eq(wm_ddb, wm_sqlite);
    ck_assert_int_eq(last_ddb, 2);
    /* a second copy is refused: the destination has loads of the table now */
    ck_assert_int_eq(s_run(copy), 1);
    ck_assert_msg(strstr(e2e_output(s_dir), "already has loads"), "%s", e2e_output(s_dir));

    /* the table goes on from DynamoDB: only the new versions are loaded */
    s_mutate("cp_src", 2);
    ck_assert_msg(s_run(RUN) == 0, "%s", e2e_output(s_dir));
    ck_assert_msg(strstr(e2e_output(s_dir), "load 3 committed"), "%s", e2e_output(s_dir));
    s_check_lake("cp", "cp_src");

    /* DynamoDB -> a new sqlite store, which goes on too */
    s_sqlite_config("sqlite2.json", "state2.db");
    const char *back[] = {"-c", "sqlite2.json", "state", "copy", "--from", "deltaload.json", "--table", "cp", NULL};
    ck_assert_msg(s_run(back) == 0, "%s", e2e_output(s_dir));
    s_mutate("cp_src", 3);
    const char *run2[] = {"-c", "sqlite2.json", "run", NULL};
    ck_assert_msg(s_run(run2) == 0, "%s", e2e_output(s_dir));
    ck_assert_msg(strstr(e2e_output(s_dir), "load 4 committed"), "%s", e2e_output(s_dir));
    s_check_lake("cp", "cp_src");
    const char *hist[] = {"-c", "sqlite2.json", "--json", "history", "--table", "cp", NULL};
    ck_assert_msg(s_run(hist) == 0, "%s", e2e_output(s_dir));
    cJSON *h = cJSON_Parse(e2e_output(s_dir));
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(h, "loads")), 4);
    cJSON_Delete(h);
}
END_TEST

static Suite *s_suite(void)
{
    Suite *s = suite_create("dynamodb_e2e");
    TCase *t = tcase_create("e2e");
    tcase_add_checked_fixture(t, s_setup, s_teardown);
    tcase_set_timeout(t, 120);
    tcase_add_test(t, test_issue_item_end_to_end);
    tcase_add_test(t, test_many_items_and_bad_ones);
    tcase_add_test(t, test_four_processes_each_window_once);
    tcase_add_test(t, test_throttling_and_5xx_retried);
    tcase_add_test(t, test_kill_at_every_transition);
    tcase_add_test(t, test_paused_holder_commit_refused);
    tcase_add_test(t, test_dead_holder_lease_released_at_once);
    tcase_add_test(t, test_copy_sqlite_to_dynamodb_and_back);
    tcase_add_test(t, test_state_init_cli);
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

/*
 * End-to-end: the deltaload binary on the embedded defaults (source-sqlite,
 * target-file, state-sqlite), checked by reading the lake back and
 * comparing it with every row version the source ever had.
 *
 * The source table keeps a `seq` column that every insert and update sets
 * to a new value (a row version counter), and a trigger copies every
 * version into `versions`. Changes happen only between runs, so the lake
 * must hold exactly the rows of `versions`: each once, nothing else.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "e2e_util.h"
#include "test_host.h"

static char s_dir[PATH_MAX];
static char s_db[PATH_MAX + 16];

#define RUN(...) e2e_run(s_dir, (const char *const[]){__VA_ARGS__, NULL}, 0)

static void s_setup(void)
{
    ck_assert_int_eq(dld_test_tmpdir(s_dir, sizeof s_dir, "e2e"), 0);
    snprintf(s_db, sizeof s_db, "%s/src.db", s_dir);
}

static void s_teardown(void)
{
    if (getenv("DLD_KEEP_TMP") == NULL)
        dld_test_rmtree(s_dir);
}

/* the source: n rows, seq = id, plus the version log */
static void s_source(int n)
{
    char sql[1024];
    e2e_sql(s_db, "CREATE TABLE orders(id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, val TEXT);"
                  "CREATE TABLE versions(id INTEGER, seq INTEGER, val TEXT);"
                  "CREATE TRIGGER v_ins AFTER INSERT ON orders BEGIN INSERT INTO versions VALUES(new.id, new.seq, new.val); END;"
                  "CREATE TRIGGER v_upd AFTER UPDATE ON orders BEGIN INSERT INTO versions VALUES(new.id, new.seq, new.val); END;"
                  "CREATE INDEX orders_seq ON orders(seq);");
    snprintf(sql, sizeof sql,
             "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < %d) "
             "INSERT INTO orders SELECT i, i, CASE WHEN i %% 11 = 0 THEN NULL "
             "ELSE 'v' || i || CASE WHEN i %% 7 = 0 THEN ',\"q\"' ELSE '' END END FROM c",
             n);
    e2e_sql(s_db, sql);
}

/* Updates some rows, moving them into a later window, then inserts rows
 * (three of them sharing one seq value: a tie at the next boundary). A row
 * changes at most once between two runs, so every version is observed. */
static void s_mutate(int step)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "UPDATE orders SET seq = (SELECT max(seq)+1 FROM orders) + id, val = 'upd%d' WHERE id %% 13 = %d;"
             "INSERT INTO orders SELECT max(id)+1, (SELECT max(seq)+1 FROM orders), 'new%d-a' FROM orders;"
             "INSERT INTO orders SELECT max(id)+1, (SELECT max(seq)+1 FROM orders), 'new%d-b' FROM orders;"
             "INSERT INTO orders SELECT max(id)+1, (SELECT max(seq) FROM orders), 'new%d-tie1' FROM orders;"
             "INSERT INTO orders SELECT max(id)+1, (SELECT max(seq) FROM orders), 'new%d-tie2' FROM orders;",
             step, step % 13, step, step, step, step);
    e2e_sql(s_db, sql);
}

/* A killed process's lease stays until it expires (lease_ttl_seconds: 1 here). */
static void s_wait_lease(void) { usleep(1100000); }

static void s_config(const char *state, const char *target, const char *extra)
{
    char path[PATH_MAX + 32], text[8192];
    snprintf(path, sizeof path, "%s/deltaload.json", s_dir);
    const char *pdir = getenv("DLD_PLUGIN_DIR");
    char default_state[1024], default_target[1024];
    snprintf(default_state, sizeof default_state, "{\"plugin\": \"sqlite\", \"options\": {\"path\": \"state.db\"}}");
    snprintf(default_target, sizeof default_target,
             "{\"plugin\": \"file\", \"options\": {\"path\": \"lake\", \"format\": \"csv\", \"fsync\": false}}");
    snprintf(text, sizeof text,
             "{\"plugin_dirs\": [\"%s\", \"%s\"],\n"
             " \"source\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"src.db\"}},\n"
             " \"target\": %s,\n \"state\": %s,\n"
             " \"engine\": {\"batch_rows\": 50, \"lease_ttl_seconds\": 1%s},\n"
             " \"tables\": [{\"targetTableName\": \"orders\", \"sourceSchema\": \"main\", \"sourceTable\": \"orders\","
             " \"filtercolumn\": \"seq\", \"filteroperator\": \"gte\", \"startvalue\": \"1\", \"activeflag\": \"Y\","
             " \"ouputs3Prefix\": \"raw\"}]}\n",
             pdir, getenv("DLD_TEST_PLUGIN_DIR"), target ? target : default_target, state ? state : default_state,
             extra ? extra : "");
    e2e_write(path, text);
}

/* state/target configs that die at a chosen point (tests/core/plugins/crash_wrappers.c) */
static void s_crash_state(int kill_at, const char *point)
{
    char state[2048];
    snprintf(state, sizeof state,
             "{\"plugin\": \"crash\", \"options\": {\"inner\": \"%s/dld-state-sqlite.so\", \"path\": \"state.db\","
             " \"kill_at\": %d, \"kill_point\": \"%s\"}}",
             getenv("DLD_PLUGIN_DIR"), kill_at, point);
    s_config(state, NULL, NULL);
}

static void s_crash_target(const char *where, int after_writes)
{
    char target[2048];
    snprintf(target, sizeof target,
             "{\"plugin\": \"crash\", \"options\": {\"inner\": \"%s/dld-target-file.so\", \"path\": \"lake\","
             " \"max_file_size\": 2048, \"kill_in\": \"%s\", \"kill_after_writes\": %d}}",
             getenv("DLD_PLUGIN_DIR"), where, after_writes);
    s_config(NULL, target, NULL);
}

/* The property: lake == every version, once; lake hygiene clean. */
static void s_check_lake(void)
{
    char tdir[PATH_MAX + 32];
    snprintf(tdir, sizeof tdir, "%s/lake/raw/main/orders", s_dir);
    const char *problem;
    char *lake = e2e_lake_rows(tdir, 3, &problem);
    char *want = e2e_source_rows(s_db, "SELECT id, seq, val FROM versions");
    ck_assert_msg(problem[0] == '\0', "lake problem: %s", problem);
    if (strcmp(lake, want) != 0) {
        FILE *f = fopen("/tmp/dld-lakediff-lake.txt", "w");
        fputs(lake, f);
        fclose(f);
        f = fopen("/tmp/dld-lakediff-want.txt", "w");
        fputs(want, f);
        fclose(f);
    }
    ck_assert_msg(strcmp(lake, want) == 0, "lake differs from source versions (see /tmp/dld-lakediff-{lake,want}.txt)");
    free(lake);
    free(want);
}

START_TEST(delta_inserts_updates_and_ties)
{
    s_source(120);
    s_config(NULL, NULL, NULL);
    ck_assert_int_eq(RUN("run"), 0);
    for (int step = 1; step <= 3; step++) {
        s_mutate(step);
        ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    }
    s_check_lake();
    /* a run with nothing new moves nothing and writes nothing */
    ck_assert_int_eq(RUN("--json", "run"), 0);
    ck_assert_ptr_nonnull(strstr(e2e_output(s_dir), "\"outcome\":\t\"noop\""));
    s_check_lake();
    ck_assert_int_eq(RUN("--json", "status"), 0);
    char want[64];
    snprintf(want, sizeof want, "\"watermark\":\t\"%s\"", e2e_sql_value(s_db, "SELECT max(seq) FROM orders"));
    ck_assert_msg(strstr(e2e_output(s_dir), want), "status lacks %s: %s", want, e2e_output(s_dir));
}
END_TEST

/* kill -9 at every state transition (before and after it is recorded), rerun */
START_TEST(kill_at_every_transition)
{
    static const char *points[] = {"before", "after"};
    int k = _i / 2 + 1;
    const char *point = points[_i % 2];
    s_source(60);
    s_config(NULL, NULL, NULL);
    ck_assert_int_eq(RUN("run"), 0);
    s_mutate(1);
    s_crash_state(k, point);
    int rc = RUN("run");
    ck_assert_msg(rc == 128 + 9, "expected SIGKILL at transition %d %s, got exit %d: %s", k, point, rc,
                  e2e_output(s_dir));
    s_wait_lease();
    s_config(NULL, NULL, NULL);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_mutate(2);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_check_lake();
}
END_TEST

/* kill -9 inside the target: mid-stream, after staging, after publishing,
 * and during the recovery's clean-up itself */
START_TEST(kill_inside_target)
{
    static const char *where[] = {"write", "finish", "publish", "discard"};
    s_source(400);
    s_config(NULL, NULL, NULL);
    ck_assert_int_eq(RUN("run"), 0);
    e2e_sql(s_db, "UPDATE orders SET seq = seq + 1000, val = 'bulk' WHERE id <= 200 AND id % 13 <> 1");
    s_mutate(1);
    if (!strcmp(where[_i], "discard")) {
        s_crash_target("write", 2); /* leave a dead attempt behind ... */
        ck_assert_int_eq(RUN("run"), 128 + 9);
        s_wait_lease();
    }
    s_crash_target(where[_i], 2); /* ... and die again while recovering it */
    int rc = RUN("run");
    ck_assert_msg(rc == 128 + 9, "expected SIGKILL in %s, got %d: %s", where[_i], rc, e2e_output(s_dir));
    s_wait_lease();
    s_config(NULL, NULL, NULL);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_check_lake();
}
END_TEST

/* A load fails and so does the removal of its files: the next run removes
 * them before it loads anything (no stray file ever stays behind). */
START_TEST(failed_cleanup_is_retried)
{
    s_source(300);
    s_config(NULL, NULL, NULL);
    ck_assert_int_eq(RUN("run"), 0);
    s_mutate(1);
    e2e_sql(s_db, "UPDATE orders SET seq = seq + 5000, val = 'again' WHERE id <= 150 AND id % 13 <> 1");
    char target[2048];
    snprintf(target, sizeof target,
             "{\"plugin\": \"crash\", \"options\": {\"inner\": \"%s/dld-target-file.so\", \"path\": \"lake\","
             " \"max_file_size\": 2048, \"fail_write\": true, \"fail_discard\": true, \"kill_after_writes\": 2}}",
             getenv("DLD_PLUGIN_DIR"));
    s_config(NULL, target, NULL);
    ck_assert_int_eq(RUN("run"), 1);
    ck_assert_msg(strstr(e2e_output(s_dir), "could not be settled: removing the files of load"), "%s", e2e_output(s_dir));
    /* the failed load's files are still there: the lake is not clean yet */
    char tdir[PATH_MAX + 32];
    snprintf(tdir, sizeof tdir, "%s/lake/raw/main/orders", s_dir);
    const char *problem;
    free(e2e_lake_rows(tdir, 3, &problem));
    ck_assert_msg(problem[0] != '\0', "expected leftovers of the failed load");
    /* the clean-up keeps failing: the table makes no progress and says why */
    ck_assert_int_eq(RUN("run"), 1);
    ck_assert_msg(strstr(e2e_output(s_dir), "recovering load 2: removing the files of load 2"), "%s", e2e_output(s_dir));
    s_config(NULL, NULL, NULL);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_check_lake();
}
END_TEST

/* A step slower than the lease (here a 1.5 s load_finish against a 1 s
 * lease) renews the lease before recording the next transition. */
START_TEST(slow_step_renews_lease)
{
    s_source(100);
    char target[2048];
    snprintf(target, sizeof target,
             "{\"plugin\": \"crash\", \"options\": {\"inner\": \"%s/dld-target-file.so\", \"path\": \"lake\","
             " \"finish_sleep_ms\": 1500}}",
             getenv("DLD_PLUGIN_DIR"));
    s_config(NULL, target, NULL);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_check_lake();
}
END_TEST

/* kill -9 at random moments of loads with many batches and files */
START_TEST(kill_at_random_points)
{
    s_source(6000);
    char target[512];
    snprintf(target, sizeof target,
             "{\"plugin\": \"file\", \"options\": {\"path\": \"lake\", \"format\": \"csv\", \"fsync\": true, "
             "\"max_file_size\": 4096}}");
    s_config(NULL, target, NULL);
    unsigned seed = (unsigned)getpid();
    int killed = 0, last_rc = -1, max_delay = 25;
    for (int round = 0; round < 16; round++) {
        /* change the source only after a load finished, so no version is
         * overwritten before some load could see it */
        if (round % 3 == 1 || (last_rc == 0 && round % 2 == 0)) {
            if (last_rc != 0)
                ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
            char sql[256];
            snprintf(sql, sizeof sql, "UPDATE orders SET seq = seq + 100000, val = 'moved' WHERE id %% 5 = 0 AND id %% 13 <> %d",
                     round % 13);
            e2e_sql(s_db, sql);
            s_mutate(round);
        }
        /* Kill somewhere inside the run: the range follows the machine's
         * speed (a sanitizer build is several times slower), widening after
         * a kill and set from the length of the last run that finished. */
        int delay = 1 + (int)(rand_r(&seed) % (unsigned)max_delay);
        int64_t t0 = dld_test_real_ms();
        int rc = e2e_run(s_dir, (const char *const[]){"run", NULL}, delay);
        int64_t took = dld_test_real_ms() - t0;
        if (rc == 128 + 9)
            max_delay = max_delay * 3 / 2 > 10000 ? 10000 : max_delay * 3 / 2;
        else
            max_delay = took * 5 / 4 > 25 ? (int)(took * 5 / 4) : 25;
        last_rc = rc;
        killed += rc == 128 + 9;
        if (rc == 128 + 9)
            s_wait_lease();
        ck_assert_msg(rc == 0 || rc == 128 + 9, "round %d: exit %d: %s", round, rc, e2e_output(s_dir));
    }
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    fprintf(stderr, "kill_at_random_points: %d of 16 runs killed\n", killed);
    s_check_lake();
}
END_TEST

START_TEST(failed_table_keeps_watermark_others_go_on)
{
    s_source(30);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/deltaload.json", s_dir);
    char text[4096];
    snprintf(text, sizeof text,
             "{\"plugin_dirs\": [\"%s\"], \"source\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"src.db\"}},"
             " \"target\": {\"plugin\": \"file\", \"options\": {\"path\": \"lake\", \"format\": \"csv\"}},"
             " \"state\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"state.db\"}}, \"engine\": {\"parallelism\": 2},"
             " \"tables\": [{\"targetTableName\": \"orders\", \"sourceTable\": \"orders\", \"filtercolumn\": \"seq\","
             " \"filteroperator\": \"gte\", \"startvalue\": \"1\", \"ouputs3Prefix\": \"raw\", \"sourceSchema\": \"main\"},"
             " {\"targetTableName\": \"broken\", \"sourceTable\": \"no_such_table\", \"filtercolumn\": \"seq\","
             " \"filteroperator\": \"gte\", \"startvalue\": \"1\"},"
             " {\"targetTableName\": \"injection\", \"sourceTable\": \"orders\\\"; DROP TABLE orders; --\","
             " \"filtercolumn\": \"seq\", \"filteroperator\": \"gte\", \"startvalue\": \"1\"}]}",
             getenv("DLD_PLUGIN_DIR"));
    e2e_write(path, text);
    ck_assert_int_eq(RUN("run"), 1);
    const char *out = e2e_output(s_dir);
    ck_assert_msg(strstr(out, "no such table: main.no_such_table"), "%s", out);
    /* the hostile name was quoted as one identifier, not executed */
    ck_assert_msg(strstr(out, "no such table: main.orders\"; DROP TABLE orders; --"), "%s", out);
    ck_assert_str_eq(e2e_sql_value(s_db, "SELECT count(*) FROM orders"), "30");
    s_check_lake();
    ck_assert_int_eq(RUN("--json", "status", "--table", "broken"), 0);
    out = e2e_output(s_dir);
    ck_assert_msg(strstr(out, "\"watermark\":\tnull") && strstr(out, "\"status\":\t\"failed\""), "%s", out);
    ck_assert_msg(strstr(out, "no such table"), "%s", out);
}
END_TEST

START_TEST(hostile_items_refused)
{
    s_source(5);
    s_config(NULL, NULL, NULL);
    ck_assert_int_eq(RUN("run"), 0);
    /* path traversal through targetTableName, a control character, a bad operator */
    ck_assert_int_eq(RUN("tables", "set", "../../etc", "sourceTable=orders"), 3);
    ck_assert_msg(strstr(e2e_output(s_dir), "may not contain '/'"), "%s", e2e_output(s_dir));
    ck_assert_int_eq(RUN("tables", "set", "t2", "sourceTable=a\tb"), 3);
    ck_assert_msg(strstr(e2e_output(s_dir), "control character"), "%s", e2e_output(s_dir));
    ck_assert_int_eq(RUN("tables", "set", "t3", "sourceTable=orders", "filtercolumn=seq", "filteroperator=like"), 3);
    ck_assert_msg(strstr(e2e_output(s_dir), "unknown filteroperator 'like'"), "%s", e2e_output(s_dir));
    /* an item written into the store by something else is refused at run time, others go on */
    char state[PATH_MAX + 16];
    snprintf(state, sizeof state, "%s/state.db", s_dir);
    e2e_sql(state, "INSERT INTO items(name, item_json) VALUES('evil', "
                   "'{\"targetTableName\":\"evil\",\"sourceTable\":\"orders\",\"ouputs3Prefix\":\"../../outside\"}')");
    s_mutate(1);
    ck_assert_int_eq(RUN("run"), 1);
    ck_assert_msg(strstr(e2e_output(s_dir), "'..' path segment"), "%s", e2e_output(s_dir));
    s_check_lake();
    struct stat st;
    char outside[PATH_MAX + 32];
    snprintf(outside, sizeof outside, "%s/outside", s_dir);
    ck_assert_int_ne(stat(outside, &st), 0);
}
END_TEST

START_TEST(plan_writes_nothing)
{
    s_source(10);
    s_config(NULL, NULL, NULL);
    ck_assert_int_eq(RUN("plan"), 0);
    const char *out = e2e_output(s_dir);
    ck_assert_msg(strstr(out, "window [1, 10]"), "%s", out);
    ck_assert_msg(strstr(out, "SELECT * FROM \"main\".\"orders\" WHERE \"seq\" IS NOT NULL AND \"seq\" >= ?1 AND "
                              "\"seq\" <= ?2 -- ?1=1, ?2=10"),
                  "%s", out);
    struct stat st;
    char p[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/lake/raw", s_dir);
    ck_assert_int_ne(stat(p, &st), 0);
    snprintf(p, sizeof p, "%s/state.db", s_dir);
    if (stat(p, &st) == 0) /* the store may exist (opened), but holds no run and no item */
        ck_assert_str_eq(e2e_sql_value(p, "SELECT count(*) FROM runs") , "0");
}
END_TEST

START_TEST(backfill_reset_and_tables)
{
    s_source(40);
    s_config(NULL, NULL, NULL);
    ck_assert_int_eq(RUN("run"), 0);
    ck_assert_int_eq(RUN("--json", "backfill", "--table", "orders", "--from", "10", "--to", "19"), 0);
    ck_assert_msg(strstr(e2e_output(s_dir), "\"rows\":\t10"), "%s", e2e_output(s_dir));
    ck_assert_int_eq(RUN("--json", "status"), 0);
    char want[64];
    snprintf(want, sizeof want, "\"watermark\":\t\"%s\"", e2e_sql_value(s_db, "SELECT max(seq) FROM orders"));
    ck_assert_msg(strstr(e2e_output(s_dir), want), "backfill moved the watermark: %s", e2e_output(s_dir));
    ck_assert_int_eq(RUN("reset", "--table", "orders", "--to", "35"), 0);
    ck_assert_int_eq(RUN("plan"), 0);
    ck_assert_msg(strstr(e2e_output(s_dir), "window (35, "), "%s", e2e_output(s_dir));
    ck_assert_int_eq(RUN("reset", "--table", "nope", "--to", "1"), 3);
    ck_assert_int_eq(RUN("tables", "disable", "orders"), 0);
    ck_assert_int_eq(RUN("--json", "tables", "show", "orders"), 0);
    ck_assert_msg(strstr(e2e_output(s_dir), "\"activeflag\":\t\"N\""), "%s", e2e_output(s_dir));
    ck_assert_int_eq(RUN("tables", "set", "extra", "sourceTable=orders", "filtercolumn=id", "filteroperator=eq",
                         "startvalue=3", "ouputs3Prefix=raw"),
                     0);
    ck_assert_int_eq(RUN("tables", "list"), 0);
    ck_assert_msg(strstr(e2e_output(s_dir), "extra"), "%s", e2e_output(s_dir));
    ck_assert_int_eq(RUN("--json", "run", "--table", "extra"), 0);
    ck_assert_msg(strstr(e2e_output(s_dir), "\"mode\":\t\"full\"") && strstr(e2e_output(s_dir), "\"rows\":\t1,"),
                  "%s", e2e_output(s_dir));
    ck_assert_int_eq(RUN("tables", "remove", "extra"), 0);
    ck_assert_int_eq(RUN("run", "--table", "extra"), 3);
    ck_assert_int_eq(RUN("history", "--limit", "3"), 0);
    ck_assert_int_eq(RUN("run", "--bogus"), 2);
}
END_TEST

/* A process stopped while holding a table's lease makes others skip the
 * table (exit 4); once the lease expires the next run recovers the load. */
START_TEST(lease_held_then_expired)
{
    s_source(100);
    s_config(NULL, NULL, NULL);
    ck_assert_int_eq(RUN("run"), 0);
    s_mutate(1);
    s_crash_target("stop", 1);
    /* the stopped process is killed after 6 s; its lease stays behind */
    char dir2[PATH_MAX];
    snprintf(dir2, sizeof dir2, "%s", s_dir);
    pid_t child = fork();
    if (child == 0) {
        e2e_run(dir2, (const char *const[]){"run", NULL}, 6000);
        _exit(0);
    }
    /* wait until it really is stopped inside the load (not a fixed sleep:
     * a busy machine may take longer to get there) */
    for (int i = 0; i < 100 && !strstr(e2e_output(s_dir), "SIGSTOP at finish"); i++)
        usleep(50000);
    ck_assert_msg(strstr(e2e_output(s_dir), "SIGSTOP at finish"), "the first run never stopped: %s", e2e_output(s_dir));
    s_config(NULL, NULL, NULL);
    ck_assert_int_eq(RUN("run"), 4);
    ck_assert_msg(strstr(e2e_output(s_dir), "leased"), "%s", e2e_output(s_dir));
    int status;
    waitpid(child, &status, 0);
    s_wait_lease();
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    ck_assert_msg(strstr(e2e_output(s_dir), "recovery:"), "%s", e2e_output(s_dir));
    s_check_lake();
}
END_TEST

/* The embedded defaults compiled into the binary: no plugin directory at all. */
START_TEST(builtin_plugins_without_plugin_dir)
{
    s_source(20);
    char bindir[PATH_MAX + 8], cmd[3 * PATH_MAX];
    snprintf(bindir, sizeof bindir, "%s/bin", s_dir);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s' '%s/deltaload'", bindir, getenv("DLD_BIN"), bindir);
    ck_assert_int_eq(system(cmd), 0);
    char cfg[PATH_MAX + 32];
    snprintf(cfg, sizeof cfg, "%s/deltaload.json", s_dir);
    e2e_write(cfg, "{\"source\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"src.db\"}},"
                   " \"target\": {\"plugin\": \"file\", \"options\": {\"path\": \"lake\", \"format\": \"csv\"}},"
                   " \"state\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"state.db\"}},"
                   " \"tables\": [{\"targetTableName\": \"orders\", \"sourceSchema\": \"main\", \"sourceTable\": \"orders\","
                   " \"filtercolumn\": \"seq\", \"ouputs3Prefix\": \"raw\"}]}");
    char *saved = getenv("DLD_BIN");
    char bin[PATH_MAX + 32];
    snprintf(bin, sizeof bin, "%s/deltaload", bindir);
    saved = strdup(saved);
    setenv("DLD_BIN", bin, 1);
    unsetenv("DELTALOAD_PLUGIN_PATH");
    ck_assert_int_eq(RUN("--json", "plugins", "list"), 0);
    const char *out = e2e_output(s_dir);
    ck_assert_msg(strstr(out, "\"path\":\t\"(built in)\""), "%s", out);
    ck_assert_msg(!strstr(out, ".so\""), "a .so was found: %s", out);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    setenv("DLD_BIN", saved, 1);
    free(saved);
    s_check_lake();
}
END_TEST

/* between: a delta bounded above by endvalue; rows beyond it never load */
START_TEST(between_stops_at_endvalue)
{
    s_source(50);
    char cfg[PATH_MAX + 32], text[4096];
    snprintf(cfg, sizeof cfg, "%s/deltaload.json", s_dir);
    snprintf(text, sizeof text,
             "{\"plugin_dirs\": [\"%s\"], \"source\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"src.db\"}},"
             " \"target\": {\"plugin\": \"file\", \"options\": {\"path\": \"lake\", \"format\": \"csv\"}},"
             " \"state\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"state.db\"}},"
             " \"tables\": [{\"targetTableName\": \"orders\", \"sourceSchema\": \"main\", \"sourceTable\": \"orders\","
             " \"filtercolumn\": \"seq\", \"filteroperator\": \"between\", \"startvalue\": 10, \"endvalue\": 70,"
             " \"ouputs3Prefix\": \"raw\"}]}",
             getenv("DLD_PLUGIN_DIR"));
    e2e_write(cfg, text);
    ck_assert_int_eq(RUN("--json", "run"), 0);
    ck_assert_msg(strstr(e2e_output(s_dir), "\"rows\":\t41"), "%s", e2e_output(s_dir)); /* 10..50 */
    e2e_sql(s_db, "WITH RECURSIVE c(i) AS (SELECT 51 UNION ALL SELECT i+1 FROM c WHERE i < 100) "
                  "INSERT INTO orders SELECT i, i, 'late' || i FROM c");
    ck_assert_int_eq(RUN("--json", "run"), 0);
    ck_assert_msg(strstr(e2e_output(s_dir), "\"high\":\t\"70\"") && strstr(e2e_output(s_dir), "\"rows\":\t20"), "%s",
                  e2e_output(s_dir)); /* 51..70 */
    ck_assert_int_eq(RUN("--json", "run"), 0);
    ck_assert_msg(strstr(e2e_output(s_dir), "\"outcome\":\t\"noop\""), "%s", e2e_output(s_dir));
    char tdir[PATH_MAX + 32];
    snprintf(tdir, sizeof tdir, "%s/lake/raw/main/orders", s_dir);
    const char *problem;
    char *lake = e2e_lake_rows(tdir, 3, &problem);
    char *want = e2e_source_rows(s_db, "SELECT id, seq, val FROM orders WHERE seq BETWEEN 10 AND 70");
    ck_assert_msg(problem[0] == '\0', "%s", problem);
    ck_assert_str_eq(lake, want);
    free(lake);
    free(want);
}
END_TEST

/* lines of a lake listing that start with prefix */
static int s_lines_with(const char *rows, const char *prefix)
{
    int n = 0;
    size_t len = strlen(prefix);
    for (const char *p = rows; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        n += strncmp(p, prefix, len) == 0;
    return n;
}

/* source-sqlite: text times with mixed offsets load once each across runs
 * (compared as instants), and values that do not fit the filter column
 * (startvalue, reset --to, backfill bounds) fail the table by name */
START_TEST(sqlite_time_forms_and_bad_values)
{
    e2e_sql(s_db, "CREATE TABLE ev(id INTEGER PRIMARY KEY, ts DATETIME, val TEXT);"
                  "INSERT INTO ev VALUES (1, '2026-01-01T09:00Z', 'a'), (2, '2026-01-01T10:00+02:00', 'b'),"
                  " (3, '2026-01-01T09:30Z', 'c');"
                  "CREATE TABLE num(id INTEGER PRIMARY KEY, seq INTEGER, val TEXT); INSERT INTO num VALUES (1, 1, 'x');");
    char cfg[PATH_MAX + 32], text[4096];
    snprintf(cfg, sizeof cfg, "%s/deltaload.json", s_dir);
    snprintf(text, sizeof text,
             "{\"plugin_dirs\": [\"%s\"], \"source\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"src.db\"}},"
             " \"target\": {\"plugin\": \"file\", \"options\": {\"path\": \"lake\", \"format\": \"csv\"}},"
             " \"state\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"state.db\"}},"
             " \"tables\": [{\"targetTableName\": \"ev\", \"sourceSchema\": \"main\", \"sourceTable\": \"ev\","
             " \"filtercolumn\": \"ts\", \"filteroperator\": \"gte\", \"ouputs3Prefix\": \"raw\"},"
             " {\"targetTableName\": \"num\", \"sourceSchema\": \"main\", \"sourceTable\": \"num\","
             " \"filtercolumn\": \"seq\", \"filteroperator\": \"gte\", \"startvalue\": \"abc\", \"ouputs3Prefix\": \"raw\"}]}",
             getenv("DLD_PLUGIN_DIR"));
    e2e_write(cfg, text);
    ck_assert_int_eq(RUN("run"), 1);
    const char *out = e2e_output(s_dir);
    ck_assert_msg(strstr(out, "startvalue 'abc' does not fit filter column seq (INTEGER"), "%s", out);
    /* as text, 10:00+02:00 (08:00Z) would be the high mark and 09:45Z would never load */
    e2e_sql(s_db, "INSERT INTO ev VALUES (4, '2026-01-01T09:45Z', 'd'), (5, '2026-01-01T11:50+02:00', 'e')");
    ck_assert_msg(RUN("run", "--table", "ev") == 0, "%s", e2e_output(s_dir));
    char tdir[PATH_MAX + 32];
    snprintf(tdir, sizeof tdir, "%s/lake/raw/main/ev", s_dir);
    const char *problem;
    char *lake = e2e_lake_rows(tdir, 3, &problem);
    ck_assert_msg(problem[0] == '\0', "%s", problem);
    ck_assert_msg(s_lines_with(lake, "") == 5, "%s", lake);
    for (int id = 1; id <= 5; id++) {
        char prefix[16];
        snprintf(prefix, sizeof prefix, "%d|", id);
        ck_assert_msg(s_lines_with(lake, prefix) == 1, "id %d: %s", id, lake);
    }
    free(lake);
    ck_assert_int_eq(RUN("reset", "--table", "ev", "--to", "not-a-date"), 0);
    ck_assert_int_eq(RUN("run", "--table", "ev"), 1);
    ck_assert_msg(strstr(e2e_output(s_dir), "'not-a-date' does not fit filter column ts (DATETIME)"), "%s",
                  e2e_output(s_dir));
    ck_assert_int_ne(RUN("backfill", "--table", "ev", "--from", "2026-01-01T09:00Z", "--to", "yesterday"), 0);
    ck_assert_msg(strstr(e2e_output(s_dir), "'yesterday' does not fit filter column ts"), "%s", e2e_output(s_dir));
}
END_TEST

/* daemon: cycles on the scheduler; --max-cycles ends it, so does SIGTERM */
START_TEST(daemon_cycles_and_stops_on_sigterm)
{
    s_source(30);
    s_config(NULL, NULL, NULL);
    char cfg[PATH_MAX + 32];
    snprintf(cfg, sizeof cfg, "%s/deltaload.json", s_dir);
    /* add the test scheduler (fires every 200 ms) to the generated config */
    char cmd[2 * PATH_MAX];
    snprintf(cmd, sizeof cmd,
             "sed -i 's|^ \"source\"| \"scheduler\": {\"plugin\": \"fast\", \"options\": {\"interval_ms\": 200}},\\n \"source\"|' '%s'",
             cfg);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_msg(RUN("daemon", "--max-cycles", "3") == 0, "%s", e2e_output(s_dir));
    const char *out = e2e_output(s_dir);
    ck_assert_msg(strstr(out, "committed load 1") && strstr(out, "noop      load 2") && strstr(out, "noop      load 3"),
                  "%s", out);
    s_check_lake();
    /* a daemon without a cycle limit stops on SIGTERM, promptly and cleanly */
    pid_t pid = fork();
    if (pid == 0) {
        ck_assert_int_eq(chdir(s_dir), 0);
        execl(getenv("DLD_BIN"), "deltaload", "daemon", (char *)NULL);
        _exit(127);
    }
    usleep(900000);
    kill(pid, SIGTERM);
    int status = 0;
    int64_t t0 = dld_test_real_ms();
    waitpid(pid, &status, 0);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "daemon did not exit 0 on SIGTERM (status %d)", status);
    ck_assert_msg(dld_test_real_ms() - t0 < 3000, "daemon took too long to stop");
}
END_TEST

/* engine.batch_rows is shared by the loads running at once (engine.c,
 * s_batch_rows): N = min(parallelism, tables), batch_rows / N each, at
 * least 4,096 (or batch_rows when smaller) */
static void s_tables_config(int parallelism, int batch_rows)
{
    char path[PATH_MAX + 32], text[4096];
    snprintf(path, sizeof path, "%s/deltaload.json", s_dir);
    snprintf(text, sizeof text,
             "{\"plugin_dirs\": [\"%s\"], \"source\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"src.db\"}},"
             " \"target\": {\"plugin\": \"file\", \"options\": {\"path\": \"lake\", \"format\": \"csv\", \"fsync\": false}},"
             " \"state\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"state.db\"}},"
             " \"engine\": {\"parallelism\": %d, \"batch_rows\": %d}, \"tables\": ["
             " {\"targetTableName\": \"a\", \"sourceTable\": \"orders\", \"filtercolumn\": \"seq\", \"filteroperator\": \"gte\","
             " \"startvalue\": \"1\", \"sourceSchema\": \"main\"},"
             " {\"targetTableName\": \"b\", \"sourceTable\": \"orders\", \"filtercolumn\": \"seq\", \"filteroperator\": \"gte\","
             " \"startvalue\": \"1\", \"sourceSchema\": \"main\"},"
             " {\"targetTableName\": \"c\", \"sourceTable\": \"orders\", \"filtercolumn\": \"seq\", \"filteroperator\": \"gte\","
             " \"startvalue\": \"1\", \"sourceSchema\": \"main\"}]}",
             getenv("DLD_PLUGIN_DIR"), parallelism, batch_rows);
    e2e_write(path, text);
}

START_TEST(batch_rows_shared_by_running_loads)
{
    s_source(30);
    static const struct { int parallelism, batch_rows; const char *want; } cases[] = {
        {1, 10000, "1 load(s) at once: each asks for batches of 10000 rows"},
        {2, 10000, "2 load(s) at once: each asks for batches of 5000 rows"},
        {8, 10000, "3 load(s) at once: each asks for batches of 4096 rows"}, /* 3 tables; 3333 < 4096 */
        {2, 50, "2 load(s) at once: each asks for batches of 50 rows"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_tables_config(cases[i].parallelism, cases[i].batch_rows);
        ck_assert_int_eq(RUN("-v", "run"), 0);
        const char *out = e2e_output(s_dir);
        ck_assert_msg(strstr(out, cases[i].want), "case %zu: %s", i, out);
        if (i == 0) { /* the first run loads every table whole */
            int loaded = 0;
            for (const char *p = out; (p = strstr(p, "committed: 30 rows")) != NULL; p++)
                loaded++;
            ck_assert_msg(loaded == 3, "%s", out);
        }
    }
}
END_TEST

static Suite *s_suite(void)
{
    Suite *s = suite_create("e2e");
    TCase *tc = tcase_create("e2e");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, delta_inserts_updates_and_ties);
    tcase_add_loop_test(tc, kill_at_every_transition, 0, 8);
    tcase_add_loop_test(tc, kill_inside_target, 0, 4);
    tcase_add_test(tc, failed_table_keeps_watermark_others_go_on);
    tcase_add_test(tc, hostile_items_refused);
    tcase_add_test(tc, plan_writes_nothing);
    tcase_add_test(tc, backfill_reset_and_tables);
    tcase_add_test(tc, lease_held_then_expired);
    tcase_add_test(tc, builtin_plugins_without_plugin_dir);
    tcase_add_test(tc, between_stops_at_endvalue);
    tcase_add_test(tc, sqlite_time_forms_and_bad_values);
    tcase_add_test(tc, failed_cleanup_is_retried);
    tcase_add_test(tc, slow_step_renews_lease);
    tcase_add_test(tc, daemon_cycles_and_stops_on_sigterm);
    tcase_add_test(tc, batch_rows_shared_by_running_loads);
    suite_add_tcase(s, tc);
    /* its own case so it can be repeated alone: CK_RUN_CASE=random */
    TCase *tr = tcase_create("random");
    tcase_add_checked_fixture(tr, s_setup, s_teardown);
    tcase_set_timeout(tr, 120);
    tcase_add_test(tr, kill_at_random_points);
    suite_add_tcase(s, tr);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(s_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

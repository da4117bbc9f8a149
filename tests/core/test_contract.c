/*
 * The host checks what plugins hand it (core/contract.c): plugins that break
 * the contract on purpose (plugins/contract_plugins.c) run through the
 * deltaload binary; each ends in a clear error naming the plugin, the call
 * and the table, with the documented exit status, and the lake and the
 * state are left as they were (the next honest run loads the window once).
 * Also: a crash inside a plugin call is named; `plugins list` survives a
 * file that crashes while loading; option tables are validated at load;
 * `list` and `run` resolve a name to the same file; the conformance kit
 * passes the built-in plugins and fails broken ones.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "e2e_util.h"
#include "test_host.h"

static char s_dir[PATH_MAX];
static char s_db[PATH_MAX + 16];

#define RUN(...) e2e_run(s_dir, (const char *const[]){__VA_ARGS__, NULL}, 0)
#define OUT() e2e_output(s_dir)
#define HAS(text)                                                                                                  \
    ck_assert_msg(strstr(OUT(), (text)) != NULL, "expected \"%s\" in the output:\n%s", (text), OUT())

static void s_setup(void)
{
    ck_assert_int_eq(dld_test_tmpdir(s_dir, sizeof s_dir, "contract"), 0);
    snprintf(s_db, sizeof s_db, "%s/src.db", s_dir);
    e2e_sql(s_db, "CREATE TABLE orders(id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, val TEXT);"
                  "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 1000) "
                  "INSERT INTO orders SELECT i, i, 'v' || i FROM c;");
}

static void s_teardown(void)
{
    if (getenv("DLD_KEEP_TMP") == NULL)
        dld_test_rmtree(s_dir);
}

/* source: plugin name and lie; op: "gte" or "between" (1..500); state and
 * scheduler plugin names */
static void s_config4(const char *source, const char *lie, const char *op, const char *state, const char *sched)
{
    char path[PATH_MAX + 32], text[8192];
    snprintf(path, sizeof path, "%s/deltaload.json", s_dir);
    snprintf(text, sizeof text,
             "{\"plugin_dirs\": [\"%s\", \"%s\"],\n"
             " \"source\": {\"plugin\": \"%s\", \"options\": {\"path\": \"src.db\"%s%s%s}},\n"
             " \"target\": {\"plugin\": \"file\", \"options\": {\"path\": \"lake\", \"format\": \"csv\", \"fsync\": false}},\n"
             " \"state\": {\"plugin\": \"%s\", \"options\": {\"path\": \"state.db\"%s%s%s}},\n"
             " \"scheduler\": {\"plugin\": \"%s\", \"options\": {\"expression\": \"rate(1 minute)\"%s%s%s}},\n"
             " \"engine\": {\"batch_rows\": 100, \"lease_ttl_seconds\": 1, \"retries\": 0},\n"
             " \"tables\": [{\"targetTableName\": \"orders\", \"sourceSchema\": \"main\", \"sourceTable\": \"orders\","
             " \"filtercolumn\": \"seq\", \"filteroperator\": \"%s\", \"startvalue\": \"1\"%s, \"activeflag\": \"Y\","
             " \"ouputs3Prefix\": \"raw\"}]}\n",
             getenv("DLD_CONTRACT_DIR"), getenv("DLD_PLUGIN_DIR"), source, !strcmp(source, "liar") && lie ? ", \"lie\": \"" : "",
             !strcmp(source, "liar") && lie ? lie : "", !strcmp(source, "liar") && lie ? "\"" : "", state, !strcmp(state, "liar") && lie ? ", \"lie\": \"" : "",
             !strcmp(state, "liar") && lie ? lie : "", !strcmp(state, "liar") && lie ? "\"" : "", sched,
             !strcmp(sched, "liar") && lie ? ", \"lie\": \"" : "", !strcmp(sched, "liar") && lie ? lie : "",
             !strcmp(sched, "liar") && lie ? "\"" : "", op, !strcmp(op, "between") ? ", \"endvalue\": \"500\"" : "");
    e2e_write(path, text);
}

static void s_config(const char *source, const char *lie, const char *op)
{
    s_config4(source, lie, op, "sqlite", "local");
}

/* the lake's rows of orders ("" when nothing is published); hygiene clean */
static char *s_lake(void)
{
    char tdir[PATH_MAX + 32];
    snprintf(tdir, sizeof tdir, "%s/lake/raw/main/orders", s_dir);
    const char *problem;
    char *rows = e2e_lake_rows(tdir, 3, &problem);
    ck_assert_msg(problem[0] == '\0', "lake problem: %s", problem);
    return rows;
}

/* A failed lie left nothing behind: the lake is empty, and an honest run
 * (the real sqlite source) then loads the window exactly once. */
static void s_then_honest(const char *op, const char *want_select)
{
    char *lake = s_lake();
    ck_assert_msg(lake[0] == '\0', "the lake holds rows after the refused load:\n%.300s", lake);
    free(lake);
    usleep(1100 * 1000); /* a crashed process's lease expires (ttl 1 s) */
    s_config("sqlite", NULL, op);
    ck_assert_msg(RUN("run") == 0, "honest run: %s", OUT());
    HAS("committed");
    lake = s_lake();
    char *want = e2e_source_rows(s_db, want_select);
    ck_assert_msg(strcmp(lake, want) == 0, "lake differs from the source window");
    free(lake);
    free(want);
}

START_TEST(high_mark_past_endvalue_refused)
{
    s_config("liar", "high_past_end", "between");
    ck_assert_int_eq(RUN("run"), 1);
    HAS("source plugin 'liar' broke the plugin contract in extract_begin for table 'orders'");
    HAS("high mark 1250, above endvalue 500");
    s_then_honest("between", "SELECT id, seq, val FROM orders WHERE seq BETWEEN 1 AND 500");
}
END_TEST

START_TEST(high_mark_below_low_refused)
{
    s_config("liar", "high_below_low", "gte");
    ck_assert_int_eq(RUN("run"), 1);
    HAS("source plugin 'liar' broke the plugin contract in extract_begin for table 'orders'");
    HAS("high mark 0, below the low bound 1");
    s_then_honest("gte", "SELECT id, seq, val FROM orders");
}
END_TEST

/* DLD_OK with nothing filled: an error, not an endless loop */
START_TEST(ok_without_batch_refused)
{
    s_config("liar", "unfilled", "gte");
    ck_assert_int_eq(RUN("run"), 1);
    HAS("source plugin 'liar' broke the plugin contract in extract_next for table 'orders'");
    HAS("DLD_OK with the schema unfilled");
    s_then_honest("gte", "SELECT id, seq, val FROM orders");
}
END_TEST

START_TEST(unknown_code_and_missing_message)
{
    s_config("liar", "bad_code", "gte");
    ck_assert_int_eq(RUN("run"), 1);
    HAS("source plugin 'liar' broke the plugin contract in extract_next for table 'orders': it returned 42, which is "
        "not a return code of the ABI");
    s_config("liar", "no_message", "gte");
    ck_assert_int_eq(RUN("run"), 1);
    HAS("source plugin 'liar' failed in extract_next for table 'orders' with fatal and left no message");
    s_then_honest("gte", "SELECT id, seq, val FROM orders");
}
END_TEST

/* A SIGSEGV inside a plugin call is named, and the table recovers. */
START_TEST(crash_in_plugin_call_named)
{
    s_config("liar", "crash_next", "gte");
    int rc = RUN("run");
    ck_assert_msg(rc != 0, "the crash went unnoticed");
    const char *san = getenv("DLD_SANITIZED"); /* a sanitizer's SEGV handler exits instead */
    if (san == NULL || san[0] == '\0')
        ck_assert_msg(rc == 128 + 11, "exit %d, expected death by SIGSEGV (139)", rc);
    HAS("deltaload: fatal signal SIGSEGV inside source plugin 'liar' (");
    HAS("dld-source-liar.so), in its extract_next call for table 'orders'");
    s_then_honest("gte", "SELECT id, seq, val FROM orders");
    s_config("liar", "crash_open", "gte");
    ck_assert_int_ne(RUN("run"), 0);
    HAS("fatal signal SIGSEGV inside source plugin 'liar' (");
    HAS("in its open call");
}
END_TEST

/* A stack overflow inside a plugin call (the handler runs on the thread's
 * alternate stack) is named the same way, and the table recovers. */
START_TEST(stack_overflow_in_plugin_call_named)
{
    s_config("liar", "overflow_next", "gte");
    int rc = RUN("run");
    ck_assert_msg(rc != 0, "the overflow went unnoticed");
    const char *san = getenv("DLD_SANITIZED"); /* ASan reports the overflow and exits instead */
    if (san == NULL || san[0] == '\0')
        ck_assert_msg(rc == 128 + 11, "exit %d, expected death by SIGSEGV (139):\n%s", rc, OUT());
    HAS("deltaload: fatal signal SIGSEGV inside source plugin 'liar' (");
    HAS("dld-source-liar.so), in its extract_next call for table 'orders'; the process stops here");
    s_then_honest("gte", "SELECT id, seq, val FROM orders");
}
END_TEST

START_TEST(state_run_last_of_another_table)
{
    s_config("sqlite", NULL, "gte");
    ck_assert_int_eq(RUN("run"), 0);
    e2e_sql(s_db, "INSERT INTO orders VALUES (1001, 1001, 'new')");
    s_config4("sqlite", "run_last_other", "gte", "liar", "local");
    ck_assert_int_eq(RUN("run"), 1);
    HAS("state plugin 'liar' broke the plugin contract in run_last for table 'orders': it returned a run of table "
        "'some_other_table'");
    s_config("sqlite", NULL, "gte");
    ck_assert_int_eq(RUN("run"), 0);
    char *lake = s_lake();
    char *want = e2e_source_rows(s_db, "SELECT id, seq, val FROM orders");
    ck_assert_str_eq(lake, want);
    free(lake);
    free(want);
}
END_TEST

START_TEST(scheduler_fire_not_after_refused)
{
    s_config4("sqlite", "next_not_after", "gte", "sqlite", "liar");
    int rc = RUN("daemon", "--max-cycles", "2");
    ck_assert_msg(rc != 0, "daemon accepted a fire time that is not after the instant asked: %s", OUT());
    HAS("scheduler plugin 'liar' broke the plugin contract in next_fire");
    HAS("which is not after it");
}
END_TEST

/* option tables checked at load, refusing the plugin by name */
START_TEST(option_tables_refused)
{
    static const struct {
        const char *name, *why;
    } cases[] = {
        {"dupopt", "option 'path' is declared twice"},
        {"baddefault", "the default of option 'batch' (many) is not an integer"},
        {"badchoice", "the default of option 'mode' (fast) is not one of its choices slow|safe"},
        {"reserved", "option 'x': member reserved must be NULL"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_config(cases[i].name, NULL, "gte");
        ck_assert_int_eq(RUN("run"), 3);
        char want[256];
        snprintf(want, sizeof want, "source plugin '%s' refused: its option table is wrong: %s", cases[i].name,
                 cases[i].why);
        HAS(want);
    }
    ck_assert_int_eq(RUN("plugins", "list"), 0);
    HAS("refused: ");
    HAS("option 'path' is declared twice");
}
END_TEST

/* A file that crashes while loading does not take `plugins list` or
 * `describe` down; `list` and `run` agree on which file a name means. */
START_TEST(list_survives_and_agrees_with_run)
{
    char path[PATH_MAX + 32], text[2048];
    snprintf(path, sizeof path, "%s/deltaload.json", s_dir);
    snprintf(text, sizeof text,
             "{\"plugin_dirs\": [\"%s\", \"%s\", \"%s\"],\n"
             " \"source\": {\"plugin\": \"twice\", \"options\": {}},\n"
             " \"target\": {\"plugin\": \"file\", \"options\": {\"path\": \"lake\"}},\n"
             " \"state\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"state.db\"}},\n"
             " \"tables\": [{\"targetTableName\": \"orders\", \"sourceSchema\": \"main\", \"sourceTable\": \"orders\","
             " \"activeflag\": \"Y\"}]}\n",
             getenv("DLD_CONTRACT_DIR_FIRST"), getenv("DLD_CONTRACT_DIR"), getenv("DLD_PLUGIN_DIR"));
    e2e_write(path, text);
    ck_assert_int_eq(RUN("plugins", "list"), 0);
    HAS("dld-source-ctorcrash.so: loading it crashed the process (");
    HAS("fatal signal SIGSEGV inside source plugin 'ctorcrash'");
    HAS("dlopen (constructors)");
    /* the first copy of "twice" is refused; the good one behind it is shadowed */
    char first[PATH_MAX + 64], second[PATH_MAX + 64];
    snprintf(first, sizeof first, "refused: %s/dld-source-twice.so: source plugin 'twice' refused",
             getenv("DLD_CONTRACT_DIR_FIRST"));
    snprintf(second, sizeof second, "shadowed: %s/dld-source-twice.so (source twice): ", getenv("DLD_CONTRACT_DIR"));
    HAS(first);
    HAS(second);
    HAS("the name resolves to the refused file");
    /* the built-in sqlite source is shadowed by the file of the same name */
    HAS("shadowed: (built in) (source sqlite)");
    ck_assert_int_eq(RUN("plugins", "describe", "sqlite"), 0);
    HAS("options:");
    /* run refuses the same file, with the same reason */
    ck_assert_int_eq(RUN("run"), 3);
    HAS(first + strlen("refused: "));
}
END_TEST

/* the conformance kit: the built-in plugins pass, broken ones fail */
START_TEST(kit_passes_builtins_fails_broken)
{
    char so[PATH_MAX + 64];
    const char *builtins[][2] = {{"target", "file"}, {"state", "sqlite"}, {"scheduler", "local"}, {"source", "sqlite"}};
    for (size_t i = 0; i < 4; i++) {
        snprintf(so, sizeof so, "%s/dld-%s-%s.so", getenv("DLD_PLUGIN_DIR"), builtins[i][0], builtins[i][1]);
        int rc = !strcmp(builtins[i][0], "scheduler")
                     ? RUN("plugins", "check", so, "--options", "{\"expression\": \"rate(5 minutes)\"}")
                     : RUN("plugins", "check", so);
        HAS("PASS");
        ck_assert_msg(rc == 0, "kit failed %s:\n%s", so, OUT());
        ck_assert_msg(strstr(OUT(), "FAIL") == NULL, "%s", OUT());
    }
    snprintf(so, sizeof so, "%s/dld-scheduler-liar.so", getenv("DLD_CONTRACT_DIR"));
    ck_assert_int_eq(RUN("plugins", "check", so, "--options", "{\"expression\": \"rate(5 minutes)\", \"lie\": \"next_not_after\"}"), 1);
    HAS("FAIL");
    snprintf(so, sizeof so, "%s/dld-state-liar.so", getenv("DLD_CONTRACT_DIR"));
    ck_assert_int_eq(RUN("plugins", "check", so, "--options", "{\"lie\": \"run_last_other\"}"), 1);
    HAS("FAIL");
    snprintf(so, sizeof so, "%s/dld-source-liar.so", getenv("DLD_CONTRACT_DIR"));
    ck_assert_int_eq(RUN("plugins", "check", so, "--scratch-sqlite", "--options", "{\"lie\": \"high_past_end\"}"), 1);
    HAS("FAIL  between: the high mark capped at endvalue");
    HAS("broke the plugin contract in extract_begin");
    /* the SDK's example source, on its own generated table */
    snprintf(so, sizeof so, "%s/dld-source-counter.so", getenv("DLD_CONTRACT_DIR"));
    ck_assert_msg(RUN("plugins", "check", so, "--options", "{\"rows\": 100}", "--table", "t", "--filter-column", "id") == 0,
                  "the example fails the kit:\n%s", OUT());
    HAS("PASS  between: the high mark capped at endvalue");
    HAS("PASS  an empty fixed window: one empty batch");
    snprintf(so, sizeof so, "%s/dld-source-dupopt.so", getenv("DLD_CONTRACT_DIR"));
    ck_assert_int_eq(RUN("plugins", "check", so), 3);
    HAS("declared twice");
}
END_TEST

/* the kit's fixture: printed as SQL, created by the author and named with
 * --table; broken copies of the sqlite source fail the tests they break,
 * exit 1; the schedulers built here pass on rate and cron expressions */
START_TEST(kit_fixture_and_broken_copies)
{
    char so[PATH_MAX + 64], opts[PATH_MAX + 64], db[PATH_MAX + 16];
    ck_assert_int_eq(RUN("plugins", "check", "--fixture", "sqlite"), 0);
    HAS("CREATE TABLE kit_t (id INTEGER NOT NULL PRIMARY KEY, seq BIGINT NOT NULL");
    snprintf(db, sizeof db, "%s/fixture.db", s_dir);
    e2e_sql(db, OUT());
    ck_assert_int_eq(RUN("plugins", "check", "--fixture", "postgres", "--table", "public.kit_t"), 0);
    HAS("CREATE TABLE public.kit_t");
    HAS("'\\xdeadbeef'");
    ck_assert_int_eq(RUN("plugins", "check", "--fixture", "oracle"), 0);
    HAS("HEXTORAW('deadbeef')");
    HAS("TIMESTAMP '2024-03-05 12:34:56.5 +02:00'");
    ck_assert_int_eq(RUN("plugins", "check", "--fixture", "mysql"), 2);

    /* the sqlite source on the table created from the printed SQL */
    snprintf(so, sizeof so, "%s/dld-source-sqlite.so", getenv("DLD_PLUGIN_DIR"));
    snprintf(opts, sizeof opts, "{\"path\": \"%s\"}", db);
    int rc = RUN("plugins", "check", so, "--options", opts, "--table", "kit_t", "--schema", "main");
    ck_assert_msg(rc == 0, "%s", OUT());
    HAS("PASS  window (10, 20]: ties on both bounds");
    HAS("PASS  types: NUMERIC(12,3) exact");
    HAS("PASS  types: TIMESTAMP WITH TIME ZONE (the instant)");
    HAS("PASS  interrupt between batches: the source stops promptly");
    HAS("26 passed, 0 failed, 1 skipped"); /* commit order: sqlite has no commit clock */
    /* a changed fixture fails: a tie removed, a decimal rounded */
    e2e_sql(db, "DELETE FROM kit_t WHERE id = 41; UPDATE kit_t SET c_num = 2 WHERE id = 2;");
    ck_assert_int_eq(RUN("plugins", "check", so, "--options", opts, "--table", "kit_t", "--schema", "main"), 1);
    HAS("FAIL  window (10, 20]: ties on both bounds");
    HAS("1 rows missing (id 41)");
    HAS("FAIL  types: NUMERIC(12,3) exact");
    HAS("id 2: decimal 2.000 (d:12,3) for 1.5");

    /* broken copies of the sqlite source (the liar around it) */
    static const char *lies[][2] = {
        {"ties_on_low", "FAIL  window (10, 20]: ties on both bounds"},
        {"round_decimal", "FAIL  types: NUMERIC(12,3) exact"},
        {"done_on_cancel", "FAIL  interrupt between batches: the source stops promptly"},
        {"schema_lies", "FAIL  extract_info.schema (ABI 1.2): the batches' columns before any row"},
    };
    snprintf(so, sizeof so, "%s/dld-source-liar.so", getenv("DLD_CONTRACT_DIR"));
    for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
        snprintf(opts, sizeof opts, "{\"lie\": \"%s\"}", lies[i][0]);
        ck_assert_int_eq(RUN("plugins", "check", so, "--scratch-sqlite", "--options", opts), 1);
        HAS(lies[i][1]);
    }
    ck_assert_int_eq(RUN("plugins", "check", so, "--scratch-sqlite", "--options", "{\"lie\": \"done_on_cancel\"}"), 1);
    HAS("DLD_DONE after 7 of the 120 rows");
    /* --slow-table: a wait that polls the interrupt passes, one deaf to it fails */
    rc = RUN("plugins", "check", so, "--scratch-sqlite", "--slow-table", "kit_slow", "--options",
             "{\"lie\": \"slow_honest\"}");
    ck_assert_msg(rc == 0, "%s", OUT());
    HAS("PASS  interrupt during a slow high-mark query (extract_begin)");
    HAS("PASS  interrupt during a slow read (extract_next)");
    HAS("PASS  the instance works after an interrupted statement");
    ck_assert_int_eq(RUN("plugins", "check", so, "--scratch-sqlite", "--slow-table", "kit_slow", "--options",
                         "{\"lie\": \"slow_deaf\"}"),
                     1);
    HAS("FAIL  interrupt during a slow high-mark query (extract_begin)");
    HAS("interrupted during extract_begin, which returned ok");

    /* the file target writing CSV, and Iceberg tables */
    snprintf(so, sizeof so, "%s/dld-target-file.so", getenv("DLD_PLUGIN_DIR"));
    rc = RUN("plugins", "check", so, "--options", "{\"format\": \"csv\", \"fsync\": false}");
    ck_assert_msg(rc == 0 && strstr(OUT(), "FAIL") == NULL, "%s", OUT());
    rc = RUN("plugins", "check", so, "--options", "{\"table_format\": \"iceberg\"}");
    ck_assert_msg(rc == 0 && strstr(OUT(), "FAIL") == NULL, "%s", OUT());

    /* the schedulers: rate and cron (eventbridge when it is built) */
    static const char *sched[][2] = {{"local", "{\"expression\": \"cron(15 3 * * ? *)\"}"},
                                     {"eventbridge", "{\"expression\": \"rate(5 minutes)\"}"},
                                     {"eventbridge", "{\"expression\": \"cron(0/10 8-17 ? * MON-FRI *)\"}"}};
    for (size_t i = 0; i < sizeof sched / sizeof sched[0]; i++) {
        snprintf(so, sizeof so, "%s/dld-scheduler-%s.so", getenv("DLD_PLUGIN_DIR"), sched[i][0]);
        if (access(so, R_OK) != 0)
            continue;
        rc = RUN("plugins", "check", so, "--options", sched[i][1]);
        ck_assert_msg(rc == 0 && strstr(OUT(), "FAIL") == NULL, "%s %s:\n%s", so, sched[i][1], OUT());
    }
}
END_TEST

static Suite *s_suite(void)
{
    Suite *s = suite_create("contract");
    TCase *tc = tcase_create("contract");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, high_mark_past_endvalue_refused);
    tcase_add_test(tc, high_mark_below_low_refused);
    tcase_add_test(tc, ok_without_batch_refused);
    tcase_add_test(tc, unknown_code_and_missing_message);
    tcase_add_test(tc, crash_in_plugin_call_named);
    tcase_add_test(tc, stack_overflow_in_plugin_call_named);
    tcase_add_test(tc, state_run_last_of_another_table);
    tcase_add_test(tc, scheduler_fire_not_after_refused);
    tcase_add_test(tc, option_tables_refused);
    tcase_add_test(tc, list_survives_and_agrees_with_run);
    suite_add_tcase(s, tc);
    TCase *tk = tcase_create("kit");
    tcase_add_checked_fixture(tk, s_setup, s_teardown);
    tcase_set_timeout(tk, 60);
    tcase_add_test(tk, kit_passes_builtins_fails_broken);
    tcase_add_test(tk, kit_fixture_and_broken_copies);
    suite_add_tcase(s, tk);
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

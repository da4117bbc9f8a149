/*
 * Exactly-once under every failure (docs/semantics.md), driven through the
 * deltaload binary on source-sqlite, target-file and state-sqlite:
 *
 *   - matrix: one injected failure at every step of a load (state store and
 *     target, tests/core/plugins/fault_wrappers.c) × {retryable, fatal, lost
 *     response} × {discard works, the first discard fails}. Run 1 carries
 *     the fault; clean runs follow. Checked: run 1's exit status tells the
 *     truth (0 exactly when its window was committed), the lake holds every
 *     source row version exactly once read through the manifests and by
 *     listing the folder, and no two committed loads overlap;
 *   - the same lake read back by DuckDB (Parquet), once;
 *   - a stalled holder (SIGSTOP past its lease) is fenced: the next process
 *     recovers and commits the window, the holder's late publish is refused
 *     and its files are gone;
 *   - a lost state store: run refuses, `state rebuild` restores the
 *     watermark, the next run loads only new versions, the old files are
 *     untouched;
 *   - an operator reset while a load is published but not committed.
 *
 * The source keeps every row version in `versions` (triggers); the source
 * only changes between runs, and a change made after a failed run only
 * touches rows already committed, so every version is observable.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "e2e_util.h"
#include "test_host.h"

static char s_dir[1024];           /* short enough for every path built from it */
static char s_db[1100];
static char s_tdir[1100]; /* the table's lake folder */
static char s_combo[256];          /* names the case in every failure message */

#define RUN(...) e2e_run(s_dir, (const char *const[]){__VA_ARGS__, NULL}, 0)
#define CHECK(cond, ...) ck_assert_msg((cond), "[%s] " __VA_ARGS__)
#define OUT() e2e_output(s_dir)

static void s_setup(void)
{
    ck_assert_int_eq(dld_test_tmpdir(s_dir, sizeof s_dir, "exactly-once"), 0);
    snprintf(s_db, sizeof s_db, "%s/src.db", s_dir);
    snprintf(s_tdir, sizeof s_tdir, "%s/lake/raw/main/orders", s_dir);
    snprintf(s_combo, sizeof s_combo, "-");
}

static void s_teardown(void)
{
    if (getenv("DLD_KEEP_TMP") == NULL)
        dld_test_rmtree(s_dir);
}

/* ---- the source ---------------------------------------------------------------- */

/* n rows, seq = id, plus the version log */
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

/* Moves rows whose current version is at or below `committed` (already in a
 * committed window) into a later window, then inserts rows, three of them
 * sharing one seq value (a tie at the next boundary). Never touches a
 * version that a not yet committed window still has to load. */
static void s_mutate(int step, long committed)
{
    char sql[1536];
    snprintf(sql, sizeof sql,
             "UPDATE orders SET seq = (SELECT max(seq)+1 FROM orders) + id, val = 'upd%d' "
             "WHERE id %% 13 = %d AND seq <= %ld;"
             "INSERT INTO orders SELECT max(id)+1, (SELECT max(seq)+1 FROM orders), 'new%d-a' FROM orders;"
             "INSERT INTO orders SELECT max(id)+1, (SELECT max(seq)+1 FROM orders), 'new%d-b' FROM orders;"
             "INSERT INTO orders SELECT max(id)+1, (SELECT max(seq) FROM orders), 'new%d-tie1' FROM orders;"
             "INSERT INTO orders SELECT max(id)+1, (SELECT max(seq) FROM orders), 'new%d-tie2' FROM orders;",
             step, step % 13, committed, step, step, step, step);
    e2e_sql(s_db, sql);
}

/* Moves most rows of load 1 into the next window with longer values: a
 * window of several batches and several files (max_file_size 1024). */
static void s_bulk(void)
{
    e2e_sql(s_db, "UPDATE orders SET seq = seq + 1000, val = 'bulk ' || id || ' ' || "
                  "substr('abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz', 1, 30 + id % 17) "
                  "WHERE id <= 60 AND id % 13 <> 1");
}

static long s_max_seq(void) { return atol(e2e_sql_value(s_db, "SELECT max(seq) FROM orders")); }

/* ---- configs --------------------------------------------------------------------- */

static const char *s_pdir(void) { return getenv("DLD_PLUGIN_DIR"); }

/* deltaload.json in `dir`; every path absolute, so a second process can run
 * from its own directory (its own last.out) against the same source, store
 * and lake. NULL state/target: the plain plugins. */
static void s_config_in(const char *dir, const char *state, const char *target)
{
    char path[PATH_MAX + 32], text[16384], st[4096], tg[4096];
    snprintf(st, sizeof st, "{\"plugin\": \"sqlite\", \"options\": {\"path\": \"%s/state.db\"}}", s_dir);
    snprintf(tg, sizeof tg,
             "{\"plugin\": \"file\", \"options\": {\"path\": \"%s/lake\", \"format\": \"csv\", \"fsync\": false,"
             " \"max_file_size\": 1024}}",
             s_dir);
    snprintf(path, sizeof path, "%s/deltaload.json", dir);
    snprintf(text, sizeof text,
             "{\"plugin_dirs\": [\"%s\", \"%s\"],\n"
             " \"source\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"%s\"}},\n"
             " \"target\": %s,\n \"state\": %s,\n"
             " \"engine\": {\"batch_rows\": 25, \"lease_ttl_seconds\": 1, \"retries\": 1, \"retry_delay_ms\": 10},\n"
             " \"tables\": [{\"targetTableName\": \"orders\", \"sourceSchema\": \"main\", \"sourceTable\": \"orders\","
             " \"filtercolumn\": \"seq\", \"filteroperator\": \"gte\", \"startvalue\": \"1\", \"activeflag\": \"Y\","
             " \"ouputs3Prefix\": \"raw\"}]}\n",
             s_pdir(), getenv("DLD_TEST_PLUGIN_DIR"), s_db, target ? target : tg, state ? state : st);
    e2e_write(path, text);
}

static void s_config(const char *state, const char *target) { s_config_in(s_dir, state, target); }

static void s_state_fault(char *buf, size_t cap, const char *fail_at, const char *kind)
{
    snprintf(buf, cap,
             "{\"plugin\": \"fault\", \"options\": {\"inner\": \"%s/dld-state-sqlite.so\", \"path\": \"%s/state.db\","
             " \"fail_at\": \"%s\", \"fail_kind\": \"%s\"}}",
             s_pdir(), s_dir, fail_at, kind);
}

static void s_target_fault_nth(char *buf, size_t cap, const char *fail_at, const char *kind, int nth,
                               bool discard_fails, const char *format, const char *stop_in)
{
    snprintf(buf, cap,
             "{\"plugin\": \"fault\", \"options\": {\"inner\": \"%s/dld-target-file.so\", \"path\": \"%s/lake\","
             " \"format\": \"%s\", \"fsync\": false, \"max_file_size\": 1024, \"fail_at\": \"%s\","
             " \"fail_kind\": \"%s\", \"fail_nth\": %d, \"discard_fails\": %s, \"stop_in\": \"%s\"}}",
             s_pdir(), s_dir, format, fail_at, kind, nth > 0 ? nth : 1, discard_fails ? "true" : "false", stop_in);
}

static void s_target_fault(char *buf, size_t cap, const char *fail_at, const char *kind, bool discard_fails,
                           const char *format, const char *stop_in)
{
    s_target_fault_nth(buf, cap, fail_at, kind, 1, discard_fails, format, stop_in);
}

static void s_target_crash(char *buf, size_t cap, const char *kill_in)
{
    snprintf(buf, cap,
             "{\"plugin\": \"crash\", \"options\": {\"inner\": \"%s/dld-target-file.so\", \"path\": \"%s/lake\","
             " \"format\": \"csv\", \"max_file_size\": 1024, \"kill_in\": \"%s\", \"kill_after_writes\": 1}}",
             s_pdir(), s_dir, kill_in);
}

/* A killed holder's lease stays until it expires. */
static void s_wait_lease(void) { usleep(1150000); }
/* ... or expire it now, as the clock would (the row and its token stay). */
static void s_expire_lease(void)
{
    char st[PATH_MAX + 16];
    snprintf(st, sizeof st, "%s/state.db", s_dir);
    e2e_sql(st, "UPDATE leases SET expires_ms = 0");
}

/* ---- reading results --------------------------------------------------------------- */

/* The JSON document a --json command printed (stdout; log lines on stderr
 * are single-line objects, the document is printed formatted). */
static cJSON *s_json_of(const char *out)
{
    const char *p = !strncmp(out, "{\n", 2) ? out : strstr(out, "\n{\n");
    if (p && *p == '\n')
        p++;
    return p ? cJSON_Parse(p) : NULL;
}

static cJSON *s_cmd_json(const char *const *args)
{
    int rc = e2e_run(s_dir, args, 0);
    CHECK(rc == 0, "%s %s exited %d: %s", s_combo, args[0], args[1], rc, OUT());
    cJSON *j = s_json_of(OUT());
    CHECK(j != NULL, "%s %s printed no JSON: %s", s_combo, args[0], args[1], OUT());
    return j;
}

/* status --json: the table's watermark ("" when none), malloc'ed */
static char *s_watermark(void)
{
    cJSON *j = s_cmd_json((const char *const[]){"--json", "status", "--table", "orders", NULL});
    cJSON *t = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "tables"), 0);
    const char *w = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "watermark"));
    char *out = strdup(w ? w : "");
    cJSON_Delete(j);
    return out;
}

/* history --json: every load of the table (newest first) */
static cJSON *s_history(void)
{
    cJSON *j = s_cmd_json((const char *const[]){"--json", "history", "--table", "orders", "--limit", "100000", NULL});
    cJSON *loads = cJSON_DetachItemFromObjectCaseSensitive(j, "loads");
    cJSON_Delete(j);
    CHECK(cJSON_IsArray(loads), "history has no loads array", s_combo);
    return loads;
}

static const char *s_str(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* committed loads whose window ends at `high` */
static int s_committed_with_high(const cJSON *hist, long high)
{
    int n = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, hist)
    {
        const char *st = s_str(r, "status"), *h = s_str(r, "high");
        n += st && !strcmp(st, "committed") && h && atol(h) == high;
    }
    return n;
}

/* the status of load `id` in a history ("" when absent) */
static const char *s_load_status(const cJSON *hist, long id)
{
    const cJSON *r;
    cJSON_ArrayForEach(r, hist)
    {
        if ((long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "load_id")) == id)
            return s_str(r, "status") ? s_str(r, "status") : "";
    }
    return "";
}

struct s_win {
    double lo, hi; /* the window (lo, hi]; an inclusive low is lo - 0.5 */
    long id;
};
static int s_win_cmp(const void *a, const void *b)
{
    const struct s_win *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* (c): no load is left unfinished, no two committed delta loads overlap,
 * and together they cover [1, high] without a gap. */
static void s_check_history(long high)
{
    cJSON *hist = s_history();
    struct s_win w[512];
    int n = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, hist)
    {
        const char *st = s_str(r, "status");
        long id = (long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "load_id"));
        CHECK(st && (!strcmp(st, "committed") || !strcmp(st, "failed") || !strcmp(st, "aborted") ||
                     !strcmp(st, "noop")),
              "load %ld is left %s", s_combo, id, st ? st : "(null)");
        if (strcmp(st, "committed") != 0)
            continue;
        const char *lo = s_str(r, "low"), *hi = s_str(r, "high");
        CHECK(lo && hi && n < 512, "committed load %ld has no window", s_combo, id);
        bool incl = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "low_inclusive"));
        w[n++] = (struct s_win){.lo = atof(lo) - (incl ? 0.5 : 0), .hi = atof(hi), .id = id};
    }
    qsort(w, (size_t)n, sizeof w[0], s_win_cmp);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            CHECK(!(w[i].lo < w[j].hi && w[j].lo < w[i].hi), "committed loads %ld and %ld overlap: (%g, %g] and (%g, %g]",
                  s_combo, w[i].id, w[j].id, w[i].lo, w[i].hi, w[j].lo, w[j].hi);
    CHECK(n > 0 && w[0].lo == 0.5, "the first committed window does not start at the startvalue", s_combo);
    for (int i = 1; i < n; i++)
        CHECK(w[i].lo == w[i - 1].hi, "gap between committed loads %ld and %ld", s_combo, w[i - 1].id, w[i].id);
    CHECK(w[n - 1].hi == (double)high, "the committed windows end at %g, not %ld", s_combo, w[n - 1].hi, high);
    cJSON_Delete(hist);
}

static void s_dump(const char *name, const char *text)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "/tmp/dld-eo-%s.txt", name);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* (b): every version exactly once, through the manifests and by listing the
 * folder; nothing else in the folder, nothing left in staging. `extra` adds
 * rows the lake must hold as well (a deliberate reload), or NULL. */
static void s_check_lake_how(const char *extra, bool hygiene)
{
    const char *problem;
    char *lake = e2e_lake_rows(s_tdir, 3, &problem);
    char prob[1024];
    snprintf(prob, sizeof prob, "%s", problem);
    char *folder = e2e_folder_rows(s_tdir);
    char sel[512];
    snprintf(sel, sizeof sel, "SELECT id, seq, val FROM versions%s%s", extra ? " UNION ALL " : "", extra ? extra : "");
    char *want = e2e_source_rows(s_db, sel);
    if (strcmp(lake, want) || strcmp(folder, want)) {
        s_dump("lake", lake);
        s_dump("folder", folder);
        s_dump("want", want);
    }
    CHECK(strcmp(lake, want) == 0, "the lake read through its manifests differs from the source versions "
                                   "(/tmp/dld-eo-{lake,want}.txt)%s%s", s_combo, prob[0] ? "; lake problem: " : "", prob);
    CHECK(strcmp(folder, want) == 0, "the lake read by listing its folder differs from the source versions "
                                     "(/tmp/dld-eo-{folder,want}.txt)%s%s", s_combo, prob[0] ? "; lake problem: " : "",
          prob);
    CHECK(!hygiene || prob[0] == '\0', "lake problem: %s", s_combo, prob);
    free(lake);
    free(folder);
    free(want);
}

static void s_check_lake_plus(const char *extra) { s_check_lake_how(extra, true); }
static void s_check_lake(void) { s_check_lake_how(NULL, true); }

/* Clean runs until the watermark reaches `high` (at most 3: recovery may
 * first commit or reload the interrupted window alone). */
static void s_run_clean_until(long high)
{
    char want[32];
    snprintf(want, sizeof want, "%ld", high);
    for (int i = 0;; i++) {
        int rc = RUN("run");
        CHECK(rc == 0, "clean run %d exited %d: %s", s_combo, i + 2, rc, OUT());
        char *wm = s_watermark();
        bool done = !strcmp(wm, want);
        free(wm);
        if (done)
            break;
        CHECK(i < 2, "three clean runs did not bring the watermark to %s", s_combo, want);
    }
}

/* ---- the matrix ----------------------------------------------------------------------- */

static const struct s_fault {
    const char *name;      /* for messages */
    bool state;            /* a state-store step (else a target step) */
    const char *fail_at;   /* the wrapper's step */
    const char *helper_at; /* a step of the other/same plugin that fails first so this one is reached, or NULL */
    const char *helper_kind;
    const char *pre_crash; /* crash target kill_in for a run before run 1 (left for run 1's recovery) */
    int nth;               /* fail the nth call of the step */
} s_faults[] = {
    {"state record_planned", true, "record_planned", NULL, NULL, NULL, 1},
    {"state record_staged", true, "record_staged", NULL, NULL, NULL, 1},
    {"state record_published", true, "record_published", NULL, NULL, NULL, 1},
    /* record_failed is only reached once a load failed: a write fails first */
    {"state record_failed (after a write failed)", true, "record_failed", "write", "retry", NULL, 1},
    {"state commit", true, "commit", NULL, NULL, NULL, 1},
    {"state lease_renew (fence before publish)", true, "lease_renew", NULL, NULL, NULL, 1},
    {"target begin", false, "begin", NULL, NULL, NULL, 1},
    /* the second batch: the first file is complete, the second open */
    {"target write (2nd batch)", false, "write", NULL, NULL, NULL, 2},
    {"target finish", false, "finish", NULL, NULL, NULL, 1},
    {"target publish", false, "publish", NULL, NULL, NULL, 1},
    /* is_published is asked after a publish failed ... */
    {"target is_published (publish lost)", false, "is_published", "publish", "lost", NULL, 1},
    {"target is_published (publish failed)", false, "is_published", "publish", "retry", NULL, 1},
    /* ... and by recovery, for a load a killed process left behind */
    {"target is_published in recovery (killed after staging)", false, "is_published", NULL, NULL, "finish", 1},
    {"target is_published in recovery (killed after publish)", false, "is_published", NULL, NULL, "publish", 1},
    /* recovery's own transitions (a retryable failure of recovery is retried
     * within engine.retries, like a load) */
    {"state record_aborted in recovery (killed after staging)", true, "record_aborted", NULL, NULL, "finish", 1},
    {"state commit in recovery (killed after publish)", true, "commit", NULL, NULL, "publish", 1},
};
#define NFAULTS ((int)(sizeof s_faults / sizeof s_faults[0]))
static const char *const s_kinds[] = {"retry", "fatal", "lost"};

START_TEST(fault_matrix)
{
    const struct s_fault *f = &s_faults[_i / 6];
    const char *kind = s_kinds[(_i / 2) % 3];
    bool discard_fails = _i % 2;
    snprintf(s_combo, sizeof s_combo, "%s, %s, %s", f->name, kind, discard_fails ? "discard fails once" : "discard ok");

    s_source(100);
    s_config(NULL, NULL);
    CHECK(RUN("run") == 0, "%s", s_combo, OUT());
    long h0 = s_max_seq();
    s_bulk();
    s_mutate(1, h0);
    long h1 = s_max_seq();
    char tg[4096], st[4096];
    if (f->pre_crash) {
        s_target_crash(tg, sizeof tg, f->pre_crash);
        s_config(NULL, tg);
        int rc = RUN("run");
        CHECK(rc == 128 + SIGKILL, "the pre-crash run exited %d: %s", s_combo, rc, OUT());
        s_expire_lease();
    }
    /* run 1, with the fault */
    if (f->state) {
        s_state_fault(st, sizeof st, f->fail_at, kind);
        s_target_fault(tg, sizeof tg, f->helper_at ? f->helper_at : "none", f->helper_kind ? f->helper_kind : "retry",
                       discard_fails, "csv", "none");
    } else {
        /* a helper step fails first (its own kind), then the step itself */
        char at[64], kinds[64];
        snprintf(at, sizeof at, "%s%s%s", f->helper_at ? f->helper_at : "", f->helper_at ? "," : "", f->fail_at);
        snprintf(kinds, sizeof kinds, "%s%s%s", f->helper_kind ? f->helper_kind : "", f->helper_at ? "," : "", kind);
        s_target_fault_nth(tg, sizeof tg, at, kinds, f->nth, discard_fails, "csv", "none");
    }
    s_config(f->state ? st : NULL, tg);
    int rc1 = RUN("run");
    char out1[8192];
    snprintf(out1, sizeof out1, "%s", OUT());
    if (getenv("DLD_EO_VERBOSE")) /* what each combination did */
        fprintf(stderr, "==== [%s] run 1 exited %d\n%s", s_combo, rc1, out1);
    char at[96];
    snprintf(at, sizeof at, " at %s\n", f->fail_at);
    if ((!strcmp(f->fail_at, "record_failed") || !strcmp(f->fail_at, "record_aborted")) && discard_fails)
        /* a discarded load is recorded failed (or aborted) after its
         * discard: with the discard failing, the load is left for recovery
         * (which records it aborted), so record_failed is never reached, nor
         * is record_aborted in this process */
        CHECK(strstr(out1, "fault wrapper: injected discard failure"), "the discard did not fail: %s", s_combo, out1);
    else
        CHECK(strstr(out1, "fault wrapper: injected") && strstr(out1, at), "the fault at %s was never injected: %s",
              s_combo, f->fail_at, out1);
    CHECK(rc1 == 0 || rc1 == 1, "run 1 exited %d: %s", s_combo, rc1, out1);

    /* (a) the exit status tells the truth */
    s_config(NULL, NULL);
    char *wm = s_watermark();
    cJSON *hist = s_history();
    int committed = s_committed_with_high(hist, h1);
    cJSON_Delete(hist);
    if (rc1 == 0) {
        CHECK(committed == 1 && atol(wm) == h1, "run 1 exited 0 but its window (%ld, %ld] is not committed "
                                                "(watermark %s, %d committed loads end there): %s",
              s_combo, h0, h1, wm, committed, out1);
    } else {
        CHECK(committed == 0 && atol(wm) == h0, "run 1 exited %d but its window (%ld, %ld] was committed "
                                                "(watermark %s): %s",
              s_combo, rc1, h0, h1, wm, out1);
    }
    free(wm);

    /* the source goes on (only rows already committed by load 1 change) */
    s_mutate(2, h0);
    long h2 = s_max_seq();
    s_run_clean_until(h2);
    s_check_lake();
    s_check_history(h2);
    /* and a run with nothing new changes nothing */
    CHECK(RUN("run") == 0, "%s", s_combo, OUT());
    s_check_lake();
}
END_TEST

/* ---- the same, read back by DuckDB (Parquet) ---------------------------------------------- */

START_TEST(duckdb_reads_parquet_lake)
{
    snprintf(s_combo, sizeof s_combo, "parquet, target write lost, discard fails once");
    s_source(100);
    char tg[4096];
    s_target_fault(tg, sizeof tg, "none", "retry", false, "parquet", "none");
    s_config(NULL, tg);
    CHECK(RUN("run") == 0, "%s", s_combo, OUT());
    long h0 = s_max_seq();
    s_bulk();
    s_mutate(1, h0);
    s_target_fault(tg, sizeof tg, "write", "lost", true, "parquet", "none");
    s_config(NULL, tg);
    int rc = RUN("run");
    CHECK(rc == 0 || rc == 1, "run 1 exited %d: %s", s_combo, rc, OUT());
    CHECK(strstr(OUT(), "fault wrapper: injected lost response at write"), "%s", s_combo, OUT());
    s_target_fault(tg, sizeof tg, "none", "retry", false, "parquet", "none");
    s_config(NULL, tg);
    s_mutate(2, h0);
    s_run_clean_until(s_max_seq());
    s_check_history(s_max_seq());
    /* hygiene of the folder (the C reader cannot read Parquet rows) */
    const char *problem;
    free(e2e_lake_rows(s_tdir, 3, &problem));
    CHECK(problem[0] == '\0', "lake problem: %s", s_combo, problem);

    char cmd[4 * PATH_MAX], m_out[PATH_MAX + 32], f_out[PATH_MAX + 32], j_out[PATH_MAX + 32];
    snprintf(m_out, sizeof m_out, "%s/duck-manifests.txt", s_dir);
    snprintf(f_out, sizeof f_out, "%s/duck-folder.txt", s_dir);
    snprintf(j_out, sizeof j_out, "%s/duck.json", s_dir);
    snprintf(cmd, sizeof cmd, "node '%s/tests/core/read_lake.cjs' '%s' '%s' '%s' > '%s' 2>&1", getenv("DLD_SOURCE_DIR"),
             s_tdir, m_out, f_out, j_out);
    int st = system(cmd);
    char *report = e2e_slurp(j_out);
    CHECK(st == 0, "read_lake.cjs failed: %s", s_combo, report ? report : "");
    cJSON *j = cJSON_Parse(report);
    CHECK(j != NULL, "read_lake.cjs printed %s", s_combo, report);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "unlisted")) == 0,
          "files in the folder that no published manifest lists: %s", s_combo, report);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "aborted")) >= 1,
          "expected the failed load's aborted manifest: %s", s_combo, report);
    cJSON_Delete(j);
    char *want = e2e_source_rows(s_db, "SELECT id, seq, val FROM versions");
    char *via_m = e2e_slurp(m_out), *via_f = e2e_slurp(f_out);
    CHECK(via_m && via_f, "no DuckDB output", s_combo);
    if (strcmp(via_m, want) || strcmp(via_f, want)) {
        s_dump("duck-manifests", via_m);
        s_dump("duck-folder", via_f);
        s_dump("duck-want", want);
    }
    CHECK(strcmp(via_m, want) == 0, "DuckDB through the manifests differs from the source versions "
                                    "(/tmp/dld-eo-duck-{manifests,want}.txt); %s", s_combo, report);
    CHECK(strcmp(via_f, want) == 0, "DuckDB listing the folder differs from the source versions "
                                    "(/tmp/dld-eo-duck-{folder,want}.txt); %s", s_combo, report);
    free(want);
    free(via_m);
    free(via_f);
    free(report);
}
END_TEST

/* ---- a stalled holder ------------------------------------------------------------------------ */

extern char **environ;

/* Starts $DLD_BIN in dir (output to <dir>/last.out) without waiting. */
static pid_t s_spawn(const char *dir, const char *const *args)
{
    char out[PATH_MAX + 16];
    snprintf(out, sizeof out, "%s/last.out", dir);
    char *argv[16];
    int n = 0;
    argv[n++] = getenv("DLD_BIN");
    for (; args[n - 1] && n < 15; n++)
        argv[n] = (char *)args[n - 1];
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    char cwd[PATH_MAX];
    ck_assert(getcwd(cwd, sizeof cwd) != NULL);
    ck_assert_int_eq(chdir(dir), 0);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    ck_assert_int_eq(chdir(cwd), 0);
    posix_spawn_file_actions_destroy(&fa);
    ck_assert_msg(rc == 0, "cannot start %s", argv[0]);
    return pid;
}

/* names in the table folder or its staging that carry `uid` */
static int s_files_of_uid(const char *uid)
{
    int n = 0;
    char sub[PATH_MAX + 48];
    const char *dirs[] = {s_tdir, sub};
    snprintf(sub, sizeof sub, "%s/_staging", s_tdir);
    for (int i = 0; i < 2; i++) {
        DIR *d = opendir(dirs[i]);
        for (struct dirent *e; d && (e = readdir(d));)
            n += strstr(e->d_name, uid) != NULL;
        if (d)
            closedir(d);
    }
    return n;
}

/* the aborted manifest of load `id`: its uid (static), or NULL */
static const char *s_aborted_uid(long id)
{
    static char uid[64];
    char mdir[PATH_MAX + 48];
    snprintf(mdir, sizeof mdir, "%s/_manifests", s_tdir);
    DIR *d = opendir(mdir);
    const char *found = NULL;
    for (struct dirent *e; d && (e = readdir(d)) && !found;) {
        char p[PATH_MAX + 400];
        snprintf(p, sizeof p, "%s/%s", mdir, e->d_name);
        char *text = e->d_name[0] == '.' ? NULL : e2e_slurp(p);
        cJSON *m = text ? cJSON_Parse(text) : NULL;
        free(text);
        const char *status = s_str(m, "status"), *u = s_str(m, "load_uid");
        if (status && !strcmp(status, "aborted") && u &&
            (long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(m, "load_id")) == id) {
            snprintf(uid, sizeof uid, "%s", u);
            found = uid;
        }
        cJSON_Delete(m);
    }
    if (d)
        closedir(d);
    return found;
}

/* Process A stops inside the target holding its lease (0: after staging,
 * in load_finish, through the crash wrapper; 1: after its fence check,
 * right before load_publish); B takes over after the TTL, discards A's load
 * and commits the window as a new load; A wakes up and must be refused. */
START_TEST(stalled_holder_is_fenced)
{
    static const char *where[] = {"after staging (crash wrapper kill_in stop)", "right before publish"};
    snprintf(s_combo, sizeof s_combo, "stalled holder, stopped %s", where[_i]);
    s_source(100);
    s_config(NULL, NULL);
    CHECK(RUN("run") == 0, "%s", s_combo, OUT());
    long h0 = s_max_seq();
    s_bulk();
    s_mutate(1, h0);
    long h1 = s_max_seq();

    char adir[1100], tg[4096];
    snprintf(adir, sizeof adir, "%s/a", s_dir);
    ck_assert_int_eq(mkdir(adir, 0755), 0);
    if (_i == 0)
        s_target_crash(tg, sizeof tg, "stop");
    else
        s_target_fault(tg, sizeof tg, "none", "retry", false, "csv", "publish");
    s_config_in(adir, NULL, tg);
    pid_t a = s_spawn(adir, (const char *const[]){"run", NULL});
    int status = 0;
    CHECK(waitpid(a, &status, WUNTRACED) == a && WIFSTOPPED(status), "A did not stop (status %d): %s", s_combo,
          status, e2e_output(adir));
    s_wait_lease();

    /* B: takes the expired lease, recovers A's load (aborts it), commits the window */
    s_config(NULL, NULL);
    int rc = RUN("run");
    if (rc != 0) { /* do not leave A stopped */
        kill(a, SIGKILL);
        waitpid(a, &status, 0);
    }
    CHECK(rc == 0, "B exited %d: %s", s_combo, rc, OUT());
    CHECK(strstr(OUT(), "recovery: load 2 was interrupted"), "B did not recover A's load: %s", s_combo, OUT());
    const char *uid = s_aborted_uid(2);
    CHECK(uid != NULL, "A's load 2 has no aborted manifest after B's recovery", s_combo);
    char auid[64];
    snprintf(auid, sizeof auid, "%s", uid);
    cJSON *hist = s_history();
    CHECK(s_committed_with_high(hist, h1) == 1, "B did not commit the window (%ld, %ld]", s_combo, h0, h1);
    CHECK(!strcmp(s_load_status(hist, 2), "aborted") && !strcmp(s_load_status(hist, 3), "committed"),
          "expected A's load 2 aborted and B's load 3 committed, got %s and %s", s_combo, s_load_status(hist, 2),
          s_load_status(hist, 3));
    cJSON_Delete(hist);

    /* A wakes up: its publish (or anything it records) is refused */
    kill(a, SIGCONT);
    CHECK(waitpid(a, &status, 0) == a && WIFEXITED(status), "A did not exit (status %d)", s_combo, status);
    const char *aout = e2e_output(adir);
    CHECK(WEXITSTATUS(status) != 0, "A exited 0 after its lease was taken over: %s", s_combo, aout);
    if (_i == 1)
        CHECK(strstr(aout, "publish refused"), "A's late publish was not refused: %s", s_combo, aout);
    else
        CHECK(strstr(aout, "lease") && (strstr(aout, "lost") || strstr(aout, "taken over") || strstr(aout, "released") ||
                                        strstr(aout, "expired")),
              "A does not say its lease was lost: %s", s_combo, aout);
    CHECK(s_files_of_uid(auid) == 0, "files of A's load (uid %s) are left in the lake", s_combo, auid);
    s_check_lake();
    s_check_history(h1);
    /* and the table goes on */
    s_mutate(2, h1);
    CHECK(RUN("run") == 0, "%s", s_combo, OUT());
    s_check_lake();
    s_check_history(s_max_seq());
}
END_TEST

/* The heartbeat renews the lease of a load slower than its TTL (here 12
 * batches of 250 ms against a 1 s lease), and when the lease is lost
 * anyway -- the test takes it over in the store, as a process that found
 * it expired would -- the load stops at its next batch instead of writing
 * on, and the next run settles it: every row once. */
START_TEST(lease_lost_stops_the_load)
{
    snprintf(s_combo, sizeof s_combo, "lease lost while loading");
    s_source(300);
    char tg[4096];
    snprintf(tg, sizeof tg,
             "{\"plugin\": \"fault\", \"options\": {\"inner\": \"%s/dld-target-file.so\", \"path\": \"%s/lake\","
             " \"format\": \"csv\", \"fsync\": false, \"max_file_size\": 1024, \"write_sleep_ms\": 250}}",
             s_pdir(), s_dir);
    /* first: a slow load that keeps its lease (3 s of batches, 1 s TTL) */
    s_config(NULL, tg);
    CHECK(RUN("run") == 0, "a load slower than its lease failed: %s", s_combo, OUT());
    s_check_lake();
    /* then: the lease is taken over while the next load runs */
    e2e_sql(s_db, "UPDATE orders SET seq = seq + 1000, val = 'moved ' || id");
    pid_t a = s_spawn(s_dir, (const char *const[]){"run", NULL});
    usleep(900000);
    char st[PATH_MAX + 16];
    snprintf(st, sizeof st, "%s/state.db", s_dir);
    e2e_sql(st, "UPDATE leases SET token = token + 1000, owner = 'someone-else'");
    int status = 0;
    CHECK(waitpid(a, &status, 0) == a && WIFEXITED(status), "the load did not exit (status %d)", s_combo, status);
    const char *out = OUT();
    CHECK(WEXITSTATUS(status) == 1, "exit %d after losing the lease: %s", s_combo, WEXITSTATUS(status), out);
    CHECK(strstr(out, "the lease was lost"), "the load did not say it lost its lease: %s", s_combo, out);
    /* it stopped at its next batch: far fewer than 12 batches were written */
    CHECK(!strstr(out, "committed"), "a load that lost its lease committed: %s", s_combo, out);
    /* the "taker" lets it go; the next run settles the stopped load */
    e2e_sql(st, "DELETE FROM leases");
    s_config(NULL, NULL);
    CHECK(RUN("run") == 0, "%s", s_combo, OUT());
    s_check_lake();
}
END_TEST

/* ---- a lost state store ------------------------------------------------------------------------ */

static int s_strp_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* every regular file under dir: "relpath size mtime_ns" lines, sorted */
static void s_tree(const char *root, const char *rel, char *out, size_t cap)
{
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s%s%s", root, rel[0] ? "/" : "", rel);
    DIR *d = opendir(path);
    char *names[4096];
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d)) && n < 4096;)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            names[n++] = strdup(e->d_name);
    if (d)
        closedir(d);
    qsort(names, (size_t)n, sizeof names[0], s_strp_cmp);
    for (int i = 0; i < n; i++) {
        char r[PATH_MAX], p[PATH_MAX + 512];
        snprintf(r, sizeof r, "%s%s%s", rel, rel[0] ? "/" : "", names[i]);
        snprintf(p, sizeof p, "%s/%s", root, r);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            s_tree(root, r, out, cap);
        } else if (lstat(p, &sb) == 0) {
            size_t len = strlen(out);
            snprintf(out + len, cap - len, "%s %lld %lld.%09ld\n", r, (long long)sb.st_size, (long long)sb.st_mtim.tv_sec,
                     sb.st_mtim.tv_nsec);
        }
        free(names[i]);
    }
}

static void s_remove_state(void)
{
    static const char *suffix[] = {"", "-wal", "-shm", "-journal"};
    for (int i = 0; i < 4; i++) {
        char p[PATH_MAX + 32];
        snprintf(p, sizeof p, "%s/state.db%s", s_dir, suffix[i]);
        unlink(p);
    }
}

/* a line of `before` that is not in `after` (lines under `skip` aside), or NULL */
static const char *s_missing_line(const char *before, const char *after, const char *skip)
{
    static char line[PATH_MAX + 128];
    for (const char *p = before; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        snprintf(line, sizeof line, "%.*s\n", (int)len, p);
        if (!strstr(after, line) && !(skip && !strncmp(line, skip, strlen(skip))))
            return line;
        p += len + (nl != NULL);
    }
    return NULL;
}

/* The state store is lost after two loads, and before that:
 *   0: nothing else;
 *   1: a process was killed inside load_finish (its record and its staged
 *      files' only owner go with the store);
 *   2: a process was killed right before run_commit (load 3 published, not
 *      committed): rebuild takes it as committed;
 *   3: a load failed and was discarded (its aborted manifest stays). */
START_TEST(state_store_lost)
{
    static const char *what[] = {"", ", after a load killed in finish", ", after a load killed before its commit",
                                 ", after a failed load"};
    snprintf(s_combo, sizeof s_combo, "state store lost%s", what[_i]);
    s_source(100);
    s_config(NULL, NULL);
    CHECK(RUN("run") == 0, "%s", s_combo, OUT());
    s_mutate(1, s_max_seq());
    CHECK(RUN("run") == 0, "%s", s_combo, OUT());
    long h2 = s_max_seq(), restored = h2;
    if (_i > 0) {
        s_bulk();
        s_mutate(3, h2);
        char cfg[4096];
        int want_rc = 128 + SIGKILL;
        if (_i == 1) {
            s_target_crash(cfg, sizeof cfg, "finish");
            s_config(NULL, cfg);
        } else if (_i == 2) {
            snprintf(cfg, sizeof cfg,
                     "{\"plugin\": \"crash\", \"options\": {\"inner\": \"%s/dld-state-sqlite.so\", \"path\": "
                     "\"%s/state.db\", \"kill_at\": 4, \"kill_point\": \"before\"}}",
                     s_pdir(), s_dir);
            s_config(cfg, NULL);
            restored = s_max_seq();
        } else {
            s_target_fault(cfg, sizeof cfg, "write", "fatal", false, "csv", "none");
            s_config(NULL, cfg);
            want_rc = 1;
        }
        int rc = RUN("run");
        CHECK(rc == want_rc, "the interrupted run exited %d: %s", s_combo, rc, OUT());
        s_config(NULL, NULL);
    }
    static char before[1 << 16], after[1 << 16];
    char lake[PATH_MAX + 8];
    snprintf(lake, sizeof lake, "%s/lake", s_dir);
    before[0] = '\0';
    s_tree(lake, "", before, sizeof before);
    s_remove_state();

    int rc = RUN("run");
    CHECK(rc == 1, "run on a lost state store exited %d: %s", s_combo, rc, OUT());
    CHECK(strstr(OUT(), "deltaload state rebuild --table orders"), "run does not name the rebuild: %s", s_combo, OUT());
    after[0] = '\0';
    s_tree(lake, "", after, sizeof after);
    CHECK(strcmp(before, after) == 0, "the refused run changed the lake:\nbefore:\n%s\nafter:\n%s", s_combo, before,
          after);
    cJSON *hist = s_history();
    CHECK(cJSON_GetArraySize(hist) == 0, "the refused run recorded a load", s_combo);
    cJSON_Delete(hist);
    char *wm0 = s_watermark();
    CHECK(wm0[0] == '\0', "the refused run set watermark %s", s_combo, wm0);
    free(wm0);

    rc = RUN("state", "rebuild", "--table", "orders");
    CHECK(rc == 0, "state rebuild exited %d: %s", s_combo, rc, OUT());
    char *wm = s_watermark();
    CHECK(atol(wm) == restored, "rebuild restored watermark '%s', not %ld", s_combo, wm, restored);
    free(wm);
    if (_i == 3) {
        hist = s_history();
        CHECK(!strcmp(s_load_status(hist, 3), "aborted"), "rebuild recorded the failed load 3 as '%s'", s_combo,
              s_load_status(hist, 3));
        cJSON_Delete(hist);
    }

    s_mutate(2, h2);
    char q[256];
    snprintf(q, sizeof q, "SELECT count(*) FROM versions WHERE seq > %ld", restored);
    long new_versions = atol(e2e_sql_value(s_db, q));
    rc = RUN("--json", "run");
    CHECK(rc == 0, "run after rebuild exited %d: %s", s_combo, rc, OUT());
    cJSON *j = s_json_of(OUT());
    cJSON *t = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "tables"), 0);
    CHECK((long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "rows")) == new_versions,
          "the run after rebuild loaded %g rows, not the %ld new versions: %s", s_combo,
          cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "rows")), new_versions, OUT());
    cJSON_Delete(j);
    s_check_history(s_max_seq());
    after[0] = '\0';
    s_tree(lake, "", after, sizeof after);
    /* (the killed load's staged files belong to no load: not compared) */
    const char *gone = s_missing_line(before, after, _i == 1 ? "raw/main/orders/_staging/" : NULL);
    CHECK(gone == NULL, "a file that existed before the state store was lost was changed or removed: %s", s_combo,
          gone ? gone : "");
    /* Every version exactly once, through the manifests and by listing the
     * folder, and no file that belongs to no load: for _i == 1 the killed
     * load's staged files (whose record went with the state store) are
     * listed by the target as an orphaned load and removed by rebuild. */
    if (_i == 1) {
        s_check_lake_how(NULL, false); /* the rows first */
        const char *problem;
        char *rows = e2e_lake_rows(s_tdir, 3, &problem);
        free(rows);
        CHECK(!strstr(problem, "staging leftover"),
              "the staged files of the load killed before the state store was lost were not removed: %s", s_combo,
              problem);
    }
    s_check_lake();
}
END_TEST

/* ---- an operator reset while a load is published but not committed --------------------------------- */

/* 0: reset above every row (the published load is committed, the
 * watermark stays at X and nothing is reloaded); 1: reset below the load's
 * window (committed, watermark stays X, so the next load reloads (X, H]). */
START_TEST(reset_while_published)
{
    s_source(60);
    s_config(NULL, NULL);
    ck_assert_int_eq(RUN("run"), 0);
    long h0 = s_max_seq();
    s_mutate(1, h0);
    long h1 = s_max_seq();
    long x = _i == 0 ? 1000000 : h0 - 10;
    snprintf(s_combo, sizeof s_combo, "reset --to %ld while load 2 is published", x);
    /* killed right before the 4th state change of the run: run_commit
     * (after recording planned, staged, published) */
    char st[4096];
    snprintf(st, sizeof st,
             "{\"plugin\": \"crash\", \"options\": {\"inner\": \"%s/dld-state-sqlite.so\", \"path\": \"%s/state.db\","
             " \"kill_at\": 4, \"kill_point\": \"before\"}}",
             s_pdir(), s_dir);
    s_config(st, NULL);
    int rc = RUN("run");
    CHECK(rc == 128 + SIGKILL, "expected a kill before the commit, got %d: %s", s_combo, rc, OUT());
    s_config(NULL, NULL);
    cJSON *j = s_cmd_json((const char *const[]){"--json", "status", "--table", "orders", NULL});
    cJSON *last = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "tables"), 0),
                                                   "last_load");
    CHECK(s_str(last, "status") && !strcmp(s_str(last, "status"), "published"), "load 2 is not left published", s_combo);
    cJSON_Delete(j);
    s_wait_lease();
    char xs[32];
    snprintf(xs, sizeof xs, "%ld", x);
    rc = RUN("reset", "--table", "orders", "--to", xs);
    CHECK(rc == 0, "reset exited %d: %s", s_combo, rc, OUT());

    rc = RUN("run");
    CHECK(rc == 0, "the run after the reset exited %d: %s", s_combo, rc, OUT());
    char warn[160];
    snprintf(warn, sizeof warn, "the watermark was changed to %s while load 2 was published but not committed", xs);
    CHECK(strstr(OUT(), warn), "no warning about the reset: %s", s_combo, OUT());
    cJSON *hist = s_history();
    const cJSON *r;
    bool reloaded = false, committed2 = false;
    cJSON_ArrayForEach(r, hist)
    {
        long id = (long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "load_id"));
        const char *status = s_str(r, "status"), *low = s_str(r, "low"), *high = s_str(r, "high");
        if (id == 2) {
            CHECK(!strcmp(status, "committed") && high && atol(high) == h1,
                  "the published load 2 was not committed as it was: %s, high %s", s_combo, status, high);
            committed2 = true;
        }
        if (id == 3 && _i == 0)
            CHECK(!strcmp(status, "noop"), "load 3 is %s, expected nothing new above %s", s_combo, status, xs);
        if (id == 3 && _i == 1) {
            CHECK(!strcmp(status, "committed") && low && !strcmp(low, xs) &&
                      !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "low_inclusive")),
                  "load 3 (%s) does not start at the reset value %s", s_combo, status, xs);
            reloaded = true;
        }
    }
    CHECK(committed2, "no load 2 in the history", s_combo);
    CHECK(_i == 0 || reloaded, "no load 3 after the reset", s_combo);
    cJSON_Delete(hist);
    char *wm = s_watermark();
    CHECK(_i == 0 ? !strcmp(wm, xs) : atol(wm) == h1, "watermark %s after the run", s_combo, wm);
    free(wm);
    if (_i == 0) {
        s_check_lake();
    } else {
        /* the operator asked for (X, H] again: those rows are in the lake twice, by request */
        char extra[128];
        snprintf(extra, sizeof extra, "SELECT id, seq, val FROM orders WHERE seq > %ld", x);
        s_check_lake_plus(extra);
    }
}
END_TEST

static Suite *s_suite(void)
{
    Suite *s = suite_create("exactly_once");
    TCase *tm = tcase_create("matrix");
    tcase_add_checked_fixture(tm, s_setup, s_teardown);
    tcase_set_timeout(tm, 60);
    tcase_add_loop_test(tm, fault_matrix, 0, NFAULTS * 6);
    suite_add_tcase(s, tm);
    TCase *tc = tcase_create("scenarios");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, duckdb_reads_parquet_lake);
    tcase_add_loop_test(tc, stalled_holder_is_fenced, 0, 2);
    tcase_add_test(tc, lease_lost_stops_the_load);
    tcase_add_loop_test(tc, state_store_lost, 0, 4);
    tcase_add_loop_test(tc, reset_while_published, 0, 2);
    suite_add_tcase(s, tc);
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

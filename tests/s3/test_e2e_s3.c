/*
 * End-to-end through the deltaload binary with target s3: a SQLite source,
 * `deltaload run`, s3rver behind the SigV4-verifying, fault-injecting proxy
 * (servers.js), and the lake read back with DuckDB (lake_rows.cjs) from
 * s3rver's on-disk store, listed and fetched through the proxy.
 *
 * As in tests/core/test_e2e.c, the source table has a `seq` column that
 * every insert and update sets to a new value, and triggers copy every row
 * version into `versions`. Changes happen only between runs, so after any
 * sequence of runs, failures and kills the lake must hold exactly the rows
 * of `versions`, each once, and the table's directory in the bucket must
 * hold nothing but files listed by manifests (and no open multipart upload).
 */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "e2e_util.h"
#include "s3_test_util.h"
#include "test_host.h"

static struct s3t_servers g_srv;
static char s_dir[PATH_MAX];
static char s_db[PATH_MAX + 16];
static char s_prefix[128]; /* this test's key prefix in bucket "lake" */
static char s_table[256];  /* "<prefix>/raw/main/orders/" */
static char s_node_script[PATH_MAX];

#define RUN(...) e2e_run(s_dir, (const char *const[]){__VA_ARGS__, NULL}, 0)

static const char *const s_aws_env[] = {
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_STS",
    "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_SESSION_NAME", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_EC2_METADATA_DISABLED", NULL};

static void s_setup(void)
{
    ck_assert_msg(s3t_servers(&g_srv), "s3 test servers are not running");
    ck_assert_int_eq(dld_test_tmpdir(s_dir, sizeof s_dir, "e2e-s3"), 0);
    snprintf(s_db, sizeof s_db, "%s/src.db", s_dir);
    /* unique per test process, so tests never see each other's objects */
    snprintf(s_prefix, sizeof s_prefix, "e2e-%ld-%ld", (long)getpid(), (long)time(NULL));
    snprintf(s_table, sizeof s_table, "%s/raw/main/orders/", s_prefix);
    snprintf(s_node_script, sizeof s_node_script, "%s/lake_rows.cjs", DLD_S3_TEST_DIR);
    /* the credentials chain must see only what a test sets; no developer
     * ~/.aws, no instance metadata probe */
    for (int i = 0; s_aws_env[i]; i++)
        unsetenv(s_aws_env[i]);
    char p[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/no-aws-config", s_dir);
    setenv("AWS_CONFIG_FILE", p, 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", p, 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    free(s3t_proxy(&g_srv, "DELETE", "faults", NULL));
}

static void s_teardown(void)
{
    free(s3t_proxy(&g_srv, "DELETE", "faults", NULL));
    if (getenv("DLD_KEEP_TMP") == NULL)
        dld_test_rmtree(s_dir);
}

/* ---- the source ---------------------------------------------------------------- */

/* n rows, seq = id, val text (NULL every 11th), plus the version log */
static void s_source(int n, bool wide)
{
    char sql[1024];
    e2e_sql(s_db, "CREATE TABLE orders(id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, val TEXT);"
                  "CREATE TABLE versions(id INTEGER, seq INTEGER, val TEXT);"
                  "CREATE TRIGGER v_ins AFTER INSERT ON orders BEGIN INSERT INTO versions VALUES(new.id, new.seq, new.val); END;"
                  "CREATE TRIGGER v_upd AFTER UPDATE ON orders BEGIN INSERT INTO versions VALUES(new.id, new.seq, new.val); END;"
                  "CREATE INDEX orders_seq ON orders(seq);");
    /* wide: 96 hex characters of noise per row, so files reach several
     * multipart parts with few rows */
    snprintf(sql, sizeof sql,
             "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < %d) "
             "INSERT INTO orders SELECT i, i, CASE WHEN i %% 11 = 0 THEN NULL "
             "ELSE 'v' || i || %s || CASE WHEN i %% 7 = 0 THEN ',\"q\"|' ELSE '' END END FROM c",
             n, wide ? "'-' || hex(randomblob(48))" : "''");
    e2e_sql(s_db, sql);
}

/* updates some rows into a later window, inserts rows, two of them tied on
 * the new high mark; a row changes at most once between two runs */
static void s_mutate(int step, int modulo)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "UPDATE orders SET seq = (SELECT max(seq)+1 FROM orders) + id, val = 'upd%d-' || id WHERE id %% %d = %d;"
             "INSERT INTO orders SELECT max(id)+1, (SELECT max(seq)+1 FROM orders), 'new%d-a' FROM orders;"
             "INSERT INTO orders SELECT max(id)+1, (SELECT max(seq) FROM orders), 'new%d-tie1' FROM orders;"
             "INSERT INTO orders SELECT max(id)+1, (SELECT max(seq) FROM orders), NULL FROM orders;",
             step, modulo, step % modulo, step, step);
    e2e_sql(s_db, sql);
}

/* ---- the configuration ---------------------------------------------------------- */

/* target options beyond the common ones (a JSON fragment ending with ','; it
 * comes first, so its keys win over the defaults that follow),
 * credentials (a JSON fragment or NULL for the proxy's static test keys),
 * engine options beyond the common ones */
static void s_config(const char *target_extra, const char *creds, const char *engine_extra)
{
    char path[PATH_MAX + 32], text[8192], keys[512];
    snprintf(keys, sizeof keys, ", \"access_key_id\": \"%s\", \"secret_access_key\": \"%s\"", g_srv.akid,
             g_srv.secret);
    snprintf(path, sizeof path, "%s/deltaload.json", s_dir);
    snprintf(text, sizeof text,
             "{\"plugin_dirs\": [\"%s\"],\n"
             " \"source\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"src.db\"}},\n"
             " \"target\": {\"plugin\": \"s3\", \"options\": {\"bucket\": \"lake\", \"prefix\": \"%s\","
             " %s\"endpoint\": \"%s\", \"path_style\": true, \"region\": \"us-east-1\", \"format\": \"parquet\"%s}},\n"
             " \"state\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"state.db\"}},\n"
             " \"engine\": {\"batch_rows\": 2000, \"lease_ttl_seconds\": 1, \"retries\": 0%s},\n"
             " \"tables\": [{\"targetTableName\": \"orders\", \"sourceSchema\": \"main\", \"sourceTable\": \"orders\","
             " \"filtercolumn\": \"seq\", \"filteroperator\": \"gte\", \"startvalue\": \"1\", \"activeflag\": \"Y\","
             " \"ouputs3Prefix\": \"raw\"}]}\n",
             getenv("DLD_PLUGIN_DIR"), s_prefix, target_extra ? target_extra : "", g_srv.endpoint, creds ? creds : keys,
             engine_extra ? engine_extra : "");
    e2e_write(path, text);
}

/* ---- reading the lake back ------------------------------------------------------ */

static bool s_line_in(const char *lines, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = lines; (p = strstr(p, line)) != NULL; p += n)
        if ((p == lines || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return true;
    return false;
}

static int s_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* the lines of a file, sorted, newline-joined (as e2e_source_rows) */
static char *s_sorted_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)len + 1);
    size_t got = fread(text, 1, (size_t)len, f);
    text[got] = '\0';
    fclose(f);
    size_t n = 0, cap = 1024;
    char **v = malloc(cap * sizeof(char *));
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (n == cap)
            v = realloc(v, (cap *= 2) * sizeof(char *));
        v[n++] = l;
    }
    qsort(v, n, sizeof(char *), s_cmp);
    char *out = malloc((size_t)len + 2), *p = out;
    *p = '\0';
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s\n", v[i]);
    free(v);
    free(text);
    return out;
}

/* open multipart uploads under this test's prefix, per the proxy */
static int s_open_uploads(void)
{
    char *text = s3t_proxy(&g_srv, "GET", "stats", NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    ck_assert_msg(j != NULL, "no proxy stats");
    int n = 0;
    cJSON *u;
    cJSON_ArrayForEach(u, cJSON_GetObjectItem(j, "openUploads"))
    {
        const char *key = cJSON_GetStringValue(cJSON_GetObjectItem(u, "key"));
        n += key && !strncmp(key, s_prefix, strlen(s_prefix));
    }
    cJSON_Delete(j);
    return n;
}

static int64_t s_akid_requests(const char *akid)
{
    char *text = s3t_proxy(&g_srv, "GET", "stats", NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    ck_assert_msg(j != NULL, "no proxy stats");
    cJSON *x = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "byAkid"), akid);
    int64_t n = x ? (int64_t)x->valuedouble : 0;
    cJSON_Delete(j);
    return n;
}

struct s_lake {
    char *rows;        /* sorted "id|seq|val" lines of every manifest-listed file */
    int manifests;     /* published ones */
    int aborted;       /* manifests with "status": "aborted" (skipped) */
    int files;         /* data files listed by manifests */
    int orphans;       /* LOAD objects in the table directory that no manifest lists */
    char problem[512]; /* first hygiene problem, "" if none */
};

/* Lists the table directory through the proxy, reads the published
 * manifests (aborted ones are skipped, as every reader must), checks that
 * every LOAD object is listed by one and every listed file exists, then
 * reads the listed files with DuckDB from s3rver's store. */
static void s_read_lake(struct s_lake *lake, bool rows)
{
    memset(lake, 0, sizeof(*lake));
    char *keys = s3t_list(&g_srv, "lake", s_table);
    size_t tl = strlen(s_table);
    char *listed = calloc(1, 1);
    size_t listed_len = 0;
    char cmd[65536];
    char out[PATH_MAX + 32];
    snprintf(out, sizeof out, "%s/lake_rows.txt", s_dir);
    int pos = snprintf(cmd, sizeof cmd, "node '%s' '%s'", s_node_script, out);
    char *copy = strdup(keys);
    for (char *save = NULL, *k = strtok_r(copy, "\n", &save); k; k = strtok_r(NULL, "\n", &save)) {
        if (strncmp(k + tl, "_manifests/", 11) != 0)
            continue;
        char *body = NULL;
        size_t blen = 0;
        ck_assert_int_eq(s3t_get(&g_srv, "lake", k, &body, &blen), 200);
        cJSON *m = cJSON_ParseWithLength(body, blen);
        free(body);
        ck_assert_msg(m != NULL, "manifest %s is not JSON", k);
        /* an aborted load's manifest (written by a discard) lists no file
         * and is not part of the lake */
        const char *status = cJSON_GetStringValue(cJSON_GetObjectItem(m, "status"));
        if (status && !strcmp(status, "aborted")) {
            lake->aborted++;
            cJSON_Delete(m);
            continue;
        }
        lake->manifests++;
        cJSON *f;
        cJSON_ArrayForEach(f, cJSON_GetObjectItem(m, "files"))
        {
            const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(f, "name"));
            ck_assert_ptr_nonnull(name);
            char full[1024];
            snprintf(full, sizeof full, "%s%s", s_table, name);
            if (!s_line_in(keys, full) && !lake->problem[0])
                snprintf(lake->problem, sizeof lake->problem, "manifest %s lists missing %s", k, name);
            listed = realloc(listed, listed_len + strlen(full) + 2);
            listed_len += (size_t)sprintf(listed + listed_len, "%s\n", full);
            lake->files++;
            pos += snprintf(cmd + pos, sizeof cmd - (size_t)pos, " '%s/lake/%s._S3rver_object'", g_srv.data, full);
            ck_assert_msg((size_t)pos < sizeof cmd, "too many files for one command line");
        }
        /* an Iceberg upsert's delete files: the load's too, but no rows of it */
        cJSON_ArrayForEach(f, cJSON_GetObjectItem(m, "iceberg_deletes"))
        {
            const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(f, "name"));
            ck_assert_ptr_nonnull(name);
            char full[1024];
            snprintf(full, sizeof full, "%s%s", s_table, name);
            if (!s_line_in(keys, full) && !lake->problem[0])
                snprintf(lake->problem, sizeof lake->problem, "manifest %s lists missing delete file %s", k, name);
            listed = realloc(listed, listed_len + strlen(full) + 2);
            listed_len += (size_t)sprintf(listed + listed_len, "%s\n", full);
        }
        cJSON_Delete(m);
    }
    free(copy);
    copy = strdup(keys);
    for (char *save = NULL, *k = strtok_r(copy, "\n", &save); k; k = strtok_r(NULL, "\n", &save)) {
        if (strncmp(k + tl, "LOAD", 4) == 0 && !s_line_in(listed, k)) {
            lake->orphans++;
            if (!lake->problem[0])
                snprintf(lake->problem, sizeof lake->problem, "%s is in no manifest", k);
        }
    }
    free(copy);
    free(listed);
    free(keys);
    if (!rows)
        return;
    snprintf(cmd + pos, sizeof cmd - (size_t)pos, " >'%s/lake_cols.json'", s_dir);
    ck_assert_msg(system(cmd) == 0, "DuckDB could not read the lake's files");
    lake->rows = s_sorted_file(out);
}

/* The property: the lake holds every source row version exactly once and
 * nothing else; the bucket holds nothing a manifest does not list. */
static void s_check_lake(int want_manifests)
{
    struct s_lake lake;
    s_read_lake(&lake, true);
    char *want = e2e_source_rows(s_db, "SELECT id, seq, val FROM versions");
    ck_assert_msg(lake.problem[0] == '\0', "lake problem: %s", lake.problem);
    if (strcmp(lake.rows, want) != 0) {
        char p[PATH_MAX + 32];
        snprintf(p, sizeof p, "%s/want.txt", s_dir);
        e2e_write(p, want);
        snprintf(p, sizeof p, "%s/lake.txt", s_dir);
        e2e_write(p, lake.rows);
    }
    ck_assert_msg(strcmp(lake.rows, want) == 0, "lake differs from the source's row versions (DLD_KEEP_TMP=1 keeps "
                  "%s/{lake,want}.txt)", s_dir);
    if (want_manifests >= 0)
        ck_assert_int_eq(lake.manifests, want_manifests);
    ck_assert_int_eq(s_open_uploads(), 0);
    free(lake.rows);
    free(want);
}

/* status --json of table orders: the committed watermark and the last load */
struct s_status {
    char watermark[64]; /* "" when none */
    char last_status[32];
    char last_error[2048];
};

static void s_get_status(struct s_status *st)
{
    memset(st, 0, sizeof(*st));
    ck_assert_int_eq(RUN("--json", "status", "--table", "orders"), 0);
    const char *out = e2e_output(s_dir);
    cJSON *j = cJSON_Parse(strchr(out, '{'));
    ck_assert_msg(j != NULL, "status --json is not JSON: %s", out);
    cJSON *t = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "tables"), 0);
    ck_assert_msg(t != NULL, "no table in status: %s", out);
    const char *w = cJSON_GetStringValue(cJSON_GetObjectItem(t, "watermark"));
    snprintf(st->watermark, sizeof st->watermark, "%s", w ? w : "");
    cJSON *l = cJSON_GetObjectItem(t, "last_load");
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(l, "status"));
    const char *e = cJSON_GetStringValue(cJSON_GetObjectItem(l, "error"));
    snprintf(st->last_status, sizeof st->last_status, "%s", s ? s : "");
    snprintf(st->last_error, sizeof st->last_error, "%s", e ? e : "");
    cJSON_Delete(j);
}

/* ---- tests ------------------------------------------------------------------------ */

/* initial load, then updates + inserts + boundary ties as a delta, then a
 * run with nothing new: each version once, Parquet read by DuckDB */
START_TEST(delta_parquet_through_the_binary)
{
    s_source(3000, false);
    s_config("\"row_group_size\": 65536, ", NULL, NULL);
    int64_t before = s_akid_requests(g_srv.akid);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_check_lake(1);
    /* what DuckDB saw: the source's columns, with their types */
    char p[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/lake_cols.json", s_dir);
    FILE *f = fopen(p, "r");
    char cols[1024] = "";
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(cols, sizeof cols, f));
    fclose(f);
    ck_assert_msg(strstr(cols, "{\"name\":\"id\",\"type\":\"BIGINT\"},{\"name\":\"seq\",\"type\":\"BIGINT\"},"
                               "{\"name\":\"val\",\"type\":\"VARCHAR\"}"),
                  "%s", cols);
    for (int step = 1; step <= 2; step++) {
        s_mutate(step, 7);
        ck_assert_msg(RUN("--json", "run") == 0, "%s", e2e_output(s_dir));
        ck_assert_msg(strstr(e2e_output(s_dir), "\"mode\":\t\"delta\""), "%s", e2e_output(s_dir));
        s_check_lake(1 + step);
    }
    ck_assert_int_eq(RUN("--json", "run"), 0);
    ck_assert_msg(strstr(e2e_output(s_dir), "\"outcome\":\t\"noop\""), "%s", e2e_output(s_dir));
    s_check_lake(3);
    struct s_status st;
    s_get_status(&st);
    ck_assert_str_eq(st.watermark, e2e_sql_value(s_db, "SELECT max(seq) FROM orders"));
    /* every request went through the verifying proxy, signed with the test key */
    ck_assert_int_gt(s_akid_requests(g_srv.akid) - before, 5);
}
END_TEST

/* The store fails every request of a run (503 SlowDown): retries give up,
 * the run exits 1, the watermark stays and the error is recorded; once
 * the fault is gone the next run loads the same rows, once. */
START_TEST(retries_give_up_then_recover)
{
    s_source(2000, false);
    s_config("\"max_attempts\": 3, \"retry_base_delay_ms\": 5, ", NULL, NULL);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    struct s_status st0;
    s_get_status(&st0);
    s_mutate(1, 5);
    char fault[512];
    snprintf(fault, sizeof fault,
             "[{\"action\":\"status\",\"status\":503,\"code\":\"SlowDown\",\"message\":\"Please reduce your request "
             "rate.\",\"count\":1000000,\"match\":\"%s\"}]",
             s_prefix);
    free(s3t_proxy(&g_srv, "POST", "faults", fault));
    int64_t faults0 = s3t_stat(&g_srv, "faults");
    int rc = RUN("run");
    ck_assert_msg(rc == 1, "expected exit 1, got %d: %s", rc, e2e_output(s_dir));
    ck_assert_msg(strstr(e2e_output(s_dir), "SlowDown") && strstr(e2e_output(s_dir), "gave up after 3 attempts"), "%s",
                  e2e_output(s_dir));
    /* retried: at least the three attempts of the first request hit the fault */
    ck_assert_int_ge(s3t_stat(&g_srv, "faults") - faults0, 3);
    free(s3t_proxy(&g_srv, "DELETE", "faults", NULL));
    struct s_status st;
    s_get_status(&st);
    ck_assert_str_eq(st.watermark, st0.watermark);
    /* every request failed, the discard too: the load stays "planned" (the
     * next run's recovery removes its files first) with the error recorded */
    ck_assert_msg(!strcmp(st.last_status, "failed") || !strcmp(st.last_status, "planned"), "%s", st.last_status);
    ck_assert_msg(strstr(st.last_error, "SlowDown"), "recorded error: %s", st.last_error);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_check_lake(2);

    /* Now a failure in the middle of a multipart file: the first part goes
     * up, every later UploadPart fails. The target aborts the upload and the
     * engine discards what the load wrote (other requests still work). */
    s_config("\"max_attempts\": 2, \"retry_base_delay_ms\": 5, \"compression\": \"none\", \"row_group_size\": "
             "1048576, \"part_size\": 5242880, \"max_file_size\": 5300000, ", NULL, NULL);
    /* every row moves, 6 kB each: ~12 MB, three multipart files */
    e2e_sql(s_db, "UPDATE orders SET val = 'big-' || hex(randomblob(3000)), seq = seq + 1000000");
    snprintf(fault, sizeof fault,
             "[{\"op\":\"UploadPart\",\"action\":\"status\",\"status\":503,\"code\":\"SlowDown\",\"skip\":1,"
             "\"count\":1000000,\"match\":\"%s\"}]",
             s_prefix);
    free(s3t_proxy(&g_srv, "POST", "faults", fault));
    int64_t aborts0 = s3t_stat(&g_srv, "byOp.AbortMultipartUpload");
    rc = RUN("run");
    free(s3t_proxy(&g_srv, "DELETE", "faults", NULL));
    ck_assert_msg(rc == 1, "expected exit 1, got %d: %s", rc, e2e_output(s_dir));
    ck_assert_int_ge(s3t_stat(&g_srv, "byOp.AbortMultipartUpload") - aborts0, 1);
    s_get_status(&st);
    ck_assert_str_eq(st.last_status, "failed");
    ck_assert_msg(strstr(st.last_error, "UploadPart") && strstr(st.last_error, "SlowDown"), "%s", st.last_error);
    struct s_lake lake;
    s_read_lake(&lake, false);
    ck_assert_msg(lake.problem[0] == '\0', "the failed load left: %s", lake.problem);
    ck_assert_int_eq(lake.manifests, 2);
    ck_assert_int_eq(s_open_uploads(), 0);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_check_lake(3);
}
END_TEST

extern char **environ;

/* Runs `deltaload run` and kills it (SIGKILL) once the proxy has seen `n`
 * more requests, plus `extra_ms`: a kill point inside the S3 traffic of a
 * load (or of its recovery) whatever the machine's speed. Returns the exit
 * code, 128+9 if killed. */
static int s_run_kill_at_request(int n, int extra_ms)
{
    char out[PATH_MAX + 32];
    snprintf(out, sizeof out, "%s/last.out", s_dir);
    char *argv[] = {getenv("DLD_BIN"), "run", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    char cwd[PATH_MAX];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(s_dir), 0);
    int64_t start = s3t_stat(&g_srv, "requests");
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    ck_assert_int_eq(chdir(cwd), 0);
    posix_spawn_file_actions_destroy(&fa);
    ck_assert_msg(rc == 0, "cannot start %s", argv[0]);
    int status = 0;
    for (;;) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            goto done;
        if (s3t_stat(&g_srv, "requests") - start >= n)
            break;
        usleep(2000);
    }
    if (extra_ms > 0)
        usleep((useconds_t)extra_ms * 1000);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
done:
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

/* kill -9 at random moments of loads made of several multipart files; after
 * the lease expires the next run recovers (deletes the dead attempt's
 * objects, aborts its uploads) and loads the same window again */
START_TEST(kill9_mid_multipart_then_recover)
{
    s_source(180000, true);
    /* ~21 MB of Parquet for the full load: 4 files of 2 parts each */
    s_config("\"compression\": \"none\", \"row_group_size\": 1048576, \"part_size\": 5242880,"
             " \"max_file_size\": 5800000, \"concurrency\": 2, ",
             NULL, NULL);
    unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);
    int killed = 0, tried = 0, left_upload = 0, left_objects = 0;
    /* rounds 0,1 kill the full load (and then its recovery), round 2 lets
     * it finish and changes the source, rounds 3,4 kill the delta, ... */
    const int rounds = 8;
    for (int round = 0; round < rounds; round++) {
        if (round % 3 == 2) {
            ck_assert_msg(RUN("run") == 0, "round %d: %s", round, e2e_output(s_dir));
            /* a big delta: every third row moves (but not those s_mutate
             * changes next: one version per row between two runs) */
            char sql[256];
            snprintf(sql, sizeof sql,
                     "UPDATE orders SET seq = seq + 1000000, val = 'r%d-' || hex(randomblob(48)) "
                     "WHERE id %% 3 = %d AND id %% 13 <> %d",
                     round, round % 3, round % 13);
            e2e_sql(s_db, sql);
            s_mutate(round, 13);
            continue;
        }
        /* a full load is ~16 requests (4 files of 2 parts), a delta ~8;
         * before them the first run lists the lake (manifests, data,
         * uploads: 3) and a recovery asks and discards (5 or more) */
        int at = 4 + (int)(rand_r(&seed) % 12), extra = (int)(rand_r(&seed) % 40);
        int rc = s_run_kill_at_request(at, extra);
        ck_assert_msg(rc == 0 || rc == 128 + 9, "round %d: exit %d: %s", round, rc, e2e_output(s_dir));
        tried++;
        if (rc == 128 + 9) {
            killed++;
            struct s_lake lake;
            s_read_lake(&lake, false);
            left_objects += lake.orphans > 0;
            left_upload += s_open_uploads() > 0;
            usleep(1100000); /* the dead process's lease (lease_ttl_seconds 1) */
        }
    }
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    fprintf(stderr, "kill9_mid_multipart: %d of %d runs killed, %d left an open multipart upload, %d left objects "
                    "of the dead attempt\n", killed, tried, left_upload, left_objects);
    /* the kills did land inside loads, or this proved nothing */
    ck_assert_int_ge(killed, 2);
    ck_assert_int_ge(left_upload + left_objects, 1);
    s_check_lake(-1);
}
END_TEST

/* A holder that stalls past its lease (SIGSTOP right before load_publish,
 * through the fault wrapper of tests/core around the real s3 target) while
 * another process takes over: the second recovers the first's load (claims
 * its manifest as aborted, deletes its objects) and commits the window; the
 * first wakes up and its conditional manifest PUT is refused (412 from the
 * proxy's If-None-Match emulation), so no published manifest ever points at
 * deleted objects and the lake holds every row once. */
START_TEST(stalled_holder_publish_refused)
{
    const char *tpd = getenv("DLD_TEST_PLUGIN_DIR");
    ck_assert_msg(tpd != NULL, "DLD_TEST_PLUGIN_DIR is not set (the fault wrapper lives there)");
    s_source(500, false);
    s_config(NULL, NULL, NULL);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_mutate(1, 13);
    /* A's config: the same source and state, the s3 target behind the fault wrapper */
    char text[8192], path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/a.json", s_dir);
    snprintf(text, sizeof text,
             "{\"plugin_dirs\": [\"%s\", \"%s\"],\n"
             " \"source\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"src.db\"}},\n"
             " \"target\": {\"plugin\": \"fault\", \"options\": {\"inner\": \"%s/dld-target-s3.so\","
             " \"stop_in\": \"publish\", \"inner_options\": {\"bucket\": \"lake\", \"prefix\": \"%s\","
             " \"endpoint\": \"%s\", \"path_style\": \"true\", \"region\": \"us-east-1\", \"format\": \"parquet\","
             " \"access_key_id\": \"%s\", \"secret_access_key\": \"%s\"}}},\n"
             " \"state\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"state.db\"}},\n"
             " \"engine\": {\"batch_rows\": 2000, \"lease_ttl_seconds\": 1, \"retries\": 0},\n"
             " \"tables\": [{\"targetTableName\": \"orders\", \"sourceSchema\": \"main\", \"sourceTable\": \"orders\","
             " \"filtercolumn\": \"seq\", \"filteroperator\": \"gte\", \"startvalue\": \"1\", \"activeflag\": \"Y\","
             " \"ouputs3Prefix\": \"raw\"}]}\n",
             getenv("DLD_PLUGIN_DIR"), tpd, getenv("DLD_PLUGIN_DIR"), s_prefix, g_srv.endpoint, g_srv.akid, g_srv.secret);
    e2e_write(path, text);
    char aout[PATH_MAX + 16];
    snprintf(aout, sizeof aout, "%s/a.out", s_dir);
    pid_t a = fork();
    ck_assert_int_ge(a, 0);
    if (a == 0) {
        int fd = open(aout, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || chdir(s_dir) != 0)
            _exit(127);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(getenv("DLD_BIN"), getenv("DLD_BIN"), "-c", "a.json", "run", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(a, &status, WUNTRACED), a);
    ck_assert_msg(WIFSTOPPED(status), "A did not stop before publishing (status %d)", status);
    usleep(1100000); /* A's lease (1 s) expires: its heartbeat is stopped with it */

    int rc = RUN("run");
    if (rc != 0) {
        kill(a, SIGKILL);
        waitpid(a, &status, 0);
    }
    ck_assert_msg(rc == 0, "B: %s", e2e_output(s_dir));
    ck_assert_msg(strstr(e2e_output(s_dir), "recovery: load 2 was interrupted"), "%s", e2e_output(s_dir));
    struct s_lake lake;
    s_read_lake(&lake, false);
    ck_assert_int_eq(lake.aborted, 1);

    kill(a, SIGCONT);
    ck_assert_int_eq(waitpid(a, &status, 0), a);
    char *out = NULL;
    {
        FILE *f = fopen(aout, "rb");
        ck_assert_ptr_nonnull(f);
        static char buf[65536];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
        out = buf;
    }
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 0, "A exited 0 after losing its lease: %s", out);
    ck_assert_msg(strstr(out, "publish refused"), "A's late publish was not refused: %s", out);
    /* B's load 3 and the first load: two published manifests, A's aborted
     * one, no object of A's load left, every row once */
    s_check_lake(2);
    s_read_lake(&lake, false);
    ck_assert_int_eq(lake.aborted, 1);
    ck_assert_msg(lake.problem[0] == '\0', "%s", lake.problem);
}
END_TEST

/* A wrong secret: the proxy answers SignatureDoesNotMatch; the run fails
 * with exit 1 and says so, the watermark stays, and neither the wrong nor
 * the right secret appears in any output or in the state store. */
START_TEST(bad_secret_fails_cleanly)
{
    static const char *wrong = "WrongSecretThatMustNotLeak/0123456789xyz";
    s_source(500, false);
    s_config(NULL, NULL, NULL);
    ck_assert_msg(RUN("-v", "run") == 0, "%s", e2e_output(s_dir));
    ck_assert_msg(!strstr(e2e_output(s_dir), g_srv.secret), "the secret was printed: %s", e2e_output(s_dir));
    struct s_status st0;
    s_get_status(&st0);
    s_mutate(1, 7);
    char creds[512];
    snprintf(creds, sizeof creds, ", \"access_key_id\": \"%s\", \"secret_access_key\": \"%s\"", g_srv.akid, wrong);
    s_config(NULL, creds, NULL);
    int64_t rejected0 = s3t_stat(&g_srv, "rejected");
    const char *const variants[][3] = {{"-v", "run", NULL}, {"--json", "run", NULL}};
    for (int v = 0; v < 2; v++) {
        int rc = e2e_run(s_dir, variants[v], 0);
        const char *out = e2e_output(s_dir);
        ck_assert_msg(rc == 1, "expected exit 1, got %d: %s", rc, out);
        ck_assert_msg(strstr(out, "SignatureDoesNotMatch"), "no AWS error code: %s", out);
        ck_assert_msg(!strstr(out, wrong) && !strstr(out, g_srv.secret), "a secret was printed: %s", out);
    }
    ck_assert_int_ge(s3t_stat(&g_srv, "rejected") - rejected0, 2);
    struct s_status st;
    s_get_status(&st);
    ck_assert_str_eq(st.watermark, st0.watermark);
    ck_assert_msg(!strcmp(st.last_status, "failed") || !strcmp(st.last_status, "planned"), "%s", st.last_status);
    ck_assert_msg(strstr(st.last_error, "SignatureDoesNotMatch"), "%s", st.last_error);
    /* status (plain and JSON, which echo the configuration) and history */
    const char *const shows[][3] = {{"status", NULL, NULL}, {"--json", "status", NULL}, {"history", NULL, NULL},
                                    {"--json", "history", NULL}};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(e2e_run(s_dir, shows[i], 0), 0);
        ck_assert_msg(!strstr(e2e_output(s_dir), wrong), "a secret was printed: %s", e2e_output(s_dir));
    }
    char cmd[PATH_MAX + 512];
    snprintf(cmd, sizeof cmd, "grep -rqaF -e '%s' -e '%s' '%s/state.db'", wrong, g_srv.secret, s_dir);
    ck_assert_msg(system(cmd) != 0, "a secret is stored in the state store");
    s_config(NULL, NULL, NULL);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_check_lake(2);
}
END_TEST

/* Each source of the credentials chain, end to end: the keys it hands out
 * must sign requests the proxy accepts (it counts requests per key id). */
START_TEST(credential_sources_sign_through_the_proxy)
{
    static const char *names[] = {"environment", "shared credentials file", "credential_process", "web identity",
                                  "container endpoint", "instance metadata (IMDSv2)"};
    char p[PATH_MAX + 64], text[PATH_MAX + 512];
    const char *akid = g_srv.akid;
    const char *target_creds = ""; /* nothing static in the config */
    switch (_i) {
    case 0:
        setenv("AWS_ACCESS_KEY_ID", g_srv.akid, 1);
        setenv("AWS_SECRET_ACCESS_KEY", g_srv.secret, 1);
        break;
    case 1:
        snprintf(p, sizeof p, "%s/aws-credentials", s_dir);
        snprintf(text, sizeof text, "[lake]\naws_access_key_id = %s\naws_secret_access_key = %s\n", g_srv.akid,
                 g_srv.secret);
        e2e_write(p, text);
        setenv("AWS_SHARED_CREDENTIALS_FILE", p, 1);
        target_creds = ", \"profile\": \"lake\"";
        break;
    case 2:
        snprintf(p, sizeof p, "%s/aws-config", s_dir);
        snprintf(text, sizeof text,
                 "[default]\ncredential_process = printf '{\"Version\": 1, \"AccessKeyId\": \"%%s\", "
                 "\"SecretAccessKey\": \"%%s\", \"SessionToken\": \"%%s\"}' ASIADELTALOADTEMP "
                 "temporary/secret/key/for/session/tests session-token-for-tests==\n");
        e2e_write(p, text);
        setenv("AWS_CONFIG_FILE", p, 1);
        akid = "ASIADELTALOADTEMP";
        break;
    case 3:
        snprintf(p, sizeof p, "%s/web-identity-token", s_dir);
        e2e_write(p, "e2e-web-identity-jwt");
        setenv("AWS_WEB_IDENTITY_TOKEN_FILE", p, 1);
        setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/deltaload", 1);
        setenv("AWS_ENDPOINT_URL_STS", g_srv.creds, 1);
        akid = "ASIAE2EWEBID";
        break;
    case 4:
        snprintf(p, sizeof p, "%s/container/creds", g_srv.creds);
        setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", p, 1);
        setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "e2e-container-auth", 1);
        akid = "ASIAE2ECONTAINER";
        break;
    case 5:
        setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", g_srv.creds, 1);
        unsetenv("AWS_EC2_METADATA_DISABLED");
        akid = "ASIAE2EIMDS";
        break;
    }
    s_source(200, false);
    s_config(NULL, target_creds, NULL);
    int64_t before = s_akid_requests(akid);
    int rc = RUN("run");
    ck_assert_msg(rc == 0, "%s: exit %d: %s", names[_i], rc, e2e_output(s_dir));
    ck_assert_msg(s_akid_requests(akid) - before >= 2, "%s: no request was signed with %s", names[_i], akid);
    s_check_lake(1);
}
END_TEST

/* The test's config made an Iceberg table: item_extra is added to the
 * item (", \"merge_key\": [\"id\"]"), target_extra to the target's
 * options (a fragment ending with ','); state: the state plugin's JSON
 * (NULL: the plain SQLite store); kill_in: NULL, or where the crash
 * wrapper around the s3 target dies (its kill_in option: write, finish,
 * publish). */
#define S_UPSERT ", \"merge_key\": [\"id\"]"
#define S_PARTITIONED ", \"partition_by\": \"bucket(4, id)\""

static void s_ice_config(const char *item_extra, const char *target_extra, const char *state, const char *kill_in)
{
    char target[512];
    snprintf(target, sizeof target, "\"table_format\": \"iceberg\", \"max_file_size\": 4096, %s",
             target_extra ? target_extra : "");
    s_config(target, NULL, NULL);
    char cfg[PATH_MAX + 32];
    snprintf(cfg, sizeof cfg, "%s/deltaload.json", s_dir);
    char *text = e2e_slurp(cfg), *next = NULL;
    char *at = strstr(text, "\"ouputs3Prefix\": \"raw\"}");
    ck_assert_ptr_nonnull(at);
    *at = '\0';
    ck_assert_int_ge(asprintf(&next, "%s\"ouputs3Prefix\": \"raw\"%s}%s", text, item_extra,
                              at + strlen("\"ouputs3Prefix\": \"raw\"}")),
                     0);
    free(text);
    if (kill_in) {
        /* the s3 target's options go to the wrapper's inner_options (it
         * does not declare them); those it declares (with their file
         * target defaults) are set on the wrapper itself */
        static const char s3[] = "\"plugin\": \"s3\", \"options\": ";
        char *at3 = strstr(next, s3), *end = at3 ? strstr(at3, "}},\n") : NULL;
        ck_assert_ptr_nonnull(end);
        *at3 = '\0';
        ck_assert_int_ge(asprintf(&text,
                                  "%s\"plugin\": \"crash\", \"options\": {\"inner\": \"%s/dld-target-s3.so\", "
                                  "\"kill_in\": \"%s\", \"kill_after_writes\": 1, \"table_format\": \"iceberg\", \"format\": \"parquet\", \"max_file_size\": 4096, "
                                  "\"inner_options\": %.*s}%s",
                                  next, getenv("DLD_PLUGIN_DIR"), kill_in, (int)(end + 1 - (at3 + strlen(s3))),
                                  at3 + strlen(s3), end + 1),
                         0);
        free(next);
        next = text;
    }
    if (state || kill_in) {
        /* the crash wrappers live in the test plugins' folder */
        static const char plain[] = "{\"plugin\": \"sqlite\", \"options\": {\"path\": \"state.db\"}}";
        char *dirs = strstr(next, "\"plugin_dirs\": [\""), *st = strstr(next, plain);
        ck_assert_ptr_nonnull(dirs);
        ck_assert_ptr_nonnull(st);
        *st = '\0';
        dirs[strlen("\"plugin_dirs\": [")] = '\0';
        ck_assert_int_ge(asprintf(&text, "%s\"%s\", \"%s%s%s", next, getenv("DLD_TEST_PLUGIN_DIR"),
                                  dirs + strlen("\"plugin_dirs\": [\""), state ? state : plain,
                                  st + strlen(plain)),
                         0);
        free(next);
        next = text;
    }
    e2e_write(cfg, next);
    free(next);
}

/* the table's metadata version (version-hint.text in the bucket; 0: none) */
static int s_ice_version(void)
{
    char key[512], *body = NULL;
    size_t len = 0;
    snprintf(key, sizeof key, "%smetadata/version-hint.text", s_table);
    int st = s3t_get(&g_srv, "lake", key, &body, &len);
    int v = st == 200 && body ? atoi(body) : 0;
    free(body);
    return v;
}

/* records the source table's rows as what a reader must see at the table's
 * current metadata version */
static void s_ice_expect_now(cJSON *versions)
{
    char key[16], *rows = e2e_source_rows(s_db, "SELECT id, seq, val FROM orders");
    snprintf(key, sizeof key, "%d", s_ice_version());
    cJSON_DeleteItemFromObject(versions, key);
    cJSON_AddItemToObject(versions, key, e2e_lines_json(rows));
    free(rows);
}

/* tests/iceberg/verify.mjs on the table (expect: {"versions": ...}; the
 * newest version must equal latest_sql's rows; upsert: the equality deletes
 * are on id); returns its report (malloc'ed) */
static char *s_ice_verify(cJSON *expect, const char *latest_sql, bool upsert)
{
    char *rows = e2e_source_rows(s_db, latest_sql);
    cJSON_AddItemToObject(expect, "latest", e2e_lines_json(rows));
    free(rows);
    if (upsert)
        cJSON_AddItemToObject(expect, "equality_ids", cJSON_CreateIntArray((const int[]){1}, 1));
    char path[PATH_MAX + 32], out[PATH_MAX + 32], cmd[4 * PATH_MAX + 512];
    snprintf(path, sizeof path, "%s/expect.json", s_dir);
    char *text = cJSON_Print(expect);
    e2e_write(path, text);
    free(text);
    /* s3rver's own address (the proxy wants signatures; icebird does not sign) */
    snprintf(cmd, sizeof cmd, "%s/servers.json", getenv("DLD_S3_STATE"));
    text = e2e_slurp(cmd);
    cJSON *servers = cJSON_Parse(text);
    free(text);
    const char *s3rver = cJSON_GetStringValue(cJSON_GetObjectItem(servers, "s3rver"));
    ck_assert_ptr_nonnull(s3rver);
    snprintf(out, sizeof out, "%s/verify.out", s_dir);
    snprintf(cmd, sizeof cmd, "DLD_S3_HTTP='%s' node '%s/tests/iceberg/verify.mjs' 's3://lake/%s/raw/main/orders' '%s' > '%s' 2>&1",
             s3rver, getenv("DLD_SOURCE_DIR"), s_prefix, path, out);
    cJSON_Delete(servers);
    int st = system(cmd);
    text = e2e_slurp(out);
    ck_assert_msg(st == 0, "verify.mjs: %s", text ? text : "");
    return text;
}

/* table_format iceberg with merge_key upserts on the s3 target: every
 * snapshot must equal the source table when icebird reads it over HTTP
 * from the stand-in (s3rver answers unsigned GETs), and avsc and DuckDB
 * check a downloaded copy (tests/iceberg/verify.mjs, as for the file
 * target): manifests against the spec, column statistics, deletes. */
START_TEST(iceberg_upserts_read_back)
{
    s_source(300, false);
    s_ice_config(S_UPSERT, NULL, NULL, NULL);
    cJSON *expect = cJSON_CreateObject(), *versions = cJSON_AddObjectToObject(expect, "versions");
    for (int step = 0; step <= 2; step++) {
        if (step)
            s_mutate(step, 7);
        ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
        s_ice_expect_now(versions);
    }
    ck_assert_int_eq(s_ice_version(), 3);
    char *text = s_ice_verify(expect, "SELECT id, seq, val FROM orders", true);
    cJSON_Delete(expect);
    fprintf(stderr, "iceberg on s3: %s", text);
    ck_assert_msg(strstr(text, "\"checked_versions\":[1,2,3]") && !strstr(text, "\"delete_files\":0,"), "%s", text);
    free(text);
}
END_TEST

/* kill -9 before and after each of the state transitions of an upsert
 * load on S3 (the crash wrapper around the SQLite store), and inside the
 * target (mid-stream, after finishing, after publishing), each followed by
 * a recovering run: every snapshot a reader can open must equal the source
 * table at the run that committed it, the newest must equal it now, each
 * change must give exactly one snapshot, no object of a dead attempt may
 * stay, no multipart upload stay open. */
START_TEST(iceberg_kill_at_every_transition)
{
    static const char *const in_target[] = {"write", "finish", "publish"};
    s_source(300, false);
    s_ice_config(S_UPSERT, NULL, NULL, NULL);
    cJSON *expect = cJSON_CreateObject(), *versions = cJSON_AddObjectToObject(expect, "versions");
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    s_ice_expect_now(versions);
    int killed = 0, step = 0;
    /* 4 state transitions of a load x before/after, then the 3 target points */
    for (int i = 0; i < 11; i++) {
        int k = i / 2 + 1;
        const char *where = i < 8 ? (i % 2 ? "after" : "before") : in_target[i - 8];
        s_mutate(++step, 7);
        int before = s_ice_version();
        char state[1024];
        snprintf(state, sizeof state,
                 "{\"plugin\": \"crash\", \"options\": {\"inner\": \"%s/dld-state-sqlite.so\", \"path\": "
                 "\"state.db\", \"kill_at\": %d, \"kill_point\": \"%s\"}}",
                 getenv("DLD_PLUGIN_DIR"), k, where);
        s_ice_config(S_UPSERT, NULL, i < 8 ? state : NULL, i < 8 ? NULL : where);
        int rc = RUN("run");
        ck_assert_msg(rc == 128 + 9, "kill at %s %d: exit %d: %s", where, k, rc, e2e_output(s_dir));
        killed++;
        {
            s_ice_config(S_UPSERT, NULL, NULL, NULL);
            /* the dead holder's lease is broken at once (same host, pid gone) */
            ck_assert_msg(RUN("run") == 0, "after the kill at %s %d: %s", where, k, e2e_output(s_dir));
            s_ice_expect_now(versions);
            /* one change, one snapshot: never two, never none */
            ck_assert_int_eq(s_ice_version(), before + 1);
            struct s_lake lake;
            s_read_lake(&lake, false);
            ck_assert_msg(lake.problem[0] == '\0', "kill at %s %d: %s", where, k, lake.problem);
            ck_assert_int_eq(s_open_uploads(), 0);
        }
    }
    char *text = s_ice_verify(expect, "SELECT id, seq, val FROM orders", true);
    cJSON_Delete(expect);
    fprintf(stderr, "iceberg kills on s3: %d runs killed, each recovered; %s", killed, text);
    free(text);
}
END_TEST

/* objects under the table's data/ folder */
static int s_data_objects(void)
{
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%sdata/", s_table);
    char *keys = s3t_list(&g_srv, "lake", prefix);
    int n = 0;
    for (const char *p = keys; p && (p = strstr(p, "/data/")); p++)
        n++;
    free(keys);
    return n;
}

/* partition_by on the s3 target (docs/iceberg.md#partitioning): a delta
 * table partitioned by bucket(4, id) with at most 2 files open, its data
 * files under data/id_bucket=N/ (keys with '=' and folders, signed through
 * the SigV4-verifying proxy); a kill inside the target after finish leaves
 * complete objects under data/ of an unpublished load, which the
 * recovering run's discard finds (its listing of data/) and removes;
 * every snapshot read back by icebird over HTTP, the manifests' partition
 * values and folders checked, nothing under data/ that no snapshot lists
 * (tests/iceberg/verify.mjs). */
START_TEST(iceberg_partitioned_read_back)
{
    s_source(300, false);
    cJSON *expect = cJSON_CreateObject(), *versions = cJSON_AddObjectToObject(expect, "versions");
    for (int step = 0; step <= 3; step++) {
        if (step)
            s_mutate(step, 7);
        if (step == 2) {
            s_ice_config(S_PARTITIONED, "\"max_open_partitions\": 2, ", NULL, "finish");
            int before = s_data_objects();
            int rc = RUN("run");
            ck_assert_msg(rc == 128 + 9, "kill after finish: exit %d: %s", rc, e2e_output(s_dir));
            ck_assert_int_gt(s_data_objects(), before); /* the dead load's files, to be discarded */
        }
        s_ice_config(S_PARTITIONED, "\"max_open_partitions\": 2, ", NULL, NULL);
        ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
        char key[16], *rows = e2e_source_rows(s_db, "SELECT id, seq, val FROM versions");
        snprintf(key, sizeof key, "%d", s_ice_version());
        cJSON_DeleteItemFromObject(versions, key);
        cJSON_AddItemToObject(versions, key, e2e_lines_json(rows));
        free(rows);
    }
    ck_assert_int_eq(s_ice_version(), 4);
    ck_assert_int_eq(s_open_uploads(), 0);
    /* a delta table holds every row version */
    char *text = s_ice_verify(expect, "SELECT id, seq, val FROM versions", false);
    cJSON_Delete(expect);
    fprintf(stderr, "iceberg partitioned on s3: %s", text);
    ck_assert_msg(strstr(text, "\"partition_fields\":1,") && !strstr(text, "\"partition_entries_checked\":0,") &&
                      !strstr(text, "\"files_under_data\":0"),
                  "%s", text);
    free(text);
}
END_TEST

static Suite *s_suite(void)
{
    Suite *s = suite_create("e2e_s3");
    TCase *tc = tcase_create("e2e_s3");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, delta_parquet_through_the_binary);
    tcase_add_test(tc, retries_give_up_then_recover);
    tcase_add_test(tc, bad_secret_fails_cleanly);
    tcase_add_test(tc, stalled_holder_publish_refused);
    tcase_add_loop_test(tc, credential_sources_sign_through_the_proxy, 0, 6);
    suite_add_tcase(s, tc);
    /* its own case so it can be repeated alone: CK_RUN_CASE=kill */
    TCase *tk = tcase_create("kill");
    tcase_add_checked_fixture(tk, s_setup, s_teardown);
    tcase_set_timeout(tk, 120);
    tcase_add_test(tk, kill9_mid_multipart_then_recover);
    suite_add_tcase(s, tk);
    /* CK_RUN_CASE=iceberg */
    TCase *ti = tcase_create("iceberg");
    tcase_add_checked_fixture(ti, s_setup, s_teardown);
    tcase_set_timeout(ti, 120);
    tcase_add_test(ti, iceberg_upserts_read_back);
    tcase_add_test(ti, iceberg_kill_at_every_transition);
    tcase_add_test(ti, iceberg_partitioned_read_back);
    suite_add_tcase(s, ti);
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

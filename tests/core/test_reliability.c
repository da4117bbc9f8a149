/* Issue 13: items validated strictly and early, secrets redacted at the
 * boundary, signals honoured in flight, config size limit, --json errors.
 * Unit checks of the SDK and core functions, then the binary end to end. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <dirent.h>

#include "config.h"
#include "e2e_util.h"
#include "engine.h"
#include "heartbeat.h"
#include "items.h"
#include "test_host.h"
#include "../fuzz/redact_property.h"

extern char **environ;

static char s_dir[PATH_MAX];

#define RUN(...) e2e_run(s_dir, (const char *const[]){__VA_ARGS__, NULL}, 0)

static void s_setup(void) { ck_assert_int_eq(dld_test_tmpdir(s_dir, sizeof s_dir, "rel"), 0); }

static void s_teardown(void)
{
    if (getenv("DLD_KEEP_TMP") == NULL)
        dld_test_rmtree(s_dir);
}

static char *s_redacted(const char *text, const char *const *secrets)
{
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s", text);
    dld_redact(buf, sizeof buf, secrets);
    return buf;
}

/* ---- redaction ------------------------------------------------------------------ */
START_TEST(redact_patterns)
{
    ck_assert_str_eq(s_redacted("invalid IPv6 host address in URI: \"postgresql://user:Leak_Pw_1234@[::1/postgres\"", NULL),
                     "invalid IPv6 host address in URI: \"postgresql://user:********@[::1/postgres\"");
    ck_assert_str_eq(s_redacted("host=db password=s3cr3t user=x", NULL), "host=db password=******** user=x");
    ck_assert_str_eq(s_redacted("host=db password = 'it\\'s a pw' user=x", NULL), "host=db password = ******** user=x");
    ck_assert_str_eq(s_redacted("PGPASSWORD=abc&Pwd=def X-Amz-Security-Token=tok", NULL),
                     "PGPASSWORD=********&Pwd=******** X-Amz-Security-Token=********");
    /* no password: left alone */
    ck_assert_str_eq(s_redacted("https://bucket.s3.amazonaws.com:443/key?x=1 user=etl", NULL),
                     "https://bucket.s3.amazonaws.com:443/key?x=1 user=etl");
    ck_assert_str_eq(s_redacted("missing \"=\" after \"Def_SECRET\" in connection info string", NULL),
                     "missing \"=\" after \"Def_SECRET\" in connection info string");
    /* literal secrets, wherever they are; too short ones are not worth mangling text for */
    const char *secrets[] = {"Def_SECRET", "ab", NULL};
    ck_assert_str_eq(s_redacted("missing \"=\" after \"Def_SECRET\" in ab", secrets),
                     "missing \"=\" after \"********\" in ab");
    /* a result that does not fit is cut, never left with a partial secret */
    char small[12] = "pwd=abcdefg";
    dld_redact(small, sizeof small, NULL);
    ck_assert_str_eq(small, "pwd=*******");
    char *dup = dld_redact_dup("user:pw@ postgres://a:b@h", NULL);
    ck_assert_str_eq(dup, "user:pw@ postgres://a:********@h");
    free(dup);
}
END_TEST

START_TEST(conninfo_secrets)
{
    char **l = dld_redact_conninfo_secrets("host=127.0.0.1 password=Abc Def_SECRET dbname=x");
    ck_assert_ptr_nonnull(l);
    ck_assert_str_eq(l[0], "Abc");
    ck_assert_str_eq(l[1], "Def_SECRET");
    ck_assert_ptr_null(l[2]);
    dld_redact_list_free(l);
    l = dld_redact_conninfo_secrets("postgresql://user:Leak_Pw_1234@[::1/postgres");
    ck_assert_str_eq(l[0], "Leak_Pw_1234");
    ck_assert_ptr_null(l[1]);
    dld_redact_list_free(l);
    l = dld_redact_conninfo_secrets("password='a b' host=x");
    ck_assert_str_eq(l[0], "a b");
    ck_assert_ptr_null(l[1]);
    dld_redact_list_free(l);
    l = dld_redact_conninfo_secrets("host=x dbname=y");
    ck_assert_ptr_null(l[0]);
    dld_redact_list_free(l);
}
END_TEST

/* The fuzz finding (tests/fuzz/corpus/item/redact-mask-spells-secret.bin):
 * secrets that contain '*' are spelled again by the masks of other values;
 * no original value survives (redact_property.h). */
START_TEST(redact_mask_spells_secret)
{
    static const char text[] =
        "{password=RETrd=****;ost\xff\xff\xff\xff\xff\xff\xff" "0t=h pa./.pSECRETrd=****;ostgreop,]SAbc$Def_e=h "
        "pa./.pSECRETrd=***\xce;ostgrec\", \"aors:0t=h pa./.pSECRETrd=***ocolum'Q";
    char **l = dld_redact_conninfo_secrets(text);
    ck_assert_ptr_nonnull(l);
    ck_assert_str_eq(l[0], "RETrd=****");
    char *red = dld_redact_dup(text, (const char *const *)l);
    ck_assert_ptr_nonnull(red);
    /* the old check (plain strstr) failed here: the mask spells l[0] */
    ck_assert_ptr_nonnull(strstr(red, l[0]));
    for (size_t i = 0; l[i]; i++)
        if (strlen(l[i]) >= DLD_REDACT_MIN_SECRET)
            ck_assert_msg(dld_test_redact_leak(red, l[i]) < 0, "secret %zu survives in %s", i, red);
    /* the original password's own characters are gone from its place */
    ck_assert_ptr_nonnull(strstr(red, "{password=********;ost"));
    free(red);
    dld_redact_list_free(l);
    /* the property itself can fail: a value left in place, or one next to
     * fewer stars than a mask, is a leak */
    ck_assert_int_eq(dld_test_redact_leak("host=x password=abc", "abc"), 16);
    ck_assert_int_eq(dld_test_redact_leak("a b=**** c", "b=****"), 2);
    ck_assert_int_eq(dld_test_redact_leak("a b=******** c", "b=****"), -1);
    ck_assert_int_eq(dld_test_redact_leak("a ******** c", "abc"), -1);
}
END_TEST

/* Issue 12: is a lease's owner a dead process of this machine? */
START_TEST(lease_owner_dead)
{
    const char *self = dld_engine_owner();
    ck_assert_int_eq(dld_owner_dead((void *)self, self), 0);
    char host[256] = "";
    const char *colon = strchr(self, ':');
    ck_assert_ptr_nonnull(colon);
    snprintf(host, sizeof host, "%.*s", (int)(colon - self), self);
    const char *proc = strrchr(self, ':') + 1;
    const char *hash = strchr(proc, '.');
    ck_assert_msg(hash != NULL, "no start time and machine hash in '%s'", self);
    /* a child that exits: alive while it runs, dead once reaped */
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t child = fork();
    if (child == 0) {
        char c;
        close(fds[1]);
        ssize_t n = read(fds[0], &c, 1);
        _exit(n == 1 ? 0 : 1);
    }
    close(fds[0]);
    char cproc[64], owner[512];
    dld_owner_proc_id((long)child, cproc, sizeof cproc);
    ck_assert_msg(cproc[0] != '\0', "no proc id for the child");
    snprintf(owner, sizeof owner, "%s:%ld:abcdef01:%s", host, (long)child, cproc);
    ck_assert_int_eq(dld_owner_dead((void *)self, owner), 0);
    /* the same pid with another start time: the pid was reused */
    char reused[512];
    snprintf(reused, sizeof reused, "%s:%ld:abcdef01:1%s", host, (long)child, cproc);
    ck_assert_int_eq(dld_owner_dead((void *)self, reused), 1);
    ck_assert_int_eq(write(fds[1], "x", 1), 1);
    close(fds[1]);
    int status;
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert_int_eq(dld_owner_dead((void *)self, owner), 1);
    /* doubt answers "alive": another host, another boot or pid namespace,
     * an owner without the process part, garbage */
    char other[512];
    snprintf(other, sizeof other, "not-%s:%ld:abcdef01:%s", host, (long)child, cproc);
    ck_assert_int_eq(dld_owner_dead((void *)self, other), 0);
    snprintf(other, sizeof other, "%s:%ld:abcdef01:%.*s.0000000000000000", host, (long)child,
             (int)(strchr(cproc, '.') - cproc), cproc);
    ck_assert_int_eq(dld_owner_dead((void *)self, other), 0);
    snprintf(other, sizeof other, "%s:%ld:abcdef01", host, (long)child);
    ck_assert_int_eq(dld_owner_dead((void *)self, other), 0);
    ck_assert_int_eq(dld_owner_dead((void *)self, "x:y:z:w"), 0);
    ck_assert_int_eq(dld_owner_dead((void *)self, ""), 0);
}
END_TEST

/* ---- path-like values --------------------------------------------------------------- */
START_TEST(path_check)
{
    struct dld_error err;
    dld_error_init(&err);
    ck_assert_int_eq(dld_path_check("prefix", NULL, &err), DLD_OK);
    ck_assert_int_eq(dld_path_check("prefix", "", &err), DLD_OK);
    ck_assert_int_eq(dld_path_check("prefix", "/raw/2024/", &err), DLD_OK);
    ck_assert_int_eq(dld_path_check("prefix", "a.b/..c/d..", &err), DLD_OK);
    const char *bad[] = {"../../otherbucket/x", "a/./b", "a/..", "..", "a\\b", "a//b", "a/\tb", NULL};
    for (int i = 0; bad[i]; i++) {
        dld_error_init(&err);
        ck_assert_msg(dld_path_check("prefix", bad[i], &err) == DLD_ERR_CONFIG, "accepted '%s'", bad[i]);
        ck_assert_msg(strstr(err.message, "prefix"), "%s", err.message);
    }
    char lng[700];
    memset(lng, 'a', sizeof lng - 1);
    lng[sizeof lng - 1] = '\0';
    ck_assert_int_eq(dld_path_check("prefix", lng, &err), DLD_ERR_CONFIG);
}
END_TEST

/* ---- items ------------------------------------------------------------------------------ */
static int s_item(const char *json, struct dld_item *it, struct dld_error *err)
{
    cJSON *o = cJSON_Parse(json);
    ck_assert_ptr_nonnull(o);
    dld_error_init(err);
    int rc = dld_item_parse(o, it, err);
    cJSON_Delete(o);
    return rc;
}

#define ITEM_ERROR(attrs, needle, needle2)                                                              \
    do {                                                                                                 \
        struct dld_item it_;                                                                             \
        struct dld_error err_;                                                                           \
        ck_assert_int_eq(s_item("{\"targetTableName\": \"x\", \"sourceTable\": \"t\"" attrs "}", &it_, &err_), \
                         DLD_ERR_CONFIG);                                                                \
        ck_assert_msg(strstr(err_.message, needle) && strstr(err_.message, needle2), "lacks '%s'/'%s': %s", \
                      needle, needle2, err_.message);                                                    \
    } while (0)

START_TEST(item_strict)
{
    /* case and one-edit near misses name both attributes */
    ITEM_ERROR(", \"filterColumn\": \"id\"", "'filterColumn'", "'filtercolumn'");
    ITEM_ERROR(", \"filtercolumn\": \"id\", \"startValue\": \"1\"", "'startValue'", "'startvalue'");
    ITEM_ERROR(", \"activeFlag\": \"N\"", "'activeFlag'", "'activeflag'");
    ITEM_ERROR(", \"outputs3Prefix\": \"raw\"", "'outputs3Prefix'", "'ouputs3Prefix'");
    ITEM_ERROR(", \"filtercolum\": \"id\"", "'filtercolum'", "'filtercolumn'");
    ITEM_ERROR(", \"filtercolunm\": \"id\"", "'filtercolunm'", "'filtercolumn'");
    ITEM_ERROR(", \"LAG\": 5", "'LAG'", "'lag'");
    /* values without their column, control characters, path tricks */
    ITEM_ERROR(", \"startvalue\": \"5\"", "startvalue", "no filtercolumn");
    ITEM_ERROR(", \"endvalue\": \"5\"", "endvalue", "no filtercolumn");
    ITEM_ERROR(", \"filtercolumn\": \"id\", \"startvalue\": \"5\\u0001\"", "startvalue", "control character");
    ITEM_ERROR(", \"ouputs3Prefix\": \"../../etc\"", "ouputs3Prefix", "'..'");
    ITEM_ERROR(", \"ouputs3Prefix\": \"a\\\\b\"", "ouputs3Prefix", "'\\'");
    ITEM_ERROR(", \"ouputs3Prefix\": \"a/./b\"", "ouputs3Prefix", "'.'");
    ITEM_ERROR(", \"sourceSchema\": \"..\"", "sourceSchema", "'..'");
    char json[512], lng[200];
    memset(lng, 'p', 150);
    lng[150] = '\0';
    snprintf(json, sizeof json, "{\"targetTableName\": \"x\", \"sourceTable\": \"t\", \"ouputs3Prefix\": \"%s\"}", lng);
    struct dld_item it;
    struct dld_error err;
    ck_assert_int_eq(s_item(json, &it, &err), DLD_ERR_CONFIG);
    ck_assert_msg(strstr(err.message, "limited to 128"), "%s", err.message);
    /* custom attributes far from every known name stay accepted and kept */
    ck_assert_int_eq(s_item("{\"targetTableName\": \"x\", \"sourceTable\": \"t\", \"log\": 1, \"flag\": 2, \"owner\": \"me\","
                            " \"ouputs3Prefix\": \"/raw/2024/\"}",
                            &it, &err),
                     DLD_OK);
    ck_assert_msg(strstr(it.item_json, "owner"), "%s", it.item_json);
    dld_item_clean_up(&it);
    /* `<name>__vN` is reserved for schema_change rewrite versions; other names with __v stay accepted */
    ck_assert_int_eq(s_item("{\"targetTableName\": \"orders__v2\", \"sourceTable\": \"t\"}", &it, &err), DLD_ERR_CONFIG);
    ck_assert_msg(strstr(err.message, "reserved") && strstr(err.message, "rewrite"), "%s", err.message);
    const char *fine[] = {"orders__v", "orders__vx", "__v2", "orders__v2a", "my__view"};
    for (size_t i = 0; i < sizeof fine / sizeof *fine; i++) {
        snprintf(json, sizeof json, "{\"targetTableName\": \"%s\", \"sourceTable\": \"t\"}", fine[i]);
        ck_assert_msg(s_item(json, &it, &err) == DLD_OK, "%s: %s", fine[i], err.message);
        dld_item_clean_up(&it);
    }
    /* the NUL scanner: \\u0000 is an escaped backslash, not a NUL */
    size_t off = 0;
    ck_assert(dld_json_has_nul("{\"a\": \"orders\\u0000xyz\"}", &off));
    ck_assert_int_eq((int)off, 13);
    ck_assert(!dld_json_has_nul("{\"a\": \"orders\\\\u0000xyz\"}", NULL));
    ck_assert(!dld_json_has_nul("{\"a\": \"x\", \"u0000\": 1}", NULL));
    ck_assert(dld_json_has_nul("{\"a\\u0000\": 1}", NULL));
    ck_assert_int_eq(dld_item_parse_text("{\"targetTableName\": \"orders\\u0000xyz\", \"sourceTable\": \"t\"}", &it, &err),
                     DLD_ERR_CONFIG);
    ck_assert_msg(strstr(err.message, "NUL"), "%s", err.message);
}
END_TEST

/* ---- config ------------------------------------------------------------------------------- */
static int s_load(const char *text, struct dld_config *cfg, struct dld_error *err)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/c.json", s_dir);
    e2e_write(path, text);
    dld_error_init(err);
    return dld_config_load(path, cfg, err);
}

#define CONFIG_ERROR(text, needle)                                                           \
    do {                                                                                     \
        struct dld_config cfg_;                                                              \
        struct dld_error err_;                                                               \
        ck_assert_int_eq(s_load(text, &cfg_, &err_), DLD_ERR_CONFIG);                        \
        ck_assert_msg(strstr(err_.message, needle), "lacks '%s': %s", needle, err_.message); \
        dld_config_clean_up(&cfg_);                                                          \
    } while (0)

START_TEST(config_strict)
{
    CONFIG_ERROR("{\"tables\": [{\"targetTableName\": \"orders\\u0000xyz\", \"sourceTable\": \"t\"}]}",
                 "c.json:1:40: a string contains a NUL character");
    CONFIG_ERROR("{\"tables\": [{\"targetTableName\": \"o\", \"sourceTable\": \"t\", \"filtercolumn\": \"id\",\n"
                 " \"startvalue\": \"5\\u0000abc\"}]}",
                 "c.json:2:18: a string contains a NUL character");
    CONFIG_ERROR("{\"tables\": [{\"targetTableName\": \"a\", \"sourceTable\": \"t\"}, {\"targetTableName\": \"b\","
                 " \"sourceTable\": \"t\"}, {\"targetTableName\": \"a\", \"sourceTable\": \"u\"}]}",
                 "tables[0] and tables[2] have the same targetTableName 'a'");
    CONFIG_ERROR("{\"tables\": [{\"targetTableName\": \"a\", \"sourceTable\": \"t\"}, {\"targetTableName\": \"b\","
                 " \"sourceTable\": \"t\", \"filterColumn\": \"id\"}]}",
                 "tables[1]: item b: attribute 'filterColumn' differs from 'filtercolumn' only by case");
    /* larger than the limit: refused without reading it all (a sparse file of zeros, like /dev/zero) */
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/big.json", s_dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, (off_t)DLD_CONFIG_MAX_BYTES + 4096), 0);
    close(fd);
    struct dld_config cfg;
    struct dld_error err;
    dld_error_init(&err);
    ck_assert_int_eq(dld_config_load(path, &cfg, &err), DLD_ERR_CONFIG);
    ck_assert_msg(strstr(err.message, "is larger than"), "%s", err.message);
    dld_config_clean_up(&cfg);
}
END_TEST

/* ---- the binary ---------------------------------------------------------------------------- */
static void s_config(const char *source, const char *target, const char *tables)
{
    char path[PATH_MAX + 32], text[8192];
    snprintf(path, sizeof path, "%s/deltaload.json", s_dir);
    snprintf(text, sizeof text,
             "{\"plugin_dirs\": [\"%s\"],\n \"source\": %s,\n \"target\": %s,\n"
             " \"state\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"state.db\"}},\n"
             " \"engine\": {\"lease_ttl_seconds\": 30, \"retries\": 0},\n \"tables\": [%s]}\n",
             getenv("DLD_PLUGIN_DIR"), source, target, tables);
    e2e_write(path, text);
}

static const char s_sqlite_source[] = "{\"plugin\": \"sqlite\", \"options\": {\"path\": \"src.db\"}}";
static const char s_file_target[] = "{\"plugin\": \"file\", \"options\": {\"path\": \"lake\", \"format\": \"csv\"}}";
static const char s_orders[] =
    "{\"targetTableName\": \"orders\", \"sourceTable\": \"orders\", \"filtercolumn\": \"id\"}";

static void s_source(int n)
{
    char db[PATH_MAX + 16], sql[512];
    snprintf(db, sizeof db, "%s/src.db", s_dir);
    snprintf(sql, sizeof sql,
             "CREATE TABLE orders(id INTEGER PRIMARY KEY, val TEXT);"
             "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < %d) "
             "INSERT INTO orders SELECT i, printf('%%0500d', i) FROM c",
             n);
    e2e_sql(db, sql);
}

/* Issue 12: a run SIGKILLed while holding a table's lease (60 s TTL) does
 * not block the next run: the holder is a dead process of this machine, so
 * its lease ends at once. */
START_TEST(dead_holder_lease_released_at_once)
{
    s_source(50);
    char path[PATH_MAX + 32], text[8192], crash[2048];
    snprintf(path, sizeof path, "%s/deltaload.json", s_dir);
    snprintf(crash, sizeof crash,
             "{\"plugin\": \"crash\", \"options\": {\"inner\": \"%s/dld-target-file.so\", \"path\": \"lake\","
             " \"format\": \"csv\", \"kill_in\": \"write\", \"kill_after_writes\": 1}}",
             getenv("DLD_PLUGIN_DIR"));
    const char *fmt = "{\"plugin_dirs\": [\"%s\", \"%s\"],\n \"source\": %s,\n \"target\": %s,\n"
                      " \"state\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"state.db\"}},\n"
                      " \"engine\": {\"lease_ttl_seconds\": 60, \"retries\": 0},\n \"tables\": [%s]}\n";
    snprintf(text, sizeof text, fmt, getenv("DLD_PLUGIN_DIR"), getenv("DLD_TEST_PLUGIN_DIR"), s_sqlite_source, crash,
             s_orders);
    e2e_write(path, text);
    ck_assert_msg(RUN("run") == 128 + SIGKILL, "%s", e2e_output(s_dir));
    snprintf(text, sizeof text, fmt, getenv("DLD_PLUGIN_DIR"), getenv("DLD_TEST_PLUGIN_DIR"), s_sqlite_source,
             s_file_target, s_orders);
    e2e_write(path, text);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert_msg(strstr(e2e_output(s_dir), "no longer running"), "%s", e2e_output(s_dir));
    ck_assert_msg(strstr(e2e_output(s_dir), "recovery"), "%s", e2e_output(s_dir));
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    ck_assert_msg(secs < 30, "the run waited %.1f s", secs);
    char dir[PATH_MAX + 32], db[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/lake/orders", s_dir);
    snprintf(db, sizeof db, "%s/src.db", s_dir);
    const char *problem = NULL;
    char *lake = e2e_lake_rows(dir, 2, &problem);
    char *src = e2e_source_rows(db, "SELECT id, val FROM orders ORDER BY id");
    ck_assert_str_eq(problem, "");
    ck_assert_msg(strcmp(lake, src) == 0, "the lake differs from the source");
    free(lake);
    free(src);
}
END_TEST

/* plan writes nothing: an absent state file stays absent (issue 13) */
START_TEST(plan_creates_no_state_file)
{
    s_source(10);
    s_config(s_sqlite_source, s_file_target, s_orders);
    char st[PATH_MAX + 32];
    snprintf(st, sizeof st, "%s/state.db", s_dir);
    struct stat sb;
    ck_assert_msg(RUN("plan") == 0, "%s", e2e_output(s_dir));
    ck_assert_msg(strstr(e2e_output(s_dir), "orders"), "%s", e2e_output(s_dir));
    ck_assert_msg(strstr(e2e_output(s_dir), "does not exist yet"), "%s", e2e_output(s_dir));
    ck_assert_int_eq(stat(st, &sb), -1);
    ck_assert_int_eq(RUN("--json", "plan"), 0);
    ck_assert_int_eq(stat(st, &sb), -1);
    ck_assert_int_eq(RUN("plan", "--table", "orders"), 0);
    ck_assert_int_eq(stat(st, &sb), -1);
    DIR *d = opendir(s_dir);
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        ck_assert_msg(strncmp(e->d_name, "state.db", 8) != 0, "plan created %s", e->d_name);
    closedir(d);
    /* run creates it; plan on the existing store still works */
    ck_assert_msg(RUN("run") == 0, "%s", e2e_output(s_dir));
    ck_assert_int_eq(stat(st, &sb), 0);
    ck_assert_msg(RUN("plan") == 0, "%s", e2e_output(s_dir));
}
END_TEST

START_TEST(cli_items_and_json_errors)
{
    s_source(3);
    s_config(s_sqlite_source, s_file_target, s_orders);
    ck_assert_int_eq(RUN("run"), 0);
    /* tables set: checked when set, before anything is stored */
    ck_assert_int_eq(RUN("tables", "set", "new", "sourceTable=orders", "ouputs3Prefix=../../etc"), 3);
    ck_assert_msg(strstr(e2e_output(s_dir), "'..' path segment"), "%s", e2e_output(s_dir));
    ck_assert_int_eq(RUN("tables", "set", "new", "sourceTable=orders", "ouputs3Prefix=a\\b"), 3);
    ck_assert_int_eq(RUN("tables", "set", "new", "sourceTable=orders", "activeFlag=N"), 3);
    ck_assert_msg(strstr(e2e_output(s_dir), "'activeFlag' differs from 'activeflag'"), "%s", e2e_output(s_dir));
    ck_assert_int_eq(RUN("tables", "set", "new", "sourceTable=orders", "startvalue=3"), 3);
    ck_assert_msg(strstr(e2e_output(s_dir), "no filtercolumn"), "%s", e2e_output(s_dir));
    /* a name the config defines: the config would overwrite it on the next run */
    ck_assert_int_eq(RUN("tables", "set", "orders", "sourceTable=orders"), 3);
    ck_assert_msg(strstr(e2e_output(s_dir), "orders is defined in"), "%s", e2e_output(s_dir));
    ck_assert_int_eq(RUN("--json", "tables", "list"), 0);
    ck_assert_msg(strstr(e2e_output(s_dir), "\"new\"") == NULL, "%s", e2e_output(s_dir));
    ck_assert_int_eq(RUN("tables", "set", "new", "sourceTable=orders", "ouputs3Prefix=raw/x"), 0);
    /* --json and a config error: a JSON document on stdout */
    s_config(s_sqlite_source, s_file_target,
             "{\"targetTableName\": \"orders\", \"sourceTable\": \"orders\", \"filterColumn\": \"id\"}");
    ck_assert_int_eq(RUN("--json", "run"), 3);
    const char *out = e2e_output(s_dir);
    ck_assert_msg(strstr(out, "\"error\":\t\"") && strstr(out, "\"exit_code\":\t3") && strstr(out, "filterColumn"),
                  "%s", out);
    ck_assert_int_eq(RUN("--json", "status"), 3);
    ck_assert_msg(strstr(e2e_output(s_dir), "\"exit_code\":\t3"), "%s", e2e_output(s_dir));
}
END_TEST

/* A store written by other tooling may hold two items of one name (the
 * fault wrapper's item_list returns one twice): neither runs, the run says
 * why and exits 1, the other tables still load. */
START_TEST(duplicate_items_in_the_store)
{
    s_source(3);
    char path[PATH_MAX + 32], text[8192];
    snprintf(path, sizeof path, "%s/deltaload.json", s_dir);
    snprintf(text, sizeof text,
             "{\"plugin_dirs\": [\"%s\", \"%s\"],\n \"source\": %s,\n \"target\": %s,\n"
             " \"state\": {\"plugin\": \"fault\", \"options\": {\"inner\": \"%s/dld-state-sqlite.so\","
             " \"path\": \"state.db\", \"duplicate_item\": \"orders\"}},\n"
             " \"engine\": {\"lease_ttl_seconds\": 30, \"retries\": 0},\n \"tables\": [%s, "
             "{\"targetTableName\": \"other\", \"sourceTable\": \"orders\", \"filtercolumn\": \"id\"}]}\n",
             getenv("DLD_PLUGIN_DIR"), getenv("DLD_TEST_PLUGIN_DIR"), s_sqlite_source, s_file_target,
             getenv("DLD_PLUGIN_DIR"), s_orders);
    e2e_write(path, text);
    ck_assert_int_eq(RUN("run"), 1);
    const char *out = e2e_output(s_dir);
    ck_assert_msg(strstr(out, "holds 2 controller items named 'orders'"), "%s", out);
    ck_assert_msg(strstr(out, "other") && strstr(out, "committed"), "the other table did not load: %s", out);
}
END_TEST

/* config check --source plans every table against the live source: a
 * table or column that does not exist, and a startvalue that does not fit
 * the column, are listed with the table's name (exit 3); the lake and the
 * state are left as they were. */
START_TEST(config_check_against_the_source)
{
    s_source(3);
    s_config(s_sqlite_source, s_file_target,
             "{\"targetTableName\": \"orders\", \"sourceTable\": \"orders\", \"filtercolumn\": \"id\"},"
             "{\"targetTableName\": \"ghost\", \"sourceTable\": \"no_such_table\", \"filtercolumn\": \"id\"},"
             "{\"targetTableName\": \"badcol\", \"sourceTable\": \"orders\", \"filtercolumn\": \"no_such_col\"},"
             "{\"targetTableName\": \"badval\", \"sourceTable\": \"orders\", \"filtercolumn\": \"id\","
             " \"startvalue\": \"abc\"}");
    /* without --source the file itself is sound */
    ck_assert_msg(RUN("config", "check") == 0, "%s", e2e_output(s_dir));
    ck_assert_int_eq(RUN("config", "check", "--source"), 3);
    const char *out = e2e_output(s_dir);
    ck_assert_msg(strstr(out, "table ghost:") && strstr(out, "table badcol:") && strstr(out, "table badval:"), "%s",
                  out);
    ck_assert_msg(!strstr(out, "deltaload.json: table orders:"), "a sound table was reported: %s", out);
    ck_assert_msg(strstr(out, "3 problems"), "%s", out);
    char lake[PATH_MAX + 16];
    snprintf(lake, sizeof lake, "%s/lake/main", s_dir);
    struct stat st;
    ck_assert_msg(stat(lake, &st) != 0, "config check wrote into the lake");
    s_config(s_sqlite_source, s_file_target, s_orders);
    ck_assert_msg(RUN("config", "check", "--source") == 0, "%s", e2e_output(s_dir));
}
END_TEST

static bool s_file_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return false;
    size_t nl = strlen(needle), n = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    for (size_t r; (r = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += r;
        if (n == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    bool found = false;
    for (size_t i = 0; i + nl <= n && !found; i++)
        found = memcmp(buf + i, needle, nl) == 0;
    free(buf);
    return found;
}

/* every file under dir (state db, its WAL, the lake) */
static bool s_tree_has(const char *dir, const char *needle, char *where, size_t cap)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return false;
    bool found = false;
    for (struct dirent *e; !found && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, "deltaload.json"))
            continue;
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st))
            continue;
        if (S_ISDIR(st.st_mode))
            found = s_tree_has(p, needle, where, cap);
        else if ((found = s_file_has(p, needle)))
            snprintf(where, cap, "%s", p);
    }
    closedir(d);
    return found;
}

START_TEST(secrets_never_shown)
{
    char so[PATH_MAX];
    snprintf(so, sizeof so, "%s/dld-source-postgres.so", getenv("DLD_PLUGIN_DIR"));
    if (access(so, R_OK) != 0) {
        fprintf(stderr, "secrets_never_shown: SKIPPED: %s is not built (libpq missing)\n", so);
        return;
    }
    /* the two malformed conninfos: libpq quotes them in its errors */
    const char *conninfos[] = {"postgresql://user:Leak_Pw_1234@[::1/postgres",
                               "host=127.0.0.1 port=1 connect_timeout=1 password=Abc Def_SECRET"};
    const char *needles[] = {"Leak_Pw_1234", "Def_SECRET", "Abc Def"};
    const char *const cmds[][4] = {{"run", NULL}, {"--json", "run", NULL}, {"plan", NULL}, {"--json", "plan", NULL},
                                   {"status", NULL}, {"--json", "status", NULL}, {"history", NULL},
                                   {"--json", "history", NULL}, {"-v", "run", NULL}, {"--json", "-v", "run", NULL}};
    for (size_t c = 0; c < 2; c++) {
        char src[512];
        snprintf(src, sizeof src, "{\"plugin\": \"postgres\", \"options\": {\"conninfo\": \"%s\"}}", conninfos[c]);
        s_config(src, s_file_target, s_orders);
        for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++) {
            const char *args[8] = {"-c", "deltaload.json"};
            int n = 2;
            for (int j = 0; cmds[k][j]; j++)
                args[n++] = cmds[k][j];
            args[n] = NULL;
            int rc = e2e_run(s_dir, args, 0);
            const char *out = e2e_output(s_dir);
            ck_assert_msg(rc == 0 || rc == 1, "%s %s: exit %d: %s", args[2], args[3] ? args[3] : "", rc, out);
            for (size_t s = 0; s < 3; s++)
                ck_assert_msg(strstr(out, needles[s]) == NULL, "'%s' leaked by %s %s: %s", needles[s], args[2],
                              args[3] ? args[3] : "", out);
            /* and the failure was reported (with the secret masked) */
            if (!strcmp(args[n - 1], "run"))
                ck_assert_msg(strstr(out, "cannot connect") && strstr(out, "********"), "%s", out);
        }
        char where[PATH_MAX];
        for (size_t s = 0; s < 3; s++)
            ck_assert_msg(!s_tree_has(s_dir, needles[s], where, sizeof where), "'%s' is in %s", needles[s], where);
    }
}
END_TEST

/* ---- signals: a hung S3 endpoint ----------------------------------------------------------- */
struct s_hang {
    int fd;
    int accepted;
    int clients[64];
};

static void *s_hang_server(void *arg)
{
    struct s_hang *h = arg;
    for (;;) {
        int c = accept(h->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        if (h->accepted < 64)
            h->clients[h->accepted] = c;
        __atomic_add_fetch(&h->accepted, 1, __ATOMIC_SEQ_CST); /* read nothing, answer nothing */
    }
}

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* `deltaload -c deltaload.json run` in s_dir, stdout and stderr into *log */
static pid_t s_spawn_run(char *log, size_t n)
{
    char cfg[PATH_MAX + 32];
    snprintf(cfg, sizeof cfg, "%s/deltaload.json", s_dir);
    snprintf(log, n, "%s/sig.out", s_dir);
    char *argv[] = {getenv("DLD_BIN"), "-c", cfg, "run", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    char cwd[PATH_MAX];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(s_dir), 0); /* the config's paths are relative */
    int spawned = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    ck_assert_int_eq(chdir(cwd), 0);
    ck_assert_int_eq(spawned, 0);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

/* SIGTERM, then wait up to 30 s (SIGKILL after that); seconds taken */
static double s_term_and_wait(pid_t pid, int *status, pid_t *w)
{
    double sent = s_now();
    kill(pid, SIGTERM);
    while ((*w = waitpid(pid, status, WNOHANG)) == 0 && s_now() - sent < 30)
        usleep(20000);
    double took = s_now() - sent;
    if (*w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, status, 0);
    }
    return took;
}

static void s_slurp(const char *path, char *text, size_t n)
{
    text[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f) {
        text[fread(text, 1, n - 1, f)] = '\0';
        fclose(f);
    }
}

/* source.h "Interrupts": a long SQLite statement (the high mark over a view
 * that counts to 10^9) stops within a second of SIGTERM, exit 130, lease
 * released, and the next run over a fast table still works. */
START_TEST(sigterm_stops_long_sqlite_statement)
{
    s_source(50);
    char db[PATH_MAX + 16];
    snprintf(db, sizeof db, "%s/src.db", s_dir);
    e2e_sql(db, "CREATE VIEW slow AS SELECT o.id, o.val FROM orders o, "
                "(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 1000000000) "
                "SELECT max(x) m FROM c) z");
    s_config(s_sqlite_source, s_file_target,
             "{\"targetTableName\": \"slow\", \"sourceTable\": \"slow\", \"filtercolumn\": \"id\"}");
    char log[PATH_MAX + 32], text[8192];
    pid_t pid = s_spawn_run(log, sizeof log);
    usleep(700000); /* well inside the high-mark query (it takes tens of seconds) */
    int status = 0;
    pid_t w;
    double took = s_term_and_wait(pid, &status, &w);
    s_slurp(log, text, sizeof text);
    fprintf(stderr, "sigterm_stops_long_sqlite_statement: exited %.2f s after SIGTERM\n", took);
    ck_assert_msg(w == pid && took < 2.0, "took %.1f s after SIGTERM: %s", took, text);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 130, "an interrupted load exited %d: %s",
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1, text);
    ck_assert_msg(strstr(text, "interrupted by a signal"), "%s", text);
    char state[PATH_MAX + 16];
    snprintf(state, sizeof state, "%s/state.db", s_dir);
    ck_assert_str_eq(e2e_sql_value(state, "SELECT count(*) FROM leases"), "0");
}
END_TEST

START_TEST(sigterm_aborts_hung_request)
{
    char so[PATH_MAX];
    snprintf(so, sizeof so, "%s/dld-target-s3.so", getenv("DLD_PLUGIN_DIR"));
    if (access(so, R_OK) != 0) {
        fprintf(stderr, "sigterm_aborts_hung_request: SKIPPED: %s is not built\n", so);
        return;
    }
    struct s_hang h = {0};
    h.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(h.fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(h.fd, 64), 0);
    socklen_t al = sizeof a;
    getsockname(h.fd, (struct sockaddr *)&a, &al);
    pthread_t th;
    pthread_create(&th, NULL, s_hang_server, &h);
    s_source(50);
    char target[1024];
    snprintf(target, sizeof target,
             "{\"plugin\": \"s3\", \"options\": {\"bucket\": \"lake\", \"endpoint\": \"http://127.0.0.1:%d\","
             " \"path_style\": true, \"region\": \"us-east-1\", \"access_key_id\": \"AKIDEXAMPLE\","
             " \"secret_access_key\": \"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\", \"request_timeout_ms\": 300000,"
             " \"max_attempts\": 1, \"format\": \"csv\"}}",
             ntohs(a.sin_port));
    s_config(s_sqlite_source, target, s_orders);
    char log[PATH_MAX + 32];
    pid_t pid = s_spawn_run(log, sizeof log);
    /* wait until a request hangs on the endpoint */
    double t0 = s_now();
    while (__atomic_load_n(&h.accepted, __ATOMIC_SEQ_CST) == 0 && s_now() - t0 < 20)
        usleep(20000);
    ck_assert_msg(h.accepted > 0, "no request reached the endpoint");
    usleep(300000);
    int status = 0;
    pid_t w;
    double took = s_term_and_wait(pid, &status, &w);
    shutdown(h.fd, SHUT_RDWR);
    close(h.fd);
    pthread_join(th, NULL);
    for (int i = 0; i < h.accepted && i < 64; i++)
        close(h.clients[i]);
    char text[8192];
    s_slurp(log, text, sizeof text);
    fprintf(stderr, "sigterm_aborts_hung_request: exited %.2f s after SIGTERM\n", took);
    /* in flight: aborted within a second; clean-up: 5 s budget in all */
    ck_assert_msg(w == pid, "still running %.1f s after SIGTERM: %s", took, text);
    ck_assert_msg(took < 8.0, "took %.1f s after SIGTERM: %s", took, text);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 130, "an interrupted load exited %d: %s",
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1, text);
    /* the lease was released on the way out, not left to expire */
    char state[PATH_MAX + 16];
    snprintf(state, sizeof state, "%s/state.db", s_dir);
    ck_assert_str_eq(e2e_sql_value(state, "SELECT count(*) FROM leases"), "0");
    ck_assert_msg(strstr(text, "interrupted by a signal"), "%s", text);
    ck_assert_msg(strstr(text, "wJalrXUtnFEMI") == NULL, "%s", text);
}
END_TEST

START_TEST(s3_prefix_checked_at_open)
{
    char so[PATH_MAX];
    snprintf(so, sizeof so, "%s/dld-target-s3.so", getenv("DLD_PLUGIN_DIR"));
    if (access(so, R_OK) != 0) {
        fprintf(stderr, "s3_prefix_checked_at_open: SKIPPED: %s is not built\n", so);
        return;
    }
    s_source(3);
    /* port 9 (discard) on loopback: nothing may be sent anyway */
    s_config(s_sqlite_source,
             "{\"plugin\": \"s3\", \"options\": {\"bucket\": \"lake\", \"endpoint\": \"http://127.0.0.1:9\","
             " \"path_style\": true, \"region\": \"us-east-1\", \"access_key_id\": \"AKIDEXAMPLE\","
             " \"secret_access_key\": \"x1234567\", \"prefix\": \"../../otherbucket/x\"}}",
             s_orders);
    int rc = RUN("run");
    const char *out = e2e_output(s_dir);
    ck_assert_msg(rc == 3, "exit %d: %s", rc, out); /* at config time, before any table */
    ck_assert_msg(strstr(out, "prefix '../../otherbucket/x' contains a '.' or '..' path segment"), "%s", out);
}
END_TEST

/* max_file_size holds inside one batch: a batch is split across files */
START_TEST(max_file_size_within_a_batch)
{
    s_source(200); /* ~100 KB, one batch */
    s_config(s_sqlite_source,
             "{\"plugin\": \"file\", \"options\": {\"path\": \"lake\", \"format\": \"csv\", \"max_file_size\": 8192,"
             " \"fsync\": false}}",
             s_orders);
    ck_assert_int_eq(RUN("run"), 0);
    char dir[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/lake/orders", s_dir);
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int files = 0;
    long biggest = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, "LOAD", 4))
            continue;
        char p[PATH_MAX * 2];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        ck_assert_int_eq(stat(p, &st), 0);
        files++;
        if (st.st_size > biggest)
            biggest = (long)st.st_size;
    }
    closedir(d);
    /* 200 rows of ~510 bytes in 8 KiB files: at least 12 files, none past the limit by more than a row */
    ck_assert_msg(files >= 12, "%d files", files);
    ck_assert_msg(biggest <= 8192 + 600, "a file of %ld bytes", biggest);
    const char *problem = NULL;
    char *lake = e2e_lake_rows(dir, 2, &problem);
    char db[PATH_MAX + 16];
    snprintf(db, sizeof db, "%s/src.db", s_dir);
    char *src = e2e_source_rows(db, "SELECT id, val FROM orders ORDER BY id");
    ck_assert_str_eq(problem, "");
    ck_assert_msg(strcmp(lake, src) == 0, "the lake differs from the source");
    free(lake);
    free(src);
    fprintf(stderr, "max_file_size_within_a_batch: %d files, largest %ld bytes\n", files, biggest);
}
END_TEST

/* the smaller items: target option ranges at config time (exit 3, before
 * any table), retry/timeout options of 0 refused, int64 max accepted, a
 * large JSON number refused as a watermark value */
START_TEST(option_ranges_at_config_time)
{
    s_source(3);
    s_config(s_sqlite_source,
             "{\"plugin\": \"file\", \"options\": {\"path\": \"lake\", \"max_file_size\": 100}}", s_orders);
    ck_assert_int_eq(RUN("run"), 3);
    ck_assert_msg(strstr(e2e_output(s_dir), "max_file_size must be at least 1024 bytes") &&
                      strstr(e2e_output(s_dir), "orders ") == NULL,
                  "%s", e2e_output(s_dir));
    s_config(s_sqlite_source,
             "{\"plugin\": \"file\", \"options\": {\"path\": \"lake\", \"max_file_size\": 9223372036854775807,"
             " \"row_group_size\": \"9223372036854775807\"}}",
             s_orders);
    ck_assert_int_eq(RUN("run"), 0);
    s_config(s_sqlite_source, s_file_target,
             "{\"targetTableName\": \"orders\", \"sourceTable\": \"orders\", \"filtercolumn\": \"id\","
             " \"startvalue\": 9007199254740993}");
    ck_assert_int_eq(RUN("run"), 3);
    ck_assert_msg(strstr(e2e_output(s_dir), "write it as a string"), "%s", e2e_output(s_dir));
    /* the state store in the source database: refused before anything opens it */
    char path[PATH_MAX + 32], text[2048];
    snprintf(path, sizeof path, "%s/deltaload.json", s_dir);
    snprintf(text, sizeof text,
             "{\"plugin_dirs\": [\"%s\"], \"source\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"src.db\"}},"
             " \"target\": %s, \"state\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"./src.db\"}}}",
             getenv("DLD_PLUGIN_DIR"), s_file_target);
    e2e_write(path, text);
    char db[PATH_MAX + 16];
    snprintf(db, sizeof db, "%s/src.db", s_dir);
    ck_assert_int_eq(RUN("run"), 3);
    ck_assert_msg(strstr(e2e_output(s_dir), "name the same file"), "%s", e2e_output(s_dir));
    ck_assert_str_eq(e2e_sql_value(db, "PRAGMA journal_mode"), "delete");
    ck_assert_str_eq(e2e_sql_value(db, "SELECT count(*) FROM sqlite_master WHERE name <> 'orders'"), "0");
    char so[PATH_MAX];
    snprintf(so, sizeof so, "%s/dld-target-s3.so", getenv("DLD_PLUGIN_DIR"));
    if (access(so, R_OK) != 0) {
        fprintf(stderr, "option_ranges_at_config_time: s3 part SKIPPED: %s is not built\n", so);
        return;
    }
    const char *bad[][2] = {{"\"max_attempts\": 0", "max_attempts 0 is outside"},
                            {"\"max_attempts\": -1", "max_attempts -1 is outside"},
                            {"\"request_timeout_ms\": 0", "request_timeout_ms and connect_timeout_ms"},
                            {"\"prefix\": \"a/../b\"", "'..' path segment"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char target[1024];
        snprintf(target, sizeof target,
                 "{\"plugin\": \"s3\", \"options\": {\"bucket\": \"lake\", \"endpoint\": \"http://127.0.0.1:9\","
                 " \"path_style\": true, \"region\": \"us-east-1\", \"access_key_id\": \"AKIDEXAMPLE\","
                 " \"secret_access_key\": \"x1234567\", %s}}",
                 bad[i][0]);
        s_config(s_sqlite_source, target, s_orders);
        ck_assert_int_eq(RUN("run"), 3);
        ck_assert_msg(strstr(e2e_output(s_dir), bad[i][1]), "%s: %s", bad[i][0], e2e_output(s_dir));
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reliability");
    TCase *unit = tcase_create("unit");
    tcase_add_checked_fixture(unit, s_setup, s_teardown);
    tcase_add_test(unit, redact_patterns);
    tcase_add_test(unit, redact_mask_spells_secret);
    tcase_add_test(unit, lease_owner_dead);
    tcase_add_test(unit, conninfo_secrets);
    tcase_add_test(unit, path_check);
    tcase_add_test(unit, item_strict);
    tcase_add_test(unit, config_strict);
    suite_add_tcase(s, unit);
    TCase *e2e = tcase_create("e2e");
    tcase_add_checked_fixture(e2e, s_setup, s_teardown);
    tcase_set_timeout(e2e, 120);
    tcase_add_test(e2e, cli_items_and_json_errors);
    tcase_add_test(e2e, plan_creates_no_state_file);
    tcase_add_test(e2e, dead_holder_lease_released_at_once);
    tcase_add_test(e2e, duplicate_items_in_the_store);
    tcase_add_test(e2e, config_check_against_the_source);
    tcase_add_test(e2e, secrets_never_shown);
    tcase_add_test(e2e, sigterm_aborts_hung_request);
    tcase_add_test(e2e, sigterm_stops_long_sqlite_statement);
    tcase_add_test(e2e, s3_prefix_checked_at_open);
    tcase_add_test(e2e, max_file_size_within_a_batch);
    tcase_add_test(e2e, option_ranges_at_config_time);
    suite_add_tcase(s, e2e);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

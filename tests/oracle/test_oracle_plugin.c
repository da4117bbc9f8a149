/*
 * The Oracle source plugin (dld-source-oracle.so, loaded as the engine
 * loads it) against:
 *   - no client library at all: the error must say what to install;
 *   - the STAND-IN client library (standin/): not Oracle, a scripted
 *     implementation of the OCI calls the plugin makes, to check the call
 *     sequence, the conversion of OCI's buffers into Arrow, and the error
 *     paths (dropped connection, refused login, oversize LOB, overflow).
 * Nothing here shows that a real Oracle answers the same way; see
 * docs/oracle.md for the script that checks that against a live database.
 */
#include <check.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <deltaload/sdk.h>
#include <deltaload/source.h>

#include "standin.h"
#include "test_host.h"

static const struct dld_plugin *s_plugin;
static const struct dld_source_vtable *s_vt;
static void *s_plugin_handle, *s_standin;
static char s_standin_dir[1024];
static struct dld_error s_err;

static standin_reset_fn si_reset;
static standin_table_fn si_table;
static standin_values_fn si_values;
static standin_password_fn si_password;
static standin_fail_fn si_fail;
static standin_log_fn si_log;
static standin_live_fn si_live;

#define PASSWORD "s3cret-pw-7781"

static void s_setup(void)
{
    const char *dir = getenv("DLD_ORACLE_STANDIN_DIR");
    ck_assert_msg(dir != NULL, "DLD_ORACLE_STANDIN_DIR is not set (run through ctest)");
    snprintf(s_standin_dir, sizeof(s_standin_dir), "%s", dir);
    char path[1100];
    snprintf(path, sizeof(path), "%s/libclntsh.so", dir);
    s_standin = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(s_standin != NULL, "%s", dlerror());
    *(void **)&si_reset = dlsym(s_standin, "standin_reset");
    *(void **)&si_table = dlsym(s_standin, "standin_table");
    *(void **)&si_values = dlsym(s_standin, "standin_values");
    *(void **)&si_password = dlsym(s_standin, "standin_password");
    *(void **)&si_fail = dlsym(s_standin, "standin_fail");
    *(void **)&si_log = dlsym(s_standin, "standin_log");
    *(void **)&si_live = dlsym(s_standin, "standin_live");
    ck_assert(si_reset && si_table && si_values && si_password && si_fail && si_log && si_live);
    si_reset();
    si_password(PASSWORD);
    s_plugin_handle = dld_test_plugin_load("source", "oracle", &s_plugin);
    ck_assert_ptr_nonnull(s_plugin_handle);
    s_vt = s_plugin->vtable;
    memset(&s_err, 0, sizeof(s_err));
    s_err.struct_size = sizeof(s_err);
}

static void s_teardown(void)
{
    dld_test_plugin_unload(s_plugin_handle);
    /* the stand-in stays mapped: the plugin never unloads a client library */
}

/* the host s_open_standin hands over (NULL: the test host) */
static const struct dld_host *s_open_host;

/* opens against the stand-in with the given extra options (key, value, ..., NULL) */
static void *s_open_standin(const char *extra[])
{
    const char *opts[64];
    int n = 0;
    const char *base[] = {"connect", "db.example:1521/ORCLPDB1", "user", "dwh_loader", "password", PASSWORD,
                          "oracle_client_lib_dir", s_standin_dir};
    for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
        opts[n++] = base[i];
    for (int i = 0; extra && extra[i]; i++)
        opts[n++] = extra[i];
    opts[n] = NULL;
    void *inst = NULL;
    int rc = s_vt->open(s_open_host ? s_open_host : dld_test_host(), opts, &inst, &s_err);
    ck_assert_msg(rc == 0, "open: %s", s_err.message);
    return inst;
}

static void s_info_free(struct dld_extract_info *info)
{
    free(info->high);
    free(info->query);
    free(info->snapshot);
    memset(info, 0, sizeof(*info));
    info->struct_size = sizeof(*info);
}

static int s_count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* asserts the lines appear in the stand-in's log in this order */
static void s_assert_sequence(const char *const *steps)
{
    const char *log = si_log(), *at = log;
    for (int i = 0; steps[i]; i++) {
        const char *p = strstr(at, steps[i]);
        ck_assert_msg(p != NULL, "step '%s' missing or out of order in:\n%s", steps[i], log);
        at = p + strlen(steps[i]);
    }
}

/* ---- no client library ------------------------------------------------------------ */

START_TEST(missing_library_in_lib_dir)
{
    char dir[512];
    ck_assert_int_eq(dld_test_tmpdir(dir, sizeof(dir), "ora-nolib"), 0);
    const char *opts[] = {"connect", "h:1521/s", "user", "u", "password", "p", "oracle_client_lib_dir", dir, NULL};
    void *inst = (void *)1;
    ck_assert_int_eq(s_vt->open(dld_test_host(), opts, &inst, &s_err), DLD_ERR_CONFIG);
    ck_assert_ptr_null(inst);
    ck_assert_ptr_nonnull(strstr(s_err.message, "libclntsh.so"));
    ck_assert_ptr_nonnull(strstr(s_err.message, dir));
    ck_assert_ptr_nonnull(strstr(s_err.message, "Instant Client"));
    ck_assert_ptr_nonnull(strstr(s_err.message, "oracle_client_lib_dir="));
    ck_assert_ptr_nonnull(strstr(s_err.message, "LD_LIBRARY_PATH="));
    ck_assert_ptr_nonnull(strstr(s_err.message, "libaio"));
    dld_test_rmtree(dir);
}
END_TEST

START_TEST(missing_library_on_search_path)
{
    const char *opts[] = {"connect", "h:1521/s", "user", "u", "password", "p", NULL};
    void *inst = NULL;
    ck_assert_int_eq(s_vt->open(dld_test_host(), opts, &inst, &s_err), DLD_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(s_err.message, "cannot load the Oracle client library libclntsh.so"));
    ck_assert_ptr_nonnull(strstr(s_err.message, "searched LD_LIBRARY_PATH="));
    ck_assert_ptr_nonnull(strstr(s_err.message, "ld.so cache"));
    ck_assert_ptr_nonnull(strstr(s_err.message, "Instant Client"));
}
END_TEST

START_TEST(descriptor_carries_the_guidance)
{
    ck_assert_str_eq(s_plugin->name, "oracle");
    ck_assert_int_eq(s_plugin->kind, DLD_KIND_SOURCE);
    ck_assert(s_plugin->capabilities & DLD_CAP_SNAPSHOT);
    ck_assert_ptr_nonnull(strstr(s_plugin->description, "Instant Client"));
    int seen = 0;
    for (const struct dld_option *o = s_plugin->options; o->name; o++) {
        ck_assert_ptr_null(o->reserved);
        if (strcmp(o->name, "oracle_client_lib_dir") == 0) {
            ck_assert_ptr_nonnull(strstr(o->help, "Instant Client"));
            ck_assert_ptr_nonnull(strstr(o->help, "LD_LIBRARY_PATH"));
            seen |= 1;
        } else if (strcmp(o->name, "password") == 0) {
            ck_assert(o->flags & DLD_OPTF_SECRET);
            seen |= 2;
        } else if (strcmp(o->name, "connect") == 0) {
            ck_assert(o->flags & DLD_OPTF_REQUIRED);
            seen |= 4;
        } else if (strcmp(o->name, "user") == 0) {
            seen |= 8;
        }
    }
    ck_assert_int_eq(seen, 15);
}
END_TEST

START_TEST(bad_options)
{
    const char *opts[] = {"connect", "h:1521/s", "user", "u", "consistency", "snapshot", NULL};
    void *inst = NULL;
    ck_assert_int_eq(s_vt->open(dld_test_host(), opts, &inst, &s_err), DLD_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(s_err.message, "consistency"));
    const char *no_user[] = {"connect", "h:1521/s", NULL};
    ck_assert_int_eq(s_vt->open(dld_test_host(), no_user, &inst, &s_err), DLD_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(s_err.message, "user"));
}
END_TEST

/* ---- the stand-in: a delta load of every type ------------------------------------------ */

/* VARNUM examples of the OCI Programmer's Guide (see test_oracle_decode.c) */
static const uint8_t n5[] = {193, 6}, n2767[] = {194, 28, 68}, nm2767[] = {61, 74, 34, 102},
                     n1234567[] = {196, 2, 24, 46, 68};
/* -0.00734, a DUMP() output quoted by Jonathan Lewis */
static const uint8_t nfrac[] = {0x40, 0x1c, 0x3d, 0x66};
/* DATE example of the OCI Programmer's Guide: 30-NOV-1992 3:17 PM */
static const uint8_t d1992[] = {119, 192, 11, 30, 16, 18, 1};
/* TIMESTAMP (Typ=180) and TIMESTAMP WITH TIME ZONE (Typ=181) DUMP()s of
 * 02-JAN-14 03.02.51.890565 PM -07:00, from Thomas Kyte, Expert Oracle
 * Database Architecture; layout as Oracle's JDBC reference documents for
 * oracle.sql.TIMESTAMPTZ (UTC date/time, nanoseconds, zone hour+20, minute+60) */
static const uint8_t ts_kyte[] = {120, 114, 1, 2, 16, 3, 52, 53, 20, 241, 136};
static const uint8_t tstz_kyte[] = {120, 114, 1, 2, 23, 3, 52, 53, 20, 241, 136, 13, 60};
/* 16-JUN-03 04.19.19 PM -08:00 read through oracle.sql.TIMESTAMPTZ, posted
 * to comp.databases.oracle.misc 2003-10-31 */
static const uint8_t tstz_2003[] = {120, 103, 6, 17, 1, 20, 20, 0, 0, 0, 0, 12, 60};
static const uint8_t raw4[] = {0xde, 0xad, 0xbe, 0xef};
static double s_ratio = 0.25;
static uint8_t s_doc[150000];

#define CELL(a) {(const uint8_t *)(a), sizeof(a)}
#define TEXT(s) {(const uint8_t *)(s), sizeof(s) - 1}
#define NUL {NULL, 0}

static const struct standin_col s_cols[] = {
    {"ROW_ID", 2, 10, 0, 22, 0, 1, 0},
    {"AMOUNT", 2, 12, 2, 22, 0, 1, 1},
    {"RAWNUM", 2, 0, -127, 22, 0, 1, 1},
    {"NAME", 1, 0, 0, 20, 20, 1, 1},
    {"CREATED", 12, 0, 0, 7, 0, 1, 1},
    {"TS", 187, 0, 6, 11, 0, 1, 1},
    {"TSTZ", 188, 0, 6, 13, 0, 1, 1},
    {"RATIO", 101, 0, 0, 8, 0, 1, 1},
    {"DOC", 112, 0, 0, 4000, 0, 1, 1},
    {"BIN", 23, 0, 0, 4, 0, 1, 1},
    {"RID", 104, 0, 0, 10, 0, 1, 1},
    {"IV", 190, 2, 6, 11, 0, 1, 1},
};
#define NCOLS 12

static struct standin_cell s_cells[2 * NCOLS];

static void s_load_table(void)
{
    for (size_t i = 0; i < sizeof(s_doc); i++)
        s_doc[i] = (uint8_t)('a' + i % 26);
    const struct standin_cell rows[2 * NCOLS] = {
        CELL(n5), CELL(n2767), CELL(nfrac), TEXT("Zo\xc3\xab"), CELL(d1992), CELL(ts_kyte), CELL(tstz_kyte),
        {(const uint8_t *)&s_ratio, 8}, CELL(s_doc), CELL(raw4), TEXT("AAAR3sAAEAAAACXAAA"),
        TEXT("+01 02:03:04.000000"),
        CELL(nm2767), NUL, CELL(n1234567), NUL, NUL, NUL, CELL(tstz_2003), NUL, NUL, NUL,
        TEXT("AAAR3sAAEAAAACXAAB"), NUL,
    };
    memcpy(s_cells, rows, sizeof(rows));
    si_table(s_cols, NCOLS, s_cells, 2);
}

static const struct dld_table s_orders = {
    .struct_size = sizeof(struct dld_table), .target_table_name = "orders", .source_schema = "dwh",
    .source_table = "orders_rds", .filter_column = "row_id", .output_prefix = "", .active = 1};

static const struct ArrowArray *s_child(const struct ArrowSchema *schema, const struct ArrowArray *batch,
                                        const char *name, const char *format)
{
    for (int64_t i = 0; i < schema->n_children; i++) {
        if (strcmp(schema->children[i]->name, name) == 0) {
            ck_assert_msg(strcmp(schema->children[i]->format, format) == 0, "%s: format %s, want %s", name,
                          schema->children[i]->format, format);
            return batch->children[i];
        }
    }
    ck_abort_msg("no column %s", name);
    return NULL;
}

static int64_t s_i64(const struct ArrowArray *a, int64_t r)
{
    return ((const int64_t *)a->buffers[1])[a->offset + r];
}

static __int128 s_dec(const struct ArrowArray *a, int64_t r)
{
    __int128 v;
    memcpy(&v, (const uint8_t *)a->buffers[1] + 16 * (a->offset + r), 16);
    return v;
}

static void s_str(const struct ArrowArray *a, int64_t r, const char **p, int32_t *n)
{
    const int32_t *off = a->buffers[1];
    *p = (const char *)a->buffers[2] + off[a->offset + r];
    *n = off[a->offset + r + 1] - off[a->offset + r];
}

START_TEST(delta_load_every_type)
{
    s_load_table();
    si_values("4711", "2767");
    const char *extra[] = {"tz_offset_columns", "true", NULL};
    void *inst = s_open_standin(extra);
    struct dld_extract_request req = {.struct_size = sizeof(req), .table = &s_orders, .mode = DLD_MODE_DELTA,
                                      .low = "2", .low_inclusive = 0, .high = NULL, .batch_rows = 1000};
    struct ArrowSchema declared = {0}; /* ABI 1.2: the columns before any row */
    struct dld_extract_info info = {.struct_size = sizeof(info), .schema = &declared};
    void *cur = NULL;
    int rc = s_vt->extract_begin(inst, &req, &info, &cur, &s_err);
    ck_assert_msg(rc == 0, "%s", s_err.message);
    ck_assert_ptr_eq(info.schema, &declared);
    ck_assert_ptr_nonnull(declared.release);
    ck_assert_str_eq(info.high, "2767");
    ck_assert_str_eq(info.snapshot, "SCN 4711");
    ck_assert_ptr_nonnull(strstr(info.query, "high mark: SELECT TO_CHAR(MAX(\"ROW_ID\"), 'TM9') FROM "
                                             "\"DWH\".\"ORDERS_RDS\" AS OF SCN TO_NUMBER(:1) WHERE \"ROW_ID\" > "
                                             "TO_NUMBER(:2)  -- binds: :1 = '4711' (scn), :2 = '2' (low)"));
    const char *want_extract =
        "\nextract: SELECT \"ROW_ID\", \"AMOUNT\", \"RAWNUM\", \"NAME\", \"CREATED\", \"TS\", \"TSTZ\", \"RATIO\", "
        "\"DOC\", \"BIN\", ROWIDTOCHAR(\"RID\") AS \"RID\", TO_CHAR(\"IV\") AS \"IV\" FROM \"DWH\".\"ORDERS_RDS\" AS "
        "OF SCN TO_NUMBER(:1) WHERE \"ROW_ID\" > TO_NUMBER(:2) AND \"ROW_ID\" <= TO_NUMBER(:3)  -- binds: :1 = "
        "'4711' (scn), :2 = '2' (low), :3 = '2767' (high)";
    ck_assert_msg(strstr(info.query, want_extract) != NULL, "%s", info.query);

    struct ArrowSchema schema;
    struct ArrowArray batch;
    rc = s_vt->extract_next(cur, &schema, &batch, &s_err);
    ck_assert_msg(rc == 0, "%s", s_err.message);
    ck_assert_int_eq(batch.length, 2);
    ck_assert_int_eq(schema.n_children, NCOLS + 1);
    /* the declared columns are the batch's */
    ck_assert_int_eq(declared.n_children, schema.n_children);
    for (int64_t i = 0; i < schema.n_children; i++) {
        ck_assert_str_eq(declared.children[i]->name, schema.children[i]->name);
        ck_assert_str_eq(declared.children[i]->format, schema.children[i]->format);
        ck_assert_int_eq(declared.children[i]->flags, schema.children[i]->flags);
    }
    declared.release(&declared);

    const struct ArrowArray *a = s_child(&schema, &batch, "ROW_ID", "l");
    ck_assert_int_eq(s_i64(a, 0), 5);
    ck_assert_int_eq(s_i64(a, 1), -2767);
    a = s_child(&schema, &batch, "AMOUNT", "d:12,2");
    ck_assert(s_dec(a, 0) == 276700);
    ck_assert(dld_arrow_is_null(a, 1));
    a = s_child(&schema, &batch, "RAWNUM", "d:38,10"); /* NUMBER without precision: number_scale 10 */
    ck_assert(s_dec(a, 0) == -73400000);
    ck_assert(s_dec(a, 1) == (__int128)12345670000000000LL);
    const char *p;
    int32_t n;
    a = s_child(&schema, &batch, "NAME", "u");
    s_str(a, 0, &p, &n);
    ck_assert_int_eq(n, 4);
    ck_assert(memcmp(p, "Zo\xc3\xab", 4) == 0);
    ck_assert(dld_arrow_is_null(a, 1));
    a = s_child(&schema, &batch, "CREATED", "tss:");
    ck_assert_int_eq(s_i64(a, 0), 723136620LL); /* 1992-11-30T15:17:00 */
    a = s_child(&schema, &batch, "TS", "tsu:");
    ck_assert_int_eq(s_i64(a, 0), 1388674971890565LL); /* 2014-01-02T15:02:51.890565 (no zone) */
    a = s_child(&schema, &batch, "TSTZ", "tsu:UTC");
    ck_assert_int_eq(s_i64(a, 0), 1388700171890565LL); /* 2014-01-02T22:02:51.890565Z */
    ck_assert_int_eq(s_i64(a, 1), 1055809159LL * 1000000); /* 2003-06-17T00:19:19Z */
    a = s_child(&schema, &batch, "TSTZ_TZ_OFFSET", "i");
    ck_assert_int_eq(((const int32_t *)a->buffers[1])[0], -420);
    ck_assert_int_eq(((const int32_t *)a->buffers[1])[1], -480);
    a = s_child(&schema, &batch, "RATIO", "g");
    ck_assert(((const double *)a->buffers[1])[0] == 0.25);
    a = s_child(&schema, &batch, "DOC", "u");
    s_str(a, 0, &p, &n);
    ck_assert_int_eq(n, (int32_t)sizeof(s_doc));
    ck_assert(memcmp(p, s_doc, sizeof(s_doc)) == 0);
    a = s_child(&schema, &batch, "BIN", "z");
    s_str(a, 0, &p, &n);
    ck_assert_int_eq(n, 4);
    ck_assert(memcmp(p, raw4, 4) == 0);
    a = s_child(&schema, &batch, "RID", "u");
    s_str(a, 1, &p, &n);
    ck_assert(n == 18 && memcmp(p, "AAAR3sAAEAAAACXAAB", 18) == 0);
    a = s_child(&schema, &batch, "IV", "u");
    s_str(a, 0, &p, &n);
    ck_assert(n == 19 && memcmp(p, "+01 02:03:04.000000", 19) == 0);
    dld_arrow_release(&schema, &batch);

    ck_assert_int_eq(s_vt->extract_next(cur, &schema, &batch, &s_err), DLD_DONE);
    s_vt->extract_end(cur);
    s_info_free(&info);
    s_vt->close(inst);

    static const char *const steps[] = {
        "OCIEnvNlsCreate mode=1 charset=873 ncharset=873",
        "OCIServerAttach db.example:1521/ORCLPDB1\n",
        "OCISessionBegin user=dwh_loader cred=1",
        "OCIAttrSet CALL_TIMEOUT=300000",
        "OCIStmtPrepare2 ALTER SESSION SET TIME_ZONE = 'UTC' NLS_NUMERIC_CHARACTERS = '.,'",
        "OCIStmtPrepare2 SELECT TO_CHAR(CURRENT_SCN) FROM V$DATABASE",
        "OCIStmtPrepare2 SELECT * FROM \"DWH\".\"ORDERS_RDS\" WHERE 1 = 0",
        "OCIStmtExecute iters=0 mode=16",
        "OCIStmtPrepare2 SELECT TO_CHAR(MAX(\"ROW_ID\"), 'TM9')",
        "OCIBindByPos2 :1='4711'",
        "OCIBindByPos2 :2='2'",
        "OCIStmtPrepare2 SELECT \"ROW_ID\"",
        "OCIBindByPos2 :3='2767'",
        "OCIDefineByPos2 1 dty=6 width=22",
        "OCIDefineByPos2 5 dty=12 width=7",
        "OCIDefineByPos2 7 dty=188",
        "OCIDefineByPos2 9 dty=112",
        "OCIAttrSet PREFETCH_ROWS=1000",
        "OCIStmtExecute iters=0 mode=0",
        "OCIStmtFetch2 nrows=1000",
        "OCILobRead2 piece=1 bufl=65536 csid=873",
        "OCILobRead2 piece=2",
        "OCITransRollback",
        "OCISessionEnd",
        "OCIServerDetach",
        NULL,
    };
    s_assert_sequence(steps);
    ck_assert_ptr_null(strstr(si_log(), PASSWORD));
    ck_assert_int_eq(si_live(), 0); /* every handle and descriptor freed */
}
END_TEST

/* ---- error paths ------------------------------------------------------------------------- */

static const struct standin_col s_id_col[] = {{"ID", 2, 10, 0, 22, 0, 1, 0}};
static struct standin_cell s_ids[5];
static const uint8_t s_idv[5][2] = {{193, 2}, {193, 3}, {193, 4}, {193, 5}, {193, 6}};
static const struct dld_table s_t = {.struct_size = sizeof(struct dld_table), .target_table_name = "t",
                                     .source_schema = "app", .source_table = "t", .filter_column = "id"};

static void s_ids_table(void)
{
    for (int i = 0; i < 5; i++)
        s_ids[i] = (struct standin_cell){s_idv[i], 2};
    si_table(s_id_col, 1, s_ids, 5);
}

START_TEST(dropped_connection_is_retryable)
{
    s_ids_table();
    si_values("100", "5");
    si_fail("OCIStmtFetch2", 1, 3113);
    void *inst = s_open_standin(NULL);
    struct dld_extract_request req = {.struct_size = sizeof(req), .table = &s_t, .mode = DLD_MODE_DELTA,
                                      .batch_rows = 100};
    struct dld_extract_info info = {.struct_size = sizeof(info)};
    void *cur = NULL;
    ck_assert_int_eq(s_vt->extract_begin(inst, &req, &info, &cur, &s_err), 0);
    struct ArrowSchema schema;
    struct ArrowArray batch;
    ck_assert_int_eq(s_vt->extract_next(cur, &schema, &batch, &s_err), DLD_ERR_RETRY);
    ck_assert(s_err.retryable);
    ck_assert_str_eq(s_err.upstream_code, "ORA-03113");
    ck_assert_ptr_nonnull(strstr(s_err.message, "end-of-file on communication channel"));
    s_vt->extract_end(cur);
    s_info_free(&info);
    /* the next load reconnects and succeeds */
    ck_assert_int_eq(s_vt->extract_begin(inst, &req, &info, &cur, &s_err), 0);
    ck_assert_int_eq(s_vt->extract_next(cur, &schema, &batch, &s_err), 0);
    ck_assert_int_eq(batch.length, 5);
    dld_arrow_release(&schema, &batch);
    s_vt->extract_end(cur);
    s_info_free(&info);
    s_vt->close(inst);
    ck_assert_int_eq(s_count(si_log(), "OCIServerAttach"), 2);
    static const char *const steps[] = {"OCIStmtFetch2", "-> ORA-03113", "OCIServerDetach", "OCIServerAttach",
                                        "OCIStmtFetch2", NULL};
    s_assert_sequence(steps);
    ck_assert_int_eq(si_live(), 0);
}
END_TEST

/* A signal during a call that hangs: the plugin's watcher sends OCIBreak
 * within ~0.1 s, the call fails, OCIReset follows, and the next load
 * reconnects. The stand-in's call hangs until OCIBreak (at most 10 s). */
static int s_cancel_now;
static int s_cancel_flag(void) { return __atomic_load_n(&s_cancel_now, __ATOMIC_SEQ_CST); }
static void *s_cancel_later(void *arg)
{
    usleep(200 * 1000);
    __atomic_store_n(&s_cancel_now, 1, __ATOMIC_SEQ_CST);
    return NULL;
}
static double s_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

START_TEST(signal_breaks_a_hanging_call)
{
    static struct dld_host host;
    host = *dld_test_host();
    host.cancelled = s_cancel_flag;
    s_open_host = &host;
    s_ids_table();
    si_values("100", "5");
    si_fail("OCIStmtFetch2", 1, -1013);
    void *inst = s_open_standin(NULL);
    struct dld_extract_request req = {.struct_size = sizeof(req), .table = &s_t, .mode = DLD_MODE_DELTA,
                                      .batch_rows = 100};
    struct dld_extract_info info = {.struct_size = sizeof(info)};
    void *cur = NULL;
    ck_assert_int_eq(s_vt->extract_begin(inst, &req, &info, &cur, &s_err), 0);
    struct ArrowSchema schema;
    struct ArrowArray batch;
    pthread_t t;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(pthread_create(&t, NULL, s_cancel_later, NULL), 0);
    ck_assert_int_ne(s_vt->extract_next(cur, &schema, &batch, &s_err), 0);
    double secs = s_since(&t0);
    pthread_join(t, NULL);
    ck_assert_msg(secs < 2.0, "the fetch ended %.2f s after the signal", secs);
    ck_assert_msg(strstr(s_err.message, "ORA-01013"), "%s", s_err.message);
    s_vt->extract_end(cur);
    s_info_free(&info);
    static const char *const steps[] = {"OCIStmtFetch2", "blocks until OCIBreak", "broken by OCIBreak",
                                        "-> ORA-01013", "OCIReset", NULL};
    s_assert_sequence(steps);
    /* the next load (the signal gone) reconnects and reads */
    __atomic_store_n(&s_cancel_now, 0, __ATOMIC_SEQ_CST);
    ck_assert_int_eq(s_vt->extract_begin(inst, &req, &info, &cur, &s_err), 0);
    ck_assert_int_eq(s_vt->extract_next(cur, &schema, &batch, &s_err), 0);
    ck_assert_int_eq(batch.length, 5);
    dld_arrow_release(&schema, &batch);
    s_vt->extract_end(cur);
    s_info_free(&info);
    ck_assert_int_eq(s_count(si_log(), "OCIServerAttach"), 2);
    /* a statement of the connect (the session settings) hangs the same way */
    s_vt->close(inst);
    si_reset();
    si_password(PASSWORD);
    s_ids_table();
    si_values("100", "5");
    si_fail("OCIStmtExecute", 1, -1013);
    inst = s_open_standin(NULL);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(pthread_create(&t, NULL, s_cancel_later, NULL), 0);
    ck_assert_int_ne(s_vt->extract_begin(inst, &req, &info, &cur, &s_err), 0);
    secs = s_since(&t0);
    pthread_join(t, NULL);
    ck_assert_msg(secs < 2.0, "the statement ended %.2f s after the signal", secs);
    ck_assert_msg(strstr(si_log(), "broken by OCIBreak"), "%s", si_log());
    s_info_free(&info);
    s_vt->close(inst);
    ck_assert_int_eq(si_live(), 0);
    s_open_host = NULL;
    __atomic_store_n(&s_cancel_now, 0, __ATOMIC_SEQ_CST);
}
END_TEST

START_TEST(refused_login_is_auth_and_hides_the_password)
{
    s_ids_table();
    si_password("another");
    void *inst = s_open_standin(NULL);
    struct dld_extract_request req = {.struct_size = sizeof(req), .table = &s_t, .mode = DLD_MODE_FULL};
    struct dld_extract_info info = {.struct_size = sizeof(info)};
    void *cur = NULL;
    ck_assert_int_eq(s_vt->extract_begin(inst, &req, &info, &cur, &s_err), DLD_ERR_AUTH);
    ck_assert_ptr_null(cur);
    ck_assert_str_eq(s_err.upstream_code, "ORA-01017");
    ck_assert_ptr_nonnull(strstr(s_err.message, "dwh_loader"));
    ck_assert_ptr_null(strstr(s_err.message, PASSWORD));
    s_vt->close(inst);
    ck_assert_int_eq(si_live(), 0);
}
END_TEST

START_TEST(no_listener_is_retryable)
{
    s_ids_table();
    si_fail("OCIServerAttach", 1, 12541);
    void *inst = s_open_standin(NULL);
    struct dld_extract_request req = {.struct_size = sizeof(req), .table = &s_t, .mode = DLD_MODE_FULL};
    struct dld_extract_info info = {.struct_size = sizeof(info)};
    void *cur = NULL;
    ck_assert_int_eq(s_vt->extract_begin(inst, &req, &info, &cur, &s_err), DLD_ERR_RETRY);
    ck_assert_str_eq(s_err.upstream_code, "ORA-12541");
    ck_assert_ptr_nonnull(strstr(s_err.message, "db.example:1521/ORCLPDB1"));
    s_vt->close(inst);
    ck_assert_int_eq(si_live(), 0);
}
END_TEST

START_TEST(nothing_new_is_an_empty_window)
{
    s_ids_table();
    si_values("4711", NULL); /* MAX(...) above the watermark is NULL */
    void *inst = s_open_standin(NULL);
    struct dld_extract_request req = {.struct_size = sizeof(req), .table = &s_t, .mode = DLD_MODE_DELTA,
                                      .low = "6", .batch_rows = 100};
    struct dld_extract_info info = {.struct_size = sizeof(info)};
    void *cur = NULL;
    ck_assert_int_eq(s_vt->extract_begin(inst, &req, &info, &cur, &s_err), 0);
    ck_assert_ptr_null(info.high);
    ck_assert_ptr_nonnull(strstr(info.query, "high mark: "));
    ck_assert_ptr_null(strstr(info.query, "extract: "));
    struct ArrowSchema schema;
    struct ArrowArray batch;
    ck_assert_int_eq(s_vt->extract_next(cur, &schema, &batch, &s_err), DLD_DONE);
    s_vt->extract_end(cur);
    s_info_free(&info);
    s_vt->close(inst);
    ck_assert_int_eq(s_count(si_log(), "OCIStmtFetch2"), 0);
}
END_TEST

START_TEST(array_fetch_batches)
{
    s_ids_table();
    si_values("4711", "6");
    const char *extra[] = {"fetch_rows", "2", NULL};
    void *inst = s_open_standin(extra);
    struct dld_extract_request req = {.struct_size = sizeof(req), .table = &s_t, .mode = DLD_MODE_BACKFILL,
                                      .low = "1", .low_inclusive = 1, .high = "6", .batch_rows = 1000};
    struct dld_extract_info info = {.struct_size = sizeof(info)};
    void *cur = NULL;
    ck_assert_int_eq(s_vt->extract_begin(inst, &req, &info, &cur, &s_err), 0);
    ck_assert_str_eq(info.high, "6");
    /* a given high mark: no MAX query */
    ck_assert_ptr_null(strstr(info.query, "high mark"));
    ck_assert_ptr_nonnull(strstr(info.query, "WHERE \"ID\" >= TO_NUMBER(:2) AND \"ID\" <= TO_NUMBER(:3)"));
    int64_t lengths[4] = {0}, total = 0;
    int nb = 0;
    struct ArrowSchema schema;
    struct ArrowArray batch;
    int rc;
    while ((rc = s_vt->extract_next(cur, &schema, &batch, &s_err)) == 0) {
        ck_assert_int_lt(nb, 4);
        lengths[nb++] = batch.length;
        for (int64_t r = 0; r < batch.length; r++)
            ck_assert_int_eq(s_i64(batch.children[0], r), 1 + total + r);
        total += batch.length;
        dld_arrow_release(&schema, &batch);
    }
    ck_assert_int_eq(rc, DLD_DONE);
    ck_assert_int_eq(nb, 3);
    ck_assert(lengths[0] == 2 && lengths[1] == 2 && lengths[2] == 1);
    s_vt->extract_end(cur);
    s_info_free(&info);
    s_vt->close(inst);
    ck_assert_ptr_nonnull(strstr(si_log(), "OCIAttrSet PREFETCH_ROWS=2"));
    ck_assert_int_eq(s_count(si_log(), "OCIStmtFetch2 nrows=2"), 3);
}
END_TEST

START_TEST(number_overflow_is_an_error)
{
    static const struct standin_col cols[] = {{"ID", 2, 10, 0, 22, 0, 1, 0}, {"N", 2, 0, -127, 22, 0, 1, 1}};
    static struct standin_cell cells[2];
    cells[0] = (struct standin_cell){n5, sizeof(n5)};
    cells[1] = (struct standin_cell){nfrac, sizeof(nfrac)}; /* -0.00734 needs scale 5 */
    si_table(cols, 2, cells, 1);
    si_values("1", "5");
    const char *extra[] = {"number_scale", "2", NULL};
    void *inst = s_open_standin(extra);
    struct dld_extract_request req = {.struct_size = sizeof(req), .table = &s_t, .mode = DLD_MODE_FULL};
    struct dld_extract_info info = {.struct_size = sizeof(info)};
    void *cur = NULL;
    ck_assert_int_eq(s_vt->extract_begin(inst, &req, &info, &cur, &s_err), 0);
    struct ArrowSchema schema;
    struct ArrowArray batch;
    ck_assert_int_eq(s_vt->extract_next(cur, &schema, &batch, &s_err), DLD_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(s_err.message, "-0.00734"));
    ck_assert_ptr_nonnull(strstr(s_err.message, "number_scale"));
    s_vt->extract_end(cur);
    s_info_free(&info);
    s_vt->close(inst);
}
END_TEST

START_TEST(lob_over_the_cap_fails_and_reconnects)
{
    s_load_table();
    si_values("4711", "2767");
    const char *extra[] = {"lob_max_bytes", "100000", NULL};
    void *inst = s_open_standin(extra);
    struct dld_extract_request req = {.struct_size = sizeof(req), .table = &s_orders, .mode = DLD_MODE_DELTA,
                                      .batch_rows = 10};
    struct dld_extract_info info = {.struct_size = sizeof(info)};
    void *cur = NULL;
    ck_assert_int_eq(s_vt->extract_begin(inst, &req, &info, &cur, &s_err), 0);
    struct ArrowSchema schema;
    struct ArrowArray batch;
    ck_assert_int_eq(s_vt->extract_next(cur, &schema, &batch, &s_err), DLD_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(s_err.message, "lob_max_bytes=100000"));
    ck_assert_ptr_nonnull(strstr(s_err.message, "\"DOC\""));
    s_vt->extract_end(cur);
    s_info_free(&info);
    ck_assert_int_eq(s_vt->extract_begin(inst, &req, &info, &cur, &s_err), 0);
    s_vt->extract_end(cur);
    s_info_free(&info);
    s_vt->close(inst);
    ck_assert_int_eq(s_count(si_log(), "OCIServerAttach"), 2);
    ck_assert_int_eq(si_live(), 0);
}
END_TEST

START_TEST(full_between_in_a_read_only_transaction)
{
    s_ids_table();
    const char *extra[] = {"consistency", "read_only", NULL};
    void *inst = s_open_standin(extra);
    struct dld_table t = s_t;
    t.filter_operator = "between";
    t.start_value = "2";
    t.end_value = "4";
    struct dld_extract_request req = {.struct_size = sizeof(req), .table = &t, .mode = DLD_MODE_FULL,
                                      .batch_rows = 100};
    struct dld_extract_info info = {.struct_size = sizeof(info)};
    void *cur = NULL;
    ck_assert_int_eq(s_vt->extract_begin(inst, &req, &info, &cur, &s_err), 0);
    ck_assert_ptr_null(info.high);
    ck_assert_str_eq(info.snapshot, "read-only transaction");
    ck_assert_str_eq(info.query, "extract: SELECT \"ID\" FROM \"APP\".\"T\" WHERE \"ID\" BETWEEN TO_NUMBER(:1) AND "
                                 "TO_NUMBER(:2)  -- binds: :1 = '2' (startvalue), :2 = '4' (endvalue)");
    s_vt->extract_end(cur);
    s_info_free(&info);
    s_vt->close(inst);
    static const char *const steps[] = {"OCIStmtPrepare2 SET TRANSACTION READ ONLY", "OCIStmtPrepare2 SELECT * FROM",
                                        "OCIStmtPrepare2 SELECT \"ID\" FROM", "OCITransRollback", NULL};
    s_assert_sequence(steps);
    ck_assert_ptr_null(strstr(si_log(), "V$DATABASE"));
}
END_TEST

START_TEST(identifiers_and_connect_options)
{
    s_ids_table();
    si_values("4711", "5");
    const char *extra[] = {"wallet_dir", "/etc/wallets/dwh", NULL};
    void *inst = s_open_standin(extra);
    /* the filter column is matched against the described names */
    struct dld_table t = s_t;
    t.filter_column = "nope";
    struct dld_extract_request req = {.struct_size = sizeof(req), .table = &t, .mode = DLD_MODE_DELTA};
    struct dld_extract_info info = {.struct_size = sizeof(info)};
    void *cur = NULL;
    ck_assert_int_eq(s_vt->extract_begin(inst, &req, &info, &cur, &s_err), DLD_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(s_err.message, "filtercolumn nope (looked up as \"NOPE\") is not a column of "
                                                "\"APP\".\"T\""));
    /* a name that is not a plain identifier is used verbatim */
    t.filter_column = "id";
    t.source_table = "Order Items";
    ck_assert_int_eq(s_vt->extract_begin(inst, &req, &info, &cur, &s_err), 0);
    ck_assert_ptr_nonnull(strstr(info.query, "FROM \"APP\".\"Order Items\""));
    s_vt->extract_end(cur);
    s_info_free(&info);
    /* a double quote cannot be quoted: refused before anything runs */
    t.source_table = "a\"b";
    ck_assert_int_eq(s_vt->extract_begin(inst, &req, &info, &cur, &s_err), DLD_ERR_CONFIG);
    s_vt->close(inst);
    ck_assert_ptr_nonnull(strstr(si_log(), "OCIServerAttach db.example:1521/ORCLPDB1?wallet_location=/etc/wallets/dwh"));
    ck_assert_int_eq(s_count(si_log(), "a\"b"), 0);
}
END_TEST

/* ---- commit order (filteroperator "commit") ---------------------------------------- */

static const struct dld_table s_commit_t = {.struct_size = sizeof(struct dld_table), .target_table_name = "t",
                                            .source_schema = "app", .source_table = "t",
                                            .filter_operator = "commit"};

START_TEST(commit_order_window)
{
    standin_dependencies_fn si_deps;
    *(void **)&si_deps = dlsym(s_standin, "standin_dependencies");
    ck_assert_ptr_nonnull(si_deps);
    s_ids_table();
    si_values("48213077", NULL);
    /* consistency=flashback (the default) does not matter: never AS OF with ORA_ROWSCN */
    void *inst = s_open_standin(NULL);
    struct dld_extract_request req = {.struct_size = sizeof(req), .table = &s_commit_t, .mode = DLD_MODE_DELTA,
                                      .low = "48200000", .batch_rows = 100};
    struct dld_extract_info info = {.struct_size = sizeof(info)};
    void *cur = NULL;
    int rc = s_vt->extract_begin(inst, &req, &info, &cur, &s_err);
    ck_assert_msg(rc == 0, "%s", s_err.message);
    ck_assert_str_eq(info.high, "48213077");
    /* the load is marked: ORA_ROWSCN per block, rows may come again */
    ck_assert_str_eq(info.snapshot, "SCN 48213077 read before a read-only transaction; ORA_ROWSCN per block "
                                    "(NOROWDEPENDENCIES): unchanged rows sharing a block with a changed one come "
                                    "again: at least once");
    const char *want = "horizon: SELECT TO_CHAR(CURRENT_SCN) FROM V$DATABASE = 48213077, read before SET TRANSACTION "
                       "READ ONLY\nextract: SELECT \"ID\" FROM \"APP\".\"T\" WHERE ORA_ROWSCN > TO_NUMBER(:1)  -- "
                       "binds: :1 = '48200000' (low)\n-- guarantee: commit order, at least once: every row changed by "
                       "a transaction committed above SCN 48200000 is read";
    ck_assert_msg(!strncmp(info.query, want, strlen(want)), "%s", info.query);
    ck_assert_ptr_nonnull(strstr(info.query, "\n-- cost: a scan of the whole table per window"));
    struct ArrowSchema schema;
    struct ArrowArray batch;
    ck_assert_int_eq(s_vt->extract_next(cur, &schema, &batch, &s_err), 0);
    ck_assert_int_eq(batch.length, 5);
    dld_arrow_release(&schema, &batch);
    ck_assert_int_eq(s_vt->extract_next(cur, &schema, &batch, &s_err), DLD_DONE);
    s_vt->extract_end(cur);
    s_info_free(&info);
    static const char *const steps[] = {
        /* the SCN before the transaction: every commit at or below it is visible in it */
        "OCIStmtPrepare2 SELECT TO_CHAR(CURRENT_SCN) FROM V$DATABASE",
        "OCIStmtPrepare2 SET TRANSACTION READ ONLY",
        "OCIStmtPrepare2 SELECT * FROM \"APP\".\"T\" WHERE 1 = 0",
        "OCIStmtPrepare2 SELECT DEPENDENCIES FROM ALL_TABLES",
        "OCIBindByPos2 :1='APP'",
        "OCIBindByPos2 :2='T'",
        "OCIStmtPrepare2 SELECT \"ID\" FROM \"APP\".\"T\" WHERE ORA_ROWSCN > TO_NUMBER(:1)",
        "OCIBindByPos2 :1='48200000'",
        "OCIStmtExecute iters=0 mode=0",
        "OCIStmtFetch2",
        "OCITransRollback",
        NULL,
    };
    s_assert_sequence(steps);
    ck_assert_int_eq(s_count(si_log(), "AS OF"), 0);
    ck_assert_int_eq(s_count(si_log(), "MAX("), 0);

    /* ROWDEPENDENCIES: per row; the first window (no watermark) reads the whole table */
    si_deps("ENABLED");
    req.low = NULL;
    req.low_inclusive = 1;
    ck_assert_int_eq(s_vt->extract_begin(inst, &req, &info, &cur, &s_err), 0);
    ck_assert_str_eq(info.snapshot, "SCN 48213077 read before a read-only transaction; ORA_ROWSCN per row "
                                    "(ROWDEPENDENCIES): at least once");
    ck_assert_ptr_nonnull(strstr(info.query, "\nextract: SELECT \"ID\" FROM \"APP\".\"T\"\n"));
    ck_assert_ptr_nonnull(strstr(info.query, "at least once: every row is read"));
    s_vt->extract_end(cur);
    s_info_free(&info);

    /* nothing committed since the watermark: an empty window, no extract runs */
    req.low = "48213077";
    req.low_inclusive = 0;
    ck_assert_int_eq(s_vt->extract_begin(inst, &req, &info, &cur, &s_err), 0);
    ck_assert_ptr_null(info.high);
    ck_assert_ptr_nonnull(strstr(info.query, "extract: (nothing: no transaction committed since the watermark)"));
    ck_assert_int_eq(s_vt->extract_next(cur, &schema, &batch, &s_err), DLD_DONE);
    s_vt->extract_end(cur);
    s_info_free(&info);

    /* the same window again (an interrupted load): its mark is kept */
    req.low = "48200000";
    req.high = "48210000";
    ck_assert_int_eq(s_vt->extract_begin(inst, &req, &info, &cur, &s_err), 0);
    ck_assert_str_eq(info.high, "48210000");
    s_vt->extract_end(cur);
    s_info_free(&info);

    /* refusals: a watermark that is no SCN, one above the current SCN, a backfill, a filter column */
    req.high = NULL;
    req.low = "2024-05-01T00:00:00";
    ck_assert_int_eq(s_vt->extract_begin(inst, &req, &info, &cur, &s_err), DLD_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(s_err.message, "is not an SCN"));
    req.low = "99999999";
    ck_assert_int_eq(s_vt->extract_begin(inst, &req, &info, &cur, &s_err), DLD_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(s_err.message, "above the database's current SCN"));
    req.low = "1";
    req.mode = DLD_MODE_BACKFILL;
    req.high = "5";
    ck_assert_int_eq(s_vt->extract_begin(inst, &req, &info, &cur, &s_err), DLD_ERR_UNSUPPORTED);
    struct dld_table with_column = s_commit_t;
    with_column.filter_column = "id";
    req.table = &with_column;
    req.mode = DLD_MODE_DELTA;
    req.high = NULL;
    ck_assert_int_eq(s_vt->extract_begin(inst, &req, &info, &cur, &s_err), DLD_ERR_CONFIG);
    s_vt->close(inst);
    ck_assert_int_eq(si_live(), 0);
}
END_TEST

START_TEST(commit_needs_the_scn_grant)
{
    s_ids_table();
    si_fail("OCIStmtExecute", 2, 942); /* 1: ALTER SESSION, 2: V$DATABASE */
    const char *extra[] = {"consistency", "read_only", NULL};
    void *inst = s_open_standin(extra);
    struct dld_extract_request req = {.struct_size = sizeof(req), .table = &s_commit_t, .mode = DLD_MODE_DELTA,
                                      .low = "1", .batch_rows = 100};
    struct dld_extract_info info = {.struct_size = sizeof(info)};
    void *cur = NULL;
    ck_assert_int_eq(s_vt->extract_begin(inst, &req, &info, &cur, &s_err), DLD_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(s_err.message, "GRANT SELECT ON V_$DATABASE"));
    s_vt->close(inst);
}
END_TEST

static Suite *s_suite(void)
{
    Suite *s = suite_create("oracle_plugin");
    TCase *tc = tcase_create("plugin");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_add_test(tc, missing_library_in_lib_dir);
    tcase_add_test(tc, missing_library_on_search_path);
    tcase_add_test(tc, descriptor_carries_the_guidance);
    tcase_add_test(tc, bad_options);
    tcase_add_test(tc, delta_load_every_type);
    tcase_add_test(tc, dropped_connection_is_retryable);
    tcase_add_test(tc, signal_breaks_a_hanging_call);
    tcase_add_test(tc, refused_login_is_auth_and_hides_the_password);
    tcase_add_test(tc, no_listener_is_retryable);
    tcase_add_test(tc, nothing_new_is_an_empty_window);
    tcase_add_test(tc, array_fetch_batches);
    tcase_add_test(tc, number_overflow_is_an_error);
    tcase_add_test(tc, lob_over_the_cap_fails_and_reconnects);
    tcase_add_test(tc, full_between_in_a_read_only_transaction);
    tcase_add_test(tc, identifiers_and_connect_options);
    tcase_add_test(tc, commit_order_window);
    tcase_add_test(tc, commit_needs_the_scn_grant);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(s_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

/* state-sqlite suite: the same cases through the .so (dlopen) and through
 * the builtin entry, as OpenSSL's provider_test runs a provider both ways. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state_test.h"

/* defined by the builtin object (plugins/state-sqlite, -DDLD_BUILTIN) */
int dld_builtin_entry_state_sqlite(const struct dld_host *host, const struct dld_plugin **out);

const struct dld_state_vtable *vt;
void *inst;
char db_path[512];
static char s_dir[400];
static void *s_so;
static const struct dld_plugin *s_plugin;

struct dld_error state_test_err(void)
{
    struct dld_error e;
    dld_error_init(&e);
    return e;
}

struct dld_run state_test_run(const char *table, int64_t load_id, uint32_t status, const char *low, const char *high,
                              int64_t started_ms)
{
    struct dld_run r;
    memset(&r, 0, sizeof(r));
    r.struct_size = sizeof(r);
    r.table = (char *)table;
    r.load_id = load_id;
    r.mode = DLD_MODE_DELTA;
    r.status = status;
    r.low = (char *)low;
    r.high = (char *)high;
    r.started_ms = started_ms;
    r.owner = (char *)"host:1";
    return r;
}

void *state_test_open(const char *busy_ms)
{
    const char *opts[] = {"path", db_path, "busy_timeout_ms", busy_ms, NULL};
    struct dld_error e = state_test_err();
    void *i = NULL;
    int rc = vt->open(dld_test_host(), opts, &i, &e);
    ck_assert_msg(rc == DLD_OK, "open %s: %s", db_path, e.message);
    return i;
}

static void s_setup_common(void)
{
    ck_assert_ptr_nonnull(s_plugin);
    vt = s_plugin->vtable;
    ck_assert_int_eq(dld_test_tmpdir(s_dir, sizeof(s_dir), "state-sqlite"), 0);
    snprintf(db_path, sizeof(db_path), "%s/state.db", s_dir);
    dld_test_clock_real();
    inst = state_test_open("10000");
}

static void s_setup_so(void)
{
    s_so = dld_test_plugin_load("state", "sqlite", &s_plugin);
    ck_assert_msg(s_so != NULL, "could not load dld-state-sqlite.so from $DLD_PLUGIN_DIR");
    s_setup_common();
}

static void s_setup_builtin(void)
{
    ck_assert_int_eq(dld_builtin_entry_state_sqlite(dld_test_host(), &s_plugin), DLD_OK);
    s_setup_common();
}

static void s_teardown(void)
{
    if (inst != NULL)
        vt->close(inst);
    inst = NULL;
    dld_test_rmtree(s_dir);
    dld_test_plugin_unload(s_so);
    s_so = NULL;
}

START_TEST(descriptor)
{
    ck_assert_uint_eq(s_plugin->struct_size, sizeof(struct dld_plugin));
    ck_assert_uint_eq(s_plugin->abi_major, DLD_ABI_MAJOR);
    ck_assert_uint_eq(s_plugin->kind, DLD_KIND_STATE);
    ck_assert_str_eq(s_plugin->name, "sqlite");
    ck_assert_uint_eq(vt->struct_size, sizeof(struct dld_state_vtable));
    /* every member of this plugin is implemented */
    void (*const *fns)(void) = (void (*const *)(void))((const char *)vt + offsetof(struct dld_state_vtable, open));
    size_t n = (sizeof(struct dld_state_vtable) - offsetof(struct dld_state_vtable, open)) / sizeof(void *);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fns[i] != NULL, "vtable member %zu is NULL", i);
    ck_assert_str_eq(s_plugin->options[0].name, "path");
    ck_assert(s_plugin->options[0].flags & DLD_OPTF_REQUIRED);
    ck_assert_str_eq(s_plugin->options[1].name, "busy_timeout_ms");
    ck_assert_str_eq(s_plugin->options[1].default_value, "10000");
    ck_assert_str_eq(s_plugin->options[2].name, "read_only"); /* what `plan` sets */
    ck_assert_uint_eq(s_plugin->options[2].type, DLD_OPT_BOOL);
    ck_assert_str_eq(s_plugin->options[2].default_value, "false");
    ck_assert_ptr_null(s_plugin->options[3].name);
}
END_TEST

START_TEST(open_errors)
{
    struct dld_error e = state_test_err();
    void *i = (void *)1;
    const char *none[] = {NULL};
    ck_assert_int_eq(vt->open(dld_test_host(), none, &i, &e), DLD_ERR_CONFIG);
    ck_assert_ptr_null(i);
    ck_assert_msg(strstr(e.message, "path") != NULL, "%s", e.message);

    e = state_test_err();
    const char *bad[] = {"path", "/nonexistent-dir-for-dld-test/x.db", NULL};
    ck_assert_int_eq(vt->open(dld_test_host(), bad, &i, &e), DLD_ERR_FATAL);
    ck_assert_msg(strstr(e.message, "/nonexistent-dir-for-dld-test/x.db") != NULL, "%s", e.message);
    ck_assert_str_eq(e.upstream_code, "SQLITE_CANTOPEN");

    /* a file that is not a database */
    char junk[600];
    snprintf(junk, sizeof(junk), "%s.junk", db_path);
    FILE *f = fopen(junk, "w");
    ck_assert_ptr_nonnull(f);
    for (int k = 0; k < 200; k++)
        fputs("this is not an sqlite database file. ", f);
    fclose(f);
    e = state_test_err();
    const char *notdb[] = {"path", junk, NULL};
    ck_assert_int_eq(vt->open(dld_test_host(), notdb, &i, &e), DLD_ERR_FATAL);
    ck_assert_str_eq(e.upstream_code, "SQLITE_NOTADB");
}
END_TEST

START_TEST(reopen_keeps_everything)
{
    struct dld_error e = state_test_err();
    int64_t tok = 0;
    ck_assert_int_eq(vt->item_put(inst, "t", "{\"targetTableName\":\"t\"}", &e), DLD_OK);
    ck_assert_int_eq(vt->lease_acquire(inst, "t", "a", 60000, &tok, &e), DLD_OK);
    struct dld_run r = state_test_run("t", 1, DLD_RUN_PLANNED, NULL, "5", 1000);
    ck_assert_int_eq(vt->run_commit(inst, &r, 1, tok, &e), DLD_OK);
    ck_assert_int_eq(vt->lease_release(inst, "t", tok, &e), DLD_OK);
    vt->close(inst);
    inst = state_test_open("10000");

    char *item = NULL;
    ck_assert_int_eq(vt->item_get(inst, "t", &item, &e), DLD_OK);
    ck_assert_str_eq(item, "{\"targetTableName\":\"t\"}");
    free(item);
    struct dld_watermark wm = {.struct_size = sizeof(wm)};
    ck_assert_int_eq(vt->watermark_get(inst, "t", &wm, &e), DLD_OK);
    ck_assert_str_eq(wm.value, "5");
    dld_watermark_clean_up(dld_test_host(), &wm);
    /* the token counter survived the release and the reopen */
    int64_t tok2 = 0;
    ck_assert_int_eq(vt->lease_acquire(inst, "t", "a", 60000, &tok2, &e), DLD_OK);
    ck_assert_int_gt(tok2, tok);
}
END_TEST

static void s_add_cases(TCase *tc)
{
    tcase_add_test(tc, descriptor);
    tcase_add_test(tc, open_errors);
    tcase_add_test(tc, reopen_keeps_everything);
    state_test_add_items(tc);
    state_test_add_leases(tc);
    state_test_add_runs(tc);
}

int main(void)
{
    Suite *s = suite_create("state-sqlite");
    TCase *so = tcase_create("dlopen");
    tcase_add_checked_fixture(so, s_setup_so, s_teardown);
    tcase_set_timeout(so, 60);
    s_add_cases(so);
    suite_add_tcase(s, so);
    TCase *bi = tcase_create("builtin");
    tcase_add_checked_fixture(bi, s_setup_builtin, s_teardown);
    tcase_set_timeout(bi, 60);
    s_add_cases(bi);
    suite_add_tcase(s, bi);

    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

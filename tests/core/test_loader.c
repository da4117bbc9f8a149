/* The loader refuses what it must, naming the file and the reason, and
 * accepts the real plugins; each embedded plugin loads built in and as .so. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "loader.h"

static void s_expect_refusal(const char *file, uint32_t kind, const char *name, const char *needle)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", getenv("DLD_TEST_PLUGIN_DIR"), file);
    struct dld_loaded p;
    struct dld_error err;
    dld_error_init(&err);
    int rc = dld_loader_load_file(path, kind, name, &p, &err);
    ck_assert_msg(rc == DLD_ERR_CONFIG, "%s: expected a refusal, got %d", file, rc);
    ck_assert_msg(strstr(err.message, path) != NULL, "message does not name the file: %s", err.message);
    ck_assert_msg(strstr(err.message, needle) != NULL, "%s: message lacks '%s': %s", file, needle, err.message);
}

START_TEST(refuses_missing_entry)
{
    s_expect_refusal("dld-source-noentry.so", DLD_KIND_SOURCE, "noentry", "no exported dld_plugin_entry()");
}
END_TEST

START_TEST(refuses_other_abi_major)
{
    s_expect_refusal("dld-source-futureabi.so", DLD_KIND_SOURCE, "futureabi",
                     "built for plugin ABI major 2 (ABI 2.0), this deltaload has ABI major 1");
}
END_TEST

START_TEST(refuses_wrong_kind)
{
    s_expect_refusal("dld-target-wrongkind.so", DLD_KIND_TARGET, "wrongkind",
                     "the file name says kind 'target' but the plugin declares kind 'source'");
}
END_TEST

START_TEST(refuses_name_mismatch)
{
    s_expect_refusal("dld-source-misnamed.so", DLD_KIND_SOURCE, "misnamed",
                     "the file name says plugin 'misnamed' but the plugin calls itself 'other'");
}
END_TEST

START_TEST(refuses_missing_member)
{
    s_expect_refusal("dld-source-nomember.so", DLD_KIND_SOURCE, "nomember",
                     "required member extract_next of the source vtable is missing");
}
END_TEST

START_TEST(refuses_short_vtable)
{
    s_expect_refusal("dld-source-shortvt.so", DLD_KIND_SOURCE, "shortvt", "too small to hold required member extract_begin");
}
END_TEST

START_TEST(refuses_when_plugin_refuses_host)
{
    s_expect_refusal("dld-source-refuses.so", DLD_KIND_SOURCE, "refuses", "the plugin refused this deltaload");
}
END_TEST

START_TEST(refuses_non_plugin_file)
{
    s_expect_refusal("dld-source-garbage.so", DLD_KIND_SOURCE, "garbage", "cannot load");
}
END_TEST

START_TEST(unknown_plugin_names_search_path)
{
    const char *dirs[] = {getenv("DLD_TEST_PLUGIN_DIR"), NULL};
    struct dld_loaded p;
    struct dld_error err;
    dld_error_init(&err);
    ck_assert_int_eq(dld_loader_load(DLD_KIND_SOURCE, "nosuch", dirs, &p, &err), DLD_ERR_CONFIG);
    ck_assert_msg(strstr(err.message, "unknown source plugin 'nosuch'") && strstr(err.message, dirs[0]), "%s",
                  err.message);
}
END_TEST

START_TEST(accepts_good_plugin_and_copies_descriptor)
{
    const char *dirs[] = {getenv("DLD_TEST_PLUGIN_DIR"), NULL};
    struct dld_loaded p;
    struct dld_error err;
    dld_error_init(&err);
    ck_assert_int_eq(dld_loader_load(DLD_KIND_SOURCE, "good", dirs, &p, &err), DLD_OK);
    ck_assert_str_eq(p.desc.name, "good");
    ck_assert_uint_eq(p.desc.struct_size, sizeof(struct dld_plugin));
    ck_assert_ptr_nonnull(p.vt.source.extract_next);
    ck_assert_ptr_nonnull(p.dl);
    dld_loader_unload(&p);
}
END_TEST

/* Every embedded plugin loads both ways and agrees on its descriptor. */
START_TEST(embedded_plugins_builtin_and_dlopened)
{
    static const struct {
        uint32_t kind;
        const char *name;
    } emb[] = {{DLD_KIND_SOURCE, "sqlite"}, {DLD_KIND_TARGET, "file"}, {DLD_KIND_STATE, "sqlite"},
               {DLD_KIND_SCHEDULER, "local"}};
    const char *so_dirs[] = {getenv("DLD_PLUGIN_DIR"), NULL};
    const char *no_dirs[] = {NULL};
    for (size_t i = 0; i < sizeof emb / sizeof emb[0]; i++) {
        struct dld_loaded a, b;
        struct dld_error err;
        dld_error_init(&err);
        ck_assert_msg(dld_loader_load(emb[i].kind, emb[i].name, so_dirs, &a, &err) == DLD_OK, "%s", err.message);
        ck_assert_msg(dld_loader_load(emb[i].kind, emb[i].name, no_dirs, &b, &err) == DLD_OK, "%s", err.message);
        ck_assert_ptr_nonnull(a.dl);
        ck_assert_ptr_null(b.dl);
        ck_assert_str_eq(b.path, "(built in)");
        ck_assert_str_eq(a.desc.name, b.desc.name);
        ck_assert_str_eq(a.desc.version, b.desc.version);
        int na = 0, nb = 0;
        while (a.desc.options[na].name)
            na++;
        while (b.desc.options[nb].name)
            nb++;
        ck_assert_int_eq(na, nb);
        dld_loader_unload(&a);
        dld_loader_unload(&b);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("loader");
    TCase *tc = tcase_create("loader");
    tcase_add_test(tc, refuses_missing_entry);
    tcase_add_test(tc, refuses_other_abi_major);
    tcase_add_test(tc, refuses_wrong_kind);
    tcase_add_test(tc, refuses_name_mismatch);
    tcase_add_test(tc, refuses_missing_member);
    tcase_add_test(tc, refuses_short_vtable);
    tcase_add_test(tc, refuses_when_plugin_refuses_host);
    tcase_add_test(tc, refuses_non_plugin_file);
    tcase_add_test(tc, unknown_plugin_names_search_path);
    tcase_add_test(tc, accepts_good_plugin_and_copies_descriptor);
    tcase_add_test(tc, embedded_plugins_builtin_and_dlopened);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

/* Connecting: conninfo strings and URIs, discrete options overriding them,
 * passwords from the option, a password file or nowhere (refused), TLS
 * options passed through, option validation and the descriptor. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pg_test.h"

extern const struct dld_plugin *pgt_plugin;

static char *s_file(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", getenv("DLD_PG_DIR"), name);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "%s", path);
    char buf[512];
    ck_assert_ptr_nonnull(fgets(buf, sizeof buf, f));
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
    return strdup(buf);
}

START_TEST(test_descriptor)
{
    ck_assert_str_eq(pgt_plugin->name, "postgres");
    ck_assert_int_eq(pgt_plugin->kind, DLD_KIND_SOURCE);
    ck_assert(pgt_plugin->capabilities & DLD_CAP_SNAPSHOT);
    int secrets = 0;
    for (const struct dld_option *o = pgt_plugin->options; o->name; o++) {
        ck_assert_msg(o->help && *o->help, "option %s has no help", o->name);
        if (!strcmp(o->name, "password") || !strcmp(o->name, "conninfo")) {
            ck_assert_msg(o->flags & DLD_OPTF_SECRET, "%s is not secret", o->name);
            secrets++;
        }
    }
    ck_assert_int_eq(secrets, 2);
}
END_TEST

START_TEST(test_wrong_password)
{
    const char *opts[] = {"password", "not-the-password-xyz", NULL};
    struct dld_error e = pgt_err();
    ck_assert_int_eq(pgt_open_rc(opts, &e), DLD_ERR_AUTH);
    ck_assert_msg(strstr(e.message, "password authentication failed"), "%s", e.message);
    ck_assert_msg(!strstr(e.message, "not-the-password-xyz"), "the password leaked into: %s", e.message);
}
END_TEST

START_TEST(test_passfile)
{
    char *port = s_file("postmaster.port"), *password = s_file("password");
    char dir[512], path[600];
    ck_assert_int_eq(dld_test_tmpdir(dir, sizeof dir, "pgpass"), 0);
    snprintf(path, sizeof path, "%s/pgpass", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "127.0.0.1:%s:*:postgres:%s\n", port, password);
    fclose(f);
    chmod(path, 0600);
    /* no password option: libpq reads the file */
    const char *opts[] = {"password", "", "passfile", path, NULL};
    struct dld_error e = pgt_err();
    ck_assert_msg(pgt_open_rc(opts, &e) == DLD_OK, "%s", e.message);
    /* and without either, the server refuses */
    const char *none[] = {"password", "", "passfile", "/nonexistent/pgpass", NULL};
    e = pgt_err();
    ck_assert_int_eq(pgt_open_rc(none, &e), DLD_ERR_AUTH);
    dld_test_rmtree(dir);
    free(port);
    free(password);
}
END_TEST

START_TEST(test_uri_and_overrides)
{
    char *port = s_file("postmaster.port");
    char uri[256];
    snprintf(uri, sizeof uri, "postgresql://postgres@127.0.0.1:%s/postgres?application_name=from-uri", port);
    const char *o1[] = {"conninfo", uri, NULL};
    struct dld_error e = pgt_err();
    ck_assert_msg(pgt_open_rc(o1, &e) == DLD_OK, "URI: %s", e.message);
    /* discrete options win over the string's parts */
    const char *o2[] = {"conninfo", "host=127.0.0.1 port=1 dbname=nowhere user=nobody", "port", port, "dbname",
                        "postgres", "user", "postgres", NULL};
    e = pgt_err();
    ck_assert_msg(pgt_open_rc(o2, &e) == DLD_OK, "overrides: %s", e.message);
    /* discrete options alone */
    const char *o3[] = {"conninfo", "", "host", "127.0.0.1", "port", port, "user", "postgres", "dbname", "postgres",
                        NULL};
    e = pgt_err();
    ck_assert_msg(pgt_open_rc(o3, &e) == DLD_OK, "discrete: %s", e.message);
    free(port);
}
END_TEST

START_TEST(test_unreachable_and_tls)
{
    const char *o1[] = {"port", "1", "connect_timeout", "2", NULL};
    struct dld_error e = pgt_err();
    ck_assert_int_eq(pgt_open_rc(o1, &e), DLD_ERR_RETRY);
    ck_assert_msg(strstr(e.message, "cannot connect"), "%s", e.message);
    /* the test server has no TLS: sslmode=require must be passed on and fail */
    const char *o2[] = {"sslmode", "require", NULL};
    e = pgt_err();
    ck_assert_int_ne(pgt_open_rc(o2, &e), DLD_OK);
    ck_assert_msg(strstr(e.message, "SSL"), "%s", e.message);
    const char *o3[] = {"sslmode", "disable", "sslrootcert", "/nonexistent/ca.pem", NULL};
    e = pgt_err();
    ck_assert_msg(pgt_open_rc(o3, &e) == DLD_OK, "%s", e.message);
}
END_TEST

START_TEST(test_bad_options)
{
    const char *o1[] = {"unconstrained_numeric", "float", NULL};
    struct dld_error e = pgt_err();
    ck_assert_int_eq(pgt_open_rc(o1, &e), DLD_ERR_CONFIG);
    const char *o2[] = {"numeric_scale", "39", NULL};
    e = pgt_err();
    ck_assert_int_eq(pgt_open_rc(o2, &e), DLD_ERR_CONFIG);
    const char *o3[] = {"statement_timeout", "-1", NULL};
    e = pgt_err();
    ck_assert_int_eq(pgt_open_rc(o3, &e), DLD_ERR_CONFIG);
}
END_TEST

START_TEST(test_application_name)
{
    const char *opts[] = {"application_name", "dld-appname-test", NULL};
    void *inst = pgt_open(opts);
    PGconn *admin = pgt_admin();
    char *n = pgt_value(admin, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'dld-appname-test'");
    ck_assert_str_eq(n, "1");
    free(n);
    PQfinish(admin);
    pgt_vt->close(inst);
}
END_TEST

Suite *pgt_suite_conn(void)
{
    Suite *s = suite_create("postgres connections");
    TCase *tc = tcase_create("connections");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_descriptor);
    tcase_add_test(tc, test_wrong_password);
    tcase_add_test(tc, test_passfile);
    tcase_add_test(tc, test_uri_and_overrides);
    tcase_add_test(tc, test_unreachable_and_tls);
    tcase_add_test(tc, test_bad_options);
    tcase_add_test(tc, test_application_name);
    suite_add_tcase(s, tc);
    return s;
}

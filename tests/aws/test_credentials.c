/* The credentials provider chain, region and endpoint resolution. Remote
 * sources (IMDSv2, container endpoint, STS web identity) are served by
 * cred_server.js on the loopback; files and environment are set per test
 * (Check forks each test, so changes do not leak). */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <deltaload/aws.h>
#include <deltaload/sdk.h>

static pid_t g_server;
static int g_port;
static char g_dir[256];

/* starts cred_server.js (our own child) and reads its port */
static void s_start_server(const char *expiry_s)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    g_server = fork();
    ck_assert_int_ge(g_server, 0);
    if (g_server == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        setenv("EXPIRY_S", expiry_s, 1);
        execlp("node", "node", DLD_AWS_TEST_DIR "/cred_server.js", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[64] = {0};
    ck_assert_msg(fgets(line, sizeof(line), f) != NULL, "cred_server.js did not start");
    ck_assert_int_eq(sscanf(line, "port %d", &g_port), 1);
    fclose(f);
}

static void s_stop_server(void)
{
    if (g_server > 0) {
        kill(g_server, SIGTERM);
        waitpid(g_server, NULL, 0);
        g_server = 0;
    }
}

static void s_clear_env(void)
{
    static const char *const vars[] = {
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION",
        "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_STS", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", NULL};
    for (int i = 0; vars[i]; i++)
        unsetenv(vars[i]);
    /* never wait on a real metadata service from a test */
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    /* no ~/.aws of whoever runs the tests */
    snprintf(g_dir, sizeof(g_dir), "/tmp/dld-aws-creds-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
    char p[300];
    snprintf(p, sizeof(p), "%s/none", g_dir);
    setenv("AWS_CONFIG_FILE", p, 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", p, 1);
}

static void s_setup(void) { s_clear_env(); }
static void s_teardown(void)
{
    s_stop_server();
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_dir);
}

static void s_write(const char *name, const char *text, char *path_out)
{
    snprintf(path_out, 300, "%s/%s", g_dir, name);
    FILE *f = fopen(path_out, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static int s_get(const struct dld_aws_credentials_options *o, struct dld_aws_credentials *c, struct dld_error *err,
                 const char **source)
{
    dld_error_init(err);
    struct dld_aws_credentials_provider *p = dld_aws_credentials_provider_new(o, err);
    ck_assert_msg(p != NULL, "%s", err->message);
    int rc = dld_aws_credentials_get(p, c, err);
    static char src[32];
    snprintf(src, sizeof(src), "%s", dld_aws_credentials_source(p));
    if (source)
        *source = src;
    dld_aws_credentials_provider_destroy(p);
    return rc;
}

START_TEST(test_static_and_environment)
{
    struct dld_aws_credentials c;
    struct dld_error err;
    const char *src;
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    setenv("AWS_SESSION_TOKEN", "envtoken", 1);
    struct dld_aws_credentials_options o = {0};
    ck_assert_int_eq(s_get(&o, &c, &err, &src), DLD_OK);
    ck_assert_str_eq(src, "environment");
    ck_assert_str_eq(c.access_key_id, "AKIDENV");
    ck_assert_str_eq(c.secret_access_key, "envsecret");
    ck_assert_str_eq(c.session_token, "envtoken");
    dld_aws_credentials_clean_up(&c);
    /* options win over the environment */
    struct dld_aws_credentials_options so = {.access_key_id = "AKIDOPT", .secret_access_key = "optsecret"};
    ck_assert_int_eq(s_get(&so, &c, &err, &src), DLD_OK);
    ck_assert_str_eq(src, "static");
    ck_assert_str_eq(c.access_key_id, "AKIDOPT");
    ck_assert_ptr_null(c.session_token);
    dld_aws_credentials_clean_up(&c);
    /* half a key pair is an error, not a fall-through */
    unsetenv("AWS_SECRET_ACCESS_KEY");
    ck_assert_int_eq(s_get(&o, &c, &err, &src), DLD_ERR_AUTH);
    ck_assert_ptr_nonnull(strstr(err.message, "AWS_SECRET_ACCESS_KEY"));
}
END_TEST

START_TEST(test_nothing_configured)
{
    struct dld_aws_credentials c;
    struct dld_error err;
    struct dld_aws_credentials_options o = {0};
    ck_assert_int_eq(s_get(&o, &c, &err, NULL), DLD_ERR_AUTH);
    ck_assert_ptr_nonnull(strstr(err.message, "no AWS credentials found"));
}
END_TEST

START_TEST(test_profiles)
{
    char cred[300], conf[300];
    s_write("credentials",
            "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = defaultsecret\n\n"
            "# a comment\n[dev]\naws_access_key_id=AKIDDEV\naws_secret_access_key=devsecret ; inline comment\n"
            "aws_session_token = devtoken\n",
            cred);
    s_write("config",
            "[default]\nregion = eu-north-1\n[profile dev]\nregion = ap-south-1\n"
            "endpoint_url = http://127.0.0.1:1/\n[profile proc]\ncredential_process = printf "
            "'{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": \"procsecret\", "
            "\"SessionToken\": \"proctoken\", \"Expiration\": \"2999-01-01T00:00:00Z\"}'\n"
            "[profile broken]\ncredential_process = sh -c 'echo secret-output; exit 3'\n"
            "[profile chained]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = default\n",
            conf);
    setenv("AWS_SHARED_CREDENTIALS_FILE", cred, 1);
    setenv("AWS_CONFIG_FILE", conf, 1);
    struct dld_aws_credentials c;
    struct dld_error err;
    const char *src;
    struct dld_aws_credentials_options o = {0};
    ck_assert_int_eq(s_get(&o, &c, &err, &src), DLD_OK);
    ck_assert_str_eq(src, "profile");
    ck_assert_str_eq(c.access_key_id, "AKIDDEFAULT");
    dld_aws_credentials_clean_up(&c);

    setenv("AWS_PROFILE", "dev", 1);
    ck_assert_int_eq(s_get(&o, &c, &err, &src), DLD_OK);
    ck_assert_str_eq(c.access_key_id, "AKIDDEV");
    ck_assert_str_eq(c.secret_access_key, "devsecret");
    ck_assert_str_eq(c.session_token, "devtoken");
    dld_aws_credentials_clean_up(&c);
    char *region = NULL, *endpoint = NULL;
    ck_assert_int_eq(dld_aws_region_resolve(NULL, NULL, &region, &err), DLD_OK);
    ck_assert_str_eq(region, "ap-south-1");
    ck_assert_int_eq(dld_aws_endpoint_resolve("S3", "s3", NULL, region, NULL, &endpoint, &err), DLD_OK);
    ck_assert_str_eq(endpoint, "http://127.0.0.1:1");
    free(region);
    free(endpoint);

    /* the environment comes before the profile */
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    ck_assert_int_eq(s_get(&o, &c, &err, &src), DLD_OK);
    ck_assert_str_eq(src, "environment");
    dld_aws_credentials_clean_up(&c);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");

    struct dld_aws_credentials_options po = {.profile = "proc"};
    ck_assert_msg(s_get(&po, &c, &err, &src) == DLD_OK, "%s", err.message);
    ck_assert_str_eq(src, "process");
    ck_assert_str_eq(c.access_key_id, "AKIDPROC");
    ck_assert_str_eq(c.session_token, "proctoken");
    ck_assert_int_gt(c.expires_ms, 0);
    dld_aws_credentials_clean_up(&c);

    po.profile = "broken";
    ck_assert_int_eq(s_get(&po, &c, &err, &src), DLD_ERR_AUTH);
    ck_assert_ptr_nonnull(strstr(err.message, "status 3"));
    ck_assert_ptr_null(strstr(err.message, "secret-output"));

    po.profile = "chained";
    ck_assert_int_eq(s_get(&po, &c, &err, &src), DLD_ERR_UNSUPPORTED);

    po.profile = "missing";
    ck_assert_int_eq(s_get(&po, &c, &err, &src), DLD_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.message, "'missing' not found"));
}
END_TEST

START_TEST(test_web_identity)
{
    s_start_server("3600");
    char tok[300], url[128];
    s_write("token", "web-identity-jwt\n", tok);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", g_port);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tok, 1);
    setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/deltaload", 1);
    setenv("AWS_ENDPOINT_URL_STS", url, 1);
    setenv("AWS_REGION", "us-west-2", 1);
    struct dld_aws_credentials c;
    struct dld_error err;
    const char *src;
    struct dld_aws_credentials_options o = {0};
    ck_assert_msg(s_get(&o, &c, &err, &src) == DLD_OK, "%s", err.message);
    ck_assert_str_eq(src, "web-identity");
    ck_assert_str_eq(c.access_key_id, "ASIAWEBIDEXAMPLE");
    ck_assert_str_eq(c.session_token, "web-session");
    ck_assert_int_gt(c.expires_ms, 0);
    dld_aws_credentials_clean_up(&c);
    /* STS refusing the token is an auth error with STS's code and request id */
    s_write("token", "stolen-jwt\n", tok);
    ck_assert_int_eq(s_get(&o, &c, &err, &src), DLD_ERR_AUTH);
    ck_assert_str_eq(err.upstream_code, "InvalidIdentityToken");
    ck_assert_str_eq(err.request_id, "sts-req-1");
    ck_assert_ptr_null(strstr(err.message, "stolen-jwt"));
}
END_TEST

START_TEST(test_container)
{
    s_start_server("3600");
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/container/creds", g_port);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "container-auth-token", 1);
    struct dld_aws_credentials c;
    struct dld_error err;
    const char *src;
    struct dld_aws_credentials_options o = {0};
    ck_assert_msg(s_get(&o, &c, &err, &src) == DLD_OK, "%s", err.message);
    ck_assert_str_eq(src, "container");
    ck_assert_str_eq(c.access_key_id, "ASIACONTAINEREXAMPLE");
    ck_assert_str_eq(c.session_token, "container-session");
    dld_aws_credentials_clean_up(&c);

    /* the token from a file, the relative URI against the (test) container host */
    char tokfile[300], host[64];
    s_write("ctoken", "container-auth-token", tokfile);
    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tokfile, 1);
    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc", 1);
    snprintf(host, sizeof(host), "http://127.0.0.1:%d", g_port);
    struct dld_aws_credentials_options ro = {.container_host = host};
    ck_assert_msg(s_get(&ro, &c, &err, &src) == DLD_OK, "%s", err.message);
    ck_assert_str_eq(c.access_key_id, "ASIACONTAINEREXAMPLE");
    dld_aws_credentials_clean_up(&c);

    /* a wrong token is refused by the endpoint */
    s_write("ctoken", "wrong", tokfile);
    ck_assert_int_eq(s_get(&ro, &c, &err, &src), DLD_ERR_AUTH);

    /* plain http to anything but the loopback / ECS address is refused */
    unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.com/creds", 1);
    ck_assert_int_eq(s_get(&o, &c, &err, &src), DLD_ERR_CONFIG);
}
END_TEST

static int64_t g_fake_now;
static int64_t s_fake_now(void) { return g_fake_now; }

static int s_count(const char *what)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "curl -s http://127.0.0.1:%d/__counts", g_port);
    FILE *p = popen(cmd, "r");
    char buf[512] = {0};
    size_t n = fread(buf, 1, sizeof(buf) - 1, p);
    buf[n] = '\0';
    pclose(p);
    char key[64];
    snprintf(key, sizeof(key), "\"%s\":", what);
    char *at = strstr(buf, key);
    return at ? atoi(at + strlen(key)) : -1;
}

START_TEST(test_imds_and_refresh)
{
    /* credentials that expire in 10 minutes: refreshed 5 minutes before */
    s_start_server("600");
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", g_port);
    unsetenv("AWS_EC2_METADATA_DISABLED");
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    g_fake_now = (int64_t)ts.tv_sec * 1000;
    struct dld_error err;
    dld_error_init(&err);
    struct dld_aws_credentials_options o = {.now_ms = s_fake_now};
    struct dld_aws_credentials_provider *p = dld_aws_credentials_provider_new(&o, &err);
    struct dld_aws_credentials c;
    ck_assert_msg(dld_aws_credentials_get(p, &c, &err) == DLD_OK, "%s", err.message);
    ck_assert_str_eq(dld_aws_credentials_source(p), "imds");
    ck_assert_str_eq(c.access_key_id, "ASIAIMDSEXAMPLE");
    ck_assert_str_eq(c.session_token, "imds-session");
    dld_aws_credentials_clean_up(&c);
    ck_assert_int_eq(s_count("imds_creds"), 1);
    /* 4 minutes later: still cached */
    g_fake_now += 4 * 60 * 1000;
    ck_assert_int_eq(dld_aws_credentials_get(p, &c, &err), DLD_OK);
    dld_aws_credentials_clean_up(&c);
    ck_assert_int_eq(s_count("imds_creds"), 1);
    /* 6 minutes after the fetch: inside the refresh margin, fetched again */
    g_fake_now += 2 * 60 * 1000;
    ck_assert_int_eq(dld_aws_credentials_get(p, &c, &err), DLD_OK);
    dld_aws_credentials_clean_up(&c);
    ck_assert_int_eq(s_count("imds_creds"), 2);
    ck_assert_int_eq(s_count("imds_token"), 2); /* IMDSv2: a session token each time */
    /* invalidation after a refusal forces a fetch */
    dld_aws_credentials_invalidate(p);
    ck_assert_int_eq(dld_aws_credentials_get(p, &c, &err), DLD_OK);
    dld_aws_credentials_clean_up(&c);
    ck_assert_int_eq(s_count("imds_creds"), 3);
    dld_aws_credentials_provider_destroy(p);
}
END_TEST

START_TEST(test_region_and_endpoints)
{
    char *v = NULL;
    struct dld_error err;
    dld_error_init(&err);
    ck_assert_int_eq(dld_aws_region_resolve(NULL, NULL, &v, &err), DLD_ERR_CONFIG);
    setenv("AWS_DEFAULT_REGION", "eu-west-3", 1);
    ck_assert_int_eq(dld_aws_region_resolve(NULL, NULL, &v, &err), DLD_OK);
    ck_assert_str_eq(v, "eu-west-3");
    free(v);
    setenv("AWS_REGION", "eu-west-1", 1);
    ck_assert_int_eq(dld_aws_region_resolve(NULL, NULL, &v, &err), DLD_OK);
    ck_assert_str_eq(v, "eu-west-1");
    free(v);
    ck_assert_int_eq(dld_aws_region_resolve("us-east-2", NULL, &v, &err), DLD_OK);
    ck_assert_str_eq(v, "us-east-2");
    free(v);
    ck_assert_int_eq(dld_aws_region_resolve("us east;", NULL, &v, &err), DLD_ERR_CONFIG);

    ck_assert_int_eq(dld_aws_endpoint_resolve("S3", "s3", NULL, "eu-west-1", NULL, &v, &err), DLD_OK);
    ck_assert_str_eq(v, "https://s3.eu-west-1.amazonaws.com");
    free(v);
    ck_assert_int_eq(dld_aws_endpoint_resolve("DynamoDB", "dynamodb", NULL, "cn-north-1", NULL, &v, &err), DLD_OK);
    ck_assert_str_eq(v, "https://dynamodb.cn-north-1.amazonaws.com.cn");
    free(v);
    setenv("AWS_ENDPOINT_URL", "http://localhost:4566/", 1);
    ck_assert_int_eq(dld_aws_endpoint_resolve("S3", "s3", NULL, "eu-west-1", NULL, &v, &err), DLD_OK);
    ck_assert_str_eq(v, "http://localhost:4566");
    free(v);
    setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000", 1);
    ck_assert_int_eq(dld_aws_endpoint_resolve("DynamoDB", "dynamodb", NULL, "eu-west-1", NULL, &v, &err), DLD_OK);
    ck_assert_str_eq(v, "http://127.0.0.1:8000");
    free(v);
    ck_assert_int_eq(dld_aws_endpoint_resolve("S3", "s3", "https://minio.local:9000", "eu-west-1", NULL, &v, &err),
                     DLD_OK);
    ck_assert_str_eq(v, "https://minio.local:9000");
    free(v);
    setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
    ck_assert_int_eq(dld_aws_endpoint_resolve("S3", "s3", NULL, "eu-west-1", NULL, &v, &err), DLD_OK);
    ck_assert_str_eq(v, "https://s3.eu-west-1.amazonaws.com");
    free(v);
    ck_assert_int_eq(dld_aws_endpoint_resolve("S3", "s3", "minio:9000", "eu-west-1", NULL, &v, &err), DLD_ERR_CONFIG);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("aws_credentials");
    TCase *tc = tcase_create("chain");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_static_and_environment);
    tcase_add_test(tc, test_nothing_configured);
    tcase_add_test(tc, test_profiles);
    tcase_add_test(tc, test_web_identity);
    tcase_add_test(tc, test_container);
    tcase_add_test(tc, test_imds_and_refresh);
    tcase_add_test(tc, test_region_and_endpoints);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

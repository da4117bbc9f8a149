/* target-s3's S3 operations (s3_ops.c, compiled into this test) against
 * s3rver behind the verifying proxy (servers.js): the create-only write
 * (PutObject with If-None-Match: *, which the proxy emulates because s3rver
 * ignores it on PUT) and GetObject of small objects. What the lake layer
 * makes of a 412 is tested through the target (test_target_s3.c). */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "s3_internal.h"
#include "s3_test_util.h"
#include "test_host.h"

static struct s3t_servers g_srv;
static struct s3_ctx g_s3;
static char g_prefix[64]; /* unique per test: tests never see each other's keys */

static void s_setup(void)
{
    ck_assert_msg(s3t_servers(&g_srv), "s3 test servers are not running");
    free(s3t_proxy(&g_srv, "DELETE", "faults", NULL));
    struct dld_error err;
    dld_error_init(&err);
    struct dld_aws_credentials_options co = {.access_key_id = g_srv.akid, .secret_access_key = g_srv.secret};
    memset(&g_s3, 0, sizeof(g_s3));
    g_s3.host = dld_test_host();
    g_s3.creds = dld_aws_credentials_provider_new(&co, &err);
    ck_assert_msg(g_s3.creds != NULL, "%s", err.message);
    struct dld_aws_client_options o = {.service = "s3", .region = "us-east-1", .endpoint = g_srv.endpoint,
                                       .credentials = g_s3.creds, .sign_flags = DLD_SIGV4_S3,
                                       .retry = {.max_attempts = 3, .base_delay_ms = 10}, .log_name = "s3"};
    g_s3.client = dld_aws_client_new(&o, &err);
    ck_assert_msg(g_s3.client != NULL, "%s", err.message);
    g_s3.bucket = "lake";
    g_s3.prefix = "";
    g_s3.path_style = true;
    g_s3.part_size = 5242880;
    g_s3.concurrency = 1;
    g_s3.max_attempts = 3;
    g_s3.retry_base_delay_ms = 10;
    static int seq;
    snprintf(g_prefix, sizeof g_prefix, "ops-%ld-%ld-%d", (long)getpid(), (long)time(NULL), ++seq);
}

static void s_teardown(void)
{
    free(s3t_proxy(&g_srv, "DELETE", "faults", NULL));
    dld_aws_client_destroy(g_s3.client);
    dld_aws_credentials_provider_destroy(g_s3.creds);
}

static char *s_key(const char *name)
{
    char *k = NULL;
    ck_assert_int_ge(asprintf(&k, "%s/%s", g_prefix, name), 0);
    return k;
}

static int s_put(const char *key, const char *body, struct dld_error *err)
{
    dld_error_init(err);
    return s3_put_object_if_absent(&g_s3, key, body, strlen(body), "application/json", err);
}

/* the object's body through the proxy (NULL when absent) */
static char *s_body(const char *key)
{
    char *data = NULL;
    size_t len = 0;
    struct dld_error err;
    dld_error_init(&err);
    int rc = s3_get_object(&g_s3, key, &data, &len, &err);
    if (rc == DLD_ERR_NOT_FOUND)
        return NULL;
    ck_assert_msg(rc == DLD_OK, "%s", err.message);
    ck_assert_uint_eq(strlen(data), len);
    return data;
}

START_TEST(put_if_absent_first_wins)
{
    char *key = s_key("_manifests/LOAD00000001-0123456789abcdef.json");
    struct dld_error err;
    int64_t rejected = s3t_stat(&g_srv, "rejected"), refused = s3t_stat(&g_srv, "preconditionFailed");
    ck_assert_msg(s_put(key, "{\"first\":1}", &err) == DLD_OK, "%s", err.message);
    ck_assert_int_eq(s_put(key, "{\"second\":2}", &err), DLD_ERR_CONFLICT);
    ck_assert_int_eq(err.retryable, 0);
    ck_assert_int_eq(err.http_status, 412);
    ck_assert_str_eq(err.upstream_code, "PreconditionFailed");
    ck_assert_msg(strstr(err.message, "If-None-Match") && strstr(err.message, key), "%s", err.message);
    char *body = s_body(key);
    ck_assert_str_eq(body, "{\"first\":1}");
    free(body);
    ck_assert_int_eq(s3t_stat(&g_srv, "preconditionFailed") - refused, 1);
    /* If-None-Match is signed with the rest, and aws4 agrees with our signature */
    ck_assert_int_eq(s3t_stat(&g_srv, "rejected"), rejected);
    free(key);
}
END_TEST

struct s_racer {
    const char *key;
    char body[64];
    int rc;
};

static void *s_race(void *arg)
{
    struct s_racer *r = arg;
    struct dld_error err;
    r->rc = s_put(r->key, r->body, &err);
    return NULL;
}

/* racing conditional PUTs of one key: exactly one wins, the object is its body */
START_TEST(put_if_absent_race_has_one_winner)
{
    enum { N = 8 };
    char *key = s_key("race.json");
    struct s_racer r[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        r[i].key = key;
        snprintf(r[i].body, sizeof r[i].body, "{\"writer\":%d}", i);
        ck_assert_int_eq(pthread_create(&t[i], NULL, s_race, &r[i]), 0);
    }
    int winners = 0, winner = -1;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        if (r[i].rc == DLD_OK) {
            winners++;
            winner = i;
        } else {
            ck_assert_int_eq(r[i].rc, DLD_ERR_CONFLICT);
        }
    }
    ck_assert_int_eq(winners, 1);
    char *body = s_body(key);
    ck_assert_str_eq(body, r[winner].body);
    free(body);
    free(key);
}
END_TEST

/* The PUT lands but its answer is lost (the proxy closes the connection):
 * the client retries and the retry finds the object, 412. The caller gets
 * DLD_ERR_CONFLICT for a write that succeeded: the lake layer reads it back
 * (tested through the target). */
START_TEST(put_if_absent_lost_response)
{
    char *key = s_key("lost.json");
    char fault[512];
    snprintf(fault, sizeof fault, "[{\"op\":\"PutObject\",\"action\":\"drop\",\"count\":1,\"match\":\"%s/\"}]",
             g_prefix);
    free(s3t_proxy(&g_srv, "POST", "faults", fault));
    int64_t faults = s3t_stat(&g_srv, "faults"), puts = s3t_stat(&g_srv, "byOp.PutObject");
    struct dld_error err;
    ck_assert_int_eq(s_put(key, "{\"mine\":true}", &err), DLD_ERR_CONFLICT);
    ck_assert_int_eq(err.http_status, 412);
    ck_assert_int_eq(s3t_stat(&g_srv, "faults") - faults, 1);
    ck_assert_int_eq(s3t_stat(&g_srv, "byOp.PutObject") - puts, 2);
    char *body = s_body(key);
    ck_assert_str_eq(body, "{\"mine\":true}");
    free(body);
    free(key);
}
END_TEST

/* 409 ConditionalRequestConflict (another conditional write of the key in
 * flight): retried; when it persists, a retryable error */
START_TEST(put_if_absent_409_is_retried)
{
    char *key = s_key("conflict-once.json");
    char fault[512];
    snprintf(fault, sizeof fault,
             "[{\"op\":\"PutObject\",\"action\":\"status\",\"status\":409,\"code\":\"ConditionalRequestConflict\","
             "\"count\":1,\"match\":\"%s/\"}]",
             g_prefix);
    free(s3t_proxy(&g_srv, "POST", "faults", fault));
    struct dld_error err;
    ck_assert_msg(s_put(key, "{}", &err) == DLD_OK, "%s", err.message);
    ck_assert_int_eq(s3t_stat(&g_srv, "faultsPending"), 0);
    free(key);

    key = s_key("conflict-always.json");
    snprintf(fault, sizeof fault,
             "[{\"op\":\"PutObject\",\"action\":\"status\",\"status\":409,\"code\":\"ConditionalRequestConflict\","
             "\"count\":100,\"match\":\"%s/\"}]",
             g_prefix);
    free(s3t_proxy(&g_srv, "POST", "faults", fault));
    int64_t faults = s3t_stat(&g_srv, "faults");
    ck_assert_int_eq(s_put(key, "{}", &err), DLD_ERR_RETRY);
    ck_assert_int_eq(err.retryable, 1);
    ck_assert_int_eq(err.http_status, 409);
    ck_assert_str_eq(err.upstream_code, "ConditionalRequestConflict");
    ck_assert_msg(strstr(err.message, "gave up after 3 attempts"), "%s", err.message);
    ck_assert_int_eq(s3t_stat(&g_srv, "faults") - faults, 3);
    free(s3t_proxy(&g_srv, "DELETE", "faults", NULL));
    ck_assert_ptr_null(s_body(key));
    free(key);
}
END_TEST

START_TEST(get_object)
{
    struct dld_error err;
    char *data = (char *)1;
    size_t len = 7;
    char *key = s_key("missing.json");
    dld_error_init(&err);
    ck_assert_int_eq(s3_get_object(&g_s3, key, &data, &len, &err), DLD_ERR_NOT_FOUND);
    ck_assert_ptr_null(data);
    ck_assert_uint_eq(len, 0);
    ck_assert_msg(strstr(err.message, "GetObject") && strstr(err.message, key), "%s", err.message);
    free(key);

    /* an empty object: "" */
    key = s_key("empty");
    ck_assert_msg(s_put(key, "", &err) == DLD_OK, "%s", err.message);
    dld_error_init(&err);
    ck_assert_msg(s3_get_object(&g_s3, key, &data, &len, &err) == DLD_OK, "%s", err.message);
    ck_assert_uint_eq(len, 0);
    ck_assert_str_eq(data, "");
    free(data);
    free(key);

    /* bytes as written, NUL-terminated after them */
    key = s_key("binary");
    const char bin[] = {'a', 0, 'b', '\n', (char)0xff};
    dld_error_init(&err);
    ck_assert_msg(s3_put_object_if_absent(&g_s3, key, bin, sizeof bin, NULL, &err) == DLD_OK, "%s", err.message);
    ck_assert_msg(s3_get_object(&g_s3, key, &data, &len, &err) == DLD_OK, "%s", err.message);
    ck_assert_uint_eq(len, sizeof bin);
    ck_assert_int_eq(memcmp(data, bin, sizeof bin), 0);
    ck_assert_int_eq(data[len], 0);
    free(data);
    free(key);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("s3_ops");
    TCase *tc = tcase_create("s3rver");
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, put_if_absent_first_wins);
    tcase_add_test(tc, put_if_absent_race_has_one_winner);
    tcase_add_test(tc, put_if_absent_lost_response);
    tcase_add_test(tc, put_if_absent_409_is_retried);
    tcase_add_test(tc, get_object);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

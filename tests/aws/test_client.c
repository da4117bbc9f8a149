/* The AWS client's retry policy, error mapping and request building,
 * driven through the transport seam (struct dld_aws_http) with scripted
 * answers: no network, no sleeping (the sleep seam records the delays). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <deltaload/aws.h>
#include <deltaload/sdk.h>

struct answer {
    int rc;               /* transport result; DLD_OK = status below */
    const char *upstream; /* transport error kind */
    int status;
    const char *body;
    const char *date;     /* Date header */
    const char *request_id;
};

struct fake {
    const struct answer *script;
    int nscript;
    int calls;
    char urls[8][512];
    char amz_date[8][32];
    char auth[8][512];
    char content_sha[8][80];
    char host[8][128];
};

static struct fake g_fake;
static int64_t g_delays[16];
static int g_nsleep;
static int64_t g_now_ms = 1440938160000; /* 2015-08-30T12:36:00Z */

static void s_sleep(int64_t ms)
{
    if (g_nsleep < 16)
        g_delays[g_nsleep] = ms;
    g_nsleep++;
}
static int64_t s_now(void) { return g_now_ms; }

static void s_copy_header(const struct dld_aws_http_request *req, const char *name, char *dst, size_t cap)
{
    dst[0] = '\0';
    for (size_t i = 0; i < req->nheaders; i++)
        if (!strcasecmp(req->headers[i].name, name))
            snprintf(dst, cap, "%s", req->headers[i].value);
}

static int s_fake_send(void *impl, const struct dld_aws_http_request *req, struct dld_aws_http_response *resp,
                       struct dld_error *err)
{
    struct fake *f = impl;
    int i = f->calls++;
    ck_assert_int_lt(i, f->nscript);
    if (i < 8) {
        snprintf(f->urls[i], sizeof(f->urls[i]), "%s", req->url);
        s_copy_header(req, "x-amz-date", f->amz_date[i], sizeof(f->amz_date[i]));
        s_copy_header(req, "authorization", f->auth[i], sizeof(f->auth[i]));
        s_copy_header(req, "x-amz-content-sha256", f->content_sha[i], sizeof(f->content_sha[i]));
        s_copy_header(req, "host", f->host[i], sizeof(f->host[i]));
    }
    const struct answer *a = &f->script[i];
    memset(resp, 0, sizeof(*resp));
    if (a->rc != DLD_OK) {
        dld_error_set(err, a->rc, "fake transport: %s", a->upstream);
        dld_error_upstream(err, 0, a->upstream, NULL);
        return a->rc;
    }
    resp->status = a->status;
    resp->body = strdup(a->body ? a->body : "");
    resp->body_len = strlen(resp->body);
    resp->headers = calloc(2, sizeof(*resp->headers));
    if (a->date)
        resp->headers[resp->nheaders++] = (struct dld_aws_header){strdup("date"), strdup(a->date)};
    if (a->request_id)
        resp->headers[resp->nheaders++] = (struct dld_aws_header){strdup("x-amz-request-id"), strdup(a->request_id)};
    return DLD_OK;
}

static const struct dld_aws_http_vtable s_fake_vtable = {.send = s_fake_send};
static struct dld_aws_http g_http = {.vtable = &s_fake_vtable, .impl = &g_fake};
static struct dld_aws_credentials_provider *g_creds;
static struct dld_aws_client *g_client;

static void s_setup_client(const struct answer *script, int n, int max_attempts)
{
    memset(&g_fake, 0, sizeof(g_fake));
    g_fake.script = script;
    g_fake.nscript = n;
    g_nsleep = 0;
    g_now_ms = 1440938160000;
    struct dld_error err;
    dld_error_init(&err);
    struct dld_aws_credentials_options co = {.access_key_id = "AKIDTEST", .secret_access_key = "SECRETKEY123",
                                             .http = &g_http};
    g_creds = dld_aws_credentials_provider_new(&co, &err);
    ck_assert_ptr_nonnull(g_creds);
    struct dld_aws_client_options o = {
        .service = "s3", .region = "eu-west-1", .endpoint = "http://127.0.0.1:9000/base/",
        .credentials = g_creds, .http = &g_http, .sign_flags = DLD_SIGV4_S3,
        .retry = {.max_attempts = max_attempts, .base_delay_ms = 100, .max_delay_ms = 1000},
        .sleep_ms = s_sleep, .now_ms = s_now,
    };
    g_client = dld_aws_client_new(&o, &err);
    ck_assert_msg(g_client != NULL, "%s", err.message);
}

static void s_teardown_client(void)
{
    dld_aws_client_destroy(g_client);
    dld_aws_credentials_provider_destroy(g_creds);
}

static int s_call(bool idempotent, struct dld_error *err)
{
    struct dld_aws_http_response resp;
    struct dld_aws_call call = {.method = "PUT", .host_prefix = NULL, .path = "/bucket/a%20b.csv",
                                .query = "partNumber=1&uploadId=x", .body = "abc", .body_len = 3,
                                .idempotent = idempotent};
    dld_error_init(err);
    int rc = dld_aws_client_call(g_client, &call, &resp, err);
    dld_aws_http_response_clean_up(&resp);
    return rc;
}

START_TEST(test_request_shape)
{
    static const struct answer script[] = {{.status = 200}};
    s_setup_client(script, 1, 3);
    struct dld_error err;
    ck_assert_int_eq(s_call(true, &err), DLD_OK);
    ck_assert_str_eq(g_fake.urls[0], "http://127.0.0.1:9000/base/bucket/a%20b.csv?partNumber=1&uploadId=x");
    ck_assert_str_eq(g_fake.host[0], "127.0.0.1:9000");
    ck_assert_str_eq(g_fake.amz_date[0], "20150830T123600Z");
    /* sha256("abc") */
    ck_assert_str_eq(g_fake.content_sha[0], "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ck_assert_ptr_nonnull(strstr(g_fake.auth[0], "Credential=AKIDTEST/20150830/eu-west-1/s3/aws4_request"));
    ck_assert_ptr_nonnull(strstr(g_fake.auth[0], "SignedHeaders=host;x-amz-content-sha256;x-amz-date"));
    ck_assert_ptr_null(strstr(g_fake.auth[0], "SECRETKEY123"));
    ck_assert_int_eq(dld_aws_client_retries(g_client), 0);
    s_teardown_client();
}
END_TEST

START_TEST(test_retry_then_success)
{
    static const struct answer script[] = {
        {.status = 503, .body = "<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"},
        {.status = 500, .body = "<Error><Code>InternalError</Code></Error>"},
        {.rc = DLD_ERR_RETRY, .upstream = "ConnectionReset"},
        {.status = 200},
    };
    s_setup_client(script, 4, 5);
    struct dld_error err;
    ck_assert_int_eq(s_call(true, &err), DLD_OK);
    ck_assert_int_eq(g_fake.calls, 4);
    ck_assert_int_eq(dld_aws_client_retries(g_client), 3);
    ck_assert_int_eq(g_nsleep, 3);
    /* full jitter: each delay within [0, min(max, base * 2^(n-1))] */
    ck_assert_int_le(g_delays[0], 100);
    ck_assert_int_le(g_delays[1], 200);
    ck_assert_int_le(g_delays[2], 400);
    for (int i = 0; i < 3; i++)
        ck_assert_int_ge(g_delays[i], 0);
    s_teardown_client();
}
END_TEST

START_TEST(test_give_up)
{
    static const struct answer script[] = {
        {.status = 500, .body = "<Error><Code>InternalError</Code><RequestId>REQ1</RequestId></Error>"},
        {.status = 500, .body = "<Error><Code>InternalError</Code><RequestId>REQ2</RequestId></Error>"},
        {.status = 503, .body = "<Error><Code>ServiceUnavailable</Code><Message>busy</Message><RequestId>REQ3</RequestId></Error>"},
    };
    s_setup_client(script, 3, 3);
    struct dld_error err;
    ck_assert_int_eq(s_call(true, &err), DLD_ERR_RETRY);
    ck_assert_int_eq(g_fake.calls, 3);
    ck_assert_int_eq(err.retryable, 1);
    ck_assert_int_eq(err.http_status, 503);
    ck_assert_str_eq(err.upstream_code, "ServiceUnavailable");
    ck_assert_str_eq(err.request_id, "REQ3");
    ck_assert_ptr_nonnull(strstr(err.message, "gave up after 3 attempts"));
    ck_assert_ptr_nonnull(strstr(err.message, "busy"));
    s_teardown_client();
}
END_TEST

START_TEST(test_backoff_is_capped)
{
    static struct answer script[12];
    for (int i = 0; i < 12; i++)
        script[i] = (struct answer){.status = 503};
    s_setup_client(script, 12, 12);
    struct dld_error err;
    ck_assert_int_eq(s_call(true, &err), DLD_ERR_RETRY);
    ck_assert_int_eq(g_nsleep, 11);
    int64_t maxseen = 0;
    for (int i = 0; i < 11; i++) {
        ck_assert_int_le(g_delays[i], 1000);
        if (g_delays[i] > maxseen)
            maxseen = g_delays[i];
    }
    /* 11 draws from up to [0,1000]: all below 100 would mean no growth */
    ck_assert_int_gt(maxseen, 100);
    s_teardown_client();
}
END_TEST

START_TEST(test_throttling_codes)
{
    static const struct answer script[] = {
        {.status = 400, .body = "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException\",\"message\":\"slow\"}"},
        {.status = 400, .body = "{\"__type\":\"ThrottlingException\",\"message\":\"Rate exceeded\"}"},
        {.status = 429},
        {.status = 503, .body = "<Error><Code>SlowDown</Code></Error>"},
    };
    s_setup_client(script, 4, 4);
    struct dld_error err;
    ck_assert_int_eq(s_call(true, &err), DLD_ERR_THROTTLED);
    ck_assert_int_eq(g_fake.calls, 4);
    ck_assert_str_eq(err.upstream_code, "SlowDown");
    ck_assert_int_eq(err.retryable, 1);
    s_teardown_client();
}
END_TEST

START_TEST(test_non_idempotent_not_retried_after_timeout)
{
    static const struct answer script[] = {{.rc = DLD_ERR_RETRY, .upstream = "Timeout"}, {.status = 200}};
    s_setup_client(script, 2, 5);
    struct dld_error err;
    ck_assert_int_eq(s_call(false, &err), DLD_ERR_RETRY);
    ck_assert_int_eq(g_fake.calls, 1);
    ck_assert_str_eq(err.upstream_code, "Timeout");
    s_teardown_client();

    /* but a connection that never opened sent nothing: safe to retry */
    static const struct answer script2[] = {{.rc = DLD_ERR_RETRY, .upstream = "ConnectFailed"}, {.status = 200}};
    s_setup_client(script2, 2, 5);
    ck_assert_int_eq(s_call(false, &err), DLD_OK);
    ck_assert_int_eq(g_fake.calls, 2);
    s_teardown_client();
}
END_TEST

START_TEST(test_clock_skew_corrected)
{
    /* the server is 20 minutes ahead and says so */
    static const struct answer script[] = {
        {.status = 403, .date = "Sun, 30 Aug 2015 12:56:00 GMT",
         .body = "<Error><Code>RequestTimeTooSkewed</Code><Message>The difference between the request time and the "
                 "current time is too large.</Message></Error>"},
        {.status = 200},
        {.status = 200},
    };
    s_setup_client(script, 3, 5);
    struct dld_error err;
    ck_assert_int_eq(s_call(true, &err), DLD_OK);
    ck_assert_int_eq(g_fake.calls, 2);
    ck_assert_str_eq(g_fake.amz_date[0], "20150830T123600Z");
    ck_assert_str_eq(g_fake.amz_date[1], "20150830T125600Z");
    ck_assert_int_eq(dld_aws_client_skew_ms(g_client), 20 * 60 * 1000);
    ck_assert_int_eq(g_delays[0], 0); /* corrected at once, no backoff */
    /* later calls keep the correction */
    ck_assert_int_eq(s_call(true, &err), DLD_OK);
    ck_assert_str_eq(g_fake.amz_date[2], "20150830T125600Z");
    s_teardown_client();
}
END_TEST

START_TEST(test_errors_not_retried)
{
    static const struct answer script[] = {
        {.status = 403, .request_id = "RID-9",
         .body = "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not "
                 "match</Message></Error>"},
        {.status = 404, .body = "<Error><Code>NoSuchKey</Code><Message>nope</Message></Error>"},
        {.status = 412, .body = "<Error><Code>PreconditionFailed</Code></Error>"},
        {.status = 400, .body = "{\"__type\":\"com.amazon.coral.validate#ValidationException\",\"message\":\"bad\"}"},
        {.status = 501, .body = "<Error><Code>NotImplemented</Code></Error>"},
    };
    s_setup_client(script, 5, 5);
    struct dld_error err;
    ck_assert_int_eq(s_call(true, &err), DLD_ERR_AUTH);
    ck_assert_str_eq(err.upstream_code, "SignatureDoesNotMatch");
    ck_assert_str_eq(err.request_id, "RID-9");
    ck_assert_int_eq(err.http_status, 403);
    ck_assert_int_eq(err.retryable, 0);
    ck_assert_int_eq(s_call(true, &err), DLD_ERR_NOT_FOUND);
    ck_assert_int_eq(s_call(true, &err), DLD_ERR_CONFLICT);
    ck_assert_int_eq(s_call(true, &err), DLD_ERR_CONFIG);
    ck_assert_str_eq(err.upstream_code, "ValidationException");
    ck_assert_int_eq(s_call(true, &err), DLD_ERR_UNSUPPORTED);
    ck_assert_int_eq(g_fake.calls, 5);
    ck_assert_int_eq(dld_aws_client_retries(g_client), 0);
    s_teardown_client();
}
END_TEST

START_TEST(test_bad_endpoint)
{
    struct dld_error err;
    dld_error_init(&err);
    struct dld_aws_client_options o = {.service = "s3", .region = "us-east-1", .endpoint = "localhost:9000",
                                       .http = &g_http};
    ck_assert_ptr_null(dld_aws_client_new(&o, &err));
    ck_assert_int_eq(err.code, DLD_ERR_CONFIG);
    o.endpoint = "ftp://x";
    ck_assert_ptr_null(dld_aws_client_new(&o, &err));
    ck_assert_int_eq(err.code, DLD_ERR_CONFIG);
}
END_TEST

START_TEST(test_xml_helpers)
{
    const char *doc = "<?xml version=\"1.0\"?><ListBucketResult><IsTruncated>true</IsTruncated>"
                      "<Contents><Key>a&amp;b&#x20;&lt;c&gt;</Key><Size>3</Size></Contents>"
                      "<Contents><Key>d</Key></Contents><Empty/></ListBucketResult>";
    size_t len = strlen(doc);
    char *t = dld_aws_xml_text(doc, len, "IsTruncated");
    ck_assert_str_eq(t, "true");
    free(t);
    size_t pos = 0;
    const char *inner;
    size_t n;
    int count = 0;
    while (dld_aws_xml_next(doc, len, "Contents", &pos, &inner, &n)) {
        char *k = dld_aws_xml_text(inner, n, "Key");
        ck_assert_str_eq(k, count == 0 ? "a&b <c>" : "d");
        free(k);
        count++;
    }
    ck_assert_int_eq(count, 2);
    ck_assert_ptr_null(dld_aws_xml_text(doc, len, "Missing"));
    t = dld_aws_xml_text(doc, len, "Empty");
    ck_assert_str_eq(t, "");
    free(t);
    char *e = dld_aws_xml_escape("a<b>&'\"");
    ck_assert_str_eq(e, "a&lt;b&gt;&amp;&apos;&quot;");
    free(e);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("aws_client");
    TCase *tc = tcase_create("client");
    tcase_add_test(tc, test_request_shape);
    tcase_add_test(tc, test_retry_then_success);
    tcase_add_test(tc, test_give_up);
    tcase_add_test(tc, test_backoff_is_capped);
    tcase_add_test(tc, test_throttling_codes);
    tcase_add_test(tc, test_non_idempotent_not_retried_after_timeout);
    tcase_add_test(tc, test_clock_skew_corrected);
    tcase_add_test(tc, test_errors_not_retried);
    tcase_add_test(tc, test_bad_endpoint);
    tcase_add_test(tc, test_xml_helpers);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

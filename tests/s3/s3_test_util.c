/* Helpers for the target-s3 suites (see s3_test_util.h). */
#include "s3_test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <deltaload/format.h>

static char *s_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    b[got] = '\0';
    fclose(f);
    return b;
}

bool s3t_servers(struct s3t_servers *out)
{
    const char *state = getenv("DLD_S3_STATE");
    char path[600];
    snprintf(path, sizeof(path), "%s/servers.json", state ? state : "/tmp/dld-s3-dev");
    char *text = s_slurp(path);
    if (!text) {
        fprintf(stderr, "s3 test servers not running (no %s): run tests/s3/start.sh first\n", path);
        return false;
    }
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!j)
        return false;
    snprintf(out->endpoint, sizeof(out->endpoint), "%s", cJSON_GetObjectItem(j, "endpoint")->valuestring);
    snprintf(out->data, sizeof(out->data), "%s", cJSON_GetObjectItem(j, "data")->valuestring);
    snprintf(out->akid, sizeof(out->akid), "%s", cJSON_GetObjectItem(j, "akid")->valuestring);
    snprintf(out->secret, sizeof(out->secret), "%s", cJSON_GetObjectItem(j, "secret")->valuestring);
    const char *creds = cJSON_GetStringValue(cJSON_GetObjectItem(j, "creds"));
    snprintf(out->creds, sizeof(out->creds), "%s", creds ? creds : "");
    cJSON_Delete(j);
    return true;
}

struct s_buf {
    char *p;
    size_t n;
};

static size_t s_write(char *d, size_t size, size_t n, void *ud)
{
    struct s_buf *b = ud;
    b->p = realloc(b->p, b->n + size * n + 1);
    memcpy(b->p + b->n, d, size * n);
    b->n += size * n;
    b->p[b->n] = '\0';
    return size * n;
}

char *s3t_proxy(const struct s3t_servers *s, const char *method, const char *what, const char *json)
{
    CURL *h = curl_easy_init();
    char url[256];
    snprintf(url, sizeof(url), "%s/__proxy/%s", s->endpoint, what);
    struct s_buf b = {calloc(1, 1), 0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (json)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK) {
        fprintf(stderr, "proxy control %s %s failed: %s\n", method, what, curl_easy_strerror(rc));
        free(b.p);
        return NULL;
    }
    return b.p;
}

int64_t s3t_stat(const struct s3t_servers *s, const char *name)
{
    char *text = s3t_proxy(s, "GET", "stats", NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!j)
        return -1;
    int64_t v = 0;
    if (!strncmp(name, "byOp.", 5)) {
        cJSON *x = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "byOp"), name + 5);
        v = x ? (int64_t)x->valuedouble : 0;
    } else if (!strcmp(name, "openUploads")) {
        v = cJSON_GetArraySize(cJSON_GetObjectItem(j, "openUploads"));
    } else {
        cJSON *x = cJSON_GetObjectItem(j, name);
        v = x ? (int64_t)x->valuedouble : -1;
    }
    cJSON_Delete(j);
    return v;
}

static struct dld_aws_client *s_client(const struct s3t_servers *s, struct dld_aws_credentials_provider **cp)
{
    struct dld_error err = {.struct_size = sizeof(err)};
    struct dld_aws_credentials_options co = {.access_key_id = s->akid, .secret_access_key = s->secret};
    *cp = dld_aws_credentials_provider_new(&co, &err);
    struct dld_aws_client_options o = {.service = "s3", .region = "us-east-1", .endpoint = s->endpoint,
                                       .credentials = *cp, .sign_flags = DLD_SIGV4_S3,
                                       .retry = {.max_attempts = 1}};
    return dld_aws_client_new(&o, &err);
}

int s3t_get(const struct s3t_servers *s, const char *bucket, const char *key, char **body, size_t *len)
{
    struct dld_aws_credentials_provider *cp;
    struct dld_aws_client *c = s_client(s, &cp);
    char *enc = dld_aws_uri_encode(key, strlen(key), true);
    char path[2048];
    snprintf(path, sizeof(path), "/%s/%s", bucket, enc);
    free(enc);
    struct dld_aws_call call = {.method = body ? "GET" : "HEAD", .path = path, .idempotent = true};
    struct dld_aws_http_response resp;
    struct dld_error err = {.struct_size = sizeof(err)};
    dld_aws_client_call(c, &call, &resp, &err);
    int status = resp.status;
    if (body) {
        *body = resp.body;
        *len = resp.body_len;
        resp.body = NULL;
    }
    dld_aws_http_response_clean_up(&resp);
    dld_aws_client_destroy(c);
    dld_aws_credentials_provider_destroy(cp);
    return status;
}

char *s3t_list(const struct s3t_servers *s, const char *bucket, const char *prefix)
{
    struct dld_aws_credentials_provider *cp;
    struct dld_aws_client *c = s_client(s, &cp);
    char path[256], *q = NULL;
    snprintf(path, sizeof(path), "/%s", bucket);
    char *enc = dld_aws_uri_encode(prefix, strlen(prefix), false);
    if (asprintf(&q, "list-type=2&max-keys=1000&prefix=%s", enc) < 0)
        q = NULL;
    free(enc);
    struct dld_aws_call call = {.method = "GET", .path = path, .query = q, .idempotent = true};
    struct dld_aws_http_response resp;
    struct dld_error err = {.struct_size = sizeof(err)};
    char *out = calloc(1, 1);
    size_t outlen = 0;
    if (dld_aws_client_call(c, &call, &resp, &err) == DLD_OK) {
        size_t pos = 0, n;
        const char *inner;
        while (dld_aws_xml_next(resp.body, resp.body_len, "Contents", &pos, &inner, &n)) {
            char *k = dld_aws_xml_text(inner, n, "Key");
            out = realloc(out, outlen + strlen(k) + 2);
            outlen += (size_t)sprintf(out + outlen, "%s\n", k);
            free(k);
        }
    } else {
        fprintf(stderr, "list failed: %s\n", err.message);
    }
    free(q);
    dld_aws_http_response_clean_up(&resp);
    dld_aws_client_destroy(c);
    dld_aws_credentials_provider_destroy(cp);
    return out;
}

void s3t_batch(int64_t first, int64_t n, struct ArrowSchema *schema, struct ArrowArray *array)
{
    struct dld_column_spec cols[] = {
        {.name = "id", .type = DLD_T_INT64},
        {.name = "name", .type = DLD_T_STRING, .nullable = true},
        {.name = "amount", .type = DLD_T_FLOAT64, .nullable = true},
    };
    struct dld_batch_builder *b = dld_batch_builder_new(cols, 3);
    char name[96];
    for (int64_t i = first; i < first + n; i++) {
        dld_batch_append_int(b, 0, i);
        int len = snprintf(name, sizeof(name), "customer-%lld-%s", (long long)i,
                           "padding padding padding padding padding padding");
        if (i % 17 == 0)
            dld_batch_append_null(b, 1);
        else
            dld_batch_append_bytes(b, 1, name, (size_t)len);
        dld_batch_append_double(b, 2, (double)i * 1.25);
        dld_batch_end_row(b);
    }
    dld_batch_finish(b, schema, array);
    dld_batch_builder_destroy(b);
}

struct s_mem {
    char *p;
    size_t n, cap;
};

static int s_mem_write(void *ctx, const void *data, size_t len, struct dld_error *err)
{
    (void)err;
    struct s_mem *m = ctx;
    if (m->n + len > m->cap) {
        m->cap = (m->n + len) * 2;
        m->p = realloc(m->p, m->cap);
    }
    memcpy(m->p + m->n, data, len);
    m->n += len;
    return 0;
}

char *s3t_expected_csv(int64_t total, int64_t batch, size_t *len)
{
    struct s_mem m = {0};
    struct dld_sink sink = {.ctx = &m, .write = s_mem_write};
    struct dld_error err = {.struct_size = sizeof(err)};
    struct ArrowSchema schema;
    struct ArrowArray array;
    struct dld_format_writer *w = NULL;
    for (int64_t first = 0; first < total; first += batch) {
        s3t_batch(first, first + batch <= total ? batch : total - first, &schema, &array);
        if (!w)
            w = dld_format_writer_new("csv", NULL, &schema, &sink, NULL, &err);
        dld_format_writer_write(w, &array, &err);
        dld_arrow_release(NULL, &array);
        if (first + batch < total)
            schema.release(&schema);
    }
    dld_format_writer_finish(w, &err);
    dld_format_writer_destroy(w);
    schema.release(&schema);
    *len = m.n;
    return m.p;
}

/* Credential sources that ask someone else: credential_process, STS
 * AssumeRoleWithWebIdentity, the container credentials endpoint (ECS, EKS
 * Pod Identity) and EC2 instance metadata (IMDSv2 only: v1's unauthenticated
 * GET is what SSRF attacks use). No secret is ever put in an error message. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "aws_internal.h"

static const char *s_env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static char *s_read_file(const char *path, size_t max, struct dld_error *err, const char *what)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        dld_error_set(err, DLD_ERR_AUTH, "%s: cannot read %s: %s", what, path, strerror(errno));
        return NULL;
    }
    struct dld_aws_buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len <= max)
        dld_aws_buf_append(&b, chunk, n);
    fclose(f);
    if (b.len > max) {
        dld_aws_buf_clean_up(&b);
        dld_error_set(err, DLD_ERR_AUTH, "%s: %s is larger than %zu bytes", what, path, max);
        return NULL;
    }
    char *s = b.data ? dld_aws_strtrim(b.data, b.len) : strdup("");
    if (b.data)
        memset(b.data, 0, b.len);
    dld_aws_buf_clean_up(&b);
    return s;
}

/* ---- credential_process ------------------------------------------------------ */
int dld_aws_credentials_process(const char *command, struct dld_aws_credentials *out, struct dld_error *err)
{
    FILE *f = popen(command, "r");
    if (!f)
        return dld_error_set(err, DLD_ERR_AUTH, "credential_process: cannot start: %s", strerror(errno));
    struct dld_aws_buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (b.len < 1 << 20)
            dld_aws_buf_append(&b, chunk, n);
    int status = pclose(f);
    int rc;
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        /* its output may hold a secret: the message names the exit status only */
        rc = dld_error_set(err, DLD_ERR_AUTH, "credential_process exited with status %d",
                           WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    } else if (!b.data) {
        rc = dld_error_set(err, DLD_ERR_AUTH, "credential_process printed nothing");
    } else {
        rc = dld_aws_credentials_from_json(b.data, b.len, "credential_process", out, err);
    }
    if (b.data)
        memset(b.data, 0, b.len);
    dld_aws_buf_clean_up(&b);
    return rc;
}

/* ---- small HTTP helper with a couple of quick retries -------------------------- */
static int s_http(const struct dld_aws_remote_ctx *ctx, const char *method, const char *url,
                  const struct dld_aws_header *hs, size_t nh, const char *body, struct dld_aws_http_response *resp,
                  struct dld_error *err)
{
    struct dld_aws_http_request req = {.method = method, .url = url, .headers = hs, .nheaders = nh, .body = body,
                                       .body_len = body ? strlen(body) : 0};
    int rc = DLD_ERR_RETRY;
    for (int attempt = 0; attempt < 3; attempt++) {
        dld_aws_http_response_clean_up(resp);
        rc = dld_aws_http_send(ctx->http, &req, resp, err);
        if (rc == DLD_OK && resp->status >= 500) {
            rc = dld_error_set(err, DLD_ERR_RETRY, "%s %s: HTTP %d", method, url, resp->status);
            dld_error_upstream(err, resp->status, NULL, NULL);
        }
        if (rc != DLD_ERR_RETRY || !strcmp(err->upstream_code, "ConnectFailed"))
            break;
        dld_aws_real_sleep_ms(100 << attempt);
    }
    return rc;
}

/* ---- web identity (STS AssumeRoleWithWebIdentity; the call is not signed) ----- */
int dld_aws_credentials_web_identity(const struct dld_aws_remote_ctx *ctx, const char *token_file,
                                     const char *role_arn, const char *session_name, struct dld_aws_credentials *out,
                                     struct dld_error *err)
{
    char *token = s_read_file(token_file, 64 * 1024, err, "web identity");
    if (!token)
        return DLD_ERR_AUTH;
    char *region = NULL, *endpoint = NULL;
    struct dld_error ignored = {.struct_size = sizeof(ignored)};
    dld_aws_region_resolve(ctx->region, ctx->profile, &region, &ignored);
    int rc = dld_aws_endpoint_resolve("STS", "sts", NULL, region ? region : "us-east-1", ctx->profile, &endpoint, err);
    struct dld_aws_buf body = {0}, url = {0};
    struct dld_aws_http_response resp = {0};
    if (rc != DLD_OK)
        goto done;
    char default_session[64];
    snprintf(default_session, sizeof(default_session), "deltaload-%lld", (long long)(ctx->now_ms() / 1000));
    const char *sn = session_name && *session_name ? session_name : default_session;
    dld_aws_buf_puts(&body, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=");
    dld_aws_buf_encode(&body, role_arn, strlen(role_arn), false);
    dld_aws_buf_puts(&body, "&RoleSessionName=");
    dld_aws_buf_encode(&body, sn, strlen(sn), false);
    dld_aws_buf_puts(&body, "&WebIdentityToken=");
    dld_aws_buf_encode(&body, token, strlen(token), false);
    dld_aws_buf_printf(&url, "%s/", endpoint);
    struct dld_aws_header hs[] = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
                                  {"Accept", "application/xml"}};
    if (body.failed || url.failed) {
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        goto done;
    }
    rc = s_http(ctx, "POST", url.data, hs, 2, body.data, &resp, err);
    if (rc != DLD_OK) {
        dld_error_prefix(err, "web identity (STS %s)", endpoint);
        goto done;
    }
    if (resp.status != 200) {
        rc = dld_aws_error_from_response(&resp, "web identity: STS AssumeRoleWithWebIdentity", err);
        if (rc != DLD_ERR_RETRY && rc != DLD_ERR_THROTTLED)
            rc = DLD_ERR_AUTH;
        goto done;
    }
    size_t pos = 0;
    const char *cred;
    size_t cred_len;
    if (!dld_aws_xml_next(resp.body, resp.body_len, "Credentials", &pos, &cred, &cred_len)) {
        rc = dld_error_set(err, DLD_ERR_AUTH, "web identity: STS answer has no Credentials");
        goto done;
    }
    out->access_key_id = dld_aws_xml_text(cred, cred_len, "AccessKeyId");
    out->secret_access_key = dld_aws_xml_text(cred, cred_len, "SecretAccessKey");
    out->session_token = dld_aws_xml_text(cred, cred_len, "SessionToken");
    char *exp = dld_aws_xml_text(cred, cred_len, "Expiration");
    out->expires_ms = exp ? dld_aws_parse_iso8601(exp) : 0;
    free(exp);
    if (!out->access_key_id || !out->secret_access_key || out->expires_ms < 0) {
        dld_aws_credentials_clean_up(out);
        rc = dld_error_set(err, DLD_ERR_AUTH, "web identity: STS answer is missing AccessKeyId, SecretAccessKey or "
                                              "a valid Expiration");
    }
done:
    if (body.data)
        memset(body.data, 0, body.len);
    dld_aws_buf_clean_up(&body);
    dld_aws_buf_clean_up(&url);
    dld_aws_http_response_clean_up(&resp);
    memset(token, 0, strlen(token));
    free(token);
    free(region);
    free(endpoint);
    return rc;
}

/* ---- container endpoint ---------------------------------------------------------- */
/* Plain http is only allowed to the loopback and the ECS/EKS link-local
 * addresses, as the AWS SDKs require: the token must not travel further. */
static bool s_allowed_http_host(const char *url)
{
    const char *h = url + 7;
    size_t n = strcspn(h, "/");
    char host[256];
    if (n >= sizeof(host))
        return false;
    memcpy(host, h, n);
    host[n] = '\0';
    char *colon = host[0] == '[' ? strchr(host, ']') : strrchr(host, ':');
    if (host[0] == '[' && colon) {
        memmove(host, host + 1, (size_t)(colon - host - 1));
        host[colon - host - 1] = '\0';
    } else if (colon) {
        *colon = '\0';
    }
    if (!strcmp(host, "localhost") || !strcmp(host, "169.254.170.2") || !strcmp(host, "169.254.170.23") ||
        !strcmp(host, "fd00:ec2::23"))
        return true;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return false;
}

int dld_aws_credentials_container(const struct dld_aws_remote_ctx *ctx, struct dld_aws_credentials *out,
                                  struct dld_error *err)
{
    const char *rel = s_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = s_env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (!rel && !full)
        return DLD_ERR_NOT_FOUND;
    char *url = NULL;
    if (rel) {
        const char *base = ctx->container_host ? ctx->container_host : "http://169.254.170.2";
        if (asprintf(&url, "%s%s", base, rel) < 0)
            return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    } else {
        if (strncmp(full, "https://", 8) && !(strncmp(full, "http://", 7) == 0 && s_allowed_http_host(full)))
            return dld_error_set(err, DLD_ERR_CONFIG, "AWS_CONTAINER_CREDENTIALS_FULL_URI '%s' must be https or an "
                                                      "http URL on the loopback or the ECS/EKS address", full);
        url = strdup(full);
    }
    char *auth = NULL;
    const char *auth_file = s_env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    if (auth_file) {
        auth = s_read_file(auth_file, 16 * 1024, err, "container credentials");
        if (!auth) {
            free(url);
            return DLD_ERR_AUTH;
        }
    } else if (s_env("AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
        auth = strdup(s_env("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
    }
    struct dld_aws_header hs[2] = {{"Accept", "application/json"}, {"Authorization", auth}};
    struct dld_aws_http_response resp = {0};
    int rc = s_http(ctx, "GET", url, hs, auth ? 2 : 1, NULL, &resp, err);
    if (rc != DLD_OK) {
        dld_error_prefix(err, "container credentials");
    } else if (resp.status != 200) {
        rc = dld_error_set(err, resp.status >= 500 ? DLD_ERR_RETRY : DLD_ERR_AUTH,
                           "container credentials: %s answered HTTP %d", url, resp.status);
        dld_error_upstream(err, resp.status, NULL, NULL);
    } else {
        rc = dld_aws_credentials_from_json(resp.body, resp.body_len, "container credentials", out, err);
    }
    dld_aws_http_response_clean_up(&resp);
    if (auth) {
        memset(auth, 0, strlen(auth));
        free(auth);
    }
    free(url);
    return rc;
}

/* ---- EC2 instance metadata, IMDSv2 --------------------------------------------------- */
int dld_aws_credentials_imds(const struct dld_aws_remote_ctx *ctx, struct dld_aws_credentials *out,
                             struct dld_error *err)
{
    const char *disabled = s_env("AWS_EC2_METADATA_DISABLED");
    if (disabled && !strcasecmp(disabled, "true"))
        return DLD_ERR_NOT_FOUND;
    const char *base = ctx->imds_endpoint ? ctx->imds_endpoint : s_env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    if (!base)
        base = "http://169.254.169.254";
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    char *url = NULL;
    struct dld_aws_http_response resp = {0};
    char *token = NULL, *role = NULL;
    int rc;

    if (asprintf(&url, "%.*s/latest/api/token", (int)bl, base) < 0)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    struct dld_aws_header th[] = {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}};
    rc = s_http(ctx, "PUT", url, th, 1, "", &resp, err);
    if (rc != DLD_OK) {
        /* nobody there: not on EC2 */
        rc = !strcmp(err->upstream_code, "ConnectFailed") || !strcmp(err->upstream_code, "Timeout")
                 ? DLD_ERR_NOT_FOUND
                 : rc;
        goto done;
    }
    if (resp.status != 200) {
        rc = dld_error_set(err, DLD_ERR_AUTH, "instance metadata: token request answered HTTP %d", resp.status);
        goto done;
    }
    token = dld_aws_strtrim(resp.body, resp.body_len);
    free(url);
    url = NULL;
    struct dld_aws_header gh[] = {{"X-aws-ec2-metadata-token", token}};
    if (asprintf(&url, "%.*s/latest/meta-data/iam/security-credentials/", (int)bl, base) < 0) {
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        goto done;
    }
    rc = s_http(ctx, "GET", url, gh, 1, NULL, &resp, err);
    if (rc == DLD_OK && resp.status == 404) {
        rc = dld_error_set(err, DLD_ERR_AUTH, "instance metadata: the instance has no IAM role");
        goto done;
    }
    if (rc != DLD_OK || resp.status != 200) {
        if (rc == DLD_OK)
            rc = dld_error_set(err, DLD_ERR_AUTH, "instance metadata: role list answered HTTP %d", resp.status);
        goto done;
    }
    role = dld_aws_strtrim(resp.body, strcspn(resp.body, "\n"));
    free(url);
    url = NULL;
    char *enc = dld_aws_uri_encode(role, strlen(role), false);
    if (!enc || asprintf(&url, "%.*s/latest/meta-data/iam/security-credentials/%s", (int)bl, base, enc) < 0) {
        free(enc);
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        goto done;
    }
    free(enc);
    rc = s_http(ctx, "GET", url, gh, 1, NULL, &resp, err);
    if (rc == DLD_OK && resp.status != 200)
        rc = dld_error_set(err, DLD_ERR_AUTH, "instance metadata: credentials of role '%s' answered HTTP %d", role,
                           resp.status);
    if (rc == DLD_OK)
        rc = dld_aws_credentials_from_json(resp.body, resp.body_len, "instance metadata", out, err);
done:
    if (rc != DLD_OK && rc != DLD_ERR_NOT_FOUND)
        dld_error_prefix(err, "EC2 instance metadata");
    dld_aws_http_response_clean_up(&resp);
    if (token) {
        memset(token, 0, strlen(token));
        free(token);
    }
    free(role);
    free(url);
    return rc;
}

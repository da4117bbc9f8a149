/* The credentials provider chain and its cache. The order is the one the
 * AWS SDKs use: static (plugin options) → environment → shared files with
 * the profile (keys, credential_process, web identity) → web identity from
 * the environment → container endpoint → EC2 instance metadata (IMDSv2).
 * Credentials with an expiry are refreshed five minutes before it, under
 * a lock, so parallel uploads never see half-updated credentials. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws_internal.h"

#define REFRESH_MARGIN_MS (5 * 60 * 1000)

struct dld_aws_credentials_provider {
    pthread_mutex_t lock;
    char *profile_option;
    struct dld_aws_credentials static_creds;
    char *region;
    char *container_host;
    char *imds_endpoint;
    struct dld_aws_http *http;
    bool own_http;
    int64_t (*now_ms)(void);
    const struct dld_host *host;
    struct dld_aws_credentials cached;
    bool have_cached;
    const char *source;
};

void dld_aws_credentials_clean_up(struct dld_aws_credentials *c)
{
    if (!c)
        return;
    /* wipe the secret before it goes back to the allocator */
    if (c->secret_access_key)
        memset(c->secret_access_key, 0, strlen(c->secret_access_key));
    free(c->access_key_id);
    free(c->secret_access_key);
    free(c->session_token);
    memset(c, 0, sizeof(*c));
}

int dld_aws_credentials_copy(struct dld_aws_credentials *dst, const struct dld_aws_credentials *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->access_key_id = dld_aws_strdup(src->access_key_id);
    dst->secret_access_key = dld_aws_strdup(src->secret_access_key);
    dst->session_token = dld_aws_strdup(src->session_token);
    dst->expires_ms = src->expires_ms;
    if ((src->access_key_id && !dst->access_key_id) || (src->secret_access_key && !dst->secret_access_key) ||
        (src->session_token && !dst->session_token)) {
        dld_aws_credentials_clean_up(dst);
        return DLD_ERR_FATAL;
    }
    return DLD_OK;
}

int dld_aws_credentials_from_json(const char *json, size_t len, const char *what, struct dld_aws_credentials *c,
                                  struct dld_error *err)
{
    memset(c, 0, sizeof(*c));
    cJSON *j = cJSON_ParseWithLength(json, len);
    if (!j)
        return dld_error_set(err, DLD_ERR_AUTH, "%s: the credentials document is not JSON", what);
    cJSON *code = cJSON_GetObjectItemCaseSensitive(j, "Code");
    if (cJSON_IsString(code) && strcmp(code->valuestring, "Success")) {
        dld_error_set(err, DLD_ERR_AUTH, "%s: credentials not available (Code %s)", what, code->valuestring);
        cJSON_Delete(j);
        return DLD_ERR_AUTH;
    }
    cJSON *version = cJSON_GetObjectItemCaseSensitive(j, "Version");
    if (version && !(cJSON_IsNumber(version) && version->valueint == 1)) {
        cJSON_Delete(j);
        return dld_error_set(err, DLD_ERR_AUTH, "%s: unsupported credentials Version (want 1)", what);
    }
    cJSON *ak = cJSON_GetObjectItemCaseSensitive(j, "AccessKeyId");
    cJSON *sk = cJSON_GetObjectItemCaseSensitive(j, "SecretAccessKey");
    cJSON *tok = cJSON_GetObjectItemCaseSensitive(j, "Token");
    if (!cJSON_IsString(tok))
        tok = cJSON_GetObjectItemCaseSensitive(j, "SessionToken");
    cJSON *exp = cJSON_GetObjectItemCaseSensitive(j, "Expiration");
    if (!cJSON_IsString(ak) || !cJSON_IsString(sk) || !*ak->valuestring || !*sk->valuestring) {
        cJSON_Delete(j);
        return dld_error_set(err, DLD_ERR_AUTH, "%s: AccessKeyId or SecretAccessKey missing", what);
    }
    c->access_key_id = strdup(ak->valuestring);
    c->secret_access_key = strdup(sk->valuestring);
    if (cJSON_IsString(tok) && *tok->valuestring)
        c->session_token = strdup(tok->valuestring);
    if (cJSON_IsString(exp)) {
        c->expires_ms = dld_aws_parse_iso8601(exp->valuestring);
        if (c->expires_ms < 0) {
            /* the message quotes the document: set it before freeing it (found by tests/fuzz) */
            int rc = dld_error_set(err, DLD_ERR_AUTH, "%s: Expiration '%s' is not an ISO-8601 time", what,
                                   exp->valuestring);
            cJSON_Delete(j);
            dld_aws_credentials_clean_up(c);
            return rc;
        }
    }
    cJSON_Delete(j);
    return DLD_OK;
}

static const char *s_env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static int s_set(struct dld_aws_credentials *out, const char *ak, const char *sk, const char *tok)
{
    out->access_key_id = strdup(ak);
    out->secret_access_key = strdup(sk);
    out->session_token = tok && *tok ? strdup(tok) : NULL;
    out->expires_ms = 0;
    return out->access_key_id && out->secret_access_key ? DLD_OK : DLD_ERR_FATAL;
}

static int s_from_env(struct dld_aws_credentials *out, struct dld_error *err)
{
    const char *ak = s_env("AWS_ACCESS_KEY_ID");
    const char *sk = s_env("AWS_SECRET_ACCESS_KEY");
    if (!ak && !sk)
        return DLD_ERR_NOT_FOUND;
    if (!ak || !sk)
        return dld_error_set(err, DLD_ERR_AUTH, "environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be "
                                                "set together");
    return s_set(out, ak, sk, s_env("AWS_SESSION_TOKEN"));
}

static int s_from_profile(struct dld_aws_credentials_provider *p, const struct dld_aws_remote_ctx *ctx,
                          const char **source, struct dld_aws_credentials *out, struct dld_error *err)
{
    const char *name = dld_aws_profile_name(p->profile_option);
    bool named = (p->profile_option && *p->profile_option) || s_env("AWS_PROFILE");
    if (!dld_aws_profile_exists(name)) {
        if (named)
            return dld_error_set(err, DLD_ERR_CONFIG, "profile '%s' not found in the AWS config or credentials file",
                                 name);
        return DLD_ERR_NOT_FOUND;
    }
    int rc = DLD_ERR_NOT_FOUND;
    char *ak = dld_aws_profile_get(name, "aws_access_key_id");
    char *sk = dld_aws_profile_get(name, "aws_secret_access_key");
    char *tok = dld_aws_profile_get(name, "aws_session_token");
    char *proc = NULL, *role = NULL, *wif = NULL, *src = NULL;
    if (ak && sk) {
        *source = "profile";
        rc = s_set(out, ak, sk, tok);
        goto done;
    }
    if (ak || sk) {
        rc = dld_error_set(err, DLD_ERR_AUTH, "profile '%s': aws_access_key_id and aws_secret_access_key must be set "
                                              "together", name);
        goto done;
    }
    role = dld_aws_profile_get(name, "role_arn");
    wif = dld_aws_profile_get(name, "web_identity_token_file");
    if (role && wif) {
        char *session = dld_aws_profile_get(name, "role_session_name");
        *source = "web-identity";
        rc = dld_aws_credentials_web_identity(ctx, wif, role, session, out, err);
        free(session);
        goto done;
    }
    src = dld_aws_profile_get(name, "source_profile");
    if (role && src) {
        rc = dld_error_set(err, DLD_ERR_UNSUPPORTED, "profile '%s': role_arn with source_profile (AssumeRole "
                                                     "chaining) is not supported; use credential_process or web "
                                                     "identity", name);
        goto done;
    }
    proc = dld_aws_profile_get(name, "credential_process");
    if (proc) {
        *source = "process";
        rc = dld_aws_credentials_process(proc, out, err);
        if (rc != DLD_OK)
            dld_error_prefix(err, "profile '%s'", name);
    }
done:
    free(ak);
    if (sk)
        memset(sk, 0, strlen(sk));
    free(sk);
    free(tok);
    free(proc);
    free(role);
    free(wif);
    free(src);
    return rc;
}

/* runs the chain; on success sets *source */
static int s_resolve(struct dld_aws_credentials_provider *p, struct dld_aws_credentials *out, const char **source,
                     struct dld_error *err)
{
    struct dld_aws_remote_ctx ctx = {
        .http = p->http, .region = p->region, .profile = p->profile_option,
        .container_host = p->container_host, .imds_endpoint = p->imds_endpoint, .now_ms = p->now_ms,
    };
    int rc;
    memset(out, 0, sizeof(*out));
    if (p->static_creds.access_key_id) {
        *source = "static";
        return dld_aws_credentials_copy(out, &p->static_creds);
    }
    *source = "environment";
    if ((rc = s_from_env(out, err)) != DLD_ERR_NOT_FOUND)
        return rc;
    if ((rc = s_from_profile(p, &ctx, source, out, err)) != DLD_ERR_NOT_FOUND)
        return rc;
    const char *wif = s_env("AWS_WEB_IDENTITY_TOKEN_FILE");
    const char *role = s_env("AWS_ROLE_ARN");
    if (wif && role) {
        *source = "web-identity";
        return dld_aws_credentials_web_identity(&ctx, wif, role, s_env("AWS_ROLE_SESSION_NAME"), out, err);
    }
    *source = "container";
    if ((rc = dld_aws_credentials_container(&ctx, out, err)) != DLD_ERR_NOT_FOUND)
        return rc;
    *source = "imds";
    if ((rc = dld_aws_credentials_imds(&ctx, out, err)) != DLD_ERR_NOT_FOUND)
        return rc;
    *source = "none";
    return dld_error_set(err, DLD_ERR_AUTH,
                         "no AWS credentials found (tried: plugin options, environment, profile '%s', web identity, "
                         "container endpoint, EC2 instance metadata)",
                         dld_aws_profile_name(p->profile_option));
}

struct dld_aws_credentials_provider *dld_aws_credentials_provider_new(const struct dld_aws_credentials_options *opt,
                                                                      struct dld_error *err)
{
    struct dld_aws_credentials_options none = {0};
    if (!opt)
        opt = &none;
    if ((opt->access_key_id && *opt->access_key_id) != (opt->secret_access_key && *opt->secret_access_key)) {
        dld_error_set(err, DLD_ERR_CONFIG, "access_key_id and secret_access_key must be given together");
        return NULL;
    }
    struct dld_aws_credentials_provider *p = calloc(1, sizeof(*p));
    if (!p) {
        dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    p->profile_option = dld_aws_strdup(opt->profile && *opt->profile ? opt->profile : NULL);
    if (opt->access_key_id && *opt->access_key_id)
        s_set(&p->static_creds, opt->access_key_id, opt->secret_access_key, opt->session_token);
    p->region = dld_aws_strdup(opt->region);
    p->container_host = dld_aws_strdup(opt->container_host);
    p->imds_endpoint = dld_aws_strdup(opt->imds_endpoint);
    p->now_ms = opt->now_ms ? opt->now_ms : dld_aws_real_now_ms;
    p->host = opt->host;
    p->source = "none";
    p->http = opt->http;
    if (!p->http) {
        /* metadata endpoints answer in milliseconds or not at all */
        struct dld_aws_http_options ho = {.connect_timeout_ms = 1000, .timeout_ms = 5000};
        p->http = dld_aws_http_new_curl(&ho, err);
        if (!p->http) {
            dld_aws_credentials_provider_destroy(p);
            return NULL;
        }
        p->own_http = true;
    }
    return p;
}

void dld_aws_credentials_provider_destroy(struct dld_aws_credentials_provider *p)
{
    if (!p)
        return;
    if (p->own_http)
        dld_aws_http_destroy(p->http);
    dld_aws_credentials_clean_up(&p->static_creds);
    dld_aws_credentials_clean_up(&p->cached);
    free(p->profile_option);
    free(p->region);
    free(p->container_host);
    free(p->imds_endpoint);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static bool s_fresh(const struct dld_aws_credentials_provider *p, const struct dld_aws_credentials *c, int64_t margin)
{
    return c->expires_ms == 0 || p->now_ms() < c->expires_ms - margin;
}

int dld_aws_credentials_get(struct dld_aws_credentials_provider *p, struct dld_aws_credentials *out,
                            struct dld_error *err)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&p->lock);
    int rc = DLD_OK;
    if (!p->have_cached || !s_fresh(p, &p->cached, REFRESH_MARGIN_MS)) {
        struct dld_aws_credentials fresh;
        const char *source = "none";
        rc = s_resolve(p, &fresh, &source, err);
        if (rc == DLD_OK) {
            dld_aws_credentials_clean_up(&p->cached);
            p->cached = fresh;
            p->have_cached = true;
            if (p->host && strcmp(p->source, source))
                dld_log(p->host, DLD_LOG_DEBUG, "aws", "credentials from %s (key id %.4s…)", source,
                        fresh.access_key_id);
            p->source = source;
        } else if (p->have_cached && s_fresh(p, &p->cached, 0)) {
            /* refresh failed but what we hold is still valid: use it, try again next time */
            dld_log(p->host, DLD_LOG_WARN, "aws", "credentials refresh failed, using the current ones until they "
                                                  "expire: %s", err->message);
            rc = DLD_OK;
        }
    }
    if (rc == DLD_OK && dld_aws_credentials_copy(out, &p->cached) != DLD_OK)
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    pthread_mutex_unlock(&p->lock);
    return rc;
}

void dld_aws_credentials_invalidate(struct dld_aws_credentials_provider *p)
{
    pthread_mutex_lock(&p->lock);
    dld_aws_credentials_clean_up(&p->cached);
    p->have_cached = false;
    pthread_mutex_unlock(&p->lock);
}

const char *dld_aws_credentials_source(struct dld_aws_credentials_provider *p)
{
    pthread_mutex_lock(&p->lock);
    const char *s = p->source;
    pthread_mutex_unlock(&p->lock);
    return s;
}

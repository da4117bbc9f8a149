/* Region and endpoint resolution, in the order the AWS SDKs use. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_internal.h"

static const char *s_env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

int dld_aws_region_resolve(const char *option, const char *profile, char **out, struct dld_error *err)
{
    const char *v = option && *option ? option : NULL;
    if (!v)
        v = s_env("AWS_REGION");
    if (!v)
        v = s_env("AWS_DEFAULT_REGION");
    char *p = v ? strdup(v) : dld_aws_profile_get(profile, "region");
    if (!p)
        return dld_error_set(err, DLD_ERR_CONFIG,
                             "no AWS region: set the region option, AWS_REGION, AWS_DEFAULT_REGION or the profile's "
                             "region");
    for (const char *c = p; *c; c++) {
        if (!isalnum((unsigned char)*c) && *c != '-') {
            free(p);
            return dld_error_set(err, DLD_ERR_CONFIG, "region '%s' is not a valid region name", v ? v : "(profile)");
        }
    }
    *out = p;
    return DLD_OK;
}

static bool s_ignore_configured(void)
{
    const char *v = s_env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    return v && !strcasecmp(v, "true");
}

static int s_check_url(const char *url, const char *from, struct dld_error *err)
{
    if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
        return dld_error_set(err, DLD_ERR_CONFIG, "endpoint '%s' (from %s) must start with http:// or https://", url,
                             from);
    return DLD_OK;
}

static int s_take(const char *url, const char *from, char **out, struct dld_error *err)
{
    int rc = s_check_url(url, from, err);
    if (rc)
        return rc;
    size_t n = strlen(url);
    while (n && url[n - 1] == '/')
        n--;
    *out = dld_aws_strndup(url, n);
    return *out ? DLD_OK : dld_error_set(err, DLD_ERR_FATAL, "out of memory");
}

int dld_aws_endpoint_resolve(const char *service_id, const char *endpoint_prefix, const char *option,
                             const char *region, const char *profile, char **out, struct dld_error *err)
{
    if (option && *option)
        return s_take(option, "the endpoint option", out, err);
    if (!s_ignore_configured()) {
        char env[128];
        size_t n = (size_t)snprintf(env, sizeof(env), "AWS_ENDPOINT_URL_%s", service_id);
        for (size_t i = 17; i < n && i < sizeof(env); i++)
            env[i] = env[i] == ' ' || env[i] == '-' ? '_' : (char)toupper((unsigned char)env[i]);
        const char *v = s_env(env);
        if (v)
            return s_take(v, env, out, err);
        if ((v = s_env("AWS_ENDPOINT_URL")) != NULL)
            return s_take(v, "AWS_ENDPOINT_URL", out, err);
        char *pv = dld_aws_profile_get(profile, "endpoint_url");
        if (pv) {
            int rc = s_take(pv, "the profile's endpoint_url", out, err);
            free(pv);
            return rc;
        }
    }
    if (!region || !*region)
        return dld_error_set(err, DLD_ERR_CONFIG, "no region to build the %s endpoint from", service_id);
    const char *suffix = strncmp(region, "cn-", 3) == 0 ? "amazonaws.com.cn" : "amazonaws.com";
    if (asprintf(out, "https://%s.%s.%s", endpoint_prefix, region, suffix) < 0)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    return DLD_OK;
}

/* The shared config and credentials files (~/.aws/config, ~/.aws/credentials)
 * in the INI dialect the AWS CLI and SDKs read. Nested sub-properties
 * (indented lines under "s3 =") are skipped: nothing here needs them. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_internal.h"

const char *dld_aws_profile_name(const char *option)
{
    if (option && *option)
        return option;
    const char *env = getenv("AWS_PROFILE");
    return env && *env ? env : "default";
}

static char *s_file_path(const char *env, const char *leaf)
{
    const char *p = getenv(env);
    if (p && *p)
        return strdup(p);
    const char *home = getenv("HOME");
    if (!home || !*home)
        return NULL;
    char *out = NULL;
    if (asprintf(&out, "%s/.aws/%s", home, leaf) < 0)
        return NULL;
    return out;
}

/* Looks `key` up in section `section` of an INI file. *section_found is set
 * when the section exists at all. */
static char *s_ini_get(const char *path, const char *section, const char *key, bool *section_found)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return NULL;
    char *line = NULL;
    size_t cap = 0;
    bool in = false;
    char *value = NULL;
    while (getline(&line, &cap, f) >= 0) {
        size_t len = strcspn(line, "\r\n");
        line[len] = '\0';
        if (len == 0)
            continue;
        if (isspace((unsigned char)line[0]))
            continue; /* a sub-property or continuation: not supported */
        char *t = line;
        if (*t == '#' || *t == ';')
            continue;
        if (*t == '[') {
            char *end = strchr(t, ']');
            if (!end)
                continue;
            char *name = dld_aws_strtrim(t + 1, (size_t)(end - t - 1));
            /* "[profile  x]" → "profile x": collapse inner runs of spaces */
            if (name) {
                char *w = name;
                for (char *r = name; *r; r++)
                    if (!(isspace((unsigned char)*r) && w > name && isspace((unsigned char)w[-1])))
                        *w++ = isspace((unsigned char)*r) ? ' ' : *r;
                *w = '\0';
            }
            in = name && !strcmp(name, section);
            if (in && section_found)
                *section_found = true;
            free(name);
            continue;
        }
        if (!in)
            continue;
        char *eq = strchr(t, '=');
        if (!eq)
            continue;
        char *k = dld_aws_strtrim(t, (size_t)(eq - t));
        if (k && !strcasecmp(k, key)) {
            char *v = eq + 1;
            /* inline comments need whitespace before ';' or '#' */
            for (char *c = v; *c; c++)
                if ((*c == '#' || *c == ';') && c > v && isspace((unsigned char)c[-1])) {
                    *c = '\0';
                    break;
                }
            free(value);
            value = dld_aws_strtrim(v, strlen(v));
        }
        free(k);
    }
    free(line);
    fclose(f);
    return value;
}

static char *s_get(const char *profile, const char *key, bool *found)
{
    char *cred_path = s_file_path("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    char *conf_path = s_file_path("AWS_CONFIG_FILE", "config");
    char *v = s_ini_get(cred_path, profile, key, found);
    if (!v) {
        char *section = NULL;
        if (!strcmp(profile, "default"))
            v = s_ini_get(conf_path, "default", key, found);
        if (!v && asprintf(&section, "profile %s", profile) >= 0) {
            v = s_ini_get(conf_path, section, key, found);
            free(section);
        }
    } else if (found) {
        *found = true;
    }
    free(cred_path);
    free(conf_path);
    if (v && !*v) {
        free(v);
        v = NULL;
    }
    return v;
}

char *dld_aws_profile_get(const char *profile, const char *key)
{
    return s_get(dld_aws_profile_name(profile), key, NULL);
}

/* whether any file has a section for the profile (for a clear error when a
 * profile was named explicitly and does not exist) */
bool dld_aws_profile_exists(const char *profile)
{
    bool found = false;
    char *v = s_get(dld_aws_profile_name(profile), "\x01", &found);
    free(v);
    return found;
}

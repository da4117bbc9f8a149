/* plugins list | describe: what is installed, and each plugin's options. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "loader.h"

static const char s_usage[] =
    "usage: deltaload [-c FILE] plugins list [--json]\n"
    "       deltaload [-c FILE] plugins describe NAME [--json]   (NAME or KIND-NAME, e.g. source-sqlite)\n"
    "Plugins are searched in the config's plugin_dirs, $DELTALOAD_PLUGIN_PATH, <bin>/plugins,\n"
    "<bin>/../lib/deltaload/plugins and the install directory, then among those built in.\n"
    "Files that fail the ABI checks are listed with the reason.\n";

static const char *s_type(uint32_t t)
{
    static const char *n[] = {"?", "string", "int", "bool", "double", "json"};
    return t <= 5 ? n[t] : "?";
}

static cJSON *s_plugin_json(const char *path, const struct dld_loaded *p, bool options)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", p->desc.name);
    cJSON_AddStringToObject(o, "kind", dld_kind_name(p->kind));
    cJSON_AddStringToObject(o, "version", p->desc.version ? p->desc.version : "");
    char abi[32];
    snprintf(abi, sizeof abi, "%u.%u", (unsigned)p->desc.abi_major, (unsigned)p->plugin_abi_minor);
    cJSON_AddStringToObject(o, "abi", abi);
    cJSON_AddStringToObject(o, "path", path);
    cJSON_AddStringToObject(o, "description", p->desc.description ? p->desc.description : "");
    cJSON *caps = cJSON_AddArrayToObject(o, "capabilities");
    static const char *capn[] = {"thread_safe", "snapshot", "shared_state", "remote_schedule"};
    for (int i = 0; i < 4; i++)
        if (p->desc.capabilities & (1u << i))
            cJSON_AddItemToArray(caps, cJSON_CreateString(capn[i]));
    if (!options)
        return o;
    cJSON *arr = cJSON_AddArrayToObject(o, "options");
    for (const struct dld_option *d = p->desc.options; d && d->name; d++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "name", d->name);
        cJSON_AddStringToObject(x, "type", s_type(d->type));
        cJSON_AddBoolToObject(x, "required", (d->flags & DLD_OPTF_REQUIRED) != 0);
        cJSON_AddBoolToObject(x, "secret", (d->flags & DLD_OPTF_SECRET) != 0);
        if (d->default_value)
            cJSON_AddStringToObject(x, "default", d->default_value);
        if (d->choices)
            cJSON_AddStringToObject(x, "choices", d->choices);
        cJSON_AddStringToObject(x, "help", d->help ? d->help : "");
        cJSON_AddItemToArray(arr, x);
    }
    return o;
}

struct s_visit {
    cJSON *found;      /* array of plugin objects */
    cJSON *refused;    /* array of {path, error} */
    const char *want;  /* describe: NAME or KIND-NAME; NULL for list */
};

static void s_visit(void *ctx, const char *path, const struct dld_loaded *p, const struct dld_error *err)
{
    struct s_visit *v = ctx;
    if (p == NULL) {
        if (v->want && !strstr(path, v->want))
            return;
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "path", path);
        cJSON_AddStringToObject(r, "error", err->message);
        cJSON_AddItemToArray(v->refused, r);
        return;
    }
    if (v->want) {
        char full[256];
        snprintf(full, sizeof full, "%s-%s", dld_kind_name(p->kind), p->desc.name);
        if (strcmp(v->want, p->desc.name) && strcmp(v->want, full))
            return;
    }
    /* a file shadows the built-in plugin of the same kind and name */
    for (cJSON *c = v->found->child; c; c = c->next)
        if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(c, "name")), p->desc.name) &&
            !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(c, "kind")), dld_kind_name(p->kind)))
            return;
    cJSON_AddItemToArray(v->found, s_plugin_json(path, p, v->want != NULL));
}

int dld_cmd_plugins(struct dld_cli *cli)
{
    if (dld_cli_help_requested(cli->argc, cli->argv, s_usage))
        return DLD_EXIT_OK;
    const char *sub = cli->argc > 1 ? cli->argv[1] : NULL;
    if (sub == NULL || (strcmp(sub, "list") && strcmp(sub, "describe")) ||
        (!strcmp(sub, "describe") && (cli->argc < 3 || cli->argv[2][0] == '-'))) {
        fputs(s_usage, stderr);
        return DLD_EXIT_USAGE;
    }
    /* plugin_dirs come from the config when there is one; no config is fine here */
    struct dld_config cfg = {0};
    struct dld_error err;
    dld_error_init(&err);
    const char *const *dirs = dld_loader_default_dirs();
    if (access(cli->config_path, F_OK) == 0) {
        int rc = dld_config_load(cli->config_path, &cfg, &err);
        if (rc) {
            dld_config_clean_up(&cfg);
            return dld_cli_fail(rc, &err);
        }
        dirs = (const char *const *)cfg.plugin_dirs;
    }
    struct s_visit v = {.found = cJSON_CreateArray(), .refused = cJSON_CreateArray()};
    if (!strcmp(sub, "describe"))
        v.want = cli->argv[2];
    dld_loader_list(dirs, s_visit, &v);
    int code = DLD_EXIT_OK;
    if (v.want && cJSON_GetArraySize(v.found) == 0) {
        fprintf(stderr, "deltaload: no plugin named '%s' (see `deltaload plugins list`)\n", v.want);
        for (cJSON *r = v.refused->child; r; r = r->next)
            fprintf(stderr, "  refused %s\n", cJSON_GetStringValue(cJSON_GetObjectItem(r, "error")));
        code = DLD_EXIT_CONFIG;
    } else if (cli->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "plugins", v.found);
        cJSON_AddItemToObject(o, "refused", v.refused);
        v.found = v.refused = NULL;
        dld_cli_print_json(o);
    } else if (!v.want) {
        /* the description is cut to one line; `describe` shows it whole */
        printf("%-10s %-12s %-8s %-5s %-60s %s\n", "KIND", "NAME", "VERSION", "ABI", "DESCRIPTION", "PATH");
        for (cJSON *c = v.found->child; c; c = c->next)
            printf("%-10s %-12s %-8s %-5s %-60.60s %s\n", cJSON_GetStringValue(cJSON_GetObjectItem(c, "kind")),
                   cJSON_GetStringValue(cJSON_GetObjectItem(c, "name")),
                   cJSON_GetStringValue(cJSON_GetObjectItem(c, "version")),
                   cJSON_GetStringValue(cJSON_GetObjectItem(c, "abi")),
                   cJSON_GetStringValue(cJSON_GetObjectItem(c, "description")),
                   cJSON_GetStringValue(cJSON_GetObjectItem(c, "path")));
        for (cJSON *r = v.refused->child; r; r = r->next)
            printf("refused: %s\n", cJSON_GetStringValue(cJSON_GetObjectItem(r, "error")));
    } else {
        for (cJSON *c = v.found->child; c; c = c->next) {
            printf("%s plugin %s %s (ABI %s)\n  %s\n  %s\n", cJSON_GetStringValue(cJSON_GetObjectItem(c, "kind")),
                   cJSON_GetStringValue(cJSON_GetObjectItem(c, "name")),
                   cJSON_GetStringValue(cJSON_GetObjectItem(c, "version")),
                   cJSON_GetStringValue(cJSON_GetObjectItem(c, "abi")),
                   cJSON_GetStringValue(cJSON_GetObjectItem(c, "path")),
                   cJSON_GetStringValue(cJSON_GetObjectItem(c, "description")));
            printf("  options:\n");
            for (cJSON *x = cJSON_GetObjectItem(c, "options")->child; x; x = x->next) {
                const char *def = cJSON_GetStringValue(cJSON_GetObjectItem(x, "default"));
                const char *ch = cJSON_GetStringValue(cJSON_GetObjectItem(x, "choices"));
                printf("    %-22s %-6s %s%s%s%s%s%s\n        %s\n", cJSON_GetStringValue(cJSON_GetObjectItem(x, "name")),
                       cJSON_GetStringValue(cJSON_GetObjectItem(x, "type")),
                       cJSON_IsTrue(cJSON_GetObjectItem(x, "required")) ? "required" : "optional",
                       cJSON_IsTrue(cJSON_GetObjectItem(x, "secret")) ? ", secret" : "", def ? ", default " : "",
                       def ? def : "", ch ? ", one of " : "", ch ? ch : "",
                       cJSON_GetStringValue(cJSON_GetObjectItem(x, "help")));
            }
        }
    }
    cJSON_Delete(v.found);
    cJSON_Delete(v.refused);
    dld_config_clean_up(&cfg);
    return code;
}

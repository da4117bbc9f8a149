/* plugins list | describe: what is installed, and each plugin's options. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "contract.h"
#include "loader.h"

static const char s_usage[] =
    "usage: deltaload [-c FILE] plugins list [--json]\n"
    "       deltaload [-c FILE] plugins describe NAME [--json]   (NAME or KIND-NAME, e.g. source-sqlite)\n"
    "       deltaload plugins check FILE.so [--options JSON] [--json]   (the conformance kit; --help)\n"
    "       deltaload plugins check --fixture sqlite|postgres|oracle   (the kit's source table as SQL)\n"
    "Plugins are searched in the config's plugin_dirs, $DELTALOAD_PLUGIN_PATH, <bin>/plugins,\n"
    "<bin>/../lib/deltaload/plugins and the install directory, then among those built in.\n"
    "Files that fail the ABI checks, or crash while loading, are listed with the reason.\n"
    "The first file of a kind and name is the plugin (what `run` loads, refused or not);\n"
    "later copies and the built-in plugin it replaces are listed as shadowed.\n";

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
    cJSON *shadowed;   /* array of {path, kind, name, resolves_to, resolves_to_refused} */
    cJSON *seen;       /* "kind name" -> {path, refused}: the file the name resolves to */
    const char *want;  /* describe: NAME or KIND-NAME; NULL for list */
};

/* The loader's resolution (loader.h): the first file of a kind and name, in
 * directory order, then the built-in one; every later one is shadowed.
 * Returns true when this one is shadowed (and records it). */
static bool s_shadowed(struct s_visit *v, const char *path, const struct dld_loaded *p)
{
    char name[128], key[160];
    int kind = 0;
    if (p) {
        kind = (int)p->kind;
        snprintf(name, sizeof name, "%s", p->desc.name ? p->desc.name : "");
    } else {
        const char *base = strrchr(path, '/');
        if (dld_loader_parse_file_name(base ? base + 1 : path, &kind, name, sizeof name) != 0)
            return false;
    }
    snprintf(key, sizeof key, "%s %s", dld_kind_name((uint32_t)kind), name);
    const cJSON *first = cJSON_GetObjectItemCaseSensitive(v->seen, key);
    if (first && !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(first, "path")), path))
        return true; /* the same directory named twice: the same file, once */
    if (first == NULL) {
        cJSON *f = cJSON_AddObjectToObject(v->seen, key);
        cJSON_AddStringToObject(f, "path", path);
        cJSON_AddBoolToObject(f, "refused", p == NULL);
        return false;
    }
    if (v->want) {
        char full[200];
        snprintf(full, sizeof full, "%s-%s", dld_kind_name((uint32_t)kind), name);
        if (strcmp(v->want, name) && strcmp(v->want, full))
            return true;
    }
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "path", path);
    cJSON_AddStringToObject(s, "kind", dld_kind_name((uint32_t)kind));
    cJSON_AddStringToObject(s, "name", name);
    cJSON_AddStringToObject(s, "resolves_to", cJSON_GetStringValue(cJSON_GetObjectItem(first, "path")));
    cJSON_AddBoolToObject(s, "resolves_to_refused", cJSON_IsTrue(cJSON_GetObjectItem(first, "refused")));
    cJSON_AddItemToArray(v->shadowed, s);
    return true;
}

static void s_visit(void *ctx, const char *path, const struct dld_loaded *p, const struct dld_error *err)
{
    struct s_visit *v = ctx;
    if (s_shadowed(v, path, p))
        return;
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
    cJSON_AddItemToArray(v->found, s_plugin_json(path, p, v->want != NULL));
}

int dld_cmd_plugins(struct dld_cli *cli)
{
    const char *sub = cli->argc > 1 ? cli->argv[1] : NULL;
    if (sub && !strcmp(sub, "check")) /* before --help: `plugins check --help` is the kit's */
        return dld_cmd_plugins_check(cli);
    if (dld_cli_help_requested(cli->argc, cli->argv, s_usage))
        return DLD_EXIT_OK;
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
    struct s_visit v = {.found = cJSON_CreateArray(), .refused = cJSON_CreateArray(),
                        .shadowed = cJSON_CreateArray(), .seen = cJSON_CreateObject()};
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
        cJSON_AddItemToObject(o, "shadowed", v.shadowed);
        v.found = v.refused = v.shadowed = NULL;
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
        for (cJSON *r = v.shadowed->child; r; r = r->next)
            printf("shadowed: %s (%s %s): the name resolves to %s%s\n",
                   cJSON_GetStringValue(cJSON_GetObjectItem(r, "path")),
                   cJSON_GetStringValue(cJSON_GetObjectItem(r, "kind")),
                   cJSON_GetStringValue(cJSON_GetObjectItem(r, "name")),
                   cJSON_IsTrue(cJSON_GetObjectItem(r, "resolves_to_refused")) ? "the refused file " : "",
                   cJSON_GetStringValue(cJSON_GetObjectItem(r, "resolves_to")));
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
    cJSON_Delete(v.shadowed);
    cJSON_Delete(v.seen);
    dld_config_clean_up(&cfg);
    return code;
}

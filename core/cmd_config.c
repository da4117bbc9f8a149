/* config check: validates a configuration without opening any source,
 * target or scheduler (with --source: and plans every table against the
 * live source, reading its catalogue and high marks, loading nothing); and
 * the "include" merge (cmd_config.h). */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_config.h"
#include "engine.h"
#include "host.h"
#include "items.h"
#include "metrics.h"

static const char s_config_usage[] =
    "usage: deltaload [-c FILE] config check [--source] [--json]\n"
    "Validates the configuration (after its includes and ${VAR} references): its structure, each\n"
    "plugin's options against the plugin's declared option table, every controller item under\n"
    "\"tables\", and the \"metrics\" and \"notify\" blocks. Opens no source, target or state store.\n"
    "With --source (once the file itself is sound) it also plans every active table against the live\n"
    "source, as `plan` does: the table and filter column must exist and the item's values fit the\n"
    "column's type. Nothing is loaded and no lease taken.\n"
    "Lists every problem found; exit 0 when there is none, 3 otherwise.\n";

/* ---- include ------------------------------------------------------------------------- */

static cJSON *s_read_json(const char *path, struct dld_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        dld_error_set(err, DLD_ERR_CONFIG, "cannot open included config %s: %s", path, strerror(errno));
        return NULL;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    char buf[8192];
    for (size_t n; (n = fread(buf, 1, sizeof buf, f)) > 0;)
        fwrite(buf, 1, n, m);
    fclose(f);
    fclose(m);
    cJSON *o = cJSON_ParseWithOpts(text, NULL, 1);
    free(text);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        dld_error_set(err, DLD_ERR_CONFIG, "included config %s: not a JSON object", path);
        return NULL;
    }
    return o;
}

/* base's keys into dst where dst has none; objects on both sides recursively */
static void s_merge_under(cJSON *dst, const cJSON *base)
{
    for (const cJSON *c = base->child; c; c = c->next) {
        cJSON *mine = cJSON_GetObjectItemCaseSensitive(dst, c->string);
        if (mine == NULL)
            cJSON_AddItemToObject(dst, c->string, cJSON_Duplicate(c, 1));
        else if (cJSON_IsObject(mine) && cJSON_IsObject(c))
            s_merge_under(mine, c);
    }
}

static int s_includes(cJSON *root, const char *path, int depth, struct dld_error *err)
{
    cJSON *inc = cJSON_DetachItemFromObjectCaseSensitive(root, "include");
    if (inc == NULL)
        return DLD_OK;
    int rc = DLD_OK;
    if (!cJSON_IsArray(inc)) {
        rc = dld_error_set(err, DLD_ERR_CONFIG, "%s: include must be a list of config files", path);
        goto out;
    }
    if (depth >= 8) {
        rc = dld_error_set(err, DLD_ERR_CONFIG, "%s: includes nest more than 8 deep (a cycle?)", path);
        goto out;
    }
    char *copy = strdup(path);
    const char *dir = dirname(copy);
    /* from the last include to the first: each fills only what is still missing */
    for (cJSON *c = cJSON_GetArrayItem(inc, cJSON_GetArraySize(inc) - 1); c && rc == DLD_OK; c = c == inc->child ? NULL : c->prev) {
        if (!cJSON_IsString(c) || c->valuestring[0] == '\0') {
            rc = dld_error_set(err, DLD_ERR_CONFIG, "%s: include must be a list of config files", path);
            break;
        }
        char *file = NULL;
        if (c->valuestring[0] == '/' ? asprintf(&file, "%s", c->valuestring) < 0
                                     : asprintf(&file, "%s/%s", dir, c->valuestring) < 0) {
            rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
            break;
        }
        cJSON *base = s_read_json(file, err);
        if (base == NULL)
            rc = DLD_ERR_CONFIG;
        if (rc == DLD_OK)
            rc = s_includes(base, file, depth + 1, err);
        if (rc == DLD_OK)
            s_merge_under(root, base);
        cJSON_Delete(base);
        free(file);
    }
    free(copy);
out:
    cJSON_Delete(inc);
    return rc;
}

int dld_config_includes(cJSON *root, const char *path, struct dld_error *err)
{
    return s_includes(root, path, 0, err);
}

/* ---- config check --------------------------------------------------------------------------- */

static void s_problem(cJSON *list, const char *fmt, const char *a, const char *b)
{
    char buf[1200];
    snprintf(buf, sizeof buf, fmt, a, b);
    cJSON_AddItemToArray(list, cJSON_CreateString(buf));
}

int dld_cmd_config(struct dld_cli *cli)
{
    if (cli->argc < 2 || dld_cli_help_requested(cli->argc, cli->argv, s_config_usage)) {
        if (cli->argc < 2) {
            fputs(s_config_usage, stderr);
            return DLD_EXIT_USAGE;
        }
        return DLD_EXIT_OK;
    }
    if (strcmp(cli->argv[1], "check")) {
        fprintf(stderr, "deltaload: config %s: unknown subcommand\n%s", cli->argv[1], s_config_usage);
        return DLD_EXIT_USAGE;
    }
    cJSON *problems = cJSON_CreateArray();
    struct dld_config cfg;
    memset(&cfg, 0, sizeof cfg);
    struct dld_error err;
    dld_error_init(&err);
    int ntables = 0;
    /* The controller items are checked one by one below, so that a bad item
     * does not hide the others: the rest of the file is loaded as a copy
     * beside it (same directory: relative paths mean the same) without them. */
    const char *path = cli->config_path;
    cJSON *root = s_read_json(path, &err);
    cJSON *tables = NULL;
    char *tmp = NULL;
    if (root && dld_config_includes(root, path, &err) == DLD_OK) {
        tables = cJSON_DetachItemFromObjectCaseSensitive(root, "tables");
        char *copy = strdup(path);
        char *text = cJSON_Print(root);
        FILE *f = NULL;
        if (asprintf(&tmp, "%s/.deltaload-check-%ld.json", dirname(copy), (long)getpid()) >= 0 && (f = fopen(tmp, "w"))) {
            fputs(text, f);
            fclose(f);
        }
        free(text);
        free(copy);
    } else {
        s_problem(problems, "%s%s", err.message, "");
    }
    if (tmp && dld_config_load(tmp, &cfg, &err) != DLD_OK) {
        s_problem(problems, "%s%s", err.message, ""); /* the file's structure */
    } else if (tmp) {
        for (uint32_t k = DLD_KIND_SOURCE; k <= DLD_KIND_SCHEDULER; k++) {
            if (!cfg.kinds[k].present) {
                if (k == DLD_KIND_STATE)
                    s_problem(problems, "no \"%s\" section: every command but plugins needs one%s", dld_kind_name(k), "");
                continue;
            }
            dld_error_init(&err);
            if (dld_config_plugin(&cfg, k, &err) != DLD_OK)
                s_problem(problems, "%s: %s", dld_kind_name(k), err.message);
        }
    }
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    if (tables && !cJSON_IsArray(tables))
        s_problem(problems, "tables must be a list of controller items%s%s", "", "");
    int i = 0;
    for (cJSON *t = cJSON_IsArray(tables) ? tables->child : NULL; t; t = t->next, i++) {
        struct dld_item it;
        dld_error_init(&err);
        char where[64];
        snprintf(where, sizeof where, "tables[%d]", i);
        if (dld_config_expand_env(t, where, &err) != DLD_OK || dld_item_parse(t, &it, &err) != DLD_OK) {
            s_problem(problems, "%s: %s", where, err.message);
            continue;
        }
        ntables++;
        for (const cJSON *u = tables->child; u != t; u = u->next) {
            const char *other = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(u, "targetTableName"));
            if (other && !strcmp(other, it.name))
                s_problem(problems, "%s: targetTableName '%s' is listed twice", where, it.name);
        }
        dld_item_clean_up(&it);
    }
    cJSON_Delete(tables);
    cJSON_Delete(root);
    bool source = false;
    for (int a = 2; a < cli->argc; a++)
        source |= !strcmp(cli->argv[a], "--source");
    if (source && cJSON_GetArraySize(problems) == 0) {
        /* the catalogue: plan every table (a read snapshot and a high mark
         * per table; no lease, no files, no state written) */
        struct dld_config live;
        dld_error_init(&err);
        if (dld_config_load(path, &live, &err) != DLD_OK) {
            s_problem(problems, "%s%s", err.message, "");
        } else {
            struct dld_run_request req = {.plan_only = true};
            struct dld_table_result *res = NULL;
            int nres = 0;
            if (dld_engine_run(&live, &req, &res, &nres, &err) != DLD_OK)
                s_problem(problems, "planning: %s%s", err.message, "");
            for (int r = 0; r < nres; r++)
                if (res[r].outcome == DLD_OUT_FAILED)
                    s_problem(problems, "table %s: %s", res[r].name, res[r].error ? res[r].error : "failed");
            dld_results_free(res, nres);
            dld_config_clean_up(&live);
        }
    }
    int n = cJSON_GetArraySize(problems);
    if (cli->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "config", cli->config_path);
        cJSON_AddBoolToObject(o, "ok", n == 0);
        cJSON_AddItemToObject(o, "problems", problems);
        dld_cli_print_json(o);
    } else {
        for (const cJSON *p = problems->child; p; p = p->next)
            fprintf(stderr, "%s: %s\n", cli->config_path, p->valuestring);
        if (n == 0)
            printf("%s: ok (%d table%s in the file)\n", cli->config_path, ntables, ntables == 1 ? "" : "s");
        else
            fprintf(stderr, "%s: %d problem%s\n", cli->config_path, n, n == 1 ? "" : "s");
        cJSON_Delete(problems);
    }
    dld_config_clean_up(&cfg);
    return n ? DLD_EXIT_CONFIG : DLD_EXIT_OK;
}

/* status, history, reset and tables: commands that read or edit the state store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "engine.h"
#include "heartbeat.h"
#include "runs.h"
#include "host.h"
#include "items.h"
#include "metrics.h"
#include "schema_track.h"

static const char s_status_usage[] =
    "usage: deltaload [-c FILE] status [--table NAME] [--json | --prometheus] [--watch SECONDS]\n"
    "Per table: active flag, operator, committed watermark and its age, how far the source's maximum\n"
    "is ahead of it, last load (status, rows, when, error), plus the configured plugins with secret\n"
    "options masked. --prometheus prints the metrics file's text (docs/operations.md); --watch\n"
    "redraws every SECONDS until interrupted.\n";
static const char s_history_usage[] =
    "usage: deltaload [-c FILE] history [--table NAME] [--limit N] [--json]\n"
    "Past loads, newest first (default limit 20): window, status, rows, bytes, files, duration, error.\n";
static const char s_reset_usage[] =
    "usage: deltaload [-c FILE] reset --table NAME (--to VALUE | --clear)\n"
    "Sets the committed watermark of a table: the next run loads rows with filtercolumn > VALUE.\n"
    "--clear forgets it: the next run starts again from the item's startvalue (inclusive).\n"
    "Takes the table's lease, so it waits for no one and fails (exit 4) if a load is running.\n";
static const char s_tables_usage[] =
    "usage: deltaload [-c FILE] tables COMMAND\n"
    "  list                     every controller item\n"
    "  show NAME                one item as JSON\n"
    "  set NAME ATTR=VALUE...   create or update an item (ATTR= with no value removes it)\n"
    "  enable NAME | disable NAME   set activeflag to Y or N\n"
    "  remove NAME              delete the item (its history and watermark stay)\n"
    "Attributes: targetTableName sourceSchema sourceTable filtercolumn filteroperator startvalue\n"
    "endvalue activeflag ouputs3Prefix (or outputPrefix) replication_task_settings lag.\n"
    "Items listed under \"tables\" in the config are written again on every run.\n";

static const char *s_arg_value(struct dld_cli *cli, const char *name)
{
    size_t n = strlen(name);
    for (int i = 1; i < cli->argc; i++) {
        if (!strcmp(cli->argv[i], name) && i + 1 < cli->argc)
            return cli->argv[i + 1];
        if (!strncmp(cli->argv[i], name, n) && cli->argv[i][n] == '=')
            return cli->argv[i] + n + 1;
    }
    return NULL;
}

static bool s_arg_flag(struct dld_cli *cli, const char *name)
{
    for (int i = 1; i < cli->argc; i++)
        if (!strcmp(cli->argv[i], name))
            return true;
    return false;
}

static void s_time(int64_t ms, char *buf, size_t cap)
{
    if (ms <= 0) {
        snprintf(buf, cap, "-");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void s_add_str(cJSON *o, const char *k, const char *v)
{
    if (v)
        cJSON_AddStringToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

/* The "-- guarantee: " line a source put in a load's query text (the
 * PostgreSQL and Oracle sources do, issue 17), as status's "guarantee". */
static void s_add_guarantee(cJSON *t, const char *info_json)
{
    cJSON *info = info_json ? cJSON_Parse(info_json) : NULL;
    const char *q = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(info, "query"));
    const char *g = q ? strstr(q, "-- guarantee: ") : NULL;
    if (g) {
        g += strlen("-- guarantee: ");
        char *line = strndup(g, strcspn(g, "\n"));
        if (line)
            cJSON_AddStringToObject(t, "guarantee", line);
        free(line);
    }
    cJSON_Delete(info);
}

/* The configured plugins, secrets masked; plugins that cannot load show why. */
static cJSON *s_plugins_json(struct dld_config *cfg)
{
    cJSON *o = cJSON_CreateObject();
    for (uint32_t k = DLD_KIND_SOURCE; k <= DLD_KIND_SCHEDULER; k++) {
        struct dld_plugin_conf *pc = &cfg->kinds[k];
        if (!pc->present)
            continue;
        cJSON *p = cJSON_AddObjectToObject(o, dld_kind_name(k));
        cJSON_AddStringToObject(p, "plugin", pc->plugin);
        struct dld_error err;
        dld_error_init(&err);
        if (dld_config_plugin(cfg, k, &err) == DLD_OK) {
            cJSON_AddStringToObject(p, "path", pc->loaded.path);
            cJSON_AddItemToObject(p, "options", dld_options_redacted(&pc->loaded.desc, pc->kv));
        } else {
            cJSON_AddStringToObject(p, "error", err.message);
        }
    }
    return o;
}

static int s_status_once(struct dld_cli *cli);

/* "3d4h", "12m", "40s": an age for the status table */
static void s_age(double secs, char *buf, size_t cap)
{
    long s = (long)secs;
    if (s < 0)
        s = 0;
    if (s >= 86400)
        snprintf(buf, cap, "%ldd%ldh", s / 86400, s % 86400 / 3600);
    else if (s >= 3600)
        snprintf(buf, cap, "%ldh%ldm", s / 3600, s % 3600 / 60);
    else if (s >= 60)
        snprintf(buf, cap, "%ldm%lds", s / 60, s % 60);
    else
        snprintf(buf, cap, "%lds", s);
}

int dld_cmd_status(struct dld_cli *cli)
{
    if (dld_cli_help_requested(cli->argc, cli->argv, s_status_usage))
        return DLD_EXIT_OK;
    const char *watch = s_arg_value(cli, "--watch");
    if (watch == NULL)
        return s_status_once(cli);
    char *end;
    double every = strtod(watch, &end);
    if (*end || every < 0.1 || every > 86400) {
        fprintf(stderr, "deltaload: --watch takes a number of seconds (0.1 to 86400)\n");
        return DLD_EXIT_USAGE;
    }
    int code = DLD_EXIT_OK;
    while (!dld_core_cancelled()) {
        if (!cli->json)
            fputs("\033[H\033[2J", stdout); /* home, clear: redraw in place */
        code = s_status_once(cli);
        fflush(stdout);
        for (int64_t until = dld_core_now_ms() + (int64_t)(every * 1000); !dld_core_cancelled() && dld_core_now_ms() < until;)
            usleep(100000);
    }
    return code == DLD_EXIT_OK || dld_core_cancelled() ? DLD_EXIT_OK : code;
}

static int s_status_once(struct dld_cli *cli)
{
    const char *only = s_arg_value(cli, "--table");
    struct dld_config cfg;
    struct dld_error err;
    dld_error_init(&err);
    void *st = NULL;
    int rc = dld_cli_open_state(&cfg, cli->config_path, &st, &err);
    if (rc)
        return dld_cli_fail(rc, &err);
    const struct dld_state_vtable *vt = &cfg.kinds[DLD_KIND_STATE].loaded.vt.state;
    const struct dld_host *host = dld_core_host();
    char *list = NULL;
    int code = DLD_EXIT_OK;
    if (s_arg_flag(cli, "--prometheus")) { /* the metrics file's text (metrics.c) */
        struct dld_table_stats *stats = NULL;
        int nstats = 0;
        rc = dld_table_stats_collect(vt, st, only, &stats, &nstats, &err);
        char *text = rc ? NULL : dld_metrics_render(stats, nstats, dld_core_now_ms());
        if (text)
            fputs(text, stdout);
        code = rc ? dld_cli_fail(rc, &err) : text ? DLD_EXIT_OK : DLD_EXIT_RUNTIME;
        free(text);
        dld_table_stats_free(stats, nstats);
        goto out;
    }
    if ((rc = vt->item_list(st, &list, &err))) {
        code = dld_cli_fail(rc, &err);
        goto out;
    }
    cJSON *items = cJSON_Parse(list);
    struct dld_table_stats *stats = NULL; /* watermark age and lag (metrics.c) */
    int nstats = 0;
    struct dld_error serr;
    dld_error_init(&serr);
    if (dld_table_stats_collect(vt, st, only, &stats, &nstats, &serr) != DLD_OK)
        nstats = 0;
    int64_t now_ms = dld_core_now_ms();
    cJSON *out = cJSON_CreateObject();
    cJSON_AddItemToObject(out, "plugins", s_plugins_json(&cfg));
    cJSON *tables = cJSON_AddArrayToObject(out, "tables");
    bool found = only == NULL;
    for (cJSON *c = items ? items->child : NULL; c; c = c->next) {
        cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "targetTableName");
        if (!cJSON_IsString(name) || (only && strcmp(only, name->valuestring)))
            continue;
        found = true;
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "table", name->valuestring);
        struct dld_item it;
        struct dld_error ierr;
        dld_error_init(&ierr);
        if (dld_item_parse(c, &it, &ierr) == DLD_OK) {
            cJSON_AddBoolToObject(t, "active", it.active);
            cJSON_AddStringToObject(t, "mode", dld_mode_name(it.mode));
            s_add_str(t, "filteroperator", it.op);
            s_add_str(t, "filtercolumn", it.column);
            s_add_str(t, "startvalue", it.start);
            dld_item_clean_up(&it);
        } else {
            cJSON_AddStringToObject(t, "item_error", ierr.message);
        }
        struct dld_watermark wm = {.struct_size = sizeof(wm)};
        if (vt->watermark_get(st, name->valuestring, &wm, &ierr) == DLD_OK) {
            s_add_str(t, "watermark", wm.value);
            cJSON_AddNumberToObject(t, "watermark_load_id", (double)wm.load_id);
            for (int k = 0; k < nstats; k++) {
                if (strcmp(stats[k].table, name->valuestring))
                    continue;
                double w, h;
                bool wt, ht;
                if (wm.value && stats[k].watermark_set_ms > 0)
                    cJSON_AddNumberToObject(t, "watermark_age_seconds", (double)(now_ms - stats[k].watermark_set_ms) / 1000.0);
                else
                    cJSON_AddNullToObject(t, "watermark_age_seconds");
                s_add_str(t, "source_high", stats[k].source_high);
                if (dld_value_number(wm.value, &w, &wt) && dld_value_number(stats[k].source_high, &h, &ht) && wt == ht)
                    cJSON_AddNumberToObject(t, "source_lag", h > w ? h - w : 0);
                else
                    cJSON_AddNullToObject(t, "source_lag");
            }
            dld_watermark_clean_up(host, &wm);
        }
        struct dld_run run = {.struct_size = sizeof(run)};
        if (vt->run_last(st, name->valuestring, &run, &ierr) == DLD_OK) {
            cJSON *l = cJSON_AddObjectToObject(t, "last_load");
            cJSON_AddNumberToObject(l, "load_id", (double)run.load_id);
            cJSON_AddStringToObject(l, "status", dld_run_status_name(run.status));
            cJSON_AddStringToObject(l, "mode", dld_mode_name(run.mode));
            s_add_str(l, "low", run.low);
            s_add_str(l, "high", run.high);
            cJSON_AddNumberToObject(l, "rows", (double)run.rows);
            cJSON_AddNumberToObject(l, "files", (double)run.files);
            cJSON_AddNumberToObject(l, "bytes", (double)run.bytes);
            cJSON_AddNumberToObject(l, "started_ms", (double)run.started_ms);
            cJSON_AddNumberToObject(l, "ended_ms", (double)run.ended_ms);
            s_add_str(l, "error", run.error);
            /* issue 17: which guarantee applies (commit order, or filter
             * order for a column a sequence or a clock fills), as the
             * source said it in the last load's plan ("-- guarantee: ...") */
            s_add_guarantee(t, run.info_json);
            dld_run_clean_up(host, &run);
        }
        /* schema_change rewrite: the version readers should read, and its folder */
        int64_t version = 1;
        if (dld_table_version(vt, st, name->valuestring, &version, &ierr) == DLD_OK) {
            char folder[160];
            dld_table_version_name(name->valuestring, version, folder, sizeof folder);
            cJSON_AddNumberToObject(t, "table_version", (double)version);
            cJSON_AddStringToObject(t, "table_folder", folder);
        }
        cJSON_AddItemToArray(tables, t);
    }
    cJSON_Delete(items);
    dld_table_stats_free(stats, nstats);
    if (!found) {
        cJSON_Delete(out);
        dld_error_set(&err, DLD_ERR_NOT_FOUND, "no controller item named '%s'", only);
        code = dld_cli_fail(DLD_ERR_NOT_FOUND, &err);
        goto out;
    }
    if (cli->json) {
        dld_cli_print_json(out);
        goto out;
    }
    cJSON *plugins = cJSON_GetObjectItemCaseSensitive(out, "plugins");
    for (cJSON *p = plugins->child; p; p = p->next) {
        cJSON *opts = cJSON_GetObjectItemCaseSensitive(p, "options");
        char *o = opts ? cJSON_PrintUnformatted(opts) : NULL;
        cJSON *perr = cJSON_GetObjectItemCaseSensitive(p, "error");
        printf("%-9s %s %s\n", p->string, cJSON_GetObjectItemCaseSensitive(p, "plugin")->valuestring,
               o ? o : perr ? perr->valuestring : "");
        free(o);
    }
    printf("\n%-24s %-6s %-8s %-24s %-8s %-12s %-10s %-10s %10s  %-20s %s\n", "TABLE", "ACTIVE", "MODE", "WATERMARK",
           "WM AGE", "BEHIND", "LAST LOAD", "STATUS", "ROWS", "ENDED", "ERROR");
    for (cJSON *t = tables->child; t; t = t->next) {
        cJSON *l = cJSON_GetObjectItemCaseSensitive(t, "last_load");
        cJSON *wm = cJSON_GetObjectItemCaseSensitive(t, "watermark");
        cJSON *ie = cJSON_GetObjectItemCaseSensitive(t, "item_error");
        char ended[32] = "-", id[24] = "-";
        const char *status = "-", *error = ie ? ie->valuestring : "";
        double rows = 0;
        if (l) {
            s_time((int64_t)cJSON_GetObjectItemCaseSensitive(l, "ended_ms")->valuedouble, ended, sizeof ended);
            snprintf(id, sizeof id, "%lld", (long long)cJSON_GetObjectItemCaseSensitive(l, "load_id")->valuedouble);
            status = cJSON_GetObjectItemCaseSensitive(l, "status")->valuestring;
            rows = cJSON_GetObjectItemCaseSensitive(l, "rows")->valuedouble;
            cJSON *e = cJSON_GetObjectItemCaseSensitive(l, "error");
            if (cJSON_IsString(e))
                error = e->valuestring;
        }
        cJSON *active = cJSON_GetObjectItemCaseSensitive(t, "active");
        cJSON *mode = cJSON_GetObjectItemCaseSensitive(t, "mode");
        char age[24] = "-", behind[32] = "-";
        cJSON *ag = cJSON_GetObjectItemCaseSensitive(t, "watermark_age_seconds");
        cJSON *lag = cJSON_GetObjectItemCaseSensitive(t, "source_lag");
        if (cJSON_IsNumber(ag))
            s_age(ag->valuedouble, age, sizeof age);
        if (cJSON_IsNumber(lag))
            snprintf(behind, sizeof behind, "%.15g", lag->valuedouble);
        printf("%-24s %-6s %-8s %-24s %-8s %-12s %-10s %-10s %10.0f  %-20s %s\n",
               cJSON_GetObjectItemCaseSensitive(t, "table")->valuestring, cJSON_IsTrue(active) ? "Y" : "N",
               mode ? mode->valuestring : "?", cJSON_IsString(wm) ? wm->valuestring : "-", age, behind, id, status,
               rows, ended, error);
        cJSON *g = cJSON_GetObjectItemCaseSensitive(t, "guarantee");
        if (cJSON_IsString(g))
            printf("%-24s guarantee: %s\n", "", g->valuestring);
        cJSON *tv = cJSON_GetObjectItemCaseSensitive(t, "table_version");
        if (cJSON_IsNumber(tv) && tv->valuedouble > 1)
            printf("%-24s table version %.0f (schema_change rewrite): read the folder %s\n", "", tv->valuedouble,
                   cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "table_folder")));
    }
    cJSON_Delete(out);
out:
    free(list);
    vt->close(st);
    dld_config_clean_up(&cfg);
    return code;
}

int dld_cmd_history(struct dld_cli *cli)
{
    if (dld_cli_help_requested(cli->argc, cli->argv, s_history_usage))
        return DLD_EXIT_OK;
    const char *only = s_arg_value(cli, "--table");
    const char *lim = s_arg_value(cli, "--limit");
    int limit = lim ? atoi(lim) : 20;
    if (limit <= 0) {
        fprintf(stderr, "deltaload: --limit must be a positive number\n");
        return DLD_EXIT_USAGE;
    }
    struct dld_config cfg;
    struct dld_error err;
    dld_error_init(&err);
    void *st = NULL;
    int rc = dld_cli_open_state(&cfg, cli->config_path, &st, &err);
    if (rc)
        return dld_cli_fail(rc, &err);
    const struct dld_state_vtable *vt = &cfg.kinds[DLD_KIND_STATE].loaded.vt.state;
    cJSON *arr = NULL;
    int code = DLD_EXIT_OK;
    rc = dld_history_json(vt, st, only, limit, &arr, &err);
    if (rc) {
        code = dld_cli_fail(rc, &err);
    } else if (cli->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "loads", arr);
        arr = NULL;
        dld_cli_print_json(o);
    } else {
        printf("%-20s %-24s %6s %-9s %-10s %10s %6s %9s  %s\n", "STARTED", "TABLE", "LOAD", "MODE", "STATUS", "ROWS",
               "FILES", "SECONDS", "WINDOW / ERROR");
        for (cJSON *r = arr ? arr->child : NULL; r; r = r->next) {
            char started[32];
            cJSON *low = cJSON_GetObjectItemCaseSensitive(r, "low"), *high = cJSON_GetObjectItemCaseSensitive(r, "high");
            cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "error");
            s_time((int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "started_ms")), started, sizeof started);
            printf("%-20s %-24s %6.0f %-9s %-10s %10.0f %6.0f %9.2f  %s%s, %s]%s%s\n", started,
                   cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "table")),
                   cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "load_id")),
                   cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "mode")),
                   cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "status")),
                   cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "rows")),
                   cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "files")),
                   cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "duration_ms")) / 1000.0,
                   cJSON_IsString(low) && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "low_inclusive")) ? "[" : "(",
                   cJSON_IsString(low) ? low->valuestring : "-inf", cJSON_IsString(high) ? high->valuestring : "-",
                   cJSON_IsString(e) ? "  " : "", cJSON_IsString(e) ? e->valuestring : "");
        }
    }
    cJSON_Delete(arr);
    vt->close(st);
    dld_config_clean_up(&cfg);
    return code;
}

int dld_cmd_reset(struct dld_cli *cli)
{
    if (dld_cli_help_requested(cli->argc, cli->argv, s_reset_usage))
        return DLD_EXIT_OK;
    const char *table = s_arg_value(cli, "--table");
    const char *to = s_arg_value(cli, "--to");
    bool clear = s_arg_flag(cli, "--clear");
    if (table == NULL || (to == NULL) == !clear) {
        fprintf(stderr, "deltaload: reset needs --table and one of --to VALUE or --clear\n%s", s_reset_usage);
        return DLD_EXIT_USAGE;
    }
    struct dld_config cfg;
    struct dld_error err;
    dld_error_init(&err);
    void *st = NULL;
    int rc = dld_cli_open_state(&cfg, cli->config_path, &st, &err);
    if (rc)
        return dld_cli_fail(rc, &err);
    const struct dld_state_vtable *vt = &cfg.kinds[DLD_KIND_STATE].loaded.vt.state;
    char *item = NULL;
    int64_t token = 0;
    rc = vt->item_get(st, table, &item, &err);
    free(item);
    if (rc == DLD_ERR_NOT_FOUND)
        dld_error_set(&err, DLD_ERR_NOT_FOUND, "no controller item named '%s'", table);
    if (rc == DLD_OK)
        rc = dld_lease_acquire(vt, st, table, cfg.engine.lease_ttl_ms, &token, &err);
    if (rc == DLD_OK) {
        rc = vt->watermark_set(st, table, clear ? NULL : to, token, &err);
        struct dld_error rerr;
        dld_error_init(&rerr);
        vt->lease_release(st, table, token, &rerr);
    }
    int code = DLD_EXIT_OK;
    if (rc)
        code = dld_cli_fail(rc, &err);
    else if (cli->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "table", table);
        s_add_str(o, "watermark", clear ? NULL : to);
        dld_cli_print_json(o);
    } else if (clear)
        printf("%s: watermark cleared; the next run starts from the item's startvalue\n", table);
    else
        printf("%s: watermark set to %s; the next run loads values above it\n", table, to);
    vt->close(st);
    dld_config_clean_up(&cfg);
    return code;
}

/* ---- tables ---------------------------------------------------------------------- */
static int s_put_item(const struct dld_state_vtable *vt, void *st, cJSON *obj, struct dld_error *err)
{
    struct dld_item it;
    int rc = dld_item_parse(obj, &it, err);
    if (rc == DLD_OK) {
        rc = vt->item_put(st, it.name, it.item_json, err);
        dld_item_clean_up(&it);
    }
    return rc;
}

static int s_tables_set(struct dld_cli *cli, const struct dld_state_vtable *vt, void *st, const char *name, int first,
                        const char *flag, struct dld_error *err)
{
    char *text = NULL;
    cJSON *obj = NULL;
    int rc = vt->item_get(st, name, &text, err);
    if (rc == DLD_OK) {
        obj = cJSON_Parse(text);
        free(text);
    } else if (rc == DLD_ERR_NOT_FOUND && flag == NULL) {
        dld_error_init(err);
        obj = cJSON_CreateObject();
        cJSON_AddStringToObject(obj, "targetTableName", name);
    } else {
        if (rc == DLD_ERR_NOT_FOUND)
            dld_error_set(err, DLD_ERR_NOT_FOUND, "no controller item named '%s'", name);
        return rc;
    }
    if (!cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        return dld_error_set(err, DLD_ERR_FATAL, "stored item %s is not a JSON object", name);
    }
    if (flag) {
        cJSON_DeleteItemFromObjectCaseSensitive(obj, "activeflag");
        cJSON_AddStringToObject(obj, "activeflag", flag);
    }
    for (int i = first; flag == NULL && i < cli->argc; i++) {
        if (!strcmp(cli->argv[i], "--json"))
            continue;
        char *eq = strchr(cli->argv[i], '=');
        if (eq == NULL) {
            cJSON_Delete(obj);
            return dld_error_set(err, DLD_ERR_CONFIG, "expected ATTR=VALUE, got '%s'", cli->argv[i]);
        }
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)(eq - cli->argv[i]), cli->argv[i]);
        bool known = false;
        if ((rc = dld_item_attribute_check(key, &known, err))) { /* names the attribute it resembles */
            cJSON_Delete(obj);
            return rc;
        }
        if (!known) {
            cJSON_Delete(obj);
            return dld_error_set(err, DLD_ERR_CONFIG, "unknown attribute '%s' (see `deltaload tables --help`)", key);
        }
        if (!strcmp(key, "targetTableName")) {
            cJSON_Delete(obj);
            return dld_error_set(err, DLD_ERR_CONFIG, "targetTableName is the key; remove and set the item instead");
        }
        cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
        if (eq[1])
            cJSON_AddStringToObject(obj, key, eq + 1);
    }
    rc = s_put_item(vt, st, obj, err);
    if (rc == DLD_OK && !cli->json) {
        char *s = cJSON_Print(obj);
        printf("%s\n", s);
        free(s);
    } else if (rc == DLD_OK) {
        dld_cli_print_json(cJSON_Duplicate(obj, 1));
    }
    cJSON_Delete(obj);
    return rc;
}

static int s_tables_list(struct dld_cli *cli, const struct dld_state_vtable *vt, void *st, struct dld_error *err)
{
    char *text = NULL;
    int rc = vt->item_list(st, &text, err);
    if (rc)
        return rc;
    cJSON *arr = cJSON_Parse(text);
    free(text);
    if (cli->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "tables", arr);
        dld_cli_print_json(o);
        return DLD_OK;
    }
    printf("%-24s %-6s %-32s %-16s %-10s %-20s %-20s %s\n", "TABLE", "ACTIVE", "SOURCE", "FILTERCOLUMN", "OPERATOR",
           "STARTVALUE", "ENDVALUE", "PREFIX");
    for (cJSON *c = arr ? arr->child : NULL; c; c = c->next) {
        struct dld_item it;
        struct dld_error ierr;
        dld_error_init(&ierr);
        cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "targetTableName");
        if (dld_item_parse(c, &it, &ierr) != DLD_OK) {
            printf("%-24s invalid: %s\n", cJSON_IsString(name) ? name->valuestring : "?", ierr.message);
            continue;
        }
        char src[300];
        snprintf(src, sizeof src, "%s%s%s", it.schema, it.schema[0] ? "." : "", it.table);
        printf("%-24s %-6s %-32s %-16s %-10s %-20s %-20s %s\n", it.name, it.active ? "Y" : "N", src,
               it.column ? it.column : "-", it.op ? it.op : "-", it.start ? it.start : "-", it.end ? it.end : "-",
               it.prefix);
        dld_item_clean_up(&it);
    }
    cJSON_Delete(arr);
    return DLD_OK;
}

int dld_cmd_tables(struct dld_cli *cli)
{
    if (cli->argc < 2 || dld_cli_help_requested(cli->argc, cli->argv, s_tables_usage)) {
        if (cli->argc < 2) {
            fputs(s_tables_usage, stderr);
            return DLD_EXIT_USAGE;
        }
        return DLD_EXIT_OK;
    }
    const char *sub = cli->argv[1];
    const char *name = cli->argc > 2 ? cli->argv[2] : NULL;
    bool needs_name = strcmp(sub, "list") != 0;
    static const char *subs[] = {"list", "show", "set", "enable", "disable", "remove", NULL};
    bool known = false;
    for (int i = 0; subs[i]; i++)
        known |= !strcmp(sub, subs[i]);
    if (!known || (needs_name && (name == NULL || name[0] == '-'))) {
        fprintf(stderr, "deltaload: tables %s%s\n%s", sub, known ? " needs a table name" : ": unknown subcommand",
                s_tables_usage);
        return DLD_EXIT_USAGE;
    }
    struct dld_config cfg;
    struct dld_error err;
    dld_error_init(&err);
    void *st = NULL;
    int rc = dld_cli_open_state(&cfg, cli->config_path, &st, &err);
    if (rc)
        return dld_cli_fail(rc, &err);
    const struct dld_state_vtable *vt = &cfg.kinds[DLD_KIND_STATE].loaded.vt.state;
    if (!strcmp(sub, "list")) {
        rc = s_tables_list(cli, vt, st, &err);
    } else if (!strcmp(sub, "show")) {
        char *text = NULL;
        rc = vt->item_get(st, name, &text, &err);
        if (rc == DLD_OK) {
            cJSON *o = cJSON_Parse(text);
            dld_cli_print_json(o);
        } else if (rc == DLD_ERR_NOT_FOUND) {
            dld_error_set(&err, DLD_ERR_NOT_FOUND, "no controller item named '%s'", name);
        }
        free(text);
    } else if (!strcmp(sub, "set")) {
        /* the config's item would silently replace this one on the next run */
        for (const cJSON *t = cfg.tables ? cfg.tables->child : NULL; t && rc == DLD_OK; t = t->next) {
            const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "targetTableName"));
            if (n && !strcmp(n, name))
                rc = dld_error_set(&err, DLD_ERR_CONFIG,
                                   "%s is defined in %s under \"tables\": change it there (the next run would write "
                                   "the config's item over this one)",
                                   name, cfg.path);
        }
        if (rc == DLD_OK)
            rc = s_tables_set(cli, vt, st, name, 3, NULL, &err);
    } else if (!strcmp(sub, "enable") || !strcmp(sub, "disable")) {
        rc = s_tables_set(cli, vt, st, name, 3, sub[0] == 'e' ? "Y" : "N", &err);
    } else {
        char *text = NULL;
        rc = vt->item_get(st, name, &text, &err);
        free(text);
        if (rc == DLD_ERR_NOT_FOUND)
            dld_error_set(&err, DLD_ERR_NOT_FOUND, "no controller item named '%s'", name);
        if (rc == DLD_OK)
            rc = vt->item_delete(st, name, &err);
        if (rc == DLD_OK && !cli->json)
            printf("%s: removed (its history and watermark are kept)\n", name);
    }
    if (rc == DLD_OK && cfg.tables && strcmp(sub, "list") && strcmp(sub, "show")) {
        for (cJSON *t = cfg.tables->child; t; t = t->next) {
            cJSON *n = cJSON_GetObjectItemCaseSensitive(t, "targetTableName");
            if (cJSON_IsString(n) && !strcmp(n->valuestring, name))
                dld_core_logf(DLD_LOG_WARN, "tables",
                              "%s is also listed in %s under \"tables\": the next run writes the config's version again",
                              name, cfg.path);
        }
    }
    vt->close(st);
    dld_config_clean_up(&cfg);
    return rc ? dld_cli_fail(rc, &err) : DLD_EXIT_OK;
}

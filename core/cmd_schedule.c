/* schedule next|deploy|show|remove: check an expression before deploying
 * it, and manage a remote schedule through the configured scheduler plugin
 * (DLD_CAP_REMOTE_SCHEDULE, vtable members deploy/show/remove). */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <deltaload/schedule.h>

#include "cli.h"
#include "host.h"

static const char s_usage[] =
    "usage: deltaload [-c FILE] schedule next [-n N] [--after TIME] [--expression EXPR] [--timezone TZ] [--json]\n"
    "       deltaload [-c FILE] schedule deploy [--table NAME]... [--json]\n"
    "       deltaload [-c FILE] schedule show [--json]\n"
    "       deltaload [-c FILE] schedule remove [--json]\n"
    "next: the next N (default 5) fire times of the configured schedule (or --expression/--timezone),\n"
    "  strictly after TIME (ISO 8601, 2024-03-09T12:00:00Z or with an offset; no zone means UTC;\n"
    "  default now), in UTC and in the schedule's local time, with a one-line description.\n"
    "  rate() periods are counted from TIME.\n"
    "deploy: creates or updates the remote schedule (idempotent); its target runs this config and the\n"
    "  --table names (all active tables when none). show: what is deployed and how it differs from the\n"
    "  config. remove: deletes it. These need a scheduler plugin that deploys (eventbridge).\n";

/* "2024-03-09T12:00:00Z", "...T12:00Z", "...T12:00:00.250+02:00", "now" */
static int s_parse_time(const char *text, int64_t *out)
{
    if (strcmp(text, "now") == 0) {
        *out = dld_core_now_ms();
        return 0;
    }
    int y, mo, d, h, mi, n = 0;
    if (sscanf(text, "%4d-%2d-%2dT%2d:%2d%n", &y, &mo, &d, &h, &mi, &n) != 5 || n != 16)
        return -1;
    const char *p = text + n;
    int se = 0, ms = 0;
    if (*p == ':') {
        if (!isdigit((unsigned char)p[1]) || !isdigit((unsigned char)p[2]))
            return -1;
        se = (p[1] - '0') * 10 + (p[2] - '0');
        p += 3;
        if (*p == '.') {
            p++;
            int digits = 0;
            while (isdigit((unsigned char)*p)) {
                if (digits < 3)
                    ms = ms * 10 + (*p - '0');
                digits++;
                p++;
            }
            for (; digits < 3; digits++)
                ms *= 10;
        }
    }
    int64_t off_s = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om = 0, k = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &k) == 2 && k == 5)
            p += 6;
        else if (sscanf(p + 1, "%2d%n", &oh, &k) == 1 && k == 2)
            p += 3;
        else
            return -1;
        off_s = sign * (oh * 3600 + om * 60);
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59)
        return -1;
    *out = (dld_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se - off_s) * 1000 + ms;
    return 0;
}

static void s_iso_utc(int64_t ms, char *buf, size_t cap)
{
    int64_t t = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400), sec = t - days * 86400, y;
    unsigned mo, d;
    dld_civil_from_days(days, &y, &mo, &d);
    snprintf(buf, cap, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ", (long long)y, mo, d, (long long)(sec / 3600),
             (long long)(sec % 3600 / 60), (long long)(sec % 60));
}

static int s_next(struct dld_cli *cli)
{
    long count = 5;
    const char *after_text = NULL, *expr = NULL, *tz = NULL;
    for (int i = 2; i < cli->argc; i++) {
        const char *a = cli->argv[i], *v = i + 1 < cli->argc ? cli->argv[i + 1] : NULL;
        if (!strcmp(a, "--json"))
            continue;
        if ((!strcmp(a, "-n") || !strcmp(a, "--count")) && v) {
            char *end;
            count = strtol(v, &end, 10);
            if (*end != '\0' || count < 1 || count > 10000) {
                fprintf(stderr, "deltaload: -n needs a number 1-10000\n");
                return DLD_EXIT_USAGE;
            }
            i++;
        } else if (!strcmp(a, "--after") && v) {
            after_text = v;
            i++;
        } else if (!strcmp(a, "--expression") && v) {
            expr = v;
            i++;
        } else if (!strcmp(a, "--timezone") && v) {
            tz = v;
            i++;
        } else {
            fprintf(stderr, "deltaload: unexpected argument '%s'\n%s", a, s_usage);
            return DLD_EXIT_USAGE;
        }
    }
    int64_t after = dld_core_now_ms();
    if (after_text != NULL && s_parse_time(after_text, &after) != 0) {
        fprintf(stderr, "deltaload: --after '%s': expected an ISO 8601 time such as 2024-03-09T12:00:00Z\n",
                after_text);
        return DLD_EXIT_USAGE;
    }
    struct dld_error err;
    dld_error_init(&err);
    struct dld_config cfg;
    bool have_cfg = false;
    char *expr_copy = NULL, *tz_copy = NULL;
    if (expr == NULL) {
        int rc = dld_config_load(cli->config_path, &cfg, &err);
        if (rc != DLD_OK)
            return dld_cli_fail(rc, &err);
        have_cfg = true;
        const struct dld_plugin_conf *pc = &cfg.kinds[DLD_KIND_SCHEDULER];
        const cJSON *e = pc->present ? cJSON_GetObjectItemCaseSensitive(pc->options, "expression") : NULL;
        const cJSON *z = pc->present ? cJSON_GetObjectItemCaseSensitive(pc->options, "timezone") : NULL;
        if (!cJSON_IsString(e)) {
            dld_config_clean_up(&cfg);
            fprintf(stderr, "deltaload: error: %s: no scheduler.options.expression (or give --expression)\n",
                    cli->config_path);
            return DLD_EXIT_CONFIG;
        }
        expr_copy = strdup(e->valuestring);
        if (tz == NULL && cJSON_IsString(z))
            tz_copy = strdup(z->valuestring);
        expr = expr_copy;
        if (tz_copy)
            tz = tz_copy;
    }
    struct dld_schedule s;
    int rc = dld_schedule_parse(&s, expr, &err);
    if (rc == DLD_OK)
        rc = dld_schedule_set_timezone(&s, tz, &err);
    int code = DLD_EXIT_OK;
    if (rc != DLD_OK) {
        code = dld_cli_fail(rc, &err);
        goto out;
    }
    char desc[512], utc[40], local[96];
    dld_schedule_describe(&s, desc, sizeof desc);
    cJSON *o = cli->json ? cJSON_CreateObject() : NULL, *fires = NULL;
    if (o) {
        cJSON_AddStringToObject(o, "expression", expr);
        cJSON_AddStringToObject(o, "timezone", s.tz);
        cJSON_AddStringToObject(o, "description", desc);
        s_iso_utc(after, utc, sizeof utc);
        cJSON_AddStringToObject(o, "after", utc);
        fires = cJSON_AddArrayToObject(o, "fires");
    } else {
        printf("%s\n", desc);
    }
    int64_t t = after;
    long k = 0;
    for (; k < count; k++) {
        int64_t next;
        rc = dld_schedule_next(&s, after, t, &next); /* rate(): periods counted from --after */
        if (rc != DLD_OK)
            break;
        s_iso_utc(next, utc, sizeof utc);
        dld_schedule_local_time(&s, next, local, sizeof local, NULL);
        if (o) {
            cJSON *f = cJSON_CreateObject();
            cJSON_AddStringToObject(f, "utc", utc);
            cJSON_AddStringToObject(f, "local", local);
            cJSON_AddItemToArray(fires, f);
        } else {
            printf("%s  %s\n", utc, local);
        }
        t = next;
    }
    bool never = rc == DLD_DONE;
    if (o) {
        cJSON_AddBoolToObject(o, "ends", never);
        dld_cli_print_json(o);
    } else if (never) {
        printf(k == 0 ? "never fires after that time\n" : "and never again\n");
    }
out:
    free(expr_copy);
    free(tz_copy);
    if (have_cfg)
        dld_config_clean_up(&cfg);
    return code;
}

/* deploy, show, remove through the scheduler plugin */
static int s_remote(struct dld_cli *cli, const char *action)
{
    cJSON *tables = cJSON_CreateArray();
    for (int i = 2; i < cli->argc; i++) {
        const char *a = cli->argv[i], *v = i + 1 < cli->argc ? cli->argv[i + 1] : NULL;
        if (!strcmp(a, "--json"))
            continue;
        if (!strcmp(action, "deploy") && !strcmp(a, "--table") && v) {
            cJSON_AddItemToArray(tables, cJSON_CreateString(v));
            i++;
        } else {
            fprintf(stderr, "deltaload: unexpected argument '%s'\n%s", a, s_usage);
            cJSON_Delete(tables);
            return DLD_EXIT_USAGE;
        }
    }
    struct dld_config cfg;
    struct dld_error err;
    dld_error_init(&err);
    int rc = dld_config_load(cli->config_path, &cfg, &err);
    if (rc != DLD_OK) {
        cJSON_Delete(tables);
        return dld_cli_fail(rc, &err);
    }
    int code = DLD_EXIT_OK;
    void *inst = NULL;
    char *result = NULL;
    rc = dld_config_plugin(&cfg, DLD_KIND_SCHEDULER, &err);
    const struct dld_plugin_conf *pc = &cfg.kinds[DLD_KIND_SCHEDULER];
    const struct dld_scheduler_vtable *vt = &pc->loaded.vt.scheduler;
    if (rc == DLD_OK) {
        bool able = (pc->loaded.desc.capabilities & DLD_CAP_REMOTE_SCHEDULE) &&
                    (!strcmp(action, "deploy") ? vt->deploy != NULL
                     : !strcmp(action, "show") ? vt->show != NULL
                                               : vt->remove != NULL);
        if (!able)
            rc = dld_error_set(&err, DLD_ERR_UNSUPPORTED,
                               "scheduler '%s' does not %s schedules (the daemon itself is its scheduler); use a "
                               "scheduler that deploys, such as eventbridge",
                               pc->plugin, action);
    }
    if (rc == DLD_OK)
        rc = vt->open(dld_core_host(), (const char *const *)pc->kv, &inst, &err);
    if (rc == DLD_OK) {
        if (!strcmp(action, "deploy")) {
            cJSON *cmd = cJSON_CreateObject();
            char *abs = realpath(cli->config_path, NULL);
            cJSON_AddStringToObject(cmd, "config", abs ? abs : cli->config_path);
            free(abs);
            cJSON_AddItemToObject(cmd, "tables", tables);
            tables = NULL;
            char *cmd_json = cJSON_PrintUnformatted(cmd);
            cJSON_Delete(cmd);
            rc = vt->deploy(inst, cmd_json, &result, &err);
            free(cmd_json);
        } else if (!strcmp(action, "show")) {
            rc = vt->show(inst, &result, &err);
        } else {
            rc = vt->remove(inst, &result, &err);
        }
    }
    if (rc != DLD_OK) {
        dld_error_prefix(&err, "schedule %s", action);
        code = dld_cli_fail(rc, &err);
    } else if (result != NULL) {
        cJSON *r = cJSON_Parse(result);
        if (cli->json || r == NULL) {
            if (r)
                dld_cli_print_json(r);
            else
                puts(result);
        } else {
            /* a short human summary, then the JSON itself */
            const cJSON *act = cJSON_GetObjectItemCaseSensitive(r, "action");
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(r, "name");
            const cJSON *diff = cJSON_GetObjectItemCaseSensitive(r, "differences");
            const cJSON *dep = cJSON_GetObjectItemCaseSensitive(r, "deployed");
            const cJSON *rem = cJSON_GetObjectItemCaseSensitive(r, "removed");
            if (cJSON_IsString(act))
                printf("%s: %s\n", cJSON_IsString(name) ? name->valuestring : "schedule", act->valuestring);
            if (cJSON_IsBool(rem))
                printf("%s: %s\n", cJSON_IsString(name) ? name->valuestring : "schedule",
                       cJSON_IsTrue(rem) ? "removed" : "nothing deployed");
            if (dep != NULL && cJSON_IsNull(dep))
                printf("nothing deployed\n");
            else if (dep != NULL) {
                char *d = cJSON_Print(dep);
                printf("deployed:\n%s\n", d);
                free(d);
            }
            if (cJSON_IsArray(diff)) {
                if (cJSON_GetArraySize(diff) == 0 && !strcmp(action, "show") && !cJSON_IsNull(dep))
                    printf("in sync with the config\n");
                const cJSON *x;
                cJSON_ArrayForEach(x, diff)
                {
                    char *dv = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(x, "deployed"));
                    char *cv = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(x, "config"));
                    const cJSON *f = cJSON_GetObjectItemCaseSensitive(x, "field");
                    printf("differs: %s: deployed %s, config %s\n", cJSON_IsString(f) ? f->valuestring : "?",
                           dv ? dv : "null", cv ? cv : "null");
                    free(dv);
                    free(cv);
                }
            }
            cJSON_Delete(r);
        }
        dld_core_host()->free(result);
    }
    if (inst)
        vt->close(inst);
    cJSON_Delete(tables);
    dld_config_clean_up(&cfg);
    return code;
}

int dld_cmd_schedule(struct dld_cli *cli)
{
    if (cli->argc < 2 || !strcmp(cli->argv[1], "--help") || !strcmp(cli->argv[1], "-h")) {
        fputs(s_usage, cli->argc < 2 ? stderr : stdout);
        return cli->argc < 2 ? DLD_EXIT_USAGE : DLD_EXIT_OK;
    }
    if (dld_cli_help_requested(cli->argc, cli->argv, s_usage))
        return DLD_EXIT_OK;
    const char *sub = cli->argv[1];
    if (!strcmp(sub, "next"))
        return s_next(cli);
    if (!strcmp(sub, "deploy") || !strcmp(sub, "show") || !strcmp(sub, "remove"))
        return s_remote(cli, sub);
    fprintf(stderr, "deltaload: schedule: unknown subcommand '%s'\n%s", sub, s_usage);
    return DLD_EXIT_USAGE;
}

/* run, plan, backfill and daemon: the commands that drive the engine. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "engine.h"
#include "host.h"

static const char s_run_usage[] =
    "usage: deltaload [-c FILE] run [--table NAME]... [--json]\n"
    "Loads one cycle: for each active table (or each --table), claims its lease, recovers an\n"
    "interrupted load, loads the window (watermark, current high mark] and commits the new watermark.\n"
    "Tables run in parallel up to engine.parallelism. Exit: 0 ok, 1 a table failed, 4 a table's lease is\n"
    "held by another process, 3 config error.\n";
static const char s_plan_usage[] =
    "usage: deltaload [-c FILE] plan [--table NAME]... [--json]\n"
    "Dry run: prints per table the window that `run` would load and the exact query, with its\n"
    "bound values. Reads the source's high mark; writes nothing anywhere (no lease, no files, no state).\n";
static const char s_backfill_usage[] =
    "usage: deltaload [-c FILE] backfill --table NAME --from A --to B [--json]\n"
    "Loads rows with A <= filtercolumn <= B of one table again, as a separate load in the lake.\n"
    "The watermark is not moved. Use it to repair or re-export a range.\n";
static const char s_daemon_usage[] =
    "usage: deltaload [-c FILE] daemon [--max-cycles N] [--json]\n"
    "Runs a cycle (like `run`) each time the configured scheduler fires, until SIGINT/SIGTERM\n"
    "(or N cycles). A failed table does not stop the daemon; it is retried at the next cycle.\n";

/* Collects --table NAME options; returns -1 on a usage error. */
static int s_parse(struct dld_cli *cli, const char *usage, const char ***tables, const char **from, const char **to,
                   long *max_cycles)
{
    const char **list = calloc((size_t)cli->argc + 1, sizeof(char *));
    int n = 0;
    for (int i = 1; i < cli->argc; i++) {
        const char *a = cli->argv[i];
        const char *v = i + 1 < cli->argc ? cli->argv[i + 1] : NULL;
        if (!strcmp(a, "--json"))
            continue;
        if (!strcmp(a, "--table") && v) {
            list[n++] = v;
            i++;
        } else if (!strncmp(a, "--table=", 8)) {
            list[n++] = a + 8;
        } else if (from && !strcmp(a, "--from") && v) {
            *from = v;
            i++;
        } else if (to && !strcmp(a, "--to") && v) {
            *to = v;
            i++;
        } else if (max_cycles && !strcmp(a, "--max-cycles") && v) {
            *max_cycles = atol(v);
            i++;
        } else {
            fprintf(stderr, "deltaload: unexpected argument '%s'\n%s", a, usage);
            free(list);
            return -1;
        }
    }
    if (n == 0) {
        free(list);
        list = NULL;
    }
    *tables = list;
    return 0;
}

static cJSON *s_result_json(const struct dld_table_result *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "table", r->name);
    cJSON_AddStringToObject(o, "outcome", dld_outcome_name(r->outcome));
    if (r->load_id)
        cJSON_AddNumberToObject(o, "load_id", (double)r->load_id);
    if (r->mode)
        cJSON_AddStringToObject(o, "mode", dld_mode_name(r->mode));
    cJSON *w = cJSON_AddObjectToObject(o, "window");
    if (r->low) cJSON_AddStringToObject(w, "low", r->low); else cJSON_AddNullToObject(w, "low");
    cJSON_AddBoolToObject(w, "low_inclusive", r->low_inclusive);
    if (r->high) cJSON_AddStringToObject(w, "high", r->high); else cJSON_AddNullToObject(w, "high");
    if (r->query)
        cJSON_AddStringToObject(o, "query", r->query);
    if (r->snapshot)
        cJSON_AddStringToObject(o, "snapshot", r->snapshot);
    if (r->recovery)
        cJSON_AddStringToObject(o, "recovery", r->recovery);
    cJSON_AddNumberToObject(o, "rows", (double)r->rows);
    cJSON_AddNumberToObject(o, "bytes", (double)r->bytes);
    cJSON_AddNumberToObject(o, "files", (double)r->files);
    cJSON_AddNumberToObject(o, "duration_ms", (double)(r->ended_ms - r->started_ms));
    if (r->error)
        cJSON_AddStringToObject(o, "error", r->error);
    return o;
}

static void s_print_window(const struct dld_table_result *r)
{
    if (r->mode == DLD_MODE_FULL)
        printf("full snapshot");
    else
        printf("%s%s, %s]", r->low && r->low_inclusive ? "[" : "(", r->low ? r->low : "-inf", r->high ? r->high : "(empty)");
}

static int s_report(struct dld_cli *cli, struct dld_table_result *res, int n, bool plan)
{
    int exit_code = DLD_EXIT_OK;
    bool leased = false;
    for (int i = 0; i < n; i++) {
        if (res[i].outcome == DLD_OUT_FAILED)
            exit_code = DLD_EXIT_FAILED;
        leased |= res[i].outcome == DLD_OUT_LEASED;
    }
    if (exit_code == DLD_EXIT_OK && leased)
        exit_code = DLD_EXIT_LEASED;
    if (cli->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON *arr = cJSON_AddArrayToObject(o, "tables");
        for (int i = 0; i < n; i++)
            cJSON_AddItemToArray(arr, s_result_json(&res[i]));
        cJSON_AddNumberToObject(o, "exit_code", exit_code);
        dld_cli_print_json(o);
        return exit_code;
    }
    if (n == 0)
        printf("no active tables (add some with `deltaload tables set` or the config's \"tables\")\n");
    for (int i = 0; i < n; i++) {
        const struct dld_table_result *r = &res[i];
        if (plan) {
            printf("%s: load %lld, %s, window ", r->name, (long long)r->load_id, dld_mode_name(r->mode));
            s_print_window(r);
            printf("\n");
            if (r->recovery)
                printf("  recovery: %s\n", r->recovery);
            if (r->snapshot)
                printf("  snapshot: %s\n", r->snapshot);
            if (r->query)
                printf("  query: %s\n", r->query);
            if (r->error)
                printf("  error: %s\n", r->error);
            continue;
        }
        printf("%-24s %-9s", r->name, dld_outcome_name(r->outcome));
        if (r->outcome == DLD_OUT_COMMITTED || r->outcome == DLD_OUT_NOOP) {
            printf(" load %-4lld %10lld rows %4lld files %12lld bytes %7.2fs  ", (long long)r->load_id,
                   (long long)r->rows, (long long)r->files, (long long)r->bytes,
                   (double)(r->ended_ms - r->started_ms) / 1000.0);
            s_print_window(r);
        }
        if (r->error)
            printf(" %s", r->error);
        printf("\n");
        if (r->recovery)
            printf("%-24s recovery: %s\n", "", r->recovery);
    }
    return exit_code;
}

static int s_cycle(struct dld_cli *cli, struct dld_config *cfg, const struct dld_run_request *req, bool plan)
{
    struct dld_error err;
    dld_error_init(&err);
    struct dld_table_result *res = NULL;
    int n = 0;
    int rc = dld_engine_run(cfg, req, &res, &n, &err);
    if (rc != DLD_OK)
        return dld_cli_fail(rc, &err);
    int code = s_report(cli, res, n, plan);
    dld_results_free(res, n);
    if (dld_core_cancelled())
        return DLD_EXIT_INTERRUPTED;
    return code;
}

static int s_engine_command(struct dld_cli *cli, const char *usage, bool plan, bool backfill)
{
    if (dld_cli_help_requested(cli->argc, cli->argv, usage))
        return DLD_EXIT_OK;
    const char **tables = NULL;
    const char *from = NULL, *to = NULL;
    if (s_parse(cli, usage, &tables, backfill ? &from : NULL, backfill ? &to : NULL, NULL) != 0)
        return DLD_EXIT_USAGE;
    if (backfill && (tables == NULL || tables[1] != NULL || from == NULL || to == NULL)) {
        fprintf(stderr, "deltaload: backfill needs exactly one --table, --from and --to\n%s", usage);
        free(tables);
        return DLD_EXIT_USAGE;
    }
    struct dld_config cfg;
    struct dld_error err;
    dld_error_init(&err);
    int rc = dld_config_load(cli->config_path, &cfg, &err);
    int code;
    if (rc != DLD_OK) {
        code = dld_cli_fail(rc, &err);
    } else {
        struct dld_run_request req = {
            .tables = tables, .plan_only = plan, .backfill_from = from, .backfill_to = to};
        code = s_cycle(cli, &cfg, &req, plan);
    }
    dld_config_clean_up(&cfg);
    free(tables);
    return code;
}

int dld_cmd_run(struct dld_cli *cli) { return s_engine_command(cli, s_run_usage, false, false); }
int dld_cmd_plan(struct dld_cli *cli) { return s_engine_command(cli, s_plan_usage, true, false); }
int dld_cmd_backfill(struct dld_cli *cli) { return s_engine_command(cli, s_backfill_usage, false, true); }

int dld_cmd_daemon(struct dld_cli *cli)
{
    if (dld_cli_help_requested(cli->argc, cli->argv, s_daemon_usage))
        return DLD_EXIT_OK;
    const char **tables = NULL;
    long max_cycles = 0;
    if (s_parse(cli, s_daemon_usage, &tables, NULL, NULL, &max_cycles) != 0)
        return DLD_EXIT_USAGE;
    struct dld_config cfg;
    struct dld_error err;
    dld_error_init(&err);
    void *sched = NULL;
    int code = DLD_EXIT_OK;
    int rc = dld_config_load(cli->config_path, &cfg, &err);
    if (rc == DLD_OK)
        rc = dld_config_plugin(&cfg, DLD_KIND_SCHEDULER, &err);
    const struct dld_scheduler_vtable *vt = &cfg.kinds[DLD_KIND_SCHEDULER].loaded.vt.scheduler;
    if (rc == DLD_OK)
        rc = vt->open(dld_core_host(), (const char *const *)cfg.kinds[DLD_KIND_SCHEDULER].kv, &sched, &err);
    if (rc != DLD_OK) {
        code = dld_cli_fail(rc, &err);
        goto out;
    }
    char *desc = NULL;
    if (vt->describe && vt->describe(sched, &desc, &err) == DLD_OK && desc) {
        dld_core_logf(DLD_LOG_INFO, "daemon", "schedule: %s", desc);
        free(desc);
    }
    int64_t after = dld_core_now_ms();
    for (long cycle = 0; (max_cycles == 0 || cycle < max_cycles) && !dld_core_cancelled(); cycle++) {
        int64_t next;
        rc = vt->next_fire(sched, after, &next, &err);
        if (rc == DLD_DONE) {
            dld_core_logf(DLD_LOG_INFO, "daemon", "the schedule never fires again; stopping");
            break;
        }
        if (rc != DLD_OK) {
            code = dld_cli_fail(rc, &err);
            break;
        }
        time_t t = (time_t)(next / 1000);
        struct tm tm;
        char when[32];
        gmtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        dld_core_logf(DLD_LOG_INFO, "daemon", "next cycle at %s", when);
        /* sleep in short steps so a signal ends the wait promptly */
        while (!dld_core_cancelled() && dld_core_now_ms() < next) {
            int64_t left = next - dld_core_now_ms();
            usleep((useconds_t)(left > 200 ? 200000 : left * 1000));
        }
        if (dld_core_cancelled())
            break;
        struct dld_run_request req = {.tables = tables};
        code = s_cycle(cli, &cfg, &req, false);
        after = next;
        fflush(stdout);
    }
    vt->close(sched);
    if (dld_core_cancelled())
        code = DLD_EXIT_OK; /* a signal is how a daemon is asked to stop */
out:
    dld_config_clean_up(&cfg);
    free(tables);
    return code;
}

/* run, plan, backfill and daemon: the commands that drive the engine. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "engine.h"
#include "host.h"
#include "metrics.h"

static const char s_run_usage[] =
    "usage: deltaload [-c FILE] run [--table NAME]... [--json]\n"
    "       deltaload [-c FILE] run --event FILE|-\n"
    "Loads one cycle: for each active table (or each --table), claims its lease, recovers an\n"
    "interrupted load, loads the window (watermark, current high mark] and commits the new watermark.\n"
    "Tables run in parallel up to engine.parallelism. Exit: 0 ok, 1 a table failed, 4 a table's lease is\n"
    "held by another process, 3 config error.\n"
    "--event: runs what an EventBridge payload asks for (the scheduled-event envelope, or the input\n"
    "{\"deltaload\": {\"config\": PATH, \"tables\": [...]}} that `schedule deploy` configures; - reads stdin):\n"
    "the tables it names, or every active one, with the config it names, or -c. Prints the per-table\n"
    "results as JSON. Exit codes as above; 2 for a payload that is neither.\n";
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
    "(or N cycles). A failed table does not stop the daemon; it is retried at the next cycle.\n"
    "SIGHUP re-reads the config between cycles. Exit on SIGINT/SIGTERM: 0 when idle, 130 when a cycle\n"
    "was cut short. Under systemd (Type=notify) it reports READY=1, STATUS=, RELOADING=1 and STOPPING=1.\n";

/* Collects --table NAME options; returns -1 on a usage error. */
static int s_parse(struct dld_cli *cli, const char *usage, const char ***tables, const char **from, const char **to,
                   long *max_cycles, const char **event)
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
        } else if (event && !strcmp(a, "--event") && v) {
            *event = v;
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

/* the daemon's log line of one table: the same text `run` prints */
static void s_log_result(const struct dld_table_result *r)
{
    char line[4096];
    size_t n = 0;
#define S_ADD(...)                                                                                                     \
    do {                                                                                                               \
        if (n < sizeof line)                                                                                           \
            n += (size_t)snprintf(line + n, sizeof line - n, __VA_ARGS__);                                             \
    } while (0)
    S_ADD("%-24s %-9s", r->name, dld_outcome_name(r->outcome));
    if (r->outcome == DLD_OUT_COMMITTED || r->outcome == DLD_OUT_NOOP) {
        S_ADD(" load %-4lld %10lld rows %4lld files %12lld bytes %7.2fs  ", (long long)r->load_id, (long long)r->rows,
              (long long)r->files, (long long)r->bytes, (double)(r->ended_ms - r->started_ms) / 1000.0);
        if (r->mode == DLD_MODE_FULL)
            S_ADD("full snapshot");
        else
            S_ADD("%s%s, %s]", r->low && r->low_inclusive ? "[" : "(", r->low ? r->low : "-inf",
                  r->high ? r->high : "(empty)");
    }
    if (r->error)
        S_ADD(" %s", r->error);
    if (r->recovery)
        S_ADD("; recovery: %s", r->recovery);
#undef S_ADD
    dld_core_logf(r->outcome == DLD_OUT_FAILED ? DLD_LOG_ERROR : r->outcome == DLD_OUT_LEASED ? DLD_LOG_WARN
                                                                                               : DLD_LOG_INFO,
                  "daemon", "%s", line);
}

static int s_exit_code(const struct dld_table_result *res, int n)
{
    int code = DLD_EXIT_OK;
    bool leased = false;
    for (int i = 0; i < n; i++) {
        if (res[i].outcome == DLD_OUT_FAILED)
            code = DLD_EXIT_FAILED;
        leased |= res[i].outcome == DLD_OUT_LEASED;
    }
    return code == DLD_EXIT_OK && leased ? DLD_EXIT_LEASED : code;
}

/* daemon: one log line per table instead of the table on stdout (--json
 * still prints the cycle's document on stdout) */
static int s_cycle(struct dld_cli *cli, struct dld_config *cfg, const struct dld_run_request *req, bool plan,
                   bool daemon)
{
    struct dld_error err;
    dld_error_init(&err);
    struct dld_table_result *res = NULL;
    int n = 0;
    int rc = dld_engine_run(cfg, req, &res, &n, &err);
    if (rc != DLD_OK) {
        int code = dld_cli_fail(rc, &err);
        /* a state store call cut short by SIGINT/SIGTERM (the lease taken
         * before any table starts) is the signal's doing: 130, not 5 */
        return dld_core_cancelled() ? DLD_EXIT_INTERRUPTED : code;
    }
    if (!plan)
        dld_ops_after_cycle(cfg, res, n); /* metrics file and notifications (metrics.c, notify.c) */
    int code;
    if (daemon) {
        for (int i = 0; i < n; i++)
            s_log_result(&res[i]);
        if (n == 0)
            dld_core_logf(DLD_LOG_INFO, "daemon", "no active tables");
        code = cli->json ? s_report(cli, res, n, plan) : s_exit_code(res, n);
    } else {
        code = s_report(cli, res, n, plan);
    }
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
    if (s_parse(cli, usage, &tables, backfill ? &from : NULL, backfill ? &to : NULL, NULL, NULL) != 0)
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
        code = s_cycle(cli, &cfg, &req, plan, false);
    }
    dld_config_clean_up(&cfg);
    free(tables);
    return code;
}

/* ---- run --event and lambda: the payload EventBridge delivers to a target ---------- */

#define S_EVENT_MAX_BYTES (6 * 1024 * 1024) /* Lambda's largest synchronous payload */
#define S_EVENT_MAX_TABLES 1000

static int s_bad_event(struct dld_error *err, const char *what)
{
    dld_error_set(err, DLD_ERR_CONFIG, "invalid event: %s", what);
    snprintf(err->upstream_code, sizeof err->upstream_code, "InvalidEvent");
    return DLD_ERR_CONFIG;
}

/* {"config": PATH, "tables": [NAME...]}: both optional, nothing else */
static int s_event_input(const cJSON *d, char **config, char ***tables, struct dld_error *err)
{
    if (!cJSON_IsObject(d))
        return s_bad_event(err, "\"deltaload\" must be an object {\"config\": PATH, \"tables\": [NAME, ...]}");
    const cJSON *m;
    cJSON_ArrayForEach(m, d)
    {
        if (strcmp(m->string, "config") && strcmp(m->string, "tables")) {
            char what[160];
            snprintf(what, sizeof what, "unknown member \"deltaload\".\"%.60s\" (known: config, tables)", m->string);
            return s_bad_event(err, what);
        }
    }
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(d, "config");
    if (c && !cJSON_IsNull(c)) {
        if (!cJSON_IsString(c) || c->valuestring[0] == '\0')
            return s_bad_event(err, "\"deltaload\".\"config\" must be a non-empty string (the config's path)");
        *config = strdup(c->valuestring);
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(d, "tables");
    if (t && !cJSON_IsNull(t)) {
        if (!cJSON_IsArray(t))
            return s_bad_event(err, "\"deltaload\".\"tables\" must be an array of table names");
        int n = cJSON_GetArraySize(t);
        if (n > S_EVENT_MAX_TABLES)
            return s_bad_event(err, "\"deltaload\".\"tables\" names more than 1000 tables");
        if (n == 0)
            return DLD_OK; /* [] as absent: every active table */
        *tables = calloc((size_t)n + 1, sizeof(char *));
        int k = 0;
        cJSON_ArrayForEach(m, t)
        {
            if (!cJSON_IsString(m) || m->valuestring[0] == '\0')
                return s_bad_event(err, "\"deltaload\".\"tables\" must hold non-empty strings");
            (*tables)[k++] = strdup(m->valuestring);
        }
    }
    return DLD_OK;
}

/* Reads what the payload asks for: *config and *tables stay NULL for "the
 * default config" and "every active table"; *about describes the event. */
static int s_event_parse(const char *text, size_t len, char **config, char ***tables, cJSON **about,
                         struct dld_error *err)
{
    const char *end = NULL;
    cJSON *ev = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (ev == NULL)
        return s_bad_event(err, "not JSON");
    int rc = DLD_OK;
    cJSON *info = cJSON_CreateObject();
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(ev, "deltaload");
    const char *source = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "source"));
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "detail-type"));
    if (!cJSON_IsObject(ev)) {
        rc = s_bad_event(err, "expected a JSON object (a scheduled event, or {\"deltaload\": {...}})");
    } else if (d) {
        /* the input `schedule deploy` gives a Lambda or any-ARN target */
        cJSON_AddStringToObject(info, "kind", "input");
        rc = s_event_input(d, config, tables, err);
    } else if (source && type) {
        /* the envelope of an EventBridge rule's target that has no input */
        if (strcmp(type, "Scheduled Event") != 0) {
            char what[256];
            snprintf(what, sizeof what, "an event of type '%.80s' from '%.80s' is not a scheduled event", type, source);
            rc = s_bad_event(err, what);
        } else {
            cJSON_AddStringToObject(info, "kind", "scheduled-event");
            static const char *keep[] = {"id", "time", "source", "account", "region", "resources", NULL};
            for (int i = 0; keep[i]; i++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, keep[i]);
                if (v)
                    cJSON_AddItemToObject(info, keep[i], cJSON_Duplicate(v, true));
            }
            const cJSON *detail = cJSON_GetObjectItemCaseSensitive(ev, "detail");
            const cJSON *dd = cJSON_GetObjectItemCaseSensitive(detail, "deltaload");
            if (dd)
                rc = s_event_input(dd, config, tables, err);
        }
    } else if (cJSON_GetArraySize(ev) == 0) {
        cJSON_AddStringToObject(info, "kind", "empty"); /* a target given {} as its input */
    } else {
        rc = s_bad_event(err, "neither an EventBridge scheduled event (\"source\", \"detail-type\") nor the input "
                              "{\"deltaload\": {\"config\": PATH, \"tables\": [...]}}");
    }
    cJSON_Delete(ev);
    if (rc != DLD_OK) {
        cJSON_Delete(info);
        free(*config);
        *config = NULL;
        for (char **t = *tables; t && *t; t++)
            free(*t);
        free(*tables);
        *tables = NULL;
        return rc;
    }
    *about = info;
    return DLD_OK;
}

int dld_run_event(const char *config_path, const char *event, size_t len, cJSON **result, struct dld_error *err)
{
    *result = NULL;
    char *config = NULL, **tables = NULL;
    cJSON *about = NULL;
    int rc = s_event_parse(event, len, &config, &tables, &about, err);
    if (rc != DLD_OK)
        return DLD_EXIT_USAGE;
    const char *path = config ? config : config_path;
    struct dld_config cfg;
    int code;
    rc = dld_config_load(path, &cfg, err);
    if (rc != DLD_OK) {
        code = dld_cli_exit_for(rc);
        dld_error_prefix(err, "config %s", path);
    } else {
        struct dld_run_request req = {.tables = (const char *const *)tables};
        struct dld_table_result *res = NULL;
        int n = 0;
        rc = dld_engine_run(&cfg, &req, &res, &n, err);
        if (rc != DLD_OK) {
            code = dld_cli_exit_for(rc);
        } else {
            dld_ops_after_cycle(&cfg, res, n); /* metrics file and notifications, as for run */
            code = DLD_EXIT_OK;
            bool leased = false;
            cJSON *o = cJSON_CreateObject();
            cJSON_AddItemToObject(o, "event", about);
            about = NULL;
            cJSON_AddStringToObject(o, "config", path);
            cJSON *arr = cJSON_AddArrayToObject(o, "tables");
            for (int i = 0; i < n; i++) {
                cJSON_AddItemToArray(arr, s_result_json(&res[i]));
                if (res[i].outcome == DLD_OUT_FAILED)
                    code = DLD_EXIT_FAILED;
                leased |= res[i].outcome == DLD_OUT_LEASED;
            }
            if (code == DLD_EXIT_OK && leased)
                code = DLD_EXIT_LEASED;
            if (dld_core_cancelled())
                code = DLD_EXIT_INTERRUPTED;
            cJSON_AddNumberToObject(o, "exit_code", code);
            *result = o;
            dld_results_free(res, n);
        }
    }
    dld_config_clean_up(&cfg);
    cJSON_Delete(about);
    free(config);
    for (char **t = tables; t && *t; t++)
        free(*t);
    free(tables);
    return code;
}

/* reads FILE or stdin ("-"), at most S_EVENT_MAX_BYTES */
static char *s_read_event(const char *path, size_t *len, struct dld_error *err)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (f == NULL) {
        dld_error_set(err, DLD_ERR_CONFIG, "--event %s: cannot open it", path);
        return NULL;
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            if (cap >= S_EVENT_MAX_BYTES) {
                dld_error_set(err, DLD_ERR_CONFIG, "--event %s: larger than %d bytes", path, S_EVENT_MAX_BYTES);
                free(buf);
                buf = NULL;
                break;
            }
            cap *= 2;
            char *b = realloc(buf, cap + 1);
            if (b == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (buf && ferror(f)) {
        dld_error_set(err, DLD_ERR_CONFIG, "--event %s: read error", path);
        free(buf);
        buf = NULL;
    }
    if (f != stdin)
        fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = n;
    } else if (err->message[0] == '\0') {
        dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    return buf;
}

/* prints {"error", "code", "exit_code"} on stdout and the error on stderr */
static int s_event_fail(int exit_code, struct dld_error *err)
{
    char msg[sizeof err->message + 64];
    snprintf(msg, sizeof msg, "%s", err->message);
    dld_core_redact(msg, sizeof msg);
    fprintf(stderr, "deltaload: error: %s\n", msg);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    cJSON_AddStringToObject(o, "code", err->upstream_code[0] ? err->upstream_code : dld_code_name(err->code));
    cJSON_AddNumberToObject(o, "exit_code", exit_code);
    dld_cli_print_json(o);
    return exit_code;
}

static int s_run_event_command(struct dld_cli *cli, const char *path)
{
    struct dld_error err;
    dld_error_init(&err);
    size_t len = 0;
    char *text = s_read_event(path, &len, &err);
    if (text == NULL)
        return s_event_fail(DLD_EXIT_USAGE, &err);
    cJSON *result = NULL;
    int code = dld_run_event(cli->config_path, text, len, &result, &err);
    free(text);
    if (result == NULL)
        return s_event_fail(code, &err);
    dld_cli_print_json(result);
    return code;
}

int dld_cmd_run(struct dld_cli *cli)
{
    if (dld_cli_help_requested(cli->argc, cli->argv, s_run_usage))
        return DLD_EXIT_OK;
    const char **tables = NULL;
    const char *event = NULL;
    if (s_parse(cli, s_run_usage, &tables, NULL, NULL, NULL, &event) != 0)
        return DLD_EXIT_USAGE;
    bool named = tables != NULL;
    free(tables);
    if (event == NULL)
        return s_engine_command(cli, s_run_usage, false, false);
    if (named) {
        fprintf(stderr, "deltaload: --event names the tables; --table is not taken with it\n%s", s_run_usage);
        return DLD_EXIT_USAGE;
    }
    return s_run_event_command(cli, event);
}
int dld_cmd_plan(struct dld_cli *cli) { return s_engine_command(cli, s_plan_usage, true, false); }
int dld_cmd_backfill(struct dld_cli *cli) { return s_engine_command(cli, s_backfill_usage, false, true); }

/* ---- the daemon ---------------------------------------------------------------- */

/* sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET (a path,
 * or an abstract socket written with a leading '@'). Nothing when unset. */
static void s_sd_notify(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (path == NULL || (path[0] != '/' && path[0] != '@'))
        return;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n >= sizeof sa.sun_path)
        return;
    memcpy(sa.sun_path, path, n);
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (const struct sockaddr *)&sa,
               (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) < 0)
        dld_core_logf(DLD_LOG_DEBUG, "daemon", "sd_notify: %s", strerror(errno));
    close(fd);
}

struct s_daemon {
    struct dld_config cfg;
    void *sched;
    bool open;
};

static const struct dld_scheduler_vtable *s_sched_vt(struct s_daemon *d)
{
    return &d->cfg.kinds[DLD_KIND_SCHEDULER].loaded.vt.scheduler;
}

static void s_daemon_close(struct s_daemon *d)
{
    if (d->open && d->sched)
        s_sched_vt(d)->close(d->sched);
    d->sched = NULL;
    d->open = false;
    dld_config_clean_up(&d->cfg);
}

/* loads the config and opens its scheduler; on failure d is cleaned up */
static int s_daemon_open(const char *path, struct s_daemon *d, struct dld_error *err)
{
    memset(d, 0, sizeof *d);
    int rc = dld_config_load(path, &d->cfg, err);
    if (rc == DLD_OK)
        rc = dld_config_plugin(&d->cfg, DLD_KIND_SCHEDULER, err);
    if (rc == DLD_OK)
        rc = s_sched_vt(d)->open(dld_core_host(), (const char *const *)d->cfg.kinds[DLD_KIND_SCHEDULER].kv, &d->sched,
                                 err);
    if (rc != DLD_OK) {
        dld_config_clean_up(&d->cfg);
        return rc;
    }
    d->open = true;
    char *desc = NULL;
    struct dld_error e2;
    dld_error_init(&e2);
    const struct dld_scheduler_vtable *vt = s_sched_vt(d);
    if (vt->describe && vt->describe(d->sched, &desc, &e2) == DLD_OK && desc) {
        dld_core_logf(DLD_LOG_INFO, "daemon", "schedule: %s", desc);
        free(desc);
    }
    return DLD_OK;
}

static void s_iso(int64_t ms, char *buf, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int dld_cmd_daemon(struct dld_cli *cli)
{
    if (dld_cli_help_requested(cli->argc, cli->argv, s_daemon_usage))
        return DLD_EXIT_OK;
    const char **tables = NULL;
    long max_cycles = 0;
    if (s_parse(cli, s_daemon_usage, &tables, NULL, NULL, &max_cycles, NULL) != 0)
        return DLD_EXIT_USAGE;
    dld_core_install_reload_signal();
    struct s_daemon d;
    struct dld_error err;
    dld_error_init(&err);
    int code = DLD_EXIT_OK;
    int rc = s_daemon_open(cli->config_path, &d, &err);
    if (rc != DLD_OK) {
        code = dld_cli_fail(rc, &err);
        free(tables);
        return code;
    }
    s_sd_notify("READY=1\nSTATUS=started");
    bool interrupted = false;
    int64_t after = dld_core_now_ms();
    long cycle = 0;
    bool hup = false;
    while ((max_cycles == 0 || cycle < max_cycles) && !dld_core_cancelled()) {
        if (hup || dld_core_take_reload()) {
            hup = false;
            /* SIGHUP: re-read the config between cycles; a config that does
             * not load (or whose scheduler does not open) keeps the old one */
            s_sd_notify("RELOADING=1\nSTATUS=re-reading the configuration");
            struct s_daemon fresh;
            dld_error_init(&err);
            rc = s_daemon_open(cli->config_path, &fresh, &err);
            if (rc != DLD_OK) {
                char msg[sizeof err.message];
                snprintf(msg, sizeof msg, "%s", err.message);
                dld_core_redact(msg, sizeof msg);
                dld_core_logf(DLD_LOG_ERROR, "daemon", "SIGHUP: %s not re-read, the running configuration stays: %s",
                              cli->config_path, msg);
            } else {
                s_daemon_close(&d);
                d = fresh;
                dld_core_logf(DLD_LOG_INFO, "daemon", "SIGHUP: configuration re-read from %s", cli->config_path);
                after = dld_core_now_ms();
            }
            s_sd_notify("READY=1\nSTATUS=configuration re-read");
        }
        const struct dld_scheduler_vtable *vt = s_sched_vt(&d);
        int64_t next;
        dld_error_init(&err);
        rc = vt->next_fire(d.sched, after, &next, &err);
        if (rc == DLD_DONE) {
            dld_core_logf(DLD_LOG_INFO, "daemon", "the schedule never fires again; stopping");
            break;
        }
        if (rc != DLD_OK) {
            code = dld_cli_fail(rc, &err);
            break;
        }
        char when[32], status[96];
        s_iso(next, when, sizeof when);
        dld_core_logf(DLD_LOG_INFO, "daemon", "next cycle at %s", when);
        snprintf(status, sizeof status, "STATUS=idle; next cycle at %s", when);
        s_sd_notify(status);
        /* sleep in short steps so a signal ends the wait promptly */
        while (!dld_core_cancelled() && dld_core_now_ms() < next && !(hup = dld_core_take_reload())) {
            int64_t left = next - dld_core_now_ms();
            usleep((useconds_t)(left > 200 ? 200000 : left * 1000));
        }
        if (dld_core_cancelled())
            break;
        if (hup)
            continue; /* re-read at the top of the loop, then the next fire is worked out again */
        cycle++;
        snprintf(status, sizeof status, "STATUS=cycle %ld running", cycle);
        s_sd_notify(status);
        struct dld_run_request req = {.tables = tables};
        code = s_cycle(cli, &d.cfg, &req, false, true);
        if (dld_core_cancelled()) {
            interrupted = true;
            break;
        }
        /* missed fires (docs/plugins/sched-local.md): fires that fell while
         * this cycle ran are not replayed; the next cycle is the first fire
         * after now, so a long cycle is followed by one cycle, never N */
        after = next;
        int64_t now = dld_core_now_ms(), peek;
        if (now > after && vt->next_fire(d.sched, after, &peek, &err) == DLD_OK && peek <= now) {
            dld_core_logf(DLD_LOG_INFO, "daemon", "fires passed while the cycle ran; not replayed, waiting for the next");
            after = now;
        }
        fflush(stdout);
    }
    s_sd_notify("STOPPING=1");
    s_daemon_close(&d);
    if (dld_core_cancelled()) {
        /* a signal is how a daemon is asked to stop: 0 when it was idle, 130
         * when it cut a cycle short (an interrupted window is left for the
         * next run's recovery; the watermark never passes the lake) */
        code = interrupted ? DLD_EXIT_INTERRUPTED : DLD_EXIT_OK;
        dld_core_logf(DLD_LOG_INFO, "daemon", "stopped by a signal %s",
                      interrupted ? "during a cycle (exit 130)" : "while idle (exit 0)");
    }
    free(tables);
    return code;
}

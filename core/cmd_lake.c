/*
 * `deltaload lake expire --table T --older-than AGE [--keep-recent AGE]
 * [--dry-run] [--json]`: maintenance of table_format iceberg tables.
 *
 * The cutoff handed to the target (snapshots committed before it expire,
 * files of their loads go) is the earliest of
 *   now - older-than,
 *   now - keep-recent (a safety margin, default 1 hour: a clock that is
 *     off, a reader that just planned a query on an older snapshot), and
 *   the start of the oldest unfinished load of the table the state store
 *     knows (runs_unfinished): its files are never older than its start.
 * The table's lease is held meanwhile, so no load of this installation
 * starts or commits during the expiry (another installation's commit is a
 * lost race the target's compare-and-swap handles).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "engine.h"
#include "host.h"

static const char s_usage[] =
    "usage: deltaload [-c FILE] lake expire --table NAME --older-than AGE [--keep-recent AGE] [--dry-run] [--json]\n"
    "expire: for a table_format iceberg table, expires the snapshots committed more than AGE ago (the\n"
    "current snapshot always stays), writes the table's metadata without them, then removes the files\n"
    "only they referenced (manifest lists, manifests, data and delete files). AGE: a number with s, m,\n"
    "h, d or w (7d). Nothing newer than --keep-recent (default 1h) or than the start of the table's\n"
    "oldest unfinished load is expired. --dry-run: say what would go, change nothing.\n";

/* "7d" → ms; -1 when malformed */
static int64_t s_age_ms(const char *s)
{
    char *end = NULL;
    long long n = s ? strtoll(s, &end, 10) : -1;
    if (!s || end == s || n < 0 || end[0] == '\0' || end[1] != '\0')
        return -1;
    static const struct {
        char unit;
        int64_t ms;
    } units[] = {{'s', 1000}, {'m', 60000}, {'h', 3600000}, {'d', 86400000}, {'w', 604800000}};
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (*end == units[i].unit)
            return n > INT64_MAX / units[i].ms ? -1 : (int64_t)n * units[i].ms;
    return -1;
}

struct s_oldest {
    int64_t started_ms; /* INT64_MAX: none */
    int n;
};

static int s_unfinished(void *ctx, const struct dld_run *run)
{
    struct s_oldest *o = ctx;
    o->n++;
    if (run->started_ms > 0 && run->started_ms < o->started_ms)
        o->started_ms = run->started_ms;
    return 0;
}

static int s_expire(struct dld_cli *cli, const char *table, int64_t older_ms, int64_t keep_ms, bool dry_run)
{
    struct dld_config cfg;
    struct dld_error err;
    dld_error_init(&err);
    void *state = NULL, *target = NULL;
    int rc = dld_cli_open_state(&cfg, cli->config_path, &state, &err);
    if (rc)
        return dld_cli_fail(rc, &err);
    const struct dld_state_vtable *st = &cfg.kinds[DLD_KIND_STATE].loaded.vt.state;
    struct dld_plugin_conf *tc = &cfg.kinds[DLD_KIND_TARGET];
    const struct dld_host *host = dld_core_host();
    char *list = NULL, *report = NULL;
    cJSON *arr = NULL, *item = NULL;
    int64_t token = 0;
    bool leased = false;
    if ((rc = dld_config_plugin(&cfg, DLD_KIND_TARGET, &err)))
        goto done;
    if (tc->loaded.vt.target.lake_expire == NULL) {
        rc = dld_error_set(&err, DLD_ERR_UNSUPPORTED, "target plugin %s cannot expire snapshots (no lake_expire)",
                           tc->plugin);
        goto done;
    }
    if (st->runs_unfinished == NULL) {
        rc = dld_error_set(&err, DLD_ERR_UNSUPPORTED,
                           "state plugin %s cannot list unfinished loads (runs_unfinished): expire would not know "
                           "which files are in use",
                           cfg.kinds[DLD_KIND_STATE].plugin);
        goto done;
    }
    if ((rc = tc->loaded.vt.target.open(host, (const char *const *)tc->kv, &target, &err))) {
        dld_error_prefix(&err, "target plugin %s", tc->plugin);
        goto done;
    }
    if ((rc = dld_engine_sync_items(&cfg, state, &err)) || (rc = st->item_list(state, &list, &err)))
        goto done;
    arr = cJSON_Parse(list);
    free(list);
    for (const cJSON *c = cJSON_IsArray(arr) ? arr->child : NULL; c && !item; c = c->next) {
        const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "targetTableName"));
        if (n && !strcmp(n, table))
            item = (cJSON *)c;
    }
    if (item == NULL) {
        rc = dld_error_set(&err, DLD_ERR_NOT_FOUND, "no controller item named '%s' (see `deltaload tables list`)",
                           table);
        goto done;
    }
    struct dld_item it;
    if ((rc = dld_item_parse(item, &it, &err)))
        goto done;
    if ((rc = st->lease_acquire(state, it.name, dld_engine_owner(), cfg.engine.lease_ttl_ms, &token, &err)) == DLD_OK)
        leased = true;
    struct s_oldest oldest = {.started_ms = INT64_MAX};
    if (rc == DLD_OK)
        rc = st->runs_unfinished(state, it.name, s_unfinished, &oldest, &err);
    int64_t now = host->now_ms();
    int64_t cutoff = now - older_ms;
    if (now - keep_ms < cutoff)
        cutoff = now - keep_ms;
    if (oldest.started_ms < cutoff)
        cutoff = oldest.started_ms;
    if (rc == DLD_OK)
        rc = tc->loaded.vt.target.lake_expire(target, &it.t, cutoff, dry_run, &report, &err);
    if (leased) {
        struct dld_error rerr;
        dld_error_init(&rerr);
        st->lease_release(state, it.name, token, &rerr);
    }
    if (rc == DLD_OK) {
        cJSON *o = cJSON_Parse(report);
        if (o && cJSON_AddNumberToObject(o, "unfinished_loads", oldest.n) &&
            (oldest.n == 0 || cJSON_AddNumberToObject(o, "oldest_unfinished_started_ms", (double)oldest.started_ms))) {
            if (cli->json) {
                dld_cli_print_json(o);
                o = NULL;
            } else {
                const char *verb = dry_run ? "would remove" : "removed";
                printf("%s: %d of %d snapshot(s) %s; %s %d file(s)%s\n", table,
                       (int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "snapshots_expired")),
                       (int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "snapshots_before")),
                       dry_run ? "would expire" : "expired", verb,
                       cJSON_GetArraySize(cJSON_GetObjectItem(o, "files")),
                       oldest.n ? " (an unfinished load holds the cutoff back)" : "");
                const cJSON *f;
                cJSON_ArrayForEach(f, cJSON_GetObjectItem(o, "files"))
                {
                    if (dry_run)
                        printf("  %s\n", f->valuestring);
                }
            }
        }
        cJSON_Delete(o);
    }
    dld_item_clean_up(&it);
done:
    if (report)
        host->free(report);
    cJSON_Delete(arr);
    int code = rc ? dld_cli_fail(rc, &err) : DLD_EXIT_OK;
    if (target)
        tc->loaded.vt.target.close(target);
    st->close(state);
    dld_config_clean_up(&cfg);
    return code;
}

int dld_cmd_lake(struct dld_cli *cli)
{
    if (dld_cli_help_requested(cli->argc, cli->argv, s_usage))
        return DLD_EXIT_OK;
    if (cli->argc < 2 || strcmp(cli->argv[1], "expire") != 0) {
        fputs(s_usage, stderr);
        return DLD_EXIT_USAGE;
    }
    const char *table = NULL, *older = NULL, *keep = "1h";
    bool dry_run = false;
    for (int i = 2; i < cli->argc; i++) {
        const char *a = cli->argv[i];
        if (!strcmp(a, "--table") && i + 1 < cli->argc)
            table = cli->argv[++i];
        else if (!strcmp(a, "--older-than") && i + 1 < cli->argc)
            older = cli->argv[++i];
        else if (!strcmp(a, "--keep-recent") && i + 1 < cli->argc)
            keep = cli->argv[++i];
        else if (!strcmp(a, "--dry-run"))
            dry_run = true;
        else if (!strcmp(a, "--json"))
            continue;
        else {
            fprintf(stderr, "deltaload lake expire: unexpected argument '%s'\n\n%s", a, s_usage);
            return DLD_EXIT_USAGE;
        }
    }
    int64_t older_ms = s_age_ms(older), keep_ms = s_age_ms(keep);
    if (table == NULL || older_ms < 0 || keep_ms < 0) {
        fprintf(stderr, "deltaload lake expire: needs --table NAME and --older-than AGE (AGE: 30m, 12h, 7d, ...)\n\n%s",
                s_usage);
        return DLD_EXIT_USAGE;
    }
    return s_expire(cli, table, older_ms, keep_ms, dry_run);
}

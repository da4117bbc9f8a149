/*
 * `deltaload state init | copy | rebuild`: administering the state store.
 *
 * init: creates (or checks) what the store needs, through its `setup`.
 * copy --from CONFIG: moves items, watermarks and run history from the
 * state store another config names into this config's store (sqlite to
 * DynamoDB and back), so a deployment changes stores without reloading.
 *
 * rebuild --table T | --all: reconstructs a table's
 * watermark and load history from its lake's manifests, for a state store
 * that was lost (or replaced) while the lake was kept.
 *
 * Every published manifest becomes a COMMITTED run with its own load id,
 * uid, window and statistics, in load order; every aborted manifest an
 * ABORTED run. A delta table's watermark becomes the high mark of its
 * newest published delta load. Refused for a table the state store already
 * has runs of: rebuilding is for a store that knows nothing of the table.
 * Nothing in the lake is written or removed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "engine.h"
#include "heartbeat.h"
#include "host.h"
#include "runs.h"
#include "schema_track.h"

static const char s_usage[] =
    "usage: deltaload [-c FILE] state init [--check] [--json]\n"
    "       deltaload [-c FILE] state copy --from OTHER_CONFIG [--table NAME]... [--json]\n"
    "       deltaload [-c FILE] state rebuild (--table NAME | --all) [--json]\n"
    "init: creates the state store's tables when absent (or, with --check, only checks them) and says\n"
    "what exists and what is wrong.\n"
    "copy: copies controller items, watermarks and load history from the state store OTHER_CONFIG\n"
    "names into this config's (e.g. sqlite -> dynamodb). Refused for a table this store already has\n"
    "loads of. Both stores' leases on each table are held while it is copied.\n"
    "rebuild:"
    " restores the watermark and load history of a table from its lake's manifests, after its state\n"
    "store was lost or replaced (a run refuses to load such a table and says to run this). Refused\n"
    "for a table the state store already has loads of. Writes the state store only; the lake is\n"
    "read, never changed.\n";

struct s_rebuilt {
    int published, aborted, renumbered, orphans;
    int64_t last_load_id;
    char *watermark; /* malloc'ed */
};

static const char *s_str(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}
static int64_t s_num(const cJSON *o, const char *k)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(n) ? (int64_t)n->valuedouble : 0;
}

static int s_rebuild_table(struct dld_config *cfg, void *state, void *target, const struct dld_item *it,
                           struct s_rebuilt *out, struct dld_error *err)
{
    const struct dld_state_vtable *st = &cfg->kinds[DLD_KIND_STATE].loaded.vt.state;
    const struct dld_target_vtable *tg = &cfg->kinds[DLD_KIND_TARGET].loaded.vt.target;
    const struct dld_host *host = dld_core_host();
    if (tg->manifest_list == NULL)
        return dld_error_set(err, DLD_ERR_UNSUPPORTED, "target plugin %s (ABI %u.x) cannot list manifests",
                             cfg->kinds[DLD_KIND_TARGET].plugin, DLD_ABI_MAJOR);
    int64_t token = 0;
    int rc = dld_lease_acquire(st, state, it->name, cfg->engine.lease_ttl_ms, &token, err);
    if (rc)
        return rc;
    struct dld_run last = {.struct_size = sizeof(last)};
    rc = st->run_last(state, it->name, &last, err);
    if (rc == DLD_OK) {
        rc = dld_error_set(err, DLD_ERR_CONFLICT,
                           "the state store already has loads of '%s' (newest: load %lld); rebuild only restores a "
                           "state store that has no record of the table",
                           it->name, (long long)last.load_id);
        dld_run_clean_up(host, &last);
        goto out;
    }
    if (rc != DLD_ERR_NOT_FOUND)
        goto out;
    dld_error_init(err);
    char *json = NULL;
    /* schema_change rewrite keeps later versions in <name>__vN (schema_track.h):
     * rebuilt from version 1's manifests alone, the table would restart its
     * load ids under version 2's published loads. Refused (a name too long for
     * the suffix never had a version 2). */
    struct dld_table v2 = it->t;
    char v2name[160];
    dld_table_version_name(it->t.target_table_name, 2, v2name, sizeof v2name);
    v2.target_table_name = v2name;
    if (strlen(it->t.target_table_name) <= 123) {
        if ((rc = tg->manifest_list(target, &v2, &json, err)))
            goto out;
        cJSON *va = cJSON_Parse(json);
        host->free(json);
        json = NULL;
        int nv = cJSON_GetArraySize(va);
        cJSON_Delete(va);
        if (nv > 0) {
            rc = dld_error_set(err, DLD_ERR_UNSUPPORTED,
                               "'%s' has a version 2 in the lake (%s, schema_change rewrite): rebuild restores "
                               "version 1 only and is refused; load the table into a new targetTableName",
                               it->name, v2name);
            goto out;
        }
    }
    if ((rc = tg->manifest_list(target, &it->t, &json, err)))
        goto out;
    cJSON *arr = cJSON_Parse(json);
    host->free(json);
    if (!cJSON_IsArray(arr)) {
        cJSON_Delete(arr);
        rc = dld_error_set(err, DLD_ERR_FATAL, "the target returned a malformed manifest list");
        goto out;
    }
    int64_t next_free = 1;
    for (const cJSON *m = arr->child; m; m = m->next)
        if (s_num(m, "load_id") >= next_free)
            next_free = s_num(m, "load_id") + 1;
    int64_t prev_id = 0;
    for (const cJSON *m = arr->child; m && rc == DLD_OK; m = m->next) {
        const char *status = s_str(m, "status");
        bool published = status == NULL || !strcmp(status, "published"); /* legacy manifests have no status */
        bool orphaned = status && !strcmp(status, "orphaned");
        const char *mode = s_str(m, "mode");
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(m, "window");
        struct dld_run run = {.struct_size = sizeof(run)};
        run.table = it->name;
        run.load_id = s_num(m, "load_id");
        if (run.load_id <= 0)
            continue;
        if (run.load_id == prev_id) {
            /* two manifests of one load id (written by two state stores
             * before load uids existed): keep both, the second renumbered */
            run.load_id = next_free++;
            out->renumbered++;
        }
        prev_id = s_num(m, "load_id");
        run.mode = mode && !strcmp(mode, "full") ? DLD_MODE_FULL : mode && !strcmp(mode, "backfill") ? DLD_MODE_BACKFILL
                                                                                                  : DLD_MODE_DELTA;
        run.low = (char *)s_str(w, "low");
        run.high = (char *)s_str(w, "high");
        run.low_inclusive = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(w, "low_inclusive"));
        run.rows = s_num(m, "rows");
        run.bytes = s_num(m, "bytes");
        cJSON *files = cJSON_GetObjectItemCaseSensitive(m, "files");
        run.files = cJSON_GetArraySize(files);
        run.started_ms = run.ended_ms = s_num(m, "created_ms");
        run.owner = (char *)dld_engine_owner();
        cJSON *info = cJSON_CreateObject();
        if (s_str(m, "load_uid"))
            cJSON_AddStringToObject(info, "load_uid", s_str(m, "load_uid"));
        cJSON_AddStringToObject(info, "rebuilt_from", "lake manifest");
        cJSON_AddNumberToObject(info, "manifest_load_id", (double)prev_id);
        run.info_json = cJSON_PrintUnformatted(info);
        cJSON_Delete(info);
        if (published) {
            /* the newest delta load sets the watermark: commit advances it */
            int32_t advance = run.mode == DLD_MODE_DELTA && run.high != NULL;
            run.status = DLD_RUN_COMMITTED;
            rc = st->run_commit(state, &run, advance, token, err);
            out->published++;
            if (advance && rc == DLD_OK) {
                free(out->watermark);
                out->watermark = strdup(run.high);
            }
        } else {
            if (orphaned || cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m, "leftover_files")) > 0) {
                /* files of a load that never published and that no store
                 * remembers: claim its manifest slot as aborted (fencing a
                 * writer that may still run) and remove them, as recovery would */
                struct dld_load load = {.struct_size = sizeof(load), .table = &it->t, .load_id = s_num(m, "load_id"),
                                        .mode = run.mode, .load_uid = s_str(m, "load_uid"), .lease_token = token};
                if ((rc = tg->load_discard(target, &load, err))) {
                    dld_error_prefix(err, "removing the files of load %lld that never published",
                                     (long long)load.load_id);
                    free(run.info_json);
                    break;
                }
                out->orphans++;
            }
            run.status = DLD_RUN_ABORTED;
            run.error = (char *)(orphaned ? "never published; files removed by state rebuild"
                                          : "aborted (rebuilt from the lake)");
            rc = st->run_record(state, &run, token, err);
            out->aborted++;
        }
        if (run.load_id > out->last_load_id)
            out->last_load_id = run.load_id;
        free(run.info_json);
    }
    cJSON_Delete(arr);
out:;
    struct dld_error rerr;
    dld_error_init(&rerr);
    st->lease_release(state, it->name, token, &rerr);
    return rc;
}

static int s_rebuild(struct dld_cli *cli, const char *table, bool all)
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
    char *list = NULL;
    cJSON *arr = NULL, *report = cJSON_CreateArray();
    int failed = 0;
    if ((rc = dld_config_plugin(&cfg, DLD_KIND_TARGET, &err)))
        goto done;
    if ((rc = tc->loaded.vt.target.open(dld_core_host(), (const char *const *)tc->kv, &target, &err))) {
        dld_error_prefix(&err, "target plugin %s", tc->plugin);
        goto done;
    }
    if ((rc = dld_engine_sync_items(&cfg, state, &err)) || (rc = st->item_list(state, &list, &err)))
        goto done;
    arr = cJSON_Parse(list);
    free(list);
    bool found = false;
    for (const cJSON *c = cJSON_IsArray(arr) ? arr->child : NULL; c; c = c->next) {
        const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "targetTableName"));
        if (!n || (!all && strcmp(n, table)))
            continue;
        found = true;
        struct dld_item it;
        struct dld_error terr;
        dld_error_init(&terr);
        struct s_rebuilt r = {0};
        int trc = dld_item_parse(c, &it, &terr);
        if (trc == DLD_OK) {
            trc = s_rebuild_table(&cfg, state, target, &it, &r, &terr);
            dld_item_clean_up(&it);
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "table", n);
        if (trc) {
            failed++;
            cJSON_AddStringToObject(o, "error", terr.message);
            dld_core_logf(DLD_LOG_ERROR, n, "rebuild failed: %s", terr.message);
        } else {
            cJSON_AddNumberToObject(o, "published_loads", r.published);
            cJSON_AddNumberToObject(o, "aborted_loads", r.aborted);
            cJSON_AddNumberToObject(o, "renumbered_loads", r.renumbered);
            cJSON_AddNumberToObject(o, "unpublished_loads_removed", r.orphans);
            cJSON_AddNumberToObject(o, "last_load_id", (double)r.last_load_id);
            if (r.watermark)
                cJSON_AddStringToObject(o, "watermark", r.watermark);
            else
                cJSON_AddNullToObject(o, "watermark");
            if (!cli->json)
                printf("%s: rebuilt %d published and %d aborted load(s) from the lake%s%s; watermark %s; the next "
                       "load is %lld\n",
                       n, r.published, r.aborted, r.renumbered ? " (some renumbered: duplicate load ids)" : "",
                       r.orphans ? " (files of unpublished loads removed)" : "",
                       r.watermark ? r.watermark : "none (the item's startvalue applies)",
                       (long long)r.last_load_id + 1);
        }
        free(r.watermark);
        cJSON_AddItemToArray(report, o);
    }
    if (!found)
        rc = dld_error_set(&err, DLD_ERR_NOT_FOUND, "no controller item named '%s' (see `deltaload tables list`)",
                           table);
done:
    cJSON_Delete(arr);
    int code = DLD_EXIT_OK;
    if (rc)
        code = dld_cli_fail(rc, &err);
    else if (failed)
        code = DLD_EXIT_FAILED;
    if (rc == DLD_OK && cli->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "tables", report);
        report = NULL;
        dld_cli_print_json(o);
    }
    cJSON_Delete(report);
    if (target)
        tc->loaded.vt.target.close(target);
    st->close(state);
    dld_config_clean_up(&cfg);
    return code;
}

static int s_init(struct dld_cli *cli, bool check_only)
{
    struct dld_config cfg;
    struct dld_error err;
    dld_error_init(&err);
    void *st = NULL;
    int rc = dld_cli_open_state(&cfg, cli->config_path, &st, &err);
    if (rc)
        return dld_cli_fail(rc, &err);
    const struct dld_state_vtable *vt = &cfg.kinds[DLD_KIND_STATE].loaded.vt.state;
    char *report = NULL;
    int code = DLD_EXIT_OK;
    if (vt->setup == NULL)
        report = strdup("this state store needs no set-up: it creates what it needs when opened");
    else if ((rc = vt->setup(st, !check_only, &report, &err)))
        code = dld_cli_fail(rc, &err);
    if (rc == DLD_OK) {
        if (cli->json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "state", cfg.kinds[DLD_KIND_STATE].plugin);
            cJSON_AddStringToObject(o, "report", report ? report : "");
            dld_cli_print_json(o);
        } else {
            printf("%s\n", report ? report : "");
        }
    }
    if (report)
        dld_core_host()->free(report);
    vt->close(st);
    dld_config_clean_up(&cfg);
    return code;
}

/* runs_history's iterator (or history's JSON) into a cJSON array */
static int s_copy_table(const struct dld_state_vtable *from_vt, void *from, const struct dld_state_vtable *to_vt,
                        void *to, const char *name, int64_t ttl_ms, int *nruns, struct dld_error *err)
{
    const struct dld_host *host = dld_core_host();
    int64_t tok_from = 0, tok_to = 0;
    struct dld_run last = {.struct_size = sizeof(last)};
    char *item = NULL;
    cJSON *runs = NULL;
    int rc = from_vt->lease_acquire(from, name, dld_engine_owner(), ttl_ms, &tok_from, err);
    if (rc)
        return rc;
    rc = to_vt->run_last(to, name, &last, err);
    if (rc == DLD_OK) {
        rc = dld_error_set(err, DLD_ERR_CONFLICT,
                           "the destination already has loads of '%s' (newest: load %lld): not copying over them", name,
                           (long long)last.load_id);
        dld_run_clean_up(host, &last);
        goto release_from;
    }
    if (rc != DLD_ERR_NOT_FOUND)
        goto release_from;
    dld_error_init(err);
    /* the item first: a store may keep a table's lease on its item */
    if ((rc = from_vt->item_get(from, name, &item, err)) || (rc = to_vt->item_put(to, name, item, err)))
        goto release_from;
    if ((rc = to_vt->lease_acquire(to, name, dld_engine_owner(), ttl_ms, &tok_to, err)))
        goto release_from;
    if ((rc = dld_history_json(from_vt, from, name, 0, &runs, err)))
        goto release;
    /* history is newest first: record oldest first, so load order is kept */
    for (int i = cJSON_GetArraySize(runs) - 1; i >= 0 && rc == DLD_OK; i--) {
        struct dld_run r;
        if (dld_run_from_json(cJSON_GetArrayItem(runs, i), name, &r) != DLD_OK)
            rc = dld_error_set(err, DLD_ERR_FATAL, "a run of '%s' in the source store could not be read", name);
        else
            rc = to_vt->run_record(to, &r, tok_to, err);
        dld_run_clean_up(host, &r);
        if (rc == DLD_OK)
            (*nruns)++;
    }
    struct dld_watermark wm = {.struct_size = sizeof(wm)};
    if (rc == DLD_OK && (rc = from_vt->watermark_get(from, name, &wm, err)) == DLD_OK) {
        /* a watermark set by a load is set again by committing that load
         * (which keeps its load id, and lets a store mirror it as it does
         * after any commit); one set by `reset` is set as a reset */
        bool done = false;
        for (int i = 0; wm.value && wm.load_id > 0 && i < cJSON_GetArraySize(runs) && !done && rc == DLD_OK; i++) {
            const cJSON *o = cJSON_GetArrayItem(runs, i);
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "load_id");
            const char *high = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "high"));
            if (!cJSON_IsNumber(id) || (int64_t)id->valuedouble != wm.load_id || !high || strcmp(high, wm.value))
                continue;
            struct dld_run r;
            if (dld_run_from_json(o, name, &r) == DLD_OK && r.status == DLD_RUN_COMMITTED) {
                rc = to_vt->run_commit(to, &r, 1, tok_to, err);
                done = true;
            }
            dld_run_clean_up(host, &r);
        }
        if (rc == DLD_OK && !done && wm.value)
            rc = to_vt->watermark_set(to, name, wm.value, tok_to, err);
        dld_watermark_clean_up(host, &wm);
    }
release:;
    struct dld_error rerr;
    dld_error_init(&rerr);
    to_vt->lease_release(to, name, tok_to, &rerr);
release_from:
    dld_error_init(&rerr);
    from_vt->lease_release(from, name, tok_from, &rerr);
    if (item)
        host->free(item);
    cJSON_Delete(runs);
    return rc;
}

static int s_copy(struct dld_cli *cli, const char *from_path, const char *const *only)
{
    struct dld_config to_cfg, from_cfg;
    struct dld_error err;
    dld_error_init(&err);
    void *to = NULL, *from = NULL;
    int rc = dld_cli_open_state(&to_cfg, cli->config_path, &to, &err);
    if (rc)
        return dld_cli_fail(rc, &err);
    if ((rc = dld_cli_open_state(&from_cfg, from_path, &from, &err))) {
        dld_error_prefix(&err, "--from %s", from_path);
        to_cfg.kinds[DLD_KIND_STATE].loaded.vt.state.close(to);
        dld_config_clean_up(&to_cfg);
        return dld_cli_fail(rc, &err);
    }
    const struct dld_state_vtable *to_vt = &to_cfg.kinds[DLD_KIND_STATE].loaded.vt.state;
    const struct dld_state_vtable *from_vt = &from_cfg.kinds[DLD_KIND_STATE].loaded.vt.state;
    char *list = NULL;
    cJSON *arr = NULL, *report = cJSON_CreateArray();
    int failed = 0, copied = 0;
    if ((rc = from_vt->item_list(from, &list, &err)))
        goto done;
    arr = cJSON_Parse(list);
    dld_core_host()->free(list);
    for (const cJSON *c = cJSON_IsArray(arr) ? arr->child : NULL; c; c = c->next) {
        const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "targetTableName"));
        if (!n)
            continue;
        bool selected = only[0] == NULL;
        for (size_t i = 0; only[i]; i++)
            selected |= !strcmp(only[i], n);
        if (!selected)
            continue;
        struct dld_error terr;
        dld_error_init(&terr);
        int nruns = 0;
        int trc = s_copy_table(from_vt, from, to_vt, to, n, to_cfg.engine.lease_ttl_ms, &nruns, &terr);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "table", n);
        cJSON_AddNumberToObject(o, "runs", nruns);
        if (trc) {
            failed++;
            cJSON_AddStringToObject(o, "error", terr.message);
            dld_core_logf(DLD_LOG_ERROR, n, "copy failed: %s", terr.message);
        } else {
            copied++;
            if (!cli->json)
                printf("%s: copied the item, %d run(s) and the watermark\n", n, nruns);
        }
        cJSON_AddItemToArray(report, o);
    }
done:
    cJSON_Delete(arr);
    int code = rc ? dld_cli_fail(rc, &err) : failed ? DLD_EXIT_FAILED : DLD_EXIT_OK;
    if (rc == DLD_OK && cli->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "tables", report);
        report = NULL;
        dld_cli_print_json(o);
    } else if (rc == DLD_OK && copied == 0 && failed == 0) {
        fprintf(stderr, "deltaload: the source store has no matching controller items\n");
    }
    cJSON_Delete(report);
    from_vt->close(from);
    to_vt->close(to);
    dld_config_clean_up(&from_cfg);
    dld_config_clean_up(&to_cfg);
    return code;
}

int dld_cmd_state(struct dld_cli *cli)
{
    if (cli->argc < 2 || dld_cli_help_requested(cli->argc, cli->argv, s_usage)) {
        if (cli->argc >= 2)
            return DLD_EXIT_OK;
        fputs(s_usage, stderr);
        return DLD_EXIT_USAGE;
    }
    const char *sub = cli->argv[1];
    if (strcmp(sub, "rebuild") && strcmp(sub, "init") && strcmp(sub, "copy")) {
        fprintf(stderr, "deltaload: unknown state subcommand '%s'\n%s", sub, s_usage);
        return DLD_EXIT_USAGE;
    }
    const char *table = NULL, *from = NULL;
    const char *tables[64] = {NULL};
    size_t ntables = 0;
    bool all = false, check = false;
    for (int i = 2; i < cli->argc; i++) {
        const char *a = cli->argv[i];
        const char *v = i + 1 < cli->argc ? cli->argv[i + 1] : NULL;
        if (!strcmp(a, "--json"))
            continue;
        if (!strcmp(sub, "rebuild") && !strcmp(a, "--all"))
            all = true;
        else if (!strcmp(sub, "init") && !strcmp(a, "--check"))
            check = true;
        else if (!strcmp(sub, "copy") && !strcmp(a, "--from") && v)
            from = cli->argv[++i];
        else if (strcmp(sub, "init") && !strcmp(a, "--table") && v && ntables < 63)
            table = tables[ntables++] = cli->argv[++i];
        else {
            fprintf(stderr, "deltaload: unexpected argument '%s'\n%s", a, s_usage);
            return DLD_EXIT_USAGE;
        }
    }
    if (!strcmp(sub, "init"))
        return s_init(cli, check);
    if (!strcmp(sub, "copy")) {
        if (from == NULL) {
            fprintf(stderr, "deltaload: state copy needs --from OTHER_CONFIG\n%s", s_usage);
            return DLD_EXIT_USAGE;
        }
        return s_copy(cli, from, tables);
    }
    if ((table == NULL) == !all || ntables > 1) {
        fprintf(stderr, "deltaload: state rebuild needs one of --table NAME or --all\n%s", s_usage);
        return DLD_EXIT_USAGE;
    }
    return s_rebuild(cli, table, all);
}

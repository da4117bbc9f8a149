/*
 * `deltaload lake expire` on a table_format iceberg table (lake.h,
 * docs/iceberg.md#expire).
 *
 * 1. read the current metadata (through the catalog when there is one);
 * 2. the snapshots to expire: older than the cutoff, never the current one;
 * 3. what the remaining snapshots need: their manifest lists and every
 *    manifest those lists name (deltaload writes one data manifest and one
 *    delete manifest per load, named after the load's id and uid, so a
 *    load's files are needed exactly when one of its manifests is);
 * 4. commit the metadata without the expired snapshots (the same
 *    compare-and-swap as a load's commit: a lost race reads again);
 * 5. only then remove the expired snapshots' manifest lists that nothing
 *    still names, and the files of the loads those snapshots added that no
 *    remaining snapshot needs: data files, delete files, manifests.
 *
 * Files of a load that has no snapshot among the expired ones are never
 * candidates: a load in flight, unfinished, or published but not rolled
 * forward yet cannot be removed here. deltaload's own manifests
 * (_manifests/) stay: they are the fencing slots and the history `state
 * rebuild` reads. Old metadata files stay too (readers may hold them).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <deltaload/iceberg.h>
#include <deltaload/lake.h>
#include <deltaload/sdk.h>

#include "iceberg_internal.h"

#define S_ATTEMPTS 8

struct s_names {
    char **v;
    int n, cap;
    bool oom;
};

static void s_names_add(struct s_names *s, const char *name)
{
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 16;
        char **v = realloc(s->v, (size_t)cap * sizeof(*v));
        if (v == NULL) {
            s->oom = true;
            return;
        }
        s->v = v;
        s->cap = cap;
    }
    if ((s->v[s->n] = strdup(name)) == NULL)
        s->oom = true;
    else
        s->n++;
}

static bool s_names_has(const struct s_names *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], name))
            return true;
    return false;
}

static void s_names_free(struct s_names *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int s_collect(void *ctx, const char *name)
{
    s_names_add(ctx, name);
    return 0;
}

/* the files of one load under data/ (a partitioned table's partition
 * folders, docs/iceberg.md#partitioning-partition_by): their last segment starts with
 * the load's prefix */
struct s_collect_load {
    struct s_names *names;
    const char *prefix;
};

static int s_collect_load_file(void *ctx, const char *name)
{
    struct s_collect_load *c = ctx;
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    if (strncmp(base, c->prefix, strlen(c->prefix)) == 0)
        s_names_add(c->names, name);
    return 0;
}

static int64_t s_num(const cJSON *o, const char *k, int64_t dflt)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(n) ? (int64_t)n->valuedouble : dflt;
}

static const char *s_str(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* the name inside the table directory of an absolute location, or NULL */
static const char *s_rel(const char *loc, const char *location)
{
    size_t n = strlen(location);
    return loc && !strncmp(loc, location, n) && loc[n] == '/' ? loc + n + 1 : NULL;
}

/* The remaining snapshots' manifest lists and manifests (names in the table directory). */
static int s_needed(const struct dld_lake_storage *st, const char *dir, const char *location, const cJSON *snaps,
                    const bool *expired, struct s_names *need, struct dld_error *err)
{
    int i = 0, rc = DLD_OK;
    const cJSON *s;
    cJSON_ArrayForEach(s, snaps)
    {
        if (expired[i++])
            continue;
        const char *list = s_rel(s_str(s, "manifest-list"), location);
        if (list == NULL)
            return dld_error_set(err, DLD_ERR_UNSUPPORTED, "iceberg: snapshot %" PRId64 "'s manifest list is not under %s",
                                 s_num(s, "snapshot-id", 0), location);
        if (s_names_has(need, list))
            continue;
        s_names_add(need, list);
        char *data = NULL;
        size_t len = 0;
        if ((rc = st->get(st->ctx, dir, list, &data, &len, err)))
            return rc == DLD_ERR_NOT_FOUND ? dld_error_set(err, DLD_ERR_FATAL, "iceberg: %s/%s is missing", dir, list)
                                           : rc;
        struct dld_ice_mf *mfs = NULL;
        int nmf = 0;
        rc = dld_ice_read_manifest_list(data, len, list, &mfs, &nmf, err);
        free(data);
        for (int k = 0; rc == DLD_OK && k < nmf; k++) {
            const char *m = s_rel(mfs[k].path, location);
            if (m == NULL)
                rc = dld_error_set(err, DLD_ERR_UNSUPPORTED, "iceberg: manifest %s is not under %s", mfs[k].path,
                                   location);
            else if (!s_names_has(need, m))
                s_names_add(need, m);
        }
        dld_ice_mf_free(mfs, nmf);
        if (rc)
            return rc;
    }
    return need->oom ? dld_error_set(err, DLD_ERR_FATAL, "out of memory") : DLD_OK;
}

/* does a needed name belong to this load ("metadata/LOAD00000042-<uid>-m0.avro")? */
static bool s_load_needed(const struct s_names *need, const char *load_prefix)
{
    size_t n = strlen(load_prefix);
    for (int i = 0; i < need->n; i++) {
        const char *b = strrchr(need->v[i], '/');
        b = b ? b + 1 : need->v[i];
        if (!strncmp(b, load_prefix, n))
            return true;
    }
    return false;
}

/* The metadata without the expired snapshots (and their snapshot-log
 * entries), with the version replaced in the metadata log. */
static cJSON *s_expired_metadata(const cJSON *meta, const bool *expired, const char *cur_loc, int64_t now_ms)
{
    cJSON *m = cJSON_Duplicate(meta, 1);
    if (m == NULL)
        return NULL;
    cJSON *snaps = cJSON_GetObjectItemCaseSensitive(m, "snapshots");
    cJSON *slog = cJSON_GetObjectItemCaseSensitive(m, "snapshot-log");
    int i = 0;
    for (cJSON *s = snaps ? snaps->child : NULL, *next; s; s = next, i++) {
        next = s->next;
        if (!expired[i])
            continue;
        int64_t id = s_num(s, "snapshot-id", -1);
        for (cJSON *e = slog ? slog->child : NULL, *en; e; e = en) {
            en = e->next;
            if (s_num(e, "snapshot-id", -2) == id)
                cJSON_Delete(cJSON_DetachItemViaPointer(slog, e));
        }
        cJSON_Delete(cJSON_DetachItemViaPointer(snaps, s));
    }
    int64_t ts = now_ms > s_num(m, "last-updated-ms", 0) ? now_ms : s_num(m, "last-updated-ms", 0) + 1;
    cJSON *mlog = cJSON_GetObjectItemCaseSensitive(m, "metadata-log");
    if (mlog == NULL)
        mlog = cJSON_AddArrayToObject(m, "metadata-log");
    cJSON *me = cJSON_CreateObject();
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, s_num(meta, "last-updated-ms", 0));
    bool ok = mlog && me && cJSON_AddItemToArray(mlog, me) && cJSON_AddRawToObject(me, "timestamp-ms", buf) &&
              cJSON_AddStringToObject(me, "metadata-file", cur_loc);
    cJSON_DeleteItemFromObjectCaseSensitive(m, "last-updated-ms");
    snprintf(buf, sizeof buf, "%" PRId64, ts);
    ok = ok && cJSON_AddRawToObject(m, "last-updated-ms", buf);
    if (!ok) {
        cJSON_Delete(m);
        return NULL;
    }
    return m;
}


int dld_lake_expire(const struct dld_lake_storage *st, const struct dld_table *table, int64_t cutoff_ms, int dry_run,
                    char **report, struct dld_error *err)
{
    *report = NULL;
    char *dir = NULL;
    int rc = dld_lake_table_dir(table, &dir, err);
    if (rc)
        return rc;
    if (!DLD_HAS(st, struct dld_lake_storage, location) || !st->location) {
        free(dir);
        return dld_error_set(err, DLD_ERR_UNSUPPORTED, "this target cannot tell the location of its files");
    }
    char *location = st->location(st->ctx, dir);
    cJSON *out = cJSON_CreateObject(), *expired_ids = NULL, *removed = NULL;
    struct s_names need = {0}, gone = {0};
    bool *expired = NULL;
    int nexp = 0, nsnap = 0;
    int64_t version = 0, new_version = 0;
    if (location == NULL || out == NULL)
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    for (int attempt = 0; rc == DLD_OK && attempt < S_ATTEMPTS; attempt++) {
        char *text = NULL, *cur_loc = NULL, *cat_version = NULL;
        free(expired);
        expired = NULL;
        s_names_free(&need);
        s_names_free(&gone);
        if ((rc = dld_ice_current_ex(st, dir, &version, &text, &cur_loc, &cat_version, err)))
            break;
        cJSON *meta = text ? cJSON_Parse(text) : NULL;
        free(text);
        if (version == 0 || !cJSON_IsObject(meta)) {
            rc = version == 0 ? dld_error_set(err, DLD_ERR_NOT_FOUND, "%s is not an Iceberg table (no metadata)", location)
                              : dld_error_set(err, DLD_ERR_FATAL, "%s: the current metadata is not JSON", location);
        }
        const cJSON *snaps = cJSON_GetObjectItemCaseSensitive(meta, "snapshots"), *s;
        int64_t cur = s_num(meta, "current-snapshot-id", -1);
        nsnap = cJSON_GetArraySize(snaps);
        expired = rc ? NULL : calloc((size_t)nsnap + 1, sizeof(*expired));
        if (rc == DLD_OK && expired == NULL)
            rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        nexp = 0;
        int i = 0;
        cJSON_Delete(expired_ids);
        expired_ids = cJSON_CreateArray();
        const cJSON *walk = rc ? NULL : snaps;
        cJSON_ArrayForEach(s, walk)
        {
            if (s_num(s, "snapshot-id", -1) != cur && s_num(s, "timestamp-ms", INT64_MAX) < cutoff_ms) {
                expired[i] = true;
                nexp++;
                char buf[32];
                snprintf(buf, sizeof buf, "%" PRId64, s_num(s, "snapshot-id", 0));
                cJSON_AddItemToArray(expired_ids, cJSON_CreateRaw(buf));
            }
            i++;
        }
        if (rc == DLD_OK && nexp > 0)
            rc = s_needed(st, dir, location, snaps, expired, &need, err);
        /* what goes: the expired snapshots' lists and the files of their loads nothing needs */
        i = 0;
        walk = rc || nexp == 0 ? NULL : snaps;
        cJSON_ArrayForEach(s, walk)
        {
            if (!expired[i++])
                continue;
            const char *list = s_rel(s_str(s, "manifest-list"), location);
            if (list && !s_names_has(&need, list) && !s_names_has(&gone, list))
                s_names_add(&gone, list);
            const cJSON *sum = cJSON_GetObjectItemCaseSensitive(s, "summary");
            const char *uid = s_str(sum, "deltaload.load-uid"), *lid = s_str(sum, "deltaload.load-id");
            if (!uid || !lid || !dld_lake_uid_valid(uid))
                continue; /* not a deltaload load: its files are not ours to judge */
            char prefix[64], mprefix[80];
            snprintf(prefix, sizeof prefix, "LOAD%08" PRId64 "-%s-", (int64_t)strtoll(lid, NULL, 10), uid);
            if (s_load_needed(&need, prefix))
                continue;
            snprintf(mprefix, sizeof mprefix, "metadata/%s", prefix);
            struct s_names found = {0};
            struct s_collect_load in_data = {.names = &found, .prefix = prefix};
            if ((rc = st->list(st->ctx, dir, prefix, s_collect, &found, err)) == DLD_OK &&
                (rc = st->list(st->ctx, dir, "data/", s_collect_load_file, &in_data, err)) == DLD_OK)
                rc = st->list(st->ctx, dir, mprefix, s_collect, &found, err);
            for (int k = 0; k < found.n; k++)
                if (!s_names_has(&gone, found.v[k]))
                    s_names_add(&gone, found.v[k]);
            if (found.oom)
                gone.oom = true;
            s_names_free(&found);
            if (rc)
                break;
        }
        if (rc == DLD_OK && gone.oom)
            rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        bool lost = false;
        new_version = version;
        if (rc == DLD_OK && nexp > 0 && !dry_run) {
            char uid[17];
            cJSON *next = NULL;
            char *json = NULL;
            if ((rc = dld_lake_new_uid(uid, err)) == DLD_OK &&
                ((next = s_expired_metadata(meta, expired, cur_loc, dld_lake_storage_now_ms(st))) == NULL ||
                 (json = dld_ice_print_metadata(next)) == NULL))
                rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
            if (rc == DLD_OK &&
                (rc = dld_ice_put_metadata(st, dir, version, cur_loc, cat_version, json, uid, &lost, err)) == DLD_OK &&
                !lost)
                new_version = version + 1;
            cJSON_Delete(next);
            free(json);
        }
        cJSON_Delete(meta);
        free(cur_loc);
        free(cat_version);
        if (rc || !lost)
            break;
        if (attempt == S_ATTEMPTS - 1)
            rc = dld_error_set(err, DLD_ERR_RETRY, "%s: %d attempts lost the race for the next metadata version",
                               location, S_ATTEMPTS);
    }
    /* the new metadata is current: nothing it names is removed below */
    if (rc == DLD_OK && !dry_run && gone.n > 0)
        rc = st->remove(st->ctx, dir, (const char *const *)gone.v, gone.n, err);
    if (rc == DLD_OK) {
        removed = cJSON_CreateArray();
        for (int k = 0; removed && k < gone.n; k++)
            cJSON_AddItemToArray(removed, cJSON_CreateString(gone.v[k]));
        bool ok = removed && cJSON_AddStringToObject(out, "table", table->target_table_name ? table->target_table_name : "") &&
                  cJSON_AddStringToObject(out, "location", location) &&
                  cJSON_AddNumberToObject(out, "cutoff_ms", (double)cutoff_ms) &&
                  cJSON_AddBoolToObject(out, "dry_run", dry_run != 0) &&
                  cJSON_AddNumberToObject(out, "snapshots_before", nsnap) &&
                  cJSON_AddNumberToObject(out, "snapshots_expired", nexp) &&
                  cJSON_AddItemToObject(out, "expired_snapshot_ids", expired_ids) &&
                  cJSON_AddNumberToObject(out, "metadata_version", (double)new_version) &&
                  cJSON_AddNumberToObject(out, dry_run ? "files_to_remove" : "files_removed", gone.n) &&
                  cJSON_AddItemToObject(out, "files", removed);
        if (ok)
            expired_ids = removed = NULL; /* owned by out */
        if (!ok || (*report = cJSON_PrintUnformatted(out)) == NULL)
            rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    if (rc)
        dld_error_prefix(err, "lake expire %s", table->target_table_name ? table->target_table_name : "?");
    cJSON_Delete(expired_ids);
    cJSON_Delete(removed);
    cJSON_Delete(out);
    s_names_free(&need);
    s_names_free(&gone);
    free(expired);
    free(location);
    free(dir);
    return rc;
}

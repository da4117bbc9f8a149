/* Run records as the core shows them (`history`, `status`): the core formats
 * typed records itself, so every state store answers identically. */
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "host.h"
#include "runs.h"

static void s_str(cJSON *o, const char *k, const char *v)
{
    if (v)
        cJSON_AddStringToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

/* 0 (not yet ended) reads as null rather than as the epoch */
static void s_ms(cJSON *o, const char *k, int64_t v)
{
    if (v)
        cJSON_AddNumberToObject(o, k, (double)v);
    else
        cJSON_AddNullToObject(o, k);
}

cJSON *dld_run_json(const struct dld_run *r)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    s_str(o, "table", r->table);
    cJSON_AddNumberToObject(o, "load_id", (double)r->load_id);
    cJSON_AddStringToObject(o, "mode", r->mode >= DLD_MODE_DELTA && r->mode <= DLD_MODE_BACKFILL ? dld_mode_name(r->mode) : "unknown");
    cJSON_AddStringToObject(o, "status", r->status >= 1 && r->status <= 7 ? dld_run_status_name(r->status) : "unknown");
    s_str(o, "low", r->low);
    cJSON_AddBoolToObject(o, "low_inclusive", r->low_inclusive != 0);
    s_str(o, "high", r->high);
    cJSON_AddNumberToObject(o, "rows", (double)r->rows);
    cJSON_AddNumberToObject(o, "bytes", (double)r->bytes);
    cJSON_AddNumberToObject(o, "files", (double)r->files);
    s_ms(o, "started_ms", r->started_ms);
    s_ms(o, "ended_ms", r->ended_ms);
    if (r->started_ms && r->ended_ms)
        cJSON_AddNumberToObject(o, "duration_ms", (double)(r->ended_ms - r->started_ms));
    else
        cJSON_AddNullToObject(o, "duration_ms");
    s_str(o, "error", r->error);
    s_str(o, "owner", r->owner);
    cJSON *info = r->info_json ? cJSON_Parse(r->info_json) : NULL;
    cJSON_AddItemToObject(o, "info", info ? info : cJSON_CreateNull());
    return o;
}

static char *s_dupn(const char *s) { return s ? strdup(s) : NULL; }

/* A history JSON element back into a run (strings malloc'ed, the host's
 * allocator being libc's: dld_run_clean_up frees them). */
int dld_run_from_json(const cJSON *o, const char *table, struct dld_run *run)
{
    static const char *const modes[] = {"", "delta", "full", "backfill"};
    static const char *const statuses[] = {"", "planned", "staged", "published", "committed", "failed", "aborted", "noop"};
    memset(run, 0, sizeof(*run));
    run->struct_size = sizeof(*run);
    const char *mode = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "mode"));
    const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "status"));
    for (uint32_t i = 1; i < 4; i++)
        if (mode && !strcmp(mode, modes[i]))
            run->mode = i;
    for (uint32_t i = 1; i < 8; i++)
        if (status && !strcmp(status, statuses[i]))
            run->status = i;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "load_id");
    if (!cJSON_IsNumber(id) || run->mode == 0 || run->status == 0)
        return DLD_ERR_FATAL;
    run->load_id = (int64_t)id->valuedouble;
    run->table = strdup(table);
    run->low = s_dupn(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "low")));
    run->high = s_dupn(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "high")));
    run->low_inclusive = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "low_inclusive"));
    run->error = s_dupn(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "error")));
    run->owner = s_dupn(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "owner")));
    const cJSON *n;
    if (cJSON_IsNumber(n = cJSON_GetObjectItemCaseSensitive(o, "rows")))
        run->rows = (int64_t)n->valuedouble;
    if (cJSON_IsNumber(n = cJSON_GetObjectItemCaseSensitive(o, "bytes")))
        run->bytes = (int64_t)n->valuedouble;
    if (cJSON_IsNumber(n = cJSON_GetObjectItemCaseSensitive(o, "files")))
        run->files = (int64_t)n->valuedouble;
    if (cJSON_IsNumber(n = cJSON_GetObjectItemCaseSensitive(o, "started_ms")))
        run->started_ms = (int64_t)n->valuedouble;
    if (cJSON_IsNumber(n = cJSON_GetObjectItemCaseSensitive(o, "ended_ms")))
        run->ended_ms = (int64_t)n->valuedouble;
    const cJSON *info = cJSON_GetObjectItemCaseSensitive(o, "info");
    if (cJSON_IsObject(info))
        run->info_json = cJSON_PrintUnformatted(info);
    if (!run->table)
        return DLD_ERR_FATAL;
    return DLD_OK;
}

static int s_add(void *ctx, const struct dld_run *borrowed)
{
    struct dld_run r;
    dld_struct_copy(&r, sizeof r, borrowed); /* a shorter record's missing members read as zero */
    cJSON *o = dld_run_json(&r);
    if (o == NULL)
        return DLD_ERR_FATAL;
    cJSON_AddItemToArray(ctx, o);
    return DLD_OK;
}

int dld_history_json(const struct dld_state_vtable *vt, void *inst, const char *table, int32_t limit, cJSON **out,
                     struct dld_error *err)
{
    *out = NULL;
    if (vt->runs_history) {
        cJSON *arr = cJSON_CreateArray();
        if (arr == NULL)
            return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        int rc = vt->runs_history(inst, table, limit, s_add, arr, err);
        if (rc) {
            if (err->message[0] == '\0')
                dld_error_set(err, rc, "reading the history");
            cJSON_Delete(arr);
            return rc;
        }
        *out = arr;
        return DLD_OK;
    }
    char *text = NULL;
    int rc = vt->history(inst, table, limit, &text, err);
    if (rc)
        return rc;
    cJSON *arr = cJSON_Parse(text);
    dld_core_host()->free(text);
    if (!cJSON_IsArray(arr)) {
        cJSON_Delete(arr);
        return dld_error_set(err, DLD_ERR_FATAL, "the state store returned a malformed history");
    }
    *out = arr;
    return DLD_OK;
}

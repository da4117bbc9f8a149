/* Schema tracking: the columns each load read, compared before the next
 * load writes anything (schema_track.h, docs/reliability.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "host.h"
#include "runs.h"
#include "schema_track.h"

int dld_schema_policy_parse(const char *text, const char *where, int *policy, struct dld_error *err)
{
    if (text && !strcmp(text, "fail"))
        *policy = DLD_SCHEMA_FAIL;
    else if (text && !strcmp(text, "evolve"))
        *policy = DLD_SCHEMA_EVOLVE;
    else if (text && !strcmp(text, "rewrite"))
        *policy = DLD_SCHEMA_REWRITE;
    else
        return dld_error_set(err, DLD_ERR_CONFIG, "%s: schema_change must be \"fail\", \"evolve\" or \"rewrite\"",
                             where);
    return DLD_OK;
}

const char *dld_schema_policy_name(int policy)
{
    return policy == DLD_SCHEMA_EVOLVE ? "evolve" : policy == DLD_SCHEMA_REWRITE ? "rewrite" : "fail";
}

char *dld_schema_columns(const struct ArrowSchema *schema)
{
    if (schema == NULL || schema->format == NULL || strcmp(schema->format, "+s") || schema->n_children < 0 ||
        (schema->n_children > 0 && schema->children == NULL))
        return NULL;
    cJSON *arr = cJSON_CreateArray();
    for (int64_t i = 0; arr && i < schema->n_children; i++) {
        const struct ArrowSchema *c = schema->children[i];
        cJSON *o = cJSON_CreateObject();
        if (o == NULL || !cJSON_AddItemToArray(arr, o) || !cJSON_AddStringToObject(o, "name", c->name ? c->name : "") ||
            !cJSON_AddStringToObject(o, "type", c->format ? c->format : "") ||
            !cJSON_AddBoolToObject(o, "nullable", (c->flags & ARROW_FLAG_NULLABLE) != 0)) {
            cJSON_Delete(arr);
            arr = NULL;
        }
    }
    char *s = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    return s;
}

int dld_schema_check_batch(const char *declared, const struct ArrowSchema *batch_schema, const char *plugin,
                           struct dld_error *err)
{
    char *got = dld_schema_columns(batch_schema);
    int rc = DLD_OK;
    if (got == NULL)
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    else if (strcmp(got, declared) != 0)
        rc = dld_error_set(err, DLD_ERR_FATAL,
                           "source plugin %s broke its contract: extract_begin declared the columns %s but the first "
                           "batch has %s (source.h: the schema is the batches' own)",
                           plugin, declared, got);
    free(got);
    return rc;
}

/* ---- the columns of the last committed load ------------------------------------------------- */

struct s_last {
    char *columns;   /* the last committed load's, or NULL */
    int64_t version; /* its table version */
    int64_t load_id; /* 0: no committed load found (yet) */
    int seen;        /* runs handed over */
};

/* Takes the columns of the first (newest) committed run; older runs are
 * ignored (an older load's columns do not count). */
static int s_take(struct s_last *last, uint32_t status, int64_t load_id, const cJSON *info)
{
    last->seen++;
    if (status != DLD_RUN_COMMITTED || last->load_id != 0)
        return DLD_OK;
    last->load_id = load_id;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(info, "table_version");
    last->version = cJSON_IsNumber(v) && v->valuedouble >= 1 ? (int64_t)v->valuedouble : 1;
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(info, "columns");
    if (cJSON_IsArray(cols) && (last->columns = cJSON_PrintUnformatted(cols)) == NULL)
        return DLD_ERR_FATAL;
    return DLD_OK;
}

static int s_each(void *ctx, const struct dld_run *borrowed)
{
    struct dld_run r;
    dld_struct_copy(&r, sizeof r, borrowed);
    cJSON *info = r.status == DLD_RUN_COMMITTED && r.info_json ? cJSON_Parse(r.info_json) : NULL;
    int rc = s_take(ctx, r.status, r.load_id, info);
    cJSON_Delete(info);
    return rc;
}

static int s_history(const struct dld_state_vtable *st, void *state, const char *table, int32_t limit,
                     struct s_last *last, struct dld_error *err)
{
    if (st->runs_history)
        return st->runs_history(state, table, limit, s_each, last, err);
    cJSON *arr = NULL;
    int rc = dld_history_json(st, state, table, limit, &arr, err);
    for (const cJSON *o = arr ? arr->child : NULL; o && rc == DLD_OK; o = o->next) {
        struct dld_run r;
        if (dld_run_from_json(o, table, &r) == DLD_OK)
            rc = s_take(last, r.status, r.load_id, cJSON_GetObjectItemCaseSensitive(o, "info"));
        dld_run_clean_up(dld_core_host(), &r);
    }
    cJSON_Delete(arr);
    return rc;
}

/* The newest committed run is nearly always among the newest few (the
 * iterators cannot be stopped early: a non-zero return is an error), so the
 * newest 64 are read first, the whole history only when they hold none. */
static int s_last_committed(const struct dld_state_vtable *st, void *state, const char *table, struct s_last *last,
                            struct dld_error *err)
{
    int rc = s_history(st, state, table, 64, last, err);
    if (rc == DLD_OK && last->load_id == 0 && last->seen >= 64) {
        *last = (struct s_last){0};
        rc = s_history(st, state, table, 0, last, err);
    }
    if (rc && err->message[0] == '\0')
        dld_error_set(err, rc, "reading the history of '%s'", table);
    return rc;
}

/* ---- the comparison -------------------------------------------------------------------------- */

struct s_col {
    const char *name, *type;
};

static int s_cols(const cJSON *arr, struct s_col **out)
{
    int n = cJSON_GetArraySize(arr), k = 0;
    *out = calloc((size_t)n + 1, sizeof(**out));
    if (*out == NULL)
        return -1;
    for (const cJSON *o = arr ? arr->child : NULL; o; o = o->next) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "name"));
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "type"));
        if (name && type)
            (*out)[k++] = (struct s_col){name, type};
    }
    return k;
}

static const char *s_find(const struct s_col *c, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(c[i].name, name))
            return c[i].type;
    return NULL;
}

/* A readable name for an Arrow format (the format itself when unknown). */
static const char *s_type_name(const char *f, char *buf, size_t cap)
{
    static const char *const map[][2] = {
        {"b", "boolean"}, {"c", "int8"},    {"C", "uint8"},      {"s", "int16"},        {"S", "uint16"},
        {"i", "int32"},   {"I", "uint32"},  {"l", "int64"},      {"L", "uint64"},       {"e", "float16"},
        {"f", "float32"}, {"g", "float64"}, {"u", "utf8"},       {"U", "large utf8"},   {"z", "binary"},
        {"Z", "large binary"}, {"tdD", "date32"}, {"tdm", "date64"}, {"n", "null"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(f, map[i][0]))
            return map[i][1];
    int p, s;
    if (sscanf(f, "d:%d,%d", &p, &s) == 2) {
        snprintf(buf, cap, "decimal(%d,%d)", p, s);
        return buf;
    }
    if (!strncmp(f, "ts", 2) && strlen(f) >= 4) {
        snprintf(buf, cap, "timestamp[%s]%s%s", f[2] == 's' ? "s" : f[2] == 'm' ? "ms" : f[2] == 'u' ? "us" : "ns",
                 f[4] ? " " : "", f + 4);
        return buf;
    }
    return f;
}

static int s_rank(const char *chain, char c)
{
    const char *p = c ? strchr(chain, c) : NULL;
    return p ? (int)(p - chain) : -1;
}

/* Widening as Iceberg allows it (and the unsigned integers alike). */
static int s_widens(const char *from, const char *to)
{
    if (strlen(from) == 1 && strlen(to) == 1) {
        const char *chains[] = {"csil", "CSIL", "fg"};
        for (size_t i = 0; i < 3; i++) {
            int a = s_rank(chains[i], from[0]), b = s_rank(chains[i], to[0]);
            if (a >= 0 && b > a)
                return 1;
        }
        return 0;
    }
    int p1, s1, p2, s2, w1 = 128, w2 = 128;
    if (sscanf(from, "d:%d,%d,%d", &p1, &s1, &w1) >= 2 && sscanf(to, "d:%d,%d,%d", &p2, &s2, &w2) >= 2)
        return s1 == s2 && p2 > p1 && w2 >= w1;
    return 0;
}

/* Appends "what name (type)" / "name: a → b" items to a list text. */
static void s_list(char *out, size_t cap, const char *item)
{
    size_t n = strlen(out);
    if (n + 2 < cap)
        snprintf(out + n, cap - n, "%s%s", n ? ", " : "", item);
}

int dld_last_committed_read(const struct dld_state_vtable *st, void *state, const char *table,
                            struct dld_last_committed *out, struct dld_error *err)
{
    struct s_last last = {0};
    int rc = s_last_committed(st, state, table, &last, err);
    *out = (struct dld_last_committed){.columns = last.columns, .load_id = last.load_id,
                                       .version = last.load_id && last.version >= 1 ? last.version : 1};
    return rc;
}

void dld_last_committed_clean_up(struct dld_last_committed *last)
{
    free(last->columns);
    *last = (struct dld_last_committed){0};
}

int dld_schema_track(const struct dld_state_vtable *st, void *state, const char *table, const char *filter_column,
                     const char *columns, int policy, char **note, bool *rewrite, struct dld_error *err)
{
    *note = NULL;
    *rewrite = false;
    if (columns == NULL)
        return DLD_OK; /* the source told nothing (an empty window): nothing to compare */
    struct dld_last_committed last;
    int rc = dld_last_committed_read(st, state, table, &last, err);
    if (rc == DLD_OK)
        rc = dld_schema_compare(&last, filter_column, columns, policy, note, rewrite, err);
    dld_last_committed_clean_up(&last);
    return rc;
}

int dld_schema_compare(const struct dld_last_committed *last, const char *filter_column, const char *columns,
                       int policy, char **note, bool *rewrite, struct dld_error *err)
{
    *note = NULL;
    *rewrite = false;
    if (columns == NULL || last->columns == NULL)
        return DLD_OK; /* nothing told (an empty window), the first load, or one recorded before columns were */
    int rc = DLD_OK;
    cJSON *pj = cJSON_Parse(last->columns), *cj = cJSON_Parse(columns);
    struct s_col *pc = NULL, *cc = NULL;
    int np = s_cols(pj, &pc), nc = s_cols(cj, &cc);
    char added[1024] = "", dropped[1024] = "", widened[1024] = "", retyped[1024] = "", item[512], b1[64], b2[64];
    const char *filter_from = NULL, *filter_to = NULL;
    if (np < 0 || nc < 0) {
        rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        goto out;
    }
    for (int i = 0; i < nc; i++) {
        const char *was = s_find(pc, np, cc[i].name);
        if (was == NULL) {
            snprintf(item, sizeof item, "%s (%s)", cc[i].name, s_type_name(cc[i].type, b1, sizeof b1));
            s_list(added, sizeof added, item);
        } else if (strcmp(was, cc[i].type) != 0) {
            snprintf(item, sizeof item, "%s: %s → %s", cc[i].name, s_type_name(was, b1, sizeof b1),
                     s_type_name(cc[i].type, b2, sizeof b2));
            if (filter_column && !strcmp(cc[i].name, filter_column)) {
                filter_from = was;
                filter_to = cc[i].type;
            }
            s_list(s_widens(was, cc[i].type) ? widened : retyped, s_widens(was, cc[i].type) ? sizeof widened
                                                                                            : sizeof retyped,
                   item);
        }
    }
    for (int i = 0; i < np; i++)
        if (s_find(cc, nc, pc[i].name) == NULL) {
            snprintf(item, sizeof item, "%s (%s)", pc[i].name, s_type_name(pc[i].type, b1, sizeof b1));
            s_list(dropped, sizeof dropped, item);
        }
    if (filter_from) {
        rc = dld_error_set(err, DLD_ERR_CONFIG,
                           "the type of filter column %s changed since load %lld (%s → %s): the window would now "
                           "compare values in the new type and could skip or repeat rows, so it fails under every "
                           "schema_change policy; nothing was loaded and the watermark stays. Restore the column's "
                           "type, or load the table into a new targetTableName (docs/reliability.md#schema-drift)",
                           filter_column, (long long)last->load_id, s_type_name(filter_from, b1, sizeof b1),
                           s_type_name(filter_to, b2, sizeof b2));
        goto out;
    }
    if (!added[0] && !dropped[0] && !widened[0] && !retyped[0])
        goto out; /* the same columns (perhaps reordered, or another nullability) */
    char changes[4200] = "";
    if (added[0])
        snprintf(changes + strlen(changes), sizeof changes - strlen(changes), "added %s; ", added);
    if (dropped[0])
        snprintf(changes + strlen(changes), sizeof changes - strlen(changes), "dropped %s; ", dropped);
    if (widened[0])
        snprintf(changes + strlen(changes), sizeof changes - strlen(changes), "widened %s; ", widened);
    if (retyped[0])
        snprintf(changes + strlen(changes), sizeof changes - strlen(changes), "retyped %s; ", retyped);
    changes[strlen(changes) - 2] = '\0';
    if (policy == DLD_SCHEMA_EVOLVE && !retyped[0]) {
        if (asprintf(note, "evolved since load %lld: %s", (long long)last->load_id, changes) < 0) {
            *note = NULL;
            rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        }
        goto out;
    }
    if (policy == DLD_SCHEMA_REWRITE) {
        *rewrite = true;
        if (asprintf(note, "changed since load %lld (version %lld): %s", (long long)last->load_id,
                     (long long)last->version, changes) < 0) {
            *note = NULL;
            rc = dld_error_set(err, DLD_ERR_FATAL, "out of memory");
        }
        goto out;
    }
    if (policy == DLD_SCHEMA_EVOLVE)
        rc = dld_error_set(err, DLD_ERR_CONFIG,
                           "the columns changed since load %lld (%s) and schema_change evolve accepts only added or "
                           "dropped columns and widening types, not: %s; nothing was loaded and the watermark stays "
                           "(docs/reliability.md#schema-drift)",
                           (long long)last->load_id, changes, retyped);
    else
        rc = dld_error_set(err, DLD_ERR_CONFIG,
                           "the columns changed since load %lld: %s. schema_change is fail: nothing was loaded and "
                           "the watermark stays; set schema_change to evolve (added/dropped columns, widening types), "
                           "to rewrite (a full load into a new table version) or load the table into a new targetTableName (docs/reliability.md#schema-drift)",
                           (long long)last->load_id, changes);
out:
    free(pc);
    free(cc);
    cJSON_Delete(pj);
    cJSON_Delete(cj);
    return rc;
}

char *dld_schema_info_add(const char *info_json, const char *columns, const char *note)
{
    cJSON *o = info_json ? cJSON_Parse(info_json) : cJSON_CreateObject();
    cJSON *cols = columns ? cJSON_Parse(columns) : NULL;
    char *s = NULL;
    if (cJSON_IsObject(o)) {
        cJSON_DeleteItemFromObjectCaseSensitive(o, "columns");
        cJSON_DeleteItemFromObjectCaseSensitive(o, "schema_change");
        if (cJSON_IsArray(cols) && cJSON_AddItemToObject(o, "columns", cols))
            cols = NULL;
        if (note)
            cJSON_AddStringToObject(o, "schema_change", note);
        s = cJSON_PrintUnformatted(o);
    }
    cJSON_Delete(cols);
    cJSON_Delete(o);
    return s;
}

/* ---- table versions ------------------------------------------------------------------------- */

int dld_table_version(const struct dld_state_vtable *st, void *state, const char *table, int64_t *version,
                      struct dld_error *err)
{
    struct dld_last_committed last;
    int rc = dld_last_committed_read(st, state, table, &last, err);
    *version = last.version;
    dld_last_committed_clean_up(&last);
    return rc;
}

int64_t dld_run_table_version(const char *info_json)
{
    cJSON *o = info_json ? cJSON_Parse(info_json) : NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "table_version");
    int64_t version = cJSON_IsNumber(v) && v->valuedouble >= 1 ? (int64_t)v->valuedouble : 1;
    cJSON_Delete(o);
    return version;
}

bool dld_run_rewrite_watermark(const char *info_json, char **watermark)
{
    *watermark = NULL;
    cJSON *o = info_json ? cJSON_Parse(info_json) : NULL;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "rewrite");
    bool is = cJSON_IsObject(r);
    const char *wm = is ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "watermark")) : NULL;
    if (wm)
        *watermark = strdup(wm);
    cJSON_Delete(o);
    return is;
}

void dld_table_version_name(const char *name, int64_t version, char *buf, size_t cap)
{
    if (version <= 1)
        snprintf(buf, cap, "%s", name);
    else
        snprintf(buf, cap, "%s__v%lld", name, (long long)version);
}

char *dld_table_version_info(const char *info_json, int64_t version, bool rewrite, const char *watermark)
{
    cJSON *o = info_json ? cJSON_Parse(info_json) : cJSON_CreateObject();
    char *s = NULL;
    if (cJSON_IsObject(o)) {
        cJSON_DeleteItemFromObjectCaseSensitive(o, "table_version");
        cJSON_DeleteItemFromObjectCaseSensitive(o, "rewrite");
        cJSON_AddNumberToObject(o, "table_version", (double)version);
        cJSON *r = rewrite ? cJSON_AddObjectToObject(o, "rewrite") : NULL;
        if (r)
            watermark ? (void)cJSON_AddStringToObject(r, "watermark", watermark) : (void)cJSON_AddNullToObject(r, "watermark");
        if (!rewrite || r)
            s = cJSON_PrintUnformatted(o);
    }
    cJSON_Delete(o);
    return s;
}

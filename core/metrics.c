/* Per-table statistics from the state store, and the Prometheus text file. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "host.h"
#include "items.h"
#include "metrics.h"
#include "notify.h"
#include "runs.h"

static char *s_dup(const char *s) { return s ? strdup(s) : NULL; }

void dld_table_stats_free(struct dld_table_stats *s, int n)
{
    for (int i = 0; s && i < n; i++) {
        free(s[i].table);
        free(s[i].watermark);
        free(s[i].source_high);
        free(s[i].last_error);
    }
    free(s);
}

static uint32_t s_status_of(const char *name)
{
    for (uint32_t i = 1; i <= 7; i++)
        if (name && !strcmp(name, dld_run_status_name(i)))
            return i;
    return 0;
}

static int64_t s_num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

/* Folds one table's history (newest first) into its stats. */
static void s_fold_history(struct dld_table_stats *t, const cJSON *hist)
{
    bool streak = true;
    for (const cJSON *r = hist ? hist->child : NULL; r; r = r->next) {
        const char *table = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "table"));
        if (table == NULL || strcmp(table, t->table))
            continue;
        uint32_t st = s_status_of(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "status")));
        int64_t id = s_num(r, "load_id");
        if (t->last_status == 0) {
            t->last_status = st;
            t->last_load_id = id;
            t->last_started_ms = s_num(r, "started_ms");
            t->last_ended_ms = s_num(r, "ended_ms");
            t->last_rows = s_num(r, "rows");
            t->last_error = s_dup(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "error")));
        }
        const char *high = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "high"));
        const char *mode = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "mode"));
        if (t->source_high == NULL && high && mode && strcmp(mode, "backfill"))
            t->source_high = strdup(high);
        if (id == t->watermark_load_id && t->watermark_load_id > 0)
            t->watermark_set_ms = s_num(r, "ended_ms");
        switch (st) {
        case DLD_RUN_COMMITTED:
            t->loads_committed++;
            t->rows_total += s_num(r, "rows");
            t->bytes_total += s_num(r, "bytes");
            t->files_total += s_num(r, "files");
            break;
        case DLD_RUN_NOOP: t->loads_noop++; break;
        case DLD_RUN_FAILED: t->loads_failed++; break;
        case DLD_RUN_ABORTED: t->loads_aborted++; break;
        default: break; /* a load in progress */
        }
        if (st == DLD_RUN_COMMITTED || st == DLD_RUN_NOOP) {
            if (t->last_success_ms == 0)
                t->last_success_ms = s_num(r, "ended_ms");
            streak = false;
        } else if (streak && (st == DLD_RUN_FAILED || st == DLD_RUN_ABORTED)) {
            t->consecutive_failures++;
        }
    }
}

int dld_table_stats_collect(const struct dld_state_vtable *vt, void *st, const char *only,
                            struct dld_table_stats **out, int *n, struct dld_error *err)
{
    *out = NULL;
    *n = 0;
    char *list = NULL;
    int rc = vt->item_list(st, &list, err);
    if (rc)
        return rc;
    cJSON *items = cJSON_Parse(list);
    dld_core_host()->free(list);
    if (!cJSON_IsArray(items)) {
        cJSON_Delete(items);
        return dld_error_set(err, DLD_ERR_FATAL, "the state store returned a malformed item list");
    }
    cJSON *hist = NULL;
    if ((rc = dld_history_json(vt, st, only, 0, &hist, err))) {
        cJSON_Delete(items);
        return rc;
    }
    int cap = cJSON_GetArraySize(items);
    struct dld_table_stats *s = calloc((size_t)cap + 1, sizeof(*s));
    int k = 0;
    for (const cJSON *c = items->child; s && c; c = c->next) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "targetTableName"));
        if (name == NULL || (only && strcmp(only, name)))
            continue;
        struct dld_table_stats *t = &s[k++];
        t->table = strdup(name);
        struct dld_item it;
        struct dld_error ierr;
        dld_error_init(&ierr);
        if (dld_item_parse(c, &it, &ierr) == DLD_OK) {
            t->active = it.active;
            dld_item_clean_up(&it);
        }
        struct dld_watermark wm = {.struct_size = sizeof(wm)};
        if (vt->watermark_get(st, name, &wm, &ierr) == DLD_OK) {
            t->watermark = s_dup(wm.value);
            t->watermark_load_id = wm.load_id;
            t->watermark_set_ms = wm.updated_ms;
            dld_watermark_clean_up(dld_core_host(), &wm);
        }
        s_fold_history(t, hist);
    }
    cJSON_Delete(items);
    cJSON_Delete(hist);
    if (s == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    if (only && k == 0) {
        free(s);
        return dld_error_set(err, DLD_ERR_NOT_FOUND, "no controller item named '%s'", only);
    }
    *out = s;
    *n = k;
    return DLD_OK;
}

static int s_digits(const char *p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

bool dld_value_number(const char *s, double *out, bool *is_time)
{
    *is_time = false;
    if (s == NULL || s[0] == '\0')
        return false;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (*end == '\0' && errno == 0 && isfinite(d) && !(s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))) {
        *out = d;
        return true;
    }
    /* YYYY-MM-DD[(T| )HH:MM[:SS[.fff...]]][Z|(+|-)HH[:]MM] */
    size_t len = strlen(s);
    if (len < 10 || s[4] != '-' || s[7] != '-')
        return false;
    int y = s_digits(s, 4), mo = s_digits(s + 5, 2), dd = s_digits(s + 8, 2);
    if (y < 0 || mo < 1 || mo > 12 || dd < 1 || dd > 31)
        return false;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = dd};
    double frac = 0;
    long offset = 0;
    const char *p = s + 10;
    if (*p == 'T' || *p == ' ') {
        int hh = s_digits(p + 1, 2), mi = -1;
        if (hh < 0 || p[3] != ':' || (mi = s_digits(p + 4, 2)) < 0)
            return false;
        tm.tm_hour = hh;
        tm.tm_min = mi;
        p += 6;
        if (*p == ':') {
            int ss = s_digits(p + 1, 2);
            if (ss < 0)
                return false;
            tm.tm_sec = ss;
            p += 3;
            if (*p == '.') {
                double scale = 0.1;
                for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
                    frac += (*p - '0') * scale;
            }
        }
        if (*p == 'Z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p == '-' ? -1 : 1;
            int oh = s_digits(p + 1, 2);
            const char *m = p[3] == ':' ? p + 4 : p + 3;
            int om = s_digits(m, 2);
            if (oh < 0 || om < 0)
                return false;
            offset = sign * (oh * 3600L + om * 60L);
            p = m + 2;
        }
    }
    if (*p != '\0')
        return false;
    time_t t = timegm(&tm);
    *out = (double)t - (double)offset + frac;
    *is_time = true;
    return true;
}

/* label values: backslash, double quote and newline escaped */
static void s_label(FILE *f, const char *v)
{
    for (const char *p = v; *p; p++) {
        if (*p == '\\')
            fputs("\\\\", f);
        else if (*p == '"')
            fputs("\\\"", f);
        else if (*p == '\n')
            fputs("\\n", f);
        else
            fputc(*p, f);
    }
}

static void s_head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void s_sample(FILE *f, const char *name, const char *table, const char *extra_k, const char *extra_v, double v)
{
    fprintf(f, "%s{table=\"", name);
    s_label(f, table);
    fputc('"', f);
    if (extra_k) {
        fprintf(f, ",%s=\"", extra_k);
        s_label(f, extra_v);
        fputc('"', f);
    }
    if (v == floor(v) && fabs(v) < 9.007199254740992e15)
        fprintf(f, "} %.0f\n", v);
    else
        fprintf(f, "} %.15g\n", v);
}

enum { M_ACTIVE, M_ROWS, M_BYTES, M_FILES, M_LOADS, M_DURATION, M_LAST_END, M_LAST_OK, M_FAILS, M_WM, M_WM_TIME,
       M_WM_SET, M_LAG, M_LAG_SECONDS, M_COUNT };

static const struct {
    const char *name, *type, *help;
} s_metrics[M_COUNT] = {
    [M_ACTIVE] = {"deltaload_table_active", "gauge", "1 when the controller item's activeflag is Y, else 0."},
    [M_ROWS] = {"deltaload_table_rows_total", "counter", "Rows written by the committed loads in the run history."},
    [M_BYTES] = {"deltaload_table_bytes_total", "counter", "Bytes of data files written by the committed loads in the run history."},
    [M_FILES] = {"deltaload_table_files_total", "counter", "Data files written by the committed loads in the run history."},
    [M_LOADS] = {"deltaload_table_loads_total", "counter", "Finished loads in the run history by final status."},
    [M_DURATION] = {"deltaload_table_last_load_duration_seconds", "gauge", "Duration of the newest finished load."},
    [M_LAST_END] = {"deltaload_table_last_load_timestamp_seconds", "gauge", "When the newest finished load ended (Unix time)."},
    [M_LAST_OK] = {"deltaload_table_last_success_timestamp_seconds", "gauge", "When the newest committed or no-op load ended (Unix time)."},
    [M_FAILS] = {"deltaload_table_consecutive_failures", "gauge", "Failed or aborted loads since the newest successful one."},
    [M_WM] = {"deltaload_table_watermark", "gauge", "Committed watermark of a numeric filter column."},
    [M_WM_TIME] = {"deltaload_table_watermark_timestamp_seconds", "gauge", "Committed watermark of a date/time filter column (Unix time)."},
    [M_WM_SET] = {"deltaload_table_watermark_set_timestamp_seconds", "gauge", "When the committed watermark was set (Unix time)."},
    [M_LAG] = {"deltaload_table_watermark_lag", "gauge", "Source maximum read by the newest load minus the watermark (numeric columns, the column's unit)."},
    [M_LAG_SECONDS] = {"deltaload_table_watermark_lag_seconds", "gauge", "Source maximum read by the newest load minus the watermark (date/time columns)."},
};

char *dld_metrics_render(const struct dld_table_stats *s, int n, int64_t now_ms)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        return NULL;
    s_head(f, "deltaload_build_info", "gauge", "Version of the deltaload that wrote this file; always 1.");
    fprintf(f, "deltaload_build_info{version=\"%s\"} 1\n", DLD_VERSION);
    s_head(f, "deltaload_metrics_timestamp_seconds", "gauge", "When these metrics were gathered (Unix time).");
    fprintf(f, "deltaload_metrics_timestamp_seconds %.3f\n", (double)now_ms / 1000.0);
    s_head(f, "deltaload_tables", "gauge", "Controller items in the state store.");
    fprintf(f, "deltaload_tables %d\n", n);
    for (int m = 0; m < M_COUNT; m++) {
        s_head(f, s_metrics[m].name, s_metrics[m].type, s_metrics[m].help);
        for (int i = 0; i < n; i++) {
            const struct dld_table_stats *t = &s[i];
            const char *name = s_metrics[m].name;
            double wm = 0, hi = 0;
            bool wm_time = false, hi_time = false;
            bool wm_num = dld_value_number(t->watermark, &wm, &wm_time);
            bool hi_num = dld_value_number(t->source_high, &hi, &hi_time);
            bool finished = t->last_status >= DLD_RUN_COMMITTED && t->last_ended_ms > 0;
            switch (m) {
            case M_ACTIVE: s_sample(f, name, t->table, NULL, NULL, t->active); break;
            case M_ROWS: s_sample(f, name, t->table, NULL, NULL, (double)t->rows_total); break;
            case M_BYTES: s_sample(f, name, t->table, NULL, NULL, (double)t->bytes_total); break;
            case M_FILES: s_sample(f, name, t->table, NULL, NULL, (double)t->files_total); break;
            case M_LOADS:
                s_sample(f, name, t->table, "status", "committed", (double)t->loads_committed);
                s_sample(f, name, t->table, "status", "noop", (double)t->loads_noop);
                s_sample(f, name, t->table, "status", "failed", (double)t->loads_failed);
                s_sample(f, name, t->table, "status", "aborted", (double)t->loads_aborted);
                break;
            case M_DURATION:
                if (finished && t->last_started_ms > 0)
                    s_sample(f, name, t->table, NULL, NULL, (double)(t->last_ended_ms - t->last_started_ms) / 1000.0);
                break;
            case M_LAST_END:
                if (finished)
                    s_sample(f, name, t->table, NULL, NULL, (double)t->last_ended_ms / 1000.0);
                break;
            case M_LAST_OK:
                if (t->last_success_ms > 0)
                    s_sample(f, name, t->table, NULL, NULL, (double)t->last_success_ms / 1000.0);
                break;
            case M_FAILS: s_sample(f, name, t->table, NULL, NULL, t->consecutive_failures); break;
            case M_WM:
                if (wm_num && !wm_time)
                    s_sample(f, name, t->table, NULL, NULL, wm);
                break;
            case M_WM_TIME:
                if (wm_num && wm_time)
                    s_sample(f, name, t->table, NULL, NULL, wm);
                break;
            case M_WM_SET:
                if (t->watermark && t->watermark_set_ms > 0)
                    s_sample(f, name, t->table, NULL, NULL, (double)t->watermark_set_ms / 1000.0);
                break;
            case M_LAG:
            case M_LAG_SECONDS:
                if (wm_num && hi_num && wm_time == hi_time && (m == M_LAG_SECONDS) == wm_time)
                    s_sample(f, name, t->table, NULL, NULL, hi > wm ? hi - wm : 0);
                break;
            }
        }
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

int dld_metrics_write_file(const char *path, const char *text, struct dld_error *err)
{
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.%ld.tmp", path, (long)getpid()) < 0)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        dld_error_set(err, DLD_ERR_FATAL, "metrics: cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        return DLD_ERR_FATAL;
    }
    size_t len = strlen(text), off = 0;
    int rc = DLD_OK;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = dld_error_set(err, DLD_ERR_FATAL, "metrics: writing %s: %s", tmp, strerror(errno));
            break;
        }
        off += (size_t)w;
    }
    if (rc == DLD_OK && fsync(fd) != 0)
        rc = dld_error_set(err, DLD_ERR_FATAL, "metrics: fsync %s: %s", tmp, strerror(errno));
    close(fd);
    if (rc == DLD_OK && rename(tmp, path) != 0)
        rc = dld_error_set(err, DLD_ERR_FATAL, "metrics: renaming %s to %s: %s", tmp, path, strerror(errno));
    if (rc)
        unlink(tmp);
    free(tmp);
    return rc;
}

int dld_metrics_conf(const cJSON *root, const char **path, struct dld_error *err)
{
    *path = NULL;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "metrics");
    if (m == NULL)
        return DLD_OK;
    if (!cJSON_IsObject(m))
        return dld_error_set(err, DLD_ERR_CONFIG, "metrics must be an object like {\"path\": \"FILE.prom\"}");
    for (const cJSON *c = m->child; c; c = c->next)
        if (strcmp(c->string, "path"))
            return dld_error_set(err, DLD_ERR_CONFIG, "metrics: unknown key '%s' (valid: path)", c->string);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(m, "path");
    if (!cJSON_IsString(p) || p->valuestring[0] == '\0')
        return dld_error_set(err, DLD_ERR_CONFIG, "metrics.path must be a non-empty file name");
    *path = p->valuestring;
    return DLD_OK;
}

void dld_metrics_after_cycle(struct dld_config *cfg)
{
    const char *path = NULL;
    struct dld_error err;
    dld_error_init(&err);
    if (dld_metrics_conf(cfg->root, &path, &err) != DLD_OK || path == NULL)
        return;
    void *st = NULL;
    struct dld_table_stats *s = NULL;
    int n = 0;
    int rc = dld_config_plugin(cfg, DLD_KIND_STATE, &err);
    const struct dld_plugin_conf *pc = &cfg->kinds[DLD_KIND_STATE];
    if (rc == DLD_OK)
        rc = pc->loaded.vt.state.open(dld_core_host(), (const char *const *)pc->kv, &st, &err);
    if (rc == DLD_OK)
        rc = dld_table_stats_collect(&pc->loaded.vt.state, st, NULL, &s, &n, &err);
    if (st)
        pc->loaded.vt.state.close(st);
    if (rc == DLD_OK) {
        char *text = dld_metrics_render(s, n, dld_core_now_ms());
        rc = text ? dld_metrics_write_file(path, text, &err) : dld_error_set(&err, DLD_ERR_FATAL, "out of memory");
        free(text);
    }
    dld_table_stats_free(s, n);
    if (rc)
        dld_core_logf(DLD_LOG_WARN, "metrics", "metrics file %s not written: %s", path, err.message);
    else
        dld_core_logf(DLD_LOG_DEBUG, "metrics", "wrote %s", path);
}

void dld_ops_after_cycle(struct dld_config *cfg, const struct dld_table_result *res, int n)
{
    dld_metrics_after_cycle(cfg);
    dld_notify_cycle(cfg, res, n);
}

int dld_ops_conf_check(const cJSON *root, struct dld_error *err)
{
    const char *path;
    int rc = dld_metrics_conf(root, &path, err);
    return rc ? rc : dld_notify_conf(root, err);
}

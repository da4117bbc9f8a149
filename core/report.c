/* report --html: one self-contained page (inline CSS and hand-made SVG, no
 * script, no external resource) from the run history. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "engine.h"
#include "host.h"
#include "metrics.h"
#include "runs.h"

static const char s_report_usage[] =
    "usage: deltaload [-c FILE] report --html FILE [--since WHEN] [--table NAME]\n"
    "Writes one self-contained HTML page (no network needed to view it) from the run history:\n"
    "per table, charts of rows and duration per load and of the watermark over time (numeric or\n"
    "date/time columns), failed loads marked with their error, and a table of the latest status.\n"
    "WHEN is an ISO date/time (2024-05-01, 2024-05-01T10:00:00Z) or an age: 90m, 36h, 7d.\n";

static void s_esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

static const char *s_get(const cJSON *o, const char *k) { return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k)); }
static double s_num(const cJSON *o, const char *k) { const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k); return cJSON_IsNumber(v) ? v->valuedouble : NAN; }

static void s_time(double ms, char *buf, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%d %H:%M:%SZ", &tm);
}

struct pt {
    double x, y;
    bool failed;
    const cJSON *run;
};

/* One line chart: points in time order; failures as red squares with the error as a tooltip. */
static void s_chart(FILE *f, const char *table, const char *kind, const char *title, const struct pt *p, int n)
{
    const double W = 640, H = 180, L = 60, R = 10, T = 20, B = 30;
    double x0 = INFINITY, x1 = -INFINITY, y0 = 0, y1 = -INFINITY;
    for (int i = 0; i < n; i++) {
        x0 = fmin(x0, p[i].x);
        x1 = fmax(x1, p[i].x);
        y0 = fmin(y0, p[i].y);
        y1 = fmax(y1, p[i].y);
    }
    if (n == 0 || !(x1 > x0)) {
        x0 = n ? p[0].x - 1 : 0;
        x1 = n ? p[0].x + 1 : 1;
    }
    if (!(y1 > y0))
        y1 = y0 + 1;
    fprintf(f, "<figure><figcaption>");
    s_esc(f, title);
    fprintf(f, "</figcaption>\n<svg class=\"chart\" data-table=\"");
    s_esc(f, table);
    fprintf(f, "\" data-kind=\"%s\" data-points=\"%d\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
               "xmlns=\"http://www.w3.org/2000/svg\" role=\"img\">\n", kind, n, W, H, W, H);
    fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" class=\"axis\"/>", L, H - B, W - R, H - B);
    fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" class=\"axis\"/>\n", L, T, L, H - B);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" class=\"lbl\" text-anchor=\"end\">%.6g</text>", L - 4, T + 4, y1);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" class=\"lbl\" text-anchor=\"end\">%.6g</text>\n", L - 4, H - B, y0);
    char a[40], b[40];
    s_time(x0, a, sizeof a);
    s_time(x1, b, sizeof b);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" class=\"lbl\">%s</text><text x=\"%.0f\" y=\"%.0f\" class=\"lbl\" "
               "text-anchor=\"end\">%s</text>\n", L, H - 8, a, W - R, H - 8, b);
#define SX(v) (L + ((v) - x0) / (x1 - x0) * (W - L - R))
#define SY(v) (H - B - ((v) - y0) / (y1 - y0) * (H - T - B))
    if (n > 1) {
        fputs("<polyline class=\"line\" points=\"", f);
        for (int i = 0; i < n; i++)
            fprintf(f, "%s%.1f,%.1f", i ? " " : "", SX(p[i].x), SY(p[i].y));
        fputs("\"/>\n", f);
    }
    for (int i = 0; i < n; i++) {
        char when[40];
        s_time(p[i].x, when, sizeof when);
        if (p[i].failed)
            fprintf(f, "<rect class=\"pt fail\" x=\"%.1f\" y=\"%.1f\" width=\"8\" height=\"8\">", SX(p[i].x) - 4, SY(p[i].y) - 4);
        else
            fprintf(f, "<circle class=\"pt\" cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\">", SX(p[i].x), SY(p[i].y));
        fprintf(f, "<title>load %.0f, %s, %s: %.6g", s_num(p[i].run, "load_id"), when, s_get(p[i].run, "status"), p[i].y);
        if (s_get(p[i].run, "error")) {
            fputs(" — ", f);
            s_esc(f, s_get(p[i].run, "error"));
        }
        fputs(p[i].failed ? "</title></rect>\n" : "</title></circle>\n", f);
    }
#undef SX
#undef SY
    fputs("</svg></figure>\n", f);
}

static bool s_since(const char *s, int64_t now_ms, int64_t *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end != s && v >= 0 && (!strcmp(end, "m") || !strcmp(end, "h") || !strcmp(end, "d"))) {
        double mult = *end == 'm' ? 60 : *end == 'h' ? 3600 : 86400;
        *out = now_ms - (int64_t)(v * mult * 1000);
        return true;
    }
    double t;
    bool is_time;
    if (dld_value_number(s, &t, &is_time) && is_time) {
        *out = (int64_t)(t * 1000);
        return true;
    }
    return false;
}

static int s_cmp_started(const void *a, const void *b)
{
    double x = s_num(*(const cJSON *const *)a, "started_ms"), y = s_num(*(const cJSON *const *)b, "started_ms");
    return x < y ? -1 : x > y;
}

static void s_page(FILE *f, const char *cfg_path, const struct dld_table_stats *st, int nst, cJSON *hist, int64_t since_ms,
                   int64_t now_ms)
{
    char now[40];
    s_time((double)now_ms, now, sizeof now);
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
          "<title>deltaload load report</title>\n<style>\n"
          "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}h1{font-size:1.5em}h2{margin-top:2em;border-bottom:1px solid #ccc}\n"
          "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#f3f3f3}\n"
          ".failed{color:#b00020;font-weight:bold}.ok{color:#1b7f3b}figure{display:inline-block;margin:0 1em 1em 0}\n"
          "figcaption{font-weight:bold}.axis{stroke:#888}.lbl{font-size:10px;fill:#555}.line{fill:none;stroke:#3366cc;stroke-width:1.5}\n"
          ".pt{fill:#3366cc}.pt.fail{fill:#b00020}ul.errors li{color:#b00020}\n"
          "</style></head><body>\n<h1>deltaload load report</h1>\n<p>", f);
    s_esc(f, cfg_path);
    fprintf(f, " — generated %s", now);
    if (since_ms > 0) {
        char s[40];
        s_time((double)since_ms, s, sizeof s);
        fprintf(f, ", loads since %s", s);
    }
    fputs("</p>\n<h2>Latest status</h2>\n<table id=\"latest\"><tr><th>table</th><th>active</th><th>watermark</th>"
          "<th>last load</th><th>status</th><th>rows</th><th>ended</th><th>consecutive failures</th><th>error</th></tr>\n", f);
    for (int i = 0; i < nst; i++) {
        const struct dld_table_stats *t = &st[i];
        const char *status = t->last_status ? dld_run_status_name(t->last_status) : "-";
        char ended[40] = "-";
        if (t->last_ended_ms)
            s_time((double)t->last_ended_ms, ended, sizeof ended);
        fputs("<tr><td>", f);
        s_esc(f, t->table);
        fprintf(f, "</td><td>%s</td><td>", t->active ? "Y" : "N");
        s_esc(f, t->watermark ? t->watermark : "-");
        fprintf(f, "</td><td>%lld</td><td class=\"%s\">%s</td><td>%lld</td><td>%s</td><td>%d</td><td>", (long long)t->last_load_id,
                t->last_status == DLD_RUN_FAILED || t->last_status == DLD_RUN_ABORTED ? "failed" : "ok", status,
                (long long)t->last_rows, ended, t->consecutive_failures);
        s_esc(f, t->last_error ? t->last_error : "");
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
    int nh = cJSON_GetArraySize(hist);
    const cJSON **runs = calloc((size_t)nh + 1, sizeof(*runs));
    struct pt *rows = calloc((size_t)nh + 1, sizeof(*rows)), *dur = calloc((size_t)nh + 1, sizeof(*dur)),
              *wm = calloc((size_t)nh + 1, sizeof(*wm));
    for (int i = 0; i < nst && runs && rows && dur && wm; i++) {
        int n = 0;
        for (const cJSON *r = hist->child; r; r = r->next) {
            const char *table = s_get(r, "table"), *status = s_get(r, "status");
            if (!table || strcmp(table, st[i].table) || !status || isnan(s_num(r, "ended_ms")))
                continue; /* loads still running are left out */
            if (s_num(r, "started_ms") < (double)since_ms)
                continue;
            runs[n++] = r;
        }
        qsort(runs, (size_t)n, sizeof(*runs), s_cmp_started);
        int nw = 0;
        for (int k = 0; k < n; k++) {
            bool failed = !strcmp(s_get(runs[k], "status"), "failed") || !strcmp(s_get(runs[k], "status"), "aborted");
            double x = s_num(runs[k], "ended_ms");
            rows[k] = (struct pt){x, s_num(runs[k], "rows"), failed, runs[k]};
            double d = s_num(runs[k], "duration_ms");
            dur[k] = (struct pt){x, isnan(d) ? 0 : d / 1000.0, failed, runs[k]};
            double h;
            bool is_time;
            if (!strcmp(s_get(runs[k], "status"), "committed") && strcmp(s_get(runs[k], "mode"), "backfill") &&
                dld_value_number(s_get(runs[k], "high"), &h, &is_time))
                wm[nw++] = (struct pt){x, h, false, runs[k]};
        }
        fputs("<section class=\"table\" data-table=\"", f);
        s_esc(f, st[i].table);
        fputs("\">\n<h2>", f);
        s_esc(f, st[i].table);
        fprintf(f, "</h2>\n<p>%d load%s</p>\n", n, n == 1 ? "" : "s");
        s_chart(f, st[i].table, "rows", "rows per load", rows, n);
        s_chart(f, st[i].table, "duration", "duration per load (s)", dur, n);
        if (nw)
            s_chart(f, st[i].table, "watermark", "watermark over time (committed high marks)", wm, nw);
        bool any = false;
        for (int k = 0; k < n; k++) {
            if (!rows[k].failed)
                continue;
            if (!any)
                fputs("<h3>failures</h3>\n<ul class=\"errors\">\n", f);
            any = true;
            char when[40];
            s_time(rows[k].x, when, sizeof when);
            fprintf(f, "<li>load %.0f, %s: ", s_num(runs[k], "load_id"), when);
            s_esc(f, s_get(runs[k], "error") ? s_get(runs[k], "error") : "(no error recorded)");
            fputs("</li>\n", f);
        }
        if (any)
            fputs("</ul>\n", f);
        fputs("</section>\n", f);
    }
    free(runs);
    free(rows);
    free(dur);
    free(wm);
    fputs("</body></html>\n", f);
}

static const char *s_arg(struct dld_cli *cli, const char *name)
{
    for (int i = 1; i + 1 < cli->argc; i++)
        if (!strcmp(cli->argv[i], name))
            return cli->argv[i + 1];
    return NULL;
}

int dld_cmd_report(struct dld_cli *cli)
{
    if (dld_cli_help_requested(cli->argc, cli->argv, s_report_usage))
        return DLD_EXIT_OK;
    const char *out = s_arg(cli, "--html"), *since = s_arg(cli, "--since"), *only = s_arg(cli, "--table");
    int64_t now_ms = dld_core_now_ms(), since_ms = 0;
    if (out == NULL || (since && !s_since(since, now_ms, &since_ms))) {
        fprintf(stderr, "deltaload: report needs --html FILE%s\n%s", since ? " and a valid --since" : "", s_report_usage);
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
    struct dld_table_stats *stats = NULL;
    int nstats = 0;
    cJSON *hist = NULL;
    rc = dld_table_stats_collect(vt, st, only, &stats, &nstats, &err);
    if (rc == DLD_OK)
        rc = dld_history_json(vt, st, only, 0, &hist, &err);
    int code = DLD_EXIT_OK;
    if (rc == DLD_OK) {
        char *page = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&page, &len);
        s_page(f, cfg.path, stats, nstats, hist, since_ms, now_ms);
        fclose(f);
        rc = dld_metrics_write_file(out, page, &err); /* atomic too */
        free(page);
    }
    if (rc)
        code = dld_cli_fail(rc, &err);
    else if (cli->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "html", out);
        cJSON_AddNumberToObject(o, "tables", nstats);
        dld_cli_print_json(o);
    } else {
        printf("wrote %s (%d table%s)\n", out, nstats, nstats == 1 ? "" : "s");
    }
    cJSON_Delete(hist);
    dld_table_stats_free(stats, nstats);
    vt->close(st);
    dld_config_clean_up(&cfg);
    return code;
}

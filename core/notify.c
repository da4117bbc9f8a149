/* Notifications: SNS, webhook and command (see notify.h, docs/operations.md). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <deltaload/aws.h>

#include "engine.h"
#include "host.h"
#include "notify.h"

extern char **environ;

enum { N_SNS = 1, N_WEBHOOK, N_COMMAND };

struct notify_entry {
    int type;
    int index;              /* position in the list, for log lines */
    bool all;               /* "on": "all" (else failures only) */
    const cJSON *tables;    /* array of names, or NULL for every table */
    bool summary;           /* one message per cycle */
    int64_t timeout_ms;     /* budget for every attempt together */
    int retries;
    const cJSON *e;         /* the entry itself */
};

/* ---- configuration --------------------------------------------------------------------- */

static bool s_known(const char *key, const char *const *list)
{
    for (int i = 0; list[i]; i++)
        if (!strcmp(key, list[i]))
            return true;
    return false;
}

static const char *s_str(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static int s_entry(const cJSON *e, int i, struct notify_entry *ne, struct dld_error *err)
{
    memset(ne, 0, sizeof(*ne));
    ne->index = i;
    ne->e = e;
    if (!cJSON_IsObject(e))
        return dld_error_set(err, DLD_ERR_CONFIG, "notify[%d] must be an object with a \"type\"", i);
    const char *type = s_str(e, "type");
    static const char *const common[] = {"type", "on", "tables", "summary", "timeout_seconds", "retries", NULL};
    static const char *const sns[] = {"topic_arn", "region", "endpoint", "profile", NULL};
    static const char *const webhook[] = {"url", "format", NULL};
    static const char *const command[] = {"command", NULL};
    const char *const *own;
    if (type && !strcmp(type, "sns")) {
        ne->type = N_SNS;
        own = sns;
    } else if (type && !strcmp(type, "webhook")) {
        ne->type = N_WEBHOOK;
        own = webhook;
    } else if (type && !strcmp(type, "command")) {
        ne->type = N_COMMAND;
        own = command;
    } else {
        return dld_error_set(err, DLD_ERR_CONFIG, "notify[%d].type must be one of sns, webhook, command", i);
    }
    for (const cJSON *c = e->child; c; c = c->next)
        if (!s_known(c->string, common) && !s_known(c->string, own))
            return dld_error_set(err, DLD_ERR_CONFIG, "notify[%d] (%s): unknown key '%s'", i, type, c->string);
    const char *on = s_str(e, "on");
    if (cJSON_GetObjectItemCaseSensitive(e, "on") && (on == NULL || (strcmp(on, "failure") && strcmp(on, "all"))))
        return dld_error_set(err, DLD_ERR_CONFIG, "notify[%d].on must be \"failure\" (the default) or \"all\"", i);
    ne->all = on && !strcmp(on, "all");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "tables");
    if (t) {
        if (!cJSON_IsArray(t))
            return dld_error_set(err, DLD_ERR_CONFIG, "notify[%d].tables must be a list of table names", i);
        for (const cJSON *n = t->child; n; n = n->next)
            if (!cJSON_IsString(n))
                return dld_error_set(err, DLD_ERR_CONFIG, "notify[%d].tables must be a list of table names", i);
        ne->tables = t;
    }
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(e, "summary");
    if (s && !cJSON_IsBool(s))
        return dld_error_set(err, DLD_ERR_CONFIG, "notify[%d].summary must be true or false", i);
    ne->summary = cJSON_IsTrue(s);
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(e, "timeout_seconds");
    ne->timeout_ms = 10000;
    if (to) {
        if (!cJSON_IsNumber(to) || to->valuedouble <= 0 || to->valuedouble > 300)
            return dld_error_set(err, DLD_ERR_CONFIG, "notify[%d].timeout_seconds must be a number above 0, at most 300", i);
        ne->timeout_ms = (int64_t)(to->valuedouble * 1000);
    }
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(e, "retries");
    ne->retries = ne->type == N_COMMAND ? 0 : 2;
    if (r) {
        if (!cJSON_IsNumber(r) || r->valuedouble != floor(r->valuedouble) || r->valuedouble < 0 || r->valuedouble > 10)
            return dld_error_set(err, DLD_ERR_CONFIG, "notify[%d].retries must be an integer from 0 to 10", i);
        ne->retries = (int)r->valuedouble;
    }
    switch (ne->type) {
    case N_SNS: {
        const char *arn = s_str(e, "topic_arn");
        if (arn == NULL || strncmp(arn, "arn:", 4))
            return dld_error_set(err, DLD_ERR_CONFIG, "notify[%d].topic_arn must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)", i);
        for (const char *const *k = sns + 1; *k; k++)
            if (cJSON_GetObjectItemCaseSensitive(e, *k) && !s_str(e, *k))
                return dld_error_set(err, DLD_ERR_CONFIG, "notify[%d].%s must be a string", i, *k);
        break;
    }
    case N_WEBHOOK: {
        const char *url = s_str(e, "url");
        /* the URL is never quoted back: it may carry a secret */
        if (url == NULL || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)))
            return dld_error_set(err, DLD_ERR_CONFIG, "notify[%d].url must be an http:// or https:// URL", i);
        const char *fmt = s_str(e, "format");
        if (cJSON_GetObjectItemCaseSensitive(e, "format") && (fmt == NULL || (strcmp(fmt, "json") && strcmp(fmt, "slack"))))
            return dld_error_set(err, DLD_ERR_CONFIG, "notify[%d].format must be \"json\" (the default) or \"slack\"", i);
        break;
    }
    case N_COMMAND: {
        const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(e, "command");
        bool ok = cJSON_IsArray(cmd) && cmd->child != NULL;
        for (const cJSON *c = ok ? cmd->child : NULL; c; c = c->next)
            ok &= cJSON_IsString(c) && c->valuestring[0] != '\0';
        if (!ok)
            return dld_error_set(err, DLD_ERR_CONFIG, "notify[%d].command must be a non-empty list of strings: [\"/path/to/program\", \"arg\", ...]", i);
        break;
    }
    }
    return DLD_OK;
}

int dld_notify_conf(const cJSON *root, struct dld_error *err)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "notify");
    if (list == NULL)
        return DLD_OK;
    if (!cJSON_IsArray(list))
        return dld_error_set(err, DLD_ERR_CONFIG, "notify must be a list like [{\"type\": \"webhook\", \"url\": \"...\", \"on\": \"failure\"}]");
    int i = 0;
    for (const cJSON *e = list->child; e; e = e->next, i++) {
        struct notify_entry ne;
        int rc = s_entry(e, i, &ne, err);
        if (rc)
            return rc;
    }
    return DLD_OK;
}

char *dld_notify_redact_url(const char *url)
{
    const char *p = strstr(url, "://");
    if (p == NULL)
        return strdup("(url)");
    p += 3;
    const char *end = p + strcspn(p, "/?#");
    const char *at = memchr(p, '@', (size_t)(end - p));
    if (at)
        p = at + 1; /* user info dropped */
    char *out = NULL;
    if (asprintf(&out, "%.*s%.*s/…", (int)(strstr(url, "://") + 3 - url), url, (int)(end - p), p) < 0)
        return NULL;
    return out;
}

/* ---- events ------------------------------------------------------------------------------- */

static void s_iso(int64_t ms, char *buf, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03dZ", (int)(ms % 1000));
}

static void s_add_str(cJSON *o, const char *k, const char *v)
{
    if (v)
        cJSON_AddStringToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static cJSON *s_event(const struct dld_table_result *r)
{
    char when[40];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "event", "load");
    cJSON_AddStringToObject(o, "table", r->name);
    cJSON_AddStringToObject(o, "status", dld_outcome_name(r->outcome));
    if (r->load_id)
        cJSON_AddNumberToObject(o, "load_id", (double)r->load_id);
    else
        cJSON_AddNullToObject(o, "load_id");
    s_add_str(o, "mode", r->mode ? dld_mode_name(r->mode) : NULL);
    cJSON *w = cJSON_AddObjectToObject(o, "window");
    s_add_str(w, "low", r->low);
    cJSON_AddBoolToObject(w, "low_inclusive", r->low_inclusive);
    s_add_str(w, "high", r->high);
    cJSON_AddNumberToObject(o, "rows", (double)r->rows);
    cJSON_AddNumberToObject(o, "bytes", (double)r->bytes);
    cJSON_AddNumberToObject(o, "files", (double)r->files);
    cJSON_AddNumberToObject(o, "duration_ms", (double)(r->ended_ms > r->started_ms ? r->ended_ms - r->started_ms : 0));
    s_add_str(o, "error", r->error);
    s_add_str(o, "recovery", r->recovery);
    s_iso(r->ended_ms ? r->ended_ms : dld_core_now_ms(), when, sizeof when);
    cJSON_AddStringToObject(o, "time", when);
    cJSON_AddStringToObject(o, "host", dld_engine_owner());
    return o;
}

static bool s_selected(const struct notify_entry *ne, const struct dld_table_result *r)
{
    if (r->outcome == DLD_OUT_PLANNED || r->outcome == DLD_OUT_INACTIVE)
        return false;
    if (!ne->all && r->outcome != DLD_OUT_FAILED)
        return false;
    if (ne->tables) {
        for (const cJSON *t = ne->tables->child; t; t = t->next)
            if (!strcmp(t->valuestring, r->name))
                return true;
        return false;
    }
    return true;
}

static void s_window_text(const cJSON *ev, char *buf, size_t cap)
{
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(ev, "window");
    const char *low = s_str(w, "low"), *high = s_str(w, "high"), *mode = s_str(ev, "mode");
    if (mode && !strcmp(mode, "full"))
        snprintf(buf, cap, "full snapshot");
    else if (high == NULL && low == NULL)
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%s%s, %s]", low && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(w, "low_inclusive")) ? "[" : "(",
                 low ? low : "-inf", high ? high : "(empty)");
}

static double s_num(const cJSON *o, const char *k) { return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, k)); }

/* The human-readable text of one load event (SNS message, Slack text). */
static void s_load_text(FILE *f, const cJSON *ev)
{
    char window[512];
    s_window_text(ev, window, sizeof window);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(ev, "load_id");
    fprintf(f, "Table: %s\nStatus: %s\n", s_str(ev, "table"), s_str(ev, "status"));
    if (cJSON_IsNumber(id))
        fprintf(f, "Load: %.0f (%s)\n", id->valuedouble, s_str(ev, "mode") ? s_str(ev, "mode") : "?");
    fprintf(f, "Window: %s\nRows: %.0f, files: %.0f, bytes: %.0f\nDuration: %.2f s\n", window, s_num(ev, "rows"),
            s_num(ev, "files"), s_num(ev, "bytes"), s_num(ev, "duration_ms") / 1000.0);
    if (s_str(ev, "error"))
        fprintf(f, "Error: %s\n", s_str(ev, "error"));
    if (s_str(ev, "recovery"))
        fprintf(f, "Recovery: %s\n", s_str(ev, "recovery"));
}

struct message {
    cJSON *json;    /* what webhooks (format json) and commands get */
    char *subject;  /* SNS subject: ASCII, one line, at most 100 characters */
    char *text;     /* SNS message, Slack text */
    const char *status, *table, *event;
};

static void s_message_free(struct message *m)
{
    cJSON_Delete(m->json);
    free(m->subject);
    free(m->text);
}

static void s_subject_clean(char *s)
{
    for (char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
    if (strlen(s) > 100)
        strcpy(s + 97, "...");
}

static void s_load_message(const struct dld_table_result *r, struct message *m)
{
    m->json = s_event(r);
    size_t len;
    FILE *f = open_memstream(&m->text, &len);
    fprintf(f, "deltaload on %s\n", dld_engine_owner());
    s_load_text(f, m->json);
    fclose(f);
    if (asprintf(&m->subject, "deltaload: %s %s%s%s", r->name, dld_outcome_name(r->outcome), r->error ? ": " : "",
                 r->error ? r->error : "") < 0)
        m->subject = NULL;
    if (m->subject)
        s_subject_clean(m->subject);
    m->status = s_str(m->json, "status");
    m->table = s_str(m->json, "table");
    m->event = "load";
}

static void s_summary_message(cJSON *events, struct message *m)
{
    int failed = 0, n = 0;
    for (const cJSON *e = events->child; e; e = e->next, n++)
        failed += !strcmp(s_str(e, "status"), "failed");
    char when[40];
    s_iso(dld_core_now_ms(), when, sizeof when);
    m->json = cJSON_CreateObject();
    cJSON_AddStringToObject(m->json, "event", "cycle");
    cJSON_AddStringToObject(m->json, "status", failed ? "failed" : "ok");
    cJSON_AddNumberToObject(m->json, "loads", n);
    cJSON_AddNumberToObject(m->json, "failed", failed);
    cJSON_AddStringToObject(m->json, "time", when);
    cJSON_AddStringToObject(m->json, "host", dld_engine_owner());
    cJSON_AddItemToObject(m->json, "tables", events);
    size_t len;
    FILE *f = open_memstream(&m->text, &len);
    fprintf(f, "deltaload on %s: %d load(s), %d failed\n", dld_engine_owner(), n, failed);
    for (const cJSON *e = events->child; e; e = e->next) {
        fputc('\n', f);
        s_load_text(f, e);
    }
    fclose(f);
    if (asprintf(&m->subject, "deltaload: %d of %d loads failed", failed, n) < 0)
        m->subject = NULL;
    m->status = failed ? "failed" : "ok";
    m->table = NULL;
    m->event = "cycle";
}

/* ---- senders ----------------------------------------------------------------------------- */

static void s_sleep_ms(int64_t ms)
{
    if (ms > 0)
        usleep((useconds_t)(ms * 1000));
}

static size_t s_discard(char *p, size_t sz, size_t n, void *ud) { return sz * n; }

static int s_send_webhook(const struct notify_entry *ne, const struct message *m, int64_t deadline, char *why, size_t cap)
{
    const char *url = s_str(ne->e, "url");
    const char *fmt = s_str(ne->e, "format");
    char *body;
    if (fmt && !strcmp(fmt, "slack")) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "text", m->text);
        body = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
    } else {
        body = cJSON_PrintUnformatted(m->json);
    }
    int rc = -1;
    for (int attempt = 0; attempt <= ne->retries; attempt++) {
        int64_t left = deadline - dld_core_now_ms();
        if (left <= 0) {
            snprintf(why + strlen(why), cap - strlen(why), "%stimed out", why[0] ? "; then " : "");
            break;
        }
        CURL *c = curl_easy_init();
        if (c == NULL)
            break;
        struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)left);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(left < 5000 ? left : 5000));
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "deltaload/" DLD_VERSION);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_discard);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        CURLcode cc = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        /* curl's own text only: its error buffer may quote the URL */
        if (cc != CURLE_OK)
            snprintf(why, cap, "attempt %d: %s", attempt + 1, curl_easy_strerror(cc));
        else if (status >= 200 && status < 300) {
            rc = 0;
            break;
        } else
            snprintf(why, cap, "attempt %d: HTTP status %ld", attempt + 1, status);
        if (cc == CURLE_OK && status >= 400 && status < 500 && status != 408 && status != 429)
            break; /* refused: the same request will be refused again */
        if (attempt < ne->retries)
            s_sleep_ms(deadline - dld_core_now_ms() < 500 * (attempt + 1) ? 0 : 500 * (attempt + 1));
    }
    free(body);
    return rc;
}

static int s_send_command(const struct notify_entry *ne, const struct message *m, int64_t deadline, char *why, size_t cap)
{
    const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(ne->e, "command");
    int argc = cJSON_GetArraySize(cmd), i = 0;
    char **argv = calloc((size_t)argc + 1, sizeof(char *));
    for (const cJSON *c = cmd->child; c; c = c->next)
        argv[i++] = c->valuestring;
    char *body = cJSON_PrintUnformatted(m->json);
    /* the event on stdin through an unlinked temporary file: a command that
     * never reads cannot block us */
    FILE *tmp = tmpfile();
    int rc = -1;
    pid_t pid = 0;
    if (tmp == NULL || fputs(body, tmp) < 0 || fputc('\n', tmp) < 0 || fflush(tmp) != 0 || fseek(tmp, 0, SEEK_SET) != 0) {
        snprintf(why, cap, "cannot write the event to a temporary file: %s", strerror(errno));
        goto out;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fileno(tmp), 0);
    posix_spawn_file_actions_adddup2(&fa, 2, 1); /* its output goes to our log stream, never to our results */
    int e = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e != 0) {
        snprintf(why, cap, "cannot start %s: %s", argv[0], strerror(e));
        goto out;
    }
    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            snprintf(why, cap, "waitpid: %s", strerror(errno));
            goto out;
        }
        if (dld_core_now_ms() >= deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            snprintf(why, cap, "%s did not finish within %.1f s and was killed", argv[0], (double)ne->timeout_ms / 1000);
            goto out;
        }
        usleep(10000);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        rc = 0;
    else if (WIFEXITED(status))
        snprintf(why, cap, "%s exited with status %d", argv[0], WEXITSTATUS(status));
    else
        snprintf(why, cap, "%s ended by signal %d", argv[0], WIFSIGNALED(status) ? WTERMSIG(status) : 0);
out:
    if (tmp)
        fclose(tmp);
    free(body);
    free(argv);
    return rc;
}

static void s_form(FILE *f, const char *key, const char *value)
{
    char *v = dld_aws_uri_encode(value, strlen(value), false);
    fprintf(f, "&%s=%s", key, v ? v : "");
    free(v);
}

static int s_send_sns(const struct notify_entry *ne, const struct message *m, int64_t deadline, char *why, size_t cap)
{
    const char *arn = s_str(ne->e, "topic_arn");
    const char *profile = s_str(ne->e, "profile");
    char *region = NULL, *endpoint = NULL, *body = NULL;
    struct dld_aws_credentials_provider *creds = NULL;
    struct dld_aws_client *client = NULL;
    struct dld_error err;
    dld_error_init(&err);
    int rc = DLD_OK;
    /* region: the option, else the topic ARN's (arn:aws:sns:REGION:ACCOUNT:NAME), else the usual chain */
    const char *opt_region = s_str(ne->e, "region");
    char arn_region[64] = "";
    const char *p = arn;
    for (int colons = 0; *p && colons < 3; p++)
        colons += *p == ':';
    size_t rl = strcspn(p, ":");
    if (rl > 0 && rl < sizeof arn_region && p[rl] == ':')
        snprintf(arn_region, sizeof arn_region, "%.*s", (int)rl, p);
    rc = dld_aws_region_resolve(opt_region ? opt_region : arn_region[0] ? arn_region : NULL, profile, &region, &err);
    if (rc == DLD_OK)
        rc = dld_aws_endpoint_resolve("SNS", "sns", s_str(ne->e, "endpoint"), region, profile, &endpoint, &err);
    if (rc == DLD_OK) {
        struct dld_aws_credentials_options co = {.profile = profile, .region = region, .host = dld_core_host()};
        creds = dld_aws_credentials_provider_new(&co, &err);
        rc = creds ? DLD_OK : err.code ? err.code : DLD_ERR_FATAL;
    }
    if (rc == DLD_OK) {
        int64_t left = deadline - dld_core_now_ms();
        struct dld_aws_client_options cl = {
            .service = "sns", .region = region, .endpoint = endpoint, .credentials = creds,
            .http_options = {.connect_timeout_ms = left < 5000 ? left : 5000, .timeout_ms = left > 0 ? left : 1},
            .retry = {.max_attempts = ne->retries + 1, .base_delay_ms = 200, .max_delay_ms = 2000},
            .host = dld_core_host(), .log_name = "notify",
        };
        client = dld_aws_client_new(&cl, &err);
        rc = client ? DLD_OK : err.code ? err.code : DLD_ERR_FATAL;
    }
    if (rc == DLD_OK) {
        /* the Query protocol, fields in the order the AWS SDKs send them */
        size_t len;
        FILE *f = open_memstream(&body, &len);
        fputs("Action=Publish&Version=2010-03-31", f);
        s_form(f, "Message", m->text);
        s_form(f, "TopicArn", arn);
        s_form(f, "Subject", m->subject);
        const char *names[3] = {"event", m->table ? "table" : NULL, "status"};
        const char *values[3] = {m->event, m->table, m->status};
        int k = 1;
        for (int i = 0; i < 3; i++) {
            if (names[i] == NULL)
                continue;
            fprintf(f, "&MessageAttributes.entry.%d.Name=%s", k, names[i]);
            fprintf(f, "&MessageAttributes.entry.%d.Value.DataType=String", k);
            char key[64];
            snprintf(key, sizeof key, "MessageAttributes.entry.%d.Value.StringValue", k++);
            s_form(f, key, values[i]);
        }
        fclose(f);
        const struct dld_aws_header headers[] = {{"Content-Type", "application/x-www-form-urlencoded"}};
        struct dld_aws_call call = {.method = "POST", .path = "/", .headers = headers, .nheaders = 1, .body = body,
                                    .body_len = strlen(body), .idempotent = true};
        struct dld_aws_http_response resp = {0};
        rc = dld_aws_client_call(client, &call, &resp, &err);
        dld_aws_http_response_clean_up(&resp);
    }
    if (rc)
        snprintf(why, cap, "%.400s", err.message[0] ? err.message : dld_code_name(rc));
    dld_aws_client_destroy(client);
    dld_aws_credentials_provider_destroy(creds);
    free(region);
    free(endpoint);
    free(body);
    return rc ? -1 : 0;
}

static const char *s_type_name(int t) { return t == N_SNS ? "sns" : t == N_WEBHOOK ? "webhook" : "command"; }

static int s_send(const struct notify_entry *ne, const struct message *m)
{
    char why[512] = "";
    int64_t t0 = dld_core_now_ms(), deadline = t0 + ne->timeout_ms;
    int rc = ne->type == N_SNS       ? s_send_sns(ne, m, deadline, why, sizeof why)
             : ne->type == N_WEBHOOK ? s_send_webhook(ne, m, deadline, why, sizeof why)
                                     : s_send_command(ne, m, deadline, why, sizeof why);
    char *target = ne->type == N_WEBHOOK ? dld_notify_redact_url(s_str(ne->e, "url"))
                   : ne->type == N_SNS   ? strdup(s_str(ne->e, "topic_arn"))
                                         : strdup(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(ne->e, "command"), 0)->valuestring);
    const char *what = m->table ? m->table : "cycle summary";
    if (rc)
        dld_core_logf(DLD_LOG_WARN, "notify", "notify[%d] (%s %s) about %s failed after %.1f s: %s", ne->index,
                      s_type_name(ne->type), target ? target : "", what, (double)(dld_core_now_ms() - t0) / 1000, why);
    else
        dld_core_logf(DLD_LOG_DEBUG, "notify", "notify[%d] (%s %s) about %s sent", ne->index, s_type_name(ne->type),
                      target ? target : "", what);
    free(target);
    return rc;
}

int dld_notify_cycle(struct dld_config *cfg, const struct dld_table_result *res, int n)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(cfg->root, "notify");
    int failures = 0, i = 0;
    for (const cJSON *e = list ? list->child : NULL; e; e = e->next, i++) {
        struct notify_entry ne;
        struct dld_error err;
        dld_error_init(&err);
        if (s_entry(e, i, &ne, &err) != DLD_OK)
            continue; /* checked when the config was loaded */
        if (ne.summary) {
            cJSON *events = cJSON_CreateArray();
            for (int k = 0; k < n; k++)
                if (s_selected(&ne, &res[k]))
                    cJSON_AddItemToArray(events, s_event(&res[k]));
            if (events->child == NULL) {
                cJSON_Delete(events);
                continue;
            }
            struct message m = {0};
            s_summary_message(events, &m);
            failures += s_send(&ne, &m) != 0;
            s_message_free(&m);
            continue;
        }
        for (int k = 0; k < n; k++) {
            if (!s_selected(&ne, &res[k]))
                continue;
            struct message m = {0};
            s_load_message(&res[k], &m);
            failures += s_send(&ne, &m) != 0;
            s_message_free(&m);
        }
    }
    return failures;
}

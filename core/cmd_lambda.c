/* lambda: the AWS Lambda Runtime API loop (custom runtime, provided.al2023).
 *
 *   GET  http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/next
 *        → the event, Lambda-Runtime-Aws-Request-Id (and -Deadline-Ms, -Trace-Id)
 *   run the cycle the event asks for (dld_run_event, cmd_run.c)
 *   POST .../runtime/invocation/ID/response   the per-table results JSON
 *   POST .../runtime/invocation/ID/error      {"errorMessage", "errorType"}
 *   POST .../runtime/init/error               when the runtime cannot start
 *
 * The config: the event's {"deltaload": {"config": PATH}}, else
 * $DELTALOAD_CONFIG, else -c (default deltaload.json in the working
 * directory, which Lambda sets to the function's folder). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "cli.h"
#include "host.h"

static const char s_usage[] =
    "usage: deltaload [-c FILE] lambda [--max-invocations N]\n"
    "The AWS Lambda Runtime API loop (custom runtime provided.al2023; install the binary as `bootstrap`):\n"
    "takes invocations from $AWS_LAMBDA_RUNTIME_API, runs the cycle each event asks for (as\n"
    "`run --event`) and posts the per-table results JSON as the response, or an error\n"
    "(errorType InvalidEvent, ConfigError, RuntimeError, TablesFailed, Interrupted).\n"
    "Config: the event's \"deltaload\".\"config\", else $DELTALOAD_CONFIG, else -c.\n"
    "--max-invocations N: stop after N invocations (tests); default: run until the process is stopped.\n";

#define S_EVENT_MAX (6 * 1024 * 1024)

struct s_buf {
    char *data;
    size_t len;
    bool too_big;
};

static size_t s_on_body(char *p, size_t size, size_t n, void *ud)
{
    struct s_buf *b = ud;
    size_t add = size * n;
    if (b->len + add > S_EVENT_MAX) {
        b->too_big = true;
        return 0;
    }
    char *d = realloc(b->data, b->len + add + 1);
    if (d == NULL)
        return 0;
    memcpy(d + b->len, p, add);
    b->len += add;
    d[b->len] = '\0';
    b->data = d;
    return add;
}

struct s_hdrs {
    char request_id[256];
    char trace_id[512];
};

static void s_header_value(const char *line, size_t len, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    if (len <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return;
    const char *v = line + nl + 1;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    size_t vl = (size_t)(end - v);
    if (vl >= cap)
        vl = cap - 1;
    memcpy(out, v, vl);
    out[vl] = '\0';
}

static size_t s_on_header(char *p, size_t size, size_t n, void *ud)
{
    struct s_hdrs *h = ud;
    s_header_value(p, size * n, "Lambda-Runtime-Aws-Request-Id", h->request_id, sizeof h->request_id);
    s_header_value(p, size * n, "Lambda-Runtime-Trace-Id", h->trace_id, sizeof h->trace_id);
    return size * n;
}

/* one request to the Runtime API; returns the HTTP status, or -1 (message in errbuf) */
static long s_call(CURL *h, const char *method, const char *url, const char *body, const char *error_type,
                   struct s_buf *resp, struct s_hdrs *hdrs, char *errbuf)
{
    curl_easy_reset(h);
    struct curl_slist *headers = NULL;
    char typeh[160];
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    /* /next blocks until an invocation arrives (the process is frozen
     * meanwhile): no overall timeout */
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 0L);
    if (!strcmp(method, "POST")) {
        headers = curl_slist_append(headers, "Content-Type: application/json");
        if (error_type) {
            snprintf(typeh, sizeof typeh, "Lambda-Runtime-Function-Error-Type: %s", error_type);
            headers = curl_slist_append(headers, typeh);
        }
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    struct s_buf sink = {0}; /* a response body nobody reads */
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp ? resp : &sink);
    if (hdrs) {
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, s_on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, hdrs);
    }
    errbuf[0] = '\0';
    CURLcode cc = curl_easy_perform(h);
    curl_slist_free_all(headers);
    free(sink.data);
    if (cc != CURLE_OK) {
        if (resp && resp->too_big)
            snprintf(errbuf, CURL_ERROR_SIZE, "event larger than %d bytes", S_EVENT_MAX);
        else if (errbuf[0] == '\0')
            snprintf(errbuf, CURL_ERROR_SIZE, "%s", curl_easy_strerror(cc));
        return -1;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static char *s_error_body(const char *type, const char *message)
{
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", message);
    dld_core_redact(msg, sizeof msg);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "errorMessage", msg);
    cJSON_AddStringToObject(o, "errorType", type);
    cJSON_AddArrayToObject(o, "stackTrace");
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* posts an error to url; logs it too */
static int s_post_error(CURL *h, const char *url, const char *type, const char *message)
{
    char *body = s_error_body(type, message);
    dld_core_logf(DLD_LOG_ERROR, "lambda", "%s: %s", type, message);
    char errbuf[CURL_ERROR_SIZE];
    long st = s_call(h, "POST", url, body, type, NULL, NULL, errbuf);
    free(body);
    if (st < 200 || st > 299) {
        dld_core_logf(DLD_LOG_ERROR, "lambda", "posting the error to the Runtime API failed: %s",
                      st < 0 ? errbuf : "HTTP status");
        return -1;
    }
    return 0;
}

/* what went wrong in a cycle that ran: the failed tables, named */
static void s_tables_failed_message(const cJSON *result, char *out, size_t cap)
{
    size_t n = 0;
    int failed = 0, all = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(result, "tables"))
    {
        all++;
        const char *outcome = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "outcome"));
        if (outcome && !strcmp(outcome, "failed"))
            failed++;
    }
    n += (size_t)snprintf(out, cap, "%d of %d tables failed:", failed, all);
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(result, "tables"))
    {
        const char *outcome = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "outcome"));
        if (n >= cap || !outcome || strcmp(outcome, "failed"))
            continue;
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "table"));
        const char *error = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "error"));
        n += (size_t)snprintf(out + n, cap - n, " %s: %s;", name ? name : "?", error ? error : "failed");
    }
}

int dld_cmd_lambda(struct dld_cli *cli)
{
    if (dld_cli_help_requested(cli->argc, cli->argv, s_usage))
        return DLD_EXIT_OK;
    long max = 0;
    for (int i = 1; i < cli->argc; i++) {
        if (!strcmp(cli->argv[i], "--max-invocations") && i + 1 < cli->argc) {
            max = atol(cli->argv[++i]);
        } else if (strcmp(cli->argv[i], "--json") != 0) {
            fprintf(stderr, "deltaload: unexpected argument '%s'\n%s", cli->argv[i], s_usage);
            return DLD_EXIT_USAGE;
        }
    }
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    if (api == NULL || api[0] == '\0') {
        fprintf(stderr, "deltaload: lambda: AWS_LAMBDA_RUNTIME_API is not set (this command runs inside AWS Lambda, "
                        "as the function's bootstrap)\n");
        return DLD_EXIT_USAGE;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "deltaload: lambda: curl_global_init failed\n");
        return DLD_EXIT_RUNTIME;
    }
    CURL *h = curl_easy_init();
    if (h == NULL) {
        fprintf(stderr, "deltaload: lambda: out of memory\n");
        return DLD_EXIT_RUNTIME;
    }
    char base[512], url[1024], errbuf[CURL_ERROR_SIZE];
    snprintf(base, sizeof base, "http://%s/2018-06-01/runtime", api);
    const char *env_config = getenv("DELTALOAD_CONFIG");
    const char *config = env_config && env_config[0] ? env_config : cli->config_path;
    int code = DLD_EXIT_OK;

    /* init: a config named by the environment must load, else the function
     * cannot work at all (the event may still name another one) */
    if (env_config && env_config[0]) {
        struct dld_config cfg;
        struct dld_error err;
        dld_error_init(&err);
        int rc = dld_config_load(env_config, &cfg, &err);
        dld_config_clean_up(&cfg);
        if (rc != DLD_OK) {
            char msg[sizeof err.message + 160];
            snprintf(msg, sizeof msg, "DELTALOAD_CONFIG=%s: %s", env_config, err.message);
            snprintf(url, sizeof url, "%s/init/error", base);
            s_post_error(h, url, "ConfigError", msg);
            curl_easy_cleanup(h);
            return dld_cli_exit_for(rc);
        }
    }
    dld_core_logf(DLD_LOG_INFO, "lambda", "runtime started (Runtime API %s, config %s%s)", api, config,
                  env_config && env_config[0] ? " from DELTALOAD_CONFIG" : "");

    for (long k = 0; max == 0 || k < max; k++) {
        struct s_buf ev = {0};
        struct s_hdrs hd = {{0}, {0}};
        snprintf(url, sizeof url, "%s/invocation/next", base);
        long st = s_call(h, "GET", url, NULL, NULL, &ev, &hd, errbuf);
        if (st != 200 || hd.request_id[0] == '\0') {
            dld_core_logf(DLD_LOG_ERROR, "lambda", "GET invocation/next: %s",
                          st < 0 ? errbuf : st != 200 ? "unexpected HTTP status" : "no Lambda-Runtime-Aws-Request-Id");
            free(ev.data);
            code = DLD_EXIT_RUNTIME;
            break;
        }
        if (hd.trace_id[0])
            setenv("_X_AMZN_TRACE_ID", hd.trace_id, 1);
        else
            unsetenv("_X_AMZN_TRACE_ID");
        dld_core_logf(DLD_LOG_INFO, "lambda", "invocation %s (%zu bytes)", hd.request_id, ev.len);
        /* the id goes into a URL path: it must be a plain token */
        bool id_ok = strspn(hd.request_id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") ==
                     strlen(hd.request_id);
        if (!id_ok) {
            dld_core_logf(DLD_LOG_ERROR, "lambda", "invocation id with unexpected characters; stopping");
            free(ev.data);
            code = DLD_EXIT_RUNTIME;
            break;
        }
        struct dld_error err;
        dld_error_init(&err);
        cJSON *result = NULL;
        int ec = dld_run_event(config, ev.data ? ev.data : "", ev.len, &result, &err);
        free(ev.data);
        const char *type = NULL;
        char msg[8192];
        if (result == NULL) {
            type = !strcmp(err.upstream_code, "InvalidEvent") ? "InvalidEvent"
                   : ec == DLD_EXIT_CONFIG                     ? "ConfigError"
                                                               : "RuntimeError";
            snprintf(msg, sizeof msg, "%s", err.message);
        } else if (ec == DLD_EXIT_FAILED) {
            /* Lambda retries a failed asynchronous invocation; the engine
             * makes that safe (the lease, exactly-once commits) */
            type = "TablesFailed";
            s_tables_failed_message(result, msg, sizeof msg);
        } else if (ec == DLD_EXIT_INTERRUPTED) {
            type = "Interrupted";
            snprintf(msg, sizeof msg, "stopped by a signal; an interrupted window is left for the next run's recovery");
        }
        if (result) {
            /* the results go to the log (CloudWatch) whatever is posted */
            char *line = cJSON_PrintUnformatted(result);
            if (line) {
                dld_core_logf(DLD_LOG_INFO, "lambda", "results: %s", line);
                free(line);
            }
        }
        if (type) {
            snprintf(url, sizeof url, "%s/invocation/%s/error", base, hd.request_id);
            s_post_error(h, url, type, msg);
        } else {
            char *body = cJSON_PrintUnformatted(result);
            snprintf(url, sizeof url, "%s/invocation/%s/response", base, hd.request_id);
            st = s_call(h, "POST", url, body ? body : "{}", NULL, NULL, NULL, errbuf);
            free(body);
            if (st < 200 || st > 299)
                dld_core_logf(DLD_LOG_ERROR, "lambda", "posting the response failed: %s",
                              st < 0 ? errbuf : "HTTP status");
        }
        cJSON_Delete(result);
        if (dld_core_cancelled()) {
            code = DLD_EXIT_INTERRUPTED;
            break;
        }
    }
    curl_easy_cleanup(h);
    return code;
}

/* Helpers for the state-dynamodb suites (see ddb_test_util.h). */
#include "ddb_test_util.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>
#include <curl/curl.h>
#include <deltaload/aws.h>

#include "test_host.h"

extern char **environ;

char *ddbt_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    b[got] = '\0';
    fclose(f);
    return b;
}

bool ddbt_servers(struct ddbt_servers *out)
{
    const char *state = getenv("DLD_DDB_STATE");
    char path[600];
    snprintf(path, sizeof(path), "%s/servers.json", state ? state : "/tmp/dld-ddb-dev");
    char *text = ddbt_slurp(path);
    if (!text) {
        fprintf(stderr, "dynamodb test servers not running (no %s): run tests/dynamodb/start.sh first\n", path);
        return false;
    }
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!j)
        return false;
    snprintf(out->endpoint, sizeof(out->endpoint), "%s", cJSON_GetObjectItem(j, "endpoint")->valuestring);
    snprintf(out->akid, sizeof(out->akid), "%s", cJSON_GetObjectItem(j, "akid")->valuestring);
    snprintf(out->secret, sizeof(out->secret), "%s", cJSON_GetObjectItem(j, "secret")->valuestring);
    cJSON_Delete(j);
    return true;
}

struct s_buf {
    char *p;
    size_t n;
};

static size_t s_write(char *d, size_t size, size_t n, void *ud)
{
    struct s_buf *b = ud;
    b->p = realloc(b->p, b->n + size * n + 1);
    memcpy(b->p + b->n, d, size * n);
    b->n += size * n;
    b->p[b->n] = '\0';
    return size * n;
}

char *ddbt_proxy(const struct ddbt_servers *s, const char *method, const char *what, const char *json)
{
    CURL *h = curl_easy_init();
    char url[256];
    snprintf(url, sizeof(url), "%s/__proxy/%s", s->endpoint, what);
    struct s_buf b = {calloc(1, 1), 0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (json)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK) {
        fprintf(stderr, "proxy control %s %s failed: %s\n", method, what, curl_easy_strerror(rc));
        free(b.p);
        return NULL;
    }
    return b.p;
}

int64_t ddbt_stat(const struct ddbt_servers *s, const char *name)
{
    char *text = ddbt_proxy(s, "GET", "stats", NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!j)
        return -1;
    int64_t v = 0;
    if (!strncmp(name, "byOp.", 5)) {
        cJSON *x = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "byOp"), name + 5);
        v = x ? (int64_t)x->valuedouble : 0;
    } else {
        cJSON *x = cJSON_GetObjectItem(j, name);
        v = x ? (int64_t)x->valuedouble : -1;
    }
    cJSON_Delete(j);
    return v;
}

cJSON *ddbt_call(const struct ddbt_servers *s, const char *op, const char *json, int *status)
{
    struct dld_error err = {.struct_size = sizeof(err)};
    struct dld_aws_credentials_options co = {.access_key_id = s->akid, .secret_access_key = s->secret};
    struct dld_aws_credentials_provider *cp = dld_aws_credentials_provider_new(&co, &err);
    ck_assert_msg(cp != NULL, "credentials: %s", err.message);
    struct dld_aws_client_options o = {.service = "dynamodb", .region = "us-east-1", .endpoint = s->endpoint,
                                       .credentials = cp, .retry = {.max_attempts = 3, .base_delay_ms = 10}};
    struct dld_aws_client *c = dld_aws_client_new(&o, &err);
    ck_assert_msg(c != NULL, "client: %s", err.message);
    char target[80];
    snprintf(target, sizeof target, "DynamoDB_20120810.%s", op);
    struct dld_aws_header h[] = {{"Content-Type", "application/x-amz-json-1.0"}, {"X-Amz-Target", target}};
    struct dld_aws_call call = {.method = "POST", .path = "/", .headers = h, .nheaders = 2, .body = json,
                                .body_len = strlen(json), .idempotent = true};
    struct dld_aws_http_response resp;
    dld_aws_client_call(c, &call, &resp, &err);
    if (status)
        *status = resp.status;
    cJSON *out = resp.body ? cJSON_Parse(resp.body) : NULL;
    dld_aws_http_response_clean_up(&resp);
    dld_aws_client_destroy(c);
    dld_aws_credentials_provider_destroy(cp);
    return out;
}

void ddbt_put_raw(const struct ddbt_servers *s, const char *table, const char *item_json)
{
    char *body = malloc(strlen(item_json) + strlen(table) + 64);
    sprintf(body, "{\"TableName\":\"%s\",\"Item\":%s}", table, item_json);
    int status = 0;
    cJSON *out = ddbt_call(s, "PutItem", body, &status);
    char *text = out ? cJSON_PrintUnformatted(out) : NULL;
    ck_assert_msg(status == 200, "PutItem into %s: HTTP %d %s", table, status, text ? text : "");
    free(text);
    cJSON_Delete(out);
    free(body);
}

cJSON *ddbt_get_raw(const struct ddbt_servers *s, const char *table, const char *name)
{
    char body[1024];
    snprintf(body, sizeof body,
             "{\"TableName\":\"%s\",\"Key\":{\"targetTableName\":{\"S\":\"%s\"}},\"ConsistentRead\":true}", table,
             name);
    int status = 0;
    cJSON *out = ddbt_call(s, "GetItem", body, &status);
    ck_assert_msg(status == 200, "GetItem from %s: HTTP %d", table, status);
    cJSON *item = cJSON_DetachItemFromObject(out, "Item");
    cJSON_Delete(out);
    return item;
}

const char *ddbt_attr(const cJSON *item, const char *attr)
{
    return cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(item, attr), "S"));
}

void ddbt_plugin_load(struct ddbt_plugin *p)
{
    p->dl = dld_test_plugin_load("state", "dynamodb", &p->desc);
    ck_assert_msg(p->dl != NULL, "cannot load dld-state-dynamodb.so");
    p->vt = p->desc->vtable;
}

void ddbt_plugin_unload(struct ddbt_plugin *p)
{
    dld_test_plugin_unload(p->dl);
    memset(p, 0, sizeof(*p));
}

void *ddbt_open(const struct ddbt_plugin *p, const struct ddbt_servers *s, const char *table, const char *history,
                const char *const *extra, struct dld_error *err)
{
    const char *opts[64] = {"endpoint", s->endpoint, "region", "us-east-1", "access_key_id", s->akid,
                            "secret_access_key", s->secret, "table", table, "history_table", history,
                            "retry_base_delay_ms", "5"};
    size_t n = 14;
    for (size_t i = 0; extra && extra[i] && n < 62; i++)
        opts[n++] = extra[i];
    opts[n] = NULL;
    void *inst = NULL;
    dld_error_init(err);
    err->struct_size = sizeof(*err);
    if (p->vt->open(dld_test_host(), opts, &inst, err) != DLD_OK)
        return NULL;
    return inst;
}

void *ddbt_open_setup(const struct ddbt_plugin *p, const struct ddbt_servers *s, const char *table,
                      const char *history)
{
    struct dld_error err = {.struct_size = sizeof(err)};
    void *inst = ddbt_open(p, s, table, history, NULL, &err);
    ck_assert_msg(inst != NULL, "open: %s", err.message);
    char *report = NULL;
    int rc = p->vt->setup(inst, 1, &report, &err);
    ck_assert_msg(rc == DLD_OK, "setup: %s\n%s", err.message, report ? report : "");
    free(report);
    return inst;
}

void ddbt_unique(char *buf, size_t cap, const char *tag)
{
    static int n;
    snprintf(buf, cap, "%s_%d_%d", tag, (int)getpid(), ++n);
}

pid_t ddbt_spawn(const char *dir, const char *out, const char *const *args)
{
    const char *bin = getenv("DLD_BIN");
    ck_assert_msg(bin != NULL, "DLD_BIN is not set");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, out);
    char *argv[64];
    int n = 0;
    argv[n++] = (char *)bin;
    for (; args[n - 1] && n < 63; n++)
        argv[n] = (char *)args[n - 1];
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    char cwd[4096];
    ck_assert(getcwd(cwd, sizeof cwd) != NULL);
    ck_assert_int_eq(chdir(dir), 0);
    pid_t pid;
    int rc = posix_spawn(&pid, bin, &fa, NULL, argv, environ);
    ck_assert_int_eq(chdir(cwd), 0);
    posix_spawn_file_actions_destroy(&fa);
    ck_assert_msg(rc == 0, "cannot start %s", bin);
    return pid;
}

int ddbt_wait(pid_t pid)
{
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

pid_t ddbt_spawn_gated(const char *dir, const char *out, const char *const *args, int *gate)
{
    const char *bin = getenv("DLD_BIN");
    ck_assert_msg(bin != NULL, "DLD_BIN is not set");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, out);
    char *argv[64];
    int n = 0;
    argv[n++] = (char *)bin;
    for (; args[n - 1] && n < 63; n++)
        argv[n] = (char *)args[n - 1];
    argv[n] = NULL;
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[1]);
        char c;
        while (read(fds[0], &c, 1) < 0) {
        }
        close(fds[0]);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || chdir(dir) != 0)
            _exit(126);
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
        execv(bin, argv);
        _exit(127);
    }
    close(fds[0]);
    *gate = fds[1];
    return pid;
}

void ddbt_go(int gate)
{
    ssize_t w = write(gate, "g", 1);
    (void)w;
    close(gate);
}

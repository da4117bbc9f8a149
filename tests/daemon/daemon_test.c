/* `deltaload daemon` as a service (see CMakeLists.txt): a notify socket
 * stands in for systemd's, the test scheduler fires every interval_ms.
 * Usage: test_daemon_service WORK_DIR (DLD_BIN, DLD_PLUGIN_DIR and
 * DLD_DAEMON_PLUGIN_DIR from ctest). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

static int s_fails;
static char s_dir[PATH_MAX], s_log[PATH_MAX + 16], s_sock[PATH_MAX + 16];
static int s_fd = -1;

#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        if (cond) {                                                                                                    \
            printf("ok   %s\n", #cond);                                                                                \
        } else {                                                                                                       \
            printf("FAIL %s: ", #cond);                                                                                \
            printf(__VA_ARGS__);                                                                                       \
            printf("\n");                                                                                              \
            s_fails++;                                                                                                 \
        }                                                                                                              \
    } while (0)

static int64_t s_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_sql(const char *sql)
{
    char db[PATH_MAX + 16];
    snprintf(db, sizeof db, "%s/src.db", s_dir);
    sqlite3 *h = NULL;
    char *msg = NULL;
    if (sqlite3_open(db, &h) != SQLITE_OK || sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "sqlite: %s\n", msg ? msg : sqlite3_errmsg(h));
        exit(1);
    }
    sqlite3_close(h);
}

static void s_write(const char *name, const char *text)
{
    char path[PATH_MAX + 64], tmp[PATH_MAX + 80];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        perror(path);
        exit(1);
    }
}

/* the config: tables (a JSON list of names), the scheduler's period, the target */
static void s_config(const char *name, const char *tables, int interval_ms, const char *target)
{
    char items[4096] = "";
    size_t n = 0;
    char copy[256];
    snprintf(copy, sizeof copy, "%s", tables);
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        n += (size_t)snprintf(items + n, sizeof items - n,
                              "%s{\"targetTableName\": \"%s\", \"sourceSchema\": \"main\", \"sourceTable\": \"%s\","
                              " \"filtercolumn\": \"seq\", \"filteroperator\": \"gte\", \"startvalue\": \"1\","
                              " \"activeflag\": \"Y\", \"ouputs3Prefix\": \"raw\"}",
                              n ? ", " : "", t, t);
    char text[8192];
    snprintf(text, sizeof text,
             "{\"plugin_dirs\": [\"%s\", \"%s\"],\n"
             " \"scheduler\": {\"plugin\": \"fast\", \"options\": {\"interval_ms\": %d}},\n"
             " \"source\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"src.db\"}},\n"
             " \"target\": %s,\n"
             " \"state\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"state.db\"}},\n"
             " \"engine\": {\"batch_rows\": 50},\n"
             " \"tables\": [%s]}\n",
             getenv("DLD_DAEMON_PLUGIN_DIR"), getenv("DLD_PLUGIN_DIR"), interval_ms,
             target ? target : "{\"plugin\": \"file\", \"options\": {\"path\": \"lake\", \"format\": \"csv\", \"fsync\": false}}",
             items);
    s_write(name, text);
}

static char *s_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = calloc((size_t)n + 1, 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n)
        b[0] = '\0';
    fclose(f);
    return b;
}

static int s_count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* waits for a notify datagram containing `want` (skipping others); the
 * datagram is copied into got */
static bool s_wait_notify(const char *want, char *got, size_t cap, int timeout_ms)
{
    int64_t end = s_ms() + timeout_ms;
    while (s_ms() < end) {
        char buf[1024];
        ssize_t n = recv(s_fd, buf, sizeof buf - 1, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                continue; /* SO_RCVTIMEO: 100 ms */
            perror("recv");
            return false;
        }
        buf[n] = '\0';
        if (strstr(buf, want)) {
            if (got)
                snprintf(got, cap, "%s", buf);
            return true;
        }
    }
    return false;
}

static pid_t s_start(const char *config)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (chdir(s_dir) != 0)
            _exit(127);
        int fd = open(s_log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        setenv("NOTIFY_SOCKET", s_sock, 1);
        execl(getenv("DLD_BIN"), "deltaload", "-c", config, "daemon", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int s_wait_exit(pid_t pid, int timeout_ms)
{
    int64_t end = s_ms() + timeout_ms;
    int status = 0;
    while (s_ms() < end) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        usleep(20000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

/* a cycle ran completely: "cycle N running", then the next "idle" */
static bool s_wait_cycle(void)
{
    return s_wait_notify("STATUS=cycle", NULL, 0, 10000) && s_wait_notify("STATUS=idle", NULL, 0, 10000);
}

int main(int argc, char **argv)
{
    if (argc < 2 || !getenv("DLD_BIN") || !getenv("DLD_DAEMON_PLUGIN_DIR")) {
        fprintf(stderr, "usage: test_daemon_service WORK_DIR (run by ctest)\n");
        return 2;
    }
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", argv[1]);
    if (system(cmd) != 0 || mkdir(argv[1], 0755) != 0) {
        perror(argv[1]);
        return 1;
    }
    snprintf(s_dir, sizeof s_dir, "%s", argv[1]);
    snprintf(s_log, sizeof s_log, "%s/daemon.log", s_dir);
    snprintf(s_sock, sizeof s_sock, "%s/notify.sock", s_dir);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(s_sock) >= sizeof sa.sun_path) {
        /* a socket path must fit sun_path (108 bytes): fall back to /tmp */
        snprintf(s_sock, sizeof s_sock, "/tmp/dld-notify-%d.sock", (int)getpid());
    }
    memcpy(sa.sun_path, s_sock, strlen(s_sock) + 1); /* fits: checked above */
    unlink(s_sock);
    s_fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct timeval tv = {0, 100000};
    setsockopt(s_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (s_fd < 0 || bind(s_fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("notify socket");
        return 1;
    }

    s_sql("create table orders(id integer primary key, seq integer, v text);"
          "create table items(id integer primary key, seq integer);"
          "insert into orders(seq, v) values (1, 'a'), (2, 'b'), (3, 'c');"
          "insert into items(seq) values (1), (2);");

    /* 1. READY=1 after the open, one log line per table per cycle */
    s_config("deltaload.json", "orders", 150, NULL);
    pid_t pid = s_start("deltaload.json");
    char got[1024] = "";
    CHECK(s_wait_notify("READY=1", got, sizeof got, 10000), "no READY=1");
    CHECK(s_wait_cycle() && s_wait_cycle(), "two cycles did not run");
    char *log = s_slurp(s_log);
    CHECK(strstr(log, "daemon: orders                   committed load 1 ") != NULL, "%s", log);
    CHECK(strstr(log, "daemon: orders                   noop      load 2 ") != NULL, "%s", log);
    CHECK(strstr(log, "daemon: items") == NULL, "%s", log);
    free(log);

    /* 2. SIGHUP re-reads the config: items is added */
    s_config("deltaload.json", "orders,items", 150, NULL);
    kill(pid, SIGHUP);
    CHECK(s_wait_notify("RELOADING=1", NULL, 0, 10000), "no RELOADING=1");
    CHECK(s_wait_notify("READY=1", NULL, 0, 10000), "no READY=1 after the reload");
    CHECK(s_wait_cycle(), "no cycle after the reload");
    log = s_slurp(s_log);
    CHECK(strstr(log, "SIGHUP: configuration re-read from deltaload.json") != NULL, "%s", log);
    CHECK(strstr(log, "daemon: items                    committed load 1 ") != NULL, "%s", log);
    int orders_lines = s_count(log, "daemon: orders ");
    int items_lines = s_count(log, "daemon: items ");
    free(log);

    /* 3. a config that does not load is kept out: the running one goes on */
    s_write("deltaload.json", "{\"source\": ");
    kill(pid, SIGHUP);
    CHECK(s_wait_notify("READY=1", NULL, 0, 10000), "no READY=1 after the refused reload");
    CHECK(s_wait_cycle(), "no cycle after the refused reload");
    log = s_slurp(s_log);
    CHECK(strstr(log, "SIGHUP: deltaload.json not re-read, the running configuration stays") != NULL, "%s", log);
    /* every cycle logs both tables, once each */
    CHECK(s_count(log, "daemon: items ") > items_lines && s_count(log, "daemon: orders ") - orders_lines ==
              s_count(log, "daemon: items ") - items_lines, "%s", log);
    free(log);

    /* 4. SIGTERM while idle: exit 0, STOPPING=1 (the next fire is a minute away) */
    s_config("deltaload.json", "orders,items", 60000, NULL);
    kill(pid, SIGHUP);
    CHECK(s_wait_notify("READY=1", NULL, 0, 10000), "no READY=1");
    CHECK(s_wait_notify("STATUS=idle", NULL, 0, 10000), "not idle");
    int64_t t0 = s_ms();
    kill(pid, SIGTERM);
    CHECK(s_wait_notify("STOPPING=1", NULL, 0, 5000), "no STOPPING=1");
    int code = s_wait_exit(pid, 5000);
    CHECK(code == 0, "idle SIGTERM: exit %d", code);
    CHECK(s_ms() - t0 < 3000, "took %lld ms to stop", (long long)(s_ms() - t0));
    log = s_slurp(s_log);
    CHECK(strstr(log, "stopped by a signal while idle (exit 0)") != NULL, "%s", log);
    free(log);

    /* 5. SIGTERM during a load: exit 130; the window is left for recovery
     * and the next run loads it whole */
    s_sql("with recursive n(i) as (select 10 union all select i + 1 from n where i < 409)"
          " insert into orders(seq, v) select i, 'x' from n;");
    char target[PATH_MAX + 256];
    snprintf(target, sizeof target,
             "{\"plugin\": \"fault\", \"options\": {\"inner\": \"%s/dld-target-file.so\", \"path\": \"lake\","
             " \"format\": \"csv\", \"fsync\": false, \"write_sleep_ms\": 300}}",
             getenv("DLD_PLUGIN_DIR"));
    s_config("slow.json", "orders", 100, target);
    pid = s_start("slow.json");
    CHECK(s_wait_notify("READY=1", NULL, 0, 10000), "no READY=1 (slow)");
    CHECK(s_wait_notify("STATUS=cycle 1 running", NULL, 0, 10000), "no cycle (slow)");
    usleep(400000); /* inside the load: 8 batches of 300 ms each */
    kill(pid, SIGINT);
    CHECK(s_wait_notify("STOPPING=1", NULL, 0, 10000), "no STOPPING=1 (slow)");
    code = s_wait_exit(pid, 10000);
    CHECK(code == 130, "SIGINT during a load: exit %d", code);
    log = s_slurp(s_log);
    CHECK(strstr(log, "stopped by a signal during a cycle (exit 130)") != NULL, "%s", log);
    free(log);

    pid_t r = fork();
    if (r == 0) {
        if (chdir(s_dir) != 0)
            _exit(127);
        int fd = open("run.json", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        execl(getenv("DLD_BIN"), "deltaload", "-c", "deltaload.json", "--json", "run", "--table", "orders", (char *)NULL);
        _exit(127);
    }
    code = s_wait_exit(r, 20000);
    CHECK(code == 0, "run after the interrupted daemon: exit %d", code);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/run.json", s_dir);
    char *out = s_slurp(path);
    cJSON *doc = cJSON_Parse(out);
    cJSON *t0j = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "tables"), 0);
    const char *outcome = cJSON_GetStringValue(cJSON_GetObjectItem(t0j, "outcome"));
    double rows = cJSON_GetNumberValue(cJSON_GetObjectItem(t0j, "rows"));
    const char *low = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(t0j, "window"), "low"));
    CHECK(outcome && !strcmp(outcome, "committed") && rows == 400 && low && !strcmp(low, "3"),
          "the interrupted window was not loaded whole by the next run: %s", out);
    cJSON_Delete(doc);
    free(out);

    close(s_fd);
    unlink(s_sock);
    printf(s_fails ? "%d check(s) failed\n" : "all checks passed\n", s_fails);
    return s_fails ? 1 : 0;
}

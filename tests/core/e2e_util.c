#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "e2e_util.h"

extern char **environ;

int e2e_run(const char *dir, const char *const *args, int kill_after_ms)
{
    const char *bin = getenv("DLD_BIN");
    ck_assert_msg(bin != NULL, "DLD_BIN is not set");
    char out[4096];
    snprintf(out, sizeof out, "%s/last.out", dir);
    char *argv[64];
    int n = 0;
    argv[n++] = (char *)bin;
    for (; args[n - 1] && n < 63; n++)
        argv[n] = (char *)args[n - 1];
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    char cwd[4096];
    ck_assert(getcwd(cwd, sizeof cwd) != NULL);
    ck_assert_int_eq(chdir(dir), 0);
    pid_t pid;
    int rc = posix_spawn(&pid, bin, &fa, NULL, argv, environ);
    ck_assert_int_eq(chdir(cwd), 0);
    posix_spawn_file_actions_destroy(&fa);
    ck_assert_msg(rc == 0, "cannot start %s", bin);
    int status = 0;
    if (kill_after_ms > 0) {
        for (int waited = 0; waited < kill_after_ms; waited++) {
            if (waitpid(pid, &status, WNOHANG) == pid)
                goto done;
            usleep(1000);
        }
        kill(pid, SIGKILL);
    }
    waitpid(pid, &status, 0);
done:
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

const char *e2e_output(const char *dir)
{
    static char buf[65536];
    char path[4096];
    snprintf(path, sizeof path, "%s/last.out", dir);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
    return buf;
}

void e2e_sql(const char *db, const char *sql)
{
    sqlite3 *h;
    ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    char *msg = NULL;
    int rc = sqlite3_exec(h, sql, NULL, NULL, &msg);
    ck_assert_msg(rc == SQLITE_OK, "sql failed: %s: %s", sql, msg ? msg : "");
    sqlite3_close(h);
}

const char *e2e_sql_value(const char *db, const char *sql)
{
    static char buf[4096];
    sqlite3 *h;
    sqlite3_stmt *st;
    buf[0] = '\0';
    ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
    ck_assert_msg(sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(h));
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(buf, sizeof buf, "%s", sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(h);
    return buf;
}

void e2e_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* growable list of lines */
struct s_lines {
    char **v;
    size_t n, cap;
};

static void s_push(struct s_lines *l, char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->v = realloc(l->v, l->cap * sizeof(char *));
    }
    l->v[l->n++] = s;
}

static int s_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static char *s_join(struct s_lines *l)
{
    if (l->n > 1) /* qsort of NULL, 0 is undefined */
        qsort(l->v, l->n, sizeof(char *), s_cmp);
    size_t len = 1;
    for (size_t i = 0; i < l->n; i++)
        len += strlen(l->v[i]) + 1;
    char *out = malloc(len), *p = out;
    *p = '\0';
    for (size_t i = 0; i < l->n; i++) {
        p += sprintf(p, "%s\n", l->v[i]);
        free(l->v[i]);
    }
    free(l->v);
    return out;
}

char *e2e_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf)
        buf[fread(buf, 1, (size_t)n, f)] = '\0';
    fclose(f);
    return buf;
}

/* RFC 4180 reader for the files our CSV writer produces: fields joined by
 * '|', the header line skipped, NULL (empty unquoted) written as \N. */
static void s_csv_rows(const char *text, struct s_lines *out)
{
    const char *p = text;
    while (*p && *p != '\n') /* header */
        p++;
    if (*p)
        p++;
    while (*p) {
        size_t cap = 256, len = 0;
        char *row = malloc(cap);
        for (;;) {
            char field[8192];
            size_t fl = 0;
            bool quoted = false;
            if (*p == '"') {
                quoted = true;
                for (p++; *p; p++) {
                    if (*p == '"' && p[1] == '"') {
                        field[fl++] = '"';
                        p++;
                    } else if (*p == '"') {
                        p++;
                        break;
                    } else if (fl < sizeof field - 1) {
                        field[fl++] = *p;
                    }
                }
            } else {
                while (*p && *p != ',' && *p != '\n' && fl < sizeof field - 1)
                    field[fl++] = *p++;
            }
            field[fl] = '\0';
            const char *v = (!quoted && fl == 0) ? "\\N" : field;
            if (len + strlen(v) + 2 > cap)
                row = realloc(row, cap = (len + strlen(v) + 2) * 2);
            len += (size_t)sprintf(row + len, "%s%s", len ? "|" : "", v);
            if (*p == ',') {
                p++;
                continue;
            }
            if (*p == '\n')
                p++;
            break;
        }
        s_push(out, row);
    }
}

char *e2e_lake_rows(const char *table_dir, int ncols, const char **problem)
{
    static char prob[1024];
    prob[0] = '\0';
    *problem = prob;
    struct s_lines rows = {0};
    char mdir[4096];
    snprintf(mdir, sizeof mdir, "%s/_manifests", table_dir);
    /* names listed by manifests */
    struct s_lines listed = {0};
    DIR *d = opendir(mdir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char path[4600];
        snprintf(path, sizeof path, "%s/%s", mdir, e->d_name);
        if (strstr(e->d_name, ".tmp")) {
            snprintf(prob, sizeof prob, "leftover temporary manifest %s", e->d_name);
            continue;
        }
        char *text = e2e_slurp(path);
        cJSON *m = text ? cJSON_Parse(text) : NULL;
        free(text);
        if (m == NULL) {
            snprintf(prob, sizeof prob, "unreadable manifest %s", e->d_name);
            continue;
        }
        /* only published loads count ("aborted" slots claimed by a discard
         * list no files; a manifest without status predates 1.1: published) */
        const char *status = cJSON_GetStringValue(cJSON_GetObjectItem(m, "status"));
        bool published = status == NULL || strcmp(status, "published") == 0;
        if (!published && cJSON_GetArraySize(cJSON_GetObjectItem(m, "files")) > 0)
            snprintf(prob, sizeof prob, "%s manifest %s lists files", status, e->d_name);
        cJSON *f, *files = published ? cJSON_GetObjectItem(m, "files") : NULL;
        cJSON_ArrayForEach(f, files)
        {
            const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(f, "name"));
            if (name == NULL) {
                snprintf(prob, sizeof prob, "manifest %s lists a file without a name", e->d_name);
                continue;
            }
            s_push(&listed, strdup(name));
            char fp[4600];
            snprintf(fp, sizeof fp, "%s/%s", table_dir, name);
            char *csv = e2e_slurp(fp);
            if (csv == NULL) {
                snprintf(prob, sizeof prob, "manifest %s lists missing file %s", e->d_name, name);
                continue;
            }
            size_t nl = strlen(name);
            if (nl > 4 && strcmp(name + nl - 4, ".csv") == 0) /* other formats: presence only */
                s_csv_rows(csv, &rows);
            free(csv);
        }
        cJSON_Delete(m);
    }
    if (d)
        closedir(d);
    /* every file in the table folder must be listed by a published
     * manifest (what a reader listing the folder sees); no staging leftovers */
    d = opendir(table_dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, "_manifests") ||
            !strcmp(e->d_name, "_staging"))
            continue;
        bool found = false;
        for (size_t i = 0; i < listed.n && !found; i++)
            found = strcmp(listed.v[i], e->d_name) == 0;
        if (!found)
            snprintf(prob, sizeof prob, "data file %s is in no published manifest", e->d_name);
    }
    if (d)
        closedir(d);
    char staging[4600];
    snprintf(staging, sizeof staging, "%s/_staging", table_dir);
    d = opendir(staging);
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.')
            snprintf(prob, sizeof prob, "staging leftover %s", e->d_name);
    if (d)
        closedir(d);
    for (size_t i = 0; i < listed.n; i++)
        free(listed.v[i]);
    free(listed.v);
    (void)ncols;
    return s_join(&rows);
}

char *e2e_folder_rows(const char *table_dir)
{
    struct s_lines rows = {0};
    DIR *d = opendir(table_dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t nl = strlen(e->d_name);
        if (strncmp(e->d_name, "LOAD", 4) != 0 || nl < 4 || strcmp(e->d_name + nl - 4, ".csv") != 0)
            continue;
        char fp[4600];
        snprintf(fp, sizeof fp, "%s/%s", table_dir, e->d_name);
        char *csv = e2e_slurp(fp);
        if (csv) {
            s_csv_rows(csv, &rows);
            free(csv);
        }
    }
    if (d)
        closedir(d);
    return s_join(&rows);
}

char *e2e_source_rows(const char *db, const char *select)
{
    struct s_lines rows = {0};
    sqlite3 *h;
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
    ck_assert_msg(sqlite3_prepare_v2(h, select, -1, &st, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(h));
    while (sqlite3_step(st) == SQLITE_ROW) {
        char row[8192];
        size_t len = 0;
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            const char *v = (const char *)sqlite3_column_text(st, i);
            len += (size_t)snprintf(row + len, sizeof row - len, "%s%s", i ? "|" : "", v ? v : "\\N");
        }
        s_push(&rows, strdup(row));
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    return s_join(&rows);
}

cJSON *e2e_lines_json(const char *text)
{
    cJSON *a = cJSON_CreateArray();
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n) {
            char *line = strndup(p, n);
            cJSON_AddItemToArray(a, cJSON_CreateString(line));
            free(line);
        }
        p += n + (e ? 1 : 0);
    }
    return a;
}

/*
 * target-file: the lake in a local directory (the embedded default target).
 * Naming, manifests, fencing and discarding are the SDK's lake layer
 * (lake.h); this file is its storage: it only moves bytes.
 *
 *   <path>/<prefix>/<schema>/<table>/_staging/LOAD00000042-<uid>-0001.csv   while being written
 *   <path>/<prefix>/<schema>/<table>/LOAD00000042-<uid>-0001.csv            promoted (renamed into place)
 *   <path>/<prefix>/<schema>/<table>/_manifests/LOAD00000042-<uid>.json     claimed once, written last
 *
 * Loads without a uid (from a 1.0 host, or recorded before ABI 1.1) have the
 * legacy names LOAD00000042-0001.csv and _manifests/LOAD00000042.json.
 *
 * A manifest slot is claimed with link(): the text goes to
 * <name>.<random>.tmp, is fsync'ed, and is linked to its final name, which
 * fails with EEXIST when anything is there. So of a publish and a discard
 * of the same load (a stalled lease holder and the process that took over)
 * exactly one wins, and a manifest is never seen half written. Names
 * starting with "_" are skipped by Spark, Hive and Athena-style readers.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <deltaload/deltaload.h>
#include <deltaload/lake.h>

#define S_NAME "file"
#define S_STAGING "_staging"

static const struct dld_option s_options[] = {
    {"path", DLD_OPT_STRING, DLD_OPTF_REQUIRED, NULL, NULL, "Root directory of the lake (created if missing).", NULL},
    DLD_FORMAT_OPTION_ROWS,
    {"fsync", DLD_OPT_BOOL, 0, "true", NULL,
     "fsync files and directories before a load counts as staged or published (turn off only for tests).", NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL},
};

struct s_target {
    const struct dld_host *host;
    char *root;
    char **options;       /* copy of the key/value options, passed to the lake layer and the writers */
    bool fsync;
    struct dld_lake_storage storage;
};

/* a data file being written, in _staging/ */
struct s_file {
    FILE *fp;
    char *path;
    char *staging;        /* its directory, fsync'ed once the file is complete */
};

/* ---- small file-system helpers ----------------------------------------------------- */
static char *s_join(const char *a, const char *b)
{
    char *s = NULL;
    if (asprintf(&s, "%s/%s", a, b) < 0)
        return NULL;
    return s;
}

static char *s_join3(const char *a, const char *b, const char *c)
{
    char *s = NULL;
    if (asprintf(&s, "%s/%s/%s", a, b, c) < 0)
        return NULL;
    return s;
}

static int s_oom(struct dld_error *err)
{
    return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
}

/* the directory part of a path (malloc'ed): "a/b/c" → "a/b", "c" → ".", "/c" → "/" */
static char *s_parent(const char *path)
{
    /* by index rather than strrchr's pointer: gcc 12 at -O3 takes a pointer
     * into an asprintf'ed string for a dangling one (-Wdangling-pointer) */
    size_t n = strlen(path);
    while (n > 0 && path[n - 1] != '/')
        n--;
    if (n == 0)
        return strdup(".");
    if (n == 1)
        return strdup("/");
    return strndup(path, n - 1);
}

static int s_fsync_path(const struct s_target *t, const char *path, struct dld_error *err)
{
    if (!t->fsync)
        return DLD_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dld_error_set(err, DLD_ERR_FATAL, "cannot open %s to fsync: %s", path, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    return rc == 0 ? DLD_OK : dld_error_set(err, DLD_ERR_FATAL, "fsync %s: %s", path, strerror(e));
}

/* A new directory entry is durable only once the directory that holds it is. */
static int s_fsync_parent(const struct s_target *t, const char *path, struct dld_error *err)
{
    if (!t->fsync)
        return DLD_OK;
    char *parent = s_parent(path);
    int rc = parent ? s_fsync_path(t, parent, err) : s_oom(err);
    free(parent);
    return rc;
}

/* Creates path and its missing parents; each directory it creates is made
 * durable by syncing its parent. Tries the path itself first: the
 * directories of a table exist after its first load. */
static int s_mkdirs(const struct s_target *t, const char *path, struct dld_error *err)
{
    if (mkdir(path, 0755) == 0)
        return s_fsync_parent(t, path, err);
    if (errno == EEXIST)
        return DLD_OK;
    if (errno != ENOENT)
        return dld_error_set(err, DLD_ERR_FATAL, "cannot create directory %s: %s", path, strerror(errno));
    char *parent = s_parent(path);
    if (parent == NULL)
        return s_oom(err);
    int rc = strcmp(parent, path) != 0 ? s_mkdirs(t, parent, err) : DLD_OK;
    free(parent);
    if (rc)
        return rc;
    if (mkdir(path, 0755) == 0)
        return s_fsync_parent(t, path, err);
    if (errno == EEXIST) /* another process was quicker */
        return DLD_OK;
    return dld_error_set(err, DLD_ERR_FATAL, "cannot create directory %s: %s", path, strerror(errno));
}

/* "LOAD00000042" of a legacy name "LOAD00000042-0001.csv": the per-load
 * staging directory (_staging/LOAD00000042/) of lakes written before the
 * lake layer. NULL for other names. */
static char *s_old_staging_dir(const char *name)
{
    if (strncmp(name, "LOAD", 4) != 0)
        return NULL;
    size_t n = 4;
    while (name[n] >= '0' && name[n] <= '9')
        n++;
    return n > 4 && name[n] == '-' ? strndup(name, n) : NULL;
}

/* "LOAD" and digits only: an old per-load staging directory */
static bool s_is_old_staging_dir(const char *name)
{
    if (strncmp(name, "LOAD", 4) != 0 || name[4] == '\0')
        return false;
    for (const char *p = name + 4; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

/* Removes <dir>/<base>.*.tmp: copies of a manifest that put_if_absent was
 * writing when its process died. Called once the slot is claimed: another
 * process still writing such a copy would lose the slot anyway (its link()
 * then fails with EEXIST, or ENOENT once its copy is gone: both read as a
 * conflict). */
static void s_sweep_tmps(const char *dir, const char *base)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    size_t n = strlen(base);
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len > n + 5 && strncmp(e->d_name, base, n) == 0 && e->d_name[n] == '.' &&
            strcmp(e->d_name + len - 4, ".tmp") == 0 && unlinkat(dirfd(d), e->d_name, 0) != 0 && errno != ENOENT)
            break; /* best effort */
    }
    closedir(d);
}

/* ---- storage primitives (struct dld_lake_storage) ------------------------------------ */
static int s_sink_write(void *ctx, const void *data, size_t len, struct dld_error *err)
{
    struct s_file *f = ctx;
    if (fwrite(data, 1, len, f->fp) != len)
        return dld_error_set(err, DLD_ERR_FATAL, "writing %s: %s", f->path, strerror(errno));
    return DLD_OK;
}

static void s_file_free(struct s_file *f)
{
    if (f->fp)
        fclose(f->fp);
    free(f->path);
    free(f->staging);
    free(f);
}

static int s_file_open(void *ctx, const char *dir, const char *name, const char *content_type, void **file,
                       struct dld_sink *sink, struct dld_error *err)
{
    struct s_target *t = ctx;
    struct s_file *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return s_oom(err);
    char *staging = s_join3(t->root, dir, S_STAGING);
    f->path = staging ? s_join(staging, name) : NULL;
    free(staging);
    /* the file's own directory: _staging/, or a partition folder below it
     * (data/<field>=<value>/…, a partitioned Iceberg table) */
    f->staging = f->path ? s_parent(f->path) : NULL;
    int rc = f->staging ? s_mkdirs(t, f->staging, err) : s_oom(err);
    /* "w" truncates what a crashed attempt of the same (legacy) name left */
    if (rc == DLD_OK && (f->fp = fopen(f->path, "wbe")) == NULL)
        rc = dld_error_set(err, DLD_ERR_FATAL, "cannot create %s: %s", f->path, strerror(errno));
    if (rc) {
        s_file_free(f);
        return rc;
    }
    *file = f;
    sink->ctx = f;
    sink->write = s_sink_write;
    return DLD_OK;
}

static int s_file_close(void *ctx, void *file, int64_t *bytes, struct dld_error *err)
{
    struct s_target *t = ctx;
    struct s_file *f = file;
    int rc = DLD_OK;
    if (fflush(f->fp) != 0)
        rc = dld_error_set(err, DLD_ERR_FATAL, "writing %s: %s", f->path, strerror(errno));
    if (rc == DLD_OK && t->fsync && fsync(fileno(f->fp)) != 0)
        rc = dld_error_set(err, DLD_ERR_FATAL, "fsync %s: %s", f->path, strerror(errno));
    off_t size = ftello(f->fp);
    *bytes = size > 0 ? (int64_t)size : 0;
    if (fclose(f->fp) != 0 && rc == DLD_OK)
        rc = dld_error_set(err, DLD_ERR_FATAL, "closing %s: %s", f->path, strerror(errno));
    f->fp = NULL;
    if (rc == DLD_OK)
        rc = s_fsync_path(t, f->staging, err);
    s_file_free(f);
    return rc;
}

/* The partial file stays in _staging/ (invisible to readers): a load that
 * gives a file up has failed, and discarding the load removes it with the
 * rest, or, if that fails too, the next run's recovery does. */
static void s_file_abandon(void *ctx, void *file)
{
    s_file_free(file);
}

/* Renames staged files into place. A file already in place (a promote that
 * was interrupted, or is repeated) is fine. */
static int s_promote(void *ctx, const char *dir, const char *const *names, int n, struct dld_error *err)
{
    struct s_target *t = ctx;
    char *table = s_join(t->root, dir);
    if (table == NULL)
        return s_oom(err);
    int rc = DLD_OK;
    /* a name with folders (a partition's: data/<field>=<value>/…) gets
     * them, and each such folder is synced once at the end (s_mkdirs made
     * the new folders themselves durable) */
    char **folders = calloc((size_t)n + 1, sizeof(*folders));
    int nfolders = 0;
    if (folders == NULL)
        rc = s_oom(err);
    for (int i = 0; i < n && rc == DLD_OK; i++) {
        char *from = s_join3(table, S_STAGING, names[i]), *to = s_join(table, names[i]);
        char *parent = to && strchr(names[i], '/') ? s_parent(to) : NULL;
        if (from == NULL || to == NULL)
            rc = s_oom(err);
        else if (parent && (rc = s_mkdirs(t, parent, err)))
            ;
        else if (rename(from, to) != 0 && !(errno == ENOENT && access(to, F_OK) == 0))
            rc = dld_error_set(err, DLD_ERR_FATAL, "publishing %s: %s", to, strerror(errno));
        for (int k = 0; parent && k < nfolders; k++)
            if (strcmp(folders[k], parent) == 0) {
                free(parent);
                parent = NULL;
            }
        if (parent)
            folders[nfolders++] = parent;
        free(from);
        free(to);
    }
    for (int k = 0; k < nfolders; k++) {
        if (rc == DLD_OK)
            rc = s_fsync_path(t, folders[k], err);
        free(folders[k]);
    }
    free(folders);
    if (rc == DLD_OK)
        rc = s_fsync_path(t, table, err);
    free(table);
    return rc;
}

/* Moves tmp to final only if final does not exist. link() is atomic on
 * every local file system that has hard links; renameat2(RENAME_NOREPLACE)
 * covers the few without them. 0, or -1 with errno (EEXIST: taken). */
static int s_link_noreplace(const char *tmp, const char *final, bool *moved)
{
    *moved = false;
    if (link(tmp, final) == 0)
        return 0;
    if (errno != EPERM && errno != EOPNOTSUPP && errno != ENOSYS && errno != EMLINK)
        return -1;
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, final, RENAME_NOREPLACE) != 0)
        return -1;
    *moved = true;
    return 0;
}

/* root/dir/name, its directory (created) and a unique temporary name
 * beside it; each malloc'ed (NULL when not reached), freed by the caller */
static int s_tmp_for(const struct s_target *t, const char *dir, const char *name, char **final, char **parent,
                     char **tmp, struct dld_error *err)
{
    char rnd[17];
    int rc = dld_lake_new_uid(rnd, err);
    if (rc)
        return rc;
    *final = s_join3(t->root, dir, name);
    *parent = *final ? s_parent(*final) : NULL;
    if (*final == NULL || *parent == NULL || asprintf(tmp, "%s.%s.tmp", *final, rnd) < 0) {
        *tmp = NULL;
        return s_oom(err);
    }
    return s_mkdirs(t, *parent, err);
}

static int s_put_if_absent(void *ctx, const char *dir, const char *name, const void *data, size_t len,
                           struct dld_error *err)
{
    struct s_target *t = ctx;
    char *final = NULL, *parent = NULL, *tmp = NULL;
    int rc = s_tmp_for(t, dir, name, &final, &parent, &tmp, err);
    if (rc)
        goto out;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = dld_error_set(err, DLD_ERR_FATAL, "cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    for (size_t done = 0; done < len && rc == DLD_OK;) {
        ssize_t w = write(fd, (const char *)data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            rc = dld_error_set(err, DLD_ERR_FATAL, "writing %s: %s", tmp, strerror(errno));
        else
            done += (size_t)w;
    }
    if (rc == DLD_OK && t->fsync && fsync(fd) != 0)
        rc = dld_error_set(err, DLD_ERR_FATAL, "fsync %s: %s", tmp, strerror(errno));
    if (close(fd) != 0 && rc == DLD_OK)
        rc = dld_error_set(err, DLD_ERR_FATAL, "closing %s: %s", tmp, strerror(errno));
    bool moved = false;
    if (rc == DLD_OK && s_link_noreplace(tmp, final, &moved) != 0) {
        if (errno == EEXIST || (errno == ENOENT && access(final, F_OK) == 0))
            rc = dld_error_set(err, DLD_ERR_CONFLICT, "%s already exists", final);
        else
            rc = dld_error_set(err, DLD_ERR_FATAL, "cannot create %s: %s", final, strerror(errno));
    }
    if (!moved)
        unlink(tmp);
    if (rc == DLD_OK)
        rc = s_fsync_path(t, parent, err);
    if (rc == DLD_OK || rc == DLD_ERR_CONFLICT) {
        const char *base = strrchr(final, '/');
        s_sweep_tmps(parent, base ? base + 1 : final);
    }
out:
    free(tmp);
    free(parent);
    free(final);
    return rc;
}

/* Replaces dir/name: a temporary file renamed over it (table_format
 * iceberg's version-hint.text). */
static int s_put(void *ctx, const char *dir, const char *name, const void *data, size_t len, struct dld_error *err)
{
    struct s_target *t = ctx;
    char *final = NULL, *parent = NULL, *tmp = NULL;
    int rc = s_tmp_for(t, dir, name, &final, &parent, &tmp, err);
    if (rc)
        goto out;
    FILE *fp = fopen(tmp, "wbe");
    if (fp == NULL) {
        rc = dld_error_set(err, DLD_ERR_FATAL, "cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (fwrite(data, 1, len, fp) != len || fflush(fp) != 0 || (t->fsync && fsync(fileno(fp)) != 0))
        rc = dld_error_set(err, DLD_ERR_FATAL, "writing %s: %s", tmp, strerror(errno));
    if (fclose(fp) != 0 && rc == DLD_OK)
        rc = dld_error_set(err, DLD_ERR_FATAL, "closing %s: %s", tmp, strerror(errno));
    if (rc == DLD_OK && rename(tmp, final) != 0)
        rc = dld_error_set(err, DLD_ERR_FATAL, "renaming %s to %s: %s", tmp, final, strerror(errno));
    if (rc)
        unlink(tmp);
    else
        rc = s_fsync_path(t, parent, err);
out:
    free(tmp);
    free(parent);
    free(final);
    return rc;
}

/* file:// URI of the table directory (absolute: Iceberg metadata holds
 * absolute locations) */
static char *s_location(void *ctx, const char *dir)
{
    struct s_target *t = ctx;
    char *abs = realpath(t->root, NULL), *s = NULL;
    if (abs == NULL)
        return NULL;
    if (asprintf(&s, "file://%s/%s", strcmp(abs, "/") ? abs : "", dir) < 0)
        s = NULL;
    free(abs);
    return s;
}

static int s_get(void *ctx, const char *dir, const char *name, char **data, size_t *len, struct dld_error *err)
{
    struct s_target *t = ctx;
    char *path = s_join3(t->root, dir, name);
    if (path == NULL)
        return s_oom(err);
    int rc = DLD_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *buf = NULL;
    size_t n = 0, cap = 0;
    if (fd < 0) {
        rc = errno == ENOENT ? dld_error_set(err, DLD_ERR_NOT_FOUND, "%s does not exist", path)
                             : dld_error_set(err, DLD_ERR_FATAL, "cannot open %s: %s", path, strerror(errno));
        goto out;
    }
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *b = realloc(buf, cap);
            if (b == NULL) {
                rc = s_oom(err);
                break;
            }
            buf = b;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = dld_error_set(err, DLD_ERR_FATAL, "reading %s: %s", path, strerror(errno));
            break;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (rc == DLD_OK) {
        buf[n] = '\0';
        *data = buf;
        *len = n;
        buf = NULL;
    }
out:
    free(buf);
    free(path);
    return rc;
}

/* Calls fn with `report` + name for the entries of path that start with
 * prefix. 1 when fn asked to stop. */
static int s_list_dir(const char *path, const char *prefix, const char *report,
                      int (*fn)(void *fnctx, const char *name), void *fnctx, int *stop, struct dld_error *err)
{
    DIR *d = opendir(path);
    if (d == NULL)
        return errno == ENOENT || errno == ENOTDIR
                   ? DLD_OK
                   : dld_error_set(err, DLD_ERR_FATAL, "cannot list %s: %s", path, strerror(errno));
    size_t n = strlen(prefix);
    int rc = DLD_OK;
    for (struct dirent *e; !*stop && (e = readdir(d));) {
        if (e->d_name[0] == '.' || strncmp(e->d_name, prefix, n) != 0)
            continue;
        char *name = NULL;
        if (asprintf(&name, "%s%s", report, e->d_name) < 0) {
            rc = s_oom(err);
            break;
        }
        *stop = fn(fnctx, name);
        free(name);
    }
    closedir(d);
    return rc;
}

/* Calls fn with `report` + the relative name of every file below path, at
 * any depth (a partitioned table's data/ folder). */
static int s_list_tree(const char *path, const char *report, int (*fn)(void *fnctx, const char *name), void *fnctx,
                       int *stop, struct dld_error *err)
{
    DIR *d = opendir(path);
    if (d == NULL)
        return errno == ENOENT || errno == ENOTDIR
                   ? DLD_OK
                   : dld_error_set(err, DLD_ERR_FATAL, "cannot list %s: %s", path, strerror(errno));
    int rc = DLD_OK;
    for (struct dirent *e; rc == DLD_OK && !*stop && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char *name = NULL, *sub = s_join(path, e->d_name);
        if (sub == NULL || asprintf(&name, "%s%s", report, e->d_name) < 0) {
            free(sub);
            rc = s_oom(err);
            break;
        }
        struct stat stt;
        if (lstat(sub, &stt) == 0 && S_ISDIR(stt.st_mode)) {
            char *deeper = s_join(name, "");
            rc = deeper ? s_list_tree(sub, deeper, fn, fnctx, stop, err) : s_oom(err);
            free(deeper);
        } else if (!(strlen(e->d_name) > 4 && strcmp(e->d_name + strlen(e->d_name) - 4, ".tmp") == 0)) {
            *stop = fn(fnctx, name);
        }
        free(sub);
        free(name);
    }
    closedir(d);
    return rc;
}

static int s_list(void *ctx, const char *dir, const char *prefix, int (*fn)(void *fnctx, const char *name),
                  void *fnctx, struct dld_error *err)
{
    struct s_target *t = ctx;
    char *table = s_join(t->root, dir);
    if (table == NULL)
        return s_oom(err);
    int rc = DLD_OK, stop = 0;
    if (strcmp(prefix, "data/") == 0) {
        /* a partitioned table's data files (lake.h), promoted and staged */
        char *data = s_join(table, "data"), *staged = s_join3(table, S_STAGING, "data");
        rc = data && staged ? s_list_tree(data, "data/", fn, fnctx, &stop, err) : s_oom(err);
        if (rc == DLD_OK && !stop)
            rc = s_list_tree(staged, "data/", fn, fnctx, &stop, err);
        free(data);
        free(staged);
        free(table);
        return rc;
    }
    const char *slash = strchr(prefix, '/');
    if (slash) {
        /* "_manifests/LOAD": one sub-directory, reported with its name */
        char *sub = strndup(prefix, (size_t)(slash - prefix)), *path = sub ? s_join(table, sub) : NULL;
        char *report = sub ? s_join(sub, "") : NULL;
        rc = path && report ? s_list_dir(path, slash + 1, report, fn, fnctx, &stop, err) : s_oom(err);
        free(sub);
        free(path);
        free(report);
        free(table);
        return rc;
    }
    char *staging = s_join(table, S_STAGING);
    rc = staging ? s_list_dir(table, prefix, "", fn, fnctx, &stop, err) : s_oom(err);
    if (rc == DLD_OK && !stop)
        rc = s_list_dir(staging, prefix, "", fn, fnctx, &stop, err);
    /* the per-load staging directories of lakes written before the lake layer */
    DIR *d = rc == DLD_OK && !stop ? opendir(staging) : NULL;
    for (struct dirent *e; d && rc == DLD_OK && !stop && (e = readdir(d));) {
        if (!s_is_old_staging_dir(e->d_name))
            continue;
        char *path = s_join(staging, e->d_name);
        rc = path ? s_list_dir(path, prefix, "", fn, fnctx, &stop, err) : s_oom(err);
        free(path);
    }
    if (d)
        closedir(d);
    free(staging);
    free(table);
    return rc;
}

static int s_unlink(const char *path, bool *removed, struct dld_error *err)
{
    if (path == NULL)
        return s_oom(err);
    if (unlink(path) == 0) {
        *removed = true;
        return DLD_OK;
    }
    if (errno == ENOENT)
        return DLD_OK;
    return dld_error_set(err, DLD_ERR_FATAL, "removing %s: %s", path, strerror(errno));
}

/* Removes names: promoted, staged (also in the old per-load staging
 * directories) and, for a manifest, copies left by put_if_absent. */
static int s_remove(void *ctx, const char *dir, const char *const *names, int n, struct dld_error *err)
{
    struct s_target *t = ctx;
    char *table = s_join(t->root, dir);
    if (table == NULL)
        return s_oom(err);
    int rc = DLD_OK;
    bool removed = false, staged = false;
    for (int i = 0; i < n && rc == DLD_OK; i++) {
        char *path = s_join(table, names[i]);
        rc = s_unlink(path, &removed, err);
        const char *slash = strrchr(names[i], '/');
        bool data = strncmp(names[i], "data/", 5) == 0; /* a partitioned table's data file: staged too */
        if (rc == DLD_OK && slash && path && !data) {
            char *parent = s_parent(path);
            if (parent)
                s_sweep_tmps(parent, slash + 1);
            free(parent);
        } else if (rc == DLD_OK && data) {
            char *sp = s_join3(table, S_STAGING, names[i]);
            rc = s_unlink(sp, &staged, err);
            free(sp);
            char *parent = path ? s_parent(path) : NULL;
            if (rc == DLD_OK && removed && parent && access(parent, F_OK) == 0) /* its folder's removal: durable too */
                rc = s_fsync_path(t, parent, err);
            free(parent);
        } else if (rc == DLD_OK && !slash) {
            char *sp = s_join3(table, S_STAGING, names[i]);
            rc = s_unlink(sp, &staged, err);
            free(sp);
            char *old = s_old_staging_dir(names[i]);
            if (rc == DLD_OK && old) {
                char *od = s_join3(table, S_STAGING, old), *op = od ? s_join(od, names[i]) : NULL;
                rc = s_unlink(op, &staged, err);
                if (od)
                    rmdir(od); /* once empty */
                free(od);
                free(op);
            }
            free(old);
        }
        free(path);
    }
    /* a removal that a crash undoes leaves files no manifest lists: make
     * the table directory's removals durable */
    if (rc == DLD_OK && removed)
        rc = s_fsync_path(t, table, err);
    free(table);
    return rc;
}

/* ---- instance ---------------------------------------------------------------------- */
static void s_target_free(struct s_target *t)
{
    for (size_t i = 0; t->options && t->options[i]; i++)
        free(t->options[i]);
    free(t->options);
    free(t->root);
    free(t);
}

static int s_open(const struct dld_host *host, const char *const *options, void **inst, struct dld_error *err)
{
    if (!dld_host_usable(host))
        return dld_error_set(err, DLD_ERR_UNSUPPORTED, "target-file needs a complete host table");
    const char *root = dld_opt_get(options, "path");
    if (root == NULL || *root == '\0')
        return dld_error_set(err, DLD_ERR_CONFIG, "target-file needs a path");
    struct s_target *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return s_oom(err);
    t->host = host;
    t->root = strdup(root);
    size_t n = 0;
    while (options[n])
        n++;
    t->options = calloc(n + 1, sizeof(char *));
    bool ok = t->root && t->options;
    for (size_t i = 0; ok && i < n; i++)
        ok = (t->options[i] = strdup(options[i])) != NULL;
    if (!ok) {
        s_target_free(t);
        return s_oom(err);
    }
    const char *format = dld_opt_get(options, "format");
    t->fsync = dld_opt_bool(options, "fsync", true);
    if (format && dld_format_extension(format) == NULL) {
        dld_error_set(err, DLD_ERR_CONFIG, "format '%s' is not available in this build", format);
        goto fail;
    }
    if (dld_opt_int(options, "max_file_size", 268435456) < 1024) {
        dld_error_set(err, DLD_ERR_CONFIG, "max_file_size must be at least 1024 bytes");
        goto fail;
    }
    if (s_mkdirs(t, t->root, err) != DLD_OK)
        goto fail;
    t->storage = (struct dld_lake_storage){
        .struct_size = sizeof(struct dld_lake_storage),
        .ctx = t,
        .file_open = s_file_open,
        .file_close = s_file_close,
        .file_abandon = s_file_abandon,
        .promote = s_promote,
        .put_if_absent = s_put_if_absent,
        .get = s_get,
        .list = s_list,
        .remove = s_remove,
        .now_ms = host->now_ms,
        .put = s_put,
        .location = s_location,
    };
    *inst = t;
    return DLD_OK;
fail:
    s_target_free(t);
    return err->code;
}

static void s_close(void *inst)
{
    if (inst)
        s_target_free(inst);
}

/* ---- one load: the lake layer does the work ------------------------------------------- */
static int s_load_begin(void *inst, const struct dld_load *load, void **handle, struct dld_error *err)
{
    struct s_target *t = inst;
    struct dld_lake_load *l = NULL;
    int rc = dld_lake_load_begin(&t->storage, (const char *const *)t->options, load, &l, err);
    if (rc == DLD_OK)
        *handle = l;
    return rc;
}

static int s_load_write(void *handle, const struct ArrowSchema *schema, const struct ArrowArray *batch,
                        struct dld_error *err)
{
    return dld_lake_load_write(handle, schema, batch, err);
}

static int s_load_finish(void *handle, struct dld_load_stats *stats, struct dld_error *err)
{
    return dld_lake_load_finish(handle, stats, err);
}

static int s_load_publish(void *handle, struct dld_error *err)
{
    return dld_lake_load_publish(handle, err);
}

static void s_load_free(void *handle)
{
    dld_lake_load_free(handle);
}

static int s_load_discard(void *inst, const struct dld_load *load, struct dld_error *err)
{
    struct s_target *t = inst;
    return dld_lake_discard(&t->storage, load, err);
}

static int s_load_is_published(void *inst, const struct dld_load *load, int *published, struct dld_error *err)
{
    struct s_target *t = inst;
    return dld_lake_is_published(&t->storage, load, published, err);
}

static int s_manifest_list(void *inst, const struct dld_table *table, char **manifests_json, struct dld_error *err)
{
    struct s_target *t = inst;
    char *json = NULL;
    int rc = dld_lake_manifest_list(&t->storage, table, &json, err);
    if (rc)
        return rc;
    /* the host frees what crosses the boundary */
    *manifests_json = dld_host_strdup(t->host, json);
    free(json);
    return *manifests_json ? DLD_OK : s_oom(err);
}

/* `deltaload lake expire` (table_format iceberg): the lake layer's */
static int s_lake_expire(void *inst, const struct dld_table *table, int64_t cutoff_ms, int dry_run, char **report_json,
                         struct dld_error *err)
{
    struct s_target *t = inst;
    char *json = NULL;
    int rc = dld_lake_expire(&t->storage, table, cutoff_ms, dry_run, &json, err);
    if (rc)
        return rc;
    *report_json = dld_host_strdup(t->host, json);
    free(json);
    return *report_json ? DLD_OK : s_oom(err);
}

static const struct dld_target_vtable s_vtable = {
    .struct_size = sizeof(struct dld_target_vtable),
    .open = s_open,
    .close = s_close,
    .load_begin = s_load_begin,
    .load_write = s_load_write,
    .load_finish = s_load_finish,
    .load_publish = s_load_publish,
    .load_free = s_load_free,
    .load_discard = s_load_discard,
    .load_is_published = s_load_is_published,
    .manifest_list = s_manifest_list,
    .lake_expire = s_lake_expire,
};

static const struct dld_plugin s_plugin = {
    .struct_size = sizeof(struct dld_plugin),
    .abi_major = DLD_ABI_MAJOR,
    .abi_minor = DLD_ABI_MINOR,
    .kind = DLD_KIND_TARGET,
    .capabilities = 0,
    .name = S_NAME,
    .version = "0.1.0",
    .description = "Local directory lake (embedded): staged files renamed into place, manifest created once",
    .options = s_options,
    .vtable = &s_vtable,
};

DLD_PLUGIN_DEFINE(target_file, s_plugin);

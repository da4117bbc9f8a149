/*
 * target-file: the lake in a local directory (the embedded default target).
 *
 *   <path>/<prefix>/<schema>/<table>/_staging/LOAD00000042/   files while being written
 *   <path>/<prefix>/<schema>/<table>/LOAD00000042-0001.csv    published files
 *   <path>/<prefix>/<schema>/<table>/_manifests/LOAD00000042.json   written last
 *
 * Publishing renames the staged files into place and then writes the
 * manifest (to a temporary name, fsync'ed, renamed): the manifest's
 * presence is the one atomic fact that says the load is published. Names
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

#define S_NAME "file"

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
    char **options;       /* copy of the key/value options, passed to the format writers */
    const char *format;   /* points into options */
    int64_t max_file_size;
    bool fsync;
};

struct s_file {
    char *name;           /* LOAD...-0001.csv */
    int64_t rows, bytes;
};

struct s_handle {
    struct s_target *t;
    int64_t load_id;
    char *dir;            /* <root>/<prefix>/<schema>/<table> */
    char *staging;        /* <dir>/_staging/LOAD00000042 */
    struct dld_load load; /* copy of the strings needed for the manifest */
    struct dld_table table;
    char *strs[8];
    struct ArrowSchema schema; /* copy of the first batch's schema */
    struct s_file *files;
    int nfiles;
    FILE *fp;
    struct dld_format_writer *writer;
};

/* ---- small file-system helpers ----------------------------------------------------- */
static int s_mkdirs(const char *path, struct dld_error *err)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return dld_error_set(err, DLD_ERR_FATAL, "cannot create directory %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return dld_error_set(err, DLD_ERR_FATAL, "cannot create directory %s: %s", tmp, strerror(errno));
    return DLD_OK;
}

static int s_fsync_path(const char *path, bool enabled, struct dld_error *err)
{
    if (!enabled)
        return DLD_OK;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return dld_error_set(err, DLD_ERR_FATAL, "cannot open %s to fsync: %s", path, strerror(errno));
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? DLD_OK : dld_error_set(err, DLD_ERR_FATAL, "fsync %s: %s", path, strerror(errno));
}

static char *s_join(const char *a, const char *b)
{
    char *s = NULL;
    if (asprintf(&s, "%s/%s", a, b) < 0)
        return NULL;
    return s;
}

/* ---- instance ---------------------------------------------------------------------- */
static int s_open(const struct dld_host *host, const char *const *options, void **inst, struct dld_error *err)
{
    if (!dld_host_usable(host))
        return dld_error_set(err, DLD_ERR_UNSUPPORTED, "target-file needs a complete host table");
    struct s_target *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    t->host = host;
    t->root = strdup(dld_opt_get(options, "path"));
    size_t n = 0;
    while (options[n])
        n++;
    t->options = calloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        t->options[i] = strdup(options[i]);
    t->format = dld_opt_get((const char *const *)t->options, "format");
    t->max_file_size = dld_opt_int(options, "max_file_size", 268435456);
    t->fsync = dld_opt_bool(options, "fsync", true);
    if (dld_format_extension(t->format) == NULL) {
        dld_error_set(err, DLD_ERR_CONFIG, "format '%s' is not available in this build", t->format);
        goto fail;
    }
    if (t->max_file_size < 1024) {
        dld_error_set(err, DLD_ERR_CONFIG, "max_file_size must be at least 1024 bytes");
        goto fail;
    }
    if (s_mkdirs(t->root, err) != DLD_OK)
        goto fail;
    *inst = t;
    return DLD_OK;
fail:
    for (size_t i = 0; t->options && t->options[i]; i++)
        free(t->options[i]);
    free(t->options);
    free(t->root);
    free(t);
    return err->code;
}

static void s_close(void *inst)
{
    struct s_target *t = inst;
    if (t == NULL)
        return;
    for (size_t i = 0; t->options[i]; i++)
        free(t->options[i]);
    free(t->options);
    free(t->root);
    free(t);
}

static int s_paths(struct s_target *t, const struct dld_load *load, char **dir, char **staging, struct dld_error *err)
{
    char *rel = NULL;
    int rc = dld_lake_table_dir(load->table, &rel, err);
    if (rc)
        return rc;
    *dir = s_join(t->root, rel);
    free(rel);
    if (staging) {
        char sub[64];
        snprintf(sub, sizeof sub, "_staging/LOAD%08lld", (long long)load->load_id);
        *staging = s_join(*dir, sub);
    }
    return DLD_OK;
}

/* ---- one load ------------------------------------------------------------------------ */
static void s_handle_free(struct s_handle *h)
{
    if (h == NULL)
        return;
    dld_format_writer_destroy(h->writer);
    if (h->fp)
        fclose(h->fp);
    if (h->schema.release)
        h->schema.release(&h->schema);
    for (int i = 0; i < h->nfiles; i++)
        free(h->files[i].name);
    free(h->files);
    for (size_t i = 0; i < sizeof h->strs / sizeof h->strs[0]; i++)
        free(h->strs[i]);
    free(h->dir);
    free(h->staging);
    free(h);
}

static char *s_keep(struct s_handle *h, int slot, const char *s)
{
    h->strs[slot] = s ? strdup(s) : NULL;
    return h->strs[slot];
}

static int s_load_begin(void *inst, const struct dld_load *load, void **handle, struct dld_error *err)
{
    struct s_target *t = inst;
    struct s_handle *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    h->t = t;
    h->load_id = load->load_id;
    int rc = s_paths(t, load, &h->dir, &h->staging, err);
    if (rc == DLD_OK)
        rc = s_mkdirs(h->staging, err);
    if (rc) {
        s_handle_free(h);
        return rc;
    }
    /* keep what the manifest needs: the load is borrowed for this call only */
    h->table = *load->table;
    h->table.target_table_name = s_keep(h, 0, load->table->target_table_name);
    h->table.source_schema = s_keep(h, 1, load->table->source_schema);
    h->table.source_table = s_keep(h, 2, load->table->source_table);
    h->table.filter_column = s_keep(h, 3, load->table->filter_column);
    h->table.item_json = NULL;
    h->load = *load;
    h->load.table = &h->table;
    h->load.low = s_keep(h, 4, load->low);
    h->load.high = s_keep(h, 5, load->high);
    h->load.snapshot = s_keep(h, 6, load->snapshot);
    *handle = h;
    return DLD_OK;
}

static int s_sink_write(void *ctx, const void *data, size_t len, struct dld_error *err)
{
    struct s_handle *h = ctx;
    if (fwrite(data, 1, len, h->fp) != len)
        return dld_error_set(err, DLD_ERR_FATAL, "writing %s/%s: %s", h->staging, h->files[h->nfiles - 1].name,
                             strerror(errno));
    return DLD_OK;
}

static int s_file_close(struct s_handle *h, struct dld_error *err)
{
    if (h->writer == NULL)
        return DLD_OK;
    struct s_file *f = &h->files[h->nfiles - 1];
    int rc = dld_format_writer_finish(h->writer, err);
    f->rows = dld_format_writer_rows(h->writer);
    dld_format_writer_destroy(h->writer);
    h->writer = NULL;
    if (rc == DLD_OK && fflush(h->fp) != 0)
        rc = dld_error_set(err, DLD_ERR_FATAL, "writing %s: %s", f->name, strerror(errno));
    if (rc == DLD_OK && h->t->fsync && fsync(fileno(h->fp)) != 0)
        rc = dld_error_set(err, DLD_ERR_FATAL, "fsync %s: %s", f->name, strerror(errno));
    f->bytes = ftell(h->fp);
    if (fclose(h->fp) != 0 && rc == DLD_OK)
        rc = dld_error_set(err, DLD_ERR_FATAL, "closing %s: %s", f->name, strerror(errno));
    h->fp = NULL;
    return rc;
}

static int s_file_open(struct s_handle *h, struct dld_error *err)
{
    struct s_file *files = realloc(h->files, (size_t)(h->nfiles + 1) * sizeof(*files));
    if (files == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    h->files = files;
    struct s_file *f = &h->files[h->nfiles++];
    memset(f, 0, sizeof(*f));
    f->name = dld_lake_file_name(h->load_id, h->nfiles, dld_format_extension(h->t->format));
    char *path = s_join(h->staging, f->name);
    h->fp = path ? fopen(path, "wb") : NULL;
    if (h->fp == NULL) {
        int rc = dld_error_set(err, DLD_ERR_FATAL, "cannot create %s: %s", path ? path : f->name, strerror(errno));
        free(path);
        return rc;
    }
    free(path);
    char window[512];
    snprintf(window, sizeof window, "%s%s, %s]", h->load.low_inclusive ? "[" : "(", h->load.low ? h->load.low : "",
             h->load.high ? h->load.high : "");
    char load_id[32];
    snprintf(load_id, sizeof load_id, "%lld", (long long)h->load_id);
    char source[600];
    snprintf(source, sizeof source, "%s%s%s", h->table.source_schema ? h->table.source_schema : "",
             h->table.source_schema && h->table.source_schema[0] ? "." : "", h->table.source_table);
    const char *meta[] = {"deltaload.writer", "deltaload", "deltaload.source_table", source,
                          "deltaload.target_table", h->table.target_table_name, "deltaload.window", window,
                          "deltaload.load_id", load_id, NULL};
    struct dld_sink sink = {.ctx = h, .write = s_sink_write};
    h->writer = dld_format_writer_new(h->t->format, (const char *const *)h->t->options, &h->schema, &sink, meta, err);
    return h->writer ? DLD_OK : (err->code ? err->code : DLD_ERR_FATAL);
}

static int s_load_write(void *handle, const struct ArrowSchema *schema, const struct ArrowArray *batch,
                        struct dld_error *err)
{
    struct s_handle *h = handle;
    int rc;
    if (batch->length == 0)
        return DLD_OK;
    if (h->schema.release == NULL && dld_arrow_schema_copy(schema, &h->schema) != DLD_OK)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    if (h->writer == NULL && (rc = s_file_open(h, err)))
        return rc;
    if ((rc = dld_format_writer_write(h->writer, batch, err)))
        return rc;
    if (dld_format_writer_size(h->writer) >= (uint64_t)h->t->max_file_size)
        return s_file_close(h, err); /* the next batch starts a new file */
    return DLD_OK;
}

static int s_load_finish(void *handle, struct dld_load_stats *stats, struct dld_error *err)
{
    struct s_handle *h = handle;
    int rc = s_file_close(h, err);
    if (rc == DLD_OK)
        rc = s_fsync_path(h->staging, h->t->fsync, err);
    if (rc)
        return rc;
    stats->rows = stats->bytes = 0;
    for (int i = 0; i < h->nfiles; i++) {
        stats->rows += h->files[i].rows;
        stats->bytes += h->files[i].bytes;
    }
    stats->files = h->nfiles;
    return DLD_OK;
}

static int s_write_manifest(struct s_handle *h, struct dld_error *err)
{
    struct dld_lake_file *lf = calloc((size_t)h->nfiles + 1, sizeof(*lf));
    if (lf == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    for (int i = 0; i < h->nfiles; i++)
        lf[i] = (struct dld_lake_file){h->files[i].name, h->files[i].rows, h->files[i].bytes};
    char *json = dld_lake_manifest_json(&h->load, h->t->format, lf, h->nfiles, h->t->host->now_ms());
    free(lf);
    char *mdir = s_join(h->dir, "_manifests");
    char *name = dld_lake_manifest_name(h->load_id);
    char *final = name ? s_join(h->dir, name) : NULL;
    char *tmp = NULL;
    int rc = (json && mdir && final && asprintf(&tmp, "%s.tmp", final) > 0) ? DLD_OK
                                                                             : dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    if (rc == DLD_OK)
        rc = s_mkdirs(mdir, err);
    if (rc == DLD_OK) {
        FILE *fp = fopen(tmp, "wb");
        if (fp == NULL || fputs(json, fp) < 0 || fflush(fp) != 0 || (h->t->fsync && fsync(fileno(fp)) != 0))
            rc = dld_error_set(err, DLD_ERR_FATAL, "writing manifest %s: %s", tmp, strerror(errno));
        if (fp && fclose(fp) != 0 && rc == DLD_OK)
            rc = dld_error_set(err, DLD_ERR_FATAL, "closing manifest %s: %s", tmp, strerror(errno));
    }
    if (rc == DLD_OK && rename(tmp, final) != 0)
        rc = dld_error_set(err, DLD_ERR_FATAL, "publishing manifest %s: %s", final, strerror(errno));
    if (rc == DLD_OK)
        rc = s_fsync_path(mdir, h->t->fsync, err);
    free(json);
    free(mdir);
    free(name);
    free(final);
    free(tmp);
    return rc;
}

static int s_load_publish(void *handle, struct dld_error *err)
{
    struct s_handle *h = handle;
    for (int i = 0; i < h->nfiles; i++) {
        char *from = s_join(h->staging, h->files[i].name);
        char *to = s_join(h->dir, h->files[i].name);
        int ok = from && to && rename(from, to) == 0;
        int e = errno;
        free(from);
        free(to);
        if (!ok)
            return dld_error_set(err, DLD_ERR_FATAL, "publishing %s: %s", h->files[i].name, strerror(e));
    }
    int rc = s_fsync_path(h->dir, h->t->fsync, err);
    /* The staging directory is empty now: remove it before the manifest, so
     * that a crash right after the manifest leaves nothing behind (recovery
     * then only commits; it does not clean up a published load). */
    if (rc == DLD_OK)
        rmdir(h->staging);
    if (rc == DLD_OK)
        rc = s_write_manifest(h, err);
    return rc;
}

static void s_load_free(void *handle) { s_handle_free(handle); }

/* Removes every file of a load: staged, published, and its manifest. */
static int s_load_discard(void *inst, const struct dld_load *load, struct dld_error *err)
{
    struct s_target *t = inst;
    char *dir = NULL, *staging = NULL;
    int rc = s_paths(t, load, &dir, &staging, err);
    if (rc)
        return rc;
    const char *dirs[] = {staging, dir};
    for (int d = 0; d < 2 && rc == DLD_OK; d++) {
        DIR *dp = opendir(dirs[d]);
        if (dp == NULL)
            continue;
        for (struct dirent *e; (e = readdir(dp)) && rc == DLD_OK;) {
            if (!dld_lake_name_is_load(e->d_name, load->load_id))
                continue;
            char *p = s_join(dirs[d], e->d_name);
            if (p && unlink(p) != 0 && errno != ENOENT)
                rc = dld_error_set(err, DLD_ERR_FATAL, "removing %s: %s", p, strerror(errno));
            free(p);
        }
        closedir(dp);
    }
    char *name = dld_lake_manifest_name(load->load_id);
    char *manifest = name ? s_join(dir, name) : NULL;
    if (rc == DLD_OK && manifest && unlink(manifest) != 0 && errno != ENOENT)
        rc = dld_error_set(err, DLD_ERR_FATAL, "removing %s: %s", manifest, strerror(errno));
    char *tmp = NULL;
    if (manifest && asprintf(&tmp, "%s.tmp", manifest) > 0)
        unlink(tmp);
    rmdir(staging);
    free(tmp);
    free(name);
    free(manifest);
    free(dir);
    free(staging);
    return rc;
}

static int s_load_is_published(void *inst, const struct dld_load *load, int *published, struct dld_error *err)
{
    struct s_target *t = inst;
    char *dir = NULL;
    int rc = s_paths(t, load, &dir, NULL, err);
    if (rc)
        return rc;
    char *name = dld_lake_manifest_name(load->load_id);
    char *manifest = name ? s_join(dir, name) : NULL;
    struct stat st;
    *published = manifest && stat(manifest, &st) == 0;
    free(name);
    free(manifest);
    free(dir);
    return DLD_OK;
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
};

static const struct dld_plugin s_plugin = {
    .struct_size = sizeof(struct dld_plugin),
    .abi_major = DLD_ABI_MAJOR,
    .abi_minor = DLD_ABI_MINOR,
    .kind = DLD_KIND_TARGET,
    .capabilities = 0,
    .name = S_NAME,
    .version = "0.1.0",
    .description = "Local directory lake (embedded): staged files renamed into place, manifest written last",
    .options = s_options,
    .vtable = &s_vtable,
};

DLD_PLUGIN_ENTRY(target_file)
{
    if (!dld_host_usable(host))
        return DLD_ERR_UNSUPPORTED;
    *out = &s_plugin;
    return DLD_OK;
}

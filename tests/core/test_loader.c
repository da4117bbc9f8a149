/* The loader refuses what it must, naming the file and the reason, and
 * accepts the real plugins; each embedded plugin loads built in and as .so. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "host.h"
#include "loader.h"

static void s_expect_refusal(const char *file, uint32_t kind, const char *name, const char *needle)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", getenv("DLD_TEST_PLUGIN_DIR"), file);
    struct dld_loaded p;
    struct dld_error err;
    dld_error_init(&err);
    int rc = dld_loader_load_file(path, kind, name, &p, &err);
    ck_assert_msg(rc == DLD_ERR_CONFIG, "%s: expected a refusal, got %d", file, rc);
    ck_assert_msg(strstr(err.message, path) != NULL, "message does not name the file: %s", err.message);
    ck_assert_msg(strstr(err.message, needle) != NULL, "%s: message lacks '%s': %s", file, needle, err.message);
}

START_TEST(refuses_missing_entry)
{
    s_expect_refusal("dld-source-noentry.so", DLD_KIND_SOURCE, "noentry", "no exported dld_plugin_entry()");
}
END_TEST

START_TEST(refuses_other_abi_major)
{
    s_expect_refusal("dld-source-futureabi.so", DLD_KIND_SOURCE, "futureabi",
                     "built for plugin ABI major 2 (ABI 2.0), this deltaload has ABI major 1");
}
END_TEST

START_TEST(refuses_wrong_kind)
{
    s_expect_refusal("dld-target-wrongkind.so", DLD_KIND_TARGET, "wrongkind",
                     "the file name says kind 'target' but the plugin declares kind 'source'");
}
END_TEST

START_TEST(refuses_name_mismatch)
{
    s_expect_refusal("dld-source-misnamed.so", DLD_KIND_SOURCE, "misnamed",
                     "the file name says plugin 'misnamed' but the plugin calls itself 'other'");
}
END_TEST

START_TEST(refuses_missing_member)
{
    s_expect_refusal("dld-source-nomember.so", DLD_KIND_SOURCE, "nomember",
                     "required member extract_next of the source vtable is missing");
}
END_TEST

START_TEST(refuses_short_vtable)
{
    s_expect_refusal("dld-source-shortvt.so", DLD_KIND_SOURCE, "shortvt", "too small to hold required member extract_begin");
}
END_TEST

START_TEST(refuses_when_plugin_refuses_host)
{
    s_expect_refusal("dld-source-refuses.so", DLD_KIND_SOURCE, "refuses", "the plugin refused this deltaload");
}
END_TEST

START_TEST(refuses_non_plugin_file)
{
    s_expect_refusal("dld-source-garbage.so", DLD_KIND_SOURCE, "garbage", "cannot load");
}
END_TEST

START_TEST(unknown_plugin_names_search_path)
{
    const char *dirs[] = {getenv("DLD_TEST_PLUGIN_DIR"), NULL};
    struct dld_loaded p;
    struct dld_error err;
    dld_error_init(&err);
    ck_assert_int_eq(dld_loader_load(DLD_KIND_SOURCE, "nosuch", dirs, &p, &err), DLD_ERR_CONFIG);
    ck_assert_msg(strstr(err.message, "unknown source plugin 'nosuch'") && strstr(err.message, dirs[0]), "%s",
                  err.message);
}
END_TEST

START_TEST(accepts_good_plugin_and_copies_descriptor)
{
    const char *dirs[] = {getenv("DLD_TEST_PLUGIN_DIR"), NULL};
    struct dld_loaded p;
    struct dld_error err;
    dld_error_init(&err);
    ck_assert_int_eq(dld_loader_load(DLD_KIND_SOURCE, "good", dirs, &p, &err), DLD_OK);
    ck_assert_str_eq(p.desc.name, "good");
    ck_assert_uint_eq(p.desc.struct_size, sizeof(struct dld_plugin));
    ck_assert_ptr_nonnull(p.vt.source.extract_next);
    ck_assert_ptr_nonnull(p.dl);
    dld_loader_unload(&p);
}
END_TEST

/* Every embedded plugin loads both ways and agrees on its descriptor. */
START_TEST(embedded_plugins_builtin_and_dlopened)
{
    static const struct {
        uint32_t kind;
        const char *name;
    } emb[] = {{DLD_KIND_SOURCE, "sqlite"}, {DLD_KIND_TARGET, "file"}, {DLD_KIND_STATE, "sqlite"},
               {DLD_KIND_SCHEDULER, "local"}};
    const char *so_dirs[] = {getenv("DLD_PLUGIN_DIR"), NULL};
    const char *no_dirs[] = {NULL};
    for (size_t i = 0; i < sizeof emb / sizeof emb[0]; i++) {
        struct dld_loaded a, b;
        struct dld_error err;
        dld_error_init(&err);
        ck_assert_msg(dld_loader_load(emb[i].kind, emb[i].name, so_dirs, &a, &err) == DLD_OK, "%s", err.message);
        ck_assert_msg(dld_loader_load(emb[i].kind, emb[i].name, no_dirs, &b, &err) == DLD_OK, "%s", err.message);
        ck_assert_ptr_nonnull(a.dl);
        ck_assert_ptr_null(b.dl);
        ck_assert_str_eq(b.path, "(built in)");
        ck_assert_str_eq(a.desc.name, b.desc.name);
        ck_assert_str_eq(a.desc.version, b.desc.version);
        int na = 0, nb = 0;
        while (a.desc.options[na].name)
            na++;
        while (b.desc.options[nb].name)
            nb++;
        ck_assert_int_eq(na, nb);
        dld_loader_unload(&a);
        dld_loader_unload(&b);
    }
}
END_TEST

/* ---- version skew (abi.h): plugins built for another minor than this host ---------------- */

static void s_load_test_plugin(const char *file, uint32_t kind, const char *name, struct dld_loaded *p)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", getenv("DLD_TEST_PLUGIN_DIR"), file);
    struct dld_error err;
    dld_error_init(&err);
    ck_assert_msg(dld_loader_load_file(path, kind, name, p, &err) == DLD_OK, "%s", err.message);
}

/* A host struct followed by bytes nobody may touch: a plugin that writes or
 * reads past the host's struct_size shows up here. */
#define S_CANARY 0xAB
static bool s_canary_intact(const unsigned char *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (c[i] != S_CANARY)
            return false;
    return true;
}

/* Newer minor (DLD_ABI_MINOR + 1): a longer descriptor and vtable. It loads;
 * the host keeps the members it knows, and the plugin fills only what the
 * host's dld_extract_info has room for and reads nothing past the host's
 * dld_extract_request. */
START_TEST(loads_plugin_built_for_newer_minor)
{
    struct dld_loaded p;
    s_load_test_plugin("dld-source-newer.so", DLD_KIND_SOURCE, "newer", &p);
    ck_assert_uint_eq(p.plugin_abi_minor, DLD_ABI_MINOR + 1);
    ck_assert_uint_eq(p.desc.abi_major, DLD_ABI_MAJOR);
    ck_assert_uint_eq(p.desc.struct_size, sizeof(struct dld_plugin)); /* the host's copy */
    ck_assert_uint_eq(p.vt.source.struct_size, sizeof(struct dld_source_vtable)); /* the part the host knows */
    ck_assert_ptr_nonnull(p.vt.source.extract_end);

    const struct dld_source_vtable *vt = &p.vt.source;
    const char *opts[] = {"rows", "7", NULL};
    void *inst = NULL;
    struct dld_error err;
    dld_error_init(&err);
    ck_assert_int_eq(vt->open(dld_core_host(), opts, &inst, &err), DLD_OK);

    struct dld_table t = {.struct_size = sizeof t, .target_table_name = "t", .source_table = "t", .filter_column = "id"};
    struct {
        struct dld_extract_request req;
        unsigned char canary[64];
    } rq;
    memset(&rq, S_CANARY, sizeof rq); /* a plugin reading past struct_size would see non-NULL garbage */
    memset(&rq.req, 0, sizeof rq.req);
    rq.req.struct_size = sizeof rq.req;
    rq.req.table = &t;
    rq.req.mode = DLD_MODE_DELTA;
    rq.req.low = "2";
    rq.req.low_inclusive = 1;
    rq.req.batch_rows = 4;
    struct {
        struct dld_extract_info info;
        unsigned char canary[64];
    } box;
    memset(&box, S_CANARY, sizeof box);
    memset(&box.info, 0, sizeof box.info);
    box.info.struct_size = sizeof box.info;
    void *cur = NULL;
    ck_assert_int_eq(vt->extract_begin(inst, &rq.req, &box.info, &cur, &err), DLD_OK);
    ck_assert_msg(s_canary_intact(box.canary, sizeof box.canary), "the plugin wrote past the host's extract info");
    ck_assert_str_eq(box.info.high, "7");
    ck_assert_str_eq(box.info.query, "newer: ids 2..7"); /* not "sampled": it did not read past the request */
    ck_assert_str_eq(box.info.snapshot, "generated");
    int64_t rows = 0;
    for (;;) {
        struct ArrowSchema schema;
        struct ArrowArray batch;
        memset(&schema, 0, sizeof schema);
        memset(&batch, 0, sizeof batch);
        int rc = vt->extract_next(cur, &schema, &batch, &err);
        if (rc == DLD_DONE)
            break;
        ck_assert_int_eq(rc, DLD_OK);
        rows += batch.length;
        dld_arrow_release(&schema, &batch);
    }
    ck_assert_int_eq(rows, 6);
    vt->extract_end(cur);
    dld_extract_info_clean_up(dld_core_host(), &box.info);

    /* a host whose info is shorter still (only `high`): nothing else is written */
    memset(&box, S_CANARY, sizeof box);
    box.info.struct_size = offsetof(struct dld_extract_info, query);
    box.info.high = NULL;
    ck_assert_int_eq(vt->extract_begin(inst, &rq.req, &box.info, &cur, &err), DLD_OK);
    ck_assert_str_eq(box.info.high, "7");
    ck_assert_msg(s_canary_intact((const unsigned char *)&box + offsetof(struct dld_extract_info, query),
                                  sizeof box - offsetof(struct dld_extract_info, query)),
                  "the plugin wrote past a short extract info");
    vt->extract_end(cur);
    dld_core_host()->free(box.info.high);
    vt->close(inst);
    dld_loader_unload(&p);
}
END_TEST

/* A plugin that cannot work without a newer host refuses it in its entry
 * (DLD_PLUGIN_DEFINE_INIT); the loader names the file and the host's ABI. */
START_TEST(refuses_plugin_that_needs_newer_host)
{
    char needle[128];
    snprintf(needle, sizeof needle, "the plugin refused this deltaload (ABI %d.%d)", DLD_ABI_MAJOR, DLD_ABI_MINOR);
    s_expect_refusal("dld-source-needsnewer.so", DLD_KIND_SOURCE, "needsnewer", needle);
}
END_TEST

/* Older minor (1.0): the target vtable ends before manifest_list. It loads,
 * and the member it lacks reads as NULL in the host's copy. */
START_TEST(loads_plugin_built_for_older_minor)
{
    struct dld_loaded p;
    s_load_test_plugin("dld-target-older.so", DLD_KIND_TARGET, "older", &p);
    ck_assert_uint_eq(p.plugin_abi_minor, 0);
    ck_assert_uint_eq(p.vt.target.struct_size, offsetof(struct dld_target_vtable, manifest_list));
    ck_assert_ptr_nonnull(p.vt.target.load_is_published);
    ck_assert_ptr_null(p.vt.target.manifest_list);
    ck_assert_uint_eq(p.desc.struct_size, sizeof(struct dld_plugin));
    dld_loader_unload(&p);
}
END_TEST

/* $DLD_BIN args in dir; stdout+stderr into out. Returns the exit code. */
static int s_cli(const char *dir, const char *args, char *out, size_t cap)
{
    char cmd[3 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s 2>&1", dir, getenv("DLD_BIN"), args);
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* The binary through both: describe, list, plan and run with the newer
 * source and the older target (the engine must not call the missing
 * manifest_list), then a second run that finds nothing new. */
START_TEST(cli_runs_through_skewed_plugins)
{
    char dir[] = "/tmp/dld-skew-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[PATH_MAX + 32], text[4096];
    snprintf(path, sizeof path, "%s/deltaload.json", dir);
    snprintf(text, sizeof text,
             "{\"plugin_dirs\": [\"%s\", \"%s\"],\n"
             " \"source\": {\"plugin\": \"newer\", \"options\": {\"rows\": 5}},\n"
             " \"target\": {\"plugin\": \"older\", \"options\": {\"path\": \"sink.txt\"}},\n"
             " \"state\": {\"plugin\": \"sqlite\", \"options\": {\"path\": \"state.db\"}},\n"
             " \"tables\": [{\"targetTableName\": \"t\", \"sourceSchema\": \"main\", \"sourceTable\": \"t\","
             " \"filtercolumn\": \"id\", \"filteroperator\": \"gte\", \"startvalue\": \"1\", \"activeflag\": \"Y\","
             " \"ouputs3Prefix\": \"raw\"}]}\n",
             getenv("DLD_TEST_PLUGIN_DIR"), getenv("DLD_PLUGIN_DIR"));
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);

    static char out[65536];
    char want[64];
    ck_assert_msg(s_cli(dir, "plugins describe source-newer", out, sizeof out) == 0, "%s", out);
    snprintf(want, sizeof want, "source plugin newer 0.0.1 (ABI %d.%d)", DLD_ABI_MAJOR, DLD_ABI_MINOR + 1);
    ck_assert_msg(strstr(out, want) && strstr(out, "rows"), "%s", out);
    ck_assert_msg(s_cli(dir, "plugins describe target-older", out, sizeof out) == 0, "%s", out);
    snprintf(want, sizeof want, "target plugin older 0.0.1 (ABI %d.0)", DLD_ABI_MAJOR);
    ck_assert_msg(strstr(out, want), "%s", out);
    ck_assert_int_eq(s_cli(dir, "plugins list", out, sizeof out), 0);
    ck_assert_msg(strstr(out, " newer ") && strstr(out, " older "), "%s", out);
    ck_assert_msg(strstr(out, "dld-source-needsnewer.so: the plugin refused this deltaload"), "%s", out);

    ck_assert_msg(s_cli(dir, "plan", out, sizeof out) == 0, "%s", out);
    ck_assert_msg(strstr(out, "newer: ids 1..5"), "%s", out);
    ck_assert_msg(s_cli(dir, "run", out, sizeof out) == 0, "%s", out);
    snprintf(path, sizeof path, "%s/sink.txt", dir);
    f = fopen(path, "r");
    ck_assert_msg(f != NULL, "the older target published nothing: %s", out);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    ck_assert_msg(strstr(text, " rows 5\n") != NULL, "%s", text);
    ck_assert_msg(s_cli(dir, "run", out, sizeof out) == 0, "%s", out);
    f = fopen(path, "r");
    n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    ck_assert_msg(strchr(text, '\n') == strrchr(text, '\n'), "the second run loaded again: %s", text);

    if (getenv("DLD_KEEP_TMP") == NULL) {
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
    }
}
END_TEST

/* The SDK's struct-size helpers on their own. */
static int s_frees;
static void s_count_free(void *ptr)
{
    if (ptr)
        s_frees++;
    free(ptr);
}

START_TEST(sdk_struct_size_helpers)
{
    /* DLD_HAS / DLD_SET */
    struct dld_load_stats st = {.struct_size = offsetof(struct dld_load_stats, bytes)};
    ck_assert(DLD_HAS(&st, struct dld_load_stats, rows));
    ck_assert(!DLD_HAS(&st, struct dld_load_stats, bytes));
    DLD_SET(&st, struct dld_load_stats, rows, 3);
    DLD_SET(&st, struct dld_load_stats, bytes, 4);
    ck_assert_int_eq(st.rows, 3);
    ck_assert_int_eq(st.bytes, 0);

    /* dld_struct_copy: a shorter source zero-extends, a longer one is cut */
    struct dld_load_stats big;
    memset(&big, 0xFF, sizeof big);
    struct dld_load_stats small = {.struct_size = offsetof(struct dld_load_stats, bytes), .rows = 9};
    ck_assert_uint_eq(dld_struct_copy(&big, sizeof big, &small), offsetof(struct dld_load_stats, bytes));
    ck_assert_uint_eq(big.struct_size, sizeof big);
    ck_assert_int_eq(big.rows, 9);
    ck_assert_int_eq(big.bytes, 0);
    ck_assert_int_eq(big.files, 0);
    struct {
        struct dld_load_stats s;
        unsigned char canary[16];
    } box;
    memset(&box, S_CANARY, sizeof box);
    struct dld_load_stats full = {.struct_size = sizeof full, .rows = 1, .bytes = 2, .files = 3};
    ck_assert_uint_eq(dld_struct_copy(&box.s, offsetof(struct dld_load_stats, files), &full),
                      offsetof(struct dld_load_stats, files));
    ck_assert_uint_eq(box.s.struct_size, offsetof(struct dld_load_stats, files));
    ck_assert_int_eq(box.s.bytes, 2);
    ck_assert(s_canary_intact((const unsigned char *)&box + offsetof(struct dld_load_stats, files),
                              sizeof box - offsetof(struct dld_load_stats, files)));

    /* dld_extract_info_put: members the host has no room for are freed, not leaked */
    struct dld_host h = *dld_core_host();
    h.free = s_count_free;
    s_frees = 0;
    struct dld_extract_info mine = {.struct_size = sizeof mine};
    mine.high = dld_host_strdup(&h, "10");
    mine.query = dld_host_strdup(&h, "q");
    mine.snapshot = dld_host_strdup(&h, "s");
    char *high = mine.high;
    struct {
        struct dld_extract_info info;
        unsigned char canary[64];
    } hb;
    memset(&hb, S_CANARY, sizeof hb);
    hb.info.struct_size = offsetof(struct dld_extract_info, query);
    dld_extract_info_put(&h, &hb.info, &mine);
    ck_assert_ptr_eq(hb.info.high, high);
    ck_assert_int_eq(s_frees, 2);
    ck_assert(s_canary_intact((const unsigned char *)&hb + offsetof(struct dld_extract_info, query),
                              sizeof hb - offsetof(struct dld_extract_info, query)));
    ck_assert_uint_eq(mine.struct_size, sizeof mine);
    ck_assert_ptr_null(mine.high);
    ck_assert_ptr_null(mine.query);
    h.free(hb.info.high);

    /* dld_run_put into a full-size host struct moves everything */
    struct dld_run r = {.struct_size = sizeof r, .load_id = 5};
    r.table = dld_host_strdup(&h, "t");
    struct dld_run hr = {.struct_size = sizeof hr};
    s_frees = 0;
    dld_run_put(&h, &hr, &r);
    ck_assert_int_eq(s_frees, 0);
    ck_assert_str_eq(hr.table, "t");
    ck_assert_int_eq(hr.load_id, 5);
    dld_run_clean_up(&h, &hr);

    /* the common entry: refuses another major and an incomplete host table */
    static const struct dld_plugin desc = {.struct_size = sizeof desc, .abi_major = DLD_ABI_MAJOR};
    const struct dld_plugin *got = &desc;
    struct dld_host other = *dld_core_host();
    other.abi_major = DLD_ABI_MAJOR + 1;
    ck_assert_int_eq(dld_plugin_accept(&other, &desc, NULL, &got), DLD_ERR_UNSUPPORTED);
    ck_assert_ptr_null(got);
    other = *dld_core_host();
    other.realloc = NULL;
    ck_assert_int_eq(dld_plugin_accept(&other, &desc, NULL, &got), DLD_ERR_UNSUPPORTED);
    ck_assert_int_eq(dld_plugin_accept(NULL, &desc, NULL, &got), DLD_ERR_UNSUPPORTED);
    ck_assert_int_eq(dld_plugin_accept(dld_core_host(), &desc, NULL, &got), DLD_OK);
    ck_assert_ptr_eq(got, &desc);
}
END_TEST

/* The probe cache (loader.c): a file that passed the probe is not probed
 * again while it and the executable are unchanged; a changed, tampered or
 * refused file is probed; DELTALOAD_PROBE_CACHE=0 turns it off. */
static unsigned s_load_counting(const char *plugins, const char *name, int want_rc)
{
    const char *dirs[] = {plugins, NULL};
    struct dld_loaded p;
    struct dld_error err;
    dld_error_init(&err);
    unsigned before = dld_loader_probe_count();
    int rc = dld_loader_load(DLD_KIND_SOURCE, name, dirs, &p, &err);
    ck_assert_msg(rc == want_rc, "%s: rc %d: %s", name, rc, err.message);
    if (rc == DLD_OK)
        dld_loader_unload(&p);
    return dld_loader_probe_count() - before;
}

static void s_copy_file(const char *from, const char *to)
{
    char cmd[3 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    ck_assert_int_eq(system(cmd), 0);
}

static int s_count_entries(const char *dir)
{
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "ls '%s' 2>/dev/null | wc -l", dir);
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    int n = -1;
    ck_assert_int_eq(fscanf(f, "%d", &n), 1);
    pclose(f);
    return n;
}

START_TEST(probe_cache_skips_unchanged_files)
{
    char dir[] = "/tmp/dld-probe-cache-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char plugins[PATH_MAX], cache[PATH_MAX], entries[PATH_MAX + 32], file[PATH_MAX + 32], src[PATH_MAX];
    snprintf(plugins, sizeof plugins, "%s/plugins", dir);
    snprintf(cache, sizeof cache, "%s/cache", dir);
    snprintf(entries, sizeof entries, "%s/deltaload/probe", cache);
    ck_assert_int_eq(mkdir(plugins, 0700), 0);
    setenv("XDG_CACHE_HOME", cache, 1);
    unsetenv("DELTALOAD_PROBE_CACHE");
    snprintf(src, sizeof src, "%s/dld-source-good.so", getenv("DLD_TEST_PLUGIN_DIR"));
    snprintf(file, sizeof file, "%s/dld-source-good.so", plugins);
    s_copy_file(src, file);

    ck_assert_uint_eq(s_load_counting(plugins, "good", DLD_OK), 1); /* first time: probed, remembered */
    ck_assert_int_eq(s_count_entries(entries), 1);
    ck_assert_uint_eq(s_load_counting(plugins, "good", DLD_OK), 0); /* unchanged: not probed */
    ck_assert_uint_eq(s_load_counting(plugins, "good", DLD_OK), 0);

    /* a new mtime (same bytes) is a changed file */
    struct timespec ts[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};
    ck_assert_int_eq(utimensat(AT_FDCWD, file, ts, 0), 0);
    ck_assert_uint_eq(s_load_counting(plugins, "good", DLD_OK), 1);
    ck_assert_uint_eq(s_load_counting(plugins, "good", DLD_OK), 0);
    /* so is a file replaced by another (new inode) */
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s/new.so", plugins);
    s_copy_file(src, tmp);
    ck_assert_int_eq(rename(tmp, file), 0);
    ck_assert_uint_eq(s_load_counting(plugins, "good", DLD_OK), 1);
    ck_assert_int_eq(s_count_entries(entries), 1); /* one entry per path, replaced */

    /* an entry others may write is not trusted */
    char cmd[2 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "chmod 0666 '%s'/*", entries);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_uint_eq(s_load_counting(plugins, "good", DLD_OK), 1);
    ck_assert_uint_eq(s_load_counting(plugins, "good", DLD_OK), 0); /* rewritten 0600 */

    /* switched off: probed every time, nothing written */
    setenv("DELTALOAD_PROBE_CACHE", "0", 1);
    ck_assert_uint_eq(s_load_counting(plugins, "good", DLD_OK), 1);
    ck_assert_uint_eq(s_load_counting(plugins, "good", DLD_OK), 1);
    unsetenv("DELTALOAD_PROBE_CACHE");

    /* a refused file is never remembered */
    snprintf(src, sizeof src, "%s/dld-source-refuses.so", getenv("DLD_TEST_PLUGIN_DIR"));
    snprintf(file, sizeof file, "%s/dld-source-refuses.so", plugins);
    s_copy_file(src, file);
    ck_assert_uint_eq(s_load_counting(plugins, "refuses", DLD_ERR_CONFIG), 1);
    ck_assert_uint_eq(s_load_counting(plugins, "refuses", DLD_ERR_CONFIG), 1);
    ck_assert_int_eq(s_count_entries(entries), 1);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("loader");
    TCase *tc = tcase_create("loader");
    tcase_add_test(tc, refuses_missing_entry);
    tcase_add_test(tc, refuses_other_abi_major);
    tcase_add_test(tc, refuses_wrong_kind);
    tcase_add_test(tc, refuses_name_mismatch);
    tcase_add_test(tc, refuses_missing_member);
    tcase_add_test(tc, refuses_short_vtable);
    tcase_add_test(tc, refuses_when_plugin_refuses_host);
    tcase_add_test(tc, refuses_non_plugin_file);
    tcase_add_test(tc, unknown_plugin_names_search_path);
    tcase_add_test(tc, accepts_good_plugin_and_copies_descriptor);
    tcase_add_test(tc, embedded_plugins_builtin_and_dlopened);
    tcase_add_test(tc, loads_plugin_built_for_newer_minor);
    tcase_add_test(tc, refuses_plugin_that_needs_newer_host);
    tcase_add_test(tc, loads_plugin_built_for_older_minor);
    tcase_add_test(tc, cli_runs_through_skewed_plugins);
    tcase_add_test(tc, sdk_struct_size_helpers);
    tcase_add_test(tc, probe_cache_skips_unchanged_files);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

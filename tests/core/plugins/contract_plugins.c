/*
 * Plugins that break the plugin contract on purpose (test_contract.c). One
 * file, built several ways (see ../CMakeLists.txt):
 *
 *   LIAR_KIND=k (1 source, 3 state, 4 scheduler), LIAR_INNER="x"   dld-<kind>-liar.so: the real plugin
 *        $DLD_PLUGIN_DIR/dld-<kind>-x.so with a few members replaced; its
 *        option table is the real one plus `lie`, which picks the lie:
 *     source: high_past_end (high mark 1250, past a between endvalue),
 *             high_below_low (high mark 0, below the low bound),
 *             unfilled (DLD_OK without a batch), bad_code (returns 42),
 *             no_message (DLD_ERR_FATAL with an empty message),
 *             crash_next (SIGSEGV in extract_next), crash_open (in open),
 *             overflow_next (recursion without bound in extract_next:
 *             a stack overflow),
 *             ties_on_low (takes the rows tied on an exclusive low bound),
 *             round_decimal (decimals rounded to whole numbers),
 *             done_on_cancel (DLD_DONE, the rows cut short, once the host
 *             says cancelled), no_schema (does not fill extract_info.schema,
 *             as a source of ABI 1.1: the host reads the first batch),
 *             schema_lies (declares a column's nullability unlike its batches'),
 *             slow_honest / slow_deaf (a table named kit_slow is kit_t behind
 *             a 3 s wait in extract_begin that polls host->cancelled() and
 *             returns DLD_ERR_RETRY / ignores it)
 *     state:  run_last_other (run_last answers with another table's run)
 *     scheduler: next_not_after (next_fire returns the instant asked)
 *   CTOR_CRASH       a source whose constructor dereferences NULL
 *   OPT_DUP, OPT_BAD_DEFAULT, OPT_BAD_CHOICE, OPT_RESERVED
 *                    sources whose option tables the loader must refuse
 *   PLUGIN_NAME="n"  the name (default "liar")
 */
#include <dlfcn.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <deltaload/deltaload.h>

#ifndef PLUGIN_NAME
#define PLUGIN_NAME "liar"
#endif

/* a genuine SIGSEGV: a store to a page mapped with no access (not a NULL
 * store, which UBSan reports and stops at before the fault) */
__attribute__((unused)) static void s_segv(void)
{
    volatile char *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        abort();
    *p = 1;
}

#if defined(LIAR_KIND)
static const struct dld_host *s_host;
static char s_lie[64];
static union {
    struct dld_source_vtable source;
    struct dld_state_vtable state;
    struct dld_scheduler_vtable scheduler;
} s_inner, s_vt;
static struct dld_option s_opts[64];
static struct dld_plugin s_desc = {
    .struct_size = sizeof(struct dld_plugin),
    .abi_major = DLD_ABI_MAJOR,
    .abi_minor = DLD_ABI_MINOR,
    .kind = LIAR_KIND,
    .name = PLUGIN_NAME,
    .version = "0.0.1",
    .description = "breaks the plugin contract on purpose (tests)",
    .options = s_opts,
    .vtable = &s_vt,
};

static int s_is(const char *lie) { return strcmp(s_lie, lie) == 0; }

/* the inner plugin's options: everything but `lie` */
static int s_open_inner(const struct dld_host *host, const char *const *options, void **inst, struct dld_error *err)
{
    s_host = host;
    const char *lie = dld_opt_get(options, "lie");
    snprintf(s_lie, sizeof s_lie, "%s", lie ? lie : "");
    if (s_is("crash_open"))
        s_segv();
    size_t n = 0;
    while (options[n])
        n++;
    const char **kv = calloc(n + 1, sizeof *kv);
    size_t k = 0;
    for (size_t i = 0; options[i]; i += 2)
        if (strcmp(options[i], "lie")) {
            kv[k++] = options[i];
            kv[k++] = options[i + 1];
        }
    int rc = s_inner.source.open(host, kv, inst, err); /* open is at the same place in every vtable */
    free(kv);
    return rc;
}

#if LIAR_KIND == 1 /* numbers: the preprocessor does not know enum dld_kind */
static int s_begin(void *inst, const struct dld_extract_request *req, struct dld_extract_info *info, void **cursor,
                   struct dld_error *err)
{
    struct dld_extract_request r = *req;
    if (s_is("ties_on_low") && r.low)
        r.low_inclusive = 1; /* `>=` where the window says `>` */
    struct dld_table slow;
    if ((s_is("slow_honest") || s_is("slow_deaf")) && !strcmp(req->table->source_table, "kit_slow")) {
        for (int i = 0; i < 60; i++) {
            if (s_is("slow_honest") && s_host->cancelled && s_host->cancelled())
                return dld_error_set(err, DLD_ERR_RETRY, "liar: interrupted while waiting");
            struct timespec ts = {0, 50 * 1000000L};
            nanosleep(&ts, NULL);
        }
        slow = *req->table;
        slow.source_table = "kit_t";
        r.table = &slow;
    }
    if (s_is("no_schema") && DLD_HAS(info, struct dld_extract_info, schema))
        info->schema = NULL; /* the inner source is not asked for the columns */
    struct ArrowSchema *declared = DLD_HAS(info, struct dld_extract_info, schema) ? info->schema : NULL;
    int rc = s_inner.source.extract_begin(inst, &r, info, cursor, err);
    if (rc == DLD_OK && s_is("schema_lies") && declared && declared->release && declared->n_children > 0)
        declared->children[0]->flags ^= ARROW_FLAG_NULLABLE; /* declares what its batches do not carry */
    if (rc == DLD_OK && info->high && (s_is("high_past_end") || s_is("high_below_low"))) {
        s_host->free(info->high);
        info->high = dld_host_strdup(s_host, s_is("high_past_end") ? "1250" : "0");
    }
    return rc;
}

/* recursion without bound, 1 KiB of stack a level; the lie decides at run
 * time, so the compiler sees no infinite recursion and keeps every frame */
static int s_deep(int n)
{
    volatile char frame[1024];
    frame[n % 1024] = (char)n;
    if (s_is("overflow_next"))
        return s_deep(n + 1) + frame[n % 1024];
    return frame[n % 1024];
}

static int s_next(void *cursor, struct ArrowSchema *schema, struct ArrowArray *batch, struct dld_error *err)
{
    if (s_is("unfilled"))
        return DLD_OK;
    if (s_is("bad_code"))
        return 42;
    if (s_is("no_message"))
        return DLD_ERR_FATAL;
    if (s_is("crash_next"))
        s_segv();
    if (s_is("overflow_next"))
        return s_deep(0);
    if (s_is("done_on_cancel") && s_host->cancelled && s_host->cancelled())
        return DLD_DONE;
    int rc = s_inner.source.extract_next(cursor, schema, batch, err);
    for (int64_t c = 0; rc == DLD_OK && s_is("round_decimal") && c < schema->n_children; c++) {
        int p, sc;
        if (sscanf(schema->children[c]->format, "d:%d,%d", &p, &sc) != 2 || sc == 0)
            continue;
        __int128 unit = 1, *v = (__int128 *)batch->children[c]->buffers[1]; /* the builder's own memory */
        for (int i = 0; i < sc; i++)
            unit *= 10;
        for (int64_t i = 0; i < batch->children[c]->length + batch->children[c]->offset; i++) {
            __int128 x = v[i], rem = x % unit;
            v[i] = x - rem + (rem * 2 >= unit ? unit : rem * 2 <= -unit ? -unit : 0);
        }
    }
    return rc;
}
#elif LIAR_KIND == 3
static int s_run_last(void *inst, const char *table, struct dld_run *out, struct dld_error *err)
{
    int rc = s_inner.state.run_last(inst, table, out, err);
    if (rc == DLD_OK && s_is("run_last_other")) {
        s_host->free(out->table);
        out->table = dld_host_strdup(s_host, "some_other_table");
    }
    return rc;
}
#else
static int s_next_fire(void *inst, int64_t after_ms, int64_t *next_ms, struct dld_error *err)
{
    int rc = s_inner.scheduler.next_fire(inst, after_ms, next_ms, err);
    if (rc == DLD_OK && s_is("next_not_after"))
        *next_ms = after_ms;
    return rc;
}
#endif

DLD_PLUGIN_ENTRY(liar)
{
    static const char *kinds[] = {"", "source", "target", "state", "scheduler"};
    char path[PATH_MAX];
    const char *dir = getenv("DLD_PLUGIN_DIR");
    snprintf(path, sizeof path, "%s/dld-%s-%s.so", dir ? dir : ".", kinds[LIAR_KIND], LIAR_INNER);
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    dld_plugin_entry_fn entry;
    if (dl == NULL || (*(void **)&entry = dlsym(dl, DLD_PLUGIN_ENTRY_SYMBOL)) == NULL)
        return DLD_ERR_CONFIG;
    const struct dld_plugin *in = NULL;
    if (entry(host, &in) != 0 || in->kind != LIAR_KIND)
        return DLD_ERR_CONFIG;
    size_t vs = *(const uint32_t *)in->vtable;
    memcpy(&s_inner, in->vtable, vs < sizeof s_inner ? vs : sizeof s_inner);
    s_vt = s_inner;
    size_t n = 0;
    for (; in->options && in->options[n].name && n < 62; n++)
        s_opts[n] = in->options[n];
    s_opts[n] = (struct dld_option){"lie", DLD_OPT_STRING, 0, "", NULL, "which contract to break", NULL};
    s_vt.source.open = s_open_inner;
#if LIAR_KIND == 1 /* numbers: the preprocessor does not know enum dld_kind */
    s_vt.source.extract_begin = s_begin;
    s_vt.source.extract_next = s_next;
#elif LIAR_KIND == 3
    s_vt.state.run_last = s_run_last;
#else
    s_vt.scheduler.next_fire = s_next_fire;
#endif
    *out = &s_desc;
    return 0;
}

#else /* a minimal source: the option-table and constructor cases */

#ifdef CTOR_CRASH
__attribute__((constructor)) static void s_ctor(void) { s_segv(); }
#endif

static int s_open(const struct dld_host *h, const char *const *o, void **inst, struct dld_error *e)
{
    (void)h, (void)o, (void)e;
    *inst = NULL;
    return DLD_OK;
}
static void s_close(void *inst) { (void)inst; }
static int s_begin(void *inst, const struct dld_extract_request *r, struct dld_extract_info *i, void **c,
                   struct dld_error *e)
{
    (void)inst, (void)r, (void)i, (void)e;
    *c = NULL;
    return DLD_OK;
}
static int s_next(void *c, struct ArrowSchema *s, struct ArrowArray *a, struct dld_error *e)
{
    (void)c, (void)s, (void)a, (void)e;
    return DLD_DONE;
}
static void s_end(void *c) { (void)c; }

static const struct dld_source_vtable s_vt = {
    .struct_size = sizeof(struct dld_source_vtable),
    .open = s_open,
    .close = s_close,
    .extract_begin = s_begin,
    .extract_next = s_next,
    .extract_end = s_end,
};

static const struct dld_option s_opts[] = {
    {"path", DLD_OPT_STRING, 0, NULL, NULL, "a path", NULL},
#ifdef OPT_DUP
    {"path", DLD_OPT_INT, 0, NULL, NULL, "the same name again", NULL},
#endif
#ifdef OPT_BAD_DEFAULT
    {"batch", DLD_OPT_INT, 0, "many", NULL, "an integer whose default is not one", NULL},
#endif
#ifdef OPT_BAD_CHOICE
    {"mode", DLD_OPT_STRING, 0, "fast", "slow|safe", "a default outside its choices", NULL},
#endif
#ifdef OPT_RESERVED
    {"x", DLD_OPT_STRING, 0, NULL, NULL, "reserved set", "not NULL"},
#endif
    {NULL, 0, 0, NULL, NULL, NULL, NULL},
};

static const struct dld_plugin s_desc = {
    .struct_size = sizeof(struct dld_plugin),
    .abi_major = DLD_ABI_MAJOR,
    .abi_minor = DLD_ABI_MINOR,
    .kind = DLD_KIND_SOURCE,
    .name = PLUGIN_NAME,
    .version = "0.0.1",
    .description = "a source broken on purpose (tests)",
    .options = s_opts,
    .vtable = &s_vt,
};
DLD_PLUGIN_DEFINE(broken, s_desc);
#endif

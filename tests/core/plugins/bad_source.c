/*
 * Deliberately broken plugins for the loader's refusal tests. One source,
 * compiled into several .so files with -D switches (see ../CMakeLists.txt):
 *   BAD_NO_ENTRY      no dld_plugin_entry symbol at all
 *   BAD_MAJOR=n       descriptor claims ABI major n
 *   BAD_KIND=k        descriptor claims kind k
 *   BAD_NAME="x"      descriptor name differs from the file name
 *   BAD_NULL_MEMBER   extract_next is NULL
 *   BAD_SHORT_VTABLE  vtable struct_size covers only open/close
 *   BAD_REFUSE        the entry refuses the host
 * Built without switches it is a valid source named PLUGIN_NAME that yields nothing.
 */
#include <deltaload/deltaload.h>

#ifndef PLUGIN_NAME
#define PLUGIN_NAME "good"
#endif
#ifndef BAD_MAJOR
#define BAD_MAJOR DLD_ABI_MAJOR
#endif
#ifndef BAD_KIND
#define BAD_KIND DLD_KIND_SOURCE
#endif
#ifndef BAD_NAME
#define BAD_NAME PLUGIN_NAME
#endif

static int s_open(const struct dld_host *h, const char *const *o, void **inst, struct dld_error *e)
{
    *inst = (void *)h;
    return DLD_OK;
}
static void s_close(void *inst) {}
static int s_begin(void *inst, const struct dld_extract_request *r, struct dld_extract_info *i, void **c,
                   struct dld_error *e)
{
    *c = inst;
    return DLD_OK;
}
__attribute__((unused)) static int s_next(void *c, struct ArrowSchema *s, struct ArrowArray *a, struct dld_error *e) { return DLD_DONE; }
static void s_end(void *c) {}

static const struct dld_source_vtable s_vt = {
#ifdef BAD_SHORT_VTABLE
    .struct_size = offsetof(struct dld_source_vtable, extract_begin),
#else
    .struct_size = sizeof(struct dld_source_vtable),
#endif
    .open = s_open,
    .close = s_close,
    .extract_begin = s_begin,
#ifndef BAD_NULL_MEMBER
    .extract_next = s_next,
#endif
    .extract_end = s_end,
};

static const struct dld_option s_opts[] = {
    {"path", DLD_OPT_STRING, DLD_OPTF_REQUIRED, NULL, NULL, "a required path", NULL},
    {"password", DLD_OPT_STRING, DLD_OPTF_SECRET, NULL, NULL, "a secret", NULL},
    {"count", DLD_OPT_INT, 0, "5", NULL, "an integer", NULL},
    {"mode", DLD_OPT_STRING, 0, "fast", "fast|slow", "a choice", NULL},
    {"flag", DLD_OPT_BOOL, 0, "false", NULL, "a boolean", NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL},
};

static const struct dld_plugin s_plugin = {
    .struct_size = sizeof(struct dld_plugin),
    .abi_major = BAD_MAJOR,
    .abi_minor = 0,
    .kind = BAD_KIND,
    .name = BAD_NAME,
    .version = "0.0.1",
    .description = "test plugin for loader checks",
    .options = s_opts,
    .vtable = &s_vt,
};

#ifdef BAD_NO_ENTRY
__attribute__((visibility("default"))) int not_the_entry(void);
__attribute__((visibility("default"))) int not_the_entry(void) { return s_plugin.kind; }
#elif defined(BAD_REFUSE)
static int s_refuse(const struct dld_host *host) { return DLD_ERR_UNSUPPORTED; }
DLD_PLUGIN_DEFINE_INIT(bad, s_plugin, s_refuse);
#else
DLD_PLUGIN_DEFINE(bad, s_plugin);
#endif

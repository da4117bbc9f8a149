/*
 * The plugin contract checked at the boundary (contract.h). Every member of
 * a loaded plugin's vtable is replaced by a wrapper that records the call
 * for the crash report, calls the plugin, and checks what came back:
 *
 *   every call     the return code is one of enum dld_code (DLD_DONE only
 *                  where the header allows it); a failure carries a message
 *   source         extract_begin: a delta/backfill high mark not above the
 *                  request's high, not above endvalue for `between`, and,
 *                  when captured (request high NULL), not below the low
 *                  bound (and not equal to an exclusive one);
 *                  extract_next: DLD_OK comes with a filled struct batch
 *                  whose schema is the first batch's
 *   target         load_finish: statistics not negative; manifest_list:
 *                  DLD_OK comes with a text
 *   state          run_last: the run of the table asked about, a load id
 *                  above 0 and a known status; runs_unfinished: runs of
 *                  that table that are not final; item_get/item_list/
 *                  history: DLD_OK comes with a text
 *   scheduler      next_fire: strictly after the instant asked
 *
 * A violation becomes DLD_ERR_FATAL (never retried) with a message naming
 * the plugin, the call and the table. The cost is a few pointer moves per
 * call and, per batch, one comparison of the column names and formats.
 *
 * Plugin `open` has no context argument, so each wrapped plugin gets a
 * slot with its own `open` trampoline; every other call carries the
 * wrapped instance, cursor or handle.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "contract.h"
#include "host.h"

/* ---- the current call, and the fatal signal handler ---------------------------- */
static _Thread_local struct dld_call_record s_cur;
static volatile sig_atomic_t s_crash_fd = 2;
static const int s_sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
#define C_NSIGS (sizeof s_sigs / sizeof s_sigs[0])
static struct sigaction s_old[C_NSIGS];

/* A stack overflow inside a plugin faults on the guard page of the stack
 * the handler would run on, so the handler gets a stack of its own
 * (sigaltstack + SA_ONSTACK). The alternate stack is per thread: each
 * thread that calls a plugin (the main thread, the engine's workers, the
 * lease heartbeat, the kit's threads) sets one up at its first plugin call,
 * so no place that creates threads needs to know. It is mmap'ed (no
 * allocator state in a signal handler's way, and not a leak for LSan) and
 * unmapped when the thread ends. A thread that already has one (a
 * sanitizer's) keeps it. */
static _Thread_local bool s_alt_ready;
static pthread_key_t s_alt_key;
static pthread_once_t s_alt_key_once = PTHREAD_ONCE_INIT;

static size_t c_alt_size(void)
{
    size_t size = 64 * 1024;
#ifdef _SC_SIGSTKSZ
    long min = sysconf(_SC_SIGSTKSZ);
    if (min > 0 && (size_t)min > size)
        size = (size_t)min;
#endif
    return size;
}

static void c_alt_free(void *mem)
{
    stack_t off = {.ss_flags = SS_DISABLE};
    sigaltstack(&off, NULL);
    munmap(mem, c_alt_size());
}

static void c_alt_key(void) { pthread_key_create(&s_alt_key, c_alt_free); }

static void c_alt_stack(void)
{
    s_alt_ready = true;
    stack_t cur;
    if (sigaltstack(NULL, &cur) != 0 || !(cur.ss_flags & SS_DISABLE))
        return; /* one is set up already */
    size_t size = c_alt_size();
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return; /* the handler still runs for faults other than an overflow */
    stack_t ss = {.ss_sp = mem, .ss_size = size, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        munmap(mem, size);
        return;
    }
    pthread_once(&s_alt_key_once, c_alt_key);
    pthread_setspecific(s_alt_key, mem); /* the main thread's stays until exit */
}

struct dld_call_record dld_contract_enter(const char *kind, const char *plugin, const char *path, const char *call,
                                          const char *table)
{
    if (!s_alt_ready && call)
        c_alt_stack();
    struct dld_call_record saved = s_cur;
    s_cur = (struct dld_call_record){kind, plugin, path, call, table};
    return saved;
}

void dld_contract_leave(struct dld_call_record saved) { s_cur = saved; }

void dld_contract_crash_fd(int fd) { s_crash_fd = fd; }

static void c_put(int fd, const char *s)
{
    if (s == NULL)
        s = "?";
    size_t n = 0;
    while (s[n])
        n++;
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static const char *c_signame(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGILL: return "SIGILL";
    case SIGFPE: return "SIGFPE";
    case SIGABRT: return "SIGABRT";
    default: return "a fatal signal";
    }
}

/* async-signal-safe: reads the thread's record, write(2)s, then hands the
 * signal back to the disposition that was there before (the default one,
 * or a sanitizer's): a fault re-executes and is delivered again; a signal
 * sent or raised is raised again. */
static void c_on_fatal(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    int saved_errno = errno;
    struct dld_call_record r = s_cur;
    if (r.call) {
        int fd = s_crash_fd;
        c_put(fd, "deltaload: fatal signal ");
        c_put(fd, c_signame(sig));
        c_put(fd, " inside ");
        c_put(fd, r.kind);
        c_put(fd, " plugin '");
        c_put(fd, r.plugin);
        c_put(fd, "' (");
        c_put(fd, r.path);
        c_put(fd, "), in its ");
        c_put(fd, r.call);
        if (r.table) {
            c_put(fd, " call for table '");
            c_put(fd, r.table);
            c_put(fd, "'; the process stops here and the table's load is left as recorded: the next run recovers it\n");
        } else {
            c_put(fd, " call; the process stops here\n");
        }
    }
    for (size_t i = 0; i < C_NSIGS; i++)
        if (s_sigs[i] == sig)
            sigaction(sig, &s_old[i], NULL);
    if (si == NULL || si->si_code <= 0 || sig == SIGABRT)
        raise(sig); /* pending until we return; then the old disposition acts */
    errno = saved_errno;
}

static pthread_once_t s_handler_once = PTHREAD_ONCE_INIT;
static void c_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = c_on_fatal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK; /* on the thread's alternate stack when it has one */
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < C_NSIGS; i++)
        sigaction(s_sigs[i], &sa, &s_old[i]);
}

void dld_contract_install_crash_handler(void) { pthread_once(&s_handler_once, c_install); }

/* ---- comparing filter-column values ------------------------------------------------ */
static bool c_int(const char *s, long long *out)
{
    const char *p = s + (*s == '-' || *s == '+');
    if (*p < '0' || *p > '9')
        return false;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return false;
    errno = 0;
    char *end;
    *out = strtoll(s, &end, 10);
    return errno == 0 && *end == '\0';
}

static bool c_num(const char *s, long double *out)
{
    const char *p = s + (*s == '-' || *s == '+');
    if (!((*p >= '0' && *p <= '9') || (*p == '.' && p[1] >= '0' && p[1] <= '9')))
        return false;
    for (const char *q = p; *q; q++) /* no hex, inf or nan */
        if (!((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' || *q == 'E' || *q == '-' || *q == '+'))
            return false;
    char *end;
    *out = strtold(s, &end);
    return *end == '\0';
}

static int c_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return -1;
        v = v * 10 + (**p - '0');
    }
    *out = v;
    return 0;
}

/* days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant) */
static int64_t c_days(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* ISO-8601 date or date-time → seconds since the epoch + nanoseconds */
static bool c_instant(const char *s, int64_t *sec, int64_t *nsec)
{
    int y, mo, d, h = 0, mi = 0, se = 0;
    const char *p = s;
    if (c_digits(&p, 4, &y) || *p++ != '-' || c_digits(&p, 2, &mo) || *p++ != '-' || c_digits(&p, 2, &d))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31)
        return false;
    int64_t ns = 0, off = 0;
    if (*p == 'T' || *p == ' ') {
        p++;
        if (c_digits(&p, 2, &h) || *p++ != ':' || c_digits(&p, 2, &mi))
            return false;
        if (*p == ':') {
            p++;
            if (c_digits(&p, 2, &se))
                return false;
            if (*p == '.' || *p == ',') {
                p++;
                int64_t scale = 100000000;
                if (*p < '0' || *p > '9')
                    return false;
                for (; *p >= '0' && *p <= '9'; p++, scale /= 10)
                    ns += scale * (*p - '0');
            }
        }
        if (*p == 'Z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
            if (c_digits(&p, 2, &oh))
                return false;
            if (*p == ':')
                p++;
            if (*p)
                if (c_digits(&p, 2, &om))
                    return false;
            off = sign * (oh * 3600 + om * 60);
        }
    }
    if (*p != '\0' || h > 24 || mi > 59 || se > 60)
        return false;
    *sec = c_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
    *nsec = ns;
    return true;
}

int dld_contract_compare(const char *a, const char *b)
{
    long long ia, ib;
    if (c_int(a, &ia) && c_int(b, &ib))
        return ia < ib ? -1 : ia > ib;
    long double na, nb;
    if (c_num(a, &na) && c_num(b, &nb))
        return na < nb ? -1 : na > nb;
    int64_t sa, sb, fa, fb;
    if (c_instant(a, &sa, &fa) && c_instant(b, &sb, &fb))
        return sa != sb ? (sa < sb ? -1 : 1) : (fa < fb ? -1 : fa > fb);
    int c = strcmp(a, b);
    return c < 0 ? -1 : c > 0;
}

/* ---- option tables ------------------------------------------------------------------ */
static const char *c_type_what(uint32_t t)
{
    switch (t) {
    case DLD_OPT_INT: return "an integer";
    case DLD_OPT_BOOL: return "true or false";
    case DLD_OPT_DOUBLE: return "a number";
    case DLD_OPT_JSON: return "JSON";
    default: return "a string";
    }
}

static bool c_value_ok(uint32_t type, const char *v)
{
    char *end;
    switch (type) {
    case DLD_OPT_INT:
        errno = 0;
        strtoll(v, &end, 10);
        return v[0] && *end == '\0' && errno == 0;
    case DLD_OPT_DOUBLE:
        strtod(v, &end);
        return v[0] && *end == '\0';
    case DLD_OPT_BOOL: return !strcmp(v, "true") || !strcmp(v, "false");
    case DLD_OPT_JSON: {
        cJSON *j = cJSON_Parse(v);
        cJSON_Delete(j);
        return j != NULL;
    }
    default: return true;
    }
}

static bool c_in_choices(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = choices; p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, v, n))
            return true;
        p = bar ? bar + 1 : NULL;
    }
    return false;
}

int dld_contract_check_options(const struct dld_option *opts, char *why, size_t cap)
{
    for (size_t i = 0; opts && opts[i].name; i++) {
        const struct dld_option *o = &opts[i];
        if (o->name[0] == '\0')
            return snprintf(why, cap, "option %zu has an empty name", i + 1), -1;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(opts[j].name, o->name))
                return snprintf(why, cap, "option '%s' is declared twice (entries %zu and %zu)", o->name, j + 1, i + 1), -1;
        if (o->type < DLD_OPT_STRING || o->type > DLD_OPT_JSON)
            return snprintf(why, cap, "option '%s' has unknown type %u", o->name, o->type), -1;
        if (o->flags & ~(uint32_t)(DLD_OPTF_REQUIRED | DLD_OPTF_SECRET))
            return snprintf(why, cap, "option '%s' has unknown flags 0x%x", o->name, o->flags), -1;
        if (o->reserved != NULL)
            return snprintf(why, cap, "option '%s': member reserved must be NULL", o->name), -1;
        if (o->choices && o->choices[0] == '\0')
            return snprintf(why, cap, "option '%s' has an empty choices list", o->name), -1;
        if (o->default_value && !c_value_ok(o->type, o->default_value))
            return snprintf(why, cap, "the default of option '%s' (%s) is not %s", o->name,
                            o->flags & DLD_OPTF_SECRET ? "(secret)" : o->default_value, c_type_what(o->type)), -1;
        if (o->default_value && o->choices && !c_in_choices(o->choices, o->default_value))
            return snprintf(why, cap, "the default of option '%s' (%s) is not one of its choices %s", o->name,
                            o->flags & DLD_OPTF_SECRET ? "(secret)" : o->default_value, o->choices), -1;
    }
    return 0;
}

/* ---- wrapped plugins ------------------------------------------------------------------ */
union c_vt {
    struct dld_source_vtable source;
    struct dld_target_vtable target;
    struct dld_state_vtable state;
    struct dld_scheduler_vtable scheduler;
};
_Static_assert(sizeof(union c_vt) == sizeof(((struct dld_loaded *)0)->vt), "vtable union out of step with loader.h");

struct c_plugin {
    bool used;
    uint32_t kind;
    const char *kind_name;
    char name[128];
    char *path;
    union c_vt vt; /* the plugin's own members */
};

struct c_inst {
    struct c_plugin *pl;
    void *inst;
};

#define C_SLOTS 32
static struct c_plugin s_slots[C_SLOTS];
static pthread_mutex_t s_slots_lock = PTHREAD_MUTEX_INITIALIZER;
typedef int (*c_open_fn)(const struct dld_host *, const char *const *, void **, struct dld_error *);
static int c_open(struct c_plugin *pl, const struct dld_host *h, const char *const *o, void **inst,
                  struct dld_error *e);

#define T(i)                                                                                       \
    static int c_open_##i(const struct dld_host *h, const char *const *o, void **inst, struct dld_error *e) \
    {                                                                                              \
        return c_open(&s_slots[i], h, o, inst, e);                                                 \
    }
T(0) T(1) T(2) T(3) T(4) T(5) T(6) T(7) T(8) T(9) T(10) T(11) T(12) T(13) T(14) T(15)
T(16) T(17) T(18) T(19) T(20) T(21) T(22) T(23) T(24) T(25) T(26) T(27) T(28) T(29) T(30) T(31)
#undef T
static const c_open_fn s_tramps[C_SLOTS] = {
    c_open_0,  c_open_1,  c_open_2,  c_open_3,  c_open_4,  c_open_5,  c_open_6,  c_open_7,
    c_open_8,  c_open_9,  c_open_10, c_open_11, c_open_12, c_open_13, c_open_14, c_open_15,
    c_open_16, c_open_17, c_open_18, c_open_19, c_open_20, c_open_21, c_open_22, c_open_23,
    c_open_24, c_open_25, c_open_26, c_open_27, c_open_28, c_open_29, c_open_30, c_open_31,
};

#define ENTER(pl, call, table) \
    struct dld_call_record saved_ = dld_contract_enter((pl)->kind_name, (pl)->name, (pl)->path, (call), (table))
#define LEAVE() dld_contract_leave(saved_)

/* " for table 'x'" or "" */
static const char *c_for(const char *table, char *buf, size_t cap)
{
    if (table == NULL)
        return "";
    snprintf(buf, cap, " for table '%s'", table);
    return buf;
}

/* A contract violation: DLD_ERR_FATAL, naming plugin, call and table. */
__attribute__((format(printf, 5, 6))) static int c_broke(const struct c_plugin *pl, const char *call, const char *table,
                                                         struct dld_error *err, const char *fmt, ...)
{
    char what[700], tb[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return dld_error_set(err, DLD_ERR_FATAL, "%s plugin '%s' broke the plugin contract in %s%s: %s", pl->kind_name,
                         pl->name, call, c_for(table, tb, sizeof tb), what);
}

/* The return code: one of enum dld_code, DLD_DONE only where allowed, a
 * failure with a message. */
static int c_code(const struct c_plugin *pl, const char *call, const char *table, int rc, bool done_ok,
                  struct dld_error *err)
{
    if (rc == DLD_OK || (rc == DLD_DONE && done_ok))
        return rc;
    if (rc > 0 || rc < DLD_ERR_FATAL) {
        char msg[sizeof err->message];
        snprintf(msg, sizeof msg, "%s", err->message);
        return c_broke(pl, call, table, err, "it returned %d, which is not %s (enum dld_code in abi.h)%s%s", rc,
                       rc == DLD_DONE ? "allowed from this call" : "a return code of the ABI",
                       msg[0] ? "; its message: " : "", msg);
    }
    if (err->message[0] == '\0') {
        char tb[200];
        dld_error_set(err, rc,
                      "%s plugin '%s' failed in %s%s with %s and left no message (a plugin fills the error "
                      "object on every failure: abi.h)",
                      pl->kind_name, pl->name, call, c_for(table, tb, sizeof tb), dld_code_name(rc));
    }
    return rc;
}

static int c_open(struct c_plugin *pl, const struct dld_host *h, const char *const *o, void **inst,
                  struct dld_error *e)
{
    void *in = NULL;
    int rc;
    {
        ENTER(pl, "open", NULL);
        switch (pl->kind) {
        case DLD_KIND_SOURCE: rc = pl->vt.source.open(h, o, &in, e); break;
        case DLD_KIND_TARGET: rc = pl->vt.target.open(h, o, &in, e); break;
        case DLD_KIND_STATE: rc = pl->vt.state.open(h, o, &in, e); break;
        default: rc = pl->vt.scheduler.open(h, o, &in, e); break;
        }
        LEAVE();
    }
    rc = c_code(pl, "open", NULL, rc, false, e);
    *inst = NULL;
    if (rc != DLD_OK && in == NULL)
        return rc;
    struct c_inst *ci = malloc(sizeof *ci);
    if (ci == NULL) {
        if (rc == DLD_OK)
            rc = dld_error_set(e, DLD_ERR_FATAL, "out of memory");
        return rc; /* the plugin's instance leaks: nothing else can be done */
    }
    ci->pl = pl;
    ci->inst = in;
    *inst = ci; /* a plugin that left an instance on failure still gets its close */
    return rc;
}

#define CI ((struct c_inst *)inst)
#define PL (CI->pl)

static void c_close(void *inst)
{
    if (inst == NULL)
        return;
    {
        ENTER(PL, "close", NULL);
        switch (PL->kind) {
        case DLD_KIND_SOURCE: PL->vt.source.close(CI->inst); break;
        case DLD_KIND_TARGET: PL->vt.target.close(CI->inst); break;
        case DLD_KIND_STATE: PL->vt.state.close(CI->inst); break;
        default: PL->vt.scheduler.close(CI->inst); break;
        }
        LEAVE();
    }
    free(inst);
}

/* ---- source ------------------------------------------------------------------------- */
struct c_cursor {
    struct c_inst *ci;
    void *cur;
    char *table;
    char *fp;        /* the first batch's columns: format \x1f name \x1e ... */
    int64_t batches;
};

static int c_window(const struct c_plugin *pl, const struct dld_extract_request *req,
                    const struct dld_extract_info *info, const char *table, struct dld_error *err)
{
    if (req->mode == DLD_MODE_FULL || info->high == NULL)
        return DLD_OK;
    const char *h = info->high;
    const struct dld_table *t = req->table;
    if (req->high && dld_contract_compare(h, req->high) > 0)
        return c_broke(pl, "extract_begin", table, err,
                       "it returned the high mark %s, above the high bound %s the host asked for (source.h: the high "
                       "mark in force is the request's)",
                       h, req->high);
    if (req->mode == DLD_MODE_DELTA && t && t->filter_operator && !strcmp(t->filter_operator, "between") &&
        t->end_value && dld_contract_compare(h, t->end_value) > 0)
        return c_broke(pl, "extract_begin", table, err,
                       "it returned the high mark %s, above endvalue %s (source.h: a between window never passes "
                       "endvalue; the high mark is the maximum of the column up to endvalue)",
                       h, t->end_value);
    if (req->low && req->high == NULL) { /* a captured high mark (a fixed one is the host's) */
        int c = dld_contract_compare(h, req->low);
        if (c < 0 || (c == 0 && !req->low_inclusive))
            return c_broke(pl, "extract_begin", table, err,
                           "it returned the high mark %s, %s the low bound %s%s (source.h: the high mark is the "
                           "maximum over the rows above the low bound, NULL when there are none); committing it "
                           "would move the watermark backwards",
                           h, c < 0 ? "below" : "equal to", req->low, req->low_inclusive ? " (inclusive)" : " (exclusive)");
    }
    return DLD_OK;
}

static int c_src_begin(void *inst, const struct dld_extract_request *req, struct dld_extract_info *info, void **cursor,
                       struct dld_error *err)
{
    const char *table = req && req->table ? req->table->target_table_name : NULL;
    void *cur = NULL;
    int rc;
    {
        ENTER(PL, "extract_begin", table);
        rc = PL->vt.source.extract_begin(CI->inst, req, info, &cur, err);
        LEAVE();
    }
    rc = c_code(PL, "extract_begin", table, rc, false, err);
    if (rc == DLD_OK)
        rc = c_window(PL, req, info, table, err);
    *cursor = NULL;
    if (rc != DLD_OK && cur == NULL)
        return rc;
    struct c_cursor *cw = calloc(1, sizeof *cw);
    char *tcopy = table ? strdup(table) : NULL;
    if (cw == NULL || (table && tcopy == NULL)) {
        free(cw);
        free(tcopy);
        if (cur) {
            ENTER(PL, "extract_end", table);
            PL->vt.source.extract_end(cur);
            LEAVE();
        }
        return rc == DLD_OK ? dld_error_set(err, DLD_ERR_FATAL, "out of memory") : rc;
    }
    cw->ci = CI;
    cw->cur = cur;
    cw->table = tcopy;
    *cursor = cw;
    return rc;
}

static char *c_fingerprint(const struct ArrowSchema *s)
{
    size_t n = 1;
    for (int64_t i = 0; i < s->n_children; i++)
        n += strlen(s->children[i]->format ? s->children[i]->format : "") +
             strlen(s->children[i]->name ? s->children[i]->name : "") + 2;
    char *fp = malloc(n), *p = fp;
    if (fp == NULL)
        return NULL;
    for (int64_t i = 0; i < s->n_children; i++)
        p += sprintf(p, "%s\x1f%s\x1e", s->children[i]->format ? s->children[i]->format : "",
                     s->children[i]->name ? s->children[i]->name : "");
    *p = '\0';
    return fp;
}

/* the column of s that differs from the fingerprint, -1 if none */
static int64_t c_schema_differs(const char *fp, const struct ArrowSchema *s)
{
    const char *p = fp;
    for (int64_t i = 0; i < s->n_children; i++) {
        const char *f = s->children[i]->format ? s->children[i]->format : "";
        const char *n = s->children[i]->name ? s->children[i]->name : "";
        size_t fl = strlen(f), nl = strlen(n);
        if (*p == '\0' || strncmp(p, f, fl) || p[fl] != '\x1f' || strncmp(p + fl + 1, n, nl) || p[fl + 1 + nl] != '\x1e')
            return i;
        p += fl + nl + 2;
    }
    return *p ? s->n_children : -1;
}

static int c_src_next(void *cursor, struct ArrowSchema *schema, struct ArrowArray *batch, struct dld_error *err)
{
    struct c_cursor *cw = cursor;
    struct c_plugin *pl = cw->ci->pl;
    int rc;
    {
        ENTER(pl, "extract_next", cw->table);
        rc = pl->vt.source.extract_next(cw->cur, schema, batch, err);
        LEAVE();
    }
    rc = c_code(pl, "extract_next", cw->table, rc, true, err);
    if (rc != DLD_OK)
        return rc;
    cw->batches++;
    if (schema->release == NULL || batch->release == NULL)
        return c_broke(pl, "extract_next", cw->table, err,
                       "it returned DLD_OK with %s unfilled (release == NULL) at batch %lld (source.h: DLD_OK comes "
                       "with a batch; the end of the rows is DLD_DONE)",
                       schema->release == NULL ? "the schema" : "the batch", (long long)cw->batches);
    if (schema->format == NULL || strcmp(schema->format, "+s") || batch->length < 0 ||
        batch->n_children != schema->n_children || (schema->n_children > 0 && !schema->children) ||
        (batch->n_children > 0 && !batch->children))
        return c_broke(pl, "extract_next", cw->table, err,
                       "batch %lld is not a struct array with one child per schema column (source.h)",
                       (long long)cw->batches);
    if (cw->fp == NULL) {
        if ((cw->fp = c_fingerprint(schema)) == NULL)
            return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    } else {
        int64_t col = c_schema_differs(cw->fp, schema);
        if (col >= 0)
            return c_broke(pl, "extract_next", cw->table, err,
                           "batch %lld has another schema than the first batch (column %lld: %s %s); every batch "
                           "of a load has the first batch's columns and types (source.h)",
                           (long long)cw->batches, (long long)col + 1,
                           col < schema->n_children && schema->children[col]->name ? schema->children[col]->name : "-",
                           col < schema->n_children && schema->children[col]->format ? schema->children[col]->format
                                                                                      : "(missing)");
    }
    return DLD_OK;
}

static void c_src_end(void *cursor)
{
    struct c_cursor *cw = cursor;
    if (cw == NULL)
        return;
    if (cw->cur) {
        struct c_plugin *pl = cw->ci->pl;
        ENTER(pl, "extract_end", cw->table);
        pl->vt.source.extract_end(cw->cur);
        LEAVE();
    }
    free(cw->fp);
    free(cw->table);
    free(cw);
}

/* ---- target ------------------------------------------------------------------------- */
struct c_handle {
    struct c_inst *ci;
    void *h;
    char *table;
};
#define LT(load) ((load) && (load)->table ? (load)->table->target_table_name : NULL)

static int c_tgt_begin(void *inst, const struct dld_load *load, void **handle, struct dld_error *err)
{
    const char *table = LT(load);
    void *h = NULL;
    int rc;
    {
        ENTER(PL, "load_begin", table);
        rc = PL->vt.target.load_begin(CI->inst, load, &h, err);
        LEAVE();
    }
    rc = c_code(PL, "load_begin", table, rc, false, err);
    *handle = NULL;
    if (rc != DLD_OK && h == NULL)
        return rc;
    struct c_handle *hw = calloc(1, sizeof *hw);
    char *tcopy = table ? strdup(table) : NULL;
    if (hw == NULL || (table && tcopy == NULL)) {
        free(hw);
        free(tcopy);
        ENTER(PL, "load_free", table);
        PL->vt.target.load_free(h);
        LEAVE();
        return rc == DLD_OK ? dld_error_set(err, DLD_ERR_FATAL, "out of memory") : rc;
    }
    hw->ci = CI;
    hw->h = h;
    hw->table = tcopy;
    *handle = hw;
    return rc;
}

#define HW ((struct c_handle *)handle)
static int c_tgt_write(void *handle, const struct ArrowSchema *schema, const struct ArrowArray *batch,
                       struct dld_error *err)
{
    struct c_plugin *pl = HW->ci->pl;
    int rc;
    {
        ENTER(pl, "load_write", HW->table);
        rc = pl->vt.target.load_write(HW->h, schema, batch, err);
        LEAVE();
    }
    return c_code(pl, "load_write", HW->table, rc, false, err);
}

static int c_tgt_finish(void *handle, struct dld_load_stats *stats, struct dld_error *err)
{
    struct c_plugin *pl = HW->ci->pl;
    int rc;
    {
        ENTER(pl, "load_finish", HW->table);
        rc = pl->vt.target.load_finish(HW->h, stats, err);
        LEAVE();
    }
    rc = c_code(pl, "load_finish", HW->table, rc, false, err);
    if (rc == DLD_OK && (stats->rows < 0 || stats->bytes < 0 || stats->files < 0))
        return c_broke(pl, "load_finish", HW->table, err, "it returned negative statistics (%lld rows, %lld bytes, %lld files)",
                       (long long)stats->rows, (long long)stats->bytes, (long long)stats->files);
    return rc;
}

static int c_tgt_publish(void *handle, struct dld_error *err)
{
    struct c_plugin *pl = HW->ci->pl;
    int rc;
    {
        ENTER(pl, "load_publish", HW->table);
        rc = pl->vt.target.load_publish(HW->h, err);
        LEAVE();
    }
    return c_code(pl, "load_publish", HW->table, rc, false, err);
}

static void c_tgt_free(void *handle)
{
    if (handle == NULL)
        return;
    struct c_plugin *pl = HW->ci->pl;
    if (HW->h) {
        ENTER(pl, "load_free", HW->table);
        pl->vt.target.load_free(HW->h);
        LEAVE();
    }
    free(HW->table);
    free(handle);
}
#undef HW

static int c_tgt_discard(void *inst, const struct dld_load *load, struct dld_error *err)
{
    int rc;
    {
        ENTER(PL, "load_discard", LT(load));
        rc = PL->vt.target.load_discard(CI->inst, load, err);
        LEAVE();
    }
    return c_code(PL, "load_discard", LT(load), rc, false, err);
}

static int c_tgt_is_published(void *inst, const struct dld_load *load, int *published, struct dld_error *err)
{
    int rc;
    {
        ENTER(PL, "load_is_published", LT(load));
        rc = PL->vt.target.load_is_published(CI->inst, load, published, err);
        LEAVE();
    }
    return c_code(PL, "load_is_published", LT(load), rc, false, err);
}

static int c_tgt_manifests(void *inst, const struct dld_table *t, char **json, struct dld_error *err)
{
    const char *table = t ? t->target_table_name : NULL;
    int rc;
    *json = NULL;
    {
        ENTER(PL, "manifest_list", table);
        rc = PL->vt.target.manifest_list(CI->inst, t, json, err);
        LEAVE();
    }
    rc = c_code(PL, "manifest_list", table, rc, false, err);
    if (rc == DLD_OK && *json == NULL)
        return c_broke(PL, "manifest_list", table, err, "it returned DLD_OK without a text (\"[]\" when there is none)");
    return rc;
}

static int c_tgt_expire(void *inst, const struct dld_table *t, int64_t cutoff_ms, int dry_run, char **json,
                        struct dld_error *err)
{
    const char *table = t ? t->target_table_name : NULL;
    int rc;
    *json = NULL;
    {
        ENTER(PL, "lake_expire", table);
        rc = PL->vt.target.lake_expire(CI->inst, t, cutoff_ms, dry_run, json, err);
        LEAVE();
    }
    rc = c_code(PL, "lake_expire", table, rc, false, err);
    if (rc == DLD_OK && *json == NULL)
        return c_broke(PL, "lake_expire", table, err, "it returned DLD_OK without a report");
    return rc;
}

/* ---- state -------------------------------------------------------------------------- */
#define ST_CALL(call, table, expr)              \
    int rc;                                     \
    {                                           \
        ENTER(PL, call, table);                 \
        rc = (expr);                            \
        LEAVE();                                \
    }                                           \
    rc = c_code(PL, call, table, rc, false, err)

static int c_st_item_put(void *inst, const char *name, const char *item_json, struct dld_error *err)
{
    ST_CALL("item_put", name, PL->vt.state.item_put(CI->inst, name, item_json, err));
    return rc;
}

static int c_st_item_get(void *inst, const char *name, char **item_json, struct dld_error *err)
{
    *item_json = NULL;
    ST_CALL("item_get", name, PL->vt.state.item_get(CI->inst, name, item_json, err));
    if (rc == DLD_OK && *item_json == NULL)
        return c_broke(PL, "item_get", name, err, "it returned DLD_OK without the item (DLD_ERR_NOT_FOUND when there is none)");
    return rc;
}

static int c_st_item_list(void *inst, char **items_json, struct dld_error *err)
{
    *items_json = NULL;
    ST_CALL("item_list", NULL, PL->vt.state.item_list(CI->inst, items_json, err));
    if (rc == DLD_OK && *items_json == NULL)
        return c_broke(PL, "item_list", NULL, err, "it returned DLD_OK without a text (\"[]\" when there are no items)");
    return rc;
}

static int c_st_item_delete(void *inst, const char *name, struct dld_error *err)
{
    ST_CALL("item_delete", name, PL->vt.state.item_delete(CI->inst, name, err));
    return rc;
}

static int c_st_lease_acquire(void *inst, const char *table, const char *owner, int64_t ttl_ms, int64_t *token,
                              struct dld_error *err)
{
    ST_CALL("lease_acquire", table, PL->vt.state.lease_acquire(CI->inst, table, owner, ttl_ms, token, err));
    return rc;
}

static int c_st_lease_break(void *inst, const char *table, int (*dead)(void *ctx, const char *owner), void *ctx,
                            struct dld_error *err)
{
    ST_CALL("lease_break", table, PL->vt.state.lease_break(CI->inst, table, dead, ctx, err));
    return rc;
}

static int c_st_lease_renew(void *inst, const char *table, int64_t token, int64_t ttl_ms, struct dld_error *err)
{
    ST_CALL("lease_renew", table, PL->vt.state.lease_renew(CI->inst, table, token, ttl_ms, err));
    return rc;
}

static int c_st_lease_release(void *inst, const char *table, int64_t token, struct dld_error *err)
{
    ST_CALL("lease_release", table, PL->vt.state.lease_release(CI->inst, table, token, err));
    return rc;
}

static int c_st_wm_get(void *inst, const char *table, struct dld_watermark *out, struct dld_error *err)
{
    ST_CALL("watermark_get", table, PL->vt.state.watermark_get(CI->inst, table, out, err));
    return rc;
}

static int c_st_wm_set(void *inst, const char *table, const char *value, int64_t token, struct dld_error *err)
{
    ST_CALL("watermark_set", table, PL->vt.state.watermark_set(CI->inst, table, value, token, err));
    return rc;
}

static int c_st_run_record(void *inst, const struct dld_run *run, int64_t token, struct dld_error *err)
{
    ST_CALL("run_record", run ? run->table : NULL, PL->vt.state.run_record(CI->inst, run, token, err));
    return rc;
}

static int c_st_run_last(void *inst, const char *table, struct dld_run *out, struct dld_error *err)
{
    ST_CALL("run_last", table, PL->vt.state.run_last(CI->inst, table, out, err));
    if (rc != DLD_OK)
        return rc;
    const char *why = NULL;
    char buf[300];
    if (out->table && table && strcmp(out->table, table)) {
        snprintf(buf, sizeof buf, "it returned a run of table '%s'", out->table);
        why = buf;
    } else if (out->load_id <= 0) {
        snprintf(buf, sizeof buf, "it returned load id %lld (load ids start at 1)", (long long)out->load_id);
        why = buf;
    } else if (out->status < DLD_RUN_PLANNED || out->status > DLD_RUN_NOOP) {
        snprintf(buf, sizeof buf, "it returned status %u, which is not a dld_run_status", out->status);
        why = buf;
    }
    if (why == NULL)
        return DLD_OK;
    c_broke(PL, "run_last", table, err, "%s", why);
    dld_run_clean_up(dld_core_host(), out);
    return DLD_ERR_FATAL;
}

static int c_st_run_commit(void *inst, const struct dld_run *run, int32_t advance, int64_t token, struct dld_error *err)
{
    ST_CALL("run_commit", run ? run->table : NULL, PL->vt.state.run_commit(CI->inst, run, advance, token, err));
    return rc;
}

static int c_st_history(void *inst, const char *table, int32_t limit, char **json, struct dld_error *err)
{
    *json = NULL;
    ST_CALL("history", table, PL->vt.state.history(CI->inst, table, limit, json, err));
    if (rc == DLD_OK && *json == NULL)
        return c_broke(PL, "history", table, err, "it returned DLD_OK without a text (\"[]\" when there are no runs)");
    return rc;
}

/* the iterators' callback, checked on the way to the host's */
struct c_each {
    int (*each)(void *ctx, const struct dld_run *run);
    void *ctx;
    const char *table;
    bool unfinished;
    char bad[300];
};
#define C_EACH_BROKE (-1000)

static int c_each(void *ctx, const struct dld_run *run)
{
    struct c_each *e = ctx;
    if (run == NULL || run->struct_size < offsetof(struct dld_run, info_json)) {
        snprintf(e->bad, sizeof e->bad, "it handed over a run with struct_size %u, smaller than ABI 1.0's",
                 run ? run->struct_size : 0);
        return C_EACH_BROKE;
    }
    if (e->table && run->table && strcmp(run->table, e->table)) {
        snprintf(e->bad, sizeof e->bad, "it handed over a run of table '%s'", run->table);
        return C_EACH_BROKE;
    }
    if (e->unfinished && run->status != DLD_RUN_PLANNED && run->status != DLD_RUN_STAGED &&
        run->status != DLD_RUN_PUBLISHED) {
        snprintf(e->bad, sizeof e->bad, "it handed over load %lld with final status %u", (long long)run->load_id,
                 run->status);
        return C_EACH_BROKE;
    }
    struct dld_call_record host_side = dld_contract_enter(NULL, NULL, NULL, NULL, NULL); /* the host's code */
    int rc = e->each(e->ctx, run);
    dld_contract_leave(host_side);
    return rc;
}

static int c_st_unfinished(void *inst, const char *table, int (*each)(void *, const struct dld_run *), void *ctx,
                           struct dld_error *err)
{
    struct c_each e = {.each = each, .ctx = ctx, .table = table, .unfinished = true};
    ST_CALL("runs_unfinished", table, PL->vt.state.runs_unfinished(CI->inst, table, c_each, &e, err));
    if (e.bad[0])
        return c_broke(PL, "runs_unfinished", table, err, "%s", e.bad);
    return rc;
}

static int c_st_history_runs(void *inst, const char *table, int32_t limit, int (*each)(void *, const struct dld_run *),
                             void *ctx, struct dld_error *err)
{
    struct c_each e = {.each = each, .ctx = ctx, .table = table};
    ST_CALL("runs_history", table, PL->vt.state.runs_history(CI->inst, table, limit, c_each, &e, err));
    if (e.bad[0])
        return c_broke(PL, "runs_history", table, err, "%s", e.bad);
    return rc;
}

static int c_st_setup(void *inst, int32_t create, char **report, struct dld_error *err)
{
    ST_CALL("setup", NULL, PL->vt.state.setup(CI->inst, create, report, err));
    return rc;
}

/* ---- scheduler ------------------------------------------------------------------------ */
static int c_sch_next(void *inst, int64_t after_ms, int64_t *next_ms, struct dld_error *err)
{
    int rc;
    {
        ENTER(PL, "next_fire", NULL);
        rc = PL->vt.scheduler.next_fire(CI->inst, after_ms, next_ms, err);
        LEAVE();
    }
    rc = c_code(PL, "next_fire", NULL, rc, true, err);
    if (rc == DLD_OK && *next_ms <= after_ms)
        return c_broke(PL, "next_fire", NULL, err,
                       "asked for the first fire time after %lld ms, it returned %lld ms, which is not after it "
                       "(scheduler.h: strictly after; DLD_DONE when it never fires again)",
                       (long long)after_ms, (long long)*next_ms);
    return rc;
}

static int c_sch_deploy(void *inst, const char *command_json, char **result_json, struct dld_error *err)
{
    ST_CALL("deploy", NULL, PL->vt.scheduler.deploy(CI->inst, command_json, result_json, err));
    return rc;
}

static int c_sch_describe(void *inst, char **text, struct dld_error *err)
{
    ST_CALL("describe", NULL, PL->vt.scheduler.describe(CI->inst, text, err));
    return rc;
}

static int c_sch_show(void *inst, char **result_json, struct dld_error *err)
{
    ST_CALL("show", NULL, PL->vt.scheduler.show(CI->inst, result_json, err));
    return rc;
}

static int c_sch_remove(void *inst, char **result_json, struct dld_error *err)
{
    ST_CALL("remove", NULL, PL->vt.scheduler.remove(CI->inst, result_json, err));
    return rc;
}
#undef CI
#undef PL

/* ---- wrapping --------------------------------------------------------------------------- */
static c_open_fn c_open_of(const struct dld_loaded *p)
{
    switch (p->kind) {
    case DLD_KIND_SOURCE: return p->vt.source.open;
    case DLD_KIND_TARGET: return p->vt.target.open;
    case DLD_KIND_STATE: return p->vt.state.open;
    default: return p->vt.scheduler.open;
    }
}

static int c_slot_of(const struct dld_loaded *p)
{
    c_open_fn open = c_open_of(p);
    for (int i = 0; i < C_SLOTS; i++)
        if (open == s_tramps[i] && s_slots[i].used)
            return i;
    return -1;
}

#define W(member, fn) \
    if (v->member)    \
        v->member = fn
int dld_contract_wrap(struct dld_loaded *p)
{
    if (p == NULL || p->kind < DLD_KIND_SOURCE || p->kind > DLD_KIND_SCHEDULER || c_open_of(p) == NULL)
        return DLD_ERR_FATAL;
    dld_contract_install_crash_handler();
    pthread_mutex_lock(&s_slots_lock);
    int slot = c_slot_of(p);
    if (slot >= 0) {
        pthread_mutex_unlock(&s_slots_lock);
        return DLD_OK;
    }
    for (int i = 0; i < C_SLOTS && slot < 0; i++)
        if (!s_slots[i].used)
            slot = i;
    if (slot < 0) {
        pthread_mutex_unlock(&s_slots_lock);
        dld_core_logf(DLD_LOG_WARN, "contract", "more than %d plugins loaded at once: %s runs without the host's checks",
                      C_SLOTS, p->path ? p->path : p->desc.name);
        return DLD_ERR_FATAL;
    }
    struct c_plugin *pl = &s_slots[slot];
    memset(pl, 0, sizeof *pl);
    pl->used = true;
    pl->kind = p->kind;
    pl->kind_name = dld_kind_name(p->kind);
    snprintf(pl->name, sizeof pl->name, "%s", p->desc.name ? p->desc.name : "?");
    pl->path = strdup(p->path ? p->path : "(built in)");
    memcpy(&pl->vt, &p->vt, sizeof pl->vt);
    pthread_mutex_unlock(&s_slots_lock);
    switch (p->kind) {
    case DLD_KIND_SOURCE: {
        struct dld_source_vtable *v = &p->vt.source;
        v->open = s_tramps[slot];
        W(close, c_close);
        W(extract_begin, c_src_begin);
        W(extract_next, c_src_next);
        W(extract_end, c_src_end);
        break;
    }
    case DLD_KIND_TARGET: {
        struct dld_target_vtable *v = &p->vt.target;
        v->open = s_tramps[slot];
        W(close, c_close);
        W(load_begin, c_tgt_begin);
        W(load_write, c_tgt_write);
        W(load_finish, c_tgt_finish);
        W(load_publish, c_tgt_publish);
        W(load_free, c_tgt_free);
        W(load_discard, c_tgt_discard);
        W(load_is_published, c_tgt_is_published);
        W(manifest_list, c_tgt_manifests);
        W(lake_expire, c_tgt_expire);
        break;
    }
    case DLD_KIND_STATE: {
        struct dld_state_vtable *v = &p->vt.state;
        v->open = s_tramps[slot];
        W(close, c_close);
        W(item_put, c_st_item_put);
        W(item_get, c_st_item_get);
        W(item_list, c_st_item_list);
        W(item_delete, c_st_item_delete);
        W(lease_acquire, c_st_lease_acquire);
        W(lease_renew, c_st_lease_renew);
        W(lease_release, c_st_lease_release);
        W(watermark_get, c_st_wm_get);
        W(watermark_set, c_st_wm_set);
        W(run_record, c_st_run_record);
        W(run_last, c_st_run_last);
        W(run_commit, c_st_run_commit);
        W(history, c_st_history);
        W(runs_unfinished, c_st_unfinished);
        W(runs_history, c_st_history_runs);
        W(setup, c_st_setup);
        W(lease_break, c_st_lease_break);
        break;
    }
    default: {
        struct dld_scheduler_vtable *v = &p->vt.scheduler;
        v->open = s_tramps[slot];
        W(close, c_close);
        W(next_fire, c_sch_next);
        W(deploy, c_sch_deploy);
        W(describe, c_sch_describe);
        W(show, c_sch_show);
        W(remove, c_sch_remove);
        break;
    }
    }
    return DLD_OK;
}
#undef W

void dld_contract_unwrap(struct dld_loaded *p)
{
    if (p == NULL || p->kind < DLD_KIND_SOURCE || p->kind > DLD_KIND_SCHEDULER)
        return;
    pthread_mutex_lock(&s_slots_lock);
    int slot = c_slot_of(p);
    if (slot >= 0) {
        memcpy(&p->vt, &s_slots[slot].vt, sizeof p->vt);
        free(s_slots[slot].path);
        memset(&s_slots[slot], 0, sizeof s_slots[slot]);
    }
    pthread_mutex_unlock(&s_slots_lock);
}

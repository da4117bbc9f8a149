/*
 * STAND-IN client library for the Oracle source plugin's tests. See
 * standin.h: this is NOT Oracle's client and reaches no database. It
 * implements the OCI entry points the plugin calls, with the argument
 * conventions of the Oracle Call Interface Programmer's Guide, returning
 * scripted rows and injected ORA- errors, and logs every call so the tests
 * can check the sequence. What it cannot show: that real Oracle behaves the
 * same. docs/oracle.md says so and gives the steps to check against one.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "standin.h"

#define SI_EXPORT __attribute__((visibility("default")))

/* OCI values used here (the plugin's own copies are in ora_oci.h) */
enum { SI_SUCCESS = 0, SI_SUCCESS_WITH_INFO = 1, SI_NEED_DATA = 99, SI_NO_DATA = 100, SI_ERROR = -1,
       SI_INVALID_HANDLE = -2 };
enum { SI_HTYPE_ENV = 1, SI_HTYPE_ERROR = 2, SI_HTYPE_SVCCTX = 3, SI_HTYPE_STMT = 4, SI_HTYPE_SERVER = 8,
       SI_HTYPE_SESSION = 9, SI_DTYPE_LOB = 50, SI_DTYPE_PARAM = 53, SI_DTYPE_TIMESTAMP = 68,
       SI_DTYPE_TIMESTAMP_TZ = 69, SI_DTYPE_TIMESTAMP_LTZ = 70 };
enum { SI_SQLT_CHR = 1, SI_SQLT_NUM = 2, SI_SQLT_VNU = 6, SI_SQLT_DAT = 12, SI_SQLT_BFLOAT = 21,
       SI_SQLT_BDOUBLE = 22, SI_SQLT_BIN = 23, SI_SQLT_AFC = 96, SI_SQLT_IBFLOAT = 100, SI_SQLT_IBDOUBLE = 101,
       SI_SQLT_RDD = 104, SI_SQLT_CLOB = 112, SI_SQLT_BLOB = 113, SI_SQLT_TIMESTAMP = 187,
       SI_SQLT_TIMESTAMP_TZ = 188, SI_SQLT_INTERVAL_YM = 189, SI_SQLT_INTERVAL_DS = 190,
       SI_SQLT_TIMESTAMP_LTZ = 232 };

#define SI_MAGIC 0x5374616eu /* "Stan" */

struct si_def {
    void *valuep;
    int64_t width;
    uint16_t dty;
    int16_t *ind;
    uint32_t *rlen;
    uint16_t *rcode;
};

enum { K_NONE, K_SCN, K_HIGH, K_DESCRIBE, K_EXTRACT, K_DEPS };

struct si_stmt {
    char *sql;
    int kind;
    char binds[8][256];
    int nbinds;
    struct si_def defs[64];
    int ndefs;
    int pos;
    uint32_t fetched;
};

struct si_h {
    uint32_t magic, type;
    int32_t code;             /* error handle */
    char msg[300];
    char user[128], pass[128]; /* session */
    struct si_stmt *st;       /* statement */
    int col;                  /* param descriptor */
    uint8_t ts[13];           /* datetime descriptor */
    const uint8_t *lob;       /* LOB locator */
    size_t loblen, lobpos;
};

static struct {
    const struct standin_col *cols;
    int ncols;
    const struct standin_cell *cells;
    int nrows;
    char scn[64];
    char high[128];
    int high_null;
    char deps[32];  /* ALL_TABLES.DEPENDENCIES of the table; "" = no such row */
    char password[128];
    struct { char call[40]; int nth, code, count; } fails[8];
    int nfails;
    struct { char call[40]; int count; } counts[64];
    int ncounts;
    char *log;
    size_t loglen, logcap;
    int live;
} g;

static void s_log(const char *fmt, ...)
{
    char line[1200];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    line[n] = '\0';
    if (g.loglen + (size_t)n + 1 > g.logcap) {
        size_t cap = g.logcap ? g.logcap * 2 : 4096;
        while (cap < g.loglen + (size_t)n + 1)
            cap *= 2;
        char *p = realloc(g.log, cap);
        if (p == NULL)
            return;
        g.log = p;
        g.logcap = cap;
    }
    memcpy(g.log + g.loglen, line, (size_t)n + 1);
    g.loglen += (size_t)n;
}

static const char *s_text_of(int code)
{
    switch (code) {
    case 942: return "table or view does not exist";
    case 932: return "inconsistent datatypes";
    case 1008: return "not all variables bound";
    case 1017: return "invalid username/password; logon denied";
    case 3113: return "end-of-file on communication channel";
    case 1013: return "user requested cancel of current operation";
    case 12541: return "TNS:no listener";
    default: return "error injected by the test";
    }
}

static int s_error(void *errhp, int code)
{
    struct si_h *e = errhp;
    if (e != NULL && e->magic == SI_MAGIC) {
        e->code = code;
        snprintf(e->msg, sizeof(e->msg), "ORA-%05d: %s (stand-in client library)\n", code, s_text_of(code));
    }
    s_log("  -> ORA-%05d", code);
    return SI_ERROR;
}

/* set by OCIBreak (from another thread: the plugin's interrupt watcher) */
static int s_break;

SI_EXPORT int OCIBreak(void *hndlp, void *errhp)
{
    __atomic_store_n(&s_break, 1, __ATOMIC_SEQ_CST);
    return SI_SUCCESS;
}

SI_EXPORT int OCIReset(void *hndlp, void *errhp)
{
    s_log("OCIReset");
    return SI_SUCCESS;
}

/* counts the call; true when the test asked it to fail now */
static int s_injected(const char *call, void *errhp, int *status)
{
    int count = 0;
    int i;
    for (i = 0; i < g.ncounts; i++)
        if (strcmp(g.counts[i].call, call) == 0)
            break;
    if (i == g.ncounts && g.ncounts < 64) {
        snprintf(g.counts[i].call, sizeof(g.counts[i].call), "%s", call);
        g.counts[i].count = 0;
        g.ncounts++;
    }
    if (i < 64)
        count = ++g.counts[i].count;
    for (int k = 0; k < g.nfails; k++) {
        if (strcmp(g.fails[k].call, call) == 0 && g.fails[k].nth == count && g.fails[k].code < 0) {
            /* a call that hangs until OCIBreak (at most 10 s), then fails */
            s_log("  blocks until OCIBreak");
            __atomic_store_n(&s_break, 0, __ATOMIC_SEQ_CST);
            for (int w = 0; w < 1000 && !__atomic_load_n(&s_break, __ATOMIC_SEQ_CST); w++)
                usleep(10000);
            if (__atomic_load_n(&s_break, __ATOMIC_SEQ_CST))
                s_log("  broken by OCIBreak");
            *status = s_error(errhp, -g.fails[k].code);
            return 1;
        }
        if (strcmp(g.fails[k].call, call) == 0 && g.fails[k].nth == count) {
            *status = s_error(errhp, g.fails[k].code);
            return 1;
        }
    }
    return 0;
}

static struct si_h *s_new(uint32_t type)
{
    struct si_h *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    h->magic = SI_MAGIC;
    h->type = type;
    if (type == SI_HTYPE_STMT) {
        h->st = calloc(1, sizeof(*h->st));
        if (h->st == NULL) {
            free(h);
            return NULL;
        }
    }
    g.live++;
    return h;
}

static void s_free(struct si_h *h)
{
    if (h == NULL || h->magic != SI_MAGIC)
        return;
    h->magic = 0;
    if (h->st != NULL)
        free(h->st->sql);
    free(h->st);
    free(h);
    g.live--;
}

/* ---- control interface ------------------------------------------------------ */

SI_EXPORT void standin_reset(void)
{
    free(g.log);
    memset(&g, 0, sizeof(g));
    snprintf(g.scn, sizeof(g.scn), "4711");
    snprintf(g.deps, sizeof(g.deps), "DISABLED");
    __atomic_store_n(&s_break, 0, __ATOMIC_SEQ_CST);
}

SI_EXPORT void standin_dependencies(const char *value)
{
    snprintf(g.deps, sizeof(g.deps), "%s", value ? value : "");
}

SI_EXPORT void standin_table(const struct standin_col *cols, int ncols, const struct standin_cell *cells, int nrows)
{
    g.cols = cols;
    g.ncols = ncols;
    g.cells = cells;
    g.nrows = nrows;
}

SI_EXPORT void standin_values(const char *scn, const char *high_mark)
{
    snprintf(g.scn, sizeof(g.scn), "%s", scn ? scn : "");
    g.high_null = high_mark == NULL;
    snprintf(g.high, sizeof(g.high), "%s", high_mark ? high_mark : "");
}

SI_EXPORT void standin_password(const char *password)
{
    snprintf(g.password, sizeof(g.password), "%s", password);
}

SI_EXPORT void standin_fail(const char *call, int nth, int code)
{
    if (g.nfails == 8)
        return;
    snprintf(g.fails[g.nfails].call, sizeof(g.fails[0].call), "%s", call);
    g.fails[g.nfails].nth = nth;
    g.fails[g.nfails].code = code;
    g.nfails++;
}

SI_EXPORT const char *standin_log(void)
{
    return g.log ? g.log : "";
}

SI_EXPORT int standin_live(void)
{
    return g.live;
}

/* ---- environment, handles, attributes ------------------------------------------ */

SI_EXPORT void OCIClientVersion(int *major, int *minor, int *update, int *patch, int *port)
{
    *major = *minor = *update = *patch = *port = 0;
}

SI_EXPORT int OCIEnvNlsCreate(void **envp, uint32_t mode, void *ctxp, void *m, void *r, void *f, size_t x, void **u,
                              uint16_t charset, uint16_t ncharset)
{
    s_log("OCIEnvNlsCreate mode=%u charset=%u ncharset=%u", mode, charset, ncharset);
    *envp = s_new(SI_HTYPE_ENV);
    return *envp ? SI_SUCCESS : SI_ERROR;
}

SI_EXPORT int OCIHandleAlloc(const void *parent, void **hp, uint32_t type, size_t x, void **u)
{
    *hp = s_new(type);
    return *hp ? SI_SUCCESS : SI_ERROR;
}

SI_EXPORT int OCIHandleFree(void *hp, uint32_t type)
{
    struct si_h *h = hp;
    if (h == NULL || h->magic != SI_MAGIC || h->type != type)
        return SI_INVALID_HANDLE;
    s_free(h);
    return SI_SUCCESS;
}

SI_EXPORT int OCIDescriptorAlloc(const void *parent, void **dp, uint32_t type, size_t x, void **u)
{
    *dp = s_new(type);
    return *dp ? SI_SUCCESS : SI_ERROR;
}

SI_EXPORT int OCIDescriptorFree(void *dp, uint32_t type)
{
    return OCIHandleFree(dp, type);
}

SI_EXPORT int OCIAttrSet(void *target, uint32_t type, void *attr, uint32_t size, uint32_t what, void *errhp)
{
    struct si_h *h = target;
    if (h == NULL || h->magic != SI_MAGIC || h->type != type)
        return SI_INVALID_HANDLE;
    if (type == SI_HTYPE_SESSION && what == 22)
        snprintf(h->user, sizeof(h->user), "%.*s", (int)size, (const char *)attr);
    else if (type == SI_HTYPE_SESSION && what == 23)
        snprintf(h->pass, sizeof(h->pass), "%.*s", (int)size, (const char *)attr);
    else if (type == SI_HTYPE_SVCCTX && what == 531)
        s_log("OCIAttrSet CALL_TIMEOUT=%u", *(uint32_t *)attr);
    else if (type == SI_HTYPE_STMT && what == 11)
        s_log("OCIAttrSet PREFETCH_ROWS=%u", *(uint32_t *)attr);
    return SI_SUCCESS;
}

SI_EXPORT int OCIAttrGet(const void *target, uint32_t type, void *attr, uint32_t *size, uint32_t what, void *errhp)
{
    const struct si_h *h = target;
    if (h == NULL || h->magic != SI_MAGIC || h->type != type)
        return SI_INVALID_HANDLE;
    if (type == SI_HTYPE_STMT && what == 18) {
        *(uint32_t *)attr = (uint32_t)g.ncols;
        return SI_SUCCESS;
    }
    if (type == SI_HTYPE_STMT && what == 197) {
        *(uint32_t *)attr = h->st->fetched;
        return SI_SUCCESS;
    }
    if (type != SI_DTYPE_PARAM || h->col < 0 || h->col >= g.ncols)
        return s_error(errhp, 932);
    const struct standin_col *c = &g.cols[h->col];
    switch (what) {
    case 1: *(uint16_t *)attr = c->size; break;
    case 2: *(uint16_t *)attr = c->dtype; break;
    case 4:
        *(const char **)attr = c->name;
        *size = (uint32_t)strlen(c->name);
        break;
    case 5: *(int16_t *)attr = c->precision; break;
    case 6: *(int8_t *)attr = c->scale; break;
    case 7: *(uint8_t *)attr = c->nullable; break;
    case 32: *(uint8_t *)attr = c->csform ? c->csform : 1; break;
    case 286: *(uint16_t *)attr = c->char_size; break;
    default: return s_error(errhp, 932);
    }
    return SI_SUCCESS;
}

SI_EXPORT int OCIParamGet(const void *hp, uint32_t type, void *errhp, void **param, uint32_t pos)
{
    if (pos < 1 || (int)pos > g.ncols)
        return s_error(errhp, 932);
    struct si_h *p = s_new(SI_DTYPE_PARAM);
    if (p == NULL)
        return SI_ERROR;
    p->col = (int)pos - 1;
    *param = p;
    return SI_SUCCESS;
}

SI_EXPORT int OCIErrorGet(void *hp, uint32_t rec, char *sqlstate, int32_t *code, char *buf, uint32_t bufsiz,
                          uint32_t type)
{
    const struct si_h *e = hp;
    if (e == NULL || e->magic != SI_MAGIC || rec != 1 || e->code == 0)
        return SI_NO_DATA;
    *code = e->code;
    snprintf(buf, bufsiz, "%s", e->msg);
    return SI_SUCCESS;
}

/* ---- connection --------------------------------------------------------------- */

SI_EXPORT int OCIServerAttach(void *srv, void *errhp, const char *dblink, int32_t len, uint32_t mode)
{
    s_log("OCIServerAttach %.*s", (int)len, dblink);
    int st;
    if (s_injected("OCIServerAttach", errhp, &st))
        return st;
    return SI_SUCCESS;
}

SI_EXPORT int OCIServerDetach(void *srv, void *errhp, uint32_t mode)
{
    s_log("OCIServerDetach");
    return SI_SUCCESS;
}

SI_EXPORT int OCISessionBegin(void *svc, void *errhp, void *sess, uint32_t cred, uint32_t mode)
{
    const struct si_h *s = sess;
    s_log("OCISessionBegin user=%s cred=%u", s->user, cred);
    int st;
    if (s_injected("OCISessionBegin", errhp, &st))
        return st;
    if (cred == 1 && strcmp(s->pass, g.password) != 0)
        return s_error(errhp, 1017);
    return SI_SUCCESS;
}

SI_EXPORT int OCISessionEnd(void *svc, void *errhp, void *sess, uint32_t mode)
{
    s_log("OCISessionEnd");
    return SI_SUCCESS;
}

SI_EXPORT int OCITransRollback(void *svc, void *errhp, uint32_t flags)
{
    s_log("OCITransRollback");
    return SI_SUCCESS;
}

/* ---- statements --------------------------------------------------------------- */

SI_EXPORT int OCIStmtPrepare2(void *svc, void **stmtp, void *errhp, const char *sql, uint32_t len, const char *key,
                              uint32_t keylen, uint32_t lang, uint32_t mode)
{
    s_log("OCIStmtPrepare2 %.*s", (int)len, sql);
    int st;
    if (s_injected("OCIStmtPrepare2", errhp, &st))
        return st;
    struct si_h *h = s_new(SI_HTYPE_STMT);
    if (h == NULL)
        return SI_ERROR;
    h->st->sql = strndup(sql, len);
    const char *s = h->st->sql;
    h->st->kind = strncmp(s, "ALTER SESSION", 13) == 0 || strncmp(s, "SET TRANSACTION", 15) == 0 ? K_NONE
                  : strstr(s, "ALL_TABLES") != NULL                                                ? K_DEPS
                  : strstr(s, "V$DATABASE") != NULL                                                ? K_SCN
                  : strstr(s, "MAX(") != NULL                                                      ? K_HIGH
                  : strstr(s, "WHERE 1 = 0") != NULL                                               ? K_DESCRIBE
                                                                                                   : K_EXTRACT;
    *stmtp = h;
    return SI_SUCCESS;
}

SI_EXPORT int OCIStmtRelease(void *stmtp, void *errhp, const char *key, uint32_t keylen, uint32_t mode)
{
    struct si_h *h = stmtp;
    if (h == NULL || h->magic != SI_MAGIC || h->type != SI_HTYPE_STMT)
        return SI_INVALID_HANDLE;
    s_free(h);
    return SI_SUCCESS;
}

SI_EXPORT int OCIBindByPos2(void *stmtp, void **bindp, void *errhp, uint32_t pos, void *valuep, int64_t size,
                            uint16_t dty, void *indp, uint32_t *alenp, uint16_t *rcodep, uint32_t maxarr,
                            uint32_t *curelep, uint32_t mode)
{
    struct si_h *h = stmtp;
    if (pos < 1 || pos > 8 || dty != SI_SQLT_CHR)
        return s_error(errhp, 932);
    snprintf(h->st->binds[pos - 1], sizeof(h->st->binds[0]), "%.*s", (int)size, (const char *)valuep);
    if ((int)pos > h->st->nbinds)
        h->st->nbinds = (int)pos;
    s_log("OCIBindByPos2 :%u='%s'", pos, h->st->binds[pos - 1]);
    return SI_SUCCESS;
}

SI_EXPORT int OCIDefineByPos2(void *stmtp, void **defnp, void *errhp, uint32_t pos, void *valuep, int64_t width,
                              uint16_t dty, void *indp, uint32_t *rlenp, uint16_t *rcodep, uint32_t mode)
{
    struct si_h *h = stmtp;
    if (pos < 1 || pos > 64)
        return s_error(errhp, 932);
    h->st->defs[pos - 1] = (struct si_def){valuep, width, dty, indp, rlenp, rcodep};
    if ((int)pos > h->st->ndefs)
        h->st->ndefs = (int)pos;
    s_log("OCIDefineByPos2 %u dty=%u width=%lld", pos, dty, (long long)width);
    return SI_SUCCESS;
}

/* the highest :n placeholder in the text */
static int s_placeholders(const char *sql)
{
    int max = 0;
    for (const char *p = sql; (p = strchr(p, ':')) != NULL; p++) {
        int n = atoi(p + 1);
        if (n > max)
            max = n;
    }
    return max;
}

static void s_put_text(const struct si_def *d, uint32_t r, const char *s, size_t n, int null)
{
    if (d->ind)
        d->ind[r] = null ? -1 : 0;
    if (null)
        return;
    size_t w = (size_t)d->width;
    memcpy((char *)d->valuep + r * w, s, n < w ? n : w);
    if (d->rlen)
        d->rlen[r] = (uint32_t)(n < w ? n : w);
    if (d->rcode)
        d->rcode[r] = n <= w ? 0 : 1406;
}

SI_EXPORT int OCIStmtExecute(void *svc, void *stmtp, void *errhp, uint32_t iters, uint32_t rowoff, const void *si,
                             void *so, uint32_t mode)
{
    struct si_h *h = stmtp;
    struct si_stmt *st = h->st;
    s_log("OCIStmtExecute iters=%u mode=%u", iters, mode);
    int status;
    if (s_injected("OCIStmtExecute", errhp, &status))
        return status;
    if (s_placeholders(st->sql) != st->nbinds)
        return s_error(errhp, 1008);
    if (mode & 0x10u)
        return SI_SUCCESS; /* describe only */
    st->pos = 0;
    st->fetched = 0;
    if (st->kind == K_DEPS && iters > 0 && st->ndefs > 0) {
        if (st->defs[0].dty != SI_SQLT_CHR)
            return s_error(errhp, 932);
        if (!g.deps[0])
            return SI_NO_DATA;
        s_put_text(&st->defs[0], 0, g.deps, strlen(g.deps), 0);
    }
    if ((st->kind == K_SCN || st->kind == K_HIGH) && iters > 0 && st->ndefs > 0) {
        if (st->defs[0].dty != SI_SQLT_CHR)
            return s_error(errhp, 932);
        const char *v = st->kind == K_SCN ? g.scn : g.high;
        s_put_text(&st->defs[0], 0, v, strlen(v), st->kind == K_HIGH && g.high_null);
    }
    return SI_SUCCESS;
}

/* which define type the plugin must use for a described type */
static int s_define_ok(uint16_t dtype, uint16_t dty)
{
    switch (dtype) {
    case SI_SQLT_NUM: return dty == SI_SQLT_VNU;
    case SI_SQLT_CHR: case SI_SQLT_AFC: case SI_SQLT_RDD: case SI_SQLT_INTERVAL_YM: case SI_SQLT_INTERVAL_DS:
        return dty == SI_SQLT_CHR;
    case SI_SQLT_IBFLOAT: case SI_SQLT_BFLOAT: return dty == SI_SQLT_BFLOAT;
    case SI_SQLT_IBDOUBLE: case SI_SQLT_BDOUBLE: return dty == SI_SQLT_BDOUBLE;
    default: return dty == dtype;
    }
}

SI_EXPORT int OCIStmtFetch2(void *stmtp, void *errhp, uint32_t nrows, uint16_t orient, int32_t off, uint32_t mode)
{
    struct si_h *h = stmtp;
    struct si_stmt *st = h->st;
    s_log("OCIStmtFetch2 nrows=%u", nrows);
    int status;
    st->fetched = 0;
    if (s_injected("OCIStmtFetch2", errhp, &status))
        return status;
    if (st->kind != K_EXTRACT)
        return SI_NO_DATA;
    if (st->ndefs != g.ncols)
        return s_error(errhp, 932);
    for (int c = 0; c < g.ncols; c++)
        if (!s_define_ok(g.cols[c].dtype, st->defs[c].dty))
            return s_error(errhp, 932);
    int info = 0;
    uint32_t r = 0;
    for (; r < nrows && st->pos < g.nrows; r++, st->pos++) {
        for (int c = 0; c < g.ncols; c++) {
            const struct standin_cell *cell = &g.cells[st->pos * g.ncols + c];
            const struct si_def *d = &st->defs[c];
            int null = cell->bytes == NULL;
            if (d->ind)
                d->ind[r] = null ? -1 : 0;
            if (null)
                continue;
            switch (d->dty) {
            case SI_SQLT_VNU: {
                uint8_t *b = (uint8_t *)d->valuep + r * (size_t)d->width;
                b[0] = (uint8_t)cell->len;
                memcpy(b + 1, cell->bytes, cell->len);
                break;
            }
            case SI_SQLT_CHR:
            case SI_SQLT_BIN:
                s_put_text(d, r, (const char *)cell->bytes, cell->len, 0);
                if (cell->len > (size_t)d->width)
                    info = 1;
                break;
            case SI_SQLT_DAT: case SI_SQLT_BFLOAT: case SI_SQLT_BDOUBLE:
                memcpy((uint8_t *)d->valuep + r * (size_t)d->width, cell->bytes, cell->len);
                break;
            case SI_SQLT_TIMESTAMP: case SI_SQLT_TIMESTAMP_TZ: case SI_SQLT_TIMESTAMP_LTZ: {
                struct si_h *dt = ((struct si_h **)d->valuep)[r];
                memset(dt->ts, 0, sizeof(dt->ts));
                memcpy(dt->ts, cell->bytes, cell->len > 13 ? 13 : cell->len);
                if (cell->len == 11 || cell->len == 7) {
                    dt->ts[11] = 20; /* no zone: offset 0 */
                    dt->ts[12] = 60;
                }
                break;
            }
            case SI_SQLT_CLOB: case SI_SQLT_BLOB: {
                struct si_h *loc = ((struct si_h **)d->valuep)[r];
                loc->lob = cell->bytes;
                loc->loblen = cell->len;
                loc->lobpos = 0;
                break;
            }
            default:
                return s_error(errhp, 932);
            }
        }
    }
    st->fetched = r;
    if (r < nrows)
        return SI_NO_DATA;
    return info ? SI_SUCCESS_WITH_INFO : SI_SUCCESS;
}

/* ---- LOBs ---------------------------------------------------------------------- */

SI_EXPORT int OCILobGetLength2(void *svc, void *errhp, void *locp, uint64_t *lenp)
{
    const struct si_h *l = locp;
    *lenp = l->loblen;
    return SI_SUCCESS;
}

SI_EXPORT int OCILobRead2(void *svc, void *errhp, void *locp, uint64_t *byte_amtp, uint64_t *char_amtp,
                          uint64_t offset, void *bufp, uint64_t bufl, uint8_t piece, void *ctxp, void *cbfp,
                          uint16_t csid, uint8_t csfrm)
{
    struct si_h *l = locp;
    s_log("OCILobRead2 piece=%u bufl=%llu csid=%u", piece, (unsigned long long)bufl, csid);
    int status;
    if (s_injected("OCILobRead2", errhp, &status))
        return status;
    if (piece == 1)
        l->lobpos = 0;
    size_t left = l->loblen - l->lobpos;
    size_t n = left < bufl ? left : (size_t)bufl;
    memcpy(bufp, l->lob + l->lobpos, n);
    l->lobpos += n;
    *byte_amtp = n;
    if (char_amtp)
        *char_amtp = n;
    return l->lobpos < l->loblen ? SI_NEED_DATA : SI_SUCCESS;
}

/* ---- datetimes: descriptors hold the 13-byte layout (UTC for zoned values) ------- */

static int64_t s_days(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static void s_civil(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* wall-clock parts in the value's own zone */
static int s_local(const struct si_h *dt, int64_t *y, int *mo, int *d, int *h, int *mi, int *s, uint32_t *ns,
                   int *tzmin)
{
    const uint8_t *b = dt->ts;
    if (b[11] & 0x80)
        return -1; /* region ids: not in the stand-in */
    *tzmin = (b[11] - 20) * 60 + (b[12] - 60);
    int64_t year = (b[0] - 100) * 100 + (b[1] - 100);
    int64_t secs = s_days(year, b[2], b[3]) * 86400 + (b[4] - 1) * 3600 + (b[5] - 1) * 60 + (b[6] - 1);
    secs += (int64_t)*tzmin * 60;
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    s_civil(days, y, mo, d);
    *h = (int)(rem / 3600);
    *mi = (int)(rem / 60 % 60);
    *s = (int)(rem % 60);
    *ns = (uint32_t)b[7] << 24 | (uint32_t)b[8] << 16 | (uint32_t)b[9] << 8 | b[10];
    return 0;
}

SI_EXPORT int OCIDateTimeGetDate(void *hndl, void *err, const void *datetime, int16_t *yr, uint8_t *mnth,
                                 uint8_t *dy)
{
    int64_t y;
    int mo, d, h, mi, s, tz;
    uint32_t ns;
    if (s_local(datetime, &y, &mo, &d, &h, &mi, &s, &ns, &tz) != 0)
        return s_error(err, 1882);
    *yr = (int16_t)y;
    *mnth = (uint8_t)mo;
    *dy = (uint8_t)d;
    return SI_SUCCESS;
}

SI_EXPORT int OCIDateTimeGetTime(void *hndl, void *err, void *datetime, uint8_t *hr, uint8_t *mm, uint8_t *ss,
                                 uint32_t *fsec)
{
    int64_t y;
    int mo, d, h, mi, s, tz;
    uint32_t ns;
    if (s_local(datetime, &y, &mo, &d, &h, &mi, &s, &ns, &tz) != 0)
        return s_error(err, 1882);
    *hr = (uint8_t)h;
    *mm = (uint8_t)mi;
    *ss = (uint8_t)s;
    *fsec = ns;
    return SI_SUCCESS;
}

SI_EXPORT int OCIDateTimeGetTimeZoneOffset(void *hndl, void *err, const void *datetime, int8_t *hr, int8_t *mm)
{
    const uint8_t *b = ((const struct si_h *)datetime)->ts;
    if (b[11] & 0x80)
        return s_error(err, 1882);
    *hr = (int8_t)(b[11] - 20);
    *mm = (int8_t)(b[12] - 60);
    return SI_SUCCESS;
}

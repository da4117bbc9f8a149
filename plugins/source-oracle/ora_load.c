/*
 * Loading the Oracle client library at run time. A machine without Oracle's
 * client still builds, lists and describes this plugin; only a load that
 * needs Oracle fails, and it says what to install and where it looked.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ora_oci.h"

const char dld_ora_instant_client_help[] =
    "Install Oracle Instant Client: download the Basic or Basic Light package for Linux from "
    "https://www.oracle.com/database/technologies/instant-client/downloads.html, unzip it (for example to "
    "/opt/oracle/instantclient_23_5), install libaio (Debian: apt-get install libaio1), then set this source's "
    "option oracle_client_lib_dir=/opt/oracle/instantclient_23_5 or export "
    "LD_LIBRARY_PATH=/opt/oracle/instantclient_23_5 (see docs/oracle.md)";

/* libclntsh.so is the name Instant Client's zip has carried as a link since
 * 18c; the versioned names cover installations that lack the link. */
static const char *const s_names[] = {"libclntsh.so",      "libclntsh.so.23.1", "libclntsh.so.21.1",
                                      "libclntsh.so.19.1", "libclntsh.so.18.1", "libclntsh.so.12.1"};
#define S_NNAMES (sizeof(s_names) / sizeof(s_names[0]))

struct s_tries {
    char listed[512];  /* places tried */
    char reasons[512]; /* loader messages other than "no such file" */
};

/* Appends (separator if not first) + text, truncating quietly: written by
 * hand because snprintf into a bounded tail trips -Wformat-truncation. */
static void s_cat(char *dst, size_t cap, const char *a, const char *b)
{
    size_t n = strlen(dst);
    const char *parts[2] = {n ? a : "", b};
    for (int i = 0; i < 2; i++)
        for (const char *p = parts[i]; *p && n + 1 < cap; p++)
            dst[n++] = *p;
    dst[n] = '\0';
}

static void *s_try(const char *file, const char *shown, struct s_tries *t)
{
    void *h = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (h != NULL)
        return h;
    const char *why = dlerror();
    s_cat(t->listed, sizeof(t->listed), ", ", shown);
    if (why != NULL && strstr(why, "No such file") == NULL)
        s_cat(t->reasons, sizeof(t->reasons), "; ", why);
    return NULL;
}

static void *s_sym(void *lib, const char *name, const char **missing)
{
    void *p = dlsym(lib, name);
    if (p == NULL && *missing == NULL)
        *missing = name;
    return p;
}

static int s_resolve(struct dld_ora_oci *o, struct dld_error *err)
{
    const char *missing = NULL;
    void *l = o->lib;
    /* POSIX guarantees a function pointer round-trips through void * from dlsym */
#define S_SYM(field, name) *(void **)(&o->field) = s_sym(l, name, &missing)
    S_SYM(EnvNlsCreate, "OCIEnvNlsCreate");
    S_SYM(HandleAlloc, "OCIHandleAlloc");
    S_SYM(HandleFree, "OCIHandleFree");
    S_SYM(DescriptorAlloc, "OCIDescriptorAlloc");
    S_SYM(DescriptorFree, "OCIDescriptorFree");
    S_SYM(AttrSet, "OCIAttrSet");
    S_SYM(AttrGet, "OCIAttrGet");
    S_SYM(ParamGet, "OCIParamGet");
    S_SYM(ServerAttach, "OCIServerAttach");
    S_SYM(ServerDetach, "OCIServerDetach");
    S_SYM(SessionBegin, "OCISessionBegin");
    S_SYM(SessionEnd, "OCISessionEnd");
    S_SYM(StmtPrepare2, "OCIStmtPrepare2");
    S_SYM(StmtRelease, "OCIStmtRelease");
    S_SYM(StmtExecute, "OCIStmtExecute");
    S_SYM(StmtFetch2, "OCIStmtFetch2");
    S_SYM(BindByPos2, "OCIBindByPos2");
    S_SYM(DefineByPos2, "OCIDefineByPos2");
    S_SYM(ErrorGet, "OCIErrorGet");
    S_SYM(TransRollback, "OCITransRollback");
    S_SYM(LobGetLength2, "OCILobGetLength2");
    S_SYM(LobRead2, "OCILobRead2");
    S_SYM(DateTimeGetDate, "OCIDateTimeGetDate");
    S_SYM(DateTimeGetTime, "OCIDateTimeGetTime");
    S_SYM(DateTimeGetTimeZoneOffset, "OCIDateTimeGetTimeZoneOffset");
    if (missing != NULL)
        return dld_error_set(err, DLD_ERR_CONFIG,
                             "the Oracle client library %s has no %s: it is too old or not an Oracle client "
                             "(Instant Client 12.2 or later is needed). %s",
                             o->path, missing, dld_ora_instant_client_help);
    const char *opt = NULL;
    *(void **)(&o->ClientVersion) = s_sym(l, "OCIClientVersion", &opt);
    *(void **)(&o->Break) = s_sym(l, "OCIBreak", &opt);
    *(void **)(&o->Reset) = s_sym(l, "OCIReset", &opt);
#undef S_SYM
    if (o->ClientVersion != NULL) {
        int upd = 0, patch = 0, port = 0;
        o->ClientVersion(&o->version[0], &o->version[1], &upd, &patch, &port);
    }
    return DLD_OK;
}

int dld_ora_oci_load(const char *lib_dir, struct dld_ora_oci *out, struct dld_error *err)
{
    struct s_tries t;
    char file[1024];
    memset(out, 0, sizeof(*out));
    memset(&t, 0, sizeof(t));
    void *h = NULL;
    if (lib_dir != NULL && *lib_dir != '\0') {
        for (size_t i = 0; i < S_NNAMES && h == NULL; i++) {
            snprintf(file, sizeof(file), "%s/%s", lib_dir, s_names[i]);
            h = s_try(file, s_names[i], &t);
        }
        if (h == NULL)
            return dld_error_set(err, DLD_ERR_CONFIG,
                                 "cannot load the Oracle client library libclntsh.so from oracle_client_lib_dir=%s "
                                 "(looked for %s there%s%s). %s",
                                 lib_dir, t.listed, t.reasons[0] ? "; " : "", t.reasons, dld_ora_instant_client_help);
    } else {
        for (size_t i = 0; i < S_NNAMES && h == NULL; i++) {
            snprintf(file, sizeof(file), "%s", s_names[i]);
            h = s_try(file, file, &t);
        }
        const char *home = getenv("ORACLE_HOME");
        if (h == NULL && home != NULL && *home != '\0') {
            snprintf(file, sizeof(file), "%s/lib/libclntsh.so", home);
            h = s_try(file, file, &t);
        }
        if (h == NULL) {
            const char *ldp = getenv("LD_LIBRARY_PATH");
            return dld_error_set(err, DLD_ERR_CONFIG,
                                 "cannot load the Oracle client library libclntsh.so: searched LD_LIBRARY_PATH=%s, "
                                 "the ld.so cache and ORACLE_HOME/lib (ORACLE_HOME=%s) for %s%s%s. %s",
                                 ldp && *ldp ? ldp : "(unset)", home && *home ? home : "(unset)", t.listed,
                                 t.reasons[0] ? "; " : "", t.reasons, dld_ora_instant_client_help);
        }
    }
    out->lib = h;
    snprintf(out->path, sizeof(out->path), "%s", file);
    int rc = s_resolve(out, err);
    if (rc != DLD_OK)
        dld_ora_oci_unload(out);
    return rc;
}

void dld_ora_oci_unload(struct dld_ora_oci *oci)
{
    /* The library stays mapped: Oracle's client starts threads and registers
     * handlers that must not outlive its code (ODPI-C never unloads it
     * either), so only our reference is dropped from view. */
    memset(oci, 0, sizeof(*oci));
}

/*
 * Connecting to Oracle through OCI: environment, server attach, session,
 * call timeout, and the session settings every statement relies on (UTC
 * session time zone, '.' as the decimal separator for TO_NUMBER binds).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ora_source.h"

int dld_ora_check(struct dld_ora_source *src, int status, const char *what, struct dld_error *err)
{
    if (status == DLD_OCI_SUCCESS || status == DLD_OCI_SUCCESS_WITH_INFO)
        return DLD_OK;
    if (status == DLD_OCI_INVALID_HANDLE || src->errh == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "%s: the Oracle client reported an invalid handle", what);
    char text[768] = "";
    int32_t code = 0;
    src->oci.ErrorGet(src->errh, 1, NULL, &code, text, sizeof(text), DLD_OCI_HTYPE_ERROR);
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
        text[--n] = '\0';
    if (status == DLD_OCI_NO_DATA && code == 0)
        snprintf(text, sizeof(text), "no data");
    int dcode = code ? dld_ora_classify(code) : DLD_ERR_FATAL;
    if (dcode == DLD_ERR_RETRY)
        src->broken = true;
    dld_error_set(err, dcode, "%s: %s", what, text[0] ? text : "unknown Oracle client error");
    char upstream[16];
    snprintf(upstream, sizeof(upstream), "ORA-%05d", code);
    dld_error_upstream(err, 0, code ? upstream : NULL, NULL);
    /* OCI's text may quote the connect string (user/password@host):
     * the configured password and any password-looking text go */
    char **secrets = dld_redact_conninfo_secrets(src->o.connect);
    const char *extra[] = {src->o.password, NULL};
    dld_redact_error(err, extra);
    dld_redact_error(err, (const char *const *)secrets);
    dld_redact_list_free(secrets);
    return dcode;
}

static bool s_is_easy_connect(const char *c)
{
    return strchr(c, '/') != NULL || strchr(c, ':') != NULL;
}

/* The connect string with wallet_location added for Easy Connect Plus. */
static char *s_connect_string(const struct dld_ora_opts *o)
{
    struct dld_ora_buf b;
    dld_ora_buf_init(&b);
    dld_ora_buf_add(&b, o->connect);
    if (o->wallet_dir != NULL && *o->wallet_dir && s_is_easy_connect(o->connect) &&
        strstr(o->connect, "wallet_location=") == NULL)
        dld_ora_buf_printf(&b, "%swallet_location=%s", strchr(o->connect, '?') ? "&" : "?", o->wallet_dir);
    return dld_ora_buf_take(&b);
}

int dld_ora_connect(struct dld_ora_source *src, struct dld_error *err)
{
    const struct dld_ora_oci *oci = &src->oci;
    const struct dld_ora_opts *o = &src->o;
    int rc;
    if (src->broken)
        dld_ora_disconnect(src);
    if (src->in_session)
        return DLD_OK;
    /* TNS_ADMIN is read by the client when the environment is created; a
     * wallet given for a TNS alias is such a directory too. */
    if (o->tns_admin != NULL && *o->tns_admin)
        setenv("TNS_ADMIN", o->tns_admin, 1);
    else if (o->wallet_dir != NULL && *o->wallet_dir && !s_is_easy_connect(o->connect))
        setenv("TNS_ADMIN", o->wallet_dir, 1);
    if (src->env == NULL) {
        int st = oci->EnvNlsCreate(&src->env, DLD_OCI_THREADED, NULL, NULL, NULL, NULL, 0, NULL, DLD_OCI_AL32UTF8,
                                   DLD_OCI_AL32UTF8);
        if (st != DLD_OCI_SUCCESS || src->env == NULL)
            return dld_error_set(err, DLD_ERR_FATAL,
                                 "cannot create an OCI environment with %s (status %d): is the client library "
                                 "complete, and is libaio installed?",
                                 oci->path, st);
        if (oci->HandleAlloc(src->env, &src->errh, DLD_OCI_HTYPE_ERROR, 0, NULL) != DLD_OCI_SUCCESS)
            return dld_error_set(err, DLD_ERR_FATAL, "cannot allocate an OCI error handle");
        /* the watcher's own: an error handle is not shared between threads */
        if (oci->Break != NULL)
            oci->HandleAlloc(src->env, &src->break_errh, DLD_OCI_HTYPE_ERROR, 0, NULL);
    }
    if (oci->HandleAlloc(src->env, &src->srv, DLD_OCI_HTYPE_SERVER, 0, NULL) != DLD_OCI_SUCCESS ||
        oci->HandleAlloc(src->env, &src->svc, DLD_OCI_HTYPE_SVCCTX, 0, NULL) != DLD_OCI_SUCCESS ||
        oci->HandleAlloc(src->env, &src->sess, DLD_OCI_HTYPE_SESSION, 0, NULL) != DLD_OCI_SUCCESS) {
        dld_ora_disconnect(src);
        return dld_error_set(err, DLD_ERR_FATAL, "cannot allocate OCI handles");
    }
    char *cs = s_connect_string(o);
    if (cs == NULL) {
        dld_ora_disconnect(src);
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    }
    rc = dld_ora_check(src,
                       DLD_ORA_CALL(src, oci->ServerAttach(src->srv, src->errh, cs, (int32_t)strlen(cs),
                                                           DLD_OCI_DEFAULT)),
                       "connecting to Oracle", err);
    if (rc != DLD_OK) {
        dld_error_prefix(err, "connect=%s", cs);
        free(cs);
        src->broken = false;
        dld_ora_disconnect(src);
        return rc;
    }
    free(cs);
    src->attached = true;
    rc = dld_ora_check(src, oci->AttrSet(src->svc, DLD_OCI_HTYPE_SVCCTX, src->srv, 0, DLD_OCI_ATTR_SERVER, src->errh),
                       "setting the server on the service context", err);
    uint32_t cred = DLD_OCI_CRED_EXT;
    if (rc == DLD_OK && !o->external_auth) {
        cred = DLD_OCI_CRED_RDBMS;
        const char *u = o->user ? o->user : "", *p = o->password ? o->password : "";
        rc = dld_ora_check(src, oci->AttrSet(src->sess, DLD_OCI_HTYPE_SESSION, (void *)u, (uint32_t)strlen(u),
                                             DLD_OCI_ATTR_USERNAME, src->errh),
                           "setting the user name", err);
        if (rc == DLD_OK)
            rc = dld_ora_check(src, oci->AttrSet(src->sess, DLD_OCI_HTYPE_SESSION, (void *)p, (uint32_t)strlen(p),
                                                 DLD_OCI_ATTR_PASSWORD, src->errh),
                               "setting the password", err);
    }
    if (rc == DLD_OK)
        rc = dld_ora_check(src, DLD_ORA_CALL(src, oci->SessionBegin(src->svc, src->errh, src->sess, cred,
                                                                    DLD_OCI_DEFAULT)),
                           o->external_auth ? "logging in with external authentication"
                                            : "logging in",
                           err);
    if (rc == DLD_OK) {
        rc = dld_ora_check(src, oci->AttrSet(src->svc, DLD_OCI_HTYPE_SVCCTX, src->sess, 0, DLD_OCI_ATTR_SESSION,
                                             src->errh),
                           "setting the session on the service context", err);
    } else if (!o->external_auth) {
        dld_error_prefix(err, "user %s", o->user ? o->user : "");
    }
    if (rc != DLD_OK) {
        src->broken = false;
        dld_ora_disconnect(src);
        return rc;
    }
    src->in_session = true;
    if (o->call_timeout_ms > 0) {
        uint32_t ms = (uint32_t)(o->call_timeout_ms > UINT32_MAX ? UINT32_MAX : o->call_timeout_ms);
        if (oci->AttrSet(src->svc, DLD_OCI_HTYPE_SVCCTX, &ms, 0, DLD_OCI_ATTR_CALL_TIMEOUT, src->errh) !=
            DLD_OCI_SUCCESS)
            dld_log(src->host, DLD_LOG_WARN, DLD_ORA_PLUGIN,
                    "the client library (%d.%d) does not take a call timeout; calls run without one",
                    oci->version[0], oci->version[1]);
    }
    struct dld_ora_stmt alter = {
        .sql = "ALTER SESSION SET TIME_ZONE = 'UTC' NLS_NUMERIC_CHARACTERS = '.,'"};
    rc = dld_ora_exec(src, &alter, NULL, 0, NULL, err);
    if (rc != DLD_OK) {
        dld_ora_disconnect(src);
        return rc;
    }
    return DLD_OK;
}

void dld_ora_disconnect(struct dld_ora_source *src)
{
    const struct dld_ora_oci *oci = &src->oci;
    if (oci->lib == NULL)
        return;
    if (src->in_session)
        oci->SessionEnd(src->svc, src->errh, src->sess, DLD_OCI_DEFAULT);
    if (src->attached)
        oci->ServerDetach(src->srv, src->errh, DLD_OCI_DEFAULT);
    if (src->sess)
        oci->HandleFree(src->sess, DLD_OCI_HTYPE_SESSION);
    if (src->svc)
        oci->HandleFree(src->svc, DLD_OCI_HTYPE_SVCCTX);
    if (src->srv)
        oci->HandleFree(src->srv, DLD_OCI_HTYPE_SERVER);
    src->sess = src->svc = src->srv = NULL;
    src->in_session = src->attached = src->broken = false;
}

int dld_ora_exec(struct dld_ora_source *src, const struct dld_ora_stmt *s, char *out, size_t cap, bool *is_null,
                 struct dld_error *err)
{
    const struct dld_ora_oci *oci = &src->oci;
    void *stmt = NULL;
    int rc = dld_ora_check(src, oci->StmtPrepare2(src->svc, &stmt, src->errh, s->sql, (uint32_t)strlen(s->sql), NULL,
                                                  0, DLD_OCI_NTV_SYNTAX, DLD_OCI_DEFAULT),
                           "preparing a statement", err);
    for (int i = 0; rc == DLD_OK && i < s->nbinds; i++) {
        void *bind = NULL;
        rc = dld_ora_check(src, oci->BindByPos2(stmt, &bind, src->errh, (uint32_t)(i + 1), s->binds[i],
                                                (int64_t)strlen(s->binds[i]), DLD_SQLT_CHR, NULL, NULL, NULL, 0,
                                                NULL, DLD_OCI_DEFAULT),
                           "binding a value", err);
    }
    int16_t ind = 0;
    uint32_t len = 0;
    if (rc == DLD_OK && out != NULL) {
        void *def = NULL;
        rc = dld_ora_check(src, oci->DefineByPos2(stmt, &def, src->errh, 1, out, (int64_t)cap - 1, DLD_SQLT_CHR,
                                                  &ind, &len, NULL, DLD_OCI_DEFAULT),
                           "defining a result", err);
    }
    if (rc == DLD_OK) {
        int st = DLD_ORA_CALL(src, oci->StmtExecute(src->svc, stmt, src->errh, 1, 0, NULL, NULL, DLD_OCI_DEFAULT));
        if (st == DLD_OCI_NO_DATA && out != NULL) {
            ind = -1;
        } else {
            rc = dld_ora_check(src, st, "running a statement", err);
        }
    }
    if (rc != DLD_OK) {
        /* the statement text is ours and holds no secret: it tells which step failed */
        dld_error_prefix(err, "%s", s->sql);
    } else if (out != NULL) {
        if (len >= cap)
            len = (uint32_t)cap - 1;
        out[ind == DLD_OCI_IND_NULL ? 0 : len] = '\0';
        if (is_null != NULL)
            *is_null = ind == DLD_OCI_IND_NULL;
    }
    if (stmt != NULL)
        oci->StmtRelease(stmt, src->errh, NULL, 0, DLD_OCI_DEFAULT);
    return rc;
}

/* ---- interrupts ----------------------------------------------------------------------
 * A blocking OCI call (attach, login, a statement, a fetch, a LOB read)
 * waits for the server, and call_timeout_ms is minutes by default, so a
 * SIGTERM would wait as long. Each instance has a watcher thread that wakes
 * every S_WATCH_MS; while a call runs (in_call) and the host says
 * "cancelled", it sends OCIBreak on the server handle -- OCI's way to stop
 * a call from another thread of an OCI_THREADED environment, with its own
 * error handle. The call then fails (ORA-01013, user requested cancel),
 * OCIReset resynchronises the protocol, and the connection is marked broken
 * so the next load starts on a fresh one. The mutex keeps the watcher from
 * touching a server handle the load's thread is about to free. Untested
 * against a real server (docs/oracle.md); the stand-in client checks the
 * sequence. */
#define S_WATCH_MS 100

static void *s_watch(void *arg)
{
    struct dld_ora_source *src = arg;
    pthread_mutex_lock(&src->watch_mu);
    while (!src->watch_stop) {
        if (src->in_call && !src->break_sent && src->srv != NULL && src->break_errh != NULL &&
            src->host->cancelled()) {
            src->oci.Break(src->srv, src->break_errh);
            src->break_sent = true;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += S_WATCH_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&src->watch_cv, &src->watch_mu, &until);
    }
    pthread_mutex_unlock(&src->watch_mu);
    return NULL;
}

void dld_ora_watch_start(struct dld_ora_source *src)
{
    if (src->watching || src->oci.Break == NULL || src->host->cancelled == NULL)
        return;
    pthread_mutex_init(&src->watch_mu, NULL);
    pthread_cond_init(&src->watch_cv, NULL);
    src->watch_stop = false;
    if (pthread_create(&src->watch, NULL, s_watch, src) != 0) {
        pthread_cond_destroy(&src->watch_cv);
        pthread_mutex_destroy(&src->watch_mu);
        dld_log(src->host, DLD_LOG_WARN, DLD_ORA_PLUGIN,
                "no interrupt watcher (could not start a thread): a signal waits for the call in flight");
        return;
    }
    src->watching = true;
}

void dld_ora_watch_stop(struct dld_ora_source *src)
{
    if (!src->watching)
        return;
    pthread_mutex_lock(&src->watch_mu);
    src->watch_stop = true;
    pthread_cond_signal(&src->watch_cv);
    pthread_mutex_unlock(&src->watch_mu);
    pthread_join(src->watch, NULL);
    pthread_cond_destroy(&src->watch_cv);
    pthread_mutex_destroy(&src->watch_mu);
    src->watching = false;
}

void dld_ora_call_begin(struct dld_ora_source *src)
{
    if (!src->watching)
        return;
    pthread_mutex_lock(&src->watch_mu);
    src->in_call = true;
    src->break_sent = false;
    pthread_mutex_unlock(&src->watch_mu);
}

int dld_ora_call_end(struct dld_ora_source *src, int status)
{
    if (!src->watching)
        return status;
    pthread_mutex_lock(&src->watch_mu);
    src->in_call = false;
    bool broke = src->break_sent;
    if (broke && src->oci.Reset != NULL && src->srv != NULL)
        src->oci.Reset(src->srv, src->break_errh);
    pthread_mutex_unlock(&src->watch_mu);
    if (broke) {
        src->broken = true; /* the next load reconnects */
        dld_log(src->host, DLD_LOG_INFO, DLD_ORA_PLUGIN, "the call in flight was interrupted (OCIBreak)");
    }
    return status;
}

/*
 * Connecting to PostgreSQL and turning libpq failures into dld errors.
 *
 * The connection is described to libpq as keyword/value arrays with
 * expand_dbname: the `conninfo` option (a key=value string or a URI) goes
 * first as "dbname", so libpq parses it, and the discrete options that follow
 * override its parts. Anything not given falls back to libpq's own defaults
 * (PGHOST, PGPASSWORD, ~/.pgpass, PGSSLMODE, ...), as psql does.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg_internal.h"

/* Options passed to libpq under the same keyword. */
static const char *const s_passthrough[] = {
    "host", "port", "dbname", "user", "password", "passfile", "sslmode", "sslrootcert", "sslcert", "sslkey",
    "sslcrl", "connect_timeout", "application_name", NULL,
};

void dld_pg_conn_params_free(struct dld_pg_instance *pg)
{
    if (pg->keys) {
        for (size_t i = 0; pg->keys[i]; i++) {
            free(pg->keys[i]);
            /* values may hold a password: wipe before freeing */
            if (pg->values[i]) {
                memset(pg->values[i], 0, strlen(pg->values[i]));
                free(pg->values[i]);
            }
        }
    }
    free(pg->keys);
    free(pg->values);
    pg->keys = NULL;
    pg->values = NULL;
}

static int s_push(struct dld_pg_instance *pg, size_t *n, const char *key, const char *value)
{
    pg->keys[*n] = strdup(key);
    pg->values[*n] = strdup(value);
    if (!pg->keys[*n] || !pg->values[*n])
        return -1;
    (*n)++;
    return 0;
}

int dld_pg_conn_params_init(struct dld_pg_instance *pg, const char *const *options, struct dld_error *err)
{
    size_t cap = sizeof(s_passthrough) / sizeof(s_passthrough[0]) + 8;
    pg->keys = calloc(cap, sizeof(char *));
    pg->values = calloc(cap, sizeof(char *));
    if (!pg->keys || !pg->values)
        return dld_error_set(err, DLD_ERR_FATAL, "postgres: out of memory");
    size_t n = 0;
    int rc = 0;
    const char *conninfo = dld_opt_get(options, "conninfo");
    if (conninfo && *conninfo)
        rc |= s_push(pg, &n, "dbname", conninfo);
    for (size_t i = 0; s_passthrough[i]; i++) {
        const char *v = dld_opt_get(options, s_passthrough[i]);
        if (v && *v)
            rc |= s_push(pg, &n, s_passthrough[i], v);
    }
    /* Text the server sends (names, text columns, high marks) is UTF-8
     * whatever the database encoding, so Arrow strings are valid. */
    rc |= s_push(pg, &n, "client_encoding", "UTF8");
    if (rc)
        return dld_error_set(err, DLD_ERR_FATAL, "postgres: out of memory");
    return DLD_OK;
}

int dld_pg_code_for_sqlstate(const char *sqlstate, bool connection_lost)
{
    if (connection_lost)
        return DLD_ERR_RETRY;
    if (!sqlstate || strlen(sqlstate) != 5)
        return DLD_ERR_FATAL;
    if (!strncmp(sqlstate, "08", 2) ||            /* connection exception */
        !strncmp(sqlstate, "57P", 3) ||           /* admin/crash shutdown, cannot connect now */
        !strcmp(sqlstate, "57014") ||             /* query cancelled (statement_timeout) */
        !strcmp(sqlstate, "40001") ||             /* serialization failure */
        !strcmp(sqlstate, "40P01") ||             /* deadlock */
        !strncmp(sqlstate, "53", 2) ||            /* insufficient resources */
        !strcmp(sqlstate, "55P03"))               /* lock not available */
        return DLD_ERR_RETRY;
    if (!strncmp(sqlstate, "28", 2) || !strcmp(sqlstate, "42501"))
        return DLD_ERR_AUTH;
    if (!strcmp(sqlstate, "42P01") || !strcmp(sqlstate, "42703") || !strcmp(sqlstate, "3F000") ||
        !strcmp(sqlstate, "3D000"))
        return DLD_ERR_NOT_FOUND;
    if (!strncmp(sqlstate, "42", 2) || !strncmp(sqlstate, "22", 2))
        return DLD_ERR_CONFIG;
    return DLD_ERR_FATAL;
}

/* The host, for messages: abi.h makes it static in the host for the
 * plugin's life, so one pointer serves every instance. */
static const struct dld_host *volatile s_host;

static bool s_cancelled_host(void)
{
    const struct dld_host *h = s_host;
    return h && h->cancelled && h->cancelled();
}

/* libpq messages end with a newline and may span lines; keep the first
 * line of the primary message only (it never carries a password). */
static void s_first_line(const char *msg, char *out, size_t cap)
{
    if (!msg)
        msg = "";
    size_t n = strcspn(msg, "\n");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, msg, n);
    out[n] = '\0';
}

int dld_pg_error(struct dld_error *err, PGconn *conn, const PGresult *res, const char *what)
{
    bool lost = conn == NULL || PQstatus(conn) != CONNECTION_OK;
    const char *sqlstate = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    char line[512];
    if (primary)
        s_first_line(primary, line, sizeof line);
    else if (res && PQresultErrorMessage(res)[0])
        s_first_line(PQresultErrorMessage(res), line, sizeof line);
    else
        s_first_line(conn ? PQerrorMessage(conn) : "no connection", line, sizeof line);
    /* A server shutting down or a terminated backend sends 57P0x and then
     * closes the socket: both are "connection lost" for the caller. */
    if (sqlstate && !strncmp(sqlstate, "57P0", 4))
        lost = true;
    int code = dld_pg_code_for_sqlstate(sqlstate, lost);
    /* our own cancel (dld_pg_query) after a signal: say so */
    if ((sqlstate == NULL || !strcmp(sqlstate, "57014")) && s_cancelled_host())
        snprintf(line, sizeof line, "interrupted by a signal (statement cancelled)");
    if (lost)
        dld_error_set(err, code, "postgres: %s: connection lost (%s)%s%s", what, line[0] ? line : "no detail",
                      sqlstate ? " SQLSTATE " : "", sqlstate ? sqlstate : "");
    else
        dld_error_set(err, code, "postgres: %s: %s%s%s%s", what, line, sqlstate ? " (SQLSTATE " : "",
                      sqlstate ? sqlstate : "", sqlstate ? ")" : "");
    if (detail && !lost) {
        char d[256];
        s_first_line(detail, d, sizeof d);
        size_t used = strlen(err->message);
        if (used + 3 < sizeof err->message)
            snprintf(err->message + used, sizeof err->message - used, "; %s", d);
    }
    dld_error_upstream(err, 0, sqlstate ? sqlstate : (lost ? "08006" : NULL), NULL);
    dld_redact_error(err, NULL); /* a library's message: password-like text removed (sdk.h) */
    return code;
}

/* The connection's secrets for dld_redact: the conninfo and password
 * values and the passwords found in the conninfo. */
static char **s_secrets(const struct dld_pg_instance *pg)
{
    char **list = NULL;
    for (size_t i = 0; pg->keys && pg->keys[i]; i++) {
        if (strcmp(pg->keys[i], "dbname") && strcmp(pg->keys[i], "password"))
            continue;
        char **found = dld_redact_conninfo_secrets(pg->values[i]);
        size_t n = 0, m = 0;
        while (list && list[n])
            n++;
        while (found && found[m])
            m++;
        char **all = realloc(list, (n + m + 2) * sizeof(char *));
        if (all == NULL) {
            dld_redact_list_free(found);
            break;
        }
        list = all;
        char *whole = strdup(pg->values[i]);
        if (whole)
            list[n++] = whole;
        for (size_t k = 0; k < m; k++)
            list[n++] = found[k];
        list[n] = NULL;
        free(found);
    }
    return list;
}

/* ---- statements a signal can interrupt ----------------------------------------------
 * PQexec blocks in the kernel until the server answers, so a SIGTERM during a
 * long statement (a high-mark query over an unindexed column, a catalog
 * query behind a lock, the planning of a COPY's SELECT) would wait for the
 * server. Instead the statement is sent asynchronously and the socket is
 * polled every S_TICK_MS; once the host says "cancelled" (the signal handler
 * set its flag) a PQcancel goes out, and the server answers within
 * milliseconds with SQLSTATE 57014. Should it not answer within
 * S_CANCEL_GRACE_MS the wait gives up: the connection is left busy, so
 * dld_pg_ensure_connected replaces it before any reuse. */
#define S_TICK_MS 100
#define S_CANCEL_GRACE_MS 1000

static int64_t s_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool s_cancelled(const struct dld_pg_instance *pg)
{
    if (pg->host)
        s_host = pg->host;
    return pg->host && pg->host->cancelled && pg->host->cancelled();
}

/* Waits until a result can be read without blocking. false: the server
 * did not answer a cancel in time (nothing more can be read safely). */
static bool s_wait_result(struct dld_pg_instance *pg, PGconn *conn)
{
    bool cancel_sent = false;
    int64_t give_up = 0;
    while (PQisBusy(conn)) {
        if (!cancel_sent && s_cancelled(pg)) {
            char buf[256];
            PGcancel *c = PQgetCancel(conn);
            if (c) {
                PQcancel(c, buf, sizeof buf);
                PQfreeCancel(c);
            }
            cancel_sent = true;
            give_up = s_mono_ms() + S_CANCEL_GRACE_MS;
        }
        if (cancel_sent && s_mono_ms() > give_up)
            return false;
        struct pollfd p = {.fd = PQsocket(conn), .events = POLLIN};
        if (p.fd < 0)
            return true; /* PQgetResult reports the broken connection */
        int n = poll(&p, 1, S_TICK_MS);
        if (n < 0 && errno != EINTR)
            return true;
        if (n > 0 && !PQconsumeInput(conn))
            return true;
    }
    return true;
}

PGresult *dld_pg_query(struct dld_pg_instance *pg, const char *sql, int nparams, const char *const *params)
{
    PGconn *conn = pg->conn;
    if (pg->host == NULL || pg->host->cancelled == NULL)
        return nparams ? PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0) : PQexec(conn, sql);
    int sent = nparams ? PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0) : PQsendQuery(conn, sql);
    if (!sent)
        return NULL; /* PQresultStatus(NULL) is PGRES_FATAL_ERROR; the message is the connection's */
    /* as PQexec: the last result, an error winning over later ones; a
     * COPY's result is returned at once (the data follows) */
    PGresult *keep = NULL;
    for (;;) {
        if (!s_wait_result(pg, conn)) {
            PQclear(keep);
            PGresult *r = PQmakeEmptyPGresult(conn, PGRES_FATAL_ERROR);
            return r;
        }
        PGresult *r = PQgetResult(conn);
        if (r == NULL)
            break;
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COPY_OUT || st == PGRES_COPY_IN || st == PGRES_COPY_BOTH) {
            PQclear(keep);
            return r;
        }
        if (keep && PQresultStatus(keep) == PGRES_FATAL_ERROR) {
            PQclear(r);
        } else {
            PQclear(keep);
            keep = r;
        }
    }
    return keep;
}

int dld_pg_exec(struct dld_pg_instance *pg, const char *sql, int nparams, const char *const *params, const char *what,
                struct dld_error *err)
{
    PGconn *conn = pg->conn;
    PGresult *res = dld_pg_query(pg, sql, nparams, params);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        int rc = dld_pg_error(err, conn, res, what);
        PQclear(res);
        return rc;
    }
    PQclear(res);
    return DLD_OK;
}

/* Session settings that make the text the server sends for high marks and
 * text-cast columns unambiguous: ISO dates, UTC, floats that round-trip,
 * ISO 8601 intervals. */
static int s_session(struct dld_pg_instance *pg, struct dld_error *err)
{
    char timeout[32];
    snprintf(timeout, sizeof timeout, "%lld", (long long)pg->settings.statement_timeout_ms);
    const char *params[] = {timeout};
    int rc = dld_pg_exec(pg,
                         "SELECT set_config('DateStyle', 'ISO, YMD', false), set_config('TimeZone', 'UTC', false),"
                         " set_config('extra_float_digits', '3', false),"
                         " set_config('IntervalStyle', 'iso_8601', false),"
                         " set_config('statement_timeout', $1, false)",
                         1, params, "session settings", err);
    return rc;
}

/* connect_timeout as libpq reads it (the option or the conninfo), in ms;
 * 0: none. Values below 2 s count as 2 s, as in libpq. */
static int64_t s_connect_timeout_ms(PGconn *conn)
{
    int64_t ms = 0;
    PQconninfoOption *opts = PQconninfo(conn);
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (!strcmp(o->keyword, "connect_timeout") && o->val && *o->val) {
            long s = strtol(o->val, NULL, 10);
            ms = s <= 0 ? 0 : (s < 2 ? 2 : s) * 1000;
        }
    PQconninfoFree(opts);
    return ms;
}

/* Drives PQconnectPoll (the socket polled every S_TICK_MS) instead of the
 * blocking PQconnectdbParams, so a signal ends a connect that hangs (a
 * server that accepts and never answers, a dropped SYN). libpq ignores
 * connect_timeout in this mode, so it is applied here, to the whole
 * attempt. 0: the connection's own status tells what happened; 1: the
 * host was cancelled; 2: connect_timeout ran out. */
static int s_connect_wait(struct dld_pg_instance *pg, int64_t *timeout_ms)
{
    PGconn *conn = pg->conn;
    if (PQstatus(conn) == CONNECTION_BAD)
        return 0;
    int64_t timeout = s_connect_timeout_ms(conn), start = s_mono_ms();
    *timeout_ms = timeout;
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
        if (s_cancelled(pg))
            return 1;
        if (timeout > 0 && s_mono_ms() - start > timeout)
            return 2;
        struct pollfd p = {.fd = PQsocket(conn), .events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT};
        int n = p.fd < 0 ? 1 : poll(&p, 1, S_TICK_MS);
        if (n < 0 && errno != EINTR)
            n = 1; /* let libpq find out what is wrong */
        if (n > 0)
            st = PQconnectPoll(conn);
    }
    return 0;
}

int dld_pg_connect(struct dld_pg_instance *pg, struct dld_error *err)
{
    if (pg->conn) {
        PQfinish(pg->conn);
        pg->conn = NULL;
    }
    pg->conn = PQconnectStartParams((const char *const *)pg->keys, (const char *const *)pg->values, 1);
    if (!pg->conn)
        return dld_error_set(err, DLD_ERR_FATAL, "postgres: out of memory");
    int64_t timeout_ms = 0;
    int waited = s_connect_wait(pg, &timeout_ms);
    if (waited != 0) {
        PQfinish(pg->conn);
        pg->conn = NULL;
        if (waited == 1)
            dld_error_set(err, DLD_ERR_RETRY, "postgres: cannot connect: interrupted by a signal");
        else
            dld_error_set(err, DLD_ERR_RETRY, "postgres: cannot connect: timeout expired (connect_timeout %lld s)",
                          (long long)(timeout_ms / 1000));
        dld_error_upstream(err, 0, "08001", NULL);
        return DLD_ERR_RETRY;
    }
    if (PQstatus(pg->conn) != CONNECTION_OK) {
        char line[512];
        s_first_line(PQerrorMessage(pg->conn), line, sizeof line);
        /* libpq reports the server's SQLSTATE only in the message; tell
         * auth failures apart by their wording so `deltaload check` can say
         * "credentials" rather than "retry later". */
        int code = DLD_ERR_RETRY;
        if (strstr(line, "password") || strstr(line, "authentication") || strstr(line, "no pg_hba.conf"))
            code = DLD_ERR_AUTH;
        else if (strstr(line, "does not exist") || strstr(line, "invalid") || strstr(line, "missing"))
            code = DLD_ERR_CONFIG;
        dld_error_set(err, code, "postgres: cannot connect: %s", line);
        dld_error_upstream(err, 0, code == DLD_ERR_AUTH ? "28000" : "08001", NULL);
        /* libpq quotes the conninfo in its parse errors (a URI whole, a
         * word of an unquoted password): nothing of them may leave here */
        char **secrets = s_secrets(pg);
        dld_redact_error(err, (const char *const *)secrets);
        dld_redact_list_free(secrets);
        PQfinish(pg->conn);
        pg->conn = NULL;
        return code;
    }
    int rc = s_session(pg, err);
    if (rc) {
        PQfinish(pg->conn);
        pg->conn = NULL;
    }
    return rc;
}

int dld_pg_ensure_connected(struct dld_pg_instance *pg, struct dld_error *err)
{
    if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK && PQtransactionStatus(pg->conn) == PQTRANS_IDLE)
        return DLD_OK;
    /* lost, or left mid-transaction/mid-COPY by an abandoned extraction:
     * a fresh connection is the only state we can trust */
    return dld_pg_connect(pg, err);
}

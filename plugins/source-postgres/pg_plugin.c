/*
 * source-postgres: the descriptor, its option table (which doubles as the
 * `deltaload plugins describe postgres` documentation) and the instance.
 * One instance holds one libpq connection and serves one thread at a time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_internal.h"

static const struct dld_option s_options[] = {
    {"conninfo", DLD_OPT_STRING, DLD_OPTF_SECRET, NULL, NULL,
     "libpq connection string or URI (\"host=db port=5432 dbname=app\" or \"postgresql://user@db/app\"). "
     "The discrete options below override its parts. Treated as a secret: it may hold a password.", NULL},
    {"host", DLD_OPT_STRING, 0, NULL, NULL, "Server host name, address or socket directory (libpq host).", NULL},
    {"port", DLD_OPT_INT, 0, NULL, NULL, "Server port (libpq port; default 5432).", NULL},
    {"dbname", DLD_OPT_STRING, 0, NULL, NULL, "Database name.", NULL},
    {"user", DLD_OPT_STRING, 0, NULL, NULL, "User name.", NULL},
    {"password", DLD_OPT_STRING, DLD_OPTF_SECRET, NULL, NULL,
     "Password; write \"${PGPASSWORD_APP}\" to take it from the environment. Without it libpq's own sources "
     "apply: PGPASSWORD, passfile, ~/.pgpass.", NULL},
    {"passfile", DLD_OPT_STRING, 0, NULL, NULL, "Password file in .pgpass format (libpq passfile).", NULL},
    {"sslmode", DLD_OPT_STRING, 0, NULL, "disable|allow|prefer|require|verify-ca|verify-full",
     "TLS mode, passed to libpq (its default is prefer).", NULL},
    {"sslrootcert", DLD_OPT_STRING, 0, NULL, NULL, "CA certificate file used to verify the server.", NULL},
    {"sslcert", DLD_OPT_STRING, 0, NULL, NULL, "Client certificate file.", NULL},
    {"sslkey", DLD_OPT_STRING, 0, NULL, NULL, "Client private key file.", NULL},
    {"sslcrl", DLD_OPT_STRING, 0, NULL, NULL, "Certificate revocation list file.", NULL},
    {"connect_timeout", DLD_OPT_INT, 0, "10", NULL, "Seconds to wait for a connection (libpq connect_timeout).",
     NULL},
    {"statement_timeout", DLD_OPT_INT, 0, "0", NULL,
     "Milliseconds any one statement may run, the window's COPY included; 0 = no limit. A timeout fails the "
     "window with SQLSTATE 57014 and leaves the watermark where it was.", NULL},
    {"application_name", DLD_OPT_STRING, 0, "deltaload", NULL, "Shown in pg_stat_activity.", NULL},
    {"unconstrained_numeric", DLD_OPT_STRING, 0, "decimal", "decimal|text",
     "How numeric columns without a declared precision are read: decimal(38, numeric_scale), failing the window "
     "on a value that does not fit exactly, or exact decimal text.", NULL},
    {"numeric_scale", DLD_OPT_INT, 0, "9", NULL,
     "Scale (0..38) of numeric columns without a declared precision when read as decimal.", NULL},
    {"writer_time_zone", DLD_OPT_STRING, 0, "UTC", NULL,
     "Time zone (IANA name, e.g. Europe/Berlin; checked against pg_timezone_names) in which writers store "
     "`timestamp without time zone` and `date` filter values: an item's lag is counted back from that zone's wall "
     "clock. In a daylight-saving fall-back an hour of naive values repeats: use a lag above an hour, or timestamptz. "
     "timestamptz columns are instants and ignore it.", NULL},
    {"batch_bytes", DLD_OPT_INT, 0, "33554432", NULL,
     "A batch is handed to the target once this many bytes are buffered (or the host's batch rows are reached): "
     "the bound on the source's memory whatever the window size.", NULL},
    {"parallel", DLD_OPT_INT, 0, "1", NULL,
     "Connections (1..8) a big window is read over: they share the window's snapshot (pg_export_snapshot) and each "
     "COPYs a disjoint range of the table's heap blocks; still one load, one commit. 1 = one connection. Tables and "
     "materialized views on PostgreSQL 14 or later; views, foreign and partitioned tables and commit-order windows "
     "use one connection.", NULL},
    {"split_min_rows", DLD_OPT_INT, 0, "1000000", NULL,
     "With parallel above 1, a window is split only when the planner estimates at least this many rows (EXPLAIN of "
     "the window's query); smaller windows use one connection.", NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL},
};

static int s_settings(struct dld_pg_settings *s, const char *const *options, struct dld_error *err)
{
    const char *un = dld_opt_get(options, "unconstrained_numeric");
    if (un && strcmp(un, "decimal") && strcmp(un, "text"))
        return dld_error_set(err, DLD_ERR_CONFIG, "postgres: unconstrained_numeric must be decimal or text, not '%s'",
                             un);
    s->unconstrained_text = un && !strcmp(un, "text");
    int64_t scale = dld_opt_int(options, "numeric_scale", 9);
    if (scale < 0 || scale > 38)
        return dld_error_set(err, DLD_ERR_CONFIG, "postgres: numeric_scale must be 0..38, not %lld", (long long)scale);
    s->numeric_scale = (int32_t)scale;
    s->batch_bytes = dld_opt_int(options, "batch_bytes", 32 << 20);
    if (s->batch_bytes < 4096)
        return dld_error_set(err, DLD_ERR_CONFIG, "postgres: batch_bytes must be at least 4096");
    s->statement_timeout_ms = dld_opt_int(options, "statement_timeout", 0);
    if (s->statement_timeout_ms < 0)
        return dld_error_set(err, DLD_ERR_CONFIG, "postgres: statement_timeout must not be negative");
    int64_t parallel = dld_opt_int(options, "parallel", 1);
    if (parallel < 1 || parallel > DLD_PG_MAX_PARALLEL)
        return dld_error_set(err, DLD_ERR_CONFIG, "postgres: parallel must be 1..%d, not %lld", DLD_PG_MAX_PARALLEL,
                             (long long)parallel);
    s->parallel = (int)parallel;
    s->split_min_rows = dld_opt_int(options, "split_min_rows", 1000000);
    if (s->split_min_rows < 0)
        return dld_error_set(err, DLD_ERR_CONFIG, "postgres: split_min_rows must not be negative");
    const char *tz = dld_opt_get(options, "writer_time_zone");
    if (!tz || !*tz)
        tz = "UTC";
    if (strlen(tz) >= sizeof s->writer_time_zone)
        return dld_error_set(err, DLD_ERR_CONFIG, "postgres: writer_time_zone is too long (%zu bytes)", strlen(tz));
    snprintf(s->writer_time_zone, sizeof s->writer_time_zone, "%s", tz);
    return DLD_OK;
}

/* writer_time_zone must be a zone the server knows by name: an abbreviation
 * (CET) or a POSIX spec would be taken with rules the user did not mean. */
static int s_check_time_zone(struct dld_pg_instance *pg, struct dld_error *err)
{
    const char *tz = pg->settings.writer_time_zone;
    if (!strcmp(tz, "UTC"))
        return DLD_OK;
    const char *params[] = {tz};
    PGresult *res = dld_pg_query(pg,
                                 "SELECT name FROM pg_catalog.pg_timezone_names WHERE lower(name) = lower($1)"
                                 " ORDER BY name = $1 DESC LIMIT 1",
                                 1, params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        int rc = dld_pg_error(err, pg->conn, res, "checking writer_time_zone");
        PQclear(res);
        return rc;
    }
    int rc = DLD_OK;
    if (PQntuples(res) != 1)
        rc = dld_error_set(err, DLD_ERR_CONFIG,
                           "postgres: writer_time_zone '%s' is not a time zone name this server knows (see "
                           "SELECT name FROM pg_timezone_names; e.g. Europe/Berlin, America/New_York, UTC)",
                           tz);
    else /* the server's own spelling */
        snprintf(pg->settings.writer_time_zone, sizeof pg->settings.writer_time_zone, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return rc;
}

static void s_close(void *inst)
{
    struct dld_pg_instance *pg = inst;
    if (!pg)
        return;
    if (pg->conn)
        PQfinish(pg->conn);
    dld_pg_conn_params_free(pg);
    free(pg);
}

static int s_open(const struct dld_host *host, const char *const *options, void **inst, struct dld_error *err)
{
    *inst = NULL;
    if (!dld_host_usable(host))
        return dld_error_set(err, DLD_ERR_UNSUPPORTED, "postgres: the host's function table is incomplete");
    struct dld_pg_instance *pg = calloc(1, sizeof *pg);
    if (!pg)
        return dld_error_set(err, DLD_ERR_FATAL, "postgres: out of memory");
    pg->host = host;
    int rc = s_settings(&pg->settings, options, err);
    if (!rc)
        rc = dld_pg_conn_params_init(pg, options, err);
    /* connect now, so a wrong host or password shows at start-up */
    if (!rc)
        rc = dld_pg_connect(pg, err);
    if (!rc)
        rc = s_check_time_zone(pg, err);
    if (rc) {
        s_close(pg);
        return rc;
    }
    *inst = pg;
    return DLD_OK;
}

static const struct dld_source_vtable s_vtable = {
    .struct_size = sizeof(struct dld_source_vtable),
    .open = s_open,
    .close = s_close,
    .extract_begin = dld_pg_extract_begin,
    .extract_next = dld_pg_extract_next,
    .extract_end = dld_pg_extract_end,
};

static const struct dld_plugin s_plugin = {
    .struct_size = sizeof(struct dld_plugin),
    .abi_major = DLD_ABI_MAJOR,
    .abi_minor = DLD_ABI_MINOR,
    .kind = DLD_KIND_SOURCE,
    .capabilities = DLD_CAP_SNAPSHOT,
    .name = DLD_PG_NAME,
    .version = "0.1.0",
    .description = "PostgreSQL tables through libpq: one REPEATABLE READ snapshot per window, streamed by "
                   "binary COPY",
    .options = s_options,
    .vtable = &s_vtable,
};

DLD_PLUGIN_DEFINE(source_postgres, s_plugin);

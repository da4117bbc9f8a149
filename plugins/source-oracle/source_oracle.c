/*
 * deltaload source plugin for Oracle Database, on the Oracle Call Interface
 * loaded at run time (see ora_oci.h). The descriptor's option table is the
 * plugin's documentation for `deltaload plugins describe`.
 */
#include <stdlib.h>
#include <string.h>

#include <deltaload/source.h>

#include "ora_source.h"

static const struct dld_option s_options[] = {
    {"connect", DLD_OPT_STRING, DLD_OPTF_REQUIRED, NULL, NULL,
     "Easy Connect string host:port/service_name (e.g. mydb.xxxx.us-east-1.rds.amazonaws.com:1521/ORCL), Easy "
     "Connect Plus (tcps://host:2484/service?connect_timeout=10), or a TNS alias resolved in TNS_ADMIN.",
     NULL},
    {"user", DLD_OPT_STRING, 0, NULL, NULL,
     "Database user (write ${ORACLE_USER} to take it from the environment). Not used with external_auth.", NULL},
    {"password", DLD_OPT_STRING, DLD_OPTF_SECRET, NULL, NULL,
     "Password of user (write ${ORACLE_PASSWORD}; never put it in the file itself).", NULL},
    {"external_auth", DLD_OPT_BOOL, 0, "false", NULL,
     "Log in with external credentials (a wallet's secure external password store, OS authentication) instead "
     "of user/password.",
     NULL},
    {"oracle_client_lib_dir", DLD_OPT_STRING, 0, NULL, NULL,
     "Directory holding Oracle's client library libclntsh.so (Instant Client). Unset: LD_LIBRARY_PATH, the ld.so "
     "cache, then $ORACLE_HOME/lib. To install: download Instant Client Basic or Basic Light for Linux from "
     "oracle.com, unzip it (e.g. /opt/oracle/instantclient_23_5), install libaio, and set this option to that "
     "directory (or export LD_LIBRARY_PATH=it).",
     NULL},
    {"tns_admin", DLD_OPT_STRING, 0, NULL, NULL,
     "Directory with tnsnames.ora and sqlnet.ora; sets TNS_ADMIN for the process before the client starts.",
     NULL},
    {"wallet_dir", DLD_OPT_STRING, 0, NULL, NULL,
     "Wallet directory (cwallet.sso) for TLS or the secure external password store: added as wallet_location to "
     "an Easy Connect string, or used as TNS_ADMIN for a TNS alias when tns_admin is unset.",
     NULL},
    {"call_timeout_ms", DLD_OPT_INT, 0, "300000", NULL,
     "Longest time one round trip to the server may take before it fails (retryable); 0 = no limit. Needs an 18c "
     "or later client.",
     NULL},
    {"consistency", DLD_OPT_STRING, 0, "flashback", "flashback|read_only",
     "flashback: read the current SCN and run the high-mark and extract queries AS OF that SCN (needs SELECT on "
     "V_$DATABASE and FLASHBACK on the table); read_only: both in one read-only transaction.",
     NULL},
    {"fetch_rows", DLD_OPT_INT, 0, "0", NULL,
     "Rows per array fetch and Arrow batch; 0 = the engine's batch size. Lowered when a fetch's buffers would "
     "exceed fetch_memory_mb.",
     NULL},
    {"fetch_memory_mb", DLD_OPT_INT, 0, "64", NULL,
     "Memory for one array fetch's buffers (the prefetch takes as much again inside the client).", NULL},
    {"number_scale", DLD_OPT_INT, 0, "10", NULL,
     "Scale of decimal(38, s) for NUMBER and FLOAT columns declared without precision/scale; a value with more "
     "fractional digits, or more than 38 - s integer digits, fails the load instead of being rounded.",
     NULL},
    {"lob_max_bytes", DLD_OPT_INT, 0, "67108864", NULL,
     "Largest CLOB/NCLOB/BLOB value read (bytes, streamed in 64 KiB pieces); a larger one fails the load.",
     NULL},
    {"tz_offset_columns", DLD_OPT_BOOL, 0, "false", NULL,
     "For each TIMESTAMP WITH TIME ZONE column add <name>_TZ_OFFSET (int32, minutes east of UTC) keeping the "
     "original offset; the column itself is always UTC.",
     NULL},
    {"fold_identifiers", DLD_OPT_BOOL, 0, "true", NULL,
     "Fold sourceSchema/sourceTable/filtercolumn that are valid unquoted Oracle names to upper case, as Oracle "
     "does for unquoted names (orders_rds = ORDERS_RDS); false: use every name exactly as written.",
     NULL},
    {NULL, 0, 0, NULL, NULL, NULL, NULL},
};

static char *s_dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void s_opts_free(struct dld_ora_opts *o)
{
    free(o->connect);
    free(o->user);
    if (o->password != NULL)
        memset(o->password, 0, strlen(o->password));
    free(o->password);
    free(o->lib_dir);
    free(o->tns_admin);
    free(o->wallet_dir);
}

static void s_close(void *inst)
{
    struct dld_ora_source *src = inst;
    if (src == NULL)
        return;
    dld_ora_watch_stop(src);
    dld_ora_disconnect(src);
    if (src->oci.lib != NULL) {
        if (src->break_errh)
            src->oci.HandleFree(src->break_errh, DLD_OCI_HTYPE_ERROR);
        if (src->errh)
            src->oci.HandleFree(src->errh, DLD_OCI_HTYPE_ERROR);
        if (src->env)
            src->oci.HandleFree(src->env, DLD_OCI_HTYPE_ENV);
    }
    dld_ora_oci_unload(&src->oci);
    s_opts_free(&src->o);
    free(src);
}

static int s_open(const struct dld_host *host, const char *const *options, void **inst, struct dld_error *err)
{
    *inst = NULL;
    if (!dld_host_usable(host))
        return dld_error_set(err, DLD_ERR_FATAL, "the host function table is incomplete");
    struct dld_ora_source *src = calloc(1, sizeof(*src));
    if (src == NULL)
        return dld_error_set(err, DLD_ERR_FATAL, "out of memory");
    src->host = host;
    struct dld_ora_opts *o = &src->o;
    o->connect = s_dup(dld_opt_get(options, "connect"));
    o->user = s_dup(dld_opt_get(options, "user"));
    o->password = s_dup(dld_opt_get(options, "password"));
    o->lib_dir = s_dup(dld_opt_get(options, "oracle_client_lib_dir"));
    o->tns_admin = s_dup(dld_opt_get(options, "tns_admin"));
    o->wallet_dir = s_dup(dld_opt_get(options, "wallet_dir"));
    o->external_auth = dld_opt_bool(options, "external_auth", false);
    o->fold_identifiers = dld_opt_bool(options, "fold_identifiers", true);
    o->tz_offset_columns = dld_opt_bool(options, "tz_offset_columns", false);
    o->call_timeout_ms = dld_opt_int(options, "call_timeout_ms", 300000);
    o->fetch_rows = dld_opt_int(options, "fetch_rows", 0);
    o->fetch_memory = dld_opt_int(options, "fetch_memory_mb", 64) << 20;
    o->lob_max_bytes = dld_opt_int(options, "lob_max_bytes", 67108864);
    int64_t scale = dld_opt_int(options, "number_scale", 10);
    o->number_scale = (int32_t)scale;
    const char *cons = dld_opt_get(options, "consistency");
    int rc = DLD_OK;
    if (cons == NULL || strcmp(cons, "flashback") == 0)
        o->consistency = DLD_ORA_FLASHBACK;
    else if (strcmp(cons, "read_only") == 0)
        o->consistency = DLD_ORA_READ_ONLY;
    else
        rc = dld_error_set(err, DLD_ERR_CONFIG, "consistency must be flashback or read_only, not '%s'", cons);
    if (rc == DLD_OK && (o->connect == NULL || *o->connect == '\0'))
        rc = dld_error_set(err, DLD_ERR_CONFIG,
                           "option connect is required (host:port/service_name, or a TNS alias)");
    if (rc == DLD_OK && !o->external_auth && (o->user == NULL || *o->user == '\0'))
        rc = dld_error_set(err, DLD_ERR_CONFIG, "option user is required unless external_auth is true");
    if (rc == DLD_OK && (scale < 0 || scale > 38))
        rc = dld_error_set(err, DLD_ERR_CONFIG, "number_scale must be 0..38, not %lld", (long long)scale);
    if (rc == DLD_OK && (o->fetch_memory <= 0 || o->fetch_rows < 0 || o->lob_max_bytes <= 0 ||
                         o->call_timeout_ms < 0))
        rc = dld_error_set(err, DLD_ERR_CONFIG,
                           "fetch_memory_mb and lob_max_bytes must be positive, fetch_rows and call_timeout_ms "
                           "not negative");
    /* The client library is loaded here, so plan and run both stop at once
     * with the Instant Client instructions when it is missing. */
    if (rc == DLD_OK)
        rc = dld_ora_oci_load(o->lib_dir, &src->oci, err);
    if (rc != DLD_OK) {
        s_close(src);
        return rc;
    }
    dld_log(host, DLD_LOG_DEBUG, DLD_ORA_PLUGIN, "Oracle client %d.%d loaded from %s", src->oci.version[0],
            src->oci.version[1], src->oci.path);
    dld_ora_watch_start(src);
    *inst = src;
    return DLD_OK;
}

static int s_extract_begin(void *inst, const struct dld_extract_request *req, struct dld_extract_info *info,
                           void **cursor, struct dld_error *err)
{
    struct dld_ora_source *src = inst;
    /* filled at this plugin's size, handed over as far as the host's struct_size reaches;
     * a failed begin hands nothing over */
    struct dld_extract_info got = {.struct_size = sizeof(got)};
    if (info && DLD_HAS(info, struct dld_extract_info, schema))
        got.schema = info->schema; /* the host's, filled in place */
    struct dld_ora_cursor *c = NULL;
    int rc = dld_ora_extract_begin(src, req, &got, &c, err);
    if (rc == DLD_OK)
        dld_extract_info_put(src->host, info, &got);
    else
        dld_extract_info_clean_up(src->host, &got);
    *cursor = c;
    return rc;
}

static int s_extract_next(void *cursor, struct ArrowSchema *schema, struct ArrowArray *batch, struct dld_error *err)
{
    return dld_ora_extract_next(cursor, schema, batch, err);
}

static void s_extract_end(void *cursor)
{
    dld_ora_extract_end(cursor);
}

static const struct dld_source_vtable s_vtable = {
    .struct_size = sizeof(struct dld_source_vtable),
    .open = s_open,
    .close = s_close,
    .extract_begin = s_extract_begin,
    .extract_next = s_extract_next,
    .extract_end = s_extract_end,
};

static const struct dld_plugin s_plugin = {
    .struct_size = sizeof(struct dld_plugin),
    .abi_major = DLD_ABI_MAJOR,
    .abi_minor = DLD_ABI_MINOR,
    .kind = DLD_KIND_SOURCE,
    .capabilities = DLD_CAP_SNAPSHOT,
    .name = "oracle",
    .version = "0.1.0",
    .description =
        "Oracle Database through the Oracle Call Interface, loaded at run time: needs Oracle Instant Client "
        "(libclntsh.so) on this machine, found through oracle_client_lib_dir or LD_LIBRARY_PATH. Flashback (AS OF "
        "SCN) or read-only-transaction consistency, array fetch into Arrow, exact NUMBER decoding.",
    .options = s_options,
    .vtable = &s_vtable,
};

DLD_PLUGIN_DEFINE(source_oracle, s_plugin);

/* Helpers shared by the command implementations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "host.h"

int dld_cli_exit_for(int code)
{
    switch (code) {
    case DLD_OK: return DLD_EXIT_OK;
    case DLD_ERR_CONFIG: case DLD_ERR_UNSUPPORTED: case DLD_ERR_NOT_FOUND: return DLD_EXIT_CONFIG;
    case DLD_ERR_CONFLICT: return DLD_EXIT_LEASED;
    default: return DLD_EXIT_RUNTIME;
    }
}

int dld_cli_fail(int code, const struct dld_error *err)
{
    dld_progress_clear();
    char msg[sizeof err->message + 64];
    snprintf(msg, sizeof msg, "%s", err->message[0] ? err->message : dld_code_name(code));
    dld_core_redact(msg, sizeof msg); /* the configured secrets, whatever the message's origin */
    fprintf(stderr, "deltaload: error: %s", msg);
    if (err->upstream_code[0])
        fprintf(stderr, " [%s]", err->upstream_code);
    fputc('\n', stderr);
    int exit_code = dld_cli_exit_for(code);
    if (dld_core_log_json()) {
        /* --json: stdout always holds one JSON document, an error included */
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "error", msg);
        cJSON_AddStringToObject(o, "code", dld_code_name(code));
        if (err->upstream_code[0])
            cJSON_AddStringToObject(o, "upstream_code", err->upstream_code);
        cJSON_AddNumberToObject(o, "exit_code", exit_code);
        dld_cli_print_json(o);
    }
    return exit_code;
}

bool dld_cli_help_requested(int argc, char **argv, const char *usage)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return true;
        }
    }
    return false;
}

void dld_cli_print_json(cJSON *o)
{
    char *s = cJSON_Print(o);
    puts(s);
    free(s);
    cJSON_Delete(o);
}

int dld_cli_open_state(struct dld_config *cfg, const char *path, void **inst, struct dld_error *err)
{
    int rc = dld_config_load(path, cfg, err);
    if (rc == DLD_OK)
        rc = dld_config_plugin(cfg, DLD_KIND_STATE, err);
    if (rc == DLD_OK) {
        struct dld_plugin_conf *pc = &cfg->kinds[DLD_KIND_STATE];
        rc = pc->loaded.vt.state.open(dld_core_host(), (const char *const *)pc->kv, inst, err);
        if (rc)
            dld_error_prefix(err, "state plugin %s", pc->plugin);
    }
    if (rc)
        dld_config_clean_up(cfg); /* the caller only reports the error */
    return rc;
}

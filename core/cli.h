/* Command-line commands (one function per command, in commands*.c). */
#ifndef DLD_CORE_CLI_H
#define DLD_CORE_CLI_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "config.h"

/* Exit codes, documented in docs/cli.md. */
enum dld_exit {
    DLD_EXIT_OK = 0,
    DLD_EXIT_FAILED = 1,     /* at least one table failed */
    DLD_EXIT_USAGE = 2,      /* bad command line */
    DLD_EXIT_CONFIG = 3,     /* bad config, unknown or refused plugin, bad option or item */
    DLD_EXIT_LEASED = 4,     /* nothing failed, but a table was skipped: another process holds its lease */
    DLD_EXIT_RUNTIME = 5,    /* state store or other runtime error outside a table */
    DLD_EXIT_INTERRUPTED = 130,
};

struct dld_cli {
    const char *config_path;
    bool json;
    int argc;      /* arguments after the command name */
    char **argv;
};

int dld_cmd_run(struct dld_cli *cli);
int dld_cmd_plan(struct dld_cli *cli);
int dld_cmd_backfill(struct dld_cli *cli);
int dld_cmd_daemon(struct dld_cli *cli);
int dld_cmd_status(struct dld_cli *cli);
int dld_cmd_history(struct dld_cli *cli);
int dld_cmd_reset(struct dld_cli *cli);
int dld_cmd_tables(struct dld_cli *cli);
int dld_cmd_plugins(struct dld_cli *cli);
int dld_cmd_state(struct dld_cli *cli);
int dld_cmd_config(struct dld_cli *cli);   /* cmd_config.c */
int dld_cmd_report(struct dld_cli *cli);   /* report.c */
int dld_cmd_schedule(struct dld_cli *cli);
int dld_cmd_lambda(struct dld_cli *cli);   /* cmd_lambda.c */
int dld_cmd_lake(struct dld_cli *cli);     /* cmd_lake.c */

/* run --event and lambda (cmd_run.c): runs the cycle an EventBridge payload
 * asks for (the config it names, else config_path; the tables it names, else
 * every active one). Returns an exit code; *result (caller frees) is
 * {"event", "config", "tables": [...], "exit_code"}, or NULL when no cycle
 * ran, with err saying why (upstream_code "InvalidEvent" for a bad payload). */
int dld_run_event(const char *config_path, const char *event, size_t len, cJSON **result, struct dld_error *err);

/* helpers shared by the command files */
int dld_cli_exit_for(int code);               /* dld_code → exit code */
int dld_cli_fail(int code, const struct dld_error *err);   /* prints the error, returns an exit code */
bool dld_cli_help_requested(int argc, char **argv, const char *usage);
void dld_cli_print_json(cJSON *o);            /* prints and frees */
/* Loads the config and opens the state store; on failure the config is
 * already cleaned up and err says why. */
int dld_cli_open_state(struct dld_config *cfg, const char *path, void **inst, struct dld_error *err);

#endif

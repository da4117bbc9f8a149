/* deltaload: command-line entry point. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "host.h"

static const char s_usage[] =
    "usage: deltaload [-c FILE] [--json] [-v|-q] COMMAND [ARGS]\n"
    "\n"
    "Loads only what changed since the last run from database tables into a data lake.\n"
    "\n"
    "commands:\n"
    "  run        load one cycle: every active table, or --table NAME (repeatable), or --event FILE\n"
    "  plan       dry run: per table the window and the exact query; writes nothing\n"
    "  backfill   load --table NAME --from A --to B again, watermark untouched\n"
    "  daemon     run cycles on the configured scheduler until stopped\n"
    "  status     per table: watermark, last load, lease\n"
    "  history    past loads, newest first\n"
    "  reset      set a table's watermark: --table NAME --to VALUE (or --clear)\n"
    "  tables     list|show|set|enable|disable|remove controller items\n"
    "  state      init | copy --from CONFIG | rebuild --table NAME|--all: set up, move or restore the store\n"
    "  lake       expire --table NAME --older-than 7d [--dry-run]: expire old Iceberg snapshots and their files\n"
    "  config     check: validate the configuration and every item, listing every problem\n"
    "  report     --html FILE [--since WHEN]: a self-contained page of charts from the run history\n"
    "  plugins    list | describe NAME | check FILE.so: installed plugins, options, conformance kit\n"
    "  schedule   next [-n N] [--after TIME] | deploy | show | remove: the schedule\n"
    "  lambda     the AWS Lambda Runtime API loop (the binary as a function's bootstrap)\n"
    "  version    print the version and plugin ABI\n"
    "\n"
    "options:\n"
    "  -c, --config FILE  configuration (default: deltaload.json)\n"
    "      --json         machine-readable output on stdout (and JSON log lines)\n"
    "  -v, --verbose      debug logging;  -q, --quiet: errors only\n"
    "  -h, --help         this help; `deltaload COMMAND --help` for a command\n"
    "\n"
    "exit codes: 0 ok, 1 a table failed, 2 usage, 3 config or plugin error,\n"
    "            4 a table was skipped (lease held elsewhere), 5 runtime error, 130 interrupted\n"
    "docs: README.md and docs/ (configuration, semantics, cli, plugins)\n";

int main(int argc, char **argv)
{
    struct dld_cli cli = {.config_path = "deltaload.json"};
    int level = DLD_LOG_INFO;
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"json", no_argument, NULL, 'j'},
        {"verbose", no_argument, NULL, 'v'},      {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    /* "+": stop at the command name; its own options are parsed by it */
    int c;
    while ((c = getopt_long(argc, argv, "+c:vqh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': cli.config_path = optarg; break;
        case 'j': cli.json = true; break;
        case 'v': level = DLD_LOG_DEBUG; break;
        case 'q': level = DLD_LOG_ERROR; break;
        case 'h': fputs(s_usage, stdout); return DLD_EXIT_OK;
        default: fputs(s_usage, stderr); return DLD_EXIT_USAGE;
        }
    }
    /* installed as a Lambda function's `bootstrap` (docs/deploy.md): no
     * command means the Runtime API loop */
    const char *base = strrchr(argv[0], '/');
    static char s_lambda[] = "lambda", *s_lambda_argv[] = {s_lambda, NULL};
    bool bootstrap = optind >= argc && !strcmp(base ? base + 1 : argv[0], "bootstrap");
    if (optind >= argc && !bootstrap) {
        fputs(s_usage, stderr);
        return DLD_EXIT_USAGE;
    }
    const char *cmd = bootstrap ? "lambda" : argv[optind];
    cli.argc = bootstrap ? 1 : argc - optind;
    cli.argv = bootstrap ? s_lambda_argv : argv + optind;
    /* --json and -c are also accepted after the command name */
    for (int i = 1; i < cli.argc; i++) {
        if (!strcmp(cli.argv[i], "--json"))
            cli.json = true;
    }
    dld_core_log_setup(level, cli.json);
    dld_core_install_signals();
    static const struct {
        const char *name;
        int (*fn)(struct dld_cli *);
    } cmds[] = {
        {"run", dld_cmd_run},         {"plan", dld_cmd_plan},       {"backfill", dld_cmd_backfill},
        {"daemon", dld_cmd_daemon},   {"status", dld_cmd_status},   {"history", dld_cmd_history},
        {"reset", dld_cmd_reset},     {"tables", dld_cmd_tables},   {"plugins", dld_cmd_plugins},
        {"state", dld_cmd_state},
        {"config", dld_cmd_config},   {"report", dld_cmd_report},
        {"schedule", dld_cmd_schedule}, {"lambda", dld_cmd_lambda},
        {"lake", dld_cmd_lake},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(cmd, cmds[i].name) == 0)
            return cmds[i].fn(&cli);
    if (!strcmp(cmd, "version")) {
        printf("deltaload %s (plugin ABI %d.%d)\n", DLD_VERSION, DLD_ABI_MAJOR, DLD_ABI_MINOR);
        return DLD_EXIT_OK;
    }
    if (!strcmp(cmd, "help")) {
        fputs(s_usage, stdout);
        return DLD_EXIT_OK;
    }
    fprintf(stderr, "deltaload: unknown command '%s'\n\n%s", cmd, s_usage);
    return DLD_EXIT_USAGE;
}

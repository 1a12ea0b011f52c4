/*
 * accept.c - cairn accept-preflight RUN --id ID: unblock mutating operations.
 */
#include "cli.h"

enum { OPT_ID = CLI_OPT_FIRST_LOCAL, OPT_REASON };

int cmd_accept(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_LONG_COMMON,
        CLI_LONG_WRITE,
        CLI_LONG_REMEMBER,
        CLI_LONG_HOOK,
        {"id", required_argument, NULL, OPT_ID},
        {"reason", required_argument, NULL, OPT_REASON},
        {0}};
    cairn_actor_info who = {NULL, NULL};
    const char *id = NULL;
    const char *run;
    cairn_err err;
    int c;

    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, CLI_SHORT_COMMON, longopts, NULL)) !=
           -1) {
        if (cli_common_option(ctx, c, optarg, argv)) {
            continue;
        }
        if (c == OPT_ID) {
            id = optarg;
        } else if (c == OPT_REASON) {
            who.reason = optarg;
        }
    }
    run = cli_one_arg(ctx, argc, argv, "RUN");
    if (id == NULL || id[0] == '\0') {
        cli_usage_error(ctx, "--id ID is required");
    }
    cli_open(ctx);
    who.actor = cli_actor(ctx);
    err = cairn_accept_preflight(ctx->journal, run, id, &who);
    if (err != CAIRN_OK) {
        cli_die_run(ctx, err, run);
    }
    cli_hook_fire(ctx, run, 0, 0);
    return CLI_EXIT_OK;
}
